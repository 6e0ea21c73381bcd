/*
 * fuzz_smtpd_check: drive the restriction engine (smtpd/smtpd_check.c,
 * compiled in) with client-controlled strings and arbitrary access-table
 * results.
 *
 * Input: fields separated by '\n': table value, client name, client
 * address, HELO name, sender, recipient. The configuration (set once)
 * uses every restriction that needs no DNS, plus the DNS ones answered by
 * a fake resolver; the first field is also run through the access-table
 * result parser directly.
 * Checked on every input:
 *   - nothing crashes or leaks (ASan);
 *   - a REJECT comes with a reply starting "5NN ", a DEFER with "4NN ",
 *     an OK/HOLD/DISCARD with an empty reply;
 *   - no reply holds a control character (no CR/LF injection into the
 *     SMTP stream) and every reply stays bounded.
 */
#include <ctype.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../smtpd/smtpd_check.c"

int     LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* fuzz_check: abort when an invariant fails. */
static void fuzz_check(int ok)
{
    if (!ok)
        abort();
}

/* fuzz_domain_exists: "nx" domains do not exist, "tmp" ones time out. */
static int fuzz_domain_exists(const char *domain, strbuf *err)
{
    (void) err;
    if (strstr(domain, "nx"))
        return DNS_NOTFOUND;
    return strstr(domain, "tmp") ? DNS_RETRY : DNS_OK;
}

/* fuzz_rbl: addresses with a '9' are listed. */
static int fuzz_rbl(const char *addr, const char *zone, dns_reply *hit, strbuf *err)
{
    (void) zone;
    (void) err;
    if (strchr(addr, '9') == NULL)
        return DNS_NOTFOUND;
    hit->count = 1;
    return DNS_OK;
}

/* fuzz_rhsbl: domains with "spam" are listed. */
static int fuzz_rhsbl(const char *domain, const char *zone, dns_reply *hit,
                      strbuf *err)
{
    (void) zone;
    (void) err;
    if (strstr(domain, "spam") == NULL)
        return DNS_NOTFOUND;
    hit->count = 1;
    return DNS_OK;
}

/* fuzz_text: hostile TXT text. */
static void fuzz_text(const dns_reply *hit, strbuf *out)
{
    (void) hit;
    strbuf_setf(out, "bad\r\ntext\001");
}

/* fuzz_reply_ok: the result invariants. */
static void fuzz_reply_ok(const smtpd_check_result *res)
{
    const char *r = strbuf_str(res->reply);
    size_t  i;

    for (i = 0; i < res->reply->len; i++)
        fuzz_check((unsigned char) r[i] >= 0x20 && r[i] != 0x7f);
    fuzz_check(res->reply->len < 4096);
    switch (res->action) {
    case SMTPD_CHECK_REJECT:
    case SMTPD_CHECK_DEFER:
        fuzz_check(res->reply->len >= 4 && isdigit((unsigned char) r[1])
                   && isdigit((unsigned char) r[2]) && r[3] == ' ');
        fuzz_check(r[0] == (res->action == SMTPD_CHECK_REJECT ? '5' : '4'));
        break;
    default:
        fuzz_check(res->reply->len == 0);
        break;
    }
    for (i = 0; i < res->prepend->len; i++)
        fuzz_check(res->prepend->data[i] != '\r'
                   && (res->prepend->data[i] != '\n'
                       || i + 1 == res->prepend->len
                       || res->prepend->data[i + 1] != '\n'));
}

/* fuzz_quiet: drop log lines (the engine logs every reject). */
static void fuzz_quiet(enum msg_level level, const char *text, void *ctx)
{
    (void) level;
    (void) text;
    (void) ctx;
}

/* fuzz_setup: the configuration, once. */
static void fuzz_setup(void)
{
    static int done;
    strbuf *err;

    if (done)
        return;
    done = 1;
    msg_set_capture(fuzz_quiet, NULL);
    smtpd_check_dns.domain_exists = fuzz_domain_exists;
    smtpd_check_dns.rbl_client = fuzz_rbl;
    smtpd_check_dns.rhsbl = fuzz_rhsbl;
    smtpd_check_dns.text = fuzz_text;
    param_override(PARAM_MYHOSTNAME, "mx.example.com");
    param_override(PARAM_MYDOMAIN, "example.com");
    param_override(PARAM_MYNETWORKS, "127.0.0.0/8 [::1]/128");
    param_override(PARAM_MYDESTINATION, "$myhostname, localhost, example.com");
    param_override(PARAM_RELAY_DOMAINS, "relay.example, .subs.example");
    param_override(PARAM_RECIPIENT_DELIMITER, "+-");
    param_override(PARAM_ALIAS_MAPS, "");
    param_override(PARAM_LOCAL_RECIPIENT_MAPS, "inline:{alice=1, bob=1}");
    param_override(PARAM_SMTPD_RESTRICTION_CLASSES, "strict");
    param_override("strict", "reject_non_fqdn_helo_hostname, reject_invalid_helo_hostname");
    param_override(PARAM_SMTPD_CLIENT_RESTRICTIONS,
                   "warn_if_reject reject_unknown_client_hostname, "
                   "check_client_access inline:{{192.0.2.1=REJECT x}, {bad.example=strict}}, "
                   "reject_rbl_client zen.test, reject_rhsbl_client dbl.test");
    param_override(PARAM_SMTPD_HELO_REQUIRED, "yes");
    param_override(PARAM_SMTPD_HELO_RESTRICTIONS,
                   "check_helo_access inline:{{hold.example=HOLD}, {pre.example=PREPEND X-A: b}}, "
                   "reject_invalid_helo_hostname, reject_rhsbl_helo dbl.test");
    param_override(PARAM_SMTPD_SENDER_RESTRICTIONS,
                   "reject_non_fqdn_sender, reject_unknown_sender_domain, "
                   "reject_rhsbl_sender dbl.test, check_sender_access "
                   "inline:{{<>=DUNNO}, {disc.example=DISCARD}, {red.example=REDIRECT a@b.c}}, "
                   "reject_unlisted_sender");
    param_override(PARAM_SMTPD_RECIPIENT_RESTRICTIONS,
                   "reject_non_fqdn_recipient, reject_unknown_recipient_domain, "
                   "defer_if_reject, permit_auth_destination, strict, "
                   "reject_unauth_destination, reject_multi_recipient_bounce");
    err = strbuf_new(64);
    fuzz_check(smtpd_check_init(err) == 0);
    strbuf_free(err);
}

/* LLVMFuzzerTestOneInput: one session with the input's strings. */
int     LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char   *copy;
    char   *field[6] = {"", "unknown", "192.0.2.9", NULL, NULL, NULL};
    char   *cursor;
    int     n;
    smtpd_check_view v;
    smtpd_check_result res;
    smtpd_check_state *st;
    ck_ctx  c;

    if (size > 8192)
        return 0;
    fuzz_setup();
    copy = mem_alloc(size + 1);
    memcpy(copy, data, size);
    copy[size] = 0;
    cursor = copy;
    for (n = 0; n < 6; n++) {
        char   *nl = strchr(cursor, '\n');

        field[n] = cursor;
        if (nl == NULL)
            break;
        *nl = 0;
        cursor = nl + 1;
    }
    memset(&v, 0, sizeof(v));
    v.client_name = field[1] ? field[1] : "unknown";
    v.client_addr = field[2] ? field[2] : "192.0.2.9";
    v.helo_name = field[3];
    v.sender = field[4];
    v.recipient = field[5];
    v.protocol = "ESMTP";
    smtpd_check_result_init(&res);
    st = smtpd_check_session_new();

    /* The table-result parser on its own. */
    ck_ctx_init(&c, st, &v, &res, "RCPT");
    c.stage = ST_RCPT;
    (void) ck_table_result(&c, "fuzz", field[0], "key", "Recipient address");
    ck_finish(&c, res.action == SMTPD_CHECK_OK ? R_DUNNO : R_FINAL);
    fuzz_reply_ok(&res);
    smtpd_check_reset(st);

    /* A whole transaction. */
    smtpd_check_connect(st, &v, &res);
    fuzz_reply_ok(&res);
    smtpd_check_helo(st, &v, &res);
    fuzz_reply_ok(&res);
    smtpd_check_mail(st, &v, &res);
    fuzz_reply_ok(&res);
    smtpd_check_rcpt(st, &v, &res);
    fuzz_reply_ok(&res);
    v.rcpt_count = 2;
    smtpd_check_rcpt(st, &v, &res);
    fuzz_reply_ok(&res);
    smtpd_check_data(st, &v, &res);
    fuzz_reply_ok(&res);
    smtpd_check_eod(st, &v, &res);
    fuzz_reply_ok(&res);
    v.etrn_domain = field[5];
    smtpd_check_etrn(st, &v, &res);
    fuzz_reply_ok(&res);
    smtpd_check_local_recipient(&v, &res);
    fuzz_reply_ok(&res);

    smtpd_check_session_free(st);
    smtpd_check_result_free(&res);
    mem_free(copy);
    return 0;
}
