/*
 * local.h: private interfaces of the local delivery agent (local(8)).
 * Not for other programs: what they need lives in lib/.
 */
#ifndef POSTERN_LOCAL_H
#define POSTERN_LOCAL_H

#include <stddef.h>
#include <sys/types.h>

#include "htable.h"
#include "maps.h"
#include "recip_priv.h"
#include "strbuf.h"

#define LOCAL_DEPTH_MAX     20          /* alias/.forward/include nesting */
#define LOCAL_EXPAND_MAX    1000        /* destinations per recipient */
#define LOCAL_FORWARD_MAX   (1024 * 1024)       /* .forward / :include: size */
#define LOCAL_OUTPUT_MAX    512         /* command output kept for the DSN */
#define LOCAL_DOTLOCK_STALE 500         /* seconds */
#define LOCAL_LOCK_WAIT     60          /* seconds to wait for a lock */
#define LOCAL_COPY_BUF      65536

/* Destination classes (allow_mail_to_*, prepend_delivered_header). */
#define LOCAL_CLASS_ALIAS   (1 << 0)
#define LOCAL_CLASS_FORWARD (1 << 1)
#define LOCAL_CLASS_INCLUDE (1 << 2)
#define LOCAL_CLASS_COMMAND (1 << 3)    /* prepend_delivered_header only */
#define LOCAL_CLASS_FILE    (1 << 4)    /* prepend_delivered_header only */

/* mailbox_delivery_lock. */
#define LOCAL_LOCK_FCNTL    (1 << 0)
#define LOCAL_LOCK_DOTLOCK  (1 << 1)

/* The message content, read again for every destination. */
typedef struct local_content {
    int     (*start) (void *ctx, strbuf *err);
    int     (*next) (void *ctx, strbuf *piece, strbuf *err);   /* QFILE_CONTENT_* */
    void   *ctx;
} local_content;

/* A delivery outcome: status 0, 4 or 5, an enhanced code, a reason. */
typedef struct local_result {
    int     status;
    char    dsn[16];
    strbuf *reason;
} local_result;

/* What local_copy writes around the content. */
typedef struct local_copy_args {
    const char *sender;                 /* "" = null sender */
    const char *delivered_to;           /* NULL: no Delivered-To: header */
    int     return_path;                /* add Return-Path: */
    int     mbox;                       /* From_ line, >From quoting, blank line */
    long    arrival_time;
    off_t   limit;                      /* file size limit, 0 = none */
} local_copy_args;

/* Configuration, loaded once per process. */
typedef struct local_config {
    maps   *aliases;                    /* NULL: no aliases */
    const char *delimiters;
    const char *home_mailbox;
    const char *spool_dir;
    const char *mailbox_command;
    const char *forward_path;
    const char *luser_relay;
    const char *shell;
    const char *myhostname;
    const char *const *mydestination;
    size_t  nmydestination;
    int     command_classes;
    int     file_classes;
    int     delivered_classes;
    int     lock_flags;
    off_t   mailbox_size_limit;
    long    command_time_limit;
    recip_priv_id default_privs;
} local_config;

/* The message being delivered. */
typedef struct local_message {
    const char *queue_id;
    const char *sender;
    long    arrival_time;
    local_content *content;
    htable *delivered_to;               /* Delivered-To values, lower case */
} local_message;

/* The environment of a command. */
typedef struct local_cmd_vars {
    const char *user;
    const char *home;
    const char *shell;
    const char *recipient;
    const char *sender;
    const char *extension;
    const char *local;
    const char *domain;
    const char *orig_recipient;
} local_cmd_vars;

/* local_result.c */
void    local_result_set(local_result *res, int status, const char *dsn,
                         const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* local_content.c */
void    local_content_mem(local_content *c, const char *text, size_t len);
void    local_content_mem_free(local_content *c);
int     local_content_headers(local_content *c, htable *delivered_to, strbuf *err);

/* local_copy.c */
int     local_copy(int fd, local_content *c, const local_copy_args *args,
                   off_t start_size, strbuf *err);
void    local_mbox_from_line(strbuf *out, const char *sender, long when);
int     local_mbox_quote_needed(const char *line, size_t len);

/* local_mbox.c */
int     local_mbox_deliver(const char *path, local_content *c,
                           const local_copy_args *args, int lock_flags,
                           const recip_priv_id *owner, local_result *res);
int     local_dotlock_acquire(const char *path, int wait_seconds, strbuf *err);
void    local_dotlock_release(const char *path);

/* local_maildir.c */
int     local_maildir_deliver(const char *dir, local_content *c,
                              const local_copy_args *args, local_result *res);
void    local_maildir_name(strbuf *out, long sec, long usec, long pid,
                           unsigned long count, const char *host);

/* local_alias.c */
size_t  local_alias_split(const char *value, char ***items);
void    local_alias_free(char **items, size_t count);

/* local_expand.c */
int     local_expand(const char *pattern, const local_cmd_vars *vars,
                     const char *delimiter, strbuf *out, strbuf *err);

/* local_command.c */
char  **local_command_env(const local_cmd_vars *vars);
void    local_command_env_free(char **env);
int     local_command_status(int wait_status, int timed_out, char *dsn, size_t dsnlen);
int     local_command_run(const char *shell, const char *command,
                          const local_cmd_vars *vars, const recip_priv_id *id,
                          const char *cwd, local_content *c,
                          const local_copy_args *args, long time_limit,
                          local_result *res);

/* local_deliver.c */
int     local_deliver_rcpt(const local_config *cfg, local_message *msg,
                           const char *rcpt, const char *orig_rcpt,
                           local_result *res);

#endif
