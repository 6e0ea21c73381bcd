/*
 * dict_src: reader for "key whitespace value" table sources.
 *
 * Public functions:
 *   dict_src_open(path, err): open a source file for reading. Returns the
 *     reader, or NULL with err set to "PATH: cannot open: REASON",
 *     "PATH: cannot stat: REASON" or "PATH: not a regular file" (FIFOs
 *     and devices are refused so a reader never blocks on one). The
 *     caller closes the reader with dict_src_close.
 *   dict_src_open_mem(text, len, origin): a reader over len bytes of text
 *     (any bytes, not NUL-terminated); origin names it in messages. text
 *     must stay valid until dict_src_close. Never returns NULL.
 *   dict_src_next(src, key, value, err): the next entry. Returns 1 with
 *     key and value set, 0 at the end of the input, -1 with err set to
 *     "ORIGIN, line N: what" (or "ORIGIN: read error: REASON"). After a
 *     syntax error (key without value, over-long key/value/line, NUL
 *     byte, continuation line before the first entry) the bad entry is
 *     consumed and the next call goes on with the entry after it, so a
 *     caller may warn and carry on; a read error is sticky (every later
 *     call returns -1 with the same text). key and value are replaced;
 *     err is only touched on -1.
 *   dict_src_next_line(src, line, err): the same reader one level down:
 *     the next logical line (continuations joined with one space, white
 *     space at both ends removed), for table formats whose entries are
 *     not "key value" (regexp:). Returns 1/0/-1 as dict_src_next.
 *   dict_src_line(src): line number where the entry last returned (or
 *     the one that failed) started; 0 before the first.
 *   dict_src_origin(src): the path or origin name.
 *   dict_src_stat(src): the identity of the file as opened (fstat of the
 *     descriptor that is read), for change detection; NULL for memory
 *     readers.
 *   dict_src_close(src): release everything (accepts NULL); returns NULL.
 *
 * Syntax. A physical line is blank (only white space: space, tab, CR,
 * FF, VT), a comment (first non-blank character '#'), a continuation
 * (starts with white space) or the start of a logical line. Blank and
 * comment lines are ignored wherever they are, also between a logical
 * line and its continuations, and whatever else they contain. The last
 * line need not end in a newline. Entries: the key is the text up to the
 * first white space, the value everything after it, trimmed; a value is
 * required ("expected format: key whitespace value").
 *
 * SECURITY: sources are written by admins but are parsed defensively:
 * every line and field is bounded, NUL bytes are rejected (they would cut
 * keys and values short), and nothing here is fatal.
 * LIMITS: DICT_SRC_LINE_MAX bytes per physical line and per logical line,
 * DICT_KEY_MAX per key, DICT_VALUE_MAX per value. Line numbers saturate
 * at INT_MAX.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dict_src.h"
#include "mem.h"
#include "stream.h"
#include "strbuf.h"

/* Physical line kinds. */
#define DICT_SRC_BLANK      0
#define DICT_SRC_COMMENT    1
#define DICT_SRC_CONT       2
#define DICT_SRC_START      3

/* Problems found in one physical line. */
#define DICT_SRC_OK         0
#define DICT_SRC_TOOLONG    1
#define DICT_SRC_NUL        2

struct dict_src {
    char   *origin;                     /* path or origin name */
    stream *fp;                         /* file reader, or NULL */
    const char *mem;                    /* memory reader text */
    size_t  mem_len;
    size_t  mem_pos;
    struct stat st;                     /* identity as opened (files) */
    strbuf *phys;                       /* physical line read ahead */
    int     pending;                    /* phys holds an unused line */
    int     pending_kind;               /* DICT_SRC_BLANK... of it */
    int     pending_err;                /* DICT_SRC_OK... of it */
    int     pending_line;               /* its line number */
    int     lineno;                     /* physical lines read */
    int     entry_line;                 /* start of the current entry */
    int     skip_cont;                  /* drop continuations of a bad entry */
    int     read_failed;                /* sticky read error */
    strbuf *read_error;                 /* its text */
    strbuf *logical;                    /* dict_src_next's line */
};

/* dict_src_blank: table-source white space (never the newline). */
static int dict_src_blank(int c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v';
}

/* dict_src_classify: kind of a physical line of len bytes. */
static int dict_src_classify(const char *data, size_t len)
{
    size_t  i = 0;

    while (i < len && dict_src_blank((unsigned char) data[i]))
        i++;
    if (i == len)
        return DICT_SRC_BLANK;
    if (data[i] == '#')
        return DICT_SRC_COMMENT;
    return i > 0 ? DICT_SRC_CONT : DICT_SRC_START;
}

/* dict_src_new: the common part of both constructors. */
static dict_src *dict_src_new(const char *origin)
{
    dict_src *src = mem_calloc(1, sizeof(*src));

    src->origin = mem_strdup(origin);
    src->phys = strbuf_new(256);
    src->read_error = strbuf_new(64);
    src->logical = strbuf_new(256);
    return src;
}

/* dict_src_open: open a source file. */
dict_src *dict_src_open(const char *path, strbuf *err)
{
    dict_src *src;
    struct stat st;
    int     fd;
    int     fl;

    /* O_NONBLOCK so that opening a FIFO cannot hang; refused below. */
    if ((fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY)) < 0) {
        strbuf_setf(err, "%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    if (fstat(fd, &st) < 0) {
        strbuf_setf(err, "%s: cannot stat: %s", path, strerror(errno));
        (void) close(fd);
        return NULL;
    }
    if (!S_ISREG(st.st_mode)) {
        strbuf_setf(err, "%s: not a regular file", path);
        (void) close(fd);
        return NULL;
    }
    if ((fl = fcntl(fd, F_GETFL)) < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) < 0) {
        strbuf_setf(err, "%s: cannot set file flags: %s", path, strerror(errno));
        (void) close(fd);
        return NULL;
    }
    src = dict_src_new(path);
    src->st = st;
    src->fp = stream_fdopen(fd, STREAM_F_READ);
    return src;
}

/* dict_src_open_mem: a reader over a memory buffer. */
dict_src *dict_src_open_mem(const char *text, size_t len, const char *origin)
{
    dict_src *src = dict_src_new(origin);

    src->mem = text;
    src->mem_len = len;
    return src;
}

/* dict_src_close: release a reader. */
dict_src *dict_src_close(dict_src *src)
{
    if (src == NULL)
        return NULL;
    if (src->fp)
        (void) stream_close(src->fp);
    mem_free(src->origin);
    strbuf_free(src->phys);
    strbuf_free(src->read_error);
    strbuf_free(src->logical);
    mem_free(src);
    return NULL;
}

/* dict_src_line: start line of the last entry. */
int dict_src_line(const dict_src *src)
{
    return src->entry_line;
}

/* dict_src_origin: the path or origin name. */
const char *dict_src_origin(const dict_src *src)
{
    return src->origin;
}

/* dict_src_stat: identity of the file as opened, or NULL. */
const struct stat *dict_src_stat(const dict_src *src)
{
    return src->fp ? &src->st : NULL;
}

/* dict_src_skip_rest: discard the rest of an over-long line. */
static int dict_src_skip_rest(dict_src *src)
{
    enum stream_status st;

    for (;;) {
        st = stream_get_line(src->fp, src->phys, STREAM_BUFSIZE);
        if (st == STREAM_OK || st == STREAM_EOF)
            return 0;
        if (st != STREAM_TOOLONG)
            return -1;
    }
}

/* dict_src_read_phys: read the next physical line into phys (pending). */
static int dict_src_read_phys(dict_src *src)
{
    enum stream_status st;
    const char *start;
    const char *nl;
    size_t  avail;
    size_t  n;

    src->pending_err = DICT_SRC_OK;
    if (src->fp == NULL) {
        if (src->mem_pos >= src->mem_len)
            return 0;
        start = src->mem + src->mem_pos;
        avail = src->mem_len - src->mem_pos;
        nl = memchr(start, '\n', avail);
        n = nl ? (size_t) (nl - start) : avail;
        src->mem_pos += nl ? n + 1 : n;
        if (n > DICT_SRC_LINE_MAX) {
            src->pending_err = DICT_SRC_TOOLONG;
            src->pending_kind = dict_src_classify(start, n);
            strbuf_reset(src->phys);
        } else {
            strbuf_set(src->phys, start, n);
        }
    } else {
        st = stream_get_line(src->fp, src->phys, DICT_SRC_LINE_MAX + 1);
        if (st == STREAM_EOF)
            return 0;
        if (st == STREAM_OK) {
            if (src->phys->len > 0 && src->phys->data[src->phys->len - 1] == '\n')
                strbuf_truncate(src->phys, src->phys->len - 1);
        } else if (st == STREAM_TOOLONG) {
            src->pending_err = DICT_SRC_TOOLONG;
            src->pending_kind = dict_src_classify(src->phys->data, src->phys->len);
            if (dict_src_skip_rest(src) < 0)
                st = STREAM_ERROR;
            strbuf_reset(src->phys);
        }
        if (st != STREAM_OK && st != STREAM_TOOLONG) {
            strbuf_setf(src->read_error, "%s: read error: %s", src->origin,
                        strerror(errno ? errno : EIO));
            src->read_failed = 1;
            return -1;
        }
    }
    if (src->lineno < INT_MAX)
        src->lineno++;
    src->pending_line = src->lineno;
    src->pending = 1;
    if (src->pending_err == DICT_SRC_OK) {
        src->pending_kind = dict_src_classify(src->phys->data, src->phys->len);
        if (memchr(src->phys->data, 0, src->phys->len) != NULL)
            src->pending_err = DICT_SRC_NUL;
    }
    return 1;
}

/* dict_src_line_error: describe what is wrong with the pending line. */
static void dict_src_line_error(dict_src *src, strbuf *err)
{
    if (src->pending_err == DICT_SRC_TOOLONG)
        strbuf_setf(err, "%s, line %d: line is longer than %d bytes",
                    src->origin, src->pending_line, DICT_SRC_LINE_MAX);
    else
        strbuf_setf(err, "%s, line %d: line contains a NUL byte",
                    src->origin, src->pending_line);
}

/* dict_src_trim_end: length of data without trailing white space. */
static size_t dict_src_trim_end(const char *data, size_t len)
{
    while (len > 0 && dict_src_blank((unsigned char) data[len - 1]))
        len--;
    return len;
}

/* dict_src_next_line: the next logical line. */
int dict_src_next_line(dict_src *src, strbuf *line, strbuf *err)
{
    const char *data;
    size_t  len;
    int     started = 0;

    strbuf_reset(line);
    for (;;) {
        if (src->read_failed) {
            strbuf_set(err, src->read_error->data, src->read_error->len);
            strbuf_reset(line);
            return -1;
        }
        if (!src->pending && dict_src_read_phys(src) <= 0) {
            if (src->read_failed)
                continue;
            break;                              /* end of input */
        }
        switch (src->pending_kind) {
        case DICT_SRC_BLANK:
        case DICT_SRC_COMMENT:
            src->pending = 0;
            continue;
        case DICT_SRC_START:
            if (started)
                return 1;                       /* it stays pending */
            src->pending = 0;
            src->skip_cont = 0;
            src->entry_line = src->pending_line;
            if (src->pending_err != DICT_SRC_OK) {
                src->skip_cont = 1;
                dict_src_line_error(src, err);
                return -1;
            }
            started = 1;
            strbuf_set(line, src->phys->data,
                       dict_src_trim_end(src->phys->data, src->phys->len));
            continue;
        default:                                /* continuation */
            src->pending = 0;
            if (src->skip_cont)
                continue;
            if (!started) {
                src->entry_line = src->pending_line;
                src->skip_cont = 1;
                if (src->pending_err != DICT_SRC_OK)
                    dict_src_line_error(src, err);
                else
                    strbuf_setf(err, "%s, line %d: continuation line (it starts"
                                " with white space) before the first entry",
                                src->origin, src->pending_line);
                return -1;
            }
            if (src->pending_err != DICT_SRC_OK) {
                src->skip_cont = 1;
                strbuf_reset(line);
                dict_src_line_error(src, err);
                return -1;
            }
            data = src->phys->data;
            len = dict_src_trim_end(data, src->phys->len);
            while (len > 0 && dict_src_blank((unsigned char) *data)) {
                data++;
                len--;
            }
            if (len + 1 > DICT_SRC_LINE_MAX - line->len) {
                src->skip_cont = 1;
                strbuf_reset(line);
                strbuf_setf(err, "%s, line %d: entry is longer than %d bytes",
                            src->origin, src->entry_line, DICT_SRC_LINE_MAX);
                return -1;
            }
            strbuf_putc(line, ' ');
            strbuf_append(line, data, len);
            continue;
        }
    }
    return started;
}

/* dict_src_next: the next "key value" entry. */
int dict_src_next(dict_src *src, strbuf *key, strbuf *value, strbuf *err)
{
    const char *data;
    size_t  klen;
    size_t  vstart;
    int     rc;

    if ((rc = dict_src_next_line(src, src->logical, err)) <= 0)
        return rc;
    data = src->logical->data;
    for (klen = 0; klen < src->logical->len && !dict_src_blank((unsigned char) data[klen]); klen++)
         /* void */ ;
    for (vstart = klen; vstart < src->logical->len
         && dict_src_blank((unsigned char) data[vstart]); vstart++)
         /* void */ ;
    if (vstart == src->logical->len) {
        strbuf_setf(err, "%s, line %d: expected format: key whitespace value",
                    src->origin, src->entry_line);
        return -1;
    }
    if (klen > DICT_KEY_MAX) {
        strbuf_setf(err, "%s, line %d: key is longer than %d bytes",
                    src->origin, src->entry_line, DICT_KEY_MAX);
        return -1;
    }
    if (src->logical->len - vstart > DICT_VALUE_MAX) {
        strbuf_setf(err, "%s, line %d: value is longer than %d bytes",
                    src->origin, src->entry_line, DICT_VALUE_MAX);
        return -1;
    }
    if (strbuf_set(key, data, klen) < 0
        || strbuf_set(value, data + vstart, src->logical->len - vstart) < 0) {
        strbuf_setf(err, "%s, line %d: entry is too long for the caller's buffer",
                    src->origin, src->entry_line);
        return -1;
    }
    return 1;
}
