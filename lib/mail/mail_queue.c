/*
 * mail_queue: queue file names, paths and moves between queue directories.
 *
 * mail_queue_create(queue, id, path, &fd, err)
 *     Creates a new file in queue (incoming or maildrop) with mode 0600
 *     and O_EXCL under a temporary name ("queue/tmp.PID.SEC.USEC"), then
 *     renames it to its queue ID (made from the microseconds of the
 *     creation time and the inode number), retrying with a new
 *     timestamp when that name exists. Sets id, path (absolute) and *fd
 *     (open read-write, the caller closes it). Returns 0, or -1 with a
 *     message in err (nothing is left behind). Names that are not queue
 *     IDs ("tmp.*") are never complete files: readers skip them (a crash
 *     between create and rename can leave one behind).
 * mail_queue_path(queue, id, path)
 *     Sets path to $queue_directory/queue[/hash...]/id. Returns 0, or -1
 *     when id is not a valid queue ID.
 * mail_queue_mkdirs(queue, id, err)
 *     Creates the hashed subdirectories for id in queue (mode 0700) when
 *     they are missing. 0 or -1 with err.
 * mail_queue_rename(from, to, id, err)
 *     rename(2) of the file between queues, creating the target's hashed
 *     subdirectories as needed. 0, or -1 with err (errno kept).
 * mail_queue_id_ok(id)
 *     1 when id has MAIL_QUEUE_ID_MIN..MAIL_QUEUE_ID_MAX characters from
 *     [0-9A-F], else 0.
 * mail_queue_hashed(queue)
 *     1 when queue is named in hash_queue_names.
 * mail_queue_complete(mode)
 *     1 when mode carries the completion mark (owner-execute bit).
 * mail_queue_scan(dir, depth, &count)
 *     The names in directory dir (a queue directory at hash depth depth)
 *     that a queue walk visits: queue IDs, and while depth <
 *     MAIL_QUEUE_HASH_MAX one-character hash subdirectory names (tell
 *     them apart with mail_queue_id_ok). The names are read before the
 *     caller acts on them, as the directory changes under a walk. Returns
 *     a mem_alloc'ed array of count mem_strdup'ed names (free with
 *     mail_queue_scan_free), or NULL with errno when dir cannot be
 *     opened. Other names (tmp.*, dot files) are left out.
 * mail_queue_scan_free(names, count)
 *     Frees what mail_queue_scan returned. Returns NULL.
 *
 * SECURITY: IDs coming from files and IPC are untrusted: every function
 * that builds a path checks the ID first, so "../x" never reaches the
 * file system. Files are created O_EXCL|O_NOFOLLOW with mode 0600.
 *
 * LIMITS: IDs are at most MAIL_QUEUE_ID_MAX characters; hashing uses at
 * most MAIL_QUEUE_HASH_MAX levels; creation gives up after
 * MAIL_QUEUE_TRIES name collisions.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "mail_queue.h"
#include "mem.h"
#include "param.h"
#include "strbuf.h"
#include "strutil.h"

#define MAIL_QUEUE_TRIES    100

/* mail_queue_id_ok: check the syntax of a short queue ID */
int     mail_queue_id_ok(const char *id)
{
    size_t  n;

    if (id == NULL)
        return 0;
    for (n = 0; id[n] != 0; n++) {
        if (n >= MAIL_QUEUE_ID_MAX)
            return 0;
        if (!((id[n] >= '0' && id[n] <= '9') || (id[n] >= 'A' && id[n] <= 'F')))
            return 0;
    }
    return n >= MAIL_QUEUE_ID_MIN;
}

/* mail_queue_complete: does a mode carry the completion mark */
int     mail_queue_complete(int mode)
{
    return (mode & S_IXUSR) != 0;
}

/* mail_queue_hashed: is queue listed in hash_queue_names */
int     mail_queue_hashed(const char *queue)
{
    const char *const *names;
    size_t  count;
    size_t  i;

    names = param_list(PARAM_HASH_QUEUE_NAMES, &count);
    for (i = 0; names != NULL && i < count; i++)
        if (strcmp(names[i], queue) == 0)
            return 1;
    return 0;
}

/* mail_queue_depth: hash levels for queue (0 when not hashed) */
static long mail_queue_depth(const char *queue)
{
    long    depth;

    if (!mail_queue_hashed(queue))
        return 0;
    depth = param_int(PARAM_HASH_QUEUE_DEPTH);
    if (depth < 0)
        depth = 0;
    if (depth > MAIL_QUEUE_HASH_MAX)
        depth = MAIL_QUEUE_HASH_MAX;
    return depth;
}

/* mail_queue_name_ok: a queue name is one plain path component */
static int mail_queue_name_ok(const char *queue)
{
    return queue != NULL && *queue != 0 && strchr(queue, '/') == NULL
        && strcmp(queue, ".") != 0 && strcmp(queue, "..") != 0;
}

/* mail_queue_dir: $queue_directory/queue plus hash levels for id */
static void mail_queue_dir(const char *queue, const char *id, long levels,
                                   strbuf *path)
{
    long    i;

    strbuf_setf(path, "%s/%s", param_str(PARAM_QUEUE_DIRECTORY), queue);
    for (i = 0; i < levels && id[i] != 0; i++)
        strbuf_printf(path, "/%c", id[i]);
}

/* mail_queue_path: the path of queue file id in queue */
int     mail_queue_path(const char *queue, const char *id, strbuf *path)
{
    if (!mail_queue_name_ok(queue) || !mail_queue_id_ok(id))
        return -1;
    mail_queue_dir(queue, id, mail_queue_depth(queue), path);
    strbuf_printf(path, "/%s", id);
    return 0;
}

/* mail_queue_mkdirs: create the hashed subdirectories for id */
int     mail_queue_mkdirs(const char *queue, const char *id, strbuf *err)
{
    strbuf *dir;
    long    depth;
    long    level;
    int     ret = 0;

    if (!mail_queue_name_ok(queue) || !mail_queue_id_ok(id)) {
        strbuf_setf(err, "bad queue name or queue ID");
        return -1;
    }
    depth = mail_queue_depth(queue);
    dir = strbuf_new(64);
    for (level = 1; level <= depth; level++) {
        mail_queue_dir(queue, id, level, dir);
        if (mkdir(strbuf_str(dir), 0700) < 0 && errno != EEXIST) {
            strbuf_setf(err, "create directory %s: %s", strbuf_str(dir),
                        strerror(errno));
            ret = -1;
            break;
        }
    }
    strbuf_free(dir);
    return ret;
}

/* mail_queue_create: create a new queue file named after its queue ID */
int     mail_queue_create(const char *queue, strbuf *id, strbuf *path,
                                  int *fd, strbuf *err)
{
    strbuf *tmp;
    struct timeval tv;
    struct stat st;
    int     tries;
    int     f;

    *fd = -1;
    if (!mail_queue_name_ok(queue)) {
        strbuf_setf(err, "bad queue name");
        return -1;
    }
    tmp = strbuf_new(64);
    /* The temporary name is unique among live processes by its pid; a
     * leftover of a crashed process with the same name is skipped. */
    for (f = -1, tries = 0; f < 0 && tries < MAIL_QUEUE_TRIES; tries++) {
        gettimeofday(&tv, NULL);
        strbuf_setf(tmp, "%s/%s/tmp.%ld.%ld.%ld", param_str(PARAM_QUEUE_DIRECTORY),
                    queue, (long) getpid(), (long) tv.tv_sec, (long) tv.tv_usec);
        f = open(strbuf_str(tmp), O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                 MAIL_QUEUE_MODE_NEW);
        if (f < 0 && errno != EEXIST)
            break;
    }
    if (f < 0) {
        strbuf_setf(err, "create file %s: %s", strbuf_str(tmp), strerror(errno));
        strbuf_free(tmp);
        return -1;
    }
    if (fstat(f, &st) < 0) {
        strbuf_setf(err, "fstat %s: %s", strbuf_str(tmp), strerror(errno));
        goto fail;
    }
    for (tries = 0; tries < MAIL_QUEUE_TRIES; tries++) {
        gettimeofday(&tv, NULL);
        strbuf_setf(id, "%05X%lX", (unsigned) (tv.tv_usec & 0xFFFFF),
                    (unsigned long) st.st_ino);
        if (mail_queue_path(queue, id->data, path) < 0) {
            strbuf_setf(err, "cannot build queue ID");
            goto fail;
        }
        /* link() fails with EEXIST where rename() would replace a file. */
        if (link(strbuf_str(tmp), strbuf_str(path)) == 0) {
            (void) unlink(strbuf_str(tmp));
            strbuf_free(tmp);
            *fd = f;
            return 0;
        }
        if (errno != EEXIST) {
            strbuf_setf(err, "link %s to %s: %s", strbuf_str(tmp),
                        strbuf_str(path), strerror(errno));
            goto fail;
        }
        usleep(1);
    }
    strbuf_setf(err, "cannot find a free queue ID in %s", queue);
fail:
    (void) unlink(strbuf_str(tmp));
    (void) close(f);
    strbuf_free(tmp);
    return -1;
}

/* mail_queue_rename: move queue file id from one queue to another */
int     mail_queue_rename(const char *from_queue, const char *to_queue,
                                  const char *id, strbuf *err)
{
    strbuf *from;
    strbuf *to;
    int     ret = -1;
    int     saved;

    from = strbuf_new(64);
    to = strbuf_new(64);
    if (mail_queue_path(from_queue, id, from) < 0
        || mail_queue_path(to_queue, id, to) < 0) {
        strbuf_setf(err, "bad queue name or queue ID");
        errno = EINVAL;
    } else if (rename(strbuf_str(from), strbuf_str(to)) == 0) {
        ret = 0;
    } else if (errno == ENOENT && mail_queue_depth(to_queue) > 0
               && access(strbuf_str(from), F_OK) == 0) {
        if (mail_queue_mkdirs(to_queue, id, err) == 0) {
            if (rename(strbuf_str(from), strbuf_str(to)) == 0)
                ret = 0;
            else
                strbuf_setf(err, "rename %s to %s: %s", strbuf_str(from),
                            strbuf_str(to), strerror(errno));
        }
    } else {
        strbuf_setf(err, "rename %s to %s: %s", strbuf_str(from),
                    strbuf_str(to), strerror(errno));
    }
    saved = errno;
    strbuf_free(from);
    strbuf_free(to);
    errno = saved;
    return ret;
}

/* mail_queue_scan: the queue IDs and hash subdirectories in dir */
char  **mail_queue_scan(const char *dir, int depth, size_t *count)
{
    struct dirent *de;
    char  **names;
    DIR    *dp;

    *count = 0;
    if ((dp = opendir(dir)) == NULL)
        return NULL;
    names = mem_alloc(sizeof(*names));
    while ((de = readdir(dp)) != NULL) {
        if (mail_queue_id_ok(de->d_name)
            || (strlen(de->d_name) == 1 && de->d_name[0] != '.'
                && depth < MAIL_QUEUE_HASH_MAX)) {
            names = mem_realloc(names, (*count + 1) * sizeof(*names));
            names[(*count)++] = mem_strdup(de->d_name);
        }
    }
    (void) closedir(dp);
    return names;
}

/* mail_queue_scan_free: free a mail_queue_scan result */
char  **mail_queue_scan_free(char **names, size_t count)
{
    size_t  i;

    if (names == NULL)
        return NULL;
    for (i = 0; i < count; i++)
        mem_free(names[i]);
    return mem_free(names);
}
