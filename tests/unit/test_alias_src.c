/*
 * Unit tests for lib/mail/alias_src.c: the aliases(5) reader.
 *
 * Most cases are a table: an input text and the transcript the reader
 * must produce, one line per call: "name\tvalue" for an entry, "ERR text"
 * for an error, until the end of the input.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "alias_src.h"
#include "dict_src.h"
#include "mem.h"
#include "strbuf.h"
#include "strutil.h"
#include "testlib.h"

/* transcript: run a reader to its end (or 20 calls) and describe it. */
static char *transcript(alias_src *src, int *lines, int nlines)
{
    strbuf *out = strbuf_new(256);
    strbuf *name = strbuf_new(16);
    strbuf *value = strbuf_new(16);
    strbuf *err = strbuf_new(16);
    int     rc, n;

    for (n = 0; n < 20; n++) {
        rc = alias_src_next(src, name, value, err);
        if (rc == 0)
            break;
        if (lines != NULL && n < nlines)
            lines[n] = alias_src_line(src);
        if (rc > 0)
            strbuf_printf(out, "%s\t%s\n", name->data, value->data);
        else
            strbuf_printf(out, "ERR %s\n", err->data);
    }
    strbuf_free(name);
    strbuf_free(value);
    strbuf_free(err);
    return strbuf_detach(out, NULL);
}

/* run_mem: transcript of a memory reader over text[0..len-1]. */
static char *run_mem(const char *text, size_t len)
{
    alias_src *src = alias_src_open_mem(text, len, "aliases");
    char   *t = transcript(src, NULL, 0);

    alias_src_close(src);
    return t;
}

/* BIN: a literal with NULs, and its length. */
#define BIN(s)  s, sizeof(s) - 1

static const struct {
    const char *name;
    const char *input;
    size_t  len;                        /* 0: strlen(input) */
    const char *expect;
} cases[] = {
    {"simple", "root: bob\n", 0, "root\tbob\n"},
    {"name folded, value kept", "Root: Bob@Example.COM\n", 0, "root\tBob@Example.COM\n"},
    {"two entries", "a: b\nc: d\n", 0, "a\tb\nc\td\n"},
    {"continuations joined by one space", "list: a,\n  b,\n\t\tc\n", 0,
     "list\ta, b, c\n"},
    {"comments and blanks inside an entry", "list: a,\n# note\n\n   \n  b\n", 0,
     "list\ta, b\n"},
    {"indented comment is a comment", "x: a\n   # comment\n  b\n", 0, "x\ta b\n"},
    {"hash inside a value is data", "x: a # not a comment\n", 0,
     "x\ta # not a comment\n"},
    {"value only on continuation", "x:\n  y\n", 0, "x\ty\n"},
    {"quoted name", "\"foo bar\": x\n", 0, "foo bar\tx\n"},
    {"quoted colon", "\"a:b\": x\n", 0, "a:b\tx\n"},
    {"escaped quote", "\"a\\\"B\": x\n", 0, "a\"b\tx\n"},
    {"partly quoted", "a\"B c\"d: x\n", 0, "ab cd\tx\n"},
    {"space before colon", "x  \t: y\n", 0, "x\ty\n"},
    {"values verbatim",
     "x: :include:/etc/list, |\"/bin/cmd arg\", /var/file, \"q, item\"\n", 0,
     "x\t:include:/etc/list, |\"/bin/cmd arg\", /var/file, \"q, item\"\n"},
    {"colon in value", "x: a:b, c\n", 0, "x\ta:b, c\n"},
    {"crlf", "x: y\r\nz: w\r\n", 0, "x\ty\nz\tw\n"},
    {"no final newline", "x: y", 0, "x\ty\n"},
    {"trailing white space", "x:   y  \t\n", 0, "x\ty\n"},
    {"empty input", "", 0, ""},
    {"only comments", "# a\n\n  # b\n", 0, ""},
    {"missing colon", "rootbob\n", 0,
     "ERR aliases, line 1: missing ':' after the alias name\n"},
    {"white space in name", "root bob: x\nok: 1\n", 0,
     "ERR aliases, line 1: white space in alias name (quote the name, or add "
     "the missing ':')\nok\t1\n"},
    {"empty name", ": x\n", 0, "ERR aliases, line 1: empty alias name\n"},
    {"empty quoted name", "\"\": x\n", 0, "ERR aliases, line 1: empty alias name\n"},
    {"empty value", "x:\ny: z\n", 0,
     "ERR aliases, line 1: no value for alias \"x\"\ny\tz\n"},
    {"empty value with blank continuation", "x:  \n \t \n", 0,
     "ERR aliases, line 1: no value for alias \"x\"\n"},
    {"unterminated quote", "\"abc: d\n", 0,
     "ERR aliases, line 1: unterminated quoted alias name\n"},
    {"NUL byte", BIN("a: b\nc: d\0e\nf: g\n"),
     "a\tb\nERR aliases, line 2: NUL byte in entry\nf\tg\n"},
    {"NUL byte in continuation", BIN("a: b\n  c\0\n  d\nf: g\n"),
     "ERR aliases, line 2: NUL byte in entry\nf\tg\n"},
    {"NUL in comment is ignored", BIN("# \0\na: b\n"), "a\tb\n"},
    {"continuation without entry", "  x\n  y\nz: w\n", 0,
     "ERR aliases, line 1: continuation line without an entry before it\nz\tw\n"},
    {"bad entry swallowed whole", BIN("b\0ad: x\n  cont\n\ty\nok: 1\n"),
     "ERR aliases, line 1: NUL byte in entry\nok\t1\n"},
    {"line numbers after comments", "# c\n\nx:\n", 0,
     "ERR aliases, line 3: no value for alias \"x\"\n"},
};

static void test_table(void **state)
{
    size_t  i;

    (void) state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t  len = cases[i].len ? cases[i].len : strlen(cases[i].input);
        char   *got = run_mem(cases[i].input, len);

        if (strcmp(got, cases[i].expect) != 0)
            fail_msg("case \"%s\":\n--- got\n%s--- expected\n%s", cases[i].name,
                     got, cases[i].expect);
        mem_free(got);
    }
}

static void test_entry_lines(void **state)
{
    const char *text = "# header\n"
        "a: 1\n"
        "b: 2,\n"
        "  3,\n"
        "\n"
        "  4\n"
        "bad\n"
        "c: 5\n";
    alias_src *src = alias_src_open_mem(text, strlen(text), "x");
    int     lines[4] = {0, 0, 0, 0};
    char   *t = transcript(src, lines, 4);

    (void) state;
    assert_string_equal(t, "a\t1\nb\t2, 3, 4\nERR x, line 7: missing ':' after "
                        "the alias name\nc\t5\n");
    assert_int_equal(lines[0], 2);
    assert_int_equal(lines[1], 3);
    assert_int_equal(lines[2], 7);
    assert_int_equal(lines[3], 8);
    assert_string_equal(alias_src_origin(src), "x");
    assert_null(alias_src_stat(src));
    mem_free(t);
    assert_null(alias_src_close(src));
}

static void test_name_limit(void **state)
{
    strbuf *text = strbuf_new(ALIAS_SRC_NAME_MAX + 64);
    char   *t;

    (void) state;
    /* Exactly at the limit: fine; one more byte: refused. */
    while (text->len < ALIAS_SRC_NAME_MAX)
        strbuf_putc(text, 'A');
    strbuf_puts(text, ": x\n");
    t = run_mem(text->data, text->len);
    assert_int_equal(strlen(t), ALIAS_SRC_NAME_MAX + 3);
    assert_int_equal(t[0], 'a');
    mem_free(t);

    strbuf_reset(text);
    while (text->len < ALIAS_SRC_NAME_MAX + 1)
        strbuf_putc(text, 'a');
    strbuf_puts(text, ": x\nok: 1\n");
    t = run_mem(text->data, text->len);
    assert_string_equal(t, "ERR aliases, line 1: alias name too long\nok\t1\n");
    mem_free(t);
    strbuf_free(text);
}

static void test_entry_limit(void **state)
{
    strbuf *text = strbuf_new(ALIAS_SRC_ENTRY_MAX + 64);
    char   *t;
    char    expect[128];

    (void) state;
    /* Two physical lines each under the limit, together over it: the
     * entry is refused and the reader goes on. */
    strbuf_puts(text, "x: ");
    while (text->len < ALIAS_SRC_ENTRY_MAX / 2 + 10)
        strbuf_putc(text, 'v');
    strbuf_puts(text, "\n  ");
    while (text->len < ALIAS_SRC_ENTRY_MAX + 10)
        strbuf_putc(text, 'w');
    strbuf_puts(text, "\nok: 1\n");
    t = run_mem(text->data, text->len);
    assert_int_equal(str_format(expect, sizeof(expect),
                                "ERR aliases, line 1: entry longer than %d bytes\nok\t1\n",
                                ALIAS_SRC_ENTRY_MAX), 0);
    assert_string_equal(t, expect);
    mem_free(t);
    strbuf_free(text);
}

static void test_physical_line_limit(void **state)
{
    strbuf *text = strbuf_new(DICT_SRC_LINE_MAX + 64);
    char   *t;
    char    expect[128];

    (void) state;
    /* One physical line over dict_src's limit: that entry (and any
     * continuation of it) is refused; the entries on either side of it
     * are read, since the reader classifies the line by its start. */
    strbuf_puts(text, "a: 1\nx: ");
    while (text->len < DICT_SRC_LINE_MAX + 100)
        strbuf_putc(text, 'v');
    strbuf_puts(text, "\n  more\nok: 1\n");
    t = run_mem(text->data, text->len);
    assert_int_equal(str_format(expect, sizeof(expect),
                                "a\t1\nERR aliases, line 2: line longer than %d bytes\n"
                                "ok\t1\n", DICT_SRC_LINE_MAX), 0);
    assert_string_equal(t, expect);
    mem_free(t);

    /* Under that limit but over the entry limit: the entry is refused. */
    strbuf_reset(text);
    strbuf_puts(text, "a: 1\nx: ");
    while (text->len < ALIAS_SRC_ENTRY_MAX + 100)
        strbuf_putc(text, 'v');
    strbuf_puts(text, "\nok: 1\n");
    t = run_mem(text->data, text->len);
    assert_int_equal(str_format(expect, sizeof(expect),
                                "a\t1\nERR aliases, line 2: entry longer than %d bytes\n"
                                "ok\t1\n", ALIAS_SRC_ENTRY_MAX), 0);
    assert_string_equal(t, expect);
    mem_free(t);
    strbuf_free(text);
}

/* write_tmp: a file with the given content in dir; returns its path. */
static char *write_tmp(const char *dir, const char *name, const char *text)
{
    char   *path = mem_alloc(strlen(dir) + strlen(name) + 2);
    int     fd;

    assert_int_equal(str_format(path, strlen(dir) + strlen(name) + 2, "%s/%s",
                                dir, name), 0);
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t) strlen(text));
    close(fd);
    return path;
}

static void test_files(void **state)
{
    char    dir[] = "/tmp/test_alias_src.XXXXXX";
    char   *path, *t;
    char    fifo[128];
    strbuf *err = strbuf_new(64);
    alias_src *src;

    (void) state;
    assert_non_null(mkdtemp(dir));
    path = write_tmp(dir, "aliases", "# test\npostmaster: root\nroot: \"|/bin/x\",\n  /tmp/f\n");
    src = alias_src_open(path, err);
    assert_non_null(src);
    assert_non_null(alias_src_stat(src));
    assert_int_equal(alias_src_stat(src)->st_uid, getuid());
    t = transcript(src, NULL, 0);
    assert_string_equal(t, "postmaster\troot\nroot\t\"|/bin/x\", /tmp/f\n");
    mem_free(t);
    alias_src_close(src);
    unlink(path);
    mem_free(path);

    /* Missing file, directory, FIFO (must not block). */
    assert_int_equal(str_format(fifo, sizeof(fifo), "%s/missing", dir), 0);
    assert_null(alias_src_open(fifo, err));
    assert_non_null(strstr(err->data, "/missing: cannot open: No such file or directory"));
    assert_null(alias_src_open(dir, err));
    assert_non_null(strstr(err->data, ": not a regular file"));
    assert_int_equal(str_format(fifo, sizeof(fifo), "%s/fifo", dir), 0);
    assert_int_equal(mkfifo(fifo, 0600), 0);
    assert_null(alias_src_open(fifo, err));
    assert_non_null(strstr(err->data, "/fifo: not a regular file"));
    unlink(fifo);
    rmdir(dir);
    strbuf_free(err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_entry_lines),
        cmocka_unit_test(test_name_limit),
        cmocka_unit_test(test_entry_limit),
        cmocka_unit_test(test_physical_line_limit),
        cmocka_unit_test(test_files),
    };

    testlib_setup();
    return cmocka_run_group_tests_name("alias_src", tests, NULL, NULL);
}
