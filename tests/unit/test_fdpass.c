/*
 * Unit tests for lib/util/fdpass.c, over socketpairs.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>
#include <cmocka.h>

#include "fdpass.h"
#include "testlib.h"

/* count_fds: how many descriptors this process has open. */
static int count_fds(void)
{
    DIR    *d = opendir("/proc/self/fd");
    struct dirent *e;
    int     n = 0;

    assert_non_null(d);
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n - 1;                       /* the DIR's own descriptor */
}

/* send_raw_fds: one sendmsg with n descriptors (all the same fd). */
static void send_raw_fds(int sock, int fd, int n)
{
    char    space[CMSG_SPACE(64 * sizeof(int))];
    struct msghdr mh;
    struct iovec iov;
    struct cmsghdr *cm;
    int     i;

    assert_true(n <= 64);
    memset(&mh, 0, sizeof(mh));
    memset(space, 0, sizeof(space));
    iov.iov_base = (void *) "x";
    iov.iov_len = 1;
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    mh.msg_control = space;
    mh.msg_controllen = CMSG_SPACE(n * sizeof(int));
    cm = CMSG_FIRSTHDR(&mh);
    cm->cmsg_level = SOL_SOCKET;
    cm->cmsg_type = SCM_RIGHTS;
    cm->cmsg_len = CMSG_LEN(n * sizeof(int));
    for (i = 0; i < n; i++)
        memcpy(CMSG_DATA(cm) + i * sizeof(int), &fd, sizeof(int));
    assert_int_equal(sendmsg(sock, &mh, 0), 1);
}

static void test_pass_pipe(void **state)
{
    int     sv[2], pfd[2], got = -2;
    char    buf[64];
    ssize_t n;

    (void) state;
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    assert_int_equal(pipe(pfd), 0);
    assert_int_equal(fdpass_send(sv[0], "hello", 5, pfd[1], 1000), 0);
    (void) close(pfd[1]);               /* the caller keeps and closes its own */
    n = fdpass_recv(sv[1], buf, sizeof(buf), &got, 1000);
    assert_int_equal(n, 5);
    assert_memory_equal(buf, "hello", 5);
    assert_true(got >= 0);
    assert_true(fcntl(got, F_GETFD) & FD_CLOEXEC);
    /* The received descriptor is the pipe's write end. */
    assert_int_equal(write(got, "z", 1), 1);
    assert_int_equal(read(pfd[0], buf, 1), 1);
    assert_int_equal(buf[0], 'z');
    (void) close(got);
    (void) close(pfd[0]);
    (void) close(sv[0]);
    (void) close(sv[1]);
}

static void test_no_descriptor_and_eof(void **state)
{
    int     sv[2], got = -2;
    char    buf[8];

    (void) state;
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    assert_int_equal(fdpass_send(sv[0], "abc", 3, -1, 0), 0);
    assert_int_equal(fdpass_recv(sv[1], buf, sizeof(buf), &got, 1000), 3);
    assert_int_equal(got, -1);
    (void) close(sv[0]);
    assert_int_equal(fdpass_recv(sv[1], buf, sizeof(buf), &got, 1000), 0);
    assert_int_equal(got, -1);
    (void) close(sv[1]);
}

static void test_extra_descriptors_closed(void **state)
{
    int     sv[2], pfd[2], got = -2, before;
    char    buf[8];

    (void) state;
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    assert_int_equal(pipe(pfd), 0);
    before = count_fds();
    send_raw_fds(sv[0], pfd[0], 5);
    assert_int_equal(fdpass_recv(sv[1], buf, sizeof(buf), &got, 1000), 1);
    assert_true(got >= 0);
    assert_int_equal(count_fds(), before + 1);  /* only the one kept */
    (void) close(got);
    assert_int_equal(count_fds(), before);
    (void) close(pfd[0]);
    (void) close(pfd[1]);
    (void) close(sv[0]);
    (void) close(sv[1]);
}

static void test_truncated_control_data(void **state)
{
    int     sv[2], pfd[2], got = -2, before;
    char    buf[8];

    (void) state;
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    assert_int_equal(pipe(pfd), 0);
    before = count_fds();
    send_raw_fds(sv[0], pfd[0], FDPASS_FD_MAX + 20);
    errno = 0;
    assert_int_equal(fdpass_recv(sv[1], buf, sizeof(buf), &got, 1000), -1);
    assert_int_equal(errno, EPROTO);
    assert_int_equal(got, -1);
    assert_int_equal(count_fds(), before);      /* nothing leaked */
    (void) close(pfd[0]);
    (void) close(pfd[1]);
    (void) close(sv[0]);
    (void) close(sv[1]);
}

static void test_descriptor_comes_with_its_first_byte(void **state)
{
    int     sv[2], pfd[2], got = -2;
    char    buf[64];
    ssize_t n, total = 0;
    int     seen_at = -1;

    (void) state;
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    assert_int_equal(pipe(pfd), 0);
    assert_int_equal(fdpass_send(sv[0], "aaaa", 4, -1, 0), 0);
    assert_int_equal(fdpass_send(sv[0], "bbbb", 4, pfd[0], 0), 0);
    assert_int_equal(fdpass_send(sv[0], "cccc", 4, -1, 0), 0);
    while (total < 12) {
        n = fdpass_recv(sv[1], buf + total, 3, &got, 1000);
        assert_true(n > 0);
        if (got >= 0) {
            assert_int_equal(seen_at, -1);
            /* The call that got the descriptor returned the first 'b'. */
            assert_true(total <= 4 && total + n > 4);
            seen_at = (int) total;
            (void) close(got);
        }
        total += n;
    }
    assert_true(seen_at >= 0);
    assert_memory_equal(buf, "aaaabbbbcccc", 12);
    (void) close(pfd[0]);
    (void) close(pfd[1]);
    (void) close(sv[0]);
    (void) close(sv[1]);
}

static void test_bad_arguments(void **state)
{
    static char big[FDPASS_PAYLOAD_MAX + 1];
    int     sv[2], got = -2;
    char    buf[4];

    (void) state;
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    errno = 0;
    assert_int_equal(fdpass_send(sv[0], "x", 0, -1, 0), -1);
    assert_int_equal(errno, EINVAL);
    errno = 0;
    assert_int_equal(fdpass_send(sv[0], big, sizeof(big), -1, 0), -1);
    assert_int_equal(errno, EINVAL);
    errno = 0;
    assert_int_equal(fdpass_recv(sv[1], buf, 0, &got, 0), -1);
    assert_int_equal(errno, EINVAL);
    assert_int_equal(got, -1);
    errno = 0;
    assert_int_equal(fdpass_send(-1, "x", 1, -1, 0), -1);
    assert_int_equal(errno, EINVAL);
    (void) close(sv[0]);
    (void) close(sv[1]);
}

static void test_timeouts(void **state)
{
    static char chunk[FDPASS_PAYLOAD_MAX];
    int     sv[2], got = -2, i, rc = 0;
    char    buf[4];

    (void) state;
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    errno = 0;
    assert_int_equal(fdpass_recv(sv[1], buf, sizeof(buf), &got, 50), -1);
    assert_int_equal(errno, ETIMEDOUT);
    /* A non-blocking sender with a full socket buffer waits, then gives up. */
    assert_int_equal(fcntl(sv[0], F_SETFL, O_NONBLOCK), 0);
    for (i = 0; i < 1000 && rc == 0; i++)
        rc = fdpass_send(sv[0], chunk, sizeof(chunk), -1, 50);
    assert_int_equal(rc, -1);
    assert_int_equal(errno, ETIMEDOUT);
    /* A closed peer is EPIPE, not a signal. */
    (void) close(sv[1]);
    errno = 0;
    assert_int_equal(fdpass_send(sv[0], "x", 1, -1, 50), -1);
    assert_int_equal(errno, EPIPE);
    (void) close(sv[0]);
}

static void test_large_payload_with_descriptor(void **state)
{
    static char out[FDPASS_PAYLOAD_MAX], in[FDPASS_PAYLOAD_MAX];
    int     sv[2], pfd[2], got = -2, fds = 0;
    size_t  total = 0, i;
    pid_t   pid;

    (void) state;
    for (i = 0; i < sizeof(out); i++)
        out[i] = (char) (i * 7);
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    assert_int_equal(pipe(pfd), 0);
    /* The payload exceeds the socket buffer: a child sends, we read. */
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        (void) close(sv[1]);
        _exit(fdpass_send(sv[0], out, sizeof(out), pfd[1], 5000) == 0 ? 0 : 1);
    }
    (void) close(sv[0]);
    while (total < sizeof(in)) {
        ssize_t n = fdpass_recv(sv[1], in + total, sizeof(in) - total, &got, 5000);

        assert_true(n > 0);
        if (got >= 0) {
            assert_int_equal(total, 0);
            fds++;
            (void) close(got);
        }
        total += (size_t) n;
    }
    assert_int_equal(fds, 1);
    assert_memory_equal(in, out, sizeof(out));
    (void) close(sv[1]);
    (void) close(pfd[0]);
    (void) close(pfd[1]);
}

int     main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pass_pipe),
        cmocka_unit_test(test_no_descriptor_and_eof),
        cmocka_unit_test(test_extra_descriptors_closed),
        cmocka_unit_test(test_truncated_control_data),
        cmocka_unit_test(test_descriptor_comes_with_its_first_byte),
        cmocka_unit_test(test_bad_arguments),
        cmocka_unit_test(test_timeouts),
        cmocka_unit_test(test_large_payload_with_descriptor),
    };

    testlib_setup();
    return cmocka_run_group_tests_name("fdpass", tests, NULL, NULL);
}
