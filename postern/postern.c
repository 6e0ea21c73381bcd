/*
 * postern: the control command of the Postern mail system.
 *
 *   postern [-c config_dir] [-v] command [arguments]
 *
 * Commands (see man/man1/postern.1 for the user's view):
 *   init [dir] [name=value...]  create a configuration directory and spool
 *   check                       verify configuration, spool and programs
 *   start | start-fg            start master in the background / foreground
 *   stop | abort | reload       SIGTERM / SIGINT / SIGHUP to master
 *   status                      exit 0 when running, 3 when not
 *   flush                       ask qmgr to retry deferred mail
 *   set-permissions             repair owners and modes of the spool
 *   tls new-server-cert [host]  self-signed RSA and ECDSA certificates
 *
 * The configuration directory is -c, else $MAIL_CONFIG, else the
 * compiled-in default (param_config_dir); it is made absolute before it
 * is handed to master, so that master and its children do not depend on
 * the caller's working directory.
 *
 * Public functions (for the other postern_*.c files):
 *   postern_load(opts, validate, err): read main.cf from opts->config_dir
 *     and, with validate, check every parameter value
 *     (postern_check_params), so that the typed getters can be used
 *     afterwards without a fatal surprise. Returns 0, or -1 with err
 *     (missing main.cf, syntax, bad values; the bad values have been
 *     reported as errors already). stop, abort, status and flush do not
 *     validate: a mistake in main.cf must not keep a running system from
 *     being stopped; they need only queue_directory.
 *   postern_path(dir, name): a new string "dir/name" (caller frees).
 *   postern_log_to_maillog(): after postern_load, log also where master
 *     logs (maillog_file, else syslog), as Postfix's control script does
 *     for start, stop, abort and reload.
 *
 * Exit status: 0 success; 1 error or bad usage; 3 from "status" when the
 * mail system is not running.
 *
 * SECURITY: postern is not set-uid; it runs with the caller's privileges.
 * As root it creates and repairs spool directories (never following
 * symbolic links, see postern_spool.c) and starts master, which then
 * drops privileges per service. Nothing here trusts the pid file beyond
 * a bounded, range-checked number.
 * LIMITS: paths are bounded by PATH_MAX where the system needs it.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mem.h"
#include "msg.h"
#include "param.h"
#include "param_names.h"
#include "postern.h"
#include "strbuf.h"
#include "strutil.h"

/* usage: print the usage line and exit 1. */
static void __attribute__((noreturn)) usage(void)
{
    fprintf(stderr,
            "usage: postern [-c config_dir] [-v] command\n"
            "commands: init [dir] [name=value...] | check | start | start-fg | stop |\n"
            "          abort | reload | status | flush | set-permissions |\n"
            "          tls new-server-cert [hostname]\n");
    exit(POSTERN_EXIT_FAIL);
}

/* postern_path: join a directory and a name. */
char   *postern_path(const char *dir, const char *name)
{
    size_t  len = strlen(dir);

    if (len > 1 && dir[len - 1] == '/')
        return str_concat(dir, name, NULL);
    return str_concat(dir, "/", name, NULL);
}

/* postern_absolute: a new absolute version of path (not resolved). */
static char *postern_absolute(const char *path)
{
    char    resolved[PATH_MAX];
    char    cwd[PATH_MAX];

    if (path[0] == '/')
        return mem_strdup(path);
    if (realpath(path, resolved) != NULL)
        return mem_strdup(resolved);
    if (getcwd(cwd, sizeof(cwd)) == NULL)
        msg_fatal("cannot find the current directory: %m");
    return postern_path(cwd, path);
}

/* postern_load: read and validate main.cf. */
int     postern_load(const postern_opts *opts, int validate, strbuf *err)
{
    int     rc;

    rc = param_load(opts->config_dir, err);
    if (rc < 0)
        return -1;
    if (rc == 1) {
        strbuf_setf(err, "%s/%s: No such file or directory "
                    "(create an instance with \"postern init\")",
                    opts->config_dir, PARAM_MAIN_CF);
        return -1;
    }
    if (validate && postern_check_params() > 0) {
        strbuf_setf(err, "%s/%s: invalid parameter values",
                    opts->config_dir, PARAM_MAIN_CF);
        return -1;
    }
    return 0;
}

/* postern_log_to_maillog: also log where master logs. */
void    postern_log_to_maillog(void)
{
    const char *file = param_str(PARAM_MAILLOG_FILE);
    int     std = strcmp(file, "/dev/stdout") == 0
        || strcmp(file, "/dev/stderr") == 0;

    /* A terminal stream already shows our stderr lines: no second copy. */
    msg_init("postern", MSG_F_STDERR | (*file ? 0 : MSG_F_SYSLOG));
    (void) msg_configure(param_str(PARAM_SYSLOG_NAME),
                         param_str(PARAM_SYSLOG_FACILITY),
                         std ? "" : file);
}

/* main: parse options and run one command. */
int     main(int argc, char **argv)
{
    postern_opts opts;
    const char *cli_dir = NULL;
    const char *cmd;
    char   *config_dir;
    int     ch;
    int     status;
    int     nargs;

    memset(&opts, 0, sizeof(opts));
    msg_init("postern", MSG_F_STDERR);
    while ((ch = getopt(argc, argv, "+c:v")) != -1) {
        switch (ch) {
        case 'c':
            cli_dir = optarg;
            break;
        case 'v':
            msg_verbose++;
            break;
        default:
            usage();
        }
    }
    if (optind >= argc)
        usage();
    cmd = argv[optind++];
    nargs = argc - optind;
    config_dir = postern_absolute(param_config_dir(cli_dir));
    opts.config_dir = config_dir;
    opts.root = geteuid() == 0;

    if (strcmp(cmd, "init") == 0) {
        status = postern_init(&opts, argv + optind, nargs);
        mem_free(config_dir);
        return status;
    }
    if (strcmp(cmd, "tls") == 0) {
        status = postern_tls(&opts, argv + optind, nargs);
        mem_free(config_dir);
        return status;
    }
    if (nargs > 0)
        usage();
    if (strcmp(cmd, "check") == 0)
        status = postern_check(&opts, 0);
    else if (strcmp(cmd, "start") == 0)
        status = postern_start(&opts, 0);
    else if (strcmp(cmd, "start-fg") == 0)
        status = postern_start(&opts, 1);
    else if (strcmp(cmd, "stop") == 0)
        status = postern_stop(&opts, 0);
    else if (strcmp(cmd, "abort") == 0)
        status = postern_stop(&opts, 1);
    else if (strcmp(cmd, "reload") == 0)
        status = postern_reload(&opts);
    else if (strcmp(cmd, "status") == 0)
        status = postern_status(&opts);
    else if (strcmp(cmd, "flush") == 0)
        status = postern_flush(&opts);
    else if (strcmp(cmd, "set-permissions") == 0)
        status = postern_set_permissions(&opts);
    else {
        msg_error("unknown command: \"%s\"", cmd);
        usage();
    }
    mem_free(config_dir);
    return status;
}
