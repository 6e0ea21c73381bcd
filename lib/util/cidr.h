/*
 * cidr: lists of IPv4/IPv6 addresses and networks, as main.cf writes
 * them for mynetworks and smtpd_client_event_limit_exceptions:
 * "127.0.0.0/8, [::1]/128, 192.0.2.7, 2001:db8::/32". Items are
 * separated by commas and/or white space. See cidr.c for the contracts.
 */
#ifndef POSTERN_CIDR_H
#define POSTERN_CIDR_H

#include "strbuf.h"

typedef struct cidr_list cidr_list;

cidr_list *cidr_list_parse(const char *list, strbuf *err);
int     cidr_list_match(const cidr_list *cl, const char *addr);
cidr_list *cidr_list_free(cidr_list *cl);
size_t  cidr_list_count(const cidr_list *cl);

/* One pattern ("1.2.3.0/24", "[::1]/128", "10.1.2.3"); 0 ok, -1 bad
 * (err says why). Exposed for tests and for postconf-style checks. */
int     cidr_pattern_valid(const char *pattern, strbuf *err);

#endif
