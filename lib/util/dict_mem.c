/*
 * dict_mem: in-memory lookup table with ordered iteration.
 *
 * Public functions:
 *   dict_mem_new(type, name, flags): an empty table for type (a string
 *     constant such as "inline") and name, with fixed keys (DICT_P_FIXED:
 *     dict.c folds lookup keys under DICT_F_FOLD) and lookup, iterate and
 *     close methods. Never returns NULL; close it with dict_close.
 *   dict_mem_add(d, key, value): add one entry; the strings are copied.
 *     The key is folded to lower case first when the table was made with
 *     DICT_F_FOLD, so it matches folded lookup keys. Returns 0 added, 1
 *     when the (folded) key is already there: the first value is kept and
 *     the caller decides whether to warn.
 *   dict_mem_count(d), dict_mem_bytes(d): entries held and the sum of
 *     their key and value lengths (callers bound what they load).
 *   dict_mem_watch(d, path, st): remember the identity of the file the
 *     entries came from (st as returned by fstat when it was read) and
 *     mark the table DICT_P_FILE: dict_changed then reports 1 once the
 *     file at path is replaced, removed or modified.
 *
 * Iteration walks the entries in the order they were added.
 *
 * SECURITY: keys and values are whatever the caller loaded; lookups only
 * compare strings. The caller bounds what it loads (dict_mem_bytes).
 * LIMITS: those of the caller; iteration is O(1) per step.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "dict.h"
#include "dict_mem.h"
#include "htable.h"
#include "mem.h"
#include "strutil.h"

typedef struct dict_mem_entry {
    char   *key;
    char   *value;
} dict_mem_entry;

typedef struct dict_mem {
    dict    dict;                       /* must be first */
    dict_mem_entry *entries;            /* in insertion order */
    size_t  count;
    size_t  alloc;
    size_t  bytes;                      /* key + value bytes held */
    htable *index;                      /* key -> entry index + 1 */
    size_t  cursor;                     /* next entry for iterate */
    char   *path;                       /* watched file, or NULL */
    dev_t   dev;
    ino_t   ino;
    time_t  mtime;
} dict_mem;

/* dict_mem_lookup: find a key. */
static int dict_mem_lookup(dict *d, const char *key, strbuf *value)
{
    dict_mem *dm = (dict_mem *) d;
    size_t  idx = (size_t) (uintptr_t) htable_find(dm->index, key);

    if (idx == 0)
        return DICT_NOTFOUND;
    strbuf_puts(value, dm->entries[idx - 1].value);
    return DICT_FOUND;
}

/* dict_mem_iterate: walk the entries in insertion order. */
static int dict_mem_iterate(dict *d, int first, strbuf *key, strbuf *value)
{
    dict_mem *dm = (dict_mem *) d;

    if (first)
        dm->cursor = 0;
    if (dm->cursor >= dm->count)
        return DICT_NOTFOUND;
    strbuf_puts(key, dm->entries[dm->cursor].key);
    strbuf_puts(value, dm->entries[dm->cursor].value);
    dm->cursor++;
    return DICT_FOUND;
}

/* dict_mem_changed: has the watched file changed? */
static int dict_mem_changed(dict *d)
{
    dict_mem *dm = (dict_mem *) d;

    return dm->path != NULL && dict_file_changed(dm->path, dm->dev, dm->ino, dm->mtime);
}

/* dict_mem_close: free everything. */
static void dict_mem_close(dict *d)
{
    dict_mem *dm = (dict_mem *) d;
    size_t  i;

    for (i = 0; i < dm->count; i++) {
        mem_free(dm->entries[i].key);
        mem_free(dm->entries[i].value);
    }
    mem_free(dm->entries);
    htable_free(dm->index, NULL);
    mem_free(dm->path);
    dict_free_base(d);
}

/* dict_mem_new: an empty in-memory table. */
dict   *dict_mem_new(const char *type, const char *name, int flags)
{
    dict_mem *dm = (dict_mem *) dict_alloc(type, name, flags, DICT_P_FIXED,
                                           sizeof(dict_mem));

    dm->index = htable_new(16);
    dm->dict.lookup = dict_mem_lookup;
    dm->dict.iterate = dict_mem_iterate;
    dm->dict.changed = dict_mem_changed;
    dm->dict.close = dict_mem_close;
    return &dm->dict;
}

/* dict_mem_add: add an entry unless the key is taken. */
int dict_mem_add(dict *d, const char *key, const char *value)
{
    dict_mem *dm = (dict_mem *) d;
    char   *k = mem_strdup(key);

    if (d->flags & DICT_F_FOLD)
        str_lower(k);
    if (htable_has(dm->index, k)) {
        mem_free(k);
        return 1;
    }
    if (dm->count == dm->alloc) {
        dm->alloc = dm->alloc ? dm->alloc * 2 : 16;
        dm->entries = mem_realloc(dm->entries, dm->alloc * sizeof(*dm->entries));
    }
    dm->entries[dm->count].key = k;
    dm->entries[dm->count].value = mem_strdup(value);
    dm->bytes += strlen(k) + strlen(value);
    dm->count++;
    (void) htable_put(dm->index, k, (void *) (uintptr_t) dm->count);
    return 0;
}

/* dict_mem_count: number of entries. */
size_t dict_mem_count(const dict *d)
{
    return ((const dict_mem *) d)->count;
}

/* dict_mem_bytes: key and value bytes held. */
size_t dict_mem_bytes(const dict *d)
{
    return ((const dict_mem *) d)->bytes;
}

/* dict_mem_watch: tie the table to the file it was read from. */
void dict_mem_watch(dict *d, const char *path, const struct stat *st)
{
    dict_mem *dm = (dict_mem *) d;

    mem_free(dm->path);
    dm->path = mem_strdup(path);
    dm->dev = st->st_dev;
    dm->ino = st->st_ino;
    dm->mtime = st->st_mtime;
    d->props |= DICT_P_FILE;
}
