/*
 * fuzz_header: feed arbitrary bytes to the header block reader.
 *
 * Checked on every input (with limits picked by the first two bytes):
 *   - header_parse never crashes; every field lies inside the input, in
 *     order, does not overlap the next one, starts with a name that
 *     header_name_len accepts, and is within the size limit;
 *   - body_offset is within the input and not before the last field;
 *   - the field count respects max_fields;
 *   - header_value never grows past the field, and holds no LF.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "header.h"
#include "mem.h"
#include "strbuf.h"

int     LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* fuzz_check: abort when an invariant fails (libFuzzer reports it). */
static void fuzz_check(int ok)
{
    if (!ok)
        abort();
}

/* LLVMFuzzerTestOneInput: one input */
int     LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text;
    size_t  len;
    size_t  max_size;
    size_t  max_fields;
    size_t  prev_end = 0;
    size_t  i;
    header_block *hb;
    strbuf *v;

    if (size < 2)
        return 0;
    max_size = data[0] % 64;            /* 0 = no limit */
    max_fields = data[1] % 8;           /* 0 = no limit */
    text = (const char *) data + 2;
    len = size - 2;
    hb = header_parse(text, len, max_size, max_fields);
    v = strbuf_new(64);
    fuzz_check(hb->body_offset <= len);
    fuzz_check(max_fields == 0 || hb->count <= max_fields);
    for (i = 0; i < hb->count; i++) {
        const header_field *f = hb->fields + i;

        fuzz_check(f->text == text + f->offset);
        fuzz_check(f->offset >= prev_end);
        fuzz_check(f->offset + f->len <= len);
        fuzz_check(max_size == 0 || f->len <= max_size);
        fuzz_check(f->name_len > 0 && f->name_len <= HEADER_NAME_MAX);
        fuzz_check(header_name_len(f->text, f->len) == f->name_len);
        prev_end = f->offset + f->len;
        header_value(f, v);
        fuzz_check(v->len <= f->len);
        fuzz_check(memchr(v->data, '\n', v->len) == NULL);
    }
    fuzz_check(hb->body_offset >= prev_end);
    strbuf_free(v);
    header_block_free(hb);
    return 0;
}
