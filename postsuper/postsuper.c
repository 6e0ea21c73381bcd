/*
 * postsuper: queue maintenance for the administrator.
 *
 *   postsuper [-psSv] [-c config_dir] [-d id|ALL|-] [-h id|ALL|-]
 *             [-H id|ALL|-] [-r id|ALL|-] [-e id|ALL|-] [-f id|ALL|-]
 *             [queue ...]
 *
 * Options may be repeated; the operations run in this order: -s
 * (structure check), -p (purge leftovers), -d, -h, -H, -r, -e/-f, -S.
 * Trailing queue names (maildrop, incoming, active, deferred, hold)
 * restrict -d, -h, -r and -e/-f to those queues; each operation has
 * Postfix's default set otherwise (see postsuper(1)). "ALL" means every
 * message in those queues, "-" reads queue IDs from standard input (the
 * first word of each line, a trailing '*' or '!' from a mailq listing
 * dropped). Counts go to standard error as Postfix prints them
 * ("postsuper: Deleted: 3 messages"); with -v each message is named.
 *
 * Who may run it: root, or, in an unprivileged instance, the owner of
 * queue_directory. As root it first becomes mail_owner for good
 * (recip_priv_drop), so everything it creates in the spool belongs to
 * the mail system.
 *
 * Running while the mail system works: every change is one rename(2),
 * unlink(2), chmod or utimes of a queue file, each atomic. No lock is
 * taken: qmgr keeps the files of active/ open and tolerates files that
 * vanish or move under it (it drops what it had in memory for them and
 * checks that its file still exists before moving or bouncing it). A
 * recipient being delivered at that very moment is marked done in the
 * same inode wherever the file went, so holding, deleting and expiring
 * lose nothing; requeueing (or expiring) a message while qmgr delivers
 * it can repeat a delivery in progress, as in Postfix. Files in
 * incoming/ and maildrop/ without the completion mark are being written
 * and are never touched, except by -p once they are older than
 * MAIL_QUEUE_PURGE_AGE and nobody holds a lock on them.
 *
 *   -d  unlink the queue file and its defer/ and bounce/ logs.
 *   -h  rename into hold/ (never from maildrop/: those files are
 *       submissions that only pickup may take).
 *   -H  rename hold/ -> deferred/, due now.
 *   -r  mark (MAIL_QUEUE_MODE_REQUEUE) and rename into maildrop/, drop
 *       the logs, poke pickup: pickup feeds it to cleanup again with its
 *       arrival time, sender, DSN data and pending recipients, so
 *       canonical and virtual alias maps apply anew.
 *   -e  set MAIL_QUEUE_MODE_EXPIRE (qmgr bounces the message when it
 *       next activates it), make deferred ones due, poke qmgr.
 *       -f  the same, and held messages are released first.
 *   -s  move files that sit in the wrong (hashed) subdirectory; rename
 *       files whose name does not end in their inode number (a restored
 *       spool) to a fresh ID, logs included; report corrupt/.
 *   -p  remove incomplete files left by crashes (see above), and
 *       mail_queue_create temporaries (tmp.*) as old.
 *   -S  print how many messages each queue holds.
 *
 * Exit status: 0; 1 when some operation failed (the reason was printed);
 * 64 (EX_USAGE) for a bad command line; 77 (EX_NOPERM) when not allowed.
 *
 * SECURITY: IDs from the command line and standard input are checked
 *   with mail_queue_id_ok before they become paths; directory entries
 *   likewise. Files are never followed through symbolic links.
 * LIMITS: standard input lines up to POSTSUPER_LINE_MAX bytes; hash
 *   directory depth MAIL_QUEUE_HASH_MAX.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "bounce_log.h"
#include "mail_queue.h"
#include "master_proto.h"
#include "mem.h"
#include "msg.h"
#include "param.h"
#include "recip_priv.h"
#include "stream.h"
#include "strbuf.h"
#include "strutil.h"
#include "trigger.h"

#define POSTSUPER_LINE_MAX  1024

/* Operations, in the order they run. */
enum postsuper_op {
    OP_DELETE, OP_HOLD, OP_RELEASE, OP_REQUEUE, OP_EXPIRE, OP_EXPIRE_RELEASE,
    OP_COUNT
};

/* Queue bits. */
#define Q_MAILDROP  (1 << 0)
#define Q_INCOMING  (1 << 1)
#define Q_ACTIVE    (1 << 2)
#define Q_DEFERRED  (1 << 3)
#define Q_HOLD      (1 << 4)

static const struct {
    const char *name;
    int     bit;
} postsuper_queues[] = {
    {MASTER_DIR_MAILDROP, Q_MAILDROP},
    {MASTER_DIR_INCOMING, Q_INCOMING},
    {MASTER_DIR_ACTIVE, Q_ACTIVE},
    {MASTER_DIR_DEFERRED, Q_DEFERRED},
    {MASTER_DIR_HOLD, Q_HOLD},
};

#define POSTSUPER_NQUEUES (sizeof(postsuper_queues) / sizeof(postsuper_queues[0]))

/* Default queues and the count wording of each operation. */
static const struct {
    int     queues;
    const char *done;                   /* "Deleted" */
} postsuper_ops[OP_COUNT] = {
    {Q_HOLD | Q_INCOMING | Q_ACTIVE | Q_DEFERRED, "Deleted"},
    {Q_INCOMING | Q_ACTIVE | Q_DEFERRED, "Placed on hold"},
    {Q_HOLD, "Released from hold"},
    {Q_HOLD | Q_INCOMING | Q_ACTIVE | Q_DEFERRED, "Requeued"},
    {Q_HOLD | Q_INCOMING | Q_ACTIVE | Q_DEFERRED, "Expired"},
    {Q_HOLD | Q_INCOMING | Q_ACTIVE | Q_DEFERRED, "Expired"},
};

/* One operation from the command line. */
typedef struct postsuper_req {
    enum postsuper_op op;
    const char *arg;                    /* ID, "ALL" or "-" */
} postsuper_req;

/* The run's state. */
typedef struct postsuper_state {
    long    counts[OP_COUNT];
    long    released_by_expire;
    int     poke_qmgr;                  /* trigger bytes needed */
    int     poke_pickup;
    int     failed;
} postsuper_state;

/* usage: print the usage line and exit EX_USAGE */
static void __attribute__((noreturn)) usage(void)
{
    fprintf(stderr, "usage: postsuper [-psSv] [-c config_dir] [-d queue_id|ALL|-] "
            "[-h queue_id|ALL|-] [-H queue_id|ALL|-] [-r queue_id|ALL|-] "
            "[-e queue_id|ALL|-] [-f queue_id|ALL|-] [queue ...]\n");
    exit(EX_USAGE);
}

/* postsuper_path: path of queue/id */
static void postsuper_path(const char *queue, const char *id, strbuf *path)
{
    if (mail_queue_path(queue, id, path) < 0)
        msg_panic("postsuper_path: unchecked queue ID");
}

/* postsuper_incomplete: 1 when a file in incoming/ or maildrop/ is still
 * being written (no completion mark), or cannot be examined */
static int postsuper_incomplete(const char *queue, const char *path)
{
    struct stat st;

    if (strcmp(queue, MASTER_DIR_INCOMING) != 0 && strcmp(queue, MASTER_DIR_MAILDROP) != 0)
        return 0;
    if (lstat(path, &st) < 0)
        return 1;
    return !S_ISREG(st.st_mode) || !mail_queue_complete((int) st.st_mode);
}

/* postsuper_due: set a file's modification time (qmgr's retry time) to
 * one second ago; 0 or -1 */
static int postsuper_due(const char *path)
{
    struct timeval tv[2];

    gettimeofday(&tv[0], NULL);
    tv[0].tv_sec -= 1;
    tv[0].tv_usec = 0;
    tv[1] = tv[0];
    return utimes(path, tv);
}

/* postsuper_logs: remove the defer/ and bounce/ logs of id */
static void postsuper_logs(const char *id)
{
    if (bounce_log_remove(BOUNCE_LOG_DEFER, id) < 0)
        msg_warn("%s: cannot remove its %s log: %m", id, BOUNCE_LOG_DEFER);
    if (bounce_log_remove(BOUNCE_LOG_BOUNCE, id) < 0)
        msg_warn("%s: cannot remove its %s log: %m", id, BOUNCE_LOG_BOUNCE);
}

/* postsuper_move: rename queue/id to to/id; 1 done, 0 not there, -1 */
static int postsuper_move(const char *queue, const char *to, const char *id)
{
    strbuf *err = strbuf_new(64);
    int     rc = 1;

    if (mail_queue_rename(queue, to, id, err) < 0) {
        if (errno == ENOENT) {
            rc = 0;
        } else {
            msg_warn("%s: %s", id, strbuf_str(err));
            rc = -1;
        }
    }
    strbuf_free(err);
    return rc;
}

/* postsuper_expire_file: set the expire bit on queue/id; 1, 0, -1 */
static int postsuper_expire_file(const char *path, const char *id)
{
    struct stat st;
    int     fd;

    if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)) < 0) {
        if (errno == ENOENT)
            return 0;
        msg_warn("%s: open %s: %m", id, path);
        return -1;
    }
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)
        || fchmod(fd, (st.st_mode & 07777) | MAIL_QUEUE_MODE_EXPIRE) < 0) {
        msg_warn("%s: cannot mark %s for expiration: %m", id, path);
        (void) close(fd);
        return -1;
    }
    (void) close(fd);
    return 1;
}

/* postsuper_one: apply op to queue/id; 1 done, 0 not there, -1 failed */
static int postsuper_one(postsuper_state *ps, enum postsuper_op op,
                         const char *queue, const char *id)
{
    strbuf *path = strbuf_new(128);
    struct stat st;
    int     rc = 0;

    postsuper_path(queue, id, path);
    if (postsuper_incomplete(queue, strbuf_str(path)))
        goto done;
    switch (op) {
    case OP_DELETE:
        if (unlink(strbuf_str(path)) == 0) {
            postsuper_logs(id);
            rc = 1;
        } else if (errno != ENOENT) {
            msg_warn("%s: remove %s: %m", id, strbuf_str(path));
            rc = -1;
        }
        break;
    case OP_HOLD:
        /* maildrop/ files are submissions, not queue files: pickup only. */
        if (strcmp(queue, MASTER_DIR_HOLD) != 0 && strcmp(queue, MASTER_DIR_MAILDROP) != 0)
            rc = postsuper_move(queue, MASTER_DIR_HOLD, id);
        break;
    case OP_RELEASE:
        if (strcmp(queue, MASTER_DIR_HOLD) != 0)
            break;
        if ((rc = postsuper_move(queue, MASTER_DIR_DEFERRED, id)) == 1) {
            postsuper_path(MASTER_DIR_DEFERRED, id, path);
            (void) postsuper_due(strbuf_str(path));
            ps->poke_qmgr = 1;
        }
        break;
    case OP_REQUEUE:
        if (strcmp(queue, MASTER_DIR_MAILDROP) == 0)
            break;
        /* Mark first: pickup must never see an unmarked queue file. */
        if (lstat(strbuf_str(path), &st) < 0) {
            if (errno != ENOENT) {
                msg_warn("%s: %s: %m", id, strbuf_str(path));
                rc = -1;
            }
            break;
        }
        if (!S_ISREG(st.st_mode))
            break;
        if (chmod(strbuf_str(path), MAIL_QUEUE_MODE_DONE | MAIL_QUEUE_MODE_REQUEUE) < 0) {
            rc = errno == ENOENT ? 0 : -1;
            if (rc < 0)
                msg_warn("%s: chmod %s: %m", id, strbuf_str(path));
            break;
        }
        if ((rc = postsuper_move(queue, MASTER_DIR_MAILDROP, id)) == 1) {
            postsuper_logs(id);
            ps->poke_pickup = 1;
        }
        break;
    case OP_EXPIRE:
    case OP_EXPIRE_RELEASE:
        if (strcmp(queue, MASTER_DIR_MAILDROP) == 0)   /* not a queue file yet */
            break;
        if ((rc = postsuper_expire_file(strbuf_str(path), id)) != 1)
            break;
        ps->poke_qmgr = 1;
        if (strcmp(queue, MASTER_DIR_HOLD) == 0 && op == OP_EXPIRE_RELEASE) {
            if (postsuper_move(queue, MASTER_DIR_DEFERRED, id) == 1) {
                ps->released_by_expire++;
                postsuper_path(MASTER_DIR_DEFERRED, id, path);
                (void) postsuper_due(strbuf_str(path));
            }
        } else if (strcmp(queue, MASTER_DIR_DEFERRED) == 0) {
            (void) postsuper_due(strbuf_str(path));
        }
        break;
    default:
        msg_panic("postsuper_one: bad operation %d", (int) op);
    }
    if (rc == 1 && msg_verbose)
        msg_info("%s: %s (%s)", id, postsuper_ops[op].done, queue);
done:
    strbuf_free(path);
    return rc;
}

/* postsuper_id: apply op to one ID in every selected queue */
static void postsuper_id(postsuper_state *ps, enum postsuper_op op, int queues,
                         const char *id)
{
    size_t  i;
    int     rc;

    if (!mail_queue_id_ok(id)) {
        msg_warn("invalid mail queue id: %s", id);
        ps->failed = 1;
        return;
    }
    for (i = 0; i < POSTSUPER_NQUEUES; i++) {
        if (!(queues & postsuper_queues[i].bit))
            continue;
        rc = postsuper_one(ps, op, postsuper_queues[i].name, id);
        if (rc > 0)
            ps->counts[op]++;
        else if (rc < 0)
            ps->failed = 1;
    }
}

/* postsuper_list: the queue IDs in a directory tree (sorted names) */
static void postsuper_list(const char *dir, int depth, char ***ids, size_t *count)
{
    struct dirent *de;
    char   *sub;
    DIR    *dp;

    if ((dp = opendir(dir)) == NULL) {
        if (errno != ENOENT)
            msg_warn("open directory %s: %m", dir);
        return;
    }
    while ((de = readdir(dp)) != NULL) {
        if (mail_queue_id_ok(de->d_name)) {
            *ids = mem_realloc(*ids, (*count + 1) * sizeof(**ids));
            (*ids)[(*count)++] = mem_strdup(de->d_name);
        } else if (strlen(de->d_name) == 1 && de->d_name[0] != '.'
                   && depth < MAIL_QUEUE_HASH_MAX) {
            sub = str_concat(dir, "/", de->d_name, (char *) NULL);
            postsuper_list(sub, depth + 1, ids, count);
            mem_free(sub);
        }
    }
    (void) closedir(dp);
}

/* postsuper_all: apply op to every message in the selected queues */
static void postsuper_all(postsuper_state *ps, enum postsuper_op op, int queues)
{
    char  **ids;
    size_t  count, i, q;
    char   *dir;
    int     rc;

    for (q = 0; q < POSTSUPER_NQUEUES; q++) {
        if (!(queues & postsuper_queues[q].bit))
            continue;
        ids = NULL;
        count = 0;
        dir = str_concat(param_str(PARAM_QUEUE_DIRECTORY), "/",
                         postsuper_queues[q].name, (char *) NULL);
        postsuper_list(dir, 0, &ids, &count);
        mem_free(dir);
        for (i = 0; i < count; i++) {
            rc = postsuper_one(ps, op, postsuper_queues[q].name, ids[i]);
            if (rc > 0)
                ps->counts[op]++;
            else if (rc < 0)
                ps->failed = 1;
            mem_free(ids[i]);
        }
        mem_free(ids);
    }
}

/* postsuper_stdin: apply op to each queue ID read from standard input */
static void postsuper_stdin(postsuper_state *ps, enum postsuper_op op, int queues)
{
    stream *in = stream_fdopen(0, STREAM_F_READ | STREAM_F_NOCLOSE);
    strbuf *line = strbuf_new(128);
    enum stream_status st;
    char   *cursor, *word;
    size_t  len;

    while ((st = stream_get_line(in, line, POSTSUPER_LINE_MAX)) == STREAM_OK) {
        cursor = line->data;
        if ((word = str_token(&cursor, " \t\r\n")) == NULL)
            continue;
        len = strlen(word);
        if (len > 0 && (word[len - 1] == '*' || word[len - 1] == '!'))
            word[len - 1] = 0;
        postsuper_id(ps, op, queues, word);
    }
    if (st != STREAM_EOF) {
        msg_warn("standard input: %s", stream_status_str(st));
        ps->failed = 1;
    }
    strbuf_free(line);
    (void) stream_close(in);
}

/* postsuper_report: print the count of one operation */
static void postsuper_report(const char *what, long n)
{
    if (n > 0)
        msg_info("%s: %ld message%s", what, n, n == 1 ? "" : "s");
}

/* postsuper_new_id: the short ID for a file with inode ino, keeping the
 * time digits of the old name */
static void postsuper_new_id(const char *old, unsigned long ino, strbuf *id)
{
    strbuf_setf(id, "%.5s%lX", old, ino);
}

/* postsuper_fix_file: give queue/.../name (at path) a name matching its
 * inode and the right hashed directory; counts what it did */
static void postsuper_fix_file(postsuper_state *ps, const char *queue,
                               const char *path, const char *name, long *fixed)
{
    strbuf *want = strbuf_new(128);
    strbuf *id = strbuf_new(32);
    strbuf *err = strbuf_new(64);
    struct stat st;
    int     log_queue = strcmp(queue, BOUNCE_LOG_DEFER) == 0
        || strcmp(queue, BOUNCE_LOG_BOUNCE) == 0;

    if (lstat(path, &st) < 0 || !S_ISREG(st.st_mode)
        || postsuper_incomplete(queue, path))   /* being written: not ours */
        goto done;
    strbuf_setf(id, "%s", name);
    /* Message files are named after their inode (logs after their
     * message, which the message queues fix). */
    if (!log_queue && strcmp(queue, MASTER_DIR_MAILDROP) != 0) {
        postsuper_new_id(name, (unsigned long) st.st_ino, id);
        if (strcmp(strbuf_str(id), name) != 0)
            msg_warn("%s: queue file name does not match its inode number; "
                     "renaming to %s", name, strbuf_str(id));
    }
    if (!mail_queue_id_ok(strbuf_str(id)))
        goto done;
    postsuper_path(queue, strbuf_str(id), want);
    if (strcmp(strbuf_str(want), path) == 0)
        goto done;
    if (mail_queue_mkdirs(queue, strbuf_str(id), err) < 0) {
        msg_warn("%s: %s", name, strbuf_str(err));
        ps->failed = 1;
        goto done;
    }
    /* link+unlink: never replace a file that has the wanted name. */
    if (link(path, strbuf_str(want)) < 0) {
        msg_warn("%s: cannot move %s to %s: %m", name, path, strbuf_str(want));
        ps->failed = 1;
        goto done;
    }
    if (unlink(path) < 0)
        msg_warn("%s: remove %s: %m", name, path);
    if (strcmp(strbuf_str(id), name) != 0) {
        static const char *const logs[] = {BOUNCE_LOG_DEFER, BOUNCE_LOG_BOUNCE};
        strbuf *from = strbuf_new(64);
        strbuf *to = strbuf_new(64);
        size_t  i;

        for (i = 0; i < 2; i++) {
            postsuper_path(logs[i], name, from);
            postsuper_path(logs[i], strbuf_str(id), to);
            if (access(strbuf_str(from), F_OK) == 0
                && (mail_queue_mkdirs(logs[i], strbuf_str(id), err) < 0
                    || rename(strbuf_str(from), strbuf_str(to)) < 0))
                msg_warn("%s: cannot rename its %s log: %m", name, logs[i]);
        }
        strbuf_free(from);
        strbuf_free(to);
    } else if (msg_verbose) {
        msg_info("%s: moved to %s", name, strbuf_str(want));
    }
    (*fixed)++;
done:
    strbuf_free(want);
    strbuf_free(id);
    strbuf_free(err);
}

/* postsuper_walk: -s for one directory tree */
static void postsuper_walk(postsuper_state *ps, const char *queue, const char *dir,
                           int depth, long *fixed)
{
    struct dirent *de;
    char  **names = NULL;
    size_t  count = 0, i;
    struct stat st;
    char   *sub;
    DIR    *dp;

    if ((dp = opendir(dir)) == NULL) {
        if (errno != ENOENT) {
            msg_warn("open directory %s: %m", dir);
            ps->failed = 1;
        }
        return;
    }
    while ((de = readdir(dp)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        names = mem_realloc(names, (count + 1) * sizeof(*names));
        names[count++] = mem_strdup(de->d_name);
    }
    (void) closedir(dp);
    for (i = 0; i < count; i++) {
        sub = str_concat(dir, "/", names[i], (char *) NULL);
        if (lstat(sub, &st) == 0) {
            if (S_ISDIR(st.st_mode) && strlen(names[i]) == 1 && depth < MAIL_QUEUE_HASH_MAX)
                postsuper_walk(ps, queue, sub, depth + 1, fixed);
            else if (S_ISREG(st.st_mode) && mail_queue_id_ok(names[i]))
                postsuper_fix_file(ps, queue, sub, names[i], fixed);
            else if (strncmp(names[i], "tmp.", 4) != 0)
                msg_warn("%s: unexpected entry in the %s queue; left alone", sub, queue);
        }
        mem_free(sub);
        mem_free(names[i]);
    }
    mem_free(names);
}

/* postsuper_structure: -s */
static void postsuper_structure(postsuper_state *ps)
{
    static const char *const queues[] = {
        MASTER_DIR_MAILDROP, MASTER_DIR_INCOMING, MASTER_DIR_ACTIVE,
        MASTER_DIR_DEFERRED, MASTER_DIR_HOLD, MASTER_DIR_DEFER, MASTER_DIR_BOUNCE,
    };
    char  **ids = NULL;
    size_t  i, count = 0;
    long    fixed = 0;
    char   *dir;

    for (i = 0; i < sizeof(queues) / sizeof(queues[0]); i++) {
        dir = str_concat(param_str(PARAM_QUEUE_DIRECTORY), "/", queues[i], (char *) NULL);
        postsuper_walk(ps, queues[i], dir, 0, &fixed);
        mem_free(dir);
    }
    if (fixed > 0)
        msg_info("Repaired: %ld file%s moved or renamed", fixed, fixed == 1 ? "" : "s");
    dir = str_concat(param_str(PARAM_QUEUE_DIRECTORY), "/", MASTER_DIR_CORRUPT, (char *) NULL);
    postsuper_list(dir, 0, &ids, &count);
    if (count > 0)
        msg_warn("%lu message%s in %s/ (set aside as unreadable): inspect them with "
                 "postcat, then delete them by hand", (unsigned long) count,
                 count == 1 ? "" : "s", dir);
    for (i = 0; i < count; i++)
        mem_free(ids[i]);
    mem_free(ids);
    mem_free(dir);
}

/* postsuper_purge_dir: -p for one directory (no hash levels: incoming
 * and maildrop are not hashed) */
static long postsuper_purge_dir(const char *queue)
{
    char   *dir = str_concat(param_str(PARAM_QUEUE_DIRECTORY), "/", queue, (char *) NULL);
    time_t  now = time(NULL);
    struct dirent *de;
    struct stat st;
    long    purged = 0;
    char   *path;
    DIR    *dp;
    int     fd;

    if ((dp = opendir(dir)) == NULL) {
        if (errno != ENOENT)
            msg_warn("open directory %s: %m", dir);
        mem_free(dir);
        return 0;
    }
    while ((de = readdir(dp)) != NULL) {
        if (!mail_queue_id_ok(de->d_name) && strncmp(de->d_name, "tmp.", 4) != 0)
            continue;
        path = str_concat(dir, "/", de->d_name, (char *) NULL);
        if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)) >= 0) {
            /* Old, incomplete, and nobody holds a lock on it. */
            if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode)
                && !mail_queue_complete((int) st.st_mode)
                && now - st.st_mtime > MAIL_QUEUE_PURGE_AGE
                && flock(fd, LOCK_EX | LOCK_NB) == 0) {
                if (unlink(path) == 0) {
                    purged++;
                    msg_info("%s: removed incomplete file left over in %s/",
                             de->d_name, queue);
                } else {
                    msg_warn("remove %s: %m", path);
                }
            }
            (void) close(fd);
        }
        mem_free(path);
    }
    (void) closedir(dp);
    mem_free(dir);
    return purged;
}

/* postsuper_stats: -S: messages per queue, on standard output */
static void postsuper_stats(void)
{
    static const char *const queues[] = {
        MASTER_DIR_MAILDROP, MASTER_DIR_INCOMING, MASTER_DIR_ACTIVE,
        MASTER_DIR_DEFERRED, MASTER_DIR_HOLD, MASTER_DIR_CORRUPT,
    };
    char  **ids;
    size_t  i, j, count;
    char   *dir;

    for (i = 0; i < sizeof(queues) / sizeof(queues[0]); i++) {
        ids = NULL;
        count = 0;
        dir = str_concat(param_str(PARAM_QUEUE_DIRECTORY), "/", queues[i], (char *) NULL);
        postsuper_list(dir, 0, &ids, &count);
        printf("%-9s %lu\n", queues[i], (unsigned long) count);
        for (j = 0; j < count; j++)
            mem_free(ids[j]);
        mem_free(ids);
        mem_free(dir);
    }
    (void) fflush(stdout);
}

/* postsuper_become_owner: allow root and the spool's owner; as root,
 * become mail_owner */
static void postsuper_become_owner(void)
{
    const char *qdir = param_str(PARAM_QUEUE_DIRECTORY);
    recip_priv_id id;
    strbuf *err = strbuf_new(64);
    struct stat st;

    if (stat(qdir, &st) < 0) {
        fprintf(stderr, "postsuper: fatal: queue directory %s: %s\n", qdir,
                strerror(errno));
        exit(EX_UNAVAILABLE);
    }
    if (getuid() != 0) {
        if (getuid() != st.st_uid || geteuid() != st.st_uid) {
            fprintf(stderr, "postsuper: fatal: only the superuser may run postsuper "
                    "(or, for an unprivileged instance, the owner of %s)\n", qdir);
            exit(EX_NOPERM);
        }
        strbuf_free(err);
        return;
    }
    if (recip_priv_lookup(param_str(PARAM_MAIL_OWNER), &id, err) != 0
        || recip_priv_drop(&id, err) < 0) {
        fprintf(stderr, "postsuper: fatal: cannot become mail_owner %s: %s\n",
                param_str(PARAM_MAIL_OWNER), err->len ? strbuf_str(err) : "no such user");
        exit(EX_UNAVAILABLE);
    }
    strbuf_free(err);
}

/* postsuper_queue_bit: the bit of a queue name, or 0 */
static int postsuper_queue_bit(const char *name)
{
    size_t  i;

    for (i = 0; i < POSTSUPER_NQUEUES; i++)
        if (strcmp(postsuper_queues[i].name, name) == 0)
            return postsuper_queues[i].bit;
    return 0;
}

/* main: parse the command line and run the operations */
int     main(int argc, char **argv)
{
    postsuper_req *reqs = NULL;
    size_t  nreqs = 0, i;
    const char *cli_dir = NULL;
    postsuper_state ps;
    strbuf *err = strbuf_new(128);
    int     ch, structure = 0, purge = 0, stats = 0, queues = 0, bit, op, stdin_used = 0;
    long    purged;

    memset(&ps, 0, sizeof(ps));
    msg_init("postsuper", MSG_F_STDERR);
    while ((ch = getopt(argc, argv, "c:d:e:f:h:H:pr:sSv")) != -1) {
        switch (ch) {
        case 'c':
            cli_dir = optarg;
            continue;
        case 'p':
            purge = 1;
            continue;
        case 's':
            structure = 1;
            continue;
        case 'S':
            stats = 1;
            continue;
        case 'v':
            msg_verbose++;
            continue;
        case 'd':
            op = OP_DELETE;
            break;
        case 'h':
            op = OP_HOLD;
            break;
        case 'H':
            op = OP_RELEASE;
            break;
        case 'r':
            op = OP_REQUEUE;
            break;
        case 'e':
            op = OP_EXPIRE;
            break;
        case 'f':
            op = OP_EXPIRE_RELEASE;
            break;
        default:
            usage();
        }
        if (strcmp(optarg, "-") == 0 && stdin_used++) {
            fprintf(stderr, "postsuper: \"-\" (standard input) may be given once\n");
            usage();
        }
        if (strcmp(optarg, "-") != 0 && strcmp(optarg, "ALL") != 0
            && !mail_queue_id_ok(optarg)) {
            fprintf(stderr, "postsuper: invalid mail queue id: %s\n", optarg);
            usage();
        }
        reqs = mem_realloc(reqs, (nreqs + 1) * sizeof(*reqs));
        reqs[nreqs].op = (enum postsuper_op) op;
        reqs[nreqs].arg = optarg;
        nreqs++;
    }
    for (; optind < argc; optind++) {
        if ((bit = postsuper_queue_bit(argv[optind])) == 0) {
            fprintf(stderr, "postsuper: unknown queue: %s\n", argv[optind]);
            usage();
        }
        queues |= bit;
    }
    if (nreqs == 0 && !structure && !purge && !stats)
        usage();
    if (param_load(param_config_dir(cli_dir), err) < 0) {
        fprintf(stderr, "postsuper: fatal: %s\n", strbuf_str(err));
        return EX_TEMPFAIL;
    }
    postsuper_become_owner();

    if (structure)
        postsuper_structure(&ps);
    if (purge) {
        purged = postsuper_purge_dir(MASTER_DIR_INCOMING)
            + postsuper_purge_dir(MASTER_DIR_MAILDROP);
        if (purged > 0)
            msg_info("Purged: %ld file%s", purged, purged == 1 ? "" : "s");
    }
    for (op = 0; op < OP_COUNT; op++) {
        for (i = 0; i < nreqs; i++) {
            int     q;

            if ((int) reqs[i].op != op)
                continue;
            q = queues ? queues : postsuper_ops[op].queues;
            if (strcmp(reqs[i].arg, "ALL") == 0)
                postsuper_all(&ps, (enum postsuper_op) op, q);
            else if (strcmp(reqs[i].arg, "-") == 0)
                postsuper_stdin(&ps, (enum postsuper_op) op, q);
            else
                postsuper_id(&ps, (enum postsuper_op) op, q, reqs[i].arg);
        }
    }
    postsuper_report(postsuper_ops[OP_DELETE].done, ps.counts[OP_DELETE]);
    postsuper_report(postsuper_ops[OP_HOLD].done, ps.counts[OP_HOLD]);
    postsuper_report(postsuper_ops[OP_RELEASE].done,
                     ps.counts[OP_RELEASE] + ps.released_by_expire);
    postsuper_report(postsuper_ops[OP_REQUEUE].done, ps.counts[OP_REQUEUE]);
    postsuper_report(postsuper_ops[OP_EXPIRE].done,
                     ps.counts[OP_EXPIRE] + ps.counts[OP_EXPIRE_RELEASE]);
    if (stats)
        postsuper_stats();

    /* Wake the services up; a missed poke is caught by their timers. */
    if (ps.poke_pickup) {
        char    b = TRIGGER_WAKEUP;

        (void) trigger_send(TRIGGER_PICKUP_PATH, &b, 1, TRIGGER_TIMEOUT_MS);
    }
    if (ps.poke_qmgr) {
        static const char b[] = {TRIGGER_INCOMING, TRIGGER_DEFERRED};

        (void) trigger_send(TRIGGER_QMGR_PATH, b, sizeof(b), TRIGGER_TIMEOUT_MS);
    }
    mem_free(reqs);
    strbuf_free(err);
    return ps.failed ? 1 : 0;
}
