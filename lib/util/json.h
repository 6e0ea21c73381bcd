/*
 * json: the one writer of JSON string literals (postconf -j, postmap -j,
 * postqueue -j and friends print one object per line).
 */
#ifndef POSTERN_JSON_H
#define POSTERN_JSON_H

#include "strbuf.h"

void    json_string(strbuf *out, const char *text);

#endif
