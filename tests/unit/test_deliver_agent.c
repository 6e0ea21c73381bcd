/*
 * Unit tests for lib/mail/deliver_agent.c: the frame every delivery agent
 * uses around one request. The agent side runs in the test process (so
 * the log capture and panic hook work); qmgr's side runs in a forked
 * child over a socketpair, either the real client (deliver_send_stream,
 * results passed back through a pipe) or a raw peer that hangs up or
 * sends garbage. Queue files live in a temporary queue_directory.
 * Covered: bad queue names, missing, symlinked, unparsable, truncated and
 * unreadable queue files (all deferred 4.3.0), content and Delivered-To:
 * of a good file, single and bulk reports, deliver_agent_each, a lost
 * connection, a malformed request, and double reports (panic).
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "deliver_agent.h"
#include "deliver_request.h"
#include "mem.h"
#include "param.h"
#include "param_names.h"
#include "qfile.h"
#include "stream.h"
#include "strbuf.h"
#include "testlib.h"

#define MAXREC  4096

static char qdir[] = "/tmp/test_deliver_agent.XXXXXX";

/* One result as the qmgr child saw it; offset -1 ends the list (status = rc). */
typedef struct result {
    long    offset;
    int     status;
    char    dsn[16];
    char    relay[32];
    char    reason[200];
} result;

typedef struct results {
    result  r[8];
    int     n;
    int     rc;                         /* deliver_send_stream's return */
} results;

enum peer {
    PEER_QMGR,                          /* deliver_send_stream */
    PEER_HANGUP,                        /* sends the request, then closes */
    PEER_GARBAGE,                       /* sends a malformed request */
};

/* The qmgr child while it runs. */
typedef struct peer_run {
    pid_t   pid;
    int     sock;                       /* the agent's end */
    int     pipe_rd;                    /* results from the child */
} peer_run;

static const deliver_rcpt_out rcpts3[] = {
    {"alice@example.com", NULL, NULL, 0, 100},
    {"bob@example.com", NULL, NULL, 0, 200},
    {"carol@example.com", NULL, NULL, 0, 300},
};

/* collect: deliver_result_fn writing each result to the pipe. */
static void collect(void *ctx, long offset, int status, const char *dsn,
                    const char *relay, const char *reason)
{
    int     fd = *(int *) ctx;
    result  r;

    memset(&r, 0, sizeof(r));
    r.offset = offset;
    r.status = status;
    (void) snprintf(r.dsn, sizeof(r.dsn), "%s", dsn);
    (void) snprintf(r.relay, sizeof(r.relay), "%s", relay);
    (void) snprintf(r.reason, sizeof(r.reason), "%s", reason);
    if (write(fd, &r, sizeof(r)) != (ssize_t) sizeof(r))
        _exit(3);
}

/* peer_child: qmgr's side, in the child. */
static void peer_child(int sock, int pipe_wr, enum peer kind,
                       const deliver_req_out *req)
{
    stream *s = stream_fdopen(sock, STREAM_F_RDWR);
    strbuf *buf = strbuf_new(256);
    result  end;
    char    c;

    stream_set_timeout(s, 5000);
    memset(&end, 0, sizeof(end));
    end.offset = -1;
    switch (kind) {
    case PEER_QMGR:
        end.status = deliver_send_stream(s, req, collect, &pipe_wr, buf);
        break;
    case PEER_HANGUP:
    case PEER_GARBAGE:
        if (kind == PEER_HANGUP)
            assert_int_equal(deliver_encode_request(req, buf), 0);
        else
            (void) strbuf_puts(buf, "queue_name=active\nno such attribute\n\n");
        if (write(sock, buf->data, buf->len) != (ssize_t) buf->len)
            _exit(4);
        /* Wait for the agent's protocol line, so it reads what we sent. */
        if (read(sock, &c, 1) != 1)
            _exit(5);
        break;
    }
    if (write(pipe_wr, &end, sizeof(end)) != (ssize_t) sizeof(end))
        _exit(3);
    _exit(0);
}

/* peer_start: fork qmgr's side; the agent talks on run->sock. */
static void peer_start(peer_run *run, enum peer kind, const deliver_req_out *req)
{
    int     sv[2];
    int     pv[2];

    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    assert_int_equal(pipe(pv), 0);
    run->pid = fork();
    assert_true(run->pid >= 0);
    if (run->pid == 0) {
        close(sv[0]);
        close(pv[0]);
        peer_child(sv[1], pv[1], kind, req);
    }
    close(sv[1]);
    close(pv[1]);
    run->sock = sv[0];
    run->pipe_rd = pv[0];
}

/* peer_finish: close the agent's stream, reap the child, read its results. */
static void peer_finish(peer_run *run, stream *s, results *rs)
{
    int     status;
    result  r;

    stream_close(s);
    memset(rs, 0, sizeof(*rs));
    rs->rc = -99;
    while (read(run->pipe_rd, &r, sizeof(r)) == (ssize_t) sizeof(r)) {
        if (r.offset == -1) {
            rs->rc = r.status;
            break;
        }
        assert_true(rs->n < 8);
        rs->r[rs->n++] = r;
    }
    close(run->pipe_rd);
    if (run->pid < 0)                   /* reaped already */
        return;
    assert_int_equal(waitpid(run->pid, &status, 0), run->pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

/* find: the one result for offset. */
static const result *find(const results *rs, long offset)
{
    const result *found = NULL;
    int     i, hits = 0;

    for (i = 0; i < rs->n; i++)
        if (rs->r[i].offset == offset) {
            found = rs->r + i;
            hits++;
        }
    if (hits != 1)
        fail_msg("offset %ld reported %d times", offset, hits);
    return found;
}

/* request: a three-recipient request for queue/id. */
static deliver_req_out request(const char *queue, const char *id)
{
    deliver_req_out req;

    memset(&req, 0, sizeof(req));
    req.queue_name = queue;
    req.queue_id = id;
    req.nexthop = "";
    req.sender = "sender@example.org";
    req.arrival_time = 1700000000L;
    req.rcpts = rcpts3;
    req.nrcpts = 3;
    return req;
}

/* qfile_path: queue_directory/active/id into buf. */
static void qfile_path(strbuf *buf, const char *id)
{
    strbuf_reset(buf);
    (void) strbuf_printf(buf, "%s/active/%s", qdir, id);
}

/* write_qfile: a complete queue file active/id with this content. */
static void write_qfile(const char *id, const char *content)
{
    strbuf *path = strbuf_new(64);
    int     fd;
    stream *s;
    qfile_writer *w;
    qfile_header h;

    qfile_path(path, id);
    fd = open(path->data, O_RDWR | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    s = stream_fdopen(fd, STREAM_F_WRITE | STREAM_F_NOCLOSE);
    w = qfile_writer_new(s, MAXREC);
    assert_int_equal(qfile_put_header(w, 0), 0);
    assert_int_equal(qfile_put_time(w, 1700000000L, 0), 0);
    assert_int_equal(qfile_put_sender(w, "sender@example.org"), 0);
    assert_int_equal(qfile_put_rcpt(w, "alice@example.com", NULL, NULL, 0), 0);
    assert_int_equal(qfile_put_rcpt(w, "bob@example.com", NULL, NULL, 0), 0);
    assert_int_equal(qfile_put_rcpt(w, "carol@example.com", NULL, NULL, 0), 0);
    assert_int_equal(qfile_put_content_start(w), 0);
    assert_int_equal(qfile_put_text(w, content, strlen(content), 0), 0);
    if (qfile_finish(w, &h) < 0)
        fail_msg("qfile_finish: %s", qfile_writer_error(w));
    assert_int_equal(qfile_update_header(fd, &h), 0);
    qfile_writer_free(w);
    assert_int_equal(stream_close(s), 0);
    assert_int_equal(close(fd), 0);
    strbuf_free(path);
}

/* write_raw: active/id with these bytes and this mode. */
static void write_raw(const char *id, const char *bytes, mode_t mode)
{
    strbuf *path = strbuf_new(64);
    int     fd;

    qfile_path(path, id);
    fd = open(path->data, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, bytes, strlen(bytes)), (ssize_t) strlen(bytes));
    assert_int_equal(fchmod(fd, mode), 0);
    close(fd);
    strbuf_free(path);
}

/* agent_start: read the request the peer sends; NULL when it was bad. */
static deliver_agent *agent_start(peer_run *run, stream **sp, enum peer kind,
                                  const deliver_req_out *req)
{
    peer_start(run, kind, req);
    *sp = stream_fdopen(run->sock, STREAM_F_RDWR);
    stream_set_timeout(*sp, 5000);
    return deliver_agent_read(*sp, "test-relay");
}

/* Cases where the queue file cannot be used: every recipient deferred. */
typedef struct bad_case {
    const char *name;
    const char *queue;                  /* queue_name in the request */
    const char *id;
    void    (*prepare) (const char *id);
    int     skip_as_root;
    const char *reason;                 /* the reported reason starts so */
    const char *log;                    /* a logged warning contains this */
} bad_case;

/* prep_none: no file at all. */
static void prep_none(const char *id)
{
    (void) id;
}

/* prep_garbage: a file that is no queue file. */
static void prep_garbage(const char *id)
{
    write_raw(id, "this is not a queue file\n", 0600);
}

/* prep_noperm: a good file nobody may read (root still can). */
static void prep_noperm(const char *id)
{
    write_qfile(id, "Subject: x\n\nbody\n");
    write_raw(id, "", 0000);
}

/* prep_symlink: active/id is a symlink to a good file. */
static void prep_symlink(const char *id)
{
    strbuf *link = strbuf_new(64);
    strbuf *target = strbuf_new(64);

    write_qfile("ABCDEF99", "Subject: x\n\nbody\n");
    qfile_path(target, "ABCDEF99");
    qfile_path(link, id);
    assert_int_equal(symlink(target->data, link->data), 0);
    strbuf_free(link);
    strbuf_free(target);
}

/* prep_truncated: a good file cut short inside the recipients. */
static void prep_truncated(const char *id)
{
    strbuf *path = strbuf_new(64);

    write_qfile(id, "Subject: x\n\nbody\n");
    qfile_path(path, id);
    assert_int_equal(truncate(path->data, 60), 0);
    strbuf_free(path);
}

static const bad_case bad_cases[] = {
    {"not the active queue", "incoming", "ABCDE101", prep_garbage, 0,
        "bad queue file name in request", "bad queue file name in request: incoming/ABCDE101"},
    {"missing file", "active", "ABCDE102", prep_none, 0,
        "cannot open queue file: No such file or directory", "ABCDE102: "},
    {"symlink", "active", "ABCDE103", prep_symlink, 0,
        "cannot open queue file:", "cannot open queue file"},
    {"not a queue file", "active", "ABCDE104", prep_garbage, 0,
        "queue file is unreadable", "ABCDE104: unreadable queue file"},
    {"truncated", "active", "ABCDE105", prep_truncated, 0,
        "queue file is unreadable", "ABCDE105: unreadable queue file"},
    {"unreadable mode", "active", "ABCDE106", prep_noperm, 1,
        "cannot open queue file: Permission denied", "Permission denied"},
};

/* test_bad_queue_file: each bad file defers every recipient, never bounces. */
static void test_bad_queue_file(void **state)
{
    size_t  i;
    long    j;

    (void) state;
    for (i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
        const bad_case *c = bad_cases + i;
        deliver_req_out req = request(c->queue, c->id);
        peer_run run;
        results rs;
        stream *s;
        deliver_agent *a;

        if (c->skip_as_root && geteuid() == 0)
            continue;
        c->prepare(c->id);
        testlib_log_reset();
        a = agent_start(&run, &s, PEER_QMGR, &req);
        assert_non_null(a);
        if (deliver_agent_open_queue(a, MAXREC) != -1)
            fail_msg("%s: queue file accepted", c->name);
        if (!testlib_log_has(c->log))
            fail_msg("%s: log lacks \"%s\": %s", c->name, c->log, testlib_log());
        assert_null(a->delivered_to);
        assert_int_equal(deliver_agent_report_all(a, DELIVER_STAT_OK, "2.0.0", "x"), 0);
        assert_int_equal(deliver_agent_done(a), 0);
        a = deliver_agent_free(a);
        assert_null(a);
        peer_finish(&run, s, &rs);
        assert_int_equal(rs.rc, 0);
        assert_int_equal(rs.n, 3);
        for (j = 100; j <= 300; j += 100) {
            const result *r = find(&rs, j);

            if (r->status != DELIVER_STAT_DEFER || strcmp(r->dsn, "4.3.0") != 0
                || strncmp(r->reason, c->reason, strlen(c->reason)) != 0)
                fail_msg("%s: offset %ld: %d %s %s", c->name, j, r->status,
                         r->dsn, r->reason);
            assert_string_equal(r->relay, "test-relay");
        }
    }
}

/* read_content: the whole content through a->content. */
static void read_content(deliver_agent *a, strbuf *out)
{
    strbuf *piece = strbuf_new(64);
    strbuf *err = strbuf_new(64);
    int     rc;

    assert_int_equal(a->content.start(a->content.ctx, err), 0);
    while ((rc = a->content.next(a->content.ctx, piece, err)) != QFILE_CONTENT_END) {
        assert_true(rc > 0);
        (void) strbuf_append(out, piece->data, piece->len);
        if (rc == QFILE_CONTENT_LINE)
            (void) strbuf_putc(out, '\n');
    }
    strbuf_free(piece);
    strbuf_free(err);
}

/* test_good_file: content and Delivered-To: are readable; mixed reports. */
static void test_good_file(void **state)
{
    deliver_req_out req = request("active", "ABCDE201");
    const char *content = "Delivered-To: <Bob@Example.COM>\nSubject: hi\n\nbody line\n";
    strbuf *seen = strbuf_new(128);
    peer_run run;
    results rs;
    stream *s;
    deliver_agent *a;

    (void) state;
    write_qfile("ABCDE201", content);
    testlib_log_reset();
    a = agent_start(&run, &s, PEER_QMGR, &req);
    assert_non_null(a);
    assert_int_equal(a->req->nrcpts, 3);
    assert_int_equal(deliver_agent_open_queue(a, MAXREC), 0);
    assert_true(htable_has(a->delivered_to, "bob@example.com"));
    assert_int_equal(htable_count(a->delivered_to), 1);
    read_content(a, seen);
    assert_string_equal(seen->data, content);
    /* Read again: every destination gets the whole message. */
    strbuf_reset(seen);
    read_content(a, seen);
    assert_string_equal(seen->data, content);

    /* One recipient on its own, then the rest with one outcome. */
    assert_int_equal(deliver_agent_report(a, &a->req->rcpts[1], DELIVER_STAT_OK,
                                          "2.0.0", "delivered"), 0);
    assert_int_equal(deliver_agent_report_all(a, DELIVER_STAT_BOUNCE, "5.1.1",
                                              "unknown user"), 0);
    /* Nothing is left: a second report_all sends nothing. */
    assert_int_equal(deliver_agent_report_all(a, DELIVER_STAT_DEFER, "4.0.0", "x"), 0);
    assert_int_equal(deliver_agent_done(a), 0);
    assert_true(testlib_log_has("to=<bob@example.com>"));
    assert_true(testlib_log_has("relay=test-relay"));
    assert_true(testlib_log_has("status=bounced (unknown user)"));
    a = deliver_agent_free(a);
    peer_finish(&run, s, &rs);
    assert_int_equal(rs.rc, 0);
    assert_int_equal(rs.n, 3);
    assert_int_equal(find(&rs, 200)->status, DELIVER_STAT_OK);
    assert_string_equal(find(&rs, 200)->reason, "delivered");
    assert_int_equal(find(&rs, 100)->status, DELIVER_STAT_BOUNCE);
    assert_string_equal(find(&rs, 100)->dsn, "5.1.1");
    assert_int_equal(find(&rs, 300)->status, DELIVER_STAT_BOUNCE);
    strbuf_free(seen);
}

/* test_no_queue_file: error/discard style, the queue file is never opened. */
static void test_no_queue_file(void **state)
{
    deliver_req_out req = request("active", "ABCDE202");     /* no such file */
    peer_run run;
    results rs;
    stream *s;
    deliver_agent *a;

    (void) state;
    a = agent_start(&run, &s, PEER_QMGR, &req);
    assert_non_null(a);
    assert_int_equal(deliver_agent_report_all(a, DELIVER_STAT_OK, "2.0.0", "discarded"), 0);
    assert_int_equal(deliver_agent_done(a), 0);
    a = deliver_agent_free(a);
    peer_finish(&run, s, &rs);
    assert_int_equal(rs.rc, 0);
    assert_int_equal(rs.n, 3);
    assert_string_equal(find(&rs, 300)->reason, "discarded");
}

/* decide: deliver_agent_fn; bob bounces, carol is left undecided. */
static void decide(void *ctx, const deliver_rcpt *rcpt, mailbox_result *res)
{
    int    *calls = ctx;

    (*calls)++;
    assert_string_not_equal(rcpt->address, "alice@example.com");
    if (strcmp(rcpt->address, "bob@example.com") == 0)
        mailbox_result_set(res, DELIVER_STAT_BOUNCE, "5.2.2", "mailbox full");
}

/* test_each: fn decides only the recipients not reported yet. */
static void test_each(void **state)
{
    deliver_req_out req = request("active", "ABCDE206");
    peer_run run;
    results rs;
    stream *s;
    deliver_agent *a;
    int     calls = 0;

    (void) state;
    a = agent_start(&run, &s, PEER_QMGR, &req);
    assert_non_null(a);
    assert_int_equal(deliver_agent_report(a, &a->req->rcpts[0], DELIVER_STAT_OK,
                                          "2.0.0", "first"), 0);
    assert_int_equal(deliver_agent_each(a, decide, &calls), 0);
    assert_int_equal(calls, 2);
    /* Everyone is reported now: fn is not called again. */
    assert_int_equal(deliver_agent_each(a, decide, &calls), 0);
    assert_int_equal(calls, 2);
    assert_int_equal(deliver_agent_done(a), 0);
    a = deliver_agent_free(a);
    peer_finish(&run, s, &rs);
    assert_int_equal(rs.rc, 0);
    assert_int_equal(rs.n, 3);
    assert_string_equal(find(&rs, 100)->reason, "first");
    assert_int_equal(find(&rs, 200)->status, DELIVER_STAT_BOUNCE);
    assert_string_equal(find(&rs, 200)->dsn, "5.2.2");
    assert_string_equal(find(&rs, 200)->reason, "mailbox full");
    /* An outcome fn did not set defers, never passes for delivered. */
    assert_int_equal(find(&rs, 300)->status, DELIVER_STAT_DEFER);
    assert_string_equal(find(&rs, 300)->dsn, "4.3.0");
}

/* count: occurrences of needle in the captured log. */
static int count(const char *needle)
{
    const char *p = testlib_log();
    int     n = 0;

    while ((p = strstr(p, needle)) != NULL) {
        n++;
        p += strlen(needle);
    }
    return n;
}

/* test_lost_connection: qmgr hangs up; one warning, nothing more sent. */
static void test_lost_connection(void **state)
{
    deliver_req_out req = request("active", "ABCDE203");
    peer_run run;
    results rs;
    stream *s;
    deliver_agent *a;
    int     status;

    (void) state;
    testlib_log_reset();
    a = agent_start(&run, &s, PEER_HANGUP, &req);
    assert_non_null(a);
    /* Wait until the peer is gone, so the first write fails for sure. */
    assert_int_equal(waitpid(run.pid, &status, 0), run.pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    run.pid = -1;
    assert_int_equal(deliver_agent_report(a, &a->req->rcpts[0], DELIVER_STAT_OK,
                                          "2.0.0", "ok"), -1);
    assert_true(a->lost);
    assert_int_equal(deliver_agent_report(a, &a->req->rcpts[1], DELIVER_STAT_OK,
                                          "2.0.0", "ok"), -1);
    assert_int_equal(deliver_agent_report_all(a, DELIVER_STAT_OK, "2.0.0", "ok"), -1);
    assert_int_equal(deliver_agent_done(a), -1);
    assert_int_equal(count("ABCDE203: lost the connection to the queue manager"), 1);
    a = deliver_agent_free(a);
    peer_finish(&run, s, &rs);
    assert_int_equal(rs.n, 0);
}

/* test_bad_request: a malformed request gives NULL and a warning. */
static void test_bad_request(void **state)
{
    deliver_req_out req = request("active", "ABCDE204");
    peer_run run;
    results rs;
    stream *s;

    (void) state;
    testlib_log_reset();
    assert_null(agent_start(&run, &s, PEER_GARBAGE, &req));
    assert_true(testlib_log_has("bad delivery request: "));
    peer_finish(&run, s, &rs);
}

/* test_report_twice: reporting one recipient twice is our bug (panic). */
static void test_report_twice(void **state)
{
    deliver_req_out req = request("active", "ABCDE205");
    deliver_rcpt other;
    peer_run run;
    results rs;
    stream *s;
    deliver_agent *a;

    (void) state;
    a = agent_start(&run, &s, PEER_QMGR, &req);
    assert_non_null(a);
    assert_int_equal(deliver_agent_report(a, &a->req->rcpts[0], DELIVER_STAT_OK,
                                          "2.0.0", "ok"), 0);
    TESTLIB_EXPECT_EXIT(MSG_PANIC, deliver_agent_report(a, &a->req->rcpts[0],
                                                        DELIVER_STAT_OK, "2.0.0", "ok"));
    memset(&other, 0, sizeof(other));
    TESTLIB_EXPECT_EXIT(MSG_PANIC, deliver_agent_report(a, &other, DELIVER_STAT_OK,
                                                        "2.0.0", "ok"));
    assert_int_equal(deliver_agent_report_all(a, DELIVER_STAT_DEFER, "4.0.0", "later"), 0);
    assert_int_equal(deliver_agent_done(a), 0);
    a = deliver_agent_free(a);
    peer_finish(&run, s, &rs);
    assert_int_equal(rs.rc, 0);
    assert_int_equal(rs.n, 3);
    assert_int_equal(find(&rs, 100)->status, DELIVER_STAT_OK);
    assert_int_equal(find(&rs, 200)->status, DELIVER_STAT_DEFER);
}

/* setup: a temporary queue_directory with active/. */
static int setup(void **state)
{
    strbuf *p = strbuf_new(64);

    (void) state;
    testlib_setup();
    (void) signal(SIGPIPE, SIG_IGN);
    if (mkdtemp(qdir) == NULL)
        return -1;
    (void) strbuf_printf(p, "%s/active", qdir);
    if (mkdir(p->data, 0700) < 0)
        return -1;
    strbuf_free(p);
    param_override(PARAM_QUEUE_DIRECTORY, qdir);
    return 0;
}

/* teardown: remove the temporary queue_directory. */
static int teardown(void **state)
{
    strbuf *cmd = strbuf_new(64);

    (void) state;
    (void) strbuf_printf(cmd, "rm -rf '%s'", qdir);
    if (system(cmd->data) != 0)
        return -1;
    strbuf_free(cmd);
    return 0;
}

int     main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_queue_file),
        cmocka_unit_test(test_good_file),
        cmocka_unit_test(test_no_queue_file),
        cmocka_unit_test(test_each),
        cmocka_unit_test(test_lost_connection),
        cmocka_unit_test(test_bad_request),
        cmocka_unit_test(test_report_twice),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
