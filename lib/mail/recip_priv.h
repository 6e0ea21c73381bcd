/*
 * recip_priv: the one audited place where a delivery agent (local,
 * virtual) takes on a recipient's identity. See recip_priv.c.
 */
#ifndef POSTERN_RECIP_PRIV_H
#define POSTERN_RECIP_PRIV_H

#include <sys/types.h>

#include "strbuf.h"

/* Who a delivery runs as. */
typedef struct recip_priv_id {
    uid_t   uid;
    gid_t   gid;
    char    user[64];                   /* for initgroups; "" = gid only */
} recip_priv_id;

int     recip_priv_privileged(void);
int     recip_priv_lookup(const char *user, recip_priv_id *id, strbuf *err);
int     recip_priv_enter(const recip_priv_id *id, strbuf *err);
void    recip_priv_leave(void);
int     recip_priv_drop(const recip_priv_id *id, strbuf *err);

#endif
