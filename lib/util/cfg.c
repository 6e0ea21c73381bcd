/*
 * cfg: generic reader, expander and editor for main.cf-format files.
 *
 * Public functions:
 *   cfg_new(): empty object. cfg_free(cf): release everything; returns
 *     NULL; accepts NULL.
 *   cfg_load_file(cf, path, err): read path and parse it as
 *     cfg_parse_text does, with origin = path. Returns 0, 1 when the file
 *     does not exist (cf unchanged), -1 with err "PATH, line N: what".
 *   cfg_parse_text(cf, text, len, origin, err): parse len bytes of text
 *     (not NUL-terminated, may hold anything). Returns 0, or -1 with err
 *     "ORIGIN, line N: what is wrong"; after an error cf may hold the
 *     entries read before it, and callers should discard it. A name
 *     defined again overrides the earlier value with a warning.
 *   cfg_set(cf, name, value, origin, line): add or replace one entry (no
 *     warning; later sets win). All strings are copied.
 *   cfg_get(cf, name): raw value or NULL. cfg_find(cf, name): the entry or
 *     NULL. Pointers stay valid until the entry is replaced or cf freed.
 *   cfg_count(cf), cfg_entry_at(cf, i): the entries in the order their
 *     names were first defined.
 *   cfg_name_valid(name): 1 if name matches [A-Za-z0-9_.-]{1,CFG_NAME_MAX}.
 *   cfg_expand(text, lookup, ctx, out, err): append the expansion of text
 *     to out. lookup(name, ctx) returns the raw value of name (which is
 *     expanded in turn) or NULL when undefined; undefined names expand to
 *     nothing. Returns 0, or -1 with err set and out as it was before.
 *   cfg_expand_name(name, ...): as cfg_expand on "$name", with name on the
 *     loop-detection stack from the start so a loop is reported from it.
 *   cfg_refs(text, fn, ctx): call fn(name, ctx) for every parameter name
 *     text refers to ($name, ${name...}, $(name...), including names in
 *     both branches of conditionals); no lookups are made. Returns 0, or
 *     -1 on a syntax error (names found before it were reported).
 *   cfg_edit_text(text, len, origin, edits, count, out, err): apply edits
 *     to the file text, writing the result to out (replacing its
 *     content). CFG_EDIT_SET replaces the first definition of the name
 *     (its continuation lines are dropped, later duplicate definitions
 *     are deleted so the new value is the one in force) or appends
 *     "name = value" at the end; CFG_EDIT_REMOVE deletes every
 *     definition with its continuation lines; CFG_EDIT_COMMENT puts '#'
 *     before every line of every definition. Comment lines, blank lines
 *     and all other parameters are kept byte for byte. When one name
 *     appears in several edits the last one counts. Returns 0, or -1 with
 *     err (bad name, value with a line break).
 *   cfg_edit_file(path, edits, count, err): read path (a missing file is
 *     empty and is created mode 0644), apply cfg_edit_text, and when the
 *     text changed replace the file atomically: write a temporary file in
 *     the same directory, fsync it, give it the old file's mode (and owner
 *     when run as root), rename it over path, fsync the directory.
 *     Concurrent editors are serialised with flock() on the directory.
 *     Returns 0, or -1 with err; on error the file is untouched and no
 *     temporary file is left.
 *
 * Syntax. A physical line is one of: blank (only white space), comment
 * (first non-blank character '#'), continuation (starts with white space),
 * or the start of a new logical line. Comment and blank lines are ignored
 * wherever they are, even between a parameter and its continuation lines
 * (as Postfix does); a '#' anywhere else is part of the value. A logical
 * line is its first line plus its continuation lines, joined with one
 * space, and must be "name = value"; name is [A-Za-z0-9_.-]+ and white
 * space around '=' and at both ends of the value is dropped. A
 * continuation line before the first parameter is an error; one at the
 * end of the file is fine.
 *
 * Expansion. "$$" is a '$'. "$name" takes the longest run of
 * [A-Za-z0-9_]; "${name}" and "$(name)" may also use '.' and '-'.
 * "${name?text}" is text when name's expanded value is not empty,
 * "${name:text}" is text when it is empty or undefined, and
 * "${name?{text1}:{text2}}" picks one of two; the chosen text is expanded
 * in turn. '$' followed by anything else is kept as it is. An unterminated
 * "${" or "$(", an empty or malformed name, a reference loop (a -> b -> a),
 * more than CFG_EXPAND_DEPTH levels of nesting, more than CFG_EXPAND_WORK
 * lookups and more than CFG_EXPAND_MAX bytes of output are errors.
 *
 * SECURITY: the input text is untrusted in the sense that it comes from a
 * file an admin (or a fuzzer) wrote: every size is bounded, NUL bytes are
 * rejected, errors are returned, never fatal. Expansion work is bounded so
 * that exponential reference chains ("a = $b$b", "b = $c$c", ...) end in
 * an error instead of hanging. cfg_edit_file never follows a temporary
 * name an attacker could prepare: mkstemp creates it exclusively.
 * LIMITS: CFG_LINE_MAX per physical or logical line, CFG_FILE_MAX per
 * file, CFG_NAME_MAX per name, plus the expansion limits above. Editing a
 * symbolic link replaces the link with a regular file.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cfg.h"
#include "fileio.h"
#include "htable.h"
#include "mem.h"
#include "msg.h"
#include "strbuf.h"
#include "strutil.h"

struct cfg {
    cfg_entry *entries;                 /* in order of first definition */
    size_t  count;
    size_t  alloc;
    htable *index;                      /* name -> (index + 1) */
};

/* Physical line kinds. */
#define CFG_LINE_BLANK      0
#define CFG_LINE_COMMENT    1
#define CFG_LINE_CONT       2
#define CFG_LINE_START      3

/* cfg_space: main.cf white space (never the newline, lines are split). */
static int cfg_space(int c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v';
}

/* cfg_bare_char: characters of a bare $name. */
static int cfg_bare_char(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
        || (c >= '0' && c <= '9') || c == '_';
}

/* cfg_name_char: characters of a parameter name. */
static int cfg_name_char(int c)
{
    return cfg_bare_char(c) || c == '.' || c == '-';
}

/* cfg_new: create an empty object. */
cfg    *cfg_new(void)
{
    cfg    *cf = mem_calloc(1, sizeof(*cf));

    cf->index = htable_new(64);
    return cf;
}

/* cfg_free: destroy an object; returns NULL. */
cfg    *cfg_free(cfg *cf)
{
    size_t  i;

    if (cf == NULL)
        return NULL;
    for (i = 0; i < cf->count; i++) {
        mem_free(cf->entries[i].name);
        mem_free(cf->entries[i].value);
        mem_free(cf->entries[i].origin);
    }
    mem_free(cf->entries);
    htable_free(cf->index, NULL);
    mem_free(cf);
    return NULL;
}

/* cfg_index_of: position of name, or -1. */
static long cfg_index_of(const cfg *cf, const char *name)
{
    uintptr_t v = (uintptr_t) htable_find(cf->index, name);

    return v ? (long) (v - 1) : -1;
}

/* cfg_store: add or replace an entry; *existed tells which. */
static void cfg_store(cfg *cf, const char *name, const char *value,
                      size_t vlen, const char *origin, int line, int *existed)
{
    long    idx = cfg_index_of(cf, name);
    cfg_entry *e;

    if (idx >= 0) {
        e = &cf->entries[idx];
        mem_free(e->value);
        mem_free(e->origin);
        *existed = 1;
    } else {
        if (cf->count == cf->alloc) {
            cf->alloc = cf->alloc ? cf->alloc * 2 : 32;
            cf->entries = mem_realloc(cf->entries, cf->alloc * sizeof(*cf->entries));
        }
        e = &cf->entries[cf->count];
        e->name = mem_strdup(name);
        htable_put(cf->index, name, (void *) (uintptr_t) (cf->count + 1));
        cf->count++;
        *existed = 0;
    }
    e->value = mem_strndup(value, vlen);
    e->origin = mem_strdup(origin ? origin : "");
    e->line = line;
}

/* cfg_set: add or replace one entry. */
void cfg_set(cfg *cf, const char *name, const char *value,
             const char *origin, int line)
{
    int     existed;

    cfg_store(cf, name, value, strlen(value), origin, line, &existed);
}

/* cfg_get: raw value of name, or NULL. */
const char *cfg_get(const cfg *cf, const char *name)
{
    const cfg_entry *e = cfg_find(cf, name);

    return e ? e->value : NULL;
}

/* cfg_find: entry for name, or NULL. */
const cfg_entry *cfg_find(const cfg *cf, const char *name)
{
    long    idx = cfg_index_of(cf, name);

    return idx >= 0 ? &cf->entries[idx] : NULL;
}

/* cfg_count: number of entries. */
size_t cfg_count(const cfg *cf)
{
    return cf->count;
}

/* cfg_entry_at: entry number index (in order of first definition). */
const cfg_entry *cfg_entry_at(const cfg *cf, size_t index)
{
    return index < cf->count ? &cf->entries[index] : NULL;
}

/* cfg_name_valid_n: name syntax check on len bytes. */
static int cfg_name_valid_n(const char *name, size_t len)
{
    size_t  i;

    if (len == 0 || len > CFG_NAME_MAX)
        return 0;
    for (i = 0; i < len; i++)
        if (!cfg_name_char((unsigned char) name[i]))
            return 0;
    return 1;
}

/* cfg_name_valid: name syntax check. */
int cfg_name_valid(const char *name)
{
    return cfg_name_valid_n(name, strlen(name));
}

/* cfg_line_kind: classify one physical line. */
static int cfg_line_kind(const char *p, size_t len)
{
    size_t  i = 0;

    while (i < len && cfg_space((unsigned char) p[i]))
        i++;
    if (i == len)
        return CFG_LINE_BLANK;
    if (p[i] == '#')
        return CFG_LINE_COMMENT;
    return i > 0 ? CFG_LINE_CONT : CFG_LINE_START;
}

/* cfg_trim_span: drop white space at both ends of [*p, *p + *len). */
static void cfg_trim_span(const char **p, size_t *len)
{
    while (*len > 0 && cfg_space((unsigned char) (*p)[0])) {
        (*p)++;
        (*len)--;
    }
    while (*len > 0 && cfg_space((unsigned char) (*p)[*len - 1]))
        (*len)--;
}

/* cfg_show: a short printable excerpt for error messages. */
static const char *cfg_show(strbuf *tmp, const char *p, size_t len)
{
    strbuf_reset(tmp);
    if (len > 60) {
        (void) strbuf_append(tmp, p, 60);
        (void) strbuf_puts(tmp, "...");
    } else {
        (void) strbuf_append(tmp, p, len);
    }
    return strbuf_str(tmp);
}

/* cfg_finish_logical: parse "name = value" and store it. */
static int cfg_finish_logical(cfg *cf, const strbuf *logical, const char *origin,
                              int line, strbuf *err)
{
    const char *text = logical->data;
    const char *eq = memchr(text, '=', logical->len);
    const char *name = text;
    size_t  nlen;
    const char *value;
    size_t  vlen;
    char    nbuf[CFG_NAME_MAX + 1];
    strbuf *tmp;
    int     existed;

    tmp = strbuf_new(80);
    if (eq == NULL) {
        strbuf_setf(err, "%s, line %d: missing '=' after parameter name: \"%s\"",
                   origin, line, cfg_show(tmp, text, logical->len));
        strbuf_free(tmp);
        return -1;
    }
    nlen = (size_t) (eq - text);
    cfg_trim_span(&name, &nlen);
    if (nlen == 0) {
        strbuf_setf(err, "%s, line %d: missing parameter name before '='", origin, line);
        strbuf_free(tmp);
        return -1;
    }
    if (!cfg_name_valid_n(name, nlen)) {
        strbuf_setf(err, "%s, line %d: bad parameter name: \"%s\"",
                   origin, line, cfg_show(tmp, name, nlen));
        strbuf_free(tmp);
        return -1;
    }
    memcpy(nbuf, name, nlen);
    nbuf[nlen] = 0;
    value = eq + 1;
    vlen = logical->len - (size_t) (value - text);
    cfg_trim_span(&value, &vlen);
    {
        const cfg_entry *old = cfg_find(cf, nbuf);

        if (old)
            msg_warn("%s, line %d: overriding earlier entry: %s=%s",
                     origin, line, old->name, old->value);
    }
    cfg_store(cf, nbuf, value, vlen, origin, line, &existed);
    strbuf_free(tmp);
    return 0;
}

/* cfg_parse_text: parse a main.cf-format text. */
int cfg_parse_text(cfg *cf, const char *text, size_t len, const char *origin,
                   strbuf *err)
{
    strbuf *logical = strbuf_new(256);
    int     have_logical = 0;
    int     logical_line = 0;
    int     lineno = 0;
    size_t  pos = 0;
    int     rc = 0;

    if (origin == NULL)
        origin = "(text)";
    if (len > CFG_FILE_MAX) {
        strbuf_setf(err, "%s: file larger than %d bytes", origin, CFG_FILE_MAX);
        strbuf_free(logical);
        return -1;
    }
    strbuf_set_limit(logical, CFG_LINE_MAX);
    while (pos < len && rc == 0) {
        const char *line = text + pos;
        const char *nl = memchr(line, '\n', len - pos);
        size_t  llen = nl ? (size_t) (nl - line) : len - pos;
        const char *body;
        size_t  blen;

        pos += llen + (nl ? 1 : 0);
        if (lineno == INT_MAX) {
            strbuf_setf(err, "%s: too many lines", origin);
            rc = -1;
            break;
        }
        lineno++;
        if (llen > CFG_LINE_MAX) {
            strbuf_setf(err, "%s, line %d: line is longer than %d bytes",
                       origin, lineno, CFG_LINE_MAX);
            rc = -1;
            break;
        }
        if (memchr(line, 0, llen) != NULL) {
            strbuf_setf(err, "%s, line %d: line contains a NUL byte", origin, lineno);
            rc = -1;
            break;
        }
        switch (cfg_line_kind(line, llen)) {
        case CFG_LINE_BLANK:
        case CFG_LINE_COMMENT:
            break;
        case CFG_LINE_CONT:
            if (!have_logical) {
                strbuf_setf(err, "%s, line %d: continuation line (starting with"
                           " white space) before the first parameter",
                           origin, lineno);
                rc = -1;
                break;
            }
            body = line;
            blen = llen;
            cfg_trim_span(&body, &blen);
            /* Join with exactly one space: drop what trails the text so far. */
            while (logical->len > 0 && cfg_space((unsigned char) logical->data[logical->len - 1]))
                strbuf_truncate(logical, logical->len - 1);
            if (strbuf_putc(logical, ' ') < 0 || strbuf_append(logical, body, blen) < 0) {
                strbuf_setf(err, "%s, line %d: logical line is longer than %d bytes",
                           origin, logical_line, CFG_LINE_MAX);
                rc = -1;
            }
            break;
        default:                                /* CFG_LINE_START */
            if (have_logical)
                rc = cfg_finish_logical(cf, logical, origin, logical_line, err);
            if (rc == 0) {
                (void) strbuf_set(logical, line, llen);
                have_logical = 1;
                logical_line = lineno;
            }
            break;
        }
    }
    if (rc == 0 && have_logical)
        rc = cfg_finish_logical(cf, logical, origin, logical_line, err);
    strbuf_free(logical);
    return rc;
}

/* cfg_load_file: read and parse a main.cf-format file. */
int cfg_load_file(cfg *cf, const char *path, strbuf *err)
{
    strbuf *buf = strbuf_new(4096);
    int     rc;

    rc = fileio_read_all(path, CFG_FILE_MAX, buf, err);
    if (rc == 0)
        rc = cfg_parse_text(cf, buf->data, buf->len, path, err);
    strbuf_free(buf);
    return rc;
}

 /*
  * Expansion.
  */
struct cfg_exp {
    cfg_lookup_fn lookup;
    void   *ctx;
    cfg_ref_fn ref_fn;                  /* non-NULL: only report names */
    void   *ref_ctx;
    const char *stack[CFG_EXPAND_DEPTH + 1];    /* names being expanded */
    size_t  nstack;
    size_t  base;                       /* names the caller knows about */
    int     depth;                      /* names + conditional texts */
    unsigned long work;
    strbuf *err;
};

static int cfg_exp_text(struct cfg_exp *x, const char *text, size_t len, strbuf *out);

/* cfg_exp_fail: set the error, naming the value it occurred in. */
static int __attribute__((format(printf, 2, 3))) cfg_exp_fail(struct cfg_exp *x, const char *fmt, ...)
{
    va_list ap;

    if (x->err == NULL)
        return -1;
    strbuf_reset(x->err);
    va_start(ap, fmt);
    (void) strbuf_vprintf(x->err, fmt, ap);
    va_end(ap);
    if (x->nstack > x->base)
        (void) strbuf_printf(x->err, " (in the value of %s)", x->stack[x->nstack - 1]);
    return -1;
}

/* cfg_exp_put: append expansion output, enforcing the size limit. */
static int cfg_exp_put(struct cfg_exp *x, strbuf *out, const char *p, size_t n)
{
    if (out == NULL || n == 0)
        return 0;
    if (strbuf_append(out, p, n) < 0)
        return cfg_exp_fail(x, "expansion result is longer than %d bytes", CFG_EXPAND_MAX);
    return 0;
}

/* cfg_exp_enter: count one nesting level, failing past the limit. */
static int cfg_exp_enter(struct cfg_exp *x)
{
    if (x->depth >= CFG_EXPAND_DEPTH)
        return cfg_exp_fail(x, "parameter references nested more than %d levels deep",
                            CFG_EXPAND_DEPTH);
    x->depth++;
    return 0;
}

/* cfg_exp_name: append the expanded value of one name. */
static int cfg_exp_name(struct cfg_exp *x, const char *name, strbuf *out)
{
    const char *value;
    size_t  i;
    int     rc;

    if (++x->work > CFG_EXPAND_WORK)
        return cfg_exp_fail(x, "more than %d parameter references in one expansion",
                            CFG_EXPAND_WORK);
    if (x->ref_fn) {
        x->ref_fn(name, x->ref_ctx);
        return 0;
    }
    for (i = 0; i < x->nstack; i++) {
        if (strcmp(x->stack[i], name) == 0) {
            if (x->err) {
                size_t  j;

                strbuf_reset(x->err);
                (void) strbuf_puts(x->err, "parameter reference loop: ");
                for (j = i; j < x->nstack; j++)
                    (void) strbuf_printf(x->err, "%s -> ", x->stack[j]);
                (void) strbuf_puts(x->err, name);
            }
            return -1;
        }
    }
    if ((value = x->lookup(name, x->ctx)) == NULL)
        return 0;
    if (cfg_exp_enter(x) < 0)
        return -1;
    x->stack[x->nstack++] = name;
    rc = cfg_exp_text(x, value, strlen(value), out);
    x->nstack--;
    x->depth--;
    return rc;
}

/* cfg_exp_nonempty: 1 if name's expanded value is not empty, 0 if it is
 * empty or undefined, -1 on error. */
static int cfg_exp_nonempty(struct cfg_exp *x, const char *name)
{
    const char *value = x->lookup(name, x->ctx);
    strbuf *tmp;
    int     rc;

    if (value == NULL)
        return 0;
    if (strchr(value, '$') == NULL)
        return *value != 0;
    tmp = strbuf_new(64);
    strbuf_set_limit(tmp, CFG_EXPAND_MAX);
    rc = cfg_exp_name(x, name, tmp);
    if (rc == 0)
        rc = tmp->len > 0;
    strbuf_free(tmp);
    return rc;
}

/* cfg_match: index of the close that balances the open at text[start]. */
static long cfg_match(const char *text, size_t len, size_t start, int open, int close)
{
    size_t  i;
    long    level = 0;

    for (i = start; i < len; i++) {
        if (text[i] == open) {
            level++;
        } else if (text[i] == close) {
            if (--level == 0)
                return (long) i;
        }
    }
    return -1;
}

/* cfg_skip_space: index of the first non-blank at or after i. */
static size_t cfg_skip_space(const char *text, size_t len, size_t i)
{
    while (i < len && cfg_space((unsigned char) text[i]))
        i++;
    return i;
}

/* cfg_exp_braced: handle "${...}" or "$(...)" at text[*ip]; advances *ip. */
static int cfg_exp_braced(struct cfg_exp *x, const char *text, size_t len,
                          size_t *ip, strbuf *out)
{
    size_t  i = *ip;
    int     open = text[i + 1];
    int     close = (open == '{') ? '}' : ')';
    size_t  ns = i + 2, j = ns, k;
    char    name[CFG_NAME_MAX + 1];
    const char *t1 = NULL, *t2 = NULL;
    size_t  t1len = 0, t2len = 0;
    int     op;
    long    end;
    int     rc;

    while (j < len && cfg_name_char((unsigned char) text[j]))
        j++;
    if (j >= len)
        return cfg_exp_fail(x, "unterminated \"$%c\"", open);
    if (j == ns)
        return cfg_exp_fail(x, "missing parameter name after \"$%c\"", open);
    if (j - ns > CFG_NAME_MAX)
        return cfg_exp_fail(x, "parameter name after \"$%c\" is longer than %d bytes",
                            open, CFG_NAME_MAX);
    memcpy(name, text + ns, j - ns);
    name[j - ns] = 0;
    op = text[j];
    if (op == close) {
        *ip = j + 1;
        return cfg_exp_name(x, name, out);
    }
    if (op != '?' && op != ':')
        return cfg_exp_fail(x, "unexpected character '%c' after \"$%c%s\"",
                            op, open, name);
    k = cfg_skip_space(text, len, j + 1);
    if (k < len && text[k] == '{') {
        /* ${name?{text1}:{text2}} and ${name:{text}} */
        if ((end = cfg_match(text, len, k, '{', '}')) < 0)
            return cfg_exp_fail(x, "unterminated \"{\" in \"$%c%s%c\"", open, name, op);
        t1 = text + k + 1;
        t1len = (size_t) end - k - 1;
        k = cfg_skip_space(text, len, (size_t) end + 1);
        if (op == '?' && k < len && text[k] == ':') {
            k = cfg_skip_space(text, len, k + 1);
            if (k >= len || text[k] != '{')
                return cfg_exp_fail(x, "expected \"{\" after \":\" in \"$%c%s?\"", open, name);
            if ((end = cfg_match(text, len, k, '{', '}')) < 0)
                return cfg_exp_fail(x, "unterminated \"{\" in \"$%c%s?\"", open, name);
            t2 = text + k + 1;
            t2len = (size_t) end - k - 1;
            k = cfg_skip_space(text, len, (size_t) end + 1);
        }
        if (k >= len)
            return cfg_exp_fail(x, "unterminated \"$%c\"", open);
        if (text[k] != close)
            return cfg_exp_fail(x, "expected \"%c\" after conditional text in \"$%c%s%c\"",
                                close, open, name, op);
        *ip = k + 1;
    } else {
        /* ${name?text} and ${name:text}: text runs to the balancing close. */
        size_t  level = 1;

        for (k = j + 1; k < len; k++) {
            if (text[k] == open)
                level++;
            else if (text[k] == close && --level == 0)
                break;
        }
        if (k >= len)
            return cfg_exp_fail(x, "unterminated \"$%c\"", open);
        t1 = text + j + 1;
        t1len = k - j - 1;
        *ip = k + 1;
    }

    if (x->ref_fn) {
        x->ref_fn(name, x->ref_ctx);
        if (cfg_exp_enter(x) < 0)
            return -1;
        rc = cfg_exp_text(x, t1, t1len, NULL);
        if (rc == 0 && t2)
            rc = cfg_exp_text(x, t2, t2len, NULL);
        x->depth--;
        return rc;
    }
    if ((rc = cfg_exp_nonempty(x, name)) < 0)
        return -1;
    if (op == '?') {
        if (!rc) {
            t1 = t2;
            t1len = t2len;
        }
    } else if (rc) {
        t1 = NULL;
    }
    if (t1 == NULL || t1len == 0)
        return 0;
    if (cfg_exp_enter(x) < 0)
        return -1;
    rc = cfg_exp_text(x, t1, t1len, out);
    x->depth--;
    return rc;
}

/* cfg_exp_text: append the expansion of len bytes of text. */
static int cfg_exp_text(struct cfg_exp *x, const char *text, size_t len, strbuf *out)
{
    size_t  i = 0;

    while (i < len) {
        const char *dollar = memchr(text + i, '$', len - i);
        size_t  stop = dollar ? (size_t) (dollar - text) : len;
        int     next;

        if (cfg_exp_put(x, out, text + i, stop - i) < 0)
            return -1;
        i = stop;
        if (i >= len)
            break;
        next = (i + 1 < len) ? (unsigned char) text[i + 1] : -1;
        if (next == '$') {
            if (cfg_exp_put(x, out, "$", 1) < 0)
                return -1;
            i += 2;
        } else if (next == '{' || next == '(') {
            if (cfg_exp_braced(x, text, len, &i, out) < 0)
                return -1;
        } else if (next >= 0 && cfg_bare_char(next)) {
            char    name[CFG_NAME_MAX + 1];
            size_t  j = i + 1;

            while (j < len && cfg_bare_char((unsigned char) text[j]))
                j++;
            if (j - i - 1 > CFG_NAME_MAX)
                return cfg_exp_fail(x, "parameter name after \"$\" is longer than %d bytes",
                                    CFG_NAME_MAX);
            memcpy(name, text + i + 1, j - i - 1);
            name[j - i - 1] = 0;
            i = j;
            if (cfg_exp_name(x, name, out) < 0)
                return -1;
        } else {
            /* A '$' that starts no reference stands for itself. */
            if (cfg_exp_put(x, out, "$", 1) < 0)
                return -1;
            i++;
        }
    }
    return 0;
}

/* cfg_exp_run: common driver for cfg_expand and cfg_expand_name. */
static int cfg_exp_run(const char *name, const char *text, cfg_lookup_fn lookup,
                       void *ctx, strbuf *out, strbuf *err)
{
    struct cfg_exp x;
    size_t  start = out->len;
    size_t  old_limit = out->limit;
    size_t  limit = start + CFG_EXPAND_MAX;
    int     rc;

    memset(&x, 0, sizeof(x));
    x.lookup = lookup;
    x.ctx = ctx;
    x.err = err;
    if (old_limit != 0 && old_limit < limit)
        limit = old_limit;
    strbuf_set_limit(out, limit);
    /* The caller of cfg_expand_name knows whose value it is. */
    x.base = name ? 1 : 0;
    if (name)
        rc = cfg_exp_name(&x, name, out);
    else
        rc = cfg_exp_text(&x, text, strlen(text), out);
    strbuf_set_limit(out, old_limit);
    if (rc < 0)
        strbuf_truncate(out, start);
    return rc;
}

/* cfg_expand: append the expansion of text to out. */
int cfg_expand(const char *text, cfg_lookup_fn lookup, void *ctx,
               strbuf *out, strbuf *err)
{
    return cfg_exp_run(NULL, text, lookup, ctx, out, err);
}

/* cfg_expand_name: append the expanded value of name to out. */
int cfg_expand_name(const char *name, cfg_lookup_fn lookup, void *ctx,
                    strbuf *out, strbuf *err)
{
    return cfg_exp_run(name, NULL, lookup, ctx, out, err);
}

/* cfg_refs: report every name text refers to, without lookups. */
int cfg_refs(const char *text, cfg_ref_fn fn, void *ctx)
{
    struct cfg_exp x;

    memset(&x, 0, sizeof(x));
    x.ref_fn = fn;
    x.ref_ctx = ctx;
    return cfg_exp_text(&x, text, strlen(text), NULL);
}

 /*
  * Editing.
  */

/* cfg_edit_find: index of the last edit for name (len bytes), or -1. */
static long cfg_edit_find(const cfg_edit *edits, size_t count, const char *name, size_t len)
{
    size_t  i;

    for (i = count; i-- > 0;)
        if (strlen(edits[i].name) == len && memcmp(edits[i].name, name, len) == 0)
            return (long) i;
    return -1;
}

/* cfg_edit_line: write "name = value\n". */
static void cfg_edit_line(strbuf *out, const cfg_edit *e)
{
    if (*e->value)
        (void) strbuf_printf(out, "%s = %s\n", e->name, e->value);
    else
        (void) strbuf_printf(out, "%s =\n", e->name);
}

/* cfg_edit_text: apply edits to a main.cf text. */
int cfg_edit_text(const char *text, size_t len, const char *origin,
                  const cfg_edit *edits, size_t count, strbuf *out, strbuf *err)
{
    char   *done;
    size_t  pos = 0;
    size_t  i;
    enum {
        CFG_CONT_KEEP, CFG_CONT_DROP, CFG_CONT_COMMENT
    }       cont = CFG_CONT_KEEP;

    if (origin == NULL)
        origin = "(text)";
    strbuf_reset(out);
    for (i = 0; i < count; i++) {
        if (!cfg_name_valid(edits[i].name)) {
            strbuf_setf(err, "bad parameter name: \"%.100s\"", edits[i].name);
            return -1;
        }
        if (edits[i].op == CFG_EDIT_SET) {
            if (edits[i].value == NULL || strpbrk(edits[i].value, "\r\n") != NULL) {
                strbuf_setf(err, "value for %s contains a line break", edits[i].name);
                return -1;
            }
            if (strlen(edits[i].value) > CFG_LINE_MAX - CFG_NAME_MAX - 4) {
                strbuf_setf(err, "value for %s is longer than %d bytes",
                           edits[i].name, CFG_LINE_MAX - CFG_NAME_MAX - 4);
                return -1;
            }
        }
    }
    if (len > CFG_FILE_MAX) {
        strbuf_setf(err, "%s: file larger than %d bytes", origin, CFG_FILE_MAX);
        return -1;
    }
    done = mem_calloc(count + 1, 1);
    while (pos < len) {
        const char *line = text + pos;
        const char *nl = memchr(line, '\n', len - pos);
        size_t  llen = nl ? (size_t) (nl - line) + 1 : len - pos;
        size_t  nlen;
        long    idx;

        pos += llen;
        switch (cfg_line_kind(line, nl ? llen - 1 : llen)) {
        case CFG_LINE_CONT:
            if (cont == CFG_CONT_COMMENT)
                (void) strbuf_putc(out, '#');
            if (cont != CFG_CONT_DROP)
                (void) strbuf_append(out, line, llen);
            break;
        case CFG_LINE_START:
            for (nlen = 0; nlen < llen && cfg_name_char((unsigned char) line[nlen]); nlen++)
                 /* void */ ;
            /* The name must end at white space or '=' to be this entry. */
            if (nlen < llen && line[nlen] != '=' && line[nlen] != '\n'
                && !cfg_space((unsigned char) line[nlen]))
                idx = -1;
            else
                idx = cfg_edit_find(edits, count, line, nlen);
            if (idx < 0) {
                cont = CFG_CONT_KEEP;
                (void) strbuf_append(out, line, llen);
                break;
            }
            switch (edits[idx].op) {
            case CFG_EDIT_SET:
                if (!done[idx])
                    cfg_edit_line(out, &edits[idx]);
                cont = CFG_CONT_DROP;
                break;
            case CFG_EDIT_REMOVE:
                cont = CFG_CONT_DROP;
                break;
            default:
                (void) strbuf_putc(out, '#');
                (void) strbuf_append(out, line, llen);
                cont = CFG_CONT_COMMENT;
                break;
            }
            done[idx] = 1;
            break;
        default:                                /* blank or comment: keep */
            (void) strbuf_append(out, line, llen);
            break;
        }
    }
    for (i = 0; i < count; i++) {
        if (edits[i].op != CFG_EDIT_SET || done[i]
            || cfg_edit_find(edits, count, edits[i].name, strlen(edits[i].name)) != (long) i)
            continue;
        /* A last line without a newline gets one before new text. */
        if (out->len > 0 && out->data[out->len - 1] != '\n')
            (void) strbuf_putc(out, '\n');
        cfg_edit_line(out, &edits[i]);
    }
    mem_free(done);
    return 0;
}

/* cfg_edit_file: edit a main.cf-format file in place, atomically. */
int cfg_edit_file(const char *path, const cfg_edit *edits, size_t count, strbuf *err)
{
    strbuf *in = strbuf_new(4096);
    strbuf *out = strbuf_new(4096);
    char   *dir;
    char   *slash;
    char   *tmp = NULL;
    int     dirfd = -1;
    int     fd = -1;
    int     rc = -1;
    int     missing;
    struct stat st;

    dir = mem_strdup(path);
    if ((slash = strrchr(dir, '/')) == NULL) {
        mem_free(dir);
        dir = mem_strdup(".");
    } else if (slash == dir) {
        slash[1] = 0;
    } else {
        *slash = 0;
    }
    if ((dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
        strbuf_setf(err, "open directory %s: %s", dir, strerror(errno));
        goto out;
    }
    if (flock(dirfd, LOCK_EX) < 0) {
        strbuf_setf(err, "lock directory %s: %s", dir, strerror(errno));
        goto out;
    }
    if ((missing = fileio_read_all(path, CFG_FILE_MAX, in, err)) < 0)
        goto out;
    if (cfg_edit_text(in->data, in->len, path, edits, count, out, err) < 0)
        goto out;
    if (!missing && out->len == in->len && memcmp(out->data, in->data, in->len) == 0) {
        rc = 0;                                 /* nothing to change */
        goto out;
    }
    if (missing) {
        st.st_mode = 0644;
    } else if (stat(path, &st) < 0) {
        strbuf_setf(err, "stat %s: %s", path, strerror(errno));
        goto out;
    }
    tmp = str_concat(path, ".XXXXXX", (char *) NULL);
    if ((fd = mkostemp(tmp, O_CLOEXEC)) < 0) {
        strbuf_setf(err, "create temporary file %s: %s", tmp, strerror(errno));
        tmp = mem_free(tmp);
        goto out;
    }
    if (fchmod(fd, st.st_mode & 07777) < 0) {
        strbuf_setf(err, "chmod %s: %s", tmp, strerror(errno));
        goto out;
    }
    if (!missing && geteuid() == 0 && fchown(fd, st.st_uid, st.st_gid) < 0) {
        strbuf_setf(err, "chown %s: %s", tmp, strerror(errno));
        goto out;
    }
    if (fileio_write_all(fd, out->data, out->len) < 0) {
        strbuf_setf(err, "write %s: %s", tmp, strerror(errno));
        goto out;
    }
    if (fsync(fd) < 0) {
        strbuf_setf(err, "fsync %s: %s", tmp, strerror(errno));
        goto out;
    }
    if (close(fd) < 0) {
        fd = -1;
        strbuf_setf(err, "close %s: %s", tmp, strerror(errno));
        goto out;
    }
    fd = -1;
    if (rename(tmp, path) < 0) {
        strbuf_setf(err, "rename %s to %s: %s", tmp, path, strerror(errno));
        goto out;
    }
    tmp = mem_free(tmp);
    /* The rename is durable only once the directory is on disk too. */
    if (fsync(dirfd) < 0 && errno != EINVAL && errno != EROFS) {
        strbuf_setf(err, "fsync directory %s: %s", dir, strerror(errno));
        goto out;
    }
    rc = 0;

out:
    if (fd >= 0)
        close(fd);
    if (tmp) {
        (void) unlink(tmp);
        mem_free(tmp);
    }
    if (dirfd >= 0)
        close(dirfd);                           /* also drops the lock */
    mem_free(dir);
    strbuf_free(in);
    strbuf_free(out);
    return rc;
}
