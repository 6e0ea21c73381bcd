/*
 * dict_db: the "hash:" and "btree:" lookup table types, on Berkeley DB
 * 5.3 (DB_HASH and DB_BTREE files, no database environment).
 *
 * "hash:/etc/postern/virtual" is the file /etc/postern/virtual.db, made by
 * postmap from the text file /etc/postern/virtual. As Postfix does, each
 * key and each value is stored with its terminating NUL byte. A lookup
 * tries the key with its NUL first and then without it, so tables written
 * by tools that leave the NUL off still work; values and keys are handed
 * back without a trailing NUL.
 *
 * Public functions (dict_open_fn, see dict_types.h):
 *   dict_hash_open(name, flags, err), dict_btree_open(name, flags, err):
 *     open NAME.db. Returns the table or NULL with err set: "open NAME.db:
 *     No such file or directory", or for a file that is not a Berkeley DB
 *     file of that type "open NAME.db: Invalid argument (Berkeley DB: what
 *     it said)". The table belongs to the caller (dict_close).
 *
 *   Reading (no CREATE/UPDATE): the file is opened read-only. Each lookup
 *   holds a shared flock on it while it runs (DICT_F_LOCK or not: an
 *   unlocked read could meet a half-done update); an iteration holds one from
 *   its first step to its end (or dict_close), so an in-place update
 *   (below) never runs under a reader. At open, a warning "database
 *   NAME.db is older than source file NAME" is logged when the text
 *   source is newer (see dict_dbfile_check_age). dict_changed is 1 once
 *   NAME.db is replaced or modified (device, inode, mtime).
 *
 *   DICT_F_CREATE: the new table is built in a private temporary file
 *   NAME.db.XXXXXX in the same directory; dict_commit syncs it, gives it
 *   its owner and mode (dict_dbfile_install) and renames it over NAME.db,
 *   so readers see the old table or the new one, never a partial one.
 *   dict_close without a commit removes the temporary file and leaves the
 *   old table alone. dict_put keeps the first value of a duplicate key
 *   and returns 1, unless DICT_F_DUP_REPLACE was given.
 *
 *   DICT_F_UPDATE: NAME.db is opened read-write under an exclusive flock
 *   that is held until dict_close (postmap -i, -d); dict_put/dict_del
 *   change it in place (an entry stored without NUL by another tool
 *   counts as the same key), dict_commit syncs it to disk. When NAME.db
 *   does not exist yet, UPDATE builds a new one as CREATE does. Changes
 *   made in place are written as they are made: dict_close without a
 *   commit does not undo them.
 *
 * SECURITY: table files are written by the admin (or by postmap run by a
 * user on their own tables); their contents are not trusted: sizes are
 * checked (values over DICT_VALUE_MAX are a DICT_RETRY error, keys over
 * DICT_KEY_MAX in an iteration too) and a file that Berkeley DB cannot
 * read is an open error, never "not found". Berkeley DB opens files by
 * name, so after each open we check that it has the very file we opened
 * and locked ourselves (or created with O_EXCL), and retry (reading) or
 * fail (building) otherwise. A reader keeps Berkeley DB's private page
 * cache for the life of the handle: after an in-place update a long-lived
 * reader should be reopened, which dict_changed tells it to do.
 * LIMITS: DICT_KEY_MAX, DICT_VALUE_MAX; the page cache is Berkeley DB's
 * default (256 KB) for readers and DICT_DB_WRITE_CACHE for writers; an
 * open retries DICT_DBFILE_OPEN_TRIES times when the file is replaced
 * under it.
 */
#include <db.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dict.h"
#include "dict_dbfile.h"
#include "dict_types.h"
#include "mem.h"
#include "strbuf.h"
#include "strutil.h"

/* Page cache for building or updating a table (bounded memory). */
#define DICT_DB_WRITE_CACHE     (16 * 1024 * 1024)

/* Longest Berkeley DB error text we keep. */
#define DICT_DB_ERRTEXT_MAX     512

typedef struct dict_db {
    dict    d;
    DB     *db;
    DBTYPE  dbtype;
    DBC    *cursor;                     /* open iteration, or NULL */
    int     fd;                         /* our descriptor on the file */
    int     iter_locked;                /* iteration holds a shared lock */
    int     writing;                    /* CREATE or UPDATE */
    int     building;                   /* writing a new file (tmp_path) */
    int     committed;                  /* building: installed */
    char   *path;                       /* NAME.db */
    strbuf *tmp_path;                   /* building: temporary file */
    strbuf *dberr;                      /* last Berkeley DB error text */
    dev_t   dev;                        /* identity of the file opened */
    ino_t   ino;
    time_t  mtime;
} dict_db;

/* dict_db_errcall: keep the text of Berkeley DB's last error. */
static void dict_db_errcall(const DB_ENV *env, const char *prefix,
                            const char *text)
{
    dict_db *dd = env->app_private;
    size_t  len;

    (void) prefix;
    if (dd == NULL || text == NULL)
        return;
    /* Drop the "BDB1234 " message number. */
    if (strncmp(text, "BDB", 3) == 0 && strspn(text + 3, "0123456789") == 4
        && text[7] == ' ')
        text += 8;
    len = strlen(text);
    if (len > DICT_DB_ERRTEXT_MAX)
        len = DICT_DB_ERRTEXT_MAX;
    (void) strbuf_set(dd->dberr, text, len);
}

/* dict_db_error: "what PATH: reason (Berkeley DB: text)" into err. */
static void dict_db_error(dict_db *dd, strbuf *err, const char *what, int ret)
{
    if (dd->dberr->len > 0)
        strbuf_setf(err, "%s %s: %s (Berkeley DB: %s)", what, dd->path,
                    db_strerror(ret), dd->dberr->data);
    else
        strbuf_setf(err, "%s %s: %s", what, dd->path, db_strerror(ret));
    strbuf_reset(dd->dberr);
}

/* dict_db_dbt: point a DBT at bytes that Berkeley DB only reads. */
static void dict_db_dbt(DBT *dbt, const char *bytes, size_t len)
{
    memset(dbt, 0, sizeof(*dbt));
    dbt->data = (void *) bytes;
    dbt->size = (u_int32_t) len;
}

/* dict_db_handle_open: make a DB handle and open path with it. */
static int dict_db_handle_open(dict_db *dd, const char *path, u_int32_t flags,
                               int mode, strbuf *err)
{
    int     ret;

    if ((ret = db_create(&dd->db, NULL, 0)) != 0) {
        dd->db = NULL;
        strbuf_setf(err, "open %s: db_create: %s", dd->path, db_strerror(ret));
        return -1;
    }
    dd->db->get_env(dd->db)->app_private = dd;
    dd->db->set_errcall(dd->db, dict_db_errcall);
    if (dd->writing
        && (ret = dd->db->set_cachesize(dd->db, 0, DICT_DB_WRITE_CACHE, 0)) != 0) {
        dict_db_error(dd, err, "open", ret);
        return -1;
    }
    if ((ret = dd->db->open(dd->db, NULL, path, NULL, dd->dbtype, flags, mode)) != 0) {
        dict_db_error(dd, err, "open", ret);
        (void) dd->db->close(dd->db, DB_NOSYNC);
        dd->db = NULL;
        return -1;
    }
    /* Opening an empty new file logs a complaint; it is not an error. */
    strbuf_reset(dd->dberr);
    return 0;
}

/* dict_db_handle_close: close the DB handle and our descriptor. */
static void dict_db_handle_close(dict_db *dd, u_int32_t flags)
{
    if (dd->cursor != NULL) {
        (void) dd->cursor->close(dd->cursor);
        dd->cursor = NULL;
    }
    if (dd->db != NULL) {
        (void) dd->db->close(dd->db, flags);
        dd->db = NULL;
    }
    if (dd->fd >= 0) {
        (void) close(dd->fd);
        dd->fd = -1;
    }
}

/* dict_db_has_file: does the DB handle use the file behind dd->fd? */
static int dict_db_has_file(dict_db *dd)
{
    int     dbfd;

    return dd->db->fd(dd->db, &dbfd) == 0 && dict_dbfile_same(dd->fd, dbfd);
}

/* dict_db_open_existing: open NAME.db to read or update, locked. */
static int dict_db_open_existing(dict_db *dd, strbuf *err)
{
    struct stat st;
    int     tries;
    int     oflags = dd->writing ? O_RDWR : O_RDONLY;
    int     lock = dd->writing ? LOCK_EX : LOCK_SH;

    for (tries = 0; tries < DICT_DBFILE_OPEN_TRIES; tries++) {
        if ((dd->fd = dict_dbfile_open(dd->path, oflags, lock, &st, err)) < 0)
            return -1;
        if (dict_db_handle_open(dd, dd->path, dd->writing ? 0 : DB_RDONLY,
                                0, err) < 0) {
            dict_db_handle_close(dd, 0);
            return -1;
        }
        if (dict_db_has_file(dd)) {
            dd->dev = st.st_dev;
            dd->ino = st.st_ino;
            dd->mtime = st.st_mtime;
            /* A reader locks per lookup; a writer keeps its lock. */
            if (!dd->writing && dict_dbfile_lock(dd->fd, LOCK_UN, dd->path, err) < 0) {
                dict_db_handle_close(dd, 0);
                return -1;
            }
            return 0;
        }
        /* Replaced between our open and Berkeley DB's: start over. */
        dict_db_handle_close(dd, DB_NOSYNC);
    }
    strbuf_setf(err, "open %s: the file keeps being replaced", dd->path);
    return -1;
}

/* dict_db_open_new: start a new table in a temporary file. */
static int dict_db_open_new(dict_db *dd, strbuf *err)
{
    if ((dd->fd = dict_dbfile_temp(dd->path, dd->tmp_path, err)) < 0)
        return -1;
    dd->building = 1;
    /* No DB_TRUNCATE: if the name were no longer ours, we must not cut. */
    if (dict_db_handle_open(dd, dd->tmp_path->data, DB_CREATE, 0600, err) < 0)
        return -1;
    if (!dict_db_has_file(dd)) {
        strbuf_setf(err, "create %s: temporary file %s was replaced",
                    dd->path, dd->tmp_path->data);
        /* Not ours any more: do not remove it. */
        strbuf_reset(dd->tmp_path);
        return -1;
    }
    return 0;
}

/* dict_db_value: copy a stored value (without its NUL) to value. */
static int dict_db_value(dict_db *dd, const DBT *val, const char *key,
                         strbuf *value)
{
    size_t  len = val->size;

    if (len > 0 && ((const char *) val->data)[len - 1] == 0)
        len--;
    if (len > DICT_VALUE_MAX) {
        strbuf_setf(dd->d.error, "%s: value of \"%s\" is longer than %d bytes",
                    dd->path, key, DICT_VALUE_MAX);
        return DICT_RETRY;
    }
    strbuf_set(value, val->data, len);
    return DICT_FOUND;
}

/* dict_db_get: look key up with its NUL, then without. */
static int dict_db_get(dict_db *dd, const char *key, DBT *val)
{
    DBT     k;
    size_t  klen = strlen(key);
    int     ret;

    dict_db_dbt(&k, key, klen + 1);
    memset(val, 0, sizeof(*val));
    ret = dd->db->get(dd->db, NULL, &k, val, 0);
    if (ret == DB_NOTFOUND && klen > 0) {
        dict_db_dbt(&k, key, klen);
        memset(val, 0, sizeof(*val));
        ret = dd->db->get(dd->db, NULL, &k, val, 0);
    }
    return ret;
}

/* dict_db_lookup: find one key. */
static int dict_db_lookup(dict *d, const char *key, strbuf *value)
{
    dict_db *dd = (dict_db *) d;
    int     need_lock = !dd->writing && !dd->iter_locked;
    DBT     val;
    int     ret;
    int     status;

    if (dd->db == NULL) {
        strbuf_setf(d->error, "%s: table is closed", dd->path);
        return DICT_RETRY;
    }
    if (need_lock && dict_dbfile_lock(dd->fd, LOCK_SH, dd->path, d->error) < 0)
        return DICT_RETRY;
    ret = dict_db_get(dd, key, &val);
    if (ret == 0) {
        status = dict_db_value(dd, &val, key, value);
    } else if (ret == DB_NOTFOUND) {
        status = DICT_NOTFOUND;
    } else {
        dict_db_error(dd, d->error, "lookup in", ret);
        status = DICT_RETRY;
    }
    if (need_lock && dict_dbfile_lock(dd->fd, LOCK_UN, dd->path, d->error) < 0)
        status = DICT_RETRY;
    return status;
}

/* dict_db_iter_end: finish an iteration (cursor and lock). */
static void dict_db_iter_end(dict_db *dd)
{
    if (dd->cursor != NULL) {
        (void) dd->cursor->close(dd->cursor);
        dd->cursor = NULL;
    }
    if (dd->iter_locked) {
        (void) flock(dd->fd, LOCK_UN);
        dd->iter_locked = 0;
    }
}

/* dict_db_strip: length of stored bytes without a trailing NUL. */
static size_t dict_db_strip(const DBT *dbt)
{
    size_t  len = dbt->size;

    if (len > 0 && ((const char *) dbt->data)[len - 1] == 0)
        len--;
    return len;
}

/* dict_db_iterate: step through every entry. */
static int dict_db_iterate(dict *d, int first, strbuf *key, strbuf *value)
{
    dict_db *dd = (dict_db *) d;
    DBT     k, v;
    size_t  klen, vlen;
    int     ret;

    if (dd->db == NULL) {
        strbuf_setf(d->error, "%s: table is closed", dd->path);
        return DICT_RETRY;
    }
    if (first)
        dict_db_iter_end(dd);
    if (dd->cursor == NULL) {
        if (!first)
            return DICT_NOTFOUND;       /* already at the end */
        if (!dd->writing) {
            if (dict_dbfile_lock(dd->fd, LOCK_SH, dd->path, d->error) < 0)
                return DICT_RETRY;
            dd->iter_locked = 1;
        }
        if ((ret = dd->db->cursor(dd->db, NULL, &dd->cursor, 0)) != 0) {
            dd->cursor = NULL;
            dict_db_error(dd, d->error, "list", ret);
            dict_db_iter_end(dd);
            return DICT_RETRY;
        }
    }
    memset(&k, 0, sizeof(k));
    memset(&v, 0, sizeof(v));
    ret = dd->cursor->get(dd->cursor, &k, &v, first ? DB_FIRST : DB_NEXT);
    if (ret == DB_NOTFOUND) {
        dict_db_iter_end(dd);
        return DICT_NOTFOUND;
    }
    if (ret != 0) {
        dict_db_error(dd, d->error, "list", ret);
        dict_db_iter_end(dd);
        return DICT_RETRY;
    }
    klen = dict_db_strip(&k);
    vlen = dict_db_strip(&v);
    if (klen > DICT_KEY_MAX || vlen > DICT_VALUE_MAX) {
        strbuf_setf(d->error, "%s: entry with a key of %zu or a value of %zu"
                    " bytes is too long", dd->path, klen, vlen);
        dict_db_iter_end(dd);
        return DICT_RETRY;
    }
    strbuf_set(key, k.data, klen);
    strbuf_set(value, v.data, vlen);
    return DICT_FOUND;
}

/* dict_db_writable: may this table be changed now? */
static int dict_db_writable(dict_db *dd)
{
    if (dd->db == NULL || !dd->writing) {
        strbuf_setf(dd->d.error, "%s: table is not open for writing", dd->path);
        return 0;
    }
    if (dd->committed) {
        strbuf_setf(dd->d.error, "%s: table was already committed", dd->path);
        return 0;
    }
    return 1;
}

/* dict_db_put: store one entry (NUL-terminated key and value). */
static int dict_db_put(dict *d, const char *key, const char *value)
{
    dict_db *dd = (dict_db *) d;
    int     replace = (d->flags & DICT_F_DUP_REPLACE) != 0;
    size_t  klen = strlen(key);
    DBT     k, v;
    int     ret;

    if (!dict_db_writable(dd))
        return -1;
    /* An existing table may hold the key without its NUL. */
    if (!dd->building && klen > 0) {
        dict_db_dbt(&k, key, klen);
        memset(&v, 0, sizeof(v));
        ret = dd->db->get(dd->db, NULL, &k, &v, 0);
        if (ret == 0 && !replace)
            return 1;
        if (ret == 0)
            ret = dd->db->del(dd->db, NULL, &k, 0);
        if (ret != 0 && ret != DB_NOTFOUND) {
            dict_db_error(dd, d->error, "update", ret);
            return -1;
        }
    }
    dict_db_dbt(&k, key, klen + 1);
    dict_db_dbt(&v, value, strlen(value) + 1);
    ret = dd->db->put(dd->db, NULL, &k, &v, replace ? 0 : DB_NOOVERWRITE);
    if (ret == DB_KEYEXIST)
        return 1;
    if (ret != 0) {
        dict_db_error(dd, d->error, "update", ret);
        return -1;
    }
    return 0;
}

/* dict_db_del: delete one key (either spelling). */
static int dict_db_del(dict *d, const char *key)
{
    dict_db *dd = (dict_db *) d;
    size_t  klen = strlen(key);
    int     found = 0;
    int     pass;
    DBT     k;
    int     ret;

    if (!dict_db_writable(dd))
        return DICT_RETRY;
    for (pass = 0; pass < 2; pass++) {
        if (pass == 1 && klen == 0)
            break;
        dict_db_dbt(&k, key, pass == 0 ? klen + 1 : klen);
        ret = dd->db->del(dd->db, NULL, &k, 0);
        if (ret == 0)
            found = 1;
        else if (ret != DB_NOTFOUND) {
            dict_db_error(dd, d->error, "update", ret);
            return DICT_RETRY;
        }
    }
    return found ? DICT_FOUND : DICT_NOTFOUND;
}

/* dict_db_commit: make the changes durable (and a new table visible). */
static int dict_db_commit(dict *d)
{
    dict_db *dd = (dict_db *) d;
    struct stat st;
    int     ret;

    if (dd->db == NULL || !dd->writing) {
        strbuf_setf(d->error, "%s: table is not open for writing", dd->path);
        return -1;
    }
    if (dd->committed)
        return 0;
    dict_db_iter_end(dd);
    if ((ret = dd->db->sync(dd->db, 0)) != 0) {
        dict_db_error(dd, d->error, "write", ret);
        return -1;
    }
    if (dd->building) {
        if (dict_dbfile_install(d, dd->fd, dd->tmp_path, dd->path, d->error) < 0)
            return -1;
        dd->committed = 1;
        if (fstat(dd->fd, &st) == 0) {
            dd->dev = st.st_dev;
            dd->ino = st.st_ino;
            dd->mtime = st.st_mtime;
        }
        return 0;
    }
    if (fsync(dd->fd) < 0) {
        strbuf_setf(d->error, "fsync %s: %s", dd->path, strerror(errno));
        return -1;
    }
    return dict_dbfile_chown(d, dd->fd, dd->path, d->error);
}

/* dict_db_changed: was NAME.db replaced or modified since open? */
static int dict_db_changed(dict *d)
{
    dict_db *dd = (dict_db *) d;

    if (dd->writing)
        return 0;
    return dict_file_changed(dd->path, dd->dev, dd->ino, dd->mtime);
}

/* dict_db_close: release everything; drop an uncommitted new table. */
static void dict_db_close(dict *d)
{
    dict_db *dd = (dict_db *) d;
    int     discard = dd->building && !dd->committed;

    dict_db_iter_end(dd);
    dict_db_handle_close(dd, discard ? DB_NOSYNC : 0);
    if (discard && dd->tmp_path->len > 0)
        (void) unlink(dd->tmp_path->data);
    mem_free(dd->path);
    strbuf_free(dd->tmp_path);
    strbuf_free(dd->dberr);
    dict_free_base(d);
}

/* dict_db_open: open NAME.db as a DB_HASH or DB_BTREE table. */
static dict *dict_db_open(const char *type, DBTYPE dbtype, const char *name,
                          int flags, strbuf *err)
{
    dict_db *dd;
    struct stat st;
    int     status;

    if ((flags & DICT_F_CREATE) && (flags & DICT_F_UPDATE)) {
        strbuf_setf(err, "%s:%s: open to create or to update, not both",
                    type, name);
        return NULL;
    }
    dd = (dict_db *) dict_alloc(type, name, flags,
                                DICT_P_FIXED | DICT_P_WRITABLE | DICT_P_FILE,
                                sizeof(*dd));
    dd->d.lookup = dict_db_lookup;
    dd->d.iterate = dict_db_iterate;
    dd->d.put = dict_db_put;
    dd->d.del = dict_db_del;
    dd->d.commit = dict_db_commit;
    dd->d.changed = dict_db_changed;
    dd->d.close = dict_db_close;
    dd->dbtype = dbtype;
    dd->fd = -1;
    dd->path = str_concat(name, ".db", (char *) NULL);
    dd->tmp_path = strbuf_new(64);
    dd->dberr = strbuf_new(64);
    dd->writing = (flags & (DICT_F_CREATE | DICT_F_UPDATE)) != 0;

    if (flags & DICT_F_CREATE)
        status = dict_db_open_new(dd, err);
    else if ((flags & DICT_F_UPDATE) && stat(dd->path, &st) < 0 && errno == ENOENT)
        status = dict_db_open_new(dd, err);
    else
        status = dict_db_open_existing(dd, err);
    if (status < 0) {
        dict_db_close(&dd->d);
        return NULL;
    }
    if (!dd->writing)
        dict_dbfile_check_age(name, dd->path, dd->mtime);
    return &dd->d;
}

/* dict_hash_open: open a "hash:" table (NAME.db, DB_HASH). */
dict   *dict_hash_open(const char *name, int flags, strbuf *err)
{
    return dict_db_open("hash", DB_HASH, name, flags, err);
}

/* dict_btree_open: open a "btree:" table (NAME.db, DB_BTREE). */
dict   *dict_btree_open(const char *name, int flags, strbuf *err)
{
    return dict_db_open("btree", DB_BTREE, name, flags, err);
}
