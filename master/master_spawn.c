/*
 * master_spawn: start service processes, follow their status, reap them.
 *
 * Functions (master.h):
 *   master_listen_ready(loop, fd, ctx): a listener of service ctx is
 *     readable while no process of it is idle: start one.
 *   master_spawn(ms, svc): fork and exec one process of svc with the
 *     command line and descriptors of master_proto.h, in the environment
 *     ms->child_env. The new process counts as idle until it reports
 *     otherwise. A failed fork throttles the service; a failed exec
 *     makes the child exit 1 (and master throttles when it reaps it).
 *   master_status_read(loop, fd, ctx): read status messages from service
 *     ctx's status pipe and update its idle count. Messages from unknown
 *     pids, from processes of another service or of an older generation
 *     are ignored; a short message is logged and dropped.
 *   master_reap(ms): collect every exited child (WNOHANG). An abnormal
 *     exit (status != 0 or a signal) is logged as "process PATH pid N exit
 *     status S" or "... killed by signal S"; when the process had not
 *     taken a client yet, its service is throttled ("SERVICE: bad
 *     command startup -- throttling"). Nothing is logged or throttled
 *     while master is stopping.
 *   master_kill_children(ms, sig): send sig to every child.
 *   master_child_count(ms): children not yet reaped.
 *
 * SECURITY: the child closes every descriptor but its own before exec,
 * gets default signal handling and a clean environment. Status messages
 * come from our own children but are checked anyway (pid, size).
 * LIMITS: at most maxproc processes per service (0 = no limit).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "master.h"
#include "mem.h"
#include "msg.h"
#include "strbuf.h"
#include "strutil.h"

#define MASTER_STATUS_BATCH 64          /* records per read */

/* master_child_find: the child with this pid, or NULL. */
static master_child *master_child_find(master_state *ms, pid_t pid, master_child ***where)
{
    master_child **pp;

    for (pp = &ms->children; *pp; pp = &(*pp)->next) {
        if ((*pp)->pid == pid) {
            if (where)
                *where = pp;
            return *pp;
        }
    }
    return NULL;
}

/* master_child_count: children not yet reaped. */
size_t master_child_count(const master_state *ms)
{
    const master_child *c;
    size_t  n = 0;

    for (c = ms->children; c; c = c->next)
        n++;
    return n;
}

/* master_listen_ready: a listener is readable and nobody is idle. */
void master_listen_ready(event_loop *loop, int fd, void *ctx)
{
    master_service *svc = ctx;

    (void) loop;
    (void) fd;
    if (svc->ms->stopping || svc->throttled || svc->avail > 0
        || (svc->maxproc > 0 && svc->total >= svc->maxproc)) {
        master_service_update(svc->ms, svc);
        return;
    }
    master_spawn(svc->ms, svc);
}

/* master_close_from: close every descriptor >= lowfd. */
static void master_close_from(int lowfd)
{
    long    max;
    int     fd;

    if (close_range((unsigned) lowfd, ~0U, 0) == 0)
        return;
    max = sysconf(_SC_OPEN_MAX);
    if (max < 0 || max > 65536)
        max = 65536;
    for (fd = lowfd; fd < max; fd++)
        (void) close(fd);
}

/* master_child_setup: in the child: descriptors and signals, then exec. */
static void master_child_exec(master_state *ms, master_service *svc, char **argv)
{
    int     srcs[2 + MASTER_LISTEN_MAX];
    int     tmp[2 + MASTER_LISTEN_MAX];
    size_t  n = 0;
    size_t  i;
    int     high = MASTER_LISTEN_FD + MASTER_LISTEN_MAX + 1;
    int     null_fd;
    struct sigaction sa;
    sigset_t none;
    static const int sigs[] = {SIGHUP, SIGTERM, SIGINT, SIGCHLD, SIGPIPE, SIGQUIT};

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = SIG_DFL;
    sigemptyset(&sa.sa_mask);
    for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
        (void) sigaction(sigs[i], &sa, NULL);
    sigemptyset(&none);

    srcs[n++] = svc->life_rd;
    srcs[n++] = svc->status_wr;
    for (i = 0; i < svc->nfds; i++)
        srcs[n++] = svc->fds[i];
    /* Move every source out of the way first, so that no dup2 below can
     * clobber a source that happens to sit on a target number. */
    for (i = 0; i < n; i++) {
        if ((tmp[i] = fcntl(srcs[i], F_DUPFD, high)) < 0) {
            msg_error("%s: dup: %m", svc->key);
            _exit(1);
        }
    }
    for (i = 0; i < n; i++) {
        if (dup2(tmp[i], MASTER_LIFELINE_FD + (int) i) < 0) {
            msg_error("%s: dup2: %m", svc->key);
            _exit(1);
        }
    }
    master_close_from(MASTER_LIFELINE_FD + (int) n);
    if ((null_fd = open("/dev/null", O_RDONLY)) >= 0) {
        if (null_fd != 0) {
            (void) dup2(null_fd, 0);
            (void) close(null_fd);
        }
    }
    (void) sigprocmask(SIG_SETMASK, &none, NULL);
    execve(svc->path, argv, ms->child_env);
    msg_error("%s: exec %s: %m", svc->key, svc->path);
    _exit(1);
}

/* master_build_argv: the service's command line (see master_proto.h). */
static char **master_build_argv(master_state *ms, master_service *svc, char *nsock)
{
    char  **argv = mem_calloc(svc->argc + 12, sizeof(char *));
    size_t  n = 0;
    size_t  i;

    argv[n++] = svc->argv[0];
    argv[n++] = (char *) MASTER_OPT_CONFIG;
    argv[n++] = ms->config_dir;
    argv[n++] = (char *) MASTER_OPT_SERVICE;
    argv[n++] = svc->name;
    argv[n++] = (char *) MASTER_OPT_TYPE;
    argv[n++] = svc->type_name;
    argv[n++] = (char *) MASTER_OPT_NSOCK;
    argv[n++] = nsock;
    if (svc->unpriv)
        argv[n++] = (char *) MASTER_OPT_UNPRIV;
    if (svc->chroot)
        argv[n++] = (char *) MASTER_OPT_CHROOT;
    for (i = 1; i < svc->argc; i++)
        argv[n++] = svc->argv[i];
    argv[n] = NULL;
    return argv;
}

/* master_spawn: start one process of svc. */
void master_spawn(master_state *ms, master_service *svc)
{
    char    nsock[16];
    char  **argv;
    sigset_t all;
    sigset_t old;
    pid_t   pid;
    master_child *child;

    (void) str_format(nsock, sizeof(nsock), "%zu", svc->nfds);
    argv = master_build_argv(ms, svc, nsock);
    sigfillset(&all);
    (void) sigprocmask(SIG_BLOCK, &all, &old);
    pid = fork();
    if (pid == 0)
        master_child_exec(ms, svc, argv);
    (void) sigprocmask(SIG_SETMASK, &old, NULL);
    mem_free(argv);
    if (pid < 0) {
        msg_warn("%s: fork: %m -- throttling", svc->key);
        master_service_throttle(ms, svc);
        return;
    }
    child = mem_calloc(1, sizeof(*child));
    child->pid = pid;
    child->svc = svc;
    child->gen = svc->gen;
    child->avail = 1;
    child->next = ms->children;
    ms->children = child;
    svc->total++;
    svc->avail++;
    if (msg_verbose)
        msg_info("%s: started process %ld (%d of %ld)", svc->key, (long) pid, svc->total,
                 svc->maxproc);
    master_service_update(ms, svc);
}

/* master_status_read: status messages from a service's processes. */
void master_status_read(event_loop *loop, int fd, void *ctx)
{
    master_service *svc = ctx;
    master_state *ms = svc->ms;
    master_status st[MASTER_STATUS_BATCH];
    ssize_t n;
    size_t  i;

    (void) loop;
    n = read(fd, st, sizeof(st));
    if (n < 0) {
        if (errno != EAGAIN && errno != EINTR)
            msg_warn("%s: read status pipe: %m", svc->key);
        return;
    }
    if (n % (ssize_t) sizeof(st[0]) != 0)
        msg_warn("%s: status pipe: dropping %zd stray bytes", svc->key,
                 n % (ssize_t) sizeof(st[0]));
    for (i = 0; i < (size_t) n / sizeof(st[0]); i++) {
        master_child *c = master_child_find(ms, (pid_t) st[i].pid, NULL);

        if (c == NULL || c->svc != svc) {
            if (msg_verbose)
                msg_info("%s: status from unknown process %ld", svc->key, (long) st[i].pid);
            continue;
        }
        if (c->gen != svc->gen)
            continue;
        if (st[i].avail == MASTER_STAT_TAKEN) {
            c->used = 1;
            svc->used = 1;
            if (c->avail) {
                c->avail = 0;
                svc->avail--;
            }
        } else if (st[i].avail == MASTER_STAT_AVAIL) {
            if (!c->avail) {
                c->avail = 1;
                svc->avail++;
            }
        } else {
            msg_warn("%s: process %ld sent bad status %ld", svc->key, (long) c->pid,
                     (long) st[i].avail);
        }
    }
    master_service_update(ms, svc);
}

/* master_reap: collect exited children. */
void master_reap(master_state *ms)
{
    pid_t   pid;
    int     status;

    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
        master_child **where;
        master_child *c = master_child_find(ms, pid, &where);
        master_service *svc;
        int     abnormal;

        if (c == NULL)
            continue;
        *where = c->next;
        svc = c->svc;
        abnormal = WIFSIGNALED(status) || (WIFEXITED(status) && WEXITSTATUS(status) != 0);
        if (abnormal && !ms->stopping) {
            const char *path = svc ? svc->path : "(retired service)";

            if (WIFSIGNALED(status))
                msg_warn("process %s pid %ld killed by signal %d", path, (long) pid,
                         WTERMSIG(status));
            else
                msg_warn("process %s pid %ld exit status %d", path, (long) pid,
                         WEXITSTATUS(status));
        } else if (msg_verbose) {
            msg_info("process %ld exited", (long) pid);
        }
        if (svc && c->gen == svc->gen) {
            svc->total--;
            if (c->avail)
                svc->avail--;
            if (abnormal && !c->used && !ms->stopping && !svc->throttled) {
                msg_warn("%s: bad command startup -- throttling", svc->key);
                master_service_throttle(ms, svc);
            }
            master_service_update(ms, svc);
        }
        mem_free(c);
    }
}

/* master_kill_children: signal every child. */
void master_kill_children(master_state *ms, int sig)
{
    master_child *c;

    for (c = ms->children; c; c = c->next)
        (void) kill(c->pid, sig);
}
