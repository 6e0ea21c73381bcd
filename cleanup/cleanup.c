/*
 * cleanup: the service that turns one submission into a queue file.
 *
 * smtpd, pickup and bounce connect to public/cleanup and speak the
 * cleanup protocol (lib/mail/cleanup_client.h): an envelope message,
 * one message per recipient, content chunks, and one reply. cleanup
 * checks and edits the message (cleanup_header.c), rewrites addresses
 * and expands virtual aliases (cleanup_addr.c), writes the queue file
 * into incoming/ (hold/ when held), makes it complete, triggers qmgr
 * unless held (cleanup_out.c), and
 * only then replies status=0 with the queue ID. Any failure before that
 * point leaves no file and replies status=4 (try again) or status=5
 * (rejected) with a reason that starts with an enhanced status code.
 *
 * A mail_server in SINGLE mode: one submission per connection, many
 * connections per process.
 *
 * Functions shared with the other cleanup files (cleanup.h):
 *   cleanup_state_fail(st, status, fmt, ...): record the first failure
 *     (status 4 or 5, reason text); later failures do not replace it,
 *     except that a temporary failure wins over a permanent one.
 *   cleanup_rcpt_add(&list, &count, &size, addr, orig, orcpt, notify):
 *     append a copy of a recipient to a growable array.
 *   cleanup_rcpt_free_all(list, count): free such an array.
 *
 * SECURITY: every byte of the submission is untrusted (smtpd speaks for
 * the internet). Messages are read with attr limits, checked with
 * attr_scan, and nothing a client sends reaches msg_fatal/msg_panic: a
 * protocol error ends the conversation with a logged warning. cleanup
 * runs as mail_owner and writes into incoming/ (or hold/ for CLEANUP_F_HOLD).
 *
 * LIMITS: envelope and recipient messages CLEANUP_MSG_MAX bytes with
 * values of CLEANUP_VALUE_MAX bytes; at most CLEANUP_RCPT_MAX recipients
 * per submission; content chunks of CLEANUP_CHUNK_MAX bytes; content
 * bounded by message_size_limit (the rest is read and dropped so the
 * reply stays in sync) and, since it is held in memory, by
 * CLEANUP_CONTENT_HARD_MAX when message_size_limit is 0; each header
 * field by header_size_limit.
 */
#include <arpa/inet.h>
#include <ifaddrs.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>

#include "attr.h"
#include "attr_names.h"
#include "cidr.h"
#include "cleanup.h"
#include "cleanup_client.h"
#include "dict.h"
#include "mail_server.h"
#include "maps.h"
#include "mem.h"
#include "msg.h"
#include "param.h"
#include "qfile.h"
#include "strbuf.h"

#define CLEANUP_MSG_MAX         (64 * 1024)
#define CLEANUP_VALUE_MAX       4096
#define CLEANUP_ATTR_MAX        32
#define CLEANUP_CONTENT_HARD_MAX (1024L * 1024 * 1024)

static const attr_limits cleanup_limits = {
    CLEANUP_ATTR_MAX, CLEANUP_VALUE_MAX, CLEANUP_MSG_MAX
};

static cleanup_config cleanup_cfg;

/* cleanup_state_fail: record a failure of the submission */
void    cleanup_state_fail(cleanup_state *st, int status, const char *fmt, ...)
{
    va_list ap;

    if (st->status != 0 && !(status == 4 && st->status == 5))
        return;
    st->status = status;
    va_start(ap, fmt);
    strbuf_reset(st->reason);
    strbuf_vprintf(st->reason, fmt, ap);
    va_end(ap);
}

/* cleanup_rcpt_add: append a copy of a recipient */
void    cleanup_rcpt_add(cleanup_rcpt **list, size_t *count, size_t *size,
                                 const char *addr, const char *orig,
                                 const char *orcpt, int notify)
{
    cleanup_rcpt *r;

    if (*count >= *size) {
        *size = *size ? *size * 2 : 8;
        *list = mem_realloc(*list, *size * sizeof(**list));
    }
    r = *list + (*count)++;
    r->addr = mem_strdup(addr);
    r->orig = orig ? mem_strdup(orig) : NULL;
    r->orcpt = orcpt ? mem_strdup(orcpt) : NULL;
    r->notify = notify;
}

/* cleanup_rcpt_free_all: free a recipient array */
void    cleanup_rcpt_free_all(cleanup_rcpt *list, size_t count)
{
    size_t  i;

    for (i = 0; i < count; i++) {
        mem_free(list[i].addr);
        mem_free(list[i].orig);
        mem_free(list[i].orcpt);
    }
    mem_free(list);
}

/* cleanup_dup: copy an optional string */
static char *cleanup_dup(const char *s)
{
    return s != NULL ? mem_strdup(s) : NULL;
}

/* cleanup_state_new: fresh per-submission state */
static cleanup_state *cleanup_state_new(const cleanup_config *conf)
{
    cleanup_state *st = mem_calloc(1, sizeof(*st));

    st->cfg = conf;
    st->submit_uid = -1;
    st->content = strbuf_new(8192);
    st->headers = strbuf_new(1024);
    st->reason = strbuf_new(64);
    st->queue_id = strbuf_new(32);
    return st;
}

/* cleanup_state_free: release per-submission state */
static cleanup_state *cleanup_state_free(cleanup_state *st)
{
    mem_free(st->sender);
    mem_free(st->full_name);
    mem_free(st->envid);
    mem_free(st->ret);
    mem_free(st->encoding);
    mem_free(st->client_name);
    mem_free(st->client_addr);
    mem_free(st->client_proto);
    mem_free(st->helo_name);
    mem_free(st->tls_summary);
    mem_free(st->sasl_username);
    mem_free(st->log_ident);
    mem_free(st->message_id);
    if (st->rewritten != NULL && st->hb != NULL)
        for (size_t i = 0; i < st->hb->count; i++)
            mem_free(st->rewritten[i]);
    mem_free(st->rewritten);
    header_block_free(st->hb);
    cleanup_rcpt_free_all(st->rcpts, st->nrcpts);
    strbuf_free(st->content);
    strbuf_free(st->headers);
    strbuf_free(st->reason);
    strbuf_free(st->queue_id);
    mem_free(st);
    return NULL;
}

/* cleanup_read_envelope: read and check the envelope message */
static int cleanup_read_envelope(stream *s, cleanup_state *st, long *nrcpt,
                                 strbuf *err)
{
    attr_list *l = attr_list_new();
    const char *sender = NULL, *full_name = NULL, *envid = NULL, *ret = NULL;
    const char *encoding = NULL, *cname = NULL, *caddr = NULL, *cproto = NULL;
    const char *helo = NULL, *ident = NULL, *tls = NULL, *sasl_user = NULL;
    long    flags = 0, smtputf8 = 0, uid = -1, arrival = 0;
    int     rc = -1;
    attr_spec specs[] = {
        ATTR_SPEC_LONG(ATTR_NAME_FLAGS, 1, 0, CLEANUP_F_MASK, &flags),
        ATTR_SPEC_STR(ATTR_NAME_SENDER, 1, &sender),
        ATTR_SPEC_STR(ATTR_NAME_FULL_NAME, 0, &full_name),
        ATTR_SPEC_STR(ATTR_NAME_ENVELOPE_ID, 0, &envid),
        ATTR_SPEC_STR(ATTR_NAME_RET_FLAGS, 0, &ret),
        ATTR_SPEC_LONG(ATTR_NAME_SMTPUTF8, 0, 0, 1, &smtputf8),
        ATTR_SPEC_STR(ATTR_NAME_ENCODING, 0, &encoding),
        ATTR_SPEC_STR(ATTR_NAME_CLIENT_NAME, 0, &cname),
        ATTR_SPEC_STR(ATTR_NAME_CLIENT_ADDR, 0, &caddr),
        ATTR_SPEC_STR(ATTR_NAME_CLIENT_PROTO, 0, &cproto),
        ATTR_SPEC_STR(ATTR_NAME_HELO_NAME, 0, &helo),
        ATTR_SPEC_STR(ATTR_NAME_LOG_IDENT, 0, &ident),
        ATTR_SPEC_STR(ATTR_NAME_TLS_SUMMARY, 0, &tls),
        ATTR_SPEC_STR(ATTR_NAME_SASL_USERNAME, 0, &sasl_user),
        ATTR_SPEC_LONG(ATTR_NAME_SUBMIT_UID, 0, 0, LONG_MAX, &uid),
        ATTR_SPEC_LONG(ATTR_NAME_ARRIVAL_TIME, 0, 0, LONG_MAX, &arrival),
        ATTR_SPEC_LONG(ATTR_NAME_RCPT_COUNT, 1, 0, CLEANUP_RCPT_MAX, nrcpt),
    };

    if (attr_read(s, &cleanup_limits, l, err) < 0
        || attr_scan(l, specs, (int) (sizeof(specs) / sizeof(specs[0])), err) < 0)
        goto done;
    if (ret != NULL && strcmp(ret, "FULL") != 0 && strcmp(ret, "HDRS") != 0) {
        strbuf_setf(err, "bad %s value", ATTR_NAME_RET_FLAGS);
        goto done;
    }
    if (strpbrk(sender, "\r\n") != NULL
        || (envid != NULL && strpbrk(envid, "\r\n") != NULL)) {
        strbuf_setf(err, "line break in %s", ATTR_NAME_SENDER);
        goto done;
    }
    if ((flags & CLEANUP_F_BOUNCE) && *sender != 0) {
        strbuf_setf(err, "a notification must have the null sender");
        goto done;
    }
    st->flags = (int) flags;
    st->sender = mem_strdup(sender);
    st->full_name = cleanup_dup(full_name);
    st->envid = cleanup_dup(envid);
    st->ret = cleanup_dup(ret);
    st->smtputf8 = (int) smtputf8;
    st->encoding = cleanup_dup(encoding);
    st->client_name = cleanup_dup(cname);
    st->client_addr = cleanup_dup(caddr);
    st->client_proto = cleanup_dup(cproto);
    st->helo_name = cleanup_dup(helo);
    st->tls_summary = cleanup_dup(tls);
    st->sasl_username = cleanup_dup(sasl_user);
    st->log_ident = cleanup_dup(ident);
    st->submit_uid = uid;
    st->arrival_time = arrival;
    rc = 0;
done:
    attr_list_free(l);
    return rc;
}

/* cleanup_read_rcpt: read and check one recipient message */
static int cleanup_read_rcpt(stream *s, cleanup_state *st, strbuf *err)
{
    attr_list *l = attr_list_new();
    const char *rcpt = NULL, *orig = NULL, *orcpt = NULL;
    long    notify = 0;
    int     rc = -1;
    attr_spec specs[] = {
        ATTR_SPEC_STR(ATTR_NAME_RECIPIENT, 1, &rcpt),
        ATTR_SPEC_STR(ATTR_NAME_ORIGINAL_RCPT, 0, &orig),
        ATTR_SPEC_STR(ATTR_NAME_DSN_ORCPT, 0, &orcpt),
        ATTR_SPEC_LONG(ATTR_NAME_NOTIFY_FLAGS, 0, 0, 15, &notify),
    };

    if (attr_read(s, &cleanup_limits, l, err) == 0
        && attr_scan(l, specs, (int) (sizeof(specs) / sizeof(specs[0])), err) == 0) {
        if (*rcpt == 0 || strpbrk(rcpt, "\r\n") != NULL
            || (orig != NULL && strpbrk(orig, "\r\n") != NULL)
            || (orcpt != NULL && (strchr(orcpt, ';') == NULL
                                  || strpbrk(orcpt, "\r\n") != NULL))
            || ((notify & QFILE_NOTIFY_NEVER) && notify != QFILE_NOTIFY_NEVER))
            strbuf_setf(err, "bad recipient attributes");
        else {
            cleanup_rcpt_add(&st->rcpts, &st->nrcpts, &st->rcpts_size,
                             rcpt, orig, orcpt, (int) notify);
            rc = 0;
        }
    }
    attr_list_free(l);
    return rc;
}

/* cleanup_read_content: read content chunks up to size=0 */
static int cleanup_read_content(stream *s, cleanup_state *st, strbuf *err)
{
    attr_list *l = attr_list_new();
    char   *buf = mem_alloc(CLEANUP_CHUNK_MAX);
    long    limit = st->cfg->message_size_limit;
    long    size;
    int     rc = -1;
    attr_spec specs[] = {
        ATTR_SPEC_LONG(ATTR_NAME_SIZE, 1, 0, CLEANUP_CHUNK_MAX, &size),
    };

    if (limit <= 0 || limit > CLEANUP_CONTENT_HARD_MAX)
        limit = CLEANUP_CONTENT_HARD_MAX;
    for (;;) {
        size = -1;
        if (attr_read(s, &cleanup_limits, l, err) < 0
            || attr_scan(l, specs, 1, err) < 0)
            break;
        if (size == 0) {
            rc = 0;
            break;
        }
        if (stream_read_exact(s, buf, (size_t) size) != STREAM_OK) {
            strbuf_setf(err, "content chunk of %ld bytes cut short", size);
            break;
        }
        /* Past the limit: keep reading so the reply stays in sync. */
        if (st->too_big || (long) st->content->len > limit - size)
            st->too_big = 1;
        else
            strbuf_append(st->content, buf, (size_t) size);
    }
    mem_free(buf);
    attr_list_free(l);
    return rc;
}

/* cleanup_reply: send the verdict */
static void cleanup_reply(stream *s, cleanup_state *st)
{
    attr_list *l = attr_list_new();

    attr_list_add_long(l, ATTR_NAME_STATUS, st->status);
    if (st->status == 0)
        attr_list_add_str(l, ATTR_NAME_QUEUE_ID, strbuf_str(st->queue_id));
    else
        attr_list_add_str(l, ATTR_NAME_REASON, strbuf_str(st->reason));
    if (attr_write(s, l) < 0)
        msg_warn("%s: cannot send reply to client: %s",
                 st->status == 0 ? strbuf_str(st->queue_id) : "NOQUEUE",
                 stream_timed_out(s) ? "timeout" : "lost connection");
    attr_list_free(l);
}

/* cleanup_process: check, rewrite and queue a complete submission */
static void cleanup_process(cleanup_state *st)
{
    if (st->too_big) {
        cleanup_state_fail(st, 5, "5.3.4 message size exceeds fixed maximum message size");
        return;
    }
    if (cleanup_header_scan(st) < 0)
        return;
    if (cleanup_addr_sender(st) < 0 || cleanup_addr_recipients(st) < 0)
        return;
    if (st->nrcpts == 0) {
        cleanup_state_fail(st, 5, "5.1.3 no recipients specified");
        return;
    }
    (void) cleanup_out(st);
}

/* cleanup_service: handle one client connection */
static void cleanup_service(mail_server *srv, stream *client)
{
    const cleanup_config *conf = mail_server_ctx(srv);
    cleanup_state *st = cleanup_state_new(conf);
    strbuf *err = strbuf_new(64);
    const char *who = "NOQUEUE";
    long    nrcpt = 0;
    long    i;

    if (attr_send_protocol(client, ATTR_PROTO_CLEANUP) < 0)
        goto done;
    if (cleanup_read_envelope(client, st, &nrcpt, err) < 0)
        goto proto_error;
    if (st->log_ident != NULL)
        who = st->log_ident;
    for (i = 0; i < nrcpt; i++)
        if (cleanup_read_rcpt(client, st, err) < 0)
            goto proto_error;
    if (cleanup_read_content(client, st, err) < 0)
        goto proto_error;
    cleanup_process(st);
    if (st->status != 0)
        msg_info("%s: reject: %s; from=<%s>", who, strbuf_str(st->reason),
                 st->sender);
    cleanup_reply(client, st);
    goto done;
proto_error:
    msg_warn("%s: protocol error from client: %s", who, strbuf_str(err));
    /* The client may still be listening; an answer helps it log. */
    if (!stream_eof(client) && !stream_timed_out(client)) {
        cleanup_state_fail(st, 4, "4.3.0 cleanup protocol error");
        cleanup_reply(client, st);
    }
done:
    strbuf_free(err);
    cleanup_state_free(st);
}

/* cleanup_open_maps: open a lookup-table list, NULL when empty */
static maps *cleanup_open_maps(const char *name)
{
    const char *value = param_str(name);

    if (value == NULL || *value == 0)
        return NULL;
    return maps_open(name, value, DICT_F_FOLD);
}

/* cleanup_classes: canonical_classes / masquerade_classes bits */
static int cleanup_classes(const char *param)
{
    size_t  n;
    size_t  i;
    const char *const *items = param_list(param, &n);
    int     bits = 0;

    for (i = 0; i < n; i++) {
        if (strcasecmp(items[i], "envelope_sender") == 0)
            bits |= CLEANUP_CLASS_ENV_SENDER;
        else if (strcasecmp(items[i], "envelope_recipient") == 0)
            bits |= CLEANUP_CLASS_ENV_RCPT;
        else if (strcasecmp(items[i], "header_sender") == 0)
            bits |= CLEANUP_CLASS_HDR_SENDER;
        else if (strcasecmp(items[i], "header_recipient") == 0)
            bits |= CLEANUP_CLASS_HDR_RCPT;
        else
            param_fatal_bad(param, "envelope_sender, envelope_recipient, header_sender,"
                            " header_recipient");
    }
    return bits;
}

/* cleanup_propagate: propagate_unmatched_extensions */
static void cleanup_propagate(cleanup_config *conf)
{
    size_t  n;
    size_t  i;
    const char *const *items = param_list(PARAM_PROPAGATE_UNMATCHED_EXTENSIONS, &n);

    for (i = 0; i < n; i++) {
        if (strcasecmp(items[i], "canonical") == 0)
            conf->propagate |= CLEANUP_PROP_CANONICAL;
        else if (strcasecmp(items[i], "virtual") == 0)
            conf->propagate |= CLEANUP_PROP_VIRTUAL;
        else if (strcasecmp(items[i], "alias") == 0 || strcasecmp(items[i], "forward") == 0
                 || strcasecmp(items[i], "include") == 0)
            continue;                           /* local(8)'s classes */
        else
            param_fatal_bad(PARAM_PROPAGATE_UNMATCHED_EXTENSIONS,
                            "canonical, virtual, alias, forward, include");
    }
}

/* cleanup_inet_addrs: our interface addresses as a list for cidr */
static cidr_list *cleanup_inet_addrs(void)
{
    strbuf *list = strbuf_new(128);
    strbuf *err = strbuf_new(64);
    const char *const *items;
    struct ifaddrs *ifa = NULL;
    struct ifaddrs *p;
    cidr_list *cl;
    size_t  n;
    size_t  i;
    int     all = 0;

    items = param_list(PARAM_INET_INTERFACES, &n);
    for (i = 0; i < n; i++) {
        if (strcasecmp(items[i], "all") == 0)
            all = 1;
        else if (strcasecmp(items[i], "loopback-only") == 0
                 || strcasecmp(items[i], "localhost") == 0)
            strbuf_puts(list, " 127.0.0.1 ::1");
        else if (cidr_pattern_valid(items[i], err) == 0)
            strbuf_printf(list, " %s", items[i]);
    }
    if (all && getifaddrs(&ifa) == 0) {
        for (p = ifa; p != NULL; p = p->ifa_next) {
            char    buf[INET6_ADDRSTRLEN];
            const void *a;

            if (p->ifa_addr == NULL)
                continue;
            if (p->ifa_addr->sa_family == AF_INET)
                a = &((const struct sockaddr_in *) (const void *) p->ifa_addr)->sin_addr;
            else if (p->ifa_addr->sa_family == AF_INET6)
                a = &((const struct sockaddr_in6 *) (const void *) p->ifa_addr)->sin6_addr;
            else
                continue;
            if (inet_ntop(p->ifa_addr->sa_family, a, buf, sizeof(buf)) != NULL
                && strchr(buf, '%') == NULL)
                strbuf_printf(list, " %s", buf);
        }
        freeifaddrs(ifa);
    }
    if ((cl = cidr_list_parse(strbuf_str(list), err)) == NULL)
        msg_warn("%s: %s", PARAM_INET_INTERFACES, strbuf_str(err));
    strbuf_free(list);
    strbuf_free(err);
    return cl;
}

/* cleanup_rewrite_clients: local_header_rewrite_clients */
static void cleanup_rewrite_clients(cleanup_config *conf)
{
    strbuf *nets = strbuf_new(64);
    strbuf *err = strbuf_new(64);
    const char *const *items;
    size_t  n;
    size_t  i;

    items = param_list(PARAM_LOCAL_HEADER_REWRITE_CLIENTS, &n);
    for (i = 0; i < n; i++) {
        if (strcasecmp(items[i], "permit_inet_interfaces") == 0)
            conf->hdr_rewrite_inet = 1;
        else if (strcasecmp(items[i], "permit_mynetworks") == 0)
            conf->hdr_rewrite_mynetworks = 1;
        else if (strcasecmp(items[i], "static:all") == 0)
            conf->hdr_rewrite_all = 1;
        else if (cidr_pattern_valid(items[i], err) == 0)
            strbuf_printf(nets, " %s", items[i]);
        else
            msg_warn("%s: ignoring \"%s\": only permit_inet_interfaces,"
                     " permit_mynetworks, static:all and addresses are supported",
                     PARAM_LOCAL_HEADER_REWRITE_CLIENTS, items[i]);
    }
    if (conf->hdr_rewrite_inet)
        conf->inet_addrs = cleanup_inet_addrs();
    if (conf->hdr_rewrite_mynetworks
        && (conf->mynetworks = cidr_list_parse(param_str(PARAM_MYNETWORKS), err)) == NULL)
        msg_warn("%s: %s", PARAM_MYNETWORKS, strbuf_str(err));
    if (nets->len > 0
        && (conf->hdr_rewrite_nets = cidr_list_parse(strbuf_str(nets), err)) == NULL)
        msg_warn("%s: %s", PARAM_LOCAL_HEADER_REWRITE_CLIENTS, strbuf_str(err));
    strbuf_free(nets);
    strbuf_free(err);
}

/* cleanup_post_init: read the configuration once */
static void cleanup_post_init(mail_server *srv)
{
    cleanup_config *conf = mail_server_ctx(srv);

    conf->myhostname = param_str(PARAM_MYHOSTNAME);
    conf->myorigin = param_str(PARAM_MYORIGIN);
    conf->mydomain = param_str(PARAM_MYDOMAIN);
    conf->append_dot_mydomain = param_bool(PARAM_APPEND_DOT_MYDOMAIN);
    conf->hopcount_limit = param_int(PARAM_HOPCOUNT_LIMIT);
    conf->header_size_limit = param_size(PARAM_HEADER_SIZE_LIMIT);
    conf->message_size_limit = param_size(PARAM_MESSAGE_SIZE_LIMIT);
    conf->drop_headers = param_list(PARAM_MESSAGE_DROP_HEADERS, NULL);
    conf->expansion_limit = param_int(PARAM_VIRTUAL_ALIAS_EXPANSION_LIMIT);
    conf->recursion_limit = param_int(PARAM_VIRTUAL_ALIAS_RECURSION_LIMIT);
    conf->canonical = cleanup_open_maps(PARAM_CANONICAL_MAPS);
    conf->sender_canonical = cleanup_open_maps(PARAM_SENDER_CANONICAL_MAPS);
    conf->recipient_canonical = cleanup_open_maps(PARAM_RECIPIENT_CANONICAL_MAPS);
    conf->virtual_alias = cleanup_open_maps(PARAM_VIRTUAL_ALIAS_MAPS);
    conf->delimiters = param_str(PARAM_RECIPIENT_DELIMITER);
    conf->canonical_classes = cleanup_classes(PARAM_CANONICAL_CLASSES);
    conf->masq_classes = cleanup_classes(PARAM_MASQUERADE_CLASSES);
    conf->masq_domains = param_list(PARAM_MASQUERADE_DOMAINS, &conf->nmasq_domains);
    conf->masq_exceptions = param_list(PARAM_MASQUERADE_EXCEPTIONS, &conf->nmasq_exceptions);
    conf->append_at_myorigin = param_bool(PARAM_APPEND_AT_MYORIGIN);
    conf->swap_bangpath = param_bool(PARAM_SWAP_BANGPATH);
    conf->percent_hack = param_bool(PARAM_ALLOW_PERCENT_HACK);
    conf->remote_header_domain = param_str(PARAM_REMOTE_HEADER_REWRITE_DOMAIN);
    cleanup_propagate(conf);
    cleanup_rewrite_clients(conf);
}

int     main(int argc, char **argv);

/* main: declare the service to the skeleton */
int     main(int argc, char **argv)
{
    mail_server_desc desc;

    memset(&desc, 0, sizeof(desc));
    msg_init("cleanup", MSG_F_STDERR);
    desc.name = "cleanup";
    desc.mode = MAIL_SERVER_SINGLE;
    desc.conn = cleanup_service;
    desc.post_init = cleanup_post_init;
    desc.ctx = &cleanup_cfg;
    mail_server_main(argc, argv, &desc);
}
