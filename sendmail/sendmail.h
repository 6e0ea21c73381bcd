/*
 * sendmail: private interfaces between the parts of the sendmail command
 * (sendmail.c: command line and modes; sendmail_submit.c: the pipe to
 * postdrop; sendmail_smtp.c: -bs; sendmail_queue.c: -bp and -bi;
 * sendmail_verify.c: -bv).
 */
#ifndef POSTERN_SENDMAIL_H
#define POSTERN_SENDMAIL_H

#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>

#include "qfile.h"
#include "stream.h"
#include "strbuf.h"

/* One message being handed to postdrop. */
typedef struct sendmail_submit sendmail_submit;

/* What the command line (or an SMTP transaction) says about a message. */
typedef struct sendmail_env {
    const char *config_dir;             /* resolved configuration directory */
    const char *sender;                 /* internal form, "" = null sender */
    const char *full_name;              /* -F, or NULL */
    const char *envid;                  /* -V, or NULL */
    enum qfile_ret ret;                 /* -R */
    int     notify;                     /* -N: QFILE_NOTIFY_* or 0 */
    const char *encoding;               /* "7bit", "8bit" or NULL */
    int     extract;                    /* -t */
    char  **rcpts;                      /* internal form */
    size_t  nrcpts;
} sendmail_env;

/* sendmail_submit_open/line/close results (besides 0). */
#define SENDMAIL_TOO_BIG    (-2)        /* message_size_limit passed */

sendmail_submit *sendmail_submit_open(const sendmail_env *env, strbuf *err);
int     sendmail_submit_line(sendmail_submit *sub, const char *line,
                             size_t len, int partial);
int     sendmail_submit_close(sendmail_submit *sub, strbuf *err);
void    sendmail_submit_abort(sendmail_submit *sub);

int     sendmail_add_rcpts(sendmail_env *env, const char *arg, strbuf *err);
int     sendmail_smtp(sendmail_env *env);
int     sendmail_mailq(const char *config_dir);
int     sendmail_flush(const char *config_dir, const char *site);
int     sendmail_newaliases(int flags);
int     sendmail_verify(int argc, char **argv, FILE *out);

#endif
