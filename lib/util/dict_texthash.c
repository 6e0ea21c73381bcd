/*
 * dict_texthash: the "texthash:" table type: a postmap source file read
 * into memory, so no database file has to be built.
 *
 * Public functions:
 *   dict_texthash_open(path, flags, err): read path with dict_src (format
 *     "key whitespace value", see dict_src.c) into an in-memory table
 *     (dict_mem). Returns NULL with err set when the file cannot be read
 *     or has any syntax error ("PATH, line N: expected format: key
 *     whitespace value"): a half-loaded table would answer "not found"
 *     for the entries it missed, so dict_open_or_fail defers instead.
 *     A key that appears again keeps its first value, with the warning
 *     "PATH, line N: duplicate entry: "KEY"" (no warning with
 *     DICT_F_DUP_IGNORE). Under DICT_F_FOLD keys are stored in lower
 *     case. The table is iterable (file order), read-only, and reports
 *     dict_changed once the file is replaced or modified.
 *
 * SECURITY: the file is an admin's; it is parsed with the bounded
 * dict_src reader, and its total size in memory is capped.
 * LIMITS: dict_src's line, key and value limits; DICT_TEXTHASH_MAX bytes
 * of keys and values per table.
 */
#include <stddef.h>

#include "dict.h"
#include "dict_mem.h"
#include "dict_src.h"
#include "dict_types.h"
#include "msg.h"
#include "strbuf.h"

/* Keys plus values held by one texthash table. */
#define DICT_TEXTHASH_MAX   (64 << 20)

/* dict_texthash_open: load a source file. */
dict   *dict_texthash_open(const char *name, int flags, strbuf *err)
{
    dict_src *src;
    dict   *d;
    strbuf *key;
    strbuf *value;
    int     rc;

    if ((src = dict_src_open(name, err)) == NULL)
        return NULL;
    d = dict_mem_new("texthash", name, flags);
    key = strbuf_new(64);
    value = strbuf_new(64);
    while ((rc = dict_src_next(src, key, value, err)) > 0) {
        if (dict_mem_bytes(d) + key->len + value->len > DICT_TEXTHASH_MAX) {
            strbuf_setf(err, "%s, line %d: table is larger than %d bytes",
                        name, dict_src_line(src), DICT_TEXTHASH_MAX);
            rc = -1;
            break;
        }
        if (dict_mem_add(d, key->data, value->data) == 1
            && (flags & DICT_F_DUP_IGNORE) == 0)
            msg_warn("%s, line %d: duplicate entry: \"%s\"",
                     name, dict_src_line(src), key->data);
    }
    if (rc == 0)
        dict_mem_watch(d, name, dict_src_stat(src));
    else {
        d->close(d);
        d = NULL;
    }
    strbuf_free(key);
    strbuf_free(value);
    dict_src_close(src);
    return d;
}
