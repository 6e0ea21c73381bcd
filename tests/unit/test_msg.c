/*
 * Unit tests for lib/util/msg.c and lib/util/mem.c.
 */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "mem.h"
#include "msg.h"
#include "testlib.h"

/* read_file: whole small file into a static buffer. */
static const char *read_file(const char *path)
{
    static char buf[8192];
    int     fd = open(path, O_RDONLY);
    ssize_t n;

    assert_true(fd >= 0);
    n = read(fd, buf, sizeof(buf) - 1);
    assert_true(n >= 0);
    buf[n] = 0;
    close(fd);
    return buf;
}

static void test_levels_and_capture(void **state)
{
    (void) state;
    testlib_log_reset();
    msg_info("%s: from=<%s>", "3F2A1B", "a@b");
    msg_warn("disk %d%% full", 95);
    msg_error("bad thing");
    assert_string_equal(testlib_log(),
                        "3F2A1B: from=<a@b>\nwarning: disk 95% full\nerror: bad thing\n");
}

static void test_control_chars_sanitized(void **state)
{
    (void) state;
    testlib_log_reset();
    msg_info("client said: %s", "evil\r\nfake: line\001\177");
    assert_string_equal(testlib_log(), "client said: evil??fake: line??\n");
}

static void test_fatal_and_panic_hooks(void **state)
{
    (void) state;
    testlib_log_reset();
    TESTLIB_EXPECT_EXIT(MSG_FATAL, msg_fatal("config broken at %s", "here"));
    assert_true(testlib_log_has("fatal: config broken at here\n"));
    TESTLIB_EXPECT_EXIT(MSG_PANIC, msg_panic("bug %d", 1));
    assert_true(testlib_log_has("panic: bug 1\n"));
}

static void test_maillog_file(void **state)
{
    char    path[] = "/tmp/postern-test-msg-XXXXXX";
    int     fd = mkstemp(path);
    const char *text;
    char    expect[128];

    (void) state;
    assert_true(fd >= 0);
    close(fd);
    msg_init("smtpd", 0);
    assert_int_equal(msg_configure("postern-test", "mail", path), 0);
    msg_info("ABC123: client=localhost[127.0.0.1]");
    msg_warn("second line");
    text = read_file(path);
    snprintf(expect, sizeof(expect), " postern-test/smtpd[%ld]: ABC123: client=localhost[127.0.0.1]\n",
             (long) getpid());
    assert_non_null(strstr(text, expect));
    assert_non_null(strstr(text, "]: warning: second line\n"));
    /* Exactly two lines: one write per line, nothing else. */
    assert_int_equal(strchr(strchr(text, '\n') + 1, '\n')[1], 0);
    assert_int_equal(msg_configure("postern", "mail", ""), 0);
    unlink(path);
    msg_init("test", 0);
}

static void test_configure_errors(void **state)
{
    (void) state;
    testlib_log_reset();
    assert_int_equal(msg_configure("postern", "nosuchfacility", ""), -1);
    assert_true(testlib_log_has("warning: unknown syslog_facility \"nosuchfacility\""));
    assert_int_equal(msg_configure("postern", "mail", "/nonexistent-dir/x/maillog"), -1);
    assert_true(testlib_log_has("cannot open maillog_file /nonexistent-dir/x/maillog"));
    assert_int_equal(msg_facility_code("LOCAL3") >= 0, 1);
    assert_int_equal(msg_facility_code("bogus"), -1);
}

static void test_stderr_sink(void **state)
{
    char    path[] = "/tmp/postern-test-err-XXXXXX";
    int     fd = mkstemp(path);
    int     saved = dup(2);

    (void) state;
    assert_true(fd >= 0 && saved >= 0);
    dup2(fd, 2);
    msg_init("/usr/sbin/postconf", MSG_F_STDERR);
    msg_warn("unknown parameter: %s", "foo");
    dup2(saved, 2);
    close(saved);
    close(fd);
    assert_string_equal(read_file(path), "postconf: warning: unknown parameter: foo\n");
    assert_string_equal(msg_progname(), "postconf");
    unlink(path);
    msg_init("test", 0);
}

static void test_mem(void **state)
{
    char   *s;
    unsigned char *z;

    (void) state;
    s = mem_strndup("abcdef", 3);
    assert_string_equal(s, "abc");
    mem_free(s);
    s = mem_strndup("ab", 10);
    assert_string_equal(s, "ab");
    mem_free(s);
    s = mem_memdup("a\0b", 3);
    assert_int_equal(s[1], 0);
    assert_int_equal(s[3], 0);
    mem_free(s);
    z = mem_calloc(4, 4);
    assert_int_equal(z[15], 0);
    assert_null(mem_free(z));
    testlib_log_reset();
    TESTLIB_EXPECT_EXIT(MSG_FATAL, (void) mem_calloc(SIZE_MAX / 2, 4));
    assert_true(testlib_log_has("fatal: allocation size overflow"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_levels_and_capture),
        cmocka_unit_test(test_control_chars_sanitized),
        cmocka_unit_test(test_fatal_and_panic_hooks),
        cmocka_unit_test(test_maillog_file),
        cmocka_unit_test(test_configure_errors),
        cmocka_unit_test(test_stderr_sink),
        cmocka_unit_test(test_mem),
    };

    testlib_setup();
    return cmocka_run_group_tests_name("msg", tests, NULL, NULL);
}
