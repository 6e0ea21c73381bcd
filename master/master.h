/*
 * master: private interfaces between master.c and master_*.c.
 *
 *   master.c         main: options, start-up checks, lock and pid file,
 *                    readiness pipe, signals, the event loop, stopping
 *   master_service.c the service table: building it from master.cf,
 *                    reload, wakeup timers, throttling
 *   master_listen.c  opening and closing listeners (inet, unix, fifo,
 *                    unix-dgram)
 *   master_spawn.c   starting service processes, their status pipe,
 *                    reaping them
 */
#ifndef POSTERN_MASTER_H
#define POSTERN_MASTER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "event.h"
#include "mastercf.h"
#include "master_proto.h"
#include "strbuf.h"

struct master_service;

/* One service process. */
typedef struct master_child {
    pid_t   pid;
    struct master_service *svc;         /* NULL once the service is retired */
    unsigned gen;                       /* service generation it belongs to */
    int     avail;                      /* counted as idle by its service */
    int     used;                       /* took at least one client */
    struct master_child *next;
} master_child;

/* One master.cf service. */
typedef struct master_service {
    char   *key;                        /* "name/type" */
    char   *name;                       /* column 1 */
    enum mastercf_type type;
    char   *type_name;
    int     private_;
    int     unpriv;                     /* pass -u */
    int     chroot;                     /* pass -z */
    long    wakeup;                     /* seconds, 0 = none */
    int     wakeup_cond;                /* only after first use */
    long    maxproc;                    /* 0 = no limit */
    char   *path;                       /* $daemon_directory/command */
    char  **argv;                       /* master.cf command words */
    size_t  argc;
    char   *listen_sig;                 /* what the listeners are */
    char   *sock_path;                  /* unix/fifo path (relative), or NULL */
    int     fds[MASTER_LISTEN_MAX];     /* listeners */
    size_t  nfds;
    int     listening;                  /* listeners are in the event loop */
    int     status_rd;                  /* status pipe, master's end */
    int     status_wr;                  /* status pipe, children's end */
    int     life_rd;                    /* lifeline, children's end */
    int     life_wr;                    /* lifeline, master's end */
    unsigned gen;
    int     total;                      /* children of the current gen */
    int     avail;                      /* ... of which idle */
    int     used;                       /* some child took a client */
    int     throttled;
    event_timer_id throttle_timer;
    event_timer_id wakeup_timer;
    struct master_state *ms;             /* back pointer for callbacks */
    struct master_service *next;
} master_service;

/* Whole-process state (one instance, in master.c). */
typedef struct master_state {
    event_loop *loop;
    master_service *services;
    master_child *children;
    char   *config_dir;                 /* absolute */
    int     is_root;
    int     stopping;                   /* graceful stop in progress */
    long    throttle_time;              /* seconds */
    char  **child_env;                  /* NULL-terminated environment */
} master_state;

/* master_service.c */
int     master_services_load(master_state *ms, strbuf *err);
int     master_services_reload(master_state *ms, strbuf *err);
void    master_service_update(master_state *ms, master_service *svc);
void    master_service_throttle(master_state *ms, master_service *svc);
void    master_services_stop(master_state *ms);
master_service *master_service_free(master_state *ms, master_service *svc);
void    master_child_env_build(master_state *ms);

/* master_listen.c */
int     master_listen_open(master_service *svc, strbuf *err);
void    master_listen_close(master_service *svc);
char   *master_listen_signature(const mastercf_entry *entry, strbuf *err);
int     master_listen_parse_inet(const char *service, char **host, char **port,
                                 strbuf *err);

/* master_spawn.c */
void    master_spawn(master_state *ms, master_service *svc);
void    master_listen_ready(event_loop *loop, int fd, void *ctx);
void    master_status_read(event_loop *loop, int fd, void *ctx);
void    master_reap(master_state *ms);
void    master_kill_children(master_state *ms, int sig);
size_t  master_child_count(const master_state *ms);

#endif
