/*
 * Unit tests for lib/mail/deliver_request.c: both sides of the delivery
 * protocol over a socketpair. The agent side runs in a forked child
 * (scripted per test); the parent runs qmgr's side and checks the
 * callbacks. Raw peers check the strict decoding of each side.
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
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "attr.h"
#include "attr_names.h"
#include "deliver_request.h"
#include "mem.h"
#include "param.h"
#include "param_names.h"
#include "stream.h"
#include "strbuf.h"
#include "testlib.h"

/* What the callback saw. */
typedef struct result {
    long    offset;
    int     status;
    char    dsn[32];
    char    relay[64];
    char    reason[256];
} result;

typedef struct results {
    result  r[16];
    int     n;
} results;

/* collect: deliver_result_fn that records every call. */
static void collect(void *ctx, long offset, int status, const char *dsn,
                    const char *relay, const char *reason)
{
    results *rs = ctx;
    result *r;

    assert_true(rs->n < 16);
    r = rs->r + rs->n++;
    r->offset = offset;
    r->status = status;
    snprintf(r->dsn, sizeof(r->dsn), "%s", dsn);
    snprintf(r->relay, sizeof(r->relay), "%s", relay);
    snprintf(r->reason, sizeof(r->reason), "%s", reason);
}

/* find: the result for offset, or fail. */
static const result *find(const results *rs, long offset)
{
    int     i, hits = 0;
    const result *found = NULL;

    for (i = 0; i < rs->n; i++)
        if (rs->r[i].offset == offset) {
            found = rs->r + i;
            hits++;
        }
    if (hits != 1)
        fail_msg("offset %ld reported %d times", offset, hits);
    return found;
}

static const deliver_rcpt_out rcpts3[] = {
    {"alice@example.com", "Alice@Example.com", "rfc822;alice@example.com", 2, 100},
    {"bob", NULL, NULL, 0, 200},
    {"carol with space@x", "", NULL, 9, 300},
};

static const deliver_req_out req3 = {
    "active", "ABCDE123", 512, 1234, "example.com", "sender@x", "env id 1",
    1, 1700000000L, 3, rcpts3, 3
};

/* Agent scripts, run in the child with its stream. */
enum script {
    AGENT_NORMAL,                       /* all three, out of order */
    AGENT_CRASH,                        /* one result, then exit */
    AGENT_UNKNOWN,                      /* result for offset 999 */
    AGENT_DUPLICATE,                    /* offset 100 twice */
    AGENT_SHORT,                        /* one result, then done */
    AGENT_WRONG_PROTO,                  /* protocol=cleanup_protocol */
    AGENT_BAD_STATUS,                   /* status=3 */
    AGENT_SOFT,                         /* 5 with soft_bounce */
    AGENT_SITE_FAIL,                    /* final status=4 reason=... */
};

/* agent: the child's side. Exits 0 when everything it checked held. */
static void agent(stream *s, enum script script)
{
    strbuf *err = strbuf_new(64);
    deliver_request *req;

    if (script == AGENT_WRONG_PROTO) {
        attr_send_protocol(s, ATTR_PROTO_CLEANUP);
        _exit(0);
    }
    req = deliver_request_read(s, err);
    if (req == NULL)
        _exit(10);
    if (strcmp(req->queue_name, "active") || strcmp(req->queue_id, "ABCDE123")
        || req->offset != 512 || req->size != 1234
        || strcmp(req->nexthop, "example.com") || strcmp(req->sender, "sender@x")
        || strcmp(req->envid, "env id 1") || req->ret != 1
        || req->arrival_time != 1700000000L || req->flags != 3
        || req->nrcpts != 3)
        _exit(11);
    if (strcmp(req->rcpts[0].address, "alice@example.com")
        || strcmp(req->rcpts[0].orig, "Alice@Example.com")
        || strcmp(req->rcpts[0].orcpt, "rfc822;alice@example.com")
        || req->rcpts[0].notify != 2 || req->rcpts[0].offset != 100
        || strcmp(req->rcpts[1].address, "bob") || strcmp(req->rcpts[1].orig, "")
        || strcmp(req->rcpts[2].address, "carol with space@x")
        || req->rcpts[2].notify != 9 || req->rcpts[2].offset != 300)
        _exit(12);
    switch (script) {
    case AGENT_NORMAL:
        deliver_result(s, 300, 5, "5.1.1", "local", "unknown user: \"carol\"");
        deliver_result(s, 100, 0, "2.0.0", "local", "delivered to mailbox");
        deliver_result(s, 200, 4, "4.2.2", "local", "mailbox full");
        deliver_done(s);
        break;
    case AGENT_CRASH:
        deliver_result(s, 200, 0, "2.0.0", "local", "ok");
        _exit(0);
    case AGENT_UNKNOWN:
        deliver_result(s, 999, 0, "2.0.0", "local", "ok");
        deliver_done(s);
        break;
    case AGENT_DUPLICATE:
        deliver_result(s, 100, 0, "2.0.0", "local", "ok");
        deliver_result(s, 100, 0, "2.0.0", "local", "ok");
        deliver_done(s);
        break;
    case AGENT_SHORT:
        deliver_result(s, 100, 0, "2.0.0", "local", "ok");
        deliver_done(s);
        break;
    case AGENT_BAD_STATUS:
        deliver_result(s, 100, 3, "3.0.0", "local", "huh");
        deliver_done(s);
        break;
    case AGENT_SOFT:
        param_override(PARAM_SOFT_BOUNCE, "yes");
        deliver_result(s, 100, 5, "5.1.1", "local", "unknown");
        deliver_result(s, 200, 5, "5.1.1", "local", "unknown");
        deliver_result(s, 300, 0, "2.0.0", "local", "ok");
        deliver_done(s);
        break;
    case AGENT_SITE_FAIL:
        deliver_result(s, 100, 4, "4.4.1", "none", "connection refused");
        deliver_result(s, 200, 4, "4.4.1", "none", "connection refused");
        deliver_result(s, 300, 4, "4.4.1", "none", "connection refused");
        deliver_done_status(s, DELIVER_STAT_DEFER, "4.4.1 connection refused");
        break;
    default:
        break;
    }
    stream_flush(s);
    deliver_request_free(req);
    _exit(0);
}

/* run_script: fork an agent with script; run the client; return its rc. */
static int run_script(enum script script, results *rs, strbuf *err,
                      int *agent_status)
{
    int     sv[2];
    pid_t   pid;
    stream *s;
    int     rc, status;

    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(sv[0]);
        s = stream_fdopen(sv[1], STREAM_F_RDWR);
        stream_set_timeout(s, 5000);
        agent(s, script);
    }
    close(sv[1]);
    s = stream_fdopen(sv[0], STREAM_F_RDWR);
    stream_set_timeout(s, 5000);
    memset(rs, 0, sizeof(*rs));
    rc = deliver_send_stream(s, &req3, collect, rs, err);
    stream_close(s);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    *agent_status = WIFEXITED(status) ? WEXITSTATUS(status) : 100;
    return rc;
}

/* test_normal: every field crosses; results in any order. */
static void test_normal(void **state)
{
    results rs;
    strbuf *err = strbuf_new(64);
    int     ast;

    (void) state;
    assert_int_equal(run_script(AGENT_NORMAL, &rs, err, &ast), 0);
    assert_int_equal(ast, 0);
    assert_int_equal(rs.n, 3);
    assert_int_equal(find(&rs, 100)->status, 0);
    assert_string_equal(find(&rs, 100)->dsn, "2.0.0");
    assert_string_equal(find(&rs, 100)->reason, "delivered to mailbox");
    assert_string_equal(find(&rs, 100)->relay, "local");
    assert_int_equal(find(&rs, 200)->status, 4);
    assert_string_equal(find(&rs, 200)->dsn, "4.2.2");
    assert_int_equal(find(&rs, 300)->status, 5);
    assert_string_equal(find(&rs, 300)->reason, "unknown user: \"carol\"");
    strbuf_free(err);
}

/* test_site_fail: the final message may carry a site failure. */
static void test_site_fail(void **state)
{
    results rs;
    strbuf *err = strbuf_new(64);
    int     ast;

    (void) state;
    assert_int_equal(run_script(AGENT_SITE_FAIL, &rs, err, &ast), 0);
    assert_int_equal(ast, 0);
    assert_int_equal(rs.n, 3);
    assert_int_equal(find(&rs, 300)->status, 4);
    assert_string_equal(find(&rs, 300)->reason, "connection refused");
    strbuf_free(err);
}

/* test_done_status_wire: the final message's exact encoding. */
static void test_done_status_wire(void **state)
{
    int     sv[2];
    stream *s;
    char    buf[256];
    ssize_t n;

    (void) state;
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    s = stream_fdopen(sv[0], STREAM_F_RDWR);
    assert_int_equal(deliver_done(s), 0);
    assert_int_equal(deliver_done_status(s, DELIVER_STAT_DEFER,
                                         "4.4.1 no route"), 0);
    assert_int_equal(deliver_done_status(s, DELIVER_STAT_DEFER, NULL), 0);
    stream_close(s);
    n = read(sv[1], buf, sizeof(buf) - 1);
    assert_true(n > 0);
    buf[n] = 0;
    assert_string_equal(buf, "status=0\n\nstatus=4\nreason=4.4.1%20no%20route\n\n"
                        "status=4\nreason=destination%20failed\n\n");
    close(sv[1]);
    /* Anything but 0 or 4 is a programming error. */
    s = stream_fdopen(open("/dev/null", O_WRONLY), STREAM_F_WRITE);
    TESTLIB_EXPECT_EXIT(MSG_PANIC, deliver_done_status(s, 5, "x"));
    stream_close(s);
}

/* test_failures: agent misbehaviour defers every unreported recipient. */
static void test_failures(void **state)
{
    static const struct {
        enum script script;
        int     rc;
        int     reported_ok;            /* offset reported delivered, or 0 */
    } cases[] = {
        {AGENT_CRASH, -1, 200},
        {AGENT_UNKNOWN, -1, 0},
        {AGENT_DUPLICATE, -1, 100},
        {AGENT_SHORT, 0, 100},
        {AGENT_WRONG_PROTO, -1, 0},
        {AGENT_BAD_STATUS, -1, 0},
    };
    results rs;
    strbuf *err = strbuf_new(64);
    size_t  i, j;
    int     ast;

    (void) state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        strbuf_reset(err);
        assert_int_equal(run_script(cases[i].script, &rs, err, &ast), cases[i].rc);
        assert_int_equal(ast, 0);
        assert_int_equal(rs.n, 3);
        if (cases[i].rc < 0)
            assert_true(err->len > 0);
        for (j = 0; j < 3; j++) {
            const result *r = find(&rs, rcpts3[j].offset);

            if (rcpts3[j].offset == cases[i].reported_ok) {
                assert_int_equal(r->status, 0);
            } else {
                assert_int_equal(r->status, 4);
                assert_string_equal(r->dsn, "4.3.0");
            }
        }
    }
    strbuf_free(err);
}

/* test_soft_bounce: the agent turns 5 into 4 under soft_bounce. */
static void test_soft_bounce(void **state)
{
    results rs;
    strbuf *err = strbuf_new(64);
    int     ast;

    (void) state;
    assert_int_equal(run_script(AGENT_SOFT, &rs, err, &ast), 0);
    assert_int_equal(ast, 0);
    assert_int_equal(find(&rs, 100)->status, 4);
    assert_string_equal(find(&rs, 100)->dsn, "4.1.1");
    assert_int_equal(find(&rs, 300)->status, 0);
    strbuf_free(err);
}

/* test_no_transport: nothing listening: every recipient deferred. */
static void test_no_transport(void **state)
{
    results rs;
    strbuf *err = strbuf_new(64);

    (void) state;
    memset(&rs, 0, sizeof(rs));
    param_override(PARAM_QUEUE_DIRECTORY, "/nonexistent-spool");
    testlib_log_reset();
    assert_int_equal(deliver_send("local", &req3, collect, &rs, err), -1);
    assert_int_equal(rs.n, 3);
    assert_int_equal(find(&rs, 300)->status, 4);
    assert_string_equal(find(&rs, 300)->reason, "mail transport unavailable");
    /* Nobody else logs these deferrals: deliver_send does, once each. */
    assert_true(testlib_log_has("ABCDE123: to=<alice@example.com>, "
                                "orig_to=<Alice@Example.com>, relay=none, delay="));
    assert_true(testlib_log_has("ABCDE123: to=<bob>, relay=none, delay="));
    assert_true(testlib_log_has(", dsn=4.3.0, status=deferred "
                                "(mail transport unavailable)"));
    memset(&rs, 0, sizeof(rs));
    assert_int_equal(deliver_send("../x", &req3, collect, &rs, err), -1);
    assert_int_equal(rs.n, 3);
    strbuf_free(err);
}

/* server_raw: feed raw bytes to deliver_request_read; return it. */
static deliver_request *server_raw(const char *bytes, strbuf *err)
{
    int     sv[2];
    stream *s;
    deliver_request *req;
    char    junk[256];

    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    assert_int_equal(write(sv[1], bytes, strlen(bytes)), (ssize_t) strlen(bytes));
    shutdown(sv[1], SHUT_WR);
    s = stream_fdopen(sv[0], STREAM_F_RDWR);
    stream_set_timeout(s, 2000);
    req = deliver_request_read(s, err);
    stream_close(s);
    assert_true(read(sv[1], junk, sizeof(junk)) > 0);    /* the protocol */
    close(sv[1]);
    return req;
}

#define GOODHDR "queue_name=active\nqueue_id=ABC123\noffset=10\nsize=5\n" \
    "sender=\nrecipient_count=1\n\n"

/* test_server_strict: the agent rejects bad requests. */
static void test_server_strict(void **state)
{
    static const struct {
        const char *name;
        const char *bytes;
    } bad[] = {
        {"empty", ""},
        {"no count", "queue_name=active\nqueue_id=ABC123\noffset=1\nsize=1\nsender=\n\n"},
        {"zero count", "queue_name=active\nqueue_id=ABC123\noffset=1\nsize=1\n"
         "sender=\nrecipient_count=0\n\n"},
        {"huge count", "queue_name=active\nqueue_id=ABC123\noffset=1\nsize=1\n"
         "sender=\nrecipient_count=99999999\n\n"},
        {"path id", "queue_name=active\nqueue_id=../../etc/passwd\noffset=1\n"
         "size=1\nsender=\nrecipient_count=1\n\n"},
        {"path queue", "queue_name=../x\nqueue_id=ABC123\noffset=1\n"
         "size=1\nsender=\nrecipient_count=1\n\n"},
        {"unknown attr", "queue_name=active\nqueue_id=ABC123\noffset=1\nsize=1\n"
         "sender=\nrecipient_count=1\nevil=1\n\n"},
        {"negative offset", "queue_name=active\nqueue_id=ABC123\noffset=-1\n"
         "size=1\nsender=\nrecipient_count=1\n\n"},
        {"bad ret", "queue_name=active\nqueue_id=ABC123\noffset=1\nsize=1\n"
         "sender=\nret_flags=7\nrecipient_count=1\n\n"},
        {"missing rcpt", GOODHDR},
        {"rcpt without offset", GOODHDR "recipient=a@b\n\n"},
        {"rcpt twice", GOODHDR "recipient=a@b\nrecipient=c\noffset=1\n\n"},
        {"rcpt NUL", GOODHDR "recipient=a%00b\noffset=1\n\n"},
    };
    strbuf *err = strbuf_new(64);
    deliver_request *req;
    size_t  i;

    (void) state;
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        strbuf_reset(err);
        req = server_raw(bad[i].bytes, err);
        if (req != NULL)
            fail_msg("case %s: accepted", bad[i].name);
        if (err->len == 0)
            fail_msg("case %s: no error text", bad[i].name);
    }
    req = server_raw(GOODHDR "recipient=a@b\noffset=77\n\n", err);
    assert_non_null(req);
    assert_string_equal(req->rcpts[0].address, "a@b");
    assert_string_equal(req->sender, "");
    assert_string_equal(req->envid, "");
    assert_int_equal(req->rcpts[0].offset, 77);
    assert_null(deliver_request_free(req));
    strbuf_free(err);
}

/* test_log_line: the Postfix-shape delivery line. */
static void test_log_line(void **state)
{
    deliver_rcpt r[2] = {
        {"user@example.com", "alias@example.com", "", 0, 1},
        {"x@y", "", "", 0, 2},
    };
    deliver_request req;

    (void) state;
    memset(&req, 0, sizeof(req));
    req.queue_id = "3A3D26C44CC";
    req.arrival_time = (long) time(NULL) - 20;
    req.start_time = (long) time(NULL);
    req.rcpts = r;
    req.nrcpts = 2;
    param_override(PARAM_SOFT_BOUNCE, "no");
    testlib_log_reset();
    deliver_log(&req, r, 0, "2.0.0", "local", "delivered to mailbox");
    assert_true(testlib_log_has("3A3D26C44CC: to=<user@example.com>, "
                                "orig_to=<alias@example.com>, relay=local, delay="));
    assert_true(testlib_log_has(", dsn=2.0.0, status=sent (delivered to mailbox)"));
    assert_true(testlib_log_has(", delays=2"));
    deliver_log(&req, r + 1, 5, "5.1.1", "local", "unknown user");
    assert_true(testlib_log_has("3A3D26C44CC: to=<x@y>, relay=local, delay="));
    assert_true(testlib_log_has("dsn=5.1.1, status=bounced (unknown user)"));
    deliver_log(&req, r + 1, 4, "4.3.0", NULL, "later");
    assert_true(testlib_log_has("relay=none, delay="));
    assert_true(testlib_log_has("dsn=4.3.0, status=deferred (later)"));
    param_override(PARAM_SOFT_BOUNCE, "yes");
    deliver_log(&req, r + 1, 5, "5.1.1", "local", "soft");
    assert_true(testlib_log_has("dsn=4.1.1, status=deferred (soft)"));
    param_override(PARAM_SOFT_BOUNCE, "no");
}

int     main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_normal),
        cmocka_unit_test(test_site_fail),
        cmocka_unit_test(test_done_status_wire),
        cmocka_unit_test(test_failures),
        cmocka_unit_test(test_soft_bounce),
        cmocka_unit_test(test_no_transport),
        cmocka_unit_test(test_server_strict),
        cmocka_unit_test(test_log_line),
    };

    signal(SIGPIPE, SIG_IGN);
    testlib_setup();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
