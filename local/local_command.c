/*
 * local_command: run a |command destination or mailbox_command.
 *
 *   local_command_env(vars): a new NULL-terminated environment for the
 *     command: LOGNAME, USER, HOME, SHELL, PATH=/usr/bin:/bin, and
 *     RECIPIENT, SENDER, EXTENSION, LOCAL, DOMAIN, ORIGINAL_RECIPIENT
 *     when set (NULL members are left out; empty strings are kept). Free
 *     with local_command_env_free(env).
 *   local_command_status(wait_status, timed_out, dsn, dsnlen): map a
 *     waitpid status to 0/4/5 and an enhanced code: exit 0 -> 0 "2.0.0";
 *     sysexits codes as sendmail/Postfix do (EX_TEMPFAIL 75 and EX_OSERR
 *     71 -> 4; EX_NOUSER -> 5.1.1, EX_NOHOST -> 5.1.2, EX_NOPERM -> 5.7.0,
 *     EX_CONFIG -> 5.3.5, EX_CANTCREAT -> 5.2.0, EX_DATAERR -> 5.6.0,
 *     EX_PROTOCOL -> 5.5.0, others 64..78 -> 5.3.0); any other non-zero
 *     exit -> 5 "5.3.0"; killed by a signal or timed out -> 4 "4.3.0".
 *   local_command_run(shell, command, vars, id, cwd, c, args, limit, res):
 *     fork; the child starts a new process group, drops to id for good
 *     (recip_priv_drop; no-op in an unprivileged instance), changes to
 *     cwd (when it cannot, to "/"), gets the clean environment, stdin =
 *     a pipe with one copy of the message (args: Return-Path,
 *     Delivered-To), stdout+stderr = an anonymous file whose first
 *     LOCAL_OUTPUT_MAX bytes go into the reason text, and runs
 *     "SHELL -c COMMAND" (SHELL empty -> /bin/sh). After limit seconds the
 *     whole process group gets SIGKILL. Returns res->status.
 *
 * SECURITY: the child never runs the command with more privilege than
 * id; the environment is built from scratch; the command text is the
 * alias/.forward owner's, not the sender's (callers filter expansions).
 * LIMITS: limit seconds (command_time_limit); LOCAL_OUTPUT_MAX bytes of
 * output kept; the rest is discarded with the file.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <sysexits.h>
#include <unistd.h>

#include "fileio.h"
#include "local.h"
#include "mem.h"
#include "msg.h"
#include "recip_priv.h"
#include "strbuf.h"
#include "strutil.h"

/* The process group to kill when the time limit passes. A signal handler
 * can reach only static data; this is set just before the alarm and
 * cleared after it. */
static volatile sig_atomic_t local_command_pgrp;
static volatile sig_atomic_t local_command_expired;

/* local_env_add: one NAME=value entry. */
static void local_env_add(char **env, size_t *n, const char *name, const char *value)
{
    strbuf *sb;

    if (value == NULL)
        return;
    sb = strbuf_new(64);
    (void) strbuf_printf(sb, "%s=%s", name, value);
    env[(*n)++] = strbuf_detach(sb, NULL);
}

/* local_command_env: the clean environment. */
char  **local_command_env(const local_cmd_vars *v)
{
    char  **env = mem_calloc(16, sizeof(*env));
    size_t  n = 0;

    local_env_add(env, &n, "LOGNAME", v->user);
    local_env_add(env, &n, "USER", v->user);
    local_env_add(env, &n, "HOME", v->home);
    local_env_add(env, &n, "SHELL", v->shell);
    local_env_add(env, &n, "PATH", "/usr/bin:/bin");
    local_env_add(env, &n, "RECIPIENT", v->recipient);
    local_env_add(env, &n, "SENDER", v->sender);
    local_env_add(env, &n, "EXTENSION", v->extension);
    local_env_add(env, &n, "LOCAL", v->local);
    local_env_add(env, &n, "DOMAIN", v->domain);
    local_env_add(env, &n, "ORIGINAL_RECIPIENT", v->orig_recipient);
    env[n] = NULL;
    return env;
}

/* local_command_env_free: release an environment. */
void    local_command_env_free(char **env)
{
    size_t  i;

    for (i = 0; env && env[i]; i++)
        mem_free(env[i]);
    mem_free(env);
}

/* local_command_status: exit status to delivery status. */
int     local_command_status(int ws, int timed_out, char *dsn, size_t dsnlen)
{
    static const struct {
        int     code;
        int     status;
        const char *dsn;
    } map[] = {
        {EX_USAGE, 5, "5.3.0"}, {EX_DATAERR, 5, "5.6.0"}, {EX_NOINPUT, 5, "5.3.0"},
        {EX_NOUSER, 5, "5.1.1"}, {EX_NOHOST, 5, "5.1.2"}, {EX_UNAVAILABLE, 5, "5.3.0"},
        {EX_SOFTWARE, 5, "5.3.0"}, {EX_OSERR, 4, "4.3.0"}, {EX_OSFILE, 5, "5.3.0"},
        {EX_CANTCREAT, 5, "5.2.0"}, {EX_IOERR, 5, "5.3.0"}, {EX_TEMPFAIL, 4, "4.3.0"},
        {EX_PROTOCOL, 5, "5.5.0"}, {EX_NOPERM, 5, "5.7.0"}, {EX_CONFIG, 5, "5.3.5"},
    };
    const char *code = "5.3.0";
    int     status = 5;
    size_t  i;

    if (timed_out || WIFSIGNALED(ws) || !WIFEXITED(ws)) {
        status = 4;
        code = "4.3.0";
    } else if (WEXITSTATUS(ws) == 0) {
        status = 0;
        code = "2.0.0";
    } else {
        for (i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
            if (map[i].code == WEXITSTATUS(ws)) {
                status = map[i].status;
                code = map[i].dsn;
            }
        }
    }
    (void) str_copy(dsn, dsnlen, code);
    return status;
}

/* local_command_alarm: time limit passed: kill the command's group. */
static void local_command_alarm(int sig)
{
    (void) sig;
    local_command_expired = 1;
    if (local_command_pgrp > 0)
        (void) kill(-(pid_t) local_command_pgrp, SIGKILL);
}

/* local_command_child: in the child: become the user and exec. */
static void local_command_child(const char *shell, const char *command,
                                char **env, const recip_priv_id *id,
                                const char *cwd, int in_fd, int out_fd)
{
    strbuf *err = strbuf_new(128);
    char   *argv[4];

    (void) setpgid(0, 0);
    if (dup2(in_fd, 0) < 0 || dup2(out_fd, 1) < 0 || dup2(out_fd, 2) < 0)
        _exit(EX_OSERR);
    if (in_fd > 2)
        (void) close(in_fd);
    if (out_fd > 2)
        (void) close(out_fd);
    if (recip_priv_drop(id, err) < 0) {
        (void) dprintf(2, "%s\n", strbuf_str(err));
        _exit(EX_OSERR);
    }
    if (cwd == NULL || chdir(cwd) < 0)
        (void) chdir("/");
    (void) signal(SIGPIPE, SIG_DFL);
    argv[0] = (char *) shell;
    argv[1] = (char *) "-c";
    argv[2] = (char *) command;
    argv[3] = NULL;
    execve(shell, argv, env);
    (void) dprintf(2, "exec %s: %s\n", shell, strerror(errno));
    _exit(EX_OSERR);
}

/* local_command_run: deliver to a command. */
int     local_command_run(const char *shell, const char *command,
                          const local_cmd_vars *vars, const recip_priv_id *id,
                          const char *cwd, mailbox_content *c,
                          const mailbox_copy_args *args, long time_limit,
                          mailbox_result *res)
{
    strbuf *err = strbuf_new(128);
    char  **env = local_command_env(vars);
    struct sigaction sa;
    struct sigaction old_alrm;
    struct sigaction old_pipe;
    char    out[LOCAL_OUTPUT_MAX + 1];
    char    dsn[16];
    ssize_t n;
    int     pipefd[2];
    int     out_fd;
    int     ws = 0;
    int     rc;
    int     status;
    pid_t   pid;

    if (shell == NULL || *shell == 0)
        shell = "/bin/sh";
    out_fd = open("/tmp", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (out_fd < 0) {
        mailbox_result_set(res, 4, "4.3.0", "cannot create a file for command output: %s",
                         strerror(errno));
        goto out;
    }
    if (pipe2(pipefd, O_CLOEXEC) < 0) {
        mailbox_result_set(res, 4, "4.3.0", "pipe: %s", strerror(errno));
        (void) close(out_fd);
        goto out;
    }
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = SIG_IGN;
    sigemptyset(&sa.sa_mask);
    (void) sigaction(SIGPIPE, &sa, &old_pipe);
    if ((pid = fork()) < 0) {
        mailbox_result_set(res, 4, "4.3.0", "fork: %s", strerror(errno));
        (void) close(pipefd[0]);
        (void) close(pipefd[1]);
        (void) close(out_fd);
        (void) sigaction(SIGPIPE, &old_pipe, NULL);
        goto out;
    }
    if (pid == 0) {
        (void) close(pipefd[1]);
        local_command_child(shell, command, env, id, cwd, pipefd[0], out_fd);
    }
    (void) setpgid(pid, pid);                   /* either side may win */
    (void) close(pipefd[0]);
    local_command_expired = 0;
    local_command_pgrp = (sig_atomic_t) pid;
    sa.sa_handler = local_command_alarm;
    (void) sigaction(SIGALRM, &sa, &old_alrm);
    (void) alarm((unsigned) (time_limit > 0 ? time_limit : 1));
    rc = mailbox_copy(pipefd[1], c, args, 0, err);
    (void) close(pipefd[1]);
    while (waitpid(pid, &ws, 0) < 0 && errno == EINTR)
        ;
    (void) alarm(0);
    local_command_pgrp = 0;
    (void) sigaction(SIGALRM, &old_alrm, NULL);
    (void) sigaction(SIGPIPE, &old_pipe, NULL);
    /* A command that exits without reading all input (EPIPE) is judged
     * by its exit status alone, as sendmail and Postfix do. */
    n = pread(out_fd, out, LOCAL_OUTPUT_MAX, 0);
    (void) close(out_fd);
    out[n > 0 ? n : 0] = 0;
    for (n = 0; out[n]; n++) {
        if (out[n] == '\n' || out[n] == '\r' || out[n] == '\t')
            out[n] = ' ';
        else if ((unsigned char) out[n] < 0x20 || (unsigned char) out[n] == 0x7f)
            out[n] = '?';
    }
    while (n > 0 && out[n - 1] == ' ')
        out[--n] = 0;
    status = local_command_status(ws, local_command_expired, dsn, sizeof(dsn));
    if (local_command_expired) {
        mailbox_result_set(res, status, dsn, "Command time limit exceeded: \"%s\"", command);
    } else if (rc == -2) {
        mailbox_result_set(res, 4, "4.3.0", "cannot read message: %s", strbuf_str(err));
    } else if (status == 0) {
        mailbox_result_set(res, 0, dsn, "delivered to command: %s", command);
    } else if (WIFSIGNALED(ws)) {
        mailbox_result_set(res, status, dsn, "Command died with signal %d: \"%s\"%s%s",
                         WTERMSIG(ws), command, *out ? ". Command output: " : "", out);
    } else {
        mailbox_result_set(res, status, dsn, "Command died with status %d: \"%s\"%s%s",
                         WEXITSTATUS(ws), command, *out ? ". Command output: " : "", out);
    }
out:
    local_command_env_free(env);
    strbuf_free(err);
    return res->status;
}
