/*
 * Unit tests for lib/util/dict_lmdb.c: the lmdb: table type, in a private
 * temporary directory.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <lmdb.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "dict.h"
#include "mem.h"
#include "numparse.h"
#include "strbuf.h"
#include "strutil.h"
#include "testlib.h"

/* The type under test and its scratch directory (set per group). */
static const char *t_type = "lmdb";
static char t_dir[64];

/* path: "DIR/name" (caller frees). */
static char *path(const char *name)
{
    return str_concat(t_dir, "/", name, (char *) NULL);
}

/* spec: "type:DIR/name" (caller frees). */
static char *spec(const char *name)
{
    return str_concat(t_type, ":", t_dir, "/", name, (char *) NULL);
}

/* dbfile: "DIR/name.lmdb" (caller frees). */
static char *dbfile(const char *name)
{
    return str_concat(t_dir, "/", name, ".lmdb", (char *) NULL);
}

/* open_ok: open a table, failing the test with the error text. */
static dict *open_ok(const char *name, int flags)
{
    strbuf *err = strbuf_new(64);
    char   *s = spec(name);
    dict   *d = dict_open(s, flags, err);

    if (d == NULL)
        fail_msg("open %s: %s", s, err->data);
    mem_free(s);
    strbuf_free(err);
    return d;
}

/* open_err: open a table that must fail; returns the error (caller frees). */
static char *open_err(const char *name, int flags)
{
    strbuf *err = strbuf_new(64);
    char   *s = spec(name);
    dict   *d = dict_open(s, flags, err);
    char   *text;

    assert_null(d);
    text = mem_strdup(err->data);
    mem_free(s);
    strbuf_free(err);
    return text;
}

/* build: make table name from NULL-terminated key, value pairs. */
static void build(const char *name, const char *const *kv)
{
    dict   *d = open_ok(name, DICT_F_CREATE);

    for (; kv[0] != NULL; kv += 2)
        assert_int_equal(dict_put(d, kv[0], kv[1]), 0);
    assert_int_equal(dict_commit(d), 0);
    dict_close(d);
}

/* expect: look key up in d; want NULL means "not found". */
static void expect(dict *d, const char *key, const char *want)
{
    strbuf *val = strbuf_new(16);
    int     r = dict_get(d, key, val);

    if (want == NULL) {
        if (r != DICT_NOTFOUND)
            fail_msg("%s: expected not found, got %d (%s)", key, r, dict_error(d));
    } else {
        if (r != DICT_FOUND)
            fail_msg("%s: expected \"%s\", got %d (%s)", key, want, r, dict_error(d));
        assert_string_equal(val->data, want);
        assert_int_equal(val->len, strlen(want));
    }
    strbuf_free(val);
}

/* raw_write: write a table with LMDB directly (no NULs added). */
static void raw_write(const char *name, const char *const *kv, size_t nkv,
                      const char *big_key, size_t big_len)
{
    char   *file = dbfile(name);
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    MDB_val k, v;
    size_t  i;

    unlink(file);
    assert_int_equal(mdb_env_create(&env), 0);
    assert_int_equal(mdb_env_set_mapsize(env, 64 * 1024 * 1024), 0);
    assert_int_equal(mdb_env_open(env, file, MDB_NOSUBDIR | MDB_NOLOCK, 0644), 0);
    assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
    assert_int_equal(mdb_dbi_open(txn, NULL, 0, &dbi), 0);
    for (i = 0; i < nkv; i += 2) {
        k.mv_data = (void *) kv[i];
        k.mv_size = strlen(kv[i]);
        v.mv_data = (void *) kv[i + 1];
        v.mv_size = strlen(kv[i + 1]);
        assert_int_equal(mdb_put(txn, dbi, &k, &v, 0), 0);
    }
    if (big_key != NULL) {
        char   *big = mem_alloc(big_len);

        memset(big, 'x', big_len);
        big[big_len - 1] = 0;           /* stored with its NUL */
        k.mv_data = (void *) big_key;
        k.mv_size = strlen(big_key) + 1;
        v.mv_data = big;
        v.mv_size = big_len;
        assert_int_equal(mdb_put(txn, dbi, &k, &v, 0), 0);
        mem_free(big);
    }
    assert_int_equal(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
    mem_free(file);
}

/* count_temps: files in the directory whose name starts with prefix. */
static int count_temps(const char *prefix)
{
    DIR    *dir = opendir(t_dir);
    struct dirent *de;
    int     n = 0;

    assert_non_null(dir);
    while ((de = readdir(dir)) != NULL)
        if (str_has_prefix(de->d_name, prefix))
            n++;
    closedir(dir);
    return n;
}

/* write_file: create a file with the given text. */
static void write_file(const char *file, const char *text, size_t len)
{
    int     fd = open(file, O_WRONLY | O_CREAT | O_TRUNC, 0644);

    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, len), (ssize_t) len);
    close(fd);
}

/* set_mtime: set a file's modification time. */
static void set_mtime(const char *file, time_t when)
{
    struct timespec ts[2];

    ts[0].tv_sec = ts[1].tv_sec = when;
    ts[0].tv_nsec = ts[1].tv_nsec = 0;
    assert_int_equal(utimensat(AT_FDCWD, file, ts, 0), 0);
}

static const char *const basic_kv[] = {
    "alice", "alice@example.com",
    "bob", "",
    "with space", "value with space",
    "postmaster", "root",
    NULL, NULL,
};

static void test_build_lookup(void **state)
{
    dict   *d;
    struct stat st;
    char   *file = dbfile("basic");

    (void) state;
    build("basic", basic_kv);
    assert_int_equal(stat(file, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0644 & ~(mode_t) 022);
    d = open_ok("basic", 0);
    assert_string_equal(d->type, t_type);
    expect(d, "alice", "alice@example.com");
    expect(d, "bob", "");
    expect(d, "with space", "value with space");
    expect(d, "postmaster", "root");
    expect(d, "Alice", NULL);
    expect(d, "alic", NULL);
    expect(d, "", NULL);
    assert_int_equal(dict_changed(d), 0);
    dict_close(d);
    assert_int_equal(count_temps("basic.lmdb."), 0);
    mem_free(file);
}

static void test_raw_without_nul(void **state)
{
    static const char *const kv[] = {
        "plain", "value1",
        "other", "value2",
    };
    dict   *d;
    strbuf *k = strbuf_new(16);
    strbuf *v = strbuf_new(16);
    int     n = 0;

    (void) state;
    raw_write("raw", kv, 4, NULL, 0);
    d = open_ok("raw", 0);
    expect(d, "plain", "value1");
    expect(d, "other", "value2");
    expect(d, "plai", NULL);
    for (int r = dict_iterate(d, 1, k, v); r == DICT_FOUND;
         r = dict_iterate(d, 0, k, v)) {
        assert_int_equal(k->len, strlen(k->data));
        assert_true(strcmp(k->data, "plain") == 0 || strcmp(k->data, "other") == 0);
        n++;
    }
    assert_int_equal(n, 2);
    dict_close(d);

    /* In place: a key stored without NUL is the same key. */
    d = open_ok("raw", DICT_F_UPDATE);
    assert_int_equal(dict_put(d, "plain", "new"), 1);
    expect(d, "plain", "value1");
    assert_int_equal(dict_del(d, "other"), DICT_FOUND);
    assert_int_equal(dict_del(d, "other"), DICT_NOTFOUND);
    assert_int_equal(dict_commit(d), 0);
    dict_close(d);
    d = open_ok("raw", DICT_F_UPDATE | DICT_F_DUP_REPLACE);
    assert_int_equal(dict_put(d, "plain", "new"), 0);
    assert_int_equal(dict_commit(d), 0);
    dict_close(d);
    d = open_ok("raw", 0);
    expect(d, "plain", "new");
    expect(d, "other", NULL);
    n = 0;
    for (int r = dict_iterate(d, 1, k, v); r == DICT_FOUND;
         r = dict_iterate(d, 0, k, v))
        n++;
    assert_int_equal(n, 1);
    dict_close(d);
    strbuf_free(k);
    strbuf_free(v);
}

static void test_duplicates(void **state)
{
    dict   *d;
    strbuf *k = strbuf_new(8);
    strbuf *v = strbuf_new(8);

    (void) state;
    d = open_ok("dup", DICT_F_CREATE);
    assert_int_equal(dict_put(d, "k", "first"), 0);
    assert_int_equal(dict_put(d, "k", "second"), 1);
    expect(d, "k", "first");
    assert_int_equal(dict_commit(d), 0);
    dict_close(d);
    d = open_ok("dup", 0);
    expect(d, "k", "first");
    dict_close(d);

    d = open_ok("dup", DICT_F_CREATE | DICT_F_DUP_REPLACE);
    assert_int_equal(dict_put(d, "k", "first"), 0);
    assert_int_equal(dict_put(d, "k", "second"), 0);
    assert_int_equal(dict_commit(d), 0);
    dict_close(d);
    d = open_ok("dup", 0);
    expect(d, "k", "second");
    /* The replaced value is gone, not just hidden. */
    assert_int_equal(dict_iterate(d, 1, k, v), DICT_FOUND);
    assert_string_equal(k->data, "k");
    assert_string_equal(v->data, "second");
    assert_int_equal(dict_iterate(d, 0, k, v), DICT_NOTFOUND);
    dict_close(d);

    /* DUP_IGNORE only changes what the caller logs. */
    d = open_ok("dup", DICT_F_CREATE | DICT_F_DUP_IGNORE);
    assert_int_equal(dict_put(d, "k", "first"), 0);
    assert_int_equal(dict_put(d, "k", "second"), 1);
    assert_int_equal(dict_commit(d), 0);
    dict_close(d);
    strbuf_free(k);
    strbuf_free(v);
}

static void test_fold(void **state)
{
    dict   *d;

    (void) state;
    d = open_ok("fold", DICT_F_CREATE | DICT_F_FOLD);
    assert_int_equal(dict_put(d, "MiXeD@Example.COM", "v"), 0);
    assert_int_equal(dict_put(d, "mixed@example.com", "w"), 1);
    assert_int_equal(dict_commit(d), 0);
    dict_close(d);
    d = open_ok("fold", DICT_F_FOLD);
    expect(d, "MIXED@EXAMPLE.COM", "v");
    expect(d, "mixed@example.com", "v");
    dict_close(d);
    d = open_ok("fold", 0);
    expect(d, "MIXED@EXAMPLE.COM", NULL);
    expect(d, "mixed@example.com", "v");
    dict_close(d);
}

static void test_close_without_commit(void **state)
{
    static const char *const v1[] = {"a", "old", NULL, NULL};
    dict   *d;

    (void) state;
    build("keep", v1);
    d = open_ok("keep", DICT_F_CREATE);
    assert_int_equal(dict_put(d, "a", "new"), 0);
    assert_int_equal(dict_put(d, "b", "new"), 0);
    assert_int_equal(count_temps("keep.lmdb."), 1);
    dict_close(d);
    assert_int_equal(count_temps("keep.lmdb."), 0);
    d = open_ok("keep", 0);
    expect(d, "a", "old");
    expect(d, "b", NULL);
    dict_close(d);

    /* A new table that is never committed leaves nothing behind. */
    d = open_ok("never", DICT_F_CREATE);
    assert_int_equal(dict_put(d, "a", "b"), 0);
    dict_close(d);
    assert_int_equal(count_temps("never"), 0);
}

static void test_update_delete(void **state)
{
    static const char *const v1[] = {"a", "1", "b", "2", NULL, NULL};
    dict   *d;
    dict   *r;
    strbuf *val = strbuf_new(8);

    (void) state;
    build("upd", v1);
    d = open_ok("upd", DICT_F_UPDATE);
    assert_int_equal(dict_put(d, "c", "3"), 0);
    assert_int_equal(dict_put(d, "a", "x"), 1);
    assert_int_equal(dict_del(d, "b"), DICT_FOUND);
    assert_int_equal(dict_del(d, "nothere"), DICT_NOTFOUND);
    expect(d, "c", "3");
    expect(d, "b", NULL);
    assert_int_equal(dict_commit(d), 0);
    assert_int_equal(dict_put(d, "d", "4"), 0);
    assert_int_equal(dict_commit(d), 0);
    /* In place: no temporary file, no new inode. */
    assert_int_equal(count_temps("upd.lmdb."), 0);
    dict_close(d);
    r = open_ok("upd", 0);
    expect(r, "a", "1");
    expect(r, "b", NULL);
    expect(r, "c", "3");
    expect(r, "d", "4");
    /* A reader cannot write. */
    assert_int_equal(dict_put(r, "e", "5"), -1);
    assert_int_equal(dict_del(r, "a"), DICT_RETRY);
    assert_int_equal(dict_commit(r), -1);
    assert_int_equal(dict_set_owner(r, 0, 0), -1);
    dict_close(r);

    /* UPDATE of a table that does not exist yet makes a new one. */
    d = open_ok("updnew", DICT_F_UPDATE);
    assert_int_equal(dict_put(d, "k", "v"), 0);
    assert_int_equal(dict_commit(d), 0);
    dict_close(d);
    r = open_ok("updnew", 0);
    expect(r, "k", "v");
    dict_close(r);

    /* After a CREATE commit the table is read-only. */
    d = open_ok("upd", DICT_F_CREATE);
    assert_int_equal(dict_put(d, "z", "26"), 0);
    assert_int_equal(dict_commit(d), 0);
    assert_int_equal(dict_commit(d), 0);
    assert_int_equal(dict_put(d, "y", "25"), -1);
    assert_non_null(strstr(dict_error(d), "already committed"));
    assert_int_equal(dict_get(d, "z", val), DICT_FOUND);
    dict_close(d);
    strbuf_free(val);
}

static void test_corrupt(void **state)
{
    char    garbage[8192];
    char   *file = dbfile("bad");
    char   *msg;
    char   *want;

    (void) state;
    memset(garbage, 'x', sizeof(garbage));
    write_file(file, garbage, sizeof(garbage));
    msg = open_err("bad", 0);
    want = str_concat("open ", file, ": ", (char *) NULL);
    assert_true(str_has_prefix(msg, want));
    assert_non_null(strstr(msg, "MDB_INVALID"));
    mem_free(msg);
    msg = open_err("bad", DICT_F_UPDATE);
    assert_true(str_has_prefix(msg, want));
    assert_non_null(strstr(msg, "MDB_INVALID"));
    mem_free(msg);

    /* Short garbage. */
    write_file(file, garbage, 100);
    msg = open_err("bad", 0);
    assert_true(str_has_prefix(msg, want));
    mem_free(msg);

    /* Empty file: neither read nor silently turned into a table. */
    write_file(file, "", 0);
    msg = open_err("bad", 0);
    assert_true(str_has_prefix(msg, want));
    assert_non_null(strstr(msg, "empty"));
    mem_free(msg);
    msg = open_err("bad", DICT_F_UPDATE);
    assert_non_null(strstr(msg, "empty"));
    mem_free(msg);

    /* Both CREATE and UPDATE. */
    msg = open_err("bad", DICT_F_CREATE | DICT_F_UPDATE);
    assert_non_null(strstr(msg, "not both"));
    mem_free(msg);
    mem_free(want);
    mem_free(file);
}

static void test_missing(void **state)
{
    char   *msg;
    char   *want = str_concat("open ", t_dir, "/nope.lmdb: No such file or directory",
                              (char *) NULL);
    dict   *d;
    strbuf *val = strbuf_new(8);
    char   *s = spec("nope");

    (void) state;
    msg = open_err("nope", 0);
    assert_string_equal(msg, want);
    mem_free(msg);

    /* A missing table defers lookups, never "not found". */
    testlib_log_reset();
    d = dict_open_or_fail(s, 0);
    assert_int_equal(dict_get(d, "a", val), DICT_RETRY);
    assert_non_null(strstr(dict_error(d), "No such file or directory"));
    assert_true(testlib_log_has("nope.lmdb"));
    dict_close(d);
    strbuf_free(val);
    mem_free(want);
    mem_free(s);
}

#define ITER_N 500

static void test_iterate(void **state)
{
    dict   *d;
    strbuf *k = strbuf_new(16);
    strbuf *v = strbuf_new(16);
    char    key[32], want[32];
    char    seen[ITER_N];
    int     n = 0, i, r;

    (void) state;
    d = open_ok("iter", DICT_F_CREATE);
    for (i = 0; i < ITER_N; i++) {
        str_format(key, sizeof(key), "key%d", i);
        str_format(want, sizeof(want), "value%d", i);
        assert_int_equal(dict_put(d, key, want), 0);
    }
    assert_int_equal(dict_commit(d), 0);
    dict_close(d);

    d = open_ok("iter", 0);
    /* Start, walk a little, then start over: the walk restarts. */
    assert_int_equal(dict_iterate(d, 1, k, v), DICT_FOUND);
    assert_int_equal(dict_iterate(d, 0, k, v), DICT_FOUND);
    memset(seen, 0, sizeof(seen));
    for (r = dict_iterate(d, 1, k, v); r == DICT_FOUND; r = dict_iterate(d, 0, k, v)) {
        long    num;

        assert_true(str_has_prefix(k->data, "key"));
        assert_int_equal(num_parse_long(k->data + 3, 0, ITER_N - 1, &num), 0);
        assert_true(num >= 0 && num < ITER_N);
        assert_int_equal(seen[num], 0);
        seen[num] = 1;
        str_format(want, sizeof(want), "value%ld", num);
        assert_string_equal(v->data, want);
        /* A lookup in the middle of a walk works (no self-deadlock). */
        if (n == 10)
            expect(d, "key7", "value7");
        n++;
    }
    assert_int_equal(r, DICT_NOTFOUND);
    assert_int_equal(n, ITER_N);
    assert_int_equal(dict_iterate(d, 0, k, v), DICT_NOTFOUND);
    dict_close(d);

    /* Close in the middle of a walk releases the lock: update works. */
    d = open_ok("iter", 0);
    assert_int_equal(dict_iterate(d, 1, k, v), DICT_FOUND);
    dict_close(d);
    d = open_ok("iter", DICT_F_UPDATE);
    assert_int_equal(dict_del(d, "key1"), DICT_FOUND);
    dict_close(d);
    strbuf_free(k);
    strbuf_free(v);
}

static void test_older_than_source(void **state)
{
    static const char *const v1[] = {"a", "1", NULL, NULL};
    char   *src = path("aged");
    char   *file = dbfile("aged");
    time_t  now = time(NULL);
    dict   *d;

    (void) state;
    write_file(src, "a 1\n", 4);
    build("aged", v1);
    set_mtime(file, now - 2000);
    set_mtime(src, now - 1000);
    testlib_log_reset();
    d = open_ok("aged", 0);
    dict_close(d);
    assert_true(testlib_log_has("warning: database "));
    assert_true(testlib_log_has("aged.lmdb is older than source file "));

    /* Table newer than source: no warning. */
    set_mtime(file, now - 500);
    testlib_log_reset();
    d = open_ok("aged", 0);
    dict_close(d);
    assert_false(testlib_log_has("older than source"));

    /* A source being edited right now draws no warning yet. */
    set_mtime(src, now);
    testlib_log_reset();
    d = open_ok("aged", 0);
    dict_close(d);
    assert_false(testlib_log_has("older than source"));
    mem_free(src);
    mem_free(file);
}

static void test_changed(void **state)
{
    static const char *const v1[] = {"a", "1", NULL, NULL};
    static const char *const v2[] = {"a", "2", NULL, NULL};
    dict   *d;

    (void) state;
    build("chg", v1);
    d = open_ok("chg", 0);
    assert_int_equal(dict_changed(d), 0);
    build("chg", v2);
    assert_int_equal(dict_changed(d), 1);
    /* The open handle still reads the table it opened. */
    expect(d, "a", "1");
    dict_close(d);
    d = open_ok("chg", 0);
    expect(d, "a", "2");
    assert_int_equal(dict_changed(d), 0);
    dict_close(d);
}

static void test_value_too_long(void **state)
{
    static const char *const kv[] = {"small", "ok"};
    dict   *d;
    strbuf *val = strbuf_new(8);
    strbuf *k = strbuf_new(8);

    (void) state;
    raw_write("long", kv, 2, "big", DICT_VALUE_MAX + 2);
    d = open_ok("long", 0);
    expect(d, "small", "ok");
    assert_int_equal(dict_get(d, "big", val), DICT_RETRY);
    assert_non_null(strstr(dict_error(d), "longer than"));
    assert_non_null(strstr(dict_error(d), "long.lmdb"));
    dict_close(d);

    /* Exactly DICT_VALUE_MAX plus its NUL is fine. */
    raw_write("long", kv, 2, "big", DICT_VALUE_MAX + 1);
    d = open_ok("long", 0);
    assert_int_equal(dict_get(d, "big", val), DICT_FOUND);
    assert_int_equal(val->len, DICT_VALUE_MAX);
    dict_close(d);
    strbuf_free(val);
    strbuf_free(k);
}

static void test_owner_mode(void **state)
{
    static const char *const v1[] = {"a", "1", NULL, NULL};
    char   *file = dbfile("mode");
    struct stat st;
    dict   *d;

    (void) state;
    build("mode", v1);
    assert_int_equal(chmod(file, 0640), 0);
    build("mode", v1);
    assert_int_equal(stat(file, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0640);

    d = open_ok("mode", DICT_F_CREATE);
    assert_int_equal(dict_set_owner(d, getuid(), getgid()), 0);
    assert_int_equal(dict_put(d, "a", "1"), 0);
    assert_int_equal(dict_commit(d), 0);
    dict_close(d);
    assert_int_equal(stat(file, &st), 0);
    assert_int_equal(st.st_uid, getuid());
    assert_int_equal(st.st_mode & 07777, 0640);

    if (geteuid() == 0) {
        d = open_ok("mode", DICT_F_CREATE);
        assert_int_equal(dict_set_owner(d, 1, 2), 0);
        assert_int_equal(dict_put(d, "a", "1"), 0);
        assert_int_equal(dict_commit(d), 0);
        dict_close(d);
        assert_int_equal(stat(file, &st), 0);
        assert_int_equal(st.st_uid, 1);
        assert_int_equal(st.st_gid, 2);
        /* The next rebuild keeps that owner. */
        build("mode", v1);
        assert_int_equal(stat(file, &st), 0);
        assert_int_equal(st.st_uid, 1);
        assert_int_equal(st.st_gid, 2);
        /* And an update in place can set it. */
        d = open_ok("mode", DICT_F_UPDATE);
        assert_int_equal(dict_set_owner(d, 3, (gid_t) -1), 0);
        assert_int_equal(dict_commit(d), 0);
        dict_close(d);
        assert_int_equal(stat(file, &st), 0);
        assert_int_equal(st.st_uid, 3);
        assert_int_equal(st.st_gid, 2);
    }
    mem_free(file);
}

/*
 * Concurrent read while rebuild: a child rebuilds the table over and
 * over, alternating two versions whose values carry the version number,
 * while the parent opens and reads it. Every lookup must succeed and
 * every value read through one handle must come from one version.
 */
#define CONC_KEYS       1000
#define CONC_REBUILDS   50
#define CONC_MAX_OPENS  100000
#define CONC_PER_OPEN   100

/* conc_build: write version ver of the table; 0 or -1. */
static int conc_build(const char *s, int ver)
{
    strbuf *err = strbuf_new(64);
    dict   *d = dict_open(s, DICT_F_CREATE, err);
    char    key[32], val[64];
    int     i, ret = 0;

    if (d == NULL) {
        strbuf_free(err);
        return -1;
    }
    for (i = 0; i < CONC_KEYS && ret == 0; i++) {
        str_format(key, sizeof(key), "key%d", i);
        str_format(val, sizeof(val), "v%d:key%d", ver, i);
        if (dict_put(d, key, val) != 0)
            ret = -1;
    }
    if (ret == 0 && dict_commit(d) != 0)
        ret = -1;
    dict_close(d);
    strbuf_free(err);
    return ret;
}

static void test_concurrent_rebuild(void **state)
{
    char   *s = spec("conc");
    strbuf *err = strbuf_new(64);
    strbuf *val = strbuf_new(64);
    int     opens = 0, lookups = 0, failures = 0, mixed = 0, versions_seen = 0;
    int     status = 0;
    pid_t   pid;
    char    key[32], want[64];

    (void) state;
    assert_int_equal(conc_build(s, 1), 0);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int     r, bad = 0;

        for (r = 0; r < CONC_REBUILDS; r++)
            if (conc_build(s, r % 2 ? 1 : 2) != 0)
                bad++;
        _exit(bad ? 1 : 0);
    }
    while (opens < CONC_MAX_OPENS && waitpid(pid, &status, WNOHANG) == 0) {
        dict   *d = dict_open(s, 0, err);
        int     ver = -1, j;

        opens++;
        if (d == NULL) {
            failures++;
            continue;
        }
        for (j = 0; j < CONC_PER_OPEN; j++) {
            int     i = (opens * 37 + j * 101) % CONC_KEYS;
            int     v;

            str_format(key, sizeof(key), "key%d", i);
            lookups++;
            if (dict_get(d, key, val) != DICT_FOUND) {
                failures++;
                continue;
            }
            v = val->data[0] == 'v' ? val->data[1] - '0' : -1;
            str_format(want, sizeof(want), "v%d:%s", v, key);
            if (strcmp(val->data, want) != 0 || (v != 1 && v != 2)) {
                failures++;
                continue;
            }
            if (ver < 0)
                ver = v;
            else if (ver != v)
                mixed++;
            versions_seen |= 1 << v;
        }
        dict_close(d);
    }
    if (opens >= CONC_MAX_OPENS)
        assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    assert_int_equal(failures, 0);
    assert_int_equal(mixed, 0);
    assert_true(opens > 0);
    assert_true(lookups > 0);
    print_message("%s: %d opens, %d lookups, versions seen mask %d\n",
                  t_type, opens, lookups, versions_seen);
    strbuf_free(err);
    strbuf_free(val);
    mem_free(s);
}

/* big_value: a 2000-byte value that names its key (caller frees). */
static char *big_value(const char *key)
{
    char   *v = mem_alloc(2001);

    memset(v, 'y', 2000);
    v[2000] = 0;
    memcpy(v, key, strlen(key));
    return v;
}

/* put_many: put n big entries "prefixN" into d. */
static void put_many(dict *d, const char *prefix, int n)
{
    char    key[64];
    int     i;

    for (i = 0; i < n; i++) {
        char   *v;

        str_format(key, sizeof(key), "%s%d", prefix, i);
        v = big_value(key);
        if (dict_put(d, key, v) != 0)
            fail_msg("put %s: %s", key, dict_error(d));
        mem_free(v);
    }
}

/* expect_big: key has its big_value. */
static void expect_big(dict *d, const char *key)
{
    char   *v = big_value(key);

    expect(d, key, v);
    mem_free(v);
}

static void test_key_limit(void **state)
{
    char    key[601];
    char   *lock = path("keys.lmdb-lock");
    struct stat st;
    dict   *d;

    (void) state;
    memset(key, 'k', 600);
    key[600] = 0;
    d = open_ok("keys", DICT_F_CREATE);
    assert_int_equal(dict_put(d, key, "v"), -1);
    assert_non_null(strstr(dict_error(d), "limit"));
    key[510] = 0;                       /* 510 bytes + NUL: the limit */
    assert_int_equal(dict_put(d, key, "v510"), 0);
    assert_int_equal(dict_put(d, "short", "s"), 0);
    assert_int_equal(dict_commit(d), 0);
    dict_close(d);
    d = open_ok("keys", 0);
    expect(d, key, "v510");
    expect(d, "short", "s");
    key[510] = 'k';
    expect(d, key, NULL);
    dict_close(d);
    /* MDB_NOLOCK: no lock file next to the table. */
    assert_int_equal(stat(lock, &st), -1);
    assert_int_equal(errno, ENOENT);
    mem_free(lock);
}

#define GROW_N  12000                   /* about 48 MB: several doublings */

static void test_map_growth(void **state)
{
    char   *file = dbfile("big");
    struct stat st;
    strbuf *k = strbuf_new(16);
    strbuf *v = strbuf_new(16);
    dict   *d;
    int     n = 0;

    (void) state;
    d = open_ok("big", DICT_F_CREATE);
    put_many(d, "key", GROW_N);
    /* Duplicates are still detected after a replay. */
    assert_int_equal(dict_put(d, "key5", "other"), 1);
    assert_int_equal(dict_commit(d), 0);
    dict_close(d);
    assert_int_equal(stat(file, &st), 0);
    assert_true(st.st_size > 32 * 1024 * 1024);

    d = open_ok("big", 0);
    expect_big(d, "key0");
    expect_big(d, "key5");
    expect_big(d, "key11999");
    expect(d, "key12000", NULL);
    for (int r = dict_iterate(d, 1, k, v); r == DICT_FOUND; r = dict_iterate(d, 0, k, v))
        n++;
    assert_int_equal(n, GROW_N);
    dict_close(d);

    /* Growing in place. */
    d = open_ok("big", DICT_F_UPDATE);
    put_many(d, "more", GROW_N);
    assert_int_equal(dict_commit(d), 0);
    dict_close(d);
    d = open_ok("big", 0);
    expect_big(d, "key7");
    expect_big(d, "more11999");
    dict_close(d);
    strbuf_free(k);
    strbuf_free(v);
    mem_free(file);
}

static void test_reader_sees_growth(void **state)
{
    static const char *const v1[] = {"a", "1", NULL, NULL};
    dict   *r;
    dict   *u;

    (void) state;
    build("grow", v1);
    r = open_ok("grow", 0);
    expect(r, "a", "1");
    u = open_ok("grow", DICT_F_UPDATE);
    put_many(u, "more", GROW_N);
    assert_int_equal(dict_commit(u), 0);
    dict_close(u);
    /* The reader's map is now too small: it must adopt the new size. */
    expect_big(r, "more11999");
    expect(r, "a", "1");
    dict_close(r);
}

/* conc_update: rewrite every value to version ver in place; 0 or -1. */
static int conc_update(const char *s, int ver)
{
    strbuf *err = strbuf_new(64);
    dict   *d = dict_open(s, DICT_F_UPDATE | DICT_F_DUP_REPLACE, err);
    char    key[32], val[64];
    int     i, ret = 0;

    if (d == NULL) {
        strbuf_free(err);
        return -1;
    }
    for (i = 0; i < CONC_KEYS && ret == 0; i++) {
        str_format(key, sizeof(key), "key%d", i);
        str_format(val, sizeof(val), "v%d:key%d", ver, i);
        if (dict_put(d, key, val) != 0)
            ret = -1;
    }
    if (ret == 0 && dict_commit(d) != 0)
        ret = -1;
    dict_close(d);
    strbuf_free(err);
    return ret;
}

/*
 * Concurrent read while updating in place: every lookup must succeed
 * with a well-formed value (versions may change between lookups).
 */
static void test_concurrent_update(void **state)
{
    char   *s = spec("concu");
    strbuf *err = strbuf_new(64);
    strbuf *val = strbuf_new(64);
    int     opens = 0, lookups = 0, failures = 0;
    int     status = 0;
    pid_t   pid;
    char    key[32], want[64];

    (void) state;
    assert_int_equal(conc_build(s, 1), 0);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int     r, bad = 0;

        for (r = 0; r < 20; r++)
            if (conc_update(s, r % 2 ? 1 : 2) != 0)
                bad++;
        _exit(bad ? 1 : 0);
    }
    while (opens < CONC_MAX_OPENS && waitpid(pid, &status, WNOHANG) == 0) {
        dict   *d = dict_open(s, 0, err);
        int     j;

        opens++;
        if (d == NULL) {
            failures++;
            continue;
        }
        for (j = 0; j < CONC_PER_OPEN; j++) {
            int     i = (opens * 37 + j * 101) % CONC_KEYS;
            int     v;

            str_format(key, sizeof(key), "key%d", i);
            lookups++;
            if (dict_get(d, key, val) != DICT_FOUND) {
                failures++;
                continue;
            }
            v = val->data[0] == 'v' ? val->data[1] - '0' : -1;
            str_format(want, sizeof(want), "v%d:%s", v, key);
            if (strcmp(val->data, want) != 0 || (v != 1 && v != 2))
                failures++;
        }
        dict_close(d);
    }
    if (opens >= CONC_MAX_OPENS)
        assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    assert_int_equal(failures, 0);
    assert_true(opens > 0);
    print_message("lmdb update: %d opens, %d lookups\n", opens, lookups);
    strbuf_free(err);
    strbuf_free(val);
    mem_free(s);
}

/* group_setup: make the scratch directory. */
static int group_setup(void **state)
{
    (void) state;
    str_copy(t_dir, sizeof(t_dir), "/tmp/test_dict_lmdb.XXXXXX");
    if (mkdtemp(t_dir) == NULL)
        return -1;
    umask(022);
    return 0;
}

/* group_teardown: remove the scratch directory. */
static int group_teardown(void **state)
{
    DIR    *dir = opendir(t_dir);
    struct dirent *de;

    (void) state;
    if (dir == NULL)
        return -1;
    while ((de = readdir(dir)) != NULL) {
        char   *p;

        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        p = path(de->d_name);
        unlink(p);
        mem_free(p);
    }
    closedir(dir);
    return rmdir(t_dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_build_lookup),
        cmocka_unit_test(test_raw_without_nul),
        cmocka_unit_test(test_duplicates),
        cmocka_unit_test(test_fold),
        cmocka_unit_test(test_close_without_commit),
        cmocka_unit_test(test_update_delete),
        cmocka_unit_test(test_corrupt),
        cmocka_unit_test(test_missing),
        cmocka_unit_test(test_iterate),
        cmocka_unit_test(test_older_than_source),
        cmocka_unit_test(test_changed),
        cmocka_unit_test(test_value_too_long),
        cmocka_unit_test(test_owner_mode),
        cmocka_unit_test(test_key_limit),
        cmocka_unit_test(test_map_growth),
        cmocka_unit_test(test_reader_sees_growth),
        cmocka_unit_test(test_concurrent_rebuild),
        cmocka_unit_test(test_concurrent_update),
    };

    testlib_setup();
    return cmocka_run_group_tests_name("dict_lmdb", tests, group_setup,
                                       group_teardown);
}
