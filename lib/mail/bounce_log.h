/*
 * bounce_log: per-message logs of failed (bounce/ID) and delayed
 * (defer/ID, hashed like deferred/) recipients, read by the bounce daemon.
 *
 * A log is a sequence of attribute-protocol messages (lib/mail/attr.h),
 * one per recipient: recipient, original_recipient, dsn_orcpt,
 * notify_flags, dsn_status, dsn_action, reason, relay, time. Each entry
 * is appended with O_APPEND in one write(2), so concurrent writers never
 * interleave; the caller fsyncs (bounce_log_append flag) when it must.
 *
 *   bounce_log_append(queue, id, entry, err): append one entry to
 *     queue/ID ("bounce" or "defer"), creating it 0600 (and hashed
 *     subdirectories) when needed. 0, or -1 with err saying what.
 *   bounce_log_open(queue, id, err): open a log for reading; NULL with
 *     errno ENOENT (err set too) when there is none, NULL on other errors.
 *   bounce_log_next(log, entry): 1 an entry (strings valid until the next
 *     call or close), 0 end, -1 corrupt (bounce_log_error says why).
 *   bounce_log_close(log): returns NULL.
 *   bounce_log_remove(queue, id): unlink; 0 (also when absent) or -1.
 *   bounce_log_exists(queue, id): 1 when the log exists, 0 when not.
 *
 * Paths are relative to the current directory (queue_directory) and are
 * built by mail_queue_path. See bounce_log.c for the full contracts.
 */
#ifndef POSTERN_BOUNCE_LOG_H
#define POSTERN_BOUNCE_LOG_H

#include <stddef.h>

#include "strbuf.h"

#define BOUNCE_LOG_BOUNCE   "bounce"    /* queue of failed recipients */
#define BOUNCE_LOG_DEFER    "defer"     /* queue of delayed recipients */

/* Bounds when reading. */
#define BOUNCE_LOG_TEXT_MAX     4096    /* bytes per value */
#define BOUNCE_LOG_ENTRY_MAX    32768   /* encoded bytes per entry */
#define BOUNCE_LOG_FILE_MAX     (64L * 1024 * 1024)     /* bytes per log */

/* One entry; strings borrowed (NULL = none) when appending. */
typedef struct bounce_log_entry {
    const char *recipient;
    const char *orig;                   /* original recipient */
    const char *orcpt;                  /* DSN ORCPT */
    int     notify;                     /* QFILE_NOTIFY_* bits */
    const char *dsn_status;             /* "5.1.1" */
    const char *dsn_action;             /* "failed", "delayed" */
    const char *reason;
    const char *relay;
    long    time;                       /* seconds since the epoch */
} bounce_log_entry;

typedef struct bounce_log bounce_log;

int     bounce_log_append(const char *queue, const char *id,
                          const bounce_log_entry *entry, strbuf *err);
bounce_log *bounce_log_open(const char *queue, const char *id, strbuf *err);
int     bounce_log_next(bounce_log *log, bounce_log_entry *entry);
const char *bounce_log_error(const bounce_log *log);
bounce_log *bounce_log_close(bounce_log *log);
int     bounce_log_remove(const char *queue, const char *id);
int     bounce_log_exists(const char *queue, const char *id);

#endif
