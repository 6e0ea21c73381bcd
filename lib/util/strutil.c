/*
 * strutil: small string helpers that replace the banned libc calls.
 *
 * Public functions:
 *   str_copy(dst, size, src): copy with truncation check; returns 0, or -1
 *     when src does not fit (dst then holds a truncated, terminated copy;
 *     with size 0 nothing is written).
 *   str_format(dst, size, fmt, ...): snprintf returning 0, or -1 on
 *     truncation or format error.
 *   str_token(&cursor, delims): next token separated by any of delims,
 *     skipping leading delimiters; NUL-terminates it in place and advances
 *     cursor; NULL when no token is left.
 *   str_trim(str): strip leading and trailing ASCII white space in place;
 *     returns the start of the trimmed text.
 *   str_lower(str): ASCII lower-case in place (locale independent).
 *   str_casecmp(a, b): ASCII case-insensitive compare.
 *   str_has_prefix(str, prefix): 1 if str starts with prefix.
 *   str_concat(first, ..., NULL): new string (mem_free it) joining the args.
 *
 * SECURITY: all copies are bounded by the destination size.
 * LIMITS: none beyond the callers' buffers.
 */
#include <stdio.h>
#include <string.h>

#include "mem.h"
#include "strbuf.h"
#include "strutil.h"

/* str_copy: bounded copy that reports truncation. */
int str_copy(char *dst, size_t size, const char *src)
{
    size_t  len = strlen(src);

    if (size == 0)
        return -1;
    if (len >= size) {
        memcpy(dst, src, size - 1);
        dst[size - 1] = 0;
        return -1;
    }
    memcpy(dst, src, len + 1);
    return 0;
}

/* str_format: bounded formatting that reports truncation. */
int str_format(char *dst, size_t size, const char *fmt, ...)
{
    va_list ap;
    int     n;

    va_start(ap, fmt);
    n = vsnprintf(dst, size, fmt, ap);
    va_end(ap);
    return (n < 0 || (size_t) n >= size) ? -1 : 0;
}

/* str_token: stateless strtok replacement. */
char   *str_token(char **cursor, const char *delims)
{
    char   *start = *cursor;
    char   *end;

    if (start == NULL)
        return NULL;
    start += strspn(start, delims);
    if (*start == 0) {
        *cursor = start;
        return NULL;
    }
    end = start + strcspn(start, delims);
    if (*end) {
        *end = 0;
        *cursor = end + 1;
    } else {
        *cursor = end;
    }
    return start;
}

/* ascii_space: locale-independent white space test. */
static int ascii_space(int c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

/* str_trim: strip surrounding white space in place. */
char   *str_trim(char *str)
{
    char   *end;

    while (ascii_space((unsigned char) *str))
        str++;
    end = str + strlen(str);
    while (end > str && ascii_space((unsigned char) end[-1]))
        *--end = 0;
    return str;
}

/* str_lower: ASCII lower-case in place. */
void str_lower(char *str)
{
    for (; *str; str++)
        if (*str >= 'A' && *str <= 'Z')
            *str = (char) (*str - 'A' + 'a');
}

/* str_casecmp: ASCII case-insensitive comparison. */
int str_casecmp(const char *a, const char *b)
{
    int     ca, cb;

    do {
        ca = (unsigned char) *a++;
        cb = (unsigned char) *b++;
        if (ca >= 'A' && ca <= 'Z')
            ca += 'a' - 'A';
        if (cb >= 'A' && cb <= 'Z')
            cb += 'a' - 'A';
    } while (ca == cb && ca != 0);
    return ca - cb;
}

/* str_has_prefix: prefix test. */
int str_has_prefix(const char *str, const char *prefix)
{
    return strncmp(str, prefix, strlen(prefix)) == 0;
}

/* str_concat: join strings into a new allocation. */
char   *str_concat(const char *first, ...)
{
    strbuf *sb = strbuf_new(64);
    const char *s;
    va_list ap;

    va_start(ap, first);
    for (s = first; s != NULL; s = va_arg(ap, const char *))
        strbuf_puts(sb, s);
    va_end(ap);
    return strbuf_detach(sb, NULL);
}
