/*
 * postconf_master: postconf -M: show master.cf entries.
 *
 * Function:
 *   postconf_master(opts, args, nargs): read config_dir/master.cf with
 *     mastercf_load and print its entries in file order, one line each:
 *     the seven columns as written (service padded to 10 characters, the
 *     others to 7), then the command and its arguments, all on one line.
 *     An argument that is empty or holds white space or braces is written
 *     as "{ arg }" so that the line parses back to the same entry. With
 *     arguments, only matching entries are shown: "service/type" selects
 *     one entry, "service" every type of that service; a selection that
 *     matches nothing draws a warning and makes the result POSTCONF_FAIL.
 *     With -j each entry is one JSON object (see postconf(1)):
 *       {"service":S,"type":T,"private":P,"unpriv":U,"chroot":C,
 *        "wakeup":W,"maxproc":M,"command":CMD,"args":[...],
 *        "overrides":[{"name":N,"value":V},...]}
 *     where the column values are strings exactly as written in master.cf,
 *     "args" are the words after the command (the -o options included),
 *     and "overrides" the -o name=value settings in file order.
 *     A missing or malformed master.cf is an error (POSTCONF_FAIL).
 *
 * SECURITY: master.cf is parsed by lib/mail/mastercf with its limits;
 * values are printed as written, escaped for JSON.
 * LIMITS: those of mastercf.
 */
#include <string.h>

#include "mastercf.h"
#include "mem.h"
#include "json.h"
#include "msg.h"
#include "param.h"
#include "strbuf.h"
#include "strutil.h"
#include "postconf.h"

/* postconf_master_word: append one command word, braced when needed. */
static void postconf_master_word(strbuf *line, const char *word)
{
    strbuf_putc(line, ' ');
    if (*word == 0 || strpbrk(word, " \t\r\n{}") != NULL)
        strbuf_printf(line, "{ %s }", word);
    else
        strbuf_puts(line, word);
}

/* postconf_master_text: one entry as a master.cf line. */
static void postconf_master_text(strbuf *line, const mastercf_entry *e)
{
    size_t  i;

    strbuf_printf(line, "%-10s %-5s %-7s %-7s %-7s %-7s %-7s %s",
                  e->service, e->type, e->private_raw, e->unpriv_raw,
                  e->chroot_raw, e->wakeup, e->maxproc_raw, e->command);
    for (i = 1; i < e->argc; i++)
        postconf_master_word(line, e->argv[i]);
}

/* postconf_master_json: one entry as a JSON object. */
static void postconf_master_json(strbuf *line, const mastercf_entry *e)
{
    static const char *const keys[] = {
        "service", "type", "private", "unpriv", "chroot", "wakeup", "maxproc", "command"
    };
    const char *values[8];
    size_t  i;

    values[0] = e->service;
    values[1] = e->type;
    values[2] = e->private_raw;
    values[3] = e->unpriv_raw;
    values[4] = e->chroot_raw;
    values[5] = e->wakeup;
    values[6] = e->maxproc_raw;
    values[7] = e->command;
    strbuf_putc(line, '{');
    for (i = 0; i < 8; i++) {
        strbuf_printf(line, "%s\"%s\":", i ? "," : "", keys[i]);
        json_string(line, values[i]);
    }
    strbuf_puts(line, ",\"args\":[");
    for (i = 1; i < e->argc; i++) {
        if (i > 1)
            strbuf_putc(line, ',');
        json_string(line, e->argv[i]);
    }
    strbuf_puts(line, "],\"overrides\":[");
    for (i = 0; i < e->noverrides; i++) {
        strbuf_puts(line, i ? ",{\"name\":" : "{\"name\":");
        json_string(line, e->overrides[i].name);
        strbuf_puts(line, ",\"value\":");
        json_string(line, e->overrides[i].value);
        strbuf_putc(line, '}');
    }
    strbuf_puts(line, "]}");
}

/* postconf_master_match: 1 if entry e is selected by sel. */
static int postconf_master_match(const mastercf_entry *e, const char *sel)
{
    const char *slash = strrchr(sel, '/');

    if (slash == NULL)
        return strcmp(e->service, sel) == 0;
    return strlen(e->service) == (size_t) (slash - sel)
        && strncmp(e->service, sel, (size_t) (slash - sel)) == 0
        && strcmp(e->type, slash + 1) == 0;
}

/* postconf_master: the -M listing. */
int postconf_master(const postconf_opts *opts, char **args, int nargs)
{
    strbuf *err = strbuf_new(100);
    strbuf *line = strbuf_new(256);
    char   *path = str_concat(opts->config_dir, "/", PARAM_MASTER_CF, (char *) NULL);
    char   *matched = mem_calloc((size_t) nargs + 1, 1);
    mastercf *m;
    int     status = POSTCONF_OK;
    size_t  i;
    int     k;

    if ((m = mastercf_load(path, err)) == NULL) {
        msg_error("%s", strbuf_str(err));
        status = POSTCONF_FAIL;
    }
    for (i = 0; m && i < mastercf_count(m); i++) {
        const mastercf_entry *e = mastercf_get(m, i);
        int     show = (nargs == 0);

        for (k = 0; k < nargs; k++) {
            if (postconf_master_match(e, args[k])) {
                show = 1;
                matched[k] = 1;
            }
        }
        if (!show)
            continue;
        strbuf_reset(line);
        if (opts->json)
            postconf_master_json(line, e);
        else
            postconf_master_text(line, e);
        postconf_print(line);
    }
    for (k = 0; m && k < nargs; k++) {
        if (!matched[k]) {
            msg_warn("%s: no such service in %s", args[k], path);
            status = POSTCONF_FAIL;
        }
    }
    mastercf_free(m);
    mem_free(matched);
    mem_free(path);
    strbuf_free(line);
    strbuf_free(err);
    return status;
}
