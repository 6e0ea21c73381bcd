/*
 * mastercf: the master.cf parser (service table of the master daemon).
 *
 * A master.cf file is a list of entries, one per logical line:
 *
 *   service type private unpriv chroot wakeup maxproc command [args...]
 *
 * Lines whose first non-blank byte is '#' and blank lines are ignored; a
 * line that starts with white space continues the previous logical line.
 * See mastercf.c for the full grammar, defaults and limits.
 *
 * The parsed table is read-only for its users: entries are kept in file
 * order and owned by the mastercf object.
 */
#ifndef POSTERN_MASTERCF_H
#define POSTERN_MASTERCF_H

#include <stddef.h>

#include "strbuf.h"

/* Limits (see mastercf.c LIMITS). */
#define MASTERCF_FILE_MAX     (1024 * 1024)     /* bytes in one file */
#define MASTERCF_LINE_MAX     16384             /* bytes in one logical line */
#define MASTERCF_ENTRY_MAX    1000              /* entries in one file */
#define MASTERCF_SERVICE_MAX  255               /* bytes in a service name */
#define MASTERCF_ARG_MAX      500               /* command words per entry */

/* Service types (column 2). */
enum mastercf_type {
    MASTERCF_TYPE_INET = 1,             /* "inet": TCP listener */
    MASTERCF_TYPE_UNIX,                 /* "unix": UNIX-domain stream */
    MASTERCF_TYPE_UNIX_DGRAM,           /* "unix-dgram": UNIX datagram */
    MASTERCF_TYPE_FIFO,                 /* "fifo": named pipe */
    MASTERCF_TYPE_PASS                  /* "pass": fd-passing UNIX socket */
};

/* One "-o name=value" parameter override. */
typedef struct mastercf_override {
    char   *name;                       /* parameter name */
    char   *value;                      /* value, may be empty */
} mastercf_override;

/* One master.cf entry (a logical line). All strings are owned by the table. */
typedef struct mastercf_entry {
    char   *service;                    /* column 1: name or [host:]port */
    char   *type;                       /* column 2 as written */
    enum mastercf_type type_code;       /* column 2 decoded */
    int     private_;                   /* column 3: 1 = y (default) */
    int     unpriv;                     /* column 4: 1 = y (default) */
    int     chroot;                     /* column 5: 1 = y; default n */
    char   *private_raw;                /* columns 3-5 as written: y, n, - */
    char   *unpriv_raw;
    char   *chroot_raw;
    char   *wakeup;                     /* column 6 as written: -, 0, 60, 60? */
    long    wakeup_seconds;             /* 0 = no wakeup timer */
    int     wakeup_conditional;         /* 1 when written with a trailing ? */
    char   *maxproc_raw;                /* column 7 as written */
    long    maxproc;                    /* -1 = default_process_limit, 0 = no limit */
    char   *command;                    /* column 8 */
    char  **argv;                       /* command + args, NULL-terminated */
    size_t  argc;                       /* words in argv, >= 1 */
    mastercf_override *overrides;       /* -o options, in file order */
    size_t  noverrides;
    const char *origin;                 /* file name (owned by the table) */
    int     line;                       /* line where the entry starts */
} mastercf_entry;

typedef struct mastercf {
    mastercf_entry *entries;            /* in file order */
    size_t  nentries;
    char   *origin;                     /* path or caller-given name */
} mastercf;

mastercf *mastercf_load(const char *path, strbuf *err);
mastercf *mastercf_parse_text(const char *text, size_t len, const char *origin,
                              strbuf *err);
mastercf *mastercf_free(mastercf *m);
size_t  mastercf_count(const mastercf *m);
const mastercf_entry *mastercf_get(const mastercf *m, size_t index);
const mastercf_entry *mastercf_find(const mastercf *m, const char *service,
                                    const char *type);
const char *mastercf_override_value(const mastercf_entry *entry,
                                    const char *name);
const char *mastercf_type_name(enum mastercf_type type);

#endif
