/*
 * Unit tests for lib/mail/dnsbl.c: reply filters, query names and the
 * configuration errors that need no DNS at all.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "dnsbl.h"
#include "mem.h"
#include "param.h"
#include "strbuf.h"
#include "testlib.h"

static void test_filter(void **state)
{
    static const struct {
        const char *filter;
        const char *addr;
        int     expect;
    } cases[] = {
        {"127.0.0.2", "127.0.0.2", 1},
        {"127.0.0.2", "127.0.0.3", 0},
        {"127.0.0.[2..11]", "127.0.0.2", 1},
        {"127.0.0.[2..11]", "127.0.0.11", 1},
        {"127.0.0.[2..11]", "127.0.0.12", 0},
        {"127.0.0.[2..11]", "127.0.0.1", 0},
        {"127.0.0.[1;3;5..6]", "127.0.0.3", 1},
        {"127.0.0.[1;3;5..6]", "127.0.0.6", 1},
        {"127.0.0.[1;3;5..6]", "127.0.0.4", 0},
        {"127.[0..255].0.[2]", "127.9.0.2", 1},
        {"127.[0..255].0.[2]", "127.9.1.2", 0},
        {"[0..255].[0..255].[0..255].[0..255]", "1.2.3.4", 1},
        /* Malformed filters and addresses. */
        {"127.0.0", "127.0.0.2", -1},
        {"127.0.0.2.5", "127.0.0.2", -1},
        {"127.0.0.256", "127.0.0.2", -1},
        {"127.0.0.[2..", "127.0.0.2", -1},
        {"127.0.0.[11..2]", "127.0.0.2", -1},
        {"127.0.0.[]", "127.0.0.2", -1},
        {"127.0.0.[2;]", "127.0.0.2", -1},
        {"127.0.0.[;2]", "127.0.0.2", -1},
        {"127.0.0.-1", "127.0.0.2", -1},
        {"127.0.0. 2", "127.0.0.2", -1},
        {"127..0.2", "127.0.0.2", -1},
        {"", "127.0.0.2", -1},
        {"127.0.0.2", "not-an-address", -1},
        {"127.0.0.2", "::1", -1},
    };
    size_t  i;

    (void) state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int     got = dnsbl_filter_match(cases[i].filter, cases[i].addr);

        if (got != cases[i].expect)
            fail_msg("filter \"%s\" addr %s: got %d, expected %d", cases[i].filter,
                     cases[i].addr, got, cases[i].expect);
    }
    assert_int_equal(dnsbl_filter_match(NULL, "127.0.0.1"), -1);
}

static void test_query_name(void **state)
{
    strbuf *out = strbuf_new(16);
    strbuf *big = strbuf_new(300);
    int     i;

    (void) state;
    assert_int_equal(dnsbl_query_name("192.0.2.1", "zen.test", out), 0);
    assert_string_equal(strbuf_str(out), "1.2.0.192.zen.test");
    assert_int_equal(dnsbl_query_name("::ffff:192.0.2.1", "zen.test", out), 0);
    assert_string_equal(strbuf_str(out), "1.2.0.192.zen.test");
    assert_int_equal(dnsbl_query_name("2001:db8::1", "z.test", out), 0);
    assert_string_equal(strbuf_str(out),
                        "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.z.test");
    assert_int_equal(dnsbl_query_name("1.2.3", "zen.test", out), -1);
    assert_int_equal(dnsbl_query_name("192.0.2.1 ", "zen.test", out), -1);
    assert_int_equal(dnsbl_query_name(NULL, "zen.test", out), -1);
    for (i = 0; i < 60; i++)
        strbuf_puts(big, "abc.");
    strbuf_puts(big, "test");
    /* 64 + 244 bytes: over DNS_NAME_MAX. */
    assert_int_equal(dnsbl_query_name("2001:db8::1", strbuf_str(big), out), -1);
    strbuf_free(big);
    strbuf_free(out);
}

static void test_config_errors_need_no_dns(void **state)
{
    dns_reply *hit = mem_alloc(sizeof(*hit));
    strbuf *err = strbuf_new(64);

    (void) state;
    param_reset();
    /* A dead server: any lookup would be DNS_RETRY, never DNS_INVALID. */
    assert_int_equal(param_override(PARAM_DNS_RESOLVER_SERVERS, "127.0.0.1:9"), 0);
    assert_int_equal(dnsbl_client("127.0.0.2", "zen.test=127.0.0.[2..", hit, err),
                     DNS_INVALID);
    assert_non_null(strstr(strbuf_str(err), "filter"));
    assert_int_equal(dnsbl_client("127.0.0.2", "", hit, err), DNS_INVALID);
    assert_int_equal(dnsbl_client("127.0.0.2", "bad..zone", hit, err), DNS_INVALID);
    assert_int_equal(dnsbl_client("127.0.0.2", "bad zone", hit, err), DNS_INVALID);
    assert_int_equal(dnsbl_client("junk", "zen.test", hit, err), DNS_INVALID);
    assert_int_equal(dnsbl_client(NULL, "zen.test", hit, err), DNS_INVALID);
    assert_int_equal(dnsbl_rhs("a.test", "dbl.test=1.2.3", hit, err), DNS_INVALID);
    /* Nothing to check: not listed, no lookup. */
    assert_int_equal(dnsbl_rhs("", "dbl.test", hit, err), DNS_NOTFOUND);
    assert_int_equal(dnsbl_rhs(NULL, "dbl.test", hit, err), DNS_NOTFOUND);
    assert_int_equal(dnsbl_rhs("[192.0.2.1]", "dbl.test", hit, err), DNS_NOTFOUND);
    assert_int_equal(dnsbl_rhs("bad..name", "dbl.test", hit, err), DNS_NOTFOUND);
    assert_int_equal(hit->count, 0);
    /* A real query against the dead server: try later. */
    assert_int_equal(dnsbl_client("127.0.0.2", "zen.test", hit, err), DNS_RETRY);
    param_reset();
    strbuf_free(err);
    mem_free(hit);
}

static void test_text_without_hit(void **state)
{
    dns_reply *hit = mem_calloc(1, sizeof(*hit));
    strbuf *out = strbuf_new(16);

    (void) state;
    strbuf_puts(out, "old");
    dnsbl_text(hit, out);                       /* no name: no lookup */
    assert_string_equal(strbuf_str(out), "");
    dnsbl_text(NULL, out);
    assert_string_equal(strbuf_str(out), "");
    strbuf_free(out);
    mem_free(hit);
}

int     main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_filter),
        cmocka_unit_test(test_query_name),
        cmocka_unit_test(test_config_errors_need_no_dns),
        cmocka_unit_test(test_text_without_hit),
    };

    testlib_setup();
    return cmocka_run_group_tests_name("dnsbl", tests, NULL, NULL);
}
