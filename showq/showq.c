/*
 * showq: the queue listing service behind postqueue -p/-j, mailq and
 * sendmail -bp.
 *
 * A mail_server in SINGLE mode (master.cf: "showq unix n - n - - showq",
 * a public socket so that unprivileged users reach it through the
 * postdrop group). It runs as mail_owner and so may read the spool that
 * its clients may not. For each client it sends, with showq_proto, one
 * record per message found in maildrop/, incoming/, active/, deferred/
 * and hold/ (in that order; hashed subdirectories included), then a
 * final status:
 *   - maildrop/ and incoming/: only complete files (owner-execute bit);
 *     files being written are left out;
 *   - queue name, ID, arrival time, size (content size from the header;
 *     the file size for maildrop files, whose header holds zeros),
 *     the forced-expiration mark (MAIL_QUEUE_MODE_EXPIRE), sender and the
 *     recipients not yet done, each with the last reason recorded for it
 *     in defer/ID (the deferral reason), when there is one;
 *   - files that vanish while the scan runs (qmgr moved them, postsuper
 *     deleted them) are skipped quietly; a file that cannot be parsed is
 *     skipped with a warning naming it (qmgr moves it to corrupt/).
 * When a queue directory cannot be read the listing ends with status 4
 * and the reason, so the client reports the failure instead of a short
 * list that looks complete.
 *
 * SECURITY: runs as mail_owner with no other privilege; clients send
 *   nothing, they only receive. Queue files (maildrop files come from
 *   users) are opened with O_NOFOLLOW|O_NONBLOCK, must be regular files
 *   and are parsed with the strict reader, content skipped. Directory
 *   entries are used only when they are valid queue IDs or one-character
 *   hash directories.
 * LIMITS: records up to SHOWQ_RECORD_MAX bytes; recipients per message
 *   SHOWQ_PROTO_RCPT_MAX (more are left out of the listing); defer log
 *   entries by bounce_log's bounds; directory depth MAIL_QUEUE_HASH_MAX;
 *   every write to the client under SHOWQ_WRITE_TIMEOUT.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "attr.h"
#include "attr_names.h"
#include "bounce_log.h"
#include "htable.h"
#include "mail_queue.h"
#include "mail_server.h"
#include "master_proto.h"
#include "mem.h"
#include "msg.h"
#include "param.h"
#include "qfile.h"
#include "showq_proto.h"
#include "stream.h"
#include "strbuf.h"
#include "strutil.h"

#define SHOWQ_RECORD_MAX    (1024 * 1024)
#define SHOWQ_WRITE_TIMEOUT 60000       /* ms */

/* One listing in progress. */
typedef struct showq_state {
    stream *client;
    int     client_gone;                /* a write failed: stop */
    strbuf *error;                      /* first directory error, if any */
} showq_state;

/* showq_reasons: recipient -> last deferral reason from defer/ID */
static htable *showq_reasons(const char *id)
{
    htable *reasons = htable_new(16);
    strbuf *err = strbuf_new(64);
    bounce_log_entry e;
    bounce_log *log;
    int     st;

    if ((log = bounce_log_open(BOUNCE_LOG_DEFER, id, err)) == NULL) {
        if (errno != ENOENT)
            msg_warn("%s: %s", id, strbuf_str(err));
        strbuf_free(err);
        return reasons;
    }
    while ((st = bounce_log_next(log, &e)) == 1) {
        if (e.recipient && e.reason)
            mem_free(htable_put(reasons, e.recipient, mem_strdup(e.reason)));
    }
    if (st < 0)
        msg_warn("%s: defer log: %s", id, bounce_log_error(log));
    bounce_log_close(log);
    strbuf_free(err);
    return reasons;
}

/* showq_free_value: htable value destructor */
static void showq_free_value(void *value)
{
    mem_free(value);
}

/* showq_file: send one queue file's record; skip what cannot be read */
static void showq_file(showq_state *st, const char *queue, const char *path,
                       const char *id)
{
    struct stat sb;
    qfile_reader *rd;
    qfile_envelope *env;
    htable *reasons = NULL;
    strbuf *err;
    showq_msg msg;
    size_t  i, n;
    int     fd;

    if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)) < 0) {
        if (errno != ENOENT)
            msg_warn("open %s: %m", path);
        return;
    }
    if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode)
        || ((strcmp(queue, MASTER_DIR_INCOMING) == 0
             || strcmp(queue, MASTER_DIR_MAILDROP) == 0)
            && !mail_queue_complete((int) sb.st_mode))) {
        (void) close(fd);
        return;
    }
    err = strbuf_new(64);
    rd = qfile_reader_fd(fd, SHOWQ_RECORD_MAX);
    if ((env = qfile_read_envelope(rd, QFILE_ENV_SKIP_CONTENT, err)) == NULL) {
        /* A file removed while we read it is no news. */
        if (sb.st_nlink > 0 && access(path, F_OK) == 0)
            msg_warn("%s: skipped in the listing: %s", path, strbuf_str(err));
        goto done;
    }
    if (strcmp(queue, MASTER_DIR_MAILDROP) != 0)
        reasons = showq_reasons(id);
    memset(&msg, 0, sizeof(msg));
    msg.queue_name = (char *) queue;
    msg.queue_id = (char *) id;
    msg.arrival_time = env->arrival_sec;
    msg.size = env->header.content_size > 0 ? env->header.content_size
        : (long) sb.st_size;
    msg.forced_expire = (sb.st_mode & MAIL_QUEUE_MODE_EXPIRE) != 0;
    msg.sender = env->sender;
    msg.rcpts = mem_calloc(env->nrcpts + 1, sizeof(*msg.rcpts));
    for (i = n = 0; i < env->nrcpts && n < SHOWQ_PROTO_RCPT_MAX; i++) {
        const qfile_rcpt *r = env->rcpts + i;

        if (r->done)
            continue;
        msg.rcpts[n].address = r->address;
        msg.rcpts[n].orig = r->orig && *r->orig ? r->orig : NULL;
        msg.rcpts[n].reason = reasons ? htable_find(reasons, r->address) : NULL;
        n++;
    }
    msg.nrcpts = n;
    if (showq_proto_put_msg(st->client, &msg) < 0)
        st->client_gone = 1;
    mem_free(msg.rcpts);
    qfile_envelope_free(env);
done:
    if (reasons)
        htable_free(reasons, showq_free_value);
    qfile_reader_free(rd);
    strbuf_free(err);
    (void) close(fd);
}

/* showq_dir: list one directory, recursing into hash subdirectories */
static void showq_dir(showq_state *st, const char *queue, const char *dir, int depth)
{
    char  **names;
    size_t  count, i;
    char   *sub;

    /* Names first: the directory changes under us while we send. */
    if ((names = mail_queue_scan(dir, depth, &count)) == NULL) {
        if (errno != ENOENT && st->error->len == 0)
            strbuf_setf(st->error, "cannot read %s: %s", dir, strerror(errno));
        return;
    }
    for (i = 0; i < count; i++) {
        if (!st->client_gone) {
            sub = str_concat(dir, "/", names[i], (char *) NULL);
            if (mail_queue_id_ok(names[i]))
                showq_file(st, queue, sub, names[i]);
            else
                showq_dir(st, queue, sub, depth + 1);
            mem_free(sub);
        }
    }
    names = mail_queue_scan_free(names, count);
}

/* showq_service: send the whole listing to one client */
static void showq_service(mail_server *srv, stream *client)
{
    static const char *const queues[] = {
        MASTER_DIR_MAILDROP, MASTER_DIR_INCOMING, MASTER_DIR_ACTIVE,
        MASTER_DIR_DEFERRED, MASTER_DIR_HOLD,
    };
    showq_state st;
    size_t  i;
    char   *dir;

    (void) srv;
    memset(&st, 0, sizeof(st));
    st.client = client;
    st.error = strbuf_new(64);
    stream_set_timeout(client, SHOWQ_WRITE_TIMEOUT);
    if (attr_send_protocol(client, ATTR_PROTO_QUEUE_LIST) < 0) {
        strbuf_free(st.error);
        return;
    }
    for (i = 0; i < sizeof(queues) / sizeof(queues[0]) && !st.client_gone; i++) {
        dir = str_concat(param_str(PARAM_QUEUE_DIRECTORY), "/", queues[i], (char *) NULL);
        showq_dir(&st, queues[i], dir, 0);
        mem_free(dir);
    }
    if (!st.client_gone) {
        if (st.error->len > 0) {
            msg_warn("%s", strbuf_str(st.error));
            (void) showq_proto_put_end(client, SHOWQ_STAT_FAIL, strbuf_str(st.error));
        } else {
            (void) showq_proto_put_end(client, SHOWQ_STAT_OK, NULL);
        }
    }
    strbuf_free(st.error);
}

/* main: hand the service to the skeleton */
int     main(int argc, char **argv)
{
    mail_server_desc desc;

    memset(&desc, 0, sizeof(desc));
    desc.name = "showq";
    desc.mode = MAIL_SERVER_SINGLE;
    desc.conn = showq_service;
    mail_server_main(argc, argv, &desc);
}
