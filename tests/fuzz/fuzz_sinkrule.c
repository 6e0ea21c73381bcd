/*
 * fuzz_sinkrule: the parts of the load tools that take outside text.
 *
 * Input: "PATTERN\nADDRESS\nREPLY...". The sink's recipient rules
 * (sinkrule) match ADDRESS (client data, any bytes) against fixed rules
 * and against PATTERN as an extra rule; the load generator's address
 * patterns (addrpat) check and expand PATTERN; its reply tally
 * (loadstat) counts the REPLY lines and reports them. Checked: a match
 * is one of the actions; an expansion is bounded and holds no '%' that
 * was not written as "%%"; every report line is one line.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "addrpat.h"
#include "loadstat.h"
#include "mem.h"
#include "sinkrule.h"
#include "strbuf.h"

int     LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* LLVMFuzzerTestOneInput: one input through the three modules. */
int     LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *p = (const char *) data;
    const char *end = p + size;
    const char *nl1 = memchr(p, '\n', size);
    const char *addr = nl1 ? nl1 + 1 : end;
    const char *nl2 = memchr(addr, '\n', (size_t) (end - addr));
    const char *rest = nl2 ? nl2 + 1 : end;
    char   *pattern = mem_strndup(p, (size_t) ((nl1 ? nl1 : end) - p));
    sinkrule_list *rules = sinkrule_list_new();
    loadstat *ls = loadstat_new();
    strbuf *err = strbuf_new(32);
    strbuf *out = strbuf_new(32);
    enum sinkrule_action act;
    size_t  addr_len = (size_t) ((nl2 ? nl2 : end) - addr);
    size_t  i;

    (void) sinkrule_add(rules, SINKRULE_REJECT, "*@reject.test", err);
    (void) sinkrule_add(rules, SINKRULE_DEFER, "[a-f]*", err);
    (void) sinkrule_add(rules, SINKRULE_DROP, pattern, err);
    act = sinkrule_match(rules, addr, addr_len);
    if (act != SINKRULE_ACCEPT && act != SINKRULE_REJECT && act != SINKRULE_DEFER
        && act != SINKRULE_DROP)
        abort();

    if (addrpat_check(pattern, err) == 0) {
        if (addrpat_expand(pattern, (unsigned long) size * 1000003UL, out) == 0) {
            if (out->len > ADDRPAT_MAX)
                abort();
            for (i = 0; i < out->len; i++)
                if ((unsigned char) out->data[i] < 0x21)
                    abort();
        }
    } else if (addrpat_expand(pattern, 1, out) != -1 || out->len != 0) {
        abort();
    }

    while (rest < end) {
        const char *nl = memchr(rest, '\n', (size_t) (end - rest));
        char   *line = mem_strndup(rest, (size_t) ((nl ? nl : end) - rest));

        loadstat_add_reply(ls, "dot", (int) (size % 600), line);
        loadstat_add_latency(ls, (double) strlen(line));
        mem_free(line);
        rest = nl ? nl + 1 : end;
    }
    strbuf_reset(out);
    loadstat_reply_report(ls, out);
    for (i = 0; i < out->len; i++) {
        unsigned char c = (unsigned char) out->data[i];

        if ((c < 0x20 && c != '\n') || c == 0x7f)
            abort();
    }
    {
        double  v;

        if (loadstat_count(ls) > 0 && loadstat_percentile(ls, 99, &v) != 0)
            abort();
    }

    strbuf_free(out);
    strbuf_free(err);
    loadstat_free(ls);
    sinkrule_list_free(rules);
    mem_free(pattern);
    return 0;
}
