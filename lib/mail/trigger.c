/*
 * trigger: poke a service by writing a few bytes to its UNIX socket.
 *
 * Public functions:
 *   trigger_send(service_path, bytes, len, timeout_ms): connect to the
 *     UNIX stream socket service_path, write the len bytes, close.
 *     A relative path is tried against the current directory first and,
 *     when nothing is there (ENOENT), against queue_directory (so daemons
 *     that chdir'ed or chroot'ed to the spool and commands that did not
 *     both work). The connect and the write together take at most
 *     timeout_ms milliseconds (<= 0: TRIGGER_TIMEOUT_MS). Returns 0, or -1
 *     with errno set (ENAMETOOLONG for a path that does not fit a socket
 *     address, ETIMEDOUT, or the connect/write error). Nothing is logged
 *     except at verbose level: callers decide, and usually ignore a
 *     failure because a missed trigger is caught by the wakeup timer.
 *   trigger_connect(service_path, timeout_ms): connect the same way and
 *     return the descriptor (blocking, close-on-exec), or -1 with errno.
 *
 * SECURITY: the bytes are the caller's; the peer's identity is whatever
 * the socket's directory permissions allow. Nothing is read from the peer.
 * LIMITS: sun_path length; timeout_ms for the whole exchange.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "msg.h"
#include "param.h"
#include "param_names.h"
#include "strbuf.h"
#include "strutil.h"
#include "trigger.h"

/* trigger_now_ms: monotonic milliseconds. */
static long long trigger_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* trigger_wait: poll fd for events until deadline; 0 ready, -1 errno set. */
static int trigger_wait(int fd, short events, long long deadline)
{
    struct pollfd pfd;
    long long left;
    int     n;

    for (;;) {
        left = deadline - trigger_now_ms();
        if (left <= 0) {
            errno = ETIMEDOUT;
            return -1;
        }
        pfd.fd = fd;
        pfd.events = events;
        pfd.revents = 0;
        n = poll(&pfd, 1, left > 1000000 ? 1000000 : (int) left);
        if (n > 0)
            return 0;
        if (n < 0 && errno != EINTR)
            return -1;
    }
}

/* trigger_connect_path: non-blocking connect to path; fd or -1 with errno. */
static int trigger_connect_path(const char *path, long long deadline)
{
    struct sockaddr_un addr;
    int     fd;
    int     soerr;
    socklen_t slen;

    memset(&addr, 0, sizeof(addr));
    addr.sun_family = AF_UNIX;
    if (str_copy(addr.sun_path, sizeof(addr.sun_path), path) < 0) {
        errno = ENAMETOOLONG;
        return -1;
    }
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    if (connect(fd, (struct sockaddr *) &addr, sizeof(addr)) == 0)
        return fd;
    if (errno != EINPROGRESS && errno != EAGAIN && errno != EINTR)
        goto fail;
    if (trigger_wait(fd, POLLOUT, deadline) < 0)
        goto fail;
    slen = sizeof(soerr);
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &slen) < 0)
        goto fail;
    if (soerr != 0) {
        errno = soerr;
        goto fail;
    }
    return fd;

fail:
    soerr = errno;
    close(fd);
    errno = soerr;
    return -1;
}

/* trigger_connect_deadline: connect, relative paths also under queue_directory. */
static int trigger_connect_deadline(const char *service_path, long long deadline)
{
    int     fd;
    int     saved;

    fd = trigger_connect_path(service_path, deadline);
    if (fd < 0 && errno == ENOENT && service_path[0] != '/') {
        const char *qdir = param_str(PARAM_QUEUE_DIRECTORY);
        strbuf *full = strbuf_new(256);

        strbuf_printf(full, "%s/%s", qdir, service_path);
        fd = trigger_connect_path(full->data, deadline);
        saved = errno;
        strbuf_free(full);
        errno = saved;
    }
    return fd;
}

/* trigger_connect: connect to a service socket; blocking fd or -1. */
int     trigger_connect(const char *service_path, int timeout_ms)
{
    int     fd;
    int     fl;

    if (timeout_ms <= 0)
        timeout_ms = TRIGGER_TIMEOUT_MS;
    fd = trigger_connect_deadline(service_path, trigger_now_ms() + timeout_ms);
    if (fd < 0)
        return -1;
    if ((fl = fcntl(fd, F_GETFL)) < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) < 0) {
        fl = errno;
        close(fd);
        errno = fl;
        return -1;
    }
    return fd;
}

/* trigger_send: connect, write the bytes, close. */
int     trigger_send(const char *service_path, const char *bytes, size_t len,
                     int timeout_ms)
{
    long long deadline;
    size_t  done = 0;
    ssize_t n;
    int     fd;
    int     saved;

    if (timeout_ms <= 0)
        timeout_ms = TRIGGER_TIMEOUT_MS;
    deadline = trigger_now_ms() + timeout_ms;
    fd = trigger_connect_deadline(service_path, deadline);
    if (fd < 0) {
        if (msg_verbose)
            msg_info("trigger %s: connect: %m", service_path);
        return -1;
    }
    while (done < len) {
        n = send(fd, bytes + done, len - done, MSG_NOSIGNAL);
        if (n > 0) {
            done += (size_t) n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)
            && trigger_wait(fd, POLLOUT, deadline) == 0)
            continue;
        saved = errno;
        close(fd);
        errno = saved;
        if (msg_verbose)
            msg_info("trigger %s: write: %m", service_path);
        return -1;
    }
    if (close(fd) < 0 && errno != EINTR)
        return -1;
    return 0;
}
