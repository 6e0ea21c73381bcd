/*
 * Unit tests for lib/util/htable.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "htable.h"
#include "mem.h"
#include "testlib.h"

static int freed;

static void count_free(void *value)
{
    freed++;
    mem_free(value);
}

static void test_put_find_remove(void **state)
{
    htable *t = htable_new(0);
    char    key[32];
    int     i, found;

    (void) state;
    for (i = 0; i < 5000; i++) {
        snprintf(key, sizeof(key), "key%d", i);
        assert_null(htable_put(t, key, mem_strdup(key)));
    }
    assert_int_equal(htable_count(t), 5000);
    for (i = 0; i < 5000; i++) {
        snprintf(key, sizeof(key), "key%d", i);
        assert_string_equal(htable_find(t, key), key);
    }
    assert_null(htable_find(t, "nokey"));
    assert_false(htable_has(t, "nokey"));
    mem_free(htable_remove(t, "key7", &found));
    assert_true(found);
    assert_null(htable_remove(t, "key7", &found));
    assert_false(found);
    assert_int_equal(htable_count(t), 4999);
    mem_free(htable_put(t, "key8", mem_strdup("new")));
    assert_string_equal(htable_find(t, "key8"), "new");
    freed = 0;
    assert_null(htable_free(t, count_free));
    assert_int_equal(freed, 4999);
}

static void test_null_value_and_keys(void **state)
{
    htable *t = htable_new(4);
    const char **keys;
    size_t  n;

    (void) state;
    htable_put(t, "b", NULL);
    htable_put(t, "a", NULL);
    htable_put(t, "c", NULL);
    assert_true(htable_has(t, "b"));
    assert_null(htable_find(t, "b"));
    keys = htable_keys(t, &n);
    assert_int_equal(n, 3);
    assert_string_equal(keys[0], "a");
    assert_string_equal(keys[1], "b");
    assert_string_equal(keys[2], "c");
    assert_null(keys[3]);
    mem_free(keys);
    htable_free(t, NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_put_find_remove),
        cmocka_unit_test(test_null_value_and_keys),
    };

    testlib_setup();
    return cmocka_run_group_tests_name("htable", tests, NULL, NULL);
}
