/*
 * error: the error and retry delivery agents (error(8)).
 *
 * A mail_server in single-client mode. Each client is qmgr with one
 * delivery request (lib/mail/deliver_request). The agent makes no
 * delivery attempt: it reports every recipient of the request with the
 * outcome its nexthop describes, logs the Postfix line for each
 * (relay=none), and sends the final message.
 *
 * Two master.cf services run this program; the service name decides:
 *   error  (any name but "retry") bounces every recipient. The nexthop
 *          is the reason, optionally led by an RFC 3463 status:
 *          "5.1.1 User unknown" -> dsn 5.1.1, reason "User unknown";
 *          "gone away" -> dsn 5.0.0. A leading 4.x.y status defers
 *          instead (a temporary failure is never turned into a bounce).
 *          An empty nexthop gives "5.0.0 delivery is disabled".
 *   retry  defers every recipient: a leading 4.x.y status is kept, a
 *          5.x.y one becomes 4.x.y, none gives 4.0.0; an empty nexthop
 *          gives "4.0.0 delivery is temporarily disabled".
 *
 * Public functions: none (main only).
 *
 * SECURITY: runs as mail_owner; reads only the request from qmgr
 * (read and checked through deliver_agent) and never opens the queue
 * file. The nexthop text comes from main.cf or a table through qmgr; control
 * characters in it are replaced before it is logged or reported.
 * LIMITS: those of deliver_request (DELIVER_RCPT_MAX recipients,
 * DELIVER_TEXT_MAX bytes of nexthop text); ipc_timeout per read.
 */
#include <string.h>

#include "deliver_agent.h"
#include "dsn_text.h"
#include "mail_server.h"
#include "msg.h"
#include "param.h"
#include "strbuf.h"

#define ERROR_SERVICE_RETRY "retry"     /* master.cf name of the defer flavour */
#define ERROR_RELAY         "none"
#define ERROR_TEXT_BOUNCE   "delivery is disabled"
#define ERROR_TEXT_DEFER    "delivery is temporarily disabled"

/* error_outcome: status, dsn and reason for a request's nexthop. */
static int error_outcome(int retry, const char *nexthop, strbuf *dsn,
                         strbuf *reason)
{
    int     status;

    (void) dsn_text_split(nexthop, retry ? "4.0.0" : "5.0.0", "45", dsn, reason);
    if (retry) {
        dsn->data[0] = '4';
        status = DELIVER_STAT_DEFER;
    } else {
        status = dsn->data[0] == '4' ? DELIVER_STAT_DEFER : DELIVER_STAT_BOUNCE;
    }
    if (reason->len == 0)
        (void) strbuf_puts(reason, retry ? ERROR_TEXT_DEFER : ERROR_TEXT_BOUNCE);
    return status;
}

/* error_serve: answer one delivery request. */
static void error_serve(mail_server *srv, stream *client)
{
    const char *service = mail_server_service(srv);
    int     retry = service != NULL && strcmp(service, ERROR_SERVICE_RETRY) == 0;
    strbuf *dsn;
    strbuf *reason;
    deliver_agent *a;
    int     status;

    if ((a = deliver_agent_read(client, ERROR_RELAY)) == NULL)
        return;
    dsn = strbuf_new(16);
    reason = strbuf_new(128);
    status = error_outcome(retry, a->req->nexthop, dsn, reason);
    if (deliver_agent_report_all(a, status, dsn->data, reason->data) == 0)
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
    desc.name = "error";
    desc.mode = MAIL_SERVER_SINGLE;
    desc.conn = error_serve;
    mail_server_main(argc, argv, &desc);
}
