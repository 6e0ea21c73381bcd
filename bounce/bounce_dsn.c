/*
 * bounce_dsn: decide which notices a failed message gets, and write them
 * as RFC 3464 delivery status notifications.
 *
 * Public functions:
 *   bounce_dsn_classes(list, count): the BOUNCE_CLASS_* bits named in a
 *     notify_classes list (case-insensitive; other class names, which
 *     other programs act on, are ignored).
 *   bounce_dsn_plan(sender, envid, classes, double_bounce_sender, conf):
 *     the BOUNCE_PLAN_* bits for a message from sender (envelope, "" =
 *     null sender) with DSN ENVID envid (or NULL):
 *       - a notice we sent to the postmaster (null sender and ENVID
 *         BOUNCE_DSN_ENVID_POSTMASTER), or mail from double_bounce_sender
 *         (bare, or at myhostname or myorigin): DISCARD, log only;
 *       - any other null-sender mail (a failed bounce): 2BOUNCE when the
 *         2bounce class is on, else NO_2BOUNCE (log only), like Postfix;
 *       - everything else: SENDER, plus COPY when the bounce class is on.
 *   bounce_dsn_wanted(rcpt): 1 when the recipient's NOTIFY flags ask for
 *     a failure notice (no NOTIFY given, or NOTIFY includes FAILURE).
 *   bounce_dsn_delay_wanted(rcpt): 1 when they allow a delay warning (no
 *     NOTIFY given, or NOTIFY includes DELAY; never with NEVER).
 *   A BOUNCE_DSN_DELAY notice says the mail is still being retried,
 *   reports each recipient with "Action: delayed" and a 4.X.Y status
 *   (4.0.0 when the logged one is not a 4.X.Y code), and always attaches
 *   only the original's headers.
 *   bounce_dsn_compose(msg, conf, out, &eightbit): replace out with the
 *     whole notice (headers and body, LF line ends), a multipart/report
 *     with three parts: a text/plain explanation listing each recipient
 *     and its reason, message/delivery-status (RFC 3464 fields), and the
 *     original as message/rfc822 (when it is within size_limit, RET is
 *     not HDRS and the notice is not a postmaster COPY) or else its
 *     header block as text/rfc822-headers. *eightbit (may be NULL) is
 *     set to 1 when the notice holds 8-bit bytes (only possible in the
 *     attached original). Returns 0, or -1 when out's limit is passed
 *     (out is then incomplete).
 *   bounce_dsn_date(when, out): replace out with when as an RFC 5322
 *     date in local time ("Sun, 22 Nov 2026 11:27:08 +0000").
 *
 * SECURITY: everything about the failed message is untrusted: header
 * lines, addresses, and reasons (which may quote a remote server's
 * reply). Texts put into our own header fields and report fields are
 * made single-line 7-bit ASCII (control characters become spaces, 8-bit
 * bytes '?') and folded, so they cannot add fields, end the header, or
 * fake a MIME boundary. The boundary is checked against the finished
 * notice and changed until no line of the original can be taken for it
 * (after BOUNCE_DSN_TRIES variants only the original's header block is
 * attached, which cannot hold such a line).
 * LIMITS: each report text is cut at BOUNCE_DSN_TEXT_MAX bytes; the
 * attached original is at most size_limit bytes of the message, else
 * only its header block (itself at most content_len bytes).
 */
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/types.h>
#include <time.h>

#include "bounce_dsn.h"
#include "header.h"
#include "qfile.h"
#include "strbuf.h"
#include "strutil.h"

#define BOUNCE_DSN_TEXT_MAX     900     /* bytes of one report text */
#define BOUNCE_DSN_FOLD         76      /* fold report lines after this */
#define BOUNCE_DSN_BOUNDARY_MAX 70      /* RFC 2046 boundary length */
#define BOUNCE_DSN_TRIES        100     /* boundary variants to try */

/* bounce_dsn_classes: notify_classes list to BOUNCE_CLASS_* bits */
int     bounce_dsn_classes(const char *const *list, size_t count)
{
    int     classes = 0;
    size_t  i;

    for (i = 0; i < count; i++) {
        if (str_casecmp(list[i], "bounce") == 0)
            classes |= BOUNCE_CLASS_BOUNCE;
        else if (str_casecmp(list[i], "2bounce") == 0)
            classes |= BOUNCE_CLASS_2BOUNCE;
    }
    return (classes);
}

/* bounce_dsn_is_double: 1 when sender is the double-bounce address */
static int bounce_dsn_is_double(const char *sender, const char *dbl,
                                const bounce_dsn_conf *conf)
{
    size_t  len;
    const char *domain;

    if (dbl == NULL || *dbl == 0)
        return (0);
    if (str_casecmp(sender, dbl) == 0)
        return (1);
    len = strlen(dbl);
    if (strncasecmp(sender, dbl, len) != 0 || sender[len] != '@')
        return (0);
    domain = sender + len + 1;
    return ((conf->myhostname && str_casecmp(domain, conf->myhostname) == 0)
            || (conf->myorigin && str_casecmp(domain, conf->myorigin) == 0));
}

/* bounce_dsn_plan: which notices a failed message gets */
int     bounce_dsn_plan(const char *sender, const char *envid, int classes,
                        const char *double_bounce_sender,
                        const bounce_dsn_conf *conf)
{
    if (*sender == 0) {
        if (envid != NULL && strcmp(envid, BOUNCE_DSN_ENVID_POSTMASTER) == 0)
            return (BOUNCE_PLAN_DISCARD);
        return ((classes & BOUNCE_CLASS_2BOUNCE) ? BOUNCE_PLAN_2BOUNCE
                : BOUNCE_PLAN_NO_2BOUNCE);
    }
    if (bounce_dsn_is_double(sender, double_bounce_sender, conf))
        return (BOUNCE_PLAN_DISCARD);
    return (BOUNCE_PLAN_SENDER
            | ((classes & BOUNCE_CLASS_BOUNCE) ? BOUNCE_PLAN_COPY : 0));
}

/* bounce_dsn_delay_wanted: 1 when NOTIFY allows a delay warning */
int     bounce_dsn_delay_wanted(const bounce_dsn_rcpt *rcpt)
{
    return (rcpt->notify == 0 || (rcpt->notify & QFILE_NOTIFY_DELAY) != 0);
}

/* bounce_dsn_wanted: 1 when NOTIFY asks for a failure notice */
int     bounce_dsn_wanted(const bounce_dsn_rcpt *rcpt)
{
    return (rcpt->notify == 0 || (rcpt->notify & QFILE_NOTIFY_FAILURE) != 0);
}

/* bounce_dsn_date: RFC 5322 date of when, in local time */
void    bounce_dsn_date(long when, strbuf *out)
{
    time_t  t = (time_t) when;
    struct tm tm;
    char    buf[64];

    if (localtime_r(&t, &tm) == NULL
        || strftime(buf, sizeof(buf), "%a, %d %b %Y %H:%M:%S %z", &tm) == 0)
        str_copy(buf, sizeof(buf), "Thu, 01 Jan 1970 00:00:00 +0000");
    strbuf_set(out, buf, strlen(buf));
}

/* bounce_dsn_clean: append text as one line of 7-bit ASCII, bounded */
static void bounce_dsn_clean(strbuf *out, const char *text, size_t max)
{
    const unsigned char *cp;
    size_t  n = 0;

    for (cp = (const unsigned char *) text; *cp && n < max; cp++, n++) {
        if (*cp < 0x20 || *cp == 0x7f)
            strbuf_putc(out, ' ');
        else if (*cp >= 0x80)
            strbuf_putc(out, '?');
        else
            strbuf_putc(out, *cp);
    }
}

/* bounce_dsn_fold: append "lead value" folded at spaces, then LF */
static void bounce_dsn_fold(strbuf *out, const char *lead, const char *value)
{
    strbuf *clean = strbuf_new(256);
    const char *cp;
    const char *sp;
    size_t  col;
    size_t  wlen;

    bounce_dsn_clean(clean, value, BOUNCE_DSN_TEXT_MAX);
    strbuf_puts(out, lead);
    col = strlen(lead);
    cp = strbuf_str(clean);
    while (*cp == ' ')
        cp++;
    while (*cp) {
        sp = strchr(cp, ' ');
        wlen = sp ? (size_t) (sp - cp) : strlen(cp);
        /* Break before a word that would pass the fold column, unless the
         * line holds nothing but the lead yet. */
        if (col > strlen(lead) && col + 1 + wlen > BOUNCE_DSN_FOLD) {
            /* The fold takes the place of the separating space. */
            strbuf_puts(out, "\n ");
            col = 1;
        } else if (col > strlen(lead) || (col > 0 && lead[col - 1] != ' ')) {
            strbuf_putc(out, ' ');
            col++;
        }
        strbuf_append(out, cp, wlen);
        col += wlen;
        cp += wlen;
        while (*cp == ' ')
            cp++;
    }
    strbuf_putc(out, '\n');
    strbuf_free(clean);
}

/* bounce_dsn_status_ok: 1 for a DSN status class.subject.detail */
static int bounce_dsn_status_ok(const char *s)
{
    int     i;
    int     digits;

    if (s == NULL || (s[0] != '2' && s[0] != '4' && s[0] != '5') || s[1] != '.')
        return (0);
    s += 2;
    for (i = 0; i < 2; i++) {
        for (digits = 0; *s >= '0' && *s <= '9'; s++)
            digits++;
        if (digits < 1 || digits > 3)
            return (0);
        if (i == 0 && *s++ != '.')
            return (0);
    }
    return (*s == 0);
}

/* bounce_dsn_addr: append addr for a header, qualified with origin */
static void bounce_dsn_addr(strbuf *out, const char *addr, const char *origin)
{
    strbuf_putc(out, '<');
    bounce_dsn_clean(out, addr, BOUNCE_DSN_TEXT_MAX);
    if (*addr && strchr(addr, '@') == NULL && origin && *origin) {
        strbuf_putc(out, '@');
        bounce_dsn_clean(out, origin, BOUNCE_DSN_TEXT_MAX);
    }
    strbuf_putc(out, '>');
}

/* bounce_dsn_is_smtp: 1 when reason starts with an SMTP reply code */
static int bounce_dsn_is_smtp(const char *reason)
{
    return (reason[0] >= '2' && reason[0] <= '5'
            && reason[1] >= '0' && reason[1] <= '9'
            && reason[2] >= '0' && reason[2] <= '9'
            && (reason[3] == ' ' || reason[3] == '-'));
}

/* bounce_dsn_has_8bit: 1 when the bytes hold a byte above 0x7F */
static int bounce_dsn_has_8bit(const char *data, size_t len)
{
    size_t  i;

    for (i = 0; i < len; i++)
        if ((unsigned char) data[i] & 0x80)
            return (1);
    return (0);
}

/* bounce_dsn_human: the text/plain part's body */
static void bounce_dsn_human(const bounce_dsn_msg *msg,
                             const bounce_dsn_conf *conf, int full,
                             strbuf *out)
{
    strbuf *lead = strbuf_new(256);
    size_t  i;

    strbuf_printf(out, "This report comes from the %s mail system at host %s.\n\n",
                  conf->mail_name, conf->myhostname);
    switch (msg->kind) {
    case BOUNCE_DSN_COPY:
        strbuf_puts(out,
                    "Postmaster copy: the sender of the message below was told that\n"
                    "it could not be delivered to the recipients listed here. Only the\n"
                    "headers of the message are attached.\n");
        break;
    case BOUNCE_DSN_2BOUNCE:
        strbuf_puts(out,
                    "A delivery status notification that this mail system sent could\n"
                    "not be delivered either. It is attached for the postmaster; no\n"
                    "further notice will be sent about it.\n");
        break;
    case BOUNCE_DSN_DELAY:
        strbuf_puts(out,
                    "This is a warning only: you do not need to send your message\n"
                    "again. It has not yet reached the recipients listed below, and\n"
                    "this mail system is still trying to deliver it. You will hear\n"
                    "again if it finally gives up. The original message's headers\n"
                    "are attached.\n");
        break;
    default:
        strbuf_printf(out,
                      "Your message could not be delivered to one or more of its\n"
                      "recipients, and this mail system has given up trying. Each\n"
                      "recipient is listed below with the reason. The original\n"
                      "%s attached.\n\n"
                      "If you need help, send this report to the postmaster of\n"
                      "your own mail system; please keep the attached parts.\n",
                      full ? "message is" : "message's headers are");
        break;
    }
    strbuf_printf(out, "\n%*sThe %s program\n\n", 19, "", conf->mail_name);
    for (i = 0; i < msg->nrcpts; i++) {
        const bounce_dsn_rcpt *r = msg->rcpts + i;

        strbuf_reset(lead);
        bounce_dsn_addr(lead, r->recipient, NULL);
        if (r->orig && *r->orig && strcmp(r->orig, r->recipient) != 0) {
            strbuf_puts(lead, " (expanded from ");
            bounce_dsn_addr(lead, r->orig, NULL);
            strbuf_putc(lead, ')');
        }
        strbuf_putc(lead, ':');
        bounce_dsn_fold(out, strbuf_str(lead),
                        r->reason && *r->reason ? r->reason
                        : msg->kind == BOUNCE_DSN_DELAY ? "delivery delayed"
                        : "delivery failed");
        strbuf_putc(out, '\n');
    }
    strbuf_free(lead);
}

/* bounce_dsn_status_part: the message/delivery-status part's body */
static void bounce_dsn_status_part(const bounce_dsn_msg *msg,
                                   const bounce_dsn_conf *conf, strbuf *out)
{
    strbuf *tmp = strbuf_new(256);
    const char *semi;
    const char *bracket;
    size_t  i;

    bounce_dsn_fold(out, "Reporting-MTA: dns;", conf->myhostname);
    bounce_dsn_fold(out, "X-Postern-Queue-ID:", msg->queue_id);
    strbuf_set(tmp, "rfc822; ", 8);
    strbuf_puts(tmp, msg->sender);
    bounce_dsn_fold(out, "X-Postern-Sender:", strbuf_str(tmp));
    if (msg->envid && *msg->envid)
        bounce_dsn_fold(out, "Original-Envelope-Id:", msg->envid);
    bounce_dsn_date(msg->arrival, tmp);
    bounce_dsn_fold(out, "Arrival-Date:", strbuf_str(tmp));

    for (i = 0; i < msg->nrcpts; i++) {
        const bounce_dsn_rcpt *r = msg->rcpts + i;

        strbuf_putc(out, '\n');
        strbuf_setf(tmp, "rfc822; %s", r->recipient);
        bounce_dsn_fold(out, "Final-Recipient:", strbuf_str(tmp));
        if (r->orcpt && (semi = strchr(r->orcpt, ';')) != NULL && semi > r->orcpt) {
            strbuf_set(tmp, r->orcpt, (size_t) (semi - r->orcpt));
            strbuf_puts(tmp, "; ");
            semi++;
            while (*semi == ' ')
                semi++;
            strbuf_puts(tmp, semi);
            bounce_dsn_fold(out, "Original-Recipient:", strbuf_str(tmp));
        } else if (r->orig && *r->orig && strcmp(r->orig, r->recipient) != 0) {
            strbuf_setf(tmp, "rfc822; %s", r->orig);
            bounce_dsn_fold(out, "Original-Recipient:", strbuf_str(tmp));
        }
        if (msg->kind == BOUNCE_DSN_DELAY) {
            strbuf_puts(out, "Action: delayed\n");
            strbuf_printf(out, "Status: %s\n",
                          bounce_dsn_status_ok(r->dsn_status)
                          && r->dsn_status[0] == '4' ? r->dsn_status : "4.0.0");
        } else {
            strbuf_puts(out, "Action: failed\n");
            strbuf_printf(out, "Status: %s\n",
                          bounce_dsn_status_ok(r->dsn_status)
                          && r->dsn_status[0] != '2' ? r->dsn_status : "5.0.0");
        }
        if (r->relay && *r->relay && strcmp(r->relay, "local") != 0
            && strcmp(r->relay, "none") != 0) {
            /* "host[addr]:port" names the host; the report wants the name. */
            bracket = strchr(r->relay, '[');
            strbuf_set(tmp, "dns; ", 5);
            if (bracket && bracket > r->relay)
                strbuf_append(tmp, r->relay, (size_t) (bracket - r->relay));
            else
                strbuf_puts(tmp, r->relay);
            bounce_dsn_fold(out, "Remote-MTA:", strbuf_str(tmp));
        }
        if (r->reason && *r->reason) {
            strbuf_setf(tmp, "%s; %s", bounce_dsn_is_smtp(r->reason) ?
                        "smtp" : "X-Postern", r->reason);
            bounce_dsn_fold(out, "Diagnostic-Code:", strbuf_str(tmp));
        }
        if (r->time > 0) {
            bounce_dsn_date(r->time, tmp);
            bounce_dsn_fold(out, "Last-Attempt-Date:", strbuf_str(tmp));
        }
    }
    strbuf_free(tmp);
}

/* bounce_dsn_headers_len: bytes of the original's header block */
static size_t bounce_dsn_headers_len(const char *data, size_t len)
{
    header_block *hb = header_parse(data, len, 0, 0);
    size_t  end = hb->header_end;

    header_block_free(hb);
    return (end);
}

/* bounce_dsn_count: occurrences of needle at the start of a line */
static size_t bounce_dsn_count(const strbuf *hay, const char *needle)
{
    size_t  nlen = strlen(needle);
    size_t  count = 0;
    const char *cp = hay->data;
    const char *end = hay->data + hay->len;
    const char *hit;

    while (cp < end && (hit = memmem(cp, (size_t) (end - cp), needle, nlen)) != NULL) {
        if (hit == hay->data || hit[-1] == '\n')
            count++;
        cp = hit + 1;
    }
    return (count);
}

/* bounce_dsn_build: compose the notice with one boundary */
static void bounce_dsn_build(const bounce_dsn_msg *msg,
                             const bounce_dsn_conf *conf, int headers_only,
                             const char *boundary, strbuf *out, int *eightbit)
{
    strbuf *tmp = strbuf_new(256);
    const char *subject;
    const char *to;
    size_t  attach_len;
    int     full;
    int     eight;

    full = !headers_only
        && msg->kind != BOUNCE_DSN_COPY && msg->kind != BOUNCE_DSN_DELAY
        && msg->ret != QFILE_RET_HDRS
        && msg->content_size >= 0 && msg->content_size <= conf->size_limit
        && (size_t) msg->content_size <= msg->content_len;
    attach_len = full ? (size_t) msg->content_size
        : bounce_dsn_headers_len(msg->content, msg->content_len);
    eight = bounce_dsn_has_8bit(msg->content, attach_len);

    switch (msg->kind) {
    case BOUNCE_DSN_COPY:
        subject = "Postmaster Copy: Undelivered Mail";
        break;
    case BOUNCE_DSN_2BOUNCE:
        subject = "Postmaster Notice: Undeliverable Notification";
        break;
    case BOUNCE_DSN_DELAY:
        subject = "Delayed Mail (still being retried)";
        break;
    default:
        subject = "Undelivered Mail Returned to Sender";
        break;
    }
    to = msg->notice_to;

    strbuf_reset(out);
    strbuf_printf(out, "From: MAILER-DAEMON@%s (Mail Delivery System)\n",
                  conf->myhostname);
    strbuf_puts(out, "To: ");
    bounce_dsn_addr(out, to, conf->myorigin);
    strbuf_putc(out, '\n');
    strbuf_printf(out, "Subject: %s\n", subject);
    bounce_dsn_date(conf->now, tmp);
    strbuf_printf(out, "Date: %s\n", strbuf_str(tmp));
    strbuf_printf(out, "Message-ID: <%ld.%s.%d@%s>\n", conf->now, msg->queue_id,
                  (int) msg->kind, conf->myhostname);
    strbuf_puts(out, "Auto-Submitted: auto-replied\n");
    strbuf_puts(out, "MIME-Version: 1.0\n");
    strbuf_printf(out, "Content-Type: multipart/report; report-type=delivery-status;\n"
                  "\tboundary=\"%s\"\n", boundary);
    strbuf_printf(out, "Content-Transfer-Encoding: %s\n", eight ? "8bit" : "7bit");
    strbuf_puts(out, "\nThis is a MIME-encapsulated message.\n\n");

    /* Part 1: for people. */
    strbuf_printf(out, "--%s\n", boundary);
    strbuf_puts(out, "Content-Description: Notification\n"
                "Content-Type: text/plain; charset=us-ascii\n\n");
    bounce_dsn_human(msg, conf, full, out);

    /* Part 2: for programs. */
    strbuf_printf(out, "\n--%s\n", boundary);
    strbuf_puts(out, "Content-Description: Delivery report\n"
                "Content-Type: message/delivery-status\n\n");
    bounce_dsn_status_part(msg, conf, out);

    /* Part 3: the original, or its headers. */
    strbuf_printf(out, "\n--%s\n", boundary);
    if (full) {
        strbuf_puts(out, "Content-Description: Undelivered Message\n"
                    "Content-Type: message/rfc822\n");
    } else {
        strbuf_puts(out, msg->kind == BOUNCE_DSN_DELAY
                    ? "Content-Description: Delayed Message Headers\n"
                    : "Content-Description: Undelivered Message Headers\n");
        strbuf_puts(out, ""
                    "Content-Type: text/rfc822-headers\n");
    }
    if (eight)
        strbuf_puts(out, "Content-Transfer-Encoding: 8bit\n");
    strbuf_putc(out, '\n');
    strbuf_append(out, msg->content, attach_len);
    if (attach_len > 0 && msg->content[attach_len - 1] != '\n')
        strbuf_putc(out, '\n');
    strbuf_printf(out, "\n--%s--\n", boundary);
    if (eightbit)
        *eightbit = eight;
    strbuf_free(tmp);
}

/* bounce_dsn_compose: write the notice about msg into out */
int     bounce_dsn_compose(const bounce_dsn_msg *msg,
                           const bounce_dsn_conf *conf, strbuf *out,
                           int *eightbit)
{
    strbuf *boundary = strbuf_new(100);
    strbuf *delim = strbuf_new(100);
    int     attempt;
    int     rc = -1;

    /* Later attempts add an unpredictable suffix, so text planted in a
     * message cannot match every variant; the last attempt also attaches
     * only the header block. */
    for (attempt = 0; attempt <= BOUNCE_DSN_TRIES; attempt++) {
        char    suffix[40];
        unsigned long long salt = (unsigned long long) attempt;

        strbuf_setf(boundary, "%s.%ld/%s", msg->queue_id, conf->now,
                    conf->myhostname);
        if (attempt > 0) {
            if (getrandom(&salt, sizeof(salt), GRND_NONBLOCK) != (ssize_t) sizeof(salt))
                salt = (unsigned long long) attempt;
            str_format(suffix, sizeof(suffix), "/%llX", salt);
            /* Keep the distinguishing suffix when the name is long. */
            if (boundary->len + strlen(suffix) > BOUNCE_DSN_BOUNDARY_MAX)
                strbuf_truncate(boundary, BOUNCE_DSN_BOUNDARY_MAX - strlen(suffix));
            strbuf_puts(boundary, suffix);
        } else if (boundary->len > BOUNCE_DSN_BOUNDARY_MAX) {
            strbuf_truncate(boundary, BOUNCE_DSN_BOUNDARY_MAX);
        }
        strbuf_setf(delim, "--%s", strbuf_str(boundary));
        bounce_dsn_build(msg, conf, attempt == BOUNCE_DSN_TRIES,
                         strbuf_str(boundary), out, eightbit);
        if (out->limit && out->len >= out->limit)
            break;
        /* Four delimiter lines are ours (three parts and the close). */
        if (bounce_dsn_count(out, strbuf_str(delim)) == 4) {
            rc = 0;
            break;
        }
    }
    strbuf_free(boundary);
    strbuf_free(delim);
    return (rc);
}
