/*
 * dnsbl: DNS block list lookups for smtpd restrictions.
 *
 * Public functions:
 *   dnsbl_client(addr, list, hit, err): is the client address addr
 *     ("1.2.3.4", "2001:db8::1", v4-mapped v6 counts as v4) listed in
 *     list ("zen.example" or "zen.example=127.0.0.[2..11]")? Looks up
 *     the reversed address under the list's domain (A records). Returns
 *     DNS_OK (listed: hit holds only the A records that pass the filter,
 *     hit->name the name looked up), DNS_NOTFOUND (not listed, or no A
 *     record passes the filter), DNS_RETRY (temporary DNS trouble; err
 *     says what), DNS_INVALID (addr is not an address, or the list's
 *     domain or filter is malformed: a configuration error, err says
 *     which). hit is caller storage (sizeof(dns_reply)); err is set
 *     on every result other than DNS_OK.
 *   dnsbl_rhs(domain, list, hit, err): the same for a domain name (a
 *     sender's or the HELO name's domain) under a right-hand-side list:
 *     looks up "domain.list-domain". An empty, malformed or too long
 *     domain to check gives DNS_NOTFOUND (nothing that could be listed).
 *   dnsbl_text(hit, out): the TXT text published for a hit (first
 *     record, bounded, unsafe bytes as '?'), or "" when there is none or
 *     the lookup fails. Never fails.
 *   dnsbl_filter_match(filter, addr): 1 when the IPv4 text addr passes
 *     filter ("127.0.0.2", "127.0.0.[2..11]", "127.0.0.[2;4;8..9]"), 0
 *     when not, -1 when the filter or addr is malformed.
 *   dnsbl_query_name(addr, domain, out): the name to look up for addr
 *     under domain ("2.0.0.127.zen.example"; IPv6 as 32 nibbles). 0, or
 *     -1 for a bad address or a name over DNS_NAME_MAX.
 *
 * SECURITY: the client address comes from the kernel, the domain to check
 * from an SMTP client (checked by dns.c before any lookup), the list names
 * and filters from main.cf (checked here, errors returned). DNS answers are
 * untrusted: only their address text is compared, and TXT text is
 * sanitised by dns.c.
 * LIMITS: names bounded by DNS_NAME_MAX; replies by dns.h's bounds; each
 * lookup by DNS_DEFAULT_TIMEOUT_MS.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#include "dnsbl.h"
#include "mem.h"
#include "numparse.h"
#include "strutil.h"

/* dnsbl_octet_match: does value match one filter octet spec (len bytes)? */
static int dnsbl_octet_match(const char *spec, size_t len, long value)
{
    const char *item;
    const char *end;
    const char *dots;
    long    lo;
    long    hi;
    int     hit = 0;

    if (len == 0)
        return -1;
    if (spec[0] != '[') {
        if (num_parse_long_n(spec, len, 0, 255, &lo) < 0)
            return -1;
        return value == lo;
    }
    if (len < 3 || spec[len - 1] != ']')
        return -1;
    spec++;
    len -= 2;
    /* Items separated by ';', each N or N..M. */
    for (item = spec; item <= spec + len; item = end + 1) {
        end = memchr(item, ';', (size_t) (spec + len - item));
        if (end == NULL)
            end = spec + len;
        dots = NULL;
        for (const char *p = item; p + 1 < end; p++)
            if (p[0] == '.' && p[1] == '.') {
                dots = p;
                break;
            }
        if (dots) {
            if (num_parse_long_n(item, (size_t) (dots - item), 0, 255, &lo) < 0
                || num_parse_long_n(dots + 2, (size_t) (end - dots - 2), 0, 255, &hi) < 0
                || lo > hi)
                return -1;
        } else {
            if (num_parse_long_n(item, (size_t) (end - item), 0, 255, &lo) < 0)
                return -1;
            hi = lo;
        }
        if (value >= lo && value <= hi)
            hit = 1;
    }
    return hit;
}

/* dnsbl_filter_match: does an IPv4 text address pass a reply filter? */
int     dnsbl_filter_match(const char *filter, const char *addr)
{
    unsigned char bin[4];
    const char *p = filter;
    const char *end;
    int     octet;
    int     all = 1;
    int     r;

    if (filter == NULL || addr == NULL || inet_pton(AF_INET, addr, bin) != 1)
        return -1;
    for (octet = 0; octet < 4; octet++) {
        /* An octet ends at the '.' that follows it (outside brackets). */
        if (*p == '[') {
            end = strchr(p, ']');
            if (end == NULL)
                return -1;
            end++;
        } else {
            end = p + strcspn(p, ".");
        }
        if ((r = dnsbl_octet_match(p, (size_t) (end - p), bin[octet])) < 0)
            return -1;
        if (r == 0)
            all = 0;
        if (octet < 3) {
            if (*end != '.')
                return -1;
            p = end + 1;
        } else if (*end != 0) {
            return -1;
        }
    }
    return all;
}

/* dnsbl_query_name: the reversed-address name under domain. */
int     dnsbl_query_name(const char *addr, const char *domain, strbuf *out)
{
    static const char hex[] = "0123456789abcdef";
    static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    unsigned char bin[16];
    int     i;

    strbuf_reset(out);
    if (addr == NULL || domain == NULL)
        return -1;
    if (inet_pton(AF_INET, addr, bin) == 1) {
        strbuf_printf(out, "%u.%u.%u.%u.", bin[3], bin[2], bin[1], bin[0]);
    } else if (inet_pton(AF_INET6, addr, bin) == 1) {
        if (memcmp(bin, mapped, sizeof(mapped)) == 0) {
            strbuf_printf(out, "%u.%u.%u.%u.", bin[15], bin[14], bin[13], bin[12]);
        } else {
            for (i = 15; i >= 0; i--) {
                strbuf_putc(out, hex[bin[i] & 0xf]);
                strbuf_putc(out, '.');
                strbuf_putc(out, hex[bin[i] >> 4]);
                strbuf_putc(out, '.');
            }
        }
    } else {
        return -1;
    }
    strbuf_puts(out, domain);
    if (out->len > DNS_NAME_MAX + 1)
        return -1;
    return 0;
}

/* dnsbl_split: "domain=filter" into its parts; checks the filter. */
static int dnsbl_split(const char *list, strbuf *domain, const char **filter,
                       strbuf *err)
{
    const char *eq;

    if (list == NULL || *list == 0) {
        strbuf_setf(err, "empty DNS list name");
        return -1;
    }
    eq = strchr(list, '=');
    strbuf_set(domain, list, eq ? (size_t) (eq - list) : strlen(list));
    *filter = eq ? eq + 1 : NULL;
    if (dns_name_valid(strbuf_str(domain), err) < 0) {
        strbuf_setf(err, "bad DNS list domain in \"%.100s\"", list);
        return -1;
    }
    if (*filter && dnsbl_filter_match(*filter, "127.0.0.1") < 0) {
        strbuf_setf(err, "bad reply filter in DNS list \"%.100s\"", list);
        return -1;
    }
    return 0;
}

/* dnsbl_query: look up qname (A) and keep the records passing filter. */
static int dnsbl_query(const char *qname, const char *filter, dns_reply *hit,
                       strbuf *err)
{
    dns_reply *all = mem_alloc(sizeof(*all));
    size_t  i;
    int     status;

    status = dns_lookup_sync(qname, DNS_T_A, DNS_DEFAULT_TIMEOUT_MS, all, err);
    memset(hit, 0, sizeof(*hit));
    str_copy(hit->name, sizeof(hit->name), all->name);
    hit->type = DNS_T_A;
    if (status == DNS_OK) {
        for (i = 0; i < all->count; i++)
            if (filter == NULL || dnsbl_filter_match(filter, all->rec[i].text) == 1)
                hit->rec[hit->count++] = all->rec[i];
        if (hit->count == 0) {
            strbuf_setf(err, "%s: no reply passes the filter", qname);
            status = DNS_NOTFOUND;
        }
    } else if (status == DNS_INVALID) {
        /* Caught by the checks before; keep it out of the hit path. */
        status = DNS_NOTFOUND;
    }
    mem_free(all);
    return status;
}

/* dnsbl_client: is the client address listed? */
int     dnsbl_client(const char *addr, const char *list, dns_reply *hit,
                     strbuf *err)
{
    strbuf *domain = strbuf_new(64);
    strbuf *qname = strbuf_new(128);
    strbuf *check = strbuf_new(64);
    const char *filter;
    int     status;

    memset(hit, 0, sizeof(*hit));
    strbuf_reset(err);
    if (dnsbl_split(list, domain, &filter, err) < 0) {
        status = DNS_INVALID;
    } else if (dnsbl_query_name(addr, "x", check) < 0) {
        strbuf_setf(err, "bad client address \"%.60s\"", addr ? addr : "(null)");
        status = DNS_INVALID;
    } else if (dnsbl_query_name(addr, strbuf_str(domain), qname) < 0
               || strlen(strbuf_str(qname)) > DNS_NAME_MAX) {
        strbuf_setf(err, "DNS list domain too long in \"%.100s\"", list);
        status = DNS_INVALID;
    } else {
        status = dnsbl_query(strbuf_str(qname), filter, hit, err);
    }
    strbuf_free(check);
    strbuf_free(qname);
    strbuf_free(domain);
    return status;
}

/* dnsbl_rhs: is a domain listed in a right-hand-side list? */
int     dnsbl_rhs(const char *domain_to_check, const char *list, dns_reply *hit,
                  strbuf *err)
{
    strbuf *domain = strbuf_new(64);
    strbuf *qname = strbuf_new(128);
    const char *filter;
    size_t  len;
    int     status;

    memset(hit, 0, sizeof(*hit));
    strbuf_reset(err);
    if (dnsbl_split(list, domain, &filter, err) < 0) {
        status = DNS_INVALID;
    } else if (domain_to_check == NULL || (len = strlen(domain_to_check)) == 0
               || domain_to_check[0] == '[' || domain_to_check[0] == '.') {
        strbuf_setf(err, "no domain to check");
        status = DNS_NOTFOUND;
    } else {
        if (domain_to_check[len - 1] == '.')
            len--;
        strbuf_set(qname, domain_to_check, len);
        strbuf_printf(qname, ".%s", strbuf_str(domain));
        if (qname->len > DNS_NAME_MAX) {
            strbuf_setf(err, "name too long for the DNS list");
            status = DNS_NOTFOUND;
        } else {
            status = dnsbl_query(strbuf_str(qname), filter, hit, err);
        }
    }
    strbuf_free(qname);
    strbuf_free(domain);
    return status;
}

/* dnsbl_text: the TXT text for a hit, or "". */
void    dnsbl_text(const dns_reply *hit, strbuf *out)
{
    dns_reply *txt = mem_alloc(sizeof(*txt));
    strbuf *err = strbuf_new(64);

    strbuf_reset(out);
    if (hit && hit->name[0]
        && dns_lookup_sync(hit->name, DNS_T_TXT, DNS_DEFAULT_TIMEOUT_MS, txt, err) == DNS_OK
        && txt->count > 0)
        strbuf_puts(out, txt->rec[0].text);
    strbuf_free(err);
    mem_free(txt);
}
