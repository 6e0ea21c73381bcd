/*
 * mail_server: the skeleton every daemon's main() hands its service to.
 *
 * A daemon fills a mail_server_desc and calls mail_server_main(argc,
 * argv, &desc), which never returns. The skeleton parses the options
 * master passes (see master_proto.h), loads main.cf and the -o
 * overrides, sets up logging as syslog_name/NAME, runs pre_init (still
 * privileged), drops privileges and chroots when told to, runs post_init,
 * then serves clients on the inherited listeners:
 *
 *   MAIL_SERVER_SINGLE   conn(srv, client): one client at a time, on a
 *                        stream over the accepted socket; the skeleton
 *                        closes the stream after conn returns.
 *   MAIL_SERVER_TRIGGER  trigger(srv, buf, len): the bytes read from one
 *                        connection (unix/inet), datagram (unix-dgram) or
 *                        fifo read, up to MAIL_SERVER_TRIGGER_MAX.
 *   MAIL_SERVER_MULTI    multi(srv, fd): an accepted, non-blocking client
 *                        descriptor; the handler registers its own
 *                        callbacks on mail_server_loop(srv) and calls
 *                        mail_server_multi_done(srv, fd) when it is done
 *                        with the client (that closes fd).
 *
 * See mail_server.c for the full contracts.
 */
#ifndef POSTERN_MAIL_SERVER_H
#define POSTERN_MAIL_SERVER_H

#include <stddef.h>

#include "event.h"
#include "master_proto.h"
#include "stream.h"
#include "strbuf.h"

typedef struct mail_server mail_server;

enum mail_server_mode {
    MAIL_SERVER_SINGLE = 1,
    MAIL_SERVER_TRIGGER,
    MAIL_SERVER_MULTI
};

/* Flags in mail_server_desc.flags. */
#define MAIL_SERVER_F_SETGID_GROUP (1 << 0)     /* keep setgid_group as a
                                                 * supplementary group */
#define MAIL_SERVER_F_NO_IDLE_LIMIT (1 << 1)    /* ignore max_idle */
#define MAIL_SERVER_F_NO_USE_LIMIT  (1 << 2)    /* ignore max_use */

/* Bytes one trigger may carry; more are read and dropped. */
#define MAIL_SERVER_TRIGGER_MAX 1024

/* Milliseconds a trigger connection may take to send its bytes. */
#define MAIL_SERVER_TRIGGER_TIMEOUT 10000

typedef void (*mail_server_init_fn) (mail_server *srv);
typedef void (*mail_server_conn_fn) (mail_server *srv, stream *client);
typedef void (*mail_server_trigger_fn) (mail_server *srv, const char *buf,
                                        size_t len);
typedef void (*mail_server_multi_fn) (mail_server *srv, int fd);

typedef struct mail_server_desc {
    const char *name;                   /* program name for logs: "smtpd" */
    enum mail_server_mode mode;
    int     flags;                      /* MAIL_SERVER_F_xxx */
    mail_server_init_fn pre_init;       /* as root, before drop; or NULL */
    mail_server_init_fn post_init;      /* after drop and chroot; or NULL */
    mail_server_conn_fn conn;           /* MAIL_SERVER_SINGLE */
    mail_server_trigger_fn trigger;     /* MAIL_SERVER_TRIGGER */
    mail_server_multi_fn multi;         /* MAIL_SERVER_MULTI */
    void   *ctx;                        /* handed back by mail_server_ctx */
    const char *shutdown_reply;         /* SINGLE: line (no CRLF) written to
                                         * the client on SIGTERM, or NULL;
                                         * read after post_init */
} mail_server_desc;

/* Longest shutdown_reply line kept (bytes, without CRLF); longer is cut. */
#define MAIL_SERVER_SHUTDOWN_REPLY_MAX 510

/* The options master passes, parsed. Strings point into argv or are owned
 * by the structure (overrides); free with mail_server_opts_free. */
typedef struct mail_server_override {
    char   *name;
    char   *value;
} mail_server_override;

typedef struct mail_server_opts {
    const char *config_dir;             /* -c, or NULL */
    const char *service;                /* -S, or NULL */
    const char *type;                   /* -t, or NULL */
    long    nsockets;                   /* -s, 0 when not given */
    int     unpriv;                     /* -u */
    int     chroot;                     /* -z */
    int     verbose;                    /* count of -v */
    mail_server_override *overrides;    /* -o name=value, in order */
    size_t  noverrides;
    int     argc;                       /* program arguments after options */
    char  **argv;                       /* points into the caller's argv */
} mail_server_opts;

void    mail_server_main(int argc, char **argv, const mail_server_desc *desc)
            __attribute__((noreturn));

/* For handlers. */
const char *mail_server_service(const mail_server *srv);
const char *mail_server_type(const mail_server *srv);
char  **mail_server_argv(const mail_server *srv, int *argc);
void   *mail_server_ctx(const mail_server *srv);
event_loop *mail_server_loop(mail_server *srv);
void    mail_server_multi_done(mail_server *srv, int fd);

/* Building blocks, exported for tests. */
int     mail_server_parse_args(int argc, char **argv, mail_server_opts *opts,
                               strbuf *err);
void    mail_server_opts_free(mail_server_opts *opts);
int     mail_server_send_status(int fd, int avail);

#endif
