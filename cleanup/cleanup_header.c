/*
 * cleanup_header: header checks and edits in cleanup.
 *
 * cleanup_header_scan(st)
 *     Parses the header block of st->content (header_parse with
 *     header_size_limit per field: what passes it, and everything after,
 *     is body text), counts Received:/Delivered-To: fields against
 *     hopcount_limit (more: status 5, "5.4.6 too many hops"), notes which
 *     of From:, Date:, Message-ID:, To:/Cc:/Bcc: are present and whether
 *     any Resent- field is, and with CLEANUP_F_EXTRACT adds the
 *     addresses of To:, Cc: and Bcc: (Resent-To:, Resent-Cc:,
 *     Resent-Bcc: when the message has Resent- fields) to the
 *     recipients (at most CLEANUP_RCPT_MAX in all, else status 5). Then
 *     it rewrites every address in From:, Sender:, Reply-To:,
 *     Return-Receipt-To:, Errors-To: (sender class) and To:, Cc:, Bcc:,
 *     Apparently-To: (recipient class), and their Resent- forms, with
 *     cleanup_addr_header in the mode cleanup_addr_header_mode gives:
 *     only the address text changes (a completed address keeps its
 *     spelling and gains the missing part; a replaced one is written in
 *     external form), phrases, comments, groups and folding stay. This
 *     happens before a queue file exists, so a table failure refuses
 *     the message (status 4). 0, or -1 with the state failed.
 * cleanup_header_build(st, now)
 *     Sets st->headers to the header block to queue: our Received:
 *     field first (with "(using <TLS summary>)" and "(Authenticated
 *     sender: <login>)" when smtpd sent the tls_summary and
 *     sasl_username attributes), the original fields in order minus those named in
 *     message_drop_headers (default Bcc:, Content-Length:, Resent-Bcc:,
 *     Return-Path:; Bcc: and Resent-Bcc: always with
 *     CLEANUP_F_EXTRACT), with the address fields as
 *     cleanup_header_scan rewrote them, then the fields
 *     that are missing: Message-ID:, Date:, From: and, when no To:,
 *     Cc: or (kept) Bcc: is left, "To: undisclosed-recipients:;". Needs
 *     st->queue_id. Sets st->message_id for the log.
 * cleanup_header_date(when, out): RFC 5322 date-time of when (local time).
 * cleanup_header_phrase(name, out): name as an RFC 5322 phrase (quoted
 *     when it holds specials; CR, LF and other controls dropped).
 *
 * SECURITY: the header block is untrusted; parsing is bounded by
 * header_parse and hdr_addr_parse. Values we insert (full name, HELO
 * name, client name) come from less trusted processes and lose control
 * characters first, so they cannot start new header fields.
 *
 * LIMITS: header_size_limit bytes per field, CLEANUP_HEADER_FIELDS
 * fields, CLEANUP_HEADER_ADDRS addresses per address field.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "addr.h"
#include "cleanup.h"
#include "cleanup_client.h"
#include "hdr_addr.h"
#include "header.h"
#include "mem.h"
#include "msg.h"
#include "strbuf.h"
#include "strutil.h"

#define CLEANUP_HEADER_FIELDS   10000
#define CLEANUP_HEADER_ADDRS    10000
#define CLEANUP_TEXT_MAX        255     /* inserted names, after cleaning */

/* Address fields rewritten as sender addresses (canonical_classes
 * header_sender) and as recipient addresses (header_recipient). */
static const char *const cleanup_sender_fields[] = {
    "From", "Sender", "Reply-To", "Return-Receipt-To", "Errors-To",
    "Resent-From", "Resent-Sender", "Resent-Reply-To", NULL
};
static const char *const cleanup_rcpt_fields[] = {
    "To", "Cc", "Bcc", "Apparently-To", "Resent-To", "Resent-Cc", "Resent-Bcc", NULL
};

/* cleanup_header_in: is the field named in a NULL-terminated list */
static int cleanup_header_in(const header_field *f, const char *const *names)
{
    for (; *names != NULL; names++)
        if (header_is(f, *names))
            return 1;
    return 0;
}

/* cleanup_header_dropped: is f removed from the queued message */
static int cleanup_header_dropped(const cleanup_state *st, const header_field *f)
{
    const char *const *names = st->cfg->drop_headers;

    if ((st->flags & CLEANUP_F_EXTRACT)
        && (header_is(f, "Bcc") || header_is(f, "Resent-Bcc")))
        return 1;
    for (; names != NULL && *names != NULL; names++)
        if (header_is(f, *names))
            return 1;
    return 0;
}

/* cleanup_header_extract: add the addresses of one field as recipients */
static void cleanup_header_extract(cleanup_state *st, const header_field *f)
{
    const char *val;
    size_t  len;
    hdr_addr_list *list;
    size_t  i;

    header_raw_value(f, &val, &len);
    list = hdr_addr_parse(val, len, CLEANUP_HEADER_ADDRS, ADDR_F_LOCAL_OK);
    for (i = 0; i < list->count; i++) {
        const char *a = list->items[i].addr;

        if (*a == 0 || (list->items[i].flags & HDR_ADDR_INVALID)
            || strpbrk(a, "\r\n") != NULL)
            continue;
        if (st->nrcpts >= CLEANUP_RCPT_MAX) {
            cleanup_state_fail(st, 5, "5.5.3 too many recipients");
            break;
        }
        cleanup_rcpt_add(&st->rcpts, &st->nrcpts, &st->rcpts_size, a, NULL,
                         NULL, 0);
    }
    hdr_addr_list_free(list);
}

static int cleanup_header_rewrite(cleanup_state *st, const header_field *f, int class,
                                  int mode, strbuf *out);

/* cleanup_header_addresses: rewrite the address fields now, before a
 * queue file exists, so that a table failure can still refuse the
 * message; cleanup_header_build uses the results. 0 or -1 (failed). */
static int cleanup_header_addresses(cleanup_state *st)
{
    const header_block *hb = st->hb;
    int     mode = cleanup_addr_header_mode(st);
    strbuf *out;
    size_t  i;
    int     class;

    if (mode == CLEANUP_HDR_NONE || hb->count == 0)
        return 0;
    st->rewritten = mem_calloc(hb->count, sizeof(*st->rewritten));
    out = strbuf_new(256);
    for (i = 0; i < hb->count; i++) {
        const header_field *f = hb->fields + i;

        if (cleanup_header_in(f, cleanup_sender_fields))
            class = CLEANUP_CLASS_HDR_SENDER;
        else if (cleanup_header_in(f, cleanup_rcpt_fields))
            class = CLEANUP_CLASS_HDR_RCPT;
        else
            continue;
        strbuf_reset(out);
        if (cleanup_header_rewrite(st, f, class, mode, out) < 0) {
            strbuf_free(out);
            return -1;
        }
        if (out->len != f->len || memcmp(out->data, f->text, f->len) != 0)
            st->rewritten[i] = mem_strdup(strbuf_str(out));
    }
    strbuf_free(out);
    return 0;
}

/* cleanup_header_scan: checks and recipient extraction */
int     cleanup_header_scan(cleanup_state *st)
{
    static const char *const dest[] = {"To", "Cc", "Bcc", NULL};
    static const char *const rdest[] = {"Resent-To", "Resent-Cc", "Resent-Bcc", NULL};
    header_block *hb;
    long    hops = 0;
    size_t  i;

    hb = st->hb = header_parse(st->content->data, st->content->len,
                               (size_t) st->cfg->header_size_limit,
                               CLEANUP_HEADER_FIELDS);
    st->body_offset = hb->body_offset;
    for (i = 0; i < hb->count; i++) {
        const header_field *f = hb->fields + i;

        if (header_is(f, "Received") || header_is(f, "Delivered-To"))
            hops++;
        if (header_has_prefix(f, "Resent-"))
            st->resent = 1;
        if (header_is(f, "From"))
            st->have_from = 1;
        else if (header_is(f, "Date"))
            st->have_date = 1;
        else if (header_is(f, "Message-ID")) {
            strbuf *v = strbuf_new(64);

            st->have_msgid = 1;
            header_value(f, v);
            if (st->message_id == NULL)
                st->message_id = strbuf_detach(v, NULL);
            else
                strbuf_free(v);
        } else if ((header_is(f, "To") || header_is(f, "Cc") || header_is(f, "Bcc"))
                   && !cleanup_header_dropped(st, f))
            /* A field that is removed does not count. */
            st->have_dest = 1;
    }
    if (hops > st->cfg->hopcount_limit) {
        cleanup_state_fail(st, 5, "5.4.6 too many hops");
        return -1;
    }
    if (st->flags & CLEANUP_F_EXTRACT)
        for (i = 0; i < hb->count && st->status == 0; i++)
            if (cleanup_header_in(hb->fields + i, st->resent ? rdest : dest))
                cleanup_header_extract(st, hb->fields + i);
    if (st->status == 0)
        (void) cleanup_header_addresses(st);
    return st->status == 0 ? 0 : -1;
}

/* cleanup_header_date: RFC 5322 date-time */
void    cleanup_header_date(long when, strbuf *out)
{
    static const char *const days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
    "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    time_t  t = (time_t) when;
    struct tm tm;
    long    off;
    char    zone[16];

    if (localtime_r(&t, &tm) == NULL) {
        gmtime_r(&t, &tm);
        tm.tm_gmtoff = 0;
    }
    off = tm.tm_gmtoff / 60;
    if (strftime(zone, sizeof(zone), "%Z", &tm) == 0)
        zone[0] = 0;
    strbuf_setf(out, "%s, %d %s %d %02d:%02d:%02d %c%02ld%02ld",
                days[tm.tm_wday % 7], tm.tm_mday, months[tm.tm_mon % 12],
                tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec,
                off < 0 ? '-' : '+', (off < 0 ? -off : off) / 60,
                (off < 0 ? -off : off) % 60);
    if (zone[0] != 0 && strpbrk(zone, "()\\\r\n") == NULL)
        strbuf_printf(out, " (%s)", zone);
}

/* cleanup_header_clean: copy text without control characters, bounded */
static void cleanup_header_clean(const char *text, strbuf *out)
{
    strbuf_reset(out);
    for (; *text != 0 && out->len < CLEANUP_TEXT_MAX; text++) {
        unsigned char ch = (unsigned char) *text;

        if (ch < 0x20 || ch == 0x7F)
            continue;
        strbuf_putc(out, ch);
    }
}

/* cleanup_header_phrase: a display name as an RFC 5322 phrase */
void    cleanup_header_phrase(const char *name, strbuf *out)
{
    strbuf *clean = strbuf_new(64);
    size_t  i;

    cleanup_header_clean(name, clean);
    strbuf_reset(out);
    if (strpbrk(strbuf_str(clean), "()<>[]:;@\\,.\"") == NULL) {
        strbuf_puts(out, strbuf_str(clean));
    } else {
        strbuf_putc(out, '"');
        for (i = 0; i < clean->len; i++) {
            if (clean->data[i] == '"' || clean->data[i] == '\\')
                strbuf_putc(out, '\\');
            strbuf_putc(out, clean->data[i]);
        }
        strbuf_putc(out, '"');
    }
    strbuf_free(clean);
}

/* cleanup_header_rewrite: copy an address field, rewriting each address
 * (cleanup_addr_header) and keeping phrases, comments and folding */
static int cleanup_header_rewrite(cleanup_state *st, const header_field *f, int class,
                                  int mode, strbuf *out)
{
    const char *val;
    size_t  len;
    size_t  pos = 0;
    size_t  i;
    hdr_addr_list *list;
    strbuf *full = strbuf_new(64);
    strbuf *ext = strbuf_new(64);
    int     rc = 0;

    header_raw_value(f, &val, &len);
    list = hdr_addr_parse(val, len, CLEANUP_HEADER_ADDRS, ADDR_F_LOCAL_OK);
    strbuf_append(out, f->text, (size_t) (val - f->text));
    for (i = 0; rc == 0 && i < list->count; i++) {
        const hdr_addr_item *it = list->items + i;
        const char *old = it->addr;
        size_t  olen = strlen(old);

        if ((it->flags & HDR_ADDR_INVALID) || it->end > len || it->start < pos
            || it->start > it->end || *old == 0)
            continue;
        if (cleanup_addr_header(st, class, mode, old, full) < 0) {
            rc = -1;
            break;
        }
        if (strcmp(strbuf_str(full), old) == 0 || strpbrk(strbuf_str(full), "\r\n"))
            continue;
        if (strncmp(strbuf_str(full), old, olen) == 0) {
            /* Only completed: keep the text as written, add the rest. */
            strbuf_append(out, val + pos, it->end - pos);
            strbuf_puts(out, strbuf_str(full) + olen);
        } else {
            if (addr_internal_to_external(strbuf_str(full), ext) < 0)
                continue;
            strbuf_append(out, val + pos, it->start - pos);
            strbuf_puts(out, strbuf_str(ext));
        }
        pos = it->end;
    }
    strbuf_append(out, val + pos, len - pos);
    hdr_addr_list_free(list);
    strbuf_free(full);
    strbuf_free(ext);
    return rc;
}

/* cleanup_header_received: our Received: field */
static void cleanup_header_received(cleanup_state *st, const char *date)
{
    strbuf *a = strbuf_new(64);
    strbuf *b = strbuf_new(64);
    strbuf *c = strbuf_new(64);

    strbuf_puts(st->headers, "Received: ");
    if (st->client_addr != NULL || st->client_name != NULL) {
        cleanup_header_clean(st->helo_name ? st->helo_name
                             : st->client_name ? st->client_name : "unknown", a);
        cleanup_header_clean(st->client_name ? st->client_name : "unknown", b);
        cleanup_header_clean(st->client_addr ? st->client_addr : "unknown", c);
        strbuf_printf(st->headers, "from %s (%s [%s])\n\t", strbuf_str(a),
                      strbuf_str(b), strbuf_str(c));
        if (st->tls_summary != NULL) {
            cleanup_header_clean(st->tls_summary, a);
            strbuf_printf(st->headers, "(using %s)\n\t", strbuf_str(a));
        }
        if (st->sasl_username != NULL) {
            cleanup_header_clean(st->sasl_username, a);
            strbuf_printf(st->headers, "(Authenticated sender: %s)\n\t",
                          strbuf_str(a));
        }
        cleanup_header_clean(st->client_proto ? st->client_proto : "SMTP", a);
        strbuf_printf(st->headers, "by %s (Postern) with %s id %s;\n\t%s\n",
                      st->cfg->myhostname, strbuf_str(a),
                      strbuf_str(st->queue_id), date);
    } else if (st->submit_uid >= 0) {
        strbuf_printf(st->headers, "by %s (Postern, from userid %ld)\n\tid %s; %s\n",
                      st->cfg->myhostname, st->submit_uid,
                      strbuf_str(st->queue_id), date);
    } else {
        strbuf_printf(st->headers, "by %s (Postern)\n\tid %s; %s\n",
                      st->cfg->myhostname, strbuf_str(st->queue_id), date);
    }
    strbuf_free(a);
    strbuf_free(b);
    strbuf_free(c);
}

/* cleanup_header_build: the header block to queue */
void    cleanup_header_build(cleanup_state *st, long now)
{
    const header_block *hb = st->hb;
    strbuf *date = strbuf_new(64);
    strbuf *tmp = strbuf_new(64);
    struct tm tm;
    time_t  t = (time_t) now;
    size_t  i;

    cleanup_header_date(now, date);
    strbuf_reset(st->headers);
    cleanup_header_received(st, strbuf_str(date));
    for (i = 0; i < hb->count; i++) {
        const header_field *f = hb->fields + i;

        if (cleanup_header_dropped(st, f))
            continue;
        if (st->rewritten != NULL && st->rewritten[i] != NULL) {
            strbuf_puts(st->headers, st->rewritten[i]);
            strbuf_putc(st->headers, '\n');
            continue;
        }
        strbuf_append(st->headers, f->text, f->len);
        strbuf_putc(st->headers, '\n');
    }
    if (!st->have_msgid) {
        if (gmtime_r(&t, &tm) == NULL)
            memset(&tm, 0, sizeof(tm));
        strbuf_setf(tmp, "<%s.%04d%02d%02d%02d%02d%02d@%s>", strbuf_str(st->queue_id),
                    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                    tm.tm_min, tm.tm_sec, st->cfg->myhostname);
        strbuf_printf(st->headers, "Message-ID: %s\n", strbuf_str(tmp));
        mem_free(st->message_id);
        st->message_id = mem_strdup(strbuf_str(tmp));
    }
    if (!st->have_date)
        strbuf_printf(st->headers, "Date: %s\n", strbuf_str(date));
    if (!st->have_from) {
        strbuf *ext = strbuf_new(64);

        if (*st->sender == 0)
            strbuf_setf(ext, "MAILER-DAEMON");
        else if (addr_internal_to_external(st->sender, ext) < 0)
            strbuf_setf(ext, "%s", st->sender);
        strbuf_puts(st->headers, "From: ");
        if (st->full_name != NULL && *st->full_name != 0) {
            cleanup_header_phrase(st->full_name, tmp);
            if (tmp->len > 0)
                strbuf_printf(st->headers, "%s ", strbuf_str(tmp));
            strbuf_printf(st->headers, "<%s>\n", strbuf_str(ext));
        } else {
            strbuf_printf(st->headers, "%s\n", strbuf_str(ext));
        }
        strbuf_free(ext);
    }
    if (!st->have_dest)
        strbuf_puts(st->headers, "To: undisclosed-recipients:;\n");
    strbuf_free(date);
    strbuf_free(tmp);
}
