/*
 * smtp_sasl: SMTP AUTH in the SMTP client (smtp_sasl_* parameters).
 *
 * Functions (private to smtp/, see smtp.h):
 *   smtp_sasl_init(conf): read the smtp_sasl_* parameters once, open
 *     smtp_sasl_password_maps (in pre_init, so a root-only password file
 *     can be read) and set up Cyrus SASL. Bad option words are fatal
 *     (configuration); a Cyrus setup failure is logged, and every
 *     delivery that needs AUTH then defers. LMTP never authenticates.
 *   smtp_sasl_ehlo(sess): remember the mechanisms of the EHLO reply's
 *     AUTH keyword ("AUTH PLAIN LOGIN", or the old "AUTH=PLAIN LOGIN").
 *   smtp_sasl_auth(st, sess): after EHLO (and after STARTTLS when TLS is
 *     used), when smtp_sasl_auth_enable is set and the server offers
 *     AUTH: look up "user:password" in smtp_sasl_password_maps under the
 *     nexthop as the request gives it (e.g. "[smtp.example.com]:587" or
 *     "example.com"), then under the server's host name; no entry means
 *     the mail goes without AUTH. Mechanisms are the server's list
 *     filtered by smtp_sasl_mechanism_filter, chosen by Cyrus under
 *     smtp_sasl_security_options (smtp_sasl_tls_security_options under
 *     TLS). Returns SMTP_SESS_OK (authenticated or no AUTH needed) or
 *     SMTP_SESS_NEXT with the site reason set, dsn 4.7.0: a lookup
 *     failure, a malformed entry, no usable mechanism ("SASL
 *     authentication failed: cannot authenticate to server X: no
 *     mechanism available") or a refusal ("SASL authentication failed;
 *     server X said: 535 ..."). Authentication failures always defer,
 *     they never bounce: the credentials are ours, not the sender's.
 *
 * SECURITY: the server's challenges are decoded bounded and strictly by
 * lib/net/sasl_client. The password never reaches a log line, not even
 * with -v (smtp_send logs AUTH lines as "(authentication data)").
 * LIMITS: SASL_CLIENT_ROUNDS_MAX challenges; reply limits of smtp_reply;
 * every read and write is bounded by smtp_helo_timeout.
 */
#include <string.h>
#include <strings.h>

#include "maps.h"
#include "mem.h"
#include "msg.h"
#include "param.h"
#include "param_names.h"
#include "sasl_client.h"
#include "smtp.h"
#include "strbuf.h"
#include "strutil.h"
#include "tls.h"

/* smtp_sasl_flags: one security option parameter as SASL_CLIENT_* bits. */
static int smtp_sasl_flags(const char *name)
{
    const char *const *items;
    strbuf *words = strbuf_new(64);
    strbuf *err = strbuf_new(64);
    size_t  n, i;
    int     flags;

    items = param_list(name, &n);
    for (i = 0; i < n; i++) {
        strbuf_puts(words, items[i]);
        strbuf_putc(words, ' ');
    }
    if (sasl_client_options(words->data, &flags, err) < 0)
        param_fatal_bad(name, "noplaintext, noanonymous, noactive, nodictionary, mutual_auth");
    strbuf_free(words);
    strbuf_free(err);
    return flags;
}

/* smtp_sasl_init: read the SASL configuration once. */
void    smtp_sasl_init(smtp_config *conf)
{
    const char *const *items;
    strbuf *err;
    strbuf *filter;
    size_t  n, i;

    conf->sasl_enable = !conf->lmtp && param_bool(PARAM_SMTP_SASL_AUTH_ENABLE);
    if (!conf->sasl_enable)
        return;
    conf->sasl_flags = smtp_sasl_flags(PARAM_SMTP_SASL_SECURITY_OPTIONS);
    conf->sasl_tls_flags = smtp_sasl_flags(PARAM_SMTP_SASL_TLS_SECURITY_OPTIONS);
    filter = strbuf_new(64);
    items = param_list(PARAM_SMTP_SASL_MECHANISM_FILTER, &n);
    for (i = 0; i < n; i++) {
        strbuf_puts(filter, items[i]);
        strbuf_putc(filter, ' ');
    }
    conf->sasl_filter = strbuf_detach(filter, NULL);
    conf->sasl_passwd = maps_open(PARAM_SMTP_SASL_PASSWORD_MAPS,
                                  param_str(PARAM_SMTP_SASL_PASSWORD_MAPS), DICT_F_FOLD);
    err = strbuf_new(64);
    if (sasl_client_setup(err) < 0)
        msg_warn("%s", err->data);
    strbuf_free(err);
}

/* smtp_sasl_ehlo: keep the AUTH mechanisms of the last EHLO reply. */
void    smtp_sasl_ehlo(smtp_session *sess)
{
    const char *text = sess->reply->text->data;
    const char *line = text;

    if (sess->auth_mechs == NULL)
        sess->auth_mechs = strbuf_new(32);
    strbuf_reset(sess->auth_mechs);
    /* Lines are "250-KEYWORD params", '\n' between; skip the first. */
    while (line != NULL && *line) {
        const char *end = strchr(line, '\n');
        size_t  len = end ? (size_t) (end - line) : strlen(line);

        if (line != text && len > 8 && strncasecmp(line + 4, "AUTH", 4) == 0
            && (line[8] == ' ' || line[8] == '=')) {
            /* The last AUTH line wins: the standard form comes after the
             * old AUTH= one on servers that send both. */
            strbuf_set(sess->auth_mechs, line + 9, len - 9);
        }
        line = end ? end + 1 : NULL;
    }
}

/* smtp_sasl_lookup: credentials for this session; DICT_xxx. */
static int smtp_sasl_lookup(smtp_state *st, smtp_session *sess, strbuf *value,
                            const char **key)
{
    maps   *m = st->conf->sasl_passwd;
    int     rc;

    *key = st->req->nexthop;
    rc = maps_find(m, *key, value);
    if (rc != DICT_NOTFOUND)
        return rc;
    if (strcasecmp(sess->host, st->req->nexthop) == 0)
        return rc;
    *key = sess->host;
    return maps_find(m, *key, value);
}

/* smtp_sasl_fail: a site failure, dsn 4.7.0. */
static int smtp_sasl_fail(smtp_state *st, smtp_session *sess, const char *reason, int quit)
{
    smtp_site_fail(st, "4.7.0", reason);
    if (quit)
        smtp_session_quit(st, sess);
    return SMTP_SESS_NEXT;
}

/* smtp_sasl_auth: authenticate when configured and offered. */
int     smtp_sasl_auth(smtp_state *st, smtp_session *sess)
{
    const smtp_config *conf = st->conf;
    strbuf *value, *user, *pass, *out, *err, *why;
    strbuf *mechs;
    sasl_client_opts o;
    sasl_client *sc = NULL;
    const char *key;
    int     rc, ret = SMTP_SESS_NEXT;
    int     done = 0;

    if (!conf->sasl_enable || !sess->esmtp || !(sess->ehlo.features & SMTP_EHLO_AUTH)
        || conf->sasl_passwd == NULL)
        return SMTP_SESS_OK;
    value = strbuf_new(64);
    user = strbuf_new(32);
    pass = strbuf_new(32);
    out = strbuf_new(64);
    err = strbuf_new(64);
    why = strbuf_new(128);
    mechs = strbuf_new(64);

    rc = smtp_sasl_lookup(st, sess, value, &key);
    if (rc == DICT_NOTFOUND) {
        if (msg_verbose)
            msg_info("%s: no SASL credentials for %s", st->req->queue_id, sess->relay);
        ret = SMTP_SESS_OK;
        goto out;
    }
    if (rc == DICT_RETRY) {
        strbuf_setf(why, "SASL password lookup failed: %s", maps_error(conf->sasl_passwd));
        ret = smtp_sasl_fail(st, sess, why->data, 1);
        goto out;
    }
    if (sasl_client_credentials(value->data, user, pass) < 0) {
        strbuf_setf(why, "%s: malformed entry for %s: expected user:password",
                    PARAM_SMTP_SASL_PASSWORD_MAPS, key);
        msg_warn("%s", why->data);
        ret = smtp_sasl_fail(st, sess, why->data, 1);
        goto out;
    }
    (void) sasl_client_filter(sess->auth_mechs ? sess->auth_mechs->data : "",
                              conf->sasl_filter, mechs);
    memset(&o, 0, sizeof(o));
    o.service = "smtp";
    o.server_name = sess->host;
    o.user = user->data;
    o.password = pass->data;
    o.sec_flags = sess->tls ? conf->sasl_tls_flags : conf->sasl_flags;
    /* No external bits: Cyrus would relax noplaintext under them, while
     * Postfix's rule is that smtp_sasl_tls_security_options alone decides
     * what TLS sessions may use. */
    o.tls_bits = 0;
    if ((sc = sasl_client_create(&o, err)) == NULL) {
        strbuf_setf(why, "SASL authentication failed: %s", err->data);
        ret = smtp_sasl_fail(st, sess, why->data, 1);
        goto out;
    }
    rc = sasl_client_begin(sc, mechs->data, out, err);
    if (rc != SASL_CLIENT_OK) {
        strbuf_setf(why, "SASL authentication failed: cannot authenticate to server %s: %s",
                    sess->relay, err->data);
        ret = smtp_sasl_fail(st, sess, why->data, 1);
        goto out;
    }
    if (msg_verbose)
        msg_info("%s: AUTH %s to %s", st->req->queue_id, sasl_client_mech(sc), sess->relay);
    sess->secret_cmd = 1;
    rc = smtp_send(sess, conf->helo_ms, "AUTH %s", out->data);
    while (!done) {
        if (rc < 0 || smtp_get_reply(sess, conf->helo_ms, "performing SASL authentication",
                                     why) < 0) {
            if (strbuf_str(why)[0] == 0)
                smtp_io_reason(sess, "performing SASL authentication", why);
            ret = smtp_sasl_fail(st, sess, why->data, 0);
            goto out;
        }
        if (sess->reply->code == 334) {
            const char *ch = sess->reply->text->data;
            size_t  len = strcspn(ch, "\n");

            ch = len > 4 ? ch + 4 : "";
            len = len > 4 ? len - 4 : 0;
            if (sasl_client_next(sc, ch, len, out, err) != SASL_CLIENT_OK) {
                /* Cancel the exchange (RFC 4954), then give up on this server. */
                strbuf_setf(why, "SASL authentication failed: server %s: %s",
                            sess->relay, err->data);
                if (smtp_send(sess, conf->helo_ms, "*") == 0)
                    (void) smtp_get_reply(sess, conf->helo_ms,
                                          "performing SASL authentication", err);
                ret = smtp_sasl_fail(st, sess, why->data, 1);
                goto out;
            }
            sess->secret_cmd = 1;
            rc = smtp_send(sess, conf->helo_ms, "%s", out->data);
            continue;
        }
        done = 1;
    }
    if (sess->reply->code / 100 != 2) {
        strbuf *said = strbuf_new(128);

        smtp_reply_oneline(sess->reply, said);
        strbuf_setf(why, "SASL authentication failed; server %s said: %s",
                    sess->relay, said->data);
        strbuf_free(said);
        ret = smtp_sasl_fail(st, sess, why->data, 1);
        goto out;
    }
    sess->authed = 1;
    if (msg_verbose)
        msg_info("%s: authenticated to %s as %s with %s", st->req->queue_id,
                 sess->relay, user->data, sasl_client_mech(sc));
    ret = SMTP_SESS_OK;

out:
    sasl_client_free(sc);
    if (pass->len)
        explicit_bzero(pass->data, pass->len);
    if (value->len)
        explicit_bzero(value->data, value->len);
    strbuf_free(value);
    strbuf_free(user);
    strbuf_free(pass);
    strbuf_free(out);
    strbuf_free(err);
    strbuf_free(why);
    strbuf_free(mechs);
    return ret;
}
