/*
 * smtpd_data: message content for DATA and BDAT.
 *
 * The end of a DATA message is found by an explicit byte-level state
 * machine (smtpd_data_feed), never by looking at whole lines, so that
 * where the stream happens to cut its reads cannot matter.
 *
 * Public functions:
 *   smtpd_data_sm_init(sm): start state: at the beginning of a line that
 *     follows a CRLF (the 354 reply counts as one).
 *   smtpd_data_feed(sm, reject_bare_lf, in, len, &used, out): run len
 *     bytes through the machine, appending the message content to out
 *     with LF line ends and dot-unstuffing done. Returns SMTPD_DATA_END
 *     when <CRLF>.<CRLF> was consumed (used = bytes up to and including
 *     its LF; the rest is not content), SMTPD_DATA_BARELF when
 *     reject_bare_lf is set and a LF without CR arrived (used = bytes up
 *     to that LF), else SMTPD_DATA_MORE (used = len).
 *     The rules, whatever smtpd_forbid_bare_newline says:
 *       - only "." CR LF at the start of a line that follows CR LF ends
 *         the message; "\n.\n", "\r.\r", "\r\n.\n", "\n.\r\n" and every
 *         other variant are content;
 *       - a bare LF ends a content line (normalize); the line after it
 *         is never a candidate for the end marker;
 *       - a bare CR is kept as a content byte;
 *       - a line starting with "." loses that dot, except a line that
 *         is "." alone after a bare LF, which is content as it is.
 *   smtpd_data_receive(sess, q): read DATA content from the client after
 *     the 354 reply, hand it to the queue handle q (taken over: finished
 *     or aborted here) and send the final reply. 0 when the session goes
 *     on, -1 when it must end (timeout, lost connection, bare LF refused:
 *     the reply, if any, has been sent).
 *   smtpd_data_bdat(sess, size, last): one BDAT chunk: read exactly size
 *     bytes (CRLF becomes LF), and at LAST queue the message. Answers the
 *     chunk. 0 or -1 as above.
 *   smtpd_data_finish(sess, q): end-of-data restrictions, then queue
 *     (or drop) the message in q and reply. Always 0.
 *
 * SECURITY: all bytes come from the client. The machine is the SMTP
 * smuggling defence: it is the only place that decides where a message
 * ends, it is fuzzed (tests/fuzz/fuzz_smtpd_session.c) and unit-tested
 * with every known smuggling variant.
 * LIMITS: reads of SMTPD_DATA_PIECE bytes at most; content reaches
 * cleanup in blocks of SMTPD_FLUSH_AT bytes; message_size_limit counts
 * content bytes, and past it the rest is read and dropped (552 at the
 * end, nothing queued); each read waits at most smtpd_timeout.
 */
#include <stddef.h>
#include <string.h>

#include "mem.h"
#include "msg.h"
#include "smtpd.h"
#include "strbuf.h"
#include "stream.h"

/* Machine states. */
#define SMTPD_DSM_BOL_CRLF  0           /* line start after CRLF */
#define SMTPD_DSM_BOL_LF    1           /* line start after a bare LF */
#define SMTPD_DSM_DOT       2           /* "." after CRLF */
#define SMTPD_DSM_DOT_CR    3           /* ".\r" after CRLF */
#define SMTPD_DSM_DOT_LF    4           /* "." after a bare LF */
#define SMTPD_DSM_DOT_LF_CR 5           /* ".\r" after a bare LF */
#define SMTPD_DSM_MID       6           /* inside a line */
#define SMTPD_DSM_CR        7           /* a CR inside a line */

/* smtpd_data_sm_init: reset the machine to the start of a message. */
void    smtpd_data_sm_init(smtpd_data_sm *sm)
{
    memset(sm, 0, sizeof(*sm));
    sm->state = SMTPD_DSM_BOL_CRLF;
}

/* smtpd_data_feed: run bytes through the end-of-data machine. */
int     smtpd_data_feed(smtpd_data_sm *sm, int reject_bare_lf,
                        const char *in, size_t len, size_t *used,
                        strbuf *out)
{
    size_t  i;
    int     c;

    for (i = 0; i < len; i++) {
        c = (unsigned char) in[i];
        switch (sm->state) {
        case SMTPD_DSM_BOL_CRLF:
            if (c == '.') {
                sm->state = SMTPD_DSM_DOT;
                continue;
            }
            break;
        case SMTPD_DSM_BOL_LF:
            if (c == '.') {
                sm->state = SMTPD_DSM_DOT_LF;
                continue;
            }
            break;
        case SMTPD_DSM_DOT:
            if (c == '\r') {
                sm->state = SMTPD_DSM_DOT_CR;
                continue;
            }
            if (c == '\n') {
                /* ".\n": a lone dot ended by a bare LF is content. */
                sm->bare_lf = 1;
                if (reject_bare_lf) {
                    *used = i + 1;
                    return SMTPD_DATA_BARELF;
                }
                (void) strbuf_append(out, ".\n", 2);
                sm->state = SMTPD_DSM_BOL_LF;
                continue;
            }
            break;                      /* stuffed dot dropped */
        case SMTPD_DSM_DOT_CR:
            if (c == '\n') {
                *used = i + 1;
                sm->state = SMTPD_DSM_BOL_CRLF;
                return SMTPD_DATA_END;
            }
            /* ".\r" + other: the dot was stuffing, the CR is bare. */
            sm->bare_cr = 1;
            (void) strbuf_putc(out, '\r');
            if (c == '\r') {
                sm->state = SMTPD_DSM_CR;
                continue;
            }
            break;
        case SMTPD_DSM_DOT_LF:
            if (c == '\r') {
                sm->state = SMTPD_DSM_DOT_LF_CR;
                continue;
            }
            if (c == '\n') {
                sm->bare_lf = 1;
                if (reject_bare_lf) {
                    *used = i + 1;
                    return SMTPD_DATA_BARELF;
                }
                (void) strbuf_append(out, ".\n", 2);
                sm->state = SMTPD_DSM_BOL_LF;
                continue;
            }
            break;
        case SMTPD_DSM_DOT_LF_CR:
            if (c == '\n') {
                /* "\n.\r\n": content "." (not the end: no CR before). */
                (void) strbuf_append(out, ".\n", 2);
                sm->state = SMTPD_DSM_BOL_CRLF;
                continue;
            }
            sm->bare_cr = 1;
            (void) strbuf_putc(out, '\r');
            if (c == '\r') {
                sm->state = SMTPD_DSM_CR;
                continue;
            }
            break;
        case SMTPD_DSM_CR:
            if (c == '\n') {
                (void) strbuf_putc(out, '\n');
                sm->state = SMTPD_DSM_BOL_CRLF;
                continue;
            }
            sm->bare_cr = 1;
            (void) strbuf_putc(out, '\r');
            if (c == '\r')
                continue;
            break;
        default:                        /* SMTPD_DSM_MID */
            break;
        }
        /* Inside a line. */
        if (c == '\r') {
            sm->state = SMTPD_DSM_CR;
        } else if (c == '\n') {
            sm->bare_lf = 1;
            if (reject_bare_lf) {
                *used = i + 1;
                return SMTPD_DATA_BARELF;
            }
            (void) strbuf_putc(out, '\n');
            sm->state = SMTPD_DSM_BOL_LF;
        } else {
            (void) strbuf_putc(out, (char) c);
            sm->state = SMTPD_DSM_MID;
        }
    }
    *used = len;
    return SMTPD_DATA_MORE;
}

/* smtpd_data_push: move buffered content to the queue, minding the size limit. */
static void smtpd_data_push(smtpd_session *sess, void *q, strbuf *out,
                            long *total, int *too_big, int *io_fail)
{
    long    limit = sess->cfg->message_size_limit;

    if (!*too_big && !*io_fail && out->len > 0) {
        if (limit > 0 && (long) out->len > limit - *total) {
            *too_big = 1;
        } else {
            *total += (long) out->len;
            if (sess->hooks->queue_content == NULL
                || sess->hooks->queue_content(sess, q, out->data, out->len) < 0)
                *io_fail = 1;
        }
    }
    strbuf_reset(out);
}

/* smtpd_data_abort: drop the message in q. */
static void smtpd_data_abort(smtpd_session *sess, void *q)
{
    if (q != NULL && sess->hooks->queue_abort != NULL)
        sess->hooks->queue_abort(sess, q);
}

/* smtpd_data_lost: log a lost connection or time out during content. */
static int smtpd_data_lost(smtpd_session *sess, enum stream_status st,
                           const char *what)
{
    if (st == STREAM_TIMEOUT) {
        msg_info("timeout after %s from %s[%s]", what, sess->client_name,
                 sess->client_addr);
        (void) smtpd_proto_reply(sess, "421 4.4.2 %s Error: timeout exceeded",
                                 sess->cfg->myhostname);
    } else {
        msg_info("lost connection after %s from %s[%s]", what,
                 sess->client_name, sess->client_addr);
    }
    sess->quit = 1;
    return -1;
}

/* smtpd_data_finish: end-of-data checks, then queue the message and reply. */
int     smtpd_data_finish(smtpd_session *sess, void *q)
{
    strbuf *id = strbuf_new(32);
    strbuf *why = strbuf_new(128);
    int     verdict = SMTPD_VERDICT_OK;
    int     rc;

    if (sess->hooks->check != NULL)
        verdict = sess->hooks->check(sess, SMTPD_STAGE_EOD, why);
    if (verdict == SMTPD_VERDICT_REJECT || verdict == SMTPD_VERDICT_DEFER) {
        sess->error_mask |= SMTPD_ERR_POLICY;
        smtpd_data_abort(sess, q);
        (void) smtpd_proto_reply(sess, "%s", strbuf_str(why));
        sess->errors++;
    } else if (verdict == SMTPD_VERDICT_DISCARD
               || sess->verdict == SMTPD_VERDICT_DISCARD) {
        smtpd_data_abort(sess, q);
        msg_info("NOQUEUE: discard: END-OF-MESSAGE from %s[%s]",
                 sess->client_name, sess->client_addr);
        (void) smtpd_proto_reply(sess, "250 2.0.0 Ok: discarded");
    } else {
        rc = sess->hooks->queue_finish ?
            sess->hooks->queue_finish(sess, q, id, why) : -1;
        if (rc == 0) {
            strbuf_set(sess->queue_id, id->data, id->len);
            if (sess->sasl_username != NULL)
                msg_info("%s: client=%s[%s], sasl_method=%s, sasl_username=%s",
                         strbuf_str(id), sess->client_name, sess->client_addr,
                         sess->sasl_method ? sess->sasl_method : "",
                         sess->sasl_username);
            else
                msg_info("%s: client=%s[%s]", strbuf_str(id), sess->client_name,
                         sess->client_addr);
            (void) smtpd_proto_reply(sess, "250 2.0.0 Ok: queued as %s",
                                     strbuf_str(id));
        } else if (rc == 5) {
            sess->error_mask |= SMTPD_ERR_POLICY;
            (void) smtpd_proto_reply(sess, "%s %s",
                                     strncmp(strbuf_str(why), "5.3.4", 5) == 0
                                     ? "552" : "554", strbuf_str(why));
        } else if (rc == 4 && why->len > 2 && why->data[0] == '4') {
            sess->error_mask |= SMTPD_ERR_RESOURCE;
            (void) smtpd_proto_reply(sess, "451 %s", strbuf_str(why));
        } else {
            msg_warn("%s[%s]: queue file write error: %s", sess->client_name,
                     sess->client_addr, strbuf_str(why));
            sess->error_mask |= SMTPD_ERR_RESOURCE;
            (void) smtpd_proto_reply(sess,
                                     "451 4.3.0 Error: queue file write error");
        }
    }
    strbuf_free(id);
    strbuf_free(why);
    smtpd_proto_reset(sess);
    return 0;
}

/* smtpd_data_receive: read DATA content into q and finish the transaction. */
int     smtpd_data_receive(smtpd_session *sess, void *q)
{
    smtpd_data_sm sm;
    strbuf *piece = strbuf_new(SMTPD_DATA_PIECE);
    strbuf *out = strbuf_new(SMTPD_FLUSH_AT + SMTPD_DATA_PIECE);
    enum stream_status st;
    long    total = 0;
    int     too_big = 0, io_fail = 0, r = SMTPD_DATA_MORE;
    int     reject = sess->cfg->forbid_bare_newline == SMTPD_BARE_NL_REJECT;
    size_t  used;

    smtpd_data_sm_init(&sm);
    for (;;) {
        st = stream_get_line(sess->client, piece, SMTPD_DATA_PIECE);
        if (st != STREAM_OK && st != STREAM_TOOLONG)
            break;
        r = smtpd_data_feed(&sm, reject, piece->data, piece->len, &used, out);
        if (r != SMTPD_DATA_MORE || out->len >= SMTPD_FLUSH_AT)
            smtpd_data_push(sess, q, out, &total, &too_big, &io_fail);
        if (r != SMTPD_DATA_MORE)
            break;
    }
    strbuf_free(piece);
    strbuf_free(out);
    if (r == SMTPD_DATA_END) {
        if (too_big) {
            smtpd_data_abort(sess, q);
            msg_info("NOQUEUE: reject: END-OF-MESSAGE from %s[%s]: "
                     "552 5.3.4 Message size exceeds fixed limit",
                     sess->client_name, sess->client_addr);
            (void) smtpd_proto_reply(sess,
                               "552 5.3.4 Message size exceeds fixed limit");
            smtpd_proto_reset(sess);
            return 0;
        }
        if (io_fail) {
            smtpd_data_abort(sess, q);
            msg_warn("%s[%s]: cleanup write error", sess->client_name,
                     sess->client_addr);
            (void) smtpd_proto_reply(sess,
                                     "451 4.3.0 Error: queue file write error");
            smtpd_proto_reset(sess);
            return 0;
        }
        return smtpd_data_finish(sess, q);
    }
    smtpd_data_abort(sess, q);
    smtpd_proto_reset(sess);
    if (r == SMTPD_DATA_BARELF) {
        msg_info("disconnect: bare <LF> received from %s[%s]",
                 sess->client_name, sess->client_addr);
        (void) smtpd_proto_reply(sess,
                                 "521 5.5.2 %s Error: bare <LF> received",
                                 sess->cfg->myhostname);
        sess->quit = 1;
        return -1;
    }
    return smtpd_data_lost(sess, st, "DATA");
}

/* smtpd_data_bdat: receive one BDAT chunk; at LAST, queue the message. */
int     smtpd_data_bdat(smtpd_session *sess, long size, int last)
{
    char    buf[SMTPD_DATA_PIECE];
    strbuf *out = strbuf_new(2 * SMTPD_DATA_PIECE);
    enum stream_status st = STREAM_OK;
    long    left = size, total = sess->bdat_size;
    size_t  n, i;
    int     too_big = 0, io_fail = 0;

    if (sess->bdat_failed < 0)
        too_big = 1;
    while (left > 0) {
        n = left > (long) sizeof(buf) ? sizeof(buf) : (size_t) left;
        st = stream_read_exact(sess->client, buf, n);
        if (st != STREAM_OK)
            break;
        left -= (long) n;
        if (sess->bdat_q == NULL || sess->bdat_failed)
            continue;                   /* read and dropped */
        for (i = 0; i < n; i++) {
            if (sess->bdat_pending_cr) {
                sess->bdat_pending_cr = 0;
                if (buf[i] == '\n') {
                    (void) strbuf_putc(out, '\n');
                    continue;
                }
                (void) strbuf_putc(out, '\r');
            }
            if (buf[i] == '\r')
                sess->bdat_pending_cr = 1;
            else
                (void) strbuf_putc(out, buf[i]);
        }
        if (last && left == 0 && sess->bdat_pending_cr) {
            sess->bdat_pending_cr = 0;
            (void) strbuf_putc(out, '\r');
        }
        smtpd_data_push(sess, sess->bdat_q, out, &total, &too_big, &io_fail);
        if (too_big || io_fail)
            sess->bdat_failed = too_big ? -1 : 1;
    }
    strbuf_free(out);
    sess->bdat_size = total;
    if (st != STREAM_OK) {
        smtpd_data_abort(sess, sess->bdat_q);
        sess->bdat_q = NULL;
        smtpd_proto_reset(sess);
        return smtpd_data_lost(sess, st, "BDAT");
    }
    if (sess->bdat_q == NULL) {
        /* The chunk belonged to a refused transaction: it is read, dropped
         * (bdat_failed 2: the caller has replied already). */
        if (sess->bdat_failed != 2)
            (void) smtpd_proto_reply(sess, "503 5.5.1 Error: need valid MAIL "
                                     "and RCPT before BDAT");
        return 0;
    }
    if (!last) {
        if (sess->bdat_failed)
            (void) smtpd_proto_reply(sess, "250 2.0.0 Ok: %ld bytes, "
                                     "message will be refused", size);
        else
            (void) smtpd_proto_reply(sess, "250 2.0.0 Ok: %ld bytes", size);
        return 0;
    }
    {
        void   *q = sess->bdat_q;
        int     failed = sess->bdat_failed;

        sess->bdat_q = NULL;
        if (failed < 0) {
            smtpd_data_abort(sess, q);
            (void) smtpd_proto_reply(sess,
                               "552 5.3.4 Message size exceeds fixed limit");
            smtpd_proto_reset(sess);
            return 0;
        }
        if (failed > 0) {
            smtpd_data_abort(sess, q);
            (void) smtpd_proto_reply(sess,
                                     "451 4.3.0 Error: queue file write error");
            smtpd_proto_reset(sess);
            return 0;
        }
        return smtpd_data_finish(sess, q);
    }
}
