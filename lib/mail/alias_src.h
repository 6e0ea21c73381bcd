/*
 * alias_src: reader for aliases(5) source files, the text that postalias
 * and newaliases turn into a lookup table.
 *
 *     # comment                        (first non-blank byte is '#')
 *     name: value, value, ...          (the name ends at the first ':'
 *         more, values                  that is not inside quotes; lines
 *                                       that start with white space
 *                                       continue the entry)
 *     "with space": value
 *
 * Each entry yields its name (quotes removed, folded to lower case) and
 * its value list exactly as written: continuation lines joined by one
 * space, white space around the whole trimmed, nothing else touched
 * (":include:/path", "|command", "/file" and quoted items are the local
 * delivery agent's business). See alias_src.c for the contracts.
 */
#ifndef POSTERN_ALIAS_SRC_H
#define POSTERN_ALIAS_SRC_H

#include <stddef.h>

#include "dict.h"
#include "strbuf.h"

/* One logical entry (name, ':', value list and joins) at most. */
#define ALIAS_SRC_ENTRY_MAX     DICT_VALUE_MAX
/* One alias name, after unquoting. */
#define ALIAS_SRC_NAME_MAX      DICT_KEY_MAX

struct stat;

typedef struct alias_src alias_src;

alias_src *alias_src_open(const char *path, strbuf *err);
alias_src *alias_src_open_mem(const char *text, size_t len, const char *origin);
int     alias_src_next(alias_src *src, strbuf *name, strbuf *value, strbuf *err);
int     alias_src_line(const alias_src *src);
const char *alias_src_origin(const alias_src *src);
const struct stat *alias_src_stat(const alias_src *src);
alias_src *alias_src_close(alias_src *src);

#endif
