/*
 * dict_inline: the "inline:" table type: a small table written in the
 * configuration itself, inline:{key=value, { key = text with spaces }}.
 *
 * Public functions:
 *   dict_inline_open(name, flags, err): parse name into an in-memory
 *     table (dict_mem). Returns NULL with err "inline:NAME: what is
 *     wrong" on a syntax error: missing outer braces, an unbalanced brace
 *     ("missing '}'", "unexpected '}' in "a}""), an entry without '='
 *     ("missing '=' in "foo""), an empty key, text glued to a closing
 *     brace, an over-long key or value, or no entry at all ("empty
 *     table"). A key given twice keeps its first value, with a warning.
 *     Under DICT_F_FOLD keys are stored in lower case. Iterable (in the
 *     order written), read-only.
 *
 * Syntax. The whole table is enclosed in '{' and '}'. Inside, entries
 * are separated by commas and/or white space. A plain entry is
 * key=value with no white space, comma or brace in it. An entry in
 * braces, { key = value }, may hold white space and commas (and balanced
 * braces); white space around the key, the '=' and the value is dropped.
 * The value may be empty; the key may not.
 *
 * SECURITY: the text comes from the configuration; it is parsed with
 * explicit lengths and every error is returned, never fatal.
 * LIMITS: DICT_KEY_MAX per key, DICT_VALUE_MAX per value; the number of
 * entries is bounded by the length of the configuration value.
 */
#include <stddef.h>
#include <string.h>

#include "dict.h"
#include "dict_mem.h"
#include "dict_types.h"
#include "mem.h"
#include "msg.h"
#include "strbuf.h"
#include "strutil.h"

/* dict_inline_sep: entry separators. */
static int dict_inline_sep(int c)
{
    return c == ',' || c == ' ' || c == '\t' || c == '\r' || c == '\n'
        || c == '\f' || c == '\v';
}

/* dict_inline_entry: add one "key=value" entry text; -1 with err. */
static int dict_inline_entry(dict *d, const char *text, size_t len, int braced,
                             strbuf *err)
{
    char   *copy = mem_strndup(text, len);
    char   *eq = strchr(copy, '=');
    char   *key;
    char   *value;
    int     rc = -1;

    if (eq == NULL) {
        strbuf_setf(err, "%s: missing '=' in \"%s\"", d->spec, copy);
    } else {
        *eq = 0;
        key = braced ? str_trim(copy) : copy;
        value = braced ? str_trim(eq + 1) : eq + 1;
        if (*key == 0) {
            strbuf_setf(err, "%s: empty key in \"%.*s\"", d->spec, (int) len, text);
        } else if (strlen(key) > DICT_KEY_MAX) {
            strbuf_setf(err, "%s: key is longer than %d bytes", d->spec, DICT_KEY_MAX);
        } else if (strlen(value) > DICT_VALUE_MAX) {
            strbuf_setf(err, "%s: value is longer than %d bytes", d->spec, DICT_VALUE_MAX);
        } else {
            if (dict_mem_add(d, key, value) == 1 && (d->flags & DICT_F_DUP_IGNORE) == 0)
                msg_warn("%s: duplicate key \"%s\": keeping the first value",
                         d->spec, key);
            rc = 0;
        }
    }
    mem_free(copy);
    return rc;
}

/* dict_inline_parse: parse the text between the outer braces. */
static int dict_inline_parse(dict *d, const char *p, const char *end, strbuf *err)
{
    const char *start;
    int     depth;
    int     bad;

    for (;;) {
        while (p < end && dict_inline_sep((unsigned char) *p))
            p++;
        if (p == end)
            return 0;
        if (*p == '{') {
            start = ++p;
            for (depth = 1; p < end && depth > 0; p++) {
                if (*p == '{')
                    depth++;
                else if (*p == '}')
                    depth--;
            }
            if (depth > 0) {
                strbuf_setf(err, "%s: missing '}'", d->spec);
                return -1;
            }
            if (p < end && !dict_inline_sep((unsigned char) *p)) {
                strbuf_setf(err, "%s: missing ',' or white space after \"{%.*s}\"",
                            d->spec, (int) (p - start - 1), start);
                return -1;
            }
            if (dict_inline_entry(d, start, (size_t) (p - start - 1), 1, err) < 0)
                return -1;
        } else {
            start = p;
            while (p < end && !dict_inline_sep((unsigned char) *p)) {
                if (*p == '{' || *p == '}') {
                    bad = *p;
                    while (p < end && !dict_inline_sep((unsigned char) *p))
                        p++;
                    strbuf_setf(err, "%s: unexpected '%c' in \"%.*s\" (enclose the"
                                " whole entry in braces: { key = value })", d->spec,
                                bad, (int) (p - start), start);
                    return -1;
                }
                p++;
            }
            if (dict_inline_entry(d, start, (size_t) (p - start), 0, err) < 0)
                return -1;
        }
    }
}

/* dict_inline_open: parse an inline table. */
dict   *dict_inline_open(const char *name, int flags, strbuf *err)
{
    size_t  len = strlen(name);
    dict   *d;

    if (len < 2 || name[0] != '{' || name[len - 1] != '}') {
        strbuf_setf(err, "inline:%s: expected {key=value, ...}", name);
        return NULL;
    }
    d = dict_mem_new("inline", name, flags);
    if (dict_inline_parse(d, name + 1, name + len - 1, err) < 0) {
        d->close(d);
        return NULL;
    }
    if (dict_mem_count(d) == 0) {
        strbuf_setf(err, "%s: empty table", d->spec);
        d->close(d);
        return NULL;
    }
    return d;
}
