/*
 * Unit tests for tools/sinkrule.c (postern-smtp-sink's recipient rules).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "sinkrule.h"
#include "strbuf.h"
#include "testlib.h"

/* First matching rule wins; case-insensitive; default accept. */
static void test_match(void **state)
{
    static const struct {
        const char *addr;
        enum sinkrule_action want;
    } cases[] = {
        {"user@defer.test", SINKRULE_DEFER},
        {"USER@DEFER.TEST", SINKRULE_DEFER},
        {"bad1@example.com", SINKRULE_REJECT},
        {"bad@defer.test", SINKRULE_REJECT},     /* first rule wins */
        {"drop-me@x", SINKRULE_DROP},
        {"good@example.com", SINKRULE_ACCEPT},
        {"", SINKRULE_ACCEPT},
        {"user@defer.test.example", SINKRULE_ACCEPT},
    };
    sinkrule_list *list = sinkrule_list_new();
    strbuf *err = strbuf_new(16);
    size_t  i;

    (void) state;
    assert_int_equal(sinkrule_add(list, SINKRULE_REJECT, "bad*", err), 0);
    assert_int_equal(sinkrule_add(list, SINKRULE_DEFER, "*@defer.test", err), 0);
    assert_int_equal(sinkrule_add(list, SINKRULE_DROP, "drop-*", err), 0);
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        enum sinkrule_action got = sinkrule_match(list, cases[i].addr,
                                                  strlen(cases[i].addr));

        if (got != cases[i].want)
            fail_msg("%s: %s, want %s", cases[i].addr, sinkrule_action_name(got),
                     sinkrule_action_name(cases[i].want));
    }
    /* Not NUL-terminated input: only len bytes count. */
    assert_int_equal(sinkrule_match(list, "bad@xyz", 3), SINKRULE_REJECT);
    assert_int_equal(sinkrule_match(list, "xbad", 1), SINKRULE_ACCEPT);
    sinkrule_list_free(list);
    strbuf_free(err);
}

/* Hostile addresses: embedded NUL and overlong input are not matched. */
static void test_hostile(void **state)
{
    sinkrule_list *list = sinkrule_list_new();
    strbuf *err = strbuf_new(16);
    char    big[SINKRULE_PATTERN_MAX + 10];

    (void) state;
    assert_int_equal(sinkrule_add(list, SINKRULE_REJECT, "*", err), 0);
    assert_int_equal(sinkrule_match(list, "a\0b", 3), SINKRULE_ACCEPT);
    memset(big, 'a', sizeof(big));
    assert_int_equal(sinkrule_match(list, big, sizeof(big)), SINKRULE_ACCEPT);
    assert_int_equal(sinkrule_match(list, big, SINKRULE_PATTERN_MAX), SINKRULE_REJECT);
    sinkrule_list_free(list);
    strbuf_free(err);
}

/* Bad rules and a full list are refused with a reason. */
static void test_add_errors(void **state)
{
    sinkrule_list *list = sinkrule_list_new();
    strbuf *err = strbuf_new(16);
    char    big[SINKRULE_PATTERN_MAX + 2];
    int     i;

    (void) state;
    assert_int_equal(sinkrule_add(list, SINKRULE_REJECT, "", err), -1);
    assert_non_null(strstr(err->data, "pattern must have"));
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    assert_int_equal(sinkrule_add(list, SINKRULE_REJECT, big, err), -1);
    for (i = 0; i < SINKRULE_MAX; i++)
        assert_int_equal(sinkrule_add(list, SINKRULE_DEFER, "x*", err), 0);
    assert_int_equal(sinkrule_add(list, SINKRULE_DEFER, "y*", err), -1);
    assert_non_null(strstr(err->data, "more than"));
    assert_string_equal(sinkrule_action_name(SINKRULE_DROP), "drop");
    assert_string_equal(sinkrule_action_name(SINKRULE_ACCEPT), "accept");
    assert_null(sinkrule_list_free(list));
    assert_null(sinkrule_list_free(NULL));
    strbuf_free(err);
}

int     main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_match),
        cmocka_unit_test(test_hostile),
        cmocka_unit_test(test_add_errors),
    };

    testlib_setup();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
