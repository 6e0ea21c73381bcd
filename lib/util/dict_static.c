/*
 * dict_static: the "static:" table type: one value for every key.
 *
 * Public functions:
 *   dict_static_open(name, flags, err): "static:text" answers DICT_FOUND
 *     with text for every key; "static:{ text }" allows white space and
 *     commas in the text (the braces go, and so does the white space just
 *     inside them). Returns NULL with err set when a '{' has no matching
 *     '}' at the very end ("static:{a b: expected {text} with the
 *     matching '}' at the end"), or the
 *     value is longer than DICT_VALUE_MAX. Static tables cannot be
 *     listed (dict_iterate fails, as in Postfix) or written.
 *
 * SECURITY: the text comes from the configuration; keys are never looked
 * at.
 * LIMITS: DICT_VALUE_MAX for the text.
 */
#include <stddef.h>
#include <string.h>

#include "dict.h"
#include "dict_types.h"
#include "mem.h"
#include "strutil.h"

typedef struct dict_static {
    dict    dict;                       /* must be first */
    char   *value;
} dict_static;

/* dict_static_lookup: every key has the one value. */
static int dict_static_lookup(dict *d, const char *key, strbuf *value)
{
    (void) key;
    strbuf_puts(value, ((dict_static *) d)->value);
    return DICT_FOUND;
}

/* dict_static_close: release. */
static void dict_static_close(dict *d)
{
    mem_free(((dict_static *) d)->value);
    dict_free_base(d);
}

/* dict_static_unbrace: the text inside "{...}", or NULL if unbalanced. */
static char *dict_static_unbrace(const char *name)
{
    size_t  len = strlen(name);
    size_t  i;
    int     depth = 0;
    char   *inner;
    char   *text;

    for (i = 0; i < len; i++) {
        if (name[i] == '{')
            depth++;
        else if (name[i] == '}' && --depth == 0)
            break;
    }
    if (i + 1 != len)
        return NULL;
    inner = mem_strndup(name + 1, len - 2);
    text = str_trim(inner);
    memmove(inner, text, strlen(text) + 1);
    return inner;
}

/* dict_static_open: make the table. */
dict   *dict_static_open(const char *name, int flags, strbuf *err)
{
    dict_static *ds;
    char   *value;

    if (name[0] == '{') {
        if ((value = dict_static_unbrace(name)) == NULL) {
            strbuf_setf(err, "static:%s: expected {text} with the matching '}' at the end",
                        name);
            return NULL;
        }
    } else {
        value = mem_strdup(name);
    }
    if (strlen(value) > DICT_VALUE_MAX) {
        strbuf_setf(err, "static: value is longer than %d bytes", DICT_VALUE_MAX);
        mem_free(value);
        return NULL;
    }
    ds = (dict_static *) dict_alloc("static", name, flags, 0, sizeof(*ds));
    ds->value = value;
    ds->dict.lookup = dict_static_lookup;
    ds->dict.close = dict_static_close;
    return &ds->dict;
}
