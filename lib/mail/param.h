/*
 * param: the parameter table and typed access to main.cf settings.
 *
 * There is one table (param_table.c) listing every parameter Postern
 * knows: name, type, default exactly as Postfix writes it (it may refer to
 * other parameters with $name), bounds, default time unit, flags and the
 * man page that documents it. Loading, $name expansion, the typed
 * getters, "postconf -d/-n" and the unknown-name warning are all driven
 * by it; nobody keeps a private default.
 *
 * Typical use in a program:
 *     if (param_load(param_config_dir(opt_c), err) < 0)
 *         msg_fatal("%s", strbuf_str(err));
 *     param_override(name, value);            (for each -o name=value)
 *     limit = param_size(PARAM_MESSAGE_SIZE_LIMIT);
 *
 * See param.c for every function's contract.
 */
#ifndef POSTERN_PARAM_H
#define POSTERN_PARAM_H

#include <stddef.h>

#include "cfg.h"
#include "param_names.h"
#include "strbuf.h"

/* The compiled-in configuration directory (the Makefile passes
 * config_directory as -DPARAM_CONFIG_DIR_DEFAULT, see "make install"). */
#ifndef PARAM_CONFIG_DIR_DEFAULT
#define PARAM_CONFIG_DIR_DEFAULT "/etc/postern"
#endif
#define PARAM_MAIN_CF           "main.cf"
#define PARAM_MASTER_CF         "master.cf"
#define PARAM_CONFIG_ENV        "MAIL_CONFIG"

enum param_type {
    PARAM_STR,                          /* text */
    PARAM_BOOL,                         /* yes or no */
    PARAM_INT,                          /* decimal number within min..max */
    PARAM_TIME,                         /* number + unit s/m/h/d/w, in seconds */
    PARAM_SIZE,                         /* number of bytes within min..max */
    PARAM_LIST,                         /* items separated by comma or space */
    PARAM_MAPS                          /* list of type:name lookup tables */
};

/* Flags. */
#define PARAM_F_RAW     (1 << 0)        /* never expanded: $x is literal text
                                         * for the program that uses it */

/* A dynamic default: returns a new string (the table owner frees it). */
typedef char *(*param_dynamic_fn) (void);

typedef struct param_def {
    const char *name;                   /* a PARAM_xxx constant */
    enum param_type type;
    const char *defval;                 /* as Postfix writes it; NULL when dynamic */
    param_dynamic_fn dynamic;           /* computes the default, or NULL */
    long    min;                        /* INT, SIZE, TIME (in seconds) */
    long    max;
    char    unit;                       /* TIME: unit of a bare number */
    int     flags;                      /* PARAM_F_xxx */
    const char *man;                    /* page holding the ".SS name" entry */
} param_def;

/* The table (param_table.c). */
const param_def *param_table(size_t *count);
const param_def *param_def_find(const char *name);
const char *param_type_name(enum param_type type);

/* Loading. */
const char *param_config_dir(const char *cli_dir);
int     param_load(const char *config_dir, strbuf *err);
int     param_override(const char *name, const char *value);
void    param_reset(void);
const cfg *param_main_cfg(void);
const char *param_main_path(void);

/* Values. */
const char *param_str(const char *name);
const char *param_raw(const char *name);
const char *param_default(const char *name);
int     param_bool(const char *name);
long    param_int(const char *name);
long    param_time(const char *name);
long    param_size(const char *name);
const char *const *param_list(const char *name, size_t *count);
int     param_is_set(const char *name);

/* For tools (postconf) and for expanding text against the configuration. */
const char *param_lookup(const char *name);
int     param_is_known(const char *name);
int     param_expand(const char *text, strbuf *out, strbuf *err);
int     param_expand_value(const char *name, strbuf *out, strbuf *err);
int     param_parse_time(const char *text, int unit, long *seconds);
void    param_fatal_bad(const char *name, const char *hint)
            __attribute__((noreturn));

/* For dynamic-default functions (param_table.c): report, return NULL. */
void    param_dynamic_error(const char *text);
void    param_dynamic_bad(const char *name, const char *hint);

#endif
