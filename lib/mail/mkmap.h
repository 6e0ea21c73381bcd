/*
 * mkmap: what the postmap and postalias commands (and newaliases) do to
 * a table named on their command line: build it from its text source,
 * add entries to it, query, list and delete entries. The two commands
 * differ only in the source format (MKMAP_FORMAT_*) and their options.
 * See mkmap.c for the contracts.
 */
#ifndef POSTERN_MKMAP_H
#define POSTERN_MKMAP_H

#include <stddef.h>
#include <stdio.h>

#include "strbuf.h"

/* Source formats. */
#define MKMAP_FORMAT_POSTMAP    0       /* "key whitespace value" (dict_src) */
#define MKMAP_FORMAT_ALIASES    1       /* aliases(5) (alias_src) */

/* Option flags. */
#define MKMAP_F_NO_FOLD     (1 << 0)    /* -f: keys keep their case */
#define MKMAP_F_REPLACE     (1 << 1)    /* -r: a duplicate replaces */
#define MKMAP_F_QUIET_DUP   (1 << 2)    /* -w: no duplicate warnings */
#define MKMAP_F_NO_OWNER    (1 << 3)    /* -o: root keeps its ownership */
#define MKMAP_F_JSON        (1 << 4)    /* -j: JSON output lines */

/* Results of queries and deletions; they are also the exit status. */
#define MKMAP_FOUND         0
#define MKMAP_NOTFOUND      1
#define MKMAP_ERROR         2

/* What mkmap_run does. */
#define MKMAP_MODE_BUILD    0           /* build each table from its source */
#define MKMAP_MODE_UPDATE   'i'         /* add entries from standard input */
#define MKMAP_MODE_QUERY    'q'         /* print a key's value */
#define MKMAP_MODE_DELETE   'd'         /* delete a key */
#define MKMAP_MODE_DUMP     's'         /* print every entry */

/* Most bytes read from standard input (-i, -q -, -d -). */
#define MKMAP_STDIN_MAX     (64 * 1024 * 1024)

typedef struct mkmap_opts {
    int     format;                     /* MKMAP_FORMAT_* */
    int     flags;                      /* MKMAP_F_* */
    const char *default_type;           /* default_database_type */
} mkmap_opts;

/* A postmap, postalias or newaliases command line (mkmap_cmdline_parse). */
typedef struct mkmap_cmdline {
    mkmap_opts opts;                    /* format, -f -j -o -r -w, type */
    const char *config_dir;             /* -c, or NULL */
    const char *key;                    /* -q or -d key ("-": stdin) */
    int     mode;                       /* MKMAP_MODE_* */
    int     status;                     /* exit status of a usage or
                                         * config error */
    char  **args;                       /* the tables named */
    int     nargs;
} mkmap_cmdline;

int     mkmap_spec(const mkmap_opts *opts, const char *arg, strbuf *spec,
                   strbuf *type, strbuf *name);
int     mkmap_writable_type(const char *type);
const char *mkmap_file_suffix(const char *type);
int     mkmap_build(const mkmap_opts *opts, const char *arg);
int     mkmap_update(const mkmap_opts *opts, const char *arg, const char *text,
                     size_t len, const char *origin);
int     mkmap_query(const mkmap_opts *opts, char **args, int nargs,
                    const char *key, FILE *out);
int     mkmap_query_lines(const mkmap_opts *opts, char **args, int nargs,
                          const char *text, size_t len, FILE *out);
int     mkmap_delete(const mkmap_opts *opts, char **args, int nargs,
                     const char *key);
int     mkmap_delete_lines(const mkmap_opts *opts, char **args, int nargs,
                           const char *text, size_t len);
int     mkmap_dump(const mkmap_opts *opts, const char *arg, FILE *out);
int     mkmap_run(const mkmap_opts *opts, int mode, const char *key,
                  char **args, int nargs);
int     mkmap_newaliases(const mkmap_opts *opts, int report);
int     mkmap_cmdline_parse(mkmap_cmdline *cmd, int format, const char *optstring,
                            int argc, char **argv);
int     mkmap_cmdline_config(mkmap_cmdline *cmd);
int     mkmap_read_fd(int fd, const char *origin, strbuf *buf, strbuf *err);

#endif
