/*
 * deliver_agent: the frame around one delivery request that every
 * delivery agent (local, virtual, error, discard) shares. The agent
 * decides each recipient's outcome; this module reads the request, opens
 * the queue file, logs and reports outcomes, and finishes the request.
 *
 * Public functions:
 *   deliver_agent_read(client, relay): read one request from qmgr with
 *     deliver_request_read (which sends the protocol name and sets the
 *     stream's timeout to ipc_timeout when it has none). relay is the
 *     relay= text of every report ("local", "none"); it is borrowed and
 *     must outlive the agent, as must client. Returns an agent to free
 *     with deliver_agent_free, or NULL after the warning "bad delivery
 *     request: WHY" (nothing can be reported for a request that could not
 *     be read; qmgr defers its recipients when the connection closes).
 *   deliver_agent_open_queue(a, max_record): open the file the request
 *     names, which must be active/ID with an ID that mail_queue_id_ok
 *     accepts, read-only and never through a symlink; read its envelope
 *     strictly (records of at most max_record bytes) and the Delivered-To:
 *     values of its header. Returns 0: a->content reads the message (again
 *     for every destination) and a->delivered_to holds the lower-cased
 *     Delivered-To: addresses. Returns -1 when the name is bad, the file
 *     cannot be opened or parsed, or the content is damaged: every
 *     recipient not reported yet has then been deferred with
 *     DELIVER_AGENT_DSN_QFILE and a reason, and the details logged. A
 *     temporary problem of the queue file never bounces mail.
 *   deliver_agent_report(a, rcpt, status, dsn, reason): log the Postfix
 *     delivery line for rcpt (one of a->req->rcpts) and send its result to
 *     qmgr. 0, or -1 when the connection to qmgr is lost (warned once;
 *     a->lost is set and later reports send nothing). Reporting a
 *     recipient twice, or one not in the request, is a programming error
 *     (panic): qmgr would take the second result for a protocol error.
 *   deliver_agent_report_all(a, status, dsn, reason): report every
 *     recipient not reported yet with this outcome, in request order;
 *     stops at a lost connection. 0 or -1 as deliver_agent_report.
 *   deliver_agent_each(a, fn, ctx): for every recipient not reported yet,
 *     in request order, call fn(ctx, rcpt, res) and report the outcome it
 *     put in res (status, dsn, res->reason; res->reason is allocated here
 *     and valid during the call). An outcome fn does not set stays
 *     "4.3.0 internal error: no delivery outcome" (defer, never a silent
 *     success). Stops at a lost connection. 0 or -1 as
 *     deliver_agent_report.
 *   deliver_agent_done(a): send the final message. Nothing is sent after
 *     a lost connection. 0, or -1 (lost, warned).
 *   deliver_agent_free(a): close the queue file, free the request and the
 *     agent. Returns NULL.
 *
 * SECURITY: the request comes from qmgr and is checked by
 * deliver_request_read; the queue ID and queue name are checked again
 * before they become a path, the file is opened O_NOFOLLOW and parsed
 * strictly by qfile. Nothing here changes privilege: the caller decides
 * the ids it runs with.
 * LIMITS: those of deliver_request (DELIVER_RCPT_MAX recipients,
 * DELIVER_TEXT_MAX bytes per text), max_record bytes per queue-file record,
 * MAILBOX_DELIVERED_MAX Delivered-To: values.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "deliver_agent.h"
#include "mail_queue.h"
#include "mem.h"
#include "msg.h"
#include "strbuf.h"

#define DELIVER_AGENT_QUEUE "active"    /* the only queue agents read */

/* deliver_agent_content_start: position the reader at the content. */
static int deliver_agent_content_start(void *ctx, strbuf *err)
{
    deliver_agent *a = ctx;

    return qfile_content_start(a->rd, a->env, err);
}

/* deliver_agent_content_next: the next piece of the content. */
static int deliver_agent_content_next(void *ctx, strbuf *piece, strbuf *err)
{
    deliver_agent *a = ctx;

    return qfile_content_next(a->rd, piece, err);
}

/* deliver_agent_read: read one request; NULL after a warning. */
deliver_agent *deliver_agent_read(stream *client, const char *relay)
{
    strbuf *err = strbuf_new(128);
    deliver_request *req;
    deliver_agent *a = NULL;

    if ((req = deliver_request_read(client, err)) == NULL) {
        msg_warn("bad delivery request: %s", strbuf_str(err));
    } else {
        a = mem_calloc(1, sizeof(*a));
        a->req = req;
        a->client = client;
        a->relay = relay;
        a->reported = mem_calloc(req->nrcpts ? req->nrcpts : 1, 1);
        a->fd = -1;
    }
    strbuf_free(err);
    return a;
}

/* deliver_agent_open_queue: open and check the queue file; -1 deferred all. */
int     deliver_agent_open_queue(deliver_agent *a, size_t max_record)
{
    const deliver_request *req = a->req;
    strbuf *path = strbuf_new(256);
    strbuf *err = strbuf_new(128);
    int     ret = -1;

    if (a->fd >= 0)
        msg_panic("deliver_agent_open_queue: %s: opened twice", req->queue_id);
    if (!mail_queue_id_ok(req->queue_id)
        || strcmp(req->queue_name, DELIVER_AGENT_QUEUE) != 0
        || mail_queue_path(req->queue_name, req->queue_id, path) < 0) {
        msg_warn("%s: bad queue file name in request: %s/%s", req->queue_id,
                 req->queue_name, req->queue_id);
        (void) deliver_agent_report_all(a, DELIVER_STAT_DEFER, DELIVER_AGENT_DSN_QFILE,
                                        "bad queue file name in request");
    } else if ((a->fd = open(path->data, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) < 0) {
        (void) strbuf_printf(err, "cannot open queue file: %s", strerror(errno));
        msg_warn("%s: %s: %s", req->queue_id, path->data, err->data);
        (void) deliver_agent_report_all(a, DELIVER_STAT_DEFER, DELIVER_AGENT_DSN_QFILE,
                                        err->data);
    } else if ((a->rd = qfile_reader_fd(a->fd, max_record)) == NULL
               || (a->env = qfile_read_envelope(a->rd, QFILE_ENV_SKIP_CONTENT, err)) == NULL) {
        msg_warn("%s: unreadable queue file: %s", req->queue_id, strbuf_str(err));
        (void) deliver_agent_report_all(a, DELIVER_STAT_DEFER, DELIVER_AGENT_DSN_QFILE,
                                        "queue file is unreadable");
    } else {
        a->content.start = deliver_agent_content_start;
        a->content.next = deliver_agent_content_next;
        a->content.ctx = a;
        a->delivered_to = htable_new(8);
        if (mailbox_content_headers(&a->content, a->delivered_to, err) < 0) {
            msg_warn("%s: damaged content: %s", req->queue_id, strbuf_str(err));
            (void) deliver_agent_report_all(a, DELIVER_STAT_DEFER, DELIVER_AGENT_DSN_QFILE,
                                            "queue file content is damaged");
        } else {
            ret = 0;
        }
    }
    strbuf_free(path);
    strbuf_free(err);
    return ret;
}

/* deliver_agent_report: log and send one recipient's outcome. */
int     deliver_agent_report(deliver_agent *a, const deliver_rcpt *rcpt,
                             int status, const char *dsn, const char *reason)
{
    size_t  i;

    if (rcpt < a->req->rcpts || rcpt >= a->req->rcpts + a->req->nrcpts)
        msg_panic("deliver_agent_report: %s: recipient not in the request",
                  a->req->queue_id);
    i = (size_t) (rcpt - a->req->rcpts);
    if (a->reported[i])
        msg_panic("deliver_agent_report: %s: recipient %zu reported twice",
                  a->req->queue_id, i);
    a->reported[i] = 1;
    if (a->lost)
        return -1;
    deliver_log(a->req, rcpt, status, dsn, a->relay, reason);
    if (deliver_result(a->client, rcpt->offset, status, dsn, a->relay, reason) < 0) {
        msg_warn("%s: lost the connection to the queue manager", a->req->queue_id);
        a->lost = 1;
        return -1;
    }
    return 0;
}

/* deliver_agent_report_all: one outcome for every recipient not reported. */
int     deliver_agent_report_all(deliver_agent *a, int status, const char *dsn,
                                 const char *reason)
{
    size_t  i;

    for (i = 0; i < a->req->nrcpts && !a->lost; i++)
        if (!a->reported[i]
            && deliver_agent_report(a, &a->req->rcpts[i], status, dsn, reason) < 0)
            return -1;
    return a->lost ? -1 : 0;
}

/* deliver_agent_each: let fn decide each recipient not reported; report it. */
int     deliver_agent_each(deliver_agent *a, deliver_agent_fn fn, void *ctx)
{
    mailbox_result res;
    size_t  i;
    int     ret = 0;

    res.reason = strbuf_new(128);
    for (i = 0; i < a->req->nrcpts && ret == 0; i++) {
        if (a->reported[i])
            continue;
        mailbox_result_set(&res, DELIVER_STAT_DEFER, DELIVER_AGENT_DSN_QFILE,
                           "internal error: no delivery outcome");
        fn(ctx, &a->req->rcpts[i], &res);
        ret = deliver_agent_report(a, &a->req->rcpts[i], res.status, res.dsn,
                                   strbuf_str(res.reason));
    }
    strbuf_free(res.reason);
    return a->lost ? -1 : ret;
}

/* deliver_agent_done: send the final message unless the connection is lost. */
int     deliver_agent_done(deliver_agent *a)
{
    if (a->lost)
        return -1;
    if (deliver_done(a->client) < 0) {
        msg_warn("%s: lost the connection to the queue manager", a->req->queue_id);
        a->lost = 1;
        return -1;
    }
    return 0;
}

/* deliver_agent_free: release the queue file, the request and the agent. */
deliver_agent *deliver_agent_free(deliver_agent *a)
{
    if (a == NULL)
        return NULL;
    if (a->delivered_to)
        htable_free(a->delivered_to, NULL);
    if (a->env)
        a->env = qfile_envelope_free(a->env);
    if (a->rd)
        a->rd = qfile_reader_free(a->rd);
    if (a->fd >= 0)
        (void) close(a->fd);
    mem_free(a->reported);
    a->req = deliver_request_free(a->req);
    return mem_free(a);
}
