/*
 * Unit tests for lib/mail/resolve.c: recipient resolution.
 *
 * Each case sets parameters with param_override (after param_reset and
 * resolve_reset), resolves one address and compares transport, nexthop,
 * recipient, class and the return value. Tables are inline: (written in
 * the case) and fail: (a table that can never answer).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "param.h"
#include "param_names.h"
#include "resolve.h"
#include "strbuf.h"
#include "testlib.h"

#define MAXSET 6

typedef struct rcase {
    const char *name;
    const char *settings[MAXSET][2];    /* parameter, value */
    const char *sender;
    const char *rcpt;
    int     rc;                         /* RESOLVE_* */
    const char *transport;              /* expected (NULL: not checked) */
    const char *nexthop;
    const char *recipient;
    enum resolve_class class;           /* 0: not checked */
    const char *err;                    /* substring of err, or NULL */
} rcase;

static const rcase cases[] = {
    /* Classes. */
    {"bare local part is local", {{0}}, "", "joe", RESOLVE_OK,
     "local", "mx.example.org", "joe", RESOLVE_CLASS_LOCAL, NULL},
    {"mydestination name", {{0}}, "a@b", "Joe@MX.Example.Org.", RESOLVE_OK,
     "local", "mx.example.org", "Joe@MX.Example.Org", RESOLVE_CLASS_LOCAL, NULL},
    {"localhost always local", {{PARAM_MYDESTINATION, "other.example"}}, "",
     "root@localhost", RESOLVE_OK, "local", NULL, NULL, RESOLVE_CLASS_LOCAL, NULL},
    {"mydestination subdomain is not local",
     {{PARAM_MYDESTINATION, "example.org"}}, "", "u@sub.example.org",
     RESOLVE_OK, "smtp", "sub.example.org", NULL, RESOLVE_CLASS_DEFAULT, NULL},
    {"mydestination .domain matches subdomains",
     {{PARAM_MYDESTINATION, ".example.org"}}, "", "u@a.b.example.org",
     RESOLVE_OK, "local", NULL, NULL, RESOLVE_CLASS_LOCAL, NULL},
    {"mydestination table", {{PARAM_MYDESTINATION,
                              "inline:{ tab.example=yes }"}}, "",
     "u@TAB.example", RESOLVE_OK, "local", NULL, NULL, RESOLVE_CLASS_LOCAL, NULL},
    {"mydestination table failure retries",
     {{PARAM_MYDESTINATION, "fail:broken"}}, "", "u@else.example",
     RESOLVE_RETRY, NULL, NULL, NULL, 0, "fail:broken"},
    {"address literal of loopback",
     {{PARAM_INET_INTERFACES, "loopback-only"}}, "", "u@[127.0.0.1]",
     RESOLVE_OK, "local", NULL, NULL, RESOLVE_CLASS_LOCAL, NULL},
    {"address literal listed",
     {{PARAM_INET_INTERFACES, "192.0.2.7"}}, "", "u@[192.0.2.7]",
     RESOLVE_OK, "local", NULL, NULL, RESOLVE_CLASS_LOCAL, NULL},
    {"foreign address literal",
     {{PARAM_INET_INTERFACES, "192.0.2.7"}}, "", "u@[192.0.2.8]",
     RESOLVE_OK, "smtp", "[192.0.2.8]", NULL, RESOLVE_CLASS_DEFAULT, NULL},
    {"local transport with nexthop",
     {{PARAM_LOCAL_TRANSPORT, "mylocal:box"}}, "", "u@mx.example.org",
     RESOLVE_OK, "mylocal", "box", NULL, RESOLVE_CLASS_LOCAL, NULL},
    {"virtual alias domain bounces",
     {{PARAM_VIRTUAL_ALIAS_DOMAINS, "alias.example"},
      {PARAM_TRANSPORT_MAPS, "inline:{ alias.example=smtp:[x] }"}}, "",
     "nobody@alias.example", RESOLVE_OK, "error", RESOLVE_VALIAS_REASON, NULL,
     RESOLVE_CLASS_VIRTUAL_ALIAS, NULL},
    {"virtual mailbox domain",
     {{PARAM_VIRTUAL_MAILBOX_DOMAINS, "vbox.example"}}, "", "u@vbox.example",
     RESOLVE_OK, "virtual", "vbox.example", NULL, RESOLVE_CLASS_VIRTUAL, NULL},
    {"virtual mailbox domains from its maps",
     {{PARAM_VIRTUAL_MAILBOX_MAPS, "inline:{ vm.example=x }"}}, "",
     "u@vm.example", RESOLVE_OK, "virtual", NULL, NULL, RESOLVE_CLASS_VIRTUAL,
     NULL},
    {"relay domain", {{PARAM_RELAY_DOMAINS, "relay.example"}}, "",
     "u@relay.example", RESOLVE_OK, "relay", "relay.example", NULL,
     RESOLVE_CLASS_RELAY, NULL},
    {"relay domain matches subdomain", {{PARAM_RELAY_DOMAINS, "relay.example"}},
     "", "u@in.relay.example", RESOLVE_OK, "relay", "in.relay.example", NULL,
     RESOLVE_CLASS_RELAY, NULL},
    {"relay domain table", {{PARAM_RELAY_DOMAINS, "inline:{r.example=1}"}},
     "", "u@r.example", RESOLVE_OK, "relay", NULL, NULL, RESOLVE_CLASS_RELAY,
     NULL},
    {"default class", {{0}}, "", "u@far.example", RESOLVE_OK, "smtp",
     "far.example", "u@far.example", RESOLVE_CLASS_DEFAULT, NULL},
    {"default transport with nexthop",
     {{PARAM_DEFAULT_TRANSPORT, "smtp:[gw.example]:2525"},
      {PARAM_RELAYHOST, "[ignored]"}}, "", "u@far.example", RESOLVE_OK,
     "smtp", "[gw.example]:2525", NULL, RESOLVE_CLASS_DEFAULT, NULL},
    {"bad default transport", {{PARAM_DEFAULT_TRANSPORT, "sm/tp"}}, "",
     "u@far.example", RESOLVE_ERROR, NULL, NULL, NULL, 0, "default_transport"},
    {"file in a domain list", {{PARAM_RELAY_DOMAINS, "/etc/relays"}}, "",
     "u@far.example", RESOLVE_ERROR, NULL, NULL, NULL, 0, "relay_domains"},

    /* relayhost and sender_dependent_relayhost_maps. */
    {"relayhost for default", {{PARAM_RELAYHOST, "[smart.example]:587"}}, "",
     "u@far.example", RESOLVE_OK, "smtp", "[smart.example]:587", NULL,
     RESOLVE_CLASS_DEFAULT, NULL},
    {"relayhost for relay", {{PARAM_RELAYHOST, "[smart.example]"},
                             {PARAM_RELAY_DOMAINS, "relay.example"}}, "",
     "u@relay.example", RESOLVE_OK, "relay", "[smart.example]", NULL,
     RESOLVE_CLASS_RELAY, NULL},
    {"relayhost not for local", {{PARAM_RELAYHOST, "[smart.example]"}}, "",
     "u@mx.example.org", RESOLVE_OK, "local", "mx.example.org", NULL,
     RESOLVE_CLASS_LOCAL, NULL},
    {"relayhost not for virtual", {{PARAM_RELAYHOST, "[smart.example]"},
                          {PARAM_VIRTUAL_MAILBOX_DOMAINS, "v.example"}}, "",
     "u@v.example", RESOLVE_OK, "virtual", "v.example", NULL,
     RESOLVE_CLASS_VIRTUAL, NULL},
    {"sender dependent relayhost by address",
     {{PARAM_RELAYHOST, "[smart.example]"},
      {PARAM_SENDER_DEPENDENT_RELAYHOST_MAPS,
       "inline:{ a@s.example=[sa.example], @s.example=[sd.example] }"}},
     "A@S.example", "u@far.example", RESOLVE_OK, "smtp", "[sa.example]", NULL,
     RESOLVE_CLASS_DEFAULT, NULL},
    {"sender dependent relayhost by domain",
     {{PARAM_RELAYHOST, "[smart.example]"},
      {PARAM_SENDER_DEPENDENT_RELAYHOST_MAPS,
       "inline:{ a@s.example=[sa.example], @s.example=[sd.example] }"}},
     "b@s.example", "u@far.example", RESOLVE_OK, "smtp", "[sd.example]", NULL,
     RESOLVE_CLASS_DEFAULT, NULL},
    {"sender dependent relayhost miss keeps relayhost",
     {{PARAM_RELAYHOST, "[smart.example]"},
      {PARAM_SENDER_DEPENDENT_RELAYHOST_MAPS, "inline:{ @s.example=[sd] }"}},
     "b@other.example", "u@far.example", RESOLVE_OK, "smtp",
     "[smart.example]", NULL, RESOLVE_CLASS_DEFAULT, NULL},
    {"sender dependent relayhost not for null sender",
     {{PARAM_SENDER_DEPENDENT_RELAYHOST_MAPS, "inline:{ @s.example=[sd] }"}},
     "", "u@far.example", RESOLVE_OK, "smtp", "far.example", NULL,
     RESOLVE_CLASS_DEFAULT, NULL},
    {"sender dependent relayhost failure retries",
     {{PARAM_SENDER_DEPENDENT_RELAYHOST_MAPS, "fail:sdr"}},
     "x@y.example", "u@far.example", RESOLVE_RETRY, NULL, NULL, NULL, 0,
     "fail:sdr"},

    /* transport_maps. */
    {"transport by full address",
     {{PARAM_TRANSPORT_MAPS, "inline:{ u@t.example=lmtp:[lm]:24, "
       "t.example=relay:[dom] }"}}, "", "U@t.example", RESOLVE_OK, "lmtp",
     "[lm]:24", NULL, RESOLVE_CLASS_DEFAULT, NULL},
    {"transport by domain",
     {{PARAM_TRANSPORT_MAPS, "inline:{ u@t.example=lmtp:[lm]:24, "
       "t.example=relay:[dom] }"}}, "", "v@t.example", RESOLVE_OK, "relay",
     "[dom]", NULL, RESOLVE_CLASS_DEFAULT, NULL},
    {"transport domain does not match subdomain",
     {{PARAM_TRANSPORT_MAPS, "inline:{ t.example=relay:[dom] }"}}, "",
     "v@a.t.example", RESOLVE_OK, "smtp", "a.t.example", NULL,
     RESOLVE_CLASS_DEFAULT, NULL},
    {"transport .parent matches subdomain, nearest first",
     {{PARAM_TRANSPORT_MAPS, "inline:{ .t.example=relay:[p1], "
       ".b.t.example=relay:[p2] }"}}, "", "v@a.b.t.example", RESOLVE_OK,
     "relay", "[p2]", NULL, RESOLVE_CLASS_DEFAULT, NULL},
    {"transport wildcard last",
     {{PARAM_TRANSPORT_MAPS, "inline:{ *=slow:[all], x.example=fast: }"}},
     "", "v@y.example", RESOLVE_OK, "slow", "[all]", NULL,
     RESOLVE_CLASS_DEFAULT, NULL},
    {"transport only keeps nexthop",
     {{PARAM_TRANSPORT_MAPS, "inline:{ x.example=fast: }"},
      {PARAM_RELAYHOST, "[smart]"}}, "", "v@x.example", RESOLVE_OK, "fast",
     "[smart]", NULL, RESOLVE_CLASS_DEFAULT, NULL},
    {"transport name without colon",
     {{PARAM_TRANSPORT_MAPS, "inline:{ x.example=fast }"}}, "",
     "v@x.example", RESOLVE_OK, "fast", "x.example", NULL,
     RESOLVE_CLASS_DEFAULT, NULL},
    {"nexthop only keeps transport and beats relayhost",
     {{PARAM_TRANSPORT_MAPS, "inline:{ x.example=:[gw]:2525 }"},
      {PARAM_RELAYHOST, "[smart]"}}, "", "v@x.example", RESOLVE_OK, "smtp",
     "[gw]:2525", NULL, RESOLVE_CLASS_DEFAULT, NULL},
    {"error route",
     {{PARAM_TRANSPORT_MAPS, "inline:{ {x.example=error:5.7.1 go away} }"}},
     "", "v@x.example", RESOLVE_OK, "error", "5.7.1 go away", NULL,
     RESOLVE_CLASS_DEFAULT, NULL},
    {"discard route with empty text",
     {{PARAM_TRANSPORT_MAPS, "inline:{ x.example=discard: }"},
      {PARAM_RELAYHOST, "[smart]"}}, "", "v@x.example", RESOLVE_OK,
     "discard", "", NULL, RESOLVE_CLASS_DEFAULT, NULL},
    {"transport_maps for a local domain",
     {{PARAM_TRANSPORT_MAPS, "inline:{ mx.example.org=lmtp:unix:/x }"}}, "",
     "v@mx.example.org", RESOLVE_OK, "lmtp", "unix:/x", NULL,
     RESOLVE_CLASS_LOCAL, NULL},
    {"transport_maps failure retries",
     {{PARAM_TRANSPORT_MAPS, "fail:tm"}}, "", "v@x.example", RESOLVE_RETRY,
     NULL, NULL, NULL, 0, "fail:tm"},
    {"bad transport in transport_maps",
     {{PARAM_TRANSPORT_MAPS, "inline:{ x.example=../evil:x }"}}, "",
     "v@x.example", RESOLVE_ERROR, NULL, NULL, NULL, 0, "transport_maps"},
    {"quoted local part with at sign",
     {{PARAM_TRANSPORT_MAPS, "inline:{ x.example=fast: }"}}, "",
     "\"a@b\"@x.example", RESOLVE_OK, "fast", "x.example",
     "\"a@b\"@x.example", RESOLVE_CLASS_DEFAULT, NULL},
};

/* setup_params: a known base configuration plus the case's settings. */
static void setup_params(const rcase *c)
{
    size_t  i;

    resolve_reset();
    param_reset();
    param_override(PARAM_MYHOSTNAME, "mx.example.org");
    param_override(PARAM_MYDOMAIN, "example.org");
    param_override(PARAM_MYDESTINATION, "$myhostname, localhost");
    param_override(PARAM_INET_INTERFACES, "127.0.0.1");
    for (i = 0; i < MAXSET && c->settings[i][0]; i++)
        assert_int_equal(param_override(c->settings[i][0], c->settings[i][1]), 0);
}

/* test_cases: run the table. */
static void test_cases(void **state)
{
    size_t  i;

    (void) state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const rcase *c = cases + i;
        resolve_result r;
        strbuf *err = strbuf_new(64);
        int     rc;

        setup_params(c);
        resolve_result_init(&r);
        rc = resolve_addr(c->sender, c->rcpt, &r, err);
        if (rc != c->rc)
            fail_msg("%s: rc %d, want %d (err: %s)", c->name, rc, c->rc,
                     err->data);
        if (c->transport && strcmp(r.transport->data, c->transport) != 0)
            fail_msg("%s: transport \"%s\", want \"%s\"", c->name,
                     r.transport->data, c->transport);
        if (c->nexthop && strcmp(r.nexthop->data, c->nexthop) != 0)
            fail_msg("%s: nexthop \"%s\", want \"%s\"", c->name,
                     r.nexthop->data, c->nexthop);
        if (c->recipient && strcmp(r.recipient->data, c->recipient) != 0)
            fail_msg("%s: recipient \"%s\", want \"%s\"", c->name,
                     r.recipient->data, c->recipient);
        if (c->class && r.class != c->class)
            fail_msg("%s: class %s, want %s", c->name,
                     resolve_class_name(r.class), resolve_class_name(c->class));
        if (c->err && strstr(err->data, c->err) == NULL)
            fail_msg("%s: err \"%s\" lacks \"%s\"", c->name, err->data, c->err);
        resolve_result_free(&r);
        strbuf_free(err);
    }
    resolve_reset();
    param_reset();
}

/* test_flags: routed and relayhost flags. */
static void test_flags(void **state)
{
    rcase   c;
    resolve_result r;
    strbuf *err = strbuf_new(64);

    (void) state;
    memset(&c, 0, sizeof(c));
    c.settings[0][0] = PARAM_RELAYHOST;
    c.settings[0][1] = "[smart]";
    setup_params(&c);
    resolve_result_init(&r);
    assert_int_equal(resolve_addr(NULL, "u@far.example", &r, err), RESOLVE_OK);
    assert_true(r.flags & RESOLVE_F_RELAYHOST);
    assert_false(r.flags & RESOLVE_F_ROUTED);
    c.settings[1][0] = PARAM_TRANSPORT_MAPS;
    c.settings[1][1] = "inline:{ far.example=:[direct] }";
    setup_params(&c);
    assert_int_equal(resolve_addr(NULL, "u@far.example", &r, err), RESOLVE_OK);
    assert_true(r.flags & RESOLVE_F_ROUTED);
    assert_false(r.flags & RESOLVE_F_RELAYHOST);
    assert_string_equal(r.nexthop->data, "[direct]");
    resolve_result_free(&r);
    strbuf_free(err);
    resolve_reset();
    param_reset();
}

/* test_reuse: one result struct across many calls keeps no stale data. */
static void test_reuse(void **state)
{
    rcase   c;
    resolve_result r;
    strbuf *err = strbuf_new(64);

    (void) state;
    memset(&c, 0, sizeof(c));
    setup_params(&c);
    resolve_result_init(&r);
    assert_int_equal(resolve_addr("", "a@far.example", &r, err), RESOLVE_OK);
    assert_int_equal(resolve_addr("", "b@mx.example.org", &r, err), RESOLVE_OK);
    assert_string_equal(r.transport->data, "local");
    assert_string_equal(r.nexthop->data, "mx.example.org");
    assert_string_equal(r.recipient->data, "b@mx.example.org");
    assert_int_equal(resolve_addr("", "c@near.example", &r, err), RESOLVE_OK);
    assert_string_equal(r.nexthop->data, "near.example");
    assert_int_equal(r.class, RESOLVE_CLASS_DEFAULT);
    resolve_result_free(&r);
    strbuf_free(err);
    resolve_reset();
    param_reset();
}

int     main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cases),
        cmocka_unit_test(test_flags),
        cmocka_unit_test(test_reuse),
    };

    testlib_setup();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
