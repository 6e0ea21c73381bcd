/*
 * local: the local delivery agent (local(8)).
 *
 * A mail_server in single-client mode on private/local. Each client is
 * qmgr with one delivery request (lib/mail/deliver_request): the agent
 * opens active/ID read-only, reads the envelope and content from it, and
 * for each recipient runs local_deliver_rcpt (local_deliver.c), reports
 * the result (deliver_result) and logs the Postfix "to=<...>, relay=local,
 * ... status=..." line (deliver_log). Then deliver_done.
 *
 * Public functions: none (main only). Process-wide configuration is
 * loaded once in post_init into the struct handed to the handler.
 *
 * SECURITY: runs as root in a privileged instance (master.cf unpriv=n);
 * every mailbox, .forward, :include:, file and command access is done
 * with the recipient's ids through recip_priv. The request comes from
 * qmgr (checked by deliver_request_read); the queue file is parsed
 * strictly by qfile; an unreadable file defers every recipient.
 * LIMITS: LOCAL_RECORD_MAX bytes per queue-file record; those of
 * deliver_request; see local_deliver.c for the expansion bounds.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "deliver_request.h"
#include "htable.h"
#include "local.h"
#include "mail_queue.h"
#include "mail_server.h"
#include "maps.h"
#include "mem.h"
#include "msg.h"
#include "param.h"
#include "qfile.h"
#include "recip_priv.h"
#include "strbuf.h"
#include "strutil.h"

#define LOCAL_RECORD_MAX    (1 << 20)
#define LOCAL_RELAY         "local"

/* A content source over a queue file. */
struct local_qfile_src {
    qfile_reader *rd;
    qfile_envelope *env;
};

/* local_qfile_start: position at the content. */
static int local_qfile_start(void *ctx, strbuf *err)
{
    struct local_qfile_src *q = ctx;

    return qfile_content_start(q->rd, q->env, err);
}

/* local_qfile_next: next content piece. */
static int local_qfile_next(void *ctx, strbuf *piece, strbuf *err)
{
    struct local_qfile_src *q = ctx;

    return qfile_content_next(q->rd, piece, err);
}

/* local_classes: parse a list of class names. */
static int local_classes(const char *param)
{
    size_t  n;
    size_t  i;
    const char *const *items = param_list(param, &n);
    int     bits = 0;

    for (i = 0; i < n; i++) {
        if (strcasecmp(items[i], "alias") == 0)
            bits |= LOCAL_CLASS_ALIAS;
        else if (strcasecmp(items[i], "forward") == 0)
            bits |= LOCAL_CLASS_FORWARD;
        else if (strcasecmp(items[i], "include") == 0)
            bits |= LOCAL_CLASS_INCLUDE;
        else if (strcasecmp(items[i], "command") == 0)
            bits |= LOCAL_CLASS_COMMAND;
        else if (strcasecmp(items[i], "file") == 0)
            bits |= LOCAL_CLASS_FILE;
        else
            msg_warn("%s: ignoring unknown class \"%s\"", param, items[i]);
    }
    return bits;
}

/* local_post_init: load the configuration once. */
static void local_post_init(mail_server *srv)
{
    local_config *conf = mail_server_ctx(srv);
    const char *const *locks;
    strbuf *err = strbuf_new(64);
    size_t  n;
    size_t  i;
    int     rc;

    conf->delimiters = param_str(PARAM_RECIPIENT_DELIMITER);
    conf->home_mailbox = param_str(PARAM_HOME_MAILBOX);
    conf->spool_dir = param_str(PARAM_MAIL_SPOOL_DIRECTORY);
    conf->mailbox_command = param_raw(PARAM_MAILBOX_COMMAND);
    conf->forward_path = param_raw(PARAM_FORWARD_PATH);
    conf->luser_relay = param_raw(PARAM_LUSER_RELAY);
    conf->shell = param_str(PARAM_LOCAL_COMMAND_SHELL);
    conf->myhostname = param_str(PARAM_MYHOSTNAME);
    conf->mydestination = param_list(PARAM_MYDESTINATION, &conf->nmydestination);
    conf->command_classes = local_classes(PARAM_ALLOW_MAIL_TO_COMMANDS);
    conf->file_classes = local_classes(PARAM_ALLOW_MAIL_TO_FILES);
    conf->delivered_classes = local_classes(PARAM_PREPEND_DELIVERED_HEADER);
    conf->mailbox_size_limit = (off_t) param_size(PARAM_MAILBOX_SIZE_LIMIT);
    conf->command_time_limit = param_time(PARAM_COMMAND_TIME_LIMIT);
    locks = param_list(PARAM_MAILBOX_DELIVERY_LOCK, &n);
    for (i = 0; i < n; i++) {
        if (strcasecmp(locks[i], "fcntl") == 0)
            conf->lock_flags |= LOCAL_LOCK_FCNTL;
        else if (strcasecmp(locks[i], "dotlock") == 0)
            conf->lock_flags |= LOCAL_LOCK_DOTLOCK;
        else if (strcasecmp(locks[i], "flock") == 0) {
            msg_warn("%s: flock is not supported; using fcntl", PARAM_MAILBOX_DELIVERY_LOCK);
            conf->lock_flags |= LOCAL_LOCK_FCNTL;
        } else
            param_fatal_bad(PARAM_MAILBOX_DELIVERY_LOCK, "fcntl and/or dotlock");
    }
    if (*param_str(PARAM_ALIAS_MAPS))
        conf->aliases = maps_open(PARAM_ALIAS_MAPS, param_str(PARAM_ALIAS_MAPS), DICT_F_FOLD);
    rc = recip_priv_lookup(param_str(PARAM_DEFAULT_PRIVS), &conf->default_privs, err);
    if (rc != 0)
        msg_fatal("%s \"%s\": %s", PARAM_DEFAULT_PRIVS, param_str(PARAM_DEFAULT_PRIVS),
                  rc > 0 ? "no such user" : strbuf_str(err));
    if (recip_priv_privileged() && conf->default_privs.uid == 0)
        msg_fatal("%s \"%s\" has uid 0", PARAM_DEFAULT_PRIVS, param_str(PARAM_DEFAULT_PRIVS));
    strbuf_free(err);
}

/* local_report_all: report every recipient with one outcome. */
static void local_report_all(stream *client, deliver_request *req, int status,
                             const char *dsn, const char *reason)
{
    size_t  i;

    for (i = 0; i < req->nrcpts; i++) {
        deliver_log(req, &req->rcpts[i], status, dsn, LOCAL_RELAY, reason);
        if (deliver_result(client, req->rcpts[i].offset, status, dsn, LOCAL_RELAY, reason) < 0)
            return;
    }
}

/* local_serve: one delivery request. */
static void local_serve(mail_server *srv, stream *client)
{
    local_config *conf = mail_server_ctx(srv);
    deliver_request *req;
    strbuf *err = strbuf_new(128);
    strbuf *path = strbuf_new(256);
    struct local_qfile_src q = {NULL, NULL};
    local_content content;
    local_message msg;
    local_result res;
    size_t  i;
    int     fd = -1;

    stream_set_timeout(client, (int) (param_time(PARAM_IPC_TIMEOUT) > 3600 ? 3600000 :
                                      param_time(PARAM_IPC_TIMEOUT) * 1000));
    if ((req = deliver_request_read(client, err)) == NULL) {
        msg_warn("bad delivery request: %s", strbuf_str(err));
        goto out;
    }
    res.reason = strbuf_new(128);
    if (!mail_queue_id_ok(req->queue_id) || strcmp(req->queue_name, "active") != 0
        || mail_queue_path(req->queue_name, req->queue_id, path) < 0) {
        local_report_all(client, req, 4, "4.3.0", "bad queue file name in request");
    } else if ((fd = open(path->data, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) < 0) {
        strbuf_reset(err);
        (void) strbuf_printf(err, "cannot open queue file: %s", strerror(errno));
        local_report_all(client, req, 4, "4.3.0", err->data);
    } else if ((q.rd = qfile_reader_fd(fd, LOCAL_RECORD_MAX)) == NULL
               || (q.env = qfile_read_envelope(q.rd, QFILE_ENV_SKIP_CONTENT, err)) == NULL) {
        msg_warn("%s: unreadable queue file: %s", req->queue_id, strbuf_str(err));
        local_report_all(client, req, 4, "4.3.0", "queue file is unreadable");
    } else {
        content.start = local_qfile_start;
        content.next = local_qfile_next;
        content.ctx = &q;
        memset(&msg, 0, sizeof(msg));
        msg.queue_id = req->queue_id;
        msg.sender = req->sender;
        msg.arrival_time = req->arrival_time;
        msg.content = &content;
        msg.delivered_to = htable_new(8);
        if (local_content_headers(&content, msg.delivered_to, err) < 0) {
            msg_warn("%s: damaged content: %s", req->queue_id, strbuf_str(err));
            local_report_all(client, req, 4, "4.3.0", "queue file content is damaged");
        } else {
            for (i = 0; i < req->nrcpts; i++) {
                deliver_rcpt *r = &req->rcpts[i];

                (void) local_deliver_rcpt(conf, &msg, r->address, r->orig, &res);
                deliver_log(req, r, res.status, res.dsn, LOCAL_RELAY, strbuf_str(res.reason));
                if (deliver_result(client, r->offset, res.status, res.dsn, LOCAL_RELAY,
                                   strbuf_str(res.reason)) < 0) {
                    msg_warn("%s: lost the connection to the queue manager", req->queue_id);
                    break;
                }
            }
        }
        htable_free(msg.delivered_to, NULL);
    }
    (void) deliver_done(client);
    strbuf_free(res.reason);
    req = deliver_request_free(req);
out:
    if (q.env)
        q.env = qfile_envelope_free(q.env);
    if (q.rd)
        q.rd = qfile_reader_free(q.rd);
    if (fd >= 0)
        (void) close(fd);
    strbuf_free(err);
    strbuf_free(path);
}

/* main: hand the service to the skeleton. */
int     main(int argc, char **argv)
{
    static local_config conf;
    mail_server_desc desc;

    memset(&desc, 0, sizeof(desc));
    desc.name = "local";
    desc.mode = MAIL_SERVER_SINGLE;
    desc.post_init = local_post_init;
    desc.conn = local_serve;
    desc.ctx = &conf;
    mail_server_main(argc, argv, &desc);
}
