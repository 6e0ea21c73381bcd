/*
 * fuzz_cfg: feed arbitrary bytes to the main.cf parser, the $name
 * expander and the main.cf editor (lib/util/cfg.c).
 *
 * Checked on every input that parses:
 *   - every entry's value expands (cfg_expand_name, lookups into the
 *     parsed file) or fails with a message and the output left empty;
 *     cfg_refs never crashes;
 *   - editing (set the first entry, remove the second, comment out the
 *     third) gives a text that parses again, where the first name has the
 *     new value, the second and third are gone, and every other entry
 *     keeps its value.
 * Inputs that do not parse must fail with a message.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cfg.h"
#include "strbuf.h"

int     LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* fuzz_check: abort when an invariant fails (libFuzzer reports it). */
static void fuzz_check(int ok)
{
    if (!ok)
        abort();
}

/* fuzz_lookup: expansion lookup into the parsed text. */
static const char *fuzz_lookup(const char *name, void *ctx)
{
    return cfg_get(ctx, name);
}

/* fuzz_ref: cfg_refs callback; names must be non-empty. */
static void fuzz_ref(const char *name, void *ctx)
{
    (void) ctx;
    fuzz_check(*name != 0);
}

/* LLVMFuzzerTestOneInput: one input. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cfg    *cf = cfg_new();
    cfg    *edited;
    strbuf *err = strbuf_new(64);
    strbuf *out = strbuf_new(64);
    cfg_edit edits[3];
    size_t  nedits, i;

    if (cfg_parse_text(cf, (const char *) data, size, "fuzz", err) < 0) {
        fuzz_check(err->len > 0);
        goto done;
    }
    for (i = 0; i < cfg_count(cf); i++) {
        const cfg_entry *e = cfg_entry_at(cf, i);

        strbuf_reset(out);
        strbuf_reset(err);
        if (cfg_expand_name(e->name, fuzz_lookup, cf, out, err) < 0)
            fuzz_check(err->len > 0 && out->len == 0);
        (void) cfg_refs(e->value, fuzz_ref, NULL);
    }

    nedits = cfg_count(cf) < 3 ? cfg_count(cf) : 3;
    for (i = 0; i < nedits; i++) {
        edits[i].op = i == 0 ? CFG_EDIT_SET : i == 1 ? CFG_EDIT_REMOVE : CFG_EDIT_COMMENT;
        edits[i].name = cfg_entry_at(cf, i)->name;
        edits[i].value = i == 0 ? "new value" : NULL;
    }
    fuzz_check(cfg_edit_text((const char *) data, size, "fuzz", edits, nedits, out, err) == 0);
    edited = cfg_new();
    fuzz_check(cfg_parse_text(edited, out->data, out->len, "edited", err) == 0);
    for (i = 0; i < cfg_count(cf); i++) {
        const cfg_entry *e = cfg_entry_at(cf, i);
        const char *now = cfg_get(edited, e->name);

        if (i == 0)
            fuzz_check(now != NULL && strcmp(now, "new value") == 0);
        else if (i < nedits)
            fuzz_check(now == NULL);
        else
            fuzz_check(now != NULL && strcmp(now, e->value) == 0);
    }
    fuzz_check(cfg_count(edited) == cfg_count(cf) - (nedits > 1 ? nedits - 1 : 0));
    cfg_free(edited);

done:
    cfg_free(cf);
    strbuf_free(err);
    strbuf_free(out);
    return 0;
}
