/*
 * showq_proto: the queue listing protocol between the showq daemon
 * (which may read the spool) and its clients (postqueue -p/-j, mailq,
 * sendmail -bp), both sides.
 *
 * Conversation on public/$showq_service_name (a UNIX stream socket):
 *   server: protocol=mail_queue_list_protocol
 *   server: for each message:
 *             queue_name=Q queue_id=ID arrival_time=SEC size=BYTES
 *             forced_expire=0|1 sender=ADDR recipient_count=N
 *           then N messages, one per pending recipient:
 *             recipient=ADDR [original_recipient=ADDR] [reason=TEXT]
 *   server: status=0 (end of the listing), or status=4 reason=TEXT (the
 *           listing stopped early: the client reports it)
 * The client sends nothing. An empty sender is the null sender.
 *
 * Server side: showq_proto_put_msg, showq_proto_put_end.
 * Client side: showq_proto_open, showq_proto_next (1 message, 0 end, -1
 * error), showq_proto_close; showq_proto_msg_clear frees what next put
 * in a message. See showq_proto.c for the contracts.
 */
#ifndef POSTERN_SHOWQ_PROTO_H
#define POSTERN_SHOWQ_PROTO_H

#include <stddef.h>

#include "stream.h"
#include "strbuf.h"

/* Bounds the client enforces. */
#define SHOWQ_PROTO_VALUE_MAX   8192    /* decoded bytes per value */
#define SHOWQ_PROTO_RCPT_MAX    1000000 /* recipients per message */
#define SHOWQ_PROTO_TIMEOUT_MS  60000   /* per read */

/* End status values. */
#define SHOWQ_STAT_OK       0
#define SHOWQ_STAT_FAIL     4

typedef struct showq_rcpt {
    char   *address;
    char   *orig;                       /* original recipient, or NULL */
    char   *reason;                     /* why it is delayed, or NULL */
} showq_rcpt;

typedef struct showq_msg {
    char   *queue_name;                 /* maildrop, incoming, active, ... */
    char   *queue_id;
    long    arrival_time;               /* seconds since the epoch */
    long    size;                       /* message size in bytes */
    int     forced_expire;              /* postsuper -e/-f mark */
    char   *sender;                     /* "" = null sender */
    showq_rcpt *rcpts;
    size_t  nrcpts;
} showq_msg;

typedef struct showq_proto showq_proto;

int     showq_proto_put_msg(stream *s, const showq_msg *msg);
int     showq_proto_put_end(stream *s, int status, const char *reason);

showq_proto *showq_proto_open(const char *service_path, strbuf *err);
showq_proto *showq_proto_stream(stream *s, strbuf *err);
int     showq_proto_next(showq_proto *c, showq_msg *msg, strbuf *err);
showq_proto *showq_proto_close(showq_proto *c);
void    showq_proto_msg_clear(showq_msg *msg);

#endif
