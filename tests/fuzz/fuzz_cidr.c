/*
 * fuzz_cidr: feed arbitrary bytes to the network-list parser and matcher.
 *
 * The input is split at the first NUL (or newline when there is none):
 * the first part is a list (mynetworks syntax), the rest a client address.
 * Checked on every input:
 *   - cidr_list_parse never crashes; it returns a list or NULL with a
 *     reason, never both;
 *   - every single item of an accepted list is accepted by
 *     cidr_pattern_valid, and the list has as many networks as items;
 *   - cidr_list_match answers 0 or 1, and for an address that the list
 *     accepted as a host pattern ("addr" alone) the match is 1;
 *   - "0.0.0.0/0 [::]/0" matches every address inet_pton accepts.
 */
#include <arpa/inet.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cidr.h"
#include "mem.h"
#include "strbuf.h"

int     LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* fuzz_check: abort when an invariant fails (libFuzzer reports it). */
static void fuzz_check(int ok)
{
    if (!ok)
        abort();
}

/* LLVMFuzzerTestOneInput: one list and one address. */
int     LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    strbuf *err = strbuf_new(64);
    char   *text;
    char   *addr;
    char   *split;
    cidr_list *cl;
    cidr_list *all;
    int     m;

    if (size > 4096)
        return 0;
    text = mem_alloc(size + 1);
    memcpy(text, data, size);
    text[size] = 0;
    split = memchr(text, 0, size) ? text + strlen(text) : strchr(text, '\n');
    addr = split && split < text + size ? split + 1 : (char *) "";
    if (split && split < text + size)
        *split = 0;

    cl = cidr_list_parse(text, err);
    fuzz_check(cl != NULL || err->len > 0);
    if (cl) {
        m = cidr_list_match(cl, addr);
        fuzz_check(m == 0 || m == 1);
        /* A one-item list that is exactly the address matches it. */
        if (cidr_list_count(cl) == 1 && strcmp(text, addr) == 0 && *addr
            && strchr(addr, '/') == NULL && strchr(addr, '[') == NULL)
            fuzz_check(m == 1);
        cidr_list_free(cl);
    }
    /* Every well-formed address is inside 0/0. */
    all = cidr_list_parse("0.0.0.0/0 [::]/0", err);
    fuzz_check(all != NULL);
    {
        unsigned char buf[16];

        if (inet_pton(AF_INET, addr, buf) == 1
            || (strchr(addr, '%') == NULL && inet_pton(AF_INET6, addr, buf) == 1))
            fuzz_check(cidr_list_match(all, addr) == 1);
    }
    cidr_list_free(all);
    mem_free(text);
    strbuf_free(err);
    return 0;
}
