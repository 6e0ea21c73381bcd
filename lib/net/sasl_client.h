/*
 * sasl_client: the client side of SMTP AUTH (RFC 4954) over Cyrus SASL.
 *
 * The smtp client calls sasl_client_setup() once, then per session makes
 * a sasl_client with the user name and password from
 * smtp_sasl_password_maps, picks a mechanism from the server's AUTH list
 * with sasl_client_begin() and answers challenges with
 * sasl_client_next(). Callers never include Cyrus headers. See
 * sasl_client.c for the contracts.
 */
#ifndef POSTERN_SASL_CLIENT_H
#define POSTERN_SASL_CLIENT_H

#include <stddef.h>

#include "strbuf.h"

typedef struct sasl_client sasl_client;

/* Results of sasl_client_begin / sasl_client_next. */
#define SASL_CLIENT_OK        0         /* out holds the next line to send */
#define SASL_CLIENT_NOMECH    1         /* no usable mechanism (err says) */
#define SASL_CLIENT_FAIL      2         /* Cyrus or the server data failed */

/* Bounds. */
#define SASL_CLIENT_ROUNDS_MAX 32       /* challenge/response rounds */
#define SASL_CLIENT_DATA_MAX   12288    /* decoded bytes of one challenge */

/* Security option bits (smtp_sasl_security_options words). */
#define SASL_CLIENT_NOPLAINTEXT  (1 << 0)
#define SASL_CLIENT_NOACTIVE     (1 << 1)
#define SASL_CLIENT_NODICTIONARY (1 << 2)
#define SASL_CLIENT_NOANONYMOUS  (1 << 3)
#define SASL_CLIENT_MUTUAL_AUTH  (1 << 4)

typedef struct sasl_client_opts {
    const char *service;                /* "smtp" */
    const char *server_name;            /* the server's host name */
    const char *user;                   /* login name */
    const char *password;
    int     sec_flags;                  /* SASL_CLIENT_* option bits */
    int     tls_bits;                   /* cipher bits under TLS, else 0 */
} sasl_client_opts;

int     sasl_client_setup(strbuf *err);
int     sasl_client_options(const char *words, int *flags, strbuf *err);
int     sasl_client_credentials(const char *value, strbuf *user, strbuf *pass);
int     sasl_client_filter(const char *offered, const char *filter, strbuf *out);
sasl_client *sasl_client_create(const sasl_client_opts *opts, strbuf *err);
sasl_client *sasl_client_free(sasl_client *c);
int     sasl_client_begin(sasl_client *c, const char *mechs, strbuf *out,
                          strbuf *err);
int     sasl_client_next(sasl_client *c, const char *challenge, size_t len,
                         strbuf *out, strbuf *err);
const char *sasl_client_mech(const sasl_client *c);

#endif
