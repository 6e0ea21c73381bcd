/*
 * dnsbl: DNS block list lookups for smtpd restrictions.
 *
 * A list is named "domain" or "domain=filter", where the filter says
 * which A replies count as a hit: "127.0.0.2", "127.0.0.[2..11]",
 * "127.0.0.[2;4;10..11]", "127.[0..255].0.2". Without a filter any A
 * reply is a hit. Each octet of the filter is N, [N..M] or [list of N or
 * N..M separated by ';'].
 *
 * Results are the dns.h codes: DNS_OK = listed (hit holds the matching A
 * records, hit->name the name looked up), DNS_NOTFOUND = not listed,
 * DNS_RETRY = could not tell now, DNS_INVALID = bad address, domain or
 * filter (err says which). See dnsbl.c for full contracts.
 */
#ifndef POSTERN_DNSBL_H
#define POSTERN_DNSBL_H

#include "dns.h"
#include "strbuf.h"

int     dnsbl_client(const char *addr, const char *domain, dns_reply *hit,
                     strbuf *err);
int     dnsbl_rhs(const char *domain_to_check, const char *rhsbl_domain,
                  dns_reply *hit, strbuf *err);
void    dnsbl_text(const dns_reply *hit, strbuf *out);
int     dnsbl_filter_match(const char *filter, const char *addr);
int     dnsbl_query_name(const char *addr, const char *domain, strbuf *out);

#endif
