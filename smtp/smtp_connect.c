/*
 * smtp_connect: the walk over a destination's servers for one delivery.
 *
 * Functions (private to smtp/, see smtp.h):
 *   smtp_connect_deliver(st, nh): resolve nh (smtp_addr), then try the
 *     servers in order until every recipient has a final result: a
 *     session from the connection cache for the destination or the
 *     address when there is one, else a new connection (non-blocking
 *     connect bounded by smtp_connect_timeout, from smtp_bind_address
 *     when set and of the same family). Connection failures, timeouts
 *     and 4XX greetings move on to the next address; at most
 *     smtp_mx_session_limit sessions that got past EHLO are used; then,
 *     for MX destinations, the smtp_fallback_relay hosts. DNS results:
 *     NOTFOUND bounces 5.4.4 (unless a fallback relay exists), NULLMX
 *     bounces 5.1.10, LOOP 5.4.6, RETRY leaves the recipients to be
 *     deferred (4.4.3). When no session got past the handshake and
 *     recipients are left, st->site_status becomes 4 (the site failed).
 *     Recipients refused with 452 after others were accepted go in
 *     further transactions on the same session (each one takes at least
 *     one recipient, so this ends). After the last transaction a session
 *     still ready for MAIL and
 *     younger than smtp_connection_reuse_time_limit goes to the
 *     connection cache (smtp_connection_cache_on_demand), else QUIT.
 *
 * Connection cache: scache_client (lib/mail); without a running scache
 * service every delivery opens and closes its own connections. The endpoint property
 * string is "host\tfeatures\tsize_limit\tstart\treuse"; a property that
 * does not parse makes the cached connection be closed unused.
 *
 * SECURITY: addresses come from smtp_addr (checked); a UNIX-domain path
 * is used as given (absolute) or under queue_directory (relative).
 * LIMITS: smtp_mx_session_limit sessions per phase, smtp_mx_address_limit
 * addresses (smtp_addr), the connect timeout per address.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "deliver_request.h"
#include "mem.h"
#include "msg.h"
#include "numparse.h"
#include "param.h"
#include "param_names.h"
#include "scache_client.h"
#include "smtp.h"
#include "smtp_addr.h"
#include "strbuf.h"
#include "strutil.h"

#define SMTP_PROP_FIELDS    5

/* smtp_cache_find_dest: a cached session for the destination, or -1. */
static int smtp_cache_find_dest(const char *dest, strbuf *endp, strbuf *prop)
{
    return scache_find_dest(dest, endp, prop);
}

/* smtp_cache_find_endp: a cached session for the endpoint, or -1. */
static int smtp_cache_find_endp(const char *endp, strbuf *prop)
{
    return scache_find_endp(endp, prop);
}

/* smtp_cache_save: hand a session to the cache; 0 or -1. */
static int smtp_cache_save(const char *dest, const char *endp, const char *prop,
                           int fd, int ttl, strbuf *err)
{
    return scache_save(dest, endp, prop, fd, ttl, err);
}

/* smtp_endp_label: "<service>:<addr>:<port>" for an address. */
static void smtp_endp_label(const smtp_state *st, const smtp_addr_entry *a,
                            char *out, size_t size)
{
    if (a->family == AF_UNIX) {
        if (str_format(out, size, "%s:unix:%s", st->conf->service, a->addr) < 0)
            out[0] = 0;
    } else if (str_format(out, size, "%s:%s:%d", st->conf->service, a->addr, a->port) < 0)
        out[0] = 0;
}

/* smtp_prop_parse: restore a cached session's state; 0 or -1. */
static int smtp_prop_parse(const char *prop, smtp_session *sess)
{
    char   *copy = mem_strdup(prop);
    char   *cursor = copy;
    char   *f[SMTP_PROP_FIELDS];
    unsigned long features, size, start, reuse;
    int     i;
    int     ret = -1;

    for (i = 0; i < SMTP_PROP_FIELDS; i++) {
        f[i] = cursor;
        cursor = cursor ? strchr(cursor, '\t') : NULL;
        if (cursor)
            *cursor++ = 0;
        else if (i < SMTP_PROP_FIELDS - 1)
            goto out;
    }
    if (f[0][0] == 0 || str_copy(sess->host, sizeof(sess->host), f[0]) < 0
        || num_parse_ulong(f[1], 0xffffffffUL, &features) < 0
        || num_parse_ulong(f[2], (unsigned long) -1 / 2, &size) < 0
        || num_parse_ulong(f[3], (unsigned long) -1 / 2, &start) < 0
        || num_parse_ulong(f[4], 1000000UL, &reuse) < 0)
        goto out;
    sess->ehlo.features = (unsigned) features;
    sess->ehlo.size_limit = size;
    sess->esmtp = 1;
    sess->start = (time_t) start;
    sess->reuse = (int) reuse;
    ret = 0;
out:
    mem_free(copy);
    return ret;
}

/* smtp_cached_session: a session from the cache for this address. */
static smtp_session *smtp_cached_session(smtp_state *st, const smtp_addr_entry *a,
                                         int fd, const char *prop)
{
    smtp_session *sess = smtp_session_new(fd, a, a->host);

    if (smtp_prop_parse(prop, sess) < 0) {
        msg_warn("%s: ignoring a cached connection with bad properties",
                 st->req->queue_id);
        return smtp_session_free(sess);
    }
    /* The relay text uses the host name the session was made with. */
    {
        if (a->family == AF_UNIX)
            (void) str_format(sess->relay, sizeof(sess->relay), "%s[%s]",
                              sess->host, a->addr);
        else
            (void) str_format(sess->relay, sizeof(sess->relay), "%s[%s]:%d",
                              sess->host, a->addr, a->port);
    }
    sess->cached = 1;
    sess->good = 1;
    if (msg_verbose)
        msg_info("%s: reusing cached connection to %s", st->req->queue_id, sess->relay);
    return sess;
}

/* smtp_session_done: cache the session when it can be reused, else QUIT. */
static void smtp_session_done(smtp_state *st, smtp_session *sess)
{
    const smtp_config *conf = st->conf;
    strbuf *prop;
    strbuf *err;
    time_t  now = time(NULL);

    /* A TLS session cannot be passed on (its state lives in this
     * process), and an authenticated one must not serve another sender's
     * destination: only plain sessions are cached. */
    if (!conf->cache_on_demand || !sess->good || sess->endp_label[0] == 0
        || sess->tls != NULL || sess->authed
        || now - sess->start >= conf->reuse_time_limit) {
        smtp_session_quit(st, sess);
        return;
    }
    if (stream_flush(sess->s) < 0 || stream_buffered(sess->s) > 0) {
        smtp_session_quit(st, sess);
        return;
    }
    prop = strbuf_new(64);
    err = strbuf_new(64);
    strbuf_setf(prop, "%s\t%u\t%lu\t%ld\t%d", sess->host, sess->ehlo.features,
                sess->ehlo.size_limit, (long) sess->start, sess->reuse);
    if (smtp_cache_save(st->dest_label, sess->endp_label, prop->data, sess->fd,
                        (int) conf->cache_time_limit, err) < 0) {
        if (msg_verbose)
            msg_info("%s: connection not cached: %s", st->req->queue_id, err->data);
        smtp_session_quit(st, sess);
    }
    strbuf_free(prop);
    strbuf_free(err);
}

/* smtp_wait_connect: finish a non-blocking connect within ms; 0 or -1. */
static int smtp_wait_connect(int fd, int ms)
{
    struct pollfd pfd;
    int     rc;
    int     soerr = 0;
    socklen_t len = sizeof(soerr);

    pfd.fd = fd;
    pfd.events = POLLOUT;
    do {
        rc = poll(&pfd, 1, ms < 0 ? -1 : ms);
    } while (rc < 0 && errno == EINTR);
    if (rc == 0) {
        errno = ETIMEDOUT;
        return -1;
    }
    if (rc < 0)
        return -1;
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) < 0)
        return -1;
    if (soerr) {
        errno = soerr;
        return -1;
    }
    return 0;
}

/* smtp_bind: bind to smtp_bind_address when it is of fd's family. */
static int smtp_bind(const smtp_config *conf, int fd, int family, strbuf *why)
{
    struct sockaddr_storage ss;
    socklen_t len;

    if (conf->bind_address == NULL || *conf->bind_address == 0)
        return 0;
    memset(&ss, 0, sizeof(ss));
    if (family == AF_INET) {
        struct sockaddr_in *sin = (struct sockaddr_in *) &ss;

        if (inet_pton(AF_INET, conf->bind_address, &sin->sin_addr) != 1)
            return 0;
        sin->sin_family = AF_INET;
        len = sizeof(*sin);
    } else if (family == AF_INET6) {
        struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *) &ss;

        if (inet_pton(AF_INET6, conf->bind_address, &sin6->sin6_addr) != 1)
            return 0;
        sin6->sin6_family = AF_INET6;
        len = sizeof(*sin6);
    } else
        return 0;
    if (bind(fd, (struct sockaddr *) &ss, len) < 0) {
        strbuf_setf(why, "cannot bind to %s: %s", conf->bind_address, strerror(errno));
        return -1;
    }
    return 0;
}

/* smtp_connect_addr: a connected socket for one address, or -1 with why. */
static int smtp_connect_addr(smtp_state *st, const smtp_addr_entry *a, const char *relay,
                             strbuf *why)
{
    const smtp_config *conf = st->conf;
    struct sockaddr_storage ss;
    socklen_t len;
    int     fd;
    int     flags;

    memset(&ss, 0, sizeof(ss));
    if (a->family == AF_UNIX) {
        struct sockaddr_un *sun = (struct sockaddr_un *) &ss;
        int     rc;

        sun->sun_family = AF_UNIX;
        if (a->addr[0] == '/')
            rc = str_copy(sun->sun_path, sizeof(sun->sun_path), a->addr);
        else
            rc = str_format(sun->sun_path, sizeof(sun->sun_path), "%s/%s",
                            param_str(PARAM_QUEUE_DIRECTORY), a->addr);
        if (rc < 0) {
            strbuf_setf(why, "connect to %s: socket path too long", relay);
            return -1;
        }
        len = sizeof(*sun);
    } else if (a->family == AF_INET) {
        struct sockaddr_in *sin = (struct sockaddr_in *) &ss;

        sin->sin_family = AF_INET;
        sin->sin_port = htons((unsigned short) a->port);
        if (inet_pton(AF_INET, a->addr, &sin->sin_addr) != 1) {
            strbuf_setf(why, "connect to %s: bad address", relay);
            return -1;
        }
        len = sizeof(*sin);
    } else {
        struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *) &ss;

        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons((unsigned short) a->port);
        if (inet_pton(AF_INET6, a->addr, &sin6->sin6_addr) != 1) {
            strbuf_setf(why, "connect to %s: bad address", relay);
            return -1;
        }
        len = sizeof(*sin6);
    }
    if ((fd = socket(a->family, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0) {
        strbuf_setf(why, "connect to %s: socket: %s", relay, strerror(errno));
        return -1;
    }
    if (smtp_bind(conf, fd, a->family, why) < 0) {
        (void) close(fd);
        return -1;
    }
    flags = fcntl(fd, F_GETFL);
    (void) fcntl(fd, F_SETFL, flags | O_NONBLOCK);
    if (connect(fd, (struct sockaddr *) &ss, len) < 0
        && (errno != EINPROGRESS || smtp_wait_connect(fd, conf->connect_ms) < 0)) {
        strbuf_setf(why, "connect to %s: %s", relay,
                    errno == ETIMEDOUT ? "Connection timed out" : strerror(errno));
        (void) close(fd);
        return -1;
    }
    (void) fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
    return fd;
}

/* smtp_any_again: is a recipient waiting for another transaction? */
static int smtp_any_again(const smtp_state *st)
{
    size_t  i;

    for (i = 0; i < st->nrcpts; i++)
        if (!st->rcpts[i].done && st->rcpts[i].again)
            return 1;
    return 0;
}

/* smtp_use_session: handshake (unless cached) and deliver; SMTP_SESS_xxx. */
static int smtp_use_session(smtp_state *st, smtp_session *sess, int last_address)
{
    const smtp_config *conf = st->conf;
    int     rc;

    if (!sess->cached) {
        rc = smtp_session_handshake(st, sess);
        if (rc != SMTP_SESS_OK)
            return rc;
    }
    st->sessions++;
    st->any_session = 1;
    st->final_server = last_address
        || (conf->session_limit > 0 && st->sessions >= conf->session_limit);
    rc = smtp_session_deliver(st, sess);
    /* Recipients refused with "452 too many recipients" go in the next
     * transaction; each transaction took at least one recipient. */
    while (rc == SMTP_SESS_OK && sess->good && smtp_any_again(st)) {
        st->again_only = 1;
        rc = smtp_session_deliver(st, sess);
        st->again_only = 0;
    }
    if (rc == SMTP_SESS_OK) {
        if (st->npending == 0 || st->final_server)
            return SMTP_SESS_STOP;
        return SMTP_SESS_NEXT;
    }
    if (rc == SMTP_SESS_NEXT && sess->cached) {
        /* A stale cached session does not count. */
        st->sessions--;
    }
    return rc;
}

/* smtp_walk: try the addresses of one list; 1 when nothing is left to do. */
static int smtp_walk(smtp_state *st, const smtp_addr_list *list, int last_phase)
{
    const smtp_config *conf = st->conf;
    strbuf *why = strbuf_new(128);
    strbuf *prop = strbuf_new(64);
    char    relay[SMTP_RELAY_MAX];
    size_t  i;
    int     finished = 0;

    st->sessions = 0;
    for (i = 0; i < list->count && st->npending > 0 && !finished; i++) {
        const smtp_addr_entry *a = &list->addrs[i];
        int     last = last_phase && i + 1 == list->count;
        smtp_session *sess = NULL;
        char    endp[SMTP_LABEL_MAX];
        int     fd;
        int     rc = SMTP_SESS_NEXT;

        if (conf->session_limit > 0 && st->sessions >= conf->session_limit)
            break;
        smtp_endp_label(st, a, endp, sizeof(endp));
        /* A cached session for this address first. */
        while (conf->cache_on_demand && endp[0] && smtp_tls_use_cache(st)
               && (fd = smtp_cache_find_endp(endp, prop)) >= 0) {
            if ((sess = smtp_cached_session(st, a, fd, prop->data)) == NULL)
                continue;
            (void) str_copy(sess->endp_label, sizeof(sess->endp_label), endp);
            rc = smtp_use_session(st, sess, last);
            if (rc == SMTP_SESS_NEXT && sess->cached) {
                sess = smtp_session_free(sess);
                continue;
            }
            break;
        }
        if (sess == NULL) {
            if (a->family == AF_UNIX)
                (void) str_format(relay, sizeof(relay), "%s[%s]", conf->myhostname, a->addr);
            else
                (void) str_format(relay, sizeof(relay), "%s[%s]:%d", a->host, a->addr,
                                  a->port);
            if ((fd = smtp_connect_addr(st, a, relay, why)) < 0) {
                msg_info("%s: %s", st->req->queue_id, why->data);
                strbuf_setf(st->site_reason, "%s", why->data);
                (void) str_copy(st->site_dsn, sizeof(st->site_dsn), "4.4.1");
                continue;
            }
            sess = smtp_session_new(fd, a, a->family == AF_UNIX ? conf->myhostname : a->host);
            (void) str_copy(sess->endp_label, sizeof(sess->endp_label), endp);
            rc = smtp_use_session(st, sess, last);
        }
        if (rc == SMTP_SESS_STOP || st->npending == 0) {
            smtp_session_done(st, sess);
            finished = 1;
        } else if (rc == SMTP_SESS_NEXT && sess->good) {
            smtp_session_quit(st, sess);
        }
        sess = smtp_session_free(sess);
    }
    strbuf_free(why);
    strbuf_free(prop);
    return finished || st->npending == 0;
}

/* smtp_try_dest_cache: a cached session for the whole destination. */
static int smtp_try_dest_cache(smtp_state *st, const smtp_addr_list *list)
{
    strbuf *endp = strbuf_new(64);
    strbuf *prop = strbuf_new(64);
    smtp_addr_entry a;
    smtp_session *sess;
    int     fd;
    int     done = 0;
    size_t  i;

    while (st->conf->cache_on_demand && st->dest_label[0] && smtp_tls_use_cache(st)
           && (fd = smtp_cache_find_dest(st->dest_label, endp, prop)) >= 0) {
        /* The endpoint label tells which address it is. */
        memset(&a, 0, sizeof(a));
        for (i = 0; i < list->count; i++) {
            char    label[SMTP_LABEL_MAX];

            smtp_endp_label(st, &list->addrs[i], label, sizeof(label));
            if (strcmp(label, endp->data) == 0) {
                a = list->addrs[i];
                break;
            }
        }
        if (i == list->count) {
            (void) close(fd);
            continue;
        }
        if ((sess = smtp_cached_session(st, &a, fd, prop->data)) == NULL)
            continue;
        (void) str_copy(sess->endp_label, sizeof(sess->endp_label), endp->data);
        /* The session outlives a's scope only through its copies. */
        sess->addr = &list->addrs[i];
        {
            int     rc = smtp_use_session(st, sess, 0);

            if (rc == SMTP_SESS_NEXT && sess->cached) {
                smtp_session_free(sess);
                continue;
            }
            if (rc == SMTP_SESS_STOP || st->npending == 0) {
                smtp_session_done(st, sess);
                done = 1;
            } else if (sess->good)
                smtp_session_quit(st, sess);
            smtp_session_free(sess);
        }
        break;
    }
    strbuf_free(endp);
    strbuf_free(prop);
    return done || st->npending == 0;
}

/* smtp_resolve_fail: a final DNS result for every open recipient. */
static void smtp_resolve_fail(smtp_state *st, int status, const char *why)
{
    size_t  i;

    for (i = 0; i < st->nrcpts; i++)
        smtp_rcpt_final(st, &st->rcpts[i], DELIVER_STAT_BOUNCE,
                        smtp_addr_status_dsn(status), "none", why);
}

/* smtp_fallback: the smtp_fallback_relay hosts, as one last phase. */
static void smtp_fallback(smtp_state *st)
{
    const smtp_config *conf = st->conf;
    strbuf *why = strbuf_new(64);
    smtp_addr_list list;
    smtp_nexthop nh;
    size_t  i;

    smtp_addr_list_init(&list);
    for (i = 0; i < conf->nfallback && st->npending > 0; i++) {
        smtp_addr_list one;
        size_t  j;

        if (smtp_addr_parse_nexthop(conf->fallback[i], 0, conf->default_port, &nh, why) < 0) {
            msg_warn("%s: %s", PARAM_SMTP_FALLBACK_RELAY, why->data);
            continue;
        }
        smtp_addr_list_init(&one);
        if (smtp_addr_resolve(conf->resolver, &nh, &one, why) == SMTP_ADDR_OK) {
            for (j = 0; j < one.count; j++)
                (void) smtp_addr_list_add(&list, one.addrs[j].host, one.addrs[j].addr,
                                          one.addrs[j].family, one.addrs[j].port,
                                          one.addrs[j].pref);
        } else
            msg_info("%s: fallback relay %s: %s", st->req->queue_id, conf->fallback[i],
                     why->data);
        smtp_addr_list_clear(&one);
    }
    if (list.count > 0)
        (void) smtp_walk(st, &list, 1);
    smtp_addr_list_clear(&list);
    strbuf_free(why);
}

/* smtp_connect_deliver: deliver the request to the nexthop's servers. */
void    smtp_connect_deliver(smtp_state *st, const smtp_nexthop *nh)
{
    const smtp_config *conf = st->conf;
    strbuf *why = strbuf_new(128);
    smtp_addr_list list;
    int     status;
    int     fallback = nh->mx && conf->nfallback > 0;

    smtp_addr_list_init(&list);
    status = smtp_addr_resolve(conf->resolver, nh, &list, why);
    switch (status) {
    case SMTP_ADDR_OK:
        if (smtp_try_dest_cache(st, &list))
            break;
        if (!smtp_walk(st, &list, !fallback) && fallback && st->npending > 0)
            smtp_fallback(st);
        break;
    case SMTP_ADDR_NOTFOUND:
        if (fallback) {
            strbuf_setf(st->site_reason, "%s", why->data);
            (void) str_copy(st->site_dsn, sizeof(st->site_dsn), "4.4.4");
            smtp_fallback(st);
            break;
        }
        smtp_resolve_fail(st, status, why->data);
        break;
    case SMTP_ADDR_NULLMX:
    case SMTP_ADDR_LOOP:
        smtp_resolve_fail(st, status, why->data);
        break;
    default:
        strbuf_setf(st->site_reason, "%s", why->data);
        (void) str_copy(st->site_dsn, sizeof(st->site_dsn), "4.4.3");
        if (fallback)
            smtp_fallback(st);
        break;
    }
    if (st->npending > 0 && !st->any_session && st->site_reason->len > 0)
        st->site_status = DELIVER_STAT_DEFER;
    smtp_addr_list_clear(&list);
    strbuf_free(why);
}
