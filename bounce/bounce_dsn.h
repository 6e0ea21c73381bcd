/*
 * bounce_dsn: what notices the bounce daemon sends for a failed message
 * (bounce_dsn_plan) and the text of each notice (bounce_dsn_compose), as
 * pure functions of in-memory inputs. See bounce_dsn.c for contracts.
 */
#ifndef POSTERN_BOUNCE_DSN_H
#define POSTERN_BOUNCE_DSN_H

#include <stddef.h>

#include "strbuf.h"

/* ENVID given to notices sent to the postmaster: when such a notice
 * fails in turn, it is only logged (no triple bounce). */
#define BOUNCE_DSN_ENVID_POSTMASTER "postern-postmaster-notice"

/* notify_classes bits this program acts on. */
#define BOUNCE_CLASS_BOUNCE     (1 << 0)        /* "bounce" */
#define BOUNCE_CLASS_2BOUNCE    (1 << 1)        /* "2bounce" */

/* bounce_dsn_plan result bits. */
#define BOUNCE_PLAN_SENDER      (1 << 0)        /* notice to the sender */
#define BOUNCE_PLAN_COPY        (1 << 1)        /* headers to bounce_notice_recipient */
#define BOUNCE_PLAN_2BOUNCE     (1 << 2)        /* notice to 2bounce_notice_recipient */
#define BOUNCE_PLAN_DISCARD     (1 << 3)        /* failed postmaster notice: log only */
#define BOUNCE_PLAN_NO_2BOUNCE  (1 << 4)        /* failed bounce, 2bounce class off */

/* Which notice is composed. */
enum bounce_dsn_kind {
    BOUNCE_DSN_SENDER = 1,              /* non-delivery notice to the sender */
    BOUNCE_DSN_COPY,                    /* postmaster copy, headers only */
    BOUNCE_DSN_2BOUNCE,                 /* undeliverable bounce, to postmaster */
    BOUNCE_DSN_DELAY                    /* delay warning to the sender */
};

/* One failed recipient (strings may be NULL unless noted). */
typedef struct bounce_dsn_rcpt {
    const char *recipient;              /* never NULL */
    const char *orig;                   /* original recipient */
    const char *orcpt;                  /* DSN ORCPT "type;address" */
    int     notify;                     /* QFILE_NOTIFY_* bits, 0 = not given */
    const char *dsn_status;             /* "5.1.1" */
    const char *reason;
    const char *relay;
    long    time;                       /* last attempt, 0 = unknown */
} bounce_dsn_rcpt;

/* The failed message and the notice to write about it. */
typedef struct bounce_dsn_msg {
    enum bounce_dsn_kind kind;
    const char *queue_id;               /* of the failed message */
    const char *sender;                 /* its envelope sender, "" = <> */
    const char *envid;                  /* its DSN ENVID, or NULL */
    int     ret;                        /* its DSN RET (enum qfile_ret) */
    long    arrival;                    /* its arrival time */
    const char *content;                /* its content (a prefix of it) */
    size_t  content_len;                /* bytes in content */
    long    content_size;               /* its whole size */
    const bounce_dsn_rcpt *rcpts;
    size_t  nrcpts;
    const char *notice_to;              /* the notice's recipient */
} bounce_dsn_msg;

/* Configuration and clock. */
typedef struct bounce_dsn_conf {
    const char *myhostname;
    const char *myorigin;               /* for unqualified header addresses */
    const char *mail_name;
    long    size_limit;                 /* bounce_size_limit */
    long    now;
} bounce_dsn_conf;

int     bounce_dsn_classes(const char *const *list, size_t count);
int     bounce_dsn_plan(const char *sender, const char *envid, int classes,
                        const char *double_bounce_sender,
                        const bounce_dsn_conf *conf);
int     bounce_dsn_wanted(const bounce_dsn_rcpt *rcpt);
int     bounce_dsn_delay_wanted(const bounce_dsn_rcpt *rcpt);
int     bounce_dsn_compose(const bounce_dsn_msg *msg,
                           const bounce_dsn_conf *conf, strbuf *out,
                           int *eightbit);
void    bounce_dsn_date(long when, strbuf *out);

#endif
