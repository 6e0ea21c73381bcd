/*
 * dict_fail: the "fail:" table type, which can never answer.
 *
 * Public functions:
 *   dict_fail_open(name, flags, err): a table whose every lookup and
 *     iteration returns DICT_RETRY with the error "fail:NAME: table
 *     lookup failed as configured". The name is free text (it only labels
 *     the messages). Never fails; close it with dict_close.
 *
 * Use: an admin names fail:something where a table is required but every
 * lookup must be deferred (for instance while a real table is rebuilt).
 *
 * SECURITY: keys are never looked at.
 * LIMITS: none.
 */
#include <stddef.h>

#include "dict.h"
#include "dict_types.h"

/* dict_fail_why: set the one error this table ever gives. */
static int dict_fail_why(dict *d)
{
    strbuf_setf(d->error, "%s: table lookup failed as configured", d->spec);
    return DICT_RETRY;
}

/* dict_fail_lookup: always a temporary failure. */
static int dict_fail_lookup(dict *d, const char *key, strbuf *value)
{
    (void) key;
    (void) value;
    return dict_fail_why(d);
}

/* dict_fail_iterate: listing fails the same way. */
static int dict_fail_iterate(dict *d, int first, strbuf *key, strbuf *value)
{
    (void) first;
    (void) key;
    (void) value;
    return dict_fail_why(d);
}

/* dict_fail_close: release. */
static void dict_fail_close(dict *d)
{
    dict_free_base(d);
}

/* dict_fail_open: make a table that always fails. */
dict   *dict_fail_open(const char *name, int flags, strbuf *err)
{
    dict   *d = dict_alloc("fail", name, flags, 0, sizeof(dict));

    (void) err;
    d->lookup = dict_fail_lookup;
    d->iterate = dict_fail_iterate;
    d->close = dict_fail_close;
    return d;
}
