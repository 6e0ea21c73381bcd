/*
 * qfile: queue file writer and reader (the format is specified in qfile.h).
 *
 * Public functions, writer:
 *   qfile_writer_new(out, max_record): writer on stream out, which must be
 *     positioned at the start of an empty file; the caller keeps owning
 *     out. max_record (QFILE_RECORD_MIN..QFILE_LEN_MAX) bounds every
 *     payload and is the default piece size for content lines.
 *   qfile_writer_free(w): release the writer (not the stream); NULL.
 *   qfile_writer_error(w): text of the last failure, or NULL.
 *   qfile_writer_offset(w): offset where the next record goes.
 *   qfile_put(w, type, data, len): one record. Returns 0, or -1 when the
 *     payload breaks the rules of its type or the limit (nothing is
 *     written and the writer stays usable) or on a write error (sticky;
 *     every later call fails). Calls out of segment order (a type not
 *     allowed where the writer is, a second T/S/i/</W, an 'M' before T
 *     and S, a segment change after 'L' or between a recipient's
 *     attributes and the recipient) are program bugs and panic.
 *   qfile_printf(w, type, fmt, ...): qfile_put of formatted text.
 *   qfile_put_header(w, flags): the 'C' record with zeros in place of the
 *     values only known at the end (to be written by qfile_update_header).
 *   qfile_put_time, _sender, _attr, _envid, _ret, _warn: the envelope
 *     records; qfile_put_rcpt(w, address, orig, orcpt, notify): one
 *     recipient group (orig/orcpt may be NULL, notify 0 = none); it is
 *     checked whole before anything is written.
 *   qfile_put_content_start(w): the 'M' record.
 *   qfile_put_line(w, line, len, piece_max): one content line (without
 *     its line end) as 'L' records of piece_max bytes and a final 'N'
 *     (piece_max 0 = max_record; larger than max_record is a bug).
 *   qfile_put_text(w, text, len, piece_max): content given as text: each
 *     LF-terminated line through qfile_put_line, a last line without LF
 *     too (bytes other than LF, CR included, are kept).
 *   qfile_put_extracted(w): the 'X' record.
 *   qfile_finish(w, &header): write 'E', flush the stream, and fill header
 *     with the values for qfile_update_header. Fails (-1) on a write
 *     error or when the file has no recipient.
 * In-place updates (fd of a finished file; return 0, or -1 with errno,
 * EINVAL when the bytes at the offset are not the expected record):
 *   qfile_update_header(fd, header): pwrite the header fields.
 *   qfile_mark_done(fd, offset): turn the 'R' at offset into 'D' (a 'D'
 *     already there is success).
 *   qfile_update_warn(fd, offset, when): rewrite the time of the 'W'
 *     record at offset.
 * Reader:
 *   qfile_reader_fd(fd, max_record): reader on a file (pread from offset
 *     0; the fd offset is not used or moved; the caller closes fd).
 *   qfile_reader_mem(data, len, max_record): reader on memory (not copied;
 *     keep it alive). max_record as for the writer.
 *   qfile_reader_free(rd): release; returns NULL.
 *   qfile_reader_seek(rd, offset), qfile_reader_offset(rd): position.
 *   qfile_read_record(rd, &rec, err): next record: 1 with rec filled (its
 *     data valid until the next read), 0 at the end of the file, -1 with
 *     err = "offset N: problem" (unknown type, bad or oversize length,
 *     truncation, read error).
 *   qfile_read_envelope(rd, flags, err): strict parse of the whole file.
 *     Returns the envelope (free with qfile_envelope_free), or NULL with
 *     err set. Without QFILE_ENV_SKIP_CONTENT every content record is
 *     read and checked against the header; with it the parser jumps from
 *     'M' to tail_offset, and damage inside the content is found only by
 *     the content reader (qmgr's fast path). With QFILE_ENV_COUNT_RCPTS
 *     every recipient group is checked and counted (nrcpts, ndone) but
 *     none is kept: env->rcpts stays NULL (qmgr reads them in slices
 *     with qfile_read_pending, so memory does not grow with the count).
 *   qfile_read_pending(rd, env, &cursor, max, &rcpts, &n, err): read up
 *     to max pending ('R') recipients, with their O/o/n attributes, from
 *     record offset cursor on (0: from the start), skipping done ('D')
 *     ones and jumping over the content to env's tail_offset. The caller
 *     frees rcpts with qfile_rcpts_free(rcpts, n). Returns 1 when it
 *     stopped at max (cursor is then where the next call continues), 0
 *     at the end record (cursor unchanged), -1 with err on a bad or
 *     truncated file (a file that passed qfile_read_envelope does not
 *     fail here unless it changed in between). Recipients keep their
 *     record offsets for qfile_mark_done.
 *   qfile_envelope_free(env): NULL. qfile_envelope_attr(env, name): value
 *     of attribute name, or NULL.
 *   qfile_content_start(rd, env, err): position at env's content; 0 or -1.
 *   qfile_content_next(rd, piece, err): the next content record into piece
 *     (replacing its payload): QFILE_CONTENT_LINE for a line or the last
 *     piece of a long line, QFILE_CONTENT_PIECE for a piece that the next
 *     one continues (pieces are not joined, so memory stays bounded by
 *     max_record), QFILE_CONTENT_END after the last one, once the size
 *     and end offset agree with the header; -1 with err on damage.
 * Helpers:
 *   qfile_format_header(buf, size, header): the 95-byte header payload
 *     plus NUL; -1 when a value does not fit 15 digits or buf is short.
 *   qfile_parse_header(data, len, header): strict parse of that payload.
 *   qfile_type_name(type): a word naming a record type ("recipient").
 *
 * SECURITY: queue files may be written by less privileged processes
 *   (postdrop's maildrop files) or damaged by crashes and disks. The
 *   reader trusts nothing: every length is checked against the limit and
 *   the data actually present before anything is copied, every number is
 *   parsed with bounds, and every failure is an error return (the caller
 *   moves the file to corrupt/), never a fatal exit or a partial result.
 * LIMITS: payloads up to the caller's max_record (at most 2^28 - 1);
 *   lengths of at most 4 bytes; fixed numbers of 15 digits; attribute
 *   names of QFILE_ATTR_NAME_MAX bytes. Memory for an envelope grows with
 *   its records; callers bound the file size.
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include "htable.h"
#include "mem.h"
#include "msg.h"
#include "numparse.h"
#include "strbuf.h"
#include "strutil.h"
#include "stream.h"
#include "fileio.h"
#include "qfile.h"

#define QFILE_FIXED_MAX     999999999999999L    /* 15 digits */
#define QFILE_CACHE_SIZE    16384

/* Writer states: which segment the next record belongs to. */
enum qfile_wstate {
    QFILE_W_START = 0,                  /* nothing written */
    QFILE_W_ENVELOPE,
    QFILE_W_CONTENT,
    QFILE_W_EXTRACTED,
    QFILE_W_DONE
};

/* Bits for "seen once" records and pending recipient attributes. */
#define QFILE_SEEN_TIME     (1 << 0)
#define QFILE_SEEN_SENDER   (1 << 1)
#define QFILE_SEEN_ENVID    (1 << 2)
#define QFILE_SEEN_RET      (1 << 3)
#define QFILE_SEEN_WARN     (1 << 4)
#define QFILE_PEND_ORIG     (1 << 0)
#define QFILE_PEND_ORCPT    (1 << 1)
#define QFILE_PEND_NOTIFY   (1 << 2)

struct qfile_writer {
    stream *out;
    size_t  max_record;
    off_t   offset;                     /* bytes written so far */
    enum qfile_wstate state;
    int     seen;                       /* QFILE_SEEN_* */
    int     pending;                    /* QFILE_PEND_* */
    int     partial;                    /* last content record was 'L' */
    int     failed;                     /* sticky write error */
    qfile_header header;                /* values tracked for the end */
    htable *attr_names;
    strbuf *scratch;
    strbuf *error;
};

struct qfile_reader {
    int     fd;                         /* -1 for memory */
    const unsigned char *mem;
    size_t  mem_len;
    size_t  max_record;
    off_t   pos;
    unsigned char *cache;               /* fd only: file bytes */
    off_t   cache_off;
    size_t  cache_len;
    strbuf *payload;
    /* Content iteration. */
    int     content_active;
    int     content_partial;
    long    content_sum;
    long    content_expect;
    off_t   content_tail;
};

/* ------------------------------------------------------------ shared */

/* qfile_type_name: a word for a record type. */
const char *qfile_type_name(int type)
{
    switch (type) {
    case REC_TYPE_HEADER:
        return "header";
    case REC_TYPE_TIME:
        return "arrival time";
    case REC_TYPE_SENDER:
        return "sender";
    case REC_TYPE_ATTR:
        return "attribute";
    case REC_TYPE_ENVID:
        return "envelope id";
    case REC_TYPE_RET:
        return "DSN return";
    case REC_TYPE_WARN:
        return "warning time";
    case REC_TYPE_ORIG_RCPT:
        return "original recipient";
    case REC_TYPE_ORCPT:
        return "DSN original recipient";
    case REC_TYPE_NOTIFY:
        return "DSN notify";
    case REC_TYPE_RCPT:
        return "recipient";
    case REC_TYPE_DONE:
        return "done recipient";
    case REC_TYPE_MESSAGE:
        return "content start";
    case REC_TYPE_NORMAL:
        return "line";
    case REC_TYPE_PARTIAL:
        return "partial line";
    case REC_TYPE_EXTRACTED:
        return "extracted start";
    case REC_TYPE_END:
        return "end";
    default:
        return "unknown";
    }
}

/* qfile_known_type: 1 if type is a REC_TYPE_* code. */
static int qfile_known_type(int type)
{
    return type > 0 && type < 256 && strchr(REC_TYPE_ALL, type) != NULL;
}

/* qfile_in_set: 1 if type is one of the codes in set. */
static int qfile_in_set(int type, const char *set)
{
    return type > 0 && type < 256 && strchr(set, type) != NULL;
}

/* qfile_type_str: printable form of a type byte for messages. */
static const char *qfile_type_str(int type, char *buf, size_t size)
{
    if (type > 0x20 && type < 0x7f)
        (void) str_format(buf, size, "'%c'", type);
    else
        (void) str_format(buf, size, "0x%02x", (unsigned) type & 0xff);
    return buf;
}

/* qfile_digits: 1 if len > 0 bytes at s are all ASCII digits. */
static int qfile_digits(const char *s, size_t len)
{
    size_t  i;

    if (len == 0)
        return 0;
    for (i = 0; i < len; i++)
        if (s[i] < '0' || s[i] > '9')
            return 0;
    return 1;
}

/* qfile_fixed_parse: parse one fixed 15-digit number. */
static int qfile_fixed_parse(const char *s, long *value)
{
    if (!qfile_digits(s, QFILE_FIXED_WIDTH))
        return -1;
    return num_parse_long_n(s, QFILE_FIXED_WIDTH, 0, QFILE_FIXED_MAX, value);
}

/* qfile_format_header: render the fixed header payload. */
int qfile_format_header(char *buf, size_t size, const qfile_header *h)
{
    long    v[QFILE_HEADER_FIELDS];
    int     i;

    v[0] = h->version;
    v[1] = (long) h->content_offset;
    v[2] = (long) h->tail_offset;
    v[3] = h->content_size;
    v[4] = h->rcpt_count;
    v[5] = h->flags;
    for (i = 0; i < QFILE_HEADER_FIELDS; i++)
        if (v[i] < 0 || v[i] > QFILE_FIXED_MAX)
            return -1;
    return str_format(buf, size, "%015ld %015ld %015ld %015ld %015ld %015ld",
                      v[0], v[1], v[2], v[3], v[4], v[5]);
}

/* qfile_parse_header: strict parse of the fixed header payload. */
int qfile_parse_header(const char *data, size_t len, qfile_header *h)
{
    long    v[QFILE_HEADER_FIELDS];
    int     i;

    if (len != QFILE_HEADER_LEN)
        return -1;
    for (i = 0; i < QFILE_HEADER_FIELDS; i++) {
        const char *field = data + i * (QFILE_FIXED_WIDTH + 1);

        if (i > 0 && field[-1] != ' ')
            return -1;
        if (qfile_fixed_parse(field, &v[i]) < 0)
            return -1;
    }
    h->version = v[0];
    h->content_offset = (off_t) v[1];
    h->tail_offset = (off_t) v[2];
    h->content_size = v[3];
    h->rcpt_count = v[4];
    h->flags = v[5];
    return 0;
}

/* qfile_text_ok: 1 if a text field has no NUL, CR or LF. */
static int qfile_text_ok(const char *s, size_t len)
{
    size_t  i;

    for (i = 0; i < len; i++)
        if (s[i] == 0 || s[i] == '\r' || s[i] == '\n')
            return 0;
    return 1;
}

/* qfile_attr_name_len: length of the name in "name=value", or 0 if bad. */
static size_t qfile_attr_name_len(const char *s, size_t len)
{
    size_t  i;

    for (i = 0; i < len && i <= QFILE_ATTR_NAME_MAX; i++) {
        char    c = s[i];

        if (c == '=')
            return i;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
              || (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.'))
            return 0;
    }
    return 0;
}

/* qfile_notify_ok: decode a NOTIFY payload; -1 when malformed. */
static int qfile_notify_parse(const char *s, size_t len, int *notify)
{
    long    v;

    if (!qfile_digits(s, len) || s[0] == '0'
        || num_parse_long_n(s, len, 1, 15, &v) < 0)
        return -1;
    if ((v & QFILE_NOTIFY_NEVER) && v != QFILE_NOTIFY_NEVER)
        return -1;
    *notify = (int) v;
    return 0;
}

/* qfile_time_parse: decode "sec usec"; -1 when malformed. */
static int qfile_time_parse(const char *s, size_t len, long *sec, long *usec)
{
    const char *sp = memchr(s, ' ', len);
    size_t  n1, n2;

    if (sp == NULL)
        return -1;
    n1 = (size_t) (sp - s);
    n2 = len - n1 - 1;
    if (!qfile_digits(s, n1) || !qfile_digits(sp + 1, n2))
        return -1;
    if (num_parse_long_n(s, n1, 0, LONG_MAX, sec) < 0
        || num_parse_long_n(sp + 1, n2, 0, 999999, usec) < 0)
        return -1;
    return 0;
}

/*
 * qfile_check_payload: the per-type payload rules of qfile.h; returns 0,
 * or -1 with *why set. Used by the writer and the reader alike.
 */
static int qfile_check_payload(int type, const char *data, size_t len,
                               const char **why)
{
    long    l1, l2;
    int     n;
    qfile_header h;

    switch (type) {
    case REC_TYPE_HEADER:
        if (qfile_parse_header(data, len, &h) < 0) {
            *why = "header fields are not six 15-digit numbers";
            return -1;
        }
        return 0;
    case REC_TYPE_TIME:
        if (qfile_time_parse(data, len, &l1, &l2) < 0) {
            *why = "arrival time is not \"seconds microseconds\"";
            return -1;
        }
        return 0;
    case REC_TYPE_SENDER:
    case REC_TYPE_ORIG_RCPT:
        if (!qfile_text_ok(data, len)) {
            *why = "address contains NUL, CR or LF";
            return -1;
        }
        return 0;
    case REC_TYPE_RCPT:
    case REC_TYPE_DONE:
        if (len == 0) {
            *why = "empty recipient address";
            return -1;
        }
        if (!qfile_text_ok(data, len)) {
            *why = "address contains NUL, CR or LF";
            return -1;
        }
        return 0;
    case REC_TYPE_ATTR:
        if (qfile_attr_name_len(data, len) == 0) {
            *why = "attribute is not name=value with a valid name";
            return -1;
        }
        if (memchr(data, 0, len) != NULL) {
            *why = "attribute value contains NUL";
            return -1;
        }
        return 0;
    case REC_TYPE_ENVID:
        if (len == 0 || !qfile_text_ok(data, len)) {
            *why = "envelope id is empty or contains NUL, CR or LF";
            return -1;
        }
        return 0;
    case REC_TYPE_ORCPT:
        if (len == 0 || !qfile_text_ok(data, len) || memchr(data, ';', len) == NULL
            || data[0] == ';') {
            *why = "ORCPT is not \"type;address\" without NUL, CR or LF";
            return -1;
        }
        return 0;
    case REC_TYPE_RET:
        if (!((len == 4 && memcmp(data, "FULL", 4) == 0)
              || (len == 4 && memcmp(data, "HDRS", 4) == 0))) {
            *why = "RET is not FULL or HDRS";
            return -1;
        }
        return 0;
    case REC_TYPE_WARN:
        if (len != QFILE_FIXED_WIDTH || qfile_fixed_parse(data, &l1) < 0) {
            *why = "warning time is not a 15-digit number";
            return -1;
        }
        return 0;
    case REC_TYPE_NOTIFY:
        if (qfile_notify_parse(data, len, &n) < 0) {
            *why = "NOTIFY is not a valid flag number";
            return -1;
        }
        return 0;
    case REC_TYPE_MESSAGE:
    case REC_TYPE_EXTRACTED:
    case REC_TYPE_END:
        if (len != 0) {
            *why = "marker record has a payload";
            return -1;
        }
        return 0;
    case REC_TYPE_NORMAL:
    case REC_TYPE_PARTIAL:
        return 0;
    default:
        *why = "unknown record type";
        return -1;
    }
}

/* qfile_set_err: "offset N: text" into err (err may be NULL); returns -1. */
static int qfile_set_err(strbuf *err, off_t offset, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int qfile_set_err(strbuf *err, off_t offset, const char *fmt, ...)
{
    va_list ap;

    if (err == NULL)
        return -1;
    strbuf_reset(err);
    (void) strbuf_printf(err, "offset %lld: ", (long long) offset);
    va_start(ap, fmt);
    (void) strbuf_vprintf(err, fmt, ap);
    va_end(ap);
    return -1;
}

/* ------------------------------------------------------------ writer */

/* qfile_writer_new: writer on a stream at the start of an empty file. */
qfile_writer *qfile_writer_new(stream *out, size_t max_record)
{
    qfile_writer *w;

    if (max_record < QFILE_RECORD_MIN || max_record > (size_t) QFILE_LEN_MAX)
        msg_panic("qfile_writer_new: bad record limit %zu", max_record);
    w = mem_calloc(1, sizeof(*w));
    w->out = out;
    w->max_record = max_record;
    w->state = QFILE_W_START;
    w->header.version = QFILE_VERSION;
    w->attr_names = htable_new(16);
    w->scratch = strbuf_new(256);
    w->error = strbuf_new(64);
    return w;
}

/* qfile_writer_free: destroy a writer; returns NULL. */
qfile_writer *qfile_writer_free(qfile_writer *w)
{
    if (w) {
        htable_free(w->attr_names, NULL);
        strbuf_free(w->scratch);
        strbuf_free(w->error);
        mem_free(w);
    }
    return NULL;
}

/* qfile_writer_error: the last failure, or NULL. */
const char *qfile_writer_error(const qfile_writer *w)
{
    return w->error->len ? w->error->data : NULL;
}

/* qfile_writer_offset: where the next record goes. */
off_t qfile_writer_offset(const qfile_writer *w)
{
    return w->offset;
}

/* qfile_writer_fail: record a data error; returns -1. */
static int qfile_writer_fail(qfile_writer *w, int type, const char *why)
{
    strbuf_reset(w->error);
    (void) strbuf_printf(w->error, "%s record: %s", qfile_type_name(type), why);
    return -1;
}

/* qfile_write_raw: type, length and payload to the stream. */
static int qfile_write_raw(qfile_writer *w, int type, const void *data, size_t len)
{
    unsigned char hdr[5];
    size_t  n = 0;
    size_t  v = len;

    hdr[n++] = (unsigned char) type;
    do {
        hdr[n] = (unsigned char) (v & 0x7f);
        v >>= 7;
        if (v)
            hdr[n] |= 0x80;
        n++;
    } while (v);
    if (stream_write(w->out, hdr, n) < 0
        || (len > 0 && stream_write(w->out, data, len) < 0)) {
        w->failed = 1;
        strbuf_reset(w->error);
        (void) strbuf_printf(w->error, "write error: %s", strerror(errno));
        return -1;
    }
    w->offset += (off_t) (n + len);
    return 0;
}

/* qfile_writer_order: panic unless type may come next; update state. */
static void qfile_writer_order(qfile_writer *w, int type)
{
    char    tb[8];
    int     bit = 0;

    if (!qfile_known_type(type))
        msg_panic("qfile_put: unknown record type %s", qfile_type_str(type, tb, sizeof(tb)));
    switch (w->state) {
    case QFILE_W_START:
        if (type != REC_TYPE_HEADER)
            msg_panic("qfile_put: record %s before the header",
                      qfile_type_str(type, tb, sizeof(tb)));
        break;
    case QFILE_W_ENVELOPE:
        if (type == REC_TYPE_MESSAGE) {
            if ((w->seen & (QFILE_SEEN_TIME | QFILE_SEEN_SENDER))
                != (QFILE_SEEN_TIME | QFILE_SEEN_SENDER))
                msg_panic("qfile_put: content before arrival time and sender");
            break;
        }
        if (!qfile_in_set(type, REC_TYPE_ENVELOPE_SET))
            msg_panic("qfile_put: record %s in envelope segment",
                      qfile_type_str(type, tb, sizeof(tb)));
        break;
    case QFILE_W_CONTENT:
        if (type != REC_TYPE_EXTRACTED && !qfile_in_set(type, REC_TYPE_CONTENT_SET))
            msg_panic("qfile_put: record %s in content segment",
                      qfile_type_str(type, tb, sizeof(tb)));
        if (type == REC_TYPE_EXTRACTED && w->partial)
            msg_panic("qfile_put: partial line not finished");
        break;
    case QFILE_W_EXTRACTED:
        if (!qfile_in_set(type, REC_TYPE_EXTRACTED_SET))
            msg_panic("qfile_put: record %s in extracted segment",
                      qfile_type_str(type, tb, sizeof(tb)));
        break;
    case QFILE_W_DONE:
        msg_panic("qfile_put: record after the end");
    }
    switch (type) {
    case REC_TYPE_TIME:
        bit = QFILE_SEEN_TIME;
        break;
    case REC_TYPE_SENDER:
        bit = QFILE_SEEN_SENDER;
        break;
    case REC_TYPE_ENVID:
        bit = QFILE_SEEN_ENVID;
        break;
    case REC_TYPE_RET:
        bit = QFILE_SEEN_RET;
        break;
    case REC_TYPE_WARN:
        bit = QFILE_SEEN_WARN;
        break;
    }
    if (bit && (w->seen & bit))
        msg_panic("qfile_put: second %s record", qfile_type_name(type));
    bit = type == REC_TYPE_ORIG_RCPT ? QFILE_PEND_ORIG
        : type == REC_TYPE_ORCPT ? QFILE_PEND_ORCPT
        : type == REC_TYPE_NOTIFY ? QFILE_PEND_NOTIFY : 0;
    if (bit && (w->pending & bit))
        msg_panic("qfile_put: second %s record for one recipient",
                  qfile_type_name(type));
    if (w->pending && !bit && type != REC_TYPE_RCPT && type != REC_TYPE_DONE)
        msg_panic("qfile_put: %s record between recipient attributes and "
                  "their recipient", qfile_type_name(type));
}

/* qfile_writer_account: update state and totals after a record. */
static void qfile_writer_account(qfile_writer *w, int type, off_t offset,
                                 size_t len)
{
    switch (type) {
    case REC_TYPE_HEADER:
        w->state = QFILE_W_ENVELOPE;
        break;
    case REC_TYPE_TIME:
        w->seen |= QFILE_SEEN_TIME;
        break;
    case REC_TYPE_SENDER:
        w->seen |= QFILE_SEEN_SENDER;
        break;
    case REC_TYPE_ENVID:
        w->seen |= QFILE_SEEN_ENVID;
        break;
    case REC_TYPE_RET:
        w->seen |= QFILE_SEEN_RET;
        break;
    case REC_TYPE_WARN:
        w->seen |= QFILE_SEEN_WARN;
        break;
    case REC_TYPE_ORIG_RCPT:
        w->pending |= QFILE_PEND_ORIG;
        break;
    case REC_TYPE_ORCPT:
        w->pending |= QFILE_PEND_ORCPT;
        break;
    case REC_TYPE_NOTIFY:
        w->pending |= QFILE_PEND_NOTIFY;
        break;
    case REC_TYPE_RCPT:
    case REC_TYPE_DONE:
        w->pending = 0;
        w->header.rcpt_count++;
        break;
    case REC_TYPE_MESSAGE:
        w->state = QFILE_W_CONTENT;
        w->header.content_offset = offset;
        break;
    case REC_TYPE_NORMAL:
        w->header.content_size += (long) len + 1;
        w->partial = 0;
        break;
    case REC_TYPE_PARTIAL:
        w->header.content_size += (long) len;
        w->partial = 1;
        break;
    case REC_TYPE_EXTRACTED:
        w->state = QFILE_W_EXTRACTED;
        w->header.tail_offset = offset;
        break;
    }
}

/* qfile_put: write one record (see the contract above). */
int qfile_put(qfile_writer *w, int type, const void *data, size_t len)
{
    const char *why;
    off_t   offset = w->offset;

    if (w->failed)
        return -1;
    if (type == REC_TYPE_END)
        msg_panic("qfile_put: use qfile_finish to end the file");
    qfile_writer_order(w, type);
    if (len > w->max_record)
        return qfile_writer_fail(w, type, "payload longer than the record limit");
    if (qfile_check_payload(type, (const char *) data, len, &why) < 0)
        return qfile_writer_fail(w, type, why);
    if (type == REC_TYPE_ATTR) {
        size_t  nlen = qfile_attr_name_len((const char *) data, len);
        char   *name = mem_strndup((const char *) data, nlen);

        if (htable_has(w->attr_names, name)) {
            mem_free(name);
            return qfile_writer_fail(w, type, "duplicate attribute name");
        }
        htable_put(w->attr_names, name, NULL);
        mem_free(name);
    }
    if (qfile_write_raw(w, type, data, len) < 0)
        return -1;
    qfile_writer_account(w, type, offset, len);
    return 0;
}

/* qfile_printf: write one record with formatted payload. */
int qfile_printf(qfile_writer *w, int type, const char *fmt, ...)
{
    va_list ap;

    strbuf_reset(w->scratch);
    va_start(ap, fmt);
    (void) strbuf_vprintf(w->scratch, fmt, ap);
    va_end(ap);
    return qfile_put(w, type, w->scratch->data, w->scratch->len);
}

/* qfile_put_header: the header record with placeholder values. */
int qfile_put_header(qfile_writer *w, long flags)
{
    qfile_header h;
    char    buf[QFILE_HEADER_LEN + 1];

    if (flags & ~(long) QFILE_FLAG_MASK)
        msg_panic("qfile_put_header: unknown flags 0x%lx", (unsigned long) flags);
    memset(&h, 0, sizeof(h));
    h.version = QFILE_VERSION;
    h.flags = flags;
    if (qfile_format_header(buf, sizeof(buf), &h) < 0)
        msg_panic("qfile_put_header: cannot format header");
    if (qfile_put(w, REC_TYPE_HEADER, buf, QFILE_HEADER_LEN) < 0)
        return -1;
    w->header.flags = flags;
    return 0;
}

/* qfile_put_time: the arrival time record. */
int qfile_put_time(qfile_writer *w, long sec, long usec)
{
    if (sec < 0 || usec < 0 || usec > 999999)
        return qfile_writer_fail(w, REC_TYPE_TIME, "time out of range");
    return qfile_printf(w, REC_TYPE_TIME, "%ld %ld", sec, usec);
}

/* qfile_put_sender: the sender record ("" = null sender). */
int qfile_put_sender(qfile_writer *w, const char *sender)
{
    return qfile_put(w, REC_TYPE_SENDER, sender, strlen(sender));
}

/* qfile_put_attr: one name=value attribute. */
int qfile_put_attr(qfile_writer *w, const char *name, const char *value)
{
    size_t  nlen = strlen(name);

    /* A '=' in the name would move the split point: refuse it. */
    if (strchr(name, '=') != NULL || nlen == 0 || nlen > QFILE_ATTR_NAME_MAX)
        return qfile_writer_fail(w, REC_TYPE_ATTR, "attribute is not name=value "
                                 "with a valid name");
    return qfile_printf(w, REC_TYPE_ATTR, "%s=%s", name, value);
}

/* qfile_put_envid: the DSN ENVID record. */
int qfile_put_envid(qfile_writer *w, const char *envid)
{
    return qfile_put(w, REC_TYPE_ENVID, envid, strlen(envid));
}

/* qfile_put_ret: the DSN RET record. */
int qfile_put_ret(qfile_writer *w, enum qfile_ret ret)
{
    if (ret == QFILE_RET_FULL)
        return qfile_put(w, REC_TYPE_RET, "FULL", 4);
    if (ret == QFILE_RET_HDRS)
        return qfile_put(w, REC_TYPE_RET, "HDRS", 4);
    msg_panic("qfile_put_ret: bad value %d", (int) ret);
}

/* qfile_put_warn: the fixed-width delay warning time record. */
int qfile_put_warn(qfile_writer *w, long when)
{
    if (when < 0 || when > QFILE_FIXED_MAX)
        return qfile_writer_fail(w, REC_TYPE_WARN, "time out of range");
    return qfile_printf(w, REC_TYPE_WARN, "%015ld", when);
}

/* qfile_put_rcpt: one recipient group, checked before writing. */
int qfile_put_rcpt(qfile_writer *w, const char *address, const char *orig,
                   const char *orcpt, int notify)
{
    const char *why;
    char    nbuf[8];
    int     dummy;

    if (w->failed)
        return -1;
    if (strlen(address) > w->max_record
        || (orig && strlen(orig) > w->max_record)
        || (orcpt && strlen(orcpt) > w->max_record))
        return qfile_writer_fail(w, REC_TYPE_RCPT,
                                 "payload longer than the record limit");
    if (qfile_check_payload(REC_TYPE_RCPT, address, strlen(address), &why) < 0)
        return qfile_writer_fail(w, REC_TYPE_RCPT, why);
    if (orig && qfile_check_payload(REC_TYPE_ORIG_RCPT, orig, strlen(orig), &why) < 0)
        return qfile_writer_fail(w, REC_TYPE_ORIG_RCPT, why);
    if (orcpt && qfile_check_payload(REC_TYPE_ORCPT, orcpt, strlen(orcpt), &why) < 0)
        return qfile_writer_fail(w, REC_TYPE_ORCPT, why);
    if (notify != 0) {
        if (str_format(nbuf, sizeof(nbuf), "%d", notify) < 0
            || qfile_notify_parse(nbuf, strlen(nbuf), &dummy) < 0)
            return qfile_writer_fail(w, REC_TYPE_NOTIFY, "bad NOTIFY flags");
    }
    if (orig && qfile_put(w, REC_TYPE_ORIG_RCPT, orig, strlen(orig)) < 0)
        return -1;
    if (orcpt && qfile_put(w, REC_TYPE_ORCPT, orcpt, strlen(orcpt)) < 0)
        return -1;
    if (notify != 0 && qfile_put(w, REC_TYPE_NOTIFY, nbuf, strlen(nbuf)) < 0)
        return -1;
    return qfile_put(w, REC_TYPE_RCPT, address, strlen(address));
}

/* qfile_put_content_start: the 'M' record. */
int qfile_put_content_start(qfile_writer *w)
{
    return qfile_put(w, REC_TYPE_MESSAGE, "", 0);
}

/* qfile_put_line: one content line, split into pieces of piece_max. */
int qfile_put_line(qfile_writer *w, const char *line, size_t len, size_t piece_max)
{
    if (piece_max == 0)
        piece_max = w->max_record;
    if (piece_max > w->max_record)
        msg_panic("qfile_put_line: piece size %zu above the record limit %zu",
                  piece_max, w->max_record);
    while (len > piece_max) {
        if (qfile_put(w, REC_TYPE_PARTIAL, line, piece_max) < 0)
            return -1;
        line += piece_max;
        len -= piece_max;
    }
    return qfile_put(w, REC_TYPE_NORMAL, line, len);
}

/* qfile_put_text: content given as LF-separated text. */
int qfile_put_text(qfile_writer *w, const char *text, size_t len, size_t piece_max)
{
    while (len > 0) {
        const char *nl = memchr(text, '\n', len);
        size_t  llen = nl ? (size_t) (nl - text) : len;

        if (qfile_put_line(w, text, llen, piece_max) < 0)
            return -1;
        text += llen + (nl ? 1 : 0);
        len -= llen + (nl ? 1 : 0);
    }
    return 0;
}

/* qfile_put_extracted: the 'X' record. */
int qfile_put_extracted(qfile_writer *w)
{
    return qfile_put(w, REC_TYPE_EXTRACTED, "", 0);
}

/* qfile_finish: end record, flush, and the final header values. */
int qfile_finish(qfile_writer *w, qfile_header *header)
{
    off_t   offset = w->offset;

    if (w->failed)
        return -1;
    if (w->state != QFILE_W_CONTENT && w->state != QFILE_W_EXTRACTED)
        msg_panic("qfile_finish: file has no content segment");
    if (w->partial)
        msg_panic("qfile_finish: partial line not finished");
    if (w->pending)
        msg_panic("qfile_finish: recipient attributes without recipient");
    if (w->header.rcpt_count == 0)
        return qfile_writer_fail(w, REC_TYPE_END, "no recipients");
    if (w->state == QFILE_W_CONTENT)
        w->header.tail_offset = offset;
    if ((long) w->offset > QFILE_FIXED_MAX || w->header.content_size > QFILE_FIXED_MAX)
        return qfile_writer_fail(w, REC_TYPE_END, "file too large for the header");
    if (qfile_write_raw(w, REC_TYPE_END, "", 0) < 0)
        return -1;
    w->state = QFILE_W_DONE;
    if (stream_flush(w->out) < 0) {
        w->failed = 1;
        strbuf_reset(w->error);
        (void) strbuf_printf(w->error, "write error: %s", strerror(errno));
        return -1;
    }
    if (header)
        *header = w->header;
    return 0;
}

/* ------------------------------------------------------------ in place */

/* qfile_update_header: rewrite the header fields in place. */
int qfile_update_header(int fd, const qfile_header *header)
{
    unsigned char hdr[2];
    char    buf[QFILE_HEADER_LEN + 1];

    if (qfile_format_header(buf, sizeof(buf), header) < 0) {
        errno = EINVAL;
        return -1;
    }
    if (fileio_pread_full(fd, hdr, 2, 0) < 0)
        return -1;
    if (hdr[0] != REC_TYPE_HEADER || hdr[1] != QFILE_HEADER_LEN) {
        errno = EINVAL;
        return -1;
    }
    return fileio_pwrite_full(fd, buf, QFILE_HEADER_LEN, QFILE_HEADER_OFFSET);
}

/* qfile_mark_done: turn a recipient record into a done one. */
int qfile_mark_done(int fd, off_t rcpt_offset)
{
    unsigned char type;
    unsigned char done = REC_TYPE_DONE;

    if (rcpt_offset <= 0) {
        errno = EINVAL;
        return -1;
    }
    if (fileio_pread_full(fd, &type, 1, rcpt_offset) < 0)
        return -1;
    if (type == REC_TYPE_DONE)
        return 0;
    if (type != REC_TYPE_RCPT) {
        errno = EINVAL;
        return -1;
    }
    return fileio_pwrite_full(fd, &done, 1, rcpt_offset);
}

/* qfile_update_warn: rewrite the time of a 'W' record. */
int qfile_update_warn(int fd, off_t warn_offset, long when)
{
    unsigned char hdr[2];
    char    buf[QFILE_FIXED_WIDTH + 1];

    if (warn_offset <= 0 || when < 0 || when > QFILE_FIXED_MAX
        || str_format(buf, sizeof(buf), "%015ld", when) < 0) {
        errno = EINVAL;
        return -1;
    }
    if (fileio_pread_full(fd, hdr, 2, warn_offset) < 0)
        return -1;
    if (hdr[0] != REC_TYPE_WARN || hdr[1] != QFILE_FIXED_WIDTH) {
        errno = EINVAL;
        return -1;
    }
    return fileio_pwrite_full(fd, buf, QFILE_FIXED_WIDTH, warn_offset + 2);
}

/* ------------------------------------------------------------ reader */

/* qfile_reader_new: common part of the reader constructors. */
static qfile_reader *qfile_reader_new(size_t max_record)
{
    qfile_reader *rd;

    if (max_record < QFILE_RECORD_MIN || max_record > (size_t) QFILE_LEN_MAX)
        msg_panic("qfile_reader: bad record limit %zu", max_record);
    rd = mem_calloc(1, sizeof(*rd));
    rd->fd = -1;
    rd->max_record = max_record;
    rd->payload = strbuf_new(256);
    return rd;
}

/* qfile_reader_fd: reader on a file descriptor. */
qfile_reader *qfile_reader_fd(int fd, size_t max_record)
{
    qfile_reader *rd = qfile_reader_new(max_record);

    if (fd < 0)
        msg_panic("qfile_reader_fd: bad descriptor %d", fd);
    rd->fd = fd;
    rd->cache = mem_alloc(QFILE_CACHE_SIZE);
    return rd;
}

/* qfile_reader_mem: reader on a memory buffer. */
qfile_reader *qfile_reader_mem(const void *data, size_t len, size_t max_record)
{
    qfile_reader *rd = qfile_reader_new(max_record);

    rd->mem = data;
    rd->mem_len = len;
    return rd;
}

/* qfile_reader_free: destroy a reader; returns NULL. */
qfile_reader *qfile_reader_free(qfile_reader *rd)
{
    if (rd) {
        strbuf_free(rd->payload);
        mem_free(rd->cache);
        mem_free(rd);
    }
    return NULL;
}

/*
 * qfile_reader_seek: set the position of the next read. It also drops
 * cached file bytes, so a parse that starts with a seek sees in-place
 * updates made since the last one.
 */
void qfile_reader_seek(qfile_reader *rd, off_t offset)
{
    rd->pos = offset < 0 ? 0 : offset;
    rd->cache_off = 0;
    rd->cache_len = 0;
}

/* qfile_reader_offset: position of the next read. */
off_t qfile_reader_offset(const qfile_reader *rd)
{
    return rd->pos;
}

/*
 * qfile_reader_get: copy up to len file bytes at pos to dst (or append
 * them to sb when dst is NULL). Returns the count (short at end of file),
 * or -1 on a read error (errno set).
 */
static ssize_t qfile_reader_get(qfile_reader *rd, off_t pos, void *dst,
                                strbuf *sb, size_t len)
{
    size_t  done = 0;

    if (rd->fd < 0) {
        size_t  avail;

        if (pos < 0 || (uintmax_t) pos >= rd->mem_len)
            return 0;
        avail = rd->mem_len - (size_t) pos;
        if (len > avail)
            len = avail;
        if (dst)
            memcpy(dst, rd->mem + pos, len);
        else if (strbuf_append(sb, rd->mem + pos, len) < 0)
            msg_panic("qfile_reader_get: payload buffer limit");
        return (ssize_t) len;
    }
    while (done < len) {
        off_t   at = pos + (off_t) done;
        size_t  take;

        if (at < rd->cache_off || at >= rd->cache_off + (off_t) rd->cache_len) {
            ssize_t n;

            do {
                n = pread(rd->fd, rd->cache, QFILE_CACHE_SIZE, at);
            } while (n < 0 && errno == EINTR);
            if (n < 0)
                return -1;
            rd->cache_off = at;
            rd->cache_len = (size_t) n;
            if (n == 0)
                break;
        }
        take = rd->cache_len - (size_t) (at - rd->cache_off);
        if (take > len - done)
            take = len - done;
        if (dst)
            memcpy((char *) dst + done, rd->cache + (at - rd->cache_off), take);
        else if (strbuf_append(sb, rd->cache + (at - rd->cache_off), take) < 0)
            msg_panic("qfile_reader_get: payload buffer limit");
        done += take;
    }
    return (ssize_t) done;
}

/* qfile_read_record: the next record (see the contract above). */
int qfile_read_record(qfile_reader *rd, qfile_record *rec, strbuf *err)
{
    unsigned char hdr[5];
    off_t   start = rd->pos;
    ssize_t got;
    size_t  len = 0;
    size_t  i;
    char    tb[8];

    got = qfile_reader_get(rd, start, hdr, NULL, sizeof(hdr));
    if (got < 0)
        return qfile_set_err(err, start, "read error: %s", strerror(errno));
    if (got == 0)
        return 0;
    if (!qfile_known_type(hdr[0]))
        return qfile_set_err(err, start, "unknown record type %s",
                             qfile_type_str(hdr[0], tb, sizeof(tb)));
    for (i = 1;; i++) {
        if (i >= (size_t) got)
            return qfile_set_err(err, start, "truncated record (in the length)");
        len |= (size_t) (hdr[i] & 0x7f) << (7 * (i - 1));
        if ((hdr[i] & 0x80) == 0) {
            if (i > 1 && hdr[i] == 0)
                return qfile_set_err(err, start, "bad length encoding "
                                     "(not in the shortest form)");
            break;
        }
        if (i == 4)
            return qfile_set_err(err, start, "bad length encoding "
                                 "(longer than 4 bytes)");
    }
    if (len > rd->max_record)
        return qfile_set_err(err, start, "record length %zu exceeds the limit %zu",
                             len, rd->max_record);
    strbuf_reset(rd->payload);
    got = qfile_reader_get(rd, start + 1 + (off_t) i, NULL, rd->payload, len);
    if (got < 0)
        return qfile_set_err(err, start, "read error: %s", strerror(errno));
    if ((size_t) got < len)
        return qfile_set_err(err, start, "truncated record (%zu of %zu payload "
                             "bytes)", (size_t) got, len);
    rec->type = hdr[0];
    rec->offset = start;
    rec->data = rd->payload->data;
    rec->len = len;
    rd->pos = start + 1 + (off_t) i + (off_t) len;
    return 1;
}

/* qfile_envelope_free: destroy an envelope; returns NULL. */
qfile_envelope *qfile_envelope_free(qfile_envelope *env)
{
    size_t  i;

    if (env == NULL)
        return NULL;
    mem_free(env->sender);
    mem_free(env->envid);
    for (i = 0; i < env->nattrs; i++) {
        mem_free(env->attrs[i].name);
        mem_free(env->attrs[i].value);
    }
    mem_free(env->attrs);
    for (i = 0; env->rcpts != NULL && i < env->nrcpts; i++) {
        mem_free(env->rcpts[i].address);
        mem_free(env->rcpts[i].orig);
        mem_free(env->rcpts[i].orcpt);
    }
    mem_free(env->rcpts);
    mem_free(env);
    return NULL;
}

/* qfile_envelope_attr: value of a named attribute, or NULL. */
const char *qfile_envelope_attr(const qfile_envelope *env, const char *name)
{
    size_t  i;

    for (i = 0; i < env->nattrs; i++)
        if (strcmp(env->attrs[i].name, name) == 0)
            return env->attrs[i].value;
    return NULL;
}

/* Envelope parser state. */
struct qfile_eparse {
    qfile_envelope *env;
    strbuf *err;
    htable *attr_names;
    size_t  rcpt_cap;
    size_t  attr_cap;
    int     seen;                       /* QFILE_SEEN_* */
    int     pending;                    /* QFILE_PEND_* */
    char   *orig;                       /* pending recipient attributes */
    char   *orcpt;
    int     notify;
    int     count_only;                 /* QFILE_ENV_COUNT_RCPTS */
};

/* qfile_eparse_record: take one envelope or extracted record. */
static int qfile_eparse_record(struct qfile_eparse *p, const qfile_record *rec,
                               int extracted)
{
    qfile_envelope *env = p->env;
    int     bit = 0;
    int     pend = 0;
    const char *why;

    if (qfile_check_payload(rec->type, rec->data, rec->len, &why) < 0)
        return qfile_set_err(p->err, rec->offset, "bad %s record: %s",
                             qfile_type_name(rec->type), why);
    switch (rec->type) {
    case REC_TYPE_TIME:
        bit = QFILE_SEEN_TIME;
        break;
    case REC_TYPE_SENDER:
        bit = QFILE_SEEN_SENDER;
        break;
    case REC_TYPE_ENVID:
        bit = QFILE_SEEN_ENVID;
        break;
    case REC_TYPE_RET:
        bit = QFILE_SEEN_RET;
        break;
    case REC_TYPE_WARN:
        bit = QFILE_SEEN_WARN;
        break;
    case REC_TYPE_ORIG_RCPT:
        pend = QFILE_PEND_ORIG;
        break;
    case REC_TYPE_ORCPT:
        pend = QFILE_PEND_ORCPT;
        break;
    case REC_TYPE_NOTIFY:
        pend = QFILE_PEND_NOTIFY;
        break;
    }
    if (bit && (p->seen & bit))
        return qfile_set_err(p->err, rec->offset, "second %s record",
                             qfile_type_name(rec->type));
    p->seen |= bit;
    if (pend && (p->pending & pend))
        return qfile_set_err(p->err, rec->offset, "second %s record for one "
                             "recipient", qfile_type_name(rec->type));
    p->pending |= pend;
    if (p->pending && !pend && rec->type != REC_TYPE_RCPT
        && rec->type != REC_TYPE_DONE)
        return qfile_set_err(p->err, rec->offset, "%s record between recipient "
                             "attributes and their recipient",
                             qfile_type_name(rec->type));

    switch (rec->type) {
    case REC_TYPE_TIME:
        (void) qfile_time_parse(rec->data, rec->len, &env->arrival_sec,
                                &env->arrival_usec);
        break;
    case REC_TYPE_SENDER:
        env->sender = mem_memdup(rec->data, rec->len);
        break;
    case REC_TYPE_ENVID:
        env->envid = mem_memdup(rec->data, rec->len);
        break;
    case REC_TYPE_RET:
        env->ret = rec->data[0] == 'F' ? QFILE_RET_FULL : QFILE_RET_HDRS;
        break;
    case REC_TYPE_WARN:
        (void) qfile_fixed_parse(rec->data, &env->warn_time);
        env->warn_offset = rec->offset;
        break;
    case REC_TYPE_ORIG_RCPT:
        p->orig = mem_memdup(rec->data, rec->len);
        break;
    case REC_TYPE_ORCPT:
        p->orcpt = mem_memdup(rec->data, rec->len);
        break;
    case REC_TYPE_NOTIFY:
        (void) qfile_notify_parse(rec->data, rec->len, &p->notify);
        break;
    case REC_TYPE_ATTR:{
            size_t  nlen = qfile_attr_name_len(rec->data, rec->len);
            char   *name = mem_strndup(rec->data, nlen);
            qfile_attr *a;

            if (htable_has(p->attr_names, name)) {
                qfile_set_err(p->err, rec->offset, "duplicate attribute \"%s\"", name);
                mem_free(name);
                return -1;
            }
            htable_put(p->attr_names, name, NULL);
            if (env->nattrs == p->attr_cap) {
                p->attr_cap = p->attr_cap ? p->attr_cap * 2 : 8;
                env->attrs = mem_realloc(env->attrs, p->attr_cap * sizeof(*env->attrs));
            }
            a = &env->attrs[env->nattrs++];
            a->name = name;
            a->value = mem_memdup(rec->data + nlen + 1, rec->len - nlen - 1);
            break;
        }
    case REC_TYPE_RCPT:
    case REC_TYPE_DONE:{
            qfile_rcpt *r;

            if (p->count_only) {
                env->nrcpts++;
                if (rec->type == REC_TYPE_DONE)
                    env->ndone++;
                p->orig = mem_free(p->orig);
                p->orcpt = mem_free(p->orcpt);
                p->notify = 0;
                p->pending = 0;
                break;
            }
            if (env->nrcpts == p->rcpt_cap) {
                p->rcpt_cap = p->rcpt_cap ? p->rcpt_cap * 2 : 8;
                env->rcpts = mem_realloc(env->rcpts, p->rcpt_cap * sizeof(*env->rcpts));
            }
            r = &env->rcpts[env->nrcpts++];
            r->address = mem_memdup(rec->data, rec->len);
            r->orig = p->orig;
            r->orcpt = p->orcpt;
            r->notify = p->notify;
            r->offset = rec->offset;
            r->done = rec->type == REC_TYPE_DONE;
            r->extracted = extracted;
            if (r->done)
                env->ndone++;
            p->orig = p->orcpt = NULL;
            p->notify = 0;
            p->pending = 0;
            break;
        }
    }
    return 0;
}

/* qfile_eparse_group_done: error if recipient attributes are pending. */
static int qfile_eparse_group_done(struct qfile_eparse *p, off_t offset)
{
    if (p->pending)
        return qfile_set_err(p->err, offset, "recipient attributes without a "
                             "recipient record");
    return 0;
}

/* Segments of the envelope parse. */
enum qfile_seg {
    QFILE_SEG_ENVELOPE,
    QFILE_SEG_CONTENT,
    QFILE_SEG_TAIL,                     /* after a skipped content: X or E */
    QFILE_SEG_EXTRACTED,
    QFILE_SEG_END
};

/* qfile_seg_name: segment name for messages. */
static const char *qfile_seg_name(enum qfile_seg seg)
{
    switch (seg) {
    case QFILE_SEG_ENVELOPE:
        return "envelope";
    case QFILE_SEG_CONTENT:
    case QFILE_SEG_TAIL:
        return "content";
    case QFILE_SEG_EXTRACTED:
        return "extracted";
    default:
        return "end";
    }
}

/* qfile_check_content_end: content end offset and size against header. */
static int qfile_check_content_end(strbuf *err, off_t offset, int partial,
                                   const qfile_header *h, long size)
{
    if (partial)
        return qfile_set_err(err, offset, "partial line not continued at the end "
                             "of the content");
    if (offset != h->tail_offset)
        return qfile_set_err(err, offset, "content ends here but the header says "
                             "offset %lld", (long long) h->tail_offset);
    if (size != h->content_size)
        return qfile_set_err(err, offset, "content size is %ld but the header "
                             "says %ld", size, h->content_size);
    return 0;
}

/* qfile_read_envelope: strict parse of a whole queue file. */
qfile_envelope *qfile_read_envelope(qfile_reader *rd, int flags, strbuf *err)
{
    struct qfile_eparse p;
    qfile_envelope *env = mem_calloc(1, sizeof(*env));
    qfile_header *h = &env->header;
    qfile_record rec;
    enum qfile_seg seg = QFILE_SEG_ENVELOPE;
    long    size = 0;
    int     partial = 0;
    int     r;
    char    tb[8];
    unsigned char extra;

    memset(&p, 0, sizeof(p));
    p.env = env;
    p.err = err;
    p.attr_names = htable_new(16);
    p.count_only = (flags & QFILE_ENV_COUNT_RCPTS) != 0;
    env->warn_offset = -1;
    env->ret = QFILE_RET_NONE;
    qfile_reader_seek(rd, 0);

    /* Header. */
    if ((r = qfile_read_record(rd, &rec, err)) <= 0) {
        if (r == 0)
            qfile_set_err(err, 0, "empty file (missing header record)");
        goto fail;
    }
    if (rec.type != REC_TYPE_HEADER) {
        qfile_set_err(err, 0, "first record is %s, not the header",
                      qfile_type_str(rec.type, tb, sizeof(tb)));
        goto fail;
    }
    if (qfile_parse_header(rec.data, rec.len, h) < 0) {
        qfile_set_err(err, 0, "bad header record: fields are not six 15-digit "
                      "numbers");
        goto fail;
    }
    if (h->version != QFILE_VERSION) {
        qfile_set_err(err, 0, "unsupported format version %ld", h->version);
        goto fail;
    }
    if (h->flags & ~(long) QFILE_FLAG_MASK) {
        qfile_set_err(err, 0, "unknown header flags %ld", h->flags);
        goto fail;
    }

    for (;;) {
        r = qfile_read_record(rd, &rec, err);
        if (r < 0)
            goto fail;
        if (r == 0) {
            qfile_set_err(err, rd->pos, "missing end record (file ends in the %s "
                          "segment)", qfile_seg_name(seg));
            goto fail;
        }
        switch (seg) {
        case QFILE_SEG_ENVELOPE:
            if (rec.type == REC_TYPE_MESSAGE) {
                const char *why;

                if (qfile_eparse_group_done(&p, rec.offset) < 0)
                    goto fail;
                if (!(p.seen & QFILE_SEEN_TIME)) {
                    qfile_set_err(err, rec.offset, "missing arrival time record");
                    goto fail;
                }
                if (!(p.seen & QFILE_SEEN_SENDER)) {
                    qfile_set_err(err, rec.offset, "missing sender record");
                    goto fail;
                }
                if (qfile_check_payload(rec.type, rec.data, rec.len, &why) < 0) {
                    qfile_set_err(err, rec.offset, "bad %s record: %s",
                                  qfile_type_name(rec.type), why);
                    goto fail;
                }
                if (rec.offset != h->content_offset) {
                    qfile_set_err(err, rec.offset, "content starts here but the "
                                  "header says offset %lld",
                                  (long long) h->content_offset);
                    goto fail;
                }
                if (flags & QFILE_ENV_SKIP_CONTENT) {
                    /* Each content record takes more bytes than it adds. */
                    if (h->tail_offset < rd->pos
                        || h->content_size > (long) (h->tail_offset - rd->pos)) {
                        qfile_set_err(err, 0, "header content size or end offset "
                                      "inconsistent with the content offset");
                        goto fail;
                    }
                    qfile_reader_seek(rd, h->tail_offset);
                    seg = QFILE_SEG_TAIL;
                } else {
                    seg = QFILE_SEG_CONTENT;
                }
                break;
            }
            if (!qfile_in_set(rec.type, REC_TYPE_ENVELOPE_SET)) {
                qfile_set_err(err, rec.offset, "record type %s not allowed in "
                              "envelope segment",
                              qfile_type_str(rec.type, tb, sizeof(tb)));
                goto fail;
            }
            if (qfile_eparse_record(&p, &rec, 0) < 0)
                goto fail;
            break;
        case QFILE_SEG_CONTENT:
            if (rec.type == REC_TYPE_NORMAL || rec.type == REC_TYPE_PARTIAL) {
                size += (long) rec.len + (rec.type == REC_TYPE_NORMAL);
                partial = rec.type == REC_TYPE_PARTIAL;
                if (size > QFILE_FIXED_MAX) {
                    qfile_set_err(err, rec.offset, "content too large");
                    goto fail;
                }
                break;
            }
            if (rec.type != REC_TYPE_EXTRACTED && rec.type != REC_TYPE_END) {
                qfile_set_err(err, rec.offset, "record type %s not allowed in "
                              "content segment",
                              qfile_type_str(rec.type, tb, sizeof(tb)));
                goto fail;
            }
            if (qfile_check_content_end(err, rec.offset, partial, h, size) < 0)
                goto fail;
            /* FALLTHROUGH */
        case QFILE_SEG_TAIL:
            if (rec.type == REC_TYPE_EXTRACTED) {
                if (rec.len != 0) {
                    qfile_set_err(err, rec.offset, "bad %s record: marker record "
                                  "has a payload", qfile_type_name(rec.type));
                    goto fail;
                }
                seg = QFILE_SEG_EXTRACTED;
                break;
            }
            if (rec.type != REC_TYPE_END) {
                qfile_set_err(err, rec.offset, "record type %s at the end of the "
                              "content (expected 'X' or 'E')",
                              qfile_type_str(rec.type, tb, sizeof(tb)));
                goto fail;
            }
            seg = QFILE_SEG_END;
            break;
        case QFILE_SEG_EXTRACTED:
            if (rec.type == REC_TYPE_END) {
                seg = QFILE_SEG_END;
                break;
            }
            if (!qfile_in_set(rec.type, REC_TYPE_EXTRACTED_SET)) {
                qfile_set_err(err, rec.offset, "record type %s not allowed in "
                              "extracted segment",
                              qfile_type_str(rec.type, tb, sizeof(tb)));
                goto fail;
            }
            if (qfile_eparse_record(&p, &rec, 1) < 0)
                goto fail;
            break;
        case QFILE_SEG_END:
            break;
        }
        if (seg == QFILE_SEG_END)
            break;
    }

    /* The end record. */
    if (qfile_eparse_group_done(&p, rec.offset) < 0)
        goto fail;
    if (rec.len != 0) {
        qfile_set_err(err, rec.offset, "bad end record: marker record has a payload");
        goto fail;
    }
    r = (int) qfile_reader_get(rd, rd->pos, &extra, NULL, 1);
    if (r != 0) {
        if (r < 0)
            qfile_set_err(err, rd->pos, "read error: %s", strerror(errno));
        else
            qfile_set_err(err, rd->pos, "data after the end record");
        goto fail;
    }
    if ((long) env->nrcpts != h->rcpt_count) {
        qfile_set_err(err, 0, "header says %ld recipients, the file has %zu",
                      h->rcpt_count, env->nrcpts);
        goto fail;
    }
    if (env->nrcpts == 0) {
        qfile_set_err(err, rec.offset, "no recipients");
        goto fail;
    }
    htable_free(p.attr_names, NULL);
    return env;

fail:
    mem_free(p.orig);
    mem_free(p.orcpt);
    htable_free(p.attr_names, NULL);
    qfile_envelope_free(env);
    return NULL;
}

/* qfile_rcpts_free: free an array from qfile_read_pending; NULL. */
qfile_rcpt *qfile_rcpts_free(qfile_rcpt *rcpts, size_t n)
{
    size_t  i;

    for (i = 0; rcpts != NULL && i < n; i++) {
        mem_free(rcpts[i].address);
        mem_free(rcpts[i].orig);
        mem_free(rcpts[i].orcpt);
    }
    mem_free(rcpts);
    return NULL;
}

/* qfile_read_pending: the next slice of pending recipients. */
int qfile_read_pending(qfile_reader *rd, const qfile_envelope *env,
                       off_t *cursor, size_t max, qfile_rcpt **rcpts,
                       size_t *nrcpts, strbuf *err)
{
    qfile_record rec;
    qfile_rcpt *out = NULL;
    size_t  n = 0, cap = 0;
    char   *orig = NULL, *orcpt = NULL;
    int     notify = 0;
    int     extracted = 0;
    int     jumped = 0;
    int     r, rc = -1;
    const char *why;
    char    tb[8];

    *rcpts = NULL;
    *nrcpts = 0;
    if (*cursor <= 0) {
        qfile_reader_seek(rd, 0);
        if ((r = qfile_read_record(rd, &rec, err)) <= 0
            || rec.type != REC_TYPE_HEADER) {
            if (r >= 0)
                qfile_set_err(err, 0, "missing header record");
            goto out;
        }
    } else {
        qfile_reader_seek(rd, *cursor);
        extracted = *cursor > env->header.content_offset;
    }
    while (max > 0 && n < max) {
        if ((r = qfile_read_record(rd, &rec, err)) < 0)
            goto out;
        if (r == 0) {
            qfile_set_err(err, rd->pos, "missing end record");
            goto out;
        }
        switch (rec.type) {
        case REC_TYPE_END:
            rc = 0;
            goto out;
        case REC_TYPE_MESSAGE:
            if (jumped || rec.offset != env->header.content_offset
                || env->header.tail_offset <= rec.offset) {
                qfile_set_err(err, rec.offset, "content record where none "
                              "belongs");
                goto out;
            }
            jumped = 1;
            qfile_reader_seek(rd, env->header.tail_offset);
            continue;
        case REC_TYPE_EXTRACTED:
            extracted = 1;
            continue;
        case REC_TYPE_ORIG_RCPT:
        case REC_TYPE_ORCPT:
        case REC_TYPE_NOTIFY:
        case REC_TYPE_RCPT:
        case REC_TYPE_DONE:
            if (qfile_check_payload(rec.type, rec.data, rec.len, &why) < 0) {
                qfile_set_err(err, rec.offset, "bad %s record: %s",
                              qfile_type_name(rec.type), why);
                goto out;
            }
            break;
        case REC_TYPE_NORMAL:
        case REC_TYPE_PARTIAL:
        case REC_TYPE_HEADER:
            qfile_set_err(err, rec.offset, "record type %s outside its segment",
                          qfile_type_str(rec.type, tb, sizeof(tb)));
            goto out;
        default:
            continue;                   /* T, S, A, i, <, W */
        }
        if (rec.type == REC_TYPE_ORIG_RCPT) {
            mem_free(orig);
            orig = mem_memdup(rec.data, rec.len);
        } else if (rec.type == REC_TYPE_ORCPT) {
            mem_free(orcpt);
            orcpt = mem_memdup(rec.data, rec.len);
        } else if (rec.type == REC_TYPE_NOTIFY) {
            (void) qfile_notify_parse(rec.data, rec.len, &notify);
        } else {
            if (rec.type == REC_TYPE_RCPT) {
                qfile_rcpt *q;

                if (n == cap) {
                    cap = cap ? 2 * cap : (max < 64 ? max : 64);
                    out = mem_realloc(out, cap * sizeof(*out));
                }
                q = out + n++;
                memset(q, 0, sizeof(*q));
                q->address = mem_memdup(rec.data, rec.len);
                q->orig = orig;
                q->orcpt = orcpt;
                q->notify = notify;
                q->offset = rec.offset;
                q->extracted = extracted;
                orig = orcpt = NULL;
            }
            orig = mem_free(orig);
            orcpt = mem_free(orcpt);
            notify = 0;
            *cursor = rd->pos;
        }
    }
    rc = 1;

out:
    mem_free(orig);
    mem_free(orcpt);
    if (rc < 0) {
        out = qfile_rcpts_free(out, n);
        n = 0;
    }
    *rcpts = out;
    *nrcpts = n;
    return rc;
}

/* qfile_content_start: position the reader at the content segment. */
int qfile_content_start(qfile_reader *rd, const qfile_envelope *env, strbuf *err)
{
    qfile_record rec;
    int     r;

    rd->content_active = 0;
    qfile_reader_seek(rd, env->header.content_offset);
    if ((r = qfile_read_record(rd, &rec, err)) <= 0) {
        if (r == 0)
            qfile_set_err(err, rd->pos, "missing content start record");
        return -1;
    }
    if (rec.type != REC_TYPE_MESSAGE || rec.len != 0)
        return qfile_set_err(err, rec.offset, "expected the content start record");
    rd->content_active = 1;
    rd->content_partial = 0;
    rd->content_sum = 0;
    rd->content_expect = env->header.content_size;
    rd->content_tail = env->header.tail_offset;
    return 0;
}

/* qfile_content_next: the next content piece (see the contract above). */
int qfile_content_next(qfile_reader *rd, strbuf *piece, strbuf *err)
{
    qfile_record rec;
    qfile_header h;
    char    tb[8];
    int     r;

    if (!rd->content_active)
        return QFILE_CONTENT_END;
    if ((r = qfile_read_record(rd, &rec, err)) <= 0) {
        rd->content_active = 0;
        if (r == 0)
            qfile_set_err(err, rd->pos, "missing end record (file ends in the "
                          "content segment)");
        return -1;
    }
    switch (rec.type) {
    case REC_TYPE_NORMAL:
    case REC_TYPE_PARTIAL:
        rd->content_sum += (long) rec.len + (rec.type == REC_TYPE_NORMAL);
        rd->content_partial = rec.type == REC_TYPE_PARTIAL;
        if (rd->content_sum > rd->content_expect) {
            rd->content_active = 0;
            return qfile_set_err(err, rec.offset, "content larger than the header "
                                 "says (%ld bytes)", rd->content_expect);
        }
        if (strbuf_set(piece, rec.data, rec.len) < 0) {
            rd->content_active = 0;
            return qfile_set_err(err, rec.offset, "content record longer than the "
                                 "caller's buffer limit");
        }
        return rec.type == REC_TYPE_NORMAL ? QFILE_CONTENT_LINE : QFILE_CONTENT_PIECE;
    case REC_TYPE_EXTRACTED:
    case REC_TYPE_END:
        rd->content_active = 0;
        memset(&h, 0, sizeof(h));
        h.tail_offset = rd->content_tail;
        h.content_size = rd->content_expect;
        if (qfile_check_content_end(err, rec.offset, rd->content_partial, &h,
                                    rd->content_sum) < 0)
            return -1;
        return QFILE_CONTENT_END;
    default:
        rd->content_active = 0;
        return qfile_set_err(err, rec.offset, "record type %s not allowed in "
                             "content segment", qfile_type_str(rec.type, tb, sizeof(tb)));
    }
}
