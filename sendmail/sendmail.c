/*
 * sendmail: the sendmail-compatible submission command; run as "mailq"
 * it lists the queue (-bp), as "newaliases" it rebuilds the alias
 * tables (-bi). See sendmail(1) for the command line.
 *
 * Message submission (-bm, the default): recipients come from the
 * arguments (an argument may hold a comma-separated list) and, with -t,
 * also from the To:, Cc: and Bcc: headers (cleanup extracts them and
 * removes Bcc:; the maildrop file carries the extract flag). Standard
 * input is the message: CRLF and LF line ends both become LF, every other
 * byte is kept exactly, and a line holding a single "." ends the input
 * unless -i or -oi is given. The message goes to postdrop through a pipe
 * (sendmail_submit.c), so it needs no running mail system: it waits in
 * maildrop/ until pickup takes it. Exit status (sysexits.h): EX_OK once
 * postdrop made the message durable; EX_USAGE for a bad command line;
 * EX_NOUSER for a bad recipient address or none at all; EX_DATAERR for
 * a message over message_size_limit or refused by postdrop;
 * EX_TEMPFAIL when postdrop failed for another reason; EX_UNAVAILABLE
 * for modes that are not available (-bd, mailq without access).
 * -bv prints a report of where each address resolves (sendmail_verify.c).
 *
 * Options accepted and ignored (logged with -v): -G -m -n -U -h N -L
 * label -O opt=value -p proto -X file, and every -oX except -oi.
 *
 * SECURITY: runs as the invoking user, no privilege; everything it writes
 *   is checked again by postdrop (set-gid) and by pickup.
 * LIMITS: input lines are read in pieces of SENDMAIL_LINE_MAX bytes (a
 *   longer line is kept whole, as pieces); the content is bounded by
 *   message_size_limit; recipients per command line SENDMAIL_RCPT_MAX.
 */
#include <errno.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <unistd.h>

#include "addr.h"
#include "maildrop.h"
#include "mem.h"
#include "mkmap.h"
#include "msg.h"
#include "param.h"
#include "qfile.h"
#include "sendmail.h"
#include "stream.h"
#include "strbuf.h"
#include "strutil.h"

#define SENDMAIL_LINE_MAX   65536       /* bytes per content piece */
#define SENDMAIL_RCPT_MAX   100000      /* command-line recipients */

/* What the command line asks for. */
enum sendmail_mode {
    SENDMAIL_MODE_DELIVER,              /* -bm */
    SENDMAIL_MODE_MAILQ,                /* -bp */
    SENDMAIL_MODE_NEWALIASES,           /* -bi, -I */
    SENDMAIL_MODE_SMTP,                 /* -bs */
    SENDMAIL_MODE_VERIFY,               /* -bv */
    SENDMAIL_MODE_DAEMON,               /* -bd, -bD */
    SENDMAIL_MODE_FLUSH                 /* -q */
};

/* usage: print the usage line and exit EX_USAGE. */
static void __attribute__((noreturn)) usage(const char *why)
{
    if (why)
        fprintf(stderr, "sendmail: %s\n", why);
    fprintf(stderr, "usage: sendmail [-bm|-bp|-bi|-bs|-q] [-t] [-i] [-v] "
            "[-f sender] [-F full_name] [-N dsn] [-R ret] [-V envid] "
            "[-B body_type] [-C config] [recipient ...]\n");
    exit(EX_USAGE);
}

/* sendmail_fatal: print an error and exit with status. */
static void __attribute__((noreturn)) sendmail_fatal(int status, const char *text)
{
    fprintf(stderr, "sendmail: %s\n", text);
    exit(status);
}

/* sendmail_split_list: next comma-separated item of a recipient list
 * (commas inside quotes or angle brackets do not split); NULL at end. */
static char *sendmail_split_list(char **cursor)
{
    char   *p = *cursor, *start;
    int     quoted = 0, angle = 0;

    while (*p == ',' || *p == ' ' || *p == '\t')
        p++;
    if (*p == 0) {
        *cursor = p;
        return NULL;
    }
    for (start = p; *p; p++) {
        if (*p == '\\' && quoted && p[1]) {
            p++;
        } else if (*p == '"') {
            quoted = !quoted;
        } else if (!quoted && *p == '<') {
            angle = 1;
        } else if (!quoted && *p == '>') {
            angle = 0;
        } else if (!quoted && !angle && *p == ',') {
            *p++ = 0;
            break;
        }
    }
    *cursor = p;
    return str_trim(start);
}

/* sendmail_add_rcpts: add the addresses of one argument; 0 or -1. */
int sendmail_add_rcpts(sendmail_env *env, const char *arg, strbuf *err)
{
    char   *copy = mem_strdup(arg);
    char   *cursor = copy, *item;
    strbuf *internal = strbuf_new(64);
    const char *why;
    size_t  rest;
    int     rc = 0;

    while ((item = sendmail_split_list(&cursor)) != NULL) {
        if (addr_parse(item, strlen(item), ADDR_F_LOCAL_OK | ADDR_F_SMTPUTF8,
                       internal, &rest, &why) < 0 || rest != strlen(item)) {
            (void) strbuf_setf(err, "bad recipient address \"%s\": %s", item,
                               why ? why : "unexpected text after the address");
            rc = -1;
            break;
        }
        if (env->nrcpts >= SENDMAIL_RCPT_MAX) {
            (void) strbuf_setf(err, "too many recipients");
            rc = -1;
            break;
        }
        env->rcpts = mem_realloc(env->rcpts, (env->nrcpts + 1) * sizeof(char *));
        env->rcpts[env->nrcpts++] = mem_strdup(strbuf_str(internal));
    }
    strbuf_free(internal);
    mem_free(copy);
    return rc;
}

/* sendmail_parse_notify: -N value to QFILE_NOTIFY_* bits, -1 if bad. */
static int sendmail_parse_notify(const char *arg)
{
    char   *copy = mem_strdup(arg);
    char   *cursor = copy, *word;
    int     bits = 0;

    while ((word = str_token(&cursor, ", \t")) != NULL) {
        if (str_casecmp(word, "never") == 0)
            bits |= QFILE_NOTIFY_NEVER;
        else if (str_casecmp(word, "success") == 0)
            bits |= QFILE_NOTIFY_SUCCESS;
        else if (str_casecmp(word, "failure") == 0)
            bits |= QFILE_NOTIFY_FAILURE;
        else if (str_casecmp(word, "delay") == 0)
            bits |= QFILE_NOTIFY_DELAY;
        else
            bits = -1;
        if (bits < 0)
            break;
    }
    mem_free(copy);
    if (bits == 0 || (bits > 0 && (bits & QFILE_NOTIFY_NEVER) && bits != QFILE_NOTIFY_NEVER))
        return -1;
    return bits;
}

/* sendmail_config_dir: -C/-c value: a directory, or a main.cf file. */
static char *sendmail_config_dir(const char *arg)
{
    struct stat st;
    const char *slash;

    if (stat(arg, &st) == 0 && S_ISREG(st.st_mode)) {
        slash = strrchr(arg, '/');
        if (slash == NULL)
            return mem_strdup(".");
        if (slash == arg)
            return mem_strdup("/");
        return mem_strndup(arg, (size_t) (slash - arg));
    }
    return mem_strdup(arg);
}

/* sendmail_read_message: copy standard input into the submission. */
static int sendmail_read_message(sendmail_submit *sub, int ignore_dots,
                                 strbuf *err)
{
    stream *in = stream_fdopen(0, STREAM_F_READ | STREAM_F_NOCLOSE);
    strbuf *line = strbuf_new(1024);
    int     carry_cr = 0, line_start = 1, rc = 0, st;
    enum stream_status ss;

    for (;;) {
        strbuf_reset(line);
        if (carry_cr)
            (void) strbuf_putc(line, '\r');
        carry_cr = 0;
        ss = stream_get_line(in, line, SENDMAIL_LINE_MAX);
        if (ss == STREAM_EOF && line->len == 0)
            break;
        if (ss == STREAM_ERROR || ss == STREAM_TIMEOUT) {
            (void) strbuf_setf(err, "read standard input: %s", strerror(errno));
            rc = EX_NOINPUT;
            break;
        }
        if (ss == STREAM_TOOLONG) {
            /* A piece of a long line; a CR at its end may be half a CRLF. */
            if (line->len > 0 && line->data[line->len - 1] == '\r') {
                carry_cr = 1;
                strbuf_truncate(line, line->len - 1);
            }
            st = sendmail_submit_line(sub, line->data, line->len, 1);
            line_start = 0;
        } else {
            int     had_lf = line->len > 0 && line->data[line->len - 1] == '\n';

            if (had_lf)
                strbuf_truncate(line, line->len - 1);
            if (had_lf && line->len > 0 && line->data[line->len - 1] == '\r')
                strbuf_truncate(line, line->len - 1);
            if (line_start && !ignore_dots && line->len == 1 && line->data[0] == '.')
                break;
            st = sendmail_submit_line(sub, line->data, line->len, 0);
            line_start = 1;
            if (!had_lf)
                break;
        }
        if (st == SENDMAIL_TOO_BIG)
            break;                      /* sendmail_submit_close reports it */
        if (st < 0)
            break;                      /* postdrop died; close tells why */
    }
    if (carry_cr && rc == 0)
        (void) sendmail_submit_line(sub, "\r", 1, 0);
    strbuf_free(line);
    (void) stream_close(in);
    return rc;
}

/* sendmail_default_sender: the login name of the real uid. */
static char *sendmail_default_sender(void)
{
    struct passwd *pw = getpwuid(getuid());

    if (pw == NULL || pw->pw_name[0] == 0) {
        char    buf[32];

        (void) str_format(buf, sizeof(buf), "uid%lu", (unsigned long) getuid());
        msg_warn("no user name for uid %lu; using %s as the sender",
                 (unsigned long) getuid(), buf);
        return mem_strdup(buf);
    }
    return mem_strdup(pw->pw_name);
}

/* sendmail_deliver: -bm: submit standard input; exit status. */
static int sendmail_deliver(sendmail_env *env, int ignore_dots)
{
    sendmail_submit *sub;
    strbuf *err = strbuf_new(128);
    int     rc;

    if (env->nrcpts == 0 && !env->extract)
        usage("no recipient addresses: give them as arguments or use -t");
    if ((sub = sendmail_submit_open(env, err)) == NULL)
        sendmail_fatal(EX_TEMPFAIL, strbuf_str(err));
    if ((rc = sendmail_read_message(sub, ignore_dots, err)) != 0) {
        sendmail_submit_abort(sub);
        sendmail_fatal(rc, strbuf_str(err));
    }
    rc = sendmail_submit_close(sub, err);
    if (rc != EX_OK)
        sendmail_fatal(rc, strbuf_str(err));
    strbuf_free(err);
    return EX_OK;
}

/* sendmail_opt_arg: the value of an option: rest of the word or next. */
static const char *sendmail_opt_arg(int argc, char **argv, int *i, const char *p)
{
    if (p[1])
        return p + 1;
    if (*i + 1 >= argc)
        usage("option requires an argument");
    return argv[++*i];
}

/* sendmail_newaliases_main: run as "newaliases [-orvw] [-c dir]", the
 * options of newaliases(1) (as postalias takes them). */
static int sendmail_newaliases_main(int argc, char **argv)
{
    strbuf *err = strbuf_new(64);
    const char *dir = NULL;
    int     ch, flags = 0;

    msg_init("newaliases", MSG_F_STDERR);
    while ((ch = getopt(argc, argv, "C:c:orvw")) != -1) {
        switch (ch) {
        case 'C':
        case 'c':
            dir = optarg;
            break;
        case 'o':
            flags |= MKMAP_F_NO_OWNER;
            break;
        case 'r':
            flags |= MKMAP_F_REPLACE;
            break;
        case 'v':
            msg_verbose++;
            break;
        case 'w':
            flags |= MKMAP_F_QUIET_DUP;
            break;
        default:
            fprintf(stderr, "usage: newaliases [-orvw] [-c config_dir]\n");
            return EX_USAGE;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "usage: newaliases [-orvw] [-c config_dir]\n");
        return EX_USAGE;
    }
    if (param_load(param_config_dir(dir ? sendmail_config_dir(dir) : NULL), err) < 0)
        sendmail_fatal(EX_TEMPFAIL, strbuf_str(err));
    strbuf_free(err);
    return sendmail_newaliases(flags);
}

/* main: parse the command line and run the mode. */
int     main(int argc, char **argv)
{
    const char *base = strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 : argv[0];
    enum sendmail_mode mode = SENDMAIL_MODE_DELIVER;
    sendmail_env env;
    const char *cli_dir = NULL, *sender = NULL, *body = NULL, *ret = NULL;
    const char *notify = NULL;
    const char *flush_site = NULL;
    strbuf *err = strbuf_new(128);
    strbuf *internal = strbuf_new(64);
    char   *config = NULL;
    int     ignore_dots = 0, i, rc;

    memset(&env, 0, sizeof(env));
    msg_init("sendmail", MSG_F_STDERR);
    signal(SIGPIPE, SIG_IGN);
    if (strcmp(base, "mailq") == 0)
        mode = SENDMAIL_MODE_MAILQ;
    else if (strcmp(base, "newaliases") == 0)
        return sendmail_newaliases_main(argc, argv);

    for (i = 1; i < argc && argv[i][0] == '-' && argv[i][1] != 0; i++) {
        const char *p = argv[i] + 1;
        const char *val;

        if (strcmp(argv[i], "--") == 0) {
            i++;
            break;
        }
        switch (*p) {
        case 'B':
            body = sendmail_opt_arg(argc, argv, &i, p);
            break;
        case 'C':
        case 'c':
            cli_dir = sendmail_opt_arg(argc, argv, &i, p);
            break;
        case 'F':
            env.full_name = sendmail_opt_arg(argc, argv, &i, p);
            break;
        case 'f':
        case 'r':
            sender = sendmail_opt_arg(argc, argv, &i, p);
            break;
        case 'N':
            notify = sendmail_opt_arg(argc, argv, &i, p);
            break;
        case 'R':
            ret = sendmail_opt_arg(argc, argv, &i, p);
            break;
        case 'V':
            env.envid = sendmail_opt_arg(argc, argv, &i, p);
            break;
        case 'h':
        case 'L':
        case 'O':
        case 'p':
        case 'X':
            val = sendmail_opt_arg(argc, argv, &i, p);
            if (msg_verbose)
                msg_info("option -%c %s ignored", *p, val);
            break;
        case 'G':
        case 'm':
        case 'n':
        case 'U':
            if (p[1])
                usage("unknown option");
            if (msg_verbose)
                msg_info("option -%c ignored", *p);
            break;
        case 'i':
            if (p[1])
                usage("unknown option");
            ignore_dots = 1;
            break;
        case 'I':
            mode = SENDMAIL_MODE_NEWALIASES;
            break;
        case 't':
            if (p[1])
                usage("unknown option");
            env.extract = 1;
            break;
        case 'v':
            for (; *p == 'v'; p++)
                msg_verbose++;
            if (*p)
                usage("unknown option");
            break;
        case 'q':
            /* -q and -qTIME flush everything, -qRsite (or -qR site) one
             * site; -qI, -qS... are taken as a full flush. */
            mode = SENDMAIL_MODE_FLUSH;
            if (p[1] == 'R')
                flush_site = p[2] ? p + 2 : (i + 1 < argc ? argv[++i] : NULL);
            if (p[1] == 'R' && (flush_site == NULL || *flush_site == 0))
                usage("-qR needs a site name");
            break;
        case 'o':
            if (p[1] == 0)
                usage("option -o needs a letter");
            if (p[1] == 'i' && p[2] == 0)
                ignore_dots = 1;
            else if (msg_verbose)
                msg_info("option %s ignored", argv[i]);
            break;
        case 'b':
            if (p[1] == 0 || p[2] != 0)
                usage("bad -b option");
            switch (p[1]) {
            case 'm':
                mode = SENDMAIL_MODE_DELIVER;
                break;
            case 'p':
                mode = SENDMAIL_MODE_MAILQ;
                break;
            case 'i':
                mode = SENDMAIL_MODE_NEWALIASES;
                break;
            case 's':
                mode = SENDMAIL_MODE_SMTP;
                break;
            case 'v':
                mode = SENDMAIL_MODE_VERIFY;
                break;
            case 'd':
            case 'D':
                mode = SENDMAIL_MODE_DAEMON;
                break;
            case 'h':
            case 'H':
                if (msg_verbose)
                    msg_info("option %s ignored", argv[i]);
                return EX_OK;
            default:
                usage("unsupported -b mode");
            }
            break;
        default:
            usage("unknown option");
        }
    }

    /* Configuration. */
    if (cli_dir)
        config = sendmail_config_dir(cli_dir);
    env.config_dir = param_config_dir(config);
    if (param_load(env.config_dir, err) < 0)
        sendmail_fatal(EX_TEMPFAIL, strbuf_str(err));

    switch (mode) {
    case SENDMAIL_MODE_MAILQ:
        return sendmail_mailq(env.config_dir);
    case SENDMAIL_MODE_NEWALIASES:
        return sendmail_newaliases(0);
    case SENDMAIL_MODE_FLUSH:
        return sendmail_flush(env.config_dir, flush_site);
    case SENDMAIL_MODE_DAEMON:
        sendmail_fatal(EX_UNAVAILABLE, "daemon mode is not supported: "
                       "start the mail system with \"postern start\"");
    case SENDMAIL_MODE_VERIFY:
        return sendmail_verify(argc - i, argv + i, stdout);
    default:
        break;
    }

    /* Envelope. */
    if (sender) {
        const char *why;
        size_t  rest;

        if (strcmp(sender, "") == 0 || strcmp(sender, "<>") == 0) {
            strbuf_reset(internal);
        } else if (addr_parse(sender, strlen(sender),
                              ADDR_F_LOCAL_OK | ADDR_F_NULL_OK | ADDR_F_SMTPUTF8,
                              internal, &rest, &why) < 0 || rest != strlen(sender)) {
            (void) strbuf_setf(err, "bad sender address \"%s\": %s", sender,
                               why ? why : "unexpected text after the address");
            sendmail_fatal(EX_USAGE, strbuf_str(err));
        }
        env.sender = mem_strdup(strbuf_str(internal));
    } else {
        env.sender = sendmail_default_sender();
    }
    if (body) {
        if (str_casecmp(body, "8BITMIME") == 0)
            env.encoding = "8bit";
        else if (str_casecmp(body, "7BIT") == 0)
            env.encoding = "7bit";
        else
            usage("-B takes 7BIT or 8BITMIME");
    }
    if (ret) {
        if (str_casecmp(ret, "full") == 0)
            env.ret = QFILE_RET_FULL;
        else if (str_casecmp(ret, "hdrs") == 0)
            env.ret = QFILE_RET_HDRS;
        else
            usage("-R takes full or hdrs");
    }
    if (notify && (env.notify = sendmail_parse_notify(notify)) < 0)
        usage("-N takes never, or a list of success, failure, delay");
    if (env.full_name && (strlen(env.full_name) > MAILDROP_FULL_NAME_MAX
                          || strpbrk(env.full_name, "\r\n")))
        usage("-F: full name too long or holds a line break");
    if (env.envid && (strlen(env.envid) > 100 || strpbrk(env.envid, "\r\n")))
        usage("-V: bad envelope id");

    if (mode == SENDMAIL_MODE_SMTP) {
        if (i < argc)
            usage("-bs takes no recipient arguments");
        rc = sendmail_smtp(&env);
    } else {
        for (; i < argc; i++) {
            if (sendmail_add_rcpts(&env, argv[i], err) < 0)
                sendmail_fatal(EX_NOUSER, strbuf_str(err));
        }
        rc = sendmail_deliver(&env, ignore_dots);
    }
    for (i = 0; i < (int) env.nrcpts; i++)
        mem_free(env.rcpts[i]);
    mem_free(env.rcpts);
    mem_free((char *) env.sender);
    strbuf_free(err);
    strbuf_free(internal);
    return rc;
}
