/*
 * smtp_proto: one SMTP or LMTP session with one server.
 *
 * Functions (private to smtp/, see smtp.h):
 *   smtp_session_new(fd, addr, host): wrap a connected socket; the
 *     session owns fd. smtp_session_free(sess) closes it, returns NULL.
 *   smtp_session_handshake(st, sess): read the greeting and send
 *     EHLO (HELO when EHLO gets a 5XX reply, or when smtp_never_send_ehlo
 *     says so, or smtp_always_send_ehlo=no and the greeting lacks
 *     "ESMTP"); LHLO for LMTP. Returns SMTP_SESS_OK; SMTP_SESS_NEXT when
 *     the next server should be tried (no connection, timeout, 4XX, or 5XX
 *     greeting with smtp_skip_5xx_greeting), with the site reason set;
 *     SMTP_SESS_STOP when every open recipient got a final result (5XX
 *     greeting without skip, 5XX to HELO/LHLO). TLS and SASL
 *     (smtp_tls.c, smtp_sasl.c) fit in here: wrapper mode before the
 *     greeting; after EHLO (or HELO) STARTTLS as the TLS policy says,
 *     EHLO again over TLS, then AUTH; their failures are site failures
 *     (SMTP_SESS_NEXT).
 *   smtp_send, smtp_get_reply, smtp_said, smtp_io_reason, smtp_site_fail:
 *     the command/reply helpers, shared with smtp_tls.c and smtp_sasl.c.
 *     A command sent with sess->secret_cmd set is logged (with -v) as
 *     "(authentication data)".
 *   smtp_session_deliver(st, sess): one mail transaction for every open
 *     recipient: SIZE, SMTPUTF8 and 8BITMIME checks first (bounces
 *     5.3.4, 5.6.7, 5.6.3), then MAIL FROM (SIZE=, BODY=8BITMIME,
 *     SMTPUTF8, RET=, ENVID= as the server allows), RCPT TO (NOTIFY=,
 *     ORCPT=), DATA, the content (dot-stuffed, lines broken at the line
 *     length limit with CRLF SPACE) and the final dot; all commands up to
 *     DATA in one write when the server offers PIPELINING. Results per
 *     recipient: 2XX sent, 4XX smtp_rcpt_soft, 5XX bounced, with the
 *     server's reply in Postfix's words; a 452 reply to RCPT after some
 *     recipient was accepted leaves that recipient open with rc->again
 *     set, for another transaction on the same session. Returns
 *     SMTP_SESS_OK (session
 *     still usable; sess->good says whether it is ready for MAIL),
 *     SMTP_SESS_NEXT (the session broke: try the next server), or
 *     SMTP_SESS_STOP (do not try other servers). A session from the
 *     connection cache that fails at MAIL FROM returns SMTP_SESS_NEXT
 *     with sess->cached still set and no recipient touched.
 *   smtp_session_quit(st, sess): send QUIT (the write bounded by the quit
 *     timeout) without waiting for the reply; nothing on a session whose
 *     I/O failed (sess->broken), so a stalled server costs no second
 *     timeout.
 *   smtp_session_rset(st, sess): RSET; 0 when the server said 2XX.
 *
 * SECURITY: server replies are parsed by smtp_reply (bounded, printable)
 * before they go into logs and results. Addresses come from the queue
 * file, which cleanup checked; they are sent inside <> without change.
 * LIMITS: SMTP_REPLY_LINE_MAX bytes per reply line, SMTP_REPLY_LINES_MAX
 * lines per reply; every read and write has the phase's timeout.
 */
#include <errno.h>
#include <stdarg.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"
#include "deliver_request.h"
#include "mem.h"
#include "msg.h"
#include "qfile.h"
#include "smtp.h"
#include "smtp_reply.h"
#include "stream.h"
#include "strbuf.h"
#include "strutil.h"
#include "tls.h"

/* smtp_timeout: a configured timeout for stream_set_timeout. */
static int smtp_timeout(int ms)
{
    return ms < 0 ? 0 : ms;
}

/* smtp_session_new: wrap a connected socket. */
smtp_session *smtp_session_new(int fd, const smtp_addr_entry *addr, const char *host)
{
    smtp_session *sess = mem_calloc(1, sizeof(*sess));

    sess->fd = fd;
    sess->s = stream_fdopen(fd, STREAM_F_RDWR);
    sess->addr = addr;
    (void) str_copy(sess->host, sizeof(sess->host), host);
    if (addr->family == AF_UNIX)
        (void) str_format(sess->relay, sizeof(sess->relay), "%s[%s]", host, addr->addr);
    else
        (void) str_format(sess->relay, sizeof(sess->relay), "%s[%s]:%d", host,
                          addr->addr, addr->port);
    sess->reply = smtp_reply_new();
    sess->line = strbuf_new(256);
    sess->cmd = strbuf_new(256);
    sess->text = strbuf_new(256);
    sess->start = time(NULL);
    return sess;
}

/* smtp_session_free: close and free; returns NULL. */
smtp_session *smtp_session_free(smtp_session *sess)
{
    if (sess == NULL)
        return NULL;
    if (sess->tls)
        sess->tls = tls_sess_free(sess->tls, sess->broken ? NULL : sess->s);
    if (sess->s)
        (void) stream_close(sess->s);
    if (sess->auth_mechs)
        strbuf_free(sess->auth_mechs);
    smtp_reply_free(sess->reply);
    strbuf_free(sess->line);
    strbuf_free(sess->cmd);
    strbuf_free(sess->text);
    mem_free(sess);
    return NULL;
}

/* smtp_io_reason: why a read or write failed, in Postfix's words. */
void    smtp_io_reason(smtp_session *sess, const char *doing, strbuf *why)
{
    if (stream_timed_out(sess->s))
        strbuf_setf(why, "conversation with %s timed out while %s", sess->relay, doing);
    else
        strbuf_setf(why, "lost connection with %s while %s", sess->relay, doing);
}

/* smtp_send: format one command line and write it with CRLF. */
int     smtp_send(smtp_session *sess, int ms, const char *fmt, ...)
{
    va_list ap;
    int     rc;

    strbuf_reset(sess->cmd);
    va_start(ap, fmt);
    rc = strbuf_vprintf(sess->cmd, fmt, ap);
    va_end(ap);
    if (rc < 0)
        return -1;
    if (msg_verbose)
        msg_info("> %s: %s", sess->relay, sess->secret_cmd ? "(authentication data)"
                 : sess->cmd->data);
    sess->secret_cmd = 0;
    stream_set_timeout(sess->s, smtp_timeout(ms));
    if (stream_write(sess->s, sess->cmd->data, sess->cmd->len) < 0
        || stream_write(sess->s, "\r\n", 2) < 0) {
        sess->broken = 1;
        return -1;
    }
    return 0;
}

/* smtp_get_reply: read one complete reply; 0, or -1 with why set. */
int     smtp_get_reply(smtp_session *sess, int ms, const char *doing, strbuf *why)
{
    strbuf *err = strbuf_new(64);
    enum stream_status status;
    int     rc;

    smtp_reply_reset(sess->reply);
    stream_set_timeout(sess->s, smtp_timeout(ms));
    for (;;) {
        status = stream_get_line(sess->s, sess->line, SMTP_REPLY_LINE_MAX);
        if (status == STREAM_TOOLONG) {
            strbuf_setf(why, "malformed reply from %s while %s: line too long",
                        sess->relay, doing);
            break;
        }
        if (status != STREAM_OK) {
            smtp_io_reason(sess, doing, why);
            break;
        }
        if (sess->line->len > 0 && sess->line->data[sess->line->len - 1] == '\n')
            strbuf_truncate(sess->line, sess->line->len - 1);
        rc = smtp_reply_feed(sess->reply, sess->line->data, sess->line->len, err);
        if (rc == SMTP_REPLY_DONE) {
            if (msg_verbose)
                msg_info("< %s: %s", sess->relay, sess->reply->text->data);
            strbuf_free(err);
            return 0;
        }
        if (rc == SMTP_REPLY_BAD) {
            strbuf_setf(why, "malformed reply from %s while %s: %s", sess->relay,
                        doing, err->data);
            break;
        }
    }
    /* The stream is out of step with the server now. */
    sess->good = 0;
    sess->broken = 1;
    strbuf_free(err);
    return -1;
}

/* smtp_said: "host X said: REPLY (in reply to WHAT)". */
void    smtp_said(smtp_session *sess, const char *what, strbuf *out)
{
    smtp_reply_oneline(sess->reply, sess->text);
    strbuf_setf(out, "host %s said: %s (in reply to %s)", sess->relay,
                sess->text->data, what);
}

/* smtp_site_fail: remember why this server could not be used. */
void    smtp_site_fail(smtp_state *st, const char *dsn, const char *reason)
{
    msg_info("%s: %s", st->req->queue_id, reason);
    strbuf_setf(st->site_reason, "%s", reason);
    (void) str_copy(st->site_dsn, sizeof(st->site_dsn), dsn);
}

/* smtp_bounce_open: bounce every recipient without a final result. */
static void smtp_bounce_open(smtp_state *st, smtp_session *sess, const char *dsn,
                             const char *reason)
{
    size_t  i;

    for (i = 0; i < st->nrcpts; i++)
        smtp_rcpt_final(st, &st->rcpts[i], DELIVER_STAT_BOUNCE, dsn, sess->relay, reason);
}

/* smtp_session_secure: after EHLO/HELO: STARTTLS, EHLO again, AUTH. */
static int smtp_session_secure(smtp_state *st, smtp_session *sess)
{
    const smtp_config *conf = st->conf;
    strbuf *why;
    int     restart;
    int     rc;

    if ((rc = smtp_tls_starttls(st, sess, &restart)) != SMTP_SESS_OK)
        return rc;
    if (restart) {
        why = strbuf_new(128);
        if (smtp_send(sess, conf->helo_ms, "EHLO %s", conf->helo_name) < 0
            || smtp_get_reply(sess, conf->helo_ms, "performing the EHLO handshake", why) < 0) {
            if (strbuf_str(why)[0] == 0)
                smtp_io_reason(sess, "performing the EHLO handshake", why);
            smtp_site_fail(st, "4.4.2", why->data);
            strbuf_free(why);
            return SMTP_SESS_NEXT;
        }
        if (sess->reply->code / 100 != 2) {
            char    dsn[12];

            smtp_said(sess, "EHLO command", why);
            (void) str_copy(dsn, sizeof(dsn), sess->reply->dsn);
            dsn[0] = '4';
            smtp_site_fail(st, dsn, why->data);
            smtp_session_quit(st, sess);
            strbuf_free(why);
            return SMTP_SESS_NEXT;
        }
        strbuf_free(why);
        smtp_ehlo_parse(sess->reply, &sess->ehlo);
        smtp_sasl_ehlo(sess);
        sess->esmtp = 1;
    }
    return smtp_sasl_auth(st, sess);
}

/* smtp_session_handshake: greeting and EHLO/HELO/LHLO. */
int     smtp_session_handshake(smtp_state *st, smtp_session *sess)
{
    const smtp_config *conf = st->conf;
    strbuf *why = strbuf_new(128);
    int     ret = SMTP_SESS_NEXT;
    int     use_ehlo;
    const char *hello = conf->lmtp ? "LHLO" : "EHLO";
    char    doing[64];

    if (conf->tls_wrapper && !conf->lmtp && smtp_tls_wrap(st, sess) != SMTP_SESS_OK)
        goto out;
    if (smtp_get_reply(sess, conf->helo_ms, "receiving the initial server greeting", why) < 0) {
        smtp_site_fail(st, "4.4.2", why->data);
        goto out;
    }
    if (sess->reply->code / 100 != 2) {
        smtp_reply_oneline(sess->reply, sess->text);
        strbuf_setf(why, "host %s refused to talk to me: %s", sess->relay, sess->text->data);
        if (sess->reply->code / 100 == 5 && !conf->skip_5xx_greeting) {
            smtp_bounce_open(st, sess, sess->reply->dsn, why->data);
            ret = SMTP_SESS_STOP;
            goto out;
        }
        {
            char    dsn[12];

            (void) str_copy(dsn, sizeof(dsn), sess->reply->dsn);
            dsn[0] = '4';
            smtp_site_fail(st, dsn, why->data);
        }
        smtp_session_quit(st, sess);
        goto out;
    }
    use_ehlo = conf->lmtp || (!conf->never_ehlo
                             && (conf->always_ehlo
                                 || strstr(sess->reply->text->data, "ESMTP") != NULL));
    if (use_ehlo) {
        (void) str_format(doing, sizeof(doing), "performing the %s handshake", hello);
        if (smtp_send(sess, conf->helo_ms, "%s %s", hello, conf->helo_name) < 0
            || smtp_get_reply(sess, conf->helo_ms, doing, why) < 0) {
            if (strbuf_str(why)[0] == 0)
                smtp_io_reason(sess, doing, why);
            smtp_site_fail(st, "4.4.2", why->data);
            goto out;
        }
        if (sess->reply->code / 100 == 2) {
            smtp_ehlo_parse(sess->reply, &sess->ehlo);
            smtp_sasl_ehlo(sess);
            sess->esmtp = 1;
            ret = smtp_session_secure(st, sess);
            goto out;
        }
        (void) str_format(doing, sizeof(doing), "%s command", hello);
        smtp_said(sess, doing, why);
        if (sess->reply->code / 100 == 4 || (conf->lmtp && sess->reply->code / 100 != 5)) {
            smtp_site_fail(st, sess->reply->dsn, why->data);
            smtp_session_quit(st, sess);
            goto out;
        }
        if (conf->lmtp) {
            smtp_bounce_open(st, sess, sess->reply->dsn, why->data);
            smtp_session_quit(st, sess);
            ret = SMTP_SESS_STOP;
            goto out;
        }
    }
    /* HELO: by configuration, or after EHLO was refused with 5XX. */
    memset(&sess->ehlo, 0, sizeof(sess->ehlo));
    if (smtp_send(sess, conf->helo_ms, "HELO %s", conf->helo_name) < 0
        || smtp_get_reply(sess, conf->helo_ms, "performing the HELO handshake", why) < 0) {
        if (strbuf_str(why)[0] == 0)
            smtp_io_reason(sess, "performing the HELO handshake", why);
        smtp_site_fail(st, "4.4.2", why->data);
        goto out;
    }
    if (sess->reply->code / 100 == 2) {
        /* Without EHLO there is no STARTTLS (and no AUTH). */
        ret = smtp_session_secure(st, sess);
        goto out;
    }
    smtp_said(sess, "HELO command", why);
    if (sess->reply->code / 100 == 5) {
        smtp_bounce_open(st, sess, sess->reply->dsn, why->data);
        ret = SMTP_SESS_STOP;
    } else
        smtp_site_fail(st, sess->reply->dsn, why->data);
    smtp_session_quit(st, sess);

out:
    strbuf_free(why);
    return ret;
}

/* smtp_needs_utf8: does the envelope need SMTPUTF8? */
static int smtp_needs_utf8(const smtp_state *st)
{
    const unsigned char *p;
    size_t  i;

    if (!(st->qflags & QFILE_FLAG_SMTPUTF8))
        return 0;
    for (p = (const unsigned char *) st->req->sender; *p; p++)
        if (*p >= 0x80)
            return 1;
    for (i = 0; i < st->nrcpts; i++) {
        if (st->rcpts[i].done)
            continue;
        for (p = (const unsigned char *) st->rcpts[i].r->address; *p; p++)
            if (*p >= 0x80)
                return 1;
    }
    return 0;
}

/* smtp_scan_8bit: 1 when the content has a byte >= 0x80, 0 if not, -1 error. */
static int smtp_scan_8bit(smtp_state *st, strbuf *err)
{
    strbuf *piece = strbuf_new(256);
    int     rc;
    size_t  i;
    int     found = 0;

    if (qfile_content_start(st->rd, st->env, err) < 0) {
        strbuf_free(piece);
        return -1;
    }
    while (!found && (rc = qfile_content_next(st->rd, piece, err)) > 0) {
        for (i = 0; i < piece->len; i++)
            if ((unsigned char) piece->data[i] >= 0x80) {
                found = 1;
                break;
            }
    }
    strbuf_free(piece);
    if (!found && rc < 0)
        return -1;
    return found;
}

/* smtp_put: write bytes of content; 0 or -1. */
static int smtp_put(smtp_session *sess, const char *data, size_t len)
{
    if (len > 0 && stream_write(sess->s, data, len) < 0) {
        sess->broken = 1;
        return -1;
    }
    return 0;
}

/* smtp_send_content: the message, dot-stuffed and line-broken, and the dot. */
static int smtp_send_content(smtp_state *st, smtp_session *sess, strbuf *err, int *damaged)
{
    strbuf *piece = strbuf_new(1024);
    long    limit = st->conf->line_limit;
    size_t  col = 0;
    int     rc;
    int     ret = -1;

    *damaged = 0;
    stream_set_timeout(sess->s, smtp_timeout(st->conf->data_xfer_ms));
    if (qfile_content_start(st->rd, st->env, err) < 0) {
        *damaged = 1;
        goto out;
    }
    while ((rc = qfile_content_next(st->rd, piece, err)) > 0) {
        const char *p = piece->data;
        size_t  left = piece->len;

        if (col == 0 && left > 0 && p[0] == '.') {
            if (smtp_put(sess, ".", 1) < 0)
                goto out;
            col = 1;
        }
        while (left > 0) {
            size_t  chunk = left;

            if (limit > 0) {
                if (col >= (size_t) limit) {
                    /* Break here: CRLF, then a space keeps it a continuation. */
                    if (smtp_put(sess, "\r\n ", 3) < 0)
                        goto out;
                    col = 1;
                }
                if (chunk > (size_t) limit - col)
                    chunk = (size_t) limit - col;
            }
            if (smtp_put(sess, p, chunk) < 0)
                goto out;
            p += chunk;
            left -= chunk;
            col += chunk;
        }
        if (rc == QFILE_CONTENT_LINE) {
            if (smtp_put(sess, "\r\n", 2) < 0)
                goto out;
            col = 0;
        }
    }
    if (rc < 0) {
        *damaged = 1;
        goto out;
    }
    if ((col > 0 && smtp_put(sess, "\r\n", 2) < 0) || smtp_put(sess, ".\r\n", 3) < 0)
        goto out;
    stream_set_timeout(sess->s, smtp_timeout(st->conf->data_done_ms));
    if (stream_flush(sess->s) < 0) {
        sess->broken = 1;
        goto out;
    }
    ret = 0;

out:
    strbuf_free(piece);
    return ret;
}

/* smtp_put_xtext: append text as RFC 3461 xtext. */
static void smtp_put_xtext(strbuf *out, const char *text)
{
    strbuf *enc = strbuf_new(64);

    if (addr_xtext_encode(text, strlen(text), enc) == 0)
        strbuf_append(out, enc->data, enc->len);
    strbuf_free(enc);
}

/* smtp_mail_cmd: the MAIL FROM command with its parameters. */
static void smtp_mail_cmd(smtp_state *st, smtp_session *sess, int utf8, strbuf *out)
{
    unsigned f = sess->ehlo.features;

    strbuf_setf(out, "MAIL FROM:<%s>", st->req->sender);
    if (!sess->esmtp)
        return;
    if (f & SMTP_EHLO_SIZE)
        strbuf_printf(out, " SIZE=%ld", st->size);
    if (sess->authed && (f & SMTP_EHLO_AUTH)) {
        /* RFC 4954 5: the sender as the identity we submit for. */
        if (st->req->sender[0]) {
            strbuf_puts(out, " AUTH=");
            smtp_put_xtext(out, st->req->sender);
        } else
            strbuf_puts(out, " AUTH=<>");
    }
    if ((st->qflags & QFILE_FLAG_8BITMIME) && (f & SMTP_EHLO_8BITMIME))
        strbuf_puts(out, " BODY=8BITMIME");
    if (utf8 && (f & SMTP_EHLO_SMTPUTF8))
        strbuf_puts(out, " SMTPUTF8");
    if (f & SMTP_EHLO_DSN) {
        if (st->req->ret == QFILE_RET_FULL)
            strbuf_puts(out, " RET=FULL");
        else if (st->req->ret == QFILE_RET_HDRS)
            strbuf_puts(out, " RET=HDRS");
        if (st->req->envid[0]) {
            strbuf_puts(out, " ENVID=");
            smtp_put_xtext(out, st->req->envid);
        }
    }
}

/* smtp_rcpt_cmd: the RCPT TO command with its DSN parameters. */
static void smtp_rcpt_cmd(smtp_session *sess, const deliver_rcpt *r, strbuf *out)
{
    strbuf_setf(out, "RCPT TO:<%s>", r->address);
    if (!sess->esmtp || !(sess->ehlo.features & SMTP_EHLO_DSN))
        return;
    if (r->notify) {
        const char *sep = " NOTIFY=";

        if (r->notify & QFILE_NOTIFY_NEVER)
            strbuf_puts(out, " NOTIFY=NEVER");
        else {
            if (r->notify & QFILE_NOTIFY_SUCCESS) {
                strbuf_printf(out, "%sSUCCESS", sep);
                sep = ",";
            }
            if (r->notify & QFILE_NOTIFY_FAILURE) {
                strbuf_printf(out, "%sFAILURE", sep);
                sep = ",";
            }
            if (r->notify & QFILE_NOTIFY_DELAY)
                strbuf_printf(out, "%sDELAY", sep);
        }
    }
    if (r->orcpt[0]) {
        const char *semi = strchr(r->orcpt, ';');

        if (semi && semi > r->orcpt) {
            strbuf_printf(out, " ORCPT=%.*s;", (int) (semi - r->orcpt), r->orcpt);
            smtp_put_xtext(out, semi + 1);
        }
    }
}

/* smtp_soft_list: a temporary failure for the given recipients. */
static void smtp_soft_list(smtp_state *st, smtp_session *sess, size_t *idx, size_t n,
                           int accepted_only, const char *dsn, const char *reason)
{
    size_t  i;

    for (i = 0; i < n; i++) {
        smtp_rcpt *rc = &st->rcpts[idx[i]];

        if (accepted_only && !rc->accepted)
            continue;
        smtp_rcpt_soft(st, rc, dsn, sess->relay, reason);
    }
}

/* smtp_final_list: a final result for the given recipients. */
static void smtp_final_list(smtp_state *st, smtp_session *sess, size_t *idx, size_t n,
                            int accepted_only, int status, const char *dsn,
                            const char *reason)
{
    size_t  i;

    for (i = 0; i < n; i++) {
        smtp_rcpt *rc = &st->rcpts[idx[i]];

        if (accepted_only && !rc->accepted)
            continue;
        smtp_rcpt_final(st, rc, status, dsn, sess->relay, reason);
    }
}

/* smtp_reply_result: apply one reply to recipients: sent, soft or bounce. */
static void smtp_reply_result(smtp_state *st, smtp_session *sess, size_t *idx, size_t n,
                              int accepted_only, const char *what)
{
    strbuf *why = strbuf_new(128);
    int     cls = sess->reply->code / 100;

    if (cls == 2) {
        smtp_reply_oneline(sess->reply, why);
        smtp_final_list(st, sess, idx, n, accepted_only, DELIVER_STAT_OK,
                        sess->reply->dsn, why->data);
    } else {
        smtp_said(sess, what, why);
        if (cls == 5)
            smtp_final_list(st, sess, idx, n, accepted_only, DELIVER_STAT_BOUNCE,
                            sess->reply->dsn, why->data);
        else
            smtp_soft_list(st, sess, idx, n, accepted_only,
                           cls == 4 ? sess->reply->dsn : "4.0.0", why->data);
    }
    strbuf_free(why);
}

/* smtp_session_deliver: one mail transaction for every open recipient. */
int     smtp_session_deliver(smtp_state *st, smtp_session *sess)
{
    const smtp_config *conf = st->conf;
    strbuf *why = strbuf_new(128);
    strbuf *err = strbuf_new(64);
    size_t *idx = mem_calloc(st->nrcpts + 1, sizeof(*idx));
    size_t  n = 0;
    size_t  naccepted = 0;
    size_t  i;
    int     pipelining;
    int     utf8;
    int     ret = SMTP_SESS_NEXT;
    int     damaged;
    const char *doing;

    for (i = 0; i < st->nrcpts; i++) {
        int     take = !st->rcpts[i].done && (!st->again_only || st->rcpts[i].again);

        st->rcpts[i].accepted = 0;
        st->rcpts[i].again = 0;
        if (take)
            idx[n++] = i;
    }
    if (n == 0) {
        ret = SMTP_SESS_OK;
        goto out;
    }
    /* What the server cannot take is bounced before anything is sent. */
    if (sess->esmtp && (sess->ehlo.features & SMTP_EHLO_SIZE) && sess->ehlo.size_limit > 0
        && (unsigned long) st->size > sess->ehlo.size_limit) {
        strbuf_setf(why, "message size %ld exceeds size limit %lu of server %s",
                    st->size, sess->ehlo.size_limit, sess->relay);
        smtp_final_list(st, sess, idx, n, 0, DELIVER_STAT_BOUNCE, "5.3.4", why->data);
        ret = SMTP_SESS_OK;
        sess->good = 1;
        goto out;
    }
    utf8 = conf->smtputf8_enable && smtp_needs_utf8(st);
    if (utf8 && !(sess->esmtp && (sess->ehlo.features & SMTP_EHLO_SMTPUTF8))) {
        strbuf_setf(why, "SMTPUTF8 is required, but was not offered by host %s",
                    sess->relay);
        smtp_final_list(st, sess, idx, n, 0, DELIVER_STAT_BOUNCE, "5.6.7", why->data);
        ret = SMTP_SESS_OK;
        sess->good = 1;
        goto out;
    }
    if ((st->qflags & QFILE_FLAG_8BITMIME)
        && !(sess->esmtp && (sess->ehlo.features & SMTP_EHLO_8BITMIME))) {
        if (st->has_8bit < 0)
            st->has_8bit = smtp_scan_8bit(st, err);
        if (st->has_8bit < 0) {
            msg_warn("%s: damaged queue file content: %s", st->req->queue_id, err->data);
            smtp_soft_list(st, sess, idx, n, 0, "4.3.0", "queue file content is damaged");
            ret = SMTP_SESS_STOP;
            goto out;
        }
        if (st->has_8bit) {
            strbuf_setf(why, "host %s does not support 8BITMIME and the message has "
                        "8-bit content", sess->relay);
            smtp_final_list(st, sess, idx, n, 0, DELIVER_STAT_BOUNCE, "5.6.3", why->data);
            ret = SMTP_SESS_OK;
            sess->good = 1;
            goto out;
        }
    }
    pipelining = sess->esmtp && (sess->ehlo.features & SMTP_EHLO_PIPELINING);
    sess->good = 0;

    /* MAIL FROM. */
    smtp_mail_cmd(st, sess, utf8, err);
    doing = "sending MAIL FROM";
    if (smtp_send(sess, conf->mail_ms, "%s", err->data) < 0)
        goto io_fail_mail;
    if (pipelining) {
        for (i = 0; i < n; i++) {
            smtp_rcpt_cmd(sess, st->rcpts[idx[i]].r, err);
            if (smtp_send(sess, conf->rcpt_ms, "%s", err->data) < 0)
                goto io_fail_mail;
        }
        if (smtp_send(sess, conf->data_init_ms, "DATA") < 0)
            goto io_fail_mail;
    }
    if (smtp_get_reply(sess, conf->mail_ms, doing, why) < 0)
        goto io_fail_mail;
    if (sess->reply->code / 100 != 2) {
        if (sess->cached) {
            /* A cached session that fails here is not trusted: go fresh. */
            ret = SMTP_SESS_NEXT;
            goto out;
        }
        smtp_reply_result(st, sess, idx, n, 0, "MAIL FROM command");
        if (pipelining) {
            /* Read and drop the replies to the RCPTs and DATA sent blind. */
            for (i = 0; i <= n; i++)
                if (smtp_get_reply(sess, conf->rcpt_ms, "sending RCPT TO", why) < 0) {
                    ret = SMTP_SESS_NEXT;
                    goto out;
                }
            if (sess->reply->code == 354) {
                (void) smtp_send(sess, conf->data_done_ms, ".");
                if (smtp_get_reply(sess, conf->data_done_ms, "sending end of data", why) < 0)
                    goto out;
            }
        }
        sess->good = 1;
        ret = SMTP_SESS_OK;
        goto out;
    }
    sess->cached = 0;

    /* RCPT TO. */
    doing = "sending RCPT TO";
    for (i = 0; i < n; i++) {
        smtp_rcpt *rc = &st->rcpts[idx[i]];

        if (!pipelining) {
            smtp_rcpt_cmd(sess, rc->r, err);
            if (smtp_send(sess, conf->rcpt_ms, "%s", err->data) < 0)
                goto io_fail;
        }
        if (smtp_get_reply(sess, conf->rcpt_ms, doing, why) < 0)
            goto io_fail;
        if (sess->reply->code / 100 == 2) {
            rc->accepted = 1;
            naccepted++;
        } else if (sess->reply->code == 452 && naccepted > 0) {
            /* Too many recipients for one transaction: the next one. */
            rc->again = 1;
            smtp_said(sess, "RCPT TO command", why);
            (void) str_copy(rc->dsn, sizeof(rc->dsn), sess->reply->dsn);
            (void) str_copy(rc->relay, sizeof(rc->relay), sess->relay);
            strbuf_setf(rc->reason, "%s", why->data);
        } else
            smtp_reply_result(st, sess, &idx[i], 1, 0, "RCPT TO command");
    }

    /* DATA. */
    doing = "sending DATA command";
    if (!pipelining) {
        if (naccepted == 0) {
            ret = smtp_session_rset(st, sess) == 0 ? SMTP_SESS_OK : SMTP_SESS_NEXT;
            goto out;
        }
        if (smtp_send(sess, conf->data_init_ms, "DATA") < 0)
            goto io_fail;
    }
    if (smtp_get_reply(sess, conf->data_init_ms, doing, why) < 0)
        goto io_fail;
    if (sess->reply->code / 100 != 3) {
        if (naccepted > 0)
            smtp_reply_result(st, sess, idx, n, 1, "DATA command");
        ret = smtp_session_rset(st, sess) == 0 ? SMTP_SESS_OK : SMTP_SESS_NEXT;
        goto out;
    }
    if (naccepted == 0) {
        /* 354 without a recipient: end the empty message at once. */
        if (smtp_send(sess, conf->data_done_ms, ".") < 0
            || smtp_get_reply(sess, conf->data_done_ms, "sending end of data", why) < 0)
            goto out;
        ret = smtp_session_rset(st, sess) == 0 ? SMTP_SESS_OK : SMTP_SESS_NEXT;
        goto out;
    }

    /* The content. */
    doing = "sending message body";
    if (smtp_send_content(st, sess, err, &damaged) < 0) {
        if (damaged) {
            msg_warn("%s: damaged queue file content: %s", st->req->queue_id, err->data);
            smtp_soft_list(st, sess, idx, n, 0, "4.3.0", "queue file content is damaged");
            ret = SMTP_SESS_STOP;
            goto out;
        }
        smtp_io_reason(sess, doing, why);
        smtp_soft_list(st, sess, idx, n, 1, "4.4.2", why->data);
        goto out;
    }

    /* The final reply, or one per accepted recipient for LMTP. */
    doing = "sending end of data -- message may be sent more than once";
    if (conf->lmtp) {
        for (i = 0; i < n; i++) {
            smtp_rcpt *rc = &st->rcpts[idx[i]];

            if (!rc->accepted)
                continue;
            if (smtp_get_reply(sess, conf->data_done_ms, doing, why) < 0)
                goto io_fail_accepted;
            smtp_reply_result(st, sess, &idx[i], 1, 1, "end of DATA command");
            rc->accepted = 0;
        }
    } else {
        if (smtp_get_reply(sess, conf->data_done_ms, doing, why) < 0)
            goto io_fail_accepted;
        smtp_reply_result(st, sess, idx, n, 1, "end of DATA command");
    }
    sess->good = 1;
    sess->reuse++;
    ret = SMTP_SESS_OK;
    goto out;

io_fail_mail:
    if (sess->cached) {
        ret = SMTP_SESS_NEXT;
        goto out;
    }
    /* FALLTHROUGH */
io_fail:
    if (strbuf_str(why)[0] == 0)
        smtp_io_reason(sess, doing, why);
    smtp_site_fail(st, "4.4.2", why->data);
    smtp_soft_list(st, sess, idx, n, 0, "4.4.2", why->data);
    ret = SMTP_SESS_NEXT;
    goto out;

io_fail_accepted:
    smtp_soft_list(st, sess, idx, n, 1, "4.4.2", why->data);
    ret = SMTP_SESS_NEXT;

out:
    mem_free(idx);
    strbuf_free(why);
    strbuf_free(err);
    return ret;
}

/* smtp_session_rset: RSET; 0 when the server is ready for MAIL again. */
int     smtp_session_rset(smtp_state *st, smtp_session *sess)
{
    strbuf *why = strbuf_new(64);
    int     ret = -1;

    sess->good = 0;
    if (sess->broken)
        return -1;
    if (smtp_send(sess, st->conf->rset_ms, "RSET") == 0
        && smtp_get_reply(sess, st->conf->rset_ms, "sending RSET", why) == 0
        && sess->reply->code / 100 == 2) {
        sess->good = 1;
        ret = 0;
    }
    strbuf_free(why);
    return ret;
}

/* smtp_session_quit: say goodbye; the reply is not waited for. */
void    smtp_session_quit(smtp_state *st, smtp_session *sess)
{
    sess->good = 0;
    if (sess->broken)
        return;
    /* As Postfix by default, do not wait for the reply to QUIT: a slow
     * server must not hold this process; the write is bounded. */
    if (smtp_send(sess, st->conf->quit_ms, "QUIT") == 0 && stream_flush(sess->s) < 0)
        sess->broken = 1;
}
