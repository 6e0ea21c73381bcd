/*
 * qfile: the queue file format, its writer and its reader.
 *
 * FORMAT (version 1)
 *
 * A queue file is a sequence of records. A record is
 *
 *   type     one byte, one of the REC_TYPE_* codes in rec_type.h
 *   length   the payload length as unsigned LEB128: 7 bits per byte, low
 *            group first, high bit set on every byte but the last; 1 to 4
 *            bytes (so at most 2^28 - 1), in the shortest form (a
 *            multi-byte length never ends in a 0x00 byte)
 *   payload  length bytes, any values (NUL included) unless the record's
 *            rules below say otherwise
 *
 * Lengths above the reader's caller-given limit are errors. Numbers in
 * payloads are ASCII decimal without sign; "fixed" numbers are exactly 15
 * digits, zero-padded, so they can be rewritten in place.
 *
 * The file holds these segments, in this order:
 *
 * 1. Header: exactly one 'C' record at offset 0. Its payload is 95 bytes,
 *    six fixed numbers separated by single spaces:
 *      version          format version, 1
 *      content_offset   offset of the 'M' record
 *      tail_offset      offset of the record after the last content
 *                       record (the 'X' record, or 'E' when there is no
 *                       extracted segment)
 *      content_size     message size: the sum over content records of
 *                       the payload length, plus 1 for each 'N' record
 *                       (the size of the message with LF line ends)
 *      rcpt_count       number of 'R' and 'D' records in the file
 *      flags            QFILE_FLAG_* bits; others must be 0
 *    The payload starts at offset 2 (QFILE_HEADER_OFFSET); the writer puts
 *    zeros there first and qfile_update_header() pwrites the real values
 *    once the rest is written.
 *
 * 2. Envelope: records of these types in any order, up to the 'M' record:
 *      'T'  arrival time "sec usec" (sec <= 2^63-1, usec < 1000000).
 *           Required, once.
 *      'S'  envelope sender; empty payload = null sender. Required, once.
 *      'A'  attribute "name=value": name is 1-64 bytes of letters, digits,
 *           '_', '-', '.'; value has no NUL. A name appears once per
 *           file (envelope and extracted segments together).
 *      'i'  DSN ENVID. At most once.
 *      '<'  DSN RET, "FULL" or "HDRS". At most once.
 *      'W'  next delay warning time: one fixed number (seconds since the
 *           epoch, 0 = none). At most once; rewritten in place by
 *           qfile_update_warn().
 *      recipient groups, see below.
 *    Addresses and the ENVID/ORCPT texts hold no NUL, CR or LF.
 *
 *    A recipient group is zero or one each of 'O' (original recipient,
 *    may be empty), 'o' (DSN ORCPT, "type;address", not empty) and 'n'
 *    (DSN NOTIFY: decimal QFILE_NOTIFY_* bits, 1-15, NEVER not combined
 *    with others) in any order, then exactly one recipient record: 'R'
 *    (still to do) or 'D' (done: delivered, or bounced). Marking a
 *    recipient done rewrites only its type byte R -> D (qfile_mark_done).
 *    'O', 'o' and 'n' must be followed by their 'R'/'D' record.
 *
 * 3. Content: one 'M' record (empty payload) at content_offset, then 'N'
 *    (a line without its line end) and 'L' (a piece of a long line: the
 *    next record continues the same line and is 'L' or 'N'). The content
 *    may be empty. The segment ends at tail_offset.
 *
 * 4. Extracted (optional): one 'X' record (empty payload) followed by
 *    'A' records and recipient groups (recipients found in headers, for
 *    sendmail -t and the like).
 *
 * 5. End: one 'E' record (empty payload), the last bytes of the file.
 *
 * A file must hold at least one recipient. Anything else (an unknown
 * type, a type outside its segment, a truncated record, a bad length, a
 * header field that is not a fixed number or disagrees with the file, a
 * missing or repeated required record, bytes after 'E') makes the file
 * corrupt: the reader returns an error "offset N: what" and no result.
 *
 * WRITER: qfile_writer writes records to a stream (lib/util/stream)
 * positioned at the start of an empty file. It checks segment order
 * (misuse by the program is a panic) and payload rules (bad data is a
 * returned error, so nothing it writes is refused by the reader).
 *
 * READER: qfile_reader reads records from an fd (with pread, starting at
 * offset 0, not moving the fd's offset) or from memory. On top of it,
 * qfile_read_envelope() is the strict whole-file parser and
 * qfile_content_next() yields the content again, piece by piece.
 *
 * See qfile.c for the function contracts.
 */
#ifndef POSTERN_QFILE_H
#define POSTERN_QFILE_H

#include <stddef.h>
#include <sys/types.h>

#include "rec_type.h"
#include "stream.h"
#include "strbuf.h"

#define QFILE_VERSION         1
#define QFILE_FIXED_WIDTH     15        /* digits of a fixed number */
#define QFILE_HEADER_FIELDS   6
#define QFILE_HEADER_LEN      (QFILE_HEADER_FIELDS * (QFILE_FIXED_WIDTH + 1) - 1)
#define QFILE_HEADER_OFFSET   2         /* payload offset of the 'C' record */
#define QFILE_LEN_MAX         ((1L << 28) - 1)  /* largest encodable length */
#define QFILE_ATTR_NAME_MAX   64
#define QFILE_RECORD_MIN      128       /* smallest allowed record limit */

/* Header flags. */
#define QFILE_FLAG_SMTPUTF8   (1 << 0)  /* SMTPUTF8 was requested */
#define QFILE_FLAG_8BITMIME   (1 << 1)  /* BODY=8BITMIME was declared */
#define QFILE_FLAG_MASK       (QFILE_FLAG_SMTPUTF8 | QFILE_FLAG_8BITMIME)

/* DSN NOTIFY bits ('n' records). */
#define QFILE_NOTIFY_SUCCESS  (1 << 0)
#define QFILE_NOTIFY_FAILURE  (1 << 1)
#define QFILE_NOTIFY_DELAY    (1 << 2)
#define QFILE_NOTIFY_NEVER    (1 << 3)

/* DSN RET values. */
enum qfile_ret {
    QFILE_RET_NONE = 0,                 /* no '<' record */
    QFILE_RET_FULL,
    QFILE_RET_HDRS
};

/* qfile_read_envelope flags. */
#define QFILE_ENV_SKIP_CONTENT  (1 << 0)  /* jump over the content segment */
#define QFILE_ENV_COUNT_RCPTS   (1 << 1)  /* check and count recipients only */

/* qfile_content_next results. */
#define QFILE_CONTENT_END      0        /* no more content */
#define QFILE_CONTENT_LINE     1        /* a line, or the last piece of one */
#define QFILE_CONTENT_PIECE    2        /* a piece; the line continues */

/* The fixed header fields. */
typedef struct qfile_header {
    long    version;
    off_t   content_offset;
    off_t   tail_offset;
    long    content_size;
    long    rcpt_count;
    long    flags;
} qfile_header;

/* One record as read; data is valid until the next read. */
typedef struct qfile_record {
    int     type;                       /* REC_TYPE_* */
    off_t   offset;                     /* offset of the type byte */
    const char *data;                   /* payload, NUL-terminated copy */
    size_t  len;                        /* payload length */
} qfile_record;

typedef struct qfile_attr {
    char   *name;
    char   *value;
} qfile_attr;

typedef struct qfile_rcpt {
    char   *address;                    /* recipient */
    char   *orig;                       /* original recipient, or NULL */
    char   *orcpt;                      /* DSN ORCPT, or NULL */
    int     notify;                     /* QFILE_NOTIFY_* bits, 0 = none given */
    off_t   offset;                     /* offset of the R/D record */
    int     done;                       /* 1 for a D record */
    int     extracted;                  /* 1 when in the extracted segment */
} qfile_rcpt;

typedef struct qfile_envelope {
    qfile_header header;                /* checked against the file */
    long    arrival_sec;
    long    arrival_usec;
    char   *sender;                     /* "" = null sender */
    char   *envid;                      /* NULL when absent */
    enum qfile_ret ret;
    long    warn_time;                  /* 0 when no W record */
    off_t   warn_offset;                /* offset of the W record, -1 = none */
    qfile_attr *attrs;                  /* in file order */
    size_t  nattrs;
    qfile_rcpt *rcpts;                  /* in file order */
    size_t  nrcpts;
    size_t  ndone;                      /* how many rcpts are done */
} qfile_envelope;

typedef struct qfile_writer qfile_writer;
typedef struct qfile_reader qfile_reader;

/* Writer. */
qfile_writer *qfile_writer_new(stream *out, size_t max_record);
qfile_writer *qfile_writer_free(qfile_writer *w);
const char *qfile_writer_error(const qfile_writer *w);
off_t   qfile_writer_offset(const qfile_writer *w);
int     qfile_put(qfile_writer *w, int type, const void *data, size_t len);
int     qfile_printf(qfile_writer *w, int type, const char *fmt, ...)
            __attribute__((format(printf, 3, 4)));
int     qfile_put_header(qfile_writer *w, long flags);
int     qfile_put_time(qfile_writer *w, long sec, long usec);
int     qfile_put_sender(qfile_writer *w, const char *sender);
int     qfile_put_attr(qfile_writer *w, const char *name, const char *value);
int     qfile_put_envid(qfile_writer *w, const char *envid);
int     qfile_put_ret(qfile_writer *w, enum qfile_ret ret);
int     qfile_put_warn(qfile_writer *w, long when);
int     qfile_put_rcpt(qfile_writer *w, const char *address, const char *orig,
                       const char *orcpt, int notify);
int     qfile_put_content_start(qfile_writer *w);
int     qfile_put_line(qfile_writer *w, const char *line, size_t len,
                       size_t piece_max);
int     qfile_put_text(qfile_writer *w, const char *text, size_t len,
                       size_t piece_max);
int     qfile_put_extracted(qfile_writer *w);
int     qfile_finish(qfile_writer *w, qfile_header *header);

/* In-place updates of a finished file (one pwrite each). */
int     qfile_update_header(int fd, const qfile_header *header);
int     qfile_mark_done(int fd, off_t rcpt_offset);
int     qfile_update_warn(int fd, off_t warn_offset, long when);

/* Reader. */
qfile_reader *qfile_reader_fd(int fd, size_t max_record);
qfile_reader *qfile_reader_mem(const void *data, size_t len, size_t max_record);
qfile_reader *qfile_reader_free(qfile_reader *rd);
void    qfile_reader_seek(qfile_reader *rd, off_t offset);
off_t   qfile_reader_offset(const qfile_reader *rd);
int     qfile_read_record(qfile_reader *rd, qfile_record *rec, strbuf *err);
qfile_envelope *qfile_read_envelope(qfile_reader *rd, int flags, strbuf *err);
qfile_envelope *qfile_envelope_free(qfile_envelope *env);
const char *qfile_envelope_attr(const qfile_envelope *env, const char *name);
int     qfile_read_pending(qfile_reader *rd, const qfile_envelope *env,
                           off_t *cursor, size_t max, qfile_rcpt **rcpts,
                           size_t *nrcpts, strbuf *err);
qfile_rcpt *qfile_rcpts_free(qfile_rcpt *rcpts, size_t n);
int     qfile_content_start(qfile_reader *rd, const qfile_envelope *env,
                            strbuf *err);
int     qfile_content_next(qfile_reader *rd, strbuf *piece, strbuf *err);

/* Helpers shared by writer, reader and tools. */
int     qfile_format_header(char *buf, size_t size, const qfile_header *header);
int     qfile_parse_header(const char *data, size_t len, qfile_header *header);
const char *qfile_type_name(int type);

#endif
