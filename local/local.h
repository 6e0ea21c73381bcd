/*
 * local.h: private interfaces of the local delivery agent (local(8)).
 * Not for other programs: what they need lives in lib/ (the mailbox
 * writers, content sources and results are in lib/mail/mailbox.h).
 */
#ifndef POSTERN_LOCAL_H
#define POSTERN_LOCAL_H

#include <stddef.h>
#include <sys/types.h>

#include "htable.h"
#include "mailbox.h"
#include "maps.h"
#include "recip_priv.h"
#include "strbuf.h"

#define LOCAL_DEPTH_MAX     20          /* alias/.forward/include nesting */
#define LOCAL_EXPAND_MAX    1000        /* destinations per recipient */
#define LOCAL_FORWARD_MAX   (1024 * 1024)       /* .forward / :include: size */
#define LOCAL_OUTPUT_MAX    512         /* command output kept for the DSN */

/* Destination classes (allow_mail_to_*, prepend_delivered_header). */
#define LOCAL_CLASS_ALIAS   (1 << 0)
#define LOCAL_CLASS_FORWARD (1 << 1)
#define LOCAL_CLASS_INCLUDE (1 << 2)
#define LOCAL_CLASS_COMMAND (1 << 3)    /* prepend_delivered_header only */
#define LOCAL_CLASS_FILE    (1 << 4)    /* prepend_delivered_header only */

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
    mailbox_content *content;
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
                          const char *cwd, mailbox_content *c,
                          const mailbox_copy_args *args, long time_limit,
                          mailbox_result *res);

/* local_deliver.c */
int     local_deliver_rcpt(const local_config *cfg, local_message *msg,
                           const char *rcpt, const char *orig_rcpt,
                           mailbox_result *res);

#endif
