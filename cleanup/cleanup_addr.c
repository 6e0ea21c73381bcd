/*
 * cleanup_addr: address rewriting in cleanup (envelope and headers).
 *
 * cleanup_addr_qualify(conf, addr, out)
 *     cleanup_addr_complete with origin $myorigin.
 * cleanup_addr_complete(conf, addr, origin, out)
 *     out = addr after the routing rewrites (swap_bangpath: "host!user"
 *     without '@' becomes "user@host"; allow_percent_hack: "user%dom@ours"
 *     with ours one of our domains becomes "user@dom", last '%' first),
 *     with "@origin" appended when it has no '@' (for $myorigin only when
 *     append_at_myorigin is on), and ".$mydomain" appended to a dotless
 *     domain other than localhost when append_dot_mydomain is on. The
 *     null address "" stays empty.
 * cleanup_addr_masquerade(conf, addr)
 *     masquerade_domains in place: the first item that matches the
 *     domain wins; "!name" keeps name and its subdomains as they are;
 *     "name" turns any subdomain of name into name. A local part listed
 *     in masquerade_exceptions (case-insensitive) is never changed.
 * cleanup_addr_header(st, class, mode, addr, out)
 *     A header address of class CLEANUP_CLASS_HDR_SENDER/_RCPT: mode
 *     CLEANUP_HDR_LOCAL completes it with $myorigin, CLEANUP_HDR_REMOTE
 *     with remote_header_rewrite_domain; then the canonical maps (when
 *     canonical_classes has the class) and masquerading (when
 *     masquerade_classes has it). 0, or -1 with the state failed.
 * cleanup_addr_header_mode(st)
 *     CLEANUP_HDR_LOCAL for local submissions, notifications and clients
 *     matched by local_header_rewrite_clients (permit_inet_interfaces,
 *     permit_mynetworks, static:all, addresses and networks: decided on
 *     the client address attribute alone), else CLEANUP_HDR_REMOTE when
 *     remote_header_rewrite_domain is set, else CLEANUP_HDR_NONE.
 * cleanup_addr_sender(st)
 *     Qualifies the sender (local submissions only; routing rewrites for
 *     all), then applies sender_canonical_maps and canonical_maps (in
 *     that order, one lookup each, when canonical_classes has
 *     envelope_sender; a result without '@' is qualified), then
 *     masquerading (masquerade_classes). 0, or -1 with the state failed
 *     (a table that cannot answer: status 4).
 * Canonical and virtual alias lookups follow maps_find_addr's order
 * (user+ext@domain, user@domain, user+ext and user for our domains,
 * @domain). When the key that matched did not carry the address's
 * extension, propagate_unmatched_extensions (canonical, virtual) puts
 * "+ext" back into the local part of the result.
 * cleanup_addr_recipients(st)
 *     For each recipient: qualify (local submissions; routing rewrites
 *     for all), then recipient_canonical_maps and canonical_maps (when
 *     canonical_classes has envelope_recipient), masquerading (when
 *     masquerade_classes has it), then virtual alias
 *     expansion (virtual_alias_maps; values are lists of addresses
 *     separated by commas or white space; recursive; an address that
 *     maps to itself, or to one of the addresses it came from, is kept
 *     as is). Duplicates (same address, domain compared without case)
 *     are dropped, the first one kept. A recipient whose address
 *     changed keeps its original address as original_recipient. 0, or
 *     -1 with the state failed (status 4: table failure, or more than
 *     virtual_alias_expansion_limit results from one recipient, or
 *     deeper than virtual_alias_recursion_limit).
 *
 * Header fields are taken apart and rebuilt in cleanup_header.c.
 *
 * SECURITY: addresses and table values are untrusted text; they are
 * copied into strbufs, never into fixed buffers, and values are checked
 * for CR/LF before they reach the queue file writer.
 *
 * LIMITS: CLEANUP_RCPT_MAX recipients after expansion (else status 5);
 * virtual_alias_expansion_limit results per original recipient,
 * virtual_alias_recursion_limit levels; CLEANUP_ADDR_MAX bytes per
 * address from a table.
 */
#include <string.h>
#include <strings.h>

#include "addr.h"
#include "cleanup.h"
#include "cleanup_client.h"
#include "htable.h"
#include "maps.h"
#include "mem.h"
#include "msg.h"
#include "param.h"
#include "strbuf.h"
#include "strutil.h"

#define CLEANUP_ADDR_MAX    1024

static int cleanup_addr_is_local(const cleanup_config *conf, const char *addr);

/* cleanup_addr_routing: swap_bangpath and the percent hack, in place */
static void cleanup_addr_routing(const cleanup_config *conf, strbuf *addr)
{
    char   *at = strrchr(addr->data, '@');
    char   *bang;
    char   *pct;
    strbuf *tmp;

    if (conf->swap_bangpath && at == NULL && (bang = strchr(addr->data, '!')) != NULL
        && bang > addr->data && bang[1] != 0) {
        tmp = strbuf_new(addr->len + 2);
        strbuf_printf(tmp, "%s@%.*s", bang + 1, (int) (bang - addr->data), addr->data);
        strbuf_setf(addr, "%s", strbuf_str(tmp));
        strbuf_free(tmp);
        return;
    }
    if (conf->percent_hack && at != NULL && cleanup_addr_is_local(conf, addr->data)) {
        *at = 0;
        pct = strrchr(addr->data, '%');
        *at = '@';
        if (pct != NULL && pct > addr->data && pct + 1 < at) {
            *pct = '@';
            strbuf_truncate(addr, (size_t) (at - addr->data));
        }
    }
}

/* cleanup_addr_qualify: complete an address with $myorigin */
void    cleanup_addr_qualify(const cleanup_config *conf, const char *addr,
                                     strbuf *out)
{
    cleanup_addr_complete(conf, addr, conf->append_at_myorigin ? conf->myorigin : NULL, out);
}

/* cleanup_addr_complete: routing rewrites, @origin and .mydomain */
void    cleanup_addr_complete(const cleanup_config *conf, const char *addr,
                              const char *origin, strbuf *out)
{
    const char *domain;

    strbuf_setf(out, "%s", addr);
    if (*addr == 0)
        return;
    cleanup_addr_routing(conf, out);
    if ((domain = strrchr(out->data, '@')) == NULL) {
        if (origin == NULL || *origin == 0)
            return;
        strbuf_printf(out, "@%s", origin);
        domain = strrchr(out->data, '@');
    }
    if (conf->append_dot_mydomain && domain[1] != 0
        && strchr(domain + 1, '.') == NULL && conf->mydomain != NULL
        && *conf->mydomain != 0 && str_casecmp(domain + 1, "localhost") != 0)
        strbuf_printf(out, ".%s", conf->mydomain);
}

/* cleanup_addr_is_local: is the domain of addr one of ours */
static int cleanup_addr_is_local(const cleanup_config *conf, const char *addr)
{
    const char *at = strrchr(addr, '@');
    const char *const *dest;
    size_t  count;
    size_t  i;

    if (at == NULL)
        return 1;
    if (str_casecmp(at + 1, conf->myhostname) == 0
        || str_casecmp(at + 1, conf->myorigin) == 0
        || str_casecmp(at + 1, "localhost") == 0)
        return 1;
    dest = param_list(PARAM_MYDESTINATION, &count);
    for (i = 0; dest != NULL && i < count; i++)
        if (str_casecmp(at + 1, dest[i]) == 0)
            return 1;
    return 0;
}

/* cleanup_addr_first: the first address in a table value */
static int cleanup_addr_first(const char *value, strbuf *out)
{
    size_t  start = strspn(value, " \t,");
    size_t  len = strcspn(value + start, " \t,");

    if (len == 0 || len > CLEANUP_ADDR_MAX
        || memchr(value + start, '\r', len) || memchr(value + start, '\n', len))
        return -1;
    strbuf_set(out, value + start, len);
    return 0;
}

/* cleanup_addr_propagate: put addr's extension into result when the
 * matched key did not carry it (propagate_unmatched_extensions) */
static void cleanup_addr_propagate(const cleanup_config *conf, const char *addr,
                                   const char *matched, strbuf *result)
{
    size_t  llen = addr_local_len(addr);
    strbuf *user = strbuf_new(32);
    strbuf *ext = strbuf_new(32);
    strbuf *tmp;
    char   *lower;
    const char *at;
    int     delim;

    delim = addr_split_local(addr, llen, conf->delimiters, 0, user, ext);
    lower = mem_strndup(addr, llen);
    str_lower(lower);
    if (delim > 0 && ext->len > 0 && matched != NULL
        && str_casecmp(matched, addr) != 0 && strcmp(matched, lower) != 0
        && *result->data != 0) {
        at = strrchr(result->data, '@');
        tmp = strbuf_new(result->len + ext->len + 2);
        if (at == NULL)
            strbuf_printf(tmp, "%s%c%s", result->data, delim, ext->data);
        else
            strbuf_printf(tmp, "%.*s%c%s%s", (int) (at - result->data), result->data,
                          delim, ext->data, at);
        strbuf_setf(result, "%s", strbuf_str(tmp));
        strbuf_free(tmp);
    }
    mem_free(lower);
    strbuf_free(user);
    strbuf_free(ext);
}

/* cleanup_addr_map11: rewrite addr in place through one table list */
static int cleanup_addr_map11(cleanup_state *st, maps *m, strbuf *addr)
{
    strbuf *value;
    strbuf *first;
    strbuf *matched;
    int     rc;

    if (m == NULL || addr->len == 0)
        return 0;
    value = strbuf_new(64);
    first = strbuf_new(64);
    matched = strbuf_new(64);
    rc = maps_find_addr(m, strbuf_str(addr), st->cfg->delimiters,
                        cleanup_addr_is_local(st->cfg, strbuf_str(addr))
                        ? MAPS_ADDR_F_LOCAL : 0, value, matched);
    if (rc == DICT_RETRY) {
        msg_warn("%s", maps_error(m));
        cleanup_state_fail(st, 4, "4.3.0 %s lookup failure", maps_title(m));
        rc = -1;
    } else if (rc == DICT_FOUND) {
        if (cleanup_addr_first(strbuf_str(value), first) < 0) {
            msg_warn("%s: bad result for %s", maps_title(m), strbuf_str(addr));
            cleanup_state_fail(st, 4, "4.3.0 %s lookup failure", maps_title(m));
            rc = -1;
        } else {
            char   *old = mem_strdup(strbuf_str(addr));

            cleanup_addr_qualify(st->cfg, strbuf_str(first), addr);
            if (st->cfg->propagate & CLEANUP_PROP_CANONICAL)
                cleanup_addr_propagate(st->cfg, old, strbuf_str(matched), addr);
            mem_free(old);
            rc = 0;
        }
    } else {
        rc = 0;
    }
    strbuf_free(value);
    strbuf_free(first);
    strbuf_free(matched);
    return rc;
}

/* cleanup_addr_masquerade: strip subdomains per masquerade_domains */
void    cleanup_addr_masquerade(const cleanup_config *conf, strbuf *addr)
{
    char   *at = strrchr(addr->data, '@');
    const char *domain;
    size_t  dlen;
    size_t  i;

    if (at == NULL || conf->nmasq_domains == 0)
        return;
    for (i = 0; i < conf->nmasq_exceptions; i++)
        if (strlen(conf->masq_exceptions[i]) == (size_t) (at - addr->data)
            && strncasecmp(conf->masq_exceptions[i], addr->data,
                           (size_t) (at - addr->data)) == 0)
            return;
    domain = at + 1;
    dlen = strlen(domain);
    for (i = 0; i < conf->nmasq_domains; i++) {
        const char *item = conf->masq_domains[i];
        int     keep = item[0] == '!';
        const char *name = item + keep;
        size_t  nlen = strlen(name);

        if (nlen == 0)
            continue;
        if (str_casecmp(domain, name) == 0)
            return;                             /* already the short form */
        if (dlen > nlen && domain[dlen - nlen - 1] == '.'
            && strcasecmp(domain + dlen - nlen, name) == 0) {
            if (!keep) {
                strbuf *tmp = strbuf_new(addr->len + nlen + 1);

                strbuf_printf(tmp, "%.*s@%s", (int) (at - addr->data), addr->data, name);
                strbuf_setf(addr, "%s", strbuf_str(tmp));
                strbuf_free(tmp);
            }
            return;
        }
    }
}

/* cleanup_addr_client_local: does local_header_rewrite_clients match? */
static int cleanup_addr_client_local(const cleanup_config *conf, const char *client)
{
    if (conf->hdr_rewrite_all)
        return 1;
    if (client == NULL || *client == 0)
        return 0;
    if (conf->hdr_rewrite_inet && conf->inet_addrs
        && cidr_list_match(conf->inet_addrs, client) == 1)
        return 1;
    if (conf->hdr_rewrite_mynetworks && conf->mynetworks
        && cidr_list_match(conf->mynetworks, client) == 1)
        return 1;
    return conf->hdr_rewrite_nets && cidr_list_match(conf->hdr_rewrite_nets, client) == 1;
}

/* cleanup_addr_header_mode: how this message's header addresses change */
int     cleanup_addr_header_mode(const cleanup_state *st)
{
    if ((st->flags & (CLEANUP_F_LOCAL | CLEANUP_F_BOUNCE))
        || (st->client_addr == NULL && st->client_name == NULL)
        || cleanup_addr_client_local(st->cfg, st->client_addr))
        return CLEANUP_HDR_LOCAL;
    if (*st->cfg->remote_header_domain != 0)
        return CLEANUP_HDR_REMOTE;
    return CLEANUP_HDR_NONE;
}

/* cleanup_addr_header: rewrite one header address */
int     cleanup_addr_header(cleanup_state *st, int class, int mode, const char *addr,
                            strbuf *out)
{
    const cleanup_config *conf = st->cfg;
    int     sender = (class & CLEANUP_CLASS_HDR_SENDER) != 0;

    if (mode == CLEANUP_HDR_NONE || *addr == 0) {
        strbuf_setf(out, "%s", addr);
        return 0;
    }
    if (mode == CLEANUP_HDR_LOCAL)
        cleanup_addr_qualify(conf, addr, out);
    else
        cleanup_addr_complete(conf, addr, conf->remote_header_domain, out);
    if (conf->canonical_classes & class) {
        if (cleanup_addr_map11(st, sender ? conf->sender_canonical
                               : conf->recipient_canonical, out) < 0
            || cleanup_addr_map11(st, conf->canonical, out) < 0)
            return -1;
    }
    if (conf->masq_classes & class)
        cleanup_addr_masquerade(conf, out);
    return 0;
}

/* cleanup_addr_sender: qualify and canonicalize the envelope sender */
int     cleanup_addr_sender(cleanup_state *st)
{
    strbuf *addr = strbuf_new(64);
    int     rc = 0;

    if (st->flags & CLEANUP_F_LOCAL)
        cleanup_addr_qualify(st->cfg, st->sender, addr);
    else
        cleanup_addr_complete(st->cfg, st->sender, NULL, addr);
    if ((st->cfg->canonical_classes & CLEANUP_CLASS_ENV_SENDER)
        && (cleanup_addr_map11(st, st->cfg->sender_canonical, addr) < 0
            || cleanup_addr_map11(st, st->cfg->canonical, addr) < 0))
        rc = -1;
    else {
        if (st->cfg->masq_classes & CLEANUP_CLASS_ENV_SENDER)
            cleanup_addr_masquerade(st->cfg, addr);
        mem_free(st->sender);
        st->sender = strbuf_detach(addr, NULL);
        addr = strbuf_new(1);
    }
    strbuf_free(addr);
    return rc;
}

/* Virtual alias expansion context. */
typedef struct cleanup_expand {
    cleanup_state *st;
    const cleanup_rcpt *from;           /* the recipient being expanded */
    cleanup_rcpt *out;
    size_t  nout;
    size_t  size;
    const char **path;                  /* ancestors of the current address */
    size_t  depth;
    size_t  first;                      /* first result of this recipient */
} cleanup_expand;

/* cleanup_expand_add: add one final address */
static int cleanup_expand_add(cleanup_expand *ex, const char *addr)
{
    const char *orig = ex->from->orig;

    if ((long) (ex->nout - ex->first) >= ex->st->cfg->expansion_limit) {
        msg_warn("virtual alias expansion of %s: more than %ld addresses",
                 ex->from->addr, ex->st->cfg->expansion_limit);
        cleanup_state_fail(ex->st, 4, "4.6.0 virtual alias expansion limit exceeded");
        return -1;
    }
    if (ex->nout >= CLEANUP_RCPT_MAX) {
        cleanup_state_fail(ex->st, 5, "5.5.3 too many recipients");
        return -1;
    }
    if (orig == NULL && strcmp(addr, ex->from->addr) != 0)
        orig = ex->from->addr;
    cleanup_rcpt_add(&ex->out, &ex->nout, &ex->size, addr, orig,
                     ex->from->orcpt, ex->from->notify);
    return 0;
}

/* cleanup_expand_one: expand addr recursively */
static int cleanup_expand_one(cleanup_expand *ex, const char *addr)
{
    maps   *m = ex->st->cfg->virtual_alias;
    strbuf *value;
    strbuf *matched;
    strbuf *target;
    const char *p;
    size_t  i;
    int     rc;
    int     ancestor;

    if (m == NULL)
        return cleanup_expand_add(ex, addr);
    value = strbuf_new(64);
    matched = strbuf_new(64);
    rc = maps_find_addr(m, addr, ex->st->cfg->delimiters,
                        cleanup_addr_is_local(ex->st->cfg, addr)
                        ? MAPS_ADDR_F_LOCAL : 0, value, matched);
    if (rc == DICT_RETRY) {
        msg_warn("%s", maps_error(m));
        cleanup_state_fail(ex->st, 4, "4.3.0 %s lookup failure", maps_title(m));
        strbuf_free(value);
        strbuf_free(matched);
        return -1;
    }
    if (rc != DICT_FOUND) {
        strbuf_free(value);
        strbuf_free(matched);
        return cleanup_expand_add(ex, addr);
    }
    /* Only an address that expands further counts as a level. */
    if ((long) ex->depth >= ex->st->cfg->recursion_limit) {
        msg_warn("virtual alias expansion of %s: nested deeper than %ld",
                 ex->from->addr, ex->st->cfg->recursion_limit);
        cleanup_state_fail(ex->st, 4, "4.6.0 virtual alias recursion limit exceeded");
        strbuf_free(value);
        strbuf_free(matched);
        return -1;
    }
    ex->path[ex->depth++] = addr;
    target = strbuf_new(64);
    rc = 0;
    for (p = strbuf_str(value); rc == 0 && *p != 0; ) {
        size_t  len;

        p += strspn(p, " \t,");
        if ((len = strcspn(p, " \t,")) == 0)
            break;
        if (len > CLEANUP_ADDR_MAX || memchr(p, '\r', len) || memchr(p, '\n', len)) {
            msg_warn("%s: bad result for %s", maps_title(m), addr);
            cleanup_state_fail(ex->st, 4, "4.3.0 %s lookup failure", maps_title(m));
            rc = -1;
            break;
        }
        strbuf_set(target, p, len);
        p += len;
        {
            char   *t = mem_strdup(strbuf_str(target));

            cleanup_addr_qualify(ex->st->cfg, t, target);
            mem_free(t);
            if (ex->st->cfg->propagate & CLEANUP_PROP_VIRTUAL)
                cleanup_addr_propagate(ex->st->cfg, addr, strbuf_str(matched), target);
        }
        for (ancestor = 0, i = 0; i < ex->depth; i++)
            if (str_casecmp(ex->path[i], strbuf_str(target)) == 0)
                ancestor = 1;
        if (ancestor)
            rc = cleanup_expand_add(ex, strbuf_str(target));
        else {
            char   *t = mem_strdup(strbuf_str(target));

            rc = cleanup_expand_one(ex, t);
            mem_free(t);
        }
    }
    ex->depth--;
    strbuf_free(target);
    strbuf_free(value);
    strbuf_free(matched);
    return rc;
}

/* cleanup_addr_key: duplicate-filter key: domain folded */
static void cleanup_addr_key(const char *addr, strbuf *key)
{
    strbuf_setf(key, "%s", addr);
    addr_fold_domain(key->data);
}

/* cleanup_addr_recipients: rewrite, expand and de-duplicate recipients */
int     cleanup_addr_recipients(cleanup_state *st)
{
    cleanup_expand ex;
    strbuf *addr = strbuf_new(64);
    strbuf *key = strbuf_new(64);
    htable *seen = htable_new(16);
    cleanup_rcpt *final = NULL;
    size_t  nfinal = 0;
    size_t  size = 0;
    size_t  i;
    size_t  j;
    int     rc = 0;

    memset(&ex, 0, sizeof(ex));
    ex.st = st;
    ex.path = mem_calloc((size_t) st->cfg->recursion_limit + 1, sizeof(*ex.path));
    for (i = 0; rc == 0 && i < st->nrcpts; i++) {
        cleanup_rcpt r = st->rcpts[i];

        if (st->flags & CLEANUP_F_LOCAL)
            cleanup_addr_qualify(st->cfg, r.addr, addr);
        else
            cleanup_addr_complete(st->cfg, r.addr, NULL, addr);
        if ((st->cfg->canonical_classes & CLEANUP_CLASS_ENV_RCPT)
            && (cleanup_addr_map11(st, st->cfg->recipient_canonical, addr) < 0
                || cleanup_addr_map11(st, st->cfg->canonical, addr) < 0)) {
            rc = -1;
            break;
        }
        if (st->cfg->masq_classes & CLEANUP_CLASS_ENV_RCPT)
            cleanup_addr_masquerade(st->cfg, addr);
        if (r.orig == NULL && strcmp(strbuf_str(addr), r.addr) != 0)
            r.orig = r.addr;
        ex.from = &r;
        ex.first = ex.nout;
        {
            char   *a = mem_strdup(strbuf_str(addr));

            r.addr = a;
            rc = cleanup_expand_one(&ex, a);
            mem_free(a);
        }
    }
    for (j = 0; rc == 0 && j < ex.nout; j++) {
        cleanup_addr_key(ex.out[j].addr, key);
        if (htable_has(seen, strbuf_str(key)))
            continue;
        htable_put(seen, strbuf_str(key), NULL);
        cleanup_rcpt_add(&final, &nfinal, &size, ex.out[j].addr, ex.out[j].orig,
                         ex.out[j].orcpt, ex.out[j].notify);
    }
    cleanup_rcpt_free_all(ex.out, ex.nout);
    mem_free(ex.path);
    if (rc == 0) {
        cleanup_rcpt_free_all(st->rcpts, st->nrcpts);
        st->rcpts = final;
        st->nrcpts = nfinal;
        st->rcpts_size = size;
    } else {
        cleanup_rcpt_free_all(final, nfinal);
    }
    htable_free(seen, NULL);
    strbuf_free(addr);
    strbuf_free(key);
    return rc;
}
