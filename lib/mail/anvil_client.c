/*
 * anvil_client: the anvil protocol, client side, and the per-client
 * limits smtpd enforces with it (the server side is anvil/anvil.c).
 *
 * Public functions, client:
 *   anvil_open(): a client for ANVIL_SERVICE (relative to the current
 *     directory, then queue_directory). Nothing is connected until the
 *     first request. Each wait is bounded by ipc_timeout, at most
 *     ANVIL_TIMEOUT_MAX_MS. Never NULL; free with anvil_close.
 *   anvil_open_path(path, timeout_ms): the same for another socket path
 *     (tests); timeout_ms <= 0 means ANVIL_TIMEOUT_MAX_MS.
 *   anvil_close(client): disconnect and free; returns NULL. NULL is fine.
 *   anvil_connect(client, service, addr, &count, &rate): register a new
 *     connection from addr to service; count = concurrent connections
 *     (this one included), rate = connections in the current window.
 *   anvil_disconnect(client, service, addr): that connection ended.
 *   anvil_message(client, service, addr, &rate): one more message;
 *     rate = messages in the current window.
 *   anvil_rcpt(client, service, addr, &rate): one more recipient.
 *   anvil_lookup(client, service, addr, &counts): read all counters.
 *   Each returns ANVIL_OK with the outputs set, or ANVIL_FAIL with every
 *     output 0 when anvil cannot be reached or answers badly: callers
 *     treat that as "no limit". Output pointers may be NULL. The first
 *     failure after a success is logged as a warning, later ones are not;
 *     after a failure no new connection is tried for ANVIL_RETRY_SECS
 *     seconds, so a missing anvil costs one failed connect per
 *     ANVIL_RETRY_SECS, not one per request. An established connection
 *     that breaks (anvil restarted) is re-opened once, at once.
 *
 * Public functions, limits:
 *   anvil_limits_new(): no limits, no exceptions. Never NULL.
 *   anvil_limits_free(lim): returns NULL. NULL is fine.
 *   anvil_limits_set(lim, conn_count, conn_rate, msg_rate, rcpt_rate):
 *     set the four limits (0 or less = no limit).
 *   anvil_limits_set_exceptions(lim, list, err): the addresses and
 *     networks (cidr syntax) that no limit applies to. 0, or -1 with err
 *     set and the previous exceptions kept.
 *   anvil_limits_configure(lim, err): set everything from main.cf:
 *     smtpd_client_connection_count_limit, ..._rate_limit,
 *     smtpd_client_message_rate_limit, smtpd_client_recipient_rate_limit,
 *     smtpd_client_event_limit_exceptions, myhostname (for the 421 text).
 *     0, or -1 when the exception list is malformed (err says so; the
 *     limits are set and there are no exceptions: fail towards limiting).
 *   anvil_limits_active(lim): 1 when any limit is on (else smtpd need not
 *     talk to anvil at all).
 *   anvil_limits_exempt(lim, addr): 1 when addr matches the exceptions.
 *   anvil_limit_reply(lim, event, count, rate, myhostname, addr, reply):
 *     pure decision: ANVIL_LIMIT_EXCEEDED with reply set to the SMTP
 *     reply line (no CRLF) when count/rate pass lim for this event, else
 *     ANVIL_LIMIT_OK and reply untouched. myhostname NULL = the one from
 *     anvil_limits_configure (or "localhost"). Exemption is not checked
 *     here (see anvil_session).
 *
 * Public functions, sessions (what smtpd calls):
 *   anvil_session_new(client, lim, service, client_name, client_addr):
 *     state for one SMTP connection; client and lim are borrowed and must
 *     outlive the session; the strings are copied. Never NULL.
 *   anvil_session_connect(sess, reply): at connection time.
 *   anvil_session_message(sess, reply): at each MAIL FROM.
 *   anvil_session_rcpt(sess, reply): at each RCPT TO.
 *   Each returns ANVIL_LIMIT_OK (go on), or ANVIL_LIMIT_EXCEEDED with
 *     reply set (smtpd sends it; after a 421 it ends the session) and a
 *     warning logged in Postfix's words ("Connection concurrency limit
 *     exceeded: 51 from name[addr] for service smtp"). Exempt clients and
 *     inactive limits never touch anvil; when anvil is unreachable the
 *     answer is ANVIL_LIMIT_OK.
 *   anvil_session_free(sess): send the disconnect when the connect was
 *     counted, and free. Returns NULL. NULL is fine.
 *
 * SECURITY: the reply comes from another process: it is read with
 *   attr limits and strictly scanned; garbage counts as "no answer", and
 *   numbers are bounded. client_addr is the peer address from the kernel;
 *   service and addr longer than ANVIL_SERVICE_MAX / ANVIL_ADDR_MAX are
 *   not sent (ANVIL_FAIL). Nothing here can stop mail: every failure
 *   means "no limit".
 * LIMITS: replies of at most ANVIL_MSG_MAX bytes and ANVIL_ATTR_MAX
 *   attributes; every wait bounded (see anvil_open).
 */
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "anvil_client.h"
#include "attr.h"
#include "attr_names.h"
#include "cidr.h"
#include "mem.h"
#include "msg.h"
#include "param.h"
#include "strbuf.h"
#include "stream.h"
#include "trigger.h"

#define ANVIL_ATTR_MAX          8       /* attributes per reply */
#define ANVIL_VALUE_MAX         512     /* bytes per value */
#define ANVIL_MSG_MAX           2048    /* encoded bytes per reply */
#define ANVIL_TIMEOUT_MAX_MS    10000   /* no wait on anvil takes longer */

static const attr_limits anvil_reply_limits = {
    ANVIL_ATTR_MAX, ANVIL_VALUE_MAX, ANVIL_MSG_MAX
};

struct anvil_client {
    char   *path;                       /* socket path (service-relative) */
    int     timeout_ms;
    stream *s;                          /* NULL when not connected */
    time_t  retry_after;                /* no connect attempt before this */
    int     failing;                    /* failure already logged */
};

struct anvil_limits {
    long    conn_count;
    long    conn_rate;
    long    msg_rate;
    long    rcpt_rate;
    cidr_list *exceptions;              /* NULL = none */
    char   *myhostname;                 /* NULL = "localhost" */
};

struct anvil_session {
    anvil_client *client;
    const anvil_limits *lim;
    char   *service;
    char   *name;
    char   *addr;
    int     exempt;                     /* no limit applies: skip anvil */
    int     connected;                  /* connect counted: disconnect due */
};

/* anvil_open_path: a client for the socket at path */
anvil_client *anvil_open_path(const char *path, int timeout_ms)
{
    anvil_client *client = mem_calloc(1, sizeof(*client));

    client->path = mem_strdup(path);
    client->timeout_ms = (timeout_ms > 0 && timeout_ms < ANVIL_TIMEOUT_MAX_MS)
        ? timeout_ms : ANVIL_TIMEOUT_MAX_MS;
    return (client);
}

/* anvil_open: a client for the anvil service of this instance */
anvil_client *anvil_open(void)
{
    long    timeout = param_time(PARAM_IPC_TIMEOUT);
    int     timeout_ms;

    timeout_ms = (timeout > 0 && timeout < ANVIL_TIMEOUT_MAX_MS / 1000)
        ? (int) timeout * 1000 : ANVIL_TIMEOUT_MAX_MS;
    return (anvil_open_path(ANVIL_SERVICE, timeout_ms));
}

/* anvil_drop: close the connection, if any */
static void anvil_drop(anvil_client *client)
{
    if (client->s != NULL) {
        (void) stream_close(client->s);
        client->s = NULL;
    }
}

/* anvil_close: disconnect and free */
anvil_client *anvil_close(anvil_client *client)
{
    if (client == NULL)
        return (NULL);
    anvil_drop(client);
    mem_free(client->path);
    mem_free(client);
    return (NULL);
}

/* anvil_fail: note a failure (logged once per outage); ANVIL_FAIL */
static int anvil_fail(anvil_client *client, const char *why)
{
    anvil_drop(client);
    client->retry_after = time(NULL) + ANVIL_RETRY_SECS;
    if (!client->failing) {
        client->failing = 1;
        msg_warn("anvil service %s: %s; client limits are not enforced",
                 client->path, why);
    }
    return (ANVIL_FAIL);
}

/* anvil_attach: connect and check the protocol; 0, or -1 with err */
static int anvil_attach(anvil_client *client, strbuf *err)
{
    int     fd;

    if ((fd = trigger_connect(client->path, client->timeout_ms)) < 0) {
        strbuf_setf(err, "connect: %s", strerror(errno));
        return (-1);
    }
    client->s = stream_fdopen(fd, STREAM_F_RDWR);
    stream_set_timeout(client->s, client->timeout_ms);
    if (attr_expect_protocol(client->s, ATTR_PROTO_ANVIL, err) < 0) {
        anvil_drop(client);
        return (-1);
    }
    return (0);
}

/* anvil_exchange: send one request and read the reply into reply */
static int anvil_exchange(anvil_client *client, const attr_list *req,
                          attr_list *reply, strbuf *err)
{
    attr_list_reset(reply);
    if (attr_write(client->s, req) < 0) {
        strbuf_setf(err, "write: %s", stream_timed_out(client->s)
                    ? "timeout" : strerror(errno));
        return (-1);
    }
    return (attr_read(client->s, &anvil_reply_limits, reply, err));
}

/* anvil_request: one request/reply; fills the counters or fails */
static int anvil_request(anvil_client *client, const char *request,
                         const char *service, const char *addr,
                         anvil_counts *out)
{
    attr_list *req;
    attr_list *reply;
    strbuf *err;
    long    status = -1;
    const char *reason = NULL;
    int     result = ANVIL_FAIL;
    int     fresh = 0;
    anvil_counts got = {0, 0, 0, 0};
    attr_spec specs[] = {
        ATTR_SPEC_LONG(ATTR_NAME_STATUS, 1, 0, 9, &status),
        ATTR_SPEC_STR(ATTR_NAME_REASON, 0, &reason),
        ATTR_SPEC_LONG(ATTR_NAME_COUNT, 0, 0, LONG_MAX, &got.count),
        ATTR_SPEC_LONG(ATTR_NAME_RATE, 0, 0, LONG_MAX, &got.conn_rate),
        ATTR_SPEC_LONG(ATTR_NAME_MSG_RATE, 0, 0, LONG_MAX, &got.msg_rate),
        ATTR_SPEC_LONG(ATTR_NAME_RCPT_RATE, 0, 0, LONG_MAX, &got.rcpt_rate),
    };

    memset(out, 0, sizeof(*out));
    if (strlen(service) > ANVIL_SERVICE_MAX || strlen(addr) > ANVIL_ADDR_MAX) {
        msg_warn("anvil: service or client address too long; not counted");
        return (ANVIL_FAIL);
    }
    if (client->s == NULL && time(NULL) < client->retry_after)
        return (ANVIL_FAIL);

    req = attr_list_new();
    reply = attr_list_new();
    err = strbuf_new(100);
    attr_list_add_str(req, ATTR_NAME_REQUEST, request);
    attr_list_add_str(req, ATTR_NAME_SERVICE, service);
    attr_list_add_str(req, ATTR_NAME_CLIENT, addr);

    if (client->s == NULL) {
        if (anvil_attach(client, err) < 0) {
            (void) anvil_fail(client, strbuf_str(err));
            goto done;
        }
        fresh = 1;
    }
    if (anvil_exchange(client, req, reply, err) < 0) {
        /* An old connection may just have been closed by a restarted
         * anvil: try once more on a new one. */
        anvil_drop(client);
        if (fresh || anvil_attach(client, err) < 0
            || anvil_exchange(client, req, reply, err) < 0) {
            (void) anvil_fail(client, strbuf_str(err));
            goto done;
        }
    }
    if (attr_scan(reply, specs, (int) (sizeof(specs) / sizeof(specs[0])), err) < 0) {
        (void) anvil_fail(client, strbuf_str(err));
        goto done;
    }
    if (status != ANVIL_STAT_OK) {
        /* A refused request is a bug on one side; keep the connection. */
        msg_warn("anvil service %s: request=%s refused: %s", client->path,
                 request, reason ? reason : "(no reason)");
        goto done;
    }
    if (client->failing) {
        client->failing = 0;
        msg_info("anvil service %s: available again", client->path);
    }
    *out = got;
    result = ANVIL_OK;

done:
    attr_list_free(req);
    attr_list_free(reply);
    strbuf_free(err);
    return (result);
}

/* anvil_connect: register a new connection */
int     anvil_connect(anvil_client *client, const char *service,
                      const char *addr, long *count, long *rate)
{
    anvil_counts got;
    int     result = anvil_request(client, ANVIL_REQ_CONNECT, service, addr, &got);

    if (count != NULL)
        *count = got.count;
    if (rate != NULL)
        *rate = got.conn_rate;
    return (result);
}

/* anvil_disconnect: a connection ended */
int     anvil_disconnect(anvil_client *client, const char *service,
                         const char *addr)
{
    anvil_counts got;

    return (anvil_request(client, ANVIL_REQ_DISCONNECT, service, addr, &got));
}

/* anvil_message: count a message */
int     anvil_message(anvil_client *client, const char *service,
                      const char *addr, long *rate)
{
    anvil_counts got;
    int     result = anvil_request(client, ANVIL_REQ_MESSAGE, service, addr, &got);

    /* The server answers the event's own rate as rate=. */
    if (rate != NULL)
        *rate = got.conn_rate;
    return (result);
}

/* anvil_rcpt: count a recipient */
int     anvil_rcpt(anvil_client *client, const char *service,
                   const char *addr, long *rate)
{
    anvil_counts got;
    int     result = anvil_request(client, ANVIL_REQ_RCPT, service, addr, &got);

    if (rate != NULL)
        *rate = got.conn_rate;
    return (result);
}

/* anvil_lookup: read every counter */
int     anvil_lookup(anvil_client *client, const char *service,
                     const char *addr, anvil_counts *out)
{
    return (anvil_request(client, ANVIL_REQ_LOOKUP, service, addr, out));
}

/* anvil_limits_new: no limits, no exceptions */
anvil_limits *anvil_limits_new(void)
{
    return (mem_calloc(1, sizeof(anvil_limits)));
}

/* anvil_limits_free: destroy */
anvil_limits *anvil_limits_free(anvil_limits *lim)
{
    if (lim == NULL)
        return (NULL);
    cidr_list_free(lim->exceptions);
    mem_free(lim->myhostname);
    mem_free(lim);
    return (NULL);
}

/* anvil_limits_set: set the four limits */
void    anvil_limits_set(anvil_limits *lim, long conn_count, long conn_rate,
                         long msg_rate, long rcpt_rate)
{
    lim->conn_count = conn_count > 0 ? conn_count : 0;
    lim->conn_rate = conn_rate > 0 ? conn_rate : 0;
    lim->msg_rate = msg_rate > 0 ? msg_rate : 0;
    lim->rcpt_rate = rcpt_rate > 0 ? rcpt_rate : 0;
}

/* anvil_limits_set_exceptions: parse the exception list */
int     anvil_limits_set_exceptions(anvil_limits *lim, const char *list,
                                    strbuf *err)
{
    cidr_list *cl = cidr_list_parse(list ? list : "", err);

    if (cl == NULL)
        return (-1);
    cidr_list_free(lim->exceptions);
    lim->exceptions = cl;
    return (0);
}

/* anvil_limits_configure: everything from main.cf */
int     anvil_limits_configure(anvil_limits *lim, strbuf *err)
{
    const char *host = param_str(PARAM_MYHOSTNAME);

    anvil_limits_set(lim, param_int(PARAM_SMTPD_CLIENT_CONN_COUNT_LIMIT),
                     param_int(PARAM_SMTPD_CLIENT_CONN_RATE_LIMIT),
                     param_int(PARAM_SMTPD_CLIENT_MSG_RATE_LIMIT),
                     param_int(PARAM_SMTPD_CLIENT_RCPT_RATE_LIMIT));
    mem_free(lim->myhostname);
    lim->myhostname = (host && *host) ? mem_strdup(host) : NULL;
    if (anvil_limits_set_exceptions(lim, param_str(PARAM_SMTPD_CLIENT_EVENT_LIMIT_EXCEPTIONS),
                                    err) < 0) {
        /* Without a usable list nobody is exempt: a typo must not
         * silently switch the limits off for everyone. */
        lim->exceptions = cidr_list_free(lim->exceptions);
        return (-1);
    }
    return (0);
}

/* anvil_limits_active: 1 when any limit is on */
int     anvil_limits_active(const anvil_limits *lim)
{
    return (lim->conn_count > 0 || lim->conn_rate > 0
            || lim->msg_rate > 0 || lim->rcpt_rate > 0);
}

/* anvil_limits_exempt: 1 when addr is an exception */
int     anvil_limits_exempt(const anvil_limits *lim, const char *addr)
{
    return (lim->exceptions != NULL && addr != NULL
            && cidr_list_match(lim->exceptions, addr) == 1);
}

/* anvil_limit_reply: decide whether an event passes a limit */
int     anvil_limit_reply(const anvil_limits *lim, enum anvil_event event,
                          long count, long rate, const char *myhostname,
                          const char *addr, strbuf *reply)
{
    if (myhostname == NULL)
        myhostname = lim->myhostname ? lim->myhostname : "localhost";
    switch (event) {
    case ANVIL_EV_CONNECT:
        if ((lim->conn_count > 0 && count > lim->conn_count)
            || (lim->conn_rate > 0 && rate > lim->conn_rate)) {
            strbuf_setf(reply, "421 4.7.0 %s Error: too many connections from %s",
                        myhostname, addr);
            return (ANVIL_LIMIT_EXCEEDED);
        }
        break;
    case ANVIL_EV_MESSAGE:
        if (lim->msg_rate > 0 && rate > lim->msg_rate) {
            strbuf_setf(reply, "452 4.3.2 Error: too much mail from %s", addr);
            return (ANVIL_LIMIT_EXCEEDED);
        }
        break;
    case ANVIL_EV_RCPT:
        if (lim->rcpt_rate > 0 && rate > lim->rcpt_rate) {
            strbuf_setf(reply, "452 4.3.2 Error: too many recipients from %s", addr);
            return (ANVIL_LIMIT_EXCEEDED);
        }
        break;
    }
    return (ANVIL_LIMIT_OK);
}

/* anvil_session_new: state for one SMTP connection */
anvil_session *anvil_session_new(anvil_client *client,
                                 const anvil_limits *lim,
                                 const char *service,
                                 const char *client_name,
                                 const char *client_addr)
{
    anvil_session *sess = mem_calloc(1, sizeof(*sess));

    sess->client = client;
    sess->lim = lim;
    sess->service = mem_strdup(service ? service : "smtp");
    sess->name = mem_strdup(client_name ? client_name : "unknown");
    sess->addr = mem_strdup(client_addr ? client_addr : "unknown");
    sess->exempt = client == NULL || lim == NULL || !anvil_limits_active(lim)
        || anvil_limits_exempt(lim, sess->addr);
    return (sess);
}

/* anvil_session_free: disconnect when counted, and free */
anvil_session *anvil_session_free(anvil_session *sess)
{
    if (sess == NULL)
        return (NULL);
    if (sess->connected)
        (void) anvil_disconnect(sess->client, sess->service, sess->addr);
    mem_free(sess->service);
    mem_free(sess->name);
    mem_free(sess->addr);
    mem_free(sess);
    return (NULL);
}

/* anvil_session_connect: count the connection and check both limits */
int     anvil_session_connect(anvil_session *sess, strbuf *reply)
{
    long    count;
    long    rate;

    if (sess->exempt || sess->connected)
        return (ANVIL_LIMIT_OK);
    if (anvil_connect(sess->client, sess->service, sess->addr,
                      &count, &rate) != ANVIL_OK)
        return (ANVIL_LIMIT_OK);
    sess->connected = 1;
    if (anvil_limit_reply(sess->lim, ANVIL_EV_CONNECT, count, rate, NULL,
                          sess->addr, reply) == ANVIL_LIMIT_OK)
        return (ANVIL_LIMIT_OK);
    if (sess->lim->conn_count > 0 && count > sess->lim->conn_count)
        msg_warn("Connection concurrency limit exceeded: %ld from %s[%s] for service %s",
                 count, sess->name, sess->addr, sess->service);
    else
        msg_warn("Connection rate limit exceeded: %ld from %s[%s] for service %s",
                 rate, sess->name, sess->addr, sess->service);
    return (ANVIL_LIMIT_EXCEEDED);
}

/* anvil_session_message: count a message and check its limit */
int     anvil_session_message(anvil_session *sess, strbuf *reply)
{
    long    rate;

    if (sess->exempt || sess->lim->msg_rate <= 0)
        return (ANVIL_LIMIT_OK);
    if (anvil_message(sess->client, sess->service, sess->addr, &rate) != ANVIL_OK)
        return (ANVIL_LIMIT_OK);
    if (anvil_limit_reply(sess->lim, ANVIL_EV_MESSAGE, 0, rate, NULL,
                          sess->addr, reply) == ANVIL_LIMIT_OK)
        return (ANVIL_LIMIT_OK);
    msg_warn("Message delivery request rate limit exceeded: %ld from %s[%s] for service %s",
             rate, sess->name, sess->addr, sess->service);
    return (ANVIL_LIMIT_EXCEEDED);
}

/* anvil_session_rcpt: count a recipient and check its limit */
int     anvil_session_rcpt(anvil_session *sess, strbuf *reply)
{
    long    rate;

    if (sess->exempt || sess->lim->rcpt_rate <= 0)
        return (ANVIL_LIMIT_OK);
    if (anvil_rcpt(sess->client, sess->service, sess->addr, &rate) != ANVIL_OK)
        return (ANVIL_LIMIT_OK);
    if (anvil_limit_reply(sess->lim, ANVIL_EV_RCPT, 0, rate, NULL,
                          sess->addr, reply) == ANVIL_LIMIT_OK)
        return (ANVIL_LIMIT_OK);
    msg_warn("Recipient address rate limit exceeded: %ld from %s[%s] for service %s",
             rate, sess->name, sess->addr, sess->service);
    return (ANVIL_LIMIT_EXCEEDED);
}
