/*
 * loadstat: figures of a load test - latency samples with percentiles,
 * and a tally of the SMTP replies that were not what a clean transaction
 * expects (anything but 2xx, or 3xx after DATA). Used by
 * postern-smtp-load; see loadstat.c for the contracts.
 */
#ifndef POSTERN_LOADSTAT_H
#define POSTERN_LOADSTAT_H

#include <stddef.h>

#include "strbuf.h"

/* Bytes of reply text kept per tally entry. */
#define LOADSTAT_TEXT_MAX   160

typedef struct loadstat loadstat;

loadstat *loadstat_new(void);
loadstat *loadstat_free(loadstat *ls);
void    loadstat_add_latency(loadstat *ls, double ms);
size_t  loadstat_count(const loadstat *ls);
int     loadstat_percentile(loadstat *ls, double pct, double *out);
void    loadstat_add_reply(loadstat *ls, const char *stage, int code,
                           const char *text);
unsigned long loadstat_reply_total(const loadstat *ls);
void    loadstat_merge(loadstat *into, const loadstat *from);
void    loadstat_reply_report(const loadstat *ls, strbuf *out);

#endif
