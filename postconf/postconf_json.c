/*
 * postconf_json: JSON output helpers for postconf -j, and the one writer
 * of output lines.
 *
 * Functions:
 *   postconf_json_string(out, text): append text as a JSON string literal
 *     (quotes included). '"', '\\' and control characters are escaped;
 *     valid UTF-8 passes through; a byte that is not part of valid UTF-8
 *     becomes U+FFFD, so the output is always valid JSON.
 *   postconf_print(line): write line and a newline to stdout; a write
 *     error is fatal (the caller's output would be incomplete).
 *
 * SECURITY: values may hold anything main.cf or master.cf holds; every
 * byte is either escaped or checked as UTF-8.
 * LIMITS: none beyond the input's.
 */
#include <stdio.h>
#include <string.h>

#include "msg.h"
#include "strbuf.h"
#include "postconf.h"

/* postconf_utf8_len: length of the valid UTF-8 sequence at s, or 0. */
static size_t postconf_utf8_len(const unsigned char *s)
{
    size_t  n, i;
    unsigned long cp;

    if (s[0] < 0x80)
        return 1;
    if (s[0] >= 0xc2 && s[0] <= 0xdf) {
        n = 2;
        cp = s[0] & 0x1f;
    } else if (s[0] >= 0xe0 && s[0] <= 0xef) {
        n = 3;
        cp = s[0] & 0x0f;
    } else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
        n = 4;
        cp = s[0] & 0x07;
    } else {
        return 0;
    }
    for (i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80)             /* also stops at the NUL */
            return 0;
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    /* No overlong forms, no surrogates, nothing past U+10FFFF. */
    if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000)
        || (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
        return 0;
    return n;
}

/* postconf_json_string: append a JSON string literal. */
void postconf_json_string(strbuf *out, const char *text)
{
    const unsigned char *s = (const unsigned char *) text;

    strbuf_putc(out, '"');
    while (*s) {
        size_t  n;

        switch (*s) {
        case '"':
            strbuf_puts(out, "\\\"");
            break;
        case '\\':
            strbuf_puts(out, "\\\\");
            break;
        case '\n':
            strbuf_puts(out, "\\n");
            break;
        case '\r':
            strbuf_puts(out, "\\r");
            break;
        case '\t':
            strbuf_puts(out, "\\t");
            break;
        default:
            if (*s < 0x20 || *s == 0x7f) {
                strbuf_printf(out, "\\u%04x", *s);
            } else if ((n = postconf_utf8_len(s)) == 0) {
                strbuf_puts(out, "\\ufffd");
            } else {
                strbuf_append(out, s, n);
                s += n;
                continue;
            }
            break;
        }
        s++;
    }
    strbuf_putc(out, '"');
}

/* postconf_print: write one output line. */
void postconf_print(const strbuf *line)
{
    if (fwrite(line->data, 1, line->len, stdout) != line->len || putchar('\n') == EOF)
        msg_fatal("write error on standard output: %m");
}
