/*
 * cleanup_client: the client side of the cleanup protocol (see
 * cleanup_client.h for the conversation).
 *
 * cleanup_open(err)
 *     Connects to $queue_directory/public/cleanup (or, when that fails
 *     and it exists, to public/cleanup relative to the current directory,
 *     as in a chroot jail at the spool), sets the stream
 *     timeout to ipc_timeout and checks the server's protocol message.
 *     Returns a client, or NULL with err set (the caller treats that as a
 *     temporary failure).
 * cleanup_open_stream(s, err)
 *     The same on a stream the caller connected (tests, socketpairs); the
 *     client owns s from then on, also when NULL is returned.
 * cleanup_envelope(cl, env)
 *     Records the envelope (copied; env may go away). Call it once,
 *     before any recipient or content. 0, or -1 on misuse (called twice).
 * cleanup_recipient(cl, rcpt, orig, orcpt, notify)
 *     Queues one recipient (copied); orig/orcpt may be NULL, notify 0 =
 *     none. Allowed until the first cleanup_content call. 0 or -1.
 * cleanup_content(cl, bytes, len)
 *     Appends message content (LF line ends, no dot stuffing). The first
 *     call sends envelope and recipients; content goes out in chunks of
 *     CLEANUP_CHUNK_MAX bytes. 0, or -1 on I/O error (sticky).
 * cleanup_finish(cl, queue_id, reason)
 *     Sends what is left and the end marker, reads the reply. Returns
 *     0 (queue_id set), 4 or 5 (reason set, starting with an enhanced
 *     status code), or -1 on an I/O or protocol error (reason set; treat
 *     as temporary). queue_id and reason may be NULL.
 * cleanup_close(cl): closes the connection, frees cl; returns NULL.
 *
 * SECURITY: the reply comes from another process: it is read with
 * bounds and checked with attr_scan (the queue ID with mail_queue_id_ok).
 *
 * LIMITS: reply CLEANUP_REPLY_MAX bytes; content chunks of
 * CLEANUP_CHUNK_MAX bytes; the server enforces message limits.
 */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "attr.h"
#include "attr_names.h"
#include "cleanup_client.h"
#include "mail_queue.h"
#include "mem.h"
#include "param.h"
#include "strbuf.h"
#include "strutil.h"

#define CLEANUP_REPLY_MAX   4096
#define CLEANUP_RCPT_GROW   16

struct cleanup_client {
    stream *s;
    attr_list *env;                     /* envelope, NULL until given */
    attr_list **rcpts;                  /* queued recipients */
    size_t  nrcpts;
    strbuf *chunk;                      /* content not yet sent */
    int     sent_envelope;              /* envelope + recipients are out */
    int     error;                      /* sticky I/O error */
    strbuf *why;                        /* text of the error */
};

static const attr_limits cleanup_reply_limits = {
    8, CLEANUP_REPLY_MAX, CLEANUP_REPLY_MAX
};

/* cleanup_connect: connect to a UNIX socket; fd or -1 with err */
static int cleanup_connect(const char *path, strbuf *err)
{
    struct sockaddr_un sun;
    int     fd;

    memset(&sun, 0, sizeof(sun));
    sun.sun_family = AF_UNIX;
    if (str_copy(sun.sun_path, sizeof(sun.sun_path), path) < 0) {
        strbuf_setf(err, "socket path too long: %s", path);
        return -1;
    }
    if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0) {
        strbuf_setf(err, "socket: %s", strerror(errno));
        return -1;
    }
    /* A UNIX stream connect completes or fails at once (or blocks only
     * while the backlog is full; the master keeps it short). */
    if (connect(fd, (struct sockaddr *) &sun, sizeof(sun)) < 0) {
        strbuf_setf(err, "connect to %s: %s", path, strerror(errno));
        (void) close(fd);
        return -1;
    }
    return fd;
}

/* cleanup_open_stream: start a conversation on a connected stream */
cleanup_client *cleanup_open_stream(stream *s, strbuf *err)
{
    cleanup_client *cl;

    if (attr_expect_protocol(s, ATTR_PROTO_CLEANUP, err) < 0) {
        (void) stream_close(s);
        return NULL;
    }
    cl = mem_calloc(1, sizeof(*cl));
    cl->s = s;
    cl->chunk = strbuf_new(CLEANUP_CHUNK_MAX);
    cl->why = strbuf_new(64);
    return cl;
}

/* cleanup_open: connect to the cleanup service */
cleanup_client *cleanup_open(strbuf *err)
{
    strbuf *path = strbuf_new(64);
    stream *s;
    long    timeout;
    int     fd;

    strbuf_setf(path, "%s/%s", param_str(PARAM_QUEUE_DIRECTORY), CLEANUP_SERVICE);
    fd = cleanup_connect(strbuf_str(path), err);
    /* In a chroot jail the spool is the current directory. */
    if (fd < 0 && access(CLEANUP_SERVICE, F_OK) == 0)
        fd = cleanup_connect(CLEANUP_SERVICE, err);
    strbuf_free(path);
    if (fd < 0)
        return NULL;
    s = stream_fdopen(fd, STREAM_F_RDWR);
    timeout = param_time(PARAM_IPC_TIMEOUT);
    stream_set_timeout(s, timeout > INT_MAX / 1000 ? INT_MAX : (int) timeout * 1000);
    return cleanup_open_stream(s, err);
}

/* cleanup_add_opt: add a string attribute when it is not NULL */
static void cleanup_add_opt(attr_list *list, const char *name, const char *value)
{
    if (value != NULL)
        attr_list_add_str(list, name, value);
}

/* cleanup_envelope: record the envelope */
int     cleanup_envelope(cleanup_client *cl, const struct cleanup_envelope *env)
{
    attr_list *l;

    if (cl->env != NULL || cl->sent_envelope) {
        strbuf_setf(cl->why, "cleanup_envelope called twice");
        return -1;
    }
    l = cl->env = attr_list_new();
    attr_list_add_long(l, ATTR_NAME_FLAGS, env->flags);
    attr_list_add_str(l, ATTR_NAME_SENDER, env->sender != NULL ? env->sender : "");
    cleanup_add_opt(l, ATTR_NAME_FULL_NAME, env->full_name);
    cleanup_add_opt(l, ATTR_NAME_ENVELOPE_ID, env->envelope_id);
    cleanup_add_opt(l, ATTR_NAME_RET_FLAGS, env->ret_flags);
    if (env->smtputf8)
        attr_list_add_long(l, ATTR_NAME_SMTPUTF8, 1);
    cleanup_add_opt(l, ATTR_NAME_ENCODING, env->encoding);
    cleanup_add_opt(l, ATTR_NAME_CLIENT_NAME, env->client_name);
    cleanup_add_opt(l, ATTR_NAME_CLIENT_ADDR, env->client_address);
    cleanup_add_opt(l, ATTR_NAME_CLIENT_PROTO, env->client_protocol);
    cleanup_add_opt(l, ATTR_NAME_HELO_NAME, env->helo_name);
    cleanup_add_opt(l, ATTR_NAME_LOG_IDENT, env->log_ident);
    cleanup_add_opt(l, ATTR_NAME_TLS_SUMMARY, env->tls_summary);
    cleanup_add_opt(l, ATTR_NAME_SASL_USERNAME, env->sasl_username);
    if (env->submit_uid >= 0)
        attr_list_add_long(l, ATTR_NAME_SUBMIT_UID, env->submit_uid);
    if (env->arrival_time > 0)
        attr_list_add_long(l, ATTR_NAME_ARRIVAL_TIME, env->arrival_time);
    return 0;
}

/* cleanup_recipient: queue one recipient */
int     cleanup_recipient(cleanup_client *cl, const char *rcpt,
                                  const char *orig, const char *orcpt, int notify)
{
    attr_list *l;

    if (cl->sent_envelope || rcpt == NULL) {
        strbuf_setf(cl->why, "cleanup_recipient after content");
        return -1;
    }
    if (cl->nrcpts % CLEANUP_RCPT_GROW == 0)
        cl->rcpts = mem_realloc(cl->rcpts, (cl->nrcpts + CLEANUP_RCPT_GROW)
                                * sizeof(*cl->rcpts));
    l = cl->rcpts[cl->nrcpts++] = attr_list_new();
    attr_list_add_str(l, ATTR_NAME_RECIPIENT, rcpt);
    cleanup_add_opt(l, ATTR_NAME_ORIGINAL_RCPT, orig);
    cleanup_add_opt(l, ATTR_NAME_DSN_ORCPT, orcpt);
    if (notify > 0)
        attr_list_add_long(l, ATTR_NAME_NOTIFY_FLAGS, notify);
    return 0;
}

/* cleanup_fail: make an I/O error sticky */
static int cleanup_fail(cleanup_client *cl, const char *what)
{
    if (!cl->error)
        strbuf_setf(cl->why, "%s: %s", what,
                    stream_timed_out(cl->s) ? "timeout" : "lost connection");
    cl->error = 1;
    return -1;
}

/* cleanup_send_head: send envelope and recipients once */
static int cleanup_send_head(cleanup_client *cl)
{
    size_t  i;

    if (cl->error)
        return -1;
    if (cl->sent_envelope)
        return 0;
    if (cl->env == NULL) {
        strbuf_setf(cl->why, "no envelope given");
        cl->error = 1;
        return -1;
    }
    cl->sent_envelope = 1;
    attr_list_add_long(cl->env, ATTR_NAME_RCPT_COUNT, (long) cl->nrcpts);
    if (attr_write(cl->s, cl->env) < 0)
        return cleanup_fail(cl, "send envelope to cleanup");
    for (i = 0; i < cl->nrcpts; i++)
        if (attr_write(cl->s, cl->rcpts[i]) < 0)
            return cleanup_fail(cl, "send recipient to cleanup");
    return 0;
}

/* cleanup_send_chunk: send the buffered content as one chunk */
static int cleanup_send_chunk(cleanup_client *cl)
{
    attr_list *l;
    int     ret;

    if (cl->chunk->len == 0)
        return 0;
    l = attr_list_new();
    attr_list_add_long(l, ATTR_NAME_SIZE, (long) cl->chunk->len);
    ret = attr_write(cl->s, l);
    attr_list_free(l);
    if (ret < 0 || stream_write(cl->s, cl->chunk->data, cl->chunk->len) < 0)
        return cleanup_fail(cl, "send content to cleanup");
    strbuf_reset(cl->chunk);
    return 0;
}

/* cleanup_content: append message content */
int     cleanup_content(cleanup_client *cl, const char *bytes, size_t len)
{
    size_t  room;

    if (cleanup_send_head(cl) < 0)
        return -1;
    while (len > 0) {
        room = CLEANUP_CHUNK_MAX - cl->chunk->len;
        if (room > len)
            room = len;
        strbuf_append(cl->chunk, bytes, room);
        bytes += room;
        len -= room;
        if (cl->chunk->len == CLEANUP_CHUNK_MAX && cleanup_send_chunk(cl) < 0)
            return -1;
    }
    return 0;
}

/* cleanup_finish: end the message and read the verdict */
int     cleanup_finish(cleanup_client *cl, strbuf *queue_id, strbuf *reason)
{
    attr_list *l;
    strbuf *err;
    const char *id = NULL;
    const char *text = NULL;
    long    status = -1;
    int     ret = -1;
    attr_spec specs[] = {
        ATTR_SPEC_LONG(ATTR_NAME_STATUS, 1, 0, 5, &status),
        ATTR_SPEC_STR(ATTR_NAME_QUEUE_ID, 0, &id),
        ATTR_SPEC_STR(ATTR_NAME_REASON, 0, &text),
    };

    if (cleanup_send_head(cl) < 0 || cleanup_send_chunk(cl) < 0) {
        if (reason != NULL)
            strbuf_setf(reason, "4.3.0 %s", strbuf_str(cl->why));
        return -1;
    }
    l = attr_list_new();
    err = strbuf_new(64);
    attr_list_add_long(l, ATTR_NAME_SIZE, 0);
    if (attr_write(cl->s, l) < 0) {
        cleanup_fail(cl, "send content end to cleanup");
        strbuf_setf(err, "%s", strbuf_str(cl->why));
    } else if (attr_read(cl->s, &cleanup_reply_limits, l, err) < 0) {
        cl->error = 1;
        strbuf_printf(err, " (reading cleanup reply)");
    } else if (attr_scan(l, specs, (int) (sizeof(specs) / sizeof(specs[0])), err) < 0) {
        cl->error = 1;
    } else if (status == 0 && !mail_queue_id_ok(id)) {
        strbuf_setf(err, "cleanup reply without a valid queue ID");
    } else if (status != 0 && status != 4 && status != 5) {
        strbuf_setf(err, "cleanup reply with bad status %ld", status);
    } else {
        ret = (int) status;
        if (status == 0 && queue_id != NULL)
            strbuf_setf(queue_id, "%s", id);
        if (status != 0 && reason != NULL)
            strbuf_setf(reason, "%s", text != NULL ? text
                        : status == 4 ? "4.3.0 cleanup failed" : "5.3.0 rejected");
    }
    if (ret < 0 && reason != NULL)
        strbuf_setf(reason, "4.3.0 %s", strbuf_str(err));
    attr_list_free(l);
    strbuf_free(err);
    return ret;
}

/* cleanup_close: close the connection and free the client */
cleanup_client *cleanup_close(cleanup_client *cl)
{
    size_t  i;

    if (cl == NULL)
        return NULL;
    (void) stream_close(cl->s);
    attr_list_free(cl->env);
    for (i = 0; i < cl->nrcpts; i++)
        attr_list_free(cl->rcpts[i]);
    mem_free(cl->rcpts);
    strbuf_free(cl->chunk);
    strbuf_free(cl->why);
    mem_free(cl);
    return NULL;
}
