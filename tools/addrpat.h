/*
 * addrpat: address patterns with one "%d" (postern-smtp-load -f/-t),
 * e.g. "user%d@example.com". See addrpat.c for the contracts.
 */
#ifndef POSTERN_ADDRPAT_H
#define POSTERN_ADDRPAT_H

#include "strbuf.h"

/* Longest pattern and expansion accepted (an SMTP path is <= 256). */
#define ADDRPAT_MAX 256

int     addrpat_check(const char *pattern, strbuf *err);
int     addrpat_expand(const char *pattern, unsigned long n, strbuf *out);

#endif
