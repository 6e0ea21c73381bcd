/*
 * smtp_addr: from a delivery nexthop to the ordered list of addresses
 * the SMTP/LMTP client tries (forms and rules in smtp_addr.h).
 *
 * Public functions:
 *   smtp_addr_parse_nexthop(nexthop, lmtp, default_port, out, err): parse
 *     a nexthop into out. lmtp allows "unix:/path" and disables MX
 *     lookups. Returns 0, or -1 with err saying what is wrong (empty,
 *     bad brackets, bad port, bad host name, "unix:" for SMTP, ...).
 *   smtp_addr_parse_protocols(items, n, &bits, err): inet_protocols
 *     ("all", "ipv4", "ipv6", combinations) into SMTP_ADDR_PROTO_ bits;
 *     -1 with err on an unknown word or an empty list.
 *   smtp_addr_parse_preference(text, &pref, err): smtp_address_preference
 *     ("any", "ipv4", "ipv6"); -1 with err otherwise.
 *   smtp_addr_parse_lookup(items, n, &bits, err): smtp_host_lookup
 *     ("dns", "native", both); -1 with err otherwise.
 *   smtp_addr_resolver_new(cfg): a resolver with its own answer cache;
 *     cfg is copied (myhostname too). Never returns NULL.
 *     smtp_addr_resolver_free(res) returns NULL.
 *   smtp_addr_resolve(res, nh, out, why): clears out, then fills it with
 *     the addresses to try, best first. Returns SMTP_ADDR_OK (out not
 *     empty), or SMTP_ADDR_NOTFOUND / SMTP_ADDR_RETRY / SMTP_ADDR_NULLMX
 *     / SMTP_ADDR_LOOP with why holding the reason in Postfix's words
 *     ("Host or domain name not found. Name service error for name=X
 *     type=MX: Host not found, try again"). A UNIX nexthop yields one
 *     AF_UNIX entry. Never touches the network for literals and paths.
 *   smtp_addr_cache_count(res): cached answers (tests).
 *   smtp_addr_list_init/clear/add: the list container (add returns -1
 *     when SMTP_ADDR_LIST_MAX entries are there, or texts are too long).
 *   smtp_addr_status_dsn(status): the DSN code for a failure status
 *     (5.4.4, 4.4.3, 5.1.10, 5.4.6); smtp_addr_status_name for logs.
 *
 * Decisions: a host lookup with smtp_host_lookup "dns, native" uses
 * getaddrinfo() only when DNS says the host does not exist. An MX host
 * name that is not a valid host name is skipped with a warning. When no
 * MX host has an address, the result is RETRY if any of their lookups
 * failed temporarily, NOTFOUND otherwise. The loop check compares MX host
 * names with myhostname only (not interface addresses). MX answers are
 * cached for SMTP_ADDR_MX_TTL seconds (dns.h gives no MX TTL), A/AAAA
 * answers for their TTL up to SMTP_ADDR_CACHE_TTL_MAX, "not found" for
 * SMTP_ADDR_NEG_TTL; temporary failures are never cached.
 *
 * SECURITY: nexthops come from qmgr (transport maps, relayhost: admin
 * data) and DNS answers are untrusted: names are checked with
 * dns_name_valid before they are looked up or logged, texts are copied
 * with bounds, and nothing here reaches msg_fatal.
 * LIMITS: SMTP_ADDR_LIST_MAX addresses, DNS_REPLY_MAX records per answer,
 * SMTP_ADDR_CACHE_MAX cached answers (the cache is emptied when full),
 * each lookup bounded by dns_timeout_ms (getaddrinfo has the system's
 * resolver timeouts).
 */
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "dns.h"
#include "htable.h"
#include "mem.h"
#include "msg.h"
#include "numparse.h"
#include "smtp_addr.h"
#include "strbuf.h"
#include "strutil.h"

struct smtp_addr_resolver {
    smtp_addr_config cfg;
    char   *myhostname;
    htable *cache;                      /* "type:name" -> smtp_addr_cached */
    unsigned long rnd;                  /* xorshift state */
};

typedef struct smtp_addr_cached {
    int     status;                     /* DNS_OK or DNS_NOTFOUND */
    time_t  expires;
    char    err[160];
    dns_reply reply;
} smtp_addr_cached;

/* One MX host while the list is built. */
typedef struct smtp_addr_mx {
    int     pref;
    char    host[SMTP_ADDR_HOST_MAX];
} smtp_addr_mx;

/* smtp_addr_status_dsn: DSN code for a resolution failure. */
const char *smtp_addr_status_dsn(int status)
{
    switch (status) {
    case SMTP_ADDR_OK:
        return "2.0.0";
    case SMTP_ADDR_NOTFOUND:
        return "5.4.4";
    case SMTP_ADDR_NULLMX:
        return "5.1.10";
    case SMTP_ADDR_LOOP:
        return "5.4.6";
    default:
        return "4.4.3";
    }
}

/* smtp_addr_status_name: a status for logs. */
const char *smtp_addr_status_name(int status)
{
    switch (status) {
    case SMTP_ADDR_OK:
        return "ok";
    case SMTP_ADDR_NOTFOUND:
        return "not found";
    case SMTP_ADDR_NULLMX:
        return "null MX";
    case SMTP_ADDR_LOOP:
        return "mail loop";
    default:
        return "try again";
    }
}

/* smtp_addr_list_init: an empty list. */
void    smtp_addr_list_init(smtp_addr_list *list)
{
    list->addrs = NULL;
    list->count = 0;
    list->size = 0;
}

/* smtp_addr_list_clear: free the entries; the list stays usable. */
void    smtp_addr_list_clear(smtp_addr_list *list)
{
    list->addrs = mem_free(list->addrs);
    list->count = 0;
    list->size = 0;
}

/* smtp_addr_list_add: append one address; -1 when full or too long. */
int     smtp_addr_list_add(smtp_addr_list *list, const char *host,
                           const char *addr, int family, int port, int pref)
{
    smtp_addr_entry *e;

    if (list->count >= SMTP_ADDR_LIST_MAX)
        return -1;
    if (list->count == list->size) {
        list->size = list->size ? list->size * 2 : 8;
        list->addrs = mem_realloc(list->addrs, list->size * sizeof(*list->addrs));
    }
    e = &list->addrs[list->count];
    if (str_copy(e->host, sizeof(e->host), host) < 0
        || str_copy(e->addr, sizeof(e->addr), addr) < 0)
        return -1;
    e->family = family;
    e->port = port;
    e->pref = pref;
    list->count++;
    return 0;
}

/* smtp_addr_parse_port: a port number or service name. */
static int smtp_addr_parse_port(const char *text, int *port, strbuf *err)
{
    long    num;
    struct servent *se;

    if (*text == 0) {
        strbuf_setf(err, "empty port");
        return -1;
    }
    if (text[0] >= '0' && text[0] <= '9') {
        if (num_parse_long(text, 1, 65535, &num) < 0) {
            strbuf_setf(err, "bad port number \"%.20s\"", text);
            return -1;
        }
        *port = (int) num;
        return 0;
    }
    if (strlen(text) > 32 || (se = getservbyname(text, "tcp")) == NULL) {
        strbuf_setf(err, "unknown service \"%.40s\"", text);
        return -1;
    }
    *port = ntohs((unsigned short) se->s_port);
    return 0;
}

/* smtp_addr_literal: is text an IPv4/IPv6 address? Returns the family. */
static int smtp_addr_literal(const char *text)
{
    unsigned char bin[16];

    if (inet_pton(AF_INET, text, bin) == 1)
        return AF_INET;
    if (inet_pton(AF_INET6, text, bin) == 1)
        return AF_INET6;
    return 0;
}

/* smtp_addr_parse_inet: "[host]:port", "host:port" and friends. */
static int smtp_addr_parse_inet(const char *text, int lmtp, int default_port,
                                smtp_nexthop *out, strbuf *err)
{
    char    host[SMTP_ADDR_HOST_MAX + 8];
    const char *port = NULL;
    const char *end;
    size_t  len;

    out->kind = SMTP_NEXTHOP_INET;
    out->port = default_port;
    if (*text == '[') {
        if ((end = strchr(text, ']')) == NULL) {
            strbuf_setf(err, "missing \"]\"");
            return -1;
        }
        len = (size_t) (end - text - 1);
        if (end[1] == ':')
            port = end + 2;
        else if (end[1] != 0) {
            strbuf_setf(err, "unexpected text after \"]\"");
            return -1;
        }
        out->mx = 0;
        text++;
        if (len > 5 && strncasecmp(text, "ipv6:", 5) == 0) {
            text += 5;
            len -= 5;
        }
    } else {
        end = strchr(text, ':');
        if (end && strchr(end + 1, ':')) {
            strbuf_setf(err, "IPv6 addresses must be written in brackets");
            return -1;
        }
        len = end ? (size_t) (end - text) : strlen(text);
        if (end)
            port = end + 1;
        out->mx = !lmtp;
    }
    if (len == 0) {
        strbuf_setf(err, "empty host name");
        return -1;
    }
    if (len >= sizeof(out->host)) {
        strbuf_setf(err, "host name too long");
        return -1;
    }
    memcpy(host, text, len);
    host[len] = 0;
    if (port && smtp_addr_parse_port(port, &out->port, err) < 0)
        return -1;
    if (smtp_addr_literal(host)) {
        out->literal = 1;
        out->mx = 0;
    } else {
        if (dns_name_valid(host, err) < 0)
            return -1;
        if (host[len - 1] == '.')
            host[len - 1] = 0;
    }
    return str_copy(out->host, sizeof(out->host), host);
}

/* smtp_addr_parse_nexthop: parse one nexthop. */
int     smtp_addr_parse_nexthop(const char *nexthop, int lmtp, int default_port,
                                smtp_nexthop *out, strbuf *err)
{
    memset(out, 0, sizeof(*out));
    strbuf_reset(err);
    if (nexthop == NULL || *nexthop == 0) {
        strbuf_setf(err, "empty nexthop");
        return -1;
    }
    if (strncasecmp(nexthop, "unix:", 5) == 0) {
        if (!lmtp) {
            strbuf_setf(err, "nexthop \"%.100s\": unix: is for LMTP only", nexthop);
            return -1;
        }
        out->kind = SMTP_NEXTHOP_UNIX;
        if (nexthop[5] == 0 || str_copy(out->path, sizeof(out->path), nexthop + 5) < 0) {
            strbuf_setf(err, "nexthop \"%.100s\": empty or too long socket path",
                        nexthop);
            return -1;
        }
        return 0;
    }
    if (strncasecmp(nexthop, "inet:", 5) == 0)
        nexthop += 5;
    if (smtp_addr_parse_inet(nexthop, lmtp, default_port, out, err) < 0) {
        strbuf *why = strbuf_new(64);

        strbuf_set(why, err->data, err->len);
        strbuf_setf(err, "bad nexthop \"%.100s\": %s", nexthop, why->data);
        strbuf_free(why);
        return -1;
    }
    return 0;
}

/* smtp_addr_parse_protocols: inet_protocols words into bits. */
int     smtp_addr_parse_protocols(const char *const *items, size_t count,
                                  int *out, strbuf *err)
{
    size_t  i;
    int     bits = 0;

    for (i = 0; i < count; i++) {
        if (strcasecmp(items[i], "all") == 0)
            bits |= SMTP_ADDR_PROTO_IPV4 | SMTP_ADDR_PROTO_IPV6;
        else if (strcasecmp(items[i], "ipv4") == 0)
            bits |= SMTP_ADDR_PROTO_IPV4;
        else if (strcasecmp(items[i], "ipv6") == 0)
            bits |= SMTP_ADDR_PROTO_IPV6;
        else {
            strbuf_setf(err, "unknown protocol \"%.40s\" (use all, ipv4, ipv6)", items[i]);
            return -1;
        }
    }
    if (bits == 0) {
        strbuf_setf(err, "no protocol enabled");
        return -1;
    }
    *out = bits;
    return 0;
}

/* smtp_addr_parse_preference: any, ipv4 or ipv6. */
int     smtp_addr_parse_preference(const char *text, int *out, strbuf *err)
{
    if (strcasecmp(text, "any") == 0)
        *out = SMTP_ADDR_PREF_ANY;
    else if (strcasecmp(text, "ipv4") == 0)
        *out = SMTP_ADDR_PREF_IPV4;
    else if (strcasecmp(text, "ipv6") == 0)
        *out = SMTP_ADDR_PREF_IPV6;
    else {
        strbuf_setf(err, "unknown preference \"%.40s\" (use any, ipv4, ipv6)", text);
        return -1;
    }
    return 0;
}

/* smtp_addr_parse_lookup: dns and/or native. */
int     smtp_addr_parse_lookup(const char *const *items, size_t count,
                               int *out, strbuf *err)
{
    size_t  i;
    int     bits = 0;

    for (i = 0; i < count; i++) {
        if (strcasecmp(items[i], "dns") == 0)
            bits |= SMTP_ADDR_LOOKUP_DNS;
        else if (strcasecmp(items[i], "native") == 0)
            bits |= SMTP_ADDR_LOOKUP_NATIVE;
        else {
            strbuf_setf(err, "unknown lookup method \"%.40s\" (use dns, native)", items[i]);
            return -1;
        }
    }
    if (bits == 0) {
        strbuf_setf(err, "no lookup method");
        return -1;
    }
    *out = bits;
    return 0;
}

/* smtp_addr_resolver_new: a resolver with its own cache. */
smtp_addr_resolver *smtp_addr_resolver_new(const smtp_addr_config *cfg)
{
    smtp_addr_resolver *res = mem_calloc(1, sizeof(*res));

    res->cfg = *cfg;
    res->myhostname = mem_strdup(cfg->myhostname ? cfg->myhostname : "");
    res->cfg.myhostname = res->myhostname;
    res->cache = htable_new(64);
    res->rnd = cfg->seed ? cfg->seed
        : ((unsigned long) time(NULL) << 16) ^ (unsigned long) getpid() ^ 0x9e3779b9UL;
    if (res->rnd == 0)
        res->rnd = 1;
    return res;
}

/* smtp_addr_cache_free_one: htable value destructor. */
static void smtp_addr_cache_free_one(void *value)
{
    mem_free(value);
}

/* smtp_addr_resolver_free: free the resolver and its cache. */
smtp_addr_resolver *smtp_addr_resolver_free(smtp_addr_resolver *res)
{
    if (res == NULL)
        return NULL;
    htable_free(res->cache, smtp_addr_cache_free_one);
    mem_free(res->myhostname);
    mem_free(res);
    return NULL;
}

/* smtp_addr_cache_count: number of cached answers. */
size_t  smtp_addr_cache_count(const smtp_addr_resolver *res)
{
    return htable_count(res->cache);
}

/* smtp_addr_now: the resolver's clock. */
static time_t smtp_addr_now(const smtp_addr_resolver *res)
{
    return res->cfg.now ? res->cfg.now() : time(NULL);
}

/* smtp_addr_random: next pseudo-random number (xorshift). */
static unsigned long smtp_addr_random(smtp_addr_resolver *res)
{
    unsigned long x = res->rnd;

    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    res->rnd = x ? x : 1;
    return res->rnd;
}

/* smtp_addr_lookup: one DNS question, through the cache. */
static int smtp_addr_lookup(smtp_addr_resolver *res, const char *name, int type,
                            const dns_reply **reply, strbuf *err)
{
    char    key[DNS_NAME_MAX + 16];
    smtp_addr_cached *c;
    time_t  now = smtp_addr_now(res);
    int     status;
    long    ttl;
    size_t  i;

    if (str_format(key, sizeof(key), "%d:%s", type, name) < 0) {
        strbuf_setf(err, "name too long");
        return DNS_INVALID;
    }
    str_lower(key);
    c = htable_find(res->cache, key);
    if (c && c->expires > now) {
        *reply = &c->reply;
        strbuf_setf(err, "%s", c->err);
        return c->status;
    }
    if (c)
        mem_free(htable_remove(res->cache, key, NULL));
    c = mem_calloc(1, sizeof(*c));
    if (res->cfg.lookup)
        status = res->cfg.lookup(res->cfg.lookup_ctx, name, type, &c->reply, err);
    else
        status = dns_lookup_sync(name, type, res->cfg.dns_timeout_ms, &c->reply, err);
    if (status != DNS_OK)
        c->reply.count = 0;
    c->status = status;
    (void) str_copy(c->err, sizeof(c->err), err->data);
    /* How long may this answer be used again? */
    ttl = 0;
    if (status == DNS_NOTFOUND)
        ttl = SMTP_ADDR_NEG_TTL;
    else if (status == DNS_OK && type == DNS_T_MX)
        ttl = SMTP_ADDR_MX_TTL;
    else if (status == DNS_OK) {
        ttl = SMTP_ADDR_CACHE_TTL_MAX;
        for (i = 0; i < c->reply.count; i++)
            if ((long) c->reply.rec[i].ttl < ttl)
                ttl = (long) c->reply.rec[i].ttl;
    }
    if (ttl > 0) {
        if (htable_count(res->cache) >= SMTP_ADDR_CACHE_MAX) {
            htable_free(res->cache, smtp_addr_cache_free_one);
            res->cache = htable_new(64);
        }
        c->expires = now + ttl;
        htable_put(res->cache, key, c);
    } else {
        /* Not cached: keep it only until the caller is done with it. */
        c->expires = 0;
        htable_put(res->cache, key, c);
    }
    *reply = &c->reply;
    return status;
}

/* smtp_addr_native: getaddrinfo() for one host. */
static int smtp_addr_native(smtp_addr_resolver *res, const char *host, int pref,
                            smtp_addr_list *out, strbuf *err)
{
    struct addrinfo hints;
    struct addrinfo *ai = NULL;
    struct addrinfo *p;
    char    text[INET6_ADDRSTRLEN];
    int     rc;
    int     added = 0;

    memset(&hints, 0, sizeof(hints));
    hints.ai_socktype = SOCK_STREAM;
    if (res->cfg.protocols == SMTP_ADDR_PROTO_IPV4)
        hints.ai_family = AF_INET;
    else if (res->cfg.protocols == SMTP_ADDR_PROTO_IPV6)
        hints.ai_family = AF_INET6;
    else
        hints.ai_family = AF_UNSPEC;
    rc = getaddrinfo(host, NULL, &hints, &ai);
    if (rc != 0) {
        strbuf_setf(err, "%s", gai_strerror(rc));
        return (rc == EAI_NONAME
#ifdef EAI_NODATA
                || rc == EAI_NODATA
#endif
            ) ? DNS_NOTFOUND : DNS_RETRY;
    }
    for (p = ai; p; p = p->ai_next) {
        const void *bin;

        if (p->ai_family == AF_INET)
            bin = &((struct sockaddr_in *) (void *) p->ai_addr)->sin_addr;
        else if (p->ai_family == AF_INET6)
            bin = &((struct sockaddr_in6 *) (void *) p->ai_addr)->sin6_addr;
        else
            continue;
        if (inet_ntop(p->ai_family, bin, text, sizeof(text)) == NULL)
            continue;
        if (smtp_addr_list_add(out, host, text, p->ai_family, 0, pref) == 0)
            added++;
    }
    freeaddrinfo(ai);
    if (added == 0) {
        strbuf_setf(err, "no address found");
        return DNS_NOTFOUND;
    }
    return DNS_OK;
}

/* smtp_addr_host_dns: A and AAAA records of one host per inet_protocols. */
static int smtp_addr_host_dns(smtp_addr_resolver *res, const char *host, int pref,
                              smtp_addr_list *out, strbuf *why, const char **failed_type)
{
    static const int types[] = {DNS_T_A, DNS_T_AAAA};
    strbuf *err = strbuf_new(64);
    const dns_reply *reply;
    int     ok = 0, retry = 0, invalid = 0;
    size_t  t;
    size_t  i;
    int     status;

    for (t = 0; t < 2; t++) {
        if (types[t] == DNS_T_A && !(res->cfg.protocols & SMTP_ADDR_PROTO_IPV4))
            continue;
        if (types[t] == DNS_T_AAAA && !(res->cfg.protocols & SMTP_ADDR_PROTO_IPV6))
            continue;
        status = smtp_addr_lookup(res, host, types[t], &reply, err);
        if (status == DNS_OK) {
            for (i = 0; i < reply->count; i++) {
                int     fam = types[t] == DNS_T_A ? AF_INET : AF_INET6;

                if (reply->rec[i].type != types[t]
                    || smtp_addr_literal(reply->rec[i].text) != fam)
                    continue;
                if (smtp_addr_list_add(out, host, reply->rec[i].text, fam, 0, pref) == 0)
                    ok = 1;
            }
        } else {
            if (status == DNS_RETRY)
                retry = 1;
            if (status == DNS_INVALID)
                invalid = 1;
            *failed_type = dns_type_name(types[t]);
            strbuf_set(why, err->data, err->len);
        }
    }
    strbuf_free(err);
    if (ok)
        return DNS_OK;
    if (retry)
        return DNS_RETRY;
    return invalid ? DNS_INVALID : DNS_NOTFOUND;
}

/* smtp_addr_host: the addresses of one host, by the configured methods. */
static int smtp_addr_host(smtp_addr_resolver *res, const char *host, int pref,
                          smtp_addr_list *out, strbuf *why)
{
    const char *type = "A";
    int     status = DNS_NOTFOUND;
    int     family = smtp_addr_literal(host);

    if (family) {
        if ((family == AF_INET && !(res->cfg.protocols & SMTP_ADDR_PROTO_IPV4))
            || (family == AF_INET6 && !(res->cfg.protocols & SMTP_ADDR_PROTO_IPV6))) {
            strbuf_setf(why, "address %s: its protocol is disabled by inet_protocols",
                        host);
            return DNS_RETRY;
        }
        if (smtp_addr_list_add(out, host, host, family, 0, pref) < 0) {
            strbuf_setf(why, "too many addresses");
            return DNS_RETRY;
        }
        return DNS_OK;
    }
    if (res->cfg.protocols == SMTP_ADDR_PROTO_IPV6)
        type = "AAAA";
    if (res->cfg.host_lookup & SMTP_ADDR_LOOKUP_DNS) {
        strbuf *err = strbuf_new(64);

        status = smtp_addr_host_dns(res, host, pref, out, err, &type);
        if (status != DNS_OK)
            strbuf_setf(why, "Host or domain name not found. Name service error "
                        "for name=%s type=%s: %s", host, type,
                        status == DNS_RETRY ? "Host not found, try again"
                        : status == DNS_INVALID ? err->data : "Host not found");
        strbuf_free(err);
        if (status != DNS_NOTFOUND)
            return status;
    }
    if (res->cfg.host_lookup & SMTP_ADDR_LOOKUP_NATIVE) {
        strbuf *err = strbuf_new(64);

        status = smtp_addr_native(res, host, pref, out, err);
        if (status != DNS_OK)
            strbuf_setf(why, "Host or domain name not found. Name service error "
                        "for name=%s type=%s: %s", host, type,
                        status == DNS_RETRY ? "Host not found, try again"
                        : "Host not found");
        strbuf_free(err);
    }
    return status;
}

/* smtp_addr_mx_cmp: order MX hosts by preference. */
static int smtp_addr_mx_cmp(const void *a, const void *b)
{
    const smtp_addr_mx *x = a;
    const smtp_addr_mx *y = b;

    return (x->pref > y->pref) - (x->pref < y->pref);
}

/* smtp_addr_shuffle: random order within each run of equal preference. */
static void smtp_addr_shuffle(smtp_addr_resolver *res, smtp_addr_mx *mx, size_t n)
{
    size_t  start = 0;
    size_t  end;
    size_t  i;

    while (start < n) {
        for (end = start + 1; end < n && mx[end].pref == mx[start].pref; end++)
             /* void */ ;
        for (i = end - 1; i > start; i--) {
            size_t  j = start + (size_t) (smtp_addr_random(res) % (i - start + 1));
            smtp_addr_mx tmp = mx[i];

            mx[i] = mx[j];
            mx[j] = tmp;
        }
        start = end;
    }
}

/* smtp_addr_same_host: is name this host (case-insensitive, final dot)? */
static int smtp_addr_same_host(const char *name, const char *me)
{
    size_t  a = strlen(name);
    size_t  b = strlen(me);

    if (a > 0 && name[a - 1] == '.')
        a--;
    if (b > 0 && me[b - 1] == '.')
        b--;
    return a == b && a > 0 && strncasecmp(name, me, a) == 0;
}

/* smtp_addr_family_rank: 0 for the preferred family, 1 otherwise. */
static int smtp_addr_family_rank(const smtp_addr_resolver *res, int family)
{
    if (res->cfg.preference == SMTP_ADDR_PREF_IPV4)
        return family == AF_INET ? 0 : 1;
    if (res->cfg.preference == SMTP_ADDR_PREF_IPV6)
        return family == AF_INET6 ? 0 : 1;
    return 0;
}

/* smtp_addr_order: stable reorder by (preference, family rank), then cut. */
static void smtp_addr_order(smtp_addr_resolver *res, smtp_addr_list *list)
{
    size_t  i;
    size_t  j;

    /* Insertion sort: stable, and lists are short. */
    for (i = 1; i < list->count; i++) {
        smtp_addr_entry tmp = list->addrs[i];
        int     rank = smtp_addr_family_rank(res, tmp.family);

        for (j = i; j > 0; j--) {
            const smtp_addr_entry *prev = &list->addrs[j - 1];

            if (prev->pref < tmp.pref
                || (prev->pref == tmp.pref
                    && smtp_addr_family_rank(res, prev->family) <= rank))
                break;
            list->addrs[j] = list->addrs[j - 1];
        }
        list->addrs[j] = tmp;
    }
    if (res->cfg.address_limit > 0 && list->count > (size_t) res->cfg.address_limit)
        list->count = (size_t) res->cfg.address_limit;
}

/* smtp_addr_set_port: every entry gets the nexthop's port. */
static void smtp_addr_set_port(smtp_addr_list *list, int port)
{
    size_t  i;

    for (i = 0; i < list->count; i++)
        list->addrs[i].port = port;
}

/* smtp_addr_mx_list: resolution with MX records. */
static int smtp_addr_mx_list(smtp_addr_resolver *res, const smtp_nexthop *nh,
                             smtp_addr_list *out, strbuf *why)
{
    strbuf *err = strbuf_new(64);
    const dns_reply *reply;
    smtp_addr_mx *mx = NULL;
    size_t  nmx = 0;
    size_t  i;
    int     status;
    int     retry = 0;
    int     nullmx = 0;
    int     result;

    status = smtp_addr_lookup(res, nh->host, DNS_T_MX, &reply, err);
    if (status == DNS_RETRY) {
        strbuf_setf(why, "Host or domain name not found. Name service error for "
                    "name=%s type=MX: Host not found, try again", nh->host);
        result = SMTP_ADDR_RETRY;
        goto out;
    }
    if (status == DNS_INVALID) {
        strbuf_setf(why, "Host or domain name not found. Name service error for "
                    "name=%s type=MX: %s", nh->host, err->data);
        result = SMTP_ADDR_NOTFOUND;
        goto out;
    }
    if (status == DNS_NOTFOUND) {
        /* Implicit MX: the domain's own addresses. */
        status = smtp_addr_host(res, nh->host, 0, out, why);
        result = status == DNS_OK ? SMTP_ADDR_OK
            : status == DNS_RETRY ? SMTP_ADDR_RETRY : SMTP_ADDR_NOTFOUND;
        goto out;
    }
    mx = mem_calloc(reply->count + 1, sizeof(*mx));
    for (i = 0; i < reply->count; i++) {
        const char *host = strchr(reply->rec[i].text, ' ');

        if (reply->rec[i].type != DNS_T_MX || host == NULL)
            continue;
        host++;
        if (*host == 0 || strcmp(host, ".") == 0) {
            nullmx++;
            continue;
        }
        if (dns_name_valid(host, err) < 0) {
            msg_warn("%s: skipping MX host with a malformed name: %s",
                     nh->host, err->data);
            continue;
        }
        mx[nmx].pref = reply->rec[i].pref;
        if (str_copy(mx[nmx].host, sizeof(mx[nmx].host), host) < 0)
            continue;
        if (mx[nmx].host[0] && mx[nmx].host[strlen(mx[nmx].host) - 1] == '.')
            mx[nmx].host[strlen(mx[nmx].host) - 1] = 0;
        nmx++;
    }
    if (nmx == 0 && nullmx > 0) {
        strbuf_setf(why, "Domain %s does not accept mail (nullMX)", nh->host);
        result = SMTP_ADDR_NULLMX;
        goto out;
    }
    if (nmx == 0) {
        strbuf_setf(why, "Host or domain name not found. Name service error for "
                    "name=%s type=MX: no usable MX host", nh->host);
        result = SMTP_ADDR_RETRY;
        goto out;
    }
    qsort(mx, nmx, sizeof(*mx), smtp_addr_mx_cmp);
    smtp_addr_shuffle(res, mx, nmx);
    /* Drop this host and every MX at its preference or worse. */
    for (i = 0; i < nmx; i++) {
        if (smtp_addr_same_host(mx[i].host, res->myhostname)) {
            int     cut = mx[i].pref;

            for (i = 0; i < nmx && mx[i].pref < cut; i++)
                 /* void */ ;
            nmx = i;
            break;
        }
    }
    if (nmx == 0) {
        strbuf_setf(why, "mail for %s loops back to myself", nh->host);
        result = SMTP_ADDR_LOOP;
        goto out;
    }
    for (i = 0; i < nmx; i++) {
        strbuf_reset(err);
        status = smtp_addr_host(res, mx[i].host, mx[i].pref, out, err);
        if (status == DNS_RETRY)
            retry = 1;
        if (status != DNS_OK && (why->len == 0 || status == DNS_RETRY))
            strbuf_set(why, err->data, err->len);
        if (res->cfg.address_limit > 0 && out->count >= (size_t) res->cfg.address_limit
            && (i + 1 >= nmx || mx[i + 1].pref != mx[i].pref))
            break;
    }
    if (out->count > 0) {
        strbuf_reset(why);
        result = SMTP_ADDR_OK;
    } else
        result = retry ? SMTP_ADDR_RETRY : SMTP_ADDR_NOTFOUND;

out:
    mem_free(mx);
    strbuf_free(err);
    return result;
}

/* smtp_addr_resolve: the addresses to try for one nexthop. */
int     smtp_addr_resolve(smtp_addr_resolver *res, const smtp_nexthop *nh,
                          smtp_addr_list *out, strbuf *why)
{
    int     status;
    int     result;

    out->count = 0;
    strbuf_reset(why);
    if (nh->kind == SMTP_NEXTHOP_UNIX) {
        if (smtp_addr_list_add(out, nh->path, nh->path, AF_UNIX, 0, 0) < 0) {
            strbuf_setf(why, "socket path too long");
            return SMTP_ADDR_RETRY;
        }
        return SMTP_ADDR_OK;
    }
    if (nh->mx && (res->cfg.host_lookup & SMTP_ADDR_LOOKUP_DNS))
        result = smtp_addr_mx_list(res, nh, out, why);
    else {
        status = smtp_addr_host(res, nh->host, 0, out, why);
        result = status == DNS_OK ? SMTP_ADDR_OK
            : status == DNS_RETRY ? SMTP_ADDR_RETRY : SMTP_ADDR_NOTFOUND;
    }
    if (result != SMTP_ADDR_OK) {
        out->count = 0;
        return result;
    }
    smtp_addr_order(res, out);
    smtp_addr_set_port(out, nh->port);
    return SMTP_ADDR_OK;
}
