/*
 * smtp: private interfaces of the SMTP/LMTP delivery agent.
 *
 *   smtp.c          main, configuration, one delivery request
 *   smtp_connect.c  the walk over addresses: connect, cached sessions,
 *                   fallback relays, session limits
 *   smtp_proto.c    one session: greeting, EHLO/HELO/LHLO, the mail
 *                   transaction (with PIPELINING), content, QUIT/RSET
 *   smtp_tls.c      TLS: configuration, smtp_tls_policy_maps, STARTTLS
 *                   and wrapper mode
 *   smtp_sasl.c     SASL: smtp_sasl_password_maps and the AUTH exchange
 */
#ifndef POSTERN_SMTP_PRIV_H
#define POSTERN_SMTP_PRIV_H

#include <stddef.h>
#include <time.h>

#include "deliver_request.h"
#include "maps.h"
#include "qfile.h"
#include "smtp_addr.h"
#include "smtp_reply.h"
#include "stream.h"
#include "strbuf.h"
#include "tls.h"

#define SMTP_RECORD_MAX     (1 << 20)   /* queue-file record limit */
#define SMTP_RELAY_MAX      (SMTP_ADDR_HOST_MAX + SMTP_ADDR_TEXT_MAX + 16)
#define SMTP_LABEL_MAX      512         /* connection cache labels */

/* Process configuration, read once in post_init. Timeouts in ms, -1 = none. */
typedef struct smtp_config {
    int     lmtp;                       /* service name is "lmtp" */
    const char *service;                /* master.cf service name */
    const char *proto;                  /* "SMTP" or "LMTP" for messages */
    int     default_port;               /* 25 or 24 */
    const char *helo_name;
    const char *bind_address;
    const char *myhostname;
    int     connect_ms;
    int     helo_ms;
    int     mail_ms;
    int     rcpt_ms;
    int     data_init_ms;
    int     data_xfer_ms;
    int     data_done_ms;
    int     quit_ms;
    int     rset_ms;
    int     skip_5xx_greeting;
    int     never_ehlo;
    int     always_ehlo;
    int     smtputf8_enable;
    long    line_limit;                 /* 0 = none */
    int     session_limit;              /* 0 = none */
    int     cache_on_demand;
    long    cache_time_limit;           /* seconds */
    long    reuse_time_limit;           /* seconds */
    const char *const *fallback;        /* smtp_fallback_relay */
    size_t  nfallback;
    smtp_addr_resolver *resolver;       /* with its per-process cache */
    /* TLS (smtp_tls_*; never for LMTP). */
    int     tls_level;                  /* enum tls_level: the default */
    tls_ctx *tls_opp;                   /* smtp_tls_protocols (may) */
    tls_ctx *tls_mand;                  /* smtp_tls_mandatory_* (encrypt+) */
    char   *tls_error;                  /* why a context is missing, or NULL */
    maps   *tls_policy;                 /* smtp_tls_policy_maps, or NULL */
    const char *tls_servername;
    int     tls_wrapper;
    int     tls_loglevel;
    int     starttls_ms;
    const char *tls_verify_match;       /* names, ':' separated */
    const char *tls_secure_match;
    /* SASL (smtp_sasl_*; never for LMTP). */
    int     sasl_enable;
    maps   *sasl_passwd;
    int     sasl_flags;                 /* SASL_CLIENT_* without TLS */
    int     sasl_tls_flags;             /* ... under TLS */
    const char *sasl_filter;
} smtp_config;

/* The TLS policy for one delivery request. */
typedef struct smtp_tls_policy {
    int     level;                      /* enum tls_level */
    char   *match;                      /* names or keywords, ':' separated,
                                         * or NULL for the level's default */
    tls_ctx *own_ctx;                   /* made for protocols=, or NULL */
    char    nexthop[SMTP_ADDR_HOST_MAX];/* the nexthop's host, no brackets */
} smtp_tls_policy;

/* Per recipient, while a request is worked on. */
typedef struct smtp_rcpt {
    deliver_rcpt *r;                    /* the request's recipient */
    int     done;                       /* a final result was decided */
    int     reported;                   /* ... and sent to qmgr */
    int     status;                     /* DELIVER_STAT_xxx when done */
    char    dsn[12];
    strbuf *reason;                     /* final reason, or the last soft one */
    char    relay[SMTP_RELAY_MAX];
    int     accepted;                   /* RCPT accepted in this transaction */
    int     again;                      /* "452 too many recipients": send
                                         * in another transaction */
} smtp_rcpt;

/* One delivery request. */
typedef struct smtp_state {
    const smtp_config *conf;
    deliver_request *req;
    stream *client;                     /* to qmgr */
    qfile_reader *rd;
    qfile_envelope *env;
    long    qflags;                     /* QFILE_FLAG_xxx of the queue file */
    long    size;                       /* message size for SIZE= */
    int     has_8bit;                   /* content has 8-bit bytes: -1 unknown */
    smtp_rcpt *rcpts;
    size_t  nrcpts;
    size_t  npending;                   /* recipients without a result */
    char    dest_label[SMTP_LABEL_MAX]; /* for the connection cache */
    int     sessions;                   /* established in this phase */
    int     any_session;                /* some session got past EHLO */
    int     site_status;                /* 0, or 4: the site failed */
    strbuf *site_reason;                /* why, for qmgr */
    char    site_dsn[12];
    int     final_server;               /* the current server is the last */
    int     again_only;                 /* next transaction: rcpt->again only */
    smtp_tls_policy tls;                /* for this request's nexthop */
} smtp_state;

/* One session with a server. */
typedef struct smtp_session {
    stream *s;
    int     fd;
    const smtp_addr_entry *addr;
    char    host[SMTP_ADDR_HOST_MAX];
    char    relay[SMTP_RELAY_MAX];      /* host[addr]:port */
    char    endp_label[SMTP_LABEL_MAX];
    smtp_ehlo ehlo;
    int     esmtp;                      /* EHLO/LHLO worked */
    smtp_reply *reply;
    strbuf *line;
    strbuf *cmd;
    strbuf *text;                       /* scratch: one-line reply text */
    time_t  start;                      /* when the session was set up */
    int     reuse;                      /* transactions done before this one */
    int     cached;                     /* came from the connection cache */
    int     good;                       /* ready for another MAIL FROM */
    int     broken;                     /* I/O failed or the server is out
                                         * of step: no QUIT, no reuse */
    tls_sess *tls;                      /* TLS is active */
    int     authed;                     /* SASL AUTH succeeded */
    int     secret_cmd;                 /* the next command holds secrets:
                                         * not in the -v log */
    strbuf *auth_mechs;                 /* the server's AUTH list */
} smtp_session;

/* smtp.c */
void    smtp_rcpt_final(smtp_state *st, smtp_rcpt *rc, int status, const char *dsn,
                        const char *relay, const char *reason);
void    smtp_rcpt_soft(smtp_state *st, smtp_rcpt *rc, const char *dsn,
                       const char *relay, const char *reason);
void    smtp_report_done(smtp_state *st);

/* smtp_connect.c */
void    smtp_connect_deliver(smtp_state *st, const smtp_nexthop *nh);

/* smtp_proto.c */
smtp_session *smtp_session_new(int fd, const smtp_addr_entry *addr, const char *host);
smtp_session *smtp_session_free(smtp_session *sess);
int     smtp_session_handshake(smtp_state *st, smtp_session *sess);
int     smtp_session_deliver(smtp_state *st, smtp_session *sess);
void    smtp_session_quit(smtp_state *st, smtp_session *sess);
int     smtp_session_rset(smtp_state *st, smtp_session *sess);
int     smtp_send(smtp_session *sess, int ms, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int     smtp_get_reply(smtp_session *sess, int ms, const char *doing, strbuf *why);
void    smtp_said(smtp_session *sess, const char *what, strbuf *out);
void    smtp_io_reason(smtp_session *sess, const char *doing, strbuf *why);
void    smtp_site_fail(smtp_state *st, const char *dsn, const char *reason);

/* smtp_tls.c */
void    smtp_tls_init(smtp_config *conf);
int     smtp_tls_policy_find(smtp_state *st, const smtp_nexthop *nh, strbuf *why);
void    smtp_tls_policy_done(smtp_state *st);
int     smtp_tls_use_cache(const smtp_state *st);
int     smtp_tls_wrap(smtp_state *st, smtp_session *sess);
int     smtp_tls_starttls(smtp_state *st, smtp_session *sess, int *restart);

/* smtp_sasl.c */
void    smtp_sasl_init(smtp_config *conf);
void    smtp_sasl_ehlo(smtp_session *sess);
int     smtp_sasl_auth(smtp_state *st, smtp_session *sess);

/* Results of smtp_session_handshake and smtp_session_deliver. */
#define SMTP_SESS_OK        0           /* go on with this session */
#define SMTP_SESS_NEXT      1           /* try the next server */
#define SMTP_SESS_STOP      2           /* nothing more to do (all final) */

#endif
