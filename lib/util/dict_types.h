/*
 * dict_types: the open functions of the lookup-table types, for the
 * registry in dict.c. Each is defined in its own dict_<type>.c module and
 * follows dict_open_fn: open(name, flags, err) returns a table (a struct
 * that starts with struct dict, made with dict_alloc) or NULL with err
 * set to a message that names the file (and line, for text sources).
 *
 * Contract every type keeps:
 * - lookup returns DICT_FOUND/DICT_NOTFOUND/DICT_RETRY and never turns an
 *   I/O or database error into DICT_NOTFOUND; values are at most
 *   DICT_VALUE_MAX bytes.
 * - A type that can be written sets DICT_P_WRITABLE; dict.c refuses
 *   CREATE/UPDATE for the others after open.
 * - File-backed types set DICT_P_FILE and a changed method (use
 *   dict_file_changed on the file they read).
 * - close frees everything, ending with dict_free_base.
 */
#ifndef POSTERN_DICT_TYPES_H
#define POSTERN_DICT_TYPES_H

#include "dict.h"

dict   *dict_hash_open(const char *name, int flags, strbuf *err);
dict   *dict_btree_open(const char *name, int flags, strbuf *err);
dict   *dict_lmdb_open(const char *name, int flags, strbuf *err);
dict   *dict_cdb_open(const char *name, int flags, strbuf *err);
dict   *dict_texthash_open(const char *name, int flags, strbuf *err);
dict   *dict_inline_open(const char *name, int flags, strbuf *err);
dict   *dict_static_open(const char *name, int flags, strbuf *err);
dict   *dict_regexp_open(const char *name, int flags, strbuf *err);
dict   *dict_unix_open(const char *name, int flags, strbuf *err);
dict   *dict_fail_open(const char *name, int flags, strbuf *err);

#endif
