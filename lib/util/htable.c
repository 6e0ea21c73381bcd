/*
 * htable: string-keyed hash table with separate chaining.
 *
 * Public functions:
 *   htable_new(size_hint): empty table.
 *   htable_free(table, free_value): destroy; free_value (may be NULL) is
 *     called on each value. Returns NULL.
 *   htable_find(table, key): the value, or NULL when absent (use
 *     htable_has to tell a stored NULL apart).
 *   htable_put(table, key, value): insert or replace; the key is copied.
 *     Returns the replaced value, or NULL.
 *   htable_remove(table, key, &found): remove and return the value.
 *   htable_count(table): number of entries.
 *   htable_keys(table, &count): sorted array of the keys (valid until the
 *     table changes); free the array (not the keys) with mem_free.
 *
 * SECURITY: keys may come from outside; the hash is seeded per process so
 * that chosen keys cannot force long chains predictably, and the table
 * grows to keep chains short.
 * LIMITS: the callers bound how many entries they insert.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "htable.h"
#include "mem.h"

struct htable_entry {
    struct htable_entry *next;
    uint64_t hash;
    char   *key;
    void   *value;
};

struct htable {
    struct htable_entry **buckets;
    size_t  nbuckets;                   /* power of two */
    size_t  count;
};

static uint64_t htable_seed;

/* htable_hash: seeded FNV-1a with a final mix. */
static uint64_t htable_hash(const char *key)
{
    uint64_t h = 1469598103934665603ULL ^ htable_seed;

    while (*key) {
        h ^= (unsigned char) *key++;
        h *= 1099511628211ULL;
    }
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    return h;
}

/* htable_new: create a table sized for size_hint entries. */
htable *htable_new(size_t size_hint)
{
    htable *t = mem_alloc(sizeof(*t));
    size_t  n = 16;

    if (htable_seed == 0)
        htable_seed = ((uint64_t) time(NULL) << 20) ^ (uint64_t) getpid()
            ^ (uint64_t) (uintptr_t) t;
    while (n < size_hint && n < ((size_t) 1 << 30))
        n <<= 1;
    t->buckets = mem_calloc(n, sizeof(*t->buckets));
    t->nbuckets = n;
    t->count = 0;
    return t;
}

/* htable_free: destroy a table and optionally its values. */
htable *htable_free(htable *t, htable_free_fn free_value)
{
    size_t  i;

    if (t == NULL)
        return NULL;
    for (i = 0; i < t->nbuckets; i++) {
        struct htable_entry *e = t->buckets[i], *next;

        for (; e; e = next) {
            next = e->next;
            if (free_value)
                free_value(e->value);
            mem_free(e->key);
            mem_free(e);
        }
    }
    mem_free(t->buckets);
    mem_free(t);
    return NULL;
}

/* htable_lookup: find the entry for key, or NULL. */
static struct htable_entry *htable_lookup(const htable *t, const char *key)
{
    uint64_t h = htable_hash(key);
    struct htable_entry *e;

    for (e = t->buckets[h & (t->nbuckets - 1)]; e; e = e->next)
        if (e->hash == h && strcmp(e->key, key) == 0)
            return e;
    return NULL;
}

/* htable_find: value for key or NULL. */
void   *htable_find(const htable *t, const char *key)
{
    struct htable_entry *e = htable_lookup(t, key);

    return e ? e->value : NULL;
}

/* htable_has: 1 if key is present. */
int htable_has(const htable *t, const char *key)
{
    return htable_lookup(t, key) != NULL;
}

/* htable_grow: double the bucket array. */
static void htable_grow(htable *t)
{
    size_t  n = t->nbuckets * 2;
    struct htable_entry **b = mem_calloc(n, sizeof(*b));
    size_t  i;

    for (i = 0; i < t->nbuckets; i++) {
        struct htable_entry *e = t->buckets[i], *next;

        for (; e; e = next) {
            next = e->next;
            e->next = b[e->hash & (n - 1)];
            b[e->hash & (n - 1)] = e;
        }
    }
    mem_free(t->buckets);
    t->buckets = b;
    t->nbuckets = n;
}

/* htable_put: insert or replace. */
void   *htable_put(htable *t, const char *key, void *value)
{
    struct htable_entry *e = htable_lookup(t, key);
    void   *old;

    if (e) {
        old = e->value;
        e->value = value;
        return old;
    }
    if (t->count >= t->nbuckets && t->nbuckets < ((size_t) 1 << 30))
        htable_grow(t);
    e = mem_alloc(sizeof(*e));
    e->hash = htable_hash(key);
    e->key = mem_strdup(key);
    e->value = value;
    e->next = t->buckets[e->hash & (t->nbuckets - 1)];
    t->buckets[e->hash & (t->nbuckets - 1)] = e;
    t->count++;
    return NULL;
}

/* htable_remove: unlink and return a value. */
void   *htable_remove(htable *t, const char *key, int *found)
{
    uint64_t h = htable_hash(key);
    struct htable_entry **pp, *e;

    for (pp = &t->buckets[h & (t->nbuckets - 1)]; (e = *pp) != NULL; pp = &e->next) {
        if (e->hash == h && strcmp(e->key, key) == 0) {
            void   *v = e->value;

            *pp = e->next;
            mem_free(e->key);
            mem_free(e);
            t->count--;
            if (found)
                *found = 1;
            return v;
        }
    }
    if (found)
        *found = 0;
    return NULL;
}

/* htable_count: number of entries. */
size_t htable_count(const htable *t)
{
    return t->count;
}

/* htable_cmp: qsort helper for key arrays. */
static int htable_cmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *) a, *(const char *const *) b);
}

/* htable_keys: sorted key array. */
const char **htable_keys(const htable *t, size_t *count)
{
    const char **keys = mem_calloc(t->count + 1, sizeof(*keys));
    size_t  i, n = 0;

    for (i = 0; i < t->nbuckets; i++) {
        struct htable_entry *e;

        for (e = t->buckets[i]; e; e = e->next)
            keys[n++] = e->key;
    }
    qsort(keys, n, sizeof(*keys), htable_cmp);
    if (count)
        *count = n;
    return keys;
}
