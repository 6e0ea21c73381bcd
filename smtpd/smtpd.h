/*
 * smtpd: private interface of the ESMTP server (smtpd/).
 *
 * Pieces:
 *   smtpd.c        main(): the mail_server descriptor, configuration
 *                  (smtpd_config filled once at load), the per-connection
 *                  handler that fills a session and runs it, and the real
 *                  hooks (cleanup_client, smtpd_check, anvil).
 *   smtpd_cmd.c    smtpd_cmd_parse(): the pure command-line parser.
 *   smtpd_proto.c  smtpd_proto_run(): the session state machine (one
 *                  client, one stream); replies, limits, commands.
 *   smtpd_data.c   DATA and BDAT content: the byte-level end-of-data
 *                  state machine (smtpd_data_sm) and the receivers.
 *
 * A session runs over any stream pair (a socket, a socketpair in tests,
 * a memory file in the fuzzer). Everything it asks of the outside world
 * goes through smtpd_hooks, so the fuzzer can run it without cleanup,
 * restriction engine or anvil.
 */
#ifndef POSTERN_SMTPD_H
#define POSTERN_SMTPD_H

#include <stddef.h>

#include "stream.h"
#include "strbuf.h"

/* Bounds. */
#define SMTPD_CMD_MAX        4096       /* command line incl. CRLF; longer: 500 */
#define SMTPD_RCPT_HARD_MAX  100000     /* absolute cap on smtpd_recipient_limit */
#define SMTPD_PARAMS_MAX     16         /* ESMTP parameters per MAIL/RCPT */
#define SMTPD_BDAT_MAX       (1024L * 1024L * 1024L)    /* one BDAT chunk */
#define SMTPD_DATA_PIECE     4096       /* bytes per content read */
#define SMTPD_FLUSH_AT       65536      /* content buffered before cleanup */

/* smtpd_forbid_bare_newline. */
enum smtpd_bare_nl {
    SMTPD_BARE_NL_NORMALIZE = 0,        /* bare LF ends a content line */
    SMTPD_BARE_NL_REJECT                /* yes/reject: 521 and disconnect */
};

/* Error classes of a session (notify_classes words). */
#define SMTPD_ERR_PROTOCOL   (1 << 0)   /* syntax, sequence, pipelining */
#define SMTPD_ERR_POLICY     (1 << 1)   /* a restriction or limit refused */
#define SMTPD_ERR_RESOURCE   (1 << 2)   /* queue or cleanup trouble */
#define SMTPD_ERR_SOFTWARE   (1 << 3)   /* an internal error */

/* Transcript bounds: bytes kept per line and in all. */
#define SMTPD_HISTORY_LINE_MAX 512
#define SMTPD_HISTORY_MAX      (256 * 1024)

/* EHLO keywords (bits of smtpd_config.ehlo_discard). */
#define SMTPD_EHLO_PIPELINING          (1 << 0)
#define SMTPD_EHLO_SIZE                (1 << 1)
#define SMTPD_EHLO_VRFY                (1 << 2)
#define SMTPD_EHLO_ETRN                (1 << 3)
#define SMTPD_EHLO_ENHANCEDSTATUSCODES (1 << 4)
#define SMTPD_EHLO_8BITMIME            (1 << 5)
#define SMTPD_EHLO_DSN                 (1 << 6)
#define SMTPD_EHLO_SMTPUTF8            (1 << 7)
#define SMTPD_EHLO_CHUNKING            (1 << 8)
#define SMTPD_EHLO_SILENT              (1 << 9)    /* "silent-discard" */
#define SMTPD_EHLO_STARTTLS            (1 << 10)
#define SMTPD_EHLO_AUTH                (1 << 11)

/* Configuration, filled once per process (smtpd.c post_init) or by tests. */
typedef struct smtpd_config {
    const char *myhostname;
    const char *banner;                 /* expanded smtpd_banner */
    long    message_size_limit;         /* 0 = unlimited */
    long    line_length_limit;
    long    recipient_limit;
    int     timeout_ms;                 /* smtpd_timeout */
    long    hard_error_limit;
    long    soft_error_limit;
    long    error_sleep_ms;
    long    junk_command_limit;
    long    history_flush_threshold;
    int     notify_mask;                /* SMTPD_ERR_* that mail a transcript */
    int     forbid_bare_newline;        /* enum smtpd_bare_nl */
    int     forbid_unauth_pipelining;
    int     disable_vrfy;
    int     helo_required;              /* smtpd_helo_required */
    int     ehlo_discard;               /* SMTPD_EHLO_* bits */
    int     tls_level;                  /* SMTPD_TLS_* */
    int     tls_wrappermode;            /* TLS at connect (port 465) */
    int     tls_auth_only;              /* AUTH only over TLS */
    int     sasl_enable;                /* smtpd_sasl_auth_enable */
    int     broken_sasl_clients;        /* also "AUTH=" in EHLO */
} smtpd_config;

/* smtpd_tls_security_level. */
#define SMTPD_TLS_NONE     0
#define SMTPD_TLS_MAY      1
#define SMTPD_TLS_ENCRYPT  2

/* Results of the auth hooks (same values as SASL_SERVER_*). */
#define SMTPD_AUTH_DONE      0          /* authenticated */
#define SMTPD_AUTH_CONTINUE  1          /* reply holds a base64 challenge */
#define SMTPD_AUTH_FAIL      2          /* reply holds the reason */
#define SMTPD_AUTH_BADARG    3          /* undecodable response */
#define SMTPD_AUTH_TEMP      4          /* temporary failure */

/* Longest AUTH response line, CRLF included (12 kB decoded as base64). */
#define SMTPD_AUTH_LINE_MAX  16400

typedef struct smtpd_session smtpd_session;

/* One recipient of the current transaction. */
typedef struct smtpd_rcpt {
    char   *addr;                       /* internal form */
    char   *orcpt;                      /* "rfc822;x@y" decoded, or NULL */
    int     notify;                     /* DSN notify bits, 0 = none */
} smtpd_rcpt;

/* Restriction stages for hooks->check. */
enum smtpd_stage {
    SMTPD_STAGE_CONNECT, SMTPD_STAGE_HELO, SMTPD_STAGE_MAIL,
    SMTPD_STAGE_RCPT, SMTPD_STAGE_DATA, SMTPD_STAGE_EOD, SMTPD_STAGE_ETRN
};

/* Verdicts of hooks->check (same values as SMTPD_CHECK_*). */
#define SMTPD_VERDICT_OK      0
#define SMTPD_VERDICT_REJECT  1
#define SMTPD_VERDICT_DEFER   2
#define SMTPD_VERDICT_DISCARD 3
#define SMTPD_VERDICT_HOLD    4

/*
 * Hooks: the outside world. Every function gets the session; ctx is
 * smtpd_hooks.ctx. A NULL hook means "no such service": check permits,
 * limits never apply, queue answers 451.
 *
 *   check(sess, stage, reply): restriction verdict; for REJECT/DEFER
 *     reply holds the full reply line (no CRLF).
 *   limit(sess, what, reply): anvil: what is "connect", "message",
 *     "rcpt"; returns 1 when the client is over a limit (reply holds the
 *     full reply line; a 421 ends the session), 0 otherwise.
 *   queue_open(sess, err) .. queue_finish: hand one message to cleanup.
 *     queue_open returns an opaque handle or NULL (err set: 451);
 *     queue_content appends LF-terminated content (0/-1);
 *     queue_finish returns 0 (queue_id set), 4/5 (reason starts with an
 *     enhanced code) or -1 (reason set; temporary); queue_abort drops
 *     the message (nothing is queued) and frees the handle. queue_finish
 *     also frees the handle.
 *   In smtpd_sec_hooks (below, sess->sec):
 *   starttls(sess, err): run the TLS handshake on the client's fd and
 *     make sess->client read and write through it; set sess->tls_summary.
 *     0, or -1 with err (the connection is then unusable). NULL: no TLS.
 *   auth_mechs(sess): the SASL mechanisms to offer now ("" or NULL:
 *     none). auth_begin(sess, mech, resp, len, reply) and
 *     auth_next(sess, resp, len, reply): one AUTH exchange step with the
 *     base64 response (resp NULL: no initial response); SMTPD_AUTH_*;
 *     on DONE the hook sets sess->sasl_method and sess->sasl_username.
 *     auth_reset(sess): forget the SASL state (after STARTTLS).
 *   notify(sess, transcript, len): at the end of a session whose
 *     error classes (sess->error_mask) meet cfg->notify_mask: mail the
 *     transcript ("In:  ..." / "Out: ..." lines, LF-terminated) to the
 *     postmaster.
 */
typedef struct smtpd_hooks {
    void   *ctx;
    int     (*check) (smtpd_session *sess, enum smtpd_stage stage,
                      strbuf *reply);
    int     (*limit) (smtpd_session *sess, const char *what, strbuf *reply);
    void   *(*queue_open) (smtpd_session *sess, strbuf *err);
    int     (*queue_content) (smtpd_session *sess, void *q, const char *buf,
                              size_t len);
    int     (*queue_finish) (smtpd_session *sess, void *q, strbuf *queue_id,
                             strbuf *reason);
    void    (*queue_abort) (smtpd_session *sess, void *q);
    int     (*etrn) (smtpd_session *sess, const char *domain, strbuf *reply);
                                        /* ETRN flush request: 0 queuing
                                         * started, else -1 and the whole
                                         * reply line in reply */
    void    (*notify) (smtpd_session *sess, const char *transcript,
                       size_t len);
} smtpd_hooks;

/*
 * Security hooks (sess->sec; NULL = no STARTTLS and no AUTH). Kept apart
 * from smtpd_hooks so that sessions without TLS or SASL (tests, the
 * fuzzer) need not mention them. See smtpd_hooks above for the rules.
 */
typedef struct smtpd_sec_hooks {
    int     (*starttls) (smtpd_session *sess, strbuf *err);
    const char *(*auth_mechs) (smtpd_session *sess);
    int     (*auth_begin) (smtpd_session *sess, const char *mech,
                           const char *resp, size_t len, strbuf *reply);
    int     (*auth_next) (smtpd_session *sess, const char *resp, size_t len,
                          strbuf *reply);
    void    (*auth_reset) (smtpd_session *sess);
} smtpd_sec_hooks;

/* Per-connection state; owned by whoever called smtpd_session_new. */
struct smtpd_session {
    const smtpd_config *cfg;
    const smtpd_hooks *hooks;
    const smtpd_sec_hooks *sec;         /* NULL: no STARTTLS/AUTH */
    stream *client;                     /* not owned */
    char   *client_name;                /* "unknown" or verified name */
    char   *client_addr;
    int     client_port;
    char   *helo_name;                  /* NULL before HELO/EHLO */
    const char *protocol;               /* "SMTP", "ESMTP", "ESMTPS",
                                         * "ESMTPA", "ESMTPSA" */
    int     tls_active;                 /* the session runs over TLS */
    char   *tls_summary;                /* "TLSv1.3 with cipher ...", or NULL */
    char   *sasl_method;                /* after AUTH, else NULL */
    char   *sasl_username;
    int     pipelining_abuse;           /* early talker seen */
    char   *deny_reply;                 /* connect-stage verdict, answered to
                                         * every MAIL/RCPT/ETRN, or NULL */

    /* Transaction. */
    char   *sender;                     /* NULL before MAIL */
    char   *envid;                      /* decoded ENVID, or NULL */
    const char *ret;                    /* "FULL"/"HDRS"/NULL */
    const char *body;                   /* "7BIT"/"8BITMIME"/"BINARYMIME"/NULL */
    int     smtputf8;
    long    declared_size;              /* SIZE=, -1 unknown */
    smtpd_rcpt *rcpts;
    size_t  nrcpts;
    size_t  rcpts_alloc;
    int     verdict;                    /* DISCARD/HOLD from restrictions */
    const char *current_rcpt;           /* for check hooks during RCPT */
    const char *etrn_domain;            /* for check hooks during ETRN */

    /* BDAT transaction. */
    void   *bdat_q;                     /* open queue handle, or NULL */
    int     bdat_failed;                /* a chunk failed: answer and discard */
    long    bdat_size;
    int     bdat_pending_cr;

    /* Counters. */
    long    errors;                     /* soft/hard error count */
    long    junk;                       /* NOOP/RSET/VRFY/ETRN count */
    long    cmd_count[16];              /* per command, for disconnect line */
    long    cmd_ok[16];                 /* ... of which answered 2xx/3xx */
    long    cmd_total;
    long    cmd_ok_total;
    int     last_code;                  /* code of the latest reply */
    int     error_mask;                 /* SMTPD_ERR_* seen */
    strbuf *history;                    /* transcript since the last flush */
    long    history_lines;
    int     quit;                       /* end the session */

    strbuf *line;                       /* input line */
    strbuf *reply;                      /* scratch reply */
    strbuf *queue_id;                   /* last queued message */
    void   *user;                       /* hooks' per-session data */
};

/* smtpd_proto.c */
smtpd_session *smtpd_session_new(const smtpd_config *cfg,
                                  const smtpd_hooks *hooks, stream *client,
                                  const char *client_name,
                                  const char *client_addr, int client_port);
smtpd_session *smtpd_session_free(smtpd_session *sess);
void    smtpd_proto_run(smtpd_session *sess, int early_talker);
void    smtpd_proto_reset(smtpd_session *sess);
int     smtpd_proto_reply(smtpd_session *sess, const char *fmt, ...)
            __attribute__((format(printf, 2, 3)));
void    smtpd_config_defaults(smtpd_config *cfg);

/* smtpd_cmd.c: split a command line. */
enum smtpd_cmd_id {
    SMTPD_CMD_UNKNOWN = 0, SMTPD_CMD_HELO, SMTPD_CMD_EHLO, SMTPD_CMD_MAIL,
    SMTPD_CMD_RCPT, SMTPD_CMD_DATA, SMTPD_CMD_BDAT, SMTPD_CMD_RSET,
    SMTPD_CMD_NOOP, SMTPD_CMD_QUIT, SMTPD_CMD_VRFY, SMTPD_CMD_HELP,
    SMTPD_CMD_ETRN, SMTPD_CMD_EXPN, SMTPD_CMD_STARTTLS, SMTPD_CMD_AUTH,
    SMTPD_CMD_COUNT
};

/* Parse results. */
#define SMTPD_CMD_OK         0
#define SMTPD_CMD_EBADCHAR   1          /* NUL, bare CR or control byte */
#define SMTPD_CMD_EEMPTY     2          /* nothing but white space */
#define SMTPD_CMD_EBARELF    3          /* line ended in LF without CR */
#define SMTPD_CMD_ENOEOL     4          /* no line end at all (EOF) */

typedef struct smtpd_cmd {
    enum smtpd_cmd_id id;
    const char *verb;                   /* canonical upper-case name */
    const char *args;                   /* points into the parsed text, after
                                         * the verb and one space; "" if none */
    size_t  args_len;
} smtpd_cmd;

int     smtpd_cmd_parse(char *line, size_t len, smtpd_cmd *cmd);
const char *smtpd_cmd_name(enum smtpd_cmd_id id);
int     smtpd_cmd_path(const char *args, size_t len, const char *keyword,
                       const char **path, size_t *path_len);

/* smtpd_data.c: the end-of-data state machine and the receivers. */
typedef struct smtpd_data_sm {
    int     state;                      /* SMTPD_DSM_* in smtpd_data.c */
    int     bare_lf;                    /* a bare LF was seen */
    int     bare_cr;                    /* a bare CR was seen */
} smtpd_data_sm;

/* smtpd_data_feed results. */
#define SMTPD_DATA_MORE      0          /* need more input */
#define SMTPD_DATA_END       1          /* <CRLF>.<CRLF> consumed */
#define SMTPD_DATA_BARELF    2          /* bare LF and the mode rejects it */

void    smtpd_data_sm_init(smtpd_data_sm *sm);
int     smtpd_data_feed(smtpd_data_sm *sm, int reject_bare_lf,
                        const char *in, size_t len, size_t *used,
                        strbuf *out);
int     smtpd_data_receive(smtpd_session *sess, void *q);
int     smtpd_data_bdat(smtpd_session *sess, long size, int last);
int     smtpd_data_finish(smtpd_session *sess, void *q);

#endif
