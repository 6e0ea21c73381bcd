/*
 * Unit tests for bounce/bounce_dsn.c: which notices a failed message
 * gets, and the RFC 3464 text of each, parsed back field by field.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "bounce_dsn.h"
#include "header.h"
#include "mem.h"
#include "qfile.h"
#include "strbuf.h"
#include "testlib.h"

#define HOST    "mx.example.org"
#define NOW     1700000000L             /* Tue, 14 Nov 2023 22:13:20 +0000 */
#define ARRIVED 1699990000L             /* Tue, 14 Nov 2023 19:26:40 +0000 */

static const char original[] =
    "From: Alice <alice@example.com>\n"
    "To: bob@example.net\n"
    "Subject: hello\n"
    "Message-ID: <m1@example.com>\n"
    "\n"
    "Body line one.\n"
    "--not a boundary\n"
    ".\n"
    "last line\n";

/* A parsed MIME entity: its header block and body (pointers into text). */
typedef struct part {
    header_block *hb;
    const char *text;
    const char *body;
    size_t  body_len;
} part;

/* part_parse: split an entity into headers and body */
static void part_parse(part *p, const char *text, size_t len)
{
    p->text = text;
    p->hb = header_parse(text, len, 0, 0);
    p->body = text + p->hb->body_offset;
    p->body_len = len - p->hb->body_offset;
}

/* part_field: unfolded value of the first field name, or NULL */
static const char *part_field(const part *p, const char *name, strbuf *out)
{
    long    i = header_find(p->hb, name, 0);

    if (i < 0)
        return NULL;
    header_value(p->hb->fields + i, out);
    return strbuf_str(out);
}

/* field_count: how many fields are named name */
static int field_count(const part *p, const char *name)
{
    int     n = 0;
    long    i = -1;

    while ((i = header_find(p->hb, name, (size_t) (i + 1))) >= 0)
        n++;
    return n;
}

/* A parsed notice: the top entity and its parts. */
typedef struct notice {
    strbuf *text;
    part    top;
    part    parts[8];
    int     nparts;
    char    boundary[128];
} notice;

/* notice_parse: parse a composed notice; fails the test on bad MIME */
static void notice_parse(notice *n)
{
    strbuf *v = strbuf_new(100);
    const char *ct;
    const char *b;
    const char *e;
    strbuf *delim = strbuf_new(100);
    strbuf *close_delim = strbuf_new(100);
    const char *cp;
    const char *end;
    const char *start = NULL;

    part_parse(&n->top, n->text->data, n->text->len);
    ct = part_field(&n->top, "Content-Type", v);
    assert_non_null(ct);
    assert_non_null(strstr(ct, "multipart/report"));
    assert_non_null(strstr(ct, "report-type=delivery-status"));
    b = strstr(ct, "boundary=\"");
    assert_non_null(b);
    b += strlen("boundary=\"");
    e = strchr(b, '"');
    assert_non_null(e);
    assert_true(e - b > 0 && e - b <= 70);
    memcpy(n->boundary, b, (size_t) (e - b));
    n->boundary[e - b] = 0;
    strbuf_setf(delim, "--%s\n", n->boundary);
    strbuf_setf(close_delim, "--%s--\n", n->boundary);

    /* Walk the body line by line: delimiter lines split the parts. */
    n->nparts = 0;
    cp = n->top.body;
    end = n->text->data + n->text->len;
    while (cp < end) {
        const char *nl = memchr(cp, '\n', (size_t) (end - cp));
        const char *next = nl ? nl + 1 : end;
        size_t  llen = (size_t) (next - cp);

        if ((llen == delim->len && memcmp(cp, delim->data, llen) == 0)
            || (llen == close_delim->len && memcmp(cp, close_delim->data, llen) == 0)) {
            if (start != NULL) {
                /* The LF before a delimiter belongs to the delimiter. */
                size_t  plen = (size_t) (cp - start);

                assert_true(plen > 0 && start[plen - 1] == '\n');
                assert_true(n->nparts < 8);
                part_parse(n->parts + n->nparts++, start, plen - 1);
            }
            if (cp[llen - 2] == '-' && llen == close_delim->len) {
                /* Only the close and nothing after it. */
                assert_true(next == end);
                break;
            }
            start = next;
        }
        cp = next;
    }
    assert_true(cp < end);              /* the close delimiter was found */
    strbuf_free(v);
    strbuf_free(delim);
    strbuf_free(close_delim);
}

static void notice_free(notice *n)
{
    int     i;

    header_block_free(n->top.hb);
    for (i = 0; i < n->nparts; i++)
        header_block_free(n->parts[i].hb);
    strbuf_free(n->text);
}

/* A delivery-status body: groups of fields separated by empty lines. */
typedef struct status_groups {
    part    groups[16];
    int     count;
} status_groups;

static void status_parse(const part *p, status_groups *g)
{
    const char *cp = p->body;
    const char *end = p->body + p->body_len;

    g->count = 0;
    while (cp < end) {
        const char *sep = memmem(cp, (size_t) (end - cp), "\n\n", 2);
        const char *stop = sep ? sep + 1 : end;

        assert_true(g->count < 16);
        part_parse(g->groups + g->count++, cp, (size_t) (stop - cp));
        cp = sep ? sep + 2 : end;
    }
}

static void status_free(status_groups *g)
{
    int     i;

    for (i = 0; i < g->count; i++)
        header_block_free(g->groups[i].hb);
}

static const bounce_dsn_conf conf = {HOST, "example.org", "Postern", 50000, NOW};

static bounce_dsn_rcpt rcpts[] = {
    {"bob@example.net", "bobby@example.net", "rfc822;Bob@Example.NET",
     QFILE_NOTIFY_FAILURE, "5.1.1", "550 5.1.1 <bob@example.net>: no such user",
     "mx.example.net[192.0.2.1]:25", NOW - 60},
    {"carol@example.org", "carol-alias@example.org", NULL, 0, "5.2.2",
     "mailbox full", "local", 0},
};

static void msg_init_default(bounce_dsn_msg *m)
{
    memset(m, 0, sizeof(*m));
    m->kind = BOUNCE_DSN_SENDER;
    m->queue_id = "3A3D26C44CC";
    m->sender = "alice@example.com";
    m->envid = "ENV-42";
    m->ret = QFILE_RET_NONE;
    m->arrival = ARRIVED;
    m->content = original;
    m->content_len = strlen(original);
    m->content_size = (long) strlen(original);
    m->rcpts = rcpts;
    m->nrcpts = 2;
    m->notice_to = "alice@example.com";
}

static void compose(const bounce_dsn_msg *m, const bounce_dsn_conf *c,
                    notice *n, int *eightbit)
{
    n->text = strbuf_new(1024);
    assert_int_equal(bounce_dsn_compose(m, c, n->text, eightbit), 0);
    notice_parse(n);
}

static void test_full_notice(void **state)
{
    bounce_dsn_msg m;
    notice  n;
    strbuf *v = strbuf_new(100);
    status_groups g;
    int     eightbit = -1;

    (void) state;
    msg_init_default(&m);
    compose(&m, &conf, &n, &eightbit);
    assert_int_equal(eightbit, 0);

    /* Top-level header. */
    assert_string_equal(part_field(&n.top, "From", v),
                        "MAILER-DAEMON@" HOST " (Mail Delivery System)");
    assert_string_equal(part_field(&n.top, "To", v), "<alice@example.com>");
    assert_string_equal(part_field(&n.top, "Subject", v),
                        "Undelivered Mail Returned to Sender");
    assert_string_equal(part_field(&n.top, "Date", v), "Tue, 14 Nov 2023 22:13:20 +0000");
    assert_non_null(part_field(&n.top, "Message-ID", v));
    assert_true(v->data[0] == '<' && strstr(v->data, "@" HOST ">") != NULL);
    assert_string_equal(part_field(&n.top, "Auto-Submitted", v), "auto-replied");
    assert_string_equal(part_field(&n.top, "MIME-Version", v), "1.0");
    assert_string_equal(n.boundary, "3A3D26C44CC.1700000000/" HOST);
    assert_int_equal(n.nparts, 3);

    /* Part 1: for people. */
    assert_non_null(strstr(part_field(&n.parts[0], "Content-Type", v), "text/plain"));
    assert_non_null(memmem(n.parts[0].body, n.parts[0].body_len, HOST, strlen(HOST)));
    assert_non_null(memmem(n.parts[0].body, n.parts[0].body_len,
                           "<bob@example.net> (expanded from <bobby@example.net>):", 54));
    assert_non_null(memmem(n.parts[0].body, n.parts[0].body_len, "no such user", 12));
    assert_non_null(memmem(n.parts[0].body, n.parts[0].body_len,
                           "<carol@example.org> (expanded from <carol-alias@example.org>): mailbox full", 74));

    /* Part 2: for programs. */
    assert_string_equal(part_field(&n.parts[1], "Content-Type", v), "message/delivery-status");
    status_parse(&n.parts[1], &g);
    assert_int_equal(g.count, 3);
    assert_string_equal(part_field(&g.groups[0], "Reporting-MTA", v), "dns; " HOST);
    assert_string_equal(part_field(&g.groups[0], "X-Postern-Queue-ID", v), "3A3D26C44CC");
    assert_string_equal(part_field(&g.groups[0], "X-Postern-Sender", v), "rfc822; alice@example.com");
    assert_string_equal(part_field(&g.groups[0], "Arrival-Date", v), "Tue, 14 Nov 2023 19:26:40 +0000");
    assert_string_equal(part_field(&g.groups[0], "Original-Envelope-Id", v), "ENV-42");

    assert_string_equal(part_field(&g.groups[1], "Final-Recipient", v), "rfc822; bob@example.net");
    assert_string_equal(part_field(&g.groups[1], "Original-Recipient", v), "rfc822; Bob@Example.NET");
    assert_string_equal(part_field(&g.groups[1], "Action", v), "failed");
    assert_string_equal(part_field(&g.groups[1], "Status", v), "5.1.1");
    assert_string_equal(part_field(&g.groups[1], "Remote-MTA", v), "dns; mx.example.net");
    assert_string_equal(part_field(&g.groups[1], "Diagnostic-Code", v),
                        "smtp; 550 5.1.1 <bob@example.net>: no such user");
    assert_string_equal(part_field(&g.groups[1], "Last-Attempt-Date", v),
                        "Tue, 14 Nov 2023 22:12:20 +0000");

    assert_string_equal(part_field(&g.groups[2], "Final-Recipient", v), "rfc822; carol@example.org");
    assert_string_equal(part_field(&g.groups[2], "Original-Recipient", v),
                        "rfc822; carol-alias@example.org");
    assert_string_equal(part_field(&g.groups[2], "Status", v), "5.2.2");
    assert_null(part_field(&g.groups[2], "Remote-MTA", v));
    assert_string_equal(part_field(&g.groups[2], "Diagnostic-Code", v), "X-Postern; mailbox full");
    assert_null(part_field(&g.groups[2], "Last-Attempt-Date", v));
    status_free(&g);

    /* Part 3: the original, byte for byte. */
    assert_string_equal(part_field(&n.parts[2], "Content-Type", v), "message/rfc822");
    assert_int_equal(field_count(&n.parts[2], "Content-Transfer-Encoding"), 0);
    assert_int_equal(n.parts[2].body_len, strlen(original));
    assert_memory_equal(n.parts[2].body, original, strlen(original));

    notice_free(&n);
    strbuf_free(v);
}

/* Which form the original takes: whole, or its header block only. */
static const struct attach_case {
    const char *name;
    enum bounce_dsn_kind kind;
    int     ret;
    long    size_limit;
    long    size_delta;                 /* content_size - content_len */
    int     full;
} attach_cases[] = {
    {"no RET", BOUNCE_DSN_SENDER, QFILE_RET_NONE, 50000, 0, 1},
    {"RET=FULL", BOUNCE_DSN_SENDER, QFILE_RET_FULL, 50000, 0, 1},
    {"RET=HDRS", BOUNCE_DSN_SENDER, QFILE_RET_HDRS, 50000, 0, 0},
    {"exactly at the limit", BOUNCE_DSN_SENDER, QFILE_RET_FULL, -1, 0, 1},
    {"one byte over the limit", BOUNCE_DSN_SENDER, QFILE_RET_FULL, -2, 0, 0},
    {"only a prefix was read", BOUNCE_DSN_SENDER, QFILE_RET_FULL, 50000, 10, 0},
    {"postmaster copy", BOUNCE_DSN_COPY, QFILE_RET_FULL, 50000, 0, 0},
    {"double bounce", BOUNCE_DSN_2BOUNCE, QFILE_RET_NONE, 50000, 0, 1},
};

static void test_attachment_forms(void **state)
{
    static const char headers[] =
        "From: Alice <alice@example.com>\n"
        "To: bob@example.net\n"
        "Subject: hello\n"
        "Message-ID: <m1@example.com>\n";
    size_t  i;

    (void) state;
    for (i = 0; i < sizeof(attach_cases) / sizeof(attach_cases[0]); i++) {
        const struct attach_case *c = attach_cases + i;
        bounce_dsn_conf cf = conf;
        bounce_dsn_msg m;
        notice  n;
        strbuf *v = strbuf_new(10);

        msg_init_default(&m);
        m.kind = c->kind;
        m.ret = c->ret;
        m.content_size += c->size_delta;
        if (c->size_limit == -1)
            cf.size_limit = m.content_size;
        else if (c->size_limit == -2)
            cf.size_limit = m.content_size - 1;
        else
            cf.size_limit = c->size_limit;
        compose(&m, &cf, &n, NULL);
        if (n.nparts != 3)
            fail_msg("case %s: %d parts", c->name, n.nparts);
        part_field(&n.parts[2], "Content-Type", v);
        if (c->full) {
            if (strcmp(v->data, "message/rfc822") != 0
                || n.parts[2].body_len != strlen(original)
                || memcmp(n.parts[2].body, original, strlen(original)) != 0)
                fail_msg("case %s: not the whole message (%s)", c->name, v->data);
        } else {
            if (strcmp(v->data, "text/rfc822-headers") != 0
                || n.parts[2].body_len != strlen(headers)
                || memcmp(n.parts[2].body, headers, strlen(headers)) != 0)
                fail_msg("case %s: not the headers only (%s)", c->name, v->data);
        }
        /* The explanation says what is attached. */
        if (c->kind == BOUNCE_DSN_SENDER
            && (memmem(n.parts[0].body, n.parts[0].body_len, "headers are", 11) != NULL) == c->full)
            fail_msg("case %s: explanation does not match the attachment", c->name);
        notice_free(&n);
        strbuf_free(v);
    }
}

static void test_subjects_and_recipient(void **state)
{
    static const struct {
        enum bounce_dsn_kind kind;
        const char *to;
        const char *subject;
        const char *to_field;
    } cases[] = {
        {BOUNCE_DSN_SENDER, "alice@example.com", "Undelivered Mail Returned to Sender", "<alice@example.com>"},
        {BOUNCE_DSN_COPY, "postmaster", "Postmaster Copy: Undelivered Mail", "<postmaster@example.org>"},
        {BOUNCE_DSN_2BOUNCE, "postmaster", "Postmaster Notice: Undeliverable Notification", "<postmaster@example.org>"},
    };
    size_t  i;

    (void) state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        bounce_dsn_msg m;
        notice  n;
        strbuf *v = strbuf_new(10);

        msg_init_default(&m);
        m.kind = cases[i].kind;
        m.notice_to = cases[i].to;
        compose(&m, &conf, &n, NULL);
        assert_string_equal(part_field(&n.top, "Subject", v), cases[i].subject);
        assert_string_equal(part_field(&n.top, "To", v), cases[i].to_field);
        notice_free(&n);
        strbuf_free(v);
    }
}

static void test_boundary_collision(void **state)
{
    static const char evil[] =
        "Subject: trap\n"
        "\n"
        "--3A3D26C44CC.1700000000/" HOST "\n"
        "Content-Type: text/plain\n"
        "\n"
        "--3A3D26C44CC.1700000000/" HOST "/1--\n"
        "tail\n";
    bounce_dsn_msg m;
    notice  n;

    (void) state;
    msg_init_default(&m);
    m.content = evil;
    m.content_len = m.content_size = (long) strlen(evil);
    compose(&m, &conf, &n, NULL);
    assert_true(strncmp(n.boundary, "3A3D26C44CC.1700000000/" HOST "/", 38) == 0);
    assert_true(strlen(n.boundary) > 38);
    assert_int_equal(n.nparts, 3);
    assert_int_equal(n.parts[2].body_len, strlen(evil));
    assert_memory_equal(n.parts[2].body, evil, strlen(evil));
    notice_free(&n);
}

/* The boundary planted as a header name and as a body line: both count
 * as collisions, and the message still comes back whole. */
static void test_boundary_fallback_headers(void **state)
{
    static const char planted[] =
        "--3A3D26C44CC.1700000000/" HOST ": x\n"
        "Subject: y\n"
        "\n"
        "--3A3D26C44CC.1700000000/" HOST "\n";
    bounce_dsn_msg m;
    notice  n;

    (void) state;
    msg_init_default(&m);
    m.content = planted;
    m.content_len = m.content_size = (long) strlen(planted);
    compose(&m, &conf, &n, NULL);
    assert_int_equal(n.nparts, 3);
    assert_int_equal(n.parts[2].body_len, strlen(planted));
    assert_memory_equal(n.parts[2].body, planted, strlen(planted));
    notice_free(&n);
}

static void test_long_hostname_boundary(void **state)
{
    bounce_dsn_conf cf = conf;
    bounce_dsn_msg m;
    notice  n;

    (void) state;
    cf.myhostname = "a-very-long-host-name.in-a-very-long-subdomain.of-an-example-domain.example.org";
    msg_init_default(&m);
    compose(&m, &cf, &n, NULL);
    assert_true(strlen(n.boundary) <= 70);
    assert_int_equal(n.nparts, 3);
    notice_free(&n);
}

static void test_injection_is_neutralised(void **state)
{
    bounce_dsn_rcpt evil[] = {
        {"x@y\nSubject: forged", NULL, "rfc822;a\nb", 0, "5.1.1\nX: y",
         "bad\n\nContent-Type: text/html\n--3A3D26C44CC.1700000000/" HOST "\n\xff\xfe end",
         "relay\n", 0},
    };
    bounce_dsn_msg m;
    notice  n;
    strbuf *v = strbuf_new(10);
    status_groups g;

    (void) state;
    msg_init_default(&m);
    m.sender = "a@b\nBcc: victim@example.com";
    m.notice_to = m.sender;
    m.envid = "e\r\nX-Evil: 1";
    m.rcpts = evil;
    m.nrcpts = 1;
    compose(&m, &conf, &n, NULL);
    assert_int_equal(field_count(&n.top, "Subject"), 1);
    assert_int_equal(field_count(&n.top, "Bcc"), 0);
    assert_int_equal(field_count(&n.top, "X-Evil"), 0);
    assert_string_equal(part_field(&n.top, "To", v), "<a@b Bcc: victim@example.com>");
    assert_int_equal(n.nparts, 3);
    /* Part 1 and 2 are 7-bit and the forged boundary never starts a line. */
    assert_null(memchr(n.parts[0].body, 0xff, n.parts[0].body_len));
    assert_null(memchr(n.parts[1].body, 0xff, n.parts[1].body_len));
    status_parse(&n.parts[1], &g);
    assert_int_equal(g.count, 2);
    assert_int_equal(field_count(&g.groups[0], "X-Evil"), 0);
    assert_string_equal(part_field(&g.groups[1], "Final-Recipient", v),
                        "rfc822; x@y Subject: forged");
    assert_string_equal(part_field(&g.groups[1], "Status", v), "5.0.0");
    assert_int_equal(field_count(&g.groups[1], "Content-Type"), 0);
    assert_int_equal(field_count(&g.groups[1], "X"), 0);
    part_field(&g.groups[1], "Diagnostic-Code", v);
    assert_non_null(strstr(v->data, "?? end"));
    status_free(&g);
    notice_free(&n);
    strbuf_free(v);
}

static void test_status_values(void **state)
{
    static const struct {
        const char *in;
        const char *out;
    } cases[] = {
        {"5.1.1", "5.1.1"}, {"4.4.7", "4.4.7"}, {"5.123.456", "5.123.456"},
        {"2.0.0", "5.0.0"}, {"5.1", "5.0.0"}, {"5.1.1.1", "5.0.0"},
        {"5.1234.1", "5.0.0"}, {"abc", "5.0.0"}, {"", "5.0.0"}, {NULL, "5.0.0"},
        {"5..1", "5.0.0"}, {"6.1.1", "5.0.0"},
    };
    size_t  i;

    (void) state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        bounce_dsn_rcpt r = {"u@x", NULL, NULL, 0, cases[i].in, "r", NULL, 0};
        bounce_dsn_msg m;
        notice  n;
        status_groups g;
        strbuf *v = strbuf_new(10);

        msg_init_default(&m);
        m.rcpts = &r;
        m.nrcpts = 1;
        compose(&m, &conf, &n, NULL);
        status_parse(&n.parts[1], &g);
        if (strcmp(part_field(&g.groups[1], "Status", v), cases[i].out) != 0)
            fail_msg("status %s became %s", cases[i].in ? cases[i].in : "(null)", v->data);
        status_free(&g);
        notice_free(&n);
        strbuf_free(v);
    }
}

static void test_folding(void **state)
{
    strbuf *reason = strbuf_new(100);
    bounce_dsn_rcpt r = {"u@x", NULL, NULL, 0, "5.0.0", NULL, NULL, 0};
    bounce_dsn_msg m;
    notice  n;
    status_groups g;
    strbuf *v = strbuf_new(10);
    const char *cp;
    const char *end;
    int     i;

    (void) state;
    for (i = 0; i < 60; i++)
        strbuf_printf(reason, "word%02d ", i);
    strbuf_puts(reason, "0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789");
    r.reason = reason->data;
    msg_init_default(&m);
    m.rcpts = &r;
    m.nrcpts = 1;
    compose(&m, &conf, &n, NULL);
    /* No line of parts 1 and 2 is longer than the unbreakable word needs. */
    for (i = 0; i < 2; i++) {
        cp = n.parts[i].text;
        end = n.parts[i].body + n.parts[i].body_len;
        while (cp < end) {
            const char *nl = memchr(cp, '\n', (size_t) (end - cp));
            size_t  len = (size_t) ((nl ? nl : end) - cp);

            assert_true(len <= 110);
            cp = nl ? nl + 1 : end;
        }
    }
    status_parse(&n.parts[1], &g);
    part_field(&g.groups[1], "Diagnostic-Code", v);
    /* Unfolding gives the words back, in order, each once. */
    assert_non_null(strstr(v->data, "X-Postern; word00 word01"));
    if (strstr(v->data, "word58 word59 0123456789") == NULL)
        fail_msg("unfolded: %s", v->data);
    status_free(&g);
    notice_free(&n);
    strbuf_free(reason);
    strbuf_free(v);
}

static void test_eightbit(void **state)
{
    static const char body8[] = "Subject: caf\xc3\xa9\n\nna\xc3\xafve\n";
    bounce_dsn_msg m;
    notice  n;
    strbuf *v = strbuf_new(10);
    int     eightbit = -1;

    (void) state;
    msg_init_default(&m);
    m.content = body8;
    m.content_len = m.content_size = (long) strlen(body8);
    compose(&m, &conf, &n, &eightbit);
    assert_int_equal(eightbit, 1);
    assert_string_equal(part_field(&n.top, "Content-Transfer-Encoding", v), "8bit");
    assert_string_equal(part_field(&n.parts[2], "Content-Transfer-Encoding", v), "8bit");
    assert_memory_equal(n.parts[2].body, body8, strlen(body8));
    notice_free(&n);

    /* 8-bit only in the body, with RET=HDRS: the notice is 7-bit. */
    {
        static const char hdr7[] = "Subject: plain\n\nna\xc3\xafve\n";

        m.content = hdr7;
        m.content_len = m.content_size = (long) strlen(hdr7);
        m.ret = QFILE_RET_HDRS;
        compose(&m, &conf, &n, &eightbit);
        assert_int_equal(eightbit, 0);
        assert_string_equal(part_field(&n.top, "Content-Transfer-Encoding", v), "7bit");
        notice_free(&n);
    }
    strbuf_free(v);
}

static void test_odd_contents(void **state)
{
    static const struct {
        const char *name;
        const char *content;
        const char *attached;           /* as found in part 3 */
    } cases[] = {
        {"empty", "", ""},
        {"no final newline", "Subject: x\n\nbody", "Subject: x\n\nbody\n"},
        {"no header", "just a body line\n", "just a body line\n"},
    };
    size_t  i;

    (void) state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        bounce_dsn_msg m;
        notice  n;

        msg_init_default(&m);
        m.content = cases[i].content;
        m.content_len = m.content_size = (long) strlen(cases[i].content);
        compose(&m, &conf, &n, NULL);
        if (n.nparts != 3 || n.parts[2].body_len != strlen(cases[i].attached)
            || memcmp(n.parts[2].body, cases[i].attached, n.parts[2].body_len) != 0)
            fail_msg("case %s: wrong attachment", cases[i].name);
        notice_free(&n);
    }
}

static void test_no_envid_no_orig(void **state)
{
    bounce_dsn_rcpt r = {"u@x", "u@x", NULL, 0, "5.0.0", "", "", 0};
    bounce_dsn_msg m;
    notice  n;
    status_groups g;

    (void) state;
    msg_init_default(&m);
    m.envid = NULL;
    m.sender = "";
    m.rcpts = &r;
    m.nrcpts = 1;
    compose(&m, &conf, &n, NULL);
    status_parse(&n.parts[1], &g);
    assert_int_equal(field_count(&g.groups[0], "Original-Envelope-Id"), 0);
    assert_int_equal(field_count(&g.groups[1], "Original-Recipient"), 0);
    assert_int_equal(field_count(&g.groups[1], "Remote-MTA"), 0);
    assert_int_equal(field_count(&g.groups[1], "Diagnostic-Code"), 0);
    status_free(&g);
    notice_free(&n);
}

static void test_plan(void **state)
{
    static const struct {
        const char *sender;
        const char *envid;
        int     classes;
        int     plan;
    } cases[] = {
        {"a@example.com", NULL, 0, BOUNCE_PLAN_SENDER},
        {"a@example.com", NULL, BOUNCE_CLASS_BOUNCE, BOUNCE_PLAN_SENDER | BOUNCE_PLAN_COPY},
        {"a@example.com", NULL, BOUNCE_CLASS_2BOUNCE, BOUNCE_PLAN_SENDER},
        {"a@example.com", BOUNCE_DSN_ENVID_POSTMASTER, 0, BOUNCE_PLAN_SENDER},
        {"", NULL, 0, BOUNCE_PLAN_NO_2BOUNCE},
        {"", NULL, BOUNCE_CLASS_BOUNCE, BOUNCE_PLAN_NO_2BOUNCE},
        {"", NULL, BOUNCE_CLASS_2BOUNCE, BOUNCE_PLAN_2BOUNCE},
        {"", "other", BOUNCE_CLASS_2BOUNCE, BOUNCE_PLAN_2BOUNCE},
        {"", BOUNCE_DSN_ENVID_POSTMASTER, BOUNCE_CLASS_2BOUNCE | BOUNCE_CLASS_BOUNCE, BOUNCE_PLAN_DISCARD},
        {"double-bounce", NULL, BOUNCE_CLASS_2BOUNCE, BOUNCE_PLAN_DISCARD},
        {"Double-Bounce@" HOST, NULL, BOUNCE_CLASS_BOUNCE, BOUNCE_PLAN_DISCARD},
        {"double-bounce@example.org", NULL, 0, BOUNCE_PLAN_DISCARD},
        {"double-bounce@elsewhere.example", NULL, 0, BOUNCE_PLAN_SENDER},
        {"double-bounce-x@" HOST, NULL, 0, BOUNCE_PLAN_SENDER},
    };
    size_t  i;

    (void) state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int     plan = bounce_dsn_plan(cases[i].sender, cases[i].envid,
                                       cases[i].classes, "double-bounce", &conf);

        if (plan != cases[i].plan)
            fail_msg("case %zu (%s): plan %d, want %d", i, cases[i].sender,
                     plan, cases[i].plan);
    }
    /* An empty double_bounce_sender matches nothing. */
    assert_int_equal(bounce_dsn_plan("x@y", NULL, 0, "", &conf), BOUNCE_PLAN_SENDER);
}

static void test_wanted(void **state)
{
    static const struct {
        int     notify;
        int     wanted;
    } cases[] = {
        {0, 1},
        {QFILE_NOTIFY_FAILURE, 1},
        {QFILE_NOTIFY_FAILURE | QFILE_NOTIFY_DELAY, 1},
        {QFILE_NOTIFY_SUCCESS | QFILE_NOTIFY_FAILURE | QFILE_NOTIFY_DELAY, 1},
        {QFILE_NOTIFY_SUCCESS, 0},
        {QFILE_NOTIFY_DELAY, 0},
        {QFILE_NOTIFY_SUCCESS | QFILE_NOTIFY_DELAY, 0},
        {QFILE_NOTIFY_NEVER, 0},
    };
    size_t  i;

    (void) state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        bounce_dsn_rcpt r = {"u@x", NULL, NULL, cases[i].notify, NULL, NULL, NULL, 0};

        if (bounce_dsn_wanted(&r) != cases[i].wanted)
            fail_msg("notify %d: wanted should be %d", cases[i].notify, cases[i].wanted);
    }
}

static void test_delay_notice(void **state)
{
    static bounce_dsn_rcpt delayed[] = {
        {"bob@example.net", NULL, NULL, 0, "4.4.1",
         "connect to mx.example.net[192.0.2.1]:25: Connection refused",
         "none", NOW - 60},
        {"carol@example.org", NULL, NULL, QFILE_NOTIFY_DELAY, "5.2.2",
         "odd: a permanent code in the defer log", "local", 0},
    };
    bounce_dsn_msg m;
    notice  n;
    strbuf *v = strbuf_new(100);
    const char *t;

    (void) state;
    msg_init_default(&m);
    m.kind = BOUNCE_DSN_DELAY;
    m.ret = QFILE_RET_FULL;             /* still headers only */
    m.rcpts = delayed;
    m.nrcpts = 2;
    compose(&m, &conf, &n, NULL);
    t = strbuf_str(n.text);
    assert_string_equal(part_field(&n.top, "Subject", v),
                        "Delayed Mail (still being retried)");
    assert_string_equal(part_field(&n.top, "To", v), "<alice@example.com>");
    assert_non_null(strstr(t, "still trying to deliver it"));
    assert_non_null(strstr(t, "\nAction: delayed\nStatus: 4.4.1\n"));
    assert_non_null(strstr(t, "\nAction: delayed\nStatus: 4.0.0\n"));
    assert_null(strstr(t, "Action: failed"));
    assert_non_null(strstr(t, "Content-Type: text/rfc822-headers"));
    assert_non_null(strstr(t, "Subject: hello\n"));
    assert_null(strstr(t, "Body line one."));
    notice_free(&n);
    strbuf_free(v);
}

static void test_delay_wanted(void **state)
{
    static const struct {
        int     notify;
        int     wanted;
    } cases[] = {
        {0, 1},
        {QFILE_NOTIFY_DELAY, 1},
        {QFILE_NOTIFY_FAILURE | QFILE_NOTIFY_DELAY, 1},
        {QFILE_NOTIFY_FAILURE, 0},
        {QFILE_NOTIFY_SUCCESS, 0},
        {QFILE_NOTIFY_NEVER, 0},
    };
    size_t  i;

    (void) state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        bounce_dsn_rcpt r = {"u@x", NULL, NULL, cases[i].notify, NULL, NULL, NULL, 0};

        if (bounce_dsn_delay_wanted(&r) != cases[i].wanted)
            fail_msg("notify %d: delay wanted should be %d", cases[i].notify,
                     cases[i].wanted);
    }
}

static void test_classes(void **state)
{
    const char *const def[] = {"resource", "software"};
    const char *const both[] = {"resource", "BOUNCE", "2bounce", "delay"};
    const char *const near[] = {"bounces", "2bounced", "bounce2"};

    (void) state;
    assert_int_equal(bounce_dsn_classes(def, 2), 0);
    assert_int_equal(bounce_dsn_classes(both, 4), BOUNCE_CLASS_BOUNCE | BOUNCE_CLASS_2BOUNCE);
    assert_int_equal(bounce_dsn_classes(near, 3), 0);
    assert_int_equal(bounce_dsn_classes(NULL, 0), 0);
}

static void test_date(void **state)
{
    strbuf *v = strbuf_new(10);

    (void) state;
    bounce_dsn_date(0, v);
    assert_string_equal(v->data, "Thu, 01 Jan 1970 00:00:00 +0000");
    bounce_dsn_date(951782400L, v);     /* leap day */
    assert_string_equal(v->data, "Tue, 29 Feb 2000 00:00:00 +0000");
    strbuf_free(v);
}

int     main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_full_notice),
        cmocka_unit_test(test_attachment_forms),
        cmocka_unit_test(test_subjects_and_recipient),
        cmocka_unit_test(test_boundary_collision),
        cmocka_unit_test(test_boundary_fallback_headers),
        cmocka_unit_test(test_long_hostname_boundary),
        cmocka_unit_test(test_injection_is_neutralised),
        cmocka_unit_test(test_status_values),
        cmocka_unit_test(test_folding),
        cmocka_unit_test(test_eightbit),
        cmocka_unit_test(test_odd_contents),
        cmocka_unit_test(test_no_envid_no_orig),
        cmocka_unit_test(test_plan),
        cmocka_unit_test(test_wanted),
        cmocka_unit_test(test_classes),
        cmocka_unit_test(test_delay_notice),
        cmocka_unit_test(test_delay_wanted),
        cmocka_unit_test(test_date),
    };

    /* Dates in the notices are local time: pin the zone. */
    setenv("TZ", "UTC", 1);
    tzset();
    testlib_setup();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
