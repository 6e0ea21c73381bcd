/*
 * utf8: the one UTF-8 validator.
 *
 * Public functions:
 *   utf8_seq(p, len, &cp): length (1..4) of the well-formed UTF-8
 *     sequence that starts at p and fits in len bytes, with its code point
 *     in cp (may be NULL); 0 when the bytes are not well-formed UTF-8 or
 *     len is 0. ASCII bytes (NUL included) are sequences of length 1.
 *   utf8_valid(bytes, len): 1 when all len bytes are well-formed UTF-8.
 *
 * SECURITY: used on client input (SMTPUTF8 addresses) and on text we
 * print as JSON; every continuation byte is range-checked, so overlong
 * encodings and surrogates are refused.
 * LIMITS: none; reads at most len bytes.
 */
#include "utf8.h"

/* utf8_seq: length of the well-formed sequence at p, or 0. */
size_t utf8_seq(const unsigned char *p, size_t len, unsigned *cp)
{
    unsigned char c;
    unsigned char lo = 0x80, hi = 0xbf;
    size_t  n, i;
    unsigned v;

    if (len == 0)
        return 0;
    c = p[0];
    if (c < 0x80) {
        n = 1;
        v = c;
    } else if (c >= 0xc2 && c <= 0xdf) {
        n = 2;
        v = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
        n = 3;
        v = c & 0x0f;
        if (c == 0xe0)
            lo = 0xa0;                  /* no overlong forms */
        else if (c == 0xed)
            hi = 0x9f;                  /* no surrogates */
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4;
        v = c & 0x07;
        if (c == 0xf0)
            lo = 0x90;                  /* no overlong forms */
        else if (c == 0xf4)
            hi = 0x8f;                  /* nothing above U+10FFFF */
    } else {
        return 0;
    }
    if (len < n)
        return 0;
    for (i = 1; i < n; i++) {
        unsigned char b = p[i];

        if (i == 1 ? (b < lo || b > hi) : (b < 0x80 || b > 0xbf))
            return 0;
        v = (v << 6) | (b & 0x3f);
    }
    if (cp)
        *cp = v;
    return n;
}

/* utf8_valid: well-formed UTF-8 test over len bytes. */
int utf8_valid(const char *bytes, size_t len)
{
    const unsigned char *p = (const unsigned char *) bytes;
    size_t  i = 0, n;

    while (i < len) {
        if ((n = utf8_seq(p + i, len - i, NULL)) == 0)
            return 0;
        i += n;
    }
    return 1;
}
