/*
 * local_content: message content sources for the delivery code, and the
 * scan of the message header for Delivered-To: lines.
 *
 *   local_content_mem(c, text, len): a source over text (not copied; keep
 *     it alive): lines split at LF, as the queue-file reader yields them
 *     (a final line without LF is still a line). For tests and for
 *     messages built in memory. Free with local_content_mem_free(c).
 *   local_content_headers(c, set, err): read the header section (up to the
 *     first empty line) and put the address of every Delivered-To: header
 *     into set, lower-cased and without <>. Returns 0, -1 with err when
 *     the content cannot be read.
 *
 * SECURITY: the content is the sender's; header lines are bounded by the
 * queue-file record limit and only compared, never interpreted further.
 * LIMITS: at most 1000 Delivered-To: values are kept.
 */
#include <string.h>
#include <strings.h>

#include "local.h"
#include "mem.h"
#include "qfile.h"
#include "strbuf.h"
#include "strutil.h"

#define LOCAL_DELIVERED_MAX 1000

struct local_mem_src {
    const char *text;
    size_t  len;
    size_t  pos;
};

/* local_mem_start: rewind a memory source. */
static int local_mem_start(void *ctx, strbuf *err)
{
    struct local_mem_src *m = ctx;

    (void) err;
    m->pos = 0;
    return 0;
}

/* local_mem_next: next line of a memory source. */
static int local_mem_next(void *ctx, strbuf *piece, strbuf *err)
{
    struct local_mem_src *m = ctx;
    const char *nl;
    size_t  n;

    (void) err;
    strbuf_reset(piece);
    if (m->pos >= m->len)
        return QFILE_CONTENT_END;
    nl = memchr(m->text + m->pos, '\n', m->len - m->pos);
    n = nl ? (size_t) (nl - (m->text + m->pos)) : m->len - m->pos;
    (void) strbuf_append(piece, m->text + m->pos, n);
    m->pos += n + (nl ? 1 : 0);
    return QFILE_CONTENT_LINE;
}

/* local_content_mem: content source over memory. */
void    local_content_mem(local_content *c, const char *text, size_t len)
{
    struct local_mem_src *m = mem_calloc(1, sizeof(*m));

    m->text = text;
    m->len = len;
    c->start = local_mem_start;
    c->next = local_mem_next;
    c->ctx = m;
}

/* local_content_mem_free: release a memory source. */
void    local_content_mem_free(local_content *c)
{
    c->ctx = mem_free(c->ctx);
}

/* local_content_headers: collect Delivered-To: values. */
int     local_content_headers(local_content *c, htable *set, strbuf *err)
{
    strbuf *piece = strbuf_new(256);
    strbuf *val = strbuf_new(64);
    int     at_line_start = 1;
    int     rc;

    if (c->start(c->ctx, err) < 0) {
        strbuf_free(piece);
        strbuf_free(val);
        return -1;
    }
    while ((rc = c->next(c->ctx, piece, err)) > 0) {
        int     starts = at_line_start;

        at_line_start = (rc == QFILE_CONTENT_LINE);
        if (!starts)
            continue;
        if (piece->len == 0 && rc == QFILE_CONTENT_LINE)
            break;                              /* end of the header */
        if (piece->len > 13 && strncasecmp(piece->data, "Delivered-To:", 13) == 0) {
            char   *v;
            size_t  n;

            (void) strbuf_set(val, piece->data + 13, piece->len - 13);
            v = str_trim(val->data);
            n = strlen(v);
            if (n >= 2 && v[0] == '<' && v[n - 1] == '>') {
                v[n - 1] = 0;
                v++;
            }
            str_lower(v);
            if (htable_count(set) < LOCAL_DELIVERED_MAX && !htable_has(set, v))
                (void) htable_put(set, v, NULL);
        }
    }
    strbuf_free(piece);
    strbuf_free(val);
    return rc < 0 ? -1 : 0;
}
