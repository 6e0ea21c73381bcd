/*
 * postconf_edit: postconf -e, -X and -#: edit main.cf in place.
 *
 * Function:
 *   postconf_edit(opts, mode, args, nargs): mode 'e' takes "name=value"
 *     arguments (white space around '=' and at the ends is dropped, as in
 *     main.cf), 'X' and '#' take names. The whole set of changes is applied
 *     in one atomic replacement of config_dir/main.cf (cfg_edit_file:
 *     temporary file in the same directory, fsync, rename); comments,
 *     blank lines, order and other parameters are kept. -e replaces an
 *     entry where it stands (with its continuation lines) and appends new
 *     ones; a missing main.cf is created. Returns POSTCONF_OK, or
 *     POSTCONF_FAIL after an error message (bad argument, I/O); nothing
 *     is written then.
 *
 * SECURITY: arguments come from the person running postconf, who must be
 * able to write the configuration directory anyway; names are checked and
 * values with line breaks are refused so that one argument cannot add
 * several lines to main.cf.
 * LIMITS: those of cfg_edit_file.
 */
#include <string.h>

#include "cfg.h"
#include "mem.h"
#include "msg.h"
#include "param.h"
#include "strbuf.h"
#include "strutil.h"
#include "postconf.h"

/* postconf_edit: apply -e, -X or -# to main.cf. */
int postconf_edit(const postconf_opts *opts, int mode, char **args, int nargs)
{
    cfg_edit *edits = mem_calloc((size_t) nargs, sizeof(*edits));
    char  **copies = mem_calloc((size_t) nargs, sizeof(*copies));
    strbuf *err = strbuf_new(100);
    char   *path;
    int     status = POSTCONF_OK;
    int     i;

    for (i = 0; i < nargs && status == POSTCONF_OK; i++) {
        char   *name;

        copies[i] = mem_strdup(args[i]);
        if (mode == 'e') {
            char   *eq = strchr(copies[i], '=');

            if (eq == NULL) {
                msg_error("-e requires name=value, not \"%s\"", args[i]);
                status = POSTCONF_FAIL;
                break;
            }
            *eq = 0;
            edits[i].op = CFG_EDIT_SET;
            edits[i].value = str_trim(eq + 1);
        } else {
            edits[i].op = (mode == 'X') ? CFG_EDIT_REMOVE : CFG_EDIT_COMMENT;
        }
        name = str_trim(copies[i]);
        if (!cfg_name_valid(name)) {
            msg_error("bad parameter name: \"%s\"", name);
            status = POSTCONF_FAIL;
            break;
        }
        edits[i].name = name;
    }
    if (status == POSTCONF_OK) {
        path = str_concat(opts->config_dir, "/", PARAM_MAIN_CF, (char *) NULL);
        if (msg_verbose)
            msg_info("editing %s", path);
        if (cfg_edit_file(path, edits, (size_t) nargs, err) < 0) {
            msg_error("%s", strbuf_str(err));
            status = POSTCONF_FAIL;
        }
        mem_free(path);
    }
    for (i = 0; i < nargs; i++)
        mem_free(copies[i]);
    mem_free(copies);
    mem_free(edits);
    strbuf_free(err);
    return status;
}
