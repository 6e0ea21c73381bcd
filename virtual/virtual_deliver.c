/*
 * virtual_deliver: what virtual(8) does for one recipient.
 *
 *   virtual_deliver_rcpt(cfg, msg, rcpt, res): deliver msg to rcpt (an
 *     address in a virtual mailbox domain). Returns res->status: 0
 *     delivered, 4 deferred, 5 bounced. Steps:
 *     - a Delivered-To: header equal to rcpt (case folded): bounce 5.4.6
 *       "mail forwarding loop for RCPT";
 *     - virtual_mailbox_maps, in Postfix's order (user+ext@domain,
 *       user@domain, @domain: maps_find_addr without the local forms):
 *       not found bounces 5.1.1 "User unknown in virtual mailbox table",
 *       a table that cannot answer defers 4.3.0;
 *     - the result is checked (virtual_path_check) and names a path under
 *       virtual_mailbox_base: a trailing '/' means Maildir, else mbox;
 *     - virtual_uid_maps and virtual_gid_maps give the ids (same key
 *       order; a number); no answer, a bad number, a uid below
 *       virtual_minimum_uid or uid 0, gid 0: defer 4.3.5 with a warning
 *       (a configuration error never bounces mail);
 *     - with those ids (recip_priv; an unprivileged instance delivers as
 *       itself) the base is opened and the path walked one component at
 *       a time with O_NOFOLLOW, so a symlink anywhere below the base
 *       stops the delivery (deferred, 4.2.0, with a warning); for a
 *       Maildir missing directories are created (0700, as the user);
 *     - the copy gets Return-Path: and Delivered-To: RCPT; an mbox is
 *       locked per virtual_mailbox_lock; virtual_mailbox_limit caps the
 *       mbox file (or the Maildir file): over it bounces 5.2.2.
 *   virtual_path_check(value, err): check a virtual_mailbox_maps result:
 *     1 Maildir, 0 mbox, -1 with err (empty, too long, control
 *     characters, an empty, "." or ".." component, too deep). Leading
 *     slashes are ignored (the path is always relative to the base).
 *   virtual_id_parse(value, minimum, id): a uid/gid from a table value
 *     (surrounding white space allowed): 0, -1 not a number, -2 below
 *     minimum.
 *
 * SECURITY: recipients and Delivered-To values come from the sender;
 * table results from the admin but may be built from user input (SQL),
 * so they are checked before they become a path. Nothing below the base
 * is opened through a symlink, and nothing is written as root.
 * LIMITS: VIRTUAL_PATH_MAX bytes and VIRTUAL_DEPTH_MAX levels per path;
 * virtual_mailbox_limit bytes per mailbox.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dict.h"
#include "mailbox.h"
#include "maps.h"
#include "mem.h"
#include "msg.h"
#include "numparse.h"
#include "param_names.h"
#include "recip_priv.h"
#include "strbuf.h"
#include "strutil.h"
#include "virtual.h"

#define VIRTUAL_ID_MAX      4294967294L /* (uid_t) -1 is "no change" */

/* virtual_path_check: is a table result a safe relative path? */
int     virtual_path_check(const char *value, strbuf *err)
{
    const char *p = value;
    const char *comp;
    size_t  len;
    size_t  depth = 0;
    int     maildir;

    while (*p == '/')
        p++;
    len = strlen(p);
    if (len == 0) {
        strbuf_printf(err, "empty mailbox path");
        return -1;
    }
    if (len >= VIRTUAL_PATH_MAX) {
        strbuf_printf(err, "mailbox path longer than %d bytes", VIRTUAL_PATH_MAX);
        return -1;
    }
    for (comp = p; *comp; comp++) {
        if ((unsigned char) *comp < 0x20 || *comp == 0x7f) {
            strbuf_printf(err, "control character in mailbox path");
            return -1;
        }
    }
    maildir = p[len - 1] == '/';
    if (maildir)
        len--;
    for (comp = p; comp < p + len;) {
        const char *slash = memchr(comp, '/', (size_t) (p + len - comp));
        size_t  n = slash ? (size_t) (slash - comp) : (size_t) (p + len - comp);

        if (n == 0 || (n == 1 && comp[0] == '.') || (n == 2 && comp[0] == '.' && comp[1] == '.')) {
            strbuf_printf(err, "bad component in mailbox path \"%s\"", value);
            return -1;
        }
        if (++depth > VIRTUAL_DEPTH_MAX) {
            strbuf_printf(err, "mailbox path deeper than %d levels", VIRTUAL_DEPTH_MAX);
            return -1;
        }
        comp += n + (slash ? 1 : 0);
    }
    if (len == 0) {
        strbuf_printf(err, "empty mailbox path");
        return -1;
    }
    return maildir;
}

/* virtual_id_parse: a uid or gid from a table value. */
int     virtual_id_parse(const char *value, long minimum, long *id)
{
    char   *copy = mem_strdup(value);
    int     rc = 0;

    if (num_parse_long(str_trim(copy), 0, VIRTUAL_ID_MAX, id) < 0)
        rc = -1;
    else if (*id < minimum)
        rc = -2;
    mem_free(copy);
    return rc;
}

/* virtual_lookup_id: uid or gid of rcpt from a table; 0, or -1 with res set. */
static int virtual_lookup_id(maps *m, const char *param, const char *rcpt,
                             const char *delims, long minimum, long *id,
                             mailbox_result *res)
{
    strbuf *value = strbuf_new(32);
    int     rc;

    rc = m ? maps_find_addr(m, rcpt, delims, 0, value, NULL) : DICT_NOTFOUND;
    if (rc == DICT_RETRY) {
        msg_warn("%s", maps_error(m));
        mailbox_result_set(res, 4, "4.3.0", "%s lookup failure", param);
        rc = -1;
    } else if (rc == DICT_NOTFOUND) {
        msg_warn("recipient %s: not found in %s", rcpt, param);
        mailbox_result_set(res, 4, "4.3.5", "mail system configuration error");
        rc = -1;
    } else if ((rc = virtual_id_parse(value->data, minimum, id)) < 0) {
        msg_warn("recipient %s: bad %s result \"%s\"%s", rcpt, param, value->data,
                 rc == -2 ? " (below the minimum)" : "");
        mailbox_result_set(res, 4, "4.3.5", "mail system configuration error");
        rc = -1;
    }
    strbuf_free(value);
    return rc;
}

/* virtual_walk: open the parent directory of the mailbox below the base,
 * one component at a time without following symlinks; returns a
 * directory descriptor and sets *last to the final component, or -1
 * with res set. path is cut at each '/' (its first component stays a
 * string for messages). */
static int virtual_walk(const virtual_config *cfg, char *path, int maildir,
                        char **last, mailbox_result *res)
{
    char   *comp = path;
    char   *slash;
    int     fd;
    int     next;

    fd = open(cfg->base, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        mailbox_result_set(res, 4, "4.3.0", "cannot open %s %s: %s",
                           PARAM_VIRTUAL_MAILBOX_BASE, cfg->base, strerror(errno));
        return -1;
    }
    while (*comp == '/')
        comp++;
    while ((slash = strchr(comp, '/')) != NULL) {
        *slash = 0;
        next = openat(fd, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (next < 0 && errno == ENOENT && maildir) {
            if (mkdirat(fd, comp, 0700) < 0 && errno != EEXIST) {
                mailbox_result_set(res, 4, "4.2.0", "cannot create directory %s: %s",
                                   comp, strerror(errno));
                (void) close(fd);
                return -1;
            }
            next = openat(fd, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        }
        if (next < 0) {
            if (errno == ELOOP || errno == ENOTDIR)
                msg_warn("%s: directory %s under %s is a symbolic link or not a"
                         " directory; not delivering", path, comp, cfg->base);
            mailbox_result_set(res, 4, "4.2.0", "cannot open mailbox directory %s: %s",
                               comp, errno == ELOOP ? "symbolic link refused" : strerror(errno));
            (void) close(fd);
            return -1;
        }
        (void) close(fd);
        fd = next;
        comp = slash + 1;
    }
    *last = comp;
    return fd;
}

/* virtual_deliver_rcpt: deliver the message to one recipient. */
int     virtual_deliver_rcpt(const virtual_config *cfg, virtual_message *msg,
                             const char *rcpt, mailbox_result *res)
{
    strbuf *lower = strbuf_new(64);
    strbuf *value = strbuf_new(128);
    strbuf *err = strbuf_new(64);
    strbuf *display = strbuf_new(256);
    mailbox_copy_args a;
    recip_priv_id id;
    char   *path = NULL;
    char   *last;
    long    uid;
    long    gid;
    int     kind;
    int     rc;
    int     dfd;

    (void) strbuf_puts(lower, rcpt);
    str_lower(lower->data);
    if (msg->delivered_to && htable_has(msg->delivered_to, lower->data)) {
        mailbox_result_set(res, 5, "5.4.6", "mail forwarding loop for %s", rcpt);
        goto out;
    }
    rc = maps_find_addr(cfg->mailbox_maps, rcpt, cfg->delimiters, 0, value, NULL);
    if (rc == DICT_RETRY) {
        msg_warn("%s", maps_error(cfg->mailbox_maps));
        mailbox_result_set(res, 4, "4.3.0", "%s lookup failure", PARAM_VIRTUAL_MAILBOX_MAPS);
        goto out;
    }
    if (rc != DICT_FOUND) {
        mailbox_result_set(res, 5, "5.1.1", "<%s>: User unknown in virtual mailbox table", rcpt);
        goto out;
    }
    if ((kind = virtual_path_check(value->data, err)) < 0) {
        msg_warn("recipient %s: bad %s result: %s", rcpt, PARAM_VIRTUAL_MAILBOX_MAPS,
                 strbuf_str(err));
        mailbox_result_set(res, 4, "4.3.5", "mail system configuration error");
        goto out;
    }
    if (cfg->base == NULL || cfg->base[0] != '/') {
        msg_warn("%s must be an absolute path", PARAM_VIRTUAL_MAILBOX_BASE);
        mailbox_result_set(res, 4, "4.3.5", "mail system configuration error");
        goto out;
    }
    if (virtual_lookup_id(cfg->uid_maps, PARAM_VIRTUAL_UID_MAPS, rcpt, cfg->delimiters,
                          cfg->minimum_uid, &uid, res) < 0
        || virtual_lookup_id(cfg->gid_maps, PARAM_VIRTUAL_GID_MAPS, rcpt, cfg->delimiters,
                             1, &gid, res) < 0)
        goto out;
    if (uid == 0) {
        msg_warn("recipient %s: %s gives uid 0; not delivering as root", rcpt,
                 PARAM_VIRTUAL_UID_MAPS);
        mailbox_result_set(res, 4, "4.3.5", "mail system configuration error");
        goto out;
    }
    memset(&id, 0, sizeof(id));
    id.uid = (uid_t) uid;
    id.gid = (gid_t) gid;
    (void) strbuf_printf(display, "%s/%s", cfg->base, value->data);
    memset(&a, 0, sizeof(a));
    a.sender = msg->sender;
    a.delivered_to = rcpt;
    a.return_path = 1;
    a.mbox = !kind;
    a.arrival_time = msg->arrival_time;
    a.limit = cfg->mailbox_limit;
    a.display = display->data;
    path = mem_strdup(value->data);
    if (kind)
        path[strlen(path) - 1] = 0;             /* the trailing '/' */
    if (recip_priv_enter(&id, err) < 0) {
        mailbox_result_set(res, 4, "4.3.0", "cannot switch to uid %ld: %s", uid,
                           strbuf_str(err));
        goto out;
    }
    if ((dfd = virtual_walk(cfg, path, kind, &last, res)) >= 0) {
        if (kind)
            (void) mailbox_maildir_deliver(dfd, last, msg->content, &a, MAILBOX_F_NOFOLLOW, res);
        else
            (void) mailbox_mbox_deliver(dfd, last, msg->content, &a, cfg->lock_flags, NULL, res);
        (void) close(dfd);
    }
    recip_priv_leave();
out:
    mem_free(path);
    strbuf_free(lower);
    strbuf_free(value);
    strbuf_free(err);
    strbuf_free(display);
    return res->status;
}
