/*
 * Unit tests for lib/util/dict_mem.c: the in-memory table behind inline:
 * and texthash:.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "dict.h"
#include "dict_mem.h"
#include "mem.h"
#include "strbuf.h"
#include "strutil.h"
#include "testlib.h"

static void test_add_lookup_iterate(void **state)
{
    dict   *d = dict_mem_new("inline", "{x}", 0);
    strbuf *key = strbuf_new(8);
    strbuf *value = strbuf_new(8);
    char    k[16];
    int     i;

    (void) state;
    assert_string_equal(d->spec, "inline:{x}");
    assert_int_equal(d->props, DICT_P_FIXED);
    assert_int_equal(dict_mem_count(d), 0);
    assert_int_equal(dict_iterate(d, 1, key, value), DICT_NOTFOUND);

    /* Enough entries to make the index grow; order must be kept. */
    for (i = 0; i < 200; i++) {
        (void) str_format(k, sizeof(k), "k%03d", 199 - i);
        assert_int_equal(dict_mem_add(d, k, "v"), 0);
    }
    assert_int_equal(dict_mem_add(d, "k005", "other"), 1);
    assert_int_equal(dict_mem_count(d), 200);
    assert_int_equal(dict_mem_bytes(d), 200 * 5);
    assert_int_equal(dict_get(d, "k005", value), DICT_FOUND);
    assert_string_equal(value->data, "v");
    assert_int_equal(dict_get(d, "K005", value), DICT_NOTFOUND);
    for (i = 0; i < 200; i++) {
        assert_int_equal(dict_iterate(d, i == 0, key, value), DICT_FOUND);
        (void) str_format(k, sizeof(k), "k%03d", 199 - i);
        assert_string_equal(key->data, k);
    }
    assert_int_equal(dict_iterate(d, 0, key, value), DICT_NOTFOUND);

    /* Empty keys and values are stored like any other. */
    assert_int_equal(dict_mem_add(d, "", ""), 0);
    assert_int_equal(d->lookup(d, "", value), DICT_FOUND);
    assert_string_equal(value->data, "");
    d->refcount = 1;
    assert_null(dict_close(d));
    strbuf_free(key);
    strbuf_free(value);
}

static void test_fold(void **state)
{
    dict   *d = dict_mem_new("texthash", "x", DICT_F_FOLD);
    strbuf *value = strbuf_new(8);

    (void) state;
    assert_int_equal(dict_mem_add(d, "MiXeD", "Value"), 0);
    assert_int_equal(dict_mem_add(d, "mixed", "other"), 1);
    assert_int_equal(dict_get(d, "MIXED", value), DICT_FOUND);
    assert_string_equal(value->data, "Value");
    d->refcount = 1;
    dict_close(d);
    strbuf_free(value);
}

static void test_watch(void **state)
{
    char    path[] = "/tmp/test_dict_mem.XXXXXX";
    int     fd = mkstemp(path);
    struct stat st;
    dict   *d = dict_mem_new("texthash", path, 0);

    (void) state;
    assert_true(fd >= 0);
    assert_int_equal(dict_changed(d), 0);               /* nothing watched */
    assert_false(d->props & DICT_P_FILE);
    assert_int_equal(fstat(fd, &st), 0);
    dict_mem_watch(d, path, &st);
    assert_true(d->props & DICT_P_FILE);
    assert_int_equal(dict_changed(d), 0);
    unlink(path);
    assert_int_equal(dict_changed(d), 1);
    close(fd);
    d->refcount = 1;
    dict_close(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_add_lookup_iterate),
        cmocka_unit_test(test_fold),
        cmocka_unit_test(test_watch),
    };

    testlib_setup();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
