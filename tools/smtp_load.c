/*
 * postern-smtp-load: an SMTP/LMTP load generator.
 *
 *   postern-smtp-load [options] host[:port]
 *
 * Opens up to -c sessions at once (one thread each, blocking streams)
 * and sends -m messages in all, each of -s bytes to -r recipients, then
 * prints its figures on standard output, one "name value [unit]" line
 * each: messages, accepted, failed, connection failures, elapsed time,
 * accepted messages per second, the latency of a transaction (MAIL FROM
 * to the reply after the final dot) at p50/p90/p99, and one "reply ..."
 * line per distinct reply that was not what a clean transaction expects
 * (anything but 2xx; 354 after DATA), with its count. See
 * postern-smtp-load(1) for the options.
 *
 * Exit status: 0 when every session connected and spoke SMTP to the end
 * (replies such as 4xx/5xx do not count), 1 on connection failures
 * (connect, greeting, timeout, lost connection, malformed reply), 2 on
 * a usage error.
 *
 * SECURITY: talks to the server under test; every reply line is read
 * bounded (SMTP_REPLY_LINE_MAX) with a timeout (-w) and parsed by
 * lib/net/smtp_reply. TLS (-T) encrypts without verifying the server:
 * this is a load tool, not a mail client. Runs with the caller's
 * privileges; needs none.
 * LIMITS: -c 1..1000 sessions, -m up to 100 000 000 messages, -s up to
 * 1 GiB, -r 1..1000 recipients; latencies take 8 bytes per message.
 */
#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "addrpat.h"
#include "loadstat.h"
#include "mem.h"
#include "msg.h"
#include "numparse.h"
#include "smtp_reply.h"
#include "stream.h"
#include "strbuf.h"
#include "strutil.h"
#include "tls.h"

#define LOAD_NAME "postern-smtp-load"

/* Options, written once by main before the threads start. */
typedef struct load_opts {
    const char *host;
    const char *port;
    long    sessions;
    long    messages;
    long    size;
    long    rcpts;
    long    per_conn;                   /* messages per connection; 0: all */
    long    timeout_ms;
    const char *sender;
    const char *rcpt_pat;
    const char *helo;
    int     pipelining;
    int     starttls;
    int     lmtp;
    int     verbose;
} load_opts;

/* Shared between threads: the message counter and connection errors. */
typedef struct load_shared {
    const load_opts *opts;
    atomic_long next;                   /* next message number to claim */
    atomic_long conn_fail;
    atomic_long accepted;
    atomic_long failed;
    atomic_long rcpt_ok;
    strbuf *body;                       /* the message body, shared */
} load_shared;

/* One thread's session state. */
typedef struct load_session {
    load_shared *sh;
    loadstat *stats;
    int     fd;
    stream *s;
    tls_ctx *tctx;
    tls_sess *tls;
    smtp_reply *reply;
    strbuf *line;
    strbuf *err;
    unsigned features;
    long    id;
} load_session;

/* load_usage: print usage and exit 2. */
static void load_usage(void)
{
    fprintf(stderr,
            "usage: " LOAD_NAME " [-lPTv] [-c sessions] [-m messages] [-s size]\n"
            "       [-r recipients] [-n messages-per-connection] [-f sender]\n"
            "       [-t recipient-pattern] [-H helo] [-w timeout] host[:port]\n");
    exit(2);
}

/* load_now_ms: monotonic time in milliseconds. */
static double load_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec * 1000.0 + (double) ts.tv_nsec / 1e6;
}

/* load_close: end the connection (TLS first). */
static void load_close(load_session *ls)
{
    if (ls->s == NULL)
        return;
    if (ls->tls)
        ls->tls = tls_sess_free(ls->tls, ls->s);
    stream_close(ls->s);
    ls->s = NULL;
    ls->fd = -1;
}

/* load_conn_error: count a connection failure and close. */
static void load_conn_error(load_session *ls, const char *doing)
{
    atomic_fetch_add(&ls->sh->conn_fail, 1);
    msg_warn("session %ld: %s: %s", ls->id, doing,
             ls->err->len ? ls->err->data : "connection failed");
    load_close(ls);
}

/* load_get_reply: read one complete reply; 0, or -1 with err set. */
static int load_get_reply(load_session *ls)
{
    enum stream_status st;
    int     rc;

    smtp_reply_reset(ls->reply);
    strbuf_reset(ls->err);
    for (;;) {
        st = stream_get_line(ls->s, ls->line, SMTP_REPLY_LINE_MAX);
        if (st != STREAM_OK) {
            strbuf_printf(ls->err, "reading a reply: %s",
                          st == STREAM_TOOLONG ? "line too long" :
                          st == STREAM_EOF ? "connection closed by server" :
                          stream_status_str(st));
            return -1;
        }
        if (ls->line->len > 0 && ls->line->data[ls->line->len - 1] == '\n')
            strbuf_truncate(ls->line, ls->line->len - 1);
        if (ls->line->len > 0 && ls->line->data[ls->line->len - 1] == '\r')
            strbuf_truncate(ls->line, ls->line->len - 1);
        rc = smtp_reply_feed(ls->reply, ls->line->data, ls->line->len, ls->err);
        if (rc == SMTP_REPLY_DONE)
            return 0;
        if (rc == SMTP_REPLY_BAD) {
            strbuf *why = strbuf_new(64);

            strbuf_printf(why, "malformed reply: %s", ls->err->data);
            strbuf_reset(ls->err);
            strbuf_puts(ls->err, why->data);
            strbuf_free(why);
            return -1;
        }
    }
}

/* load_tally: count a reply that was not the expected one. */
static void load_tally(load_session *ls, const char *stage)
{
    const char *text = ls->reply->text->data;

    /* The code is tallied on its own: keep the text after "NNN " only. */
    if (ls->reply->text->len >= 4 && (text[3] == ' ' || text[3] == '-'))
        text += 4;
    else if (ls->reply->text->len == 3)
        text += 3;
    loadstat_add_reply(ls->stats, stage, ls->reply->code, text);
    if (ls->sh->opts->verbose)
        msg_info("session %ld: %s: %s", ls->id, stage, ls->reply->text->data);
}

/* load_command: send one command line and read its reply; -1: I/O. */
static int load_command(load_session *ls, const char *cmd)
{
    if (stream_printf(ls->s, "%s\r\n", cmd) < 0 || stream_flush(ls->s) < 0) {
        strbuf_reset(ls->err);
        strbuf_printf(ls->err, "sending %.20s: %s", cmd, strerror(errno));
        return -1;
    }
    return load_get_reply(ls);
}

/* load_connect_fd: a connected TCP socket, or -1 with err set. */
static int load_connect_fd(load_session *ls)
{
    const load_opts *o = ls->sh->opts;
    struct addrinfo hints;
    struct addrinfo *res = NULL;
    struct addrinfo *ai;
    int     fd = -1;
    int     rc;

    memset(&hints, 0, sizeof(hints));
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_family = AF_UNSPEC;
    strbuf_reset(ls->err);
    rc = getaddrinfo(o->host, o->port, &hints, &res);
    if (rc != 0) {
        strbuf_printf(ls->err, "%s: %s", o->host, gai_strerror(rc));
        return -1;
    }
    for (ai = res; ai != NULL; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0)
            continue;
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
            break;
        strbuf_reset(ls->err);
        strbuf_printf(ls->err, "connect to %s:%s: %s", o->host, o->port,
                      strerror(errno));
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd < 0 && ls->err->len == 0)
        strbuf_printf(ls->err, "%s: no usable address", o->host);
    return fd;
}

/* load_hello: EHLO/LHLO (falling back to HELO for SMTP); 0 or -1. */
static int load_hello(load_session *ls)
{
    const load_opts *o = ls->sh->opts;
    smtp_ehlo ehlo;
    strbuf *cmd = strbuf_new(64);
    int     rc;

    strbuf_printf(cmd, "%s %s", o->lmtp ? "LHLO" : "EHLO", o->helo);
    rc = load_command(ls, cmd->data);
    if (rc == 0 && ls->reply->code / 100 != 2) {
        load_tally(ls, o->lmtp ? "lhlo" : "ehlo");
        if (!o->lmtp) {
            strbuf_reset(cmd);
            strbuf_printf(cmd, "HELO %s", o->helo);
            rc = load_command(ls, cmd->data);
            ls->features = 0;
        }
        if (rc == 0 && ls->reply->code / 100 != 2) {
            load_tally(ls, "helo");
            strbuf_reset(ls->err);
            strbuf_puts(ls->err, "the server refused the greeting command");
            rc = -1;
        }
    } else if (rc == 0) {
        smtp_ehlo_parse(ls->reply, &ehlo);
        ls->features = ehlo.features;
    }
    strbuf_free(cmd);
    return rc;
}

/* load_starttls: STARTTLS, handshake, hello again; 0 or -1. */
static int load_starttls(load_session *ls)
{
    tls_client_start_opts cs;
    char    peer[300];

    if (!(ls->features & SMTP_EHLO_STARTTLS)) {
        strbuf_reset(ls->err);
        strbuf_puts(ls->err, "the server does not offer STARTTLS");
        return -1;
    }
    if (load_command(ls, "STARTTLS") < 0)
        return -1;
    if (ls->reply->code != 220) {
        load_tally(ls, "starttls");
        strbuf_reset(ls->err);
        strbuf_puts(ls->err, "STARTTLS refused");
        return -1;
    }
    if (stream_buffered(ls->s) > 0) {
        strbuf_reset(ls->err);
        strbuf_puts(ls->err, "plaintext data after the STARTTLS reply");
        return -1;
    }
    memset(&cs, 0, sizeof(cs));
    cs.level = TLS_LEVEL_ENCRYPT;
    if (str_format(peer, sizeof(peer), "%s[%s]:%s", ls->sh->opts->host,
                   ls->sh->opts->host, ls->sh->opts->port) < 0)
        peer[0] = '\0';
    cs.peer = peer;
    strbuf_reset(ls->err);
    ls->tls = tls_client_start(ls->tctx, ls->fd, (int) ls->sh->opts->timeout_ms,
                               &cs, ls->err);
    if (ls->tls == NULL)
        return -1;
    tls_sess_attach(ls->tls, ls->s);
    return load_hello(ls);
}

/* load_connect: connect, greeting, hello, optional STARTTLS; 0 or -1. */
static int load_connect(load_session *ls)
{
    ls->fd = load_connect_fd(ls);
    if (ls->fd < 0)
        return -1;
    ls->s = stream_fdopen(ls->fd, STREAM_F_RDWR);
    stream_set_timeout(ls->s, (int) ls->sh->opts->timeout_ms);
    if (load_get_reply(ls) < 0)
        return -1;
    if (ls->reply->code != 220) {
        load_tally(ls, "greeting");
        strbuf_reset(ls->err);
        strbuf_printf(ls->err, "greeting refused: %d", ls->reply->code);
        return -1;
    }
    if (load_hello(ls) < 0)
        return -1;
    if (ls->sh->opts->starttls && load_starttls(ls) < 0)
        return -1;
    return 0;
}

/*
 * load_send_body: the message: headers naming this message, then the
 * shared body, then the final dot.
 */
static int load_send_body(load_session *ls, long n, const char *sender,
                          const char *rcpt)
{
    const strbuf *body = ls->sh->body;

    if (stream_printf(ls->s, "From: <%s>\r\nTo: <%s>\r\n"
                      "Subject: load test message %ld\r\n"
                      "Message-ID: <load.%ld.%ld@%s>\r\n\r\n",
                      sender, rcpt, n, (long) getpid(), n,
                      ls->sh->opts->helo) < 0
        || stream_write(ls->s, body->data, body->len) < 0
        || stream_puts(ls->s, ".\r\n") < 0
        || stream_flush(ls->s) < 0) {
        strbuf_reset(ls->err);
        strbuf_printf(ls->err, "sending message content: %s", strerror(errno));
        return -1;
    }
    return 0;
}

/*
 * load_transaction: one message. Returns 1 when accepted (for LMTP: by
 * at least one recipient), 0 when refused, -1 on a connection failure.
 */
static int load_transaction(load_session *ls, long n)
{
    const load_opts *o = ls->sh->opts;
    int     pipe_ok = o->pipelining && (ls->features & SMTP_EHLO_PIPELINING);
    strbuf *sender = strbuf_new(64);
    strbuf *rcpt = strbuf_new(64);
    strbuf *cmds = strbuf_new(256);
    long    i;
    long    ok_rcpts = 0;
    int     result = -1;
    int     mail_ok;
    double  t0 = load_now_ms();

    if (addrpat_expand(o->sender, (unsigned long) n, sender) < 0)
        msg_panic("sender pattern was checked");
    /* Commands: MAIL, each RCPT, DATA. */
    strbuf_printf(cmds, "MAIL FROM:<%s>\r\n", sender->data);
    for (i = 0; i < o->rcpts; i++) {
        if (addrpat_expand(o->rcpt_pat,
                           (unsigned long) (n * o->rcpts + i), rcpt) < 0)
            msg_panic("recipient pattern was checked");
        strbuf_printf(cmds, "RCPT TO:<%s>\r\n", rcpt->data);
    }
    strbuf_puts(cmds, "DATA\r\n");

    if (pipe_ok) {
        if (stream_write(ls->s, cmds->data, cmds->len) < 0
            || stream_flush(ls->s) < 0) {
            strbuf_reset(ls->err);
            strbuf_printf(ls->err, "sending commands: %s", strerror(errno));
            goto done;
        }
    }
    /* Replies, one per command (sending each first without pipelining). */
    {
        const char *p = cmds->data;
        long    cmd_idx;
        long    ncmds = o->rcpts + 2;

        mail_ok = 0;
        for (cmd_idx = 0; cmd_idx < ncmds; cmd_idx++) {
            const char *eol = strstr(p, "\r\n");

            if (!pipe_ok) {
                if (stream_write(ls->s, p, (size_t) (eol + 2 - p)) < 0
                    || stream_flush(ls->s) < 0) {
                    strbuf_reset(ls->err);
                    strbuf_printf(ls->err, "sending a command: %s", strerror(errno));
                    goto done;
                }
            }
            p = eol + 2;
            if (load_get_reply(ls) < 0)
                goto done;
            if (cmd_idx == 0) {
                mail_ok = ls->reply->code / 100 == 2;
                if (!mail_ok)
                    load_tally(ls, "mail");
                if (!mail_ok && !pipe_ok)
                    break;
            } else if (cmd_idx <= o->rcpts) {
                if (ls->reply->code / 100 == 2)
                    ok_rcpts++;
                else
                    load_tally(ls, "rcpt");
                if (!pipe_ok && cmd_idx == o->rcpts && ok_rcpts == 0)
                    break;
            } else {
                /* DATA */
                if (ls->reply->code == 354 && mail_ok && ok_rcpts > 0) {
                    if (load_send_body(ls, n, sender->data, rcpt->data) < 0)
                        goto done;
                    if (o->lmtp) {
                        long    got = 0;

                        for (i = 0; i < ok_rcpts; i++) {
                            if (load_get_reply(ls) < 0)
                                goto done;
                            if (ls->reply->code / 100 == 2)
                                got++;
                            else
                                load_tally(ls, "dot");
                        }
                        result = got > 0;
                        atomic_fetch_add(&ls->sh->rcpt_ok, got);
                    } else {
                        if (load_get_reply(ls) < 0)
                            goto done;
                        result = ls->reply->code / 100 == 2;
                        if (!result)
                            load_tally(ls, "dot");
                        else
                            atomic_fetch_add(&ls->sh->rcpt_ok, ok_rcpts);
                    }
                    goto accounted;
                }
                if (ls->reply->code == 354) {
                    /* Nothing to deliver: end the empty message at once. */
                    if (stream_puts(ls->s, ".\r\n") < 0 || stream_flush(ls->s) < 0
                        || load_get_reply(ls) < 0)
                        goto done;
                } else {
                    load_tally(ls, "data");
                }
            }
        }
    }
    /* Refused: reset the transaction for the next message. */
    if (load_command(ls, "RSET") < 0)
        goto done;
    if (ls->reply->code / 100 != 2)
        load_tally(ls, "rset");
    result = 0;

  accounted:
    if (result == 1)
        loadstat_add_latency(ls->stats, load_now_ms() - t0);
  done:
    strbuf_free(sender);
    strbuf_free(rcpt);
    strbuf_free(cmds);
    return result;
}

/* load_thread: one session slot: claim messages until none are left. */
static void *load_thread(void *arg)
{
    load_session *ls = arg;
    const load_opts *o = ls->sh->opts;
    long    on_conn = 0;
    long    n;
    int     rc;

    while ((n = atomic_fetch_add(&ls->sh->next, 1)) < o->messages) {
        if (ls->s == NULL) {
            on_conn = 0;
            if (load_connect(ls) < 0) {
                load_conn_error(ls, "connecting");
                atomic_fetch_add(&ls->sh->failed, 1);
                continue;
            }
        }
        rc = load_transaction(ls, n);
        if (rc < 0) {
            load_conn_error(ls, "in a transaction");
            atomic_fetch_add(&ls->sh->failed, 1);
            continue;
        }
        atomic_fetch_add(rc ? &ls->sh->accepted : &ls->sh->failed, 1);
        if (o->per_conn > 0 && ++on_conn >= o->per_conn) {
            (void) load_command(ls, "QUIT");
            load_close(ls);
        }
    }
    /* The work is done: a server that hangs up before QUIT's reply (as a
     * sink told to stop after N messages does) costs no message. */
    if (ls->s != NULL) {
        if (load_command(ls, "QUIT") < 0 && o->verbose)
            msg_info("session %ld: at QUIT: %s", ls->id, ls->err->data);
        load_close(ls);
    }
    return NULL;
}

/* load_number: parse a bounded option value or exit 2. */
static long load_number(int opt, const char *arg, long min, long max)
{
    long    val;

    if (num_parse_long(arg, min, max, &val) < 0) {
        fprintf(stderr, LOAD_NAME ": -%c %s: need a number from %ld to %ld\n",
                opt, arg, min, max);
        exit(2);
    }
    return val;
}

/* load_target: split host[:port] or [host]:port into opts. */
static void load_target(load_opts *o, char *arg)
{
    char   *colon;
    long    port;

    if (arg[0] == '[') {
        char   *close = strchr(arg, ']');

        if (close == NULL || (close[1] != '\0' && close[1] != ':')) {
            fprintf(stderr, LOAD_NAME ": bad target %s\n", arg);
            exit(2);
        }
        *close = '\0';
        o->host = arg + 1;
        colon = close[1] == ':' ? close + 1 : NULL;
    } else {
        colon = strrchr(arg, ':');
        if (colon != NULL && strchr(arg, ':') != colon)
            colon = NULL;                   /* a bare IPv6 address */
        o->host = arg;
    }
    if (colon != NULL) {
        *colon = '\0';
        port = load_number('p', colon + 1, 1, 65535);
        (void) port;
        o->port = colon + 1;
    }
    if (*o->host == '\0') {
        fprintf(stderr, LOAD_NAME ": empty host name\n");
        exit(2);
    }
}

/* load_make_body: size bytes of body in lines of at most 78 bytes. */
static strbuf *load_make_body(long size)
{
    strbuf *body = strbuf_new((size_t) size + 80);
    long    line = 0;

    while ((long) body->len < size) {
        long    left = size - (long) body->len;
        long    len = left > 78 ? 76 : left > 2 ? left - 2 : 0;
        long    i;

        for (i = 0; i < len; i++)
            strbuf_putc(body, 'a' + (int) ((line + i) % 26));
        strbuf_puts(body, "\r\n");
        line++;
    }
    return body;
}

/* load_report: print the figures. */
static void load_report(load_shared *sh, loadstat *all, double elapsed_ms)
{
    const char *names[] = {"p50", "p90", "p99"};
    const double pcts[] = {50, 90, 99};
    strbuf *out = strbuf_new(256);
    double  v;
    long    accepted = atomic_load(&sh->accepted);
    int     i;

    printf("sessions %ld\n", sh->opts->sessions);
    printf("messages %ld\n", sh->opts->messages);
    printf("accepted %ld\n", accepted);
    printf("failed %ld\n", atomic_load(&sh->failed));
    printf("recipients_accepted %ld\n", atomic_load(&sh->rcpt_ok));
    printf("connection_failures %ld\n", atomic_load(&sh->conn_fail));
    printf("elapsed %.3f s\n", elapsed_ms / 1000.0);
    printf("rate %.1f msgs/s\n",
           elapsed_ms > 0 ? accepted / (elapsed_ms / 1000.0) : 0.0);
    printf("throughput %.3f MB/s\n", elapsed_ms > 0 ?
           (double) accepted * (double) sh->opts->size / 1e6
           / (elapsed_ms / 1000.0) : 0.0);
    for (i = 0; i < 3; i++) {
        if (loadstat_percentile(all, pcts[i], &v) == 0)
            printf("latency_%s %.3f ms\n", names[i], v);
        else
            printf("latency_%s - ms\n", names[i]);
    }
    loadstat_reply_report(all, out);
    fputs(out->data, stdout);
    fflush(stdout);
    strbuf_free(out);
}

/* main: parse options, run the sessions, report. */
int     main(int argc, char **argv)
{
    load_opts o;
    load_shared sh;
    load_session *sess;
    pthread_t *threads;
    loadstat *all;
    strbuf *err;
    double  t0, elapsed;
    int     ch;
    long    i;

    msg_init(LOAD_NAME, MSG_F_STDERR);
    memset(&o, 0, sizeof(o));
    o.port = "25";
    o.sessions = 1;
    o.messages = 1;
    o.size = 1024;
    o.rcpts = 1;
    o.timeout_ms = 60000;
    o.sender = "load-sender@example.com";
    o.rcpt_pat = "user%d@example.com";
    o.helo = "load.example.com";
    o.pipelining = 1;
    while ((ch = getopt(argc, argv, "c:f:H:lm:n:Pr:s:t:Tvw:")) != -1) {
        switch (ch) {
        case 'c':
            o.sessions = load_number(ch, optarg, 1, 1000);
            break;
        case 'f':
            o.sender = optarg;
            break;
        case 'H':
            o.helo = optarg;
            break;
        case 'l':
            o.lmtp = 1;
            break;
        case 'm':
            o.messages = load_number(ch, optarg, 0, 100000000);
            break;
        case 'n':
            o.per_conn = load_number(ch, optarg, 0, 100000000);
            break;
        case 'P':
            o.pipelining = 0;
            break;
        case 'r':
            o.rcpts = load_number(ch, optarg, 1, 1000);
            break;
        case 's':
            o.size = load_number(ch, optarg, 0, 1L << 30);
            break;
        case 't':
            o.rcpt_pat = optarg;
            break;
        case 'T':
            o.starttls = 1;
            break;
        case 'v':
            o.verbose = 1;
            break;
        case 'w':
            o.timeout_ms = load_number(ch, optarg, 1, 3600) * 1000;
            break;
        default:
            load_usage();
        }
    }
    if (optind != argc - 1)
        load_usage();
    load_target(&o, argv[optind]);
    err = strbuf_new(64);
    if (addrpat_check(o.sender, err) < 0) {
        fprintf(stderr, LOAD_NAME ": -f %s: %s\n", o.sender, err->data);
        exit(2);
    }
    if (addrpat_check(o.rcpt_pat, err) < 0) {
        fprintf(stderr, LOAD_NAME ": -t %s: %s\n", o.rcpt_pat, err->data);
        exit(2);
    }
    if (strpbrk(o.helo, " \t\r\n") != NULL || *o.helo == '\0'
        || strlen(o.helo) > 255) {
        fprintf(stderr, LOAD_NAME ": -H: bad host name\n");
        exit(2);
    }
    signal(SIGPIPE, SIG_IGN);
    if (o.sessions > o.messages && o.messages > 0)
        o.sessions = o.messages;

    memset(&sh, 0, sizeof(sh));
    sh.opts = &o;
    atomic_init(&sh.next, 0);
    atomic_init(&sh.conn_fail, 0);
    atomic_init(&sh.accepted, 0);
    atomic_init(&sh.failed, 0);
    atomic_init(&sh.rcpt_ok, 0);
    sh.body = load_make_body(o.size);

    sess = mem_calloc((size_t) o.sessions, sizeof(*sess));
    threads = mem_calloc((size_t) o.sessions, sizeof(*threads));
    for (i = 0; i < o.sessions; i++) {
        sess[i].sh = &sh;
        sess[i].id = i + 1;
        sess[i].fd = -1;
        sess[i].stats = loadstat_new();
        sess[i].reply = smtp_reply_new();
        sess[i].line = strbuf_new(256);
        sess[i].err = strbuf_new(128);
        if (o.starttls) {
            tls_client_opts co;

            memset(&co, 0, sizeof(co));
            co.ca_file = co.ca_path = co.protocols = co.cipherlist = "";
            co.cert_file = co.key_file = "";
            sess[i].tctx = tls_client_ctx_create(&co, err);
            if (sess[i].tctx == NULL) {
                fprintf(stderr, LOAD_NAME ": TLS: %s\n", err->data);
                exit(1);
            }
        }
    }
    t0 = load_now_ms();
    for (i = 0; i < o.sessions; i++) {
        int     rc = pthread_create(&threads[i], NULL, load_thread, &sess[i]);

        if (rc != 0)
            msg_fatal("cannot start a session thread: %s", strerror(rc));
    }
    all = loadstat_new();
    for (i = 0; i < o.sessions; i++) {
        pthread_join(threads[i], NULL);
        loadstat_merge(all, sess[i].stats);
    }
    elapsed = load_now_ms() - t0;
    load_report(&sh, all, elapsed);

    for (i = 0; i < o.sessions; i++) {
        loadstat_free(sess[i].stats);
        smtp_reply_free(sess[i].reply);
        strbuf_free(sess[i].line);
        strbuf_free(sess[i].err);
        tls_ctx_free(sess[i].tctx);
    }
    loadstat_free(all);
    strbuf_free(sh.body);
    strbuf_free(err);
    mem_free(sess);
    mem_free(threads);
    return atomic_load(&sh.conn_fail) > 0 ? 1 : 0;
}
