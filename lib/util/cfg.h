/*
 * cfg: generic reader, expander and editor for files in the main.cf format.
 *
 * A cfg object maps parameter names to raw values (exactly as written,
 * unexpanded) and remembers where each came from (origin = file path or a
 * label, plus the line number; line 0 means "not from a file"). Entries
 * keep the order in which their names first appeared.
 *
 * The syntax (see cfg.c for the details and limits):
 *     # comment                   (first non-blank character is '#')
 *     name = value                (white space around '=' and at the ends
 *         more value              of the value is dropped; a line that
 *                                 starts with white space continues the
 *                                 previous parameter, joined by one space)
 *
 * Expansion (cfg_expand) understands $name, ${name}, $(name), $$,
 * ${name?text}, ${name:text} and ${name?{text}:{text}}.
 *
 * Editing (cfg_edit_text, cfg_edit_file) sets, removes or comments out
 * parameters while keeping every other line of the file as it was.
 * Nothing here knows which parameter names exist; that is lib/mail/param.
 */
#ifndef POSTERN_CFG_H
#define POSTERN_CFG_H

#include <stddef.h>

#include "strbuf.h"

#define CFG_LINE_MAX    (1024 * 1024)   /* one line, physical or logical */
#define CFG_FILE_MAX    (16 * 1024 * 1024)      /* one whole file */
#define CFG_NAME_MAX    256             /* one parameter name */
#define CFG_EXPAND_DEPTH 100            /* nested names and conditionals */
#define CFG_EXPAND_MAX  (4 * 1024 * 1024)       /* bytes one expansion adds */
#define CFG_EXPAND_WORK 100000          /* name lookups per expansion */

typedef struct cfg cfg;

/* One parameter; read-only for callers. */
typedef struct cfg_entry {
    char   *name;
    char   *value;                      /* raw, unexpanded */
    char   *origin;                     /* file path or label */
    int     line;                       /* line of the definition, 0 = none */
} cfg_entry;

cfg    *cfg_new(void);
cfg    *cfg_free(cfg *cf);
int     cfg_load_file(cfg *cf, const char *path, strbuf *err);
int     cfg_parse_text(cfg *cf, const char *text, size_t len,
                       const char *origin, strbuf *err);
void    cfg_set(cfg *cf, const char *name, const char *value,
                const char *origin, int line);
const char *cfg_get(const cfg *cf, const char *name);
const cfg_entry *cfg_find(const cfg *cf, const char *name);
size_t  cfg_count(const cfg *cf);
const cfg_entry *cfg_entry_at(const cfg *cf, size_t index);
int     cfg_name_valid(const char *name);

/* Expansion: lookup returns a raw value (expanded in turn) or NULL. */
typedef const char *(*cfg_lookup_fn) (const char *name, void *ctx);
typedef void (*cfg_ref_fn) (const char *name, void *ctx);

int     cfg_expand(const char *text, cfg_lookup_fn lookup, void *ctx,
                   strbuf *out, strbuf *err);
int     cfg_expand_name(const char *name, cfg_lookup_fn lookup, void *ctx,
                        strbuf *out, strbuf *err);
int     cfg_refs(const char *text, cfg_ref_fn fn, void *ctx);

/* Editing. */
enum cfg_edit_op {
    CFG_EDIT_SET,                       /* replace in place, or append */
    CFG_EDIT_REMOVE,                    /* delete every definition */
    CFG_EDIT_COMMENT                    /* prefix every definition with '#' */
};

typedef struct cfg_edit {
    enum cfg_edit_op op;
    const char *name;
    const char *value;                  /* CFG_EDIT_SET only */
} cfg_edit;

int     cfg_edit_text(const char *text, size_t len, const char *origin,
                      const cfg_edit *edits, size_t count,
                      strbuf *out, strbuf *err);
int     cfg_edit_file(const char *path, const cfg_edit *edits, size_t count,
                      strbuf *err);

#endif
