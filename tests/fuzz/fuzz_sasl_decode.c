/*
 * fuzz_sasl_decode: feed arbitrary bytes to the AUTH argument splitter
 * and the strict base64 decoder that smtpd uses on AUTH input.
 *
 * The input is one AUTH argument ("MECH [initial-response]"). Checked on
 * every input:
 *   - sasl_server_auth_args never crashes; on success the mechanism is
 *     1..20 characters of [A-Z0-9-_] and the response, when there is one,
 *     lies inside the input;
 *   - sasl_server_decode64 never writes more than its bound, and what it
 *     accepts re-encodes to exactly the input (strict, canonical);
 *   - any byte string survives encode + decode unchanged.
 */
#include <ctype.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sasl_server.h"
#include "strbuf.h"

int     LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* fuzz_check: abort when an invariant fails (libFuzzer reports it). */
static void fuzz_check(int ok)
{
    if (!ok)
        abort();
}

/* LLVMFuzzerTestOneInput: one AUTH argument. */
int     LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *in = (const char *) data;
    strbuf *mech = strbuf_new(32);
    strbuf *dec = strbuf_new(64);
    strbuf *enc = strbuf_new(64);
    const char *resp = NULL;
    size_t  resp_len = 0, i, max = size % 97;

    if (sasl_server_auth_args(in, size, mech, &resp, &resp_len) == 0) {
        fuzz_check(mech->len >= 1 && mech->len <= 20);
        for (i = 0; i < mech->len; i++) {
            unsigned char c = (unsigned char) mech->data[i];

            fuzz_check(isupper(c) || isdigit(c) || c == '-' || c == '_');
        }
        if (resp != NULL) {
            fuzz_check(resp > in && resp + resp_len == in + size && resp_len > 0);
            if (sasl_server_decode64(resp, resp_len, dec, SASL_SERVER_DATA_MAX) == 0) {
                sasl_server_encode64(dec->data, dec->len, enc);
                fuzz_check(enc->len == resp_len && memcmp(enc->data, resp, resp_len) == 0);
            }
        }
    }
    /* The whole input as base64, with a small bound. */
    if (sasl_server_decode64(in, size, dec, max) == 0) {
        fuzz_check(dec->len <= max);
        sasl_server_encode64(dec->data, dec->len, enc);
        fuzz_check(enc->len == size && memcmp(enc->data, in, size) == 0);
    }
    /* Any bytes round-trip. */
    sasl_server_encode64(data, size, enc);
    fuzz_check(sasl_server_decode64(enc->data, enc->len, dec, size) == 0);
    fuzz_check(dec->len == size && memcmp(dec->data, data, size) == 0);
    strbuf_free(mech);
    strbuf_free(dec);
    strbuf_free(enc);
    return 0;
}
