/*
 * loadstat: latency samples, percentiles and a reply tally for load tests.
 *
 * Public functions:
 *   loadstat_new(), loadstat_free(ls): an empty set of figures; free
 *     returns NULL.
 *   loadstat_add_latency(ls, ms): record one transaction's latency in
 *     milliseconds (negative values are recorded as 0).
 *   loadstat_count(ls): how many latencies were recorded.
 *   loadstat_percentile(ls, pct, &out): the nearest-rank percentile
 *     (the smallest sample with at least pct % of the samples at or below
 *     it) for 0 < pct <= 100. Returns 0, or -1 when there are no samples
 *     or pct is out of range (out untouched). Sorts the samples in place.
 *   loadstat_add_reply(ls, stage, code, text): count one reply of a
 *     stage ("connect", "helo", "mail", "rcpt", "data", "dot", ...) by
 *     stage, code and text. Text is cut to LOADSTAT_TEXT_MAX bytes and
 *     control characters become '?', so the report stays one line each.
 *   loadstat_reply_total(ls): replies counted so far.
 *   loadstat_merge(into, from): add from's samples and tally to into
 *     (from is unchanged).
 *   loadstat_reply_report(ls, out): append one line per distinct reply,
 *     "reply STAGE CODE TEXT: count N\n", most frequent first (ties in
 *     the order first seen).
 *
 * SECURITY: reply texts come from the server under test; they are only
 * copied (bounded, sanitised) and printed.
 * LIMITS: the tally keeps at most LOADSTAT_REPLIES_MAX distinct replies;
 * further distinct ones are counted under "other". Samples grow with
 * the number of transactions (8 bytes each).
 */
#include <stdlib.h>
#include <string.h>

#include "htable.h"
#include "loadstat.h"
#include "mem.h"
#include "strutil.h"

#define LOADSTAT_REPLIES_MAX 1000

typedef struct loadstat_reply {
    char   *key;                        /* "STAGE CODE TEXT" */
    unsigned long count;
    size_t  order;                      /* first seen */
} loadstat_reply;

struct loadstat {
    double *samples;
    size_t  nsamples;
    size_t  cap;
    int     sorted;
    htable *replies;                    /* key -> loadstat_reply * */
    loadstat_reply **list;              /* in order first seen */
    size_t  nlist;
    size_t  listcap;
    unsigned long other;                /* beyond LOADSTAT_REPLIES_MAX */
    unsigned long total;
};

/* loadstat_new: an empty set of figures. */
loadstat *loadstat_new(void)
{
    loadstat *ls = mem_calloc(1, sizeof(*ls));

    ls->replies = htable_new(64);
    ls->sorted = 1;
    return ls;
}

/* loadstat_free: release everything; returns NULL. */
loadstat *loadstat_free(loadstat *ls)
{
    size_t  i;

    if (ls == NULL)
        return NULL;
    for (i = 0; i < ls->nlist; i++) {
        mem_free(ls->list[i]->key);
        mem_free(ls->list[i]);
    }
    mem_free(ls->list);
    htable_free(ls->replies, NULL);
    mem_free(ls->samples);
    mem_free(ls);
    return NULL;
}

/* loadstat_add_latency: record one latency in milliseconds. */
void    loadstat_add_latency(loadstat *ls, double ms)
{
    if (ls->nsamples == ls->cap) {
        ls->cap = ls->cap ? ls->cap * 2 : 256;
        ls->samples = mem_realloc(ls->samples, ls->cap * sizeof(double));
    }
    ls->samples[ls->nsamples++] = ms < 0 ? 0 : ms;
    ls->sorted = 0;
}

/* loadstat_count: number of latency samples. */
size_t  loadstat_count(const loadstat *ls)
{
    return ls->nsamples;
}

/* loadstat_cmp: qsort order of doubles. */
static int loadstat_cmp(const void *a, const void *b)
{
    double  x = *(const double *) a;
    double  y = *(const double *) b;

    return x < y ? -1 : x > y ? 1 : 0;
}

/* loadstat_percentile: nearest-rank percentile of the samples. */
int     loadstat_percentile(loadstat *ls, double pct, double *out)
{
    double  rank;
    size_t  idx;

    if (ls->nsamples == 0 || !(pct > 0 && pct <= 100))
        return -1;
    if (!ls->sorted) {
        qsort(ls->samples, ls->nsamples, sizeof(double), loadstat_cmp);
        ls->sorted = 1;
    }
    rank = pct / 100.0 * (double) ls->nsamples;
    idx = (size_t) rank;
    /* ceil without libm: rank N.0 stays N, anything above goes up. */
    if ((double) idx < rank)
        idx++;
    if (idx == 0)
        idx = 1;
    if (idx > ls->nsamples)
        idx = ls->nsamples;
    *out = ls->samples[idx - 1];
    return 0;
}

/* loadstat_count_key: add count to the tally entry of key. */
static void loadstat_count_key(loadstat *ls, const char *key,
                               unsigned long count)
{
    loadstat_reply *r = htable_find(ls->replies, key);

    ls->total += count;
    if (r != NULL) {
        r->count += count;
        return;
    }
    if (ls->nlist >= LOADSTAT_REPLIES_MAX) {
        ls->other += count;
        return;
    }
    r = mem_calloc(1, sizeof(*r));
    r->key = mem_strdup(key);
    r->count = count;
    r->order = ls->nlist;
    if (ls->nlist == ls->listcap) {
        ls->listcap = ls->listcap ? ls->listcap * 2 : 16;
        ls->list = mem_realloc(ls->list, ls->listcap * sizeof(*ls->list));
    }
    ls->list[ls->nlist++] = r;
    htable_put(ls->replies, r->key, r);
}

/* loadstat_add_reply: count one reply by stage, code and text. */
void    loadstat_add_reply(loadstat *ls, const char *stage, int code,
                           const char *text)
{
    strbuf *key = strbuf_new(64);
    size_t  i;
    size_t  len = text ? strlen(text) : 0;

    if (len > LOADSTAT_TEXT_MAX)
        len = LOADSTAT_TEXT_MAX;
    strbuf_printf(key, "%s %03d ", stage, code);
    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char) text[i];

        strbuf_putc(key, c < 0x20 || c == 0x7f ? '?' : (int) c);
    }
    loadstat_count_key(ls, key->data, 1);
    strbuf_free(key);
}

/* loadstat_reply_total: replies counted. */
unsigned long loadstat_reply_total(const loadstat *ls)
{
    return ls->total;
}

/* loadstat_merge: add from's figures to into. */
void    loadstat_merge(loadstat *into, const loadstat *from)
{
    size_t  i;

    for (i = 0; i < from->nsamples; i++)
        loadstat_add_latency(into, from->samples[i]);
    for (i = 0; i < from->nlist; i++)
        loadstat_count_key(into, from->list[i]->key, from->list[i]->count);
    into->other += from->other;
    into->total += from->other;
}

/* loadstat_reply_order: most frequent first, then first seen. */
static int loadstat_reply_order(const void *a, const void *b)
{
    const loadstat_reply *x = *(loadstat_reply *const *) a;
    const loadstat_reply *y = *(loadstat_reply *const *) b;

    if (x->count != y->count)
        return x->count > y->count ? -1 : 1;
    return x->order < y->order ? -1 : x->order > y->order ? 1 : 0;
}

/* loadstat_reply_report: one line per distinct reply. */
void    loadstat_reply_report(const loadstat *ls, strbuf *out)
{
    loadstat_reply **sorted;
    size_t  i;

    if (ls->nlist == 0 && ls->other == 0)
        return;
    sorted = mem_alloc((ls->nlist + 1) * sizeof(*sorted));
    if (ls->nlist > 0)
        memcpy(sorted, ls->list, ls->nlist * sizeof(*sorted));
    qsort(sorted, ls->nlist, sizeof(*sorted), loadstat_reply_order);
    for (i = 0; i < ls->nlist; i++)
        strbuf_printf(out, "reply %s: count %lu\n", sorted[i]->key,
                      sorted[i]->count);
    if (ls->other)
        strbuf_printf(out, "reply other: count %lu\n", ls->other);
    mem_free(sorted);
}
