/*
 * bounce_log: per-message logs of failed and delayed recipients.
 *
 * Files: bounce/ID (failed recipients, read by the bounce daemon for a
 * non-delivery notification) and defer/ID (delayed recipients, for
 * delay notices and "postqueue -p" reasons); paths come from
 * mail_queue_path, so defer/ is hashed like deferred/.
 *
 * Each entry is one attribute-protocol message (attr.h) with the names
 * recipient (required), original_recipient, dsn_orcpt, notify_flags,
 * dsn_status, dsn_action, reason, relay, time; absent optional values
 * are not written. The whole entry goes out in one write(2) on an
 * O_APPEND descriptor, so writers never interleave.
 *
 * Public functions:
 *   bounce_log_append(queue, id, entry, err): append one entry to
 *     queue/ID, creating the file (mode 0600) and, for hashed queues, its
 *     subdirectories. entry->recipient must not be NULL; NULL strings are
 *     left out. Returns 0, or -1 with err (may be NULL) set to
 *     "PATH: what" (bad id or queue, open or write failure). The caller
 *     fsyncs nothing: a lost log entry after a crash is recovered because
 *     the recipient is still pending in the queue file and is retried.
 *   bounce_log_open(queue, id, err): read the whole log (at most
 *     BOUNCE_LOG_FILE_MAX bytes) for bounce_log_next. NULL with errno
 *     ENOENT when there is no log; NULL with errno EINVAL/EIO and err set
 *     on other failures. Free with bounce_log_close (returns NULL).
 *   bounce_log_next(log, entry): 1 with entry filled (strings owned by
 *     log, valid until the next call or close), 0 at the end, -1 when the
 *     rest of the file is corrupt (bounce_log_error tells why; later
 *     calls keep returning -1).
 *   bounce_log_remove(queue, id): unlink queue/ID; 0 (also when it did
 *     not exist) or -1 with errno.
 *   bounce_log_exists(queue, id): 1 when queue/ID exists, else 0.
 *
 * SECURITY: logs are written by qmgr and read by bounce (same user), but
 * are parsed strictly anyway (attr_decode with limits, attr_scan: unknown
 * or repeated names are corruption). The queue ID is checked with
 * mail_queue_id_ok before it becomes part of a path.
 * LIMITS: BOUNCE_LOG_FILE_MAX bytes per file, BOUNCE_LOG_ENTRY_MAX bytes
 * per entry, BOUNCE_LOG_TEXT_MAX bytes per value.
 */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "attr.h"
#include "attr_names.h"
#include "bounce_log.h"
#include "fileio.h"
#include "mail_queue.h"
#include "mem.h"
#include "msg.h"
#include "strbuf.h"

struct bounce_log {
    strbuf *data;                       /* the whole file */
    size_t  pos;                        /* next unread byte */
    attr_list *attrs;                   /* current entry */
    strbuf *error;                      /* why corrupt */
    int     broken;
};

static const attr_limits bounce_log_limits = {
    16, BOUNCE_LOG_TEXT_MAX, BOUNCE_LOG_ENTRY_MAX
};

/* bounce_log_path: queue/ID path after checking both; 0 or -1. */
static int bounce_log_path(const char *queue, const char *id, strbuf *path,
                           strbuf *err)
{
    if (queue == NULL || (strcmp(queue, BOUNCE_LOG_BOUNCE) != 0
                          && strcmp(queue, BOUNCE_LOG_DEFER) != 0)) {
        if (err)
            strbuf_printf(err, "bad bounce log queue name");
        errno = EINVAL;
        return -1;
    }
    if (id == NULL || !mail_queue_id_ok(id)) {
        if (err)
            strbuf_printf(err, "%s: bad queue ID", queue);
        errno = EINVAL;
        return -1;
    }
    if (mail_queue_path(queue, id, path) < 0) {
        if (err)
            strbuf_printf(err, "%s/%s: cannot build path", queue, id);
        errno = EINVAL;
        return -1;
    }
    return 0;
}

/* bounce_log_append: append one recipient entry in one write. */
int     bounce_log_append(const char *queue, const char *id,
                          const bounce_log_entry *entry, strbuf *err)
{
    strbuf *path = strbuf_new(256);
    strbuf *enc = strbuf_new(512);
    attr_list *list = attr_list_new();
    int     fd = -1;
    int     ret = -1;

    if (bounce_log_path(queue, id, path, err) < 0)
        goto out;
    if (entry->recipient == NULL) {
        if (err)
            strbuf_printf(err, "%s: entry without recipient", path->data);
        goto out;
    }
    attr_list_add_str(list, ATTR_NAME_RECIPIENT, entry->recipient);
    if (entry->orig)
        attr_list_add_str(list, ATTR_NAME_ORIGINAL_RCPT, entry->orig);
    if (entry->orcpt)
        attr_list_add_str(list, ATTR_NAME_DSN_ORCPT, entry->orcpt);
    if (entry->notify)
        attr_list_add_long(list, ATTR_NAME_NOTIFY_FLAGS, entry->notify);
    if (entry->dsn_status)
        attr_list_add_str(list, ATTR_NAME_DSN_STATUS, entry->dsn_status);
    if (entry->dsn_action)
        attr_list_add_str(list, ATTR_NAME_DSN_ACTION, entry->dsn_action);
    if (entry->reason)
        attr_list_add_str(list, ATTR_NAME_REASON, entry->reason);
    if (entry->relay)
        attr_list_add_str(list, ATTR_NAME_RELAY, entry->relay);
    attr_list_add_long(list, ATTR_NAME_TIME, entry->time);
    if (attr_encode(enc, list) < 0 || enc->len > BOUNCE_LOG_ENTRY_MAX) {
        if (err)
            strbuf_printf(err, "%s: entry too large", path->data);
        goto out;
    }
    fd = open(path->data, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY,
              0600);
    if (fd < 0 && errno == ENOENT && mail_queue_hashed(queue)) {
        if (mail_queue_mkdirs(queue, id, err) < 0)
            goto out;
        fd = open(path->data,
                  O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0600);
    }
    if (fd < 0) {
        if (err)
            strbuf_printf(err, "open %s: %m", path->data);
        goto out;
    }
    if (fileio_write_all(fd, enc->data, enc->len) < 0) {
        if (err)
            strbuf_printf(err, "write %s: %m", path->data);
        goto out;
    }
    ret = 0;

out:
    if (fd >= 0 && close(fd) < 0 && ret == 0) {
        if (err)
            strbuf_printf(err, "close %s: %m", path->data);
        ret = -1;
    }
    attr_list_free(list);
    strbuf_free(enc);
    strbuf_free(path);
    return ret;
}

/* bounce_log_open: read the whole log into memory. */
bounce_log *bounce_log_open(const char *queue, const char *id, strbuf *err)
{
    strbuf *path = strbuf_new(256);
    bounce_log *log;
    int     rc;

    if (bounce_log_path(queue, id, path, err) < 0) {
        strbuf_free(path);
        errno = EINVAL;
        return NULL;
    }
    log = mem_calloc(1, sizeof(*log));
    log->data = strbuf_new(1024);
    log->attrs = attr_list_new();
    log->error = strbuf_new(64);
    rc = fileio_read_all(path->data, BOUNCE_LOG_FILE_MAX, log->data, err);
    if (rc != 0) {
        if (rc > 0 && err)
            strbuf_printf(err, "%s: no such log", path->data);
        strbuf_free(path);
        bounce_log_close(log);
        errno = rc > 0 ? ENOENT : EIO;
        return NULL;
    }
    strbuf_free(path);
    return log;
}

/* bounce_log_next: decode the next entry. */
int     bounce_log_next(bounce_log *log, bounce_log_entry *entry)
{
    const char *recipient = NULL, *orig = NULL, *orcpt = NULL;
    const char *dsn_status = NULL, *dsn_action = NULL, *reason = NULL;
    const char *relay = NULL;
    long    notify = 0, when = 0;
    size_t  used = 0;
    int     rc;
    const attr_spec specs[] = {
        ATTR_SPEC_STR(ATTR_NAME_RECIPIENT, 1, &recipient),
        ATTR_SPEC_STR(ATTR_NAME_ORIGINAL_RCPT, 0, &orig),
        ATTR_SPEC_STR(ATTR_NAME_DSN_ORCPT, 0, &orcpt),
        ATTR_SPEC_LONG(ATTR_NAME_NOTIFY_FLAGS, 0, 0, 15, &notify),
        ATTR_SPEC_STR(ATTR_NAME_DSN_STATUS, 0, &dsn_status),
        ATTR_SPEC_STR(ATTR_NAME_DSN_ACTION, 0, &dsn_action),
        ATTR_SPEC_STR(ATTR_NAME_REASON, 0, &reason),
        ATTR_SPEC_STR(ATTR_NAME_RELAY, 0, &relay),
        ATTR_SPEC_LONG(ATTR_NAME_TIME, 0, 0, 0x7fffffffffffffffL, &when),
    };

    if (log->broken)
        return -1;
    if (log->pos >= log->data->len)
        return 0;
    strbuf_reset(log->error);
    rc = attr_decode(log->data->data + log->pos, log->data->len - log->pos,
                     &bounce_log_limits, log->attrs, &used, log->error);
    if (rc == 0) {
        strbuf_printf(log->error, "offset %zu: truncated entry", log->pos);
        log->broken = 1;
        return -1;
    }
    if (rc < 0 || attr_scan(log->attrs, specs,
                            (int) (sizeof(specs) / sizeof(specs[0])),
                            log->error) < 0) {
        log->broken = 1;
        return -1;
    }
    log->pos += used;
    entry->recipient = recipient;
    entry->orig = orig;
    entry->orcpt = orcpt;
    entry->notify = (int) notify;
    entry->dsn_status = dsn_status;
    entry->dsn_action = dsn_action;
    entry->reason = reason;
    entry->relay = relay;
    entry->time = when;
    return 1;
}

/* bounce_log_error: why bounce_log_next returned -1. */
const char *bounce_log_error(const bounce_log *log)
{
    return log->error->data;
}

/* bounce_log_close: free the reader; returns NULL. */
bounce_log *bounce_log_close(bounce_log *log)
{
    if (log == NULL)
        return NULL;
    strbuf_free(log->data);
    attr_list_free(log->attrs);
    strbuf_free(log->error);
    mem_free(log);
    return NULL;
}

/* bounce_log_remove: unlink a log; absent is fine. */
int     bounce_log_remove(const char *queue, const char *id)
{
    strbuf *path = strbuf_new(256);
    int     ret = 0;

    if (bounce_log_path(queue, id, path, NULL) < 0)
        ret = -1;
    else if (unlink(path->data) < 0 && errno != ENOENT)
        ret = -1;
    strbuf_free(path);
    return ret;
}

/* bounce_log_exists: 1 when the log file exists. */
int     bounce_log_exists(const char *queue, const char *id)
{
    strbuf *path = strbuf_new(256);
    struct stat st;
    int     ret = 0;

    if (bounce_log_path(queue, id, path, NULL) == 0
        && stat(path->data, &st) == 0)
        ret = 1;
    strbuf_free(path);
    return ret;
}
