/*
 * qmgr: private interfaces between the queue manager's files.
 *
 * qmgr.c          main, trigger handling, timers, the work list and the
 *                 directory scans.
 * qmgr_message.c  one message: activate, read, resolve, deliver, record,
 *                 bounce, then remove or defer.
 */
#ifndef POSTERN_QMGR_H
#define POSTERN_QMGR_H

#include <stddef.h>

#include "strbuf.h"

/* Configuration, read once in post_init (see qmgr.c). */
typedef struct qmgr_config {
    char  **mydestination;              /* lower-case domains */
    size_t  nmydestination;
    char   *local_transport;            /* "local" */
    char   *local_nexthop;              /* "$myhostname" */
    char   *default_transport;          /* "smtp" */
    char   *default_nexthop;            /* "" = the recipient's domain */
    char   *relayhost;
    long    min_backoff;                /* seconds */
    long    max_backoff;
    long    max_lifetime;
    long    bounce_lifetime;
    long    active_limit;
    long    run_delay;
} qmgr_config;

extern qmgr_config qmgr_conf;

/* Outcome of qmgr_message_run. */
#define QMGR_MSG_GONE       0           /* removed, corrupt or vanished */
#define QMGR_MSG_DEFERRED   1           /* moved to deferred/ */

int     qmgr_message_run(const char *from_queue, const char *id);
void    qmgr_resolve(const char *address, strbuf *transport, strbuf *nexthop);
long    qmgr_backoff(long age);

#endif
