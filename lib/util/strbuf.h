/*
 * strbuf: the one growable byte-string type.
 *
 * A strbuf holds len bytes at data, always followed by a NUL byte (so
 * data is a C string when the payload has no NUL of its own). Growth is
 * overflow-checked. An optional hard limit (strbuf_set_limit) bounds the
 * payload: appends that would pass it fail with -1 and leave the buffer
 * unchanged, so input readers can report "too long" instead of growing
 * without bound. Without a limit, growth failure is fatal (see mem).
 *
 * The fields are public for reading; change them only through the API
 * (except data[i] writes within len).
 */
#ifndef POSTERN_STRBUF_H
#define POSTERN_STRBUF_H

#include <stdarg.h>
#include <stddef.h>

typedef struct strbuf {
    char   *data;                       /* payload, NUL-terminated */
    size_t  len;                        /* payload length */
    size_t  size;                       /* allocated bytes (> len) */
    size_t  limit;                      /* max payload, 0 = none */
} strbuf;

strbuf *strbuf_new(size_t initial);
strbuf *strbuf_free(strbuf *sb);
void    strbuf_set_limit(strbuf *sb, size_t limit);
void    strbuf_reset(strbuf *sb);
void    strbuf_truncate(strbuf *sb, size_t len);
int     strbuf_reserve(strbuf *sb, size_t extra);
int     strbuf_append(strbuf *sb, const void *bytes, size_t len);
int     strbuf_puts(strbuf *sb, const char *str);
int     strbuf_putc(strbuf *sb, int ch);
int     strbuf_set(strbuf *sb, const void *bytes, size_t len);
int     strbuf_printf(strbuf *sb, const char *fmt, ...)
            __attribute__((format(printf, 2, 3)));
int     strbuf_vprintf(strbuf *sb, const char *fmt, va_list ap)
            __attribute__((format(printf, 2, 0)));
int     strbuf_setf(strbuf *sb, const char *fmt, ...)
            __attribute__((format(printf, 2, 3)));
int     strbuf_vsetf(strbuf *sb, const char *fmt, va_list ap)
            __attribute__((format(printf, 2, 0)));
char   *strbuf_detach(strbuf *sb, size_t *lenp);

/* Read-only accessors (the argument is evaluated once). */
#define strbuf_str(sb)  ((const char *) (sb)->data)

#include "banned.h"

#endif
