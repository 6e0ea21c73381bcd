/*
 * resolve: map a recipient address to transport, nexthop and recipient
 * (the job of Postfix's trivial-rewrite "resolve" service, done in-process
 * by qmgr and smtpd).
 *
 * Public functions (contracts in resolve.h as well):
 *   resolve_result_init(r): give r fresh strbufs; resolve_result_free(r)
 *     releases them (r itself is the caller's).
 *   resolve_addr(sender, rcpt, out, err): resolve rcpt (internal form,
 *     "local@domain", or a bare local part) for mail from sender (NULL or
 *     "" = null sender). Steps:
 *       class     no domain, a domain in mydestination (or "localhost"),
 *                 or an address literal [a.b.c.d] / [IPv6:..] of this
 *                 host (inet_interfaces; "all" means any address of a
 *                 local interface) -> LOCAL: local_transport, nexthop
 *                 from it or $myhostname.
 *                 virtual_alias_domains -> VIRTUAL_ALIAS: transport
 *                 "error", nexthop RESOLVE_VALIAS_REASON (cleanup would
 *                 have rewritten a known address; this one is unknown).
 *                 virtual_mailbox_domains -> VIRTUAL: virtual_transport.
 *                 relay_domains -> RELAY: relay_transport.
 *                 otherwise DEFAULT: default_transport.
 *                 A "transport:nexthop" parameter value gives both; with
 *                 no nexthop the recipient domain is used (VIRTUAL, RELAY,
 *                 DEFAULT).
 *       relayhost for RELAY and DEFAULT whose transport parameter names
 *                 no nexthop; sender_dependent_relayhost_maps (looked up
 *                 with the sender, then "@domain" of the sender; not for
 *                 the null sender) wins over relayhost when it finds one.
 *       transport_maps (not for VIRTUAL_ALIAS): keys rcpt (lower case),
 *                 domain, ".parent" for each parent domain (longest
 *                 first), then "*". Value "transport:nexthop",
 *                 "transport", ":nexthop", "error:text", "discard:text"
 *                 (a bare "error"/"discard" with no text keeps none); an
 *                 empty part keeps what the steps above found.
 *     Domain lists (mydestination, virtual_*_domains, relay_domains):
 *     each item is a domain (matches itself), ".domain" (matches its
 *     subdomains), or type:table (domain looked up, any value =
 *     member). Like Postfix's parent_domain_matches_subdomains default
 *     and like smtpd, a plain relay_domains name also matches its
 *     subdomains. Items starting with '/' (files) are a configuration
 *     error. Domains compare case-insensitively, one trailing dot ignored.
 *     Returns RESOLVE_OK; RESOLVE_RETRY when a table could not answer
 *     (err: "PARAM: TABLE: why"); RESOLVE_ERROR for bad configuration
 *     (err says which parameter and what). out is filled on RESOLVE_OK
 *     only.
 *   resolve_class_name(class): "local", "virtual_alias", ... for logs.
 *   resolve_reset(): drop the cached configuration (tables, lists);
 *     the next resolve_addr reads the parameters again.
 *
 * SECURITY: addresses come from mail senders; they are only compared and
 * used as table keys (bounded by dict). Transport names from tables are
 * checked to be plain service names before anyone uses them as a socket
 * path. A table failure is never taken as "not found".
 * LIMITS: domains longer than RESOLVE_DOMAIN_MAX are never local/listed;
 * at most RESOLVE_PARENTS_MAX parent-domain lookups per recipient.
 */
#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>

#include "dict.h"
#include "maps.h"
#include "mem.h"
#include "msg.h"
#include "param.h"
#include "param_names.h"
#include "resolve.h"
#include "strbuf.h"
#include "strutil.h"

#define RESOLVE_DOMAIN_MAX  255         /* longest domain considered */
#define RESOLVE_PARENTS_MAX 64          /* .parent lookups per address */
#define RESOLVE_NAME_MAX    64          /* longest transport name */

/* One domain list parameter: names plus tables. */
typedef struct resolve_dlist {
    const char *title;                  /* parameter name */
    char  **names;                      /* lower case, no trailing dot */
    size_t  count;
    maps   *tables;                     /* NULL when none */
    int     parents;                    /* plain names match subdomains */
} resolve_dlist;

/* The configuration, read once (resolve_reset forgets it). */
typedef struct resolve_conf {
    int     loaded;
    int     bad;                        /* a configuration error: text */
    strbuf *bad_text;
    resolve_dlist mydest;
    resolve_dlist valias;
    resolve_dlist vmailbox;
    resolve_dlist relay;
    maps   *transport_maps;
    maps   *sender_relay;
    char  **ifaddrs;                    /* inet_interfaces addresses */
    size_t  nifaddrs;
    int     if_all;                     /* inet_interfaces = all */
    int     if_loopback;                /* loopback-only */
} resolve_conf;

static resolve_conf resolve_cf;

/* resolve_result_init: fresh buffers. */
void    resolve_result_init(resolve_result *r)
{
    memset(r, 0, sizeof(*r));
    r->transport = strbuf_new(32);
    r->nexthop = strbuf_new(64);
    r->recipient = strbuf_new(64);
}

/* resolve_result_free: release the buffers. */
void    resolve_result_free(resolve_result *r)
{
    strbuf_free(r->transport);
    strbuf_free(r->nexthop);
    strbuf_free(r->recipient);
    memset(r, 0, sizeof(*r));
}

/* resolve_class_name: a word for the class. */
const char *resolve_class_name(enum resolve_class class)
{
    switch (class) {
    case RESOLVE_CLASS_LOCAL:
        return "local";
    case RESOLVE_CLASS_VIRTUAL_ALIAS:
        return "virtual_alias";
    case RESOLVE_CLASS_VIRTUAL:
        return "virtual";
    case RESOLVE_CLASS_RELAY:
        return "relay";
    case RESOLVE_CLASS_DEFAULT:
        return "default";
    }
    return "unknown";
}

/* resolve_domain_norm: lower case, one trailing dot removed. */
static void resolve_domain_norm(strbuf *d)
{
    str_lower(d->data);
    if (d->len > 1 && d->data[d->len - 1] == '.')
        strbuf_truncate(d, d->len - 1);
}

/* resolve_dlist_load: split a domain-list parameter. */
static void resolve_dlist_load(resolve_dlist *dl, const char *title,
                               int parents)
{
    const char *const *items;
    size_t  n, i;
    strbuf *specs = strbuf_new(64);
    strbuf *d = strbuf_new(64);

    memset(dl, 0, sizeof(*dl));
    dl->title = title;
    dl->parents = parents;
    items = param_list(title, &n);
    dl->names = mem_calloc(n + 1, sizeof(char *));
    for (i = 0; i < n; i++) {
        if (items[i][0] == '/') {
            if (!resolve_cf.bad)
                strbuf_setf(resolve_cf.bad_text, "%s: file names are not "
                            "supported in domain lists: \"%s\"", title,
                            items[i]);
            resolve_cf.bad = 1;
            continue;
        }
        if (strchr(items[i], ':') != NULL && items[i][0] != '[') {
            if (specs->len)
                strbuf_putc(specs, ' ');
            strbuf_puts(specs, items[i]);
            continue;
        }
        strbuf_set(d, items[i], strlen(items[i]));
        resolve_domain_norm(d);
        if (d->len > 0)
            dl->names[dl->count++] = mem_strdup(d->data);
    }
    if (specs->len)
        dl->tables = maps_open(title, specs->data, DICT_F_FOLD);
    strbuf_free(specs);
    strbuf_free(d);
}

/* resolve_dlist_free: release one list. */
static void resolve_dlist_free(resolve_dlist *dl)
{
    size_t  i;

    for (i = 0; i < dl->count; i++)
        mem_free(dl->names[i]);
    mem_free(dl->names);
    maps_free(dl->tables);
    memset(dl, 0, sizeof(*dl));
}

/* resolve_dlist_match: 1 member, 0 not, -1 table failure (err set). */
static int resolve_dlist_match(const resolve_dlist *dl, const char *domain,
                               strbuf *err)
{
    size_t  i, dlen = strlen(domain);
    strbuf *val;
    int     rc;

    if (dlen == 0 || dlen > RESOLVE_DOMAIN_MAX)
        return 0;
    for (i = 0; i < dl->count; i++) {
        const char *n = dl->names[i];
        size_t  nlen = strlen(n);

        if (n[0] == '.') {
            if (dlen > nlen && strcmp(domain + dlen - nlen, n) == 0)
                return 1;
            continue;
        }
        if (strcmp(n, domain) == 0)
            return 1;
        if (dl->parents && dlen > nlen && domain[dlen - nlen - 1] == '.'
            && strcmp(domain + dlen - nlen, n) == 0)
            return 1;
    }
    if (dl->tables == NULL)
        return 0;
    val = strbuf_new(32);
    rc = maps_find(dl->tables, domain, val);
    if (rc == DICT_RETRY)
        strbuf_setf(err, "%s", maps_error(dl->tables));
    strbuf_free(val);
    return rc == DICT_FOUND ? 1 : rc == DICT_RETRY ? -1 : 0;
}

/* resolve_load_interfaces: the inet_interfaces addresses, normalised. */
static void resolve_load_interfaces(void)
{
    const char *const *items;
    size_t  n, i;
    unsigned char bin[sizeof(struct in6_addr)];
    char    text[INET6_ADDRSTRLEN];

    items = param_list(PARAM_INET_INTERFACES, &n);
    resolve_cf.ifaddrs = mem_calloc(n + 1, sizeof(char *));
    for (i = 0; i < n; i++) {
        const char *it = items[i];
        strbuf *a = strbuf_new(64);

        if (str_casecmp(it, "all") == 0) {
            resolve_cf.if_all = 1;
        } else if (str_casecmp(it, "loopback-only") == 0) {
            resolve_cf.if_loopback = 1;
        } else {
            if (it[0] == '[' && it[strlen(it) - 1] == ']')
                strbuf_set(a, it + 1, strlen(it) - 2);
            else
                strbuf_puts(a, it);
            if (inet_pton(AF_INET, a->data, bin) == 1)
                inet_ntop(AF_INET, bin, text, sizeof(text));
            else if (inet_pton(AF_INET6, a->data, bin) == 1)
                inet_ntop(AF_INET6, bin, text, sizeof(text));
            else
                text[0] = 0;            /* a host name: not compared */
            if (text[0])
                resolve_cf.ifaddrs[resolve_cf.nifaddrs++] = mem_strdup(text);
        }
        strbuf_free(a);
    }
}

/* resolve_addr_is_loopback: 127/8 or ::1 (text in canonical form). */
static int resolve_addr_is_loopback(int family, const unsigned char *bin)
{
    static const unsigned char v6_lo[16] = {0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 1};

    if (family == AF_INET)
        return bin[0] == 127;
    return memcmp(bin, v6_lo, 16) == 0;
}

/* resolve_addr_is_interface: an address of a local network interface. */
static int resolve_addr_is_interface(int family, const unsigned char *bin)
{
    struct ifaddrs *list, *ifa;
    int     found = 0;

    if (getifaddrs(&list) < 0)
        return resolve_addr_is_loopback(family, bin);
    for (ifa = list; ifa != NULL && !found; ifa = ifa->ifa_next) {
        if (ifa->ifa_addr == NULL || ifa->ifa_addr->sa_family != family)
            continue;
        if (family == AF_INET)
            found = memcmp(&((struct sockaddr_in *) (void *) ifa->ifa_addr)->sin_addr,
                           bin, 4) == 0;
        else
            found = memcmp(&((struct sockaddr_in6 *) (void *) ifa->ifa_addr)->sin6_addr,
                           bin, 16) == 0;
    }
    freeifaddrs(list);
    return found;
}

/* resolve_literal_local: domain "[addr]" names this host. */
static int resolve_literal_local(const char *domain)
{
    size_t  len = strlen(domain), i;
    unsigned char bin[sizeof(struct in6_addr)];
    char    text[INET6_ADDRSTRLEN];
    char    inner[RESOLVE_DOMAIN_MAX + 1];
    const char *a;
    int     family;

    if (len < 3 || domain[0] != '[' || domain[len - 1] != ']'
        || len - 2 > RESOLVE_DOMAIN_MAX)
        return 0;
    memcpy(inner, domain + 1, len - 2);
    inner[len - 2] = 0;
    a = inner;
    if (str_has_prefix(a, "ipv6:"))
        a += 5;
    if (inet_pton(AF_INET, a, bin) == 1)
        family = AF_INET;
    else if (a != inner && inet_pton(AF_INET6, a, bin) == 1)
        family = AF_INET6;
    else
        return 0;
    if (resolve_cf.if_loopback && resolve_addr_is_loopback(family, bin))
        return 1;
    if (resolve_cf.if_all && resolve_addr_is_interface(family, bin))
        return 1;
    inet_ntop(family, bin, text, sizeof(text));
    for (i = 0; i < resolve_cf.nifaddrs; i++)
        if (strcmp(resolve_cf.ifaddrs[i], text) == 0)
            return 1;
    return 0;
}

/* resolve_load: read the configuration once. */
static void resolve_load(void)
{
    if (resolve_cf.loaded)
        return;
    resolve_cf.bad_text = strbuf_new(64);
    resolve_dlist_load(&resolve_cf.mydest, PARAM_MYDESTINATION, 0);
    resolve_dlist_load(&resolve_cf.valias, PARAM_VIRTUAL_ALIAS_DOMAINS, 0);
    resolve_dlist_load(&resolve_cf.vmailbox, PARAM_VIRTUAL_MAILBOX_DOMAINS, 0);
    resolve_dlist_load(&resolve_cf.relay, PARAM_RELAY_DOMAINS, 1);
    resolve_cf.transport_maps = maps_open(PARAM_TRANSPORT_MAPS,
                                          param_str(PARAM_TRANSPORT_MAPS),
                                          DICT_F_FOLD);
    resolve_cf.sender_relay =
        maps_open(PARAM_SENDER_DEPENDENT_RELAYHOST_MAPS,
                  param_str(PARAM_SENDER_DEPENDENT_RELAYHOST_MAPS),
                  DICT_F_FOLD);
    resolve_load_interfaces();
    resolve_cf.loaded = 1;
}

/* resolve_reset: forget the configuration. */
void    resolve_reset(void)
{
    size_t  i;

    if (!resolve_cf.loaded)
        return;
    resolve_dlist_free(&resolve_cf.mydest);
    resolve_dlist_free(&resolve_cf.valias);
    resolve_dlist_free(&resolve_cf.vmailbox);
    resolve_dlist_free(&resolve_cf.relay);
    maps_free(resolve_cf.transport_maps);
    maps_free(resolve_cf.sender_relay);
    for (i = 0; i < resolve_cf.nifaddrs; i++)
        mem_free(resolve_cf.ifaddrs[i]);
    mem_free(resolve_cf.ifaddrs);
    strbuf_free(resolve_cf.bad_text);
    memset(&resolve_cf, 0, sizeof(resolve_cf));
}

/* resolve_name_ok: a plain master.cf service name. */
static int resolve_name_ok(const char *name, size_t len)
{
    size_t  i;

    if (len == 0 || len > RESOLVE_NAME_MAX)
        return 0;
    for (i = 0; i < len; i++) {
        char    c = name[i];

        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
              || (c >= '0' && c <= '9') || c == '_' || c == '-'
              || (c == '.' && i > 0)))
            return 0;
    }
    return 1;
}

/* resolve_split: "transport:nexthop" into parts; -1 on a bad name. */
static int resolve_split(const char *value, strbuf *transport, strbuf *nexthop)
{
    const char *colon = strchr(value, ':');
    size_t  tlen = colon ? (size_t) (colon - value) : strlen(value);

    strbuf_reset(transport);
    strbuf_reset(nexthop);
    if (tlen > 0 && !resolve_name_ok(value, tlen))
        return -1;
    strbuf_append(transport, value, tlen);
    if (colon)
        strbuf_puts(nexthop, colon + 1);
    return 0;
}

/* resolve_class_transport: the class's transport parameter into out. */
static int resolve_class_transport(const char *param, resolve_result *out,
                                   int *has_nexthop, strbuf *err)
{
    const char *value = param_str(param);

    if (resolve_split(value, out->transport, out->nexthop) < 0
        || out->transport->len == 0) {
        strbuf_setf(err, "%s = %s: bad transport name", param, value);
        return RESOLVE_ERROR;
    }
    *has_nexthop = out->nexthop->len > 0;
    return RESOLVE_OK;
}

/* resolve_sender_relay: sender_dependent_relayhost_maps; DICT_* result. */
static int resolve_sender_relay(const char *sender, strbuf *value,
                                strbuf *err)
{
    strbuf *key;
    const char *at;
    int     rc;

    if (sender == NULL || *sender == 0
        || maps_count(resolve_cf.sender_relay) == 0)
        return DICT_NOTFOUND;
    key = strbuf_new(64);
    strbuf_puts(key, sender);
    str_lower(key->data);
    rc = maps_find(resolve_cf.sender_relay, key->data, value);
    if (rc == DICT_NOTFOUND && (at = strrchr(sender, '@')) != NULL) {
        strbuf_setf(key, "%s", at);
        str_lower(key->data);
        rc = maps_find(resolve_cf.sender_relay, key->data, value);
    }
    if (rc == DICT_RETRY)
        strbuf_setf(err, "%s", maps_error(resolve_cf.sender_relay));
    strbuf_free(key);
    return rc;
}

/* resolve_transport_maps: transport(5) lookup order; DICT_* result. */
static int resolve_transport_maps(const char *rcpt, const char *domain,
                                  strbuf *value, strbuf *err)
{
    maps   *m = resolve_cf.transport_maps;
    strbuf *key;
    const char *p;
    int     rc, n = 0;

    if (maps_count(m) == 0)
        return DICT_NOTFOUND;
    key = strbuf_new(64);
    strbuf_puts(key, rcpt);
    str_lower(key->data);
    rc = maps_find(m, key->data, value);
    if (rc == DICT_NOTFOUND && *domain)
        rc = maps_find(m, domain, value);
    for (p = domain; rc == DICT_NOTFOUND && *p && n < RESOLVE_PARENTS_MAX;
         n++) {
        if ((p = strchr(p + 1, '.')) == NULL)
            break;
        rc = maps_find(m, p, value);
    }
    if (rc == DICT_NOTFOUND)
        rc = maps_find(m, "*", value);
    if (rc == DICT_RETRY)
        strbuf_setf(err, "%s", maps_error(m));
    strbuf_free(key);
    return rc;
}

/* resolve_apply_route: a transport_maps value over the result so far. */
static int resolve_apply_route(const char *value, resolve_result *out,
                               strbuf *err)
{
    strbuf *t = strbuf_new(32);
    strbuf *h = strbuf_new(64);
    int     rc = RESOLVE_OK;

    if (resolve_split(value, t, h) < 0) {
        strbuf_setf(err, "%s: bad transport in \"%s\"", PARAM_TRANSPORT_MAPS,
                    value);
        rc = RESOLVE_ERROR;
    } else {
        if (t->len > 0)
            strbuf_set(out->transport, t->data, t->len);
        if (h->len > 0) {
            strbuf_set(out->nexthop, h->data, h->len);
            out->flags &= ~RESOLVE_F_RELAYHOST;
        } else if (t->len > 0 && (strcmp(t->data, RESOLVE_TRANSPORT_ERROR) == 0
                               || strcmp(t->data, RESOLVE_TRANSPORT_DISCARD) == 0)) {
            /* "error:" and "discard:" carry their text in the nexthop;
             * a nexthop meant for a real transport is no reason. */
            strbuf_reset(out->nexthop);
            out->flags &= ~RESOLVE_F_RELAYHOST;
        }
        out->flags |= RESOLVE_F_ROUTED;
    }
    strbuf_free(t);
    strbuf_free(h);
    return rc;
}

/* resolve_addr: resolve one recipient. */
int     resolve_addr(const char *sender, const char *rcpt, resolve_result *out,
                     strbuf *err)
{
    strbuf *domain = strbuf_new(64);
    strbuf *value = strbuf_new(64);
    const char *at = strrchr(rcpt, '@');
    const char *param = NULL;
    enum resolve_class class;
    int     has_nexthop = 0;
    int     rc, m;

    resolve_load();
    if (resolve_cf.bad) {
        strbuf_setf(err, "%s", resolve_cf.bad_text->data);
        rc = RESOLVE_ERROR;
        goto out;
    }
    strbuf_set(out->recipient, rcpt, strlen(rcpt));
    if (at != NULL) {
        strbuf_puts(domain, at + 1);
        resolve_domain_norm(domain);
        /* The recipient keeps its case; only a trailing dot goes. */
        if (out->recipient->len > (size_t) (at - rcpt) + 2
            && out->recipient->data[out->recipient->len - 1] == '.')
            strbuf_truncate(out->recipient, out->recipient->len - 1);
    }
    out->flags = 0;

    /* Class. */
    if (domain->len == 0 || strcmp(domain->data, "localhost") == 0
        || resolve_literal_local(domain->data))
        class = RESOLVE_CLASS_LOCAL;
    else if ((m = resolve_dlist_match(&resolve_cf.mydest, domain->data, err)) < 0)
        goto retry;
    else if (m)
        class = RESOLVE_CLASS_LOCAL;
    else if ((m = resolve_dlist_match(&resolve_cf.valias, domain->data, err)) < 0)
        goto retry;
    else if (m)
        class = RESOLVE_CLASS_VIRTUAL_ALIAS;
    else if ((m = resolve_dlist_match(&resolve_cf.vmailbox, domain->data, err)) < 0)
        goto retry;
    else if (m)
        class = RESOLVE_CLASS_VIRTUAL;
    else if ((m = resolve_dlist_match(&resolve_cf.relay, domain->data, err)) < 0)
        goto retry;
    else if (m)
        class = RESOLVE_CLASS_RELAY;
    else
        class = RESOLVE_CLASS_DEFAULT;
    out->class = class;

    switch (class) {
    case RESOLVE_CLASS_LOCAL:
        param = PARAM_LOCAL_TRANSPORT;
        break;
    case RESOLVE_CLASS_VIRTUAL_ALIAS:
        strbuf_set(out->transport, RESOLVE_TRANSPORT_ERROR,
                   strlen(RESOLVE_TRANSPORT_ERROR));
        strbuf_set(out->nexthop, RESOLVE_VALIAS_REASON,
                   strlen(RESOLVE_VALIAS_REASON));
        rc = RESOLVE_OK;
        goto out;
    case RESOLVE_CLASS_VIRTUAL:
        param = PARAM_VIRTUAL_TRANSPORT;
        break;
    case RESOLVE_CLASS_RELAY:
        param = PARAM_RELAY_TRANSPORT;
        break;
    case RESOLVE_CLASS_DEFAULT:
        param = PARAM_DEFAULT_TRANSPORT;
        break;
    }
    if ((rc = resolve_class_transport(param, out, &has_nexthop, err)) != RESOLVE_OK)
        goto out;
    if (!has_nexthop) {
        if (class == RESOLVE_CLASS_LOCAL)
            strbuf_puts(out->nexthop, param_str(PARAM_MYHOSTNAME));
        else
            strbuf_set(out->nexthop, domain->data, domain->len);
    }

    /* Relay hosts. */
    if ((class == RESOLVE_CLASS_RELAY || class == RESOLVE_CLASS_DEFAULT)
        && !has_nexthop) {
        const char *relayhost = param_str(PARAM_RELAYHOST);

        m = resolve_sender_relay(sender, value, err);
        if (m == DICT_RETRY)
            goto retry;
        if (m == DICT_FOUND && value->len > 0) {
            strbuf_set(out->nexthop, value->data, value->len);
            out->flags |= RESOLVE_F_RELAYHOST;
        } else if (*relayhost) {
            strbuf_set(out->nexthop, relayhost, strlen(relayhost));
            out->flags |= RESOLVE_F_RELAYHOST;
        }
    }

    /* transport_maps. */
    m = resolve_transport_maps(rcpt, domain->data, value, err);
    if (m == DICT_RETRY)
        goto retry;
    if (m == DICT_FOUND && (rc = resolve_apply_route(value->data, out, err))
        != RESOLVE_OK)
        goto out;
    rc = RESOLVE_OK;
    goto out;

retry:
    rc = RESOLVE_RETRY;

out:
    strbuf_free(domain);
    strbuf_free(value);
    return rc;
}
