/*
 * scache: the shared connection cache (scache(8)).
 *
 * One long-running process (mail_server MULTI mode, "scache unix - - n -
 * 1 scache" in master.cf) that keeps open connections which delivery
 * agents saved for reuse, and hands each back once, by destination or by
 * endpoint label (protocol in lib/mail/scache_proto.h, client in
 * lib/mail/scache_client.h).
 *
 * A cached connection is closed and forgotten when the first of these
 * happens: the ttl its saver asked for runs out; it has been idle in the
 * cache for smtp_connection_cache_time_limit; the remote end closes it or
 * sends anything (a server's idle "421" before it hangs up); the cache is
 * full (SCACHE_ENTRY_MAX) and a newer one comes in (the oldest goes).
 * find_dest returns the most recently saved connection for a destination.
 * On exit (idle max_idle, SIGTERM, master gone) the process logs a
 * statistics line when it served anything.
 *
 * Public functions: none (main only). All state lives in one
 * scache_state owned by main and handed to the callbacks.
 *
 * SECURITY: runs as mail_owner; only processes that can reach private/
 * talk to it. Requests are decoded strictly (scache_proto) and labels
 * bounded; a save must come with exactly one descriptor, which must be a
 * socket; anything else ends that client's conversation. Cached
 * descriptors are never read from or written to here.
 * LIMITS: SCACHE_ENTRY_MAX cached connections (fewer when the open
 * file limit is low: SCACHE_FD_RESERVE and some client room are kept
 * free), SCACHE_CLIENT_MAX
 * simultaneous clients, the scache_proto bounds per message, ipc_timeout
 * (at most SCACHE_CLIENT_IDLE_MAX_MS) of client silence.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "attr.h"
#include "attr_names.h"
#include "event.h"
#include "mail_server.h"
#include "mem.h"
#include "msg.h"
#include "param.h"
#include "scache_proto.h"
#include "strbuf.h"

#define SCACHE_ENTRY_MAX        1000    /* cached connections */
#define SCACHE_FD_RESERVE       64      /* descriptors kept for clients etc. */
#define SCACHE_CLIENT_MAX       256     /* simultaneous clients */
#define SCACHE_CLIENT_IDLE_MAX_MS 60000 /* client silence, at most */
#define SCACHE_WRITE_TIMEOUT_MS 1000    /* per reply */

typedef struct scache_state scache_state;

/* One cached connection; the list runs newest first. */
typedef struct scache_entry {
    struct scache_entry *prev;
    struct scache_entry *next;
    scache_state *st;
    char   *dest_label;
    char   *endp_label;
    char   *endp_prop;
    int     fd;
    event_timer_id timer;
} scache_entry;

/* One client conversation. */
typedef struct scache_client {
    scache_state *st;
    int     fd;
    scache_proto *proto;
    event_timer_id idle_timer;
} scache_client;

struct scache_state {
    mail_server *srv;
    event_loop *loop;
    scache_entry *head;
    scache_entry *tail;
    size_t  count;
    size_t  entry_max;                  /* SCACHE_ENTRY_MAX or fewer */
    size_t  clients;
    long    time_limit;                 /* seconds, >= 1 */
    int     client_idle_ms;
    /* statistics */
    time_t  start;
    unsigned long dest_hits, dest_miss, endp_hits, endp_miss;
    unsigned long saved, expired, evicted, dropped;
    size_t  max_count;
};

/* The state, for the exit-time statistics only (set once in post_init). */
static scache_state *scache_exit_state;

/* scache_entry_unlink: take an entry out of the list and the loop. */
static void scache_entry_unlink(scache_entry *e)
{
    scache_state *st = e->st;

    if (e->prev)
        e->prev->next = e->next;
    else
        st->head = e->next;
    if (e->next)
        e->next->prev = e->prev;
    else
        st->tail = e->prev;
    e->prev = e->next = NULL;
    st->count--;
    if (e->timer)
        (void) event_timer_cancel(st->loop, e->timer);
    e->timer = 0;
    event_remove(st->loop, e->fd);
}

/* scache_entry_free: free an unlinked entry; close its fd if asked. */
static void scache_entry_free(scache_entry *e, int close_fd)
{
    if (close_fd && e->fd >= 0)
        (void) close(e->fd);
    mem_free(e->dest_label);
    mem_free(e->endp_label);
    mem_free(e->endp_prop);
    mem_free(e);
}

/* scache_entry_expire: the entry's time is up. */
static void scache_entry_expire(event_loop *loop, event_timer_id id, void *ctx)
{
    scache_entry *e = ctx;

    (void) loop;
    (void) id;
    e->timer = 0;                       /* fired: nothing to cancel */
    if (msg_verbose)
        msg_info("expire %s (%s)", e->endp_label, e->dest_label);
    e->st->expired++;
    scache_entry_unlink(e);
    scache_entry_free(e, 1);
}

/* scache_entry_readable: the remote end closed or spoke; drop it. */
static void scache_entry_readable(event_loop *loop, int fd, void *ctx)
{
    scache_entry *e = ctx;

    (void) loop;
    (void) fd;
    if (msg_verbose)
        msg_info("drop %s (%s): remote end closed or sent data", e->endp_label,
                 e->dest_label);
    e->st->dropped++;
    scache_entry_unlink(e);
    scache_entry_free(e, 1);
}

/* scache_store: keep a connection; evict the oldest when full. */
static void scache_store(scache_state *st, const char *dest, const char *endp,
                         const char *prop, int fd, long ttl)
{
    scache_entry *e;

    if (st->count >= st->entry_max && st->tail != NULL) {
        e = st->tail;
        st->evicted++;
        scache_entry_unlink(e);
        scache_entry_free(e, 1);
    }
    if (ttl <= 0 || ttl > st->time_limit)
        ttl = st->time_limit;
    e = mem_calloc(1, sizeof(*e));
    e->st = st;
    e->dest_label = mem_strdup(dest);
    e->endp_label = mem_strdup(endp);
    e->endp_prop = mem_strdup(prop);
    e->fd = fd;
    e->next = st->head;
    if (st->head)
        st->head->prev = e;
    else
        st->tail = e;
    st->head = e;
    st->count++;
    if (st->count > st->max_count)
        st->max_count = st->count;
    st->saved++;
    e->timer = event_timer_add(st->loop, ttl * 1000, scache_entry_expire, e);
    if (event_add_read(st->loop, fd, scache_entry_readable, e) < 0)
        msg_warn("cannot watch cached connection %s: %m", endp);
    if (msg_verbose)
        msg_info("save %s (%s) for %lds", endp, dest, ttl);
}

/* scache_take: unlink the newest entry with the label, or NULL. */
static scache_entry *scache_take(scache_state *st, int by_dest, const char *label)
{
    scache_entry *e;

    for (e = st->head; e != NULL; e = e->next) {
        if (strcmp(by_dest ? e->dest_label : e->endp_label, label) == 0) {
            scache_entry_unlink(e);
            return e;
        }
    }
    return NULL;
}

/* scache_reply: send status (and reason) with no descriptor. */
static int scache_reply(scache_client *c, int status, const char *reason)
{
    attr_list *list = attr_list_new();
    int     rc;

    attr_list_add_long(list, ATTR_NAME_STATUS, status);
    if (reason)
        attr_list_add_str(list, ATTR_NAME_REASON, reason);
    rc = scache_proto_write(c->fd, list, -1, SCACHE_WRITE_TIMEOUT_MS);
    attr_list_free(list);
    return rc;
}

/* scache_is_socket: whether fd is a socket. */
static int scache_is_socket(int fd)
{
    struct stat st;

    return fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode);
}

/* scache_do_save: a save request; -1 ends the conversation. */
static int scache_do_save(scache_client *c, const attr_list *list, strbuf *err)
{
    const char *req = NULL, *dest = "", *endp = NULL, *prop = "";
    long    ttl = 0;
    int     fd;
    const attr_spec specs[] = {
        ATTR_SPEC_STR(ATTR_NAME_REQUEST, 1, &req),
        ATTR_SPEC_STR(ATTR_NAME_DEST_LABEL, 0, &dest),
        ATTR_SPEC_STR(ATTR_NAME_ENDP_LABEL, 1, &endp),
        ATTR_SPEC_STR(ATTR_NAME_ENDP_PROP, 0, &prop),
        ATTR_SPEC_LONG(ATTR_NAME_TTL, 0, 0, SCACHE_TTL_MAX, &ttl),
    };

    fd = scache_proto_take_fd(c->proto);
    if (fd < 0) {
        (void) scache_reply(c, SCACHE_STAT_FAIL, "save request without a descriptor");
        return strbuf_setf(err, "save request without a descriptor");
    }
    if (attr_scan(list, specs, (int) (sizeof(specs) / sizeof(specs[0])), err) < 0
        || strlen(dest) > SCACHE_LABEL_MAX || strlen(endp) > SCACHE_LABEL_MAX
        || *endp == 0) {
        (void) close(fd);
        if (err->len == 0)
            strbuf_setf(err, "bad label in save request");
        (void) scache_reply(c, SCACHE_STAT_FAIL, err->data);
        return -1;
    }
    if (!scache_is_socket(fd)) {
        (void) close(fd);
        return scache_reply(c, SCACHE_STAT_FAIL, "descriptor is not a socket") < 0
            ? strbuf_setf(err, "write reply: %s", strerror(errno)) : 0;
    }
    scache_store(c->st, dest, endp, prop, fd, ttl);
    if (scache_reply(c, SCACHE_STAT_OK, NULL) < 0)
        return strbuf_setf(err, "write reply: %s", strerror(errno));
    return 0;
}

/* scache_do_find: a find_dest or find_endp request. */
static int scache_do_find(scache_client *c, const attr_list *list, int by_dest,
                          strbuf *err)
{
    scache_state *st = c->st;
    const char *req = NULL, *label = NULL;
    const attr_spec specs[] = {
        ATTR_SPEC_STR(ATTR_NAME_REQUEST, 1, &req),
        ATTR_SPEC_STR(by_dest ? ATTR_NAME_DEST_LABEL : ATTR_NAME_ENDP_LABEL, 1, &label),
    };
    scache_entry *e;
    attr_list *reply;
    int     rc;

    if (attr_scan(list, specs, 2, err) < 0) {
        (void) scache_reply(c, SCACHE_STAT_FAIL, err->data);
        return -1;
    }
    if ((e = scache_take(st, by_dest, label)) == NULL) {
        if (by_dest)
            st->dest_miss++;
        else
            st->endp_miss++;
        return scache_reply(c, SCACHE_STAT_FAIL, "not found") < 0
            ? strbuf_setf(err, "write reply: %s", strerror(errno)) : 0;
    }
    if (by_dest)
        st->dest_hits++;
    else
        st->endp_hits++;
    reply = attr_list_new();
    attr_list_add_long(reply, ATTR_NAME_STATUS, SCACHE_STAT_OK);
    attr_list_add_str(reply, ATTR_NAME_ENDP_LABEL, e->endp_label);
    attr_list_add_str(reply, ATTR_NAME_ENDP_PROP, e->endp_prop);
    rc = scache_proto_write(c->fd, reply, e->fd, SCACHE_WRITE_TIMEOUT_MS);
    attr_list_free(reply);
    if (msg_verbose)
        msg_info("hand out %s (%s)", e->endp_label, e->dest_label);
    /* Handed out (or lost with the client): either way it leaves here. */
    scache_entry_free(e, 1);
    return rc < 0 ? strbuf_setf(err, "write reply: %s", strerror(errno)) : 0;
}

/* scache_client_done: end a client conversation. */
static void scache_client_done(scache_client *c)
{
    if (c->idle_timer)
        (void) event_timer_cancel(c->st->loop, c->idle_timer);
    c->st->clients--;
    mail_server_multi_done(c->st->srv, c->fd);
    scache_proto_free(c->proto);
    mem_free(c);
}

/* scache_client_idle: the client stayed silent too long. */
static void scache_client_idle(event_loop *loop, event_timer_id id, void *ctx)
{
    scache_client *c = ctx;

    (void) loop;
    (void) id;
    c->idle_timer = 0;
    msg_warn("connection cache client idle for %d ms -- disconnecting",
             c->st->client_idle_ms);
    scache_client_done(c);
}

/* scache_client_read: input from a client; run every complete request. */
static void scache_client_read(event_loop *loop, int fd, void *ctx)
{
    scache_client *c = ctx;
    attr_list *list;
    strbuf *err;
    const char *req;
    int     rc, eof, done = 0;

    (void) fd;
    err = strbuf_new(128);
    rc = scache_proto_fill(c->proto, 0, err);
    if (rc < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        strbuf_free(err);
        return;
    }
    if (rc < 0) {
        msg_warn("connection cache client: %s", err->data);
        strbuf_free(err);
        scache_client_done(c);
        return;
    }
    eof = rc == 0;
    list = attr_list_new();
    while (!done && (rc = scache_proto_next(c->proto, list, err)) > 0) {
        strbuf_reset(err);
        req = attr_list_find(list, ATTR_NAME_REQUEST, NULL);
        if (req == NULL) {
            (void) scache_reply(c, SCACHE_STAT_FAIL, "no request attribute");
            strbuf_setf(err, "message without a request attribute");
            done = 1;
        } else if (strcmp(req, SCACHE_REQ_SAVE) == 0) {
            done = scache_do_save(c, list, err) < 0;
        } else if (strcmp(req, SCACHE_REQ_FIND_DEST) == 0) {
            done = scache_do_find(c, list, 1, err) < 0;
        } else if (strcmp(req, SCACHE_REQ_FIND_ENDP) == 0) {
            done = scache_do_find(c, list, 0, err) < 0;
        } else {
            (void) scache_reply(c, SCACHE_STAT_FAIL, "unknown request");
            strbuf_setf(err, "unknown request \"%.64s\"", req);
            done = 1;
        }
        if (done)
            msg_warn("connection cache client: %s", err->data);
    }
    if (!done && rc < 0) {
        msg_warn("connection cache client: bad message: %s", err->data);
        done = 1;
    }
    if (eof)
        done = 1;                       /* the client hung up */
    attr_list_free(list);
    strbuf_free(err);
    if (done) {
        scache_client_done(c);
        return;
    }
    if (c->idle_timer)
        (void) event_timer_cancel(loop, c->idle_timer);
    c->idle_timer = event_timer_add(loop, c->st->client_idle_ms,
                                    scache_client_idle, c);
}

/* scache_multi: a new client: greet it and wait for requests. */
static void scache_multi(mail_server *srv, int fd)
{
    scache_state *st = mail_server_ctx(srv);
    scache_client *c;
    attr_list *list;
    int     rc;

    if (st->clients >= SCACHE_CLIENT_MAX) {
        msg_warn("connection cache: %d clients already -- refusing one",
                 SCACHE_CLIENT_MAX);
        mail_server_multi_done(srv, fd);
        return;
    }
    c = mem_calloc(1, sizeof(*c));
    c->st = st;
    c->fd = fd;
    c->proto = scache_proto_new(fd);
    st->clients++;
    list = attr_list_new();
    attr_list_add_str(list, ATTR_NAME_PROTOCOL, ATTR_PROTO_SCACHE);
    rc = scache_proto_write(fd, list, -1, SCACHE_WRITE_TIMEOUT_MS);
    attr_list_free(list);
    if (rc < 0 || event_add_read(st->loop, fd, scache_client_read, c) < 0) {
        scache_client_done(c);
        return;
    }
    c->idle_timer = event_timer_add(st->loop, st->client_idle_ms,
                                    scache_client_idle, c);
}

/* scache_stats: the statistics line(s), when anything happened. */
static void scache_stats(void)
{
    scache_state *st = scache_exit_state;
    unsigned long dest_total, endp_total;
    struct tm tm;
    char    when[64];

    if (st == NULL || (st->saved == 0 && st->dest_miss == 0 && st->endp_miss == 0))
        return;
    dest_total = st->dest_hits + st->dest_miss;
    endp_total = st->endp_hits + st->endp_miss;
    if (localtime_r(&st->start, &tm) == NULL
        || strftime(when, sizeof(when), "%b %e %H:%M:%S", &tm) == 0)
        when[0] = 0;
    msg_info("statistics: start interval %s", when);
    msg_info("statistics: domain lookup hits=%lu miss=%lu success=%lu%%",
             st->dest_hits, st->dest_miss,
             dest_total ? st->dest_hits * 100 / dest_total : 0);
    msg_info("statistics: address lookup hits=%lu miss=%lu success=%lu%%",
             st->endp_hits, st->endp_miss,
             endp_total ? st->endp_hits * 100 / endp_total : 0);
    msg_info("statistics: max simultaneous connections=%zu saved=%lu "
             "expired=%lu dropped=%lu evicted=%lu", st->max_count, st->saved,
             st->expired, st->dropped, st->evicted);
}

/* scache_post_init: read the configuration once. */
static void scache_post_init(mail_server *srv)
{
    scache_state *st = mail_server_ctx(srv);
    long    ipc = param_time(PARAM_IPC_TIMEOUT);
    struct rlimit rl;

    st->srv = srv;
    st->loop = mail_server_loop(srv);
    st->time_limit = param_time(PARAM_SMTP_CONN_CACHE_TIME_LIMIT);
    if (st->time_limit < 1)
        st->time_limit = 1;
    if (st->time_limit > SCACHE_TTL_MAX)
        st->time_limit = SCACHE_TTL_MAX;
    st->client_idle_ms = ipc <= 0 || ipc * 1000 > SCACHE_CLIENT_IDLE_MAX_MS
        ? SCACHE_CLIENT_IDLE_MAX_MS : (int) (ipc * 1000);
    st->entry_max = SCACHE_ENTRY_MAX;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY
        && rl.rlim_cur < SCACHE_ENTRY_MAX + 2 * SCACHE_FD_RESERVE) {
        /* Leave room for clients: never run out of descriptors. */
        st->entry_max = rl.rlim_cur > 2 * SCACHE_FD_RESERVE
            ? (size_t) rl.rlim_cur - SCACHE_FD_RESERVE - SCACHE_CLIENT_MAX / 4 : 1;
        msg_info("open file limit %lu: caching at most %zu connections",
                 (unsigned long) rl.rlim_cur, st->entry_max);
    }
    st->start = time(NULL);
    scache_exit_state = st;
    if (atexit(scache_stats) != 0)
        msg_warn("cannot register the exit statistics");
}

/* main: hand the service to the skeleton. */
int     main(int argc, char **argv)
{
    static scache_state state;
    mail_server_desc desc;

    memset(&desc, 0, sizeof(desc));
    desc.name = "scache";
    desc.mode = MAIL_SERVER_MULTI;
    desc.post_init = scache_post_init;
    desc.multi = scache_multi;
    desc.ctx = &state;
    mail_server_main(argc, argv, &desc);
}
