/*
 * Unit tests for lib/util/cfg.c: parsing, expansion and editing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <dirent.h>
#include <cmocka.h>

#include "cfg.h"
#include "fileio.h"
#include "mem.h"
#include "strbuf.h"
#include "strutil.h"
#include "testlib.h"

/* ------------------------------------------------------------ parsing */

struct parse_case {
    const char *label;
    const char *text;
    int     rc;
    const char *expect;                 /* "name=value|name=value" or error */
};

/* dump: entries as "name=value@line|..." in cfg order. */
static void dump(const cfg *cf, strbuf *sb)
{
    size_t  i;

    strbuf_reset(sb);
    for (i = 0; i < cfg_count(cf); i++) {
        const cfg_entry *e = cfg_entry_at(cf, i);

        strbuf_printf(sb, "%s%s=%s@%d", i ? "|" : "", e->name, e->value, e->line);
    }
}

static const struct parse_case parse_cases[] = {
    {"simple", "a = b\n", 0, "a=b@1"},
    {"no spaces", "a=b", 0, "a=b@1"},
    {"trim value", "a   =    b c   \t\n", 0, "a=b c@1"},
    {"empty value", "a =\n", 0, "a=@1"},
    {"empty value spaces", "a =   \n", 0, "a=@1"},
    {"name chars", "x.y-z_1 = 1\n", 0, "x.y-z_1=1@1"},
    {"hash in value", "a = b # not a comment\n", 0, "a=b # not a comment@1"},
    {"comment lines", "# c\n  # indented c\na = 1\n#x = 2\n", 0, "a=1@3"},
    {"blank lines", "\n\n   \n\ta = 1\n", -1, "(text), line 4: continuation line"},
    {"blank then name", "\n \t\na = 1\n\nb = 2\n", 0, "a=1@3|b=2@5"},
    {"continuation", "a = x\n  y\n\tz\nb = 2\n", 0, "a=x y z@1|b=2@4"},
    {"continuation trailing space", "a = x   \n   y   \n", 0, "a=x y@1"},
    {"continuation of empty", "a =\n  x\n", 0, "a=x@1"},
    {"continuation at eof", "a = x\n  y", 0, "a=x y@1"},
    {"continuation at eof nl", "a = x\n  y\n", 0, "a=x y@1"},
    {"comment inside continuation", "a = x\n# note\n  y\n  # more\n  z\n", 0, "a=x y z@1"},
    {"blank inside continuation", "a = x\n\n  y\n", 0, "a=x y@1"},
    {"continuation first", "  a = 1\n", -1, "(text), line 1: continuation line"},
    {"continuation after comment only", "# hi\n\tfoo\n", -1, "(text), line 2: continuation line"},
    {"no equals", "a = 1\njunk here\n", -1, "(text), line 2: missing '=' after parameter name: \"junk here\""},
    {"no equals joined", "junk\n  more = 1\n", -1, "(text), line 1: bad parameter name: \"junk more\""},
    {"no equals at eof", "a = 1\nb", -1, "(text), line 2: missing '='"},
    {"empty name", "= 1\n", -1, "(text), line 1: missing parameter name"},
    {"bad name", "a b = 1\n", -1, "(text), line 1: bad parameter name: \"a b\""},
    {"bad name char", "a/b = 1\n", -1, "(text), line 1: bad parameter name"},
    {"equals in value", "a = b=c\n", 0, "a=b=c@1"},
    {"override", "a = 1\nb = 2\na = 3\n", 0, "a=3@3|b=2@2"},
    {"crlf", "a = 1\r\nb = 2\r\n", 0, "a=1@1|b=2@2"},
    {"empty text", "", 0, ""},
    {"no final newline", "a = 1", 0, "a=1@1"},
    {"dollar kept raw", "a = $b ${c}\n", 0, "a=$b ${c}@1"},
};

static void test_parse_table(void **state)
{
    strbuf *err = strbuf_new(100);
    strbuf *got = strbuf_new(100);
    size_t  i;

    (void) state;
    for (i = 0; i < sizeof(parse_cases) / sizeof(parse_cases[0]); i++) {
        const struct parse_case *c = &parse_cases[i];
        cfg    *cf = cfg_new();
        int     rc;

        strbuf_reset(err);
        rc = cfg_parse_text(cf, c->text, strlen(c->text), NULL, err);
        if (rc != c->rc)
            fail_msg("%s: rc %d, want %d (err: %s)", c->label, rc, c->rc, err->data);
        if (rc == 0) {
            dump(cf, got);
            if (strcmp(got->data, c->expect) != 0)
                fail_msg("%s: got \"%s\", want \"%s\"", c->label, got->data, c->expect);
        } else if (strstr(err->data, c->expect) == NULL) {
            fail_msg("%s: error \"%s\" lacks \"%s\"", c->label, err->data, c->expect);
        }
        cfg_free(cf);
    }
    strbuf_free(err);
    strbuf_free(got);
}

static void test_override_warns(void **state)
{
    cfg    *cf = cfg_new();
    strbuf *err = strbuf_new(100);
    const char *text = "a = 1\nb = 2\n\na = 3\n";

    (void) state;
    testlib_log_reset();
    assert_int_equal(cfg_parse_text(cf, text, strlen(text), "/x/main.cf", err), 0);
    assert_true(testlib_log_has("warning: /x/main.cf, line 4: overriding earlier entry: a=1"));
    assert_string_equal(cfg_get(cf, "a"), "3");
    assert_int_equal(cfg_find(cf, "a")->line, 4);
    assert_string_equal(cfg_find(cf, "a")->origin, "/x/main.cf");
    /* cfg_set overrides silently. */
    testlib_log_reset();
    cfg_set(cf, "a", "4", "override", 0);
    assert_string_equal(testlib_log(), "");
    assert_string_equal(cfg_get(cf, "a"), "4");
    assert_int_equal(cfg_find(cf, "a")->line, 0);
    assert_string_equal(cfg_find(cf, "a")->origin, "override");
    cfg_set(cf, "new", "v", "o", 7);
    assert_int_equal(cfg_count(cf), 3);
    assert_string_equal(cfg_entry_at(cf, 2)->name, "new");
    assert_null(cfg_entry_at(cf, 3));
    assert_null(cfg_get(cf, "missing"));
    cfg_free(cf);
    strbuf_free(err);
}

static void test_embedded_nul(void **state)
{
    cfg    *cf = cfg_new();
    strbuf *err = strbuf_new(100);
    const char text[] = "a = 1\nb = x\0y\nc = 3\n";

    (void) state;
    assert_int_equal(cfg_parse_text(cf, text, sizeof(text) - 1, "f", err), -1);
    assert_string_equal(err->data, "f, line 2: line contains a NUL byte");
    cfg_free(cf);
    strbuf_free(err);
}

static void test_long_lines(void **state)
{
    cfg    *cf;
    strbuf *err = strbuf_new(100);
    strbuf *text = strbuf_new(CFG_LINE_MAX + 100);
    size_t  i;

    (void) state;
    /* Exactly CFG_LINE_MAX bytes: accepted. */
    strbuf_puts(text, "a = ");
    while (text->len < CFG_LINE_MAX)
        strbuf_putc(text, 'x');
    strbuf_putc(text, '\n');
    cf = cfg_new();
    assert_int_equal(cfg_parse_text(cf, text->data, text->len, "f", err), 0);
    assert_int_equal(strlen(cfg_get(cf, "a")), CFG_LINE_MAX - 4);
    cfg_free(cf);

    /* One more byte: rejected, naming the line. */
    strbuf_reset(text);
    strbuf_puts(text, "ok = 1\na = ");
    while (text->len < 7 + CFG_LINE_MAX + 1)
        strbuf_putc(text, 'x');
    cf = cfg_new();
    assert_int_equal(cfg_parse_text(cf, text->data, text->len, "f", err), -1);
    assert_true(strstr(err->data, "f, line 2: line is longer than") != NULL);
    cfg_free(cf);

    /* Short physical lines that join into an over-long logical line. */
    strbuf_reset(text);
    strbuf_puts(text, "a = x\n");
    for (i = 0; i < CFG_LINE_MAX / 1000 + 2; i++) {
        strbuf_putc(text, ' ');
        while (text->len % 1000 != 0)
            strbuf_putc(text, 'y');
        strbuf_putc(text, '\n');
    }
    cf = cfg_new();
    assert_int_equal(cfg_parse_text(cf, text->data, text->len, "f", err), -1);
    assert_true(strstr(err->data, "f, line 1: logical line is longer than") != NULL);
    cfg_free(cf);
    strbuf_free(text);
    strbuf_free(err);
}

/* tmpdir: make a private scratch directory. */
static char *tmpdir(void)
{
    char    tmpl[] = "/tmp/test_cfg.XXXXXX";

    assert_non_null(mkdtemp(tmpl));
    return mem_strdup(tmpl);
}

/* write_file: create path with content. */
static void write_file(const char *path, const char *content)
{
    FILE   *fp = fopen(path, "w");
    size_t  len = strlen(content);

    assert_non_null(fp);
    assert_int_equal(fwrite(content, 1, len, fp), len);
    assert_int_equal(fclose(fp), 0);
}

/* read_all: the content of path. */
static char *read_all(const char *path)
{
    strbuf *buf = strbuf_new(100);
    strbuf *err = strbuf_new(100);

    assert_int_equal(fileio_read_all(path, 1 << 20, buf, err), 0);
    strbuf_free(err);
    return strbuf_detach(buf, NULL);
}

/* rmtree: remove a flat scratch directory. */
static void rmtree(const char *dir)
{
    DIR    *d = opendir(dir);
    struct dirent *de;

    assert_non_null(d);
    while ((de = readdir(d)) != NULL) {
        char   *p;

        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        p = str_concat(dir, "/", de->d_name, (char *) NULL);
        unlink(p);
        mem_free(p);
    }
    closedir(d);
    rmdir(dir);
}

/* count_files: entries in dir besides . and .. */
static int count_files(const char *dir)
{
    DIR    *d = opendir(dir);
    struct dirent *de;
    int     n = 0;

    assert_non_null(d);
    while ((de = readdir(d)) != NULL)
        if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
            n++;
    closedir(d);
    return n;
}

static void test_load_file(void **state)
{
    char   *dir = tmpdir();
    char   *path = str_concat(dir, "/main.cf", (char *) NULL);
    char   *missing = str_concat(dir, "/nope.cf", (char *) NULL);
    strbuf *err = strbuf_new(100);
    cfg    *cf = cfg_new();

    (void) state;
    assert_int_equal(cfg_load_file(cf, missing, err), 1);
    assert_int_equal(cfg_count(cf), 0);
    write_file(path, "# x\na = 1\n  2\nb=3");
    assert_int_equal(cfg_load_file(cf, path, err), 0);
    assert_string_equal(cfg_get(cf, "a"), "1 2");
    assert_string_equal(cfg_find(cf, "b")->origin, path);
    assert_int_equal(cfg_find(cf, "b")->line, 4);
    cfg_free(cf);

    write_file(path, "a = 1\nbroken\n");
    cf = cfg_new();
    assert_int_equal(cfg_load_file(cf, path, err), -1);
    assert_true(str_has_prefix(err->data, path));
    assert_true(strstr(err->data, ", line 2: missing '='") != NULL);
    cfg_free(cf);

    /* A directory is not a regular file. */
    cf = cfg_new();
    assert_int_equal(cfg_load_file(cf, dir, err), -1);
    assert_true(strstr(err->data, "not a regular file") != NULL);
    cfg_free(cf);

    rmtree(dir);
    mem_free(dir);
    mem_free(path);
    mem_free(missing);
    strbuf_free(err);
}

static void test_read_file_limit(void **state)
{
    char   *dir = tmpdir();
    char   *path = str_concat(dir, "/big", (char *) NULL);
    strbuf *buf = strbuf_new(10);
    strbuf *err = strbuf_new(100);

    (void) state;
    write_file(path, "0123456789");
    assert_int_equal(fileio_read_all(path, 10, buf, err), 0);
    assert_int_equal(buf->len, 10);
    assert_int_equal(fileio_read_all(path, 9, buf, err), -1);
    assert_true(strstr(err->data, "larger than 9 bytes") != NULL);
    assert_int_equal(buf->len, 0);
    rmtree(dir);
    mem_free(dir);
    mem_free(path);
    strbuf_free(buf);
    strbuf_free(err);
}

static void test_file_too_large(void **state)
{
    cfg    *cf = cfg_new();
    strbuf *err = strbuf_new(100);
    char   *big = mem_alloc(CFG_FILE_MAX + 1);

    (void) state;
    memset(big, '#', CFG_FILE_MAX + 1);
    assert_int_equal(cfg_parse_text(cf, big, CFG_FILE_MAX + 1, "f", err), -1);
    assert_true(strstr(err->data, "f: file larger than") != NULL);
    mem_free(big);
    cfg_free(cf);
    strbuf_free(err);
}

static void test_name_valid(void **state)
{
    char    longname[CFG_NAME_MAX + 2];

    (void) state;
    assert_true(cfg_name_valid("myhostname"));
    assert_true(cfg_name_valid("a.b-c_9"));
    assert_false(cfg_name_valid(""));
    assert_false(cfg_name_valid("a b"));
    assert_false(cfg_name_valid("a=b"));
    assert_false(cfg_name_valid("$a"));
    memset(longname, 'a', sizeof(longname) - 1);
    longname[sizeof(longname) - 1] = 0;
    assert_false(cfg_name_valid(longname));
    longname[CFG_NAME_MAX] = 0;
    assert_true(cfg_name_valid(longname));
}

/* ---------------------------------------------------------- expansion */

/* A lookup over a NULL-terminated "name", "value" list. */
static const char *const vars[] = {
    "myhostname", "host.example.com",
    "mydomain", "example.com",
    "empty", "",
    "ref_empty", "$empty",
    "ref_full", "$mydomain",
    "chain", "<$myhostname>",
    "dotted.name", "D",
    "loop_self", "x$loop_self",
    "loop_a", "a${loop_b}",
    "loop_b", "b$(loop_a)",
    "loop_c", "${loop_c?yes}",
    "bad", "${unterminated",
    "ref_bad", "<$bad>",
    "dollar", "$$HOME",
    "nest1", "${myhostname?${mydomain:never}}",
    NULL
};

/* lookup: find name in vars. */
static const char *lookup(const char *name, void *ctx)
{
    size_t  i;

    (void) ctx;
    for (i = 0; vars[i]; i += 2)
        if (strcmp(vars[i], name) == 0)
            return vars[i + 1];
    return NULL;
}

struct exp_case {
    const char *in;
    int     rc;
    const char *out;                    /* result, or error substring */
};

static const struct exp_case exp_cases[] = {
    {"", 0, ""},
    {"plain text", 0, "plain text"},
    {"$myhostname", 0, "host.example.com"},
    {"${myhostname}", 0, "host.example.com"},
    {"$(myhostname)", 0, "host.example.com"},
    {"localhost.$mydomain", 0, "localhost.example.com"},
    {"$myhostname.", 0, "host.example.com."},
    {"$myhostname-x", 0, "host.example.com-x"},
    {"${dotted.name}", 0, "D"},
    {"$dotted.name", 0, ".name"},
    {"a$$b", 0, "a$b"},
    {"$$", 0, "$"},
    {"$", 0, "$"},
    {"a $ b", 0, "a $ b"},
    {"$-x", 0, "$-x"},
    {"$undefined!", 0, "!"},
    {"${undefined}", 0, ""},
    {"$chain", 0, "<host.example.com>"},
    {"$dollar", 0, "$HOME"},
    {"${mydomain?yes}", 0, "yes"},
    {"${empty?yes}", 0, ""},
    {"${undefined?yes}", 0, ""},
    {"${mydomain:no}", 0, ""},
    {"${empty:no}", 0, "no"},
    {"${undefined:no}", 0, "no"},
    {"${ref_empty:no}", 0, "no"},
    {"${ref_full?yes}", 0, "yes"},
    {"${mydomain?[$mydomain]}", 0, "[example.com]"},
    {"${mydomain?{a}:{b}}", 0, "a"},
    {"${empty?{a}:{b}}", 0, "b"},
    {"${empty? {a} : {b} }", 0, "b"},
    {"${mydomain?{$myhostname}:{b}}", 0, "host.example.com"},
    {"${mydomain?{a}}", 0, "a"},
    {"${empty:{x y}}", 0, "x y"},
    {"$(empty:paren)", 0, "paren"},
    {"$(mydomain?a(b)c)", 0, "a(b)c"},
    {"${mydomain?a{b}c}", 0, "a{b}c"},
    {"$nest1", 0, ""},
    {"${mydomain?${empty:inner}}", 0, "inner"},
    {"${unterminated", -1, "unterminated \"${\""},
    {"${myhostname", -1, "unterminated \"${\""},
    {"$(myhostname", -1, "unterminated \"$(\""},
    {"${mydomain?abc", -1, "unterminated \"${\""},
    {"${mydomain?{abc}", -1, "unterminated \"${\""},
    {"${mydomain?{abc", -1, "unterminated \"{\""},
    {"${mydomain?{a}:b}", -1, "expected \"{\" after \":\""},
    {"${mydomain?{a}x}", -1, "expected \"}\""},
    {"${}", -1, "missing parameter name"},
    {"${a b}", -1, "unexpected character ' '"},
    {"$loop_self", -1, "parameter reference loop: loop_self -> loop_self"},
    {"$loop_a", -1, "parameter reference loop: loop_a -> loop_b -> loop_a"},
    {"${loop_c}", -1, "parameter reference loop: loop_c -> loop_c"},
    {"$bad", -1, "unterminated \"${\" (in the value of bad)"},
};

static void test_expand_table(void **state)
{
    strbuf *out = strbuf_new(10);
    strbuf *err = strbuf_new(10);
    size_t  i;

    (void) state;
    for (i = 0; i < sizeof(exp_cases) / sizeof(exp_cases[0]); i++) {
        const struct exp_case *c = &exp_cases[i];
        int     rc;

        strbuf_set(out, "pre:", 4);
        strbuf_reset(err);
        rc = cfg_expand(c->in, lookup, NULL, out, err);
        if (rc != c->rc)
            fail_msg("\"%s\": rc %d, want %d (out \"%s\" err \"%s\")",
                     c->in, rc, c->rc, out->data, err->data);
        if (rc == 0) {
            if (strcmp(out->data + 4, c->out) != 0)
                fail_msg("\"%s\": got \"%s\", want \"%s\"", c->in, out->data + 4, c->out);
        } else {
            if (strstr(err->data, c->out) == NULL)
                fail_msg("\"%s\": error \"%s\" lacks \"%s\"", c->in, err->data, c->out);
            /* On error the output is left as it was. */
            assert_string_equal(out->data, "pre:");
        }
    }
    strbuf_free(out);
    strbuf_free(err);
}

static void test_expand_name(void **state)
{
    strbuf *out = strbuf_new(10);
    strbuf *err = strbuf_new(10);

    (void) state;
    assert_int_equal(cfg_expand_name("chain", lookup, NULL, out, err), 0);
    assert_string_equal(out->data, "<host.example.com>");
    strbuf_reset(out);
    assert_int_equal(cfg_expand_name("loop_b", lookup, NULL, out, err), -1);
    assert_string_equal(err->data, "parameter reference loop: loop_b -> loop_a -> loop_b");
    assert_int_equal(cfg_expand_name("bad", lookup, NULL, out, err), -1);
    assert_string_equal(err->data, "unterminated \"${\"");
    assert_int_equal(cfg_expand_name("ref_bad", lookup, NULL, out, err), -1);
    assert_string_equal(err->data, "unterminated \"${\" (in the value of bad)");
    assert_int_equal(cfg_expand_name("undefined", lookup, NULL, out, err), 0);
    assert_string_equal(out->data, "");
    strbuf_free(out);
    strbuf_free(err);
}

/* deep_lookup: p0 = $p1, p1 = $p2, ... up to the number in ctx. */
static const char *deep_lookup(const char *name, void *ctx)
{
    static char bufs[256][16];
    long    n, max = *(long *) ctx;

    if (name[0] != 'p' || sscanf(name + 1, "%ld", &n) != 1 || n < 0 || n > max || n >= 256)
        return NULL;
    if (n == max)
        return "end";
    (void) str_format(bufs[n], sizeof(bufs[n]), "$p%ld", n + 1);
    return bufs[n];
}

static void test_expand_depth(void **state)
{
    strbuf *out = strbuf_new(10);
    strbuf *err = strbuf_new(10);
    long    max;

    (void) state;
    max = CFG_EXPAND_DEPTH - 1;
    assert_int_equal(cfg_expand("$p0", deep_lookup, &max, out, err), 0);
    assert_string_equal(out->data, "end");
    strbuf_reset(out);
    max = CFG_EXPAND_DEPTH + 5;
    assert_int_equal(cfg_expand("$p0", deep_lookup, &max, out, err), -1);
    assert_true(strstr(err->data, "nested more than") != NULL);
    assert_string_equal(out->data, "");
    strbuf_free(out);
    strbuf_free(err);
}

/* blowup_lookup: bN = $b(N+1)$b(N+1) ... so $b0 doubles 40 times. */
static const char *blowup_lookup(const char *name, void *ctx)
{
    static char bufs[64][64];
    long    n;

    (void) ctx;
    if (sscanf(name, "b%ld", &n) != 1 || n < 0 || n >= 64)
        return NULL;
    if (n == 40)
        return "xxxxxxxxxxxxxxxx";
    (void) str_format(bufs[n], sizeof(bufs[n]), "$b%ld${b%ld}", n + 1, n + 1);
    return bufs[n];
}

/* cond_lookup: cN = ${c(N+1)?x}${c(N+1)?x}: exponential work, tiny output. */
static const char *cond_lookup(const char *name, void *ctx)
{
    static char bufs[64][64];
    long    n;

    (void) ctx;
    if (sscanf(name, "c%ld", &n) != 1 || n < 0 || n >= 64)
        return NULL;
    if (n == 40)
        return "$end";
    (void) str_format(bufs[n], sizeof(bufs[n]), "${c%ld?x}${c%ld?x}", n + 1, n + 1);
    return bufs[n];
}

static void test_expand_limits(void **state)
{
    strbuf *out = strbuf_new(10);
    strbuf *err = strbuf_new(10);

    (void) state;
    assert_int_equal(cfg_expand("$b0", blowup_lookup, NULL, out, err), -1);
    assert_true(strstr(err->data, "longer than") != NULL
                || strstr(err->data, "parameter references in one") != NULL);
    assert_int_equal(out->len, 0);
    assert_int_equal(cfg_expand("$c0", cond_lookup, NULL, out, err), -1);
    assert_true(strstr(err->data, "parameter references in one expansion") != NULL);
    /* A caller's own limit is kept and honoured. */
    strbuf_set_limit(out, 8);
    assert_int_equal(cfg_expand("$myhostname", lookup, NULL, out, err), -1);
    assert_int_equal(out->limit, 8);
    assert_int_equal(cfg_expand("$mydomain", lookup, NULL, out, err), -1);
    strbuf_set_limit(out, 0);
    assert_int_equal(cfg_expand("$mydomain", lookup, NULL, out, err), 0);
    strbuf_free(out);
    strbuf_free(err);
}

/* collect: cfg_refs callback that lists names. */
static void collect(const char *name, void *ctx)
{
    strbuf *sb = ctx;

    strbuf_printf(sb, "%s,", name);
}

static void test_refs(void **state)
{
    strbuf *sb = strbuf_new(10);

    (void) state;
    assert_int_equal(cfg_refs("$a ${b} $(c.d) $$e ${f?$g} ${h?{$i}:{${j}}} $k.l", collect, sb), 0);
    assert_string_equal(sb->data, "a,b,c.d,f,g,h,i,j,k,");
    strbuf_reset(sb);
    assert_int_equal(cfg_refs("$a ${b", collect, sb), -1);
    assert_string_equal(sb->data, "a,");
    strbuf_free(sb);
}

/* ------------------------------------------------------------ editing */

struct edit_case {
    const char *label;
    const char *in;
    cfg_edit edits[3];
    size_t  nedits;
    const char *out;
};

static const struct edit_case edit_cases[] = {
    {"append to empty", "", {{CFG_EDIT_SET, "a", "1"}}, 1, "a = 1\n"},
    {"append after no newline", "x = 1", {{CFG_EDIT_SET, "a", "1"}}, 1, "x = 1\na = 1\n"},
    {"replace keeps order and comments",
        "# head\nx = 1\n# about a\na = old\ny = 2\n",
        {{CFG_EDIT_SET, "a", "new"}}, 1,
    "# head\nx = 1\n# about a\na = new\ny = 2\n"},
    {"replace drops continuation lines",
        "a = one\n  two\n\tthree\nb = 2\n",
        {{CFG_EDIT_SET, "a", "x"}}, 1, "a = x\nb = 2\n"},
    {"replace keeps comments between continuation lines",
        "a = one\n# c\n  two\nb = 2\n",
        {{CFG_EDIT_SET, "a", "x"}}, 1, "a = x\n# c\nb = 2\n"},
    {"replace first, drop duplicates",
        "a = 1\nb = 2\na = 3\n  more\n",
        {{CFG_EDIT_SET, "a", "9"}}, 1, "a = 9\nb = 2\n"},
    {"prefix name not matched", "ab = 1\na.b = 2\n",
        {{CFG_EDIT_SET, "a", "9"}}, 1, "ab = 1\na.b = 2\na = 9\n"},
    {"name glued to '='", "a=1\n", {{CFG_EDIT_SET, "a", "2"}}, 1, "a = 2\n"},
    {"empty value", "a = 1\n", {{CFG_EDIT_SET, "a", ""}}, 1, "a =\n"},
    {"commented entry untouched", "#a = 1\n", {{CFG_EDIT_SET, "a", "2"}}, 1, "#a = 1\na = 2\n"},
    {"remove", "x = 1\na = 1\n  cont\n# keep\nb = 2\n",
        {{CFG_EDIT_REMOVE, "a", NULL}}, 1, "x = 1\n# keep\nb = 2\n"},
    {"remove all copies", "a = 1\na = 2\n", {{CFG_EDIT_REMOVE, "a", NULL}}, 1, ""},
    {"remove absent", "x = 1\n", {{CFG_EDIT_REMOVE, "a", NULL}}, 1, "x = 1\n"},
    {"comment out", "a = 1\n  cont\nb = 2\n",
        {{CFG_EDIT_COMMENT, "a", NULL}}, 1, "#a = 1\n#  cont\nb = 2\n"},
    {"several edits", "a = 1\nb = 2\n",
        {{CFG_EDIT_SET, "b", "3"}, {CFG_EDIT_SET, "c", "4"}, {CFG_EDIT_SET, "a", "5"}}, 3,
    "a = 5\nb = 3\nc = 4\n"},
    {"last edit wins", "",
        {{CFG_EDIT_SET, "a", "1"}, {CFG_EDIT_SET, "a", "2"}}, 2, "a = 2\n"},
    {"junk lines kept", "not a param\n  indented junk\n",
        {{CFG_EDIT_SET, "a", "1"}}, 1, "not a param\n  indented junk\na = 1\n"},
};

static void test_edit_table(void **state)
{
    strbuf *out = strbuf_new(10);
    strbuf *err = strbuf_new(10);
    size_t  i;

    (void) state;
    for (i = 0; i < sizeof(edit_cases) / sizeof(edit_cases[0]); i++) {
        const struct edit_case *c = &edit_cases[i];

        if (cfg_edit_text(c->in, strlen(c->in), "f", c->edits, c->nedits, out, err) != 0)
            fail_msg("%s: error %s", c->label, err->data);
        if (strcmp(out->data, c->out) != 0)
            fail_msg("%s: got\n%s\nwant\n%s", c->label, out->data, c->out);
    }
    strbuf_free(out);
    strbuf_free(err);
}

static void test_edit_bad_input(void **state)
{
    strbuf *out = strbuf_new(10);
    strbuf *err = strbuf_new(10);
    cfg_edit bad_name = {CFG_EDIT_SET, "a b", "1"};
    cfg_edit bad_value = {CFG_EDIT_SET, "a", "1\nb = 2"};

    (void) state;
    assert_int_equal(cfg_edit_text("", 0, "f", &bad_name, 1, out, err), -1);
    assert_true(strstr(err->data, "bad parameter name") != NULL);
    assert_int_equal(cfg_edit_text("", 0, "f", &bad_value, 1, out, err), -1);
    assert_true(strstr(err->data, "line break") != NULL);
    strbuf_free(out);
    strbuf_free(err);
}

static void test_edit_file(void **state)
{
    char   *dir = tmpdir();
    char   *path = str_concat(dir, "/main.cf", (char *) NULL);
    strbuf *err = strbuf_new(100);
    cfg_edit set = {CFG_EDIT_SET, "a", "2"};
    cfg_edit rm = {CFG_EDIT_REMOVE, "zzz", NULL};
    struct stat st1, st2;
    char   *text;

    (void) state;
    /* Creates a missing file. */
    assert_int_equal(cfg_edit_file(path, &set, 1, err), 0);
    text = read_all(path);
    assert_string_equal(text, "a = 2\n");
    mem_free(text);
    assert_int_equal(count_files(dir), 1);

    /* Replaces the file (new inode), keeps its mode, leaves no temp file. */
    write_file(path, "# c\na = 1\nb = 1\n");
    assert_int_equal(chmod(path, 0640), 0);
    assert_int_equal(stat(path, &st1), 0);
    assert_int_equal(cfg_edit_file(path, &set, 1, err), 0);
    assert_int_equal(stat(path, &st2), 0);
    assert_true(st1.st_ino != st2.st_ino);
    assert_int_equal(st2.st_mode & 07777, 0640);
    text = read_all(path);
    assert_string_equal(text, "# c\na = 2\nb = 1\n");
    mem_free(text);
    assert_int_equal(count_files(dir), 1);

    /* No change: the file is left alone. */
    assert_int_equal(cfg_edit_file(path, &rm, 1, err), 0);
    assert_int_equal(stat(path, &st1), 0);
    assert_true(st1.st_ino == st2.st_ino);

    /* A missing directory is an error, not a crash. */
    {
        char   *bad = str_concat(dir, "/nodir/main.cf", (char *) NULL);

        assert_int_equal(cfg_edit_file(bad, &set, 1, err), -1);
        assert_true(strstr(err->data, "nodir") != NULL);
        mem_free(bad);
    }
    rmtree(dir);
    mem_free(dir);
    mem_free(path);
    strbuf_free(err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_table),
        cmocka_unit_test(test_override_warns),
        cmocka_unit_test(test_embedded_nul),
        cmocka_unit_test(test_long_lines),
        cmocka_unit_test(test_load_file),
        cmocka_unit_test(test_read_file_limit),
        cmocka_unit_test(test_file_too_large),
        cmocka_unit_test(test_name_valid),
        cmocka_unit_test(test_expand_table),
        cmocka_unit_test(test_expand_name),
        cmocka_unit_test(test_expand_depth),
        cmocka_unit_test(test_expand_limits),
        cmocka_unit_test(test_refs),
        cmocka_unit_test(test_edit_table),
        cmocka_unit_test(test_edit_bad_input),
        cmocka_unit_test(test_edit_file),
    };

    testlib_setup();
    return cmocka_run_group_tests_name("cfg", tests, NULL, NULL);
}
