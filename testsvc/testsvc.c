/*
 * testsvc: a trivial service that proves the service skeleton; run by
 * master in the integration tests (it is not installed as a command).
 *
 * Usage (master.cf command and arguments): testsvc [-o name=value] MODE [ARG]
 *   echo            each client: lines are echoed back until EOF; the line
 *                   "pid" is answered with "pid=N" instead
 *   sleep           each client: "pid=N", then hold the connection until
 *                   the client closes it (for process-limit tests)
 *   crash           exit 1 at start-up (master must throttle the service)
 *   crash-after N   like echo, but abort() after the Nth client
 *   whoami          each client: "pid=N uid=N euid=N gid=N groups=A,B
 *                   root=PATH" and close (for the privilege tests)
 *   trigger FILE    trigger service: count the wakeup bytes received and
 *                   write the total to FILE (via FILE.tmp and rename)
 *   multi-echo      multiplexed: each client gets "pid=N", then its bytes
 *                   echoed, all clients in one process
 *   lookup SPEC     each client: read one key line, look it up in the
 *                   table SPEC (opened once per process through the
 *                   dict cache) and answer "pid=N found=VALUE",
 *                   "pid=N notfound" or "pid=N retry=REASON" (for the
 *                   table-change restart test)
 *
 * SECURITY: test code; reads are bounded (line length, timeouts) anyway.
 * LIMITS: TESTSVC_LINE_MAX bytes per line; TESTSVC_TIMEOUT ms per read.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "dict.h"
#include "event.h"
#include "fileio.h"
#include "mail_server.h"
#include "mem.h"
#include "msg.h"
#include "numparse.h"
#include "stream.h"
#include "strbuf.h"
#include "strutil.h"

#define TESTSVC_LINE_MAX    4096
#define TESTSVC_TIMEOUT     60000

/* Per-process state, handed to the handlers through desc.ctx. */
struct testsvc {
    const char *mode;
    long    crash_after;                /* crash-after N */
    long    served;
    long    wakeups;                    /* trigger mode */
    const char *count_file;             /* trigger mode */
    const char *table;                  /* lookup mode */
};

/* testsvc_lookup: answer one key from the table. */
static void testsvc_lookup(struct testsvc *ts, stream *client)
{
    strbuf *key = strbuf_new(64);
    strbuf *value = strbuf_new(64);
    dict   *d = dict_cache_open(ts->table, DICT_F_FOLD);

    stream_set_timeout(client, TESTSVC_TIMEOUT);
    if (stream_get_line(client, key, TESTSVC_LINE_MAX) == STREAM_OK) {
        (void) str_trim(key->data);
        switch (dict_get(d, key->data, value)) {
        case DICT_FOUND:
            (void) stream_printf(client, "pid=%ld found=%s\n", (long) getpid(), value->data);
            break;
        case DICT_NOTFOUND:
            (void) stream_printf(client, "pid=%ld notfound\n", (long) getpid());
            break;
        default:
            (void) stream_printf(client, "pid=%ld retry=%s\n", (long) getpid(), dict_error(d));
            break;
        }
    }
    (void) dict_close(d);
    strbuf_free(key);
    strbuf_free(value);
}

/* testsvc_echo: echo lines until EOF; "pid" gets our pid. */
static void testsvc_echo(mail_server *srv, stream *client)
{
    strbuf *line = strbuf_new(128);

    (void) srv;
    stream_set_timeout(client, TESTSVC_TIMEOUT);
    while (stream_get_line(client, line, TESTSVC_LINE_MAX) == STREAM_OK) {
        if (strcmp(strbuf_str(line), "pid\n") == 0 || strcmp(strbuf_str(line), "pid\r\n") == 0)
            (void) stream_printf(client, "pid=%ld\n", (long) getpid());
        else
            (void) stream_write(client, line->data, line->len);
        if (stream_flush(client) < 0)
            break;
    }
    strbuf_free(line);
}

/* testsvc_conn: the per-client handler of the single-client modes. */
static void testsvc_conn(mail_server *srv, stream *client)
{
    struct testsvc *ts = mail_server_ctx(srv);
    char    buf[256];

    if (strcmp(ts->mode, "sleep") == 0) {
        (void) stream_printf(client, "pid=%ld\n", (long) getpid());
        (void) stream_flush(client);
        stream_set_timeout(client, 3600 * 1000);
        while (stream_read(client, buf, sizeof(buf)) > 0)
            ;
    } else if (strcmp(ts->mode, "whoami") == 0) {
        gid_t   groups[64];
        int     n = getgroups(64, groups);
        char    root[PATH_MAX];
        ssize_t len = readlink("/proc/self/root", root, sizeof(root) - 1);
        int     i;

        if (len < 0)
            (void) str_copy(root, sizeof(root), "?");
        else
            root[len] = 0;
        (void) stream_printf(client, "pid=%ld uid=%ld euid=%ld gid=%ld groups=",
                             (long) getpid(), (long) getuid(), (long) geteuid(),
                             (long) getgid());
        for (i = 0; i < n; i++)
            (void) stream_printf(client, "%s%ld", i ? "," : "", (long) groups[i]);
        (void) stream_printf(client, " root=%s\n", root);
        (void) stream_flush(client);
    } else if (strcmp(ts->mode, "lookup") == 0) {
        testsvc_lookup(ts, client);
    } else {
        testsvc_echo(srv, client);
    }
    ts->served++;
    if (ts->crash_after > 0 && ts->served >= ts->crash_after) {
        (void) stream_flush(client);
        msg_info("crash-after %ld: aborting", ts->crash_after);
        abort();
    }
}

/* testsvc_trigger: count wakeups and record the total. */
static void testsvc_trigger(mail_server *srv, const char *buf, size_t len)
{
    struct testsvc *ts = mail_server_ctx(srv);
    char   *tmp = str_concat(ts->count_file, ".tmp", (char *) NULL);
    char    text[32];
    size_t  i;
    int     fd;

    for (i = 0; i < len; i++)
        if (buf[i] == MASTER_TRIGGER_WAKEUP)
            ts->wakeups++;
    (void) str_format(text, sizeof(text), "%ld\n", ts->wakeups);
    if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)) < 0
        || fileio_write_all(fd, text, strlen(text)) < 0 || close(fd) < 0
        || rename(tmp, ts->count_file) < 0)
        msg_warn("write %s: %m", ts->count_file);
    mem_free(tmp);
}

/* testsvc_multi_read: a multiplexed client sent bytes (or closed). */
static void testsvc_multi_read(event_loop *loop, int fd, void *ctx)
{
    mail_server *srv = ctx;
    char    buf[TESTSVC_LINE_MAX];
    ssize_t n = read(fd, buf, sizeof(buf));

    (void) loop;
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (n <= 0 || fileio_write_all(fd, buf, (size_t) n) < 0)
        mail_server_multi_done(srv, fd);
}

/* testsvc_multi: a new multiplexed client. */
static void testsvc_multi(mail_server *srv, int fd)
{
    char    text[32];

    (void) str_format(text, sizeof(text), "pid=%ld\n", (long) getpid());
    if (fileio_write_all(fd, text, strlen(text)) < 0
        || event_add_read(mail_server_loop(srv), fd, testsvc_multi_read, srv) < 0)
        mail_server_multi_done(srv, fd);
}

/* testsvc_post_init: start-up work of the crash modes. */
static void testsvc_post_init(mail_server *srv)
{
    struct testsvc *ts = mail_server_ctx(srv);
    struct rlimit nocore = {0, 0};

    if (strcmp(ts->mode, "crash") == 0)
        msg_fatal("crash mode: exiting at start-up");
    (void) setrlimit(RLIMIT_CORE, &nocore);
}

/* main: pick the mode from the arguments, hand over to the skeleton. */
int     main(int argc, char **argv)
{
    struct testsvc ts;
    mail_server_opts opts;
    mail_server_desc desc;
    strbuf *err = strbuf_new(64);

    memset(&ts, 0, sizeof(ts));
    memset(&desc, 0, sizeof(desc));
    msg_init("testsvc", MSG_F_STDERR);
    /* Peek at the mode; mail_server_main parses the options for real. */
    ts.mode = "echo";
    if (mail_server_parse_args(argc, argv, &opts, err) == 0 && opts.argc > 0)
        ts.mode = opts.argv[0];
    desc.name = "testsvc";
    desc.mode = MAIL_SERVER_SINGLE;
    desc.conn = testsvc_conn;
    desc.post_init = testsvc_post_init;
    desc.ctx = &ts;
    if (strcmp(ts.mode, "crash-after") == 0) {
        if (opts.argc < 2 || num_parse_long(opts.argv[1], 1, LONG_MAX, &ts.crash_after) < 0)
            msg_fatal("usage: testsvc crash-after N");
    } else if (strcmp(ts.mode, "trigger") == 0) {
        if (opts.argc < 2)
            msg_fatal("usage: testsvc trigger FILE");
        ts.count_file = opts.argv[1];
        desc.mode = MAIL_SERVER_TRIGGER;
        desc.trigger = testsvc_trigger;
    } else if (strcmp(ts.mode, "lookup") == 0) {
        if (opts.argc < 2)
            msg_fatal("usage: testsvc lookup type:name");
        ts.table = opts.argv[1];
    } else if (strcmp(ts.mode, "multi-echo") == 0) {
        desc.mode = MAIL_SERVER_MULTI;
        desc.multi = testsvc_multi;
    } else if (strcmp(ts.mode, "echo") != 0 && strcmp(ts.mode, "sleep") != 0
               && strcmp(ts.mode, "crash") != 0 && strcmp(ts.mode, "whoami") != 0) {
        msg_fatal("unknown mode \"%s\"", ts.mode);
    }
    mail_server_opts_free(&opts);
    strbuf_free(err);
    mail_server_main(argc, argv, &desc);
}
