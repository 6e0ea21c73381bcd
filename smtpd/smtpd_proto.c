/*
 * smtpd_proto: the ESMTP session state machine: one client on one
 * stream, commands, replies, limits.
 *
 * Public functions:
 *   smtpd_config_defaults(cfg): Postfix's defaults, for tests and the
 *     fuzzer (smtpd.c fills cfg from the parameter table instead).
 *   smtpd_session_new(cfg, hooks, client, name, addr, port): a session;
 *     cfg, hooks and client stay the caller's and must outlive it; the
 *     strings are copied. Never NULL.
 *   smtpd_session_free(sess): drops an open transaction (nothing is
 *     queued) and frees the session; returns NULL.
 *   smtpd_proto_run(sess, early_talker): the whole conversation: limits
 *     at connect, banner, commands until QUIT, EOF, timeout or a hard
 *     limit. early_talker = the client sent bytes before the banner.
 *     A REJECT/DEFER verdict at the connect stage does not replace the
 *     greeting: it is the answer to every later MAIL, RCPT and ETRN.
 *   smtpd_proto_reply(sess, fmt, ...): send one reply line (CRLF added).
 *     Replies with 4xx/5xx codes count as errors; past
 *     smtpd_soft_error_limit each waits smtpd_error_sleep_time first.
 *     0, or -1 on a write error (the session then ends).
 *   smtpd_proto_reset(sess): forget the transaction (RSET, end of DATA).
 *
 * STARTTLS and AUTH go through sess->sec (smtpd.c fills it with the TLS
 * and SASL hooks). STARTTLS: offered in EHLO before TLS at levels may
 * and encrypt; at encrypt, MAIL, RCPT, DATA, BDAT, VRFY, ETRN and AUTH
 * get "530 5.7.0 Must issue a STARTTLS command first" before TLS. Bytes
 * the client sent after STARTTLS, before our 220 reply, are plaintext
 * that an attacker may have injected: they are discarded with a log line
 * and never executed. After the handshake everything the client told us
 * is forgotten (HELO, transaction, AUTH). smtpd_tls_wrappermode runs the
 * handshake before the banner. AUTH: "AUTH mech [initial-response]",
 * challenges as "334 base64", "*" cancels (501), 235 on success, 535
 * on failure (counted as an error, logged "SASL <mech> authentication
 * failed"); not before HELO/EHLO, not twice, not during a transaction;
 * with smtpd_tls_auth_only (or level encrypt) not before TLS. The
 * protocol becomes ESMTPS/ESMTPA/ESMTPSA. AUTH responses never go into
 * the transcript.
 *
 * SECURITY: every byte comes from an untrusted network client. Commands
 * are read with a SMTPD_CMD_MAX bound; anything with control bytes is
 * refused before it reaches a reply or a log line; addresses and ESMTP
 * parameters go through lib/mail/addr. Restrictions are the check hook's
 * job; this file only asks. Nothing a client sends reaches msg_fatal.
 * LIMITS: AUTH response lines SMTPD_AUTH_LINE_MAX bytes, exchange
 * rounds by the SASL layer; the TLS handshake by smtpd_starttls_timeout;
 * smtpd_timeout per read; smtpd_recipient_limit recipients
 * (452 4.5.3); smtpd_hard_error_limit errors (421 and close);
 * smtpd_junk_command_limit NOOP/RSET/VRFY/ETRN before they count as
 * errors; HELO name 255 bytes; ENVID 100 bytes; ORCPT 500 bytes.
 */
#include <poll.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"
#include "mem.h"
#include "msg.h"
#include "numparse.h"
#include "qfile.h"
#include "sasl_server.h"
#include "smtpd.h"
#include "strbuf.h"
#include "stream.h"
#include "strutil.h"

#define SMTPD_HELO_MAX   255
#define SMTPD_ENVID_MAX  100
#define SMTPD_ORCPT_MAX  500

/* smtpd_config_defaults: Postfix defaults for a config without main.cf. */
void    smtpd_config_defaults(smtpd_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->myhostname = "localhost.localdomain";
    cfg->banner = "localhost.localdomain ESMTP Postern";
    cfg->message_size_limit = 10240000;
    cfg->line_length_limit = 2048;
    cfg->recipient_limit = 1000;
    cfg->timeout_ms = 300000;
    cfg->hard_error_limit = 20;
    cfg->soft_error_limit = 10;
    cfg->error_sleep_ms = 1000;
    cfg->junk_command_limit = 100;
    cfg->history_flush_threshold = 100;
    cfg->forbid_bare_newline = SMTPD_BARE_NL_NORMALIZE;
    cfg->forbid_unauth_pipelining = 1;
}

/* smtpd_session_new: a session for one client. */
smtpd_session *smtpd_session_new(const smtpd_config *cfg,
                                  const smtpd_hooks *hooks, stream *client,
                                  const char *client_name,
                                  const char *client_addr, int client_port)
{
    smtpd_session *sess = mem_calloc(1, sizeof(*sess));

    sess->cfg = cfg;
    sess->hooks = hooks;
    sess->client = client;
    sess->client_name = mem_strdup(client_name ? client_name : "unknown");
    sess->client_addr = mem_strdup(client_addr ? client_addr : "unknown");
    sess->client_port = client_port;
    sess->protocol = "SMTP";
    sess->declared_size = -1;
    sess->line = strbuf_new(256);
    sess->reply = strbuf_new(256);
    sess->queue_id = strbuf_new(32);
    sess->history = strbuf_new(1024);
    return sess;
}

/* smtpd_proto_reset: forget the current transaction. */
void    smtpd_proto_reset(smtpd_session *sess)
{
    size_t  i;

    if (sess->bdat_q != NULL && sess->hooks->queue_abort != NULL)
        sess->hooks->queue_abort(sess, sess->bdat_q);
    sess->bdat_q = NULL;
    sess->bdat_failed = 0;
    sess->bdat_size = 0;
    sess->bdat_pending_cr = 0;
    sess->sender = mem_free(sess->sender);
    sess->envid = mem_free(sess->envid);
    for (i = 0; i < sess->nrcpts; i++) {
        mem_free(sess->rcpts[i].addr);
        mem_free(sess->rcpts[i].orcpt);
    }
    sess->nrcpts = 0;
    sess->ret = NULL;
    sess->body = NULL;
    sess->smtputf8 = 0;
    sess->declared_size = -1;
    sess->verdict = SMTPD_VERDICT_OK;
    sess->current_rcpt = NULL;
}

/* smtpd_session_free: free a session; an open transaction is dropped. */
smtpd_session *smtpd_session_free(smtpd_session *sess)
{
    if (sess == NULL)
        return NULL;
    smtpd_proto_reset(sess);
    mem_free(sess->rcpts);
    mem_free(sess->client_name);
    mem_free(sess->client_addr);
    mem_free(sess->helo_name);
    mem_free(sess->deny_reply);
    mem_free(sess->tls_summary);
    mem_free(sess->sasl_method);
    mem_free(sess->sasl_username);
    strbuf_free(sess->line);
    strbuf_free(sess->reply);
    strbuf_free(sess->queue_id);
    strbuf_free(sess->history);
    mem_free(sess);
    return NULL;
}

/* smtpd_proto_sleep: wait ms milliseconds (error back-off). */
static void smtpd_proto_sleep(long ms)
{
    struct timespec ts;

    if (ms <= 0)
        return;
    ts.tv_sec = ms / 1000;
    ts.tv_nsec = (ms % 1000) * 1000000L;
    while (nanosleep(&ts, &ts) < 0)
         /* retry on EINTR */ ;
}

/* smtpd_proto_history: add transcript lines (text may hold several,
 * CRLF-separated); control bytes and 8-bit bytes become '?', long lines
 * and a full transcript are cut. */
static void smtpd_proto_history(smtpd_session *sess, const char *tag,
                                const char *text, size_t len)
{
    strbuf *h = sess->history;
    size_t  i, n, start;

    while (len > 0 && h->len < SMTPD_HISTORY_MAX) {
        for (n = 0; n < len && text[n] != '\n'; n++)
             /* find the line end */ ;
        i = n;
        if (i > 0 && text[i - 1] == '\r')
            i--;
        if (i > SMTPD_HISTORY_LINE_MAX)
            i = SMTPD_HISTORY_LINE_MAX;
        (void) strbuf_puts(h, tag);
        start = h->len;
        (void) strbuf_append(h, text, i);
        for (; start < h->len; start++) {
            unsigned char c = (unsigned char) h->data[start];

            if (c < 0x20 || c >= 0x7f)
                h->data[start] = '?';
        }
        (void) strbuf_putc(h, '\n');
        sess->history_lines++;
        if (h->len >= SMTPD_HISTORY_MAX)
            (void) strbuf_puts(h, "(transcript truncated)\n");
        if (n >= len)
            break;
        text += n + 1;
        len -= n + 1;
    }
}

/* smtpd_proto_history_in: the command line just read. */
static void smtpd_proto_history_in(smtpd_session *sess)
{
    size_t  len = sess->line->len;

    while (len > 0 && (sess->line->data[len - 1] == '\n'
                       || sess->line->data[len - 1] == '\r'))
        len--;
    /* An AUTH initial response may hold a password: keep the mechanism. */
    if (len > 5 && strncasecmp(sess->line->data, "AUTH ", 5) == 0) {
        const char *sp = memchr(sess->line->data + 5, ' ', len - 5);

        if (sp != NULL)
            len = (size_t) (sp - sess->line->data);
    }
    smtpd_proto_history(sess, "In:  ", sess->line->data, len);
}

/* smtpd_proto_history_flush: forget the transcript when it has grown past
 * smtpd_history_flush_threshold lines (at EHLO, RSET and end of data). */
static void smtpd_proto_history_flush(smtpd_session *sess)
{
    if (sess->history_lines > sess->cfg->history_flush_threshold) {
        strbuf_reset(sess->history);
        sess->history_lines = 0;
    }
}

/* smtpd_proto_reply: send one reply line. */
int     smtpd_proto_reply(smtpd_session *sess, const char *fmt, ...)
{
    va_list ap;
    char    c;

    strbuf_reset(sess->reply);
    va_start(ap, fmt);
    (void) strbuf_vprintf(sess->reply, fmt, ap);
    va_end(ap);
    c = sess->reply->len ? sess->reply->data[0] : '5';
    sess->last_code = 0;
    if (sess->reply->len >= 3 && c >= '1' && c <= '5'
        && sess->reply->data[1] >= '0' && sess->reply->data[1] <= '9'
        && sess->reply->data[2] >= '0' && sess->reply->data[2] <= '9')
        sess->last_code = (c - '0') * 100 + (sess->reply->data[1] - '0') * 10
            + (sess->reply->data[2] - '0');
    /* 500-504 and enhanced codes x.5.y are protocol errors. */
    if ((sess->last_code >= 500 && sess->last_code <= 504)
        || (sess->last_code >= 400 && sess->reply->len >= 7
            && sess->reply->data[5] == '.' && sess->reply->data[6] == '5'))
        sess->error_mask |= SMTPD_ERR_PROTOCOL;
    smtpd_proto_history(sess, "Out: ", sess->reply->data, sess->reply->len);
    if ((c == '4' || c == '5') && strncmp(strbuf_str(sess->reply), "421", 3) != 0) {
        sess->errors++;
        if (sess->errors > sess->cfg->soft_error_limit) {
            (void) stream_flush(sess->client);
            smtpd_proto_sleep(sess->cfg->error_sleep_ms);
        }
    }
    if (msg_verbose)
        msg_info("> %s[%s]: %s", sess->client_name, sess->client_addr,
                 strbuf_str(sess->reply));
    (void) strbuf_append(sess->reply, "\r\n", 2);
    if (stream_write(sess->client, sess->reply->data, sess->reply->len) < 0) {
        sess->quit = 1;
        return -1;
    }
    return 0;
}

/* smtpd_proto_reject: log a refusal of smtpd's own in the Postfix shape,
 * then send it. */
static void smtpd_proto_reject(smtpd_session *sess, const char *stage,
                               const char *sender, const char *reply)
{
    msg_info("NOQUEUE: reject: %s from %s[%s]: %s; from=<%s> proto=%s helo=<%s>",
             stage, sess->client_name, sess->client_addr, reply,
             sender ? sender : "", sess->protocol,
             sess->helo_name ? sess->helo_name : "");
    (void) smtpd_proto_reply(sess, "%s", reply);
}

/* smtpd_proto_check: ask the restriction hook; 1 when a reply was sent. */
static int smtpd_proto_check(smtpd_session *sess, enum smtpd_stage stage)
{
    strbuf *why;
    int     v;

    if (sess->hooks->check == NULL)
        return 0;
    why = strbuf_new(128);
    v = sess->hooks->check(sess, stage, why);
    if (v == SMTPD_VERDICT_REJECT || v == SMTPD_VERDICT_DEFER) {
        if (why->len < 4)
            strbuf_setf(why, "%s", v == SMTPD_VERDICT_REJECT ?
                        "554 5.7.1 Access denied" :
                        "451 4.3.5 Server configuration error");
        sess->error_mask |= SMTPD_ERR_POLICY;
        (void) smtpd_proto_reply(sess, "%s", strbuf_str(why));
        strbuf_free(why);
        return 1;
    }
    if (v == SMTPD_VERDICT_DISCARD || v == SMTPD_VERDICT_HOLD)
        sess->verdict = v;
    strbuf_free(why);
    return 0;
}

/* smtpd_proto_limit: ask anvil; 1 when a limit reply was sent. */
static int smtpd_proto_limit(smtpd_session *sess, const char *what)
{
    strbuf *reply;
    int     over;

    if (sess->hooks->limit == NULL)
        return 0;
    reply = strbuf_new(128);
    over = sess->hooks->limit(sess, what, reply);
    if (over) {
        sess->error_mask |= SMTPD_ERR_POLICY;
        if (reply->len < 4)
            strbuf_setf(reply, "452 4.3.2 Error: too many requests from %s",
                        sess->client_addr);
        (void) smtpd_proto_reply(sess, "%s", strbuf_str(reply));
        if (strncmp(strbuf_str(reply), "421", 3) == 0)
            sess->quit = 1;
    }
    strbuf_free(reply);
    return over;
}

/* smtpd_proto_set_protocol: SMTP after HELO; ESMTP after EHLO, plus S
 * under TLS and A after AUTH. */
static void smtpd_proto_set_protocol(smtpd_session *sess, int esmtp)
{
    if (!esmtp)
        sess->protocol = "SMTP";
    else if (sess->tls_active && sess->sasl_username)
        sess->protocol = "ESMTPSA";
    else if (sess->tls_active)
        sess->protocol = "ESMTPS";
    else if (sess->sasl_username)
        sess->protocol = "ESMTPA";
    else
        sess->protocol = "ESMTP";
}

/* smtpd_proto_esmtp: 1 after EHLO. */
static int smtpd_proto_esmtp(const smtpd_session *sess)
{
    return sess->protocol[0] == 'E';
}

/* smtpd_proto_auth_mechs: the mechanisms to offer now, or NULL. */
static const char *smtpd_proto_auth_mechs(smtpd_session *sess)
{
    const char *mechs;

    if (!sess->cfg->sasl_enable || sess->sec == NULL
        || sess->sec->auth_mechs == NULL || sess->sec->auth_begin == NULL)
        return NULL;
    if (!sess->tls_active && (sess->cfg->tls_auth_only
                              || sess->cfg->tls_level == SMTPD_TLS_ENCRYPT))
        return NULL;
    mechs = sess->sec->auth_mechs(sess);
    return mechs != NULL && *mechs ? mechs : NULL;
}

/* smtpd_proto_ehlo_line: one EHLO keyword unless discarded. */
static void smtpd_proto_ehlo_line(smtpd_session *sess, strbuf *out, int bit,
                                  const char *text)
{
    if (sess->cfg->ehlo_discard & bit)
        return;
    strbuf_printf(out, "250-%s\r\n", text);
}

/* smtpd_proto_helo: HELO and EHLO. */
static void smtpd_proto_helo(smtpd_session *sess, const smtpd_cmd *cmd)
{
    strbuf *out;
    char    size[64];
    size_t  last;
    const char *mechs;

    if (cmd->args_len == 0 || cmd->args_len > SMTPD_HELO_MAX) {
        (void) smtpd_proto_reply(sess, "501 5.5.4 Syntax: %s hostname",
                                 cmd->verb);
        return;
    }
    smtpd_proto_reset(sess);
    mem_free(sess->helo_name);
    sess->helo_name = mem_strndup(cmd->args, cmd->args_len);
    smtpd_proto_set_protocol(sess, cmd->id == SMTPD_CMD_EHLO);
    if (smtpd_proto_check(sess, SMTPD_STAGE_HELO)) {
        sess->helo_name = mem_free(sess->helo_name);
        return;
    }
    if (cmd->id == SMTPD_CMD_HELO) {
        (void) smtpd_proto_reply(sess, "250 %s", sess->cfg->myhostname);
        return;
    }
    out = strbuf_new(256);
    strbuf_printf(out, "250-%s\r\n", sess->cfg->myhostname);
    smtpd_proto_ehlo_line(sess, out, SMTPD_EHLO_PIPELINING, "PIPELINING");
    if (sess->cfg->message_size_limit > 0)
        (void) str_format(size, sizeof(size), "SIZE %ld",
                          sess->cfg->message_size_limit);
    else
        (void) str_copy(size, sizeof(size), "SIZE");
    smtpd_proto_ehlo_line(sess, out, SMTPD_EHLO_SIZE, size);
    if (!sess->cfg->disable_vrfy)
        smtpd_proto_ehlo_line(sess, out, SMTPD_EHLO_VRFY, "VRFY");
    smtpd_proto_ehlo_line(sess, out, SMTPD_EHLO_ETRN, "ETRN");
    smtpd_proto_ehlo_line(sess, out, SMTPD_EHLO_ENHANCEDSTATUSCODES,
                          "ENHANCEDSTATUSCODES");
    smtpd_proto_ehlo_line(sess, out, SMTPD_EHLO_8BITMIME, "8BITMIME");
    smtpd_proto_ehlo_line(sess, out, SMTPD_EHLO_DSN, "DSN");
    smtpd_proto_ehlo_line(sess, out, SMTPD_EHLO_SMTPUTF8, "SMTPUTF8");
    smtpd_proto_ehlo_line(sess, out, SMTPD_EHLO_CHUNKING, "CHUNKING");
    if (sess->sec != NULL && sess->sec->starttls != NULL && !sess->tls_active
        && sess->cfg->tls_level != SMTPD_TLS_NONE)
        smtpd_proto_ehlo_line(sess, out, SMTPD_EHLO_STARTTLS, "STARTTLS");
    if ((mechs = smtpd_proto_auth_mechs(sess)) != NULL
        && !(sess->cfg->ehlo_discard & SMTPD_EHLO_AUTH)) {
        strbuf_printf(out, "250-AUTH %s\r\n", mechs);
        if (sess->cfg->broken_sasl_clients)
            strbuf_printf(out, "250-AUTH=%s\r\n", mechs);
    }
    /* The last line has "250 " instead of "250-". */
    out->len -= 2;
    out->data[out->len] = '\0';
    for (last = out->len; last > 0 && out->data[last - 1] != '\n'; last--)
         /* void */ ;
    out->data[last + 3] = ' ';
    (void) smtpd_proto_reply(sess, "%s", strbuf_str(out));
    strbuf_free(out);
}

/* smtpd_proto_utf8: 1 when text holds a byte >= 0x80. */
static int smtpd_proto_utf8(const char *text)
{
    for (; *text; text++)
        if ((unsigned char) *text >= 0x80)
            return 1;
    return 0;
}

/* smtpd_proto_mail: MAIL FROM. */
static void smtpd_proto_mail(smtpd_session *sess, const smtpd_cmd *cmd)
{
    addr_param params[SMTPD_PARAMS_MAX];
    size_t  nparams = 0, rest = 0, i, plen;
    const char *path, *why;
    strbuf *addr;
    strbuf *tmp;
    long    n;

    if (sess->helo_name == NULL && sess->cfg->helo_required) {
        (void) smtpd_proto_reply(sess, "503 5.5.1 Error: send HELO/EHLO first");
        return;
    }
    if (sess->sender != NULL || sess->bdat_q != NULL) {
        (void) smtpd_proto_reply(sess, "503 5.5.1 Error: nested MAIL command");
        return;
    }
    if (smtpd_cmd_path(cmd->args, cmd->args_len, "FROM:", &path, &plen) < 0) {
        (void) smtpd_proto_reply(sess, "501 5.5.4 Syntax: MAIL FROM:<address>");
        return;
    }
    addr = strbuf_new(64);
    if (addr_parse(path, plen, ADDR_F_STRICT | ADDR_F_NULL_OK | ADDR_F_SMTPUTF8,
                   addr, &rest, &why) < 0) {
        (void) smtpd_proto_reply(sess, "501 5.1.7 Bad sender address syntax");
        strbuf_free(addr);
        return;
    }
    if (addr_params_parse(path + rest, plen - rest, ADDR_F_SMTPUTF8, params,
                          SMTPD_PARAMS_MAX, &nparams, &why) < 0) {
        (void) smtpd_proto_reply(sess, "501 5.5.4 Bad parameter syntax");
        strbuf_free(addr);
        return;
    }
    tmp = strbuf_new(64);
    sess->declared_size = -1;
    for (i = 0; i < nparams; i++) {
        const addr_param *p = &params[i];
        int     bad = 0;

        strbuf_set(tmp, p->keyword, p->keyword_len);
        if (strcasecmp(strbuf_str(tmp), "SIZE") == 0) {
            if (p->value == NULL
                || num_parse_long_n(p->value, p->value_len, 0, 0x7fffffffffffL, &n) < 0)
                bad = 1;
            else
                sess->declared_size = n;
        } else if (strcasecmp(strbuf_str(tmp), "BODY") == 0) {
            if (p->value && p->value_len == 4 && strncasecmp(p->value, "7BIT", 4) == 0)
                sess->body = "7BIT";
            else if (p->value && p->value_len == 8
                     && strncasecmp(p->value, "8BITMIME", 8) == 0)
                sess->body = "8BITMIME";
            else
                bad = 1;
        } else if (strcasecmp(strbuf_str(tmp), "RET") == 0) {
            if (p->value && p->value_len == 4 && strncasecmp(p->value, "FULL", 4) == 0)
                sess->ret = "FULL";
            else if (p->value && p->value_len == 4
                     && strncasecmp(p->value, "HDRS", 4) == 0)
                sess->ret = "HDRS";
            else
                bad = 1;
        } else if (strcasecmp(strbuf_str(tmp), "ENVID") == 0) {
            strbuf *dec = strbuf_new(64);

            if (p->value == NULL || p->value_len > SMTPD_ENVID_MAX
                || addr_xtext_decode(p->value, p->value_len, dec) < 0)
                bad = 1;
            else {
                mem_free(sess->envid);
                sess->envid = strbuf_detach(dec, NULL);
                dec = NULL;
            }
            strbuf_free(dec);
        } else if (strcasecmp(strbuf_str(tmp), "SMTPUTF8") == 0
                   && !(sess->cfg->ehlo_discard & SMTPD_EHLO_SMTPUTF8)) {
            if (p->value != NULL)
                bad = 1;
            else
                sess->smtputf8 = 1;
        } else if (strcasecmp(strbuf_str(tmp), "AUTH") == 0) {
            /* AUTH=<> from relays: accepted and ignored (no SASL yet). */
        } else {
            (void) smtpd_proto_reply(sess, "555 5.5.4 Unsupported option: %s",
                                     strbuf_str(tmp));
            goto fail;
        }
        if (bad) {
            (void) smtpd_proto_reply(sess, "501 5.5.4 Bad %s parameter value",
                                     strbuf_str(tmp));
            goto fail;
        }
    }
    if (!sess->smtputf8 && smtpd_proto_utf8(strbuf_str(addr))) {
        (void) smtpd_proto_reply(sess, "553 5.6.7 Must declare SMTPUTF8 to "
                                 "send unicode address");
        goto fail;
    }
    if (sess->cfg->message_size_limit > 0
        && sess->declared_size > sess->cfg->message_size_limit) {
        smtpd_proto_reject(sess, "MAIL", strbuf_str(addr), "552 5.3.4 Message size exceeds fixed limit");
        goto fail;
    }
    if (smtpd_proto_limit(sess, "message"))
        goto fail;
    sess->sender = strbuf_detach(addr, NULL);
    addr = NULL;
    if (smtpd_proto_check(sess, SMTPD_STAGE_MAIL)) {
        smtpd_proto_reset(sess);
    } else {
        (void) smtpd_proto_reply(sess, "250 2.1.0 Ok");
    }
    strbuf_free(tmp);
    return;

  fail:
    strbuf_free(tmp);
    strbuf_free(addr);
    smtpd_proto_reset(sess);
}

/* smtpd_proto_notify: parse a NOTIFY value; -1 when invalid. */
static int smtpd_proto_notify(const char *v, size_t len)
{
    int     flags = 0;
    size_t  i = 0, j;

    while (i < len) {
        for (j = i; j < len && v[j] != ','; j++)
             /* void */ ;
        if (j - i == 5 && strncasecmp(v + i, "NEVER", 5) == 0)
            flags |= QFILE_NOTIFY_NEVER;
        else if (j - i == 7 && strncasecmp(v + i, "SUCCESS", 7) == 0)
            flags |= QFILE_NOTIFY_SUCCESS;
        else if (j - i == 7 && strncasecmp(v + i, "FAILURE", 7) == 0)
            flags |= QFILE_NOTIFY_FAILURE;
        else if (j - i == 5 && strncasecmp(v + i, "DELAY", 5) == 0)
            flags |= QFILE_NOTIFY_DELAY;
        else
            return -1;
        i = j + 1;
        if (j + 1 == len)
            return -1;                  /* trailing comma */
    }
    if (flags == 0 || ((flags & QFILE_NOTIFY_NEVER) && flags != QFILE_NOTIFY_NEVER))
        return -1;
    return flags;
}

/* smtpd_proto_rcpt: RCPT TO. */
static void smtpd_proto_rcpt(smtpd_session *sess, const smtpd_cmd *cmd)
{
    addr_param params[SMTPD_PARAMS_MAX];
    size_t  nparams = 0, rest = 0, i, plen;
    const char *path, *why;
    strbuf *addr, *orcpt = NULL, *tmp;
    int     notify = 0;
    smtpd_rcpt *r;

    if (sess->sender == NULL) {
        (void) smtpd_proto_reply(sess, "503 5.5.1 Error: need MAIL command");
        return;
    }
    if (sess->bdat_q != NULL) {
        (void) smtpd_proto_reply(sess, "503 5.5.1 Error: BDAT in progress");
        return;
    }
    if ((long) sess->nrcpts >= sess->cfg->recipient_limit
        || sess->nrcpts >= SMTPD_RCPT_HARD_MAX) {
        smtpd_proto_reject(sess, "RCPT", sess->sender, "452 4.5.3 Error: too many recipients");
        return;
    }
    if (smtpd_cmd_path(cmd->args, cmd->args_len, "TO:", &path, &plen) < 0) {
        (void) smtpd_proto_reply(sess, "501 5.5.4 Syntax: RCPT TO:<address>");
        return;
    }
    addr = strbuf_new(64);
    tmp = strbuf_new(64);
    if (addr_parse(path, plen, ADDR_F_STRICT | ADDR_F_POSTMASTER
                   | (sess->smtputf8 ? ADDR_F_SMTPUTF8 : 0),
                   addr, &rest, &why) < 0) {
        (void) smtpd_proto_reply(sess, "501 5.1.3 Bad recipient address syntax");
        goto done;
    }
    if (addr_params_parse(path + rest, plen - rest,
                          sess->smtputf8 ? ADDR_F_SMTPUTF8 : 0, params,
                          SMTPD_PARAMS_MAX, &nparams, &why) < 0) {
        (void) smtpd_proto_reply(sess, "501 5.5.4 Bad parameter syntax");
        goto done;
    }
    for (i = 0; i < nparams; i++) {
        const addr_param *p = &params[i];

        strbuf_set(tmp, p->keyword, p->keyword_len);
        if (strcasecmp(strbuf_str(tmp), "NOTIFY") == 0
            && !(sess->cfg->ehlo_discard & SMTPD_EHLO_DSN)) {
            if (p->value == NULL
                || (notify = smtpd_proto_notify(p->value, p->value_len)) < 0) {
                (void) smtpd_proto_reply(sess, "501 5.5.4 Bad NOTIFY parameter value");
                goto done;
            }
        } else if (strcasecmp(strbuf_str(tmp), "ORCPT") == 0
                   && !(sess->cfg->ehlo_discard & SMTPD_EHLO_DSN)) {
            const char *semi;

            orcpt = orcpt ? orcpt : strbuf_new(64);
            if (p->value == NULL || p->value_len > SMTPD_ORCPT_MAX
                || (semi = memchr(p->value, ';', p->value_len)) == NULL
                || semi == p->value
                || addr_xtext_decode(semi + 1,
                                     p->value_len - (size_t) (semi + 1 - p->value),
                                     orcpt) < 0) {
                (void) smtpd_proto_reply(sess, "501 5.5.4 Bad ORCPT parameter value");
                goto done;
            }
            /* Keep "type;address" with the address decoded. */
            strbuf_set(tmp, p->value, (size_t) (semi + 1 - p->value));
            strbuf_append(tmp, orcpt->data, orcpt->len);
            strbuf_set(orcpt, tmp->data, tmp->len);
        } else {
            (void) smtpd_proto_reply(sess, "555 5.5.4 Unsupported option: %s",
                                     strbuf_str(tmp));
            goto done;
        }
    }
    if (smtpd_proto_limit(sess, "rcpt"))
        goto done;
    sess->current_rcpt = strbuf_str(addr);
    if (smtpd_proto_check(sess, SMTPD_STAGE_RCPT)) {
        sess->current_rcpt = NULL;
        goto done;
    }
    sess->current_rcpt = NULL;
    if (sess->nrcpts == sess->rcpts_alloc) {
        sess->rcpts_alloc = sess->rcpts_alloc ? 2 * sess->rcpts_alloc : 8;
        sess->rcpts = mem_realloc(sess->rcpts,
                                  sess->rcpts_alloc * sizeof(*sess->rcpts));
    }
    r = &sess->rcpts[sess->nrcpts++];
    r->addr = strbuf_detach(addr, NULL);
    addr = NULL;
    r->orcpt = orcpt ? strbuf_detach(orcpt, NULL) : NULL;
    orcpt = NULL;
    r->notify = notify;
    (void) smtpd_proto_reply(sess, "250 2.1.5 Ok");

  done:
    strbuf_free(addr);
    strbuf_free(orcpt);
    strbuf_free(tmp);
}

/* smtpd_proto_open: DATA/BDAT common part: sequence, checks, queue. */
static void *smtpd_proto_open(smtpd_session *sess, const char *verb)
{
    strbuf *err;
    void   *q;

    if (sess->sender == NULL) {
        (void) smtpd_proto_reply(sess, "503 5.5.1 Error: need RCPT command");
        return NULL;
    }
    if (sess->nrcpts == 0) {
        (void) smtpd_proto_reply(sess, "554 5.5.1 Error: no valid recipients");
        return NULL;
    }
    if (smtpd_proto_check(sess, SMTPD_STAGE_DATA))
        return NULL;
    err = strbuf_new(64);
    q = sess->hooks->queue_open ? sess->hooks->queue_open(sess, err) : NULL;
    if (q == NULL) {
        msg_warn("%s[%s]: %s: cannot reach cleanup: %s", sess->client_name,
                 sess->client_addr, verb, strbuf_str(err));
        sess->error_mask |= SMTPD_ERR_RESOURCE;
        (void) smtpd_proto_reply(sess, "451 4.3.0 Error: queue file write error");
    }
    strbuf_free(err);
    return q;
}

/* smtpd_proto_bdat: BDAT size [LAST]. */
static void smtpd_proto_bdat(smtpd_session *sess, const smtpd_cmd *cmd)
{
    size_t  n;
    long    size;
    int     last = 0;

    for (n = 0; n < cmd->args_len && cmd->args[n] != ' ' && cmd->args[n] != '\t'; n++)
         /* void */ ;
    if (n == 0 || num_parse_long_n(cmd->args, n, 0, SMTPD_BDAT_MAX, &size) < 0) {
        /* We cannot know where the chunk ends: stop talking. */
        (void) smtpd_proto_reply(sess, "501 5.5.4 Syntax: BDAT count [LAST]");
        sess->quit = 1;
        return;
    }
    while (n < cmd->args_len && (cmd->args[n] == ' ' || cmd->args[n] == '\t'))
        n++;
    if (n < cmd->args_len) {
        if (cmd->args_len - n == 4 && strncasecmp(cmd->args + n, "LAST", 4) == 0) {
            last = 1;
        } else {
            (void) smtpd_proto_reply(sess, "501 5.5.4 Syntax: BDAT count [LAST]");
            sess->quit = 1;
            return;
        }
    }
    if (sess->cfg->ehlo_discard & SMTPD_EHLO_CHUNKING) {
        (void) smtpd_proto_reply(sess, "502 5.5.1 Error: command not implemented");
        sess->quit = 1;
        return;
    }
    if (sess->bdat_q == NULL && !sess->bdat_failed && sess->sender != NULL
        && sess->nrcpts > 0) {
        sess->bdat_q = smtpd_proto_open(sess, "BDAT");
        if (sess->bdat_q == NULL) {
            /* Reply sent; still consume the chunk to stay in sync. */
            sess->bdat_failed = 2;
            (void) smtpd_data_bdat(sess, size, last);
            smtpd_proto_reset(sess);
            return;
        }
    }
    (void) smtpd_data_bdat(sess, size, last);
}

/* smtpd_proto_etrn: ETRN domain. */
static void smtpd_proto_etrn(smtpd_session *sess, const smtpd_cmd *cmd)
{
    const char *dom = cmd->args;

    if (sess->helo_name == NULL) {
        (void) smtpd_proto_reply(sess, "503 5.5.1 Error: send HELO/EHLO first");
        return;
    }
    if (sess->sender != NULL) {
        (void) smtpd_proto_reply(sess, "503 5.5.1 Error: MAIL transaction in progress");
        return;
    }
    if (cmd->args_len == 0) {
        (void) smtpd_proto_reply(sess, "500 5.5.4 Syntax: ETRN domain");
        return;
    }
    if (*dom == '@' || *dom == '#')
        dom++;
    if (addr_check_domain(dom, strlen(dom), 0) != NULL) {
        (void) smtpd_proto_reply(sess, "501 5.5.4 Error: invalid parameter syntax");
        return;
    }
    sess->etrn_domain = dom;
    if (smtpd_proto_check(sess, SMTPD_STAGE_ETRN)) {
        sess->etrn_domain = NULL;
        return;
    }
    sess->etrn_domain = NULL;
    if (sess->hooks->etrn != NULL) {
        strbuf *reply = strbuf_new(64);

        if (sess->hooks->etrn(sess, dom, reply) < 0) {
            (void) smtpd_proto_reply(sess, "%s", strbuf_str(reply));
            strbuf_free(reply);
            return;
        }
        strbuf_free(reply);
    }
    (void) smtpd_proto_reply(sess, "250 2.0.0 Queuing started");
}

/* smtpd_proto_tls_reset: after the handshake, forget what the client
 * said in clear text (RFC 3207 section 4.2). */
static void smtpd_proto_tls_reset(smtpd_session *sess)
{
    smtpd_proto_reset(sess);
    sess->helo_name = mem_free(sess->helo_name);
    sess->sasl_method = mem_free(sess->sasl_method);
    sess->sasl_username = mem_free(sess->sasl_username);
    if (sess->sec->auth_reset != NULL)
        sess->sec->auth_reset(sess);
    sess->tls_active = 1;
    sess->protocol = "SMTP";
}

/* smtpd_proto_starttls: STARTTLS. */
static void smtpd_proto_starttls(smtpd_session *sess, const smtpd_cmd *cmd)
{
    char    junk[512];
    size_t  dropped = 0, n;
    ssize_t got;
    strbuf *err;

    if (sess->sec == NULL || sess->sec->starttls == NULL
        || sess->cfg->tls_level == SMTPD_TLS_NONE) {
        (void) smtpd_proto_reply(sess, "502 5.5.1 Error: command not implemented");
        return;
    }
    if (sess->tls_active) {
        (void) smtpd_proto_reply(sess, "554 5.5.1 Error: TLS already active");
        return;
    }
    if (cmd->args_len > 0) {
        (void) smtpd_proto_reply(sess, "501 5.5.4 Syntax: STARTTLS");
        return;
    }
    /* Clear text pipelined after STARTTLS must never run inside TLS. */
    while ((n = stream_buffered(sess->client)) > 0) {
        got = stream_read(sess->client, junk, n < sizeof(junk) ? n : sizeof(junk));
        if (got <= 0)
            break;
        dropped += (size_t) got;
    }
    if (dropped > 0) {
        sess->pipelining_abuse = 1;
        sess->error_mask |= SMTPD_ERR_PROTOCOL;
        msg_warn("%s[%s]: discarding %zu bytes sent after STARTTLS in clear "
                 "text (possible command injection)", sess->client_name,
                 sess->client_addr, dropped);
    }
    if (smtpd_proto_reply(sess, "220 2.0.0 Ready to start TLS") < 0)
        return;
    if (stream_flush(sess->client) < 0) {
        sess->quit = 1;
        return;
    }
    err = strbuf_new(128);
    if (sess->sec->starttls(sess, err) < 0) {
        msg_info("SSL_accept error from %s[%s]: %s", sess->client_name,
                 sess->client_addr, strbuf_str(err));
        sess->quit = 1;
    } else {
        smtpd_proto_tls_reset(sess);
    }
    strbuf_free(err);
}

/* smtpd_proto_offered: 1 when mech is a word of the list mechs. */
static int smtpd_proto_offered(const char *mechs, const char *mech)
{
    size_t  n = strlen(mech), w;

    while (*mechs) {
        w = strcspn(mechs, " ");
        if (w == n && strncasecmp(mechs, mech, n) == 0)
            return 1;
        mechs += w;
        while (*mechs == ' ')
            mechs++;
    }
    return 0;
}

/* smtpd_proto_auth: AUTH mechanism [initial-response]. */
static void smtpd_proto_auth(smtpd_session *sess, const smtpd_cmd *cmd)
{
    const char *mechs, *resp = NULL;
    size_t  resp_len = 0, len;
    strbuf *mech, *reply;
    enum stream_status st;
    int     rc;

    if (!sess->cfg->sasl_enable || sess->sec == NULL
        || sess->sec->auth_begin == NULL) {
        (void) smtpd_proto_reply(sess, "503 5.5.1 Error: authentication not enabled");
        return;
    }
    if (sess->cfg->tls_auth_only && !sess->tls_active) {
        (void) smtpd_proto_reply(sess, "538 5.7.11 Encryption required for "
                                 "requested authentication mechanism");
        return;
    }
    if (sess->helo_name == NULL) {
        (void) smtpd_proto_reply(sess, "503 5.5.1 Error: send HELO/EHLO first");
        return;
    }
    if (sess->sasl_username != NULL) {
        (void) smtpd_proto_reply(sess, "503 5.5.1 Error: already authenticated");
        return;
    }
    if (sess->sender != NULL || sess->bdat_q != NULL) {
        (void) smtpd_proto_reply(sess, "503 5.5.1 Error: MAIL transaction in progress");
        return;
    }
    mech = strbuf_new(32);
    reply = strbuf_new(128);
    if (sasl_server_auth_args(cmd->args, cmd->args_len, mech, &resp, &resp_len) < 0) {
        (void) smtpd_proto_reply(sess, "501 5.5.4 Syntax: AUTH mechanism");
        goto done;
    }
    mechs = smtpd_proto_auth_mechs(sess);
    if (mechs == NULL || !smtpd_proto_offered(mechs, strbuf_str(mech))) {
        (void) smtpd_proto_reply(sess, "504 5.5.4 Unsupported authentication mechanism");
        goto done;
    }
    rc = sess->sec->auth_begin(sess, strbuf_str(mech), resp, resp_len, reply);
    while (rc == SMTPD_AUTH_CONTINUE) {
        if (smtpd_proto_reply(sess, "334 %s", strbuf_str(reply)) < 0)
            goto done;
        st = stream_get_line(sess->client, sess->line, SMTPD_AUTH_LINE_MAX);
        if (st == STREAM_TOOLONG) {
            do {
                st = stream_get_line(sess->client, sess->line, SMTPD_AUTH_LINE_MAX);
            } while (st == STREAM_TOOLONG);
            if (st == STREAM_OK)
                (void) smtpd_proto_reply(sess, "500 5.5.6 Authentication exchange "
                                         "line is too long");
            else
                sess->quit = 1;
            goto done;
        }
        if (st == STREAM_TIMEOUT) {
            msg_info("timeout after AUTH from %s[%s]", sess->client_name,
                     sess->client_addr);
            (void) smtpd_proto_reply(sess, "421 4.4.2 %s Error: timeout exceeded",
                                     sess->cfg->myhostname);
            sess->quit = 1;
            goto done;
        }
        if (st != STREAM_OK) {
            msg_info("lost connection after AUTH from %s[%s]", sess->client_name,
                     sess->client_addr);
            sess->quit = 1;
            goto done;
        }
        len = sess->line->len;
        if (len > 0 && sess->line->data[len - 1] == '\n')
            len--;
        if (len > 0 && sess->line->data[len - 1] == '\r')
            len--;
        if (len == 1 && sess->line->data[0] == '*') {
            (void) smtpd_proto_reply(sess, "501 5.7.0 Authentication aborted");
            goto done;
        }
        rc = sess->sec->auth_next(sess, sess->line->data, len, reply);
    }
    switch (rc) {
    case SMTPD_AUTH_DONE:
        smtpd_proto_set_protocol(sess, smtpd_proto_esmtp(sess));
        (void) smtpd_proto_reply(sess, "235 2.7.0 Authentication successful");
        break;
    case SMTPD_AUTH_BADARG:
        msg_warn("%s[%s]: SASL %s authentication failed: %s", sess->client_name,
                 sess->client_addr, strbuf_str(mech), strbuf_str(reply));
        (void) smtpd_proto_reply(sess, "501 5.5.2 Cannot decode response");
        break;
    case SMTPD_AUTH_TEMP:
        msg_warn("%s[%s]: SASL %s authentication failed: %s", sess->client_name,
                 sess->client_addr, strbuf_str(mech), strbuf_str(reply));
        (void) smtpd_proto_reply(sess, "454 4.7.0 Temporary authentication failure: %s",
                                 strbuf_str(reply));
        break;
    default:
        msg_warn("%s[%s]: SASL %s authentication failed: %s", sess->client_name,
                 sess->client_addr, strbuf_str(mech), strbuf_str(reply));
        (void) smtpd_proto_reply(sess, "535 5.7.8 Error: authentication failed: %s",
                                 strbuf_str(reply));
        break;
    }

  done:
    strbuf_free(mech);
    strbuf_free(reply);
}

/* smtpd_proto_needs_tls: 1 for commands refused before TLS at "encrypt". */
static int smtpd_proto_needs_tls(enum smtpd_cmd_id id)
{
    switch (id) {
    case SMTPD_CMD_MAIL:
    case SMTPD_CMD_RCPT:
    case SMTPD_CMD_DATA:
    case SMTPD_CMD_BDAT:
    case SMTPD_CMD_VRFY:
    case SMTPD_CMD_ETRN:
    case SMTPD_CMD_AUTH:
        return 1;
    default:
        return 0;
    }
}

/* smtpd_proto_must_wait: 1 when the client must wait for our reply to cmd. */
static int smtpd_proto_must_wait(const smtpd_session *sess, enum smtpd_cmd_id id)
{
    switch (id) {
    case SMTPD_CMD_EHLO:
    case SMTPD_CMD_HELO:
    case SMTPD_CMD_DATA:
    case SMTPD_CMD_STARTTLS:
    case SMTPD_CMD_AUTH:
        return 1;
    case SMTPD_CMD_BDAT:
    case SMTPD_CMD_QUIT:
        return 0;
    default:
        /* Pipelining needs EHLO with PIPELINING. */
        return !smtpd_proto_esmtp(sess)
            || (sess->cfg->ehlo_discard & SMTPD_EHLO_PIPELINING) != 0;
    }
}

/* smtpd_proto_skip_line: discard the rest of an over-long line. */
static enum stream_status smtpd_proto_skip_line(smtpd_session *sess)
{
    enum stream_status st;

    do {
        st = stream_get_line(sess->client, sess->line, SMTPD_CMD_MAX);
    } while (st == STREAM_TOOLONG);
    return st;
}

/* smtpd_proto_log_end: the Postfix 3 style "disconnect from" line. */
static void smtpd_proto_log_end(smtpd_session *sess)
{
    strbuf *b = strbuf_new(128);
    int     i;

    /* "name=N" when all N were accepted, else "name=ok/N" (Postfix). */
    for (i = 1; i <= SMTPD_CMD_COUNT; i++) {
        int     id = i % SMTPD_CMD_COUNT;   /* unknown (0) comes last */

        if (sess->cmd_count[id] == 0)
            continue;
        strbuf_printf(b, " %s=", id ? smtpd_cmd_name((enum smtpd_cmd_id) id)
                      : "unknown");
        if (sess->cmd_ok[id] != sess->cmd_count[id])
            strbuf_printf(b, "%ld/", sess->cmd_ok[id]);
        strbuf_printf(b, "%ld", sess->cmd_count[id]);
    }
    str_lower(b->data);
    if (sess->cmd_ok_total != sess->cmd_total)
        strbuf_printf(b, " commands=%ld/%ld", sess->cmd_ok_total, sess->cmd_total);
    else
        strbuf_printf(b, " commands=%ld", sess->cmd_total);
    msg_info("disconnect from %s[%s]%s", sess->client_name, sess->client_addr,
             strbuf_str(b));
    strbuf_free(b);
    if ((sess->error_mask & sess->cfg->notify_mask) && sess->hooks->notify != NULL
        && sess->history->len > 0)
        sess->hooks->notify(sess, sess->history->data, sess->history->len);
}

/* smtpd_proto_run: serve one client until it leaves or a limit ends it. */
void    smtpd_proto_run(smtpd_session *sess, int early_talker)
{
    const smtpd_config *cfg = sess->cfg;
    enum stream_status st;
    smtpd_cmd cmd;
    int     rc;
    void   *q;

    memset(&cmd, 0, sizeof(cmd));
    msg_info("connect from %s[%s]", sess->client_name, sess->client_addr);
    stream_set_timeout(sess->client, cfg->timeout_ms);
    if (smtpd_proto_limit(sess, "connect"))
        goto end;
    if (cfg->tls_wrappermode) {
        strbuf *err = strbuf_new(128);

        /* The client speaks first (its TLS hello): no early-talker test. */
        early_talker = 0;
        if (sess->sec == NULL || sess->sec->starttls == NULL) {
            msg_warn("%s[%s]: TLS wrapper mode without TLS support",
                     sess->client_name, sess->client_addr);
            strbuf_free(err);
            goto end;
        }
        if (sess->sec->starttls(sess, err) < 0) {
            msg_info("SSL_accept error from %s[%s]: %s", sess->client_name,
                     sess->client_addr, strbuf_str(err));
            strbuf_free(err);
            goto end;
        }
        strbuf_free(err);
        sess->tls_active = 1;
    }
    if (early_talker) {
        sess->pipelining_abuse = 1;
        if (cfg->forbid_unauth_pipelining) {
            msg_info("improper command pipelining before the banner from "
                     "%s[%s]", sess->client_name, sess->client_addr);
            (void) smtpd_proto_reply(sess, "554 5.5.0 Error: SMTP protocol "
                                     "synchronization");
            goto end;
        }
    }
    if (sess->hooks->check != NULL) {
        /* A connect-time verdict is not the greeting: like Postfix, greet
         * and answer it to every MAIL, RCPT and ETRN. */
        strbuf *why = strbuf_new(128);
        int     v = sess->hooks->check(sess, SMTPD_STAGE_CONNECT, why);

        if (v == SMTPD_VERDICT_REJECT || v == SMTPD_VERDICT_DEFER)
            sess->deny_reply = mem_strdup(why->len >= 4 ? strbuf_str(why)
                                          : "554 5.7.1 Access denied");
        strbuf_free(why);
    }
    (void) smtpd_proto_reply(sess, "220 %s", cfg->banner);

    while (!sess->quit) {
        if (sess->errors >= cfg->hard_error_limit) {
            msg_info("too many errors after %s from %s[%s]",
                     smtpd_cmd_name(cmd.id), sess->client_name, sess->client_addr);
            (void) smtpd_proto_reply(sess, "421 4.7.0 %s Error: too many errors",
                                     cfg->myhostname);
            break;
        }
        st = stream_get_line(sess->client, sess->line, SMTPD_CMD_MAX);
        if (st == STREAM_TOOLONG) {
            st = smtpd_proto_skip_line(sess);
            if (st == STREAM_OK) {
                (void) smtpd_proto_reply(sess, "500 5.5.2 Error: line too long");
                continue;
            }
        }
        if (st == STREAM_TIMEOUT) {
            msg_info("timeout after command from %s[%s]", sess->client_name,
                     sess->client_addr);
            (void) smtpd_proto_reply(sess, "421 4.4.2 %s Error: timeout exceeded",
                                     cfg->myhostname);
            break;
        }
        if (st != STREAM_OK) {
            msg_info("lost connection from %s[%s]", sess->client_name,
                     sess->client_addr);
            break;
        }
        smtpd_proto_history_in(sess);
        rc = smtpd_cmd_parse(sess->line->data, sess->line->len, &cmd);
        sess->last_code = 0;
        if (rc == SMTPD_CMD_ENOEOL) {
            msg_info("lost connection after an incomplete command from %s[%s]",
                     sess->client_name, sess->client_addr);
            break;
        }
        sess->cmd_total++;
        if (rc == SMTPD_CMD_EBADCHAR || rc == SMTPD_CMD_EEMPTY) {
            sess->cmd_count[0]++;
            (void) smtpd_proto_reply(sess, "500 5.5.2 Error: bad syntax");
            continue;
        }
        sess->cmd_count[cmd.id]++;
        if (rc == SMTPD_CMD_EBARELF && cfg->forbid_bare_newline == SMTPD_BARE_NL_REJECT) {
            (void) smtpd_proto_reply(sess, "521 5.5.2 %s Error: bare <LF> received",
                                     cfg->myhostname);
            break;
        }
        if (stream_buffered(sess->client) > 0 && smtpd_proto_must_wait(sess, cmd.id)) {
            sess->pipelining_abuse = 1;
            if (cfg->forbid_unauth_pipelining) {
                msg_info("improper command pipelining after %s from %s[%s]",
                         cmd.verb, sess->client_name, sess->client_addr);
                (void) smtpd_proto_reply(sess, "554 5.5.0 Error: SMTP protocol "
                                         "synchronization");
                break;
            }
        }
        if (sess->deny_reply != NULL && (cmd.id == SMTPD_CMD_MAIL
                                         || cmd.id == SMTPD_CMD_RCPT
                                         || cmd.id == SMTPD_CMD_ETRN)) {
            (void) smtpd_proto_reply(sess, "%s", sess->deny_reply);
            continue;
        }
        if (cfg->tls_level == SMTPD_TLS_ENCRYPT && !sess->tls_active
            && smtpd_proto_needs_tls(cmd.id)) {
            (void) smtpd_proto_reply(sess, "530 5.7.0 Must issue a STARTTLS "
                                     "command first");
            continue;
        }
        if (cmd.id == SMTPD_CMD_EHLO || cmd.id == SMTPD_CMD_HELO
            || cmd.id == SMTPD_CMD_RSET)
            smtpd_proto_history_flush(sess);
        switch (cmd.id) {
        case SMTPD_CMD_HELO:
        case SMTPD_CMD_EHLO:
            smtpd_proto_helo(sess, &cmd);
            break;
        case SMTPD_CMD_MAIL:
            smtpd_proto_mail(sess, &cmd);
            break;
        case SMTPD_CMD_RCPT:
            smtpd_proto_rcpt(sess, &cmd);
            break;
        case SMTPD_CMD_DATA:
            if (cmd.args_len > 0) {
                (void) smtpd_proto_reply(sess, "501 5.5.4 Syntax: DATA");
                break;
            }
            if (sess->bdat_q != NULL || sess->bdat_failed) {
                (void) smtpd_proto_reply(sess, "503 5.5.1 Error: BDAT in progress");
                break;
            }
            if ((q = smtpd_proto_open(sess, "DATA")) == NULL)
                break;
            (void) smtpd_proto_reply(sess, "354 End data with <CR><LF>.<CR><LF>");
            (void) smtpd_data_receive(sess, q);
            smtpd_proto_history_flush(sess);
            break;
        case SMTPD_CMD_BDAT:
            smtpd_proto_bdat(sess, &cmd);
            break;
        case SMTPD_CMD_RSET:
            if (cmd.args_len > 0) {
                (void) smtpd_proto_reply(sess, "501 5.5.4 Syntax: RSET");
                break;
            }
            smtpd_proto_reset(sess);
            (void) smtpd_proto_reply(sess, "250 2.0.0 Ok");
            break;
        case SMTPD_CMD_NOOP:
            (void) smtpd_proto_reply(sess, "250 2.0.0 Ok");
            break;
        case SMTPD_CMD_QUIT:
            (void) smtpd_proto_reply(sess, "221 2.0.0 Bye");
            sess->quit = 1;
            break;
        case SMTPD_CMD_VRFY:
            if (cfg->disable_vrfy)
                (void) smtpd_proto_reply(sess, "502 5.5.1 VRFY command is disabled");
            else if (cmd.args_len == 0)
                (void) smtpd_proto_reply(sess, "501 5.5.4 Syntax: VRFY address");
            else
                (void) smtpd_proto_reply(sess, "252 2.0.0 Cannot VRFY user, "
                                         "but will accept message and attempt delivery");
            break;
        case SMTPD_CMD_HELP:
            (void) smtpd_proto_reply(sess, "214 2.0.0 Commands: HELO EHLO MAIL "
                                     "RCPT DATA BDAT RSET NOOP QUIT VRFY ETRN "
                                     "STARTTLS AUTH HELP");
            break;
        case SMTPD_CMD_ETRN:
            smtpd_proto_etrn(sess, &cmd);
            break;
        case SMTPD_CMD_STARTTLS:
            smtpd_proto_starttls(sess, &cmd);
            break;
        case SMTPD_CMD_AUTH:
            smtpd_proto_auth(sess, &cmd);
            break;
        case SMTPD_CMD_EXPN:
            (void) smtpd_proto_reply(sess, "502 5.5.1 Error: command not implemented");
            break;
        default:
            (void) smtpd_proto_reply(sess, "500 5.5.2 Error: command not recognized");
            break;
        }
        if (sess->last_code >= 200 && sess->last_code < 400) {
            sess->cmd_ok[cmd.id]++;
            sess->cmd_ok_total++;
        }
        if (cmd.id == SMTPD_CMD_NOOP || cmd.id == SMTPD_CMD_RSET
            || cmd.id == SMTPD_CMD_VRFY || cmd.id == SMTPD_CMD_ETRN) {
            if (++sess->junk > cfg->junk_command_limit)
                sess->errors++;
        }
    }
  end:
    (void) stream_flush(sess->client);
    smtpd_proto_reset(sess);
    smtpd_proto_log_end(sess);
}
