/*
 * Unit tests for lib/mail/attr.c: encoding of every byte, strict
 * decoding (each rejection), partial input, limits, attr_scan, stream
 * I/O and the protocol handshake over socketpairs, and golden files
 * tests/unit/data/attr/NAME.in (a list, one name=value per line, values
 * with \\ and \xHH escapes, '#' comments) against NAME.ref (the exact
 * encoded bytes). The data directory is found relative to the current
 * directory (the top of the tree, as make runs the tests) or
 * $POSTERN_SRCDIR.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>

#include "attr.h"
#include "attr_names.h"
#include "mem.h"
#include "strbuf.h"
#include "stream.h"
#include "testlib.h"

static const attr_limits big_limits = {100, 100000, 1000000};

/* lists_equal: same names and values in the same order. */
static int lists_equal(const attr_list *a, const attr_list *b)
{
    size_t  i;

    if (a->count != b->count)
        return 0;
    for (i = 0; i < a->count; i++) {
        if (strcmp(a->items[i].name, b->items[i].name) != 0
            || a->items[i].len != b->items[i].len
            || memcmp(a->items[i].value, b->items[i].value, a->items[i].len) != 0)
            return 0;
    }
    return 1;
}

/* decode_buf: attr_decode on a private copy of len bytes. */
static int decode_buf(const char *buf, size_t len, const attr_limits *limits,
                      attr_list *out, size_t *consumed, strbuf *err)
{
    /* Copy to an exact-size allocation so ASan sees any overread. */
    char   *copy = mem_memdup(buf, len ? len : 1);
    int     ret;

    ret = attr_decode(copy, len, limits, out, consumed, err);
    mem_free(copy);
    return ret;
}

/* Every byte value alone and all together survive encode + decode. */
static void test_every_byte(void **state)
{
    attr_list *list = attr_list_new();
    attr_list *back = attr_list_new();
    strbuf *enc = strbuf_new(0);
    strbuf *want = strbuf_new(0);
    strbuf *err = strbuf_new(0);
    unsigned char all[256];
    size_t  consumed;
    int     b;

    (void) state;
    for (b = 0; b < 256; b++) {
        unsigned char c = (unsigned char) b;
        int     esc = (b <= 0x20 || b == 0x7F || b == '%');

        attr_list_reset(list);
        attr_list_add(list, "v", &c, 1);
        strbuf_reset(enc);
        assert_int_equal(attr_encode(enc, list), 0);
        strbuf_reset(want);
        strbuf_puts(want, "v=");
        if (esc)
            strbuf_printf(want, "%%%02X", b);
        else
            strbuf_putc(want, b);
        strbuf_puts(want, "\n\n");
        assert_int_equal(enc->len, want->len);
        assert_memory_equal(enc->data, want->data, want->len);
        assert_int_equal(decode_buf(enc->data, enc->len, &big_limits, back,
                                    &consumed, err), 1);
        assert_int_equal(consumed, enc->len);
        assert_true(lists_equal(list, back));
        all[b] = c;
    }
    attr_list_reset(list);
    attr_list_add(list, "all", all, sizeof(all));
    attr_list_add(list, "empty", "", 0);
    strbuf_reset(enc);
    assert_int_equal(attr_encode(enc, list), 0);
    /* 35 bytes (0x00-0x20, 0x7F, '%') take 3 bytes each, 221 take one. */
    assert_int_equal(enc->len, strlen("all=") + 221 + 35 * 3 + 1 + strlen("empty=") + 1 + 1);
    assert_int_equal(decode_buf(enc->data, enc->len, &big_limits, back,
                                &consumed, err), 1);
    assert_true(lists_equal(list, back));
    assert_int_equal(back->items[0].value[256], 0);
    attr_list_free(list);
    attr_list_free(back);
    strbuf_free(enc);
    strbuf_free(want);
    strbuf_free(err);
}

/* Each escape decodes to its byte. */
static void test_escapes(void **state)
{
    static const struct {
        const char *wire;
        const char *value;
        size_t  len;
    } cases[] = {
        {"v=%00\n\n", "\0", 1},
        {"v=%20\n\n", " ", 1},
        {"v=%25\n\n", "%", 1},
        {"v=%7F\n\n", "\x7f", 1},
        {"v=%0D%0A\n\n", "\r\n", 2},
        {"v=%09x%1F\n\n", "\tx\x1f", 3},
        {"v=a=b\n\n", "a=b", 3},
        {"v=\xc3\xa9\n\n", "\xc3\xa9", 2},
        {"v=\n\n", "", 0},
    };
    attr_list *out = attr_list_new();
    strbuf *err = strbuf_new(0);
    size_t  consumed;
    size_t  i;

    (void) state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t  wlen = strlen(cases[i].wire);

        if (decode_buf(cases[i].wire, wlen, &big_limits, out, &consumed, err) != 1)
            fail_msg("case %zu: %s", i, err->data);
        assert_int_equal(consumed, wlen);
        assert_int_equal(out->count, 1);
        assert_int_equal(out->items[0].len, cases[i].len);
        assert_memory_equal(out->items[0].value, cases[i].value, cases[i].len);
    }
    attr_list_free(out);
    strbuf_free(err);
}

/* Every malformed input is rejected with a message saying what and where. */
static void test_rejections(void **state)
{
    static const struct {
        const char *wire;
        size_t  len;                    /* 0: strlen */
        const char *error;
    } cases[] = {
        {"v=%0a\n\n", 0, "line 1: bad escape in value of \"v\""},
        {"v=%a0\n\n", 0, "line 1: bad escape in value of \"v\""},
        {"v=%G0\n\n", 0, "line 1: bad escape"},
        {"v=%0G\n\n", 0, "line 1: bad escape"},
        {"v=%%20\n\n", 0, "line 1: bad escape"},
        {"v=%4\n\n", 0, "line 1: truncated escape in value of \"v\""},
        {"v=%\n\n", 0, "line 1: truncated escape"},
        {"v=%41\n\n", 0, "line 1: needless escape %41 in value of \"v\""},
        {"v=%C3\n\n", 0, "needless escape %C3"},
        {"v=a b\n\n", 0, "line 1: unescaped byte 0x20 in value of \"v\""},
        {"v=a\tb\n\n", 0, "unescaped byte 0x09"},
        {"v=a\x7f\n\n", 0, "unescaped byte 0x7F"},
        {"v=a\0b\n\n", 8, "unescaped byte 0x00"},
        {"v=a%b\n\n", 0, "bad escape"},
        {"v=a\r\n\n", 0, "line 1: carriage return in value of \"v\""},
        {"v\r=a\n\n", 0, "line 1: carriage return in attribute name"},
        {"v=a\r\n\r\n", 0, "line 1: carriage return in value"},
        {"v=a\n\r\n", 0, "line 2: carriage return in attribute name"},
        {"V=a\n\n", 0, "line 1: bad byte 0x56 in attribute name"},
        {"a-b=c\n\n", 0, "line 1: bad byte 0x2D in attribute name"},
        {"a b=c\n\n", 0, "bad byte 0x20 in attribute name"},
        {"\xc3\xa9=c\n\n", 0, "bad byte 0xC3 in attribute name"},
        {"=c\n\n", 0, "line 1: empty attribute name"},
        {"abc\n\n", 0, "line 1: no '=' in line"},
        {"a=1\nb=2\nc=%zz\n\n", 0, "line 3: bad escape in value of \"c\""},
        {"a=1\nb\n\n", 0, "line 2: no '=' in line"},
        {"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa=1\n\n", 0,
         "line 1: attribute name longer than 64 bytes"},
    };
    attr_list *out = attr_list_new();
    strbuf *err = strbuf_new(0);
    size_t  consumed;
    size_t  i;

    (void) state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t  len = cases[i].len ? cases[i].len : strlen(cases[i].wire);
        int     ret;

        strbuf_reset(err);
        ret = decode_buf(cases[i].wire, len, &big_limits, out, &consumed, err);
        if (ret != -1 || strstr(err->data, cases[i].error) == NULL)
            fail_msg("case %zu: ret %d, error \"%s\", want \"%s\"", i, ret,
                     err->data, cases[i].error);
        assert_int_equal(out->count, 0);
    }
    /* Exactly 64 name bytes is fine. */
    assert_int_equal(decode_buf("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa=1\n\n",
                                68, &big_limits, out, &consumed, err), 1);
    assert_int_equal(out->count, 1);
    /* Errors need no err buffer. */
    assert_int_equal(decode_buf("x\n\n", 3, &big_limits, out, &consumed, NULL), -1);
    attr_list_free(out);
    strbuf_free(err);
}

/* Every proper prefix of a message needs more input; bad ones fail early. */
static void test_partial(void **state)
{
    static const char msg[] = "sender=a%20b@x\nsize=12\nnote=%25\n\nnext=1\n\n";
    size_t  first = strlen("sender=a%20b@x\nsize=12\nnote=%25\n\n");
    attr_list *out = attr_list_new();
    strbuf *err = strbuf_new(0);
    size_t  consumed = 0;
    size_t  n;

    (void) state;
    for (n = 0; n < first; n++) {
        int     ret = decode_buf(msg, n, &big_limits, out, &consumed, err);

        if (ret != 0)
            fail_msg("prefix %zu: ret %d (%s)", n, ret, err->data);
        assert_int_equal(out->count, 0);
    }
    for (n = first; n <= sizeof(msg) - 1; n++) {
        assert_int_equal(decode_buf(msg, n, &big_limits, out, &consumed, err), 1);
        assert_int_equal(consumed, first);
        assert_int_equal(out->count, 3);
    }
    /* Two messages back to back: the second follows the first. */
    assert_int_equal(decode_buf(msg + first, sizeof(msg) - 1 - first, &big_limits,
                                out, &consumed, err), 1);
    assert_int_equal(consumed, sizeof(msg) - 1 - first);
    assert_int_equal(out->count, 1);
    assert_string_equal(attr_list_find(out, "next", NULL), "1");
    /* A bad byte is reported before the line ends. */
    assert_int_equal(decode_buf("v=a b", 5, &big_limits, out, &consumed, err), -1);
    assert_int_equal(decode_buf("v=%0a", 5, &big_limits, out, &consumed, err), -1);
    assert_int_equal(decode_buf("v=%g", 4, &big_limits, out, &consumed, err), -1);
    assert_int_equal(decode_buf("Va", 2, &big_limits, out, &consumed, err), -1);
    assert_int_equal(decode_buf("v\r", 2, &big_limits, out, &consumed, err), -1);
    assert_int_equal(decode_buf("=", 1, &big_limits, out, &consumed, err), -1);
    /* ... while an unfinished escape just waits. */
    assert_int_equal(decode_buf("v=%", 3, &big_limits, out, &consumed, err), 0);
    assert_int_equal(decode_buf("v=%0", 4, &big_limits, out, &consumed, err), 0);
    attr_list_free(out);
    strbuf_free(err);
}

/* Limits: count, value and message size, at and just over the bound. */
static void test_limits(void **state)
{
    static const struct {
        attr_limits limits;
        const char *wire;
        int     ret;
        const char *error;
    } cases[] = {
        {{2, 100, 1000}, "a=1\nb=2\n\n", 1, NULL},
        {{2, 100, 1000}, "a=1\nb=2\nc=3\n\n", -1, "line 3: more than 2 attributes"},
        {{2, 100, 1000}, "a=1\nb=2\nc", -1, "more than 2 attributes"},
        {{0, 100, 1000}, "\n", 1, NULL},
        {{0, 100, 1000}, "a=1\n\n", -1, "more than 0 attributes"},
        {{5, 3, 1000}, "a=abc\n\n", 1, NULL},
        {{5, 3, 1000}, "a=%00%00%00\n\n", 1, NULL},
        {{5, 3, 1000}, "a=abcd\n\n", -1, "line 1: value of \"a\" longer than 3 bytes"},
        {{5, 3, 1000}, "a=%00%00%00%00\n\n", -1, "value of \"a\" longer than 3 bytes"},
        {{5, 3, 1000}, "a=abcd", -1, "longer than 3 bytes"},
        {{5, 0, 1000}, "a=\n\n", 1, NULL},
        {{5, 0, 1000}, "a=x\n\n", -1, "longer than 0 bytes"},
        {{5, 100, 9}, "a=1\nb=2\n\n", 1, NULL},
        {{5, 100, 8}, "a=1\nb=2\n\n", -1, "message longer than 8 bytes"},
        {{5, 100, 8}, "a=1\nb=2\n", -1, "message longer than 8 bytes"},
        {{5, 100, 8}, "a=1\nb=23", -1, "message longer than 8 bytes"},
        {{5, 100, 8}, "a=1\nb=2", 0, NULL},
        {{5, 100, 0}, "", -1, "message longer than 0 bytes"},
        {{5, 100, 1}, "\n", 1, NULL},
    };
    attr_list *out = attr_list_new();
    strbuf *err = strbuf_new(0);
    size_t  consumed;
    size_t  i;

    (void) state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int     ret;

        strbuf_reset(err);
        ret = decode_buf(cases[i].wire, strlen(cases[i].wire), &cases[i].limits,
                         out, &consumed, err);
        if (ret != cases[i].ret
            || (cases[i].error && strstr(err->data, cases[i].error) == NULL))
            fail_msg("case %zu: ret %d, error \"%s\", want %d \"%s\"", i, ret,
                     err->data, cases[i].ret, cases[i].error ? cases[i].error : "");
    }
    attr_list_free(out);
    strbuf_free(err);
}

/* List helpers: add_long, add_str, find, reset; encode honours limits. */
static void test_list_and_encode(void **state)
{
    attr_list *list = attr_list_new();
    strbuf *out = strbuf_new(0);
    size_t  len;
    int     i;

    (void) state;
    attr_list_add_long(list, ATTR_NAME_SIZE, -42);
    attr_list_add_long(list, ATTR_NAME_OFFSET, 9223372036854775807L);
    attr_list_add_str(list, ATTR_NAME_SENDER, "a@b");
    attr_list_add(list, ATTR_NAME_REASON, "x\0y", 3);
    attr_list_add_str(list, ATTR_NAME_SENDER, "second");
    assert_string_equal(attr_list_find(list, ATTR_NAME_SIZE, NULL), "-42");
    assert_string_equal(attr_list_find(list, ATTR_NAME_OFFSET, NULL),
                        "9223372036854775807");
    assert_string_equal(attr_list_find(list, ATTR_NAME_SENDER, &len), "a@b");
    assert_int_equal(len, 3);
    assert_non_null(attr_list_find(list, ATTR_NAME_REASON, &len));
    assert_int_equal(len, 3);
    assert_null(attr_list_find(list, ATTR_NAME_STATUS, NULL));
    for (i = 0; i < 100; i++)
        attr_list_add_long(list, ATTR_NAME_COUNT, i);
    assert_int_equal(list->count, 105);
    attr_list_reset(list);
    assert_int_equal(list->count, 0);
    attr_list_add_str(list, ATTR_NAME_SENDER, "a b");

    /* Encoding appends; a limit that would be passed leaves out as it was. */
    strbuf_puts(out, "pre:");
    assert_int_equal(attr_encode(out, list), 0);
    assert_string_equal(out->data, "pre:sender=a%20b\n\n");
    strbuf_set_limit(out, out->len + 5);
    assert_int_equal(attr_encode(out, list), -1);
    assert_string_equal(out->data, "pre:sender=a%20b\n\n");

    assert_int_equal(attr_name_ok("abc_09", 6), 1);
    assert_int_equal(attr_name_ok("", 0), 0);
    assert_int_equal(attr_name_ok("aB", 2), 0);
    TESTLIB_EXPECT_EXIT(MSG_PANIC, attr_list_add_str(list, "Bad", "x"));
    TESTLIB_EXPECT_EXIT(MSG_PANIC, attr_list_add_str(list, "", "x"));
    TESTLIB_EXPECT_EXIT(MSG_PANIC, attr_list_add_str(list, "a=b", "x"));
    assert_null(attr_list_free(list));
    strbuf_free(out);
}

/* attr_scan: types, bounds, and unknown/duplicate/missing attributes. */
static void test_scan(void **state)
{
    attr_list *list = attr_list_new();
    strbuf *err = strbuf_new(0);
    const char *sender = "preset";
    const char *data = NULL;
    const char *opt = "default";
    size_t  dlen = 0;
    long    size = -1;
    long    flags = 77;
    attr_spec specs[] = {
        ATTR_SPEC_STR(ATTR_NAME_SENDER, 1, &sender),
        ATTR_SPEC_LONG(ATTR_NAME_SIZE, 1, 0, 100, &size),
        ATTR_SPEC_DATA(ATTR_NAME_REASON, 0, &data, &dlen),
        ATTR_SPEC_STR(ATTR_NAME_NEXTHOP, 0, &opt),
        ATTR_SPEC_LONG(ATTR_NAME_FLAGS, 0, 0, 10, &flags),
    };
    int     nspecs = (int) (sizeof(specs) / sizeof(specs[0]));
    static const struct {
        const char *wire;
        const char *error;              /* NULL: success */
    } cases[] = {
        {"sender=a@b\nsize=100\n\n", NULL},
        {"size=0\nsender=\nreason=x%00y\n\n", NULL},
        {"sender=a@b\n\n", "missing attribute \"size\""},
        {"size=1\n\n", "missing attribute \"sender\""},
        {"sender=a@b\nsize=1\nsender=c@d\n\n", "duplicate attribute \"sender\""},
        {"sender=a@b\nsize=1\nbogus=1\n\n", "unknown attribute \"bogus\""},
        {"sender=a@b\nsize=101\n\n", "attribute \"size\": not a number in 0..100"},
        {"sender=a@b\nsize=-1\n\n", "attribute \"size\": not a number in 0..100"},
        {"sender=a@b\nsize=1x\n\n", "attribute \"size\": not a number"},
        {"sender=a@b\nsize=\n\n", "attribute \"size\": not a number"},
        {"sender=a@b\nsize=%001\n\n", "attribute \"size\": not a number"},
        {"sender=a@b\nsize=99999999999999999999999\n\n", "\"size\": not a number"},
        {"sender=a%00b\nsize=1\n\n", "attribute \"sender\": NUL byte in text value"},
        {"sender=a\nsize=1\nflags=11\n\n", "attribute \"flags\": not a number in 0..10"},
    };
    size_t  consumed;
    size_t  i;

    (void) state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int     ret;

        assert_int_equal(decode_buf(cases[i].wire, strlen(cases[i].wire), &big_limits,
                                    list, &consumed, err), 1);
        strbuf_reset(err);
        ret = attr_scan(list, specs, nspecs, err);
        if (cases[i].error == NULL ? ret != 0
            : (ret != -1 || strstr(err->data, cases[i].error) == NULL))
            fail_msg("case %zu: ret %d, error \"%s\"", i, ret, err->data);
    }
    /* The outputs of a successful scan. */
    {
        static const char ok[] = "size=7\nreason=a%00b\nsender=s@x\n\n";

        assert_int_equal(decode_buf(ok, sizeof(ok) - 1, &big_limits, list,
                                    &consumed, err), 1);
    }
    sender = NULL;
    data = NULL;
    opt = "default";
    flags = 77;
    assert_int_equal(attr_scan(list, specs, nspecs, err), 0);
    assert_string_equal(sender, "s@x");
    assert_int_equal(size, 7);
    assert_int_equal(dlen, 3);
    assert_memory_equal(data, "a\0b", 3);
    /* Absent optional attributes keep the caller's defaults. */
    assert_string_equal(opt, "default");
    assert_int_equal(flags, 77);
    /* An empty spec list accepts only an empty message. */
    assert_int_equal(attr_scan(list, specs, 0, err), -1);
    attr_list_reset(list);
    assert_int_equal(attr_scan(list, specs, 0, err), 0);
    attr_list_free(list);
    strbuf_free(err);
}

/* data_dir: the golden-file directory, into dir. */
static void data_dir(strbuf *dir)
{
    const char *top = getenv("POSTERN_SRCDIR");

    strbuf_reset(dir);
    strbuf_printf(dir, "%s/tests/unit/data/attr", top ? top : ".");
}

/* read_file: whole file into a strbuf, or fail the test. */
static strbuf *read_file(const char *path)
{
    strbuf *sb = strbuf_new(0);
    stream *s = stream_open(path, O_RDONLY, 0);
    char    buf[4096];
    ssize_t n;

    if (s == NULL)
        fail_msg("cannot open %s: %s", path, strerror(errno));
    while ((n = stream_read(s, buf, sizeof(buf))) > 0)
        strbuf_append(sb, buf, (size_t) n);
    assert_int_equal(n, 0);
    stream_close(s);
    return sb;
}

/* parse_in: a .in file (name=value lines, \\ and \xHH) into a list. */
static void parse_in(const strbuf *text, attr_list *list)
{
    const char *p = text->data;
    const char *end = text->data + text->len;

    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t) (end - p));
        const char *eol = nl ? nl : end;
        const char *eq;
        strbuf *value = strbuf_new(0);
        char    name[80];

        if (eol > p && *p != '#') {
            eq = memchr(p, '=', (size_t) (eol - p));
            assert_non_null(eq);
            assert_true((size_t) (eq - p) < sizeof(name));
            memcpy(name, p, (size_t) (eq - p));
            name[eq - p] = 0;
            for (eq++; eq < eol; eq++) {
                if (*eq != '\\') {
                    strbuf_putc(value, *eq);
                } else if (eq + 1 < eol && eq[1] == '\\') {
                    strbuf_putc(value, '\\');
                    eq++;
                } else {
                    char    hex[3] = {0, 0, 0};

                    assert_true(eq + 3 < eol + 1 && eq[1] == 'x');
                    hex[0] = eq[2];
                    hex[1] = eq[3];
                    strbuf_putc(value, (int) strtol(hex, NULL, 16));
                    eq += 3;
                }
            }
            attr_list_add(list, name, value->data, value->len);
        }
        strbuf_free(value);
        p = eol + 1;
    }
}

/* Golden files: each NAME.in encodes to exactly NAME.ref and back. */
static void test_golden(void **state)
{
    strbuf *dir = strbuf_new(0);
    strbuf *path = strbuf_new(0);
    DIR    *d;
    struct dirent *de;
    int     pairs = 0;
    attr_list *list = attr_list_new();
    attr_list *back = attr_list_new();
    strbuf *enc = strbuf_new(0);
    strbuf *err = strbuf_new(0);

    (void) state;
    data_dir(dir);
    d = opendir(dir->data);
    if (d == NULL)
        fail_msg("cannot open %s (run from the top of the tree or set "
                 "POSTERN_SRCDIR): %s", dir->data, strerror(errno));
    while ((de = readdir(d)) != NULL) {
        size_t  nlen = strlen(de->d_name);
        strbuf *in;
        strbuf *ref;
        size_t  consumed;

        if (nlen < 4 || strcmp(de->d_name + nlen - 3, ".in") != 0)
            continue;
        strbuf_reset(path);
        strbuf_printf(path, "%s/%s", dir->data, de->d_name);
        in = read_file(path->data);
        strbuf_reset(path);
        strbuf_printf(path, "%s/%.*s.ref", dir->data, (int) (nlen - 3), de->d_name);
        ref = read_file(path->data);
        attr_list_reset(list);
        parse_in(in, list);
        strbuf_reset(enc);
        assert_int_equal(attr_encode(enc, list), 0);
        if (enc->len != ref->len || memcmp(enc->data, ref->data, enc->len) != 0)
            fail_msg("%s: encoding differs from the .ref file", de->d_name);
        assert_int_equal(decode_buf(ref->data, ref->len, &big_limits, back,
                                    &consumed, err), 1);
        assert_int_equal(consumed, ref->len);
        if (!lists_equal(list, back))
            fail_msg("%s: decoding the .ref file gives another list", de->d_name);
        strbuf_free(in);
        strbuf_free(ref);
        pairs++;
    }
    closedir(d);
    assert_true(pairs >= 1);
    strbuf_free(dir);
    strbuf_free(path);
    attr_list_free(list);
    attr_list_free(back);
    strbuf_free(enc);
    strbuf_free(err);
}

/* attr_write/attr_read over a socketpair: several messages, big values. */
static void test_stream_io(void **state)
{
    int     sp[2];
    stream *w;
    stream *r;
    attr_list *a = attr_list_new();
    attr_list *b = attr_list_new();
    attr_list *got = attr_list_new();
    strbuf *err = strbuf_new(0);
    char   *big = mem_alloc(20000);
    size_t  i;

    (void) state;
    for (i = 0; i < 20000; i++)
        big[i] = (char) (i * 7);
    attr_list_add_str(a, ATTR_NAME_QUEUE_ID, "ABC123");
    attr_list_add(a, ATTR_NAME_REASON, big, 20000);
    attr_list_add_str(b, ATTR_NAME_STATUS, "0");
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sp), 0);
    w = stream_fdopen(sp[0], STREAM_F_WRITE);
    r = stream_fdopen(sp[1], STREAM_F_READ);
    stream_set_timeout(r, 5000);
    assert_int_equal(attr_write(w, a), 0);
    assert_int_equal(attr_write(w, b), 0);
    assert_int_equal(attr_write(w, b), 0);
    assert_int_equal(attr_read(r, &big_limits, got, err), 0);
    assert_true(lists_equal(a, got));
    assert_int_equal(attr_read(r, &big_limits, got, err), 0);
    assert_true(lists_equal(b, got));
    /* Only one message is consumed; the next stays buffered. */
    assert_int_equal(stream_buffered(r), strlen("status=0\n\n"));
    assert_int_equal(attr_read(r, &big_limits, got, err), 0);
    assert_true(lists_equal(b, got));
    /* The peer is idle: timeout. */
    stream_set_timeout(r, 50);
    assert_int_equal(attr_read(r, &big_limits, got, err), -1);
    assert_non_null(strstr(err->data, "timeout"));
    assert_int_equal(got->count, 0);
    stream_clear_error(r);
    /* EOF in the middle of a message, then at its start. */
    assert_int_equal(stream_puts(w, "status=0\n"), 0);
    assert_int_equal(stream_close(w), 0);
    assert_int_equal(attr_read(r, &big_limits, got, err), -1);
    assert_string_equal(err->data, "unexpected end of file in message (line 2)");
    assert_int_equal(got->count, 0);
    stream_clear_error(r);
    assert_int_equal(attr_read(r, &big_limits, got, err), -1);
    assert_string_equal(err->data, "end of file before message");
    stream_close(r);
    attr_list_free(a);
    attr_list_free(b);
    attr_list_free(got);
    strbuf_free(err);
    mem_free(big);
}

/* attr_read rejects malformed and oversized input from a stream. */
static void test_stream_reject(void **state)
{
    static const struct {
        attr_limits limits;
        const char *wire;
        const char *error;
    } cases[] = {
        {{10, 100, 1000}, "a=1\nb=%zz\n\n", "line 2: bad escape in value of \"b\""},
        {{10, 100, 1000}, "a=1\r\n\r\n", "line 1: carriage return in value of \"a\""},
        {{10, 100, 1000}, "a=1\nb=2\n\r\n", "line 3: carriage return in attribute name"},
        {{10, 100, 1000}, "a=1\nnoequals\n\n", "line 2: no '=' in line"},
        {{1, 100, 1000}, "a=1\nb=2\n\n", "line 2: more than 1 attributes"},
        {{10, 4, 1000}, "a=12345\n\n", "line 1: value of \"a\" longer than 4 bytes"},
        {{10, 4, 1000}, "a=12345678901234567890123456789012345678901234567890"
         "123456789012345678901234567890123456789012345678901234567890\n\n",
         "line 1: value of \"a\" longer than 4 bytes"},
        {{10, 100, 10}, "a=1\nb=2\nc=3\n\n", "message longer than 10 bytes"},
        {{10, 100, 10}, "a=123456789012\n\n", "message longer than 10 bytes"},
        {{10, 100, 8}, "a=1\nb=2\n\n", "message longer than 8 bytes"},
        {{10, 100, 1000}, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n\n",
         "line 1: attribute name longer than 64 bytes"},
    };
    size_t  i;

    (void) state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int     sp[2];
        stream *r;
        attr_list *got = attr_list_new();
        strbuf *err = strbuf_new(0);

        assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sp), 0);
        assert_int_equal(write(sp[0], cases[i].wire, strlen(cases[i].wire)),
                         (ssize_t) strlen(cases[i].wire));
        r = stream_fdopen(sp[1], STREAM_F_READ);
        stream_set_timeout(r, 5000);
        if (attr_read(r, &cases[i].limits, got, err) != -1
            || strstr(err->data, cases[i].error) == NULL)
            fail_msg("case %zu: error \"%s\", want \"%s\"", i, err->data,
                     cases[i].error);
        assert_int_equal(got->count, 0);
        stream_close(r);
        close(sp[0]);
        attr_list_free(got);
        strbuf_free(err);
    }
}

/* The protocol name is exchanged first; anything else is refused. */
static void test_protocol(void **state)
{
    static const struct {
        const char *wire;               /* NULL: use attr_send_protocol */
        const char *error;              /* NULL: success */
    } cases[] = {
        {NULL, NULL},
        {"protocol=cleanup_protocol\n\n", NULL},
        {"protocol=postdrop_protocol\n\n",
         "unexpected protocol \"postdrop_protocol\" (expected \"cleanup_protocol\")"},
        {"protocol=%0Aevil%1B\n\n", "unexpected protocol \"?evil?\""},
        {"protocol=cleanup_protocol\nextra=1\n\n", "unknown attribute \"extra\""},
        {"protocol=cleanup_protocol\nprotocol=cleanup_protocol\n\n",
         "duplicate attribute \"protocol\""},
        {"status=0\n\n", "unknown attribute \"status\""},
        {"\n", "missing attribute \"protocol\""},
        {"protocol=cleanup_protocol\n", "unexpected end of file"},
        {"", "end of file before message"},
    };
    size_t  i;

    (void) state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int     sp[2];
        stream *server;
        stream *client;
        strbuf *err = strbuf_new(0);
        int     ret;

        assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sp), 0);
        server = stream_fdopen(sp[0], STREAM_F_RDWR);
        client = stream_fdopen(sp[1], STREAM_F_RDWR);
        stream_set_timeout(client, 5000);
        if (cases[i].wire == NULL)
            assert_int_equal(attr_send_protocol(server, ATTR_PROTO_CLEANUP), 0);
        else
            assert_int_equal(stream_puts(server, cases[i].wire), 0);
        assert_int_equal(stream_close(server), 0);
        ret = attr_expect_protocol(client, ATTR_PROTO_CLEANUP, err);
        if (cases[i].error == NULL ? ret != 0
            : (ret != -1 || strstr(err->data, cases[i].error) == NULL))
            fail_msg("case %zu: ret %d, error \"%s\"", i, ret, err->data);
        stream_close(client);
        strbuf_free(err);
    }
}

/* A silent server makes the handshake time out. */
static void test_protocol_timeout(void **state)
{
    int     sp[2];
    stream *client;
    strbuf *err = strbuf_new(0);

    (void) state;
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sp), 0);
    client = stream_fdopen(sp[1], STREAM_F_RDWR);
    stream_set_timeout(client, 50);
    assert_int_equal(attr_expect_protocol(client, ATTR_PROTO_CLEANUP, err), -1);
    assert_non_null(strstr(err->data, "timeout"));
    assert_true(stream_timed_out(client));
    stream_close(client);
    close(sp[0]);
    strbuf_free(err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_byte),
        cmocka_unit_test(test_escapes),
        cmocka_unit_test(test_rejections),
        cmocka_unit_test(test_partial),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_list_and_encode),
        cmocka_unit_test(test_scan),
        cmocka_unit_test(test_golden),
        cmocka_unit_test(test_stream_io),
        cmocka_unit_test(test_stream_reject),
        cmocka_unit_test(test_protocol),
        cmocka_unit_test(test_protocol_timeout),
    };

    testlib_setup();
    return cmocka_run_group_tests_name("attr", tests, NULL, NULL);
}
