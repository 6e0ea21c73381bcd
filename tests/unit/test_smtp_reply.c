/*
 * Unit tests for lib/net/smtp_reply.c: reply lines, enhanced status
 * codes, bounds, and EHLO keywords.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "smtp_reply.h"
#include "strbuf.h"
#include "testlib.h"

struct reply_case {
    const char *lines;                  /* '\n'-separated input */
    int     result;                     /* of the last line fed */
    int     code;
    const char *dsn;
    int     has_dsn;
    const char *oneline;
};

static const struct reply_case reply_cases[] = {
    {"220 mx.example ESMTP", SMTP_REPLY_DONE, 220, "2.0.0", 0, "220 mx.example ESMTP"},
    {"250 2.1.5 Ok", SMTP_REPLY_DONE, 250, "2.1.5", 1, "250 2.1.5 Ok"},
    {"250", SMTP_REPLY_DONE, 250, "2.0.0", 0, "250"},
    {"550-5.1.1 <a@b>: no\n550 5.1.1 such user", SMTP_REPLY_DONE, 550, "5.1.1", 1,
     "550-5.1.1 <a@b>: no 550 5.1.1 such user"},
    {"451 4.3.0 try later\r", SMTP_REPLY_DONE, 451, "4.3.0", 1, "451 4.3.0 try later"},
    /* A class that disagrees with the code takes the code's class. */
    {"550 4.7.1 odd", SMTP_REPLY_DONE, 550, "5.7.1", 1, "550 4.7.1 odd"},
    /* Not an enhanced code: digits too long, no space after. */
    {"550 5.1.1234 x", SMTP_REPLY_DONE, 550, "5.0.0", 0, "550 5.1.1234 x"},
    {"550 5.1.1x", SMTP_REPLY_DONE, 550, "5.0.0", 0, "550 5.1.1x"},
    {"421 3.1.1 x", SMTP_REPLY_DONE, 421, "4.0.0", 0, "421 3.1.1 x"},
    /* Control bytes are shown as '?'. */
    {"250 a\tb\x1b", SMTP_REPLY_DONE, 250, "2.0.0", 0, "250 a?b?"},
    {"250-first", SMTP_REPLY_MORE, 250, "", 0, NULL},
    /* Malformed. */
    {"25", SMTP_REPLY_BAD, 0, "", 0, NULL},
    {"2500 x", SMTP_REPLY_BAD, 0, "", 0, NULL},
    {"150 x", SMTP_REPLY_BAD, 0, "", 0, NULL},
    {"650 x", SMTP_REPLY_BAD, 0, "", 0, NULL},
    {"abc", SMTP_REPLY_BAD, 0, "", 0, NULL},
    {"250-x\n251 y", SMTP_REPLY_BAD, 250, "", 0, NULL},
    {"", SMTP_REPLY_BAD, 0, "", 0, NULL},
};

/* feed_lines: feed every line; the result of the last one. */
static int feed_lines(smtp_reply *r, const char *lines, strbuf *err)
{
    const char *p = lines;
    int     rc = SMTP_REPLY_BAD;

    for (;;) {
        const char *nl = strchr(p, '\n');
        size_t  len = nl ? (size_t) (nl - p) : strlen(p);

        rc = smtp_reply_feed(r, p, len, err);
        if (!nl || rc == SMTP_REPLY_BAD)
            return rc;
        p = nl + 1;
    }
}

/* test_replies: the table. */
static void test_replies(void **state)
{
    smtp_reply *r = smtp_reply_new();
    strbuf *err = strbuf_new(32);
    strbuf *one = strbuf_new(32);
    size_t  i;

    (void) state;
    for (i = 0; i < sizeof(reply_cases) / sizeof(reply_cases[0]); i++) {
        const struct reply_case *c = &reply_cases[i];
        int     rc;

        smtp_reply_reset(r);
        rc = feed_lines(r, c->lines, err);
        if (rc != c->result)
            fail_msg("case %zu \"%s\": result %d, expected %d", i, c->lines, rc, c->result);
        if (rc == SMTP_REPLY_BAD) {
            assert_true(err->len > 0);
            continue;
        }
        assert_int_equal(r->code, c->code);
        if (rc == SMTP_REPLY_DONE) {
            assert_string_equal(r->dsn, c->dsn);
            assert_int_equal(r->has_dsn, c->has_dsn);
            smtp_reply_oneline(r, one);
            assert_string_equal(one->data, c->oneline);
        }
    }
    /* A complete reply takes no more lines. */
    smtp_reply_reset(r);
    assert_int_equal(feed_lines(r, "250 ok", err), SMTP_REPLY_DONE);
    assert_int_equal(smtp_reply_feed(r, "250 again", 9, err), SMTP_REPLY_BAD);
    strbuf_free(err);
    strbuf_free(one);
    smtp_reply_free(r);
}

/* test_bounds: too many lines, text cut at its limit. */
static void test_bounds(void **state)
{
    smtp_reply *r = smtp_reply_new();
    strbuf *err = strbuf_new(32);
    char    line[SMTP_REPLY_LINE_MAX];
    int     i;

    (void) state;
    for (i = 0; i < SMTP_REPLY_LINES_MAX; i++)
        assert_int_equal(smtp_reply_feed(r, "250-x", 5, err), SMTP_REPLY_MORE);
    assert_int_equal(smtp_reply_feed(r, "250-x", 5, err), SMTP_REPLY_BAD);
    assert_non_null(strstr(err->data, "lines"));
    smtp_reply_reset(r);
    memset(line, 'a', sizeof(line));
    memcpy(line, "250 ", 4);
    assert_int_equal(smtp_reply_feed(r, line, sizeof(line), err), SMTP_REPLY_DONE);
    assert_int_equal(r->text->len, SMTP_REPLY_TEXT_MAX);
    assert_int_equal(smtp_reply_fake(r, "421 4.4.2 timeout"), 0);
    assert_int_equal(r->code, 421);
    assert_string_equal(r->dsn, "4.4.2");
    assert_int_equal(smtp_reply_fake(r, "nonsense"), -1);
    strbuf_free(err);
    smtp_reply_free(r);
}

/* test_ehlo: keywords, SIZE values, case, non-2xx. */
static void test_ehlo(void **state)
{
    smtp_reply *r = smtp_reply_new();
    strbuf *err = strbuf_new(32);
    smtp_ehlo e;

    (void) state;
    assert_int_equal(feed_lines(r, "250-mx.example Hello PIPELINING\n250-pipelining\n"
                                "250-SIZE 10485760\n250-8BITMIME\n250-DSN\n"
                                "250-SMTPUTF8\n250-AUTH PLAIN LOGIN\n250-X-UNKNOWN\n"
                                "250 ENHANCEDSTATUSCODES", err), SMTP_REPLY_DONE);
    smtp_ehlo_parse(r, &e);
    assert_int_equal(e.features, SMTP_EHLO_PIPELINING | SMTP_EHLO_SIZE | SMTP_EHLO_8BITMIME
                     | SMTP_EHLO_DSN | SMTP_EHLO_SMTPUTF8 | SMTP_EHLO_AUTH
                     | SMTP_EHLO_ENHANCED);
    assert_int_equal(e.size_limit, 10485760);

    /* The greeting line itself never counts; SIZE without a value. */
    smtp_reply_reset(r);
    assert_int_equal(feed_lines(r, "250-SIZE 100\n250 SIZE", err), SMTP_REPLY_DONE);
    smtp_ehlo_parse(r, &e);
    assert_int_equal(e.features, SMTP_EHLO_SIZE);
    assert_int_equal(e.size_limit, 0);

    /* A bad SIZE value is no limit; a one-line reply has no keywords. */
    smtp_reply_reset(r);
    assert_int_equal(feed_lines(r, "250-x\n250-SIZE 12abc\n250 8BITMIMEX", err),
                     SMTP_REPLY_DONE);
    smtp_ehlo_parse(r, &e);
    assert_int_equal(e.features, SMTP_EHLO_SIZE);
    assert_int_equal(e.size_limit, 0);
    smtp_reply_reset(r);
    assert_int_equal(feed_lines(r, "250 mx.example", err), SMTP_REPLY_DONE);
    smtp_ehlo_parse(r, &e);
    assert_int_equal(e.features, 0);

    /* A refusal has no keywords. */
    smtp_reply_reset(r);
    assert_int_equal(feed_lines(r, "502-5.5.2 no\n502 PIPELINING", err), SMTP_REPLY_DONE);
    smtp_ehlo_parse(r, &e);
    assert_int_equal(e.features, 0);
    strbuf_free(err);
    smtp_reply_free(r);
}

int     main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_replies),
        cmocka_unit_test(test_bounds),
        cmocka_unit_test(test_ehlo),
    };

    testlib_setup();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
