/*
 * smtp_reply: parsing what an SMTP/LMTP server answers (client side).
 *
 * A reply is one or more lines "NNN-text" ... "NNN text" (RFC 5321
 * 4.2). smtp_reply_feed() takes one line at a time (without CRLF) and
 * says whether the reply is complete. The reply keeps its code, the
 * enhanced status code (RFC 3463) of its first line or one derived from
 * the code, and its text for logs and bounces. smtp_ehlo_parse() reads
 * the EHLO/LHLO keywords of a complete 2xx reply.
 *
 * See smtp_reply.c for the full contracts.
 */
#ifndef POSTERN_SMTP_REPLY_H
#define POSTERN_SMTP_REPLY_H

#include <stddef.h>

#include "strbuf.h"

/* Bounds. */
#define SMTP_REPLY_LINE_MAX     4096    /* bytes per line read */
#define SMTP_REPLY_LINES_MAX    128     /* lines per reply */
#define SMTP_REPLY_TEXT_MAX     2048    /* bytes of text kept */

/* smtp_reply_feed results. */
#define SMTP_REPLY_DONE     0           /* the reply is complete */
#define SMTP_REPLY_MORE     1           /* more lines follow */
#define SMTP_REPLY_BAD      (-1)        /* not an SMTP reply */

/* EHLO keywords we act on. */
#define SMTP_EHLO_PIPELINING    (1U << 0)
#define SMTP_EHLO_SIZE          (1U << 1)
#define SMTP_EHLO_8BITMIME      (1U << 2)
#define SMTP_EHLO_DSN           (1U << 3)
#define SMTP_EHLO_SMTPUTF8      (1U << 4)
#define SMTP_EHLO_ENHANCED      (1U << 5)   /* ENHANCEDSTATUSCODES */
#define SMTP_EHLO_STARTTLS      (1U << 6)
#define SMTP_EHLO_AUTH          (1U << 7)
#define SMTP_EHLO_CHUNKING      (1U << 8)

typedef struct smtp_reply {
    int     code;                       /* 200..599; 0 before the first line */
    char    dsn[12];                    /* "5.1.1": given or derived */
    int     has_dsn;                    /* the server gave an enhanced code */
    strbuf *text;                       /* lines as received, '\n' between */
    size_t  lines;
    int     done;
} smtp_reply;

typedef struct smtp_ehlo {
    unsigned features;                  /* SMTP_EHLO_xxx */
    unsigned long size_limit;           /* SIZE value; 0: none given */
} smtp_ehlo;

smtp_reply *smtp_reply_new(void);
smtp_reply *smtp_reply_free(smtp_reply *r);
void    smtp_reply_reset(smtp_reply *r);
int     smtp_reply_feed(smtp_reply *r, const char *line, size_t len, strbuf *err);
void    smtp_reply_oneline(const smtp_reply *r, strbuf *out);
int     smtp_reply_fake(smtp_reply *r, const char *text);
void    smtp_ehlo_parse(const smtp_reply *r, smtp_ehlo *out);

#endif
