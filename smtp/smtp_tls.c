/*
 * smtp_tls: TLS in the SMTP client: configuration, the per-destination
 * policy, STARTTLS and wrapper mode.
 *
 * Functions (private to smtp/, see smtp.h):
 *   smtp_tls_init(conf): read the smtp_tls_* parameters once (post_init)
 *     and build two client contexts: one with smtp_tls_protocols and
 *     smtp_tls_ciphers for "may", one with the mandatory variants for
 *     encrypt, verify and secure. A context that cannot be built (say an
 *     unreadable smtp_tls_CAfile) is logged; deliveries then fall back to
 *     plaintext at "may" and defer at the mandatory levels. LMTP never
 *     uses TLS. A bad smtp_tls_security_level is fatal (configuration).
 *   smtp_tls_policy_find(st, nh, why): the TLS policy for the request:
 *     smtp_tls_security_level, unless smtp_tls_policy_maps has an entry
 *     for the nexthop as given in the request (e.g. "[mx.example]:587"
 *     or "example.com"), else for the nexthop's bare host name. An entry
 *     is "level [match=name:name...] [protocols=...]" with level none,
 *     may, encrypt, verify or secure. 0; or -1 with why when the lookup
 *     failed or the entry is malformed (the caller defers: mail is never
 *     sent with less security than the admin asked for).
 *   smtp_tls_policy_done(st): free what the policy holds.
 *   smtp_tls_use_cache(st): 1 when a cached (plaintext, unauthenticated)
 *     connection may be used for this request: the level is none or may,
 *     no wrapper mode, no SASL.
 *   smtp_tls_wrap(st, sess): smtp_tls_wrappermode: the handshake right
 *     after connect, at level encrypt or above. SMTP_SESS_OK or
 *     SMTP_SESS_NEXT (site reason set, dsn 4.7.5).
 *   smtp_tls_starttls(st, sess, &restart): after EHLO: STARTTLS when the
 *     level asks for it. "may" continues in plaintext when the server does
 *     not offer STARTTLS or refuses the command; at encrypt and above a
 *     server without STARTTLS is a site failure (4.7.4 "TLS is required,
 *     but was not offered by host ..."). A handshake or verification
 *     failure is a site failure at every level (4.7.5). restart is set
 *     when TLS is now active: the caller sends EHLO again.
 *
 * The log line "Trusted TLS connection established to host[addr]:port:
 * TLSv1.3 with cipher ..." comes from lib/net/tls at smtp_tls_loglevel
 * 1 or more.
 *
 * SECURITY: the server is untrusted. Bytes it sends after the 220 reply
 * to STARTTLS (before the handshake) end the session: they would be
 * taken as if they had come over TLS (the command injection class of
 * bugs). Policy entries are checked; a bad one defers, never downgrades.
 * The TLS state lives in this process: such sessions are never handed to
 * the connection cache (smtp_connect.c).
 * LIMITS: the handshake is bounded by smtp_starttls_timeout; at most
 * SMTP_TLS_MATCH_MAX certificate names.
 */
#include <string.h>
#include <strings.h>

#include "maps.h"
#include "mem.h"
#include "msg.h"
#include "param.h"
#include "param_names.h"
#include "smtp.h"
#include "strbuf.h"
#include "strutil.h"
#include "tls.h"

#define SMTP_TLS_MATCH_MAX 16

/* smtp_tls_join: a list parameter as one ':' separated string. */
static char *smtp_tls_join(const char *name)
{
    const char *const *items;
    size_t  n, i;
    strbuf *buf = strbuf_new(64);

    items = param_list(name, &n);
    for (i = 0; i < n; i++) {
        if (i > 0)
            strbuf_putc(buf, ':');
        strbuf_puts(buf, items[i]);
    }
    return strbuf_detach(buf, NULL);
}

/* smtp_tls_ctx_new: a client context for a protocol list and cipher grade. */
static tls_ctx *smtp_tls_ctx_new(const char *protocols, const char *grade, strbuf *err)
{
    tls_client_opts o;
    const char *ciphers;

    ciphers = tls_cipher_grade(grade, param_str(PARAM_TLS_HIGH_CIPHERLIST),
                               param_str(PARAM_TLS_MEDIUM_CIPHERLIST), err);
    if (ciphers == NULL)
        return NULL;
    memset(&o, 0, sizeof(o));
    o.ca_file = param_str(PARAM_SMTP_TLS_CAFILE);
    o.ca_path = param_str(PARAM_SMTP_TLS_CAPATH);
    o.protocols = protocols;
    o.cipherlist = ciphers;
    o.cert_file = "";
    o.key_file = "";
    o.loglevel = (int) param_int(PARAM_SMTP_TLS_LOGLEVEL);
    return tls_client_ctx_create(&o, err);
}

/* smtp_tls_init: read the TLS configuration once. */
void    smtp_tls_init(smtp_config *conf)
{
    enum tls_level level;
    strbuf *err = strbuf_new(64);
    char   *protos;
    const char *policy;

    conf->tls_level = TLS_LEVEL_NONE;
    if (conf->lmtp) {
        strbuf_free(err);
        return;
    }
    if (tls_level_parse(param_str(PARAM_SMTP_TLS_SECURITY_LEVEL), &level) < 0)
        param_fatal_bad(PARAM_SMTP_TLS_SECURITY_LEVEL, "none, may, encrypt, verify or secure");
    conf->tls_level = (int) level;
    conf->tls_servername = param_str(PARAM_SMTP_TLS_SERVERNAME);
    conf->tls_wrapper = param_bool(PARAM_SMTP_TLS_WRAPPERMODE);
    conf->tls_loglevel = (int) param_int(PARAM_SMTP_TLS_LOGLEVEL);
    conf->starttls_ms = (int) (param_time(PARAM_SMTP_STARTTLS_TIMEOUT) > 2000000 ? 2000000000L
                               : param_time(PARAM_SMTP_STARTTLS_TIMEOUT) * 1000);
    conf->tls_verify_match = smtp_tls_join(PARAM_SMTP_TLS_VERIFY_CERT_MATCH);
    conf->tls_secure_match = smtp_tls_join(PARAM_SMTP_TLS_SECURE_CERT_MATCH);
    policy = param_str(PARAM_SMTP_TLS_POLICY_MAPS);
    if (policy != NULL && *policy)
        conf->tls_policy = maps_open(PARAM_SMTP_TLS_POLICY_MAPS, policy, DICT_F_FOLD);
    if (conf->tls_level == TLS_LEVEL_NONE && conf->tls_policy == NULL && !conf->tls_wrapper) {
        strbuf_free(err);
        return;
    }
    protos = smtp_tls_join(PARAM_SMTP_TLS_PROTOCOLS);
    conf->tls_opp = smtp_tls_ctx_new(protos, param_str(PARAM_SMTP_TLS_CIPHERS), err);
    mem_free(protos);
    if (conf->tls_opp != NULL) {
        protos = smtp_tls_join(PARAM_SMTP_TLS_MANDATORY_PROTOCOLS);
        conf->tls_mand = smtp_tls_ctx_new(protos, param_str(PARAM_SMTP_TLS_MANDATORY_CIPHERS),
                                          err);
        mem_free(protos);
    }
    if (conf->tls_opp == NULL || conf->tls_mand == NULL) {
        msg_warn("TLS is not available in the SMTP client: %s", err->data);
        conf->tls_error = mem_strdup(err->data);
        conf->tls_opp = tls_ctx_free(conf->tls_opp);
    }
    strbuf_free(err);
}

/* smtp_tls_policy_parse: one smtp_tls_policy_maps value into st->tls. */
static int smtp_tls_policy_parse(smtp_state *st, const char *key, const char *value,
                                 strbuf *why)
{
    char   *copy = mem_strdup(value);
    char   *cursor = copy, *w;
    enum tls_level level;
    int     ret = -1;
    int     first = 1;
    const char *protocols = NULL;

    while ((w = str_token(&cursor, " \t,")) != NULL) {
        if (first) {
            first = 0;
            if (tls_level_parse(w, &level) < 0 || *w == 0) {
                strbuf_setf(why, "%s: unsupported TLS security level \"%s\" for %s",
                            PARAM_SMTP_TLS_POLICY_MAPS, w, key);
                goto out;
            }
            st->tls.level = (int) level;
        } else if (strncasecmp(w, "match=", 6) == 0 && w[6] != 0) {
            st->tls.match = mem_free(st->tls.match);
            st->tls.match = mem_strdup(w + 6);
        } else if (strncasecmp(w, "protocols=", 10) == 0 && w[10] != 0) {
            protocols = w + 10;
        } else {
            strbuf_setf(why, "%s: unknown attribute \"%s\" in the TLS policy for %s",
                        PARAM_SMTP_TLS_POLICY_MAPS, w, key);
            goto out;
        }
    }
    if (first) {
        strbuf_setf(why, "%s: empty TLS policy for %s", PARAM_SMTP_TLS_POLICY_MAPS, key);
        goto out;
    }
    if (protocols != NULL && st->tls.level != TLS_LEVEL_NONE) {
        strbuf *err = strbuf_new(64);

        st->tls.own_ctx = smtp_tls_ctx_new(protocols, param_str(st->tls.level >= TLS_LEVEL_ENCRYPT
                                                            ? PARAM_SMTP_TLS_MANDATORY_CIPHERS
                                                            : PARAM_SMTP_TLS_CIPHERS), err);
        if (st->tls.own_ctx == NULL) {
            strbuf_setf(why, "%s: bad protocols in the TLS policy for %s: %s",
                        PARAM_SMTP_TLS_POLICY_MAPS, key, err->data);
            strbuf_free(err);
            goto out;
        }
        strbuf_free(err);
    }
    ret = 0;

out:
    mem_free(copy);
    return ret;
}

/* smtp_tls_policy_find: the policy for this request's nexthop. */
int     smtp_tls_policy_find(smtp_state *st, const smtp_nexthop *nh, strbuf *why)
{
    const smtp_config *conf = st->conf;
    strbuf *value;
    const char *keys[2];
    size_t  i;
    int     rc = DICT_NOTFOUND;

    memset(&st->tls, 0, sizeof(st->tls));
    st->tls.level = conf->tls_level;
    (void) str_copy(st->tls.nexthop, sizeof(st->tls.nexthop), nh->host);
    if (conf->tls_policy == NULL)
        return 0;
    value = strbuf_new(64);
    keys[0] = st->req->nexthop;
    keys[1] = nh->host;
    for (i = 0; i < 2 && rc == DICT_NOTFOUND; i++) {
        if (keys[i][0] == 0 || (i == 1 && strcasecmp(keys[0], keys[1]) == 0))
            continue;
        rc = maps_find(conf->tls_policy, keys[i], value);
        if (rc == DICT_FOUND && smtp_tls_policy_parse(st, keys[i], value->data, why) < 0) {
            msg_warn("%s: %s", st->req->queue_id, why->data);
            strbuf_free(value);
            return -1;
        }
    }
    strbuf_free(value);
    if (rc == DICT_RETRY) {
        strbuf_setf(why, "TLS policy lookup for %s failed: %s", st->req->nexthop,
                    maps_error(conf->tls_policy));
        msg_warn("%s: %s", st->req->queue_id, why->data);
        return -1;
    }
    if (msg_verbose)
        msg_info("%s: TLS level %s for %s", st->req->queue_id,
                 tls_level_name((enum tls_level) st->tls.level), st->req->nexthop);
    return 0;
}

/* smtp_tls_policy_done: release the request's policy. */
void    smtp_tls_policy_done(smtp_state *st)
{
    st->tls.match = mem_free(st->tls.match);
    st->tls.own_ctx = tls_ctx_free(st->tls.own_ctx);
}

/* smtp_tls_use_cache: may a cached plaintext connection serve this request? */
int     smtp_tls_use_cache(const smtp_state *st)
{
    return st->tls.level <= TLS_LEVEL_MAY && !st->conf->tls_wrapper
        && !st->conf->sasl_enable;
}

/* smtp_tls_ctx: the context for a level, or NULL when TLS is unavailable. */
static tls_ctx *smtp_tls_ctx(const smtp_state *st, int level)
{
    if (st->tls.own_ctx)
        return st->tls.own_ctx;
    return level >= TLS_LEVEL_ENCRYPT ? st->conf->tls_mand : st->conf->tls_opp;
}

/* smtp_tls_servername: the SNI name for a session, or NULL. */
static const char *smtp_tls_servername(const smtp_state *st, const smtp_session *sess)
{
    const char *spec = st->conf->tls_servername;
    const char *name;

    if (spec == NULL || *spec == 0)
        return NULL;
    if (strcasecmp(spec, "hostname") == 0)
        name = sess->host;
    else if (strcasecmp(spec, "nexthop") == 0)
        name = st->tls.nexthop;
    else
        name = spec;
    /* An address literal is not a server name (RFC 6066). */
    if (strchr(name, ':') != NULL || strspn(name, "0123456789.") == strlen(name))
        return NULL;
    return name;
}

/* smtp_tls_handshake: the TLS handshake at level; SMTP_SESS_OK or _NEXT. */
static int smtp_tls_handshake(smtp_state *st, smtp_session *sess, int level)
{
    tls_client_start_opts o;
    tls_ctx *ctx = smtp_tls_ctx(st, level);
    strbuf *err = strbuf_new(64);
    strbuf *why = strbuf_new(128);
    const char *names[SMTP_TLS_MATCH_MAX + 1];
    char   *storage[SMTP_TLS_MATCH_MAX];
    size_t  nnames = 0, i;
    char   *copy = NULL;
    int     ret = SMTP_SESS_NEXT;

    if (ctx == NULL) {
        strbuf_setf(why, "TLS is required, but is not available: %s",
                    st->conf->tls_error ? st->conf->tls_error : "no TLS context");
        smtp_site_fail(st, "4.7.5", why->data);
        goto out;
    }
    memset(&o, 0, sizeof(o));
    o.level = (enum tls_level) level;
    o.servername = smtp_tls_servername(st, sess);
    o.peer = sess->relay;
    if (level >= TLS_LEVEL_VERIFY) {
        const char *spec = st->tls.match ? st->tls.match : level == TLS_LEVEL_SECURE
            ? st->conf->tls_secure_match : st->conf->tls_verify_match;
        char   *cursor, *w;

        copy = mem_strdup(spec);
        cursor = copy;
        while ((w = str_token(&cursor, ":, \t")) != NULL && nnames < SMTP_TLS_MATCH_MAX) {
            if (strcasecmp(w, "hostname") == 0)
                storage[nnames] = mem_strdup(sess->host);
            else if (strcasecmp(w, "nexthop") == 0)
                storage[nnames] = mem_strdup(st->tls.nexthop);
            else if (strcasecmp(w, "dot-nexthop") == 0)
                storage[nnames] = str_concat(".", st->tls.nexthop, (char *) 0);
            else
                storage[nnames] = mem_strdup(w);
            names[nnames] = storage[nnames];
            nnames++;
        }
        names[nnames] = NULL;
        o.match = names;
    }
    sess->tls = tls_client_start(ctx, sess->fd, st->conf->starttls_ms, &o, err);
    if (sess->tls == NULL) {
        strbuf_setf(why, "Cannot start TLS with host %s: %s", sess->relay, err->data);
        sess->broken = 1;
        smtp_site_fail(st, "4.7.5", why->data);
        goto out;
    }
    if (level >= TLS_LEVEL_VERIFY && !tls_sess_peer_matched(sess->tls)) {
        strbuf_setf(why, "Server certificate not verified: host %s", sess->relay);
        smtp_site_fail(st, "4.7.5", why->data);
        sess->tls = tls_sess_free(sess->tls, NULL);
        sess->broken = 1;
        goto out;
    }
    tls_sess_attach(sess->tls, sess->s);
    ret = SMTP_SESS_OK;

out:
    for (i = 0; i < nnames; i++)
        mem_free(storage[i]);
    mem_free(copy);
    strbuf_free(err);
    strbuf_free(why);
    return ret;
}

/* smtp_tls_wrap: TLS at connect (smtp_tls_wrappermode). */
int     smtp_tls_wrap(smtp_state *st, smtp_session *sess)
{
    int     level = st->tls.level < TLS_LEVEL_ENCRYPT ? TLS_LEVEL_ENCRYPT : st->tls.level;

    return smtp_tls_handshake(st, sess, level);
}

/* smtp_tls_starttls: STARTTLS after EHLO when the policy asks for it. */
int     smtp_tls_starttls(smtp_state *st, smtp_session *sess, int *restart)
{
    const smtp_config *conf = st->conf;
    int     level = st->tls.level;
    strbuf *why;
    int     ret = SMTP_SESS_NEXT;

    *restart = 0;
    if (level == TLS_LEVEL_NONE || sess->tls != NULL)
        return SMTP_SESS_OK;
    if (level == TLS_LEVEL_MAY && smtp_tls_ctx(st, level) == NULL)
        return SMTP_SESS_OK;
    why = strbuf_new(128);
    if (!sess->esmtp || !(sess->ehlo.features & SMTP_EHLO_STARTTLS)) {
        if (level == TLS_LEVEL_MAY) {
            ret = SMTP_SESS_OK;
            goto out;
        }
        strbuf_setf(why, "TLS is required, but was not offered by host %s", sess->relay);
        smtp_site_fail(st, "4.7.4", why->data);
        smtp_session_quit(st, sess);
        goto out;
    }
    if (smtp_send(sess, conf->starttls_ms, "STARTTLS") < 0
        || smtp_get_reply(sess, conf->starttls_ms, "sending STARTTLS", why) < 0) {
        if (strbuf_str(why)[0] == 0)
            smtp_io_reason(sess, "sending STARTTLS", why);
        smtp_site_fail(st, "4.4.2", why->data);
        goto out;
    }
    if (sess->reply->code != 220) {
        smtp_said(sess, "STARTTLS command", why);
        if (level == TLS_LEVEL_MAY) {
            /* Opportunistic: the server is in step and said no. */
            msg_info("%s: %s; continuing without TLS", st->req->queue_id, why->data);
            ret = SMTP_SESS_OK;
            goto out;
        }
        {
            strbuf *text = strbuf_new(128);

            strbuf_setf(text, "TLS is required, but %s", why->data);
            smtp_site_fail(st, "4.7.5", text->data);
            strbuf_free(text);
        }
        smtp_session_quit(st, sess);
        goto out;
    }
    if (stream_buffered(sess->s) > 0) {
        strbuf_setf(why, "host %s sent data after its reply to STARTTLS", sess->relay);
        smtp_site_fail(st, "4.7.5", why->data);
        sess->broken = 1;
        goto out;
    }
    if (smtp_tls_handshake(st, sess, level) != SMTP_SESS_OK)
        goto out;
    /* RFC 3207: forget what the server said before TLS. */
    memset(&sess->ehlo, 0, sizeof(sess->ehlo));
    sess->esmtp = 0;
    *restart = 1;
    ret = SMTP_SESS_OK;

out:
    strbuf_free(why);
    return ret;
}
