/*
 * anvil_table: per-(service, client) connection and rate counters, the
 * state of the anvil service, with no I/O so it can be tested alone.
 *
 * Public functions:
 *   anvil_table_new(time_unit, max_entries): an empty table whose rate
 *     windows last time_unit seconds (values < 1 become 1) and which
 *     tracks at most max_entries clients (0 becomes 1). Never NULL.
 *   anvil_table_free(table): destroy; returns NULL.
 *   anvil_table_connect(table, service, addr, now, out): one more
 *     concurrent connection and one more connection in the window.
 *   anvil_table_disconnect(table, service, addr, now): one connection
 *     fewer (never below 0; an unknown client is ignored).
 *   anvil_table_message / anvil_table_rcpt(table, service, addr, now,
 *     out): one more message / recipient in the window.
 *   anvil_table_lookup(table, service, addr, now, out): read without
 *     counting (an unknown client reads as all zero; nothing is added).
 *   All of these fill out (when not NULL) with the entry's counters after
 *     the change: count, conn_rate, msg_rate, rcpt_rate. The counting
 *     calls return ANVIL_TABLE_OK, or ANVIL_TABLE_FULL when a new client
 *     does not fit (every tracked client has a connection open): nothing
 *     is counted and out reads all zero ("no limit"). service and addr
 *     are NUL-terminated; the caller bounds their length.
 *   anvil_table_expire(table, now): drop entries with no connection
 *     open whose last event is at least time_unit old (their rates would
 *     read 0 anyway). Returns how many were dropped.
 *   anvil_table_size(table): number of tracked clients.
 *   anvil_table_stats(table, out): append to out one line per non-zero
 *     maximum seen since the previous call, in Postfix's shape
 *     ("statistics: max connection rate 3/60s for (smtp:1.2.3.4) at
 *     Nov 22 11:54:48\n"; local time), then reset the maxima. Returns
 *     the number of lines. A line also reports how many events were
 *     not counted because the table was full, when any were.
 *   anvil_table_request(table, request, reply, now): answer one decoded
 *     anvil request (see anvil_client.h for the protocol): reply (reset
 *     first) gets status=0 and the counters, or status=1 and reason= for
 *     a malformed request (unknown, missing or repeated attribute, unknown
 *     request word, a service or client that anvil_table_name_ok
 *     refuses). A full table answers status=0 with zero counters ("no
 *     limit"). Returns the status.
 *   anvil_table_name_ok(name, max): 1 when name is 1..max bytes of
 *     printable ASCII without space, else 0.
 *
 * Rate windows: an entry's window starts at its first event and lasts
 *   time_unit seconds; the first event at or after its end (or before
 *   its start: the clock went back) starts a new window with all three
 *   rates at zero. Concurrency is not windowed.
 *
 * SECURITY: service and addr come from the anvil client (smtpd, which
 *   got addr from the kernel); the server checks their syntax before
 *   they get here. An outsider controls how many different addresses
 *   show up, so the table is capped and idle entries are reclaimed.
 * LIMITS: at most max_entries entries; counters saturate at LONG_MAX.
 */
#include <limits.h>
#include <stddef.h>
#include <string.h>
#include <time.h>

#include "anvil_table.h"
#include "attr.h"
#include "attr_names.h"
#include "htable.h"
#include "mem.h"
#include "strbuf.h"
#include "strutil.h"

typedef struct anvil_entry {
    char   *key;                        /* "service addr" (htable key) */
    char   *ident;                      /* "service:addr" for logs */
    long    count;                      /* concurrent connections */
    long    conn_rate;                  /* events in the current window */
    long    msg_rate;
    long    rcpt_rate;
    time_t  window_start;
    time_t  last_use;
    struct anvil_entry *prev;           /* least recently used first */
    struct anvil_entry *next;
} anvil_entry;

/* A maximum for the statistics log. */
typedef struct anvil_max {
    long    value;
    char   *ident;                      /* NULL for the table size */
    time_t  when;
} anvil_max;

struct anvil_table {
    htable *entries;
    anvil_entry *head;                  /* least recently used */
    anvil_entry *tail;                  /* most recently used */
    long    time_unit;
    size_t  max_entries;
    anvil_max max_count;
    anvil_max max_conn_rate;
    anvil_max max_msg_rate;
    anvil_max max_rcpt_rate;
    anvil_max max_size;
    long    full_events;                /* not counted: table full */
};

/* anvil_table_new: empty table with the given window and cap */
anvil_table *anvil_table_new(long time_unit, size_t max_entries)
{
    anvil_table *table = mem_calloc(1, sizeof(*table));

    table->entries = htable_new(max_entries < 1024 ? max_entries : 1024);
    table->time_unit = time_unit < 1 ? 1 : time_unit;
    table->max_entries = max_entries < 1 ? 1 : max_entries;
    return (table);
}

/* anvil_entry_free: release one entry (htable free callback) */
static void anvil_entry_free(void *ptr)
{
    anvil_entry *entry = ptr;

    mem_free(entry->key);
    mem_free(entry->ident);
    mem_free(entry);
}

/* anvil_table_free: destroy the table and every entry */
anvil_table *anvil_table_free(anvil_table *table)
{
    if (table == NULL)
        return (NULL);
    htable_free(table->entries, anvil_entry_free);
    mem_free(table->max_count.ident);
    mem_free(table->max_conn_rate.ident);
    mem_free(table->max_msg_rate.ident);
    mem_free(table->max_rcpt_rate.ident);
    mem_free(table);
    return (NULL);
}

/* anvil_list_unlink: take entry out of the use-order list */
static void anvil_list_unlink(anvil_table *table, anvil_entry *entry)
{
    if (entry->prev != NULL)
        entry->prev->next = entry->next;
    else
        table->head = entry->next;
    if (entry->next != NULL)
        entry->next->prev = entry->prev;
    else
        table->tail = entry->prev;
    entry->prev = entry->next = NULL;
}

/* anvil_list_append: put entry at the most recently used end */
static void anvil_list_append(anvil_table *table, anvil_entry *entry)
{
    entry->prev = table->tail;
    entry->next = NULL;
    if (table->tail != NULL)
        table->tail->next = entry;
    else
        table->head = entry;
    table->tail = entry;
}

/* anvil_entry_drop: remove entry from the table and free it */
static void anvil_entry_drop(anvil_table *table, anvil_entry *entry)
{
    int     found;

    anvil_list_unlink(table, entry);
    (void) htable_remove(table->entries, entry->key, &found);
    anvil_entry_free(entry);
}

/* anvil_make_key: the htable key for (service, addr) into key */
static void anvil_make_key(strbuf *key, const char *service, const char *addr)
{
    /* A space cannot occur in either part (the server checks), so
     * distinct pairs get distinct keys even when both contain ':'. */
    strbuf_setf(key, "%s %s", service, addr);
}

/* anvil_window: start a new rate window when the current one is over */
static void anvil_window(const anvil_table *table, anvil_entry *entry, time_t now)
{
    if (now < entry->window_start
        || now - entry->window_start >= (time_t) table->time_unit) {
        entry->window_start = now;
        entry->conn_rate = entry->msg_rate = entry->rcpt_rate = 0;
    }
}

/* anvil_touch: mark entry used now (window and use order) */
static void anvil_touch(anvil_table *table, anvil_entry *entry, time_t now)
{
    anvil_window(table, entry, now);
    entry->last_use = now;
    if (table->tail != entry) {
        anvil_list_unlink(table, entry);
        anvil_list_append(table, entry);
    }
}

/* anvil_make_room: free one slot for a new entry; 0, or -1 when full */
static int anvil_make_room(anvil_table *table, time_t now)
{
    anvil_entry *entry;

    if (htable_count(table->entries) < table->max_entries)
        return (0);
    if (anvil_table_expire(table, now) > 0)
        return (0);
    /* Forget the least recently used client that has no connection open:
     * losing its rate history is better than not counting anyone new. */
    for (entry = table->head; entry != NULL; entry = entry->next) {
        if (entry->count == 0) {
            anvil_entry_drop(table, entry);
            return (0);
        }
    }
    return (-1);
}

/* anvil_get: find or create the entry for (service, addr); NULL if full */
static anvil_entry *anvil_get(anvil_table *table, const char *service,
                              const char *addr, time_t now, int create)
{
    strbuf *key = strbuf_new(64);
    anvil_entry *entry;

    anvil_make_key(key, service, addr);
    entry = htable_find(table->entries, strbuf_str(key));
    if (entry == NULL && create && anvil_make_room(table, now) == 0) {
        entry = mem_calloc(1, sizeof(*entry));
        entry->key = strbuf_detach(key, NULL);
        key = NULL;
        entry->ident = str_concat(service, ":", addr, (char *) NULL);
        entry->window_start = now;
        entry->last_use = now;
        (void) htable_put(table->entries, entry->key, entry);
        anvil_list_append(table, entry);
        if ((long) htable_count(table->entries) > table->max_size.value) {
            table->max_size.value = (long) htable_count(table->entries);
            table->max_size.when = now;
        }
    }
    strbuf_free(key);
    if (entry != NULL)
        anvil_touch(table, entry, now);
    return (entry);
}

/* anvil_incr: add one to a counter, saturating */
static void anvil_incr(long *value)
{
    if (*value < LONG_MAX)
        (*value)++;
}

/* anvil_note_max: remember value for ident when it is a new maximum */
static void anvil_note_max(anvil_max *max, long value, const char *ident,
                           time_t now)
{
    if (value > max->value) {
        max->value = value;
        max->when = now;
        if (max->ident == NULL || strcmp(max->ident, ident) != 0) {
            mem_free(max->ident);
            max->ident = mem_strdup(ident);
        }
    }
}

/* anvil_fill: copy an entry's counters (or zeros) to out */
static void anvil_fill(const anvil_entry *entry, anvil_counts *out)
{
    if (out == NULL)
        return;
    if (entry == NULL) {
        out->count = out->conn_rate = out->msg_rate = out->rcpt_rate = 0;
        return;
    }
    out->count = entry->count;
    out->conn_rate = entry->conn_rate;
    out->msg_rate = entry->msg_rate;
    out->rcpt_rate = entry->rcpt_rate;
}

/* anvil_result: fill out; ANVIL_TABLE_OK, or ANVIL_TABLE_FULL (counted) */
static int anvil_result(anvil_table *table, const anvil_entry *entry,
                        anvil_counts *out)
{
    anvil_fill(entry, out);
    if (entry != NULL)
        return (ANVIL_TABLE_OK);
    anvil_incr(&table->full_events);
    return (ANVIL_TABLE_FULL);
}

/* anvil_table_connect: count a new connection */
int     anvil_table_connect(anvil_table *table, const char *service,
                            const char *addr, time_t now, anvil_counts *out)
{
    anvil_entry *entry = anvil_get(table, service, addr, now, 1);

    if (entry != NULL) {
        anvil_incr(&entry->count);
        anvil_incr(&entry->conn_rate);
        anvil_note_max(&table->max_count, entry->count, entry->ident, now);
        anvil_note_max(&table->max_conn_rate, entry->conn_rate, entry->ident, now);
    }
    return (anvil_result(table, entry, out));
}

/* anvil_table_disconnect: count a connection that ended */
int     anvil_table_disconnect(anvil_table *table, const char *service,
                               const char *addr, time_t now)
{
    anvil_entry *entry = anvil_get(table, service, addr, now, 0);

    if (entry != NULL && entry->count > 0)
        entry->count--;
    return (ANVIL_TABLE_OK);
}

/* anvil_table_message: count a message */
int     anvil_table_message(anvil_table *table, const char *service,
                            const char *addr, time_t now, anvil_counts *out)
{
    anvil_entry *entry = anvil_get(table, service, addr, now, 1);

    if (entry != NULL) {
        anvil_incr(&entry->msg_rate);
        anvil_note_max(&table->max_msg_rate, entry->msg_rate, entry->ident, now);
    }
    return (anvil_result(table, entry, out));
}

/* anvil_table_rcpt: count a recipient */
int     anvil_table_rcpt(anvil_table *table, const char *service,
                         const char *addr, time_t now, anvil_counts *out)
{
    anvil_entry *entry = anvil_get(table, service, addr, now, 1);

    if (entry != NULL) {
        anvil_incr(&entry->rcpt_rate);
        anvil_note_max(&table->max_rcpt_rate, entry->rcpt_rate, entry->ident, now);
    }
    return (anvil_result(table, entry, out));
}

/* anvil_table_lookup: read the counters without counting */
void    anvil_table_lookup(anvil_table *table, const char *service,
                           const char *addr, time_t now, anvil_counts *out)
{
    strbuf *key = strbuf_new(64);
    anvil_entry *entry;

    anvil_make_key(key, service, addr);
    entry = htable_find(table->entries, strbuf_str(key));
    strbuf_free(key);
    /* Roll the window so a stale rate reads 0, but do not mark the
     * entry used: looking at a client does not keep it alive. */
    if (entry != NULL)
        anvil_window(table, entry, now);
    anvil_fill(entry, out);
}

/* anvil_table_expire: drop idle entries whose window is over */
size_t  anvil_table_expire(anvil_table *table, time_t now)
{
    anvil_entry *entry;
    anvil_entry *next;
    size_t  dropped = 0;

    for (entry = table->head; entry != NULL; entry = next) {
        next = entry->next;
        /* The list is in use order: once one entry is recent, all
         * later ones are too (unless the clock went back). */
        if (now >= entry->last_use
            && now - entry->last_use < (time_t) table->time_unit)
            break;
        if (entry->count == 0) {
            anvil_entry_drop(table, entry);
            dropped++;
        }
    }
    return (dropped);
}

/* anvil_table_size: number of tracked clients */
size_t  anvil_table_size(const anvil_table *table)
{
    return (htable_count(table->entries));
}

/* anvil_format_time: "Nov 22 11:54:48" in local time into buf */
static void anvil_format_time(char *buf, size_t size, time_t when)
{
    struct tm tm;

    if (localtime_r(&when, &tm) == NULL
        || strftime(buf, size, "%b %d %H:%M:%S", &tm) == 0)
        (void) str_copy(buf, size, "(unknown time)");
}

/* anvil_stat_line: append one statistics line and reset the maximum */
static size_t anvil_stat_line(anvil_max *max, const char *what, long unit,
                              strbuf *out)
{
    char    when[64];

    if (max->value <= 0)
        return (0);
    anvil_format_time(when, sizeof(when), max->when);
    if (unit > 0)
        strbuf_printf(out, "statistics: max %s %ld/%lds for (%s) at %s\n",
                      what, max->value, unit, max->ident, when);
    else if (max->ident != NULL)
        strbuf_printf(out, "statistics: max %s %ld for (%s) at %s\n",
                      what, max->value, max->ident, when);
    else
        strbuf_printf(out, "statistics: max %s %ld at %s\n",
                      what, max->value, when);
    max->value = 0;
    max->ident = mem_free(max->ident);
    return (1);
}

/* anvil_table_stats: report and reset the maxima */
size_t  anvil_table_stats(anvil_table *table, strbuf *out)
{
    size_t  lines = 0;

    lines += anvil_stat_line(&table->max_conn_rate, "connection rate",
                             table->time_unit, out);
    lines += anvil_stat_line(&table->max_count, "connection count", 0, out);
    lines += anvil_stat_line(&table->max_msg_rate, "message rate",
                             table->time_unit, out);
    lines += anvil_stat_line(&table->max_rcpt_rate, "recipient rate",
                             table->time_unit, out);
    lines += anvil_stat_line(&table->max_size, "cache size", 0, out);
    if (table->full_events > 0) {
        strbuf_printf(out, "statistics: %ld events not counted: table full"
                      " (%zu clients)\n", table->full_events, table->max_entries);
        table->full_events = 0;
        lines++;
    }
    return (lines);
}

/* anvil_table_name_ok: 1 when name is 1..max printable non-space bytes */
int     anvil_table_name_ok(const char *name, size_t max)
{
    size_t  len;

    for (len = 0; name[len] != 0; len++) {
        if (len >= max || name[len] <= ' ' || name[len] >= 0x7f)
            return (0);
    }
    return (len > 0);
}

/* anvil_reply_fail: a status=1 reply with reason */
static int anvil_reply_fail(attr_list *reply, const char *reason)
{
    attr_list_add_long(reply, ATTR_NAME_STATUS, ANVIL_STAT_FAIL);
    attr_list_add_str(reply, ATTR_NAME_REASON, reason);
    return (ANVIL_STAT_FAIL);
}

/* anvil_table_request: answer one decoded request */
int     anvil_table_request(anvil_table *table, const attr_list *request,
                            attr_list *reply, time_t now)
{
    const char *req = NULL;
    const char *service = NULL;
    const char *addr = NULL;
    strbuf *err = strbuf_new(100);
    anvil_counts got;
    int     status = ANVIL_STAT_OK;
    attr_spec specs[] = {
        ATTR_SPEC_STR(ATTR_NAME_REQUEST, 1, &req),
        ATTR_SPEC_STR(ATTR_NAME_SERVICE, 1, &service),
        ATTR_SPEC_STR(ATTR_NAME_CLIENT, 1, &addr),
    };

    attr_list_reset(reply);
    if (attr_scan(request, specs, (int) (sizeof(specs) / sizeof(specs[0])), err) < 0) {
        status = anvil_reply_fail(reply, strbuf_str(err));
    } else if (!anvil_table_name_ok(service, ANVIL_SERVICE_MAX)) {
        status = anvil_reply_fail(reply, "bad service name");
    } else if (!anvil_table_name_ok(addr, ANVIL_ADDR_MAX)) {
        status = anvil_reply_fail(reply, "bad client address");
    } else if (strcmp(req, ANVIL_REQ_CONNECT) == 0) {
        (void) anvil_table_connect(table, service, addr, now, &got);
        attr_list_add_long(reply, ATTR_NAME_STATUS, ANVIL_STAT_OK);
        attr_list_add_long(reply, ATTR_NAME_COUNT, got.count);
        attr_list_add_long(reply, ATTR_NAME_RATE, got.conn_rate);
    } else if (strcmp(req, ANVIL_REQ_DISCONNECT) == 0) {
        (void) anvil_table_disconnect(table, service, addr, now);
        attr_list_add_long(reply, ATTR_NAME_STATUS, ANVIL_STAT_OK);
    } else if (strcmp(req, ANVIL_REQ_MESSAGE) == 0) {
        (void) anvil_table_message(table, service, addr, now, &got);
        attr_list_add_long(reply, ATTR_NAME_STATUS, ANVIL_STAT_OK);
        attr_list_add_long(reply, ATTR_NAME_RATE, got.msg_rate);
    } else if (strcmp(req, ANVIL_REQ_RCPT) == 0) {
        (void) anvil_table_rcpt(table, service, addr, now, &got);
        attr_list_add_long(reply, ATTR_NAME_STATUS, ANVIL_STAT_OK);
        attr_list_add_long(reply, ATTR_NAME_RATE, got.rcpt_rate);
    } else if (strcmp(req, ANVIL_REQ_LOOKUP) == 0) {
        anvil_table_lookup(table, service, addr, now, &got);
        attr_list_add_long(reply, ATTR_NAME_STATUS, ANVIL_STAT_OK);
        attr_list_add_long(reply, ATTR_NAME_COUNT, got.count);
        attr_list_add_long(reply, ATTR_NAME_RATE, got.conn_rate);
        attr_list_add_long(reply, ATTR_NAME_MSG_RATE, got.msg_rate);
        attr_list_add_long(reply, ATTR_NAME_RCPT_RATE, got.rcpt_rate);
    } else {
        status = anvil_reply_fail(reply, "unknown request");
    }
    strbuf_free(err);
    return (status);
}
