/*
 * dict_cdb: the "cdb:" lookup table type, on tinycdb.
 *
 * "cdb:/etc/postern/virtual" is the constant database file
 * /etc/postern/virtual.cdb, made by postmap. Keys and values are stored
 * with their terminating NUL as for hash: (see dict_db.c); a lookup tries
 * the key with its NUL, then without (files made by other cdb tools),
 * and values come back without a trailing NUL.
 *
 * Public functions (dict_open_fn, see dict_types.h):
 *   dict_cdb_open(name, flags, err): open NAME.cdb. Returns the table or
 *     NULL with err set ("open NAME.cdb: No such file or directory",
 *     "open NAME.cdb: not a cdb file (...)"). The caller closes it with
 *     dict_close.
 *
 *   Reading: the file is mapped (cdb_init) once at open; lookups are
 *   cdb_find on the map, iteration walks the records (cdb_seqnext). A
 *   cdb file is never changed in place, so readers need no lock. At
 *   open, a warning "database NAME.cdb is older than source file NAME"
 *   is logged when the text source is newer; dict_changed is 1 once
 *   NAME.cdb is replaced.
 *
 *   DICT_F_CREATE: records are written with cdb_make into a private
 *   temporary file NAME.cdb.XXXXXX; dict_commit writes the index, gives
 *   the file its owner and mode, syncs it and renames it over NAME.cdb
 *   (dict_dbfile_install), so readers see the old table or the new one.
 *   dict_close without a commit removes the temporary file. dict_put
 *   keeps the first value of a duplicate key and returns 1 unless
 *   DICT_F_DUP_REPLACE; dict_del removes a key put earlier. Lookups and
 *   listing are not possible until the commit (DICT_RETRY).
 *
 *   DICT_F_UPDATE is refused at open: "cdb tables cannot be updated in
 *   place; rebuild them".
 *
 * SECURITY: the file is admin-written but not trusted: its table of
 * contents is checked against the file size at open, every record
 * position is bounds-checked by tinycdb (a bad one is DICT_RETRY, never
 * "not found"), values over DICT_VALUE_MAX and keys over DICT_KEY_MAX
 * (in an iteration) are DICT_RETRY errors.
 * LIMITS: a cdb file is at most 4 GB (tinycdb's 32-bit offsets; the
 * build fails with an error beyond that); DICT_KEY_MAX, DICT_VALUE_MAX.
 */
#include <cdb.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dict.h"
#include "dict_dbfile.h"
#include "dict_types.h"
#include "mem.h"
#include "strbuf.h"
#include "strutil.h"

/* The fixed table of contents at the start of every cdb file. */
#define DICT_CDB_TOC_SIZE       2048
#define DICT_CDB_FILE_MAX       0xffffffffUL

typedef struct dict_cdb {
    dict    d;
    struct cdb cdb;                     /* reader: the mapped file */
    int     have_cdb;
    unsigned seqpos;                    /* iteration position */
    int     iterating;
    struct cdb_make make;               /* building */
    int     making;                     /* make started, not finished */
    int     failed;                     /* building hit an error */
    int     fd;
    int     building;
    int     committed;
    char   *path;                       /* NAME.cdb */
    strbuf *tmp_path;                   /* building: temporary file */
    dev_t   dev;                        /* identity of the file opened */
    ino_t   ino;
    time_t  mtime;
} dict_cdb;

/* dict_cdb_check_toc: are the 256 hash table pointers inside the file? */
static int dict_cdb_check_toc(dict_cdb *dc, off_t size, strbuf *err)
{
    const unsigned char *toc = cdb_get(&dc->cdb, DICT_CDB_TOC_SIZE, 0);
    unsigned long pos, count;
    int     i;

    if (toc == NULL) {
        strbuf_setf(err, "open %s: not a cdb file (no table of contents)", dc->path);
        return -1;
    }
    for (i = 0; i < 256; i++) {
        pos = cdb_unpack(toc + i * 8);
        count = cdb_unpack(toc + i * 8 + 4);
        if (count == 0)
            continue;
        if (pos < DICT_CDB_TOC_SIZE || pos > (unsigned long) size
            || count > ((unsigned long) size - pos) / 8) {
            strbuf_setf(err, "open %s: not a cdb file (hash table %d is outside"
                        " the file)", dc->path, i);
            return -1;
        }
    }
    return 0;
}

/* dict_cdb_map: map the open file dc->fd for lookups. */
static int dict_cdb_map(dict_cdb *dc, off_t size, strbuf *err)
{
    if (size < DICT_CDB_TOC_SIZE) {
        strbuf_setf(err, "open %s: not a cdb file (only %ld bytes)",
                    dc->path, (long) size);
        return -1;
    }
    if ((unsigned long long) size > DICT_CDB_FILE_MAX) {
        strbuf_setf(err, "open %s: file too large for a cdb table", dc->path);
        return -1;
    }
    if (cdb_init(&dc->cdb, dc->fd) < 0) {
        strbuf_setf(err, "open %s: %s", dc->path, strerror(errno));
        return -1;
    }
    dc->have_cdb = 1;
    return dict_cdb_check_toc(dc, size, err);
}

/* dict_cdb_open_existing: open and map NAME.cdb for reading. */
static int dict_cdb_open_existing(dict_cdb *dc, strbuf *err)
{
    struct stat st;

    if ((dc->fd = dict_dbfile_open(dc->path, O_RDONLY, 0, &st, err)) < 0)
        return -1;
    dc->dev = st.st_dev;
    dc->ino = st.st_ino;
    dc->mtime = st.st_mtime;
    return dict_cdb_map(dc, st.st_size, err);
}

/* dict_cdb_open_new: start a new table in a temporary file. */
static int dict_cdb_open_new(dict_cdb *dc, strbuf *err)
{
    if ((dc->fd = dict_dbfile_temp(dc->path, dc->tmp_path, err)) < 0)
        return -1;
    dc->building = 1;
    if (cdb_make_start(&dc->make, dc->fd) < 0) {
        strbuf_setf(err, "create %s: %s", dc->path, strerror(errno));
        return -1;
    }
    dc->making = 1;
    return 0;
}

/* dict_cdb_readable: may the table be read now? */
static int dict_cdb_readable(dict_cdb *dc)
{
    if (!dc->have_cdb) {
        strbuf_setf(dc->d.error, "%s: a cdb table cannot be read before it"
                    " is committed", dc->path);
        return 0;
    }
    return 1;
}

/* dict_cdb_corrupt: report a record that lies outside the file. */
static int dict_cdb_corrupt(dict_cdb *dc, const char *what)
{
    strbuf_setf(dc->d.error, "%s %s: corrupted cdb file (%s)", what, dc->path,
                strerror(errno));
    return DICT_RETRY;
}

/* dict_cdb_lookup: find one key, with its NUL and then without. */
static int dict_cdb_lookup(dict *d, const char *key, strbuf *value)
{
    dict_cdb *dc = (dict_cdb *) d;
    size_t  klen = strlen(key);
    const char *val;
    unsigned vlen;
    int     r;

    if (!dict_cdb_readable(dc))
        return DICT_RETRY;
    r = cdb_find(&dc->cdb, key, (unsigned) klen + 1);
    if (r == 0 && klen > 0)
        r = cdb_find(&dc->cdb, key, (unsigned) klen);
    if (r < 0)
        return dict_cdb_corrupt(dc, "lookup in");
    if (r == 0)
        return DICT_NOTFOUND;
    vlen = cdb_datalen(&dc->cdb);
    if ((val = cdb_get(&dc->cdb, vlen, cdb_datapos(&dc->cdb))) == NULL)
        return dict_cdb_corrupt(dc, "lookup in");
    if (vlen > 0 && val[vlen - 1] == 0)
        vlen--;
    if (vlen > DICT_VALUE_MAX) {
        strbuf_setf(d->error, "%s: value of \"%s\" is longer than %d bytes",
                    dc->path, key, DICT_VALUE_MAX);
        return DICT_RETRY;
    }
    strbuf_set(value, val, vlen);
    return DICT_FOUND;
}

/* dict_cdb_iterate: step through every record. */
static int dict_cdb_iterate(dict *d, int first, strbuf *key, strbuf *value)
{
    dict_cdb *dc = (dict_cdb *) d;
    const char *k, *v;
    unsigned klen, vlen;
    int     r;

    if (!dict_cdb_readable(dc))
        return DICT_RETRY;
    if (first) {
        cdb_seqinit(&dc->seqpos, &dc->cdb);
        dc->iterating = 1;
    }
    if (!dc->iterating)
        return DICT_NOTFOUND;           /* already at the end */
    if ((r = cdb_seqnext(&dc->seqpos, &dc->cdb)) <= 0) {
        dc->iterating = 0;
        return r == 0 ? DICT_NOTFOUND : dict_cdb_corrupt(dc, "list");
    }
    klen = cdb_keylen(&dc->cdb);
    vlen = cdb_datalen(&dc->cdb);
    if ((k = cdb_get(&dc->cdb, klen, cdb_keypos(&dc->cdb))) == NULL
        || (v = cdb_get(&dc->cdb, vlen, cdb_datapos(&dc->cdb))) == NULL) {
        dc->iterating = 0;
        return dict_cdb_corrupt(dc, "list");
    }
    if (klen > 0 && k[klen - 1] == 0)
        klen--;
    if (vlen > 0 && v[vlen - 1] == 0)
        vlen--;
    if (klen > DICT_KEY_MAX || vlen > DICT_VALUE_MAX) {
        strbuf_setf(d->error, "%s: record with a key of %u or a value of %u"
                    " bytes is too long", dc->path, klen, vlen);
        dc->iterating = 0;
        return DICT_RETRY;
    }
    strbuf_set(key, k, klen);
    strbuf_set(value, v, vlen);
    return DICT_FOUND;
}

/* dict_cdb_writable: may records be added now? */
static int dict_cdb_writable(dict_cdb *dc)
{
    if (!dc->building) {
        strbuf_setf(dc->d.error, "%s: cdb tables cannot be updated in place;"
                    " rebuild them", dc->path);
        return 0;
    }
    if (dc->committed) {
        strbuf_setf(dc->d.error, "%s: table was already committed", dc->path);
        return 0;
    }
    if (dc->failed) {
        strbuf_setf(dc->d.error, "%s: not written after an earlier error", dc->path);
        return 0;
    }
    return 1;
}

/* dict_cdb_put: add one record (NUL-terminated key and value). */
static int dict_cdb_put(dict *d, const char *key, const char *value)
{
    dict_cdb *dc = (dict_cdb *) d;
    int     replace = (d->flags & DICT_F_DUP_REPLACE) != 0;
    int     r;

    if (!dict_cdb_writable(dc))
        return -1;
    r = cdb_make_put(&dc->make, key, (unsigned) strlen(key) + 1,
                     value, (unsigned) strlen(value) + 1,
                     replace ? CDB_PUT_REPLACE : CDB_PUT_INSERT);
    if (r < 0) {
        strbuf_setf(d->error, "write %s: %s", dc->tmp_path->data,
                    errno == ENOMEM ? "table too large for cdb" : strerror(errno));
        dc->failed = 1;
        return -1;
    }
    return (r > 0 && !replace) ? 1 : 0;
}

/* dict_cdb_del: remove a record added earlier in this build. */
static int dict_cdb_del(dict *d, const char *key)
{
    dict_cdb *dc = (dict_cdb *) d;
    int     r;

    if (!dict_cdb_writable(dc))
        return DICT_RETRY;
    r = cdb_make_find(&dc->make, key, (unsigned) strlen(key) + 1, CDB_FIND_REMOVE);
    if (r < 0) {
        strbuf_setf(d->error, "write %s: %s", dc->tmp_path->data, strerror(errno));
        dc->failed = 1;
        return DICT_RETRY;
    }
    return r > 0 ? DICT_FOUND : DICT_NOTFOUND;
}

/* dict_cdb_commit: write the index and install the new file. */
static int dict_cdb_commit(dict *d)
{
    dict_cdb *dc = (dict_cdb *) d;
    struct stat st;
    int     r;

    if (!dc->building) {
        strbuf_setf(d->error, "%s: table is not open for writing", dc->path);
        return -1;
    }
    if (dc->committed)
        return 0;
    if (dc->failed) {
        strbuf_setf(d->error, "%s: not committed after an earlier error", dc->path);
        return -1;
    }
    dc->making = 0;
    if ((r = cdb_make_finish(&dc->make)) < 0) {
        strbuf_setf(d->error, "write %s: %s", dc->tmp_path->data,
                    errno == ENOMEM ? "table too large for cdb" : strerror(errno));
        dc->failed = 1;
        return -1;
    }
    if (dict_dbfile_install(d, dc->fd, dc->tmp_path, dc->path, d->error) < 0) {
        dc->failed = 1;
        return -1;
    }
    dc->committed = 1;
    /* From now on the handle reads the table it wrote. */
    if (fstat(dc->fd, &st) == 0) {
        dc->dev = st.st_dev;
        dc->ino = st.st_ino;
        dc->mtime = st.st_mtime;
        (void) dict_cdb_map(dc, st.st_size, d->error);
    }
    return 0;
}

/* dict_cdb_changed: was NAME.cdb replaced since open? */
static int dict_cdb_changed(dict *d)
{
    dict_cdb *dc = (dict_cdb *) d;

    if (dc->building)
        return 0;
    return dict_file_changed(dc->path, dc->dev, dc->ino, dc->mtime);
}

/* dict_cdb_close: release everything; drop an uncommitted new table. */
static void dict_cdb_close(dict *d)
{
    dict_cdb *dc = (dict_cdb *) d;

    /* cdb_make_finish is also the only way to free cdb_make's memory. */
    if (dc->making)
        (void) cdb_make_finish(&dc->make);
    if (dc->have_cdb)
        cdb_free(&dc->cdb);
    if (dc->fd >= 0)
        (void) close(dc->fd);
    if (dc->building && !dc->committed && dc->tmp_path->len > 0)
        (void) unlink(dc->tmp_path->data);
    mem_free(dc->path);
    strbuf_free(dc->tmp_path);
    dict_free_base(d);
}

/* dict_cdb_open: open a "cdb:" table (NAME.cdb). */
dict   *dict_cdb_open(const char *name, int flags, strbuf *err)
{
    dict_cdb *dc;
    int     status;

    if (flags & DICT_F_UPDATE) {
        strbuf_setf(err, "%s.cdb: cdb tables cannot be updated in place;"
                    " rebuild them", name);
        return NULL;
    }
    dc = (dict_cdb *) dict_alloc("cdb", name, flags,
                                 DICT_P_FIXED | DICT_P_WRITABLE | DICT_P_FILE,
                                 sizeof(*dc));
    dc->d.lookup = dict_cdb_lookup;
    dc->d.iterate = dict_cdb_iterate;
    dc->d.put = dict_cdb_put;
    dc->d.del = dict_cdb_del;
    dc->d.commit = dict_cdb_commit;
    dc->d.changed = dict_cdb_changed;
    dc->d.close = dict_cdb_close;
    dc->fd = -1;
    dc->path = str_concat(name, ".cdb", (char *) NULL);
    dc->tmp_path = strbuf_new(64);

    if (flags & DICT_F_CREATE)
        status = dict_cdb_open_new(dc, err);
    else
        status = dict_cdb_open_existing(dc, err);
    if (status < 0) {
        dict_cdb_close(&dc->d);
        return NULL;
    }
    if (!dc->building)
        dict_dbfile_check_age(name, dc->path, dc->mtime);
    return &dc->d;
}
