/*
 * smtp_reply: parsing what an SMTP/LMTP server answers (client side).
 *
 * Public functions:
 *   smtp_reply_new(): an empty reply; smtp_reply_free(r) returns NULL;
 *     smtp_reply_reset(r) empties it for the next reply.
 *   smtp_reply_feed(r, line, len, err): add one line (without CRLF; a
 *     final CR is ignored). A line is three digits, the first 2..5, then
 *     '-' (more lines follow), ' ' or the end of the line (last line).
 *     Every line must carry the first line's code. Returns
 *     SMTP_REPLY_MORE, SMTP_REPLY_DONE (the reply is complete), or
 *     SMTP_REPLY_BAD with err saying why (malformed line, code mismatch,
 *     more than SMTP_REPLY_LINES_MAX lines, feeding a complete reply).
 *     After DONE: r->code, r->dsn (the first line's enhanced status code
 *     when it has one whose class matches the code, e.g. "550 5.1.1";
 *     with a mismatching class the code's class replaces it; without
 *     one "2.0.0", "4.0.0" or "5.0.0"), r->text (the lines as received,
 *     joined with '\n', bytes outside printable ASCII as '?', cut at
 *     SMTP_REPLY_TEXT_MAX bytes).
 *   smtp_reply_oneline(r, out): the text on one line (newlines become
 *     spaces), for logs and DSN reasons.
 *   smtp_reply_fake(r, text): make r a complete one-line reply from our
 *     own text ("421 4.4.2 ..."); 0, or -1 when text is not a reply.
 *   smtp_ehlo_parse(r, out): the keywords of a 2xx EHLO/LHLO reply (the
 *     lines after the first): PIPELINING, SIZE [limit], 8BITMIME, DSN,
 *     SMTPUTF8, ENHANCEDSTATUSCODES, STARTTLS, AUTH, CHUNKING, matched
 *     without regard to case. A SIZE value that is not a number is
 *     ignored (no limit known). Other keywords are ignored.
 *
 * SECURITY: every byte comes from a remote server. Lines are checked
 * before use; the kept text is bounded and printable, so it can go into
 * logs and bounce messages unchanged.
 * LIMITS: SMTP_REPLY_LINES_MAX lines and SMTP_REPLY_TEXT_MAX bytes of
 * text per reply; the caller bounds each line (SMTP_REPLY_LINE_MAX).
 */
#include <string.h>
#include <strings.h>

#include "mem.h"
#include "numparse.h"
#include "smtp_reply.h"
#include "strbuf.h"
#include "strutil.h"

/* smtp_reply_new: an empty reply. */
smtp_reply *smtp_reply_new(void)
{
    smtp_reply *r = mem_calloc(1, sizeof(*r));

    r->text = strbuf_new(128);
    return r;
}

/* smtp_reply_free: free a reply; returns NULL. */
smtp_reply *smtp_reply_free(smtp_reply *r)
{
    if (r) {
        strbuf_free(r->text);
        mem_free(r);
    }
    return NULL;
}

/* smtp_reply_reset: empty the reply for the next one. */
void    smtp_reply_reset(smtp_reply *r)
{
    r->code = 0;
    r->dsn[0] = 0;
    r->has_dsn = 0;
    r->lines = 0;
    r->done = 0;
    strbuf_reset(r->text);
}

/* smtp_reply_digits: how many decimal digits start text (at most max). */
static size_t smtp_reply_digits(const char *text, size_t len, size_t max)
{
    size_t  i;

    for (i = 0; i < len && i < max && text[i] >= '0' && text[i] <= '9'; i++)
         /* void */ ;
    return i;
}

/* smtp_reply_find_dsn: an enhanced status code at text, or 0. */
static size_t smtp_reply_find_dsn(const char *text, size_t len, char *out, size_t size)
{
    size_t  a, b, c;

    if (len < 5 || (text[0] != '2' && text[0] != '4' && text[0] != '5') || text[1] != '.')
        return 0;
    if ((a = smtp_reply_digits(text + 2, len - 2, 3)) == 0 || 2 + a >= len
        || text[2 + a] != '.')
        return 0;
    if ((b = smtp_reply_digits(text + 3 + a, len - 3 - a, 3)) == 0)
        return 0;
    c = 3 + a + b;
    if (c < len && text[c] != ' ')
        return 0;
    if (c >= size)
        return 0;
    memcpy(out, text, c);
    out[c] = 0;
    return c;
}

/* smtp_reply_derive_dsn: the final DSN from the code and what was given. */
static void smtp_reply_derive_dsn(smtp_reply *r)
{
    char    cls = (char) ('0' + r->code / 100);

    if (r->has_dsn) {
        if (r->dsn[0] != cls)
            r->dsn[0] = cls;
        return;
    }
    r->dsn[0] = cls;
    (void) str_copy(r->dsn + 1, sizeof(r->dsn) - 1, ".0.0");
}

/* smtp_reply_feed: add one line of a reply. */
int     smtp_reply_feed(smtp_reply *r, const char *line, size_t len, strbuf *err)
{
    long    code;
    int     last;
    size_t  i;

    if (r->done) {
        strbuf_setf(err, "reply already complete");
        return SMTP_REPLY_BAD;
    }
    if (len > 0 && line[len - 1] == '\r')
        len--;
    if (len < 3 || smtp_reply_digits(line, len, 3) != 3
        || line[0] < '2' || line[0] > '5'
        || num_parse_long_n(line, 3, 200, 599, &code) < 0) {
        strbuf_setf(err, "malformed reply line");
        return SMTP_REPLY_BAD;
    }
    if (len == 3 || line[3] == ' ')
        last = 1;
    else if (line[3] == '-')
        last = 0;
    else {
        strbuf_setf(err, "malformed reply line");
        return SMTP_REPLY_BAD;
    }
    if (r->lines == 0) {
        r->code = (int) code;
        if (len > 4)
            r->has_dsn = smtp_reply_find_dsn(line + 4, len - 4, r->dsn, sizeof(r->dsn)) > 0;
    } else if (code != r->code) {
        strbuf_setf(err, "reply code changed from %d to %ld within a reply", r->code, code);
        return SMTP_REPLY_BAD;
    }
    if (++r->lines > SMTP_REPLY_LINES_MAX) {
        strbuf_setf(err, "reply has more than %d lines", SMTP_REPLY_LINES_MAX);
        return SMTP_REPLY_BAD;
    }
    if (r->lines > 1 && r->text->len < SMTP_REPLY_TEXT_MAX)
        strbuf_putc(r->text, '\n');
    for (i = 0; i < len && r->text->len < SMTP_REPLY_TEXT_MAX; i++) {
        unsigned char c = (unsigned char) line[i];

        strbuf_putc(r->text, (c < 0x20 || c >= 0x7f) ? '?' : (int) c);
    }
    if (!last)
        return SMTP_REPLY_MORE;
    r->done = 1;
    smtp_reply_derive_dsn(r);
    return SMTP_REPLY_DONE;
}

/* smtp_reply_oneline: the text with newlines as spaces. */
void    smtp_reply_oneline(const smtp_reply *r, strbuf *out)
{
    size_t  i;

    strbuf_set(out, r->text->data, r->text->len);
    for (i = 0; i < out->len; i++)
        if (out->data[i] == '\n')
            out->data[i] = ' ';
}

/* smtp_reply_fake: a complete reply made from our own text. */
int     smtp_reply_fake(smtp_reply *r, const char *text)
{
    strbuf *err = strbuf_new(32);
    int     rc;

    smtp_reply_reset(r);
    rc = smtp_reply_feed(r, text, strlen(text), err);
    strbuf_free(err);
    if (rc != SMTP_REPLY_DONE) {
        smtp_reply_reset(r);
        return -1;
    }
    return 0;
}

/* smtp_ehlo_parse: the keywords of an EHLO/LHLO reply. */
void    smtp_ehlo_parse(const smtp_reply *r, smtp_ehlo *out)
{
    static const struct {
        const char *word;
        unsigned bit;
    }       words[] = {
        {"PIPELINING", SMTP_EHLO_PIPELINING},
        {"SIZE", SMTP_EHLO_SIZE},
        {"8BITMIME", SMTP_EHLO_8BITMIME},
        {"DSN", SMTP_EHLO_DSN},
        {"SMTPUTF8", SMTP_EHLO_SMTPUTF8},
        {"ENHANCEDSTATUSCODES", SMTP_EHLO_ENHANCED},
        {"STARTTLS", SMTP_EHLO_STARTTLS},
        {"AUTH", SMTP_EHLO_AUTH},
        {"CHUNKING", SMTP_EHLO_CHUNKING},
    };
    const char *p = r->text->data;
    const char *end = p + r->text->len;
    const char *nl;

    out->features = 0;
    out->size_limit = 0;
    if (r->code < 200 || r->code > 299)
        return;
    /* Skip the first line: it is the server's name and greeting. */
    nl = memchr(p, '\n', (size_t) (end - p));
    p = nl ? nl + 1 : end;
    for (; p < end; p = nl ? nl + 1 : end) {
        const char *kw;
        const char *kwend;
        size_t  kwlen;
        size_t  i;

        nl = memchr(p, '\n', (size_t) (end - p));
        if ((nl ? nl : end) - p < 4)
            continue;
        kw = p + 4;
        for (kwend = kw; kwend < (nl ? nl : end) && *kwend != ' ' && *kwend != '='; kwend++)
             /* void */ ;
        kwlen = (size_t) (kwend - kw);
        for (i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
            if (strlen(words[i].word) != kwlen || strncasecmp(kw, words[i].word, kwlen) != 0)
                continue;
            out->features |= words[i].bit;
            if (words[i].bit == SMTP_EHLO_SIZE && kwend < (nl ? nl : end)) {
                const char *v = kwend + 1;
                size_t  vlen = (size_t) ((nl ? nl : end) - v);
                long    limit;

                while (vlen > 0 && v[vlen - 1] == ' ')
                    vlen--;
                if (vlen > 0 && num_parse_long_n(v, vlen, 0, 0x7fffffffffffffffL, &limit) == 0
                    && smtp_reply_digits(v, vlen, vlen) == vlen)
                    out->size_limit = (unsigned long) limit;
            }
        }
    }
}
