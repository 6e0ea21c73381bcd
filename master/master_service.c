/*
 * master_service: master's service table: build it from master.cf, apply
 * a reload, run wakeup timers and throttling.
 *
 * Functions (master.h):
 *   master_services_load(ms, err): read $config_directory/master.cf and
 *     create every service with its listeners, status pipe and lifeline.
 *     Returns 0, or -1 with err (master.cf syntax, a listener that cannot
 *     be opened, a bad setting); nothing is left open then.
 *   master_services_reload(ms, err): after main.cf was re-read: read
 *     master.cf again. Every service gets a new generation (a new
 *     lifeline; the old one is closed, so its processes finish their
 *     client and exit). A service whose listeners are described the same
 *     way keeps its open sockets, so no connection is refused across the
 *     reload; other listeners are closed and opened anew. Services no
 *     longer listed are retired. Returns 0, or -1 with err when master.cf
 *     cannot be read (the old table then stays as it was); a service that
 *     fails to start is logged and left out.
 *   master_service_update(ms, svc): put svc's listeners in the event loop
 *     exactly when a new process may be needed: no idle process, below
 *     maxproc, not throttled, not stopping.
 *   master_service_throttle(ms, svc): stop starting processes for svc for
 *     service_throttle_time.
 *   master_services_stop(ms): close every listener and lifeline and cancel
 *     timers (graceful stop).
 *   master_service_free(ms, svc): retire svc (its processes are
 *     orphaned: they exit on lifeline EOF); returns NULL.
 *   master_child_env_build(ms): the environment for service processes:
 *     MAIL_CONFIG plus import_environment ("NAME" copies master's value
 *     when set, "NAME=value" sets it).
 *
 * SECURITY: master.cf and main.cf are root's files; their values are
 * still checked (paths, numbers) before use. The wakeup trigger never
 * blocks master: it uses non-blocking sockets and gives up when the
 * service's backlog is full.
 * LIMITS: those of mastercf (entries, arguments); MASTER_LISTEN_MAX
 * listeners per service.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "event.h"
#include "master.h"
#include "mastercf.h"
#include "mem.h"
#include "msg.h"
#include "param.h"
#include "param_names.h"
#include "strbuf.h"
#include "strutil.h"

/* master_wakeup_send: write one wakeup trigger to svc; never blocks. */
static void master_wakeup_send(master_service *svc)
{
    char    ch = MASTER_TRIGGER_WAKEUP;
    int     fd = -1;

    if (svc->sock_path == NULL)
        return;
    if (svc->type == MASTERCF_TYPE_FIFO) {
        fd = open(svc->sock_path, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
        if (fd >= 0 && write(fd, &ch, 1) != 1 && msg_verbose)
            msg_info("wakeup %s: %m", svc->key);
    } else {
        struct sockaddr_un sun;
        int     type = svc->type == MASTERCF_TYPE_UNIX_DGRAM ? SOCK_DGRAM : SOCK_STREAM;

        memset(&sun, 0, sizeof(sun));
        sun.sun_family = AF_UNIX;
        if (str_copy(sun.sun_path, sizeof(sun.sun_path), svc->sock_path) < 0)
            return;
        fd = socket(AF_UNIX, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd >= 0 && (connect(fd, (struct sockaddr *) &sun, sizeof(sun)) < 0
                        || write(fd, &ch, 1) != 1)) {
            /* Backlog full (EAGAIN) means the service has work queued
             * anyway; anything else is worth a line in verbose mode. */
            if (msg_verbose)
                msg_info("wakeup %s: %m", svc->key);
        }
    }
    if (fd >= 0)
        (void) close(fd);
}

/* master_wakeup_event: a service's wakeup timer fired. */
static void master_wakeup_event(event_loop *loop, event_timer_id id, void *ctx)
{
    master_service *svc = ctx;

    (void) id;
    svc->wakeup_timer = event_timer_add(loop, svc->wakeup * 1000, master_wakeup_event, svc);
    if (svc->throttled || (svc->wakeup_cond && !svc->used))
        return;
    if (msg_verbose)
        msg_info("wakeup %s", svc->key);
    master_wakeup_send(svc);
}

/* master_unthrottle_event: the throttle time of a service is over. */
static void master_unthrottle_event(event_loop *loop, event_timer_id id, void *ctx)
{
    master_service *svc = ctx;

    (void) loop;
    (void) id;
    svc->throttle_timer = 0;
    svc->throttled = 0;
    if (msg_verbose)
        msg_info("%s: throttle ended", svc->key);
    master_service_update(svc->ms, svc);
}

/* master_service_throttle: pause process creation for svc. */
void master_service_throttle(master_state *ms, master_service *svc)
{
    svc->throttled = 1;
    if (svc->throttle_timer)
        (void) event_timer_cancel(ms->loop, svc->throttle_timer);
    svc->throttle_timer = event_timer_add(ms->loop, ms->throttle_time * 1000,
                                          master_unthrottle_event, svc);
    master_service_update(ms, svc);
}

/* master_service_update: listen exactly when a new process may be needed. */
void master_service_update(master_state *ms, master_service *svc)
{
    int     want = !ms->stopping && !svc->throttled && svc->nfds > 0 && svc->avail == 0
        && (svc->maxproc == 0 || svc->total < svc->maxproc);
    size_t  i;

    if (want && !svc->listening) {
        for (i = 0; i < svc->nfds; i++)
            if (event_add_read(ms->loop, svc->fds[i], master_listen_ready, svc) < 0)
                msg_fatal("event_add_read %s: %m", svc->key);
        svc->listening = 1;
    } else if (!want && svc->listening) {
        for (i = 0; i < svc->nfds; i++)
            event_remove_read(ms->loop, svc->fds[i]);
        svc->listening = 0;
    }
}

/* master_service_unlisten: take svc's listeners out of the loop. */
static void master_service_unlisten(master_state *ms, master_service *svc)
{
    size_t  i;

    if (svc->listening) {
        for (i = 0; i < svc->nfds; i++)
            event_remove_read(ms->loop, svc->fds[i]);
        svc->listening = 0;
    }
}

/* master_service_new_gen: a new lifeline; old processes will drain. */
static void master_service_new_gen(master_state *ms, master_service *svc)
{
    int     life[2];

    (void) ms;
    if (svc->life_wr >= 0)
        (void) close(svc->life_wr);
    if (svc->life_rd >= 0)
        (void) close(svc->life_rd);
    if (pipe2(life, O_CLOEXEC) < 0)
        msg_fatal("pipe: %m");
    svc->life_rd = life[0];
    svc->life_wr = life[1];
    svc->gen++;
    svc->total = 0;
    svc->avail = 0;
}

/* master_service_timers: (re)arm the wakeup timer, clear the throttle. */
static void master_service_timers(master_state *ms, master_service *svc)
{
    if (svc->wakeup_timer)
        (void) event_timer_cancel(ms->loop, svc->wakeup_timer);
    svc->wakeup_timer = 0;
    if (svc->throttle_timer)
        (void) event_timer_cancel(ms->loop, svc->throttle_timer);
    svc->throttle_timer = 0;
    svc->throttled = 0;
    /* The first wakeup of an unconditional service comes at once, so that
     * work queued while the system was down (maildrop/, incoming/) is
     * taken up at start-up rather than one wakeup period later. */
    if (svc->wakeup > 0)
        svc->wakeup_timer = event_timer_add(ms->loop, svc->wakeup_cond ? svc->wakeup * 1000 : 0,
                                            master_wakeup_event, svc);
}

/* master_service_settings: copy entry's process settings into svc. */
static int master_service_settings(master_state *ms, master_service *svc,
                                   const mastercf_entry *e, strbuf *err)
{
    const char *dir = param_str(PARAM_DAEMON_DIRECTORY);
    size_t  i;

    if (e->command[0] != '/' && dir[0] != '/') {
        (void) strbuf_setf(err, "daemon_directory \"%s\" is not an absolute path", dir);
        return -1;
    }
    if (strstr(e->command, "..") != NULL) {
        (void) strbuf_setf(err, "%s, line %d: bad command name \"%s\"", e->origin,
                           e->line, e->command);
        return -1;
    }
    mem_free(svc->path);
    svc->path = e->command[0] == '/' ? mem_strdup(e->command)
        : str_concat(dir, "/", e->command, (char *) NULL);
    if (svc->argv) {
        for (i = 0; i < svc->argc; i++)
            mem_free(svc->argv[i]);
        mem_free(svc->argv);
    }
    svc->argc = e->argc;
    svc->argv = mem_calloc(e->argc + 1, sizeof(char *));
    for (i = 0; i < e->argc; i++)
        svc->argv[i] = mem_strdup(e->argv[i]);
    svc->private_ = e->private_;
    svc->unpriv = e->unpriv && ms->is_root;
    svc->chroot = e->chroot && ms->is_root;
    svc->maxproc = e->maxproc < 0 ? param_int(PARAM_DEFAULT_PROCESS_LIMIT) : e->maxproc;
    svc->wakeup = e->wakeup_seconds;
    svc->wakeup_cond = e->wakeup_conditional;
    if (svc->wakeup > 0 && svc->type == MASTERCF_TYPE_INET) {
        msg_warn("%s, line %d: %s: wakeup is not supported for inet services; ignored",
                 e->origin, e->line, svc->key);
        svc->wakeup = 0;
    }
    return 0;
}

/* master_service_create: a new service for entry, listeners open. */
static master_service *master_service_create(master_state *ms, const mastercf_entry *e,
                                             char *sig, strbuf *err)
{
    master_service *svc = mem_calloc(1, sizeof(*svc));
    int     st[2];

    svc->ms = ms;
    svc->key = str_concat(e->service, "/", e->type, (char *) NULL);
    svc->name = mem_strdup(e->service);
    svc->type = e->type_code;
    svc->type_name = mem_strdup(e->type);
    svc->listen_sig = sig;
    svc->status_rd = svc->status_wr = svc->life_rd = svc->life_wr = -1;
    if (master_service_settings(ms, svc, e, err) < 0 || master_listen_open(svc, err) < 0) {
        (void) master_service_free(ms, svc);
        return NULL;
    }
    if (pipe2(st, O_CLOEXEC) < 0)
        msg_fatal("pipe: %m");
    svc->status_rd = st[0];
    svc->status_wr = st[1];
    (void) fcntl(svc->status_rd, F_SETFL, O_NONBLOCK);
    if (event_add_read(ms->loop, svc->status_rd, master_status_read, svc) < 0)
        msg_fatal("event_add_read status pipe: %m");
    master_service_new_gen(ms, svc);
    return svc;
}

/* master_service_free: retire svc; its processes are orphaned. */
master_service *master_service_free(master_state *ms, master_service *svc)
{
    master_child *c;
    size_t  i;

    master_service_unlisten(ms, svc);
    master_listen_close(svc);
    if (svc->status_rd >= 0) {
        event_remove(ms->loop, svc->status_rd);
        (void) close(svc->status_rd);
    }
    if (svc->status_wr >= 0)
        (void) close(svc->status_wr);
    if (svc->life_rd >= 0)
        (void) close(svc->life_rd);
    if (svc->life_wr >= 0)
        (void) close(svc->life_wr);
    if (svc->wakeup_timer)
        (void) event_timer_cancel(ms->loop, svc->wakeup_timer);
    if (svc->throttle_timer)
        (void) event_timer_cancel(ms->loop, svc->throttle_timer);
    for (c = ms->children; c; c = c->next)
        if (c->svc == svc)
            c->svc = NULL;
    if (svc->argv) {
        for (i = 0; i < svc->argc; i++)
            mem_free(svc->argv[i]);
        mem_free(svc->argv);
    }
    mem_free(svc->key);
    mem_free(svc->name);
    mem_free(svc->type_name);
    mem_free(svc->path);
    mem_free(svc->listen_sig);
    mem_free(svc->sock_path);
    mem_free(svc);
    return NULL;
}

/* master_cf_path: $config_dir/master.cf (new string). */
static char *master_cf_path(const master_state *ms)
{
    return str_concat(ms->config_dir, "/", PARAM_MASTER_CF, (char *) NULL);
}

/* master_services_load: create every service of master.cf. */
int master_services_load(master_state *ms, strbuf *err)
{
    char   *path = master_cf_path(ms);
    mastercf *cf = mastercf_load(path, err);
    master_service **tail = &ms->services;
    size_t  i;

    mem_free(path);
    if (cf == NULL)
        return -1;
    for (i = 0; i < mastercf_count(cf); i++) {
        const mastercf_entry *e = mastercf_get(cf, i);
        char   *sig;
        master_service *svc;

        if ((sig = master_listen_signature(e, err)) == NULL
            || (svc = master_service_create(ms, e, sig, err)) == NULL) {
            if (sig == NULL || strstr(strbuf_str(err), e->origin) == NULL) {
                strbuf *where = strbuf_new(64);

                (void) strbuf_printf(where, "%s, line %d: %s/%s: %s", e->origin, e->line,
                                     e->service, e->type, strbuf_str(err));
                (void) strbuf_set(err, where->data, where->len);
                strbuf_free(where);
            }
            mastercf_free(cf);
            while (ms->services) {
                master_service *next = ms->services->next;

                (void) master_service_free(ms, ms->services);
                ms->services = next;
            }
            return -1;
        }
        *tail = svc;
        tail = &svc->next;
    }
    mastercf_free(cf);
    for (master_service *svc = ms->services; svc; svc = svc->next) {
        master_service_timers(ms, svc);
        master_service_update(ms, svc);
    }
    return 0;
}

/* master_services_reload: apply a new master.cf to the running table. */
int master_services_reload(master_state *ms, strbuf *err)
{
    char   *path = master_cf_path(ms);
    mastercf *cf = mastercf_load(path, err);
    master_service **matched;
    master_service *svc;
    master_service *newlist = NULL;
    master_service **tail = &newlist;
    size_t  i;
    size_t  n;

    mem_free(path);
    if (cf == NULL)
        return -1;
    n = mastercf_count(cf);
    matched = mem_calloc(n + 1, sizeof(*matched));

    /* Pass 1: pair entries with running services by name/type. */
    for (i = 0; i < n; i++) {
        const mastercf_entry *e = mastercf_get(cf, i);
        master_service **pp;

        for (pp = &ms->services; *pp; pp = &(*pp)->next) {
            if (strcmp((*pp)->name, e->service) == 0 && strcmp((*pp)->type_name, e->type) == 0) {
                matched[i] = *pp;
                *pp = (*pp)->next;
                matched[i]->next = NULL;
                break;
            }
        }
    }
    /* Pass 2: retire what is no longer listed, so its addresses are free. */
    while (ms->services) {
        svc = ms->services->next;
        msg_info("reload: service %s removed", ms->services->key);
        (void) master_service_free(ms, ms->services);
        ms->services = svc;
    }
    /* Pass 3: update the kept services, create the new ones. */
    for (i = 0; i < n; i++) {
        const mastercf_entry *e = mastercf_get(cf, i);
        char   *sig = master_listen_signature(e, err);

        svc = matched[i];
        if (sig == NULL) {
            msg_warn("%s, line %d: %s/%s: %s; service not started", e->origin, e->line,
                     e->service, e->type, strbuf_str(err));
            if (svc)
                (void) master_service_free(ms, svc);
            continue;
        }
        if (svc == NULL) {
            if ((svc = master_service_create(ms, e, sig, err)) == NULL) {
                msg_warn("%s, line %d: %s/%s: %s; service not started", e->origin,
                         e->line, e->service, e->type, strbuf_str(err));
                continue;
            }
            msg_info("reload: service %s added", svc->key);
        } else {
            if (master_service_settings(ms, svc, e, err) < 0) {
                msg_warn("%s, line %d: %s: %s; service stopped", e->origin, e->line,
                         svc->key, strbuf_str(err));
                mem_free(sig);
                (void) master_service_free(ms, svc);
                continue;
            }
            if (strcmp(sig, svc->listen_sig) != 0) {
                master_service_unlisten(ms, svc);
                master_listen_close(svc);
                mem_free(svc->listen_sig);
                svc->listen_sig = sig;
                if (master_listen_open(svc, err) < 0) {
                    msg_warn("%s, line %d: %s: %s; service stopped", e->origin, e->line,
                             svc->key, strbuf_str(err));
                    (void) master_service_free(ms, svc);
                    continue;
                }
            } else {
                mem_free(sig);
            }
            master_service_new_gen(ms, svc);
        }
        *tail = svc;
        tail = &svc->next;
    }
    ms->services = newlist;
    mem_free(matched);
    mastercf_free(cf);
    for (svc = ms->services; svc; svc = svc->next) {
        master_service_timers(ms, svc);
        master_service_update(ms, svc);
    }
    return 0;
}

/* master_services_stop: close listeners and lifelines, cancel timers. */
void master_services_stop(master_state *ms)
{
    master_service *svc;

    for (svc = ms->services; svc; svc = svc->next) {
        master_service_unlisten(ms, svc);
        master_listen_close(svc);
        if (svc->life_wr >= 0) {
            (void) close(svc->life_wr);
            svc->life_wr = -1;
        }
        if (svc->wakeup_timer)
            (void) event_timer_cancel(ms->loop, svc->wakeup_timer);
        if (svc->throttle_timer)
            (void) event_timer_cancel(ms->loop, svc->throttle_timer);
        svc->wakeup_timer = svc->throttle_timer = 0;
    }
}

/* master_child_env_build: the environment for service processes. */
void master_child_env_build(master_state *ms)
{
    const char *const *items;
    size_t  count;
    size_t  i;
    size_t  n = 0;

    if (ms->child_env) {
        for (i = 0; ms->child_env[i]; i++)
            mem_free(ms->child_env[i]);
        mem_free(ms->child_env);
    }
    items = param_list(PARAM_IMPORT_ENVIRONMENT, &count);
    ms->child_env = mem_calloc(count + 2, sizeof(char *));
    ms->child_env[n++] = str_concat(PARAM_CONFIG_ENV, "=", ms->config_dir, (char *) NULL);
    for (i = 0; i < count; i++) {
        const char *eq = strchr(items[i], '=');
        const char *val;

        if (str_has_prefix(items[i], PARAM_CONFIG_ENV "=")
            || strcmp(items[i], PARAM_CONFIG_ENV) == 0)
            continue;                   /* always ours */
        if (eq == items[i])
            continue;
        if (eq) {
            ms->child_env[n++] = mem_strdup(items[i]);
        } else if ((val = getenv(items[i])) != NULL) {
            ms->child_env[n++] = str_concat(items[i], "=", val, (char *) NULL);
        }
    }
    ms->child_env[n] = NULL;
}
