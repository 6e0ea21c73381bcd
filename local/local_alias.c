/*
 * local_alias: split an alias (or .forward, or :include:) value into its
 * destinations.
 *
 *   local_alias_split(value, &items): split value at commas and line
 *     ends that are outside double quotes; double quotes group text and
 *     are removed ("\"|cmd, arg\"" -> "|cmd, arg"; a backslash inside
 *     quotes escapes the next byte; an unterminated quote runs to the
 *     end); each item is trimmed of white space. Empty items, items that
 *     start with '#' and lines whose first non-blank byte is '#' are
 *     dropped. Returns the count; *items is a new array of new
 *     strings (NULL when the count is 0) to free with
 *     local_alias_free(items, count).
 *
 * SECURITY: values come from alias tables, users' .forward files and
 * :include: files; this only splits them, it decides nothing.
 * LIMITS: at most LOCAL_EXPAND_MAX items are returned; more are dropped
 * with a warning.
 */
#include <string.h>

#include "local.h"
#include "mem.h"
#include "msg.h"
#include "strbuf.h"
#include "strutil.h"

/* local_alias_item: finish one item and add it to the array. */
static void local_alias_item(strbuf *cur, char ***items, size_t *count, size_t *size)
{
    char   *s;
    size_t  n;

    s = str_trim(cur->data);
    n = strlen(s);
    if (n == 0 || s[0] == '#') {
        strbuf_reset(cur);
        return;
    }
    if (*count >= LOCAL_EXPAND_MAX) {
        msg_warn("alias value has more than %d items; ignoring the rest", LOCAL_EXPAND_MAX);
        strbuf_reset(cur);
        return;
    }
    if (*count == *size) {
        *size = *size ? *size * 2 : 8;
        *items = mem_realloc(*items, *size * sizeof(**items));
    }
    (*items)[(*count)++] = mem_strdup(s);
    strbuf_reset(cur);
}

/* local_alias_split: split a value into destinations. */
size_t  local_alias_split(const char *value, char ***items)
{
    strbuf *cur = strbuf_new(64);
    size_t  count = 0;
    size_t  size = 0;
    int     inq = 0;
    int     line_start = 1;
    int     comment = 0;
    const char *p;

    *items = NULL;
    for (p = value; *p; p++) {
        if (comment) {
            if (*p == '\n') {
                comment = 0;
                line_start = 1;
            }
            continue;
        }
        if (line_start && !inq) {
            while (*p == ' ' || *p == '\t')
                p++;
            if (*p == '#') {
                comment = 1;
                continue;
            }
            if (*p == 0)
                break;
            line_start = 0;
        }
        if (inq) {
            if (*p == '\\' && p[1]) {
                (void) strbuf_putc(cur, *++p);
            } else if (*p == '"') {
                inq = 0;
            } else {
                (void) strbuf_putc(cur, *p);
            }
        } else if (*p == '"') {
            inq = 1;
        } else if (*p == ',' || *p == '\n' || *p == '\r') {
            local_alias_item(cur, items, &count, &size);
            if (*p == '\n')
                line_start = 1;
        } else {
            (void) strbuf_putc(cur, *p);
        }
    }
    local_alias_item(cur, items, &count, &size);
    strbuf_free(cur);
    return count;
}

/* local_alias_free: release a split result. */
void    local_alias_free(char **items, size_t count)
{
    size_t  i;

    for (i = 0; i < count; i++)
        mem_free(items[i]);
    mem_free(items);
}
