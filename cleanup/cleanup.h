/*
 * cleanup.h: private interfaces of the cleanup daemon (cleanup.c reads
 * the submission, cleanup_addr.c rewrites addresses, cleanup_header.c
 * edits the header block, cleanup_out.c writes the queue file).
 */
#ifndef POSTERN_CLEANUP_PRIV_H
#define POSTERN_CLEANUP_PRIV_H

#include <stddef.h>

#include "header.h"
#include "maps.h"
#include "strbuf.h"

/* Most recipients per submission, given or extracted from headers. */
#define CLEANUP_RCPT_MAX        100000

/* Configuration, set once in post_init. */
typedef struct cleanup_config {
    const char *myhostname;
    const char *myorigin;
    const char *mydomain;
    int     append_dot_mydomain;
    long    hopcount_limit;
    long    header_size_limit;
    long    message_size_limit;         /* 0 = no limit */
    const char *const *drop_headers;    /* message_drop_headers */
    long    expansion_limit;
    long    recursion_limit;
    maps   *canonical;                  /* NULL when the parameter is empty */
    maps   *sender_canonical;
    maps   *recipient_canonical;
    maps   *virtual_alias;
} cleanup_config;

typedef struct cleanup_rcpt {
    char   *addr;
    char   *orig;                       /* NULL when not given */
    char   *orcpt;                      /* NULL when not given */
    int     notify;
} cleanup_rcpt;

/* One submission. */
typedef struct cleanup_state {
    const cleanup_config *cfg;
    int     flags;                      /* CLEANUP_F_* */
    char   *sender;
    char   *full_name;
    char   *envid;
    char   *ret;
    int     smtputf8;
    char   *encoding;
    char   *client_name;
    char   *client_addr;
    char   *client_proto;
    char   *helo_name;
    char   *log_ident;
    long    submit_uid;                 /* -1 = none */
    long    arrival_time;               /* 0 = now */
    cleanup_rcpt *rcpts;
    size_t  nrcpts;
    size_t  rcpts_size;
    strbuf *content;                    /* the message as received */
    int     too_big;                    /* message_size_limit passed */
    header_block *hb;                   /* fields of the received header */
    int     resent;                     /* the message has Resent- fields */
    int     have_from, have_date, have_msgid, have_dest;
    strbuf *headers;                    /* the new header block */
    size_t  body_offset;                /* in content */
    char   *message_id;                 /* for the log, or NULL */
    int     status;                     /* 0, 4 or 5 */
    strbuf *reason;                     /* when status != 0 */
    strbuf *queue_id;
} cleanup_state;

/* cleanup.c */
void    cleanup_state_fail(cleanup_state *st, int status, const char *fmt, ...)
            __attribute__((format(printf, 3, 4)));
void    cleanup_rcpt_add(cleanup_rcpt **list, size_t *count, size_t *size,
                         const char *addr, const char *orig,
                         const char *orcpt, int notify);
void    cleanup_rcpt_free_all(cleanup_rcpt *list, size_t count);

/* cleanup_addr.c */
void    cleanup_addr_qualify(const cleanup_config *cfg, const char *addr,
                             strbuf *out);
int     cleanup_addr_sender(cleanup_state *st);
int     cleanup_addr_recipients(cleanup_state *st);

/* cleanup_header.c */
int     cleanup_header_scan(cleanup_state *st);
void    cleanup_header_build(cleanup_state *st, long now);
void    cleanup_header_date(long when, strbuf *out);
void    cleanup_header_phrase(const char *name, strbuf *out);

/* cleanup_out.c */
int     cleanup_out(cleanup_state *st);

#endif
