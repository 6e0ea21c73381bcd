/*
 * htable: string-keyed hash table (insertion order is not kept; callers
 * that need order keep their own list).
 */
#ifndef POSTERN_HTABLE_H
#define POSTERN_HTABLE_H

#include <stddef.h>

typedef struct htable htable;
typedef void (*htable_free_fn) (void *value);

htable *htable_new(size_t size_hint);
htable *htable_free(htable *table, htable_free_fn free_value);
void   *htable_find(const htable *table, const char *key);
int     htable_has(const htable *table, const char *key);
void   *htable_put(htable *table, const char *key, void *value);
void   *htable_remove(htable *table, const char *key, int *found);
size_t  htable_count(const htable *table);
const char **htable_keys(const htable *table, size_t *count);

#endif
