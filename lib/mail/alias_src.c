/*
 * alias_src: read aliases(5) source files entry by entry.
 *
 * Public functions:
 *   alias_src_open(path, err): open a source file for reading. Returns a
 *     reader, or NULL with err set to "PATH: cannot open: REASON", "PATH:
 *     cannot stat: REASON" or "PATH: not a regular file" (a FIFO or device
 *     in its place is refused rather than read; the same messages as
 *     dict_src, which does the opening). Close it with alias_src_close.
 *   alias_src_open_mem(text, len, origin): read len bytes of text (NULs
 *     allowed, and refused where they appear). text must stay valid and
 *     unchanged until the reader is closed. For tests and the fuzz target.
 *   alias_src_next(src, name, value, err): the next entry. Returns 1 with
 *     name (unquoted, ASCII lower case) and value (the value list as
 *     written: continuation lines joined by one space, surrounding white
 *     space trimmed) replaced; 0 at the end of the input; -1 with err set
 *     to "ORIGIN, line N: what is wrong". A syntax error consumes the
 *     whole bad entry (an over-long physical line included: the reader
 *     skips it and the continuations after it), so the caller may go on
 *     reading; a read error is sticky (every later call returns -1 with
 *     the same text, "ORIGIN: read error: REASON").
 *   alias_src_line(src): the line on which the entry last returned (or
 *     refused) started, for "duplicate entry" warnings.
 *   alias_src_origin(src): the file name (or origin label) in messages.
 *   alias_src_stat(src): fstat of the file as opened (its owner is what
 *     postalias gives the table it builds); NULL for memory readers.
 *   alias_src_close(src): release the reader. Returns NULL.
 *
 * Lines, comments, continuations, NUL checks, line limits and the input
 * (file or memory) are dict_src's (dict_src_next_line); this module adds
 * only what is special to aliases(5): the name, its quotes, the ':' and
 * the value rules. dict_src's messages for the faults both readers know
 * are reworded to the ones alias_src has always used (alias_src_reword),
 * so postalias and newaliases keep their wording.
 *
 * Syntax (the decisions, in the order they are made):
 *   - Lines end at '\n'; white space (a '\r' included) at the end of a
 *     line is dropped.
 *   - A line that is empty, all white space, or whose first non-blank
 *     byte is '#' is ignored anywhere, even between the lines of one
 *     entry (such lines are never checked for NUL bytes).
 *   - A line that starts with white space continues the current entry; a
 *     continuation with no entry before it is an error.
 *   - Every other line starts an entry. A NUL byte in any of its lines is
 *     an error.
 *   - The name runs to the first ':' outside double quotes. Quotes are
 *     removed ("a b" and a"b"c are names); inside them a backslash takes
 *     the next byte literally. Unquoted white space inside the name is an
 *     error (a forgotten colon would otherwise go unnoticed), white space
 *     before the ':' is not. Empty names and names longer than
 *     ALIAS_SRC_NAME_MAX are errors.
 *   - The value is everything after that ':'; an empty value is an error.
 *
 * SECURITY: the files are written by the administrator (or by whoever can
 * write where alias_database points); postalias may run as root, so every
 * byte is treated as untrusted: lines are read with a maximum, NULs are
 * refused, and nothing in a value is interpreted here.
 * LIMITS: a physical line at most DICT_SRC_LINE_MAX bytes (dict_src); a
 * logical entry at most ALIAS_SRC_ENTRY_MAX bytes; a name at most
 * ALIAS_SRC_NAME_MAX bytes. Line numbers saturate at INT_MAX (dict_src).
 */
#include <stddef.h>
#include <string.h>
#include <sys/stat.h>

#include "alias_src.h"
#include "dict_src.h"
#include "mem.h"
#include "strbuf.h"
#include "strutil.h"

struct alias_src {
    dict_src *ds;                       /* lines, comments, continuations */
    strbuf *entry;                      /* the logical entry just read */
};

/* alias_src_is_blank: white space as aliases(5) files use it. */
static int alias_src_is_blank(int ch)
{
    return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\f' || ch == '\v';
}

/* alias_src_wrap: a reader around a dict_src line reader. */
static alias_src *alias_src_wrap(dict_src *ds)
{
    alias_src *src = mem_calloc(1, sizeof(*src));

    src->ds = ds;
    src->entry = strbuf_new(256);
    return src;
}

/* alias_src_open: open a source file. */
alias_src *alias_src_open(const char *path, strbuf *err)
{
    dict_src *ds = dict_src_open(path, err);

    return ds ? alias_src_wrap(ds) : NULL;
}

/* alias_src_open_mem: read from a memory buffer. */
alias_src *alias_src_open_mem(const char *text, size_t len, const char *origin)
{
    return alias_src_wrap(dict_src_open_mem(text, len, origin));
}

/* alias_src_close: release the reader. */
alias_src *alias_src_close(alias_src *src)
{
    if (src == NULL)
        return NULL;
    dict_src_close(src->ds);
    strbuf_free(src->entry);
    mem_free(src);
    return NULL;
}

/* alias_src_line: first line of the last entry. */
int alias_src_line(const alias_src *src)
{
    return dict_src_line(src->ds);
}

/* alias_src_origin: name of the input in messages. */
const char *alias_src_origin(const alias_src *src)
{
    return dict_src_origin(src->ds);
}

/* alias_src_stat: identity of the file as opened, or NULL. */
const struct stat *alias_src_stat(const alias_src *src)
{
    return dict_src_stat(src->ds);
}

/* alias_src_reword: give a dict_src line error alias_src's wording. */
static void alias_src_reword(const alias_src *src, strbuf *err)
{
    static const struct {
        const char *dict_text;          /* dict_src's text (a prefix) */
        const char *alias_text;         /* ours; NULL: the entry limit */
        int     keep_rest;              /* keep what follows dict_text */
    } words[] = {
        {"line contains a NUL byte", "NUL byte in entry", 0},
        {"continuation line (it starts with white space) before the first "
         "entry", "continuation line without an entry before it", 0},
        /* The physical-line limit is dict_src's: keep its number. */
        {"line is longer than ", "line longer than ", 1},
        /* Longer than dict_src's entry limit is longer than ours too. */
        {"entry is longer than ", NULL, 0},
    };
    const char *origin = dict_src_origin(src->ds);
    size_t  olen = strlen(origin);
    const char *p;
    char   *rest = NULL;
    size_t  keep;
    size_t  i;

    /* Only "ORIGIN, line N: TEXT"; anything else (read errors) stays. */
    if (strncmp(err->data, origin, olen) != 0
        || !str_has_prefix(err->data + olen, ", line "))
        return;
    for (p = err->data + olen + 7; *p >= '0' && *p <= '9'; p++)
         /* void */ ;
    if (p[0] != ':' || p[1] != ' ')
        return;
    keep = (size_t) (p + 2 - err->data);
    for (i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
        if (!str_has_prefix(err->data + keep, words[i].dict_text))
            continue;
        if (words[i].keep_rest)
            rest = mem_strdup(err->data + keep + strlen(words[i].dict_text));
        strbuf_truncate(err, keep);
        if (words[i].alias_text != NULL)
            strbuf_puts(err, words[i].alias_text);
        else
            strbuf_printf(err, "entry longer than %d bytes", ALIAS_SRC_ENTRY_MAX);
        if (rest != NULL)
            strbuf_puts(err, rest);
        mem_free(rest);
        return;
    }
}

/* alias_src_parse: split a complete logical entry into name and value. */
static int alias_src_parse(alias_src *src, strbuf *name, strbuf *value,
                           strbuf *err)
{
    const char *p = src->entry->data;
    const char *end = p + src->entry->len;
    const char *why = NULL;
    int     in_quote = 0;
    int     gap = 0;                    /* unquoted white space after text */
    int     started = 0;                /* some name text or quotes seen */

    strbuf_reset(name);
    strbuf_reset(value);
    for (; p < end && why == NULL; p++) {
        if (in_quote) {
            if (*p == '\\' && p + 1 < end)
                strbuf_putc(name, *++p);
            else if (*p == '"')
                in_quote = 0;
            else
                strbuf_putc(name, *p);
        } else if (*p == ':') {
            break;
        } else if (alias_src_is_blank((unsigned char) *p)) {
            gap = started;
        } else if (gap) {
            why = "white space in alias name (quote the name, or add the missing ':')";
        } else {
            started = 1;
            if (*p == '"')
                in_quote = 1;
            else
                strbuf_putc(name, *p);
        }
    }
    if (why == NULL) {
        if (in_quote)
            why = "unterminated quoted alias name";
        else if (p >= end)
            why = "missing ':' after the alias name";
        else if (name->len == 0)
            why = "empty alias name";
        else if (name->len > ALIAS_SRC_NAME_MAX)
            why = "alias name too long";
    }
    if (why != NULL) {
        strbuf_setf(err, "%s, line %d: %s", dict_src_origin(src->ds), dict_src_line(src->ds), why);
        return -1;
    }
    str_lower(name->data);

    /* The value list: after the ':', white space trimmed at both ends. */
    for (p++; p < end && alias_src_is_blank((unsigned char) *p); p++)
         /* void */ ;
    while (end > p && alias_src_is_blank((unsigned char) end[-1]))
        end--;
    if (p == end) {
        strbuf_setf(err, "%s, line %d: no value for alias \"%s\"",
                    dict_src_origin(src->ds), dict_src_line(src->ds), name->data);
        return -1;
    }
    strbuf_set(value, p, (size_t) (end - p));
    return 1;
}

/* alias_src_next: read the next entry. */
int alias_src_next(alias_src *src, strbuf *name, strbuf *value, strbuf *err)
{
    int     rc;

    if ((rc = dict_src_next_line(src->ds, src->entry, err)) < 0) {
        alias_src_reword(src, err);
        return -1;
    }
    if (rc == 0)
        return 0;
    if (src->entry->len > ALIAS_SRC_ENTRY_MAX) {
        strbuf_setf(err, "%s, line %d: entry longer than %d bytes",
                    dict_src_origin(src->ds), dict_src_line(src->ds),
                    ALIAS_SRC_ENTRY_MAX);
        return -1;
    }
    return alias_src_parse(src, name, value, err);
}
