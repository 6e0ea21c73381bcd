/*
 * Unit tests for the simple lookup-table types: fail: (dict_fail.c),
 * static: (dict_static.c), inline: (dict_inline.c), texthash:
 * (dict_texthash.c) and unix: (dict_unix.c). regexp: has its own file.
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
#include "mem.h"
#include "strbuf.h"
#include "strutil.h"
#include "testlib.h"

static char tmpdir[] = "/tmp/test_dict_types.XXXXXX";

/* write_file: (re)create dir/name with text; returns the path. */
static char *write_file(const char *name, const char *text, size_t len)
{
    char   *path = str_concat(tmpdir, "/", name, (char *) NULL);
    FILE   *fp = fopen(path, "w");

    assert_non_null(fp);
    assert_int_equal(fwrite(text, 1, len, fp), len);
    assert_int_equal(fclose(fp), 0);
    return path;
}

/* listing: every entry as "key=value;" in iteration order, or "RETRY". */
static void listing(dict *d, strbuf *out)
{
    strbuf *key = strbuf_new(8);
    strbuf *value = strbuf_new(8);
    int     rc;
    int     first = 1;

    strbuf_reset(out);
    while ((rc = dict_iterate(d, first, key, value)) == DICT_FOUND) {
        strbuf_printf(out, "%s=%s;", key->data, value->data);
        first = 0;
    }
    if (rc == DICT_RETRY)
        strbuf_puts(out, "RETRY");
    strbuf_free(key);
    strbuf_free(value);
}

/* ------------------------------------------------------------ fail */

static void test_fail(void **state)
{
    strbuf *err = strbuf_new(8);
    strbuf *value = strbuf_new(8);
    strbuf *key = strbuf_new(8);
    dict   *d = dict_open("fail:maintenance", 0, err);

    (void) state;
    assert_non_null(d);
    assert_int_equal(dict_get(d, "anything", value), DICT_RETRY);
    assert_string_equal(dict_error(d), "fail:maintenance: table lookup failed as configured");
    assert_int_equal(dict_get(d, "", value), DICT_RETRY);
    strbuf_reset(d->error);
    assert_int_equal(dict_iterate(d, 1, key, value), DICT_RETRY);
    assert_string_equal(dict_error(d), "fail:maintenance: table lookup failed as configured");
    assert_int_equal(dict_changed(d), 0);
    dict_close(d);

    assert_null(dict_open("fail:x", DICT_F_CREATE, err));
    strbuf_free(err);
    strbuf_free(value);
    strbuf_free(key);
}

/* ------------------------------------------------------------ static */

struct static_case {
    const char *spec;
    const char *value;                  /* NULL: open fails with error */
    const char *error;
};

static const struct static_case static_cases[] = {
    {"static:OK", "OK", NULL},
    {"static:", "", NULL},
    {"static:a,b", "a,b", NULL},
    {"static:{ text with  spaces, and commas }", "text with  spaces, and commas", NULL},
    {"static:{}", "", NULL},
    {"static:{ {nested} }", "{nested}", NULL},
    {"static:a}b", "a}b", NULL},
    {"static:{unterminated", NULL,
     "static:{unterminated: expected {text} with the matching '}' at the end"},
    {"static:{a}b", NULL, "static:{a}b: expected {text} with the matching '}' at the end"},
    {"static:{a}}", NULL, "static:{a}}: expected {text} with the matching '}' at the end"},
    {"static:{{a}", NULL, "static:{{a}: expected {text} with the matching '}' at the end"},
};

static void test_static(void **state)
{
    strbuf *err = strbuf_new(8);
    strbuf *value = strbuf_new(8);
    strbuf *out = strbuf_new(8);
    size_t  i;
    dict   *d;

    (void) state;
    for (i = 0; i < sizeof(static_cases) / sizeof(static_cases[0]); i++) {
        const struct static_case *c = &static_cases[i];

        strbuf_reset(err);
        d = dict_open(c->spec, 0, err);
        if (c->value == NULL) {
            assert_null(d);
            assert_string_equal(err->data, c->error);
            continue;
        }
        if (d == NULL)
            fail_msg("%s: %s", c->spec, err->data);
        assert_int_equal(dict_get(d, "any key", value), DICT_FOUND);
        assert_string_equal(value->data, c->value);
        assert_int_equal(dict_get(d, "", value), DICT_FOUND);
        assert_string_equal(value->data, c->value);
        listing(d, out);
        assert_string_equal(out->data, "RETRY");        /* cannot be listed */
        assert_non_null(strstr(dict_error(d), ": table cannot be listed"));
        dict_close(d);
    }
    strbuf_free(err);
    strbuf_free(value);
    strbuf_free(out);
}

/* ------------------------------------------------------------ inline */

struct inline_case {
    const char *spec;
    int     flags;
    const char *listing;                /* NULL: open fails */
    const char *error;                  /* or the warning expected */
};

static const struct inline_case inline_cases[] = {
    {"inline:{a=1}", 0, "a=1;", NULL},
    {"inline:{a=1, b=2 c=3,,d=4}", 0, "a=1;b=2;c=3;d=4;", NULL},
    {"inline:{ a=1 ,\tb=2 }", 0, "a=1;b=2;", NULL},
    {"inline:{ { key = value with spaces }, {k2=v,2} }", 0,
     "key=value with spaces;k2=v,2;", NULL},
    {"inline:{{a = }}", 0, "a=;", NULL},
    {"inline:{a=}", 0, "a=;", NULL},
    {"inline:{a==b}", 0, "a==b;", NULL},
    {"inline:{a=b=c}", 0, "a=b=c;", NULL},
    {"inline:{{ a b = c d }}", 0, "a b=c d;", NULL},
    {"inline:{{a = {x y} }}", 0, "a={x y};", NULL},
    {"inline:{Foo=Bar, BAZ=1}", DICT_F_FOLD, "foo=Bar;baz=1;", NULL},
    {"inline:{a=1, a=2}", 0, "a=1;", "warning: inline:{a=1, a=2}: duplicate key \"a\""},
    {"inline:{A=1, a=2}", DICT_F_FOLD, "a=1;", "duplicate key \"a\""},
    {"inline:{A=1, a=2}", 0, "A=1;a=2;", NULL},
    {"inline:a=b", 0, NULL, "inline:a=b: expected {key=value, ...}"},
    {"inline:{a=b", 0, NULL, "inline:{a=b: expected {key=value, ...}"},
    {"inline:", 0, NULL, "inline:: expected {key=value, ...}"},
    {"inline:{", 0, NULL, "inline:{: expected {key=value, ...}"},
    {"inline:{foo}", 0, NULL, "inline:{foo}: missing '=' in \"foo\""},
    {"inline:{a=1, foo bar=2}", 0, NULL, "inline:{a=1, foo bar=2}: missing '=' in \"foo\""},
    {"inline:{{ foo }}", 0, NULL, "inline:{{ foo }}: missing '=' in \" foo \""},
    {"inline:{a=b, {c=d}", 0, NULL, "inline:{a=b, {c=d}: missing '}'"},
    {"inline:{a=b}}", 0, NULL,
     "inline:{a=b}}: unexpected '}' in \"a=b}\" (enclose the whole entry in braces:"
     " { key = value })"},
    {"inline:{a={b c}}", 0, NULL, "inline:{a={b c}}: unexpected '{' in \"a={b\""},
    {"inline:{=b}", 0, NULL, "inline:{=b}: empty key in \"=b\""},
    {"inline:{{ = b }}", 0, NULL, "inline:{{ = b }}: empty key in \" = b \""},
    {"inline:{}", 0, NULL, "inline:{}: empty table"},
    {"inline:{ , ,}", 0, NULL, "inline:{ , ,}: empty table"},
    {"inline:{{a=b}c=d}", 0, NULL, "inline:{{a=b}c=d}: missing ',' or white space after"
     " \"{a=b}\""},
};

static void test_inline(void **state)
{
    strbuf *err = strbuf_new(8);
    strbuf *out = strbuf_new(8);
    size_t  i;
    dict   *d;

    (void) state;
    for (i = 0; i < sizeof(inline_cases) / sizeof(inline_cases[0]); i++) {
        const struct inline_case *c = &inline_cases[i];

        strbuf_reset(err);
        testlib_log_reset();
        d = dict_open(c->spec, c->flags, err);
        if (c->listing == NULL) {
            if (d != NULL)
                fail_msg("%s: opened, expected \"%s\"", c->spec, c->error);
            if (strncmp(err->data, c->error, strlen(c->error)) != 0)
                fail_msg("%s: got \"%s\", want \"%s\"", c->spec, err->data, c->error);
            continue;
        }
        if (d == NULL)
            fail_msg("%s: %s", c->spec, err->data);
        listing(d, out);
        if (strcmp(out->data, c->listing) != 0)
            fail_msg("%s: got \"%s\", want \"%s\"", c->spec, out->data, c->listing);
        if (c->error != NULL && !testlib_log_has(c->error))
            fail_msg("%s: log \"%s\" lacks \"%s\"", c->spec, testlib_log(), c->error);
        if (c->error == NULL && *testlib_log() != 0)
            fail_msg("%s: unexpected log \"%s\"", c->spec, testlib_log());
        dict_close(d);
    }
    strbuf_free(err);
    strbuf_free(out);
}

static void test_inline_lookup(void **state)
{
    strbuf *err = strbuf_new(8);
    strbuf *value = strbuf_new(8);
    strbuf *key = strbuf_new(8);
    dict   *d = dict_open("inline:{ {user@Example.com = OK, welcome}, x=1 }",
                          DICT_F_FOLD, err);

    (void) state;
    assert_non_null(d);
    assert_true(d->props & DICT_P_FIXED);
    assert_int_equal(dict_get(d, "USER@EXAMPLE.COM", value), DICT_FOUND);
    assert_string_equal(value->data, "OK, welcome");
    assert_int_equal(dict_get(d, "x", value), DICT_FOUND);
    assert_string_equal(value->data, "1");
    assert_int_equal(dict_get(d, "y", value), DICT_NOTFOUND);
    assert_string_equal(value->data, "");
    assert_int_equal(dict_get(d, "", value), DICT_NOTFOUND);

    /* Iteration restarts with first=1 and ends with NOTFOUND, repeatedly. */
    assert_int_equal(dict_iterate(d, 1, key, value), DICT_FOUND);
    assert_string_equal(key->data, "user@example.com");
    assert_int_equal(dict_iterate(d, 0, key, value), DICT_FOUND);
    assert_string_equal(key->data, "x");
    assert_int_equal(dict_iterate(d, 0, key, value), DICT_NOTFOUND);
    assert_int_equal(dict_iterate(d, 0, key, value), DICT_NOTFOUND);
    assert_int_equal(dict_iterate(d, 1, key, value), DICT_FOUND);
    assert_string_equal(key->data, "user@example.com");
    assert_int_equal(dict_changed(d), 0);
    dict_close(d);
    strbuf_free(err);
    strbuf_free(value);
    strbuf_free(key);
}

/* ------------------------------------------------------------ texthash */

static void test_texthash(void **state)
{
    static const char text[] =
        "# virtual aliases\n"
        "info@example.com   joe, jane\n"
        "Sales@Example.com\tbob\n"
        "   bill\n"
        "info@example.com   duplicate\n"
        "\n"
        "last x";
    char   *path = write_file("th", text, sizeof(text) - 1);
    char   *spec = str_concat("texthash:", path, (char *) NULL);
    strbuf *err = strbuf_new(8);
    strbuf *value = strbuf_new(8);
    strbuf *out = strbuf_new(8);
    strbuf *want = strbuf_new(8);
    dict   *d;

    (void) state;
    testlib_log_reset();
    d = dict_open(spec, 0, err);
    assert_non_null(d);
    strbuf_setf(want, "warning: %s, line 5: duplicate entry: \"info@example.com\"", path);
    assert_true(testlib_log_has(want->data));
    assert_true(d->props & DICT_P_FIXED);
    assert_true(d->props & DICT_P_FILE);
    assert_false(d->props & DICT_P_WRITABLE);
    assert_int_equal(dict_get(d, "info@example.com", value), DICT_FOUND);
    assert_string_equal(value->data, "joe, jane");      /* the first one wins */
    assert_int_equal(dict_get(d, "Sales@Example.com", value), DICT_FOUND);
    assert_string_equal(value->data, "bob bill");
    assert_int_equal(dict_get(d, "sales@example.com", value), DICT_NOTFOUND);
    listing(d, out);
    assert_string_equal(out->data,
                        "info@example.com=joe, jane;Sales@Example.com=bob bill;last=x;");
    dict_close(d);

    /* Folded; DUP_IGNORE silences the duplicate warning. */
    testlib_log_reset();
    d = dict_open(spec, DICT_F_FOLD | DICT_F_DUP_IGNORE, err);
    assert_non_null(d);
    assert_string_equal(testlib_log(), "");
    assert_int_equal(dict_get(d, "SALES@example.com", value), DICT_FOUND);
    assert_string_equal(value->data, "bob bill");
    listing(d, out);
    assert_string_equal(out->data,
                        "info@example.com=joe, jane;sales@example.com=bob bill;last=x;");
    dict_close(d);

    unlink(path);
    mem_free(path);
    mem_free(spec);
    strbuf_free(err);
    strbuf_free(value);
    strbuf_free(out);
    strbuf_free(want);
}

struct th_error_case {
    const char *text;
    size_t  len;
    const char *error;                  /* after "PATH" */
};

#define BIN(s)  s, sizeof(s) - 1

static const struct th_error_case th_error_cases[] = {
    {BIN("a 1\nb\nc 3\n"), ", line 2: expected format: key whitespace value"},
    {BIN("  a 1\n"), ", line 1: continuation line (it starts with white space) before"
     " the first entry"},
    {BIN("a 1\nb \0 2\n"), ", line 2: line contains a NUL byte"},
};

static void test_texthash_errors(void **state)
{
    strbuf *err = strbuf_new(8);
    strbuf *value = strbuf_new(8);
    strbuf *want = strbuf_new(8);
    char   *path;
    char   *spec;
    size_t  i;
    dict   *d;

    (void) state;
    for (i = 0; i < sizeof(th_error_cases) / sizeof(th_error_cases[0]); i++) {
        path = write_file("bad", th_error_cases[i].text, th_error_cases[i].len);
        spec = str_concat("texthash:", path, (char *) NULL);
        assert_null(dict_open(spec, 0, err));
        strbuf_setf(want, "%s%s", path, th_error_cases[i].error);
        assert_string_equal(err->data, want->data);

        /* The whole table is refused: lookups of good keys defer too. */
        testlib_log_reset();
        d = dict_open_or_fail(spec, 0);
        assert_true(testlib_log_has(want->data));
        assert_int_equal(dict_get(d, "a", value), DICT_RETRY);
        assert_string_equal(dict_error(d), want->data);
        dict_close(d);
        unlink(path);
        mem_free(path);
        mem_free(spec);
    }

    /* Missing file, directory. */
    path = str_concat(tmpdir, "/missing", (char *) NULL);
    spec = str_concat("texthash:", path, (char *) NULL);
    assert_null(dict_open(spec, 0, err));
    strbuf_setf(want, "%s: cannot open: No such file or directory", path);
    assert_string_equal(err->data, want->data);
    mem_free(path);
    mem_free(spec);
    spec = str_concat("texthash:", tmpdir, (char *) NULL);
    assert_null(dict_open(spec, 0, err));
    strbuf_setf(want, "%s: not a regular file", tmpdir);
    assert_string_equal(err->data, want->data);
    mem_free(spec);

    strbuf_free(err);
    strbuf_free(value);
    strbuf_free(want);
}

static void test_texthash_changed(void **state)
{
    char   *path = write_file("ch", "a 1\n", 4);
    char   *spec = str_concat("texthash:", path, (char *) NULL);
    char   *tmp;
    strbuf *err = strbuf_new(8);
    struct stat st;
    struct timeval tv[2];
    dict   *d;

    (void) state;
    d = dict_open(spec, 0, err);
    assert_non_null(d);
    assert_int_equal(dict_changed(d), 0);
    assert_int_equal(dict_changed(d), 0);
    tmp = write_file("ch.new", "a 2\n", 4);
    assert_int_equal(rename(tmp, path), 0);
    assert_int_equal(dict_changed(d), 1);
    dict_close(d);

    d = dict_open(spec, 0, err);
    assert_int_equal(dict_changed(d), 0);
    assert_int_equal(stat(path, &st), 0);
    tv[0].tv_sec = tv[1].tv_sec = st.st_mtime - 100;
    tv[0].tv_usec = tv[1].tv_usec = 0;
    assert_int_equal(utimes(path, tv), 0);               /* touched in place */
    assert_int_equal(dict_changed(d), 1);
    dict_close(d);

    d = dict_open(spec, 0, err);
    unlink(path);
    assert_int_equal(dict_changed(d), 1);                 /* removed */
    dict_close(d);

    mem_free(tmp);
    mem_free(path);
    mem_free(spec);
    strbuf_free(err);
}

/* ------------------------------------------------------------ unix */

/* count_char: occurrences of c in s. */
static int count_char(const char *s, char c)
{
    int     n = 0;

    for (; *s; s++)
        n += *s == c;
    return n;
}

static void test_unix(void **state)
{
    strbuf *err = strbuf_new(8);
    strbuf *value = strbuf_new(8);
    strbuf *key = strbuf_new(8);
    dict   *d;

    (void) state;
    d = dict_open("unix:passwd.byname", 0, err);
    assert_non_null(d);
    assert_true(d->props & DICT_P_FIXED);
    assert_int_equal(dict_get(d, "root", value), DICT_FOUND);
    assert_true(str_has_prefix(value->data, "root:x:0:0:"));
    assert_int_equal(count_char(value->data, ':'), 6);
    assert_int_equal(dict_get(d, "no-such-user.postern-test-xq7", value), DICT_NOTFOUND);
    assert_string_equal(value->data, "");
    assert_int_equal(dict_get(d, "", value), DICT_NOTFOUND);
    assert_int_equal(dict_iterate(d, 1, key, value), DICT_RETRY);
    assert_string_equal(dict_error(d), "unix:passwd.byname: table cannot be listed");
    dict_close(d);

    d = dict_open("unix:group.byname", 0, err);
    assert_non_null(d);
    assert_int_equal(dict_get(d, "root", value), DICT_FOUND);
    assert_true(str_has_prefix(value->data, "root:x:0:"));
    assert_int_equal(count_char(value->data, ':'), 3);
    assert_int_equal(dict_get(d, "no-such-group.postern-test-xq7", value), DICT_NOTFOUND);
    dict_close(d);

    assert_null(dict_open("unix:passwd.byuid", 0, err));
    assert_string_equal(err->data, "unix:passwd.byuid: unknown table; use"
                        " unix:passwd.byname or unix:group.byname");
    assert_null(dict_open("unix:", 0, err));
    strbuf_free(err);
    strbuf_free(value);
    strbuf_free(key);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fail),
        cmocka_unit_test(test_static),
        cmocka_unit_test(test_inline),
        cmocka_unit_test(test_inline_lookup),
        cmocka_unit_test(test_texthash),
        cmocka_unit_test(test_texthash_errors),
        cmocka_unit_test(test_texthash_changed),
        cmocka_unit_test(test_unix),
    };
    int     rc;

    testlib_setup();
    if (mkdtemp(tmpdir) == NULL)
        return 1;
    rc = cmocka_run_group_tests(tests, NULL, NULL);
    (void) rmdir(tmpdir);
    return rc;
}
