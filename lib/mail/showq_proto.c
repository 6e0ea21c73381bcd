/*
 * showq_proto: the queue listing protocol (grammar in showq_proto.h).
 *
 * Server side:
 *   showq_proto_put_msg(s, msg): write one message and its recipients.
 *     0, or -1 on a write error or timeout (the client went away).
 *   showq_proto_put_end(s, status, reason): write the final status
 *     message (reason may be NULL for SHOWQ_STAT_OK). 0 or -1.
 * Client side:
 *   showq_proto_open(service_path, err): connect to the showq socket
 *     (path relative to the current directory, then queue_directory; see
 *     trigger_connect) and check the protocol name. NULL with err saying
 *     what failed (err starts with the socket path).
 *   showq_proto_stream(s, err): the same over an open stream (tests);
 *     the client owns s afterwards.
 *   showq_proto_next(c, msg, err): read the next message into msg (its
 *     old contents are freed first). 1 a message, 0 the server's
 *     successful end, -1 an error (err: malformed or too large reply,
 *     timeout, lost connection, or the server's status=4 reason).
 *   showq_proto_close(c): close; returns NULL.
 *   showq_proto_msg_clear(msg): free the strings and recipients of msg
 *     and zero it.
 *
 * SECURITY: the client may run as any user; the server is a daemon of
 *   the mail system, but its replies are still decoded strictly and
 *   bounded (it reads queue files other users wrote).
 * LIMITS: SHOWQ_PROTO_VALUE_MAX decoded bytes per value,
 *   SHOWQ_PROTO_RCPT_MAX recipients per message, SHOWQ_PROTO_TIMEOUT_MS
 *   per read.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "attr.h"
#include "attr_names.h"
#include "mem.h"
#include "showq_proto.h"
#include "stream.h"
#include "strbuf.h"
#include "trigger.h"

struct showq_proto {
    stream *s;
    attr_list *list;
};

static const attr_limits showq_proto_limits = {
    16, SHOWQ_PROTO_VALUE_MAX, 4 * SHOWQ_PROTO_VALUE_MAX
};

/* showq_proto_put_msg: send one message and its recipients */
int     showq_proto_put_msg(stream *s, const showq_msg *msg)
{
    attr_list *list = attr_list_new();
    size_t  i;
    int     rc = 0;

    attr_list_add_str(list, ATTR_NAME_QUEUE_NAME, msg->queue_name);
    attr_list_add_str(list, ATTR_NAME_QUEUE_ID, msg->queue_id);
    attr_list_add_long(list, ATTR_NAME_ARRIVAL_TIME, msg->arrival_time);
    attr_list_add_long(list, ATTR_NAME_SIZE, msg->size);
    attr_list_add_long(list, ATTR_NAME_FORCED_EXPIRE, msg->forced_expire ? 1 : 0);
    attr_list_add_str(list, ATTR_NAME_SENDER, msg->sender);
    attr_list_add_long(list, ATTR_NAME_RCPT_COUNT, (long) msg->nrcpts);
    if (attr_write(s, list) < 0)
        rc = -1;
    for (i = 0; rc == 0 && i < msg->nrcpts; i++) {
        attr_list_reset(list);
        attr_list_add_str(list, ATTR_NAME_RECIPIENT, msg->rcpts[i].address);
        if (msg->rcpts[i].orig)
            attr_list_add_str(list, ATTR_NAME_ORIGINAL_RCPT, msg->rcpts[i].orig);
        if (msg->rcpts[i].reason)
            attr_list_add_str(list, ATTR_NAME_REASON, msg->rcpts[i].reason);
        if (attr_write(s, list) < 0)
            rc = -1;
    }
    attr_list_free(list);
    return rc;
}

/* showq_proto_put_end: send the final status */
int     showq_proto_put_end(stream *s, int status, const char *reason)
{
    attr_list *list = attr_list_new();
    int     rc;

    attr_list_add_long(list, ATTR_NAME_STATUS, status);
    if (reason)
        attr_list_add_str(list, ATTR_NAME_REASON, reason);
    rc = attr_write(s, list);
    attr_list_free(list);
    return rc;
}

/* showq_proto_stream: a client over an open stream */
showq_proto *showq_proto_stream(stream *s, strbuf *err)
{
    showq_proto *c;

    stream_set_timeout(s, SHOWQ_PROTO_TIMEOUT_MS);
    if (attr_expect_protocol(s, ATTR_PROTO_QUEUE_LIST, err) < 0) {
        (void) stream_close(s);
        return NULL;
    }
    c = mem_calloc(1, sizeof(*c));
    c->s = s;
    c->list = attr_list_new();
    return c;
}

/* showq_proto_open: connect to the showq service */
showq_proto *showq_proto_open(const char *service_path, strbuf *err)
{
    showq_proto *c;
    strbuf *why;
    int     fd;

    if ((fd = trigger_connect(service_path, SHOWQ_PROTO_TIMEOUT_MS)) < 0) {
        strbuf_setf(err, "%s: %s", service_path, strerror(errno));
        return NULL;
    }
    why = strbuf_new(64);
    if ((c = showq_proto_stream(stream_fdopen(fd, STREAM_F_RDWR), why)) == NULL)
        strbuf_setf(err, "%s: %s", service_path, strbuf_str(why));
    strbuf_free(why);
    return c;
}

/* showq_proto_msg_clear: free what a message holds */
void    showq_proto_msg_clear(showq_msg *msg)
{
    size_t  i;

    mem_free(msg->queue_name);
    mem_free(msg->queue_id);
    mem_free(msg->sender);
    for (i = 0; i < msg->nrcpts; i++) {
        mem_free(msg->rcpts[i].address);
        mem_free(msg->rcpts[i].orig);
        mem_free(msg->rcpts[i].reason);
    }
    mem_free(msg->rcpts);
    memset(msg, 0, sizeof(*msg));
}

/* showq_proto_rcpt: read one recipient message */
static int showq_proto_rcpt(showq_proto *c, showq_rcpt *r, strbuf *err)
{
    const char *addr = NULL, *orig = NULL, *reason = NULL;
    attr_spec specs[] = {
        ATTR_SPEC_STR(ATTR_NAME_RECIPIENT, 1, &addr),
        ATTR_SPEC_STR(ATTR_NAME_ORIGINAL_RCPT, 0, &orig),
        ATTR_SPEC_STR(ATTR_NAME_REASON, 0, &reason),
    };

    if (attr_read(c->s, &showq_proto_limits, c->list, err) < 0
        || attr_scan(c->list, specs, 3, err) < 0)
        return -1;
    r->address = mem_strdup(addr);
    r->orig = orig ? mem_strdup(orig) : NULL;
    r->reason = reason ? mem_strdup(reason) : NULL;
    return 0;
}

/* showq_proto_next: read the next message, or the end */
int     showq_proto_next(showq_proto *c, showq_msg *msg, strbuf *err)
{
    const char *qname = NULL, *qid = NULL, *sender = NULL, *reason = NULL;
    long    arrival = 0, size = 0, expire = 0, count = 0, status = -1;
    attr_spec mspecs[] = {
        ATTR_SPEC_STR(ATTR_NAME_QUEUE_NAME, 1, &qname),
        ATTR_SPEC_STR(ATTR_NAME_QUEUE_ID, 1, &qid),
        ATTR_SPEC_LONG(ATTR_NAME_ARRIVAL_TIME, 1, 0, 0x7fffffffffffL, &arrival),
        ATTR_SPEC_LONG(ATTR_NAME_SIZE, 1, 0, 0x7fffffffffffL, &size),
        ATTR_SPEC_LONG(ATTR_NAME_FORCED_EXPIRE, 1, 0, 1, &expire),
        ATTR_SPEC_STR(ATTR_NAME_SENDER, 1, &sender),
        ATTR_SPEC_LONG(ATTR_NAME_RCPT_COUNT, 1, 0, SHOWQ_PROTO_RCPT_MAX, &count),
    };
    attr_spec especs[] = {
        ATTR_SPEC_LONG(ATTR_NAME_STATUS, 1, 0, 9, &status),
        ATTR_SPEC_STR(ATTR_NAME_REASON, 0, &reason),
    };
    size_t  i;

    showq_proto_msg_clear(msg);
    if (attr_read(c->s, &showq_proto_limits, c->list, err) < 0)
        return -1;
    if (attr_list_find(c->list, ATTR_NAME_QUEUE_NAME, NULL) == NULL) {
        if (attr_scan(c->list, especs, 2, err) < 0)
            return -1;
        if (status == SHOWQ_STAT_OK)
            return 0;
        strbuf_setf(err, "%s", reason ? reason : "the listing failed");
        return -1;
    }
    if (attr_scan(c->list, mspecs, 7, err) < 0)
        return -1;
    msg->queue_name = mem_strdup(qname);
    msg->queue_id = mem_strdup(qid);
    msg->sender = mem_strdup(sender);
    msg->arrival_time = arrival;
    msg->size = size;
    msg->forced_expire = (int) expire;
    if (count > 0)
        msg->rcpts = mem_calloc((size_t) count, sizeof(*msg->rcpts));
    for (i = 0; i < (size_t) count; i++) {
        if (showq_proto_rcpt(c, msg->rcpts + i, err) < 0) {
            msg->nrcpts = i;
            showq_proto_msg_clear(msg);
            return -1;
        }
        msg->nrcpts = i + 1;
    }
    return 1;
}

/* showq_proto_close: close the client */
showq_proto *showq_proto_close(showq_proto *c)
{
    if (c == NULL)
        return NULL;
    (void) stream_close(c->s);
    attr_list_free(c->list);
    return mem_free(c);
}
