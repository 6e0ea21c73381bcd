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
 * file only names its options (mkmap_cmdline_parse does the parsing).
 * LIMITS: those of mkmap, dict_src and dict.
 */
#include <stdio.h>
#include <stdlib.h>

#include "mkmap.h"
#include "msg.h"

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
    mkmap_cmdline cmd;

    msg_init("postmap", MSG_F_STDERR);
    if (mkmap_cmdline_parse(&cmd, MKMAP_FORMAT_POSTMAP, "c:d:fijNnoq:rsvw",
                            argc, argv) < 0 || cmd.nargs == 0)
        usage(cmd.status);
    if (mkmap_cmdline_config(&cmd) < 0)
        exit(cmd.status);
    return mkmap_run(&cmd.opts, cmd.mode, cmd.key, cmd.args, cmd.nargs);
}
