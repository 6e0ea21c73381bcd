/*
 * cidr: lists of IPv4 and IPv6 addresses and networks, and matching a
 * client address against them (mynetworks, event-limit exceptions,
 * permit_mynetworks).
 *
 * Public functions:
 *   cidr_list_parse(list, err): parse "127.0.0.0/8, [::1]/128 10.1.2.3
 *     2001:db8::/32". Items are separated by commas and/or white space;
 *     an IPv6 item may be bracketed ("[::1]/128", "[2001:db8::]/32") or
 *     bare ("::1/128"); a bare address is a host (/32, /128). Host bits
 *     set beyond the prefix ("10.1.2.3/8") are accepted and ignored, as
 *     Postfix does after a warning-free mask. Returns a new list (empty
 *     for an empty string) that the caller frees with cidr_list_free, or
 *     NULL with err set ("cidr: bad network \"x\": why") when any item is
 *     malformed: a half-parsed list is never used.
 *   cidr_list_match(cl, addr): 1 when the textual address addr ("1.2.3.4",
 *     "::1", "[::1]", "::ffff:1.2.3.4") lies in one of the networks, else
 *     0 (also for NULL, empty or unparsable addresses). An IPv4-mapped
 *     IPv6 address also matches IPv4 networks.
 *   cidr_list_count(cl): number of networks in the list.
 *   cidr_list_free(cl): frees the list; returns NULL. NULL is fine.
 *   cidr_pattern_valid(pattern, err): 0 when one item parses, -1 with err.
 *
 * SECURITY: addresses come from the network peer and patterns from
 * main.cf; both are parsed with inet_pton after a bounded copy, never
 * trusted for length. Nothing here logs or exits.
 * LIMITS: one item up to CIDR_ITEM_MAX bytes; at most CIDR_LIST_MAX
 * items per list.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "cidr.h"
#include "mem.h"
#include "numparse.h"
#include "strbuf.h"
#include "strutil.h"

#define CIDR_ITEM_MAX   128
#define CIDR_LIST_MAX   10000

typedef struct cidr_net {
    int     family;                     /* AF_INET or AF_INET6 */
    unsigned char addr[16];             /* network, host bits cleared */
    int     bits;                       /* prefix length */
} cidr_net;

struct cidr_list {
    cidr_net *nets;
    size_t  count;
};

/* cidr_mask: clear the bits of addr beyond the first bits. */
static void cidr_mask(unsigned char *addr, int len, int bits)
{
    int     i;

    for (i = 0; i < len; i++) {
        int     keep = bits - i * 8;

        if (keep >= 8)
            continue;
        if (keep <= 0)
            addr[i] = 0;
        else
            addr[i] &= (unsigned char) (0xff << (8 - keep));
    }
}

/* cidr_parse_addr: textual address (bracketed or not) to family+bytes. */
static int cidr_parse_addr(const char *text, size_t len, int *family,
                           unsigned char *out)
{
    char    buf[CIDR_ITEM_MAX];

    if (len >= 2 && text[0] == '[' && text[len - 1] == ']') {
        text++;
        len -= 2;
        if (len == 0 || len >= sizeof(buf))
            return -1;
        memcpy(buf, text, len);
        buf[len] = 0;
        if (strchr(buf, ':') == NULL)
            return -1;                  /* brackets are for IPv6 only */
    } else {
        if (len == 0 || len >= sizeof(buf))
            return -1;
        memcpy(buf, text, len);
        buf[len] = 0;
    }
    if (strchr(buf, '%') != NULL)       /* zone ids: not for access lists */
        return -1;
    if (strchr(buf, ':') != NULL) {
        *family = AF_INET6;
        return inet_pton(AF_INET6, buf, out) == 1 ? 0 : -1;
    }
    *family = AF_INET;
    return inet_pton(AF_INET, buf, out) == 1 ? 0 : -1;
}

/* cidr_parse_item: one "addr[/bits]" item; -1 with err on error. */
static int cidr_parse_item(const char *item, cidr_net *net, strbuf *err)
{
    size_t  len = strlen(item);
    const char *slash;
    size_t  alen;
    long    bits;
    int     max;

    if (len >= CIDR_ITEM_MAX) {
        if (err)
            strbuf_setf(err, "cidr: network pattern too long (%zu bytes)", len);
        return -1;
    }
    slash = strrchr(item, '/');
    /* A slash inside brackets ("[::1/128]") is not a prefix separator. */
    if (slash != NULL && item[0] == '[' && strchr(slash, ']') != NULL)
        slash = NULL;
    alen = slash ? (size_t) (slash - item) : len;
    memset(net, 0, sizeof(*net));
    if (cidr_parse_addr(item, alen, &net->family, net->addr) < 0) {
        if (err)
            strbuf_setf(err, "cidr: bad network address in \"%s\"", item);
        return -1;
    }
    max = net->family == AF_INET ? 32 : 128;
    if (slash == NULL) {
        net->bits = max;
    } else {
        if (slash[1] < '0' || slash[1] > '9'
            || num_parse_long(slash + 1, 0, max, &bits) < 0) {
            if (err)
                strbuf_setf(err, "cidr: bad prefix length in \"%s\" (use 0..%d)",
                            item, max);
            return -1;
        }
        net->bits = (int) bits;
    }
    cidr_mask(net->addr, max / 8, net->bits);
    return 0;
}

/* cidr_pattern_valid: does one pattern parse? */
int     cidr_pattern_valid(const char *pattern, strbuf *err)
{
    cidr_net net;

    return cidr_parse_item(pattern, &net, err);
}

/* cidr_list_parse: parse a whole list; NULL with err on any bad item. */
cidr_list *cidr_list_parse(const char *list, strbuf *err)
{
    cidr_list *cl = mem_calloc(1, sizeof(*cl));
    size_t  cap = 0;
    char   *copy = mem_strdup(list ? list : "");
    char   *cursor = copy;
    char   *item;

    while ((item = str_token(&cursor, ", \t\r\n")) != NULL) {
        if (cl->count >= CIDR_LIST_MAX) {
            if (err)
                strbuf_setf(err, "cidr: more than %d networks in one list",
                            CIDR_LIST_MAX);
            mem_free(copy);
            return cidr_list_free(cl);
        }
        if (cl->count == cap) {
            cap = cap ? cap * 2 : 8;
            cl->nets = mem_realloc(cl->nets, cap * sizeof(cidr_net));
        }
        if (cidr_parse_item(item, &cl->nets[cl->count], err) < 0) {
            mem_free(copy);
            return cidr_list_free(cl);
        }
        cl->count++;
    }
    mem_free(copy);
    return cl;
}

/* cidr_net_match: does the address (family, bytes) fall in net? */
static int cidr_net_match(const cidr_net *net, int family,
                          const unsigned char *addr)
{
    unsigned char tmp[16];
    int     len = family == AF_INET ? 4 : 16;

    if (net->family != family)
        return 0;
    memcpy(tmp, addr, (size_t) len);
    cidr_mask(tmp, len, net->bits);
    return memcmp(tmp, net->addr, (size_t) len) == 0;
}

/* cidr_list_match: is addr in one of the list's networks? */
int     cidr_list_match(const cidr_list *cl, const char *addr)
{
    static const unsigned char v4mapped[12] = {
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff
    };
    unsigned char bytes[16];
    int     family;
    int     mapped;
    size_t  i;

    if (cl == NULL || addr == NULL
        || cidr_parse_addr(addr, strlen(addr), &family, bytes) < 0)
        return 0;
    mapped = family == AF_INET6 && memcmp(bytes, v4mapped, 12) == 0;
    for (i = 0; i < cl->count; i++) {
        if (cidr_net_match(&cl->nets[i], family, bytes))
            return 1;
        if (mapped && cidr_net_match(&cl->nets[i], AF_INET, bytes + 12))
            return 1;
    }
    return 0;
}

/* cidr_list_count: number of networks. */
size_t  cidr_list_count(const cidr_list *cl)
{
    return cl ? cl->count : 0;
}

/* cidr_list_free: free a list; returns NULL. */
cidr_list *cidr_list_free(cidr_list *cl)
{
    if (cl == NULL)
        return NULL;
    mem_free(cl->nets);
    return mem_free(cl);
}
