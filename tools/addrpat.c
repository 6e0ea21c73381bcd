/*
 * addrpat: expanding address patterns with a counter.
 *
 * A pattern is text with at most one "%d" (replaced by a number) and
 * "%%" for a literal '%'; any other '%' sequence is an error, so a
 * pattern can never act as a printf format.
 *
 * Public functions:
 *   addrpat_check(pattern, err): 0 when pattern is usable; -1 with a
 *     reason in err (reset first) when it has a bad '%' sequence, more
 *     than one %d, characters not allowed in an SMTP path (control
 *     characters, space, '<', '>') or more than ADDRPAT_MAX bytes.
 *   addrpat_expand(pattern, n, out): out = pattern with %d replaced by n
 *     (out reset first). 0, or -1 when the pattern fails addrpat_check
 *     or the result would exceed ADDRPAT_MAX bytes.
 *
 * SECURITY: patterns come from the command line; they are checked, and
 * never used as a format string.
 * LIMITS: ADDRPAT_MAX bytes for a pattern and for an expansion.
 */
#include <string.h>

#include "addrpat.h"

/* addrpat_check: whether pattern is a usable address pattern. */
int     addrpat_check(const char *pattern, strbuf *err)
{
    const char *p;
    int     counters = 0;

    strbuf_reset(err);
    if (strlen(pattern) > ADDRPAT_MAX) {
        strbuf_printf(err, "longer than %d bytes", ADDRPAT_MAX);
        return -1;
    }
    for (p = pattern; *p; p++) {
        unsigned char c = (unsigned char) *p;

        if (c < 0x21 || c == 0x7f || c == '<' || c == '>') {
            strbuf_printf(err, "character 0x%02x is not allowed", c);
            return -1;
        }
        if (c != '%')
            continue;
        if (p[1] == '%') {
            p++;
        } else if (p[1] == 'd') {
            if (++counters > 1) {
                strbuf_puts(err, "more than one %d");
                return -1;
            }
            p++;
        } else {
            strbuf_puts(err, "'%' must be followed by 'd' or '%'");
            return -1;
        }
    }
    return 0;
}

/* addrpat_expand: the pattern with %d replaced by n. */
int     addrpat_expand(const char *pattern, unsigned long n, strbuf *out)
{
    strbuf *err = strbuf_new(64);
    const char *p;
    int     rc;

    rc = addrpat_check(pattern, err);
    strbuf_free(err);
    strbuf_reset(out);
    if (rc < 0)
        return -1;
    for (p = pattern; *p; p++) {
        if (*p == '%' && p[1] == '%') {
            strbuf_putc(out, '%');
            p++;
        } else if (*p == '%' && p[1] == 'd') {
            strbuf_printf(out, "%lu", n);
            p++;
        } else {
            strbuf_putc(out, *p);
        }
    }
    if (out->len > ADDRPAT_MAX) {
        strbuf_reset(out);
        return -1;
    }
    return 0;
}
