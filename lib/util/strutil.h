/*
 * strutil: small string helpers that replace the banned libc calls.
 *
 * str_copy and str_format are the bounded replacements for strcpy and
 * sprintf: they report truncation instead of hiding it. str_token replaces
 * strtok without hidden state.
 */
#ifndef POSTERN_STRUTIL_H
#define POSTERN_STRUTIL_H

#include <stdarg.h>
#include <stddef.h>

int     str_copy(char *dst, size_t size, const char *src);
int     str_format(char *dst, size_t size, const char *fmt, ...)
            __attribute__((format(printf, 3, 4)));
char   *str_token(char **cursor, const char *delims);
char   *str_trim(char *str);
void    str_lower(char *str);
int     str_casecmp(const char *a, const char *b);
int     str_has_prefix(const char *str, const char *prefix);
char   *str_concat(const char *first, ...) __attribute__((sentinel));

#endif
