/*
 * fuzz_attr: feed arbitrary bytes to attr_decode, the way a server reads
 * requests from a less privileged peer.
 *
 * Checked on every input:
 *   - decoding returns 1, 0 or -1, never crashes, and -1 comes with an
 *     error text while 0 and -1 leave the list empty;
 *   - whatever decodes re-encodes to exactly the bytes consumed (each
 *     value has one encoding), and decoding that gives the same list;
 *   - every prefix-decoding answer agrees: a prefix of an accepted
 *     message is never rejected;
 *   - attr_scan on the result never crashes.
 * The limits are small so that the limit paths are reached often; the
 * first input byte picks among a few limit sets.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "attr.h"
#include "attr_names.h"
#include "mem.h"
#include "msg.h"
#include "strbuf.h"

int     LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const attr_limits fuzz_limits[4] = {
    {16, 256, 4096},
    {2, 8, 64},
    {0, 0, 1},
    {1000, 100000, 1000000},
};

/* fuzz_same: two lists are equal. */
static int fuzz_same(const attr_list *a, const attr_list *b)
{
    size_t  i;

    if (a->count != b->count)
        return 0;
    for (i = 0; i < a->count; i++)
        if (strcmp(a->items[i].name, b->items[i].name) != 0
            || a->items[i].len != b->items[i].len
            || memcmp(a->items[i].value, b->items[i].value, a->items[i].len) != 0)
            return 0;
    return 1;
}

/* LLVMFuzzerTestOneInput: one decode/encode/decode round. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static attr_list *list;
    static attr_list *again;
    static strbuf *err;
    static strbuf *enc;
    const attr_limits *limits;
    const char *buf;
    size_t  consumed = 0;
    size_t  consumed2 = 0;
    int     ret;
    const char *s1 = NULL;
    const char *d1 = NULL;
    size_t  dlen = 0;
    long    n1 = 0;
    attr_spec specs[] = {
        ATTR_SPEC_STR(ATTR_NAME_SENDER, 0, &s1),
        ATTR_SPEC_LONG(ATTR_NAME_SIZE, 1, 0, 1000000, &n1),
        ATTR_SPEC_DATA(ATTR_NAME_REASON, 0, &d1, &dlen),
    };

    if (list == NULL) {
        msg_init("fuzz_attr", 0);
        list = attr_list_new();
        again = attr_list_new();
        err = strbuf_new(128);
        enc = strbuf_new(1024);
    }
    if (size == 0)
        return 0;
    limits = &fuzz_limits[data[0] % 4];
    buf = (const char *) data + 1;
    size--;

    strbuf_reset(err);
    ret = attr_decode(buf, size, limits, list, &consumed, err);
    if (ret == -1 && err->len == 0)
        abort();
    if (ret != 1) {
        if (list->count != 0 || (ret != 0 && ret != -1))
            abort();
        return 0;
    }
    if (consumed == 0 || consumed > size || consumed > limits->max_message)
        abort();

    /* The one encoding: re-encoding gives back exactly the input. */
    strbuf_reset(enc);
    if (attr_encode(enc, list) < 0)
        abort();
    if (enc->len != consumed || memcmp(enc->data, buf, consumed) != 0)
        abort();
    if (attr_decode(enc->data, enc->len, limits, again, &consumed2, err) != 1
        || consumed2 != enc->len || !fuzz_same(list, again))
        abort();

    /* Any proper prefix of an accepted message is incomplete, not bad. */
    if (attr_decode(buf, consumed - 1, limits, again, &consumed2, err) != 0)
        abort();
    if (consumed > 2
        && attr_decode(buf, consumed / 2, limits, again, &consumed2, err) != 0)
        abort();

    (void) attr_scan(list, specs, (int) (sizeof(specs) / sizeof(specs[0])), err);
    return 0;
}
