/*
 * Unit tests for lib/mail/bounce_client.c: both sides of the bounce
 * protocol over a socketpair, with the peer's messages written ahead.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>

#include "attr.h"
#include "attr_names.h"
#include "bounce_client.h"
#include "param.h"
#include "qfile.h"
#include "stream.h"
#include "strbuf.h"
#include "testlib.h"

typedef struct pair {
    stream *client;
    int     peer;
} pair;

/* pair_open: a client stream and a raw peer descriptor */
static void pair_open(pair *p, int timeout_ms)
{
    int     sv[2];

    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    p->client = stream_fdopen(sv[0], STREAM_F_RDWR);
    stream_set_timeout(p->client, timeout_ms);
    p->peer = sv[1];
}

static void pair_close(pair *p)
{
    stream_close(p->client);
    if (p->peer >= 0)
        close(p->peer);
}

static void peer_write(pair *p, const char *text)
{
    size_t  len = strlen(text);

    assert_int_equal(write(p->peer, text, len), (ssize_t) len);
}

/* peer_read_request: decode what the client sent, server side */
static int peer_read_request(pair *p, attr_list *list, bounce_req *req,
                             strbuf *err)
{
    stream *s = stream_fdopen(p->peer, STREAM_F_RDWR | STREAM_F_NOCLOSE);
    int     rc;

    stream_set_timeout(s, 1000);
    rc = bounce_request_read(s, list, req, err);
    stream_close(s);
    return rc;
}

#define PROTO "protocol=bounce_protocol\n\n"

static void test_request_ok_round_trip(void **state)
{
    pair    p;
    strbuf *reason = strbuf_new(10);
    strbuf *err = strbuf_new(10);
    attr_list *list = attr_list_new();
    bounce_req req;

    (void) state;
    pair_open(&p, 1000);
    peer_write(&p, PROTO "status=0\n\n");
    assert_int_equal(bounce_request_stream(p.client, "active", "3A3D26C44CC",
                                           "a b@example.com", "env 1",
                                           QFILE_RET_HDRS, 0, reason),
                     BOUNCE_STAT_OK);
    assert_int_equal(peer_read_request(&p, list, &req, err), 0);
    assert_string_equal(req.request, BOUNCE_REQ_BOUNCE);
    assert_string_equal(req.queue_name, "active");
    assert_string_equal(req.queue_id, "3A3D26C44CC");
    assert_string_equal(req.sender, "a b@example.com");
    assert_string_equal(req.envid, "env 1");
    assert_int_equal(req.ret, QFILE_RET_HDRS);
    assert_int_equal(req.flags, 0);
    pair_close(&p);
    attr_list_free(list);
    strbuf_free(reason);
    strbuf_free(err);
}

static void test_request_null_sender_no_envid(void **state)
{
    pair    p;
    strbuf *err = strbuf_new(10);
    attr_list *list = attr_list_new();
    bounce_req req;

    (void) state;
    pair_open(&p, 1000);
    peer_write(&p, PROTO "status=0\n\n");
    assert_int_equal(bounce_request_stream(p.client, "deferred", "ABCDEF1",
                                           "", NULL, QFILE_RET_NONE, 0, NULL),
                     BOUNCE_STAT_OK);
    assert_int_equal(peer_read_request(&p, list, &req, err), 0);
    assert_string_equal(req.sender, "");
    assert_null(req.envid);
    assert_int_equal(req.ret, QFILE_RET_NONE);
    assert_null(attr_list_find(list, ATTR_NAME_RET_FLAGS, NULL));
    pair_close(&p);
    attr_list_free(list);
    strbuf_free(err);
}

/* Replies that are not "done" all mean: try again later. */
static const struct reply_case {
    const char *name;
    const char *peer;                   /* NULL: close without a word */
    const char *reason_has;
} reply_cases[] = {
    {"defer with reason", PROTO "status=4\nreason=4.3.0%20disk%20full\n\n", "4.3.0 disk full"},
    {"defer without reason", PROTO "status=4\n\n", "4.3.0"},
    {"five is still a defer", PROTO "status=5\nreason=5.0.0%20no\n\n", "5.0.0 no"},
    {"wrong protocol", "protocol=cleanup_protocol\n\n", "bounce service"},
    {"eof after protocol", PROTO, "bounce service"},
    {"eof at once", NULL, "bounce service"},
    {"malformed reply", PROTO "status 0\n\n", "bounce service"},
    {"status out of range", PROTO "status=12\n\n", "bounce service"},
    {"unknown reply attribute", PROTO "status=0\nextra=1\n\n", "bounce service"},
    {"missing status", PROTO "reason=x\n\n", "bounce service"},
};

static void test_request_failures(void **state)
{
    size_t  i;

    (void) state;
    for (i = 0; i < sizeof(reply_cases) / sizeof(reply_cases[0]); i++) {
        const struct reply_case *c = reply_cases + i;
        strbuf *reason = strbuf_new(10);
        pair    p;

        pair_open(&p, 1000);
        if (c->peer)
            peer_write(&p, c->peer);
        shutdown(p.peer, SHUT_WR);
        if (bounce_request_stream(p.client, "active", "ABCDEF1", "s@x", NULL,
                                  QFILE_RET_FULL, 0, reason) != BOUNCE_STAT_DEFER)
            fail_msg("case %s: not deferred", c->name);
        if (strstr(strbuf_str(reason), c->reason_has) == NULL)
            fail_msg("case %s: reason \"%s\" lacks \"%s\"", c->name,
                     strbuf_str(reason), c->reason_has);
        pair_close(&p);
        strbuf_free(reason);
    }
}

static void test_request_timeout(void **state)
{
    pair    p;
    strbuf *reason = strbuf_new(10);

    (void) state;
    pair_open(&p, 100);
    peer_write(&p, PROTO);              /* then silence */
    assert_int_equal(bounce_request_stream(p.client, "active", "ABCDEF1", "s@x",
                                           NULL, 0, 0, reason),
                     BOUNCE_STAT_DEFER);
    assert_non_null(strstr(strbuf_str(reason), "4.3.0"));
    pair_close(&p);
    strbuf_free(reason);
}

static void test_request_no_service(void **state)
{
    strbuf *reason = strbuf_new(10);

    (void) state;
    param_override(PARAM_QUEUE_DIRECTORY, "/nonexistent-postern-spool");
    assert_int_equal(bounce_request("active", "ABCDEF1", "s@x", NULL, 0, 0, reason),
                     BOUNCE_STAT_DEFER);
    assert_non_null(strstr(strbuf_str(reason), "4.3.0 bounce service unavailable"));
    assert_non_null(strstr(strbuf_str(reason), "/nonexistent-postern-spool/private/bounce"));
    strbuf_free(reason);
}

/* Server side: requests that must be refused. */
static const struct bad_case {
    const char *name;
    const char *wire;
    const char *err_has;
} bad_cases[] = {
    {"unknown request", "request=defer\nqueue_name=active\nqueue_id=ABCDEF1\nsender=\n\n", "unknown request"},
    {"missing queue_id", "request=bounce\nqueue_name=active\nsender=\n\n", "queue_id"},
    {"missing sender", "request=bounce\nqueue_name=active\nqueue_id=ABCDEF1\n\n", "sender"},
    {"path in id", "request=bounce\nqueue_name=active\nqueue_id=../../etc\nsender=\n\n", "bad queue id"},
    {"lower-case id", "request=bounce\nqueue_name=active\nqueue_id=abcdef1\nsender=\n\n", "bad queue id"},
    {"slash in queue", "request=bounce\nqueue_name=act/ive\nqueue_id=ABCDEF1\nsender=\n\n", "bad queue name"},
    {"dots as queue", "request=bounce\nqueue_name=..\nqueue_id=ABCDEF1\nsender=\n\n", "bad queue name"},
    {"empty queue", "request=bounce\nqueue_name=\nqueue_id=ABCDEF1\nsender=\n\n", "bad queue name"},
    {"bad ret", "request=bounce\nqueue_name=active\nqueue_id=ABCDEF1\nsender=\nret_flags=ALL\n\n", "ret_flags"},
    {"unknown flag", "request=bounce\nqueue_name=active\nqueue_id=ABCDEF1\nsender=\nflags=1\n\n", "flags"},
    {"repeated sender", "request=bounce\nqueue_name=active\nqueue_id=ABCDEF1\nsender=\nsender=a\n\n", "sender"},
    {"unknown attribute", "request=bounce\nqueue_name=active\nqueue_id=ABCDEF1\nsender=\nx=1\n\n", "x"},
    {"NUL in sender", "request=bounce\nqueue_name=active\nqueue_id=ABCDEF1\nsender=a%00b\n\n", "sender"},
    {"eof", "", "end"},
};

static void test_server_rejects(void **state)
{
    size_t  i;

    (void) state;
    for (i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
        const struct bad_case *c = bad_cases + i;
        attr_list *list = attr_list_new();
        strbuf *err = strbuf_new(10);
        bounce_req req;
        int     sv[2];
        stream *s;

        assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
        assert_int_equal(write(sv[1], c->wire, strlen(c->wire)), (ssize_t) strlen(c->wire));
        close(sv[1]);
        s = stream_fdopen(sv[0], STREAM_F_RDWR);
        stream_set_timeout(s, 1000);
        if (bounce_request_read(s, list, &req, err) != -1)
            fail_msg("case %s: accepted", c->name);
        if (strstr(strbuf_str(err), c->err_has) == NULL)
            fail_msg("case %s: error \"%s\" lacks \"%s\"", c->name,
                     strbuf_str(err), c->err_has);
        stream_close(s);
        attr_list_free(list);
        strbuf_free(err);
    }
}

static void test_server_reply(void **state)
{
    int     sv[2];
    stream *s;
    char    buf[256];
    ssize_t n;

    (void) state;
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    s = stream_fdopen(sv[0], STREAM_F_RDWR);
    assert_int_equal(bounce_reply(s, BOUNCE_STAT_DEFER, "4.3.0 try later"), 0);
    assert_int_equal(bounce_reply(s, BOUNCE_STAT_OK, NULL), 0);
    n = read(sv[1], buf, sizeof(buf) - 1);
    assert_true(n > 0);
    buf[n] = 0;
    assert_string_equal(buf, "status=4\nreason=4.3.0%20try%20later\n\nstatus=0\n\n");
    stream_close(s);
    close(sv[1]);
}

int     main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_request_ok_round_trip),
        cmocka_unit_test(test_request_null_sender_no_envid),
        cmocka_unit_test(test_request_failures),
        cmocka_unit_test(test_request_timeout),
        cmocka_unit_test(test_request_no_service),
        cmocka_unit_test(test_server_rejects),
        cmocka_unit_test(test_server_reply),
    };

    testlib_setup();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
