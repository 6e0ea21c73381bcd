/*
 * Unit tests for lib/util/fileio.c.
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
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "fileio.h"
#include "mem.h"
#include "strbuf.h"
#include "strutil.h"
#include "testlib.h"

static char tmpdir[] = "/tmp/postern-test-fileio-XXXXXX";

/* path_in: a path inside the test directory (static buffer). */
static const char *path_in(const char *name)
{
    static char path[256];

    assert_int_equal(str_format(path, sizeof(path), "%s/%s", tmpdir, name), 0);
    return path;
}

static void test_read_all(void **state)
{
    strbuf *buf = strbuf_new(4);
    strbuf *err = strbuf_new(64);
    const char *p = path_in("small");
    int     fd;

    (void) state;
    fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(fileio_write_all(fd, "0123456789\0x", 12), 0);
    close(fd);
    assert_int_equal(fileio_read_all(p, 12, buf, err), 0);
    assert_int_equal(buf->len, 12);
    assert_memory_equal(buf->data, "0123456789\0x", 12);
    assert_int_equal(fileio_read_all(p, 11, buf, err), -1);
    assert_int_equal(buf->len, 0);
    assert_non_null(strstr(err->data, "small: file larger than 11 bytes"));
    assert_int_equal(fileio_read_all(path_in("missing"), 10, buf, err), 1);
    assert_int_equal(fileio_read_all(tmpdir, 10, buf, err), -1);
    assert_non_null(strstr(err->data, ": not a regular file"));
    /* A FIFO must not block the reader. */
    assert_int_equal(mkfifo(path_in("fifo"), 0600), 0);
    assert_int_equal(fileio_read_all(path_in("fifo"), 10, buf, NULL), -1);
    strbuf_free(buf);
    strbuf_free(err);
}

static void test_pread_pwrite(void **state)
{
    const char *p = path_in("rw");
    char    got[8];
    int     fd;

    (void) state;
    fd = open(p, O_RDWR | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(fileio_write_all(fd, "abcdefgh", 8), 0);
    assert_int_equal(fileio_pwrite_full(fd, "XY", 2, 3), 0);
    assert_int_equal(fileio_pread_full(fd, got, 8, 0), 0);
    assert_memory_equal(got, "abcXYfgh", 8);
    errno = 0;
    assert_int_equal(fileio_pread_full(fd, got, 4, 6), -1);
    assert_int_equal(errno, EINVAL);
    close(fd);
    assert_int_equal(fileio_pwrite_full(fd, "x", 1, 0), -1);
    assert_int_equal(fileio_write_all(fd, "x", 1), -1);
}

static void test_write_all_pipe(void **state)
{
    int     p[2];
    char   *big = mem_alloc(1 << 20);
    char   *back = mem_alloc(1 << 20);
    pid_t   pid;
    size_t  got = 0;
    int     status;

    (void) state;
    memset(big, 'q', 1 << 20);
    assert_int_equal(pipe(p), 0);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(p[0]);
        _exit(fileio_write_all(p[1], big, 1 << 20) == 0 ? 0 : 1);
    }
    close(p[1]);
    while (got < (1 << 20)) {
        ssize_t n = read(p[0], back + got, (1 << 20) - got);

        assert_true(n > 0);
        got += (size_t) n;
    }
    close(p[0]);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    assert_memory_equal(big, back, 1 << 20);
    mem_free(big);
    mem_free(back);
}

static int setup(void **state)
{
    (void) state;
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
    const char *names[] = {"small", "fifo", "rw"};
    size_t  i;

    (void) state;
    for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        (void) unlink(path_in(names[i]));
    return rmdir(tmpdir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_read_all),
        cmocka_unit_test(test_pread_pwrite),
        cmocka_unit_test(test_write_all_pipe),
    };

    testlib_setup();
    return cmocka_run_group_tests_name("fileio", tests, setup, teardown);
}
