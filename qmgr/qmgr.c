/*
 * qmgr: the queue manager daemon.
 *
 * One process (master.cf "qmgr unix n - n 300 1 qmgr") with its own
 * event loop (mail_server MULTI mode). It
 *   - at start-up takes up every file left in active/ by a crash, then
 *     scans incoming/ and the due part of deferred/;
 *   - on a trigger: 'W', 'I' (or any unknown byte) scan incoming/; 'D'
 *     also deferred/ (files whose mtime, the retry time, has passed);
 *     'A' incoming/ and all of deferred/, ignoring retry times; 'F'
 *     forgets dead destinations (qmgr_sched_flush). postqueue -f sends
 *     "FIA";
 *   - every queue_run_delay scans incoming/ (warning about incomplete
 *     files older than QMGR_STALE_AGE) and the due part of deferred/.
 * Scans fill a list of messages waiting for activation (at most
 * qmgr_message_active_limit). The pump (a 0 ms timer, so it never runs
 * inside a callback's stack) reads next slices of messages waiting for
 * one, activates waiting messages while fewer than
 * qmgr_message_active_limit messages and qmgr_message_recipient_limit
 * recipients are in memory (at most QMGR_ACTIVATE_BATCH per run, so
 * triggers are served in between), runs the pending scans when the list
 * is empty, and starts deliveries (qmgr_sched_run). Deliveries run
 * asynchronously (deliver_client), many at once. A file in incoming/ is
 * taken only when its mode has the owner-execute bit (complete marker,
 * mail_queue.h). Files that vanish or move under qmgr (postsuper) are
 * skipped quietly. When messages wait for activation because the limits
 * are reached, a warning is logged at most every qmgr_clog_warn_time.
 *
 * SECURITY: runs as mail_owner. Trigger bytes come from anyone in the
 * postdrop group (public/qmgr): they only set scan flags. Directory
 * entries are checked (mail_queue_id_ok, regular files, no symlinks)
 * before they become paths.
 * LIMITS: qmgr_message_active_limit messages waiting and in memory;
 * qmgr_message_recipient_limit recipients in memory; QMGR_TRIGGER_MAX
 * bytes per trigger read; a trigger client that sends nothing is dropped
 * after MAIL_SERVER_TRIGGER_TIMEOUT ms; hashed subdirectories to
 * MAIL_QUEUE_HASH_MAX levels.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "event.h"
#include "htable.h"
#include "mail_queue.h"
#include "mail_server.h"
#include "master_proto.h"
#include "mem.h"
#include "msg.h"
#include "param.h"
#include "param_names.h"
#include "qmgr.h"
#include "strbuf.h"
#include "strutil.h"
#include "trigger.h"

#define QMGR_TRIGGER_MAX    256         /* bytes read per trigger read */
#define QMGR_ACTIVATE_BATCH 100         /* activations per pump run */
#define QMGR_STALE_AGE      (4 * 3600)  /* warn about incomplete files */

/* Scan flags. */
#define QMGR_SCAN_ACTIVE    (1 << 0)    /* start-up: take up active/ */
#define QMGR_SCAN_INCOMING  (1 << 1)
#define QMGR_SCAN_DEFERRED  (1 << 2)    /* due files only */
#define QMGR_SCAN_ALL       (1 << 3)    /* deferred/, ignoring retry times */
#define QMGR_SCAN_WARN      (1 << 4)    /* warn about stale incomplete files */

qmgr_config qmgr_conf;

/* One message waiting to be handled. */
typedef struct qmgr_work {
    const char *queue;                  /* MASTER_DIR_* constant */
    char   *id;
} qmgr_work;

/* The daemon's state. */
typedef struct qmgr_state {
    mail_server *srv;
    event_loop *loop;
    int     scan;                       /* QMGR_SCAN_* still to do */
    int     tick_armed;
    qmgr_work *work;                    /* ring of pending messages */
    size_t  work_head;
    size_t  work_count;
    size_t  work_size;
    htable *in_work;                    /* ids in the list */
    time_t  last_clog_warn;
} qmgr_state;

/* A trigger client. */
typedef struct qmgr_client {
    qmgr_state *st;
    int     fd;
    event_timer_id timer;
} qmgr_client;

static qmgr_state qmgr_st;

static void qmgr_arm(qmgr_state *st);

/* qmgr_work_add: queue a message once; 0, or -1 when the list is full. */
static int qmgr_work_add(qmgr_state *st, const char *queue, const char *id)
{
    qmgr_work *w;

    if (htable_has(st->in_work, id) || qmgr_msg_is_active(id))
        return 0;
    if (st->work_count >= (size_t) qmgr_conf.active_limit)
        return -1;
    if (st->work_count == st->work_size) {
        size_t  nsize = st->work_size ? st->work_size * 2 : 64;
        qmgr_work *nw = mem_calloc(nsize, sizeof(*nw));
        size_t  i;

        for (i = 0; i < st->work_count; i++)
            nw[i] = st->work[(st->work_head + i) % st->work_size];
        mem_free(st->work);
        st->work = nw;
        st->work_size = nsize;
        st->work_head = 0;
    }
    w = st->work + (st->work_head + st->work_count) % st->work_size;
    w->queue = queue;
    w->id = mem_strdup(id);
    st->work_count++;
    htable_put(st->in_work, id, NULL);
    return 0;
}

/* qmgr_scan_dir: add the files of one queue directory (recursing into
 * hashed subdirectories); returns -1 when the work list filled up. */
static int qmgr_scan_dir(qmgr_state *st, const char *queue, const char *dir,
                         int flags, int depth)
{
    DIR    *dp;
    struct dirent *de;
    struct stat sb;
    time_t  now = time(NULL);
    strbuf *sub;
    int     full = 0;

    if ((dp = opendir(dir)) == NULL) {
        if (errno != ENOENT)
            msg_warn("open directory %s: %m", dir);
        return 0;
    }
    sub = strbuf_new(128);
    while (!full && (de = readdir(dp)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        if (fstatat(dirfd(dp), de->d_name, &sb, AT_SYMLINK_NOFOLLOW) < 0)
            continue;
        if (S_ISDIR(sb.st_mode)) {
            if (strlen(de->d_name) == 1 && depth < MAIL_QUEUE_HASH_MAX
                && mail_queue_hashed(queue)) {
                strbuf_reset(sub);
                strbuf_printf(sub, "%s/%s", dir, de->d_name);
                if (qmgr_scan_dir(st, queue, sub->data, flags, depth + 1) < 0)
                    full = 1;
            }
            continue;
        }
        if (!S_ISREG(sb.st_mode) || !mail_queue_id_ok(de->d_name))
            continue;
        if (strcmp(queue, MASTER_DIR_INCOMING) == 0
            && !mail_queue_complete((int) sb.st_mode)) {
            if ((flags & QMGR_SCAN_WARN) && now - sb.st_mtime > QMGR_STALE_AGE)
                msg_warn("%s: incomplete queue file in %s/ for %ld hours",
                         de->d_name, queue, (long) (now - sb.st_mtime) / 3600);
            continue;
        }
        if (strcmp(queue, MASTER_DIR_DEFERRED) == 0
            && (flags & QMGR_SCAN_ALL) == 0 && sb.st_mtime > now)
            continue;
        if (qmgr_work_add(st, queue, de->d_name) < 0)
            full = 1;
    }
    closedir(dp);
    strbuf_free(sub);
    return full ? -1 : 0;
}

/* qmgr_scan_queue: scan queue_directory/queue; -1 when the list filled. */
static int qmgr_scan_queue(qmgr_state *st, const char *queue, int flags)
{
    strbuf *dir = strbuf_new(128);
    int     rc;

    strbuf_printf(dir, "%s/%s", param_str(PARAM_QUEUE_DIRECTORY), queue);
    rc = qmgr_scan_dir(st, queue, dir->data, flags, 0);
    strbuf_free(dir);
    return rc;
}

/* qmgr_do_scans: run the pending scans; a scan cut short stays pending. */
static void qmgr_do_scans(qmgr_state *st)
{
    int     flags = st->scan;

    st->scan = 0;
    if ((flags & QMGR_SCAN_ACTIVE)
        && qmgr_scan_queue(st, MASTER_DIR_ACTIVE, flags) < 0)
        st->scan |= QMGR_SCAN_ACTIVE;
    if ((flags & QMGR_SCAN_INCOMING)
        && qmgr_scan_queue(st, MASTER_DIR_INCOMING, flags) < 0)
        st->scan |= QMGR_SCAN_INCOMING;
    if ((flags & (QMGR_SCAN_DEFERRED | QMGR_SCAN_ALL))
        && qmgr_scan_queue(st, MASTER_DIR_DEFERRED, flags) < 0)
        st->scan |= flags & (QMGR_SCAN_DEFERRED | QMGR_SCAN_ALL);
}

/* qmgr_room: may another message be activated now? */
static int qmgr_room(void)
{
    return qmgr_msg_count() < qmgr_conf.active_limit
        && qmgr_rcpt_count() < qmgr_conf.rcpt_limit;
}

/* qmgr_clog_warn: the waiting list is stuck behind the limits. */
static void qmgr_clog_warn(qmgr_state *st)
{
    time_t  now = time(NULL);

    if (qmgr_conf.clog_warn_time <= 0
        || now - st->last_clog_warn < qmgr_conf.clog_warn_time)
        return;
    st->last_clog_warn = now;
    msg_warn("active queue full: %ld messages, %ld recipients in memory, "
             "%zu messages waiting (qmgr_message_active_limit = %ld, "
             "qmgr_message_recipient_limit = %ld)", qmgr_msg_count(),
             qmgr_rcpt_count(), st->work_count, qmgr_conf.active_limit,
             qmgr_conf.rcpt_limit);
}

/* qmgr_tick: the pump: refills, activations, scans, deliveries. */
static void qmgr_tick(event_loop *loop, event_timer_id id, void *ctx)
{
    qmgr_state *st = ctx;
    int     n = 0;

    (void) loop;
    (void) id;
    st->tick_armed = 0;
    (void) qmgr_msg_refill_waiting();
    if (st->work_count == 0 && st->scan && qmgr_room())
        qmgr_do_scans(st);
    while (st->work_count > 0 && qmgr_room() && n < QMGR_ACTIVATE_BATCH) {
        qmgr_work w = st->work[st->work_head];

        st->work_head = (st->work_head + 1) % st->work_size;
        st->work_count--;
        (void) htable_remove(st->in_work, w.id, NULL);
        (void) qmgr_msg_activate(w.queue, w.id);
        mem_free(w.id);
        n++;
        if (st->work_count == 0 && st->scan && qmgr_room())
            qmgr_do_scans(st);
    }
    if (st->work_count > 0 && !qmgr_room())
        qmgr_clog_warn(st);
    qmgr_sched_run();
    if ((st->work_count > 0 || st->scan) && qmgr_room())
        qmgr_arm(st);
}

/* qmgr_arm: make sure a tick runs soon. */
static void qmgr_arm(qmgr_state *st)
{
    if (st->tick_armed)
        return;
    st->tick_armed = 1;
    (void) event_timer_add(st->loop, 0, qmgr_tick, st);
}

/* qmgr_pump_soon: for the other files: a tick soon. */
void    qmgr_pump_soon(void)
{
    if (qmgr_st.loop != NULL)
        qmgr_arm(&qmgr_st);
}

/* qmgr_loop: the event loop. */
event_loop *qmgr_loop(void)
{
    return qmgr_st.loop;
}

/* qmgr_periodic: the queue_run_delay timer. */
static void qmgr_periodic(event_loop *loop, event_timer_id id, void *ctx)
{
    qmgr_state *st = ctx;

    (void) id;
    st->scan |= QMGR_SCAN_INCOMING | QMGR_SCAN_DEFERRED | QMGR_SCAN_WARN;
    qmgr_arm(st);
    (void) event_timer_add(loop, qmgr_conf.run_delay * 1000, qmgr_periodic, st);
}

/* qmgr_trigger_bytes: turn trigger bytes into scan flags. */
static void qmgr_trigger_bytes(qmgr_state *st, const char *buf, size_t len)
{
    size_t  i;

    for (i = 0; i < len; i++) {
        switch (buf[i]) {
        case TRIGGER_DEFERRED:
            st->scan |= QMGR_SCAN_INCOMING | QMGR_SCAN_DEFERRED;
            break;
        case TRIGGER_ALL:
            st->scan |= QMGR_SCAN_INCOMING | QMGR_SCAN_ALL;
            break;
        case TRIGGER_FLUSH:
            qmgr_sched_flush();
            break;
        default:                        /* 'W', 'I' and anything else */
            st->scan |= QMGR_SCAN_INCOMING;
            break;
        }
    }
    qmgr_arm(st);
}

/* qmgr_client_done: forget a trigger client. */
static void qmgr_client_done(qmgr_client *c)
{
    if (c->timer)
        (void) event_timer_cancel(c->st->loop, c->timer);
    mail_server_multi_done(c->st->srv, c->fd);
    mem_free(c);
}

/* qmgr_client_timeout: a trigger client that sends nothing. */
static void qmgr_client_timeout(event_loop *loop, event_timer_id id, void *ctx)
{
    qmgr_client *c = ctx;

    (void) loop;
    (void) id;
    c->timer = 0;
    qmgr_client_done(c);
}

/* qmgr_client_read: read trigger bytes until EOF. */
static void qmgr_client_read(event_loop *loop, int fd, void *ctx)
{
    qmgr_client *c = ctx;
    char    buf[QMGR_TRIGGER_MAX];
    ssize_t n;

    (void) loop;
    n = read(fd, buf, sizeof(buf));
    if (n > 0) {
        qmgr_trigger_bytes(c->st, buf, (size_t) n);
        return;
    }
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    qmgr_client_done(c);
}

/* qmgr_multi: a new trigger connection. */
static void qmgr_multi(mail_server *srv, int fd)
{
    qmgr_client *c = mem_calloc(1, sizeof(*c));

    c->st = &qmgr_st;
    c->fd = fd;
    if (event_add_read(qmgr_st.loop, fd, qmgr_client_read, c) < 0) {
        msg_warn("cannot watch trigger connection: %m");
        mail_server_multi_done(srv, fd);
        mem_free(c);
        return;
    }
    c->timer = event_timer_add(qmgr_st.loop, MAIL_SERVER_TRIGGER_TIMEOUT,
                               qmgr_client_timeout, c);
}

/* qmgr_load_config: read the parameters once. */
static void qmgr_load_config(void)
{
    long    ipc = param_time(PARAM_IPC_TIMEOUT);

    qmgr_conf.min_backoff = param_time(PARAM_MINIMAL_BACKOFF_TIME);
    qmgr_conf.max_backoff = param_time(PARAM_MAXIMAL_BACKOFF_TIME);
    qmgr_conf.max_lifetime = param_time(PARAM_MAXIMAL_QUEUE_LIFETIME);
    qmgr_conf.bounce_lifetime = param_time(PARAM_BOUNCE_QUEUE_LIFETIME);
    qmgr_conf.active_limit = param_int(PARAM_QMGR_MESSAGE_ACTIVE_LIMIT);
    qmgr_conf.rcpt_limit = param_int(PARAM_QMGR_MESSAGE_RECIPIENT_LIMIT);
    qmgr_conf.run_delay = param_time(PARAM_QUEUE_RUN_DELAY);
    qmgr_conf.clog_warn_time = param_time(PARAM_QMGR_CLOG_WARN_TIME);
    qmgr_conf.soft_bounce = param_bool(PARAM_SOFT_BOUNCE);
    qmgr_conf.default_process_limit = param_int(PARAM_DEFAULT_PROCESS_LIMIT);
    if (ipc <= 0 || ipc > 2000000)
        ipc = 2000000;
    qmgr_conf.ipc_timeout_ms = (int) ipc * 1000;
    if (qmgr_conf.run_delay > 24 * 3600)
        qmgr_conf.run_delay = 24 * 3600;
}

/* qmgr_post_init: configuration, start-up scans and timers. */
static void qmgr_post_init(mail_server *srv)
{
    const char *qdir = param_str(PARAM_QUEUE_DIRECTORY);

    qmgr_load_config();
    qmgr_sched_init();
    /* Relative service paths (private/local, private/bounce) resolve
     * against the spool; under chroot we are there already. */
    if (chdir(qdir) < 0 && chdir("/") < 0)
        msg_fatal("chdir %s: %m", qdir);
    qmgr_st.srv = srv;
    qmgr_st.loop = mail_server_loop(srv);
    qmgr_st.in_work = htable_new(64);
    qmgr_st.scan = QMGR_SCAN_ACTIVE | QMGR_SCAN_INCOMING | QMGR_SCAN_DEFERRED;
    qmgr_arm(&qmgr_st);
    (void) event_timer_add(qmgr_st.loop, qmgr_conf.run_delay * 1000,
                           qmgr_periodic, &qmgr_st);
}

int     main(int argc, char **argv)
{
    mail_server_desc desc;

    memset(&desc, 0, sizeof(desc));
    desc.name = "qmgr";
    desc.mode = MAIL_SERVER_MULTI;
    desc.flags = MAIL_SERVER_F_NO_IDLE_LIMIT | MAIL_SERVER_F_NO_USE_LIMIT;
    desc.post_init = qmgr_post_init;
    desc.multi = qmgr_multi;
    mail_server_main(argc, argv, &desc);
}
