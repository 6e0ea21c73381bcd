/*
 * postdrop: put one locally submitted message into maildrop/.
 *
 * Usage: postdrop [-v] [-c config_dir]
 *
 * sendmail runs postdrop with a pipe on standard input and writes the
 * submission stream to it (a queue-format record stream, see maildrop.h).
 * postdrop reads it whole (bounded), creates maildrop/ID with
 * mail_queue_create (mode 0600: not yet complete), writes the header, its
 * own arrival time, submit_uid = the caller's real uid, and then only the
 * records a local user may send (maildrop_filter), fsyncs, marks the file
 * complete (fchmod MAILDROP_MODE_DONE: owner-execute bit, and read access for
 * pickup, which may run as another user), fsyncs again, and pokes pickup (public/pickup; a failure is
 * ignored: pickup's wakeup timer finds the file). Exit status 0 only when
 * the file is complete and durable; sysexits codes otherwise:
 *   EX_USAGE     bad command line, or -c/MAIL_CONFIG while set-gid
 *   EX_DATAERR   the stream is malformed or holds forbidden records
 *   EX_TEMPFAIL  cannot create or write the maildrop file, config trouble
 * On any failure the partial file is removed.
 *
 * SECURITY: installed set-gid setgid_group; everything on standard input
 *   comes from an unprivileged user and is filtered record by record; the
 *   uid comes from getuid() only, never from the input. While set-gid, a
 *   non-default configuration directory is refused (a user could point
 *   queue_directory anywhere the postdrop group can write).
 * LIMITS: the stream may hold at most 2 * message_size_limit + 1 MiB
 *   bytes (records cost a few bytes per line); records are bounded by
 *   line_length_limit-independent POSTDROP_RECORD_MAX.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sysexits.h>
#include <unistd.h>

#include "attr_names.h"
#include "maildrop.h"
#include "mail_queue.h"
#include "master_proto.h"
#include "msg.h"
#include "param.h"
#include "qfile.h"
#include "stream.h"
#include "strbuf.h"
#include "strutil.h"
#include "trigger.h"

#define POSTDROP_RECORD_MAX     (1024 * 1024)   /* largest record */
#define POSTDROP_SLACK          (1024 * 1024)   /* stream overhead allowed */
#define POSTDROP_NOLIMIT_MAX    (1024L * 1024 * 1024)   /* size limit 0 */
#define MAILDROP_MODE_DONE      0744    /* complete; readable by pickup (only
                                         * mail_owner and setgid_group can
                                         * enter maildrop/) */

/* usage: print the usage line and exit. */
static void __attribute__((noreturn)) usage(void)
{
    fprintf(stderr, "usage: postdrop [-v] [-c config_dir]\n");
    exit(EX_USAGE);
}

/* postdrop_read_input: read standard input whole, at most max bytes. */
static int postdrop_read_input(strbuf *buf, size_t max, strbuf *err)
{
    char    chunk[16384];
    ssize_t n;

    for (;;) {
        n = read(0, chunk, sizeof(chunk));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            (void) strbuf_setf(err, "read standard input: %s", strerror(errno));
            return EX_TEMPFAIL;
        }
        if (n == 0)
            return 0;
        if (buf->len + (size_t) n > max) {
            (void) strbuf_setf(err, "message too large (more than %zu bytes "
                               "of submission data)", max);
            return EX_DATAERR;
        }
        if (strbuf_append(buf, chunk, (size_t) n) < 0) {
            (void) strbuf_setf(err, "message too large");
            return EX_DATAERR;
        }
    }
}

/* postdrop_input_flags: the header flags of the input stream (its first
 * record); 0 when there is no valid header (the filter then refuses). */
static long postdrop_input_flags(const strbuf *input)
{
    qfile_reader *rd = qfile_reader_mem(input->data, input->len,
                                        POSTDROP_RECORD_MAX);
    strbuf *why = strbuf_new(32);
    qfile_record rec;
    qfile_header hdr;
    long    flags = 0;

    if (qfile_read_record(rd, &rec, why) == 1 && rec.type == REC_TYPE_HEADER
        && qfile_parse_header(rec.data, rec.len, &hdr) == 0)
        flags = hdr.flags & QFILE_FLAG_MASK;
    qfile_reader_free(rd);
    strbuf_free(why);
    return flags;
}

/* postdrop_write: write the maildrop file on fd; sysexits status. */
static int postdrop_write(int fd, const strbuf *input, strbuf *err)
{
    stream *out = stream_fdopen(fd, STREAM_F_WRITE | STREAM_F_NOCLOSE);
    qfile_writer *w = qfile_writer_new(out, POSTDROP_RECORD_MAX);
    qfile_reader *rd = qfile_reader_mem(input->data, input->len,
                                        POSTDROP_RECORD_MAX);
    qfile_header hdr;
    struct timeval tv;
    char    uid[32];
    int     status = EX_TEMPFAIL;

    gettimeofday(&tv, NULL);
    (void) str_format(uid, sizeof(uid), "%lu", (unsigned long) getuid());
    if (qfile_put_header(w, postdrop_input_flags(input)) < 0
        || qfile_put_time(w, (long) tv.tv_sec, (long) tv.tv_usec) < 0
        || qfile_put_attr(w, ATTR_NAME_SUBMIT_UID, uid) < 0) {
        (void) strbuf_setf(err, "write maildrop file: %s",
                           qfile_writer_error(w) ? qfile_writer_error(w) : "error");
        goto done;
    }
    if (maildrop_filter(rd, w, err) < 0) {
        /* A write error shows as the writer's sticky error. */
        status = stream_error(out) ? EX_TEMPFAIL : EX_DATAERR;
        goto done;
    }
    if (qfile_finish(w, &hdr) < 0) {
        (void) strbuf_setf(err, "write maildrop file: %s",
                           qfile_writer_error(w) ? qfile_writer_error(w) : "error");
        goto done;
    }
    if (qfile_update_header(fd, &hdr) < 0 || fsync(fd) < 0
        || fchmod(fd, MAILDROP_MODE_DONE) < 0 || fsync(fd) < 0) {
        (void) strbuf_setf(err, "write maildrop file: %s", strerror(errno));
        goto done;
    }
    status = EX_OK;
done:
    qfile_reader_free(rd);
    qfile_writer_free(w);
    (void) stream_close(out);
    return status;
}

/* main: read the stream, write the maildrop file, poke pickup. */
int     main(int argc, char **argv)
{
    const char *cli_dir = NULL;
    const char *dir;
    strbuf *err = strbuf_new(128);
    strbuf *input = strbuf_new(16384);
    strbuf *id = strbuf_new(32);
    strbuf *path = strbuf_new(128);
    long    limit;
    size_t  max;
    int     ch, fd, status;

    msg_init("postdrop", MSG_F_STDERR);
    while ((ch = getopt(argc, argv, "c:rv")) != -1) {
        switch (ch) {
        case 'c':
            cli_dir = optarg;
            break;
        case 'r':                       /* Postfix compatibility: the
                                         * record stream is our only input */
            break;
        case 'v':
            msg_verbose++;
            break;
        default:
            usage();
        }
    }
    if (optind != argc)
        usage();
    dir = param_config_dir(cli_dir);
    if (getegid() != getgid() && strcmp(dir, PARAM_CONFIG_DIR_DEFAULT) != 0) {
        msg_error("a configuration directory other than %s is not allowed "
                  "while postdrop runs set-gid", PARAM_CONFIG_DIR_DEFAULT);
        exit(EX_USAGE);
    }
    if (param_load(dir, err) < 0) {
        msg_error("%s", strbuf_str(err));
        exit(EX_TEMPFAIL);
    }
    limit = param_size(PARAM_MESSAGE_SIZE_LIMIT);
    max = limit > 0 && limit < POSTDROP_NOLIMIT_MAX / 2
        ? (size_t) limit * 2 + POSTDROP_SLACK : (size_t) POSTDROP_NOLIMIT_MAX;
    if ((status = postdrop_read_input(input, max, err)) != 0) {
        msg_error("%s", strbuf_str(err));
        exit(status);
    }
    if (input->len == 0) {
        msg_error("no submission data on standard input");
        exit(EX_DATAERR);
    }
    if (mail_queue_create(MASTER_DIR_MAILDROP, id, path, &fd, err) < 0) {
        msg_error("cannot create a maildrop file: %s", strbuf_str(err));
        exit(EX_TEMPFAIL);
    }
    status = postdrop_write(fd, input, err);
    if (status != EX_OK) {
        (void) unlink(strbuf_str(path));
        (void) close(fd);
        msg_error("%s%s", status == EX_DATAERR ? "message refused: " : "",
                  strbuf_str(err));
        exit(status);
    }
    if (close(fd) < 0) {
        (void) unlink(strbuf_str(path));
        msg_error("write maildrop file %s: %s", strbuf_str(path), strerror(errno));
        exit(EX_TEMPFAIL);
    }
    if (msg_verbose)
        msg_info("%s: queued in maildrop", strbuf_str(id));
    (void) trigger_send(TRIGGER_PICKUP_PATH, "W", 1, TRIGGER_TIMEOUT_MS);
    strbuf_free(err);
    strbuf_free(input);
    strbuf_free(id);
    strbuf_free(path);
    return EX_OK;
}
