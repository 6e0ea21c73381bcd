/*
 * fileio: whole-file and whole-buffer I/O on plain descriptors, for the
 * places that need no buffered stream (config files, in-place queue-file
 * updates, log lines).
 */
#ifndef POSTERN_FILEIO_H
#define POSTERN_FILEIO_H

#include <stddef.h>
#include <sys/types.h>

#include "strbuf.h"

int     fileio_read_all(const char *path, size_t max, strbuf *buf, strbuf *err);
int     fileio_write_all(int fd, const void *buf, size_t len);
int     fileio_pread_full(int fd, void *buf, size_t len, off_t offset);
int     fileio_pwrite_full(int fd, const void *buf, size_t len, off_t offset);

#endif
