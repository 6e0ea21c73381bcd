/*
 * Unit tests for lib/mail/deliver_client.c: the asynchronous delivery
 * client, over socketpairs. The test plays the delivery agent on the
 * other end with plain writes, running the event loop in between.
 * Whatever the agent does (normal replies, one byte at a time, garbage,
 * early EOF, silence, duplicates, a site failure), every recipient must
 * get exactly one result and done must come exactly once.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>

#include "deliver_client.h"
#include "deliver_request.h"
#include "event.h"
#include "param.h"
#include "param_names.h"
#include "strbuf.h"
#include "testlib.h"

#define NRCPT 3

/* What the callbacks saw. */
typedef struct seen {
    int     results[NRCPT];             /* calls per recipient */
    int     status[NRCPT];
    char    reason[NRCPT][256];
    int     done;                       /* calls of done_fn */
    int     site_status;
    char    site_reason[256];
    int     other;                      /* results for unknown offsets */
} seen;

static const deliver_rcpt_out rcpts[NRCPT] = {
    {"a@example.com", NULL, NULL, 0, 100},
    {"b@example.com", "B@example.com", NULL, 2, 200},
    {"c@example.com", NULL, "rfc822;c@example.com", 0, 300},
};

/* on_result: record one result. */
static void on_result(void *ctx, long offset, int status, const char *dsn,
                      const char *relay, const char *reason)
{
    seen   *s = ctx;
    int     i = (int) (offset / 100) - 1;

    (void) dsn;
    (void) relay;
    if (i < 0 || i >= NRCPT || offset % 100 != 0) {
        s->other++;
        return;
    }
    s->results[i]++;
    s->status[i] = status;
    strncpy(s->reason[i], reason, sizeof(s->reason[i]) - 1);
}

/* on_done: record the end. */
static void on_done(void *ctx, int site_status, const char *reason)
{
    seen   *s = ctx;

    s->done++;
    s->site_status = site_status;
    strncpy(s->site_reason, reason, sizeof(s->site_reason) - 1);
}

/* make_req: the request used everywhere. */
static void make_req(deliver_req_out *req)
{
    memset(req, 0, sizeof(*req));
    req->queue_name = "active";
    req->queue_id = "ABCDE12";
    req->offset = 50;
    req->size = 10;
    req->nexthop = "example.com";
    req->sender = "s@example.org";
    req->rcpts = rcpts;
    req->nrcpts = NRCPT;
}

/* run_until_done: run the loop until done or max_ms passes. */
static void run_until_done(event_loop *loop, seen *s, int max_ms)
{
    int     waited = 0;

    while (!s->done && waited < max_ms) {
        (void) event_loop_run_once(loop, 10);
        waited += 10;
    }
}

/* spin: a few loop iterations. */
static void spin(event_loop *loop, int n)
{
    while (n-- > 0)
        (void) event_loop_run_once(loop, 5);
}

/* agent_write: write all of text on the agent's end. */
static void agent_write(int fd, const char *text, size_t len)
{
    size_t  done = 0;

    while (done < len) {
        ssize_t n = write(fd, text + done, len - done);

        assert_true(n > 0);
        done += (size_t) n;
    }
}

/* agent_drain: read what the client sent; returns the bytes read. */
static size_t agent_drain(int fd, strbuf *into)
{
    char    buf[4096];
    ssize_t n;
    size_t  total = 0;
    int     fl = fcntl(fd, F_GETFL);

    fcntl(fd, F_SETFL, fl | O_NONBLOCK);
    while ((n = read(fd, buf, sizeof(buf))) > 0) {
        if (into)
            strbuf_append(into, buf, (size_t) n);
        total += (size_t) n;
    }
    fcntl(fd, F_SETFL, fl);
    return total;
}

/* start: a socketpair and a client on one end. */
static int start(event_loop *loop, seen *s, int timeout_ms)
{
    int     sv[2];
    deliver_req_out req;

    memset(s, 0, sizeof(*s));
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    make_req(&req);
    (void) deliver_client_send_fd(loop, sv[0], &req, timeout_ms, on_result,
                                  on_done, s);
    return sv[1];
}

#define PROTO "protocol=delivery_request_protocol\n\n"
#define R(off, st, dsn) "offset=" #off "\nstatus=" #st "\ndsn_status=" dsn \
    "\nreason=ok%20then\nrelay=mx[192.0.2.1]:25\n\n"

/* check_once: every recipient exactly once, done once. */
static void check_once(const seen *s)
{
    int     i;

    for (i = 0; i < NRCPT; i++)
        assert_int_equal(s->results[i], 1);
    assert_int_equal(s->done, 1);
    assert_int_equal(s->other, 0);
}

/* test_normal: all results and status=0. */
static void test_normal(void **state)
{
    event_loop *loop = event_loop_new();
    strbuf *req = strbuf_new(256);
    seen    s;
    int     fd = start(loop, &s, 2000);
    const char *replies = PROTO R(200, 0, "2.0.0") R(100, 5, "5.1.1")
        R(300, 4, "4.4.1") "status=0\n\n";

    (void) state;
    agent_write(fd, PROTO, strlen(PROTO));
    spin(loop, 5);
    assert_true(agent_drain(fd, req) > 0);
    assert_non_null(strstr(req->data, "queue_id=ABCDE12\n"));
    assert_non_null(strstr(req->data, "recipient=c@example.com\n"));
    assert_non_null(strstr(req->data, "recipient_count=3\n"));
    agent_write(fd, replies + strlen(PROTO), strlen(replies) - strlen(PROTO));
    run_until_done(loop, &s, 2000);
    check_once(&s);
    assert_int_equal(s.status[0], 5);
    assert_int_equal(s.status[1], 0);
    assert_int_equal(s.status[2], 4);
    assert_string_equal(s.reason[1], "ok then");
    assert_int_equal(s.site_status, DELIVER_STAT_OK);
    assert_int_equal(deliver_client_count(), 0);
    close(fd);
    strbuf_free(req);
    event_loop_free(loop);
}

/* test_partial: the agent writes one byte at a time. */
static void test_partial(void **state)
{
    event_loop *loop = event_loop_new();
    seen    s;
    int     fd = start(loop, &s, 2000);
    const char *replies = PROTO R(100, 0, "2.0.0") R(200, 0, "2.0.0")
        R(300, 0, "2.0.0") "status=4\nreason=4.4.1%20connection%20refused\n\n";
    size_t  i;

    (void) state;
    for (i = 0; replies[i]; i++) {
        agent_write(fd, replies + i, 1);
        spin(loop, 1);
        (void) agent_drain(fd, NULL);
    }
    run_until_done(loop, &s, 2000);
    check_once(&s);
    assert_int_equal(s.status[2], 0);
    assert_int_equal(s.site_status, DELIVER_STAT_DEFER);
    assert_string_equal(s.site_reason, "4.4.1 connection refused");
    close(fd);
    event_loop_free(loop);
}

/* test_garbage: a bad reply defers the rest. */
static void test_garbage(void **state)
{
    event_loop *loop = event_loop_new();
    seen    s;
    int     fd = start(loop, &s, 2000);
    const char *replies = PROTO R(100, 0, "2.0.0") "this is not=an%zzattr\n\n";

    (void) state;
    agent_write(fd, replies, strlen(replies));
    run_until_done(loop, &s, 2000);
    check_once(&s);
    assert_int_equal(s.status[0], 0);
    assert_int_equal(s.status[1], DELIVER_STAT_DEFER);
    assert_int_equal(s.status[2], DELIVER_STAT_DEFER);
    assert_non_null(strstr(s.reason[2], "delivery agent crashed or sent a bad reply"));
    assert_int_equal(s.site_status, DELIVER_CLIENT_BROKEN);
    close(fd);
    event_loop_free(loop);
}

/* test_wrong_protocol: a different protocol defers everything. */
static void test_wrong_protocol(void **state)
{
    event_loop *loop = event_loop_new();
    seen    s;
    int     fd = start(loop, &s, 2000);
    const char *replies = "protocol=bounce_protocol\n\n";

    (void) state;
    agent_write(fd, replies, strlen(replies));
    run_until_done(loop, &s, 2000);
    check_once(&s);
    assert_int_equal(s.status[0], DELIVER_STAT_DEFER);
    assert_int_equal(s.site_status, DELIVER_CLIENT_BROKEN);
    close(fd);
    event_loop_free(loop);
}

/* test_early_eof: the agent dies after one result. */
static void test_early_eof(void **state)
{
    event_loop *loop = event_loop_new();
    seen    s;
    int     fd = start(loop, &s, 2000);
    const char *replies = PROTO R(300, 5, "5.0.0");

    (void) state;
    agent_write(fd, replies, strlen(replies));
    spin(loop, 5);
    close(fd);
    run_until_done(loop, &s, 2000);
    check_once(&s);
    assert_int_equal(s.status[2], DELIVER_STAT_BOUNCE);
    assert_int_equal(s.status[0], DELIVER_STAT_DEFER);
    assert_non_null(strstr(s.reason[0], "delivery agent crashed"));
    event_loop_free(loop);
}

/* test_timeout: the agent says nothing after the protocol. */
static void test_timeout(void **state)
{
    event_loop *loop = event_loop_new();
    seen    s;
    int     fd = start(loop, &s, 150);

    (void) state;
    agent_write(fd, PROTO, strlen(PROTO));
    run_until_done(loop, &s, 3000);
    check_once(&s);
    assert_int_equal(s.status[1], DELIVER_STAT_DEFER);
    assert_non_null(strstr(s.reason[1], "timeout"));
    assert_int_equal(s.site_status, DELIVER_CLIENT_BROKEN);
    close(fd);
    event_loop_free(loop);
}

/* test_duplicate: a second result for one recipient is an error, not a
 * second callback. */
static void test_duplicate(void **state)
{
    event_loop *loop = event_loop_new();
    seen    s;
    int     fd = start(loop, &s, 2000);
    const char *replies = PROTO R(100, 0, "2.0.0") R(100, 5, "5.0.0")
        "status=0\n\n";

    (void) state;
    agent_write(fd, replies, strlen(replies));
    run_until_done(loop, &s, 2000);
    check_once(&s);
    assert_int_equal(s.status[0], 0);
    assert_int_equal(s.status[1], DELIVER_STAT_DEFER);
    close(fd);
    event_loop_free(loop);
}

/* test_missing: status=0 while recipients are unreported. */
static void test_missing(void **state)
{
    event_loop *loop = event_loop_new();
    seen    s;
    int     fd = start(loop, &s, 2000);
    const char *replies = PROTO R(200, 0, "2.0.0") "status=0\n\n";

    (void) state;
    agent_write(fd, replies, strlen(replies));
    run_until_done(loop, &s, 2000);
    check_once(&s);
    assert_int_equal(s.status[1], 0);
    assert_int_equal(s.status[0], DELIVER_STAT_DEFER);
    assert_int_equal(s.site_status, DELIVER_STAT_OK);
    assert_true(testlib_log_has("reported 1 of 3"));
    close(fd);
    event_loop_free(loop);
}

/* test_bad_final: status=4 without a reason is garbage. */
static void test_bad_final(void **state)
{
    event_loop *loop = event_loop_new();
    seen    s;
    int     fd = start(loop, &s, 2000);
    const char *replies = PROTO "status=4\n\n";

    (void) state;
    agent_write(fd, replies, strlen(replies));
    run_until_done(loop, &s, 2000);
    check_once(&s);
    assert_int_equal(s.site_status, DELIVER_CLIENT_BROKEN);
    close(fd);
    event_loop_free(loop);
}

/* test_no_agent: no socket: deferred, and no callback inside send. */
static void test_no_agent(void **state)
{
    event_loop *loop = event_loop_new();
    deliver_req_out req;
    seen    s;
    char    dir[] = "/tmp/test_deliver_client.XXXXXX";

    (void) state;
    assert_non_null(mkdtemp(dir));
    param_reset();
    param_override(PARAM_QUEUE_DIRECTORY, dir);
    memset(&s, 0, sizeof(s));
    make_req(&req);
    (void) deliver_client_send(loop, "nosuchtransport", &req, 1000, on_result,
                               on_done, &s);
    assert_int_equal(s.done, 0);
    assert_int_equal(s.results[0], 0);
    run_until_done(loop, &s, 2000);
    check_once(&s);
    assert_string_equal(s.reason[0], "mail transport unavailable");
    assert_int_equal(s.site_status, DELIVER_CLIENT_BROKEN);
    /* A bad transport name never becomes a path. */
    memset(&s, 0, sizeof(s));
    (void) deliver_client_send(loop, "../x", &req, 1000, on_result, on_done, &s);
    run_until_done(loop, &s, 2000);
    check_once(&s);
    rmdir(dir);
    param_reset();
    event_loop_free(loop);
}

/* test_abort: no callbacks after abort. */
static void test_abort(void **state)
{
    event_loop *loop = event_loop_new();
    deliver_req_out req;
    seen    s;
    int     sv[2];
    deliver_client *c;

    (void) state;
    memset(&s, 0, sizeof(s));
    make_req(&req);
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    c = deliver_client_send_fd(loop, sv[0], &req, 100, on_result, on_done, &s);
    spin(loop, 2);
    deliver_client_abort(c);
    spin(loop, 40);
    assert_int_equal(s.done, 0);
    assert_int_equal(s.results[0], 0);
    assert_int_equal(deliver_client_count(), 0);
    close(sv[1]);
    event_loop_free(loop);
}

/* test_many: several clients in flight at once on one loop. */
static void test_many(void **state)
{
    event_loop *loop = event_loop_new();
    seen    s[4];
    int     fd[4], i;
    const char *replies = PROTO R(100, 0, "2.0.0") R(200, 0, "2.0.0")
        R(300, 0, "2.0.0") "status=0\n\n";

    (void) state;
    for (i = 0; i < 4; i++)
        fd[i] = start(loop, &s[i], 2000);
    for (i = 3; i >= 0; i--)
        agent_write(fd[i], replies, strlen(replies));
    for (i = 0; i < 4; i++)
        run_until_done(loop, &s[i], 2000);
    for (i = 0; i < 4; i++) {
        check_once(&s[i]);
        close(fd[i]);
    }
    event_loop_free(loop);
}

int     main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_normal),
        cmocka_unit_test(test_partial),
        cmocka_unit_test(test_garbage),
        cmocka_unit_test(test_wrong_protocol),
        cmocka_unit_test(test_early_eof),
        cmocka_unit_test(test_timeout),
        cmocka_unit_test(test_duplicate),
        cmocka_unit_test(test_missing),
        cmocka_unit_test(test_bad_final),
        cmocka_unit_test(test_no_agent),
        cmocka_unit_test(test_abort),
        cmocka_unit_test(test_many),
    };

    testlib_setup();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
