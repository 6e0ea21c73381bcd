/*
 * Unit tests for lib/net/smtp_addr.c: nexthop forms, parameter words,
 * and resolution against a table of fake DNS answers (no server).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <cmocka.h>

#include "dns.h"
#include "mem.h"
#include "numparse.h"
#include "smtp_addr.h"
#include "strbuf.h"
#include "strutil.h"
#include "testlib.h"

/* ------------------------------------------------------------ nexthops */

struct nexthop_case {
    const char *text;
    int     lmtp;
    int     ok;
    int     kind;
    int     mx;
    const char *host;                   /* or path */
    int     port;
};

static const struct nexthop_case nexthop_cases[] = {
    {"example.com", 0, 1, SMTP_NEXTHOP_INET, 1, "example.com", 25},
    {"example.com.", 0, 1, SMTP_NEXTHOP_INET, 1, "example.com", 25},
    {"example.com:2525", 0, 1, SMTP_NEXTHOP_INET, 1, "example.com", 2525},
    {"[mail.example.com]", 0, 1, SMTP_NEXTHOP_INET, 0, "mail.example.com", 25},
    {"[mail.example.com]:587", 0, 1, SMTP_NEXTHOP_INET, 0, "mail.example.com", 587},
    {"[192.0.2.1]", 0, 1, SMTP_NEXTHOP_INET, 0, "192.0.2.1", 25},
    {"192.0.2.1:26", 0, 1, SMTP_NEXTHOP_INET, 0, "192.0.2.1", 26},
    {"[2001:db8::1]:25", 0, 1, SMTP_NEXTHOP_INET, 0, "2001:db8::1", 25},
    {"[ipv6:2001:db8::2]", 0, 1, SMTP_NEXTHOP_INET, 0, "2001:db8::2", 25},
    {"inet:example.com", 0, 1, SMTP_NEXTHOP_INET, 1, "example.com", 25},
    {"example.com", 1, 1, SMTP_NEXTHOP_INET, 0, "example.com", 24},
    {"inet:localhost:2424", 1, 1, SMTP_NEXTHOP_INET, 0, "localhost", 2424},
    {"inet:[127.0.0.1]:24", 1, 1, SMTP_NEXTHOP_INET, 0, "127.0.0.1", 24},
    {"unix:/run/dovecot/lmtp", 1, 1, SMTP_NEXTHOP_UNIX, 0, "/run/dovecot/lmtp", 0},
    {"unix:private/dovecot-lmtp", 1, 1, SMTP_NEXTHOP_UNIX, 0, "private/dovecot-lmtp", 0},
    /* Errors. */
    {"", 0, 0, 0, 0, NULL, 0},
    {"unix:/x", 0, 0, 0, 0, NULL, 0},
    {"unix:", 1, 0, 0, 0, NULL, 0},
    {"[example.com", 0, 0, 0, 0, NULL, 0},
    {"[example.com]x", 0, 0, 0, 0, NULL, 0},
    {"[]:25", 0, 0, 0, 0, NULL, 0},
    {"example.com:0", 0, 0, 0, 0, NULL, 0},
    {"example.com:65536", 0, 0, 0, 0, NULL, 0},
    {"example.com:", 0, 0, 0, 0, NULL, 0},
    {"example.com:25x", 0, 0, 0, 0, NULL, 0},
    {"example.com:no-such-service-xyz", 0, 0, 0, 0, NULL, 0},
    {"2001:db8::1", 0, 0, 0, 0, NULL, 0},
    {"exa mple.com", 0, 0, 0, 0, NULL, 0},
    {"a..b", 0, 0, 0, 0, NULL, 0},
    {":25", 0, 0, 0, 0, NULL, 0},
};

/* test_nexthop_forms: every form parses as documented; bad ones fail. */
static void test_nexthop_forms(void **state)
{
    strbuf *err = strbuf_new(64);
    smtp_nexthop nh;
    size_t  i;

    (void) state;
    for (i = 0; i < sizeof(nexthop_cases) / sizeof(nexthop_cases[0]); i++) {
        const struct nexthop_case *c = &nexthop_cases[i];
        int     rc = smtp_addr_parse_nexthop(c->text, c->lmtp, c->lmtp ? 24 : 25, &nh, err);

        if (!c->ok) {
            if (rc != -1)
                fail_msg("\"%s\" should be refused", c->text);
            assert_true(err->len > 0);
            continue;
        }
        if (rc != 0)
            fail_msg("\"%s\": %s", c->text, err->data);
        assert_int_equal(nh.kind, c->kind);
        assert_int_equal(nh.mx, c->mx);
        if (c->kind == SMTP_NEXTHOP_UNIX)
            assert_string_equal(nh.path, c->host);
        else {
            assert_string_equal(nh.host, c->host);
            assert_int_equal(nh.port, c->port);
        }
    }
    /* A service name works for the port. */
    assert_int_equal(smtp_addr_parse_nexthop("[h.example]:smtp", 0, 2525, &nh, err), 0);
    assert_int_equal(nh.port, 25);
    strbuf_free(err);
}

/* test_param_words: inet_protocols, smtp_address_preference, smtp_host_lookup. */
static void test_param_words(void **state)
{
    strbuf *err = strbuf_new(64);
    const char *all[] = {"all"};
    const char *v4[] = {"ipv4"};
    const char *both[] = {"ipv4", "IPv6"};
    const char *bad[] = {"ipv5"};
    const char *dn[] = {"dns", "native"};
    const char *nat[] = {"native"};
    int     v;

    (void) state;
    assert_int_equal(smtp_addr_parse_protocols(all, 1, &v, err), 0);
    assert_int_equal(v, SMTP_ADDR_PROTO_IPV4 | SMTP_ADDR_PROTO_IPV6);
    assert_int_equal(smtp_addr_parse_protocols(v4, 1, &v, err), 0);
    assert_int_equal(v, SMTP_ADDR_PROTO_IPV4);
    assert_int_equal(smtp_addr_parse_protocols(both, 2, &v, err), 0);
    assert_int_equal(v, SMTP_ADDR_PROTO_IPV4 | SMTP_ADDR_PROTO_IPV6);
    assert_int_equal(smtp_addr_parse_protocols(bad, 1, &v, err), -1);
    assert_int_equal(smtp_addr_parse_protocols(bad, 0, &v, err), -1);
    assert_int_equal(smtp_addr_parse_preference("ipv6", &v, err), 0);
    assert_int_equal(v, SMTP_ADDR_PREF_IPV6);
    assert_int_equal(smtp_addr_parse_preference("any", &v, err), 0);
    assert_int_equal(v, SMTP_ADDR_PREF_ANY);
    assert_int_equal(smtp_addr_parse_preference("both", &v, err), -1);
    assert_int_equal(smtp_addr_parse_lookup(dn, 2, &v, err), 0);
    assert_int_equal(v, SMTP_ADDR_LOOKUP_DNS | SMTP_ADDR_LOOKUP_NATIVE);
    assert_int_equal(smtp_addr_parse_lookup(nat, 1, &v, err), 0);
    assert_int_equal(v, SMTP_ADDR_LOOKUP_NATIVE);
    assert_int_equal(smtp_addr_parse_lookup(bad, 1, &v, err), -1);
    strbuf_free(err);
}

/* ------------------------------------------------------------ fake DNS */

struct fake_rr {
    const char *name;
    int     type;
    int     status;                     /* DNS_xxx for the whole answer */
    const char *text;                   /* MX: "pref host"; A/AAAA: address */
    unsigned ttl;
};

struct fake_dns {
    const struct fake_rr *rrs;
    size_t  count;
    int     queries;
};

/* fake_lookup: answer from the table; no entry = NOTFOUND. */
static int fake_lookup(void *ctx, const char *name, int type, dns_reply *out, strbuf *err)
{
    struct fake_dns *f = ctx;
    size_t  i;
    int     status = DNS_NOTFOUND;

    f->queries++;
    memset(out, 0, sizeof(*out));
    out->type = type;
    (void) str_copy(out->name, sizeof(out->name), name);
    for (i = 0; i < f->count; i++) {
        const struct fake_rr *rr = &f->rrs[i];

        if (rr->type != type || str_casecmp(rr->name, name) != 0)
            continue;
        if (rr->status != DNS_OK) {
            strbuf_setf(err, "fake failure");
            return rr->status;
        }
        status = DNS_OK;
        out->rec[out->count].type = type;
        out->rec[out->count].ttl = rr->ttl;
        if (type == DNS_T_MX) {
            long    pref = 0;
            const char *sp = strchr(rr->text, ' ');

            assert_non_null(sp);
            assert_int_equal(num_parse_long_n(rr->text, (size_t) (sp - rr->text), 0,
                                              65535, &pref), 0);
            out->rec[out->count].pref = (int) pref;
        }
        (void) str_copy(out->rec[out->count].text, sizeof(out->rec[0].text), rr->text);
        out->count++;
    }
    if (status != DNS_OK)
        strbuf_setf(err, "no records of that type");
    return status;
}

static time_t fake_clock;

/* fake_now: the test's clock. */
static time_t fake_now(void)
{
    return fake_clock;
}

/* make_resolver: a resolver over a fake table. */
static smtp_addr_resolver *make_resolver(struct fake_dns *f, int protocols, int pref,
                                         int limit, unsigned long seed)
{
    smtp_addr_config cfg;

    memset(&cfg, 0, sizeof(cfg));
    cfg.protocols = protocols;
    cfg.preference = pref;
    cfg.host_lookup = SMTP_ADDR_LOOKUP_DNS;
    cfg.address_limit = limit;
    cfg.myhostname = "mx.self.test";
    cfg.lookup = fake_lookup;
    cfg.lookup_ctx = f;
    cfg.now = fake_now;
    cfg.seed = seed;
    return smtp_addr_resolver_new(&cfg);
}

#define ALL (SMTP_ADDR_PROTO_IPV4 | SMTP_ADDR_PROTO_IPV6)

static const struct fake_rr zone[] = {
    /* example.test: three MX at two preferences. */
    {"example.test", DNS_T_MX, DNS_OK, "20 mx3.example.test", 300},
    {"example.test", DNS_T_MX, DNS_OK, "10 mx1.example.test", 300},
    {"example.test", DNS_T_MX, DNS_OK, "10 mx2.example.test", 300},
    {"mx1.example.test", DNS_T_A, DNS_OK, "192.0.2.1", 300},
    {"mx2.example.test", DNS_T_A, DNS_OK, "192.0.2.2", 300},
    {"mx2.example.test", DNS_T_AAAA, DNS_OK, "2001:db8::2", 300},
    {"mx3.example.test", DNS_T_A, DNS_OK, "192.0.2.3", 300},
    /* implicit.test: no MX, an A record. */
    {"implicit.test", DNS_T_A, DNS_OK, "192.0.2.9", 300},
    /* null.test: RFC 7505. */
    {"null.test", DNS_T_MX, DNS_OK, "0 ", 300},
    /* loop.test: the best MX is this host. */
    {"loop.test", DNS_T_MX, DNS_OK, "10 mx.self.test", 300},
    {"loop.test", DNS_T_MX, DNS_OK, "20 backup.loop.test", 300},
    {"loop.test", DNS_T_MX, DNS_OK, "5 primary.loop.test", 300},
    {"primary.loop.test", DNS_T_A, DNS_OK, "192.0.2.5", 300},
    {"backup.loop.test", DNS_T_A, DNS_OK, "192.0.2.20", 300},
    /* selfonly.test: only this host. */
    {"selfonly.test", DNS_T_MX, DNS_OK, "10 MX.Self.Test.", 300},
    /* tempfail.test: the MX lookup fails for now. */
    {"tempfail.test", DNS_T_MX, DNS_RETRY, "", 0},
    /* hostfail.test: its MX host cannot be resolved now. */
    {"hostfail.test", DNS_T_MX, DNS_OK, "10 dead.hostfail.test", 300},
    {"dead.hostfail.test", DNS_T_A, DNS_RETRY, "", 0},
    /* nohost.test: its MX host does not exist. */
    {"nohost.test", DNS_T_MX, DNS_OK, "10 gone.nohost.test", 300},
    /* bad.test: a malformed MX host name, and a good one. */
    {"bad.test", DNS_T_MX, DNS_OK, "10 bad..name", 300},
    {"bad.test", DNS_T_MX, DNS_OK, "20 good.bad.test", 300},
    {"good.bad.test", DNS_T_A, DNS_OK, "192.0.2.7", 300},
    /* many.test: six addresses. */
    {"many.test", DNS_T_MX, DNS_OK, "10 m.many.test", 300},
    {"m.many.test", DNS_T_A, DNS_OK, "192.0.2.61", 300},
    {"m.many.test", DNS_T_A, DNS_OK, "192.0.2.62", 300},
    {"m.many.test", DNS_T_A, DNS_OK, "192.0.2.63", 300},
    {"m.many.test", DNS_T_A, DNS_OK, "192.0.2.64", 300},
    {"m.many.test", DNS_T_A, DNS_OK, "192.0.2.65", 300},
    {"m.many.test", DNS_T_A, DNS_OK, "192.0.2.66", 300},
    /* host.test: a host with both families, for [host]. */
    {"host.test", DNS_T_A, DNS_OK, "192.0.2.40", 60},
    {"host.test", DNS_T_AAAA, DNS_OK, "2001:db8::40", 60},
    /* garbage.test: an A answer that is not an address. */
    {"garbage.test", DNS_T_A, DNS_OK, "not-an-address", 300},
};

#define ZONE {zone, sizeof(zone) / sizeof(zone[0]), 0}

/* resolve: parse and resolve a nexthop. */
static int resolve(smtp_addr_resolver *res, const char *nexthop, smtp_addr_list *list,
                   strbuf *why)
{
    strbuf *err = strbuf_new(32);
    smtp_nexthop nh;

    if (smtp_addr_parse_nexthop(nexthop, 0, 25, &nh, err) < 0)
        fail_msg("%s: %s", nexthop, err->data);
    strbuf_free(err);
    return smtp_addr_resolve(res, &nh, list, why);
}

/* test_mx_order: preference order; equal preferences come in both orders. */
static void test_mx_order(void **state)
{
    struct fake_dns f = ZONE;
    strbuf *why = strbuf_new(64);
    smtp_addr_list list;
    int     first_mx1 = 0, first_mx2 = 0;
    unsigned long seed;

    (void) state;
    smtp_addr_list_init(&list);
    for (seed = 1; seed <= 40; seed++) {
        smtp_addr_resolver *res = make_resolver(&f, SMTP_ADDR_PROTO_IPV4,
                                                SMTP_ADDR_PREF_ANY, 0, seed * 7919);

        assert_int_equal(resolve(res, "example.test", &list, why), SMTP_ADDR_OK);
        assert_int_equal(list.count, 3);
        assert_int_equal(list.addrs[0].pref, 10);
        assert_int_equal(list.addrs[1].pref, 10);
        assert_int_equal(list.addrs[2].pref, 20);
        assert_string_equal(list.addrs[2].host, "mx3.example.test");
        assert_string_equal(list.addrs[2].addr, "192.0.2.3");
        assert_int_equal(list.addrs[2].port, 25);
        if (strcmp(list.addrs[0].host, "mx1.example.test") == 0)
            first_mx1++;
        else if (strcmp(list.addrs[0].host, "mx2.example.test") == 0)
            first_mx2++;
        else
            fail_msg("unexpected first MX %s", list.addrs[0].host);
        smtp_addr_resolver_free(res);
    }
    /* Random order among equals: both hosts come first sometimes. */
    assert_true(first_mx1 > 0);
    assert_true(first_mx2 > 0);
    smtp_addr_list_clear(&list);
    strbuf_free(why);
}

/* test_families: inet_protocols and smtp_address_preference. */
static void test_families(void **state)
{
    struct fake_dns f = ZONE;
    strbuf *why = strbuf_new(64);
    smtp_addr_list list;
    smtp_addr_resolver *res;

    (void) state;
    smtp_addr_list_init(&list);
    res = make_resolver(&f, ALL, SMTP_ADDR_PREF_IPV6, 0, 1);
    assert_int_equal(resolve(res, "[host.test]:2525", &list, why), SMTP_ADDR_OK);
    assert_int_equal(list.count, 2);
    assert_int_equal(list.addrs[0].family, AF_INET6);
    assert_string_equal(list.addrs[0].addr, "2001:db8::40");
    assert_int_equal(list.addrs[0].port, 2525);
    assert_int_equal(list.addrs[1].family, AF_INET);
    smtp_addr_resolver_free(res);

    res = make_resolver(&f, ALL, SMTP_ADDR_PREF_IPV4, 0, 1);
    assert_int_equal(resolve(res, "[host.test]", &list, why), SMTP_ADDR_OK);
    assert_int_equal(list.addrs[0].family, AF_INET);
    assert_int_equal(list.addrs[1].family, AF_INET6);
    smtp_addr_resolver_free(res);

    res = make_resolver(&f, SMTP_ADDR_PROTO_IPV6, SMTP_ADDR_PREF_ANY, 0, 1);
    assert_int_equal(resolve(res, "[host.test]", &list, why), SMTP_ADDR_OK);
    assert_int_equal(list.count, 1);
    assert_int_equal(list.addrs[0].family, AF_INET6);
    /* An IPv4 literal with IPv4 disabled: try later, not a bounce. */
    assert_int_equal(resolve(res, "[192.0.2.1]", &list, why), SMTP_ADDR_RETRY);
    assert_int_equal(list.count, 0);
    smtp_addr_resolver_free(res);

    /* A preference never moves an address across MX preferences. */
    res = make_resolver(&f, ALL, SMTP_ADDR_PREF_IPV6, 0, 3);
    assert_int_equal(resolve(res, "example.test", &list, why), SMTP_ADDR_OK);
    assert_int_equal(list.count, 4);
    assert_int_equal(list.addrs[0].family, AF_INET6);
    assert_int_equal(list.addrs[0].pref, 10);
    assert_int_equal(list.addrs[3].pref, 20);
    smtp_addr_resolver_free(res);
    smtp_addr_list_clear(&list);
    strbuf_free(why);
}

/* test_special_answers: implicit MX, null MX, loops, failures. */
static void test_special_answers(void **state)
{
    struct fake_dns f = ZONE;
    strbuf *why = strbuf_new(64);
    smtp_addr_list list;
    smtp_addr_resolver *res = make_resolver(&f, SMTP_ADDR_PROTO_IPV4, SMTP_ADDR_PREF_ANY,
                                            0, 1);

    (void) state;
    smtp_addr_list_init(&list);
    assert_int_equal(resolve(res, "implicit.test", &list, why), SMTP_ADDR_OK);
    assert_int_equal(list.count, 1);
    assert_string_equal(list.addrs[0].addr, "192.0.2.9");
    assert_string_equal(list.addrs[0].host, "implicit.test");

    assert_int_equal(resolve(res, "null.test", &list, why), SMTP_ADDR_NULLMX);
    assert_string_equal(why->data, "Domain null.test does not accept mail (nullMX)");
    assert_string_equal(smtp_addr_status_dsn(SMTP_ADDR_NULLMX), "5.1.10");

    /* This host at preference 10: only the better MX stays. */
    assert_int_equal(resolve(res, "loop.test", &list, why), SMTP_ADDR_OK);
    assert_int_equal(list.count, 1);
    assert_string_equal(list.addrs[0].host, "primary.loop.test");

    assert_int_equal(resolve(res, "selfonly.test", &list, why), SMTP_ADDR_LOOP);
    assert_string_equal(why->data, "mail for selfonly.test loops back to myself");
    assert_string_equal(smtp_addr_status_dsn(SMTP_ADDR_LOOP), "5.4.6");

    assert_int_equal(resolve(res, "nowhere.test", &list, why), SMTP_ADDR_NOTFOUND);
    assert_string_equal(why->data, "Host or domain name not found. Name service error "
                        "for name=nowhere.test type=A: Host not found");
    assert_string_equal(smtp_addr_status_dsn(SMTP_ADDR_NOTFOUND), "5.4.4");

    assert_int_equal(resolve(res, "tempfail.test", &list, why), SMTP_ADDR_RETRY);
    assert_string_equal(why->data, "Host or domain name not found. Name service error "
                        "for name=tempfail.test type=MX: Host not found, try again");
    assert_string_equal(smtp_addr_status_dsn(SMTP_ADDR_RETRY), "4.4.3");

    assert_int_equal(resolve(res, "hostfail.test", &list, why), SMTP_ADDR_RETRY);
    assert_int_equal(resolve(res, "nohost.test", &list, why), SMTP_ADDR_NOTFOUND);
    assert_int_equal(list.count, 0);

    /* A malformed MX name is skipped, the next one used. */
    assert_int_equal(resolve(res, "bad.test", &list, why), SMTP_ADDR_OK);
    assert_int_equal(list.count, 1);
    assert_string_equal(list.addrs[0].host, "good.bad.test");
    assert_true(testlib_log_has("malformed"));

    /* A record text that is not an address is not used. */
    assert_int_equal(resolve(res, "[garbage.test]", &list, why), SMTP_ADDR_NOTFOUND);
    smtp_addr_resolver_free(res);
    smtp_addr_list_clear(&list);
    strbuf_free(why);
}

/* test_limits_and_forms: address limit, literals, UNIX paths. */
static void test_limits_and_forms(void **state)
{
    struct fake_dns f = ZONE;
    strbuf *why = strbuf_new(64);
    strbuf *err = strbuf_new(64);
    smtp_addr_list list;
    smtp_nexthop nh;
    smtp_addr_resolver *res = make_resolver(&f, SMTP_ADDR_PROTO_IPV4, SMTP_ADDR_PREF_ANY,
                                            5, 1);

    (void) state;
    smtp_addr_list_init(&list);
    assert_int_equal(resolve(res, "many.test", &list, why), SMTP_ADDR_OK);
    assert_int_equal(list.count, 5);
    assert_string_equal(list.addrs[4].addr, "192.0.2.65");

    f.queries = 0;
    assert_int_equal(resolve(res, "[192.0.2.44]:26", &list, why), SMTP_ADDR_OK);
    assert_int_equal(list.count, 1);
    assert_string_equal(list.addrs[0].addr, "192.0.2.44");
    assert_int_equal(list.addrs[0].port, 26);
    assert_int_equal(f.queries, 0);

    assert_int_equal(smtp_addr_parse_nexthop("unix:/run/lmtp", 1, 24, &nh, err), 0);
    assert_int_equal(smtp_addr_resolve(res, &nh, &list, why), SMTP_ADDR_OK);
    assert_int_equal(list.count, 1);
    assert_int_equal(list.addrs[0].family, AF_UNIX);
    assert_string_equal(list.addrs[0].addr, "/run/lmtp");
    assert_int_equal(f.queries, 0);
    smtp_addr_resolver_free(res);
    smtp_addr_list_clear(&list);
    strbuf_free(why);
    strbuf_free(err);
}

/* test_cache: answers are reused within their TTL, then asked again. */
static void test_cache(void **state)
{
    struct fake_dns f = ZONE;
    strbuf *why = strbuf_new(64);
    smtp_addr_list list;
    smtp_addr_resolver *res = make_resolver(&f, SMTP_ADDR_PROTO_IPV4, SMTP_ADDR_PREF_ANY,
                                            0, 1);
    int     q;

    (void) state;
    smtp_addr_list_init(&list);
    fake_clock = 1000;
    assert_int_equal(resolve(res, "example.test", &list, why), SMTP_ADDR_OK);
    q = f.queries;
    assert_int_equal(q, 4);             /* MX + three A */
    assert_int_equal(resolve(res, "example.test", &list, why), SMTP_ADDR_OK);
    assert_int_equal(f.queries, q);     /* all from the cache */
    assert_true(smtp_addr_cache_count(res) >= 4);
    /* Past the MX cache time the MX is asked again, the A records not. */
    fake_clock += SMTP_ADDR_MX_TTL + 1;
    assert_int_equal(resolve(res, "example.test", &list, why), SMTP_ADDR_OK);
    assert_int_equal(f.queries, q + 1);
    /* Temporary failures are never cached. */
    q = f.queries;
    assert_int_equal(resolve(res, "tempfail.test", &list, why), SMTP_ADDR_RETRY);
    assert_int_equal(resolve(res, "tempfail.test", &list, why), SMTP_ADDR_RETRY);
    assert_int_equal(f.queries, q + 2);
    fake_clock = 0;
    smtp_addr_resolver_free(res);
    smtp_addr_list_clear(&list);
    strbuf_free(why);
}

/* test_list_bounds: the container stops at its limit. */
static void test_list_bounds(void **state)
{
    smtp_addr_list list;
    char    big[SMTP_ADDR_TEXT_MAX + 10];
    int     i;

    (void) state;
    smtp_addr_list_init(&list);
    for (i = 0; i < SMTP_ADDR_LIST_MAX; i++)
        assert_int_equal(smtp_addr_list_add(&list, "h", "192.0.2.1", AF_INET, 25, 0), 0);
    assert_int_equal(smtp_addr_list_add(&list, "h", "192.0.2.1", AF_INET, 25, 0), -1);
    smtp_addr_list_clear(&list);
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = 0;
    assert_int_equal(smtp_addr_list_add(&list, "h", big, AF_UNIX, 0, 0), -1);
    smtp_addr_list_clear(&list);
}

int     main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_nexthop_forms),
        cmocka_unit_test(test_param_words),
        cmocka_unit_test(test_mx_order),
        cmocka_unit_test(test_families),
        cmocka_unit_test(test_special_answers),
        cmocka_unit_test(test_limits_and_forms),
        cmocka_unit_test(test_cache),
        cmocka_unit_test(test_list_bounds),
    };

    testlib_setup();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
