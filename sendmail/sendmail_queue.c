/*
 * sendmail_queue: the queue-related modes of sendmail.
 *
 *   sendmail_mailq(config_dir): -bp / mailq: runs postqueue -p, which is
 *     set-gid postdrop and so can reach public/showq for any user; when
 *     postqueue cannot be run, lists through the showq service itself
 *     (lib/mail/mailq.c, the same output). EX_UNAVAILABLE with a message
 *     when the service cannot be reached (the mail system is down).
 *   sendmail_flush(config_dir, site): -q / -qRsite: runs postqueue -f or
 *     postqueue -s site for the same reason; failing that, asks the
 *     flush service itself to retry
 *     every deferred message now (site NULL), or the deferred mail of one
 *     site (which must be in fast_flush_domains). EX_UNAVAILABLE with a
 *     message when that fails.
 *   sendmail_newaliases(flags): -bi / newaliases (flags: MKMAP_F_*):
 *     rebuild every file-based table in alias_database with
 *     mkmap_newaliases, as postalias does when run as newaliases (but
 *     quietly). EX_UNAVAILABLE when a table could not be rebuilt (mkmap
 *     logged why), else 0.
 *
 * SECURITY: runs as the invoking user; the listing and the flush go
 *   through public services that check what they are asked.
 * LIMITS: those of showq_proto and flush_client.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "flush_client.h"
#include "mailq.h"
#include "mem.h"
#include "mkmap.h"
#include "msg.h"
#include "param.h"
#include "sendmail.h"
#include "strbuf.h"
#include "strutil.h"

/* sendmail_postqueue: replace this process with postqueue OPT [ARG];
 * returns only when postqueue cannot be run. */
static void sendmail_postqueue(const char *config_dir, const char *opt,
                               const char *arg)
{
    char   *prog = str_concat(param_str(PARAM_COMMAND_DIRECTORY), "/postqueue",
                              (char *) NULL);
    const char *args[7];
    int     n = 0;

    args[n++] = "postqueue";
    /* A set-gid postqueue refuses -c, so name only a non-default one. */
    if (config_dir != NULL && strcmp(config_dir, PARAM_CONFIG_DIR_DEFAULT) != 0) {
        args[n++] = "-c";
        args[n++] = config_dir;
    }
    args[n++] = opt;
    if (arg != NULL)
        args[n++] = arg;
    args[n] = NULL;
    (void) fflush(stdout);
    (void) execv(prog, (char *const *) args);
    if (msg_verbose)
        msg_info("cannot run %s: %s; asking the service directly", prog,
                 strerror(errno));
    mem_free(prog);
}

/* sendmail_mailq: list the queue; exit status. */
int sendmail_mailq(const char *config_dir)
{
    strbuf *err = strbuf_new(128);
    int     rc = EX_OK;

    sendmail_postqueue(config_dir, "-p", NULL);

    if (mailq_list(stdout, MAILQ_TEXT, err) < 0) {
        (void) fflush(stdout);
        fprintf(stderr, "sendmail: fatal: queue report unavailable: %s\n",
                strbuf_str(err));
        rc = EX_UNAVAILABLE;
    } else if (fflush(stdout) != 0 || ferror(stdout)) {
        rc = EX_IOERR;
    }
    strbuf_free(err);
    return rc;
}

/* sendmail_flush: -q and -qRsite through the flush service. */
int sendmail_flush(const char *config_dir, const char *site)
{
    strbuf *err = strbuf_new(128);
    int     st, rc = EX_OK;

    sendmail_postqueue(config_dir, site ? "-s" : "-f", site);

    st = site ? flush_send_site(site, err) : flush_send_all(err);
    if (st != FLUSH_STAT_OK) {
        fprintf(stderr, "sendmail: cannot flush the mail queue%s%s: %s\n",
                site ? " for " : "", site ? site : "", strbuf_str(err));
        rc = EX_UNAVAILABLE;
    }
    strbuf_free(err);
    return rc;
}

/* sendmail_newaliases: rebuild the tables of alias_database. */
int sendmail_newaliases(int flags)
{
    mkmap_opts opts;

    memset(&opts, 0, sizeof(opts));
    opts.format = MKMAP_FORMAT_ALIASES;
    opts.flags = flags;
    opts.default_type = param_str(PARAM_DEFAULT_DATABASE_TYPE);
    return mkmap_newaliases(&opts, 0) < 0 ? EX_UNAVAILABLE : EX_OK;
}
