/*
 * Unit tests for lib/util/numparse.c.
 */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "numparse.h"
#include "testlib.h"

static const struct {
    const char *input;
    long    min, max;
    int     ok;
    long    value;
} long_cases[] = {
    {"0", 0, 10, 1, 0},
    {"10", 0, 10, 1, 10},
    {"11", 0, 10, 0, 0},
    {"-1", 0, 10, 0, 0},
    {"-1", -5, 10, 1, -1},
    {"+7", 0, 10, 1, 7},
    {"", 0, 10, 0, 0},
    {"-", -10, 10, 0, 0},
    {"+", -10, 10, 0, 0},
    {" 1", 0, 10, 0, 0},
    {"1 ", 0, 10, 0, 0},
    {"1x", 0, 10, 0, 0},
    {"0x10", 0, 100, 0, 0},
    {"65535", 0, 65535, 1, 65535},
    {"65536", 0, 65535, 0, 0},
    {"9223372036854775807", LONG_MIN, LONG_MAX, 1, LONG_MAX},
    {"9223372036854775808", LONG_MIN, LONG_MAX, 0, 0},
    {"-9223372036854775808", LONG_MIN, LONG_MAX, 1, LONG_MIN},
    {"-9223372036854775809", LONG_MIN, LONG_MAX, 0, 0},
    {"99999999999999999999999", LONG_MIN, LONG_MAX, 0, 0},
};

static void test_long_table(void **state)
{
    size_t  i;

    (void) state;
    for (i = 0; i < sizeof(long_cases) / sizeof(long_cases[0]); i++) {
        long    v = 12345;
        int     r = num_parse_long(long_cases[i].input, long_cases[i].min,
                                   long_cases[i].max, &v);

        if (long_cases[i].ok) {
            assert_int_equal(r, 0);
            assert_int_equal(v, long_cases[i].value);
        } else {
            assert_int_equal(r, -1);
            assert_int_equal(v, 12345);         /* untouched on failure */
        }
    }
}

static void test_long_n(void **state)
{
    long    v;

    (void) state;
    assert_int_equal(num_parse_long_n("123abc", 3, 0, 1000, &v), 0);
    assert_int_equal(v, 123);
    assert_int_equal(num_parse_long_n("123abc", 4, 0, 1000, &v), -1);
    assert_int_equal(num_parse_long_n("1\0002", 3, 0, 1000, &v), -1);
    assert_int_equal(num_parse_long_n("", 0, 0, 1000, &v), -1);
}

static void test_ulong(void **state)
{
    unsigned long v;

    (void) state;
    assert_int_equal(num_parse_ulong("18446744073709551615", ULONG_MAX, &v), 0);
    assert_true(v == ULONG_MAX);
    assert_int_equal(num_parse_ulong("18446744073709551616", ULONG_MAX, &v), -1);
    assert_int_equal(num_parse_ulong("-1", ULONG_MAX, &v), -1);
    assert_int_equal(num_parse_ulong("+1", ULONG_MAX, &v), -1);
    assert_int_equal(num_parse_ulong("", ULONG_MAX, &v), -1);
    assert_int_equal(num_parse_ulong("11", 10, &v), -1);
    assert_int_equal(num_parse_ulong("10", 10, &v), 0);
    assert_int_equal(v, 10);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_long_table),
        cmocka_unit_test(test_long_n),
        cmocka_unit_test(test_ulong),
    };

    testlib_setup();
    return cmocka_run_group_tests_name("numparse", tests, NULL, NULL);
}
