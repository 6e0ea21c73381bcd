/*
 * postconf: show and edit the Postern configuration.
 *
 *   postconf [-dhHjnvx] [-c dir] [name...]     parameter listings
 *   postconf [-v] [-c dir] -e name=value...    set parameters in main.cf
 *   postconf [-v] [-c dir] -X name...          remove parameters
 *   postconf [-v] [-c dir] -# name...          comment parameters out
 *   postconf [-jv] [-c dir] -M [service[/type]...]  master.cf entries
 *
 * The listings print "name = value" sorted by name: by default every
 * parameter in the table (plus user-defined parameters that main.cf uses
 * with $name) with its effective value; -d the defaults, -n only what
 * main.cf sets; -h values only, -H names only, -x expanded values; -j one
 * JSON object per line ({"name":...,"value":...}; -h/-H do not change
 * it). Names given on the command line are printed in that order; an
 * unknown one draws "unknown parameter: NAME" and makes the exit status 1.
 * See man/man1/postconf.1 for the user documentation.
 *
 * Exit status: 0 on success; 1 on a usage error (after a usage line), an
 * unknown name, or any error reading or writing the configuration.
 *
 * Config directory: -c, then MAIL_CONFIG, then /etc/postern
 * (param_config_dir). -d never reads main.cf. A missing main.cf draws a
 * warning in the other listing modes and the defaults are shown; an
 * unreadable or malformed one is fatal.
 *
 * SECURITY: postconf runs with the caller's privileges; main.cf and
 * master.cf are parsed by lib/ modules with their limits. Output values
 * are printed as they are (they are the admin's own text); -j escapes
 * them.
 * LIMITS: those of cfg and mastercf.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cfg.h"
#include "mem.h"
#include "json.h"
#include "msg.h"
#include "param.h"
#include "strbuf.h"
#include "strutil.h"
#include "postconf.h"

/* Edit modes, as postconf_edit() takes them. */
#define POSTCONF_MODE_LIST      0
#define POSTCONF_MODE_EDIT      'e'
#define POSTCONF_MODE_REMOVE    'X'
#define POSTCONF_MODE_COMMENT   '#'
#define POSTCONF_MODE_MASTER    'M'

/* usage: print the usage lines and exit. */
static void __attribute__((noreturn)) usage(void)
{
    fprintf(stderr,
            "usage: postconf [-dhHjnvx] [-c config_dir] [name...]\n"
            "       postconf [-v] [-c config_dir] -e name=value...\n"
            "       postconf [-v] [-c config_dir] -X name...\n"
            "       postconf [-v] [-c config_dir] -# name...\n"
            "       postconf [-jv] [-c config_dir] -M [service[/type]...]\n");
    exit(POSTCONF_FAIL);
}

/* postconf_sort_cmp: qsort comparison for name arrays. */
static int postconf_sort_cmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *) a, *(const char *const *) b);
}

/* postconf_all_names: the names a listing without arguments shows
 * (sorted; free the array, not the names, with mem_free). */
static const char **postconf_all_names(const postconf_opts *opts, size_t *count)
{
    const param_def *defs;
    const cfg *main_cf = param_main_cfg();
    size_t  ndefs, i, n = 0;
    size_t  nmain = main_cf ? cfg_count(main_cf) : 0;
    const char **names;

    defs = param_table(&ndefs);
    names = mem_calloc(ndefs + nmain + 1, sizeof(*names));
    if (opts->nondefault) {
        for (i = 0; i < nmain; i++)
            names[n++] = cfg_entry_at(main_cf, i)->name;
    } else {
        for (i = 0; i < ndefs; i++)
            names[n++] = defs[i].name;
        /* User-defined parameters that some value uses. */
        for (i = 0; !opts->defaults && i < nmain; i++) {
            const char *name = cfg_entry_at(main_cf, i)->name;

            if (param_def_find(name) == NULL && param_is_known(name))
                names[n++] = name;
        }
    }
    qsort(names, n, sizeof(*names), postconf_sort_cmp);
    *count = n;
    return names;
}

/* postconf_show: print one parameter; returns POSTCONF_OK or _FAIL. */
static int postconf_show(const postconf_opts *opts, const char *name, int explicit)
{
    const param_def *def = param_def_find(name);
    const cfg *main_cf = param_main_cfg();
    const char *raw;
    strbuf *value;
    strbuf *line;
    strbuf *err;
    int     status = POSTCONF_OK;

    if (opts->defaults) {
        if (def == NULL) {
            msg_warn("unknown parameter: %s", name);
            return POSTCONF_FAIL;
        }
        raw = param_default(name);
    } else if (opts->nondefault) {
        if (main_cf == NULL || (raw = cfg_get(main_cf, name)) == NULL) {
            /* Named but not set: nothing to show, unless it is unknown. */
            if (explicit && !param_is_known(name)) {
                msg_warn("unknown parameter: %s", name);
                return POSTCONF_FAIL;
            }
            return POSTCONF_OK;
        }
    } else {
        if (!param_is_known(name)) {
            msg_warn("unknown parameter: %s", name);
            return POSTCONF_FAIL;
        }
        raw = param_lookup(name);
        if (raw == NULL)
            raw = "";
    }

    value = strbuf_new(64);
    line = strbuf_new(128);
    err = strbuf_new(64);
    if (opts->expand && !(def && (def->flags & PARAM_F_RAW))) {
        /* By name, so that a loop is reported starting from it. */
        if (param_expand_value(name, value, err) < 0) {
            msg_warn("%s", strbuf_str(err));
            strbuf_set(value, raw, strlen(raw));
            status = POSTCONF_FAIL;
        }
    } else {
        strbuf_puts(value, raw);
    }
    if (opts->json) {
        strbuf_puts(line, "{\"name\":");
        json_string(line, name);
        strbuf_puts(line, ",\"value\":");
        json_string(line, strbuf_str(value));
        strbuf_putc(line, '}');
    } else if (opts->names_only) {
        strbuf_puts(line, name);
    } else if (opts->values_only) {
        strbuf_puts(line, strbuf_str(value));
    } else if (value->len == 0) {
        strbuf_printf(line, "%s =", name);
    } else {
        strbuf_printf(line, "%s = %s", name, strbuf_str(value));
    }
    postconf_print(line);
    strbuf_free(value);
    strbuf_free(line);
    strbuf_free(err);
    return status;
}

/* postconf_load: read main.cf for the listing modes. */
static void postconf_load(const postconf_opts *opts)
{
    strbuf *err = strbuf_new(100);
    int     rc;

    rc = param_load(opts->config_dir, err);
    if (rc < 0)
        msg_fatal("%s", strbuf_str(err));
    if (rc == 1)
        msg_warn("%s/%s: No such file or directory; showing default settings",
                 opts->config_dir, PARAM_MAIN_CF);
    strbuf_free(err);
}

/* postconf_list: the parameter listings. */
static int postconf_list(const postconf_opts *opts, char **args, int nargs)
{
    int     status = POSTCONF_OK;
    int     i;

    if (!opts->defaults)
        postconf_load(opts);
    if (nargs > 0) {
        for (i = 0; i < nargs; i++)
            if (postconf_show(opts, args[i], 1) != POSTCONF_OK)
                status = POSTCONF_FAIL;
    } else {
        size_t  n, k;
        const char **names = postconf_all_names(opts, &n);

        for (k = 0; k < n; k++)
            if (postconf_show(opts, names[k], 0) != POSTCONF_OK)
                status = POSTCONF_FAIL;
        mem_free(names);
    }
    return status;
}

/* main: parse options and run one mode. */
int     main(int argc, char **argv)
{
    postconf_opts opts;
    const char *cli_dir = NULL;
    int     mode = POSTCONF_MODE_LIST;
    int     ch;
    int     status;

    memset(&opts, 0, sizeof(opts));
    msg_init("postconf", MSG_F_STDERR);
    while ((ch = getopt(argc, argv, "c:dehHjMnvxX#")) != -1) {
        switch (ch) {
        case 'c':
            cli_dir = optarg;
            break;
        case 'd':
            opts.defaults = 1;
            break;
        case 'h':
            opts.values_only = 1;
            break;
        case 'H':
            opts.names_only = 1;
            break;
        case 'j':
            opts.json = 1;
            break;
        case 'n':
            opts.nondefault = 1;
            break;
        case 'v':
            msg_verbose++;
            break;
        case 'x':
            opts.expand = 1;
            break;
        case 'e':
        case 'X':
        case '#':
        case 'M':
            if (mode != POSTCONF_MODE_LIST && mode != ch)
                usage();
            mode = ch;
            break;
        default:
            usage();
        }
    }
    opts.config_dir = param_config_dir(cli_dir);
    if (opts.defaults && opts.nondefault)
        usage();
    if (opts.values_only && opts.names_only)
        usage();
    switch (mode) {
    case POSTCONF_MODE_LIST:
        status = postconf_list(&opts, argv + optind, argc - optind);
        break;
    case POSTCONF_MODE_MASTER:
        if (opts.defaults || opts.nondefault || opts.values_only || opts.names_only)
            usage();
        status = postconf_master(&opts, argv + optind, argc - optind);
        break;
    default:
        if (opts.defaults || opts.nondefault || opts.values_only || opts.names_only
            || opts.json || opts.expand || optind >= argc)
            usage();
        status = postconf_edit(&opts, mode, argv + optind, argc - optind);
        break;
    }
    if (fflush(stdout) == EOF || ferror(stdout))
        msg_fatal("write error on standard output: %m");
    return status;
}
