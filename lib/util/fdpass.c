/*
 * fdpass: send and receive a descriptor with a few bytes over a UNIX
 * stream socket, with SCM_RIGHTS control messages.
 *
 * Public functions (contracts in fdpass.h):
 *   fdpass_send(sock, buf, len, fd, timeout_ms): write len bytes, fd
 *     attached to the first one when fd >= 0. 0 or -1 with errno.
 *   fdpass_recv(sock, buf, size, fd_out, timeout_ms): one read of up to
 *     size bytes; *fd_out gets a received descriptor or -1. Byte count,
 *     0 at EOF, -1 with errno.
 *   The caller owns every descriptor involved: its own fd after a send,
 *   and *fd_out after a receive.
 *
 * SECURITY: the peer may be another program (qmgr, smtp) and may send
 * any number of descriptors or control messages: at most one descriptor
 * is handed to the caller, every other one is closed at once, and
 * control data of other kinds is ignored. Received descriptors are
 * close-on-exec. Payload sizes are bounded by the caller's buffer.
 * LIMITS: FDPASS_PAYLOAD_MAX bytes per send, FDPASS_FD_MAX descriptors
 * looked at per receive; timeouts in milliseconds.
 */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "fdpass.h"

/* fdpass_now_ms: monotonic milliseconds. */
static long long fdpass_now_ms(void)
{
    struct timespec ts;

    (void) clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* fdpass_wait: poll for events until the deadline (-1 = no deadline). */
static int fdpass_wait(int sock, short events, long long deadline)
{
    struct pollfd pfd;
    int     n, wait_ms;

    for (;;) {
        wait_ms = -1;
        if (deadline >= 0) {
            long long left = deadline - fdpass_now_ms();

            if (left <= 0) {
                errno = ETIMEDOUT;
                return -1;
            }
            wait_ms = left > 0x7fffffff ? 0x7fffffff : (int) left;
        }
        pfd.fd = sock;
        pfd.events = events;
        pfd.revents = 0;
        n = poll(&pfd, 1, wait_ms);
        if (n > 0)
            return 0;
        if (n == 0) {
            errno = ETIMEDOUT;
            return -1;
        }
        if (errno != EINTR)
            return -1;
    }
}

/* fdpass_send: write all bytes, the descriptor attached to the first. */
int     fdpass_send(int sock, const void *buf, size_t len, int fd, int timeout_ms)
{
    union {
        struct cmsghdr hdr;
        char    space[CMSG_SPACE(sizeof(int))];
    } ctl;
    const char *p = buf;
    long long deadline = timeout_ms > 0 ? fdpass_now_ms() + timeout_ms : -1;
    int     attach = fd >= 0;

    if (sock < 0 || buf == NULL || len == 0 || len > FDPASS_PAYLOAD_MAX) {
        errno = EINVAL;
        return -1;
    }
    while (len > 0) {
        struct msghdr mh;
        struct iovec iov;
        ssize_t n;

        memset(&mh, 0, sizeof(mh));
        iov.iov_base = (void *) p;
        iov.iov_len = len;
        mh.msg_iov = &iov;
        mh.msg_iovlen = 1;
        if (attach) {
            struct cmsghdr *cm;

            memset(&ctl, 0, sizeof(ctl));
            mh.msg_control = ctl.space;
            mh.msg_controllen = sizeof(ctl.space);
            cm = CMSG_FIRSTHDR(&mh);
            cm->cmsg_level = SOL_SOCKET;
            cm->cmsg_type = SCM_RIGHTS;
            cm->cmsg_len = CMSG_LEN(sizeof(int));
            memcpy(CMSG_DATA(cm), &fd, sizeof(int));
        }
        n = sendmsg(sock, &mh, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                if (fdpass_wait(sock, POLLOUT, deadline) < 0)
                    return -1;
                continue;
            }
            return -1;
        }
        /* Once any byte went out, the descriptor went with it. */
        if (n > 0)
            attach = 0;
        p += n;
        len -= (size_t) n;
    }
    return 0;
}

/* fdpass_close_rights: close every descriptor in a control message. */
static void fdpass_close_rights(struct cmsghdr *cm, int skip_first)
{
    size_t  count = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    size_t  i;

    for (i = skip_first ? 1 : 0; i < count; i++) {
        int     fd;

        memcpy(&fd, CMSG_DATA(cm) + i * sizeof(int), sizeof(int));
        if (fd >= 0)
            (void) close(fd);
    }
}

/* fdpass_recv: one read; keep the first descriptor, close the others. */
ssize_t fdpass_recv(int sock, void *buf, size_t size, int *fd_out, int timeout_ms)
{
    union {
        struct cmsghdr hdr;
        char    space[CMSG_SPACE(FDPASS_FD_MAX * sizeof(int))];
    } ctl;
    struct msghdr mh;
    struct iovec iov;
    struct cmsghdr *cm;
    ssize_t n;
    int     got = -1;

    *fd_out = -1;
    if (sock < 0 || buf == NULL || size == 0) {
        errno = EINVAL;
        return -1;
    }
    if (timeout_ms > 0
        && fdpass_wait(sock, POLLIN, fdpass_now_ms() + timeout_ms) < 0)
        return -1;
    for (;;) {
        memset(&mh, 0, sizeof(mh));
        memset(&ctl, 0, sizeof(ctl));
        iov.iov_base = buf;
        iov.iov_len = size;
        mh.msg_iov = &iov;
        mh.msg_iovlen = 1;
        mh.msg_control = ctl.space;
        mh.msg_controllen = sizeof(ctl.space);
        n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
        if (n >= 0 || errno != EINTR)
            break;
    }
    if (n < 0)
        return -1;
    for (cm = CMSG_FIRSTHDR(&mh); cm != NULL; cm = CMSG_NXTHDR(&mh, cm)) {
        if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS
            || cm->cmsg_len < CMSG_LEN(sizeof(int)))
            continue;
        if (got < 0) {
            memcpy(&got, CMSG_DATA(cm), sizeof(int));
            fdpass_close_rights(cm, 1);
        } else {
            fdpass_close_rights(cm, 0);
        }
    }
    if (mh.msg_flags & MSG_CTRUNC) {
        if (got >= 0)
            (void) close(got);
        errno = EPROTO;
        return -1;
    }
    *fd_out = got;
    return n;
}
