/*
 * cleanup_out: write the queue file for one submission.
 *
 * cleanup_out(st)
 *     Creates a new file in incoming/, or in hold/ when the envelope
 *     has CLEANUP_F_HOLD (mail_queue_create: mode 0600,
 *     named after its queue ID), builds the final header block
 *     (cleanup_header_build, which needs the ID), writes header record,
 *     arrival time, sender, attributes (client_name, client_address,
 *     client_protocol, helo_name, log_ident, submit_uid, full_name,
 *     encoding), DSN envelope data, the delay warning time (W record,
 *     arrival + delay_warning_time, only when that is not 0),
 *     recipients and content, updates the
 *     header record, then fchmod 0700 (the completion mark), fsync and
 *     close, in that order. Only then it logs "ID: message-id=<...>",
 *     triggers qmgr ('I' on public/qmgr; a failure is ignored, the
 *     wakeup timer catches it) and returns 0 with st->queue_id set. A
 *     held message is logged "ID: held" instead and qmgr is not
 *     triggered (it never scans hold/). On
 *     any failure the file is removed, the state fails with status 4
 *     and -1 is returned.
 *
 * SECURITY: runs as mail_owner; writes only below incoming/ and hold/. Values
 * that break the queue file's rules are refused by the qfile writer
 * (then status 4 here, never a bad file).
 *
 * LIMITS: queue file records of at most CLEANUP_RECORD_MAX bytes; lines
 * longer than line_length_limit are stored as several pieces.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "attr_names.h"
#include "cleanup.h"
#include "cleanup_client.h"
#include "mail_queue.h"
#include "master_proto.h"
#include "msg.h"
#include "param.h"
#include "qfile.h"
#include "stream.h"
#include "strbuf.h"
#include "trigger.h"

#define CLEANUP_RECORD_MAX  (64 * 1024)

/* cleanup_out_attr: an optional 'A' record */
static int cleanup_out_attr(qfile_writer *w, const char *name, const char *value)
{
    return value != NULL ? qfile_put_attr(w, name, value) : 0;
}

/* cleanup_out_records: everything but the header update */
static int cleanup_out_records(cleanup_state *st, qfile_writer *w,
                               struct timeval *tv, qfile_header *hdr)
{
    const char *body = st->content->data + st->body_offset;
    size_t  body_len = st->content->len - st->body_offset;
    long    piece = param_int(PARAM_LINE_LENGTH_LIMIT);
    long    warn_delay = param_time(PARAM_DELAY_WARNING_TIME);
    long    flags = 0;
    strbuf *uid = strbuf_new(16);
    size_t  i;
    int     rc = -1;

    if (piece <= 0 || piece > CLEANUP_RECORD_MAX)
        piece = CLEANUP_RECORD_MAX;
    if (st->smtputf8)
        flags |= QFILE_FLAG_SMTPUTF8;
    if (st->encoding != NULL && strcmp(st->encoding, "8bit") == 0)
        flags |= QFILE_FLAG_8BITMIME;
    if (st->submit_uid >= 0)
        strbuf_setf(uid, "%ld", st->submit_uid);
    if (qfile_put_header(w, flags) < 0
        || qfile_put_time(w, st->arrival_time > 0 ? st->arrival_time : (long) tv->tv_sec,
                          st->arrival_time > 0 ? 0 : (long) tv->tv_usec) < 0
        || qfile_put_sender(w, st->sender) < 0
        || cleanup_out_attr(w, ATTR_NAME_CLIENT_NAME, st->client_name) < 0
        || cleanup_out_attr(w, ATTR_NAME_CLIENT_ADDR, st->client_addr) < 0
        || cleanup_out_attr(w, ATTR_NAME_CLIENT_PROTO, st->client_proto) < 0
        || cleanup_out_attr(w, ATTR_NAME_HELO_NAME, st->helo_name) < 0
        || cleanup_out_attr(w, ATTR_NAME_LOG_IDENT, st->log_ident) < 0
        || cleanup_out_attr(w, ATTR_NAME_FULL_NAME, st->full_name) < 0
        || cleanup_out_attr(w, ATTR_NAME_ENCODING, st->encoding) < 0
        || (st->submit_uid >= 0
            && qfile_put_attr(w, ATTR_NAME_SUBMIT_UID, strbuf_str(uid)) < 0)
        || (st->envid != NULL && qfile_put_envid(w, st->envid) < 0)
        || (st->ret != NULL
            && qfile_put_ret(w, strcmp(st->ret, "HDRS") == 0
                             ? QFILE_RET_HDRS : QFILE_RET_FULL) < 0))
        goto done;
    /* Delay warning time: qmgr asks bounce for a "delayed" notice once it
     * has passed and then rewrites it to 0 in place (qfile_update_warn). */
    if (warn_delay > 0
        && qfile_put_warn(w, (st->arrival_time > 0 ? st->arrival_time
                              : (long) tv->tv_sec) + warn_delay) < 0)
        goto done;
    for (i = 0; i < st->nrcpts; i++)
        if (qfile_put_rcpt(w, st->rcpts[i].addr, st->rcpts[i].orig,
                           st->rcpts[i].orcpt, st->rcpts[i].notify) < 0)
            goto done;
    if (qfile_put_content_start(w) < 0
        || qfile_put_text(w, st->headers->data, st->headers->len, (size_t) piece) < 0
        || qfile_put_line(w, "", 0, (size_t) piece) < 0
        || (body_len > 0 && qfile_put_text(w, body, body_len, (size_t) piece) < 0)
        || qfile_finish(w, hdr) < 0)
        goto done;
    rc = 0;
done:
    strbuf_free(uid);
    return rc;
}

/* cleanup_out: write, complete and announce the queue file */
int     cleanup_out(cleanup_state *st)
{
    strbuf *path = strbuf_new(64);
    strbuf *err = strbuf_new(64);
    qfile_writer *w;
    qfile_header hdr;
    struct timeval tv;
    stream *s;
    int     fd;
    int     hold = (st->flags & CLEANUP_F_HOLD) != 0;
    int     rc = -1;

    if (mail_queue_create(hold ? MASTER_DIR_HOLD : MASTER_DIR_INCOMING,
                          st->queue_id, path, &fd, err) < 0) {
        msg_warn("cannot create queue file: %s", strbuf_str(err));
        cleanup_state_fail(st, 4, "4.3.0 cannot create queue file");
        goto done;
    }
    gettimeofday(&tv, NULL);
    cleanup_header_build(st, (long) tv.tv_sec);
    s = stream_fdopen(fd, STREAM_F_RDWR | STREAM_F_NOCLOSE);
    w = qfile_writer_new(s, CLEANUP_RECORD_MAX);
    if (cleanup_out_records(st, w, &tv, &hdr) < 0) {
        const char *why = qfile_writer_error(w);

        msg_warn("%s: cannot write queue file %s: %s", strbuf_str(st->queue_id),
                 strbuf_str(path), why ? why : strerror(errno));
        cleanup_state_fail(st, 4, "4.3.0 cannot write queue file");
    } else if (qfile_update_header(fd, &hdr) < 0
               || fchmod(fd, MAIL_QUEUE_MODE_DONE) < 0 || fsync(fd) < 0) {
        msg_warn("%s: cannot complete queue file %s: %m",
                 strbuf_str(st->queue_id), strbuf_str(path));
        cleanup_state_fail(st, 4, "4.3.0 cannot write queue file");
    } else {
        rc = 0;
    }
    qfile_writer_free(w);
    (void) stream_close(s);
    if (close(fd) < 0 && rc == 0) {
        msg_warn("%s: close queue file %s: %m", strbuf_str(st->queue_id),
                 strbuf_str(path));
        cleanup_state_fail(st, 4, "4.3.0 cannot write queue file");
        rc = -1;
    }
    if (rc < 0) {
        (void) unlink(strbuf_str(path));
        goto done;
    }
    msg_info("%s: message-id=%s", strbuf_str(st->queue_id),
             st->message_id != NULL ? st->message_id : "");
    if (hold)
        msg_info("%s: held", strbuf_str(st->queue_id));
    else
        (void) trigger_send(TRIGGER_QMGR_PATH, "I", 1, TRIGGER_TIMEOUT_MS);
done:
    strbuf_free(path);
    strbuf_free(err);
    return rc;
}
