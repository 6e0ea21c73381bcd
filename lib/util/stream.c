/*
 * stream: buffered I/O over one file descriptor.
 *
 * Public functions:
 *   stream_fdopen(fd, flags): wrap fd. flags: STREAM_F_READ and/or
 *     STREAM_F_WRITE (STREAM_F_RDWR), plus STREAM_F_NOCLOSE to leave fd
 *     open at stream_close. Never returns NULL; a negative fd or missing
 *     direction is a caller bug (panic). The O_NONBLOCK flag of fd is
 *     sampled here and by stream_set_timeout: call stream_set_timeout
 *     again after changing it.
 *   stream_open(path, open_flags, perms): open(2) with O_CLOEXEC added,
 *     direction taken from O_ACCMODE. Returns NULL with errno set when the
 *     open fails; reporting that is the caller's job.
 *   stream_close(s): flush pending output, close the fd (unless
 *     STREAM_F_NOCLOSE) and free s. Returns 0, or -1 (errno set) when
 *     output was lost: the flush failed, an earlier write failed, or
 *     close() reported an error. Accepts NULL (returns 0).
 *   stream_fd(s): the descriptor.
 *   stream_set_timeout(s, ms): bound every wait for the descriptor to ms
 *     milliseconds (0 = wait forever). A wait that expires fails the
 *     operation with a timeout status (STREAM_TIMEOUT, or -1 with errno
 *     ETIMEDOUT and stream_timed_out() true). The bound is per wait, not
 *     per call: a peer that trickles bytes keeps a long call alive, so
 *     callers bound sizes as well. stream_timeout(s) returns the setting.
 *   stream_read(s, buf, len): up to len bytes (short reads are normal).
 *     Returns the count, 0 at end of input, or -1 on error or timeout.
 *   stream_read_exact(s, buf, len): exactly len bytes: STREAM_OK, or
 *     STREAM_EOF when input ends first (what was read is lost),
 *     STREAM_TIMEOUT, STREAM_ERROR.
 *   stream_get_line(s, line, max): replace line's content with the next
 *     line, '\n' included, at most max bytes (max >= 1; when line has a
 *     strbuf limit below max, that limit is the bound). Returns:
 *       STREAM_OK       a line; it lacks '\n' only for a last line at EOF
 *       STREAM_EOF      no byte was left
 *       STREAM_TOOLONG  max bytes without a newline: line holds exactly
 *                       them, the rest stays in the stream for the next
 *                       call
 *       STREAM_TIMEOUT, STREAM_ERROR: line holds what came before (the
 *                       caller should give up on the stream)
 *     NUL bytes are kept; line->len is authoritative.
 *   stream_buffered(s): input bytes read from fd but not yet consumed.
 *   stream_write(s, buf, len), stream_puts(s, str), stream_putc(s, ch),
 *   stream_printf(s, fmt, ...), stream_vprintf(s, fmt, ap): buffer output;
 *     full buffers are written out, retried on EINTR and short writes.
 *     Return 0, or -1 on error or timeout (then output is lost and later
 *     writes fail at once until stream_clear_error).
 *   stream_flush(s): write out pending output; 0 or -1 as above.
 *   stream_pending(s): output bytes not yet written.
 *   stream_error(s): 1 after an I/O error or timeout in either direction.
 *   stream_eof(s): 1 after end of input was seen.
 *   stream_timed_out(s): 1 after a timeout in either direction.
 *   stream_clear_error(s): forget EOF, error and timeout state.
 *   stream_status_str(status): short text for log messages.
 *   stream_set_io(s, rd, wr, ctx): from now on read with rd(ctx, ...)
 *     and write with wr(ctx, ...) instead of the descriptor (a TLS layer
 *     over the same fd); NULL, NULL restores plain fd I/O. The functions
 *     must not block: they answer STREAM_IO_WANT_READ/WANT_WRITE and the
 *     stream polls the fd (within the timeout) before calling again, so
 *     the timeout rules above hold unchanged. Buffered input and output
 *     are kept: a caller switching to TLS must check stream_buffered()
 *     and stream_pending() first (bytes read before the switch were
 *     plaintext; STARTTLS refuses them). ctx stays the caller's.
 *
 * Pending output is flushed before a read has to wait for the fd, so a
 * request-reply exchange needs no explicit flush; a failed flush fails
 * that read with STREAM_ERROR (stream_timed_out tells a write timeout).
 *
 * SECURITY: input comes from peers of any trust level. Line reads never
 * exceed the caller's bound and never lose or invent bytes. Sockets are
 * written with MSG_NOSIGNAL; for pipes the program must ignore SIGPIPE
 * (the server skeleton does). Misuse by the caller (reading a write-only
 * stream, max 0) panics; nothing a peer sends can.
 * LIMITS: STREAM_BUFSIZE bytes per direction; line length by the caller;
 * each wait by the timeout.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "mem.h"
#include "msg.h"
#include "strbuf.h"
#include "stream.h"

struct stream {
    int     fd;
    int     flags;                      /* STREAM_F_* */
    int     timeout_ms;                 /* 0 = none */
    int     nonblock;                   /* fd had O_NONBLOCK when sampled */
    int     is_socket;                  /* use recv/send with flags */
    unsigned char *rbuf;                /* read buffer (STREAM_F_READ) */
    size_t  rpos;                       /* next unread byte */
    size_t  rend;                       /* end of buffered input */
    unsigned char *wbuf;                /* write buffer (STREAM_F_WRITE) */
    size_t  wlen;                       /* pending output bytes */
    int     rd_eof;                     /* sticky read-side state */
    int     rd_err;
    int     rd_timeout;
    int     rd_errno;
    int     wr_err;                     /* sticky write-side state */
    int     wr_timeout;
    int     wr_errno;
    stream_io_read_fn io_read;          /* replacement I/O, or NULL */
    stream_io_write_fn io_write;
    void   *io_ctx;
};

/* Results of the internal wait. */
#define STREAM_WAIT_READY   1
#define STREAM_WAIT_TIMEOUT 0
#define STREAM_WAIT_ERROR   (-1)

/* Results of the internal raw read besides a byte count. */
#define STREAM_RAW_ERROR    (-1)
#define STREAM_RAW_TIMEOUT  (-2)

/* stream_now_ms: monotonic clock in milliseconds. */
static int64_t stream_now_ms(void)
{
    struct timespec ts;

    if (clock_gettime(CLOCK_MONOTONIC, &ts) < 0)
        msg_panic("stream: clock_gettime(CLOCK_MONOTONIC): %m");
    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* stream_sample_fd: note whether fd is non-blocking and a socket. */
static void stream_sample_fd(stream *s)
{
    int     fl = fcntl(s->fd, F_GETFL);

    /* A bad fd shows up as an error at the first read or write. */
    s->nonblock = (fl >= 0 && (fl & O_NONBLOCK) != 0);
}

/* stream_fdopen: wrap a descriptor. */
stream *stream_fdopen(int fd, int flags)
{
    stream *s;
    struct stat st;

    if (fd < 0)
        msg_panic("stream_fdopen: bad descriptor %d", fd);
    if ((flags & STREAM_F_RDWR) == 0
        || (flags & ~(STREAM_F_RDWR | STREAM_F_NOCLOSE)) != 0)
        msg_panic("stream_fdopen: bad flags 0x%x", (unsigned) flags);
    s = mem_calloc(1, sizeof(*s));
    s->fd = fd;
    s->flags = flags;
    s->is_socket = (fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode));
    stream_sample_fd(s);
    if (flags & STREAM_F_READ)
        s->rbuf = mem_alloc(STREAM_BUFSIZE);
    if (flags & STREAM_F_WRITE)
        s->wbuf = mem_alloc(STREAM_BUFSIZE);
    return s;
}

/* stream_open: open a file as a stream; NULL with errno on failure. */
stream *stream_open(const char *path, int open_flags, mode_t perms)
{
    int     fd;
    int     mode;

    switch (open_flags & O_ACCMODE) {
    case O_RDONLY:
        mode = STREAM_F_READ;
        break;
    case O_WRONLY:
        mode = STREAM_F_WRITE;
        break;
    case O_RDWR:
        mode = STREAM_F_RDWR;
        break;
    default:
        errno = EINVAL;
        return NULL;
    }
    do {
        fd = open(path, open_flags | O_CLOEXEC, perms);
    } while (fd < 0 && errno == EINTR);
    if (fd < 0)
        return NULL;
    return stream_fdopen(fd, mode);
}

/* stream_close: flush, close and free; -1 when output was lost. */
int stream_close(stream *s)
{
    int     ret = 0;
    int     saved = 0;

    if (s == NULL)
        return 0;
    if ((s->flags & STREAM_F_WRITE) && stream_flush(s) < 0) {
        ret = -1;
        saved = errno;
    }
    /* close() is not retried on EINTR: on Linux the fd is gone anyway. */
    if (!(s->flags & STREAM_F_NOCLOSE) && close(s->fd) < 0
        && errno != EINTR && ret == 0) {
        ret = -1;
        saved = errno;
    }
    mem_free(s->rbuf);
    mem_free(s->wbuf);
    mem_free(s);
    if (ret < 0)
        errno = saved;
    return ret;
}

/* stream_fd: the underlying descriptor. */
int stream_fd(const stream *s)
{
    return s->fd;
}

/* stream_set_timeout: bound each wait; 0 = none. */
void stream_set_timeout(stream *s, int milliseconds)
{
    if (milliseconds < 0)
        msg_panic("stream_set_timeout: negative timeout %d", milliseconds);
    s->timeout_ms = milliseconds;
    stream_sample_fd(s);
}

/* stream_timeout: the current timeout in milliseconds. */
int stream_timeout(const stream *s)
{
    return s->timeout_ms;
}

/* stream_wait: poll for events, bounded by the timeout. */
static int stream_wait(stream *s, short events)
{
    struct pollfd pfd;
    int     wait_ms = s->timeout_ms > 0 ? s->timeout_ms : -1;
    int64_t deadline = 0;
    int     n;

    if (wait_ms > 0)
        deadline = stream_now_ms() + wait_ms;
    for (;;) {
        pfd.fd = s->fd;
        pfd.events = events;
        pfd.revents = 0;
        n = poll(&pfd, 1, wait_ms);
        if (n > 0) {
            if (pfd.revents & POLLNVAL) {
                errno = EBADF;
                return STREAM_WAIT_ERROR;
            }
            /* POLLERR/POLLHUP: the next read or write reports it. */
            return STREAM_WAIT_READY;
        }
        if (n == 0) {
            errno = ETIMEDOUT;
            return STREAM_WAIT_TIMEOUT;
        }
        if (errno != EINTR)
            return STREAM_WAIT_ERROR;
        if (wait_ms > 0) {
            int64_t left = deadline - stream_now_ms();

            if (left <= 0) {
                errno = ETIMEDOUT;
                return STREAM_WAIT_TIMEOUT;
            }
            wait_ms = (int) left;
        }
    }
}

/* stream_io_failed: record a read-side failure after wait result w. */
static ssize_t stream_io_failed(stream *s, int w)
{
    if (w == STREAM_WAIT_TIMEOUT) {
        s->rd_timeout = 1;
        s->rd_errno = ETIMEDOUT;
        errno = ETIMEDOUT;
        return STREAM_RAW_TIMEOUT;
    }
    s->rd_err = 1;
    s->rd_errno = errno;
    return STREAM_RAW_ERROR;
}

/*
 * stream_io_raw_read: one read through the replacement read function,
 * waiting on the fd (bounded by the timeout) whenever it wants I/O.
 */
static ssize_t stream_io_raw_read(stream *s, void *buf, size_t len)
{
    ssize_t n;
    int     w;

    for (;;) {
        n = s->io_read(s->io_ctx, buf, len);
        if (n > 0)
            return n;
        if (n == 0) {
            s->rd_eof = 1;
            return 0;
        }
        if (n == STREAM_IO_WANT_READ) {
            w = stream_wait(s, POLLIN);
        } else if (n == STREAM_IO_WANT_WRITE) {
            w = stream_wait(s, POLLOUT);
        } else if (n == STREAM_IO_ERROR && errno == EINTR) {
            continue;
        } else {
            /* An unknown code counts as an I/O error. */
            if (n != STREAM_IO_ERROR)
                errno = EIO;
            w = STREAM_WAIT_ERROR;
        }
        if (w != STREAM_WAIT_READY)
            return stream_io_failed(s, w);
    }
}

/*
 * stream_raw_read: one read from the fd. Returns a count > 0, 0 at EOF,
 * STREAM_RAW_ERROR or STREAM_RAW_TIMEOUT (errno set), and records
 * read-side state. Sockets are read with MSG_DONTWAIT so that a timeout
 * holds even on a blocking socket without an extra poll per read; other
 * blocking descriptors are polled first when a timeout is set.
 */
static ssize_t stream_raw_read(stream *s, void *buf, size_t len)
{
    ssize_t n;
    int     w = STREAM_WAIT_ERROR;
    int     poll_first = (s->timeout_ms > 0 && !s->nonblock && !s->is_socket);

    /* The peer may be waiting for our reply before it sends more. */
    if (s->wlen > 0 && stream_flush(s) < 0)
        return STREAM_RAW_ERROR;
    if (s->io_read != NULL)
        return stream_io_raw_read(s, buf, len);
    for (;;) {
        if (poll_first) {
            w = stream_wait(s, POLLIN);
            if (w != STREAM_WAIT_READY)
                break;
        }
        if (s->is_socket)
            n = recv(s->fd, buf, len, MSG_DONTWAIT);
        else
            n = read(s->fd, buf, len);
        if (n > 0)
            return n;
        if (n == 0) {
            s->rd_eof = 1;
            return 0;
        }
        if (errno == EINTR)
            continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK) {
            w = STREAM_WAIT_ERROR;
            break;
        }
        w = stream_wait(s, POLLIN);
        if (w != STREAM_WAIT_READY)
            break;
    }
    if (w == STREAM_WAIT_TIMEOUT) {
        s->rd_timeout = 1;
        s->rd_errno = ETIMEDOUT;
        errno = ETIMEDOUT;
        return STREAM_RAW_TIMEOUT;
    }
    s->rd_err = 1;
    s->rd_errno = errno;
    return STREAM_RAW_ERROR;
}

/* stream_read_state: the sticky read-side status, or STREAM_OK. */
static enum stream_status stream_read_state(stream *s)
{
    if (!(s->flags & STREAM_F_READ))
        msg_panic("stream: read from a write-only stream (fd %d)", s->fd);
    if (s->rd_timeout) {
        errno = ETIMEDOUT;
        return STREAM_TIMEOUT;
    }
    if (s->rd_err) {
        errno = s->rd_errno;
        return STREAM_ERROR;
    }
    if (s->rd_eof)
        return STREAM_EOF;
    return STREAM_OK;
}

/* stream_raw_status: map a raw read result to a status. */
static enum stream_status stream_raw_status(ssize_t n)
{
    if (n > 0)
        return STREAM_OK;
    if (n == 0)
        return STREAM_EOF;
    return n == STREAM_RAW_TIMEOUT ? STREAM_TIMEOUT : STREAM_ERROR;
}

/* stream_fill: refill the empty read buffer. */
static enum stream_status stream_fill(stream *s)
{
    enum stream_status st = stream_read_state(s);
    ssize_t n;

    if (st != STREAM_OK)
        return st;
    n = stream_raw_read(s, s->rbuf, STREAM_BUFSIZE);
    s->rpos = 0;
    s->rend = n > 0 ? (size_t) n : 0;
    return stream_raw_status(n);
}

/* stream_read: read up to len bytes; short counts are normal. */
ssize_t stream_read(stream *s, void *buf, size_t len)
{
    size_t  avail = s->rend - s->rpos;
    enum stream_status st;
    ssize_t n;

    if (!(s->flags & STREAM_F_READ))
        msg_panic("stream: read from a write-only stream (fd %d)", s->fd);
    if (len == 0)
        return 0;
    if (len > SSIZE_MAX)
        len = SSIZE_MAX;
    if (avail == 0) {
        st = stream_read_state(s);
        if (st == STREAM_EOF)
            return 0;
        if (st != STREAM_OK)
            return -1;
        /* Big reads go straight to the caller's memory: one copy less. */
        if (len >= STREAM_BUFSIZE) {
            n = stream_raw_read(s, buf, len);
            return n >= 0 ? n : -1;
        }
        st = stream_fill(s);
        if (st == STREAM_EOF)
            return 0;
        if (st != STREAM_OK)
            return -1;
        avail = s->rend - s->rpos;
    }
    if (len > avail)
        len = avail;
    memcpy(buf, s->rbuf + s->rpos, len);
    s->rpos += len;
    return (ssize_t) len;
}

/* stream_read_exact: read exactly len bytes. */
enum stream_status stream_read_exact(stream *s, void *buf, size_t len)
{
    unsigned char *p = buf;
    ssize_t n;

    if (!(s->flags & STREAM_F_READ))
        msg_panic("stream: read from a write-only stream (fd %d)", s->fd);
    while (len > 0) {
        n = stream_read(s, p, len);
        if (n > 0) {
            p += n;
            len -= (size_t) n;
            continue;
        }
        if (n == 0)
            return STREAM_EOF;
        return s->rd_timeout ? STREAM_TIMEOUT : STREAM_ERROR;
    }
    return STREAM_OK;
}

/* stream_get_line: read one line of at most max bytes into line. */
enum stream_status stream_get_line(stream *s, strbuf *line, size_t max)
{
    enum stream_status st;
    const unsigned char *start;
    const unsigned char *nl;
    size_t  avail;
    size_t  room;
    size_t  take;

    if (max == 0)
        msg_panic("stream_get_line: zero maximum");
    if (!(s->flags & STREAM_F_READ))
        msg_panic("stream: read from a write-only stream (fd %d)", s->fd);
    if (line->limit && line->limit < max)
        max = line->limit;
    strbuf_reset(line);
    for (;;) {
        avail = s->rend - s->rpos;
        if (avail > 0) {
            start = s->rbuf + s->rpos;
            room = max - line->len;
            take = avail < room ? avail : room;
            nl = memchr(start, '\n', take);
            if (nl != NULL)
                take = (size_t) (nl - start) + 1;
            if (strbuf_append(line, start, take) < 0)
                msg_panic("stream_get_line: line buffer limit below bound");
            s->rpos += take;
            if (nl != NULL)
                return STREAM_OK;
            if (line->len == max)
                return STREAM_TOOLONG;
        }
        st = stream_fill(s);
        if (st == STREAM_EOF && line->len > 0)
            return STREAM_OK;
        if (st != STREAM_OK)
            return st;
    }
}

/* stream_buffered: input bytes buffered but not yet consumed. */
size_t stream_buffered(const stream *s)
{
    return s->rend - s->rpos;
}

/*
 * stream_raw_write: write all of buf. Returns 0, or -1 with errno set
 * after recording write-side state. Sockets use MSG_DONTWAIT (timeouts
 * hold on blocking sockets) and MSG_NOSIGNAL. A blocking non-socket fd
 * with a timeout is polled first and written at most PIPE_BUF bytes at a
 * time: poll's "writable" promises room for that much on a pipe, so the
 * write cannot block past the timeout. With replacement I/O the write
 * function is called instead, and its "want" answers wait on the fd.
 */
static int stream_raw_write(stream *s, const unsigned char *buf, size_t len)
{
    ssize_t n;
    size_t  chunk;
    int     w = STREAM_WAIT_READY;
    int     poll_first = (s->timeout_ms > 0 && !s->nonblock && !s->is_socket);

    while (len > 0 && s->io_write != NULL) {
        chunk = len > SSIZE_MAX ? SSIZE_MAX : len;
        n = s->io_write(s->io_ctx, buf, chunk);
        if (n > 0) {
            buf += n;
            len -= (size_t) n;
            continue;
        }
        if (n == STREAM_IO_WANT_READ) {
            w = stream_wait(s, POLLIN);
        } else if (n == STREAM_IO_WANT_WRITE) {
            w = stream_wait(s, POLLOUT);
        } else if (n == STREAM_IO_ERROR && errno == EINTR) {
            continue;
        } else {
            /* No progress without a reason (0) counts as an I/O error. */
            if (n != STREAM_IO_ERROR)
                errno = EIO;
            w = STREAM_WAIT_ERROR;
        }
        if (w != STREAM_WAIT_READY)
            break;
    }
    while (len > 0 && s->io_write == NULL) {
        chunk = len;
        if (poll_first) {
            w = stream_wait(s, POLLOUT);
            if (w != STREAM_WAIT_READY)
                break;
            if (chunk > PIPE_BUF)
                chunk = PIPE_BUF;
        }
        if (chunk > SSIZE_MAX)
            chunk = SSIZE_MAX;
        if (s->is_socket)
            n = send(s->fd, buf, chunk, MSG_DONTWAIT | MSG_NOSIGNAL);
        else
            n = write(s->fd, buf, chunk);
        if (n > 0) {
            buf += n;
            len -= (size_t) n;
            continue;
        }
        if (n == 0) {
            /* No progress and no error: do not spin. */
            errno = EIO;
            w = STREAM_WAIT_ERROR;
            break;
        }
        if (errno == EINTR)
            continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK) {
            w = STREAM_WAIT_ERROR;
            break;
        }
        w = stream_wait(s, POLLOUT);
        if (w != STREAM_WAIT_READY)
            break;
    }
    if (len == 0)
        return 0;
    if (w == STREAM_WAIT_TIMEOUT) {
        s->wr_timeout = 1;
        s->wr_errno = ETIMEDOUT;
        errno = ETIMEDOUT;
    } else {
        s->wr_err = 1;
        s->wr_errno = errno;
    }
    return -1;
}

/* stream_write_state: 0, or -1 (errno set) after a write failure. */
static int stream_write_state(stream *s)
{
    if (!(s->flags & STREAM_F_WRITE))
        msg_panic("stream: write to a read-only stream (fd %d)", s->fd);
    if (s->wr_err || s->wr_timeout) {
        errno = s->wr_errno;
        return -1;
    }
    return 0;
}

/* stream_flush: write out pending output. */
int stream_flush(stream *s)
{
    size_t  len = s->wlen;

    if (stream_write_state(s) < 0)
        return -1;
    if (len == 0)
        return 0;
    /* Whatever happens, the buffer is done: a failed stream stays failed. */
    s->wlen = 0;
    return stream_raw_write(s, s->wbuf, len);
}

/* stream_pending: output bytes not yet written. */
size_t stream_pending(const stream *s)
{
    return s->wlen;
}

/* stream_write: buffer len bytes, writing out full buffers. */
int stream_write(stream *s, const void *buf, size_t len)
{
    const unsigned char *p = buf;
    size_t  room;

    if (stream_write_state(s) < 0)
        return -1;
    room = STREAM_BUFSIZE - s->wlen;
    if (len <= room) {
        if (len)
            memcpy(s->wbuf + s->wlen, p, len);
        s->wlen += len;
        return 0;
    }
    /* Top up the buffer so that writes go out in full blocks. */
    if (s->wlen > 0) {
        memcpy(s->wbuf + s->wlen, p, room);
        s->wlen += room;
        p += room;
        len -= room;
        if (stream_flush(s) < 0)
            return -1;
    }
    if (len >= STREAM_BUFSIZE)
        return stream_raw_write(s, p, len);
    memcpy(s->wbuf, p, len);
    s->wlen = len;
    return 0;
}

/* stream_puts: buffer a C string. */
int stream_puts(stream *s, const char *str)
{
    return stream_write(s, str, strlen(str));
}

/* stream_putc: buffer one byte. */
int stream_putc(stream *s, int ch)
{
    if (stream_write_state(s) < 0)
        return -1;
    if (s->wlen == STREAM_BUFSIZE && stream_flush(s) < 0)
        return -1;
    s->wbuf[s->wlen++] = (unsigned char) ch;
    return 0;
}

/* stream_vprintf: format into the output buffer. */
int stream_vprintf(stream *s, const char *fmt, va_list ap)
{
    va_list ap2;
    size_t  room;
    int     n;

    if (stream_write_state(s) < 0)
        return -1;
    room = STREAM_BUFSIZE - s->wlen;
    va_copy(ap2, ap);
    n = vsnprintf((char *) s->wbuf + s->wlen, room, fmt, ap2);
    va_end(ap2);
    if (n < 0)
        msg_panic("stream_vprintf: bad format \"%s\"", fmt);
    if ((size_t) n < room) {
        s->wlen += (size_t) n;
        return 0;
    }
    /* Did not fit (the tail written so far is ignored: wlen unchanged). */
    if ((size_t) n < STREAM_BUFSIZE) {
        if (stream_flush(s) < 0)
            return -1;
        va_copy(ap2, ap);
        n = vsnprintf((char *) s->wbuf, STREAM_BUFSIZE, fmt, ap2);
        va_end(ap2);
        if (n < 0 || (size_t) n >= STREAM_BUFSIZE)
            msg_panic("stream_vprintf: inconsistent vsnprintf result");
        s->wlen = (size_t) n;
        return 0;
    } else {
        strbuf *tmp = strbuf_new((size_t) n);
        int     ret;

        va_copy(ap2, ap);
        (void) strbuf_vprintf(tmp, fmt, ap2);
        va_end(ap2);
        ret = stream_write(s, tmp->data, tmp->len);
        strbuf_free(tmp);
        return ret;
    }
}

/* stream_printf: format into the output buffer. */
int stream_printf(stream *s, const char *fmt, ...)
{
    va_list ap;
    int     ret;

    va_start(ap, fmt);
    ret = stream_vprintf(s, fmt, ap);
    va_end(ap);
    return ret;
}

/* stream_error: 1 after an error or timeout in either direction. */
int stream_error(const stream *s)
{
    return s->rd_err || s->rd_timeout || s->wr_err || s->wr_timeout;
}

/* stream_eof: 1 after end of input. */
int stream_eof(const stream *s)
{
    return s->rd_eof;
}

/* stream_timed_out: 1 after a timeout in either direction. */
int stream_timed_out(const stream *s)
{
    return s->rd_timeout || s->wr_timeout;
}

/* stream_clear_error: forget EOF, error and timeout state. */
void stream_clear_error(stream *s)
{
    s->rd_eof = s->rd_err = s->rd_timeout = 0;
    s->wr_err = s->wr_timeout = 0;
    s->rd_errno = s->wr_errno = 0;
}

/* stream_set_io: route reads and writes through rd/wr (NULL: the fd). */
void    stream_set_io(stream *s, stream_io_read_fn rd, stream_io_write_fn wr,
                      void *ctx)
{
    if ((rd == NULL) != (wr == NULL))
        msg_panic("stream_set_io: read and write functions come as a pair");
    s->io_read = rd;
    s->io_write = wr;
    s->io_ctx = rd ? ctx : NULL;
}

/* stream_status_str: text for a status. */
const char *stream_status_str(enum stream_status status)
{
    switch (status) {
    case STREAM_OK:
        return "ok";
    case STREAM_EOF:
        return "end of file";
    case STREAM_TOOLONG:
        return "line too long";
    case STREAM_TIMEOUT:
        return "timeout";
    case STREAM_ERROR:
        return "I/O error";
    }
    return "unknown status";
}
