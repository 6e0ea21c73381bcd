/*
 * Unit tests for lib/mail/cleanup_client.c: the client talks to a stub
 * server (a thread on the other end of a socketpair) that records what
 * it receives and sends a canned reply.
 */
#include <limits.h>
#include <pthread.h>
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
#include "cleanup_client.h"
#include "mem.h"
#include "numparse.h"
#include "strbuf.h"
#include "stream.h"
#include "testlib.h"

#define STUB_RCPT_MAX   16

static const attr_limits stub_limits = {64, 70000, 200000};

/* What the stub server saw and what it answers. */
typedef struct stub {
    int     fd;
    const char *protocol;               /* sent first */
    const char *reply;                  /* raw reply bytes, or NULL */
    attr_list *env;
    attr_list *rcpts[STUB_RCPT_MAX];
    size_t  nrcpts;
    strbuf *content;
    int     chunks;
    long    max_chunk;
    int     ok;                         /* the conversation parsed */
} stub;

/* stub_find_long: a numeric attribute, or -1 */
static long stub_find_long(const attr_list *l, const char *name)
{
    const char *v = attr_list_find(l, name, NULL);
    long    n;

    return v != NULL && num_parse_long(v, LONG_MIN, LONG_MAX, &n) == 0 ? n : -1;
}

/* stub_server: one cleanup conversation, server side */
static void *stub_server(void *arg)
{
    stub   *sb = arg;
    stream *s = stream_fdopen(sb->fd, STREAM_F_RDWR);
    strbuf *err = strbuf_new(64);
    attr_list *l = attr_list_new();
    char   *buf = mem_alloc(CLEANUP_CHUNK_MAX);
    long    n;
    long    i;

    stream_set_timeout(s, 5000);
    if (attr_send_protocol(s, sb->protocol) < 0)
        goto done;
    sb->env = attr_list_new();
    if (attr_read(s, &stub_limits, sb->env, err) < 0)
        goto done;
    n = stub_find_long(sb->env, ATTR_NAME_RCPT_COUNT);
    for (i = 0; i < n && i < STUB_RCPT_MAX; i++) {
        sb->rcpts[i] = attr_list_new();
        if (attr_read(s, &stub_limits, sb->rcpts[i], err) < 0)
            goto done;
        sb->nrcpts++;
    }
    for (;;) {
        if (attr_read(s, &stub_limits, l, err) < 0)
            goto done;
        n = stub_find_long(l, ATTR_NAME_SIZE);
        if (n <= 0)
            break;
        if (n > sb->max_chunk)
            sb->max_chunk = n;
        sb->chunks++;
        if (stream_read_exact(s, buf, (size_t) n) != STREAM_OK)
            goto done;
        strbuf_append(sb->content, buf, (size_t) n);
    }
    sb->ok = (n == 0);
    if (sb->reply != NULL) {
        stream_puts(s, sb->reply);
        stream_flush(s);
    }
done:
    mem_free(buf);
    attr_list_free(l);
    strbuf_free(err);
    stream_close(s);
    return NULL;
}

/* stub_start: socketpair + server thread; returns the client stream */
static stream *stub_start(stub *sb, pthread_t *tid, const char *protocol,
                          const char *reply)
{
    int     sv[2];
    stream *s;

    memset(sb, 0, sizeof(*sb));
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    sb->fd = sv[1];
    sb->protocol = protocol;
    sb->reply = reply;
    sb->content = strbuf_new(1024);
    assert_int_equal(pthread_create(tid, NULL, stub_server, sb), 0);
    s = stream_fdopen(sv[0], STREAM_F_RDWR);
    stream_set_timeout(s, 5000);
    return s;
}

/* stub_free: release what the stub recorded */
static void stub_free(stub *sb)
{
    size_t  i;

    attr_list_free(sb->env);
    for (i = 0; i < sb->nrcpts; i++)
        attr_list_free(sb->rcpts[i]);
    strbuf_free(sb->content);
}

/* test_full_conversation: envelope, recipients, content, accepted */
static void test_full_conversation(void **state)
{
    stub    sb;
    pthread_t tid;
    strbuf *err = strbuf_new(16);
    strbuf *qid = strbuf_new(16);
    strbuf *reason = strbuf_new(16);
    struct cleanup_envelope env;
    cleanup_client *cl;

    (void) state;
    cl = cleanup_open_stream(stub_start(&sb, &tid, ATTR_PROTO_CLEANUP,
                                        "status=0\nqueue_id=3A3D26C44CC\n\n"), err);
    assert_non_null(cl);
    memset(&env, 0, sizeof(env));
    env.flags = CLEANUP_F_LOCAL | CLEANUP_F_EXTRACT;
    env.sender = "a b@example.com";
    env.full_name = "Joe User";
    env.submit_uid = 1000;
    env.arrival_time = 1234567;
    env.ret_flags = "HDRS";
    assert_int_equal(cleanup_envelope(cl, &env), 0);
    assert_int_equal(cleanup_envelope(cl, &env), -1);
    assert_int_equal(cleanup_recipient(cl, "r1@example.com", NULL, NULL, 0), 0);
    assert_int_equal(cleanup_recipient(cl, "r2@example.com", "R2@example.com",
                                       "rfc822;r2@example.com", 3), 0);
    assert_int_equal(cleanup_content(cl, "Subject: x\n\n", 12), 0);
    /* Recipients after content are a misuse. */
    assert_int_equal(cleanup_recipient(cl, "late@example.com", NULL, NULL, 0), -1);
    assert_int_equal(cleanup_content(cl, "body\n", 5), 0);
    assert_int_equal(cleanup_finish(cl, qid, reason), 0);
    assert_string_equal(qid->data, "3A3D26C44CC");
    cleanup_close(cl);
    assert_int_equal(pthread_join(tid, NULL), 0);
    assert_int_equal(sb.ok, 1);
    assert_string_equal(attr_list_find(sb.env, ATTR_NAME_SENDER, NULL), "a b@example.com");
    assert_int_equal(stub_find_long(sb.env, ATTR_NAME_FLAGS), 5);
    assert_int_equal(stub_find_long(sb.env, ATTR_NAME_SUBMIT_UID), 1000);
    assert_int_equal(stub_find_long(sb.env, ATTR_NAME_ARRIVAL_TIME), 1234567);
    assert_int_equal(stub_find_long(sb.env, ATTR_NAME_RCPT_COUNT), 2);
    assert_string_equal(attr_list_find(sb.env, ATTR_NAME_FULL_NAME, NULL), "Joe User");
    assert_string_equal(attr_list_find(sb.env, ATTR_NAME_RET_FLAGS, NULL), "HDRS");
    assert_null(attr_list_find(sb.env, ATTR_NAME_ENVELOPE_ID, NULL));
    assert_int_equal(sb.nrcpts, 2);
    assert_string_equal(attr_list_find(sb.rcpts[0], ATTR_NAME_RECIPIENT, NULL), "r1@example.com");
    assert_null(attr_list_find(sb.rcpts[0], ATTR_NAME_ORIGINAL_RCPT, NULL));
    assert_string_equal(attr_list_find(sb.rcpts[1], ATTR_NAME_ORIGINAL_RCPT, NULL), "R2@example.com");
    assert_string_equal(attr_list_find(sb.rcpts[1], ATTR_NAME_DSN_ORCPT, NULL), "rfc822;r2@example.com");
    assert_int_equal(stub_find_long(sb.rcpts[1], ATTR_NAME_NOTIFY_FLAGS), 3);
    assert_int_equal(sb.content->len, 17);
    assert_memory_equal(sb.content->data, "Subject: x\n\nbody\n", 17);
    stub_free(&sb);
    strbuf_free(err);
    strbuf_free(qid);
    strbuf_free(reason);
}

/* test_chunks: large content goes in chunks of at most 64 KiB, bytes exact */
static void test_chunks(void **state)
{
    stub    sb;
    pthread_t tid;
    strbuf *err = strbuf_new(16);
    strbuf *big = strbuf_new(200000);
    struct cleanup_envelope env;
    cleanup_client *cl;
    size_t  i;

    (void) state;
    for (i = 0; i < 150000; i++)
        strbuf_putc(big, (int) (i % 251));      /* NULs and 8-bit bytes too */
    cl = cleanup_open_stream(stub_start(&sb, &tid, ATTR_PROTO_CLEANUP,
                                        "status=0\nqueue_id=ABCDEF1\n\n"), err);
    assert_non_null(cl);
    memset(&env, 0, sizeof(env));
    env.sender = "";
    env.submit_uid = -1;
    assert_int_equal(cleanup_envelope(cl, &env), 0);
    assert_int_equal(cleanup_recipient(cl, "r@example.com", NULL, NULL, 0), 0);
    /* In odd pieces, to cross chunk boundaries. */
    for (i = 0; i < big->len; i += 7777)
        assert_int_equal(cleanup_content(cl, big->data + i,
                                         big->len - i < 7777 ? big->len - i : 7777), 0);
    assert_int_equal(cleanup_finish(cl, NULL, NULL), 0);
    cleanup_close(cl);
    assert_int_equal(pthread_join(tid, NULL), 0);
    assert_int_equal(sb.ok, 1);
    assert_int_equal(sb.chunks, 3);
    assert_int_equal(sb.max_chunk, CLEANUP_CHUNK_MAX);
    assert_int_equal(sb.content->len, big->len);
    assert_memory_equal(sb.content->data, big->data, big->len);
    assert_string_equal(attr_list_find(sb.env, ATTR_NAME_SENDER, NULL), "");
    assert_null(attr_list_find(sb.env, ATTR_NAME_SUBMIT_UID, NULL));
    stub_free(&sb);
    strbuf_free(err);
    strbuf_free(big);
}

/* One reply case: raw reply, expected result, expected reason prefix. */
static const struct reply_case {
    const char *reply;
    int     result;
    const char *reason;
} reply_cases[] = {
    {"status=5\nreason=5.3.4%20message%20size%20exceeds\n\n", 5, "5.3.4 message size exceeds"},
    {"status=4\nreason=4.3.0%20try%20later\n\n", 4, "4.3.0 try later"},
    {"status=4\n\n", 4, "4.3.0"},
    {"status=0\n\n", -1, "4.3.0"},                      /* no queue ID */
    {"status=0\nqueue_id=../x\n\n", -1, "4.3.0"},       /* bad queue ID */
    {"status=3\n\n", -1, "4.3.0"},
    {"status=0\nqueue_id=ABCDEF1\nbogus=1\n\n", -1, "4.3.0"},
    {"status=0\nstatus=0\nqueue_id=ABCDEF1\n\n", -1, "4.3.0"},
    {"garbage", -1, "4.3.0"},
    {NULL, -1, "4.3.0"},                                /* server hangs up */
};

/* test_replies: every reply case */
static void test_replies(void **state)
{
    strbuf *err = strbuf_new(16);
    strbuf *reason = strbuf_new(16);
    strbuf *qid = strbuf_new(16);
    size_t  i;

    (void) state;
    for (i = 0; i < sizeof(reply_cases) / sizeof(reply_cases[0]); i++) {
        const struct reply_case *c = reply_cases + i;
        struct cleanup_envelope env;
        stub    sb;
        pthread_t tid;
        cleanup_client *cl;

        print_message("reply case %zu\n", i);
        cl = cleanup_open_stream(stub_start(&sb, &tid, ATTR_PROTO_CLEANUP, c->reply), err);
        assert_non_null(cl);
        memset(&env, 0, sizeof(env));
        env.sender = "s@example.com";
        assert_int_equal(cleanup_envelope(cl, &env), 0);
        assert_int_equal(cleanup_recipient(cl, "r@example.com", NULL, NULL, 0), 0);
        strbuf_reset(reason);
        assert_int_equal(cleanup_finish(cl, qid, reason), c->result);
        assert_true(strncmp(reason->data, c->reason, strlen(c->reason)) == 0);
        cleanup_close(cl);
        assert_int_equal(pthread_join(tid, NULL), 0);
        stub_free(&sb);
    }
    strbuf_free(err);
    strbuf_free(reason);
    strbuf_free(qid);
}

/* test_wrong_protocol: a server speaking another protocol is refused */
static void test_wrong_protocol(void **state)
{
    stub    sb;
    pthread_t tid;
    strbuf *err = strbuf_new(16);

    (void) state;
    assert_null(cleanup_open_stream(stub_start(&sb, &tid, ATTR_PROTO_BOUNCE, NULL), err));
    assert_true(err->len > 0);
    assert_int_equal(pthread_join(tid, NULL), 0);
    stub_free(&sb);
    strbuf_free(err);
}

/* test_no_envelope: finishing without an envelope fails cleanly */
static void test_no_envelope(void **state)
{
    stub    sb;
    pthread_t tid;
    strbuf *err = strbuf_new(16);
    strbuf *reason = strbuf_new(16);
    cleanup_client *cl;

    (void) state;
    cl = cleanup_open_stream(stub_start(&sb, &tid, ATTR_PROTO_CLEANUP, NULL), err);
    assert_non_null(cl);
    assert_int_equal(cleanup_content(cl, "x", 1), -1);
    assert_int_equal(cleanup_finish(cl, NULL, reason), -1);
    assert_non_null(strstr(reason->data, "no envelope"));
    cleanup_close(cl);
    assert_int_equal(pthread_join(tid, NULL), 0);
    stub_free(&sb);
    strbuf_free(err);
    strbuf_free(reason);
}

int     main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_full_conversation),
        cmocka_unit_test(test_chunks),
        cmocka_unit_test(test_replies),
        cmocka_unit_test(test_wrong_protocol),
        cmocka_unit_test(test_no_envelope),
    };

    testlib_setup();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
