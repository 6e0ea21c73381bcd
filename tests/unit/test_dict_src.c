/*
 * Unit tests for lib/util/dict_src.c: the "key value" table source
 * reader. Every table case runs twice, once through the memory reader
 * and once through a real file, and must give the same result.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>
#include <cmocka.h>

#include "dict_src.h"
#include "fileio.h"
#include "mem.h"
#include "strbuf.h"
#include "strutil.h"
#include "testlib.h"

static char tmpdir[] = "/tmp/test_dict_src.XXXXXX";

/* write_file: create dir/name with len bytes of text; returns the path. */
static char *write_file(const char *name, const char *text, size_t len)
{
    char   *path = str_concat(tmpdir, "/", name, (char *) NULL);
    FILE   *fp = fopen(path, "w");

    assert_non_null(fp);
    assert_int_equal(fwrite(text, 1, len, fp), len);
    assert_int_equal(fclose(fp), 0);
    return path;
}

/*
 * run_src: read every entry; the transcript has one line per call:
 * "key=value@line" for an entry, "E:message" for an error, and "EOF".
 * Stops after EOF or 20 calls.
 */
static void run_src(dict_src *src, strbuf *out)
{
    strbuf *key = strbuf_new(16);
    strbuf *value = strbuf_new(16);
    strbuf *err = strbuf_new(16);
    int     i;
    int     rc;

    strbuf_reset(out);
    for (i = 0; i < 20; i++) {
        rc = dict_src_next(src, key, value, err);
        if (rc > 0) {
            strbuf_printf(out, "%s=%s@%d\n", key->data, value->data, dict_src_line(src));
        } else if (rc == 0) {
            strbuf_puts(out, "EOF\n");
            break;
        } else {
            strbuf_printf(out, "E:%s\n", err->data);
        }
    }
    strbuf_free(key);
    strbuf_free(value);
    strbuf_free(err);
}

struct src_case {
    const char *label;
    const char *text;
    size_t  len;                        /* 0: strlen(text) */
    const char *expect;                 /* transcript; ORIGIN stands for the name */
};

/* BIN: a literal with NUL bytes and its length. */
#define BIN(s)  s, sizeof(s) - 1

static const struct src_case src_cases[] = {
    {"empty", "", 0, "EOF\n"},
    {"only comments", "# a\n\n   \n\t# b\n", 0, "EOF\n"},
    {"simple", "a b\n", 0, "a=b@1\nEOF\n"},
    {"no final newline", "a b", 0, "a=b@1\nEOF\n"},
    {"trim value", "key \t  some value  \t\n", 0, "key=some value@1\nEOF\n"},
    {"inner spaces kept", "k a  b\tc\n", 0, "k=a  b\tc@1\nEOF\n"},
    {"crlf", "a b\r\nc d\r\n", 0, "a=b@1\nc=d@2\nEOF\n"},
    {"tab separator", "a\tb\n", 0, "a=b@1\nEOF\n"},
    {"lines", "\n# c\na 1\n\nb 2\n", 0, "a=1@3\nb=2@5\nEOF\n"},
    {"continuation", "a x\n  y\n\tz\nb 2\n", 0, "a=x y z@1\nb=2@4\nEOF\n"},
    {"continuation gives value", "a\n  value\n", 0, "a=value@1\nEOF\n"},
    {"comment inside entry", "a x\n# c\n\n  y\nb 2\n", 0, "a=x y@1\nb=2@5\nEOF\n"},
    {"indented comment", "a x\n   # not a value\n", 0, "a=x@1\nEOF\n"},
    {"hash in value", "a x # y\n", 0, "a=x # y@1\nEOF\n"},
    {"hash in key", "a#b c\n", 0, "a#b=c@1\nEOF\n"},
    {"key without value",
     "a\nb 2\n", 0,
     "E:ORIGIN, line 1: expected format: key whitespace value\nb=2@2\nEOF\n"},
    {"key with blanks only",
     "a   \t\nb 2\n", 0,
     "E:ORIGIN, line 1: expected format: key whitespace value\nb=2@2\nEOF\n"},
    {"continuation first",
     "  x\n  y\na 1\n", 0,
     "E:ORIGIN, line 1: continuation line (it starts with white space) before the"
     " first entry\na=1@3\nEOF\n"},
    {"continuation after comment first",
     "# c\n  x\na 1\n", 0,
     "E:ORIGIN, line 2: continuation line (it starts with white space) before the"
     " first entry\na=1@3\nEOF\n"},
    {"nul in key line",
     BIN("a 1\nb\0x 2\n  more\nc 3\n"),
     "a=1@1\nE:ORIGIN, line 2: line contains a NUL byte\nc=3@4\nEOF\n"},
    {"nul in continuation",
     BIN("a 1\n  x\0y\n  z\nc 3\n"),
     "E:ORIGIN, line 2: line contains a NUL byte\nc=3@4\nEOF\n"},
    {"nul in comment ignored", BIN("# \0\na 1\n"), "a=1@2\nEOF\n"},
    {"nul as first byte", BIN("\0\na 1\n"),
     "E:ORIGIN, line 1: line contains a NUL byte\na=1@2\nEOF\n"},
};

/* check_case: run one case through the memory and the file reader. */
static void check_case(const struct src_case *c, int n)
{
    size_t  len = c->len ? c->len : strlen(c->text);
    strbuf *out = strbuf_new(64);
    strbuf *want = strbuf_new(64);
    strbuf *err = strbuf_new(64);
    char    name[32];
    char   *path;
    const char *p;
    dict_src *src;

    /* Memory reader, origin "mem". */
    for (p = c->expect; *p; p++) {
        if (strncmp(p, "ORIGIN", 6) == 0) {
            strbuf_puts(want, "mem");
            p += 5;
        } else {
            strbuf_putc(want, *p);
        }
    }
    src = dict_src_open_mem(c->text, len, "mem");
    assert_null(dict_src_stat(src));
    run_src(src, out);
    dict_src_close(src);
    if (strcmp(out->data, want->data) != 0)
        fail_msg("%s (memory): got\n%s\nwant\n%s", c->label, out->data, want->data);

    /* File reader, origin = the path. */
    (void) str_format(name, sizeof(name), "case%d", n);
    path = write_file(name, c->text, len);
    strbuf_reset(want);
    for (p = c->expect; *p; p++) {
        if (strncmp(p, "ORIGIN", 6) == 0) {
            strbuf_puts(want, path);
            p += 5;
        } else {
            strbuf_putc(want, *p);
        }
    }
    src = dict_src_open(path, err);
    assert_non_null(src);
    assert_non_null(dict_src_stat(src));
    assert_string_equal(dict_src_origin(src), path);
    run_src(src, out);
    dict_src_close(src);
    if (strcmp(out->data, want->data) != 0)
        fail_msg("%s (file): got\n%s\nwant\n%s", c->label, out->data, want->data);
    unlink(path);
    mem_free(path);
    strbuf_free(out);
    strbuf_free(want);
    strbuf_free(err);
}

static void test_cases(void **state)
{
    size_t  i;

    (void) state;
    for (i = 0; i < sizeof(src_cases) / sizeof(src_cases[0]); i++)
        check_case(&src_cases[i], (int) i);
}

/* big_text: "a 1\n" + a line of n bytes + tail; caller frees. */
static char *big_text(size_t n, char first, const char *tail, size_t *len)
{
    size_t  tl = strlen(tail);
    char   *t = mem_alloc(4 + n + 1 + tl + 1);

    memcpy(t, "a 1\n", 4);
    memset(t + 4, 'x', n);
    t[4] = first;
    if (n > 2)
        t[5] = ' ';                     /* key "x" + value */
    t[4 + n] = '\n';
    memcpy(t + 5 + n, tail, tl + 1);
    *len = 4 + n + 1 + tl;
    return t;
}

/* Over-long physical lines are skipped, in both readers. */
static void test_long_line(void **state)
{
    size_t  len;
    char   *t = big_text(DICT_SRC_LINE_MAX + 10, 'k', "b 2\n", &len);
    strbuf *out = strbuf_new(64);
    strbuf *err = strbuf_new(64);
    strbuf *want = strbuf_new(64);
    char   *path;
    dict_src *src;

    (void) state;
    src = dict_src_open_mem(t, len, "m");
    run_src(src, out);
    dict_src_close(src);
    strbuf_setf(want, "a=1@1\nE:m, line 2: line is longer than %d bytes\nb=2@3\nEOF\n",
                DICT_SRC_LINE_MAX);
    assert_string_equal(out->data, want->data);

    path = write_file("long", t, len);
    src = dict_src_open(path, err);
    assert_non_null(src);
    run_src(src, out);
    dict_src_close(src);
    strbuf_setf(want, "a=1@1\nE:%s, line 2: line is longer than %d bytes\nb=2@3\nEOF\n",
                path, DICT_SRC_LINE_MAX);
    assert_string_equal(out->data, want->data);
    unlink(path);
    mem_free(path);
    mem_free(t);

    /* A line of exactly the limit is fine (value = limit - 2 bytes). */
    t = big_text(DICT_SRC_LINE_MAX, 'k', "", &len);
    src = dict_src_open_mem(t, len, "m");
    run_src(src, out);
    dict_src_close(src);
    assert_true(strstr(out->data, "line is longer") == NULL);
    assert_true(strstr(out->data, "value is longer") != NULL);
    mem_free(t);

    /* An over-long continuation line spoils its entry, and only that. */
    t = big_text(DICT_SRC_LINE_MAX + 1, ' ', "b 2\n", &len);
    src = dict_src_open_mem(t, len, "m");
    run_src(src, out);
    dict_src_close(src);
    strbuf_setf(want, "E:m, line 2: line is longer than %d bytes\nb=2@3\nEOF\n",
                DICT_SRC_LINE_MAX);
    assert_string_equal(out->data, want->data);
    mem_free(t);

    strbuf_free(out);
    strbuf_free(err);
    strbuf_free(want);
}

/* Key and value limits; logical lines built from continuations. */
static void test_field_limits(void **state)
{
    strbuf *text = strbuf_new(64);
    strbuf *out = strbuf_new(64);
    strbuf *want = strbuf_new(64);
    dict_src *src;
    char   *chunk;
    int     i;

    (void) state;
    /* Key of exactly DICT_KEY_MAX bytes is fine, one more is not. */
    for (i = 0; i < DICT_KEY_MAX; i++)
        strbuf_putc(text, 'k');
    strbuf_puts(text, " v\n");
    src = dict_src_open_mem(text->data, text->len, "m");
    run_src(src, out);
    dict_src_close(src);
    assert_int_equal(strlen(out->data), DICT_KEY_MAX + strlen("=v@1\nEOF\n"));

    strbuf_reset(text);
    for (i = 0; i <= DICT_KEY_MAX; i++)
        strbuf_putc(text, 'k');
    strbuf_puts(text, " v\nb 2\n");
    src = dict_src_open_mem(text->data, text->len, "m");
    run_src(src, out);
    dict_src_close(src);
    strbuf_setf(want, "E:m, line 1: key is longer than %d bytes\nb=2@2\nEOF\n", DICT_KEY_MAX);
    assert_string_equal(out->data, want->data);

    /* A value over DICT_VALUE_MAX made of continuation lines. */
    chunk = mem_alloc(DICT_VALUE_MAX / 16);
    memset(chunk, 'v', DICT_VALUE_MAX / 16);
    strbuf_reset(text);
    strbuf_puts(text, "k v\n");
    for (i = 0; i < 16; i++) {
        strbuf_putc(text, ' ');
        strbuf_append(text, chunk, DICT_VALUE_MAX / 16);
        strbuf_putc(text, '\n');
    }
    strbuf_puts(text, "b 2\n");
    src = dict_src_open_mem(text->data, text->len, "m");
    run_src(src, out);
    dict_src_close(src);
    strbuf_setf(want, "E:m, line 1: value is longer than %d bytes\nb=2@18\nEOF\n",
                DICT_VALUE_MAX);
    assert_string_equal(out->data, want->data);

    /* And a logical line over DICT_SRC_LINE_MAX. */
    strbuf_reset(text);
    strbuf_puts(text, "k v\n");
    for (i = 0; i < 40; i++) {
        strbuf_putc(text, ' ');
        strbuf_append(text, chunk, DICT_VALUE_MAX / 16);
        strbuf_putc(text, '\n');
    }
    strbuf_puts(text, "b 2\n");
    src = dict_src_open_mem(text->data, text->len, "m");
    run_src(src, out);
    dict_src_close(src);
    strbuf_setf(want, "E:m, line 1: entry is longer than %d bytes\nb=2@42\nEOF\n",
                DICT_SRC_LINE_MAX);
    assert_string_equal(out->data, want->data);
    mem_free(chunk);

    strbuf_free(text);
    strbuf_free(out);
    strbuf_free(want);
}

/* Logical lines for non "key value" formats. */
static void test_next_line(void **state)
{
    static const char text[] = "/a b/ x\n  y  \n# c\n\nif /z/\n";
    dict_src *src = dict_src_open_mem(text, sizeof(text) - 1, "m");
    strbuf *line = strbuf_new(8);
    strbuf *err = strbuf_new(8);

    (void) state;
    assert_int_equal(dict_src_line(src), 0);
    assert_int_equal(dict_src_next_line(src, line, err), 1);
    assert_string_equal(line->data, "/a b/ x y");
    assert_int_equal(dict_src_line(src), 1);
    assert_int_equal(dict_src_next_line(src, line, err), 1);
    assert_string_equal(line->data, "if /z/");
    assert_int_equal(dict_src_line(src), 5);
    assert_int_equal(dict_src_next_line(src, line, err), 0);
    assert_int_equal(dict_src_next_line(src, line, err), 0);
    assert_string_equal(err->data, "");
    dict_src_close(src);
    strbuf_free(line);
    strbuf_free(err);
}

/* Open errors name the path; FIFOs and directories are refused. */
static void test_open_errors(void **state)
{
    strbuf *err = strbuf_new(8);
    char   *path = str_concat(tmpdir, "/missing", (char *) NULL);
    char   *fifo = str_concat(tmpdir, "/fifo", (char *) NULL);
    char   *want;

    (void) state;
    assert_null(dict_src_open(path, err));
    want = str_concat(path, ": cannot open: No such file or directory", (char *) NULL);
    assert_string_equal(err->data, want);
    mem_free(want);

    assert_null(dict_src_open(tmpdir, err));
    want = str_concat(tmpdir, ": not a regular file", (char *) NULL);
    assert_string_equal(err->data, want);
    mem_free(want);

    assert_int_equal(mkfifo(fifo, 0600), 0);
    assert_null(dict_src_open(fifo, err));              /* must not hang */
    want = str_concat(fifo, ": not a regular file", (char *) NULL);
    assert_string_equal(err->data, want);
    mem_free(want);
    unlink(fifo);

    mem_free(path);
    mem_free(fifo);
    strbuf_free(err);
    assert_null(dict_src_close(NULL));
}

/* dict_src_stat gives the identity of the file that was read. */
static void test_stat(void **state)
{
    char   *path = write_file("stat", "a b\n", 4);
    strbuf *err = strbuf_new(8);
    dict_src *src = dict_src_open(path, err);
    struct stat st;

    (void) state;
    assert_non_null(src);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(dict_src_stat(src)->st_ino, st.st_ino);
    assert_int_equal(dict_src_stat(src)->st_dev, st.st_dev);
    dict_src_close(src);
    unlink(path);
    mem_free(path);
    strbuf_free(err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cases),
        cmocka_unit_test(test_long_line),
        cmocka_unit_test(test_field_limits),
        cmocka_unit_test(test_next_line),
        cmocka_unit_test(test_open_errors),
        cmocka_unit_test(test_stat),
    };
    int     rc;

    testlib_setup();
    if (mkdtemp(tmpdir) == NULL)
        return 1;
    rc = cmocka_run_group_tests(tests, NULL, NULL);
    (void) rmdir(tmpdir);
    return rc;
}
