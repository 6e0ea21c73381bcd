/*
 * fuzz_addr: feed arbitrary bytes to the envelope address parser (all
 * modes, with and without SMTPUTF8), the ESMTP parameter and xtext code,
 * and the header address-list splitter.
 *
 * Checked on every input:
 *   - addr_parse never crashes; on success rest is within the input, and
 *     the internal form survives internal -> external -> internal, and
 *     "<external>" parses again in strict mode to the same internal form
 *     (our quoting is never longer than what we accepted);
 *   - on failure there is a reason and the output is empty;
 *   - the ESMTP parameters after the address parse or fail cleanly, each
 *     entry lies inside the input, and a value that xtext-decodes
 *     re-encodes and decodes to the same bytes;
 *   - addr_split_local rebuilds the local part from user + delimiter + ext;
 *   - hdr_addr_parse reports spans inside the value, internal forms free of
 *     CR, LF and NUL that survive internal -> external -> internal, and
 *     addresses not marked invalid that parse as envelope addresses.
 * The first input byte picks the flags; the rest is the text.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "hdr_addr.h"
#include "mem.h"
#include "strbuf.h"

int     LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* fuzz_check: abort when an invariant fails (libFuzzer reports it). */
static void fuzz_check(int ok)
{
    if (!ok)
        abort();
}

/* fuzz_round_trip: internal -> external -> internal gives internal. */
static void fuzz_round_trip(const char *internal, strbuf *ext, strbuf *back)
{
    fuzz_check(addr_internal_to_external(internal, ext) == 0);
    fuzz_check(addr_external_to_internal(ext->data, ext->len, back) == 0);
    fuzz_check(strcmp(back->data, internal) == 0);
}

/* fuzz_params: parse the parameters after an address. */
static void fuzz_params(const char *text, size_t len, int flags,
                        strbuf *dec, strbuf *enc, strbuf *dec2)
{
    addr_param params[4];
    size_t  count, i;
    const char *why;
    char   *keyword;

    if (addr_params_parse(text, len, flags, params, 4, &count, &why) < 0) {
        fuzz_check(why != NULL);
        return;
    }
    fuzz_check(count <= 4);
    for (i = 0; i < count; i++) {
        const addr_param *p = params + i;

        fuzz_check(p->keyword >= text && p->keyword + p->keyword_len <= text + len);
        fuzz_check(p->keyword_len > 0);
        /* Keywords are unique, so a lookup finds this very entry. */
        keyword = mem_strndup(p->keyword, p->keyword_len);
        fuzz_check(addr_params_find(params, count, keyword) == p);
        mem_free(keyword);
        if (p->value == NULL)
            continue;
        fuzz_check(p->value >= text && p->value + p->value_len <= text + len);
        fuzz_check(p->value_len > 0);
        if (addr_xtext_decode(p->value, p->value_len, dec) == 0) {
            fuzz_check(addr_xtext_encode(dec->data, dec->len, enc) == 0);
            fuzz_check(addr_xtext_decode(enc->data, enc->len, dec2) == 0);
            fuzz_check(dec2->len == dec->len
                       && memcmp(dec2->data, dec->data, dec->len) == 0);
        }
    }
}

/* fuzz_split: user + delimiter + ext rebuilds the local part. */
static void fuzz_split(const char *internal, strbuf *user, strbuf *ext)
{
    size_t  llen = addr_local_len(internal);
    int     flags;
    int     ret;

    for (flags = 0; flags <= ADDR_SPLIT_OWNER_REQUEST; flags++) {
        ret = addr_split_local(internal, llen, "+-=", flags, user, ext);
        fuzz_check(ret >= 0);
        if (ret == 0) {
            fuzz_check(user->len == llen && ext->len == 0);
        } else {
            fuzz_check(user->len > 0 && user->len + 1 + ext->len == llen);
            fuzz_check(memcmp(user->data, internal, user->len) == 0);
            fuzz_check(internal[user->len] == ret);
            fuzz_check(memcmp(ext->data, internal + user->len + 1, ext->len) == 0);
        }
    }
}

/* fuzz_envelope: one addr_parse mode. */
static void fuzz_envelope(const char *text, size_t len, int flags, strbuf **sb)
{
    size_t  rest;
    const char *why;
    char   *again;
    char   *copy;

    if (addr_parse(text, len, flags, sb[0], &rest, &why) < 0) {
        fuzz_check(why != NULL && sb[0]->len == 0);
        return;
    }
    fuzz_check(why == NULL && rest <= len);
    fuzz_check(strlen(sb[0]->data) == sb[0]->len);
    fuzz_round_trip(sb[0]->data, sb[1], sb[2]);

    /* "<external>" parses again, strictly, to the same internal form. */
    again = mem_alloc(sb[1]->len + 3);
    again[0] = '<';
    memcpy(again + 1, sb[1]->data, sb[1]->len);
    again[sb[1]->len + 1] = '>';
    again[sb[1]->len + 2] = 0;
    fuzz_check(addr_parse(again, sb[1]->len + 2, flags | ADDR_F_STRICT, sb[3],
                          NULL, &why) == 0);
    fuzz_check(strcmp(sb[3]->data, sb[0]->data) == 0);
    mem_free(again);

    fuzz_params(text + rest, len - rest, flags, sb[1], sb[2], sb[3]);
    fuzz_split(sb[0]->data, sb[1], sb[2]);

    copy = mem_strdup(sb[0]->data);
    addr_fold_domain(copy);
    fuzz_check(strlen(copy) == sb[0]->len);
    if (addr_domain_of(copy) != NULL)
        fuzz_check(addr_check_domain(addr_domain_of(copy),
                                     strlen(addr_domain_of(copy)), flags) == NULL);
    mem_free(copy);
}

/* fuzz_header: the header splitter. */
static void fuzz_header(const char *text, size_t len, size_t max, int flags,
                        strbuf **sb)
{
    hdr_addr_list *list = hdr_addr_parse(text, len, max, flags);
    const char *why;
    size_t  i, rest;

    fuzz_check(list->count <= max);
    fuzz_check(hdr_addr_strerror(list->errors) != NULL);
    for (i = 0; i < list->count; i++) {
        const hdr_addr_item *it = list->items + i;

        fuzz_check(it->start < it->end && it->end <= len);
        fuzz_check(i == 0 || list->items[i - 1].end <= it->start);
        fuzz_check(strpbrk(it->addr, "\r\n") == NULL);
        fuzz_check(*it->addr != 0);
        fuzz_round_trip(it->addr, sb[1], sb[2]);
        if ((it->flags & HDR_ADDR_INVALID) == 0) {
            fuzz_check(addr_parse(sb[1]->data, sb[1]->len,
                                  ADDR_F_LOCAL_OK | (flags & ADDR_F_SMTPUTF8),
                                  sb[3], &rest, &why) == 0);
            fuzz_check(rest == sb[1]->len);
            fuzz_check(strcmp(sb[3]->data, it->addr) == 0);
        }
    }
    hdr_addr_list_free(list);
}

/* LLVMFuzzerTestOneInput: one fuzz input. */
int     LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const int modes[4] = {
        ADDR_F_STRICT, ADDR_F_STRICT | ADDR_F_SMTPUTF8, 0, ADDR_F_SMTPUTF8,
    };
    strbuf *sb[4];
    const char *text;
    size_t  len, i;
    int     extra;

    if (size < 1)
        return 0;
    /* Bits 0-2 of the first byte: NULL_OK, LOCAL_OK, POSTMASTER. */
    extra = ((data[0] & 1) ? ADDR_F_NULL_OK : 0)
        | ((data[0] & 2) ? ADDR_F_LOCAL_OK : 0)
        | ((data[0] & 4) ? ADDR_F_POSTMASTER : 0);
    text = (const char *) data + 1;
    len = size - 1;
    for (i = 0; i < 4; i++)
        sb[i] = strbuf_new(64);

    for (i = 0; i < 4; i++)
        fuzz_envelope(text, len, modes[i] | extra, sb);
    /* ASCII is always well-formed UTF-8. */
    for (i = 0; i < len && (unsigned char) text[i] < 0x80; i++)
         /* void */ ;
    fuzz_check(i < len || addr_valid_utf8(text, len) == 1);
    fuzz_header(text, len, (data[0] & 8) ? 3 : 256,
                (data[0] & 16) ? ADDR_F_SMTPUTF8 : 0, sb);

    for (i = 0; i < 4; i++)
        strbuf_free(sb[i]);
    return 0;
}
