/*
 * qmgr_message: one message from activation to removal or deferral.
 *
 * qmgr_msg_activate(from_queue, id): move queue/ID to active/ (unless it
 *   is there already), open it (kept open while the message is in
 *   memory), read its envelope strictly, log "from=<>, size=, nrcpt=
 *   (queue active)" when it came from incoming/, and read the first slice
 *   of its pending recipients: at most half of the room left under
 *   qmgr_message_recipient_limit (recipients in memory over all
 *   messages), at least one, so that one huge message never takes all
 *   of it. Each recipient is resolved (lib/mail/resolve) and handed
 *   to the scheduler (qmgr_sched_enqueue); a resolver table failure
 *   defers it "4.3.0 address resolver lookup failed", a configuration
 *   error "4.3.5 mail system configuration error" (with a warning).
 *   A file whose mode has MAIL_QUEUE_MODE_EXPIRE (postsuper -e/-f) is not
 *   delivered: every pending recipient bounces "5.4.7 message is
 *   administratively expired". Returns 1 when the message is in memory
 *   (or was finished at once), 0 when the file vanished (postsuper, a
 *   race: quiet), or went to corrupt/ (with a warning).
 * qmgr_msg_refill_waiting(): messages whose slice is done but that have
 *   more pending recipients wait in a FIFO; read the next slice of as
 *   many as the recipient budget allows. Returns how many got one.
 * qmgr_msg_record(r, status, dsn, relay, reason): record one result:
 *     delivered   the R record becomes D (qfile_mark_done)
 *     bounced     entry in bounce/ID, THEN the D mark (a crash between
 *                 the two repeats the bounce entry, never loses it);
 *                 NOTIFY=NEVER skips the entry
 *     deferred    entry in defer/ID; R stays; the message will be kept
 *   soft_bounce turns bounces into deferrals. A deferral of a message
 *   older than maximal_queue_lifetime (bounce_queue_lifetime for a null
 *   sender) becomes a bounce "5.4.7 delivery time expired". Results for a
 *   message whose file vanished are dropped (checked before a bounce or
 *   defer log entry is written, so no orphan logs appear).
 * qmgr_msg_defer_now / qmgr_msg_bounce_now(r, dsn, reason): a result
 *   made up by qmgr (no delivery attempt): logged in the delivery agents'
 *   line shape with relay=none, then recorded.
 * qmgr_rcpt_done(r): forget a recipient whose result is recorded.
 * qmgr_msg_ref / qmgr_msg_unref: the message stays in memory while
 *   recipients or requests refer to it. At the last unref it reads its
 *   next slice (via the refill FIFO) or is finished: the done marks are
 *   fsynced, a non-delivery notice is requested from the bounce daemon
 *   when bounce/ID exists (on failure the message is kept and asked
 *   again next time), a delay warning (request=delay) is requested when
 *   recipients were deferred, the W time has passed and the sender is
 *   not null (then W is rewritten to 0, so it is sent once), and the
 *   message is removed ("ID: removed", with defer/ID) or moved to
 *   deferred/ with its mtime set to the next retry time (qmgr_backoff).
 *   Before the move or removal the file must still be the one qmgr
 *   opened in active/ (same inode): when postsuper deleted, held or
 *   requeued it meanwhile, qmgr drops it quietly.
 * qmgr_backoff(age): age clamped to minimal..maximal_backoff_time.
 *
 * SECURITY: queue files were written by cleanup (same user) but are read
 * strictly (qfile_read_envelope), IDs are checked by the caller before
 * they become paths, results from delivery agents come checked from
 * deliver_client. Nothing in a queue file reaches msg_fatal.
 * LIMITS: QMGR_RECORD_MAX bytes per queue-file record;
 * qmgr_message_recipient_limit recipients in memory: the activation
 * parse only counts recipients (QFILE_ENV_COUNT_RCPTS) and each slice
 * reads on from where the previous one stopped (qfile_read_pending).
 */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

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
#include "resolve.h"
#include "strbuf.h"
#include "strutil.h"

#define QMGR_RECORD_MAX (1024 * 1024)   /* largest queue-file record read */
#define QMGR_FORCED_SLICE 1000          /* recipients per forced-expiry slice */

/* One message in memory. */
struct qmgr_msg {
    char   *id;
    int     fd;
    dev_t   dev;                        /* of active/ID when opened */
    ino_t   ino;
    char   *sender;                     /* "" = null sender */
    char   *envid;                      /* NULL when none */
    int     ret;
    long    arrival;
    long    content_offset;
    long    content_size;
    long    warn_time;                  /* 0 = none */
    off_t   warn_offset;                /* -1 = no W record */
    int     expired;                    /* lifetime passed: defer = bounce */
    int     forced;                     /* postsuper -e/-f */
    qfile_envelope henv;                /* header only, for slices */
    off_t   cursor;                     /* where the next slice starts */
    int     all_read;                   /* no recipients left to read */
    long    refs;                       /* recipients + requests */
    size_t  nexpired;
    size_t  ndeferred;                  /* recipients kept for a retry */
    int     gone;                       /* the file vanished under us */
    int     waiting;                    /* in the refill FIFO */
    qmgr_msg *next_wait;
};

/* Process-wide bookkeeping of messages in memory. */
typedef struct qmgr_msgs {
    htable *ids;                        /* id -> qmgr_msg */
    long    nrcpts;                     /* recipients in memory */
    qmgr_msg *wait_head;                /* refill FIFO */
    qmgr_msg *wait_tail;
    resolve_result res;
    int     res_ready;
} qmgr_msgs;

static qmgr_msgs qmgr_m;

static void qmgr_msg_finish(qmgr_msg *m);
static int qmgr_msg_still_ours(qmgr_msg *m);

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

/* qmgr_msg_count: messages in memory. */
long    qmgr_msg_count(void)
{
    return qmgr_m.ids ? (long) htable_count(qmgr_m.ids) : 0;
}

/* qmgr_rcpt_count: recipients in memory. */
long    qmgr_rcpt_count(void)
{
    return qmgr_m.nrcpts;
}

/* qmgr_msg_is_active: is this ID in memory? */
int     qmgr_msg_is_active(const char *id)
{
    return qmgr_m.ids != NULL && htable_has(qmgr_m.ids, id);
}

/* qmgr_msg_req_fields: what a delivery request needs from the message. */
void    qmgr_msg_req_fields(const qmgr_msg *m, const char **id,
                            long *content_offset, long *size,
                            const char **sender, const char **envid,
                            int *ret, long *arrival)
{
    *id = m->id;
    *content_offset = m->content_offset;
    *size = m->content_size;
    *sender = m->sender;
    *envid = m->envid;
    *ret = m->ret;
    *arrival = m->arrival;
}

/* qmgr_msg_ref: one more user. */
void    qmgr_msg_ref(qmgr_msg *m)
{
    m->refs++;
}

/* qmgr_msg_wait: queue for the next slice. */
static void qmgr_msg_wait(qmgr_msg *m)
{
    if (m->waiting)
        return;
    m->waiting = 1;
    m->next_wait = NULL;
    if (qmgr_m.wait_tail)
        qmgr_m.wait_tail->next_wait = m;
    else
        qmgr_m.wait_head = m;
    qmgr_m.wait_tail = m;
    qmgr_pump_soon();
}

/* qmgr_msg_unref: one user less; read on or finish at the last. */
void    qmgr_msg_unref(qmgr_msg *m)
{
    if (--m->refs > 0)
        return;
    if (!m->all_read && !m->gone)
        qmgr_msg_wait(m);
    else
        qmgr_msg_finish(m);
}

/* qmgr_rcpt_done: forget one recipient. */
qmgr_rcpt *qmgr_rcpt_done(qmgr_rcpt *r)
{
    qmgr_msg *m = r->msg;

    mem_free(r->address);
    mem_free(r->orig);
    mem_free(r->orcpt);
    mem_free(r);
    qmgr_m.nrcpts--;
    qmgr_msg_unref(m);
    return NULL;
}

/* qmgr_log_entry: append a bounce or defer log entry; 0 or -1. */
static int qmgr_log_entry(qmgr_msg *m, const qmgr_rcpt *r, const char *queue,
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
static void qmgr_mark_done(qmgr_msg *m, const qmgr_rcpt *r)
{
    if (qfile_mark_done(m->fd, (off_t) r->offset) < 0)
        msg_warn("%s: cannot mark recipient <%s> done: %m", m->id, r->address);
}

/* qmgr_msg_record: record one recipient's result. */
void    qmgr_msg_record(qmgr_rcpt *r, int status, const char *dsn,
                        const char *relay, const char *reason)
{
    qmgr_msg *m = r->msg;
    char    dsnbuf[32];
    strbuf *text = NULL;

    if (r->reported)
        return;
    r->reported = 1;
    if (m->gone)
        return;
    if (str_copy(dsnbuf, sizeof(dsnbuf), dsn ? dsn : "") < 0 || !dsnbuf[0])
        str_copy(dsnbuf, sizeof(dsnbuf), status == 5 ? "5.0.0"
                 : status == 0 ? "2.0.0" : "4.0.0");
    if (status == DELIVER_STAT_BOUNCE && qmgr_conf.soft_bounce) {
        status = DELIVER_STAT_DEFER;
        dsnbuf[0] = '4';
    }
    /* Logs of a message that postsuper took away would be orphans. */
    if (status != DELIVER_STAT_OK && !qmgr_msg_still_ours(m)) {
        m->gone = 1;
        return;
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
        qmgr_mark_done(m, r);
        break;
    case DELIVER_STAT_BOUNCE:
        if ((r->notify & QFILE_NOTIFY_NEVER) == 0
            && qmgr_log_entry(m, r, BOUNCE_LOG_BOUNCE, dsnbuf, relay,
                              reason) < 0) {
            m->ndeferred++;
            break;
        }
        qmgr_mark_done(m, r);
        break;
    default:
        (void) qmgr_log_entry(m, r, BOUNCE_LOG_DEFER, dsnbuf, relay, reason);
        m->ndeferred++;
        break;
    }
    strbuf_free(text);
}

/* qmgr_log_now: the agents' log line for a result qmgr made up. */
static void qmgr_log_now(const qmgr_rcpt *r, int status, const char *dsn,
                         const char *reason)
{
    deliver_req_out req;
    deliver_rcpt_out one;

    memset(&req, 0, sizeof(req));
    memset(&one, 0, sizeof(one));
    one.address = r->address;
    one.orig = r->orig;
    one.offset = r->offset;
    req.queue_id = r->msg->id;
    req.arrival_time = r->msg->arrival;
    req.rcpts = &one;
    req.nrcpts = 1;
    deliver_log_out(&req, 0, status, dsn, "none", reason);
}

/* qmgr_msg_defer_now: defer without a delivery attempt. */
void    qmgr_msg_defer_now(qmgr_rcpt *r, const char *dsn, const char *reason)
{
    if (!r->msg->gone)
        qmgr_log_now(r, r->msg->expired ? DELIVER_STAT_BOUNCE
                     : DELIVER_STAT_DEFER, r->msg->expired ? "5.4.7" : dsn,
                     reason);
    qmgr_msg_record(r, DELIVER_STAT_DEFER, dsn, "none", reason);
}

/* qmgr_msg_bounce_now: bounce without a delivery attempt. */
void    qmgr_msg_bounce_now(qmgr_rcpt *r, const char *dsn, const char *reason)
{
    if (!r->msg->gone)
        qmgr_log_now(r, DELIVER_STAT_BOUNCE, dsn, reason);
    qmgr_msg_record(r, DELIVER_STAT_BOUNCE, dsn, "none", reason);
}

/* qmgr_corrupt: set a bad file aside in corrupt/ with a log line. */
static void qmgr_corrupt(const char *id, const char *why)
{
    strbuf *err = strbuf_new(64);

    if (mail_queue_rename(MASTER_DIR_ACTIVE, MASTER_DIR_CORRUPT, id, err) < 0) {
        if (errno != ENOENT)
            msg_warn("%s: corrupt queue file (%s); cannot move it to %s/: %s",
                     id, why, MASTER_DIR_CORRUPT, err->data);
    } else {
        msg_warn("%s: corrupt queue file (%s); moved to %s/", id, why,
                 MASTER_DIR_CORRUPT);
    }
    strbuf_free(err);
}

/* qmgr_msg_free: release a message (its file stays as it is). */
static void qmgr_msg_free(qmgr_msg *m)
{
    if (m->fd >= 0)
        close(m->fd);
    (void) htable_remove(qmgr_m.ids, m->id, NULL);
    mem_free(m->id);
    mem_free(m->sender);
    mem_free(m->envid);
    mem_free(m);
}

/* qmgr_msg_still_ours: active/ID is still the file we opened. */
static int qmgr_msg_still_ours(qmgr_msg *m)
{
    strbuf *path = strbuf_new(128);
    struct stat sb;
    int     ours;

    ours = mail_queue_path(MASTER_DIR_ACTIVE, m->id, path) == 0
        && stat(path->data, &sb) == 0 && sb.st_dev == m->dev
        && sb.st_ino == m->ino;
    strbuf_free(path);
    return ours;
}

/* qmgr_read_envelope: strict parse of the whole file, recipients only
 * counted; NULL on error. */
static qfile_envelope *qmgr_read_envelope(qmgr_msg *m, strbuf *err)
{
    qfile_reader *rd = qfile_reader_fd(m->fd, QMGR_RECORD_MAX);
    qfile_envelope *env = qfile_read_envelope(rd, QFILE_ENV_SKIP_CONTENT
                                              | QFILE_ENV_COUNT_RCPTS, err);

    qfile_reader_free(rd);
    return env;
}

/* qmgr_take_rcpt: one recipient into memory: resolve and enqueue. */
static void qmgr_take_rcpt(qmgr_msg *m, const qfile_rcpt *fr)
{
    qmgr_rcpt *r = mem_calloc(1, sizeof(*r));
    strbuf *err = strbuf_new(64);
    strbuf *text;
    int     rc;

    r->msg = m;
    r->orig = fr->orig ? mem_strdup(fr->orig) : NULL;
    r->orcpt = fr->orcpt ? mem_strdup(fr->orcpt) : NULL;
    r->notify = fr->notify;
    r->offset = (long) fr->offset;
    qmgr_msg_ref(m);
    qmgr_m.nrcpts++;
    if (m->forced) {
        r->address = mem_strdup(fr->address);
        qmgr_msg_bounce_now(r, "5.4.7", "message is administratively expired");
        qmgr_rcpt_done(r);
        strbuf_free(err);
        return;
    }
    if (!qmgr_m.res_ready) {
        resolve_result_init(&qmgr_m.res);
        qmgr_m.res_ready = 1;
    }
    rc = resolve_addr(m->sender, fr->address, &qmgr_m.res, err);
    if (rc == RESOLVE_OK) {
        r->address = mem_strdup(qmgr_m.res.recipient->data);
        qmgr_sched_enqueue(r, qmgr_m.res.transport->data,
                           qmgr_m.res.nexthop->data);
    } else {
        r->address = mem_strdup(fr->address);
        text = strbuf_new(128);
        if (rc == RESOLVE_RETRY) {
            strbuf_printf(text, "address resolver lookup failed: %s", err->data);
            qmgr_msg_defer_now(r, "4.3.0", text->data);
        } else {
            msg_warn("%s: cannot resolve <%s>: %s", m->id, fr->address,
                     err->data);
            qmgr_msg_defer_now(r, "4.3.5", "mail system configuration error");
        }
        strbuf_free(text);
        qmgr_rcpt_done(r);
    }
    strbuf_free(err);
}

/* qmgr_read_slice: take the next pending recipients within the budget;
 * -1 when the file cannot be read (the rest stays for a retry). */
static int qmgr_read_slice(qmgr_msg *m, strbuf *err)
{
    qfile_reader *rd = qfile_reader_fd(m->fd, QMGR_RECORD_MAX);
    qfile_rcpt *rcpts = NULL;
    size_t  n = 0, i;
    long    budget = qmgr_conf.rcpt_limit - qmgr_m.nrcpts;
    int     rc;

    /* Hold a reference so the message cannot finish while it is read. */
    qmgr_msg_ref(m);
    /* At most half of what is free: a big mailing stuck at a slow site
     * must leave room for the messages that arrive after it. */
    budget /= 2;
    if (m->forced)
        budget = QMGR_FORCED_SLICE;     /* nothing stays in memory */
    if (budget < 1)
        budget = 1;
    rc = qfile_read_pending(rd, &m->henv, &m->cursor, (size_t) budget, &rcpts,
                            &n, err);
    qfile_reader_free(rd);
    m->all_read = rc <= 0;
    if (rc < 0) {
        m->ndeferred++;
    } else if (rc > 0 && m->forced) {
        m->all_read = 0;
    }
    for (i = 0; i < n; i++)
        qmgr_take_rcpt(m, rcpts + i);
    qfile_rcpts_free(rcpts, n);
    qmgr_msg_unref(m);
    return rc < 0 ? -1 : 0;
}

/* qmgr_msg_refill_waiting: next slices for waiting messages. */
int     qmgr_msg_refill_waiting(void)
{
    strbuf *err = strbuf_new(64);
    int     count = 0;

    while (qmgr_m.wait_head != NULL && qmgr_m.nrcpts < qmgr_conf.rcpt_limit) {
        qmgr_msg *m = qmgr_m.wait_head;
        char   *id = mem_strdup(m->id);

        qmgr_m.wait_head = m->next_wait;
        if (qmgr_m.wait_head == NULL)
            qmgr_m.wait_tail = NULL;
        m->waiting = 0;
        count++;
        strbuf_reset(err);
        /* The file changed under us: keep the rest for a retry. */
        if (qmgr_read_slice(m, err) < 0)
            msg_warn("%s: cannot read more recipients: %s", id, err->data);
        mem_free(id);
    }
    strbuf_free(err);
    return count;
}

/* qmgr_msg_activate: take a message into memory. */
int     qmgr_msg_activate(const char *from_queue, const char *id)
{
    strbuf *err = strbuf_new(64);
    strbuf *path = strbuf_new(128);
    qfile_envelope *env = NULL;
    qmgr_msg *m;
    struct stat sb;
    long    lifetime, age;
    int     fd = -1;
    int     ret = 0;

    if (qmgr_m.ids == NULL)
        qmgr_m.ids = htable_new(256);
    if (htable_has(qmgr_m.ids, id))
        goto out;
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
    if ((fd = open(path->data, O_RDWR | O_CLOEXEC | O_NOFOLLOW)) < 0) {
        if (errno != ENOENT)
            msg_warn("%s: open %s: %m", id, path->data);
        goto out;
    }
    if (fstat(fd, &sb) < 0) {
        msg_warn("%s: fstat: %m", id);
        close(fd);
        goto out;
    }
    m = mem_calloc(1, sizeof(*m));
    m->id = mem_strdup(id);
    m->fd = fd;
    m->dev = sb.st_dev;
    m->ino = sb.st_ino;
    m->forced = (sb.st_mode & MAIL_QUEUE_MODE_EXPIRE) != 0;
    m->cursor = 0;
    htable_put(qmgr_m.ids, m->id, m);
    if ((env = qmgr_read_envelope(m, err)) == NULL) {
        qmgr_msg_free(m);
        qmgr_corrupt(id, err->data);
        goto out;
    }
    if (strcmp(from_queue, MASTER_DIR_INCOMING) == 0)
        msg_info("%s: from=<%s>, size=%ld, nrcpt=%zu (queue active)", id,
                 env->sender, env->header.content_size, env->nrcpts);
    m->sender = mem_strdup(env->sender);
    m->envid = env->envid ? mem_strdup(env->envid) : NULL;
    m->ret = (int) env->ret;
    m->arrival = env->arrival_sec;
    m->content_offset = (long) env->header.content_offset;
    m->content_size = env->header.content_size;
    m->warn_time = env->warn_time;
    m->warn_offset = env->warn_offset;
    m->henv.header = env->header;
    lifetime = *m->sender ? qmgr_conf.max_lifetime : qmgr_conf.bounce_lifetime;
    age = (long) time(NULL) - m->arrival;
    m->expired = age >= lifetime;
    if (env->ndone >= env->nrcpts) {
        /* Every recipient done: only notices may be left to send. */
        m->all_read = 1;
        qmgr_msg_ref(m);
        qmgr_msg_unref(m);
    } else if (qmgr_read_slice(m, err) < 0) {
        msg_warn("%s: cannot read recipients: %s", id, err->data);
    }
    ret = 1;

out:
    qfile_envelope_free(env);
    strbuf_free(err);
    strbuf_free(path);
    return ret;
}

/* qmgr_delay_warning: ask for a delay notice once the W time passed. */
static void qmgr_delay_warning(qmgr_msg *m)
{
    strbuf *reason;
    long    now = (long) time(NULL);

    if (m->ndeferred == 0 || m->warn_time <= 0 || m->warn_offset < 0
        || m->warn_time > now || *m->sender == 0 || m->expired)
        return;
    reason = strbuf_new(64);
    if (bounce_delay_request(MASTER_DIR_ACTIVE, m->id, m->sender, m->envid,
                             m->ret, 0, reason) == BOUNCE_STAT_OK) {
        if (qfile_update_warn(m->fd, m->warn_offset, 0) < 0)
            msg_warn("%s: cannot clear the delay warning time: %m", m->id);
        m->warn_time = 0;
    } else {
        msg_warn("%s: cannot request a delay warning: %s; will try again",
                 m->id, reason->data);
    }
    strbuf_free(reason);
}

/* qmgr_msg_finish: notices, then remove or defer the message. */
static void qmgr_msg_finish(qmgr_msg *m)
{
    strbuf *reason = strbuf_new(64);
    strbuf *path = strbuf_new(128);
    strbuf *err = strbuf_new(64);
    int     notice_pending = 0;

    if (m->waiting) {
        /* Unlink from the refill FIFO (rare: only on read errors). */
        qmgr_msg **pp = &qmgr_m.wait_head;

        while (*pp && *pp != m)
            pp = &(*pp)->next_wait;
        if (*pp)
            *pp = m->next_wait;
        qmgr_m.wait_tail = NULL;
        for (qmgr_msg *t = qmgr_m.wait_head; t; t = t->next_wait)
            qmgr_m.wait_tail = t;
        m->waiting = 0;
    }
    if (!m->gone && !qmgr_msg_still_ours(m))
        m->gone = 1;
    if (m->gone) {
        if (msg_verbose)
            msg_info("%s: queue file vanished while active", m->id);
        goto done;
    }
    if (m->nexpired > 0)
        msg_info("%s: from=<%s>, status=expired, returned to sender", m->id,
                 m->sender);
    if (bounce_log_exists(BOUNCE_LOG_BOUNCE, m->id)) {
        if (bounce_request(MASTER_DIR_ACTIVE, m->id, m->sender, m->envid,
                           m->ret, 0, reason) == BOUNCE_STAT_OK) {
            if (bounce_log_remove(BOUNCE_LOG_BOUNCE, m->id) < 0)
                msg_warn("%s: cannot remove bounce log: %m", m->id);
        } else {
            notice_pending = 1;
            msg_warn("%s: cannot request a non-delivery notice: %s; "
                     "will try again", m->id, reason->data);
        }
    }
    qmgr_delay_warning(m);
    mail_queue_path(MASTER_DIR_ACTIVE, m->id, path);
    if (m->ndeferred == 0 && !notice_pending) {
        if (unlink(path->data) < 0 && errno != ENOENT)
            msg_warn("%s: cannot remove %s: %m", m->id, path->data);
        else {
            (void) bounce_log_remove(BOUNCE_LOG_DEFER, m->id);
            msg_info("%s: removed", m->id);
        }
    } else {
        struct timespec ts[2];
        long    now = (long) time(NULL);
        long    age = now - m->arrival;

        ts[0].tv_sec = ts[1].tv_sec = now + qmgr_backoff(age < 0 ? 0 : age);
        ts[0].tv_nsec = ts[1].tv_nsec = 0;
        /* The done marks must be durable before the next attempt (DESIGN
         * invariant 3); a file about to be removed needs no fsync. */
        if (fsync(m->fd) < 0)
            msg_warn("%s: fsync: %m", m->id);
        if (futimens(m->fd, ts) < 0)
            msg_warn("%s: cannot set the retry time: %m", m->id);
        if (mail_queue_rename(MASTER_DIR_ACTIVE, MASTER_DIR_DEFERRED, m->id,
                              err) < 0 && errno != ENOENT)
            msg_warn("%s: cannot move to %s/: %s", m->id, MASTER_DIR_DEFERRED,
                     err->data);
    }

done:
    strbuf_free(reason);
    strbuf_free(path);
    strbuf_free(err);
    qmgr_msg_free(m);
    qmgr_pump_soon();
}
