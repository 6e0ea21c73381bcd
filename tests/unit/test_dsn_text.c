/*
 * Unit tests for lib/mail/dsn_text.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "dsn_text.h"
#include "strbuf.h"
#include "testlib.h"

static void test_status_len(void **state)
{
    static const struct {
        const char *text;
        size_t  len;
    } cases[] = {
        {"5.1.1 User unknown", 5},
        {"4.3.0", 5},
        {"2.0.0\tok", 5},
        {"5.123.456 x", 9},
        {"5.1234.1 x", 0},              /* subject too long */
        {"5.1.1234 x", 0},              /* detail too long */
        {"3.1.1 x", 0},                 /* no such class */
        {"5.1.1x", 0},                  /* not followed by space */
        {"5..1 x", 0},
        {"5.1. x", 0},
        {"5.1", 0},
        {"51.1.1", 0},
        {"", 0},
        {" 5.1.1 leading space", 0},
    };
    size_t  i;

    (void) state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t  got = dsn_text_status_len(cases[i].text);

        if (got != cases[i].len)
            fail_msg("case %zu \"%s\": got %zu, want %zu", i, cases[i].text,
                     got, cases[i].len);
    }
    assert_int_equal(dsn_text_status_len(NULL), 0);
}

static void test_split(void **state)
{
    static const struct {
        const char *text;
        const char *def;
        const char *classes;
        int     found;
        const char *status;
        const char *reason;
    } cases[] = {
        {"5.1.1 User unknown", "5.0.0", "45", 1, "5.1.1", "User unknown"},
        {"  4.3.2   try later  ", "5.0.0", "45", 1, "4.3.2", "try later"},
        {"gone away", "5.0.0", "45", 0, "5.0.0", "gone away"},
        {"2.0.0 fine", "5.0.0", "45", 0, "5.0.0", "2.0.0 fine"},
        {"2.6.0 dropped", "2.0.0", "2", 1, "2.6.0", "dropped"},
        {"5.7.1 no", "2.0.0", "2", 0, "2.0.0", "5.7.1 no"},
        {"5.1.1", "5.0.0", "45", 1, "5.1.1", ""},
        {"", "4.0.0", "45", 0, "4.0.0", ""},
        {"a\r\nb\tc\x7f", "5.0.0", "45", 0, "5.0.0", "a??b?c?"},
        {"5.1.1x text", "5.0.0", "45", 0, "5.0.0", "5.1.1x text"},
    };
    strbuf *status = strbuf_new(4);
    strbuf *reason = strbuf_new(4);
    size_t  i;

    (void) state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int     found = dsn_text_split(cases[i].text, cases[i].def,
                                       cases[i].classes, status, reason);

        if (found != cases[i].found || strcmp(status->data, cases[i].status)
            || strcmp(reason->data, cases[i].reason))
            fail_msg("case %zu \"%s\": got %d \"%s\" \"%s\"", i, cases[i].text,
                     found, status->data, reason->data);
    }
    assert_int_equal(dsn_text_split(NULL, "4.0.0", "45", status, reason), 0);
    assert_string_equal(status->data, "4.0.0");
    assert_string_equal(reason->data, "");
    strbuf_free(status);
    strbuf_free(reason);
}

int     main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_status_len),
        cmocka_unit_test(test_split),
    };

    testlib_setup();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
