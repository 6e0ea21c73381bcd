/*
 * postern_spool: the spool tree under queue_directory - what it must look
 * like, checking it, creating it and repairing it.
 *
 * The tree (MASTER_SPOOL_LAYOUT in master_proto.h, shared with master):
 *   $queue_directory       0755 root (unprivileged: the instance's user)
 *   maildrop               0730 mail_owner:setgid_group
 *   public                 0710 mail_owner:setgid_group
 *   incoming active deferred hold corrupt bounce defer private
 *                          0700 mail_owner
 *   pid                    0755 root (unprivileged: the instance's user)
 * In an unprivileged instance every owner is the invoking user; groups
 * are then not checked (directories get the user's group).
 *
 * Public functions:
 *   postern_spool_check(qdir, ids, root): log an error for every missing
 *     directory, symbolic link, wrong owner (group too, as root) or wrong
 *     mode; a top directory not owned by its expected owner is only a
 *     warning, one writable by group or others an error. Returns the
 *     number of errors.
 *   postern_spool_fix(qdir, ids, root, create_only): create the missing
 *     parts of the tree (queue_directory's parents too, mode 0755) with
 *     the modes above (and, as root, owners); unless create_only, also
 *     set owner (root only) and mode of the directories that exist.
 *     Returns the number of errors (each logged).
 *   postern_set_permissions(opts): "postern set-permissions": load the
 *     configuration, postern_spool_fix on the whole tree, and as root
 *     make postdrop and postqueue in command_directory set-gid
 *     setgid_group (root:setgid_group 02755) when they exist. Returns an
 *     exit status.
 *
 * SECURITY: directories inside the spool are changed through a descriptor
 * of queue_directory with *at() calls that do not follow symbolic links
 * (fchownat AT_SYMLINK_NOFOLLOW; a symbolic link where a directory should
 * be is an error, never followed). queue_directory itself is owned by root
 * (or by the instance user), so nobody else can swap names under it.
 * LIMITS: only the directories of the table are touched; the files in
 * them keep their owners and modes.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "master_proto.h"
#include "mem.h"
#include "msg.h"
#include "param.h"
#include "param_names.h"
#include "postern.h"
#include "strbuf.h"
#include "strutil.h"

/* The tree, from the contract with master (master_proto.h). */
static const struct postern_spool_dir {
    const char *name;
    mode_t  mode;
    int     owner;                      /* MASTER_OWNER_xxx */
    int     group;                      /* MASTER_GROUP_xxx */
} postern_spool_dirs[] = {
#define POSTERN_SPOOL_ENTRY(name, mode, owner, group) {name, mode, owner, group},
    MASTER_SPOOL_LAYOUT(POSTERN_SPOOL_ENTRY)
#undef POSTERN_SPOOL_ENTRY
};

#define POSTERN_SPOOL_NDIRS (sizeof(postern_spool_dirs) / sizeof(postern_spool_dirs[0]))
#define POSTERN_TOP_MODE    0755

/* postern_spool_uid: the expected owner of a table entry. */
static uid_t postern_spool_uid(const struct postern_spool_dir *d, const postern_ids *ids)
{
    return d->owner == MASTER_OWNER_MAIL ? ids->owner_uid : ids->root_uid;
}

/* postern_spool_gid: the group to give a table entry (as root). */
static gid_t postern_spool_gid(const struct postern_spool_dir *d, const postern_ids *ids)
{
    if (d->group == MASTER_GROUP_SETGID && ids->have_setgid)
        return ids->setgid_gid;
    return d->owner == MASTER_OWNER_MAIL ? ids->owner_gid : 0;
}

/* postern_spool_check_top: the queue directory itself. */
static int postern_spool_check_top(const char *qdir, const postern_ids *ids)
{
    struct stat st;

    if (stat(qdir, &st) < 0) {
        msg_error("queue_directory %s: %m (create it with \"postern set-permissions\")",
                  qdir);
        return 1;
    }
    if (!S_ISDIR(st.st_mode)) {
        msg_error("queue_directory %s: not a directory", qdir);
        return 1;
    }
    if (st.st_uid != ids->root_uid)
        msg_warn("queue_directory %s: owned by uid %ld, expected uid %ld",
                 qdir, (long) st.st_uid, (long) ids->root_uid);
    if (st.st_mode & (S_IWGRP | S_IWOTH)) {
        msg_error("queue_directory %s: writable by group or others (mode %04o)",
                  qdir, (unsigned) (st.st_mode & 07777));
        return 1;
    }
    return 0;
}

/* postern_spool_check: count and log what is wrong with the tree. */
int     postern_spool_check(const char *qdir, const postern_ids *ids, int root)
{
    size_t  i;
    int     errors;
    int     qfd;

    if ((errors = postern_spool_check_top(qdir, ids)) > 0)
        return errors;
    if ((qfd = open(qdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
        msg_error("queue_directory %s: cannot open: %m", qdir);
        return 1;
    }
    for (i = 0; i < POSTERN_SPOOL_NDIRS; i++) {
        const struct postern_spool_dir *d = postern_spool_dirs + i;
        uid_t   uid = postern_spool_uid(d, ids);
        struct stat st;

        if (fstatat(qfd, d->name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
            msg_error("%s/%s: %m (run \"postern set-permissions\")", qdir, d->name);
            errors++;
        } else if (!S_ISDIR(st.st_mode)) {
            msg_error("%s/%s: not a directory", qdir, d->name);
            errors++;
        } else {
            if (st.st_uid != uid) {
                msg_error("%s/%s: owned by uid %ld, should be uid %ld "
                          "(run \"postern set-permissions\")",
                          qdir, d->name, (long) st.st_uid, (long) uid);
                errors++;
            }
            if (root && d->group == MASTER_GROUP_SETGID && ids->have_setgid
                && st.st_gid != ids->setgid_gid) {
                msg_error("%s/%s: group is gid %ld, should be setgid_group gid %ld "
                          "(run \"postern set-permissions\")",
                          qdir, d->name, (long) st.st_gid, (long) ids->setgid_gid);
                errors++;
            }
            if ((st.st_mode & 07777) != d->mode) {
                msg_error("%s/%s: mode %04o, should be %04o "
                          "(run \"postern set-permissions\")",
                          qdir, d->name, (unsigned) (st.st_mode & 07777),
                          (unsigned) d->mode);
                errors++;
            }
        }
    }
    (void) close(qfd);
    return errors;
}

/* postern_mkdirs: create dir and its missing parents; 1 = created, 0 = existed, -1 = error. */
static int postern_mkdirs(const char *dir)
{
    char   *copy = mem_strdup(dir);
    char   *p;
    struct stat st;
    int     rc = 0;

    if (stat(dir, &st) == 0) {
        mem_free(copy);
        return S_ISDIR(st.st_mode) ? 0 : (errno = ENOTDIR, -1);
    }
    for (p = copy + 1; rc == 0; p++) {
        if (*p != '/' && *p != 0)
            continue;
        {
            char    saved = *p;

            *p = 0;
            if (mkdir(copy, POSTERN_TOP_MODE) < 0 && errno != EEXIST)
                rc = -1;
            *p = saved;
            if (saved == 0)
                break;
        }
    }
    mem_free(copy);
    if (rc < 0)
        return -1;
    return 1;
}

/* postern_fix_one: set owner (root only) and mode of qfd/name. */
static int postern_fix_one(int qfd, const char *qdir, const char *name, uid_t uid,
                           gid_t gid, mode_t mode, int root)
{
    struct stat st;

    if (fstatat(qfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
        msg_error("%s/%s: %m", qdir, name);
        return 1;
    }
    if (!S_ISDIR(st.st_mode)) {
        msg_error("%s/%s: not a directory; not changing it", qdir, name);
        return 1;
    }
    if (root && fchownat(qfd, name, uid, gid, AT_SYMLINK_NOFOLLOW) < 0) {
        msg_error("%s/%s: cannot change owner: %m", qdir, name);
        return 1;
    }
    /* chown may have cleared set-id bits; chmod after it. */
    if (fchmodat(qfd, name, mode, 0) < 0) {
        msg_error("%s/%s: cannot change mode: %m", qdir, name);
        return 1;
    }
    return 0;
}

/* postern_spool_fix: create and repair the tree. */
int     postern_spool_fix(const char *qdir, const postern_ids *ids, int root,
                          int create_only)
{
    size_t  i;
    int     errors = 0;
    int     created;
    int     qfd;

    if ((created = postern_mkdirs(qdir)) < 0) {
        msg_error("cannot create queue_directory %s: %m", qdir);
        return 1;
    }
    if (created)
        msg_info("created %s", qdir);
    if (created || !create_only) {
        if ((root && chown(qdir, ids->root_uid, (gid_t) -1) < 0)
            || chmod(qdir, POSTERN_TOP_MODE) < 0) {
            msg_error("%s: cannot set owner and mode: %m", qdir);
            errors++;
        }
    }
    if ((qfd = open(qdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
        msg_error("queue_directory %s: cannot open: %m", qdir);
        return errors + 1;
    }
    for (i = 0; i < POSTERN_SPOOL_NDIRS; i++) {
        const struct postern_spool_dir *d = postern_spool_dirs + i;
        gid_t   gid = postern_spool_gid(d, ids);
        int     made = 0;

        if (mkdirat(qfd, d->name, 0700) == 0)
            made = 1;
        else if (errno != EEXIST) {
            msg_error("%s/%s: cannot create: %m", qdir, d->name);
            errors++;
            continue;
        }
        if (made || !create_only)
            errors += postern_fix_one(qfd, qdir, d->name, postern_spool_uid(d, ids),
                                      gid, d->mode, root);
    }
    (void) close(qfd);
    return errors;
}

/* postern_setgid_program: make command_directory/name root:setgid_group 02755. */
static int postern_setgid_program(const char *dir, const char *name,
                                  const postern_ids *ids)
{
    char   *path = postern_path(dir, name);
    struct stat st;
    int     errors = 0;
    int     fd;

    if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) < 0) {
        if (errno != ENOENT) {
            msg_error("%s: %m", path);
            errors++;
        } else if (msg_verbose)
            msg_info("%s: not installed; skipped", path);
    } else {
        if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
            msg_error("%s: not a regular file; not changing it", path);
            errors++;
        } else if (fchown(fd, 0, ids->setgid_gid) < 0 || fchmod(fd, 02755) < 0) {
            msg_error("%s: cannot make it set-gid: %m", path);
            errors++;
        }
        (void) close(fd);
    }
    mem_free(path);
    return errors;
}

/* postern_set_permissions: the set-permissions command. */
int     postern_set_permissions(const postern_opts *opts)
{
    strbuf *err = strbuf_new(100);
    postern_ids ids;
    const char *qdir;
    int     errors;

    if (postern_load(opts, 1, err) < 0 || postern_resolve_ids(opts, &ids, err) < 0) {
        msg_error("%s", strbuf_str(err));
        strbuf_free(err);
        return POSTERN_EXIT_FAIL;
    }
    strbuf_free(err);
    qdir = param_str(PARAM_QUEUE_DIRECTORY);
    if (qdir[0] != '/') {
        msg_error("queue_directory must be an absolute path: \"%s\"", qdir);
        return POSTERN_EXIT_FAIL;
    }
    errors = postern_spool_fix(qdir, &ids, opts->root, 0);
    if (opts->root) {
        const char *cdir = param_str(PARAM_COMMAND_DIRECTORY);

        errors += postern_setgid_program(cdir, "postdrop", &ids);
        errors += postern_setgid_program(cdir, "postqueue", &ids);
    }
    return errors ? POSTERN_EXIT_FAIL : POSTERN_EXIT_OK;
}
