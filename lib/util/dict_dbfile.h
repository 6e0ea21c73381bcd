/*
 * dict_dbfile: file handling shared by the database table types (hash,
 * btree, lmdb, cdb): opening and locking the table file, building a new
 * table in a private temporary file and installing it atomically, and
 * the "database is older than its source" warning. See dict_dbfile.c for
 * the contracts.
 */
#ifndef POSTERN_DICT_DBFILE_H
#define POSTERN_DICT_DBFILE_H

#include <sys/stat.h>
#include <time.h>

#include "dict.h"
#include "strbuf.h"

/* How many times an open retries when the file is replaced under it. */
#define DICT_DBFILE_OPEN_TRIES  5

int     dict_dbfile_open(const char *path, int oflags, int lock,
                         struct stat *st, strbuf *err);
int     dict_dbfile_same(int fd, int other_fd);
int     dict_dbfile_lock(int fd, int op, const char *path, strbuf *err);
int     dict_dbfile_temp(const char *path, strbuf *tmp_path, strbuf *err);
int     dict_dbfile_install(dict *d, int fd, strbuf *tmp_path,
                            const char *path, strbuf *err);
int     dict_dbfile_chown(dict *d, int fd, const char *path, strbuf *err);
void    dict_dbfile_check_age(const char *source, const char *path,
                              time_t mtime);

#endif
