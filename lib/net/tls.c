/*
 * tls: TLS over OpenSSL 3 for smtpd (server) and smtp (client).
 *
 * Public functions:
 *   tls_level_parse(name, &level): "none", "may", "encrypt", "verify",
 *     "secure" (case-insensitive; "" is none) into level. 0, or -1 for
 *     an unknown name. tls_level_name(level): the name back.
 *   tls_protocols_parse(spec, &min, &max, err): a Postfix protocol list
 *     ("!SSLv2, !SSLv3, !TLSv1, !TLSv1.1", "TLSv1.2 TLSv1.3",
 *     ">=TLSv1.2", "<=TLSv1.2"; separators comma, colon, white space)
 *     into the lowest and highest enabled OpenSSL version numbers. The
 *     enabled set is the named versions (all when none is named) minus
 *     the excluded ones, clipped by >= and <=; versions inside the range
 *     that were excluded are refused too (OpenSSL only knows ranges, so a
 *     hole makes the range end below it). 0, or -1 with err for an
 *     unknown name or an empty set.
 *   tls_cipher_grade(grade, high, medium, err): the cipher string for a
 *     grade name ("high" or "medium"); NULL with err otherwise.
 *   tls_server_ctx_create(opts, err): a server context: certificate and
 *     key (cert_file/key_file, or chain_files: each file holds a private
 *     key and its certificate chain, one file per algorithm, e.g. RSA and
 *     ECDSA), CA file/path for client certificates, ask/require client
 *     certificates, protocol range, cipher list, session tickets with the
 *     given key (shared by every smtpd process: resumption works across
 *     processes). Returns NULL with err when a file cannot be read or
 *     does not fit (a configuration error for the caller to report).
 *     Call before the privilege drop: key files are root-only.
 *   tls_client_ctx_create(opts, err): a client context; NULL with err
 *     for unreadable CA or certificate files or a bad protocol list.
 *   tls_ctx_free(ctx): free; returns NULL. Sessions must be gone first.
 *   tls_make_self_signed(cert_path, key_path, name, ecdsa, days, err):
 *     a new private key (RSA 2048 bits, or ECDSA P-256 when ecdsa) and a
 *     self-signed certificate for name (CN and subjectAltName DNS),
 *     valid for days, written as PEM: the key with mode 0600, the
 *     certificate 0644. name must be a plain DNS name (letters, digits,
 *     dots, hyphens). Neither file may exist yet (O_EXCL). 0, or -1
 *     with err (a half-written file is removed).
 *   tls_ticket_key_load(path, max_age, key, err): fill key (the
 *     TLS_TICKET_KEY_LEN bytes smtpd's tickets are sealed with) from
 *     path, creating it (O_EXCL, mode 0600) with random bytes when it
 *     does not exist, and replacing it (temporary file + rename) when it
 *     is older than max_age seconds. A file that is not a regular file of
 *     the right size, or that group or other may read, is refused.
 *     0, or -1 with err.
 *   tls_server_start(ctx, fd, timeout_ms, peer, err): the server
 *     handshake on fd within timeout_ms in all (0 = no limit). fd is made
 *     non-blocking for the session's lifetime. Returns a session, or
 *     NULL with err ("TLS handshake failed: ...", "timeout"). peer is
 *     "host[addr]" for log lines.
 *   tls_client_start(ctx, fd, timeout_ms, opts, err): the client
 *     handshake with SNI, an optional resumed session and, at levels
 *     verify and secure, certificate verification against the context's
 *     CAs and a name check (opts->match: the peer certificate must carry
 *     one of them in subjectAltName, or CN when it has no DNS names;
 *     "verify" accepts "*.example.com" for one label, "secure" accepts
 *     no wildcard at all). NULL with err on failure.
 *   tls_sess_attach(sess, s): stream s reads and writes through sess
 *     from now on (stream_set_io); s must be over the session's fd and
 *     hold no buffered input (a caller bug otherwise: panic).
 *   tls_sess_free(sess, s): flush s, detach it (when not NULL), send a
 *     close_notify (best effort, never waits), free; returns NULL.
 *   tls_sess_summary(sess): "TLSv1.3 with cipher TLS_AES_256_GCM_SHA384
 *     (256/256 bits)", for logs and Received:. tls_sess_protocol,
 *     tls_sess_cipher: the parts. Strings live as long as sess.
 *   tls_sess_reused(sess): 1 when the session was resumed.
 *   tls_sess_cipher_bits(sess): the cipher's strength in bits.
 *   tls_sess_peer_cert(sess): 1 when the peer sent a certificate;
 *     tls_sess_peer_trusted: it verified against the CAs;
 *     tls_sess_peer_matched: trusted and a match name fitted.
 *     tls_sess_peer_cn, tls_sess_issuer_cn: printable common names ("" if
 *     none); tls_sess_peer_fingerprint: SHA-256 as "AB:CD:..." ("").
 *   tls_sess_export(sess, out): the session for a later resumption (a
 *     client keeps it per destination); 0, or -1 when not resumable.
 *
 * Log lines (loglevel >= 1): "<Trust> TLS connection established from
 * host[addr]: <summary>" (server) or "... to host[addr]:port: ..."
 * (client), Trust being Anonymous (no certificate), Untrusted, Trusted
 * or Verified (trusted and the name matched). loglevel >= 2 also logs
 * the start of each handshake.
 *
 * Session tickets: one key file, by default private/tls_ticket.key in
 * the spool, read (or made) by smtpd's pre_init as root and kept in
 * memory; every smtpd process seals tickets with the same key, so a
 * client resumes with any of them. Rotation: the first smtpd started
 * after the key is older than its maximum age writes a new one; clients
 * holding tickets from the old key do a full handshake once.
 *
 * SECURITY: peers are untrusted. Certificate names are copied bounded
 * and with control bytes replaced before they reach a log line. OpenSSL
 * errors are reported as text, never fatal. Private keys are read only
 * through the paths the configuration names. Renegotiation is refused;
 * compression is off. OpenSSL writes to the socket with write(2): the
 * program must ignore SIGPIPE (the server skeleton does).
 * LIMITS: handshake bounded by timeout_ms in all; names TLS_NAME_MAX;
 * an exported session up to 64 kB.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "fileio.h"
#include "mem.h"
#include "msg.h"
#include "strbuf.h"
#include "stream.h"
#include "strutil.h"
#include "tls.h"

#define TLS_EXPORT_MAX   65536
#define TLS_SESS_ID_CTX  "postern-smtpd"

struct tls_ctx {
    SSL_CTX *ssl_ctx;
    int     server;
    int     req_ccert;
    int     loglevel;
};

struct tls_sess {
    SSL    *ssl;
    int     fd;
    int     fd_flags;                   /* fcntl flags before the session */
    int     server;
    int     reused;
    int     bits;                       /* cipher strength */
    int     peer_cert;
    int     trusted;
    int     matched;
    char    protocol[32];
    char    cipher[128];
    char    summary[256];
    char    peer_cn[TLS_NAME_MAX];
    char    issuer_cn[TLS_NAME_MAX];
    char    fingerprint[3 * 32 + 1];
};

/* tls_err_text: the most recent OpenSSL error as text; clears the queue. */
static void tls_err_text(strbuf *out)
{
    unsigned long e = ERR_peek_last_error();
    char    buf[256];

    if (e == 0) {
        (void) strbuf_puts(out, "no further detail");
    } else {
        ERR_error_string_n(e, buf, sizeof(buf));
        (void) strbuf_puts(out, buf);
    }
    ERR_clear_error();
}

/* tls_level_parse: a security level by name. */
int     tls_level_parse(const char *name, enum tls_level *level)
{
    static const char *names[] = {"none", "may", "encrypt", "verify", "secure"};
    size_t  i;

    if (*name == '\0') {
        *level = TLS_LEVEL_NONE;
        return 0;
    }
    for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (strcasecmp(name, names[i]) == 0) {
            *level = (enum tls_level) i;
            return 0;
        }
    }
    return -1;
}

/* tls_level_name: the name of a level. */
const char *tls_level_name(enum tls_level level)
{
    switch (level) {
    case TLS_LEVEL_NONE:
        return "none";
    case TLS_LEVEL_MAY:
        return "may";
    case TLS_LEVEL_ENCRYPT:
        return "encrypt";
    case TLS_LEVEL_VERIFY:
        return "verify";
    case TLS_LEVEL_SECURE:
        return "secure";
    }
    return "unknown";
}

/* Protocol names in version order, with OpenSSL's numbers. */
static const struct {
    const char *name;
    int     version;
} tls_protos[] = {
    {"SSLv2", 0x0002}, {"SSLv3", SSL3_VERSION}, {"TLSv1", TLS1_VERSION},
    {"TLSv1.1", TLS1_1_VERSION}, {"TLSv1.2", TLS1_2_VERSION},
    {"TLSv1.3", TLS1_3_VERSION},
};
#define TLS_NPROTOS ((int) (sizeof(tls_protos) / sizeof(tls_protos[0])))

/* tls_proto_index: index of a protocol name, or -1. */
static int tls_proto_index(const char *name)
{
    int     i;

    for (i = 0; i < TLS_NPROTOS; i++)
        if (strcasecmp(name, tls_protos[i].name) == 0)
            return i;
    return -1;
}

/* tls_protocols_parse: a protocol list into a version range. */
int     tls_protocols_parse(const char *spec, int *min_version,
                            int *max_version, strbuf *err)
{
    char   *copy = mem_strdup(spec);
    char   *cursor = copy;
    char   *tok;
    int     named = 0, excluded = 0, lo = 0, hi = TLS_NPROTOS - 1;
    int     enabled, i, first = -1, last = -1;

    while ((tok = str_token(&cursor, ", :\t\r\n")) != NULL) {
        int     idx;

        if (strncmp(tok, ">=", 2) == 0 || strncmp(tok, "<=", 2) == 0) {
            if ((idx = tls_proto_index(tok + 2)) < 0)
                goto bad;
            if (tok[0] == '>')
                lo = idx > lo ? idx : lo;
            else
                hi = idx < hi ? idx : hi;
        } else if (tok[0] == '!') {
            if ((idx = tls_proto_index(tok + 1)) < 0)
                goto bad;
            excluded |= 1 << idx;
        } else {
            if ((idx = tls_proto_index(tok)) < 0)
                goto bad;
            named |= 1 << idx;
        }
        continue;
  bad:
        strbuf_setf(err, "unknown TLS protocol \"%s\" in \"%s\"", tok, spec);
        mem_free(copy);
        return -1;
    }
    mem_free(copy);
    enabled = named ? named : (1 << TLS_NPROTOS) - 1;
    enabled &= ~excluded;
    /* SSLv2 is gone from OpenSSL; SSLv3 is never offered by us. */
    enabled &= ~0x3;
    for (i = lo; i <= hi; i++) {
        if (enabled & (1 << i)) {
            if (first < 0)
                first = i;
            last = i;
        } else if (first >= 0) {
            break;                      /* a hole ends the range */
        }
    }
    if (first < 0) {
        strbuf_setf(err, "no TLS protocol left enabled by \"%s\"", spec);
        return -1;
    }
    *min_version = tls_protos[first].version;
    *max_version = tls_protos[last].version;
    return 0;
}

/* tls_cipher_grade: cipher string for a grade. */
const char *tls_cipher_grade(const char *grade, const char *high,
                             const char *medium, strbuf *err)
{
    if (strcasecmp(grade, "high") == 0)
        return high;
    if (strcasecmp(grade, "medium") == 0)
        return medium;
    strbuf_setf(err, "unsupported cipher grade \"%s\" (use medium or high)",
                grade);
    return NULL;
}

/* tls_ctx_common: protocol range, ciphers and options for both sides. */
static int tls_ctx_common(SSL_CTX *c, const char *protocols,
                          const char *cipherlist, strbuf *err)
{
    int     lo, hi;

    if (tls_protocols_parse(protocols, &lo, &hi, err) < 0)
        return -1;
    if (!SSL_CTX_set_min_proto_version(c, lo)
        || !SSL_CTX_set_max_proto_version(c, hi)) {
        strbuf_setf(err, "cannot set TLS protocol range \"%s\": ", protocols);
        tls_err_text(err);
        return -1;
    }
    if (cipherlist && *cipherlist && !SSL_CTX_set_cipher_list(c, cipherlist)) {
        strbuf_setf(err, "bad cipher list \"%s\": ", cipherlist);
        tls_err_text(err);
        return -1;
    }
    SSL_CTX_set_options(c, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION
                        | SSL_OP_IGNORE_UNEXPECTED_EOF);
    SSL_CTX_set_mode(c, SSL_MODE_ENABLE_PARTIAL_WRITE
                     | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    return 0;
}

/* tls_load_pair: certificate chain and private key from files. */
static int tls_load_pair(SSL_CTX *c, const char *cert, const char *key,
                         strbuf *err)
{
    if (!SSL_CTX_use_certificate_chain_file(c, cert)) {
        strbuf_setf(err, "cannot load certificate chain from %s: ", cert);
        tls_err_text(err);
        return -1;
    }
    if (!SSL_CTX_use_PrivateKey_file(c, key, SSL_FILETYPE_PEM)) {
        strbuf_setf(err, "cannot load private key from %s: ", key);
        tls_err_text(err);
        return -1;
    }
    if (!SSL_CTX_check_private_key(c)) {
        strbuf_setf(err, "private key in %s does not match the certificate "
                    "in %s: ", key, cert);
        tls_err_text(err);
        return -1;
    }
    return 0;
}

/* tls_load_ca: CA file and directory for verification. */
static int tls_load_ca(SSL_CTX *c, const char *file, const char *path,
                       strbuf *err)
{
    if (*file == '\0' && *path == '\0')
        return 0;
    if (!SSL_CTX_load_verify_locations(c, *file ? file : NULL,
                                       *path ? path : NULL)) {
        strbuf_setf(err, "cannot load CA locations (CAfile \"%s\", CApath "
                    "\"%s\"): ", file, path);
        tls_err_text(err);
        return -1;
    }
    return 0;
}

/* tls_accept_any: verify callback that records but never refuses. */
static int tls_accept_any(int ok, X509_STORE_CTX *store)
{
    (void) ok;
    (void) store;
    return 1;
}

/* tls_server_ctx_create: a configured server context, or NULL with err. */
tls_ctx *tls_server_ctx_create(const tls_server_opts *o, strbuf *err)
{
    SSL_CTX *c = SSL_CTX_new(TLS_server_method());
    tls_ctx *ctx;

    if (c == NULL) {
        strbuf_setf(err, "cannot create a TLS server context: ");
        tls_err_text(err);
        return NULL;
    }
    if (tls_ctx_common(c, o->protocols, o->cipherlist, err) < 0)
        goto fail;
    if (*o->chain_files) {
        char   *copy = mem_strdup(o->chain_files);
        char   *cursor = copy;
        char   *file;
        int     n = 0;

        while ((file = str_token(&cursor, ", \t\r\n")) != NULL) {
            n++;
            if (tls_load_pair(c, file, file, err) < 0) {
                mem_free(copy);
                goto fail;
            }
        }
        mem_free(copy);
        if (n == 0) {
            strbuf_setf(err, "smtpd_tls_chain_files names no file");
            goto fail;
        }
    } else if (*o->cert_file) {
        if (tls_load_pair(c, o->cert_file, *o->key_file ? o->key_file
                          : o->cert_file, err) < 0)
            goto fail;
    } else {
        strbuf_setf(err, "no server certificate: set smtpd_tls_cert_file "
                    "and smtpd_tls_key_file, or smtpd_tls_chain_files");
        goto fail;
    }
    if (tls_load_ca(c, o->ca_file, o->ca_path, err) < 0)
        goto fail;
    if (o->req_ccert || o->ask_ccert) {
        if (*o->ca_file) {
            STACK_OF(X509_NAME) * names = SSL_load_client_CA_file(o->ca_file);

            if (names != NULL)
                SSL_CTX_set_client_CA_list(c, names);
            ERR_clear_error();
        }
        if (o->req_ccert)
            SSL_CTX_set_verify(c, SSL_VERIFY_PEER
                               | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
        else
            SSL_CTX_set_verify(c, SSL_VERIFY_PEER, tls_accept_any);
    }
    if (!SSL_CTX_set_session_id_context(c, (const unsigned char *) TLS_SESS_ID_CTX,
                                        sizeof(TLS_SESS_ID_CTX) - 1)) {
        strbuf_setf(err, "cannot set the TLS session id context: ");
        tls_err_text(err);
        goto fail;
    }
    if (o->ticket_key != NULL) {
        /* Stateless tickets sealed with the key every smtpd shares. */
        SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_SERVER
                                       | SSL_SESS_CACHE_NO_INTERNAL);
        if (SSL_CTX_set_tlsext_ticket_keys(c, (void *) o->ticket_key,
                                           TLS_TICKET_KEY_LEN) != 1) {
            strbuf_setf(err, "cannot install the TLS session ticket key: ");
            tls_err_text(err);
            goto fail;
        }
        SSL_CTX_set_timeout(c, o->session_timeout > 0 ? o->session_timeout : 3600);
        SSL_CTX_set_num_tickets(c, 1);
    } else {
        SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_OFF);
        SSL_CTX_set_options(c, SSL_OP_NO_TICKET);
        SSL_CTX_set_num_tickets(c, 0);
    }
    ctx = mem_calloc(1, sizeof(*ctx));
    ctx->ssl_ctx = c;
    ctx->server = 1;
    ctx->req_ccert = o->req_ccert;
    ctx->loglevel = o->loglevel;
    return ctx;

  fail:
    SSL_CTX_free(c);
    return NULL;
}

/* tls_client_ctx_create: a configured client context, or NULL with err. */
tls_ctx *tls_client_ctx_create(const tls_client_opts *o, strbuf *err)
{
    SSL_CTX *c = SSL_CTX_new(TLS_client_method());
    tls_ctx *ctx;

    if (c == NULL) {
        strbuf_setf(err, "cannot create a TLS client context: ");
        tls_err_text(err);
        return NULL;
    }
    if (tls_ctx_common(c, o->protocols, o->cipherlist, err) < 0
        || tls_load_ca(c, o->ca_file, o->ca_path, err) < 0)
        goto fail;
    if (o->cert_file && *o->cert_file
        && tls_load_pair(c, o->cert_file, o->key_file && *o->key_file
                         ? o->key_file : o->cert_file, err) < 0)
        goto fail;
    SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_CLIENT
                                   | SSL_SESS_CACHE_NO_INTERNAL);
    ctx = mem_calloc(1, sizeof(*ctx));
    ctx->ssl_ctx = c;
    ctx->loglevel = o->loglevel;
    return ctx;

  fail:
    SSL_CTX_free(c);
    return NULL;
}

/* tls_ctx_free: free a context; returns NULL. */
tls_ctx *tls_ctx_free(tls_ctx *ctx)
{
    if (ctx == NULL)
        return NULL;
    SSL_CTX_free(ctx->ssl_ctx);
    mem_free(ctx);
    return NULL;
}

/* tls_key_write: write a new random key to path via a temporary file. */
static int tls_key_write(const char *path, unsigned char *key, int replace,
                         strbuf *err)
{
    strbuf *tmp = strbuf_new(256);
    const char *target = path;
    int     fd;

    if (RAND_bytes(key, TLS_TICKET_KEY_LEN) != 1) {
        strbuf_setf(err, "cannot make a TLS ticket key: no random bytes");
        strbuf_free(tmp);
        return -1;
    }
    if (replace) {
        strbuf_printf(tmp, "%s.%ld", path, (long) getpid());
        target = strbuf_str(tmp);
        (void) unlink(target);
    }
    fd = open(target, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        int     saved = errno;

        strbuf_setf(err, "cannot create TLS ticket key file %s: %s", target,
                    strerror(saved));
        strbuf_free(tmp);
        errno = saved;
        return -1;
    }
    if (fileio_write_all(fd, key, TLS_TICKET_KEY_LEN) < 0 || fsync(fd) < 0 || close(fd) < 0) {
        strbuf_setf(err, "cannot write TLS ticket key file %s: %s", target,
                    strerror(errno));
        (void) unlink(target);
        strbuf_free(tmp);
        return -1;
    }
    if (replace && rename(target, path) < 0) {
        strbuf_setf(err, "cannot rename %s to %s: %s", target, path,
                    strerror(errno));
        (void) unlink(target);
        strbuf_free(tmp);
        return -1;
    }
    strbuf_free(tmp);
    return 0;
}

/* tls_ticket_key_load: read, create or rotate the shared ticket key. */
int     tls_ticket_key_load(const char *path, long max_age, unsigned char *key,
                            strbuf *err)
{
    struct stat st;
    ssize_t n;
    int     fd, tries;

    for (tries = 0; tries < 3; tries++) {
        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0 && errno == ENOENT) {
            if (tls_key_write(path, key, 0, err) == 0)
                return 0;
            if (errno == EEXIST)
                continue;               /* another smtpd made it: read it */
            return -1;
        }
        if (fd < 0) {
            strbuf_setf(err, "cannot open TLS ticket key file %s: %s", path,
                        strerror(errno));
            return -1;
        }
        if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)
            || st.st_size != TLS_TICKET_KEY_LEN) {
            strbuf_setf(err, "TLS ticket key file %s: not a regular file of "
                        "%d bytes", path, TLS_TICKET_KEY_LEN);
            (void) close(fd);
            return -1;
        }
        if (st.st_mode & 077) {
            strbuf_setf(err, "TLS ticket key file %s: group or other may "
                        "access it (mode %04o); it must be 0600", path,
                        (unsigned) (st.st_mode & 07777));
            (void) close(fd);
            return -1;
        }
        n = read(fd, key, TLS_TICKET_KEY_LEN);
        (void) close(fd);
        if (n != TLS_TICKET_KEY_LEN) {
            strbuf_setf(err, "cannot read TLS ticket key file %s", path);
            return -1;
        }
        if (max_age > 0 && time(NULL) - st.st_mtime > max_age) {
            /* Old key: the first process to notice writes a new one. */
            if (tls_key_write(path, key, 1, err) < 0)
                return -1;
        }
        return 0;
    }
    strbuf_setf(err, "TLS ticket key file %s keeps changing", path);
    return -1;
}

/* tls_pem_open: a new file for PEM output, or NULL with err. */
static FILE *tls_pem_open(const char *path, int mode, strbuf *err)
{
    int     fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
                      (mode_t) mode);
    FILE   *fp;

    if (fd < 0) {
        strbuf_setf(err, "cannot create %s: %s", path, strerror(errno));
        return NULL;
    }
    if ((fp = fdopen(fd, "w")) == NULL) {
        strbuf_setf(err, "cannot create %s: %s", path, strerror(errno));
        (void) close(fd);
        (void) unlink(path);
    }
    return fp;
}

/* tls_make_self_signed: a new key and self-signed certificate. */
int     tls_make_self_signed(const char *cert_path, const char *key_path,
                             const char *name, int ecdsa, int days, strbuf *err)
{
    EVP_PKEY *pkey = ecdsa ? EVP_EC_gen("P-256") : EVP_RSA_gen(2048);
    X509   *x = X509_new();
    X509_NAME *subj;
    X509_EXTENSION *ext = NULL;
    strbuf *san = strbuf_new(64);
    unsigned char serial[16];
    BIGNUM *bn = NULL;
    FILE   *kf = NULL, *cf = NULL;
    int     rc = -1, made_key = 0, made_cert = 0;

    /* The name goes into an OpenSSL config string: plain DNS names only. */
    if (*name == '\0' || strlen(name) > 253
        || strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                  "0123456789.-") != strlen(name)) {
        strbuf_setf(err, "\"%s\" is not a plain DNS name", name);
        goto done;
    }
    if (pkey == NULL || x == NULL || RAND_bytes(serial, sizeof(serial)) != 1) {
        strbuf_setf(err, "cannot make a %s key: ", ecdsa ? "ECDSA" : "RSA");
        tls_err_text(err);
        goto done;
    }
    serial[0] &= 0x7f;                  /* a positive serial number */
    strbuf_printf(san, "DNS:%s", name);
    subj = X509_get_subject_name(x);
    if ((bn = BN_bin2bn(serial, sizeof(serial), NULL)) == NULL
        || !X509_set_version(x, 2)
        || !BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x))
        || !X509_gmtime_adj(X509_getm_notBefore(x), -300)
        || !X509_gmtime_adj(X509_getm_notAfter(x), (long) days * 86400L)
        || !X509_set_pubkey(x, pkey)
        || !X509_NAME_add_entry_by_txt(subj, "CN", MBSTRING_UTF8,
                                       (const unsigned char *) name, -1, -1, 0)
        || !X509_set_issuer_name(x, subj)
        || (ext = X509V3_EXT_conf_nid(NULL, NULL, NID_subject_alt_name,
                                      strbuf_str(san))) == NULL
        || !X509_add_ext(x, ext, -1)
        || !X509_sign(x, pkey, EVP_sha256())) {
        strbuf_setf(err, "cannot make a certificate for \"%s\": ", name);
        tls_err_text(err);
        goto done;
    }
    if ((kf = tls_pem_open(key_path, 0600, err)) == NULL)
        goto done;
    made_key = 1;
    if ((cf = tls_pem_open(cert_path, 0644, err)) == NULL)
        goto done;
    made_cert = 1;
    if (!PEM_write_PrivateKey(kf, pkey, NULL, NULL, 0, NULL, NULL)
        || !PEM_write_X509(cf, x)) {
        strbuf_setf(err, "cannot write PEM data: ");
        tls_err_text(err);
        goto done;
    }
    if (fflush(kf) != 0 || fsync(fileno(kf)) < 0 || fflush(cf) != 0
        || fsync(fileno(cf)) < 0) {
        strbuf_setf(err, "cannot write %s or %s: %s", key_path, cert_path,
                    strerror(errno));
        goto done;
    }
    rc = 0;

  done:
    if (kf != NULL && fclose(kf) != 0 && rc == 0) {
        strbuf_setf(err, "cannot write %s: %s", key_path, strerror(errno));
        rc = -1;
    }
    if (cf != NULL && fclose(cf) != 0 && rc == 0) {
        strbuf_setf(err, "cannot write %s: %s", cert_path, strerror(errno));
        rc = -1;
    }
    if (rc < 0 && made_key)
        (void) unlink(key_path);
    if (rc < 0 && made_cert)
        (void) unlink(cert_path);
    X509_EXTENSION_free(ext);
    BN_free(bn);
    X509_free(x);
    EVP_PKEY_free(pkey);
    strbuf_free(san);
    return rc;
}

/* tls_name_copy: printable copy of an X509 name entry by NID. */
static void tls_name_copy(X509_NAME *name, int nid, char *out, size_t len)
{
    int     idx;
    X509_NAME_ENTRY *ent;
    ASN1_STRING *data;
    unsigned char *utf8 = NULL;
    int     n, i;
    size_t  o = 0;

    out[0] = '\0';
    if (name == NULL || (idx = X509_NAME_get_index_by_NID(name, nid, -1)) < 0)
        return;
    ent = X509_NAME_get_entry(name, idx);
    data = X509_NAME_ENTRY_get_data(ent);
    if ((n = ASN1_STRING_to_UTF8(&utf8, data)) < 0)
        return;
    for (i = 0; i < n && o + 1 < len; i++) {
        unsigned char c = utf8[i];

        out[o++] = (c < 0x20 || c == 0x7f) ? '?' : (char) c;
    }
    out[o] = '\0';
    OPENSSL_free(utf8);
}

/* tls_sess_note: fill the summary and peer fields after a handshake. */
static void tls_sess_note(tls_sess *sess)
{
    const SSL_CIPHER *c = SSL_get_current_cipher(sess->ssl);
    X509   *peer = SSL_get1_peer_certificate(sess->ssl);
    int     alg_bits = 0, bits = c ? SSL_CIPHER_get_bits(c, &alg_bits) : 0;

    (void) str_copy(sess->protocol, sizeof(sess->protocol),
                    SSL_get_version(sess->ssl));
    (void) str_copy(sess->cipher, sizeof(sess->cipher),
                    c ? SSL_CIPHER_get_name(c) : "unknown");
    (void) str_format(sess->summary, sizeof(sess->summary),
                      "%s with cipher %s (%d/%d bits)", sess->protocol,
                      sess->cipher, bits, alg_bits);
    sess->reused = SSL_session_reused(sess->ssl);
    sess->bits = bits;
    if (peer != NULL) {
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned int mdlen = 0, i;

        sess->peer_cert = 1;
        sess->trusted = SSL_get_verify_result(sess->ssl) == X509_V_OK;
        tls_name_copy(X509_get_subject_name(peer), NID_commonName,
                      sess->peer_cn, sizeof(sess->peer_cn));
        tls_name_copy(X509_get_issuer_name(peer), NID_commonName,
                      sess->issuer_cn, sizeof(sess->issuer_cn));
        if (X509_digest(peer, EVP_sha256(), md, &mdlen) && mdlen <= 32) {
            for (i = 0; i < mdlen; i++)
                (void) str_format(sess->fingerprint + 3 * i,
                                  sizeof(sess->fingerprint) - 3 * i,
                                  i + 1 < mdlen ? "%02X:" : "%02X", md[i]);
        }
        X509_free(peer);
    }
    ERR_clear_error();
}

/* tls_handshake: drive the handshake within the deadline. */
static int tls_handshake(tls_sess *sess, int timeout_ms, strbuf *err)
{
    struct timespec ts;
    int64_t deadline = 0, now;
    struct pollfd pfd;
    int     r, e, wait_ms;

    if (timeout_ms > 0) {
        clock_gettime(CLOCK_MONOTONIC, &ts);
        deadline = (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000 + timeout_ms;
    }
    for (;;) {
        ERR_clear_error();
        r = SSL_do_handshake(sess->ssl);
        if (r == 1)
            return 0;
        e = SSL_get_error(sess->ssl, r);
        if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
            if (e == SSL_ERROR_SYSCALL && ERR_peek_last_error() == 0)
                strbuf_setf(err, "TLS handshake failed: %s",
                            errno ? strerror(errno) : "lost connection");
            else {
                strbuf_setf(err, "TLS handshake failed: ");
                tls_err_text(err);
            }
            if (!sess->server && SSL_get_verify_result(sess->ssl) != X509_V_OK)
                strbuf_printf(err, " (certificate verification: %s)",
                              X509_verify_cert_error_string(
                                  SSL_get_verify_result(sess->ssl)));
            return -1;
        }
        wait_ms = -1;
        if (timeout_ms > 0) {
            clock_gettime(CLOCK_MONOTONIC, &ts);
            now = (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
            if (now >= deadline) {
                strbuf_setf(err, "TLS handshake failed: timeout");
                return -1;
            }
            wait_ms = (int) (deadline - now);
        }
        pfd.fd = sess->fd;
        pfd.events = e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT;
        pfd.revents = 0;
        r = poll(&pfd, 1, wait_ms);
        if (r == 0) {
            strbuf_setf(err, "TLS handshake failed: timeout");
            return -1;
        }
        if (r < 0 && errno != EINTR) {
            strbuf_setf(err, "TLS handshake failed: poll: %s", strerror(errno));
            return -1;
        }
    }
}

/* tls_sess_new: a session on fd, made non-blocking. */
static tls_sess *tls_sess_new(tls_ctx *ctx, int fd, strbuf *err)
{
    tls_sess *sess;
    SSL    *ssl = SSL_new(ctx->ssl_ctx);
    int     fl;

    if (ssl == NULL || !SSL_set_fd(ssl, fd)) {
        strbuf_setf(err, "cannot create a TLS session: ");
        tls_err_text(err);
        SSL_free(ssl);
        return NULL;
    }
    sess = mem_calloc(1, sizeof(*sess));
    sess->ssl = ssl;
    sess->fd = fd;
    sess->server = ctx->server;
    fl = fcntl(fd, F_GETFL);
    sess->fd_flags = fl;
    if (fl >= 0 && !(fl & O_NONBLOCK))
        (void) fcntl(fd, F_SETFL, fl | O_NONBLOCK);
    return sess;
}

/* tls_trust_word: how much the peer is trusted, for the log line. */
static const char *tls_trust_word(const tls_sess *sess)
{
    if (!sess->peer_cert)
        return "Anonymous";
    if (sess->matched)
        return "Verified";
    return sess->trusted ? "Trusted" : "Untrusted";
}

/* tls_server_start: server handshake on fd. */
tls_sess *tls_server_start(tls_ctx *ctx, int fd, int timeout_ms,
                           const char *peer, strbuf *err)
{
    tls_sess *sess;

    if (!ctx->server)
        msg_panic("tls_server_start: client context");
    if (ctx->loglevel >= 2)
        msg_info("setting up TLS connection from %s", peer);
    if ((sess = tls_sess_new(ctx, fd, err)) == NULL)
        return NULL;
    SSL_set_accept_state(sess->ssl);
    if (tls_handshake(sess, timeout_ms, err) < 0)
        return tls_sess_free(sess, NULL);
    tls_sess_note(sess);
    if (ctx->loglevel >= 1)
        msg_info("%s TLS connection %s from %s: %s", tls_trust_word(sess),
                 sess->reused ? "reused" : "established", peer, sess->summary);
    return sess;
}

/* tls_client_start: client handshake on fd. */
tls_sess *tls_client_start(tls_ctx *ctx, int fd, int timeout_ms,
                           const tls_client_start_opts *o, strbuf *err)
{
    const char *peer = o->peer ? o->peer : "peer";
    tls_sess *sess;
    size_t  i;

    if (ctx->server)
        msg_panic("tls_client_start: server context");
    if (o->level == TLS_LEVEL_NONE)
        msg_panic("tls_client_start: security level none");
    if (ctx->loglevel >= 2)
        msg_info("setting up TLS connection to %s", peer);
    if ((sess = tls_sess_new(ctx, fd, err)) == NULL)
        return NULL;
    SSL_set_connect_state(sess->ssl);
    if (o->servername && *o->servername
        && !SSL_set_tlsext_host_name(sess->ssl, o->servername)) {
        strbuf_setf(err, "bad TLS server name \"%s\"", o->servername);
        ERR_clear_error();
        return tls_sess_free(sess, NULL);
    }
    if (o->match != NULL && o->match[0] != NULL) {
        SSL_set_hostflags(sess->ssl, o->level == TLS_LEVEL_SECURE ?
                          X509_CHECK_FLAG_NO_WILDCARDS :
                          X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
        for (i = 0; o->match[i] != NULL; i++) {
            if (!(i == 0 ? SSL_set1_host(sess->ssl, o->match[i])
                  : SSL_add1_host(sess->ssl, o->match[i]))) {
                strbuf_setf(err, "bad certificate match name \"%s\"", o->match[i]);
                ERR_clear_error();
                return tls_sess_free(sess, NULL);
            }
        }
    }
    if (o->level >= TLS_LEVEL_VERIFY)
        SSL_set_verify(sess->ssl, SSL_VERIFY_PEER, NULL);
    else
        SSL_set_verify(sess->ssl, SSL_VERIFY_NONE, NULL);
    if (o->resume != NULL && o->resume_len > 0 && o->resume_len < TLS_EXPORT_MAX) {
        const unsigned char *p = o->resume;
        SSL_SESSION *old = d2i_SSL_SESSION(NULL, &p, (long) o->resume_len);

        /* A stale or garbled session only costs a full handshake. */
        if (old != NULL) {
            (void) SSL_set_session(sess->ssl, old);
            SSL_SESSION_free(old);
        }
        ERR_clear_error();
    }
    if (tls_handshake(sess, timeout_ms, err) < 0)
        return tls_sess_free(sess, NULL);
    tls_sess_note(sess);
    sess->matched = sess->trusted && o->match != NULL && o->match[0] != NULL;
    if (ctx->loglevel >= 1)
        msg_info("%s TLS connection %s to %s: %s", tls_trust_word(sess),
                 sess->reused ? "reused" : "established", peer, sess->summary);
    return sess;
}

/* tls_io_result: map an SSL_read/SSL_write failure to a stream code. */
static ssize_t tls_io_result(tls_sess *sess, int r)
{
    switch (SSL_get_error(sess->ssl, r)) {
    case SSL_ERROR_WANT_READ:
        return STREAM_IO_WANT_READ;
    case SSL_ERROR_WANT_WRITE:
        return STREAM_IO_WANT_WRITE;
    case SSL_ERROR_ZERO_RETURN:
        return 0;
    case SSL_ERROR_SYSCALL:
        if (errno == 0)
            errno = ECONNRESET;
        ERR_clear_error();
        return STREAM_IO_ERROR;
    default:
        ERR_clear_error();
        errno = EPROTO;
        return STREAM_IO_ERROR;
    }
}

/* tls_io_read: stream read function over the session. */
static ssize_t tls_io_read(void *ctx, void *buf, size_t len)
{
    tls_sess *sess = ctx;
    size_t  got = 0;
    int     r;

    ERR_clear_error();
    errno = 0;
    r = SSL_read_ex(sess->ssl, buf, len, &got);
    if (r == 1)
        return (ssize_t) got;
    return tls_io_result(sess, r);
}

/* tls_io_write: stream write function over the session. */
static ssize_t tls_io_write(void *ctx, const void *buf, size_t len)
{
    tls_sess *sess = ctx;
    size_t  done = 0;
    int     r;

    ERR_clear_error();
    errno = 0;
    r = SSL_write_ex(sess->ssl, buf, len, &done);
    if (r == 1)
        return (ssize_t) done;
    return tls_io_result(sess, r);
}

/* tls_sess_attach: make s read and write through the session. */
void    tls_sess_attach(tls_sess *sess, stream *s)
{
    if (stream_fd(s) != sess->fd)
        msg_panic("tls_sess_attach: stream fd %d, session fd %d",
                  stream_fd(s), sess->fd);
    /* Bytes read before the handshake are clear text: the caller must
     * have dealt with them (STARTTLS discards them). */
    if (stream_buffered(s) > 0)
        msg_panic("tls_sess_attach: %zu bytes of clear text still buffered",
                  stream_buffered(s));
    stream_set_io(s, tls_io_read, tls_io_write, sess);
}

/* tls_sess_free: detach, close_notify, free; returns NULL. */
tls_sess *tls_sess_free(tls_sess *sess, stream *s)
{
    if (sess == NULL)
        return NULL;
    if (s != NULL) {
        (void) stream_flush(s);
        stream_set_io(s, NULL, NULL, NULL);
    }
    if (SSL_is_init_finished(sess->ssl))
        (void) SSL_shutdown(sess->ssl);
    ERR_clear_error();
    SSL_free(sess->ssl);
    if (sess->fd_flags >= 0 && !(sess->fd_flags & O_NONBLOCK))
        (void) fcntl(sess->fd, F_SETFL, sess->fd_flags);
    mem_free(sess);
    return NULL;
}

/* tls_sess_summary: protocol, cipher and bits as one phrase. */
const char *tls_sess_summary(const tls_sess *sess)
{
    return sess->summary;
}

/* tls_sess_protocol: "TLSv1.3" etc. */
const char *tls_sess_protocol(const tls_sess *sess)
{
    return sess->protocol;
}

/* tls_sess_cipher: the cipher name. */
const char *tls_sess_cipher(const tls_sess *sess)
{
    return sess->cipher;
}

/* tls_sess_reused: 1 for a resumed session. */
int     tls_sess_reused(const tls_sess *sess)
{
    return sess->reused;
}

/* tls_sess_cipher_bits: the cipher's strength in bits. */
int     tls_sess_cipher_bits(const tls_sess *sess)
{
    return sess->bits;
}

/* tls_sess_peer_cert: 1 when the peer showed a certificate. */
int     tls_sess_peer_cert(const tls_sess *sess)
{
    return sess->peer_cert;
}

/* tls_sess_peer_trusted: 1 when the peer certificate verified. */
int     tls_sess_peer_trusted(const tls_sess *sess)
{
    return sess->trusted;
}

/* tls_sess_peer_matched: 1 when verified and a match name fitted. */
int     tls_sess_peer_matched(const tls_sess *sess)
{
    return sess->matched;
}

/* tls_sess_peer_cn: the peer certificate's CN, or "". */
const char *tls_sess_peer_cn(const tls_sess *sess)
{
    return sess->peer_cn;
}

/* tls_sess_issuer_cn: the issuer's CN, or "". */
const char *tls_sess_issuer_cn(const tls_sess *sess)
{
    return sess->issuer_cn;
}

/* tls_sess_peer_fingerprint: SHA-256 of the peer certificate, or "". */
const char *tls_sess_peer_fingerprint(const tls_sess *sess)
{
    return sess->fingerprint;
}

/* tls_sess_export: the session in DER form for a later resumption. */
int     tls_sess_export(tls_sess *sess, strbuf *out)
{
    SSL_SESSION *s = SSL_get1_session(sess->ssl);
    unsigned char *p;
    int     n;

    strbuf_reset(out);
    if (s == NULL)
        return -1;
    if (!SSL_SESSION_is_resumable(s) || (n = i2d_SSL_SESSION(s, NULL)) <= 0
        || n > TLS_EXPORT_MAX || strbuf_reserve(out, (size_t) n) < 0) {
        SSL_SESSION_free(s);
        return -1;
    }
    p = (unsigned char *) out->data;
    n = i2d_SSL_SESSION(s, &p);
    SSL_SESSION_free(s);
    if (n <= 0)
        return -1;
    out->len = (size_t) n;
    out->data[out->len] = '\0';
    return 0;
}
