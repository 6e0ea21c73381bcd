/*
 * sinkrule: what postern-smtp-sink does with a recipient: accept,
 * reject, defer or drop the connection, by shell-style patterns.
 * See sinkrule.c for the contracts.
 */
#ifndef POSTERN_SINKRULE_H
#define POSTERN_SINKRULE_H

#include "strbuf.h"

enum sinkrule_action {
    SINKRULE_ACCEPT = 0,
    SINKRULE_REJECT,                    /* 550 5.1.1 */
    SINKRULE_DEFER,                     /* 450 4.2.0 */
    SINKRULE_DROP                       /* close without a reply */
};

#define SINKRULE_MAX        64          /* rules per sink */
#define SINKRULE_PATTERN_MAX 256        /* bytes per pattern */

typedef struct sinkrule_list sinkrule_list;

sinkrule_list *sinkrule_list_new(void);
sinkrule_list *sinkrule_list_free(sinkrule_list *list);
int     sinkrule_add(sinkrule_list *list, enum sinkrule_action action,
                     const char *pattern, strbuf *err);
enum sinkrule_action sinkrule_match(const sinkrule_list *list,
                                    const char *addr, size_t len);
const char *sinkrule_action_name(enum sinkrule_action action);

#endif
