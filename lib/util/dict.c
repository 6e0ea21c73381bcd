/*
 * dict: the one lookup-table API (see dict.h for the model).
 *
 * Public functions:
 *   dict_open(spec, flags, err): open "type:name". Returns the table, or
 *     NULL with err set ("unsupported dictionary type: foo", "open
 *     /etc/postern/x.db: No such file or directory", "/etc/x, line 3:
 *     ..."). The caller owns the table and closes it with dict_close.
 *   dict_open_or_fail(spec, flags): as dict_open, but a table that cannot
 *     be opened is logged once as a warning and replaced by a surrogate
 *     whose every lookup answers DICT_RETRY with that error, so mail is
 *     deferred instead of bounced. Never returns NULL.
 *   dict_close(d): release (or drop one reference of a cached table).
 *     A CREATE table that was not committed is discarded. Returns NULL.
 *   dict_get(d, key, value): DICT_FOUND (value set), DICT_NOTFOUND, or
 *     DICT_RETRY (dict_error says why). Keys are folded to lower case
 *     first when the table was opened with DICT_F_FOLD and its type has
 *     exact-match keys. A key longer than DICT_KEY_MAX is not found.
 *   dict_iterate(d, first, key, value): walk every entry: first=1 starts
 *     over. DICT_FOUND with key/value set, DICT_NOTFOUND at the end,
 *     DICT_RETRY on error.
 *   dict_put(d, key, value): store. 0 stored, 1 duplicate key kept (not
 *     DICT_F_DUP_REPLACE), -1 error. Folds like dict_get.
 *   dict_del(d, key): DICT_FOUND deleted, DICT_NOTFOUND, DICT_RETRY.
 *   dict_commit(d): make a CREATE/UPDATE table durable and visible; 0/-1.
 *   dict_set_owner(d, uid, gid): the owner (as for fchown: -1 keeps one
 *     part) that the table file of a CREATE/UPDATE table gets at commit;
 *     without it a rebuilt file keeps the owner and mode of the file it
 *     replaces. -1 when the table is not open for writing. A failed
 *     chown at commit fails the commit.
 *   dict_changed(d): 1 when the file behind the table changed since it
 *     was opened (a daemon should finish its request and exit), else 0.
 *   dict_error(d): text of the last error, "" when none.
 *   dict_type_known(type), dict_type_names(): the registry.
 *   dict_split_spec(spec, type, name): split at the first ':'; -1 when
 *     there is no ':' or the type is empty.
 *   dict_cache_open(spec, flags): shared handle: each spec+flags is opened
 *     once per process (with dict_open_or_fail) and reference-counted;
 *     DICT_F_NO_CACHE gives a private handle.
 *   dict_cache_changed(): 1 when any cached table changed (or is a
 *     surrogate that may work now): the daemon should exit after the
 *     current request so that master starts a fresh process.
 *   dict_cache_flush(): close every cached table that has no users.
 *
 *   For type modules: dict_alloc(type, name, flags, props, size) makes a
 *   zeroed object of size bytes (a type struct that starts with struct
 *   dict); dict_free_base(d) frees it; dict_surrogate(...) builds the
 *   always-RETRY table; dict_file_changed(path, dev, ino, mtime) compares
 *   a file with what was opened.
 *
 * SECURITY: keys and values may come from clients (lookups) and from
 * table files written by admins; both are bounded (DICT_KEY_MAX,
 * DICT_VALUE_MAX, enforced by the types). A table that cannot be read is
 * never taken as "not found".
 * LIMITS: DICT_KEY_MAX for keys; the cache holds what the configuration
 * names (a bounded set).
 */
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "dict.h"
#include "dict_types.h"
#include "htable.h"
#include "mem.h"
#include "msg.h"
#include "strutil.h"

static const struct {
    const char *type;
    dict_open_fn open;
} dict_registry[] = {
    {"btree", dict_btree_open},
    {"cdb", dict_cdb_open},
    {"fail", dict_fail_open},
    {"hash", dict_hash_open},
    {"inline", dict_inline_open},
    {"lmdb", dict_lmdb_open},
    {"regexp", dict_regexp_open},
    {"static", dict_static_open},
    {"texthash", dict_texthash_open},
    {"unix", dict_unix_open},
};

#define DICT_NTYPES (sizeof(dict_registry) / sizeof(dict_registry[0]))

/* The per-process table cache: spec+flags -> dict. */
static htable *dict_cache;

/* dict_find_type: registry entry index for a type name, or -1. */
static int dict_find_type(const char *type)
{
    size_t  i;

    for (i = 0; i < DICT_NTYPES; i++)
        if (strcmp(dict_registry[i].type, type) == 0)
            return (int) i;
    return -1;
}

/* dict_type_known: 1 if the type is supported. */
int dict_type_known(const char *type)
{
    return dict_find_type(type) >= 0;
}

/* dict_type_names: NULL-terminated list of supported types. */
const char *const *dict_type_names(void)
{
    static const char *names[DICT_NTYPES + 1];
    size_t  i;

    for (i = 0; i < DICT_NTYPES; i++)
        names[i] = dict_registry[i].type;
    names[DICT_NTYPES] = NULL;
    return names;
}

/* dict_split_spec: split "type:name". */
int dict_split_spec(const char *spec, strbuf *type, strbuf *name)
{
    const char *colon = strchr(spec, ':');

    if (colon == NULL || colon == spec)
        return -1;
    strbuf_set(type, spec, (size_t) (colon - spec));
    strbuf_set(name, colon + 1, strlen(colon + 1));
    return 0;
}

/* dict_alloc: allocate and fill the common part of a table. */
dict   *dict_alloc(const char *type, const char *name, int flags, int props,
                   size_t size)
{
    dict   *d;

    if (size < sizeof(*d))
        msg_panic("dict_alloc: size %zu too small", size);
    d = mem_calloc(1, size);
    d->type = type;
    d->name = mem_strdup(name);
    d->spec = str_concat(type, ":", name, (char *) NULL);
    d->flags = flags;
    d->props = props;
    d->error = strbuf_new(64);
    d->fold_buf = strbuf_new(64);
    return d;
}

/* dict_free_base: free the common part (types call it from close). */
void dict_free_base(dict *d)
{
    mem_free(d->name);
    mem_free(d->spec);
    strbuf_free(d->error);
    strbuf_free(d->fold_buf);
    mem_free(d);
}

/* dict_surrogate_lookup: every lookup is a temporary failure. */
static int dict_surrogate_lookup(dict *d, const char *key, strbuf *value)
{
    (void) key;
    (void) value;
    (void) d;
    return DICT_RETRY;
}

/* dict_surrogate_iterate: iteration fails the same way. */
static int dict_surrogate_iterate(dict *d, int first, strbuf *key, strbuf *value)
{
    (void) first;
    (void) key;
    (void) value;
    (void) d;
    return DICT_RETRY;
}

/* dict_surrogate_changed: always worth a fresh try in a new process. */
static int dict_surrogate_changed(dict *d)
{
    (void) d;
    return 1;
}

/* dict_surrogate_close: release. */
static void dict_surrogate_close(dict *d)
{
    dict_free_base(d);
}

/* dict_surrogate: a table that answers DICT_RETRY with a fixed reason. */
dict   *dict_surrogate(const char *type, const char *name, int flags,
                       const char *why)
{
    dict   *d = dict_alloc(type, name, flags, 0, sizeof(dict));

    strbuf_puts(d->error, why);
    d->lookup = dict_surrogate_lookup;
    d->iterate = dict_surrogate_iterate;
    d->changed = dict_surrogate_changed;
    d->close = dict_surrogate_close;
    return d;
}

/* dict_open: open a table by "type:name". */
dict   *dict_open(const char *spec, int flags, strbuf *err)
{
    strbuf *type = strbuf_new(16);
    strbuf *name = strbuf_new(64);
    dict   *d = NULL;
    int     idx;

    if (dict_split_spec(spec, type, name) < 0) {
        strbuf_setf(err, "%s: need a type:name table, e.g. hash:%s", spec, spec);
    } else if ((idx = dict_find_type(type->data)) < 0) {
        strbuf_setf(err, "unsupported dictionary type: %s", type->data);
    } else if ((d = dict_registry[idx].open(name->data, flags, err)) != NULL) {
        d->refcount = 1;
        if ((flags & (DICT_F_CREATE | DICT_F_UPDATE)) && !(d->props & DICT_P_WRITABLE)) {
            strbuf_setf(err, "%s: tables of type %s cannot be written", spec, d->type);
            d = dict_close(d);
        }
    }
    strbuf_free(type);
    strbuf_free(name);
    return d;
}

/* dict_open_or_fail: open, or stand in a surrogate that defers. */
dict   *dict_open_or_fail(const char *spec, int flags)
{
    strbuf *err = strbuf_new(128);
    strbuf *type = strbuf_new(16);
    strbuf *name = strbuf_new(64);
    dict   *d = dict_open(spec, flags, err);

    if (d == NULL) {
        msg_warn("%s; lookups in %s will be deferred", err->data, spec);
        if (dict_split_spec(spec, type, name) < 0) {
            strbuf_puts(type, "unknown");
            strbuf_puts(name, spec);
        }
        d = dict_surrogate(dict_find_type(type->data) >= 0
                           ? dict_registry[dict_find_type(type->data)].type : "unknown",
                           name->data, flags, err->data);
        /* Keep the spec as opened, also when the type is unknown. */
        mem_free(d->spec);
        d->spec = mem_strdup(spec);
        d->refcount = 1;
    }
    strbuf_free(err);
    strbuf_free(type);
    strbuf_free(name);
    return d;
}

/* dict_cache_key: the cache key for a spec and its flags. */
static char *dict_cache_key(const char *spec, int flags)
{
    char    num[32];

    (void) str_format(num, sizeof(num), "%d:", flags & ~DICT_F_NO_CACHE);
    return str_concat(num, spec, (char *) NULL);
}

/* dict_close: drop a reference; free the table with the last one. */
dict   *dict_close(dict *d)
{
    char   *key;

    if (d == NULL)
        return NULL;
    if (--d->refcount > 0)
        return NULL;
    if (dict_cache != NULL) {
        key = dict_cache_key(d->spec, d->flags);
        if (htable_find(dict_cache, key) == d)
            (void) htable_remove(dict_cache, key, NULL);
        mem_free(key);
    }
    d->close(d);
    return NULL;
}

/* dict_fold: the key as the table should see it. */
static const char *dict_fold(dict *d, const char *key)
{
    if ((d->flags & DICT_F_FOLD) == 0 || (d->props & DICT_P_FIXED) == 0)
        return key;
    strbuf_set(d->fold_buf, key, strlen(key));
    str_lower(d->fold_buf->data);
    return d->fold_buf->data;
}

/* dict_get: look up one key. */
int dict_get(dict *d, const char *key, strbuf *value)
{
    strbuf_reset(value);
    if (strlen(key) > DICT_KEY_MAX)
        return DICT_NOTFOUND;
    if (d->lookup == NULL) {
        strbuf_setf(d->error, "%s: table does not support lookups", d->spec);
        return DICT_RETRY;
    }
    return d->lookup(d, dict_fold(d, key), value);
}

/* dict_iterate: walk the entries. */
int dict_iterate(dict *d, int first, strbuf *key, strbuf *value)
{
    if (d->iterate == NULL) {
        strbuf_setf(d->error, "%s: table cannot be listed", d->spec);
        return DICT_RETRY;
    }
    strbuf_reset(key);
    strbuf_reset(value);
    return d->iterate(d, first, key, value);
}

/* dict_put: store one entry. */
int dict_put(dict *d, const char *key, const char *value)
{
    if (d->put == NULL || (d->flags & (DICT_F_CREATE | DICT_F_UPDATE)) == 0) {
        strbuf_setf(d->error, "%s: table is not open for writing", d->spec);
        return -1;
    }
    if (*key == 0 || strlen(key) > DICT_KEY_MAX) {
        strbuf_setf(d->error, "%s: key is empty or longer than %d bytes",
                    d->spec, DICT_KEY_MAX);
        return -1;
    }
    if (strlen(value) > DICT_VALUE_MAX) {
        strbuf_setf(d->error, "%s: value for \"%s\" is longer than %d bytes",
                    d->spec, key, DICT_VALUE_MAX);
        return -1;
    }
    return d->put(d, dict_fold(d, key), value);
}

/* dict_del: delete one entry. */
int dict_del(dict *d, const char *key)
{
    if (d->del == NULL || (d->flags & (DICT_F_CREATE | DICT_F_UPDATE)) == 0) {
        strbuf_setf(d->error, "%s: table is not open for writing", d->spec);
        return DICT_RETRY;
    }
    if (strlen(key) > DICT_KEY_MAX)
        return DICT_NOTFOUND;
    return d->del(d, dict_fold(d, key));
}

/* dict_commit: make written changes durable and visible. */
int dict_commit(dict *d)
{
    if (d->commit == NULL) {
        strbuf_setf(d->error, "%s: table is not open for writing", d->spec);
        return -1;
    }
    return d->commit(d);
}

/* dict_set_owner: choose the owner of the file written at commit. */
int dict_set_owner(dict *d, uid_t uid, gid_t gid)
{
    if (d->commit == NULL || (d->flags & (DICT_F_CREATE | DICT_F_UPDATE)) == 0) {
        strbuf_setf(d->error, "%s: table is not open for writing", d->spec);
        return -1;
    }
    d->owner_set = 1;
    d->owner_uid = uid;
    d->owner_gid = gid;
    return 0;
}

/* dict_changed: has the file behind the table changed? */
int dict_changed(dict *d)
{
    return d->changed ? d->changed(d) : 0;
}

/* dict_error: last error text. */
const char *dict_error(const dict *d)
{
    return d->error->data;
}

/* dict_file_changed: compare a path with the identity seen at open. */
int dict_file_changed(const char *path, dev_t dev, ino_t ino, time_t mtime)
{
    struct stat st;

    if (stat(path, &st) < 0)
        return 1;
    return st.st_dev != dev || st.st_ino != ino || st.st_mtime != mtime;
}

/* dict_cache_open: shared, reference-counted handle per spec+flags. */
dict   *dict_cache_open(const char *spec, int flags)
{
    char   *key;
    dict   *d;

    if (flags & DICT_F_NO_CACHE)
        return dict_open_or_fail(spec, flags & ~DICT_F_NO_CACHE);
    if (dict_cache == NULL)
        dict_cache = htable_new(16);
    key = dict_cache_key(spec, flags);
    if ((d = htable_find(dict_cache, key)) != NULL) {
        d->refcount++;
    } else {
        d = dict_open_or_fail(spec, flags);
        /* Cache under the spec as given, which may differ from d->spec. */
        mem_free(d->spec);
        d->spec = mem_strdup(spec);
        d->flags = flags;
        (void) htable_put(dict_cache, key, d);
        d->refcount++;                  /* the cache's own reference */
    }
    mem_free(key);
    return d;
}

/* dict_cache_changed: 1 when any cached table changed. */
int dict_cache_changed(void)
{
    const char **keys;
    size_t  i, n;
    int     changed = 0;

    if (dict_cache == NULL)
        return 0;
    keys = htable_keys(dict_cache, &n);
    for (i = 0; i < n && !changed; i++)
        changed = dict_changed(htable_find(dict_cache, keys[i]));
    mem_free(keys);
    return changed;
}

/* dict_cache_flush: close cached tables that nobody holds. */
void dict_cache_flush(void)
{
    const char **keys;
    char  **copies;
    size_t  i, n;

    if (dict_cache == NULL)
        return;
    /* htable_keys is only valid until the table changes: copy first. */
    keys = htable_keys(dict_cache, &n);
    copies = mem_calloc(n ? n : 1, sizeof(*copies));
    for (i = 0; i < n; i++)
        copies[i] = mem_strdup(keys[i]);
    mem_free(keys);
    for (i = 0; i < n; i++) {
        dict   *d = htable_find(dict_cache, copies[i]);

        if (d != NULL && d->refcount == 1)
            (void) dict_close(d);       /* drops the cache's reference */
        mem_free(copies[i]);
    }
    mem_free(copies);
}
