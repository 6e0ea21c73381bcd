/*
 * local: the local delivery agent (local(8)).
 *
 * A mail_server in single-client mode on private/local. Each client is
 * qmgr with one delivery request. lib/mail/deliver_agent reads it, opens
 * active/ID read-only and reads the envelope and header; for each
 * recipient the agent runs local_deliver_rcpt (local_deliver.c) and
 * deliver_agent reports the result and logs the Postfix "to=<...>,
 * relay=local, ... status=..." line. Then the final message.
 *
 * Public functions: none (main only). Process-wide configuration is
 * loaded once in post_init into the struct handed to the handler.
 *
 * SECURITY: runs as root in a privileged instance (master.cf unpriv=n);
 * every mailbox, .forward, :include:, file and command access is done
 * with the recipient's ids through recip_priv. The request comes from
 * qmgr and the queue file is opened and parsed strictly by deliver_agent;
 * an unreadable file defers every recipient.
 * LIMITS: LOCAL_RECORD_MAX bytes per queue-file record; those of
 * deliver_request; see local_deliver.c for the expansion bounds.
 */
#include <string.h>
#include <strings.h>

#include "deliver_agent.h"
#include "htable.h"
#include "local.h"
#include "mail_server.h"
#include "maps.h"
#include "mem.h"
#include "msg.h"
#include "param.h"
#include "recip_priv.h"
#include "strbuf.h"
#include "strutil.h"

#define LOCAL_RECORD_MAX    (1 << 20)
#define LOCAL_RELAY         "local"

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
    strbuf *err = strbuf_new(64);
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
    conf->lock_flags = mailbox_lock_flags(PARAM_MAILBOX_DELIVERY_LOCK);
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

/* One request's message, for local_one. */
struct local_job {
    local_config *conf;
    local_message msg;
};

/* local_one: deliver_agent_fn that delivers to one recipient. */
static void local_one(void *ctx, const deliver_rcpt *rcpt, mailbox_result *res)
{
    struct local_job *m = ctx;

    (void) local_deliver_rcpt(m->conf, &m->msg, rcpt->address, rcpt->orig, res);
}

/* local_serve: one delivery request. */
static void local_serve(mail_server *srv, stream *client)
{
    struct local_job job;
    deliver_agent *a;

    if ((a = deliver_agent_read(client, LOCAL_RELAY)) == NULL)
        return;
    if (deliver_agent_open_queue(a, LOCAL_RECORD_MAX) == 0) {
        memset(&job, 0, sizeof(job));
        job.conf = mail_server_ctx(srv);
        job.msg.queue_id = a->req->queue_id;
        job.msg.sender = a->req->sender;
        job.msg.arrival_time = a->req->arrival_time;
        job.msg.content = &a->content;
        job.msg.delivered_to = a->delivered_to;
        (void) deliver_agent_each(a, local_one, &job);
    }
    (void) deliver_agent_done(a);
    a = deliver_agent_free(a);
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
