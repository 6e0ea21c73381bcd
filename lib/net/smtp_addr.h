/*
 * smtp_addr: from a delivery nexthop to the ordered list of addresses
 * the SMTP/LMTP client tries.
 *
 * Nexthop forms (smtp_addr_parse_nexthop):
 *   host, host:port          MX lookup (SMTP only; LMTP never looks up MX)
 *   [host], [host]:port      no MX lookup: the host's own addresses
 *   [1.2.3.4], [2001:db8::1]:25, [ipv6:2001:db8::1]
 *                            an address literal
 *   inet:<any of the above>  the same (the LMTP spelling)
 *   unix:/path               LMTP over a UNIX-domain socket (LMTP only)
 * The port is a number or a service name; without one it is the
 * caller's default (25 for SMTP, 24 for LMTP).
 *
 * Resolution (smtp_addr_resolve) follows Postfix: MX records sorted by
 * preference with a random order among equal preferences, the domain's
 * own A/AAAA records when it has no MX (implicit MX), a null MX
 * (RFC 7505) as its own status, MX hosts that are this host (myhostname)
 * and every MX at equal or worse preference dropped, addresses per
 * inet_protocols and smtp_address_preference, at most
 * smtp_mx_address_limit addresses. Answers are cached in the resolver
 * for their TTL (bounded).
 *
 * See smtp_addr.c for the full contracts.
 */
#ifndef POSTERN_SMTP_ADDR_H
#define POSTERN_SMTP_ADDR_H

#include <stddef.h>
#include <time.h>

#include "dns.h"
#include "strbuf.h"

/* Results of smtp_addr_resolve. */
#define SMTP_ADDR_OK        0           /* addresses in the list */
#define SMTP_ADDR_NOTFOUND  1           /* host or domain not found: bounce */
#define SMTP_ADDR_RETRY     2           /* temporary failure: defer */
#define SMTP_ADDR_NULLMX    3           /* the domain takes no mail: bounce */
#define SMTP_ADDR_LOOP      4           /* every MX is this host: bounce */

/* Nexthop kinds. */
#define SMTP_NEXTHOP_INET   1
#define SMTP_NEXTHOP_UNIX   2

/* inet_protocols bits. */
#define SMTP_ADDR_PROTO_IPV4    (1 << 0)
#define SMTP_ADDR_PROTO_IPV6    (1 << 1)

/* smtp_address_preference. */
#define SMTP_ADDR_PREF_ANY      0
#define SMTP_ADDR_PREF_IPV4     1
#define SMTP_ADDR_PREF_IPV6     2

/* smtp_host_lookup bits. */
#define SMTP_ADDR_LOOKUP_DNS    (1 << 0)
#define SMTP_ADDR_LOOKUP_NATIVE (1 << 1)

/* Bounds. */
#define SMTP_ADDR_HOST_MAX      (DNS_NAME_MAX + 2)  /* host name + NUL */
#define SMTP_ADDR_TEXT_MAX      108     /* address text or UNIX path + NUL */
#define SMTP_ADDR_LIST_MAX      256     /* addresses kept per resolution */
#define SMTP_ADDR_CACHE_MAX     256     /* cached answers per resolver */
#define SMTP_ADDR_CACHE_TTL_MAX 3600    /* longest time an answer is kept */
#define SMTP_ADDR_MX_TTL        60      /* MX answers (no TTL from dns.h) */
#define SMTP_ADDR_NEG_TTL       60      /* "not found" answers */

typedef struct smtp_nexthop {
    int     kind;                       /* SMTP_NEXTHOP_xxx */
    int     mx;                         /* 1: look up MX records */
    int     literal;                    /* host is an address literal */
    char    host[SMTP_ADDR_HOST_MAX];   /* name or address, no brackets */
    int     port;                       /* INET: 1..65535 */
    char    path[SMTP_ADDR_TEXT_MAX];   /* UNIX: the socket path */
} smtp_nexthop;

typedef struct smtp_addr_entry {
    char    host[SMTP_ADDR_HOST_MAX];   /* name for logs (MX host, literal) */
    char    addr[SMTP_ADDR_TEXT_MAX];   /* numeric address, or UNIX path */
    int     family;                     /* AF_INET, AF_INET6, AF_UNIX */
    int     port;                       /* 0 for AF_UNIX */
    int     pref;                       /* MX preference, 0 without MX */
} smtp_addr_entry;

typedef struct smtp_addr_list {
    smtp_addr_entry *addrs;
    size_t  count;
    size_t  size;
} smtp_addr_list;

/* A lookup function (tests replace DNS with one): returns a DNS_xxx
 * status, fills out on DNS_OK, sets err otherwise. */
typedef int (*smtp_addr_lookup_fn) (void *ctx, const char *name, int type,
                                    dns_reply *out, strbuf *err);

typedef struct smtp_addr_config {
    int     protocols;                  /* SMTP_ADDR_PROTO_xxx bits */
    int     preference;                 /* SMTP_ADDR_PREF_xxx */
    int     host_lookup;                /* SMTP_ADDR_LOOKUP_xxx bits */
    int     address_limit;              /* 0 = no limit */
    const char *myhostname;             /* copied by smtp_addr_resolver_new */
    int     dns_timeout_ms;             /* per lookup; <= 0: DNS default */
    smtp_addr_lookup_fn lookup;         /* NULL: DNS (dns_lookup_sync) */
    void   *lookup_ctx;
    time_t  (*now) (void);              /* NULL: time(NULL) */
    unsigned long seed;                 /* shuffle seed; 0: from time/pid */
} smtp_addr_config;

typedef struct smtp_addr_resolver smtp_addr_resolver;

int     smtp_addr_parse_nexthop(const char *nexthop, int lmtp, int default_port,
                                smtp_nexthop *out, strbuf *err);
int     smtp_addr_parse_protocols(const char *const *items, size_t count,
                                  int *out, strbuf *err);
int     smtp_addr_parse_preference(const char *text, int *out, strbuf *err);
int     smtp_addr_parse_lookup(const char *const *items, size_t count,
                               int *out, strbuf *err);

smtp_addr_resolver *smtp_addr_resolver_new(const smtp_addr_config *cfg);
smtp_addr_resolver *smtp_addr_resolver_free(smtp_addr_resolver *res);
int     smtp_addr_resolve(smtp_addr_resolver *res, const smtp_nexthop *nh,
                          smtp_addr_list *out, strbuf *why);
size_t  smtp_addr_cache_count(const smtp_addr_resolver *res);

void    smtp_addr_list_init(smtp_addr_list *list);
void    smtp_addr_list_clear(smtp_addr_list *list);
int     smtp_addr_list_add(smtp_addr_list *list, const char *host,
                           const char *addr, int family, int port, int pref);

const char *smtp_addr_status_dsn(int status);
const char *smtp_addr_status_name(int status);

#endif
