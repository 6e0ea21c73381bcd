/*
 * mailbox: mailbox writers for the delivery agents (local, virtual).
 *
 * Public functions:
 *   mailbox_result_set(res, status, dsn, fmt, ...): status 0/4/5, enhanced
 *     status code dsn (copied; a code that does not fit becomes X.0.0),
 *     reason text (replaces res->reason, which the caller allocates).
 *   mailbox_content_mem(c, text, len): a content source over text (not
 *     copied; keep it alive): lines split at LF, as the queue-file reader
 *     yields them (a final line without LF is still a line). Free with
 *     mailbox_content_mem_free(c).
 *   mailbox_content_headers(c, set, err): read the header section (up to
 *     the first empty line) and put the address of every Delivered-To:
 *     header into set, lower-cased and without <>. 0, or -1 with err when
 *     the content cannot be read.
 *   mailbox_copy(fd, c, args, start_size, err): write, in this order, the
 *     mbox "From " line (args->mbox), "Return-Path: <sender>"
 *     (args->return_path), "Delivered-To: RCPT" (args->delivered_to not
 *     NULL), the content with LF line ends (in mbox mode every line that
 *     matches ^>*From  gets one more '>', the mboxrd rule), and in mbox
 *     mode one empty line. start_size is the size the file had before
 *     (for args->limit). Returns 0; -1 write error; -2 content
 *     unreadable; -3 args->limit would be passed (nothing more is written
 *     then); err says what. The caller truncates the file back.
 *   mailbox_from_line(out, sender, when): append "From SENDER  DATE\n"
 *     (MAILER-DAEMON for the null sender; asctime form, local time).
 *   mailbox_quote_needed(line, len): 1 when line matches ^>*From .
 *   mailbox_mbox_deliver(dirfd, path, c, args, flags, owner, res): open
 *     path (relative to dirfd; AT_FDCWD for a plain path) for appending,
 *     created 0600 when missing, never through a symlink, and only a
 *     regular file with one link; take the locks flags ask for
 *     (MAILBOX_LOCK_FCNTL: fcntl write lock, waiting up to
 *     MAILBOX_LOCK_WAIT seconds; MAILBOX_LOCK_DOTLOCK: PATH.lock), append
 *     one copy with mailbox_copy (args->mbox should be set), fsync,
 *     unlock. On any failure the file is truncated back to its old size.
 *     Returns res->status: 0 delivered, 4 (lock busy, I/O error, wrong
 *     owner) or 5 (args->limit: "5.2.2 mailbox full"; not a regular file).
 *     owner NULL: the caller already runs with the recipient's ids.
 *     owner set: the file is handled with our (root) ids, a new file is
 *     given to owner, an existing one must belong to owner->uid (else
 *     4.2.0 with a warning: never write to a file someone planted).
 *   mailbox_dotlock_acquire(dirfd, path, wait, err): create PATH.lock with
 *     O_EXCL, retrying each second for wait seconds; a lock file older
 *     than MAILBOX_DOTLOCK_STALE seconds is removed. 0, or -1 with err
 *     (errno kept from the failing create when it was not "busy").
 *   mailbox_dotlock_release(dirfd, path): remove PATH.lock.
 *   mailbox_maildir_deliver(dirfd, dir, c, args, flags, res): make dir,
 *     dir/tmp, dir/new and dir/cur when missing (mode 0700), write one
 *     copy (no mbox quoting) to tmp/NAME (O_EXCL), fsync it, link it to
 *     new/NAME, remove tmp/NAME, fsync new/. With MAILBOX_F_NOFOLLOW,
 *     dir and its subdirectories are opened with O_NOFOLLOW (a symlink
 *     there fails the delivery). Returns res->status: 0, 4 on any error
 *     (the tmp file is removed), 5 when args->limit is passed. The
 *     caller has already switched to the recipient's ids.
 *   mailbox_maildir_name(out, sec, usec, pid, count, host): the unique
 *     name "SEC.PpidQcountMusec.HOST" ('/' and ':' in host escaped so the
 *     name stays one path component without Maildir flag syntax).
 *   mailbox_lock_flags(param): the MAILBOX_LOCK_* bits a lock-list
 *     parameter (mailbox_delivery_lock, virtual_mailbox_lock) names:
 *     "fcntl" and/or "dotlock" (any case); "flock" is not supported and
 *     becomes fcntl with a warning; anything else is a fatal
 *     configuration error (param_fatal_bad), as at program start.
 *
 * SECURITY: the content is the sender's; it is copied, never
 * interpreted, except that quoting keeps it from forging mbox message
 * boundaries. Files are created O_EXCL/O_NOFOLLOW and checked with
 * fstat, so a user cannot redirect a write through links.
 * LIMITS: args->limit bytes of file size; MAILBOX_COPY_BUF bytes of
 * buffer; lock waits bounded by MAILBOX_LOCK_WAIT; MAILBOX_DELIVERED_MAX
 * Delivered-To: values.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "fileio.h"
#include "htable.h"
#include "mailbox.h"
#include "mem.h"
#include "msg.h"
#include "param.h"
#include "qfile.h"
#include "recip_priv.h"
#include "strbuf.h"
#include "strutil.h"

/* mailbox_result_set: record an outcome. */
void    mailbox_result_set(mailbox_result *res, int status, const char *dsn,
                           const char *fmt, ...)
{
    va_list ap;

    res->status = status;
    if (str_copy(res->dsn, sizeof(res->dsn), dsn) < 0)
        (void) str_copy(res->dsn, sizeof(res->dsn), status == 5 ? "5.0.0" : "4.0.0");
    strbuf_reset(res->reason);
    va_start(ap, fmt);
    (void) strbuf_vprintf(res->reason, fmt, ap);
    va_end(ap);
}

/* A content source over memory. */
struct mailbox_mem_src {
    const char *text;
    size_t  len;
    size_t  pos;
};

/* mailbox_mem_start: rewind a memory source. */
static int mailbox_mem_start(void *ctx, strbuf *err)
{
    struct mailbox_mem_src *m = ctx;

    (void) err;
    m->pos = 0;
    return 0;
}

/* mailbox_mem_next: next line of a memory source. */
static int mailbox_mem_next(void *ctx, strbuf *piece, strbuf *err)
{
    struct mailbox_mem_src *m = ctx;
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

/* mailbox_content_mem: content source over memory. */
void    mailbox_content_mem(mailbox_content *c, const char *text, size_t len)
{
    struct mailbox_mem_src *m = mem_calloc(1, sizeof(*m));

    m->text = text;
    m->len = len;
    c->start = mailbox_mem_start;
    c->next = mailbox_mem_next;
    c->ctx = m;
}

/* mailbox_content_mem_free: release a memory source. */
void    mailbox_content_mem_free(mailbox_content *c)
{
    c->ctx = mem_free(c->ctx);
}

/* mailbox_content_headers: collect Delivered-To: values. */
int     mailbox_content_headers(mailbox_content *c, htable *set, strbuf *err)
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
            if (htable_count(set) < MAILBOX_DELIVERED_MAX && !htable_has(set, v))
                (void) htable_put(set, v, NULL);
        }
    }
    strbuf_free(piece);
    strbuf_free(val);
    return rc < 0 ? -1 : 0;
}

/* The output side of one copy. */
struct mailbox_copy_state {
    int     fd;
    strbuf *buf;
    off_t   written;
    off_t   start;
    off_t   limit;
};

/* mailbox_copy_flush: write out the buffer. */
static int mailbox_copy_flush(struct mailbox_copy_state *st, strbuf *err)
{
    if (st->buf->len == 0)
        return 0;
    if (fileio_write_all(st->fd, st->buf->data, st->buf->len) < 0) {
        strbuf_printf(err, "write: %s", strerror(errno));
        return -1;
    }
    strbuf_reset(st->buf);
    return 0;
}

/* mailbox_copy_put: append bytes, checking the limit. */
static int mailbox_copy_put(struct mailbox_copy_state *st, const char *data,
                            size_t len, strbuf *err)
{
    if (st->limit > 0 && st->start + st->written + (off_t) len > st->limit) {
        strbuf_printf(err, "file size limit of %ld bytes exceeded", (long) st->limit);
        return -3;
    }
    st->written += (off_t) len;
    (void) strbuf_append(st->buf, data, len);
    if (st->buf->len >= MAILBOX_COPY_BUF)
        return mailbox_copy_flush(st, err);
    return 0;
}

/* mailbox_quote_needed: does this line need a '>' in an mbox? */
int     mailbox_quote_needed(const char *line, size_t len)
{
    size_t  i = 0;

    while (i < len && line[i] == '>')
        i++;
    return len - i >= 5 && memcmp(line + i, "From ", 5) == 0;
}

/* mailbox_from_line: the mbox separator line. */
void    mailbox_from_line(strbuf *out, const char *sender, long when)
{
    time_t  t = (time_t) when;
    struct tm tm;
    char    date[64];

    if (localtime_r(&t, &tm) == NULL
        || strftime(date, sizeof(date), "%a %b %e %H:%M:%S %Y", &tm) == 0)
        date[0] = 0;
    (void) strbuf_printf(out, "From %s  %s\n", *sender ? sender : "MAILER-DAEMON", date);
}

/* mailbox_copy: write one copy of the message. */
int     mailbox_copy(int fd, mailbox_content *c, const mailbox_copy_args *args,
                     off_t start_size, strbuf *err)
{
    struct mailbox_copy_state st;
    strbuf *hdr = strbuf_new(256);
    strbuf *piece = strbuf_new(1024);
    int     at_line_start = 1;
    int     rc = 0;
    int     ret = 0;

    st.fd = fd;
    st.buf = strbuf_new(MAILBOX_COPY_BUF + 1024);
    st.written = 0;
    st.start = start_size;
    st.limit = args->limit;
    if (args->mbox)
        mailbox_from_line(hdr, args->sender, args->arrival_time);
    if (args->return_path)
        (void) strbuf_printf(hdr, "Return-Path: <%s>\n", args->sender);
    if (args->delivered_to)
        (void) strbuf_printf(hdr, "Delivered-To: %s\n", args->delivered_to);
    ret = mailbox_copy_put(&st, hdr->data, hdr->len, err);
    if (ret == 0 && c->start(c->ctx, err) < 0)
        ret = -2;
    while (ret == 0 && (rc = c->next(c->ctx, piece, err)) > 0) {
        if (args->mbox && at_line_start && mailbox_quote_needed(piece->data, piece->len))
            ret = mailbox_copy_put(&st, ">", 1, err);
        if (ret == 0)
            ret = mailbox_copy_put(&st, piece->data, piece->len, err);
        if (ret == 0 && rc == QFILE_CONTENT_LINE)
            ret = mailbox_copy_put(&st, "\n", 1, err);
        at_line_start = (rc == QFILE_CONTENT_LINE);
    }
    if (ret == 0 && rc < 0)
        ret = -2;
    if (ret == 0 && !at_line_start)
        ret = mailbox_copy_put(&st, "\n", 1, err);
    if (ret == 0 && args->mbox)
        ret = mailbox_copy_put(&st, "\n", 1, err);
    if (ret == 0)
        ret = mailbox_copy_flush(&st, err);
    strbuf_free(st.buf);
    strbuf_free(hdr);
    strbuf_free(piece);
    return ret;
}

/* mailbox_dotlock_acquire: take PATH.lock. */
int     mailbox_dotlock_acquire(int dirfd, const char *path, int wait_seconds, strbuf *err)
{
    strbuf *lock = strbuf_new(256);
    struct stat st;
    int     tries;
    int     fd;
    int     saved = 0;

    (void) strbuf_printf(lock, "%s.lock", path);
    for (tries = 0;; tries++) {
        fd = openat(dirfd, lock->data, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                    0600);
        if (fd >= 0) {
            (void) close(fd);
            strbuf_free(lock);
            return 0;
        }
        if (errno != EEXIST) {
            saved = errno;
            strbuf_printf(err, "create %s: %s", lock->data, strerror(errno));
            break;
        }
        if (fstatat(dirfd, lock->data, &st, AT_SYMLINK_NOFOLLOW) == 0
            && time(NULL) - st.st_mtime > MAILBOX_DOTLOCK_STALE) {
            msg_warn("removing stale lock file %s", lock->data);
            (void) unlinkat(dirfd, lock->data, 0);
            continue;
        }
        if (tries >= wait_seconds) {
            saved = EAGAIN;
            strbuf_printf(err, "%s: lock file is busy", lock->data);
            break;
        }
        (void) sleep(1);
    }
    strbuf_free(lock);
    errno = saved;
    return -1;
}

/* mailbox_dotlock_release: remove PATH.lock. */
void    mailbox_dotlock_release(int dirfd, const char *path)
{
    strbuf *lock = strbuf_new(256);

    (void) strbuf_printf(lock, "%s.lock", path);
    if (unlinkat(dirfd, lock->data, 0) < 0 && errno != ENOENT)
        msg_warn("remove %s: %s", lock->data, strerror(errno));
    strbuf_free(lock);
}

/* mailbox_alarm_nop: SIGALRM only interrupts a blocking fcntl. */
static void mailbox_alarm_nop(int sig)
{
    (void) sig;
}

/* mailbox_fcntl_lock: whole-file write lock, waiting a bounded time. */
static int mailbox_fcntl_lock(int fd, int wait_seconds)
{
    struct flock fl;
    struct sigaction sa;
    struct sigaction old;
    int     rc;
    int     saved;

    memset(&fl, 0, sizeof(fl));
    fl.l_type = F_WRLCK;
    fl.l_whence = SEEK_SET;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = mailbox_alarm_nop;
    sigemptyset(&sa.sa_mask);
    (void) sigaction(SIGALRM, &sa, &old);
    (void) alarm((unsigned) wait_seconds);
    rc = fcntl(fd, F_SETLKW, &fl);
    saved = errno;
    (void) alarm(0);
    (void) sigaction(SIGALRM, &old, NULL);
    errno = saved;
    return rc;
}

/* mailbox_mbox_deliver: append one message to an mbox. */
int     mailbox_mbox_deliver(int dirfd, const char *path, mailbox_content *c,
                             const mailbox_copy_args *args, int flags,
                             const recip_priv_id *owner, mailbox_result *res)
{
    const char *name = args->display ? args->display : path;
    strbuf *err = strbuf_new(128);
    struct stat st;
    int     dotlocked = 0;
    int     fd;
    int     rc;
    off_t   size;

    fd = openat(dirfd, path, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_NONBLOCK
                | O_CLOEXEC, 0600);
    if (fd < 0) {
        mailbox_result_set(res, 4, "4.2.0", "cannot open mailbox %s: %s", name, strerror(errno));
        strbuf_free(err);
        return res->status;
    }
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_nlink != 1) {
        mailbox_result_set(res, 5, "5.2.0", "mailbox %s is not a regular file with one link",
                           name);
        (void) close(fd);
        strbuf_free(err);
        return res->status;
    }
    if (owner && st.st_uid != owner->uid) {
        if (st.st_size == 0 && st.st_uid == geteuid() && fchown(fd, owner->uid, owner->gid) == 0) {
            /* we just created it (or an empty one of ours): hand it over */
        } else {
            msg_warn("mailbox %s is owned by uid %ld, not by uid %ld; not delivering",
                     name, (long) st.st_uid, (long) owner->uid);
            mailbox_result_set(res, 4, "4.2.0", "mailbox %s has the wrong owner", name);
            (void) close(fd);
            strbuf_free(err);
            return res->status;
        }
    }
    if ((flags & MAILBOX_LOCK_DOTLOCK)) {
        if (mailbox_dotlock_acquire(dirfd, path, MAILBOX_LOCK_WAIT, err) == 0) {
            dotlocked = 1;
        } else if (errno == EACCES || errno == EPERM) {
            /* No write access to the directory: fcntl must do. */
            msg_warn("%s; using fcntl locking only", strbuf_str(err));
        } else {
            mailbox_result_set(res, 4, "4.2.0", "cannot lock mailbox: %s", strbuf_str(err));
            (void) close(fd);
            strbuf_free(err);
            return res->status;
        }
    }
    if ((flags & MAILBOX_LOCK_FCNTL) && mailbox_fcntl_lock(fd, MAILBOX_LOCK_WAIT) < 0) {
        mailbox_result_set(res, 4, "4.2.0", "cannot lock mailbox %s: %s", name, strerror(errno));
        goto out;
    }
    if (fstat(fd, &st) < 0) {
        mailbox_result_set(res, 4, "4.2.0", "cannot stat mailbox %s: %s", name, strerror(errno));
        goto out;
    }
    size = st.st_size;
    rc = mailbox_copy(fd, c, args, size, err);
    if (rc == 0 && fsync(fd) < 0) {
        strbuf_printf(err, "fsync: %s", strerror(errno));
        rc = -1;
    }
    if (rc != 0) {
        if (ftruncate(fd, size) < 0)
            msg_warn("truncate %s back to %ld bytes: %s", name, (long) size, strerror(errno));
        if (rc == -3)
            mailbox_result_set(res, 5, "5.2.2", "cannot update mailbox %s: mailbox full (%s)",
                               name, strbuf_str(err));
        else
            mailbox_result_set(res, 4, "4.2.0", "cannot update mailbox %s: %s", name,
                               strbuf_str(err));
        goto out;
    }
    mailbox_result_set(res, 0, "2.0.0", "delivered to mailbox");
out:
    (void) close(fd);                           /* drops the fcntl lock */
    if (dotlocked)
        mailbox_dotlock_release(dirfd, path);
    strbuf_free(err);
    return res->status;
}

/* mailbox_maildir_name: a unique file name. */
void    mailbox_maildir_name(strbuf *out, long sec, long usec, long pid,
                             unsigned long count, const char *host)
{
    const char *p;

    (void) strbuf_printf(out, "%ld.P%ldQ%luM%ld.", sec, pid, count, usec);
    for (p = host; *p; p++) {
        if (*p == '/')
            (void) strbuf_puts(out, "\\057");
        else if (*p == ':')
            (void) strbuf_puts(out, "\\072");
        else
            (void) strbuf_putc(out, *p);
    }
}

/* mailbox_subdir: create (when missing) and open a directory. */
static int mailbox_subdir(int dirfd, const char *name, int flags)
{
    int     oflags = O_RDONLY | O_DIRECTORY | O_CLOEXEC;

    if (flags & MAILBOX_F_NOFOLLOW)
        oflags |= O_NOFOLLOW;
    if (mkdirat(dirfd, name, 0700) < 0 && errno != EEXIST)
        return -1;
    return openat(dirfd, name, oflags);
}

/* mailbox_maildir_deliver: one message into a Maildir. */
int     mailbox_maildir_deliver(int dirfd, const char *dir, mailbox_content *c,
                                const mailbox_copy_args *args, int flags,
                                mailbox_result *res)
{
    static unsigned long count;         /* per-process counter for names */
    const char *label = args->display ? args->display : dir;
    strbuf *name = strbuf_new(128);
    strbuf *err = strbuf_new(128);
    const char *sub[] = {"tmp", "new", "cur"};
    int     fds[3] = {-1, -1, -1};
    int     mdfd;
    char    host[256];
    struct timeval tv;
    size_t  i;
    int     fd = -1;
    int     rc;

    if ((mdfd = mailbox_subdir(dirfd, dir, flags)) < 0) {
        mailbox_result_set(res, 4, "4.2.0", "create maildir directory %s: %s",
                           label, strerror(errno));
        goto out;
    }
    for (i = 0; i < 3; i++) {
        if ((fds[i] = mailbox_subdir(mdfd, sub[i], flags)) < 0) {
            mailbox_result_set(res, 4, "4.2.0", "create maildir directory %s/%s: %s",
                               label, sub[i], strerror(errno));
            goto out;
        }
    }
    if (gethostname(host, sizeof(host)) < 0)
        host[0] = 0;
    host[sizeof(host) - 1] = 0;
    (void) gettimeofday(&tv, NULL);
    mailbox_maildir_name(name, (long) tv.tv_sec, (long) tv.tv_usec, (long) getpid(),
                         ++count, host);
    fd = openat(fds[0], name->data, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                0600);
    if (fd < 0) {
        mailbox_result_set(res, 4, "4.2.0", "create maildir file %s/tmp/%s: %s", label,
                           name->data, strerror(errno));
        goto out;
    }
    rc = mailbox_copy(fd, c, args, 0, err);
    if (rc == 0 && fsync(fd) < 0) {
        strbuf_printf(err, "fsync: %s", strerror(errno));
        rc = -1;
    }
    if (close(fd) < 0 && rc == 0) {
        strbuf_printf(err, "close: %s", strerror(errno));
        rc = -1;
    }
    fd = -1;
    if (rc == 0 && linkat(fds[0], name->data, fds[1], name->data, 0) < 0) {
        strbuf_printf(err, "link to new/%s: %s", name->data, strerror(errno));
        rc = -1;
    }
    (void) unlinkat(fds[0], name->data, 0);
    if (rc != 0) {
        mailbox_result_set(res, rc == -3 ? 5 : 4, rc == -3 ? "5.2.2" : "4.2.0",
                           "cannot deliver to maildir %s: %s", label, strbuf_str(err));
        goto out;
    }
    if (fsync(fds[1]) < 0) {
        /* The file is in new/ already; a lost directory sync is logged. */
        msg_warn("fsync %s/new: %s", label, strerror(errno));
    }
    mailbox_result_set(res, 0, "2.0.0", "delivered to maildir");
out:
    for (i = 0; i < 3; i++)
        if (fds[i] >= 0)
            (void) close(fds[i]);
    if (mdfd >= 0)
        (void) close(mdfd);
    strbuf_free(name);
    strbuf_free(err);
    return res->status;
}

/* mailbox_lock_flags: the lock methods a lock-list parameter names */
int     mailbox_lock_flags(const char *param)
{
    const char *const *locks;
    size_t  n;
    size_t  i;
    int     flags = 0;

    locks = param_list(param, &n);
    for (i = 0; i < n; i++) {
        if (strcasecmp(locks[i], "fcntl") == 0)
            flags |= MAILBOX_LOCK_FCNTL;
        else if (strcasecmp(locks[i], "dotlock") == 0)
            flags |= MAILBOX_LOCK_DOTLOCK;
        else if (strcasecmp(locks[i], "flock") == 0) {
            msg_warn("%s: flock is not supported; using fcntl", param);
            flags |= MAILBOX_LOCK_FCNTL;
        } else
            param_fatal_bad(param, "fcntl and/or dotlock");
    }
    return flags;
}
