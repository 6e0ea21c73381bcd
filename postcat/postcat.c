/*
 * postcat: print a queue file in readable form, for debugging.
 *
 *   postcat [-bdehoqv] [-c config_dir] [file ... | -q queue_id ...]
 *
 * Without -e, -h or -b it prints everything: the envelope records under
 * "*** ENVELOPE RECORDS NAME ***" (one "label: value" line per record,
 * Postfix's labels: message_size, message_arrival_time,
 * named_attribute, sender, original_recipient, recipient,
 * done_recipient, ...), the message under "*** MESSAGE CONTENTS NAME
 * ***", the extracted segment under "*** HEADER EXTRACTED NAME ***" and
 * "*** MESSAGE FILE END NAME ***". The message_size line shows the header
 * fields in Postfix's order: message size, content offset, recipient
 * count, 0, content length, flags. -e selects the envelope (and the
 * extracted records), -h the message headers, -b the body; -h and -b
 * alone print the message without the "***" lines, so "postcat -hb"
 * gives the message as it would be delivered. -o prefixes every record
 * line with its offset in the file; -d (with -o, or alone) also names
 * the record type of each line. NAME is queue/ID with -q (the queues
 * incoming, active, deferred, hold, maildrop and corrupt are searched in
 * that order), else the path. With no file and no -q it reads standard
 * input (which must be a file, not a pipe).
 *
 * A damaged file is printed up to the damage, then "postcat: error:
 * NAME: offset N: what" goes to standard error; the exit status is 1
 * when any file was damaged or could not be opened, else 0.
 *
 * SECURITY: runs as its caller, reading only what that user may read
 *   (the spool is the mail system's: root or the instance owner). IDs
 *   are checked with mail_queue_id_ok before they become paths; files
 *   are opened without following symbolic links. Control characters in
 *   envelope values are shown as '?'; message lines are printed as they
 *   are (that is the point of -hb).
 * LIMITS: records up to POSTCAT_RECORD_MAX bytes (longer ones are
 *   reported as damage).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "mail_queue.h"
#include "master_proto.h"
#include "mem.h"
#include "msg.h"
#include "numparse.h"
#include "param.h"
#include "qfile.h"
#include "rec_type.h"
#include "strbuf.h"
#include "strutil.h"

#define POSTCAT_RECORD_MAX  (64 * 1024 * 1024)

/* What to print. */
#define PC_ENV      (1 << 0)
#define PC_HEAD     (1 << 1)
#define PC_BODY     (1 << 2)
#define PC_OFFSET   (1 << 3)
#define PC_TYPE     (1 << 4)

/* Where the reader is. */
enum postcat_segment {
    SEG_HEADER, SEG_ENVELOPE, SEG_CONTENT, SEG_EXTRACTED, SEG_END
};

/* usage: print the usage line and exit EX_USAGE */
static void __attribute__((noreturn)) usage(void)
{
    fprintf(stderr, "usage: postcat [-bdehoqv] [-c config_dir] "
            "[file ... | -q queue_id ...]\n");
    exit(EX_USAGE);
}

/* postcat_prefix: the offset and type columns of -o and -d */
static void postcat_prefix(int flags, const qfile_record *rec)
{
    if (flags & PC_OFFSET)
        printf("%9ld ", (long) rec->offset);
    if (flags & PC_TYPE)
        printf("%c ", rec->type);
}

/* postcat_clean: value with control characters shown as '?' */
static void postcat_clean(strbuf *out, const char *data, size_t len)
{
    size_t  i;

    strbuf_reset(out);
    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char) data[i];

        (void) strbuf_putc(out, (c < 0x20 || c == 0x7f) ? '?' : (int) c);
    }
}

/* postcat_time: "sec" (or "sec usec") as a ctime-style date */
static void postcat_time(strbuf *out, const char *data)
{
    char    buf[64];
    char   *copy = mem_strdup(data), *cursor = copy, *word;
    long    sec = 0;
    time_t  t;
    struct tm *tm;

    word = str_token(&cursor, " ");
    if (word && num_parse_long(word, 0, 0x7fffffffffffL, &sec) == 0 && sec > 0
        && (t = (time_t) sec, tm = localtime(&t)) != NULL
        && strftime(buf, sizeof(buf), "%a %b %e %H:%M:%S %Y", tm) > 0)
        strbuf_setf(out, "%s", buf);
    else if (word && sec == 0 && strspn(word, "0") == strlen(word))
        strbuf_setf(out, "0");
    else
        postcat_clean(out, data, strlen(data));
    mem_free(copy);
}

/* postcat_header: the header record in Postfix's field order (message
 * size, content offset, recipient count, qmgr flags (none), content
 * length, flags), or the raw payload when it does not parse */
static void postcat_header(strbuf *out, const char *data, size_t len)
{
    qfile_header h;

    if (qfile_parse_header(data, len, &h) < 0) {
        postcat_clean(out, data, len);
        return;
    }
    strbuf_setf(out, "%15ld %15ld %15ld %15d %15ld %15ld", h.content_size,
                (long) h.content_offset, h.rcpt_count, 0,
                (long) (h.tail_offset - h.content_offset), h.flags);
}

/* postcat_label: the Postfix-style label of an envelope record */
static const char *postcat_label(int type)
{
    switch (type) {
    case REC_TYPE_HEADER:
        return "message_size";
    case REC_TYPE_TIME:
        return "message_arrival_time";
    case REC_TYPE_SENDER:
        return "sender";
    case REC_TYPE_ATTR:
        return "named_attribute";
    case REC_TYPE_ENVID:
        return "dsn_envelope_id";
    case REC_TYPE_RET:
        return "dsn_ret_flags";
    case REC_TYPE_WARN:
        return "warning_message_time";
    case REC_TYPE_ORIG_RCPT:
        return "original_recipient";
    case REC_TYPE_ORCPT:
        return "dsn_orig_rcpt";
    case REC_TYPE_NOTIFY:
        return "dsn_notify_flags";
    case REC_TYPE_RCPT:
        return "recipient";
    case REC_TYPE_DONE:
        return "done_recipient";
    default:
        return qfile_type_name(type);
    }
}

/* postcat_fd: print one open queue file; 0, or -1 when it is damaged */
static int postcat_fd(int fd, const char *name, int flags)
{
    qfile_reader *rd = qfile_reader_fd(fd, POSTCAT_RECORD_MAX);
    strbuf *err = strbuf_new(64);
    strbuf *val = strbuf_new(128);
    strbuf *line = strbuf_new(256);
    enum postcat_segment seg = SEG_HEADER;
    int     banners = (flags & PC_ENV) != 0;
    int     in_header = 1;              /* message headers not yet ended */
    int     piece = 0;                  /* inside a long line */
    int     show, st, rc = 0;
    qfile_record rec;

    if (banners)
        printf("*** ENVELOPE RECORDS %s ***\n", name);
    while ((st = qfile_read_record(rd, &rec, err)) > 0) {
        switch (rec.type) {
        case REC_TYPE_MESSAGE:
            seg = SEG_CONTENT;
            if (banners)
                printf("*** MESSAGE CONTENTS %s ***\n", name);
            continue;
        case REC_TYPE_EXTRACTED:
            seg = SEG_EXTRACTED;
            if (banners)
                printf("*** HEADER EXTRACTED %s ***\n", name);
            continue;
        case REC_TYPE_END:
            seg = SEG_END;
            if (banners)
                printf("*** MESSAGE FILE END %s ***\n", name);
            continue;
        default:
            break;
        }
        if (seg == SEG_END) {
            strbuf_setf(err, "offset %ld: data after the end record", (long) rec.offset);
            st = -1;
            break;
        }
        if (seg == SEG_CONTENT && (rec.type == REC_TYPE_NORMAL
                                   || rec.type == REC_TYPE_PARTIAL)) {
            /* The header ends at the first empty line. */
            if (!piece && in_header && rec.type == REC_TYPE_NORMAL && rec.len == 0) {
                show = (flags & PC_HEAD) && (flags & PC_BODY);
                in_header = 0;
            } else {
                show = (flags & (in_header ? PC_HEAD : PC_BODY)) != 0;
            }
            if (show) {
                if (!piece)
                    postcat_prefix(flags, &rec);
                fwrite(rec.data, 1, rec.len, stdout);
                if (rec.type == REC_TYPE_NORMAL)
                    putchar('\n');
            }
            piece = rec.type == REC_TYPE_PARTIAL;
            continue;
        }
        if (!(flags & PC_ENV))
            continue;
        postcat_prefix(flags, &rec);
        if (rec.type == REC_TYPE_TIME || rec.type == REC_TYPE_WARN)
            postcat_time(val, rec.data);
        else if (rec.type == REC_TYPE_HEADER)
            postcat_header(val, rec.data, rec.len);
        else
            postcat_clean(val, rec.data, rec.len);
        printf("%s: %s\n", postcat_label(rec.type), strbuf_str(val));
        if (seg == SEG_HEADER)
            seg = SEG_ENVELOPE;
    }
    if (piece && (flags & (PC_HEAD | PC_BODY)))
        putchar('\n');
    if (st < 0) {
        (void) fflush(stdout);
        fprintf(stderr, "postcat: error: %s: %s\n", name, strbuf_str(err));
        rc = -1;
    } else if (seg != SEG_END) {
        (void) fflush(stdout);
        fprintf(stderr, "postcat: error: %s: file ends without an end record "
                "(truncated, or still being written)\n", name);
        rc = -1;
    }
    qfile_reader_free(rd);
    strbuf_free(err);
    strbuf_free(val);
    strbuf_free(line);
    return rc;
}

/* postcat_path: open and print a file named by path; 0 or -1 */
static int postcat_path(const char *path, const char *name, int flags)
{
    struct stat st;
    int     fd, rc;

    if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)) < 0) {
        fprintf(stderr, "postcat: error: open %s: %s\n", path, strerror(errno));
        return -1;
    }
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        fprintf(stderr, "postcat: error: %s: not a regular file\n", path);
        (void) close(fd);
        return -1;
    }
    rc = postcat_fd(fd, name, flags);
    (void) close(fd);
    return rc;
}

/* postcat_queue_id: find id in the queues and print it; 0 or -1 */
static int postcat_queue_id(const char *id, int flags)
{
    static const char *const queues[] = {
        MASTER_DIR_INCOMING, MASTER_DIR_ACTIVE, MASTER_DIR_DEFERRED,
        MASTER_DIR_HOLD, MASTER_DIR_MAILDROP, MASTER_DIR_CORRUPT,
    };
    strbuf *path = strbuf_new(128);
    char   *name;
    size_t  i;
    int     rc = -1;

    if (!mail_queue_id_ok(id)) {
        fprintf(stderr, "postcat: error: invalid queue ID: %s\n", id);
        strbuf_free(path);
        return -1;
    }
    for (i = 0; i < sizeof(queues) / sizeof(queues[0]); i++) {
        (void) mail_queue_path(queues[i], id, path);
        if (access(strbuf_str(path), F_OK) < 0) {
            if (errno == ENOENT)
                continue;
            fprintf(stderr, "postcat: error: %s: %s\n", strbuf_str(path), strerror(errno));
            break;
        }
        name = str_concat(queues[i], "/", id, (char *) NULL);
        rc = postcat_path(strbuf_str(path), name, flags);
        mem_free(name);
        strbuf_free(path);
        return rc;
    }
    if (i == sizeof(queues) / sizeof(queues[0]))
        fprintf(stderr, "postcat: error: no message with queue ID %s\n", id);
    strbuf_free(path);
    return rc;
}

/* main: parse the command line and print each file */
int     main(int argc, char **argv)
{
    const char *cli_dir = NULL;
    strbuf *err = strbuf_new(64);
    int     ch, flags = 0, by_id = 0, rc = 0;

    msg_init("postcat", MSG_F_STDERR);
    while ((ch = getopt(argc, argv, "bc:dehoqv")) != -1) {
        switch (ch) {
        case 'b':
            flags |= PC_BODY;
            break;
        case 'c':
            cli_dir = optarg;
            break;
        case 'd':
            flags |= PC_TYPE;
            break;
        case 'e':
            flags |= PC_ENV;
            break;
        case 'h':
            flags |= PC_HEAD;
            break;
        case 'o':
            flags |= PC_OFFSET;
            break;
        case 'q':
            by_id = 1;
            break;
        case 'v':
            msg_verbose++;
            break;
        default:
            usage();
        }
    }
    if ((flags & (PC_ENV | PC_HEAD | PC_BODY)) == 0)
        flags |= PC_ENV | PC_HEAD | PC_BODY;
    if (by_id) {
        if (optind >= argc)
            usage();
        if (param_load(param_config_dir(cli_dir), err) < 0) {
            fprintf(stderr, "postcat: fatal: %s\n", strbuf_str(err));
            return EX_TEMPFAIL;
        }
        for (; optind < argc; optind++)
            if (postcat_queue_id(argv[optind], flags) < 0)
                rc = 1;
    } else if (optind >= argc) {
        struct stat st;

        if (fstat(0, &st) < 0 || !S_ISREG(st.st_mode)) {
            fprintf(stderr, "postcat: error: standard input is not a file\n");
            rc = 1;
        } else if (postcat_fd(0, "standard input", flags) < 0) {
            rc = 1;
        }
    } else {
        for (; optind < argc; optind++)
            if (postcat_path(argv[optind], argv[optind], flags) < 0)
                rc = 1;
    }
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "postcat: error: write error on standard output\n");
        rc = 1;
    }
    strbuf_free(err);
    return rc;
}
