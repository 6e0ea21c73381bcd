/*
 * Unit tests for lib/mail/trigger.c: writing trigger bytes to a socket.
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
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <cmocka.h>

#include "param.h"
#include "param_names.h"
#include "strbuf.h"
#include "strutil.h"
#include "testlib.h"
#include "trigger.h"

static char qdir[] = "/tmp/test_trigger.XXXXXX";
static char origdir[4096];

/* listen_at: a listening UNIX socket at path. */
static int listen_at(const char *path)
{
    struct sockaddr_un addr;
    int     fd = socket(AF_UNIX, SOCK_STREAM, 0);

    assert_true(fd >= 0);
    memset(&addr, 0, sizeof(addr));
    addr.sun_family = AF_UNIX;
    assert_int_equal(str_copy(addr.sun_path, sizeof(addr.sun_path), path), 0);
    unlink(path);
    assert_int_equal(bind(fd, (struct sockaddr *) &addr, sizeof(addr)), 0);
    assert_int_equal(listen(fd, 5), 0);
    return fd;
}

/* take: accept one connection and read everything it sent. */
static void take(int lfd, strbuf *got)
{
    char    buf[256];
    ssize_t n;
    int     c = accept(lfd, NULL, NULL);

    assert_true(c >= 0);
    strbuf_reset(got);
    while ((n = read(c, buf, sizeof(buf))) > 0)
        strbuf_append(got, buf, (size_t) n);
    close(c);
}

/* test_absolute: bytes arrive, the client closes. */
static void test_absolute(void **state)
{
    strbuf *path = strbuf_new(64);
    strbuf *got = strbuf_new(64);
    int     lfd;

    (void) state;
    strbuf_printf(path, "%s/public/qmgr", qdir);
    lfd = listen_at(path->data);
    assert_int_equal(trigger_send(path->data, "W", 1, 1000), 0);
    take(lfd, got);
    assert_int_equal(got->len, 1);
    assert_string_equal(got->data, "W");
    assert_int_equal(trigger_send(path->data, "I\0A", 3, 0), 0);
    take(lfd, got);
    assert_int_equal(got->len, 3);
    assert_memory_equal(got->data, "I\0A", 3);
    close(lfd);
    strbuf_free(path);
    strbuf_free(got);
}

/* test_relative: relative paths work from cwd and via queue_directory. */
static void test_relative(void **state)
{
    strbuf *path = strbuf_new(64);
    strbuf *got = strbuf_new(64);
    int     lfd;

    (void) state;
    strbuf_printf(path, "%s/" TRIGGER_PICKUP_PATH, qdir);
    lfd = listen_at(path->data);
    /* Not in the spool: found through queue_directory. */
    assert_int_equal(chdir("/"), 0);
    assert_int_equal(trigger_send(TRIGGER_PICKUP_PATH, "x", 1, 1000), 0);
    take(lfd, got);
    assert_string_equal(got->data, "x");
    /* In the spool: found relative to the current directory. */
    assert_int_equal(chdir(qdir), 0);
    param_override(PARAM_QUEUE_DIRECTORY, "/nonexistent");
    assert_int_equal(trigger_send(TRIGGER_PICKUP_PATH, "y", 1, 1000), 0);
    take(lfd, got);
    assert_string_equal(got->data, "y");
    param_override(PARAM_QUEUE_DIRECTORY, qdir);
    assert_int_equal(chdir(origdir), 0);
    close(lfd);
    strbuf_free(path);
    strbuf_free(got);
}

/* test_errors: no socket, a plain file, a path too long. */
static void test_errors(void **state)
{
    strbuf *path = strbuf_new(64);
    char    longp[300];
    int     fd;

    (void) state;
    errno = 0;
    assert_int_equal(trigger_send("public/none", "W", 1, 500), -1);
    assert_int_equal(errno, ENOENT);
    strbuf_printf(path, "%s/public/file", qdir);
    fd = open(path->data, O_CREAT | O_WRONLY, 0600);
    assert_true(fd >= 0);
    close(fd);
    errno = 0;
    assert_int_equal(trigger_send(path->data, "W", 1, 500), -1);
    assert_int_equal(errno, ECONNREFUSED);
    memset(longp, 'a', sizeof(longp) - 1);
    longp[0] = '/';
    longp[sizeof(longp) - 1] = 0;
    errno = 0;
    assert_int_equal(trigger_send(longp, "W", 1, 500), -1);
    assert_int_equal(errno, ENAMETOOLONG);
    assert_int_equal(trigger_connect(longp, 500), -1);
    strbuf_free(path);
}

/* test_connect: trigger_connect returns a blocking descriptor. */
static void test_connect(void **state)
{
    strbuf *path = strbuf_new(64);
    strbuf *got = strbuf_new(64);
    int     lfd, fd;

    (void) state;
    strbuf_printf(path, "%s/private/local", qdir);
    lfd = listen_at(path->data);
    fd = trigger_connect("private/local", 1000);
    assert_true(fd >= 0);
    assert_int_equal(fcntl(fd, F_GETFL) & O_NONBLOCK, 0);
    assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
    assert_int_equal(write(fd, "hello", 5), 5);
    close(fd);
    take(lfd, got);
    assert_string_equal(got->data, "hello");
    close(lfd);
    strbuf_free(path);
    strbuf_free(got);
}

/* setup: a temporary spool with public/ and private/. */
static int setup(void **state)
{
    strbuf *p = strbuf_new(64);

    (void) state;
    assert_non_null(getcwd(origdir, sizeof(origdir)));
    assert_non_null(mkdtemp(qdir));
    strbuf_printf(p, "%s/public", qdir);
    assert_int_equal(mkdir(p->data, 0700), 0);
    strbuf_reset(p);
    strbuf_printf(p, "%s/private", qdir);
    assert_int_equal(mkdir(p->data, 0700), 0);
    strbuf_free(p);
    param_override(PARAM_QUEUE_DIRECTORY, qdir);
    return 0;
}

/* teardown: remove the spool. */
static int teardown(void **state)
{
    strbuf *cmd = strbuf_new(64);
    int     rc;

    (void) state;
    strbuf_printf(cmd, "rm -rf '%s'", qdir);
    rc = system(cmd->data);
    strbuf_free(cmd);
    return rc == 0 ? 0 : -1;
}

int     main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_absolute),
        cmocka_unit_test(test_relative),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_connect),
    };

    testlib_setup();
    return cmocka_run_group_tests(tests, setup, teardown);
}
