/*
 * alias_src: read aliases(5) source files entry by entry.
 *
 * Public functions:
 *   alias_src_open(path, err): open a source file for reading. Returns a
 *     reader, or NULL with err set to "PATH: cannot open: REASON", "PATH:
 *     cannot stat: REASON" or "PATH: not a regular file" (a FIFO or device
 *     in its place is refused rather than read; the same messages as
 *     dict_src). Close it with alias_src_close.
 *   alias_src_open_mem(text, len, origin): read len bytes of text (NULs
 *     allowed, and refused where they appear). text must stay valid and
 *     unchanged until the reader is closed. For tests and the fuzz target.
 *   alias_src_next(src, name, value, err): the next entry. Returns 1 with
 *     name (unquoted, ASCII lower case) and value (the value list as
 *     written: continuation lines joined by one space, surrounding white
 *     space trimmed) replaced; 0 at the end of the input; -1 with err set
 *     to "ORIGIN, line N: what is wrong". A syntax error consumes the
 *     whole bad entry, so the caller may go on reading; a read error or
 *     an over-long physical line stops the reader for good (every later
 *     call returns -1 with the same text).
 *   alias_src_line(src): the line on which the entry last returned (or
 *     refused) started, for "duplicate entry" warnings.
 *   alias_src_origin(src): the file name (or origin label) in messages.
 *   alias_src_stat(src): fstat of the file as opened (its owner is what
 *     postalias gives the table it builds); NULL for memory readers.
 *   alias_src_close(src): release the reader. Returns NULL.
 *
 * Syntax (the decisions, in the order they are made):
 *   - Lines end at '\n'; one '\r' before it is dropped.
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
 * LIMITS: a physical line and a logical entry are at most
 * ALIAS_SRC_ENTRY_MAX bytes; a name at most ALIAS_SRC_NAME_MAX bytes.
 * Line numbers saturate at INT_MAX.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alias_src.h"
#include "mem.h"
#include "strbuf.h"
#include "stream.h"
#include "strutil.h"

/* A physical line may carry CR LF after a full-size entry. */
#define ALIAS_SRC_PHYS_MAX  (ALIAS_SRC_ENTRY_MAX + 2)

struct alias_src {
    char   *origin;                     /* file name in messages */
    stream *fp;                         /* file input, or NULL */
    struct stat st;                     /* the file as opened */
    int     have_st;                    /* st is valid */
    const char *mem;                    /* memory input */
    size_t  mem_len;
    size_t  mem_pos;
    strbuf *phys;                       /* the current physical line */
    strbuf *entry;                      /* the logical entry being built */
    strbuf *why;                        /* error text of a bad entry */
    int     pending;                    /* phys holds an unused entry start */
    int     lineno;                     /* physical lines read so far */
    int     entry_line;                 /* first line of the last entry */
    int     failed;                     /* sticky error, text in why */
};

/* alias_src_is_blank: white space as aliases(5) files use it. */
static int alias_src_is_blank(int ch)
{
    return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\f' || ch == '\v';
}

/* alias_src_new: a reader with no input attached yet. */
static alias_src *alias_src_new(const char *origin)
{
    alias_src *src = mem_calloc(1, sizeof(*src));

    src->origin = mem_strdup(origin);
    src->phys = strbuf_new(256);
    src->entry = strbuf_new(256);
    src->why = strbuf_new(64);
    strbuf_set_limit(src->entry, ALIAS_SRC_ENTRY_MAX);
    return src;
}

/* alias_src_open: open a source file. */
alias_src *alias_src_open(const char *path, strbuf *err)
{
    alias_src *src;
    struct stat st;
    int     fd;
    int     fl;

    /* O_NONBLOCK: a FIFO put in place of the file must not hang us. */
    if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK)) < 0) {
        strbuf_setf(err, "%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    if (fstat(fd, &st) < 0) {
        strbuf_setf(err, "%s: cannot stat: %s", path, strerror(errno));
        (void) close(fd);
        return NULL;
    }
    if (!S_ISREG(st.st_mode)) {
        strbuf_setf(err, "%s: not a regular file", path);
        (void) close(fd);
        return NULL;
    }
    if ((fl = fcntl(fd, F_GETFL)) < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) < 0) {
        strbuf_setf(err, "%s: cannot open: %s", path, strerror(errno));
        (void) close(fd);
        return NULL;
    }
    src = alias_src_new(path);
    src->fp = stream_fdopen(fd, STREAM_F_READ);
    src->st = st;
    src->have_st = 1;
    return src;
}

/* alias_src_open_mem: read from a memory buffer. */
alias_src *alias_src_open_mem(const char *text, size_t len, const char *origin)
{
    alias_src *src = alias_src_new(origin);

    src->mem = text;
    src->mem_len = len;
    return src;
}

/* alias_src_close: release the reader. */
alias_src *alias_src_close(alias_src *src)
{
    if (src == NULL)
        return NULL;
    if (src->fp)
        (void) stream_close(src->fp);
    mem_free(src->origin);
    strbuf_free(src->phys);
    strbuf_free(src->entry);
    strbuf_free(src->why);
    mem_free(src);
    return NULL;
}

/* alias_src_line: first line of the last entry. */
int alias_src_line(const alias_src *src)
{
    return src->entry_line;
}

/* alias_src_origin: name of the input in messages. */
const char *alias_src_origin(const alias_src *src)
{
    return src->origin;
}

/* alias_src_stat: identity of the file as opened, or NULL. */
const struct stat *alias_src_stat(const alias_src *src)
{
    return src->have_st ? &src->st : NULL;
}

/* alias_src_fail: make the reader fail from now on. */
static int alias_src_fail(alias_src *src, strbuf *err)
{
    src->failed = 1;
    strbuf_set(err, src->why->data, src->why->len);
    return -1;
}

/* alias_src_getline: next physical line, end of line removed; 1 a line,
 * 0 end of input, -1 error (sticky, text in src->why). */
static int alias_src_getline(alias_src *src)
{
    size_t  n;
    const char *nl;
    int     next = src->lineno < INT_MAX ? src->lineno + 1 : INT_MAX;

    if (src->fp != NULL) {
        switch (stream_get_line(src->fp, src->phys, ALIAS_SRC_PHYS_MAX)) {
        case STREAM_OK:
            break;
        case STREAM_EOF:
            return 0;
        case STREAM_TOOLONG:
            strbuf_setf(src->why, "%s, line %d: line longer than %d bytes",
                        src->origin, next, ALIAS_SRC_ENTRY_MAX);
            return -1;
        default:
            strbuf_setf(src->why, "read %s: %s", src->origin,
                        errno ? strerror(errno) : "read error");
            return -1;
        }
    } else {
        if (src->mem_pos >= src->mem_len)
            return 0;
        nl = memchr(src->mem + src->mem_pos, '\n', src->mem_len - src->mem_pos);
        n = nl ? (size_t) (nl - (src->mem + src->mem_pos)) + 1
            : src->mem_len - src->mem_pos;
        if (n > ALIAS_SRC_PHYS_MAX) {
            strbuf_setf(src->why, "%s, line %d: line longer than %d bytes",
                        src->origin, next, ALIAS_SRC_ENTRY_MAX);
            return -1;
        }
        strbuf_set(src->phys, src->mem + src->mem_pos, n);
        src->mem_pos += n;
    }
    src->lineno = next;
    if (src->phys->len > 0 && src->phys->data[src->phys->len - 1] == '\n')
        strbuf_truncate(src->phys, src->phys->len - 1);
    if (src->phys->len > 0 && src->phys->data[src->phys->len - 1] == '\r')
        strbuf_truncate(src->phys, src->phys->len - 1);
    return 1;
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
        strbuf_setf(err, "%s, line %d: %s", src->origin, src->entry_line, why);
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
                    src->origin, src->entry_line, name->data);
        return -1;
    }
    strbuf_set(value, p, (size_t) (end - p));
    return 1;
}

/* alias_src_next: read the next entry. */
int alias_src_next(alias_src *src, strbuf *name, strbuf *value, strbuf *err)
{
    int     have = 0;                   /* an entry has started */
    int     bad = 0;                    /* ... and is broken (see why) */
    int     rc;
    size_t  i, len;
    const char *line;

    if (src->failed)
        return alias_src_fail(src, err);
    strbuf_reset(src->entry);
    for (;;) {
        if (src->pending) {
            src->pending = 0;
            rc = 1;
        } else if ((rc = alias_src_getline(src)) < 0) {
            return alias_src_fail(src, err);
        }
        if (rc == 0)
            break;
        line = src->phys->data;
        len = src->phys->len;
        for (i = 0; i < len && alias_src_is_blank((unsigned char) line[i]); i++)
             /* void */ ;
        if (i == len || line[i] == '#')
            continue;                   /* blank or comment line */
        if (i == 0) {                   /* a new entry starts here */
            if (have) {
                src->pending = 1;
                break;
            }
            have = 1;
            src->entry_line = src->lineno;
        } else if (!have) {
            have = bad = 1;
            src->entry_line = src->lineno;
            strbuf_setf(src->why, "%s, line %d: continuation line without an "
                        "entry before it", src->origin, src->lineno);
            continue;
        }
        if (bad)
            continue;                   /* swallow the rest of a bad entry */
        if (memchr(line, 0, len) != NULL) {
            bad = 1;
            strbuf_setf(src->why, "%s, line %d: NUL byte in entry",
                        src->origin, src->lineno);
            continue;
        }
        while (len > i && alias_src_is_blank((unsigned char) line[len - 1]))
            len--;
        if ((src->entry->len > 0 && strbuf_putc(src->entry, ' ') < 0)
            || strbuf_append(src->entry, line + i, len - i) < 0) {
            bad = 1;
            strbuf_setf(src->why, "%s, line %d: entry longer than %d bytes",
                        src->origin, src->entry_line, ALIAS_SRC_ENTRY_MAX);
        }
    }
    if (!have)
        return 0;
    if (bad) {
        strbuf_set(err, src->why->data, src->why->len);
        return -1;
    }
    return alias_src_parse(src, name, value, err);
}
