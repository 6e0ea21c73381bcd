/*
 * dsn_text: split "X.Y.Z text" into an RFC 3463 status and a reason.
 *
 * Public functions (contracts in dsn_text.h):
 *   dsn_text_status_len(text): length of a leading valid status, or 0.
 *   dsn_text_split(text, def_status, classes, status, reason): status and
 *     reason from text, def_status when text has no (acceptable) status.
 *     The caller owns both strbufs; nothing is allocated for it.
 *
 * SECURITY: text comes from main.cf or lookup tables through qmgr (a
 * transport's nexthop) and ends up in log lines and delivery status
 * notifications: control characters are replaced, and the status is only
 * taken when it is well formed.
 * LIMITS: the status is at most DSN_TEXT_STATUS_MAX bytes by grammar; the
 * reason is as long as text (callers bound text, e.g. DELIVER_TEXT_MAX).
 */
#include <stddef.h>
#include <string.h>

#include "dsn_text.h"
#include "strbuf.h"

/* dsn_text_digits: count 1-3 digits at p; 0 when none or too many. */
static size_t dsn_text_digits(const char *p)
{
    size_t  n = 0;

    while (p[n] >= '0' && p[n] <= '9') {
        if (++n > 3)
            return 0;
    }
    return n;
}

/* dsn_text_status_len: length of a valid leading status, else 0. */
size_t  dsn_text_status_len(const char *text)
{
    size_t  len, n;

    if (text == NULL || (text[0] != '2' && text[0] != '4' && text[0] != '5')
        || text[1] != '.')
        return 0;
    len = 2;
    if ((n = dsn_text_digits(text + len)) == 0 || text[len + n] != '.')
        return 0;
    len += n + 1;
    if ((n = dsn_text_digits(text + len)) == 0)
        return 0;
    len += n;
    if (text[len] != 0 && text[len] != ' ' && text[len] != '\t')
        return 0;
    return len;
}

/* dsn_text_clean: append text trimmed, control characters replaced. */
static void dsn_text_clean(strbuf *out, const char *text)
{
    const char *end;

    while (*text == ' ' || *text == '\t')
        text++;
    end = text + strlen(text);
    while (end > text && (end[-1] == ' ' || end[-1] == '\t'))
        end--;
    for (; text < end; text++) {
        unsigned char c = (unsigned char) *text;

        (void) strbuf_putc(out, c < 0x20 || c == 0x7f ? '?' : (int) c);
    }
}

/* dsn_text_split: status and reason from an admin's text. */
int     dsn_text_split(const char *text, const char *def_status,
                       const char *classes, strbuf *status, strbuf *reason)
{
    size_t  len;
    int     found = 0;

    if (text == NULL)
        text = "";
    while (*text == ' ' || *text == '\t')
        text++;
    strbuf_reset(status);
    strbuf_reset(reason);
    len = dsn_text_status_len(text);
    if (len > 0 && classes != NULL && strchr(classes, text[0]) != NULL) {
        (void) strbuf_append(status, text, len);
        text += len;
        found = 1;
    } else {
        (void) strbuf_puts(status, def_status);
    }
    dsn_text_clean(reason, text);
    return found;
}
