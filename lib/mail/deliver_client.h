/*
 * deliver_client: qmgr's side of the delivery protocol (deliver_request.h)
 * on an event loop: many requests in flight at once, none blocking.
 *
 *   deliver_client_send(loop, transport, req, timeout_ms, result_fn,
 *     done_fn, ctx): connect to private/TRANSPORT (relative to the current
 *     directory, else to queue_directory), send req, and report through
 *     the callbacks as replies arrive: result_fn(ctx, offset, status, dsn,
 *     relay, reason) exactly once per recipient of req, then done_fn(ctx,
 *     site_status, reason) exactly once, after which the client is gone.
 *     site_status is DELIVER_STAT_OK, DELIVER_STAT_DEFER (the agent said
 *     the destination failed as a whole; reason is its text) or
 *     DELIVER_CLIENT_BROKEN (no agent, timeout, EOF or garbage: every
 *     recipient without a result was deferred "4.3.0 ..." and logged).
 *     No callback runs before deliver_client_send returns. req is copied.
 *     timeout_ms bounds the connect and every wait for progress.
 *   deliver_client_send_fd(loop, fd, req, ...): the same over a connected
 *     socket the client takes over (tests, socketpairs).
 *   deliver_client_abort(c): stop without any further callback and close
 *     the connection (shutdown). Returns NULL. Must not be called from
 *     this client's own callbacks.
 *   deliver_client_count(): clients alive in this process (tests).
 *
 * Callbacks may start and abort other clients; they must not abort the
 * client that is calling them.
 */
#ifndef POSTERN_DELIVER_CLIENT_H
#define POSTERN_DELIVER_CLIENT_H

#include "deliver_request.h"
#include "event.h"

#define DELIVER_CLIENT_BROKEN   (-1)    /* done_fn: conversation failed */

typedef struct deliver_client deliver_client;

typedef void (*deliver_client_done_fn) (void *ctx, int site_status,
                                        const char *reason);

deliver_client *deliver_client_send(event_loop *loop, const char *transport,
                                    const deliver_req_out *req, int timeout_ms,
                                    deliver_result_fn result_fn,
                                    deliver_client_done_fn done_fn, void *ctx);
deliver_client *deliver_client_send_fd(event_loop *loop, int fd,
                                       const deliver_req_out *req,
                                       int timeout_ms,
                                       deliver_result_fn result_fn,
                                       deliver_client_done_fn done_fn,
                                       void *ctx);
deliver_client *deliver_client_abort(deliver_client *c);
long    deliver_client_count(void);

#endif
