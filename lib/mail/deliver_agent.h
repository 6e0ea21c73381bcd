/*
 * deliver_agent: what every delivery agent (local, virtual, error,
 * discard) does around one delivery request: read it, open the queue
 * file it names, report recipients (log line + result to qmgr), and send
 * the final message. The agent supplies only the per-recipient decision.
 *
 *   deliver_agent_read(client, relay): read one request (ipc_timeout per
 *     read). NULL (after a warning) when the request was bad.
 *   deliver_agent_open_queue(a, max_record): open active/ID and read its
 *     envelope and header; -1 after every recipient was deferred.
 *   deliver_agent_report(a, rcpt, status, dsn, reason): one recipient.
 *   deliver_agent_report_all(a, status, dsn, reason): every recipient
 *     not reported yet, with one outcome.
 *   deliver_agent_each(a, fn, ctx): fn decides each recipient not
 *     reported yet; each outcome is reported at once.
 *   deliver_agent_done(a): the final message (not after a lost connection).
 *   deliver_agent_free(a): release everything; returns NULL.
 *
 * See deliver_agent.c for the full contracts.
 */
#ifndef POSTERN_DELIVER_AGENT_H
#define POSTERN_DELIVER_AGENT_H

#include <stddef.h>

#include "deliver_request.h"
#include "htable.h"
#include "mailbox.h"
#include "qfile.h"
#include "stream.h"

/* Outcome of a queue file that cannot be used: defer, never bounce. */
#define DELIVER_AGENT_DSN_QFILE "4.3.0"

/* One request in the agent's hands. Read the public part only. */
typedef struct deliver_agent {
    deliver_request *req;               /* the checked request */
    stream *client;                     /* qmgr (borrowed) */
    const char *relay;                  /* relay= of every report (borrowed) */
    int     lost;                       /* the connection to qmgr is gone */
    /* Valid after deliver_agent_open_queue returned 0: */
    mailbox_content content;            /* the message, readable again */
    htable *delivered_to;               /* Delivered-To: values of the header */
    /* Private: */
    char   *reported;                   /* one flag per recipient */
    int     fd;
    qfile_reader *rd;
    qfile_envelope *env;
} deliver_agent;

/* Decides one recipient's outcome into res (mailbox_result_set). */
typedef void (*deliver_agent_fn) (void *ctx, const deliver_rcpt *rcpt,
                                  mailbox_result *res);

deliver_agent *deliver_agent_read(stream *client, const char *relay);
int     deliver_agent_open_queue(deliver_agent *a, size_t max_record);
int     deliver_agent_report(deliver_agent *a, const deliver_rcpt *rcpt,
                             int status, const char *dsn, const char *reason);
int     deliver_agent_report_all(deliver_agent *a, int status, const char *dsn,
                                 const char *reason);
int     deliver_agent_each(deliver_agent *a, deliver_agent_fn fn, void *ctx);
int     deliver_agent_done(deliver_agent *a);
deliver_agent *deliver_agent_free(deliver_agent *a);

#endif
