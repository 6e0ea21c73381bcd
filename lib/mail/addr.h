/*
 * addr: RFC 5321 envelope mailboxes (MAIL FROM, RCPT TO, the sendmail
 * command line), their internal form, ESMTP parameters and xtext.
 *
 * Internal form: the local part with its quoting removed, then "@" and the
 * domain exactly as received (case kept): "a b"@example.com is held as
 * a b@example.com. The domain of an internal address is what follows its
 * last '@'; an address without '@' has no domain. The null sender is "".
 * addr_internal_to_external() puts the quotes back where RFC 5321 needs
 * them. See addr.c for the full contracts.
 */
#ifndef POSTERN_ADDR_H
#define POSTERN_ADDR_H

#include <stddef.h>

#include "strbuf.h"

/* RFC 5321 section 4.5.3.1 size limits, in octets. */
#define ADDR_LOCAL_MAX      64          /* local part, as written */
#define ADDR_DOMAIN_MAX     255         /* domain */
#define ADDR_PATH_MAX       256         /* "<" ... ">" including the brackets */
#define ADDR_LABEL_MAX      63          /* one domain label */

/* addr_parse, addr_check_domain, addr_valid_hostname, addr_params_parse
 * flags. */
#define ADDR_F_STRICT       (1 << 0)    /* SMTP syntax: <...> required */
#define ADDR_F_SMTPUTF8     (1 << 1)    /* UTF-8 allowed (RFC 6531) */
#define ADDR_F_NULL_OK      (1 << 2)    /* <> (null sender) accepted */
#define ADDR_F_LOCAL_OK     (1 << 3)    /* a local part without @domain */
#define ADDR_F_POSTMASTER   (1 << 4)    /* <postmaster> without domain */

/* addr_split_local flags. */
#define ADDR_SPLIT_OWNER_REQUEST (1 << 0)   /* owner_request_special */

int     addr_parse(const char *text, size_t len, int flags, strbuf *internal,
                   size_t *rest, const char **why);
const char *addr_check_domain(const char *domain, size_t len, int flags);
int     addr_valid_hostname(const char *name, int flags);
int     addr_valid_utf8(const char *bytes, size_t len);

int     addr_internal_to_external(const char *internal, strbuf *out);
int     addr_external_to_internal(const char *external, size_t len,
                                  strbuf *out);
int     addr_local_needs_quote(const char *local, size_t len);

const char *addr_domain_of(const char *internal);
size_t  addr_local_len(const char *internal);
void    addr_fold_domain(char *internal);
int     addr_split_local(const char *local, size_t len, const char *delims,
                         int flags, strbuf *user, strbuf *ext);

/* One ESMTP parameter: keyword[=value], pointing into the caller's text. */
typedef struct addr_param {
    const char *keyword;                /* not NUL-terminated */
    size_t  keyword_len;
    const char *value;                  /* NULL when there is no "=value" */
    size_t  value_len;
} addr_param;

int     addr_params_parse(const char *text, size_t len, int flags,
                          addr_param *params, size_t max, size_t *count,
                          const char **why);
const addr_param *addr_params_find(const addr_param *params, size_t count,
                                   const char *keyword);

int     addr_xtext_decode(const char *text, size_t len, strbuf *out);
int     addr_xtext_encode(const char *bytes, size_t len, strbuf *out);

#endif
