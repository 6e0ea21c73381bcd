/*
 * cleanup_addr: envelope address rewriting in cleanup.
 *
 * cleanup_addr_qualify(conf, addr, out)
 *     out = addr with "@$myorigin" appended when it has no '@', or with
 *     ".$mydomain" appended to a dotless domain when append_dot_mydomain
 *     is on. The null address "" stays empty.
 * cleanup_addr_sender(st)
 *     Qualifies the sender (local submissions only), then applies
 *     sender_canonical_maps and canonical_maps (in that order, one
 *     lookup each; a result without '@' is qualified). 0, or -1 with the
 *     state failed (a table that cannot answer: status 4).
 * cleanup_addr_recipients(st)
 *     For each recipient: qualify (local submissions), then
 *     recipient_canonical_maps and canonical_maps, then virtual alias
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
 * Header addresses are not put through the canonical maps here (that
 * comes with virtual domain support); see cleanup_header.c for the
 * qualification of header addresses.
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

/* cleanup_addr_qualify: append @myorigin or .mydomain as configured */
void    cleanup_addr_qualify(const cleanup_config *conf, const char *addr,
                                     strbuf *out)
{
    const char *domain;

    strbuf_setf(out, "%s", addr);
    if (*addr == 0)
        return;
    if ((domain = strrchr(addr, '@')) == NULL) {
        strbuf_printf(out, "@%s", conf->myorigin);
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

/* cleanup_addr_map11: rewrite addr in place through one table list */
static int cleanup_addr_map11(cleanup_state *st, maps *m, strbuf *addr)
{
    strbuf *value;
    strbuf *first;
    int     rc;

    if (m == NULL || addr->len == 0)
        return 0;
    value = strbuf_new(64);
    first = strbuf_new(64);
    rc = maps_find_addr(m, strbuf_str(addr), param_str(PARAM_RECIPIENT_DELIMITER),
                        cleanup_addr_is_local(st->cfg, strbuf_str(addr))
                        ? MAPS_ADDR_F_LOCAL : 0, value, NULL);
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
            cleanup_addr_qualify(st->cfg, strbuf_str(first), addr);
            rc = 0;
        }
    } else {
        rc = 0;
    }
    strbuf_free(value);
    strbuf_free(first);
    return rc;
}

/* cleanup_addr_sender: qualify and canonicalize the envelope sender */
int     cleanup_addr_sender(cleanup_state *st)
{
    strbuf *addr = strbuf_new(64);
    int     rc = 0;

    if (st->flags & CLEANUP_F_LOCAL)
        cleanup_addr_qualify(st->cfg, st->sender, addr);
    else
        strbuf_setf(addr, "%s", st->sender);
    if (cleanup_addr_map11(st, st->cfg->sender_canonical, addr) < 0
        || cleanup_addr_map11(st, st->cfg->canonical, addr) < 0)
        rc = -1;
    else {
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
    strbuf *target;
    const char *p;
    size_t  i;
    int     rc;
    int     ancestor;

    if (m == NULL)
        return cleanup_expand_add(ex, addr);
    if ((long) ex->depth >= ex->st->cfg->recursion_limit) {
        msg_warn("virtual alias expansion of %s: nested deeper than %ld",
                 ex->from->addr, ex->st->cfg->recursion_limit);
        cleanup_state_fail(ex->st, 4, "4.6.0 virtual alias recursion limit exceeded");
        return -1;
    }
    value = strbuf_new(64);
    rc = maps_find_addr(m, addr, param_str(PARAM_RECIPIENT_DELIMITER),
                        cleanup_addr_is_local(ex->st->cfg, addr)
                        ? MAPS_ADDR_F_LOCAL : 0, value, NULL);
    if (rc == DICT_RETRY) {
        msg_warn("%s", maps_error(m));
        cleanup_state_fail(ex->st, 4, "4.3.0 %s lookup failure", maps_title(m));
        strbuf_free(value);
        return -1;
    }
    if (rc != DICT_FOUND) {
        strbuf_free(value);
        return cleanup_expand_add(ex, addr);
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
            strbuf_setf(addr, "%s", r.addr);
        if (cleanup_addr_map11(st, st->cfg->recipient_canonical, addr) < 0
            || cleanup_addr_map11(st, st->cfg->canonical, addr) < 0) {
            rc = -1;
            break;
        }
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
