/*
 * discard: the discard delivery agent (discard(8)).
 *
 * A mail_server in single-client mode. Each client is qmgr with one
 * delivery request (lib/mail/deliver_request). The agent reports every
 * recipient delivered without looking at the message, and logs the
 * Postfix line "to=<..>, relay=none, ..., dsn=2.0.0, status=sent (TEXT)"
 * for each. TEXT is the request's nexthop ("discard:silently" in a
 * transport table gives "silently"), or "discarded" when it is empty; a
 * leading 2.x.y status in it becomes the DSN status.
 *
 * Public functions: none (main only).
 *
 * SECURITY: runs as mail_owner; reads only the request from qmgr
 * (read and checked through deliver_agent) and never opens the queue
 * file.
 * Control characters in the nexthop text are replaced before it is
 * logged or reported.
 * LIMITS: those of deliver_request (DELIVER_RCPT_MAX recipients,
 * DELIVER_TEXT_MAX bytes of nexthop text); ipc_timeout per read.
 */
#include <string.h>

#include "deliver_agent.h"
#include "dsn_text.h"
#include "mail_server.h"
#include "msg.h"
#include "strbuf.h"

#define DISCARD_RELAY       "none"
#define DISCARD_TEXT        "discarded"

/* discard_serve: answer one delivery request. */
static void discard_serve(mail_server *srv, stream *client)
{
    strbuf *dsn;
    strbuf *reason;
    deliver_agent *a;

    (void) srv;
    if ((a = deliver_agent_read(client, DISCARD_RELAY)) == NULL)
        return;
    dsn = strbuf_new(16);
    reason = strbuf_new(128);
    (void) dsn_text_split(a->req->nexthop, "2.0.0", "2", dsn, reason);
    if (reason->len == 0)
        (void) strbuf_puts(reason, DISCARD_TEXT);
    if (deliver_agent_report_all(a, DELIVER_STAT_OK, dsn->data, reason->data) == 0)
        (void) deliver_agent_done(a);
    a = deliver_agent_free(a);
    strbuf_free(dsn);
    strbuf_free(reason);
}

/* main: hand the service to the skeleton. */
int     main(int argc, char **argv)
{
    mail_server_desc desc;

    memset(&desc, 0, sizeof(desc));
    desc.name = "discard";
    desc.mode = MAIL_SERVER_SINGLE;
    desc.conn = discard_serve;
    mail_server_main(argc, argv, &desc);
}
