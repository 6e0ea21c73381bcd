/*
 * hdr_addr: split the address list in an RFC 5322 header value (To:, Cc:,
 * Bcc:, From:, Sender:, Reply-To:, Resent-*:) into addresses, each in
 * internal form (see addr.h) with its byte span in the value, so that a
 * rewriting step can replace the address alone and keep phrases and
 * comments. See hdr_addr.c for the grammar we accept and the judgement
 * calls on malformed input.
 */
#ifndef POSTERN_HDR_ADDR_H
#define POSTERN_HDR_ADDR_H

#include <stddef.h>

/* Comments nested deeper than this end the parse (HDR_ADDR_ERR_DEPTH). */
#define HDR_ADDR_COMMENT_DEPTH  32

/* hdr_addr_item.flags */
#define HDR_ADDR_IN_GROUP   (1 << 0)    /* member of a group "name: ...;" */
#define HDR_ADDR_ANGLE      (1 << 1)    /* written as <addr-spec> */
#define HDR_ADDR_INVALID    (1 << 2)    /* not a valid RFC 5321 mailbox */

/* hdr_addr_list.errors */
#define HDR_ADDR_ERR_SYNTAX   (1 << 0)  /* malformed, but recovered */
#define HDR_ADDR_ERR_DROPPED  (1 << 1)  /* text skipped: not an address */
#define HDR_ADDR_ERR_DEPTH    (1 << 2)  /* comment nesting over the cap */
#define HDR_ADDR_ERR_TOO_MANY (1 << 3)  /* more than max addresses */

typedef struct hdr_addr_item {
    char   *addr;                       /* internal form, owned by the list */
    size_t  start;                      /* offset of the address text */
    size_t  end;                        /* one past its last byte */
    int     flags;                      /* HDR_ADDR_* */
} hdr_addr_item;

typedef struct hdr_addr_list {
    hdr_addr_item *items;
    size_t  count;
    int     errors;                     /* HDR_ADDR_ERR_* */
} hdr_addr_list;

hdr_addr_list *hdr_addr_parse(const char *value, size_t len, size_t max,
                              int addr_flags);
hdr_addr_list *hdr_addr_list_free(hdr_addr_list *list);
const char *hdr_addr_strerror(int errors);

#endif
