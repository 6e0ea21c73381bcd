/*
 * fuzz_anvil: drive the anvil service logic (lib/mail/anvil_table) with
 * an arbitrary byte stream, the way anvil/anvil.c does: decode attribute
 * messages one after another and answer each with anvil_table_request,
 * on a tiny table (cap 4, 2-second windows) so that eviction, expiry and
 * the "table full" path all run. The first input byte moves the clock
 * forward between messages (its value times the message number).
 *
 * Checked on every input:
 *   - decoding and answering never crash or leak;
 *   - every reply has status=0 or status=1, status=1 always with a reason;
 *   - every counter in a reply is a non-negative decimal number;
 *   - the table never holds more than its cap;
 *   - the reply encodes (it always fits the protocol).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "anvil_table.h"
#include "attr.h"
#include "attr_names.h"
#include "numparse.h"
#include "strbuf.h"

#define FUZZ_CAP    4

int     LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* fuzz_check: abort when an invariant fails (libFuzzer reports it). */
static void fuzz_check(int ok)
{
    if (!ok)
        abort();
}

/* fuzz_counter: an optional counter must be a number >= 0 */
static void fuzz_counter(const attr_list *reply, const char *name)
{
    const char *val = attr_list_find(reply, name, NULL);
    long    n;

    if (val != NULL)
        fuzz_check(num_parse_long(val, 0, 1000000000L, &n) == 0);
}

/* LLVMFuzzerTestOneInput: one byte stream of requests */
int     LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const attr_limits lim = {8, 256, 4096};
    anvil_table *table = anvil_table_new(2, FUZZ_CAP);
    attr_list *req = attr_list_new();
    attr_list *reply = attr_list_new();
    strbuf *err = strbuf_new(64);
    strbuf *enc = strbuf_new(64);
    time_t  now = 1000000;
    size_t  off = 1;
    size_t  used;
    long    n = 0;
    const char *status;

    if (size == 0)
        goto done;
    while (off < size) {
        if (attr_decode((const char *) data + off, size - off, &lim, req, &used, err) != 1)
            break;
        off += used;
        now += (time_t) data[0] * (n++ % 3);
        (void) anvil_table_request(table, req, reply, now);
        status = attr_list_find(reply, ATTR_NAME_STATUS, NULL);
        fuzz_check(status != NULL);
        fuzz_check(strcmp(status, "0") == 0 || strcmp(status, "1") == 0);
        if (strcmp(status, "1") == 0)
            fuzz_check(attr_list_find(reply, ATTR_NAME_REASON, NULL) != NULL);
        fuzz_counter(reply, ATTR_NAME_COUNT);
        fuzz_counter(reply, ATTR_NAME_RATE);
        fuzz_counter(reply, ATTR_NAME_MSG_RATE);
        fuzz_counter(reply, ATTR_NAME_RCPT_RATE);
        fuzz_check(anvil_table_size(table) <= FUZZ_CAP);
        strbuf_reset(enc);
        fuzz_check(attr_encode(enc, reply) == 0);
        if (data[0] & 1)
            (void) anvil_table_expire(table, now);
    }
    strbuf_reset(enc);
    (void) anvil_table_stats(table, enc);

done:
    anvil_table_free(table);
    attr_list_free(req);
    attr_list_free(reply);
    strbuf_free(err);
    strbuf_free(enc);
    return (0);
}
