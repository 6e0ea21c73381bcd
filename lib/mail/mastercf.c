/*
 * mastercf: parse master.cf, the master daemon's service table.
 *
 * Grammar (one entry per logical line):
 *   A physical line whose first non-blank byte is '#', or that holds only
 *   white space, is ignored wherever it appears. A line that starts with
 *   white space continues the current logical line (joined with one
 *   space); a continuation before the first entry is an error. Any other
 *   line starts a new logical line. White space is space, tab, CR, FF, VT.
 *
 *   Columns, separated by white space:
 *     1 service   for inet: [host:]port; otherwise a name without '/'
 *     2 type      inet, unix, unix-dgram, fifo or pass
 *     3 private   y, n or - (default y); inet services must say n
 *     4 unpriv    y, n or - (default y)
 *     5 chroot    y, n or - (default n)
 *     6 wakeup    seconds, optionally followed by '?' (wake only when the
 *                 service was used); - or 0 means no timer
 *     7 maxproc   process limit; 0 = no limit; - = default_process_limit
 *                 (reported as -1)
 *     8 command   program name, followed by its arguments
 *   Arguments after the command may be grouped with braces: a word that
 *   starts with '{' runs to the matching '}' (nesting allowed), may hold
 *   white space, and becomes one argument with the braces and the white
 *   space just inside them removed; the '}' must end the word.
 *   Parameter overrides are the "-o name=value" options (also written
 *   "-oname=value" or "-o { name = value }") at the start of the argument
 *   list: option scanning stops at the first argument that does not start
 *   with '-' or at "--", as getopt in the service would. Other options
 *   take no argument. The name is letters, digits and '_'; the value may
 *   be empty; a later override of the same name wins.
 *   argv keeps every word as written (after brace removal), argv[0] being
 *   the command; the -o options stay in it.
 *   The same service name and type may appear only once.
 *
 * Public functions:
 *   mastercf_load(path, err): read and parse a file. Returns the table, or
 *     NULL with err set to "PATH, line N: problem" (or "PATH: problem" for
 *     open/read/size errors). err may be NULL.
 *   mastercf_parse_text(text, len, origin, err): parse len bytes of text;
 *     origin names the text in messages. Same results as mastercf_load.
 *   mastercf_free(m): release the table and all entries; returns NULL.
 *   mastercf_count(m): number of entries.
 *   mastercf_get(m, i): i-th entry in file order, NULL when out of range.
 *   mastercf_find(m, service, type): entry with that service name and type
 *     string, or NULL.
 *   mastercf_override_value(entry, name): value of the last "-o name=..."
 *     of the entry, or NULL.
 *   mastercf_type_name(type): "inet", "unix", ... for a type code.
 *
 * SECURITY: master.cf is written by the administrator and read by root
 *   (master) and by postconf; every column is checked and every failure
 *   is a returned error, never a fatal exit, so callers decide what to do.
 * LIMITS: MASTERCF_FILE_MAX bytes per file, MASTERCF_LINE_MAX bytes per
 *   logical line, MASTERCF_ENTRY_MAX entries, MASTERCF_SERVICE_MAX bytes per
 *   service name, MASTERCF_ARG_MAX command words, wakeup and maxproc up to
 *   INT_MAX; NUL bytes are rejected.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "htable.h"
#include "mem.h"
#include "msg.h"
#include "numparse.h"
#include "strbuf.h"
#include "strutil.h"
#include "fileio.h"
#include "mastercf.h"

/* Parser state for one file. */
struct mastercf_parse {
    const char *origin;
    strbuf *err;
    mastercf *table;
    size_t  cap;                        /* allocated entries */
    htable *seen;                       /* "service/type" -> first line */
};

static const struct {
    const char *name;
    enum mastercf_type code;
} mastercf_types[] = {
    {"inet", MASTERCF_TYPE_INET},
    {"unix", MASTERCF_TYPE_UNIX},
    {"unix-dgram", MASTERCF_TYPE_UNIX_DGRAM},
    {"fifo", MASTERCF_TYPE_FIFO},
    {"pass", MASTERCF_TYPE_PASS},
};

#define MASTERCF_NTYPES (sizeof(mastercf_types) / sizeof(mastercf_types[0]))

/* mastercf_fail: report "origin, line N: text"; returns -1. */
static int mastercf_fail(struct mastercf_parse *p, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int mastercf_fail(struct mastercf_parse *p, int line, const char *fmt, ...)
{
    va_list ap;

    if (p->err == NULL)
        return -1;
    strbuf_reset(p->err);
    (void) strbuf_printf(p->err, "%s, line %d: ", p->origin, line);
    va_start(ap, fmt);
    (void) strbuf_vprintf(p->err, fmt, ap);
    va_end(ap);
    return -1;
}

/* mastercf_is_space: white space as master.cf understands it. */
static int mastercf_is_space(int ch)
{
    return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\f' || ch == '\v';
}

/* mastercf_type_name: the master.cf spelling of a type code. */
const char *mastercf_type_name(enum mastercf_type type)
{
    size_t  i;

    for (i = 0; i < MASTERCF_NTYPES; i++)
        if (mastercf_types[i].code == type)
            return mastercf_types[i].name;
    return "unknown";
}

/* mastercf_trim: strip white space from both ends of a word in place. */
static char *mastercf_trim(char *s)
{
    size_t  len;

    while (mastercf_is_space((unsigned char) *s))
        s++;
    len = strlen(s);
    while (len > 0 && mastercf_is_space((unsigned char) s[len - 1]))
        s[--len] = 0;
    return s;
}

/*
 * mastercf_word: split the next word off *cursor in place. With braces,
 * a word starting with '{' extends to the matching '}'. Returns 1 with
 * *word set, 0 at the end of the line, -1 with *why set on a syntax error.
 */
static int mastercf_word(char **cursor, int braces, char **word, const char **why)
{
    char   *p = *cursor;
    char   *start;

    while (mastercf_is_space((unsigned char) *p))
        p++;
    if (*p == 0) {
        *cursor = p;
        return 0;
    }
    if (braces && *p == '{') {
        int     depth = 1;
        char   *q = p + 1;

        for (; *q; q++) {
            if (*q == '{')
                depth++;
            else if (*q == '}' && --depth == 0)
                break;
        }
        if (depth != 0) {
            *why = "missing '}' to close '{'";
            return -1;
        }
        if (q[1] != 0 && !mastercf_is_space((unsigned char) q[1])) {
            *why = "text after '}' (a braced argument must end at '}')";
            return -1;
        }
        *q = 0;
        *word = mastercf_trim(p + 1);
        *cursor = q + 1;
        return 1;
    }
    start = p;
    while (*p && !mastercf_is_space((unsigned char) *p))
        p++;
    if (*p)
        *p++ = 0;
    *word = start;
    *cursor = p;
    return 1;
}

/* mastercf_bool: decode a y/n/- column; returns -1 when malformed. */
static int mastercf_bool(const char *word, int dflt)
{
    if (strcmp(word, "-") == 0)
        return dflt;
    if (strcmp(word, "y") == 0)
        return 1;
    if (strcmp(word, "n") == 0)
        return 0;
    return -1;
}

/* mastercf_number: decode a non-negative decimal of len bytes (no sign). */
static int mastercf_number(const char *word, size_t len, long *value)
{
    size_t  i;

    if (len == 0)
        return -1;
    for (i = 0; i < len; i++)
        if (word[i] < '0' || word[i] > '9')
            return -1;
    return num_parse_long_n(word, len, 0, INT_MAX, value);
}

/* mastercf_param_name: 1 if name is a plausible parameter name. */
static int mastercf_param_name(const char *name)
{
    const char *p;

    if (*name == 0)
        return 0;
    for (p = name; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')
              || (*p >= '0' && *p <= '9') || *p == '_'))
            return 0;
    return 1;
}

/* mastercf_entry_free: release the strings of one entry. */
static void mastercf_entry_free(mastercf_entry *e)
{
    size_t  i;

    mem_free(e->service);
    mem_free(e->type);
    mem_free(e->private_raw);
    mem_free(e->unpriv_raw);
    mem_free(e->chroot_raw);
    mem_free(e->wakeup);
    mem_free(e->maxproc_raw);
    mem_free(e->command);
    if (e->argv) {
        for (i = 0; i < e->argc; i++)
            mem_free(e->argv[i]);
        mem_free(e->argv);
    }
    for (i = 0; i < e->noverrides; i++) {
        mem_free(e->overrides[i].name);
        mem_free(e->overrides[i].value);
    }
    mem_free(e->overrides);
}

/*
 * mastercf_override_add: decode the text of one -o option (name=value,
 * white space around either part ignored) into the entry.
 */
static int mastercf_override_add(struct mastercf_parse *p, mastercf_entry *e,
                                 const char *text, int line)
{
    char   *copy = mem_strdup(text);
    char   *eq = strchr(copy, '=');
    char   *name;
    char   *value;

    if (eq == NULL) {
        mastercf_fail(p, line, "-o option \"%s\" is not name=value", text);
        mem_free(copy);
        return -1;
    }
    *eq = 0;
    name = mastercf_trim(copy);
    value = mastercf_trim(eq + 1);
    if (!mastercf_param_name(name)) {
        mastercf_fail(p, line, "-o option \"%s\": bad parameter name", text);
        mem_free(copy);
        return -1;
    }
    e->overrides = mem_realloc(e->overrides,
                               (e->noverrides + 1) * sizeof(*e->overrides));
    e->overrides[e->noverrides].name = mem_strdup(name);
    e->overrides[e->noverrides].value = mem_strdup(value);
    e->noverrides++;
    mem_free(copy);
    return 0;
}

/* mastercf_overrides: collect the -o options that lead the argument list. */
static int mastercf_overrides(struct mastercf_parse *p, mastercf_entry *e, int line)
{
    size_t  i;

    for (i = 1; i < e->argc; i++) {
        const char *arg = e->argv[i];

        if (arg[0] != '-' || strcmp(arg, "--") == 0)
            break;
        if (strcmp(arg, "-o") == 0) {
            if (i + 1 >= e->argc)
                return mastercf_fail(p, line, "-o option without name=value");
            if (mastercf_override_add(p, e, e->argv[++i], line) < 0)
                return -1;
        } else if (arg[1] == 'o') {
            if (mastercf_override_add(p, e, arg + 2, line) < 0)
                return -1;
        }
    }
    return 0;
}

/* mastercf_check_service: validate column 1 for the given type. */
static int mastercf_check_service(struct mastercf_parse *p, const char *service,
                                  enum mastercf_type type, int line)
{
    size_t  len = strlen(service);

    if (len > MASTERCF_SERVICE_MAX)
        return mastercf_fail(p, line, "service name longer than %d bytes",
                             MASTERCF_SERVICE_MAX);
    if (type == MASTERCF_TYPE_INET) {
        const char *colon = strrchr(service, ':');

        if (colon && colon[1] == 0)
            return mastercf_fail(p, line,
                                 "inet service \"%s\": missing port after ':'",
                                 service);
    } else if (strchr(service, '/') != NULL || strcmp(service, ".") == 0
               || strcmp(service, "..") == 0) {
        return mastercf_fail(p, line,
                             "service name \"%s\" must not contain '/' or be . or ..",
                             service);
    }
    return 0;
}

/* mastercf_parse_entry: parse one logical line (modified in place). */
static int mastercf_parse_entry(struct mastercf_parse *p, char *text, int line)
{
    static const char *colnames[8] = {
        "service", "type", "private", "unpriv", "chroot", "wakeup",
        "maxproc", "command",
    };
    char   *cols[8];
    char   *cursor = text;
    char   *word;
    const char *why = "";
    char  **args;
    size_t  nargs = 0;
    size_t  ncols;
    size_t  i;
    int     r;
    mastercf_entry e;
    enum mastercf_type type = 0;
    int     priv, unpriv, chroot_flag;
    long    wakeup = 0, maxproc = -1;
    int     conditional = 0;
    char    key[MASTERCF_SERVICE_MAX + 32];
    void   *first;

    for (ncols = 0; ncols < 8; ncols++) {
        if (mastercf_word(&cursor, 0, &word, &why) <= 0)
            break;
        cols[ncols] = word;
    }
    if (ncols < 8)
        return mastercf_fail(p, line,
                             "missing %s column (an entry needs 8 columns: service "
                             "type private unpriv chroot wakeup maxproc command)",
                             colnames[ncols]);

    for (i = 0; i < MASTERCF_NTYPES; i++)
        if (strcmp(cols[1], mastercf_types[i].name) == 0)
            type = mastercf_types[i].code;
    if (type == 0)
        return mastercf_fail(p, line, "unknown service type \"%s\" (expected inet, "
                             "unix, unix-dgram, fifo or pass)", cols[1]);
    if (mastercf_check_service(p, cols[0], type, line) < 0)
        return -1;
    if ((priv = mastercf_bool(cols[2], 1)) < 0)
        return mastercf_fail(p, line, "private column: \"%s\" is not y, n or -",
                             cols[2]);
    if ((unpriv = mastercf_bool(cols[3], 1)) < 0)
        return mastercf_fail(p, line, "unpriv column: \"%s\" is not y, n or -",
                             cols[3]);
    if ((chroot_flag = mastercf_bool(cols[4], 0)) < 0)
        return mastercf_fail(p, line, "chroot column: \"%s\" is not y, n or -",
                             cols[4]);
    if (type == MASTERCF_TYPE_INET && priv)
        return mastercf_fail(p, line, "inet service \"%s\" cannot be private "
                             "(private column must be n)", cols[0]);
    if (strcmp(cols[5], "-") != 0) {
        size_t  len = strlen(cols[5]);

        if (len > 0 && cols[5][len - 1] == '?') {
            conditional = 1;
            len--;
        }
        if (mastercf_number(cols[5], len, &wakeup) < 0)
            return mastercf_fail(p, line, "wakeup column: \"%s\" is not a number "
                                 "of seconds (optionally followed by ?) or -",
                                 cols[5]);
    }
    if (strcmp(cols[6], "-") != 0
        && mastercf_number(cols[6], strlen(cols[6]), &maxproc) < 0)
        return mastercf_fail(p, line, "maxproc column: \"%s\" is not a "
                             "non-negative number or -", cols[6]);

    /* Command arguments, braces allowed. */
    args = mem_alloc(sizeof(*args) * (MASTERCF_ARG_MAX + 1));
    args[nargs++] = cols[7];
    while ((r = mastercf_word(&cursor, 1, &word, &why)) > 0) {
        if (nargs >= MASTERCF_ARG_MAX) {
            mem_free(args);
            return mastercf_fail(p, line, "more than %d command words",
                                 MASTERCF_ARG_MAX);
        }
        args[nargs++] = word;
    }
    if (r < 0) {
        mem_free(args);
        return mastercf_fail(p, line, "%s", why);
    }

    memset(&e, 0, sizeof(e));
    e.argc = nargs;
    e.argv = mem_alloc(sizeof(*e.argv) * (nargs + 1));
    for (i = 0; i < nargs; i++)
        e.argv[i] = mem_strdup(args[i]);
    e.argv[nargs] = NULL;
    mem_free(args);
    if (mastercf_overrides(p, &e, line) < 0) {
        mastercf_entry_free(&e);
        return -1;
    }

    /* Duplicate check ("service/type"; types never hold '/'). */
    if (str_format(key, sizeof(key), "%s/%s", cols[0], cols[1]) < 0) {
        mastercf_entry_free(&e);
        return mastercf_fail(p, line, "service name too long");
    }
    if ((first = htable_find(p->seen, key)) != NULL) {
        mastercf_entry_free(&e);
        return mastercf_fail(p, line, "duplicate entry for service \"%s\" type %s "
                             "(first defined at line %d)", cols[0], cols[1],
                             (int) (intptr_t) first);
    }
    if (p->table->nentries >= MASTERCF_ENTRY_MAX) {
        mastercf_entry_free(&e);
        return mastercf_fail(p, line, "more than %d entries", MASTERCF_ENTRY_MAX);
    }
    htable_put(p->seen, key, (void *) (intptr_t) line);

    e.service = mem_strdup(cols[0]);
    e.type = mem_strdup(cols[1]);
    e.type_code = type;
    e.private_ = priv;
    e.unpriv = unpriv;
    e.chroot = chroot_flag;
    e.private_raw = mem_strdup(cols[2]);
    e.unpriv_raw = mem_strdup(cols[3]);
    e.chroot_raw = mem_strdup(cols[4]);
    e.wakeup = mem_strdup(cols[5]);
    e.wakeup_seconds = wakeup;
    e.wakeup_conditional = conditional;
    e.maxproc_raw = mem_strdup(cols[6]);
    e.maxproc = maxproc;
    e.command = mem_strdup(cols[7]);
    e.origin = p->table->origin;
    e.line = line;

    if (p->table->nentries == p->cap) {
        p->cap = p->cap ? p->cap * 2 : 16;
        p->table->entries = mem_realloc(p->table->entries,
                                        p->cap * sizeof(*p->table->entries));
    }
    p->table->entries[p->table->nentries++] = e;
    return 0;
}

/* mastercf_free: destroy a table; returns NULL. */
mastercf *mastercf_free(mastercf *m)
{
    size_t  i;

    if (m == NULL)
        return NULL;
    for (i = 0; i < m->nentries; i++)
        mastercf_entry_free(&m->entries[i]);
    mem_free(m->entries);
    mem_free(m->origin);
    mem_free(m);
    return NULL;
}

/* mastercf_blank: 1 if a physical line is empty, white space or a comment. */
static int mastercf_blank(const char *line, size_t len)
{
    size_t  i = 0;

    while (i < len && mastercf_is_space((unsigned char) line[i]))
        i++;
    return i == len || line[i] == '#';
}

/* mastercf_flush: parse the pending logical line, if any. */
static int mastercf_flush(struct mastercf_parse *p, strbuf *logical, int line)
{
    int     r;

    if (line == 0)
        return 0;
    r = mastercf_parse_entry(p, logical->data, line);
    strbuf_reset(logical);
    return r;
}

/* mastercf_parse_text: parse master.cf text held in memory. */
mastercf *mastercf_parse_text(const char *text, size_t len, const char *origin,
                              strbuf *err)
{
    struct mastercf_parse p;
    strbuf *logical;
    size_t  pos = 0;
    int     lineno = 0;
    int     start = 0;                  /* line of the pending entry, 0 = none */
    int     failed = 0;

    if (len > MASTERCF_FILE_MAX) {
        strbuf_setf(err, "%s: file larger than %d bytes", origin,
                         MASTERCF_FILE_MAX);
        return NULL;
    }
    p.origin = origin;
    p.err = err;
    p.table = mem_calloc(1, sizeof(*p.table));
    p.table->origin = mem_strdup(origin);
    p.cap = 0;
    p.seen = htable_new(64);
    logical = strbuf_new(256);
    strbuf_set_limit(logical, MASTERCF_LINE_MAX);

    while (pos < len && !failed) {
        const char *line = text + pos;
        const char *nl = memchr(line, '\n', len - pos);
        size_t  llen = nl ? (size_t) (nl - line) : len - pos;

        pos += llen + (nl ? 1 : 0);
        lineno++;
        if (memchr(line, 0, llen) != NULL) {
            failed = mastercf_fail(&p, lineno, "NUL byte in line");
            break;
        }
        if (mastercf_blank(line, llen))
            continue;
        if (mastercf_is_space((unsigned char) line[0])) {
            if (start == 0) {
                failed = mastercf_fail(&p, lineno, "continuation line (starts with "
                                       "white space) without an entry before it");
                break;
            }
            if (strbuf_putc(logical, ' ') < 0
                || strbuf_append(logical, line, llen) < 0) {
                failed = mastercf_fail(&p, start, "entry longer than %d bytes",
                                       MASTERCF_LINE_MAX);
                break;
            }
            continue;
        }
        if (mastercf_flush(&p, logical, start) < 0) {
            failed = -1;
            break;
        }
        start = lineno;
        if (strbuf_append(logical, line, llen) < 0) {
            failed = mastercf_fail(&p, start, "entry longer than %d bytes",
                                   MASTERCF_LINE_MAX);
            break;
        }
    }
    if (!failed && mastercf_flush(&p, logical, start) < 0)
        failed = -1;

    strbuf_free(logical);
    htable_free(p.seen, NULL);
    if (failed)
        return mastercf_free(p.table);
    return p.table;
}

/* mastercf_load: read and parse a master.cf file. */
mastercf *mastercf_load(const char *path, strbuf *err)
{
    strbuf *text = strbuf_new(4096);
    mastercf *m = NULL;

    switch (fileio_read_all(path, MASTERCF_FILE_MAX, text, err)) {
    case 0:
        m = mastercf_parse_text(text->data, text->len, path, err);
        break;
    case 1:
        strbuf_setf(err, "%s: cannot open: %s", path, strerror(ENOENT));
        break;
    }
    strbuf_free(text);
    return m;
}

/* mastercf_count: number of entries. */
size_t mastercf_count(const mastercf *m)
{
    return m->nentries;
}

/* mastercf_get: entry by position, NULL when out of range. */
const mastercf_entry *mastercf_get(const mastercf *m, size_t index)
{
    return index < m->nentries ? &m->entries[index] : NULL;
}

/* mastercf_find: entry by service name and type string. */
const mastercf_entry *mastercf_find(const mastercf *m, const char *service,
                                    const char *type)
{
    size_t  i;

    for (i = 0; i < m->nentries; i++)
        if (strcmp(m->entries[i].service, service) == 0
            && strcmp(m->entries[i].type, type) == 0)
            return &m->entries[i];
    return NULL;
}

/* mastercf_override_value: the last -o value for name, or NULL. */
const char *mastercf_override_value(const mastercf_entry *entry, const char *name)
{
    size_t  i = entry->noverrides;

    while (i-- > 0)
        if (strcmp(entry->overrides[i].name, name) == 0)
            return entry->overrides[i].value;
    return NULL;
}
