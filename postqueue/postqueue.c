/*
 * postqueue: the queue listing and flushing command for every user.
 *
 *   postqueue [-v] [-c config_dir] -p | -j | -f | -s site | -i queue_id
 *
 * -p prints the classic listing (mailq), -j one JSON object per message;
 * both come from the showq service (mailq.c), so the caller needs no
 * access to the spool. -f asks for every deferred message now, -s for
 * the deferred mail of one site (which must be in fast_flush_domains),
 * -i for one deferred message; all three go through the flush service.
 * -c (or MAIL_CONFIG) picks the configuration, except in a set-gid run by
 * someone other than root, where only the default is used
 * (param_config_dir). See postqueue(1).
 *
 * Exit status (sysexits.h): EX_OK; EX_USAGE for a bad command line;
 * EX_UNAVAILABLE when the service cannot be reached or refuses (the mail
 * system is down, the site is not eligible, no such message);
 * EX_TEMPFAIL when the configuration cannot be read or the service
 * failed temporarily; EX_IOERR when standard output fails.
 *
 * SECURITY: may be set-gid postdrop, run by anyone: it reads only
 *   main.cf, talks only to the public showq and flush sockets, and passes
 *   the -s and -i arguments as escaped attribute values, which the flush
 *   service checks again. Output is what showq sent, control characters
 *   of reasons replaced (mailq.c).
 * LIMITS: those of showq_proto and flush_client.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "flush_client.h"
#include "mail_queue.h"
#include "mailq.h"
#include "msg.h"
#include "param.h"
#include "strbuf.h"

/* What the command line asks for. */
enum postqueue_mode {
    POSTQUEUE_NONE,
    POSTQUEUE_LIST,                     /* -p */
    POSTQUEUE_JSON,                     /* -j */
    POSTQUEUE_FLUSH,                    /* -f */
    POSTQUEUE_SITE,                     /* -s site */
    POSTQUEUE_ID                        /* -i queue_id */
};

/* usage: the usage line; exit EX_USAGE */
static void __attribute__((noreturn)) usage(void)
{
    fprintf(stderr, "usage: postqueue [-v] [-c config_dir] "
            "-p | -j | -f | -s site | -i queue_id\n");
    exit(EX_USAGE);
}

/* postqueue_fail: print "postqueue: fatal: text" and exit with status */
static void __attribute__((noreturn)) postqueue_fail(int status, const char *what,
                                                     const char *why)
{
    fprintf(stderr, "postqueue: fatal: %s: %s\n", what, why);
    exit(status);
}

/* postqueue_flush_status: exit status for a FLUSH_STAT_* value: every
 * failure (service down, site refused, no such message) is "unavailable",
 * as in Postfix */
static int postqueue_flush_status(int st)
{
    return st == FLUSH_STAT_OK ? EX_OK : EX_UNAVAILABLE;
}

/* main: parse the command line, run the request */
int     main(int argc, char **argv)
{
    enum postqueue_mode mode = POSTQUEUE_NONE;
    const char *cli_dir = NULL, *arg = NULL;
    strbuf *err = strbuf_new(128);
    int     ch, st;

    msg_init("postqueue", MSG_F_STDERR);
    while ((ch = getopt(argc, argv, "c:fi:jps:v")) != -1) {
        enum postqueue_mode m = POSTQUEUE_NONE;

        switch (ch) {
        case 'c':
            cli_dir = optarg;
            continue;
        case 'v':
            msg_verbose++;
            continue;
        case 'p':
            m = POSTQUEUE_LIST;
            break;
        case 'j':
            m = POSTQUEUE_JSON;
            break;
        case 'f':
            m = POSTQUEUE_FLUSH;
            break;
        case 's':
            m = POSTQUEUE_SITE;
            arg = optarg;
            break;
        case 'i':
            m = POSTQUEUE_ID;
            arg = optarg;
            break;
        default:
            usage();
        }
        if (mode != POSTQUEUE_NONE && mode != m) {
            fprintf(stderr, "postqueue: give only one of -p, -j, -f, -s, -i\n");
            usage();
        }
        mode = m;
    }
    if (optind < argc || mode == POSTQUEUE_NONE)
        usage();
    if (param_load(param_config_dir(cli_dir), err) < 0)
        postqueue_fail(EX_TEMPFAIL, "cannot read the configuration", strbuf_str(err));

    switch (mode) {
    case POSTQUEUE_LIST:
    case POSTQUEUE_JSON:
        if (mailq_list(stdout, mode == POSTQUEUE_JSON ? MAILQ_JSON : MAILQ_TEXT, err) < 0) {
            (void) fflush(stdout);
            postqueue_fail(EX_UNAVAILABLE, "queue report unavailable", strbuf_str(err));
        }
        if (fflush(stdout) != 0 || ferror(stdout)) {
            fprintf(stderr, "postqueue: fatal: write error on standard output\n");
            return EX_IOERR;
        }
        break;
    case POSTQUEUE_FLUSH:
        if ((st = flush_send_all(err)) != FLUSH_STAT_OK)
            postqueue_fail(postqueue_flush_status(st), "cannot flush the mail queue",
                           strbuf_str(err));
        break;
    case POSTQUEUE_SITE:
        if ((st = flush_send_site(arg, err)) != FLUSH_STAT_OK)
            postqueue_fail(postqueue_flush_status(st), "cannot flush mail queue for site",
                           strbuf_str(err));
        break;
    case POSTQUEUE_ID:
        if (!mail_queue_id_ok(arg))
            postqueue_fail(EX_USAGE, arg, "bad queue ID");
        if ((st = flush_send_file(arg, err)) != FLUSH_STAT_OK)
            postqueue_fail(postqueue_flush_status(st), "cannot flush the message",
                           strbuf_str(err));
        break;
    default:
        usage();
    }
    strbuf_free(err);
    return EX_OK;
}
