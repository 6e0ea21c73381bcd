/*
 * Unit tests for local/local_alias.c (splitting alias, .forward and
 * :include: values) and local/local_expand.c (forward_path expansion).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "mem.h"
#include "strbuf.h"
#include "testlib.h"

#include "../../local/local_alias.c"
#include "../../local/local_expand.c"

static void test_split_table(void **state)
{
    static const struct {
        const char *value;
        const char *want;           /* items joined with " | " */
    } cases[] = {
        {"a", "a"},
        {"a, b,c", "a | b | c"},
        {"  a ,, b ,", "a | b"},
        {"", ""},
        {" , ", ""},
        {"\"|/usr/bin/cmd -x, y\", /var/log/f", "|/usr/bin/cmd -x, y | /var/log/f"},
        {"|/bin/cat > /tmp/x", "|/bin/cat > /tmp/x"},
        {":include:/etc/list, root", ":include:/etc/list | root"},
        {"\"a\\\"b\"", "a\"b"},
        {"\\user, |procmail", "\\user | |procmail"},
        /* file text: lines, comments, continuation-free */
        {"# comment\nalice\n  bob, carol # not a comment\n#x\n", "alice | bob | carol # not a comment"},
        {"one\r\ntwo\r\n", "one | two"},
        {"\"unterminated, x", "unterminated, x"},
    };
    size_t  i;
    size_t  j;

    (void) state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char  **items;
        size_t  n = local_alias_split(cases[i].value, &items);
        strbuf *got = strbuf_new(64);

        for (j = 0; j < n; j++)
            (void) strbuf_printf(got, "%s%s", j ? " | " : "", items[j]);
        if (strcmp(got->data, cases[i].want) != 0)
            fail_msg("case %zu \"%s\": got \"%s\", want \"%s\"", i, cases[i].value,
                     got->data, cases[i].want);
        local_alias_free(items, n);
        strbuf_free(got);
    }
}

static void test_split_bound(void **state)
{
    strbuf *big = strbuf_new(10000);
    char  **items;
    size_t  n;
    int     i;

    (void) state;
    for (i = 0; i < LOCAL_EXPAND_MAX + 10; i++)
        (void) strbuf_printf(big, "u%d,", i);
    testlib_log_reset();
    n = local_alias_split(big->data, &items);
    assert_int_equal(n, LOCAL_EXPAND_MAX);
    assert_true(testlib_log_has("ignoring the rest"));
    local_alias_free(items, n);
    strbuf_free(big);
}

static void test_expand_forward_path(void **state)
{
    static const char *fp = "$home/.forward${recipient_delimiter}${extension}, $home/.forward";
    local_cmd_vars v;
    strbuf *out = strbuf_new(64);
    strbuf *err = strbuf_new(64);

    (void) state;
    memset(&v, 0, sizeof(v));
    v.home = "/home/ann";
    v.user = "ann";
    v.local = "ann+list";
    v.extension = "list";
    assert_int_equal(local_expand(fp, &v, "+", out, err), 0);
    assert_string_equal(out->data, "/home/ann/.forward+list, /home/ann/.forward");
    /* no extension: no delimiter either */
    v.extension = NULL;
    assert_int_equal(local_expand(fp, &v, "+", out, err), 0);
    assert_string_equal(out->data, "/home/ann/.forward, /home/ann/.forward");
    /* conditionals */
    assert_int_equal(local_expand("${extension?x-$extension}${extension:none}/$user",
                                  &v, "+", out, err), 0);
    assert_string_equal(out->data, "none/ann");
    v.extension = "e";
    assert_int_equal(local_expand("${extension?x-$extension}${extension:none}/$user",
                                  &v, "-", out, err), 0);
    assert_string_equal(out->data, "x-e/ann");
    /* a '$' from the address is not expanded again */
    v.extension = "$home$$";
    assert_int_equal(local_expand("$home/.forward$recipient_delimiter$extension",
                                  &v, "+", out, err), 0);
    assert_string_equal(out->data, "/home/ann/.forward+$home$$");
    /* unknown names are empty; syntax errors are reported */
    assert_int_equal(local_expand("[$nosuch]", &v, "+", out, err), 0);
    assert_string_equal(out->data, "[]");
    assert_int_equal(local_expand("${home", &v, "+", out, err), -1);
    assert_true(err->len > 0);
    strbuf_free(out);
    strbuf_free(err);
}

int     main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_split_table),
        cmocka_unit_test(test_split_bound),
        cmocka_unit_test(test_expand_forward_path),
    };

    testlib_setup();
    return cmocka_run_group_tests_name("local_alias", tests, NULL, NULL);
}
