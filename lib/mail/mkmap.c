/*
 * mkmap: building, updating, querying, listing and deleting in tables
 * named on a command line, for postmap, postalias and newaliases.
 *
 * Public functions (opts gives the source format, the MKMAP_F_* option
 * flags and default_database_type; every function that reports an error
 * logs it with msg_error, naming the file and, for sources, the line):
 *   mkmap_spec(opts, arg, spec, type, name): resolve a command-line table
 *     "[type:]name": a ':' with a non-empty text before it that holds no
 *     '/' makes that text the type ("hash:/etc/x", but "./a:b" is a file
 *     name); otherwise the type is opts->default_type. Fills spec
 *     ("type:name"), type and name; -1 when the name is empty.
 *   mkmap_writable_type(type): 1 for the types these commands build
 *     (hash, btree, lmdb, cdb), else 0.
 *   mkmap_file_suffix(type): the suffix the type adds to the name for its
 *     file (".db", ".lmdb", ".cdb"), or NULL for types without one.
 *   mkmap_build(opts, arg): build the table from its source file (the
 *     name): a new table is written beside the old one and replaces it
 *     only when every entry went in (dict_commit), so any error (missing
 *     source, syntax error "FILE, line N: ...", database error) leaves
 *     the old table answering. Duplicate keys keep the first value with
 *     the warning "FILE, line N: duplicate entry: "KEY"" (MKMAP_F_REPLACE:
 *     the last value wins; MKMAP_F_QUIET_DUP: no warning). Keys are folded
 *     to lower case unless MKMAP_F_NO_FOLD (aliases: always folded).
 *     Returns 0, or -1 after logging the error.
 *   mkmap_update(opts, arg, text, len, origin): postmap -i: add the
 *     entries in text (read from standard input; origin names it in
 *     messages) to the existing table, or a new one. The whole text is
 *     checked first, so a syntax error changes nothing. 0 or -1.
 *   mkmap_query(opts, args, nargs, key, out): print the value of key from
 *     the first of the tables that has it. MKMAP_FOUND, MKMAP_NOTFOUND or
 *     MKMAP_ERROR (a table that cannot be opened or read: the search
 *     stops there, as a lookup would defer).
 *   mkmap_query_lines(opts, args, nargs, text, len, out): postmap -q -:
 *     one key per line of text (postmap: the first word of the line, so a
 *     source file can be fed in; postalias: the whole line, trimmed;
 *     empty lines are skipped), printing "key<TAB>value" (postalias:
 *     "name: value") for each key found. MKMAP_FOUND when any key was
 *     found, MKMAP_NOTFOUND when none, MKMAP_ERROR at the first failure.
 *   mkmap_delete(opts, args, nargs, key), mkmap_delete_lines(opts, args,
 *     nargs, text, len): remove key (or each key in text, taken as
 *     mkmap_query_lines takes them) from every table named. The table
 *     file must exist. MKMAP_FOUND when something was deleted,
 *     MKMAP_NOTFOUND when nothing was, MKMAP_ERROR on any failure.
 *   mkmap_dump(opts, arg, out): print every entry, as mkmap_query_lines
 *     prints hits. 0, or -1 after an error.
 *   mkmap_run(opts, mode, key, args, nargs): what a command line asks
 *     for, on the tables args[0..nargs-1]; returns the exit status.
 *     MKMAP_MODE_BUILD: mkmap_build each table in turn, stopping at the
 *     first failure (0, or 1). MKMAP_MODE_UPDATE: read standard input
 *     and mkmap_update each table with it (0, or 1). MKMAP_MODE_QUERY and
 *     MKMAP_MODE_DELETE: key, or "-" for the keys on standard input
 *     (MKMAP_FOUND 0, MKMAP_NOTFOUND 1, MKMAP_ERROR 2). MKMAP_MODE_DUMP:
 *     mkmap_dump each table (0, or 1). Output goes to stdout; a write
 *     error on it is an error (1, or 2 for queries and deletions).
 *   mkmap_newaliases(opts, report): what newaliases does: every table
 *     in alias_database whose type is built from a file (hash, btree,
 *     lmdb, cdb) is rebuilt from its source with mkmap_build (aliases(5)
 *     format whatever opts->format says; opts->default_type NULL means
 *     default_database_type). Other types (texthash:, ...) read their
 *     source directly and are skipped. A failure does not stop the
 *     others; each is logged with "SPEC: not rebuilt". report: also log
 *     each table rebuilt or skipped, and an empty alias_database, with
 *     msg_info (as postalias run as newaliases does); otherwise only a
 *     skipped table is logged, and only when msg_verbose. Returns 0 when
 *     every table was rebuilt, -1 otherwise. main.cf must be loaded.
 *   mkmap_cmdline_parse(cmd, format, optstring, argc, argv): the option
 *     parsing postmap, postalias and newaliases share. getopt over
 *     optstring (a subset of "c:d:fijNnoq:rsvw" with these meanings: -c
 *     config directory, -d/-q key: delete/query mode, -i update mode, -s
 *     dump mode, -f MKMAP_F_NO_FOLD, -j MKMAP_F_JSON, -N accepted and
 *     ignored, -n refused with an error message, -o MKMAP_F_NO_OWNER, -r
 *     MKMAP_F_REPLACE, -v msg_verbose++, -w MKMAP_F_QUIET_DUP). Fills
 *     cmd (format as given; args/nargs the operands after the options;
 *     status 1, or MKMAP_ERROR once -q or -d was seen). Returns 0, or -1
 *     on a usage error: an unknown option, -n, two modes, -j outside -q
 *     and -s. The caller checks the operand count and prints its usage.
 *   mkmap_cmdline_config(cmd): load main.cf from cmd->config_dir (then
 *     MAIL_CONFIG, then the default) and set cmd->opts.default_type to
 *     default_database_type. 0, or -1 after logging the error (exit with
 *     cmd->status).
 *   mkmap_read_fd(fd, origin, buf, err): read all of fd into buf, at most
 *     MKMAP_STDIN_MAX bytes. 0, or -1 with err set.
 *   json_string(out, text): append text as a JSON string literal;
 *     bytes that are not valid UTF-8 become U+FFFD.
 *   With MKMAP_F_JSON every printed entry is one JSON object per line:
 *   {"key":"...","value":"..."}.
 *
 * Ownership, as root: a table built or changed here gets the owner and
 * group of its source file (dict_set_owner), unless MKMAP_F_NO_OWNER.
 * Without that, or when the source does not exist, the table keeps the
 * owner of the file it replaces (see dict_dbfile).
 *
 * SECURITY: these commands often run as root on files in directories
 * that others may write to. Before writing a table we lstat its file and
 * refuse when it is a symbolic link owned by someone else (who could
 * point it at any file); a link of the caller's own is accepted, and a
 * rebuild then replaces the link itself with the new file. Source files
 * are parsed by dict_src and alias_src with their bounds, and must be
 * regular files. Standard input is read with a bound.
 * LIMITS: MKMAP_STDIN_MAX bytes of standard input; DICT_KEY_MAX and
 * DICT_VALUE_MAX per entry (the readers and dict enforce them).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alias_src.h"
#include "dict.h"
#include "dict_src.h"
#include "mem.h"
#include "json.h"
#include "mkmap.h"
#include "msg.h"
#include "param.h"
#include "strbuf.h"
#include "strutil.h"

/* The writable types and the file each keeps its table in. */
static const struct {
    const char *type;
    const char *suffix;
} mkmap_types[] = {
    {"btree", ".db"},
    {"cdb", ".cdb"},
    {"hash", ".db"},
    {"lmdb", ".lmdb"},
};

#define MKMAP_NTYPES (sizeof(mkmap_types) / sizeof(mkmap_types[0]))

/* A source reader of either format. */
typedef struct mkmap_reader {
    dict_src *ds;
    alias_src *as;
} mkmap_reader;

/* mkmap_file_suffix: the file suffix of a writable type, or NULL. */
const char *mkmap_file_suffix(const char *type)
{
    size_t  i;

    for (i = 0; i < MKMAP_NTYPES; i++)
        if (strcmp(mkmap_types[i].type, type) == 0)
            return mkmap_types[i].suffix;
    return NULL;
}

/* mkmap_writable_type: can these commands build this type? */
int mkmap_writable_type(const char *type)
{
    return mkmap_file_suffix(type) != NULL;
}

/* mkmap_spec: resolve "[type:]name". */
int mkmap_spec(const mkmap_opts *opts, const char *arg, strbuf *spec,
               strbuf *type, strbuf *name)
{
    const char *colon = strchr(arg, ':');

    if (colon != NULL && colon > arg && memchr(arg, '/', (size_t) (colon - arg)) == NULL) {
        strbuf_set(type, arg, (size_t) (colon - arg));
        strbuf_set(name, colon + 1, strlen(colon + 1));
    } else {
        strbuf_set(type, opts->default_type, strlen(opts->default_type));
        strbuf_set(name, arg, strlen(arg));
    }
    strbuf_reset(spec);
    strbuf_printf(spec, "%s:%s", strbuf_str(type), strbuf_str(name));
    return name->len > 0 ? 0 : -1;
}

/* mkmap_dict_flags: dict_open flags for the options. */
static int mkmap_dict_flags(const mkmap_opts *opts)
{
    int     flags = 0;

    if (opts->format == MKMAP_FORMAT_ALIASES || !(opts->flags & MKMAP_F_NO_FOLD))
        flags |= DICT_F_FOLD;
    if (opts->flags & MKMAP_F_REPLACE)
        flags |= DICT_F_DUP_REPLACE;
    else if (opts->flags & MKMAP_F_QUIET_DUP)
        flags |= DICT_F_DUP_IGNORE;
    return flags;
}

/* mkmap_reader_open: open a source file of the opts format. */
static int mkmap_reader_open(const mkmap_opts *opts, mkmap_reader *rd,
                             const char *path, strbuf *err)
{
    memset(rd, 0, sizeof(*rd));
    if (opts->format == MKMAP_FORMAT_ALIASES)
        rd->as = alias_src_open(path, err);
    else
        rd->ds = dict_src_open(path, err);
    return rd->as || rd->ds ? 0 : -1;
}

/* mkmap_reader_open_mem: read a source from memory. */
static void mkmap_reader_open_mem(const mkmap_opts *opts, mkmap_reader *rd,
                                  const char *text, size_t len,
                                  const char *origin)
{
    memset(rd, 0, sizeof(*rd));
    if (opts->format == MKMAP_FORMAT_ALIASES)
        rd->as = alias_src_open_mem(text, len, origin);
    else
        rd->ds = dict_src_open_mem(text, len, origin);
}

/* mkmap_reader_next: next entry (1), end (0), error (-1, err set). */
static int mkmap_reader_next(mkmap_reader *rd, strbuf *key, strbuf *value,
                             strbuf *err)
{
    return rd->as ? alias_src_next(rd->as, key, value, err)
        : dict_src_next(rd->ds, key, value, err);
}

/* mkmap_reader_line: line of the last entry. */
static int mkmap_reader_line(const mkmap_reader *rd)
{
    return rd->as ? alias_src_line(rd->as) : dict_src_line(rd->ds);
}

/* mkmap_reader_origin: the source's name in messages. */
static const char *mkmap_reader_origin(const mkmap_reader *rd)
{
    return rd->as ? alias_src_origin(rd->as) : dict_src_origin(rd->ds);
}

/* mkmap_reader_stat: the source file as opened, or NULL. */
static const struct stat *mkmap_reader_stat(const mkmap_reader *rd)
{
    return rd->as ? alias_src_stat(rd->as) : dict_src_stat(rd->ds);
}

/* mkmap_reader_close: release the reader. */
static void mkmap_reader_close(mkmap_reader *rd)
{
    rd->as = alias_src_close(rd->as);
    rd->ds = dict_src_close(rd->ds);
}

/* mkmap_check_target: refuse a table file that is someone else's
 * symbolic link; with must_exist, also a missing file. */
static int mkmap_check_target(const char *type, const char *name, int must_exist)
{
    const char *suffix = mkmap_file_suffix(type);
    struct stat st;
    char   *path;
    int     rc = 0;

    if (suffix == NULL)
        return 0;
    path = str_concat(name, suffix, (char *) NULL);
    if (lstat(path, &st) < 0) {
        if (errno != ENOENT || must_exist) {
            msg_error("open %s: %m", path);
            rc = -1;
        }
    } else if (S_ISLNK(st.st_mode) && st.st_uid != geteuid()) {
        msg_error("%s: refusing to write through a symbolic link owned by "
                  "uid %ld (not by uid %ld)", path, (long) st.st_uid,
                  (long) geteuid());
        rc = -1;
    }
    mem_free(path);
    return rc;
}

/* mkmap_owner: as root, give the table the source file's owner. */
static void mkmap_owner(const mkmap_opts *opts, dict *d, const struct stat *st)
{
    if (st != NULL && geteuid() == 0 && !(opts->flags & MKMAP_F_NO_OWNER))
        (void) dict_set_owner(d, st->st_uid, st->st_gid);
}

/* mkmap_load: put every entry of a source into a table; 0 or -1. */
static int mkmap_load(const mkmap_opts *opts, dict *d, mkmap_reader *rd)
{
    strbuf *key = strbuf_new(64);
    strbuf *value = strbuf_new(256);
    strbuf *err = strbuf_new(64);
    int     rc;

    while ((rc = mkmap_reader_next(rd, key, value, err)) > 0) {
        switch (dict_put(d, strbuf_str(key), strbuf_str(value))) {
        case 0:
            break;
        case 1:
            if (!(opts->flags & (MKMAP_F_QUIET_DUP | MKMAP_F_REPLACE)))
                msg_warn("%s, line %d: duplicate entry: \"%s\"",
                         mkmap_reader_origin(rd), mkmap_reader_line(rd),
                         strbuf_str(key));
            break;
        default:
            strbuf_setf(err, "%s, line %d: %s", mkmap_reader_origin(rd),
                        mkmap_reader_line(rd), dict_error(d));
            rc = -1;
            break;
        }
        if (rc < 0)
            break;
    }
    if (rc < 0)
        msg_error("%s", strbuf_str(err));
    strbuf_free(key);
    strbuf_free(value);
    strbuf_free(err);
    return rc;
}

/* mkmap_finish: commit and close a written table; 0 or -1. */
static int mkmap_finish(dict *d, int rc)
{
    if (rc == 0 && dict_commit(d) < 0) {
        msg_error("%s", dict_error(d));
        rc = -1;
    }
    (void) dict_close(d);
    return rc;
}

/* mkmap_build: build a table from its source file. */
int mkmap_build(const mkmap_opts *opts, const char *arg)
{
    strbuf *spec = strbuf_new(64);
    strbuf *type = strbuf_new(16);
    strbuf *name = strbuf_new(64);
    strbuf *err = strbuf_new(64);
    mkmap_reader rd;
    dict   *d;
    int     rc = -1;

    memset(&rd, 0, sizeof(rd));
    if (mkmap_spec(opts, arg, spec, type, name) < 0) {
        msg_error("%s: empty table name", arg);
    } else if (mkmap_check_target(strbuf_str(type), strbuf_str(name), 0) < 0) {
         /* reported */ ;
    } else if (mkmap_reader_open(opts, &rd, strbuf_str(name), err) < 0) {
        msg_error("%s", strbuf_str(err));
    } else if ((d = dict_open(strbuf_str(spec), DICT_F_CREATE | mkmap_dict_flags(opts),
                              err)) == NULL) {
        msg_error("%s", strbuf_str(err));
    } else {
        mkmap_owner(opts, d, mkmap_reader_stat(&rd));
        rc = mkmap_finish(d, mkmap_load(opts, d, &rd));
    }
    mkmap_reader_close(&rd);
    strbuf_free(spec);
    strbuf_free(type);
    strbuf_free(name);
    strbuf_free(err);
    return rc;
}

/* mkmap_update: add entries from text to a table (postmap -i). */
int mkmap_update(const mkmap_opts *opts, const char *arg, const char *text,
                 size_t len, const char *origin)
{
    strbuf *spec = strbuf_new(64);
    strbuf *type = strbuf_new(16);
    strbuf *name = strbuf_new(64);
    strbuf *key = strbuf_new(64);
    strbuf *value = strbuf_new(256);
    strbuf *err = strbuf_new(64);
    mkmap_reader rd;
    struct stat st;
    dict   *d;
    int     rc = -1;

    if (mkmap_spec(opts, arg, spec, type, name) < 0) {
        msg_error("%s: empty table name", arg);
        goto out;
    }
    if (mkmap_check_target(strbuf_str(type), strbuf_str(name), 0) < 0)
        goto out;

    /* Check everything first: changes in place cannot be taken back. */
    mkmap_reader_open_mem(opts, &rd, text, len, origin);
    while ((rc = mkmap_reader_next(&rd, key, value, err)) > 0)
         /* void */ ;
    mkmap_reader_close(&rd);
    if (rc < 0) {
        msg_error("%s", strbuf_str(err));
        goto out;
    }

    rc = -1;
    if ((d = dict_open(strbuf_str(spec), DICT_F_UPDATE | DICT_F_LOCK
                       | mkmap_dict_flags(opts), err)) == NULL) {
        msg_error("%s", strbuf_str(err));
        goto out;
    }
    mkmap_owner(opts, d, stat(strbuf_str(name), &st) == 0 ? &st : NULL);
    mkmap_reader_open_mem(opts, &rd, text, len, origin);
    rc = mkmap_finish(d, mkmap_load(opts, d, &rd));
    mkmap_reader_close(&rd);

out:
    strbuf_free(spec);
    strbuf_free(type);
    strbuf_free(name);
    strbuf_free(key);
    strbuf_free(value);
    strbuf_free(err);
    return rc;
}

/* mkmap_alias_name: an alias name as aliases(5) would need it written. */
static void mkmap_alias_name(strbuf *out, const char *name)
{
    const char *p;

    if (*name != 0 && *name != '#' && strpbrk(name, " \t\r\f\v:\"\\") == NULL) {
        strbuf_puts(out, name);
        return;
    }
    strbuf_putc(out, '"');
    for (p = name; *p; p++) {
        if (*p == '"' || *p == '\\')
            strbuf_putc(out, '\\');
        strbuf_putc(out, *p);
    }
    strbuf_putc(out, '"');
}

/* mkmap_print: print one entry (or only its value). */
static void mkmap_print(const mkmap_opts *opts, FILE *out, const char *key,
                        const char *value, int with_key)
{
    strbuf *line = strbuf_new(128);

    if (opts->flags & MKMAP_F_JSON) {
        strbuf_puts(line, "{\"key\":");
        json_string(line, key);
        strbuf_puts(line, ",\"value\":");
        json_string(line, value);
        strbuf_putc(line, '}');
    } else if (!with_key) {
        strbuf_puts(line, value);
    } else if (opts->format == MKMAP_FORMAT_ALIASES) {
        mkmap_alias_name(line, key);
        strbuf_printf(line, ": %s", value);
    } else {
        strbuf_printf(line, "%s\t%s", key, value);
    }
    strbuf_putc(line, '\n');
    (void) fwrite(line->data, 1, line->len, out);
    strbuf_free(line);
}

/* mkmap_open_read: open a table named on the command line for reading. */
static dict *mkmap_open_read(const mkmap_opts *opts, const char *arg)
{
    strbuf *spec = strbuf_new(64);
    strbuf *type = strbuf_new(16);
    strbuf *name = strbuf_new(64);
    strbuf *err = strbuf_new(64);
    dict   *d = NULL;

    if (mkmap_spec(opts, arg, spec, type, name) < 0)
        msg_error("%s: empty table name", arg);
    else if ((d = dict_open(strbuf_str(spec), mkmap_dict_flags(opts) & DICT_F_FOLD,
                            err)) == NULL)
        msg_error("%s", strbuf_str(err));
    strbuf_free(spec);
    strbuf_free(type);
    strbuf_free(name);
    strbuf_free(err);
    return d;
}

/* mkmap_search: look a key up in tables in order. */
static int mkmap_search(dict **tables, int ntables, const char *key, strbuf *value)
{
    int     i;

    for (i = 0; i < ntables; i++) {
        switch (dict_get(tables[i], key, value)) {
        case DICT_FOUND:
            return MKMAP_FOUND;
        case DICT_NOTFOUND:
            break;
        default:
            msg_error("%s: %s", tables[i]->spec, dict_error(tables[i]));
            return MKMAP_ERROR;
        }
    }
    return MKMAP_NOTFOUND;
}

/* mkmap_open_all: open every table for reading; NULL after an error. */
static dict **mkmap_open_all(const mkmap_opts *opts, char **args, int nargs)
{
    dict  **tables = mem_calloc((size_t) nargs + 1, sizeof(*tables));
    int     i;

    for (i = 0; i < nargs; i++) {
        if ((tables[i] = mkmap_open_read(opts, args[i])) == NULL) {
            while (i-- > 0)
                (void) dict_close(tables[i]);
            return mem_free(tables);
        }
    }
    return tables;
}

/* mkmap_close_all: close what mkmap_open_all opened. */
static void mkmap_close_all(dict **tables, int nargs)
{
    int     i;

    for (i = 0; i < nargs; i++)
        (void) dict_close(tables[i]);
    mem_free(tables);
}

/* mkmap_query: print the value of one key. */
int mkmap_query(const mkmap_opts *opts, char **args, int nargs,
                const char *key, FILE *out)
{
    dict  **tables;
    strbuf *value;
    int     rc;

    if ((tables = mkmap_open_all(opts, args, nargs)) == NULL)
        return MKMAP_ERROR;
    value = strbuf_new(256);
    if ((rc = mkmap_search(tables, nargs, key, value)) == MKMAP_FOUND)
        mkmap_print(opts, out, key, strbuf_str(value), 0);
    strbuf_free(value);
    mkmap_close_all(tables, nargs);
    return rc;
}

/* mkmap_line_key: the key on one input line; 1 key, 0 none, -1 bad. */
static int mkmap_line_key(const mkmap_opts *opts, const char *line, size_t len,
                          strbuf *key)
{
    size_t  start = 0, end;

    if (memchr(line, 0, len) != NULL)
        return -1;
    while (start < len && strchr(" \t\r\f\v", line[start]) != NULL)
        start++;
    if (opts->format == MKMAP_FORMAT_ALIASES) {
        end = len;
        while (end > start && strchr(" \t\r\f\v", line[end - 1]) != NULL)
            end--;
    } else {
        for (end = start; end < len && strchr(" \t\r\f\v", line[end]) == NULL; end++)
             /* void */ ;
    }
    strbuf_set(key, line + start, end - start);
    return end > start;
}

/* mkmap_next_line: walk text line by line; 0 at the end. */
static int mkmap_next_line(const char *text, size_t len, size_t *pos,
                           const char **line, size_t *line_len)
{
    const char *nl;

    if (*pos >= len)
        return 0;
    *line = text + *pos;
    nl = memchr(*line, '\n', len - *pos);
    *line_len = nl ? (size_t) (nl - *line) : len - *pos;
    *pos += *line_len + (nl != NULL);
    return 1;
}

/* mkmap_query_lines: look up each key in text. */
int mkmap_query_lines(const mkmap_opts *opts, char **args, int nargs,
                      const char *text, size_t len, FILE *out)
{
    dict  **tables;
    strbuf *key;
    strbuf *value;
    const char *line;
    size_t  pos = 0, line_len;
    int     lineno = 0;
    int     rc = MKMAP_NOTFOUND;
    int     k;

    if ((tables = mkmap_open_all(opts, args, nargs)) == NULL)
        return MKMAP_ERROR;
    key = strbuf_new(64);
    value = strbuf_new(256);
    while (rc != MKMAP_ERROR && mkmap_next_line(text, len, &pos, &line, &line_len)) {
        lineno++;
        if ((k = mkmap_line_key(opts, line, line_len, key)) < 0) {
            msg_warn("standard input, line %d: NUL byte; line skipped", lineno);
            continue;
        }
        if (k == 0)
            continue;
        switch (mkmap_search(tables, nargs, strbuf_str(key), value)) {
        case MKMAP_FOUND:
            mkmap_print(opts, out, strbuf_str(key), strbuf_str(value), 1);
            rc = MKMAP_FOUND;
            break;
        case MKMAP_ERROR:
            rc = MKMAP_ERROR;
            break;
        }
    }
    strbuf_free(key);
    strbuf_free(value);
    mkmap_close_all(tables, nargs);
    return rc;
}

/* mkmap_delete_keys: delete keys[0..nkeys-1] from each table. */
static int mkmap_delete_keys(const mkmap_opts *opts, char **args, int nargs,
                             char **keys, int nkeys)
{
    strbuf *spec = strbuf_new(64);
    strbuf *type = strbuf_new(16);
    strbuf *name = strbuf_new(64);
    strbuf *err = strbuf_new(64);
    struct stat st;
    int     deleted = 0;
    int     failed = 0;
    int     i, k, rc;
    dict   *d;

    for (i = 0; i < nargs && !failed; i++) {
        if (mkmap_spec(opts, args[i], spec, type, name) < 0) {
            msg_error("%s: empty table name", args[i]);
            failed = 1;
            break;
        }
        if (mkmap_check_target(strbuf_str(type), strbuf_str(name), 1) < 0) {
            failed = 1;
            break;
        }
        if ((d = dict_open(strbuf_str(spec), DICT_F_UPDATE | DICT_F_LOCK
                           | (mkmap_dict_flags(opts) & DICT_F_FOLD), err)) == NULL) {
            msg_error("%s", strbuf_str(err));
            failed = 1;
            break;
        }
        mkmap_owner(opts, d, stat(strbuf_str(name), &st) == 0 ? &st : NULL);
        for (k = 0; k < nkeys && !failed; k++) {
            if ((rc = dict_del(d, keys[k])) == DICT_FOUND) {
                deleted = 1;
            } else if (rc != DICT_NOTFOUND) {
                msg_error("%s: %s", strbuf_str(spec), dict_error(d));
                failed = 1;
            }
        }
        if (mkmap_finish(d, failed ? -1 : 0) < 0)
            failed = 1;
    }
    strbuf_free(spec);
    strbuf_free(type);
    strbuf_free(name);
    strbuf_free(err);
    return failed ? MKMAP_ERROR : deleted ? MKMAP_FOUND : MKMAP_NOTFOUND;
}

/* mkmap_delete: delete one key from each table. */
int mkmap_delete(const mkmap_opts *opts, char **args, int nargs, const char *key)
{
    char   *keys[1];

    keys[0] = (char *) key;
    return mkmap_delete_keys(opts, args, nargs, keys, 1);
}

/* mkmap_delete_lines: delete each key in text from each table. */
int mkmap_delete_lines(const mkmap_opts *opts, char **args, int nargs,
                       const char *text, size_t len)
{
    strbuf *key = strbuf_new(64);
    char  **keys = NULL;
    size_t  nkeys = 0, size = 0, pos = 0, line_len, i;
    const char *line;
    int     lineno = 0;
    int     rc, k;

    while (mkmap_next_line(text, len, &pos, &line, &line_len)) {
        lineno++;
        if ((k = mkmap_line_key(opts, line, line_len, key)) < 0)
            msg_warn("standard input, line %d: NUL byte; line skipped", lineno);
        if (k <= 0)
            continue;
        if (nkeys == size) {
            size = size ? 2 * size : 16;
            keys = mem_realloc(keys, size * sizeof(*keys));
        }
        keys[nkeys++] = mem_strdup(strbuf_str(key));
    }
    rc = mkmap_delete_keys(opts, args, nargs, keys, (int) nkeys);
    for (i = 0; i < nkeys; i++)
        mem_free(keys[i]);
    mem_free(keys);
    strbuf_free(key);
    return rc;
}

/* mkmap_dump: print every entry of a table. */
int mkmap_dump(const mkmap_opts *opts, const char *arg, FILE *out)
{
    strbuf *key;
    strbuf *value;
    dict   *d;
    int     first, rc;

    if ((d = mkmap_open_read(opts, arg)) == NULL)
        return -1;
    key = strbuf_new(64);
    value = strbuf_new(256);
    for (first = 1; (rc = dict_iterate(d, first, key, value)) == DICT_FOUND; first = 0)
        mkmap_print(opts, out, strbuf_str(key), strbuf_str(value), 1);
    if (rc != DICT_NOTFOUND)
        msg_error("%s: %s", d->spec, dict_error(d));
    strbuf_free(key);
    strbuf_free(value);
    (void) dict_close(d);
    return rc == DICT_NOTFOUND ? 0 : -1;
}

/* mkmap_read_fd: read a whole descriptor, bounded. */
int mkmap_read_fd(int fd, const char *origin, strbuf *buf, strbuf *err)
{
    char    chunk[65536];
    ssize_t n;

    strbuf_reset(buf);
    for (;;) {
        n = read(fd, chunk, sizeof(chunk));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            strbuf_setf(err, "read %s: %s", origin, strerror(errno));
            return -1;
        }
        if (n == 0)
            return 0;
        if (buf->len + (size_t) n > MKMAP_STDIN_MAX) {
            strbuf_setf(err, "%s: more than %d bytes of input", origin,
                        MKMAP_STDIN_MAX);
            return -1;
        }
        strbuf_append(buf, chunk, (size_t) n);
    }
}

/* mkmap_run: carry out one command-line mode; returns the exit status. */
int mkmap_run(const mkmap_opts *opts, int mode, const char *key,
              char **args, int nargs)
{
    strbuf *input = NULL;
    strbuf *err = strbuf_new(64);
    int     lookup = (mode == MKMAP_MODE_QUERY || mode == MKMAP_MODE_DELETE);
    int     status = 0;
    int     i;

    /* Standard input first: for -i, and for keys given as "-". */
    if (mode == MKMAP_MODE_UPDATE || (lookup && strcmp(key, "-") == 0)) {
        input = strbuf_new(4096);
        if (mkmap_read_fd(0, "standard input", input, err) < 0) {
            msg_error("%s", strbuf_str(err));
            strbuf_free(input);
            strbuf_free(err);
            return lookup ? MKMAP_ERROR : 1;
        }
    }
    switch (mode) {
    case MKMAP_MODE_BUILD:
        for (i = 0; i < nargs && status == 0; i++)
            if (mkmap_build(opts, args[i]) < 0)
                status = 1;
        break;
    case MKMAP_MODE_UPDATE:
        for (i = 0; i < nargs && status == 0; i++)
            if (mkmap_update(opts, args[i], input->data, input->len,
                             "standard input") < 0)
                status = 1;
        break;
    case MKMAP_MODE_QUERY:
        status = input ? mkmap_query_lines(opts, args, nargs, input->data,
                                           input->len, stdout)
            : mkmap_query(opts, args, nargs, key, stdout);
        break;
    case MKMAP_MODE_DELETE:
        status = input ? mkmap_delete_lines(opts, args, nargs, input->data, input->len)
            : mkmap_delete(opts, args, nargs, key);
        break;
    case MKMAP_MODE_DUMP:
        for (i = 0; i < nargs && status == 0; i++)
            if (mkmap_dump(opts, args[i], stdout) < 0)
                status = 1;
        break;
    default:
        msg_panic("mkmap_run: unknown mode %d", mode);
    }
    if (fflush(stdout) == EOF || ferror(stdout)) {
        msg_error("write error on standard output: %m");
        status = lookup ? MKMAP_ERROR : 1;
    }
    strbuf_free(input);
    strbuf_free(err);
    return status;
}

/* mkmap_newaliases: rebuild every file-based table in alias_database. */
int mkmap_newaliases(const mkmap_opts *opts, int report)
{
    const char *const *items;
    mkmap_opts aopts = *opts;
    strbuf *type = strbuf_new(16);
    strbuf *name = strbuf_new(64);
    size_t  count, i;
    int     status = 0;

    aopts.format = MKMAP_FORMAT_ALIASES;
    if (aopts.default_type == NULL)
        aopts.default_type = param_str(PARAM_DEFAULT_DATABASE_TYPE);
    items = param_list(PARAM_ALIAS_DATABASE, &count);
    if (count == 0 && report)
        msg_info("%s is empty: no alias tables to rebuild", PARAM_ALIAS_DATABASE);
    for (i = 0; i < count; i++) {
        if (dict_split_spec(items[i], type, name) < 0
            || !mkmap_writable_type(strbuf_str(type))) {
            if (report || msg_verbose)
                msg_info("%s: skipped: not a table type that is built from a file",
                         items[i]);
        } else if (mkmap_build(&aopts, items[i]) == 0) {
            if (report)
                msg_info("%s: rebuilt from %s", items[i], strbuf_str(name));
        } else {
            msg_error("%s: not rebuilt; the old table, if any, stays in use",
                      items[i]);
            status = -1;
        }
    }
    strbuf_free(type);
    strbuf_free(name);
    return status;
}

/* mkmap_cmdline_parse: the options postmap, postalias and newaliases share. */
int mkmap_cmdline_parse(mkmap_cmdline *cmd, int format, const char *optstring,
                        int argc, char **argv)
{
    int     modes = 0;
    int     bad = 0;
    int     ch;

    memset(cmd, 0, sizeof(*cmd));
    cmd->opts.format = format;
    cmd->mode = MKMAP_MODE_BUILD;
    cmd->status = 1;
    while ((ch = getopt(argc, argv, optstring)) != -1) {
        switch (ch) {
        case 'c':
            cmd->config_dir = optarg;
            break;
        case 'd':
        case 'q':
            cmd->key = optarg;
            cmd->status = MKMAP_ERROR;  /* lookups: errors exit with 2 */
            /* FALLTHROUGH */
        case 'i':
        case 's':
            cmd->mode = ch;
            modes++;
            break;
        case 'f':
            cmd->opts.flags |= MKMAP_F_NO_FOLD;
            break;
        case 'j':
            cmd->opts.flags |= MKMAP_F_JSON;
            break;
        case 'N':
            break;
        case 'n':
            msg_error("-n is not supported: tables always store the terminating "
                      "NUL (lookups accept entries with or without it)");
            bad = 1;
            break;
        case 'o':
            cmd->opts.flags |= MKMAP_F_NO_OWNER;
            break;
        case 'r':
            cmd->opts.flags |= MKMAP_F_REPLACE;
            break;
        case 'v':
            msg_verbose++;
            break;
        case 'w':
            cmd->opts.flags |= MKMAP_F_QUIET_DUP;
            break;
        default:
            bad = 1;
            break;
        }
    }
    cmd->args = argv + optind;
    cmd->nargs = argc - optind;
    if (modes > 1
        || ((cmd->opts.flags & MKMAP_F_JSON) && cmd->mode != MKMAP_MODE_QUERY
            && cmd->mode != MKMAP_MODE_DUMP))
        bad = 1;
    return bad ? -1 : 0;
}

/* mkmap_cmdline_config: load main.cf and take default_database_type. */
int mkmap_cmdline_config(mkmap_cmdline *cmd)
{
    strbuf *err = strbuf_new(128);
    int     rc = 0;

    if (param_load(param_config_dir(cmd->config_dir), err) < 0) {
        msg_error("%s", strbuf_str(err));
        rc = -1;
    } else {
        cmd->opts.default_type = param_str(PARAM_DEFAULT_DATABASE_TYPE);
    }
    strbuf_free(err);
    return rc;
}
