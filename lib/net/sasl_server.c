/*
 * sasl_server: SMTP AUTH (RFC 4954) server side over Cyrus SASL.
 *
 * Public functions:
 *   sasl_server_setup(app_name, config_path, err): once per process,
 *     before the privilege drop (plugins and their configuration load
 *     here). app_name is smtpd_sasl_path: Cyrus reads "<app_name>.conf"
 *     from config_path (cyrus_sasl_config_path; "" = Cyrus' built-in
 *     search path). 0, or -1 with err. A second call is a no-op.
 *   sasl_server_options(words, &flags, err): smtpd_sasl_security_options
 *     words (noanonymous, noplaintext, noactive, nodictionary,
 *     mutual_auth, forward_secrecy) as SASL_SERVER_* bits; 0, or -1 with
 *     err naming an unknown word.
 *   sasl_server_create(opts, err): one connection's SASL state with the
 *     service name, server name, realm, addresses, security flags and
 *     the TLS cipher bits (external security). NULL with err when Cyrus
 *     refuses (not initialised, no mechanism). Free with
 *     sasl_server_free (returns NULL).
 *   sasl_server_mechs(s): the mechanisms the options allow, space
 *     separated ("PLAIN LOGIN"); "" when none. Lives as long as s.
 *   sasl_server_begin(s, mech, resp, resp_len, reply): begin an exchange
 *     for mech (must be one of sasl_server_mechs) with the base64 initial
 *     response (resp NULL: none; "=": empty). sasl_server_next(s, resp,
 *     resp_len, reply): the client's next base64 response. Both return
 *       SASL_SERVER_DONE      authenticated (sasl_server_username set)
 *       SASL_SERVER_CONTINUE  reply holds the base64 challenge
 *       SASL_SERVER_FAIL      reply holds the reason ("authentication
 *                             failure"), for 535 and the log
 *       SASL_SERVER_BADARG    the response was not base64 (501)
 *       SASL_SERVER_TEMP      temporary trouble (454), reply = reason
 *     More than SASL_SERVER_ROUNDS_MAX steps, or a response decoding to
 *     more than SASL_SERVER_DATA_MAX bytes, fails the exchange.
 *   sasl_server_username(s), sasl_server_method(s): after DONE, the
 *     authenticated name and the mechanism; NULL before.
 *   sasl_server_decode64(in, len, out, max): strict base64 (RFC 4648,
 *     padding required, no white space) into out. 0, or -1 for bad
 *     syntax or more than max decoded bytes.
 *   sasl_server_encode64(in, len, out): base64 of in, into out.
 *   sasl_server_auth_args(args, len, mech, &resp, &resp_len): split the
 *     AUTH argument "MECH [initial-response]" (one space between; the
 *     mechanism 1..20 characters of [A-Z0-9-_], upper-cased into mech;
 *     resp points into args or is NULL). 0, or -1 for bad syntax.
 *
 * SECURITY: every response comes from an unauthenticated network client.
 * Decoding is bounded and strict; the number of rounds is bounded. Cyrus
 * itself checks credentials; its log callback goes to msg_warn and never
 * to the client. Usernames come from Cyrus after success only.
 * LIMITS: SASL_SERVER_ROUNDS_MAX rounds, SASL_SERVER_DATA_MAX bytes per
 * response, mechanism names SASL_MECHNAMEMAX (20) characters.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <sasl/sasl.h>

#include "mem.h"
#include "msg.h"
#include "sasl_server.h"
#include "strbuf.h"
#include "strutil.h"

#define SASL_SERVER_MECH_MAX 20

struct sasl_server {
    sasl_conn_t *conn;
    char   *mechs;                      /* offered list */
    char   *method;                     /* mechanism in use */
    char   *username;                   /* after success */
    int     rounds;
    strbuf *data;                       /* decoded response */
};

/* Process state: set once by sasl_server_setup. */
static int sasl_server_ready;
static char *sasl_server_confpath;

/* sasl_server_log: Cyrus log callback. */
static int sasl_server_log(void *context, int level, const char *message)
{
    (void) context;
    if (message == NULL)
        return SASL_OK;
    if (level <= SASL_LOG_ERR)
        msg_warn("SASL: %s", message);
    else if (level <= SASL_LOG_WARN || msg_verbose)
        msg_info("SASL: %s", message);
    return SASL_OK;
}

/* sasl_server_getconfpath: Cyrus callback for the config directory. */
static int sasl_server_getconfpath(void *context, char **path)
{
    (void) context;
    *path = sasl_server_confpath;
    return SASL_OK;
}

/* sasl_server_setup: load Cyrus SASL for application app_name. */
int     sasl_server_setup(const char *app_name, const char *config_path,
                         strbuf *err)
{
    static sasl_callback_t callbacks[3];
    int     n = 0, rc;

    if (sasl_server_ready)
        return 0;
    /* void (*)(void) is the type GCC lets any function pointer pass through. */
    callbacks[n].id = SASL_CB_LOG;
    callbacks[n].proc = (int (*)(void)) (void (*)(void)) sasl_server_log;
    callbacks[n++].context = NULL;
    if (config_path != NULL && *config_path) {
        sasl_server_confpath = mem_strdup(config_path);
        callbacks[n].id = SASL_CB_GETCONFPATH;
        callbacks[n].proc = (int (*)(void)) (void (*)(void)) sasl_server_getconfpath;
        callbacks[n++].context = NULL;
    }
    callbacks[n].id = SASL_CB_LIST_END;
    callbacks[n].proc = NULL;
    callbacks[n].context = NULL;
    if ((rc = sasl_server_init(callbacks, app_name)) != SASL_OK) {
        strbuf_setf(err, "Cyrus SASL initialisation for \"%s\" failed: %s",
                    app_name, sasl_errstring(rc, NULL, NULL));
        return -1;
    }
    sasl_server_ready = 1;
    return 0;
}

/* sasl_server_options: security option words as bits. */
int     sasl_server_options(const char *words, int *flags, strbuf *err)
{
    static const struct {
        const char *name;
        int     bit;
    } opts[] = {
        {"noplaintext", SASL_SERVER_NOPLAINTEXT},
        {"noactive", SASL_SERVER_NOACTIVE},
        {"nodictionary", SASL_SERVER_NODICTIONARY},
        {"noanonymous", SASL_SERVER_NOANONYMOUS},
        {"mutual_auth", SASL_SERVER_MUTUAL_AUTH},
        {"forward_secrecy", SASL_SERVER_FORWARD_SECRECY},
    };
    char   *copy = mem_strdup(words);
    char   *cursor = copy, *w;
    size_t  i;

    *flags = 0;
    while ((w = str_token(&cursor, ", \t\r\n")) != NULL) {
        for (i = 0; i < sizeof(opts) / sizeof(opts[0]); i++)
            if (strcasecmp(w, opts[i].name) == 0)
                break;
        if (i == sizeof(opts) / sizeof(opts[0])) {
            strbuf_setf(err, "unknown SASL security option \"%s\"", w);
            mem_free(copy);
            return -1;
        }
        *flags |= opts[i].bit;
    }
    mem_free(copy);
    return 0;
}

/* sasl_server_create: per-connection SASL state, or NULL with err. */
sasl_server *sasl_server_create(const sasl_server_opts *o, strbuf *err)
{
    sasl_security_properties_t props;
    sasl_conn_t *conn = NULL;
    sasl_ssf_t ssf;
    const char *list = NULL;
    unsigned len = 0;
    int     count = 0, rc;
    sasl_server *s;

    if (!sasl_server_ready) {
        strbuf_setf(err, "SASL is not initialised");
        return NULL;
    }
    rc = sasl_server_new(o->service, o->server_name,
                         o->realm && *o->realm ? o->realm : NULL,
                         o->local_addr, o->remote_addr, NULL, 0, &conn);
    if (rc != SASL_OK) {
        strbuf_setf(err, "SASL per-connection initialisation failed: %s",
                    sasl_errstring(rc, NULL, NULL));
        return NULL;
    }
    memset(&props, 0, sizeof(props));
    props.min_ssf = 0;
    props.max_ssf = 0;                  /* no SASL security layer */
    props.maxbufsize = 0;
    if (o->sec_flags & SASL_SERVER_NOPLAINTEXT)
        props.security_flags |= SASL_SEC_NOPLAINTEXT;
    if (o->sec_flags & SASL_SERVER_NOACTIVE)
        props.security_flags |= SASL_SEC_NOACTIVE;
    if (o->sec_flags & SASL_SERVER_NODICTIONARY)
        props.security_flags |= SASL_SEC_NODICTIONARY;
    if (o->sec_flags & SASL_SERVER_NOANONYMOUS)
        props.security_flags |= SASL_SEC_NOANONYMOUS;
    if (o->sec_flags & SASL_SERVER_MUTUAL_AUTH)
        props.security_flags |= SASL_SEC_MUTUAL_AUTH;
    if (o->sec_flags & SASL_SERVER_FORWARD_SECRECY)
        props.security_flags |= SASL_SEC_FORWARD_SECRECY;
    if ((rc = sasl_setprop(conn, SASL_SEC_PROPS, &props)) != SASL_OK) {
        strbuf_setf(err, "SASL security properties refused: %s",
                    sasl_errstring(rc, NULL, NULL));
        sasl_dispose(&conn);
        return NULL;
    }
    ssf = (sasl_ssf_t) (o->tls_bits > 0 ? o->tls_bits : 0);
    if ((rc = sasl_setprop(conn, SASL_SSF_EXTERNAL, &ssf)) != SASL_OK) {
        strbuf_setf(err, "SASL external security refused: %s",
                    sasl_errstring(rc, NULL, NULL));
        sasl_dispose(&conn);
        return NULL;
    }
    rc = sasl_listmech(conn, NULL, "", " ", "", &list, &len, &count);
    s = mem_calloc(1, sizeof(*s));
    s->conn = conn;
    s->mechs = mem_strdup(rc == SASL_OK && list != NULL ? list : "");
    s->data = strbuf_new(256);
    return s;
}

/* sasl_server_free: free the state; returns NULL. */
sasl_server *sasl_server_free(sasl_server *s)
{
    if (s == NULL)
        return NULL;
    if (s->conn)
        sasl_dispose(&s->conn);
    mem_free(s->mechs);
    mem_free(s->method);
    mem_free(s->username);
    strbuf_free(s->data);
    mem_free(s);
    return NULL;
}

/* sasl_server_mechs: the offered mechanism list. */
const char *sasl_server_mechs(sasl_server *s)
{
    return s->mechs;
}

/* sasl_server_offered: 1 when mech is in the offered list. */
static int sasl_server_offered(const sasl_server *s, const char *mech)
{
    size_t  n = strlen(mech);
    const char *p = s->mechs;

    while (*p) {
        size_t  w = strcspn(p, " ");

        if (w == n && strncasecmp(p, mech, n) == 0)
            return 1;
        p += w;
        while (*p == ' ')
            p++;
    }
    return 0;
}

/* sasl_server_result: map a Cyrus result to ours, filling reply. */
static int sasl_server_result(sasl_server *s, int rc, const char *out,
                              unsigned outlen, strbuf *reply)
{
    const char *name = NULL;

    strbuf_reset(reply);
    switch (rc) {
    case SASL_OK:
        if (sasl_getprop(s->conn, SASL_USERNAME, (const void **) &name) != SASL_OK
            || name == NULL) {
            strbuf_setf(reply, "no user name after authentication");
            return SASL_SERVER_FAIL;
        }
        s->username = mem_strdup(name);
        return SASL_SERVER_DONE;
    case SASL_CONTINUE:
        if (++s->rounds > SASL_SERVER_ROUNDS_MAX) {
            strbuf_setf(reply, "too many authentication rounds");
            return SASL_SERVER_FAIL;
        }
        sasl_server_encode64(out, outlen, reply);
        return SASL_SERVER_CONTINUE;
    case SASL_TRYAGAIN:
    case SASL_UNAVAIL:
    case SASL_NOMEM:
        strbuf_setf(reply, "%s", sasl_errstring(rc, NULL, NULL));
        return SASL_SERVER_TEMP;
    default:
        strbuf_setf(reply, "%s", sasl_errstring(rc, NULL, NULL));
        return SASL_SERVER_FAIL;
    }
}

/* sasl_server_decode_resp: decode a response into s->data. */
static int sasl_server_decode_resp(sasl_server *s, const char *resp,
                                   size_t len, strbuf *reply)
{
    /* "=" stands for an empty initial response (RFC 4954). */
    if (len == 1 && resp[0] == '=') {
        strbuf_reset(s->data);
        return 0;
    }
    if (sasl_server_decode64(resp, len, s->data, SASL_SERVER_DATA_MAX) < 0) {
        strbuf_setf(reply, "malformed authentication data");
        return -1;
    }
    return 0;
}

/* sasl_server_begin: begin an exchange. */
int     sasl_server_begin(sasl_server *s, const char *mech, const char *resp,
                          size_t resp_len, strbuf *reply)
{
    const char *out = NULL;
    unsigned outlen = 0;
    int     rc;

    s->username = mem_free(s->username);
    s->method = mem_free(s->method);
    s->rounds = 0;
    if (!sasl_server_offered(s, mech)) {
        strbuf_setf(reply, "mechanism %s is not offered", mech);
        return SASL_SERVER_FAIL;
    }
    if (resp != NULL && sasl_server_decode_resp(s, resp, resp_len, reply) < 0)
        return SASL_SERVER_BADARG;
    s->method = mem_strdup(mech);
    rc = sasl_server_start(s->conn, mech, resp ? s->data->data : NULL,
                           resp ? (unsigned) s->data->len : 0, &out, &outlen);
    return sasl_server_result(s, rc, out, outlen, reply);
}

/* sasl_server_next: the client's next response. */
int     sasl_server_next(sasl_server *s, const char *resp, size_t resp_len,
                         strbuf *reply)
{
    const char *out = NULL;
    unsigned outlen = 0;
    int     rc;

    if (s->method == NULL)
        msg_panic("sasl_server_next: no exchange in progress");
    if (sasl_server_decode_resp(s, resp, resp_len, reply) < 0)
        return SASL_SERVER_BADARG;
    rc = sasl_server_step(s->conn, s->data->data, (unsigned) s->data->len,
                          &out, &outlen);
    return sasl_server_result(s, rc, out, outlen, reply);
}

/* sasl_server_username: the authenticated name, or NULL. */
const char *sasl_server_username(const sasl_server *s)
{
    return s->username;
}

/* sasl_server_method: the mechanism of the latest exchange, or NULL. */
const char *sasl_server_method(const sasl_server *s)
{
    return s->method;
}

/* sasl_server_b64val: value of a base64 digit, or -1. */
static int sasl_server_b64val(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

/* sasl_server_decode64: strict base64 decoding. */
int     sasl_server_decode64(const char *in, size_t len, strbuf *out, size_t max)
{
    size_t  i, pad = 0;
    unsigned char buf[3];

    strbuf_reset(out);
    if (len % 4 != 0)
        return -1;
    if (len / 4 * 3 > max + 2)
        return -1;
    for (i = 0; i < len; i += 4) {
        int     v[4], k;

        for (k = 0; k < 4; k++) {
            unsigned char c = (unsigned char) in[i + k];

            if (c == '=' && i + 4 == len && k >= 2) {
                v[k] = 0;
                pad++;
                continue;
            }
            if (pad > 0 || (v[k] = sasl_server_b64val(c)) < 0)
                return -1;
        }
        buf[0] = (unsigned char) (v[0] << 2 | v[1] >> 4);
        buf[1] = (unsigned char) ((v[1] & 0xf) << 4 | v[2] >> 2);
        buf[2] = (unsigned char) ((v[2] & 0x3) << 6 | v[3]);
        /* Bits that padding drops must be zero (canonical encoding). */
        if ((pad == 2 && (v[1] & 0xf) != 0) || (pad == 1 && (v[2] & 0x3) != 0))
            return -1;
        if (out->len + 3 - pad > max)
            return -1;
        (void) strbuf_append(out, buf, 3 - pad);
    }
    return 0;
}

/* sasl_server_encode64: base64 encoding. */
void    sasl_server_encode64(const void *in, size_t len, strbuf *out)
{
    static const char digits[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const unsigned char *p = in;
    size_t  i;

    strbuf_reset(out);
    for (i = 0; i + 2 < len; i += 3) {
        (void) strbuf_putc(out, digits[p[i] >> 2]);
        (void) strbuf_putc(out, digits[(p[i] & 3) << 4 | p[i + 1] >> 4]);
        (void) strbuf_putc(out, digits[(p[i + 1] & 0xf) << 2 | p[i + 2] >> 6]);
        (void) strbuf_putc(out, digits[p[i + 2] & 0x3f]);
    }
    if (len - i == 1) {
        (void) strbuf_putc(out, digits[p[i] >> 2]);
        (void) strbuf_putc(out, digits[(p[i] & 3) << 4]);
        (void) strbuf_puts(out, "==");
    } else if (len - i == 2) {
        (void) strbuf_putc(out, digits[p[i] >> 2]);
        (void) strbuf_putc(out, digits[(p[i] & 3) << 4 | p[i + 1] >> 4]);
        (void) strbuf_putc(out, digits[(p[i + 1] & 0xf) << 2]);
        (void) strbuf_putc(out, '=');
    }
}

/* sasl_server_auth_args: split "MECH [initial-response]". */
int     sasl_server_auth_args(const char *args, size_t len, strbuf *mech,
                              const char **resp, size_t *resp_len)
{
    size_t  i;

    strbuf_reset(mech);
    *resp = NULL;
    *resp_len = 0;
    for (i = 0; i < len && args[i] != ' '; i++) {
        unsigned char c = (unsigned char) args[i];

        if (!(isascii(c) && (isalnum(c) || c == '-' || c == '_')))
            return -1;
        if (i >= SASL_SERVER_MECH_MAX)
            return -1;
        (void) strbuf_putc(mech, toupper(c));
    }
    if (i == 0)
        return -1;
    if (i == len)
        return 0;
    i++;                                /* the one space */
    if (i == len)
        return -1;
    *resp = args + i;
    *resp_len = len - i;
    /* The response itself is base64 or "=": no spaces or control bytes. */
    for (; i < len; i++) {
        unsigned char c = (unsigned char) args[i];

        if (c <= ' ' || c >= 0x7f)
            return -1;
    }
    return 0;
}
