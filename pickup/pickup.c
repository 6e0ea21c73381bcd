/*
 * pickup: move locally submitted messages from maildrop/ through cleanup.
 *
 * A mail_server in trigger mode (master.cf: "pickup unix n - n 60 1
 * pickup"). At start-up and on every trigger (any bytes: postdrop's poke
 * or master's wakeup) it scans maildrop/ and, for each file whose name is
 * a valid queue ID and whose mode carries the completion mark (postdrop
 * sets the owner-execute bit once the file is durable):
 *   - opens it with O_NOFOLLOW, checks it is a regular file, reads it
 *     with the strict queue-file parser and checks it again with
 *     maildrop_check (postdrop's rules: nothing a user wrote is trusted);
 *   - logs "ID: uid=N from=<sender>" and sends the envelope, the
 *     recipients and the content through cleanup (CLEANUP_F_LOCAL, plus
 *     CLEANUP_F_EXTRACT for sendmail -t; then cleanup extracts the header
 *     recipients itself, so the file's extracted recipients are not sent);
 *   - cleanup accepted: unlinks the maildrop file;
 *   - temporary failure (status 4, cleanup unreachable, I/O error): leaves
 *     it for the next scan and stops this scan;
 *   - permanent rejection (status 5, e.g. message too large): moves it to
 *     corrupt/ with a warning naming the reason; nothing is thrown away
 *     and the administrator sees why (local mail has no SMTP client to
 *     tell, and bouncing it would need a queue file cleanup refused);
 *   - unreadable or invalid: moves it to corrupt/ with a warning.
 * A file that postsuper -r moved here (mode bit MAIL_QUEUE_MODE_REQUEUE)
 * and that belongs to the user pickup runs as (so no local user can make
 * one: postdrop's files belong to their submitter) is a queue file, not a
 * submission: it is parsed strictly and sent to cleanup with its arrival
 * time, sender, DSN data, the attributes cleanup recorded and only the
 * recipients not yet done (pickup_requeue); canonical and virtual alias
 * maps then apply anew. Without a pending recipient it is removed.
 * Files without the completion mark are being written (or were left by a
 * postdrop that died); they are skipped, with a warning once they are
 * older than PICKUP_STALE seconds.
 *
 * SECURITY: maildrop files are written by unprivileged users (through
 *   postdrop). They are opened without following links, must be regular
 *   files, are bounded in size and parsed strictly; the uid comes from the
 *   submit_uid attribute postdrop wrote, checked for syntax.
 * LIMITS: at most PICKUP_SCAN_MAX files per scan (the next trigger or
 *   wakeup continues); files larger than 2 * message_size_limit + 1 MiB
 *   go to corrupt/; records up to PICKUP_RECORD_MAX bytes.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "attr_names.h"
#include "cleanup_client.h"
#include "maildrop.h"
#include "mail_queue.h"
#include "mail_server.h"
#include "master_proto.h"
#include "mem.h"
#include "msg.h"
#include "numparse.h"
#include "param.h"
#include "qfile.h"
#include "strbuf.h"
#include "strutil.h"

#define PICKUP_SCAN_MAX     1000        /* files per scan */
#define PICKUP_RECORD_MAX   (1024 * 1024)
#define PICKUP_STALE        3600        /* seconds before an incomplete file
                                         * draws a warning */
#define PICKUP_SLACK        (1024 * 1024)

/* Outcome of one file. */
enum pickup_result {
    PICKUP_DONE,                        /* handed to cleanup, or set aside */
    PICKUP_SKIP,                        /* not ours to take now */
    PICKUP_RETRY                        /* temporary trouble: stop the scan */
};

/* pickup_corrupt: move a maildrop file to corrupt/ with a log line. */
static void pickup_corrupt(const char *id, const char *why)
{
    strbuf *err = strbuf_new(64);

    msg_warn("%s: maildrop file moved to %s/: %s", id, MASTER_DIR_CORRUPT, why);
    if (mail_queue_rename(MASTER_DIR_MAILDROP, MASTER_DIR_CORRUPT, id, err) < 0)
        msg_warn("%s: cannot move it to %s/: %s", id, MASTER_DIR_CORRUPT,
                 strbuf_str(err));
    strbuf_free(err);
}

/* pickup_unlink: remove a maildrop file cleanup has queued; 0 or -1. */
static int pickup_unlink(const char *id)
{
    strbuf *path = strbuf_new(128);
    int     rc = 0;

    if (mail_queue_path(MASTER_DIR_MAILDROP, id, path) < 0
        || (unlink(strbuf_str(path)) < 0 && errno != ENOENT)) {
        /* The message is queued; a second pickup would duplicate it. */
        msg_error("%s: cannot remove %s after it was queued: %m", id,
                  strbuf_str(path));
        rc = -1;
    }
    strbuf_free(path);
    return rc;
}

/* pickup_send: send one checked maildrop file (requeue 0), or a queue
 * file requeued by postsuper (requeue 1: pending recipients only, the
 * extracted ones included), through cleanup. */
static enum pickup_result pickup_send(const char *id, qfile_reader *rd,
                                      const qfile_envelope *env,
                                      const struct cleanup_envelope *ce,
                                      int requeue)
{
    cleanup_client *cl;
    strbuf *err = strbuf_new(64);
    strbuf *piece = strbuf_new(256);
    strbuf *qid = strbuf_new(32);
    size_t  i;
    int     st;
    enum pickup_result result = PICKUP_RETRY;

    if ((cl = cleanup_open(err)) == NULL) {
        msg_warn("%s: cannot reach cleanup: %s; will try again", id,
                 strbuf_str(err));
        goto done;
    }
    if (cleanup_envelope(cl, ce) < 0)
        goto io_error;
    for (i = 0; i < env->nrcpts; i++) {
        const qfile_rcpt *r = env->rcpts + i;

        if (requeue ? r->done : r->extracted)   /* cleanup extracts them again */
            continue;
        if (cleanup_recipient(cl, r->address, r->orig, r->orcpt, r->notify) < 0)
            goto io_error;
    }
    if (qfile_content_start(rd, env, err) < 0) {
        pickup_corrupt(id, strbuf_str(err));
        result = PICKUP_DONE;
        goto done;
    }
    while ((st = qfile_content_next(rd, piece, err)) != QFILE_CONTENT_END) {
        if (st < 0) {
            pickup_corrupt(id, strbuf_str(err));
            result = PICKUP_DONE;
            goto done;
        }
        if (st == QFILE_CONTENT_LINE && strbuf_putc(piece, '\n') < 0) {
            pickup_corrupt(id, "content line too long");
            result = PICKUP_DONE;
            goto done;
        }
        if (cleanup_content(cl, piece->data, piece->len) < 0)
            goto io_error;
    }
    strbuf_reset(err);
    st = cleanup_finish(cl, qid, err);
    if (st == CLEANUP_STAT_OK) {
        if (requeue)
            msg_info("%s: requeued as %s", id, strbuf_str(qid));
        (void) pickup_unlink(id);
        result = PICKUP_DONE;
    } else if (st == CLEANUP_STAT_REJECT) {
        strbuf *why = strbuf_new(64);

        (void) strbuf_printf(why, "rejected by cleanup: %s", strbuf_str(err));
        pickup_corrupt(id, strbuf_str(why));
        strbuf_free(why);
        result = PICKUP_DONE;
    } else {
        msg_warn("%s: cleanup deferred the message: %s; will try again", id,
                 st < 0 ? "lost connection with cleanup" : strbuf_str(err));
    }
    goto done;
io_error:
    msg_warn("%s: lost connection with cleanup; will try again", id);
done:
    if (cl)
        cleanup_close(cl);
    strbuf_free(err);
    strbuf_free(piece);
    strbuf_free(qid);
    return result;
}

/* pickup_requeue: feed a queue file that postsuper -r put into maildrop/
 * to cleanup again: arrival time, sender, DSN data, the attributes
 * cleanup wrote (client, full name, encoding, submitter) and the pending
 * recipients are kept, so only the rewriting is done anew. */
static enum pickup_result pickup_requeue(const char *id, qfile_reader *rd)
{
    struct cleanup_envelope ce;
    qfile_envelope *env;
    strbuf *err = strbuf_new(64);
    const char *uid;
    enum pickup_result result = PICKUP_DONE;

    if ((env = qfile_read_envelope(rd, 0, err)) == NULL) {
        pickup_corrupt(id, strbuf_str(err));
        strbuf_free(err);
        return PICKUP_DONE;
    }
    if (env->ndone >= env->nrcpts) {
        msg_info("%s: requeued message has no pending recipient; removed", id);
        (void) pickup_unlink(id);
        goto done;
    }
    msg_info("%s: requeue from=<%s>", id, env->sender);
    memset(&ce, 0, sizeof(ce));
    ce.sender = env->sender;
    ce.full_name = qfile_envelope_attr(env, ATTR_NAME_FULL_NAME);
    ce.envelope_id = env->envid;
    ce.ret_flags = env->ret == QFILE_RET_FULL ? "FULL"
        : env->ret == QFILE_RET_HDRS ? "HDRS" : NULL;
    ce.smtputf8 = (env->header.flags & QFILE_FLAG_SMTPUTF8) != 0;
    ce.encoding = qfile_envelope_attr(env, ATTR_NAME_ENCODING);
    ce.client_name = qfile_envelope_attr(env, ATTR_NAME_CLIENT_NAME);
    ce.client_address = qfile_envelope_attr(env, ATTR_NAME_CLIENT_ADDR);
    ce.client_protocol = qfile_envelope_attr(env, ATTR_NAME_CLIENT_PROTO);
    ce.helo_name = qfile_envelope_attr(env, ATTR_NAME_HELO_NAME);
    ce.log_ident = id;
    ce.submit_uid = -1;
    if ((uid = qfile_envelope_attr(env, ATTR_NAME_SUBMIT_UID)) != NULL
        && num_parse_long(uid, 0, MAILDROP_UID_MAX, &ce.submit_uid) < 0)
        ce.submit_uid = -1;
    ce.arrival_time = env->arrival_sec;
    result = pickup_send(id, rd, env, &ce, 1);
done:
    qfile_envelope_free(env);
    strbuf_free(err);
    return result;
}

/* pickup_file: take one maildrop file; see the header comment. */
static enum pickup_result pickup_file(const char *id, size_t max_size)
{
    strbuf *path = strbuf_new(128);
    strbuf *err = strbuf_new(64);
    qfile_reader *rd = NULL;
    qfile_envelope *env = NULL;
    maildrop_info info;
    struct cleanup_envelope ce;
    struct stat st;
    int     fd = -1;
    enum pickup_result result = PICKUP_SKIP;

    if (mail_queue_path(MASTER_DIR_MAILDROP, id, path) < 0)
        goto done;
    /* A file postdrop is still writing belongs to the submitter with mode
     * 0600: skip it by its mode rather than fail to open it. */
    if (lstat(strbuf_str(path), &st) == 0 && S_ISREG(st.st_mode)
        && !mail_queue_complete((int) st.st_mode)) {
        if (time(NULL) - st.st_mtime > PICKUP_STALE)
            msg_warn("%s: maildrop file still incomplete after %ld seconds; "
                     "left alone", id, (long) (time(NULL) - st.st_mtime));
        goto done;
    }
    if ((fd = open(strbuf_str(path), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)) < 0) {
        if (errno == ELOOP) {
            pickup_corrupt(id, "symbolic link");
            result = PICKUP_DONE;
        } else if (errno != ENOENT) {
            msg_warn("%s: open %s: %m", id, strbuf_str(path));
        }
        goto done;
    }
    if (fstat(fd, &st) < 0) {
        msg_warn("%s: fstat %s: %m", id, strbuf_str(path));
        goto done;
    }
    if (!S_ISREG(st.st_mode)) {
        pickup_corrupt(id, "not a regular file");
        result = PICKUP_DONE;
        goto done;
    }
    if (!mail_queue_complete((int) st.st_mode)) {
        if (time(NULL) - st.st_mtime > PICKUP_STALE)
            msg_warn("%s: maildrop file still incomplete after %ld seconds; "
                     "left alone", id, (long) (time(NULL) - st.st_mtime));
        goto done;
    }
    if ((size_t) st.st_size > max_size) {
        pickup_corrupt(id, "file larger than the maildrop limit");
        result = PICKUP_DONE;
        goto done;
    }
    rd = qfile_reader_fd(fd, PICKUP_RECORD_MAX);
    if (st.st_uid == geteuid() && (st.st_mode & MAIL_QUEUE_MODE_REQUEUE)) {
        result = pickup_requeue(id, rd);
        goto done;
    }
    if ((env = qfile_read_envelope(rd, 0, err)) == NULL
        || maildrop_check(env, &info, err) < 0) {
        pickup_corrupt(id, strbuf_str(err));
        result = PICKUP_DONE;
        goto done;
    }
    msg_info("%s: uid=%ld from=<%s>", id, info.submit_uid, env->sender);
    memset(&ce, 0, sizeof(ce));
    ce.flags = CLEANUP_F_LOCAL
        | ((info.flags & MAILDROP_F_EXTRACT) ? CLEANUP_F_EXTRACT : 0);
    ce.sender = env->sender;
    ce.full_name = info.full_name;
    ce.envelope_id = env->envid;
    ce.ret_flags = env->ret == QFILE_RET_FULL ? "FULL"
        : env->ret == QFILE_RET_HDRS ? "HDRS" : NULL;
    ce.encoding = info.encoding;
    ce.log_ident = id;
    ce.submit_uid = info.submit_uid;
    ce.arrival_time = env->arrival_sec;
    result = pickup_send(id, rd, env, &ce, 0);
done:
    if (env)
        qfile_envelope_free(env);
    if (rd)
        qfile_reader_free(rd);
    if (fd >= 0)
        (void) close(fd);
    strbuf_free(path);
    strbuf_free(err);
    return result;
}

/* pickup_scan: take up to PICKUP_SCAN_MAX complete files from maildrop/. */
static void pickup_scan(void)
{
    char   *dir = str_concat(param_str(PARAM_QUEUE_DIRECTORY), "/",
                             MASTER_DIR_MAILDROP, (char *) NULL);
    long    limit = param_size(PARAM_MESSAGE_SIZE_LIMIT);
    size_t  max_size = limit > 0 && limit < (1L << 30)
        ? (size_t) limit * 2 + PICKUP_SLACK : (size_t) 1 << 31;
    char  **names = NULL;
    size_t  count = 0, i;
    struct dirent *de;
    DIR    *dp;

    /* Read the names first: the loop renames and unlinks entries. */
    if ((dp = opendir(dir)) == NULL) {
        msg_warn("open directory %s: %m", dir);
        mem_free(dir);
        return;
    }
    while (count < PICKUP_SCAN_MAX && (de = readdir(dp)) != NULL) {
        if (!mail_queue_id_ok(de->d_name))
            continue;
        names = mem_realloc(names, (count + 1) * sizeof(*names));
        names[count++] = mem_strdup(de->d_name);
    }
    (void) closedir(dp);
    for (i = 0; i < count; i++) {
        if (pickup_file(names[i], max_size) == PICKUP_RETRY)
            break;
    }
    for (i = 0; i < count; i++)
        mem_free(names[i]);
    mem_free(names);
    mem_free(dir);
}

/* pickup_trigger: any trigger means "scan maildrop/". */
static void pickup_trigger(mail_server *srv, const char *buf, size_t len)
{
    (void) srv;
    (void) buf;
    (void) len;
    pickup_scan();
}

/* pickup_post_init: pick up what waited while the system was down. */
static void pickup_post_init(mail_server *srv)
{
    (void) srv;
    pickup_scan();
}

/* main: hand the service to the skeleton. */
int     main(int argc, char **argv)
{
    mail_server_desc desc;

    memset(&desc, 0, sizeof(desc));
    desc.name = "pickup";
    desc.mode = MAIL_SERVER_TRIGGER;
    desc.flags = MAIL_SERVER_F_SETGID_GROUP;
    desc.post_init = pickup_post_init;
    desc.trigger = pickup_trigger;
    mail_server_main(argc, argv, &desc);
}
