/*
 * Unit tests for lib/mail/maildrop.c: the filter postdrop runs on a
 * user's submission stream and the check pickup runs on a maildrop file.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "attr_names.h"
#include "maildrop.h"
#include "mem.h"
#include "qfile.h"
#include "stream.h"
#include "strbuf.h"
#include "testlib.h"

#define MAX_RECORD 4096

/* rec: append one record (type, LEB128 length, payload) to sb. */
static void rec(strbuf *sb, int type, const char *payload, size_t len)
{
    size_t  n = len;

    strbuf_putc(sb, type);
    do {
        int     b = (int) (n & 0x7f);

        n >>= 7;
        strbuf_putc(sb, n ? b | 0x80 : b);
    } while (n);
    strbuf_append(sb, payload, len);
}

#define REC(sb, type, text) rec((sb), (type), (text), strlen(text))

/* header_rec: a header record with zero values and version 1. */
static void header_rec(strbuf *sb, long flags)
{
    char    buf[QFILE_HEADER_LEN + 1];
    qfile_header h;

    memset(&h, 0, sizeof(h));
    h.version = 1;
    h.flags = flags;
    assert_int_equal(qfile_format_header(buf, sizeof(buf), &h), 0);
    rec(sb, REC_TYPE_HEADER, buf, QFILE_HEADER_LEN);
}

/* Records of a test stream, written as "tPAYLOAD" items; "H" = header. */
typedef struct filter_case {
    const char *name;
    const char *items[16];
    int     ok;                         /* 1: filter accepts */
    const char *err;                    /* substring of the error */
} filter_case;

static const filter_case filter_cases[] = {
    {"minimal", {"H", "T1 0", "Sme@x", "Ryou@y", "M", "Nhi", "E"}, 1, NULL},
    {"full user envelope", {"H", "Sme@x", "Afull_name=Me", "Aflags=1",
      "Aencoding=8bit", "ienv", "<FULL", "n3", "Oorig", "Ryou@y", "M",
      "Lpart", "Nrest", "X", "Rext@z", "E"}, 1, NULL},
    {"empty content", {"H", "S", "Ryou@y", "M", "E"}, 1, NULL},
    {"forged uid", {"H", "Sme@x", "Asubmit_uid=0", "Ryou@y", "M", "E"}, 0,
     "not allowed"},
    {"trusted attr", {"H", "Sme@x", "Aclient_address=1.2.3.4", "Ryou@y",
      "M", "E"}, 0, "not allowed"},
    {"local flag", {"H", "Sme@x", "Aflags=4", "Ryou@y", "M", "E"}, 0,
     "bad flags"},
    {"bad encoding", {"H", "Sme@x", "Aencoding=x", "Ryou@y", "M", "E"}, 0,
     "bad encoding"},
    {"malformed attr", {"H", "Sme@x", "A=x", "Ryou@y", "M", "E"}, 0, NULL},
    {"no header", {"Sme@x", "Ryou@y", "M", "E"}, 0, "header"},
    {"second header", {"H", "H", "Sme@x", "Ryou@y", "M", "E"}, 0, NULL},
    {"second sender", {"H", "Sme@x", "Sx@y", "Ryou@y", "M", "E"}, 0, "repeated"},
    {"second time", {"H", "T1 0", "T1 0", "Sme@x", "Ryou@y", "M", "E"}, 0, NULL},
    {"warn record", {"H", "Sme@x", "W000000000000000", "Ryou@y", "M", "E"},
     0, "not allowed"},
    {"done rcpt", {"H", "Sme@x", "Dyou@y", "M", "E"}, 0, "not allowed"},
    {"no rcpt", {"H", "Sme@x", "M", "E"}, 0, "no recipients"},
    {"content before sender", {"H", "Ryou@y", "M", "E"}, 0, "before the sender"},
    {"dangling orig", {"H", "Sme@x", "Ryou@y", "Oorig", "M", "E"}, 0,
     "between recipient"},
    {"double notify", {"H", "Sme@x", "n1", "n2", "Ryou@y", "M", "E"}, 0,
     "second"},
    {"second M", {"H", "Sme@x", "Ryou@y", "M", "M", "E"}, 0, NULL},
    {"content in envelope", {"H", "Sme@x", "Nx", "Ryou@y", "M", "E"}, 0, NULL},
    {"unfinished line", {"H", "Sme@x", "Ryou@y", "M", "Lx", "E"}, 0,
     "unfinished"},
    {"L then X", {"H", "Sme@x", "Aflags=1", "Ryou@y", "M", "Lx", "X", "E"}, 0,
     "unfinished"},
    {"X without flag", {"H", "Sme@x", "Ryou@y", "M", "X", "Rz@z", "E"}, 0,
     "extract flag"},
    {"attr in extracted", {"H", "Sme@x", "Aflags=1", "Ryou@y", "M", "X",
      "Afull_name=x", "E"}, 0, NULL},
    {"no end", {"H", "Sme@x", "Ryou@y", "M", "Nx"}, 0, "end record"},
    {"after end", {"H", "Sme@x", "Ryou@y", "M", "E", "Nx"}, 0, "after the end"},
    {"end in envelope", {"H", "Sme@x", "Ryou@y", "E"}, 0, "before its content"},
    {"bad ret", {"H", "Sme@x", "<ALL", "Ryou@y", "M", "E"}, 0, NULL},
    {"empty rcpt", {"H", "Sme@x", "R", "M", "E"}, 0, NULL},
    {"newline in sender", {"H", "Sme\n@x", "Ryou@y", "M", "E"}, 0, NULL},
};

/* build_stream: the bytes of a case. */
static void build_stream(const filter_case *fc, strbuf *sb)
{
    size_t  i;

    for (i = 0; i < 16 && fc->items[i]; i++) {
        if (strcmp(fc->items[i], "H") == 0)
            header_rec(sb, 0);
        else
            REC(sb, fc->items[i][0], fc->items[i] + 1);
    }
}

/* run_filter: filter input into a temporary file; returns the filter's
 * result and leaves the finished file's fd in *fdp (or -1). */
static int run_filter(const strbuf *input, int *fdp, strbuf *err)
{
    FILE   *fp = tmpfile();
    int     fd = dup(fileno(fp));
    stream *out = stream_fdopen(fd, STREAM_F_WRITE | STREAM_F_NOCLOSE);
    qfile_writer *w = qfile_writer_new(out, MAX_RECORD);
    qfile_reader *rd = qfile_reader_mem(input->data, input->len, MAX_RECORD);
    qfile_header hdr;
    int     rc;

    fclose(fp);
    assert_int_equal(qfile_put_header(w, 0), 0);
    assert_int_equal(qfile_put_time(w, 5, 0), 0);
    assert_int_equal(qfile_put_attr(w, ATTR_NAME_SUBMIT_UID, "1000"), 0);
    rc = maildrop_filter(rd, w, err);
    if (rc == 0) {
        assert_int_equal(qfile_finish(w, &hdr), 0);
        assert_int_equal(qfile_update_header(fd, &hdr), 0);
    }
    qfile_reader_free(rd);
    qfile_writer_free(w);
    stream_close(out);
    if (rc == 0) {
        *fdp = fd;
    } else {
        close(fd);
        *fdp = -1;
    }
    return rc;
}

static void test_filter_table(void **state)
{
    size_t  i;

    (void) state;
    for (i = 0; i < sizeof(filter_cases) / sizeof(filter_cases[0]); i++) {
        const filter_case *fc = filter_cases + i;
        strbuf *in = strbuf_new(256);
        strbuf *err = strbuf_new(64);
        int     fd, rc;

        build_stream(fc, in);
        rc = run_filter(in, &fd, err);
        if (fc->ok && rc != 0)
            fail_msg("%s: refused: %s", fc->name, strbuf_str(err));
        if (!fc->ok && rc == 0)
            fail_msg("%s: accepted", fc->name);
        if (!fc->ok && fc->err && strstr(strbuf_str(err), fc->err) == NULL)
            fail_msg("%s: error \"%s\" lacks \"%s\"", fc->name,
                     strbuf_str(err), fc->err);
        if (rc == 0) {
            /* What postdrop wrote must pass pickup's parser and check. */
            qfile_reader *rd = qfile_reader_fd(fd, MAX_RECORD);
            qfile_envelope *env = qfile_read_envelope(rd, 0, err);
            maildrop_info info;

            if (env == NULL)
                fail_msg("%s: unreadable result: %s", fc->name, strbuf_str(err));
            assert_int_equal(maildrop_check(env, &info, err), 0);
            assert_int_equal(info.submit_uid, 1000);
            assert_int_equal(env->arrival_sec, 5);      /* the time stays ours */
            qfile_envelope_free(env);
            qfile_reader_free(rd);
            close(fd);
        }
        strbuf_free(in);
        strbuf_free(err);
    }
}

static void test_filter_keeps_fields(void **state)
{
    const filter_case *fc = filter_cases + 1;  /* full user envelope */
    strbuf *in = strbuf_new(256);
    strbuf *err = strbuf_new(64);
    qfile_reader *rd;
    qfile_envelope *env;
    maildrop_info info;
    int     fd;

    (void) state;
    build_stream(fc, in);
    assert_int_equal(run_filter(in, &fd, err), 0);
    rd = qfile_reader_fd(fd, MAX_RECORD);
    env = qfile_read_envelope(rd, 0, err);
    assert_non_null(env);
    assert_int_equal(maildrop_check(env, &info, err), 0);
    assert_string_equal(env->sender, "me@x");
    assert_string_equal(env->envid, "env");
    assert_int_equal(env->ret, QFILE_RET_FULL);
    assert_string_equal(info.full_name, "Me");
    assert_string_equal(info.encoding, "8bit");
    assert_int_equal(info.flags, MAILDROP_F_EXTRACT);
    assert_int_equal(env->nrcpts, 2);
    assert_string_equal(env->rcpts[0].address, "you@y");
    assert_string_equal(env->rcpts[0].orig, "orig");
    assert_int_equal(env->rcpts[0].notify, 3);
    assert_true(env->rcpts[1].extracted);
    assert_int_equal(env->header.content_size, 9);     /* "partrest\n" */
    qfile_envelope_free(env);
    qfile_reader_free(rd);
    close(fd);
    strbuf_free(in);
    strbuf_free(err);
}

/* check_file: write a file directly (as a forger would) and check it. */
static int check_file(const char *uid, const char *attr, int extracted,
                      int done, strbuf *err)
{
    FILE   *fp = tmpfile();
    int     fd = dup(fileno(fp));
    stream *out = stream_fdopen(fd, STREAM_F_WRITE | STREAM_F_NOCLOSE);
    qfile_writer *w = qfile_writer_new(out, MAX_RECORD);
    qfile_reader *rd;
    qfile_envelope *env;
    qfile_header hdr;
    maildrop_info info;
    int     rc;

    fclose(fp);
    qfile_put_header(w, 0);
    qfile_put_time(w, 1, 0);
    qfile_put_sender(w, "me@x");
    if (uid)
        qfile_put_attr(w, ATTR_NAME_SUBMIT_UID, uid);
    if (attr) {
        const char *eq = strchr(attr, '=');
        char   *name = mem_strndup(attr, (size_t) (eq - attr));

        qfile_put_attr(w, name, eq + 1);
        mem_free(name);
    }
    qfile_put_rcpt(w, "you@y", NULL, NULL, 0);
    qfile_put_content_start(w);
    qfile_put_line(w, "hi", 2, 0);
    if (extracted) {
        qfile_put_extracted(w);
        qfile_put_rcpt(w, "ext@y", NULL, NULL, 0);
    }
    assert_int_equal(qfile_finish(w, &hdr), 0);
    assert_int_equal(qfile_update_header(fd, &hdr), 0);
    qfile_writer_free(w);
    stream_close(out);
    rd = qfile_reader_fd(fd, MAX_RECORD);
    env = qfile_read_envelope(rd, 0, err);
    assert_non_null(env);
    if (done) {
        assert_int_equal(qfile_mark_done(fd, env->rcpts[0].offset), 0);
        qfile_envelope_free(env);
        env = qfile_read_envelope(rd, 0, err);
        assert_non_null(env);
    }
    rc = maildrop_check(env, &info, err);
    qfile_envelope_free(env);
    qfile_reader_free(rd);
    close(fd);
    return rc;
}

static void test_check_table(void **state)
{
    static const struct {
        const char *name;
        const char *uid;
        const char *attr;
        int     extracted;
        int     done;
        int     ok;
        const char *err;
    } cases[] = {
        {"plain", "42", NULL, 0, 0, 1, NULL},
        {"no uid", NULL, NULL, 0, 0, 0, "no submit_uid"},
        {"bad uid", "-1", NULL, 0, 0, 0, "bad submit_uid"},
        {"huge uid", "99999999999", NULL, 0, 0, 0, "bad submit_uid"},
        {"uid text", "root", NULL, 0, 0, 0, "bad submit_uid"},
        {"trusted attr", "1", "client_name=x", 0, 0, 0, "not allowed"},
        {"log ident", "1", "log_ident=ABC", 0, 0, 0, "not allowed"},
        {"extract ok", "1", "flags=1", 1, 0, 1, NULL},
        {"extract no flag", "1", NULL, 1, 0, 0, "extract flag"},
        {"done rcpt", "1", NULL, 0, 1, 0, "done recipient"},
        {"long full name", "1", NULL, 0, 0, 1, NULL},
    };
    size_t  i;

    (void) state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        strbuf *err = strbuf_new(64);
        int     rc = check_file(cases[i].uid, cases[i].attr, cases[i].extracted,
                                cases[i].done, err);

        if (cases[i].ok && rc != 0)
            fail_msg("%s: refused: %s", cases[i].name, strbuf_str(err));
        if (!cases[i].ok && rc == 0)
            fail_msg("%s: accepted", cases[i].name);
        if (!cases[i].ok && strstr(strbuf_str(err), cases[i].err) == NULL)
            fail_msg("%s: error \"%s\" lacks \"%s\"", cases[i].name,
                     strbuf_str(err), cases[i].err);
        strbuf_free(err);
    }
}

static void test_user_attr(void **state)
{
    strbuf *err = strbuf_new(64);
    char    longname[MAILDROP_FULL_NAME_MAX + 2];
    int     flags = 0;

    (void) state;
    assert_int_equal(maildrop_user_attr(ATTR_NAME_FLAGS, "1", &flags, err), 0);
    assert_int_equal(flags, MAILDROP_F_EXTRACT);
    assert_int_equal(maildrop_user_attr(ATTR_NAME_FLAGS, "01x", &flags, err), -1);
    assert_int_equal(maildrop_user_attr(ATTR_NAME_FLAGS, "2", &flags, err), -1);
    assert_int_equal(maildrop_user_attr(ATTR_NAME_ENCODING, "7bit", &flags, err), 0);
    assert_int_equal(maildrop_user_attr(ATTR_NAME_FULL_NAME, "a\nb", &flags, err), -1);
    memset(longname, 'x', sizeof(longname) - 1);
    longname[sizeof(longname) - 1] = 0;
    assert_int_equal(maildrop_user_attr(ATTR_NAME_FULL_NAME, longname, &flags, err), -1);
    longname[MAILDROP_FULL_NAME_MAX] = 0;
    assert_int_equal(maildrop_user_attr(ATTR_NAME_FULL_NAME, longname, &flags, err), 0);
    assert_int_equal(maildrop_user_attr(ATTR_NAME_SUBMIT_UID, "0", &flags, err), -1);
    assert_non_null(strstr(strbuf_str(err), "submit_uid"));
    strbuf_free(err);
}

int     main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_filter_table),
        cmocka_unit_test(test_filter_keeps_fields),
        cmocka_unit_test(test_check_table),
        cmocka_unit_test(test_user_attr),
    };

    testlib_setup();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
