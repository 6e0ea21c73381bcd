/*
 * deliver_client: the asynchronous qmgr side of the delivery protocol.
 *
 * Public functions (see deliver_client.h for the contracts):
 *   deliver_client_send(loop, transport, req, timeout_ms, result_fn,
 *     done_fn, ctx), deliver_client_send_fd(loop, fd, ...),
 *     deliver_client_abort(c), deliver_client_count().
 *
 * How it works: the request (deliver_encode_request) is encoded into an
 * output buffer at the start and written whenever the socket is
 * writable, after the agent's protocol message arrived. Input is read
 * into a buffer and decoded message by message with attr_decode, so
 * partial reads and several messages per read are both fine. One timer
 * limits the wait for any progress (connect, write, read). Every way out
 * (final message, EOF, garbage, timeout, no agent) goes through
 * client_finish, which defers the recipients not yet reported (4.3.0,
 * relay=none, logged in the agent's line shape) and calls done_fn once.
 * Connect failures and the start-up are reported from a 0 ms timer so no
 * callback runs inside deliver_client_send.
 *
 * A connect that finds the listen queue full (EAGAIN) is tried again
 * every DC_RETRY_MS until the timeout.
 *
 * SECURITY: the agent may run as a user and may be subverted: replies
 * are decoded strictly (deliver_reply_scan) with the same limits as the
 * synchronous client; a result for an unknown or repeated recipient is
 * a protocol error, never a second result. Transport names are checked
 * before they become a socket path.
 * LIMITS: DC_IN_MAX bytes of undecoded input (more is an error);
 * attribute limits as deliver_request; timeout_ms per wait.
 */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "attr.h"
#include "attr_names.h"
#include "deliver_client.h"
#include "deliver_request.h"
#include "event.h"
#include "mem.h"
#include "msg.h"
#include "param.h"
#include "param_names.h"
#include "strbuf.h"
#include "strutil.h"

#define DC_IN_MAX       (64 * 1024)     /* undecoded input held */
#define DC_RETRY_MS     50              /* connect retry when backlog full */
#define DC_READ_CHUNK   8192

static const attr_limits dc_limits = {
    32, DELIVER_TEXT_MAX, 8 * DELIVER_TEXT_MAX
};

/* Conversation states. */
enum dc_state {
    DC_CONNECTING,                      /* waiting to (re)try the connect */
    DC_PROTOCOL,                        /* waiting for protocol=... */
    DC_RESULTS,                         /* request sent (maybe partly) */
    DC_DONE
};

struct deliver_client {
    event_loop *loop;
    enum dc_state state;
    int     fd;
    int     watching_read;
    int     watching_write;
    int     timeout_ms;
    event_timer_id timer;               /* progress timeout */
    event_timer_id kick;                /* 0 ms start / retry timer */
    char   *path;                       /* socket path (send) */
    char   *alt_path;                   /* queue_directory/path, or NULL */
    int     connect_failed;             /* report "transport unavailable" */
    deliver_req_out req;                /* owned copy */
    deliver_rcpt_out *rcpts;
    char   *seen;
    size_t  reported;
    strbuf *out;                        /* encoded request */
    size_t  out_pos;
    strbuf *in;                         /* undecoded input */
    attr_list *list;
    deliver_result_fn result_fn;
    deliver_client_done_fn done_fn;
    void   *ctx;
};

static long dc_alive;

static void dc_arm_timeout(deliver_client *c);
static void dc_try_connect(deliver_client *c);

/* dc_dup: copy of s, or NULL. */
static char *dc_dup(const char *s)
{
    return s ? mem_strdup(s) : NULL;
}

/* dc_copy_req: deep copy of the caller's request. */
static void dc_copy_req(deliver_client *c, const deliver_req_out *req)
{
    size_t  i;

    c->req = *req;
    c->req.queue_name = dc_dup(req->queue_name);
    c->req.queue_id = dc_dup(req->queue_id);
    c->req.nexthop = dc_dup(req->nexthop);
    c->req.sender = dc_dup(req->sender);
    c->req.envid = dc_dup(req->envid);
    c->rcpts = mem_calloc(req->nrcpts + 1, sizeof(*c->rcpts));
    for (i = 0; i < req->nrcpts; i++) {
        c->rcpts[i] = req->rcpts[i];
        c->rcpts[i].address = dc_dup(req->rcpts[i].address);
        c->rcpts[i].orig = dc_dup(req->rcpts[i].orig);
        c->rcpts[i].orcpt = dc_dup(req->rcpts[i].orcpt);
    }
    c->req.rcpts = c->rcpts;
    c->seen = mem_calloc(req->nrcpts + 1, 1);
}

/* dc_free: release everything; no callbacks. */
static void dc_free(deliver_client *c)
{
    size_t  i;

    if (c->timer)
        (void) event_timer_cancel(c->loop, c->timer);
    if (c->kick)
        (void) event_timer_cancel(c->loop, c->kick);
    if (c->fd >= 0) {
        event_remove(c->loop, c->fd);
        close(c->fd);
    }
    for (i = 0; i < c->req.nrcpts; i++) {
        mem_free((char *) c->rcpts[i].address);
        mem_free((char *) c->rcpts[i].orig);
        mem_free((char *) c->rcpts[i].orcpt);
    }
    mem_free(c->rcpts);
    mem_free((char *) c->req.queue_name);
    mem_free((char *) c->req.queue_id);
    mem_free((char *) c->req.nexthop);
    mem_free((char *) c->req.sender);
    mem_free((char *) c->req.envid);
    mem_free(c->seen);
    mem_free(c->path);
    mem_free(c->alt_path);
    strbuf_free(c->out);
    strbuf_free(c->in);
    attr_list_free(c->list);
    mem_free(c);
    dc_alive--;
}

/* dc_finish: defer what is left, report done, free the client. */
static void dc_finish(deliver_client *c, int site_status, const char *reason)
{
    size_t  i;
    strbuf *text = strbuf_new(128);

    c->state = DC_DONE;
    /* Stop the descriptor and timers first: callbacks may run the loop's
     * bookkeeping (start other clients) but never see this one again. */
    if (c->timer)
        (void) event_timer_cancel(c->loop, c->timer);
    c->timer = 0;
    if (c->fd >= 0) {
        event_remove(c->loop, c->fd);
        close(c->fd);
        c->fd = -1;
    }
    if (site_status == DELIVER_CLIENT_BROKEN)
        strbuf_setf(text, "%s", reason);
    else
        strbuf_setf(text, "delivery agent did not report this recipient");
    if (c->reported < c->req.nrcpts && site_status != DELIVER_CLIENT_BROKEN)
        msg_warn("%s: delivery agent reported %zu of %zu recipients",
                 c->req.queue_id, c->reported, c->req.nrcpts);
    for (i = 0; i < c->req.nrcpts; i++) {
        if (c->seen[i])
            continue;
        c->seen[i] = 1;
        deliver_log_out(&c->req, i, DELIVER_STAT_DEFER, "4.3.0", "none",
                        text->data);
        c->result_fn(c->ctx, c->rcpts[i].offset, DELIVER_STAT_DEFER, "4.3.0",
                     "none", text->data);
    }
    c->done_fn(c->ctx, site_status, reason ? reason : "");
    strbuf_free(text);
    dc_free(c);
}

/* dc_broken: the conversation failed: why becomes part of the reason. */
static void dc_broken(deliver_client *c, const char *why)
{
    strbuf *text = strbuf_new(128);

    if (c->connect_failed)
        strbuf_setf(text, "mail transport unavailable");
    else
        strbuf_setf(text, "delivery agent crashed or sent a bad reply: %s",
                    why);
    if (msg_verbose || !c->connect_failed)
        msg_info("%s: delivery agent conversation failed: %s",
                 c->req.queue_id, why);
    dc_finish(c, DELIVER_CLIENT_BROKEN, text->data);
    strbuf_free(text);
}

/* dc_timeout: no progress within timeout_ms. */
static void dc_timeout(event_loop *loop, event_timer_id id, void *ctx)
{
    deliver_client *c = ctx;

    (void) loop;
    (void) id;
    c->timer = 0;
    if (c->state == DC_CONNECTING) {
        c->connect_failed = 1;
        dc_broken(c, "connect: timed out (listen queue full)");
    } else {
        dc_broken(c, "timeout");
    }
}

/* dc_arm_timeout: restart the progress timer. */
static void dc_arm_timeout(deliver_client *c)
{
    if (c->timer)
        (void) event_timer_cancel(c->loop, c->timer);
    c->timer = event_timer_add(c->loop, c->timeout_ms, dc_timeout, c);
}

/* dc_watch: set read/write interest to what the state needs. */
static int dc_watch(deliver_client *c, int want_write);

/* dc_on_write: send more of the request. */
static void dc_on_write(event_loop *loop, int fd, void *ctx)
{
    deliver_client *c = ctx;
    ssize_t n;

    (void) loop;
    while (c->out_pos < c->out->len) {
        n = send(fd, c->out->data + c->out_pos, c->out->len - c->out_pos,
                 MSG_NOSIGNAL);
        if (n > 0) {
            c->out_pos += (size_t) n;
            dc_arm_timeout(c);
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        dc_broken(c, n < 0 ? strerror(errno) : "write failed");
        return;
    }
    (void) dc_watch(c, 0);
}

/* dc_process: decode and act on complete messages; 0 go on, -1 gone. */
static int dc_process(deliver_client *c)
{
    strbuf *why = strbuf_new(64);
    size_t  used = 0, consumed;
    int     rc = 0;

    while (c->state != DC_DONE) {
        int     got = attr_decode(c->in->data + used, c->in->len - used,
                                  &dc_limits, c->list, &consumed, why);

        if (got == 0)
            break;
        if (got < 0) {
            dc_broken(c, why->data);
            rc = -1;
            break;
        }
        used += consumed;
        if (c->state == DC_PROTOCOL) {
            const char *proto = attr_list_find(c->list, ATTR_NAME_PROTOCOL, NULL);

            if (c->list->count != 1 || proto == NULL
                || strcmp(proto, ATTR_PROTO_DELIVERY) != 0) {
                dc_broken(c, "unexpected protocol message");
                rc = -1;
                break;
            }
            c->state = DC_RESULTS;
            if (dc_watch(c, 1) < 0) {
                dc_broken(c, "cannot watch the connection");
                rc = -1;
                break;
            }
            continue;
        } else {
            deliver_reply rep;
            int     kind = deliver_reply_scan(c->list, &c->req, c->seen, &rep,
                                              why);

            if (kind < 0) {
                dc_broken(c, why->data);
                rc = -1;
                break;
            }
            if (kind == 0) {
                strbuf *reason = strbuf_new(64);

                strbuf_puts(reason, rep.reason);
                dc_finish(c, rep.site_status, reason->data);
                strbuf_free(reason);
                rc = -1;
                break;
            }
            c->seen[rep.index] = 1;
            c->reported++;
            c->result_fn(c->ctx, rep.offset, rep.status, rep.dsn, rep.relay,
                         rep.reason);
        }
    }
    if (rc == 0 && used > 0) {
        memmove(c->in->data, c->in->data + used, c->in->len - used);
        strbuf_truncate(c->in, c->in->len - used);
    }
    strbuf_free(why);
    return rc;
}

/* dc_on_read: more input from the agent. */
static void dc_on_read(event_loop *loop, int fd, void *ctx)
{
    deliver_client *c = ctx;
    char    buf[DC_READ_CHUNK];
    ssize_t n;

    (void) loop;
    n = read(fd, buf, sizeof(buf));
    if (n < 0) {
        if (errno == EAGAIN || errno == EINTR || errno == EWOULDBLOCK)
            return;
        dc_broken(c, strerror(errno));
        return;
    }
    if (n == 0) {
        dc_broken(c, c->state == DC_PROTOCOL ? "connection closed before "
                  "the protocol message" : "unexpected end of input");
        return;
    }
    if (c->in->len + (size_t) n > DC_IN_MAX) {
        dc_broken(c, "reply too long");
        return;
    }
    strbuf_append(c->in, buf, (size_t) n);
    dc_arm_timeout(c);
    (void) dc_process(c);
}

/* dc_watch: read always; write while request bytes are pending. */
static int dc_watch(deliver_client *c, int want_write)
{
    if (!c->watching_read) {
        if (event_add_read(c->loop, c->fd, dc_on_read, c) < 0)
            return -1;
        c->watching_read = 1;
    }
    want_write = want_write && c->state == DC_RESULTS
        && c->out_pos < c->out->len;
    if (want_write && !c->watching_write) {
        if (event_add_write(c->loop, c->fd, dc_on_write, c) < 0)
            return -1;
        c->watching_write = 1;
    } else if (!want_write && c->watching_write) {
        event_remove_write(c->loop, c->fd);
        c->watching_write = 0;
    }
    return 0;
}

/* dc_connect_path: one non-blocking connect; fd, or -1 with errno. */
static int dc_connect_path(const char *path)
{
    struct sockaddr_un sun;
    int     fd, saved;

    memset(&sun, 0, sizeof(sun));
    sun.sun_family = AF_UNIX;
    if (str_copy(sun.sun_path, sizeof(sun.sun_path), path) < 0) {
        errno = ENAMETOOLONG;
        return -1;
    }
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    if (connect(fd, (struct sockaddr *) &sun, sizeof(sun)) < 0
        && errno != EINPROGRESS) {
        saved = errno;
        close(fd);
        errno = saved;
        return -1;
    }
    return fd;
}

/* dc_kick: the 0 ms start timer: connect or report a failure. */
static void dc_kick(event_loop *loop, event_timer_id id, void *ctx)
{
    deliver_client *c = ctx;

    (void) loop;
    (void) id;
    c->kick = 0;
    if (c->connect_failed) {
        dc_broken(c, "connect failed");
        return;
    }
    dc_try_connect(c);
}

/* dc_try_connect: connect (again); on success wait for the protocol. */
static void dc_try_connect(deliver_client *c)
{
    int     fd = dc_connect_path(c->path);

    if (fd < 0 && errno == ENOENT && c->alt_path != NULL)
        fd = dc_connect_path(c->alt_path);
    if (fd < 0 && errno == EAGAIN) {
        c->kick = event_timer_add(c->loop, DC_RETRY_MS, dc_kick, c);
        return;
    }
    if (fd < 0) {
        strbuf *why = strbuf_new(64);

        strbuf_setf(why, "connect to %s: %s", c->path, strerror(errno));
        c->connect_failed = 1;
        msg_warn("%s: %s", c->req.queue_id, why->data);
        dc_broken(c, why->data);
        strbuf_free(why);
        return;
    }
    c->fd = fd;
    c->state = DC_PROTOCOL;
    dc_arm_timeout(c);
    if (dc_watch(c, 0) < 0)
        dc_broken(c, "cannot watch the connection");
}

/* dc_new: common set-up. */
static deliver_client *dc_new(event_loop *loop, const deliver_req_out *req,
                              int timeout_ms, deliver_result_fn result_fn,
                              deliver_client_done_fn done_fn, void *ctx)
{
    deliver_client *c = mem_calloc(1, sizeof(*c));

    c->loop = loop;
    c->fd = -1;
    c->timeout_ms = timeout_ms > 0 ? timeout_ms : 1000;
    c->result_fn = result_fn;
    c->done_fn = done_fn;
    c->ctx = ctx;
    c->out = strbuf_new(1024);
    c->in = strbuf_new(1024);
    c->list = attr_list_new();
    dc_copy_req(c, req);
    if (deliver_encode_request(&c->req, c->out) < 0)
        msg_panic("deliver_client: cannot encode request");
    dc_alive++;
    return c;
}

/* dc_transport_ok: a name that may become a socket path. */
static int dc_transport_ok(const char *name)
{
    size_t  i;

    for (i = 0; name[i]; i++) {
        char    ch = name[i];

        if (i >= 64)
            return 0;
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z')
              || (ch >= '0' && ch <= '9') || ch == '_' || ch == '-'
              || (ch == '.' && i > 0)))
            return 0;
    }
    return i > 0;
}

/* deliver_client_send: start one request to private/TRANSPORT. */
deliver_client *deliver_client_send(event_loop *loop, const char *transport,
                                    const deliver_req_out *req, int timeout_ms,
                                    deliver_result_fn result_fn,
                                    deliver_client_done_fn done_fn, void *ctx)
{
    deliver_client *c = dc_new(loop, req, timeout_ms, result_fn, done_fn, ctx);
    strbuf *path = strbuf_new(64);
    const char *qdir = param_str(PARAM_QUEUE_DIRECTORY);

    c->state = DC_CONNECTING;
    if (!dc_transport_ok(transport)) {
        msg_warn("%s: bad transport name \"%.64s\"", req->queue_id, transport);
        c->connect_failed = 1;
    } else {
        strbuf_setf(path, "private/%s", transport);
        c->path = mem_strdup(path->data);
        if (qdir && *qdir) {
            strbuf_setf(path, "%s/private/%s", qdir, transport);
            c->alt_path = mem_strdup(path->data);
        }
    }
    strbuf_free(path);
    c->kick = event_timer_add(loop, 0, dc_kick, c);
    c->timer = event_timer_add(loop, c->timeout_ms, dc_timeout, c);
    return c;
}

/* dc_start_fd: the 0 ms start timer for a given descriptor. */
static void dc_start_fd(event_loop *loop, event_timer_id id, void *ctx)
{
    deliver_client *c = ctx;

    (void) loop;
    (void) id;
    c->kick = 0;
    dc_arm_timeout(c);
    if (dc_watch(c, 0) < 0)
        dc_broken(c, "cannot watch the connection");
}

/* deliver_client_send_fd: start one request over a connected socket. */
deliver_client *deliver_client_send_fd(event_loop *loop, int fd,
                                       const deliver_req_out *req,
                                       int timeout_ms,
                                       deliver_result_fn result_fn,
                                       deliver_client_done_fn done_fn,
                                       void *ctx)
{
    deliver_client *c = dc_new(loop, req, timeout_ms, result_fn, done_fn, ctx);
    int     fl;

    if ((fl = fcntl(fd, F_GETFL)) < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
        msg_warn("deliver_client: cannot make descriptor non-blocking: %m");
    c->fd = fd;
    c->state = DC_PROTOCOL;
    c->kick = event_timer_add(loop, 0, dc_start_fd, c);
    return c;
}

/* deliver_client_abort: stop silently. */
deliver_client *deliver_client_abort(deliver_client *c)
{
    if (c != NULL)
        dc_free(c);
    return NULL;
}

/* deliver_client_count: clients alive. */
long    deliver_client_count(void)
{
    return dc_alive;
}
