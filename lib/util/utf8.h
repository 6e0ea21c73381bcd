/*
 * utf8: the one UTF-8 validator (RFC 3629: no overlong forms, no
 * surrogates, nothing above U+10FFFF).
 */
#ifndef POSTERN_UTF8_H
#define POSTERN_UTF8_H

#include <stddef.h>

size_t  utf8_seq(const unsigned char *p, size_t len, unsigned *cp);
int     utf8_valid(const char *bytes, size_t len);

#endif
