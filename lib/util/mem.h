/*
 * mem: memory allocation that never returns NULL.
 *
 * Every allocation in Postern goes through these functions. On exhaustion
 * (or on a size computation that would overflow) they log a fatal error and
 * exit, so callers never test for NULL. Destructor-style mem_free() returns
 * NULL so a caller can clear its pointer in the same statement:
 *     p = mem_free(p);
 */
#ifndef POSTERN_MEM_H
#define POSTERN_MEM_H

#include <stddef.h>

void *mem_alloc(size_t len);
void *mem_calloc(size_t count, size_t size);
void *mem_realloc(void *ptr, size_t len);
void *mem_memdup(const void *ptr, size_t len);
char *mem_strdup(const char *str);
char *mem_strndup(const char *str, size_t len);
void *mem_free(void *ptr);

#include "banned.h"

#endif
