/*
 * scache_proto: message framing with passed descriptors for the
 * connection cache protocol (conversation in scache_proto.h).
 *
 * Public functions (contracts in scache_proto.h):
 *   scache_proto_new(sock) / scache_proto_free(p): reader state; free
 *     closes descriptors that were received and never taken.
 *   scache_proto_fill(p, timeout_ms, err): read what is there (recvmsg).
 *   scache_proto_next(p, out, err): decode one buffered message.
 *   scache_proto_read(p, out, timeout_ms, err): one whole message.
 *   scache_proto_take_fd(p): oldest received descriptor, or -1.
 *   scache_proto_write(sock, list, fd, timeout_ms): send one message.
 *
 * SECURITY: both ends are Postern processes running as mail_owner, but
 * each decodes the other strictly (attr_decode with limits) and never
 * keeps more than SCACHE_PROTO_FD_MAX passed descriptors it did not ask
 * for; extra descriptors in one control message are closed by fdpass.
 * LIMITS: SCACHE_PROTO_MSG_MAX encoded bytes per message (so at most
 * that plus one read chunk buffered), SCACHE_PROP_MAX bytes per value,
 * 8 attributes per message, SCACHE_PROTO_FD_MAX waiting descriptors.
 */
#include <errno.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#include "attr.h"
#include "fdpass.h"
#include "mem.h"
#include "scache_proto.h"
#include "strbuf.h"

#define SCACHE_PROTO_CHUNK  4096

struct scache_proto {
    int     sock;
    strbuf *buf;                        /* bytes received, not yet decoded */
    int     fds[SCACHE_PROTO_FD_MAX];   /* received descriptors, oldest first */
    size_t  nfds;
};

static const attr_limits scache_proto_limits = {
    8, SCACHE_PROP_MAX, SCACHE_PROTO_MSG_MAX
};

/* scache_proto_new: reader state for one socket. */
scache_proto *scache_proto_new(int sock)
{
    scache_proto *p = mem_calloc(1, sizeof(*p));

    p->sock = sock;
    p->buf = strbuf_new(256);
    return p;
}

/* scache_proto_free: close untaken descriptors and free; returns NULL. */
scache_proto *scache_proto_free(scache_proto *p)
{
    size_t  i;

    if (p == NULL)
        return NULL;
    for (i = 0; i < p->nfds; i++)
        (void) close(p->fds[i]);
    strbuf_free(p->buf);
    mem_free(p);
    return NULL;
}

/* scache_proto_fill: one receive into the buffer. */
int     scache_proto_fill(scache_proto *p, int timeout_ms, strbuf *err)
{
    char    chunk[SCACHE_PROTO_CHUNK];
    ssize_t n;
    int     fd = -1;
    int     saved;

    n = fdpass_recv(p->sock, chunk, sizeof(chunk), &fd, timeout_ms);
    if (n < 0) {
        saved = errno;
        if (saved == ETIMEDOUT)
            strbuf_setf(err, "timeout while reading from the connection cache peer");
        else
            strbuf_setf(err, "read from the connection cache peer: %s",
                        strerror(saved));
        errno = saved;
        return -1;
    }
    if (fd >= 0) {
        if (p->nfds >= SCACHE_PROTO_FD_MAX) {
            (void) close(fd);
            strbuf_setf(err, "peer passed more than %d descriptors at once",
                        SCACHE_PROTO_FD_MAX);
            errno = EPROTO;
            return -1;
        }
        p->fds[p->nfds++] = fd;
    }
    if (n == 0)
        return 0;
    (void) strbuf_append(p->buf, chunk, (size_t) n);
    return 1;
}

/* scache_proto_next: take one complete message from the buffer. */
int     scache_proto_next(scache_proto *p, attr_list *out, strbuf *err)
{
    size_t  used = 0;
    int     rc;

    if (p->buf->len == 0) {
        attr_list_reset(out);
        return 0;
    }
    rc = attr_decode(p->buf->data, p->buf->len, &scache_proto_limits, out,
                     &used, err);
    if (rc == 1) {
        memmove(p->buf->data, p->buf->data + used, p->buf->len - used);
        strbuf_truncate(p->buf, p->buf->len - used);
    }
    return rc;
}

/* scache_proto_read: decode, reading more until one message is whole. */
int     scache_proto_read(scache_proto *p, attr_list *out, int timeout_ms,
                          strbuf *err)
{
    for (;;) {
        int     rc = scache_proto_next(p, out, err);

        if (rc < 0)
            return -1;
        if (rc > 0)
            return 0;
        rc = scache_proto_fill(p, timeout_ms, err);
        if (rc < 0)
            return -1;
        if (rc == 0) {
            strbuf_setf(err, p->buf->len ? "connection cache peer closed "
                        "the connection in mid-message"
                        : "connection cache peer closed the connection");
            return -1;
        }
    }
}

/* scache_proto_take_fd: the oldest received descriptor, or -1. */
int     scache_proto_take_fd(scache_proto *p)
{
    int     fd;

    if (p->nfds == 0)
        return -1;
    fd = p->fds[0];
    memmove(p->fds, p->fds + 1, (p->nfds - 1) * sizeof(int));
    p->nfds--;
    return fd;
}

/* scache_proto_write: encode and send one message, fd attached. */
int     scache_proto_write(int sock, const attr_list *list, int fd, int timeout_ms)
{
    strbuf *enc = strbuf_new(256);
    int     rc;

    strbuf_set_limit(enc, SCACHE_PROTO_MSG_MAX);
    if (attr_encode(enc, list) < 0) {
        strbuf_free(enc);
        errno = EMSGSIZE;
        return -1;
    }
    rc = fdpass_send(sock, enc->data, enc->len, fd, timeout_ms);
    strbuf_free(enc);
    return rc;
}
