/*
 * qmgr_sched: transports, destination queues and the delivery scheduler.
 *
 * qmgr_sched_init(): read master.cf once (process limits per service).
 * qmgr_sched_enqueue(r, transport, nexthop): put a resolved recipient on
 *   the queue of its destination: (transport, nexthop), or (transport,
 *   recipient) when the transport's recipient limit is 1 (as Postfix:
 *   each local recipient is its own destination). Recipients of one
 *   message for one destination stay together (FIFO by message). A
 *   destination that is dead gets the recipient deferred at once
 *   ("delivery temporarily suspended: REASON") unless its suspension
 *   has expired (minimal_backoff_time), which revives it.
 * qmgr_sched_run(): start as many delivery requests as the limits allow:
 *   transports round-robin, destinations round-robin within a
 *   transport, messages FIFO within a destination. A request carries up
 *   to TRANSPORT_destination_recipient_limit recipients of one message.
 *   Limits: per transport, the master.cf maxproc of its service
 *   (default_process_limit for "-"; 0 = none); per destination, the
 *   concurrency window.
 * qmgr_sched_flush(): revive every dead destination ('F' trigger).
 *
 * Concurrency window (per destination): starts at
 * initial_destination_concurrency (at most the limit), grows by
 * TRANSPORT_destination_concurrency_positive_feedback after a request
 * that ends without a site failure, shrinks by the negative feedback
 * (never below 1) after one that ends with status=4 (deliver_request:
 * the destination failed as a whole). Each site failure adds 1/window to
 * the failed pseudo-cohort count (a success resets it); when it reaches
 * TRANSPORT_destination_concurrency_failed_cohort_limit the destination
 * is dead: every recipient waiting for it is deferred with the agent's
 * reason and no request goes there for minimal_backoff_time or until an
 * 'F' trigger. Feedback values are "N" or "N/concurrency" (N divided by
 * the window). TRANSPORT_destination_rate_delay > 0 makes the window 1
 * and spaces requests by that delay. TRANSPORT_xxx parameters fall back
 * to default_xxx (qmgr_sched_param).
 *
 * A request that breaks (no agent, crash, timeout; DELIVER_CLIENT_BROKEN)
 * is no evidence about the destination: no feedback. Its recipients were
 * deferred by deliver_client.
 *
 * SECURITY: transport names come from configuration and tables via
 * resolve (checked there and again by deliver_client before they become
 * socket paths); nexthops are opaque strings for the agent.
 * LIMITS: recipients per request at most DELIVER_RCPT_MAX; destinations
 * exist only while they hold recipients, requests, or a suspension.
 */
#include <stddef.h>
#include <string.h>
#include <time.h>

#include "deliver_client.h"
#include "deliver_request.h"
#include "event.h"
#include "htable.h"
#include "mastercf.h"
#include "master_proto.h"
#include "mem.h"
#include "msg.h"
#include "numparse.h"
#include "param.h"
#include "param_names.h"
#include "qmgr.h"
#include "strbuf.h"
#include "strutil.h"

typedef struct qmgr_transport qmgr_transport;

/* Recipients of one message for one destination, FIFO. */
typedef struct qmgr_entry {
    qmgr_msg *msg;
    qmgr_rcpt **rcpts;
    size_t  nrcpts;
    size_t  size;
    struct qmgr_entry *next;
} qmgr_entry;

/* One destination of one transport. */
struct qmgr_queue {
    char   *key;                        /* htable key within the transport */
    char   *nexthop;
    qmgr_transport *tr;
    double  window;
    double  fail_cohorts;
    int     busy;                       /* requests in flight */
    int     dead;
    long    dead_until;                 /* seconds */
    char   *dead_reason;
    long long hold_until_ms;            /* rate delay */
    qmgr_entry *head;
    qmgr_entry *tail;
    size_t  npending;
    int     in_ring;
    struct qmgr_queue *prev, *next;     /* transport's ring of queues */
};

/* One transport (master.cf service). */
struct qmgr_transport {
    char   *name;
    long    maxproc;                    /* 0 = no limit */
    int     busy;
    long    rcpt_limit;
    long    dest_limit;
    long    initial;
    long    cohort_limit;
    long    rate_delay_ms;
    char   *pos_fb;
    char   *neg_fb;
    htable *queues;
    qmgr_queue *ring;                   /* queues with pending recipients */
    struct qmgr_transport *next;        /* round-robin over transports */
};

/* One request in flight. */
typedef struct qmgr_job {
    qmgr_queue *q;
    qmgr_msg *msg;
    qmgr_rcpt **rcpts;
    size_t  nrcpts;
} qmgr_job;

/* Scheduler state. */
typedef struct qmgr_sched {
    htable *transports;
    qmgr_transport *first;              /* round-robin list */
    mastercf *mcf;
    int     running;                    /* qmgr_sched_run re-entry guard */
    int     again;
} qmgr_sched;

static qmgr_sched qmgr_s;

/* qmgr_now_ms: monotonic milliseconds. */
static long long qmgr_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* qmgr_sched_param: "<transport><suffix>", else the default parameter. */
static long qmgr_sched_param(const char *transport, const char *suffix,
                             const char *fallback, long min)
{
    strbuf *name = strbuf_new(64);
    strbuf *val = strbuf_new(32);
    strbuf *err = strbuf_new(32);
    const char *raw;
    long    value;

    strbuf_printf(name, "%s%s", transport, suffix);
    value = param_int(fallback);
    if ((raw = param_lookup(name->data)) != NULL) {
        if (param_expand(raw, val, err) < 0
            || num_parse_long(val->data, min, 0x7fffffffL, &value) < 0) {
            msg_warn("%s = %s: not a number >= %ld; using %s", name->data, raw,
                     min, fallback);
            value = param_int(fallback);
        }
    }
    strbuf_free(name);
    strbuf_free(val);
    strbuf_free(err);
    return value;
}

/* qmgr_sched_param_str: the same for text values (feedback). */
static char *qmgr_sched_param_str(const char *transport, const char *suffix,
                                  const char *fallback)
{
    strbuf *name = strbuf_new(64);
    strbuf *val = strbuf_new(32);
    strbuf *err = strbuf_new(32);
    const char *raw;
    char   *out;

    strbuf_printf(name, "%s%s", transport, suffix);
    if ((raw = param_lookup(name->data)) != NULL && param_expand(raw, val, err) == 0)
        out = mem_strdup(val->data);
    else
        out = mem_strdup(param_str(fallback));
    strbuf_free(name);
    strbuf_free(val);
    strbuf_free(err);
    return out;
}

/* qmgr_feedback: a feedback value for the current window. */
static double qmgr_feedback(const char *text, double window)
{
    const char *slash = strchr(text, '/');
    long    n;
    strbuf *num = strbuf_new(16);
    double  v = 1;

    if (slash)
        strbuf_append(num, text, (size_t) (slash - text));
    else
        strbuf_puts(num, text);
    str_trim(num->data);
    if (num_parse_long(num->data, 0, 1000, &n) == 0)
        v = (double) n;
    if (slash && window > 0)
        v /= window;
    strbuf_free(num);
    return v;
}

/* qmgr_sched_init: read master.cf once. */
void    qmgr_sched_init(void)
{
    strbuf *err = strbuf_new(64);
    char   *path = str_concat(param_str(PARAM_CONFIG_DIRECTORY), "/",
                              PARAM_MASTER_CF, (char *) NULL);

    qmgr_s.transports = htable_new(16);
    if ((qmgr_s.mcf = mastercf_load(path, err)) == NULL)
        msg_warn("cannot read %s: %s; process limits are "
                 "default_process_limit", path, err->data);
    mem_free(path);
    strbuf_free(err);
}

/* qmgr_transport_get: find or create a transport. */
static qmgr_transport *qmgr_transport_get(const char *name)
{
    qmgr_transport *t = htable_find(qmgr_s.transports, name);
    const mastercf_entry *e = NULL;
    qmgr_transport **pp;

    if (t != NULL)
        return t;
    t = mem_calloc(1, sizeof(*t));
    t->name = mem_strdup(name);
    t->queues = htable_new(16);
    if (qmgr_s.mcf)
        e = mastercf_find(qmgr_s.mcf, name, "unix");
    t->maxproc = e ? e->maxproc : -1;
    if (t->maxproc < 0)
        t->maxproc = qmgr_conf.default_process_limit;
    t->rcpt_limit = qmgr_sched_param(name, "_destination_recipient_limit",
                                     PARAM_DEFAULT_DESTINATION_RECIPIENT_LIMIT, 1);
    if (t->rcpt_limit > DELIVER_RCPT_MAX)
        t->rcpt_limit = DELIVER_RCPT_MAX;
    t->dest_limit = qmgr_sched_param(name, "_destination_concurrency_limit",
                                     PARAM_DEFAULT_DESTINATION_CONCURRENCY_LIMIT, 1);
    t->initial = qmgr_sched_param(name, "_initial_destination_concurrency",
                                  PARAM_INITIAL_DESTINATION_CONCURRENCY, 1);
    if (t->initial > t->dest_limit)
        t->initial = t->dest_limit;
    t->cohort_limit = qmgr_sched_param(name,
                                       "_destination_concurrency_failed_cohort_limit",
                                       PARAM_DEFAULT_DESTINATION_CONCURRENCY_FAILED_COHORT_LIMIT, 0);
    t->pos_fb = qmgr_sched_param_str(name, "_destination_concurrency_positive_feedback",
                                     PARAM_DEFAULT_DESTINATION_CONCURRENCY_POSITIVE_FEEDBACK);
    t->neg_fb = qmgr_sched_param_str(name, "_destination_concurrency_negative_feedback",
                                     PARAM_DEFAULT_DESTINATION_CONCURRENCY_NEGATIVE_FEEDBACK);
    {
        strbuf *pname = strbuf_new(64);
        const char *raw;
        long    sec = param_time(PARAM_DEFAULT_DESTINATION_RATE_DELAY);

        strbuf_printf(pname, "%s_destination_rate_delay", name);
        if ((raw = param_lookup(pname->data)) != NULL
            && param_parse_time(raw, 's', &sec) < 0) {
            msg_warn("%s = %s: bad time; using %s", pname->data, raw,
                     PARAM_DEFAULT_DESTINATION_RATE_DELAY);
            sec = param_time(PARAM_DEFAULT_DESTINATION_RATE_DELAY);
        }
        t->rate_delay_ms = sec * 1000;
        strbuf_free(pname);
    }
    htable_put(qmgr_s.transports, t->name, t);
    for (pp = &qmgr_s.first; *pp; pp = &(*pp)->next)
         /* append */ ;
    *pp = t;
    return t;
}

/* qmgr_ring_add: put a queue at the tail of its transport's ring. */
static void qmgr_ring_add(qmgr_queue *q)
{
    qmgr_transport *t = q->tr;

    if (q->in_ring)
        return;
    q->in_ring = 1;
    if (t->ring == NULL) {
        q->next = q->prev = q;
        t->ring = q;
    } else {
        q->next = t->ring;
        q->prev = t->ring->prev;
        t->ring->prev->next = q;
        t->ring->prev = q;
    }
}

/* qmgr_ring_remove: take a queue out of the ring. */
static void qmgr_ring_remove(qmgr_queue *q)
{
    qmgr_transport *t = q->tr;

    if (!q->in_ring)
        return;
    q->in_ring = 0;
    if (q->next == q) {
        t->ring = NULL;
    } else {
        q->prev->next = q->next;
        q->next->prev = q->prev;
        if (t->ring == q)
            t->ring = q->next;
    }
    q->next = q->prev = NULL;
}

/* qmgr_queue_maybe_free: forget an idle destination. */
static void qmgr_queue_maybe_free(qmgr_queue *q)
{
    if (q->head != NULL || q->busy > 0 || q->dead)
        return;
    qmgr_ring_remove(q);
    (void) htable_remove(q->tr->queues, q->key, NULL);
    mem_free(q->key);
    mem_free(q->nexthop);
    mem_free(q->dead_reason);
    mem_free(q);
}

/* qmgr_queue_revive: end a suspension. */
static void qmgr_queue_revive(qmgr_queue *q)
{
    q->dead = 0;
    q->dead_until = 0;
    q->fail_cohorts = 0;
    q->window = (double) q->tr->initial;
    q->dead_reason = mem_free(q->dead_reason);
}

/* qmgr_suspended_text: the deferral reason for a dead destination. */
static void qmgr_defer_suspended(qmgr_rcpt *r, const qmgr_queue *q)
{
    strbuf *text = strbuf_new(128);
    char    dsn[16] = "4.4.1";
    const char *why = q->dead_reason ? q->dead_reason : "destination failed";

    /* Reuse the agent's status code when its reason starts with one. */
    if (why[0] == '4' && why[1] == '.' && strlen(why) >= 5) {
        size_t  n = strcspn(why, " ");

        if (n < sizeof(dsn)) {
            memcpy(dsn, why, n);
            dsn[n] = 0;
            why += n;
            while (*why == ' ')
                why++;
        }
    }
    strbuf_printf(text, "delivery temporarily suspended: %s", why);
    qmgr_msg_defer_now(r, dsn, text->data);
    strbuf_free(text);
}

/* qmgr_queue_kill: a destination is dead: defer what waits for it. */
static void qmgr_queue_kill(qmgr_queue *q, const char *reason)
{
    qmgr_entry *e;

    q->dead = 1;
    q->dead_until = (long) time(NULL) + qmgr_conf.min_backoff;
    mem_free(q->dead_reason);
    q->dead_reason = mem_strdup(reason && *reason ? reason : "destination failed");
    msg_info("%s:%s: destination suspended for %lds: %s", q->tr->name,
             q->nexthop, qmgr_conf.min_backoff, q->dead_reason);
    qmgr_ring_remove(q);
    while ((e = q->head) != NULL) {
        size_t  i;

        q->head = e->next;
        for (i = 0; i < e->nrcpts; i++) {
            qmgr_defer_suspended(e->rcpts[i], q);
            qmgr_rcpt_done(e->rcpts[i]);
        }
        mem_free(e->rcpts);
        mem_free(e);
    }
    q->tail = NULL;
    q->npending = 0;
}

/* qmgr_sched_enqueue: add a resolved recipient. */
void    qmgr_sched_enqueue(qmgr_rcpt *r, const char *transport,
                           const char *nexthop)
{
    qmgr_transport *t = qmgr_transport_get(transport);
    strbuf *key = strbuf_new(64);
    qmgr_queue *q;
    qmgr_entry *e;

    if (t->rcpt_limit == 1) {
        strbuf_puts(key, r->address);
        str_lower(key->data);
    } else {
        strbuf_puts(key, nexthop);
    }
    if ((q = htable_find(t->queues, key->data)) == NULL) {
        q = mem_calloc(1, sizeof(*q));
        q->key = mem_strdup(key->data);
        q->nexthop = mem_strdup(nexthop);
        q->tr = t;
        q->window = (double) t->initial;
        htable_put(t->queues, q->key, q);
    }
    strbuf_free(key);
    if (q->dead) {
        if ((long) time(NULL) < q->dead_until) {
            qmgr_defer_suspended(r, q);
            qmgr_rcpt_done(r);
            qmgr_queue_maybe_free(q);
            return;
        }
        qmgr_queue_revive(q);
    }
    e = q->tail;
    if (e == NULL || e->msg != r->msg) {
        e = mem_calloc(1, sizeof(*e));
        e->msg = r->msg;
        if (q->tail)
            q->tail->next = e;
        else
            q->head = e;
        q->tail = e;
    }
    if (e->nrcpts == e->size) {
        e->size = e->size ? 2 * e->size : 4;
        e->rcpts = mem_realloc(e->rcpts, e->size * sizeof(*e->rcpts));
    }
    e->rcpts[e->nrcpts++] = r;
    q->npending++;
    qmgr_ring_add(q);
    qmgr_pump_soon();
}

/* qmgr_job_result: deliver_result_fn: one recipient's result. */
static void qmgr_job_result(void *ctx, long offset, int status,
                            const char *dsn, const char *relay,
                            const char *reason)
{
    qmgr_job *job = ctx;
    size_t  i;

    for (i = 0; i < job->nrcpts; i++) {
        if (job->rcpts[i]->offset == offset && !job->rcpts[i]->reported) {
            qmgr_msg_record(job->rcpts[i], status, dsn, relay, reason);
            return;
        }
    }
    msg_warn("result for unknown recipient offset %ld", offset);
}

/* qmgr_job_done: deliver_client_done_fn: feedback and clean-up. */
static void qmgr_job_done(void *ctx, int site_status, const char *reason)
{
    qmgr_job *job = ctx;
    qmgr_queue *q = job->q;
    qmgr_transport *t = q->tr;
    size_t  i;

    q->busy--;
    t->busy--;
    if (site_status == DELIVER_STAT_OK) {
        q->fail_cohorts = 0;
        q->window += qmgr_feedback(t->pos_fb, q->window);
        if (q->window > (double) t->dest_limit)
            q->window = (double) t->dest_limit;
    } else if (site_status == DELIVER_STAT_DEFER && !q->dead) {
        q->fail_cohorts += 1.0 / (q->window > 1 ? q->window : 1);
        q->window -= qmgr_feedback(t->neg_fb, q->window);
        if (q->window < 1)
            q->window = 1;
        if (t->cohort_limit > 0 && q->fail_cohorts >= (double) t->cohort_limit)
            qmgr_queue_kill(q, reason);
    }
    for (i = 0; i < job->nrcpts; i++)
        qmgr_rcpt_done(job->rcpts[i]);
    qmgr_msg_unref(job->msg);
    mem_free(job->rcpts);
    mem_free(job);
    qmgr_queue_maybe_free(q);
    qmgr_pump_soon();
}

/* qmgr_queue_ready: may this destination get a request now? */
static int qmgr_queue_ready(const qmgr_queue *q, long long now_ms)
{
    long    window = (long) q->window;

    if (q->head == NULL || q->dead)
        return 0;
    if (q->tr->rate_delay_ms > 0) {
        window = 1;
        if (now_ms < q->hold_until_ms)
            return 0;
    }
    if (window < 1)
        window = 1;
    return q->busy < window;
}

/* qmgr_rate_wake: a rate-delay pause is over. */
static void qmgr_rate_wake(event_loop *loop, event_timer_id id, void *ctx)
{
    (void) loop;
    (void) id;
    (void) ctx;
    qmgr_pump_soon();
}

/* qmgr_send: one request from the head of q. */
static void qmgr_send(qmgr_queue *q)
{
    qmgr_transport *t = q->tr;
    qmgr_entry *e = q->head;
    qmgr_job *job = mem_calloc(1, sizeof(*job));
    deliver_rcpt_out *out;
    deliver_req_out req;
    size_t  n = e->nrcpts, i;

    if ((long) n > t->rcpt_limit)
        n = (size_t) t->rcpt_limit;
    job->q = q;
    job->msg = e->msg;
    job->rcpts = mem_calloc(n, sizeof(*job->rcpts));
    job->nrcpts = n;
    memcpy(job->rcpts, e->rcpts, n * sizeof(*job->rcpts));
    memmove(e->rcpts, e->rcpts + n, (e->nrcpts - n) * sizeof(*e->rcpts));
    e->nrcpts -= n;
    q->npending -= n;
    if (e->nrcpts == 0) {
        q->head = e->next;
        if (q->head == NULL)
            q->tail = NULL;
        mem_free(e->rcpts);
        mem_free(e);
    }
    qmgr_msg_ref(job->msg);
    out = mem_calloc(n, sizeof(*out));
    for (i = 0; i < n; i++) {
        out[i].address = job->rcpts[i]->address;
        out[i].orig = job->rcpts[i]->orig;
        out[i].orcpt = job->rcpts[i]->orcpt;
        out[i].notify = job->rcpts[i]->notify;
        out[i].offset = job->rcpts[i]->offset;
    }
    memset(&req, 0, sizeof(req));
    req.queue_name = MASTER_DIR_ACTIVE;
    qmgr_msg_req_fields(job->msg, &req.queue_id, &req.offset, &req.size,
                        &req.sender, &req.envid, &req.ret, &req.arrival_time);
    req.nexthop = q->nexthop;
    req.rcpts = out;
    req.nrcpts = n;
    q->busy++;
    t->busy++;
    if (t->rate_delay_ms > 0) {
        q->hold_until_ms = qmgr_now_ms() + t->rate_delay_ms;
        (void) event_timer_add(qmgr_loop(), t->rate_delay_ms, qmgr_rate_wake,
                               NULL);
    }
    (void) deliver_client_send(qmgr_loop(), t->name, &req,
                               qmgr_conf.ipc_timeout_ms, qmgr_job_result,
                               qmgr_job_done, job);
    mem_free(out);
}

/* qmgr_transport_pick: the next ready destination of t, or NULL. */
static qmgr_queue *qmgr_transport_pick(qmgr_transport *t, long long now_ms)
{
    qmgr_queue *q, *first;

    /* Queues that ran empty leave the ring when they come round. */
    while (t->ring != NULL && t->ring->head == NULL)
        qmgr_ring_remove(t->ring);
    if ((first = t->ring) == NULL)
        return NULL;
    q = first;
    do {
        if (qmgr_queue_ready(q, now_ms))
            return q;
        q = q->next;
    } while (q != first);
    return NULL;
}

/* qmgr_sched_run: start every request the limits allow. */
void    qmgr_sched_run(void)
{
    long long now_ms = qmgr_now_ms();
    int     progress = 1;

    if (qmgr_s.running)
        return;
    qmgr_s.running = 1;
    while (progress) {
        qmgr_transport *t;

        progress = 0;
        for (t = qmgr_s.first; t != NULL; t = t->next) {
            qmgr_queue *q;

            if (t->maxproc > 0 && t->busy >= t->maxproc)
                continue;
            if ((q = qmgr_transport_pick(t, now_ms)) == NULL)
                continue;
            /* Next time this transport starts after q. */
            t->ring = q->next;
            qmgr_send(q);
            if (q->head == NULL)
                qmgr_ring_remove(q);
            progress = 1;
        }
    }
    qmgr_s.running = 0;
}

/* qmgr_sched_flush: revive every suspended destination. */
void    qmgr_sched_flush(void)
{
    qmgr_transport *t;

    for (t = qmgr_s.first; t != NULL; t = t->next) {
        size_t  n, i;
        const char **keys = htable_keys(t->queues, &n);
        qmgr_queue **qs = mem_calloc(n + 1, sizeof(*qs));

        /* The key array is only good until the table changes. */
        for (i = 0; i < n; i++)
            qs[i] = htable_find(t->queues, keys[i]);
        for (i = 0; i < n; i++) {
            if (qs[i] && qs[i]->dead) {
                qmgr_queue_revive(qs[i]);
                qmgr_queue_maybe_free(qs[i]);
            }
        }
        mem_free(qs);
        mem_free((void *) keys);
    }
    qmgr_pump_soon();
}
