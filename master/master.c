/*
 * master: the Postern process supervisor.
 *
 * Usage: master [-c config_dir] [-d] [-r fd] [-t] [-v]
 *
 * master reads main.cf and master.cf, opens every listener itself, and
 * starts service processes ($daemon_directory/COMMAND) on demand when a
 * listener becomes readable and no process of that service is idle, up
 * to maxproc per service. It follows their busy/idle reports, restarts
 * them, throttles a service whose processes fail before serving anyone,
 * pokes services with wakeup triggers, reloads on SIGHUP, stops
 * gracefully on SIGTERM and at once on SIGINT. The contract with the
 * services and with "postern" is in lib/mail/master_proto.h.
 *
 * master never puts itself in the background: "postern start" does that
 * (fork, setsid, exec "master -d -r FD"); -d is accepted for the habit
 * and changes nothing. -r FD: readiness pipe (MASTER_READY_MSG once
 * listening, or MASTER_ERROR_PREFIX + reason on a start-up failure).
 * -t: exit 0 when a master holds this spool's lock, 1 when not.
 *
 * Start-up checks: queue_directory must be an absolute path to a
 * directory; its pid/, private/ and public/ must exist. As root:
 * mail_owner must exist and not have uid 0, private/ and public/ must be
 * owned by mail_owner and pid/ by root. Not as root (an unprivileged
 * instance): they must be owned by the user running master, and no
 * service is told to switch users or chroot. A second master on the same
 * spool fails: the lock on pid/master.pid is held for master's life.
 *
 * SECURITY: runs as root on a real installation and keeps root, for
 * binding sockets on reload and starting processes; it parses only root's
 * configuration files and its children's fixed-size status messages.
 * Services get -u/-z so they drop privileges themselves
 * (lib/mail/mail_server.c). master's working directory is
 * queue_directory.
 * LIMITS: those of master.cf (mastercf.h); MASTER_STOP_WAIT seconds for a
 * graceful stop.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "event.h"
#include "fileio.h"
#include "master.h"
#include "mem.h"
#include "msg.h"
#include "numparse.h"
#include "param.h"
#include "param_names.h"
#include "strbuf.h"
#include "strutil.h"

/* Readiness pipe (-r), and the signal self-pipe. Process-wide by nature:
 * the first is written from the log hook, the second from handlers. */
static int master_ready_fd = -1;
static int master_sigpipe[2] = {-1, -1};

/* master_usage: print usage and exit. */
static void master_usage(void)
{
    msg_fatal("usage: master [-c config_dir] [-d] [-r fd] [-t] [-v]");
}

/* master_ready_hook: copy a fatal start-up message to the readiness pipe. */
static void master_ready_hook(enum msg_level level, const char *text, void *ctx)
{
    strbuf *line;

    (void) ctx;
    if (level < MSG_FATAL || master_ready_fd < 0)
        return;
    if (str_has_prefix(text, "fatal: "))
        text += strlen("fatal: ");
    else if (str_has_prefix(text, "panic: "))
        text += strlen("panic: ");
    line = strbuf_new(256);
    (void) strbuf_printf(line, "%s%s\n", MASTER_ERROR_PREFIX, text);
    (void) fileio_write_all(master_ready_fd, line->data, line->len);
    strbuf_free(line);
    (void) close(master_ready_fd);
    master_ready_fd = -1;
}

/* master_ready: tell whoever started us that we are listening. */
static void master_ready(void)
{
    if (master_ready_fd < 0)
        return;
    (void) fileio_write_all(master_ready_fd, MASTER_READY_MSG, strlen(MASTER_READY_MSG));
    (void) close(master_ready_fd);
    master_ready_fd = -1;
}

/* master_on_signal: note a signal in the self-pipe. */
static void master_on_signal(int sig)
{
    unsigned char ch = (unsigned char) sig;
    int     saved = errno;

    (void) !write(master_sigpipe[1], &ch, 1);
    errno = saved;
}

/* master_signals: route HUP, TERM, INT and CHLD through the self-pipe. */
static void master_signals(void)
{
    struct sigaction sa;
    static const int sigs[] = {SIGHUP, SIGTERM, SIGINT, SIGCHLD};
    size_t  i;

    if (pipe2(master_sigpipe, O_CLOEXEC | O_NONBLOCK) < 0)
        msg_fatal("pipe: %m");
    memset(&sa, 0, sizeof(sa));
    sigemptyset(&sa.sa_mask);
    sa.sa_handler = SIG_IGN;
    (void) sigaction(SIGPIPE, &sa, NULL);
    sa.sa_handler = master_on_signal;
    sa.sa_flags = SA_RESTART;
    for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
        (void) sigaction(sigs[i], &sa, NULL);
}

/* master_std_fds: make sure 0, 1 and 2 are open (on /dev/null if not). */
static void master_std_fds(void)
{
    int     fd;

    while ((fd = open("/dev/null", O_RDWR)) >= 0 && fd < 3)
        ;
    if (fd > 2)
        (void) close(fd);
}

/* master_check_dir: a spool directory exists and has the right owner. */
static void master_check_dir(const char *dir, uid_t owner, const char *owner_name)
{
    struct stat st;

    if (stat(dir, &st) < 0)
        msg_fatal("queue directory %s/%s: %m; create the spool with \"postern init\" "
                  "or \"postern set-permissions\"", param_str(PARAM_QUEUE_DIRECTORY), dir);
    if (!S_ISDIR(st.st_mode))
        msg_fatal("%s/%s is not a directory", param_str(PARAM_QUEUE_DIRECTORY), dir);
    if (st.st_uid != owner)
        msg_fatal("%s/%s is owned by uid %ld, not by %s (uid %ld); fix with "
                  "\"postern set-permissions\"", param_str(PARAM_QUEUE_DIRECTORY), dir,
                  (long) st.st_uid, owner_name, (long) owner);
}

/* master_checks: queue_directory, mail_owner and spool ownership. */
static void master_checks(master_state *ms)
{
    const char *queue_dir = param_str(PARAM_QUEUE_DIRECTORY);
    uid_t   mail_uid;
    const char *mail_name;
    char    self[32];

    if (queue_dir[0] != '/')
        msg_fatal("queue_directory \"%s\" is not an absolute path", queue_dir);
    if (chdir(queue_dir) < 0)
        msg_fatal("queue_directory %s: %m", queue_dir);
    if (ms->is_root) {
        const char *owner = param_str(PARAM_MAIL_OWNER);
        struct passwd *pw = getpwnam(owner);

        if (pw == NULL)
            msg_fatal("mail_owner \"%s\": no such user; create it or set mail_owner", owner);
        if (pw->pw_uid == 0)
            msg_fatal("mail_owner \"%s\" has uid 0; the mail system must not run "
                      "its services as root", owner);
        mail_uid = pw->pw_uid;
        mail_name = owner;
        master_check_dir(MASTER_PID_DIR, 0, "root");
    } else {
        mail_uid = geteuid();
        (void) str_format(self, sizeof(self), "uid %ld", (long) mail_uid);
        mail_name = self;
        master_check_dir(MASTER_PID_DIR, mail_uid, mail_name);
    }
    master_check_dir(MASTER_DIR_PRIVATE, mail_uid, mail_name);
    master_check_dir(MASTER_DIR_PUBLIC, mail_uid, mail_name);
}

/* master_read_pid: the pid in an open pid file, or 0. */
static long master_read_pid(int fd)
{
    char    buf[32];
    ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
    long    pid;
    size_t  len;

    if (n <= 0)
        return 0;
    buf[n] = 0;
    len = strcspn(buf, "\n");
    if (num_parse_long_n(buf, len, 1, LONG_MAX, &pid) < 0)
        return 0;
    return pid;
}

/* master_lock: take the spool lock and write our pid. */
static int master_lock(void)
{
    int     fd = open(MASTER_PID_FILE, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    char    buf[32];
    long    pid;

    if (fd < 0)
        msg_fatal("open %s/%s: %m", param_str(PARAM_QUEUE_DIRECTORY), MASTER_PID_FILE);
    if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
        if (errno != EWOULDBLOCK)
            msg_fatal("lock %s/%s: %m", param_str(PARAM_QUEUE_DIRECTORY), MASTER_PID_FILE);
        pid = master_read_pid(fd);
        if (pid > 0)
            msg_fatal("the Postern mail system is already running (pid %ld)", pid);
        msg_fatal("the Postern mail system is already running");
    }
    (void) str_format(buf, sizeof(buf), "%ld\n", (long) getpid());
    if (ftruncate(fd, 0) < 0 || fileio_pwrite_full(fd, buf, strlen(buf), 0) < 0)
        msg_fatal("write %s/%s: %m", param_str(PARAM_QUEUE_DIRECTORY), MASTER_PID_FILE);
    return fd;
}

/* master_test_running: -t: 0 when a master holds the lock, else 1. */
static int master_test_running(void)
{
    const char *queue_dir = param_str(PARAM_QUEUE_DIRECTORY);
    char   *path = str_concat(queue_dir, "/", MASTER_PID_FILE, (char *) NULL);
    int     fd = open(path, O_RDONLY | O_CLOEXEC);
    int     rc = 1;

    mem_free(path);
    if (fd < 0)
        return 1;
    if (flock(fd, LOCK_SH | LOCK_NB) < 0 && errno == EWOULDBLOCK)
        rc = 0;
    (void) close(fd);
    return rc;
}

/* master_logging: log to maillog_file when set, else syslog. */
static void master_logging(void)
{
    const char *file = param_str(PARAM_MAILLOG_FILE);
    int     flags = *file ? 0 : MSG_F_SYSLOG | MSG_F_TTY;

    msg_init(MASTER_PROGRAM, flags);
    if (msg_configure(param_str(PARAM_SYSLOG_NAME), param_str(PARAM_SYSLOG_FACILITY),
                      file) < 0)
        msg_init(MASTER_PROGRAM, MSG_F_SYSLOG | MSG_F_TTY);
}

/* master_exit_now: leave, children already gone or signalled. */
static void master_exit_now(void)
{
    exit(0);
}

/* master_stop_timeout: the graceful stop took too long. */
static void master_stop_timeout(event_loop *loop, event_timer_id id, void *ctx)
{
    master_state *ms = ctx;
    master_child *c;

    (void) loop;
    (void) id;
    if (ms->children)
        msg_warn("%zu processes still running after %d seconds; killing them",
                 master_child_count(ms), MASTER_STOP_WAIT);
    master_kill_children(ms, SIGKILL);
    for (c = ms->children; c; c = c->next)
        (void) waitpid(c->pid, NULL, 0);
    master_exit_now();
}

/* master_reload: SIGHUP. */
static void master_reload(master_state *ms)
{
    strbuf *err = strbuf_new(128);

    if (param_load(ms->config_dir, err) < 0) {
        msg_warn("reload: %s; keeping the running configuration", strbuf_str(err));
        strbuf_free(err);
        return;
    }
    master_logging();
    msg_info("reload -- version %s, configuration %s", param_str(PARAM_MAIL_VERSION),
             ms->config_dir);
    ms->throttle_time = param_time(PARAM_SERVICE_THROTTLE_TIME);
    master_child_env_build(ms);
    if (master_services_reload(ms, err) < 0)
        msg_warn("reload: %s; keeping the running services", strbuf_str(err));
    strbuf_free(err);
}

/* master_signal_event: handle the signals queued in the self-pipe. */
static void master_signal_event(event_loop *loop, int fd, void *ctx)
{
    master_state *ms = ctx;
    unsigned char sigs[64];
    ssize_t n;
    ssize_t i;
    master_child *c;

    while ((n = read(fd, sigs, sizeof(sigs))) > 0) {
        for (i = 0; i < n; i++) {
            switch (sigs[i]) {
            case SIGHUP:
                if (!ms->stopping)
                    master_reload(ms);
                break;
            case SIGTERM:
                if (ms->stopping)
                    break;
                msg_info("terminating on signal %d", SIGTERM);
                ms->stopping = 1;
                master_services_stop(ms);
                master_kill_children(ms, SIGTERM);
                if (ms->children == NULL)
                    master_exit_now();
                (void) event_timer_add(loop, MASTER_STOP_WAIT * 1000L,
                                       master_stop_timeout, ms);
                break;
            case SIGINT:
                msg_info("terminating on signal %d", SIGINT);
                ms->stopping = 1;
                master_services_stop(ms);
                master_kill_children(ms, SIGKILL);
                for (c = ms->children; c; c = c->next)
                    (void) waitpid(c->pid, NULL, 0);
                master_exit_now();
                break;
            case SIGCHLD:
                master_reap(ms);
                if (ms->stopping && ms->children == NULL)
                    master_exit_now();
                break;
            default:
                break;
            }
        }
    }
}

/* main: start the mail system. */
int     main(int argc, char **argv)
{
    master_state ms;
    const char *opt_c = NULL;
    int     opt_t = 0;
    int     ch;
    long    num;
    char   *dir;
    strbuf *err;

    master_std_fds();
    msg_init(MASTER_PROGRAM, MSG_F_STDERR);
    umask(022);
    while ((ch = getopt(argc, argv, "c:dr:tv")) != -1) {
        switch (ch) {
        case 'c':
            opt_c = optarg;
            break;
        case 'd':
            break;                      /* we never detach; see above */
        case 'r':
            if (num_parse_long(optarg, 3, INT_MAX, &num) < 0 || fcntl((int) num, F_GETFD) < 0)
                msg_fatal("-r %s: not an open descriptor", optarg);
            master_ready_fd = (int) num;
            (void) fcntl(master_ready_fd, F_SETFD, FD_CLOEXEC);
            msg_set_capture(master_ready_hook, NULL);
            break;
        case 't':
            opt_t = 1;
            break;
        case 'v':
            msg_verbose++;
            break;
        default:
            master_usage();
        }
    }
    if (optind != argc)
        master_usage();

    memset(&ms, 0, sizeof(ms));
    if ((dir = realpath(param_config_dir(opt_c), NULL)) == NULL)
        msg_fatal("configuration directory %s: %m", param_config_dir(opt_c));
    ms.config_dir = mem_strdup(dir);
    free(dir);
    err = strbuf_new(128);
    if (param_load(ms.config_dir, err) < 0)
        msg_fatal("%s", strbuf_str(err));
    if (opt_t)
        exit(master_test_running());
    master_logging();
    ms.is_root = geteuid() == 0;
    master_checks(&ms);
    (void) master_lock();

    ms.loop = event_loop_new();
    master_signals();
    if (event_add_read(ms.loop, master_sigpipe[0], master_signal_event, &ms) < 0)
        msg_fatal("event_add_read: %m");
    ms.throttle_time = param_time(PARAM_SERVICE_THROTTLE_TIME);
    master_child_env_build(&ms);
    if (master_services_load(&ms, err) < 0)
        msg_fatal("%s", strbuf_str(err));
    strbuf_free(err);
    msg_info("daemon started -- version %s, configuration %s",
             param_str(PARAM_MAIL_VERSION), ms.config_dir);
    master_ready();
    msg_set_capture(NULL, NULL);

    for (;;) {
        if (event_loop_run_once(ms.loop, -1) < 0)
            msg_fatal("event loop: %m");
    }
}
