/*
 * anvil: the counter service behind smtpd's per-client limits.
 *
 * One process (master.cf: "anvil unix - - n - 1 anvil") serves every
 * smtpd over private/anvil. Each client connection carries any number of
 * requests; the protocol and the client are in lib/mail/anvil_client.h,
 * the counting and the request handling in lib/mail/anvil_table.c. This
 * file only moves bytes: it reads requests from non-blocking client
 * descriptors, hands each decoded request to anvil_table_request and
 * queues the encoded reply.
 *
 * Timers: every anvil_rate_time_unit idle entries are expired; every
 * anvil_status_update_time the maxima are logged ("statistics: max
 * connection rate 3/60s for (smtp:192.0.2.1) at Nov 22 11:54:48").
 * The process never exits for max_idle or max_use: its counters would be
 * lost.
 *
 * SECURITY: requests come from smtpd processes (private/ socket: only
 *   mail_owner connects). They are decoded strictly with attr limits; a
 *   malformed message gets status=1 and the connection is closed, since
 *   the byte stream can no longer be trusted to be in step. Runs
 *   unprivileged (mail_owner) and touches no files.
 * LIMITS: ANVIL_IN_MAX bytes of unprocessed input and ANVIL_OUT_MAX bytes
 *   of unsent output per client (beyond: disconnect); requests of at most
 *   ANVIL_ATTR_MAX attributes; the table is capped by anvil_max_clients.
 */
#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "anvil_client.h"
#include "anvil_table.h"
#include "attr.h"
#include "attr_names.h"
#include "event.h"
#include "mail_server.h"
#include "mem.h"
#include "msg.h"
#include "param.h"
#include "strbuf.h"

#define ANVIL_ATTR_MAX      8           /* attributes per request */
#define ANVIL_VALUE_MAX     256         /* bytes per value */
#define ANVIL_IN_MAX        4096        /* unprocessed input per client */
#define ANVIL_OUT_MAX       65536       /* unsent output per client */
#define ANVIL_READ_CHUNK    4096

static const attr_limits anvil_request_limits = {
    ANVIL_ATTR_MAX, ANVIL_VALUE_MAX, ANVIL_IN_MAX
};

/* The service state (one per process). */
typedef struct anvil_state {
    anvil_table *table;
    long    time_unit;                  /* seconds */
    long    status_time;                /* seconds */
    attr_list *request;                 /* scratch, reused */
    attr_list *reply;                   /* scratch, reused */
} anvil_state;

/* One client connection. */
typedef struct anvil_conn {
    mail_server *srv;
    anvil_state *st;
    int     fd;
    strbuf *in;                         /* bytes not yet decoded */
    strbuf *out;                        /* bytes not yet sent */
    int     closing;                    /* send out, then hang up */
} anvil_conn;

static anvil_state anvil_st;

/* anvil_conn_done: forget a client and close its descriptor */
static void anvil_conn_done(anvil_conn *conn)
{
    mail_server_multi_done(conn->srv, conn->fd);
    strbuf_free(conn->in);
    strbuf_free(conn->out);
    mem_free(conn);
}

static void anvil_conn_write(event_loop *loop, int fd, void *ctx);

/* anvil_flush: send what is queued; 0, or -1 when the client is gone */
static int anvil_flush(anvil_conn *conn)
{
    event_loop *loop = mail_server_loop(conn->srv);
    ssize_t n;
    size_t  done = 0;

    while (done < conn->out->len) {
        n = send(conn->fd, conn->out->data + done, conn->out->len - done,
                 MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n > 0) {
            done += (size_t) n;
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            break;
        } else {
            return (-1);
        }
    }
    if (done > 0) {
        memmove(conn->out->data, conn->out->data + done, conn->out->len - done);
        strbuf_truncate(conn->out, conn->out->len - done);
    }
    if (conn->out->len > 0) {
        if (event_add_write(loop, conn->fd, anvil_conn_write, conn) < 0)
            return (-1);
    } else {
        event_remove_write(loop, conn->fd);
        if (conn->closing)
            return (-1);
    }
    return (0);
}

/* anvil_conn_write: the client can take more output */
static void anvil_conn_write(event_loop *loop, int fd, void *ctx)
{
    anvil_conn *conn = ctx;

    (void) loop;
    (void) fd;
    if (anvil_flush(conn) < 0)
        anvil_conn_done(conn);
}

/* anvil_queue_reply: encode the reply onto the client's output */
static int anvil_queue_reply(anvil_conn *conn, const attr_list *reply)
{
    if (attr_encode(conn->out, reply) < 0) {
        msg_warn("client fd %d: output over %d bytes: disconnecting",
                 conn->fd, ANVIL_OUT_MAX);
        return (-1);
    }
    return (0);
}

/* anvil_process: answer every complete request in the input */
static int anvil_process(anvil_conn *conn)
{
    anvil_state *st = conn->st;
    strbuf *err = strbuf_new(100);
    size_t  off = 0;
    size_t  used;
    int     rc;
    int     result = 0;

    while (off < conn->in->len) {
        rc = attr_decode(conn->in->data + off, conn->in->len - off,
                         &anvil_request_limits, st->request, &used, err);
        if (rc == 0)
            break;
        if (rc < 0) {
            msg_warn("client fd %d: bad request: %s", conn->fd, strbuf_str(err));
            attr_list_reset(st->reply);
            attr_list_add_long(st->reply, ATTR_NAME_STATUS, ANVIL_STAT_FAIL);
            attr_list_add_str(st->reply, ATTR_NAME_REASON, "malformed request");
            conn->closing = 1;
            off = conn->in->len;
            if (anvil_queue_reply(conn, st->reply) < 0)
                result = -1;
            break;
        }
        off += used;
        if (anvil_table_request(st->table, st->request, st->reply,
                                time(NULL)) != ANVIL_STAT_OK)
            msg_warn("client fd %d: request refused: %s", conn->fd,
                     attr_list_find(st->reply, ATTR_NAME_REASON, NULL));
        if (anvil_queue_reply(conn, st->reply) < 0) {
            result = -1;
            break;
        }
    }
    if (off > 0) {
        memmove(conn->in->data, conn->in->data + off, conn->in->len - off);
        strbuf_truncate(conn->in, conn->in->len - off);
    }
    attr_list_reset(st->request);
    strbuf_free(err);
    return (result);
}

/* anvil_conn_read: the client sent bytes or hung up */
static void anvil_conn_read(event_loop *loop, int fd, void *ctx)
{
    anvil_conn *conn = ctx;
    char    buf[ANVIL_READ_CHUNK];
    ssize_t n;

    (void) loop;
    n = read(fd, buf, sizeof(buf));
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (n <= 0 || conn->closing) {
        anvil_conn_done(conn);
        return;
    }
    /* attr_decode reports an over-long message as an error before the
     * buffer can pass ANVIL_IN_MAX, so this append only fails when a
     * peer ignores that error reply. */
    if (strbuf_append(conn->in, buf, (size_t) n) < 0
        || anvil_process(conn) < 0 || anvil_flush(conn) < 0)
        anvil_conn_done(conn);
}

/* anvil_multi: a new client: greet it and wait for requests */
static void anvil_multi(mail_server *srv, int fd)
{
    anvil_conn *conn = mem_calloc(1, sizeof(*conn));

    conn->srv = srv;
    conn->st = &anvil_st;
    conn->fd = fd;
    conn->in = strbuf_new(256);
    strbuf_set_limit(conn->in, ANVIL_IN_MAX + ANVIL_READ_CHUNK);
    conn->out = strbuf_new(256);
    strbuf_set_limit(conn->out, ANVIL_OUT_MAX);
    attr_list_reset(anvil_st.reply);
    attr_list_add_str(anvil_st.reply, ATTR_NAME_PROTOCOL, ATTR_PROTO_ANVIL);
    if (anvil_queue_reply(conn, anvil_st.reply) < 0 || anvil_flush(conn) < 0
        || event_add_read(mail_server_loop(srv), fd, anvil_conn_read, conn) < 0)
        anvil_conn_done(conn);
}

/* anvil_log_stats: log the maxima since the last report */
static void anvil_log_stats(anvil_state *st)
{
    strbuf *out = strbuf_new(256);
    char   *line;
    char   *nl;

    if (anvil_table_stats(st->table, out) > 0) {
        for (line = out->data; (nl = strchr(line, '\n')) != NULL; line = nl + 1) {
            *nl = 0;
            msg_info("%s", line);
        }
    }
    strbuf_free(out);
}

/* anvil_status_timer: periodic statistics */
static void anvil_status_timer(event_loop *loop, event_timer_id id, void *ctx)
{
    anvil_state *st = ctx;

    (void) id;
    anvil_log_stats(st);
    (void) event_timer_add(loop, st->status_time * 1000, anvil_status_timer, st);
}

/* anvil_expire_timer: periodic clean-up of idle entries */
static void anvil_expire_timer(event_loop *loop, event_timer_id id, void *ctx)
{
    anvil_state *st = ctx;
    size_t  dropped;

    (void) id;
    dropped = anvil_table_expire(st->table, time(NULL));
    if (msg_verbose && dropped > 0)
        msg_info("expired %zu idle entries, %zu left", dropped,
                 anvil_table_size(st->table));
    (void) event_timer_add(loop, st->time_unit * 1000, anvil_expire_timer, st);
}

/* anvil_post_init: build the table and start the timers */
static void anvil_post_init(mail_server *srv)
{
    event_loop *loop = mail_server_loop(srv);
    long    max_clients = param_int(PARAM_ANVIL_MAX_CLIENTS);

    /* Timers take milliseconds as a long; keep the product in range. */
    anvil_st.time_unit = param_time(PARAM_ANVIL_RATE_TIME_UNIT);
    if (anvil_st.time_unit > 86400 * 365L)
        anvil_st.time_unit = 86400 * 365L;
    anvil_st.status_time = param_time(PARAM_ANVIL_STATUS_UPDATE_TIME);
    if (anvil_st.status_time > 86400 * 365L)
        anvil_st.status_time = 86400 * 365L;
    anvil_st.table = anvil_table_new(anvil_st.time_unit, (size_t) max_clients);
    anvil_st.request = attr_list_new();
    anvil_st.reply = attr_list_new();
    (void) event_timer_add(loop, anvil_st.time_unit * 1000, anvil_expire_timer, &anvil_st);
    (void) event_timer_add(loop, anvil_st.status_time * 1000, anvil_status_timer, &anvil_st);
}

/* main: hand the service to the skeleton */
int     main(int argc, char **argv)
{
    mail_server_desc desc;

    memset(&desc, 0, sizeof(desc));
    desc.name = "anvil";
    desc.mode = MAIL_SERVER_MULTI;
    desc.flags = MAIL_SERVER_F_NO_IDLE_LIMIT | MAIL_SERVER_F_NO_USE_LIMIT;
    desc.post_init = anvil_post_init;
    desc.multi = anvil_multi;
    mail_server_main(argc, argv, &desc);
}
