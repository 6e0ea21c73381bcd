/*
 * master_listen: open and close the listening endpoints of a service.
 *
 * Functions (master.h):
 *   master_listen_parse_inet(service, &host, &port, err): split an inet
 *     service column: "port", "host:port" or "[ipv6]:port". host is NULL
 *     when none was given; both results are new strings for the caller to
 *     free. Returns 0, or -1 with err.
 *   master_listen_signature(entry, err): a new string that names what
 *     entry's listeners are ("inet 127.0.0.1:2525 [::1]:2525",
 *     "unix private/cleanup", ...): two services with equal signatures
 *     can share listeners across a reload. NULL with err when the
 *     addresses cannot be worked out.
 *   master_listen_open(svc, err): open every listener of svc into
 *     svc->fds (non-blocking, close-on-exec) and set svc->sock_path for
 *     unix, unix-dgram and fifo services. inet: the service's own host,
 *     else each inet_interfaces address, filtered by inet_protocols, with
 *     SO_REUSEADDR and IPV6_V6ONLY; unix and unix-dgram: a socket
 *     private/NAME or public/NAME (relative to the current directory,
 *     which master makes queue_directory) with mode MASTER_SOCKET_MODE;
 *     fifo: public/NAME or private/NAME with mode MASTER_FIFO_MODE, opened
 *     read-write so it never reports EOF. A stale socket or fifo in the
 *     way is removed; anything else in the way is an error. Returns 0, or
 *     -1 with err and nothing left open.
 *   master_listen_close(svc): close the listeners (the caller has taken
 *     them out of the event loop) and remove the socket or fifo.
 *
 * inet_interfaces items: "all" (wildcard), "loopback-only" or "localhost"
 * (127.0.0.1 and ::1), or numeric addresses (IPv6 with or without
 * brackets). Host names are refused: master never asks DNS. The host in a
 * service column may be a numeric address or "localhost". A port is a
 * number or a name from the services database (not DNS).
 *
 * SECURITY: runs as root in master. Paths are fixed prefixes plus a
 * master.cf service name that mastercf already checked holds no '/'.
 * LIMITS: MASTER_LISTEN_MAX listeners per service; UNIX paths must fit
 * sun_path.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "master.h"
#include "mem.h"
#include "msg.h"
#include "numparse.h"
#include "param.h"
#include "param_names.h"
#include "strbuf.h"
#include "strutil.h"

/* One resolved inet address. */
struct master_addr {
    struct sockaddr_storage ss;
    socklen_t len;
    int     optional;                   /* from a keyword: skip when the
                                         * protocol is missing */
};

/* master_listen_fail: set err; returns -1. */
static int master_listen_fail(strbuf *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int master_listen_fail(strbuf *err, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    (void) strbuf_vsetf(err, fmt, ap);
    va_end(ap);
    return -1;
}

/* master_listen_parse_inet: split [host:]port. */
int master_listen_parse_inet(const char *service, char **host, char **port,
                             strbuf *err)
{
    const char *colon;

    *host = *port = NULL;
    if (service[0] == '[') {
        const char *close = strchr(service, ']');

        if (close == NULL || close[1] != ':' || close[2] == 0)
            return master_listen_fail(err, "bad inet service \"%s\": use [address]:port",
                                      service);
        *host = mem_strndup(service + 1, (size_t) (close - service - 1));
        *port = mem_strdup(close + 2);
        return 0;
    }
    colon = strrchr(service, ':');
    if (colon == NULL) {
        *port = mem_strdup(service);
    } else {
        if (strchr(service, ':') != colon)
            return master_listen_fail(err, "bad inet service \"%s\": write an IPv6 "
                                      "address as [address]:port", service);
        if (colon == service || colon[1] == 0)
            return master_listen_fail(err, "bad inet service \"%s\": use host:port", service);
        *host = mem_strndup(service, (size_t) (colon - service));
        *port = mem_strdup(colon + 1);
    }
    return 0;
}

/* master_port_number: a port number or service name to a port. */
static int master_port_number(const char *port, int *out, strbuf *err)
{
    long    num;
    struct servent *se;

    if (num_parse_long(port, 1, 65535, &num) == 0) {
        *out = (int) num;
        return 0;
    }
    if (*port >= '0' && *port <= '9')
        return master_listen_fail(err, "bad port \"%s\": need 1..65535", port);
    if ((se = getservbyname(port, "tcp")) == NULL)
        return master_listen_fail(err, "unknown service port name \"%s\"", port);
    *out = ntohs((uint16_t) se->s_port);
    return 0;
}

/* master_add_addr: append one address (a numeric IPv4 or IPv6 text, or
 * NULL for the family's wildcard) if its protocol is enabled. */
static int master_add_addr(struct master_addr *addrs, size_t *n, int family,
                           const char *text, int port, int optional,
                           int want4, int want6, strbuf *err)
{
    struct master_addr a;
    size_t  i;

    if ((family == AF_INET && !want4) || (family == AF_INET6 && !want6))
        return 0;
    memset(&a, 0, sizeof(a));
    a.optional = optional;
    if (family == AF_INET) {
        struct sockaddr_in *sin = (struct sockaddr_in *) &a.ss;

        sin->sin_family = AF_INET;
        sin->sin_port = htons((uint16_t) port);
        if (text == NULL)
            sin->sin_addr.s_addr = htonl(INADDR_ANY);
        else if (inet_pton(AF_INET, text, &sin->sin_addr) != 1)
            return master_listen_fail(err, "bad IPv4 address \"%s\"", text);
        a.len = sizeof(*sin);
    } else {
        struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *) &a.ss;

        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons((uint16_t) port);
        if (text == NULL)
            sin6->sin6_addr = in6addr_any;
        else if (inet_pton(AF_INET6, text, &sin6->sin6_addr) != 1)
            return master_listen_fail(err, "bad IPv6 address \"%s\"", text);
        a.len = sizeof(*sin6);
    }
    for (i = 0; i < *n; i++)
        if (addrs[i].len == a.len && memcmp(&addrs[i].ss, &a.ss, a.len) == 0)
            return 0;
    if (*n >= MASTER_LISTEN_MAX)
        return master_listen_fail(err, "more than %d addresses to listen on",
                                  MASTER_LISTEN_MAX);
    addrs[(*n)++] = a;
    return 0;
}

/* master_add_host: add the addresses one host word stands for. */
static int master_add_host(struct master_addr *addrs, size_t *n, const char *host,
                           int port, int want4, int want6, int allow_all, strbuf *err)
{
    char    buf[INET6_ADDRSTRLEN + 2];
    size_t  len = strlen(host);
    struct in_addr probe;

    if (allow_all && str_casecmp(host, "all") == 0)
        return master_add_addr(addrs, n, AF_INET, NULL, port, 1, want4, want6, err) < 0
            || master_add_addr(addrs, n, AF_INET6, NULL, port, 1, want4, want6, err) < 0
            ? -1 : 0;
    if (str_casecmp(host, "loopback-only") == 0 || str_casecmp(host, "localhost") == 0)
        return master_add_addr(addrs, n, AF_INET, "127.0.0.1", port, 1, want4, want6, err) < 0
            || master_add_addr(addrs, n, AF_INET6, "::1", port, 1, want4, want6, err) < 0
            ? -1 : 0;
    if (len >= 2 && host[0] == '[' && host[len - 1] == ']') {
        if (len - 2 >= sizeof(buf))
            return master_listen_fail(err, "bad address \"%s\"", host);
        memcpy(buf, host + 1, len - 2);
        buf[len - 2] = 0;
        return master_add_addr(addrs, n, AF_INET6, buf, port, 0, 1, 1, err);
    }
    if (inet_pton(AF_INET, host, &probe) == 1)
        return master_add_addr(addrs, n, AF_INET, host, port, 0, 1, 1, err);
    if (strchr(host, ':'))
        return master_add_addr(addrs, n, AF_INET6, host, port, 0, 1, 1, err);
    return master_listen_fail(err, "\"%s\" is not a numeric address; master does not "
                              "look up host names (use an address, localhost, "
                              "loopback-only or all)", host);
}

/* master_inet_resolve: the addresses an inet service listens on. */
static int master_inet_resolve(const char *service, struct master_addr *addrs,
                               size_t *n, strbuf *err)
{
    char   *host;
    char   *port;
    int     portnum = 0;
    int     want4 = 0;
    int     want6 = 0;
    size_t  count;
    size_t  i;
    const char *const *items;
    int     rc = 0;

    *n = 0;
    if (master_listen_parse_inet(service, &host, &port, err) < 0)
        return -1;
    if (master_port_number(port, &portnum, err) < 0) {
        mem_free(host);
        mem_free(port);
        return -1;
    }
    items = param_list(PARAM_INET_PROTOCOLS, &count);
    for (i = 0; i < count; i++) {
        if (str_casecmp(items[i], "all") == 0)
            want4 = want6 = 1;
        else if (str_casecmp(items[i], "ipv4") == 0)
            want4 = 1;
        else if (str_casecmp(items[i], "ipv6") == 0)
            want6 = 1;
        else
            rc = master_listen_fail(err, "bad inet_protocols value \"%s\": use all, "
                                    "ipv4 or ipv6", items[i]);
    }
    if (rc == 0 && host != NULL) {
        rc = master_add_host(addrs, n, host, portnum, want4, want6, 0, err);
    } else if (rc == 0) {
        items = param_list(PARAM_INET_INTERFACES, &count);
        for (i = 0; i < count && rc == 0; i++)
            rc = master_add_host(addrs, n, items[i], portnum, want4, want6, 1, err);
    }
    if (rc == 0 && *n == 0)
        rc = master_listen_fail(err, "inet service %s: no address to listen on "
                                "(check inet_interfaces and inet_protocols)", service);
    mem_free(host);
    mem_free(port);
    return rc;
}

/* master_addr_text: "1.2.3.4:25" or "[::1]:25". */
static void master_addr_text(const struct master_addr *a, strbuf *out)
{
    char    buf[INET6_ADDRSTRLEN];

    if (a->ss.ss_family == AF_INET) {
        const struct sockaddr_in *sin = (const struct sockaddr_in *) &a->ss;

        (void) inet_ntop(AF_INET, &sin->sin_addr, buf, sizeof(buf));
        (void) strbuf_printf(out, "%s:%d", buf, ntohs(sin->sin_port));
    } else {
        const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *) &a->ss;

        (void) inet_ntop(AF_INET6, &sin6->sin6_addr, buf, sizeof(buf));
        (void) strbuf_printf(out, "[%s]:%d", buf, ntohs(sin6->sin6_port));
    }
}

/* master_local_path: "private/NAME" or "public/NAME". */
static char *master_local_path(const char *name, int private_)
{
    return str_concat(private_ ? MASTER_DIR_PRIVATE : MASTER_DIR_PUBLIC, "/", name,
                      (char *) NULL);
}

/* master_listen_signature: describe entry's listeners. */
char   *master_listen_signature(const mastercf_entry *entry, strbuf *err)
{
    strbuf *sig = strbuf_new(64);
    struct master_addr addrs[MASTER_LISTEN_MAX];
    size_t  n;
    size_t  i;

    (void) strbuf_puts(sig, entry->type);
    if (entry->type_code == MASTERCF_TYPE_INET) {
        if (master_inet_resolve(entry->service, addrs, &n, err) < 0) {
            strbuf_free(sig);
            return NULL;
        }
        for (i = 0; i < n; i++) {
            (void) strbuf_putc(sig, ' ');
            master_addr_text(&addrs[i], sig);
        }
    } else {
        char   *path = master_local_path(entry->service, entry->private_);

        (void) strbuf_printf(sig, " %s", path);
        mem_free(path);
    }
    return strbuf_detach(sig, NULL);
}

/* master_clear_path: remove a stale socket or fifo at path. */
static int master_clear_path(const char *path, int want_fifo, strbuf *err)
{
    struct stat st;

    if (lstat(path, &st) < 0) {
        if (errno == ENOENT)
            return 0;
        return master_listen_fail(err, "%s: %s", path, strerror(errno));
    }
    if ((want_fifo && !S_ISFIFO(st.st_mode) && !S_ISSOCK(st.st_mode))
        || (!want_fifo && !S_ISSOCK(st.st_mode) && !S_ISFIFO(st.st_mode)))
        return master_listen_fail(err, "%s exists and is not a socket or fifo; "
                                  "remove it", path);
    if (unlink(path) < 0 && errno != ENOENT)
        return master_listen_fail(err, "remove %s: %s", path, strerror(errno));
    return 0;
}

/* master_open_unix: bind a UNIX socket (stream or datagram) at path. */
static int master_open_unix(const char *path, int socktype, strbuf *err)
{
    struct sockaddr_un sun;
    int     fd;

    memset(&sun, 0, sizeof(sun));
    sun.sun_family = AF_UNIX;
    if (str_copy(sun.sun_path, sizeof(sun.sun_path), path) < 0)
        return master_listen_fail(err, "socket path too long: %s", path);
    if (master_clear_path(path, 0, err) < 0)
        return -1;
    if ((fd = socket(AF_UNIX, socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)) < 0)
        return master_listen_fail(err, "socket: %s", strerror(errno));
    if (bind(fd, (struct sockaddr *) &sun, sizeof(sun)) < 0
        || chmod(path, MASTER_SOCKET_MODE) < 0
        || (socktype == SOCK_STREAM && listen(fd, SOMAXCONN) < 0)) {
        (void) master_listen_fail(err, "listen on %s: %s", path, strerror(errno));
        (void) close(fd);
        return -1;
    }
    return fd;
}

/* master_open_fifo: create and open a fifo at path. */
static int master_open_fifo(const char *path, strbuf *err)
{
    int     fd;

    if (master_clear_path(path, 1, err) < 0)
        return -1;
    if (mkfifo(path, MASTER_FIFO_MODE) < 0 || chmod(path, MASTER_FIFO_MODE) < 0)
        return master_listen_fail(err, "mkfifo %s: %s", path, strerror(errno));
    if ((fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC)) < 0)
        return master_listen_fail(err, "open %s: %s", path, strerror(errno));
    return fd;
}

/* master_open_inet: one TCP listener. Returns the fd, -1 on error, -2
 * when an optional address's protocol is not available. */
static int master_open_inet(const struct master_addr *a, strbuf *err)
{
    strbuf *text = strbuf_new(64);
    int     fd;
    int     on = 1;

    master_addr_text(a, text);
    if ((fd = socket(a->ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)) < 0) {
        if (a->optional && (errno == EAFNOSUPPORT || errno == EPROTONOSUPPORT)) {
            msg_warn("%s: protocol not supported by the kernel; not listening there",
                     strbuf_str(text));
            strbuf_free(text);
            return -2;
        }
        (void) master_listen_fail(err, "socket for %s: %s", strbuf_str(text), strerror(errno));
        strbuf_free(text);
        return -1;
    }
    (void) setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
    if (a->ss.ss_family == AF_INET6)
        (void) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on));
    if (bind(fd, (const struct sockaddr *) &a->ss, a->len) < 0) {
        if (a->optional && a->ss.ss_family == AF_INET6 && errno == EADDRNOTAVAIL) {
            msg_warn("%s: address not available; not listening there", strbuf_str(text));
            (void) close(fd);
            strbuf_free(text);
            return -2;
        }
        (void) master_listen_fail(err, "bind %s: %s", strbuf_str(text), strerror(errno));
        (void) close(fd);
        strbuf_free(text);
        return -1;
    }
    if (listen(fd, SOMAXCONN) < 0) {
        (void) master_listen_fail(err, "listen %s: %s", strbuf_str(text), strerror(errno));
        (void) close(fd);
        strbuf_free(text);
        return -1;
    }
    strbuf_free(text);
    return fd;
}

/* master_listen_open: open every listener of svc. */
int master_listen_open(master_service *svc, strbuf *err)
{
    int     fd;

    svc->nfds = 0;
    switch (svc->type) {
    case MASTERCF_TYPE_INET:{
            struct master_addr addrs[MASTER_LISTEN_MAX];
            size_t  n;
            size_t  i;

            if (master_inet_resolve(svc->name, addrs, &n, err) < 0)
                return -1;
            for (i = 0; i < n; i++) {
                if ((fd = master_open_inet(&addrs[i], err)) == -2)
                    continue;
                if (fd < 0) {
                    master_listen_close(svc);
                    return -1;
                }
                svc->fds[svc->nfds++] = fd;
            }
            if (svc->nfds == 0)
                return master_listen_fail(err, "inet service %s: no usable address",
                                          svc->name);
            return 0;
        }
    case MASTERCF_TYPE_UNIX:
    case MASTERCF_TYPE_PASS:
    case MASTERCF_TYPE_UNIX_DGRAM:
        svc->sock_path = master_local_path(svc->name, svc->private_);
        fd = master_open_unix(svc->sock_path, svc->type == MASTERCF_TYPE_UNIX_DGRAM ?
                              SOCK_DGRAM : SOCK_STREAM, err);
        break;
    case MASTERCF_TYPE_FIFO:
        svc->sock_path = master_local_path(svc->name, svc->private_);
        fd = master_open_fifo(svc->sock_path, err);
        break;
    default:
        return master_listen_fail(err, "service %s: unsupported type", svc->name);
    }
    if (fd < 0) {
        svc->sock_path = mem_free(svc->sock_path);
        return -1;
    }
    svc->fds[svc->nfds++] = fd;
    return 0;
}

/* master_listen_close: close svc's listeners and remove its socket. */
void master_listen_close(master_service *svc)
{
    size_t  i;

    for (i = 0; i < svc->nfds; i++)
        (void) close(svc->fds[i]);
    svc->nfds = 0;
    if (svc->sock_path) {
        (void) unlink(svc->sock_path);
        svc->sock_path = mem_free(svc->sock_path);
    }
}
