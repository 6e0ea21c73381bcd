/*
 * fuzz_smtp_reply: server replies through the SMTP client's reply parser
 * (smtp_reply_feed), the EHLO keyword parser (smtp_ehlo_parse), the
 * one-line formatting used in logs and bounces, and the nexthop parser.
 *
 * Input: lines separated by '\n' (a CR before it is part of the line, as
 * the client sees it). Each complete reply is checked (code in range,
 * DSN class equal to the code's, printable text within its bound) and
 * parsed as an EHLO reply; a malformed line starts a new reply. The
 * first line is also tried as a nexthop, for SMTP and for LMTP.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mem.h"
#include "smtp_addr.h"
#include "smtp_reply.h"
#include "strbuf.h"

int     LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* check_reply: the invariants of a complete reply. */
static void check_reply(const smtp_reply *r, strbuf *one)
{
    smtp_ehlo ehlo;
    size_t  i;

    if (r->code < 200 || r->code > 599 || r->dsn[0] != '0' + r->code / 100)
        abort();
    if (r->text->len > SMTP_REPLY_TEXT_MAX)
        abort();
    for (i = 0; i < r->text->len; i++)
        if ((r->text->data[i] < 0x20 && r->text->data[i] != '\n') || r->text->data[i] == 0x7f)
            abort();
    smtp_reply_oneline(r, one);
    if (memchr(one->data, '\n', one->len))
        abort();
    smtp_ehlo_parse(r, &ehlo);
    if (ehlo.size_limit && !(ehlo.features & SMTP_EHLO_SIZE))
        abort();
}

/* LLVMFuzzerTestOneInput: feed the lines. */
int     LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    smtp_reply *r = smtp_reply_new();
    strbuf *err = strbuf_new(64);
    strbuf *one = strbuf_new(64);
    const char *p = (const char *) data;
    const char *end = p + size;
    int     first = 1;

    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t) (end - p));
        size_t  len = (size_t) ((nl ? nl : end) - p);
        int     rc;

        if (first) {
            char   *text = mem_strndup(p, len);
            smtp_nexthop nh;

            (void) smtp_addr_parse_nexthop(text, 0, 25, &nh, err);
            (void) smtp_addr_parse_nexthop(text, 1, 24, &nh, err);
            mem_free(text);
            first = 0;
        }
        if (len > SMTP_REPLY_LINE_MAX)
            len = SMTP_REPLY_LINE_MAX;
        rc = smtp_reply_feed(r, p, len, err);
        if (rc == SMTP_REPLY_DONE) {
            check_reply(r, one);
            smtp_reply_reset(r);
        } else if (rc == SMTP_REPLY_BAD)
            smtp_reply_reset(r);
        p = nl ? nl + 1 : end;
    }
    smtp_reply_free(r);
    strbuf_free(err);
    strbuf_free(one);
    return 0;
}
