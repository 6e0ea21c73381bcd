/*
 * Unit tests for smtpd/: the command parser, the end-of-data state
 * machine (SMTP smuggling variants), and whole sessions run over a
 * socketpair with in-memory hooks (no cleanup, no restriction engine).
 * The smtpd sources are compiled in (they are not in libpostern).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "mem.h"
#include "strbuf.h"
#include "stream.h"
#include "testlib.h"

#include "../../smtpd/smtpd_cmd.c"
#include "../../smtpd/smtpd_data.c"
#include "../../smtpd/smtpd_proto.c"

/* ---------------------------------------------------------- fake queue */

#define T_MAXMSG 8

typedef struct t_queue {
    strbuf *msgs[T_MAXMSG];             /* finished messages */
    char   *senders[T_MAXMSG];
    size_t  nrcpts[T_MAXMSG];
    int     nmsgs;
    int     open;                       /* handles not yet finished/aborted */
    int     fail_open;
    int     fail_content;
    int     reject_rcpt;                /* check hook rejects recipients "bad@x" */
    int     etrn;
    int     notified;                   /* transcripts mailed */
    strbuf *transcript;                 /* the last one */
} t_queue;

static t_queue tq;

/* t_check: reject RCPT "bad@x" with 554, everything else OK. */
static int t_check(smtpd_session *sess, enum smtpd_stage stage, strbuf *reply)
{
    if (stage == SMTPD_STAGE_RCPT && strcmp(sess->current_rcpt, "bad@x") == 0) {
        strbuf_setf(reply, "554 5.7.1 <bad@x>: Relay access denied");
        return SMTPD_VERDICT_REJECT;
    }
    return SMTPD_VERDICT_OK;
}

/* t_open: a new in-memory message. */
static void *t_open(smtpd_session *sess, strbuf *err)
{
    (void) sess;
    if (tq.fail_open) {
        strbuf_setf(err, "test failure");
        return NULL;
    }
    tq.open++;
    return strbuf_new(64);
}

/* t_content: append content. */
static int t_content(smtpd_session *sess, void *q, const char *buf, size_t len)
{
    (void) sess;
    if (tq.fail_content)
        return -1;
    return strbuf_append(q, buf, len);
}

/* t_finish: keep the message. */
static int t_finish(smtpd_session *sess, void *q, strbuf *id, strbuf *why)
{
    (void) why;
    tq.open--;
    assert_true(tq.nmsgs < T_MAXMSG);
    tq.senders[tq.nmsgs] = mem_strdup(sess->sender);
    tq.nrcpts[tq.nmsgs] = sess->nrcpts;
    tq.msgs[tq.nmsgs++] = q;
    strbuf_setf(id, "TEST%d", tq.nmsgs);
    return 0;
}

/* t_abort: drop the message. */
static void t_abort(smtpd_session *sess, void *q)
{
    (void) sess;
    tq.open--;
    strbuf_free(q);
}

/* t_etrn: count ETRN requests; deny.example is refused, fail.example
 * fails, as the flush service would. */
static int t_etrn(smtpd_session *sess, const char *domain, strbuf *reply)
{
    (void) sess;
    tq.etrn++;
    if (strcmp(domain, "deny.example") == 0) {
        strbuf_setf(reply, "459 4.7.1 <%s>: service unavailable", domain);
        return -1;
    }
    if (strcmp(domain, "fail.example") == 0) {
        strbuf_setf(reply, "458 4.3.0 Unable to queue messages");
        return -1;
    }
    return 0;
}

/* t_notify: keep the transcript. */
static void t_notify(smtpd_session *sess, const char *text, size_t len)
{
    (void) sess;
    tq.notified++;
    if (tq.transcript == NULL)
        tq.transcript = strbuf_new(256);
    strbuf_set(tq.transcript, text, len);
}

static const smtpd_hooks t_hooks = {
    NULL, t_check, NULL, t_open, t_content, t_finish, t_abort, t_etrn,
    t_notify,
};

/* t_reset_queue: forget everything from the previous test. */
static void t_reset_queue(void)
{
    int     i;

    for (i = 0; i < tq.nmsgs; i++) {
        strbuf_free(tq.msgs[i]);
        mem_free(tq.senders[i]);
    }
    strbuf_free(tq.transcript);
    memset(&tq, 0, sizeof(tq));
}

/* t_run: run a session on input; returns everything the server said. */
static strbuf *t_run_cfg(const smtpd_config *cfg, const char *in, size_t len,
                         int early)
{
    int     sv[2];
    stream *s;
    smtpd_session *sess;
    strbuf *out = strbuf_new(1024);
    char    buf[4096];
    ssize_t n;
    size_t  off = 0;

    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    while (off < len) {
        n = write(sv[0], in + off, len - off);
        assert_true(n > 0);
        off += (size_t) n;
    }
    (void) shutdown(sv[0], SHUT_WR);
    s = stream_fdopen(sv[1], STREAM_F_RDWR);
    sess = smtpd_session_new(cfg, &t_hooks, s, "client.example", "192.0.2.1", 25);
    smtpd_proto_run(sess, early);
    smtpd_session_free(sess);
    (void) stream_close(s);
    while ((n = read(sv[0], buf, sizeof(buf))) > 0)
        strbuf_append(out, buf, (size_t) n);
    close(sv[0]);
    assert_int_equal(tq.open, 0);       /* no queue handle leaked */
    return out;
}

/* t_cfg: test defaults: no sleeping. */
static void t_cfg(smtpd_config *cfg)
{
    smtpd_config_defaults(cfg);
    cfg->error_sleep_ms = 0;
    cfg->timeout_ms = 2000;
    cfg->myhostname = "mx.example";
    cfg->banner = "mx.example ESMTP Postern";
    cfg->forbid_unauth_pipelining = 0;  /* tests send everything at once */
}

/* t_run: run with test defaults. */
static strbuf *t_run(const char *in)
{
    smtpd_config cfg;

    t_cfg(&cfg);
    return t_run_cfg(&cfg, in, strlen(in), 0);
}

/* t_run_pipe: a client process sends EHLO, waits for its reply, then
 * sends in (one write); smtpd_forbid_unauth_pipelining = yes. Returns
 * the transcript the client saw (passed back through a pipe). */
static strbuf *t_run_pipe(const char *in)
{
    smtpd_config cfg;
    int     sv[2], pp[2];
    stream *s;
    smtpd_session *sess;
    strbuf *out = strbuf_new(1024);
    char    buf[4096];
    ssize_t n;
    pid_t   pid;

    t_cfg(&cfg);
    cfg.forbid_unauth_pipelining = 1;
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    assert_int_equal(pipe(pp), 0);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        strbuf *got = strbuf_new(256);

        close(sv[1]);
        close(pp[0]);
        if (write(sv[0], "EHLO x\r\n", 8) != 8)
            _exit(1);
        while (strstr(strbuf_str(got), "250 CHUNKING\r\n") == NULL
               && (n = read(sv[0], buf, sizeof(buf))) > 0)
            strbuf_append(got, buf, (size_t) n);
        if (write(sv[0], in, strlen(in)) < 0)
            _exit(1);
        (void) shutdown(sv[0], SHUT_WR);
        while ((n = read(sv[0], buf, sizeof(buf))) > 0)
            strbuf_append(got, buf, (size_t) n);
        if (write(pp[1], got->data, got->len) < 0)
            _exit(1);
        _exit(0);
    }
    close(sv[0]);
    close(pp[1]);
    s = stream_fdopen(sv[1], STREAM_F_RDWR);
    sess = smtpd_session_new(&cfg, &t_hooks, s, "client.example", "192.0.2.1", 25);
    smtpd_proto_run(sess, 0);
    smtpd_session_free(sess);
    (void) stream_close(s);
    while ((n = read(pp[0], buf, sizeof(buf))) > 0)
        strbuf_append(out, buf, (size_t) n);
    close(pp[0]);
    (void) waitpid(pid, NULL, 0);
    assert_int_equal(tq.open, 0);
    return out;
}

/* t_has: 1 when the server output holds text. */
static int t_has(const strbuf *out, const char *text)
{
    return strstr(strbuf_str((strbuf *) out), text) != NULL;
}

/* t_count: how many reply lines start with code. */
static int t_count(const strbuf *out, const char *code)
{
    const char *p = strbuf_str((strbuf *) out);
    int     n = 0;
    size_t  cl = strlen(code);

    while (p && *p) {
        if (strncmp(p, code, cl) == 0)
            n++;
        p = strstr(p, "\r\n");
        if (p)
            p += 2;
    }
    return n;
}

/* ------------------------------------------------------- command parser */

static void test_cmd_parse(void **state)
{
    static const struct {
        const char *in;
        int     rc;
        enum smtpd_cmd_id id;
        const char *args;
    } t[] = {
        {"EHLO client.example\r\n", SMTPD_CMD_OK, SMTPD_CMD_EHLO, "client.example"},
        {"ehlo   x  \r\n", SMTPD_CMD_OK, SMTPD_CMD_EHLO, "x"},
        {"MAIL FROM:<a@b> SIZE=10\r\n", SMTPD_CMD_OK, SMTPD_CMD_MAIL, "FROM:<a@b> SIZE=10"},
        {"DATA\r\n", SMTPD_CMD_OK, SMTPD_CMD_DATA, ""},
        {"DATA\n", SMTPD_CMD_EBARELF, SMTPD_CMD_DATA, ""},
        {"DATA", SMTPD_CMD_ENOEOL, SMTPD_CMD_DATA, ""},
        {"DA\rTA\r\n", SMTPD_CMD_EBADCHAR, SMTPD_CMD_UNKNOWN, ""},
        {"NOOP\r\r\n", SMTPD_CMD_EBADCHAR, SMTPD_CMD_UNKNOWN, ""},
        {"   \r\n", SMTPD_CMD_EEMPTY, SMTPD_CMD_UNKNOWN, ""},
        {"FOO bar\r\n", SMTPD_CMD_OK, SMTPD_CMD_UNKNOWN, "bar"},
        {"DATAX\r\n", SMTPD_CMD_OK, SMTPD_CMD_UNKNOWN, ""},
        {"bdat 10 last\r\n", SMTPD_CMD_OK, SMTPD_CMD_BDAT, "10 last"},
    };
    size_t  i;
    smtpd_cmd cmd;
    char    buf[128];

    (void) state;
    for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        size_t  len = strlen(t[i].in);

        memcpy(buf, t[i].in, len + 1);
        assert_int_equal(smtpd_cmd_parse(buf, len, &cmd), t[i].rc);
        if (t[i].rc == SMTPD_CMD_OK || t[i].rc == SMTPD_CMD_EBARELF
            || t[i].rc == SMTPD_CMD_ENOEOL) {
            assert_int_equal(cmd.id, t[i].id);
            assert_string_equal(cmd.args, t[i].args);
        }
    }
    /* An embedded NUL is refused. */
    memcpy(buf, "NOOP\0x\r\n", 8);
    assert_int_equal(smtpd_cmd_parse(buf, 8, &cmd), SMTPD_CMD_EBADCHAR);
}

/* ---------------------------------------------------- end-of-data machine */

static void test_data_sm(void **state)
{
    static const struct {
        const char *name;
        const char *in;
        int     reject;
        int     result;
        const char *content;            /* content produced */
        size_t  used;                   /* bytes used; 0 = all */
    } t[] = {
        {"plain", "a\r\nb\r\n.\r\nMAIL", 0, SMTPD_DATA_END, "a\nb\n", 9},
        {"empty message", ".\r\n", 0, SMTPD_DATA_END, "", 3},
        {"dot stuffing", "..x\r\n.\r\n", 0, SMTPD_DATA_END, ".x\n", 8},
        {"lf dot lf", "a\n.\nb\r\n", 0, SMTPD_DATA_MORE, "a\n.\nb\n", 0},
        {"cr dot cr", "a\r.\rb\r\n", 0, SMTPD_DATA_MORE, "a\r.\rb\n", 0},
        {"crlf dot lf", "a\r\n.\nb\r\n", 0, SMTPD_DATA_MORE, "a\n.\nb\n", 0},
        {"lf dot crlf", "a\n.\r\nb\r\n", 0, SMTPD_DATA_MORE, "a\n.\nb\n", 0},
        {"lf dot crlf then real end", "a\n.\r\n.\r\n", 0, SMTPD_DATA_END,
         "a\n.\n", 8},
        {"crlf dot cr x", "a\r\n.\rx\r\n", 0, SMTPD_DATA_MORE, "a\n\rx\n", 0},
        {"dot cr cr lf", "a\r\n.\r\r\n", 0, SMTPD_DATA_MORE, "a\n\r\n", 0},
        {"reject bare lf", "a\nb", 1, SMTPD_DATA_BARELF, "a", 2},
        {"reject lf dot lf", "a\r\n.\n", 1, SMTPD_DATA_BARELF, "a\n", 5},
        {"bare cr kept", "a\rb\r\n.\r\n", 1, SMTPD_DATA_END, "a\rb\n", 8},
        {"nul kept", "a\0b\r\n.\r\n", 0, SMTPD_DATA_END, "a\0b\n", 8},
    };
    size_t  i, j, used, total;
    smtpd_data_sm sm;
    strbuf *out = strbuf_new(64);
    int     r;

    (void) state;
    for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        size_t  len = strlen(t[i].in);
        size_t  clen = strlen(t[i].content);

        if (strcmp(t[i].name, "nul kept") == 0) {
            len = 8;
            clen = 4;
        }
        /* Whole input at once. */
        smtpd_data_sm_init(&sm);
        strbuf_reset(out);
        r = smtpd_data_feed(&sm, t[i].reject, t[i].in, len, &used, out);
        assert_int_equal(r, t[i].result);
        assert_int_equal(out->len, clen);
        assert_memory_equal(out->data, t[i].content, clen);
        assert_int_equal(used, t[i].used ? t[i].used : len);

        /* Byte by byte: where reads are cut must not matter. */
        smtpd_data_sm_init(&sm);
        strbuf_reset(out);
        r = SMTPD_DATA_MORE;
        total = 0;
        for (j = 0; j < len && r == SMTPD_DATA_MORE; j++) {
            r = smtpd_data_feed(&sm, t[i].reject, t[i].in + j, 1, &used, out);
            total += used;
        }
        assert_int_equal(r, t[i].result);
        assert_int_equal(out->len, clen);
        assert_int_equal(total, t[i].used ? t[i].used : len);
    }
    strbuf_free(out);
}

/* ------------------------------------------------------------ sessions */

#define T_HELO "EHLO client.example\r\n"
#define T_ENV  "MAIL FROM:<s@example.org>\r\nRCPT TO:<r@example.com>\r\n"

static void test_session_basic(void **state)
{
    strbuf *out;

    (void) state;
    t_reset_queue();
    out = t_run(T_HELO T_ENV "DATA\r\n" "Subject: hi\r\n\r\nbody\r\n.\r\nQUIT\r\n");
    assert_true(t_has(out, "220 mx.example ESMTP Postern\r\n"));
    assert_true(t_has(out, "250-PIPELINING\r\n"));
    assert_true(t_has(out, "250-SIZE 10240000\r\n"));
    assert_true(t_has(out, "250 CHUNKING\r\n"));
    assert_true(t_has(out, "250 2.1.0 Ok\r\n"));
    assert_true(t_has(out, "250 2.1.5 Ok\r\n"));
    assert_true(t_has(out, "354 End data"));
    assert_true(t_has(out, "250 2.0.0 Ok: queued as TEST1\r\n"));
    assert_true(t_has(out, "221 2.0.0 Bye\r\n"));
    assert_int_equal(tq.nmsgs, 1);
    assert_string_equal(strbuf_str(tq.msgs[0]), "Subject: hi\n\nbody\n");
    assert_string_equal(tq.senders[0], "s@example.org");
    assert_true(testlib_log_has("TEST1: client=client.example[192.0.2.1]"));
    assert_true(testlib_log_has("disconnect from client.example[192.0.2.1] ehlo=1 "
                                "mail=1 rcpt=1 data=1 quit=1 commands=5"));
    strbuf_free(out);
    t_reset_queue();
}

/* Every smuggling payload: one message, no second transaction. */
static void test_session_smuggling(void **state)
{
    static const char *const payloads[] = {
        "\n.\n", "\r.\r", "\r\n.\n", "\n.\r\n", "\n.\r", "\r.\n", "\r\n.\r",
    };
    size_t  i;
    strbuf *in = strbuf_new(256);
    strbuf *out;

    (void) state;
    for (i = 0; i < sizeof(payloads) / sizeof(payloads[0]); i++) {
        t_reset_queue();
        strbuf_setf(in, T_HELO T_ENV "DATA\r\nSubject: one\r\n\r\nfirst%s"
                    "MAIL FROM:<evil@x>\r\nRCPT TO:<victim@y>\r\nDATA\r\n"
                    "Subject: smuggled\r\n\r\nsecond\r\n.\r\nQUIT\r\n",
                    payloads[i]);
        out = t_run(in->data);
        assert_int_equal(tq.nmsgs, 1);
        assert_int_equal(t_count(out, "250 2.0.0 Ok: queued"), 1);
        assert_int_equal(t_count(out, "354"), 1);
        assert_non_null(strstr(strbuf_str(tq.msgs[0]), "Subject: smuggled"));
        assert_string_equal(tq.senders[0], "s@example.org");
        strbuf_free(out);
    }
    /* With smtpd_forbid_bare_newline = yes a bare LF ends the session. */
    {
        smtpd_config cfg;

        t_reset_queue();
        t_cfg(&cfg);
        cfg.forbid_bare_newline = SMTPD_BARE_NL_REJECT;
        strbuf_setf(in, T_HELO T_ENV "DATA\r\nfirst\n.\nMAIL FROM:<e@x>\r\n"
                    "RCPT TO:<v@y>\r\nDATA\r\nx\r\n.\r\n");
        out = t_run_cfg(&cfg, in->data, in->len, 0);
        assert_int_equal(tq.nmsgs, 0);
        assert_true(t_has(out, "521 5.5.2 mx.example Error: bare <LF> received"));
        assert_int_equal(t_count(out, "354"), 1);
        strbuf_free(out);
    }
    t_reset_queue();
    strbuf_free(in);
}

/* Long lines cross read boundaries (SMTPD_DATA_PIECE) unharmed, also
 * when the CR of a CRLF is the last byte of a piece. */
static void test_session_long_lines(void **state)
{
    static const size_t lens[] = {SMTPD_DATA_PIECE - 1, SMTPD_DATA_PIECE,
        SMTPD_DATA_PIECE + 1, 3 * SMTPD_DATA_PIECE + 7};
    strbuf *in = strbuf_new(256);
    strbuf *want = strbuf_new(256);
    strbuf *out;
    size_t  i, j;

    (void) state;
    for (i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
        t_reset_queue();
        strbuf_setf(in, T_HELO T_ENV "DATA\r\n");
        strbuf_reset(want);
        for (j = 0; j < lens[i]; j++) {
            strbuf_putc(in, 'a' + (int) (j % 26));
            strbuf_putc(want, 'a' + (int) (j % 26));
        }
        strbuf_printf(in, "\r\n.\r\n.\r\nQUIT\r\n");
        strbuf_printf(want, "\n");
        /* The first ".\r\n" ends the message; the second is a command. */
        out = t_run(in->data);
        assert_int_equal(tq.nmsgs, 1);
        assert_int_equal(tq.msgs[0]->len, want->len);
        assert_memory_equal(tq.msgs[0]->data, want->data, want->len);
        /* The extra "." line after the end is a bad command. */
        assert_true(t_has(out, "500 5.5.2 Error: command not recognized"));
        strbuf_free(out);
    }
    strbuf_free(in);
    strbuf_free(want);
    t_reset_queue();
}

static void test_session_limits(void **state)
{
    smtpd_config cfg;
    strbuf *in = strbuf_new(256);
    strbuf *out;
    int     i;

    (void) state;
    /* SIZE refused early, and content over the limit: 552, nothing queued. */
    t_reset_queue();
    t_cfg(&cfg);
    cfg.message_size_limit = 100;
    strbuf_setf(in, T_HELO "MAIL FROM:<s@x> SIZE=101\r\n"
                "MAIL FROM:<s@x> SIZE=50\r\nRCPT TO:<r@y>\r\nDATA\r\n");
    for (i = 0; i < 20; i++)
        strbuf_printf(in, "0123456789\r\n");
    strbuf_printf(in, ".\r\nNOOP\r\n");
    out = t_run_cfg(&cfg, in->data, in->len, 0);
    assert_true(t_has(out, "552 5.3.4 Message size exceeds fixed limit\r\n250 2.1.0"));
    assert_int_equal(t_count(out, "552 5.3.4"), 2);
    assert_true(t_has(out, "250-SIZE 100\r\n"));
    assert_int_equal(tq.nmsgs, 0);
    assert_true(t_has(out, "552 5.3.4 Message size exceeds fixed limit\r\n250 2.0.0 Ok\r\n"));
    strbuf_free(out);

    /* Recipient limit. */
    t_reset_queue();
    t_cfg(&cfg);
    cfg.recipient_limit = 2;
    strbuf_setf(in, T_HELO "MAIL FROM:<s@x>\r\nRCPT TO:<a@y>\r\n"
                "RCPT TO:<b@y>\r\nRCPT TO:<c@y>\r\nQUIT\r\n");
    out = t_run_cfg(&cfg, in->data, in->len, 0);
    assert_true(t_has(out, "452 4.5.3 Error: too many recipients\r\n"));
    strbuf_free(out);

    /* Hard error limit. */
    t_reset_queue();
    t_cfg(&cfg);
    cfg.hard_error_limit = 3;
    out = t_run_cfg(&cfg, "FOO\r\nBAR\r\nBAZ\r\nNOOP\r\n", 21, 0);
    assert_int_equal(t_count(out, "500 5.5.2"), 3);
    assert_true(t_has(out, "421 4.7.0 mx.example Error: too many errors\r\n"));
    assert_false(t_has(out, "250 2.0.0 Ok"));
    strbuf_free(out);

    /* Junk commands past smtpd_junk_command_limit count as errors. */
    t_reset_queue();
    t_cfg(&cfg);
    cfg.junk_command_limit = 2;
    cfg.hard_error_limit = 2;
    out = t_run_cfg(&cfg, "NOOP\r\nNOOP\r\nNOOP\r\nNOOP\r\nNOOP\r\nNOOP\r\n", 36, 0);
    assert_int_equal(t_count(out, "250 2.0.0 Ok"), 4);
    assert_true(t_has(out, "421 4.7.0 mx.example Error: too many errors\r\n"));
    strbuf_free(out);

    /* Over-long command line: 500, and the session stays in sync. */
    t_reset_queue();
    strbuf_setf(in, "NOOP ");
    for (i = 0; i < 1000; i++)
        strbuf_printf(in, "0123456789");
    strbuf_printf(in, "\r\nNOOP\r\n");
    out = t_run(in->data);
    assert_int_equal(t_count(out, "500 5.5.2 Error: line too long"), 1);
    assert_int_equal(t_count(out, "250 2.0.0 Ok"), 1);
    strbuf_free(out);
    strbuf_free(in);
    t_reset_queue();
}

static void test_session_pipelining(void **state)
{
    smtpd_config cfg;
    strbuf *out;

    (void) state;
    /* Proper pipelining after EHLO is fine. */
    t_reset_queue();
    t_cfg(&cfg);
    cfg.forbid_unauth_pipelining = 1;
    out = t_run_cfg(&cfg, "EHLO x\r\n", 8, 0);
    assert_true(t_has(out, "250 CHUNKING"));
    strbuf_free(out);
    out = t_run_pipe("NOOP\r\n" T_ENV "RSET\r\n" T_ENV "QUIT\r\n");
    assert_int_equal(t_count(out, "250 2.1.5 Ok"), 2);
    assert_false(t_has(out, "554 5.5.0"));
    strbuf_free(out);
    /* Early talker: before the banner. */
    t_reset_queue();
    out = t_run_cfg(&cfg, "EHLO x\r\n", 8, 1);
    assert_true(t_has(out, "554 5.5.0 Error: SMTP protocol synchronization"));
    assert_false(t_has(out, "220 "));
    strbuf_free(out);
    /* Commands sent with EHLO before its reply. */
    t_reset_queue();
    out = t_run_cfg(&cfg, "EHLO x\r\nMAIL FROM:<a@b>\r\n", 25, 0);
    assert_true(t_has(out, "554 5.5.0 Error: SMTP protocol synchronization"));
    assert_false(t_has(out, "250 2.1.0"));
    strbuf_free(out);
    /* Content sent with DATA before 354. */
    t_reset_queue();
    out = t_run_pipe(T_ENV "DATA\r\nSubject: x\r\n\r\n.\r\n");
    assert_true(t_has(out, "554 5.5.0 Error: SMTP protocol synchronization"));
    assert_false(t_has(out, "354"));
    assert_int_equal(tq.nmsgs, 0);
    strbuf_free(out);
    /* Allowed when smtpd_forbid_unauth_pipelining = no. */
    t_reset_queue();
    cfg.forbid_unauth_pipelining = 0;
    out = t_run_cfg(&cfg, "HELO x\r\nMAIL FROM:<a@b>\r\nQUIT\r\n", 31, 0);
    assert_true(t_has(out, "250 2.1.0 Ok"));
    strbuf_free(out);
    t_reset_queue();
}

static void test_session_commands(void **state)
{
    strbuf *out;

    (void) state;
    t_reset_queue();
    out = t_run("MAIL FROM:<a@b>\r\n");
    assert_true(t_has(out, "250 2.1.0 Ok"));     /* smtpd_helo_required = no */
    strbuf_free(out);
    {
        smtpd_config cfg;

        t_cfg(&cfg);
        cfg.helo_required = 1;
        out = t_run_cfg(&cfg, "MAIL FROM:<a@b>\r\n", 17, 0);
        assert_true(t_has(out, "503 5.5.1 Error: send HELO/EHLO first"));
        strbuf_free(out);
    }

    /* Sequence errors and syntax, one command at a time. */
    {
        static const struct {
            const char *cmd;
            const char *reply;
        } t[] = {
            {"RCPT TO:<a@b>\r\n", "503 5.5.1 Error: need MAIL command"},
            {"DATA\r\n", "503 5.5.1 Error: need RCPT command"},
            {"MAIL FROM:a@b\r\n", "501 5.1.7 Bad sender address syntax"},
            {"MAIL TO:<a@b>\r\n", "501 5.5.4 Syntax: MAIL FROM:<address>"},
            {"MAIL FROM:<a@b> FOO=1\r\n", "555 5.5.4 Unsupported option: FOO"},
            {"MAIL FROM:<a@b> BODY=9BIT\r\n", "501 5.5.4 Bad BODY parameter value"},
            {"MAIL FROM:<\xc3\xa9@b>\r\n", "553 5.6.7 Must declare SMTPUTF8"},
            {"MAIL FROM:<\xc3\xa9@b> SMTPUTF8\r\n", "250 2.1.0 Ok"},
            {"MAIL FROM:<a@b> RET=FULL ENVID=x+2By\r\n", "250 2.1.0 Ok"},
            {"VRFY root\r\n", "252 2.0.0"},
            {"VRFY\r\n", "501 5.5.4 Syntax: VRFY address"},
            {"HELP\r\n", "214 2.0.0"},
            {"NOOP\r\n", "250 2.0.0 Ok"},
            {"RSET\r\n", "250 2.0.0 Ok"},
            {"EXPN x\r\n", "502 5.5.1"},
            {"HELO\r\n", "501 5.5.4 Syntax: HELO hostname"},
            {"ETRN example.com\r\n", "250 2.0.0 Queuing started"},
            {"ETRN deny.example\r\n", "459 4.7.1 <deny.example>: service unavailable"},
            {"ETRN fail.example\r\n", "458 4.3.0 Unable to queue messages"},
            {"ETRN\r\n", "500 5.5.4 Syntax: ETRN domain"},
            {"XYZZY\r\n", "500 5.5.2 Error: command not recognized"},
            {"BDAT 3 LAST\r\nabc", "503 5.5.1 Error: need valid MAIL"},
            {"BDAT x\r\n", "501 5.5.4 Syntax: BDAT count [LAST]"},
        };
        size_t  i;
        strbuf *in = strbuf_new(128);

        for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
            t_reset_queue();
            strbuf_setf(in, "EHLO x\r\n%s", t[i].cmd);
            {
                smtpd_config cfg;

                t_cfg(&cfg);
                cfg.forbid_unauth_pipelining = 0;
                out = t_run_cfg(&cfg, in->data, in->len, 0);
            }
            if (!t_has(out, t[i].reply))
                fail_msg("%s: got %s", t[i].cmd, strbuf_str(out));
            strbuf_free(out);
        }
        strbuf_free(in);
    }
    /* Relay refusal from the check hook; other recipients go on. */
    t_reset_queue();
    out = t_run(T_HELO "MAIL FROM:<s@x>\r\nRCPT TO:<bad@x>\r\nRCPT TO:<ok@x>\r\n"
                "DATA\r\nx\r\n.\r\n");
    assert_true(t_has(out, "554 5.7.1 <bad@x>: Relay access denied"));
    assert_int_equal(tq.nmsgs, 1);
    assert_int_equal(tq.nrcpts[0], 1);
    strbuf_free(out);
    /* DSN parameters. */
    t_reset_queue();
    out = t_run(T_HELO "MAIL FROM:<s@x> RET=HDRS ENVID=abc+2Bd\r\n"
                "RCPT TO:<r@x> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;r+40x\r\n"
                "RCPT TO:<q@x> NOTIFY=NEVER,DELAY\r\n");
    assert_true(t_has(out, "250 2.1.5 Ok"));
    assert_true(t_has(out, "501 5.5.4 Bad NOTIFY parameter value"));
    strbuf_free(out);
    t_reset_queue();
}

static void test_session_bdat(void **state)
{
    strbuf *out;

    (void) state;
    t_reset_queue();
    out = t_run(T_HELO T_ENV "BDAT 7\r\nab\r\n.\r\nBDAT 4 LAST\r\ncd\r\nQUIT\r\n");
    assert_true(t_has(out, "250 2.0.0 Ok: 7 bytes"));
    assert_true(t_has(out, "250 2.0.0 Ok: queued as TEST1"));
    assert_int_equal(tq.nmsgs, 1);
    assert_string_equal(strbuf_str(tq.msgs[0]), "ab\n.\ncd\n");
    strbuf_free(out);
    /* CR and LF split across chunks. */
    t_reset_queue();
    out = t_run(T_HELO T_ENV "BDAT 3\r\nab\rBDAT 1 LAST\r\n\nQUIT\r\n");
    assert_int_equal(tq.nmsgs, 1);
    assert_string_equal(strbuf_str(tq.msgs[0]), "ab\n");
    strbuf_free(out);
    /* BDAT 0 LAST without content, then DATA is refused while BDAT runs. */
    t_reset_queue();
    out = t_run(T_HELO T_ENV "BDAT 2\r\nabDATA\r\nBDAT 0 LAST\r\n");
    assert_true(t_has(out, "503 5.5.1 Error: BDAT in progress"));
    assert_int_equal(tq.nmsgs, 1);
    strbuf_free(out);
    /* Truncated chunk: nothing queued. */
    t_reset_queue();
    out = t_run(T_HELO T_ENV "BDAT 100 LAST\r\nshort");
    assert_int_equal(tq.nmsgs, 0);
    strbuf_free(out);
    t_reset_queue();
}

static void test_session_queue_trouble(void **state)
{
    strbuf *out;

    (void) state;
    t_reset_queue();
    tq.fail_open = 1;
    out = t_run(T_HELO T_ENV "DATA\r\n");
    assert_true(t_has(out, "451 4.3.0 Error: queue file write error"));
    assert_false(t_has(out, "354"));
    strbuf_free(out);
    t_reset_queue();
    tq.fail_content = 1;
    out = t_run(T_HELO T_ENV "DATA\r\nabc\r\n.\r\nQUIT\r\n");
    assert_true(t_has(out, "451 4.3.0 Error: queue file write error"));
    assert_int_equal(tq.nmsgs, 0);
    strbuf_free(out);
    /* Lost connection during DATA: nothing queued. */
    t_reset_queue();
    out = t_run(T_HELO T_ENV "DATA\r\nabc\r\n");
    assert_int_equal(tq.nmsgs, 0);
    assert_true(testlib_log_has("lost connection after DATA"));
    strbuf_free(out);
    t_reset_queue();
}

/* test_disconnect_counts: "rcpt=0/1" for refused commands (Postfix). */
static void test_disconnect_counts(void **state)
{
    strbuf *out;

    (void) state;
    t_reset_queue();
    testlib_setup();
    out = t_run("EHLO c\r\nMAIL FROM:<a@x>\r\nRCPT TO:<bad@x>\r\n"
                "DATA\r\nBOGUS\r\nQUIT\r\n");
    assert_true(testlib_log_has("disconnect from client.example[192.0.2.1] "
                                "ehlo=1 mail=1 rcpt=0/1 data=0/1 quit=1 "
                                "unknown=0/1 commands=3/6"));
    strbuf_free(out);
    out = t_run("EHLO c\r\nMAIL FROM:<a@x>\r\nRCPT TO:<ok@x>\r\n"
                "DATA\r\nhi\r\n.\r\nQUIT\r\n");
    assert_true(testlib_log_has("ehlo=1 mail=1 rcpt=1 data=1 quit=1 "
                                "commands=5"));
    strbuf_free(out);
    t_reset_queue();
}

/* test_transcript_notice: error classes in notify_mask mail the transcript;
 * others do not; the flush threshold drops old lines at RSET. */
static void test_transcript_notice(void **state)
{
    smtpd_config cfg;
    strbuf *out;
    const char *in = "EHLO c\r\nMAIL FROM:<a@x>\r\nRCPT TO:<bad@x>\r\nQUIT\r\n";

    (void) state;
    t_reset_queue();
    t_cfg(&cfg);
    cfg.notify_mask = SMTPD_ERR_RESOURCE;       /* a policy error: no mail */
    out = t_run_cfg(&cfg, in, strlen(in), 0);
    assert_int_equal(tq.notified, 0);
    strbuf_free(out);

    cfg.notify_mask = SMTPD_ERR_POLICY;
    out = t_run_cfg(&cfg, in, strlen(in), 0);
    assert_int_equal(tq.notified, 1);
    assert_non_null(strstr(strbuf_str(tq.transcript), "In:  RCPT TO:<bad@x>\n"));
    assert_non_null(strstr(strbuf_str(tq.transcript),
                           "Out: 554 5.7.1 <bad@x>: Relay access denied\n"));
    assert_non_null(strstr(strbuf_str(tq.transcript), "Out: 220 mx.example"));
    strbuf_free(out);

    /* Protocol errors; control bytes in the transcript become '?'. */
    cfg.notify_mask = SMTPD_ERR_PROTOCOL;
    in = "EHLO c\r\nFOO\x01" "bar\r\nQUIT\r\n";
    out = t_run_cfg(&cfg, in, strlen(in), 0);
    assert_int_equal(tq.notified, 2);
    assert_non_null(strstr(strbuf_str(tq.transcript), "In:  FOO?bar\n"));
    strbuf_free(out);

    /* Past the threshold, RSET drops what came before. */
    cfg.notify_mask = SMTPD_ERR_PROTOCOL;
    cfg.history_flush_threshold = 2;
    in = "EHLO early\r\nNOOP\r\nRSET\r\nBOGUS\r\nQUIT\r\n";
    out = t_run_cfg(&cfg, in, strlen(in), 0);
    assert_int_equal(tq.notified, 3);
    assert_null(strstr(strbuf_str(tq.transcript), "EHLO early"));
    assert_non_null(strstr(strbuf_str(tq.transcript), "In:  BOGUS\n"));
    strbuf_free(out);
    t_reset_queue();
}

int     main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cmd_parse),
        cmocka_unit_test(test_data_sm),
        cmocka_unit_test(test_session_basic),
        cmocka_unit_test(test_session_smuggling),
        cmocka_unit_test(test_session_long_lines),
        cmocka_unit_test(test_session_limits),
        cmocka_unit_test(test_session_pipelining),
        cmocka_unit_test(test_session_commands),
        cmocka_unit_test(test_session_bdat),
        cmocka_unit_test(test_session_queue_trouble),
        cmocka_unit_test(test_disconnect_counts),
        cmocka_unit_test(test_transcript_notice),
    };

    testlib_setup();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
