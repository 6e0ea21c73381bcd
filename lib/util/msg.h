/*
 * msg: the one logging module.
 *
 * Lines have the Postfix shape: "postern/smtpd[1234]: warning: text".
 * Callers that have a queue ID put it first: msg_info("%s: from=<%s>", id, s).
 * Sinks: syslog (facility from syslog_facility), a maillog_file (one
 * write per line, O_APPEND), and stderr (for commands run by a person).
 *
 *   msg_info     normal event
 *   msg_warn     something is wrong but we carry on
 *   msg_error    an error in one request; the process carries on
 *   msg_fatal    environment or configuration error: log and exit(1)
 *   msg_panic    our own bug: log and abort() for a core dump
 *
 * Tests replace the exit path with msg_set_exit_hook() (see msg.c) and read
 * lines with msg_set_capture().
 */
#ifndef POSTERN_MSG_H
#define POSTERN_MSG_H

#include <stdarg.h>

enum msg_level {
    MSG_INFO = 0,
    MSG_WARN,
    MSG_ERROR,
    MSG_FATAL,
    MSG_PANIC
};

/* msg_init flags */
#define MSG_F_STDERR   (1 << 0)         /* log to stderr */
#define MSG_F_SYSLOG   (1 << 1)         /* log to syslog */
#define MSG_F_TTY      (1 << 2)         /* log to stderr when it is a tty */

extern int msg_verbose;

void    msg_init(const char *progname, int flags);
int     msg_configure(const char *syslog_name, const char *facility,
                      const char *maillog_file);
int     msg_facility_code(const char *name);
const char *msg_progname(void);

typedef void (*msg_capture_fn) (enum msg_level level, const char *text, void *ctx);
typedef void (*msg_exit_fn) (enum msg_level level);

void    msg_set_capture(msg_capture_fn fn, void *ctx);
void    msg_set_exit_hook(msg_exit_fn fn);

void    msg_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void    msg_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void    msg_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void    msg_fatal(const char *fmt, ...)
            __attribute__((format(printf, 1, 2), noreturn));
void    msg_panic(const char *fmt, ...)
            __attribute__((format(printf, 1, 2), noreturn));
void    msg_vlog(enum msg_level level, const char *fmt, va_list ap)
            __attribute__((format(printf, 2, 0)));

#include "banned.h"

#endif
