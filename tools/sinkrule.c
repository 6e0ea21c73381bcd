/*
 * sinkrule: recipient rules of postern-smtp-sink.
 *
 * Public functions:
 *   sinkrule_list_new(), sinkrule_list_free(list): an empty rule list;
 *     free returns NULL.
 *   sinkrule_add(list, action, pattern, err): append a rule. pattern is
 *     an fnmatch(3) pattern matched case-insensitively against the whole
 *     recipient address without the angle brackets ("*@defer.test").
 *     Returns 0, or -1 with a reason in err (reset first) for an empty
 *     or too long pattern, or a full list.
 *   sinkrule_match(list, addr, len): the action of the first rule whose
 *     pattern matches addr (len bytes, need not be NUL-terminated);
 *     SINKRULE_ACCEPT when none does, or when addr holds a NUL or is
 *     longer than SINKRULE_PATTERN_MAX.
 *   sinkrule_action_name(action): "accept", "reject", "defer", "drop".
 *
 * SECURITY: addr comes from an SMTP client; it is copied bounded into a
 * local buffer and only matched.
 * LIMITS: SINKRULE_MAX rules of SINKRULE_PATTERN_MAX bytes; addresses
 * longer than SINKRULE_PATTERN_MAX bytes are accepted without matching.
 */
#include <fnmatch.h>
#include <string.h>

#include "mem.h"
#include "sinkrule.h"

typedef struct sinkrule {
    enum sinkrule_action action;
    char   *pattern;
} sinkrule;

struct sinkrule_list {
    sinkrule rules[SINKRULE_MAX];
    int     count;
};

/* sinkrule_list_new: an empty list. */
sinkrule_list *sinkrule_list_new(void)
{
    return mem_calloc(1, sizeof(sinkrule_list));
}

/* sinkrule_list_free: release the list; returns NULL. */
sinkrule_list *sinkrule_list_free(sinkrule_list *list)
{
    int     i;

    if (list == NULL)
        return NULL;
    for (i = 0; i < list->count; i++)
        mem_free(list->rules[i].pattern);
    mem_free(list);
    return NULL;
}

/* sinkrule_add: append one rule. */
int     sinkrule_add(sinkrule_list *list, enum sinkrule_action action,
                     const char *pattern, strbuf *err)
{
    size_t  len = strlen(pattern);

    strbuf_reset(err);
    if (len == 0 || len > SINKRULE_PATTERN_MAX) {
        strbuf_printf(err, "pattern must have 1 to %d bytes",
                      SINKRULE_PATTERN_MAX);
        return -1;
    }
    if (list->count >= SINKRULE_MAX) {
        strbuf_printf(err, "more than %d rules", SINKRULE_MAX);
        return -1;
    }
    list->rules[list->count].action = action;
    list->rules[list->count].pattern = mem_strdup(pattern);
    list->count++;
    return 0;
}

/* sinkrule_match: the action for one recipient address. */
enum sinkrule_action sinkrule_match(const sinkrule_list *list,
                                    const char *addr, size_t len)
{
    char    buf[SINKRULE_PATTERN_MAX + 1];
    int     i;

    if (len > SINKRULE_PATTERN_MAX || memchr(addr, '\0', len) != NULL)
        return SINKRULE_ACCEPT;
    memcpy(buf, addr, len);
    buf[len] = '\0';
    for (i = 0; i < list->count; i++)
        if (fnmatch(list->rules[i].pattern, buf, FNM_CASEFOLD) == 0)
            return list->rules[i].action;
    return SINKRULE_ACCEPT;
}

/* sinkrule_action_name: the action's name for logs and usage. */
const char *sinkrule_action_name(enum sinkrule_action action)
{
    switch (action) {
    case SINKRULE_ACCEPT:
        return "accept";
    case SINKRULE_REJECT:
        return "reject";
    case SINKRULE_DEFER:
        return "defer";
    case SINKRULE_DROP:
        return "drop";
    }
    return "unknown";
}
