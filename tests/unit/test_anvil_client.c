/*
 * Unit tests for lib/mail/anvil_client.c: the limit decisions, the
 * exception list, and the client and session functions against a real
 * anvil protocol server (a forked child running anvil_table_request on
 * a UNIX socket in a temporary directory).
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "anvil_client.h"
#include "anvil_table.h"
#include "attr.h"
#include "attr_names.h"
#include "mem.h"
#include "param.h"
#include "strbuf.h"
#include "stream.h"
#include "strutil.h"
#include "testlib.h"

/* A forked anvil server. */
struct server {
    pid_t   pid;
    char    dir[64];
    char    path[128];
};

/* server_serve: the child: answer requests, per_conn per connection */
static void server_serve(int lfd, int per_conn)
{
    static const attr_limits lim = {8, 256, 4096};
    anvil_table *table = anvil_table_new(3600, 1000);
    attr_list *req = attr_list_new();
    attr_list *reply = attr_list_new();
    strbuf *err = strbuf_new(100);
    stream *s;
    int     fd;
    int     n;

    for (;;) {
        if ((fd = accept(lfd, NULL, NULL)) < 0)
            _exit(1);
        s = stream_fdopen(fd, STREAM_F_RDWR);
        stream_set_timeout(s, 10000);
        (void) attr_send_protocol(s, ATTR_PROTO_ANVIL);
        for (n = 0; per_conn == 0 || n < per_conn; n++) {
            if (attr_read(s, &lim, req, err) < 0)
                break;
            (void) anvil_table_request(table, req, reply, time(NULL));
            if (attr_write(s, reply) < 0)
                break;
        }
        (void) stream_close(s);
    }
}

/* server_start: listen in a new directory and fork the server */
static void server_start(struct server *srv, int per_conn)
{
    struct sockaddr_un sun;
    int     lfd;

    assert_int_equal(str_copy(srv->dir, sizeof(srv->dir), "/tmp/test_anvil.XXXXXX"), 0);
    assert_non_null(mkdtemp(srv->dir));
    assert_int_equal(str_format(srv->path, sizeof(srv->path), "%s/anvil", srv->dir), 0);
    memset(&sun, 0, sizeof(sun));
    sun.sun_family = AF_UNIX;
    assert_int_equal(str_copy(sun.sun_path, sizeof(sun.sun_path), srv->path), 0);
    lfd = socket(AF_UNIX, SOCK_STREAM, 0);
    assert_true(lfd >= 0);
    assert_int_equal(bind(lfd, (struct sockaddr *) &sun, sizeof(sun)), 0);
    assert_int_equal(listen(lfd, 16), 0);
    srv->pid = fork();
    assert_true(srv->pid >= 0);
    if (srv->pid == 0) {
        /* Die with the test, even when a failed assertion skips
         * server_stop: an orphan would hold the test's output open. */
        (void) prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() == 1)
            _exit(1);
        server_serve(lfd, per_conn);
    }
    close(lfd);
}

/* server_stop: kill the server and remove its directory */
static void server_stop(struct server *srv)
{
    int     status;

    (void) kill(srv->pid, SIGKILL);
    (void) waitpid(srv->pid, &status, 0);
    (void) unlink(srv->path);
    (void) rmdir(srv->dir);
}

/* count_in_log: how often needle occurs in the captured log */
static int count_in_log(const char *needle)
{
    const char *p = testlib_log();
    int     n = 0;

    while ((p = strstr(p, needle)) != NULL) {
        n++;
        p += strlen(needle);
    }
    return (n);
}

struct reply_case {
    const char *name;
    long    limits[4];                  /* count, conn rate, msg rate, rcpt rate */
    enum anvil_event event;
    long    count;
    long    rate;
    int     expect;
    const char *reply;
};

static void test_limit_reply(void **state)
{
    static const struct reply_case cases[] = {
        {"count at limit", {2, 0, 0, 0}, ANVIL_EV_CONNECT, 2, 9, ANVIL_LIMIT_OK, NULL},
        {"count over", {2, 0, 0, 0}, ANVIL_EV_CONNECT, 3, 1, ANVIL_LIMIT_EXCEEDED,
         "421 4.7.0 mx.example Error: too many connections from 192.0.2.1"},
        {"count off", {0, 0, 0, 0}, ANVIL_EV_CONNECT, 1000, 1000, ANVIL_LIMIT_OK, NULL},
        {"conn rate over", {0, 5, 0, 0}, ANVIL_EV_CONNECT, 1, 6, ANVIL_LIMIT_EXCEEDED,
         "421 4.7.0 mx.example Error: too many connections from 192.0.2.1"},
        {"conn rate at", {0, 5, 0, 0}, ANVIL_EV_CONNECT, 1, 5, ANVIL_LIMIT_OK, NULL},
        {"msg rate over", {0, 0, 3, 0}, ANVIL_EV_MESSAGE, 0, 4, ANVIL_LIMIT_EXCEEDED,
         "452 4.3.2 Error: too much mail from 192.0.2.1"},
        {"msg rate at", {0, 0, 3, 0}, ANVIL_EV_MESSAGE, 0, 3, ANVIL_LIMIT_OK, NULL},
        {"msg limit ignores conn", {1, 1, 0, 0}, ANVIL_EV_MESSAGE, 9, 9, ANVIL_LIMIT_OK, NULL},
        {"rcpt rate over", {0, 0, 0, 10}, ANVIL_EV_RCPT, 0, 11, ANVIL_LIMIT_EXCEEDED,
         "452 4.3.2 Error: too many recipients from 192.0.2.1"},
        {"rcpt rate off", {0, 0, 3, 0}, ANVIL_EV_RCPT, 0, 100, ANVIL_LIMIT_OK, NULL},
        {"negative is off", {-1, -1, -1, -1}, ANVIL_EV_CONNECT, 5, 5, ANVIL_LIMIT_OK, NULL},
    };
    anvil_limits *lim = anvil_limits_new();
    strbuf *reply = strbuf_new(10);
    size_t  i;
    int     got;

    (void) state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        anvil_limits_set(lim, cases[i].limits[0], cases[i].limits[1],
                         cases[i].limits[2], cases[i].limits[3]);
        strbuf_set(reply, "untouched", 9);
        got = anvil_limit_reply(lim, cases[i].event, cases[i].count, cases[i].rate,
                                "mx.example", "192.0.2.1", reply);
        if (got != cases[i].expect)
            fail_msg("%s: got %d", cases[i].name, got);
        if (cases[i].reply != NULL)
            assert_string_equal(reply->data, cases[i].reply);
        else
            assert_string_equal(reply->data, "untouched");
    }
    /* Without a host name: the configured one, else "localhost". */
    anvil_limits_set(lim, 1, 0, 0, 0);
    assert_int_equal(anvil_limit_reply(lim, ANVIL_EV_CONNECT, 2, 0, NULL, "::1", reply),
                     ANVIL_LIMIT_EXCEEDED);
    assert_string_equal(reply->data, "421 4.7.0 localhost Error: too many connections from ::1");
    strbuf_free(reply);
    anvil_limits_free(lim);
}

static void test_exceptions(void **state)
{
    anvil_limits *lim = anvil_limits_new();
    strbuf *err = strbuf_new(10);

    (void) state;
    assert_int_equal(anvil_limits_exempt(lim, "127.0.0.1"), 0);
    assert_int_equal(anvil_limits_set_exceptions(lim, "127.0.0.0/8, [::1]/128 192.0.2.7", err), 0);
    assert_int_equal(anvil_limits_exempt(lim, "127.0.0.5"), 1);
    assert_int_equal(anvil_limits_exempt(lim, "::1"), 1);
    assert_int_equal(anvil_limits_exempt(lim, "192.0.2.7"), 1);
    assert_int_equal(anvil_limits_exempt(lim, "192.0.2.8"), 0);
    assert_int_equal(anvil_limits_exempt(lim, "::2"), 0);
    assert_int_equal(anvil_limits_exempt(lim, NULL), 0);
    assert_int_equal(anvil_limits_exempt(lim, "garbage"), 0);
    /* A bad list is refused and the previous one kept. */
    assert_int_equal(anvil_limits_set_exceptions(lim, "10.0.0.0/8, 300.1.1.1", err), -1);
    assert_true(err->len > 0);
    assert_int_equal(anvil_limits_exempt(lim, "127.0.0.5"), 1);
    assert_int_equal(anvil_limits_exempt(lim, "10.1.1.1"), 0);
    assert_int_equal(anvil_limits_set_exceptions(lim, "", err), 0);
    assert_int_equal(anvil_limits_exempt(lim, "127.0.0.5"), 0);
    strbuf_free(err);
    anvil_limits_free(lim);
    assert_null(anvil_limits_free(NULL));
}

static void test_active(void **state)
{
    anvil_limits *lim = anvil_limits_new();

    (void) state;
    assert_int_equal(anvil_limits_active(lim), 0);
    anvil_limits_set(lim, 0, 0, 0, 1);
    assert_int_equal(anvil_limits_active(lim), 1);
    anvil_limits_set(lim, 50, 0, 0, 0);
    assert_int_equal(anvil_limits_active(lim), 1);
    anvil_limits_set(lim, 0, 0, 0, 0);
    assert_int_equal(anvil_limits_active(lim), 0);
    anvil_limits_free(lim);
}

static void test_configure(void **state)
{
    anvil_limits *lim = anvil_limits_new();
    strbuf *err = strbuf_new(10);
    strbuf *reply = strbuf_new(10);

    (void) state;
    param_override(PARAM_MYHOSTNAME, "mx.example");
    param_override(PARAM_MYNETWORKS, "127.0.0.0/8");
    param_override(PARAM_SMTPD_CLIENT_CONN_COUNT_LIMIT, "3");
    param_override(PARAM_SMTPD_CLIENT_RCPT_RATE_LIMIT, "7");
    assert_int_equal(anvil_limits_configure(lim, err), 0);
    /* Default exceptions: $mynetworks. */
    assert_int_equal(anvil_limits_exempt(lim, "127.0.0.9"), 1);
    assert_int_equal(anvil_limits_exempt(lim, "192.0.2.1"), 0);
    assert_int_equal(anvil_limit_reply(lim, ANVIL_EV_CONNECT, 4, 1, NULL, "192.0.2.1", reply),
                     ANVIL_LIMIT_EXCEEDED);
    assert_string_equal(reply->data, "421 4.7.0 mx.example Error: too many connections from 192.0.2.1");
    assert_int_equal(anvil_limit_reply(lim, ANVIL_EV_CONNECT, 3, 100, NULL, "192.0.2.1", reply),
                     ANVIL_LIMIT_OK);
    assert_int_equal(anvil_limit_reply(lim, ANVIL_EV_RCPT, 0, 8, NULL, "192.0.2.1", reply),
                     ANVIL_LIMIT_EXCEEDED);
    assert_int_equal(anvil_limit_reply(lim, ANVIL_EV_MESSAGE, 0, 1000, NULL, "192.0.2.1", reply),
                     ANVIL_LIMIT_OK);
    /* A malformed exception list: error, and nobody is exempt. */
    param_override(PARAM_SMTPD_CLIENT_EVENT_LIMIT_EXCEPTIONS, "127.0.0.0/8 not-an-address");
    assert_int_equal(anvil_limits_configure(lim, err), -1);
    assert_true(err->len > 0);
    assert_int_equal(anvil_limits_exempt(lim, "127.0.0.9"), 0);
    param_override(PARAM_SMTPD_CLIENT_EVENT_LIMIT_EXCEPTIONS, "192.0.2.0/24");
    assert_int_equal(anvil_limits_configure(lim, err), 0);
    assert_int_equal(anvil_limits_exempt(lim, "127.0.0.9"), 0);
    assert_int_equal(anvil_limits_exempt(lim, "192.0.2.200"), 1);
    param_reset();
    strbuf_free(err);
    strbuf_free(reply);
    anvil_limits_free(lim);
}

static void test_client_protocol(void **state)
{
    struct server srv;
    anvil_client *client;
    anvil_counts c;
    long    count = -1;
    long    rate = -1;

    (void) state;
    server_start(&srv, 0);
    client = anvil_open_path(srv.path, 5000);
    assert_int_equal(anvil_connect(client, "smtp", "192.0.2.1", &count, &rate), ANVIL_OK);
    assert_int_equal(count, 1);
    assert_int_equal(rate, 1);
    assert_int_equal(anvil_connect(client, "smtp", "192.0.2.1", &count, &rate), ANVIL_OK);
    assert_int_equal(count, 2);
    assert_int_equal(rate, 2);
    assert_int_equal(anvil_connect(client, "submission", "192.0.2.1", &count, NULL), ANVIL_OK);
    assert_int_equal(count, 1);
    assert_int_equal(anvil_message(client, "smtp", "192.0.2.1", &rate), ANVIL_OK);
    assert_int_equal(rate, 1);
    assert_int_equal(anvil_rcpt(client, "smtp", "192.0.2.1", &rate), ANVIL_OK);
    assert_int_equal(anvil_rcpt(client, "smtp", "192.0.2.1", &rate), ANVIL_OK);
    assert_int_equal(anvil_rcpt(client, "smtp", "192.0.2.1", &rate), ANVIL_OK);
    assert_int_equal(rate, 3);
    assert_int_equal(anvil_disconnect(client, "smtp", "192.0.2.1"), ANVIL_OK);
    assert_int_equal(anvil_lookup(client, "smtp", "192.0.2.1", &c), ANVIL_OK);
    assert_int_equal(c.count, 1);
    assert_int_equal(c.conn_rate, 2);
    assert_int_equal(c.msg_rate, 1);
    assert_int_equal(c.rcpt_rate, 3);
    /* A request the server refuses: failure, outputs zero, connection
     * kept for the next request. */
    count = rate = -1;
    assert_int_equal(anvil_connect(client, "smtp", "bad addr", &count, &rate), ANVIL_FAIL);
    assert_int_equal(count, 0);
    assert_int_equal(rate, 0);
    assert_true(testlib_log_has("refused"));
    /* Too long for the protocol: not even sent. */
    {
        char    longaddr[ANVIL_ADDR_MAX + 2];

        memset(longaddr, '1', sizeof(longaddr) - 1);
        longaddr[sizeof(longaddr) - 1] = 0;
        assert_int_equal(anvil_connect(client, "smtp", longaddr, &count, &rate), ANVIL_FAIL);
    }
    assert_int_equal(anvil_lookup(client, "smtp", "192.0.2.1", &c), ANVIL_OK);
    assert_int_equal(c.count, 1);
    anvil_close(client);
    assert_null(anvil_close(NULL));
    server_stop(&srv);
}

static void test_client_reconnects(void **state)
{
    struct server srv;
    anvil_client *client;
    long    count = -1;
    int     i;

    (void) state;
    /* The server hangs up after every second request, as a restarted
     * anvil would: the client re-opens without losing a request. */
    server_start(&srv, 2);
    client = anvil_open_path(srv.path, 5000);
    testlib_log_reset();
    for (i = 1; i <= 7; i++) {
        assert_int_equal(anvil_connect(client, "smtp", "198.51.100.1", &count, NULL), ANVIL_OK);
        assert_int_equal(count, i);
    }
    assert_int_equal(count_in_log("anvil service"), 0);
    anvil_close(client);
    server_stop(&srv);
}

static void test_client_unavailable(void **state)
{
    anvil_client *client = anvil_open_path("/nonexistent-postern/private/anvil", 1000);
    anvil_counts c;
    long    count = -1;
    long    rate = -1;

    (void) state;
    testlib_log_reset();
    assert_int_equal(anvil_connect(client, "smtp", "192.0.2.1", &count, &rate), ANVIL_FAIL);
    assert_int_equal(count, 0);
    assert_int_equal(rate, 0);
    assert_int_equal(anvil_message(client, "smtp", "192.0.2.1", &rate), ANVIL_FAIL);
    assert_int_equal(anvil_rcpt(client, "smtp", "192.0.2.1", &rate), ANVIL_FAIL);
    assert_int_equal(anvil_disconnect(client, "smtp", "192.0.2.1"), ANVIL_FAIL);
    memset(&c, 0x55, sizeof(c));
    assert_int_equal(anvil_lookup(client, "smtp", "192.0.2.1", &c), ANVIL_FAIL);
    assert_int_equal(c.count, 0);
    assert_int_equal(c.rcpt_rate, 0);
    /* Logged once, not once per request. */
    assert_int_equal(count_in_log("warning: anvil service"), 1);
    assert_true(testlib_log_has("client limits are not enforced"));
    anvil_close(client);
}

static void test_session_count_limit(void **state)
{
    struct server srv;
    anvil_client *client;
    anvil_limits *lim = anvil_limits_new();
    anvil_session *s1, *s2, *s3;
    strbuf *reply = strbuf_new(10);
    strbuf *err = strbuf_new(10);
    anvil_counts c;

    (void) state;
    server_start(&srv, 0);
    client = anvil_open_path(srv.path, 5000);
    anvil_limits_set(lim, 2, 0, 0, 0);
    assert_int_equal(anvil_limits_set_exceptions(lim, "127.0.0.0/8", err), 0);
    testlib_log_reset();
    s1 = anvil_session_new(client, lim, "smtp", "host.example", "192.0.2.1");
    s2 = anvil_session_new(client, lim, "smtp", "host.example", "192.0.2.1");
    s3 = anvil_session_new(client, lim, "smtp", "host.example", "192.0.2.1");
    assert_int_equal(anvil_session_connect(s1, reply), ANVIL_LIMIT_OK);
    assert_int_equal(anvil_session_connect(s2, reply), ANVIL_LIMIT_OK);
    assert_int_equal(anvil_session_connect(s3, reply), ANVIL_LIMIT_EXCEEDED);
    assert_string_equal(reply->data,
                        "421 4.7.0 localhost Error: too many connections from 192.0.2.1");
    assert_true(testlib_log_has("warning: Connection concurrency limit exceeded: 3 "
                                "from host.example[192.0.2.1] for service smtp"));
    /* The refused connection was counted; freeing it un-counts it. */
    anvil_session_free(s3);
    assert_int_equal(anvil_lookup(client, "smtp", "192.0.2.1", &c), ANVIL_OK);
    assert_int_equal(c.count, 2);
    anvil_session_free(s1);
    s3 = anvil_session_new(client, lim, "smtp", "host.example", "192.0.2.1");
    assert_int_equal(anvil_session_connect(s3, reply), ANVIL_LIMIT_OK);
    anvil_session_free(s3);
    anvil_session_free(s2);
    assert_int_equal(anvil_lookup(client, "smtp", "192.0.2.1", &c), ANVIL_OK);
    assert_int_equal(c.count, 0);
    /* An exempt client is neither limited nor counted. */
    s1 = anvil_session_new(client, lim, "smtp", "localhost", "127.0.0.1");
    s2 = anvil_session_new(client, lim, "smtp", "localhost", "127.0.0.1");
    s3 = anvil_session_new(client, lim, "smtp", "localhost", "127.0.0.1");
    assert_int_equal(anvil_session_connect(s1, reply), ANVIL_LIMIT_OK);
    assert_int_equal(anvil_session_connect(s2, reply), ANVIL_LIMIT_OK);
    assert_int_equal(anvil_session_connect(s3, reply), ANVIL_LIMIT_OK);
    assert_int_equal(anvil_lookup(client, "smtp", "127.0.0.1", &c), ANVIL_OK);
    assert_int_equal(c.count, 0);
    anvil_session_free(s1);
    anvil_session_free(s2);
    anvil_session_free(s3);
    assert_null(anvil_session_free(NULL));
    anvil_close(client);
    server_stop(&srv);
    anvil_limits_free(lim);
    strbuf_free(reply);
    strbuf_free(err);
}

static void test_session_rates(void **state)
{
    struct server srv;
    anvil_client *client;
    anvil_limits *lim = anvil_limits_new();
    anvil_session *s1, *s2;
    strbuf *reply = strbuf_new(10);
    int     i;

    (void) state;
    server_start(&srv, 0);
    client = anvil_open_path(srv.path, 5000);
    anvil_limits_set(lim, 0, 2, 2, 3);
    testlib_log_reset();
    s1 = anvil_session_new(client, lim, "smtp", "unknown", "2001:db8::5");
    assert_int_equal(anvil_session_connect(s1, reply), ANVIL_LIMIT_OK);
    /* Messages: two per window over all sessions of the client. */
    assert_int_equal(anvil_session_message(s1, reply), ANVIL_LIMIT_OK);
    s2 = anvil_session_new(client, lim, "smtp", "unknown", "2001:db8::5");
    assert_int_equal(anvil_session_connect(s2, reply), ANVIL_LIMIT_OK);
    assert_int_equal(anvil_session_message(s2, reply), ANVIL_LIMIT_OK);
    assert_int_equal(anvil_session_message(s1, reply), ANVIL_LIMIT_EXCEEDED);
    assert_string_equal(reply->data, "452 4.3.2 Error: too much mail from 2001:db8::5");
    assert_true(testlib_log_has("Message delivery request rate limit exceeded: 3 "
                                "from unknown[2001:db8::5] for service smtp"));
    for (i = 0; i < 3; i++)
        assert_int_equal(anvil_session_rcpt(s1, reply), ANVIL_LIMIT_OK);
    assert_int_equal(anvil_session_rcpt(s2, reply), ANVIL_LIMIT_EXCEEDED);
    assert_string_equal(reply->data, "452 4.3.2 Error: too many recipients from 2001:db8::5");
    assert_true(testlib_log_has("Recipient address rate limit exceeded: 4"));
    anvil_session_free(s1);
    anvil_session_free(s2);
    /* Connection rate: the third connection in the window is refused,
     * although only one is open at a time. */
    s1 = anvil_session_new(client, lim, "smtp", "unknown", "2001:db8::5");
    assert_int_equal(anvil_session_connect(s1, reply), ANVIL_LIMIT_EXCEEDED);
    assert_string_equal(reply->data,
                        "421 4.7.0 localhost Error: too many connections from 2001:db8::5");
    assert_true(testlib_log_has("Connection rate limit exceeded: 3 from unknown[2001:db8::5]"));
    anvil_session_free(s1);
    anvil_close(client);
    server_stop(&srv);
    anvil_limits_free(lim);
    strbuf_free(reply);
}

static void test_session_without_anvil(void **state)
{
    anvil_client *client = anvil_open_path("/nonexistent-postern/private/anvil", 1000);
    anvil_limits *lim = anvil_limits_new();
    anvil_session *sess;
    strbuf *reply = strbuf_new(10);

    (void) state;
    anvil_limits_set(lim, 1, 1, 1, 1);
    strbuf_set(reply, "untouched", 9);
    sess = anvil_session_new(client, lim, "smtp", "unknown", "192.0.2.1");
    assert_int_equal(anvil_session_connect(sess, reply), ANVIL_LIMIT_OK);
    assert_int_equal(anvil_session_message(sess, reply), ANVIL_LIMIT_OK);
    assert_int_equal(anvil_session_message(sess, reply), ANVIL_LIMIT_OK);
    assert_int_equal(anvil_session_rcpt(sess, reply), ANVIL_LIMIT_OK);
    assert_int_equal(anvil_session_rcpt(sess, reply), ANVIL_LIMIT_OK);
    assert_string_equal(reply->data, "untouched");
    anvil_session_free(sess);
    /* No limits at all: anvil is not even asked (no client needed). */
    anvil_limits_set(lim, 0, 0, 0, 0);
    sess = anvil_session_new(NULL, lim, "smtp", "unknown", "192.0.2.1");
    assert_int_equal(anvil_session_connect(sess, reply), ANVIL_LIMIT_OK);
    anvil_session_free(sess);
    anvil_close(client);
    anvil_limits_free(lim);
    strbuf_free(reply);
}

int     main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_limit_reply),
        cmocka_unit_test(test_exceptions),
        cmocka_unit_test(test_active),
        cmocka_unit_test(test_configure),
        cmocka_unit_test(test_client_protocol),
        cmocka_unit_test(test_client_reconnects),
        cmocka_unit_test(test_client_unavailable),
        cmocka_unit_test(test_session_count_limit),
        cmocka_unit_test(test_session_rates),
        cmocka_unit_test(test_session_without_anvil),
    };

    testlib_setup();
    signal(SIGPIPE, SIG_IGN);
    return (cmocka_run_group_tests(tests, NULL, NULL));
}
