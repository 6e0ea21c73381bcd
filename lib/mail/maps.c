/*
 * maps: lists of lookup tables and the lookups every program makes.
 *
 * Public functions:
 *   maps_open(title, list, dict_flags): open every table named in list
 *     (items separated by commas and/or white space; an item may hold
 *     both inside braces, as in "inline:{a=b, c=d}"; braces around a
 *     whole item, "{ type:name }", only group and are dropped) through
 *     dict_cache_open with dict_flags (DICT_F_FOLD, usually). title is
 *     the parameter name, used in messages. Never returns NULL: a table
 *     that cannot be opened is logged and stands in as a table that
 *     always fails (so lookups that reach it defer), and an item with
 *     unbalanced braces likewise. An empty list gives a maps that finds
 *     nothing. Release with maps_free.
 *   maps_free(m): close the tables (the per-process cache keeps them
 *     until dict_cache_flush). Returns NULL. Accepts NULL.
 *   maps_find(m, key, value): look key up in each table in order.
 *     DICT_FOUND from the first table that has it (value replaced),
 *     DICT_NOTFOUND when every table answered "no", DICT_RETRY as soon as
 *     a table fails: Postfix's rule is that an error in any table searched
 *     makes the whole lookup a temporary failure, since a later table's
 *     answer might not be the one the admin meant. Keys are used as
 *     given (each table folds them when opened with DICT_F_FOLD).
 *   maps_find_addr(m, address, delimiters, flags, value, matched_key):
 *     look up an address in internal form (addr.h), folded to lower case,
 *     trying these keys in order and stopping at the first hit or
 *     failure:
 *         user+ext@domain     (only when the local part has an extension)
 *         user@domain
 *         user+ext            (only with MAPS_ADDR_F_LOCAL, and when the
 *         user                 local part has an extension for user+ext)
 *         @domain
 *     An address without '@' is looked up as user+ext, then user. The
 *     extension is split by addr_split_local with delimiters (the value
 *     of recipient_delimiter; NULL or "" for none); the '+' above stands
 *     for whichever delimiter split it. MAPS_ADDR_F_OWNER_REQUEST keeps
 *     owner-xxx and xxx-request whole (owner_request_special). A key is
 *     tried once even when two forms coincide; empty forms are skipped.
 *     Returns as maps_find; on DICT_FOUND matched_key (may be NULL) is
 *     set to the key that matched, so a caller can tell whether the
 *     extension was part of it.
 *   maps_error(m): text of the last DICT_RETRY, naming the parameter and
 *     the table ("alias_maps: hash:/etc/aliases: reason"); "" otherwise.
 *   maps_title(m), maps_count(m), maps_table(m, i): the title, the
 *     number of tables and the i-th table (for listings and tests).
 *
 * SECURITY: keys come from mail (addresses, client names) and are
 * untrusted; they are only passed to dict_get, which bounds them. A table
 * failure is never turned into "not found".
 * LIMITS: keys longer than DICT_KEY_MAX are not found (dict); the list is
 * the admin's configuration.
 */
#include <string.h>

#include "addr.h"
#include "dict.h"
#include "maps.h"
#include "mem.h"
#include "msg.h"
#include "strbuf.h"
#include "strutil.h"

/* The forms maps_find_addr tries, at most. */
#define MAPS_ADDR_FORMS     5

struct maps {
    char   *title;                      /* parameter name, for messages */
    dict  **tables;
    size_t  count;
    size_t  size;
    strbuf *error;                      /* last failure */
};

/* maps_is_sep: list separator outside braces. */
static int maps_is_sep(int ch)
{
    return ch == ',' || ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n';
}

/* maps_add: append one table. */
static void maps_add(maps *m, dict *d)
{
    if (m->count == m->size) {
        m->size = m->size ? 2 * m->size : 4;
        m->tables = mem_realloc(m->tables, m->size * sizeof(*m->tables));
    }
    m->tables[m->count++] = d;
}

/* maps_open_item: open one list item, or stand in a failing table. */
static void maps_open_item(maps *m, strbuf *item, int depth, int dict_flags)
{
    strbuf *why;
    dict   *d;
    size_t  start, end;

    /* "{ type:name }": the braces only group; drop them (as param_list). */
    if (depth == 0 && item->len >= 2 && item->data[0] == '{'
        && item->data[item->len - 1] == '}') {
        for (start = 1; start < item->len - 1 && maps_is_sep((unsigned char) item->data[start]);)
            start++;
        for (end = item->len - 1; end > start && maps_is_sep((unsigned char) item->data[end - 1]);)
            end--;
        memmove(item->data, item->data + start, end - start);
        strbuf_truncate(item, end - start);
    }
    if (depth == 0) {
        maps_add(m, dict_cache_open(strbuf_str(item), dict_flags));
        return;
    }
    why = strbuf_new(128);
    strbuf_setf(why, "%s: unbalanced '{' in table \"%s\"", m->title, strbuf_str(item));
    msg_warn("%s; lookups in it will be deferred", strbuf_str(why));
    d = dict_surrogate("unknown", strbuf_str(item), dict_flags, strbuf_str(why));
    d->refcount = 1;                    /* ours alone: not in the cache */
    mem_free(d->spec);                  /* name it as written, not "unknown:" */
    d->spec = mem_strdup(strbuf_str(item));
    maps_add(m, d);
    strbuf_free(why);
}

/* maps_open: open every table in a list. */
maps   *maps_open(const char *title, const char *list, int dict_flags)
{
    maps   *m = mem_calloc(1, sizeof(*m));
    strbuf *item = strbuf_new(64);
    const char *p = list ? list : "";
    int     depth;

    m->title = mem_strdup(title);
    m->error = strbuf_new(64);
    for (;;) {
        while (*p && maps_is_sep((unsigned char) *p))
            p++;
        if (*p == 0)
            break;
        strbuf_reset(item);
        for (depth = 0; *p && (depth > 0 || !maps_is_sep((unsigned char) *p)); p++) {
            if (*p == '{')
                depth++;
            else if (*p == '}' && depth > 0)
                depth--;
            strbuf_putc(item, *p);
        }
        maps_open_item(m, item, depth, dict_flags);
    }
    strbuf_free(item);
    return m;
}

/* maps_free: close every table and release the list. */
maps   *maps_free(maps *m)
{
    size_t  i;

    if (m == NULL)
        return NULL;
    for (i = 0; i < m->count; i++)
        (void) dict_close(m->tables[i]);
    mem_free(m->tables);
    mem_free(m->title);
    strbuf_free(m->error);
    mem_free(m);
    return NULL;
}

/* maps_find: first table that has the key. */
int maps_find(maps *m, const char *key, strbuf *value)
{
    size_t  i;
    int     rc;

    strbuf_reset(m->error);
    for (i = 0; i < m->count; i++) {
        rc = dict_get(m->tables[i], key, value);
        if (rc == DICT_FOUND)
            return DICT_FOUND;
        if (rc != DICT_NOTFOUND) {
            const char *why = dict_error(m->tables[i]);

            strbuf_setf(m->error, "%s: %s: %s", m->title, m->tables[i]->spec,
                        *why ? why : "table lookup failed");
            strbuf_reset(value);
            return DICT_RETRY;
        }
    }
    strbuf_reset(value);
    return DICT_NOTFOUND;
}

/* maps_try_key: one form of an address lookup; skips empty keys and keys
 * already tried (tried[0..*ntried-1], owned by the caller). */
static int maps_try_key(maps *m, const char *key, char **tried, int *ntried,
                        strbuf *value, strbuf *matched_key)
{
    int     i;
    int     rc;

    if (*key == 0)
        return DICT_NOTFOUND;
    for (i = 0; i < *ntried; i++)
        if (strcmp(tried[i], key) == 0)
            return DICT_NOTFOUND;
    tried[(*ntried)++] = mem_strdup(key);
    rc = maps_find(m, key, value);
    if (rc == DICT_FOUND && matched_key != NULL)
        strbuf_puts(matched_key, key);
    return rc;
}

/* maps_find_addr: look up an address in Postfix's order of forms. */
int maps_find_addr(maps *m, const char *address, const char *delimiters,
                   int flags, strbuf *value, strbuf *matched_key)
{
    char   *folded = mem_strdup(address);
    strbuf *user = strbuf_new(64);
    strbuf *ext = strbuf_new(64);
    strbuf *key = strbuf_new(128);
    char   *tried[MAPS_ADDR_FORMS];
    int     ntried = 0;
    const char *domain;
    size_t  local_len;
    int     delim;
    int     rc = DICT_NOTFOUND;
    int     step;

    str_lower(folded);
    domain = addr_domain_of(folded);
    local_len = addr_local_len(folded);
    delim = addr_split_local(folded, local_len, delimiters,
                             (flags & MAPS_ADDR_F_OWNER_REQUEST)
                             ? ADDR_SPLIT_OWNER_REQUEST : 0, user, ext);
    if (delim < 0)                      /* cannot happen: no limits set */
        delim = 0;
    strbuf_reset(m->error);
    if (matched_key != NULL)
        strbuf_reset(matched_key);

    for (step = 0; step < MAPS_ADDR_FORMS && rc == DICT_NOTFOUND; step++) {
        strbuf_reset(key);
        switch (step) {
        case 0:                         /* user+ext@domain */
            if (domain == NULL || delim == 0)
                continue;
            strbuf_puts(key, folded);
            break;
        case 1:                         /* user@domain */
            if (domain == NULL)
                continue;
            strbuf_printf(key, "%s@%s", strbuf_str(user), domain);
            break;
        case 2:                         /* user+ext */
            if ((domain != NULL && !(flags & MAPS_ADDR_F_LOCAL)) || delim == 0)
                continue;
            strbuf_append(key, folded, local_len);
            break;
        case 3:                         /* user */
            if (domain != NULL && !(flags & MAPS_ADDR_F_LOCAL))
                continue;
            strbuf_puts(key, strbuf_str(user));
            break;
        case 4:                         /* @domain */
            if (domain == NULL || *domain == 0)
                continue;
            strbuf_printf(key, "@%s", domain);
            break;
        }
        rc = maps_try_key(m, strbuf_str(key), tried, &ntried, value, matched_key);
    }
    if (rc != DICT_FOUND)
        strbuf_reset(value);
    mem_free(folded);
    strbuf_free(user);
    strbuf_free(ext);
    strbuf_free(key);
    while (ntried > 0)
        mem_free(tried[--ntried]);
    return rc;
}

/* maps_error: the last failure, "" when none. */
const char *maps_error(const maps *m)
{
    return strbuf_str(m->error);
}

/* maps_title: the parameter name given to maps_open. */
const char *maps_title(const maps *m)
{
    return m->title;
}

/* maps_count: number of tables. */
size_t  maps_count(const maps *m)
{
    return m->count;
}

/* maps_table: the i-th table, or NULL past the end. */
dict   *maps_table(const maps *m, size_t index)
{
    return index < m->count ? m->tables[index] : NULL;
}
