/*
 * fuzz_regexp: feed arbitrary bytes to the regexp: table parser
 * (dict_regexp_parse_mem in lib/util/dict_regexp.c), then look up a few
 * keys in every table that parses.
 *
 * Checked on every input:
 *   - a table that does not parse comes with an error that names the
 *     origin ("fuzz, line N: ..." or "fuzz: ...");
 *   - lookups answer DICT_FOUND (value at most DICT_VALUE_MAX bytes),
 *     DICT_NOTFOUND (value empty) or DICT_RETRY (error set, value empty);
 *   - the same lookup twice gives the same answer.
 * Keys: a few fixed ones, and the first input line (at most 64 bytes, up
 * to the first NUL) so that patterns can match what the fuzzer wrote.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dict.h"
#include "dict_regexp.h"
#include "strbuf.h"

int     LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* fuzz_check: abort when an invariant fails (libFuzzer reports it). */
static void fuzz_check(int ok)
{
    if (!ok)
        abort();
}

/* fuzz_lookup: one key, twice, with the invariants above. */
static void fuzz_lookup(dict *d, const char *key, strbuf *v1, strbuf *v2)
{
    int     rc = dict_get(d, key, v1);

    fuzz_check(rc == DICT_FOUND || rc == DICT_NOTFOUND || rc == DICT_RETRY);
    if (rc == DICT_FOUND)
        fuzz_check(v1->len <= DICT_VALUE_MAX);
    else
        fuzz_check(v1->len == 0);
    if (rc == DICT_RETRY)
        fuzz_check(*dict_error(d) != 0);
    fuzz_check(dict_get(d, key, v2) == rc);
    fuzz_check(v1->len == v2->len && memcmp(v1->data, v2->data, v1->len) == 0);
}

/* LLVMFuzzerTestOneInput: one input. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const keys[] = {
        "", "a", "user@example.com", "postmaster@example.com", "AbC\nxyz",
    };
    strbuf *err = strbuf_new(64);
    strbuf *v1 = strbuf_new(64);
    strbuf *v2 = strbuf_new(64);
    char    first[65];
    size_t  n;
    size_t  i;
    dict   *d;

    d = dict_regexp_parse_mem((const char *) data, size, "fuzz", 0, err);
    if (d == NULL) {
        fuzz_check(strncmp(err->data, "fuzz", 4) == 0 && err->len > 4);
    } else {
        for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
            fuzz_lookup(d, keys[i], v1, v2);
        for (n = 0; n < size && n < sizeof(first) - 1 && data[n] != '\n' && data[n] != 0; n++)
            first[n] = (char) data[n];
        first[n] = 0;
        fuzz_lookup(d, first, v1, v2);
        fuzz_check(dict_close(d) == NULL);
    }
    strbuf_free(err);
    strbuf_free(v1);
    strbuf_free(v2);
    return 0;
}
