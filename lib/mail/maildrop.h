/*
 * maildrop: the rules for locally submitted messages (sendmail ->
 * postdrop -> maildrop/ -> pickup), shared by postdrop (which writes the
 * maildrop file) and pickup (which never trusts it and checks it again).
 *
 * The submission stream that sendmail writes to postdrop's standard input
 * is a queue-format record stream (qfile.h) whose header record holds
 * zeros: C (flags only), T (ignored: postdrop sets the time), S, the
 * user attributes below, i, <, recipient groups, M, content, optionally
 * X and recipient groups (sendmail -t: addresses sendmail found in the
 * headers; cleanup extracts them again), E.
 *
 * Attributes ('A' records) a local user may send:
 *   full_name=TEXT        sendmail -F
 *   flags=N               MAILDROP_USER_FLAGS bits only (CLEANUP_F_EXTRACT)
 *   encoding=7bit|8bit    sendmail -B
 * postdrop adds submit_uid=N (the caller's real uid) itself; pickup
 * requires it. Anything else is refused. See maildrop.c for contracts.
 */
#ifndef POSTERN_MAILDROP_H
#define POSTERN_MAILDROP_H

#include <stddef.h>

#include "qfile.h"
#include "strbuf.h"

/* Bits a user may set in the flags attribute (cleanup_client.h values). */
#define MAILDROP_F_EXTRACT      (1 << 0)        /* = CLEANUP_F_EXTRACT */
#define MAILDROP_USER_FLAGS     MAILDROP_F_EXTRACT

/* Longest full name accepted (sendmail -F). */
#define MAILDROP_FULL_NAME_MAX  256

/* Largest uid accepted in submit_uid. */
#define MAILDROP_UID_MAX        4294967294L

/* A checked maildrop file's extra envelope data (pointers into env). */
typedef struct maildrop_info {
    long    submit_uid;
    int     flags;                      /* MAILDROP_F_* */
    const char *full_name;              /* or NULL */
    const char *encoding;               /* or NULL */
} maildrop_info;

int     maildrop_user_attr(const char *name, const char *value, int *flags,
                           strbuf *err);
int     maildrop_filter(qfile_reader *in, qfile_writer *out, strbuf *err);
int     maildrop_check(const qfile_envelope *env, maildrop_info *info,
                       strbuf *err);

#endif
