/*
 * dns: DNS lookups through c-ares behind a small Postern interface.
 *
 * Callers never include ares.h. Two ways to ask:
 *   - synchronous and bounded: dns_lookup_sync() answers within its
 *     deadline (smtpd restrictions, dnsq);
 *   - asynchronous on an event_loop: dns_resolver_new() + dns_lookup();
 *     the callback runs later from the loop, never from inside
 *     dns_lookup().
 *
 * The servers come from the Postern-specific parameter
 * dns_resolver_servers: empty = /etc/resolv.conf, otherwise a list such
 * as "127.0.0.1:5353, [::1]:5353". Lookups never apply search domains.
 *
 * Results: DNS_OK (records in the reply), DNS_NOTFOUND (NXDOMAIN or no
 * data of that type), DNS_RETRY (timeout, SERVFAIL, refused, resolver or
 * configuration error: try later), DNS_INVALID (the name cannot be looked
 * up: bad syntax, too long, non-ASCII). See dns.c for full contracts.
 */
#ifndef POSTERN_DNS_H
#define POSTERN_DNS_H

#include <stddef.h>

#include "event.h"
#include "strbuf.h"

/* Record types (RFC 1035 numbers; the only ones we ask for). */
#define DNS_T_A         1
#define DNS_T_PTR       12
#define DNS_T_MX        15
#define DNS_T_TXT       16
#define DNS_T_AAAA      28

/* Lookup status. */
#define DNS_OK          0               /* records found */
#define DNS_NOTFOUND    1               /* NXDOMAIN or no data */
#define DNS_RETRY       2               /* temporary failure */
#define DNS_INVALID     3               /* the name cannot be looked up */

/* Bounds. */
#define DNS_REPLY_MAX   32              /* records kept per reply */
#define DNS_TEXT_MAX    512             /* bytes per record text, with NUL */
#define DNS_NAME_MAX    253             /* domain name, without final dot */
#define DNS_DEFAULT_TIMEOUT_MS 10000    /* deadline of the helpers below */

typedef struct dns_record {
    int     type;                       /* DNS_T_xxx */
    unsigned ttl;
    int     pref;                       /* MX preference, else 0 */
    char    text[DNS_TEXT_MAX];         /* A/AAAA: address as text; MX:
                                         * "pref host"; TXT: the strings
                                         * joined; PTR: the host name */
} dns_record;

typedef struct dns_reply {
    char    name[DNS_NAME_MAX + 2];     /* the name that was looked up */
    int     type;                       /* the type that was asked for */
    size_t  count;                      /* records in rec[] */
    int     truncated;                  /* records or text were cut */
    dns_record rec[DNS_REPLY_MAX];
} dns_reply;

/* Synchronous, bounded. */
int     dns_lookup_sync(const char *name, int type, int timeout_ms,
                        dns_reply *out, strbuf *err);
int     dns_name_valid(const char *name, strbuf *err);
int     dns_reply_parse(int type, const unsigned char *packet, size_t len,
                        dns_reply *out, strbuf *err);
const char *dns_type_name(int type);
const char *dns_status_name(int status);
int     dns_type_parse(const char *name);

/* Helpers for restrictions (each bounded by DNS_DEFAULT_TIMEOUT_MS). */
int     dns_domain_exists(const char *domain, strbuf *err);
int     dns_reverse_verify(const char *addr, strbuf *name_out);

/* Asynchronous on an event loop. */
typedef struct dns_resolver dns_resolver;
typedef void (*dns_callback) (int status, const dns_reply *reply,
                              const char *err, void *ctx);

dns_resolver *dns_resolver_new(event_loop *loop, int timeout_ms);
dns_resolver *dns_resolver_free(dns_resolver *res);
int     dns_lookup(dns_resolver *res, const char *name, int type,
                   dns_callback cb, void *ctx);

#endif
