/*
 * param: load main.cf and give typed, checked access to parameters.
 *
 * Where a value comes from, first match wins: an override (param_override,
 * for master.cf "-o name=value" and command-line settings), main.cf, and
 * the table default (param_table.c). config_directory defaults to the
 * directory main.cf was loaded from. Values are raw text until a getter
 * expands them ($name, ${name?text}, ... see cfg.h); expanded values are
 * computed once and cached until the configuration changes.
 *
 * Public functions:
 *   param_config_dir(cli_dir): the configuration directory to use: cli_dir
 *     (from -c) when not NULL or empty, else $MAIL_CONFIG when set and not
 *     empty, else PARAM_CONFIG_DIR_DEFAULT. In a set-uid or set-gid
 *     process run by someone other than root, -c and MAIL_CONFIG are
 *     ignored (with a warning for -c). The result is not copied.
 *   param_load(config_dir, err): read config_dir/main.cf (config_dir NULL
 *     means param_config_dir(NULL)). Returns 0, 1 when main.cf does not
 *     exist (every parameter then has its default; logged only with -v),
 *     or -1 with err "PATH, line N: problem" (syntax, size, I/O); after -1
 *     the previous configuration stays in force. Overrides are kept.
 *     Every main.cf name that is neither in the table nor used as $name in
 *     some value, nor SERVICE_SUFFIX for a master.cf service and a
 *     per-transport suffix (see param_transport_suffix), draws one warning
 *     "PATH, line N: unused parameter: name=value" (Postfix's wording).
 *   param_override(name, value): set name (any valid name, known or not)
 *     above main.cf. Returns 0, or -1 with a warning for a bad name.
 *   param_reset(): forget main.cf, overrides and caches (tests, reload).
 *   param_main_cfg(): the parsed main.cf (NULL before a successful
 *     param_load); param_main_path(): its path, or NULL.
 *   param_str(name): the expanded value (raw for PARAM_F_RAW entries).
 *   param_raw(name): the value as written (or the default), unexpanded.
 *   param_default(name): the table default (dynamic ones computed).
 *   param_bool(name): 1 for yes, 0 for no (either case).
 *   param_int(name), param_size(name): a decimal number within the
 *     table's bounds.
 *   param_time(name): seconds; the value is a number with an optional
 *     unit s, m, h, d or w; a bare number is in the entry's unit.
 *   param_list(name, &count): the value split at commas and white space
 *     into a NULL-terminated array; "{ text }" keeps text (white space
 *     and commas included) as one item without the braces, and braces
 *     inside an item ("inline:{a=b, c=d}") keep it together. For
 *     PARAM_MAPS every item must look like type:name.
 *   param_is_set(name): 1 when main.cf or an override sets name.
 *   param_lookup(name): raw value of any name (table or user-defined), or
 *     NULL when it has none (what expansion looks up). A dynamic default
 *     that cannot be computed is fatal here and in param_default.
 *   param_is_known(name): 1 for a table name, or a user-defined name that
 *     another value refers to, a per-transport SERVICE_SUFFIX name, or a
 *     restriction class listed in smtpd_restriction_classes.
 *   param_expand(text, out, err): append text expanded against the
 *     configuration; returns 0, or -1 with err (loop, syntax).
 *   param_expand_value(name, out, err): append name's expanded value;
 *     returns 0, or -1 with err naming where the value came from. Does
 *     not use or fill the cache.
 *   param_parse_time(text, unit, &seconds): parse a time value; returns 0,
 *     -1 for bad syntax or unit, -2 on overflow.
 *   param_fatal_bad(name, hint): report name's current value as a
 *     configuration error (msg_fatal, with file and line).
 *   param_dynamic_error(text), param_dynamic_bad(name, hint): for the
 *     dynamic-default functions of param_table.c: record why the default
 *     cannot be computed (the function then returns NULL). The getters
 *     report it as a configuration error once the expansion has unwound
 *     (param_expand and param_expand_value return it in err), so that no
 *     fatal exit happens half-way through an expansion.
 *
 * Strings and arrays returned by the getters belong to this module and
 * stay valid until the next param_load, param_override or param_reset.
 *
 * Errors: a value that is not valid for its type or outside the bounds is
 * a configuration error: msg_fatal naming file, line, parameter and value,
 * e.g. "/etc/postern/main.cf, line 3: bad numerical configuration:
 * max_use = abc". Asking for a name that is not in the table, or for the
 * wrong type, is our bug: msg_panic.
 *
 * SECURITY: main.cf is trusted to the extent that root wrote it, but it is
 * still parsed with bounds (cfg). The configuration directory chosen by
 * -c or MAIL_CONFIG is honoured only when no privilege is gained (see
 * param_config_dir), so a set-gid program cannot be pointed at a user's
 * configuration.
 * LIMITS: those of cfg (line, file, name, expansion size, depth, work);
 * master.cf is read (for the unused-name check) only when needed.
 */
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cfg.h"
#include "htable.h"
#include "mastercf.h"
#include "mem.h"
#include "msg.h"
#include "numparse.h"
#include "param.h"
#include "strbuf.h"
#include "strutil.h"

/* A split list value. */
struct param_listval {
    char  **items;                      /* NULL-terminated */
    size_t  count;
};

/* The loaded configuration: written by param_load/param_override only. */
static struct {
    cfg    *main;                       /* main.cf, NULL before param_load */
    cfg    *over;                       /* overrides */
    char   *config_dir;                 /* as given to param_load */
    char   *main_path;
    htable *str_cache;                  /* name -> expanded value */
    htable *list_cache;                 /* name -> struct param_listval */
    htable *dyn_cache;                  /* name -> computed default */
    htable *dyn_busy;                   /* defaults being computed */
    htable *refs;                       /* names used as $name somewhere */
    htable *services;                   /* master.cf service names, lazily */
    char   *dyn_error;                  /* error from a dynamic default */
} param_st;

#define PARAM_OVERRIDE_ORIGIN   "command line"
#define PARAM_WHERE_MAX         2048    /* a message is cut there anyway */

/* Per-transport parameter suffixes: SERVICE_SUFFIX is a known name when
 * SERVICE is a master.cf service (as Postfix does for its schedulers). */
static const char *const param_transport_suffix[] = {
    "_delivery_slot_cost",
    "_delivery_slot_discount",
    "_delivery_slot_loan",
    "_delivery_status_filter",
    "_destination_concurrency_failed_cohort_limit",
    "_destination_concurrency_limit",
    "_destination_concurrency_negative_feedback",
    "_destination_concurrency_positive_feedback",
    "_destination_rate_delay",
    "_destination_recipient_limit",
    "_extra_recipient_limit",
    "_initial_destination_concurrency",
    "_minimum_delivery_slots",
    "_recipient_limit",
    "_recipient_refill_delay",
    "_recipient_refill_limit",
    "_time_limit",
    "_transport_rate_delay",
};

/* param_free_list: htable destructor for list values. */
static void param_free_list(void *ptr)
{
    struct param_listval *lv = ptr;
    size_t  i;

    for (i = 0; i < lv->count; i++)
        mem_free(lv->items[i]);
    mem_free(lv->items);
    mem_free(lv);
}

/* param_free_str: htable destructor for strings. */
static void param_free_str(void *ptr)
{
    mem_free(ptr);
}

/* param_clear_caches: forget every computed value. */
static void param_clear_caches(void)
{
    param_st.str_cache = htable_free(param_st.str_cache, param_free_str);
    param_st.list_cache = htable_free(param_st.list_cache, param_free_list);
    param_st.dyn_cache = htable_free(param_st.dyn_cache, param_free_str);
    param_st.dyn_busy = htable_free(param_st.dyn_busy, NULL);
    param_st.dyn_error = mem_free(param_st.dyn_error);
}

/* param_reset: forget the whole configuration. */
void param_reset(void)
{
    param_clear_caches();
    param_st.main = cfg_free(param_st.main);
    param_st.over = cfg_free(param_st.over);
    param_st.config_dir = mem_free(param_st.config_dir);
    param_st.main_path = mem_free(param_st.main_path);
    param_st.refs = htable_free(param_st.refs, NULL);
    param_st.services = htable_free(param_st.services, NULL);
}

/* param_config_dir: -c, then MAIL_CONFIG, then the compiled-in default. */
const char *param_config_dir(const char *cli_dir)
{
    int     privileged = getuid() != geteuid() || getgid() != getegid();
    const char *env;

    if (cli_dir && *cli_dir) {
        if (privileged && getuid() != 0
            && strcmp(cli_dir, PARAM_CONFIG_DIR_DEFAULT) != 0) {
            msg_warn("ignoring -c %s: not allowed in a set-uid or set-gid program",
                     cli_dir);
            return PARAM_CONFIG_DIR_DEFAULT;
        }
        return cli_dir;
    }
    /* secure_getenv() returns NULL when the process gained privilege. */
    if ((env = secure_getenv(PARAM_CONFIG_ENV)) != NULL && *env)
        return env;
    return PARAM_CONFIG_DIR_DEFAULT;
}

/* param_need: table entry for name, or panic. */
static const param_def *param_need(const char *name, const char *caller)
{
    const param_def *def = param_def_find(name);

    if (def == NULL)
        msg_panic("%s: unknown parameter \"%s\"", caller, name);
    return def;
}

/* param_default_of: the default of a table entry; NULL while it is
 * being computed (so that a default referring back to itself reads as
 * empty) or when computing it failed (param_st.dyn_error says why). */
static const char *param_default_of(const param_def *def)
{
    char   *value;

    if (def->dynamic == NULL)
        return def->defval;
    if (param_st.dyn_cache && (value = htable_find(param_st.dyn_cache, def->name)) != NULL)
        return value;
    if (param_st.dyn_busy == NULL)
        param_st.dyn_busy = htable_new(8);
    if (htable_has(param_st.dyn_busy, def->name))
        return NULL;
    htable_put(param_st.dyn_busy, def->name, NULL);
    value = def->dynamic();
    (void) htable_remove(param_st.dyn_busy, def->name, NULL);
    if (value == NULL) {
        if (param_st.dyn_error == NULL)
            param_st.dyn_error = str_concat("cannot compute the default of ", def->name,
                                            (char *) NULL);
        return NULL;
    }
    if (param_st.dyn_cache == NULL)
        param_st.dyn_cache = htable_new(8);
    mem_free(htable_put(param_st.dyn_cache, def->name, value));
    return value;
}

/* param_dynamic_error: record why a dynamic default failed (the first
 * reason counts); the function then returns NULL. */
void param_dynamic_error(const char *text)
{
    if (param_st.dyn_error == NULL)
        param_st.dyn_error = mem_strdup(text);
}

/* param_take_error: move a pending dynamic-default error into err;
 * returns -1 when there was one, else 0. */
static int param_take_error(strbuf *err)
{
    if (param_st.dyn_error == NULL)
        return 0;
    if (err) {
        strbuf_reset(err);
        strbuf_puts(err, param_st.dyn_error);
    }
    param_st.dyn_error = mem_free(param_st.dyn_error);
    return -1;
}

/* param_fatal_pending: exit with a pending dynamic-default error. */
static void param_fatal_pending(void)
{
    char    text[2048];

    if (param_st.dyn_error == NULL)
        return;
    (void) str_copy(text, sizeof(text), param_st.dyn_error);
    param_st.dyn_error = mem_free(param_st.dyn_error);
    msg_fatal("%s", text);
}

/* param_lookup_raw: raw value of any name, or NULL (no error checks). */
static const char *param_lookup_raw(const char *name)
{
    const param_def *def;
    const char *value;

    if (param_st.over && (value = cfg_get(param_st.over, name)) != NULL)
        return value;
    if (param_st.main && (value = cfg_get(param_st.main, name)) != NULL)
        return value;
    if (param_st.config_dir && strcmp(name, PARAM_CONFIG_DIRECTORY) == 0)
        return param_st.config_dir;
    if ((def = param_def_find(name)) != NULL)
        return param_default_of(def);
    return NULL;
}

/* param_lookup: raw value of any name, or NULL; a dynamic default that
 * cannot be computed is a configuration error. */
const char *param_lookup(const char *name)
{
    const char *value = param_lookup_raw(name);

    param_fatal_pending();
    return value;
}

/* param_lookup_cb: cfg_expand lookup callback. */
static const char *param_lookup_cb(const char *name, void *ctx)
{
    (void) ctx;
    return param_lookup_raw(name);
}

/* param_where: "PATH, line N: " for where name's value was set, or "". */
static const char *param_where(const char *name, char *buf, size_t size)
{
    const cfg_entry *e = NULL;

    buf[0] = 0;
    if (param_st.over)
        e = cfg_find(param_st.over, name);
    if (e == NULL && param_st.main)
        e = cfg_find(param_st.main, name);
    /* A message cut short is better than none: ignore truncation. */
    if (e && e->line > 0)
        (void) str_format(buf, size, "%s, line %d: ", e->origin, e->line);
    else if (e)
        (void) str_format(buf, size, "%s: ", e->origin);
    return buf;
}

/* param_fatal_kind: report a bad value of one kind and exit. */
static void __attribute__((noreturn)) param_fatal_kind(const char *name, const char *value,
                                                      const char *kind, const char *hint)
{
    char    where[PARAM_WHERE_MAX];

    msg_fatal("%sbad %s configuration: %s = %s%s%s%s",
              param_where(name, where, sizeof(where)),
              kind, name, value, hint ? " (" : "", hint ? hint : "", hint ? ")" : "");
}

/* param_dynamic_bad: record name's value as the reason a dynamic default
 * failed (formatted as param_fatal_bad would). */
void param_dynamic_bad(const char *name, const char *hint)
{
    char    where[PARAM_WHERE_MAX];
    char    text[PARAM_WHERE_MAX];
    const char *value = param_lookup_raw(name);

    (void) str_format(text, sizeof(text), "%sbad parameter value: %s = %s%s%s%s",
                      param_where(name, where, sizeof(where)),
                      name, value ? value : "", hint ? " (" : "", hint ? hint : "",
                      hint ? ")" : "");
    param_dynamic_error(text);
}

/* param_fatal_bad: report name's value as bad and exit. */
void param_fatal_bad(const char *name, const char *hint)
{
    char    where[PARAM_WHERE_MAX];
    const char *value = param_lookup(name);

    msg_fatal("%sbad parameter value: %s = %s%s%s%s",
              param_where(name, where, sizeof(where)),
              name, value ? value : "", hint ? " (" : "", hint ? hint : "",
              hint ? ")" : "");
}

/* param_fatal_err: free err and exit with its text (no leak in tests). */
static void __attribute__((noreturn)) param_fatal_err(strbuf *err)
{
    char    text[PARAM_WHERE_MAX];

    (void) str_copy(text, sizeof(text), strbuf_str(err));
    strbuf_free(err);
    msg_fatal("%s", text);
}

/* param_expand: expand text against the configuration. */
int param_expand(const char *text, strbuf *out, strbuf *err)
{
    size_t  start = out->len;
    int     rc = cfg_expand(text, param_lookup_cb, NULL, out, err);

    if (param_take_error(err) < 0) {
        strbuf_truncate(out, start);
        return -1;
    }
    return rc;
}

/* param_expand_value: expand the value of name, uncached. */
int param_expand_value(const char *name, strbuf *out, strbuf *err)
{
    const param_def *def = param_def_find(name);
    strbuf *msg;
    char    where[PARAM_WHERE_MAX];

    size_t  start = out->len;

    if (def && (def->flags & PARAM_F_RAW)) {
        const char *raw = param_lookup_raw(name);

        if (param_take_error(err) < 0)
            return -1;
        (void) strbuf_puts(out, raw ? raw : "");
        return 0;
    }
    msg = strbuf_new(64);
    if (cfg_expand_name(name, param_lookup_cb, NULL, out, msg) == 0) {
        strbuf_free(msg);
        if (param_take_error(err) < 0) {
            strbuf_truncate(out, start);
            return -1;
        }
        return 0;
    }
    (void) param_take_error(NULL);          /* the syntax error comes first */
    if (err) {
        strbuf_reset(err);
        strbuf_printf(err, "%sbad value of %s: %s",
                      param_where(name, where, sizeof(where)), name, strbuf_str(msg));
    }
    strbuf_free(msg);
    return -1;
}

/* param_str: expanded, cached value. */
const char *param_str(const char *name)
{
    const param_def *def = param_need(name, "param_str");
    strbuf *out;
    strbuf *err;
    char   *value;

    if (def->flags & PARAM_F_RAW)
        return param_raw(name);
    if (param_st.str_cache && (value = htable_find(param_st.str_cache, name)) != NULL)
        return value;
    out = strbuf_new(64);
    err = strbuf_new(64);
    if (param_expand_value(name, out, err) < 0) {
        strbuf_free(out);
        param_fatal_err(err);
    }
    strbuf_free(err);
    value = strbuf_detach(out, NULL);
    if (param_st.str_cache == NULL)
        param_st.str_cache = htable_new(64);
    mem_free(htable_put(param_st.str_cache, name, value));
    return value;
}

/* param_raw: unexpanded value. */
const char *param_raw(const char *name)
{
    const char *value;

    (void) param_need(name, "param_raw");
    value = param_lookup(name);
    return value ? value : "";
}

/* param_default: the table default. */
const char *param_default(const char *name)
{
    const char *value = param_default_of(param_need(name, "param_default"));

    param_fatal_pending();
    return value ? value : "";
}

/* param_typed: value of name, which must have type t. */
static const char *param_typed(const char *name, enum param_type t, const char *caller,
                               const param_def **defp)
{
    const param_def *def = param_need(name, caller);

    if (def->type != t)
        msg_panic("%s: parameter %s is of type %s", caller, name, param_type_name(def->type));
    *defp = def;
    return param_str(name);
}

/* param_bool: yes or no. */
int param_bool(const char *name)
{
    const param_def *def;
    const char *value = param_typed(name, PARAM_BOOL, "param_bool", &def);

    if (str_casecmp(value, "yes") == 0)
        return 1;
    if (str_casecmp(value, "no") == 0)
        return 0;
    param_fatal_kind(name, value, "boolean", "use yes or no");
}

/* param_number: a bounded decimal number. */
static long param_number(const param_def *def, const char *value)
{
    long    n;
    char    hint[100];

    if (num_parse_long(value, LONG_MIN, LONG_MAX, &n) < 0)
        param_fatal_kind(def->name, value, "numerical", NULL);
    if (n < def->min || n > def->max) {
        (void) str_format(hint, sizeof(hint), "allowed: %ld..%ld", def->min, def->max);
        param_fatal_kind(def->name, value, "numerical", hint);
    }
    return n;
}

/* param_int: bounded integer. */
long param_int(const char *name)
{
    const param_def *def;
    const char *value = param_typed(name, PARAM_INT, "param_int", &def);

    return param_number(def, value);
}

/* param_size: bounded byte count. */
long param_size(const char *name)
{
    const param_def *def;
    const char *value = param_typed(name, PARAM_SIZE, "param_size", &def);

    return param_number(def, value);
}

/* param_parse_time: number with an optional unit, in seconds. */
int param_parse_time(const char *text, int unit, long *seconds)
{
    size_t  digits = 0;
    long    n;
    long    mult;

    while (text[digits] >= '0' && text[digits] <= '9')
        digits++;
    if (digits == 0)
        return -1;
    if (text[digits] != 0) {
        if (text[digits + 1] != 0)
            return -1;
        unit = (unsigned char) text[digits];
    }
    switch (unit) {
    case 's':
        mult = 1;
        break;
    case 'm':
        mult = 60;
        break;
    case 'h':
        mult = 3600;
        break;
    case 'd':
        mult = 86400;
        break;
    case 'w':
        mult = 7 * 86400;
        break;
    default:
        return -1;
    }
    if (num_parse_long_n(text, digits, 0, LONG_MAX, &n) < 0 || n > LONG_MAX / mult)
        return -2;
    *seconds = n * mult;
    return 0;
}

/* param_time: a time in seconds. */
long param_time(const char *name)
{
    const param_def *def;
    const char *value = param_typed(name, PARAM_TIME, "param_time", &def);
    long    seconds;
    char    hint[100];
    int     rc;

    if ((rc = param_parse_time(value, def->unit, &seconds)) == -1)
        param_fatal_kind(name, value, "time", "use a number with an optional unit s, m, h, d or w");
    if (rc < 0 || seconds < def->min || seconds > def->max) {
        (void) str_format(hint, sizeof(hint), "allowed: %ld..%ld seconds", def->min, def->max);
        param_fatal_kind(name, value, "time", hint);
    }
    return seconds;
}

/* param_split: split a list value; NULL with err on unbalanced braces. */
static struct param_listval *param_split(const char *text, strbuf *err)
{
    struct param_listval *lv = mem_calloc(1, sizeof(*lv));
    size_t  alloc = 8;
    size_t  i = 0, len = strlen(text);
    const char *seps = ", \t\r\n";

    lv->items = mem_calloc(alloc, sizeof(*lv->items));
    while (i < len) {
        size_t  start, end;
        long    level = 0;
        const char *item;
        size_t  ilen;

        while (i < len && strchr(seps, text[i]) != NULL)
            i++;
        if (i >= len)
            break;
        start = i;
        while (i < len && (level > 0 || strchr(seps, text[i]) == NULL)) {
            if (text[i] == '{') {
                level++;
            } else if (text[i] == '}' && --level < 0) {
                strbuf_puts(err, "unexpected '}'");
                param_free_list(lv);
                return NULL;
            }
            i++;
        }
        if (level > 0) {
            strbuf_puts(err, "missing '}'");
            param_free_list(lv);
            return NULL;
        }
        end = i;
        item = text + start;
        ilen = end - start;
        /* "{ text }" as a whole item: the text without braces. */
        if (item[0] == '{' && item[ilen - 1] == '}') {
            size_t  k;
            long    lev = 0;

            for (k = 0; k < ilen; k++) {
                if (item[k] == '{')
                    lev++;
                else if (item[k] == '}' && --lev == 0)
                    break;
            }
            if (k == ilen - 1) {
                item++;
                ilen -= 2;
                while (ilen > 0 && strchr(" \t\r\n", item[0]) != NULL) {
                    item++;
                    ilen--;
                }
                while (ilen > 0 && strchr(" \t\r\n", item[ilen - 1]) != NULL)
                    ilen--;
            }
        }
        if (lv->count + 1 >= alloc) {
            alloc *= 2;
            lv->items = mem_realloc(lv->items, alloc * sizeof(*lv->items));
        }
        lv->items[lv->count++] = mem_strndup(item, ilen);
        lv->items[lv->count] = NULL;
    }
    return lv;
}

/* param_map_name_ok: 1 if item looks like type:name. */
static int param_map_name_ok(const char *item)
{
    size_t  i = 0;

    while ((item[i] >= 'a' && item[i] <= 'z') || (item[i] >= '0' && item[i] <= '9')
           || item[i] == '_' || item[i] == '-')
        i++;
    return i > 0 && item[i] == ':' && item[i + 1] != 0;
}

/* param_list: the value split into items. */
const char *const *param_list(const char *name, size_t *count)
{
    const param_def *def = param_need(name, "param_list");
    struct param_listval *lv;
    const char *value;
    strbuf *err;
    size_t  i;

    if (def->type != PARAM_LIST && def->type != PARAM_MAPS)
        msg_panic("param_list: parameter %s is of type %s", name, param_type_name(def->type));
    if (param_st.list_cache && (lv = htable_find(param_st.list_cache, name)) != NULL) {
        if (count)
            *count = lv->count;
        return (const char *const *) lv->items;
    }
    value = param_str(name);
    err = strbuf_new(64);
    if ((lv = param_split(value, err)) == NULL) {
        char    hint[300];

        (void) str_copy(hint, sizeof(hint), strbuf_str(err));
        strbuf_free(err);
        param_fatal_kind(name, value, "list", hint);
    }
    strbuf_free(err);
    if (def->type == PARAM_MAPS) {
        for (i = 0; i < lv->count; i++)
            if (!param_map_name_ok(lv->items[i])) {
                char    hint[300];

                (void) str_format(hint, sizeof(hint), "\"%.200s\" is not a type:name table",
                                  lv->items[i]);
                param_free_list(lv);
                param_fatal_kind(name, value, "lookup table", hint);
            }
    }
    if (param_st.list_cache == NULL)
        param_st.list_cache = htable_new(16);
    htable_put(param_st.list_cache, name, lv);
    if (count)
        *count = lv->count;
    return (const char *const *) lv->items;
}

/* param_is_set: 1 when main.cf or an override sets name. */
int param_is_set(const char *name)
{
    return (param_st.over && cfg_get(param_st.over, name) != NULL)
        || (param_st.main && cfg_get(param_st.main, name) != NULL);
}

/* param_add_ref: cfg_refs callback collecting referenced names. */
static void param_add_ref(const char *name, void *ctx)
{
    (void) ctx;
    if (param_st.refs == NULL)
        param_st.refs = htable_new(64);
    htable_put(param_st.refs, name, NULL);
}

/* param_collect_refs: note every $name in the configuration. */
static void param_collect_refs(void)
{
    const param_def *defs;
    size_t  n, i;

    param_st.refs = htable_free(param_st.refs, NULL);
    param_st.refs = htable_new(64);
    defs = param_table(&n);
    for (i = 0; i < n; i++)
        if (defs[i].defval)
            (void) cfg_refs(defs[i].defval, param_add_ref, NULL);
    for (i = 0; param_st.main && i < cfg_count(param_st.main); i++)
        (void) cfg_refs(cfg_entry_at(param_st.main, i)->value, param_add_ref, NULL);
    for (i = 0; param_st.over && i < cfg_count(param_st.over); i++)
        (void) cfg_refs(cfg_entry_at(param_st.over, i)->value, param_add_ref, NULL);
}

/* param_load_services: master.cf service names, read once per load. */
static void param_load_services(void)
{
    strbuf *err;
    char   *path;
    mastercf *m;
    size_t  i;

    if (param_st.services != NULL || param_st.config_dir == NULL)
        return;
    param_st.services = htable_new(32);
    path = str_concat(param_st.config_dir, "/", PARAM_MASTER_CF, (char *) NULL);
    err = strbuf_new(64);
    if ((m = mastercf_load(path, err)) == NULL) {
        if (msg_verbose)
            msg_info("cannot read service names: %s", strbuf_str(err));
    } else {
        for (i = 0; i < mastercf_count(m); i++)
            htable_put(param_st.services, mastercf_get(m, i)->service, NULL);
        mastercf_free(m);
    }
    strbuf_free(err);
    mem_free(path);
}

/* param_is_transport_name: SERVICE_SUFFIX for a master.cf service. */
static int param_is_transport_name(const char *name)
{
    size_t  i, nlen = strlen(name);

    for (i = 0; i < sizeof(param_transport_suffix) / sizeof(param_transport_suffix[0]); i++) {
        size_t  slen = strlen(param_transport_suffix[i]);
        char   *service;
        int     found;

        if (nlen <= slen || strcmp(name + nlen - slen, param_transport_suffix[i]) != 0)
            continue;
        param_load_services();
        service = mem_strndup(name, nlen - slen);
        found = htable_has(param_st.services, service);
        mem_free(service);
        if (found)
            return 1;
    }
    return 0;
}

/* param_is_class_name: a name listed in smtpd_restriction_classes. */
static int param_is_class_name(const char *name)
{
    const char *raw = param_st.main ? cfg_get(param_st.main, PARAM_SMTPD_RESTRICTION_CLASSES) : NULL;
    char   *copy, *cursor, *item;
    int     found = 0;

    if (raw == NULL)
        return 0;
    copy = cursor = mem_strdup(raw);
    while (!found && (item = str_token(&cursor, ", \t\r\n")) != NULL)
        found = (strcmp(item, name) == 0);
    mem_free(copy);
    return found;
}

/* param_is_known: table name or legitimately user-defined name. */
int param_is_known(const char *name)
{
    if (param_def_find(name) != NULL)
        return 1;
    if (param_st.refs && htable_has(param_st.refs, name))
        return 1;
    if (param_is_class_name(name))
        return 1;
    return param_is_transport_name(name);
}

/* param_warn_unused: one warning per main.cf name nobody uses. */
static void param_warn_unused(void)
{
    size_t  i;

    for (i = 0; i < cfg_count(param_st.main); i++) {
        const cfg_entry *e = cfg_entry_at(param_st.main, i);

        if (!param_is_known(e->name))
            msg_warn("%s, line %d: unused parameter: %s=%s",
                     e->origin, e->line, e->name, e->value);
    }
}

/* param_load: read config_dir/main.cf. */
int param_load(const char *config_dir, strbuf *err)
{
    cfg    *cf = cfg_new();
    char   *dir;
    char   *path;
    size_t  len;
    int     rc;

    if (config_dir == NULL)
        config_dir = param_config_dir(NULL);
    dir = mem_strdup(config_dir);
    len = strlen(dir);
    while (len > 1 && dir[len - 1] == '/')
        dir[--len] = 0;
    path = str_concat(dir, strcmp(dir, "/") == 0 ? "" : "/", PARAM_MAIN_CF, (char *) NULL);
    if ((rc = cfg_load_file(cf, path, err)) < 0) {
        cfg_free(cf);
        mem_free(dir);
        mem_free(path);
        return -1;
    }
    if (rc == 1 && msg_verbose)
        msg_info("%s: not found; using default settings", path);
    param_clear_caches();
    param_st.services = htable_free(param_st.services, NULL);
    cfg_free(param_st.main);
    param_st.main = cf;
    mem_free(param_st.config_dir);
    param_st.config_dir = dir;
    mem_free(param_st.main_path);
    param_st.main_path = path;
    param_collect_refs();
    param_warn_unused();
    return rc;
}

/* param_override: set a value above main.cf. */
int param_override(const char *name, const char *value)
{
    if (!cfg_name_valid(name)) {
        msg_warn("ignoring override with bad parameter name \"%.100s\"", name);
        return -1;
    }
    if (param_st.over == NULL)
        param_st.over = cfg_new();
    cfg_set(param_st.over, name, value, PARAM_OVERRIDE_ORIGIN, 0);
    param_clear_caches();
    (void) cfg_refs(value, param_add_ref, NULL);
    return 0;
}

/* param_main_cfg: the parsed main.cf, or NULL. */
const cfg *param_main_cfg(void)
{
    return param_st.main;
}

/* param_main_path: path of the loaded main.cf, or NULL. */
const char *param_main_path(void)
{
    return param_st.main_path;
}
