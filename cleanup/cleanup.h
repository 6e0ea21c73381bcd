/*
 * cleanup.h: private interfaces of the cleanup daemon (cleanup.c reads
 * the submission, cleanup_addr.c rewrites addresses, cleanup_header.c
 * edits the header block, cleanup_out.c writes the queue file).
 */
#ifndef POSTERN_CLEANUP_PRIV_H
#define POSTERN_CLEANUP_PRIV_H

#include <stddef.h>

#include "cidr.h"
#include "header.h"
#include "maps.h"
#include "strbuf.h"

/* Most recipients per submission, given or extracted from headers. */
#define CLEANUP_RCPT_MAX        100000

/* Address classes (canonical_classes, masquerade_classes). */
#define CLEANUP_CLASS_ENV_SENDER    (1 << 0)
#define CLEANUP_CLASS_ENV_RCPT      (1 << 1)
#define CLEANUP_CLASS_HDR_SENDER    (1 << 2)
#define CLEANUP_CLASS_HDR_RCPT      (1 << 3)

/* propagate_unmatched_extensions. */
#define CLEANUP_PROP_CANONICAL      (1 << 0)
#define CLEANUP_PROP_VIRTUAL        (1 << 1)

/* How header addresses of one message are rewritten. */
#define CLEANUP_HDR_NONE    0           /* remote, no rewrite domain */
#define CLEANUP_HDR_LOCAL   1           /* qualify with $myorigin, maps */
#define CLEANUP_HDR_REMOTE  2           /* qualify with the remote domain */

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
    const char *delimiters;             /* recipient_delimiter */
    int     canonical_classes;          /* CLEANUP_CLASS_* */
    int     masq_classes;               /* CLEANUP_CLASS_* */
    const char *const *masq_domains;    /* masquerade_domains, in order */
    size_t  nmasq_domains;
    const char *const *masq_exceptions; /* masquerade_exceptions */
    size_t  nmasq_exceptions;
    int     append_at_myorigin;
    int     swap_bangpath;
    int     percent_hack;
    int     propagate;                  /* CLEANUP_PROP_* */
    const char *remote_header_domain;   /* "" = leave remote headers alone */
    int     hdr_rewrite_all;            /* local_header_rewrite_clients */
    int     hdr_rewrite_inet;           /* ... permit_inet_interfaces */
    int     hdr_rewrite_mynetworks;     /* ... permit_mynetworks */
    cidr_list *hdr_rewrite_nets;        /* ... addresses and networks */
    cidr_list *inet_addrs;              /* our interface addresses */
    cidr_list *mynetworks;
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
    char   *tls_summary;                /* Received: "(using ...)", or NULL */
    char   *sasl_username;              /* Received: "(Authenticated sender: ...)" */
    char   *log_ident;
    long    submit_uid;                 /* -1 = none */
    long    arrival_time;               /* 0 = now */
    cleanup_rcpt *rcpts;
    size_t  nrcpts;
    size_t  rcpts_size;
    strbuf *content;                    /* the message as received */
    int     too_big;                    /* message_size_limit passed */
    header_block *hb;                   /* fields of the received header */
    char  **rewritten;                  /* per field of hb: rewritten text
                                         * (address fields), or NULL */
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
void    cleanup_addr_complete(const cleanup_config *cfg, const char *addr,
                              const char *origin, strbuf *out);
void    cleanup_addr_masquerade(const cleanup_config *cfg, strbuf *addr);
int     cleanup_addr_header(cleanup_state *st, int class, int mode,
                            const char *addr, strbuf *out);
int     cleanup_addr_header_mode(const cleanup_state *st);
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
