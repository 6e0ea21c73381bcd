/*
 * virtual.h: private interfaces of the virtual delivery agent
 * (virtual(8)). Not for other programs: what they need lives in lib/.
 */
#ifndef POSTERN_VIRTUAL_H
#define POSTERN_VIRTUAL_H

#include <stddef.h>
#include <sys/types.h>

#include "htable.h"
#include "mailbox.h"
#include "maps.h"
#include "strbuf.h"

#define VIRTUAL_PATH_MAX    4096        /* bytes of a mailbox path */
#define VIRTUAL_DEPTH_MAX   64          /* directory levels under the base */

/* Configuration, loaded once per process. */
typedef struct virtual_config {
    maps   *mailbox_maps;               /* virtual_mailbox_maps */
    maps   *uid_maps;                   /* virtual_uid_maps */
    maps   *gid_maps;                   /* virtual_gid_maps */
    const char *base;                   /* virtual_mailbox_base */
    const char *delimiters;             /* recipient_delimiter */
    long    minimum_uid;
    off_t   mailbox_limit;              /* 0 = none */
    int     lock_flags;                 /* MAILBOX_LOCK_* */
} virtual_config;

/* The message being delivered. */
typedef struct virtual_message {
    const char *queue_id;
    const char *sender;
    long    arrival_time;
    mailbox_content *content;
    htable *delivered_to;               /* Delivered-To values, lower case */
} virtual_message;

/* virtual_deliver.c */
int     virtual_path_check(const char *value, strbuf *err);
int     virtual_id_parse(const char *value, long minimum, long *id);
int     virtual_deliver_rcpt(const virtual_config *cfg, virtual_message *msg,
                             const char *rcpt, mailbox_result *res);

#endif
