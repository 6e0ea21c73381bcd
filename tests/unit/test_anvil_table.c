/*
 * Unit tests for lib/mail/anvil_table.c: counting, rate windows, expiry,
 * the memory cap, statistics and the request handler.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "anvil_client.h"
#include "anvil_table.h"
#include "attr.h"
#include "attr_names.h"
#include "mem.h"
#include "strbuf.h"
#include "strutil.h"
#include "testlib.h"

#define T0 ((time_t) 1000000)

/* connect: shortcut returning the concurrency */
static long conn(anvil_table *t, const char *svc, const char *addr, time_t now)
{
    anvil_counts c;

    assert_int_equal(anvil_table_connect(t, svc, addr, now, &c), ANVIL_TABLE_OK);
    return (c.count);
}

static void test_concurrency(void **state)
{
    anvil_table *t = anvil_table_new(60, 100);
    anvil_counts c;

    (void) state;
    assert_int_equal(conn(t, "smtp", "192.0.2.1", T0), 1);
    assert_int_equal(conn(t, "smtp", "192.0.2.1", T0), 2);
    assert_int_equal(conn(t, "smtp", "192.0.2.1", T0 + 1), 3);
    assert_int_equal(conn(t, "smtp", "192.0.2.2", T0 + 1), 1);
    anvil_table_disconnect(t, "smtp", "192.0.2.1", T0 + 2);
    anvil_table_lookup(t, "smtp", "192.0.2.1", T0 + 2, &c);
    assert_int_equal(c.count, 2);
    assert_int_equal(c.conn_rate, 3);
    /* Concurrency is not windowed: still 2 much later. */
    anvil_table_lookup(t, "smtp", "192.0.2.1", T0 + 1000, &c);
    assert_int_equal(c.count, 2);
    assert_int_equal(c.conn_rate, 0);
    anvil_table_disconnect(t, "smtp", "192.0.2.1", T0 + 3);
    anvil_table_disconnect(t, "smtp", "192.0.2.1", T0 + 3);
    /* Never below zero, even with a disconnect too many. */
    anvil_table_disconnect(t, "smtp", "192.0.2.1", T0 + 3);
    anvil_table_lookup(t, "smtp", "192.0.2.1", T0 + 3, &c);
    assert_int_equal(c.count, 0);
    assert_int_equal(conn(t, "smtp", "192.0.2.1", T0 + 4), 1);
    /* Disconnect of a client never seen is ignored, creates nothing. */
    anvil_table_disconnect(t, "smtp", "198.51.100.9", T0 + 4);
    assert_int_equal(anvil_table_size(t), 2);
    anvil_table_free(t);
}

static void test_keys_distinct(void **state)
{
    anvil_table *t = anvil_table_new(60, 100);

    (void) state;
    /* Same address, other service: other counter. */
    assert_int_equal(conn(t, "smtp", "2001:db8::1", T0), 1);
    assert_int_equal(conn(t, "submission", "2001:db8::1", T0), 1);
    /* Both parts may contain ':'; pairs must not collide. */
    assert_int_equal(conn(t, "127.0.0.1:25", "::1", T0), 1);
    assert_int_equal(conn(t, "127.0.0.1", "25:::1", T0), 1);
    assert_int_equal(conn(t, "127.0.0.1:25", "::1", T0), 2);
    assert_int_equal(anvil_table_size(t), 4);
    anvil_table_free(t);
}

/* One rate step: at time offset, do event, expect rate. */
struct rate_step {
    long    at;
    char    event;                      /* c connect, m message, r rcpt */
    long    expect;
};

static void test_rate_windows(void **state)
{
    static const struct rate_step steps[] = {
        {0, 'c', 1}, {10, 'c', 2}, {59, 'c', 3},
        {59, 'm', 1}, {59, 'r', 1}, {59, 'r', 2},
        /* Window over at +60: everything restarts. */
        {60, 'c', 1}, {60, 'm', 1}, {61, 'r', 1},
        {119, 'c', 2}, {120, 'c', 1},
        /* Clock goes back: a new window, not a negative age. */
        {100, 'c', 1}, {101, 'm', 1},
        /* A long pause. */
        {5000, 'r', 1},
    };
    anvil_table *t = anvil_table_new(60, 100);
    anvil_counts c;
    size_t  i;
    long    got;

    (void) state;
    for (i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
        time_t  now = T0 + steps[i].at;

        switch (steps[i].event) {
        case 'c':
            anvil_table_connect(t, "smtp", "192.0.2.1", now, &c);
            got = c.conn_rate;
            break;
        case 'm':
            anvil_table_message(t, "smtp", "192.0.2.1", now, &c);
            got = c.msg_rate;
            break;
        default:
            anvil_table_rcpt(t, "smtp", "192.0.2.1", now, &c);
            got = c.rcpt_rate;
            break;
        }
        if (got != steps[i].expect)
            fail_msg("step %zu (at %ld, %c): rate %ld, expected %ld",
                     i, steps[i].at, steps[i].event, got, steps[i].expect);
    }
    anvil_table_free(t);
}

static void test_lookup_creates_nothing(void **state)
{
    anvil_table *t = anvil_table_new(60, 100);
    anvil_counts c;

    (void) state;
    memset(&c, 0x55, sizeof(c));
    anvil_table_lookup(t, "smtp", "192.0.2.1", T0, &c);
    assert_int_equal(c.count, 0);
    assert_int_equal(c.conn_rate, 0);
    assert_int_equal(c.msg_rate, 0);
    assert_int_equal(c.rcpt_rate, 0);
    assert_int_equal(anvil_table_size(t), 0);
    anvil_table_free(t);
}

static void test_expire(void **state)
{
    anvil_table *t = anvil_table_new(60, 100);
    anvil_counts c;

    (void) state;
    conn(t, "smtp", "192.0.2.1", T0);                   /* idle after this */
    anvil_table_disconnect(t, "smtp", "192.0.2.1", T0);
    conn(t, "smtp", "192.0.2.2", T0);                   /* stays connected */
    conn(t, "smtp", "192.0.2.3", T0 + 30);              /* idle, but recent */
    anvil_table_disconnect(t, "smtp", "192.0.2.3", T0 + 30);
    assert_int_equal(anvil_table_expire(t, T0 + 59), 0);
    assert_int_equal(anvil_table_expire(t, T0 + 60), 1);
    assert_int_equal(anvil_table_size(t), 2);
    anvil_table_lookup(t, "smtp", "192.0.2.2", T0 + 60, &c);
    assert_int_equal(c.count, 1);
    assert_int_equal(anvil_table_expire(t, T0 + 90), 1);
    assert_int_equal(anvil_table_size(t), 1);
    /* A connected client is never expired. */
    assert_int_equal(anvil_table_expire(t, T0 + 100000), 0);
    anvil_table_disconnect(t, "smtp", "192.0.2.2", T0 + 100000);
    assert_int_equal(anvil_table_expire(t, T0 + 100060), 1);
    assert_int_equal(anvil_table_size(t), 0);
    anvil_table_free(t);
}

static void test_cap(void **state)
{
    anvil_table *t = anvil_table_new(60, 3);
    anvil_counts c;
    strbuf *out = strbuf_new(100);
    char    addr[32];
    int     i;

    (void) state;
    /* Three busy clients fill the table. */
    conn(t, "smtp", "10.0.0.1", T0);
    conn(t, "smtp", "10.0.0.2", T0 + 1);
    conn(t, "smtp", "10.0.0.3", T0 + 2);
    /* A fourth does not fit: not counted, answered as "no limit". */
    memset(&c, 0x55, sizeof(c));
    assert_int_equal(anvil_table_connect(t, "smtp", "10.0.0.4", T0 + 3, &c),
                     ANVIL_TABLE_FULL);
    assert_int_equal(c.count, 0);
    assert_int_equal(c.conn_rate, 0);
    assert_int_equal(anvil_table_message(t, "smtp", "10.0.0.4", T0 + 3, &c),
                     ANVIL_TABLE_FULL);
    assert_int_equal(anvil_table_size(t), 3);
    /* A known client is still counted. */
    assert_int_equal(conn(t, "smtp", "10.0.0.3", T0 + 3), 2);
    /* 10.0.0.2 goes idle: the newcomer takes its place, although its
     * window has not run out, before the older but busy 10.0.0.1. */
    anvil_table_disconnect(t, "smtp", "10.0.0.2", T0 + 4);
    assert_int_equal(conn(t, "smtp", "10.0.0.4", T0 + 5), 1);
    assert_int_equal(anvil_table_size(t), 3);
    anvil_table_lookup(t, "smtp", "10.0.0.1", T0 + 5, &c);
    assert_int_equal(c.count, 1);
    anvil_table_lookup(t, "smtp", "10.0.0.2", T0 + 5, &c);
    assert_int_equal(c.conn_rate, 0);
    /* Many short-lived clients never grow the table past the cap; they
     * take turns in the one slot without an open connection. */
    anvil_table_disconnect(t, "smtp", "10.0.0.4", T0 + 6);
    for (i = 0; i < 1000; i++) {
        assert_int_equal(str_format(addr, sizeof(addr), "172.16.%d.%d", i / 256, i % 256), 0);
        assert_int_equal(anvil_table_connect(t, "smtp", addr, T0 + 10 + i, NULL),
                         ANVIL_TABLE_OK);
        anvil_table_disconnect(t, "smtp", addr, T0 + 10 + i);
        assert_true(anvil_table_size(t) <= 3);
    }
    assert_true(anvil_table_stats(t, out) > 0);
    assert_non_null(strstr(out->data, "statistics: 2 events not counted: table full (3 clients)\n"));
    assert_non_null(strstr(out->data, "statistics: max cache size 3 at "));
    strbuf_free(out);
    anvil_table_free(t);
}

static void test_stats(void **state)
{
    anvil_table *t = anvil_table_new(60, 100);
    strbuf *out = strbuf_new(100);
    time_t  when = 1700000000;          /* Nov 14 22:13:20 UTC 2023 */

    (void) state;
    setenv("TZ", "UTC", 1);
    tzset();
    assert_int_equal(anvil_table_stats(t, out), 0);
    assert_int_equal(out->len, 0);
    conn(t, "smtp", "192.0.2.1", when - 5);
    conn(t, "smtp", "192.0.2.1", when - 2);
    conn(t, "smtp", "192.0.2.7", when);
    conn(t, "smtp", "192.0.2.7", when);
    conn(t, "smtp", "192.0.2.7", when);
    anvil_table_message(t, "smtp", "192.0.2.1", when, NULL);
    anvil_table_rcpt(t, "smtp", "192.0.2.1", when, NULL);
    anvil_table_rcpt(t, "smtp", "192.0.2.1", when, NULL);
    assert_int_equal(anvil_table_stats(t, out), 5);
    assert_string_equal(out->data,
        "statistics: max connection rate 3/60s for (smtp:192.0.2.7) at Nov 14 22:13:20\n"
        "statistics: max connection count 3 for (smtp:192.0.2.7) at Nov 14 22:13:20\n"
        "statistics: max message rate 1/60s for (smtp:192.0.2.1) at Nov 14 22:13:20\n"
        "statistics: max recipient rate 2/60s for (smtp:192.0.2.1) at Nov 14 22:13:20\n"
        "statistics: max cache size 2 at Nov 14 22:13:20\n");
    /* Maxima are reset after each report. */
    strbuf_reset(out);
    assert_int_equal(anvil_table_stats(t, out), 0);
    conn(t, "smtp", "192.0.2.9", when + 100);
    assert_int_equal(anvil_table_stats(t, out), 3);
    assert_non_null(strstr(out->data, "max connection count 1 for (smtp:192.0.2.9)"));
    strbuf_free(out);
    anvil_table_free(t);
}

static void test_name_ok(void **state)
{
    (void) state;
    assert_int_equal(anvil_table_name_ok("smtp", 10), 1);
    assert_int_equal(anvil_table_name_ok("::ffff:192.0.2.1", 100), 1);
    assert_int_equal(anvil_table_name_ok("", 10), 0);
    assert_int_equal(anvil_table_name_ok("a b", 10), 0);
    assert_int_equal(anvil_table_name_ok("a\tb", 10), 0);
    assert_int_equal(anvil_table_name_ok("a\177", 10), 0);
    assert_int_equal(anvil_table_name_ok("caf\303\251", 10), 0);
    assert_int_equal(anvil_table_name_ok("0123456789", 10), 1);
    assert_int_equal(anvil_table_name_ok("0123456789a", 10), 0);
}

/* A request case: attributes in, status and reply attributes out. */
struct req_case {
    const char *name;
    const char *attrs[8];               /* name, value pairs, NULL ends */
    long    status;
    const char *expect[8];              /* name, value pairs the reply has */
    const char *reason;                 /* substring of reason= */
};

static void test_requests(void **state)
{
    static const struct req_case cases[] = {
        {"connect", {"request", "connect", "service", "smtp", "client", "192.0.2.1"},
         0, {"count", "1", "rate", "1"}, NULL},
        {"connect again", {"request", "connect", "service", "smtp", "client", "192.0.2.1"},
         0, {"count", "2", "rate", "2"}, NULL},
        {"message", {"request", "message", "service", "smtp", "client", "192.0.2.1"},
         0, {"rate", "1"}, NULL},
        {"rcpt", {"request", "rcpt", "service", "smtp", "client", "192.0.2.1"},
         0, {"rate", "1"}, NULL},
        {"rcpt 2", {"request", "rcpt", "service", "smtp", "client", "192.0.2.1"},
         0, {"rate", "2"}, NULL},
        {"disconnect", {"request", "disconnect", "service", "smtp", "client", "192.0.2.1"},
         0, {NULL}, NULL},
        {"lookup", {"request", "lookup", "service", "smtp", "client", "192.0.2.1"},
         0, {"count", "1", "rate", "2", "message_rate", "1", "recipient_rate", "2"}, NULL},
        {"unknown request", {"request", "reset", "service", "smtp", "client", "192.0.2.1"},
         1, {NULL}, "unknown request"},
        {"missing client", {"request", "connect", "service", "smtp"},
         1, {NULL}, "client"},
        {"missing request", {"service", "smtp", "client", "192.0.2.1"},
         1, {NULL}, "request"},
        {"extra attribute", {"request", "connect", "service", "smtp", "client", "1.2.3.4",
                             "count", "5"},
         1, {NULL}, "count"},
        {"repeated attribute", {"request", "connect", "service", "smtp", "client", "1.2.3.4",
                                "client", "5.6.7.8"},
         1, {NULL}, "client"},
        {"space in client", {"request", "connect", "service", "smtp", "client", "1.2.3.4 x"},
         1, {NULL}, "bad client address"},
        {"empty service", {"request", "connect", "service", "", "client", "1.2.3.4"},
         1, {NULL}, "bad service name"},
    };
    anvil_table *t = anvil_table_new(60, 100);
    attr_list *req = attr_list_new();
    attr_list *reply = attr_list_new();
    size_t  i;
    size_t  j;
    const char *val;

    (void) state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        attr_list_reset(req);
        for (j = 0; j < 8 && cases[i].attrs[j] != NULL; j += 2)
            attr_list_add_str(req, cases[i].attrs[j], cases[i].attrs[j + 1]);
        if (anvil_table_request(t, req, reply, T0) != cases[i].status)
            fail_msg("%s: wrong status", cases[i].name);
        val = attr_list_find(reply, ATTR_NAME_STATUS, NULL);
        assert_non_null(val);
        assert_int_equal(strtol(val, NULL, 10), cases[i].status);
        for (j = 0; j < 8 && cases[i].expect[j] != NULL; j += 2) {
            val = attr_list_find(reply, cases[i].expect[j], NULL);
            if (val == NULL || strcmp(val, cases[i].expect[j + 1]) != 0)
                fail_msg("%s: %s=%s, expected %s", cases[i].name, cases[i].expect[j],
                         val ? val : "(none)", cases[i].expect[j + 1]);
        }
        if (cases[i].reason != NULL) {
            val = attr_list_find(reply, ATTR_NAME_REASON, NULL);
            if (val == NULL || strstr(val, cases[i].reason) == NULL)
                fail_msg("%s: reason \"%s\" lacks \"%s\"", cases[i].name,
                         val ? val : "(none)", cases[i].reason);
        }
    }
    /* Refused requests counted nothing. */
    assert_int_equal(anvil_table_size(t), 1);
    attr_list_free(req);
    attr_list_free(reply);
    anvil_table_free(t);
}

static void test_saturation_and_bounds(void **state)
{
    anvil_table *t = anvil_table_new(0, 0);     /* both become 1 */
    anvil_counts c;

    (void) state;
    conn(t, "smtp", "10.0.0.1", T0);
    /* Cap 1: a busy client blocks a second one. */
    assert_int_equal(anvil_table_connect(t, "smtp", "10.0.0.2", T0, &c), ANVIL_TABLE_FULL);
    /* Window 1s: the next second is a new window. */
    anvil_table_connect(t, "smtp", "10.0.0.1", T0 + 1, &c);
    assert_int_equal(c.conn_rate, 1);
    assert_int_equal(c.count, 2);
    anvil_table_free(t);
    assert_null(anvil_table_free(NULL));
}

int     main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_concurrency),
        cmocka_unit_test(test_keys_distinct),
        cmocka_unit_test(test_rate_windows),
        cmocka_unit_test(test_lookup_creates_nothing),
        cmocka_unit_test(test_expire),
        cmocka_unit_test(test_cap),
        cmocka_unit_test(test_stats),
        cmocka_unit_test(test_name_ok),
        cmocka_unit_test(test_requests),
        cmocka_unit_test(test_saturation_and_bounds),
    };

    testlib_setup();
    return (cmocka_run_group_tests(tests, NULL, NULL));
}
