/*
 * Unit tests for lib/util/strbuf.c.
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

static void test_append_grows(void **state)
{
    strbuf *sb = strbuf_new(1);
    int     i;

    (void) state;
    for (i = 0; i < 1000; i++)
        assert_int_equal(strbuf_puts(sb, "abc"), 0);
    assert_int_equal(sb->len, 3000);
    assert_int_equal(strlen(sb->data), 3000);
    assert_memory_equal(sb->data + 2997, "abc", 4);
    strbuf_free(sb);
}

static void test_embedded_nul(void **state)
{
    strbuf *sb = strbuf_new(4);

    (void) state;
    assert_int_equal(strbuf_append(sb, "a\0b", 3), 0);
    assert_int_equal(sb->len, 3);
    assert_int_equal(sb->data[1], 0);
    assert_int_equal(sb->data[3], 0);
    strbuf_free(sb);
}

static void test_limit(void **state)
{
    strbuf *sb = strbuf_new(4);

    (void) state;
    strbuf_set_limit(sb, 5);
    assert_int_equal(strbuf_puts(sb, "abcd"), 0);
    assert_int_equal(strbuf_puts(sb, "ef"), -1);
    assert_string_equal(sb->data, "abcd");
    assert_int_equal(strbuf_putc(sb, 'e'), 0);
    assert_int_equal(strbuf_putc(sb, 'f'), -1);
    assert_int_equal(strbuf_printf(sb, "%d", 1), -1);
    assert_string_equal(sb->data, "abcde");
    assert_int_equal(strbuf_set(sb, "123456", 6), -1);
    assert_string_equal(sb->data, "abcde");
    strbuf_reset(sb);
    assert_int_equal(strbuf_printf(sb, "%s", "12345"), 0);
    assert_int_equal(strbuf_printf(sb, "%s", ""), 0);
    strbuf_free(sb);
}

static void test_printf_large(void **state)
{
    strbuf *sb = strbuf_new(2);
    char    big[5000];

    (void) state;
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = 0;
    assert_int_equal(strbuf_printf(sb, "<%s>%d", big, 42), 0);
    assert_int_equal(sb->len, 4999 + 4);
    assert_string_equal(sb->data + 5000, ">42");
    strbuf_free(sb);
}

static void test_truncate_detach(void **state)
{
    strbuf *sb = strbuf_new(0);
    size_t  len;
    char   *s;

    (void) state;
    strbuf_puts(sb, "hello world");
    strbuf_truncate(sb, 5);
    strbuf_truncate(sb, 50);
    assert_string_equal(sb->data, "hello");
    s = strbuf_detach(sb, &len);
    assert_int_equal(len, 5);
    assert_string_equal(s, "hello");
    mem_free(s);
    assert_null(strbuf_free(NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_append_grows),
        cmocka_unit_test(test_embedded_nul),
        cmocka_unit_test(test_limit),
        cmocka_unit_test(test_printf_large),
        cmocka_unit_test(test_truncate_detach),
    };

    testlib_setup();
    return cmocka_run_group_tests_name("strbuf", tests, NULL, NULL);
}
