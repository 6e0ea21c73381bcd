/*
 * maps: a list of lookup tables as main.cf names them
 * ("alias_maps = hash:/etc/aliases, texthash:/etc/more") and the lookups
 * every caller makes through it: plain keys (maps_find) and mail
 * addresses in Postfix's order of forms (maps_find_addr).
 *
 * Results are those of dict.h: DICT_FOUND, DICT_NOTFOUND, DICT_RETRY.
 * DICT_RETRY means "defer": some table failed before a hit, and
 * maps_error() says which and why. See maps.c for the contracts.
 */
#ifndef POSTERN_MAPS_H
#define POSTERN_MAPS_H

#include <stddef.h>

#include "dict.h"
#include "strbuf.h"

/* maps_find_addr flags. */
#define MAPS_ADDR_F_LOCAL           (1 << 0)    /* domain is local: also try
                                                 * user+ext and user */
#define MAPS_ADDR_F_OWNER_REQUEST   (1 << 1)    /* owner_request_special */

typedef struct maps maps;

maps   *maps_open(const char *title, const char *list, int dict_flags);
maps   *maps_free(maps *m);
int     maps_find(maps *m, const char *key, strbuf *value);
int     maps_find_addr(maps *m, const char *address, const char *delimiters,
                       int flags, strbuf *value, strbuf *matched_key);
const char *maps_error(const maps *m);
const char *maps_title(const maps *m);
size_t  maps_count(const maps *m);
dict   *maps_table(const maps *m, size_t index);

#endif
