/*
 * dict: the one lookup-table API. Every program that consults a table
 * (aliases, access lists, transport, virtual, canonical, SASL passwords)
 * opens it here by "type:name" and gets the same three answers:
 *
 *   DICT_FOUND     the key has a value (copied into the caller's strbuf)
 *   DICT_NOTFOUND  the table answered: no such key
 *   DICT_RETRY     the table could not answer (missing or broken file,
 *                  I/O error, database error). Callers must treat this as
 *                  "try again later" (defer), never as "no such user".
 *
 * Types: hash, btree (Berkeley DB), lmdb, cdb, texthash, inline, static,
 * regexp, unix (passwd.byname, group.byname), fail. Each type is one
 * dict_<type>.c module that fills in the struct dict method table below;
 * dict.c holds the registry, key folding, the open cache and the surrogate
 * table that stands in for one that could not be opened.
 *
 * Writing (postmap, postalias): open with DICT_F_CREATE, dict_put each
 * entry, then dict_commit (which makes the new table visible atomically,
 * e.g. by renaming a temporary file into place) and dict_close. Closing
 * without a commit throws the new table away. DICT_F_UPDATE opens the
 * existing table for in-place changes (postmap -i, -d) under an
 * exclusive lock.
 *
 * See dict.c for the function contracts.
 */
#ifndef POSTERN_DICT_H
#define POSTERN_DICT_H

#include <stddef.h>
#include <sys/types.h>

#include "strbuf.h"

/* Lookup, iteration and delete results. */
#define DICT_FOUND      0
#define DICT_NOTFOUND   1
#define DICT_RETRY      (-1)

/* Open flags. */
#define DICT_F_CREATE       (1 << 0)    /* build a new table (postmap) */
#define DICT_F_UPDATE       (1 << 1)    /* change the existing table in place */
#define DICT_F_LOCK         (1 << 2)    /* lock: shared reads, exclusive writes */
#define DICT_F_FOLD         (1 << 3)    /* fold keys to lower case (fixed-key types) */
#define DICT_F_DUP_REPLACE  (1 << 4)    /* dict_put replaces an existing key */
#define DICT_F_DUP_IGNORE   (1 << 5)    /* dict_put keeps the old value silently */
#define DICT_F_NO_CACHE     (1 << 6)    /* dict_cache_open: private handle */
#define DICT_F_UNTRUSTED    (1 << 7)    /* source may not run commands/includes */

/* Type properties (struct dict.props). */
#define DICT_P_FIXED        (1 << 0)    /* exact-match keys: folding applies */
#define DICT_P_PATTERN      (1 << 1)    /* keys are matched by patterns */
#define DICT_P_WRITABLE     (1 << 2)    /* supports CREATE/UPDATE */
#define DICT_P_FILE         (1 << 3)    /* backed by a file: change detection */

/* Key and value limits for every type. */
#define DICT_KEY_MAX        4096
#define DICT_VALUE_MAX      (1 << 20)

typedef struct dict dict;

/*
 * The method table a type fills in. Methods a type lacks are NULL; the
 * wrappers in dict.c then answer with an error. lookup/iterate write the
 * value (and key) into the strbufs given; the key passed to lookup has
 * already been folded when folding applies. Errors are written to
 * d->error with strbuf_setf and returned as DICT_RETRY / -1.
 */
struct dict {
    const char *type;                   /* "hash", "regexp", ... */
    char   *name;                       /* the part after "type:" */
    char   *spec;                       /* "type:name" as opened */
    int     flags;                      /* DICT_F_* given to dict_open */
    int     props;                      /* DICT_P_* of the type */
    strbuf *error;                      /* last error text */

    int     (*lookup) (dict *d, const char *key, strbuf *value);
    int     (*iterate) (dict *d, int first, strbuf *key, strbuf *value);
    int     (*put) (dict *d, const char *key, const char *value);
    int     (*del) (dict *d, const char *key);
    int     (*commit) (dict *d);
    int     (*changed) (dict *d);
    void    (*close) (dict *d);

    /* Set by dict.c; types leave them alone. */
    int     refcount;
    strbuf *fold_buf;

    /* Set by dict_set_owner; writable types apply them at commit. */
    int     owner_set;
    uid_t   owner_uid;
    gid_t   owner_gid;
};

/* Type registry entry: open(name, flags, err) returns a dict or NULL. */
typedef dict *(*dict_open_fn) (const char *name, int flags, strbuf *err);

dict   *dict_open(const char *spec, int flags, strbuf *err);
dict   *dict_open_or_fail(const char *spec, int flags);
dict   *dict_close(dict *d);
int     dict_get(dict *d, const char *key, strbuf *value);
int     dict_iterate(dict *d, int first, strbuf *key, strbuf *value);
int     dict_put(dict *d, const char *key, const char *value);
int     dict_del(dict *d, const char *key);
int     dict_commit(dict *d);
int     dict_set_owner(dict *d, uid_t uid, gid_t gid);
int     dict_changed(dict *d);
const char *dict_error(const dict *d);
int     dict_type_known(const char *type);
const char *const *dict_type_names(void);
int     dict_split_spec(const char *spec, strbuf *type, strbuf *name);

dict   *dict_cache_open(const char *spec, int flags);
int     dict_cache_changed(void);
void    dict_cache_flush(void);

/* For type modules. */
dict   *dict_alloc(const char *type, const char *name, int flags, int props,
                   size_t size);
void    dict_free_base(dict *d);
dict   *dict_surrogate(const char *type, const char *name, int flags,
                       const char *why);
int     dict_file_changed(const char *path, dev_t dev, ino_t ino,
                          time_t mtime);

#endif
