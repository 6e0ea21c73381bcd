/*
 * sendmail_smtp: sendmail -bs, a minimal RFC 5321 server on standard
 * input and output, for programs that submit local mail by speaking
 * SMTP to a pipe.
 *
 *   sendmail_smtp(env): run the session. Commands: HELO, EHLO (8BITMIME,
 *     ENHANCEDSTATUSCODES, SIZE), MAIL FROM (BODY=, SIZE=, RET=, ENVID=),
 *     RCPT TO (NOTIFY= and ORCPT= accepted and ignored: -bs has no
 *     per-recipient DSN), DATA (dot-unstuffing, CRLF or LF line ends),
 *     RSET, NOOP, VRFY (252), QUIT. Each message goes to postdrop exactly
 *     as a command-line submission (sendmail_submit.c) and is
 *     acknowledged only once postdrop made it durable. Returns EX_OK when
 *     the client quit or closed the connection.
 *
 * SECURITY: the peer is the invoking user; no privilege is involved and
 *   everything is checked again by postdrop and pickup.
 * LIMITS: command lines SENDMAIL_SMTP_LINE_MAX bytes; data lines are read
 *   in pieces; message size message_size_limit; SENDMAIL_SMTP_RCPT_MAX
 *   recipients per message; SENDMAIL_SMTP_ERRORS bad commands end the
 *   session; input is idle-limited by SENDMAIL_SMTP_TIMEOUT.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sysexits.h>

#include "addr.h"
#include "mem.h"
#include "numparse.h"
#include "msg.h"
#include "param.h"
#include "qfile.h"
#include "sendmail.h"
#include "stream.h"
#include "strbuf.h"
#include "strutil.h"

#define SENDMAIL_SMTP_LINE_MAX  2048
#define SENDMAIL_SMTP_DATA_MAX  65536
#define SENDMAIL_SMTP_RCPT_MAX  1000
#define SENDMAIL_SMTP_ERRORS    20
#define SENDMAIL_SMTP_TIMEOUT   (300 * 1000)

/* One session. */
typedef struct smtp_session {
    stream *in;
    stream *out;
    sendmail_env *env;
    char   *sender;                     /* NULL: no MAIL FROM yet */
    char   *envid;
    strbuf *line;
    int     errors;
} smtp_session;

/* smtp_reply: send one reply line. */
static void smtp_reply(smtp_session *s, const char *text)
{
    (void) stream_puts(s->out, text);
    (void) stream_puts(s->out, "\r\n");
    (void) stream_flush(s->out);
}

/* smtp_reset: forget the current transaction. */
static void smtp_reset(smtp_session *s)
{
    size_t  i;

    for (i = 0; i < s->env->nrcpts; i++)
        mem_free(s->env->rcpts[i]);
    s->env->rcpts = mem_free(s->env->rcpts);
    s->env->nrcpts = 0;
    s->sender = mem_free(s->sender);
    s->envid = mem_free(s->envid);
    s->env->encoding = NULL;
    s->env->ret = QFILE_RET_NONE;
    s->env->envid = NULL;
}

/* smtp_verb: does the command start with verb (case-insensitively)? */
static int smtp_verb(const char *cmd, const char *verb)
{
    size_t  n = strlen(verb);

    return strncasecmp(cmd, verb, n) == 0
        && (cmd[n] == 0 || cmd[n] == ' ' || cmd[n] == ':');
}

/* smtp_mail_params: apply MAIL FROM parameters; NULL or a reply. */
static const char *smtp_mail_params(smtp_session *s, char *params)
{
    char   *cursor = params, *word;
    long    size;
    strbuf *dec;

    while ((word = str_token(&cursor, " ")) != NULL) {
        if (strncasecmp(word, "BODY=", 5) == 0) {
            if (str_casecmp(word + 5, "8BITMIME") == 0)
                s->env->encoding = "8bit";
            else if (str_casecmp(word + 5, "7BIT") == 0)
                s->env->encoding = "7bit";
            else
                return "501 5.5.4 Bad BODY parameter";
        } else if (strncasecmp(word, "SIZE=", 5) == 0) {
            if (num_parse_long(word + 5, 0, 0x7fffffffL, &size) < 0)
                return "501 5.5.4 Bad SIZE parameter";
            if (param_size(PARAM_MESSAGE_SIZE_LIMIT) > 0
                && size > param_size(PARAM_MESSAGE_SIZE_LIMIT))
                return "552 5.3.4 Message size exceeds fixed limit";
        } else if (strncasecmp(word, "RET=", 4) == 0) {
            if (str_casecmp(word + 4, "FULL") == 0)
                s->env->ret = QFILE_RET_FULL;
            else if (str_casecmp(word + 4, "HDRS") == 0)
                s->env->ret = QFILE_RET_HDRS;
            else
                return "501 5.5.4 Bad RET parameter";
        } else if (strncasecmp(word, "ENVID=", 6) == 0) {
            dec = strbuf_new(64);
            if (addr_xtext_decode(word + 6, strlen(word + 6), dec) < 0
                || dec->len > 100 || memchr(dec->data, 0, dec->len)
                || strpbrk(strbuf_str(dec), "\r\n")) {
                strbuf_free(dec);
                return "501 5.5.4 Bad ENVID parameter";
            }
            s->envid = strbuf_detach(dec, NULL);
            s->env->envid = s->envid;
        } else {
            return "555 5.5.4 Unsupported MAIL parameter";
        }
    }
    return NULL;
}

/* smtp_mail: MAIL FROM:<addr> [params]. */
static void smtp_mail(smtp_session *s, const char *arg)
{
    strbuf *internal = strbuf_new(64);
    const char *why, *reply;
    size_t  rest;
    char   *params;

    if (s->sender) {
        smtp_reply(s, "503 5.5.1 Error: nested MAIL command");
    } else if (addr_parse(arg, strlen(arg), ADDR_F_NULL_OK | ADDR_F_LOCAL_OK
                          | ADDR_F_SMTPUTF8, internal, &rest, &why) < 0) {
        strbuf *text = strbuf_new(64);

        (void) strbuf_printf(text, "501 5.1.7 Bad sender address syntax: %s", why);
        smtp_reply(s, strbuf_str(text));
        strbuf_free(text);
    } else {
        params = mem_strdup(arg + rest);
        if ((reply = smtp_mail_params(s, params)) != NULL) {
            smtp_reset(s);
            smtp_reply(s, reply);
        } else {
            s->sender = mem_strdup(strbuf_str(internal));
            smtp_reply(s, "250 2.1.0 Ok");
        }
        mem_free(params);
    }
    strbuf_free(internal);
}

/* smtp_rcpt: RCPT TO:<addr> [params]. */
static void smtp_rcpt(smtp_session *s, const char *arg)
{
    strbuf *internal = strbuf_new(64);
    char   *copy, *cursor, *word;
    const char *why;
    size_t  rest;

    if (s->sender == NULL) {
        smtp_reply(s, "503 5.5.1 Error: need MAIL command");
    } else if (s->env->nrcpts >= SENDMAIL_SMTP_RCPT_MAX) {
        smtp_reply(s, "452 4.5.3 Error: too many recipients");
    } else if (addr_parse(arg, strlen(arg), ADDR_F_LOCAL_OK | ADDR_F_POSTMASTER
                          | ADDR_F_SMTPUTF8, internal, &rest, &why) < 0) {
        strbuf *text = strbuf_new(64);

        (void) strbuf_printf(text, "501 5.1.3 Bad recipient address syntax: %s", why);
        smtp_reply(s, strbuf_str(text));
        strbuf_free(text);
    } else {
        cursor = copy = mem_strdup(arg + rest);
        while ((word = str_token(&cursor, " ")) != NULL) {
            if (strncasecmp(word, "NOTIFY=", 7) != 0
                && strncasecmp(word, "ORCPT=", 6) != 0)
                break;
        }
        if (word) {
            smtp_reply(s, "555 5.5.4 Unsupported RCPT parameter");
        } else {
            s->env->rcpts = mem_realloc(s->env->rcpts,
                                        (s->env->nrcpts + 1) * sizeof(char *));
            s->env->rcpts[s->env->nrcpts++] = mem_strdup(strbuf_str(internal));
            smtp_reply(s, "250 2.1.5 Ok");
        }
        mem_free(copy);
    }
    strbuf_free(internal);
}

/* smtp_data: DATA: read the message and hand it to postdrop. */
static int smtp_data(smtp_session *s)
{
    sendmail_submit *sub;
    strbuf *err = strbuf_new(128);
    strbuf *text = strbuf_new(128);
    strbuf *line = strbuf_new(1024);
    enum stream_status ss;
    int     line_start = 1, sink = 0, st, rc, alive = 1;
    const char *data;
    const char *saved_sender = NULL;
    size_t  len;

    if (s->sender == NULL || s->env->nrcpts == 0) {
        smtp_reply(s, s->sender ? "554 5.5.1 Error: no valid recipients"
                   : "503 5.5.1 Error: need RCPT command");
        goto done;
    }
    saved_sender = s->env->sender;      /* restored below: smtp_reset frees ours */
    s->env->sender = s->sender;
    s->env->extract = 0;
    sub = sendmail_submit_open(s->env, err);
    if (sub == NULL) {
        (void) strbuf_printf(text, "451 4.3.0 Error: %s", strbuf_str(err));
        smtp_reply(s, strbuf_str(text));
        goto done;
    }
    smtp_reply(s, "354 End data with <CR><LF>.<CR><LF>");
    for (;;) {
        strbuf_reset(line);
        ss = stream_get_line(s->in, line, SENDMAIL_SMTP_DATA_MAX);
        if (ss == STREAM_EOF || ss == STREAM_ERROR || ss == STREAM_TIMEOUT) {
            /* The client went away mid-message: nothing is queued. */
            sendmail_submit_abort(sub);
            alive = 0;
            goto done;
        }
        data = line->data;
        len = line->len;
        if (ss == STREAM_OK) {
            if (len > 0 && data[len - 1] == '\n')
                len--;
            if (len > 0 && data[len - 1] == '\r')
                len--;
            if (line_start && len == 1 && data[0] == '.')
                break;
        }
        if (line_start && len > 0 && data[0] == '.') {
            data++;
            len--;
        }
        if (!sink) {
            st = sendmail_submit_line(sub, data, len, ss == STREAM_TOOLONG);
            if (st != 0)
                sink = 1;               /* keep reading to stay in sync */
        }
        line_start = ss == STREAM_OK;
    }
    rc = sendmail_submit_close(sub, err);
    if (rc == EX_OK)
        smtp_reply(s, "250 2.0.0 Ok: queued");
    else if (rc == EX_DATAERR && strstr(strbuf_str(err), "size"))
        smtp_reply(s, "552 5.3.4 Error: message file too big");
    else if (rc == EX_DATAERR || rc == EX_NOUSER) {
        (void) strbuf_printf(text, "554 5.6.0 Error: %s", strbuf_str(err));
        smtp_reply(s, strbuf_str(text));
    } else {
        (void) strbuf_printf(text, "451 4.3.0 Error: queue file write error: %s",
                             strbuf_str(err));
        smtp_reply(s, strbuf_str(text));
    }
done:
    if (saved_sender != NULL)
        s->env->sender = saved_sender;
    smtp_reset(s);
    strbuf_free(err);
    strbuf_free(text);
    strbuf_free(line);
    return alive;
}

/* sendmail_smtp: run an SMTP session on standard input and output. */
int sendmail_smtp(sendmail_env *env)
{
    smtp_session s;
    enum stream_status ss;
    const char *host = param_str(PARAM_MYHOSTNAME);
    char   *cmd;
    strbuf *text = strbuf_new(128);

    memset(&s, 0, sizeof(s));
    s.in = stream_fdopen(0, STREAM_F_READ | STREAM_F_NOCLOSE);
    s.out = stream_fdopen(1, STREAM_F_WRITE | STREAM_F_NOCLOSE);
    stream_set_timeout(s.in, SENDMAIL_SMTP_TIMEOUT);
    s.env = env;
    s.line = strbuf_new(256);
    env->rcpts = NULL;
    env->nrcpts = 0;
    (void) strbuf_printf(text, "220 %s ESMTP Postern", host);
    smtp_reply(&s, strbuf_str(text));
    for (;;) {
        strbuf_reset(s.line);
        ss = stream_get_line(s.in, s.line, SENDMAIL_SMTP_LINE_MAX);
        if (ss == STREAM_TOOLONG) {
            /* Drop the rest of the over-long line. */
            do {
                strbuf_reset(s.line);
                ss = stream_get_line(s.in, s.line, SENDMAIL_SMTP_LINE_MAX);
            } while (ss == STREAM_TOOLONG);
            smtp_reply(&s, "500 5.5.2 Error: line too long");
            if (ss != STREAM_OK || ++s.errors >= SENDMAIL_SMTP_ERRORS)
                break;
            continue;
        }
        if (ss != STREAM_OK && s.line->len == 0)
            break;
        cmd = s.line->data;
        while (s.line->len > 0 && (cmd[s.line->len - 1] == '\n'
                                   || cmd[s.line->len - 1] == '\r'))
            strbuf_truncate(s.line, s.line->len - 1);
        if (memchr(cmd, 0, s.line->len)) {
            smtp_reply(&s, "500 5.5.2 Error: bad syntax");
        } else if (smtp_verb(cmd, "HELO")) {
            smtp_reset(&s);
            (void) strbuf_setf(text, "250 %s", host);
            smtp_reply(&s, strbuf_str(text));
        } else if (smtp_verb(cmd, "EHLO")) {
            smtp_reset(&s);
            (void) strbuf_setf(text, "250-%s\r\n250-SIZE %ld\r\n250-8BITMIME\r\n"
                               "250 ENHANCEDSTATUSCODES", host,
                               param_size(PARAM_MESSAGE_SIZE_LIMIT));
            smtp_reply(&s, strbuf_str(text));
        } else if (strncasecmp(cmd, "MAIL FROM:", 10) == 0) {
            smtp_mail(&s, cmd + 10);
        } else if (strncasecmp(cmd, "RCPT TO:", 8) == 0) {
            smtp_rcpt(&s, cmd + 8);
        } else if (smtp_verb(cmd, "DATA")) {
            if (!smtp_data(&s))
                break;
        } else if (smtp_verb(cmd, "RSET")) {
            smtp_reset(&s);
            smtp_reply(&s, "250 2.0.0 Ok");
        } else if (smtp_verb(cmd, "NOOP")) {
            smtp_reply(&s, "250 2.0.0 Ok");
        } else if (smtp_verb(cmd, "VRFY")) {
            smtp_reply(&s, "252 2.0.0 Send mail and find out");
        } else if (smtp_verb(cmd, "QUIT")) {
            smtp_reply(&s, "221 2.0.0 Bye");
            break;
        } else {
            smtp_reply(&s, "502 5.5.2 Error: command not recognized");
            if (++s.errors >= SENDMAIL_SMTP_ERRORS) {
                smtp_reply(&s, "421 4.7.0 Error: too many errors");
                break;
            }
        }
    }
    smtp_reset(&s);
    strbuf_free(s.line);
    strbuf_free(text);
    (void) stream_close(s.in);
    (void) stream_close(s.out);
    return EX_OK;
}
