/*
 * anvil_table: the counters behind the anvil service, without I/O.
 *
 * One entry per (service, client address): concurrent connections and
 * the connections, messages and recipients seen in the current rate
 * window (time_unit seconds, starting at the entry's first event after
 * the previous window ran out). The table holds at most max_entries
 * entries; idle entries (no connection open, window over) are expired,
 * and when the table is full the least recently used entry without an
 * open connection makes room. The caller passes the time, so tests
 * control it. It also keeps the maxima that anvil logs every
 * anvil_status_update_time, and it answers the requests of the anvil
 * protocol (anvil_table_request: decoded request in, reply to encode
 * out), so the whole service logic is testable and fuzzable without
 * sockets. See anvil_table.c for the full contracts.
 */
#ifndef POSTERN_ANVIL_TABLE_H
#define POSTERN_ANVIL_TABLE_H

#include <stddef.h>
#include <time.h>

#include "anvil_client.h"
#include "attr.h"
#include "strbuf.h"

typedef struct anvil_table anvil_table;

/* Results. */
#define ANVIL_TABLE_OK          0
#define ANVIL_TABLE_FULL        (-1)    /* no room: not counted, out is 0 */

anvil_table *anvil_table_new(long time_unit, size_t max_entries);
anvil_table *anvil_table_free(anvil_table *table);

int     anvil_table_connect(anvil_table *table, const char *service,
                            const char *addr, time_t now, anvil_counts *out);
int     anvil_table_disconnect(anvil_table *table, const char *service,
                               const char *addr, time_t now);
int     anvil_table_message(anvil_table *table, const char *service,
                            const char *addr, time_t now, anvil_counts *out);
int     anvil_table_rcpt(anvil_table *table, const char *service,
                         const char *addr, time_t now, anvil_counts *out);
void    anvil_table_lookup(anvil_table *table, const char *service,
                           const char *addr, time_t now, anvil_counts *out);

int     anvil_table_request(anvil_table *table, const attr_list *request,
                            attr_list *reply, time_t now);
int     anvil_table_name_ok(const char *name, size_t max);

size_t  anvil_table_expire(anvil_table *table, time_t now);
size_t  anvil_table_size(const anvil_table *table);
size_t  anvil_table_stats(anvil_table *table, strbuf *out);

#endif
