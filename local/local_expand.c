/*
 * local_expand: expand forward_path, luser_relay and mailbox_command
 * patterns with the attributes of one recipient.
 *
 *   local_expand(pattern, vars, delimiter, out, err): expand $name,
 *     ${name}, ${name?text} and ${name:text} (the main.cf syntax, through
 *     cfg_expand) where name is one of home, user, extension, local,
 *     domain, recipient, recipient_delimiter, shell. recipient_delimiter
 *     is the delimiter only when the address has an extension (so
 *     "$home/.forward${recipient_delimiter}${extension}" names no file
 *     for a plain address), otherwise empty. Unset or empty attributes
 *     are empty (so ${name?text} is text only when name is not empty).
 *     Values are inserted literally (a '$' in an extension is not
 *     expanded again). Returns 0, or -1 with err on a syntax error.
 *
 * SECURITY: extension and local come from the sender's address; the
 * caller must filter them before using the result in a shell command.
 * LIMITS: those of cfg_expand.
 */
#include <string.h>

#include "cfg.h"
#include "local.h"
#include "strbuf.h"

struct local_expand_ctx {
    const local_cmd_vars *vars;
    const char *delimiter;
    strbuf *tmp;
};

/* local_expand_lookup: the value of one name, escaped against re-expansion. */
static const char *local_expand_lookup(const char *name, void *ctxp)
{
    struct local_expand_ctx *ctx = ctxp;
    const local_cmd_vars *v = ctx->vars;
    const char *val = NULL;
    const char *p;

    if (strcmp(name, "home") == 0)
        val = v->home;
    else if (strcmp(name, "user") == 0)
        val = v->user;
    else if (strcmp(name, "extension") == 0)
        val = v->extension;
    else if (strcmp(name, "local") == 0)
        val = v->local;
    else if (strcmp(name, "domain") == 0)
        val = v->domain;
    else if (strcmp(name, "recipient") == 0)
        val = v->recipient;
    else if (strcmp(name, "shell") == 0)
        val = v->shell;
    else if (strcmp(name, "recipient_delimiter") == 0)
        val = (v->extension && *v->extension) ? ctx->delimiter : NULL;
    if (val == NULL || *val == 0)
        return NULL;
    strbuf_reset(ctx->tmp);
    for (p = val; *p; p++) {
        if (*p == '$')
            (void) strbuf_putc(ctx->tmp, '$');
        (void) strbuf_putc(ctx->tmp, *p);
    }
    return ctx->tmp->data;
}

/* local_expand: expand a pattern for one recipient. */
int     local_expand(const char *pattern, const local_cmd_vars *vars,
                     const char *delimiter, strbuf *out, strbuf *err)
{
    struct local_expand_ctx ctx;
    int     rc;

    ctx.vars = vars;
    ctx.delimiter = delimiter;
    ctx.tmp = strbuf_new(64);
    strbuf_reset(out);
    rc = cfg_expand(pattern, local_expand_lookup, &ctx, out, err);
    strbuf_free(ctx.tmp);
    return rc;
}
