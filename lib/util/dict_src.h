/*
 * dict_src: reader for lookup-table source files in the Postfix
 * "key whitespace value" format (what postmap, postalias and texthash:
 * read), and for the logical lines of other table sources (regexp:).
 *
 * Format: a logical line starts with a non-blank character; physical
 * lines that start with white space continue it (joined with one space).
 * Blank lines and lines whose first non-blank character is '#' are
 * comments wherever they are. An entry is "key value": the key is the
 * first white-space-delimited token, the value the rest of the logical
 * line without surrounding white space.
 *
 * See dict_src.c for the contracts.
 */
#ifndef POSTERN_DICT_SRC_H
#define POSTERN_DICT_SRC_H

#include <stddef.h>

#include "dict.h"
#include "strbuf.h"

struct stat;

/* Longest physical or logical line accepted. */
#define DICT_SRC_LINE_MAX   (DICT_KEY_MAX + DICT_VALUE_MAX)

typedef struct dict_src dict_src;

dict_src *dict_src_open(const char *path, strbuf *err);
dict_src *dict_src_open_mem(const char *text, size_t len, const char *origin);
int     dict_src_next(dict_src *src, strbuf *key, strbuf *value, strbuf *err);
int     dict_src_next_line(dict_src *src, strbuf *line, strbuf *err);
int     dict_src_line(const dict_src *src);
const char *dict_src_origin(const dict_src *src);
const struct stat *dict_src_stat(const dict_src *src);
dict_src *dict_src_close(dict_src *src);

#endif
