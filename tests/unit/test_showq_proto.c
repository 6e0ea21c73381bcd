/*
 * Unit tests for lib/mail/showq_proto.c: the server side writes, the
 * client side reads back over a socketpair; malformed replies (a table
 * of raw byte strings) are refused with a reason.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>

#include "showq_proto.h"
#include "stream.h"
#include "strbuf.h"
#include "testlib.h"

/* pair: a client over one end of a socketpair whose other end is *srv */
static showq_proto *pair(stream **srv, const char *first, strbuf *err)
{
    int     sv[2];

    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    *srv = stream_fdopen(sv[0], STREAM_F_RDWR);
    if (first)
        assert_int_equal(stream_puts(*srv, first), 0);
    assert_int_equal(stream_flush(*srv), 0);
    return showq_proto_stream(stream_fdopen(sv[1], STREAM_F_RDWR), err);
}

static void test_round_trip(void **state)
{
    showq_rcpt rcpts[] = {
        {"a@example.com", NULL, NULL},
        {"b@example.com", "orig@example.com", "connect to x[1.2.3.4]:25: refused"},
        {"c d@example.com", NULL, "100% \n odd"},
    };
    showq_msg out[2], in;
    strbuf *err = strbuf_new(64);
    stream *srv;
    showq_proto *c;

    (void) state;
    memset(out, 0, sizeof(out));
    memset(&in, 0, sizeof(in));
    out[0].queue_name = "deferred";
    out[0].queue_id = "ABCDEF12";
    out[0].arrival_time = 1700000000;
    out[0].size = 1234;
    out[0].forced_expire = 1;
    out[0].sender = "";
    out[0].rcpts = rcpts;
    out[0].nrcpts = 3;
    out[1].queue_name = "hold";
    out[1].queue_id = "123456";
    out[1].sender = "s@x";
    c = pair(&srv, "protocol=mail_queue_list_protocol\n\n", err);
    assert_non_null(c);
    assert_int_equal(showq_proto_put_msg(srv, &out[0]), 0);
    assert_int_equal(showq_proto_put_msg(srv, &out[1]), 0);
    assert_int_equal(showq_proto_put_end(srv, SHOWQ_STAT_OK, NULL), 0);

    assert_int_equal(showq_proto_next(c, &in, err), 1);
    assert_string_equal(in.queue_name, "deferred");
    assert_string_equal(in.queue_id, "ABCDEF12");
    assert_int_equal(in.arrival_time, 1700000000);
    assert_int_equal(in.size, 1234);
    assert_int_equal(in.forced_expire, 1);
    assert_string_equal(in.sender, "");
    assert_int_equal(in.nrcpts, 3);
    assert_string_equal(in.rcpts[0].address, "a@example.com");
    assert_null(in.rcpts[0].orig);
    assert_null(in.rcpts[0].reason);
    assert_string_equal(in.rcpts[1].orig, "orig@example.com");
    assert_string_equal(in.rcpts[1].reason, "connect to x[1.2.3.4]:25: refused");
    assert_string_equal(in.rcpts[2].address, "c d@example.com");
    assert_string_equal(in.rcpts[2].reason, "100% \n odd");
    assert_int_equal(showq_proto_next(c, &in, err), 1);
    assert_string_equal(in.queue_name, "hold");
    assert_int_equal(in.nrcpts, 0);
    assert_int_equal(in.forced_expire, 0);
    assert_int_equal(showq_proto_next(c, &in, err), 0);
    assert_null(in.queue_id);                   /* cleared at the end */
    showq_proto_close(c);
    stream_close(srv);
    strbuf_free(err);
}

static void test_server_failure_is_reported(void **state)
{
    strbuf *err = strbuf_new(64);
    showq_msg in;
    stream *srv;
    showq_proto *c;

    (void) state;
    memset(&in, 0, sizeof(in));
    c = pair(&srv, "protocol=mail_queue_list_protocol\n\n", err);
    assert_int_equal(showq_proto_put_end(srv, SHOWQ_STAT_FAIL,
                                         "cannot read /q/deferred: EACCES"), 0);
    assert_int_equal(showq_proto_next(c, &in, err), -1);
    assert_string_equal(err->data, "cannot read /q/deferred: EACCES");
    showq_proto_close(c);
    stream_close(srv);
    strbuf_free(err);
}

static void test_wrong_protocol(void **state)
{
    strbuf *err = strbuf_new(64);
    stream *srv;

    (void) state;
    assert_null(pair(&srv, "protocol=flush_protocol\n\n", err));
    assert_non_null(strstr(err->data, "flush_protocol"));
    stream_close(srv);
    strbuf_free(err);
}

/* Malformed replies after the protocol message. */
static const struct {
    const char *name;
    const char *input;
    const char *error;                  /* expected in err */
} bad_cases[] = {
    {"missing sender", "queue_name=hold\nqueue_id=ABCDEF\narrival_time=1\nsize=1\n"
     "forced_expire=0\nrecipient_count=0\n\n", "sender"},
    {"unknown attribute", "status=0\nbogus=1\n\n", "bogus"},
    {"expire out of range", "queue_name=hold\nqueue_id=ABCDEF\narrival_time=1\nsize=1\n"
     "forced_expire=2\nsender=\nrecipient_count=0\n\n", "forced_expire"},
    {"too many recipients", "queue_name=hold\nqueue_id=ABCDEF\narrival_time=1\nsize=1\n"
     "forced_expire=0\nsender=\nrecipient_count=1000001\n\n", "recipient_count"},
    {"negative size", "queue_name=hold\nqueue_id=ABCDEF\narrival_time=1\nsize=-1\n"
     "forced_expire=0\nsender=\nrecipient_count=0\n\n", "size"},
    {"recipients cut short", "queue_name=hold\nqueue_id=ABCDEF\narrival_time=1\nsize=1\n"
     "forced_expire=0\nsender=\nrecipient_count=2\n\nrecipient=a@b\n\n", ""},
    {"recipient without address", "queue_name=hold\nqueue_id=ABCDEF\narrival_time=1\n"
     "size=1\nforced_expire=0\nsender=\nrecipient_count=1\n\nreason=x\n\n", "recipient"},
    {"bad escape", "status=0\nreason=%zz\n\n", ""},
    {"end of input", "", ""},
};

static void test_malformed(void **state)
{
    size_t  i;

    (void) state;
    for (i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
        strbuf *err = strbuf_new(64);
        strbuf *in_text = strbuf_new(64);
        showq_msg in;
        stream *srv;
        showq_proto *c;
        int     rc;

        memset(&in, 0, sizeof(in));
        strbuf_printf(in_text, "protocol=mail_queue_list_protocol\n\n%s", bad_cases[i].input);
        c = pair(&srv, in_text->data, err);
        assert_non_null(c);
        shutdown(stream_fd(srv), SHUT_WR);
        while ((rc = showq_proto_next(c, &in, err)) == 1)
            ;
        if (rc != -1 || strstr(err->data, bad_cases[i].error) == NULL)
            fail_msg("%s: rc %d, err \"%s\"", bad_cases[i].name, rc, err->data);
        assert_null(in.queue_id);
        showq_proto_close(c);
        stream_close(srv);
        strbuf_free(err);
        strbuf_free(in_text);
    }
}

int     main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_server_failure_is_reported),
        cmocka_unit_test(test_wrong_protocol),
        cmocka_unit_test(test_malformed),
    };

    testlib_setup();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
