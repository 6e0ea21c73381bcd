/*
 * numparse: the one number parser.
 *
 * Public functions:
 *   num_parse_long(str, min, max, &result): decimal integer, optional
 *     leading '-' (and '+'), no white space, no trailing bytes; returns 0
 *     and sets result when min <= value <= max, else -1 (result untouched).
 *   num_parse_ulong(str, max, &result): unsigned decimal, no sign.
 *   num_parse_long_n(str, len, min, max, &result): as num_parse_long on
 *     exactly len bytes (which need not be NUL-terminated).
 *
 * SECURITY: rejects empty input, signs on unsigned input, overflow, and
 * trailing garbage; never uses strtol's silent clamping.
 * LIMITS: the caller's bounds.
 */
#include <limits.h>

#include "numparse.h"

/* num_parse_long_n: bounded decimal parse of len bytes. */
int num_parse_long_n(const char *str, size_t len, long min, long max, long *result)
{
    size_t  i = 0;
    int     neg = 0;
    unsigned long acc = 0;
    unsigned long limit;

    if (len == 0)
        return -1;
    if (str[0] == '-' || str[0] == '+') {
        neg = (str[0] == '-');
        i = 1;
        if (len == 1)
            return -1;
    }
    limit = neg ? (unsigned long) LONG_MAX + 1UL : (unsigned long) LONG_MAX;
    for (; i < len; i++) {
        unsigned d;

        if (str[i] < '0' || str[i] > '9')
            return -1;
        d = (unsigned) (str[i] - '0');
        if (acc > (limit - d) / 10)
            return -1;
        acc = acc * 10 + d;
    }
    {
        long    v;

        if (neg)
            v = (acc == (unsigned long) LONG_MAX + 1UL) ? LONG_MIN : -(long) acc;
        else
            v = (long) acc;
        if (v < min || v > max)
            return -1;
        *result = v;
    }
    return 0;
}

/* num_parse_long: bounded decimal parse of a C string. */
int num_parse_long(const char *str, long min, long max, long *result)
{
    size_t  len = 0;

    while (str[len])
        len++;
    return num_parse_long_n(str, len, min, max, result);
}

/* num_parse_ulong: bounded unsigned decimal parse of a C string. */
int num_parse_ulong(const char *str, unsigned long max, unsigned long *result)
{
    unsigned long acc = 0;
    const char *p = str;

    if (*p == 0)
        return -1;
    for (; *p; p++) {
        unsigned d;

        if (*p < '0' || *p > '9')
            return -1;
        d = (unsigned) (*p - '0');
        if (acc > (ULONG_MAX - d) / 10)
            return -1;
        acc = acc * 10 + d;
    }
    if (acc > max)
        return -1;
    *result = acc;
    return 0;
}
