/*
 * anvil_client: the anvil protocol (smtpd -> anvil, the shared counter
 * service) and the per-client limits smtpd enforces with it.
 *
 * anvil keeps, per (service, client address), the number of concurrent
 * connections and the number of connections, messages and recipients
 * seen in the current anvil_rate_time_unit window, so limits hold across
 * all smtpd processes.
 *
 * Conversation on private/anvil (below queue_directory); one connection
 * carries any number of requests:
 *   server: protocol=anvil_protocol
 *   client: request=connect|disconnect|message|rcpt|lookup
 *           service=NAME client=ADDR
 *   server: status=0 count=N rate=N          (connect, lookup: rate is the
 *                                             connection rate)
 *           status=0 rate=N                  (message, rcpt: that rate)
 *           status=0                         (disconnect)
 *           status=1 reason=TEXT             (bad request)
 *   lookup also answers message_rate=N recipient_rate=N.
 *
 * Client: anvil_open() connects lazily on first use; when anvil is
 * unavailable every call answers "no limit" (ANVIL_FAIL, outputs 0) and
 * the failure is logged once per client object: a missing anvil never
 * blocks mail. The connection is retried at most every ANVIL_RETRY_SECS.
 *
 * Limits (smtpd): an anvil_limits holds the four smtpd_client_*_limit
 * values and the smtpd_client_event_limit_exceptions list; an
 * anvil_session ties one SMTP connection to anvil and answers, at each
 * event, whether a limit was passed and the reply smtpd must send:
 *   connection count / rate  421 4.7.0 HOST Error: too many connections from ADDR
 *   message rate             452 4.3.2 Error: too much mail from ADDR
 *   recipient rate           452 4.3.2 Error: too many recipients from ADDR
 * (421: smtpd ends the session after the reply.)
 *
 * See anvil_client.c for the full contracts.
 */
#ifndef POSTERN_ANVIL_CLIENT_H
#define POSTERN_ANVIL_CLIENT_H

#include "strbuf.h"

/* Service socket, relative to queue_directory. */
#define ANVIL_SERVICE           "private/anvil"

/* Values of request=. */
#define ANVIL_REQ_CONNECT       "connect"
#define ANVIL_REQ_DISCONNECT    "disconnect"
#define ANVIL_REQ_MESSAGE       "message"
#define ANVIL_REQ_RCPT          "rcpt"
#define ANVIL_REQ_LOOKUP        "lookup"

/* Reply status= values. */
#define ANVIL_STAT_OK           0
#define ANVIL_STAT_FAIL         1

/* Client results. */
#define ANVIL_OK                0       /* counters returned */
#define ANVIL_FAIL              (-1)    /* no answer: treat as "no limit" */

/* Seconds between reconnect attempts after a failure. */
#define ANVIL_RETRY_SECS        10

/* Longest service name and client address a request may carry. */
#define ANVIL_SERVICE_MAX       100
#define ANVIL_ADDR_MAX          100

typedef struct anvil_client anvil_client;

/* What lookup returns. */
typedef struct anvil_counts {
    long    count;                      /* concurrent connections */
    long    conn_rate;                  /* connections in this window */
    long    msg_rate;                   /* messages in this window */
    long    rcpt_rate;                  /* recipients in this window */
} anvil_counts;

anvil_client *anvil_open(void);
anvil_client *anvil_open_path(const char *path, int timeout_ms);
anvil_client *anvil_close(anvil_client *client);
int     anvil_connect(anvil_client *client, const char *service,
                      const char *addr, long *count, long *rate);
int     anvil_disconnect(anvil_client *client, const char *service,
                         const char *addr);
int     anvil_message(anvil_client *client, const char *service,
                      const char *addr, long *rate);
int     anvil_rcpt(anvil_client *client, const char *service,
                   const char *addr, long *rate);
int     anvil_lookup(anvil_client *client, const char *service,
                     const char *addr, anvil_counts *out);

/* Limits. */
enum anvil_event {
    ANVIL_EV_CONNECT = 1,               /* count = concurrency, rate = conn rate */
    ANVIL_EV_MESSAGE,                   /* rate = message rate */
    ANVIL_EV_RCPT                       /* rate = recipient rate */
};

/* anvil_limit_* results. */
#define ANVIL_LIMIT_OK          0       /* go on */
#define ANVIL_LIMIT_EXCEEDED    1       /* send *reply (and log done) */

typedef struct anvil_limits anvil_limits;

anvil_limits *anvil_limits_new(void);
anvil_limits *anvil_limits_free(anvil_limits *lim);
void    anvil_limits_set(anvil_limits *lim, long conn_count, long conn_rate,
                         long msg_rate, long rcpt_rate);
int     anvil_limits_set_exceptions(anvil_limits *lim, const char *list,
                                    strbuf *err);
int     anvil_limits_configure(anvil_limits *lim, strbuf *err);
int     anvil_limits_active(const anvil_limits *lim);
int     anvil_limits_exempt(const anvil_limits *lim, const char *addr);
int     anvil_limit_reply(const anvil_limits *lim, enum anvil_event event,
                          long count, long rate, const char *myhostname,
                          const char *addr, strbuf *reply);

/* One SMTP connection's view of the limits. */
typedef struct anvil_session anvil_session;

anvil_session *anvil_session_new(anvil_client *client,
                                 const anvil_limits *lim,
                                 const char *service,
                                 const char *client_name,
                                 const char *client_addr);
anvil_session *anvil_session_free(anvil_session *sess);
int     anvil_session_connect(anvil_session *sess, strbuf *reply);
int     anvil_session_message(anvil_session *sess, strbuf *reply);
int     anvil_session_rcpt(anvil_session *sess, strbuf *reply);

#endif
