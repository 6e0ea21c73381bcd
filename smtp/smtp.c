/*
 * smtp: the SMTP and LMTP delivery agent (smtp(8)).
 *
 * A mail_server in single-client mode on private/<service>. Each client
 * is qmgr with one delivery request (lib/mail/deliver_request): the agent
 * opens the queue file named in the request read-only, reads the
 * envelope and the header flags (8BITMIME, SMTPUTF8) from it, turns the
 * nexthop into addresses (lib/net/smtp_addr), and delivers to the first
 * server that takes the mail (smtp_connect.c, smtp_proto.c). Each
 * recipient's result goes to qmgr (deliver_result) and to the log
 * (deliver_log, "relay=host[addr]:port") as soon as it is final; the
 * request ends with deliver_done_status: status 4 with a reason when the
 * destination failed as a whole (DNS failure, no server reachable or
 * willing to talk), else 0.
 *
 * The service name picks the protocol: "lmtp" speaks LMTP (RFC 2033,
 * default port 24, lmtp_* timeouts, logs as postern/lmtp), anything else
 * SMTP (port 25, smtp_* parameters). The connection cache, address
 * lookup and session limit parameters are the smtp_* ones for both.
 *
 * Public functions (shared within smtp/, see smtp.h):
 *   smtp_rcpt_final(st, rc, status, dsn, relay, reason): decide one
 *     recipient's result and report it at once (once; later calls for
 *     the same recipient are ignored).
 *   smtp_rcpt_soft(st, rc, dsn, relay, reason): a temporary failure for
 *     one recipient: final (deferred) when the current server is the
 *     last one to try, else remembered while other servers are tried.
 *   smtp_report_done(st): defer every recipient still open with its last
 *     reason (or the site's), then send the final message.
 *
 * SECURITY: runs as mail_owner and talks to servers on the network;
 * holds no key material. The request comes from qmgr (checked by
 * deliver_request_read); the queue file is parsed strictly by qfile; an
 * unreadable file defers every recipient. Nothing a server or DNS sends
 * reaches msg_fatal: it becomes a per-recipient result.
 * LIMITS: SMTP_RECORD_MAX bytes per queue-file record; reply limits of
 * smtp_reply; the timeouts of the smtp_* / lmtp_* parameters on every
 * read and write; those of deliver_request and smtp_addr.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "deliver_request.h"
#include "mail_queue.h"
#include "mail_server.h"
#include "mem.h"
#include "msg.h"
#include "param.h"
#include "param_names.h"
#include "qfile.h"
#include "smtp.h"
#include "smtp_addr.h"
#include "strbuf.h"
#include "strutil.h"

#define SMTP_SERVICE_LMTP   "lmtp"

/* smtp_ms: a time parameter in milliseconds; 0 becomes "no timeout". */
static int smtp_ms(const char *name)
{
    long    sec = param_time(name);

    if (sec <= 0)
        return -1;
    if (sec > 2000000)
        sec = 2000000;
    return (int) (sec * 1000);
}

/* smtp_post_init: read the configuration once. */
static void smtp_post_init(mail_server *srv)
{
    smtp_config *conf = mail_server_ctx(srv);
    const char *service = mail_server_service(srv);
    smtp_addr_config acfg;
    strbuf *err = strbuf_new(64);
    const char *const *items;
    size_t  n;
    int     lmtp;

    conf->service = service && *service ? service : "smtp";
    lmtp = conf->lmtp = strcmp(conf->service, SMTP_SERVICE_LMTP) == 0;
    conf->proto = lmtp ? "LMTP" : "SMTP";
    conf->default_port = lmtp ? 24 : 25;
    conf->myhostname = param_str(PARAM_MYHOSTNAME);
    conf->helo_name = param_str(lmtp ? PARAM_LMTP_LHLO_NAME : PARAM_SMTP_HELO_NAME);
    conf->bind_address = param_str(lmtp ? PARAM_LMTP_BIND_ADDRESS : PARAM_SMTP_BIND_ADDRESS);
    conf->connect_ms = smtp_ms(lmtp ? PARAM_LMTP_CONNECT_TIMEOUT : PARAM_SMTP_CONNECT_TIMEOUT);
    conf->helo_ms = smtp_ms(lmtp ? PARAM_LMTP_LHLO_TIMEOUT : PARAM_SMTP_HELO_TIMEOUT);
    conf->mail_ms = smtp_ms(lmtp ? PARAM_LMTP_MAIL_TIMEOUT : PARAM_SMTP_MAIL_TIMEOUT);
    conf->rcpt_ms = smtp_ms(lmtp ? PARAM_LMTP_RCPT_TIMEOUT : PARAM_SMTP_RCPT_TIMEOUT);
    conf->data_init_ms = smtp_ms(lmtp ? PARAM_LMTP_DATA_INIT_TIMEOUT
                                : PARAM_SMTP_DATA_INIT_TIMEOUT);
    conf->data_xfer_ms = smtp_ms(lmtp ? PARAM_LMTP_DATA_XFER_TIMEOUT
                                : PARAM_SMTP_DATA_XFER_TIMEOUT);
    conf->data_done_ms = smtp_ms(lmtp ? PARAM_LMTP_DATA_DONE_TIMEOUT
                                : PARAM_SMTP_DATA_DONE_TIMEOUT);
    conf->quit_ms = smtp_ms(lmtp ? PARAM_LMTP_QUIT_TIMEOUT : PARAM_SMTP_QUIT_TIMEOUT);
    conf->rset_ms = smtp_ms(lmtp ? PARAM_LMTP_RSET_TIMEOUT : PARAM_SMTP_RSET_TIMEOUT);
    conf->line_limit = param_int(lmtp ? PARAM_LMTP_LINE_LENGTH_LIMIT
                                : PARAM_SMTP_LINE_LENGTH_LIMIT);
    conf->skip_5xx_greeting = param_bool(PARAM_SMTP_SKIP_5XX_GREETING);
    conf->never_ehlo = !lmtp && param_bool(PARAM_SMTP_NEVER_SEND_EHLO);
    conf->always_ehlo = lmtp || param_bool(PARAM_SMTP_ALWAYS_SEND_EHLO);
    conf->smtputf8_enable = param_bool(PARAM_SMTPUTF8_ENABLE);
    conf->session_limit = (int) param_int(PARAM_SMTP_MX_SESSION_LIMIT);
    conf->cache_on_demand = param_bool(PARAM_SMTP_CONN_CACHE_ON_DEMAND);
    conf->cache_time_limit = param_time(PARAM_SMTP_CONN_CACHE_TIME_LIMIT);
    conf->reuse_time_limit = param_time(PARAM_SMTP_CONN_REUSE_TIME_LIMIT);
    conf->fallback = lmtp ? NULL : param_list(PARAM_SMTP_FALLBACK_RELAY, &conf->nfallback);
    if (lmtp)
        conf->nfallback = 0;

    memset(&acfg, 0, sizeof(acfg));
    items = param_list(PARAM_INET_PROTOCOLS, &n);
    if (smtp_addr_parse_protocols(items, n, &acfg.protocols, err) < 0)
        param_fatal_bad(PARAM_INET_PROTOCOLS, "all, ipv4 or ipv6");
    if (smtp_addr_parse_preference(param_str(PARAM_SMTP_ADDRESS_PREFERENCE),
                                   &acfg.preference, err) < 0)
        param_fatal_bad(PARAM_SMTP_ADDRESS_PREFERENCE, "any, ipv4 or ipv6");
    items = param_list(PARAM_SMTP_HOST_LOOKUP, &n);
    if (smtp_addr_parse_lookup(items, n, &acfg.host_lookup, err) < 0)
        param_fatal_bad(PARAM_SMTP_HOST_LOOKUP, "dns and/or native");
    acfg.address_limit = (int) param_int(PARAM_SMTP_MX_ADDRESS_LIMIT);
    acfg.myhostname = conf->myhostname;
    acfg.dns_timeout_ms = DNS_DEFAULT_TIMEOUT_MS;
    conf->resolver = smtp_addr_resolver_new(&acfg);
    smtp_tls_init(conf);
    strbuf_free(err);
}

/* smtp_pre_init: still privileged: the SASL password tables. */
static void smtp_pre_init(mail_server *srv)
{
    smtp_config *conf = mail_server_ctx(srv);
    const char *service = mail_server_service(srv);

    conf->lmtp = service != NULL && strcmp(service, SMTP_SERVICE_LMTP) == 0;
    smtp_sasl_init(conf);
}

/* smtp_rcpt_final: decide and report one recipient's result. */
void    smtp_rcpt_final(smtp_state *st, smtp_rcpt *rc, int status, const char *dsn,
                        const char *relay, const char *reason)
{
    if (rc->done)
        return;
    rc->done = 1;
    rc->status = status;
    (void) str_copy(rc->dsn, sizeof(rc->dsn), dsn);
    (void) str_copy(rc->relay, sizeof(rc->relay), relay ? relay : "none");
    strbuf_setf(rc->reason, "%s", reason);
    st->npending--;
    deliver_log(st->req, rc->r, status, rc->dsn, rc->relay, reason);
    if (st->client && deliver_result(st->client, rc->r->offset, status, rc->dsn,
                                     rc->relay, reason) < 0) {
        msg_warn("%s: lost the connection to the queue manager", st->req->queue_id);
        st->client = NULL;
    }
    rc->reported = 1;
}

/* smtp_rcpt_soft: a temporary failure for one recipient. */
void    smtp_rcpt_soft(smtp_state *st, smtp_rcpt *rc, const char *dsn,
                       const char *relay, const char *reason)
{
    if (rc->done)
        return;
    if (st->final_server) {
        smtp_rcpt_final(st, rc, DELIVER_STAT_DEFER, dsn, relay, reason);
        return;
    }
    (void) str_copy(rc->dsn, sizeof(rc->dsn), dsn);
    (void) str_copy(rc->relay, sizeof(rc->relay), relay ? relay : "none");
    strbuf_setf(rc->reason, "%s", reason);
}

/* smtp_report_done: defer what is left, then end the request. */
void    smtp_report_done(smtp_state *st)
{
    size_t  i;

    for (i = 0; i < st->nrcpts; i++) {
        smtp_rcpt *rc = &st->rcpts[i];

        if (rc->done)
            continue;
        if (rc->reason->len == 0) {
            strbuf_setf(rc->reason, "%s", st->site_reason->len ? st->site_reason->data
                        : "delivery was not attempted");
            (void) str_copy(rc->dsn, sizeof(rc->dsn), st->site_dsn[0] ? st->site_dsn : "4.4.0");
        }
        {
            strbuf *why = strbuf_new(64);
            char    dsn[12];
            char    relay[SMTP_RELAY_MAX];

            strbuf_set(why, rc->reason->data, rc->reason->len);
            (void) str_copy(dsn, sizeof(dsn), rc->dsn[0] == '4' ? rc->dsn : "4.4.0");
            (void) str_copy(relay, sizeof(relay), rc->relay[0] ? rc->relay : "none");
            smtp_rcpt_final(st, rc, DELIVER_STAT_DEFER, dsn, relay, why->data);
            strbuf_free(why);
        }
    }
    if (st->client && deliver_done_status(st->client, st->site_status,
                                          st->site_status ? st->site_reason->data
                                          : NULL) < 0)
        msg_warn("%s: lost the connection to the queue manager", st->req->queue_id);
}

/* smtp_all_final: report every open recipient with one outcome. */
static void smtp_all_final(smtp_state *st, int status, const char *dsn, const char *reason)
{
    size_t  i;

    for (i = 0; i < st->nrcpts; i++)
        smtp_rcpt_final(st, &st->rcpts[i], status, dsn, "none", reason);
}

/* smtp_open_queue_file: open and read the request's queue file. */
static int smtp_open_queue_file(smtp_state *st, int *fd, strbuf *err)
{
    strbuf *path = strbuf_new(256);
    int     ret = -1;

    if (strcmp(st->req->queue_name, "active") != 0
        || mail_queue_path(st->req->queue_name, st->req->queue_id, path) < 0) {
        strbuf_setf(err, "bad queue file name in request");
    } else if ((*fd = open(path->data, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) < 0) {
        strbuf_setf(err, "cannot open queue file: %s", strerror(errno));
    } else if ((st->rd = qfile_reader_fd(*fd, SMTP_RECORD_MAX)) == NULL
               || (st->env = qfile_read_envelope(st->rd, QFILE_ENV_SKIP_CONTENT,
                                                 err)) == NULL) {
        msg_warn("%s: unreadable queue file: %s", st->req->queue_id, strbuf_str(err));
        strbuf_setf(err, "queue file is unreadable");
    } else {
        st->qflags = st->env->header.flags;
        st->size = st->env->header.content_size;
        ret = 0;
    }
    strbuf_free(path);
    return ret;
}

/* smtp_serve: one delivery request. */
static void smtp_serve(mail_server *srv, stream *client)
{
    const smtp_config *conf = mail_server_ctx(srv);
    smtp_state st;
    strbuf *err = strbuf_new(128);
    smtp_nexthop nh;
    int     fd = -1;
    size_t  i;

    memset(&st, 0, sizeof(st));
    st.conf = conf;
    st.client = client;
    st.has_8bit = -1;
    st.site_reason = strbuf_new(64);
    if ((st.req = deliver_request_read(client, err)) == NULL) {
        msg_warn("bad delivery request: %s", strbuf_str(err));
        goto out;
    }
    st.nrcpts = st.npending = st.req->nrcpts;
    st.rcpts = mem_calloc(st.nrcpts, sizeof(*st.rcpts));
    for (i = 0; i < st.nrcpts; i++) {
        st.rcpts[i].r = &st.req->rcpts[i];
        st.rcpts[i].reason = strbuf_new(64);
    }
    if (smtp_open_queue_file(&st, &fd, err) < 0) {
        smtp_all_final(&st, DELIVER_STAT_DEFER, "4.3.0", err->data);
    } else if (smtp_addr_parse_nexthop(st.req->nexthop, conf->lmtp, conf->default_port,
                                       &nh, err) < 0) {
        msg_warn("%s: %s", st.req->queue_id, err->data);
        smtp_all_final(&st, DELIVER_STAT_DEFER, "4.3.5", err->data);
    } else if (smtp_tls_policy_find(&st, &nh, err) < 0) {
        smtp_all_final(&st, DELIVER_STAT_DEFER, "4.7.5", err->data);
    } else {
        if (str_format(st.dest_label, sizeof(st.dest_label), "%s:%s",
                       conf->service, st.req->nexthop) < 0)
            st.dest_label[0] = 0;
        smtp_connect_deliver(&st, &nh);
    }
    smtp_tls_policy_done(&st);
    smtp_report_done(&st);

out:
    for (i = 0; i < st.nrcpts; i++)
        strbuf_free(st.rcpts[i].reason);
    mem_free(st.rcpts);
    if (st.env)
        qfile_envelope_free(st.env);
    if (st.rd)
        qfile_reader_free(st.rd);
    if (fd >= 0)
        (void) close(fd);
    deliver_request_free(st.req);
    strbuf_free(st.site_reason);
    strbuf_free(err);
}

/* smtp_log_name: "lmtp" in logs when master runs us as the lmtp service. */
static const char *smtp_log_name(int argc, char **argv)
{
    int     i;

    for (i = 1; i + 1 < argc; i++)
        if (strcmp(argv[i], "-S") == 0 && strcmp(argv[i + 1], SMTP_SERVICE_LMTP) == 0)
            return SMTP_SERVICE_LMTP;
    return "smtp";
}

/* main: hand the service to the skeleton. */
int     main(int argc, char **argv)
{
    static smtp_config conf;
    mail_server_desc desc;

    memset(&desc, 0, sizeof(desc));
    desc.name = smtp_log_name(argc, argv);
    desc.mode = MAIL_SERVER_SINGLE;
    desc.pre_init = smtp_pre_init;
    desc.post_init = smtp_post_init;
    desc.conn = smtp_serve;
    desc.ctx = &conf;
    mail_server_main(argc, argv, &desc);
}
