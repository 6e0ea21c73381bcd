/*
 * msg: the one logging module.
 *
 * Public functions:
 *   msg_init(progname, flags): set the program name ("smtpd") and sinks
 *     (MSG_F_STDERR, MSG_F_SYSLOG, MSG_F_TTY). May be called again.
 *   msg_configure(syslog_name, facility, maillog_file): apply main.cf
 *     logging settings after the config is read: syslog ident becomes
 *     "syslog_name/progname"; a non-empty maillog_file is opened for append
 *     (the path "/dev/stdout" or "/dev/stderr" writes to that stream).
 *     With MSG_F_SYSLOG the syslog connection is opened here at once, so
 *     that a process can chroot() afterwards and keep logging.
 *     Returns 0, or -1 after a warning (unknown facility, unopenable file);
 *     the previous settings then stay in force.
 *   msg_facility_code(name): syslog facility code for "mail", "local0", ...
 *     or -1.
 *   msg_progname(): the name given to msg_init.
 *   msg_set_capture(fn, ctx): also pass every formatted line (without the
 *     "ident[pid]: " prefix) to fn; NULL turns capture off.
 *   msg_set_exit_hook(fn): fatal/panic call fn after logging instead of
 *     exit(1)/abort(). The hook must not return (unit tests longjmp out of
 *     it); if it does, the process exits anyway.
 *   msg_info/warn/error/fatal/panic(fmt, ...): log one line.
 *
 * SECURITY: text may carry client input, so control characters are
 * replaced by '?' before a line reaches any sink. errno is preserved.
 * LIMITS: a line is cut at MSG_LINE_MAX bytes.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "fileio.h"
#include "msg.h"
#include "strutil.h"

#define MSG_LINE_MAX    2048

int     msg_verbose;

/* Logging identity of this process (written once at start-up). */
static char msg_prog[64] = "postern";
static char msg_ident[128] = "postern";
static int msg_flags;
static int msg_facility = LOG_MAIL;
static int msg_syslog_open;
static int msg_file_fd = -1;
static msg_capture_fn msg_capture;
static void *msg_capture_ctx;
static msg_exit_fn msg_exit_hook;

static const struct {
    const char *name;
    int     code;
} msg_facilities[] = {
    {"mail", LOG_MAIL}, {"daemon", LOG_DAEMON}, {"user", LOG_USER},
    {"auth", LOG_AUTH}, {"authpriv", LOG_AUTHPRIV},
    {"local0", LOG_LOCAL0}, {"local1", LOG_LOCAL1}, {"local2", LOG_LOCAL2},
    {"local3", LOG_LOCAL3}, {"local4", LOG_LOCAL4}, {"local5", LOG_LOCAL5},
    {"local6", LOG_LOCAL6}, {"local7", LOG_LOCAL7},
};

/* msg_facility_code: map a facility name to its syslog code. */
int msg_facility_code(const char *name)
{
    size_t  i;

    for (i = 0; i < sizeof(msg_facilities) / sizeof(msg_facilities[0]); i++)
        if (str_casecmp(name, msg_facilities[i].name) == 0)
            return msg_facilities[i].code;
    return -1;
}

/* msg_init: set program name and sinks. */
void msg_init(const char *progname, int flags)
{
    const char *slash = strrchr(progname, '/');

    if (slash)
        progname = slash + 1;
    (void) str_copy(msg_prog, sizeof(msg_prog), progname);
    (void) str_format(msg_ident, sizeof(msg_ident), "postern/%s", msg_prog);
    if ((flags & MSG_F_TTY) && isatty(2))
        flags |= MSG_F_STDERR;
    msg_flags = flags;
    if (msg_syslog_open) {
        closelog();
        msg_syslog_open = 0;
    }
}

/* msg_progname: the program name for messages. */
const char *msg_progname(void)
{
    return msg_prog;
}

/* msg_configure: apply syslog_name, syslog_facility and maillog_file. */
int msg_configure(const char *syslog_name, const char *facility,
                  const char *maillog_file)
{
    int     code = msg_facility_code(facility ? facility : "mail");
    int     fd = -1;

    if (code < 0) {
        msg_warn("unknown syslog_facility \"%s\"; using \"mail\"", facility);
        return -1;
    }
    if (maillog_file && *maillog_file) {
        if (strcmp(maillog_file, "/dev/stdout") == 0)
            fd = dup(1);
        else if (strcmp(maillog_file, "/dev/stderr") == 0)
            fd = dup(2);
        else
            fd = open(maillog_file, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
        if (fd < 0) {
            msg_warn("cannot open maillog_file %s: %s", maillog_file, strerror(errno));
            return -1;
        }
    }
    if (syslog_name && *syslog_name)
        (void) str_format(msg_ident, sizeof(msg_ident), "%s/%s", syslog_name, msg_prog);
    msg_facility = code;
    if (msg_syslog_open) {
        closelog();
        msg_syslog_open = 0;
    }
    if (msg_file_fd >= 0)
        close(msg_file_fd);
    msg_file_fd = fd;
    /* Connect to syslog now, while /dev/log is still reachable: a service
     * may chroot() into the spool right after configuring its logging. */
    if (msg_flags & MSG_F_SYSLOG) {
        openlog(msg_ident, LOG_PID | LOG_NDELAY, msg_facility);
        msg_syslog_open = 1;
    }
    return 0;
}

/* msg_set_capture: install a test sink. */
void msg_set_capture(msg_capture_fn fn, void *ctx)
{
    msg_capture = fn;
    msg_capture_ctx = ctx;
}

/* msg_set_exit_hook: replace exit/abort for fatal and panic. */
void msg_set_exit_hook(msg_exit_fn fn)
{
    msg_exit_hook = fn;
}

static const char *const msg_prefix[] = {"", "warning: ", "error: ", "fatal: ", "panic: "};
static const int msg_prio[] = {LOG_INFO, LOG_WARNING, LOG_ERR, LOG_CRIT, LOG_CRIT};

/* msg_vlog: format, sanitize and send one line to every sink. */
void msg_vlog(enum msg_level level, const char *fmt, va_list ap)
{
    char    text[MSG_LINE_MAX];
    char    line[MSG_LINE_MAX + 256];
    int     saved_errno = errno;
    size_t  plen;
    char   *p;
    int     n;

    if ((unsigned) level > MSG_PANIC)
        level = MSG_PANIC;
    plen = strlen(msg_prefix[level]);
    memcpy(text, msg_prefix[level], plen);
    errno = saved_errno;                /* for %m */
    n = vsnprintf(text + plen, sizeof(text) - plen, fmt, ap);
    if (n < 0)
        (void) str_copy(text + plen, sizeof(text) - plen, "(bad log format)");
    for (p = text; *p; p++)
        if ((unsigned char) *p < 0x20 || *p == 0x7f)
            *p = '?';

    if (msg_capture)
        msg_capture(level, text, msg_capture_ctx);
    if (msg_flags & MSG_F_STDERR) {
        n = snprintf(line, sizeof(line), "%s: %s\n", msg_prog, text);
        if (n > 0)
            (void) fileio_write_all(2, line, (size_t) n < sizeof(line) ? (size_t) n : sizeof(line) - 1);
    }
    if (msg_flags & MSG_F_SYSLOG) {
        if (!msg_syslog_open) {
            openlog(msg_ident, LOG_PID | LOG_NDELAY, msg_facility);
            msg_syslog_open = 1;
        }
        syslog(msg_prio[level], "%s", text);
    }
    if (msg_file_fd >= 0) {
        char    stamp[32];
        char    host[256];
        time_t  now = time(NULL);
        struct tm tm;
        char   *dot;

        if (localtime_r(&now, &tm) == NULL
            || strftime(stamp, sizeof(stamp), "%b %e %H:%M:%S", &tm) == 0)
            (void) str_copy(stamp, sizeof(stamp), "-");
        if (gethostname(host, sizeof(host)) < 0)
            (void) str_copy(host, sizeof(host), "localhost");
        host[sizeof(host) - 1] = 0;
        if ((dot = strchr(host, '.')) != NULL)
            *dot = 0;
        n = snprintf(line, sizeof(line), "%s %s %s[%ld]: %s\n",
                     stamp, host, msg_ident, (long) getpid(), text);
        if (n > 0)
            (void) fileio_write_all(msg_file_fd, line,
                          (size_t) n < sizeof(line) ? (size_t) n : sizeof(line) - 1);
    }
    errno = saved_errno;
}

#define MSG_BODY(level) do { \
        va_list ap; \
        va_start(ap, fmt); \
        msg_vlog((level), fmt, ap); \
        va_end(ap); \
    } while (0)

/* msg_info: log an informational line. */
void msg_info(const char *fmt, ...)
{
    MSG_BODY(MSG_INFO);
}

/* msg_warn: log a warning. */
void msg_warn(const char *fmt, ...)
{
    MSG_BODY(MSG_WARN);
}

/* msg_error: log an error and carry on. */
void msg_error(const char *fmt, ...)
{
    MSG_BODY(MSG_ERROR);
}

/* msg_fatal: log and exit(1), or call the test hook. */
void msg_fatal(const char *fmt, ...)
{
    MSG_BODY(MSG_FATAL);
    if (msg_exit_hook)
        msg_exit_hook(MSG_FATAL);
    exit(1);
}

/* msg_panic: log and abort(), or call the test hook. */
void msg_panic(const char *fmt, ...)
{
    MSG_BODY(MSG_PANIC);
    if (msg_exit_hook)
        msg_exit_hook(MSG_PANIC);
    abort();
}
