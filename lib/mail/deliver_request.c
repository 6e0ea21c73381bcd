/*
 * deliver_request: the qmgr -> delivery agent protocol, both sides
 * (conversation in deliver_request.h).
 *
 * Wire details: ret_flags, flags, notify_flags and offsets are decimal
 * numbers (ret_flags is an enum qfile_ret: 0 none, 1 FULL, 2 HDRS);
 * optional strings that are absent are sent empty. A result message
 * carries offset, status, dsn_status, reason, relay; the final message is
 * exactly status=0, or status=4 and reason (the destination failed as a
 * whole: qmgr's negative concurrency feedback, deliver_client).
 *
 * Server side (delivery agent):
 *   deliver_request_read(s, err): sets the stream timeout to ipc_timeout
 *     when the stream has none, sends protocol=delivery_request_protocol,
 *     reads the request and its recipients. Returns the request (every
 *     string owned; free with deliver_request_free, which returns NULL),
 *     or NULL with err (may be NULL) naming what was wrong: I/O error,
 *     timeout, EOF, malformed message, missing/unknown/repeated
 *     attribute, bad queue name or ID, a number out of range, too many or
 *     no recipients, a text over DELIVER_TEXT_MAX.
 *   deliver_result(s, rcpt_offset, status, dsn, relay, reason): send one
 *     result; status 5 becomes 4 (and dsn 5.x.y 4.x.y) with soft_bounce.
 *     NULL texts are sent empty. 0 or -1 (I/O error).
 *   deliver_done(s): send status=0, flush. 0 or -1.
 *   deliver_done_status(s, site_status, reason): the final message with
 *     DELIVER_STAT_OK (= deliver_done) or DELIVER_STAT_DEFER plus reason
 *     ("destination failed" when NULL or empty). Any other status is a
 *     programming error (panic). 0 or -1.
 *   deliver_log(req, rcpt, status, dsn, relay, reason): log the
 *     Postfix-shape delivery line for one recipient (soft_bounce applied).
 *   deliver_log_out(req, i, status, dsn, relay, reason): the same line for
 *     recipient i of a client-side request (results qmgr makes up).
 *   deliver_encode_request(req, out): the request message and its
 *     recipient messages, appended to out; 0, or -1 over out's limit.
 *   deliver_reply_scan(list, req, seen, rep, why): check one decoded
 *     reply against req: 1 a result for a recipient not yet seen (index,
 *     offset, status, dsn, relay, reason in rep, pointing into list), 0
 *     the final message (rep->site_status, rep->reason), -1 anything
 *     else (why: unknown attribute, bad status or dsn_status, unknown or
 *     repeated offset, a final message other than status=0 alone or
 *     status=4 with a reason).
 *
 * Client side, synchronous (qmgr itself uses deliver_client):
 *   deliver_send(transport, req, fn, ctx, err): transport must be
 *     [A-Za-z0-9_.-]{1,64}; connects to private/TRANSPORT (trigger_connect)
 *     with ipc_timeout on every read and write, then deliver_send_stream.
 *     A failed connect defers every recipient "4.3.0 mail transport
 *     unavailable" (relay=none) and returns -1.
 *   deliver_send_stream(s, req, fn, ctx, err): check the protocol, send
 *     req, read results and call fn(ctx, offset, status, dsn, relay,
 *     reason) for each (the final message's site status is accepted and
 *     not reported: the asynchronous deliver_client reports it). A
 *     result for an unknown or already reported
 *     offset, a bad status or a malformed message ends the conversation
 *     as a protocol error. On any error the recipients not yet reported
 *     are reported deferred (4.3.0 "delivery agent crashed or sent a bad
 *     reply: WHY") and -1 returned with err set. Returns 0 when the agent
 *     sent its final message; recipients it did not report are then
 *     deferred too (with a warning). Either way fn is called exactly once
 *     per recipient. The caller closes s. Recipients deferred here
 *     (not by the agent) are logged here in the agent's line shape
 *     (relay=none, dsn=4.3.0, status=deferred), so every result is logged
 *     exactly once, by the agent or by this module.
 *
 * SECURITY: the agent runs as root (local) and reads requests from qmgr;
 * qmgr reads results from an agent that may have switched to a user's
 * uid and been subverted. Both directions are decoded strictly with
 * limits; queue IDs and names are checked before the agent uses them in
 * a path; result texts are length-bounded. Nothing a peer sends reaches
 * msg_fatal or msg_panic.
 * LIMITS: DELIVER_RCPT_MAX recipients, DELIVER_TEXT_MAX bytes per value,
 * ipc_timeout per read.
 */
#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "attr.h"
#include "attr_names.h"
#include "deliver_request.h"
#include "mail_queue.h"
#include "mem.h"
#include "msg.h"
#include "param.h"
#include "param_names.h"
#include "strbuf.h"
#include "strutil.h"
#include "trigger.h"

#define DELIVER_LONG_MAX 0x7fffffffffffffffL

static const attr_limits deliver_limits = {
    32, DELIVER_TEXT_MAX, 8 * DELIVER_TEXT_MAX
};

/* deliver_ipc_ms: ipc_timeout in milliseconds, capped for poll(). */
static int deliver_ipc_ms(void)
{
    long    sec = param_time(PARAM_IPC_TIMEOUT);

    if (sec <= 0 || sec > 2000000)
        sec = 2000000;
    return (int) (sec * 1000);
}

/* deliver_name_ok: queue names are short lower-case words. */
static int deliver_name_ok(const char *name)
{
    size_t  i;

    for (i = 0; name[i]; i++)
        if (i >= 32 || name[i] < 'a' || name[i] > 'z')
            return 0;
    return i > 0;
}

/* deliver_transport_ok: transport names that may become a socket path. */
static int deliver_transport_ok(const char *name)
{
    size_t  i;

    for (i = 0; name[i]; i++) {
        char    c = name[i];

        if (i >= 64)
            return 0;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
              || (c >= '0' && c <= '9') || c == '_' || c == '-'
              || (c == '.' && i > 0)))
            return 0;
    }
    return i > 0;
}

/* deliver_soft: apply soft_bounce to a status and dsn (dsn copied). */
static int deliver_soft(int status, const char *dsn, char *buf, size_t size)
{
    if (str_copy(buf, size, dsn ? dsn : "") < 0)
        buf[0] = 0;
    if (status == DELIVER_STAT_BOUNCE && param_bool(PARAM_SOFT_BOUNCE)) {
        status = DELIVER_STAT_DEFER;
        if (buf[0] == '5')
            buf[0] = '4';
    }
    return status;
}

/* deliver_request_free: free a request; returns NULL. */
deliver_request *deliver_request_free(deliver_request *req)
{
    size_t  i;

    if (req == NULL)
        return NULL;
    for (i = 0; i < req->nrcpts; i++) {
        mem_free(req->rcpts[i].address);
        mem_free(req->rcpts[i].orig);
        mem_free(req->rcpts[i].orcpt);
    }
    mem_free(req->rcpts);
    mem_free(req->queue_name);
    mem_free(req->queue_id);
    mem_free(req->nexthop);
    mem_free(req->sender);
    mem_free(req->envid);
    mem_free(req);
    return NULL;
}

/* deliver_request_read: send the protocol, read one request. */
deliver_request *deliver_request_read(stream *s, strbuf *err)
{
    strbuf *why = err ? err : strbuf_new(64);
    attr_list *list = attr_list_new();
    deliver_request *req = mem_calloc(1, sizeof(*req));
    const char *qname = NULL, *qid = NULL, *nexthop = "", *sender = NULL;
    const char *envid = "";
    long    offset = 0, size = 0, ret = 0, arrival = 0, flags = 0, count = 0;
    size_t  i;
    int     ok = 0;

    if (stream_timeout(s) <= 0)
        stream_set_timeout(s, deliver_ipc_ms());
    if (attr_send_protocol(s, ATTR_PROTO_DELIVERY) < 0) {
        strbuf_printf(why, "cannot send protocol: %m");
        goto out;
    }
    if (attr_read(s, &deliver_limits, list, why) < 0)
        goto out;
    {
        const attr_spec specs[] = {
            ATTR_SPEC_STR(ATTR_NAME_QUEUE_NAME, 1, &qname),
            ATTR_SPEC_STR(ATTR_NAME_QUEUE_ID, 1, &qid),
            ATTR_SPEC_LONG(ATTR_NAME_OFFSET, 1, 0, DELIVER_LONG_MAX, &offset),
            ATTR_SPEC_LONG(ATTR_NAME_SIZE, 1, 0, DELIVER_LONG_MAX, &size),
            ATTR_SPEC_STR(ATTR_NAME_NEXTHOP, 0, &nexthop),
            ATTR_SPEC_STR(ATTR_NAME_SENDER, 1, &sender),
            ATTR_SPEC_STR(ATTR_NAME_ENVELOPE_ID, 0, &envid),
            ATTR_SPEC_LONG(ATTR_NAME_RET_FLAGS, 0, 0, 2, &ret),
            ATTR_SPEC_LONG(ATTR_NAME_ARRIVAL_TIME, 0, 0, DELIVER_LONG_MAX, &arrival),
            ATTR_SPEC_LONG(ATTR_NAME_FLAGS, 0, 0, 0x7fffffffL, &flags),
            ATTR_SPEC_LONG(ATTR_NAME_RCPT_COUNT, 1, 1, DELIVER_RCPT_MAX, &count),
        };

        if (attr_scan(list, specs, (int) (sizeof(specs) / sizeof(specs[0])),
                      why) < 0)
            goto out;
    }
    if (!deliver_name_ok(qname)) {
        strbuf_printf(why, "bad queue name in delivery request");
        goto out;
    }
    if (!mail_queue_id_ok(qid)) {
        strbuf_printf(why, "bad queue ID in delivery request");
        goto out;
    }
    req->queue_name = mem_strdup(qname);
    req->queue_id = mem_strdup(qid);
    req->offset = offset;
    req->size = size;
    req->nexthop = mem_strdup(nexthop);
    req->sender = mem_strdup(sender);
    req->envid = mem_strdup(envid);
    req->ret = (int) ret;
    req->arrival_time = arrival;
    req->flags = (int) flags;
    req->start_time = (long) time(NULL);
    req->rcpts = mem_calloc((size_t) count, sizeof(*req->rcpts));
    for (i = 0; i < (size_t) count; i++) {
        const char *addr = NULL, *orig = "", *orcpt = "";
        long    notify = 0, roff = 0;
        const attr_spec rspecs[] = {
            ATTR_SPEC_STR(ATTR_NAME_RECIPIENT, 1, &addr),
            ATTR_SPEC_STR(ATTR_NAME_ORIGINAL_RCPT, 0, &orig),
            ATTR_SPEC_STR(ATTR_NAME_DSN_ORCPT, 0, &orcpt),
            ATTR_SPEC_LONG(ATTR_NAME_NOTIFY_FLAGS, 0, 0, 15, &notify),
            ATTR_SPEC_LONG(ATTR_NAME_OFFSET, 1, 0, DELIVER_LONG_MAX, &roff),
        };

        if (attr_read(s, &deliver_limits, list, why) < 0)
            goto out;
        if (attr_scan(list, rspecs, (int) (sizeof(rspecs) / sizeof(rspecs[0])),
                      why) < 0)
            goto out;
        req->rcpts[i].address = mem_strdup(addr);
        req->rcpts[i].orig = mem_strdup(orig);
        req->rcpts[i].orcpt = mem_strdup(orcpt);
        req->rcpts[i].notify = (int) notify;
        req->rcpts[i].offset = roff;
        req->nrcpts = i + 1;
    }
    ok = 1;

out:
    attr_list_free(list);
    if (why != err)
        strbuf_free(why);
    if (!ok)
        return deliver_request_free(req);
    return req;
}

/* deliver_result: send one recipient's result. */
int     deliver_result(stream *s, long rcpt_offset, int status, const char *dsn,
                       const char *relay, const char *reason)
{
    attr_list *list = attr_list_new();
    char    dsnbuf[32];
    int     ret;

    status = deliver_soft(status, dsn, dsnbuf, sizeof(dsnbuf));
    attr_list_add_long(list, ATTR_NAME_OFFSET, rcpt_offset);
    attr_list_add_long(list, ATTR_NAME_STATUS, status);
    attr_list_add_str(list, ATTR_NAME_DSN_STATUS, dsnbuf);
    attr_list_add_str(list, ATTR_NAME_REASON, reason ? reason : "");
    attr_list_add_str(list, ATTR_NAME_RELAY, relay ? relay : "");
    ret = attr_write(s, list);
    attr_list_free(list);
    return ret;
}

/* deliver_done_status: send the final message, with a site status. */
int     deliver_done_status(stream *s, int site_status, const char *reason)
{
    attr_list *list;
    int     ret;

    if (site_status != DELIVER_STAT_OK && site_status != DELIVER_STAT_DEFER)
        msg_panic("deliver_done_status: bad site status %d", site_status);
    list = attr_list_new();
    attr_list_add_long(list, ATTR_NAME_STATUS, site_status);
    if (site_status != DELIVER_STAT_OK)
        attr_list_add_str(list, ATTR_NAME_REASON, reason && *reason ? reason
                          : "destination failed");
    ret = attr_write(s, list);
    attr_list_free(list);
    return ret;
}

/* deliver_done: send the final message (no site failure). */
int     deliver_done(stream *s)
{
    return deliver_done_status(s, DELIVER_STAT_OK, NULL);
}

/* deliver_fmt_delay: Postfix-like compact seconds. */
static void deliver_fmt_delay(char *buf, size_t size, double v)
{
    if (v < 0)
        v = 0;
    if (v < 0.01)
        str_format(buf, size, "0");
    else if (v < 1)
        str_format(buf, size, "%.2f", v);
    else if (v < 10)
        str_format(buf, size, "%.1f", v);
    else
        str_format(buf, size, "%.0f", v);
}

/* deliver_log_line: the Postfix-shape delivery log line, from parts. */
static void deliver_log_line(const char *queue_id, const char *address,
                             const char *orig_rcpt, long arrival_time,
                             long start_time, int status, const char *dsn,
                             const char *relay, const char *reason)
{
    struct timeval tv;
    double  now, total, before, during;
    char    d_total[32], d_a[32], d_d[32], dsnbuf[32];
    strbuf *orig = strbuf_new(64);
    const char *word;

    status = deliver_soft(status, dsn, dsnbuf, sizeof(dsnbuf));
    gettimeofday(&tv, NULL);
    now = (double) tv.tv_sec + (double) tv.tv_usec / 1e6;
    total = arrival_time > 0 ? now - (double) arrival_time : 0;
    during = now - (double) start_time;
    if (during < 0 || during > total)
        during = total;
    before = total - during;
    deliver_fmt_delay(d_total, sizeof(d_total), total);
    deliver_fmt_delay(d_a, sizeof(d_a), before);
    deliver_fmt_delay(d_d, sizeof(d_d), during);
    if (orig_rcpt && *orig_rcpt && strcmp(orig_rcpt, address) != 0)
        strbuf_printf(orig, ", orig_to=<%s>", orig_rcpt);
    word = status == DELIVER_STAT_OK ? "sent"
        : status == DELIVER_STAT_BOUNCE ? "bounced" : "deferred";
    msg_info("%s: to=<%s>%s, relay=%s, delay=%s, delays=%s/0/0/%s, dsn=%s, "
             "status=%s (%s)", queue_id, address, orig->data,
             relay && *relay ? relay : "none", d_total, d_a, d_d,
             dsnbuf[0] ? dsnbuf : "4.0.0", word, reason ? reason : "");
    strbuf_free(orig);
}

/* deliver_log: the Postfix-shape delivery log line. */
void    deliver_log(const deliver_request *req, const deliver_rcpt *rcpt,
                    int status, const char *dsn, const char *relay,
                    const char *reason)
{
    deliver_log_line(req->queue_id, rcpt->address, rcpt->orig,
                     req->arrival_time, req->start_time, status, dsn, relay,
                     reason);
}

/* deliver_log_out: log a result qmgr's side made up for one recipient. */
void    deliver_log_out(const deliver_req_out *req, size_t i, int status,
                        const char *dsn, const char *relay, const char *reason)
{
    deliver_log_line(req->queue_id, req->rcpts[i].address, req->rcpts[i].orig,
                     req->arrival_time, (long) time(NULL), status, dsn, relay,
                     reason);
}

/* deliver_encode_request: the request and its recipients, encoded. */
int     deliver_encode_request(const deliver_req_out *req, strbuf *out)
{
    attr_list *list = attr_list_new();
    size_t  i;
    int     ret = 0;

    attr_list_add_str(list, ATTR_NAME_QUEUE_NAME,
                      req->queue_name ? req->queue_name : "active");
    attr_list_add_str(list, ATTR_NAME_QUEUE_ID, req->queue_id);
    attr_list_add_long(list, ATTR_NAME_OFFSET, req->offset);
    attr_list_add_long(list, ATTR_NAME_SIZE, req->size);
    attr_list_add_str(list, ATTR_NAME_NEXTHOP, req->nexthop ? req->nexthop : "");
    attr_list_add_str(list, ATTR_NAME_SENDER, req->sender ? req->sender : "");
    attr_list_add_str(list, ATTR_NAME_ENVELOPE_ID, req->envid ? req->envid : "");
    attr_list_add_long(list, ATTR_NAME_RET_FLAGS, req->ret);
    attr_list_add_long(list, ATTR_NAME_ARRIVAL_TIME, req->arrival_time);
    attr_list_add_long(list, ATTR_NAME_FLAGS, req->flags);
    attr_list_add_long(list, ATTR_NAME_RCPT_COUNT, (long) req->nrcpts);
    if (attr_encode(out, list) < 0)
        ret = -1;
    for (i = 0; ret == 0 && i < req->nrcpts; i++) {
        const deliver_rcpt_out *r = req->rcpts + i;

        attr_list_reset(list);
        attr_list_add_str(list, ATTR_NAME_RECIPIENT, r->address);
        attr_list_add_str(list, ATTR_NAME_ORIGINAL_RCPT, r->orig ? r->orig : "");
        attr_list_add_str(list, ATTR_NAME_DSN_ORCPT, r->orcpt ? r->orcpt : "");
        attr_list_add_long(list, ATTR_NAME_NOTIFY_FLAGS, r->notify);
        attr_list_add_long(list, ATTR_NAME_OFFSET, r->offset);
        if (attr_encode(out, list) < 0)
            ret = -1;
    }
    attr_list_free(list);
    return ret;
}

/* deliver_reply_scan: check one reply message from the agent. */
int     deliver_reply_scan(const attr_list *list, const deliver_req_out *req,
                           const char *seen, deliver_reply *out, strbuf *why)
{
    long    offset = -1, status = -1;
    const char *dsn = NULL, *reason = "", *relay = "";
    const attr_spec specs[] = {
        ATTR_SPEC_LONG(ATTR_NAME_OFFSET, 0, 0, DELIVER_LONG_MAX, &offset),
        ATTR_SPEC_LONG(ATTR_NAME_STATUS, 1, 0, 5, &status),
        ATTR_SPEC_STR(ATTR_NAME_DSN_STATUS, 0, &dsn),
        ATTR_SPEC_STR(ATTR_NAME_REASON, 0, &reason),
        ATTR_SPEC_STR(ATTR_NAME_RELAY, 0, &relay),
    };
    size_t  i;

    memset(out, 0, sizeof(*out));
    if (attr_scan(list, specs, (int) (sizeof(specs) / sizeof(specs[0])),
                  why) < 0)
        return -1;
    if (offset < 0) {
        /* The final message: status=0, or status=4 reason=TEXT. */
        if (status == DELIVER_STAT_OK && list->count == 1) {
            out->site_status = DELIVER_STAT_OK;
            out->reason = "";
            return 0;
        }
        if (status == DELIVER_STAT_DEFER && list->count == 2
            && attr_list_find(list, ATTR_NAME_REASON, NULL) != NULL) {
            out->site_status = DELIVER_STAT_DEFER;
            out->reason = reason;
            return 0;
        }
        strbuf_setf(why, "bad final reply");
        return -1;
    }
    if (status != DELIVER_STAT_OK && status != DELIVER_STAT_DEFER
        && status != DELIVER_STAT_BOUNCE) {
        strbuf_setf(why, "bad status %ld", status);
        return -1;
    }
    if (dsn == NULL || strlen(dsn) < 5 || strlen(dsn) > 16
        || dsn[0] != (char) ('0' + (status == 0 ? 2 : status))
        || dsn[1] != '.') {
        strbuf_setf(why, "bad dsn_status for status %ld", status);
        return -1;
    }
    for (i = 0; i < req->nrcpts; i++)
        if (req->rcpts[i].offset == offset && !seen[i])
            break;
    if (i == req->nrcpts) {
        strbuf_setf(why, "result for unknown or already reported "
                    "recipient offset %ld", offset);
        return -1;
    }
    out->index = i;
    out->offset = offset;
    out->status = (int) status;
    out->dsn = dsn;
    out->relay = relay;
    out->reason = reason;
    return 1;
}

/* deliver_defer_rest: report deferred every recipient without a result. */
static void deliver_defer_rest(const deliver_req_out *req, char *seen,
                               deliver_result_fn fn, void *ctx,
                               const char *relay, const char *reason)
{
    size_t  i;

    for (i = 0; i < req->nrcpts; i++) {
        if (seen[i])
            continue;
        seen[i] = 1;
        deliver_log_line(req->queue_id, req->rcpts[i].address,
                         req->rcpts[i].orig, req->arrival_time,
                         (long) time(NULL), DELIVER_STAT_DEFER, "4.3.0",
                         relay, reason);
        fn(ctx, req->rcpts[i].offset, DELIVER_STAT_DEFER, "4.3.0", relay,
           reason);
    }
}

/* deliver_send_stream: run one request over an open stream. */
int     deliver_send_stream(stream *s, const deliver_req_out *req,
                            deliver_result_fn fn, void *ctx, strbuf *err)
{
    strbuf *why = strbuf_new(64);
    strbuf *text = strbuf_new(128);
    attr_list *list = attr_list_new();
    char   *seen = mem_calloc(req->nrcpts + 1, 1);
    size_t  reported = 0;
    int     ret = -1;

    if (attr_expect_protocol(s, ATTR_PROTO_DELIVERY, why) < 0)
        goto out;
    if (deliver_encode_request(req, text) < 0
        || stream_write(s, text->data, text->len) < 0 || stream_flush(s) < 0) {
        strbuf_printf(why, "write request: %m");
        goto out;
    }
    strbuf_reset(text);
    for (;;) {
        deliver_reply rep;
        int     kind;

        if (attr_read(s, &deliver_limits, list, why) < 0)
            goto out;
        if ((kind = deliver_reply_scan(list, req, seen, &rep, why)) < 0)
            goto out;
        if (kind == 0)
            break;                      /* site status: see deliver_client */
        seen[rep.index] = 1;
        reported++;
        fn(ctx, rep.offset, rep.status, rep.dsn, rep.relay, rep.reason);
    }
    ret = 0;
    if (reported < req->nrcpts) {
        msg_warn("%s: delivery agent reported %zu of %zu recipients",
                 req->queue_id, reported, req->nrcpts);
        deliver_defer_rest(req, seen, fn, ctx, "none",
                           "delivery agent did not report this recipient");
    }

out:
    if (ret < 0) {
        strbuf_printf(text, "delivery agent crashed or sent a bad reply: %s",
                      why->data);
        deliver_defer_rest(req, seen, fn, ctx, "none", text->data);
        if (err)
            strbuf_printf(err, "%s", why->data);
    }
    mem_free(seen);
    attr_list_free(list);
    strbuf_free(text);
    strbuf_free(why);
    return ret;
}

/* deliver_send: connect to private/TRANSPORT and run one request. */
int     deliver_send(const char *transport, const deliver_req_out *req,
                     deliver_result_fn fn, void *ctx, strbuf *err)
{
    strbuf *path = strbuf_new(128);
    char   *seen = mem_calloc(req->nrcpts + 1, 1);
    stream *s;
    int     fd;
    int     ret;

    if (!deliver_transport_ok(transport)) {
        if (err)
            strbuf_printf(err, "bad transport name");
        deliver_defer_rest(req, seen, fn, ctx, "none",
                           "mail transport unavailable");
        ret = -1;
        goto out;
    }
    strbuf_printf(path, "private/%s", transport);
    fd = trigger_connect(path->data, deliver_ipc_ms());
    if (fd < 0) {
        if (err)
            strbuf_printf(err, "connect to %s: %m", path->data);
        deliver_defer_rest(req, seen, fn, ctx, "none",
                           "mail transport unavailable");
        ret = -1;
        goto out;
    }
    s = stream_fdopen(fd, STREAM_F_RDWR);
    stream_set_timeout(s, deliver_ipc_ms());
    ret = deliver_send_stream(s, req, fn, ctx, err);
    stream_close(s);

out:
    mem_free(seen);
    strbuf_free(path);
    return ret;
}
