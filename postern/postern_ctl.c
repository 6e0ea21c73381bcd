/*
 * postern_ctl: start, start-fg, stop, abort, reload, status and flush -
 * the commands that talk to a running master (see master_proto.h for the
 * contract: readiness pipe, pid file lock, signals).
 *
 * Public functions (each returns an exit status; a failure that ends the
 * command is reported with msg_fatal, "postern: fatal: ...", exit 1):
 *   postern_running(qdir, &pid, err): 1 when a master holds the lock on
 *     $qdir/pid/master.pid (pid from the file, or -1 when it could not be
 *     read), 0 when not, -1 with err when the file cannot be opened.
 *   postern_start(opts, foreground): run postern_check, refuse when a
 *     master already runs, then:
 *       foreground: exec "master -c DIR -d" (the exit code is master's);
 *       background: fork; the child calls setsid(), points stdin, stdout
 *       and stderr at /dev/null (stdout and stderr stay when maillog_file
 *       is /dev/stdout or /dev/stderr) and execs "master -c DIR -d -r FD";
 *       the parent waits up to POSTERN_READY_WAIT seconds for "ready\n"
 *       on the pipe and reports either success or master's error text.
 *   postern_stop(opts, abort_now): SIGTERM (stop) or SIGINT (abort) to
 *     master, then wait up to POSTERN_STOP_WAIT seconds until the lock is
 *     released, that is until master (and with it its children) is gone.
 *     Not running: fatal.
 *   postern_reload(opts): check (fatal on errors), then SIGHUP.
 *   postern_status(opts): 0 and "...is running: PID: N", or 3 and
 *     "...is not running" (systemctl is-active convention); 1 when the
 *     configuration cannot be read.
 *   postern_flush(opts): ask the flush service (flush_client) to retry
 *     every deferred message now (qmgr gets "FIA"); fatal when master is
 *     not running or the service cannot be reached.
 *
 * The wait for master to go away is a blocking flock(LOCK_SH) on the pid
 * file, interrupted by an alarm at the deadline: no polling. The brief
 * shared lock that status and stop take can, in a narrow window, make a
 * master that starts at that very moment think another one runs; it then
 * fails cleanly and can be started again.
 *
 * SECURITY: the pid file is read with a size bound and the pid range
 * checked before any signal is sent; the file is opened with O_NOFOLLOW.
 * master's error text reaches the terminal through msg, which replaces
 * control characters.
 * LIMITS: readiness reply up to POSTERN_READY_MAX bytes; waits bounded by
 * POSTERN_READY_WAIT and POSTERN_STOP_WAIT seconds.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "master_proto.h"
#include "mastercf.h"
#include "fileio.h"
#include "flush_client.h"
#include "mem.h"
#include "msg.h"
#include "numparse.h"
#include "param.h"
#include "param_names.h"
#include "postern.h"
#include "strbuf.h"
#include "strutil.h"

#define POSTERN_READY_WAIT      30      /* seconds for master to get ready */
#define POSTERN_READY_MAX       1024    /* bytes of readiness reply */
#define POSTERN_STOP_WAIT       (MASTER_STOP_WAIT + 30) /* seconds */
#define POSTERN_ABORT_WAIT      10      /* seconds */
#define POSTERN_PID_MAX         32      /* bytes in the pid file */


/* postern_read_pid: the pid in an open pid file, or -1. */
static long postern_read_pid(int fd)
{
    char    buf[POSTERN_PID_MAX + 1];
    ssize_t n = pread(fd, buf, POSTERN_PID_MAX, 0);
    long    pid;

    if (n <= 0)
        return -1;
    buf[n] = 0;
    if (buf[n - 1] != '\n')
        return -1;
    buf[n - 1] = 0;
    if (num_parse_long(buf, 2, INT_MAX, &pid) < 0)
        return -1;
    return pid;
}

/* postern_pid_open: open the pid file; -1 with errno. */
static int postern_pid_open(const char *qdir)
{
    char   *path = postern_path(qdir, MASTER_PID_FILE);
    int     fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

    mem_free(path);
    return fd;
}

/* postern_running: is a master running on this spool? */
int     postern_running(const char *qdir, long *pid, strbuf *err)
{
    int     fd;
    int     tries;

    *pid = -1;
    if ((fd = postern_pid_open(qdir)) < 0) {
        if (errno == ENOENT)
            return 0;
        strbuf_setf(err, "cannot open %s/%s: %m", qdir, MASTER_PID_FILE);
        return -1;
    }
    if (flock(fd, LOCK_SH | LOCK_NB) == 0) {
        (void) close(fd);
        return 0;
    }
    /* Locked: the pid may still be on its way into the file. */
    for (tries = 0; tries < 20 && (*pid = postern_read_pid(fd)) < 0; tries++) {
        struct timespec ts = {0, 50 * 1000 * 1000};

        (void) nanosleep(&ts, NULL);
    }
    (void) close(fd);
    return 1;
}

/* postern_need_config: load main.cf or exit. */
static const char *postern_need_config(const postern_opts *opts)
{
    strbuf *err = strbuf_new(100);

    if (postern_load(opts, 0, err) < 0)
        msg_fatal("%s", strbuf_str(err));
    strbuf_free(err);
    return param_str(PARAM_QUEUE_DIRECTORY);
}

/* postern_need_running: the master's pid, or exit when none runs. */
static long postern_need_running(const char *qdir)
{
    strbuf *err = strbuf_new(100);
    long    pid;
    int     rc = postern_running(qdir, &pid, err);

    if (rc < 0)
        msg_fatal("%s", strbuf_str(err));
    if (rc == 0)
        msg_fatal("%s is not running", POSTERN_SYSTEM);
    if (pid < 0)
        msg_fatal("%s is running, but %s/%s holds no valid pid",
                  POSTERN_SYSTEM, qdir, MASTER_PID_FILE);
    strbuf_free(err);
    return pid;
}

/* postern_alarm: SIGALRM handler that only interrupts a blocking call. */
static void postern_alarm(int sig)
{
    (void) sig;
}

/* postern_wait_gone: wait until the lock is free; 0, or -1 on timeout. */
static int postern_wait_gone(const char *qdir, unsigned seconds)
{
    struct sigaction sa;
    struct sigaction old;
    int     fd;
    int     rc;

    if ((fd = postern_pid_open(qdir)) < 0)
        return errno == ENOENT ? 0 : -1;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = postern_alarm;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0;                    /* no SA_RESTART: flock gets EINTR */
    (void) sigaction(SIGALRM, &sa, &old);
    (void) alarm(seconds);
    rc = flock(fd, LOCK_SH);
    (void) alarm(0);
    (void) sigaction(SIGALRM, &old, NULL);
    (void) close(fd);
    return rc == 0 ? 0 : -1;
}

/*
 * postern_wait_exited: after master released its lock it may still be in
 * the middle of exiting; wait (bounded) until the process is gone or a
 * zombie, so that "stop" returns only when master has really ended.
 */
static void postern_wait_exited(long pid, long max_ms)
{
    struct timespec tick = {0, 10 * 1000 * 1000};
    char    path[64];
    long    waited;

    if (str_format(path, sizeof(path), "/proc/%ld/stat", pid) < 0)
        return;
    for (waited = 0; waited < max_ms; waited += 10) {
        strbuf *buf = strbuf_new(512);
        const char *paren;
        int     rc = fileio_read_all(path, 4096, buf, NULL);

        /* The state letter follows the ")" that closes the command name. */
        paren = rc == 0 ? strrchr(buf->data, ')') : NULL;
        rc = (paren == NULL || (paren[1] == ' ' && paren[2] == 'Z'));
        strbuf_free(buf);
        if (rc)
            return;
        (void) nanosleep(&tick, NULL);
    }
}

/* postern_master_argv: "master -c DIR -d [-v...] [-r FD]" into a new array. */
static char **postern_master_argv(const postern_opts *opts, char *path, const char *rfd)
{
    char  **argv = mem_calloc(12, sizeof(*argv));
    int     n = 0;
    int     v;

    argv[n++] = path;
    argv[n++] = (char *) "-c";
    argv[n++] = (char *) opts->config_dir;
    argv[n++] = (char *) "-d";
    for (v = 0; v < msg_verbose && v < 3; v++)
        argv[n++] = (char *) "-v";
    if (rfd) {
        argv[n++] = (char *) "-r";
        argv[n++] = (char *) rfd;
    }
    argv[n] = NULL;
    return argv;
}

/* postern_spawn_child: the forked child: detach and exec master (never returns). */
static void __attribute__((noreturn)) postern_spawn_child(const postern_opts *opts,
                                                          char *path, int wfd)
{
    const char *log = param_str(PARAM_MAILLOG_FILE);
    int     keep = strcmp(log, "/dev/stdout") == 0 || strcmp(log, "/dev/stderr") == 0;
    char    rfd[32];
    char    line[PATH_MAX + 200];
    int     null;
    int     n;

    (void) setsid();
    if (wfd < 3 && (n = fcntl(wfd, F_DUPFD, 3)) >= 0)
        wfd = n;                        /* keep it clear of stdio */
    if ((null = open("/dev/null", O_RDWR)) >= 0) {
        (void) dup2(null, 0);
        if (!keep) {
            (void) dup2(null, 1);
            (void) dup2(null, 2);
        }
        if (null > 2)
            (void) close(null);
    }
    (void) fcntl(wfd, F_SETFD, 0);      /* the readiness pipe survives exec */
    (void) str_format(rfd, sizeof(rfd), "%d", wfd);
    (void) execv(path, postern_master_argv(opts, path, rfd));
    n = snprintf(line, sizeof(line), "%scannot execute %s: %s\n",
                 MASTER_ERROR_PREFIX, path, strerror(errno));
    if (n > 0)
        (void) write(wfd, line, (size_t) n < sizeof(line) ? (size_t) n : sizeof(line) - 1);
    _exit(1);
}

/* postern_read_ready: master's reply on the pipe; 0 = complete, -1 = timeout. */
static int postern_read_ready(int rfd, strbuf *reply)
{
    time_t  deadline = time(NULL) + POSTERN_READY_WAIT;
    char    buf[256];

    for (;;) {
        struct pollfd pfd = {rfd, POLLIN, 0};
        time_t  now = time(NULL);
        ssize_t n;
        int     rc;

        if (now >= deadline)
            return -1;
        rc = poll(&pfd, 1, (int) (deadline - now) * 1000);
        if (rc < 0 && errno == EINTR)
            continue;
        if (rc <= 0)
            return -1;
        n = read(rfd, buf, sizeof(buf));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return 0;                   /* EOF (or error): what we have */
        if (strbuf_append(reply, buf, (size_t) n) < 0 || memchr(buf, '\n', (size_t) n))
            return 0;
    }
}

/* postern_child_status: how the master child ended, if it did (text in out). */
static void postern_child_status(pid_t pid, strbuf *out)
{
    int     tries;
    int     st;

    for (tries = 0; tries < 20; tries++) {
        struct timespec ts = {0, 50 * 1000 * 1000};

        if (waitpid(pid, &st, WNOHANG) == pid) {
            if (WIFEXITED(st))
                strbuf_setf(out, "master exited with status %d before it was ready",
                            WEXITSTATUS(st));
            else if (WIFSIGNALED(st))
                strbuf_setf(out, "master was killed by signal %d before it was ready",
                            WTERMSIG(st));
            return;
        }
        (void) nanosleep(&ts, NULL);
    }
    strbuf_setf(out, "master closed its readiness pipe without reporting");
}

/* postern_start: the start and start-fg commands. */
int     postern_start(const postern_opts *opts, int foreground)
{
    strbuf *err = strbuf_new(100);
    strbuf *reply = strbuf_new(100);
    const char *qdir;
    char   *path;
    long    mpid;
    pid_t   pid;
    int     pfd[2];

    if (postern_check(opts, 1) != POSTERN_EXIT_OK)
        msg_fatal("not starting %s: fix the problems above first", POSTERN_SYSTEM);
    postern_log_to_maillog();
    qdir = param_str(PARAM_QUEUE_DIRECTORY);
    if (postern_running(qdir, &mpid, err) > 0)
        msg_fatal("%s is already running (pid %ld)", POSTERN_SYSTEM, mpid);
    path = postern_path(param_str(PARAM_DAEMON_DIRECTORY), MASTER_PROGRAM);

    if (foreground) {
        msg_info("starting %s in the foreground", POSTERN_SYSTEM);
        (void) execv(path, postern_master_argv(opts, path, NULL));
        msg_fatal("cannot execute %s: %m", path);
    }
    if (pipe2(pfd, O_CLOEXEC) < 0)
        msg_fatal("cannot create a pipe: %m");
    if ((pid = fork()) < 0)
        msg_fatal("cannot fork: %m");
    if (pid == 0) {
        (void) close(pfd[0]);
        postern_spawn_child(opts, path, pfd[1]);
    }
    (void) close(pfd[1]);
    strbuf_set_limit(reply, POSTERN_READY_MAX);
    if (postern_read_ready(pfd[0], reply) < 0) {
        (void) kill(pid, SIGTERM);
        msg_fatal("master did not report that it was ready within %d seconds; "
                  "stopped it", POSTERN_READY_WAIT);
    }
    (void) close(pfd[0]);
    if (strcmp(strbuf_str(reply), MASTER_READY_MSG) == 0) {
        msg_info("starting %s", POSTERN_SYSTEM);
        strbuf_free(reply);
        strbuf_free(err);
        mem_free(path);
        return POSTERN_EXIT_OK;
    }
    if (reply->len > 0 && reply->data[reply->len - 1] == '\n')
        strbuf_truncate(reply, reply->len - 1);
    if (str_has_prefix(strbuf_str(reply), MASTER_ERROR_PREFIX))
        msg_fatal("cannot start %s: %s", POSTERN_SYSTEM,
                  strbuf_str(reply) + strlen(MASTER_ERROR_PREFIX));
    if (reply->len > 0)
        msg_fatal("cannot start %s: unexpected reply from master: %s",
                  POSTERN_SYSTEM, strbuf_str(reply));
    postern_child_status(pid, err);
    msg_fatal("cannot start %s: %s", POSTERN_SYSTEM, strbuf_str(err));
}

/* postern_stop: the stop and abort commands. */
int     postern_stop(const postern_opts *opts, int abort_now)
{
    const char *qdir = postern_need_config(opts);
    long    pid;
    unsigned wait = abort_now ? POSTERN_ABORT_WAIT : POSTERN_STOP_WAIT;

    postern_log_to_maillog();
    pid = postern_need_running(qdir);
    msg_info("%s %s", abort_now ? "aborting" : "stopping", POSTERN_SYSTEM);
    if (kill((pid_t) pid, abort_now ? SIGINT : SIGTERM) < 0)
        msg_fatal("cannot signal master (pid %ld): %m", pid);
    if (postern_wait_gone(qdir, wait) < 0)
        msg_fatal("master (pid %ld) did not stop within %u seconds", pid, wait);
    postern_wait_exited(pid, 5000);
    return POSTERN_EXIT_OK;
}

/* postern_reload: the reload command. */
int     postern_reload(const postern_opts *opts)
{
    long    pid;

    if (postern_check(opts, 1) != POSTERN_EXIT_OK)
        msg_fatal("not reloading %s: fix the problems above first", POSTERN_SYSTEM);
    postern_log_to_maillog();
    pid = postern_need_running(param_str(PARAM_QUEUE_DIRECTORY));
    msg_info("refreshing %s", POSTERN_SYSTEM);
    if (kill((pid_t) pid, SIGHUP) < 0)
        msg_fatal("cannot signal master (pid %ld): %m", pid);
    return POSTERN_EXIT_OK;
}

/* postern_status: the status command. */
int     postern_status(const postern_opts *opts)
{
    strbuf *err = strbuf_new(100);
    long    pid;
    int     rc;

    if (postern_load(opts, 0, err) < 0) {
        msg_error("%s", strbuf_str(err));
        strbuf_free(err);
        return POSTERN_EXIT_FAIL;
    }
    rc = postern_running(param_str(PARAM_QUEUE_DIRECTORY), &pid, err);
    if (rc < 0) {
        msg_error("%s", strbuf_str(err));
        strbuf_free(err);
        return POSTERN_EXIT_FAIL;
    }
    strbuf_free(err);
    if (rc == 0) {
        msg_info("%s is not running", POSTERN_SYSTEM);
        return POSTERN_EXIT_INACTIVE;
    }
    if (pid < 0)
        msg_info("%s is running (pid unknown)", POSTERN_SYSTEM);
    else
        msg_info("%s is running: PID: %ld", POSTERN_SYSTEM, pid);
    return POSTERN_EXIT_OK;
}

/* postern_flush: the flush command. */
int     postern_flush(const postern_opts *opts)
{
    const char *qdir = postern_need_config(opts);
    strbuf *err = strbuf_new(100);

    (void) postern_need_running(qdir);
    if (flush_send_all(err) != FLUSH_STAT_OK)
        msg_fatal("cannot flush: %s", strbuf_str(err));
    if (msg_verbose)
        msg_info("sent a flush request to the %s service",
                 param_str(PARAM_FLUSH_SERVICE_NAME));
    strbuf_free(err);
    return POSTERN_EXIT_OK;
}
