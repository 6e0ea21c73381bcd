/*
 * scache_client: the client of the shared connection cache (scache(8)).
 *
 * A delivery agent that has a connection it could reuse later (an SMTP
 * session after QUIT was not sent) hands a duplicate of its descriptor
 * to the cache with a destination label and an endpoint label; any
 * process of the same service may take it back later by either label.
 * Each cached connection is handed out once.
 *
 * Labels (by convention of the smtp client):
 *   dest_label  "<service>:<nexthop>"            e.g. "smtp:example.com"
 *   endp_label  "<service>:<addr>:<port>"        e.g. "smtp:192.0.2.1:25"
 *   endp_prop   opaque text for the client (remote host name, reuse
 *               count, session start time, ...).
 *
 *   scache_save(dest_label, endp_label, endp_prop, fd, ttl_sec, err):
 *     hand a duplicate of fd to the service, to be kept at most ttl_sec
 *     seconds (the service may keep it shorter; ttl_sec <= 0: the
 *     service's limit). dest_label may be "" (the connection is then
 *     found only by endpoint). The caller still owns fd and closes it.
 *     Returns 0, or -1 with err (may be NULL) saying why: bad arguments,
 *     no service (connect failed; nothing is logged), refused, protocol
 *     error, timeout.
 *   scache_find_dest(dest_label, endp_label, endp_prop): take a cached
 *     connection for dest_label (the most recently saved one). Returns
 *     its descriptor (the caller owns it) and fills endp_label and
 *     endp_prop (either may be NULL), or -1 when nothing is cached or
 *     the service is unavailable (nothing is logged).
 *   scache_find_endp(endp_label, endp_prop): the same, by endpoint.
 *
 * Each call makes one short connection to private/scache (relative to
 * the current directory, else to queue_directory), with
 * SCACHE_CLIENT_TIMEOUT_MS per wait. The *_sock variants speak the same
 * conversation over a socket the caller connected (tests; the caller
 * closes it); they read the protocol greeting first.
 *
 * See scache_client.c for details.
 */
#ifndef POSTERN_SCACHE_CLIENT_H
#define POSTERN_SCACHE_CLIENT_H

#include "strbuf.h"

#define SCACHE_CLIENT_TIMEOUT_MS 5000

int     scache_save(const char *dest_label, const char *endp_label,
                    const char *endp_prop, int fd, int ttl_sec, strbuf *err);
int     scache_find_dest(const char *dest_label, strbuf *endp_label,
                         strbuf *endp_prop);
int     scache_find_endp(const char *endp_label, strbuf *endp_prop);

int     scache_save_sock(int sock, const char *dest_label,
                         const char *endp_label, const char *endp_prop,
                         int fd, int ttl_sec, strbuf *err);
int     scache_find_sock(int sock, const char *request, const char *label,
                         strbuf *endp_label, strbuf *endp_prop, strbuf *err);

#endif
