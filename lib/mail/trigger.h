/*
 * trigger: poke a service through its UNIX socket.
 *
 * A trigger is a few bytes written to a service's socket, after which
 * the client closes. Bytes understood by qmgr (TRIGGER_xxx below):
 * 'W' wakeup, 'I' scan incoming, 'D' scan deferred, 'A' scan all,
 * 'F' flush; pickup treats any byte as "scan maildrop".
 *
 *   trigger_send(path, bytes, len, timeout_ms): connect to the UNIX
 *     socket path (e.g. TRIGGER_QMGR_PATH, relative to the current
 *     directory and, when not found there, to queue_directory; or
 *     absolute), write len bytes within timeout_ms, close. 0, or -1 with
 *     errno set (callers usually ignore failures: a missed trigger is
 *     caught by the wakeup timer).
 *   trigger_connect(service_path, timeout_ms): connect to a service's
 *     UNIX stream socket the same way (relative path: current directory,
 *     then queue_directory) and return the connected descriptor, in
 *     blocking mode with close-on-exec, or -1 with errno set. Used by
 *     clients of request/reply services (deliver_request, ...).
 *
 * See trigger.c for details.
 */
#ifndef POSTERN_TRIGGER_H
#define POSTERN_TRIGGER_H

#include <stddef.h>

/* Bytes qmgr understands. */
#define TRIGGER_WAKEUP      'W'         /* scan incoming */
#define TRIGGER_INCOMING    'I'         /* scan incoming */
#define TRIGGER_DEFERRED    'D'         /* scan deferred (due files) */
#define TRIGGER_ALL         'A'         /* scan everything, ignore retry times */
#define TRIGGER_FLUSH       'F'         /* the same, for postqueue -f */

/* Service sockets, relative to queue_directory. */
#define TRIGGER_QMGR_PATH   "public/qmgr"
#define TRIGGER_PICKUP_PATH "public/pickup"

/* Default timeout for callers without a better one. */
#define TRIGGER_TIMEOUT_MS  5000

int     trigger_send(const char *service_path, const char *bytes, size_t len,
                     int timeout_ms);
int     trigger_connect(const char *service_path, int timeout_ms);

#endif
