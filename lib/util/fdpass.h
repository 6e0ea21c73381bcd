/*
 * fdpass: pass an open descriptor, with a few bytes, over a UNIX stream
 * socket (SCM_RIGHTS).
 *
 * The descriptor travels attached to the first byte sent with it: the
 * fdpass_recv call that returns that byte also returns the descriptor
 * (that call may return bytes sent before it as well, so a protocol that
 * mixes messages with and without descriptors matches them by order).
 * Readers of such a socket must always use fdpass_recv: plain read()
 * makes the kernel close descriptors in transit.
 *
 *   fdpass_send(sock, buf, len, fd, timeout_ms): write all len bytes
 *     (1 <= len <= FDPASS_PAYLOAD_MAX), with fd attached to the first
 *     byte when fd >= 0 (the caller keeps its own fd and closes it when it
 *     wants; the peer gets a duplicate). Retries EINTR and short writes;
 *     on a non-blocking socket waits for room. Returns 0, or -1 with errno
 *     (EINVAL bad arguments, ETIMEDOUT when timeout_ms > 0 passed while
 *     waiting, or the sendmsg error, e.g. EPIPE).
 *   fdpass_recv(sock, buf, size, fd_out, timeout_ms): one recvmsg of at
 *     most size bytes (size >= 1), retried on EINTR; with timeout_ms > 0
 *     it first waits at most that long for input (ETIMEDOUT), with
 *     timeout_ms == 0 it does not wait (a non-blocking socket then gives
 *     EAGAIN), with timeout_ms < 0 it waits as the socket's mode says.
 *     Returns the byte count (0 = end of file) and sets *fd_out to the
 *     descriptor received (close-on-exec) or -1. Descriptors beyond the
 *     first are closed. When the kernel had to truncate the control data
 *     (more descriptors than FDPASS_FD_MAX in one message) the received
 *     ones are closed and -1 is returned with errno EPROTO, like on any
 *     other error (*fd_out is -1 then).
 *
 * See fdpass.c for details.
 */
#ifndef POSTERN_FDPASS_H
#define POSTERN_FDPASS_H

#include <stddef.h>
#include <sys/types.h>

#define FDPASS_PAYLOAD_MAX  65536       /* bytes per fdpass_send */
#define FDPASS_FD_MAX       8           /* descriptors accepted per recvmsg */

int     fdpass_send(int sock, const void *buf, size_t len, int fd, int timeout_ms);
ssize_t fdpass_recv(int sock, void *buf, size_t size, int *fd_out, int timeout_ms);

#endif
