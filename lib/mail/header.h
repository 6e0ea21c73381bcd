/*
 * header: read the header block of an RFC 5322 message held in memory.
 *
 * A header field is a line "name:" (name = 1..HEADER_NAME_MAX printable
 * ASCII characters other than ':' and space) followed by zero or more
 * continuation lines that start with a space or a TAB. The block ends
 * at the first empty line (which is part of neither headers nor body),
 * or at the first line that is neither a field nor a continuation (that
 * line starts the body), or at the end of the data. Line ends are LF;
 * a CR before the LF is kept as part of the line.
 *
 * header_parse() returns the fields in order, each with its raw text
 * (name, colon, value and folding, without the final LF), and the
 * offset where the body starts. It never fails: limits are reported in
 * the block's flags and the rest of the data counts as body.
 *
 * See header.c for the function contracts.
 */
#ifndef POSTERN_HEADER_H
#define POSTERN_HEADER_H

#include <stddef.h>

#include "strbuf.h"

#define HEADER_NAME_MAX     256         /* longest field name */

/* header_block.flags */
#define HEADER_F_TOO_BIG    (1 << 0)    /* a field passed max_size */
#define HEADER_F_TOO_MANY   (1 << 1)    /* more than max_fields fields */
#define HEADER_F_BLANK_LINE (1 << 2)    /* ended by an empty line */

typedef struct header_field {
    const char *text;                   /* points into the parsed data */
    size_t  len;                        /* whole field, without final LF */
    size_t  name_len;                   /* bytes of the name */
    size_t  offset;                     /* offset of the field in the data */
} header_field;

typedef struct header_block {
    header_field *fields;
    size_t  count;
    size_t  body_offset;                /* first byte of the body */
    size_t  header_end;                 /* one past the last field's LF */
    int     flags;                      /* HEADER_F_* */
} header_block;

header_block *header_parse(const char *data, size_t len, size_t max_size,
                           size_t max_fields);
header_block *header_block_free(header_block *hb);
size_t  header_name_len(const char *line, size_t len);
int     header_is(const header_field *f, const char *name);
int     header_has_prefix(const header_field *f, const char *prefix);
long    header_find(const header_block *hb, const char *name, size_t start);
void    header_value(const header_field *f, strbuf *out);
void    header_raw_value(const header_field *f, const char **value,
                         size_t *len);

#endif
