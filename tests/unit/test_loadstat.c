/*
 * Unit tests for tools/loadstat.c (postern-smtp-load's figures).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "loadstat.h"
#include "mem.h"
#include "strbuf.h"
#include "strutil.h"
#include "testlib.h"

/* Nearest-rank percentiles over 1..100 and small sets. */
static void test_percentiles(void **state)
{
    static const struct {
        const char *name;
        int     n;                      /* samples 1..n, added in reverse */
        double  pct;
        double  want;
    } cases[] = {
        {"p50 of 100", 100, 50, 50},
        {"p90 of 100", 100, 90, 90},
        {"p99 of 100", 100, 99, 99},
        {"p100 of 100", 100, 100, 100},
        {"p1 of 100", 100, 1, 1},
        {"p50 of 1", 1, 50, 1},
        {"p99 of 1", 1, 99, 1},
        {"p50 of 2", 2, 50, 1},
        {"p51 of 2", 2, 51, 2},
        {"p50 of 3", 3, 50, 2},
        {"p90 of 10", 10, 90, 9},
        {"p91 of 10", 10, 91, 10},
        {"tiny pct", 10, 0.001, 1},
    };
    size_t  i;
    int     k;

    (void) state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        loadstat *ls = loadstat_new();
        double  v = -1;

        for (k = cases[i].n; k >= 1; k--)
            loadstat_add_latency(ls, k);
        assert_int_equal(loadstat_count(ls), cases[i].n);
        if (loadstat_percentile(ls, cases[i].pct, &v) != 0 || v != cases[i].want)
            fail_msg("%s: got %g, want %g", cases[i].name, v, cases[i].want);
        loadstat_free(ls);
    }
}

/* Empty sets and percentiles out of range are errors; out untouched. */
static void test_percentile_errors(void **state)
{
    loadstat *ls = loadstat_new();
    double  v = 42;

    (void) state;
    assert_int_equal(loadstat_percentile(ls, 50, &v), -1);
    assert_true(v == 42);
    loadstat_add_latency(ls, 3);
    assert_int_equal(loadstat_percentile(ls, 0, &v), -1);
    assert_int_equal(loadstat_percentile(ls, -5, &v), -1);
    assert_int_equal(loadstat_percentile(ls, 100.5, &v), -1);
    assert_true(v == 42);
    /* A negative latency (clock oddity) counts as 0. */
    loadstat_add_latency(ls, -7);
    assert_int_equal(loadstat_percentile(ls, 50, &v), 0);
    assert_true(v == 0);
    /* Adding after a sort sorts again. */
    loadstat_add_latency(ls, -1);
    loadstat_add_latency(ls, 10);
    loadstat_add_latency(ls, 11);
    assert_int_equal(loadstat_percentile(ls, 100, &v), 0);
    assert_true(v == 11);
    loadstat_free(ls);
    assert_null(loadstat_free(NULL));
}

/* The reply tally: grouping, order, sanitising, truncation. */
static void test_replies(void **state)
{
    loadstat *ls = loadstat_new();
    strbuf *out = strbuf_new(64);
    char    longtext[400];

    (void) state;
    loadstat_add_reply(ls, "rcpt", 550, "5.1.1 no such user");
    loadstat_add_reply(ls, "mail", 451, "4.3.0 try later");
    loadstat_add_reply(ls, "mail", 451, "4.3.0 try later");
    loadstat_add_reply(ls, "rcpt", 550, "5.1.1 no such user");
    loadstat_add_reply(ls, "rcpt", 550, "5.1.1 no such user");
    loadstat_add_reply(ls, "dot", 554, "line1\nline2\r");
    assert_int_equal(loadstat_reply_total(ls), 6);
    loadstat_reply_report(ls, out);
    assert_string_equal(out->data,
                        "reply rcpt 550 5.1.1 no such user: count 3\n"
                        "reply mail 451 4.3.0 try later: count 2\n"
                        "reply dot 554 line1?line2?: count 1\n");
    memset(longtext, 'x', sizeof(longtext) - 1);
    longtext[sizeof(longtext) - 1] = '\0';
    loadstat_add_reply(ls, "data", 421, longtext);
    strbuf_reset(out);
    loadstat_reply_report(ls, out);
    assert_non_null(strstr(out->data, "reply data 421 "));
    /* Cut at LOADSTAT_TEXT_MAX bytes of text. */
    {
        const char *p = strstr(out->data, "reply data 421 ") + 15;
        const char *end = strchr(p, ':');

        assert_int_equal(end - p, LOADSTAT_TEXT_MAX);
    }
    loadstat_free(ls);
    strbuf_free(out);
}

/* Nothing to report: nothing appended. */
static void test_report_empty(void **state)
{
    loadstat *ls = loadstat_new();
    strbuf *out = strbuf_new(8);

    (void) state;
    strbuf_puts(out, "x");
    loadstat_reply_report(ls, out);
    assert_string_equal(out->data, "x");
    loadstat_free(ls);
    strbuf_free(out);
}

/* Merging adds samples and counts; the source is unchanged. */
static void test_merge(void **state)
{
    loadstat *a = loadstat_new();
    loadstat *b = loadstat_new();
    strbuf *out = strbuf_new(64);
    double  v;
    int     i;

    (void) state;
    for (i = 1; i <= 10; i++)
        loadstat_add_latency(a, i);
    for (i = 11; i <= 20; i++)
        loadstat_add_latency(b, i);
    loadstat_add_reply(a, "rcpt", 450, "busy");
    loadstat_add_reply(b, "rcpt", 450, "busy");
    loadstat_add_reply(b, "mail", 421, "bye");
    loadstat_merge(a, b);
    assert_int_equal(loadstat_count(a), 20);
    assert_int_equal(loadstat_count(b), 10);
    assert_int_equal(loadstat_percentile(a, 50, &v), 0);
    assert_true(v == 10);
    assert_int_equal(loadstat_percentile(a, 100, &v), 0);
    assert_true(v == 20);
    assert_int_equal(loadstat_reply_total(a), 3);
    loadstat_reply_report(a, out);
    assert_string_equal(out->data, "reply rcpt 450 busy: count 2\n"
                        "reply mail 421 bye: count 1\n");
    loadstat_free(a);
    loadstat_free(b);
    strbuf_free(out);
}

/* Distinct replies beyond the cap go to "other", still counted. */
static void test_reply_cap(void **state)
{
    loadstat *ls = loadstat_new();
    strbuf *out = strbuf_new(64);
    char    text[32];
    int     i;

    (void) state;
    for (i = 0; i < 1005; i++) {
        assert_int_equal(str_format(text, sizeof(text), "id %d", i), 0);
        loadstat_add_reply(ls, "dot", 451, text);
    }
    assert_int_equal(loadstat_reply_total(ls), 1005);
    loadstat_reply_report(ls, out);
    assert_non_null(strstr(out->data, "reply other: count 5\n"));
    loadstat_free(ls);
    strbuf_free(out);
}

int     main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_percentiles),
        cmocka_unit_test(test_percentile_errors),
        cmocka_unit_test(test_replies),
        cmocka_unit_test(test_report_empty),
        cmocka_unit_test(test_merge),
        cmocka_unit_test(test_reply_cap),
    };

    testlib_setup();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
