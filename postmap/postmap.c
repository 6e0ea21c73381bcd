/*
 * postmap: build, update and query lookup tables made from text files.
 *
 *   postmap [-finNorvw] [-c dir] [type:]file...     build (or -i: add)
 *   postmap [-fjNnv] [-c dir] -q key [type:]file...  query ("-": stdin)
 *   postmap [-jNnv] [-c dir] -s [type:]file...       list every entry
 *   postmap [-fNnov] [-c dir] -d key [type:]file...  delete ("-": stdin)
 *
 * The source is "key whitespace value" lines (dict_src); the table type
 * defaults to default_database_type. See lib/mail/mkmap.c for what each
 * mode does and man/man1/postmap.1 for the user documentation.
 *
 * Options: -c config directory; -f keep the case of keys (default: fold
 * to lower case); -i add entries from standard input to the table; -j
 * JSON output for -q and -s; -N store keys and values with their
 * terminating NUL (the default; accepted for compatibility); -n store
 * them without it: not supported (our tables always hold the NUL, and
 * reading accepts entries either way), refused with a message rather
 * than ignored; -o as root, do not give the table the source file's
 * owner; -r a duplicate key replaces the earlier value; -v verbose; -w
 * no warnings about duplicate keys.
 *
 * Exit status: building, -i and -s: 0 on success, 1 on any error. -q and
 * -d: 0 found (deleted), 1 not found, 2 on an error. Usage errors: 1 (2
 * with -q or -d).
 *
 * SECURITY: often run as root. Sources and tables are handled by mkmap
 * (symbolic-link checks, ownership), dict_src and the dict types; this
 * file only parses the command line.
 * LIMITS: those of mkmap, dict_src and dict.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mkmap.h"
#include "msg.h"
#include "param.h"
#include "strbuf.h"

/* usage: print the usage lines and exit with status. */
static void __attribute__((noreturn)) usage(int status)
{
    fprintf(stderr,
            "usage: postmap [-finNorvw] [-c config_dir] [type:]file...\n"
            "       postmap [-fjNv] [-c config_dir] -q key|- [type:]file...\n"
            "       postmap [-jNv] [-c config_dir] -s [type:]file...\n"
            "       postmap [-fNov] [-c config_dir] -d key|- [type:]file...\n");
    exit(status);
}

/* main: parse the command line and run one mode. */
int     main(int argc, char **argv)
{
    mkmap_opts opts;
    const char *cli_dir = NULL;
    const char *key = NULL;
    strbuf *err;
    int     mode = MKMAP_MODE_BUILD;
    int     modes = 0;
    int     bad = 0;
    int     lookup = 0;                 /* -q or -d: errors exit with 2 */
    int     ch;
    int     status;

    memset(&opts, 0, sizeof(opts));
    opts.format = MKMAP_FORMAT_POSTMAP;
    msg_init("postmap", MSG_F_STDERR);
    while ((ch = getopt(argc, argv, "c:d:fijNnoq:rsvw")) != -1) {
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
        case 'f':
            opts.flags |= MKMAP_F_NO_FOLD;
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
    if (modes > 1 || optind >= argc
        || ((opts.flags & MKMAP_F_JSON) && mode != MKMAP_MODE_QUERY
            && mode != MKMAP_MODE_DUMP))
        bad = 1;
    if (bad)
        usage(lookup ? MKMAP_ERROR : 1);

    err = strbuf_new(128);
    if (param_load(param_config_dir(cli_dir), err) < 0) {
        msg_error("%s", strbuf_str(err));
        exit(lookup ? MKMAP_ERROR : 1);
    }
    strbuf_free(err);
    opts.default_type = param_str(PARAM_DEFAULT_DATABASE_TYPE);
    status = mkmap_run(&opts, mode, key, argv + optind, argc - optind);
    return status;
}
