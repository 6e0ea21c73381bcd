/*
 * master_proto: the contract between master, its services, and the
 * postern control command.
 *
 * Spool layout (created by "postern init", checked by "postern check" and
 * by master). Every directory is relative to queue_directory. As root,
 * the owner is mail_owner (MASTER_OWNER_MAIL) or root (MASTER_OWNER_ROOT)
 * and the group, where MASTER_GROUP_SETGID says so, is setgid_group. An
 * unprivileged instance owns everything as the invoking user, with the
 * same modes. MASTER_SPOOL_LAYOUT(X) expands X(name, mode, owner, group)
 * once per directory, in creation order.
 *
 * master's command line:
 *   master [-c config_dir] [-d] [-r fd] [-t] [-v]
 *   -d     stay in the foreground. master never daemonizes itself:
 *          "postern start" forks, calls setsid(), points stdio at
 *          /dev/null (unless maillog_file is /dev/stdout) and execs
 *          "master -d -r FD"; "postern start-fg" execs "master -d".
 *   -r fd  readiness pipe: once every listener is open, the lock is held
 *          and the pid file is written, master writes MASTER_READY_MSG to
 *          fd and closes it. On any start-up failure it writes
 *          MASTER_ERROR_PREFIX, the reason and a newline, logs the reason,
 *          and exits 1.
 *   -t     exit 0 when a master runs on this spool, 1 when not.
 *   -v     verbose logging.
 *
 * Lock and pid file: MASTER_PID_FILE (relative to queue_directory) holds
 * the decimal pid and a newline; master holds flock(LOCK_EX|LOCK_NB) on
 * it for its whole life. A second master fails with "the Postern mail
 * system is already running (pid N)". "postern status" tries
 * flock(LOCK_SH|LOCK_NB): when that fails a master runs.
 *
 * Signals to master: SIGHUP reload; SIGTERM graceful stop (stop
 * listening, SIGTERM the children, wait up to MASTER_STOP_WAIT seconds,
 * SIGKILL what is left, exit); SIGINT immediate stop (SIGKILL the
 * children, exit) for "postern abort".
 *
 * A service process is started as
 *   $daemon_directory/COMMAND -c CONFIG_DIR -S SERVICE -t TYPE -s NSOCK
 *                             [-u] [-z] MASTER.CF-ARGS...
 * -u: drop privileges to mail_owner (unpriv=y and master runs as root);
 * -z: chroot to queue_directory (chroot=y and master runs as root). Its
 * environment holds MAIL_CONFIG=CONFIG_DIR and import_environment only.
 * Descriptors: 0 /dev/null, 1 and 2 inherited from master,
 * MASTER_LIFELINE_FD the read end of a pipe master never writes to (EOF
 * means: finish the current request and exit), MASTER_STATUS_FD the write
 * end of the service's status pipe, MASTER_LISTEN_FD.. the NSOCK
 * listening sockets (fifo: the fifo, opened read-write).
 *
 * Status messages: one struct master_status per write(2) (atomic, fewer
 * than PIPE_BUF bytes), native byte order. avail MASTER_STAT_TAKEN when
 * the process takes a client, MASTER_STAT_AVAIL when it is ready for the
 * next. master counts a newly started process as available.
 *
 * Wakeups: every "wakeup" seconds master connects to the service's UNIX
 * socket (or opens its fifo) and writes MASTER_TRIGGER_WAKEUP.
 */
#ifndef POSTERN_MASTER_PROTO_H
#define POSTERN_MASTER_PROTO_H

#include <stdint.h>

/* Descriptors in a service process. */
#define MASTER_LIFELINE_FD      3
#define MASTER_STATUS_FD        4
#define MASTER_LISTEN_FD        5
#define MASTER_LISTEN_MAX       64      /* sockets per service */

/* Status message (fd MASTER_STATUS_FD). */
typedef struct master_status {
    int32_t pid;                        /* the sender */
    int32_t generation;                 /* always 0 (reserved) */
    int32_t avail;                      /* MASTER_STAT_xxx */
} master_status;

#define MASTER_STAT_TAKEN       0       /* busy with a client */
#define MASTER_STAT_AVAIL       1       /* idle, accepting */

/* Triggers written to a service's socket or fifo. */
#define MASTER_TRIGGER_WAKEUP   'W'

/* Readiness pipe (-r fd). */
#define MASTER_READY_MSG        "ready\n"
#define MASTER_ERROR_PREFIX     "error: "

/* Lock and pid file, relative to queue_directory. */
#define MASTER_PID_DIR          "pid"
#define MASTER_PID_FILE         "pid/master.pid"

/* Seconds a graceful stop waits for children before SIGKILL. */
#define MASTER_STOP_WAIT        30

/* master's program name (in daemon_directory) and its options. */
#define MASTER_PROGRAM          "master"

/* Service command-line options (master -> service). */
#define MASTER_OPT_CONFIG       "-c"
#define MASTER_OPT_SERVICE      "-S"
#define MASTER_OPT_TYPE         "-t"
#define MASTER_OPT_NSOCK        "-s"
#define MASTER_OPT_UNPRIV       "-u"
#define MASTER_OPT_CHROOT       "-z"

/* Spool directories, relative to queue_directory. */
#define MASTER_DIR_MAILDROP     "maildrop"
#define MASTER_DIR_INCOMING     "incoming"
#define MASTER_DIR_ACTIVE       "active"
#define MASTER_DIR_DEFERRED     "deferred"
#define MASTER_DIR_HOLD         "hold"
#define MASTER_DIR_CORRUPT      "corrupt"
#define MASTER_DIR_BOUNCE       "bounce"
#define MASTER_DIR_DEFER        "defer"
#define MASTER_DIR_PRIVATE      "private"
#define MASTER_DIR_PUBLIC       "public"

/* Owners and groups in MASTER_SPOOL_LAYOUT. */
#define MASTER_OWNER_MAIL       1       /* mail_owner */
#define MASTER_OWNER_ROOT       2       /* root */
#define MASTER_GROUP_OWNER      0       /* the owner's primary group */
#define MASTER_GROUP_SETGID     1       /* setgid_group */

/* X(name, mode, owner, group) for every spool directory. */
#define MASTER_SPOOL_LAYOUT(X) \
    X(MASTER_DIR_MAILDROP, 0730, MASTER_OWNER_MAIL, MASTER_GROUP_SETGID) \
    X(MASTER_DIR_INCOMING, 0700, MASTER_OWNER_MAIL, MASTER_GROUP_OWNER) \
    X(MASTER_DIR_ACTIVE,   0700, MASTER_OWNER_MAIL, MASTER_GROUP_OWNER) \
    X(MASTER_DIR_DEFERRED, 0700, MASTER_OWNER_MAIL, MASTER_GROUP_OWNER) \
    X(MASTER_DIR_HOLD,     0700, MASTER_OWNER_MAIL, MASTER_GROUP_OWNER) \
    X(MASTER_DIR_CORRUPT,  0700, MASTER_OWNER_MAIL, MASTER_GROUP_OWNER) \
    X(MASTER_DIR_BOUNCE,   0700, MASTER_OWNER_MAIL, MASTER_GROUP_OWNER) \
    X(MASTER_DIR_DEFER,    0700, MASTER_OWNER_MAIL, MASTER_GROUP_OWNER) \
    X(MASTER_DIR_PRIVATE,  0700, MASTER_OWNER_MAIL, MASTER_GROUP_OWNER) \
    X(MASTER_DIR_PUBLIC,   0710, MASTER_OWNER_MAIL, MASTER_GROUP_SETGID) \
    X(MASTER_PID_DIR,      0755, MASTER_OWNER_ROOT, MASTER_GROUP_OWNER)

/* Modes of what master creates in private/ and public/. Access control is
 * the directory's: private/ is mail_owner's alone, public/ is reachable
 * by setgid_group. */
#define MASTER_SOCKET_MODE      0666
#define MASTER_FIFO_MODE        0622

#endif
