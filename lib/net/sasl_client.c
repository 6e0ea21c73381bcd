/*
 * sasl_client: SMTP AUTH (RFC 4954) client side over Cyrus SASL.
 *
 * Public functions:
 *   sasl_client_setup(err): once per process (the smtp client's
 *     post_init): load the Cyrus client plugins. 0, or -1 with err. A
 *     second call is a no-op.
 *   sasl_client_options(words, &flags, err): smtp_sasl_security_options
 *     words (noanonymous, noplaintext, noactive, nodictionary,
 *     mutual_auth; separated by commas and/or white space) as
 *     SASL_CLIENT_* bits; 0, or -1 with err naming an unknown word.
 *   sasl_client_credentials(value, user, pass): split a
 *     smtp_sasl_password_maps value "user:password" at the first colon
 *     (the password may hold colons). 0, or -1 when there is no colon or
 *     the user name is empty (user and pass are then unchanged).
 *   sasl_client_filter(offered, filter, out): the mechanisms of offered
 *     (the server's AUTH list, space separated) that filter names
 *     (smtp_sasl_mechanism_filter: names separated by commas and/or
 *     white space, case-insensitive; "" keeps every one), space
 *     separated in the server's order, into out. Returns how many;
 *     mechanism names longer than 20 characters or with bytes outside
 *     [A-Z0-9_-] are dropped.
 *   sasl_client_create(opts, err): one session's SASL state for the
 *     service and server name, with the credentials (copied; the copy is
 *     wiped on free), the security flags and the TLS cipher bits. NULL
 *     with err when Cyrus refuses (setup not done, bad options). Free
 *     with sasl_client_free (returns NULL). Note: Cyrus relaxes
 *     noplaintext when tls_bits > 1.
 *   sasl_client_begin(c, mechs, out, err): choose a mechanism from mechs
 *     (already filtered) under the security flags and fill out with the
 *     AUTH argument: "MECH" or "MECH <base64 initial response>" ("MECH ="
 *     for an empty one). SASL_CLIENT_OK; SASL_CLIENT_NOMECH with err when
 *     no mechanism fits; SASL_CLIENT_FAIL with err.
 *   sasl_client_next(c, challenge, len, out, err): the server's base64
 *     challenge (text after "334 "), out the base64 response line.
 *     SASL_CLIENT_OK, or SASL_CLIENT_FAIL with err for bad base64, more
 *     than SASL_CLIENT_DATA_MAX decoded bytes, more than
 *     SASL_CLIENT_ROUNDS_MAX rounds, or a Cyrus failure.
 *   sasl_client_mech(c): the mechanism chosen by begin ("" before).
 *
 * SECURITY: challenges come from the remote server and are untrusted:
 * decoding is strict and bounded, the number of rounds is bounded, and a
 * mechanism that would need interaction we cannot answer fails. The
 * password never reaches a log line; its copy is zeroed when freed.
 * LIMITS: SASL_CLIENT_ROUNDS_MAX rounds, SASL_CLIENT_DATA_MAX bytes per
 * challenge, mechanism names of 20 characters.
 */
#include <ctype.h>
#include <string.h>
#include <strings.h>

#include <sasl/sasl.h>

#include "mem.h"
#include "msg.h"
#include "sasl_client.h"
#include "sasl_server.h"
#include "strbuf.h"
#include "strutil.h"

#define SASL_CLIENT_MECH_MAX 20

struct sasl_client {
    sasl_conn_t *conn;
    sasl_callback_t callbacks[5];
    char   *user;
    sasl_secret_t *secret;              /* password in Cyrus' form */
    size_t  secret_size;
    char    mech[SASL_CLIENT_MECH_MAX + 1];
    int     rounds;
    strbuf *data;                       /* decoded challenge */
};

/* Process state: set once by sasl_client_setup. */
static int sasl_client_ready;

/* sasl_client_log: Cyrus log callback. */
static int sasl_client_log(void *context, int level, const char *message)
{
    (void) context;
    if (level <= SASL_LOG_WARN && message != NULL)
        msg_warn("SASL client: %s", message);
    else if (msg_verbose && message != NULL)
        msg_info("SASL client: %s", message);
    return SASL_OK;
}

/* sasl_client_setup: load the Cyrus client side once. */
int     sasl_client_setup(strbuf *err)
{
    static sasl_callback_t callbacks[2];
    int     rc;

    if (sasl_client_ready)
        return 0;
    /* void (*)(void) is the type GCC lets any function pointer pass through. */
    callbacks[0].id = SASL_CB_LOG;
    callbacks[0].proc = (int (*)(void)) (void (*)(void)) sasl_client_log;
    callbacks[0].context = NULL;
    callbacks[1].id = SASL_CB_LIST_END;
    callbacks[1].proc = NULL;
    callbacks[1].context = NULL;
    if ((rc = sasl_client_init(callbacks)) != SASL_OK) {
        strbuf_setf(err, "Cyrus SASL client initialisation failed: %s",
                    sasl_errstring(rc, NULL, NULL));
        return -1;
    }
    sasl_client_ready = 1;
    return 0;
}

/* sasl_client_options: security option words as bits. */
int     sasl_client_options(const char *words, int *flags, strbuf *err)
{
    static const struct {
        const char *name;
        int     bit;
    } opts[] = {
        {"noplaintext", SASL_CLIENT_NOPLAINTEXT},
        {"noactive", SASL_CLIENT_NOACTIVE},
        {"nodictionary", SASL_CLIENT_NODICTIONARY},
        {"noanonymous", SASL_CLIENT_NOANONYMOUS},
        {"mutual_auth", SASL_CLIENT_MUTUAL_AUTH},
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

/* sasl_client_credentials: split "user:password". */
int     sasl_client_credentials(const char *value, strbuf *user, strbuf *pass)
{
    const char *colon = strchr(value, ':');

    if (colon == NULL || colon == value)
        return -1;
    strbuf_set(user, value, (size_t) (colon - value));
    strbuf_set(pass, colon + 1, strlen(colon + 1));
    return 0;
}

/* sasl_client_mech_ok: is word a well-formed mechanism name? */
static int sasl_client_mech_ok(const char *word)
{
    size_t  n = strlen(word);
    const char *p;

    if (n == 0 || n > SASL_CLIENT_MECH_MAX)
        return 0;
    for (p = word; *p; p++)
        if (!(isupper((unsigned char) *p) || isdigit((unsigned char) *p)
              || *p == '-' || *p == '_'))
            return 0;
    return 1;
}

/* sasl_client_filter: offered mechanisms that the filter allows. */
int     sasl_client_filter(const char *offered, const char *filter, strbuf *out)
{
    char   *copy = mem_strdup(offered);
    char   *cursor = copy, *w;
    int     count = 0;

    strbuf_reset(out);
    while ((w = str_token(&cursor, " \t")) != NULL) {
        int     keep = 1;

        /* Mechanism names are upper case on the wire. */
        {
            char   *p;

            for (p = w; *p; p++)
                *p = (char) toupper((unsigned char) *p);
        }
        if (!sasl_client_mech_ok(w))
            continue;
        if (filter != NULL && *filter) {
            char   *fcopy = mem_strdup(filter);
            char   *fcur = fcopy, *f;

            keep = 0;
            while ((f = str_token(&fcur, ", \t\r\n")) != NULL)
                if (strcasecmp(f, w) == 0) {
                    keep = 1;
                    break;
                }
            mem_free(fcopy);
        }
        if (!keep)
            continue;
        if (count++ > 0)
            strbuf_putc(out, ' ');
        strbuf_puts(out, w);
    }
    mem_free(copy);
    return count;
}

/* sasl_client_get_simple: Cyrus callback for the user and login names. */
static int sasl_client_get_simple(void *context, int id, const char **result,
                                  unsigned *len)
{
    sasl_client *c = context;

    if (id != SASL_CB_USER && id != SASL_CB_AUTHNAME)
        return SASL_BADPARAM;
    *result = c->user;
    if (len != NULL)
        *len = (unsigned) strlen(c->user);
    return SASL_OK;
}

/* sasl_client_get_secret: Cyrus callback for the password. */
static int sasl_client_get_secret(sasl_conn_t *conn, void *context, int id,
                                  sasl_secret_t **secret)
{
    sasl_client *c = context;

    (void) conn;
    if (id != SASL_CB_PASS || secret == NULL)
        return SASL_BADPARAM;
    *secret = c->secret;
    return SASL_OK;
}

/* sasl_client_create: per-session SASL state, or NULL with err. */
sasl_client *sasl_client_create(const sasl_client_opts *o, strbuf *err)
{
    sasl_security_properties_t props;
    sasl_client *c;
    size_t  plen;
    sasl_ssf_t ssf;
    int     rc;

    if (!sasl_client_ready) {
        strbuf_setf(err, "SASL client is not initialised");
        return NULL;
    }
    c = mem_calloc(1, sizeof(*c));
    c->user = mem_strdup(o->user);
    plen = strlen(o->password);
    c->secret_size = sizeof(sasl_secret_t) + plen + 1;
    c->secret = mem_calloc(1, c->secret_size);
    c->secret->len = (unsigned long) plen;
    memcpy(c->secret->data, o->password, plen);
    c->data = strbuf_new(64);
    c->callbacks[0].id = SASL_CB_USER;
    c->callbacks[0].proc = (int (*)(void)) (void (*)(void)) sasl_client_get_simple;
    c->callbacks[0].context = c;
    c->callbacks[1].id = SASL_CB_AUTHNAME;
    c->callbacks[1].proc = (int (*)(void)) (void (*)(void)) sasl_client_get_simple;
    c->callbacks[1].context = c;
    c->callbacks[2].id = SASL_CB_PASS;
    c->callbacks[2].proc = (int (*)(void)) (void (*)(void)) sasl_client_get_secret;
    c->callbacks[2].context = c;
    c->callbacks[3].id = SASL_CB_LIST_END;
    c->callbacks[3].proc = NULL;
    c->callbacks[3].context = NULL;
    rc = sasl_client_new(o->service, o->server_name, NULL, NULL, c->callbacks, 0,
                         &c->conn);
    if (rc != SASL_OK) {
        strbuf_setf(err, "cannot create a SASL client: %s",
                    sasl_errstring(rc, NULL, NULL));
        c->conn = NULL;
        return sasl_client_free(c);
    }
    memset(&props, 0, sizeof(props));
    props.min_ssf = 0;
    props.max_ssf = 0;                  /* no SASL security layer */
    props.maxbufsize = 0;
    props.security_flags = 0;
    if (o->sec_flags & SASL_CLIENT_NOPLAINTEXT)
        props.security_flags |= SASL_SEC_NOPLAINTEXT;
    if (o->sec_flags & SASL_CLIENT_NOACTIVE)
        props.security_flags |= SASL_SEC_NOACTIVE;
    if (o->sec_flags & SASL_CLIENT_NODICTIONARY)
        props.security_flags |= SASL_SEC_NODICTIONARY;
    if (o->sec_flags & SASL_CLIENT_NOANONYMOUS)
        props.security_flags |= SASL_SEC_NOANONYMOUS;
    if (o->sec_flags & SASL_CLIENT_MUTUAL_AUTH)
        props.security_flags |= SASL_SEC_MUTUAL_AUTH;
    if ((rc = sasl_setprop(c->conn, SASL_SEC_PROPS, &props)) != SASL_OK) {
        strbuf_setf(err, "cannot set SASL security properties: %s",
                    sasl_errstring(rc, NULL, NULL));
        return sasl_client_free(c);
    }
    ssf = (sasl_ssf_t) (o->tls_bits > 0 ? o->tls_bits : 0);
    if ((rc = sasl_setprop(c->conn, SASL_SSF_EXTERNAL, &ssf)) != SASL_OK) {
        strbuf_setf(err, "cannot set SASL external security: %s",
                    sasl_errstring(rc, NULL, NULL));
        return sasl_client_free(c);
    }
    return c;
}

/* sasl_client_free: dispose and wipe the credentials; returns NULL. */
sasl_client *sasl_client_free(sasl_client *c)
{
    if (c == NULL)
        return NULL;
    if (c->conn)
        sasl_dispose(&c->conn);
    if (c->secret) {
        explicit_bzero(c->secret, c->secret_size);
        mem_free(c->secret);
    }
    mem_free(c->user);
    strbuf_free(c->data);
    mem_free(c);
    return NULL;
}

/* sasl_client_cyrus_err: Cyrus' text for a failure. */
static void sasl_client_cyrus_err(sasl_client *c, int rc, strbuf *err)
{
    const char *detail = c->conn ? sasl_errdetail(c->conn) : NULL;

    if (rc == SASL_INTERACT)
        strbuf_setf(err, "the mechanism needs information we cannot give");
    else
        strbuf_setf(err, "%s", detail ? detail : sasl_errstring(rc, NULL, NULL));
}

/* sasl_client_begin: choose a mechanism and build the AUTH argument. */
int     sasl_client_begin(sasl_client *c, const char *mechs, strbuf *out,
                          strbuf *err)
{
    sasl_interact_t *interact = NULL;
    const char *clientout = NULL;
    unsigned clientoutlen = 0;
    const char *mech = NULL;
    int     rc;

    c->rounds = 0;
    c->mech[0] = 0;
    if (mechs == NULL || *mechs == 0) {
        strbuf_setf(err, "no mechanism available");
        return SASL_CLIENT_NOMECH;
    }
    rc = sasl_client_start(c->conn, mechs, &interact, &clientout, &clientoutlen, &mech);
    if (rc == SASL_NOMECH) {
        strbuf_setf(err, "no mechanism available");
        return SASL_CLIENT_NOMECH;
    }
    if (rc != SASL_OK && rc != SASL_CONTINUE) {
        sasl_client_cyrus_err(c, rc, err);
        return SASL_CLIENT_FAIL;
    }
    if (mech == NULL || str_copy(c->mech, sizeof(c->mech), mech) < 0) {
        strbuf_setf(err, "bad mechanism name from the SASL library");
        return SASL_CLIENT_FAIL;
    }
    strbuf_setf(out, "%s", c->mech);
    if (clientout != NULL) {
        strbuf_putc(out, ' ');
        if (clientoutlen == 0)
            strbuf_putc(out, '=');
        else {
            strbuf *enc = strbuf_new(64);

            sasl_server_encode64(clientout, clientoutlen, enc);
            strbuf_append(out, enc->data, enc->len);
            strbuf_free(enc);
        }
    }
    return SASL_CLIENT_OK;
}

/* sasl_client_next: answer one server challenge. */
int     sasl_client_next(sasl_client *c, const char *challenge, size_t len,
                         strbuf *out, strbuf *err)
{
    sasl_interact_t *interact = NULL;
    const char *clientout = NULL;
    unsigned clientoutlen = 0;
    int     rc;

    if (++c->rounds > SASL_CLIENT_ROUNDS_MAX) {
        strbuf_setf(err, "too many SASL challenges");
        return SASL_CLIENT_FAIL;
    }
    strbuf_reset(c->data);
    if (sasl_server_decode64(challenge, len, c->data, SASL_CLIENT_DATA_MAX) < 0) {
        strbuf_setf(err, "malformed SASL challenge from the server");
        return SASL_CLIENT_FAIL;
    }
    rc = sasl_client_step(c->conn, c->data->len ? c->data->data : NULL,
                          (unsigned) c->data->len, &interact, &clientout, &clientoutlen);
    if (rc != SASL_OK && rc != SASL_CONTINUE) {
        sasl_client_cyrus_err(c, rc, err);
        return SASL_CLIENT_FAIL;
    }
    strbuf_reset(out);
    if (clientout != NULL && clientoutlen > 0)
        sasl_server_encode64(clientout, clientoutlen, out);
    return SASL_CLIENT_OK;
}

/* sasl_client_mech: the chosen mechanism. */
const char *sasl_client_mech(const sasl_client *c)
{
    return c->mech;
}
