/*
 * local_maildir: deliver a message into a Maildir.
 *
 *   local_maildir_deliver(dir, c, args, res): make dir, dir/tmp, dir/new
 *     and dir/cur when missing (mode 0700), write one copy (no mbox
 *     quoting) to tmp/NAME (O_EXCL), fsync it, link it to new/NAME,
 *     remove tmp/NAME, fsync new/. Returns res->status: 0, 4 on any
 *     error (the tmp file is removed), 5 when args->limit is passed.
 *     The caller has already switched to the recipient's ids.
 *   local_maildir_name(out, sec, usec, pid, count, host): the unique
 *     name "SEC.PpidQcountMusec.HOST" (host with '/' and ':' replaced so
 *     the name stays one path component without Maildir flag syntax).
 *
 * SECURITY: runs with the recipient's ids; files are created O_EXCL and
 * O_NOFOLLOW. LIMITS: args->limit; names are bounded by the host name.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "local.h"
#include "msg.h"
#include "strbuf.h"

/* local_maildir_name: a unique file name. */
void    local_maildir_name(strbuf *out, long sec, long usec, long pid,
                           unsigned long count, const char *host)
{
    const char *p;

    (void) strbuf_printf(out, "%ld.P%ldQ%luM%ld.", sec, pid, count, usec);
    for (p = host; *p; p++) {
        if (*p == '/')
            (void) strbuf_puts(out, "\\057");
        else if (*p == ':')
            (void) strbuf_puts(out, "\\072");
        else
            (void) strbuf_putc(out, *p);
    }
}

/* local_mkdir: create a directory unless it exists. */
static int local_mkdir(const char *path)
{
    struct stat st;

    if (mkdir(path, 0700) == 0)
        return 0;
    if (errno == EEXIST && stat(path, &st) == 0 && S_ISDIR(st.st_mode))
        return 0;
    if (errno == EEXIST)
        errno = ENOTDIR;
    return -1;
}

/* local_maildir_deliver: one message into a Maildir. */
int     local_maildir_deliver(const char *dir, local_content *c,
                              const local_copy_args *args, local_result *res)
{
    static unsigned long count;         /* per-process counter for names */
    strbuf *name = strbuf_new(128);
    strbuf *tmp = strbuf_new(256);
    strbuf *new = strbuf_new(256);
    strbuf *err = strbuf_new(128);
    const char *sub[] = {"", "/tmp", "/new", "/cur"};
    char    host[256];
    struct timeval tv;
    size_t  i;
    int     fd = -1;
    int     rc;

    for (i = 0; i < sizeof(sub) / sizeof(sub[0]); i++) {
        strbuf_reset(tmp);
        (void) strbuf_printf(tmp, "%s%s", dir, sub[i]);
        if (local_mkdir(tmp->data) < 0) {
            local_result_set(res, 4, "4.2.0", "create maildir directory %s: %s",
                             tmp->data, strerror(errno));
            goto out;
        }
    }
    if (gethostname(host, sizeof(host)) < 0)
        host[0] = 0;
    host[sizeof(host) - 1] = 0;
    (void) gettimeofday(&tv, NULL);
    local_maildir_name(name, (long) tv.tv_sec, (long) tv.tv_usec, (long) getpid(),
                       ++count, host);
    strbuf_reset(tmp);
    (void) strbuf_printf(tmp, "%s/tmp/%s", dir, name->data);
    (void) strbuf_printf(new, "%s/new/%s", dir, name->data);
    fd = open(tmp->data, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        local_result_set(res, 4, "4.2.0", "create maildir file %s: %s", tmp->data, strerror(errno));
        goto out;
    }
    rc = local_copy(fd, c, args, 0, err);
    if (rc == 0 && fsync(fd) < 0) {
        strbuf_printf(err, "fsync: %s", strerror(errno));
        rc = -1;
    }
    if (close(fd) < 0 && rc == 0) {
        strbuf_printf(err, "close: %s", strerror(errno));
        rc = -1;
    }
    fd = -1;
    if (rc == 0 && link(tmp->data, new->data) < 0) {
        strbuf_printf(err, "link to %s: %s", new->data, strerror(errno));
        rc = -1;
    }
    (void) unlink(tmp->data);
    if (rc != 0) {
        local_result_set(res, rc == -3 ? 5 : 4, rc == -3 ? "5.2.2" : "4.2.0",
                         "cannot deliver to maildir %s: %s", dir, strbuf_str(err));
        goto out;
    }
    strbuf_reset(tmp);
    (void) strbuf_printf(tmp, "%s/new", dir);
    fd = open(tmp->data, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0 || fsync(fd) < 0) {
        /* The file is in new/ already; a lost directory sync is logged. */
        msg_warn("fsync %s: %s", tmp->data, strerror(errno));
    }
    local_result_set(res, 0, "2.0.0", "delivered to maildir");
out:
    if (fd >= 0)
        (void) close(fd);
    strbuf_free(name);
    strbuf_free(tmp);
    strbuf_free(new);
    strbuf_free(err);
    return res->status;
}
