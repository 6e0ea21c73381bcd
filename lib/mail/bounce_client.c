/*
 * bounce_client: the bounce protocol (qmgr -> bounce daemon), both sides.
 *
 * Public functions:
 *   bounce_request(queue_name, id, sender, envid, ret, flags, reason):
 *     connect to BOUNCE_SERVICE below queue_directory, check the
 *     protocol, send request=bounce for message ID in queue_name with the
 *     envelope sender ("" = null sender), DSN ENVID (NULL = none), RET
 *     (enum qfile_ret: QFILE_RET_NONE, _FULL, _HDRS) and flags
 *     (BOUNCE_F_*), and read the reply. Every wait is bounded by
 *     ipc_timeout. Returns BOUNCE_STAT_OK (0) when the bounce daemon has
 *     done the job, or BOUNCE_STAT_DEFER (4) with reason set (connection
 *     refused, timeout, protocol error, or the daemon's own reason):
 *     the caller keeps the message and asks again later. reason may be
 *     NULL; the caller owns it.
 *   bounce_request_stream(s, ...): the same over a stream the caller
 *     opened (and closes); the timeout is the stream's.
 *   bounce_delay_request(...), bounce_delay_request_stream(s, ...): the
 *     same with request=delay: a delay warning about the recipients
 *     logged in defer/ID (same arguments, same results).
 *   bounce_request_read(s, list, req, err): server side: read one
 *     request into list (caller-owned, reused) and fill req with
 *     pointers into it (request is "bounce" or "delay"). Returns 0, or
 *     -1 with err saying what is wrong
 *     (I/O, timeout, malformed, unknown/missing/repeated attribute, a
 *     queue name or ID that is not a plain name, bad ret_flags).
 *   bounce_reply(s, status, reason): server side: send status= and,
 *     when reason is not NULL, reason=. 0, or -1 on a write error.
 *
 * SECURITY: both directions cross a process boundary. The server checks
 * every field before anyone uses it to build a path: queue names are
 * plain lower-case words and IDs are checked with mail_queue_id_ok, so no
 * "/" or ".." can reach the file system. The client trusts nothing in the
 * reply but status 0; anything else, even garbage, means "defer", so a
 * broken bounce daemon can delay mail but never make qmgr drop it.
 * LIMITS: messages are at most BOUNCE_MSG_MAX encoded bytes with at most
 * BOUNCE_ATTR_MAX attributes and BOUNCE_VALUE_MAX bytes per value;
 * connection and every read/write bounded by ipc_timeout.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "attr.h"
#include "attr_names.h"
#include "bounce_client.h"
#include "mail_queue.h"
#include "param.h"
#include "qfile.h"
#include "strbuf.h"
#include "stream.h"
#include "strutil.h"

#define BOUNCE_ATTR_MAX     16          /* attributes per message */
#define BOUNCE_VALUE_MAX    4096        /* bytes per value (addresses) */
#define BOUNCE_MSG_MAX      16384       /* encoded bytes per message */
#define BOUNCE_QNAME_MAX    32          /* longest queue name */

static const attr_limits bounce_limits = {
    BOUNCE_ATTR_MAX, BOUNCE_VALUE_MAX, BOUNCE_MSG_MAX
};

/* bounce_set_reason: store prefix + text as the reason, when wanted */
static void bounce_set_reason(strbuf *reason, const char *prefix, const char *text)
{
    if (reason != NULL)
        strbuf_setf(reason, "%s%s", prefix, text);
}

/* bounce_connect: connect to a UNIX socket within timeout_ms; fd or -1 */
static int bounce_connect(const char *path, int timeout_ms, strbuf *err)
{
    struct sockaddr_un sun;
    struct pollfd pfd;
    socklen_t len;
    int     fd;
    int     soerr;
    int     flags;

    memset(&sun, 0, sizeof(sun));
    sun.sun_family = AF_UNIX;
    if (str_copy(sun.sun_path, sizeof(sun.sun_path), path) < 0) {
        strbuf_setf(err, "socket path too long: %s", path);
        return (-1);
    }
    if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)) < 0) {
        strbuf_setf(err, "socket: %s", strerror(errno));
        return (-1);
    }
    if (connect(fd, (struct sockaddr *) &sun, sizeof(sun)) < 0) {
        if (errno != EINPROGRESS && errno != EAGAIN) {
            strbuf_setf(err, "connect to %s: %s", path, strerror(errno));
            close(fd);
            return (-1);
        }
        pfd.fd = fd;
        pfd.events = POLLOUT;
        pfd.revents = 0;
        if (poll(&pfd, 1, timeout_ms) <= 0) {
            strbuf_setf(err, "connect to %s: timed out", path);
            close(fd);
            return (-1);
        }
        soerr = 0;
        len = sizeof(soerr);
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) < 0 || soerr != 0) {
            strbuf_setf(err, "connect to %s: %s", path, strerror(soerr ? soerr : errno));
            close(fd);
            return (-1);
        }
    }
    /* The stream layer does its own polling; give it a blocking fd. */
    if ((flags = fcntl(fd, F_GETFL)) >= 0)
        (void) fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
    return (fd);
}

/* bounce_ret_word: the ret_flags word for an enum qfile_ret, or NULL */
static const char *bounce_ret_word(int ret)
{
    switch (ret) {
    case QFILE_RET_FULL:
        return (BOUNCE_RET_FULL);
    case QFILE_RET_HDRS:
        return (BOUNCE_RET_HDRS);
    default:
        return (NULL);
    }
}

/* bounce_send_stream: send one request of either kind on s, read the reply */
static int bounce_send_stream(stream *s, const char *request,
                              const char *queue_name, const char *id,
                              const char *sender, const char *envid, int ret,
                              int flags, strbuf *reason)
{
    attr_list *list = attr_list_new();
    strbuf *err = strbuf_new(100);
    const char *word;
    const char *why = NULL;
    long    status = -1;
    int     result = BOUNCE_STAT_DEFER;
    attr_spec specs[] = {
        ATTR_SPEC_LONG(ATTR_NAME_STATUS, 1, 0, 9, &status),
        ATTR_SPEC_STR(ATTR_NAME_REASON, 0, &why),
    };

    if (attr_expect_protocol(s, ATTR_PROTO_BOUNCE, err) < 0) {
        bounce_set_reason(reason, "4.3.0 bounce service: ", strbuf_str(err));
        goto done;
    }
    attr_list_add_str(list, ATTR_NAME_REQUEST, request);
    attr_list_add_str(list, ATTR_NAME_QUEUE_NAME, queue_name);
    attr_list_add_str(list, ATTR_NAME_QUEUE_ID, id);
    attr_list_add_str(list, ATTR_NAME_SENDER, sender ? sender : "");
    if (envid != NULL)
        attr_list_add_str(list, ATTR_NAME_ENVELOPE_ID, envid);
    if ((word = bounce_ret_word(ret)) != NULL)
        attr_list_add_str(list, ATTR_NAME_RET_FLAGS, word);
    attr_list_add_long(list, ATTR_NAME_FLAGS, flags);
    if (attr_write(s, list) < 0) {
        bounce_set_reason(reason, "4.3.0 bounce service: write error: ",
                          stream_timed_out(s) ? "timeout" : strerror(errno));
        goto done;
    }
    attr_list_reset(list);
    if (attr_read(s, &bounce_limits, list, err) < 0
        || attr_scan(list, specs, (int) (sizeof(specs) / sizeof(specs[0])), err) < 0) {
        bounce_set_reason(reason, "4.3.0 bounce service: ", strbuf_str(err));
        goto done;
    }
    if (status == BOUNCE_STAT_OK) {
        result = BOUNCE_STAT_OK;
    } else {
        /* Anything but success is temporary from the client's view. */
        bounce_set_reason(reason, "", why && *why ? why :
                          "4.3.0 bounce service failed");
    }

done:
    attr_list_free(list);
    strbuf_free(err);
    return (result);
}

/* bounce_request_stream: request=bounce on s */
int     bounce_request_stream(stream *s, const char *queue_name,
                              const char *id, const char *sender,
                              const char *envid, int ret, int flags,
                              strbuf *reason)
{
    return (bounce_send_stream(s, BOUNCE_REQ_BOUNCE, queue_name, id, sender,
                               envid, ret, flags, reason));
}

/* bounce_delay_request_stream: request=delay on s */
int     bounce_delay_request_stream(stream *s, const char *queue_name,
                                    const char *id, const char *sender,
                                    const char *envid, int ret, int flags,
                                    strbuf *reason)
{
    return (bounce_send_stream(s, BOUNCE_REQ_DELAY, queue_name, id, sender,
                               envid, ret, flags, reason));
}

/* bounce_send: connect to the bounce service and send one request */
static int bounce_send(const char *request, const char *queue_name,
                       const char *id, const char *sender, const char *envid,
                       int ret, int flags, strbuf *reason)
{
    strbuf *path = strbuf_new(100);
    strbuf *err = strbuf_new(100);
    const char *qdir = param_str(PARAM_QUEUE_DIRECTORY);
    long    timeout = param_time(PARAM_IPC_TIMEOUT);
    int     timeout_ms;
    int     fd;
    int     result = BOUNCE_STAT_DEFER;
    stream *s;

    if (timeout <= 0 || timeout > 86400)
        timeout = 3600;
    timeout_ms = (int) timeout * 1000;
    strbuf_setf(path, "%s/%s", qdir, BOUNCE_SERVICE);
    if ((fd = bounce_connect(strbuf_str(path), timeout_ms, err)) < 0) {
        bounce_set_reason(reason, "4.3.0 bounce service unavailable: ",
                          strbuf_str(err));
    } else {
        s = stream_fdopen(fd, STREAM_F_RDWR);
        stream_set_timeout(s, timeout_ms);
        result = bounce_send_stream(s, request, queue_name, id, sender,
                                    envid, ret, flags, reason);
        stream_close(s);
    }
    strbuf_free(path);
    strbuf_free(err);
    return (result);
}

/* bounce_request: request=bounce (non-delivery notice) */
int     bounce_request(const char *queue_name, const char *id,
                       const char *sender, const char *envid, int ret,
                       int flags, strbuf *reason)
{
    return (bounce_send(BOUNCE_REQ_BOUNCE, queue_name, id, sender, envid, ret,
                        flags, reason));
}

/* bounce_delay_request: request=delay (delay warning) */
int     bounce_delay_request(const char *queue_name, const char *id,
                             const char *sender, const char *envid, int ret,
                             int flags, strbuf *reason)
{
    return (bounce_send(BOUNCE_REQ_DELAY, queue_name, id, sender, envid, ret,
                        flags, reason));
}

/* bounce_qname_ok: 1 when name is a plain lower-case queue name */
static int bounce_qname_ok(const char *name)
{
    size_t  len = strlen(name);

    if (len == 0 || len > BOUNCE_QNAME_MAX)
        return (0);
    return (strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789") == len);
}

/* bounce_request_read: read and check one request (server side) */
int     bounce_request_read(stream *s, attr_list *list, bounce_req *req,
                            strbuf *err)
{
    const char *ret_word = NULL;
    attr_spec specs[] = {
        ATTR_SPEC_STR(ATTR_NAME_REQUEST, 1, &req->request),
        ATTR_SPEC_STR(ATTR_NAME_QUEUE_NAME, 1, &req->queue_name),
        ATTR_SPEC_STR(ATTR_NAME_QUEUE_ID, 1, &req->queue_id),
        ATTR_SPEC_STR(ATTR_NAME_SENDER, 1, &req->sender),
        ATTR_SPEC_STR(ATTR_NAME_ENVELOPE_ID, 0, &req->envid),
        ATTR_SPEC_STR(ATTR_NAME_RET_FLAGS, 0, &ret_word),
        ATTR_SPEC_LONG(ATTR_NAME_FLAGS, 0, 0, BOUNCE_F_MASK, &req->flags),
    };

    memset(req, 0, sizeof(*req));
    req->ret = QFILE_RET_NONE;
    if (attr_read(s, &bounce_limits, list, err) < 0)
        return (-1);
    if (attr_scan(list, specs, (int) (sizeof(specs) / sizeof(specs[0])), err) < 0)
        return (-1);
    if (strcmp(req->request, BOUNCE_REQ_BOUNCE) != 0
        && strcmp(req->request, BOUNCE_REQ_DELAY) != 0) {
        strbuf_setf(err, "unknown request \"%.64s\"", req->request);
        return (-1);
    }
    if (!bounce_qname_ok(req->queue_name)) {
        strbuf_setf(err, "bad queue name \"%.64s\"", req->queue_name);
        return (-1);
    }
    if (!mail_queue_id_ok(req->queue_id)) {
        strbuf_setf(err, "bad queue id \"%.64s\"", req->queue_id);
        return (-1);
    }
    if (ret_word != NULL) {
        if (strcmp(ret_word, BOUNCE_RET_FULL) == 0)
            req->ret = QFILE_RET_FULL;
        else if (strcmp(ret_word, BOUNCE_RET_HDRS) == 0)
            req->ret = QFILE_RET_HDRS;
        else {
            strbuf_setf(err, "bad %s \"%.64s\"", ATTR_NAME_RET_FLAGS, ret_word);
            return (-1);
        }
    }
    return (0);
}

/* bounce_reply: send the reply to one request (server side) */
int     bounce_reply(stream *s, int status, const char *reason)
{
    attr_list *list = attr_list_new();
    int     rc;

    attr_list_add_long(list, ATTR_NAME_STATUS, status);
    if (reason != NULL)
        attr_list_add_str(list, ATTR_NAME_REASON, reason);
    rc = attr_write(s, list);
    attr_list_free(list);
    return (rc);
}
