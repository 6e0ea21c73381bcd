/*
 * dict_unix: the "unix:" table type: the system's user and group
 * databases (through NSS: /etc/passwd, /etc/group, LDAP, ...).
 *
 * Public functions:
 *   dict_unix_open(name, flags, err): name is "passwd.byname" (key: a
 *     login name; value "name:x:uid:gid:gecos:home:shell", the passwd(5)
 *     line shape) or "group.byname" (key: a group name; value
 *     "name:x:gid:member,member,..."). Any other name fails with err
 *     "unix:NAME: unknown table; use unix:passwd.byname or
 *     unix:group.byname". The tables cannot be listed or written.
 *     Lookups: DICT_FOUND, DICT_NOTFOUND when the database answers that
 *     the name does not exist (getpwnam_r/getgrnam_r: no entry with
 *     error 0, ENOENT, ESRCH, EBADF or EPERM, the codes glibc documents
 *     for "not found"), DICT_RETRY for any other error (an NSS backend
 *     that is down must defer mail, not bounce it).
 *
 * The password field is always "x": a hash that an NSS backend might
 * return is never copied into a lookup result.
 *
 * SECURITY: keys come from mail addresses and are passed to NSS as they
 * are (NSS does not interpret them beyond a name compare); results are
 * bounded.
 * LIMITS: DICT_UNIX_BUF_MAX bytes for one NSS entry; DICT_VALUE_MAX per
 * result.
 */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stddef.h>
#include <string.h>
#include <unistd.h>

#include "dict.h"
#include "dict_types.h"
#include "mem.h"
#include "strbuf.h"

/* Largest NSS buffer tried for one entry. */
#define DICT_UNIX_BUF_MAX   (1 << 20)

#define DICT_UNIX_PASSWD    1
#define DICT_UNIX_GROUP     2

typedef struct dict_unix {
    dict    dict;                       /* must be first */
    int     which;                      /* DICT_UNIX_PASSWD or _GROUP */
} dict_unix;

/* dict_unix_notfound: 1 when an NSS error code means "no such name". */
static int dict_unix_notfound(int rc)
{
    return rc == 0 || rc == ENOENT || rc == ESRCH || rc == EBADF || rc == EPERM;
}

/* dict_unix_format_pw: the passwd(5) line for an entry. */
static void dict_unix_format_pw(const struct passwd *pw, strbuf *value)
{
    strbuf_printf(value, "%s:x:%lu:%lu:%s:%s:%s", pw->pw_name,
                  (unsigned long) pw->pw_uid, (unsigned long) pw->pw_gid,
                  pw->pw_gecos ? pw->pw_gecos : "", pw->pw_dir ? pw->pw_dir : "",
                  pw->pw_shell ? pw->pw_shell : "");
}

/* dict_unix_format_gr: the group(5) line for an entry. */
static void dict_unix_format_gr(const struct group *gr, strbuf *value)
{
    char  **m;

    strbuf_printf(value, "%s:x:%lu:", gr->gr_name, (unsigned long) gr->gr_gid);
    for (m = gr->gr_mem; m && *m; m++) {
        if (m != gr->gr_mem)
            strbuf_putc(value, ',');
        strbuf_puts(value, *m);
    }
}

/* dict_unix_lookup: one NSS query. */
static int dict_unix_lookup(dict *d, const char *key, strbuf *value)
{
    dict_unix *du = (dict_unix *) d;
    long    hint = sysconf(du->which == DICT_UNIX_PASSWD
                           ? _SC_GETPW_R_SIZE_MAX : _SC_GETGR_R_SIZE_MAX);
    size_t  size = hint > 0 && hint < DICT_UNIX_BUF_MAX ? (size_t) hint : 1024;
    struct passwd pw;
    struct passwd *pwp = NULL;
    struct group gr;
    struct group *grp = NULL;
    char   *buf;
    int     rc;

    for (;;) {
        buf = mem_alloc(size);
        if (du->which == DICT_UNIX_PASSWD)
            rc = getpwnam_r(key, &pw, buf, size, &pwp);
        else
            rc = getgrnam_r(key, &gr, buf, size, &grp);
        if (rc != ERANGE || size >= DICT_UNIX_BUF_MAX)
            break;
        mem_free(buf);
        size *= 2;
    }
    if (pwp != NULL) {
        dict_unix_format_pw(pwp, value);
        rc = DICT_FOUND;
    } else if (grp != NULL) {
        dict_unix_format_gr(grp, value);
        rc = DICT_FOUND;
    } else if (dict_unix_notfound(rc)) {
        rc = DICT_NOTFOUND;
    } else {
        strbuf_setf(d->error, "%s: lookup of \"%s\" failed: %s", d->spec, key,
                    rc == ERANGE ? "entry is too large" : strerror(rc));
        rc = DICT_RETRY;
    }
    mem_free(buf);
    if (rc == DICT_FOUND && value->len > DICT_VALUE_MAX) {
        strbuf_reset(value);
        strbuf_setf(d->error, "%s: entry for \"%s\" is longer than %d bytes",
                    d->spec, key, DICT_VALUE_MAX);
        rc = DICT_RETRY;
    }
    return rc;
}

/* dict_unix_close: release. */
static void dict_unix_close(dict *d)
{
    dict_free_base(d);
}

/* dict_unix_open: pick the database. */
dict   *dict_unix_open(const char *name, int flags, strbuf *err)
{
    dict_unix *du;
    int     which;

    if (strcmp(name, "passwd.byname") == 0) {
        which = DICT_UNIX_PASSWD;
    } else if (strcmp(name, "group.byname") == 0) {
        which = DICT_UNIX_GROUP;
    } else {
        strbuf_setf(err, "unix:%s: unknown table; use unix:passwd.byname or"
                    " unix:group.byname", name);
        return NULL;
    }
    du = (dict_unix *) dict_alloc("unix", name, flags, DICT_P_FIXED, sizeof(*du));
    du->which = which;
    du->dict.lookup = dict_unix_lookup;
    du->dict.close = dict_unix_close;
    return &du->dict;
}
