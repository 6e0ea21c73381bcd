/*
 * qmgr_message: handle one message from activation to removal or
 * deferral (the queue manager's per-message work).
 *
 * qmgr_message_run(from_queue, id): move queue/ID to active/ (unless it
 *   is already there), read its envelope, log "from=<>, size=, nrcpt=
 *   (queue active)" when it came from incoming/, resolve every pending
 *   recipient to transport and nexthop, send one delivery request per
 *   (transport, nexthop) to the delivery agent, and record each result:
 *     delivered   the R record becomes D (qfile_mark_done)
 *     bounced     entry in bounce/ID, THEN the D mark (a crash between
 *                 the two repeats the bounce entry, never loses it)
 *     deferred    entry in defer/ID; R stays
 *   soft_bounce turns bounces into deferrals. A deferral of a message
 *   older than maximal_queue_lifetime (bounce_queue_lifetime for a null
 *   sender) becomes a bounce "5.4.7 delivery time expired". Then the
 *   done marks are fsynced, a non-delivery notice is requested from the
 *   bounce daemon when bounce/ID exists (on success bounce/ID is
 *   removed; on failure the message is kept and asked again on the next
 *   attempt), and the message is either removed (every recipient done,
 *   no notice pending: "ID: removed") or moved to deferred/ with its
 *   mtime set to the next retry time (qmgr_backoff). Returns
 *   QMGR_MSG_GONE or QMGR_MSG_DEFERRED. A file that cannot be parsed
 *   goes to corrupt/ with a warning; a file that vanished (postsuper -d)
 *   is skipped silently.
 * qmgr_resolve(address, transport, nexthop): local_transport for a
 *   domain in mydestination, "localhost" or no domain; else
 *   default_transport with the relayhost or the recipient's domain.
 * qmgr_backoff(age): seconds until the next attempt: age clamped to
 *   minimal_backoff_time..maximal_backoff_time (Postfix rule).
 *
 * SECURITY: queue files were written by cleanup (same user) but are read
 * strictly (qfile_read_envelope), IDs are checked by the caller before
 * they become paths, results from delivery agents come checked from
 * deliver_request. Nothing in a queue file reaches msg_fatal.
 * LIMITS: QMGR_RECORD_MAX bytes per queue-file record; delivery agent
 * bounds in deliver_request.
 */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "attr_names.h"
#include "bounce_client.h"
#include "bounce_log.h"
#include "deliver_request.h"
#include "htable.h"
#include "mail_queue.h"
#include "master_proto.h"
#include "mem.h"
#include "msg.h"
#include "param.h"
#include "param_names.h"
#include "qfile.h"
#include "qmgr.h"
#include "strbuf.h"
#include "strutil.h"

#define QMGR_RECORD_MAX (1024 * 1024)   /* largest queue-file record read */

/* Per-recipient state during one attempt. */
#define QMGR_RCPT_PENDING   0
#define QMGR_RCPT_DONE      1
#define QMGR_RCPT_DEFERRED  2

/* One message in hand. */
typedef struct qmgr_msg {
    const char *id;
    int     fd;
    qfile_envelope *env;
    char   *state;                      /* QMGR_RCPT_* per env->rcpts */
    int     expired;
    int     soft_bounce;
    size_t  nexpired;
} qmgr_msg;

/* One delivery request being built. */
typedef struct qmgr_group {
    char   *transport;
    char   *nexthop;
    deliver_rcpt_out *rcpts;
    size_t  nrcpts;
} qmgr_group;

/* qmgr_backoff: the next retry delay for a message of this age. */
long    qmgr_backoff(long age)
{
    long    delay = age;

    if (delay > qmgr_conf.max_backoff)
        delay = qmgr_conf.max_backoff;
    if (delay < qmgr_conf.min_backoff)
        delay = qmgr_conf.min_backoff;
    return delay;
}

/* qmgr_is_mydest: domain (lower case) is in mydestination. */
static int qmgr_is_mydest(const char *domain)
{
    size_t  i;

    if (*domain == 0 || strcmp(domain, "localhost") == 0)
        return 1;
    for (i = 0; i < qmgr_conf.nmydestination; i++)
        if (strcmp(domain, qmgr_conf.mydestination[i]) == 0)
            return 1;
    return 0;
}

/* qmgr_resolve: transport and nexthop for one recipient. */
void    qmgr_resolve(const char *address, strbuf *transport, strbuf *nexthop)
{
    const char *at = strrchr(address, '@');
    strbuf *domain = strbuf_new(64);

    strbuf_reset(transport);
    strbuf_reset(nexthop);
    if (at != NULL)
        strbuf_puts(domain, at + 1);
    while (domain->len > 0 && domain->data[domain->len - 1] == '.')
        strbuf_truncate(domain, domain->len - 1);
    str_lower(domain->data);
    if (qmgr_is_mydest(domain->data)) {
        strbuf_puts(transport, qmgr_conf.local_transport);
        strbuf_puts(nexthop, qmgr_conf.local_nexthop);
    } else {
        strbuf_puts(transport, qmgr_conf.default_transport);
        if (*qmgr_conf.default_nexthop)
            strbuf_puts(nexthop, qmgr_conf.default_nexthop);
        else if (*qmgr_conf.relayhost)
            strbuf_puts(nexthop, qmgr_conf.relayhost);
        else
            strbuf_puts(nexthop, domain->data);
    }
    strbuf_free(domain);
}

/* qmgr_find_rcpt: index of the recipient with this R offset, or -1. */
static long qmgr_find_rcpt(const qmgr_msg *m, long offset)
{
    size_t  i;

    for (i = 0; i < m->env->nrcpts; i++)
        if ((long) m->env->rcpts[i].offset == offset)
            return (long) i;
    return -1;
}

/* qmgr_log_entry: append a bounce or defer log entry; 0 or -1. */
static int qmgr_log_entry(qmgr_msg *m, const qfile_rcpt *r, const char *queue,
                          const char *dsn, const char *relay,
                          const char *reason)
{
    bounce_log_entry e;
    strbuf *err = strbuf_new(64);
    int     rc;

    memset(&e, 0, sizeof(e));
    e.recipient = r->address;
    e.orig = r->orig;
    e.orcpt = r->orcpt;
    e.notify = r->notify;
    e.dsn_status = dsn;
    e.dsn_action = strcmp(queue, BOUNCE_LOG_BOUNCE) == 0 ? "failed" : "delayed";
    e.reason = reason;
    e.relay = relay;
    e.time = (long) time(NULL);
    rc = bounce_log_append(queue, m->id, &e, err);
    if (rc < 0)
        msg_warn("%s: cannot record result for <%s>: %s", m->id, r->address,
                 err->data);
    strbuf_free(err);
    return rc;
}

/* qmgr_mark_done: rewrite R as D; a failure only means a repeat. */
static void qmgr_mark_done(qmgr_msg *m, size_t i)
{
    if (qfile_mark_done(m->fd, m->env->rcpts[i].offset) < 0)
        msg_warn("%s: cannot mark recipient <%s> done: %m", m->id,
                 m->env->rcpts[i].address);
    m->state[i] = QMGR_RCPT_DONE;
}

/* qmgr_result: deliver_result_fn: record one recipient's result. */
static void qmgr_result(void *ctx, long offset, int status, const char *dsn,
                        const char *relay, const char *reason)
{
    qmgr_msg *m = ctx;
    long    idx = qmgr_find_rcpt(m, offset);
    const qfile_rcpt *r;
    char    dsnbuf[32];
    strbuf *text = NULL;

    if (idx < 0) {
        msg_warn("%s: result for unknown recipient offset %ld", m->id, offset);
        return;
    }
    r = m->env->rcpts + idx;
    if (str_copy(dsnbuf, sizeof(dsnbuf), dsn) < 0)
        str_copy(dsnbuf, sizeof(dsnbuf), status == 5 ? "5.0.0" : "4.0.0");
    if (status == DELIVER_STAT_BOUNCE && m->soft_bounce) {
        status = DELIVER_STAT_DEFER;
        dsnbuf[0] = '4';
    }
    if (status == DELIVER_STAT_DEFER && m->expired) {
        text = strbuf_new(128);
        strbuf_printf(text, "delivery time expired; last error: %s", reason);
        reason = text->data;
        str_copy(dsnbuf, sizeof(dsnbuf), "5.4.7");
        status = DELIVER_STAT_BOUNCE;
        m->nexpired++;
    }
    switch (status) {
    case DELIVER_STAT_OK:
        qmgr_mark_done(m, (size_t) idx);
        break;
    case DELIVER_STAT_BOUNCE:
        /* NOTIFY=NEVER: no notice wanted, nothing to record. */
        if ((r->notify & QFILE_NOTIFY_NEVER) == 0
            && qmgr_log_entry(m, r, BOUNCE_LOG_BOUNCE, dsnbuf, relay,
                              reason) < 0) {
            m->state[idx] = QMGR_RCPT_DEFERRED;
            break;
        }
        qmgr_mark_done(m, (size_t) idx);
        break;
    default:
        (void) qmgr_log_entry(m, r, BOUNCE_LOG_DEFER, dsnbuf, relay, reason);
        m->state[idx] = QMGR_RCPT_DEFERRED;
        break;
    }
    strbuf_free(text);
}

/* qmgr_free_slot: htable value destructor. */
static void qmgr_free_slot(void *ptr)
{
    mem_free(ptr);
}

/* qmgr_deliver: group pending recipients and send the requests. */
static void qmgr_deliver(qmgr_msg *m)
{
    htable *index = htable_new(8);
    qmgr_group *groups = NULL;
    size_t  ngroups = 0, i, g;
    strbuf *transport = strbuf_new(32);
    strbuf *nexthop = strbuf_new(64);
    strbuf *key = strbuf_new(128);
    strbuf *err = strbuf_new(64);
    size_t *slot;

    for (i = 0; i < m->env->nrcpts; i++) {
        const qfile_rcpt *r = m->env->rcpts + i;
        deliver_rcpt_out *out;

        if (r->done)
            continue;
        qmgr_resolve(r->address, transport, nexthop);
        strbuf_reset(key);
        strbuf_printf(key, "%s\n%s", transport->data, nexthop->data);
        slot = htable_find(index, key->data);
        if (slot == NULL) {
            groups = mem_realloc(groups, (ngroups + 1) * sizeof(*groups));
            memset(groups + ngroups, 0, sizeof(*groups));
            groups[ngroups].transport = mem_strdup(transport->data);
            groups[ngroups].nexthop = mem_strdup(nexthop->data);
            groups[ngroups].rcpts = mem_calloc(m->env->nrcpts,
                                               sizeof(deliver_rcpt_out));
            slot = mem_alloc(sizeof(*slot));
            *slot = ngroups++;
            htable_put(index, key->data, slot);
        }
        out = groups[*slot].rcpts + groups[*slot].nrcpts++;
        out->address = r->address;
        out->orig = r->orig;
        out->orcpt = r->orcpt;
        out->notify = r->notify;
        out->offset = (long) r->offset;
    }
    for (g = 0; g < ngroups; g++) {
        deliver_req_out req;

        memset(&req, 0, sizeof(req));
        req.queue_name = MASTER_DIR_ACTIVE;
        req.queue_id = m->id;
        req.offset = (long) m->env->header.content_offset;
        req.size = m->env->header.content_size;
        req.nexthop = groups[g].nexthop;
        req.sender = m->env->sender;
        req.envid = m->env->envid;
        req.ret = (int) m->env->ret;
        req.arrival_time = m->env->arrival_sec;
        req.flags = 0;
        req.rcpts = groups[g].rcpts;
        req.nrcpts = groups[g].nrcpts;
        strbuf_reset(err);
        if (deliver_send(groups[g].transport, &req, qmgr_result, m, err) < 0
            && msg_verbose)
            msg_info("%s: transport %s: %s", m->id, groups[g].transport,
                     err->data);
    }
    for (g = 0; g < ngroups; g++) {
        mem_free(groups[g].transport);
        mem_free(groups[g].nexthop);
        mem_free(groups[g].rcpts);
    }
    mem_free(groups);
    htable_free(index, qmgr_free_slot);
    strbuf_free(transport);
    strbuf_free(nexthop);
    strbuf_free(key);
    strbuf_free(err);
}

/* qmgr_corrupt: set a bad file aside in corrupt/ with a log line. */
static void qmgr_corrupt(const char *id, const char *why)
{
    strbuf *err = strbuf_new(64);

    if (mail_queue_rename(MASTER_DIR_ACTIVE, MASTER_DIR_CORRUPT, id, err) < 0)
        msg_warn("%s: corrupt queue file (%s); cannot move it to %s/: %s",
                 id, why, MASTER_DIR_CORRUPT, err->data);
    else
        msg_warn("%s: corrupt queue file (%s); moved to %s/", id, why,
                 MASTER_DIR_CORRUPT);
    strbuf_free(err);
}

/* qmgr_finish: notices, then remove or defer the message. */
static int qmgr_finish(qmgr_msg *m)
{
    strbuf *reason = strbuf_new(64);
    strbuf *path = strbuf_new(128);
    strbuf *err = strbuf_new(64);
    size_t  i, pending = 0;
    int     notice_pending = 0;
    int     ret = QMGR_MSG_GONE;

    for (i = 0; i < m->env->nrcpts; i++)
        if (!m->env->rcpts[i].done && m->state[i] != QMGR_RCPT_DONE)
            pending++;
    if (m->nexpired > 0)
        msg_info("%s: from=<%s>, status=expired, returned to sender", m->id,
                 m->env->sender);
    if (bounce_log_exists(BOUNCE_LOG_BOUNCE, m->id)) {
        if (bounce_request(MASTER_DIR_ACTIVE, m->id, m->env->sender,
                           m->env->envid, (int) m->env->ret, 0, reason)
            == BOUNCE_STAT_OK) {
            if (bounce_log_remove(BOUNCE_LOG_BOUNCE, m->id) < 0)
                msg_warn("%s: cannot remove bounce log: %m", m->id);
        } else {
            notice_pending = 1;
            msg_warn("%s: cannot request a non-delivery notice: %s; "
                     "will try again", m->id, reason->data);
        }
    }
    mail_queue_path(MASTER_DIR_ACTIVE, m->id, path);
    if (pending == 0 && !notice_pending) {
        if (unlink(path->data) < 0 && errno != ENOENT)
            msg_warn("%s: cannot remove %s: %m", m->id, path->data);
        else {
            (void) bounce_log_remove(BOUNCE_LOG_DEFER, m->id);
            msg_info("%s: removed", m->id);
        }
    } else {
        struct timespec ts[2];
        long    now = (long) time(NULL);
        long    age = now - m->env->arrival_sec;

        ts[0].tv_sec = ts[1].tv_sec = now + qmgr_backoff(age < 0 ? 0 : age);
        ts[0].tv_nsec = ts[1].tv_nsec = 0;
        /* The done marks must be durable before the next attempt (DESIGN
         * invariant 3); a file about to be removed needs no fsync. */
        if (fsync(m->fd) < 0)
            msg_warn("%s: fsync: %m", m->id);
        if (futimens(m->fd, ts) < 0)
            msg_warn("%s: cannot set the retry time: %m", m->id);
        if (mail_queue_rename(MASTER_DIR_ACTIVE, MASTER_DIR_DEFERRED, m->id,
                              err) < 0)
            msg_warn("%s: cannot move to %s/: %s", m->id, MASTER_DIR_DEFERRED,
                     err->data);
        ret = QMGR_MSG_DEFERRED;
    }
    strbuf_free(reason);
    strbuf_free(path);
    strbuf_free(err);
    return ret;
}

/* qmgr_message_run: activate and handle one message. */
int     qmgr_message_run(const char *from_queue, const char *id)
{
    strbuf *err = strbuf_new(64);
    strbuf *path = strbuf_new(128);
    qfile_reader *rd = NULL;
    qmgr_msg m;
    long    lifetime, age;
    int     ret = QMGR_MSG_GONE;

    memset(&m, 0, sizeof(m));
    m.id = id;
    m.fd = -1;
    if (strcmp(from_queue, MASTER_DIR_ACTIVE) != 0
        && mail_queue_rename(from_queue, MASTER_DIR_ACTIVE, id, err) < 0) {
        if (errno != ENOENT)
            msg_warn("%s: cannot move from %s/ to %s/: %s", id, from_queue,
                     MASTER_DIR_ACTIVE, err->data);
        goto out;
    }
    if (mail_queue_path(MASTER_DIR_ACTIVE, id, path) < 0) {
        msg_warn("%s: bad queue ID", id);
        goto out;
    }
    if ((m.fd = open(path->data, O_RDWR | O_CLOEXEC | O_NOFOLLOW)) < 0) {
        if (errno != ENOENT)
            msg_warn("%s: open %s: %m", id, path->data);
        goto out;
    }
    rd = qfile_reader_fd(m.fd, QMGR_RECORD_MAX);
    m.env = qfile_read_envelope(rd, QFILE_ENV_SKIP_CONTENT, err);
    if (m.env == NULL) {
        close(m.fd);
        m.fd = -1;
        qmgr_corrupt(id, err->data);
        goto out;
    }
    if (strcmp(from_queue, MASTER_DIR_INCOMING) == 0)
        msg_info("%s: from=<%s>, size=%ld, nrcpt=%zu (queue active)", id,
                 m.env->sender, m.env->header.content_size, m.env->nrcpts);
    m.state = mem_calloc(m.env->nrcpts + 1, 1);
    m.soft_bounce = param_bool(PARAM_SOFT_BOUNCE);
    lifetime = *m.env->sender ? qmgr_conf.max_lifetime
        : qmgr_conf.bounce_lifetime;
    age = (long) time(NULL) - m.env->arrival_sec;
    m.expired = age >= lifetime;
    qmgr_deliver(&m);
    ret = qmgr_finish(&m);

out:
    if (m.fd >= 0)
        close(m.fd);
    qfile_reader_free(rd);
    qfile_envelope_free(m.env);
    mem_free(m.state);
    strbuf_free(err);
    strbuf_free(path);
    return ret;
}
