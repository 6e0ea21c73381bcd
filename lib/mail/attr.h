/*
 * attr: the attribute protocol that Postern programs speak to each other.
 *
 * A request or a reply is one message: an ordered list of name=value
 * attributes. Messages travel over UNIX stream sockets (or any stream).
 *
 * Wire grammar (bytes; LF is 0x0A):
 *
 *   message  = *attr-line LF              ; an empty line ends a message
 *   attr-line = name "=" value LF
 *   name     = 1*64( %x61-7A / %x30-39 / "_" )      ; [a-z0-9_]
 *   value    = *( plain / escape )
 *   plain    = %x21-24 / %x26-7E / %x80-FF         ; sent as is
 *   escape   = "%" HEXUP HEXUP                     ; one value byte
 *   HEXUP    = %x30-39 / %x41-46                   ; 0-9 A-F, upper case
 *
 * A value byte in 0x00-0x20, 0x7F or '%' (0x25) is always sent as an
 * escape; every other byte, 8-bit bytes included, is always sent as is.
 * So each value has exactly one encoding, and decoders reject anything
 * else: lower-case or non-hex escape digits, a truncated escape, an
 * escape of a byte that is sent as is, a raw byte that must be escaped
 * (CR, TAB, space, NUL, DEL, ...), a name outside the grammar, a line
 * without '=', and anything over the caller's limits (attr_limits):
 * attribute count, decoded value bytes, encoded message bytes (the final
 * LF included). The same name may appear twice on the wire; attr_scan
 * rejects that for callers.
 *
 * Example: sender "a b@x" and size 12 encode as
 *     sender=a%20b@x\nsize=12\n\n
 *
 * Conversations start with the server sending one message protocol=NAME
 * (attr_send_protocol); the client checks it (attr_expect_protocol)
 * before it sends a request. Attribute names are constants from
 * attr_names.h. See attr.c for the full contracts.
 */
#ifndef POSTERN_ATTR_H
#define POSTERN_ATTR_H

#include <stddef.h>

#include "strbuf.h"
#include "stream.h"

#define ATTR_NAME_MAX   64              /* longest attribute name */

/* One attribute. value has len bytes plus a terminating NUL. */
typedef struct attr_pair {
    char   *name;
    char   *value;
    size_t  len;
} attr_pair;

/* Ordered attributes; fields are public for reading only. */
typedef struct attr_list {
    attr_pair *items;
    size_t  count;
    size_t  size;
} attr_list;

/* Bounds for decoding; every reader states them. */
typedef struct attr_limits {
    size_t  max_attrs;                  /* attributes per message */
    size_t  max_value;                  /* decoded bytes per value */
    size_t  max_message;                /* encoded bytes per message */
} attr_limits;

attr_list *attr_list_new(void);
attr_list *attr_list_free(attr_list *list);
void    attr_list_reset(attr_list *list);
void    attr_list_add(attr_list *list, const char *name, const void *value, size_t len);
void    attr_list_add_str(attr_list *list, const char *name, const char *value);
void    attr_list_add_long(attr_list *list, const char *name, long value);
const char *attr_list_find(const attr_list *list, const char *name, size_t *lenp);

int     attr_name_ok(const char *name, size_t len);
int     attr_encode(strbuf *out, const attr_list *list);
int     attr_decode(const char *buf, size_t len, const attr_limits *limits,
                    attr_list *out, size_t *consumed, strbuf *err);

int     attr_write(stream *s, const attr_list *list);
int     attr_read(stream *s, const attr_limits *limits, attr_list *out, strbuf *err);

/* Strict scanning: what a caller expects from a message. */
enum attr_type {
    ATTR_STR,                           /* text: no NUL byte allowed */
    ATTR_LONG,                          /* decimal number within min..max */
    ATTR_DATA                           /* any bytes, with their length */
};

typedef struct attr_spec {
    const char *name;                   /* an ATTR_NAME_* constant */
    enum attr_type type;
    int     required;                   /* 1: missing is an error */
    long    min;                        /* ATTR_LONG bounds */
    long    max;
    const char **str_out;               /* ATTR_STR, ATTR_DATA */
    size_t *len_out;                    /* ATTR_DATA */
    long   *long_out;                   /* ATTR_LONG */
} attr_spec;

/* Spec initializers; each argument is used once. */
#define ATTR_SPEC_STR(name, required, strp) \
    { (name), ATTR_STR, (required), 0, 0, (strp), NULL, NULL }
#define ATTR_SPEC_LONG(name, required, min, max, longp) \
    { (name), ATTR_LONG, (required), (min), (max), NULL, NULL, (longp) }
#define ATTR_SPEC_DATA(name, required, datap, lenp) \
    { (name), ATTR_DATA, (required), 0, 0, (datap), (lenp), NULL }

int     attr_scan(const attr_list *list, const attr_spec specs[], int nspecs,
                  strbuf *err);

int     attr_send_protocol(stream *s, const char *proto);
int     attr_expect_protocol(stream *s, const char *proto, strbuf *err);

#endif
