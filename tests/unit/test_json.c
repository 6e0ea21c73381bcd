/*
 * Unit tests for lib/util/json.c and lib/util/utf8.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "json.h"
#include "strbuf.h"
#include "testlib.h"
#include "utf8.h"

static void test_json_string(void **state)
{
    static const struct {
        const char *in;
        const char *out;
    } cases[] = {
        {"plain", "\"plain\""},
        {"", "\"\""},
        {"a\"b\\c", "\"a\\\"b\\\\c\""},
        {"t\tn\nr\r", "\"t\\tn\\nr\\r\""},
        {"\x01\x1f\x7f", "\"\\u0001\\u001f\\u007f\""},
        {"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\""},
        {"bad\xff", "\"bad\\ufffd\""},
        {"\xc0\x80", "\"\\ufffd\\ufffd\""},
        {"\xed\xa0\x80", "\"\\ufffd\\ufffd\\ufffd\""},
        {"\xe2\x82", "\"\\ufffd\\ufffd\""},
        {"\xf4\x90\x80\x80", "\"\\ufffd\\ufffd\\ufffd\\ufffd\""},
    };
    strbuf *out = strbuf_new(16);
    size_t  i;

    (void) state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        strbuf_reset(out);
        json_string(out, cases[i].in);
        assert_string_equal(out->data, cases[i].out);
    }
    strbuf_free(out);
}

static void test_utf8(void **state)
{
    static const struct {
        const char *bytes;
        size_t  len;
        int     valid;
    } cases[] = {
        {"", 0, 1},
        {"ascii\0nul", 9, 1},
        {"caf\xc3\xa9", 5, 1},
        {"\xe2\x82\xac", 3, 1},
        {"\xf0\x9f\x98\x80", 4, 1},
        {"\xf4\x8f\xbf\xbf", 4, 1},            /* U+10FFFF */
        {"\xf4\x90\x80\x80", 4, 0},            /* past U+10FFFF */
        {"\xc0\x80", 2, 0},                    /* overlong NUL */
        {"\xc1\xbf", 2, 0},
        {"\xe0\x9f\xbf", 3, 0},                /* overlong */
        {"\xf0\x8f\xbf\xbf", 4, 0},            /* overlong */
        {"\xed\xa0\x80", 3, 0},                /* surrogate */
        {"\xe2\x82", 2, 0},                    /* truncated */
        {"\x80", 1, 0},                        /* lone continuation */
        {"\xff", 1, 0},
    };
    size_t  i;
    unsigned cp = 0;

    (void) state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        assert_int_equal(utf8_valid(cases[i].bytes, cases[i].len), cases[i].valid);
    assert_int_equal(utf8_seq((const unsigned char *) "\xe2\x82\xac", 3, &cp), 3);
    assert_int_equal(cp, 0x20ac);
    assert_int_equal(utf8_seq((const unsigned char *) "\xe2\x82\xac", 2, &cp), 0);
    assert_int_equal(utf8_seq((const unsigned char *) "A", 0, &cp), 0);
    assert_int_equal(utf8_seq((const unsigned char *) "A", 1, &cp), 1);
    assert_int_equal(cp, 'A');
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_string),
        cmocka_unit_test(test_utf8),
    };

    testlib_setup();
    return cmocka_run_group_tests_name("json", tests, NULL, NULL);
}
