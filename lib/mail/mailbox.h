/*
 * mailbox: the mailbox writers local(8) and virtual(8) share: a message
 * content source, one delivered copy (Return-Path:, Delivered-To:, mbox
 * quoting), mbox append with locking and all-or-nothing semantics,
 * Maildir delivery, and the Delivered-To: scan for loop detection.
 * Every writer works relative to a directory descriptor (AT_FDCWD for
 * plain paths), so virtual can walk its base directory without
 * following symlinks. See mailbox.c for the contracts.
 */
#ifndef POSTERN_MAILBOX_H
#define POSTERN_MAILBOX_H

#include <stddef.h>
#include <sys/types.h>

#include "htable.h"
#include "recip_priv.h"
#include "strbuf.h"

#define MAILBOX_DOTLOCK_STALE   500     /* seconds */
#define MAILBOX_LOCK_WAIT       60      /* seconds to wait for a lock */
#define MAILBOX_COPY_BUF        65536
#define MAILBOX_DELIVERED_MAX   1000    /* Delivered-To: values kept */

/* Flags of mailbox_mbox_deliver / mailbox_maildir_deliver. */
#define MAILBOX_LOCK_FCNTL      (1 << 0)        /* fcntl write lock */
#define MAILBOX_LOCK_DOTLOCK    (1 << 1)        /* PATH.lock */
#define MAILBOX_F_NOFOLLOW      (1 << 2)        /* Maildir: no symlinked
                                                 * (sub)directories */

/* The message content, read again for every destination. */
typedef struct mailbox_content {
    int     (*start) (void *ctx, strbuf *err);
    int     (*next) (void *ctx, strbuf *piece, strbuf *err);   /* QFILE_CONTENT_* */
    void   *ctx;
} mailbox_content;

/* A delivery outcome: status 0, 4 or 5, an enhanced code, a reason. */
typedef struct mailbox_result {
    int     status;
    char    dsn[16];
    strbuf *reason;                     /* allocated by the caller */
} mailbox_result;

/* What mailbox_copy writes around the content. */
typedef struct mailbox_copy_args {
    const char *sender;                 /* "" = null sender */
    const char *delivered_to;           /* NULL: no Delivered-To: header */
    int     return_path;                /* add Return-Path: */
    int     mbox;                       /* From_ line, >From quoting, blank line */
    long    arrival_time;
    off_t   limit;                      /* file size limit, 0 = none */
    const char *display;                /* path for messages; NULL = as given */
} mailbox_copy_args;

void    mailbox_result_set(mailbox_result *res, int status, const char *dsn,
                           const char *fmt, ...) __attribute__((format(printf, 4, 5)));

void    mailbox_content_mem(mailbox_content *c, const char *text, size_t len);
void    mailbox_content_mem_free(mailbox_content *c);
int     mailbox_content_headers(mailbox_content *c, htable *delivered_to, strbuf *err);

int     mailbox_copy(int fd, mailbox_content *c, const mailbox_copy_args *args,
                     off_t start_size, strbuf *err);
void    mailbox_from_line(strbuf *out, const char *sender, long when);
int     mailbox_quote_needed(const char *line, size_t len);

int     mailbox_mbox_deliver(int dirfd, const char *path, mailbox_content *c,
                             const mailbox_copy_args *args, int flags,
                             const recip_priv_id *owner, mailbox_result *res);
int     mailbox_dotlock_acquire(int dirfd, const char *path, int wait_seconds,
                                strbuf *err);
void    mailbox_dotlock_release(int dirfd, const char *path);

int     mailbox_maildir_deliver(int dirfd, const char *dir, mailbox_content *c,
                                const mailbox_copy_args *args, int flags,
                                mailbox_result *res);
void    mailbox_maildir_name(strbuf *out, long sec, long usec, long pid,
                             unsigned long count, const char *host);
int     mailbox_lock_flags(const char *param);

#endif
