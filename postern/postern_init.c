/*
 * postern_init: "postern init [dir] [name=value...]" - create an instance.
 *
 * Public functions:
 *   postern_init(opts, args, nargs): args are an optional configuration
 *     directory (the first argument, when it holds no '='; it replaces
 *     -c / MAIL_CONFIG / the default), then settings:
 *       name=value                   a main.cf parameter
 *       service/type/field=value     a master.cf field (postconf -F
 *                                    syntax); field is one of service,
 *                                    private, unpriv, chroot, wakeup,
 *                                    maxproc, command (command replaces
 *                                    the command, its arguments and its
 *                                    continuation lines)
 *     It creates the directory (and its parents), writes main.cf and
 *     master.cf from the samples compiled in from conf/ with the settings
 *     applied, then creates the spool tree of queue_directory with the
 *     modes of master_proto.h. Returns an exit status.
 *
 * Defaults chosen for the new main.cf (each only when not given):
 *   - not root (an unprivileged instance): mail_owner and setgid_group
 *     become the invoking user's name and primary group, and
 *     queue_directory becomes DIR/spool;
 *   - daemon_directory (and command_directory) become the directory that
 *     holds the postern binary itself when it also holds an executable
 *     master, so that "build/bin/postern init DIR" makes an instance
 *     that runs from the build without installing anything;
 *   - a relative queue_directory, daemon_directory or command_directory
 *     is made absolute (against the current directory).
 *
 * Existing files are never overwritten: with main.cf and master.cf both
 * present (and no settings), init only creates what is missing of the
 * spool; settings for an existing file are an error (use postconf -e).
 * A missing one of the two files is written from its sample.
 *
 * SECURITY: files are created with O_EXCL (no clobbering, no following a
 * planted link), mode 0644; the settings come from the caller's own
 * command line. As root the spool is created owned by mail_owner (which
 * must exist and must not be uid 0).
 * LIMITS: at most POSTERN_INIT_MAX settings; master.cf values hold no
 * newline, and only "command" may hold white space.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cfg.h"
#include "fileio.h"
#include "master_proto.h"
#include "mastercf.h"
#include "mem.h"
#include "msg.h"
#include "param.h"
#include "param_names.h"
#include "postern.h"
#include "strbuf.h"
#include "strutil.h"

#define POSTERN_INIT_MAX        200     /* settings on one command line */
#define POSTERN_MASTER_FIELDS   8       /* columns of master.cf */

static const char *const postern_master_fields[POSTERN_MASTER_FIELDS] = {
    "service", "type", "private", "unpriv", "chroot", "wakeup", "maxproc",
    "command",
};

/* One master.cf field edit. */
typedef struct postern_medit {
    char   *service;
    char   *type;
    int     field;                      /* index in postern_master_fields */
    const char *value;
} postern_medit;

/* postern_init_absolute: a new absolute path for value. */
static char *postern_init_absolute(const char *value)
{
    char    cwd[PATH_MAX];

    if (value[0] == '/' || value[0] == 0 || value[0] == '$')
        return mem_strdup(value);
    if (getcwd(cwd, sizeof(cwd)) == NULL)
        msg_fatal("cannot find the current directory: %m");
    return postern_path(cwd, value);
}

/* postern_parse_medit: "service/type/field=value" into e; -1 when malformed. */
static int postern_parse_medit(const char *arg, const char *eq, postern_medit *e)
{
    char   *spec = mem_strndup(arg, (size_t) (eq - arg));
    char   *cursor = spec;
    char   *service = str_token(&cursor, "/");
    char   *type = str_token(&cursor, "/");
    char   *field = str_token(&cursor, "/");
    int     i;

    e->field = -1;
    if (service && type && field && str_token(&cursor, "/") == NULL)
        for (i = 0; i < POSTERN_MASTER_FIELDS; i++)
            if (i != 1 && strcmp(field, postern_master_fields[i]) == 0)
                e->field = i;
    if (e->field < 0) {
        mem_free(spec);
        msg_error("bad master.cf setting \"%s\": expected service/type/field=value "
                  "with field one of service, private, unpriv, chroot, wakeup, "
                  "maxproc, command", arg);
        return -1;
    }
    e->value = eq + 1;
    if (strchr(e->value, '\n') != NULL || *e->value == 0
        || (e->field != 7 && e->value[strcspn(e->value, " \t")] != 0)) {
        mem_free(spec);
        msg_error("bad master.cf setting \"%s\": the value must not be empty or "
                  "hold a newline, and only command may hold white space", arg);
        return -1;
    }
    e->service = mem_strdup(service);
    e->type = mem_strdup(type);
    mem_free(spec);
    return 0;
}

/* postern_master_space: master.cf white space. */
static int postern_master_space(int c)
{
    return c == ' ' || c == '\t' || c == '\r';
}

/* postern_master_edit_text: apply one field edit; -1 when no entry matched. */
static int postern_master_edit_text(const strbuf *in, const postern_medit *e, strbuf *out)
{
    const char *p = strbuf_str(in);
    const char *end = p + in->len;
    int     matched = 0;
    int     dropping = 0;

    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t) (end - p));
        const char *eol = nl ? nl : end;
        const char *next = nl ? nl + 1 : end;
        const char *tok[POSTERN_MASTER_FIELDS];
        const char *tend[POSTERN_MASTER_FIELDS];
        const char *q = p;
        int     n = 0;

        if (p < eol && postern_master_space(*p)) {
            /* A continuation line of a replaced command goes with it. */
            if (dropping) {
                const char *t = p;

                while (t < eol && postern_master_space(*t))
                    t++;
                if (t < eol && *t != '#') {
                    p = next;
                    continue;
                }
            }
            strbuf_append(out, p, (size_t) (next - p));
            p = next;
            continue;
        }
        dropping = 0;
        if (p == eol || *p == '#') {
            strbuf_append(out, p, (size_t) (next - p));
            p = next;
            continue;
        }
        while (n < POSTERN_MASTER_FIELDS && q < eol) {
            while (q < eol && postern_master_space(*q))
                q++;
            if (q == eol)
                break;
            tok[n] = q;
            while (q < eol && !postern_master_space(*q))
                q++;
            tend[n++] = q;
        }
        if (n == POSTERN_MASTER_FIELDS
            && (size_t) (tend[0] - tok[0]) == strlen(e->service)
            && memcmp(tok[0], e->service, strlen(e->service)) == 0
            && (size_t) (tend[1] - tok[1]) == strlen(e->type)
            && memcmp(tok[1], e->type, strlen(e->type)) == 0) {
            matched++;
            strbuf_append(out, p, (size_t) (tok[e->field] - p));
            strbuf_puts(out, e->value);
            if (e->field == 7) {
                dropping = 1;
                if (nl)
                    strbuf_putc(out, '\n');
            } else {
                strbuf_append(out, tend[e->field], (size_t) (next - tend[e->field]));
            }
        } else {
            strbuf_append(out, p, (size_t) (next - p));
        }
        p = next;
    }
    return matched ? 0 : -1;
}

/* postern_write_new: create path exclusively with text; 0 or -1 (logged). */
static int postern_write_new(const char *path, const char *text, size_t len)
{
    int     fd;

    if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644)) < 0) {
        msg_error("cannot create %s: %m", path);
        return -1;
    }
    if (fileio_write_all(fd, text, len) < 0 || fsync(fd) < 0) {
        msg_error("cannot write %s: %m", path);
        (void) close(fd);
        (void) unlink(path);
        return -1;
    }
    if (close(fd) < 0) {
        msg_error("cannot write %s: %m", path);
        (void) unlink(path);
        return -1;
    }
    (void) fchmodat(AT_FDCWD, path, 0644, 0);   /* whatever the umask */
    return 0;
}

/* postern_exe_dir: the directory of this program, or NULL. */
static char *postern_exe_dir(void)
{
    char    buf[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
    char   *slash;

    if (n <= 0)
        return NULL;
    buf[n] = 0;
    if ((slash = strrchr(buf, '/')) == NULL)
        return NULL;
    if (slash == buf)
        slash++;
    *slash = 0;
    return mem_strdup(buf);
}

/* postern_init_settings: split the settings into main.cf and master.cf edits. */
static int postern_init_settings(char **args, int nargs, cfg_edit *edits, size_t *nedits,
                                 postern_medit *medits, size_t *nmedits, char **owned)
{
    int     i;
    int     errors = 0;

    for (i = 0; i < nargs; i++) {
        const char *arg = args[i];
        const char *eq = strchr(arg, '=');

        if (eq == NULL || eq == arg) {
            msg_error("bad setting \"%s\": expected name=value", arg);
            errors++;
        } else if (memchr(arg, '/', (size_t) (eq - arg)) != NULL) {
            if (postern_parse_medit(arg, eq, medits + *nmedits) < 0)
                errors++;
            else
                (*nmedits)++;
        } else {
            char   *name = mem_strndup(arg, (size_t) (eq - arg));
            char   *value;

            if (!cfg_name_valid(name)) {
                msg_error("bad parameter name in \"%s\"", arg);
                errors++;
                mem_free(name);
                continue;
            }
            if (!param_def_find(name))
                msg_warn("%s: unknown parameter (set anyway)", name);
            if (strcmp(name, PARAM_QUEUE_DIRECTORY) == 0
                || strcmp(name, PARAM_DAEMON_DIRECTORY) == 0
                || strcmp(name, PARAM_COMMAND_DIRECTORY) == 0)
                value = postern_init_absolute(eq + 1);
            else
                value = mem_strdup(eq + 1);
            owned[2 * *nedits] = name;
            owned[2 * *nedits + 1] = value;
            edits[*nedits].op = CFG_EDIT_SET;
            edits[*nedits].name = name;
            edits[*nedits].value = value;
            (*nedits)++;
        }
    }
    return errors;
}

/* postern_init_has: does the edit list set name? */
static int postern_init_has(const cfg_edit *edits, size_t n, const char *name)
{
    size_t  i;

    for (i = 0; i < n; i++)
        if (strcmp(edits[i].name, name) == 0)
            return 1;
    return 0;
}

/* postern_init_add: append one derived setting; value becomes owned. */
static void postern_init_add(cfg_edit *edits, size_t *n, char **owned,
                             const char *name, char *value)
{
    owned[2 * *n + 1] = value;
    edits[*n].op = CFG_EDIT_SET;
    edits[*n].name = name;
    edits[*n].value = value;
    (*n)++;
}

/* postern_init_defaults: add the derived settings. */
static void postern_init_defaults(const postern_opts *opts, cfg_edit *edits,
                                  size_t *n, char **owned)
{
    size_t  start = *n;

    if (!opts->root) {
        struct passwd *pw = getpwuid(getuid());
        struct group *gr = getgrgid(getgid());

        if (!postern_init_has(edits, start, PARAM_MAIL_OWNER) && pw) {
            postern_init_add(edits, n, owned, PARAM_MAIL_OWNER,
                             mem_strdup(pw->pw_name));
        }
        if (!postern_init_has(edits, start, PARAM_SETGID_GROUP) && gr) {
            postern_init_add(edits, n, owned, PARAM_SETGID_GROUP,
                             mem_strdup(gr->gr_name));
        }
        if (!postern_init_has(edits, start, PARAM_QUEUE_DIRECTORY)) {
            postern_init_add(edits, n, owned, PARAM_QUEUE_DIRECTORY,
                             postern_path(opts->config_dir, "spool"));
        }
    }
    if (!postern_init_has(edits, start, PARAM_DAEMON_DIRECTORY)) {
        char   *dir = postern_exe_dir();
        char   *master = dir ? postern_path(dir, MASTER_PROGRAM) : NULL;

        if (master && access(master, X_OK) == 0) {
            postern_init_add(edits, n, owned, PARAM_DAEMON_DIRECTORY, mem_strdup(dir));
            if (!postern_init_has(edits, start, PARAM_COMMAND_DIRECTORY)) {
                postern_init_add(edits, n, owned, PARAM_COMMAND_DIRECTORY,
                                 mem_strdup(dir));
            }
        }
        mem_free(master);
        mem_free(dir);
    }
}

/* postern_init_value: the value edits give name, else its default. */
static const char *postern_init_value(const cfg_edit *edits, size_t n, const char *name)
{
    size_t  i;

    for (i = n; i > 0; i--)
        if (strcmp(edits[i - 1].name, name) == 0)
            return edits[i - 1].value;
    return param_default(name);
}

/* postern_init_accounts: as root, mail_owner and setgid_group must exist. */
static int postern_init_accounts(const cfg_edit *edits, size_t n)
{
    const char *owner = postern_init_value(edits, n, PARAM_MAIL_OWNER);
    const char *group = postern_init_value(edits, n, PARAM_SETGID_GROUP);
    struct passwd *pw = getpwnam(owner);
    int     errors = 0;

    if (pw == NULL) {
        msg_error("mail_owner: unknown user \"%s\": create it, or give "
                  "mail_owner=USER (a user other than root)", owner);
        errors++;
    } else if (pw->pw_uid == 0) {
        msg_error("mail_owner: user \"%s\" has uid 0: the mail system must not "
                  "run its services as root", owner);
        errors++;
    }
    if (getgrnam(group) == NULL) {
        msg_error("setgid_group: unknown group \"%s\": create it, or give "
                  "setgid_group=GROUP", group);
        errors++;
    }
    return errors ? -1 : 0;
}

/* postern_init_main: main.cf from the sample with the edits, into out. */
static int postern_init_main(const char *path, const cfg_edit *edits, size_t n,
                             strbuf *out)
{
    strbuf *err = strbuf_new(100);
    int     rc = 0;

    if (cfg_edit_text(postern_conf_main_cf, strlen(postern_conf_main_cf), path,
                      edits, n, out, err) < 0) {
        msg_error("%s", strbuf_str(err));
        rc = -1;
    }
    strbuf_free(err);
    return rc;
}

/* postern_init_master: master.cf from the sample with the edits, into text.
 * Renames (field "service") come last, so that every edit can name the
 * entry as the sample does. */
static int postern_init_master(const char *path, const postern_medit *medits, size_t n,
                               strbuf *text)
{
    strbuf *out = strbuf_new(4096);
    strbuf *err = strbuf_new(100);
    mastercf *m;
    size_t  i;
    int     rc = 0;

    strbuf_puts(text, postern_conf_master_cf);
    for (i = 0; rc == 0 && i < 2 * n; i++) {
        const postern_medit *e = medits + i % n;

        if ((e->field == 0) != (i >= n))
            continue;
        strbuf_reset(out);
        if (postern_master_edit_text(text, e, out) < 0) {
            msg_error("master.cf has no service %s/%s to set %s for",
                      e->service, e->type, postern_master_fields[e->field]);
            rc = -1;
        } else {
            strbuf_set(text, out->data, out->len);
        }
    }
    if (rc == 0) {
        if ((m = mastercf_parse_text(strbuf_str(text), text->len, path, err)) == NULL) {
            msg_error("%s", strbuf_str(err));
            rc = -1;
        } else {
            mastercf_free(m);
        }
    }
    strbuf_free(out);
    strbuf_free(err);
    return rc;
}

/* postern_init_mkdir: create the configuration directory and its parents. */
static int postern_init_mkdir(const char *dir)
{
    char   *copy = mem_strdup(dir);
    char   *p;
    int     rc = 0;

    for (p = copy + 1;; p++) {
        if (*p == '/' || *p == 0) {
            char    saved = *p;

            *p = 0;
            if (mkdir(copy, 0755) < 0 && errno != EEXIST) {
                msg_error("cannot create directory %s: %m", copy);
                rc = -1;
                break;
            }
            *p = saved;
            if (saved == 0)
                break;
        }
    }
    mem_free(copy);
    return rc;
}

/* postern_init: the init command. */
int     postern_init(postern_opts *opts, char **args, int nargs)
{
    cfg_edit edits[POSTERN_INIT_MAX + 8];
    postern_medit medits[POSTERN_INIT_MAX];
    char   *owned[2 * (POSTERN_INIT_MAX + 8)];
    size_t  nedits = 0;
    size_t  nmedits = 0;
    char   *dir = NULL;
    char   *main_path = NULL;
    char   *master_path = NULL;
    int     main_exists;
    int     master_exists;
    int     status = POSTERN_EXIT_FAIL;
    struct stat st;
    strbuf *err = strbuf_new(100);
    strbuf *main_text = strbuf_new(4096);
    strbuf *master_text = strbuf_new(4096);
    postern_ids ids;
    size_t  i;

    memset(owned, 0, sizeof(owned));
    if (nargs > 0 && strchr(args[0], '=') == NULL) {
        char    resolved[PATH_MAX];

        dir = realpath(args[0], resolved) ? mem_strdup(resolved)
            : postern_init_absolute(args[0]);
        opts->config_dir = dir;
        args++;
        nargs--;
    }
    if (nargs > POSTERN_INIT_MAX) {
        msg_error("too many settings (at most %d)", POSTERN_INIT_MAX);
        goto out;
    }
    if (postern_init_settings(args, nargs, edits, &nedits, medits, &nmedits, owned) > 0)
        goto out;

    main_path = postern_path(opts->config_dir, PARAM_MAIN_CF);
    master_path = postern_path(opts->config_dir, PARAM_MASTER_CF);
    main_exists = lstat(main_path, &st) == 0;
    master_exists = lstat(master_path, &st) == 0;
    if (main_exists && nedits > 0) {
        msg_error("%s already exists; not overwriting it (change settings with "
                  "\"postconf -c %s -e name=value\")", main_path, opts->config_dir);
        goto out;
    }
    if (master_exists && nmedits > 0) {
        msg_error("%s already exists; not overwriting it", master_path);
        goto out;
    }
    if (!main_exists) {
        postern_init_defaults(opts, edits, &nedits, owned);
        if (opts->root && postern_init_accounts(edits, nedits) < 0)
            goto out;
        if (postern_init_main(main_path, edits, nedits, main_text) < 0)
            goto out;
    }
    if (!master_exists && postern_init_master(master_path, medits, nmedits,
                                              master_text) < 0)
        goto out;
    if (postern_init_mkdir(opts->config_dir) < 0)
        goto out;
    if (main_exists) {
        msg_info("%s already exists; not overwriting it", main_path);
    } else {
        if (postern_write_new(main_path, strbuf_str(main_text), main_text->len) < 0)
            goto out;
        msg_info("created %s", main_path);
    }
    if (master_exists) {
        msg_info("%s already exists; not overwriting it", master_path);
    } else {
        if (postern_write_new(master_path, strbuf_str(master_text), master_text->len) < 0)
            goto out;
        msg_info("created %s", master_path);
    }

    if (postern_load(opts, 1, err) < 0 || postern_resolve_ids(opts, &ids, err) < 0) {
        msg_error("%s", strbuf_str(err));
        goto out;
    }
    if (param_str(PARAM_QUEUE_DIRECTORY)[0] != '/') {
        msg_error("queue_directory must be an absolute path: \"%s\"",
                  param_str(PARAM_QUEUE_DIRECTORY));
        goto out;
    }
    if (postern_spool_fix(param_str(PARAM_QUEUE_DIRECTORY), &ids, opts->root, 1) > 0)
        goto out;
    msg_info("the instance in %s is ready: start it with \"postern -c %s start\"",
             opts->config_dir, opts->config_dir);
    status = POSTERN_EXIT_OK;

  out:
    for (i = 0; i < nmedits; i++) {
        mem_free(medits[i].service);
        mem_free(medits[i].type);
    }
    for (i = 0; i < sizeof(owned) / sizeof(owned[0]); i++)
        mem_free(owned[i]);
    mem_free(main_path);
    mem_free(master_path);
    mem_free(dir);
    strbuf_free(err);
    strbuf_free(main_text);
    strbuf_free(master_text);
    return status;
}
