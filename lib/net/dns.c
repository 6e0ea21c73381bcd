/*
 * dns: DNS lookups through c-ares behind a small Postern interface.
 *
 * Public functions:
 *   dns_resolver_new(loop, timeout_ms): a resolver whose lookups run on
 *     loop. The servers come from dns_resolver_servers (empty: the
 *     system's /etc/resolv.conf). Never returns NULL: when c-ares cannot be
 *     set up or the server list is bad, the error is logged once and every
 *     lookup of this resolver answers DNS_RETRY with that error text.
 *     timeout_ms (<= 0: DNS_DEFAULT_TIMEOUT_MS) is each lookup's deadline.
 *   dns_resolver_free(res): cancels the pending lookups (their callbacks
 *     run at once with DNS_RETRY, "lookup cancelled") and frees. Returns
 *     NULL. May be called from a lookup callback (it then completes when
 *     that callback returns).
 *   dns_lookup(res, name, type, cb, ctx): starts a lookup of name (no
 *     search domains; a final dot is allowed) for a DNS_T_xxx type.
 *     Returns 0; cb(status, reply, err, ctx) then runs exactly once, later,
 *     from the loop (never from inside dns_lookup), within the deadline.
 *     reply is valid during the callback only; it is never NULL, has the
 *     name asked for and holds records only with DNS_OK; err is a short
 *     text ("" on success). Returns -1 (no callback) only for
 *     an unsupported type or a NULL callback, which are caller bugs.
 *   dns_lookup_sync(name, type, timeout_ms, out, err): the same on a
 *     private loop, blocking at most timeout_ms (<= 0: the default).
 *     Returns DNS_OK with out filled, or another status with err set
 *     (out->count is then 0).
 *   dns_domain_exists(domain, err): DNS_OK when domain has an MX (other
 *     than a null MX), A or AAAA record, or is an address literal
 *     "[1.2.3.4]"/"[IPv6:...]"; DNS_NOTFOUND when it has none (also for a
 *     malformed or non-ASCII name, or a null MX, with err saying so);
 *     DNS_RETRY when that cannot be told now.
 *   dns_reverse_verify(addr, name_out): looks up the PTR names of addr
 *     ("1.2.3.4", "::1") and accepts the first whose A/AAAA records
 *     include addr: DNS_OK with the name (no final dot) in name_out.
 *     Otherwise name_out is "unknown" and the result is DNS_NOTFOUND (no
 *     PTR, no forward match, malformed name) or DNS_RETRY (a lookup
 *     failed temporarily), or DNS_INVALID (addr is not an address).
 *   dns_name_valid(name, err): 0 when name can be looked up (1..253
 *     bytes without a final dot, labels of 1..63 letters, digits, '-' or
 *     '_'), else -1 with the reason in err.
 *   dns_reply_parse(type, packet, len, out, err): parse a whole answer
 *     packet (as received) for records of type, as a lookup would: the
 *     lookup status, out filled with DNS_OK. For tests and fuzzing.
 *   dns_type_name(type), dns_status_name(status): names for logging;
 *   dns_type_parse("MX"): the DNS_T_xxx code, or -1.
 *
 * SECURITY: DNS answers are untrusted. c-ares parses the packets; every
 * text we keep is copied with a bound and bytes outside printable ASCII
 * become '?', so an answer cannot inject CR/LF into an SMTP reply or a
 * log line. A PTR name is used only when it has host name syntax, is not
 * an address in disguise, and resolves back to the client address.
 * Names asked for are checked (length, label length, characters) first.
 * LIMITS: DNS_REPLY_MAX records per reply, DNS_TEXT_MAX bytes per record
 * (reply->truncated says something was cut); every lookup has a
 * deadline; dns_reverse_verify tries at most DNS_PTR_MAX names and the
 * whole check shares one deadline.
 */
#include <arpa/inet.h>
#include <ares.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "dns.h"
#include "mem.h"
#include "msg.h"
#include "param.h"
#include "strbuf.h"
#include "strutil.h"

#define DNS_PTR_MAX     4               /* PTR names tried per address */
#define DNS_TRIES       2               /* c-ares tries per server */

struct dns_resolver {
    event_loop *loop;
    ares_channel channel;
    int     ok;                         /* channel is usable */
    char    error[256];                 /* why not, when !ok */
    int     timeout_ms;
    event_timer_id ares_timer;          /* c-ares retransmit/timeout */
    int     busy;                       /* inside c-ares or a callback */
    int     free_pending;               /* freed from inside a callback */
    struct dns_request *pending;        /* list of unfinished requests */
};

typedef struct dns_request {
    struct dns_request *next;
    struct dns_request *prev;
    dns_resolver *res;
    dns_callback cb;
    void   *ctx;
    int     delivered;                  /* callback has run */
    int     ares_done;                  /* c-ares is finished with it */
    int     status;
    char    err[128];
    event_timer_id timer;               /* deadline, or delivery */
    dns_reply reply;
} dns_request;

static int dns_lib_ready;
static int dns_config_warned;           /* a bad server list is logged once */

/* dns_lib_init: initialise c-ares once per process. */
static int dns_lib_init(void)
{
    if (!dns_lib_ready) {
        if (ares_library_init(ARES_LIB_INIT_ALL) != ARES_SUCCESS)
            return -1;
        dns_lib_ready = 1;
    }
    return 0;
}

/* dns_type_name: a record type's name. */
const char *dns_type_name(int type)
{
    switch (type) {
    case DNS_T_A:
        return "A";
    case DNS_T_AAAA:
        return "AAAA";
    case DNS_T_MX:
        return "MX";
    case DNS_T_TXT:
        return "TXT";
    case DNS_T_PTR:
        return "PTR";
    default:
        return "unknown";
    }
}

/* dns_type_parse: a record type's code from its name, or -1. */
int     dns_type_parse(const char *name)
{
    static const int types[] = {DNS_T_A, DNS_T_AAAA, DNS_T_MX, DNS_T_TXT, DNS_T_PTR};
    size_t  i;

    for (i = 0; i < sizeof(types) / sizeof(types[0]); i++)
        if (str_casecmp(name, dns_type_name(types[i])) == 0)
            return types[i];
    return -1;
}

/* dns_status_name: a status code's name. */
const char *dns_status_name(int status)
{
    switch (status) {
    case DNS_OK:
        return "ok";
    case DNS_NOTFOUND:
        return "notfound";
    case DNS_RETRY:
        return "retry";
    case DNS_INVALID:
        return "invalid";
    default:
        return "unknown";
    }
}

/* dns_text_copy: bounded copy of untrusted text, unsafe bytes as '?'. */
static int dns_text_copy(char *dst, size_t size, const unsigned char *src, size_t len)
{
    size_t  i;
    int     cut = 0;

    if (len > size - 1) {
        len = size - 1;
        cut = 1;
    }
    for (i = 0; i < len; i++)
        dst[i] = (src[i] < 0x20 || src[i] >= 0x7f) ? '?' : (char) src[i];
    dst[len] = 0;
    return cut;
}

/* dns_name_check: validate a name to look up; copies it without final dot. */
static int dns_name_check(const char *name, char *out, size_t size, strbuf *err)
{
    size_t  len = name ? strlen(name) : 0;
    size_t  label = 0;
    size_t  i;

    if (len > 0 && name[len - 1] == '.')
        len--;
    if (len == 0) {
        strbuf_setf(err, "empty domain name");
        return -1;
    }
    if (len > DNS_NAME_MAX || len >= size) {
        strbuf_setf(err, "domain name longer than %d bytes", DNS_NAME_MAX);
        return -1;
    }
    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char) name[i];

        if (c == '.') {
            if (label == 0) {
                strbuf_setf(err, "empty label in domain name");
                return -1;
            }
            label = 0;
            continue;
        }
        if (c >= 0x80) {
            strbuf_setf(err, "non-ASCII domain name (IDNA is not supported)");
            return -1;
        }
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
              || (c >= '0' && c <= '9') || c == '-' || c == '_')) {
            strbuf_setf(err, "bad character 0x%02x in domain name", c);
            return -1;
        }
        if (++label > 63) {
            strbuf_setf(err, "domain name label longer than 63 bytes");
            return -1;
        }
    }
    memcpy(out, name, len);
    out[len] = 0;
    return 0;
}

/* dns_name_valid: can name be looked up? 0, or -1 with err set. */
int     dns_name_valid(const char *name, strbuf *err)
{
    char    buf[DNS_NAME_MAX + 2];

    return dns_name_check(name, buf, sizeof(buf), err);
}

/* dns_add: append one record's text to a reply, counting truncation. */
static void dns_add_n(dns_reply *r, int type, unsigned ttl, int pref,
                      const char *text, size_t len)
{
    dns_record *rec;

    if (r->count >= DNS_REPLY_MAX) {
        r->truncated = 1;
        return;
    }
    rec = &r->rec[r->count++];
    rec->type = type;
    rec->ttl = ttl;
    rec->pref = pref;
    if (dns_text_copy(rec->text, sizeof(rec->text), (const unsigned char *) text, len))
        r->truncated = 1;
}

/* dns_add: append one NUL-terminated text as a record. */
static void dns_add(dns_reply *r, int type, unsigned ttl, int pref, const char *text)
{
    dns_add_n(r, type, ttl, pref, text, strlen(text));
}

/* dns_status_from_ares: map a c-ares status to ours, with a reason. */
static int dns_status_from_ares(int status, char *err, size_t size)
{
    switch (status) {
    case ARES_SUCCESS:
        err[0] = 0;
        return DNS_OK;
    case ARES_ENODATA:
        str_copy(err, size, "no records of that type");
        return DNS_NOTFOUND;
    case ARES_ENOTFOUND:
        str_copy(err, size, "domain not found (NXDOMAIN)");
        return DNS_NOTFOUND;
    case ARES_EBADNAME:
        str_copy(err, size, "malformed domain name");
        return DNS_INVALID;
    case ARES_ETIMEOUT:
        str_copy(err, size, "DNS lookup timed out");
        return DNS_RETRY;
    default:
        str_format(err, size, "DNS lookup failed: %s", ares_strerror(status));
        return DNS_RETRY;
    }
}

/* dns_parse: turn an answer packet into reply records. */
static int dns_parse(int type, const unsigned char *abuf, int alen,
                     dns_reply *r, char *err, size_t errsize)
{
    int     status = ARES_SUCCESS;
    char    text[DNS_TEXT_MAX];

    switch (type) {
    case DNS_T_A:{
            struct ares_addrttl a[DNS_REPLY_MAX + 1];
            int     n = DNS_REPLY_MAX + 1;
            int     i;

            status = ares_parse_a_reply(abuf, alen, NULL, a, &n);
            for (i = 0; status == ARES_SUCCESS && i < n; i++) {
                if (inet_ntop(AF_INET, &a[i].ipaddr, text, sizeof(text)))
                    dns_add(r, type, (unsigned) a[i].ttl, 0, text);
            }
            break;
        }
    case DNS_T_AAAA:{
            struct ares_addr6ttl a[DNS_REPLY_MAX + 1];
            int     n = DNS_REPLY_MAX + 1;
            int     i;

            status = ares_parse_aaaa_reply(abuf, alen, NULL, a, &n);
            for (i = 0; status == ARES_SUCCESS && i < n; i++) {
                if (inet_ntop(AF_INET6, &a[i].ip6addr, text, sizeof(text)))
                    dns_add(r, type, (unsigned) a[i].ttl, 0, text);
            }
            break;
        }
    case DNS_T_MX:{
            struct ares_mx_reply *mx = NULL;
            struct ares_mx_reply *p;

            status = ares_parse_mx_reply(abuf, alen, &mx);
            for (p = mx; status == ARES_SUCCESS && p; p = p->next) {
                if (str_format(text, sizeof(text), "%u %s", (unsigned) p->priority,
                               p->host) < 0)
                    r->truncated = 1;
                dns_add(r, type, 0, p->priority, text);
            }
            if (mx)
                ares_free_data(mx);
            break;
        }
    case DNS_T_TXT:{
            struct ares_txt_ext *txt = NULL;
            struct ares_txt_ext *p;
            strbuf *joined = strbuf_new(DNS_TEXT_MAX);

            status = ares_parse_txt_reply_ext(abuf, alen, &txt);
            for (p = txt; status == ARES_SUCCESS && p; p = p->next) {
                /* A record is one or more strings; join each record's. */
                if (p->record_start && p != txt) {
                    dns_add_n(r, type, 0, 0, joined->data, joined->len);
                    strbuf_reset(joined);
                }
                if (joined->len < DNS_TEXT_MAX)
                    strbuf_append(joined, p->txt,
                                  p->length < DNS_TEXT_MAX ? p->length : DNS_TEXT_MAX);
                else
                    r->truncated = 1;
            }
            /* Embedded NULs are kept in the length and become '?'. */
            if (status == ARES_SUCCESS && txt)
                dns_add_n(r, type, 0, 0, joined->data, joined->len);
            strbuf_free(joined);
            if (txt)
                ares_free_data(txt);
            break;
        }
    case DNS_T_PTR:{
            struct hostent *he = NULL;
            unsigned char dummy[16] = {0};
            char  **alias;

            status = ares_parse_ptr_reply(abuf, alen, dummy, 4, AF_INET, &he);
            if (status == ARES_SUCCESS && he) {
                /* c-ares puts the first name in h_name and all in h_aliases. */
                if (he->h_aliases && he->h_aliases[0]) {
                    for (alias = he->h_aliases; *alias; alias++)
                        dns_add(r, type, 0, 0, *alias);
                } else if (he->h_name) {
                    dns_add(r, type, 0, 0, he->h_name);
                }
            }
            if (he)
                ares_free_hostent(he);
            break;
        }
    default:
        status = ARES_ENOTIMP;
        break;
    }
    if (status != ARES_SUCCESS) {
        r->count = 0;
        return dns_status_from_ares(status, err, errsize);
    }
    if (r->count == 0) {
        str_copy(err, errsize, "no records of that type");
        return DNS_NOTFOUND;
    }
    err[0] = 0;
    return DNS_OK;
}

/* dns_reply_parse: parse an answer packet (for tests and fuzzing). */
int     dns_reply_parse(int type, const unsigned char *packet, size_t len,
                        dns_reply *out, strbuf *err)
{
    char    why[128];
    int     status;

    memset(out, 0, sizeof(*out));
    out->type = type;
    strbuf_reset(err);
    if (dns_type_parse(dns_type_name(type)) != type) {
        strbuf_setf(err, "unsupported DNS record type %d", type);
        return DNS_INVALID;
    }
    if (len > 65535) {
        strbuf_setf(err, "DNS packet longer than 65535 bytes");
        return DNS_RETRY;
    }
    status = dns_parse(type, packet, (int) len, out, why, sizeof(why));
    strbuf_setf(err, "%s", why);
    return status;
}

static void dns_ares_rearm(dns_resolver *res);
static void dns_resolver_destroy(dns_resolver *res);

/* dns_unlink: take a request off the resolver's pending list. */
static void dns_unlink(dns_request *req)
{
    dns_resolver *res = req->res;

    if (req->prev)
        req->prev->next = req->next;
    else if (res->pending == req)
        res->pending = req->next;
    if (req->next)
        req->next->prev = req->prev;
    req->next = req->prev = NULL;
}

/* dns_deliver: run the caller's callback once; free when c-ares is done. */
static void dns_deliver(dns_request *req)
{
    dns_resolver *res = req->res;

    if (req->delivered)
        return;
    req->delivered = 1;
    if (req->timer) {
        event_timer_cancel(res->loop, req->timer);
        req->timer = 0;
    }
    res->busy++;
    req->cb(req->status, &req->reply, req->err, req->ctx);
    res->busy--;
    if (req->ares_done) {
        dns_unlink(req);
        mem_free(req);
    }
}

/* dns_deliver_timer: deliver a result that arrived early, from the loop. */
static void dns_deliver_timer(event_loop *loop, event_timer_id id, void *ctx)
{
    dns_request *req = ctx;
    dns_resolver *res = req->res;

    (void) loop;
    (void) id;
    req->timer = 0;
    dns_deliver(req);
    if (res->free_pending && res->busy == 0)
        dns_resolver_destroy(res);
}

/* dns_deadline: a lookup's deadline passed; answer DNS_RETRY now. */
static void dns_deadline(event_loop *loop, event_timer_id id, void *ctx)
{
    dns_request *req = ctx;
    dns_resolver *res = req->res;

    (void) loop;
    (void) id;
    req->timer = 0;
    req->status = DNS_RETRY;
    req->reply.count = 0;
    str_copy(req->err, sizeof(req->err), "DNS lookup timed out");
    dns_deliver(req);
    if (res->free_pending && res->busy == 0)
        dns_resolver_destroy(res);
}

/* dns_ares_callback: c-ares finished a query (or was destroyed). */
static void dns_ares_callback(void *arg, int status, int timeouts,
                              unsigned char *abuf, int alen)
{
    dns_request *req = arg;
    dns_resolver *res = req->res;

    (void) timeouts;
    req->ares_done = 1;
    if (req->delivered) {
        dns_unlink(req);
        mem_free(req);
        return;
    }
    if (status == ARES_SUCCESS && abuf != NULL)
        req->status = dns_parse(req->reply.type, abuf, alen, &req->reply,
                                req->err, sizeof(req->err));
    else if (status == ARES_EDESTRUCTION || status == ARES_ECANCELLED) {
        req->status = DNS_RETRY;
        str_copy(req->err, sizeof(req->err), "lookup cancelled");
    } else
        req->status = dns_status_from_ares(status, req->err, sizeof(req->err));
    if (req->status != DNS_OK)
        req->reply.count = 0;
    if (req->timer == 0) {
        /* Called from inside dns_lookup(): deliver from the loop. */
        req->timer = event_timer_add(res->loop, 0, dns_deliver_timer, req);
        return;
    }
    dns_deliver(req);
}

/* dns_sock_read: a c-ares socket is readable. */
static void dns_sock_read(event_loop *loop, int fd, void *ctx)
{
    dns_resolver *res = ctx;

    (void) loop;
    res->busy++;
    ares_process_fd(res->channel, fd, ARES_SOCKET_BAD);
    res->busy--;
    if (res->free_pending && res->busy == 0)
        dns_resolver_destroy(res);
    else
        dns_ares_rearm(res);
}

/* dns_sock_write: a c-ares socket is writable. */
static void dns_sock_write(event_loop *loop, int fd, void *ctx)
{
    dns_resolver *res = ctx;

    (void) loop;
    res->busy++;
    ares_process_fd(res->channel, ARES_SOCKET_BAD, fd);
    res->busy--;
    if (res->free_pending && res->busy == 0)
        dns_resolver_destroy(res);
    else
        dns_ares_rearm(res);
}

/* dns_ares_tick: let c-ares handle retransmissions and timeouts. */
static void dns_ares_tick(event_loop *loop, event_timer_id id, void *ctx)
{
    dns_resolver *res = ctx;

    (void) loop;
    (void) id;
    res->ares_timer = 0;
    res->busy++;
    ares_process_fd(res->channel, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
    res->busy--;
    if (res->free_pending && res->busy == 0)
        dns_resolver_destroy(res);
    else
        dns_ares_rearm(res);
}

/* dns_ares_rearm: schedule the next c-ares timeout check. */
static void dns_ares_rearm(dns_resolver *res)
{
    struct timeval tv;
    struct timeval *tvp;
    long    ms;

    if (res->ares_timer) {
        event_timer_cancel(res->loop, res->ares_timer);
        res->ares_timer = 0;
    }
    if (!res->ok || res->pending == NULL)
        return;
    tvp = ares_timeout(res->channel, NULL, &tv);
    if (tvp == NULL)
        return;
    ms = (long) tvp->tv_sec * 1000 + tvp->tv_usec / 1000 + 1;
    res->ares_timer = event_timer_add(res->loop, ms, dns_ares_tick, res);
}

/* dns_sock_state: c-ares tells which sockets to watch. */
static void dns_sock_state(void *data, ares_socket_t fd, int readable, int writable)
{
    dns_resolver *res = data;

    if (readable)
        event_add_read(res->loop, fd, dns_sock_read, res);
    else
        event_remove_read(res->loop, fd);
    if (writable)
        event_add_write(res->loop, fd, dns_sock_write, res);
    else
        event_remove_write(res->loop, fd);
}

/* dns_servers_csv: dns_resolver_servers as the comma list c-ares wants. */
static void dns_servers_csv(strbuf *out)
{
    const char *const *items;
    size_t  n;
    size_t  i;

    strbuf_reset(out);
    items = param_list(PARAM_DNS_RESOLVER_SERVERS, &n);
    for (i = 0; items && i < n; i++) {
        if (i > 0)
            strbuf_putc(out, ',');
        strbuf_puts(out, items[i]);
    }
}

/* dns_resolver_new: a resolver on loop; errors make it answer DNS_RETRY. */
dns_resolver *dns_resolver_new(event_loop *loop, int timeout_ms)
{
    dns_resolver *res = mem_calloc(1, sizeof(*res));
    struct ares_options opts;
    int     optmask;
    int     status;
    strbuf *csv;

    res->loop = loop;
    res->timeout_ms = timeout_ms > 0 ? timeout_ms : DNS_DEFAULT_TIMEOUT_MS;
    if (dns_lib_init() < 0) {
        str_copy(res->error, sizeof(res->error), "cannot initialise c-ares");
        msg_warn("dns: %s", res->error);
        return res;
    }
    memset(&opts, 0, sizeof(opts));
    opts.flags = ARES_FLAG_NOSEARCH | ARES_FLAG_NOALIASES;
    /* Leave room for every try inside our own deadline. */
    opts.timeout = res->timeout_ms / (DNS_TRIES + 1);
    if (opts.timeout < 100)
        opts.timeout = 100;
    opts.tries = DNS_TRIES;
    opts.sock_state_cb = dns_sock_state;
    opts.sock_state_cb_data = res;
    opts.lookups = (char *) "b";
    optmask = ARES_OPT_FLAGS | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES
        | ARES_OPT_SOCK_STATE_CB | ARES_OPT_LOOKUPS;
    status = ares_init_options(&res->channel, &opts, optmask);
    if (status != ARES_SUCCESS) {
        str_format(res->error, sizeof(res->error), "cannot initialise resolver: %s",
                   ares_strerror(status));
        msg_warn("dns: %s", res->error);
        return res;
    }
    csv = strbuf_new(64);
    dns_servers_csv(csv);
    if (csv->len > 0
        && (status = ares_set_servers_ports_csv(res->channel, strbuf_str(csv))) != ARES_SUCCESS) {
        str_format(res->error, sizeof(res->error), "bad %s value \"%.100s\": %s",
                   PARAM_DNS_RESOLVER_SERVERS, strbuf_str(csv), ares_strerror(status));
        if (!dns_config_warned++)
            msg_warn("dns: %s", res->error);
        strbuf_free(csv);
        ares_destroy(res->channel);
        return res;
    }
    strbuf_free(csv);
    res->ok = 1;
    return res;
}

/* dns_resolver_destroy: really free (no callback is running). */
static void dns_resolver_destroy(dns_resolver *res)
{
    dns_request *req;

    res->busy++;
    if (res->ok) {
        /* Runs dns_ares_callback for each query with ARES_EDESTRUCTION. */
        ares_destroy(res->channel);
        res->ok = 0;
    }
    /* Requests c-ares no longer holds but whose delivery timer is pending. */
    while ((req = res->pending) != NULL) {
        req->ares_done = 1;
        if (!req->delivered) {
            req->status = DNS_RETRY;
            req->reply.count = 0;
            str_copy(req->err, sizeof(req->err), "lookup cancelled");
            dns_deliver(req);
        } else {
            dns_unlink(req);
            mem_free(req);
        }
    }
    if (res->ares_timer)
        event_timer_cancel(res->loop, res->ares_timer);
    mem_free(res);
}

/* dns_resolver_free: cancel pending lookups and free the resolver. */
dns_resolver *dns_resolver_free(dns_resolver *res)
{
    if (res == NULL)
        return NULL;
    if (res->busy > 0) {
        res->free_pending = 1;
        return NULL;
    }
    dns_resolver_destroy(res);
    return NULL;
}

/* dns_lookup: start an asynchronous lookup; cb runs once, later. */
int     dns_lookup(dns_resolver *res, const char *name, int type,
                   dns_callback cb, void *ctx)
{
    dns_request *req;
    strbuf *err;

    if (cb == NULL || dns_type_parse(dns_type_name(type)) != type)
        return -1;
    req = mem_calloc(1, sizeof(*req));
    req->res = res;
    req->cb = cb;
    req->ctx = ctx;
    req->reply.type = type;
    req->next = res->pending;
    if (res->pending)
        res->pending->prev = req;
    res->pending = req;

    err = strbuf_new(64);
    if (dns_name_check(name, req->reply.name, sizeof(req->reply.name), err) < 0) {
        req->status = DNS_INVALID;
        str_copy(req->err, sizeof(req->err), strbuf_str(err));
    } else if (!res->ok) {
        req->status = DNS_RETRY;
        str_copy(req->err, sizeof(req->err), res->error);
    } else {
        /* c-ares may call back at once; dns_ares_callback defers that. */
        res->busy++;
        ares_query(res->channel, req->reply.name, 1 /* class IN */ , type,
                   dns_ares_callback, req);
        res->busy--;
        if (!req->ares_done) {
            req->timer = event_timer_add(res->loop, res->timeout_ms, dns_deadline, req);
            dns_ares_rearm(res);
        }
        strbuf_free(err);
        return 0;
    }
    strbuf_free(err);
    req->ares_done = 1;
    req->timer = event_timer_add(res->loop, 0, dns_deliver_timer, req);
    return 0;
}

typedef struct dns_sync_state {
    int     done;
    int     status;
    dns_reply *out;
    strbuf *err;
} dns_sync_state;

/* dns_sync_done: store a synchronous lookup's result. */
static void dns_sync_done(int status, const dns_reply *reply, const char *err, void *ctx)
{
    dns_sync_state *st = ctx;

    st->done = 1;
    st->status = status;
    if (status == DNS_OK && reply)
        memcpy(st->out, reply, sizeof(*reply));
    else
        st->out->count = 0;
    strbuf_setf(st->err, "%s", err ? err : "");
}

/* dns_now_ms: monotonic milliseconds. */
static long long dns_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* dns_lookup_sync: a bounded blocking lookup on a private loop. */
int     dns_lookup_sync(const char *name, int type, int timeout_ms,
                        dns_reply *out, strbuf *err)
{
    event_loop *loop;
    dns_resolver *res;
    dns_sync_state st;
    long long deadline;
    long long now;

    memset(out, 0, sizeof(*out));
    out->type = type;
    if (name)
        str_copy(out->name, sizeof(out->name), name);
    if (timeout_ms <= 0)
        timeout_ms = DNS_DEFAULT_TIMEOUT_MS;
    memset(&st, 0, sizeof(st));
    st.out = out;
    st.err = err;
    strbuf_reset(err);
    loop = event_loop_new();
    res = dns_resolver_new(loop, timeout_ms);
    if (dns_lookup(res, name, type, dns_sync_done, &st) < 0) {
        dns_resolver_free(res);
        event_loop_free(loop);
        strbuf_setf(err, "unsupported DNS record type %d", type);
        return DNS_INVALID;
    }
    deadline = dns_now_ms() + timeout_ms + 1000;
    while (!st.done && (now = dns_now_ms()) < deadline) {
        if (event_loop_run_once(loop, (int) (deadline - now)) < 0 && errno != EINTR)
            break;
    }
    /* The lookup's own timer answers first; this only guards the loop. */
    dns_resolver_free(res);
    event_loop_free(loop);
    if (!st.done) {
        out->count = 0;
        strbuf_setf(err, "DNS lookup timed out");
        return DNS_RETRY;
    }
    return st.status;
}

/* dns_literal_ok: is text an address literal "[1.2.3.4]" / "[IPv6:...]"? */
static int dns_literal_ok(const char *text)
{
    char    buf[64];
    size_t  len = strlen(text);
    unsigned char bin[16];

    if (len < 3 || text[0] != '[' || text[len - 1] != ']' || len - 2 >= sizeof(buf))
        return 0;
    memcpy(buf, text + 1, len - 2);
    buf[len - 2] = 0;
    if (str_has_prefix(buf, "IPv6:") || str_has_prefix(buf, "ipv6:"))
        return inet_pton(AF_INET6, buf + 5, bin) == 1;
    return inet_pton(AF_INET, buf, bin) == 1;
}

/* dns_remaining: milliseconds left before deadline (at least 1). */
static int dns_remaining(long long deadline)
{
    long long left = deadline - dns_now_ms();

    return left < 1 ? 1 : (int) left;
}

/* dns_domain_exists: has domain an MX (not null), A or AAAA record? */
int     dns_domain_exists(const char *domain, strbuf *err)
{
    static const int types[] = {DNS_T_MX, DNS_T_A, DNS_T_AAAA};
    dns_reply *reply;
    char    name[DNS_NAME_MAX + 2];
    long long deadline = dns_now_ms() + DNS_DEFAULT_TIMEOUT_MS;
    int     retry = 0;
    size_t  i;
    size_t  j;
    int     status;

    strbuf_reset(err);
    if (domain && dns_literal_ok(domain))
        return DNS_OK;
    if (dns_name_check(domain, name, sizeof(name), err) < 0)
        return DNS_NOTFOUND;
    reply = mem_alloc(sizeof(*reply));
    for (i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
        status = dns_lookup_sync(name, types[i], dns_remaining(deadline), reply, err);
        if (status == DNS_OK) {
            if (types[i] == DNS_T_MX) {
                /* RFC 7505: a single MX "0 ." says the domain takes no mail. */
                for (j = 0; j < reply->count; j++) {
                    const char *host = strchr(reply->rec[j].text, ' ');

                    if (host && strcmp(host + 1, "") != 0 && strcmp(host + 1, ".") != 0)
                        break;
                }
                if (j == reply->count) {
                    mem_free(reply);
                    strbuf_setf(err, "domain %s does not accept mail (nullMX)", name);
                    return DNS_NOTFOUND;
                }
            }
            mem_free(reply);
            strbuf_reset(err);
            return DNS_OK;
        }
        if (status == DNS_RETRY)
            retry = 1;
    }
    mem_free(reply);
    if (retry) {
        strbuf_setf(err, "temporary failure looking up domain %s", name);
        return DNS_RETRY;
    }
    strbuf_setf(err, "domain %s not found", name);
    return DNS_NOTFOUND;
}

/* dns_ptr_name: the reverse lookup name of a binary address. */
static void dns_ptr_name(int family, const unsigned char *bin, strbuf *out)
{
    static const char hex[] = "0123456789abcdef";
    int     i;

    strbuf_reset(out);
    if (family == AF_INET) {
        strbuf_printf(out, "%u.%u.%u.%u.in-addr.arpa", bin[3], bin[2], bin[1], bin[0]);
        return;
    }
    for (i = 15; i >= 0; i--) {
        strbuf_putc(out, hex[bin[i] & 0xf]);
        strbuf_putc(out, '.');
        strbuf_putc(out, hex[bin[i] >> 4]);
        strbuf_putc(out, '.');
    }
    strbuf_puts(out, "ip6.arpa");
}

/* dns_addr_parse: text address to family + bytes (v4-mapped v6 as v4). */
static int dns_addr_parse(const char *addr, int *family, unsigned char *bin)
{
    static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

    if (addr == NULL)
        return -1;
    if (inet_pton(AF_INET, addr, bin) == 1) {
        *family = AF_INET;
        return 0;
    }
    if (inet_pton(AF_INET6, addr, bin) == 1) {
        if (memcmp(bin, mapped, sizeof(mapped)) == 0) {
            memmove(bin, bin + 12, 4);
            *family = AF_INET;
        } else
            *family = AF_INET6;
        return 0;
    }
    return -1;
}

/* dns_reverse_verify: PTR name of addr, confirmed by a forward lookup. */
int     dns_reverse_verify(const char *addr, strbuf *name_out)
{
    unsigned char bin[16];
    unsigned char fwd[16];
    int     family;
    strbuf *qname;
    strbuf *err;
    dns_reply *ptr;
    dns_reply *reply;
    char    host[DNS_NAME_MAX + 2];
    long long deadline = dns_now_ms() + DNS_DEFAULT_TIMEOUT_MS;
    int     status;
    int     result = DNS_NOTFOUND;
    size_t  i;
    size_t  j;

    strbuf_setf(name_out, "unknown");
    if (dns_addr_parse(addr, &family, bin) < 0)
        return DNS_INVALID;
    qname = strbuf_new(80);
    err = strbuf_new(64);
    ptr = mem_alloc(sizeof(*ptr));
    reply = mem_alloc(sizeof(*reply));
    dns_ptr_name(family, bin, qname);
    status = dns_lookup_sync(strbuf_str(qname), DNS_T_PTR, dns_remaining(deadline), ptr, err);
    if (status != DNS_OK) {
        result = (status == DNS_RETRY) ? DNS_RETRY : DNS_NOTFOUND;
        goto done;
    }
    for (i = 0; i < ptr->count && i < DNS_PTR_MAX; i++) {
        /* A name must look like a host name, not like an address. */
        if (dns_name_check(ptr->rec[i].text, host, sizeof(host), err) < 0
            || dns_addr_parse(host, &(int) {0}, fwd) == 0)
            continue;
        status = dns_lookup_sync(host, family == AF_INET ? DNS_T_A : DNS_T_AAAA,
                                 dns_remaining(deadline), reply, err);
        if (status == DNS_RETRY) {
            result = DNS_RETRY;
            continue;
        }
        if (status != DNS_OK)
            continue;
        for (j = 0; j < reply->count; j++) {
            if (inet_pton(family, reply->rec[j].text, fwd) == 1
                && memcmp(fwd, bin, family == AF_INET ? 4 : 16) == 0) {
                strbuf_setf(name_out, "%s", host);
                result = DNS_OK;
                goto done;
            }
        }
    }
done:
    mem_free(reply);
    mem_free(ptr);
    strbuf_free(err);
    strbuf_free(qname);
    return result;
}
