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
#include "param.h"
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

/* The option parsing postmap, postalias and newaliases share. */
static const struct {
    const char *name;
    const char *optstring;
    const char *argv[6];                /* NULL-terminated, argv[0] first */
    int     rc;
    int     mode;
    int     flags;
    int     status;
    int     nargs;
    const char *key;
    const char *dir;
} cmdline_cases[] = {
    {"build", "c:d:fijNnoq:rsvw", {"postmap", "-c", "/etc/x", "a", "b"}, 0,
     MKMAP_MODE_BUILD, 0, 1, 2, NULL, "/etc/x"},
    {"flags", "c:d:fijNnoq:rsvw", {"postmap", "-fNorw", "a"}, 0, MKMAP_MODE_BUILD,
     MKMAP_F_NO_FOLD | MKMAP_F_NO_OWNER | MKMAP_F_REPLACE | MKMAP_F_QUIET_DUP, 1, 1,
     NULL, NULL},
    {"query json", "c:d:fijNnoq:rsvw", {"postmap", "-j", "-q", "k", "a"}, 0,
     MKMAP_MODE_QUERY, MKMAP_F_JSON, MKMAP_ERROR, 1, "k", NULL},
    {"delete", "c:d:fijNnoq:rsvw", {"postmap", "-d", "-", "a"}, 0, MKMAP_MODE_DELETE,
     0, MKMAP_ERROR, 1, "-", NULL},
    {"update", "c:d:fijNnoq:rsvw", {"postmap", "-i", "a"}, 0, MKMAP_MODE_UPDATE, 0, 1,
     1, NULL, NULL},
    {"dump json", "c:d:fijNnoq:rsvw", {"postmap", "-sj", "a"}, 0, MKMAP_MODE_DUMP,
     MKMAP_F_JSON, 1, 1, NULL, NULL},
    {"no operands is the caller's business", "c:orvw", {"newaliases", "-o"}, 0,
     MKMAP_MODE_BUILD, MKMAP_F_NO_OWNER, 1, 0, NULL, NULL},
    {"-n refused", "c:d:fijNnoq:rsvw", {"postmap", "-n", "a"}, -1, MKMAP_MODE_BUILD,
     0, 1, 1, NULL, NULL},
    {"two modes", "c:d:fijNnoq:rsvw", {"postmap", "-q", "k", "-s", "a"}, -1,
     MKMAP_MODE_DUMP, 0, MKMAP_ERROR, 1, "k", NULL},
    {"json when building", "c:d:fijNnoq:rsvw", {"postmap", "-j", "a"}, -1,
     MKMAP_MODE_BUILD, MKMAP_F_JSON, 1, 1, NULL, NULL},
    {"option not in optstring", "c:orvw", {"newaliases", "-f"}, -1, MKMAP_MODE_BUILD,
     0, 1, 0, NULL, NULL},
    {"unknown option", "c:d:ijNnoq:rsvw", {"postalias", "-x", "a"}, -1,
     MKMAP_MODE_BUILD, 0, 1, 1, NULL, NULL},
};

static void test_cmdline_parse(void **state)
{
    mkmap_cmdline cmd;
    char   *argv[6];
    int     argc, rc;
    size_t  i;

    (void) state;
    for (i = 0; i < sizeof(cmdline_cases) / sizeof(cmdline_cases[0]); i++) {
        for (argc = 0; cmdline_cases[i].argv[argc] != NULL; argc++)
            argv[argc] = (char *) cmdline_cases[i].argv[argc];
        argv[argc] = NULL;
        optind = 0;                     /* GNU getopt: start afresh */
        opterr = 0;
        rc = mkmap_cmdline_parse(&cmd, MKMAP_FORMAT_ALIASES,
                                 cmdline_cases[i].optstring, argc, argv);
        if (rc != cmdline_cases[i].rc || cmd.mode != cmdline_cases[i].mode
            || cmd.opts.flags != cmdline_cases[i].flags
            || cmd.status != cmdline_cases[i].status
            || cmd.nargs != cmdline_cases[i].nargs
            || cmd.opts.format != MKMAP_FORMAT_ALIASES
            || (cmd.key == NULL) != (cmdline_cases[i].key == NULL)
            || (cmd.key && strcmp(cmd.key, cmdline_cases[i].key) != 0)
            || (cmd.config_dir == NULL) != (cmdline_cases[i].dir == NULL)
            || (cmd.config_dir && strcmp(cmd.config_dir, cmdline_cases[i].dir) != 0))
            fail_msg("case \"%s\": rc %d mode %d flags %#x status %d nargs %d",
                     cmdline_cases[i].name, rc, cmd.mode, (unsigned) cmd.opts.flags,
                     cmd.status, cmd.nargs);
        if (cmd.nargs > 0)
            assert_string_equal(cmd.args[cmd.nargs - 1], argv[argc - 1]);
    }
    opterr = 1;
}

static void test_newaliases(void **state)
{
    char   *one = write_tmp("aliases", "Root: admin\n");
    char   *two = write_tmp("aliases2", "x: y\nbroken\n");
    char   *conf = str_concat("alias_database = hash:", one, ", texthash:", one,
                              ", hash:", two, "\n", (char *) NULL);
    char   *mcf = write_tmp("main.cf", conf);
    char   *line = str_concat("hash:", one, ": rebuilt from ", one, (char *) NULL);
    char   *db = str_concat(one, ".db", (char *) NULL);
    mkmap_opts opts = {MKMAP_FORMAT_POSTMAP, 0, NULL};
    strbuf *err = strbuf_new(64);
    struct stat st;
    char   *args[1];
    struct capture c;

    (void) state;
    assert_int_equal(param_load(tmpdir, err), 0);
    /* One table is broken: the others are still rebuilt; -1 at the end. */
    testlib_log_reset();
    assert_int_equal(mkmap_newaliases(&opts, 1), -1);
    assert_true(testlib_log_has(line));
    assert_true(testlib_log_has(": skipped: not a table type that is built from a file"));
    assert_true(testlib_log_has("aliases2, line 2: missing ':' after the alias name"));
    assert_true(testlib_log_has("aliases2: not rebuilt"));
    assert_int_equal(stat(db, &st), 0);
    /* Built in aliases(5) format whatever opts says, with the default type. */
    args[0] = one;
    opts.format = MKMAP_FORMAT_ALIASES;
    opts.default_type = "hash";
    assert_int_equal(mkmap_query(&opts, args, 1, "root", cap_open(&c)), MKMAP_FOUND);
    assert_string_equal(cap_close(&c), "admin\n");
    free(c.text);

    /* Without reports: only the failure is logged. */
    mem_free(write_tmp("aliases2", "x: y\n"));
    opts.format = MKMAP_FORMAT_POSTMAP;
    opts.default_type = NULL;
    testlib_log_reset();
    assert_int_equal(mkmap_newaliases(&opts, 0), 0);
    assert_false(testlib_log_has("rebuilt"));
    assert_false(testlib_log_has("skipped"));
    param_reset();
    mem_free(write_tmp("main.cf", "alias_database =\n"));
    assert_int_equal(param_load(tmpdir, err), 0);
    testlib_log_reset();
    assert_int_equal(mkmap_newaliases(&opts, 1), 0);
    assert_true(testlib_log_has("alias_database is empty"));
    param_reset();
    strbuf_free(err);
    mem_free(one);
    mem_free(two);
    mem_free(conf);
    mem_free(mcf);
    mem_free(line);
    mem_free(db);
}

/* cleanup: remove the temporary directory and what is in it. */
static int cleanup(void **state)
{
    static const char *names[] = {"map", "map.db", "upd", "upd.lmdb", "upd.lmdb-lock",
        "aliases", "aliases.db", "aliases2", "aliases2.db", "main.cf", NULL};
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
        cmocka_unit_test(test_cmdline_parse),
        cmocka_unit_test(test_newaliases),
    };

    testlib_setup();
    if (mkdtemp(tmpdir) == NULL)
        return 1;
    return cmocka_run_group_tests_name("mkmap", tests, NULL, cleanup);
}
