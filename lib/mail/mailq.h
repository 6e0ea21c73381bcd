/*
 * mailq: the queue listing as postqueue -p/-j, mailq and sendmail -bp
 * print it, from what the showq service sends (showq_proto.h).
 *
 *   mailq_list(out, format, err): connect to the showq service
 *     (public/$showq_service_name) and print the whole listing to out in
 *     MAILQ_TEXT (Postfix's classic layout) or MAILQ_JSON (one object per
 *     line). 0, or -1 with err saying what failed (service unreachable,
 *     bad reply); what was printed before an error stays printed.
 *   mailq_print_text(out, msg, totals): one message in the classic
 *     layout (the column header before the first one); adds to totals.
 *   mailq_print_totals(out, totals): the last line ("-- N Kbytes in M
 *     Requests." or "Mail queue is empty").
 *   mailq_format_json(buf, msg): one message as a JSON object (no line
 *     end) in buf.
 *
 * See mailq.c for details.
 */
#ifndef POSTERN_MAILQ_H
#define POSTERN_MAILQ_H

#include <stdio.h>

#include "showq_proto.h"
#include "strbuf.h"

enum mailq_format {
    MAILQ_TEXT,
    MAILQ_JSON
};

typedef struct mailq_totals {
    long    requests;
    long    bytes;
} mailq_totals;

int     mailq_list(FILE *out, enum mailq_format format, strbuf *err);
void    mailq_print_text(FILE *out, const showq_msg *msg, mailq_totals *totals);
void    mailq_print_totals(FILE *out, const mailq_totals *totals);
void    mailq_format_json(strbuf *buf, const showq_msg *msg);

#endif
