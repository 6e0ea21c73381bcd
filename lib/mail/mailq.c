/*
 * mailq: print the queue listing (postqueue -p/-j, mailq, sendmail -bp).
 *
 * mailq_list(out, format, err)
 *     Connects to $queue_directory/public/$showq_service_name and prints every message the
 *     service sends, then (MAILQ_TEXT) the totals line. Returns 0, or -1
 *     with err set ("cannot reach the showq service: PATH: why", or the
 *     protocol error). The caller prints err and picks the exit status.
 * mailq_print_text(out, msg, totals)
 *     The classic layout, as Postfix prints it:
 *       -Queue ID-  --Size-- ----Arrival Time---- -Sender/Recipient-------
 *       ID[*!]  SIZE (8 wide) "Sun Nov 22 13:03:23"  sender|MAILER-DAEMON
 *       (reason)                      when it differs from the one above
 *                                         recipient (41 spaces in)
 *       (blank line)
 *     The header comes before the first message only (totals->requests
 *     is 0). '*' marks the active queue, '!' the hold queue. The arrival
 *     time is local time.
 * mailq_print_totals(out, totals)
 *     "-- N Kbytes in M Request(s)." (N rounded up), or "Mail queue is
 *     empty" when there were no messages.
 * mailq_format_json(buf, msg)
 *     {"queue_name": ..., "queue_id": ..., "arrival_time": N,
 *      "message_size": N, "forced_expire": true|false, "sender": ...,
 *      "recipients": [{"address": ..., "orig_address": ...,
 *      "delay_reason": ...}]} with orig_address and delay_reason present
 *     only when known; strings escaped by json_string.
 *
 * SECURITY: runs in the caller's process (any user); prints only what
 *   showq sent, which showq_proto decoded with bounds. Addresses and
 *   reasons are printed as they are; they hold no line breaks (the queue
 *   file and attribute formats exclude them) except reasons, whose
 *   control characters are replaced by '?' in the text listing.
 * LIMITS: those of showq_proto.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "json.h"
#include "mailq.h"
#include "master_proto.h"
#include "mem.h"
#include "param.h"
#include "showq_proto.h"
#include "strbuf.h"
#include "strutil.h"

#define MAILQ_RCPT_INDENT   41          /* column of senders and recipients */

/* mailq_mark: the status character after the queue ID */
static int mailq_mark(const char *queue)
{
    if (strcmp(queue, MASTER_DIR_ACTIVE) == 0)
        return '*';
    if (strcmp(queue, MASTER_DIR_HOLD) == 0)
        return '!';
    return ' ';
}

/* mailq_clean: text with control characters replaced, for one line */
static void mailq_clean(strbuf *out, const char *text)
{
    const unsigned char *p;

    strbuf_reset(out);
    for (p = (const unsigned char *) text; *p; p++)
        (void) strbuf_putc(out, (*p < 0x20 || *p == 0x7f) ? '?' : *p);
}

/* mailq_print_text: one message in the classic layout */
void    mailq_print_text(FILE *out, const showq_msg *msg, mailq_totals *totals)
{
    char    when[64];
    time_t  t = (time_t) msg->arrival_time;
    struct tm *tm = localtime(&t);
    const char *last_reason = NULL;
    strbuf *clean = strbuf_new(128);
    size_t  i;

    if (tm == NULL || strftime(when, sizeof(when), "%a %b %e %H:%M:%S", tm) == 0)
        (void) str_copy(when, sizeof(when), "(unknown time)");
    if (totals->requests == 0)
        fprintf(out, "-Queue ID-  --Size-- ----Arrival Time---- "
                "-Sender/Recipient-------\n");
    mailq_clean(clean, msg->sender[0] ? msg->sender : "MAILER-DAEMON");
    fprintf(out, "%-10s%c%8ld %s  %s\n", msg->queue_id, mailq_mark(msg->queue_name),
            msg->size, when, strbuf_str(clean));
    for (i = 0; i < msg->nrcpts; i++) {
        const showq_rcpt *r = msg->rcpts + i;

        if (r->reason && (last_reason == NULL || strcmp(last_reason, r->reason) != 0)) {
            mailq_clean(clean, r->reason);
            fprintf(out, "(%s)\n", strbuf_str(clean));
            last_reason = r->reason;
        }
        mailq_clean(clean, r->address);
        fprintf(out, "%*s%s\n", MAILQ_RCPT_INDENT, "", strbuf_str(clean));
    }
    fprintf(out, "\n");
    totals->requests++;
    totals->bytes += msg->size;
    strbuf_free(clean);
}

/* mailq_print_totals: the last line of the classic listing */
void    mailq_print_totals(FILE *out, const mailq_totals *totals)
{
    if (totals->requests == 0)
        fprintf(out, "Mail queue is empty\n");
    else
        fprintf(out, "-- %ld Kbytes in %ld Request%s.\n",
                (totals->bytes + 1023) / 1024, totals->requests,
                totals->requests == 1 ? "" : "s");
}

/* mailq_format_json: one message as a JSON object */
void    mailq_format_json(strbuf *buf, const showq_msg *msg)
{
    size_t  i;

    strbuf_reset(buf);
    (void) strbuf_puts(buf, "{\"queue_name\": ");
    json_string(buf, msg->queue_name);
    (void) strbuf_puts(buf, ", \"queue_id\": ");
    json_string(buf, msg->queue_id);
    (void) strbuf_printf(buf, ", \"arrival_time\": %ld, \"message_size\": %ld, "
                         "\"forced_expire\": %s, \"sender\": ", msg->arrival_time,
                         msg->size, msg->forced_expire ? "true" : "false");
    json_string(buf, msg->sender);
    (void) strbuf_puts(buf, ", \"recipients\": [");
    for (i = 0; i < msg->nrcpts; i++) {
        const showq_rcpt *r = msg->rcpts + i;

        (void) strbuf_puts(buf, i ? ", {\"address\": " : "{\"address\": ");
        json_string(buf, r->address);
        if (r->orig && strcmp(r->orig, r->address) != 0) {
            (void) strbuf_puts(buf, ", \"orig_address\": ");
            json_string(buf, r->orig);
        }
        if (r->reason) {
            (void) strbuf_puts(buf, ", \"delay_reason\": ");
            json_string(buf, r->reason);
        }
        (void) strbuf_putc(buf, '}');
    }
    (void) strbuf_puts(buf, "]}");
}

/* mailq_list: fetch the listing from showq and print it */
int     mailq_list(FILE *out, enum mailq_format format, strbuf *err)
{
    char   *path = str_concat(param_str(PARAM_QUEUE_DIRECTORY), "/", MASTER_DIR_PUBLIC, "/",
                              param_str(PARAM_SHOWQ_SERVICE_NAME), (char *) NULL);
    strbuf *why = strbuf_new(64);
    strbuf *buf = strbuf_new(256);
    mailq_totals totals = {0, 0};
    showq_proto *c;
    showq_msg msg;
    int     rc = -1, st;

    memset(&msg, 0, sizeof(msg));
    if ((c = showq_proto_open(path, why)) == NULL) {
        strbuf_setf(err, "cannot reach the showq service: the mail system is "
                    "not running, or master.cf has no showq service (%s)",
                    strbuf_str(why));
        goto done;
    }
    while ((st = showq_proto_next(c, &msg, why)) == 1) {
        if (format == MAILQ_JSON) {
            mailq_format_json(buf, &msg);
            fprintf(out, "%s\n", strbuf_str(buf));
        } else {
            mailq_print_text(out, &msg, &totals);
        }
    }
    showq_proto_msg_clear(&msg);
    if (st < 0) {
        strbuf_setf(err, "queue listing failed: %s", strbuf_str(why));
        goto done;
    }
    if (format == MAILQ_TEXT)
        mailq_print_totals(out, &totals);
    rc = 0;
done:
    showq_proto_close(c);
    strbuf_free(why);
    strbuf_free(buf);
    mem_free(path);
    return rc;
}
