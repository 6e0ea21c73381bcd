/*
 * deliver_request: the delivery protocol between qmgr and a delivery
 * agent (local, smtp, error, ...), both sides.
 *
 * Conversation on private/<transport>:
 *   server -> client   protocol=delivery_request_protocol
 *   client -> server   one message: queue_name, queue_id, offset (of the
 *                      'M' record), size, nexthop, sender, envelope_id,
 *                      ret_flags, arrival_time, flags, recipient_count=N
 *   client -> server   N messages: recipient, original_recipient,
 *                      dsn_orcpt, notify_flags, offset (of the R record)
 *   server -> client   one message per recipient, any order: offset,
 *                      status (0 delivered, 4 deferred, 5 bounced),
 *                      dsn_status (X.Y.Z), reason, relay
 *   server -> client   one final message: status=0 (request done), or
 *                      status=4 reason=TEXT (request done, and the
 *                      destination failed as a whole: connection refused
 *                      or timed out on every address, 4xx/5xx greeting,
 *                      DNS failure; qmgr's negative concurrency feedback)
 *
 * Server side (the agent):
 *   deliver_request_read(s, err): send the protocol message, read and
 *     check the request. Returns a request the caller frees with
 *     deliver_request_free, or NULL with err saying why (the peer sent
 *     garbage, a limit was passed, timeout, EOF).
 *   deliver_result(s, rcpt_offset, status, dsn, relay, reason): report one
 *     recipient (applies soft_bounce: 5 becomes 4). 0 or -1 (I/O error).
 *   deliver_done(s): send the final message status=0. 0 or -1.
 *   deliver_done_status(s, site_status, reason): the final message with
 *     site_status DELIVER_STAT_OK (= deliver_done) or DELIVER_STAT_DEFER
 *     plus reason (the whole site failed). 0 or -1.
 *   deliver_log(req, rcpt, status, dsn, relay, reason): log the Postfix
 *     line "ID: to=<..>, orig_to=<..>, relay=.., delay=.., delays=..,
 *     dsn=.., status=sent|deferred|bounced (reason)" (soft_bounce applied).
 *
 * Client side, synchronous (tests and tools; qmgr runs many requests at
 * once with the asynchronous deliver_client.h):
 *   deliver_send(transport, req, fn, ctx, err): connect to
 *     private/<transport> (relative to the current directory, else to
 *     queue_directory), send req, call fn once per recipient result.
 *     Returns 0 when the agent finished the request. On a connect
 *     failure, a protocol error, timeout (ipc_timeout per read) or EOF,
 *     every recipient without a result is reported deferred through fn
 *     ("4.3.0 mail transport unavailable" when the connection could not be
 *     made, "4.3.0 delivery agent crashed or sent garbage" otherwise) and
 *     -1 is returned with err saying what happened. fn is called exactly
 *     once per recipient of req, whatever happens. Recipients deferred
 *     by this module (not by the agent) are logged by it, in the same
 *     shape as deliver_log.
 *   deliver_send_stream(s, req, fn, ctx, err): the same over an open
 *     stream (tests; the caller closes s).
 *
 *   deliver_send_stream ignores the site status of the final message;
 *   the asynchronous client (deliver_client.h) reports it.
 *
 * Shared with deliver_client (the asynchronous client):
 *   deliver_encode_request(req, out): the request and its recipient
 *     messages, encoded, appended to out. 0, or -1 over out's limit.
 *   deliver_reply_scan(list, req, seen, rep, why): check one decoded
 *     reply: 1 a result for recipient rep->index (not yet seen[]), 0 the
 *     final message (rep->site_status, rep->reason), -1 a protocol
 *     error (why says what). rep's strings point into list.
 *   deliver_log_out(req, i, status, dsn, relay, reason): log a result
 *     made up on qmgr's side for recipient i in the agent's line shape.
 *
 * See deliver_request.c for the full contracts.
 */
#ifndef POSTERN_DELIVER_REQUEST_H
#define POSTERN_DELIVER_REQUEST_H

#include <stddef.h>

#include "attr.h"
#include "stream.h"
#include "strbuf.h"

/* Status values. */
#define DELIVER_STAT_OK     0           /* delivered */
#define DELIVER_STAT_DEFER  4           /* try again later */
#define DELIVER_STAT_BOUNCE 5           /* permanent failure */

/* Bounds of one request (the agent checks them). */
#define DELIVER_RCPT_MAX    10000       /* recipients per request */
#define DELIVER_TEXT_MAX    4096        /* bytes per text attribute */

/* One recipient, as the agent sees it; strings owned by the request. */
typedef struct deliver_rcpt {
    char   *address;
    char   *orig;                       /* "" when none */
    char   *orcpt;                      /* "" when none */
    int     notify;                     /* QFILE_NOTIFY_* bits, 0 = none */
    long    offset;                     /* R record offset, echo in result */
} deliver_rcpt;

/* One request, as the agent sees it; every string is owned. */
typedef struct deliver_request {
    char   *queue_name;                 /* "active": [a-z]{1,32} */
    char   *queue_id;                   /* checked by mail_queue_id_ok */
    long    offset;                     /* 'M' record offset */
    long    size;                       /* content size */
    char   *nexthop;
    char   *sender;                     /* "" = null sender */
    char   *envid;                      /* "" when none */
    int     ret;                        /* enum qfile_ret */
    long    arrival_time;               /* seconds */
    int     flags;
    deliver_rcpt *rcpts;
    size_t  nrcpts;
    long    start_time;                 /* when the agent read it (delays=) */
} deliver_request;

/* One recipient, as qmgr sends it; strings borrowed (NULL = none). */
typedef struct deliver_rcpt_out {
    const char *address;
    const char *orig;
    const char *orcpt;
    int     notify;
    long    offset;
} deliver_rcpt_out;

/* One request, as qmgr sends it; strings borrowed (NULL = none). */
typedef struct deliver_req_out {
    const char *queue_name;
    const char *queue_id;
    long    offset;
    long    size;
    const char *nexthop;
    const char *sender;
    const char *envid;
    int     ret;
    long    arrival_time;
    int     flags;
    const deliver_rcpt_out *rcpts;
    size_t  nrcpts;
} deliver_req_out;

/* One reply as deliver_reply_scan saw it. */
typedef struct deliver_reply {
    size_t  index;                      /* recipient index in the request */
    long    offset;
    int     status;                     /* DELIVER_STAT_* */
    const char *dsn;
    const char *relay;
    const char *reason;
    int     site_status;                /* final message: 0 or 4 */
} deliver_reply;

/* Called once per recipient; strings valid during the call only. */
typedef void (*deliver_result_fn) (void *ctx, long rcpt_offset, int status,
                                   const char *dsn, const char *relay,
                                   const char *reason);

/* Server side. */
deliver_request *deliver_request_read(stream *s, strbuf *err);
deliver_request *deliver_request_free(deliver_request *req);
int     deliver_result(stream *s, long rcpt_offset, int status, const char *dsn,
                       const char *relay, const char *reason);
int     deliver_done(stream *s);
int     deliver_done_status(stream *s, int site_status, const char *reason);
void    deliver_log(const deliver_request *req, const deliver_rcpt *rcpt,
                    int status, const char *dsn, const char *relay,
                    const char *reason);

/* Client side. */
int     deliver_send(const char *transport, const deliver_req_out *req,
                     deliver_result_fn fn, void *ctx, strbuf *err);
int     deliver_send_stream(stream *s, const deliver_req_out *req,
                            deliver_result_fn fn, void *ctx, strbuf *err);

/* Shared with deliver_client. */
int     deliver_encode_request(const deliver_req_out *req, strbuf *out);
int     deliver_reply_scan(const attr_list *list, const deliver_req_out *req,
                           const char *seen, deliver_reply *rep, strbuf *why);
void    deliver_log_out(const deliver_req_out *req, size_t i, int status,
                        const char *dsn, const char *relay, const char *reason);

#endif
