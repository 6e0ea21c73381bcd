/*
 * json: the one writer of JSON string literals.
 *
 * Public functions:
 *   json_string(out, text): append text as a JSON string literal (quotes
 *     included). '"', '\\' and control characters are escaped; well-formed
 *     UTF-8 passes through; any byte that is not part of well-formed UTF-8
 *     becomes U+FFFD, so the output is always valid JSON.
 *
 * SECURITY: text may hold anything a config file, table or queue file
 * holds; every byte is escaped or checked as UTF-8.
 * LIMITS: none beyond the input's (and out's own limit).
 */
#include <string.h>

#include "json.h"
#include "strbuf.h"
#include "utf8.h"

/* json_string: append a JSON string literal. */
void json_string(strbuf *out, const char *text)
{
    const unsigned char *s = (const unsigned char *) text;
    size_t  left = strlen(text);
    size_t  n;

    strbuf_putc(out, '"');
    while (left > 0) {
        switch (*s) {
        case '"':
            strbuf_puts(out, "\\\"");
            n = 1;
            break;
        case '\\':
            strbuf_puts(out, "\\\\");
            n = 1;
            break;
        case '\n':
            strbuf_puts(out, "\\n");
            n = 1;
            break;
        case '\r':
            strbuf_puts(out, "\\r");
            n = 1;
            break;
        case '\t':
            strbuf_puts(out, "\\t");
            n = 1;
            break;
        default:
            if (*s < 0x20 || *s == 0x7f) {
                strbuf_printf(out, "\\u%04x", *s);
                n = 1;
            } else if ((n = utf8_seq(s, left, NULL)) == 0) {
                strbuf_puts(out, "\\ufffd");
                n = 1;
            } else {
                strbuf_append(out, s, n);
            }
            break;
        }
        s += n;
        left -= n;
    }
    strbuf_putc(out, '"');
}
