/*
 * cleanup_client: the client side of the cleanup protocol (smtpd, pickup,
 * bounce submit messages through it).
 *
 * Conversation on public/cleanup (below queue_directory):
 *   server: protocol=cleanup_protocol
 *   client: envelope message (flags, sender, optional full_name,
 *           envelope_id, ret_flags, smtputf8, encoding, client_name,
 *           client_address, client_protocol, helo_name, log_ident,
 *           tls_summary, sasl_username (both only for the Received:
 *           header), submit_uid, arrival_time; then rcpt_count=N)
 *   client: N messages: recipient [original_recipient dsn_orcpt
 *           notify_flags]
 *   client: content chunks: a message size=N (1..CLEANUP_CHUNK_MAX)
 *           followed by exactly N raw bytes (LF line ends, no dot
 *           stuffing); a message size=0 ends the content
 *   server: status=0 queue_id=ID, or status=4|5 reason=TEXT
 *
 * Use: cleanup_open, cleanup_envelope, cleanup_recipient (any number, in
 * any order before content), cleanup_content (any number of calls),
 * cleanup_finish, cleanup_close. See cleanup_client.c for contracts.
 */
#ifndef POSTERN_CLEANUP_CLIENT_H
#define POSTERN_CLEANUP_CLIENT_H

#include <stddef.h>

#include "stream.h"
#include "strbuf.h"

/* Envelope flags (attribute flags=). */
#define CLEANUP_F_EXTRACT   (1 << 0)    /* recipients from To/Cc/Bcc; drop Bcc */
#define CLEANUP_F_BOUNCE    (1 << 1)    /* a notification from bounce */
#define CLEANUP_F_LOCAL     (1 << 2)    /* local submission (pickup) */
#define CLEANUP_F_HOLD      (1 << 3)    /* queue file goes to hold/ */
#define CLEANUP_F_MASK      (CLEANUP_F_EXTRACT | CLEANUP_F_BOUNCE | CLEANUP_F_LOCAL \
                             | CLEANUP_F_HOLD)

/* Largest content chunk. */
#define CLEANUP_CHUNK_MAX   65536

/* Reply status values. */
#define CLEANUP_STAT_OK     0
#define CLEANUP_STAT_DEFER  4
#define CLEANUP_STAT_REJECT 5

/* Public socket, relative to queue_directory. */
#define CLEANUP_SERVICE     "public/cleanup"

typedef struct cleanup_client cleanup_client;

/* Envelope fields; NULL strings (and -1 numbers) are left out. */
struct cleanup_envelope {
    int     flags;                      /* CLEANUP_F_* */
    const char *sender;                 /* "" = null sender; never NULL */
    const char *full_name;
    const char *envelope_id;
    const char *ret_flags;              /* "FULL" or "HDRS" */
    int     smtputf8;                   /* 0/1 */
    const char *encoding;               /* "7bit", "8bit" */
    const char *client_name;
    const char *client_address;
    const char *client_protocol;
    const char *helo_name;
    const char *log_ident;
    const char *tls_summary;            /* for Received: (smtpd_tls_received_header) */
    const char *sasl_username;          /* for Received: (smtpd_sasl_authenticated_header) */
    long    submit_uid;                 /* -1 = none */
    long    arrival_time;               /* 0 = now */
};

/* The function cleanup_envelope() takes the struct name, so the struct
 * has no typedef of the same name; cleanup_env is its short alias. */
typedef struct cleanup_envelope cleanup_env;

cleanup_client *cleanup_open(strbuf *err);
cleanup_client *cleanup_open_stream(stream *s, strbuf *err);
int     cleanup_envelope(cleanup_client *cl, const struct cleanup_envelope *env);
int     cleanup_recipient(cleanup_client *cl, const char *rcpt,
                          const char *orig, const char *orcpt, int notify);
int     cleanup_content(cleanup_client *cl, const char *bytes, size_t len);
int     cleanup_finish(cleanup_client *cl, strbuf *queue_id, strbuf *reason);
cleanup_client *cleanup_close(cleanup_client *cl);

#endif
