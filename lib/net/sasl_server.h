/*
 * sasl_server: the server side of SMTP AUTH over Cyrus SASL.
 *
 * smtpd calls sasl_server_setup() once (before the privilege drop), then
 * per connection makes a sasl_server, offers sasl_server_mechs() in EHLO
 * and runs the AUTH exchange with sasl_server_begin()/sasl_server_next().
 * Base64 and the AUTH argument parser are pure functions (fuzzed).
 * Callers never include Cyrus headers. See sasl_server.c.
 */
#ifndef POSTERN_SASL_SERVER_H
#define POSTERN_SASL_SERVER_H

#include <stddef.h>

#include "strbuf.h"

typedef struct sasl_server sasl_server;

/* Results of sasl_server_begin / sasl_server_next. */
#define SASL_SERVER_DONE      0         /* authenticated */
#define SASL_SERVER_CONTINUE  1         /* send "334 " + challenge */
#define SASL_SERVER_FAIL      2         /* authentication failed (535) */
#define SASL_SERVER_BADARG    3         /* malformed base64 (501) */
#define SASL_SERVER_TEMP      4         /* temporary failure (454) */

/* Bounds. */
#define SASL_SERVER_ROUNDS_MAX 32       /* challenge/response rounds */
#define SASL_SERVER_DATA_MAX   12288    /* decoded bytes of one response */

/* Security option bits (smtpd_sasl_security_options words). */
#define SASL_SERVER_NOPLAINTEXT  (1 << 0)
#define SASL_SERVER_NOACTIVE     (1 << 1)
#define SASL_SERVER_NODICTIONARY (1 << 2)
#define SASL_SERVER_NOANONYMOUS  (1 << 3)
#define SASL_SERVER_MUTUAL_AUTH  (1 << 4)
#define SASL_SERVER_FORWARD_SECRECY (1 << 5)

typedef struct sasl_server_opts {
    const char *service;                /* "smtp" (smtpd_sasl_service) */
    const char *server_name;            /* myhostname */
    const char *realm;                  /* smtpd_sasl_local_domain, or "" */
    const char *local_addr;             /* "addr;port", or NULL */
    const char *remote_addr;
    int     sec_flags;                  /* SASL_SERVER_* option bits */
    int     tls_bits;                   /* cipher bits under TLS, else 0 */
} sasl_server_opts;

int     sasl_server_setup(const char *app_name, const char *config_path,
                         strbuf *err);
int     sasl_server_options(const char *words, int *flags, strbuf *err);
sasl_server *sasl_server_create(const sasl_server_opts *opts, strbuf *err);
sasl_server *sasl_server_free(sasl_server *s);
const char *sasl_server_mechs(sasl_server *s);
int     sasl_server_begin(sasl_server *s, const char *mech, const char *resp,
                          size_t resp_len, strbuf *reply);
int     sasl_server_next(sasl_server *s, const char *resp, size_t resp_len,
                         strbuf *reply);
const char *sasl_server_username(const sasl_server *s);
const char *sasl_server_method(const sasl_server *s);

int     sasl_server_decode64(const char *in, size_t len, strbuf *out,
                             size_t max);
void    sasl_server_encode64(const void *in, size_t len, strbuf *out);
int     sasl_server_auth_args(const char *args, size_t len, strbuf *mech,
                              const char **resp, size_t *resp_len);

#endif
