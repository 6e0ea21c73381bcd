/*
 * tls: TLS over OpenSSL 3 for the SMTP server and client.
 *
 * Callers never see OpenSSL: a tls_ctx is one configured context (server
 * or client), a tls_sess one TLS connection on a socket. After the
 * handshake, tls_sess_attach() makes a stream run over the session (see
 * stream_set_io), so the SMTP code keeps reading lines as before.
 *
 * Server contexts are built from smtpd_tls_* style options before the
 * privilege drop (key files are readable by root only); client contexts
 * from smtp_tls_* style options. See tls.c for the contracts.
 */
#ifndef POSTERN_TLS_H
#define POSTERN_TLS_H

#include <stddef.h>

#include "stream.h"
#include "strbuf.h"

typedef struct tls_ctx tls_ctx;
typedef struct tls_sess tls_sess;

/* Security levels (smtpd_tls_security_level, smtp_tls_security_level). */
enum tls_level {
    TLS_LEVEL_NONE = 0,                 /* no TLS */
    TLS_LEVEL_MAY,                      /* opportunistic */
    TLS_LEVEL_ENCRYPT,                  /* TLS required, no verification */
    TLS_LEVEL_VERIFY,                   /* client: verified, name checked */
    TLS_LEVEL_SECURE                    /* client: as verify, strict names */
};

/* Bytes of a session ticket key (name, HMAC secret, AES key). */
#define TLS_TICKET_KEY_LEN 80

/* Longest certificate name or fingerprint kept for a session. */
#define TLS_NAME_MAX 256

/* Server options; strings may be "" (unset) but not NULL. */
typedef struct tls_server_opts {
    const char *cert_file;              /* smtpd_tls_cert_file */
    const char *key_file;               /* smtpd_tls_key_file */
    const char *chain_files;            /* smtpd_tls_chain_files (list) */
    const char *ca_file;                /* smtpd_tls_CAfile */
    const char *ca_path;                /* smtpd_tls_CApath */
    int     ask_ccert;                  /* smtpd_tls_ask_ccert */
    int     req_ccert;                  /* smtpd_tls_req_ccert */
    const char *protocols;              /* smtpd_tls_protocols syntax */
    const char *cipherlist;             /* OpenSSL cipher string */
    long    session_timeout;            /* seconds a ticket stays valid */
    const unsigned char *ticket_key;    /* TLS_TICKET_KEY_LEN bytes or NULL
                                         * (then no tickets) */
    int     loglevel;
} tls_server_opts;

/* Client options. */
typedef struct tls_client_opts {
    const char *ca_file;
    const char *ca_path;
    const char *protocols;
    const char *cipherlist;
    const char *cert_file;              /* client certificate, or "" */
    const char *key_file;
    int     loglevel;
} tls_client_opts;

/* Per-connection client options. */
typedef struct tls_client_start_opts {
    enum tls_level level;
    const char *servername;             /* SNI, or NULL/"" for none */
    const char *const *match;           /* names the peer certificate must
                                         * carry (verify/secure), NULL-ended */
    const void *resume;                 /* tls_sess_export() data, or NULL */
    size_t  resume_len;
    const char *peer;                   /* "host[addr]:port" for logs */
} tls_client_start_opts;

int     tls_level_parse(const char *name, enum tls_level *level);
const char *tls_level_name(enum tls_level level);
int     tls_protocols_parse(const char *spec, int *min_version,
                            int *max_version, strbuf *err);
const char *tls_cipher_grade(const char *grade, const char *high,
                             const char *medium, strbuf *err);

tls_ctx *tls_server_ctx_create(const tls_server_opts *opts, strbuf *err);
tls_ctx *tls_client_ctx_create(const tls_client_opts *opts, strbuf *err);
tls_ctx *tls_ctx_free(tls_ctx *ctx);

int     tls_make_self_signed(const char *cert_path, const char *key_path,
                             const char *name, int ecdsa, int days, strbuf *err);
int     tls_ticket_key_load(const char *path, long max_age, unsigned char *key,
                            strbuf *err);

tls_sess *tls_server_start(tls_ctx *ctx, int fd, int timeout_ms,
                           const char *peer, strbuf *err);
tls_sess *tls_client_start(tls_ctx *ctx, int fd, int timeout_ms,
                           const tls_client_start_opts *opts, strbuf *err);
void    tls_sess_attach(tls_sess *sess, stream *s);
tls_sess *tls_sess_free(tls_sess *sess, stream *s);

const char *tls_sess_summary(const tls_sess *sess);
const char *tls_sess_protocol(const tls_sess *sess);
const char *tls_sess_cipher(const tls_sess *sess);
int     tls_sess_reused(const tls_sess *sess);
int     tls_sess_cipher_bits(const tls_sess *sess);
int     tls_sess_peer_cert(const tls_sess *sess);
int     tls_sess_peer_trusted(const tls_sess *sess);
int     tls_sess_peer_matched(const tls_sess *sess);
const char *tls_sess_peer_cn(const tls_sess *sess);
const char *tls_sess_issuer_cn(const tls_sess *sess);
const char *tls_sess_peer_fingerprint(const tls_sess *sess);
int     tls_sess_export(tls_sess *sess, strbuf *out);

#endif
