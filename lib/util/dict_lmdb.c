/*
 * dict_lmdb: the "lmdb:" lookup table type, on LMDB.
 *
 * "lmdb:/etc/postern/virtual" is the file /etc/postern/virtual.lmdb (one
 * file, MDB_NOSUBDIR), made by postmap. Keys and values are stored with
 * their terminating NUL as for hash: (see dict_db.c); a lookup tries the
 * key with its NUL, then without, and values come back without it.
 *
 * Public functions (dict_open_fn, see dict_types.h):
 *   dict_lmdb_open(name, flags, err): open NAME.lmdb. Returns the table or
 *     NULL with err set ("open NAME.lmdb: No such file or directory",
 *     "open NAME.lmdb: MDB_INVALID: File is not an LMDB file", ...). The
 *     caller closes it with dict_close.
 *
 * How readers and writers meet (the design choice):
 *   LMDB's own lock file (NAME.lmdb-lock) would have to be writable by
 *   every process that reads the table, and our readers run under
 *   several users (mail_owner, root, recipients); a shared writable
 *   lock file would let the least privileged of them disturb the others.
 *   So every environment is opened with MDB_NOLOCK, no lock file exists,
 *   and we coordinate with flock on NAME.lmdb itself, as for hash:
 *   - DICT_F_CREATE (postmap, postalias) builds a whole new table in a
 *     private temporary file NAME.lmdb.XXXXXX and dict_commit renames it
 *     over NAME.lmdb (dict_dbfile_install). A running reader keeps the
 *     file it opened, untouched, and a new reader gets the complete new
 *     table: nobody ever sees a half-built table and a rebuild never
 *     waits for, or disturbs, a reader. Closing without a commit removes
 *     the temporary file.
 *   - DICT_F_UPDATE (postmap -i, -d) changes NAME.lmdb in place under an
 *     exclusive flock held until dict_close; readers take a shared flock
 *     (with or without DICT_F_LOCK) around each lookup, with a read
 *     transaction that is reset in between so that each lookup sees the
 *     last committed state, and around a whole iteration. When NAME.lmdb
 *     does not exist yet, UPDATE builds a new table as CREATE does.
 *   Writes go into one write transaction at a time. When the map is full
 *   (MDB_MAP_FULL) the transaction is aborted, the map size doubled (up
 *   to DICT_LMDB_MAP_MAX) and the writes since the last commit, which we
 *   keep in a replay log, are applied again. The log is bounded by
 *   committing every DICT_LMDB_BATCH writes or DICT_LMDB_BATCH_BYTES;
 *   while building that is invisible (the file is private until the
 *   rename), in place it is hidden by the exclusive lock. So an UPDATE
 *   that is closed without a commit may leave earlier batches applied.
 *   A reader whose table grew in place (MDB_MAP_RESIZED) adopts the new
 *   map size and retries.
 *
 *   dict_put keeps the first value of a duplicate key and returns 1
 *   unless DICT_F_DUP_REPLACE; in place, a key stored without NUL counts
 *   as the same key. dict_del removes either spelling. At open, readers
 *   warn "database NAME.lmdb is older than source file NAME"; dict_changed
 *   is 1 once NAME.lmdb is replaced or modified.
 *
 * SECURITY: the file is admin-written but not trusted: an unreadable or
 * foreign file is an open error, values over DICT_VALUE_MAX and keys
 * over DICT_KEY_MAX (in an iteration) are DICT_RETRY errors, never "not
 * found". LMDB opens files by name, so after each open we check that it
 * has the file we opened and locked (or created with O_EXCL).
 * LIMITS: keys up to LMDB's maximum key size (511 bytes with the NUL in
 * the stock build; longer keys cannot be stored and are not found);
 * DICT_VALUE_MAX; map size DICT_LMDB_MAP_INIT growing to at most
 * DICT_LMDB_MAP_MAX; replay log at most DICT_LMDB_BATCH entries or about
 * DICT_LMDB_BATCH_BYTES.
 */
#include <errno.h>
#include <fcntl.h>
#include <lmdb.h>
#include <stdint.h>
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

/* Map size of a new table, and how far a table may grow. */
#define DICT_LMDB_MAP_INIT      ((size_t) 16 * 1024 * 1024)
#if SIZE_MAX > 0xffffffffu
#define DICT_LMDB_MAP_MAX       ((size_t) 1 << 36)
#else
#define DICT_LMDB_MAP_MAX       ((size_t) 1 << 30)
#endif

/* Commit a write transaction after this many writes or log bytes. */
#define DICT_LMDB_BATCH         10000
#define DICT_LMDB_BATCH_BYTES   ((size_t) 8 * 1024 * 1024)

/* Replay log operations. */
#define DICT_LMDB_OP_PUT        1
#define DICT_LMDB_OP_DEL        2

typedef struct dict_lmdb_rec {
    int     op;                         /* DICT_LMDB_OP_* */
    size_t  klen;                       /* key bytes that follow */
    size_t  vlen;                       /* then value bytes */
} dict_lmdb_rec;

typedef struct dict_lmdb {
    dict    d;
    MDB_env *env;
    MDB_dbi dbi;
    MDB_txn *rtxn;                      /* reader: reset between uses */
    MDB_txn *wtxn;                      /* writer: open write txn or NULL */
    MDB_cursor *cursor;                 /* open iteration or NULL */
    int     iter_broken;                /* a write ended the iteration */
    int     fd;                         /* our descriptor on the file */
    int     iter_locked;                /* iteration holds a shared lock */
    int     writing;                    /* CREATE or UPDATE */
    int     building;                   /* writing a new file (tmp_path) */
    int     committed;                  /* building: installed */
    int     failed;                     /* writer hit an error: stop */
    char   *path;                       /* NAME.lmdb */
    strbuf *tmp_path;                   /* building: temporary file */
    strbuf *log;                        /* writes since the last commit */
    size_t  log_count;
    size_t  mapsize;
    size_t  maxkey;                     /* LMDB's key size limit */
    dev_t   dev;                        /* identity of the file opened */
    ino_t   ino;
    time_t  mtime;
} dict_lmdb;

/* dict_lmdb_val: point an MDB_val at bytes that LMDB only reads. */
static void dict_lmdb_val(MDB_val *v, const char *bytes, size_t len)
{
    v->mv_data = (void *) bytes;
    v->mv_size = len;
}

/* dict_lmdb_error: "what PATH: LMDB's reason" into err. */
static void dict_lmdb_error(dict_lmdb *dl, strbuf *err, const char *what, int rc)
{
    strbuf_setf(err, "%s %s: %s", what, dl->path, mdb_strerror(rc));
}

/* dict_lmdb_env_open: open path as an LMDB environment in dl->env. */
static int dict_lmdb_env_open(dict_lmdb *dl, const char *path,
                              unsigned int flags, strbuf *err)
{
    MDB_envinfo info;
    int     rc;

    if ((rc = mdb_env_create(&dl->env)) != 0) {
        dl->env = NULL;
        dict_lmdb_error(dl, err, "open", rc);
        return -1;
    }
    if (dl->building && (rc = mdb_env_set_mapsize(dl->env, DICT_LMDB_MAP_INIT)) != 0) {
        dict_lmdb_error(dl, err, "open", rc);
        return -1;
    }
    flags |= MDB_NOSUBDIR | MDB_NOLOCK;
    if ((rc = mdb_env_open(dl->env, path, flags, 0600)) != 0) {
        dict_lmdb_error(dl, err, "open", rc);
        mdb_env_close(dl->env);
        dl->env = NULL;
        return -1;
    }
    if ((rc = mdb_env_info(dl->env, &info)) != 0) {
        dict_lmdb_error(dl, err, "open", rc);
        return -1;
    }
    dl->mapsize = info.me_mapsize;
    dl->maxkey = (size_t) mdb_env_get_maxkeysize(dl->env);
    return 0;
}

/* dict_lmdb_env_close: close the environment and our descriptor. */
static void dict_lmdb_env_close(dict_lmdb *dl)
{
    if (dl->cursor != NULL) {
        mdb_cursor_close(dl->cursor);
        dl->cursor = NULL;
    }
    if (dl->wtxn != NULL) {
        mdb_txn_abort(dl->wtxn);
        dl->wtxn = NULL;
    }
    if (dl->rtxn != NULL) {
        mdb_txn_abort(dl->rtxn);
        dl->rtxn = NULL;
    }
    if (dl->env != NULL) {
        mdb_env_close(dl->env);
        dl->env = NULL;
    }
    if (dl->fd >= 0) {
        (void) close(dl->fd);
        dl->fd = -1;
    }
}

/* dict_lmdb_has_file: does LMDB use the file behind dl->fd? */
static int dict_lmdb_has_file(dict_lmdb *dl)
{
    mdb_filehandle_t envfd;

    return mdb_env_get_fd(dl->env, &envfd) == 0 && dict_dbfile_same(dl->fd, envfd);
}

/* dict_lmdb_dbi: find the main database (reader: keep a reset txn). */
static int dict_lmdb_dbi(dict_lmdb *dl, strbuf *err)
{
    MDB_txn *txn;
    int     rc;

    if ((rc = mdb_txn_begin(dl->env, NULL, dl->writing ? 0 : MDB_RDONLY, &txn)) != 0) {
        dict_lmdb_error(dl, err, "open", rc);
        return -1;
    }
    if ((rc = mdb_dbi_open(txn, NULL, 0, &dl->dbi)) != 0) {
        mdb_txn_abort(txn);
        dict_lmdb_error(dl, err, "open", rc);
        return -1;
    }
    if (dl->writing) {
        dl->wtxn = txn;
        return 0;
    }
    dl->rtxn = txn;
    mdb_txn_reset(dl->rtxn);
    return 0;
}

/* dict_lmdb_open_existing: open NAME.lmdb to read or update, locked. */
static int dict_lmdb_open_existing(dict_lmdb *dl, strbuf *err)
{
    struct stat st;
    int     tries;
    int     oflags = dl->writing ? O_RDWR : O_RDONLY;
    int     lock = dl->writing ? LOCK_EX : LOCK_SH;

    for (tries = 0; tries < DICT_DBFILE_OPEN_TRIES; tries++) {
        if ((dl->fd = dict_dbfile_open(dl->path, oflags, lock, &st, err)) < 0)
            return -1;
        if (st.st_size == 0) {
            /* LMDB would take it for a new table (or say ENOENT). */
            strbuf_setf(err, "open %s: empty file, not an LMDB table", dl->path);
            dict_lmdb_env_close(dl);
            return -1;
        }
        if (dict_lmdb_env_open(dl, dl->path, dl->writing ? 0 : MDB_RDONLY, err) < 0) {
            dict_lmdb_env_close(dl);
            return -1;
        }
        if (dict_lmdb_has_file(dl)) {
            dl->dev = st.st_dev;
            dl->ino = st.st_ino;
            dl->mtime = st.st_mtime;
            if (dict_lmdb_dbi(dl, err) < 0) {
                dict_lmdb_env_close(dl);
                return -1;
            }
            if (!dl->writing && dict_dbfile_lock(dl->fd, LOCK_UN, dl->path, err) < 0) {
                dict_lmdb_env_close(dl);
                return -1;
            }
            return 0;
        }
        dict_lmdb_env_close(dl);
    }
    strbuf_setf(err, "open %s: the file keeps being replaced", dl->path);
    return -1;
}

/* dict_lmdb_open_new: start a new table in a temporary file. */
static int dict_lmdb_open_new(dict_lmdb *dl, strbuf *err)
{
    if ((dl->fd = dict_dbfile_temp(dl->path, dl->tmp_path, err)) < 0)
        return -1;
    dl->building = 1;
    /* Private until the rename: no need to sync every batch. */
    if (dict_lmdb_env_open(dl, dl->tmp_path->data, MDB_NOSYNC, err) < 0)
        return -1;
    if (!dict_lmdb_has_file(dl)) {
        strbuf_setf(err, "create %s: temporary file %s was replaced",
                    dl->path, dl->tmp_path->data);
        strbuf_reset(dl->tmp_path);     /* not ours: leave it */
        return -1;
    }
    return dict_lmdb_dbi(dl, err);
}

/* dict_lmdb_find: look a key up in txn, with its NUL and then without. */
static int dict_lmdb_find(dict_lmdb *dl, MDB_txn *txn, const char *key,
                          MDB_val *val)
{
    size_t  klen = strlen(key);
    MDB_val k;
    int     rc = MDB_NOTFOUND;

    if (klen + 1 <= dl->maxkey) {
        dict_lmdb_val(&k, key, klen + 1);
        rc = mdb_get(txn, dl->dbi, &k, val);
    }
    if (rc == MDB_NOTFOUND && klen > 0 && klen <= dl->maxkey) {
        dict_lmdb_val(&k, key, klen);
        rc = mdb_get(txn, dl->dbi, &k, val);
    }
    return rc;
}

/* dict_lmdb_strip: length of stored bytes without a trailing NUL. */
static size_t dict_lmdb_strip(const MDB_val *v)
{
    size_t  len = v->mv_size;

    if (len > 0 && ((const char *) v->mv_data)[len - 1] == 0)
        len--;
    return len;
}

/* dict_lmdb_renew: start the reader's read transaction. */
static int dict_lmdb_renew(dict_lmdb *dl)
{
    int     rc = mdb_txn_renew(dl->rtxn);

    /* Grown in place by an update: map the new size and try again. */
    if (rc == MDB_MAP_RESIZED) {
        if ((rc = mdb_env_set_mapsize(dl->env, 0)) == 0)
            rc = mdb_txn_renew(dl->rtxn);
    }
    if (rc != 0)
        dict_lmdb_error(dl, dl->d.error, "read", rc);
    return rc;
}

/* dict_lmdb_wbegin: make sure the writer has a write transaction. */
static int dict_lmdb_wbegin(dict_lmdb *dl)
{
    int     rc;

    if (dl->wtxn != NULL)
        return 0;
    if ((rc = mdb_txn_begin(dl->env, NULL, 0, &dl->wtxn)) != 0) {
        dl->wtxn = NULL;
        dict_lmdb_error(dl, dl->d.error, "update", rc);
        return -1;
    }
    return 0;
}

/* dict_lmdb_lookup: find one key. */
static int dict_lmdb_lookup(dict *d, const char *key, strbuf *value)
{
    dict_lmdb *dl = (dict_lmdb *) d;
    int     in_iter = dl->cursor != NULL && !dl->writing;
    MDB_txn *txn;
    MDB_val val;
    size_t  vlen;
    int     rc;
    int     status;

    if (dl->env == NULL) {
        strbuf_setf(d->error, "%s: table is closed", dl->path);
        return DICT_RETRY;
    }
    if (dl->writing) {
        if (dict_lmdb_wbegin(dl) < 0)
            return DICT_RETRY;
        txn = dl->wtxn;
    } else if (in_iter) {
        txn = dl->rtxn;                 /* the iteration's, already live */
    } else {
        if (dict_dbfile_lock(dl->fd, LOCK_SH, dl->path, d->error) < 0)
            return DICT_RETRY;
        if (dict_lmdb_renew(dl) != 0) {
            (void) flock(dl->fd, LOCK_UN);
            return DICT_RETRY;
        }
        txn = dl->rtxn;
    }
    rc = dict_lmdb_find(dl, txn, key, &val);
    if (rc == 0) {
        vlen = dict_lmdb_strip(&val);
        if (vlen > DICT_VALUE_MAX) {
            strbuf_setf(d->error, "%s: value of \"%s\" is longer than %d bytes",
                        dl->path, key, DICT_VALUE_MAX);
            status = DICT_RETRY;
        } else {
            strbuf_set(value, val.mv_data, vlen);
            status = DICT_FOUND;
        }
    } else if (rc == MDB_NOTFOUND) {
        status = DICT_NOTFOUND;
    } else {
        dict_lmdb_error(dl, d->error, "lookup in", rc);
        status = DICT_RETRY;
    }
    if (!dl->writing && !in_iter) {
        mdb_txn_reset(dl->rtxn);
        if (dict_dbfile_lock(dl->fd, LOCK_UN, dl->path, d->error) < 0)
            status = DICT_RETRY;
    }
    return status;
}

/* dict_lmdb_iter_end: finish an iteration (cursor, txn, lock). */
static void dict_lmdb_iter_end(dict_lmdb *dl)
{
    if (dl->cursor != NULL) {
        mdb_cursor_close(dl->cursor);
        dl->cursor = NULL;
        if (!dl->writing)
            mdb_txn_reset(dl->rtxn);
    }
    if (dl->iter_locked) {
        (void) flock(dl->fd, LOCK_UN);
        dl->iter_locked = 0;
    }
}

/* dict_lmdb_iterate: step through every entry. */
static int dict_lmdb_iterate(dict *d, int first, strbuf *key, strbuf *value)
{
    dict_lmdb *dl = (dict_lmdb *) d;
    MDB_val k, v;
    size_t  klen, vlen;
    int     rc;

    if (dl->env == NULL) {
        strbuf_setf(d->error, "%s: table is closed", dl->path);
        return DICT_RETRY;
    }
    if (first) {
        dict_lmdb_iter_end(dl);
        dl->iter_broken = 0;
    }
    if (dl->cursor == NULL) {
        if (dl->iter_broken) {
            strbuf_setf(d->error, "%s: listing was interrupted by a write", dl->path);
            return DICT_RETRY;
        }
        if (!first)
            return DICT_NOTFOUND;       /* already at the end */
        if (dl->writing) {
            if (dict_lmdb_wbegin(dl) < 0)
                return DICT_RETRY;
            rc = mdb_cursor_open(dl->wtxn, dl->dbi, &dl->cursor);
        } else {
            if (dict_dbfile_lock(dl->fd, LOCK_SH, dl->path, d->error) < 0)
                return DICT_RETRY;
            dl->iter_locked = 1;
            if (dict_lmdb_renew(dl) != 0) {
                dict_lmdb_iter_end(dl);
                return DICT_RETRY;
            }
            if ((rc = mdb_cursor_open(dl->rtxn, dl->dbi, &dl->cursor)) != 0)
                mdb_txn_reset(dl->rtxn);
        }
        if (rc != 0) {
            dl->cursor = NULL;
            dict_lmdb_error(dl, d->error, "list", rc);
            dict_lmdb_iter_end(dl);
            return DICT_RETRY;
        }
    }
    rc = mdb_cursor_get(dl->cursor, &k, &v, first ? MDB_FIRST : MDB_NEXT);
    if (rc == MDB_NOTFOUND) {
        dict_lmdb_iter_end(dl);
        return DICT_NOTFOUND;
    }
    if (rc != 0) {
        dict_lmdb_error(dl, d->error, "list", rc);
        dict_lmdb_iter_end(dl);
        return DICT_RETRY;
    }
    klen = dict_lmdb_strip(&k);
    vlen = dict_lmdb_strip(&v);
    if (klen > DICT_KEY_MAX || vlen > DICT_VALUE_MAX) {
        strbuf_setf(d->error, "%s: entry with a key of %zu or a value of %zu"
                    " bytes is too long", dl->path, klen, vlen);
        dict_lmdb_iter_end(dl);
        return DICT_RETRY;
    }
    strbuf_set(key, k.mv_data, klen);
    strbuf_set(value, v.mv_data, vlen);
    return DICT_FOUND;
}

/* dict_lmdb_apply: perform one write in the write txn; LMDB's code. */
static int dict_lmdb_apply(dict_lmdb *dl, int op, const char *key, size_t klen,
                           const char *value, size_t vlen, int *result)
{
    int     replace = (dl->d.flags & DICT_F_DUP_REPLACE) != 0;
    MDB_val k, v;
    int     rc;
    int     found = 0;

    if (op == DICT_LMDB_OP_DEL) {
        if (klen + 1 <= dl->maxkey) {
            dict_lmdb_val(&k, key, klen + 1);
            if ((rc = mdb_del(dl->wtxn, dl->dbi, &k, NULL)) == 0)
                found = 1;
            else if (rc != MDB_NOTFOUND)
                return rc;
        }
        if (klen > 0 && klen <= dl->maxkey) {
            dict_lmdb_val(&k, key, klen);
            if ((rc = mdb_del(dl->wtxn, dl->dbi, &k, NULL)) == 0)
                found = 1;
            else if (rc != MDB_NOTFOUND)
                return rc;
        }
        *result = found ? DICT_FOUND : DICT_NOTFOUND;
        return 0;
    }
    /* An existing table may hold the key without its NUL. */
    if (!dl->building && klen > 0 && klen <= dl->maxkey) {
        dict_lmdb_val(&k, key, klen);
        rc = mdb_get(dl->wtxn, dl->dbi, &k, &v);
        if (rc == 0 && !replace) {
            *result = 1;
            return 0;
        }
        if (rc == 0)
            rc = mdb_del(dl->wtxn, dl->dbi, &k, NULL);
        if (rc != 0 && rc != MDB_NOTFOUND)
            return rc;
    }
    dict_lmdb_val(&k, key, klen + 1);
    dict_lmdb_val(&v, value, vlen + 1);
    rc = mdb_put(dl->wtxn, dl->dbi, &k, &v, replace ? 0 : MDB_NOOVERWRITE);
    if (rc == MDB_KEYEXIST) {
        *result = 1;
        return 0;
    }
    *result = 0;
    return rc;
}

/* dict_lmdb_wend: end the write transaction (aborting it). */
static void dict_lmdb_wend(dict_lmdb *dl)
{
    if (dl->cursor != NULL && dl->writing) {
        mdb_cursor_close(dl->cursor);
        dl->cursor = NULL;
        dl->iter_broken = 1;
    }
    if (dl->wtxn != NULL) {
        mdb_txn_abort(dl->wtxn);
        dl->wtxn = NULL;
    }
}

/* dict_lmdb_regrow: double the map and replay the log in a new txn. */
static int dict_lmdb_regrow(dict_lmdb *dl, int *result)
{
    size_t  off = 0;
    size_t  newsize;
    dict_lmdb_rec rec;
    int     rc;

    dict_lmdb_wend(dl);
    newsize = dl->mapsize > DICT_LMDB_MAP_MAX / 2 ? DICT_LMDB_MAP_MAX : dl->mapsize * 2;
    if ((rc = mdb_env_set_mapsize(dl->env, newsize)) != 0)
        return rc;
    dl->mapsize = newsize;
    if ((rc = mdb_txn_begin(dl->env, NULL, 0, &dl->wtxn)) != 0) {
        dl->wtxn = NULL;
        return rc;
    }
    while (off < dl->log->len) {
        const char *key;

        memcpy(&rec, dl->log->data + off, sizeof(rec));
        key = dl->log->data + off + sizeof(rec);
        rc = dict_lmdb_apply(dl, rec.op, key, rec.klen, key + rec.klen + 1,
                             rec.vlen, result);
        if (rc != 0)
            return rc;
        off += sizeof(rec) + rec.klen + 1 + rec.vlen + 1;
    }
    return 0;
}

/* dict_lmdb_grow_loop: regrow until the log fits or the limit is hit. */
static int dict_lmdb_grow_loop(dict_lmdb *dl, int rc, int *result)
{
    while (rc == MDB_MAP_FULL) {
        if (dl->mapsize >= DICT_LMDB_MAP_MAX) {
            strbuf_setf(dl->d.error, "update %s: the table would be larger than"
                        " %zu bytes", dl->path, (size_t) DICT_LMDB_MAP_MAX);
            return -1;
        }
        rc = dict_lmdb_regrow(dl, result);
    }
    if (rc != 0) {
        dict_lmdb_error(dl, dl->d.error, "update", rc);
        return -1;
    }
    return 0;
}

/* dict_lmdb_flush: commit the write transaction (growing as needed). */
static int dict_lmdb_flush(dict_lmdb *dl)
{
    int     dummy;
    int     rc;

    while (dl->wtxn != NULL) {
        if (dl->cursor != NULL) {
            mdb_cursor_close(dl->cursor);
            dl->cursor = NULL;
            dl->iter_broken = 1;
        }
        rc = mdb_txn_commit(dl->wtxn);
        dl->wtxn = NULL;                /* freed, even on failure */
        if (rc == 0)
            break;
        /* Replay in a bigger map, then try the commit again. */
        if (dict_lmdb_grow_loop(dl, rc, &dummy) < 0)
            return -1;
    }
    strbuf_reset(dl->log);
    dl->log_count = 0;
    return 0;
}

/* dict_lmdb_write: log and apply one write; its result or -1. */
static int dict_lmdb_write(dict_lmdb *dl, int op, const char *key,
                           const char *value, int *result)
{
    dict_lmdb_rec rec;
    int     rc;

    if (dl->env == NULL || !dl->writing) {
        strbuf_setf(dl->d.error, "%s: table is not open for writing", dl->path);
        return -1;
    }
    if (dl->committed) {
        strbuf_setf(dl->d.error, "%s: table was already committed", dl->path);
        return -1;
    }
    if (dl->failed) {
        strbuf_setf(dl->d.error, "%s: not written after an earlier error", dl->path);
        return -1;
    }
    memset(&rec, 0, sizeof(rec));
    rec.op = op;
    rec.klen = strlen(key);
    rec.vlen = value ? strlen(value) : 0;
    if (op == DICT_LMDB_OP_PUT && rec.klen + 1 > dl->maxkey) {
        strbuf_setf(dl->d.error, "%s: key \"%s\" is longer than lmdb's limit"
                    " of %zu bytes", dl->path, key, dl->maxkey - 1);
        return -1;
    }
    if (dict_lmdb_wbegin(dl) < 0)
        return -1;
    strbuf_append(dl->log, &rec, sizeof(rec));
    strbuf_append(dl->log, key, rec.klen + 1);
    strbuf_append(dl->log, value ? value : "", rec.vlen + 1);
    dl->log_count++;
    rc = dict_lmdb_apply(dl, op, key, rec.klen, value ? value : "", rec.vlen, result);
    if (dict_lmdb_grow_loop(dl, rc, result) < 0
        || ((dl->log_count >= DICT_LMDB_BATCH || dl->log->len >= DICT_LMDB_BATCH_BYTES)
            && dict_lmdb_flush(dl) < 0)) {
        dl->failed = 1;
        dict_lmdb_wend(dl);
        return -1;
    }
    return 0;
}

/* dict_lmdb_put: store one entry. */
static int dict_lmdb_put(dict *d, const char *key, const char *value)
{
    int     result;

    if (dict_lmdb_write((dict_lmdb *) d, DICT_LMDB_OP_PUT, key, value, &result) < 0)
        return -1;
    return result;
}

/* dict_lmdb_del: delete one key (either spelling). */
static int dict_lmdb_del(dict *d, const char *key)
{
    int     result;

    if (dict_lmdb_write((dict_lmdb *) d, DICT_LMDB_OP_DEL, key, NULL, &result) < 0)
        return DICT_RETRY;
    return result;
}

/* dict_lmdb_commit: make the changes durable (and a new table visible). */
static int dict_lmdb_commit(dict *d)
{
    dict_lmdb *dl = (dict_lmdb *) d;
    struct stat st;
    int     rc;

    if (dl->env == NULL || !dl->writing) {
        strbuf_setf(d->error, "%s: table is not open for writing", dl->path);
        return -1;
    }
    if (dl->committed)
        return 0;
    if (dl->failed) {
        strbuf_setf(d->error, "%s: not committed after an earlier error", dl->path);
        return -1;
    }
    if (dict_lmdb_flush(dl) < 0) {
        dl->failed = 1;
        dict_lmdb_wend(dl);
        return -1;
    }
    if ((rc = mdb_env_sync(dl->env, 1)) != 0) {
        dict_lmdb_error(dl, d->error, "write", rc);
        return -1;
    }
    if (dl->building) {
        if (dict_dbfile_install(d, dl->fd, dl->tmp_path, dl->path, d->error) < 0)
            return -1;
        dl->committed = 1;
        if (fstat(dl->fd, &st) == 0) {
            dl->dev = st.st_dev;
            dl->ino = st.st_ino;
            dl->mtime = st.st_mtime;
        }
        return 0;
    }
    if (fsync(dl->fd) < 0) {
        strbuf_setf(d->error, "fsync %s: %s", dl->path, strerror(errno));
        return -1;
    }
    return dict_dbfile_chown(d, dl->fd, dl->path, d->error);
}

/* dict_lmdb_changed: was NAME.lmdb replaced or modified since open? */
static int dict_lmdb_changed(dict *d)
{
    dict_lmdb *dl = (dict_lmdb *) d;

    if (dl->writing)
        return 0;
    return dict_file_changed(dl->path, dl->dev, dl->ino, dl->mtime);
}

/* dict_lmdb_close: release everything; drop an uncommitted new table. */
static void dict_lmdb_close(dict *d)
{
    dict_lmdb *dl = (dict_lmdb *) d;
    int     discard = dl->building && !dl->committed;

    dict_lmdb_iter_end(dl);
    dict_lmdb_env_close(dl);
    if (discard && dl->tmp_path->len > 0)
        (void) unlink(dl->tmp_path->data);
    mem_free(dl->path);
    strbuf_free(dl->tmp_path);
    strbuf_free(dl->log);
    dict_free_base(d);
}

/* dict_lmdb_open: open an "lmdb:" table (NAME.lmdb). */
dict   *dict_lmdb_open(const char *name, int flags, strbuf *err)
{
    dict_lmdb *dl;
    struct stat st;
    int     status;

    if ((flags & DICT_F_CREATE) && (flags & DICT_F_UPDATE)) {
        strbuf_setf(err, "lmdb:%s: open to create or to update, not both", name);
        return NULL;
    }
    dl = (dict_lmdb *) dict_alloc("lmdb", name, flags,
                                  DICT_P_FIXED | DICT_P_WRITABLE | DICT_P_FILE,
                                  sizeof(*dl));
    dl->d.lookup = dict_lmdb_lookup;
    dl->d.iterate = dict_lmdb_iterate;
    dl->d.put = dict_lmdb_put;
    dl->d.del = dict_lmdb_del;
    dl->d.commit = dict_lmdb_commit;
    dl->d.changed = dict_lmdb_changed;
    dl->d.close = dict_lmdb_close;
    dl->fd = -1;
    dl->path = str_concat(name, ".lmdb", (char *) NULL);
    dl->tmp_path = strbuf_new(64);
    dl->log = strbuf_new(256);
    dl->writing = (flags & (DICT_F_CREATE | DICT_F_UPDATE)) != 0;

    if (flags & DICT_F_CREATE)
        status = dict_lmdb_open_new(dl, err);
    else if ((flags & DICT_F_UPDATE) && stat(dl->path, &st) < 0 && errno == ENOENT)
        status = dict_lmdb_open_new(dl, err);
    else
        status = dict_lmdb_open_existing(dl, err);
    if (status < 0) {
        dict_lmdb_close(&dl->d);
        return NULL;
    }
    if (!dl->writing)
        dict_dbfile_check_age(name, dl->path, dl->mtime);
    return &dl->d;
}
