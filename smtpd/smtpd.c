/*
 * smtpd: the ESMTP server. main() hands the service to the mail_server
 * skeleton in SINGLE mode (one client per connection); each connection
 * gets a session (smtpd_proto.c) whose hooks, defined here, reach the
 * restriction engine (smtpd_check), anvil (anvil_client) and cleanup
 * (cleanup_client).
 *
 * Public functions: main() only.
 *
 * Configuration (read once in post_init, then never written): the
 * smtpd_* parameters, message_size_limit, line_length_limit,
 * disable_vrfy_command, smtpd_peername_lookup (no: the client name is
 * always "unknown", used by tests that must not touch DNS).
 * A broken restriction configuration is logged once; the engine then
 * answers 451 4.3.5 to everything (no silent permit).
 *
 * Hand-off to cleanup: the envelope (sender, DSN RET/ENVID, SMTPUTF8,
 * BODY, client name/address/protocol, HELO) and the recipients (NOTIFY,
 * ORCPT) go out when DATA/BDAT starts; content follows as it arrives;
 * cleanup writes the queue file only when the content is complete (a
 * client that vanishes, or a killed smtpd, leaves nothing in the queue).
 * Cleanup builds the Received: header from the client_* attributes
 * (plus the TLS summary with smtpd_tls_received_header and the login
 * with smtpd_sasl_authenticated_header).
 *
 * TLS and SASL (pre_init, as root, before the privilege drop): the
 * server TLS context is built from the smtpd_tls_* parameters, so the
 * private key file may stay readable by root only; the session ticket
 * key (smtpd_tls_ticket_key_file) is read or created there too and is
 * shared by every smtpd, so sessions resume across processes. Cyrus SASL
 * is initialised there (smtpd_sasl_path, cyrus_sasl_config_path). A TLS
 * setup failure is logged and TLS is then not offered (with level
 * encrypt nothing is accepted: every MAIL gets 530); a SASL setup
 * failure disables AUTH with a warning. Per connection, the TLS session
 * and the SASL state live in smtpd_ctx.
 *
 * SECURITY: faces the network with mail_owner privileges only. The
 * client address comes from the kernel (getpeername); the client name
 * only from a forward-confirmed PTR lookup. Nothing a client sends
 * reaches msg_fatal.
 * LIMITS: see smtpd_proto.c and smtpd_data.c; DNS lookups for the
 * client name are bounded by the DNS module's deadline.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stddef.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "anvil_client.h"
#include "sasl_server.h"
#include "tls.h"
#include "cleanup_client.h"
#include "dns.h"
#include "flush_client.h"
#include "mail_server.h"
#include "mem.h"
#include "msg.h"
#include "param.h"
#include "smtpd.h"
#include "smtpd_check.h"
#include "strbuf.h"
#include "stream.h"
#include "strutil.h"
#include "trigger.h"

/* Lingering close: at most this many reads of 4 kB, each waited for at
 * most this long. */
#define SMTPD_LINGER_READS  16
#define SMTPD_LINGER_MS     1000

/* Process configuration, written once in post_init. */
static smtpd_config smtpd_cfg;
static int smtpd_peername_lookup = 1;
static anvil_client *smtpd_anvil;
static anvil_limits *smtpd_limits;

/* TLS and SASL configuration, written once in pre_init/post_init. */
static tls_ctx *smtpd_tls;              /* NULL: no TLS */
static unsigned char smtpd_ticket_key[TLS_TICKET_KEY_LEN];
static int smtpd_starttls_ms;
static int smtpd_sasl_ok;               /* Cyrus initialised */
static int smtpd_sasl_flags;            /* smtpd_sasl_security_options */
static int smtpd_sasl_tls_flags;        /* smtpd_sasl_tls_security_options */
static int smtpd_received_tls;          /* smtpd_tls_received_header */
static int smtpd_received_auth;         /* smtpd_sasl_authenticated_header */

/* "421 4.3.2 <myhostname> Service shutting down", formatted in post_init;
 * the skeleton sends it to the client when master stops the system. */
static char smtpd_shutdown_reply[MAIL_SERVER_SHUTDOWN_REPLY_MAX + 1];

/* Per-session data behind smtpd_session.user. */
typedef struct smtpd_ctx {
    smtpd_check_state *check;
    anvil_session *anvil;
    strbuf *prepend;                    /* PREPEND header lines */
    strbuf *redirect;                   /* REDIRECT address */
    int     hold;
    tls_sess *tls;                      /* after STARTTLS, or NULL */
    sasl_server *sasl;                  /* made at first use, or NULL */
} smtpd_ctx;

/* smtpd_view: fill the restriction engine's view of the session. */
static void smtpd_view(smtpd_session *sess, smtpd_check_view *v)
{
    memset(v, 0, sizeof(*v));
    v->client_name = sess->client_name;
    v->client_addr = sess->client_addr;
    v->client_port = sess->client_port;
    v->helo_name = sess->helo_name;
    v->sender = sess->sender;
    v->recipient = sess->current_rcpt;
    v->etrn_domain = sess->etrn_domain;
    v->pipelining_abuse = sess->pipelining_abuse;
    v->sasl_authenticated = sess->sasl_username != NULL;
    v->sasl_username = sess->sasl_username;
    v->rcpt_count = (int) sess->nrcpts;
    v->protocol = sess->protocol;
}

/* smtpd_hook_check: run the restriction engine for one stage. */
static int smtpd_hook_check(smtpd_session *sess, enum smtpd_stage stage,
                            strbuf *reply)
{
    smtpd_ctx *ctx = sess->user;
    smtpd_check_view v;
    smtpd_check_result res;
    int     action;

    smtpd_view(sess, &v);
    smtpd_check_result_init(&res);
    switch (stage) {
    case SMTPD_STAGE_CONNECT:
        action = smtpd_check_connect(ctx->check, &v, &res);
        break;
    case SMTPD_STAGE_HELO:
        action = smtpd_check_helo(ctx->check, &v, &res);
        break;
    case SMTPD_STAGE_MAIL:
        smtpd_check_reset(ctx->check);
        strbuf_reset(ctx->prepend);
        strbuf_reset(ctx->redirect);
        ctx->hold = 0;
        action = smtpd_check_mail(ctx->check, &v, &res);
        break;
    case SMTPD_STAGE_RCPT:
        action = smtpd_check_rcpt(ctx->check, &v, &res);
        break;
    case SMTPD_STAGE_DATA:
        action = smtpd_check_data(ctx->check, &v, &res);
        break;
    case SMTPD_STAGE_EOD:
        action = smtpd_check_eod(ctx->check, &v, &res);
        break;
    default:
        action = smtpd_check_etrn(ctx->check, &v, &res);
        break;
    }
    if (res.reply && res.reply->len)
        strbuf_set(reply, res.reply->data, res.reply->len);
    if (res.prepend && res.prepend->len)
        strbuf_append(ctx->prepend, res.prepend->data, res.prepend->len);
    if (res.redirect && res.redirect->len)
        strbuf_set(ctx->redirect, res.redirect->data, res.redirect->len);
    if (action == SMTPD_CHECK_HOLD) {
        ctx->hold = 1;
        action = SMTPD_CHECK_OK;
    }
    smtpd_check_result_free(&res);
    return action;
}

/* smtpd_hook_limit: ask anvil about one event. */
static int smtpd_hook_limit(smtpd_session *sess, const char *what,
                            strbuf *reply)
{
    smtpd_ctx *ctx = sess->user;

    if (ctx->anvil == NULL)
        return 0;
    if (strcmp(what, "connect") == 0)
        return anvil_session_connect(ctx->anvil, reply) == ANVIL_LIMIT_EXCEEDED;
    if (strcmp(what, "message") == 0)
        return anvil_session_message(ctx->anvil, reply) == ANVIL_LIMIT_EXCEEDED;
    return anvil_session_rcpt(ctx->anvil, reply) == ANVIL_LIMIT_EXCEEDED;
}

/* smtpd_hook_queue_open: connect to cleanup and send the envelope. */
static void *smtpd_hook_queue_open(smtpd_session *sess, strbuf *err)
{
    smtpd_ctx *ctx = sess->user;
    cleanup_client *cl;
    cleanup_env env;
    size_t  i;

    if ((cl = cleanup_open(err)) == NULL)
        return NULL;
    memset(&env, 0, sizeof(env));
    env.sender = sess->sender;
    env.envelope_id = sess->envid;
    env.ret_flags = sess->ret;
    env.smtputf8 = sess->smtputf8;
    env.encoding = sess->body == NULL ? NULL :
        strcmp(sess->body, "8BITMIME") == 0 ? "8bit" : "7bit";
    env.client_name = sess->client_name;
    env.client_address = sess->client_addr;
    env.client_protocol = sess->protocol;
    env.helo_name = sess->helo_name;
    if (smtpd_received_tls)
        env.tls_summary = sess->tls_summary;
    if (smtpd_received_auth)
        env.sasl_username = sess->sasl_username;
    env.submit_uid = -1;
    if (ctx->hold)
        env.flags |= CLEANUP_F_HOLD;
    if (cleanup_envelope(cl, &env) < 0) {
        strbuf_setf(err, "cleanup envelope refused");
        return cleanup_close(cl);
    }
    if (ctx->redirect->len > 0) {
        if (cleanup_recipient(cl, strbuf_str(ctx->redirect), NULL, NULL, 0) < 0)
            goto fail;
    } else {
        for (i = 0; i < sess->nrcpts; i++) {
            if (cleanup_recipient(cl, sess->rcpts[i].addr, sess->rcpts[i].addr,
                                  sess->rcpts[i].orcpt,
                                  sess->rcpts[i].notify) < 0)
                goto fail;
        }
    }
    if (ctx->prepend->len > 0
        && cleanup_content(cl, ctx->prepend->data, ctx->prepend->len) < 0)
        goto fail;
    return cl;

  fail:
    strbuf_setf(err, "cleanup recipient refused");
    return cleanup_close(cl);
}

/* smtpd_hook_queue_content: pass content to cleanup. */
static int smtpd_hook_queue_content(smtpd_session *sess, void *q,
                                    const char *buf, size_t len)
{
    (void) sess;
    return cleanup_content(q, buf, len);
}

/* smtpd_hook_queue_finish: end the content and read cleanup's verdict. */
static int smtpd_hook_queue_finish(smtpd_session *sess, void *q,
                                   strbuf *queue_id, strbuf *reason)
{
    int     rc = cleanup_finish(q, queue_id, reason);

    (void) sess;
    (void) cleanup_close(q);
    return rc;
}

/* smtpd_hook_queue_abort: drop the connection: cleanup writes nothing. */
static void smtpd_hook_queue_abort(smtpd_session *sess, void *q)
{
    (void) sess;
    (void) cleanup_close(q);
}

/* smtpd_hook_etrn: ask the flush service for the site's deferred mail. */
static int smtpd_hook_etrn(smtpd_session *sess, const char *domain, strbuf *reply)
{
    strbuf *why = strbuf_new(64);
    int     st;

    msg_info("ETRN %s from %s[%s]", domain, sess->client_name, sess->client_addr);
    st = flush_send_site(domain, why);
    if (st == FLUSH_STAT_OK) {
        strbuf_free(why);
        return 0;
    }
    msg_warn("ETRN %s from %s[%s]: %s", domain, sess->client_name,
             sess->client_addr, strbuf_str(why));
    /* Postfix's replies: 459 for a site not eligible, else 458. */
    if (st == FLUSH_STAT_DENY)
        strbuf_setf(reply, "459 4.7.1 <%s>: service unavailable", domain);
    else
        strbuf_setf(reply, "458 4.3.0 Unable to queue messages");
    strbuf_free(why);
    return -1;
}

/* smtpd_hook_notify: mail the session transcript to error_notice_recipient
 * (notify_classes); a failure is logged, never shown to the client. */
static void smtpd_hook_notify(smtpd_session *sess, const char *transcript,
                              size_t len)
{
    const char *to = param_str(PARAM_ERROR_NOTICE_RECIPIENT);
    strbuf *text = strbuf_new(len + 512);
    strbuf *err = strbuf_new(64);
    strbuf *id = strbuf_new(32);
    cleanup_client *cl;
    cleanup_env env;

    strbuf_printf(text, "From: Mail Delivery System <MAILER-DAEMON>\n"
                  "To: Postmaster <%s>\n"
                  "Subject: %s SMTP server: errors from %s[%s]\n"
                  "MIME-Version: 1.0\n"
                  "Content-Type: text/plain; charset=us-ascii\n"
                  "Auto-Submitted: auto-generated\n\n"
                  "Transcript of session follows.\n\n",
                  to, param_str(PARAM_MAIL_NAME), sess->client_name,
                  sess->client_addr);
    (void) strbuf_append(text, transcript, len);
    (void) strbuf_puts(text, "\nFor other details, see the local mail logfile.\n");
    memset(&env, 0, sizeof(env));
    env.sender = param_str(PARAM_DOUBLE_BOUNCE_SENDER);
    env.encoding = "7bit";
    env.submit_uid = -1;
    if ((cl = cleanup_open(err)) == NULL) {
        msg_warn("cannot send the session transcript of %s[%s]: %s",
                 sess->client_name, sess->client_addr, strbuf_str(err));
    } else if (cleanup_envelope(cl, &env) < 0
               || cleanup_recipient(cl, to, NULL, NULL, 0) < 0
               || cleanup_content(cl, text->data, text->len) < 0
               || cleanup_finish(cl, id, err) != CLEANUP_STAT_OK) {
        msg_warn("cannot send the session transcript of %s[%s]: %s",
                 sess->client_name, sess->client_addr,
                 err->len ? strbuf_str(err) : "cleanup write error");
        (void) cleanup_close(cl);
    } else {
        msg_info("%s: transcript of the session with %s[%s] sent to <%s>",
                 strbuf_str(id), sess->client_name, sess->client_addr, to);
        (void) cleanup_close(cl);
    }
    strbuf_free(text);
    strbuf_free(err);
    strbuf_free(id);
}

static const smtpd_hooks smtpd_real_hooks = {
    NULL, smtpd_hook_check, smtpd_hook_limit, smtpd_hook_queue_open,
    smtpd_hook_queue_content, smtpd_hook_queue_finish,
    smtpd_hook_queue_abort, smtpd_hook_etrn, smtpd_hook_notify,
};

/* smtpd_hook_starttls: the server handshake; the stream then runs over TLS. */
static int smtpd_hook_starttls(smtpd_session *sess, strbuf *err)
{
    smtpd_ctx *ctx = sess->user;
    strbuf *peer;

    if (smtpd_tls == NULL) {
        strbuf_setf(err, "TLS is not available");
        return -1;
    }
    peer = strbuf_new(64);
    strbuf_printf(peer, "%s[%s]", sess->client_name, sess->client_addr);
    ctx->tls = tls_server_start(smtpd_tls, stream_fd(sess->client),
                                smtpd_starttls_ms, strbuf_str(peer), err);
    strbuf_free(peer);
    if (ctx->tls == NULL)
        return -1;
    tls_sess_attach(ctx->tls, sess->client);
    mem_free(sess->tls_summary);
    sess->tls_summary = mem_strdup(tls_sess_summary(ctx->tls));
    return 0;
}

/* smtpd_sasl_state: this connection's SASL state, made at first use. */
static sasl_server *smtpd_sasl_state(smtpd_session *sess)
{
    smtpd_ctx *ctx = sess->user;
    sasl_server_opts o;
    strbuf *remote, *err;

    if (ctx->sasl != NULL || !smtpd_sasl_ok)
        return ctx->sasl;
    remote = strbuf_new(64);
    err = strbuf_new(64);
    strbuf_printf(remote, "%s;%d", sess->client_addr, sess->client_port);
    memset(&o, 0, sizeof(o));
    o.service = param_str(PARAM_SMTPD_SASL_SERVICE);
    o.server_name = smtpd_cfg.myhostname;
    o.realm = param_str(PARAM_SMTPD_SASL_LOCAL_DOMAIN);
    o.remote_addr = strcmp(sess->client_addr, "unknown") ? strbuf_str(remote) : NULL;
    o.sec_flags = sess->tls_active ? smtpd_sasl_tls_flags : smtpd_sasl_flags;
    o.tls_bits = ctx->tls ? tls_sess_cipher_bits(ctx->tls) : 0;
    if ((ctx->sasl = sasl_server_create(&o, err)) == NULL)
        msg_warn("%s[%s]: %s", sess->client_name, sess->client_addr,
                 strbuf_str(err));
    strbuf_free(remote);
    strbuf_free(err);
    return ctx->sasl;
}

/* smtpd_hook_auth_mechs: the mechanisms to offer, or NULL. */
static const char *smtpd_hook_auth_mechs(smtpd_session *sess)
{
    sasl_server *s = smtpd_sasl_state(sess);

    return s ? sasl_server_mechs(s) : NULL;
}

/* smtpd_auth_result: note the login after success. */
static int smtpd_auth_result(smtpd_session *sess, sasl_server *s, int rc)
{
    if (rc == SASL_SERVER_DONE) {
        mem_free(sess->sasl_method);
        mem_free(sess->sasl_username);
        sess->sasl_method = mem_strdup(sasl_server_method(s));
        sess->sasl_username = mem_strdup(sasl_server_username(s));
    }
    return rc;
}

/* smtpd_hook_auth_begin: start an AUTH exchange. */
static int smtpd_hook_auth_begin(smtpd_session *sess, const char *mech,
                                 const char *resp, size_t len, strbuf *reply)
{
    sasl_server *s = smtpd_sasl_state(sess);

    if (s == NULL) {
        strbuf_setf(reply, "SASL is not available");
        return SMTPD_AUTH_TEMP;
    }
    return smtpd_auth_result(sess, s, sasl_server_begin(s, mech, resp, len, reply));
}

/* smtpd_hook_auth_next: the client's next AUTH response. */
static int smtpd_hook_auth_next(smtpd_session *sess, const char *resp,
                                size_t len, strbuf *reply)
{
    smtpd_ctx *ctx = sess->user;

    return smtpd_auth_result(sess, ctx->sasl,
                             sasl_server_next(ctx->sasl, resp, len, reply));
}

/* smtpd_hook_auth_reset: forget the SASL state (TLS changes the options). */
static void smtpd_hook_auth_reset(smtpd_session *sess)
{
    smtpd_ctx *ctx = sess->user;

    ctx->sasl = sasl_server_free(ctx->sasl);
}

static const smtpd_sec_hooks smtpd_real_sec_hooks = {
    smtpd_hook_starttls, smtpd_hook_auth_mechs, smtpd_hook_auth_begin,
    smtpd_hook_auth_next, smtpd_hook_auth_reset,
};

/* Without a TLS context STARTTLS is neither offered nor accepted. */
static const smtpd_sec_hooks smtpd_notls_sec_hooks = {
    NULL, smtpd_hook_auth_mechs, smtpd_hook_auth_begin,
    smtpd_hook_auth_next, smtpd_hook_auth_reset,
};

/* smtpd_notify_mask: notify_classes as SMTPD_ERR_* bits. */
static int smtpd_notify_mask(void)
{
    static const struct {
        const char *name;
        int     bit;
    } classes[] = {
        {"protocol", SMTPD_ERR_PROTOCOL}, {"policy", SMTPD_ERR_POLICY},
        {"resource", SMTPD_ERR_RESOURCE}, {"software", SMTPD_ERR_SOFTWARE},
        {"bounce", 0}, {"2bounce", 0}, {"delay", 0}, {"data", 0},
    };
    const char *const *list;
    size_t  n, i, j;
    int     mask = 0;

    list = param_list(PARAM_NOTIFY_CLASSES, &n);
    for (i = 0; i < n; i++) {
        for (j = 0; j < sizeof(classes) / sizeof(classes[0]); j++)
            if (strcasecmp(list[i], classes[j].name) == 0)
                break;
        if (j == sizeof(classes) / sizeof(classes[0]))
            msg_warn("%s: unknown class \"%s\" ignored", PARAM_NOTIFY_CLASSES,
                     list[i]);
        else
            mask |= classes[j].bit;
    }
    return mask;
}

/* smtpd_peer: the client's address and port from the kernel. */
static void smtpd_peer(int fd, char *addr, size_t len, int *port)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);

    (void) str_copy(addr, len, "unknown");
    *port = 0;
    if (getpeername(fd, (struct sockaddr *) &ss, &sl) < 0)
        return;
    if (ss.ss_family == AF_INET) {
        struct sockaddr_in *sin = (struct sockaddr_in *) &ss;

        if (inet_ntop(AF_INET, &sin->sin_addr, addr, (socklen_t) len) == NULL)
            (void) str_copy(addr, len, "unknown");
        *port = ntohs(sin->sin_port);
    } else if (ss.ss_family == AF_INET6) {
        struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *) &ss;

        if (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr)) {
            if (inet_ntop(AF_INET, &sin6->sin6_addr.s6_addr[12], addr,
                          (socklen_t) len) == NULL)
                (void) str_copy(addr, len, "unknown");
        } else if (inet_ntop(AF_INET6, &sin6->sin6_addr, addr,
                             (socklen_t) len) == NULL) {
            (void) str_copy(addr, len, "unknown");
        }
        *port = ntohs(sin6->sin6_port);
    } else if (ss.ss_family == AF_UNIX) {
        (void) str_copy(addr, len, "127.0.0.1");
    }
}

/* smtpd_linger: after our last reply, close our side for writing and
 * read what the client still sends (bounded), so that a reply sent while
 * client input was pending is not destroyed by a TCP reset. */
static void smtpd_linger(stream *client)
{
    char    buf[4096];
    struct pollfd pfd;
    int     fd = stream_fd(client);
    int     rounds;

    (void) stream_flush(client);
    if (shutdown(fd, SHUT_WR) < 0)
        return;
    pfd.fd = fd;
    pfd.events = POLLIN;
    for (rounds = 0; rounds < SMTPD_LINGER_READS; rounds++) {
        pfd.revents = 0;
        if (poll(&pfd, 1, SMTPD_LINGER_MS) <= 0)
            return;
        if (recv(fd, buf, sizeof(buf), MSG_DONTWAIT) <= 0)
            return;
    }
}

/* smtpd_conn: serve one client. */
static void smtpd_conn(mail_server *srv, stream *client)
{
    char    addr[INET6_ADDRSTRLEN + 8];
    int     port;
    strbuf *name = strbuf_new(64);
    smtpd_ctx ctx;
    smtpd_session *sess;
    struct pollfd pfd;
    int     early;

    (void) srv;
    smtpd_peer(stream_fd(client), addr, sizeof(addr), &port);
    strbuf_setf(name, "unknown");
    if (smtpd_peername_lookup && strcmp(addr, "unknown") != 0
        && dns_reverse_verify(addr, name) != DNS_OK)
        strbuf_setf(name, "unknown");
    memset(&ctx, 0, sizeof(ctx));
    ctx.check = smtpd_check_session_new();
    ctx.prepend = strbuf_new(64);
    ctx.redirect = strbuf_new(64);
    if (smtpd_limits != NULL && anvil_limits_active(smtpd_limits))
        ctx.anvil = anvil_session_new(smtpd_anvil, smtpd_limits,
                                      mail_server_service(srv) ?
                                      mail_server_service(srv) : "smtpd",
                                      strbuf_str(name), addr);
    sess = smtpd_session_new(&smtpd_cfg, &smtpd_real_hooks, client,
                             strbuf_str(name), addr, port);
    sess->user = &ctx;
    sess->sec = smtpd_tls ? &smtpd_real_sec_hooks : &smtpd_notls_sec_hooks;

    /* An early talker sent something before we could greet it (in
     * wrapper mode the client speaks first: smtpd_proto_run knows). */
    pfd.fd = stream_fd(client);
    pfd.events = POLLIN;
    pfd.revents = 0;
    early = stream_buffered(client) > 0
        || (poll(&pfd, 1, 0) > 0 && (pfd.revents & POLLIN));
    if (early) {
        /* A client that connected and closed at once is no early talker. */
        char    c;

        if (recv(pfd.fd, &c, 1, MSG_PEEK | MSG_DONTWAIT) <= 0)
            early = 0;
    }
    smtpd_proto_run(sess, early);
    /* close_notify first: the linger below shuts the socket down. */
    ctx.tls = tls_sess_free(ctx.tls, client);
    smtpd_linger(client);
    ctx.sasl = sasl_server_free(ctx.sasl);

    sess = smtpd_session_free(sess);
    ctx.anvil = anvil_session_free(ctx.anvil);
    ctx.check = smtpd_check_session_free(ctx.check);
    strbuf_free(ctx.prepend);
    strbuf_free(ctx.redirect);
    strbuf_free(name);
}

/* smtpd_ehlo_bits: smtpd_discard_ehlo_keywords as SMTPD_EHLO_* bits. */
static int smtpd_ehlo_bits(void)
{
    static const struct {
        const char *name;
        int     bit;
    } kw[] = {
        {"pipelining", SMTPD_EHLO_PIPELINING}, {"size", SMTPD_EHLO_SIZE},
        {"vrfy", SMTPD_EHLO_VRFY}, {"etrn", SMTPD_EHLO_ETRN},
        {"enhancedstatuscodes", SMTPD_EHLO_ENHANCEDSTATUSCODES},
        {"8bitmime", SMTPD_EHLO_8BITMIME}, {"dsn", SMTPD_EHLO_DSN},
        {"smtputf8", SMTPD_EHLO_SMTPUTF8}, {"chunking", SMTPD_EHLO_CHUNKING},
        {"silent-discard", SMTPD_EHLO_SILENT},
        {"starttls", SMTPD_EHLO_STARTTLS}, {"auth", SMTPD_EHLO_AUTH},
    };
    const char *const *list;
    size_t  n, i, k;
    int     bits = 0;

    list = param_list(PARAM_SMTPD_DISCARD_EHLO_KEYWORDS, &n);
    for (i = 0; i < n; i++) {
        for (k = 0; k < sizeof(kw) / sizeof(kw[0]); k++) {
            if (strcasecmp(list[i], kw[k].name) == 0) {
                bits |= kw[k].bit;
                break;
            }
        }
        if (k == sizeof(kw) / sizeof(kw[0]))
            msg_warn("%s: ignoring unknown EHLO keyword \"%s\"",
                     PARAM_SMTPD_DISCARD_EHLO_KEYWORDS, list[i]);
    }
    return bits;
}

/* smtpd_tls_level: smtpd_tls_security_level as SMTPD_TLS_*. */
static int smtpd_tls_level(void)
{
    enum tls_level lev;

    if (tls_level_parse(param_str(PARAM_SMTPD_TLS_SECURITY_LEVEL), &lev) < 0
        || lev > TLS_LEVEL_ENCRYPT)
        param_fatal_bad(PARAM_SMTPD_TLS_SECURITY_LEVEL, "none, may or encrypt");
    return lev == TLS_LEVEL_NONE ? SMTPD_TLS_NONE :
        lev == TLS_LEVEL_MAY ? SMTPD_TLS_MAY : SMTPD_TLS_ENCRYPT;
}

/* smtpd_tls_setup: the server TLS context; NULL after a logged failure. */
static tls_ctx *smtpd_tls_setup(int mandatory)
{
    tls_server_opts o;
    strbuf *err = strbuf_new(128);
    strbuf *ciphers = strbuf_new(128);
    const char *grade;
    const char *const *ex;
    size_t  nex, i;
    tls_ctx *ctx = NULL;

    memset(&o, 0, sizeof(o));
    o.cert_file = param_str(PARAM_SMTPD_TLS_CERT_FILE);
    o.key_file = param_str(PARAM_SMTPD_TLS_KEY_FILE);
    o.chain_files = param_str(PARAM_SMTPD_TLS_CHAIN_FILES);
    o.ca_file = param_str(PARAM_SMTPD_TLS_CAFILE);
    o.ca_path = param_str(PARAM_SMTPD_TLS_CAPATH);
    o.req_ccert = param_bool(PARAM_SMTPD_TLS_REQ_CCERT);
    o.ask_ccert = o.req_ccert || param_bool(PARAM_SMTPD_TLS_ASK_CCERT);
    o.protocols = param_str(mandatory ? PARAM_SMTPD_TLS_MANDATORY_PROTOCOLS
                            : PARAM_SMTPD_TLS_PROTOCOLS);
    o.loglevel = (int) param_int(PARAM_SMTPD_TLS_LOGLEVEL);
    o.session_timeout = param_time(PARAM_SMTPD_TLS_SESSION_CACHE_TIMEOUT);
    grade = tls_cipher_grade(param_str(mandatory ? PARAM_SMTPD_TLS_MANDATORY_CIPHERS
                                       : PARAM_SMTPD_TLS_CIPHERS),
                             param_str(PARAM_TLS_HIGH_CIPHERLIST),
                             param_str(PARAM_TLS_MEDIUM_CIPHERLIST), err);
    if (grade == NULL) {
        msg_warn("TLS is disabled: %s", strbuf_str(err));
        goto done;
    }
    strbuf_puts(ciphers, grade);
    ex = param_list(PARAM_SMTPD_TLS_EXCLUDE_CIPHERS, &nex);
    for (i = 0; i < nex; i++)
        strbuf_printf(ciphers, ":!%s", ex[i]);
    o.cipherlist = strbuf_str(ciphers);
    if (o.session_timeout > 0) {
        if (tls_ticket_key_load(param_str(PARAM_SMTPD_TLS_TICKET_KEY_FILE),
                                o.session_timeout, smtpd_ticket_key, err) == 0)
            o.ticket_key = smtpd_ticket_key;
        else
            msg_warn("TLS session tickets are disabled: %s", strbuf_str(err));
    }
    if ((ctx = tls_server_ctx_create(&o, err)) == NULL)
        msg_warn("TLS is disabled: %s", strbuf_str(err));

  done:
    strbuf_free(err);
    strbuf_free(ciphers);
    return ctx;
}

/* smtpd_pre_init: as root: TLS keys and Cyrus SASL. */
static void smtpd_pre_init(mail_server *srv)
{
    strbuf *err = strbuf_new(128);
    int     level = smtpd_tls_level();
    int     wrapper = param_bool(PARAM_SMTPD_TLS_WRAPPERMODE);

    (void) srv;
    if (level != SMTPD_TLS_NONE || wrapper)
        smtpd_tls = smtpd_tls_setup(level == SMTPD_TLS_ENCRYPT || wrapper);
    if (param_bool(PARAM_SMTPD_SASL_AUTH_ENABLE)) {
        if (strcasecmp(param_str(PARAM_SMTPD_SASL_TYPE), "cyrus") != 0)
            param_fatal_bad(PARAM_SMTPD_SASL_TYPE, "cyrus");
        if (sasl_server_options(param_str(PARAM_SMTPD_SASL_SECURITY_OPTIONS),
                                &smtpd_sasl_flags, err) < 0)
            msg_fatal("%s: %s", PARAM_SMTPD_SASL_SECURITY_OPTIONS, strbuf_str(err));
        if (sasl_server_options(param_str(PARAM_SMTPD_SASL_TLS_SECURITY_OPTIONS),
                                &smtpd_sasl_tls_flags, err) < 0)
            msg_fatal("%s: %s", PARAM_SMTPD_SASL_TLS_SECURITY_OPTIONS,
                      strbuf_str(err));
        if (sasl_server_setup(param_str(PARAM_SMTPD_SASL_PATH),
                              param_str(PARAM_CYRUS_SASL_CONFIG_PATH), err) == 0)
            smtpd_sasl_ok = 1;
        else
            msg_warn("AUTH is disabled: %s", strbuf_str(err));
    }
    strbuf_free(err);
}

/* smtpd_post_init: read the configuration once. */
static void smtpd_post_init(mail_server *srv)
{
    strbuf *err = strbuf_new(128);
    const char *bare;
    long    t;

    (void) srv;
    smtpd_config_defaults(&smtpd_cfg);
    smtpd_cfg.myhostname = param_str(PARAM_MYHOSTNAME);
    smtpd_cfg.banner = param_str(PARAM_SMTPD_BANNER);
    smtpd_cfg.message_size_limit = param_size(PARAM_MESSAGE_SIZE_LIMIT);
    smtpd_cfg.line_length_limit = param_int(PARAM_LINE_LENGTH_LIMIT);
    smtpd_cfg.recipient_limit = param_int(PARAM_SMTPD_RECIPIENT_LIMIT);
    t = param_time(PARAM_SMTPD_TIMEOUT);
    smtpd_cfg.timeout_ms = t > 86400 ? 86400000 : (int) t * 1000;
    smtpd_cfg.hard_error_limit = param_int(PARAM_SMTPD_HARD_ERROR_LIMIT);
    smtpd_cfg.soft_error_limit = param_int(PARAM_SMTPD_SOFT_ERROR_LIMIT);
    t = param_time(PARAM_SMTPD_ERROR_SLEEP_TIME);
    smtpd_cfg.error_sleep_ms = t > 3600 ? 3600000L : t * 1000L;
    smtpd_cfg.junk_command_limit = param_int(PARAM_SMTPD_JUNK_COMMAND_LIMIT);
    smtpd_cfg.history_flush_threshold =
        param_int(PARAM_SMTPD_HISTORY_FLUSH_THRESHOLD);
    smtpd_cfg.notify_mask = smtpd_notify_mask();
    bare = param_str(PARAM_SMTPD_FORBID_BARE_NEWLINE);
    if (strcasecmp(bare, "normalize") == 0 || strcasecmp(bare, "no") == 0)
        smtpd_cfg.forbid_bare_newline = SMTPD_BARE_NL_NORMALIZE;
    else if (strcasecmp(bare, "yes") == 0 || strcasecmp(bare, "reject") == 0)
        smtpd_cfg.forbid_bare_newline = SMTPD_BARE_NL_REJECT;
    else
        param_fatal_bad(PARAM_SMTPD_FORBID_BARE_NEWLINE,
                        "normalize, yes, reject or no");
    smtpd_cfg.forbid_unauth_pipelining =
        param_bool(PARAM_SMTPD_FORBID_UNAUTH_PIPELINING);
    smtpd_cfg.disable_vrfy = param_bool(PARAM_DISABLE_VRFY_COMMAND);
    smtpd_cfg.ehlo_discard = smtpd_ehlo_bits();
    smtpd_peername_lookup = param_bool(PARAM_SMTPD_PEERNAME_LOOKUP);
    smtpd_cfg.tls_level = smtpd_tls_level();
    smtpd_cfg.tls_wrappermode = param_bool(PARAM_SMTPD_TLS_WRAPPERMODE);
    smtpd_cfg.tls_auth_only = param_bool(PARAM_SMTPD_TLS_AUTH_ONLY);
    smtpd_cfg.sasl_enable = param_bool(PARAM_SMTPD_SASL_AUTH_ENABLE) && smtpd_sasl_ok;
    smtpd_cfg.broken_sasl_clients = param_bool(PARAM_BROKEN_SASL_AUTH_CLIENTS);
    t = param_time(PARAM_SMTPD_STARTTLS_TIMEOUT);
    smtpd_starttls_ms = t > 86400 ? 86400000 : (int) t * 1000;
    smtpd_received_tls = param_bool(PARAM_SMTPD_TLS_RECEIVED_HEADER);
    smtpd_received_auth = param_bool(PARAM_SMTPD_SASL_AUTHENTICATED_HEADER);
    /* A cut-short hostname is still a useful 421 line. */
    (void) str_format(smtpd_shutdown_reply, sizeof(smtpd_shutdown_reply),
                      "421 4.3.2 %s Service shutting down", smtpd_cfg.myhostname);

    if (smtpd_check_init(err) < 0)
        msg_error("restriction configuration error: %s; every request will "
                  "get 451 4.3.5 until it is fixed", strbuf_str(err));
    smtpd_cfg.helo_required = smtpd_check_helo_required();
    smtpd_limits = anvil_limits_new();
    strbuf_reset(err);
    if (anvil_limits_configure(smtpd_limits, err) < 0)
        msg_warn("%s", strbuf_str(err));
    if (anvil_limits_active(smtpd_limits))
        smtpd_anvil = anvil_open();
    strbuf_free(err);
}

/* main: hand the service to the skeleton. */
int     main(int argc, char **argv)
{
    mail_server_desc desc;

    memset(&desc, 0, sizeof(desc));
    desc.name = "smtpd";
    desc.mode = MAIL_SERVER_SINGLE;
    desc.pre_init = smtpd_pre_init;
    desc.post_init = smtpd_post_init;
    desc.conn = smtpd_conn;
    desc.shutdown_reply = smtpd_shutdown_reply;
    mail_server_main(argc, argv, &desc);
}
