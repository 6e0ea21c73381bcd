/*
 * fuzz_dns_reply: DNS answer packets through dns_reply_parse (c-ares
 * parsers plus our bounded copies) for every record type we ask for, and
 * the DNS list reply filter parser.
 *
 * Input: byte 0 picks the record type (and, with bit 7 set, the filter
 * mode); the rest is the packet. In filter mode the rest is
 * "filter\0address".
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "dns.h"
#include "dnsbl.h"
#include "mem.h"
#include "strbuf.h"

int     LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* LLVMFuzzerTestOneInput: one packet or one filter. */
int     LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const int types[] = {DNS_T_A, DNS_T_AAAA, DNS_T_MX, DNS_T_TXT, DNS_T_PTR};
    dns_reply *reply;
    strbuf *err;
    size_t  i;

    if (size < 1)
        return 0;
    if (data[0] & 0x80) {
        /* "filter\0address": both parts copied as C strings. */
        const uint8_t *nul = memchr(data + 1, 0, size - 1);
        size_t  flen = nul ? (size_t) (nul - (data + 1)) : size - 1;
        char   *filter = mem_strndup((const char *) data + 1, flen);
        char   *addr = nul ? mem_strndup((const char *) nul + 1,
                                         size - 1 - flen - 1) : mem_strdup("127.0.0.2");

        (void) dnsbl_filter_match(filter, addr);
        (void) dnsbl_filter_match("127.0.0.[1..9]", filter);
        mem_free(addr);
        mem_free(filter);
        return 0;
    }
    reply = mem_alloc(sizeof(*reply));
    err = strbuf_new(64);
    if (dns_reply_parse(types[data[0] % 5], data + 1, size - 1, reply, err) == DNS_OK) {
        if (reply->count == 0 || reply->count > DNS_REPLY_MAX)
            __builtin_trap();
        for (i = 0; i < reply->count; i++) {
            size_t  n = strnlen(reply->rec[i].text, DNS_TEXT_MAX);
            size_t  j;

            if (n >= DNS_TEXT_MAX)
                __builtin_trap();
            for (j = 0; j < n; j++)
                if ((unsigned char) reply->rec[i].text[j] < 0x20
                    || (unsigned char) reply->rec[i].text[j] >= 0x7f)
                    __builtin_trap();
        }
    }
    strbuf_free(err);
    mem_free(reply);
    return 0;
}
