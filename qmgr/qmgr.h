/*
 * qmgr: private interfaces between the queue manager's files.
 *
 * qmgr.c          main, configuration, triggers, timers, directory scans,
 *                 the list of messages waiting for activation, and the
 *                 pump that activates them within the memory limits.
 * qmgr_message.c  one message: activate, read recipients in slices,
 *                 resolve them, record results, forced expiry, notices
 *                 (bounce, delay), then remove or defer.
 * qmgr_sched.c    transports and destination queues: concurrency windows
 *                 with feedback, dead destinations, recipient batching,
 *                 round-robin scheduling, and the asynchronous delivery
 *                 requests (deliver_client).
 */
#ifndef POSTERN_QMGR_H
#define POSTERN_QMGR_H

#include <stddef.h>
#include <sys/types.h>

#include "event.h"
#include "strbuf.h"

/* Configuration, read once in post_init (see qmgr.c). */
typedef struct qmgr_config {
    long    min_backoff;                /* seconds */
    long    max_backoff;
    long    max_lifetime;
    long    bounce_lifetime;
    long    active_limit;               /* messages in memory */
    long    rcpt_limit;                 /* recipients in memory */
    long    run_delay;
    long    clog_warn_time;
    int     ipc_timeout_ms;             /* per delivery request wait */
    int     soft_bounce;
    long    default_process_limit;
} qmgr_config;

extern qmgr_config qmgr_conf;

typedef struct qmgr_msg qmgr_msg;
typedef struct qmgr_queue qmgr_queue;

/* One recipient in memory (from the queue file, resolved). */
typedef struct qmgr_rcpt {
    qmgr_msg *msg;
    char   *address;                    /* resolved recipient (sent) */
    char   *orig;                       /* original recipient, or NULL */
    char   *orcpt;                      /* DSN ORCPT, or NULL */
    int     notify;
    long    offset;                     /* R record offset */
    int     reported;                   /* a result was recorded */
} qmgr_rcpt;

/* The daemon's event loop (for timers in qmgr_sched.c). */
event_loop *qmgr_loop(void);

/* qmgr.c: ask for a pump run (activation, refills, scheduling) soon. */
void    qmgr_pump_soon(void);

/* qmgr_message.c */
int     qmgr_msg_activate(const char *from_queue, const char *id);
int     qmgr_msg_refill_waiting(void);
int     qmgr_msg_is_active(const char *id);
void    qmgr_msg_ref(qmgr_msg *m);
void    qmgr_msg_unref(qmgr_msg *m);
void    qmgr_msg_record(qmgr_rcpt *r, int status, const char *dsn,
                        const char *relay, const char *reason);
void    qmgr_msg_defer_now(qmgr_rcpt *r, const char *dsn, const char *reason);
void    qmgr_msg_bounce_now(qmgr_rcpt *r, const char *dsn, const char *reason);
qmgr_rcpt *qmgr_rcpt_done(qmgr_rcpt *r);
void    qmgr_msg_req_fields(const qmgr_msg *m, const char **id,
                            long *content_offset, long *size,
                            const char **sender, const char **envid,
                            int *ret, long *arrival);
long    qmgr_msg_count(void);
long    qmgr_rcpt_count(void);
long    qmgr_backoff(long age);

/* qmgr_sched.c */
void    qmgr_sched_init(void);
void    qmgr_sched_enqueue(qmgr_rcpt *r, const char *transport,
                           const char *nexthop);
void    qmgr_sched_run(void);
void    qmgr_sched_flush(void);

#endif
