/*
 * Unit tests for lib/util/strutil.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "mem.h"
#include "strutil.h"
#include "testlib.h"

static void test_copy(void **state)
{
    char    buf[4];

    (void) state;
    assert_int_equal(str_copy(buf, sizeof(buf), "abc"), 0);
    assert_string_equal(buf, "abc");
    assert_int_equal(str_copy(buf, sizeof(buf), "abcd"), -1);
    assert_string_equal(buf, "abc");
    assert_int_equal(str_copy(buf, 0, "a"), -1);
    assert_int_equal(str_copy(buf, 1, ""), 0);
    assert_string_equal(buf, "");
}

static void test_format(void **state)
{
    char    buf[6];

    (void) state;
    assert_int_equal(str_format(buf, sizeof(buf), "%d-%s", 12, "ab"), 0);
    assert_string_equal(buf, "12-ab");
    assert_int_equal(str_format(buf, sizeof(buf), "%d-%s", 123, "ab"), -1);
    assert_int_equal(buf[5], 0);
}

static void test_token(void **state)
{
    char    text[] = " ,a, b,,c  ";
    char   *cursor = text;

    (void) state;
    assert_string_equal(str_token(&cursor, ", "), "a");
    assert_string_equal(str_token(&cursor, ", "), "b");
    assert_string_equal(str_token(&cursor, ", "), "c");
    assert_null(str_token(&cursor, ", "));
    assert_null(str_token(&cursor, ", "));
    cursor = NULL;
    assert_null(str_token(&cursor, ","));
}

static void test_trim_lower_case(void **state)
{
    char    text[] = " \t Hello World\r\n";
    char    mixed[] = "MiXeD.Example.COM";
    char   *joined;

    (void) state;
    assert_string_equal(str_trim(text), "Hello World");
    str_lower(mixed);
    assert_string_equal(mixed, "mixed.example.com");
    assert_int_equal(str_casecmp("ABC", "abc"), 0);
    assert_true(str_casecmp("abc", "abd") < 0);
    assert_true(str_casecmp("ab", "abc") < 0);
    assert_true(str_has_prefix("smtpd_banner", "smtpd_"));
    assert_false(str_has_prefix("smtp", "smtpd"));
    joined = str_concat("a", "/", "b", (char *) NULL);
    assert_string_equal(joined, "a/b");
    mem_free(joined);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_copy),
        cmocka_unit_test(test_format),
        cmocka_unit_test(test_token),
        cmocka_unit_test(test_trim_lower_case),
    };

    testlib_setup();
    return cmocka_run_group_tests_name("strutil", tests, NULL, NULL);
}
