/*
 * mem: memory allocation that never returns NULL.
 *
 * Public functions:
 *   mem_alloc(len), mem_calloc(count, size), mem_realloc(ptr, len):
 *     as malloc/calloc/realloc, but a zero length still yields a unique
 *     pointer and failure is fatal.
 *   mem_memdup(ptr, len): copy of len bytes, plus a NUL byte after them.
 *   mem_strdup(str), mem_strndup(str, len): string copies; strndup copies at
 *     most len bytes and always terminates.
 *   mem_free(ptr): free; returns NULL.
 *
 * SECURITY: sizes are checked for overflow before any arithmetic reaches the
 * allocator.
 * LIMITS: none beyond SIZE_MAX; callers bound what they allocate.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mem.h"
#include "msg.h"

/* mem_alloc: malloc that dies on failure. */
void *mem_alloc(size_t len)
{
    void *p = malloc(len ? len : 1);

    if (p == NULL)
        msg_fatal("out of memory allocating %zu bytes", len);
    return p;
}

/* mem_calloc: zeroed array allocation with overflow check. */
void *mem_calloc(size_t count, size_t size)
{
    void *p;

    if (size != 0 && count > SIZE_MAX / size)
        msg_fatal("allocation size overflow: %zu x %zu", count, size);
    p = calloc(count ? count : 1, size ? size : 1);
    if (p == NULL)
        msg_fatal("out of memory allocating %zu x %zu bytes", count, size);
    return p;
}

/* mem_realloc: realloc that dies on failure; a NULL ptr allocates. */
void *mem_realloc(void *ptr, size_t len)
{
    void *p = realloc(ptr, len ? len : 1);

    if (p == NULL)
        msg_fatal("out of memory reallocating to %zu bytes", len);
    return p;
}

/* mem_memdup: copy bytes into a new block, NUL-terminated for convenience. */
void *mem_memdup(const void *ptr, size_t len)
{
    char *p;

    if (len == SIZE_MAX)
        msg_fatal("allocation size overflow in mem_memdup");
    p = mem_alloc(len + 1);
    if (len)
        memcpy(p, ptr, len);
    p[len] = 0;
    return p;
}

/* mem_strdup: copy a NUL-terminated string. */
char *mem_strdup(const char *str)
{
    return mem_memdup(str, strlen(str));
}

/* mem_strndup: copy at most len bytes of a string, always terminated. */
char *mem_strndup(const char *str, size_t len)
{
    const char *end = memchr(str, 0, len);

    return mem_memdup(str, end ? (size_t) (end - str) : len);
}

/* mem_free: release a block; returns NULL for the caller's pointer. */
void *mem_free(void *ptr)
{
    free(ptr);
    return NULL;
}
