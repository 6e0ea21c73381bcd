/*
 * postalias: build, update and query alias tables made from aliases(5)
 * files; invoked as "newaliases", rebuild the tables of alias_database.
 *
 *   postalias [-iNorvw] [-c dir] [type:]file...       build (or -i: add)
 *   postalias [-jNv] [-c dir] -q name [type:]file...   query ("-": stdin)
 *   postalias [-jNv] [-c dir] -s [type:]file...        list every entry
 *   postalias [-Nov] [-c dir] -d name [type:]file...   delete ("-": stdin)
 *   newaliases [-orvw] [-c dir]                        rebuild alias_database
 *
 * The source is read with alias_src (names folded to lower case, value
 * lists kept as written); the table type defaults to
 * default_database_type. Options as for postmap (see postmap/postmap.c
 * and lib/mail/mkmap.c), except -f: alias names are always folded to
 * lower case, as the local delivery agent looks them up that way, so a
 * -f that only changed queries would make them miss; it is refused.
 *
 * newaliases: every table in alias_database (default
 * $default_database_type:/etc/aliases) whose type is built from a file
 * (hash, btree, lmdb, cdb) is rebuilt from its source, each reported on
 * standard error; other types (texthash:, ...) read their source
 * directly and are reported as skipped. A failure does not stop the
 * others. sendmail -bi will do the same once sendmail exists.
 *
 * Exit status: as postmap; newaliases: 0 when every table was rebuilt,
 * 1 otherwise.
 *
 * SECURITY: often run as root; see mkmap.c for the symbolic-link and
 * ownership rules. This file only parses the command line.
 * LIMITS: those of mkmap, alias_src and dict.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dict.h"
#include "mkmap.h"
#include "msg.h"
#include "param.h"
#include "strbuf.h"

/* usage: print the usage lines and exit with status. */
static void __attribute__((noreturn)) usage(int newaliases, int status)
{
    if (newaliases)
        fprintf(stderr, "usage: newaliases [-orvw] [-c config_dir]\n");
    else
        fprintf(stderr,
                "usage: postalias [-iNorvw] [-c config_dir] [type:]file...\n"
                "       postalias [-jNv] [-c config_dir] -q name|- [type:]file...\n"
                "       postalias [-jNv] [-c config_dir] -s [type:]file...\n"
                "       postalias [-Nov] [-c config_dir] -d name|- [type:]file...\n");
    exit(status);
}

/* postalias_newaliases: rebuild every file-based table in alias_database. */
static int postalias_newaliases(const mkmap_opts *opts)
{
    const char *const *items;
    strbuf *type = strbuf_new(16);
    strbuf *name = strbuf_new(64);
    size_t  count, i;
    int     status = 0;

    items = param_list(PARAM_ALIAS_DATABASE, &count);
    if (count == 0)
        msg_info("%s is empty: no alias tables to rebuild", PARAM_ALIAS_DATABASE);
    for (i = 0; i < count; i++) {
        if (dict_split_spec(items[i], type, name) < 0
            || !mkmap_writable_type(strbuf_str(type))) {
            msg_info("%s: skipped: not a table type that is built from a file",
                     items[i]);
        } else if (mkmap_build(opts, items[i]) == 0) {
            msg_info("%s: rebuilt from %s", items[i], strbuf_str(name));
        } else {
            msg_error("%s: not rebuilt; the old table, if any, stays in use",
                      items[i]);
            status = 1;
        }
    }
    strbuf_free(type);
    strbuf_free(name);
    return status;
}

/* main: parse the command line and run one mode. */
int     main(int argc, char **argv)
{
    mkmap_opts opts;
    const char *cli_dir = NULL;
    const char *key = NULL;
    const char *base;
    strbuf *err;
    int     newaliases;
    int     mode = MKMAP_MODE_BUILD;
    int     modes = 0;
    int     bad = 0;
    int     lookup = 0;                 /* -q or -d: errors exit with 2 */
    int     ch;
    int     status;

    memset(&opts, 0, sizeof(opts));
    opts.format = MKMAP_FORMAT_ALIASES;
    base = argc > 0 && argv[0] != NULL ? argv[0] : "postalias";
    if (strrchr(base, '/') != NULL)
        base = strrchr(base, '/') + 1;
    newaliases = strcmp(base, "newaliases") == 0;
    msg_init(newaliases ? "newaliases" : "postalias", MSG_F_STDERR);
    while ((ch = getopt(argc, argv, newaliases ? "c:orvw" : "c:d:ijNnoq:rsvw")) != -1) {
        switch (ch) {
        case 'c':
            cli_dir = optarg;
            break;
        case 'd':
        case 'q':
            key = optarg;
            lookup = 1;
            /* FALLTHROUGH */
        case 'i':
        case 's':
            mode = ch;
            modes++;
            break;
        case 'j':
            opts.flags |= MKMAP_F_JSON;
            break;
        case 'N':
            break;
        case 'n':
            msg_error("-n is not supported: tables always store the terminating "
                      "NUL (lookups accept entries with or without it)");
            bad = 1;
            break;
        case 'o':
            opts.flags |= MKMAP_F_NO_OWNER;
            break;
        case 'r':
            opts.flags |= MKMAP_F_REPLACE;
            break;
        case 'v':
            msg_verbose++;
            break;
        case 'w':
            opts.flags |= MKMAP_F_QUIET_DUP;
            break;
        default:
            bad = 1;
            break;
        }
    }
    if (modes > 1 || (newaliases ? optind < argc : optind >= argc)
        || ((opts.flags & MKMAP_F_JSON) && mode != MKMAP_MODE_QUERY
            && mode != MKMAP_MODE_DUMP))
        bad = 1;
    if (bad)
        usage(newaliases, lookup ? MKMAP_ERROR : 1);

    err = strbuf_new(128);
    if (param_load(param_config_dir(cli_dir), err) < 0) {
        msg_error("%s", strbuf_str(err));
        exit(lookup ? MKMAP_ERROR : 1);
    }
    strbuf_free(err);
    opts.default_type = param_str(PARAM_DEFAULT_DATABASE_TYPE);
    if (newaliases)
        status = postalias_newaliases(&opts);
    else
        status = mkmap_run(&opts, mode, key, argv + optind, argc - optind);
    return status;
}
