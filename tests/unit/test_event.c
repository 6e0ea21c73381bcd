/*
 * Unit tests for lib/util/event.c: descriptor callbacks over pipes,
 * removal from inside callbacks, timers (order, cancellation, timers
 * added by callbacks) and run/stop. Timer tests check order only, never
 * elapsed time.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "event.h"
#include "mem.h"
#include "strbuf.h"
#include "testlib.h"

/* Shared record of what ran, as a string of tags. */
struct trace {
    strbuf *log;
    event_loop *loop;
    int     fds[8];
    event_timer_id ids[8];
    int     count;
    int     reused;                     /* index of the replaced fd */
    int     old_write;                  /* write end of the replaced pipe */
};

/* trace_new: empty trace. */
static struct trace *trace_new(void)
{
    struct trace *t = mem_calloc(1, sizeof(*t));

    t->log = strbuf_new(64);
    t->loop = event_loop_new();
    return t;
}

/* trace_free: destroy a trace and its loop. */
static void trace_free(struct trace *t)
{
    strbuf_free(t->log);
    event_loop_free(t->loop);
    mem_free(t);
}

/* run_rounds: run a number of rounds, each waiting at most wait_ms. */
static void run_rounds(event_loop *loop, int rounds, int wait_ms)
{
    int     i;

    for (i = 0; i < rounds; i++)
        assert_true(event_loop_run_once(loop, wait_ms) >= 0);
}

/* on_read_drain: read callback that consumes data and logs "R<fd>". */
static void on_read_drain(event_loop *loop, int fd, void *ctx)
{
    struct trace *t = ctx;
    char    buf[64];

    (void) loop;
    (void) read(fd, buf, sizeof(buf));
    strbuf_printf(t->log, "R%d,", fd);
}

/* on_write_once: write callback that logs and drops its interest. */
static void on_write_once(event_loop *loop, int fd, void *ctx)
{
    struct trace *t = ctx;

    strbuf_printf(t->log, "W%d,", fd);
    event_remove_write(loop, fd);
}

/* Read and write callbacks fire for ready pipes; interests are independent. */
static void test_read_write(void **state)
{
    struct trace *t = trace_new();
    int     p[2];
    char    want[64];

    (void) state;
    assert_int_equal(pipe(p), 0);
    assert_int_equal(event_add_read(t->loop, p[0], on_read_drain, t), 0);
    /* Nothing to read yet: nothing runs. */
    assert_int_equal(event_loop_run_once(t->loop, 0), 0);
    assert_int_equal(write(p[1], "x", 1), 1);
    assert_int_equal(event_loop_run_once(t->loop, 1000), 1);
    snprintf(want, sizeof(want), "R%d,", p[0]);
    assert_string_equal(t->log->data, want);

    /* Write interest on the write end: a fresh pipe is writable. */
    strbuf_reset(t->log);
    assert_int_equal(event_add_write(t->loop, p[1], on_write_once, t), 0);
    assert_int_equal(event_loop_run_once(t->loop, 1000), 1);
    snprintf(want, sizeof(want), "W%d,", p[1]);
    assert_string_equal(t->log->data, want);
    /* It removed itself: no more calls. */
    assert_int_equal(event_loop_run_once(t->loop, 0), 0);

    /* Read and write interest on one fd are independent: dropping
     * write keeps read. */
    strbuf_reset(t->log);
    assert_int_equal(event_add_write(t->loop, p[0], on_write_once, t), 0);
    event_remove_write(t->loop, p[0]);
    assert_int_equal(write(p[1], "y", 1), 1);
    assert_int_equal(event_loop_run_once(t->loop, 1000), 1);
    snprintf(want, sizeof(want), "R%d,", p[0]);
    assert_string_equal(t->log->data, want);

    /* Hangup counts as readable. */
    strbuf_reset(t->log);
    close(p[1]);
    assert_int_equal(event_loop_run_once(t->loop, 1000), 1);
    assert_string_equal(t->log->data, want);
    event_remove(t->loop, p[0]);
    assert_int_equal(event_loop_run_once(t->loop, 0), 0);
    close(p[0]);
    trace_free(t);
}

/* Regular files cannot be polled: the error comes back, not a crash. */
static void test_add_error(void **state)
{
    event_loop *loop = event_loop_new();
    char    path[] = "/tmp/test_event_XXXXXX";
    int     fd = mkstemp(path);

    (void) state;
    assert_true(fd >= 0);
    errno = 0;
    assert_int_equal(event_add_read(loop, fd, on_read_drain, NULL), -1);
    assert_int_equal(errno, EPERM);
    /* Nothing registered: run returns at once. */
    assert_int_equal(event_loop_run(loop), 0);
    event_remove(loop, fd);
    event_remove(loop, 12345);
    close(fd);
    unlink(path);
    assert_null(event_loop_free(loop));
}

/* on_read_remove_other: first of two ready fds removes the other. */
static void on_read_remove_other(event_loop *loop, int fd, void *ctx)
{
    struct trace *t = ctx;
    int     other = (fd == t->fds[0]) ? t->fds[1] : t->fds[0];

    strbuf_printf(t->log, "R%d,", fd);
    event_remove(loop, other);
    t->count++;
}

/* on_fresh: must not run for a stale event of a reused descriptor. */
static void on_fresh(event_loop *loop, int fd, void *ctx)
{
    struct trace *t = ctx;

    (void) loop;
    strbuf_printf(t->log, "F%d,", fd);
}

/*
 * on_read_reuse_other: remove the other ready fd, close it, open a new
 * pipe that gets the same number, and register that for reading.
 */
static void on_read_reuse_other(event_loop *loop, int fd, void *ctx)
{
    struct trace *t = ctx;
    int     idx = (fd == t->fds[0]) ? 1 : 0;
    int     other = t->fds[idx];
    int     p[2];

    strbuf_printf(t->log, "R%d,", fd);
    t->count++;
    event_remove(loop, other);
    close(other);
    assert_int_equal(pipe(p), 0);
    /* Lowest free number: the one just closed. */
    assert_int_equal(p[0], other);
    t->reused = idx;
    t->old_write = t->fds[2 + idx];
    t->fds[idx] = p[0];
    t->fds[2 + idx] = p[1];
    assert_int_equal(event_add_read(loop, p[0], on_fresh, t), 0);
}

/* Removing another ready fd from a callback suppresses its event. */
static void test_remove_other_in_batch(void **state)
{
    struct trace *t = trace_new();
    int     a[2];
    int     b[2];

    (void) state;
    assert_int_equal(pipe(a), 0);
    assert_int_equal(pipe(b), 0);
    t->fds[0] = a[0];
    t->fds[1] = b[0];
    assert_int_equal(write(a[1], "x", 1), 1);
    assert_int_equal(write(b[1], "x", 1), 1);
    assert_int_equal(event_add_read(t->loop, a[0], on_read_remove_other, t), 0);
    assert_int_equal(event_add_read(t->loop, b[0], on_read_remove_other, t), 0);
    /* Both are ready in one batch; whichever runs first removes the other. */
    assert_int_equal(event_loop_run_once(t->loop, 1000), 1);
    assert_int_equal(t->count, 1);
    event_remove(t->loop, a[0]);
    event_remove(t->loop, b[0]);
    close(a[0]);
    close(a[1]);
    close(b[0]);
    close(b[1]);
    trace_free(t);
}

/* A stale event for a closed and reused descriptor number is dropped. */
static void test_remove_reuse_in_batch(void **state)
{
    struct trace *t = trace_new();
    int     a[2];
    int     b[2];
    int     i;
    char    want[32];

    (void) state;
    assert_int_equal(pipe(a), 0);
    assert_int_equal(pipe(b), 0);
    t->fds[0] = a[0];
    t->fds[1] = b[0];
    t->fds[2] = a[1];
    t->fds[3] = b[1];
    assert_int_equal(write(a[1], "x", 1), 1);
    assert_int_equal(write(b[1], "x", 1), 1);
    assert_int_equal(event_add_read(t->loop, a[0], on_read_reuse_other, t), 0);
    assert_int_equal(event_add_read(t->loop, b[0], on_read_reuse_other, t), 0);
    assert_int_equal(event_loop_run_once(t->loop, 1000), 1);
    assert_int_equal(t->count, 1);
    /* The new pipe is empty: its callback must not have run. */
    assert_null(strchr(t->log->data, 'F'));
    /* Once data arrives on the new pipe, its own callback runs. */
    strbuf_reset(t->log);
    event_remove(t->loop, t->fds[1 - t->reused]);
    assert_int_equal(write(t->fds[2 + t->reused], "y", 1), 1);
    assert_int_equal(event_loop_run_once(t->loop, 1000), 1);
    snprintf(want, sizeof(want), "F%d,", t->fds[t->reused]);
    assert_string_equal(t->log->data, want);
    for (i = 0; i < 4; i++)
        event_remove(t->loop, t->fds[i]);
    for (i = 0; i < 4; i++)
        close(t->fds[i]);
    close(t->old_write);
    trace_free(t);
}

/* on_read_remove_self: read callback that removes its own fd entirely. */
static void on_read_remove_self(event_loop *loop, int fd, void *ctx)
{
    struct trace *t = ctx;

    strbuf_printf(t->log, "R,");
    event_remove(loop, fd);
}

/* on_write_log: write callback that only logs. */
static void on_write_log(event_loop *loop, int fd, void *ctx)
{
    struct trace *t = ctx;

    (void) loop;
    (void) fd;
    strbuf_printf(t->log, "W,");
}

/* A callback that removes its own fd stops the other direction's call. */
static void test_remove_self(void **state)
{
    struct trace *t = trace_new();
    int     sp[2];

    (void) state;
    /* A pipe end is one-way; a socketpair end is readable and writable. */
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sp), 0);
    assert_int_equal(write(sp[1], "x", 1), 1);
    assert_int_equal(event_add_read(t->loop, sp[0], on_read_remove_self, t), 0);
    assert_int_equal(event_add_write(t->loop, sp[0], on_write_log, t), 0);
    assert_int_equal(event_loop_run_once(t->loop, 1000), 1);
    assert_string_equal(t->log->data, "R,");
    assert_int_equal(event_loop_run_once(t->loop, 0), 0);
    /* Both directions together when nothing is removed. */
    strbuf_reset(t->log);
    assert_int_equal(event_add_read(t->loop, sp[0], on_read_drain, t), 0);
    assert_int_equal(event_add_write(t->loop, sp[0], on_write_log, t), 0);
    assert_int_equal(event_loop_run_once(t->loop, 1000), 2);
    event_remove(t->loop, sp[0]);
    close(sp[0]);
    close(sp[1]);
    trace_free(t);
}

/* on_timer_log: timer callback that logs its tag. */
static void on_timer_log(event_loop *loop, event_timer_id id, void *ctx)
{
    struct trace *t = ctx;
    int     i;

    (void) loop;
    for (i = 0; i < 8; i++)
        if (t->ids[i] == id)
            strbuf_printf(t->log, "T%d,", i);
    t->count++;
}

/* Timers fire in order of due time, ties in order of adding. */
static void test_timer_order(void **state)
{
    static const long delays[] = {30, 10, 20, 10, 0};
    struct trace *t = trace_new();
    int     i;

    (void) state;
    for (i = 0; i < 5; i++)
        t->ids[i] = event_timer_add(t->loop, delays[i], on_timer_log, t);
    for (i = 0; i < 5; i++)
        assert_true(t->ids[i] != 0);
    while (t->count < 5)
        assert_true(event_loop_run_once(t->loop, -1) >= 0);
    assert_string_equal(t->log->data, "T4,T1,T3,T2,T0,");
    trace_free(t);
}

/* ms_now: monotonic milliseconds, as the loop counts them. */
static long long ms_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct many {
    long    delay[200];
    int     order[200];
    int     fired;
};

struct many_item {
    struct many *m;
    int     index;
};

/* on_timer_many: record which timer fired. */
static void on_timer_many(event_loop *loop, event_timer_id id, void *ctx)
{
    struct many_item *item = ctx;

    (void) loop;
    (void) id;
    item->m->order[item->m->fired++] = item->index;
}

/* Many timers added in random order fire sorted; cancelled ones never. */
static void test_timer_many(void **state)
{
    struct many m;
    struct many_item items[200];
    event_timer_id ids[200];
    event_loop *loop = NULL;
    unsigned seed;
    long long t0;
    int     attempt;
    int     i;
    int     prev;
    int     cur;

    (void) state;
    /* Retry until all timers were added within one clock millisecond, so
     * that due order is exactly (delay, order of adding). */
    for (attempt = 0; attempt < 50; attempt++) {
        loop = event_loop_new();
        memset(&m, 0, sizeof(m));
        seed = 12345;
        t0 = ms_now();
        for (i = 0; i < 200; i++) {
            seed = seed * 1103515245u + 12345u;
            m.delay[i] = (long) ((seed >> 16) % 60);
            items[i].m = &m;
            items[i].index = i;
            ids[i] = event_timer_add(loop, m.delay[i], on_timer_many, &items[i]);
        }
        for (i = 0; i < 200; i += 3) {
            assert_int_equal(event_timer_cancel(loop, ids[i]), 1);
            assert_int_equal(event_timer_cancel(loop, ids[i]), 0);
        }
        if (ms_now() == t0)
            break;
        loop = event_loop_free(loop);
    }
    assert_non_null(loop);
    while (m.fired < 133)
        assert_true(event_loop_run_once(loop, -1) >= 0);
    assert_int_equal(m.fired, 133);
    assert_int_equal(event_loop_run_once(loop, 0), 0);
    for (i = 0; i < m.fired; i++)
        assert_true(m.order[i] % 3 != 0);
    for (i = 1; i < m.fired; i++) {
        prev = m.order[i - 1];
        cur = m.order[i];
        if (!(m.delay[prev] < m.delay[cur]
              || (m.delay[prev] == m.delay[cur] && prev < cur)))
            fail_msg("timer %d (delay %ld) fired before %d (delay %ld)",
                     prev, m.delay[prev], cur, m.delay[cur]);
    }
    event_loop_free(loop);
}

/* on_timer_cancel_next: cancel ids[1] from inside ids[0]'s callback. */
static void on_timer_cancel_next(event_loop *loop, event_timer_id id, void *ctx)
{
    struct trace *t = ctx;

    strbuf_puts(t->log, "A,");
    /* Cancelling itself: it already fired. */
    assert_int_equal(event_timer_cancel(loop, id), 0);
    assert_int_equal(event_timer_cancel(loop, t->ids[1]), 1);
}

/* Cancellation, also of a timer due in the same round. */
static void test_timer_cancel(void **state)
{
    struct trace *t = trace_new();
    event_timer_id gone;

    (void) state;
    gone = event_timer_add(t->loop, 5, on_timer_log, t);
    assert_int_equal(event_timer_cancel(t->loop, gone), 1);
    assert_int_equal(event_timer_cancel(t->loop, gone), 0);
    assert_int_equal(event_timer_cancel(t->loop, 0), 0);
    assert_int_equal(event_timer_cancel(t->loop, 999999), 0);
    /* Same due time: A runs first and cancels B. */
    t->ids[0] = event_timer_add(t->loop, 0, on_timer_cancel_next, t);
    t->ids[1] = event_timer_add(t->loop, 0, on_timer_log, t);
    /* A reused slot gets a new id: the old id stays invalid. */
    assert_true(t->ids[0] != gone);
    assert_int_equal(event_timer_cancel(t->loop, gone), 0);
    assert_int_equal(event_loop_run_once(t->loop, 100), 1);
    assert_string_equal(t->log->data, "A,");
    assert_int_equal(event_loop_run_once(t->loop, 0), 0);
    trace_free(t);
}

/* on_timer_readd: re-arm a 0 ms timer from inside a timer callback. */
static void on_timer_readd(event_loop *loop, event_timer_id id, void *ctx)
{
    struct trace *t = ctx;

    (void) id;
    t->count++;
    strbuf_puts(t->log, "X,");
    if (t->count < 3)
        t->ids[0] = event_timer_add(loop, 0, on_timer_readd, t);
}

/* A timer added by a callback runs, but in a later round. */
static void test_timer_from_callback(void **state)
{
    struct trace *t = trace_new();

    (void) state;
    t->ids[0] = event_timer_add(t->loop, 0, on_timer_readd, t);
    assert_int_equal(event_loop_run_once(t->loop, 0), 1);
    assert_int_equal(t->count, 1);
    assert_int_equal(event_loop_run_once(t->loop, 0), 1);
    assert_int_equal(event_loop_run_once(t->loop, 0), 1);
    assert_int_equal(t->count, 3);
    assert_int_equal(event_loop_run_once(t->loop, 0), 0);
    assert_string_equal(t->log->data, "X,X,X,");
    trace_free(t);
}

/* on_timer_stop: stop the loop. */
static void on_timer_stop(event_loop *loop, event_timer_id id, void *ctx)
{
    struct trace *t = ctx;

    (void) id;
    strbuf_puts(t->log, "S,");
    event_loop_stop(loop);
}

/* on_read_count: count readable events without draining. */
static void on_read_count(event_loop *loop, int fd, void *ctx)
{
    struct trace *t = ctx;
    char    c;

    (void) loop;
    if (read(fd, &c, 1) == 1)
        t->count++;
}

/* run dispatches until stop; it can be run again afterwards. */
static void test_run_stop(void **state)
{
    struct trace *t = trace_new();
    int     p[2];

    (void) state;
    assert_int_equal(pipe(p), 0);
    assert_int_equal(write(p[1], "abc", 3), 3);
    assert_int_equal(event_add_read(t->loop, p[0], on_read_count, t), 0);
    t->ids[0] = event_timer_add(t->loop, 20, on_timer_stop, t);
    assert_int_equal(event_loop_run(t->loop), 0);
    assert_string_equal(t->log->data, "S,");
    assert_int_equal(t->count, 3);
    /* Again: the stop flag was consumed. */
    t->ids[0] = event_timer_add(t->loop, 1, on_timer_stop, t);
    assert_int_equal(event_loop_run(t->loop), 0);
    assert_string_equal(t->log->data, "S,S,");
    event_remove(t->loop, p[0]);
    /* Only timers left: run returns when the last has fired. */
    t->ids[1] = event_timer_add(t->loop, 1, on_timer_log, t);
    assert_int_equal(event_loop_run(t->loop), 0);
    assert_int_equal(t->count, 4);
    close(p[0]);
    close(p[1]);
    trace_free(t);
}

/* A timer bounds the wait even when run_once may wait forever. */
static void test_wait_bounded_by_timer(void **state)
{
    struct trace *t = trace_new();
    int     p[2];

    (void) state;
    assert_int_equal(pipe(p), 0);
    assert_int_equal(event_add_read(t->loop, p[0], on_read_drain, t), 0);
    t->ids[0] = event_timer_add(t->loop, 10, on_timer_log, t);
    while (t->count == 0)
        assert_true(event_loop_run_once(t->loop, -1) >= 0);
    assert_string_equal(t->log->data, "T0,");
    run_rounds(t->loop, 1, 0);
    event_remove(t->loop, p[0]);
    close(p[0]);
    close(p[1]);
    trace_free(t);
}

/* High descriptor numbers grow the table; callbacks still match. */
static void test_high_fd(void **state)
{
    struct trace *t = trace_new();
    int     p[2];
    int     hi;
    char    want[32];

    (void) state;
    assert_int_equal(pipe(p), 0);
    hi = fcntl(p[0], F_DUPFD, 300);
    assert_true(hi >= 300);
    assert_int_equal(event_add_read(t->loop, hi, on_read_drain, t), 0);
    assert_int_equal(write(p[1], "z", 1), 1);
    assert_int_equal(event_loop_run_once(t->loop, 1000), 1);
    snprintf(want, sizeof(want), "R%d,", hi);
    assert_string_equal(t->log->data, want);
    event_remove(t->loop, hi);
    close(hi);
    close(p[0]);
    close(p[1]);
    trace_free(t);
}

/* Misuse panics. */
static void test_misuse(void **state)
{
    event_loop *loop = event_loop_new();

    (void) state;
    TESTLIB_EXPECT_EXIT(MSG_PANIC, event_add_read(loop, -1, on_read_drain, NULL));
    TESTLIB_EXPECT_EXIT(MSG_PANIC, event_add_read(loop, 0, NULL, NULL));
    TESTLIB_EXPECT_EXIT(MSG_PANIC, event_timer_add(loop, 1, NULL, NULL));
    event_loop_free(loop);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_read_write),
        cmocka_unit_test(test_add_error),
        cmocka_unit_test(test_remove_other_in_batch),
        cmocka_unit_test(test_remove_reuse_in_batch),
        cmocka_unit_test(test_remove_self),
        cmocka_unit_test(test_timer_order),
        cmocka_unit_test(test_timer_many),
        cmocka_unit_test(test_timer_cancel),
        cmocka_unit_test(test_timer_from_callback),
        cmocka_unit_test(test_run_stop),
        cmocka_unit_test(test_wait_bounded_by_timer),
        cmocka_unit_test(test_high_fd),
        cmocka_unit_test(test_misuse),
    };

    testlib_setup();
    return cmocka_run_group_tests_name("event", tests, NULL, NULL);
}
