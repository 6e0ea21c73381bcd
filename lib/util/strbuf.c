/*
 * strbuf: the one growable byte-string type.
 *
 * Public functions:
 *   strbuf_new(initial): empty buffer with room for initial bytes.
 *   strbuf_free(sb): release; returns NULL. Accepts NULL.
 *   strbuf_set_limit(sb, limit): hard payload limit (0 = none). A limit
 *     below the current length does not truncate; it only stops growth.
 *   strbuf_reset(sb): empty the payload, keep the allocation.
 *   strbuf_truncate(sb, len): shorten to len (no-op if already shorter).
 *   strbuf_reserve(sb, extra): make room for extra more bytes.
 *   strbuf_append/puts/putc/set: add bytes; set replaces the payload.
 *   strbuf_printf/vprintf: append formatted text.
 *   strbuf_setf/vsetf: replace the payload with formatted text. sb may be
 *     NULL (nothing happens, -1 is returned), so that optional error
 *     buffers need no test at each error site; callers use the -1 as their
 *     own error return.
 *   strbuf_detach(sb, &len): hand the payload to the caller (free with
 *     mem_free) and destroy the strbuf.
 *   All "int" functions return 0 on success, -1 when the limit would be
 *   passed; the buffer is then unchanged.
 *
 * SECURITY: every size computation is checked for overflow.
 * LIMITS: the per-buffer limit set by the owner.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "mem.h"
#include "msg.h"
#include "strbuf.h"

/* strbuf_new: create an empty buffer. */
strbuf *strbuf_new(size_t initial)
{
    strbuf *sb = mem_alloc(sizeof(*sb));

    if (initial < 16)
        initial = 16;
    if (initial == SIZE_MAX)
        msg_panic("strbuf_new: bad initial size");
    sb->data = mem_alloc(initial + 1);
    sb->data[0] = 0;
    sb->len = 0;
    sb->size = initial + 1;
    sb->limit = 0;
    return sb;
}

/* strbuf_free: destroy a buffer; returns NULL. */
strbuf *strbuf_free(strbuf *sb)
{
    if (sb) {
        mem_free(sb->data);
        mem_free(sb);
    }
    return NULL;
}

/* strbuf_set_limit: set the hard payload limit. */
void strbuf_set_limit(strbuf *sb, size_t limit)
{
    sb->limit = limit;
}

/* strbuf_reset: empty the buffer. */
void strbuf_reset(strbuf *sb)
{
    sb->len = 0;
    sb->data[0] = 0;
}

/* strbuf_truncate: shorten the payload. */
void strbuf_truncate(strbuf *sb, size_t len)
{
    if (len < sb->len) {
        sb->len = len;
        sb->data[len] = 0;
    }
}

/* strbuf_reserve: ensure room for extra bytes plus the NUL. */
int strbuf_reserve(strbuf *sb, size_t extra)
{
    size_t  need;
    size_t  nsize;

    if (extra > SIZE_MAX - sb->len - 1)
        msg_fatal("strbuf: size overflow");
    need = sb->len + extra;
    if (sb->limit && need > sb->limit)
        return -1;
    if (need + 1 <= sb->size)
        return 0;
    nsize = sb->size;
    while (nsize < need + 1)
        nsize = (nsize > SIZE_MAX / 2) ? need + 1 : nsize * 2;
    sb->data = mem_realloc(sb->data, nsize);
    sb->size = nsize;
    return 0;
}

/* strbuf_append: append bytes. */
int strbuf_append(strbuf *sb, const void *bytes, size_t len)
{
    if (strbuf_reserve(sb, len) < 0)
        return -1;
    if (len)
        memcpy(sb->data + sb->len, bytes, len);
    sb->len += len;
    sb->data[sb->len] = 0;
    return 0;
}

/* strbuf_puts: append a C string. */
int strbuf_puts(strbuf *sb, const char *str)
{
    return strbuf_append(sb, str, strlen(str));
}

/* strbuf_putc: append one byte. */
int strbuf_putc(strbuf *sb, int ch)
{
    char    c = (char) ch;

    return strbuf_append(sb, &c, 1);
}

/* strbuf_set: replace the payload. */
int strbuf_set(strbuf *sb, const void *bytes, size_t len)
{
    if (sb->limit && len > sb->limit)
        return -1;
    strbuf_reset(sb);
    return strbuf_append(sb, bytes, len);
}

/* strbuf_vprintf: append formatted text. */
int strbuf_vprintf(strbuf *sb, const char *fmt, va_list ap)
{
    va_list ap2;
    int     n;

    va_copy(ap2, ap);
    n = vsnprintf(sb->data + sb->len, sb->size - sb->len, fmt, ap2);
    va_end(ap2);
    if (n < 0)
        msg_panic("strbuf_vprintf: bad format \"%s\"", fmt);
    if ((size_t) n >= sb->size - sb->len) {
        if (strbuf_reserve(sb, (size_t) n) < 0) {
            sb->data[sb->len] = 0;
            return -1;
        }
        va_copy(ap2, ap);
        n = vsnprintf(sb->data + sb->len, sb->size - sb->len, fmt, ap2);
        va_end(ap2);
        if (n < 0 || (size_t) n >= sb->size - sb->len)
            msg_panic("strbuf_vprintf: inconsistent vsnprintf result");
    } else if (sb->limit && sb->len + (size_t) n > sb->limit) {
        sb->data[sb->len] = 0;
        return -1;
    }
    sb->len += (size_t) n;
    return 0;
}

/* strbuf_printf: append formatted text. */
int strbuf_printf(strbuf *sb, const char *fmt, ...)
{
    va_list ap;
    int     ret;

    va_start(ap, fmt);
    ret = strbuf_vprintf(sb, fmt, ap);
    va_end(ap);
    return ret;
}

/* strbuf_vsetf: replace the payload with formatted text; NULL sb is ok. */
int strbuf_vsetf(strbuf *sb, const char *fmt, va_list ap)
{
    if (sb == NULL)
        return -1;
    strbuf_reset(sb);
    (void) strbuf_vprintf(sb, fmt, ap);
    return -1;
}

/* strbuf_setf: replace the payload with formatted text; NULL sb is ok. */
int strbuf_setf(strbuf *sb, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    (void) strbuf_vsetf(sb, fmt, ap);
    va_end(ap);
    return -1;
}

/* strbuf_detach: take ownership of the payload and destroy the buffer. */
char   *strbuf_detach(strbuf *sb, size_t *lenp)
{
    char   *data = sb->data;

    if (lenp)
        *lenp = sb->len;
    mem_free(sb);
    return data;
}
