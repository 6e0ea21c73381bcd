/*
 * resolve: recipient resolution, the answer to "which transport delivers
 * this address, to which next hop, as which recipient".
 *
 * Order of work for one recipient (see resolve.c for the details):
 *   1. the class from the domain: LOCAL (no domain, mydestination,
 *      localhost, or [address] literal of inet_interfaces), VIRTUAL_ALIAS
 *      (virtual_alias_domains), VIRTUAL (virtual_mailbox_domains), RELAY
 *      (relay_domains), else DEFAULT; each class names its transport
 *      (local_transport, error, virtual_transport, relay_transport,
 *      default_transport) and the nexthop that transport's value carries
 *      ("smtp:[gw]" gives nexthop "[gw]"), LOCAL defaulting to $myhostname;
 *   2. relayhost for RELAY and DEFAULT when no nexthop came from step 1,
 *      sender_dependent_relayhost_maps (sender, then @domain) overriding it;
 *   3. transport_maps (Postfix transport(5) order: user@domain, domain,
 *      .parent for each parent domain, "*"); "transport:nexthop" with an
 *      empty part keeping the result so far, "error:text", "discard:text";
 *      a nexthop given by the table wins over relayhost. Not consulted for
 *      VIRTUAL_ALIAS (that mail is unknown, it bounces).
 *   Domains compare case-insensitively; a trailing dot is ignored.
 *
 *   resolve_result_init(r) / resolve_result_free(r): set up and release
 *     the strbufs of a result (a caller-owned struct, reused across calls).
 *   resolve_addr(sender, rcpt, out, err): fills out. Returns RESOLVE_OK,
 *     RESOLVE_RETRY (a lookup table failed: err says which; the caller
 *     defers the recipient "4.3.0 ... lookup failed") or RESOLVE_ERROR (bad
 *     configuration, e.g. an unparsable table name or transport: err says
 *     what). sender may be "" (null sender) or NULL.
 *   resolve_reset(): forget the tables opened from the configuration
 *     (tests change parameters between calls; daemons never need it).
 */
#ifndef POSTERN_RESOLVE_H
#define POSTERN_RESOLVE_H

#include "strbuf.h"

/* Return values of resolve_addr. */
#define RESOLVE_OK      0
#define RESOLVE_RETRY   1
#define RESOLVE_ERROR   (-1)

/* Address classes. */
enum resolve_class {
    RESOLVE_CLASS_LOCAL = 1,
    RESOLVE_CLASS_VIRTUAL_ALIAS,
    RESOLVE_CLASS_VIRTUAL,
    RESOLVE_CLASS_RELAY,
    RESOLVE_CLASS_DEFAULT
};

/* Result flags. */
#define RESOLVE_F_ROUTED    (1 << 0)    /* transport_maps matched */
#define RESOLVE_F_RELAYHOST (1 << 1)    /* nexthop from (sender dependent)
                                         * relayhost */

/* Transport names the resolver itself produces. */
#define RESOLVE_TRANSPORT_ERROR     "error"
#define RESOLVE_TRANSPORT_DISCARD   "discard"

/* Reason for an unknown recipient in a virtual alias domain. */
#define RESOLVE_VALIAS_REASON   "5.1.1 User unknown in virtual alias table"

typedef struct resolve_result {
    strbuf *transport;                  /* master.cf service name */
    strbuf *nexthop;                    /* may be empty (transport default) */
    strbuf *recipient;                  /* the address to deliver to */
    enum resolve_class class;
    int     flags;                      /* RESOLVE_F_* */
} resolve_result;

void    resolve_result_init(resolve_result *r);
void    resolve_result_free(resolve_result *r);
int     resolve_addr(const char *sender, const char *rcpt, resolve_result *out,
                     strbuf *err);
const char *resolve_class_name(enum resolve_class class);
void    resolve_reset(void);

#endif
