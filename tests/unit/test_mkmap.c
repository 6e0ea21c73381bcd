/*
 * Unit tests for lib/mail/mkmap.c: table names on command lines, JSON
 * strings, and the build / update / query / list / delete operations
 * behind postmap and postalias (tables in a temporary directory).
 */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "mem.h"
#include "mkmap.h"
#include "strbuf.h"
#include "strutil.h"
#include "testlib.h"

static char tmpdir[] = "/tmp/test_mkmap.XXXXXX";

/* tmp_path: "TMPDIR/name" (a new string). */
static char *tmp_path(const char *name)
{
    return str_concat(tmpdir, "/", name, (char *) NULL);
}

/* write_tmp: write a file in the temporary directory; returns its path. */
static char *write_tmp(const char *name, const char *text)
{
    char   *path = tmp_path(name);
    int     fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t) strlen(text));
    close(fd);
    return path;
}

/* Output capture: a memory stream per call. */
struct capture {
    char   *text;
    size_t  len;
    FILE   *fp;
};

/* cap_open: start capturing. */
static FILE *cap_open(struct capture *c)
{
    c->text = NULL;
    c->len = 0;
    c->fp = open_memstream(&c->text, &c->len);
    assert_non_null(c->fp);
    return c->fp;
}

/* cap_close: stop capturing; the text stays in c->text (free it). */
static const char *cap_close(struct capture *c)
{
    fclose(c->fp);
    return c->text;
}

static void test_spec(void **state)
{
    static const struct {
        const char *arg;
        int     rc;
        const char *type;
        const char *name;
    } cases[] = {
        {"hash:/etc/x", 0, "hash", "/etc/x"},
        {"/etc/x", 0, "DEF", "/etc/x"},
        {"relative", 0, "DEF", "relative"},
        {"./a:b", 0, "DEF", "./a:b"},
        {"dir/a:b", 0, "DEF", "dir/a:b"},
        {"lmdb:rel", 0, "lmdb", "rel"},
        {":x", 0, "DEF", ":x"},
        {"inline:{a=b, c=d}", 0, "inline", "{a=b, c=d}"},
        {"hash:", -1, "hash", ""},
        {"", -1, "DEF", ""},
    };
    mkmap_opts opts = {MKMAP_FORMAT_POSTMAP, 0, "DEF"};
    strbuf *spec = strbuf_new(16), *type = strbuf_new(16), *name = strbuf_new(16);
    size_t  i;

    (void) state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int     rc = mkmap_spec(&opts, cases[i].arg, spec, type, name);

        if (rc != cases[i].rc || strcmp(type->data, cases[i].type) != 0
            || strcmp(name->data, cases[i].name) != 0)
            fail_msg("\"%s\": got %d %s|%s", cases[i].arg, rc, type->data, name->data);
        if (rc == 0) {
            char   *expect = str_concat(cases[i].type, ":", cases[i].name, (char *) NULL);

            assert_string_equal(spec->data, expect);
            mem_free(expect);
        }
    }
    assert_string_equal(mkmap_file_suffix("hash"), ".db");
    assert_string_equal(mkmap_file_suffix("btree"), ".db");
    assert_string_equal(mkmap_file_suffix("lmdb"), ".lmdb");
    assert_string_equal(mkmap_file_suffix("cdb"), ".cdb");
    assert_null(mkmap_file_suffix("texthash"));
    assert_true(mkmap_writable_type("cdb"));
    assert_false(mkmap_writable_type("inline"));
    assert_false(mkmap_writable_type("Hash"));
    strbuf_free(spec);
    strbuf_free(type);
    strbuf_free(name);
}

static void test_build_query_dump_delete(void **state)
{
    mkmap_opts opts = {MKMAP_FORMAT_POSTMAP, 0, "hash"};
    char   *src = write_tmp("map", "Foo bar\nbaz qux,\n  quux\nfoo dup\n");
    char   *args[2];
    struct capture c;

    (void) state;
    args[0] = src;
    testlib_log_reset();
    assert_int_equal(mkmap_build(&opts, src), 0);
    assert_true(testlib_log_has("map, line 4: duplicate entry: \"foo\""));

    assert_int_equal(mkmap_query(&opts, args, 1, "FOO", cap_open(&c)), MKMAP_FOUND);
    assert_string_equal(cap_close(&c), "bar\n");
    free(c.text);
    assert_int_equal(mkmap_query(&opts, args, 1, "nope", cap_open(&c)), MKMAP_NOTFOUND);
    assert_string_equal(cap_close(&c), "");
    free(c.text);

    assert_int_equal(mkmap_dump(&opts, src, cap_open(&c)), 0);
    cap_close(&c);
    assert_non_null(strstr(c.text, "foo\tbar\n"));
    assert_non_null(strstr(c.text, "baz\tqux, quux\n"));
    assert_int_equal(strlen(c.text), strlen("foo\tbar\nbaz\tqux, quux\n"));
    free(c.text);

    opts.flags = MKMAP_F_JSON;
    assert_int_equal(mkmap_query_lines(&opts, args, 1, "x\nbaz whatever\n\n", 16,
                                       cap_open(&c)), MKMAP_FOUND);
    assert_string_equal(cap_close(&c), "{\"key\":\"baz\",\"value\":\"qux, quux\"}\n");
    free(c.text);
    opts.flags = 0;

    assert_int_equal(mkmap_delete(&opts, args, 1, "Foo"), MKMAP_FOUND);
    assert_int_equal(mkmap_delete(&opts, args, 1, "foo"), MKMAP_NOTFOUND);
    assert_int_equal(mkmap_delete_lines(&opts, args, 1, "a\nbaz\n", 6), MKMAP_FOUND);
    assert_int_equal(mkmap_dump(&opts, src, cap_open(&c)), 0);
    assert_string_equal(cap_close(&c), "");
    free(c.text);

    /* A table that is not there: an error, not "not found". */
    args[0] = "hash:/nonexistent/postern-test";
    testlib_log_reset();
    assert_int_equal(mkmap_query(&opts, args, 1, "foo", stdout), MKMAP_ERROR);
    assert_true(testlib_log_has("/nonexistent/postern-test.db"));
    assert_int_equal(mkmap_delete(&opts, args, 1, "foo"), MKMAP_ERROR);
    mem_free(src);
}

static void test_update_checks_first(void **state)
{
    mkmap_opts opts = {MKMAP_FORMAT_POSTMAP, 0, "lmdb"};
    char   *src = write_tmp("upd", "a 1\n");
    char   *args[1];
    struct capture c;
    const char *bad = "b 2\nbroken\n";
    const char *good = "b 2\nA again\n";

    (void) state;
    args[0] = src;
    assert_int_equal(mkmap_build(&opts, src), 0);
    testlib_log_reset();
    assert_int_equal(mkmap_update(&opts, src, bad, strlen(bad), "input"), -1);
    assert_true(testlib_log_has("input, line 2: expected format: key whitespace value"));
    assert_int_equal(mkmap_query(&opts, args, 1, "b", stdout), MKMAP_NOTFOUND);

    testlib_log_reset();
    assert_int_equal(mkmap_update(&opts, src, good, strlen(good), "input"), 0);
    assert_true(testlib_log_has("input, line 2: duplicate entry: \"A\""));
    assert_int_equal(mkmap_query(&opts, args, 1, "b", cap_open(&c)), MKMAP_FOUND);
    assert_string_equal(cap_close(&c), "2\n");
    free(c.text);
    assert_int_equal(mkmap_query(&opts, args, 1, "a", cap_open(&c)), MKMAP_FOUND);
    assert_string_equal(cap_close(&c), "1\n");
    free(c.text);
    mem_free(src);
}

static void test_aliases_format(void **state)
{
    mkmap_opts opts = {MKMAP_FORMAT_ALIASES, MKMAP_F_NO_FOLD, "cdb"};
    char   *src = write_tmp("aliases", "Root: Admin\n\"a b\": \"|cmd\"\nx: y\nbroken\n");
    char   *spec = str_concat("hash:", src, (char *) NULL);
    char   *args[1];
    struct capture c;

    (void) state;
    args[0] = spec;
    testlib_log_reset();
    assert_int_equal(mkmap_build(&opts, spec), -1);
    assert_true(testlib_log_has("aliases, line 4: missing ':' after the alias name"));
    assert_int_equal(mkmap_query(&opts, args, 1, "root", stdout), MKMAP_ERROR);

    mem_free(write_tmp("aliases", "Root: Admin\n\"a b\": \"|cmd\"\nx: y\n"));
    assert_int_equal(mkmap_build(&opts, spec), 0);
    /* Alias names are folded even with MKMAP_F_NO_FOLD; so are queries. */
    assert_int_equal(mkmap_query(&opts, args, 1, "ROOT", cap_open(&c)), MKMAP_FOUND);
    assert_string_equal(cap_close(&c), "Admin\n");
    free(c.text);
    /* Whole lines are names; output is in aliases(5) form. */
    assert_int_equal(mkmap_query_lines(&opts, args, 1, " a b \nx\n", 8, cap_open(&c)),
                     MKMAP_FOUND);
    assert_string_equal(cap_close(&c), "\"a b\": \"|cmd\"\nx: y\n");
    free(c.text);
    mem_free(spec);
    mem_free(src);
}

static void test_read_fd(void **state)
{
    strbuf *buf = strbuf_new(16);
    strbuf *err = strbuf_new(16);
    char   *path = tmp_path("big");
    int     fds[2];
    int     fd;

    (void) state;
    assert_int_equal(pipe(fds), 0);
    assert_int_equal(write(fds[1], "a\0b", 3), 3);
    close(fds[1]);
    assert_int_equal(mkmap_read_fd(fds[0], "pipe", buf, err), 0);
    assert_int_equal(buf->len, 3);
    assert_memory_equal(buf->data, "a\0b", 3);
    close(fds[0]);

    /* One byte over the bound. */
    fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(ftruncate(fd, (off_t) MKMAP_STDIN_MAX + 1), 0);
    assert_int_equal(mkmap_read_fd(fd, "stdin", buf, err), -1);
    assert_non_null(strstr(err->data, "stdin: more than"));
    close(fd);
    unlink(path);
    mem_free(path);
    strbuf_free(buf);
    strbuf_free(err);
}

/* cleanup: remove the temporary directory and what is in it. */
static int cleanup(void **state)
{
    static const char *names[] = {"map", "map.db", "upd", "upd.lmdb", "upd.lmdb-lock",
        "aliases", "aliases.db", NULL};
    char   *path;
    int     i;

    (void) state;
    for (i = 0; names[i]; i++) {
        path = tmp_path(names[i]);
        (void) unlink(path);
        mem_free(path);
    }
    if (rmdir(tmpdir) < 0)
        fprintf(stderr, "test_mkmap: %s is not empty\n", tmpdir);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spec),
        cmocka_unit_test(test_build_query_dump_delete),
        cmocka_unit_test(test_update_checks_first),
        cmocka_unit_test(test_aliases_format),
        cmocka_unit_test(test_read_fd),
    };

    testlib_setup();
    if (mkdtemp(tmpdir) == NULL)
        return 1;
    return cmocka_run_group_tests_name("mkmap", tests, NULL, cleanup);
}
