/*
 * Unit tests for lib/mail/hdr_addr.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "addr.h"
#include "hdr_addr.h"
#include "mem.h"
#include "strbuf.h"
#include "strutil.h"
#include "testlib.h"

#define SYN     HDR_ADDR_ERR_SYNTAX
#define DROP    HDR_ADDR_ERR_DROPPED
#define DEPTH   HDR_ADDR_ERR_DEPTH
#define MANY    HDR_ADDR_ERR_TOO_MANY
#define GRP     HDR_ADDR_IN_GROUP
#define ANG     HDR_ADDR_ANGLE
#define BAD     HDR_ADDR_INVALID

#define MAX_EXPECT 4

struct expect {
    const char *addr;                   /* internal form */
    const char *span;                   /* value[start..end) */
    int     flags;
};

struct hdr_case {
    const char *name;
    const char *value;
    size_t  max;                        /* 0: 100 */
    int     addr_flags;
    int     errors;                     /* exact HDR_ADDR_ERR_* bits */
    size_t  count;
    struct expect want[MAX_EXPECT];
};

static const struct hdr_case hdr_cases[] = {
    {"bare", "a@x.example", 0, 0, 0, 1,
     {{"a@x.example", "a@x.example", 0}}},
    {"two bare", " a@x.example , b@y.example ", 0, 0, 0, 2,
     {{"a@x.example", "a@x.example", 0}, {"b@y.example", "b@y.example", 0}}},
    {"empty", "", 0, 0, 0, 0, {{0, 0, 0}}},
    {"blank", " \r\n\t", 0, 0, 0, 0, {{0, 0, 0}}},
    {"display name", "John Doe <john@example.com>", 0, 0, 0, 1,
     {{"john@example.com", "john@example.com", ANG}}},
    {"quoted display comma", "\"Doe, John\" <john@example.com>", 0, 0, 0, 1,
     {{"john@example.com", "john@example.com", ANG}}},
    {"two named", "John <john@example.com>, \"Jane Q. Doe\" <jane@example.com>",
     0, 0, 0, 2,
     {{"john@example.com", "john@example.com", ANG},
      {"jane@example.com", "jane@example.com", ANG}}},
    {"obs phrase dots", "John Q. Public <jqp@example.com>", 0, 0, 0, 1,
     {{"jqp@example.com", "jqp@example.com", ANG}}},
    {"bracket only", "<a@x.example>", 0, 0, 0, 1,
     {{"a@x.example", "a@x.example", ANG}}},
    {"spaces in brackets", "< a@x.example >", 0, 0, 0, 1,
     {{"a@x.example", "a@x.example", ANG}}},
    {"trailing comment", "john@example.com (John Doe)", 0, 0, 0, 1,
     {{"john@example.com", "john@example.com", 0}}},
    {"comment with comma", "a@x.example (Doe, John), b@y.example", 0, 0, 0, 2,
     {{"a@x.example", "a@x.example", 0}, {"b@y.example", "b@y.example", 0}}},
    {"nested comment", "(outer (inner) \\) still) john@example.com (x(y)z)",
     0, 0, 0, 1, {{"john@example.com", "john@example.com", 0}}},
    {"comment in brackets", "Joe <(c) joe@x.example (d)>", 0, 0, 0, 1,
     {{"joe@x.example", "joe@x.example", ANG}}},
    {"comment inside addr", "john (c) @ example.com", 0, 0, 0, 1,
     {{"john@example.com", "john (c) @ example.com", 0}}},
    {"cfws around dots", "john . doe @ example . com", 0, 0, 0, 1,
     {{"john.doe@example.com", "john . doe @ example . com", 0}}},
    {"group", "Friends: a@x.example, b@y.example;", 0, 0, 0, 2,
     {{"a@x.example", "a@x.example", GRP}, {"b@y.example", "b@y.example", GRP}}},
    {"group then mailbox", "Friends: a@x.example;, c@z.example", 0, 0, 0, 2,
     {{"a@x.example", "a@x.example", GRP}, {"c@z.example", "c@z.example", 0}}},
    {"mailbox then group", "<a@x.example>, \"The Group\": Bee <b@y.example>;",
     0, 0, 0, 2,
     {{"a@x.example", "a@x.example", ANG},
      {"b@y.example", "b@y.example", GRP | ANG}}},
    {"empty group", "undisclosed-recipients:;", 0, 0, 0, 0, {{0, 0, 0}}},
    {"empty group spaced", "undisclosed-recipients: ;", 0, 0, 0, 0, {{0, 0, 0}}},
    {"two groups", "A: a@x.example; B:;C: c@z.example;", 0, 0, 0, 2,
     {{"a@x.example", "a@x.example", GRP}, {"c@z.example", "c@z.example", GRP}}},
    {"group unclosed", "G: a@x.example", 0, 0, SYN, 1,
     {{"a@x.example", "a@x.example", GRP}}},
    {"nested group", "G: a@x.example, H: b@y.example;", 0, 0, SYN | DROP, 2,
     {{"a@x.example", "a@x.example", GRP}, {"b@y.example", "b@y.example", GRP}}},
    {"semicolon outside group", "a@x.example; b@y.example", 0, 0, SYN, 2,
     {{"a@x.example", "a@x.example", 0}, {"b@y.example", "b@y.example", 0}}},
    {"quoted local", "\"a b\"@x.example", 0, 0, 0, 1,
     {{"a b@x.example", "\"a b\"@x.example", 0}}},
    {"quoted pair local", "\"a\\\"b\"@x.example", 0, 0, 0, 1,
     {{"a\"b@x.example", "\"a\\\"b\"@x.example", 0}}},
    {"quoted local comma", "\"a,b\"@x.example, c@y.example", 0, 0, 0, 2,
     {{"a,b@x.example", "\"a,b\"@x.example", 0}, {"c@y.example", "c@y.example", 0}}},
    {"quoted in brackets", "X <\"a b\"@x.example>", 0, 0, 0, 1,
     {{"a b@x.example", "\"a b\"@x.example", ANG}}},
    {"obs local dots", "a..b@x.example, .c@x.example", 0, 0, 0, 2,
     {{"a..b@x.example", "a..b@x.example", 0}, {".c@x.example", ".c@x.example", 0}}},
    {"obs quoted parts", "\"a\".b@x.example", 0, 0, 0, 1,
     {{"a.b@x.example", "\"a\".b@x.example", 0}}},
    {"encoded word", "=?utf-8?q?Doe,_John?= <john@example.com>", 0, 0, 0, 1,
     {{"john@example.com", "john@example.com", ANG}}},
    {"encoded words", "=?utf-8?b?w6k=?= =?ISO-8859-1?Q?Andr=E9?= <e@x.example>",
     0, 0, 0, 1, {{"e@x.example", "e@x.example", ANG}}},
    {"not an encoded word", "=?utf-8?q?a, b?= <e@x.example>", 0, 0, 0, 2,
     {{"=?utf-8?q?a", "=?utf-8?q?a", 0}, {"e@x.example", "e@x.example", ANG}}},
    {"folded", "John\r\n Doe <john@example.com>,\r\n\tjane@example.com", 0, 0, 0, 2,
     {{"john@example.com", "john@example.com", ANG},
      {"jane@example.com", "jane@example.com", 0}}},
    {"folded in quotes", "\"a\r\n b\"@x.example", 0, 0, 0, 1,
     {{"a b@x.example", "\"a\r\n b\"@x.example", 0}}},
    {"route", "<@r1.example,@r2.example:user@x.example>", 0, 0, 0, 1,
     {{"user@x.example", "@r1.example,@r2.example:user@x.example", ANG}}},
    {"route named", "Joe <@r1.example:joe@x.example>, b@y.example", 0, 0, 0, 2,
     {{"joe@x.example", "@r1.example:joe@x.example", ANG},
      {"b@y.example", "b@y.example", 0}}},
    {"route unfinished", "<@r1.example>, b@y.example", 0, 0, SYN | DROP, 1,
     {{"b@y.example", "b@y.example", 0}}},
    {"missing comma brackets", "<a@x.example> <b@y.example>", 0, 0, SYN, 2,
     {{"a@x.example", "a@x.example", ANG}, {"b@y.example", "b@y.example", ANG}}},
    {"missing comma named", "A <a@x.example> B <b@y.example>", 0, 0, SYN, 2,
     {{"a@x.example", "a@x.example", ANG}, {"b@y.example", "b@y.example", ANG}}},
    {"missing comma bare", "a@x.example b@y.example", 0, 0, SYN | DROP, 0,
     {{0, 0, 0}}},
    {"two words", "John Doe, c@z.example", 0, 0, SYN | DROP, 1,
     {{"c@z.example", "c@z.example", 0}}},
    {"empty members", ",a@x.example,,b@y.example,", 0, 0, 0, 2,
     {{"a@x.example", "a@x.example", 0}, {"b@y.example", "b@y.example", 0}}},
    {"unclosed bracket", "Name <a@x.example", 0, 0, SYN, 1,
     {{"a@x.example", "a@x.example", ANG}}},
    {"unclosed bracket comma", "<a@x.example, b@y.example", 0, 0, SYN, 2,
     {{"a@x.example", "a@x.example", ANG}, {"b@y.example", "b@y.example", 0}}},
    {"double brackets", "<<a@x.example>>", 0, 0, SYN | DROP, 1,
     {{"a@x.example", "a@x.example", ANG}}},
    {"stray gt", "a@x.example>, b@y.example", 0, 0, SYN | DROP, 1,
     {{"b@y.example", "b@y.example", 0}}},
    {"stray paren", "a@x.example), b@y.example", 0, 0, SYN | DROP, 1,
     {{"b@y.example", "b@y.example", 0}}},
    {"null addr", "<>, b@y.example", 0, 0, SYN | DROP, 1,
     {{"b@y.example", "b@y.example", 0}}},
    {"empty quoted", "<\"\">, \"\", \"\"@x.example", 0, 0, SYN | DROP, 1,
     {{"@x.example", "\"\"@x.example", 0}}},
    {"unterminated quote", "\"unterminated <a@x.example>", 0, 0, SYN | DROP, 0,
     {{0, 0, 0}}},
    {"unterminated comment", "a@x.example (unterminated, b@y.example", 0, 0, SYN, 1,
     {{"a@x.example", "a@x.example", 0}}},
    {"phrase with at", "joe@x.example <joe@x.example>", 0, 0, SYN, 1,
     {{"joe@x.example", "joe@x.example", ANG}}},
    {"colon after at", "a@x.example: b@y.example", 0, 0, SYN | DROP, 1,
     {{"b@y.example", "b@y.example", 0}}},
    {"two at", "a@b@x.example, c@z.example", 0, 0, SYN | DROP, 1,
     {{"c@z.example", "c@z.example", 0}}},
    {"empty domain", "a@, c@z.example", 0, 0, SYN | DROP, 1,
     {{"c@z.example", "c@z.example", 0}}},
    {"empty local", "@x.example, c@z.example", 0, 0, SYN | DROP, 1,
     {{"c@z.example", "c@z.example", 0}}},
    {"trailing dot domain", "a@x.example., c@z.example", 0, 0, SYN | DROP, 1,
     {{"c@z.example", "c@z.example", 0}}},
    {"quoted domain", "a@\"x\".example", 0, 0, SYN | DROP, 0, {{0, 0, 0}}},
    {"literal", "john@[192.0.2.1], j@[IPv6:2001:db8::1]", 0, 0, 0, 2,
     {{"john@[192.0.2.1]", "john@[192.0.2.1]", 0},
      {"j@[IPv6:2001:db8::1]", "j@[IPv6:2001:db8::1]", 0}}},
    {"bad literal", "john@[192.0.2.999]", 0, 0, 0, 1,
     {{"john@[192.0.2.999]", "john@[192.0.2.999]", BAD}}},
    {"literal with at", "john@[a@b], c@z.example", 0, 0, SYN | DROP, 1,
     {{"c@z.example", "c@z.example", 0}}},
    {"literal then label", "john@[192.0.2.1].x", 0, 0, SYN | DROP, 0, {{0, 0, 0}}},
    {"literal local", "[a]@x.example", 0, 0, SYN | DROP, 0, {{0, 0, 0}}},
    {"local only", "root, Admin <admin>", 0, 0, 0, 2,
     {{"root", "root", 0}, {"admin", "admin", ANG}}},
    {"invalid domain", "a@-x.example, <b@x_y.example>", 0, 0, 0, 2,
     {{"a@-x.example", "a@-x.example", BAD},
      {"b@x_y.example", "b@x_y.example", ANG | BAD}}},
    {"quoted local only with at", "\"a@b\"", 0, 0, 0, 1,
     {{"a@b", "\"a@b\"", BAD}}},
    {"utf8 off", "J\xc3\xb6rg <j\xc3\xb6rg@b\xc3\xbc" "cher.example>", 0, 0, 0, 1,
     {{"j\xc3\xb6rg@b\xc3\xbc" "cher.example", "j\xc3\xb6rg@b\xc3\xbc" "cher.example",
       ANG | BAD}}},
    {"utf8 on", "J\xc3\xb6rg <j\xc3\xb6rg@b\xc3\xbc" "cher.example>", 0,
     ADDR_F_SMTPUTF8, 0, 1,
     {{"j\xc3\xb6rg@b\xc3\xbc" "cher.example", "j\xc3\xb6rg@b\xc3\xbc" "cher.example",
       ANG}}},
    {"tab in quotes", "\"a\tb\"@x.example", 0, 0, 0, 1,
     {{"a\tb@x.example", "\"a\tb\"@x.example", BAD}}},
    {"control in quotes", "\"a\001b\"@x.example, c@z.example", 0, 0, SYN | DROP, 1,
     {{"c@z.example", "c@z.example", 0}}},
    {"max reached", "a@x.example, b@x.example, c@x.example", 2, 0, MANY, 2,
     {{"a@x.example", "a@x.example", 0}, {"b@x.example", "b@x.example", 0}}},
    {"max exact", "a@x.example, b@x.example", 2, 0, 0, 2,
     {{"a@x.example", "a@x.example", 0}, {"b@x.example", "b@x.example", 0}}},
    {"max ignores dropped", "a@x.example, x y, b@x.example", 2, 0, SYN | DROP, 2,
     {{"a@x.example", "a@x.example", 0}, {"b@x.example", "b@x.example", 0}}},
};

/* check_case: parse one case and compare everything. */
static void check_case(const struct hdr_case *c, size_t len)
{
    hdr_addr_list *list;
    size_t  i;

    list = hdr_addr_parse(c->value, len, c->max ? c->max : 100, c->addr_flags);
    assert_non_null(list);
    if (list->errors != c->errors)
        fail_msg("%s: errors %#x, want %#x", c->name, (unsigned) list->errors,
                 (unsigned) c->errors);
    if (list->count != c->count)
        fail_msg("%s: %zu addresses, want %zu (first \"%s\")", c->name,
                 list->count, c->count, list->count ? list->items[0].addr : "");
    for (i = 0; i < list->count; i++) {
        const hdr_addr_item *it = list->items + i;
        const struct expect *w = c->want + i;

        assert_true(it->start <= it->end && it->end <= len);
        if (strcmp(it->addr, w->addr) != 0)
            fail_msg("%s[%zu]: addr \"%s\", want \"%s\"", c->name, i,
                     it->addr, w->addr);
        if (it->end - it->start != strlen(w->span)
            || memcmp(c->value + it->start, w->span, strlen(w->span)) != 0)
            fail_msg("%s[%zu]: span \"%.*s\", want \"%s\"", c->name, i,
                     (int) (it->end - it->start), c->value + it->start, w->span);
        if (it->flags != w->flags)
            fail_msg("%s[%zu]: flags %#x, want %#x", c->name, i,
                     (unsigned) it->flags, (unsigned) w->flags);
    }
    hdr_addr_list_free(list);
}

/* test_table: every row of hdr_cases. */
static void test_table(void **state)
{
    size_t  i;

    (void) state;
    for (i = 0; i < sizeof(hdr_cases) / sizeof(hdr_cases[0]); i++)
        check_case(hdr_cases + i, strlen(hdr_cases[i].value));
}

/* test_nul: a NUL byte inside the value drops that member only. */
static void test_nul(void **state)
{
    static const char value[] = "a@x\0y.example, b@y.example";
    static const struct hdr_case c = {"nul", value, 0, 0, SYN | DROP, 1,
        {{"b@y.example", "b@y.example", 0}}};
    static const char qvalue[] = "\"a\0b\"@x.example";
    static const struct hdr_case q = {"nul quoted", qvalue, 0, 0, SYN | DROP, 0,
        {{0, 0, 0}}};

    (void) state;
    check_case(&c, sizeof(value) - 1);
    check_case(&q, sizeof(qvalue) - 1);
}

/* test_length_bound: bytes past len are never looked at. */
static void test_length_bound(void **state)
{
    hdr_addr_list *list;

    (void) state;
    list = hdr_addr_parse("a@x.example, b@y.example", 11, 10, 0);
    assert_int_equal(list->count, 1);
    assert_string_equal(list->items[0].addr, "a@x.example");
    assert_int_equal(list->errors, 0);
    hdr_addr_list_free(list);
    list = hdr_addr_parse("\"abc\"@x", 4, 10, 0);
    assert_int_equal(list->count, 0);
    assert_int_equal(list->errors, SYN | DROP);
    hdr_addr_list_free(list);
    assert_null(hdr_addr_list_free(NULL));
}

/* nest: "(" x n, ")" x n, then tail (free with mem_free). */
static char *nest(size_t n, const char *tail)
{
    strbuf *sb = strbuf_new(2 * n + 32);
    size_t  i;

    for (i = 0; i < n; i++)
        strbuf_putc(sb, '(');
    for (i = 0; i < n; i++)
        strbuf_putc(sb, ')');
    strbuf_puts(sb, tail);
    return strbuf_detach(sb, NULL);
}

/* test_comment_depth: nesting up to the cap works; beyond it stops. */
static void test_comment_depth(void **state)
{
    hdr_addr_list *list;
    char   *v;

    (void) state;
    v = nest(HDR_ADDR_COMMENT_DEPTH, " a@x.example");
    list = hdr_addr_parse(v, strlen(v), 10, 0);
    assert_int_equal(list->count, 1);
    assert_int_equal(list->errors, 0);
    hdr_addr_list_free(list);
    mem_free(v);

    v = nest(HDR_ADDR_COMMENT_DEPTH + 1, " a@x.example");
    list = hdr_addr_parse(v, strlen(v), 10, 0);
    assert_int_equal(list->count, 0);
    assert_int_equal(list->errors, DEPTH | DROP);
    assert_string_equal(hdr_addr_strerror(list->errors), "comments nested too deeply");
    hdr_addr_list_free(list);
    mem_free(v);

    /* Addresses before the runaway comment are kept. */
    v = str_concat("a@x.example, ", "(((((((((((((((((((((((((((((((((((((((((((", NULL);
    list = hdr_addr_parse(v, strlen(v), 10, 0);
    assert_int_equal(list->count, 1);
    assert_int_equal(list->errors, DEPTH | DROP);
    hdr_addr_list_free(list);
    mem_free(v);

    /* A very deep nest costs no stack. */
    v = nest(200000, " a@x.example");
    list = hdr_addr_parse(v, strlen(v), 10, 0);
    assert_int_equal(list->count, 0);
    hdr_addr_list_free(list);
    mem_free(v);
}

/* test_rewrite_spans: replacing the spans keeps phrases and comments. */
static void test_rewrite_spans(void **state)
{
    const char *value = "Joe (work) <joe@x.example>, \"Doe, J\" <j@y.example> "
        "(c2), root (local), G: <@r.example:m@z.example>;";
    const char *want = "Joe (work) <JOE@X.EXAMPLE>, \"Doe, J\" <J@Y.EXAMPLE> "
        "(c2), ROOT (local), G: <M@Z.EXAMPLE>;";
    hdr_addr_list *list = hdr_addr_parse(value, strlen(value), 10, 0);
    strbuf *out = strbuf_new(64);
    strbuf *ext = strbuf_new(64);
    size_t  i, pos = 0;

    (void) state;
    assert_int_equal(list->errors, 0);
    assert_int_equal(list->count, 4);
    for (i = 0; i < list->count; i++) {
        char   *up = mem_strdup(list->items[i].addr);
        char   *p;

        for (p = up; *p; p++)
            if (*p >= 'a' && *p <= 'z')
                *p = (char) (*p - 'a' + 'A');
        assert_int_equal(addr_internal_to_external(up, ext), 0);
        strbuf_append(out, value + pos, list->items[i].start - pos);
        strbuf_puts(out, ext->data);
        pos = list->items[i].end;
        mem_free(up);
    }
    strbuf_puts(out, value + pos);
    assert_string_equal(out->data, want);
    strbuf_free(out);
    strbuf_free(ext);
    hdr_addr_list_free(list);
}

/* test_strerror: texts for the error bits. */
static void test_strerror(void **state)
{
    (void) state;
    assert_string_equal(hdr_addr_strerror(0), "");
    assert_string_equal(hdr_addr_strerror(SYN), "malformed address list");
    assert_string_equal(hdr_addr_strerror(SYN | DROP), "unreadable address skipped");
    assert_string_equal(hdr_addr_strerror(MANY | SYN), "too many addresses");
}

/* test_many: a long list is bounded by max and stays linear. */
static void test_many(void **state)
{
    strbuf *sb = strbuf_new(1024);
    hdr_addr_list *list;
    size_t  i;

    (void) state;
    for (i = 0; i < 5000; i++)
        strbuf_printf(sb, "%sUser %zu <u%zu@x.example>", i ? ", " : "", i, i);
    list = hdr_addr_parse(sb->data, sb->len, 100000, 0);
    assert_int_equal(list->count, 5000);
    assert_int_equal(list->errors, 0);
    assert_string_equal(list->items[4999].addr, "u4999@x.example");
    hdr_addr_list_free(list);
    list = hdr_addr_parse(sb->data, sb->len, 1000, 0);
    assert_int_equal(list->count, 1000);
    assert_int_equal(list->errors, MANY);
    hdr_addr_list_free(list);
    list = hdr_addr_parse(sb->data, sb->len, 0, 0);
    assert_int_equal(list->count, 0);
    assert_int_equal(list->errors, MANY);
    hdr_addr_list_free(list);
    strbuf_free(sb);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_nul),
        cmocka_unit_test(test_length_bound),
        cmocka_unit_test(test_comment_depth),
        cmocka_unit_test(test_rewrite_spans),
        cmocka_unit_test(test_strerror),
        cmocka_unit_test(test_many),
    };

    testlib_setup();
    return cmocka_run_group_tests_name("hdr_addr", tests, NULL, NULL);
}
