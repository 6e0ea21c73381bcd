/*
 * header: read the header block of an RFC 5322 message held in memory.
 *
 * header_parse(data, len, max_size, max_fields)
 *     Splits the header block at the start of data into fields (see
 *     header.h for what a field is and where the block ends). The block
 *     points into data, which the caller keeps alive. A field (with its
 *     LF) may have at most max_size bytes (0 = no limit): continuation
 *     lines past that are not part of it, and they and everything after
 *     them are the body; when the first line alone is longer, that field
 *     and everything after it are the body. Past max_fields fields (0 =
 *     no limit) the rest is the body as well. The block's flags say
 *     which limit ended it. Never returns NULL; free with
 *     header_block_free.
 * header_block_free(hb): releases the block; returns NULL.
 * header_name_len(line, len)
 *     When line starts with "name:" (optional spaces/TABs before the
 *     colon, as RFC 822 allowed), returns the length of name, else 0.
 * header_is(f, name): 1 when field f is named name (case-insensitive).
 * header_has_prefix(f, prefix): 1 when f's name starts with prefix
 *     (case-insensitive), e.g. "Resent-".
 * header_find(hb, name, start)
 *     Index of the first field at index >= start named name, or -1.
 * header_value(f, out)
 *     Sets out to the value unfolded: line ends (LF and CRLF) before
 *     continuation whitespace are removed, leading and trailing
 *     whitespace trimmed.
 * header_raw_value(f, &value, &len): the bytes after the colon, as is.
 *
 * SECURITY: data is untrusted (mail from anyone). Every scan is bounded
 * by len; names are bounded by HEADER_NAME_MAX; no byte value (NUL
 * included) is special.
 *
 * LIMITS: max_size bytes per field and max_fields fields per block, as
 * the caller says (cleanup passes header_size_limit).
 */
#include <stddef.h>
#include <string.h>
#include <strings.h>

#include "header.h"
#include "mem.h"
#include "strbuf.h"

/* header_name_len: length of the field name a line starts with, or 0 */
size_t  header_name_len(const char *line, size_t len)
{
    size_t  n;
    size_t  end;

    for (n = 0; n < len && n <= HEADER_NAME_MAX; n++) {
        unsigned char ch = (unsigned char) line[n];

        if (ch == ':' || ch == ' ' || ch == '\t')
            break;
        if (ch < 0x21 || ch > 0x7E)
            return 0;
    }
    if (n == 0 || n > HEADER_NAME_MAX || n >= len)
        return 0;
    end = n;
    while (end < len && (line[end] == ' ' || line[end] == '\t'))
        end++;
    if (end >= len || line[end] != ':')
        return 0;
    return n;
}

/* header_line_end: offset one past the LF of the line at pos (or len) */
static size_t header_line_end(const char *data, size_t len, size_t pos)
{
    const char *lf = memchr(data + pos, '\n', len - pos);

    return lf != NULL ? (size_t) (lf - data) + 1 : len;
}

/* header_parse: split the header block of a message */
header_block *header_parse(const char *data, size_t len, size_t max_size,
                           size_t max_fields)
{
    header_block *hb = mem_calloc(1, sizeof(*hb));
    size_t  pos = 0;

    while (pos < len) {
        size_t  end = header_line_end(data, len, pos);
        size_t  name_len;
        size_t  start = pos;

        /* An empty line (LF or CR LF) ends the headers. */
        if (data[pos] == '\n'
            || (data[pos] == '\r' && pos + 1 < len && data[pos + 1] == '\n')) {
            hb->flags |= HEADER_F_BLANK_LINE;
            hb->header_end = pos;
            hb->body_offset = end;
            return hb;
        }
        if ((name_len = header_name_len(data + pos, end - pos)) == 0)
            break;
        if (max_size > 0 && end - start > max_size) {
            hb->flags |= HEADER_F_TOO_BIG;
            break;
        }
        /* Continuation lines, while the field stays within max_size. */
        while (end < len && (data[end] == ' ' || data[end] == '\t')) {
            size_t  next = header_line_end(data, len, end);

            if (max_size > 0 && next - start > max_size) {
                hb->flags |= HEADER_F_TOO_BIG;
                break;
            }
            end = next;
        }
        if (max_fields > 0 && hb->count >= max_fields) {
            hb->flags |= HEADER_F_TOO_MANY;
            break;
        }
        if (hb->count % 16 == 0)
            hb->fields = mem_realloc(hb->fields,
                                     (hb->count + 16) * sizeof(*hb->fields));
        hb->fields[hb->count].text = data + start;
        hb->fields[hb->count].len = end - start
            - (end > start && data[end - 1] == '\n' ? 1 : 0);
        hb->fields[hb->count].name_len = name_len;
        hb->fields[hb->count].offset = start;
        hb->count++;
        pos = end;
        hb->header_end = end;
        if (hb->flags & HEADER_F_TOO_BIG)
            break;
    }
    hb->header_end = pos;
    hb->body_offset = pos;
    return hb;
}

/* header_block_free: release a header block */
header_block *header_block_free(header_block *hb)
{
    if (hb != NULL) {
        mem_free(hb->fields);
        mem_free(hb);
    }
    return NULL;
}

/* header_is: is field f named name */
int     header_is(const header_field *f, const char *name)
{
    return strlen(name) == f->name_len
        && strncasecmp(f->text, name, f->name_len) == 0;
}

/* header_has_prefix: does f's name start with prefix */
int     header_has_prefix(const header_field *f, const char *prefix)
{
    size_t  n = strlen(prefix);

    return n <= f->name_len && strncasecmp(f->text, prefix, n) == 0;
}

/* header_find: index of the next field named name, or -1 */
long    header_find(const header_block *hb, const char *name, size_t start)
{
    size_t  i;

    for (i = start; i < hb->count; i++)
        if (header_is(&hb->fields[i], name))
            return (long) i;
    return -1;
}

/* header_raw_value: the bytes after the colon */
void    header_raw_value(const header_field *f, const char **value,
                         size_t *len)
{
    const char *colon = memchr(f->text, ':', f->len);
    size_t  off = colon != NULL ? (size_t) (colon - f->text) + 1 : f->len;

    *value = f->text + off;
    *len = f->len - off;
}

/* header_value: the value unfolded and trimmed */
void    header_value(const header_field *f, strbuf *out)
{
    const char *val;
    size_t  len;
    size_t  i;
    size_t  start;

    header_raw_value(f, &val, &len);
    strbuf_reset(out);
    for (i = 0; i < len; i++) {
        if (val[i] == '\r' && i + 1 < len && val[i + 1] == '\n')
            continue;
        if (val[i] == '\n')
            continue;
        strbuf_putc(out, val[i]);
    }
    for (start = 0; start < out->len
         && (out->data[start] == ' ' || out->data[start] == '\t'); start++)
         /* void */ ;
    if (start > 0) {
        memmove(out->data, out->data + start, out->len - start);
        strbuf_truncate(out, out->len - start);
    }
    while (out->len > 0 && (out->data[out->len - 1] == ' '
                            || out->data[out->len - 1] == '\t'
                            || out->data[out->len - 1] == '\r'))
        strbuf_truncate(out, out->len - 1);
}
