/*
 * stream: buffered I/O over one file descriptor (sockets, pipes, files).
 *
 * A stream owns a read buffer and a write buffer of STREAM_BUFSIZE bytes
 * each. Reads and writes retry on EINTR and on short writes; with a
 * timeout set (stream_set_timeout) every wait for the descriptor is done
 * with poll() and bounded, on blocking and non-blocking descriptors alike.
 * Line input (stream_get_line) is bounded by the caller and keeps every
 * byte, NULs included.
 *
 * Before a read has to go to the descriptor, pending output is flushed
 * (the peer usually waits for our reply before it sends more). While
 * input is still buffered, output stays buffered too: that is what SMTP
 * pipelining wants.
 *
 * Status is kept per direction: a read timeout does not stop the caller
 * from writing a "timeout" reply. Read-side EOF, error and timeout are
 * sticky (later reads report them again without touching the descriptor)
 * until stream_clear_error(); so are write errors for writes.
 *
 * I/O normally goes to the descriptor; stream_set_io() routes every
 * read and write through caller-supplied functions instead (a TLS layer).
 * Those functions never block: they report "want read" or "want write"
 * and the stream waits for the descriptor with poll() within its timeout,
 * so timeouts hold over TLS exactly as over plain sockets. lib/util knows
 * nothing about what the functions do.
 *
 * See stream.c for the full contracts.
 */
#ifndef POSTERN_STREAM_H
#define POSTERN_STREAM_H

#include <stdarg.h>
#include <stddef.h>
#include <sys/types.h>

#include "strbuf.h"

typedef struct stream stream;

/* Buffer size per direction. */
#define STREAM_BUFSIZE  16384

/* stream_fdopen mode flags. */
#define STREAM_F_READ       (1 << 0)    /* reads allowed */
#define STREAM_F_WRITE      (1 << 1)    /* writes allowed */
#define STREAM_F_RDWR       (STREAM_F_READ | STREAM_F_WRITE)
#define STREAM_F_NOCLOSE    (1 << 2)    /* stream_close leaves the fd open */

/* Result of line and exact reads. */
enum stream_status {
    STREAM_OK = 0,                      /* data delivered */
    STREAM_EOF,                         /* end of input, nothing read */
    STREAM_TOOLONG,                     /* max bytes without newline */
    STREAM_TIMEOUT,                     /* the descriptor stayed idle */
    STREAM_ERROR                        /* I/O error (errno says which) */
};

stream *stream_fdopen(int fd, int flags);
stream *stream_open(const char *path, int open_flags, mode_t perms);
int     stream_close(stream *s);
int     stream_fd(const stream *s);

void    stream_set_timeout(stream *s, int milliseconds);
int     stream_timeout(const stream *s);

ssize_t stream_read(stream *s, void *buf, size_t len);
enum stream_status stream_read_exact(stream *s, void *buf, size_t len);
enum stream_status stream_get_line(stream *s, strbuf *line, size_t max);
size_t  stream_buffered(const stream *s);

int     stream_write(stream *s, const void *buf, size_t len);
int     stream_puts(stream *s, const char *str);
int     stream_putc(stream *s, int ch);
int     stream_printf(stream *s, const char *fmt, ...)
            __attribute__((format(printf, 2, 3)));
int     stream_vprintf(stream *s, const char *fmt, va_list ap)
            __attribute__((format(printf, 2, 0)));
int     stream_flush(stream *s);
size_t  stream_pending(const stream *s);

int     stream_error(const stream *s);
int     stream_eof(const stream *s);
int     stream_timed_out(const stream *s);
void    stream_clear_error(stream *s);

const char *stream_status_str(enum stream_status status);

/*
 * Replacement I/O (stream_set_io). A read function returns a byte count
 * > 0, 0 at end of input, or one of the codes below; a write function a
 * count > 0 (short writes are fine) or a code. Neither may block.
 */
#define STREAM_IO_ERROR       (-1)      /* failed; errno says why */
#define STREAM_IO_WANT_READ   (-2)      /* call again once fd is readable */
#define STREAM_IO_WANT_WRITE  (-3)      /* call again once fd is writable */

typedef ssize_t (*stream_io_read_fn) (void *ctx, void *buf, size_t len);
typedef ssize_t (*stream_io_write_fn) (void *ctx, const void *buf,
                                       size_t len);

void    stream_set_io(stream *s, stream_io_read_fn rd, stream_io_write_fn wr,
                      void *ctx);

#include "banned.h"

#endif
