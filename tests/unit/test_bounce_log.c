/*
 * Unit tests for lib/mail/bounce_log.c: per-message recipient logs.
 *
 * A temporary queue_directory with bounce/ and defer/ is set up per test
 * run; defer/ is hashed (hash_queue_names default), bounce/ is not.
 */
#include <errno.h>
#include <fcntl.h>
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

#include "bounce_log.h"
#include "mail_queue.h"
#include "mem.h"
#include "param.h"
#include "param_names.h"
#include "strbuf.h"
#include "testlib.h"

static char qdir[] = "/tmp/test_bounce_log.XXXXXX";

/* write_raw: put raw bytes into queue/ID (for corrupt-file cases). */
static void write_raw(const char *queue, const char *id, const char *data)
{
    strbuf *path = strbuf_new(64);
    FILE   *fp;

    assert_int_equal(mail_queue_mkdirs(queue, id, NULL), 0);
    assert_int_equal(mail_queue_path(queue, id, path), 0);
    fp = fopen(path->data, "w");
    assert_non_null(fp);
    fputs(data, fp);
    fclose(fp);
    strbuf_free(path);
}

/* test_round_trip: entries come back as written, with awkward bytes. */
static void test_round_trip(void **state)
{
    static const char *queues[] = {BOUNCE_LOG_BOUNCE, BOUNCE_LOG_DEFER};
    bounce_log_entry e1 = {"user@example.com", "alias@example.com",
        "rfc822;alias@example.com", 2, "5.1.1", "failed",
        "unknown user: \"user\"\twith tab %% and 8bit \xc3\xa9\n", "local",
        1700000000L};
    bounce_log_entry e2 = {"b@x", NULL, NULL, 0, "4.3.0", "delayed",
        "temporary", NULL, 5};
    bounce_log_entry got;
    strbuf *err = strbuf_new(64);
    bounce_log *log;
    size_t  q;

    (void) state;
    for (q = 0; q < 2; q++) {
        const char *id = q ? "ABCDE12" : "FEDCB34";

        assert_int_equal(bounce_log_exists(queues[q], id), 0);
        assert_int_equal(bounce_log_append(queues[q], id, &e1, err), 0);
        assert_int_equal(bounce_log_append(queues[q], id, &e2, err), 0);
        assert_int_equal(bounce_log_exists(queues[q], id), 1);
        log = bounce_log_open(queues[q], id, err);
        assert_non_null(log);
        assert_int_equal(bounce_log_next(log, &got), 1);
        assert_string_equal(got.recipient, e1.recipient);
        assert_string_equal(got.orig, e1.orig);
        assert_string_equal(got.orcpt, e1.orcpt);
        assert_int_equal(got.notify, 2);
        assert_string_equal(got.dsn_status, "5.1.1");
        assert_string_equal(got.dsn_action, "failed");
        assert_string_equal(got.reason, e1.reason);
        assert_string_equal(got.relay, "local");
        assert_int_equal(got.time, 1700000000L);
        assert_int_equal(bounce_log_next(log, &got), 1);
        assert_string_equal(got.recipient, "b@x");
        assert_null(got.orig);
        assert_null(got.relay);
        assert_int_equal(got.notify, 0);
        assert_int_equal(got.time, 5);
        assert_int_equal(bounce_log_next(log, &got), 0);
        assert_int_equal(bounce_log_next(log, &got), 0);
        bounce_log_close(log);
        assert_int_equal(bounce_log_remove(queues[q], id), 0);
        assert_int_equal(bounce_log_exists(queues[q], id), 0);
        assert_int_equal(bounce_log_remove(queues[q], id), 0);
    }
    strbuf_free(err);
}

/* test_defer_hashed: the defer log lives in a hashed subdirectory. */
static void test_defer_hashed(void **state)
{
    bounce_log_entry e = {"a@b", NULL, NULL, 0, "4.0.0", "delayed", "x",
        NULL, 1};
    strbuf *path = strbuf_new(64);
    struct stat st;

    (void) state;
    assert_int_equal(bounce_log_append(BOUNCE_LOG_DEFER, "9ABCD1", &e, NULL), 0);
    strbuf_printf(path, "%s/defer/9/9ABCD1", qdir);
    assert_int_equal(stat(path->data, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(bounce_log_remove(BOUNCE_LOG_DEFER, "9ABCD1"), 0);
    strbuf_free(path);
}

/* test_bad_names: bad queue names and IDs never become paths. */
static void test_bad_names(void **state)
{
    bounce_log_entry e = {"a@b", NULL, NULL, 0, NULL, NULL, NULL, NULL, 0};
    bounce_log_entry none = {NULL, NULL, NULL, 0, NULL, NULL, NULL, NULL, 0};
    static const char *bad_ids[] = {"../etc", "", "AB/CD", "abc def",
        "0123456789ABCDEF0123456789ABCDEF0123456789"};
    strbuf *err = strbuf_new(64);
    size_t  i;

    (void) state;
    for (i = 0; i < sizeof(bad_ids) / sizeof(bad_ids[0]); i++) {
        strbuf_reset(err);
        assert_int_equal(bounce_log_append(BOUNCE_LOG_BOUNCE, bad_ids[i], &e,
                                           err), -1);
        assert_non_null(strstr(err->data, "bad queue ID"));
        assert_null(bounce_log_open(BOUNCE_LOG_BOUNCE, bad_ids[i], NULL));
        assert_int_equal(bounce_log_remove(BOUNCE_LOG_BOUNCE, bad_ids[i]), -1);
    }
    assert_int_equal(bounce_log_append("active", "ABCDE1", &e, NULL), -1);
    assert_int_equal(bounce_log_append(NULL, "ABCDE1", &e, NULL), -1);
    assert_int_equal(bounce_log_append(BOUNCE_LOG_BOUNCE, "ABCDE1", &none, NULL),
                     -1);
    assert_int_equal(bounce_log_exists(BOUNCE_LOG_BOUNCE, "ABCDE1"), 0);
    strbuf_free(err);
}

/* test_missing: no log is ENOENT. */
static void test_missing(void **state)
{
    (void) state;
    errno = 0;
    assert_null(bounce_log_open(BOUNCE_LOG_BOUNCE, "1234567", NULL));
    assert_int_equal(errno, ENOENT);
}

/* test_corrupt: damaged logs give -1 after the good entries, never crash. */
static void test_corrupt(void **state)
{
    static const struct {
        const char *name;
        const char *data;
        int     good;                   /* entries before the error */
    } cases[] = {
        {"truncated", "recipient=a@b\ntime=1\n\nrecipient=c@d\n", 1},
        {"no recipient", "reason=x\n\n", 0},
        {"unknown name", "recipient=a\nbogus=1\n\n", 0},
        {"repeated", "recipient=a\nrecipient=b\n\n", 0},
        {"bad number", "recipient=a\ntime=-1\n\n", 0},
        {"bad notify", "recipient=a\nnotify_flags=99\n\n", 0},
        {"raw space", "recipient=a b\n\n", 0},
        {"bad escape", "recipient=a%2\n\n", 0},
        {"NUL in text", "recipient=a%00b\n\n", 0},
    };
    bounce_log_entry got;
    bounce_log *log;
    size_t  i;
    int     n;

    (void) state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        write_raw(BOUNCE_LOG_BOUNCE, "C0FFEE1", cases[i].data);
        log = bounce_log_open(BOUNCE_LOG_BOUNCE, "C0FFEE1", NULL);
        assert_non_null(log);
        for (n = 0; n < cases[i].good; n++)
            assert_int_equal(bounce_log_next(log, &got), 1);
        if (bounce_log_next(log, &got) != -1)
            fail_msg("case %s: not rejected", cases[i].name);
        assert_true(strlen(bounce_log_error(log)) > 0);
        assert_int_equal(bounce_log_next(log, &got), -1);
        bounce_log_close(log);
    }
    assert_int_equal(bounce_log_remove(BOUNCE_LOG_BOUNCE, "C0FFEE1"), 0);
}

/* test_too_large: oversized entries are refused on append. */
static void test_too_large(void **state)
{
    bounce_log_entry e = {"a@b", NULL, NULL, 0, NULL, NULL, NULL, NULL, 0};
    char   *big = mem_alloc(BOUNCE_LOG_ENTRY_MAX + 10);
    strbuf *err = strbuf_new(64);

    (void) state;
    memset(big, 'x', BOUNCE_LOG_ENTRY_MAX + 9);
    big[BOUNCE_LOG_ENTRY_MAX + 9] = 0;
    e.reason = big;
    assert_int_equal(bounce_log_append(BOUNCE_LOG_BOUNCE, "ABC123", &e, err), -1);
    assert_non_null(strstr(err->data, "too large"));
    assert_int_equal(bounce_log_exists(BOUNCE_LOG_BOUNCE, "ABC123"), 0);
    mem_free(big);
    strbuf_free(err);
}

/* setup: a temporary queue_directory. */
static int setup(void **state)
{
    strbuf *p = strbuf_new(64);

    (void) state;
    assert_non_null(mkdtemp(qdir));
    strbuf_printf(p, "%s/bounce", qdir);
    assert_int_equal(mkdir(p->data, 0700), 0);
    strbuf_reset(p);
    strbuf_printf(p, "%s/defer", qdir);
    assert_int_equal(mkdir(p->data, 0700), 0);
    strbuf_free(p);
    param_override(PARAM_QUEUE_DIRECTORY, qdir);
    return 0;
}

/* teardown: remove the temporary queue_directory. */
static int teardown(void **state)
{
    strbuf *cmd = strbuf_new(64);

    (void) state;
    strbuf_printf(cmd, "rm -rf '%s'", qdir);
    if (system(cmd->data) != 0)
        return -1;
    strbuf_free(cmd);
    return 0;
}

int     main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_defer_hashed),
        cmocka_unit_test(test_bad_names),
        cmocka_unit_test(test_missing),
        cmocka_unit_test(test_corrupt),
        cmocka_unit_test(test_too_large),
    };

    testlib_setup();
    return cmocka_run_group_tests(tests, setup, teardown);
}
