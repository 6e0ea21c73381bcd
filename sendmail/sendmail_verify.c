/*
 * sendmail_verify: "sendmail -bv address...": print a report of where
 * each address goes, for admins debugging their rewriting tables.
 *
 *   sendmail_verify(argc, argv, out): for each address: parse it (a
 *     local part alone is completed with @$myorigin when
 *     append_at_myorigin is on), show what recipient_canonical_maps and
 *     canonical_maps make of it (one lookup each, Postfix key order),
 *     then expand it through virtual_alias_maps (one-to-many, @domain
 *     catch-alls, recursively within virtual_alias_recursion_limit
 *     levels and virtual_alias_expansion_limit results; an address that
 *     maps back to one it came from is kept), and for every final address
 *     the transport, next hop and address class from lib/mail/resolve.
 *     Writes the report to out. Returns EX_OK when every address was
 *     resolved, EX_NOUSER for an unparsable address, EX_TEMPFAIL when a
 *     table could not be read (the report says which).
 *
 * This is a report of the table lookups made with the invoking user's
 * access to the tables, not a trace of a real delivery: cleanup's header
 * handling, masquerading and the delivery agents' own tables (aliases,
 * virtual_mailbox_maps) are not consulted.
 *
 * SECURITY: runs as the invoking user with no privilege; addresses come
 * from the command line and are parsed with addr_parse.
 * LIMITS: SENDMAIL_VERIFY_LINES report lines per address; the expansion
 * limits above.
 */
#include <stdio.h>
#include <string.h>
#include <sysexits.h>

#include "addr.h"
#include "dict.h"
#include "maps.h"
#include "mem.h"
#include "param.h"
#include "param_names.h"
#include "resolve.h"
#include "sendmail.h"
#include "strbuf.h"
#include "strutil.h"

#define SENDMAIL_VERIFY_LINES   1000

/* State of one address's report. */
struct sendmail_verify_state {
    FILE   *out;
    maps   *valias;
    const char *delims;
    long    recursion_limit;
    long    expansion_limit;
    long    results;
    long    lines;
    int     status;
};

/* sendmail_verify_open: a table list, NULL when the parameter is empty. */
static maps *sendmail_verify_open(const char *name)
{
    const char *value = param_str(name);

    return value && *value ? maps_open(name, value, DICT_F_FOLD) : NULL;
}

/* sendmail_verify_line: one indented report line, bounded. */
static void sendmail_verify_line(struct sendmail_verify_state *vs, int depth,
                                 const char *text)
{
    if (vs->lines++ == SENDMAIL_VERIFY_LINES)
        fprintf(vs->out, "  ... (report truncated)\n");
    if (vs->lines > SENDMAIL_VERIFY_LINES)
        return;
    fprintf(vs->out, "%*s%s\n", 2 + 2 * depth, "", text);
}

/* sendmail_verify_canonical: one canonical table lookup, in place. */
static void sendmail_verify_canonical(struct sendmail_verify_state *vs, const char *param,
                                      strbuf *addr)
{
    maps   *m = sendmail_verify_open(param);
    strbuf *val = strbuf_new(64);
    strbuf *line = strbuf_new(128);
    size_t  len;
    int     rc;

    if (m == NULL) {
        strbuf_free(val);
        strbuf_free(line);
        return;
    }
    rc = maps_find_addr(m, addr->data, vs->delims, 0, val, NULL);
    if (rc == DICT_FOUND) {
        len = strcspn(val->data + strspn(val->data, " \t,"), " \t,");
        strbuf_setf(line, "%s: %s -> %.*s", param, addr->data, (int) len,
                    val->data + strspn(val->data, " \t,"));
        strbuf_set(addr, val->data + strspn(val->data, " \t,"), len);
    } else if (rc == DICT_RETRY) {
        strbuf_setf(line, "%s: lookup failed: %s", param, maps_error(m));
        vs->status = EX_TEMPFAIL;
    } else {
        strbuf_setf(line, "%s: no match", param);
    }
    sendmail_verify_line(vs, 0, line->data);
    maps_free(m);
    strbuf_free(val);
    strbuf_free(line);
}

/* sendmail_verify_resolve: the transport of one final address. */
static void sendmail_verify_resolve(struct sendmail_verify_state *vs, int depth,
                                    const char *addr)
{
    resolve_result r;
    strbuf *err = strbuf_new(64);
    strbuf *line = strbuf_new(128);
    int     rc;

    resolve_result_init(&r);
    rc = resolve_addr(NULL, addr, &r, err);
    if (rc == RESOLVE_OK)
        strbuf_setf(line, "<%s> delivered by %s%s%s (%s)", r.recipient->data,
                    r.transport->data, r.nexthop->len ? ", next hop " : "",
                    r.nexthop->data, resolve_class_name(r.class));
    else {
        strbuf_setf(line, "<%s>: cannot resolve: %s", addr, strbuf_str(err));
        vs->status = EX_TEMPFAIL;
    }
    sendmail_verify_line(vs, depth, line->data);
    resolve_result_free(&r);
    strbuf_free(err);
    strbuf_free(line);
}

/* sendmail_verify_expand: virtual alias expansion of addr, recursively. */
static void sendmail_verify_expand(struct sendmail_verify_state *vs, const char *addr,
                                   const char **path, int depth)
{
    strbuf *val = strbuf_new(64);
    strbuf *line = strbuf_new(128);
    const char *p;
    int     rc = vs->valias ? maps_find_addr(vs->valias, addr, vs->delims, 0, val, NULL)
        : DICT_NOTFOUND;
    int     i;

    if (rc == DICT_RETRY) {
        strbuf_setf(line, "%s: lookup failed: %s", PARAM_VIRTUAL_ALIAS_MAPS,
                    maps_error(vs->valias));
        sendmail_verify_line(vs, depth, line->data);
        vs->status = EX_TEMPFAIL;
    } else if (rc == DICT_NOTFOUND) {
        if (++vs->results > vs->expansion_limit) {
            if (vs->results == vs->expansion_limit + 1)
                sendmail_verify_line(vs, depth, "virtual_alias_expansion_limit exceeded");
        } else {
            sendmail_verify_resolve(vs, depth, addr);
        }
    } else if (depth >= vs->recursion_limit) {
        sendmail_verify_line(vs, depth, "virtual_alias_recursion_limit exceeded");
    } else {
        strbuf_setf(line, "<%s> is a virtual alias for: %s", addr, val->data);
        sendmail_verify_line(vs, depth, line->data);
        path[depth] = addr;
        for (p = val->data; *p;) {
            size_t  len;
            char   *item;
            int     seen = 0;

            p += strspn(p, " \t,");
            if ((len = strcspn(p, " \t,")) == 0)
                break;
            item = mem_strndup(p, len);
            p += len;
            for (i = 0; i <= depth; i++)
                if (str_casecmp(path[i], item) == 0)
                    seen = 1;
            if (seen)
                sendmail_verify_resolve(vs, depth + 1, item);
            else
                sendmail_verify_expand(vs, item, path, depth + 1);
            mem_free(item);
        }
    }
    strbuf_free(val);
    strbuf_free(line);
}

/* sendmail_verify: report on each address. */
int     sendmail_verify(int argc, char **argv, FILE *out)
{
    struct sendmail_verify_state vs;
    strbuf *addr = strbuf_new(64);
    const char **path;
    const char *why;
    size_t  rest;
    int     i;
    int     status = EX_OK;

    if (argc == 0) {
        fprintf(stderr, "sendmail: -bv needs at least one address\n");
        strbuf_free(addr);
        return EX_USAGE;
    }
    memset(&vs, 0, sizeof(vs));
    vs.out = out;
    vs.delims = param_str(PARAM_RECIPIENT_DELIMITER);
    vs.recursion_limit = param_int(PARAM_VIRTUAL_ALIAS_RECURSION_LIMIT);
    vs.expansion_limit = param_int(PARAM_VIRTUAL_ALIAS_EXPANSION_LIMIT);
    vs.valias = sendmail_verify_open(PARAM_VIRTUAL_ALIAS_MAPS);
    path = mem_calloc((size_t) vs.recursion_limit + 1, sizeof(*path));
    for (i = 0; i < argc; i++) {
        vs.status = EX_OK;
        vs.results = 0;
        vs.lines = 0;
        if (addr_parse(argv[i], strlen(argv[i]), ADDR_F_LOCAL_OK | ADDR_F_SMTPUTF8,
                       addr, &rest, &why) < 0 || rest != strlen(argv[i]) || addr->len == 0) {
            fprintf(out, "%s: bad address: %s\n", argv[i], why ? why : "not one address");
            status = EX_NOUSER;
            continue;
        }
        if (strchr(addr->data, '@') == NULL && param_bool(PARAM_APPEND_AT_MYORIGIN))
            strbuf_printf(addr, "@%s", param_str(PARAM_MYORIGIN));
        fprintf(out, "<%s>:\n", addr->data);
        sendmail_verify_canonical(&vs, PARAM_RECIPIENT_CANONICAL_MAPS, addr);
        sendmail_verify_canonical(&vs, PARAM_CANONICAL_MAPS, addr);
        {
            char   *start = mem_strdup(addr->data);

            sendmail_verify_expand(&vs, start, path, 0);
            mem_free(start);
        }
        if (vs.status != EX_OK && status == EX_OK)
            status = vs.status;
    }
    mem_free(path);
    maps_free(vs.valias);
    strbuf_free(addr);
    return status;
}
