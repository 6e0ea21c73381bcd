/*
 * sendmail_queue: the queue-related modes of sendmail.
 *
 *   sendmail_mailq(): -bp / mailq. Until the showq service exists this
 *     reads the queue directories itself (maildrop, incoming, active,
 *     deferred with its hashed subdirectories, hold) and prints the
 *     listing in Postfix's shape: ID with '*' (active) or '!' (hold),
 *     size, arrival time, sender, then the pending recipients; then
 *     "-- N Kbytes in M Requests." or "Mail queue is empty". Files that
 *     are incomplete or unreadable as queue files are skipped. When the
 *     caller may not read the queue (a privileged instance), it says the
 *     showq service is needed and returns EX_UNAVAILABLE.
 *   sendmail_newaliases(flags): -bi / newaliases (flags: MKMAP_F_*):
 *     rebuild every file-based table in alias_database with
 *     mkmap_newaliases, as postalias does when run as newaliases (but
 *     quietly). EX_UNAVAILABLE when a table could not be rebuilt (mkmap
 *     logged why), else 0.
 *
 * SECURITY: runs as the invoking user; queue files are parsed with the
 *   strict reader and only printed.
 * LIMITS: directory depth hash_queue_depth + 1; records SENDMAIL_Q_RECORD
 *   bytes.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "mail_queue.h"
#include "master_proto.h"
#include "mem.h"
#include "mkmap.h"
#include "msg.h"
#include "param.h"
#include "qfile.h"
#include "sendmail.h"
#include "strbuf.h"
#include "strutil.h"

#define SENDMAIL_Q_RECORD   (1024 * 1024)
#define SENDMAIL_Q_DEPTH    (MAIL_QUEUE_HASH_MAX + 1)

/* Totals of a listing. */
typedef struct mailq_totals {
    long    requests;
    long    bytes;
} mailq_totals;

/* mailq_file: print one queue file; ignore what cannot be read. */
static void mailq_file(const char *path, const char *id, int mark,
                       int need_complete, mailq_totals *tot)
{
    struct stat st;
    qfile_reader *rd;
    qfile_envelope *env;
    strbuf *err;
    char    when[32];
    time_t  t;
    size_t  i;
    int     fd;

    if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)) < 0)
        return;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)
        || (need_complete && !mail_queue_complete((int) st.st_mode))) {
        (void) close(fd);
        return;
    }
    err = strbuf_new(64);
    rd = qfile_reader_fd(fd, SENDMAIL_Q_RECORD);
    env = qfile_read_envelope(rd, QFILE_ENV_SKIP_CONTENT, err);
    if (env) {
        t = (time_t) env->arrival_sec;
        if (strftime(when, sizeof(when), "%a %b %e %H:%M:%S", localtime(&t)) == 0)
            when[0] = 0;
        if (tot->requests == 0)
            printf("-Queue ID-  --Size-- ----Arrival Time---- "
                   "-Sender/Recipient-------\n");
        printf("%-11s%c %8ld %20.20s  %s\n", id, mark ? mark : ' ',
               env->header.content_size, when,
               env->sender[0] ? env->sender : "MAILER-DAEMON");
        for (i = 0; i < env->nrcpts; i++)
            if (!env->rcpts[i].done)
                printf("%42s %s\n", "", env->rcpts[i].address);
        printf("\n");
        tot->requests++;
        tot->bytes += env->header.content_size;
        qfile_envelope_free(env);
    }
    qfile_reader_free(rd);
    strbuf_free(err);
    (void) close(fd);
}

/* mailq_dir: list a queue directory (recursing into hash levels). */
static int mailq_dir(const char *dir, int depth, int mark, int need_complete,
                     mailq_totals *tot)
{
    DIR    *dp;
    struct dirent *de;
    char   *sub;

    if ((dp = opendir(dir)) == NULL)
        return errno == ENOENT ? 0 : -1;
    while ((de = readdir(dp)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        sub = str_concat(dir, "/", de->d_name, (char *) NULL);
        if (mail_queue_id_ok(de->d_name)) {
            mailq_file(sub, de->d_name, mark, need_complete, tot);
        } else if (strlen(de->d_name) == 1 && depth < SENDMAIL_Q_DEPTH) {
            (void) mailq_dir(sub, depth + 1, mark, need_complete, tot);
        }
        mem_free(sub);
    }
    (void) closedir(dp);
    return 0;
}

/* sendmail_mailq: list the queue; exit status. */
int sendmail_mailq(void)
{
    static const struct {
        const char *name;
        int     mark;
        int     need_complete;
    } queues[] = {
        {MASTER_DIR_MAILDROP, 0, 1},
        {MASTER_DIR_INCOMING, 0, 1},
        {MASTER_DIR_ACTIVE, '*', 0},
        {MASTER_DIR_DEFERRED, 0, 0},
        {MASTER_DIR_HOLD, '!', 0},
    };
    const char *qdir = param_str(PARAM_QUEUE_DIRECTORY);
    mailq_totals tot = {0, 0};
    size_t  i;
    char   *dir;

    for (i = 0; i < sizeof(queues) / sizeof(queues[0]); i++) {
        dir = str_concat(qdir, "/", queues[i].name, (char *) NULL);
        if (access(dir, R_OK | X_OK) < 0 && errno != ENOENT) {
            mem_free(dir);
            fprintf(stderr, "mailq: the queue listing needs the showq service, "
                    "which is not available yet\n");
            return EX_UNAVAILABLE;
        }
        (void) mailq_dir(dir, 0, queues[i].mark, queues[i].need_complete, &tot);
        mem_free(dir);
    }
    if (tot.requests == 0) {
        /* Postfix prints only this line for an empty queue. */
        printf("Mail queue is empty\n");
    } else {
        printf("-- %ld Kbytes in %ld Request%s.\n", (tot.bytes + 1023) / 1024,
               tot.requests, tot.requests == 1 ? "" : "s");
    }
    return fflush(stdout) == 0 ? EX_OK : EX_IOERR;
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
