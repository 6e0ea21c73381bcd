/*
 * smtpd_check: the SMTP server's restriction engine (Postfix's
 * smtpd_*_restrictions, access maps, relay control, local recipient
 * validation). smtpd fills a smtpd_check_view with what it knows about
 * the session and calls one smtpd_check_<stage>() per command; the
 * engine answers with an action and, for REJECT/DEFER, the full reply
 * line. See smtpd_check.c for the contracts.
 *
 * Lifetime:
 *   smtpd_check_init(err)          once per process, after param_load
 *   st = smtpd_check_session_new() per connection
 *   smtpd_check_result_init(&res) / smtpd_check_result_free(&res)
 *   smtpd_check_connect/helo/mail/rcpt/data/eod/etrn(st, view, &res)
 *   smtpd_check_reset(st)          on RSET / new MAIL transaction
 *   st = smtpd_check_session_free(st)
 *
 * HOLD and DISCARD are sticky for the transaction (until
 * smtpd_check_reset): every later check that would permit returns them
 * instead of OK; a later REJECT/DEFER still wins.
 *
 * Delayed rejects (smtpd_delay_reject = yes, the default): connect, helo
 * and mail answer OK without evaluating; rcpt then runs client, helo,
 * sender, relay and recipient restrictions in that order. Verdicts of
 * the client/helo/sender stages are cached in st for later recipients.
 */
#ifndef POSTERN_SMTPD_CHECK_H
#define POSTERN_SMTPD_CHECK_H

#include "strbuf.h"

/* Actions (smtpd_check_* return values and smtpd_check_result.action). */
#define SMTPD_CHECK_OK       0          /* go on (permit / no verdict) */
#define SMTPD_CHECK_REJECT   1          /* send res->reply (5xx) */
#define SMTPD_CHECK_DEFER    2          /* send res->reply (4xx) */
#define SMTPD_CHECK_DISCARD  3          /* accept, then throw away the message */
#define SMTPD_CHECK_HOLD     4          /* accept, put the message on hold */

typedef struct smtpd_check_view {       /* filled and owned by smtpd */
    const char *client_name;            /* verified name or "unknown" */
    const char *client_addr;            /* "127.0.0.1" / "::1" */
    int     client_port;
    const char *helo_name;              /* NULL before HELO/EHLO */
    const char *sender;                 /* internal form, "" = null sender,
                                         * NULL before MAIL */
    const char *recipient;              /* internal form, the RCPT being
                                         * checked (NULL outside RCPT) */
    const char *etrn_domain;            /* ETRN argument, or NULL */
    int     pipelining_abuse;           /* client talked before it was allowed */
    int     sasl_authenticated;
    const char *sasl_username;          /* login after AUTH, or NULL */
    int     rcpt_count;                 /* recipients accepted so far */
    const char *protocol;               /* "SMTP", "ESMTP", ...; NULL = "ESMTP" */
    const char *queue_id;               /* for log lines; NULL = "NOQUEUE" */
} smtpd_check_view;

typedef struct smtpd_check_result {
    int     action;                     /* SMTPD_CHECK_* */
    strbuf *reply;                      /* full reply line for REJECT/DEFER,
                                         * no CRLF: "554 5.7.1 <x@y>: Relay
                                         * access denied" */
    strbuf *prepend;                    /* header lines (PREPEND) added by
                                         * THIS call, each ending in "\n";
                                         * the caller appends them */
    strbuf *redirect;                   /* the transaction's REDIRECT
                                         * address so far, or empty */
} smtpd_check_result;

typedef struct smtpd_check_state smtpd_check_state;

/* Configuration; -1 = config error (err says what), and every later
 * check answers DEFER "451 4.3.5 Server configuration error". */
int     smtpd_check_init(strbuf *err);
void    smtpd_check_shutdown(void);     /* frees what init built (tests) */

smtpd_check_state *smtpd_check_session_new(void);
smtpd_check_state *smtpd_check_session_free(smtpd_check_state *st);
void    smtpd_check_reset(smtpd_check_state *st);   /* RSET / end of mail */

void    smtpd_check_result_init(smtpd_check_result *res);
void    smtpd_check_result_free(smtpd_check_result *res);

int     smtpd_check_connect(smtpd_check_state *st, const smtpd_check_view *v,
                            smtpd_check_result *res);
int     smtpd_check_helo(smtpd_check_state *st, const smtpd_check_view *v,
                         smtpd_check_result *res);
int     smtpd_check_mail(smtpd_check_state *st, const smtpd_check_view *v,
                         smtpd_check_result *res);
int     smtpd_check_rcpt(smtpd_check_state *st, const smtpd_check_view *v,
                         smtpd_check_result *res);
int     smtpd_check_data(smtpd_check_state *st, const smtpd_check_view *v,
                         smtpd_check_result *res);
int     smtpd_check_eod(smtpd_check_state *st, const smtpd_check_view *v,
                        smtpd_check_result *res);
int     smtpd_check_etrn(smtpd_check_state *st, const smtpd_check_view *v,
                         smtpd_check_result *res);

/* Unknown local users (local_recipient_maps): 550 5.1.1 at RCPT time.
 * smtpd_check_rcpt already calls it when smtpd_reject_unlisted_recipient
 * is yes; smtpd may call it for VRFY. */
int     smtpd_check_local_recipient(const smtpd_check_view *v,
                                    smtpd_check_result *res);

/* Is the address in mynetworks? 1/0 (for smtpd's own decisions). */
int     smtpd_check_mynetworks(const char *addr);

/* smtpd_helo_required: 1 when MAIL without HELO/EHLO must get 503. */
int     smtpd_check_helo_required(void);

#endif
