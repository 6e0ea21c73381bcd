/*
 * postern: private interfaces between the parts of the postern command.
 *
 *   postern.c          main(): options, dispatch, shared helpers
 *   postern_init.c     init: config directory, main.cf, master.cf, spool
 *   postern_check.c    check: configuration, spool, programs
 *   postern_spool.c    the spool tree: check, create, set-permissions
 *   postern_ctl.c      start, start-fg, stop, abort, reload, status, flush
 *   postern_tls.c      tls new-server-cert
 *   postern_conf.c     (generated) the sample main.cf and master.cf
 */
#ifndef POSTERN_POSTERN_H
#define POSTERN_POSTERN_H

#include <stddef.h>
#include <sys/types.h>

#include "strbuf.h"

/* Exit status: success, error, and "not running" (systemctl is-active). */
#define POSTERN_EXIT_OK         0
#define POSTERN_EXIT_FAIL       1
#define POSTERN_EXIT_INACTIVE   3

/* The name of the system in messages. */
#define POSTERN_SYSTEM          "the Postern mail system"

/* The sample configuration files (generated from conf/). */
extern const char postern_conf_main_cf[];
extern const char postern_conf_master_cf[];

/* Command-line state shared by the parts. */
typedef struct postern_opts {
    const char *config_dir;             /* absolute when it exists */
    int     root;                       /* effective uid 0 */
} postern_opts;

/* Who should own the spool (resolved from the configuration). */
typedef struct postern_ids {
    uid_t   owner_uid;                  /* mail_owner, or the invoking user */
    gid_t   owner_gid;                  /* its primary group */
    gid_t   setgid_gid;                 /* setgid_group, or owner_gid */
    uid_t   root_uid;                   /* owner of the top and pid/: 0 or user */
    int     have_setgid;                /* setgid_gid is known */
} postern_ids;

/* postern.c */
int     postern_load(const postern_opts *opts, int validate, strbuf *err);
char   *postern_path(const char *dir, const char *name);
void    postern_log_to_maillog(void);

/* postern_init.c */
int     postern_init(postern_opts *opts, char **args, int nargs);

/* postern_check.c */
int     postern_check(const postern_opts *opts, int quiet);
int     postern_check_params(void);
int     postern_resolve_ids(const postern_opts *opts, postern_ids *ids,
                            strbuf *err);

/* postern_spool.c */
int     postern_spool_check(const char *qdir, const postern_ids *ids,
                            int root);
int     postern_spool_fix(const char *qdir, const postern_ids *ids,
                          int root, int create_only);
int     postern_set_permissions(const postern_opts *opts);

/* postern_tls.c */
int     postern_tls(postern_opts *opts, char **args, int nargs);

/* postern_ctl.c */
int     postern_start(const postern_opts *opts, int foreground);
int     postern_stop(const postern_opts *opts, int abort_now);
int     postern_reload(const postern_opts *opts);
int     postern_status(const postern_opts *opts);
int     postern_flush(const postern_opts *opts);
int     postern_running(const char *qdir, long *pid, strbuf *err);

#endif
