/*
 * virtual: the virtual mailbox delivery agent (virtual(8)).
 *
 * A mail_server in single-client mode on private/virtual. Each client is
 * qmgr with one delivery request. lib/mail/deliver_agent reads it, opens
 * active/ID read-only, reads the envelope and scans the header for
 * Delivered-To: (loop detection); for each recipient the agent runs
 * virtual_deliver_rcpt (virtual_deliver.c) and deliver_agent reports the
 * result and logs the Postfix "to=<...>, relay=virtual, ... status=..."
 * line. Then the final message.
 *
 * Public functions: none (main only). The configuration
 * (virtual_mailbox_maps, virtual_uid_maps, virtual_gid_maps,
 * virtual_mailbox_base, virtual_minimum_uid, virtual_mailbox_limit,
 * virtual_mailbox_lock, recipient_delimiter) is loaded once in
 * post_init into the struct handed to the handler; a bad
 * virtual_mailbox_lock is a fatal configuration error.
 *
 * SECURITY: runs as root in a privileged instance (master.cf unpriv=n)
 * and touches mailboxes only with the ids from virtual_uid_maps and
 * virtual_gid_maps (recip_priv), never as root. The request comes from
 * qmgr and the queue file is opened and parsed strictly by deliver_agent;
 * an unreadable file defers every recipient.
 * LIMITS: VIRTUAL_RECORD_MAX bytes per queue-file record; those of
 * deliver_request; see virtual_deliver.c for the path bounds.
 */
#include <string.h>
#include <strings.h>

#include "deliver_agent.h"
#include "htable.h"
#include "mail_server.h"
#include "mailbox.h"
#include "maps.h"
#include "mem.h"
#include "msg.h"
#include "param.h"
#include "param_names.h"
#include "strbuf.h"
#include "strutil.h"
#include "virtual.h"

#define VIRTUAL_RECORD_MAX  (1 << 20)
#define VIRTUAL_RELAY       "virtual"

/* virtual_post_init: load the configuration once. */
static void virtual_post_init(mail_server *srv)
{
    virtual_config *conf = mail_server_ctx(srv);

    conf->mailbox_maps = maps_open(PARAM_VIRTUAL_MAILBOX_MAPS,
                                   param_str(PARAM_VIRTUAL_MAILBOX_MAPS), DICT_F_FOLD);
    conf->uid_maps = maps_open(PARAM_VIRTUAL_UID_MAPS, param_str(PARAM_VIRTUAL_UID_MAPS),
                               DICT_F_FOLD);
    conf->gid_maps = maps_open(PARAM_VIRTUAL_GID_MAPS, param_str(PARAM_VIRTUAL_GID_MAPS),
                               DICT_F_FOLD);
    conf->base = param_str(PARAM_VIRTUAL_MAILBOX_BASE);
    conf->delimiters = param_str(PARAM_RECIPIENT_DELIMITER);
    conf->minimum_uid = param_int(PARAM_VIRTUAL_MINIMUM_UID);
    conf->mailbox_limit = (off_t) param_size(PARAM_VIRTUAL_MAILBOX_LIMIT);
    conf->lock_flags = mailbox_lock_flags(PARAM_VIRTUAL_MAILBOX_LOCK);
    if (*conf->base == 0)
        msg_warn("%s is not set: every delivery is deferred", PARAM_VIRTUAL_MAILBOX_BASE);
}

/* One request's message, for virtual_one. */
struct virtual_job {
    virtual_config *conf;
    virtual_message msg;
};

/* virtual_one: deliver_agent_fn that delivers to one recipient. */
static void virtual_one(void *ctx, const deliver_rcpt *rcpt, mailbox_result *res)
{
    struct virtual_job *m = ctx;

    (void) virtual_deliver_rcpt(m->conf, &m->msg, rcpt->address, res);
}

/* virtual_serve: one delivery request. */
static void virtual_serve(mail_server *srv, stream *client)
{
    struct virtual_job job;
    deliver_agent *a;

    if ((a = deliver_agent_read(client, VIRTUAL_RELAY)) == NULL)
        return;
    if (deliver_agent_open_queue(a, VIRTUAL_RECORD_MAX) == 0) {
        memset(&job, 0, sizeof(job));
        job.conf = mail_server_ctx(srv);
        job.msg.queue_id = a->req->queue_id;
        job.msg.sender = a->req->sender;
        job.msg.arrival_time = a->req->arrival_time;
        job.msg.content = &a->content;
        job.msg.delivered_to = a->delivered_to;
        (void) deliver_agent_each(a, virtual_one, &job);
    }
    (void) deliver_agent_done(a);
    a = deliver_agent_free(a);
}

/* main: hand the service to the skeleton. */
int     main(int argc, char **argv)
{
    static virtual_config conf;
    mail_server_desc desc;

    memset(&desc, 0, sizeof(desc));
    desc.name = "virtual";
    desc.mode = MAIL_SERVER_SINGLE;
    desc.post_init = virtual_post_init;
    desc.conn = virtual_serve;
    desc.ctx = &conf;
    mail_server_main(argc, argv, &desc);
}
