/*
 * mail_queue: queue file names, paths and moves between queue directories.
 *
 * Queue directories are the MASTER_DIR_* names of master_proto.h, relative
 * to queue_directory. Paths returned here are absolute
 * ($queue_directory/queue[/h1[/h2]]/ID) so callers need not chdir.
 *
 * Queue IDs have the short form: five upper-case hex digits of the
 * microseconds of the creation time, then the file's inode number in
 * upper-case hex ("3A3D26C44CC"). An ID is unique while its file exists.
 *
 * Queues named in hash_queue_names (default "deferred, defer") are spread
 * over hash_queue_depth levels of one-character subdirectories taken from
 * the first characters of the ID.
 *
 * COMPLETE MARKER: a file in incoming/ is complete only when its mode has
 * the owner-execute bit (MAIL_QUEUE_MODE_DONE); writers create files with
 * MAIL_QUEUE_MODE_NEW, write, fchmod(MAIL_QUEUE_MODE_DONE), fsync, close.
 *
 * FORCED EXPIRATION: the group-execute bit (MAIL_QUEUE_MODE_EXPIRE), set
 * by postsuper -e/-f with fchmod, asks qmgr to bounce every pending
 * recipient of the message (5.4.7 "message is administratively
 * expired") the next time it activates it, without a delivery attempt.
 *
 * REQUEUE: postsuper -r sets the other-execute bit (MAIL_QUEUE_MODE_REQUEUE)
 * on a queue file and renames it into maildrop/; pickup feeds such a file
 * (when it is owned by the user pickup runs as) to cleanup again as a
 * queue file, not as a user's submission.
 *
 * See mail_queue.c for the function contracts.
 */
#ifndef POSTERN_MAIL_QUEUE_H
#define POSTERN_MAIL_QUEUE_H

#include "strbuf.h"

#define MAIL_QUEUE_ID_MIN       6       /* 5 usec digits + 1 inode digit */
#define MAIL_QUEUE_ID_MAX       32      /* longest ID accepted */
#define MAIL_QUEUE_MODE_NEW     0600    /* being written */
#define MAIL_QUEUE_MODE_DONE    0700    /* complete (owner-execute bit) */
#define MAIL_QUEUE_MODE_EXPIRE  0010    /* postsuper -e/-f: bounce when next
                                         * activated (group-execute bit) */
#define MAIL_QUEUE_MODE_REQUEUE 0001    /* in maildrop/: a queue file put
                                         * there by postsuper -r (other-
                                         * execute bit, which postdrop never
                                         * sets; trusted only when the file's
                                         * owner is the mail system's) */
#define MAIL_QUEUE_PURGE_AGE    3600    /* seconds before postsuper -p takes
                                         * an incomplete file for a leftover */
#define MAIL_QUEUE_HASH_MAX     16      /* largest hash_queue_depth used */

int     mail_queue_create(const char *queue, strbuf *id, strbuf *path,
                          int *fd, strbuf *err);
int     mail_queue_path(const char *queue, const char *id, strbuf *path);
int     mail_queue_mkdirs(const char *queue, const char *id, strbuf *err);
int     mail_queue_rename(const char *from_queue, const char *to_queue,
                          const char *id, strbuf *err);
int     mail_queue_id_ok(const char *id);
int     mail_queue_hashed(const char *queue);
int     mail_queue_complete(int mode);
char  **mail_queue_scan(const char *dir, int depth, size_t *count);
char  **mail_queue_scan_free(char **names, size_t count);

#endif
