/*
 * event: an epoll event loop with one-shot timers.
 *
 * All state lives in an event_loop; a process may have several. Read and
 * write interest on a descriptor are registered and removed independently.
 * Callbacks may add and remove descriptors and timers freely, including
 * the descriptor being dispatched and others in the same ready batch: a
 * callback never runs after its registration was removed. Timers use the
 * monotonic clock and fire once, earliest first (ties in the order they
 * were added). See event.c for the full contracts.
 */
#ifndef POSTERN_EVENT_H
#define POSTERN_EVENT_H

typedef struct event_loop event_loop;

/* Timer handle; 0 is never a valid id. */
typedef unsigned long long event_timer_id;

typedef void (*event_fd_fn) (event_loop *loop, int fd, void *ctx);
typedef void (*event_timer_fn) (event_loop *loop, event_timer_id id, void *ctx);

event_loop *event_loop_new(void);
event_loop *event_loop_free(event_loop *loop);

int     event_add_read(event_loop *loop, int fd, event_fd_fn fn, void *ctx);
int     event_add_write(event_loop *loop, int fd, event_fd_fn fn, void *ctx);
void    event_remove_read(event_loop *loop, int fd);
void    event_remove_write(event_loop *loop, int fd);
void    event_remove(event_loop *loop, int fd);

event_timer_id event_timer_add(event_loop *loop, long milliseconds,
                               event_timer_fn fn, void *ctx);
int     event_timer_cancel(event_loop *loop, event_timer_id id);

int     event_loop_run_once(event_loop *loop, int max_wait_ms);
int     event_loop_run(event_loop *loop);
void    event_loop_stop(event_loop *loop);

#endif
