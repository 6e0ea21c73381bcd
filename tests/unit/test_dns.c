/*
 * Unit tests for lib/net/dns.c: name checks, and the asynchronous
 * resolver against a fake name server that lives on the same event loop
 * (a UDP socket on 127.0.0.1 answering with made-to-measure packets).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "dns.h"
#include "event.h"
#include "mem.h"
#include "param.h"
#include "strbuf.h"
#include "testlib.h"

/* ---------------------------------------------------------- fake server */

enum fake_mode {
    FAKE_SILENT,                        /* never answer */
    FAKE_SERVFAIL,                      /* rcode 2 */
    FAKE_MANY_A,                        /* 40 A records */
    FAKE_TXT_EVIL                       /* TXT with CR LF and NUL */
};

#define FAKE_MANY 28

typedef struct fake_server {
    int     fd;
    int     port;
    enum fake_mode mode;
    int     queries;
} fake_server;

typedef struct lookup_result {
    int     calls;
    int     status;
    size_t  count;
    int     truncated;
    char    first[DNS_TEXT_MAX];
    char    err[128];
    char    name[DNS_NAME_MAX + 2];
    dns_resolver **free_me;             /* free the resolver from the callback */
} lookup_result;

/* fake_put_rr: append an answer record pointing at the question name. */
static size_t fake_put_rr(unsigned char *p, int type, const unsigned char *rdata,
                          size_t rdlen)
{
    p[0] = 0xc0;
    p[1] = 12;
    p[2] = 0;
    p[3] = (unsigned char) type;
    p[4] = 0;
    p[5] = 1;
    p[6] = 0;
    p[7] = 0;
    p[8] = 1;
    p[9] = 0;
    p[10] = (unsigned char) (rdlen >> 8);
    p[11] = (unsigned char) rdlen;
    memcpy(p + 12, rdata, rdlen);
    return 12 + rdlen;
}

/* fake_read: answer one query according to the mode. */
static void fake_read(event_loop *loop, int fd, void *ctx)
{
    fake_server *fs = ctx;
    unsigned char q[512];
    unsigned char r[4096];
    unsigned char rdata[64];
    struct sockaddr_in peer;
    socklen_t plen = sizeof(peer);
    ssize_t n;
    size_t  len;
    size_t  i;
    int     ancount = 0;

    (void) loop;
    n = recvfrom(fd, q, sizeof(q), 0, (struct sockaddr *) &peer, &plen);
    if (n < 12)
        return;
    fs->queries++;
    if (fs->mode == FAKE_SILENT)
        return;
    memcpy(r, q, (size_t) n);
    len = (size_t) n;
    r[2] = 0x81;
    r[3] = 0x80;
    if (fs->mode == FAKE_SERVFAIL) {
        r[3] |= 2;
    } else if (fs->mode == FAKE_MANY_A) {
        /* As many as fit in 512 bytes (more would need TCP: see the
         * integration test for the DNS_REPLY_MAX cut). */
        for (i = 0; i < FAKE_MANY; i++) {
            unsigned char a[4] = {10, 0, 0, (unsigned char) (i + 1)};

            len += fake_put_rr(r + len, DNS_T_A, a, 4);
            ancount++;
        }
    } else if (fs->mode == FAKE_TXT_EVIL) {
        static const char txt[] = "250 ok\r\nMAIL\0X";

        rdata[0] = sizeof(txt) - 1;
        memcpy(rdata + 1, txt, sizeof(txt) - 1);
        len += fake_put_rr(r + len, DNS_T_TXT, rdata, sizeof(txt));
        ancount = 1;
    }
    r[6] = 0;
    r[7] = (unsigned char) ancount;
    (void) sendto(fd, r, len, 0, (struct sockaddr *) &peer, plen);
}

/* fake_start: bind the fake server and point dns_resolver_servers at it. */
static void fake_start(fake_server *fs, event_loop *loop, enum fake_mode mode)
{
    struct sockaddr_in sin;
    socklen_t slen = sizeof(sin);
    char    servers[64];

    memset(fs, 0, sizeof(*fs));
    fs->mode = mode;
    fs->fd = socket(AF_INET, SOCK_DGRAM, 0);
    assert_true(fs->fd >= 0);
    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fs->fd, (struct sockaddr *) &sin, sizeof(sin)), 0);
    assert_int_equal(getsockname(fs->fd, (struct sockaddr *) &sin, &slen), 0);
    fs->port = ntohs(sin.sin_port);
    assert_int_equal(event_add_read(loop, fs->fd, fake_read, fs), 0);
    snprintf(servers, sizeof(servers), "127.0.0.1:%d", fs->port);
    param_reset();
    assert_int_equal(param_override(PARAM_DNS_RESOLVER_SERVERS, servers), 0);
}

/* fake_stop: close the fake server. */
static void fake_stop(fake_server *fs, event_loop *loop)
{
    event_remove(loop, fs->fd);
    close(fs->fd);
    param_reset();
}

/* on_result: store a lookup's result. */
static void on_result(int status, const dns_reply *reply, const char *err, void *ctx)
{
    lookup_result *lr = ctx;

    lr->calls++;
    lr->status = status;
    assert_non_null(reply);
    assert_non_null(err);
    lr->count = reply->count;
    lr->truncated = reply->truncated;
    snprintf(lr->name, sizeof(lr->name), "%s", reply->name);
    snprintf(lr->first, sizeof(lr->first), "%s", reply->count ? reply->rec[0].text : "");
    snprintf(lr->err, sizeof(lr->err), "%s", err);
    if (lr->free_me)
        *lr->free_me = dns_resolver_free(*lr->free_me);
}

/* now_ms: monotonic milliseconds. */
static long long now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* run_until: run the loop until *flag or the time limit. */
static void run_until(event_loop *loop, const int *flag, long long limit_ms)
{
    long long end = now_ms() + limit_ms;

    while (!*flag && now_ms() < end)
        event_loop_run_once(loop, 50);
}

/* ---------------------------------------------------------- tests */

static void test_name_valid(void **state)
{
    static const struct {
        const char *name;
        int     ok;
    } cases[] = {
        {"example.test", 1},
        {"example.test.", 1},
        {"a", 1},
        {"_dmarc.x-y.test", 1},
        {"2.0.0.127.zen.test", 1},
        {"", 0},
        {".", 0},
        {".test", 0},
        {"a..test", 0},
        {"sp ace.test", 0},
        {"nl\n.test", 0},
        {"b\xc3\xa4" "d.test", 0},
        {"back\\.test", 0},
        {"quo\"te.test", 0},
    };
    strbuf *err = strbuf_new(32);
    strbuf *name = strbuf_new(300);
    size_t  i;

    (void) state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        assert_int_equal(dns_name_valid(cases[i].name, err) == 0, cases[i].ok);
    assert_int_equal(dns_name_valid(NULL, err), -1);
    /* Label of 63 is fine, 64 is not. */
    strbuf_reset(name);
    for (i = 0; i < 63; i++)
        strbuf_putc(name, 'a');
    assert_int_equal(dns_name_valid(strbuf_str(name), err), 0);
    strbuf_putc(name, 'a');
    assert_int_equal(dns_name_valid(strbuf_str(name), err), -1);
    assert_non_null(strstr(strbuf_str(err), "63"));
    /* 253 bytes is the most (254 with a final dot). */
    strbuf_reset(name);
    for (i = 0; i < 63; i++)
        strbuf_puts(name, "abc.");
    strbuf_puts(name, "a");
    assert_int_equal(name->len, 253);
    assert_int_equal(dns_name_valid(strbuf_str(name), err), 0);
    strbuf_putc(name, '.');
    assert_int_equal(dns_name_valid(strbuf_str(name), err), 0);
    strbuf_truncate(name, 253);
    strbuf_putc(name, 'b');
    assert_int_equal(dns_name_valid(strbuf_str(name), err), -1);
    strbuf_free(name);
    strbuf_free(err);
}

static void test_type_names(void **state)
{
    (void) state;
    assert_int_equal(dns_type_parse("mx"), DNS_T_MX);
    assert_int_equal(dns_type_parse("AAAA"), DNS_T_AAAA);
    assert_int_equal(dns_type_parse("CNAME"), -1);
    assert_string_equal(dns_type_name(DNS_T_PTR), "PTR");
    assert_string_equal(dns_status_name(DNS_RETRY), "retry");
}

static void test_callback_never_inside_lookup(void **state)
{
    event_loop *loop = event_loop_new();
    dns_resolver *res;
    lookup_result lr;

    (void) state;
    param_reset();
    assert_int_equal(param_override(PARAM_DNS_RESOLVER_SERVERS, "127.0.0.1:9"), 0);
    res = dns_resolver_new(loop, 1000);
    memset(&lr, 0, sizeof(lr));
    assert_int_equal(dns_lookup(res, "bad..name", DNS_T_A, on_result, &lr), 0);
    assert_int_equal(lr.calls, 0);              /* not from inside dns_lookup */
    run_until(loop, &lr.calls, 2000);
    assert_int_equal(lr.calls, 1);
    assert_int_equal(lr.status, DNS_INVALID);
    assert_int_equal(lr.count, 0);
    /* Bad type or no callback: -1, nothing called. */
    assert_int_equal(dns_lookup(res, "a.test", 99, on_result, &lr), -1);
    assert_int_equal(dns_lookup(res, "a.test", DNS_T_A, NULL, NULL), -1);
    dns_resolver_free(res);
    event_loop_free(loop);
    param_reset();
}

static void test_deadline(void **state)
{
    event_loop *loop = event_loop_new();
    fake_server fs;
    dns_resolver *res;
    lookup_result lr;
    long long t0;

    (void) state;
    fake_start(&fs, loop, FAKE_SILENT);
    res = dns_resolver_new(loop, 400);
    memset(&lr, 0, sizeof(lr));
    t0 = now_ms();
    assert_int_equal(dns_lookup(res, "slow.test", DNS_T_A, on_result, &lr), 0);
    run_until(loop, &lr.calls, 5000);
    assert_int_equal(lr.calls, 1);
    assert_int_equal(lr.status, DNS_RETRY);
    assert_true(now_ms() - t0 < 1500);
    assert_true(fs.queries >= 1);
    assert_string_equal(lr.name, "slow.test");
    /* Let c-ares finish its own timeouts; no second callback. */
    event_loop_run_once(loop, 600);
    assert_int_equal(lr.calls, 1);
    dns_resolver_free(res);
    fake_stop(&fs, loop);
    event_loop_free(loop);
}

static void test_servfail_is_retry(void **state)
{
    event_loop *loop = event_loop_new();
    fake_server fs;
    dns_resolver *res;
    lookup_result lr;

    (void) state;
    fake_start(&fs, loop, FAKE_SERVFAIL);
    res = dns_resolver_new(loop, 2000);
    memset(&lr, 0, sizeof(lr));
    dns_lookup(res, "fail.test", DNS_T_MX, on_result, &lr);
    run_until(loop, &lr.calls, 5000);
    assert_int_equal(lr.calls, 1);
    assert_int_equal(lr.status, DNS_RETRY);
    dns_resolver_free(res);
    fake_stop(&fs, loop);
    event_loop_free(loop);
}

static void test_record_bound(void **state)
{
    event_loop *loop = event_loop_new();
    fake_server fs;
    dns_resolver *res;
    lookup_result lr;

    (void) state;
    fake_start(&fs, loop, FAKE_MANY_A);
    res = dns_resolver_new(loop, 2000);
    memset(&lr, 0, sizeof(lr));
    dns_lookup(res, "many.test", DNS_T_A, on_result, &lr);
    run_until(loop, &lr.calls, 5000);
    if (lr.status != DNS_OK) fail_msg("status %d: %s", lr.status, lr.err);
    assert_int_equal(lr.count, FAKE_MANY);
    assert_int_equal(lr.truncated, 0);
    assert_string_equal(lr.first, "10.0.0.1");
    dns_resolver_free(res);
    fake_stop(&fs, loop);
    event_loop_free(loop);
}

static void test_txt_sanitised(void **state)
{
    event_loop *loop = event_loop_new();
    fake_server fs;
    dns_resolver *res;
    lookup_result lr;

    (void) state;
    fake_start(&fs, loop, FAKE_TXT_EVIL);
    res = dns_resolver_new(loop, 2000);
    memset(&lr, 0, sizeof(lr));
    dns_lookup(res, "evil.test", DNS_T_TXT, on_result, &lr);
    run_until(loop, &lr.calls, 5000);
    if (lr.status != DNS_OK) fail_msg("status %d: %s", lr.status, lr.err);
    assert_string_equal(lr.first, "250 ok??MAIL?X");
    dns_resolver_free(res);
    fake_stop(&fs, loop);

    event_loop_free(loop);
}

static void test_free_cancels_pending(void **state)
{
    event_loop *loop = event_loop_new();
    fake_server fs;
    dns_resolver *res;
    lookup_result lr[3];
    int     i;

    (void) state;
    fake_start(&fs, loop, FAKE_SILENT);
    res = dns_resolver_new(loop, 5000);
    memset(lr, 0, sizeof(lr));
    for (i = 0; i < 3; i++)
        dns_lookup(res, i == 2 ? "bad..name" : "pending.test", DNS_T_A, on_result, &lr[i]);
    event_loop_run_once(loop, 50);
    assert_null(dns_resolver_free(res));
    for (i = 0; i < 3; i++)
        assert_int_equal(lr[i].calls, 1);
    assert_int_equal(lr[0].status, DNS_RETRY);
    assert_int_equal(lr[1].status, DNS_RETRY);
    /* Nothing may fire afterwards. */
    event_loop_run_once(loop, 100);
    for (i = 0; i < 3; i++)
        assert_int_equal(lr[i].calls, 1);
    fake_stop(&fs, loop);
    event_loop_free(loop);
}

static void test_free_from_callback(void **state)
{
    event_loop *loop = event_loop_new();
    fake_server fs;
    dns_resolver *res;
    lookup_result lr[2];

    (void) state;
    fake_start(&fs, loop, FAKE_SERVFAIL);
    res = dns_resolver_new(loop, 2000);
    memset(lr, 0, sizeof(lr));
    lr[0].free_me = &res;
    dns_lookup(res, "first.test", DNS_T_A, on_result, &lr[0]);
    dns_lookup(res, "second.test", DNS_T_A, on_result, &lr[1]);
    run_until(loop, &lr[0].calls, 5000);
    assert_null(res);
    assert_int_equal(lr[0].calls, 1);
    assert_int_equal(lr[1].calls, 1);           /* answered or cancelled */
    event_loop_run_once(loop, 100);
    assert_int_equal(lr[1].calls, 1);
    fake_stop(&fs, loop);
    event_loop_free(loop);
}

static void test_bad_servers(void **state)
{
    dns_reply *reply = mem_alloc(sizeof(*reply));
    strbuf *err = strbuf_new(64);

    (void) state;
    param_reset();
    assert_int_equal(param_override(PARAM_DNS_RESOLVER_SERVERS, "no such server!"), 0);
    assert_int_equal(dns_lookup_sync("a.test", DNS_T_A, 500, reply, err), DNS_RETRY);
    assert_non_null(strstr(strbuf_str(err), PARAM_DNS_RESOLVER_SERVERS));
    assert_int_equal(reply->count, 0);
    param_reset();
    strbuf_free(err);
    mem_free(reply);
}

static void test_domain_exists_literals(void **state)
{
    strbuf *err = strbuf_new(64);

    (void) state;
    param_reset();
    /* No lookup is made for these; the server would not answer anyway. */
    assert_int_equal(param_override(PARAM_DNS_RESOLVER_SERVERS, "127.0.0.1:9"), 0);
    assert_int_equal(dns_domain_exists("[192.0.2.1]", err), DNS_OK);
    assert_int_equal(dns_domain_exists("[IPv6:2001:db8::1]", err), DNS_OK);
    assert_int_equal(dns_domain_exists("bad..name", err), DNS_NOTFOUND);
    assert_int_equal(dns_domain_exists("", err), DNS_NOTFOUND);
    param_reset();
    strbuf_free(err);
}

static void test_reverse_invalid(void **state)
{
    strbuf *name = strbuf_new(16);

    (void) state;
    assert_int_equal(dns_reverse_verify("300.1.1.1", name), DNS_INVALID);
    assert_string_equal(strbuf_str(name), "unknown");
    assert_int_equal(dns_reverse_verify(NULL, name), DNS_INVALID);
    strbuf_free(name);
}

int     main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_name_valid),
        cmocka_unit_test(test_type_names),
        cmocka_unit_test(test_callback_never_inside_lookup),
        cmocka_unit_test(test_deadline),
        cmocka_unit_test(test_servfail_is_retry),
        cmocka_unit_test(test_record_bound),
        cmocka_unit_test(test_txt_sanitised),
        cmocka_unit_test(test_free_cancels_pending),
        cmocka_unit_test(test_free_from_callback),
        cmocka_unit_test(test_bad_servers),
        cmocka_unit_test(test_domain_exists_literals),
        cmocka_unit_test(test_reverse_invalid),
    };

    testlib_setup();
    return cmocka_run_group_tests_name("dns", tests, NULL, NULL);
}
