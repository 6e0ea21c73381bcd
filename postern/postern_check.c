/*
 * postern_check: "postern check" - is this instance ready to run?
 *
 * Public functions:
 *   postern_check(opts, quiet): load main.cf (unknown names draw param's
 *     warnings), validate every parameter value, parse master.cf, resolve
 *     mail_owner and setgid_group, check the spool tree's owners and
 *     modes (postern_spool_check), and check that master and every
 *     master.cf command are executable files in daemon_directory. Each
 *     problem is logged ("error: ..." or, for what is merely odd,
 *     "warning: ..."). Returns POSTERN_EXIT_OK when there was no error
 *     (warnings allowed), else POSTERN_EXIT_FAIL. quiet: say nothing on
 *     success (start and reload use it).
 *   postern_check_params(): check the value of every parameter in the
 *     table against its type and bounds after expansion, the way the
 *     typed getters of lib/mail/param would, but reporting every bad
 *     value as an error instead of exiting at the first. Returns the
 *     number of bad values.
 *   postern_resolve_ids(opts, ids, err): fill ids with the spool's owner
 *     and groups: as root mail_owner (which must exist and must not be
 *     uid 0) and setgid_group (which must exist); otherwise the invoking
 *     user and its primary group. Returns 0, or -1 with err.
 *
 * SECURITY: check only reads; it runs with the caller's privileges. A
 * mail_owner with uid 0 is an error: every service would run as root.
 * LIMITS: only the table's parameters are type-checked; list values are
 * checked for expansion errors only.
 */
#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cfg.h"
#include "mastercf.h"
#include "mem.h"
#include "msg.h"
#include "numparse.h"
#include "param.h"
#include "param_names.h"
#include "postern.h"
#include "strbuf.h"
#include "strutil.h"

/* postern_where: "PATH, line N: " for a main.cf setting, else "". */
static void postern_where(const char *name, char *buf, size_t size)
{
    const cfg *main_cf = param_main_cfg();
    const cfg_entry *e = main_cf ? cfg_find(main_cf, name) : NULL;

    buf[0] = 0;
    if (e && e->line > 0)
        (void) str_format(buf, size, "%s, line %d: ", e->origin, e->line);
    else if (e)
        (void) str_format(buf, size, "%s: ", e->origin);
}

/* postern_check_value: is text a valid value for def? NULL when it is. */
static const char *postern_check_value(const param_def *def, const char *text,
                                       char *hint, size_t size)
{
    long    n;
    int     rc;

    switch (def->type) {
    case PARAM_BOOL:
        if (str_casecmp(text, "yes") != 0 && str_casecmp(text, "no") != 0)
            return "boolean";
        return NULL;
    case PARAM_INT:
    case PARAM_SIZE:
        if (num_parse_long(text, LONG_MIN, LONG_MAX, &n) < 0)
            return "numerical";
        if (n < def->min || n > def->max) {
            (void) str_format(hint, size, " (allowed: %ld..%ld)", def->min, def->max);
            return "numerical";
        }
        return NULL;
    case PARAM_TIME:
        rc = param_parse_time(text, def->unit, &n);
        if (rc == -1)
            return "time";
        if (rc < 0 || n < def->min || n > def->max) {
            (void) str_format(hint, size, " (allowed: %ld..%ld seconds)",
                              def->min, def->max);
            return "time";
        }
        return NULL;
    default:
        return NULL;
    }
}

/* postern_check_params: validate every parameter value; count the bad. */
int     postern_check_params(void)
{
    size_t  count;
    size_t  i;
    const param_def *table = param_table(&count);
    strbuf *out = strbuf_new(100);
    strbuf *err = strbuf_new(100);
    int     bad = 0;

    for (i = 0; i < count; i++) {
        const param_def *def = table + i;
        const char *kind;
        const char *text;
        char    where[PATH_MAX + 64];
        char    hint[100] = "";

        strbuf_reset(out);
        strbuf_reset(err);
        if (def->flags & PARAM_F_RAW) {
            text = param_raw(def->name);
        } else if (param_expand_value(def->name, out, err) < 0) {
            msg_error("%s", strbuf_str(err));
            bad++;
            continue;
        } else {
            text = strbuf_str(out);
        }
        if ((kind = postern_check_value(def, text, hint, sizeof(hint))) != NULL) {
            postern_where(def->name, where, sizeof(where));
            msg_error("%sbad %s configuration: %s = %s%s",
                      where, kind, def->name, param_raw(def->name), hint);
            bad++;
        }
    }
    strbuf_free(out);
    strbuf_free(err);
    return bad;
}

/* postern_resolve_ids: the spool's owner and groups. */
int     postern_resolve_ids(const postern_opts *opts, postern_ids *ids, strbuf *err)
{
    const char *owner = param_str(PARAM_MAIL_OWNER);
    const char *group = param_str(PARAM_SETGID_GROUP);
    struct passwd *pw;
    struct group *gr;

    memset(ids, 0, sizeof(*ids));
    if (!opts->root) {
        ids->owner_uid = getuid();
        ids->owner_gid = getgid();
        ids->root_uid = getuid();
        ids->setgid_gid = getgid();
        ids->have_setgid = 0;
        return 0;
    }
    errno = 0;
    if ((pw = getpwnam(owner)) == NULL) {
        strbuf_setf(err, "mail_owner: unknown user \"%s\" (create it, or set "
                    "mail_owner in main.cf)", owner);
        return -1;
    }
    if (pw->pw_uid == 0) {
        strbuf_setf(err, "mail_owner: user \"%s\" has uid 0: the mail system "
                    "must not run its services as root", owner);
        return -1;
    }
    ids->owner_uid = pw->pw_uid;
    ids->owner_gid = pw->pw_gid;
    ids->root_uid = 0;
    if ((gr = getgrnam(group)) == NULL) {
        strbuf_setf(err, "setgid_group: unknown group \"%s\"", group);
        return -1;
    }
    ids->setgid_gid = gr->gr_gid;
    ids->have_setgid = 1;
    return 0;
}

/* postern_program: is dir/name an executable file? Logs an error if not. */
static int postern_program(const char *dir, const char *name, const char *what)
{
    char   *path = name[0] == '/' ? mem_strdup(name) : postern_path(dir, name);
    struct stat st;
    int     ok = 0;

    if (stat(path, &st) < 0)
        msg_error("%s: %s: %m", what, path);
    else if (!S_ISREG(st.st_mode))
        msg_error("%s: %s: not a regular file", what, path);
    else if (access(path, X_OK) < 0)
        msg_error("%s: %s: not executable: %m", what, path);
    else
        ok = 1;
    mem_free(path);
    return ok;
}

/* postern_check_owner: warnings for an odd mail_owner in an unprivileged instance. */
static void postern_check_owner(const postern_opts *opts)
{
    struct passwd *pw;
    const char *owner = param_str(PARAM_MAIL_OWNER);

    if (opts->root)
        return;
    if ((pw = getpwnam(owner)) == NULL || pw->pw_uid != getuid())
        msg_warn("mail_owner is \"%s\", but an instance started by a user other "
                 "than root runs entirely as that user (uid %ld)",
                 owner, (long) getuid());
}

/* postern_check: the whole check. */
int     postern_check(const postern_opts *opts, int quiet)
{
    strbuf *err = strbuf_new(100);
    postern_ids ids;
    mastercf *mcf;
    char   *path;
    const char *ddir;
    const char *qdir;
    size_t  i;
    int     errors = 0;

    if (postern_load(opts, 1, err) < 0) {
        msg_error("%s", strbuf_str(err));
        strbuf_free(err);
        return POSTERN_EXIT_FAIL;
    }
    ddir = param_str(PARAM_DAEMON_DIRECTORY);
    qdir = param_str(PARAM_QUEUE_DIRECTORY);
    if (qdir[0] != '/') {
        msg_error("queue_directory must be an absolute path: \"%s\"", qdir);
        errors++;
    }
    if (ddir[0] != '/') {
        msg_error("daemon_directory must be an absolute path: \"%s\"", ddir);
        errors++;
    }
    path = postern_path(opts->config_dir, PARAM_MASTER_CF);
    if ((mcf = mastercf_load(path, err)) == NULL) {
        msg_error("%s", strbuf_str(err));
        errors++;
    }
    mem_free(path);

    postern_check_owner(opts);
    if (postern_resolve_ids(opts, &ids, err) < 0) {
        msg_error("%s", strbuf_str(err));
        errors++;
    } else if (qdir[0] == '/') {
        errors += postern_spool_check(qdir, &ids, opts->root);
    }

    if (!postern_program(ddir, "master", "the master program"))
        errors++;
    for (i = 0; mcf && i < mastercf_count(mcf); i++) {
        const mastercf_entry *e = mastercf_get(mcf, i);
        char    what[MASTERCF_SERVICE_MAX + 300];

        (void) str_format(what, sizeof(what), "%s, line %d: service %s/%s",
                          e->origin, e->line, e->service, e->type);
        if (!postern_program(ddir, e->command, what))
            errors++;
    }
    mastercf_free(mcf);
    strbuf_free(err);
    if (errors) {
        msg_error("%d problem%s found in the configuration in %s",
                  errors, errors == 1 ? "" : "s", opts->config_dir);
        return POSTERN_EXIT_FAIL;
    }
    if (!quiet && msg_verbose)
        msg_info("configuration in %s: ok", opts->config_dir);
    return POSTERN_EXIT_OK;
}
