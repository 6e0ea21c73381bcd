/*
 * bounce: the bounce daemon. It turns the per-message log of failed
 * recipients (bounce/ID, lib/mail/bounce_log) into delivery status
 * notifications and submits them through cleanup.
 *
 * Service (mail_server, one client at a time): on each connection send
 * protocol=bounce_protocol, read one request (lib/mail/bounce_client),
 * act, reply. master.cf runs this program as "bounce" and as "defer";
 * both answer request=bounce and request=delay.
 *
 * request=bounce for queue_name/ID:
 *   - read bounce/ID (no log: nothing to do, status 0);
 *   - read the original message from queue_name/ID (arrival time and
 *     content; sender, ENVID and RET come from the request);
 *   - bounce_dsn_plan decides: a notice to the sender with the recipients
 *     whose NOTIFY asks for it (none left: log and send nothing), plus a
 *     headers-only copy to bounce_notice_recipient (notify_classes
 *     "bounce"); for a failed bounce (null sender) one notice to
 *     2bounce_notice_recipient ("2bounce" class), else only a log line;
 *     (when notify_classes is not set at all, 2bounce counts as on);
 *     for a failed postmaster notice or mail from double_bounce_sender,
 *     only a log line. Postmaster notices carry the ENVID
 *     BOUNCE_DSN_ENVID_POSTMASTER so their own failure is recognised.
 *   - submit each notice through cleanup with the null sender and
 *     CLEANUP_F_BOUNCE; log "ID: sender non-delivery notification: NEW";
 *   - remove bounce/ID, reply status=0. Any failure to read the log or
 *     the message, or to submit, replies status=4 and keeps the log, so
 *     qmgr asks again later. A permanent rejection by cleanup is tried
 *     once more with the original's headers only, then given up (logged)
 *     so the message does not stay in the queue forever. Notices are
 *     submitted postmaster copy first and sender notice last, so a retry
 *     never sends the sender two.
 *
 * request=delay for queue_name/ID (qmgr, once the message's delay
 * warning time has passed while recipients are still deferred):
 *   - nothing for the null sender (status 0);
 *   - read defer/ID, one entry per recipient (the latest of each);
 *   - keep those whose NOTIFY allows a delay warning (none: log only);
 *   - submit one notice to the sender, "Delayed Mail (still being
 *     retried)", RFC 3464 Action: delayed with the logged 4.X.Y status,
 *     the original's headers attached; log "ID: sender delay
 *     notification: NEW"; defer/ID stays (the next attempts append).
 *   Failures reply status=4 and qmgr asks again after the next attempt.
 *
 * SECURITY: requests come from qmgr (same user) over private/; they are
 * still checked strictly (bounce_request_read) and the queue name must
 * be one of the message queues. The log and the queue file are read with
 * bounds; their contents (addresses, reasons, headers) are untrusted and
 * bounce_dsn makes them safe to quote. Runs as mail_owner.
 * LIMITS: BOUNCE_RCPT_MAX recipients per notice (more are counted in
 * the log line only); message content read up to the larger of
 * bounce_size_limit and header_size_limit; queue records of at most
 * BOUNCE_RECORD_MAX bytes; every socket wait bounded by ipc_timeout.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "attr.h"
#include "attr_names.h"
#include "bounce_client.h"
#include "bounce_dsn.h"
#include "bounce_log.h"
#include "cleanup_client.h"
#include "mail_queue.h"
#include "mail_server.h"
#include "mem.h"
#include "msg.h"
#include "param.h"
#include "qfile.h"
#include "strbuf.h"
#include "stream.h"

#define BOUNCE_RCPT_MAX     10000       /* recipients listed per notice */
#define BOUNCE_RECORD_MAX   (1 << 20)   /* queue file record bytes */

/* Configuration, written once in post_init. */
typedef struct bounce_config {
    bounce_dsn_conf dsn;                /* myhostname, mail_name, ... */
    const char *notice_rcpt;            /* bounce_notice_recipient */
    const char *notice_2rcpt;           /* 2bounce_notice_recipient */
    const char *double_sender;          /* double_bounce_sender */
    int     classes;                    /* BOUNCE_CLASS_* */
    long    read_max;                   /* content bytes to read */
    int     timeout_ms;                 /* ipc_timeout */
} bounce_config;

static bounce_config bounce_cfg;

/* One request's data. */
typedef struct bounce_job {
    const bounce_req *req;
    bounce_dsn_rcpt *rcpts;             /* failed recipients, owned strings */
    size_t  nrcpts;
    size_t  dropped;                    /* over BOUNCE_RCPT_MAX */
    long    arrival;
    long    content_size;
    strbuf *content;                    /* the message (a prefix of it) */
} bounce_job;

/* bounce_dup: copy of s, or NULL */
static char *bounce_dup(const char *s)
{
    return (s ? mem_strdup(s) : NULL);
}

/* bounce_job_free: release a job's data */
static void bounce_job_free(bounce_job *job)
{
    size_t  i;

    for (i = 0; i < job->nrcpts; i++) {
        mem_free((char *) job->rcpts[i].recipient);
        mem_free((char *) job->rcpts[i].orig);
        mem_free((char *) job->rcpts[i].orcpt);
        mem_free((char *) job->rcpts[i].dsn_status);
        mem_free((char *) job->rcpts[i].reason);
        mem_free((char *) job->rcpts[i].relay);
    }
    mem_free(job->rcpts);
    strbuf_free(job->content);
}

/* bounce_read_log: load the logged recipients of one kind (queue
 * "bounce" with action "failed", or "defer" with "delayed"); 1 found,
 * 0 no log, -1 error */
static int bounce_read_log(bounce_job *job, const char *queue,
                           const char *action, strbuf *why)
{
    bounce_log *log;
    bounce_log_entry e;
    size_t  size = 0;
    int     rc;
    strbuf *err = strbuf_new(100);

    if ((log = bounce_log_open(queue, job->req->queue_id, err)) == NULL) {
        rc = (errno == ENOENT) ? 0 : -1;
        if (rc < 0)
            strbuf_setf(why, "4.3.0 cannot read %s log: %s", queue, strbuf_str(err));
        strbuf_free(err);
        return (rc);
    }
    while ((rc = bounce_log_next(log, &e)) == 1) {
        bounce_dsn_rcpt *r;

        if (e.recipient == NULL
            || (e.dsn_action && strcmp(e.dsn_action, action) != 0))
            continue;
        /* A defer log grows with every attempt: keep one entry per
         * recipient, the latest. */
        if (strcmp(action, "delayed") == 0) {
            size_t  k;

            for (k = 0; k < job->nrcpts; k++)
                if (strcmp(job->rcpts[k].recipient, e.recipient) == 0)
                    break;
            if (k < job->nrcpts) {
                r = job->rcpts + k;
                mem_free((char *) r->dsn_status);
                mem_free((char *) r->reason);
                mem_free((char *) r->relay);
                r->dsn_status = bounce_dup(e.dsn_status);
                r->reason = bounce_dup(e.reason);
                r->relay = bounce_dup(e.relay);
                r->time = e.time;
                continue;
            }
        }
        if (job->nrcpts >= BOUNCE_RCPT_MAX) {
            job->dropped++;
            continue;
        }
        if (job->nrcpts == size) {
            size = size ? 2 * size : 16;
            job->rcpts = mem_realloc(job->rcpts, size * sizeof(*job->rcpts));
        }
        r = job->rcpts + job->nrcpts++;
        r->recipient = mem_strdup(e.recipient);
        r->orig = bounce_dup(e.orig);
        r->orcpt = bounce_dup(e.orcpt);
        r->notify = e.notify;
        r->dsn_status = bounce_dup(e.dsn_status);
        r->reason = bounce_dup(e.reason);
        r->relay = bounce_dup(e.relay);
        r->time = e.time;
    }
    if (rc < 0) {
        /* Use what was read; with nothing usable, ask again later. */
        msg_warn("%s: %s log: %s", job->req->queue_id, queue, bounce_log_error(log));
        if (job->nrcpts == 0) {
            strbuf_setf(why, "4.3.0 corrupt %s log: %s", queue, bounce_log_error(log));
            bounce_log_close(log);
            strbuf_free(err);
            return (-1);
        }
    }
    bounce_log_close(log);
    strbuf_free(err);
    return (job->nrcpts > 0 || job->dropped > 0 ? 1 : 0);
}

/* bounce_read_message: arrival time and content of the original */
static int bounce_read_message(bounce_job *job, strbuf *why)
{
    strbuf *path = strbuf_new(100);
    strbuf *err = strbuf_new(100);
    strbuf *piece = strbuf_new(1024);
    qfile_reader *rd = NULL;
    qfile_envelope *env = NULL;
    int     fd = -1;
    int     rc = -1;
    int     kind;

    if (mail_queue_path(job->req->queue_name, job->req->queue_id, path) < 0) {
        strbuf_setf(why, "4.3.0 bad queue file name %s/%s",
                    job->req->queue_name, job->req->queue_id);
        goto done;
    }
    if ((fd = open(strbuf_str(path), O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0) {
        strbuf_setf(why, "4.3.0 cannot open %s: %s", strbuf_str(path), strerror(errno));
        goto done;
    }
    rd = qfile_reader_fd(fd, BOUNCE_RECORD_MAX);
    if ((env = qfile_read_envelope(rd, QFILE_ENV_SKIP_CONTENT, err)) == NULL
        || qfile_content_start(rd, env, err) < 0) {
        strbuf_setf(why, "4.3.0 queue file %s: %s", strbuf_str(path), strbuf_str(err));
        goto done;
    }
    job->arrival = env->arrival_sec;
    job->content_size = env->header.content_size;
    while (job->content->len < (size_t) bounce_cfg.read_max) {
        if ((kind = qfile_content_next(rd, piece, err)) < 0) {
            strbuf_setf(why, "4.3.0 queue file %s: %s", strbuf_str(path), strbuf_str(err));
            goto done;
        }
        if (kind == QFILE_CONTENT_END)
            break;
        strbuf_append(job->content, piece->data, piece->len);
        if (kind == QFILE_CONTENT_LINE)
            strbuf_putc(job->content, '\n');
    }
    if (job->content->len > (size_t) bounce_cfg.read_max)
        strbuf_truncate(job->content, (size_t) bounce_cfg.read_max);
    rc = 0;

done:
    qfile_envelope_free(env);
    qfile_reader_free(rd);
    if (fd >= 0)
        close(fd);
    strbuf_free(path);
    strbuf_free(err);
    strbuf_free(piece);
    return (rc);
}

/* Results of bounce_submit_once and bounce_submit. */
#define BOUNCE_SUBMIT_OK        0       /* queued: new_id set */
#define BOUNCE_SUBMIT_DEFER     (-1)    /* try later: why set */
#define BOUNCE_SUBMIT_REJECT    (-2)    /* cleanup said no for good: why set */

/* bounce_submit_once: compose one notice and submit it */
static int bounce_submit_once(bounce_job *job, enum bounce_dsn_kind kind,
                              int ret, const char *to,
                              const bounce_dsn_rcpt *rcpts, size_t nrcpts,
                              strbuf *new_id, strbuf *why)
{
    bounce_dsn_msg m;
    bounce_dsn_conf conf = bounce_cfg.dsn;
    cleanup_env env;
    cleanup_client *cl;
    strbuf *text = strbuf_new(8192);
    strbuf *err = strbuf_new(100);
    int     eightbit = 0;
    int     status;
    int     rc = BOUNCE_SUBMIT_DEFER;

    memset(&m, 0, sizeof(m));
    m.kind = kind;
    m.queue_id = job->req->queue_id;
    m.sender = job->req->sender;
    m.envid = job->req->envid;
    m.ret = ret;
    m.arrival = job->arrival;
    m.content = job->content->data;
    m.content_len = job->content->len;
    m.content_size = job->content_size;
    m.rcpts = rcpts;
    m.nrcpts = nrcpts;
    m.notice_to = to;
    conf.now = (long) time(NULL);
    if (bounce_dsn_compose(&m, &conf, text, &eightbit) < 0) {
        strbuf_setf(why, "4.3.0 cannot compose notification");
        goto done;
    }

    memset(&env, 0, sizeof(env));
    env.flags = CLEANUP_F_BOUNCE;
    env.sender = "";
    env.envelope_id = (kind == BOUNCE_DSN_SENDER) ? NULL : BOUNCE_DSN_ENVID_POSTMASTER;
    env.encoding = eightbit ? "8bit" : "7bit";
    env.log_ident = job->req->queue_id;
    env.submit_uid = -1;
    env.arrival_time = 0;
    if ((cl = cleanup_open(err)) == NULL) {
        strbuf_setf(why, "4.3.0 cleanup service unavailable: %s", strbuf_str(err));
        goto done;
    }
    if (cleanup_envelope(cl, &env) < 0
        || cleanup_recipient(cl, to, NULL, NULL, 0) < 0
        || cleanup_content(cl, text->data, text->len) < 0) {
        strbuf_setf(why, "4.3.0 cleanup service: write error");
        cleanup_close(cl);
        goto done;
    }
    status = cleanup_finish(cl, new_id, err);
    cleanup_close(cl);
    if (status == CLEANUP_STAT_REJECT) {
        strbuf_setf(why, "cleanup rejected the notification: %s", strbuf_str(err));
        rc = BOUNCE_SUBMIT_REJECT;
        goto done;
    }
    if (status != CLEANUP_STAT_OK) {
        strbuf_setf(why, "4.3.0 cleanup refused the notification: %s",
                    strbuf_str(err));
        goto done;
    }
    rc = BOUNCE_SUBMIT_OK;

done:
    strbuf_free(text);
    strbuf_free(err);
    return (rc);
}

/* bounce_submit: submit a notice; on a permanent rejection try once more
 * with only the original's headers (the usual cause is its size), then
 * give up with a log line rather than retry forever. 0, or -1 to defer. */
static int bounce_submit(bounce_job *job, enum bounce_dsn_kind kind,
                         const char *to, const bounce_dsn_rcpt *rcpts,
                         size_t nrcpts, strbuf *new_id, strbuf *why)
{
    int     rc;

    rc = bounce_submit_once(job, kind, job->req->ret, to, rcpts, nrcpts, new_id, why);
    if (rc == BOUNCE_SUBMIT_REJECT && job->req->ret != QFILE_RET_HDRS) {
        msg_warn("%s: %s; trying again with the headers only",
                 job->req->queue_id, strbuf_str(why));
        rc = bounce_submit_once(job, kind, QFILE_RET_HDRS, to, rcpts, nrcpts,
                                new_id, why);
    }
    if (rc == BOUNCE_SUBMIT_REJECT) {
        msg_warn("%s: %s; notification to <%s> given up",
                 job->req->queue_id, strbuf_str(why), to);
        strbuf_set(new_id, "none", 4);
        return (0);
    }
    return (rc == BOUNCE_SUBMIT_OK ? 0 : -1);
}

/* bounce_notify: handle request=bounce; BOUNCE_STAT_* (why set on defer) */
static int bounce_notify(const bounce_req *req, strbuf *why)
{
    bounce_job job;
    bounce_dsn_rcpt *wanted;
    size_t  nwanted = 0;
    size_t  i;
    strbuf *new_id = strbuf_new(32);
    int     plan;
    int     status = BOUNCE_STAT_DEFER;
    int     found;

    memset(&job, 0, sizeof(job));
    job.req = req;
    job.content = strbuf_new(4096);
    if ((found = bounce_read_log(&job, BOUNCE_LOG_BOUNCE, "failed", why)) < 0)
        goto done;
    if (found == 0) {
        if (msg_verbose)
            msg_info("%s: no failed recipients logged", req->queue_id);
        status = BOUNCE_STAT_OK;
        goto done;
    }
    if (job.dropped > 0)
        msg_warn("%s: %zu more failed recipients not listed in the notification",
                 req->queue_id, job.dropped);

    plan = bounce_dsn_plan(req->sender, req->envid, bounce_cfg.classes,
                           bounce_cfg.double_sender, &bounce_cfg.dsn);
    if (plan & BOUNCE_PLAN_DISCARD) {
        msg_warn("%s: undeliverable postmaster notification discarded", req->queue_id);
        goto removed;
    }
    if (plan & BOUNCE_PLAN_NO_2BOUNCE) {
        msg_info("%s: undeliverable notification discarded"
                 " (2bounce is not in notify_classes)", req->queue_id);
        goto removed;
    }
    if (bounce_read_message(&job, why) < 0)
        goto done;

    if (plan & BOUNCE_PLAN_2BOUNCE) {
        if (bounce_submit(&job, BOUNCE_DSN_2BOUNCE, bounce_cfg.notice_2rcpt,
                          job.rcpts, job.nrcpts, new_id, why) < 0)
            goto done;
        msg_info("%s: postmaster non-delivery notification: %s",
                 req->queue_id, strbuf_str(new_id));
        goto removed;
    }
    if ((plan & BOUNCE_PLAN_COPY) && job.nrcpts > 0) {
        if (bounce_submit(&job, BOUNCE_DSN_COPY, bounce_cfg.notice_rcpt,
                          job.rcpts, job.nrcpts, new_id, why) < 0)
            goto done;
        msg_info("%s: postmaster non-delivery notification: %s",
                 req->queue_id, strbuf_str(new_id));
    }

    /* The sender hears only about recipients whose NOTIFY asks for it. */
    wanted = mem_calloc(job.nrcpts ? job.nrcpts : 1, sizeof(*wanted));
    for (i = 0; i < job.nrcpts; i++)
        if (bounce_dsn_wanted(job.rcpts + i))
            wanted[nwanted++] = job.rcpts[i];
    if (nwanted == 0) {
        msg_info("%s: sender non-delivery notification not sent:"
                 " no recipient asked for it (NOTIFY)", req->queue_id);
    } else if (bounce_submit(&job, BOUNCE_DSN_SENDER, req->sender, wanted,
                             nwanted, new_id, why) < 0) {
        mem_free(wanted);
        goto done;
    } else {
        msg_info("%s: sender non-delivery notification: %s",
                 req->queue_id, strbuf_str(new_id));
    }
    mem_free(wanted);

removed:
    /* Done with this log: a repeated request must not notify again. */
    if (bounce_log_remove(BOUNCE_LOG_BOUNCE, req->queue_id) < 0)
        msg_warn("%s: cannot remove bounce log: %m", req->queue_id);
    status = BOUNCE_STAT_OK;

done:
    bounce_job_free(&job);
    strbuf_free(new_id);
    return (status);
}

/* bounce_delay: handle request=delay; BOUNCE_STAT_* (why set on defer) */
static int bounce_delay(const bounce_req *req, strbuf *why)
{
    bounce_job job;
    bounce_dsn_rcpt *wanted;
    size_t  nwanted = 0;
    size_t  i;
    strbuf *new_id = strbuf_new(32);
    int     status = BOUNCE_STAT_DEFER;
    int     found;

    memset(&job, 0, sizeof(job));
    job.req = req;
    job.content = strbuf_new(4096);
    if (*req->sender == 0) {
        /* Nobody to warn: mail from the null sender gets no notices. */
        status = BOUNCE_STAT_OK;
        goto done;
    }
    if ((found = bounce_read_log(&job, BOUNCE_LOG_DEFER, "delayed", why)) < 0)
        goto done;
    if (found == 0) {
        status = BOUNCE_STAT_OK;
        goto done;
    }
    wanted = mem_calloc(job.nrcpts ? job.nrcpts : 1, sizeof(*wanted));
    for (i = 0; i < job.nrcpts; i++)
        if (bounce_dsn_delay_wanted(job.rcpts + i))
            wanted[nwanted++] = job.rcpts[i];
    if (nwanted == 0) {
        msg_info("%s: sender delay notification not sent:"
                 " no recipient asked for it (NOTIFY)", req->queue_id);
        status = BOUNCE_STAT_OK;
    } else if (bounce_read_message(&job, why) == 0
               && bounce_submit(&job, BOUNCE_DSN_DELAY, req->sender, wanted,
                                nwanted, new_id, why) == 0) {
        msg_info("%s: sender delay notification: %s", req->queue_id,
                 strbuf_str(new_id));
        status = BOUNCE_STAT_OK;
    }
    mem_free(wanted);

done:
    bounce_job_free(&job);
    strbuf_free(new_id);
    return (status);
}

/* bounce_queue_ok: 1 when name is a queue that holds messages */
static int bounce_queue_ok(const char *name)
{
    return (strcmp(name, MASTER_DIR_ACTIVE) == 0
            || strcmp(name, MASTER_DIR_DEFERRED) == 0
            || strcmp(name, MASTER_DIR_INCOMING) == 0
            || strcmp(name, MASTER_DIR_HOLD) == 0);
}

/* bounce_service: serve one client connection */
static void bounce_service(mail_server *srv, stream *client)
{
    attr_list *list = attr_list_new();
    strbuf *err = strbuf_new(100);
    strbuf *why = strbuf_new(100);
    bounce_req req;
    int     status;

    (void) srv;
    stream_set_timeout(client, bounce_cfg.timeout_ms);
    if (attr_send_protocol(client, ATTR_PROTO_BOUNCE) < 0) {
        msg_warn("cannot send protocol to client: %m");
        goto done;
    }
    if (bounce_request_read(client, list, &req, err) < 0) {
        msg_warn("bad request: %s", strbuf_str(err));
        (void) bounce_reply(client, BOUNCE_STAT_DEFER, "4.3.0 bad bounce request");
        goto done;
    }
    if (!bounce_queue_ok(req.queue_name)) {
        msg_warn("%s: bad queue name in request: %s", req.queue_id, req.queue_name);
        (void) bounce_reply(client, BOUNCE_STAT_DEFER, "4.3.0 bad bounce request");
        goto done;
    }
    if (strcmp(req.request, BOUNCE_REQ_DELAY) == 0)
        status = bounce_delay(&req, why);
    else
        status = bounce_notify(&req, why);
    if (status != BOUNCE_STAT_OK)
        msg_warn("%s: cannot send notification: %s", req.queue_id, strbuf_str(why));
    if (bounce_reply(client, status, status == BOUNCE_STAT_OK ? NULL
                     : strbuf_str(why)) < 0)
        msg_warn("%s: cannot send reply to client: %m", req.queue_id);

done:
    attr_list_free(list);
    strbuf_free(err);
    strbuf_free(why);
}

/* bounce_post_init: read the configuration once */
static void bounce_post_init(mail_server *srv)
{
    const char *const *list;
    size_t  count;
    long    hdr_max;
    long    timeout;

    (void) srv;
    bounce_cfg.dsn.myhostname = param_str(PARAM_MYHOSTNAME);
    bounce_cfg.dsn.myorigin = param_str(PARAM_MYORIGIN);
    bounce_cfg.dsn.mail_name = param_str(PARAM_MAIL_NAME);
    bounce_cfg.dsn.size_limit = param_size(PARAM_BOUNCE_SIZE_LIMIT);
    bounce_cfg.notice_rcpt = param_str(PARAM_BOUNCE_NOTICE_RECIPIENT);
    bounce_cfg.notice_2rcpt = param_str(PARAM_2BOUNCE_NOTICE_RECIPIENT);
    bounce_cfg.double_sender = param_str(PARAM_DOUBLE_BOUNCE_SENDER);
    list = param_list(PARAM_NOTIFY_CLASSES, &count);
    bounce_cfg.classes = bounce_dsn_classes(list, count);
    /* Postfix drops undeliverable bounces unless notify_classes names
     * 2bounce; Postern reports them to the postmaster as long as the
     * admin has not set notify_classes (issue 5: a bounce that cannot be
     * delivered goes to 2bounce_notice_recipient). */
    if (!param_is_set(PARAM_NOTIFY_CLASSES))
        bounce_cfg.classes |= BOUNCE_CLASS_2BOUNCE;
    hdr_max = param_size(PARAM_HEADER_SIZE_LIMIT);
    bounce_cfg.read_max = bounce_cfg.dsn.size_limit > hdr_max
        ? bounce_cfg.dsn.size_limit : hdr_max;
    timeout = param_time(PARAM_IPC_TIMEOUT);
    if (timeout <= 0 || timeout > 86400)
        timeout = 3600;
    bounce_cfg.timeout_ms = (int) timeout * 1000;
    if (*bounce_cfg.notice_rcpt == 0)
        param_fatal_bad(PARAM_BOUNCE_NOTICE_RECIPIENT, "an address");
    if (*bounce_cfg.notice_2rcpt == 0)
        param_fatal_bad(PARAM_2BOUNCE_NOTICE_RECIPIENT, "an address");
}

int     main(int argc, char **argv);

/* main: declare the service to the skeleton */
int     main(int argc, char **argv)
{
    mail_server_desc desc;

    memset(&desc, 0, sizeof(desc));
    msg_init("bounce", MSG_F_STDERR);
    desc.name = "bounce";
    desc.mode = MAIL_SERVER_SINGLE;
    desc.conn = bounce_service;
    desc.post_init = bounce_post_init;
    desc.ctx = &bounce_cfg;
    mail_server_main(argc, argv, &desc);
}
