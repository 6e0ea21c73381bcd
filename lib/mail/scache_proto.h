/*
 * scache_proto: the wire protocol of the connection cache service
 * (scache(8)), shared by its client (scache_client) and the daemon.
 *
 * Messages are attribute lists (attr.h) over the UNIX stream socket
 * private/scache. A cached connection travels as a passed descriptor
 * (fdpass.h) attached to the first byte of the message it belongs to,
 * so both sides read with scache_proto_fill (recvmsg), never with a
 * plain read or a buffered stream.
 *
 *   server -> client  protocol=scache_protocol
 *   client -> server  request=save, dest_label=D, endp_label=E,
 *                     endp_prop=P, ttl=SECONDS        + descriptor
 *   server -> client  status=0 | status=1, reason=TEXT
 *   client -> server  request=find_dest, dest_label=D
 *   server -> client  status=0, endp_label=E, endp_prop=P  + descriptor
 *                     | status=1, reason=TEXT (nothing cached)
 *   client -> server  request=find_endp, endp_label=E
 *   server -> client  status=0, endp_prop=P + descriptor | status=1, ...
 *
 * A client may send several requests on one connection, one at a time.
 * Passed descriptors are matched to save requests in the order they
 * arrive (at most SCACHE_PROTO_FD_MAX may be waiting).
 *
 *   scache_proto_new(sock): reader state for one connected socket (the
 *     caller keeps owning sock). Never NULL.
 *   scache_proto_free(p): close descriptors received but not taken, free
 *     p; returns NULL.
 *   scache_proto_fill(p, timeout_ms, err): one fdpass_recv into p's
 *     buffer (timeout_ms as fdpass_recv). 1 bytes were read, 0 end of
 *     file, -1 error with err set and errno kept (EAGAIN on a
 *     non-blocking socket with nothing to read), including "too many
 *     descriptors" (more than SCACHE_PROTO_FD_MAX waiting).
 *   scache_proto_next(p, out, err): take the next complete message from
 *     the buffer: 1 (out holds it), 0 (incomplete: fill more), -1
 *     malformed or over the limits (err says what; the conversation is
 *     then unusable).
 *   scache_proto_read(p, out, timeout_ms, err): next + fill until one
 *     message is complete; 0, or -1 with err (EOF, timeout, I/O error,
 *     malformed). timeout_ms bounds each wait.
 *   scache_proto_take_fd(p): the oldest received descriptor not yet
 *     taken (the caller owns it), or -1.
 *   scache_proto_write(sock, list, fd, timeout_ms): encode list and send
 *     it with fd attached (fd < 0: none; the caller keeps its fd).
 *     0, or -1 with errno.
 *
 * See scache_proto.c for details.
 */
#ifndef POSTERN_SCACHE_PROTO_H
#define POSTERN_SCACHE_PROTO_H

#include <stddef.h>

#include "attr.h"
#include "strbuf.h"

#define SCACHE_SERVICE_PATH     "private/scache"

/* Requests. */
#define SCACHE_REQ_SAVE         "save"
#define SCACHE_REQ_FIND_DEST    "find_dest"
#define SCACHE_REQ_FIND_ENDP    "find_endp"

/* Reply status values. */
#define SCACHE_STAT_OK          0
#define SCACHE_STAT_FAIL        1       /* nothing cached, or refused */

/* Bounds. */
#define SCACHE_LABEL_MAX        512     /* bytes per dest/endp label */
#define SCACHE_PROP_MAX         2048    /* bytes of endp_prop */
#define SCACHE_TTL_MAX          3600    /* seconds a client may ask for */
#define SCACHE_PROTO_MSG_MAX    8192    /* encoded bytes per message */
#define SCACHE_PROTO_FD_MAX     4       /* received, not yet taken */

typedef struct scache_proto scache_proto;

scache_proto *scache_proto_new(int sock);
scache_proto *scache_proto_free(scache_proto *p);
int     scache_proto_fill(scache_proto *p, int timeout_ms, strbuf *err);
int     scache_proto_next(scache_proto *p, attr_list *out, strbuf *err);
int     scache_proto_read(scache_proto *p, attr_list *out, int timeout_ms,
                          strbuf *err);
int     scache_proto_take_fd(scache_proto *p);
int     scache_proto_write(int sock, const attr_list *list, int fd, int timeout_ms);

#endif
