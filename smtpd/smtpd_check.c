/*
 * smtpd_check: the SMTP server's restriction engine.
 *
 * smtpd describes the session in a smtpd_check_view and asks one question
 * per command; the engine walks the restriction lists of main.cf the way
 * Postfix does and answers with an action and, for REJECT/DEFER, the full
 * reply line. Each list is walked left to right; a restriction answers
 * "permit" (the rest of THIS list is skipped, later lists still run),
 * "reject/defer" (final: the command is refused) or "dunno" (go on). An
 * exhausted list permits.
 *
 * Public functions (all session data lives in smtpd_check_state and the
 * caller's view; the process keeps only the parsed configuration):
 *   smtpd_check_init(err): read and parse every *_restrictions list,
 *     smtpd_restriction_classes, mynetworks, mydestination, relay_domains
 *     and local_recipient_maps. Returns 0, or -1 with err describing the
 *     configuration error (an unknown restriction name, a missing
 *     argument, a class without a definition, a bad mynetworks, or relay
 *     and recipient restrictions that do not stop relaying). The caller
 *     logs err once. After -1 every check answers DEFER with
 *     "451 4.3.5 Server configuration error": never silently permitted.
 *     Calling init again replaces the configuration (tests).
 *   smtpd_check_shutdown(): free the configuration (tests, fuzzers).
 *   smtpd_check_session_new() / _session_free(st): per-connection state
 *     (cached verdicts, HOLD/DISCARD flags, PREPEND lines, REDIRECT).
 *   smtpd_check_reset(st): end of a mail transaction (RSET, after DATA,
 *     new MAIL): forgets the sender verdict and the transaction actions.
 *   smtpd_check_result_init(res) / _result_free(res): the caller's result
 *     buffers.
 *   smtpd_check_connect/helo/mail/rcpt/data/eod/etrn(st, view, res):
 *     evaluate one stage; return res->action. res->reply holds the reply
 *     line (no CRLF) for REJECT and DEFER. With smtpd_delay_reject=yes
 *     (the default) connect, helo and mail only evaluate at RCPT time:
 *     rcpt runs the client, helo, sender, relay and recipient lists in
 *     that order, then the local recipient check
 *     (smtpd_reject_unlisted_recipient). The verdict of the client, helo
 *     and sender lists is computed once and cached in st (client: per
 *     session; helo: per HELO name; sender: per transaction), so a
 *     rejected client gets the same reply for every RCPT and PREPEND
 *     actions are not repeated.
 *     HOLD and DISCARD (access table results) are not final: they set a
 *     transaction flag and evaluation goes on; once set, every later
 *     check that would permit answers SMTPD_CHECK_HOLD or
 *     SMTPD_CHECK_DISCARD instead of OK (DISCARD also skips the remaining
 *     restrictions, as Postfix does). res->prepend holds the PREPEND
 *     lines this call added (each ending in "\n"; the caller collects
 *     them for the message; a cached verdict never adds them twice);
 *     res->redirect the transaction's REDIRECT address so far, or "".
 *   smtpd_check_local_recipient(view, res): the local_recipient_maps check
 *     for view->recipient (for VRFY; rcpt calls it itself).
 *   smtpd_check_mynetworks(addr): 1 when addr is in mynetworks.
 *   smtpd_check_helo_required(): the smtpd_helo_required setting.
 *
 * Restrictions: permit, reject, defer, defer_if_permit, defer_if_reject,
 * warn_if_reject, permit_mynetworks, permit_sasl_authenticated,
 * reject_unauth_destination, defer_unauth_destination,
 * permit_auth_destination, reject_unknown_sender_domain,
 * reject_unknown_recipient_domain, reject_non_fqdn_sender,
 * reject_non_fqdn_recipient, reject_non_fqdn_helo_hostname
 * (reject_non_fqdn_hostname), reject_invalid_helo_hostname
 * (reject_invalid_hostname), reject_unknown_client_hostname
 * (reject_unknown_reverse_client_hostname), reject_unlisted_recipient,
 * reject_unlisted_sender, check_client_access, check_helo_access,
 * check_sender_access, check_recipient_access, check_etrn_access,
 * reject_rbl_client (reject_rbl), reject_rhsbl_sender, reject_rhsbl_client,
 * reject_rhsbl_recipient, reject_rhsbl_helo, reject_unauth_pipelining,
 * reject_multi_recipient_bounce, reject_sender_login_mismatch,
 * reject_authenticated_sender_login_mismatch,
 * reject_unauthenticated_sender_login_mismatch (smtpd_sender_login_maps:
 * the sender address, then "@domain", to owner logins separated by comma
 * or space), and the names in
 * smtpd_restriction_classes. A restriction that needs information the
 * stage does not have yet (a recipient at MAIL time) answers "dunno".
 *
 * Access table lookups (results: OK, all-numeric = OK, REJECT [text],
 * DEFER [text], DEFER_IF_REJECT, DEFER_IF_PERMIT, DUNNO, 4NN/5NN text,
 * HOLD, DISCARD, PREPEND header: text, REDIRECT addr, WARN text, INFO
 * text, or a list of restrictions / class names). Keys, lower-cased:
 *   client: name (unless "unknown"), its parent domains, the address,
 *     then the address minus one octet (IPv4) or 16-bit group (IPv6,
 *     expanded form) at a time;
 *   helo, etrn: the name, then its parent domains;
 *   sender, recipient: the forms of maps_find_addr (user+ext@domain,
 *     user@domain, @domain), then the domain and its parent domains, then
 *     "user@"; the null sender is smtpd_null_access_lookup_key.
 * A parent domain "example.com" of "a.example.com" is tried as
 * "example.com" and then ".example.com" (Postfix compatibility levels 0
 * and 2 spell it one way each). A DUNNO found for a key stops the search
 * of that table. A table failure answers "451 4.3.0 <key>: Temporary
 * lookup failure". Unsupported or malformed results (FILTER, BCC, an
 * unknown word) are logged and answered "451 4.3.5 Server configuration
 * error".
 *
 * Relay decisions: a recipient domain is ours when it is listed in
 * mydestination (names, exact match, or tables) or relay_domains (a name
 * matches itself and its subdomains, ".name" only subdomains; tables are
 * asked for the domain and its parents); an address without a domain is
 * local. Local parts holding '@', '%' or '!' are sender-specified
 * routing and never count as our destination. virtual_alias_domains and
 * virtual_mailbox_domains (names or tables, exact match) are ours too.
 * Address literals of our own interfaces are not recognised yet.
 *
 * Unlisted recipients (reject_unlisted_recipient and
 * smtpd_reject_unlisted_recipient; the sender likewise): a local domain
 * asks local_recipient_maps ("User unknown in local recipient table"); a
 * virtual alias domain asks virtual_alias_maps ("... in virtual alias
 * table", unknown_virtual_alias_reject_code); a virtual mailbox domain
 * asks virtual_alias_maps, then virtual_mailbox_maps ("... in virtual
 * mailbox table", unknown_virtual_mailbox_reject_code). Lookups use
 * user+ext@domain, user@domain, @domain; a table failure answers 451.
 *
 * DNS goes through the function pointers in smtpd_check_dns (dns.h and
 * dnsbl.h by default), so the unit test can replace them. RBL/RHSBL
 * lookups that fail temporarily count as "not listed" (as in Postfix);
 * reject_unknown_*_domain answers a temporary DNS failure with
 * defer_if_permit (450 4.4.3).
 *
 * Log lines (msg_info), Postfix's shape:
 *   QUEUEID: reject: RCPT from name[addr]: 554 5.7.1 <r>: Relay access
 *   denied; from=<s> to=<r> proto=ESMTP helo=<h>
 * with "reject_warning" for warn_if_reject, and "hold", "discard",
 * "redirect", "warn", "info" for those table actions.
 *
 * SECURITY: every name, address and HELO string comes from the SMTP
 * client, every table value from an admin-writable table, DNS text from
 * the Internet. Reply text taken from tables or DNS is stripped of control
 * characters and cut to SMTPD_CHECK_TEXT_MAX before it reaches a reply or
 * a log line; nothing from outside reaches msg_fatal/msg_panic. The
 * engine runs in the unprivileged smtpd and opens only the tables named
 * in main.cf.
 * LIMITS: SMTPD_CHECK_DEPTH_MAX nested classes/table results,
 * SMTPD_CHECK_TOKENS_MAX restrictions per list, SMTPD_CHECK_PREPEND_MAX
 * bytes of PREPEND per transaction, SMTPD_CHECK_TEXT_MAX bytes of reply
 * text, SMTPD_CHECK_KEY_MAX bytes per lookup key.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "addr.h"
#include "cidr.h"
#include "dict.h"
#include "dns.h"
#include "dnsbl.h"
#include "maps.h"
#include "mem.h"
#include "msg.h"
#include "numparse.h"
#include "param.h"
#include "param_names.h"
#include "smtpd_check.h"
#include "strbuf.h"
#include "strutil.h"

#define SMTPD_CHECK_DEPTH_MAX   10
#define SMTPD_CHECK_TOKENS_MAX  1000
#define SMTPD_CHECK_PREPEND_MAX 8192
#define SMTPD_CHECK_TEXT_MAX    400
#define SMTPD_CHECK_KEY_MAX     600

/* DNS hooks: replaced by the unit test. */
struct smtpd_check_dns_ops {
    int     (*domain_exists) (const char *domain, strbuf *err);
    int     (*rbl_client) (const char *addr, const char *zone, dns_reply *hit,
                           strbuf *err);
    int     (*rhsbl) (const char *domain, const char *zone, dns_reply *hit,
                      strbuf *err);
    void    (*text) (const dns_reply *hit, strbuf *out);
};

static struct smtpd_check_dns_ops smtpd_check_dns = {
    dns_domain_exists, dnsbl_client, dnsbl_rhs, dnsbl_text,
};

/* Restriction operators. */
enum ck_op {
    OP_PERMIT, OP_REJECT, OP_DEFER, OP_DEFER_IF_PERMIT, OP_DEFER_IF_REJECT,
    OP_WARN_IF_REJECT, OP_PERMIT_MYNETWORKS, OP_PERMIT_SASL,
    OP_REJECT_UNAUTH_DEST, OP_DEFER_UNAUTH_DEST, OP_PERMIT_AUTH_DEST,
    OP_UNKNOWN_SENDER_DOMAIN, OP_UNKNOWN_RCPT_DOMAIN,
    OP_NON_FQDN_SENDER, OP_NON_FQDN_RCPT, OP_NON_FQDN_HELO, OP_INVALID_HELO,
    OP_UNKNOWN_CLIENT, OP_UNLISTED_RCPT, OP_UNLISTED_SENDER,
    OP_CHECK_CLIENT, OP_CHECK_HELO, OP_CHECK_SENDER, OP_CHECK_RCPT,
    OP_CHECK_ETRN, OP_RBL_CLIENT, OP_RHSBL_SENDER, OP_RHSBL_CLIENT,
    OP_RHSBL_RCPT, OP_RHSBL_HELO, OP_UNAUTH_PIPELINING,
    OP_MULTI_RCPT_BOUNCE, OP_SENDER_LOGIN, OP_AUTH_SENDER_LOGIN,
    OP_UNAUTH_SENDER_LOGIN, OP_CLASS
};

#define CK_F_ARG_TABLE  (1 << 0)        /* next token is a type:table */
#define CK_F_ARG_DOMAIN (1 << 1)        /* next token is a DNS zone */
#define CK_F_STOPS_RELAY (1 << 2)       /* counts as relay protection */

static const struct ck_name {
    const char *name;
    enum ck_op op;
    int     flags;
} ck_names[] = {
    {"permit", OP_PERMIT, 0},
    {"reject", OP_REJECT, CK_F_STOPS_RELAY},
    {"defer", OP_DEFER, CK_F_STOPS_RELAY},
    {"defer_if_permit", OP_DEFER_IF_PERMIT, CK_F_STOPS_RELAY},
    {"defer_if_reject", OP_DEFER_IF_REJECT, 0},
    {"warn_if_reject", OP_WARN_IF_REJECT, 0},
    {"permit_mynetworks", OP_PERMIT_MYNETWORKS, 0},
    {"permit_sasl_authenticated", OP_PERMIT_SASL, 0},
    {"reject_unauth_destination", OP_REJECT_UNAUTH_DEST, CK_F_STOPS_RELAY},
    {"defer_unauth_destination", OP_DEFER_UNAUTH_DEST, CK_F_STOPS_RELAY},
    {"permit_auth_destination", OP_PERMIT_AUTH_DEST, 0},
    {"reject_unknown_sender_domain", OP_UNKNOWN_SENDER_DOMAIN, 0},
    {"reject_unknown_recipient_domain", OP_UNKNOWN_RCPT_DOMAIN, 0},
    {"reject_non_fqdn_sender", OP_NON_FQDN_SENDER, 0},
    {"reject_non_fqdn_recipient", OP_NON_FQDN_RCPT, 0},
    {"reject_non_fqdn_helo_hostname", OP_NON_FQDN_HELO, 0},
    {"reject_non_fqdn_hostname", OP_NON_FQDN_HELO, 0},
    {"reject_invalid_helo_hostname", OP_INVALID_HELO, 0},
    {"reject_invalid_hostname", OP_INVALID_HELO, 0},
    {"reject_unknown_client_hostname", OP_UNKNOWN_CLIENT, 0},
    {"reject_unknown_reverse_client_hostname", OP_UNKNOWN_CLIENT, 0},
    {"reject_unknown_client", OP_UNKNOWN_CLIENT, 0},
    {"reject_unlisted_recipient", OP_UNLISTED_RCPT, 0},
    {"reject_unlisted_sender", OP_UNLISTED_SENDER, 0},
    {"check_client_access", OP_CHECK_CLIENT, CK_F_ARG_TABLE},
    {"check_helo_access", OP_CHECK_HELO, CK_F_ARG_TABLE},
    {"check_sender_access", OP_CHECK_SENDER, CK_F_ARG_TABLE},
    {"check_recipient_access", OP_CHECK_RCPT, CK_F_ARG_TABLE},
    {"check_etrn_access", OP_CHECK_ETRN, CK_F_ARG_TABLE},
    {"reject_rbl_client", OP_RBL_CLIENT, CK_F_ARG_DOMAIN},
    {"reject_rbl", OP_RBL_CLIENT, CK_F_ARG_DOMAIN},
    {"reject_rhsbl_sender", OP_RHSBL_SENDER, CK_F_ARG_DOMAIN},
    {"reject_rhsbl_client", OP_RHSBL_CLIENT, CK_F_ARG_DOMAIN},
    {"reject_rhsbl_recipient", OP_RHSBL_RCPT, CK_F_ARG_DOMAIN},
    {"reject_rhsbl_helo", OP_RHSBL_HELO, CK_F_ARG_DOMAIN},
    {"reject_unauth_pipelining", OP_UNAUTH_PIPELINING, 0},
    {"reject_multi_recipient_bounce", OP_MULTI_RCPT_BOUNCE, 0},
    {"reject_sender_login_mismatch", OP_SENDER_LOGIN, 0},
    {"reject_authenticated_sender_login_mismatch", OP_AUTH_SENDER_LOGIN, 0},
    {"reject_unauthenticated_sender_login_mismatch", OP_UNAUTH_SENDER_LOGIN, 0},
};

typedef struct ck_restr {
    enum ck_op op;
    char   *arg;                        /* table spec or DNS zone */
    maps   *table;                      /* CK_F_ARG_TABLE */
    size_t  class_index;                /* OP_CLASS */
} ck_restr;

typedef struct ck_list {
    ck_restr *items;
    size_t  count;
} ck_list;

/* The stages, in evaluation order for RCPT. */
enum ck_stage {
    ST_CLIENT, ST_HELO, ST_SENDER, ST_RELAY, ST_RCPT, ST_DATA, ST_EOD,
    ST_ETRN, ST_COUNT
};

static const char *const ck_stage_param[ST_COUNT] = {
    PARAM_SMTPD_CLIENT_RESTRICTIONS, PARAM_SMTPD_HELO_RESTRICTIONS,
    PARAM_SMTPD_SENDER_RESTRICTIONS, PARAM_SMTPD_RELAY_RESTRICTIONS,
    PARAM_SMTPD_RECIPIENT_RESTRICTIONS, PARAM_SMTPD_DATA_RESTRICTIONS,
    PARAM_SMTPD_END_OF_DATA_RESTRICTIONS, PARAM_SMTPD_ETRN_RESTRICTIONS,
};

static const char *const ck_stage_class[ST_COUNT] = {
    "Client host", "Helo command", "Sender address", "Recipient address",
    "Recipient address", "Data command", "End-of-data", "Etrn command",
};

/* The configuration: written by smtpd_check_init only. */
static struct ck_config {
    int     loaded;
    int     error;                      /* config error: answer 451 4.3.5 */
    ck_list lists[ST_COUNT];
    char  **class_names;
    ck_list *classes;
    size_t  class_count;
    cidr_list *mynetworks;
    char  **mydest;                     /* plain names, lower case */
    size_t  mydest_count;
    maps   *mydest_maps;                /* table entries, or NULL */
    char  **relay;
    size_t  relay_count;
    maps   *relay_maps;
    maps   *local_rcpt;                 /* NULL: no check */
    char  **valias;                     /* virtual_alias_domains names */
    size_t  valias_count;
    maps   *valias_maps;                /* ... and tables */
    char  **vmbox;                      /* virtual_mailbox_domains */
    size_t  vmbox_count;
    maps   *vmbox_maps;
    maps   *valias_rcpt;                /* virtual_alias_maps, or NULL */
    maps   *vmbox_rcpt;                 /* virtual_mailbox_maps, or NULL */
    long    code_valias;
    long    code_vmbox;
    maps   *sender_login;               /* smtpd_sender_login_maps, or NULL */
    int     delay_reject;
    int     helo_required;
    int     unlisted_rcpt;
    int     unlisted_sender;
    char   *null_key;
    char   *delims;
    long    code_local;
    long    code_unknown_addr;
    long    code_unknown_client;
    long    code_non_fqdn;
    long    code_invalid_host;
    long    code_relay;
    long    code_access_reject;
    long    code_access_defer;
    long    code_reject;
    long    code_defer;
    long    code_rbl;
} ck_cfg;

/* A cached verdict of one list. */
typedef struct ck_verdict {
    int     done;
    int     action;                     /* SMTPD_CHECK_OK/REJECT/DEFER */
    strbuf *reply;
    strbuf *dip;                        /* pending defer_if_permit reply */
} ck_verdict;

struct smtpd_check_state {
    ck_verdict client;
    ck_verdict helo;
    ck_verdict sender;
    char   *helo_name;                  /* the name helo was computed for */
    int     hold;
    int     discard;
    strbuf *prepend;
    strbuf *redirect;
};

/* Evaluation context of one check call. */
typedef struct ck_ctx {
    smtpd_check_state *st;
    const smtpd_check_view *v;
    smtpd_check_result *res;
    const char *cmd;                    /* "RCPT", for log lines */
    enum ck_stage stage;                /* list being walked */
    int     warn_next;                  /* warn_if_reject seen */
    int     warn_active;                /* rejects become warnings */
    int     defer_if_reject;
    strbuf *dip;                        /* defer_if_permit reply, or empty */
    int     depth;
    size_t  prepend_start;              /* st->prepend->len at the start */
} ck_ctx;

/* Results of one restriction or list. */
#define R_DUNNO     0
#define R_PERMIT    1
#define R_FINAL     2                   /* reject/defer: res is filled */

static int ck_list_eval(ck_ctx *c, const ck_list *list);

/* ---------------------------------------------------------------- text */

/* ck_clean: append text without control bytes, at most max bytes. */
static void ck_clean(strbuf *out, const char *text, size_t max)
{
    size_t  n;

    for (n = 0; text[n] && n < max; n++) {
        unsigned char ch = (unsigned char) text[n];

        strbuf_putc(out, ch < 0x20 || ch == 0x7f ? ' ' : ch);
    }
}

/* ck_namaddr: "name[addr]" of the client. */
static void ck_namaddr(const smtpd_check_view *v, strbuf *out)
{
    strbuf_reset(out);
    ck_clean(out, v->client_name ? v->client_name : "unknown", 255);
    strbuf_putc(out, '[');
    ck_clean(out, v->client_addr ? v->client_addr : "unknown", 64);
    strbuf_putc(out, ']');
}

/* ck_log: "QUEUEID: what: CMD from name[addr]: text; from=<> ..." */
static void ck_log(ck_ctx *c, const char *what, const char *text)
{
    const smtpd_check_view *v = c->v;
    strbuf *line = strbuf_new(256);
    strbuf *na = strbuf_new(64);

    ck_namaddr(v, na);
    strbuf_printf(line, "%s: %s: %s from %s: ",
                  v->queue_id ? v->queue_id : "NOQUEUE", what, c->cmd,
                  strbuf_str(na));
    ck_clean(line, text, 1000);
    strbuf_puts(line, ";");
    if (v->sender) {
        strbuf_puts(line, " from=<");
        ck_clean(line, v->sender, 600);
        strbuf_puts(line, ">");
    }
    if (v->recipient) {
        strbuf_puts(line, " to=<");
        ck_clean(line, v->recipient, 600);
        strbuf_puts(line, ">");
    }
    strbuf_puts(line, " proto=");
    ck_clean(line, v->protocol ? v->protocol : "ESMTP", 32);
    if (v->helo_name) {
        strbuf_puts(line, " helo=<");
        ck_clean(line, v->helo_name, 255);
        strbuf_puts(line, ">");
    }
    msg_info("%s", strbuf_str(line));
    strbuf_free(line);
    strbuf_free(na);
}

/* ck_is_dsn: length of a leading "D.DDD.DDD " enhanced code, or 0. */
static size_t ck_is_dsn(const char *text)
{
    size_t  i = 0, n;
    int     part;

    if (text[0] != '2' && text[0] != '4' && text[0] != '5')
        return 0;
    if (text[1] != '.')
        return 0;
    i = 2;
    for (part = 0; part < 2; part++) {
        for (n = 0; isdigit((unsigned char) text[i]) && n < 4; n++)
            i++;
        if (n == 0 || n > 3)
            return 0;
        if (part == 0 && text[i++] != '.')
            return 0;
    }
    if (text[i] != 0 && text[i] != ' ' && text[i] != '\t')
        return 0;
    return i;
}

/*
 * ck_reply: fill res with "code dsn text" (text from fmt). The DSN class
 * follows the reply code; a DSN at the start of the text replaces dsn.
 * Honours warn_if_reject and defer_if_reject. Returns R_FINAL, or R_DUNNO
 * when the reject became a warning.
 */
static int ck_reply(ck_ctx *c, long code, const char *dsn, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int ck_reply(ck_ctx *c, long code, const char *dsn, const char *fmt, ...)
{
    smtpd_check_result *res = c->res;
    strbuf *text = strbuf_new(128);
    char    dsnbuf[16];
    va_list ap;

    va_start(ap, fmt);
    strbuf_vprintf(text, fmt, ap);
    va_end(ap);
    if (code < 400 || code > 599)
        code = code < 400 ? 450 : 554;
    if (c->defer_if_reject && code >= 500 && !c->warn_active)
        code = ck_cfg.code_defer;
    if (str_copy(dsnbuf, sizeof(dsnbuf), dsn) < 0 || ck_is_dsn(dsnbuf) == 0)
        (void) str_copy(dsnbuf, sizeof(dsnbuf), code >= 500 ? "5.7.1" : "4.7.1");
    dsnbuf[0] = (char) ('0' + code / 100);
    strbuf_reset(res->reply);
    strbuf_printf(res->reply, "%ld %s ", code, dsnbuf);
    ck_clean(res->reply, strbuf_str(text), SMTPD_CHECK_TEXT_MAX + 600);
    strbuf_free(text);
    if (c->warn_active) {
        ck_log(c, "reject_warning", strbuf_str(res->reply));
        strbuf_reset(res->reply);
        return R_DUNNO;
    }
    res->action = code >= 500 ? SMTPD_CHECK_REJECT : SMTPD_CHECK_DEFER;
    ck_log(c, "reject", strbuf_str(res->reply));
    return R_FINAL;
}

/* ck_user_text: a table/DNS text made safe: its DSN split off, cleaned. */
static void ck_user_text(const char *text, const char *def_dsn, char *dsn,
                         size_t dsn_size, strbuf *out)
{
    size_t  n;

    while (*text == ' ' || *text == '\t')
        text++;
    (void) str_copy(dsn, dsn_size, def_dsn);
    if ((n = ck_is_dsn(text)) != 0 && n < dsn_size) {
        memcpy(dsn, text, n);
        dsn[n] = 0;
        text += n;
        while (*text == ' ' || *text == '\t')
            text++;
    }
    strbuf_reset(out);
    ck_clean(out, text, SMTPD_CHECK_TEXT_MAX);
}

/* ck_config_error: the answer to everything after a configuration error. */
static int ck_config_error(ck_ctx *c)
{
    c->res->action = SMTPD_CHECK_DEFER;
    strbuf_setf(c->res->reply, "451 4.3.5 Server configuration error");
    ck_log(c, "reject", strbuf_str(c->res->reply));
    return R_FINAL;
}

/* ------------------------------------------------------------- domains */

/* ck_domain_copy: domain lower-cased, one trailing dot removed. */
static char *ck_domain_copy(const char *domain)
{
    char   *d = mem_strdup(domain);
    size_t  len = strlen(d);

    if (len > 1 && d[len - 1] == '.')
        d[len - 1] = 0;
    str_lower(d);
    return d;
}

/* ck_list_has_domain: is domain (lower case) in names? sub: parents too. */
static int ck_list_has_domain(char **names, size_t count, const char *domain,
                              int sub)
{
    size_t  i, dl = strlen(domain);

    for (i = 0; i < count; i++) {
        const char *n = names[i];
        size_t  nl = strlen(n);

        if (n[0] == '.') {
            if (dl > nl && strcmp(domain + dl - nl, n) == 0)
                return 1;
            continue;
        }
        if (strcmp(n, domain) == 0)
            return 1;
        if (sub && dl > nl && domain[dl - nl - 1] == '.'
            && strcmp(domain + dl - nl, n) == 0)
            return 1;
    }
    return 0;
}

/* ck_maps_domain: look domain (and parents when sub) up; DICT_* result. */
static int ck_maps_domain(maps *m, const char *domain, int sub)
{
    strbuf *val = strbuf_new(64);
    strbuf *key = strbuf_new(64);
    const char *p = domain;
    int     rc;

    rc = maps_find(m, domain, val);
    while (sub && rc == DICT_NOTFOUND && (p = strchr(p + 1, '.')) != NULL) {
        if ((rc = maps_find(m, p + 1, val)) != DICT_NOTFOUND)
            break;
        strbuf_setf(key, "%s", p);
        rc = maps_find(m, strbuf_str(key), val);
    }
    strbuf_free(val);
    strbuf_free(key);
    return rc;
}

/* ck_domain_local: 1 when domain is in mydestination, 0, DICT_RETRY. */
static int ck_domain_local(const char *domain)
{
    char   *d = ck_domain_copy(domain);
    int     rc = 0;

    if (ck_list_has_domain(ck_cfg.mydest, ck_cfg.mydest_count, d, 0))
        rc = 1;
    else if (ck_cfg.mydest_maps) {
        int     r = ck_maps_domain(ck_cfg.mydest_maps, d, 0);

        rc = r == DICT_FOUND ? 1 : r == DICT_RETRY ? DICT_RETRY : 0;
    }
    mem_free(d);
    return rc;
}

/* ck_domain_relay: 1 when domain is in relay_domains, 0, DICT_RETRY. */
static int ck_domain_relay(const char *domain)
{
    char   *d = ck_domain_copy(domain);
    int     rc = 0;

    if (ck_list_has_domain(ck_cfg.relay, ck_cfg.relay_count, d, 1))
        rc = 1;
    else if (ck_cfg.relay_maps) {
        int     r = ck_maps_domain(ck_cfg.relay_maps, d, 1);

        rc = r == DICT_FOUND ? 1 : r == DICT_RETRY ? DICT_RETRY : 0;
    }
    mem_free(d);
    return rc;
}

/* ck_domain_virtual: 1 when domain is in virtual_alias_domains (alias
 * true) or virtual_mailbox_domains (alias false), 0, DICT_RETRY. */
static int ck_domain_virtual(const char *domain, int alias)
{
    char   *d = ck_domain_copy(domain);
    maps   *m = alias ? ck_cfg.valias_maps : ck_cfg.vmbox_maps;
    int     rc = 0;

    if (ck_list_has_domain(alias ? ck_cfg.valias : ck_cfg.vmbox,
                           alias ? ck_cfg.valias_count : ck_cfg.vmbox_count, d, 0))
        rc = 1;
    else if (m) {
        int     r = ck_maps_domain(m, d, 0);

        rc = r == DICT_FOUND ? 1 : r == DICT_RETRY ? DICT_RETRY : 0;
    }
    mem_free(d);
    return rc;
}

/* ck_addr_local: is the address's domain local (or absent)? 1/0/RETRY. */
static int ck_addr_local(const char *addr)
{
    const char *domain = addr_domain_of(addr);

    if (domain == NULL)
        return 1;
    return ck_domain_local(domain);
}

/* ck_auth_dest: may anyone send to this recipient? 1/0/DICT_RETRY. */
static int ck_auth_dest(const char *rcpt)
{
    const char *domain = addr_domain_of(rcpt);
    size_t  llen = addr_local_len(rcpt);
    int     rc;

    /* Sender-specified routing (user%elsewhere@ours) is never ours. */
    if (memchr(rcpt, '@', llen) || memchr(rcpt, '%', llen)
        || memchr(rcpt, '!', llen))
        return 0;
    if (domain == NULL)
        return 1;
    if (*domain == 0 || *domain == '[')
        return 0;
    if ((rc = ck_domain_local(domain)) != 0)
        return rc;
    /* Virtual alias and mailbox domains are ours as well. */
    if ((rc = ck_domain_virtual(domain, 1)) != 0
        || (rc = ck_domain_virtual(domain, 0)) != 0)
        return rc;
    return ck_domain_relay(domain);
}

/* ck_fqdn: does an address/host name have a dot (or is a literal)? */
static int ck_fqdn(const char *domain)
{
    size_t  len;

    if (domain == NULL || *domain == 0)
        return 0;
    if (*domain == '[')
        return 1;
    len = strlen(domain);
    if (domain[len - 1] == '.')
        len--;
    return memchr(domain, '.', len) != NULL;
}

/* ck_helo_valid: syntax of a HELO name or address literal. */
static int ck_helo_valid(const char *helo)
{
    size_t  len = strlen(helo);
    char    buf[300];
    unsigned char bin[16];

    if (len == 0 || len >= sizeof(buf))
        return 0;
    if (helo[0] == '[') {
        if (helo[len - 1] != ']' || len < 3)
            return 0;
        memcpy(buf, helo + 1, len - 2);
        buf[len - 2] = 0;
        if (str_has_prefix(buf, "IPv6:") || str_has_prefix(buf, "ipv6:"))
            return inet_pton(AF_INET6, buf + 5, bin) == 1;
        return inet_pton(AF_INET, buf, bin) == 1;
    }
    memcpy(buf, helo, len + 1);
    if (len > 1 && buf[len - 1] == '.')
        buf[len - 1] = 0;
    /* Postfix accepts a bare IPv4 address in HELO as a valid name. */
    if (inet_pton(AF_INET, buf, bin) == 1)
        return 1;
    return addr_valid_hostname(buf, 0);
}

/* ------------------------------------------------------- access tables */

/* ck_parse_value_list: parse a table result as restrictions; NULL=bad. */
static ck_list *ck_parse_value_list(const char *value, strbuf *err);
static void ck_list_clear(ck_list *list);

/*
 * ck_table_result: act on the value found for key. name/class are for
 * the reply ("<name>: Class rejected: text").
 */
static int ck_table_result(ck_ctx *c, const char *table, const char *value,
                           const char *name, const char *class)
{
    smtpd_check_state *st = c->st;
    char    word[32];
    size_t  wl;
    const char *rest;
    char    dsn[16];
    strbuf *text = strbuf_new(64);
    int     rc = R_DUNNO;
    long    code;

    while (*value == ' ' || *value == '\t')
        value++;
    wl = strcspn(value, " \t");
    rest = value + wl;
    while (*rest == ' ' || *rest == '\t')
        rest++;
    if (wl == 0 || wl >= sizeof(word)) {
        word[0] = 0;
    } else {
        memcpy(word, value, wl);
        word[wl] = 0;
    }
    if (word[0] && strspn(word, "0123456789") == wl && *rest == 0
        && !(wl == 3 && (word[0] == '4' || word[0] == '5'))) {
        rc = R_PERMIT;                          /* all-numeric: OK */
    } else if (wl == 3 && (word[0] == '4' || word[0] == '5')
               && strspn(word, "0123456789") == 3) {
        (void) num_parse_long(word, 400, 599, &code);
        ck_user_text(rest, code >= 500 ? "5.7.1" : "4.7.1", dsn, sizeof(dsn), text);
        rc = ck_reply(c, code, dsn, "<%s>: %s rejected: %s", name, class,
                      text->len ? strbuf_str(text) : "Access denied");
    } else if (str_casecmp(word, "OK") == 0) {
        rc = R_PERMIT;
    } else if (str_casecmp(word, "DUNNO") == 0) {
        rc = R_DUNNO;
    } else if (str_casecmp(word, "REJECT") == 0) {
        ck_user_text(rest, "5.7.1", dsn, sizeof(dsn), text);
        rc = ck_reply(c, ck_cfg.code_access_reject, dsn, "<%s>: %s rejected: %s",
                      name, class, text->len ? strbuf_str(text) : "Access denied");
    } else if (str_casecmp(word, "DEFER") == 0) {
        ck_user_text(rest, "4.7.1", dsn, sizeof(dsn), text);
        rc = ck_reply(c, ck_cfg.code_access_defer, dsn, "<%s>: %s rejected: %s",
                      name, class, text->len ? strbuf_str(text) : "Access denied");
    } else if (str_casecmp(word, "DEFER_IF_PERMIT") == 0) {
        ck_user_text(rest, "4.7.1", dsn, sizeof(dsn), text);
        if (c->dip->len == 0)
            strbuf_setf(c->dip, "%ld %s <%s>: %s rejected: %s", ck_cfg.code_defer,
                        dsn, name, class,
                        text->len ? strbuf_str(text) : "Service is unavailable");
    } else if (str_casecmp(word, "DEFER_IF_REJECT") == 0) {
        c->defer_if_reject = 1;
    } else if (str_casecmp(word, "HOLD") == 0) {
        ck_user_text(rest, "", dsn, sizeof(dsn), text);
        st->hold = 1;
        {
            strbuf *l = strbuf_new(64);

            strbuf_printf(l, "<%s>: %s %s", name, class,
                          text->len ? strbuf_str(text) : "triggers HOLD action");
            ck_log(c, "hold", strbuf_str(l));
            strbuf_free(l);
        }
    } else if (str_casecmp(word, "DISCARD") == 0) {
        ck_user_text(rest, "", dsn, sizeof(dsn), text);
        st->discard = 1;
        {
            strbuf *l = strbuf_new(64);

            strbuf_printf(l, "<%s>: %s %s", name, class,
                          text->len ? strbuf_str(text) : "triggers DISCARD action");
            ck_log(c, "discard", strbuf_str(l));
            strbuf_free(l);
        }
        rc = R_PERMIT;
    } else if (str_casecmp(word, "WARN") == 0 || str_casecmp(word, "INFO") == 0) {
        strbuf *l = strbuf_new(64);

        strbuf_printf(l, "<%s>: %s ", name, class);
        ck_clean(l, rest, SMTPD_CHECK_TEXT_MAX);
        ck_log(c, word[0] == 'W' || word[0] == 'w' ? "warn" : "info", strbuf_str(l));
        strbuf_free(l);
    } else if (str_casecmp(word, "PREPEND") == 0) {
        size_t  nl = strcspn(rest, ":");

        /* A header name: printable, no blanks, then ':'. */
        if (nl == 0 || rest[nl] != ':' || strcspn(rest, " \t") < nl
            || strlen(rest) > SMTPD_CHECK_TEXT_MAX) {
            msg_warn("access table %s: bad PREPEND header \"%.100s\"", table, rest);
            rc = ck_config_error(c);
        } else if (st->prepend->len + strlen(rest) + 1 <= SMTPD_CHECK_PREPEND_MAX) {
            ck_clean(st->prepend, rest, SMTPD_CHECK_TEXT_MAX);
            strbuf_putc(st->prepend, '\n');
        } else {
            msg_warn("PREPEND: too many header bytes for one message; dropped");
        }
    } else if (str_casecmp(word, "REDIRECT") == 0) {
        if (*rest == 0 || strcspn(rest, " \t") != strlen(rest)
            || strlen(rest) > ADDR_PATH_MAX) {
            msg_warn("access table %s: bad REDIRECT address \"%.100s\"", table, rest);
            rc = ck_config_error(c);
        } else {
            strbuf *l = strbuf_new(64);

            strbuf_reset(st->redirect);
            ck_clean(st->redirect, rest, ADDR_PATH_MAX);
            strbuf_printf(l, "<%s>: %s triggers REDIRECT %s", name, class,
                          strbuf_str(st->redirect));
            ck_log(c, "redirect", strbuf_str(l));
            strbuf_free(l);
        }
    } else {
        /* A list of restrictions or class names. */
        strbuf *err = strbuf_new(64);
        ck_list *list = ck_parse_value_list(value, err);

        if (list == NULL) {
            msg_warn("access table %s: %s", table, strbuf_str(err));
            rc = ck_config_error(c);
        } else if (c->depth >= SMTPD_CHECK_DEPTH_MAX) {
            msg_warn("access table %s: restriction classes nested too deep", table);
            rc = ck_config_error(c);
        } else {
            c->depth++;
            rc = ck_list_eval(c, list);
            c->depth--;
        }
        if (list) {
            ck_list_clear(list);
            mem_free(list);
        }
        strbuf_free(err);
    }
    strbuf_free(text);
    return rc;
}

/* ck_lookup: one key; -2 = not found, else an R_ result. */
static int ck_lookup(ck_ctx *c, const ck_restr *r, const char *key,
                     const char *name, const char *class)
{
    strbuf *val;
    int     rc;

    if (strlen(key) > SMTPD_CHECK_KEY_MAX || *key == 0)
        return -2;
    val = strbuf_new(64);
    rc = maps_find(r->table, key, val);
    if (rc == DICT_FOUND) {
        rc = ck_table_result(c, r->arg, strbuf_str(val), name, class);
    } else if (rc == DICT_RETRY) {
        msg_warn("%s lookup error for \"%.100s\": %s", r->arg, key,
                 maps_error(r->table));
        rc = ck_reply(c, 451, "4.3.0", "<%s>: Temporary lookup failure", name);
    } else {
        rc = -2;
    }
    strbuf_free(val);
    return rc;
}

/* ck_lookup_domain: domain then its parents (both spellings). */
static int ck_lookup_domain(ck_ctx *c, const ck_restr *r, const char *domain,
                            const char *name, const char *class)
{
    char   *d;
    const char *p;
    int     rc;

    if (*domain == 0)
        return -2;
    d = ck_domain_copy(domain);
    p = d;
    rc = ck_lookup(c, r, d, name, class);
    while (rc == -2 && d[0] != '[' && (p = strchr(p + 1, '.')) != NULL && p[1] != 0) {
        if ((rc = ck_lookup(c, r, p + 1, name, class)) != -2)
            break;
        rc = ck_lookup(c, r, p, name, class);
    }
    mem_free(d);
    return rc;
}

/* ck_ipv6_full: "2001:db8::1" as "2001:db8:0:0:0:0:0:1"; -1 if not IPv6. */
static int ck_ipv6_full(const char *addr, strbuf *out)
{
    unsigned char b[16];
    int     i;

    if (inet_pton(AF_INET6, addr, b) != 1)
        return -1;
    strbuf_reset(out);
    for (i = 0; i < 16; i += 2)
        strbuf_printf(out, "%s%x", i ? ":" : "", (unsigned) (b[i] << 8 | b[i + 1]));
    return 0;
}

/* ck_check_client: check_client_access. */
static int ck_check_client(ck_ctx *c, const ck_restr *r)
{
    const smtpd_check_view *v = c->v;
    strbuf *na = strbuf_new(64);
    strbuf *key = strbuf_new(64);
    int     rc = -2;
    char   *cut;

    ck_namaddr(v, na);
    if (v->client_name && *v->client_name && strcmp(v->client_name, "unknown") != 0)
        rc = ck_lookup_domain(c, r, v->client_name, strbuf_str(na), "Client host");
    if (rc == -2 && v->client_addr && *v->client_addr) {
        int     v6 = strchr(v->client_addr, ':') != NULL;

        rc = ck_lookup(c, r, v->client_addr, strbuf_str(na), "Client host");
        if (v6 && ck_ipv6_full(v->client_addr, key) < 0)
            strbuf_reset(key);
        else if (!v6)
            strbuf_setf(key, "%s", v->client_addr);
        if (v6 && rc == -2 && strcmp(strbuf_str(key), v->client_addr) != 0)
            rc = ck_lookup(c, r, strbuf_str(key), strbuf_str(na), "Client host");
        while (rc == -2 && key->len
               && (cut = strrchr(key->data, v6 ? ':' : '.')) != NULL) {
            *cut = 0;
            key->len = (size_t) (cut - key->data);
            rc = ck_lookup(c, r, strbuf_str(key), strbuf_str(na), "Client host");
        }
    }
    strbuf_free(na);
    strbuf_free(key);
    return rc == -2 ? R_DUNNO : rc;
}

/* ck_check_mail: check_sender_access / check_recipient_access. */
static int ck_check_mail(ck_ctx *c, const ck_restr *r, const char *addr,
                         const char *class)
{
    strbuf *val;
    strbuf *key;
    const char *domain;
    int     rc;

    if (addr == NULL)
        return R_DUNNO;
    if (*addr == 0) {
        rc = ck_lookup(c, r, ck_cfg.null_key, "", class);
        return rc == -2 ? R_DUNNO : rc;
    }
    if (strlen(addr) > SMTPD_CHECK_KEY_MAX)
        return R_DUNNO;
    val = strbuf_new(64);
    key = strbuf_new(64);
    rc = maps_find_addr(r->table, addr, ck_cfg.delims, 0, val, key);
    if (rc == DICT_FOUND) {
        rc = ck_table_result(c, r->arg, strbuf_str(val), addr, class);
    } else if (rc == DICT_RETRY) {
        msg_warn("%s lookup error for \"%.100s\": %s", r->arg, addr,
                 maps_error(r->table));
        rc = ck_reply(c, 451, "4.3.0", "<%s>: Temporary lookup failure", addr);
    } else {
        rc = -2;
        domain = addr_domain_of(addr);
        if (domain && *domain)
            rc = ck_lookup_domain(c, r, domain, addr, class);
        if (rc == -2 && domain) {
            strbuf_set(key, addr, addr_local_len(addr) + 1);
            str_lower(key->data);
            rc = ck_lookup(c, r, strbuf_str(key), addr, class);
        }
    }
    strbuf_free(val);
    strbuf_free(key);
    return rc == -2 ? R_DUNNO : rc;
}

/* ------------------------------------------------------------- DNS */

/* ck_zone_name: the zone of "zone=filter" for replies. */
static void ck_zone_name(const char *arg, strbuf *out)
{
    strbuf_set(out, arg, strcspn(arg, "="));
}

/* ck_rbl_reply: the Postfix-shaped reply for a DNSBL hit. */
static int ck_rbl_reply(ck_ctx *c, const char *what_class, const char *what,
                        const char *zone_arg, const dns_reply *hit)
{
    strbuf *zone = strbuf_new(64);
    strbuf *txt = strbuf_new(64);
    strbuf *clean = strbuf_new(64);
    int     rc;

    ck_zone_name(zone_arg, zone);
    if (smtpd_check_dns.text)
        smtpd_check_dns.text(hit, txt);
    ck_clean(clean, strbuf_str(txt), SMTPD_CHECK_TEXT_MAX);
    rc = ck_reply(c, ck_cfg.code_rbl, "5.7.1",
                  "Service unavailable; %s [%s] blocked using %s%s%s",
                  what_class, what, strbuf_str(zone),
                  clean->len ? "; " : "", strbuf_str(clean));
    strbuf_free(zone);
    strbuf_free(txt);
    strbuf_free(clean);
    return rc;
}

/* ck_rhsbl: one RHSBL check of domain. */
static int ck_rhsbl(ck_ctx *c, const ck_restr *r, const char *domain,
                    const char *what_class)
{
    dns_reply *hit;
    strbuf *err;
    int     rc = R_DUNNO;
    char   *d;

    if (domain == NULL || *domain == 0 || *domain == '[')
        return R_DUNNO;
    d = ck_domain_copy(domain);
    hit = mem_calloc(1, sizeof(*hit));
    err = strbuf_new(64);
    switch (smtpd_check_dns.rhsbl(d, r->arg, hit, err)) {
    case DNS_OK:
        rc = ck_rbl_reply(c, what_class, d, r->arg, hit);
        break;
    case DNS_INVALID:
        msg_warn("%s: %s", r->arg, strbuf_str(err));
        break;
    default:
        break;                          /* not listed, or cannot tell now */
    }
    mem_free(hit);
    mem_free(d);
    strbuf_free(err);
    return rc;
}

/* ck_unknown_domain: reject_unknown_{sender,recipient}_domain. */
static int ck_unknown_domain(ck_ctx *c, const char *addr, const char *class,
                             const char *dsn)
{
    const char *domain;
    strbuf *err;
    int     rc = R_DUNNO;

    if (addr == NULL || *addr == 0)
        return R_DUNNO;
    domain = addr_domain_of(addr);
    if (domain == NULL || *domain == 0 || *domain == '[')
        return R_DUNNO;
    if (ck_domain_local(domain) == 1 || ck_domain_relay(domain) == 1)
        return R_DUNNO;
    err = strbuf_new(64);
    switch (smtpd_check_dns.domain_exists(domain, err)) {
    case DNS_OK:
        break;
    case DNS_RETRY:
        if (c->dip->len == 0)
            strbuf_setf(c->dip, "450 4.4.3 <%s>: %s rejected: Domain not found"
                        " (temporary DNS failure)", addr, class);
        break;
    default:
        rc = ck_reply(c, ck_cfg.code_unknown_addr, dsn,
                      "<%s>: %s rejected: Domain not found", addr, class);
        break;
    }
    strbuf_free(err);
    return rc;
}

/* ck_virtual_find: look addr up in a virtual table; DICT_* result. */
static int ck_virtual_find(maps *m, const char *addr)
{
    strbuf *val = strbuf_new(64);
    char   *key = mem_strdup(addr);
    int     rc;

    str_lower(key);
    rc = m ? maps_find_addr(m, key, ck_cfg.delims, 0, val, NULL) : DICT_NOTFOUND;
    if (rc == DICT_RETRY)
        msg_warn("%s", maps_error(m));
    strbuf_free(val);
    mem_free(key);
    return rc;
}

/* ck_unlisted_virtual: addr in a virtual alias or mailbox domain must be
 * listed in virtual_alias_maps (both) or virtual_mailbox_maps (mailbox
 * domains). R_DUNNO when the domain is not virtual or the address is
 * listed; a reply otherwise. */
static int ck_unlisted_virtual(ck_ctx *c, const char *addr, const char *class)
{
    const char *domain = addr_domain_of(addr);
    int     alias, mbox, rc;

    if (domain == NULL || *domain == 0 || *domain == '[')
        return R_DUNNO;
    if ((alias = ck_domain_virtual(domain, 1)) == 0
        && (mbox = ck_domain_virtual(domain, 0)) == 0)
        return R_DUNNO;
    if (alias == DICT_RETRY || (alias == 0 && mbox == DICT_RETRY)) {
        msg_warn("%s: virtual domain lookup failed", addr);
        return ck_reply(c, 451, "4.3.0", "<%s>: Temporary lookup failure", addr);
    }
    if (strlen(addr) > SMTPD_CHECK_KEY_MAX)
        return R_DUNNO;
    rc = ck_virtual_find(ck_cfg.valias_rcpt, addr);
    if (rc == DICT_NOTFOUND && !alias)
        rc = ck_virtual_find(ck_cfg.vmbox_rcpt, addr);
    if (rc == DICT_FOUND)
        return R_DUNNO;
    if (rc == DICT_RETRY)
        return ck_reply(c, 451, "4.3.0", "<%s>: Temporary lookup failure", addr);
    if (alias)
        return ck_reply(c, ck_cfg.code_valias, "5.1.1",
                        "<%s>: %s rejected: User unknown in virtual alias table",
                        addr, class);
    return ck_reply(c, ck_cfg.code_vmbox, "5.1.1",
                    "<%s>: %s rejected: User unknown in virtual mailbox table",
                    addr, class);
}

/* ck_unlisted: the local_recipient_maps check of addr (local domains),
 * or the virtual table check (virtual alias and mailbox domains). */
static int ck_unlisted(ck_ctx *c, const char *addr, const char *class)
{
    strbuf *val;
    char   *key;
    int     loc, rc;

    if (addr == NULL || *addr == 0)
        return R_DUNNO;
    if ((loc = ck_addr_local(addr)) == DICT_RETRY) {
        msg_warn("%s: mydestination lookup failed", PARAM_MYDESTINATION);
        return ck_reply(c, 451, "4.3.0", "<%s>: Temporary lookup failure", addr);
    }
    if (loc == 0)
        return ck_unlisted_virtual(c, addr, class);
    if (ck_cfg.local_rcpt == NULL || strlen(addr) > SMTPD_CHECK_KEY_MAX)
        return R_DUNNO;
    val = strbuf_new(64);
    key = mem_strdup(addr);
    str_lower(key);
    rc = maps_find_addr(ck_cfg.local_rcpt, key, ck_cfg.delims,
                        MAPS_ADDR_F_LOCAL, val, NULL);
    strbuf_free(val);
    mem_free(key);
    if (rc == DICT_FOUND)
        return R_DUNNO;
    if (rc == DICT_RETRY) {
        msg_warn("%s", maps_error(ck_cfg.local_rcpt));
        return ck_reply(c, 451, "4.3.0", "<%s>: Temporary lookup failure", addr);
    }
    return ck_reply(c, ck_cfg.code_local, "5.1.1",
                    "<%s>: %s rejected: User unknown in local recipient table",
                    addr, class);
}

/* ck_login_owns: 1 when login is one of the owners listed in owners. */
static int ck_login_owns(const char *owners, const char *login)
{
    size_t  n = strlen(login), w;

    while (*owners) {
        w = strcspn(owners, ", \t");
        if (w == n && strncasecmp(owners, login, n) == 0)
            return 1;
        owners += w;
        owners += strspn(owners, ", \t");
    }
    return 0;
}

/* ck_sender_login: reject_*sender_login_mismatch. check_auth/check_unauth
 * say which half applies: an authenticated client must own the sender
 * address; an unauthenticated one may not use an owned address. */
static int ck_sender_login(ck_ctx *c, int check_auth, int check_unauth)
{
    const smtpd_check_view *v = c->v;
    const char *at;
    strbuf *owners, *key;
    int     rc, res = R_DUNNO;

    if (ck_cfg.sender_login == NULL || v->sender == NULL || *v->sender == 0
        || strlen(v->sender) > SMTPD_CHECK_KEY_MAX)
        return R_DUNNO;
    if (v->sasl_username ? !check_auth : !check_unauth)
        return R_DUNNO;
    owners = strbuf_new(64);
    key = strbuf_new(64);
    strbuf_set(key, v->sender, strlen(v->sender));
    str_lower(key->data);
    rc = maps_find(ck_cfg.sender_login, strbuf_str(key), owners);
    if (rc == DICT_NOTFOUND && (at = strrchr(v->sender, '@')) != NULL) {
        strbuf_set(key, at, strlen(at));
        str_lower(key->data);
        rc = maps_find(ck_cfg.sender_login, strbuf_str(key), owners);
    }
    if (rc == DICT_RETRY) {
        msg_warn("%s", maps_error(ck_cfg.sender_login));
        res = ck_reply(c, 451, "4.3.0", "<%s>: Sender address rejected: "
                       "Temporary lookup failure", v->sender);
    } else if (v->sasl_username != NULL) {
        if (rc != DICT_FOUND || !ck_login_owns(strbuf_str(owners), v->sasl_username))
            res = ck_reply(c, 553, "5.7.1", "<%s>: Sender address rejected: "
                           "not owned by user %s", v->sender, v->sasl_username);
    } else if (rc == DICT_FOUND) {
        res = ck_reply(c, 553, "5.7.1", "<%s>: Sender address rejected: "
                       "not logged in", v->sender);
    }
    strbuf_free(owners);
    strbuf_free(key);
    return res;
}

/* --------------------------------------------------------- evaluation */

/* ck_reply_name: the "<name>" of generic replies in the current list. */
static const char *ck_reply_name(ck_ctx *c, strbuf *buf)
{
    const smtpd_check_view *v = c->v;

    switch (c->stage) {
    case ST_HELO:
        if (v->helo_name)
            return v->helo_name;
        break;
    case ST_SENDER:
        if (v->sender)
            return v->sender;
        break;
    case ST_RELAY:
    case ST_RCPT:
        if (v->recipient)
            return v->recipient;
        break;
    case ST_DATA:
        return "DATA";
    case ST_EOD:
        return "END-OF-MESSAGE";
    case ST_ETRN:
        if (v->etrn_domain)
            return v->etrn_domain;
        break;
    default:
        break;
    }
    ck_namaddr(v, buf);
    return strbuf_str(buf);
}

/* ck_eval: one restriction. */
static int ck_eval(ck_ctx *c, const ck_restr *r)
{
    const smtpd_check_view *v = c->v;
    const char *class = ck_stage_class[c->stage];
    strbuf *nb = strbuf_new(64);
    const char *name = ck_reply_name(c, nb);
    int     rc = R_DUNNO, auth;
    strbuf *err;
    dns_reply *hit;

    switch (r->op) {
    case OP_PERMIT:
        rc = R_PERMIT;
        break;
    case OP_REJECT:
        rc = ck_reply(c, ck_cfg.code_reject, "5.7.1", "<%s>: %s rejected: Access denied",
                      name, class);
        break;
    case OP_DEFER:
        rc = ck_reply(c, ck_cfg.code_defer, "4.7.1", "<%s>: %s rejected: Try again later",
                      name, class);
        break;
    case OP_DEFER_IF_PERMIT:
        if (c->dip->len == 0)
            strbuf_setf(c->dip, "%ld 4.7.1 <%s>: %s rejected: defer_if_permit requested",
                        ck_cfg.code_defer, name, class);
        break;
    case OP_DEFER_IF_REJECT:
        c->defer_if_reject = 1;
        break;
    case OP_WARN_IF_REJECT:
        c->warn_next = 1;
        break;
    case OP_PERMIT_MYNETWORKS:
        if (smtpd_check_mynetworks(v->client_addr))
            rc = R_PERMIT;
        break;
    case OP_PERMIT_SASL:
        if (v->sasl_authenticated)
            rc = R_PERMIT;
        break;
    case OP_REJECT_UNAUTH_DEST:
    case OP_DEFER_UNAUTH_DEST:
    case OP_PERMIT_AUTH_DEST:
        if (v->recipient == NULL)
            break;
        auth = ck_auth_dest(v->recipient);
        if (auth == DICT_RETRY)
            rc = ck_reply(c, 451, "4.3.0", "<%s>: Temporary lookup failure",
                          v->recipient);
        else if (auth == 1 && r->op == OP_PERMIT_AUTH_DEST)
            rc = R_PERMIT;
        else if (auth == 0 && r->op == OP_REJECT_UNAUTH_DEST)
            rc = ck_reply(c, ck_cfg.code_relay, "5.7.1",
                          "<%s>: Relay access denied", v->recipient);
        else if (auth == 0 && r->op == OP_DEFER_UNAUTH_DEST)
            rc = ck_reply(c, 400 + ck_cfg.code_relay % 100, "4.7.1",
                          "<%s>: Relay access denied", v->recipient);
        break;
    case OP_UNKNOWN_SENDER_DOMAIN:
        rc = ck_unknown_domain(c, v->sender, "Sender address", "5.1.8");
        break;
    case OP_UNKNOWN_RCPT_DOMAIN:
        rc = ck_unknown_domain(c, v->recipient, "Recipient address", "5.1.2");
        break;
    case OP_NON_FQDN_SENDER:
        if (v->sender && *v->sender && !ck_fqdn(addr_domain_of(v->sender)))
            rc = ck_reply(c, ck_cfg.code_non_fqdn, "5.5.2",
                          "<%s>: Sender address rejected: need fully-qualified address",
                          v->sender);
        break;
    case OP_NON_FQDN_RCPT:
        if (v->recipient && *v->recipient && !ck_fqdn(addr_domain_of(v->recipient)))
            rc = ck_reply(c, ck_cfg.code_non_fqdn, "5.5.2",
                          "<%s>: Recipient address rejected: need fully-qualified address",
                          v->recipient);
        break;
    case OP_NON_FQDN_HELO:
        if (v->helo_name && !ck_fqdn(v->helo_name))
            rc = ck_reply(c, ck_cfg.code_non_fqdn, "5.5.2",
                          "<%s>: Helo command rejected: need fully-qualified hostname",
                          v->helo_name);
        break;
    case OP_INVALID_HELO:
        if (v->helo_name && !ck_helo_valid(v->helo_name))
            rc = ck_reply(c, ck_cfg.code_invalid_host, "5.5.2",
                          "<%s>: Helo command rejected: Invalid name", v->helo_name);
        break;
    case OP_UNKNOWN_CLIENT:
        if (v->client_name == NULL || strcmp(v->client_name, "unknown") == 0) {
            strbuf *na = strbuf_new(64);

            ck_namaddr(v, na);
            rc = ck_reply(c, ck_cfg.code_unknown_client, "4.7.25",
                          "<%s>: Client host rejected: cannot find your hostname, [%s]",
                          strbuf_str(na), v->client_addr ? v->client_addr : "");
            strbuf_free(na);
        }
        break;
    case OP_UNLISTED_RCPT:
        rc = ck_unlisted(c, v->recipient, "Recipient address");
        break;
    case OP_SENDER_LOGIN:
        rc = ck_sender_login(c, 1, 1);
        break;
    case OP_AUTH_SENDER_LOGIN:
        rc = ck_sender_login(c, 1, 0);
        break;
    case OP_UNAUTH_SENDER_LOGIN:
        rc = ck_sender_login(c, 0, 1);
        break;
    case OP_UNLISTED_SENDER:
        rc = ck_unlisted(c, v->sender, "Sender address");
        break;
    case OP_CHECK_CLIENT:
        rc = ck_check_client(c, r);
        break;
    case OP_CHECK_HELO:
        if (v->helo_name && *v->helo_name) {
            rc = ck_lookup_domain(c, r, v->helo_name, v->helo_name, "Helo command");
            rc = rc == -2 ? R_DUNNO : rc;
        }
        break;
    case OP_CHECK_ETRN:
        if (v->etrn_domain && *v->etrn_domain) {
            rc = ck_lookup_domain(c, r, v->etrn_domain, v->etrn_domain, "Etrn command");
            rc = rc == -2 ? R_DUNNO : rc;
        }
        break;
    case OP_CHECK_SENDER:
        rc = ck_check_mail(c, r, v->sender, "Sender address");
        break;
    case OP_CHECK_RCPT:
        rc = ck_check_mail(c, r, v->recipient, "Recipient address");
        break;
    case OP_RBL_CLIENT:
        if (v->client_addr == NULL || *v->client_addr == 0)
            break;
        hit = mem_calloc(1, sizeof(*hit));
        err = strbuf_new(64);
        switch (smtpd_check_dns.rbl_client(v->client_addr, r->arg, hit, err)) {
        case DNS_OK:
            rc = ck_rbl_reply(c, "Client host", v->client_addr, r->arg, hit);
            break;
        case DNS_INVALID:
            msg_warn("%s: %s", r->arg, strbuf_str(err));
            break;
        default:
            break;
        }
        mem_free(hit);
        strbuf_free(err);
        break;
    case OP_RHSBL_SENDER:
        if (v->sender && *v->sender)
            rc = ck_rhsbl(c, r, addr_domain_of(v->sender), "Sender address");
        break;
    case OP_RHSBL_RCPT:
        if (v->recipient && *v->recipient)
            rc = ck_rhsbl(c, r, addr_domain_of(v->recipient), "Recipient address");
        break;
    case OP_RHSBL_CLIENT:
        if (v->client_name && strcmp(v->client_name, "unknown") != 0)
            rc = ck_rhsbl(c, r, v->client_name, "Client host");
        break;
    case OP_RHSBL_HELO:
        if (v->helo_name)
            rc = ck_rhsbl(c, r, v->helo_name, "Helo command");
        break;
    case OP_UNAUTH_PIPELINING:
        if (v->pipelining_abuse)
            rc = ck_reply(c, 503, "5.5.0",
                          "<%s>: %s rejected: Improper use of SMTP command pipelining",
                          name, class);
        break;
    case OP_MULTI_RCPT_BOUNCE:
        if (v->sender && *v->sender == 0
            && v->rcpt_count > (c->stage == ST_DATA || c->stage == ST_EOD ? 1 : 0))
            rc = ck_reply(c, 550, "5.5.3", "<%s>: %s rejected: Multi-recipient bounce",
                          name, class);
        break;
    case OP_CLASS:
        if (c->depth >= SMTPD_CHECK_DEPTH_MAX) {
            msg_warn("restriction class %s: nested too deep",
                     ck_cfg.class_names[r->class_index]);
            rc = ck_config_error(c);
            break;
        }
        c->depth++;
        rc = ck_list_eval(c, &ck_cfg.classes[r->class_index]);
        c->depth--;
        break;
    }
    strbuf_free(nb);
    return rc;
}

/* ck_list_eval: walk one list; R_PERMIT, R_DUNNO (exhausted) or R_FINAL. */
static int ck_list_eval(ck_ctx *c, const ck_list *list)
{
    int     outer_warn = c->warn_active;
    int     rc = R_DUNNO;
    size_t  i;

    c->warn_next = 0;
    for (i = 0; i < list->count; i++) {
        int     warn = c->warn_next;

        c->warn_next = 0;
        c->warn_active = outer_warn || warn;
        rc = ck_eval(c, &list->items[i]);
        c->warn_active = outer_warn;
        if (rc != R_DUNNO || c->st->discard)
            break;
    }
    c->warn_next = 0;
    return rc == R_DUNNO && c->st->discard ? R_PERMIT : rc;
}

/* ck_ctx_init: a context for one call. */
static void ck_ctx_init(ck_ctx *c, smtpd_check_state *st,
                        const smtpd_check_view *v, smtpd_check_result *res,
                        const char *cmd)
{
    memset(c, 0, sizeof(*c));
    c->st = st;
    c->v = v;
    c->res = res;
    c->cmd = cmd;
    c->dip = strbuf_new(64);
    c->prepend_start = st->prepend->len;
    res->action = SMTPD_CHECK_OK;
    strbuf_reset(res->reply);
}

/* ck_finish: end of a call: defer_if_permit, HOLD/DISCARD, copy-outs. */
static int ck_finish(ck_ctx *c, int rc)
{
    smtpd_check_result *res = c->res;
    smtpd_check_state *st = c->st;

    if (rc != R_FINAL) {
        res->action = SMTPD_CHECK_OK;
        strbuf_reset(res->reply);
        if (c->dip->len && !st->discard) {
            /* The pending text names client data: clean it like any reply. */
            strbuf_reset(res->reply);
            ck_clean(res->reply, strbuf_str(c->dip), SMTPD_CHECK_TEXT_MAX + 600);
            res->action = SMTPD_CHECK_DEFER;
            ck_log(c, "reject", strbuf_str(res->reply));
        } else if (st->discard) {
            res->action = SMTPD_CHECK_DISCARD;
        } else if (st->hold) {
            res->action = SMTPD_CHECK_HOLD;
        }
    }
    strbuf_set(res->prepend, st->prepend->data + c->prepend_start,
               st->prepend->len - c->prepend_start);
    strbuf_set(res->redirect, st->redirect->data, st->redirect->len);
    strbuf_free(c->dip);
    return res->action;
}

/* ck_stage_cached: evaluate a client/helo/sender list once, cache it. */
static int ck_stage_cached(ck_ctx *c, enum ck_stage stage, ck_verdict *vd)
{
    strbuf *saved;
    int     rc;

    if (vd->done) {
        if (vd->action != SMTPD_CHECK_OK) {
            c->res->action = vd->action;
            strbuf_set(c->res->reply, vd->reply->data, vd->reply->len);
            ck_log(c, "reject", strbuf_str(c->res->reply));
            return R_FINAL;
        }
        if (vd->dip->len && c->dip->len == 0)
            strbuf_set(c->dip, vd->dip->data, vd->dip->len);
        return R_DUNNO;
    }
    /* This list's own defer_if_permit is cached; an earlier one stays. */
    saved = strbuf_new(64);
    strbuf_set(saved, c->dip->data, c->dip->len);
    strbuf_reset(c->dip);
    c->stage = stage;
    rc = ck_list_eval(c, &ck_cfg.lists[stage]);
    vd->done = 1;
    vd->action = rc == R_FINAL ? c->res->action : SMTPD_CHECK_OK;
    strbuf_set(vd->reply, c->res->reply->data, c->res->reply->len);
    strbuf_set(vd->dip, c->dip->data, c->dip->len);
    if (saved->len)
        strbuf_set(c->dip, saved->data, saved->len);
    strbuf_free(saved);
    return rc == R_FINAL ? R_FINAL : R_DUNNO;
}

/* ck_verdict_init: an empty cached verdict. */
static void ck_verdict_init(ck_verdict *vd)
{
    vd->done = 0;
    vd->action = SMTPD_CHECK_OK;
    vd->reply = strbuf_new(64);
    vd->dip = strbuf_new(16);
}

/* ck_verdict_free: free it. */
static void ck_verdict_free(ck_verdict *vd)
{
    strbuf_free(vd->reply);
    strbuf_free(vd->dip);
}

/* ck_helo_verdict: the helo cache, reset when the HELO name changed. */
static ck_verdict *ck_helo_verdict(smtpd_check_state *st, const smtpd_check_view *v)
{
    const char *h = v->helo_name ? v->helo_name : "";

    if (st->helo_name == NULL || strcmp(st->helo_name, h) != 0) {
        mem_free(st->helo_name);
        st->helo_name = mem_strdup(h);
        st->helo.done = 0;
    }
    return &st->helo;
}

/* ------------------------------------------------------------- public */

/* smtpd_check_connect: client restrictions (unless delayed). */
int     smtpd_check_connect(smtpd_check_state *st, const smtpd_check_view *v,
                            smtpd_check_result *res)
{
    ck_ctx  c;
    int     rc = R_DUNNO;

    ck_ctx_init(&c, st, v, res, "CONNECT");
    if (ck_cfg.error || !ck_cfg.loaded)
        rc = ck_config_error(&c);
    else if (!ck_cfg.delay_reject)
        rc = ck_stage_cached(&c, ST_CLIENT, &st->client);
    return ck_finish(&c, rc);
}

/* smtpd_check_helo: client and helo restrictions (unless delayed). */
int     smtpd_check_helo(smtpd_check_state *st, const smtpd_check_view *v,
                         smtpd_check_result *res)
{
    ck_ctx  c;
    int     rc = R_DUNNO;

    ck_ctx_init(&c, st, v, res,
                v->protocol && strcmp(v->protocol, "SMTP") == 0 ? "HELO" : "EHLO");
    if (ck_cfg.error || !ck_cfg.loaded)
        rc = ck_config_error(&c);
    else if (!ck_cfg.delay_reject
             && (rc = ck_stage_cached(&c, ST_CLIENT, &st->client)) != R_FINAL)
        rc = ck_stage_cached(&c, ST_HELO, ck_helo_verdict(st, v));
    return ck_finish(&c, rc);
}

/* smtpd_check_mail: client, helo and sender restrictions (unless delayed). */
int     smtpd_check_mail(smtpd_check_state *st, const smtpd_check_view *v,
                         smtpd_check_result *res)
{
    ck_ctx  c;
    int     rc = R_DUNNO;

    ck_ctx_init(&c, st, v, res, "MAIL");
    st->sender.done = 0;
    if (ck_cfg.error || !ck_cfg.loaded)
        rc = ck_config_error(&c);
    else if (!ck_cfg.delay_reject
             && (rc = ck_stage_cached(&c, ST_CLIENT, &st->client)) != R_FINAL
             && (rc = ck_stage_cached(&c, ST_HELO, ck_helo_verdict(st, v))) != R_FINAL)
        rc = ck_stage_cached(&c, ST_SENDER, &st->sender);
    return ck_finish(&c, rc);
}

/* smtpd_check_rcpt: client, helo, sender, relay, recipient, unlisted. */
int     smtpd_check_rcpt(smtpd_check_state *st, const smtpd_check_view *v,
                         smtpd_check_result *res)
{
    ck_ctx  c;
    int     rc;

    ck_ctx_init(&c, st, v, res, "RCPT");
    if (ck_cfg.error || !ck_cfg.loaded)
        return ck_finish(&c, ck_config_error(&c));
    if (st->discard)
        return ck_finish(&c, R_PERMIT);
    if ((rc = ck_stage_cached(&c, ST_CLIENT, &st->client)) == R_FINAL
        || (rc = ck_stage_cached(&c, ST_HELO, ck_helo_verdict(st, v))) == R_FINAL
        || (rc = ck_stage_cached(&c, ST_SENDER, &st->sender)) == R_FINAL)
        return ck_finish(&c, rc);
    c.stage = ST_RELAY;
    if ((rc = ck_list_eval(&c, &ck_cfg.lists[ST_RELAY])) != R_FINAL) {
        c.stage = ST_RCPT;
        rc = ck_list_eval(&c, &ck_cfg.lists[ST_RCPT]);
    }
    c.warn_active = 0;
    if (rc != R_FINAL && ck_cfg.unlisted_sender && !st->discard)
        rc = ck_unlisted(&c, v->sender, "Sender address");
    if (rc != R_FINAL && ck_cfg.unlisted_rcpt && !st->discard)
        rc = ck_unlisted(&c, v->recipient, "Recipient address");
    return ck_finish(&c, rc);
}

/* smtpd_check_data: smtpd_data_restrictions. */
int     smtpd_check_data(smtpd_check_state *st, const smtpd_check_view *v,
                         smtpd_check_result *res)
{
    ck_ctx  c;
    int     rc = R_DUNNO;

    ck_ctx_init(&c, st, v, res, "DATA");
    if (ck_cfg.error || !ck_cfg.loaded) {
        rc = ck_config_error(&c);
    } else if (!st->discard) {
        c.stage = ST_DATA;
        rc = ck_list_eval(&c, &ck_cfg.lists[ST_DATA]);
    }
    return ck_finish(&c, rc);
}

/* smtpd_check_eod: smtpd_end_of_data_restrictions. */
int     smtpd_check_eod(smtpd_check_state *st, const smtpd_check_view *v,
                        smtpd_check_result *res)
{
    ck_ctx  c;
    int     rc = R_DUNNO;

    ck_ctx_init(&c, st, v, res, "END-OF-MESSAGE");
    if (ck_cfg.error || !ck_cfg.loaded) {
        rc = ck_config_error(&c);
    } else if (!st->discard) {
        c.stage = ST_EOD;
        rc = ck_list_eval(&c, &ck_cfg.lists[ST_EOD]);
    }
    return ck_finish(&c, rc);
}

/* smtpd_check_etrn: smtpd_etrn_restrictions (client list first). */
int     smtpd_check_etrn(smtpd_check_state *st, const smtpd_check_view *v,
                         smtpd_check_result *res)
{
    ck_ctx  c;
    int     rc;

    ck_ctx_init(&c, st, v, res, "ETRN");
    if (ck_cfg.error || !ck_cfg.loaded) {
        rc = ck_config_error(&c);
    } else if ((rc = ck_stage_cached(&c, ST_CLIENT, &st->client)) != R_FINAL
               && (rc = ck_stage_cached(&c, ST_HELO, ck_helo_verdict(st, v))) != R_FINAL) {
        c.stage = ST_ETRN;
        rc = ck_list_eval(&c, &ck_cfg.lists[ST_ETRN]);
    }
    /* ETRN is not part of a transaction: HOLD/DISCARD do not apply. */
    rc = ck_finish(&c, rc);
    if (rc == SMTPD_CHECK_HOLD || rc == SMTPD_CHECK_DISCARD)
        rc = res->action = SMTPD_CHECK_OK;
    return rc;
}

/* smtpd_check_local_recipient: unknown local users (VRFY, RCPT). */
int     smtpd_check_local_recipient(const smtpd_check_view *v,
                                    smtpd_check_result *res)
{
    smtpd_check_state *st = smtpd_check_session_new();
    ck_ctx  c;
    int     rc;

    ck_ctx_init(&c, st, v, res, v->recipient && v->sender == NULL ? "VRFY" : "RCPT");
    c.stage = ST_RCPT;
    if (ck_cfg.error || !ck_cfg.loaded)
        rc = ck_config_error(&c);
    else
        rc = ck_unlisted(&c, v->recipient, "Recipient address");
    rc = ck_finish(&c, rc);
    smtpd_check_session_free(st);
    return rc;
}

/* smtpd_check_mynetworks: is addr a trusted client? */
int     smtpd_check_mynetworks(const char *addr)
{
    return ck_cfg.mynetworks != NULL && cidr_list_match(ck_cfg.mynetworks, addr);
}

/* smtpd_check_helo_required: smtpd_helo_required. */
int     smtpd_check_helo_required(void)
{
    return ck_cfg.helo_required;
}

/* smtpd_check_session_new: per-connection state. */
smtpd_check_state *smtpd_check_session_new(void)
{
    smtpd_check_state *st = mem_calloc(1, sizeof(*st));

    ck_verdict_init(&st->client);
    ck_verdict_init(&st->helo);
    ck_verdict_init(&st->sender);
    st->prepend = strbuf_new(64);
    st->redirect = strbuf_new(64);
    return st;
}

/* smtpd_check_session_free: free it; returns NULL. */
smtpd_check_state *smtpd_check_session_free(smtpd_check_state *st)
{
    if (st == NULL)
        return NULL;
    ck_verdict_free(&st->client);
    ck_verdict_free(&st->helo);
    ck_verdict_free(&st->sender);
    mem_free(st->helo_name);
    strbuf_free(st->prepend);
    strbuf_free(st->redirect);
    return mem_free(st);
}

/* smtpd_check_reset: forget the transaction (sender verdict, actions). */
void    smtpd_check_reset(smtpd_check_state *st)
{
    st->sender.done = 0;
    st->hold = 0;
    st->discard = 0;
    strbuf_reset(st->prepend);
    strbuf_reset(st->redirect);
}

/* smtpd_check_result_init: empty result buffers. */
void    smtpd_check_result_init(smtpd_check_result *res)
{
    res->action = SMTPD_CHECK_OK;
    res->reply = strbuf_new(128);
    res->prepend = strbuf_new(64);
    res->redirect = strbuf_new(64);
}

/* smtpd_check_result_free: free the buffers. */
void    smtpd_check_result_free(smtpd_check_result *res)
{
    res->reply = strbuf_free(res->reply);
    res->prepend = strbuf_free(res->prepend);
    res->redirect = strbuf_free(res->redirect);
}

/* ------------------------------------------------------- configuration */

/* ck_tokens: split at commas/blanks, keeping {...} together; NULL-ended. */
static char **ck_tokens(const char *text, size_t *count, strbuf *err)
{
    char  **out = NULL;
    size_t  n = 0, cap = 0;
    const char *p = text;

    while (*p) {
        const char *start;
        int     depth = 0;

        while (*p == ',' || *p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
            p++;
        if (*p == 0)
            break;
        start = p;
        while (*p && (depth > 0 || !(*p == ',' || *p == ' ' || *p == '\t'
                                     || *p == '\r' || *p == '\n'))) {
            if (*p == '{')
                depth++;
            else if (*p == '}' && depth > 0)
                depth--;
            p++;
        }
        if (depth > 0) {
            strbuf_setf(err, "unbalanced '{' in \"%.100s\"", start);
            goto bad;
        }
        if (n + 1 >= SMTPD_CHECK_TOKENS_MAX) {
            strbuf_setf(err, "more than %d restrictions in one list",
                        SMTPD_CHECK_TOKENS_MAX);
            goto bad;
        }
        if (n + 2 > cap) {
            cap = cap ? cap * 2 : 8;
            out = mem_realloc(out, cap * sizeof(char *));
        }
        /* "{ text }" around a whole item only groups. */
        if (*start == '{' && p[-1] == '}' && p - start >= 2) {
            char   *t = mem_strndup(start + 1, (size_t) (p - start - 2));

            out[n++] = mem_strdup(str_trim(t));
            mem_free(t);
        } else {
            out[n++] = mem_strndup(start, (size_t) (p - start));
        }
        out[n] = NULL;
    }
    if (out == NULL) {
        out = mem_calloc(1, sizeof(char *));
    }
    *count = n;
    return out;
bad:
    while (n > 0)
        mem_free(out[--n]);
    mem_free(out);
    return NULL;
}

/* ck_tokens_free: free a token array. */
static void ck_tokens_free(char **t)
{
    size_t  i;

    if (t == NULL)
        return;
    for (i = 0; t[i]; i++)
        mem_free(t[i]);
    mem_free(t);
}

/* ck_list_clear: free a list's items. */
static void ck_list_clear(ck_list *list)
{
    size_t  i;

    for (i = 0; i < list->count; i++) {
        mem_free(list->items[i].arg);
        maps_free(list->items[i].table);
    }
    mem_free(list->items);
    list->items = NULL;
    list->count = 0;
}

/* ck_list_parse: parse tokens into list; -1 with err on a bad name. */
static int ck_list_parse(const char *title, const char *text, ck_list *list,
                         strbuf *err)
{
    size_t  count, i, k;
    char  **tok = ck_tokens(text, &count, err);

    list->items = NULL;
    list->count = 0;
    if (tok == NULL) {
        char   *why = mem_strdup(strbuf_str(err));

        strbuf_setf(err, "%s: %s", title, why);
        mem_free(why);
        return -1;
    }
    list->items = mem_calloc(count ? count : 1, sizeof(ck_restr));
    for (i = 0; i < count; i++) {
        ck_restr *r = &list->items[list->count];
        const struct ck_name *nm = NULL;

        for (k = 0; k < sizeof(ck_names) / sizeof(ck_names[0]); k++) {
            if (strcmp(tok[i], ck_names[k].name) == 0) {
                nm = &ck_names[k];
                break;
            }
        }
        if (nm == NULL) {
            for (k = 0; k < ck_cfg.class_count; k++) {
                if (strcmp(tok[i], ck_cfg.class_names[k]) == 0)
                    break;
            }
            if (k == ck_cfg.class_count) {
                strbuf_setf(err, "%s: unknown restriction \"%.100s\"", title, tok[i]);
                goto bad;
            }
            r->op = OP_CLASS;
            r->class_index = k;
            list->count++;
            continue;
        }
        r->op = nm->op;
        if (nm->flags & (CK_F_ARG_TABLE | CK_F_ARG_DOMAIN)) {
            if (tok[i + 1] == NULL) {
                strbuf_setf(err, "%s: %s needs an argument", title, nm->name);
                goto bad;
            }
            i++;
            if ((nm->flags & CK_F_ARG_TABLE) && strchr(tok[i], ':') == NULL) {
                strbuf_setf(err, "%s: %s needs a type:table argument, not \"%.100s\"",
                            title, nm->name, tok[i]);
                goto bad;
            }
            r->arg = mem_strdup(tok[i]);
            if (nm->flags & CK_F_ARG_TABLE)
                r->table = maps_open(nm->name, tok[i], DICT_F_FOLD);
        }
        list->count++;
    }
    ck_tokens_free(tok);
    return 0;
bad:
    ck_tokens_free(tok);
    ck_list_clear(list);
    return -1;
}

/* ck_parse_value_list: a table result that names restrictions. */
static ck_list *ck_parse_value_list(const char *value, strbuf *err)
{
    ck_list *list = mem_calloc(1, sizeof(*list));

    if (ck_list_parse("access table result", value, list, err) < 0)
        return mem_free(list);
    return list;
}

/* ck_list_stops_relay: does a top-level list hold a relay stopper? */
static int ck_list_stops_relay(const ck_list *list)
{
    size_t  i, k;

    for (i = 0; i < list->count; i++)
        for (k = 0; k < sizeof(ck_names) / sizeof(ck_names[0]); k++)
            if (ck_names[k].op == list->items[i].op
                && (ck_names[k].flags & CK_F_STOPS_RELAY))
                return 1;
    return 0;
}

/* ck_value: the expanded value of a parameter (table or user-defined). */
static int ck_value(const char *name, strbuf *out, strbuf *err)
{
    const char *raw = param_lookup(name);

    strbuf_reset(out);
    if (raw == NULL)
        return -1;
    if (param_expand(raw, out, err) < 0) {
        strbuf_setf(err, "%s: %s", name, strbuf_str(err));
        return -2;
    }
    return 0;
}

/* ck_domains: split a domain list into names and a maps of tables. */
static void ck_domains(const char *title, const char *text, char ***names,
                       size_t *count, maps **tables)
{
    size_t  n, i, k = 0;
    strbuf *err = strbuf_new(32);
    char  **tok = ck_tokens(text, &n, err);
    strbuf *specs = strbuf_new(64);

    *names = mem_calloc(n + 1, sizeof(char *));
    *count = 0;
    *tables = NULL;
    for (i = 0; tok && tok[i]; i++) {
        if (strchr(tok[i], ':') != NULL && tok[i][0] != '[') {
            if (specs->len)
                strbuf_putc(specs, ' ');
            strbuf_puts(specs, tok[i]);
        } else {
            (*names)[k++] = ck_domain_copy(tok[i]);
        }
    }
    *count = k;
    if (specs->len)
        *tables = maps_open(title, strbuf_str(specs), DICT_F_FOLD);
    ck_tokens_free(tok);
    strbuf_free(err);
    strbuf_free(specs);
}

/* ck_strings_free: free names[count]. */
static void ck_strings_free(char **names, size_t count)
{
    size_t  i;

    if (names == NULL)
        return;
    for (i = 0; i < count; i++)
        mem_free(names[i]);
    mem_free(names);
}

/* smtpd_check_shutdown: free the configuration. */
void    smtpd_check_shutdown(void)
{
    size_t  i;

    for (i = 0; i < ST_COUNT; i++)
        ck_list_clear(&ck_cfg.lists[i]);
    for (i = 0; i < ck_cfg.class_count; i++)
        ck_list_clear(&ck_cfg.classes[i]);
    mem_free(ck_cfg.classes);
    ck_strings_free(ck_cfg.class_names, ck_cfg.class_count);
    cidr_list_free(ck_cfg.mynetworks);
    ck_strings_free(ck_cfg.mydest, ck_cfg.mydest_count);
    maps_free(ck_cfg.mydest_maps);
    ck_strings_free(ck_cfg.relay, ck_cfg.relay_count);
    maps_free(ck_cfg.relay_maps);
    maps_free(ck_cfg.local_rcpt);
    ck_strings_free(ck_cfg.valias, ck_cfg.valias_count);
    maps_free(ck_cfg.valias_maps);
    ck_strings_free(ck_cfg.vmbox, ck_cfg.vmbox_count);
    maps_free(ck_cfg.vmbox_maps);
    maps_free(ck_cfg.valias_rcpt);
    maps_free(ck_cfg.vmbox_rcpt);
    maps_free(ck_cfg.sender_login);
    mem_free(ck_cfg.null_key);
    mem_free(ck_cfg.delims);
    memset(&ck_cfg, 0, sizeof(ck_cfg));
}

/* ck_init_lists: classes and stage lists; -1 with err. */
static int ck_init_lists(strbuf *err)
{
    strbuf *val = strbuf_new(128);
    char  **names;
    size_t  n, i;
    int     rc = 0;

    if (ck_value(PARAM_SMTPD_RESTRICTION_CLASSES, val, err) < -1
        || (names = ck_tokens(strbuf_str(val), &n, err)) == NULL) {
        strbuf_free(val);
        return -1;
    }
    ck_cfg.class_names = names;
    ck_cfg.class_count = n;
    ck_cfg.classes = mem_calloc(n ? n : 1, sizeof(ck_list));
    for (i = 0; i < n && rc == 0; i++) {
        int     r = ck_value(names[i], val, err);

        if (r == -1) {
            strbuf_setf(err, "restriction class \"%.100s\" in %s has no definition",
                        names[i], PARAM_SMTPD_RESTRICTION_CLASSES);
            rc = -1;
        } else if (r < 0 || ck_list_parse(names[i], strbuf_str(val),
                                           &ck_cfg.classes[i], err) < 0) {
            rc = -1;
        }
    }
    for (i = 0; i < ST_COUNT && rc == 0; i++) {
        if (ck_value(ck_stage_param[i], val, err) < -1
            || ck_list_parse(ck_stage_param[i], strbuf_str(val),
                             &ck_cfg.lists[i], err) < 0)
            rc = -1;
    }
    if (rc == 0 && !ck_list_stops_relay(&ck_cfg.lists[ST_RELAY])
        && !ck_list_stops_relay(&ck_cfg.lists[ST_RCPT])) {
        strbuf_setf(err, "%s and %s do not stop relaying: one of them must"
                    " contain reject_unauth_destination, defer_unauth_destination,"
                    " reject or defer", PARAM_SMTPD_RELAY_RESTRICTIONS,
                    PARAM_SMTPD_RECIPIENT_RESTRICTIONS);
        rc = -1;
    }
    strbuf_free(val);
    return rc;
}

/* smtpd_check_init: parse the configuration once per process. */
int     smtpd_check_init(strbuf *err)
{
    strbuf *val = strbuf_new(128);
    int     rc = 0;

    smtpd_check_shutdown();
    ck_cfg.loaded = 1;
    ck_cfg.delay_reject = param_bool(PARAM_SMTPD_DELAY_REJECT);
    ck_cfg.helo_required = param_bool(PARAM_SMTPD_HELO_REQUIRED);
    ck_cfg.unlisted_rcpt = param_bool(PARAM_SMTPD_REJECT_UNLISTED_RECIPIENT);
    ck_cfg.unlisted_sender = param_bool(PARAM_SMTPD_REJECT_UNLISTED_SENDER);
    ck_cfg.null_key = mem_strdup(param_str(PARAM_SMTPD_NULL_ACCESS_LOOKUP_KEY));
    ck_cfg.delims = mem_strdup(param_str(PARAM_RECIPIENT_DELIMITER));
    ck_cfg.code_local = param_int(PARAM_UNKNOWN_LOCAL_RECIPIENT_REJECT_CODE);
    ck_cfg.code_unknown_addr = param_int(PARAM_UNKNOWN_ADDRESS_REJECT_CODE);
    ck_cfg.code_unknown_client = param_int(PARAM_UNKNOWN_CLIENT_HOSTNAME_REJECT_CODE);
    ck_cfg.code_non_fqdn = param_int(PARAM_NON_FQDN_REJECT_CODE);
    ck_cfg.code_invalid_host = param_int(PARAM_INVALID_HOSTNAME_REJECT_CODE);
    ck_cfg.code_relay = param_int(PARAM_RELAY_DOMAINS_REJECT_CODE);
    ck_cfg.code_access_reject = param_int(PARAM_ACCESS_MAP_REJECT_CODE);
    ck_cfg.code_access_defer = param_int(PARAM_ACCESS_MAP_DEFER_CODE);
    ck_cfg.code_reject = param_int(PARAM_REJECT_CODE);
    ck_cfg.code_defer = param_int(PARAM_DEFER_CODE);
    ck_cfg.code_rbl = param_int(PARAM_MAPS_RBL_REJECT_CODE);

    strbuf_reset(err);
    if ((ck_cfg.mynetworks = cidr_list_parse(param_str(PARAM_MYNETWORKS), err)) == NULL) {
        strbuf_setf(val, "%s: %s", PARAM_MYNETWORKS, strbuf_str(err));
        strbuf_setf(err, "%s", strbuf_str(val));
        rc = -1;
    }
    ck_domains(PARAM_MYDESTINATION, param_str(PARAM_MYDESTINATION),
               &ck_cfg.mydest, &ck_cfg.mydest_count, &ck_cfg.mydest_maps);
    ck_domains(PARAM_RELAY_DOMAINS, param_str(PARAM_RELAY_DOMAINS),
               &ck_cfg.relay, &ck_cfg.relay_count, &ck_cfg.relay_maps);
    if (*param_str(PARAM_LOCAL_RECIPIENT_MAPS) != 0)
        ck_cfg.local_rcpt = maps_open(PARAM_LOCAL_RECIPIENT_MAPS,
                                      param_str(PARAM_LOCAL_RECIPIENT_MAPS),
                                      DICT_F_FOLD);
    ck_domains(PARAM_VIRTUAL_ALIAS_DOMAINS, param_str(PARAM_VIRTUAL_ALIAS_DOMAINS),
               &ck_cfg.valias, &ck_cfg.valias_count, &ck_cfg.valias_maps);
    ck_domains(PARAM_VIRTUAL_MAILBOX_DOMAINS, param_str(PARAM_VIRTUAL_MAILBOX_DOMAINS),
               &ck_cfg.vmbox, &ck_cfg.vmbox_count, &ck_cfg.vmbox_maps);
    if (*param_str(PARAM_VIRTUAL_ALIAS_MAPS) != 0)
        ck_cfg.valias_rcpt = maps_open(PARAM_VIRTUAL_ALIAS_MAPS,
                                       param_str(PARAM_VIRTUAL_ALIAS_MAPS), DICT_F_FOLD);
    if (*param_str(PARAM_VIRTUAL_MAILBOX_MAPS) != 0)
        ck_cfg.vmbox_rcpt = maps_open(PARAM_VIRTUAL_MAILBOX_MAPS,
                                      param_str(PARAM_VIRTUAL_MAILBOX_MAPS), DICT_F_FOLD);
    ck_cfg.code_valias = param_int(PARAM_UNKNOWN_VIRTUAL_ALIAS_REJECT_CODE);
    ck_cfg.code_vmbox = param_int(PARAM_UNKNOWN_VIRTUAL_MAILBOX_REJECT_CODE);
    if (*param_str(PARAM_SMTPD_SENDER_LOGIN_MAPS) != 0)
        ck_cfg.sender_login = maps_open(PARAM_SMTPD_SENDER_LOGIN_MAPS,
                                        param_str(PARAM_SMTPD_SENDER_LOGIN_MAPS),
                                        DICT_F_FOLD);
    if (rc == 0 && ck_init_lists(err) < 0)
        rc = -1;
    if (rc < 0)
        ck_cfg.error = 1;
    strbuf_free(val);
    return rc;
}
