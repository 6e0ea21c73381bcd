/*
 * Unit tests for smtpd/smtpd_check.c (the restriction engine), compiled
 * into the test. DNS goes through a fake (smtpd_check_dns replaced);
 * access tables are texthash files in a temporary directory, local
 * recipients an inline table.
 */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "../../smtpd/smtpd_check.c"

#include "testlib.h"

static char tmpdir[] = "/tmp/test_smtpd_check.XXXXXX";
static char access_path[256];
static char class_path[256];

static const char access_text[] =
    "blocked.example      REJECT\n"
    "deferred.example     DEFER\n"
    "deftext.example      DEFER come back later\n"
    "text.example         REJECT 5.7.9 custom reason\n"
    "num.example          450 4.2.0 slow down\n"
    "num5.example         551 no such place\n"
    "numonly.example      12345\n"
    "ok.example           OK\n"
    "dunno.example        DUNNO\n"
    "hold.example         HOLD\n"
    "discard.example      DISCARD\n"
    "prepend.example      PREPEND X-Tag: tagged\n"
    "badprepend.example   PREPEND no header here\n"
    "redirect.example     REDIRECT trap@example.com\n"
    "warn.example         WARN looks odd\n"
    "cls.example          strict\n"
    "list.example         reject_non_fqdn_helo_hostname, permit\n"
    "filter.example       FILTER smtp:elsewhere\n"
    "junk.example         no_such_restriction\n"
    "ctrl.example         REJECT bad\001text\n"
    "dir.example          DEFER_IF_REJECT\n"
    "dip.example          DEFER_IF_PERMIT held back\n"
    "spammer@free.example REJECT individual\n"
    "free.example         OK\n"
    "parent.example       REJECT parent matched\n"
    ".dotted.example      REJECT dotted parent\n"
    "postmaster@          OK\n"
    "abuse@               REJECT by local part\n"
    "<>                   REJECT no bounces here\n"
    "192.0.2.66           REJECT one host\n"
    "198.51.100           REJECT one net\n"
    "203.0            REJECT big net\n"
    "2001:db8:0:0:0:0:0:5 REJECT v6 host\n"
    "2001:db8:1           REJECT v6 net\n"
    "badname.example.net  REJECT by client name\n"
    "okname.example.net   OK\n"
    "badhelo              REJECT helo blocked\n"
    "etrn.example         REJECT no etrn\n";

/* The fake DNS. */
static int fake_domain_exists(const char *domain, strbuf *err)
{
    if (strcmp(domain, "nx.example") == 0)
        return DNS_NOTFOUND;
    if (strcmp(domain, "tmp.example") == 0) {
        strbuf_setf(err, "timeout");
        return DNS_RETRY;
    }
    return DNS_OK;
}

static int fake_rbl_client(const char *addr, const char *zone, dns_reply *hit,
                           strbuf *err)
{
    (void) err;
    if (strncmp(zone, "zen.test", 8) != 0)
        return DNS_NOTFOUND;
    if (strcmp(addr, "192.0.2.2") == 0) {
        hit->count = 1;
        (void) str_copy(hit->rec[0].text, sizeof(hit->rec[0].text), "127.0.0.2");
        return DNS_OK;
    }
    if (strcmp(addr, "192.0.2.3") == 0)
        return DNS_RETRY;
    return DNS_NOTFOUND;
}

static int fake_rhsbl(const char *domain, const char *zone, dns_reply *hit,
                      strbuf *err)
{
    (void) err;
    if (strcmp(zone, "dbl.test") == 0 && strcmp(domain, "spam.example") == 0) {
        hit->count = 1;
        (void) str_copy(hit->rec[0].text, sizeof(hit->rec[0].text), "127.0.1.2");
        return DNS_OK;
    }
    return DNS_NOTFOUND;
}

static void fake_text(const dns_reply *hit, strbuf *out)
{
    strbuf_reset(out);
    if (hit->count)
        strbuf_puts(out, "see http://test/\r\ninjected");
}

/* Write a file in tmpdir. */
static void write_file(char *path, size_t size, const char *name, const char *text)
{
    int     fd;

    assert_true(str_format(path, size, "%s/%s", tmpdir, name) >= 0);
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t) strlen(text));
    close(fd);
}

/* Base configuration, then "name=value\n..." overrides. */
static int configure(const char *settings, strbuf *err)
{
    char   *copy;
    char   *cursor;
    char   *line;

    param_reset();
    param_override(PARAM_MYHOSTNAME, "mx.example.com");
    param_override(PARAM_MYDOMAIN, "example.com");
    param_override(PARAM_MYDESTINATION, "$myhostname, localhost, example.com");
    param_override(PARAM_MYNETWORKS, "127.0.0.0/8, [::1]/128");
    param_override(PARAM_RELAY_DOMAINS, "relay.example, .subs.example");
    param_override(PARAM_RECIPIENT_DELIMITER, "+");
    param_override(PARAM_ALIAS_MAPS, "");
    param_override(PARAM_LOCAL_RECIPIENT_MAPS,
                   "inline:{alice=1, bob=1, postmaster=1}");
    param_override("access", access_path);
    copy = mem_strdup(settings ? settings : "");
    cursor = copy;
    while ((line = str_token(&cursor, "\n")) != NULL) {
        char   *eq = strchr(line, '=');

        assert_non_null(eq);
        *eq = 0;
        assert_int_equal(param_override(line, eq + 1), 0);
    }
    mem_free(copy);
    return smtpd_check_init(err);
}

enum stage {
    S_CONNECT, S_HELO, S_MAIL, S_RCPT, S_DATA, S_EOD, S_ETRN, S_LOCAL
};

#define DEF     NULL                    /* use the default view value */
#define NONE    "-"                     /* NULL in the view */

struct ck_case {
    const char *label;
    const char *settings;
    enum stage stage;
    const char *client_name;
    const char *client_addr;
    const char *helo;
    const char *sender;
    const char *rcpt;
    int     pipelining;
    int     sasl;
    int     action;
    const char *reply;                  /* exact reply, "" = empty, NULL = any */
    const char *log;                    /* substring of the log, or NULL */
};

static const char *pick(const char *given, const char *def)
{
    if (given == NULL)
        return def;
    if (strcmp(given, NONE) == 0)
        return NULL;
    return given;
}

#define OK_     SMTPD_CHECK_OK
#define REJ     SMTPD_CHECK_REJECT
#define DEFR    SMTPD_CHECK_DEFER
#define DISC    SMTPD_CHECK_DISCARD
#define HOLD_   SMTPD_CHECK_HOLD

#define CA "check_client_access texthash:${access}"
#define HA "check_helo_access texthash:${access}"
#define SA "check_sender_access texthash:${access}"
#define RA "check_recipient_access texthash:${access}"
#define RR "smtpd_recipient_restrictions="

static const struct ck_case cases[] = {
    /* Relay control with the default relay restrictions. */
    {"outsider to remote", NULL, S_RCPT, DEF, DEF, DEF, DEF, "x@remote.example", 0, 0,
     DEFR, "454 4.7.1 <x@remote.example>: Relay access denied",
     "NOQUEUE: reject: RCPT from client.example.net[192.0.2.1]: 454 4.7.1 "
     "<x@remote.example>: Relay access denied; from=<s@sender.example> "
     "to=<x@remote.example> proto=ESMTP helo=<client.example.net>"},
    {"mynetworks to remote", NULL, S_RCPT, DEF, "127.0.0.1", DEF, DEF, "x@remote.example",
     0, 0, OK_, "", NULL},
    {"mynetworks v6 to remote", NULL, S_RCPT, DEF, "::1", DEF, DEF, "x@remote.example",
     0, 0, OK_, "", NULL},
    {"mapped v4 in mynetworks", NULL, S_RCPT, DEF, "::ffff:127.0.0.1", DEF, DEF,
     "x@remote.example", 0, 0, OK_, "", NULL},
    {"127.0.0.2 outside /32", "mynetworks=127.0.0.1/32", S_RCPT, DEF, "127.0.0.2", DEF,
     DEF, "x@remote.example", 0, 0, DEFR, "454 4.7.1 <x@remote.example>: Relay access denied", NULL},
    {"sasl to remote", NULL, S_RCPT, DEF, DEF, DEF, DEF, "x@remote.example", 0, 1,
     OK_, "", NULL},
    {"outsider to local", NULL, S_RCPT, DEF, DEF, DEF, DEF, "alice@example.com", 0, 0,
     OK_, "", NULL},
    {"outsider to local, case", NULL, S_RCPT, DEF, DEF, DEF, DEF, "Alice@EXAMPLE.com.", 0, 0,
     OK_, "", NULL},
    {"outsider to bare local", NULL, S_RCPT, DEF, DEF, DEF, DEF, "postmaster", 0, 0,
     OK_, "", NULL},
    {"outsider to relay domain", NULL, S_RCPT, DEF, DEF, DEF, DEF, "x@relay.example",
     0, 0, OK_, "", NULL},
    {"relay domain subdomain", NULL, S_RCPT, DEF, DEF, DEF, DEF, "x@a.relay.example",
     0, 0, OK_, "", NULL},
    {"dotted relay: subdomain only", NULL, S_RCPT, DEF, DEF, DEF, DEF, "x@subs.example",
     0, 0, DEFR, NULL, NULL},
    {"dotted relay: subdomain", NULL, S_RCPT, DEF, DEF, DEF, DEF, "x@a.subs.example",
     0, 0, OK_, "", NULL},
    {"suffix is not subdomain", NULL, S_RCPT, DEF, DEF, DEF, DEF, "x@evilrelay.example",
     0, 0, DEFR, NULL, NULL},
    {"mydestination no subdomains", NULL, S_RCPT, DEF, DEF, DEF, DEF, "x@a.example.com",
     0, 0, DEFR, NULL, NULL},
    {"percent hack", NULL, S_RCPT, DEF, DEF, DEF, DEF, "x%remote.example@example.com",
     0, 0, DEFR, NULL, NULL},
    {"bang path", NULL, S_RCPT, DEF, DEF, DEF, DEF, "remote.example!x@example.com",
     0, 0, DEFR, NULL, NULL},
    {"address literal", NULL, S_RCPT, DEF, DEF, DEF, DEF, "x@[192.0.2.9]",
     0, 0, DEFR, NULL, NULL},
    {"relay domains from table", "relay_domains=inline:{tab.example=x}", S_RCPT, DEF,
     DEF, DEF, DEF, "x@sub.tab.example", 0, 0, OK_, "", NULL},
    {"mydestination from table", "mydestination=inline:{tabdest.example=x}\n"
     "local_recipient_maps=", S_RCPT, DEF, DEF, DEF, DEF, "x@tabdest.example", 0, 0,
     OK_, "", NULL},
    {"reject_unauth_destination", "smtpd_relay_restrictions=\n" RR
     "permit_mynetworks reject_unauth_destination", S_RCPT, DEF, DEF, DEF, DEF,
     "x@remote.example", 0, 0, REJ, "554 5.7.1 <x@remote.example>: Relay access denied",
     NULL},
    {"relay code", "relay_domains_reject_code=550\nsmtpd_relay_restrictions="
     "reject_unauth_destination", S_RCPT, DEF, DEF, DEF, DEF,
     "x@remote.example", 0, 0, REJ, "550 5.7.1 <x@remote.example>: Relay access denied",
     NULL},
    {"permit_auth_destination", RR "permit_auth_destination, reject",
     S_RCPT, DEF, DEF, DEF, DEF, "alice@example.com", 0, 0, OK_, "", NULL},
    {"permit_auth_destination no", RR "permit_auth_destination, reject",
     S_RCPT, DEF, "127.0.0.1", DEF, DEF, "x@remote.example", 0, 0, REJ,
     "554 5.7.1 <x@remote.example>: Recipient address rejected: Access denied", NULL},

    /* Local recipient validation. */
    {"unknown local user", NULL, S_RCPT, DEF, DEF, DEF, DEF, "nobody@example.com", 0, 0,
     REJ, "550 5.1.1 <nobody@example.com>: Recipient address rejected: User unknown "
     "in local recipient table", "reject: RCPT from"},
    {"unknown local from mynetworks", NULL, S_RCPT, DEF, "127.0.0.1", DEF, DEF,
     "nobody@localhost", 0, 0, REJ, NULL, NULL},
    {"known user with extension", NULL, S_RCPT, DEF, DEF, DEF, DEF,
     "bob+folder@example.com", 0, 0, OK_, "", NULL},
    {"unknown bare local", NULL, S_RCPT, DEF, DEF, DEF, DEF, "nobody", 0, 0, REJ, NULL,
     NULL},
    {"unlisted code", "unknown_local_recipient_reject_code=450", S_RCPT, DEF, DEF, DEF,
     DEF, "nobody@example.com", 0, 0, DEFR, "450 4.1.1 <nobody@example.com>: Recipient "
     "address rejected: User unknown in local recipient table", NULL},
    {"unlisted off", "smtpd_reject_unlisted_recipient=no", S_RCPT, DEF, DEF, DEF, DEF,
     "nobody@example.com", 0, 0, OK_, "", NULL},
    {"unlisted as restriction", "smtpd_reject_unlisted_recipient=no\n" RR
     "reject_unlisted_recipient", S_RCPT, DEF, DEF, DEF, DEF, "nobody@example.com", 0, 0,
     REJ, NULL, NULL},
    {"empty local_recipient_maps", "local_recipient_maps=", S_RCPT, DEF, DEF, DEF, DEF,
     "nobody@example.com", 0, 0, OK_, "", NULL},
    {"local maps failure", "local_recipient_maps=texthash:/nonexistent/file", S_RCPT,
     DEF, DEF, DEF, DEF, "alice@example.com", 0, 0, DEFR,
     "451 4.3.0 <alice@example.com>: Temporary lookup failure", NULL},
    {"remote not checked", NULL, S_RCPT, DEF, "127.0.0.1", DEF, DEF,
     "nobody@remote.example", 0, 0, OK_, "", NULL},
    {"unlisted sender", "smtpd_reject_unlisted_sender=yes", S_RCPT, DEF, DEF, DEF,
     "ghost@example.com", "alice@example.com", 0, 0, REJ,
     "550 5.1.1 <ghost@example.com>: Sender address rejected: User unknown in local "
     "recipient table", NULL},
    {"reject_unlisted_sender ok", "smtpd_sender_restrictions=reject_unlisted_sender",
     S_RCPT, DEF, DEF, DEF, "bob@example.com", "alice@example.com", 0, 0, OK_, "", NULL},
    {"local check for VRFY", NULL, S_LOCAL, DEF, DEF, DEF, NONE, "ghost@localhost", 0, 0,
     REJ, NULL, "reject: VRFY from"},

    /* Generic restrictions and reply classes. */
    {"reject in client list", "smtpd_client_restrictions=reject", S_RCPT, DEF, DEF, DEF,
     DEF, "alice@example.com", 0, 0, REJ, "554 5.7.1 <client.example.net[192.0.2.1]>: "
     "Client host rejected: Access denied", NULL},
    {"permit ends only its list", "smtpd_client_restrictions=permit, reject", S_RCPT,
     DEF, DEF, DEF, DEF, "x@remote.example", 0, 0, DEFR, NULL, NULL},
    {"reject in helo list", "smtpd_helo_restrictions=reject", S_RCPT, DEF, DEF, DEF,
     DEF, "alice@example.com", 0, 0, REJ, "554 5.7.1 <client.example.net>: Helo command "
     "rejected: Access denied", NULL},
    {"reject in sender list", "smtpd_sender_restrictions=reject", S_RCPT, DEF, DEF, DEF,
     DEF, "alice@example.com", 0, 0, REJ, "554 5.7.1 <s@sender.example>: Sender address "
     "rejected: Access denied", NULL},
    {"null sender name", "smtpd_sender_restrictions=reject", S_RCPT, DEF, DEF, DEF,
     "", "alice@example.com", 0, 0, REJ, "554 5.7.1 <>: Sender address "
     "rejected: Access denied", "from=<> to=<alice@example.com>"},
    {"defer", RR "defer", S_RCPT, DEF, DEF, DEF, DEF, "alice@example.com", 0, 0, DEFR,
     "450 4.7.1 <alice@example.com>: Recipient address rejected: Try again later", NULL},
    {"reject_code", "reject_code=521\n" RR "reject", S_RCPT, DEF, DEF, DEF, DEF,
     "alice@example.com", 0, 0, REJ, "521 5.7.1 <alice@example.com>: Recipient address "
     "rejected: Access denied", NULL},
    {"delayed: connect permits", "smtpd_client_restrictions=reject", S_CONNECT, DEF,
     DEF, DEF, NONE, NONE, 0, 0, OK_, "", NULL},
    {"delayed: helo permits", "smtpd_helo_restrictions=reject", S_HELO, DEF,
     DEF, DEF, NONE, NONE, 0, 0, OK_, "", NULL},
    {"delayed: mail permits", "smtpd_sender_restrictions=reject", S_MAIL, DEF,
     DEF, DEF, DEF, NONE, 0, 0, OK_, "", NULL},
    {"not delayed: connect", "smtpd_delay_reject=no\nsmtpd_client_restrictions=reject",
     S_CONNECT, DEF, DEF, NONE, NONE, NONE, 0, 0, REJ, NULL,
     "NOQUEUE: reject: CONNECT from client.example.net[192.0.2.1]: 554 5.7.1 "
     "<client.example.net[192.0.2.1]>: Client host rejected: Access denied; proto=ESMTP"},
    {"not delayed: helo", "smtpd_delay_reject=no\nsmtpd_helo_restrictions="
     "reject_invalid_helo_hostname", S_HELO, DEF, DEF, "bad_name!", NONE, NONE, 0, 0,
     REJ, "501 5.5.2 <bad_name!>: Helo command rejected: Invalid name", "EHLO from"},
    {"not delayed: mail", "smtpd_delay_reject=no\nsmtpd_sender_restrictions="
     "reject_non_fqdn_sender", S_MAIL, DEF, DEF, DEF, "user@localdomain", NONE, 0, 0, REJ,
     "504 5.5.2 <user@localdomain>: Sender address rejected: need fully-qualified "
     "address", NULL},
    {"warn_if_reject", RR "warn_if_reject reject, permit", S_RCPT, DEF, DEF, DEF, DEF,
     "x@remote.example", 0, 0, DEFR, "454 4.7.1 <x@remote.example>: Relay access denied",
     NULL},
    {"warn_if_reject logs", "smtpd_client_restrictions=warn_if_reject, reject", S_RCPT,
     DEF, DEF, DEF, DEF, "alice@example.com", 0, 0, OK_, "",
     "reject_warning: RCPT from client.example.net[192.0.2.1]: 554 5.7.1"},
    {"warn_if_reject one only", "smtpd_client_restrictions=warn_if_reject, permit_mynetworks, reject",
     S_RCPT, DEF, DEF, DEF, DEF, "alice@example.com", 0, 0, REJ, NULL, NULL},
    {"defer_if_permit", "smtpd_client_restrictions=defer_if_permit", S_RCPT, DEF, DEF,
     DEF, DEF, "alice@example.com", 0, 0, DEFR, "450 4.7.1 <client.example.net[192.0.2.1]>: "
     "Client host rejected: defer_if_permit requested", NULL},
    {"defer_if_permit then reject", "smtpd_client_restrictions=defer_if_permit\n" RR
     "reject", S_RCPT, DEF, DEF, DEF, DEF, "alice@example.com", 0, 0, REJ, NULL, NULL},
    {"defer_if_reject", RR "defer_if_reject reject", S_RCPT, DEF, DEF, DEF, DEF,
     "alice@example.com", 0, 0, DEFR, "450 4.7.1 <alice@example.com>: Recipient address "
     "rejected: Access denied", NULL},
    {"pipelining abuse", "smtpd_data_restrictions=reject_unauth_pipelining", S_DATA,
     DEF, DEF, DEF, DEF, NONE, 1, 0, REJ, "503 5.5.0 <DATA>: Data command rejected: "
     "Improper use of SMTP command pipelining", "reject: DATA from"},
    {"pipelining fine", "smtpd_data_restrictions=reject_unauth_pipelining", S_DATA,
     DEF, DEF, DEF, DEF, NONE, 0, 0, OK_, "", NULL},
    {"eod reject", "smtpd_end_of_data_restrictions=reject", S_EOD, DEF, DEF, DEF, DEF,
     NONE, 0, 0, REJ, "554 5.7.1 <END-OF-MESSAGE>: End-of-data rejected: Access denied",
     "reject: END-OF-MESSAGE from"},
    {"etrn default permits", NULL, S_ETRN, DEF, DEF, DEF, NONE, NONE, 0, 0, OK_, "", NULL},
    {"etrn mynetworks only", "smtpd_etrn_restrictions=permit_mynetworks, reject", S_ETRN,
     DEF, DEF, DEF, NONE, NONE, 0, 0, REJ, "554 5.7.1 <etrn.example>: Etrn command "
     "rejected: Access denied", "reject: ETRN from"},
    {"etrn access", "smtpd_etrn_restrictions=check_etrn_access texthash:${access}",
     S_ETRN, DEF, DEF, DEF, NONE, NONE, 0, 0, REJ, NULL, NULL},
    {"multi-recipient bounce", RR "reject_multi_recipient_bounce", S_RCPT, DEF, DEF, DEF,
     "", "alice@example.com", 0, 0, OK_, "", NULL},
    {"unknown client hostname", "smtpd_client_restrictions=reject_unknown_client_hostname",
     S_RCPT, "unknown", DEF, DEF, DEF, "alice@example.com", 0, 0, DEFR,
     "450 4.7.25 <unknown[192.0.2.1]>: Client host rejected: cannot find your hostname, "
     "[192.0.2.1]", "RCPT from unknown[192.0.2.1]"},

    /* HELO syntax. */
    {"fqdn helo ok", "smtpd_helo_restrictions=reject_non_fqdn_helo_hostname, "
     "reject_invalid_helo_hostname", S_RCPT, DEF, DEF, "mail.example.org.", DEF,
     "alice@example.com", 0, 0, OK_, "", NULL},
    {"non-fqdn helo", "smtpd_helo_restrictions=reject_non_fqdn_helo_hostname", S_RCPT,
     DEF, DEF, "localhost", DEF, "alice@example.com", 0, 0, REJ,
     "504 5.5.2 <localhost>: Helo command rejected: need fully-qualified hostname", NULL},
    {"helo literal ok", "smtpd_helo_restrictions=reject_non_fqdn_helo_hostname, "
     "reject_invalid_helo_hostname", S_RCPT, DEF, DEF, "[192.0.2.1]", DEF,
     "alice@example.com", 0, 0, OK_, "", NULL},
    {"helo v6 literal ok", "smtpd_helo_restrictions=reject_invalid_helo_hostname", S_RCPT,
     DEF, DEF, "[IPv6:2001:db8::1]", DEF, "alice@example.com", 0, 0, OK_, "", NULL},
    {"helo bad literal", "smtpd_helo_restrictions=reject_invalid_helo_hostname", S_RCPT,
     DEF, DEF, "[300.1.1.1]", DEF, "alice@example.com", 0, 0, REJ, NULL, NULL},
    {"helo bad label", "smtpd_helo_restrictions=reject_invalid_helo_hostname", S_RCPT,
     DEF, DEF, "-bad-.example", DEF, "alice@example.com", 0, 0, REJ, NULL, NULL},
    {"helo numeric tld", "smtpd_helo_restrictions=reject_invalid_helo_hostname", S_RCPT,
     DEF, DEF, "host.123", DEF, "alice@example.com", 0, 0, REJ, NULL, NULL},
    {"no helo: helo checks pass", "smtpd_helo_restrictions=reject_invalid_helo_hostname, "
     "reject_non_fqdn_helo_hostname", S_RCPT, DEF, DEF, NONE, DEF, "alice@example.com",
     0, 0, OK_, "", NULL},

    /* Address syntax. */
    {"non-fqdn sender", "smtpd_sender_restrictions=reject_non_fqdn_sender", S_RCPT, DEF,
     DEF, DEF, "user", "alice@example.com", 0, 0, REJ, NULL, NULL},
    {"non-fqdn sender null ok", "smtpd_sender_restrictions=reject_non_fqdn_sender",
     S_RCPT, DEF, DEF, DEF, "", "alice@example.com", 0, 0, OK_, "", NULL},
    {"non-fqdn rcpt", RR "reject_non_fqdn_recipient", S_RCPT, DEF, "127.0.0.1", DEF, DEF,
     "x@intranet", 0, 0, REJ, "504 5.5.2 <x@intranet>: Recipient address rejected: need "
     "fully-qualified address", NULL},
    {"non-fqdn code", "non_fqdn_reject_code=550\n" RR "reject_non_fqdn_recipient", S_RCPT,
     DEF, "127.0.0.1", DEF, DEF, "x@intranet", 0, 0, REJ, "550 5.5.2 <x@intranet>: "
     "Recipient address rejected: need fully-qualified address", NULL},

    /* DNS-based restrictions (fake DNS). */
    {"unknown sender domain", "smtpd_sender_restrictions=reject_unknown_sender_domain",
     S_RCPT, DEF, DEF, DEF, "x@nx.example", "alice@example.com", 0, 0, DEFR,
     "450 4.1.8 <x@nx.example>: Sender address rejected: Domain not found", NULL},
    {"unknown sender domain 550", "unknown_address_reject_code=550\n"
     "smtpd_sender_restrictions=reject_unknown_sender_domain",
     S_RCPT, DEF, DEF, DEF, "x@nx.example", "alice@example.com", 0, 0, REJ,
     "550 5.1.8 <x@nx.example>: Sender address rejected: Domain not found", NULL},
    {"known sender domain", "smtpd_sender_restrictions=reject_unknown_sender_domain",
     S_RCPT, DEF, DEF, DEF, "x@real.example", "alice@example.com", 0, 0, OK_, "", NULL},
    {"sender domain dns retry", "smtpd_sender_restrictions=reject_unknown_sender_domain",
     S_RCPT, DEF, DEF, DEF, "x@tmp.example", "alice@example.com", 0, 0, DEFR,
     "450 4.4.3 <x@tmp.example>: Sender address rejected: Domain not found (temporary "
     "DNS failure)", NULL},
    /* Found by fuzz_smtpd_check: pending replies are cleaned too. */
    {"dns retry reply cleaned", "smtpd_sender_restrictions=reject_unknown_sender_domain",
     S_RCPT, DEF, DEF, DEF, "x\001y@tmp.example", "alice@example.com", 0, 0, DEFR,
     "450 4.4.3 <x y@tmp.example>: Sender address rejected: Domain not found (temporary "
     "DNS failure)", NULL},
    {"dns retry but rejected anyway", "smtpd_sender_restrictions="
     "reject_unknown_sender_domain, reject", S_RCPT, DEF, DEF, DEF, "x@tmp.example",
     "alice@example.com", 0, 0, REJ, NULL, NULL},
    {"unknown rcpt domain", RR "reject_unknown_recipient_domain", S_RCPT, DEF, "127.0.0.1",
     DEF, DEF, "x@nx.example", 0, 0, DEFR, "450 4.1.2 <x@nx.example>: Recipient address "
     "rejected: Domain not found", NULL},
    {"local domain not looked up", "smtpd_sender_restrictions="
     "reject_unknown_sender_domain\nmydestination=nx.example", S_RCPT, DEF, DEF, DEF,
     "x@nx.example", "alice@nx.example", 0, 0, OK_, "", NULL},
    {"rbl hit", "smtpd_client_restrictions=reject_rbl_client zen.test=127.0.0.[2..11]",
     S_RCPT, DEF, "192.0.2.2", DEF, DEF, "alice@example.com", 0, 0, REJ,
     "554 5.7.1 Service unavailable; Client host [192.0.2.2] blocked using zen.test; "
     "see http://test/  injected", NULL},
    {"rbl miss", "smtpd_client_restrictions=reject_rbl_client zen.test", S_RCPT, DEF,
     DEF, DEF, DEF, "alice@example.com", 0, 0, OK_, "", NULL},
    {"rbl retry is not listed", "smtpd_client_restrictions=reject_rbl_client zen.test",
     S_RCPT, DEF, "192.0.2.3", DEF, DEF, "alice@example.com", 0, 0, OK_, "", NULL},
    {"rbl code", "maps_rbl_reject_code=550\nsmtpd_client_restrictions="
     "reject_rbl_client zen.test", S_RCPT, DEF, "192.0.2.2", DEF, DEF,
     "alice@example.com", 0, 0, REJ, NULL, NULL},
    {"rbl mynetworks first", "smtpd_client_restrictions=permit_mynetworks, "
     "reject_rbl_client zen.test", S_RCPT, DEF, "192.0.2.2", DEF, DEF,
     "alice@example.com", 0, 0, REJ, NULL, NULL},
    {"rhsbl sender", "smtpd_sender_restrictions=reject_rhsbl_sender dbl.test", S_RCPT,
     DEF, DEF, DEF, "x@Spam.Example", "alice@example.com", 0, 0, REJ,
     "554 5.7.1 Service unavailable; Sender address [spam.example] blocked using "
     "dbl.test; see http://test/  injected", NULL},
    {"rhsbl null sender", "smtpd_sender_restrictions=reject_rhsbl_sender dbl.test",
     S_RCPT, DEF, DEF, DEF, "", "alice@example.com", 0, 0, OK_, "", NULL},
    {"rhsbl client", "smtpd_client_restrictions=reject_rhsbl_client dbl.test", S_RCPT,
     "spam.example", DEF, DEF, DEF, "alice@example.com", 0, 0, REJ, NULL, NULL},

    /* check_client_access lookup order and results. */
    {"client name", "smtpd_client_restrictions=" CA, S_RCPT, "badname.example.net", DEF,
     DEF, DEF, "alice@example.com", 0, 0, REJ, "554 5.7.1 <badname.example.net[192.0.2.1]>: "
     "Client host rejected: by client name", NULL},
    {"client name before address", "smtpd_client_restrictions=" CA, S_RCPT,
     "okname.example.net", "192.0.2.66", DEF, DEF, "alice@example.com", 0, 0, OK_, "",
     NULL},
    {"client parent domain", "smtpd_client_restrictions=" CA, S_RCPT,
     "a.b.parent.example", DEF, DEF, DEF, "alice@example.com", 0, 0, REJ, NULL, NULL},
    {"client dotted parent", "smtpd_client_restrictions=" CA, S_RCPT,
     "x.dotted.example", DEF, DEF, DEF, "alice@example.com", 0, 0, REJ, NULL, NULL},
    {"client addr", "smtpd_client_restrictions=" CA, S_RCPT, "unknown", "192.0.2.66",
     DEF, DEF, "alice@example.com", 0, 0, REJ, "554 5.7.1 <unknown[192.0.2.66]>: Client "
     "host rejected: one host", NULL},
    {"client net /24", "smtpd_client_restrictions=" CA, S_RCPT, DEF, "198.51.100.7",
     DEF, DEF, "alice@example.com", 0, 0, REJ, NULL, NULL},
    {"client net /16", "smtpd_client_restrictions=" CA, S_RCPT, DEF, "203.0.113.7",
     DEF, DEF, "alice@example.com", 0, 0, REJ, NULL, NULL},
    {"client octet boundary", "smtpd_client_restrictions=" CA, S_RCPT, DEF,
     "203.1.113.7", DEF, DEF, "alice@example.com", 0, 0, OK_, "", NULL},
    {"client v6 host", "smtpd_client_restrictions=" CA, S_RCPT, DEF, "2001:db8::5",
     DEF, DEF, "alice@example.com", 0, 0, REJ, NULL, NULL},
    {"client v6 net", "smtpd_client_restrictions=" CA, S_RCPT, DEF, "2001:db8:1::9",
     DEF, DEF, "alice@example.com", 0, 0, REJ, NULL, NULL},
    {"client v6 other", "smtpd_client_restrictions=" CA, S_RCPT, DEF, "2001:db8:2::9",
     DEF, DEF, "alice@example.com", 0, 0, OK_, "", NULL},
    /* Found by fuzz_smtpd_check: an empty client name is no name. */
    {"empty client name", "smtpd_client_restrictions=" CA, S_RCPT, "", DEF, DEF, DEF,
     "alice@example.com", 0, 0, OK_, "", NULL},
    {"client table failure", "smtpd_client_restrictions=check_client_access "
     "texthash:/nonexistent/access", S_RCPT, DEF, DEF, DEF, DEF, "alice@example.com", 0,
     0, DEFR, "451 4.3.0 <client.example.net[192.0.2.1]>: Temporary lookup failure", NULL},

    /* check_helo_access. */
    {"helo access", "smtpd_helo_restrictions=" HA, S_RCPT, DEF, DEF, "BadHelo", DEF,
     "alice@example.com", 0, 0, REJ, "554 5.7.1 <BadHelo>: Helo command rejected: helo "
     "blocked", NULL},
    {"helo access parent", "smtpd_helo_restrictions=" HA, S_RCPT, DEF, DEF,
     "x.parent.example", DEF, "alice@example.com", 0, 0, REJ, NULL, NULL},

    /* check_sender_access: results. */
    {"REJECT", "smtpd_sender_restrictions=" SA, S_RCPT, DEF, DEF, DEF,
     "a@blocked.example", "alice@example.com", 0, 0, REJ,
     "554 5.7.1 <a@blocked.example>: Sender address rejected: Access denied", NULL},
    {"REJECT code param", "access_map_reject_code=550\nsmtpd_sender_restrictions=" SA,
     S_RCPT, DEF, DEF, DEF, "a@blocked.example", "alice@example.com", 0, 0, REJ,
     "550 5.7.1 <a@blocked.example>: Sender address rejected: Access denied", NULL},
    {"REJECT dsn text", "smtpd_sender_restrictions=" SA, S_RCPT, DEF, DEF, DEF,
     "a@text.example", "alice@example.com", 0, 0, REJ,
     "554 5.7.9 <a@text.example>: Sender address rejected: custom reason", NULL},
    {"REJECT control chars", "smtpd_sender_restrictions=" SA, S_RCPT, DEF, DEF, DEF,
     "a@ctrl.example", "alice@example.com", 0, 0, REJ,
     "554 5.7.1 <a@ctrl.example>: Sender address rejected: bad text", NULL},
    {"DEFER", "smtpd_sender_restrictions=" SA, S_RCPT, DEF, DEF, DEF,
     "a@deferred.example", "alice@example.com", 0, 0, DEFR,
     "450 4.7.1 <a@deferred.example>: Sender address rejected: Access denied", NULL},
    {"DEFER text", "smtpd_sender_restrictions=" SA, S_RCPT, DEF, DEF, DEF,
     "a@deftext.example", "alice@example.com", 0, 0, DEFR,
     "450 4.7.1 <a@deftext.example>: Sender address rejected: come back later", NULL},
    {"4xx text", "smtpd_sender_restrictions=" SA, S_RCPT, DEF, DEF, DEF,
     "a@num.example", "alice@example.com", 0, 0, DEFR,
     "450 4.2.0 <a@num.example>: Sender address rejected: slow down", NULL},
    {"5xx text", "smtpd_sender_restrictions=" SA, S_RCPT, DEF, DEF, DEF,
     "a@num5.example", "alice@example.com", 0, 0, REJ,
     "551 5.7.1 <a@num5.example>: Sender address rejected: no such place", NULL},
    {"numeric OK", "smtpd_sender_restrictions=" SA ", reject", S_RCPT, DEF, DEF, DEF,
     "a@numonly.example", "alice@example.com", 0, 0, OK_, "", NULL},
    {"OK ends list", "smtpd_sender_restrictions=" SA ", reject", S_RCPT, DEF, DEF, DEF,
     "a@ok.example", "alice@example.com", 0, 0, OK_, "", NULL},
    {"OK does not relay", "smtpd_sender_restrictions=" SA, S_RCPT, DEF, DEF, DEF,
     "a@ok.example", "x@remote.example", 0, 0, DEFR, NULL, NULL},
    {"DUNNO goes on", "smtpd_sender_restrictions=" SA ", reject", S_RCPT, DEF, DEF, DEF,
     "a@dunno.example", "alice@example.com", 0, 0, REJ, NULL, NULL},
    {"not found goes on", "smtpd_sender_restrictions=" SA ", reject", S_RCPT, DEF, DEF,
     DEF, "a@elsewhere.example", "alice@example.com", 0, 0, REJ, NULL, NULL},
    {"HOLD", "smtpd_sender_restrictions=" SA, S_RCPT, DEF, DEF, DEF,
     "a@hold.example", "alice@example.com", 0, 0, HOLD_, "",
     "NOQUEUE: hold: RCPT from client.example.net[192.0.2.1]: <a@hold.example>: Sender "
     "address triggers HOLD action"},
    {"HOLD then reject", "smtpd_sender_restrictions=" SA ", reject", S_RCPT, DEF, DEF,
     DEF, "a@hold.example", "alice@example.com", 0, 0, REJ, NULL, NULL},
    {"DISCARD", "smtpd_sender_restrictions=" SA ", reject", S_RCPT, DEF, DEF, DEF,
     "a@discard.example", "x@remote.example", 0, 0, DISC, "", "discard: RCPT from"},
    {"PREPEND", "smtpd_sender_restrictions=" SA, S_RCPT, DEF, DEF, DEF,
     "a@prepend.example", "alice@example.com", 0, 0, OK_, "", NULL},
    {"bad PREPEND", "smtpd_sender_restrictions=" SA, S_RCPT, DEF, DEF, DEF,
     "a@badprepend.example", "alice@example.com", 0, 0, DEFR,
     "451 4.3.5 Server configuration error", "bad PREPEND header"},
    {"REDIRECT", "smtpd_sender_restrictions=" SA, S_RCPT, DEF, DEF, DEF,
     "a@redirect.example", "alice@example.com", 0, 0, OK_, "",
     "redirect: RCPT from client.example.net[192.0.2.1]: <a@redirect.example>: Sender "
     "address triggers REDIRECT trap@example.com"},
    {"WARN", "smtpd_sender_restrictions=" SA, S_RCPT, DEF, DEF, DEF,
     "a@warn.example", "alice@example.com", 0, 0, OK_, "",
     "warn: RCPT from client.example.net[192.0.2.1]: <a@warn.example>: Sender address "
     "looks odd"},
    {"class result", "smtpd_restriction_classes=strict\nstrict=reject_non_fqdn_helo_hostname"
     "\nsmtpd_sender_restrictions=" SA, S_RCPT, DEF, DEF, "shortname",
     "a@cls.example", "alice@example.com", 0, 0, REJ,
     "504 5.5.2 <shortname>: Helo command rejected: need fully-qualified hostname", NULL},
    {"class result passes", "smtpd_restriction_classes=strict\nstrict="
     "reject_non_fqdn_helo_hostname\nsmtpd_sender_restrictions=" SA, S_RCPT, DEF, DEF,
     "long.name.example", "a@cls.example", "alice@example.com", 0, 0, OK_, "", NULL},
    {"restriction list result", "smtpd_sender_restrictions=" SA ", reject", S_RCPT, DEF,
     DEF, "long.name.example", "a@list.example", "alice@example.com", 0, 0, OK_, "", NULL},
    {"restriction list result rejects", "smtpd_sender_restrictions=" SA, S_RCPT, DEF,
     DEF, "short", "a@list.example", "alice@example.com", 0, 0, REJ, NULL, NULL},
    {"FILTER unsupported", "smtpd_sender_restrictions=" SA, S_RCPT, DEF, DEF, DEF,
     "a@filter.example", "alice@example.com", 0, 0, DEFR,
     "451 4.3.5 Server configuration error", NULL},
    {"unknown result word", "smtpd_sender_restrictions=" SA, S_RCPT, DEF, DEF, DEF,
     "a@junk.example", "alice@example.com", 0, 0, DEFR,
     "451 4.3.5 Server configuration error", "unknown restriction"},
    {"DEFER_IF_REJECT", "smtpd_sender_restrictions=" SA ", reject", S_RCPT, DEF, DEF,
     DEF, "a@dir.example", "alice@example.com", 0, 0, DEFR, NULL, NULL},
    {"DEFER_IF_PERMIT", "smtpd_sender_restrictions=" SA, S_RCPT, DEF, DEF, DEF,
     "a@dip.example", "alice@example.com", 0, 0, DEFR,
     "450 4.7.1 <a@dip.example>: Sender address rejected: held back", NULL},
    {"address before domain", "smtpd_sender_restrictions=" SA, S_RCPT, DEF, DEF, DEF,
     "spammer@free.example", "alice@example.com", 0, 0, REJ,
     "554 5.7.1 <spammer@free.example>: Sender address rejected: individual", NULL},
    {"domain after address", "smtpd_sender_restrictions=" SA ", reject", S_RCPT, DEF,
     DEF, DEF, "other@free.example", "alice@example.com", 0, 0, OK_, "", NULL},
    {"extension stripped", "recipient_delimiter=+\nsmtpd_sender_restrictions=" SA,
     S_RCPT, DEF, DEF, DEF, "spammer+x@free.example", "alice@example.com", 0, 0, REJ,
     NULL, NULL},
    {"case folded", "smtpd_sender_restrictions=" SA, S_RCPT, DEF, DEF, DEF,
     "a@BLOCKED.Example", "alice@example.com", 0, 0, REJ, NULL, NULL},
    {"parent domain", "smtpd_sender_restrictions=" SA, S_RCPT, DEF, DEF, DEF,
     "a@x.y.parent.example", "alice@example.com", 0, 0, REJ, NULL, NULL},
    {"local part key", "smtpd_sender_restrictions=" SA, S_RCPT, DEF, DEF, DEF,
     "abuse@anywhere.example", "alice@example.com", 0, 0, REJ,
     "554 5.7.1 <abuse@anywhere.example>: Sender address rejected: by local part", NULL},
    {"null sender key", "smtpd_sender_restrictions=" SA, S_RCPT, DEF, DEF, DEF,
     "", "alice@example.com", 0, 0, REJ,
     "554 5.7.1 <>: Sender address rejected: no bounces here", NULL},
    {"null sender other key", "smtpd_null_access_lookup_key=<nobody>\n"
     "smtpd_sender_restrictions=" SA, S_RCPT, DEF, DEF, DEF,
     "", "alice@example.com", 0, 0, OK_, "", NULL},

    /* check_recipient_access. */
    {"recipient access", RR RA ", permit_mynetworks, reject_unauth_destination", S_RCPT,
     DEF, "127.0.0.1", DEF, DEF, "alice@blocked.example", 0, 0, REJ,
     "554 5.7.1 <alice@blocked.example>: Recipient address rejected: Access denied", NULL},
    {"recipient access OK is no relay bypass", RR RA, S_RCPT,
     DEF, DEF, DEF, DEF, "x@ok.example", 0, 0, DEFR, NULL, NULL},
    {"recipient OK relays when relay list permits", "smtpd_relay_restrictions="
     "permit_mynetworks, " RA ", reject_unauth_destination", S_RCPT, DEF, DEF, DEF,
     DEF, "x@ok.example", 0, 0, OK_, "", NULL},
    {"postmaster@ key", RR RA ", reject", S_RCPT, DEF, DEF, DEF, DEF,
     "postmaster@example.com", 0, 0, OK_, "", NULL},

    /* Configuration errors. */
    {"unknown restriction", "smtpd_client_restrictions=permit_mynetwork", S_RCPT, DEF,
     "127.0.0.1", DEF, DEF, "alice@example.com", 0, 0, DEFR,
     "451 4.3.5 Server configuration error", NULL},
    {"unknown restriction: mail", "smtpd_sender_restrictions=bogus", S_MAIL, DEF,
     DEF, DEF, DEF, NONE, 0, 0, DEFR, "451 4.3.5 Server configuration error", NULL},
    {"unknown restriction: connect", "smtpd_data_restrictions=bogus", S_CONNECT, DEF,
     DEF, DEF, NONE, NONE, 0, 0, DEFR, "451 4.3.5 Server configuration error", NULL},
    {"missing argument", "smtpd_client_restrictions=check_client_access", S_RCPT, DEF,
     DEF, DEF, DEF, "alice@example.com", 0, 0, DEFR, NULL, NULL},
    {"argument not a table", "smtpd_client_restrictions=check_client_access reject",
     S_RCPT, DEF, DEF, DEF, DEF, "alice@example.com", 0, 0, DEFR, NULL, NULL},
    {"undefined class", "smtpd_restriction_classes=nosuch", S_RCPT, DEF, DEF, DEF, DEF,
     "alice@example.com", 0, 0, DEFR, NULL, NULL},
    {"open relay refused", "smtpd_relay_restrictions=permit_mynetworks\n" RR
     "permit_mynetworks", S_RCPT, DEF, DEF, DEF, DEF, "x@remote.example", 0, 0, DEFR,
     "451 4.3.5 Server configuration error", NULL},
    {"bad mynetworks", "mynetworks=127.0.0.0/40", S_RCPT, DEF, "127.0.0.1", DEF, DEF,
     "x@remote.example", 0, 0, DEFR, "451 4.3.5 Server configuration error", NULL},
    {"unbalanced braces", RR "check_recipient_access inline:{a=b", S_RCPT, DEF, DEF,
     DEF, DEF, "alice@example.com", 0, 0, DEFR, NULL, NULL},
    {"class used directly", "smtpd_restriction_classes=mine\nmine=reject\n" RR "mine",
     S_RCPT, DEF, DEF, DEF, DEF, "alice@example.com", 0, 0, REJ, NULL, NULL},
    {"class loop", "smtpd_restriction_classes=loop\nloop=loop\n" RR "loop",
     S_RCPT, DEF, DEF, DEF, DEF, "alice@example.com", 0, 0, DEFR,
     "451 4.3.5 Server configuration error", "nested too deep"},
    {"inline table in list", RR "check_recipient_access inline:{{alice@example.com="
     "REJECT no alice}}", S_RCPT, DEF, DEF, DEF, DEF, "alice@example.com", 0, 0, REJ,
     NULL, NULL},
};

/* Cases whose configuration smtpd_check_init must refuse. */
static const char *const init_fails[] = {
    "unknown restriction", "unknown restriction: mail", "unknown restriction: connect",
    "missing argument", "argument not a table", "undefined class",
    "open relay refused", "bad mynetworks", "unbalanced braces", NULL,
};

static int init_must_fail(const char *label)
{
    size_t  i;

    for (i = 0; init_fails[i]; i++)
        if (strcmp(init_fails[i], label) == 0)
            return 1;
    return 0;
}

static void run_case(const struct ck_case *c)
{
    strbuf *err = strbuf_new(64);
    smtpd_check_view v;
    smtpd_check_result res;
    smtpd_check_state *st;
    int     init_rc, rc = -1;

    testlib_log_reset();
    init_rc = configure(c->settings, err);
    memset(&v, 0, sizeof(v));
    v.client_name = pick(c->client_name, "client.example.net");
    v.client_addr = pick(c->client_addr, "192.0.2.1");
    v.client_port = 12345;
    v.helo_name = pick(c->helo, "client.example.net");
    v.sender = pick(c->sender, "s@sender.example");
    v.recipient = pick(c->rcpt, "alice@example.com");
    v.etrn_domain = c->stage == S_ETRN ? "etrn.example" : NULL;
    v.pipelining_abuse = c->pipelining;
    v.sasl_authenticated = c->sasl;
    v.protocol = "ESMTP";
    smtpd_check_result_init(&res);
    st = smtpd_check_session_new();
    switch (c->stage) {
    case S_CONNECT:
        rc = smtpd_check_connect(st, &v, &res);
        break;
    case S_HELO:
        rc = smtpd_check_helo(st, &v, &res);
        break;
    case S_MAIL:
        rc = smtpd_check_mail(st, &v, &res);
        break;
    case S_RCPT:
        rc = smtpd_check_rcpt(st, &v, &res);
        break;
    case S_DATA:
        rc = smtpd_check_data(st, &v, &res);
        break;
    case S_EOD:
        rc = smtpd_check_eod(st, &v, &res);
        break;
    case S_ETRN:
        rc = smtpd_check_etrn(st, &v, &res);
        break;
    case S_LOCAL:
        rc = smtpd_check_local_recipient(&v, &res);
        break;
    }
    if (rc != c->action || res.action != rc)
        fail_msg("%s: action %d (reply \"%s\", init %d \"%s\"), expected %d\nlog:\n%s",
                 c->label, rc, strbuf_str(res.reply), init_rc, strbuf_str(err),
                 c->action, testlib_log());
    if (c->reply && strcmp(strbuf_str(res.reply), c->reply) != 0)
        fail_msg("%s: reply \"%s\", expected \"%s\"", c->label, strbuf_str(res.reply),
                 c->reply);
    if (c->log && !testlib_log_has(c->log))
        fail_msg("%s: log lacks \"%s\":\n%s", c->label, c->log, testlib_log());
    if (init_rc != (init_must_fail(c->label) ? -1 : 0))
        fail_msg("%s: init returned %d (%s)", c->label, init_rc, strbuf_str(err));
    if (init_rc < 0 && err->len == 0)
        fail_msg("%s: init failed without a reason", c->label);
    /* Replies never carry line breaks. */
    assert_null(strchr(strbuf_str(res.reply), '\r'));
    assert_null(strchr(strbuf_str(res.reply), '\n'));
    smtpd_check_session_free(st);
    smtpd_check_result_free(&res);
    strbuf_free(err);
}

static void test_table(void **state)
{
    size_t  i;

    (void) state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        run_case(&cases[i]);
}

/* A view for the sequence tests. */
static void view_init(smtpd_check_view *v)
{
    memset(v, 0, sizeof(*v));
    v->client_name = "client.example.net";
    v->client_addr = "192.0.2.1";
    v->helo_name = "client.example.net";
    v->sender = "s@sender.example";
    v->recipient = "alice@example.com";
    v->protocol = "ESMTP";
}

static void test_cached_verdicts(void **state)
{
    strbuf *err = strbuf_new(64);
    smtpd_check_view v;
    smtpd_check_result res;
    smtpd_check_state *st;

    (void) state;
    assert_int_equal(configure("smtpd_client_restrictions=" CA "\n"
                               "smtpd_sender_restrictions=" SA, err), 0);
    view_init(&v);
    smtpd_check_result_init(&res);
    st = smtpd_check_session_new();
    v.client_addr = "192.0.2.66";
    v.client_name = "unknown";
    assert_int_equal(smtpd_check_connect(st, &v, &res), SMTPD_CHECK_OK);
    assert_int_equal(smtpd_check_mail(st, &v, &res), SMTPD_CHECK_OK);
    testlib_log_reset();
    assert_int_equal(smtpd_check_rcpt(st, &v, &res), SMTPD_CHECK_REJECT);
    assert_string_equal(strbuf_str(res.reply),
                        "554 5.7.1 <unknown[192.0.2.66]>: Client host rejected: one host");
    v.recipient = "bob@example.com";
    assert_int_equal(smtpd_check_rcpt(st, &v, &res), SMTPD_CHECK_REJECT);
    assert_string_equal(strbuf_str(res.reply),
                        "554 5.7.1 <unknown[192.0.2.66]>: Client host rejected: one host");
    assert_true(testlib_log_has("to=<bob@example.com>"));
    smtpd_check_session_free(st);

    /* Sender verdict is per transaction. */
    st = smtpd_check_session_new();
    view_init(&v);
    v.sender = "a@blocked.example";
    assert_int_equal(smtpd_check_rcpt(st, &v, &res), SMTPD_CHECK_REJECT);
    smtpd_check_reset(st);
    v.sender = "a@fine.example";
    assert_int_equal(smtpd_check_mail(st, &v, &res), SMTPD_CHECK_OK);
    assert_int_equal(smtpd_check_rcpt(st, &v, &res), SMTPD_CHECK_OK);
    /* HELO verdict follows the HELO name. */
    smtpd_check_session_free(st);
    assert_int_equal(configure("smtpd_helo_restrictions=reject_non_fqdn_helo_hostname",
                               err), 0);
    st = smtpd_check_session_new();
    view_init(&v);
    v.helo_name = "short";
    assert_int_equal(smtpd_check_rcpt(st, &v, &res), SMTPD_CHECK_REJECT);
    v.helo_name = "long.example.org";
    assert_int_equal(smtpd_check_rcpt(st, &v, &res), SMTPD_CHECK_OK);
    smtpd_check_session_free(st);
    smtpd_check_result_free(&res);
    strbuf_free(err);
}

static void test_transaction_actions(void **state)
{
    strbuf *err = strbuf_new(64);
    smtpd_check_view v;
    smtpd_check_result res;
    smtpd_check_state *st;

    (void) state;
    assert_int_equal(configure(RR RA, err), 0);
    view_init(&v);
    smtpd_check_result_init(&res);
    st = smtpd_check_session_new();
    v.recipient = "x@prepend.example";
    v.client_addr = "127.0.0.1";
    assert_int_equal(smtpd_check_rcpt(st, &v, &res), SMTPD_CHECK_OK);
    assert_string_equal(strbuf_str(res.prepend), "X-Tag: tagged\n");
    v.recipient = "y@prepend.example";
    assert_int_equal(smtpd_check_rcpt(st, &v, &res), SMTPD_CHECK_OK);
    assert_string_equal(strbuf_str(res.prepend), "X-Tag: tagged\n");
    v.recipient = "alice@example.com";
    assert_int_equal(smtpd_check_rcpt(st, &v, &res), SMTPD_CHECK_OK);
    assert_int_equal(res.prepend->len, 0);      /* only what this call added */
    v.recipient = "x@redirect.example";
    assert_int_equal(smtpd_check_rcpt(st, &v, &res), SMTPD_CHECK_OK);
    assert_string_equal(strbuf_str(res.redirect), "trap@example.com");
    v.recipient = "x@hold.example";
    assert_int_equal(smtpd_check_rcpt(st, &v, &res), SMTPD_CHECK_HOLD);
    v.recipient = "alice@example.com";
    assert_int_equal(smtpd_check_rcpt(st, &v, &res), SMTPD_CHECK_HOLD);
    v.recipient = NULL;
    assert_int_equal(smtpd_check_data(st, &v, &res), SMTPD_CHECK_HOLD);
    assert_int_equal(smtpd_check_eod(st, &v, &res), SMTPD_CHECK_HOLD);
    assert_string_equal(strbuf_str(res.redirect), "trap@example.com");
    /* A reject still wins over HOLD. */
    v.recipient = "x@blocked.example";
    assert_int_equal(smtpd_check_rcpt(st, &v, &res), SMTPD_CHECK_REJECT);
    smtpd_check_reset(st);
    v.recipient = "alice@example.com";
    assert_int_equal(smtpd_check_rcpt(st, &v, &res), SMTPD_CHECK_OK);
    assert_int_equal(res.prepend->len, 0);
    assert_int_equal(res.redirect->len, 0);
    /* DISCARD skips everything after it in the transaction. */
    v.recipient = "x@discard.example";
    assert_int_equal(smtpd_check_rcpt(st, &v, &res), SMTPD_CHECK_DISCARD);
    v.recipient = "x@blocked.example";
    assert_int_equal(smtpd_check_rcpt(st, &v, &res), SMTPD_CHECK_DISCARD);
    v.recipient = NULL;
    assert_int_equal(smtpd_check_data(st, &v, &res), SMTPD_CHECK_DISCARD);
    smtpd_check_reset(st);
    v.recipient = "x@blocked.example";
    assert_int_equal(smtpd_check_rcpt(st, &v, &res), SMTPD_CHECK_REJECT);
    smtpd_check_session_free(st);
    smtpd_check_result_free(&res);
    strbuf_free(err);
}

static void test_init_errors(void **state)
{
    strbuf *err = strbuf_new(64);

    (void) state;
    assert_int_equal(configure("smtpd_helo_restrictions=reject_bogus", err), -1);
    assert_non_null(strstr(strbuf_str(err), "smtpd_helo_restrictions"));
    assert_non_null(strstr(strbuf_str(err), "reject_bogus"));
    assert_int_equal(configure("smtpd_relay_restrictions=permit", err), -1);
    assert_non_null(strstr(strbuf_str(err), "do not stop relaying"));
    assert_int_equal(configure("smtpd_restriction_classes=c1\n", err), -1);
    assert_non_null(strstr(strbuf_str(err), "c1"));
    assert_int_equal(configure("mynetworks=10.0.0.0/8 junk", err), -1);
    assert_non_null(strstr(strbuf_str(err), "mynetworks"));
    assert_int_equal(configure(NULL, err), 0);
    assert_int_equal(smtpd_check_helo_required(), 0);
    assert_int_equal(configure("smtpd_helo_required=yes", err), 0);
    assert_int_equal(smtpd_check_helo_required(), 1);
    assert_int_equal(smtpd_check_mynetworks("127.0.0.1"), 1);
    assert_int_equal(smtpd_check_mynetworks("192.0.2.1"), 0);
    /* Without init, everything is a configuration error. */
    smtpd_check_shutdown();
    {
        smtpd_check_view v;
        smtpd_check_result res;
        smtpd_check_state *st = smtpd_check_session_new();

        view_init(&v);
        v.client_addr = "127.0.0.1";
        smtpd_check_result_init(&res);
        assert_int_equal(smtpd_check_rcpt(st, &v, &res), SMTPD_CHECK_DEFER);
        assert_int_equal(smtpd_check_connect(st, &v, &res), SMTPD_CHECK_DEFER);
        assert_int_equal(smtpd_check_mynetworks("127.0.0.1"), 0);
        smtpd_check_result_free(&res);
        smtpd_check_session_free(st);
    }
    strbuf_free(err);
}

/* The default configuration (no overrides of restrictions) is no open relay. */
static void test_default_not_open_relay(void **state)
{
    strbuf *err = strbuf_new(64);
    smtpd_check_view v;
    smtpd_check_result res;
    smtpd_check_state *st;
    static const char *const remote[] = {
        "x@remote.example", "x@example.com.evil.example", "x%y@example.com",
        "x@[10.0.0.1]", "x@localhost.evil", "a@b@c.example",
    };
    size_t  i;

    (void) state;
    param_reset();
    param_override(PARAM_MYHOSTNAME, "mx.example.com");
    param_override(PARAM_MYNETWORKS, "127.0.0.1/32");
    param_override(PARAM_ALIAS_MAPS, "");
    param_override(PARAM_LOCAL_RECIPIENT_MAPS, "inline:{alice=1}");
    assert_int_equal(smtpd_check_init(err), 0);
    smtpd_check_result_init(&res);
    for (i = 0; i < sizeof(remote) / sizeof(remote[0]); i++) {
        st = smtpd_check_session_new();
        view_init(&v);
        v.client_addr = "127.0.0.2";
        v.recipient = remote[i];
        if (smtpd_check_rcpt(st, &v, &res) == SMTPD_CHECK_OK)
            fail_msg("open relay to %s", remote[i]);
        smtpd_check_session_free(st);
    }
    st = smtpd_check_session_new();
    v.recipient = "alice@mx.example.com";
    assert_int_equal(smtpd_check_rcpt(st, &v, &res), SMTPD_CHECK_OK);
    v.recipient = "alice@localhost";
    assert_int_equal(smtpd_check_rcpt(st, &v, &res), SMTPD_CHECK_OK);
    smtpd_check_session_free(st);
    smtpd_check_result_free(&res);
    strbuf_free(err);
}

static int group_setup(void **state)
{
    (void) state;
    if (mkdtemp(tmpdir) == NULL)
        return -1;
    write_file(access_path, sizeof(access_path), "access", access_text);
    write_file(class_path, sizeof(class_path), "unused", "x y\n");
    smtpd_check_dns.domain_exists = fake_domain_exists;
    smtpd_check_dns.rbl_client = fake_rbl_client;
    smtpd_check_dns.rhsbl = fake_rhsbl;
    smtpd_check_dns.text = fake_text;
    return 0;
}

static int group_teardown(void **state)
{
    (void) state;
    smtpd_check_shutdown();
    param_reset();
    dict_cache_flush();
    unlink(access_path);
    unlink(class_path);
    rmdir(tmpdir);
    return 0;
}

int     main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_cached_verdicts),
        cmocka_unit_test(test_transaction_actions),
        cmocka_unit_test(test_init_errors),
        cmocka_unit_test(test_default_not_open_relay),
    };

    testlib_setup();
    return cmocka_run_group_tests_name("smtpd_check", tests, group_setup,
                                       group_teardown);
}
