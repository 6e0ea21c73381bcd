/*
 * Unit tests for lib/util/cidr.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "cidr.h"
#include "mem.h"
#include "strbuf.h"
#include "testlib.h"

struct match_case {
    const char *list;
    const char *addr;
    int     expect;
};

static const struct match_case match_cases[] = {
    /* IPv4 networks and hosts. */
    {"127.0.0.0/8", "127.0.0.1", 1},
    {"127.0.0.0/8", "127.255.255.255", 1},
    {"127.0.0.0/8", "128.0.0.1", 0},
    {"127.0.0.1/32", "127.0.0.2", 0},
    {"127.0.0.1/32", "127.0.0.1", 1},
    {"127.0.0.1", "127.0.0.1", 1},
    {"127.0.0.1", "127.0.0.10", 0},
    {"10.1.2.3/8", "10.200.0.1", 1},            /* host bits ignored */
    {"192.168.1.0/23", "192.168.0.7", 1},
    {"192.168.1.0/23", "192.168.2.7", 0},
    {"192.168.1.128/25", "192.168.1.127", 0},
    {"192.168.1.128/25", "192.168.1.128", 1},
    {"0.0.0.0/0", "203.0.113.9", 1},
    {"0.0.0.0/0", "::1", 0},                    /* families do not mix */
    /* IPv6, bracketed and bare. */
    {"[::1]/128", "::1", 1},
    {"[::1]/128", "::2", 0},
    {"::1/128", "::1", 1},
    {"[::1]", "::1", 1},
    {"[2001:db8::]/32", "2001:db8:ffff::1", 1},
    {"[2001:db8::]/32", "2001:db9::1", 0},
    {"2001:db8::/33", "2001:db8:8000::1", 0},
    {"2001:db8::/33", "2001:db8:7fff::1", 1},
    {"[::]/0", "fe80::1", 1},
    {"[::]/0", "1.2.3.4", 0},
    {"[::1]/128", "[::1]", 1},                  /* bracketed client */
    /* IPv4-mapped IPv6 clients match IPv4 networks. */
    {"127.0.0.0/8", "::ffff:127.0.0.1", 1},
    {"127.0.0.0/8", "::ffff:10.0.0.1", 0},
    /* Lists: commas, spaces, several items. */
    {"10.0.0.0/8, 127.0.0.0/8 [::1]/128", "127.0.0.1", 1},
    {"10.0.0.0/8,127.0.0.0/8", "::1", 0},
    {"10.0.0.0/8,\t[::1]/128\n", "::1", 1},
    {"", "127.0.0.1", 0},
    /* Garbage addresses never match. */
    {"0.0.0.0/0", "", 0},
    {"0.0.0.0/0", "unknown", 0},
    {"0.0.0.0/0", "1.2.3.4.5", 0},
    {"0.0.0.0/0", "1.2.3", 0},
    {"[::]/0", "fe80::1%eth0", 0},
    {"0.0.0.0/0", "[1.2.3.4]", 0},
};

static void test_match_table(void **state)
{
    size_t  i;
    strbuf *err = strbuf_new(64);

    (void) state;
    for (i = 0; i < sizeof(match_cases) / sizeof(match_cases[0]); i++) {
        const struct match_case *c = &match_cases[i];
        cidr_list *cl = cidr_list_parse(c->list, err);

        if (cl == NULL)
            fail_msg("case %zu: parse \"%s\": %s", i, c->list, strbuf_str(err));
        if (cidr_list_match(cl, c->addr) != c->expect)
            fail_msg("case %zu: \"%s\" in \"%s\": expected %d", i, c->addr,
                     c->list, c->expect);
        cidr_list_free(cl);
    }
    strbuf_free(err);
}

static const char *const bad_lists[] = {
    "127.0.0.0/33",
    "[::1]/129",
    "127.0.0.0/",
    "127.0.0.0/-1",
    "127.0.0.0/+8",
    "127.0.0.0/8x",
    "127.0.0.0/8/8",
    "256.0.0.0/8",
    "1.2.3/24",
    "[1.2.3.4]/32",
    "[::1",
    "::1]",
    "[]",
    "hostname.example",
    "10.0.0.0/8, nonsense",
    "fe80::1%eth0/64",
    "/8",
};

static void test_bad_lists(void **state)
{
    size_t  i;
    strbuf *err = strbuf_new(64);

    (void) state;
    for (i = 0; i < sizeof(bad_lists) / sizeof(bad_lists[0]); i++) {
        strbuf_reset(err);
        if (cidr_list_parse(bad_lists[i], err) != NULL)
            fail_msg("case %zu: \"%s\" parsed", i, bad_lists[i]);
        assert_true(err->len > 0);
        assert_non_null(strstr(strbuf_str(err), "cidr:"));
    }
    strbuf_free(err);
}

static void test_long_item(void **state)
{
    char    big[400];
    strbuf *err = strbuf_new(64);

    (void) state;
    memset(big, '1', sizeof(big) - 1);
    big[sizeof(big) - 1] = 0;
    assert_null(cidr_list_parse(big, err));
    assert_int_equal(cidr_pattern_valid(big, err), -1);
    assert_int_equal(cidr_pattern_valid("10.0.0.0/8", err), 0);
    /* Long client addresses are simply no match. */
    {
        cidr_list *cl = cidr_list_parse("0.0.0.0/0 [::]/0", err);

        assert_non_null(cl);
        assert_int_equal(cidr_list_count(cl), 2);
        assert_int_equal(cidr_list_match(cl, big), 0);
        assert_int_equal(cidr_list_match(cl, NULL), 0);
        assert_int_equal(cidr_list_match(NULL, "1.2.3.4"), 0);
        cidr_list_free(cl);
    }
    assert_null(cidr_list_free(NULL));
    strbuf_free(err);
}

static void test_many_items(void **state)
{
    strbuf *list = strbuf_new(64);
    strbuf *err = strbuf_new(64);
    cidr_list *cl;
    int     i;

    (void) state;
    for (i = 0; i < 200; i++)
        strbuf_printf(list, "10.%d.0.0/16, ", i);
    cl = cidr_list_parse(strbuf_str(list), err);
    assert_non_null(cl);
    assert_int_equal(cidr_list_count(cl), 200);
    assert_int_equal(cidr_list_match(cl, "10.199.3.4"), 1);
    assert_int_equal(cidr_list_match(cl, "10.200.3.4"), 0);
    cidr_list_free(cl);
    strbuf_free(list);
    strbuf_free(err);
}

int     main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_match_table),
        cmocka_unit_test(test_bad_lists),
        cmocka_unit_test(test_long_item),
        cmocka_unit_test(test_many_items),
    };

    testlib_setup();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
