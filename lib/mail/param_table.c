/*
 * param_table: the one table of main.cf parameters, and the functions
 * that compute dynamic defaults.
 *
 * Public functions:
 *   param_table(&count): the table (count entries), in the order below.
 *   param_def_find(name): the entry for name, or NULL when the name is not
 *     in the table.
 *   param_type_name(type): "string", "boolean", ... for documentation
 *     and postconf.
 *
 * Adding a parameter: add its PARAM_xxx constant to param_names.h, one
 * line below, and a ".SS name" entry to man/man5/postconf.5 (make check
 * fails without it). Defaults are written exactly as Postfix writes them
 * (3.11) where the meaning is the same, so "postconf -d" output compares
 * line by line; paths and account names are Postern's own.
 *
 * Dynamic defaults (computed when first asked for, per configuration):
 *   myhostname: gethostname(); when that has no dot, the first name with
 *     a dot that starts with the host name on a line of /etc/hosts naming
 *     the host (local resolution only: no DNS query that could hang);
 *     failing that host.$mydomain when mydomain is set, else
 *     host.localdomain.
 *   mydomain: $myhostname minus its first label, or "localdomain".
 *   mynetworks: from mynetworks_style: "host" is 127.0.0.0/8 and [::1]/128
 *     plus each interface address (/32, /128); "subnet" the interfaces'
 *     networks; "class" their class A/B/C networks (IPv6: as subnet).
 *     Only the protocols enabled by inet_protocols are listed; IPv6
 *     link-local addresses are left out.
 *
 * A dynamic-default function that meets a configuration error (a bad
 * mynetworks_style or inet_protocols, an expansion error) records it with
 * param_dynamic_error/param_dynamic_bad and returns NULL; param.c turns
 * that into the usual fatal configuration error once it has unwound.
 *
 * SECURITY: /etc/hosts is read with a size limit and parsed defensively;
 * getifaddrs() data comes from the kernel.
 * LIMITS: /etc/hosts up to PARAM_HOSTS_MAX bytes; host names up to 255
 * bytes.
 */
#include <arpa/inet.h>
#include <ifaddrs.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cfg.h"
#include "fileio.h"
#include "htable.h"
#include "mem.h"
#include "msg.h"
#include "param.h"
#include "param_names.h"
#include "strbuf.h"
#include "strutil.h"

#define PARAM_HOSTS_FILE    "/etc/hosts"
#define PARAM_HOSTS_MAX     (1024 * 1024)
#define PARAM_MAIL_VERSION_VALUE "0.1"

/* Installation paths: the Makefile passes its sbindir, daemon_directory,
 * data_directory and queue_directory (see "make install"), so that the
 * compiled-in defaults are where the programs were installed. */
#ifndef PARAM_COMMAND_DIR_DEFAULT
#define PARAM_COMMAND_DIR_DEFAULT   "/usr/sbin"
#endif
#ifndef PARAM_DAEMON_DIR_DEFAULT
#define PARAM_DAEMON_DIR_DEFAULT    "/usr/libexec/postern"
#endif
#ifndef PARAM_DATA_DIR_DEFAULT
#define PARAM_DATA_DIR_DEFAULT      "/var/lib/postern"
#endif
#ifndef PARAM_QUEUE_DIR_DEFAULT
#define PARAM_QUEUE_DIR_DEFAULT     "/var/spool/postern"
#endif

#define PARAM_MAN           "postconf(5)"
#define T_MAX               ((long) INT_MAX)    /* seconds */
#define N_MAX               ((long) INT_MAX)
#define S_MAX               LONG_MAX            /* bytes */

static char *param_dyn_myhostname(void);
static char *param_dyn_mydomain(void);
static char *param_dyn_mynetworks(void);

/* One line per parameter: name, type, default, dynamic, min, max, unit, flags. */
#define STR(n, d)           {n, PARAM_STR, d, NULL, 0, 0, 0, 0, PARAM_MAN}
#define RAWSTR(n, d)        {n, PARAM_STR, d, NULL, 0, 0, 0, PARAM_F_RAW, PARAM_MAN}
#define DYN(n, t, f)        {n, t, NULL, f, 0, 0, 0, 0, PARAM_MAN}
#define BOOL(n, d)          {n, PARAM_BOOL, d, NULL, 0, 0, 0, 0, PARAM_MAN}
#define INT(n, d, lo, hi)   {n, PARAM_INT, d, NULL, lo, hi, 0, 0, PARAM_MAN}
#define TIME(n, d, u, lo)   {n, PARAM_TIME, d, NULL, lo, T_MAX, u, 0, PARAM_MAN}
#define SIZE(n, d, lo)      {n, PARAM_SIZE, d, NULL, lo, S_MAX, 0, 0, PARAM_MAN}
#define LIST(n, d)          {n, PARAM_LIST, d, NULL, 0, 0, 0, 0, PARAM_MAN}
#define MAPS(n, d)          {n, PARAM_MAPS, d, NULL, 0, 0, 0, 0, PARAM_MAN}

static const param_def param_defs[] = {
    /* Identity and installation. */
    STR(PARAM_MAIL_NAME, "Postern"),
    STR(PARAM_MAIL_VERSION, PARAM_MAIL_VERSION_VALUE),
    STR(PARAM_COMPATIBILITY_LEVEL, "0"),
    STR(PARAM_CONFIG_DIRECTORY, PARAM_CONFIG_DIR_DEFAULT),
    STR(PARAM_COMMAND_DIRECTORY, PARAM_COMMAND_DIR_DEFAULT),
    STR(PARAM_DAEMON_DIRECTORY, PARAM_DAEMON_DIR_DEFAULT),
    STR(PARAM_DATA_DIRECTORY, PARAM_DATA_DIR_DEFAULT),
    STR(PARAM_META_DIRECTORY, PARAM_CONFIG_DIR_DEFAULT),
    STR(PARAM_QUEUE_DIRECTORY, PARAM_QUEUE_DIR_DEFAULT),

    /* Users and groups. */
    STR(PARAM_DEFAULT_PRIVS, "nobody"),
    STR(PARAM_MAIL_OWNER, "postern"),
    STR(PARAM_SETGID_GROUP, "postdrop"),

    /* Host and network identity. */
    LIST(PARAM_INET_INTERFACES, "all"),
    LIST(PARAM_INET_PROTOCOLS, "all"),
    LIST(PARAM_MYDESTINATION, "$myhostname, localhost.$mydomain, localhost"),
    DYN(PARAM_MYDOMAIN, PARAM_STR, param_dyn_mydomain),
    DYN(PARAM_MYHOSTNAME, PARAM_STR, param_dyn_myhostname),
    DYN(PARAM_MYNETWORKS, PARAM_LIST, param_dyn_mynetworks),
    STR(PARAM_MYNETWORKS_STYLE, "host"),
    STR(PARAM_MYORIGIN, "$myhostname"),

    /* Logging. */
    STR(PARAM_MAILLOG_FILE, ""),
    STR(PARAM_SYSLOG_FACILITY, "mail"),
    STR(PARAM_SYSLOG_NAME, "postern"),

    /* Processes and timeouts. */
    TIME(PARAM_DAEMON_TIMEOUT, "18000s", 's', 1),
    INT(PARAM_DEFAULT_PROCESS_LIMIT, "100", 1, N_MAX),
    LIST(PARAM_EXPORT_ENVIRONMENT, "TZ MAIL_CONFIG LANG"),
    LIST(PARAM_IMPORT_ENVIRONMENT, "MAIL_CONFIG MAIL_DEBUG TZ LANG=C"),
    TIME(PARAM_IPC_TIMEOUT, "3600s", 's', 1),
    TIME(PARAM_MAX_IDLE, "100s", 's', 1),
    INT(PARAM_MAX_USE, "100", 1, N_MAX),
    TIME(PARAM_SERVICE_THROTTLE_TIME, "60s", 's', 1),

    /* Message limits. */
    SIZE(PARAM_HEADER_SIZE_LIMIT, "102400", 1),
    INT(PARAM_LINE_LENGTH_LIMIT, "2048", 1, N_MAX),
    SIZE(PARAM_MESSAGE_SIZE_LIMIT, "10240000", 0),
    INT(PARAM_HOPCOUNT_LIMIT, "50", 1, N_MAX),
    LIST(PARAM_MESSAGE_DROP_HEADERS, "bcc, content-length, resent-bcc, return-path"),

    /* Address rewriting (cleanup). */
    BOOL(PARAM_APPEND_DOT_MYDOMAIN, "no"),
    MAPS(PARAM_CANONICAL_MAPS, ""),
    MAPS(PARAM_SENDER_CANONICAL_MAPS, ""),
    MAPS(PARAM_RECIPIENT_CANONICAL_MAPS, ""),
    MAPS(PARAM_VIRTUAL_ALIAS_MAPS, ""),
    INT(PARAM_VIRTUAL_ALIAS_EXPANSION_LIMIT, "1000", 1, N_MAX),
    INT(PARAM_VIRTUAL_ALIAS_RECURSION_LIMIT, "1000", 1, N_MAX),
    LIST(PARAM_CANONICAL_CLASSES, "envelope_sender, envelope_recipient, header_sender, header_recipient"),
    LIST(PARAM_MASQUERADE_DOMAINS, ""),
    LIST(PARAM_MASQUERADE_EXCEPTIONS, ""),
    LIST(PARAM_MASQUERADE_CLASSES, "envelope_sender, header_sender, header_recipient"),
    BOOL(PARAM_APPEND_AT_MYORIGIN, "yes"),
    BOOL(PARAM_SWAP_BANGPATH, "yes"),
    BOOL(PARAM_ALLOW_PERCENT_HACK, "yes"),
    STR(PARAM_REMOTE_HEADER_REWRITE_DOMAIN, ""),
    LIST(PARAM_LOCAL_HEADER_REWRITE_CLIENTS, "permit_inet_interfaces"),
    LIST(PARAM_PROPAGATE_UNMATCHED_EXTENSIONS, "canonical, virtual"),

    /* Virtual delivery agent (virtual). */
    STR(PARAM_VIRTUAL_MAILBOX_BASE, ""),
    MAPS(PARAM_VIRTUAL_UID_MAPS, ""),
    MAPS(PARAM_VIRTUAL_GID_MAPS, ""),
    INT(PARAM_VIRTUAL_MINIMUM_UID, "100", 1, N_MAX),
    SIZE(PARAM_VIRTUAL_MAILBOX_LIMIT, "51200000", 0),
    LIST(PARAM_VIRTUAL_MAILBOX_LOCK, "fcntl, dotlock"),

    /* Local delivery and aliases. */
    MAPS(PARAM_ALIAS_DATABASE, "$default_database_type:/etc/aliases"),
    MAPS(PARAM_ALIAS_MAPS, "$default_database_type:/etc/aliases"),
    STR(PARAM_DEFAULT_DATABASE_TYPE, "hash"),
    RAWSTR(PARAM_HOME_MAILBOX, ""),
    STR(PARAM_MAIL_SPOOL_DIRECTORY, "/var/mail"),
    SIZE(PARAM_MAILBOX_SIZE_LIMIT, "51200000", 0),
    STR(PARAM_RECIPIENT_DELIMITER, ""),
    LIST(PARAM_ALLOW_MAIL_TO_COMMANDS, "alias, forward"),
    LIST(PARAM_ALLOW_MAIL_TO_FILES, "alias, forward"),
    TIME(PARAM_COMMAND_TIME_LIMIT, "1000s", 's', 1),
    RAWSTR(PARAM_FORWARD_PATH, "$home/.forward${recipient_delimiter}${extension}, $home/.forward"),
    STR(PARAM_LOCAL_COMMAND_SHELL, ""),
    RAWSTR(PARAM_LUSER_RELAY, ""),
    RAWSTR(PARAM_MAILBOX_COMMAND, ""),
    LIST(PARAM_MAILBOX_DELIVERY_LOCK, "fcntl, dotlock"),
    LIST(PARAM_PREPEND_DELIVERED_HEADER, "command, file, forward"),

    /* Routing. */
    STR(PARAM_DEFAULT_TRANSPORT, "smtp"),
    STR(PARAM_LOCAL_TRANSPORT, "local:$myhostname"),
    LIST(PARAM_RELAY_DOMAINS, ""),
    STR(PARAM_RELAY_TRANSPORT, "relay"),
    STR(PARAM_RELAYHOST, ""),
    STR(PARAM_VIRTUAL_TRANSPORT, "virtual"),

    /* SMTP server. */
    STR(PARAM_SMTPD_BANNER, "$myhostname ESMTP $mail_name"),
    TIME(PARAM_SMTPD_TIMEOUT, "300s", 's', 1),
    INT(PARAM_SMTPD_RECIPIENT_LIMIT, "1000", 1, 100000),
    INT(PARAM_SMTPD_HARD_ERROR_LIMIT, "20", 1, N_MAX),
    INT(PARAM_SMTPD_SOFT_ERROR_LIMIT, "10", 0, N_MAX),
    TIME(PARAM_SMTPD_ERROR_SLEEP_TIME, "1s", 's', 0),
    INT(PARAM_SMTPD_JUNK_COMMAND_LIMIT, "100", 1, N_MAX),
    INT(PARAM_SMTPD_HISTORY_FLUSH_THRESHOLD, "100", 1, N_MAX),
    STR(PARAM_SMTPD_FORBID_BARE_NEWLINE, "normalize"),
    BOOL(PARAM_SMTPD_FORBID_UNAUTH_PIPELINING, "yes"),
    LIST(PARAM_SMTPD_DISCARD_EHLO_KEYWORDS, ""),
    BOOL(PARAM_DISABLE_VRFY_COMMAND, "no"),
    BOOL(PARAM_SMTPD_PEERNAME_LOOKUP, "yes"),

    /* SMTP server TLS. */
    STR(PARAM_SMTPD_TLS_SECURITY_LEVEL, ""),
    STR(PARAM_SMTPD_TLS_CERT_FILE, ""),
    STR(PARAM_SMTPD_TLS_KEY_FILE, "$smtpd_tls_cert_file"),
    LIST(PARAM_SMTPD_TLS_CHAIN_FILES, ""),
    STR(PARAM_SMTPD_TLS_CAFILE, ""),
    STR(PARAM_SMTPD_TLS_CAPATH, ""),
    BOOL(PARAM_SMTPD_TLS_ASK_CCERT, "no"),
    BOOL(PARAM_SMTPD_TLS_REQ_CCERT, "no"),
    LIST(PARAM_SMTPD_TLS_PROTOCOLS, ">=TLSv1.2"),
    LIST(PARAM_SMTPD_TLS_MANDATORY_PROTOCOLS, ">=TLSv1.2"),
    STR(PARAM_SMTPD_TLS_CIPHERS, "medium"),
    STR(PARAM_SMTPD_TLS_MANDATORY_CIPHERS, "medium"),
    LIST(PARAM_SMTPD_TLS_EXCLUDE_CIPHERS, ""),
    STR(PARAM_TLS_HIGH_CIPHERLIST, "ALL:!EXPORT:!LOW:!MEDIUM:+RC4:@STRENGTH"),
    STR(PARAM_TLS_MEDIUM_CIPHERLIST, "ALL:!EXPORT:!LOW:+RC4:@STRENGTH"),
    INT(PARAM_SMTPD_TLS_LOGLEVEL, "0", 0, 4),
    BOOL(PARAM_SMTPD_TLS_RECEIVED_HEADER, "no"),
    BOOL(PARAM_SMTPD_TLS_AUTH_ONLY, "no"),
    BOOL(PARAM_SMTPD_TLS_WRAPPERMODE, "no"),
    TIME(PARAM_SMTPD_TLS_SESSION_CACHE_TIMEOUT, "3600s", 's', 0),
    STR(PARAM_SMTPD_TLS_TICKET_KEY_FILE, "$queue_directory/private/smtpd_tls_ticket.key"),
    TIME(PARAM_SMTPD_STARTTLS_TIMEOUT, "300s", 's', 1),

    /* SMTP server SASL. */
    BOOL(PARAM_SMTPD_SASL_AUTH_ENABLE, "no"),
    STR(PARAM_SMTPD_SASL_TYPE, "cyrus"),
    STR(PARAM_SMTPD_SASL_PATH, "smtpd"),
    STR(PARAM_SMTPD_SASL_SERVICE, "smtp"),
    STR(PARAM_CYRUS_SASL_CONFIG_PATH, ""),
    LIST(PARAM_SMTPD_SASL_SECURITY_OPTIONS, "noanonymous"),
    LIST(PARAM_SMTPD_SASL_TLS_SECURITY_OPTIONS, "$smtpd_sasl_security_options"),
    STR(PARAM_SMTPD_SASL_LOCAL_DOMAIN, ""),
    BOOL(PARAM_BROKEN_SASL_AUTH_CLIENTS, "no"),
    BOOL(PARAM_SMTPD_SASL_AUTHENTICATED_HEADER, "no"),
    MAPS(PARAM_SMTPD_SENDER_LOGIN_MAPS, ""),

    /* SMTP client TLS and SASL. */
    STR(PARAM_SMTP_TLS_SECURITY_LEVEL, ""),
    STR(PARAM_SMTP_TLS_CAFILE, ""),
    STR(PARAM_SMTP_TLS_CAPATH, ""),
    MAPS(PARAM_SMTP_TLS_POLICY_MAPS, ""),
    LIST(PARAM_SMTP_TLS_PROTOCOLS, ">=TLSv1"),
    LIST(PARAM_SMTP_TLS_MANDATORY_PROTOCOLS, ">=TLSv1"),
    STR(PARAM_SMTP_TLS_CIPHERS, "medium"),
    STR(PARAM_SMTP_TLS_MANDATORY_CIPHERS, "medium"),
    STR(PARAM_SMTP_TLS_SERVERNAME, ""),
    INT(PARAM_SMTP_TLS_LOGLEVEL, "0", 0, 4),
    BOOL(PARAM_SMTP_TLS_WRAPPERMODE, "no"),
    LIST(PARAM_SMTP_TLS_VERIFY_CERT_MATCH, "hostname"),
    LIST(PARAM_SMTP_TLS_SECURE_CERT_MATCH, "nexthop, dot-nexthop"),
    TIME(PARAM_SMTP_STARTTLS_TIMEOUT, "300s", 's', 1),
    BOOL(PARAM_SMTP_SASL_AUTH_ENABLE, "no"),
    MAPS(PARAM_SMTP_SASL_PASSWORD_MAPS, ""),
    LIST(PARAM_SMTP_SASL_SECURITY_OPTIONS, "noplaintext, noanonymous"),
    LIST(PARAM_SMTP_SASL_TLS_SECURITY_OPTIONS, "$smtp_sasl_security_options"),
    LIST(PARAM_SMTP_SASL_MECHANISM_FILTER, ""),

    /* SMTP and LMTP client (smtp). */
    STR(PARAM_SMTP_ADDRESS_PREFERENCE, "any"),
    BOOL(PARAM_SMTP_ALWAYS_SEND_EHLO, "yes"),
    STR(PARAM_SMTP_BIND_ADDRESS, ""),
    BOOL(PARAM_SMTP_CONN_CACHE_ON_DEMAND, "yes"),
    TIME(PARAM_SMTP_CONN_CACHE_TIME_LIMIT, "2s", 's', 1),
    TIME(PARAM_SMTP_CONN_REUSE_TIME_LIMIT, "300s", 's', 1),
    TIME(PARAM_SMTP_CONNECT_TIMEOUT, "30s", 's', 0),
    TIME(PARAM_SMTP_DATA_DONE_TIMEOUT, "600s", 's', 1),
    TIME(PARAM_SMTP_DATA_INIT_TIMEOUT, "120s", 's', 1),
    TIME(PARAM_SMTP_DATA_XFER_TIMEOUT, "180s", 's', 1),
    LIST(PARAM_SMTP_FALLBACK_RELAY, ""),
    STR(PARAM_SMTP_HELO_NAME, "$myhostname"),
    TIME(PARAM_SMTP_HELO_TIMEOUT, "300s", 's', 1),
    LIST(PARAM_SMTP_HOST_LOOKUP, "dns"),
    INT(PARAM_SMTP_LINE_LENGTH_LIMIT, "998", 0, N_MAX),
    TIME(PARAM_SMTP_MAIL_TIMEOUT, "300s", 's', 1),
    INT(PARAM_SMTP_MX_ADDRESS_LIMIT, "5", 0, 256),
    INT(PARAM_SMTP_MX_SESSION_LIMIT, "2", 0, 256),
    BOOL(PARAM_SMTP_NEVER_SEND_EHLO, "no"),
    TIME(PARAM_SMTP_QUIT_TIMEOUT, "300s", 's', 1),
    TIME(PARAM_SMTP_RCPT_TIMEOUT, "300s", 's', 1),
    TIME(PARAM_SMTP_RSET_TIMEOUT, "20s", 's', 1),
    BOOL(PARAM_SMTP_SKIP_5XX_GREETING, "yes"),
    BOOL(PARAM_SMTPUTF8_ENABLE, "yes"),
    STR(PARAM_LMTP_BIND_ADDRESS, ""),
    TIME(PARAM_LMTP_CONNECT_TIMEOUT, "0s", 's', 0),
    TIME(PARAM_LMTP_DATA_DONE_TIMEOUT, "600s", 's', 1),
    TIME(PARAM_LMTP_DATA_INIT_TIMEOUT, "120s", 's', 1),
    TIME(PARAM_LMTP_DATA_XFER_TIMEOUT, "180s", 's', 1),
    STR(PARAM_LMTP_LHLO_NAME, "$myhostname"),
    TIME(PARAM_LMTP_LHLO_TIMEOUT, "300s", 's', 1),
    INT(PARAM_LMTP_LINE_LENGTH_LIMIT, "998", 0, N_MAX),
    TIME(PARAM_LMTP_MAIL_TIMEOUT, "300s", 's', 1),
    TIME(PARAM_LMTP_QUIT_TIMEOUT, "300s", 's', 1),
    TIME(PARAM_LMTP_RCPT_TIMEOUT, "300s", 's', 1),
    TIME(PARAM_LMTP_RSET_TIMEOUT, "20s", 's', 1),

    /* Queue. */
    TIME(PARAM_BOUNCE_QUEUE_LIFETIME, "5d", 'd', 0),
    SIZE(PARAM_BOUNCE_SIZE_LIMIT, "50000", 1),
    STR(PARAM_BOUNCE_NOTICE_RECIPIENT, "postmaster"),
    STR(PARAM_2BOUNCE_NOTICE_RECIPIENT, "postmaster"),
    STR(PARAM_ERROR_NOTICE_RECIPIENT, "postmaster"),
    STR(PARAM_DOUBLE_BOUNCE_SENDER, "double-bounce"),
    TIME(PARAM_DELAY_WARNING_TIME, "0h", 'h', 0),
    BOOL(PARAM_ENABLE_LONG_QUEUE_IDS, "no"),
    INT(PARAM_HASH_QUEUE_DEPTH, "1", 1, 16),
    LIST(PARAM_HASH_QUEUE_NAMES, "deferred, defer"),
    TIME(PARAM_MAXIMAL_BACKOFF_TIME, "4000s", 's', 1),
    TIME(PARAM_MAXIMAL_QUEUE_LIFETIME, "5d", 'd', 0),
    TIME(PARAM_MINIMAL_BACKOFF_TIME, "300s", 's', 1),
    INT(PARAM_QMGR_MESSAGE_ACTIVE_LIMIT, "20000", 1, 1000000),
    TIME(PARAM_QUEUE_RUN_DELAY, "300s", 's', 1),
    LIST(PARAM_FAST_FLUSH_DOMAINS, "$relay_domains"),
    STR(PARAM_FLUSH_SERVICE_NAME, "flush"),
    STR(PARAM_SHOWQ_SERVICE_NAME, "showq"),

    /* Queue manager scheduling and routing (qmgr, resolve). */
    MAPS(PARAM_TRANSPORT_MAPS, ""),
    LIST(PARAM_VIRTUAL_ALIAS_DOMAINS, "$virtual_alias_maps"),
    LIST(PARAM_VIRTUAL_MAILBOX_DOMAINS, "$virtual_mailbox_maps"),
    MAPS(PARAM_VIRTUAL_MAILBOX_MAPS, ""),
    MAPS(PARAM_SENDER_DEPENDENT_RELAYHOST_MAPS, ""),
    INT(PARAM_DEFAULT_DESTINATION_CONCURRENCY_LIMIT, "20", 1, N_MAX),
    INT(PARAM_INITIAL_DESTINATION_CONCURRENCY, "5", 1, N_MAX),
    INT(PARAM_DEFAULT_DESTINATION_RECIPIENT_LIMIT, "50", 1, N_MAX),
    INT(PARAM_LOCAL_DESTINATION_CONCURRENCY_LIMIT, "2", 1, N_MAX),
    INT(PARAM_LOCAL_DESTINATION_RECIPIENT_LIMIT, "1", 1, N_MAX),
    INT(PARAM_DEFAULT_DESTINATION_CONCURRENCY_FAILED_COHORT_LIMIT, "1", 1, N_MAX),
    STR(PARAM_DEFAULT_DESTINATION_CONCURRENCY_POSITIVE_FEEDBACK, "1"),
    STR(PARAM_DEFAULT_DESTINATION_CONCURRENCY_NEGATIVE_FEEDBACK, "1"),
    TIME(PARAM_DEFAULT_DESTINATION_RATE_DELAY, "0s", 's', 0),
    INT(PARAM_QMGR_MESSAGE_RECIPIENT_LIMIT, "20000", 1, N_MAX),
    INT(PARAM_DEFAULT_RECIPIENT_LIMIT, "20000", 1, N_MAX),
    TIME(PARAM_QMGR_CLOG_WARN_TIME, "300s", 's', 0),

    /* DNS (Postern-specific). */
    LIST(PARAM_DNS_RESOLVER_SERVERS, ""),

    /* SMTP server restrictions (smtpd_check). */
    LIST(PARAM_SMTPD_CLIENT_RESTRICTIONS, ""),
    LIST(PARAM_SMTPD_HELO_RESTRICTIONS, ""),
    LIST(PARAM_SMTPD_SENDER_RESTRICTIONS, ""),
    LIST(PARAM_SMTPD_RELAY_RESTRICTIONS, "permit_mynetworks, permit_sasl_authenticated, defer_unauth_destination"),
    LIST(PARAM_SMTPD_RECIPIENT_RESTRICTIONS, ""),
    LIST(PARAM_SMTPD_DATA_RESTRICTIONS, ""),
    LIST(PARAM_SMTPD_END_OF_DATA_RESTRICTIONS, ""),
    LIST(PARAM_SMTPD_ETRN_RESTRICTIONS, ""),
    LIST(PARAM_SMTPD_RESTRICTION_CLASSES, ""),
    BOOL(PARAM_SMTPD_DELAY_REJECT, "yes"),
    BOOL(PARAM_SMTPD_HELO_REQUIRED, "no"),
    BOOL(PARAM_SMTPD_REJECT_UNLISTED_RECIPIENT, "yes"),
    BOOL(PARAM_SMTPD_REJECT_UNLISTED_SENDER, "no"),
    STR(PARAM_SMTPD_NULL_ACCESS_LOOKUP_KEY, "<>"),
    MAPS(PARAM_LOCAL_RECIPIENT_MAPS, "unix:passwd.byname $alias_maps"),
    INT(PARAM_UNKNOWN_LOCAL_RECIPIENT_REJECT_CODE, "550", 400, 599),
    INT(PARAM_UNKNOWN_VIRTUAL_ALIAS_REJECT_CODE, "550", 400, 599),
    INT(PARAM_UNKNOWN_VIRTUAL_MAILBOX_REJECT_CODE, "550", 400, 599),
    INT(PARAM_UNKNOWN_ADDRESS_REJECT_CODE, "450", 400, 599),
    INT(PARAM_UNKNOWN_CLIENT_HOSTNAME_REJECT_CODE, "450", 400, 599),
    INT(PARAM_NON_FQDN_REJECT_CODE, "504", 400, 599),
    INT(PARAM_INVALID_HOSTNAME_REJECT_CODE, "501", 400, 599),
    INT(PARAM_RELAY_DOMAINS_REJECT_CODE, "554", 400, 599),
    INT(PARAM_ACCESS_MAP_REJECT_CODE, "554", 400, 599),
    INT(PARAM_ACCESS_MAP_DEFER_CODE, "450", 400, 599),
    INT(PARAM_REJECT_CODE, "554", 400, 599),
    INT(PARAM_DEFER_CODE, "450", 400, 599),
    INT(PARAM_MAPS_RBL_REJECT_CODE, "554", 400, 599),

    /* Per-client limits kept by anvil. */
    TIME(PARAM_ANVIL_RATE_TIME_UNIT, "60s", 's', 1),
    TIME(PARAM_ANVIL_STATUS_UPDATE_TIME, "600s", 's', 1),
    INT(PARAM_ANVIL_MAX_CLIENTS, "100000", 1, 10000000),
    INT(PARAM_SMTPD_CLIENT_CONN_COUNT_LIMIT, "50", 0, N_MAX),
    INT(PARAM_SMTPD_CLIENT_CONN_RATE_LIMIT, "0", 0, N_MAX),
    INT(PARAM_SMTPD_CLIENT_MSG_RATE_LIMIT, "0", 0, N_MAX),
    INT(PARAM_SMTPD_CLIENT_RCPT_RATE_LIMIT, "0", 0, N_MAX),
    LIST(PARAM_SMTPD_CLIENT_EVENT_LIMIT_EXCEPTIONS, "$mynetworks"),

    /* Notification and bounces. */
    LIST(PARAM_NOTIFY_CLASSES, "resource, software"),
    BOOL(PARAM_SOFT_BOUNCE, "no"),
};

/* Name index, built on first use and never changed afterwards. */
static htable *param_index;

/* param_table: the whole table. */
const param_def *param_table(size_t *count)
{
    if (count)
        *count = sizeof(param_defs) / sizeof(param_defs[0]);
    return param_defs;
}

/* param_def_find: table entry for name, or NULL. */
const param_def *param_def_find(const char *name)
{
    size_t  i;

    if (param_index == NULL) {
        param_index = htable_new(2 * sizeof(param_defs) / sizeof(param_defs[0]));
        for (i = 0; i < sizeof(param_defs) / sizeof(param_defs[0]); i++) {
            if (htable_put(param_index, param_defs[i].name, (void *) &param_defs[i]) != NULL)
                msg_panic("param_table: duplicate entry %s", param_defs[i].name);
        }
    }
    return htable_find(param_index, name);
}

/* param_type_name: human name of a type. */
const char *param_type_name(enum param_type type)
{
    switch (type) {
    case PARAM_STR:
        return "string";
    case PARAM_BOOL:
        return "boolean";
    case PARAM_INT:
        return "integer";
    case PARAM_TIME:
        return "time";
    case PARAM_SIZE:
        return "size";
    case PARAM_LIST:
        return "list";
    case PARAM_MAPS:
        return "lookup tables";
    }
    return "unknown";
}

/* param_expanded: expanded value of name for a default computation, or
 * NULL after recording the error (param_dynamic_error). */
static char *param_expanded(const char *name)
{
    strbuf *out = strbuf_new(64);
    strbuf *err = strbuf_new(64);

    if (param_expand_value(name, out, err) < 0) {
        param_dynamic_error(strbuf_str(err));
        strbuf_free(out);
        strbuf_free(err);
        return NULL;
    }
    strbuf_free(err);
    return strbuf_detach(out, NULL);
}

/* param_hosts_canon: FQDN for a short host name from /etc/hosts, or NULL. */
static char *param_hosts_canon(const char *host)
{
    strbuf *buf = strbuf_new(4096);
    strbuf *err = strbuf_new(64);
    char   *result = NULL;
    char   *cursor;
    char   *line;
    size_t  hlen = strlen(host);

    if (fileio_read_all(PARAM_HOSTS_FILE, PARAM_HOSTS_MAX, buf, err) != 0
        || memchr(buf->data, 0, buf->len) != NULL) {
        strbuf_free(buf);
        strbuf_free(err);
        return NULL;
    }
    cursor = buf->data;
    while (result == NULL && (line = str_token(&cursor, "\n")) != NULL) {
        char   *hash = strchr(line, '#');
        char   *words[64];
        size_t  n = 0, i;
        int     names_host = 0;
        char   *w;

        if (hash)
            *hash = 0;
        while (n < 64 && (w = str_token(&line, " \t\r")) != NULL)
            words[n++] = w;
        /* words[0] is the address; the rest are names. */
        for (i = 1; i < n; i++)
            if (str_casecmp(words[i], host) == 0)
                names_host = 1;
        for (i = 1; names_host && i < n; i++) {
            if (strlen(words[i]) > hlen && words[i][hlen] == '.' && words[i][hlen + 1]
                && strncasecmp(words[i], host, hlen) == 0 && strlen(words[i]) < 256) {
                result = mem_strdup(words[i]);
                break;
            }
        }
    }
    strbuf_free(buf);
    strbuf_free(err);
    return result;
}

/* param_dyn_myhostname: this host's fully-qualified name. */
static char *param_dyn_myhostname(void)
{
    char    host[256];
    char   *canon;
    char   *domain;
    char   *result;

    if (gethostname(host, sizeof(host)) < 0 || host[0] == 0)
        (void) str_copy(host, sizeof(host), "localhost");
    host[sizeof(host) - 1] = 0;
    if (strchr(host, '.') != NULL)
        return mem_strdup(host);
    if ((canon = param_hosts_canon(host)) != NULL)
        return canon;
    if (param_is_set(PARAM_MYDOMAIN)) {
        if ((domain = param_expanded(PARAM_MYDOMAIN)) == NULL)
            return NULL;
    } else {
        domain = mem_strdup("localdomain");
    }
    result = *domain ? str_concat(host, ".", domain, (char *) NULL) : mem_strdup(host);
    mem_free(domain);
    return result;
}

/* param_dyn_mydomain: $myhostname minus its first label. */
static char *param_dyn_mydomain(void)
{
    char   *host = param_expanded(PARAM_MYHOSTNAME);
    char   *dot;
    char   *result;

    if (host == NULL)
        return NULL;
    dot = strchr(host, '.');
    result = mem_strdup(dot && dot[1] ? dot + 1 : "localdomain");
    mem_free(host);
    return result;
}

/* param_prefix_len: number of leading one bits in a netmask. */
static int param_prefix_len(const unsigned char *mask, size_t len)
{
    int     bits = 0;
    size_t  i;

    for (i = 0; i < len; i++) {
        unsigned char b = mask[i];

        while (b & 0x80) {
            bits++;
            b = (unsigned char) (b << 1);
        }
        if (mask[i] != 0xff)
            break;
    }
    return bits;
}

/* param_net_add: append "token" once (seen tracks what is there). */
static void param_net_add(strbuf *out, htable *seen, const char *token)
{
    if (htable_has(seen, token))
        return;
    htable_put(seen, token, NULL);
    if (out->len)
        strbuf_putc(out, ' ');
    strbuf_puts(out, token);
}

/* param_dyn_mynetworks: trusted networks from mynetworks_style. */
static char *param_dyn_mynetworks(void)
{
    char   *style = param_expanded(PARAM_MYNETWORKS_STYLE);
    char   *protos;
    char   *cursor;
    char   *word;
    strbuf *out;
    htable *seen;
    struct ifaddrs *ifa_list = NULL, *ifa;
    int     want4 = 0, want6 = 0;
    enum {
        NET_HOST, NET_SUBNET, NET_CLASS
    }       kind;

    if (style == NULL)
        return NULL;
    if (str_casecmp(style, "host") == 0) {
        kind = NET_HOST;
    } else if (str_casecmp(style, "subnet") == 0) {
        kind = NET_SUBNET;
    } else if (str_casecmp(style, "class") == 0) {
        kind = NET_CLASS;
    } else {
        mem_free(style);
        param_dynamic_bad(PARAM_MYNETWORKS_STYLE, "use host, subnet or class");
        return NULL;
    }
    mem_free(style);
    if ((protos = param_expanded(PARAM_INET_PROTOCOLS)) == NULL)
        return NULL;
    cursor = protos;
    while ((word = str_token(&cursor, ", \t\r\n")) != NULL) {
        if (str_casecmp(word, "all") == 0) {
            want4 = want6 = 1;
        } else if (str_casecmp(word, "ipv4") == 0) {
            want4 = 1;
        } else if (str_casecmp(word, "ipv6") == 0) {
            want6 = 1;
        } else {
            mem_free(protos);
            param_dynamic_bad(PARAM_INET_PROTOCOLS, "use all, ipv4 or ipv6");
            return NULL;
        }
    }
    mem_free(protos);
    out = strbuf_new(128);
    seen = htable_new(16);
    if (want4)
        param_net_add(out, seen, "127.0.0.0/8");
    if (want6)
        param_net_add(out, seen, "[::1]/128");
    if (getifaddrs(&ifa_list) < 0) {
        msg_warn("cannot list network interfaces: %m; mynetworks covers loopback only");
        ifa_list = NULL;
    }
    for (ifa = ifa_list; ifa; ifa = ifa->ifa_next) {
        char    addr[INET6_ADDRSTRLEN];
        char    token[INET6_ADDRSTRLEN + 8];
        int     bits;

        if (ifa->ifa_addr == NULL)
            continue;
        if (ifa->ifa_addr->sa_family == AF_INET && want4) {
            struct in_addr a = ((const struct sockaddr_in *) (const void *) ifa->ifa_addr)->sin_addr;
            uint32_t h = ntohl(a.s_addr);
            uint32_t m = 0xffffffffU;

            if ((h >> 24) == 127)
                continue;                       /* covered by 127.0.0.0/8 */
            bits = 32;
            if (kind == NET_SUBNET && ifa->ifa_netmask) {
                struct in_addr nm = ((const struct sockaddr_in *) (const void *) ifa->ifa_netmask)->sin_addr;

                bits = param_prefix_len((const unsigned char *) &nm.s_addr, 4);
            } else if (kind == NET_CLASS) {
                bits = (h >> 31) == 0 ? 8 : (h >> 30) == 2 ? 16 : (h >> 29) == 6 ? 24 : 32;
            }
            if (bits < 32)
                m = bits == 0 ? 0 : 0xffffffffU << (32 - bits);
            a.s_addr = htonl(h & m);
            if (inet_ntop(AF_INET, &a, addr, sizeof(addr)) == NULL
                || str_format(token, sizeof(token), "%s/%d", addr, bits) < 0)
                continue;
            param_net_add(out, seen, token);
        } else if (ifa->ifa_addr->sa_family == AF_INET6 && want6) {
            struct in6_addr a = ((const struct sockaddr_in6 *) (const void *) ifa->ifa_addr)->sin6_addr;
            int     k;

            if (IN6_IS_ADDR_LOOPBACK(&a) || IN6_IS_ADDR_LINKLOCAL(&a))
                continue;
            bits = 128;
            if (kind != NET_HOST && ifa->ifa_netmask) {
                struct in6_addr nm = ((const struct sockaddr_in6 *) (const void *) ifa->ifa_netmask)->sin6_addr;

                bits = param_prefix_len(nm.s6_addr, 16);
                for (k = 0; k < 16; k++)
                    a.s6_addr[k] &= nm.s6_addr[k];
            }
            if (inet_ntop(AF_INET6, &a, addr, sizeof(addr)) == NULL
                || str_format(token, sizeof(token), "[%s]/%d", addr, bits) < 0)
                continue;
            param_net_add(out, seen, token);
        }
    }
    if (ifa_list)
        freeifaddrs(ifa_list);
    htable_free(seen, NULL);
    return strbuf_detach(out, NULL);
}
