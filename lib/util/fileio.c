/*
 * fileio: whole-file and whole-buffer I/O on plain descriptors.
 *
 * Public functions:
 *   fileio_read_all(path, max, buf, err): read a whole regular file of at
 *     most max bytes into buf (replacing its content). Returns 0, 1 when
 *     the file does not exist (buf then empty), -1 with err (may be NULL)
 *     set to "PATH: what is wrong".
 *   fileio_write_all(fd, buf, len): write all len bytes, retrying after
 *     EINTR and short writes. Returns 0, or -1 with errno set (EIO for a
 *     write that made no progress).
 *   fileio_pread_full(fd, buf, len, offset): pread exactly len bytes;
 *     -1 with errno on error, EINVAL when the file is shorter.
 *   fileio_pwrite_full(fd, buf, len, offset): pwrite exactly len bytes;
 *     -1 with errno on error.
 *
 * SECURITY: fileio_read_all opens with O_NONBLOCK and refuses anything but
 * a regular file, so a FIFO or device put in place of a config file
 * cannot hang or flood the reader.
 * LIMITS: the caller's max for whole-file reads.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fileio.h"
#include "strbuf.h"

/* fileio_read_all: read a whole regular file, bounded. */
int fileio_read_all(const char *path, size_t max, strbuf *buf, strbuf *err)
{
    char    chunk[65536];
    struct stat st;
    int     fd;
    ssize_t n;

    strbuf_reset(buf);
    if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK)) < 0) {
        if (errno == ENOENT)
            return 1;
        strbuf_setf(err, "%s: cannot open: %s", path, strerror(errno));
        return -1;
    }
    if (fstat(fd, &st) < 0) {
        strbuf_setf(err, "%s: cannot stat: %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    if (!S_ISREG(st.st_mode)) {
        strbuf_setf(err, "%s: not a regular file", path);
        close(fd);
        return -1;
    }
    for (;;) {
        n = read(fd, chunk, sizeof(chunk));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            strbuf_setf(err, "%s: read error: %s", path, strerror(errno));
            close(fd);
            return -1;
        }
        if (n == 0)
            break;
        if ((size_t) n > max - buf->len || strbuf_append(buf, chunk, (size_t) n) < 0) {
            strbuf_setf(err, "%s: file larger than %lu bytes", path, (unsigned long) max);
            close(fd);
            strbuf_reset(buf);
            return -1;
        }
    }
    close(fd);
    return 0;
}

/* fileio_write_all: write a whole buffer. */
int fileio_write_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;

    while (len > 0) {
        ssize_t n = write(fd, p, len);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            if (n == 0)
                errno = EIO;
            return -1;
        }
        p += n;
        len -= (size_t) n;
    }
    return 0;
}

/* fileio_pread_full: pread exactly len bytes; -1 on error or short file. */
int fileio_pread_full(int fd, void *buf, size_t len, off_t offset)
{
    size_t  done = 0;

    while (done < len) {
        ssize_t n = pread(fd, (char *) buf + done, len - done, offset + (off_t) done);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        if (n == 0) {
            errno = EINVAL;
            return -1;
        }
        done += (size_t) n;
    }
    return 0;
}

/* fileio_pwrite_full: pwrite exactly len bytes. */
int fileio_pwrite_full(int fd, const void *buf, size_t len, off_t offset)
{
    size_t  done = 0;

    while (done < len) {
        ssize_t n = pwrite(fd, (const char *) buf + done, len - done,
                           offset + (off_t) done);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            if (n == 0)
                errno = EIO;
            return -1;
        }
        done += (size_t) n;
    }
    return 0;
}
