/*
 * fuzz_aliases: feed arbitrary bytes to the aliases(5) reader
 * (lib/mail/alias_src.c) through its memory entry point.
 *
 * Checked for every call until the end of the input:
 *   - the result is 1, 0 or -1, and line numbers stay within the input;
 *   - an entry has a non-empty name of at most ALIAS_SRC_NAME_MAX bytes
 *     with no NUL and no upper-case ASCII, and a non-empty value with no
 *     NUL, no newline and no white space at either end;
 *   - written back as "\"name\": value" (name quoted, '"' and '\'
 *     escaped) the entry reads back as the same name and value;
 *   - an error names the input and a line ("fuzz, line N: ...").
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "alias_src.h"
#include "strbuf.h"

int     LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* fuzz_check: abort when an invariant fails (libFuzzer reports it). */
static void fuzz_check(int ok)
{
    if (!ok)
        abort();
}

/* fuzz_blank: the reader's white space. */
static int fuzz_blank(int ch)
{
    return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\f' || ch == '\v';
}

/* fuzz_roundtrip: write an entry back and read it again. */
static void fuzz_roundtrip(const strbuf *name, const strbuf *value)
{
    strbuf *text = strbuf_new(name->len + value->len + 8);
    strbuf *name2 = strbuf_new(16);
    strbuf *value2 = strbuf_new(16);
    strbuf *err = strbuf_new(16);
    alias_src *src;
    size_t  i;

    strbuf_putc(text, '"');
    for (i = 0; i < name->len; i++) {
        if (name->data[i] == '"' || name->data[i] == '\\')
            strbuf_putc(text, '\\');
        strbuf_putc(text, name->data[i]);
    }
    strbuf_puts(text, "\": ");
    strbuf_append(text, value->data, value->len);
    strbuf_putc(text, '\n');
    if (text->len <= ALIAS_SRC_ENTRY_MAX) {
        src = alias_src_open_mem(text->data, text->len, "again");
        fuzz_check(alias_src_next(src, name2, value2, err) == 1);
        fuzz_check(name2->len == name->len
                   && memcmp(name2->data, name->data, name->len) == 0);
        fuzz_check(value2->len == value->len
                   && memcmp(value2->data, value->data, value->len) == 0);
        fuzz_check(alias_src_next(src, name2, value2, err) == 0);
        alias_src_close(src);
    }
    strbuf_free(text);
    strbuf_free(name2);
    strbuf_free(value2);
    strbuf_free(err);
}

/* LLVMFuzzerTestOneInput: one input. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    alias_src *src = alias_src_open_mem((const char *) data, size, "fuzz");
    strbuf *name = strbuf_new(16);
    strbuf *value = strbuf_new(16);
    strbuf *err = strbuf_new(16);
    size_t  calls, i, lines = 1;
    int     rc;

    for (i = 0; i < size; i++)
        lines += data[i] == '\n';
    /* Every call but a sticky error consumes a line: bound the loop. */
    for (calls = 0; calls <= size + 1; calls++) {
        strbuf_reset(err);
        rc = alias_src_next(src, name, value, err);
        fuzz_check(rc >= -1 && rc <= 1);
        if (rc == 0)
            break;
        fuzz_check(alias_src_line(src) >= 1 && (size_t) alias_src_line(src) <= lines);
        if (rc < 0) {
            fuzz_check(strncmp(err->data, "fuzz, line ", 11) == 0);
            continue;
        }
        fuzz_check(name->len > 0 && name->len <= ALIAS_SRC_NAME_MAX);
        fuzz_check(memchr(name->data, 0, name->len) == NULL);
        for (i = 0; i < name->len; i++)
            fuzz_check(!(name->data[i] >= 'A' && name->data[i] <= 'Z'));
        fuzz_check(value->len > 0);
        fuzz_check(memchr(value->data, 0, value->len) == NULL);
        fuzz_check(memchr(value->data, '\n', value->len) == NULL);
        fuzz_check(!fuzz_blank((unsigned char) value->data[0]));
        fuzz_check(!fuzz_blank((unsigned char) value->data[value->len - 1]));
        fuzz_roundtrip(name, value);
    }
    alias_src_close(src);
    strbuf_free(name);
    strbuf_free(value);
    strbuf_free(err);
    return 0;
}
