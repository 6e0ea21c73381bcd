/*
 * dict_regexp: the "regexp:" table type (POSIX regular expressions).
 * dict_regexp_open is in dict_types.h; this header adds the parser entry
 * point that reads a table from memory (for tests and the fuzz target)
 * and the limits. See dict_regexp.c for the format and contracts.
 */
#ifndef POSTERN_DICT_REGEXP_H
#define POSTERN_DICT_REGEXP_H

#include <stddef.h>

#include "dict.h"

/* Limits enforced while a table is parsed. */
#define DICT_REGEXP_RULES_MAX   10000   /* rules, if and endif lines */
#define DICT_REGEXP_PATTERN_MAX 1024    /* bytes between the delimiters */
#define DICT_REGEXP_RESULT_MAX  DICT_KEY_MAX    /* bytes of result text */
#define DICT_REGEXP_SIZE_MAX    32768   /* pattern elements after expansion */
#define DICT_REGEXP_OPTIONAL_MAX 300    /* ... of which optional */
#define DICT_REGEXP_REPEAT_DEPTH_MAX 4  /* repetitions of repetitions */
#define DICT_REGEXP_EMPTY_MAX   1024    /* ways to match the empty string */
#define DICT_REGEXP_BACKREF_MAX 4       /* back-references in a pattern */
#define DICT_REGEXP_TABLE_SIZE_MAX 1000000      /* sizes of all patterns */
#define DICT_REGEXP_TABLE_COST_MAX 1000000      /* sum of optional squared */
#define DICT_REGEXP_DEPTH_MAX   64      /* nested groups in a pattern */
#define DICT_REGEXP_GROUP_MAX   99      /* highest $n a result may use */

dict   *dict_regexp_parse_mem(const char *text, size_t len, const char *origin,
                              int flags, strbuf *err);

#endif
