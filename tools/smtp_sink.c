/*
 * postern-smtp-sink: an event-driven SMTP/LMTP sink for tests and
 * benchmarks.
 *
 *   postern-smtp-sink [options] [host:]port
 *
 * Accepts mail on one listening socket (port 0: any free port), counts
 * messages, recipients and bytes, and answers each recipient as its
 * rules say (-R reject, -D defer, -X drop the connection; first match
 * wins, default accept). -S delays the reply to the final dot, -d keeps
 * each message as a file, -C/-K offer STARTTLS, -l speaks LMTP (one
 * reply per recipient after the dot). All sessions run in one process on
 * the lib/util/event loop. On start it prints "listening HOST:PORT"; on
 * SIGTERM/SIGINT, or after -n messages, it prints its counters
 * ("messages N", "recipients N", "bytes N", "sessions N", "rejected N",
 * "deferred N", "dropped N") and exits 0; SIGUSR1 prints them and goes
 * on. See postern-smtp-sink(1).
 *
 * SECURITY: everything a client sends is untrusted: command lines are
 * bounded (SINK_LINE_MAX), messages by -s, sessions by -c, idle time by
 * -w; malformed input draws a 5xx reply, never an exit. Messages are
 * written only into the -d directory, under names the sink makes
 * (never from client data), with O_EXCL. The TLS handshake blocks the
 * loop for at most the -w timeout (loopback use). Needs no privilege.
 * LIMITS: SINK_LINE_MAX bytes per command line, -s bytes per message
 * (default 64 MiB), -c sessions (default 512), SINK_RCPT_MAX recipients.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include "event.h"
#include "mem.h"
#include "msg.h"
#include "numparse.h"
#include "sinkrule.h"
#include "stream.h"
#include "strbuf.h"
#include "strutil.h"
#include "tls.h"

#define SINK_NAME       "postern-smtp-sink"
#define SINK_LINE_MAX   4096
#define SINK_RCPT_MAX   1000
#define SINK_READ_SIZE  STREAM_BUFSIZE

/* Configuration and counters: one sink per process. */
typedef struct sink {
    event_loop *loop;
    sinkrule_list *rules;
    tls_ctx *tls;
    const char *keep_dir;
    const char *hostname;
    int     lmtp;
    long    stall_ms;
    long    max_size;
    long    max_sessions;
    long    stop_after;
    long    timeout_ms;
    int     listen_fd;
    int     sig_fd;
    long    sessions_now;
    struct sink_sess *all;              /* open sessions, for the exit */
    /* Counters. */
    unsigned long messages;
    unsigned long recipients;
    unsigned long long bytes;
    unsigned long sessions;
    unsigned long rejected;
    unsigned long deferred;
    unsigned long dropped;
    unsigned long file_seq;
} sink;

enum sink_state { SINK_CMD, SINK_DATA, SINK_STALL };

/* One client connection. */
typedef struct sink_sess {
    sink   *sk;
    struct sink_sess *prev, *next;      /* in sk->all */
    int     fd;
    stream *s;
    tls_sess *tls;
    enum sink_state state;
    strbuf *in;                         /* received, not yet processed */
    size_t  in_pos;
    int     helo;
    int     has_mail;
    strbuf *sender;
    char  **rcpts;                      /* accepted recipients */
    int     nrcpt;
    int     nrcpt_tried;
    long    data_bytes;
    int     data_too_big;
    int     mid_line;                   /* DATA: last piece had no LF */
    strbuf *data;                       /* kept content (-d) */
    event_timer_id idle_timer;
    event_timer_id stall_timer;
} sink_sess;

static void sink_sess_read(event_loop *loop, int fd, void *ctx);

/* sink_report: print the counters. */
static void sink_report(const sink *sk)
{
    printf("messages %lu\nrecipients %lu\nbytes %llu\nsessions %lu\n"
           "rejected %lu\ndeferred %lu\ndropped %lu\n",
           sk->messages, sk->recipients, sk->bytes, sk->sessions,
           sk->rejected, sk->deferred, sk->dropped);
    fflush(stdout);
}

/* sink_sess_reset: forget the current transaction. */
static void sink_sess_reset(sink_sess *ss)
{
    int     i;

    for (i = 0; i < ss->nrcpt; i++)
        mem_free(ss->rcpts[i]);
    ss->nrcpt = 0;
    ss->nrcpt_tried = 0;
    ss->has_mail = 0;
    ss->data_bytes = 0;
    ss->data_too_big = 0;
    ss->mid_line = 0;
    strbuf_reset(ss->sender);
    strbuf_reset(ss->data);
}

/* sink_sess_close: end a session and free it. */
static void sink_sess_close(sink_sess *ss)
{
    sink   *sk = ss->sk;

    event_remove(sk->loop, ss->fd);
    if (ss->idle_timer)
        event_timer_cancel(sk->loop, ss->idle_timer);
    if (ss->stall_timer)
        event_timer_cancel(sk->loop, ss->stall_timer);
    sink_sess_reset(ss);
    if (ss->tls)
        ss->tls = tls_sess_free(ss->tls, ss->s);
    stream_close(ss->s);
    strbuf_free(ss->in);
    strbuf_free(ss->sender);
    strbuf_free(ss->data);
    mem_free(ss->rcpts);
    if (ss->prev)
        ss->prev->next = ss->next;
    else
        sk->all = ss->next;
    if (ss->next)
        ss->next->prev = ss->prev;
    mem_free(ss);
    sk->sessions_now--;
}

/* sink_reply: queue one reply line (flushed after the input batch). */
static void sink_reply(sink_sess *ss, const char *text)
{
    (void) stream_printf(ss->s, "%s\r\n", text);
}

/* sink_idle: the idle timer fired: say goodbye. */
static void sink_idle(event_loop *loop, event_timer_id id, void *ctx)
{
    sink_sess *ss = ctx;

    (void) loop;
    (void) id;
    ss->idle_timer = 0;
    sink_reply(ss, "421 4.4.2 timeout, closing connection");
    (void) stream_flush(ss->s);
    sink_sess_close(ss);
}

/* sink_arm_idle: restart the idle timer. */
static void sink_arm_idle(sink_sess *ss)
{
    if (ss->idle_timer)
        event_timer_cancel(ss->sk->loop, ss->idle_timer);
    ss->idle_timer = event_timer_add(ss->sk->loop, ss->sk->timeout_ms,
                                     sink_idle, ss);
}

/* sink_path_arg: the address inside "<...>" after a verb; -1 if none. */
static int sink_path_arg(const char *arg, strbuf *addr)
{
    const char *open = strchr(arg, '<');
    const char *close;

    strbuf_reset(addr);
    if (open == NULL)
        return -1;
    close = strchr(open + 1, '>');
    if (close == NULL || close - open - 1 > 256)
        return -1;
    strbuf_append(addr, open + 1, (size_t) (close - open - 1));
    return 0;
}

/* sink_keep: write the message into the -d directory; -1 on error. */
static int sink_keep(sink_sess *ss)
{
    sink   *sk = ss->sk;
    char    path[4096];
    int     fd;
    int     i;
    strbuf *head = strbuf_new(256);
    int     rc = 0;

    if (str_format(path, sizeof(path), "%s/%ld.%lu.eml", sk->keep_dir,
                   (long) getpid(), ++sk->file_seq) < 0) {
        msg_warn("-d %s: path too long", sk->keep_dir);
        strbuf_free(head);
        return -1;
    }
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        msg_warn("create %s: %m", path);
        strbuf_free(head);
        return -1;
    }
    strbuf_printf(head, "X-Sink-Sender: <%s>\r\n", ss->sender->data);
    for (i = 0; i < ss->nrcpt; i++)
        strbuf_printf(head, "X-Sink-Recipient: <%s>\r\n", ss->rcpts[i]);
    if (write(fd, head->data, head->len) != (ssize_t) head->len
        || write(fd, ss->data->data, ss->data->len) != (ssize_t) ss->data->len) {
        msg_warn("write %s: %m", path);
        rc = -1;
    }
    if (close(fd) < 0) {
        msg_warn("close %s: %m", path);
        rc = -1;
    }
    strbuf_free(head);
    return rc;
}

/* sink_finish_message: the final dot arrived: count and reply. */
static void sink_finish_message(sink_sess *ss)
{
    sink   *sk = ss->sk;
    strbuf *text = strbuf_new(128);
    int     ok = 1;
    int     i;

    if (ss->data_too_big) {
        strbuf_puts(text, "552 5.3.4 message too big");
        ok = 0;
    } else if (sk->keep_dir && sink_keep(ss) < 0) {
        strbuf_puts(text, "451 4.3.0 cannot keep the message");
        ok = 0;
    } else {
        strbuf_printf(text, "250 2.0.0 Ok: queued as S%lu", sk->messages + 1);
    }
    if (ok) {
        sk->messages++;
        sk->recipients += (unsigned long) ss->nrcpt;
        sk->bytes += (unsigned long long) ss->data_bytes;
    }
    if (sk->lmtp) {
        for (i = 0; i < ss->nrcpt; i++) {
            strbuf *one = strbuf_new(128);

            if (ok)
                strbuf_printf(one, "250 2.1.5 <%s> delivered", ss->rcpts[i]);
            else
                strbuf_puts(one, text->data);
            sink_reply(ss, one->data);
            strbuf_free(one);
        }
    } else {
        sink_reply(ss, text->data);
    }
    strbuf_free(text);
    sink_sess_reset(ss);
    ss->state = SINK_CMD;
    if (sk->stop_after > 0 && sk->messages >= (unsigned long) sk->stop_after)
        event_loop_stop(sk->loop);
}

/* sink_ehlo: the EHLO/LHLO reply. */
static void sink_ehlo(sink_sess *ss)
{
    strbuf *r = strbuf_new(256);

    strbuf_printf(r, "250-%s\r\n250-PIPELINING\r\n250-SIZE %ld\r\n"
                  "250-8BITMIME\r\n250-ENHANCEDSTATUSCODES\r\n",
                  ss->sk->hostname, ss->sk->max_size);
    if (ss->sk->tls && ss->tls == NULL)
        strbuf_puts(r, "250-STARTTLS\r\n");
    strbuf_puts(r, "250 SMTPUTF8");
    sink_reply(ss, r->data);
    strbuf_free(r);
}

/* sink_starttls: the handshake (blocking, bounded); 0, or -1: close. */
static int sink_starttls(sink_sess *ss)
{
    strbuf *err = strbuf_new(64);

    if (ss->in->len > ss->in_pos) {
        sink_reply(ss, "554 5.5.1 pipelined data after STARTTLS");
        strbuf_free(err);
        return -1;
    }
    sink_reply(ss, "220 2.0.0 Ready to start TLS");
    if (stream_flush(ss->s) < 0) {
        strbuf_free(err);
        return -1;
    }
    ss->tls = tls_server_start(ss->sk->tls, ss->fd, (int) ss->sk->timeout_ms,
                               "client", err);
    if (ss->tls == NULL) {
        msg_warn("STARTTLS: %s", err->data);
        strbuf_free(err);
        return -1;
    }
    tls_sess_attach(ss->tls, ss->s);
    ss->helo = 0;
    sink_sess_reset(ss);
    strbuf_free(err);
    return 0;
}

/* sink_command: one command line (without CRLF); -1: close session. */
static int sink_command(sink_sess *ss, char *line)
{
    sink   *sk = ss->sk;
    strbuf *addr;
    char   *arg = line;
    enum sinkrule_action act;

    while (*arg && *arg != ' ')
        arg++;
    if (*arg)
        *arg++ = '\0';
    if (str_casecmp(line, "EHLO") == 0 || str_casecmp(line, "LHLO") == 0
        || str_casecmp(line, "HELO") == 0) {
        if ((str_casecmp(line, "LHLO") == 0) != (sk->lmtp != 0)) {
            sink_reply(ss, sk->lmtp ? "500 5.5.1 this is LMTP: use LHLO"
                       : "500 5.5.1 LHLO is LMTP");
            return 0;
        }
        sink_sess_reset(ss);
        ss->helo = 1;
        if (str_casecmp(line, "HELO") == 0) {
            strbuf *r = strbuf_new(64);

            strbuf_printf(r, "250 %s", sk->hostname);
            sink_reply(ss, r->data);
            strbuf_free(r);
        } else {
            sink_ehlo(ss);
        }
    } else if (str_casecmp(line, "MAIL") == 0) {
        addr = strbuf_new(64);
        if (!ss->helo)
            sink_reply(ss, "503 5.5.1 send HELO/EHLO first");
        else if (ss->has_mail)
            sink_reply(ss, "503 5.5.1 nested MAIL command");
        else if (strncasecmp(arg, "FROM:", 5) != 0)
            sink_reply(ss, "501 5.5.4 syntax: MAIL FROM:<address>");
        else if (sink_path_arg(arg, addr) < 0)
            sink_reply(ss, "501 5.1.7 bad sender address syntax");
        else {
            ss->has_mail = 1;
            strbuf_set(ss->sender, addr->data, addr->len);
            sink_reply(ss, "250 2.1.0 Ok");
        }
        strbuf_free(addr);
    } else if (str_casecmp(line, "RCPT") == 0) {
        addr = strbuf_new(64);
        if (!ss->has_mail)
            sink_reply(ss, "503 5.5.1 need MAIL first");
        else if (strncasecmp(arg, "TO:", 3) != 0)
            sink_reply(ss, "501 5.5.4 syntax: RCPT TO:<address>");
        else if (sink_path_arg(arg, addr) < 0)
            sink_reply(ss, "501 5.1.3 bad recipient address syntax");
        else if (ss->nrcpt >= SINK_RCPT_MAX)
            sink_reply(ss, "452 4.5.3 too many recipients");
        else {
            act = sinkrule_match(sk->rules, addr->data, addr->len);
            if (act == SINKRULE_DROP) {
                sk->dropped++;
                strbuf_free(addr);
                return -1;
            } else if (act == SINKRULE_REJECT) {
                sk->rejected++;
                sink_reply(ss, "550 5.1.1 recipient rejected by rule");
            } else if (act == SINKRULE_DEFER) {
                sk->deferred++;
                sink_reply(ss, "450 4.2.0 recipient deferred by rule");
            } else {
                ss->rcpts[ss->nrcpt++] = mem_strndup(addr->data, addr->len);
                sink_reply(ss, "250 2.1.5 Ok");
            }
        }
        strbuf_free(addr);
    } else if (str_casecmp(line, "DATA") == 0) {
        if (!ss->has_mail)
            sink_reply(ss, "503 5.5.1 need MAIL first");
        else if (ss->nrcpt == 0)
            sink_reply(ss, "554 5.5.1 no valid recipients");
        else {
            sink_reply(ss, "354 End data with <CR><LF>.<CR><LF>");
            ss->state = SINK_DATA;
        }
    } else if (str_casecmp(line, "RSET") == 0) {
        sink_sess_reset(ss);
        sink_reply(ss, "250 2.0.0 Ok");
    } else if (str_casecmp(line, "NOOP") == 0) {
        sink_reply(ss, "250 2.0.0 Ok");
    } else if (str_casecmp(line, "QUIT") == 0) {
        sink_reply(ss, "221 2.0.0 Bye");
        return -1;
    } else if (str_casecmp(line, "STARTTLS") == 0 && sk->tls && ss->tls == NULL) {
        return sink_starttls(ss);
    } else {
        sink_reply(ss, "502 5.5.2 command not recognized");
    }
    return 0;
}

/*
 * sink_data_line: one content line (with its line end), or a piece of a
 * long one; dot-stuffing is undone at the start of a line only.
 */
static void sink_data_line(sink_sess *ss, const char *line, size_t len)
{
    int     at_start = !ss->mid_line;

    ss->mid_line = len == 0 || line[len - 1] != '\n';
    if (at_start && len > 0 && line[0] == '.') {
        line++;
        len--;
    }
    ss->data_bytes += (long) len;
    if (ss->data_bytes > ss->sk->max_size) {
        ss->data_too_big = 1;
        strbuf_reset(ss->data);
        return;
    }
    if (ss->sk->keep_dir)
        strbuf_append(ss->data, line, len);
}

/* sink_stall_done: the -S delay is over: answer and read on. */
static void sink_stall_done(event_loop *loop, event_timer_id id, void *ctx)
{
    sink_sess *ss = ctx;

    (void) id;
    ss->stall_timer = 0;
    sink_finish_message(ss);
    if (stream_flush(ss->s) < 0) {
        sink_sess_close(ss);
        return;
    }
    if (event_add_read(loop, ss->fd, sink_sess_read, ss) < 0) {
        sink_sess_close(ss);
        return;
    }
    /* Input that arrived with the message (pipelined) is handled now. */
    sink_sess_read(loop, -1, ss);
}

/* sink_process: handle the complete lines in the input; -1: close. */
static int sink_process(sink_sess *ss)
{
    while (ss->state != SINK_STALL) {
        char   *start = ss->in->data + ss->in_pos;
        size_t  avail = ss->in->len - ss->in_pos;
        char   *nl = memchr(start, '\n', avail);
        size_t  len;

        if (nl == NULL) {
            if (ss->state == SINK_CMD && avail > SINK_LINE_MAX) {
                sink_reply(ss, "500 5.5.2 line too long");
                return -1;
            }
            if (ss->state == SINK_DATA && avail > SINK_LINE_MAX) {
                /* A very long content line: take it in pieces. */
                sink_data_line(ss, start, avail);
                ss->in_pos += avail;
            }
            break;
        }
        len = (size_t) (nl - start) + 1;
        ss->in_pos += len;
        if (ss->state == SINK_DATA) {
            if (!ss->mid_line
                && ((len == 3 && start[0] == '.' && start[1] == '\r')
                    || (len == 2 && start[0] == '.'))) {
                if (ss->sk->stall_ms > 0) {
                    ss->state = SINK_STALL;
                    event_remove_read(ss->sk->loop, ss->fd);
                    ss->stall_timer = event_timer_add(ss->sk->loop,
                                                      ss->sk->stall_ms,
                                                      sink_stall_done, ss);
                    break;
                }
                sink_finish_message(ss);
            } else {
                sink_data_line(ss, start, len);
            }
            continue;
        }
        if (len > SINK_LINE_MAX) {
            sink_reply(ss, "500 5.5.2 line too long");
            continue;
        }
        *nl = '\0';
        if (nl > start && nl[-1] == '\r')
            *--nl = '\0';
        if (memchr(start, '\0', (size_t) (nl - start)) != NULL) {
            sink_reply(ss, "500 5.5.2 NUL in command");
            continue;
        }
        if (sink_command(ss, start) < 0)
            return -1;
    }
    /* Keep only the unprocessed tail. */
    if (ss->in_pos > 0) {
        size_t  rest = ss->in->len - ss->in_pos;

        memmove(ss->in->data, ss->in->data + ss->in_pos, rest);
        strbuf_truncate(ss->in, rest);
        ss->in_pos = 0;
    }
    return 0;
}

/* sink_sess_read: input is ready (fd -1: only process what is buffered). */
static void sink_sess_read(event_loop *loop, int fd, void *ctx)
{
    sink_sess *ss = ctx;
    char    buf[SINK_READ_SIZE];
    ssize_t n;

    (void) loop;
    if (fd >= 0) {
        n = stream_read(ss->s, buf, sizeof(buf));
        if (n <= 0) {
            sink_sess_close(ss);
            return;
        }
        strbuf_append(ss->in, buf, (size_t) n);
    }
    sink_arm_idle(ss);
    if (sink_process(ss) < 0) {
        (void) stream_flush(ss->s);
        sink_sess_close(ss);
        return;
    }
    if (stream_flush(ss->s) < 0)
        sink_sess_close(ss);
}

/* sink_accept: take every pending connection. */
static void sink_accept(event_loop *loop, int fd, void *ctx)
{
    sink   *sk = ctx;
    sink_sess *ss;
    int     cfd;
    strbuf *greet;

    while ((cfd = accept4(fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK)) >= 0) {
        if (sk->sessions_now >= sk->max_sessions) {
            static const char busy[] = "421 4.3.2 too many sessions\r\n";

            if (write(cfd, busy, sizeof(busy) - 1) < 0)
                msg_warn("refusing a session: %m");
            close(cfd);
            continue;
        }
        ss = mem_calloc(1, sizeof(*ss));
        ss->sk = sk;
        ss->fd = cfd;
        ss->s = stream_fdopen(cfd, STREAM_F_RDWR);
        stream_set_timeout(ss->s, (int) sk->timeout_ms);
        ss->in = strbuf_new(SINK_READ_SIZE);
        ss->sender = strbuf_new(64);
        ss->data = strbuf_new(sk->keep_dir ? 4096 : 1);
        ss->rcpts = mem_calloc(SINK_RCPT_MAX, sizeof(char *));
        ss->next = sk->all;
        if (sk->all)
            sk->all->prev = ss;
        sk->all = ss;
        sk->sessions_now++;
        sk->sessions++;
        greet = strbuf_new(64);
        strbuf_printf(greet, "220 %s %s ready", sk->hostname,
                      sk->lmtp ? "LMTP" : "ESMTP");
        sink_reply(ss, greet->data);
        strbuf_free(greet);
        if (stream_flush(ss->s) < 0
            || event_add_read(loop, cfd, sink_sess_read, ss) < 0) {
            sink_sess_close(ss);
            continue;
        }
        sink_arm_idle(ss);
    }
    if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR
        && errno != ECONNABORTED)
        msg_warn("accept: %m");
}

/* sink_signal: SIGTERM/SIGINT stop, SIGUSR1 reports. */
static void sink_signal(event_loop *loop, int fd, void *ctx)
{
    sink   *sk = ctx;
    struct signalfd_siginfo si;

    if (read(fd, &si, sizeof(si)) != (ssize_t) sizeof(si))
        return;
    if (si.ssi_signo == SIGUSR1)
        sink_report(sk);
    else
        event_loop_stop(loop);
}

/* sink_listen: the listening socket on host:port; prints the address. */
static int sink_listen(const char *host, const char *port)
{
    struct addrinfo hints;
    struct addrinfo *res = NULL;
    struct sockaddr_storage ss;
    socklen_t sslen = sizeof(ss);
    char    h[NI_MAXHOST], p[NI_MAXSERV];
    int     fd;
    int     on = 1;
    int     rc;

    memset(&hints, 0, sizeof(hints));
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE;
    rc = getaddrinfo(host, port, &hints, &res);
    if (rc != 0)
        msg_fatal("%s:%s: %s", host ? host : "*", port, gai_strerror(rc));
    fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        msg_fatal("socket: %m");
    (void) setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
    if (bind(fd, res->ai_addr, res->ai_addrlen) < 0)
        msg_fatal("bind %s:%s: %m", host ? host : "*", port);
    freeaddrinfo(res);
    if (listen(fd, 1024) < 0)
        msg_fatal("listen: %m");
    if (getsockname(fd, (struct sockaddr *) &ss, &sslen) == 0
        && getnameinfo((struct sockaddr *) &ss, sslen, h, sizeof(h), p, sizeof(p),
                       NI_NUMERICHOST | NI_NUMERICSERV) == 0) {
        printf("listening %s:%s\n", h, p);
        fflush(stdout);
    }
    return fd;
}

/* sink_usage: print usage and exit 2. */
static void sink_usage(void)
{
    fprintf(stderr,
            "usage: " SINK_NAME " [-l] [-R pattern] [-D pattern] [-X pattern]\n"
            "       [-S stall-ms] [-d dir] [-C cert -K key] [-n messages]\n"
            "       [-c sessions] [-s max-size] [-w timeout] [-h hostname]\n"
            "       [host:]port\n");
    exit(2);
}

/* sink_number: a bounded option value, or exit 2. */
static long sink_number(int opt, const char *arg, long min, long max)
{
    long    v;

    if (num_parse_long(arg, min, max, &v) < 0) {
        fprintf(stderr, SINK_NAME ": -%c %s: need a number from %ld to %ld\n",
                opt, arg, min, max);
        exit(2);
    }
    return v;
}

/* sink_rule: add a rule from the command line, or exit 2. */
static void sink_rule(sink *sk, enum sinkrule_action act, int opt,
                      const char *pattern)
{
    strbuf *err = strbuf_new(64);

    if (sinkrule_add(sk->rules, act, pattern, err) < 0) {
        fprintf(stderr, SINK_NAME ": -%c %s: %s\n", opt, pattern, err->data);
        exit(2);
    }
    strbuf_free(err);
}

/* main: options, listen, loop, report. */
int     main(int argc, char **argv)
{
    sink    sk;
    const char *cert = NULL, *key = NULL;
    char   *target, *colon;
    const char *host = NULL;
    const char *port;
    sigset_t mask;
    struct stat st;
    int     ch;

    msg_init(SINK_NAME, MSG_F_STDERR);
    memset(&sk, 0, sizeof(sk));
    sk.rules = sinkrule_list_new();
    sk.hostname = "sink.invalid";
    sk.max_size = 64L << 20;
    sk.max_sessions = 512;
    sk.timeout_ms = 300000;
    while ((ch = getopt(argc, argv, "c:C:d:D:h:K:ln:R:s:S:w:X:")) != -1) {
        switch (ch) {
        case 'c':
            sk.max_sessions = sink_number(ch, optarg, 1, 100000);
            break;
        case 'C':
            cert = optarg;
            break;
        case 'd':
            sk.keep_dir = optarg;
            break;
        case 'D':
            sink_rule(&sk, SINKRULE_DEFER, ch, optarg);
            break;
        case 'h':
            sk.hostname = optarg;
            break;
        case 'K':
            key = optarg;
            break;
        case 'l':
            sk.lmtp = 1;
            break;
        case 'n':
            sk.stop_after = sink_number(ch, optarg, 0, 1000000000);
            break;
        case 'R':
            sink_rule(&sk, SINKRULE_REJECT, ch, optarg);
            break;
        case 's':
            sk.max_size = sink_number(ch, optarg, 1, 1L << 31);
            break;
        case 'S':
            sk.stall_ms = sink_number(ch, optarg, 0, 3600000);
            break;
        case 'w':
            sk.timeout_ms = sink_number(ch, optarg, 1, 86400) * 1000;
            break;
        case 'X':
            sink_rule(&sk, SINKRULE_DROP, ch, optarg);
            break;
        default:
            sink_usage();
        }
    }
    if (optind != argc - 1)
        sink_usage();
    if (strpbrk(sk.hostname, " \t\r\n") != NULL || *sk.hostname == '\0')
        sink_usage();
    if (sk.keep_dir && (stat(sk.keep_dir, &st) < 0 || !S_ISDIR(st.st_mode))) {
        fprintf(stderr, SINK_NAME ": -d %s: not a directory\n", sk.keep_dir);
        exit(2);
    }
    if ((cert == NULL) != (key == NULL)) {
        fprintf(stderr, SINK_NAME ": -C and -K go together\n");
        exit(2);
    }
    if (cert) {
        tls_server_opts so;
        strbuf *err = strbuf_new(64);

        memset(&so, 0, sizeof(so));
        so.cert_file = cert;
        so.key_file = key;
        so.chain_files = so.ca_file = so.ca_path = "";
        so.protocols = ">=TLSv1.2";
        so.cipherlist = "";
        so.session_timeout = 3600;
        sk.tls = tls_server_ctx_create(&so, err);
        if (sk.tls == NULL) {
            fprintf(stderr, SINK_NAME ": TLS: %s\n", err->data);
            exit(1);
        }
        strbuf_free(err);
    }
    target = argv[optind];
    colon = strrchr(target, ':');
    if (colon != NULL) {
        *colon = '\0';
        port = colon + 1;
        host = target;
        if (host[0] == '[' && colon > host + 1 && colon[-1] == ']') {
            colon[-1] = '\0';
            host++;
        }
        if (*host == '\0')
            host = NULL;
    } else {
        port = target;
    }
    (void) sink_number('p', port, 0, 65535);

    signal(SIGPIPE, SIG_IGN);
    sigemptyset(&mask);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGUSR1);
    if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
        msg_fatal("sigprocmask: %m");
    sk.sig_fd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
    if (sk.sig_fd < 0)
        msg_fatal("signalfd: %m");

    sk.loop = event_loop_new();
    sk.listen_fd = sink_listen(host, port);
    if (event_add_read(sk.loop, sk.listen_fd, sink_accept, &sk) < 0
        || event_add_read(sk.loop, sk.sig_fd, sink_signal, &sk) < 0)
        msg_fatal("cannot register with the event loop: %m");
    if (event_loop_run(sk.loop) < 0)
        msg_fatal("event loop: %m");
    sink_report(&sk);
    /* Sessions still open are closed without a goodbye. */
    while (sk.all)
        sink_sess_close(sk.all);
    event_remove(sk.loop, sk.listen_fd);
    event_remove(sk.loop, sk.sig_fd);
    event_loop_free(sk.loop);
    close(sk.listen_fd);
    close(sk.sig_fd);
    tls_ctx_free(sk.tls);
    sinkrule_list_free(sk.rules);
    return 0;
}
