/*
 * Unit tests for lib/mail/qfile.c: the queue file writer and reader.
 *
 * Files are built two ways: with the writer (round trips, golden file,
 * in-place updates) and with a small independent encoder in this file
 * (raw_build), so that damaged files can be made record by record.
 *
 * Set QFILE_GOLDEN_UPDATE=1 to rewrite tests/unit/data/qfile/basic.ref
 * after a deliberate format change.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
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
#include "numparse.h"
#include "qfile.h"
#include "stream.h"
#include "strbuf.h"
#include "strutil.h"
#include "testlib.h"

#define MAXREC      4096
#define GOLDEN_IN   "tests/unit/data/qfile/basic.in"
#define GOLDEN_REF  "tests/unit/data/qfile/basic.ref"

/* ------------------------------------------------------------ helpers */

/* tmp_fd: an unlinked temporary file open for reading and writing. */
static int tmp_fd(void)
{
    char    path[] = "/tmp/test_qfile.XXXXXX";
    int     fd = mkstemp(path);

    assert_true(fd >= 0);
    unlink(path);
    return fd;
}

/* file_bytes: the whole content of fd. */
static strbuf *file_bytes(int fd)
{
    strbuf *sb = strbuf_new(1024);
    char    buf[4096];
    off_t   off = 0;
    ssize_t n;

    while ((n = pread(fd, buf, sizeof(buf), off)) > 0) {
        strbuf_append(sb, buf, (size_t) n);
        off += n;
    }
    assert_true(n == 0);
    return sb;
}

/* mem_fd: a temporary file holding the given bytes. */
static int mem_fd(const void *data, size_t len)
{
    int     fd = tmp_fd();

    assert_int_equal(pwrite(fd, data, len, 0), (ssize_t) len);
    return fd;
}

typedef void (*fill_fn) (qfile_writer *w);

/* write_file: run fill on a writer over a temp file, finish, update header. */
static int write_file(fill_fn fill, size_t max_record)
{
    int     fd = tmp_fd();
    stream *s = stream_fdopen(fd, STREAM_F_WRITE | STREAM_F_NOCLOSE);
    qfile_writer *w = qfile_writer_new(s, max_record);
    qfile_header h;

    fill(w);
    if (qfile_finish(w, &h) < 0)
        fail_msg("qfile_finish: %s", qfile_writer_error(w));
    assert_int_equal(qfile_update_header(fd, &h), 0);
    qfile_writer_free(w);
    assert_int_equal(stream_close(s), 0);
    return fd;
}

/* read_env_mem: strict envelope parse of bytes; NULL with err on failure. */
static qfile_envelope *read_env_mem(const strbuf *bytes, int flags, strbuf *err)
{
    qfile_reader *rd = qfile_reader_mem(bytes->data, bytes->len, MAXREC);
    qfile_envelope *env = qfile_read_envelope(rd, flags, err);

    qfile_reader_free(rd);
    return env;
}

/* read_content: all content as text with LF line ends; -1 on error. */
static int read_content(qfile_reader *rd, const qfile_envelope *env,
                        strbuf *out, strbuf *err)
{
    strbuf *piece = strbuf_new(64);
    int     r;

    strbuf_reset(out);
    if (qfile_content_start(rd, env, err) < 0) {
        strbuf_free(piece);
        return -1;
    }
    while ((r = qfile_content_next(rd, piece, err)) > 0) {
        strbuf_append(out, piece->data, piece->len);
        if (r == QFILE_CONTENT_LINE)
            strbuf_putc(out, '\n');
    }
    strbuf_free(piece);
    return r;
}

/* ------------------------------------------------------------ sample */

static const char long_line_char = 'x';

/* fill_sample: an envelope with every record type. */
static void fill_sample(qfile_writer *w)
{
    char    longline[300];
    static const char nul_line[] = "a\0b\0";

    memset(longline, long_line_char, sizeof(longline));
    assert_int_equal(qfile_put_header(w, QFILE_FLAG_8BITMIME), 0);
    assert_int_equal(qfile_put_time(w, 1700000000, 42), 0);
    assert_int_equal(qfile_put_sender(w, "alice@example.org"), 0);
    assert_int_equal(qfile_put_attr(w, "client_name", "mail.example.org"), 0);
    assert_int_equal(qfile_put_attr(w, "empty", ""), 0);
    assert_int_equal(qfile_put_envid(w, "ENV1"), 0);
    assert_int_equal(qfile_put_ret(w, QFILE_RET_FULL), 0);
    assert_int_equal(qfile_put_warn(w, 1700003600), 0);
    assert_int_equal(qfile_put_rcpt(w, "bob@example.com", "Bob@example.com",
                                    "rfc822;Bob@example.com",
                                    QFILE_NOTIFY_FAILURE | QFILE_NOTIFY_DELAY), 0);
    assert_int_equal(qfile_put_rcpt(w, "carol@example.net", NULL, NULL, 0), 0);
    assert_int_equal(qfile_put_rcpt(w, "dan@example.net", "", NULL,
                                    QFILE_NOTIFY_NEVER), 0);
    assert_int_equal(qfile_put_content_start(w), 0);
    assert_int_equal(qfile_put_text(w, "Subject: test\n\nbody\n", 20, 0), 0);
    assert_int_equal(qfile_put_line(w, longline, sizeof(longline), 128), 0);
    assert_int_equal(qfile_put_line(w, nul_line, 4, 0), 0);
    assert_int_equal(qfile_put_extracted(w), 0);
    assert_int_equal(qfile_put_attr(w, "errors_to", "err@example.org"), 0);
    assert_int_equal(qfile_put_rcpt(w, "erin@example.com", NULL, NULL, 0), 0);
}

/* expected_sample_content: the content fill_sample writes, LF line ends. */
static strbuf *expected_sample_content(void)
{
    strbuf *sb = strbuf_new(512);
    int     i;

    strbuf_puts(sb, "Subject: test\n\nbody\n");
    for (i = 0; i < 300; i++)
        strbuf_putc(sb, long_line_char);
    strbuf_putc(sb, '\n');
    strbuf_append(sb, "a\0b\0\n", 5);
    return sb;
}

/* check_sample: the envelope of fill_sample. */
static void check_sample(const qfile_envelope *env)
{
    assert_int_equal(env->header.version, 1);
    assert_int_equal(env->header.flags, QFILE_FLAG_8BITMIME);
    assert_int_equal(env->header.rcpt_count, 4);
    assert_int_equal(env->header.content_size, 20 + 301 + 5);
    assert_int_equal(env->arrival_sec, 1700000000);
    assert_int_equal(env->arrival_usec, 42);
    assert_string_equal(env->sender, "alice@example.org");
    assert_string_equal(env->envid, "ENV1");
    assert_int_equal(env->ret, QFILE_RET_FULL);
    assert_int_equal(env->warn_time, 1700003600);
    assert_true(env->warn_offset > 0);
    assert_int_equal(env->nattrs, 3);
    assert_string_equal(qfile_envelope_attr(env, "client_name"), "mail.example.org");
    assert_string_equal(qfile_envelope_attr(env, "empty"), "");
    assert_string_equal(qfile_envelope_attr(env, "errors_to"), "err@example.org");
    assert_null(qfile_envelope_attr(env, "missing"));
    assert_int_equal(env->nrcpts, 4);
    assert_string_equal(env->rcpts[0].address, "bob@example.com");
    assert_string_equal(env->rcpts[0].orig, "Bob@example.com");
    assert_string_equal(env->rcpts[0].orcpt, "rfc822;Bob@example.com");
    assert_int_equal(env->rcpts[0].notify, QFILE_NOTIFY_FAILURE | QFILE_NOTIFY_DELAY);
    assert_int_equal(env->rcpts[0].extracted, 0);
    assert_string_equal(env->rcpts[1].address, "carol@example.net");
    assert_null(env->rcpts[1].orig);
    assert_null(env->rcpts[1].orcpt);
    assert_int_equal(env->rcpts[1].notify, 0);
    assert_string_equal(env->rcpts[2].orig, "");
    assert_int_equal(env->rcpts[2].notify, QFILE_NOTIFY_NEVER);
    assert_string_equal(env->rcpts[3].address, "erin@example.com");
    assert_int_equal(env->rcpts[3].extracted, 1);
    assert_true(env->rcpts[0].offset < env->rcpts[1].offset);
    assert_true(env->rcpts[2].offset < env->header.content_offset);
    assert_true(env->rcpts[3].offset > env->header.tail_offset);
}

static void test_roundtrip(void **state)
{
    int     fd = write_file(fill_sample, MAXREC);
    strbuf *bytes = file_bytes(fd);
    strbuf *err = strbuf_new(100);
    strbuf *content = strbuf_new(100);
    strbuf *expect = expected_sample_content();
    qfile_reader *rd;
    qfile_envelope *env;
    size_t  i;
    int     flags;

    (void) state;
    /* fd reader, both modes */
    for (flags = 0; flags <= QFILE_ENV_SKIP_CONTENT; flags += QFILE_ENV_SKIP_CONTENT) {
        rd = qfile_reader_fd(fd, MAXREC);
        env = qfile_read_envelope(rd, flags, err);
        if (env == NULL)
            fail_msg("read_envelope: %s", err->data);
        check_sample(env);
        for (i = 0; i < env->nrcpts; i++)
            assert_int_equal(env->rcpts[i].done, 0);
        assert_int_equal(env->ndone, 0);
        assert_int_equal(read_content(rd, env, content, err), 0);
        assert_int_equal(content->len, expect->len);
        assert_memory_equal(content->data, expect->data, expect->len);
        assert_int_equal(content->len, (size_t) env->header.content_size);
        qfile_envelope_free(env);
        qfile_reader_free(rd);
    }
    /* memory reader */
    rd = qfile_reader_mem(bytes->data, bytes->len, MAXREC);
    env = qfile_read_envelope(rd, 0, err);
    assert_non_null(env);
    check_sample(env);
    assert_int_equal(read_content(rd, env, content, err), 0);
    assert_memory_equal(content->data, expect->data, expect->len);
    /* content can be read twice */
    assert_int_equal(read_content(rd, env, content, err), 0);
    assert_int_equal(content->len, expect->len);
    /* after the end, next keeps saying end */
    assert_int_equal(qfile_content_next(rd, content, err), QFILE_CONTENT_END);
    qfile_envelope_free(env);
    qfile_reader_free(rd);

    /* The file starts with the fixed-size header record. */
    assert_int_equal((unsigned char) bytes->data[0], 'C');
    assert_int_equal((unsigned char) bytes->data[1], QFILE_HEADER_LEN);
    assert_int_equal(bytes->data[bytes->len - 2], 'E');
    assert_int_equal(bytes->data[bytes->len - 1], 0);

    strbuf_free(expect);
    strbuf_free(content);
    strbuf_free(err);
    strbuf_free(bytes);
    close(fd);
}

/* Every proper prefix of a valid file is rejected, by both readers. */
static void test_truncation_everywhere(void **state)
{
    int     fd = write_file(fill_sample, MAXREC);
    strbuf *bytes = file_bytes(fd);
    strbuf *err = strbuf_new(100);
    strbuf *content = strbuf_new(100);
    size_t  cut;
    int     flags;

    (void) state;
    for (cut = 0; cut < bytes->len; cut++) {
        for (flags = 0; flags <= QFILE_ENV_SKIP_CONTENT; flags += QFILE_ENV_SKIP_CONTENT) {
            qfile_reader *rd = qfile_reader_mem(bytes->data, cut, MAXREC);
            qfile_envelope *env;

            strbuf_reset(err);
            env = qfile_read_envelope(rd, flags, err);
            if (env != NULL)
                fail_msg("prefix of %zu bytes (flags %d) accepted", cut, flags);
            if (strncmp(err->data, "offset ", 7) != 0)
                fail_msg("prefix %zu: bad error \"%s\"", cut, err->data);
            qfile_reader_free(rd);
        }
        /* Same through a file descriptor. */
        assert_int_equal(ftruncate(fd, (off_t) cut), 0);
        {
            qfile_reader *rd = qfile_reader_fd(fd, MAXREC);

            assert_null(qfile_read_envelope(rd, 0, err));
            qfile_reader_free(rd);
        }
    }
    /* And the whole file is fine again. */
    assert_int_equal(pwrite(fd, bytes->data, bytes->len, 0), (ssize_t) bytes->len);
    {
        qfile_reader *rd = qfile_reader_fd(fd, MAXREC);
        qfile_envelope *env = qfile_read_envelope(rd, 0, err);

        assert_non_null(env);
        qfile_envelope_free(env);
        qfile_reader_free(rd);
    }
    strbuf_free(content);
    strbuf_free(err);
    strbuf_free(bytes);
    close(fd);
}

/* ------------------------------------------------------------ raw files */

#define AUTO (-1L)
#define MAX_RAW 32

/* raw_rec: append one record with a test-local encoder. */
static void raw_rec(strbuf *b, int type, const void *data, size_t len)
{
    size_t  v = len;

    strbuf_putc(b, type);
    do {
        strbuf_putc(b, (int) ((v & 0x7f) | (v >> 7 ? 0x80 : 0)));
        v >>= 7;
    } while (v);
    strbuf_append(b, data, len);
}

/*
 * raw_build: a file from a spec "Xpayload|Ypayload|..." (each item: type
 * byte then payload), preceded by a header record whose fields are
 * computed from the records unless hdr[i] != AUTO. offsets[k] receives
 * the offset of record k (0 = header).
 */
static strbuf *raw_build(const char *spec, const long hdr[6], off_t *offsets)
{
    strbuf *body = strbuf_new(256);
    strbuf *file = strbuf_new(256);
    long    v[6] = {1, 0, 0, 0, 0, 0};
    char    hbuf[QFILE_HEADER_LEN + 1];
    qfile_header h;
    const char *p = spec;
    int     k = 1;
    int     in_content = 0;
    int     i;
    off_t   base = 2 + QFILE_HEADER_LEN;

    while (*p) {
        const char *bar = strchr(p, '|');
        size_t  len = bar ? (size_t) (bar - p) : strlen(p);
        off_t   off = base + (off_t) body->len;

        if (offsets)
            offsets[k] = off;
        k++;
        if (p[0] == 'M' && v[1] == 0) {
            v[1] = off;
            in_content = 1;
        } else if (in_content && (p[0] == 'X' || p[0] == 'E')) {
            v[2] = off;
            in_content = 0;
        } else if (in_content && p[0] == 'N') {
            v[3] += (long) len;
        } else if (in_content && p[0] == 'L') {
            v[3] += (long) len - 1;
        } else if (p[0] == 'R' || p[0] == 'D') {
            v[4]++;
        }
        raw_rec(body, p[0], p + 1, len - 1);
        p += len + (bar ? 1 : 0);
    }
    if (offsets) {
        offsets[0] = 0;
        offsets[k] = base + (off_t) body->len;  /* end of file */
    }
    for (i = 0; i < 6; i++)
        if (hdr && hdr[i] != AUTO)
            v[i] = hdr[i];
    h.version = v[0];
    h.content_offset = v[1];
    h.tail_offset = v[2];
    h.content_size = v[3];
    h.rcpt_count = v[4];
    h.flags = v[5];
    assert_int_equal(qfile_format_header(hbuf, sizeof(hbuf), &h), 0);
    raw_rec(file, 'C', hbuf, QFILE_HEADER_LEN);
    strbuf_append(file, body->data, body->len);
    strbuf_free(body);
    return file;
}

/* expand: replace "@K" in a pattern by the offset of record K. */
static void expand(strbuf *out, const char *pattern, const off_t *offsets)
{
    const char *p;

    strbuf_reset(out);
    for (p = pattern; *p; p++) {
        if (*p == '@' && p[1] >= '0' && p[1] <= '9') {
            long    k;
            size_t  n = (p[2] >= '0' && p[2] <= '9') ? 2 : 1;

            assert_int_equal(num_parse_long_n(p + 1, n, 0, MAX_RAW - 1, &k), 0);
            strbuf_printf(out, "%lld", (long long) offsets[k]);
            p += n;
        } else {
            strbuf_putc(out, *p);
        }
    }
}

#define ENV_OK "T1700000000 5|Salice@x|Aa=1|Ob@y|orfc822;b@y|n2|Rb@y"

static const struct {
    const char *name;
    const char *spec;
    long    hdr[6];
    int     flags;
    const char *error;                  /* exact message, @K = offset of record K */
} raw_cases[] = {
    {"valid", ENV_OK "|M|Nline|Lpa|Nrt|X|Rc@z|E", {AUTO, AUTO, AUTO, AUTO, AUTO, AUTO},
     0, NULL},
    {"valid skip", ENV_OK "|M|Nline|Lpa|Nrt|X|Rc@z|E", {AUTO, AUTO, AUTO, AUTO, AUTO, AUTO},
     QFILE_ENV_SKIP_CONTENT, NULL},
    {"valid empty content, no X", "T1 0|S|Rb@y|M|E", {AUTO, AUTO, AUTO, AUTO, AUTO, AUTO},
     0, NULL},
    {"valid done rcpt", "T1 0|S|Db@y|M|E", {AUTO, AUTO, AUTO, AUTO, AUTO, AUTO},
     0, NULL},
    {"unknown type", ENV_OK "|Zzz|M|E", {AUTO, AUTO, AUTO, AUTO, AUTO, AUTO}, 0,
     "offset @8: unknown record type 'Z'"},
    {"unknown type byte", ENV_OK "|\x01|M|E", {AUTO, AUTO, AUTO, AUTO, AUTO, AUTO}, 0,
     "offset @8: unknown record type 0x01"},
    {"content record in envelope", ENV_OK "|Nline|M|E",
     {AUTO, AUTO, AUTO, AUTO, AUTO, AUTO}, 0,
     "offset @8: record type 'N' not allowed in envelope segment"},
    {"end in envelope", ENV_OK "|E", {AUTO, AUTO, AUTO, AUTO, AUTO, AUTO}, 0,
     "offset @8: record type 'E' not allowed in envelope segment"},
    {"header twice", ENV_OK "|C|M|E", {AUTO, AUTO, AUTO, AUTO, AUTO, AUTO}, 0,
     "offset @8: record type 'C' not allowed in envelope segment"},
    {"envelope record in content", ENV_OK "|M|Nx|Salice|E",
     {AUTO, AUTO, AUTO, AUTO, AUTO, AUTO}, 0,
     "offset @10: record type 'S' not allowed in content segment"},
    {"M twice", ENV_OK "|M|M|E", {AUTO, AUTO, AUTO, AUTO, AUTO, AUTO}, 0,
     "offset @9: record type 'M' not allowed in content segment"},
    {"content record in extracted", ENV_OK "|M|X|Nline|E",
     {AUTO, AUTO, AUTO, AUTO, AUTO, AUTO}, 0,
     "offset @10: record type 'N' not allowed in extracted segment"},
    {"X twice", ENV_OK "|M|X|X|E", {AUTO, AUTO, AUTO, AUTO, AUTO, AUTO}, 0,
     "offset @10: record type 'X' not allowed in extracted segment"},
    {"time in extracted", ENV_OK "|M|X|T1 1|E", {AUTO, AUTO, AUTO, AUTO, AUTO, AUTO},
     0, "offset @10: record type 'T' not allowed in extracted segment"},
    {"missing end", ENV_OK "|M|Nline", {AUTO, AUTO, AUTO, AUTO, AUTO, AUTO}, 0,
     "offset @10: missing end record (file ends in the content segment)"},
    {"missing end after X", ENV_OK "|M|X|Rc@z", {AUTO, AUTO, AUTO, AUTO, AUTO, AUTO}, 0,
     "offset @11: missing end record (file ends in the extracted segment)"},
    {"missing content", ENV_OK, {AUTO, AUTO, AUTO, AUTO, AUTO, AUTO}, 0,
     "offset @8: missing end record (file ends in the envelope segment)"},
    {"data after end", ENV_OK "|M|E|Nx", {AUTO, AUTO, AUTO, AUTO, AUTO, AUTO}, 0,
     "offset @10: data after the end record"},
    {"end with payload", ENV_OK "|M|Ex", {AUTO, AUTO, AUTO, AUTO, AUTO, AUTO}, 0,
     "offset @9: bad end record: marker record has a payload"},
    {"M with payload", ENV_OK "|Mx|E", {AUTO, AUTO, AUTO, AUTO, AUTO, AUTO}, 0,
     "offset @8: bad content start record: marker record has a payload"},
    {"X with payload", ENV_OK "|M|Xx|E", {AUTO, AUTO, AUTO, AUTO, AUTO, AUTO}, 0,
     "offset @9: bad extracted start record: marker record has a payload"},
    {"missing sender", "T1 0|Rb@y|M|E", {AUTO, AUTO, AUTO, AUTO, AUTO, AUTO}, 0,
     "offset @3: missing sender record"},
    {"missing time", "S|Rb@y|M|E", {AUTO, AUTO, AUTO, AUTO, AUTO, AUTO}, 0,
     "offset @3: missing arrival time record"},
    {"sender twice", ENV_OK "|S|M|E", {AUTO, AUTO, AUTO, AUTO, AUTO, AUTO}, 0,
     "offset @8: second sender record"},
    {"time twice", "T1 0|S|T1 0|Rb@y|M|E", {AUTO, AUTO, AUTO, AUTO, AUTO, AUTO}, 0,
     "offset @3: second arrival time record"},
    {"no recipients", "T1 0|S|M|E", {AUTO, AUTO, AUTO, AUTO, AUTO, AUTO}, 0,
     "offset @4: no recipients"},
    {"rcpt count high", ENV_OK "|M|E", {AUTO, AUTO, AUTO, AUTO, 2, AUTO}, 0,
     "offset 0: header says 2 recipients, the file has 1"},
    {"rcpt count low", ENV_OK "|M|X|Rc@z|E", {AUTO, AUTO, AUTO, AUTO, 1, AUTO}, 0,
     "offset 0: header says 1 recipients, the file has 2"},
    {"content offset wrong", ENV_OK "|M|E", {AUTO, 100, AUTO, AUTO, AUTO, AUTO}, 0,
     "offset @8: content starts here but the header says offset 100"},
    {"tail offset wrong", ENV_OK "|M|Nx|E", {AUTO, AUTO, 5, AUTO, AUTO, AUTO}, 0,
     "offset @10: content ends here but the header says offset 5"},
    {"content size wrong", ENV_OK "|M|Nx|E", {AUTO, AUTO, AUTO, 3, AUTO, AUTO}, 0,
     "offset @10: content size is 2 but the header says 3"},
    {"skip: tail into content", ENV_OK "|M|Nx|Ny|E", {AUTO, AUTO, 0, AUTO, AUTO, AUTO},
     QFILE_ENV_SKIP_CONTENT,
     "offset 0: header content size or end offset inconsistent with the content offset"},
    {"skip: size too large", ENV_OK "|M|Nx|E", {AUTO, AUTO, AUTO, 4, AUTO, AUTO},
     QFILE_ENV_SKIP_CONTENT,
     "offset 0: header content size or end offset inconsistent with the content offset"},
    {"skip: tail beyond file", ENV_OK "|M|Nx|E", {AUTO, AUTO, 100000, AUTO, AUTO, AUTO},
     QFILE_ENV_SKIP_CONTENT,
     "offset 100000: missing end record (file ends in the content segment)"},
    {"version 2", ENV_OK "|M|E", {2, AUTO, AUTO, AUTO, AUTO, AUTO}, 0,
     "offset 0: unsupported format version 2"},
    {"unknown flags", ENV_OK "|M|E", {AUTO, AUTO, AUTO, AUTO, AUTO, 8}, 0,
     "offset 0: unknown header flags 8"},
    {"partial at end", ENV_OK "|M|Lx|E", {AUTO, AUTO, AUTO, AUTO, AUTO, AUTO}, 0,
     "offset @10: partial line not continued at the end of the content"},
    {"partial before X", ENV_OK "|M|Lx|X|E", {AUTO, AUTO, AUTO, AUTO, AUTO, AUTO}, 0,
     "offset @10: partial line not continued at the end of the content"},
    {"orig without rcpt", "T1 0|S|Rb@y|Oorig@y|M|E", {AUTO, AUTO, AUTO, AUTO, AUTO, AUTO},
     0, "offset @5: recipient attributes without a recipient record"},
    {"notify without rcpt at end", "T1 0|S|Rb@y|M|X|n1|E",
     {AUTO, AUTO, AUTO, AUTO, AUTO, AUTO}, 0,
     "offset @7: recipient attributes without a recipient record"},
    {"orig twice", "T1 0|S|Oa@y|Ob@y|Rb@y|M|E", {AUTO, AUTO, AUTO, AUTO, AUTO, AUTO}, 0,
     "offset @4: second original recipient record for one recipient"},
    {"attribute between orcpt and rcpt", "T1 0|S|orfc822;a|Aa=b|Rb@y|M|E",
     {AUTO, AUTO, AUTO, AUTO, AUTO, AUTO}, 0,
     "offset @4: attribute record between recipient attributes and their recipient"},
    {"bad time", "T1700000000|S|Rb@y|M|E", {AUTO, AUTO, AUTO, AUTO, AUTO, AUTO}, 0,
     "offset @1: bad arrival time record: arrival time is not \"seconds microseconds\""},
    {"bad usec", "T1 1000000|S|Rb@y|M|E", {AUTO, AUTO, AUTO, AUTO, AUTO, AUTO}, 0,
     "offset @1: bad arrival time record: arrival time is not \"seconds microseconds\""},
    {"signed time", "T-1 0|S|Rb@y|M|E", {AUTO, AUTO, AUTO, AUTO, AUTO, AUTO}, 0,
     "offset @1: bad arrival time record: arrival time is not \"seconds microseconds\""},
    {"huge time", "T99999999999999999999 0|S|Rb@y|M|E", {AUTO, AUTO, AUTO, AUTO, AUTO, AUTO},
     0, "offset @1: bad arrival time record: arrival time is not \"seconds microseconds\""},
    {"CR in sender", "T1 0|Sa\rb|Rb@y|M|E", {AUTO, AUTO, AUTO, AUTO, AUTO, AUTO}, 0,
     "offset @2: bad sender record: address contains NUL, CR or LF"},
    {"LF in rcpt", "T1 0|S|Rb\n@y|M|E", {AUTO, AUTO, AUTO, AUTO, AUTO, AUTO}, 0,
     "offset @3: bad recipient record: address contains NUL, CR or LF"},
    {"empty rcpt", "T1 0|S|R|M|E", {AUTO, AUTO, AUTO, AUTO, AUTO, AUTO}, 0,
     "offset @3: bad recipient record: empty recipient address"},
    {"empty done rcpt", "T1 0|S|D|M|E", {AUTO, AUTO, AUTO, AUTO, AUTO, AUTO}, 0,
     "offset @3: bad done recipient record: empty recipient address"},
    {"attr without =", "T1 0|S|Aname|Rb@y|M|E", {AUTO, AUTO, AUTO, AUTO, AUTO, AUTO}, 0,
     "offset @3: bad attribute record: attribute is not name=value with a valid name"},
    {"attr empty name", "T1 0|S|A=x|Rb@y|M|E", {AUTO, AUTO, AUTO, AUTO, AUTO, AUTO}, 0,
     "offset @3: bad attribute record: attribute is not name=value with a valid name"},
    {"attr bad name", "T1 0|S|Aa b=x|Rb@y|M|E", {AUTO, AUTO, AUTO, AUTO, AUTO, AUTO}, 0,
     "offset @3: bad attribute record: attribute is not name=value with a valid name"},
    {"attr duplicate", "T1 0|S|Aa=x|Rb@y|M|X|Aa=y|E", {AUTO, AUTO, AUTO, AUTO, AUTO, AUTO},
     0, "offset @7: duplicate attribute \"a\""},
    {"bad ret", "T1 0|S|<full|Rb@y|M|E", {AUTO, AUTO, AUTO, AUTO, AUTO, AUTO}, 0,
     "offset @3: bad DSN return record: RET is not FULL or HDRS"},
    {"ret twice", "T1 0|S|<FULL|<HDRS|Rb@y|M|E", {AUTO, AUTO, AUTO, AUTO, AUTO, AUTO}, 0,
     "offset @4: second DSN return record"},
    {"empty envid", "T1 0|S|i|Rb@y|M|E", {AUTO, AUTO, AUTO, AUTO, AUTO, AUTO}, 0,
     "offset @3: bad envelope id record: envelope id is empty or contains NUL, CR or LF"},
    {"notify never+success", "T1 0|S|n9|Rb@y|M|E", {AUTO, AUTO, AUTO, AUTO, AUTO, AUTO}, 0,
     "offset @3: bad DSN notify record: NOTIFY is not a valid flag number"},
    {"notify zero", "T1 0|S|n0|Rb@y|M|E", {AUTO, AUTO, AUTO, AUTO, AUTO, AUTO}, 0,
     "offset @3: bad DSN notify record: NOTIFY is not a valid flag number"},
    {"notify 16", "T1 0|S|n16|Rb@y|M|E", {AUTO, AUTO, AUTO, AUTO, AUTO, AUTO}, 0,
     "offset @3: bad DSN notify record: NOTIFY is not a valid flag number"},
    {"orcpt without type", "T1 0|S|ob@y|Rb@y|M|E", {AUTO, AUTO, AUTO, AUTO, AUTO, AUTO}, 0,
     "offset @3: bad DSN original recipient record: ORCPT is not \"type;address\" "
     "without NUL, CR or LF"},
    {"warn short", "T1 0|S|W123|Rb@y|M|E", {AUTO, AUTO, AUTO, AUTO, AUTO, AUTO}, 0,
     "offset @3: bad warning time record: warning time is not a 15-digit number"},
    {"warn not digits", "T1 0|S|W00000000000000x|Rb@y|M|E",
     {AUTO, AUTO, AUTO, AUTO, AUTO, AUTO}, 0,
     "offset @3: bad warning time record: warning time is not a 15-digit number"},
    {"warn twice", "T1 0|S|W000000000000000|W000000000000000|Rb@y|M|E",
     {AUTO, AUTO, AUTO, AUTO, AUTO, AUTO}, 0, "offset @4: second warning time record"},
};

static void test_raw_cases(void **state)
{
    strbuf *err = strbuf_new(100);
    strbuf *want = strbuf_new(100);
    size_t  i;

    (void) state;
    for (i = 0; i < sizeof(raw_cases) / sizeof(raw_cases[0]); i++) {
        off_t   offsets[MAX_RAW];
        strbuf *bytes = raw_build(raw_cases[i].spec, raw_cases[i].hdr, offsets);
        qfile_envelope *env;

        strbuf_reset(err);
        env = read_env_mem(bytes, raw_cases[i].flags, err);
        if (raw_cases[i].error == NULL) {
            if (env == NULL)
                fail_msg("case \"%s\": %s", raw_cases[i].name, err->data);
        } else {
            expand(want, raw_cases[i].error, offsets);
            if (env != NULL)
                fail_msg("case \"%s\": accepted", raw_cases[i].name);
            if (strcmp(err->data, want->data) != 0)
                fail_msg("case \"%s\": got \"%s\", want \"%s\"", raw_cases[i].name,
                         err->data, want->data);
        }
        qfile_envelope_free(env);
        strbuf_free(bytes);
    }
    strbuf_free(want);
    strbuf_free(err);
}

/* Damage to the framing itself: header, lengths, limits. */
static void test_framing_errors(void **state)
{
    static const long autoh[6] = {AUTO, AUTO, AUTO, AUTO, AUTO, AUTO};
    strbuf *err = strbuf_new(100);
    strbuf *bytes;
    strbuf *file;
    off_t   offsets[MAX_RAW];
    qfile_reader *rd;
    qfile_record rec;
    qfile_envelope *env;

    (void) state;
    /* Empty file. */
    file = strbuf_new(10);
    assert_null(read_env_mem(file, 0, err));
    assert_string_equal(err->data, "offset 0: empty file (missing header record)");

    /* First record is not the header. */
    raw_rec(file, 'T', "1 0", 3);
    assert_null(read_env_mem(file, 0, err));
    assert_string_equal(err->data, "offset 0: first record is 'T', not the header");

    /* Header with a bad field, or of the wrong length. */
    bytes = raw_build("T1 0|S|Rb@y|M|E", autoh, offsets);
    bytes->data[2 + 16 + 3] = 'x';
    assert_null(read_env_mem(bytes, 0, err));
    assert_string_equal(err->data, "offset 0: bad header record: fields are not six "
                        "15-digit numbers");
    bytes->data[2 + 16 + 3] = '0';
    bytes->data[2 + 15] = '0';          /* separator */
    assert_null(read_env_mem(bytes, 0, err));
    assert_string_equal(err->data, "offset 0: bad header record: fields are not six "
                        "15-digit numbers");
    strbuf_free(bytes);
    strbuf_reset(file);
    raw_rec(file, 'C', "000000000000001", 15);
    assert_null(read_env_mem(file, 0, err));
    assert_string_equal(err->data, "offset 0: bad header record: fields are not six "
                        "15-digit numbers");

    /* Length not in the shortest form: 'T' 0x83 0x00 "1 0". */
    bytes = raw_build("T1 0|S|Rb@y|M|E", autoh, offsets);
    strbuf_reset(file);
    strbuf_append(file, bytes->data, (size_t) offsets[1]);
    strbuf_append(file, "T\x83\x00" "1 0", 6);
    strbuf_append(file, bytes->data + offsets[2], bytes->len - (size_t) offsets[2]);
    assert_null(read_env_mem(file, 0, err));
    expand(bytes, "offset @1: bad length encoding (not in the shortest form)", offsets);
    assert_string_equal(err->data, bytes->data);

    /* Length of five bytes. */
    strbuf_truncate(file, (size_t) offsets[1]);
    strbuf_append(file, "T\x80\x80\x80\x80\x01", 6);
    assert_null(read_env_mem(file, 0, err));
    expand(bytes, "offset @1: bad length encoding (longer than 4 bytes)", offsets);
    assert_string_equal(err->data, bytes->data);

    /* Length over the reader's limit (and huge, 4 bytes). */
    strbuf_truncate(file, (size_t) offsets[1]);
    strbuf_append(file, "N\xff\xff\xff\x7f", 5);
    assert_null(read_env_mem(file, 0, err));
    expand(bytes, "offset @1: record length 268435455 exceeds the limit 4096", offsets);
    assert_string_equal(err->data, bytes->data);

    /* Truncated in the length and in the payload. */
    strbuf_truncate(file, (size_t) offsets[1]);
    strbuf_append(file, "N\x85", 2);
    assert_null(read_env_mem(file, 0, err));
    expand(bytes, "offset @1: truncated record (in the length)", offsets);
    assert_string_equal(err->data, bytes->data);
    strbuf_truncate(file, (size_t) offsets[1]);
    strbuf_append(file, "N\x05" "abc", 5);
    assert_null(read_env_mem(file, 0, err));
    expand(bytes, "offset @1: truncated record (3 of 5 payload bytes)", offsets);
    assert_string_equal(err->data, bytes->data);
    strbuf_free(bytes);

    /* A record exactly at the limit passes; one byte more fails. */
    strbuf_reset(file);
    {
        char    big[200];

        memset(big, 'y', sizeof(big));
        raw_rec(file, 'N', big, 200);
        rd = qfile_reader_mem(file->data, file->len, 200);
        assert_int_equal(qfile_read_record(rd, &rec, err), 1);
        assert_int_equal(rec.len, 200);
        assert_int_equal(rec.type, 'N');
        assert_int_equal(rec.offset, 0);
        assert_int_equal(qfile_read_record(rd, &rec, err), 0);
        qfile_reader_free(rd);
        rd = qfile_reader_mem(file->data, file->len, 199);
        assert_int_equal(qfile_read_record(rd, &rec, err), -1);
        assert_string_equal(err->data, "offset 0: record length 200 exceeds the limit 199");
        qfile_reader_free(rd);
    }

    /* Read error through an fd: a directory. */
    {
        int     fd = open("/", O_RDONLY);

        assert_true(fd >= 0);
        rd = qfile_reader_fd(fd, MAXREC);
        env = qfile_read_envelope(rd, 0, err);
        assert_null(env);
        assert_true(str_has_prefix(err->data, "offset 0: read error: "));
        qfile_reader_free(rd);
        close(fd);
    }
    strbuf_free(file);
    strbuf_free(err);
}

/* Records carry NUL bytes through; the iterator reports offsets. */
static void test_record_iteration(void **state)
{
    static const long autoh[6] = {AUTO, AUTO, AUTO, AUTO, AUTO, AUTO};
    off_t   offsets[MAX_RAW];
    strbuf *bytes = raw_build("T1 0|S|Rb@y|M|Nab|E", autoh, offsets);
    strbuf *err = strbuf_new(100);
    qfile_reader *rd = qfile_reader_mem(bytes->data, bytes->len, MAXREC);
    qfile_record rec;
    const char *types = "CTSRMNE";
    int     k = 0;

    (void) state;
    while (qfile_read_record(rd, &rec, err) == 1) {
        assert_int_equal(rec.type, types[k]);
        assert_int_equal(rec.offset, offsets[k]);
        assert_int_equal(rec.data[rec.len], 0);
        k++;
    }
    assert_int_equal(k, 7);
    /* The spec string stops at the NUL, so make one by hand. */
    strbuf_free(bytes);
    bytes = strbuf_new(10);
    raw_rec(bytes, 'N', "a\0b", 3);
    qfile_reader_free(rd);
    rd = qfile_reader_mem(bytes->data, bytes->len, MAXREC);
    assert_int_equal(qfile_read_record(rd, &rec, err), 1);
    assert_int_equal(rec.len, 3);
    assert_memory_equal(rec.data, "a\0b", 3);
    assert_int_equal(qfile_reader_offset(rd), 5);
    qfile_reader_seek(rd, 0);
    assert_int_equal(qfile_read_record(rd, &rec, err), 1);
    assert_int_equal(qfile_read_record(rd, &rec, err), 0);
    qfile_reader_free(rd);
    strbuf_free(bytes);
    strbuf_free(err);
}

/* ------------------------------------------------------------ in place */

static void test_mark_done(void **state)
{
    int     fd = write_file(fill_sample, MAXREC);
    strbuf *before = file_bytes(fd);
    strbuf *after;
    strbuf *err = strbuf_new(100);
    qfile_reader *rd = qfile_reader_fd(fd, MAXREC);
    qfile_envelope *env = qfile_read_envelope(rd, 0, err);
    off_t   off1, off3;
    size_t  i, diffs = 0;

    (void) state;
    assert_non_null(env);
    off1 = env->rcpts[1].offset;
    off3 = env->rcpts[3].offset;
    assert_int_equal(qfile_mark_done(fd, off1), 0);
    assert_int_equal(qfile_mark_done(fd, off3), 0);
    assert_int_equal(qfile_mark_done(fd, off1), 0);    /* idempotent */
    qfile_envelope_free(env);

    after = file_bytes(fd);
    assert_int_equal(after->len, before->len);
    for (i = 0; i < after->len; i++)
        if (after->data[i] != before->data[i]) {
            diffs++;
            assert_true((off_t) i == off1 || (off_t) i == off3);
            assert_int_equal(before->data[i], 'R');
            assert_int_equal(after->data[i], 'D');
        }
    assert_int_equal(diffs, 2);

    env = qfile_read_envelope(rd, 0, err);
    assert_non_null(env);
    assert_int_equal(env->ndone, 2);
    assert_int_equal(env->rcpts[0].done, 0);
    assert_int_equal(env->rcpts[1].done, 1);
    assert_int_equal(env->rcpts[2].done, 0);
    assert_int_equal(env->rcpts[3].done, 1);
    assert_string_equal(env->rcpts[1].address, "carol@example.net");

    /* Not a recipient record: refused, nothing written. */
    errno = 0;
    assert_int_equal(qfile_mark_done(fd, env->rcpts[0].offset - 1), -1);
    assert_int_equal(errno, EINVAL);
    assert_int_equal(qfile_mark_done(fd, 0), -1);
    assert_int_equal(qfile_mark_done(fd, (off_t) after->len + 10), -1);
    strbuf_free(after);
    after = file_bytes(fd);
    assert_int_equal(after->data[off1], 'D');
    qfile_envelope_free(env);
    qfile_reader_free(rd);
    strbuf_free(after);
    strbuf_free(before);
    strbuf_free(err);
    close(fd);
}

/* collect_pending: every pending recipient, slice by slice of max. */
static size_t collect_pending(qfile_reader *rd, const qfile_envelope *env,
                              size_t max, strbuf *names, size_t *slices)
{
    off_t   cursor = 0;
    size_t  total = 0, n, i;
    qfile_rcpt *r;
    strbuf *err = strbuf_new(64);
    int     rc;

    *slices = 0;
    do {
        rc = qfile_read_pending(rd, env, &cursor, max, &r, &n, err);
        if (rc < 0)
            fail_msg("qfile_read_pending: %s", err->data);
        assert_true(n <= max);
        for (i = 0; i < n; i++) {
            strbuf_printf(names, "%s%s|%s|%d|%d;", r[i].address,
                          r[i].extracted ? "(x)" : "",
                          r[i].orig ? r[i].orig : "-", r[i].notify,
                          r[i].done);
        }
        total += n;
        (*slices)++;
        qfile_rcpts_free(r, n);
    } while (rc == 1);
    strbuf_free(err);
    return total;
}

static void test_read_pending(void **state)
{
    int     fd = write_file(fill_sample, MAXREC);
    strbuf *err = strbuf_new(100);
    strbuf *names = strbuf_new(100);
    qfile_reader *rd = qfile_reader_fd(fd, MAXREC);
    qfile_envelope *env, *full;
    size_t  slices, max;

    (void) state;
    /* Counting parse: checked and counted, nothing kept. */
    env = qfile_read_envelope(rd, QFILE_ENV_SKIP_CONTENT | QFILE_ENV_COUNT_RCPTS, err);
    assert_non_null(env);
    assert_null(env->rcpts);
    assert_int_equal(env->nrcpts, 4);
    assert_int_equal(env->ndone, 0);
    full = qfile_read_envelope(rd, 0, err);
    assert_non_null(full);

    /* Any slice size gives the same recipients, in file order. */
    for (max = 1; max <= 5; max++) {
        strbuf_reset(names);
        assert_int_equal(collect_pending(rd, env, max, names, &slices), 4);
        assert_string_equal(names->data,
                            "bob@example.com|Bob@example.com|6|0;"
                            "carol@example.net|-|0|0;"
                            "dan@example.net||8|0;"
                            "erin@example.com(x)|-|0|0;");
        assert_true(slices >= (4 + max - 1) / max);
    }

    /* Done recipients are skipped, offsets are the R records'. */
    assert_int_equal(qfile_mark_done(fd, full->rcpts[0].offset), 0);
    assert_int_equal(qfile_mark_done(fd, full->rcpts[3].offset), 0);
    strbuf_reset(names);
    assert_int_equal(collect_pending(rd, env, 1, names, &slices), 2);
    assert_string_equal(names->data, "carol@example.net|-|0|0;"
                        "dan@example.net||8|0;");
    {
        off_t   cursor = 0;
        qfile_rcpt *r;
        size_t  n;

        assert_int_equal(qfile_read_pending(rd, env, &cursor, 10, &r, &n, err), 0);
        assert_int_equal(n, 2);
        assert_true(r[0].offset == full->rcpts[1].offset);
        assert_true(r[1].offset == full->rcpts[2].offset);
        qfile_rcpts_free(r, n);
    }
    qfile_envelope_free(env);
    env = qfile_read_envelope(rd, QFILE_ENV_SKIP_CONTENT | QFILE_ENV_COUNT_RCPTS, err);
    assert_non_null(env);
    assert_int_equal(env->ndone, 2);

    /* A truncated file is an error, nothing returned. */
    {
        strbuf *bytes = file_bytes(fd);
        qfile_reader *trd = qfile_reader_mem(bytes->data, bytes->len - 3, MAXREC);
        off_t   cursor = 0;
        qfile_rcpt *r = (qfile_rcpt *) 1;
        size_t  n = 99;

        assert_int_equal(qfile_read_pending(trd, env, &cursor, 100, &r, &n, err), -1);
        assert_null(r);
        assert_int_equal(n, 0);
        assert_true(err->len > 0);
        qfile_reader_free(trd);
        strbuf_free(bytes);
    }
    qfile_envelope_free(env);
    qfile_envelope_free(full);
    qfile_reader_free(rd);
    strbuf_free(err);
    strbuf_free(names);
    close(fd);
}

static void test_update_warn(void **state)
{
    int     fd = write_file(fill_sample, MAXREC);
    strbuf *err = strbuf_new(100);
    qfile_reader *rd = qfile_reader_fd(fd, MAXREC);
    qfile_envelope *env = qfile_read_envelope(rd, 0, err);
    off_t   woff;

    (void) state;
    assert_non_null(env);
    woff = env->warn_offset;
    qfile_envelope_free(env);
    assert_int_equal(qfile_update_warn(fd, woff, 1800000000), 0);
    env = qfile_read_envelope(rd, 0, err);
    assert_non_null(env);
    assert_int_equal(env->warn_time, 1800000000);
    qfile_envelope_free(env);
    assert_int_equal(qfile_update_warn(fd, woff, 0), 0);
    env = qfile_read_envelope(rd, 0, err);
    assert_int_equal(env->warn_time, 0);
    /* Wrong offset, bad values. */
    assert_int_equal(qfile_update_warn(fd, env->rcpts[0].offset, 5), -1);
    assert_int_equal(errno, EINVAL);
    assert_int_equal(qfile_update_warn(fd, woff, -1), -1);
    assert_int_equal(qfile_update_warn(fd, woff, 1000000000000000L), -1);
    qfile_envelope_free(env);
    qfile_reader_free(rd);
    strbuf_free(err);
    close(fd);
}

static void fill_small(qfile_writer *w)
{
    assert_int_equal(qfile_put_header(w, 0), 0);
    assert_int_equal(qfile_put_time(w, 10, 20), 0);
    assert_int_equal(qfile_put_sender(w, ""), 0);
    assert_int_equal(qfile_put_rcpt(w, "root", NULL, NULL, 0), 0);
    assert_int_equal(qfile_put_content_start(w), 0);
    assert_int_equal(qfile_put_line(w, "hello", 5, 0), 0);
}

static void test_header_update(void **state)
{
    int     fd = tmp_fd();
    stream *s = stream_fdopen(fd, STREAM_F_WRITE | STREAM_F_NOCLOSE);
    qfile_writer *w = qfile_writer_new(s, MAXREC);
    strbuf *err = strbuf_new(100);
    qfile_reader *rd;
    qfile_envelope *env;
    qfile_header h;

    (void) state;
    fill_small(w);
    assert_int_equal(qfile_finish(w, &h), 0);
    qfile_writer_free(w);
    stream_close(s);
    assert_int_equal(h.version, 1);
    assert_int_equal(h.rcpt_count, 1);
    assert_int_equal(h.content_size, 6);
    assert_int_equal(h.flags, 0);

    /* Before the header update the file does not pass. */
    rd = qfile_reader_fd(fd, MAXREC);
    assert_null(qfile_read_envelope(rd, 0, err));
    {
        char    want[100];

        assert_int_equal(str_format(want, sizeof(want), "offset %lld: content "
                                    "starts here but the header says offset 0",
                                    (long long) h.content_offset), 0);
        assert_string_equal(err->data, want);
    }
    assert_int_equal(qfile_update_header(fd, &h), 0);
    env = qfile_read_envelope(rd, 0, err);
    if (env == NULL)
        fail_msg("%s", err->data);
    assert_int_equal(env->header.content_offset, h.content_offset);
    assert_int_equal(env->header.tail_offset, h.tail_offset);
    assert_string_equal(env->sender, "");
    assert_int_equal(env->warn_offset, -1);
    assert_int_equal(env->warn_time, 0);
    assert_int_equal(env->ret, QFILE_RET_NONE);
    assert_null(env->envid);
    qfile_envelope_free(env);

    /* A changed header in place: flags, then a lie about the size. */
    h.flags = QFILE_FLAG_SMTPUTF8;
    assert_int_equal(qfile_update_header(fd, &h), 0);
    env = qfile_read_envelope(rd, 0, err);
    assert_int_equal(env->header.flags, QFILE_FLAG_SMTPUTF8);
    qfile_envelope_free(env);
    h.content_size = 7;
    assert_int_equal(qfile_update_header(fd, &h), 0);
    assert_null(qfile_read_envelope(rd, 0, err));
    assert_true(strstr(err->data, "content size is 6 but the header says 7") != NULL);

    /* Values that do not fit, and a file that is not a queue file. */
    h.content_size = -1;
    assert_int_equal(qfile_update_header(fd, &h), -1);
    assert_int_equal(errno, EINVAL);
    qfile_reader_free(rd);
    close(fd);
    fd = mem_fd("hello world", 11);
    h.content_size = 6;
    assert_int_equal(qfile_update_header(fd, &h), -1);
    assert_int_equal(errno, EINVAL);
    close(fd);
    strbuf_free(err);
}

/* ------------------------------------------------------------ content */

static void test_long_lines(void **state)
{
    static const struct {
        size_t  len, piece;
        int     pieces;                 /* L records */
    } cases[] = {
        {0, 128, 0},
        {1, 128, 0},
        {128, 128, 0},
        {129, 128, 1},
        {256, 128, 1},
        {257, 128, 2},
        {1000, 128, 7},
        {5000, 0, 1},                   /* default piece = MAXREC */
    };
    strbuf *err = strbuf_new(100);
    strbuf *piece = strbuf_new(100);
    size_t  i;

    (void) state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int     fd = tmp_fd();
        stream *s = stream_fdopen(fd, STREAM_F_WRITE | STREAM_F_NOCLOSE);
        qfile_writer *w = qfile_writer_new(s, MAXREC);
        char   *line = mem_alloc(cases[i].len + 1);
        strbuf *joined = strbuf_new(100);
        qfile_header h;
        qfile_reader *rd;
        qfile_envelope *env;
        size_t  j;
        int     r, npieces = 0, nlines = 0;

        for (j = 0; j < cases[i].len; j++)
            line[j] = (char) ('a' + j % 26);
        assert_int_equal(qfile_put_header(w, 0), 0);
        assert_int_equal(qfile_put_time(w, 1, 2), 0);
        assert_int_equal(qfile_put_sender(w, "s"), 0);
        assert_int_equal(qfile_put_rcpt(w, "r", NULL, NULL, 0), 0);
        assert_int_equal(qfile_put_content_start(w), 0);
        assert_int_equal(qfile_put_line(w, line, cases[i].len, cases[i].piece), 0);
        assert_int_equal(qfile_put_line(w, "next", 4, cases[i].piece), 0);
        assert_int_equal(qfile_finish(w, &h), 0);
        assert_int_equal(qfile_update_header(fd, &h), 0);
        assert_int_equal(h.content_size, (long) cases[i].len + 1 + 5);
        qfile_writer_free(w);
        stream_close(s);

        rd = qfile_reader_fd(fd, MAXREC);
        env = qfile_read_envelope(rd, 0, err);
        assert_non_null(env);
        assert_int_equal(qfile_content_start(rd, env, err), 0);
        while ((r = qfile_content_next(rd, piece, err)) > 0) {
            if (r == QFILE_CONTENT_PIECE) {
                npieces++;
                assert_int_equal(piece->len, cases[i].piece ? cases[i].piece : MAXREC);
            }
            strbuf_append(joined, piece->data, piece->len);
            if (r == QFILE_CONTENT_LINE) {
                if (nlines++ == 0) {
                    assert_int_equal(joined->len, cases[i].len);
                    assert_memory_equal(joined->data, line, cases[i].len);
                } else {
                    assert_string_equal(joined->data, "next");
                }
                strbuf_reset(joined);
            }
        }
        assert_int_equal(r, QFILE_CONTENT_END);
        assert_int_equal(npieces, cases[i].pieces);
        assert_int_equal(nlines, 2);
        qfile_envelope_free(env);
        qfile_reader_free(rd);
        strbuf_free(joined);
        mem_free(line);
        close(fd);
    }
    strbuf_free(piece);
    strbuf_free(err);
}

static void test_content_text(void **state)
{
    int     fd = tmp_fd();
    stream *s = stream_fdopen(fd, STREAM_F_WRITE | STREAM_F_NOCLOSE);
    qfile_writer *w = qfile_writer_new(s, MAXREC);
    strbuf *err = strbuf_new(100);
    strbuf *content = strbuf_new(100);
    qfile_header h;
    qfile_reader *rd;
    qfile_envelope *env;
    static const char text[] = "one\r\n\0zero\n\nlast without newline";

    (void) state;
    assert_int_equal(qfile_put_header(w, 0), 0);
    assert_int_equal(qfile_put_time(w, 1, 2), 0);
    assert_int_equal(qfile_put_sender(w, "s"), 0);
    assert_int_equal(qfile_put_rcpt(w, "r", NULL, NULL, 0), 0);
    assert_int_equal(qfile_put_content_start(w), 0);
    assert_int_equal(qfile_put_text(w, text, sizeof(text) - 1, 0), 0);
    assert_int_equal(qfile_finish(w, &h), 0);
    assert_int_equal(qfile_update_header(fd, &h), 0);
    qfile_writer_free(w);
    stream_close(s);

    rd = qfile_reader_fd(fd, MAXREC);
    env = qfile_read_envelope(rd, 0, err);
    assert_non_null(env);
    assert_int_equal(read_content(rd, env, content, err), 0);
    assert_int_equal(content->len, sizeof(text));      /* final LF added */
    assert_memory_equal(content->data, text, sizeof(text) - 1);
    assert_int_equal(content->data[content->len - 1], '\n');
    qfile_envelope_free(env);
    qfile_reader_free(rd);
    close(fd);
    strbuf_free(content);
    strbuf_free(err);
}

/* Damage inside the content, past a skip-content envelope parse. */
static void test_content_damage(void **state)
{
    static const long autoh[6] = {AUTO, AUTO, AUTO, AUTO, AUTO, AUTO};
    static const struct {
        const char *spec;
        long    hdr[6];
        const char *error;
    } cases[] = {
        {"T1 0|S|Rb@y|M|Na|Sx|Nb|E", {AUTO, AUTO, AUTO, AUTO, AUTO, AUTO},
         "offset @6: record type 'S' not allowed in content segment"},
        {"T1 0|S|Rb@y|M|Na|Lb|E", {AUTO, AUTO, AUTO, AUTO, AUTO, AUTO},
         "offset @7: partial line not continued at the end of the content"},
        {"T1 0|S|Rb@y|M|Na|Nb|E", {AUTO, AUTO, AUTO, 3, AUTO, AUTO},
         "offset @6: content larger than the header says (3 bytes)"},
        {"T1 0|S|Rb@y|M|Na|Nb|E", {AUTO, AUTO, AUTO, 1, AUTO, AUTO},
         "offset @5: content larger than the header says (1 bytes)"},
    };
    strbuf *err = strbuf_new(100);
    strbuf *want = strbuf_new(100);
    strbuf *content = strbuf_new(100);
    size_t  i;

    (void) state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        off_t   offsets[MAX_RAW];
        strbuf *bytes = raw_build(cases[i].spec, cases[i].hdr, offsets);
        qfile_reader *rd = qfile_reader_mem(bytes->data, bytes->len, MAXREC);
        qfile_envelope *env = qfile_read_envelope(rd, QFILE_ENV_SKIP_CONTENT, err);

        if (env == NULL)
            fail_msg("case %zu: %s", i, err->data);
        /* The full check catches it up front. */
        assert_null(read_env_mem(bytes, 0, err));
        assert_int_equal(read_content(rd, env, content, err), -1);
        expand(want, cases[i].error, offsets);
        if (strcmp(err->data, want->data) != 0)
            fail_msg("case %zu: got \"%s\", want \"%s\"", i, err->data, want->data);
        /* After an error the iterator stays ended. */
        assert_int_equal(qfile_content_next(rd, content, err), QFILE_CONTENT_END);
        qfile_envelope_free(env);
        qfile_reader_free(rd);
        strbuf_free(bytes);
    }

    /* A smaller piece buffer than a record is an error, not a crash. */
    {
        strbuf *bytes = raw_build("T1 0|S|Rb@y|M|Nabcdef|E", autoh, NULL);
        qfile_reader *rd = qfile_reader_mem(bytes->data, bytes->len, MAXREC);
        qfile_envelope *env = qfile_read_envelope(rd, 0, err);
        strbuf *small = strbuf_new(4);

        assert_non_null(env);
        strbuf_set_limit(small, 3);
        assert_int_equal(qfile_content_start(rd, env, err), 0);
        assert_int_equal(qfile_content_next(rd, small, err), -1);
        assert_true(strstr(err->data, "longer than the caller's buffer limit") != NULL);
        strbuf_free(small);
        qfile_envelope_free(env);
        qfile_reader_free(rd);
        strbuf_free(bytes);
    }
    strbuf_free(content);
    strbuf_free(want);
    strbuf_free(err);
}

/* ------------------------------------------------------------ writer */

static void test_writer_data_errors(void **state)
{
    int     fd = tmp_fd();
    stream *s = stream_fdopen(fd, STREAM_F_WRITE | STREAM_F_NOCLOSE);
    qfile_writer *w = qfile_writer_new(s, 200);
    char    big[300];
    off_t   off;

    (void) state;
    memset(big, 'b', sizeof(big) - 1);
    big[sizeof(big) - 1] = 0;
    assert_null(qfile_writer_error(w));
    assert_int_equal(qfile_put_header(w, 0), 0);
    assert_int_equal(qfile_writer_offset(w), 2 + QFILE_HEADER_LEN);
    assert_int_equal(qfile_put_time(w, 5, 1000000), -1);
    assert_string_equal(qfile_writer_error(w), "arrival time record: time out of range");
    assert_int_equal(qfile_put_time(w, 5, 6), 0);
    off = qfile_writer_offset(w);
    assert_int_equal(qfile_put(w, REC_TYPE_SENDER, "a\0b", 3), -1);
    assert_string_equal(qfile_writer_error(w),
                        "sender record: address contains NUL, CR or LF");
    assert_int_equal(qfile_put_sender(w, "a\nb"), -1);
    assert_int_equal(qfile_put_sender(w, big), -1);
    assert_string_equal(qfile_writer_error(w),
                        "sender record: payload longer than the record limit");
    assert_int_equal(qfile_writer_offset(w), off);     /* nothing written */
    assert_int_equal(qfile_put_sender(w, "ok@x"), 0);
    assert_int_equal(qfile_put_attr(w, "bad name", "v"), -1);
    assert_int_equal(qfile_put_attr(w, "a=b", "v"), -1);
    assert_int_equal(qfile_put_attr(w, "", "v"), -1);
    assert_int_equal(qfile_put_attr(w, "n", "v"), 0);
    assert_int_equal(qfile_put_attr(w, "n", "w"), -1);
    assert_string_equal(qfile_writer_error(w), "attribute record: duplicate attribute name");
    assert_int_equal(qfile_put(w, REC_TYPE_ATTR, "x=a\0b", 5), -1);
    assert_int_equal(qfile_put_envid(w, ""), -1);
    assert_int_equal(qfile_put_warn(w, -5), -1);
    off = qfile_writer_offset(w);
    /* A bad recipient group writes none of its records. */
    assert_int_equal(qfile_put_rcpt(w, "", NULL, NULL, 0), -1);
    assert_int_equal(qfile_put_rcpt(w, "r@x", "o\r", NULL, 0), -1);
    assert_int_equal(qfile_put_rcpt(w, "r@x", "o", "noseparator", 0), -1);
    assert_int_equal(qfile_put_rcpt(w, "r@x", "o", "rfc822;o", 9), -1);
    assert_string_equal(qfile_writer_error(w), "DSN notify record: bad NOTIFY flags");
    assert_int_equal(qfile_put_rcpt(w, "r@x", "o", "rfc822;o", 16), -1);
    assert_int_equal(qfile_put_rcpt(w, big, NULL, NULL, 0), -1);
    assert_int_equal(qfile_writer_offset(w), off);
    assert_int_equal(qfile_put_content_start(w), 0);
    /* No recipient: finish refuses. */
    assert_int_equal(qfile_finish(w, NULL), -1);
    assert_string_equal(qfile_writer_error(w), "end record: no recipients");
    qfile_writer_free(w);
    stream_close(s);
    close(fd);
}

static void test_writer_io_error(void **state)
{
    int     fd = open("/dev/full", O_WRONLY);
    stream *s;
    qfile_writer *w;
    char    line[1000];

    (void) state;
    if (fd < 0)
        skip();
    s = stream_fdopen(fd, STREAM_F_WRITE | STREAM_F_NOCLOSE);
    w = qfile_writer_new(s, MAXREC);
    memset(line, 'z', sizeof(line));
    fill_small(w);
    /* Enough output to overflow the stream buffer and hit ENOSPC. */
    while (qfile_put_line(w, line, sizeof(line), 0) == 0)
        continue;
    assert_true(str_has_prefix(qfile_writer_error(w), "write error: "));
    /* Sticky. */
    assert_int_equal(qfile_put_line(w, "x", 1, 0), -1);
    assert_int_equal(qfile_finish(w, NULL), -1);
    qfile_writer_free(w);
    stream_close(s);
    close(fd);
}

/* A writer for the misuse tests: header, time, sender written. */
static qfile_writer *misuse_writer(stream **sp, int *fdp)
{
    qfile_writer *w;

    *fdp = tmp_fd();
    *sp = stream_fdopen(*fdp, STREAM_F_WRITE | STREAM_F_NOCLOSE);
    w = qfile_writer_new(*sp, MAXREC);
    assert_int_equal(qfile_put_header(w, 0), 0);
    assert_int_equal(qfile_put_time(w, 1, 1), 0);
    assert_int_equal(qfile_put_sender(w, "s"), 0);
    return w;
}

static void misuse_done(qfile_writer *w, stream *s, int fd)
{
    qfile_writer_free(w);
    stream_close(s);
    close(fd);
}

static void test_writer_misuse(void **state)
{
    stream *s;
    qfile_writer *w;
    int     fd;

    (void) state;
    /* Record before the header. */
    fd = tmp_fd();
    s = stream_fdopen(fd, STREAM_F_WRITE | STREAM_F_NOCLOSE);
    w = qfile_writer_new(s, MAXREC);
    TESTLIB_EXPECT_EXIT(MSG_PANIC, qfile_put_time(w, 1, 1));
    TESTLIB_EXPECT_EXIT(MSG_PANIC, qfile_put_header(w, 64));
    TESTLIB_EXPECT_EXIT(MSG_PANIC, qfile_put(w, 'Z', "", 0));
    misuse_done(w, s, fd);

    /* Bad limits. */
    TESTLIB_EXPECT_EXIT(MSG_PANIC, qfile_writer_new(NULL, 10));
    TESTLIB_EXPECT_EXIT(MSG_PANIC, qfile_reader_mem("", 0, 10));

    w = misuse_writer(&s, &fd);
    TESTLIB_EXPECT_EXIT(MSG_PANIC, qfile_put_sender(w, "again"));
    TESTLIB_EXPECT_EXIT(MSG_PANIC, qfile_put_line(w, "x", 1, 0));
    TESTLIB_EXPECT_EXIT(MSG_PANIC, qfile_put(w, REC_TYPE_END, "", 0));
    TESTLIB_EXPECT_EXIT(MSG_PANIC, qfile_finish(w, NULL));
    assert_int_equal(qfile_put(w, REC_TYPE_ORIG_RCPT, "o", 1), 0);
    TESTLIB_EXPECT_EXIT(MSG_PANIC, qfile_put(w, REC_TYPE_ORIG_RCPT, "o", 1));
    TESTLIB_EXPECT_EXIT(MSG_PANIC, qfile_put_content_start(w));
    TESTLIB_EXPECT_EXIT(MSG_PANIC, qfile_put_attr(w, "a", "b"));
    assert_int_equal(qfile_put(w, REC_TYPE_RCPT, "r", 1), 0);
    assert_int_equal(qfile_put_content_start(w), 0);
    TESTLIB_EXPECT_EXIT(MSG_PANIC, qfile_put_rcpt(w, "r", NULL, NULL, 0));
    TESTLIB_EXPECT_EXIT(MSG_PANIC, qfile_put_line(w, "x", 1, MAXREC + 1));
    assert_int_equal(qfile_put(w, REC_TYPE_PARTIAL, "x", 1), 0);
    TESTLIB_EXPECT_EXIT(MSG_PANIC, qfile_put_extracted(w));
    TESTLIB_EXPECT_EXIT(MSG_PANIC, qfile_finish(w, NULL));
    assert_int_equal(qfile_put(w, REC_TYPE_NORMAL, "y", 1), 0);
    assert_int_equal(qfile_put_extracted(w), 0);
    TESTLIB_EXPECT_EXIT(MSG_PANIC, qfile_put_line(w, "x", 1, 0));
    assert_int_equal(qfile_finish(w, NULL), 0);
    TESTLIB_EXPECT_EXIT(MSG_PANIC, qfile_put_attr(w, "late", "x"));
    misuse_done(w, s, fd);
}

/* ------------------------------------------------------------ golden */

/*
 * golden_fill: drive the writer from the text description in
 * tests/unit/data/qfile/basic.in (one directive per line).
 */
static void golden_fill(qfile_writer *w, const char *text)
{
    char   *copy = mem_strdup(text);
    char   *cursor = copy;
    char   *line;

    while ((line = strsep(&cursor, "\n")) != NULL) {
        char   *arg = strchr(line, ' ');
        long    a, b;
        int     r = 0;

        if (*line == 0 || *line == '#')
            continue;
        if (arg)
            *arg++ = 0;
        else
            arg = line + strlen(line);
        if (strcmp(line, "header") == 0) {
            assert_int_equal(num_parse_long(arg, 0, 255, &a), 0);
            r = qfile_put_header(w, a);
        } else if (strcmp(line, "time") == 0) {
            char   *sp = strchr(arg, ' ');

            assert_non_null(sp);
            *sp++ = 0;
            assert_int_equal(num_parse_long(arg, 0, LONG_MAX, &a), 0);
            assert_int_equal(num_parse_long(sp, 0, 999999, &b), 0);
            r = qfile_put_time(w, a, b);
        } else if (strcmp(line, "sender") == 0) {
            r = qfile_put_sender(w, arg);
        } else if (strcmp(line, "attr") == 0) {
            r = qfile_put(w, REC_TYPE_ATTR, arg, strlen(arg));
        } else if (strcmp(line, "envid") == 0) {
            r = qfile_put_envid(w, arg);
        } else if (strcmp(line, "ret") == 0) {
            r = qfile_put_ret(w, strcmp(arg, "FULL") == 0 ? QFILE_RET_FULL : QFILE_RET_HDRS);
        } else if (strcmp(line, "warn") == 0) {
            assert_int_equal(num_parse_long(arg, 0, LONG_MAX, &a), 0);
            r = qfile_put_warn(w, a);
        } else if (strcmp(line, "rcpt") == 0) {
            char   *addr = strsep(&arg, " ");
            char   *orig = NULL, *orcpt = NULL, *word;
            long    notify = 0;

            while (arg && (word = strsep(&arg, " ")) != NULL) {
                if (str_has_prefix(word, "orig="))
                    orig = word + 5;
                else if (str_has_prefix(word, "orcpt="))
                    orcpt = word + 6;
                else if (str_has_prefix(word, "notify="))
                    assert_int_equal(num_parse_long(word + 7, 0, 15, &notify), 0);
                else
                    fail_msg("golden: bad rcpt option %s", word);
            }
            r = qfile_put_rcpt(w, addr, orig, orcpt, (int) notify);
        } else if (strcmp(line, "content") == 0) {
            r = qfile_put_content_start(w);
        } else if (strcmp(line, "line") == 0) {
            r = qfile_put_line(w, arg, strlen(arg), 0);
        } else if (strcmp(line, "longline") == 0) {
            char   *lenw = strsep(&arg, " ");
            char   *ch = strsep(&arg, " ");
            char   *buf;

            assert_non_null(arg);
            assert_int_equal(num_parse_long(lenw, 1, 100000, &a), 0);
            assert_int_equal(num_parse_long(arg, 0, MAXREC, &b), 0);
            buf = mem_alloc((size_t) a);
            memset(buf, ch[0], (size_t) a);
            r = qfile_put_line(w, buf, (size_t) a, (size_t) b);
            mem_free(buf);
        } else if (strcmp(line, "extracted") == 0) {
            r = qfile_put_extracted(w);
        } else {
            fail_msg("golden: unknown directive \"%s\"", line);
        }
        if (r != 0)
            fail_msg("golden: %s %s: %s", line, arg, qfile_writer_error(w));
    }
    mem_free(copy);
}

/* read_path: a whole file into a strbuf, or NULL. */
static strbuf *read_path(const char *path)
{
    int     fd = open(path, O_RDONLY);
    strbuf *sb;

    if (fd < 0)
        return NULL;
    sb = file_bytes(fd);
    close(fd);
    return sb;
}

static const char *golden_text;

static void golden_fill_cb(qfile_writer *w)
{
    golden_fill(w, golden_text);
}

static void test_golden(void **state)
{
    strbuf *in = read_path(GOLDEN_IN);
    strbuf *ref;
    strbuf *got;
    strbuf *err = strbuf_new(100);
    qfile_envelope *env;
    int     fd;
    size_t  i;

    (void) state;
    if (in == NULL)
        fail_msg("%s: %s (run the tests from the repository root)", GOLDEN_IN,
                 strerror(errno));
    golden_text = in->data;
    fd = write_file(golden_fill_cb, MAXREC);
    got = file_bytes(fd);
    close(fd);
    if (getenv("QFILE_GOLDEN_UPDATE")) {
        fd = open(GOLDEN_REF, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, got->data, got->len), (ssize_t) got->len);
        close(fd);
    }
    ref = read_path(GOLDEN_REF);
    if (ref == NULL)
        fail_msg("%s: %s", GOLDEN_REF, strerror(errno));
    for (i = 0; i < got->len && i < ref->len; i++)
        if (got->data[i] != ref->data[i])
            fail_msg("golden: first difference at offset %zu (got 0x%02x, want 0x%02x)",
                     i, (unsigned char) got->data[i], (unsigned char) ref->data[i]);
    assert_int_equal(got->len, ref->len);

    /* The reference parses to the envelope in basic.in. */
    env = read_env_mem(ref, 0, err);
    if (env == NULL)
        fail_msg("golden: %s", err->data);
    assert_int_equal(env->arrival_sec, 1700000000);
    assert_int_equal(env->arrival_usec, 123456);
    assert_string_equal(env->sender, "alice@example.org");
    assert_int_equal(env->nattrs, 3);
    assert_string_equal(qfile_envelope_attr(env, "client_address"), "192.0.2.10");
    assert_string_equal(env->envid, "QQ314159");
    assert_int_equal(env->ret, QFILE_RET_HDRS);
    assert_int_equal(env->nrcpts, 3);
    assert_string_equal(env->rcpts[0].orcpt, "rfc822;Bob@Example.COM");
    assert_int_equal(env->rcpts[0].notify, 6);
    assert_int_equal(env->rcpts[2].notify, QFILE_NOTIFY_NEVER);
    assert_int_equal(env->rcpts[2].extracted, 1);
    assert_int_equal(env->header.content_size, 16 + 24 + 1 + 7 + 301);
    qfile_envelope_free(env);
    strbuf_free(err);
    strbuf_free(got);
    strbuf_free(ref);
    strbuf_free(in);
}

/* The fuzz seeds replayed: the valid ones pass, the damaged ones do not. */
static void test_fuzz_seeds(void **state)
{
    static const struct {
        const char *name;
        int     valid;
    } seeds[] = {
        {"golden", 1}, {"full", 1}, {"minimal", 1},
        {"truncated", 0}, {"bad_length", 0}, {"no_end", 0}, {"size_mismatch", 0},
    };
    strbuf *err = strbuf_new(100);
    strbuf *content = strbuf_new(100);
    size_t  i;

    (void) state;
    for (i = 0; i < sizeof(seeds) / sizeof(seeds[0]); i++) {
        char    path[200];
        strbuf *bytes;
        qfile_envelope *env;

        assert_int_equal(str_format(path, sizeof(path), "tests/fuzz/corpus/fuzz_qfile/%s",
                                    seeds[i].name), 0);
        if ((bytes = read_path(path)) == NULL)
            fail_msg("%s: %s", path, strerror(errno));
        env = read_env_mem(bytes, 0, err);
        if (seeds[i].valid && env == NULL)
            fail_msg("%s: %s", path, err->data);
        if (!seeds[i].valid && env != NULL)
            fail_msg("%s: accepted", path);
        if (env) {
            qfile_reader *rd = qfile_reader_mem(bytes->data, bytes->len, MAXREC);

            assert_int_equal(read_content(rd, env, content, err), 0);
            assert_int_equal(content->len, (size_t) env->header.content_size);
            qfile_reader_free(rd);
        }
        qfile_envelope_free(env);
        strbuf_free(bytes);
    }
    strbuf_free(content);
    strbuf_free(err);
}

static void test_names(void **state)
{
    qfile_header h = {1, 2, 3, 4, 5, 6};
    char    buf[QFILE_HEADER_LEN + 1];
    qfile_header back;

    (void) state;
    assert_string_equal(qfile_type_name(REC_TYPE_RCPT), "recipient");
    assert_string_equal(qfile_type_name(REC_TYPE_DONE), "done recipient");
    assert_string_equal(qfile_type_name('?'), "unknown");
    assert_int_equal(qfile_format_header(buf, sizeof(buf), &h), 0);
    assert_string_equal(buf, "000000000000001 000000000000002 000000000000003 "
                        "000000000000004 000000000000005 000000000000006");
    assert_int_equal(qfile_parse_header(buf, QFILE_HEADER_LEN, &back), 0);
    assert_memory_equal(&back, &h, sizeof(h));
    assert_int_equal(qfile_format_header(buf, sizeof(buf) - 1, &h), -1);
    h.rcpt_count = 1000000000000000L;
    assert_int_equal(qfile_format_header(buf, sizeof(buf), &h), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip),
        cmocka_unit_test(test_truncation_everywhere),
        cmocka_unit_test(test_raw_cases),
        cmocka_unit_test(test_framing_errors),
        cmocka_unit_test(test_record_iteration),
        cmocka_unit_test(test_mark_done),
        cmocka_unit_test(test_update_warn),
        cmocka_unit_test(test_read_pending),
        cmocka_unit_test(test_header_update),
        cmocka_unit_test(test_long_lines),
        cmocka_unit_test(test_content_text),
        cmocka_unit_test(test_content_damage),
        cmocka_unit_test(test_writer_data_errors),
        cmocka_unit_test(test_writer_io_error),
        cmocka_unit_test(test_writer_misuse),
        cmocka_unit_test(test_golden),
        cmocka_unit_test(test_fuzz_seeds),
        cmocka_unit_test(test_names),
    };

    testlib_setup();
    return cmocka_run_group_tests_name("qfile", tests, NULL, NULL);
}
