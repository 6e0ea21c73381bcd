/*
 * bounce_client: the bounce protocol, client and server side (qmgr asks
 * the bounce daemon for non-delivery notifications).
 *
 * Conversation on private/bounce (below queue_directory):
 *   server: protocol=bounce_protocol
 *   client: request=bounce queue_name=NAME queue_id=ID sender=ADDR
 *           [envelope_id=ENVID] [ret_flags=FULL|HDRS] flags=N
 *   server: status=0, or status=4 reason=TEXT (try again later)
 *
 * request=bounce: send one non-delivery notification for the recipients
 * logged in bounce/ID (lib/mail/bounce_log) about the message in
 * queue_name/ID. status=0 means "done" (a notice is queued, or none was
 * due); qmgr may then remove bounce/ID with the message.
 *
 * request=delay: send one delay warning (RFC 3464, Action: delayed) for
 * the recipients logged in defer/ID, to the sender (never for the null
 * sender; only recipients whose NOTIFY allows it). status=0 means done
 * (sent, or nothing due); defer/ID stays (later attempts append to it).
 *
 * Client: bounce_request (connects by itself) or bounce_request_stream
 * (on a stream the caller opened; tests). Server: bounce_request_read
 * and bounce_reply. See bounce_client.c for the full contracts.
 */
#ifndef POSTERN_BOUNCE_CLIENT_H
#define POSTERN_BOUNCE_CLIENT_H

#include "attr.h"
#include "stream.h"
#include "strbuf.h"

/* Service socket, relative to queue_directory. */
#define BOUNCE_SERVICE          "private/bounce"

/* Values of request=. */
#define BOUNCE_REQ_BOUNCE       "bounce"
#define BOUNCE_REQ_DELAY        "delay"

/* Values of ret_flags= (same words as the queue file's RET record). */
#define BOUNCE_RET_FULL         "FULL"
#define BOUNCE_RET_HDRS         "HDRS"

/* Reply status. */
#define BOUNCE_STAT_OK          0
#define BOUNCE_STAT_DEFER       4

/* Request flags (flags=); none defined yet, others must be 0. */
#define BOUNCE_F_MASK           0

/* A request as the server reads it; strings point into the attr_list
 * given to bounce_request_read and live as long as it. */
typedef struct bounce_req {
    const char *request;                /* BOUNCE_REQ_* */
    const char *queue_name;             /* e.g. "active": a plain name */
    const char *queue_id;               /* mail_queue_id_ok() */
    const char *sender;                 /* "" = null sender */
    const char *envid;                  /* NULL when absent */
    int     ret;                        /* enum qfile_ret value */
    long    flags;                      /* BOUNCE_F_* */
} bounce_req;

/* Client. ret is an enum qfile_ret value (QFILE_RET_NONE/FULL/HDRS). */
int     bounce_request(const char *queue_name, const char *id,
                       const char *sender, const char *envid, int ret,
                       int flags, strbuf *reason);
int     bounce_request_stream(stream *s, const char *queue_name,
                              const char *id, const char *sender,
                              const char *envid, int ret, int flags,
                              strbuf *reason);
int     bounce_delay_request(const char *queue_name, const char *id,
                             const char *sender, const char *envid, int ret,
                             int flags, strbuf *reason);
int     bounce_delay_request_stream(stream *s, const char *queue_name,
                                    const char *id, const char *sender,
                                    const char *envid, int ret, int flags,
                                    strbuf *reason);

/* Server. */
int     bounce_request_read(stream *s, attr_list *list, bounce_req *req,
                            strbuf *err);
int     bounce_reply(stream *s, int status, const char *reason);

#endif
