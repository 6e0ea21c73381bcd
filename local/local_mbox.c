/*
 * local_mbox: append a message to an mbox file, all or nothing.
 *
 *   local_mbox_deliver(path, c, args, lock_flags, res): open path for
 *     appending (created 0600 when missing; never through a symlink, and
 *     only a regular file with one link), take the locks lock_flags asks
 *     for (LOCAL_LOCK_FCNTL: fcntl write lock on the whole file, waiting
 *     up to LOCAL_LOCK_WAIT seconds; LOCAL_LOCK_DOTLOCK: PATH.lock), check
 *     args->limit against the current size, append one copy with
 *     local_copy in mbox form, fsync, unlock. On any failure the file is
 *     truncated back to its old size. Returns res->status: 0 delivered,
 *     4 (lock busy, I/O error) or 5 (mailbox_size_limit: "5.2.2 mailbox
 *     full", not a regular file).
 *     owner NULL: the caller has already switched to the recipient's ids
 *     (home mailboxes, /file destinations). owner set (the spool mailbox
 *     in a privileged instance, where mail_spool_directory is usually
 *     not writable by users): the file and its lock are handled as root,
 *     a new file is given to owner, and an existing one must already
 *     belong to owner->uid (else 4.2.0, with a warning: never write to a
 *     file someone else planted there).
 *   local_dotlock_acquire(path, wait, err): create PATH.lock with O_EXCL,
 *     retrying each second for wait seconds; a lock file older than
 *     LOCAL_DOTLOCK_STALE seconds is removed. 0, or -1 with err.
 *   local_dotlock_release(path): remove PATH.lock.
 *
 * SECURITY: runs with the recipient's ids; O_NOFOLLOW and the fstat
 * checks keep a user from redirecting the write through links.
 * LIMITS: args->limit (mailbox_size_limit); lock waits bounded.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "local.h"
#include "msg.h"
#include "recip_priv.h"
#include "strbuf.h"

/* local_dotlock_acquire: take PATH.lock. */
int     local_dotlock_acquire(const char *path, int wait_seconds, strbuf *err)
{
    strbuf *lock = strbuf_new(256);
    struct stat st;
    int     tries;
    int     fd;

    (void) strbuf_printf(lock, "%s.lock", path);
    for (tries = 0;; tries++) {
        fd = open(lock->data, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0600);
        if (fd >= 0) {
            (void) close(fd);
            strbuf_free(lock);
            return 0;
        }
        if (errno != EEXIST) {
            strbuf_printf(err, "create %s: %s", lock->data, strerror(errno));
            break;
        }
        if (lstat(lock->data, &st) == 0 && time(NULL) - st.st_mtime > LOCAL_DOTLOCK_STALE) {
            msg_warn("removing stale lock file %s", lock->data);
            (void) unlink(lock->data);
            continue;
        }
        if (tries >= wait_seconds) {
            strbuf_printf(err, "%s: lock file is busy", lock->data);
            break;
        }
        (void) sleep(1);
    }
    strbuf_free(lock);
    return -1;
}

/* local_dotlock_release: remove PATH.lock. */
void    local_dotlock_release(const char *path)
{
    strbuf *lock = strbuf_new(256);

    (void) strbuf_printf(lock, "%s.lock", path);
    if (unlink(lock->data) < 0 && errno != ENOENT)
        msg_warn("remove %s: %s", lock->data, strerror(errno));
    strbuf_free(lock);
}

/* local_alarm_nop: SIGALRM only interrupts a blocking fcntl. */
static void local_alarm_nop(int sig)
{
    (void) sig;
}

/* local_fcntl_lock: whole-file write lock, waiting a bounded time. */
static int local_fcntl_lock(int fd, int wait_seconds)
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
    sa.sa_handler = local_alarm_nop;
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

/* local_mbox_deliver: append one message to an mbox. */
int     local_mbox_deliver(const char *path, local_content *c,
                           const local_copy_args *args, int lock_flags,
                           const recip_priv_id *owner, local_result *res)
{
    strbuf *err = strbuf_new(128);
    struct stat st;
    int     dotlocked = 0;
    int     fd;
    int     rc;
    off_t   size;

    fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0600);
    if (fd < 0) {
        local_result_set(res, 4, "4.2.0", "cannot open mailbox %s: %s", path, strerror(errno));
        strbuf_free(err);
        return res->status;
    }
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_nlink != 1) {
        local_result_set(res, 5, "5.2.0", "mailbox %s is not a regular file with one link", path);
        (void) close(fd);
        strbuf_free(err);
        return res->status;
    }
    if (owner && st.st_uid != owner->uid) {
        if (st.st_size == 0 && st.st_uid == geteuid() && fchown(fd, owner->uid, owner->gid) == 0) {
            /* we just created it (or an empty one of ours): hand it over */
        } else {
            msg_warn("mailbox %s is owned by uid %ld, not by uid %ld; not delivering",
                     path, (long) st.st_uid, (long) owner->uid);
            local_result_set(res, 4, "4.2.0", "mailbox %s has the wrong owner", path);
            (void) close(fd);
            strbuf_free(err);
            return res->status;
        }
    }
    if ((lock_flags & LOCAL_LOCK_DOTLOCK)) {
        if (local_dotlock_acquire(path, LOCAL_LOCK_WAIT, err) == 0) {
            dotlocked = 1;
        } else if (errno == EACCES || errno == EPERM) {
            /* No write access to the spool directory: fcntl must do. */
            msg_warn("%s; using fcntl locking only", strbuf_str(err));
        } else {
            local_result_set(res, 4, "4.2.0", "cannot lock mailbox: %s", strbuf_str(err));
            (void) close(fd);
            strbuf_free(err);
            return res->status;
        }
    }
    if ((lock_flags & LOCAL_LOCK_FCNTL) && local_fcntl_lock(fd, LOCAL_LOCK_WAIT) < 0) {
        local_result_set(res, 4, "4.2.0", "cannot lock mailbox %s: %s", path, strerror(errno));
        goto out;
    }
    if (fstat(fd, &st) < 0) {
        local_result_set(res, 4, "4.2.0", "cannot stat mailbox %s: %s", path, strerror(errno));
        goto out;
    }
    size = st.st_size;
    rc = local_copy(fd, c, args, size, err);
    if (rc == 0 && fsync(fd) < 0) {
        strbuf_printf(err, "fsync: %s", strerror(errno));
        rc = -1;
    }
    if (rc != 0) {
        if (ftruncate(fd, size) < 0)
            msg_warn("truncate %s back to %ld bytes: %s", path, (long) size, strerror(errno));
        if (rc == -3)
            local_result_set(res, 5, "5.2.2", "cannot update mailbox %s: mailbox full (%s)",
                             path, strbuf_str(err));
        else
            local_result_set(res, 4, "4.2.0", "cannot update mailbox %s: %s", path, strbuf_str(err));
        goto out;
    }
    local_result_set(res, 0, "2.0.0", "delivered to mailbox");
out:
    (void) close(fd);                           /* drops the fcntl lock */
    if (dotlocked)
        local_dotlock_release(path);
    strbuf_free(err);
    return res->status;
}
