/*
 * numparse: the one number parser. Every number read from outside (config,
 * protocol, queue file, command line) goes through it with explicit bounds.
 */
#ifndef POSTERN_NUMPARSE_H
#define POSTERN_NUMPARSE_H

#include <stddef.h>

int     num_parse_long(const char *str, long min, long max, long *result);
int     num_parse_ulong(const char *str, unsigned long max, unsigned long *result);
int     num_parse_long_n(const char *str, size_t len, long min, long max, long *result);

#endif
