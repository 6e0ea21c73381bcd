/*
 * Unit tests for tools/addrpat.c (postern-smtp-load's address patterns).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "addrpat.h"
#include "strbuf.h"
#include "testlib.h"

/* Good patterns and their expansions. */
static void test_expand(void **state)
{
    static const struct {
        const char *pattern;
        unsigned long n;
        const char *want;
    } cases[] = {
        {"user%d@example.com", 7, "user7@example.com"},
        {"plain@example.com", 7, "plain@example.com"},
        {"%d", 0, "0"},
        {"a%%b%d@x", 12, "a%b12@x"},
        {"%%d@x", 5, "%d@x"},
        {"x@%d.test", 4294967295UL, "x@4294967295.test"},
        {"", 3, ""},
    };
    strbuf *out = strbuf_new(16);
    strbuf *err = strbuf_new(16);
    size_t  i;

    (void) state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        if (addrpat_check(cases[i].pattern, err) != 0)
            fail_msg("%s: rejected: %s", cases[i].pattern, err->data);
        assert_int_equal(addrpat_expand(cases[i].pattern, cases[i].n, out), 0);
        assert_string_equal(out->data, cases[i].want);
    }
    strbuf_free(out);
    strbuf_free(err);
}

/* Bad patterns: never a printf format, never a broken SMTP path. */
static void test_reject(void **state)
{
    static const struct {
        const char *pattern;
        const char *why;
    } cases[] = {
        {"user%s@x", "'%' must be followed"},
        {"user%n@x", "'%' must be followed"},
        {"user%", "'%' must be followed"},
        {"%d%d@x", "more than one %d"},
        {"a b@x", "character 0x20"},
        {"a<b@x", "character 0x3c"},
        {"a>b@x", "character 0x3e"},
        {"a\r\nRCPT TO:<x>", "character 0x0d"},
        {"a\tb", "character 0x09"},
    };
    strbuf *out = strbuf_new(16);
    strbuf *err = strbuf_new(16);
    size_t  i;

    (void) state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        assert_int_equal(addrpat_check(cases[i].pattern, err), -1);
        if (strstr(err->data, cases[i].why) == NULL)
            fail_msg("%s: reason \"%s\", want \"%s\"", cases[i].pattern,
                     err->data, cases[i].why);
        strbuf_puts(out, "junk");
        assert_int_equal(addrpat_expand(cases[i].pattern, 1, out), -1);
        assert_int_equal(out->len, 0);
    }
    strbuf_free(out);
    strbuf_free(err);
}

/* Length limits on the pattern and on the expansion. */
static void test_limits(void **state)
{
    char    pat[ADDRPAT_MAX + 2];
    strbuf *out = strbuf_new(16);
    strbuf *err = strbuf_new(16);

    (void) state;
    memset(pat, 'a', ADDRPAT_MAX);
    pat[ADDRPAT_MAX] = '\0';
    assert_int_equal(addrpat_check(pat, err), 0);
    pat[ADDRPAT_MAX] = 'a';
    pat[ADDRPAT_MAX + 1] = '\0';
    assert_int_equal(addrpat_check(pat, err), -1);
    assert_non_null(strstr(err->data, "longer than"));
    /* Fits as a pattern, too long once %d becomes a big number. */
    memset(pat, 'a', ADDRPAT_MAX);
    pat[ADDRPAT_MAX - 2] = '%';
    pat[ADDRPAT_MAX - 1] = 'd';
    pat[ADDRPAT_MAX] = '\0';
    assert_int_equal(addrpat_check(pat, err), 0);
    assert_int_equal(addrpat_expand(pat, 1, out), 0);
    assert_int_equal(out->len, ADDRPAT_MAX - 1);
    assert_int_equal(addrpat_expand(pat, 1000, out), -1);
    assert_int_equal(out->len, 0);
    strbuf_free(out);
    strbuf_free(err);
}

int     main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_expand),
        cmocka_unit_test(test_reject),
        cmocka_unit_test(test_limits),
    };

    testlib_setup();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
