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
 * others (mkmap_newaliases, which sendmail -bi and sendmail's newaliases
 * also call, there without the per-table reports).
 *
 * Exit status: as postmap; newaliases: 0 when every table was rebuilt,
 * 1 otherwise.
 *
 * SECURITY: often run as root; see mkmap.c for the symbolic-link and
 * ownership rules. This file only names its options (mkmap_cmdline_parse
 * does the parsing).
 * LIMITS: those of mkmap, alias_src and dict.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mkmap.h"
#include "msg.h"

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

/* main: parse the command line and run one mode. */
int     main(int argc, char **argv)
{
    mkmap_cmdline cmd;
    const char *base;
    int     newaliases;

    base = argc > 0 && argv[0] != NULL ? argv[0] : "postalias";
    if (strrchr(base, '/') != NULL)
        base = strrchr(base, '/') + 1;
    newaliases = strcmp(base, "newaliases") == 0;
    msg_init(newaliases ? "newaliases" : "postalias", MSG_F_STDERR);
    if (mkmap_cmdline_parse(&cmd, MKMAP_FORMAT_ALIASES,
                            newaliases ? "c:orvw" : "c:d:ijNnoq:rsvw",
                            argc, argv) < 0
        || (newaliases ? cmd.nargs != 0 : cmd.nargs == 0))
        usage(newaliases, cmd.status);
    if (mkmap_cmdline_config(&cmd) < 0)
        exit(cmd.status);
    if (newaliases)
        return mkmap_newaliases(&cmd.opts, 1) < 0 ? 1 : 0;
    return mkmap_run(&cmd.opts, cmd.mode, cmd.key, cmd.args, cmd.nargs);
}
