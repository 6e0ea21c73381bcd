/*
 * event: an epoll event loop with one-shot timers.
 *
 * Public functions:
 *   event_loop_new(): an empty loop. Never returns NULL; failing to get an
 *     epoll descriptor (out of descriptors) is fatal.
 *   event_loop_free(loop): close the epoll descriptor and free the loop
 *     (registered descriptors stay open; they belong to the caller).
 *     Returns NULL. Not from inside one of the loop's callbacks.
 *   event_add_read(loop, fd, fn, ctx), event_add_write(...): call fn(loop,
 *     fd, ctx) whenever fd is readable (also at EOF, hangup or error) or
 *     writable (also on hangup or error). Level-triggered: the callback
 *     runs again next round while the condition holds. Adding an interest
 *     that exists replaces its callback. Returns 0, or -1 with errno from
 *     epoll_ctl (EPERM for regular files, EBADF, ENOMEM, ENOSPC).
 *   event_remove_read(loop, fd), event_remove_write(loop, fd): drop one
 *     interest; event_remove(loop, fd) drops both. Unknown fds are
 *     ignored. Call it before closing fd: the loop cannot notice a close.
 *   event_timer_add(loop, ms, fn, ctx): call fn(loop, id, ctx) once, ms
 *     milliseconds from now (negative counts as 0). Returns the timer id.
 *   event_timer_cancel(loop, id): returns 1 when the timer was pending and
 *     is now cancelled, 0 when it had fired, was cancelled, or never was.
 *   event_loop_run_once(loop, max_wait_ms): wait at most max_wait_ms
 *     (negative = until something happens; 0 = do not wait), but no
 *     longer than until the earliest timer is due; then dispatch the ready
 *     descriptors and the due timers. Timers added while dispatching wait
 *     for a later round even when due at once, so a timer that re-arms
 *     itself cannot starve the descriptors. Returns the number of
 *     callbacks run, or -1 (errno set) when epoll_wait fails other than
 *     with EINTR.
 *   event_loop_run(loop): run rounds until event_loop_stop(loop) is
 *     called (from a callback), or until no descriptor and no timer is
 *     left. Returns 0, or -1 on an epoll error.
 *   event_loop_stop(loop): make event_loop_run return after this round.
 *
 * Removal safety: epoll reports a batch of ready descriptors; a callback
 * may remove (and close, and even reopen and re-register under the same
 * number) any of them. Each registration carries a generation number in
 * the epoll data, bumped when the descriptor leaves the epoll set, so
 * stale events from the batch are dropped; each interest bit is checked
 * again just before its callback runs.
 *
 * SECURITY: no input is parsed here. Callbacks act for peers; one slow
 * callback delays every other descriptor, so callbacks must not block.
 * LIMITS: EVENT_BATCH events per epoll_wait; the descriptor table grows
 * to the largest registered fd; timers are a binary heap (O(log n) add,
 * cancel and expiry).
 */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include "event.h"
#include "mem.h"
#include "msg.h"

#define EVENT_BATCH     64              /* events per epoll_wait */
#define EVENT_R         (1u << 0)       /* read interest */
#define EVENT_W         (1u << 1)       /* write interest */
#define EVENT_MAX_DELAY (INT64_C(1) << 40)      /* ~35 years in ms */

struct event_fd {
    event_fd_fn rfn;
    void   *rctx;
    event_fd_fn wfn;
    void   *wctx;
    unsigned mask;                      /* EVENT_R | EVENT_W registered */
    uint32_t gen;                       /* bumped when leaving epoll */
};

struct event_timer {
    int64_t when;                       /* due time, monotonic ms */
    uint64_t seq;                       /* tie-break: order of adding */
    event_timer_fn fn;
    void   *ctx;
    uint32_t gen;                       /* bumped when the slot is freed */
    int     active;                     /* pending in the heap */
    size_t  heap_pos;                   /* index in heap when active */
    size_t  next_free;                  /* free list link (index + 1) */
};

struct event_loop {
    int     epfd;
    struct event_fd *fds;               /* indexed by descriptor */
    size_t  nfds;
    size_t  nregistered;                /* descriptors with some interest */
    struct event_timer *timers;         /* slots, indexed by id's low bits */
    size_t  ntimers;                    /* slots in use or on the free list */
    size_t  timers_size;                /* slots allocated */
    size_t  free_head;                  /* free slot index + 1, 0 = none */
    size_t *heap;                       /* slot indices, min-heap */
    size_t  heap_len;
    size_t  heap_size;
    uint64_t seq;
    int     stop;
};

/* event_now_ms: monotonic clock in milliseconds. */
static int64_t event_now_ms(void)
{
    struct timespec ts;

    if (clock_gettime(CLOCK_MONOTONIC, &ts) < 0)
        msg_panic("event: clock_gettime(CLOCK_MONOTONIC): %m");
    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* event_loop_new: create an empty loop. */
event_loop *event_loop_new(void)
{
    event_loop *loop = mem_calloc(1, sizeof(*loop));

    loop->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (loop->epfd < 0)
        msg_fatal("event_loop_new: epoll_create1: %m");
    return loop;
}

/* event_loop_free: destroy a loop; returns NULL. */
event_loop *event_loop_free(event_loop *loop)
{
    if (loop) {
        (void) close(loop->epfd);
        mem_free(loop->fds);
        mem_free(loop->timers);
        mem_free(loop->heap);
        mem_free(loop);
    }
    return NULL;
}

/* event_fd_slot: the table entry for fd, growing the table. */
static struct event_fd *event_fd_slot(event_loop *loop, int fd)
{
    size_t  want = (size_t) fd + 1;
    size_t  n;

    if (fd < 0)
        msg_panic("event: bad descriptor %d", fd);
    if (want > loop->nfds) {
        n = loop->nfds ? loop->nfds : 16;
        while (n < want)
            n *= 2;
        loop->fds = mem_realloc(loop->fds, n * sizeof(*loop->fds));
        memset(loop->fds + loop->nfds, 0, (n - loop->nfds) * sizeof(*loop->fds));
        loop->nfds = n;
    }
    return &loop->fds[fd];
}

/* event_epoll_bits: epoll event bits for an interest mask. */
static uint32_t event_epoll_bits(unsigned mask)
{
    return ((mask & EVENT_R) ? (uint32_t) EPOLLIN : 0)
        | ((mask & EVENT_W) ? (uint32_t) EPOLLOUT : 0);
}

/* event_set_mask: bring the epoll registration of fd to mask. */
static int event_set_mask(event_loop *loop, int fd, unsigned mask)
{
    struct event_fd *e = event_fd_slot(loop, fd);
    struct epoll_event ev;
    int     op;

    if (e->mask == mask)
        return 0;
    memset(&ev, 0, sizeof(ev));
    ev.events = event_epoll_bits(mask);
    ev.data.u64 = ((uint64_t) e->gen << 32) | (uint32_t) fd;
    if (mask == 0) {
        /* The fd may already be closed; the state change stands anyway. */
        (void) epoll_ctl(loop->epfd, EPOLL_CTL_DEL, fd, &ev);
        e->gen++;
        e->mask = 0;
        loop->nregistered--;
        return 0;
    }
    op = (e->mask == 0) ? EPOLL_CTL_ADD : EPOLL_CTL_MOD;
    if (epoll_ctl(loop->epfd, op, fd, &ev) < 0) {
        /* Recover from a close (or dup) the loop was not told about. */
        if (op == EPOLL_CTL_MOD && errno == ENOENT)
            op = EPOLL_CTL_ADD;
        else if (op == EPOLL_CTL_ADD && errno == EEXIST)
            op = EPOLL_CTL_MOD;
        else
            return -1;
        if (epoll_ctl(loop->epfd, op, fd, &ev) < 0)
            return -1;
    }
    if (e->mask == 0)
        loop->nregistered++;
    e->mask = mask;
    return 0;
}

/* event_add_read: call fn when fd is readable. */
int event_add_read(event_loop *loop, int fd, event_fd_fn fn, void *ctx)
{
    struct event_fd *e;

    if (fn == NULL)
        msg_panic("event_add_read: no callback for fd %d", fd);
    e = event_fd_slot(loop, fd);
    if (event_set_mask(loop, fd, e->mask | EVENT_R) < 0)
        return -1;
    e = &loop->fds[fd];
    e->rfn = fn;
    e->rctx = ctx;
    return 0;
}

/* event_add_write: call fn when fd is writable. */
int event_add_write(event_loop *loop, int fd, event_fd_fn fn, void *ctx)
{
    struct event_fd *e;

    if (fn == NULL)
        msg_panic("event_add_write: no callback for fd %d", fd);
    e = event_fd_slot(loop, fd);
    if (event_set_mask(loop, fd, e->mask | EVENT_W) < 0)
        return -1;
    e = &loop->fds[fd];
    e->wfn = fn;
    e->wctx = ctx;
    return 0;
}

/* event_drop: remove the interests in bits from fd. */
static void event_drop(event_loop *loop, int fd, unsigned bits)
{
    struct event_fd *e;

    if (fd < 0 || (size_t) fd >= loop->nfds)
        return;
    e = &loop->fds[fd];
    if ((e->mask & bits) == 0)
        return;
    /* A failed MOD leaves the old interest in epoll: delete instead. */
    if (event_set_mask(loop, fd, e->mask & ~bits) < 0)
        (void) event_set_mask(loop, fd, 0);
    if (bits & EVENT_R) {
        e->rfn = NULL;
        e->rctx = NULL;
    }
    if (bits & EVENT_W) {
        e->wfn = NULL;
        e->wctx = NULL;
    }
}

/* event_remove_read: drop read interest in fd. */
void event_remove_read(event_loop *loop, int fd)
{
    event_drop(loop, fd, EVENT_R);
}

/* event_remove_write: drop write interest in fd. */
void event_remove_write(event_loop *loop, int fd)
{
    event_drop(loop, fd, EVENT_W);
}

/* event_remove: drop all interest in fd. */
void event_remove(event_loop *loop, int fd)
{
    event_drop(loop, fd, EVENT_R | EVENT_W);
}

/* event_timer_before: heap order of two slots (due time, then age). */
static int event_timer_before(const event_loop *loop, size_t a, size_t b)
{
    const struct event_timer *ta = &loop->timers[a];
    const struct event_timer *tb = &loop->timers[b];

    if (ta->when != tb->when)
        return ta->when < tb->when;
    return ta->seq < tb->seq;
}

/* event_heap_set: place slot at heap index pos. */
static void event_heap_set(event_loop *loop, size_t pos, size_t slot)
{
    loop->heap[pos] = slot;
    loop->timers[slot].heap_pos = pos;
}

/* event_heap_up: restore heap order upwards from pos. */
static void event_heap_up(event_loop *loop, size_t pos)
{
    size_t  slot = loop->heap[pos];
    size_t  parent;

    while (pos > 0) {
        parent = (pos - 1) / 2;
        if (!event_timer_before(loop, slot, loop->heap[parent]))
            break;
        event_heap_set(loop, pos, loop->heap[parent]);
        pos = parent;
    }
    event_heap_set(loop, pos, slot);
}

/* event_heap_down: restore heap order downwards from pos. */
static void event_heap_down(event_loop *loop, size_t pos)
{
    size_t  slot = loop->heap[pos];
    size_t  child;

    for (;;) {
        child = 2 * pos + 1;
        if (child >= loop->heap_len)
            break;
        if (child + 1 < loop->heap_len
            && event_timer_before(loop, loop->heap[child + 1], loop->heap[child]))
            child++;
        if (!event_timer_before(loop, loop->heap[child], slot))
            break;
        event_heap_set(loop, pos, loop->heap[child]);
        pos = child;
    }
    event_heap_set(loop, pos, slot);
}

/* event_heap_remove: take the entry at pos out of the heap. */
static void event_heap_remove(event_loop *loop, size_t pos)
{
    size_t  last = loop->heap[--loop->heap_len];

    if (pos == loop->heap_len)
        return;
    event_heap_set(loop, pos, last);
    event_heap_down(loop, pos);
    event_heap_up(loop, loop->timers[last].heap_pos);
}

/* event_timer_release: free a timer slot, invalidating its id. */
static void event_timer_release(event_loop *loop, size_t slot)
{
    struct event_timer *t = &loop->timers[slot];

    t->active = 0;
    t->fn = NULL;
    t->ctx = NULL;
    t->gen++;
    t->next_free = loop->free_head;
    loop->free_head = slot + 1;
}

/* event_timer_id_of: the public id of a slot. */
static event_timer_id event_timer_id_of(const event_loop *loop, size_t slot)
{
    return ((event_timer_id) loop->timers[slot].gen << 32)
        | (event_timer_id) (slot + 1);
}

/* event_timer_add: schedule fn once, ms milliseconds from now. */
event_timer_id event_timer_add(event_loop *loop, long milliseconds,
                               event_timer_fn fn, void *ctx)
{
    struct event_timer *t;
    size_t  slot;
    int64_t delay = milliseconds < 0 ? 0 : (int64_t) milliseconds;

    if (fn == NULL)
        msg_panic("event_timer_add: no callback");
    if (delay > EVENT_MAX_DELAY)
        delay = EVENT_MAX_DELAY;
    if (loop->free_head) {
        slot = loop->free_head - 1;
        loop->free_head = loop->timers[slot].next_free;
    } else {
        if (loop->ntimers >= UINT32_MAX)
            msg_panic("event_timer_add: too many timers");
        slot = loop->ntimers;
        if (loop->ntimers == loop->timers_size) {
            loop->timers_size = loop->timers_size ? 2 * loop->timers_size : 16;
            loop->timers = mem_realloc(loop->timers,
                                   loop->timers_size * sizeof(*loop->timers));
        }
        memset(&loop->timers[slot], 0, sizeof(*loop->timers));
        loop->timers[slot].gen = 1;
        loop->ntimers++;
    }
    if (loop->heap_len == loop->heap_size) {
        loop->heap_size = loop->heap_size ? 2 * loop->heap_size : 16;
        loop->heap = mem_realloc(loop->heap, loop->heap_size * sizeof(*loop->heap));
    }
    t = &loop->timers[slot];
    t->when = event_now_ms() + delay;
    t->seq = loop->seq++;
    t->fn = fn;
    t->ctx = ctx;
    t->active = 1;
    t->next_free = 0;
    loop->heap[loop->heap_len] = slot;
    t->heap_pos = loop->heap_len++;
    event_heap_up(loop, t->heap_pos);
    return event_timer_id_of(loop, slot);
}

/* event_timer_cancel: cancel a pending timer; 1 if it was pending. */
int event_timer_cancel(event_loop *loop, event_timer_id id)
{
    size_t  low = (size_t) (id & 0xffffffffu);
    uint32_t gen = (uint32_t) (id >> 32);
    struct event_timer *t;

    if (low == 0 || low > loop->ntimers)
        return 0;
    t = &loop->timers[low - 1];
    if (!t->active || t->gen != gen)
        return 0;
    event_heap_remove(loop, t->heap_pos);
    event_timer_release(loop, low - 1);
    return 1;
}

/* event_wait_ms: how long epoll_wait may sleep. */
static int event_wait_ms(const event_loop *loop, int max_wait_ms)
{
    int64_t due;

    if (loop->heap_len == 0)
        return max_wait_ms < 0 ? -1 : max_wait_ms;
    due = loop->timers[loop->heap[0]].when - event_now_ms();
    if (due < 0)
        due = 0;
    if (due > INT_MAX)
        due = INT_MAX;
    if (max_wait_ms >= 0 && max_wait_ms < due)
        return max_wait_ms;
    return (int) due;
}

/* event_dispatch_fd: run the callbacks for one ready event. */
static int event_dispatch_fd(event_loop *loop, const struct epoll_event *ev)
{
    int     fd = (int) (uint32_t) (ev->data.u64 & 0xffffffffu);
    uint32_t gen = (uint32_t) (ev->data.u64 >> 32);
    uint32_t bits = ev->events;
    struct event_fd *e;
    int     count = 0;

    /* Re-read the slot before each call: callbacks may change anything. */
    if ((size_t) fd >= loop->nfds)
        return 0;
    e = &loop->fds[fd];
    if (e->gen == gen && (e->mask & EVENT_R)
        && (bits & (EPOLLIN | EPOLLHUP | EPOLLERR))) {
        e->rfn(loop, fd, e->rctx);
        count++;
    }
    e = &loop->fds[fd];
    if (e->gen == gen && (e->mask & EVENT_W)
        && (bits & (EPOLLOUT | EPOLLHUP | EPOLLERR))) {
        e->wfn(loop, fd, e->wctx);
        count++;
    }
    return count;
}

/* event_dispatch_timers: run the timers that are due. */
static int event_dispatch_timers(event_loop *loop)
{
    uint64_t seq_limit = loop->seq;
    int64_t now = event_now_ms();
    struct event_timer *t;
    event_timer_fn fn;
    void   *ctx;
    event_timer_id id;
    size_t  slot;
    int     count = 0;

    while (loop->heap_len > 0) {
        slot = loop->heap[0];
        t = &loop->timers[slot];
        /* Timers added by this round's callbacks sort last; leave them. */
        if (t->when > now || t->seq >= seq_limit)
            break;
        fn = t->fn;
        ctx = t->ctx;
        id = event_timer_id_of(loop, slot);
        event_heap_remove(loop, 0);
        event_timer_release(loop, slot);
        fn(loop, id, ctx);
        count++;
    }
    return count;
}

/* event_loop_run_once: wait, then dispatch ready fds and due timers. */
int event_loop_run_once(event_loop *loop, int max_wait_ms)
{
    struct epoll_event events[EVENT_BATCH];
    int     n;
    int     i;
    int     count = 0;

    n = epoll_wait(loop->epfd, events, EVENT_BATCH, event_wait_ms(loop, max_wait_ms));
    if (n < 0) {
        if (errno != EINTR)
            return -1;
        n = 0;
    }
    for (i = 0; i < n; i++)
        count += event_dispatch_fd(loop, &events[i]);
    count += event_dispatch_timers(loop);
    return count;
}

/* event_loop_run: dispatch until stopped or idle. */
int event_loop_run(event_loop *loop)
{
    int     ret = 0;

    while (!loop->stop) {
        if (loop->nregistered == 0 && loop->heap_len == 0)
            break;
        if (event_loop_run_once(loop, -1) < 0) {
            ret = -1;
            break;
        }
    }
    loop->stop = 0;
    return ret;
}

/* event_loop_stop: make event_loop_run return. */
void event_loop_stop(event_loop *loop)
{
    loop->stop = 1;
}
