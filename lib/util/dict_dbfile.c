/*
 * dict_dbfile: file handling shared by the database table types.
 *
 * The hash, btree, lmdb and cdb types keep a table in one file (NAME.db,
 * NAME.lmdb, NAME.cdb) that a library opens by path. They share these
 * steps:
 *
 * Public functions:
 *   dict_dbfile_open(path, oflags, lock, st, err): open path (O_RDONLY or
 *     O_RDWR; O_CLOEXEC is added), take flock(lock) on it unless lock is
 *     0, and fstat it into *st. Returns the descriptor, which the caller
 *     closes, or -1 with err "open PATH: reason" (missing file, not a
 *     regular file) or "lock PATH: reason". The lock call waits.
 *   dict_dbfile_same(fd, other_fd): 1 when both descriptors refer to the
 *     same file (device and inode), else 0. A type opens the file itself,
 *     then lets its library open the path, and checks with this that the
 *     library got the file it locked (a rename may come in between).
 *   dict_dbfile_lock(fd, op, path, err): flock(op), retried on EINTR.
 *     0, or -1 with err "lock PATH: reason".
 *   dict_dbfile_temp(path, tmp_path, err): create a new, empty, private
 *     (mode 0600) file "PATH.XXXXXX" next to path with mkostemp, which
 *     picks an unused name and creates it with O_EXCL, so nobody else's
 *     file or symlink can stand in for it. Its name goes into tmp_path.
 *     Returns the descriptor, or -1 with err set.
 *   dict_dbfile_install(d, fd, tmp_path, path, err): finish a new table
 *     file: give it its owner and mode, fsync it, rename it over path and
 *     fsync the directory. Owner: the one set with dict_set_owner, else
 *     the owner of the file it replaces (best effort: a failure is only a
 *     warning), else the caller's. Mode: that of the file it replaces,
 *     else 0644 less the umask. 0, or -1 with err set. Once the rename
 *     is done tmp_path is emptied; a caller removes the temporary file
 *     on error only while tmp_path is not empty.
 *   dict_dbfile_chown(d, fd, path, err): apply dict_set_owner to a table
 *     changed in place (DICT_F_UPDATE commit); 0 when none was set or it
 *     worked, -1 with err set.
 *   dict_dbfile_check_age(source, path, mtime): warn "database PATH is
 *     older than source file SOURCE" when the text file the table was
 *     made from is newer than the table (mtime) and was last changed
 *     more than DICT_DBFILE_AGE_GRACE seconds ago (so an admin who is
 *     still editing and about to run postmap is not warned at).
 *
 * SECURITY: tables are built in a file that only this process can have
 * created (O_EXCL, mode 0600) in the table's own directory, so that the
 * rename is atomic and a reader sees the old table or the new one, never
 * a partial one. Nothing here follows a name that another user could
 * have planted: the library opens the temporary file by name, but the
 * caller checks with dict_dbfile_same that it is still ours.
 * LIMITS: none beyond the file system's; paths are not copied into fixed
 * buffers.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "dict.h"
#include "dict_dbfile.h"
#include "msg.h"
#include "strbuf.h"

/* A source file changed more recently than this is being edited. */
#define DICT_DBFILE_AGE_GRACE   100

/* dict_dbfile_lock: flock, retried when a signal interrupts the wait. */
int dict_dbfile_lock(int fd, int op, const char *path, strbuf *err)
{
    while (flock(fd, op) < 0) {
        if (errno != EINTR) {
            strbuf_setf(err, "lock %s: %s", path, strerror(errno));
            return -1;
        }
    }
    return 0;
}

/* dict_dbfile_open: open, lock and stat a table file. */
int dict_dbfile_open(const char *path, int oflags, int lock,
                     struct stat *st, strbuf *err)
{
    int     fd;

    if ((fd = open(path, oflags | O_CLOEXEC | O_NOCTTY)) < 0) {
        strbuf_setf(err, "open %s: %s", path, strerror(errno));
        return -1;
    }
    if (fstat(fd, st) < 0) {
        strbuf_setf(err, "open %s: %s", path, strerror(errno));
        (void) close(fd);
        return -1;
    }
    if (!S_ISREG(st->st_mode)) {
        strbuf_setf(err, "open %s: not a regular file", path);
        (void) close(fd);
        return -1;
    }
    if (lock != 0 && dict_dbfile_lock(fd, lock, path, err) < 0) {
        (void) close(fd);
        return -1;
    }
    /* The lock may have waited for a writer: report what we now hold. */
    if (lock != 0 && fstat(fd, st) < 0) {
        strbuf_setf(err, "open %s: %s", path, strerror(errno));
        (void) close(fd);
        return -1;
    }
    return fd;
}

/* dict_dbfile_same: do two descriptors refer to one file? */
int dict_dbfile_same(int fd, int other_fd)
{
    struct stat a, b;

    if (fstat(fd, &a) < 0 || fstat(other_fd, &b) < 0)
        return 0;
    return a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

/* dict_dbfile_temp: create a private temporary file next to path. */
int dict_dbfile_temp(const char *path, strbuf *tmp_path, strbuf *err)
{
    int     fd;

    strbuf_setf(tmp_path, "%s.XXXXXX", path);
    if ((fd = mkostemp(tmp_path->data, O_CLOEXEC)) < 0) {
        strbuf_setf(err, "create temporary file for %s: %s", path,
                    strerror(errno));
        strbuf_reset(tmp_path);
        return -1;
    }
    return fd;
}

/* dict_dbfile_dir_sync: fsync the directory that holds path. */
static int dict_dbfile_dir_sync(const char *path, strbuf *err)
{
    const char *slash = strrchr(path, '/');
    strbuf *dir = strbuf_new(64);
    int     fd;
    int     ret = 0;

    if (slash == NULL)
        strbuf_puts(dir, ".");
    else if (slash == path)
        strbuf_puts(dir, "/");
    else
        strbuf_set(dir, path, (size_t) (slash - path));
    if ((fd = open(dir->data, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0
        || fsync(fd) < 0) {
        strbuf_setf(err, "fsync directory %s: %s", dir->data, strerror(errno));
        ret = -1;
    }
    if (fd >= 0)
        (void) close(fd);
    strbuf_free(dir);
    return ret;
}

/* dict_dbfile_umask: the process umask (read without changing it). */
static mode_t dict_dbfile_umask(void)
{
    mode_t  mask = umask(022);

    (void) umask(mask);
    return mask;
}

/* dict_dbfile_chown: apply dict_set_owner to an open table file. */
int dict_dbfile_chown(dict *d, int fd, const char *path, strbuf *err)
{
    if (d->owner_set && fchown(fd, d->owner_uid, d->owner_gid) < 0) {
        strbuf_setf(err, "chown %s to %ld:%ld: %s", path,
                    (long) (int) d->owner_uid, (long) (int) d->owner_gid,
                    strerror(errno));
        return -1;
    }
    return 0;
}

/* dict_dbfile_install: fix owner and mode, sync, rename into place. */
int dict_dbfile_install(dict *d, int fd, strbuf *tmp_path,
                        const char *path, strbuf *err)
{
    struct stat old;
    struct stat cur;
    int     have_old = (stat(path, &old) == 0);
    mode_t  mode;

    if (fstat(fd, &cur) < 0) {
        strbuf_setf(err, "stat %s: %s", tmp_path->data, strerror(errno));
        return -1;
    }
    if (d->owner_set) {
        if (dict_dbfile_chown(d, fd, path, err) < 0)
            return -1;
    } else if (have_old && (old.st_uid != cur.st_uid || old.st_gid != cur.st_gid)
               && fchown(fd, old.st_uid, old.st_gid) < 0) {
        msg_warn("%s: cannot keep owner %ld:%ld of the old file: %s",
                 path, (long) old.st_uid, (long) old.st_gid, strerror(errno));
    }
    mode = have_old ? (old.st_mode & 07777) : (0644 & ~dict_dbfile_umask());
    if (fchmod(fd, mode) < 0) {
        strbuf_setf(err, "chmod %s: %s", tmp_path->data, strerror(errno));
        return -1;
    }
    if (fsync(fd) < 0) {
        strbuf_setf(err, "fsync %s: %s", tmp_path->data, strerror(errno));
        return -1;
    }
    if (rename(tmp_path->data, path) < 0) {
        strbuf_setf(err, "rename %s to %s: %s", tmp_path->data, path,
                    strerror(errno));
        return -1;
    }
    strbuf_reset(tmp_path);
    return dict_dbfile_dir_sync(path, err);
}

/* dict_dbfile_check_age: warn when the source text is newer. */
void dict_dbfile_check_age(const char *source, const char *path, time_t mtime)
{
    struct stat st;

    if (stat(source, &st) == 0 && S_ISREG(st.st_mode) && st.st_mtime > mtime
        && st.st_mtime < time((time_t *) 0) - DICT_DBFILE_AGE_GRACE)
        msg_warn("database %s is older than source file %s", path, source);
}
