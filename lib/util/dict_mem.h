/*
 * dict_mem: an in-memory, read-only key/value table that keeps its
 * entries in insertion order. The building block of the inline: and
 * texthash: types; see dict_mem.c for the contracts.
 */
#ifndef POSTERN_DICT_MEM_H
#define POSTERN_DICT_MEM_H

#include <sys/stat.h>

#include "dict.h"

dict   *dict_mem_new(const char *type, const char *name, int flags);
int     dict_mem_add(dict *d, const char *key, const char *value);
size_t  dict_mem_count(const dict *d);
size_t  dict_mem_bytes(const dict *d);
void    dict_mem_watch(dict *d, const char *path, const struct stat *st);

#endif
