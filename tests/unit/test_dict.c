/*
 * Unit tests for lib/util/dict.c: the registry, spec splitting, key
 * folding, key limits, the surrogate table, the per-process cache and
 * the refusal to write read-only types. The tables used are the
 * in-memory and text types (inline, static, texthash, regexp, fail) and
 * a writable mock type built here with dict_alloc.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>
#include <cmocka.h>

#include "dict.h"
#include "htable.h"
#include "mem.h"
#include "strbuf.h"
#include "strutil.h"
#include "testlib.h"

static char tmpdir[] = "/tmp/test_dict.XXXXXX";

/* write_file: (re)create dir/name with text; returns the path. */
static char *write_file(const char *name, const char *text)
{
    char   *path = str_concat(tmpdir, "/", name, (char *) NULL);
    FILE   *fp = fopen(path, "w");

    assert_non_null(fp);
    assert_int_equal(fputs(text, fp) >= 0, 1);
    assert_int_equal(fclose(fp), 0);
    return path;
}

/* ------------------------------------------------------------ registry */

struct split_case {
    const char *spec;
    int     rc;
    const char *type;
    const char *name;
};

static const struct split_case split_cases[] = {
    {"hash:/etc/postern/aliases", 0, "hash", "/etc/postern/aliases"},
    {"a:b:c", 0, "a", "b:c"},
    {"static:", 0, "static", ""},
    {"inline:{a=b, c=d}", 0, "inline", "{a=b, c=d}"},
    {"static:{a:b}", 0, "static", "{a:b}"},
    {"nocolon", -1, NULL, NULL},
    {":name", -1, NULL, NULL},
    {"", -1, NULL, NULL},
};

static void test_split_spec(void **state)
{
    strbuf *type = strbuf_new(8);
    strbuf *name = strbuf_new(8);
    size_t  i;

    (void) state;
    for (i = 0; i < sizeof(split_cases) / sizeof(split_cases[0]); i++) {
        const struct split_case *c = &split_cases[i];

        strbuf_set(type, "old", 3);
        strbuf_set(name, "old", 3);
        assert_int_equal(dict_split_spec(c->spec, type, name), c->rc);
        if (c->rc == 0) {
            assert_string_equal(type->data, c->type);
            assert_string_equal(name->data, c->name);
        }
    }
    strbuf_free(type);
    strbuf_free(name);
}

static void test_registry(void **state)
{
    static const char *const want[] = {
        "btree", "cdb", "fail", "hash", "inline", "lmdb", "regexp", "static",
        "texthash", "unix",
    };
    const char *const *names = dict_type_names();
    size_t  i;

    (void) state;
    for (i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        assert_non_null(names[i]);
        assert_string_equal(names[i], want[i]);
        assert_true(dict_type_known(want[i]));
    }
    assert_null(names[i]);
    assert_false(dict_type_known("mysql"));
    assert_false(dict_type_known(""));
    assert_false(dict_type_known("HASH"));
}

struct open_error_case {
    const char *spec;
    const char *error;
};

static const struct open_error_case open_error_cases[] = {
    {"foo:bar", "unsupported dictionary type: foo"},
    {"mysql:/etc/x.cf", "unsupported dictionary type: mysql"},
    {"nocolon", "nocolon: need a type:name table, e.g. hash:nocolon"},
    {":x", ":x: need a type:name table, e.g. hash::x"},
    {"unix:nosuch.byname", "unix:nosuch.byname: unknown table; use unix:passwd.byname"
     " or unix:group.byname"},
};

static void test_open_errors(void **state)
{
    strbuf *err = strbuf_new(8);
    size_t  i;

    (void) state;
    for (i = 0; i < sizeof(open_error_cases) / sizeof(open_error_cases[0]); i++) {
        strbuf_reset(err);
        assert_null(dict_open(open_error_cases[i].spec, 0, err));
        assert_string_equal(err->data, open_error_cases[i].error);
    }
    strbuf_free(err);
}

/* ------------------------------------------------------------ folding */

static void test_fold(void **state)
{
    strbuf *err = strbuf_new(8);
    strbuf *value = strbuf_new(8);
    char   *path = write_file("fold.re", "/^Abc$/i case-sensitive\n");
    char   *spec = str_concat("regexp:", path, (char *) NULL);
    char    key[] = "FOO";
    dict   *d;

    (void) state;
    /* Fixed-key type with DICT_F_FOLD: keys stored and looked up folded. */
    d = dict_open("inline:{Foo=Bar}", DICT_F_FOLD, err);
    assert_non_null(d);
    assert_true(d->props & DICT_P_FIXED);
    assert_int_equal(dict_get(d, key, value), DICT_FOUND);
    assert_string_equal(value->data, "Bar");          /* values never fold */
    assert_string_equal(key, "FOO");                  /* caller's key untouched */
    assert_int_equal(dict_get(d, "foo", value), DICT_FOUND);
    assert_int_equal(dict_get(d, "fOo", value), DICT_FOUND);
    d = dict_close(d);

    /* Same type without DICT_F_FOLD: exact match only. */
    d = dict_open("inline:{Foo=Bar}", 0, err);
    assert_non_null(d);
    assert_int_equal(dict_get(d, "FOO", value), DICT_NOTFOUND);
    assert_int_equal(dict_get(d, "foo", value), DICT_NOTFOUND);
    assert_int_equal(dict_get(d, "Foo", value), DICT_FOUND);
    d = dict_close(d);

    /* Pattern type: DICT_F_FOLD does not fold the key it matches. */
    d = dict_open(spec, DICT_F_FOLD, err);
    assert_non_null(d);
    assert_true(d->props & DICT_P_PATTERN);
    assert_false(d->props & DICT_P_FIXED);
    assert_int_equal(dict_get(d, "Abc", value), DICT_FOUND);
    assert_int_equal(dict_get(d, "abc", value), DICT_NOTFOUND);
    assert_int_equal(dict_get(d, "ABC", value), DICT_NOTFOUND);
    d = dict_close(d);

    unlink(path);
    mem_free(path);
    mem_free(spec);
    strbuf_free(err);
    strbuf_free(value);
}

/* ------------------------------------------------------------ a writable mock */

typedef struct mock_dict {
    dict    dict;
    htable *table;
    int     commits;
} mock_dict;

/* mock_lookup: find in the htable. */
static int mock_lookup(dict *d, const char *key, strbuf *value)
{
    const char *v = htable_find(((mock_dict *) d)->table, key);

    if (v == NULL)
        return DICT_NOTFOUND;
    strbuf_puts(value, v);
    return DICT_FOUND;
}

/* mock_put: store, keeping the first value unless DUP_REPLACE. */
static int mock_put(dict *d, const char *key, const char *value)
{
    mock_dict *md = (mock_dict *) d;

    if (htable_has(md->table, key) && !(d->flags & DICT_F_DUP_REPLACE))
        return 1;
    mem_free(htable_put(md->table, key, mem_strdup(value)));
    return 0;
}

/* mock_del: remove. */
static int mock_del(dict *d, const char *key)
{
    int     found;

    mem_free(htable_remove(((mock_dict *) d)->table, key, &found));
    return found ? DICT_FOUND : DICT_NOTFOUND;
}

/* mock_commit: count. */
static int mock_commit(dict *d)
{
    ((mock_dict *) d)->commits++;
    return 0;
}

/* mock_free_value: htable value destructor. */
static void mock_free_value(void *v)
{
    mem_free(v);
}

/* mock_close: release. */
static void mock_close(dict *d)
{
    htable_free(((mock_dict *) d)->table, mock_free_value);
    dict_free_base(d);
}

/* mock_open: a writable fixed-key table, opened as dict_open would. */
static mock_dict *mock_open(int flags)
{
    mock_dict *md = (mock_dict *) dict_alloc("mock", "name", flags,
                                             DICT_P_FIXED | DICT_P_WRITABLE,
                                             sizeof(*md));

    md->table = htable_new(8);
    md->dict.lookup = mock_lookup;
    md->dict.put = mock_put;
    md->dict.del = mock_del;
    md->dict.commit = mock_commit;
    md->dict.close = mock_close;
    md->dict.refcount = 1;
    return md;
}

static void test_write_wrappers(void **state)
{
    mock_dict *md = mock_open(DICT_F_CREATE | DICT_F_FOLD);
    dict   *d = &md->dict;
    strbuf *value = strbuf_new(8);
    char   *big_key = mem_alloc(DICT_KEY_MAX + 2);
    char   *big_value = mem_alloc(DICT_VALUE_MAX + 2);

    (void) state;
    assert_string_equal(d->spec, "mock:name");
    assert_string_equal(dict_error(d), "");
    assert_int_equal(dict_put(d, "User@Example.COM", "v1"), 0);
    assert_non_null(htable_find(md->table, "user@example.com"));   /* folded */
    assert_int_equal(dict_put(d, "USER@example.com", "v2"), 1);     /* duplicate */
    assert_int_equal(dict_get(d, "user@EXAMPLE.com", value), DICT_FOUND);
    assert_string_equal(value->data, "v1");

    /* Empty and over-long keys, over-long values. */
    assert_int_equal(dict_put(d, "", "v"), -1);
    assert_string_equal(dict_error(d), "mock:name: key is empty or longer than 4096 bytes");
    memset(big_key, 'k', DICT_KEY_MAX + 1);
    big_key[DICT_KEY_MAX + 1] = 0;
    assert_int_equal(dict_put(d, big_key, "v"), -1);
    assert_int_equal(dict_get(d, big_key, value), DICT_NOTFOUND);
    assert_int_equal(dict_del(d, big_key), DICT_NOTFOUND);
    big_key[DICT_KEY_MAX] = 0;                          /* exactly the limit */
    assert_int_equal(dict_put(d, big_key, "v"), 0);
    assert_int_equal(dict_get(d, big_key, value), DICT_FOUND);
    memset(big_value, 'v', DICT_VALUE_MAX + 1);
    big_value[DICT_VALUE_MAX + 1] = 0;
    assert_int_equal(dict_put(d, "k", big_value), -1);
    assert_true(strstr(dict_error(d), "value for \"k\" is longer than") != NULL);
    big_value[DICT_VALUE_MAX] = 0;
    assert_int_equal(dict_put(d, "k", big_value), 0);

    /* Delete folds too. */
    assert_int_equal(dict_del(d, "USER@EXAMPLE.COM"), DICT_FOUND);
    assert_int_equal(dict_del(d, "user@example.com"), DICT_NOTFOUND);
    assert_int_equal(dict_commit(d), 0);
    assert_int_equal(md->commits, 1);

    /* No iterate method: the wrapper says so. */
    assert_int_equal(dict_iterate(d, 1, value, value), DICT_RETRY);
    assert_string_equal(dict_error(d), "mock:name: table cannot be listed");
    assert_int_equal(dict_changed(d), 0);               /* no changed method */
    assert_null(dict_close(d));

    /* The same table opened without CREATE/UPDATE refuses writes. */
    md = mock_open(0);
    d = &md->dict;
    assert_int_equal(dict_put(d, "a", "b"), -1);
    assert_string_equal(dict_error(d), "mock:name: table is not open for writing");
    assert_int_equal(dict_del(d, "a"), DICT_RETRY);
    assert_int_equal(htable_count(md->table), 0);
    dict_close(d);

    mem_free(big_key);
    mem_free(big_value);
    strbuf_free(value);
}

/* Keys over DICT_KEY_MAX are not found, even in a table that has every key. */
static void test_long_keys(void **state)
{
    strbuf *err = strbuf_new(8);
    strbuf *value = strbuf_new(8);
    char   *key = mem_alloc(DICT_KEY_MAX + 2);
    dict   *d = dict_open("static:yes", DICT_F_FOLD, err);

    (void) state;
    assert_non_null(d);
    memset(key, 'K', DICT_KEY_MAX + 1);
    key[DICT_KEY_MAX + 1] = 0;
    strbuf_puts(value, "stale");
    assert_int_equal(dict_get(d, key, value), DICT_NOTFOUND);
    assert_string_equal(value->data, "");               /* value is reset */
    key[DICT_KEY_MAX] = 0;
    assert_int_equal(dict_get(d, key, value), DICT_FOUND);
    assert_string_equal(value->data, "yes");
    dict_close(d);
    mem_free(key);
    strbuf_free(err);
    strbuf_free(value);
}

/* ------------------------------------------------------------ surrogate */

static void test_surrogate(void **state)
{
    char   *path = str_concat(tmpdir, "/no-such-file", (char *) NULL);
    char   *spec = str_concat("texthash:", path, (char *) NULL);
    char   *why = str_concat(path, ": cannot open: No such file or directory",
                             (char *) NULL);
    strbuf *value = strbuf_new(8);
    strbuf *key = strbuf_new(8);
    dict   *d;

    (void) state;
    testlib_log_reset();
    d = dict_open_or_fail(spec, 0);
    assert_non_null(d);
    assert_true(testlib_log_has("warning: "));
    assert_true(testlib_log_has(why));
    assert_true(testlib_log_has("lookups in texthash:"));
    assert_true(testlib_log_has("will be deferred"));
    assert_string_equal(d->type, "texthash");
    assert_string_equal(d->spec, spec);
    assert_int_equal(dict_get(d, "anything", value), DICT_RETRY);
    assert_string_equal(dict_error(d), why);
    assert_int_equal(dict_iterate(d, 1, key, value), DICT_RETRY);
    assert_int_equal(dict_changed(d), 1);
    assert_int_equal(dict_put(d, "a", "b"), -1);
    assert_null(dict_close(d));

    /* An unknown type gets a surrogate too, with the registry's reason. */
    testlib_log_reset();
    d = dict_open_or_fail("nosuchtype:foo", 0);
    assert_true(testlib_log_has("unsupported dictionary type: nosuchtype"));
    assert_string_equal(d->spec, "nosuchtype:foo");
    assert_int_equal(dict_get(d, "x", value), DICT_RETRY);
    assert_string_equal(dict_error(d), "unsupported dictionary type: nosuchtype");
    dict_close(d);

    /* And a spec without a type. */
    d = dict_open_or_fail("garbage", 0);
    assert_int_equal(dict_get(d, "x", value), DICT_RETRY);
    assert_string_equal(d->spec, "garbage");
    dict_close(d);

    /* A table that opens is not a surrogate and logs nothing. */
    testlib_log_reset();
    d = dict_open_or_fail("static:ok", 0);
    assert_int_equal(dict_get(d, "x", value), DICT_FOUND);
    assert_int_equal(dict_changed(d), 0);
    assert_string_equal(testlib_log(), "");
    dict_close(d);

    mem_free(path);
    mem_free(spec);
    mem_free(why);
    strbuf_free(value);
    strbuf_free(key);
}

/* ------------------------------------------------------------ cache */

static void test_cache_refcount(void **state)
{
    dict   *a;
    dict   *b;
    dict   *c;
    dict   *p;
    strbuf *value = strbuf_new(8);

    (void) state;
    dict_cache_flush();
    a = dict_cache_open("inline:{k=v}", 0);
    b = dict_cache_open("inline:{k=v}", 0);
    assert_ptr_equal(a, b);
    assert_int_equal(a->refcount, 3);                   /* two users + the cache */
    assert_string_equal(a->spec, "inline:{k=v}");

    c = dict_cache_open("inline:{k=v}", DICT_F_FOLD);   /* other flags */
    assert_ptr_not_equal(a, c);
    assert_int_equal(c->refcount, 2);
    assert_int_equal(dict_get(c, "K", value), DICT_FOUND);
    assert_int_equal(dict_get(a, "K", value), DICT_NOTFOUND);

    p = dict_cache_open("inline:{k=v}", DICT_F_NO_CACHE);      /* private */
    assert_ptr_not_equal(p, a);
    assert_int_equal(p->refcount, 1);
    assert_int_equal(a->refcount, 3);
    assert_null(dict_close(p));
    assert_int_equal(a->refcount, 3);                   /* cache entry untouched */

    assert_null(dict_close(b));
    assert_int_equal(a->refcount, 2);
    dict_close(a);
    assert_int_equal(a->refcount, 1);                   /* only the cache holds it */
    assert_int_equal(dict_get(a, "k", value), DICT_FOUND);

    /* Reopening after the users left returns the cached handle. */
    b = dict_cache_open("inline:{k=v}", 0);
    assert_ptr_equal(a, b);
    assert_int_equal(b->refcount, 2);
    dict_close(b);

    /* Flush closes unused entries only: c is still held. */
    dict_cache_flush();
    assert_int_equal(c->refcount, 2);
    assert_int_equal(dict_get(c, "k", value), DICT_FOUND);
    b = dict_cache_open("inline:{k=v}", DICT_F_FOLD);
    assert_ptr_equal(b, c);
    assert_int_equal(c->refcount, 3);
    dict_close(b);
    dict_close(c);
    dict_cache_flush();

    /* After a flush a new handle is made (its refcount starts over). */
    a = dict_cache_open("inline:{k=v}", DICT_F_FOLD);
    assert_int_equal(a->refcount, 2);
    dict_close(a);
    dict_cache_flush();
    strbuf_free(value);
}

/* set_mtime: move a file's modification time by delta seconds. */
static void set_mtime(const char *path, long delta)
{
    struct stat st;
    struct timeval tv[2];

    assert_int_equal(stat(path, &st), 0);
    tv[0].tv_sec = st.st_atime;
    tv[0].tv_usec = 0;
    tv[1].tv_sec = st.st_mtime + delta;
    tv[1].tv_usec = 0;
    assert_int_equal(utimes(path, tv), 0);
}

static void test_cache_changed(void **state)
{
    char   *path = write_file("changed", "a 1\n");
    char   *spec = str_concat("texthash:", path, (char *) NULL);
    char   *tmp;
    strbuf *value = strbuf_new(8);
    dict   *d;

    (void) state;
    dict_cache_flush();
    assert_int_equal(dict_cache_changed(), 0);          /* empty cache */
    d = dict_cache_open(spec, 0);
    assert_int_equal(dict_get(d, "a", value), DICT_FOUND);
    assert_int_equal(dict_cache_changed(), 0);
    assert_int_equal(dict_changed(d), 0);

    /* Rewritten the way editors and postmap do: a new file renamed in. */
    tmp = write_file("changed.new", "a 2\n");
    assert_int_equal(rename(tmp, path), 0);
    assert_int_equal(dict_changed(d), 1);
    assert_int_equal(dict_cache_changed(), 1);
    dict_close(d);
    dict_cache_flush();
    assert_int_equal(dict_cache_changed(), 0);

    /* Modified in place (same inode, new mtime). */
    d = dict_cache_open(spec, 0);
    assert_int_equal(dict_get(d, "a", value), DICT_FOUND);
    assert_string_equal(value->data, "2");
    assert_int_equal(dict_cache_changed(), 0);
    set_mtime(path, 10);
    assert_int_equal(dict_cache_changed(), 1);
    dict_close(d);
    dict_cache_flush();

    /* Removed. */
    d = dict_cache_open(spec, 0);
    assert_int_equal(dict_cache_changed(), 0);
    assert_int_equal(unlink(path), 0);
    assert_int_equal(dict_cache_changed(), 1);
    dict_close(d);
    dict_cache_flush();

    /* A surrogate in the cache always asks for a fresh process. */
    testlib_log_reset();
    d = dict_cache_open(spec, 0);
    assert_true(testlib_log_has("will be deferred"));
    assert_int_equal(dict_get(d, "a", value), DICT_RETRY);
    assert_int_equal(dict_cache_changed(), 1);
    dict_close(d);
    dict_cache_flush();
    assert_int_equal(dict_cache_changed(), 0);

    mem_free(tmp);
    mem_free(path);
    mem_free(spec);
    strbuf_free(value);
}

/* Flush closes many unused tables at once (the key list stays valid). */
static void test_cache_flush_many(void **state)
{
    char    spec[64];
    dict   *held;
    int     i;

    (void) state;
    dict_cache_flush();
    for (i = 0; i < 50; i++) {
        (void) str_format(spec, sizeof(spec), "inline:{k%d=v}", i);
        dict_close(dict_cache_open(spec, 0));
    }
    held = dict_cache_open("inline:{k7=v}", 0);
    assert_int_equal(held->refcount, 2);
    dict_cache_flush();
    assert_int_equal(held->refcount, 2);
    assert_ptr_equal(dict_cache_open("inline:{k7=v}", 0), held);
    dict_close(held);
    dict_close(held);
    dict_cache_flush();
}

/* ------------------------------------------------------------ read-only types */

static void test_write_refusal(void **state)
{
    char   *path = write_file("ro", "a 1\n");
    char   *repath = write_file("ro.re", "/a/ b\n");
    char   *specs[5];
    const char *types[5] = {"texthash", "regexp", "inline", "static", "unix"};
    strbuf *err = strbuf_new(8);
    strbuf *want = strbuf_new(8);
    size_t  i;
    int     f;
    dict   *d;

    (void) state;
    specs[0] = str_concat("texthash:", path, (char *) NULL);
    specs[1] = str_concat("regexp:", repath, (char *) NULL);
    specs[2] = mem_strdup("inline:{a=b}");
    specs[3] = mem_strdup("static:x");
    specs[4] = mem_strdup("unix:passwd.byname");
    for (i = 0; i < 5; i++) {
        for (f = 0; f < 2; f++) {
            strbuf_reset(err);
            d = dict_open(specs[i], f ? DICT_F_UPDATE : DICT_F_CREATE, err);
            assert_null(d);
            strbuf_setf(want, "%s: tables of type %s cannot be written", specs[i], types[i]);
            assert_string_equal(err->data, want->data);
        }
        /* Opened for reading, writes are refused with an error. */
        d = dict_open(specs[i], 0, err);
        assert_non_null(d);
        assert_false(d->props & DICT_P_WRITABLE);
        assert_int_equal(dict_put(d, "a", "b"), -1);
        assert_true(strstr(dict_error(d), "not open for writing") != NULL);
        assert_int_equal(dict_del(d, "a"), DICT_RETRY);
        assert_int_equal(dict_commit(d), -1);
        dict_close(d);
        mem_free(specs[i]);
    }
    unlink(path);
    unlink(repath);
    mem_free(path);
    mem_free(repath);
    strbuf_free(err);
    strbuf_free(want);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_split_spec),
        cmocka_unit_test(test_registry),
        cmocka_unit_test(test_open_errors),
        cmocka_unit_test(test_fold),
        cmocka_unit_test(test_write_wrappers),
        cmocka_unit_test(test_long_keys),
        cmocka_unit_test(test_surrogate),
        cmocka_unit_test(test_cache_refcount),
        cmocka_unit_test(test_cache_changed),
        cmocka_unit_test(test_cache_flush_many),
        cmocka_unit_test(test_write_refusal),
    };
    int     rc;

    testlib_setup();
    if (mkdtemp(tmpdir) == NULL)
        return 1;
    rc = cmocka_run_group_tests(tests, NULL, NULL);
    (void) rmdir(tmpdir);
    return rc;
}
