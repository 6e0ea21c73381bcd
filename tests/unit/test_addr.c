/*
 * Unit tests for lib/mail/addr.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "addr.h"
#include "mem.h"
#include "strbuf.h"
#include "strutil.h"
#include "testlib.h"

#define S   ADDR_F_STRICT
#define U   ADDR_F_SMTPUTF8
#define N   ADDR_F_NULL_OK
#define L   ADDR_F_LOCAL_OK
#define P   ADDR_F_POSTMASTER

/* repeat: a static string of n copies of c (n < 1024). */
static const char *repeat(int c, size_t n)
{
    static char buf[4][1024];
    static int next;
    char   *b = buf[next++ % 4];

    memset(b, c, n);
    b[n] = 0;
    return b;
}

struct parse_case {
    const char *name;
    const char *input;
    int     flags;
    const char *internal;               /* NULL: must fail */
    const char *rest;                   /* expected parameter text */
    const char *why;                    /* expected reason on failure */
};

static const struct parse_case parse_cases[] = {
    /* Basic forms. */
    {"plain", "<user@example.com>", S, "user@example.com", "", 0},
    {"params", "<user@example.com> SIZE=100 BODY=8BITMIME", S,
     "user@example.com", "SIZE=100 BODY=8BITMIME", 0},
    {"leading space", "  <user@example.com>", S, "user@example.com", "", 0},
    {"null sender", "<>", S | N, "", "", 0},
    {"null sender params", "<> SIZE=12", S | N, "", "SIZE=12", 0},
    {"null not allowed", "<>", S, 0, 0, "null address not allowed"},
    {"null relaxed", "< >", N, "", "", 0},
    {"null strict with space", "< >", S | N, 0, 0, "bad address syntax"},
    {"bare strict", "user@example.com", S, 0, 0, "angle brackets required"},
    {"bare relaxed", "user@example.com", 0, "user@example.com", "", 0},
    {"bare params", "user@example.com SIZE=1", 0, "user@example.com",
     "SIZE=1", 0},
    {"bare junk", "user@example.com>", 0, 0, 0, "bad domain name syntax"},
    {"empty", "", 0, 0, 0, "missing address"},
    {"blank", "   ", S, 0, 0, "missing address"},
    {"missing gt", "<user@example.com", S, 0, 0, "missing '>' after address"},
    {"missing gt params", "<user@example.com SIZE=1", S, 0, 0,
     "bad address syntax"},
    {"junk after gt strict", "<user@example.com>SIZE=1", S, 0, 0,
     "bad address syntax"},
    {"junk after gt relaxed", "<user@example.com>SIZE=1", 0,
     "user@example.com", "SIZE=1", 0},
    {"spaces inside relaxed", "< user@example.com >", 0, "user@example.com",
     "", 0},
    {"spaces inside strict", "< user@example.com>", S, 0, 0,
     "bad address syntax"},
    {"space in local", "<a b@example.com>", S, 0, 0, "bad address syntax"},
    {"two at", "<a@b@example.com>", S, 0, 0, "bad domain name syntax"},
    {"case kept", "<User@Example.COM>", S, "User@Example.COM", "", 0},

    /* Quoting. */
    {"quoted space", "<\"a b\"@x.example>", S, "a b@x.example", "", 0},
    {"quoted quote", "<\"a\\\"b\"@x.example>", S, "a\"b@x.example", "", 0},
    {"quoted backslash", "<\"a\\\\b\"@x.example>", S, "a\\b@x.example", "", 0},
    {"quoted pair letter", "<\"\\a\"@x.example>", S, "a@x.example", "", 0},
    {"quoted at", "<\"a@b\"@x.example>", S, "a@b@x.example", "", 0},
    {"quoted empty", "<\"\"@x.example>", S, "@x.example", "", 0},
    {"quoted dots", "<\"a..b\"@x.example>", S, "a..b@x.example", "", 0},
    {"dot atom", "<a.b@x.example>", S, "a.b@x.example", "", 0},
    {"atext specials", "<!#$%&'*+-/=?^_`{|}~@x.example>", S,
     "!#$%&'*+-/=?^_`{|}~@x.example", "", 0},
    {"leading dot", "<.a@x.example>", S, 0, 0, "bad address syntax"},
    {"trailing dot", "<a.@x.example>", S, 0, 0, "bad address syntax"},
    {"double dot", "<a..b@x.example>", S, 0, 0, "bad address syntax"},
    {"empty local", "<@x.example>", S, 0, 0, "bad source route"},
    {"unterminated quote", "<\"ab@x.example>", S, 0, 0, "bad address syntax"},
    {"quote then atom", "<\"a\"b@x.example>", S, 0, 0, "bad address syntax"},
    {"mixed obs local", "<\"a\".b@x.example>", S, 0, 0, "bad address syntax"},
    {"quoted bare", "\"a b\"@x.example SIZE=1", 0, "a b@x.example", "SIZE=1", 0},
    {"paren", "<a(b)@x.example>", S, 0, 0, "bad address syntax"},

    /* Source routes. */
    {"route", "<@a.example,@b.example:user@c.example>", S, "user@c.example",
     "", 0},
    {"route one", "<@a.example:user@c.example>", S, "user@c.example", "", 0},
    {"route literal", "<@[192.0.2.1]:user@c.example>", S, "user@c.example",
     "", 0},
    {"route v6 literal", "<@[IPv6:2001:db8::1],@b.example:u@c.example>", S,
     "u@c.example", "", 0},
    {"route missing at", "<@a.example,b.example:user@c.example>", S, 0, 0,
     "bad source route"},
    {"route empty", "<@:user@c.example>", S, 0, 0, "bad source route"},
    {"route no colon", "<@a.example>", S, 0, 0, "bad source route"},
    {"route bad domain", "<@a_b.example:user@c.example>", S, 0, 0,
     "bad source route"},

    /* Domains. */
    {"v4 literal", "<user@[192.0.2.1]>", S, "user@[192.0.2.1]", "", 0},
    {"v6 literal", "<user@[IPv6:2001:db8::1]>", S, "user@[IPv6:2001:db8::1]",
     "", 0},
    {"v6 tag case", "<user@[ipv6:2001:DB8::1]>", S, "user@[ipv6:2001:DB8::1]",
     "", 0},
    {"v6 mapped", "<user@[IPv6:::ffff:192.0.2.1]>", S,
     "user@[IPv6:::ffff:192.0.2.1]", "", 0},
    {"v4 bad octet", "<user@[192.0.2.256]>", S, 0, 0, "bad address literal"},
    {"v4 short", "<user@[192.0.2]>", S, 0, 0, "bad address literal"},
    {"v6 without tag", "<user@[2001:db8::1]>", S, 0, 0, "bad address literal"},
    {"v6 tag v4 addr", "<user@[IPv6:192.0.2.1]>", S, 0, 0,
     "bad address literal"},
    {"general literal", "<user@[x-tag:stuff]>", S, 0, 0, "bad address literal"},
    {"empty literal", "<user@[]>", S, 0, 0, "bad address literal"},
    {"unclosed literal", "<user@[192.0.2.1>", S, 0, 0, "bad address literal"},
    {"literal junk", "<user@[192.0.2.1]x>", S, 0, 0, "bad address syntax"},
    {"hyphen start", "<user@-x.example>", S, 0, 0, "bad domain name syntax"},
    {"hyphen end", "<user@x-.example>", S, 0, 0, "bad domain name syntax"},
    {"inner hyphens", "<user@x--y.example>", S, "user@x--y.example", "", 0},
    {"empty label", "<user@x..example>", S, 0, 0, "bad domain name syntax"},
    {"trailing dot domain", "<user@x.example.>", S, 0, 0,
     "bad domain name syntax"},
    {"underscore", "<user@x_y.example>", S, 0, 0, "bad domain name syntax"},
    {"numeric tld", "<user@192.0.2.1>", S, 0, 0, "bad domain name syntax"},
    {"single label", "<user@localhost>", S, "user@localhost", "", 0},
    {"empty domain", "<user@>", S, 0, 0, "missing domain name"},
    {"no domain", "<user>", S, 0, 0, "missing domain name"},
    {"no domain local ok", "<user>", S | L, "user", "", 0},
    {"no domain bare local ok", "root", L, "root", "", 0},
    {"postmaster", "<Postmaster>", S | P, "Postmaster", "", 0},
    {"postmaster quoted", "<\"postmaster\">", S | P, "postmaster", "", 0},
    {"local only empty", "<\"\">", S | L, 0, 0, "bad address syntax"},
    {"local only quoted at", "<\"a@b\">", S | L, 0, 0, "bad address syntax"},
    {"not postmaster", "<postmasters>", S | P, 0, 0, "missing domain name"},
    {"postmaster flag off", "<postmaster>", S, 0, 0, "missing domain name"},

    /* Control characters. */
    {"control local", "<a\001b@x.example>", S, 0, 0,
     "control character in address"},
    {"control quoted", "<\"a\001\"@x.example>", S, 0, 0,
     "control character in address"},
    {"tab quoted", "<\"a\tb\"@x.example>", S, 0, 0,
     "control character in address"},
    {"del quoted pair", "<\"a\\\177\"@x.example>", S, 0, 0,
     "control character in address"},
    {"control domain", "<a@x\001.example>", S, 0, 0,
     "control character in address"},
    {"cr", "<a@x.example\r>", S, 0, 0, "control character in address"},

    /* UTF-8. */
    {"utf8 off", "<d\xc3\xa9j\xc3\xa0@x.example>", S, 0, 0,
     "non-ASCII address needs SMTPUTF8"},
    {"utf8 on", "<d\xc3\xa9j\xc3\xa0@x.example>", S | U,
     "d\xc3\xa9j\xc3\xa0@x.example", "", 0},
    {"utf8 domain off", "<a@b\xc3\xbc" "cher.example>", S, 0, 0,
     "non-ASCII address needs SMTPUTF8"},
    {"utf8 domain on", "<a@b\xc3\xbc" "cher.example>", S | U,
     "a@b\xc3\xbc" "cher.example", "", 0},
    {"utf8 quoted on", "<\"\xe2\x82\xac 1\"@x.example>", S | U,
     "\xe2\x82\xac 1@x.example", "", 0},
    {"utf8 quoted off", "<\"\xe2\x82\xac\"@x.example>", S, 0, 0,
     "non-ASCII address needs SMTPUTF8"},
    {"utf8 truncated", "<a\xc3@x.example>", S | U, 0, 0,
     "malformed UTF-8 in address"},
    {"utf8 lone continuation", "<a\x80@x.example>", S | U, 0, 0,
     "malformed UTF-8 in address"},
    {"utf8 overlong 2", "<a\xc0\xaf@x.example>", S | U, 0, 0,
     "malformed UTF-8 in address"},
    {"utf8 overlong 3", "<a\xe0\x80\xaf@x.example>", S | U, 0, 0,
     "malformed UTF-8 in address"},
    {"utf8 overlong 4", "<a\xf0\x80\x80\xaf@x.example>", S | U, 0, 0,
     "malformed UTF-8 in address"},
    {"utf8 surrogate", "<a\xed\xa0\x80@x.example>", S | U, 0, 0,
     "malformed UTF-8 in address"},
    {"utf8 too big", "<a\xf4\x90\x80\x80@x.example>", S | U, 0, 0,
     "malformed UTF-8 in address"},
    {"utf8 f5", "<a\xf5\x80\x80\x80@x.example>", S | U, 0, 0,
     "malformed UTF-8 in address"},
    {"utf8 max", "<a\xf4\x8f\xbf\xbf@x.example>", S | U,
     "a\xf4\x8f\xbf\xbf@x.example", "", 0},
    {"utf8 c1 control", "<a\xc2\x85@x.example>", S | U, 0, 0,
     "control character in address"},
    {"utf8 quoted pair", "<\"\\\xc3\xa9\"@x.example>", S | U, 0, 0,
     "bad address syntax"},
};

/* test_parse_table: every row of parse_cases. */
static void test_parse_table(void **state)
{
    strbuf *out = strbuf_new(64);
    size_t  i, rest;
    const char *why;
    int     ret;

    (void) state;
    for (i = 0; i < sizeof(parse_cases) / sizeof(parse_cases[0]); i++) {
        const struct parse_case *c = parse_cases + i;
        size_t  len = strlen(c->input);

        rest = 12345;
        ret = addr_parse(c->input, len, c->flags, out, &rest, &why);
        if (c->internal) {
            if (ret != 0)
                fail_msg("%s: \"%s\" failed: %s", c->name, c->input, why);
            if (strcmp(out->data, c->internal) != 0)
                fail_msg("%s: got \"%s\", want \"%s\"", c->name, out->data,
                         c->internal);
            assert_int_equal(out->len, strlen(c->internal));
            assert_true(rest <= len);
            if (strcmp(c->input + rest, c->rest) != 0)
                fail_msg("%s: rest \"%s\", want \"%s\"", c->name,
                         c->input + rest, c->rest);
            assert_null(why);
        } else {
            if (ret != -1)
                fail_msg("%s: \"%s\" parsed as \"%s\"", c->name, c->input,
                         out->data);
            if (why == NULL || strcmp(why, c->why) != 0)
                fail_msg("%s: reason \"%s\", want \"%s\"", c->name,
                         why ? why : "(null)", c->why);
            assert_int_equal(out->len, 0);
        }
    }
    strbuf_free(out);
}

/* test_parse_nul: an embedded NUL is refused, and rest may be NULL. */
static void test_parse_nul(void **state)
{
    strbuf *out = strbuf_new(64);
    const char *why;

    (void) state;
    assert_int_equal(addr_parse("<a\0b@x.example>", 15, S, out, NULL, &why), -1);
    assert_string_equal(why, "NUL character in address");
    assert_int_equal(addr_parse("<ab@x.example>\0", 15, S, out, NULL, &why), -1);
    assert_int_equal(addr_parse("<ab@x.example>", 14, S, out, NULL, &why), 0);
    assert_string_equal(out->data, "ab@x.example");
    /* Length-bounded: bytes past len are never read. */
    assert_int_equal(addr_parse("<ab@x.example>garbage", 14, S, out, NULL, &why), 0);
    strbuf_free(out);
}

/* check_parse: parse text, expect success or the given reason. */
static void check_parse(const char *name, const char *text, int flags,
                        const char *want_why)
{
    strbuf *out = strbuf_new(64);
    const char *why;
    int     ret = addr_parse(text, strlen(text), flags, out, NULL, &why);

    if (want_why == NULL && ret != 0)
        fail_msg("%s: failed: %s", name, why);
    if (want_why != NULL && (ret == 0 || strcmp(why, want_why) != 0))
        fail_msg("%s: got %s, want \"%s\"", name, ret == 0 ? "success" : why,
                 want_why);
    strbuf_free(out);
}

/* test_limits: the RFC 5321 limits at the boundary and one past it. */
static void test_limits(void **state)
{
    /* 189-octet domain: 63 + 1 + 63 + 1 + 61. */
    char   *dom189 = str_concat(repeat('a', 63), ".", repeat('b', 63), ".",
                          repeat('c', 61), NULL);
    char   *dom190 = str_concat(repeat('a', 63), ".", repeat('b', 63), ".",
                          repeat('c', 62), NULL);
    char   *dom255 = str_concat(repeat('a', 63), ".", repeat('b', 63), ".",
                          repeat('c', 63), ".", repeat('d', 63), NULL);
    char   *dom256 = str_concat(repeat('a', 63), ".", repeat('b', 63), ".",
                          repeat('c', 63), ".", repeat('d', 64 - 1), "e", NULL);
    char   *t;

    (void) state;
    assert_int_equal(strlen(dom189), 189);
    assert_int_equal(strlen(dom255), 255);
    assert_int_equal(strlen(dom256), 256);

    /* Local part: 64 octets as written. */
    t = str_concat("<", repeat('l', 64), "@x.example>", NULL);
    check_parse("local 64", t, S, NULL);
    mem_free(t);
    t = str_concat("<", repeat('l', 65), "@x.example>", NULL);
    check_parse("local 65", t, S, "local part too long");
    mem_free(t);
    t = str_concat("<\"", repeat('l', 62), "\"@x.example>", NULL);
    check_parse("quoted local 64", t, S, NULL);
    mem_free(t);
    t = str_concat("<\"", repeat('l', 63), "\"@x.example>", NULL);
    check_parse("quoted local 65", t, S, "local part too long");
    mem_free(t);

    /* Path: 1 + 64 + 1 + 189 + 1 = 256. */
    t = str_concat("<", repeat('l', 64), "@", dom189, ">", NULL);
    assert_int_equal(strlen(t), 256);
    check_parse("path 256", t, S, NULL);
    mem_free(t);
    t = str_concat("<", repeat('l', 64), "@", dom190, ">", NULL);
    check_parse("path 257", t, S, "address too long");
    mem_free(t);
    t = str_concat(repeat('l', 64), "@", dom189, NULL);
    check_parse("bare path 256", t, 0, NULL);
    mem_free(t);
    t = str_concat(repeat('l', 64), "@", dom190, NULL);
    check_parse("bare path 257", t, 0, "address too long");
    mem_free(t);
    /* The route counts towards the path. */
    t = str_concat("<@r.example:", repeat('l', 54), "@", dom189, ">", NULL);
    assert_int_equal(strlen(t), 257);
    check_parse("route path 257", t, S, "address too long");
    mem_free(t);

    /* Domain: 255 octets, labels 63. */
    assert_null(addr_check_domain(dom255, 255, 0));
    assert_string_equal(addr_check_domain(dom256, 256, 0), "domain name too long");
    assert_int_equal(addr_valid_hostname(dom255, 0), 1);
    assert_int_equal(addr_valid_hostname(dom256, 0), 0);
    t = str_concat("<a@", dom256, ">", NULL);
    check_parse("domain 256", t, S, "domain name too long");
    mem_free(t);
    t = str_concat("<a@", repeat('x', 63), ".example>", NULL);
    check_parse("label 63", t, S, NULL);
    mem_free(t);
    t = str_concat("<a@", repeat('x', 64), ".example>", NULL);
    check_parse("label 64", t, S, "domain label too long");
    mem_free(t);
    t = str_concat("<a@example.", repeat('x', 64), ">", NULL);
    check_parse("last label 64", t, S, "domain label too long");
    mem_free(t);

    mem_free(dom189);
    mem_free(dom190);
    mem_free(dom255);
    mem_free(dom256);
}

/* test_parse_buffer_limit: an output limit is a failure, not a crash. */
static void test_parse_buffer_limit(void **state)
{
    strbuf *out = strbuf_new(4);
    const char *why;

    (void) state;
    strbuf_set_limit(out, 5);
    assert_int_equal(addr_parse("<abcdef@x.example>", 18, S, out, NULL, &why), -1);
    assert_string_equal(why, "address too long for buffer");
    assert_int_equal(addr_parse("<abc@x.example>", 15, S, out, NULL, &why), -1);
    assert_int_equal(addr_parse("<abc>", 5, S | L, out, NULL, &why), 0);
    assert_string_equal(out->data, "abc");
    assert_int_equal(addr_internal_to_external("a b", out), 0);
    assert_string_equal(out->data, "\"a b\"");
    assert_int_equal(addr_internal_to_external("a b c", out), -1);
    strbuf_free(out);
}

struct quote_case {
    const char *internal;
    const char *external;
    int     valid;                      /* <external> parses, strict+utf8 */
};

static const struct quote_case quote_cases[] = {
    {"a b@x.example", "\"a b\"@x.example", 1},
    {"a\"b@x.example", "\"a\\\"b\"@x.example", 1},
    {"a\\b@x.example", "\"a\\\\b\"@x.example", 1},
    {"a.b@x.example", "a.b@x.example", 1},
    {".a@x.example", "\".a\"@x.example", 1},
    {"a.@x.example", "\"a.\"@x.example", 1},
    {"a..b@x.example", "\"a..b\"@x.example", 1},
    {"@x.example", "\"\"@x.example", 1},
    {"a@b@x.example", "\"a@b\"@x.example", 1},
    {"a(b)@x.example", "\"a(b)\"@x.example", 1},
    {"a,b@x.example", "\"a,b\"@x.example", 1},
    {"!#$%&'*+-/=?^_`{|}~@x.example", "!#$%&'*+-/=?^_`{|}~@x.example", 1},
    {"d\xc3\xa9j\xc3\xa0@x.example", "d\xc3\xa9j\xc3\xa0@x.example", 1},
    {"user", "user", 0},
    {"a b", "\"a b\"", 0},
    {"", "", 0},
    {"a\tb@x.example", "\"a\tb\"@x.example", 0},
};

/* test_quote_round_trip: internal -> external -> internal. */
static void test_quote_round_trip(void **state)
{
    strbuf *ext = strbuf_new(16);
    strbuf *back = strbuf_new(16);
    strbuf *parsed = strbuf_new(16);
    const char *why;
    size_t  i;

    (void) state;
    for (i = 0; i < sizeof(quote_cases) / sizeof(quote_cases[0]); i++) {
        const struct quote_case *c = quote_cases + i;
        char   *bracketed;

        assert_int_equal(addr_internal_to_external(c->internal, ext), 0);
        if (strcmp(ext->data, c->external) != 0)
            fail_msg("external of \"%s\": got \"%s\", want \"%s\"",
                     c->internal, ext->data, c->external);
        assert_int_equal(addr_external_to_internal(ext->data, ext->len, back), 0);
        assert_string_equal(back->data, c->internal);
        bracketed = str_concat("<", ext->data, ">", NULL);
        if (c->valid) {
            if (addr_parse(bracketed, strlen(bracketed), S | U, parsed, NULL,
                           &why) != 0)
                fail_msg("%s: %s", bracketed, why);
            assert_string_equal(parsed->data, c->internal);
        }
        mem_free(bracketed);
    }
    strbuf_free(ext);
    strbuf_free(back);
    strbuf_free(parsed);
}

/* test_external_to_internal: obsolete quoting and errors. */
static void test_external_to_internal(void **state)
{
    strbuf *out = strbuf_new(16);

    (void) state;
    assert_int_equal(addr_external_to_internal("\"a\".\"b\"@x", 9, out), 0);
    assert_string_equal(out->data, "a.b@x");
    assert_int_equal(addr_external_to_internal("a@\"x\"", 5, out), 0);
    assert_string_equal(out->data, "a@\"x\"");  /* domain copied as is */
    assert_int_equal(addr_external_to_internal("\"abc@x", 6, out), -1);
    assert_int_equal(addr_external_to_internal("a\0b@x", 5, out), -1);
    assert_int_equal(addr_external_to_internal("a@x\0", 4, out), -1);
    assert_int_equal(addr_external_to_internal("", 0, out), 0);
    assert_string_equal(out->data, "");
    assert_int_equal(addr_external_to_internal("\"a\\\"b\"", 6, out), 0);
    assert_string_equal(out->data, "a\"b");
    assert_int_equal(addr_local_needs_quote("", 0), 1);
    assert_int_equal(addr_local_needs_quote("a.b", 3), 0);
    assert_int_equal(addr_local_needs_quote("a b", 3), 1);
    strbuf_free(out);
}

/* test_domain_helpers: domain_of, local_len, fold_domain. */
static void test_domain_helpers(void **state)
{
    char    addr[] = "User.Name@Mail.EXAMPLE.com";
    char    quoted[] = "A@B@X.Example";
    char    local[] = "ROOT";

    (void) state;
    assert_string_equal(addr_domain_of("a@b@x.example"), "x.example");
    assert_null(addr_domain_of("user"));
    assert_null(addr_domain_of(""));
    assert_string_equal(addr_domain_of("a@"), "");
    assert_int_equal(addr_local_len("a@b@x.example"), 3);
    assert_int_equal(addr_local_len("user"), 4);
    assert_int_equal(addr_local_len("@x"), 0);
    addr_fold_domain(addr);
    assert_string_equal(addr, "User.Name@mail.example.com");
    addr_fold_domain(quoted);
    assert_string_equal(quoted, "A@B@x.example");
    addr_fold_domain(local);
    assert_string_equal(local, "ROOT");
}

struct host_case {
    const char *name;
    int     flags;
    int     valid;
};

static const struct host_case host_cases[] = {
    {"example.com", 0, 1},
    {"a", 0, 1},
    {"localhost", 0, 1},
    {"a-b.example", 0, 1},
    {"a--b.example", 0, 1},
    {"xn--bcher-kva.example", 0, 1},
    {"123.example", 0, 1},
    {"0a.example", 0, 1},
    {"EXAMPLE.COM", 0, 1},
    {"", 0, 0},
    {".", 0, 0},
    {".example", 0, 0},
    {"example.", 0, 0},
    {"a..b", 0, 0},
    {"-a.example", 0, 0},
    {"a-.example", 0, 0},
    {"a.-b", 0, 0},
    {"a_b.example", 0, 0},
    {"a b.example", 0, 0},
    {"1.2.3.4", 0, 0},
    {"example.123", 0, 0},
    {"[192.0.2.1]", 0, 0},
    {"b\xc3\xbc" "cher.example", 0, 0},
    {"b\xc3\xbc" "cher.example", ADDR_F_SMTPUTF8, 1},
    {"b\xc3" "cher.example", ADDR_F_SMTPUTF8, 0},
    {"\xe4\xbe\x8b\xe3\x81\x88.\xe3\x83\x86\xe3\x82\xb9\xe3\x83\x88",
     ADDR_F_SMTPUTF8, 1},
};

/* test_valid_hostname: host name rules. */
static void test_valid_hostname(void **state)
{
    size_t  i;

    (void) state;
    for (i = 0; i < sizeof(host_cases) / sizeof(host_cases[0]); i++)
        if (addr_valid_hostname(host_cases[i].name, host_cases[i].flags)
            != host_cases[i].valid)
            fail_msg("addr_valid_hostname(\"%s\", %d) != %d",
                     host_cases[i].name, host_cases[i].flags,
                     host_cases[i].valid);
    assert_null(addr_check_domain("[192.0.2.1]", 11, 0));
    assert_null(addr_check_domain("[IPv6:::1]", 10, 0));
    assert_string_equal(addr_check_domain("[192.0.2.1", 10, 0), "bad address literal");
    assert_string_equal(addr_check_domain("", 0, 0), "missing domain name");
    /* A literal whose text would overflow our inet_pton buffer. */
    {
        char   *t = str_concat("[IPv6:", repeat('1', 70), "]", NULL);

        assert_string_equal(addr_check_domain(t, strlen(t), 0), "bad address literal");
        mem_free(t);
    }
}

struct utf8_case {
    const char *bytes;
    int     valid;
};

static const struct utf8_case utf8_cases[] = {
    {"", 1},
    {"plain ascii", 1},
    {"\xc3\xa9", 1},
    {"\xe2\x82\xac", 1},
    {"\xf0\x9f\x98\x80", 1},
    {"\xed\x9f\xbf", 1},                /* U+D7FF */
    {"\xee\x80\x80", 1},                /* U+E000 */
    {"\xf4\x8f\xbf\xbf", 1},            /* U+10FFFF */
    {"\xc2\x80", 1},                    /* U+0080: well-formed */
    {"\x80", 0},
    {"\xbf", 0},
    {"\xc0\x80", 0},
    {"\xc1\xbf", 0},
    {"\xc3", 0},
    {"\xc3\x28", 0},
    {"\xe0\x9f\xbf", 0},                /* overlong */
    {"\xe2\x82", 0},
    {"\xed\xa0\x80", 0},                /* surrogate */
    {"\xed\xbf\xbf", 0},
    {"\xf0\x8f\xbf\xbf", 0},            /* overlong */
    {"\xf4\x90\x80\x80", 0},            /* > U+10FFFF */
    {"\xf8\x88\x80\x80\x80", 0},
    {"\xfe", 0},
    {"\xff", 0},
    {"a\xe2\x82\xac" "b\xc3", 0},
};

/* test_valid_utf8: UTF-8 well-formedness. */
static void test_valid_utf8(void **state)
{
    size_t  i;

    (void) state;
    for (i = 0; i < sizeof(utf8_cases) / sizeof(utf8_cases[0]); i++)
        if (addr_valid_utf8(utf8_cases[i].bytes, strlen(utf8_cases[i].bytes))
            != utf8_cases[i].valid)
            fail_msg("utf8 case %zu: want %d", i, utf8_cases[i].valid);
    /* Length-bounded: the sequence is cut by len. */
    assert_int_equal(addr_valid_utf8("\xe2\x82\xac", 2), 0);
}

struct split_case {
    const char *local;
    const char *delims;
    int     flags;
    int     ret;
    const char *user;
    const char *ext;
};

static const struct split_case split_cases[] = {
    {"user+ext", "+", 0, '+', "user", "ext"},
    {"user+ext+more", "+", 0, '+', "user", "ext+more"},
    {"a-b+c", "+-", 0, '-', "a", "b+c"},
    {"a+b-c", "+-", 0, '+', "a", "b-c"},
    {"a+b-c", "-+", 0, '+', "a", "b-c"},
    {"user", "+-", 0, 0, "user", ""},
    {"user+ext", "", 0, 0, "user+ext", ""},
    {"user+ext", 0, 0, 0, "user+ext", ""},
    {"user+", "+", 0, '+', "user", ""},
    {"+ext", "+", 0, 0, "+ext", ""},
    {"+a+b", "+", 0, '+', "+a", "b"},
    {"a=b", "+=", 0, '=', "a", "b"},
    {"postmaster", "+-", 0, 0, "postmaster", ""},
    {"Mailer-Daemon", "-", 0, 0, "Mailer-Daemon", ""},
    {"double-bounce", "-", 0, 0, "double-bounce", ""},
    {"postmaster+x", "+", 0, '+', "postmaster", "x"},
    {"owner-list", "-", ADDR_SPLIT_OWNER_REQUEST, 0, "owner-list", ""},
    {"owner-list", "-", 0, '-', "owner", "list"},
    {"list-request", "+-", ADDR_SPLIT_OWNER_REQUEST, 0, "list-request", ""},
    {"List-Request", "-", 0, '-', "List", "Request"},
    {"owner-list+x", "+", ADDR_SPLIT_OWNER_REQUEST, '+', "owner-list", "x"},
    {"a b+c", "+", 0, '+', "a b", "c"},
};

/* test_split_local: recipient_delimiter splitting. */
static void test_split_local(void **state)
{
    strbuf *user = strbuf_new(8);
    strbuf *ext = strbuf_new(8);
    size_t  i;
    int     ret;

    (void) state;
    for (i = 0; i < sizeof(split_cases) / sizeof(split_cases[0]); i++) {
        const struct split_case *c = split_cases + i;

        ret = addr_split_local(c->local, strlen(c->local), c->delims, c->flags,
                               user, ext);
        if (ret != c->ret || strcmp(user->data, c->user) != 0
            || strcmp(ext->data, c->ext) != 0)
            fail_msg("split(\"%s\", \"%s\"): got %d \"%s\" \"%s\"", c->local,
                     c->delims ? c->delims : "(null)", ret, user->data,
                     ext->data);
    }
    /* The local part of an internal address, by length. */
    ret = addr_split_local("joe+tag@x+y.example", addr_local_len("joe+tag@x+y.example"),
                           "+", 0, user, ext);
    assert_int_equal(ret, '+');
    assert_string_equal(ext->data, "tag");
    strbuf_free(user);
    strbuf_free(ext);
}

struct param_case {
    const char *text;
    int     flags;
    size_t  max;
    int     ret;
    const char *why;
    size_t  count;
    const char *k1, *v1, *k2, *v2;     /* first two parameters */
};

static const struct param_case param_cases[] = {
    {"", 0, 8, 0, 0, 0, 0, 0, 0, 0},
    {"   ", 0, 8, 0, 0, 0, 0, 0, 0, 0},
    {"SIZE=1000", 0, 8, 0, 0, 1, "SIZE", "1000", 0, 0},
    {"SIZE=1000 BODY=8BITMIME", 0, 8, 0, 0, 2, "SIZE", "1000", "BODY",
     "8BITMIME"},
    {"  SMTPUTF8   RET=HDRS  ", 0, 8, 0, 0, 2, "SMTPUTF8", 0, "RET", "HDRS"},
    {"X-Vendor-Thing=a+2Bb\tNOTIFY=SUCCESS,FAILURE", 0, 8, 0, 0, 2,
     "X-Vendor-Thing", "a+2Bb", "NOTIFY", "SUCCESS,FAILURE"},
    {"ORCPT=rfc822;user+40example.com", 0, 8, 0, 0, 1, "ORCPT",
     "rfc822;user+40example.com", 0, 0},
    {"SIZE=", 0, 8, -1, "bad parameter value", 0, 0, 0, 0, 0},
    {"SIZE= BODY=7BIT", 0, 8, -1, "bad parameter value", 0, 0, 0, 0, 0},
    {"=x", 0, 8, -1, "bad parameter syntax", 0, 0, 0, 0, 0},
    {"-X=1", 0, 8, -1, "bad parameter syntax", 0, 0, 0, 0, 0},
    {"SIZE:1", 0, 8, -1, "bad parameter syntax", 0, 0, 0, 0, 0},
    {"X=a=b", 0, 8, -1, "bad parameter value", 0, 0, 0, 0, 0},
    {"X=a\001", 0, 8, -1, "bad parameter value", 0, 0, 0, 0, 0},
    {"X=a\177", 0, 8, -1, "bad parameter value", 0, 0, 0, 0, 0},
    {"SIZE=1 size=2", 0, 8, -1, "duplicate parameter", 0, 0, 0, 0, 0},
    {"SMTPUTF8 smtputf8", 0, 8, -1, "duplicate parameter", 0, 0, 0, 0, 0},
    {"A=1 B=2 C=3", 0, 2, -1, "too many parameters", 0, 0, 0, 0, 0},
    {"A=1 B=2", 0, 2, 0, 0, 2, "A", "1", "B", "2"},
    {"X=\xc3\xa9", 0, 8, -1, "non-ASCII parameter needs SMTPUTF8", 0, 0, 0, 0, 0},
    {"X=\xc3\xa9", ADDR_F_SMTPUTF8, 8, 0, 0, 1, "X", "\xc3\xa9", 0, 0},
    {"X=\xc3", ADDR_F_SMTPUTF8, 8, -1, "bad parameter value", 0, 0, 0, 0, 0},
    {"\xc3\xa9=1", ADDR_F_SMTPUTF8, 8, -1, "bad parameter syntax", 0, 0, 0, 0, 0},
};

/* match: len bytes at p equal the C string s. */
static int match(const char *p, size_t len, const char *s)
{
    return strlen(s) == len && memcmp(p, s, len) == 0;
}

/* check_param: one parsed parameter against the expectation. */
static void check_param(const addr_param *p, const char *k, const char *v)
{
    assert_true(match(p->keyword, p->keyword_len, k));
    if (v == NULL) {
        assert_null(p->value);
        assert_int_equal(p->value_len, 0);
    } else {
        assert_non_null(p->value);
        assert_true(match(p->value, p->value_len, v));
    }
}

/* test_params: ESMTP parameter splitting. */
static void test_params(void **state)
{
    addr_param params[8];
    size_t  i, count;
    const char *why;
    int     ret;

    (void) state;
    for (i = 0; i < sizeof(param_cases) / sizeof(param_cases[0]); i++) {
        const struct param_case *c = param_cases + i;

        ret = addr_params_parse(c->text, strlen(c->text), c->flags, params,
                                c->max, &count, &why);
        if (ret != c->ret)
            fail_msg("params \"%s\": ret %d (%s)", c->text, ret, why ? why : "");
        if (ret < 0) {
            assert_string_equal(why, c->why);
            continue;
        }
        assert_null(why);
        assert_int_equal(count, c->count);
        if (count > 0)
            check_param(params, c->k1, c->v1);
        if (count > 1)
            check_param(params + 1, c->k2, c->v2);
    }
}

/* test_params_after_address: the rest offset feeds the parameter parser. */
static void test_params_after_address(void **state)
{
    const char *line = "<\"x y\"@example.com> SIZE=4096 BODY=8BITMIME "
        "ENVID=QQ314159+2Bx RET=HDRS";
    strbuf *out = strbuf_new(16);
    strbuf *dec = strbuf_new(16);
    addr_param params[8];
    const addr_param *p;
    size_t  rest, count;
    const char *why;

    (void) state;
    assert_int_equal(addr_parse(line, strlen(line), S, out, &rest, &why), 0);
    assert_string_equal(out->data, "x y@example.com");
    assert_int_equal(addr_params_parse(line + rest, strlen(line) - rest, 0,
                                       params, 8, &count, &why), 0);
    assert_int_equal(count, 4);
    assert_non_null(p = addr_params_find(params, count, "envid"));
    assert_int_equal(addr_xtext_decode(p->value, p->value_len, dec), 0);
    assert_string_equal(dec->data, "QQ314159+x");
    assert_non_null(addr_params_find(params, count, "SIZE"));
    assert_non_null(addr_params_find(params, count, "Ret"));
    assert_null(addr_params_find(params, count, "SIZ"));
    assert_null(addr_params_find(params, count, "SIZE=4096"));
    assert_null(addr_params_find(params, count, "NOTIFY"));
    strbuf_free(out);
    strbuf_free(dec);
}

struct xtext_case {
    const char *text;
    const char *decoded;                /* NULL: must fail */
};

static const struct xtext_case xtext_cases[] = {
    {"", ""},
    {"abc", "abc"},
    {"a+2Bb", "a+b"},
    {"+2b", "+"},                       /* lower-case hex accepted */
    {"+3D", "="},
    {"+3d+2B", "=+"},
    {"+20", " "},
    {"+C3+A9", "\xc3\xa9"},
    {"rfc822;user+40example.com", "rfc822;user@example.com"},
    {"!~", "!~"},
    {"+", 0},
    {"+2", 0},
    {"a+", 0},
    {"+ZZ", 0},
    {"+G0", 0},
    {"+-1", 0},
    {"a=b", 0},
    {"a b", 0},
    {"a\tb", 0},
    {"\xc3\xa9", 0},
    {"+00", 0},                         /* decoded NUL */
    {"+0A", 0},                         /* decoded control */
    {"+7F", 0},
    {"a\177", 0},
};

/* test_xtext: decoding, encoding, round trip. */
static void test_xtext(void **state)
{
    strbuf *out = strbuf_new(8);
    strbuf *back = strbuf_new(8);
    char    all[256];
    size_t  i, n = 0;

    (void) state;
    for (i = 0; i < sizeof(xtext_cases) / sizeof(xtext_cases[0]); i++) {
        const struct xtext_case *c = xtext_cases + i;
        int     ret = addr_xtext_decode(c->text, strlen(c->text), out);

        if (c->decoded == NULL) {
            if (ret != -1)
                fail_msg("xtext \"%s\" decoded", c->text);
        } else {
            if (ret != 0 || strcmp(out->data, c->decoded) != 0)
                fail_msg("xtext \"%s\": %d \"%s\"", c->text, ret, out->data);
        }
    }
    assert_int_equal(addr_xtext_encode("a+b=c d\xc3\xa9", 9, out), 0);
    assert_string_equal(out->data, "a+2Bb+3Dc+20d+C3+A9");
    assert_int_equal(addr_xtext_encode("", 0, out), 0);
    assert_string_equal(out->data, "");
    assert_int_equal(addr_xtext_encode("\0\n", 2, out), 0);
    assert_string_equal(out->data, "+00+0A");

    /* Every byte the decoder accepts survives encode + decode. */
    for (i = 32; i < 256; i++)
        if (i != 127)
            all[n++] = (char) i;
    assert_int_equal(addr_xtext_encode(all, n, out), 0);
    for (i = 0; i < out->len; i++)
        assert_true(out->data[i] >= 33 && out->data[i] <= 126 && out->data[i] != '=');
    assert_int_equal(addr_xtext_decode(out->data, out->len, back), 0);
    assert_int_equal(back->len, n);
    assert_memory_equal(back->data, all, n);

    /* Output limit. */
    strbuf_set_limit(out, 4);
    assert_int_equal(addr_xtext_encode("+++", 3, out), -1);
    strbuf_free(out);
    strbuf_free(back);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_table),
        cmocka_unit_test(test_parse_nul),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_parse_buffer_limit),
        cmocka_unit_test(test_quote_round_trip),
        cmocka_unit_test(test_external_to_internal),
        cmocka_unit_test(test_domain_helpers),
        cmocka_unit_test(test_valid_hostname),
        cmocka_unit_test(test_valid_utf8),
        cmocka_unit_test(test_split_local),
        cmocka_unit_test(test_params),
        cmocka_unit_test(test_params_after_address),
        cmocka_unit_test(test_xtext),
    };

    testlib_setup();
    return cmocka_run_group_tests_name("addr", tests, NULL, NULL);
}
