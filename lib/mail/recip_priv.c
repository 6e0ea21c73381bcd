/*
 * recip_priv: switch a root delivery agent to a recipient's ids and back.
 *
 * local (and later virtual) run as root so that they can write any
 * user's mailbox; every open of a mailbox, .forward, :include: file or
 * /file destination and every command happens with the recipient's
 * effective ids instead. This module is the only code in those agents
 * that calls set*id/setgroups.
 *
 * Public functions:
 *   recip_priv_privileged(): 1 when the process runs with real uid 0 (a
 *     privileged instance), 0 otherwise (an unprivileged instance: every
 *     other function here is then a no-op that succeeds, because the
 *     process already is the only user it can be).
 *   recip_priv_lookup(user, id, err): fill id from the passwd entry of
 *     user (getpwnam_r). Returns 0, 1 when there is no such user, -1 with
 *     err on a lookup failure (temporary: defer).
 *   recip_priv_enter(id, err): as root, take the supplementary groups of
 *     id->user (or just id->gid), then the effective gid and uid of id.
 *     A uid 0 target is allowed (root's own mailbox is written as root);
 *     callers that must never act as root (commands, files) map root to
 *     default_privs first. Returns 0, or -1 with err after having
 *     restored root (nothing half-switched is left).
 *   recip_priv_leave(): back to euid/egid 0 and root's groups. A failure
 *     here cannot be recovered from safely, so it panics (the process
 *     dies and master starts a new one; no mail is lost since the
 *     delivery is not yet reported).
 *   recip_priv_drop(id, err): for a child about to exec a command: set
 *     real, effective and saved ids for good (setgroups/initgroups,
 *     setgid, setuid) and check that root cannot be regained. Returns 0
 *     or -1 with err (the child must then exit without running anything).
 *
 * SECURITY: ids come from the passwd database or from the owner of a
 * file; callers must never pass ids taken from a message. A failed switch
 * always fails the delivery (defer) instead of continuing as root.
 * LIMITS: user names up to 63 bytes; getpwnam_r buffer up to 64 KiB.
 */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mem.h"
#include "msg.h"
#include "recip_priv.h"
#include "strbuf.h"
#include "strutil.h"

#define RECIP_PRIV_PWBUF_MAX    65536

/* recip_priv_privileged: does this process run as root? */
int     recip_priv_privileged(void)
{
    return getuid() == 0;
}

/* recip_priv_lookup: passwd entry of user into id. */
int     recip_priv_lookup(const char *user, recip_priv_id *id, strbuf *err)
{
    struct passwd pw;
    struct passwd *res = NULL;
    size_t  size = 1024;
    char   *buf;
    int     rc;

    for (;;) {
        buf = mem_alloc(size);
        rc = getpwnam_r(user, &pw, buf, size, &res);
        if (rc != ERANGE || size >= RECIP_PRIV_PWBUF_MAX)
            break;
        buf = mem_free(buf);
        size *= 4;
    }
    if (rc != 0 && rc != ENOENT && rc != ESRCH) {
        strbuf_printf(err, "passwd lookup of \"%s\": %s", user, strerror(rc));
        mem_free(buf);
        return -1;
    }
    if (res == NULL) {
        mem_free(buf);
        return 1;
    }
    id->uid = pw.pw_uid;
    id->gid = pw.pw_gid;
    if (str_copy(id->user, sizeof(id->user), pw.pw_name) < 0)
        id->user[0] = 0;
    mem_free(buf);
    return 0;
}

/* recip_priv_groups: set the supplementary groups for id. */
static int recip_priv_groups(const recip_priv_id *id)
{
    if (id->user[0])
        return initgroups(id->user, id->gid);
    return setgroups(1, &id->gid);
}

/* recip_priv_enter: effective ids of id (root only). */
int     recip_priv_enter(const recip_priv_id *id, strbuf *err)
{
    if (!recip_priv_privileged())
        return 0;
    if (recip_priv_groups(id) < 0) {
        strbuf_printf(err, "set groups for uid %ld: %s", (long) id->uid, strerror(errno));
        recip_priv_leave();
        return -1;
    }
    if (setegid(id->gid) < 0) {
        strbuf_printf(err, "setegid %ld: %s", (long) id->gid, strerror(errno));
        recip_priv_leave();
        return -1;
    }
    if (seteuid(id->uid) < 0) {
        strbuf_printf(err, "seteuid %ld: %s", (long) id->uid, strerror(errno));
        recip_priv_leave();
        return -1;
    }
    return 0;
}

/* recip_priv_leave: back to root. */
void    recip_priv_leave(void)
{
    gid_t   zero = 0;

    if (!recip_priv_privileged())
        return;
    if (seteuid(0) < 0)
        msg_panic("recip_priv_leave: seteuid 0: %s", strerror(errno));
    if (setegid(0) < 0)
        msg_panic("recip_priv_leave: setegid 0: %s", strerror(errno));
    if (setgroups(1, &zero) < 0)
        msg_panic("recip_priv_leave: setgroups: %s", strerror(errno));
}

/* recip_priv_drop: permanent switch to id in a child before exec. */
int     recip_priv_drop(const recip_priv_id *id, strbuf *err)
{
    if (!recip_priv_privileged() && geteuid() != 0)
        return 0;
    if (geteuid() != 0 && seteuid(0) < 0) {
        strbuf_printf(err, "seteuid 0: %s", strerror(errno));
        return -1;
    }
    if (recip_priv_groups(id) < 0 || setgid(id->gid) < 0 || setuid(id->uid) < 0) {
        strbuf_printf(err, "drop to uid %ld gid %ld: %s", (long) id->uid,
                      (long) id->gid, strerror(errno));
        return -1;
    }
    if (id->uid != 0 && (setuid(0) == 0 || seteuid(0) == 0)) {
        strbuf_printf(err, "drop to uid %ld: root could be regained", (long) id->uid);
        return -1;
    }
    return 0;
}
