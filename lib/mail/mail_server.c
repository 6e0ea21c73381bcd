/*
 * mail_server: the service skeleton (accept loop, process reuse limits,
 * privilege drop, configuration load) shared by every daemon.
 *
 * Public functions:
 *   mail_server_main(argc, argv, desc): run the service described by desc
 *     as a child of master; never returns. Steps: check that the master
 *     descriptors (MASTER_LIFELINE_FD, MASTER_STATUS_FD) are open, else
 *     fatal "must be run by master"; parse the options (see
 *     mail_server_parse_args); load main.cf from -c (or MAIL_CONFIG, or
 *     the default) and apply every -o name=value above it; log as
 *     "$syslog_name/NAME[pid]" to maillog_file when set, else to syslog;
 *     run desc->pre_init; with -z chroot to queue_directory; with -u
 *     switch to mail_owner (its groups, plus setgid_group with
 *     MAIL_SERVER_F_SETGID_GROUP); run desc->post_init; then serve
 *     clients (see mail_server.h for the three modes). The process exits
 *     0 after max_use clients, after max_idle seconds without a client,
 *     when the lifeline reports EOF (master reloaded, stopped or died; a
 *     client in progress is finished first), after a client when a lookup
 *     table it opened has changed (dict_cache_changed), and on SIGTERM (at once, even
 *     in the middle of a client: every protocol is safe against that; in
 *     SINGLE mode a non-NULL desc->shutdown_reply, read after post_init,
 *     is first written to the client followed by CRLF, at most
 *     MAIL_SERVER_SHUTDOWN_REPLY_MAX bytes, best effort, never blocking).
 *     Configuration and environment errors are fatal (exit 1: master
 *     throttles a service that fails before its first client).
 *   mail_server_service(srv), mail_server_type(srv): -S and -t values.
 *   mail_server_argv(srv, &argc): the program arguments after the options
 *     (NULL-terminated; they belong to the caller's argv).
 *   mail_server_ctx(srv): desc->ctx.
 *   mail_server_loop(srv): the event loop (MAIL_SERVER_MULTI only, from
 *     pre_init on; NULL otherwise).
 *   mail_server_multi_done(srv, fd): a MULTI handler is done with client
 *     fd: the skeleton removes fd from the loop and closes it.
 *   mail_server_parse_args(argc, argv, opts, err): parse
 *     "-c dir -S service -t type -s n -u -z -v -o name=value" (options may
 *     be clustered, "-ofoo=bar" and "-o foo=bar" both work, "-o { foo =
 *     bar }" as master.cf hands it over is trimmed). Option scanning stops
 *     at the first word that does not start with '-' or after "--"; the
 *     rest is opts->argc/argv. Returns 0, or -1 with err set (unknown
 *     option, missing value, bad number or type, bad override). Free
 *     opts with mail_server_opts_free even after -1.
 *   mail_server_opts_free(opts): release what parsing allocated.
 *   mail_server_send_status(fd, avail): write one master_status for this
 *     process; returns 0, or -1 when the write failed or was short (master
 *     gone or pipe full: the caller carries on, the lifeline tells it when
 *     to stop).
 *
 * SECURITY: this is where a service gives up root: mail_owner must exist
 *   and must not be uid 0, the group list is set before setgid/setuid,
 *   and the process checks that it cannot get root back. The lookups of
 *   mail_owner and its groups are done before chroot (no /etc inside).
 *   Trigger input comes from any process that can reach the socket: it is
 *   read with a size limit and a timeout and handed over as bytes.
 * LIMITS: MASTER_LISTEN_MAX listeners; MAIL_SERVER_TRIGGER_MAX bytes and
 *   MAIL_SERVER_TRIGGER_TIMEOUT ms per trigger; max_use clients and
 *   max_idle seconds per process (from the parameter table).
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "event.h"
#include "dict.h"
#include "mail_server.h"
#include "master_proto.h"
#include "mastercf.h"
#include "mem.h"
#include "msg.h"
#include "numparse.h"
#include "param.h"
#include "param_names.h"
#include "stream.h"
#include "strbuf.h"
#include "strutil.h"

struct mail_server {
    const mail_server_desc *desc;
    mail_server_opts opts;
    enum mastercf_type type_code;
    int     listen_fds[MASTER_LISTEN_MAX];
    size_t  nlisten;
    long    max_use;                    /* 0 = no limit */
    long    max_idle;                   /* seconds, 0 = no limit */
    long    use_count;
    int     announced_use;              /* MULTI: first use reported */
    int     draining;                   /* MULTI: no more new clients */
    size_t  multi_clients;
    int64_t idle_since;                 /* MULTI: monotonic ms */
    event_loop *loop;
};

/* Signal state: the SIGTERM handler's only channel to the loop. */
static volatile sig_atomic_t mail_server_busy;
static int mail_server_sigpipe[2] = {-1, -1};

/* Shutdown reply state for the SIGTERM handler. These are allowed
 * exceptions to the no-globals rule: a signal handler gets no argument,
 * so the only way to hand it data is static storage, and it may only do
 * async-signal-safe things (send, write, _exit) with data prepared earlier.
 * The line is formatted once after post_init and never written again;
 * the client fd is a sig_atomic_t set just before and cleared just after
 * the conn call, so the handler sees either -1 or a valid descriptor. */
static char mail_server_shutdown_buf[MAIL_SERVER_SHUTDOWN_REPLY_MAX + 2];
static size_t mail_server_shutdown_len;
static volatile sig_atomic_t mail_server_client_fd = -1;

/* mail_server_fail: format an argument error into err; returns -1. */
static int mail_server_fail(strbuf *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int mail_server_fail(strbuf *err, const char *fmt, ...)
{
    va_list ap;

    if (err) {
        va_start(ap, fmt);
        (void) strbuf_vsetf(err, fmt, ap);
        va_end(ap);
    }
    return -1;
}

/* mail_server_add_override: parse "name=value" (spaces around both
 * trimmed) into opts. */
static int mail_server_add_override(mail_server_opts *opts, const char *text,
                                    strbuf *err)
{
    const char *eq = strchr(text, '=');
    char   *raw;
    char   *name;
    char   *value;
    const char *p;

    if (eq == NULL)
        return mail_server_fail(err, "bad -o option \"%.100s\": need name=value", text);
    raw = mem_strndup(text, (size_t) (eq - text));
    name = mem_strdup(str_trim(raw));
    mem_free(raw);
    raw = mem_strdup(eq + 1);
    value = mem_strdup(str_trim(raw));
    mem_free(raw);
    for (p = name; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')
              || (*p >= '0' && *p <= '9') || *p == '_'))
            break;
    if (*name == 0 || *p != 0) {
        (void) mail_server_fail(err, "bad parameter name in -o \"%.100s\"", text);
        mem_free(name);
        mem_free(value);
        return -1;
    }
    opts->overrides = mem_realloc(opts->overrides,
                                  (opts->noverrides + 1) * sizeof(*opts->overrides));
    opts->overrides[opts->noverrides].name = name;
    opts->overrides[opts->noverrides].value = value;
    opts->noverrides++;
    return 0;
}

/* mail_server_type_code: the type code for a -t value, or 0. */
static enum mastercf_type mail_server_type_code(const char *name)
{
    int     code;
    const char *known;

    for (code = MASTERCF_TYPE_INET; code <= MASTERCF_TYPE_PASS; code++) {
        known = mastercf_type_name((enum mastercf_type) code);
        if (known && strcmp(known, name) == 0)
            return (enum mastercf_type) code;
    }
    return (enum mastercf_type) 0;
}

/* mail_server_parse_args: parse master's options into opts. */
int mail_server_parse_args(int argc, char **argv, mail_server_opts *opts,
                           strbuf *err)
{
    int     i;

    memset(opts, 0, sizeof(*opts));
    for (i = 1; i < argc && argv[i] != NULL; i++) {
        const char *arg = argv[i];
        const char *p;

        if (arg[0] != '-' || arg[1] == 0)
            break;
        if (strcmp(arg, "--") == 0) {
            i++;
            break;
        }
        for (p = arg + 1; *p; p++) {
            const char *val;
            char    opt = *p;

            switch (opt) {
            case 'u':
                opts->unpriv = 1;
                continue;
            case 'z':
                opts->chroot = 1;
                continue;
            case 'v':
                opts->verbose++;
                continue;
            case 'c':
            case 'S':
            case 't':
            case 's':
            case 'o':
                break;
            default:
                return mail_server_fail(err, "unknown option -%c", opt);
            }
            /* Options with a value: the rest of this word or the next. */
            if (p[1] != 0) {
                val = p + 1;
            } else if (i + 1 < argc && argv[i + 1] != NULL) {
                val = argv[++i];
            } else {
                return mail_server_fail(err, "option -%c needs a value", opt);
            }
            switch (opt) {
            case 'c':
                opts->config_dir = val;
                break;
            case 'S':
                if (*val == 0)
                    return mail_server_fail(err, "empty service name (-S)");
                opts->service = val;
                break;
            case 't':
                if (mail_server_type_code(val) == 0)
                    return mail_server_fail(err, "unknown service type \"%.50s\" (-t)", val);
                opts->type = val;
                break;
            case 's':
                if (num_parse_long(val, 1, MASTER_LISTEN_MAX, &opts->nsockets) < 0)
                    return mail_server_fail(err, "bad socket count \"%.50s\" (-s): "
                                            "need 1..%d", val, MASTER_LISTEN_MAX);
                break;
            case 'o':
                if (mail_server_add_override(opts, val, err) < 0)
                    return -1;
                break;
            }
            break;                      /* the value ended this word */
        }
    }
    opts->argc = argc - i;
    opts->argv = argv + i;
    return 0;
}

/* mail_server_opts_free: release the overrides. */
void mail_server_opts_free(mail_server_opts *opts)
{
    size_t  i;

    for (i = 0; i < opts->noverrides; i++) {
        mem_free(opts->overrides[i].name);
        mem_free(opts->overrides[i].value);
    }
    opts->overrides = mem_free(opts->overrides);
    opts->noverrides = 0;
}

/* mail_server_send_status: tell master whether we are available. */
int mail_server_send_status(int fd, int avail)
{
    master_status st;
    ssize_t n;

    memset(&st, 0, sizeof(st));
    st.pid = (int32_t) getpid();
    st.generation = 0;
    st.avail = avail ? MASTER_STAT_AVAIL : MASTER_STAT_TAKEN;
    do {
        n = write(fd, &st, sizeof(st));
    } while (n < 0 && errno == EINTR);
    return n == (ssize_t) sizeof(st) ? 0 : -1;
}

/* mail_server_now_ms: monotonic clock in milliseconds. */
static int64_t mail_server_now_ms(void)
{
    struct timespec ts;

    if (clock_gettime(CLOCK_MONOTONIC, &ts) < 0)
        msg_panic("mail_server: clock_gettime: %m");
    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* mail_server_on_term: SIGTERM: exit now when busy, else wake the loop. */
static void mail_server_on_term(int sig)
{
    char    ch = (char) sig;
    int     saved = errno;

    if (mail_server_busy) {
        if (mail_server_client_fd >= 0 && mail_server_shutdown_len > 0) {
            /* The client socket is blocking: do not get stuck on a full
             * send buffer, we are exiting anyway. */
            (void) !send(mail_server_client_fd, mail_server_shutdown_buf,
                         mail_server_shutdown_len, MSG_DONTWAIT | MSG_NOSIGNAL);
        }
        _exit(0);
    }
    if (mail_server_sigpipe[1] >= 0)
        (void) !write(mail_server_sigpipe[1], &ch, 1);
    errno = saved;
}

/* mail_server_shutdown_prepare: preformat reply + CRLF for the handler
 * (cut at the first CR or LF and at MAIL_SERVER_SHUTDOWN_REPLY_MAX). */
static void mail_server_shutdown_prepare(const char *reply)
{
    size_t  len = strcspn(reply, "\r\n");

    if (len == 0)
        return;
    if (len > MAIL_SERVER_SHUTDOWN_REPLY_MAX)
        len = MAIL_SERVER_SHUTDOWN_REPLY_MAX;
    memcpy(mail_server_shutdown_buf, reply, len);
    mail_server_shutdown_buf[len] = '\r';
    mail_server_shutdown_buf[len + 1] = '\n';
    mail_server_shutdown_len = len + 2;
}

/* mail_server_signals: SIGTERM handling; SIGPIPE, SIGINT, SIGHUP ignored
 * (master and the terminal's ^C reach us only through master). */
static void mail_server_signals(void)
{
    struct sigaction sa;
    sigset_t none;

    if (pipe2(mail_server_sigpipe, O_CLOEXEC | O_NONBLOCK) < 0)
        msg_fatal("pipe: %m");
    memset(&sa, 0, sizeof(sa));
    sigemptyset(&sa.sa_mask);
    sa.sa_handler = SIG_IGN;
    (void) sigaction(SIGPIPE, &sa, NULL);
    (void) sigaction(SIGINT, &sa, NULL);
    (void) sigaction(SIGHUP, &sa, NULL);
    sa.sa_handler = mail_server_on_term;
    (void) sigaction(SIGTERM, &sa, NULL);
    sigemptyset(&none);
    (void) sigprocmask(SIG_SETMASK, &none, NULL);
}

/* mail_server_fd_open: 1 when fd is an open descriptor. */
static int mail_server_fd_open(int fd)
{
    return fcntl(fd, F_GETFD) >= 0;
}

/* mail_server_logging: apply syslog_name, syslog_facility, maillog_file. */
static void mail_server_logging(const mail_server_desc *desc)
{
    const char *file = param_str(PARAM_MAILLOG_FILE);

    msg_init(desc->name, *file ? 0 : MSG_F_SYSLOG);
    if (msg_configure(param_str(PARAM_SYSLOG_NAME), param_str(PARAM_SYSLOG_FACILITY),
                      file) < 0)
        msg_init(desc->name, MSG_F_SYSLOG);
}

/* mail_server_drop: chroot and/or switch to mail_owner as told. */
static void mail_server_drop(mail_server *srv)
{
    const char *owner = param_str(PARAM_MAIL_OWNER);
    const char *queue_dir = param_str(PARAM_QUEUE_DIRECTORY);
    struct passwd *pw = NULL;
    gid_t  *groups = NULL;
    int     ngroups = 0;
    uid_t   uid = 0;
    gid_t   gid = 0;

    if (!srv->opts.unpriv && !srv->opts.chroot)
        return;
    if (geteuid() != 0)
        msg_fatal("-u and -z need root privileges; master passes them only "
                  "when it runs as root");
    if (srv->opts.unpriv) {
        long    max = sysconf(_SC_NGROUPS_MAX);

        errno = 0;
        if ((pw = getpwnam(owner)) == NULL)
            msg_fatal("mail_owner \"%s\": no such user%s%s", owner,
                      errno ? ": " : "", errno ? strerror(errno) : "");
        if (pw->pw_uid == 0)
            msg_fatal("mail_owner \"%s\" has uid 0; refusing to run as root", owner);
        uid = pw->pw_uid;
        gid = pw->pw_gid;
        if (max <= 0 || max > 65536)
            max = 65536;
        ngroups = (int) max;
        groups = mem_calloc((size_t) max + 1, sizeof(*groups));
        if (getgrouplist(owner, gid, groups, &ngroups) < 0)
            msg_fatal("mail_owner \"%s\": too many groups", owner);
        if (srv->desc->flags & MAIL_SERVER_F_SETGID_GROUP) {
            const char *gname = param_str(PARAM_SETGID_GROUP);
            struct group *gr = getgrnam(gname);

            if (gr == NULL)
                msg_fatal("setgid_group \"%s\": no such group", gname);
            if (gr->gr_gid == 0)
                msg_fatal("setgid_group \"%s\" has gid 0", gname);
            if (ngroups < (int) max)
                groups[ngroups++] = gr->gr_gid;
        }
    }
    if (srv->opts.chroot) {
        if (chroot(queue_dir) < 0)
            msg_fatal("chroot %s: %m", queue_dir);
        if (chdir("/") < 0)
            msg_fatal("chdir / in %s: %m", queue_dir);
        if (msg_verbose)
            msg_info("chroot to %s", queue_dir);
    }
    if (srv->opts.unpriv) {
        if (setgroups((size_t) ngroups, groups) < 0)
            msg_fatal("setgroups for %s: %m", owner);
        if (setgid(gid) < 0)
            msg_fatal("setgid %ld: %m", (long) gid);
        if (setuid(uid) < 0)
            msg_fatal("setuid %ld: %m", (long) uid);
        if (setuid(0) == 0 || geteuid() == 0)
            msg_fatal("could get root back after dropping privileges; stopping");
        mem_free(groups);
        if (msg_verbose)
            msg_info("running as %s (uid %ld)", owner, (long) uid);
    }
}

/* mail_server_lifeline_gone: 1 when master closed the lifeline (or died);
 * does not block. */
static int mail_server_lifeline_gone(void)
{
    struct pollfd pfd;

    pfd.fd = MASTER_LIFELINE_FD;
    pfd.events = POLLIN;
    pfd.revents = 0;
    return poll(&pfd, 1, 0) > 0;
}

/* mail_server_accept: accept one client on a listener; -1 when none. */
static int mail_server_accept(int listen_fd, int flags)
{
    int     fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC | flags);

    if (fd >= 0)
        return fd;
    switch (errno) {
    case EAGAIN:
#if EWOULDBLOCK != EAGAIN
    case EWOULDBLOCK:
#endif
    case EINTR:
    case ECONNABORTED:
    case EPROTO:
    case ENETDOWN:
    case ENOPROTOOPT:
    case EHOSTDOWN:
    case ENONET:
    case EHOSTUNREACH:
    case EOPNOTSUPP:
    case ENETUNREACH:
        return -1;                      /* another process got it, or the
                                         * client went away: normal */
    default:
        msg_fatal("accept: %m");
    }
}

/* mail_server_read_trigger: read one trigger from fd (stream socket when
 * is_stream, else fifo or datagram) and hand it to the handler. */
static void mail_server_read_trigger(mail_server *srv, int fd, int is_stream)
{
    char    buf[MAIL_SERVER_TRIGGER_MAX];
    size_t  len = 0;
    ssize_t n;

    if (is_stream) {
        stream *s = stream_fdopen(fd, STREAM_F_READ);

        stream_set_timeout(s, MAIL_SERVER_TRIGGER_TIMEOUT);
        while (len < sizeof(buf) && (n = stream_read(s, buf + len, sizeof(buf) - len)) > 0)
            len += (size_t) n;
        if (stream_timed_out(s))
            msg_warn("%s: trigger timed out after %zu bytes", srv->opts.service, len);
        (void) stream_close(s);
    } else {
        do {
            n = read(fd, buf, sizeof(buf));
        } while (n < 0 && errno == EINTR);
        if (n <= 0)
            return;                     /* another process got it */
        len = (size_t) n;
    }
    if (len > 0)
        srv->desc->trigger(srv, buf, len);
}

/* mail_server_serve_one: serve a ready listener once (single/trigger). */
static void mail_server_serve_one(mail_server *srv, int listen_fd)
{
    int     stream_type = srv->type_code == MASTERCF_TYPE_INET
        || srv->type_code == MASTERCF_TYPE_UNIX || srv->type_code == MASTERCF_TYPE_PASS;
    int     fd = listen_fd;

    if (stream_type && (fd = mail_server_accept(listen_fd, 0)) < 0)
        return;
    (void) mail_server_send_status(MASTER_STATUS_FD, 0);
    mail_server_busy = 1;
    if (srv->desc->mode == MAIL_SERVER_TRIGGER) {
        mail_server_read_trigger(srv, fd, stream_type);
    } else {
        stream *client = stream_fdopen(fd, STREAM_F_RDWR);

        if (stream_type)
            mail_server_client_fd = fd;
        srv->desc->conn(srv, client);
        mail_server_client_fd = -1;
        (void) stream_close(client);
    }
    mail_server_busy = 0;
    srv->use_count++;
    if (srv->max_use > 0 && srv->use_count >= srv->max_use) {
        if (msg_verbose)
            msg_info("served %ld clients (max_use) -- exiting", srv->use_count);
        exit(0);
    }
    if (mail_server_lifeline_gone()) {
        if (msg_verbose)
            msg_info("master closed the lifeline -- exiting");
        exit(0);
    }
    /* A lookup table this process has open was rebuilt (or could not be
     * opened before): let master start a fresh process that opens it. */
    if (dict_cache_changed()) {
        msg_info("a lookup table has changed -- restarting");
        dict_cache_flush();
        exit(0);
    }
    (void) mail_server_send_status(MASTER_STATUS_FD, 1);
}

/* mail_server_loop_single: the poll loop for SINGLE and TRIGGER modes. */
static void mail_server_loop_single(mail_server *srv)
{
    struct pollfd pfds[2 + MASTER_LISTEN_MAX];
    size_t  i;
    int     n;
    int     timeout;

    for (;;) {
        pfds[0].fd = MASTER_LIFELINE_FD;
        pfds[1].fd = mail_server_sigpipe[0];
        for (i = 0; i < srv->nlisten; i++)
            pfds[2 + i].fd = srv->listen_fds[i];
        for (i = 0; i < 2 + srv->nlisten; i++) {
            pfds[i].events = POLLIN;
            pfds[i].revents = 0;
        }
        timeout = srv->max_idle > 0 ? (int) (srv->max_idle > INT_MAX / 1000 ?
                                             INT_MAX : srv->max_idle * 1000) : -1;
        n = poll(pfds, 2 + srv->nlisten, timeout);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            msg_fatal("poll: %m");
        }
        if (n == 0) {
            if (msg_verbose)
                msg_info("idle for %ld seconds (max_idle) -- exiting", srv->max_idle);
            exit(0);
        }
        if (pfds[1].revents) {
            if (msg_verbose)
                msg_info("SIGTERM -- exiting");
            exit(0);
        }
        if (pfds[0].revents) {
            if (msg_verbose)
                msg_info("master closed the lifeline -- exiting");
            exit(0);
        }
        for (i = 0; i < srv->nlisten; i++) {
            if (pfds[2 + i].revents & (POLLIN | POLLERR | POLLHUP)) {
                mail_server_serve_one(srv, srv->listen_fds[i]);
                break;                  /* re-check lifeline and signals */
            }
        }
    }
}

/* mail_server_multi_exit_check: exit when draining and no client is left. */
static void mail_server_multi_exit_check(mail_server *srv)
{
    if (srv->draining && srv->multi_clients == 0) {
        if (msg_verbose)
            msg_info("no clients left -- exiting");
        exit(0);
    }
}

/* mail_server_multi_drain: stop accepting; exit once the clients are done. */
static void mail_server_multi_drain(mail_server *srv)
{
    size_t  i;

    if (!srv->draining) {
        srv->draining = 1;
        for (i = 0; i < srv->nlisten; i++)
            event_remove(srv->loop, srv->listen_fds[i]);
        event_remove(srv->loop, MASTER_LIFELINE_FD);
    }
    mail_server_multi_exit_check(srv);
}

/* mail_server_multi_accept: a listener of a MULTI service is readable. */
static void mail_server_multi_accept(event_loop *loop, int listen_fd, void *ctx)
{
    mail_server *srv = ctx;
    int     fd;

    (void) loop;
    if (srv->draining || (fd = mail_server_accept(listen_fd, SOCK_NONBLOCK)) < 0)
        return;
    if (!srv->announced_use) {
        master_status st[2];

        /* Tell master we were used once (for "wakeup N?"), one write. */
        memset(st, 0, sizeof(st));
        st[0].pid = st[1].pid = (int32_t) getpid();
        st[0].avail = MASTER_STAT_TAKEN;
        st[1].avail = MASTER_STAT_AVAIL;
        (void) !write(MASTER_STATUS_FD, st, sizeof(st));
        srv->announced_use = 1;
    }
    srv->multi_clients++;
    srv->use_count++;
    srv->desc->multi(srv, fd);
    if (srv->max_use > 0 && srv->use_count >= srv->max_use)
        mail_server_multi_drain(srv);
}

/* mail_server_multi_lifeline: master closed the lifeline. */
static void mail_server_multi_lifeline(event_loop *loop, int fd, void *ctx)
{
    (void) loop;
    (void) fd;
    if (msg_verbose)
        msg_info("master closed the lifeline -- draining");
    mail_server_multi_drain(ctx);
}

/* mail_server_multi_term: SIGTERM in MULTI mode. */
static void mail_server_multi_term(event_loop *loop, int fd, void *ctx)
{
    (void) loop;
    (void) fd;
    (void) ctx;
    if (msg_verbose)
        msg_info("SIGTERM -- exiting");
    exit(0);
}

/* mail_server_multi_done: a MULTI handler is finished with client fd. */
void mail_server_multi_done(mail_server *srv, int fd)
{
    event_remove(srv->loop, fd);
    (void) close(fd);
    if (srv->multi_clients > 0)
        srv->multi_clients--;
    if (srv->multi_clients == 0)
        srv->idle_since = mail_server_now_ms();
    mail_server_multi_exit_check(srv);
}

/* mail_server_loop_multi: the event loop for MULTI mode. */
static void mail_server_loop_multi(mail_server *srv)
{
    size_t  i;

    for (i = 0; i < srv->nlisten; i++)
        if (event_add_read(srv->loop, srv->listen_fds[i], mail_server_multi_accept, srv) < 0)
            msg_fatal("event_add_read listener %d: %m", srv->listen_fds[i]);
    if (event_add_read(srv->loop, MASTER_LIFELINE_FD, mail_server_multi_lifeline, srv) < 0
        || event_add_read(srv->loop, mail_server_sigpipe[0], mail_server_multi_term, srv) < 0)
        msg_fatal("event_add_read: %m");
    srv->idle_since = mail_server_now_ms();
    for (;;) {
        if (event_loop_run_once(srv->loop, 1000) < 0)
            msg_fatal("event loop: %m");
        if (srv->max_idle > 0 && srv->multi_clients == 0
            && mail_server_now_ms() - srv->idle_since >= srv->max_idle * 1000) {
            if (msg_verbose)
                msg_info("idle for %ld seconds (max_idle) -- exiting", srv->max_idle);
            exit(0);
        }
    }
}

/* mail_server_main: run a service under master. */
void    mail_server_main(int argc, char **argv, const mail_server_desc *desc)
{
    mail_server *srv;
    strbuf *err = strbuf_new(128);
    size_t  i;

    msg_init(desc->name, MSG_F_STDERR | MSG_F_SYSLOG);
    if (!mail_server_fd_open(MASTER_LIFELINE_FD) || !mail_server_fd_open(MASTER_STATUS_FD))
        msg_fatal("this program must be run by master (descriptors %d and %d "
                  "are not open); see master(8)", MASTER_LIFELINE_FD, MASTER_STATUS_FD);
    srv = mem_calloc(1, sizeof(*srv));
    srv->desc = desc;
    if (mail_server_parse_args(argc, argv, &srv->opts, err) < 0)
        msg_fatal("%s", strbuf_str(err));
    msg_verbose += srv->opts.verbose;
    if (srv->opts.service == NULL || srv->opts.type == NULL || srv->opts.nsockets < 1)
        msg_fatal("missing -S, -t or -s: this program must be run by master");
    if (param_load(param_config_dir(srv->opts.config_dir), err) < 0)
        msg_fatal("%s", strbuf_str(err));
    for (i = 0; i < srv->opts.noverrides; i++)
        (void) param_override(srv->opts.overrides[i].name, srv->opts.overrides[i].value);
    mail_server_logging(desc);

    srv->type_code = mail_server_type_code(srv->opts.type);
    switch (desc->mode) {
    case MAIL_SERVER_SINGLE:
    case MAIL_SERVER_MULTI:
        if (srv->type_code != MASTERCF_TYPE_INET && srv->type_code != MASTERCF_TYPE_UNIX
            && srv->type_code != MASTERCF_TYPE_PASS)
            msg_fatal("%s: service type %s is not supported by %s; use inet or unix",
                      srv->opts.service, srv->opts.type, desc->name);
        if ((desc->mode == MAIL_SERVER_SINGLE && desc->conn == NULL)
            || (desc->mode == MAIL_SERVER_MULTI && desc->multi == NULL))
            msg_panic("mail_server_main: %s: no handler for its mode", desc->name);
        break;
    case MAIL_SERVER_TRIGGER:
        if (desc->trigger == NULL)
            msg_panic("mail_server_main: %s: no trigger handler", desc->name);
        break;
    default:
        msg_panic("mail_server_main: %s: bad mode %d", desc->name, (int) desc->mode);
    }
    srv->nlisten = (size_t) srv->opts.nsockets;
    for (i = 0; i < srv->nlisten; i++) {
        srv->listen_fds[i] = MASTER_LISTEN_FD + (int) i;
        if (!mail_server_fd_open(srv->listen_fds[i]))
            msg_fatal("listener descriptor %d is not open: this program must be "
                      "run by master", srv->listen_fds[i]);
    }
    /* Status writes must never block us; the status pipe is ours alone
     * among the fds master shares (master only reads it). */
    (void) fcntl(MASTER_STATUS_FD, F_SETFL, fcntl(MASTER_STATUS_FD, F_GETFL) | O_NONBLOCK);
    srv->max_use = (desc->flags & MAIL_SERVER_F_NO_USE_LIMIT) ? 0 : param_int(PARAM_MAX_USE);
    srv->max_idle = (desc->flags & MAIL_SERVER_F_NO_IDLE_LIMIT) ? 0 : param_time(PARAM_MAX_IDLE);
    mail_server_signals();
    strbuf_free(err);

    if (desc->mode == MAIL_SERVER_MULTI)
        srv->loop = event_loop_new();
    if (desc->pre_init)
        desc->pre_init(srv);
    mail_server_drop(srv);
    if (desc->post_init)
        desc->post_init(srv);
    if (desc->mode == MAIL_SERVER_SINGLE && desc->shutdown_reply)
        mail_server_shutdown_prepare(desc->shutdown_reply);
    if (msg_verbose)
        msg_info("%s/%s: ready on %zu socket(s)", srv->opts.service, srv->opts.type,
                 srv->nlisten);
    if (desc->mode == MAIL_SERVER_MULTI)
        mail_server_loop_multi(srv);
    else
        mail_server_loop_single(srv);
    exit(0);                            /* not reached */
}

/* mail_server_service: the -S service name. */
const char *mail_server_service(const mail_server *srv)
{
    return srv->opts.service;
}

/* mail_server_type: the -t service type. */
const char *mail_server_type(const mail_server *srv)
{
    return srv->opts.type;
}

/* mail_server_argv: program arguments after the options. */
char  **mail_server_argv(const mail_server *srv, int *argc)
{
    if (argc)
        *argc = srv->opts.argc;
    return srv->opts.argv;
}

/* mail_server_ctx: the descriptor's context pointer. */
void   *mail_server_ctx(const mail_server *srv)
{
    return srv->desc->ctx;
}

/* mail_server_loop: the MULTI event loop, or NULL. */
event_loop *mail_server_loop(mail_server *srv)
{
    return srv->loop;
}
