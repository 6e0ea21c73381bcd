/*
 * addr: RFC 5321 envelope mailboxes, their internal form, ESMTP
 * parameters and xtext.
 *
 * The internal form of an address is its local part with the quoting
 * removed, "@", and the domain as received (case kept). The domain is what
 * follows the LAST '@' (a quoted local part may hold '@' of its own); an
 * address without '@' is a bare local part; the null sender is "".
 *
 * Public functions:
 *   addr_parse(text, len, flags, internal, &rest, &why): parse the mailbox
 *     at the start of text (what follows "MAIL FROM:" / "RCPT TO:", or one
 *     sendmail command-line argument). Leading SP/TAB are skipped. Accepted
 *     forms: <mailbox>, <> (only with ADDR_F_NULL_OK), <@route,@route:
 *     mailbox> (the route is checked and dropped) and, unless
 *     ADDR_F_STRICT, a bare mailbox that ends at SP, TAB or the end of the
 *     text. Without ADDR_F_STRICT, SP/TAB are tolerated just inside the
 *     brackets and the parameters may follow '>' without a space. A mailbox
 *     without "@domain" needs ADDR_F_LOCAL_OK, or ADDR_F_POSTMASTER when
 *     its local part is "postmaster" in any case (RFC 5321 4.5.1); it may
 *     not be "" or hold a quoted '@' (its internal form would read as the
 *     null sender or as local@domain). Bytes
 *     >= 0x80 need ADDR_F_SMTPUTF8 and must be well-formed UTF-8. On
 *     success returns 0, puts the internal form into internal (replacing
 *     its content) and sets rest (when not NULL) to the offset of the text
 *     after the address and the SP/TAB that follow it: the ESMTP
 *     parameters, or len. On error returns -1 and sets why to a short
 *     static reason fit for a 501 reply ("bad address syntax", "domain name
 *     too long", ...); internal then holds nothing useful. Empty input is
 *     an error ("missing address"); sendmail passes "<>" for -f ''.
 *   addr_check_domain(domain, len, flags): NULL when domain is a valid
 *     hostname or address literal ([192.0.2.1], [IPv6:2001:db8::1], checked
 *     with inet_pton), else the reason. Only ADDR_F_SMTPUTF8 matters.
 *   addr_valid_hostname(name, flags): 1 when the NUL-terminated name is a
 *     valid host name (labels of 1..63 letters, digits and '-', not
 *     starting or ending with '-', at most 255 octets, no trailing dot, a
 *     last label that is not all digits; UTF-8 labels with
 *     ADDR_F_SMTPUTF8), else 0.
 *   addr_valid_utf8(bytes, len): 1 when bytes are well-formed UTF-8 (no
 *     overlong forms, no surrogates, nothing above U+10FFFF), else 0.
 *   addr_internal_to_external(internal, out): out = the address as it is
 *     written on the wire, the local part quoted when it is not a dot-atom
 *     ('"' and '\' escaped); the domain is copied unchanged. "" stays "".
 *     Returns 0, or -1 when out's limit is reached.
 *   addr_external_to_internal(external, len, out): out = internal form:
 *     quoted strings in the local part (up to the first '@' outside
 *     quotes) lose their quotes and quoted-pairs their backslash; the rest
 *     is copied. No validation. Returns 0, or -1 on an unterminated quote,
 *     a NUL byte, or out's limit (out holds the best effort).
 *   addr_local_needs_quote(local, len): 1 when the local part is not a
 *     dot-atom (bytes >= 0x80 count as atom text), so it needs quotes.
 *   addr_domain_of(internal): pointer to the domain (after the last '@')
 *     inside internal, or NULL when there is no '@'.
 *   addr_local_len(internal): length of the local part of internal.
 *   addr_fold_domain(internal): ASCII lower-case the domain in place.
 *   addr_split_local(local, len, delims, flags, user, ext): split a local
 *     part at the first byte that is one of the recipient_delimiter
 *     characters delims (Postfix semantics: the first delimiter found wins,
 *     whichever character it is). Not split: an empty delims; the reserved
 *     names postmaster, mailer-daemon and double-bounce (any case); with
 *     ADDR_SPLIT_OWNER_REQUEST (owner_request_special) and '-' among the
 *     delimiters, names that start with "owner-" or end in "-request"; and
 *     (our choice) a delimiter in the first position, which would leave an
 *     empty user name. Returns the delimiter byte that split (user = the
 *     text before it, ext = after it), 0 when not split (user = local, ext
 *     = ""), -1 when user or ext hit their limit.
 *   addr_params_parse(text, len, flags, params, max, &count, &why): split
 *     the ESMTP parameters "KEYWORD[=value] ..." (RFC 5321 4.1.2) into at
 *     most max entries that point into text. Keywords: a letter or digit,
 *     then letters, digits, '-'. Values: one or more bytes 33..126 other
 *     than '=' (UTF-8 too with ADDR_F_SMTPUTF8). Separators: runs of
 *     SP/TAB. A keyword given twice (any case) is an error. Returns 0, or
 *     -1 with a reason in why. Values stay encoded: decode ENVID and ORCPT
 *     with addr_xtext_decode.
 *   addr_params_find(params, count, keyword): the entry whose keyword
 *     matches (ASCII case-insensitive), or NULL.
 *   addr_xtext_decode(text, len, out): RFC 3461 xtext to bytes. "+XX"
 *     takes two hex digits; we accept lower-case hex as well as the
 *     upper-case the RFC prescribes (a client's "+2b" should not cost the
 *     DSN data). Raw bytes must be 33..126 other than '='. A decoded
 *     control character (below 32, or 127) is refused. Returns 0, or -1
 *     (out then holds nothing useful).
 *   addr_xtext_encode(bytes, len, out): bytes to xtext; '+', '=' and
 *     every byte outside 33..126 become "+XX" with upper-case hex.
 *     Returns 0, or -1 when out's limit is reached.
 *   All strbuf outputs are replaced, not appended to.
 *
 * SECURITY: every input here comes from a client, a command line or a
 * header and is untrusted. All scans are bounded by the given length; a
 * NUL or other control byte is refused; nothing reaches msg_fatal or
 * msg_panic. No privilege is involved.
 * LIMITS: local part 64 octets as written, domain 255, path 256 (brackets
 * and source route included; a bare address counts as if bracketed),
 * label 63; address literals shorter than 64 octets; max ESMTP parameters
 * as the caller says.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stddef.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "addr.h"
#include "utf8.h"
#include "mem.h"
#include "strbuf.h"
#include "strutil.h"

/* Reasons handed back in *why. */
#define WHY_SYNTAX      "bad address syntax"
#define WHY_MISSING     "missing address"
#define WHY_NO_LT       "angle brackets required"
#define WHY_NO_GT       "missing '>' after address"
#define WHY_NULL        "null address not allowed"
#define WHY_ROUTE       "bad source route"
#define WHY_LOCAL_LONG  "local part too long"
#define WHY_DOMAIN_LONG "domain name too long"
#define WHY_LABEL_LONG  "domain label too long"
#define WHY_PATH_LONG   "address too long"
#define WHY_NO_DOMAIN   "missing domain name"
#define WHY_DOMAIN      "bad domain name syntax"
#define WHY_LITERAL     "bad address literal"
#define WHY_8BIT        "non-ASCII address needs SMTPUTF8"
#define WHY_UTF8        "malformed UTF-8 in address"
#define WHY_CONTROL     "control character in address"
#define WHY_NUL         "NUL character in address"
#define WHY_TOO_LONG    "address too long for buffer"

#define WHY_PARAM       "bad parameter syntax"
#define WHY_PARAM_VALUE "bad parameter value"
#define WHY_PARAM_8BIT  "non-ASCII parameter needs SMTPUTF8"
#define WHY_PARAM_DUP   "duplicate parameter"
#define WHY_PARAM_MANY  "too many parameters"

/* addr_is_alnum: ASCII letter or digit. */
static int addr_is_alnum(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
        || (c >= '0' && c <= '9');
}

/* addr_is_atext: RFC 5322 atext (ASCII only). */
static int addr_is_atext(unsigned char c)
{
    static const char extra[] = "!#$%&'*+-/=?^_`{|}~";

    return addr_is_alnum(c) || (c != 0 && memchr(extra, c, sizeof(extra) - 1));
}

/* addr_equal_ci: len bytes of s equal the NUL-terminated word, any case. */
static int addr_equal_ci(const char *s, size_t len, const char *word)
{
    return strlen(word) == len && strncasecmp(s, word, len) == 0;
}

/* addr_is_control: C0 control or DEL. */
static int addr_is_control(unsigned char c)
{
    return c < 0x20 || c == 0x7f;
}

/* addr_is_blank: SP or TAB. */
static int addr_is_blank(unsigned char c)
{
    return c == ' ' || c == '\t';
}

/* addr_valid_utf8: well-formed UTF-8 test. */
int addr_valid_utf8(const char *bytes, size_t len)
{
    return utf8_valid(bytes, len);
}

/*
 * addr_check_8bit: check the non-ASCII sequence at p for use in an
 * address; returns its length, or 0 with *why set.
 */
static size_t addr_check_8bit(const unsigned char *p, size_t len, int flags,
                              const char **why)
{
    size_t  n;
    unsigned cp;

    if ((flags & ADDR_F_SMTPUTF8) == 0) {
        *why = WHY_8BIT;
        return 0;
    }
    if ((n = utf8_seq(p, len, &cp)) == 0) {
        *why = WHY_UTF8;
        return 0;
    }
    if (cp < 0xa0) {                    /* C1 controls */
        *why = WHY_CONTROL;
        return 0;
    }
    return n;
}

/* addr_check_hostname: NULL when the name is a valid host name. */
static const char *addr_check_hostname(const char *name, size_t len, int flags)
{
    const unsigned char *p = (const unsigned char *) name;
    const char *why = NULL;
    size_t  i, n, label = 0;
    int     digits_only = 1;

    if (len == 0)
        return WHY_NO_DOMAIN;
    if (len > ADDR_DOMAIN_MAX)
        return WHY_DOMAIN_LONG;
    for (i = 0; i <= len; i++) {
        if (i == len || p[i] == '.') {
            /* End of a label: i - label octets. */
            if (i == label || p[i - 1] == '-')
                return WHY_DOMAIN;
            if (i - label > ADDR_LABEL_MAX)
                return WHY_LABEL_LONG;
            if (i == len)
                break;
            label = i + 1;
            digits_only = 1;
        } else if (addr_is_alnum(p[i]) || p[i] == '-') {
            if (p[i] == '-' && i == label)
                return WHY_DOMAIN;
            if (p[i] < '0' || p[i] > '9')
                digits_only = 0;
        } else if (p[i] >= 0x80) {
            if ((n = addr_check_8bit(p + i, len - i, flags, &why)) == 0)
                return why;
            i += n - 1;
            digits_only = 0;
        } else if (addr_is_control(p[i])) {
            return p[i] ? WHY_CONTROL : WHY_NUL;
        } else {
            return WHY_DOMAIN;
        }
    }
    /* A numeric top-level label means an IP address written as a name. */
    if (digits_only)
        return WHY_DOMAIN;
    return NULL;
}

/* addr_check_literal: NULL when [text] is a valid IPv4/IPv6 literal. */
static const char *addr_check_literal(const char *lit, size_t len)
{
    char    buf[64];
    unsigned char bin[sizeof(struct in6_addr)];
    const char *inner = lit + 1;
    size_t  ilen;
    int     family = AF_INET;

    if (len < 2 || lit[len - 1] != ']')
        return WHY_LITERAL;
    ilen = len - 2;
    if (ilen >= 5 && strncasecmp(inner, "IPv6:", 5) == 0) {
        family = AF_INET6;
        inner += 5;
        ilen -= 5;
    }
    if (ilen == 0 || ilen >= sizeof(buf) || memchr(inner, 0, ilen))
        return WHY_LITERAL;
    memcpy(buf, inner, ilen);
    buf[ilen] = 0;
    if (inet_pton(family, buf, bin) != 1)
        return WHY_LITERAL;
    return NULL;
}

/* addr_check_domain: NULL when the domain is a host name or literal. */
const char *addr_check_domain(const char *domain, size_t len, int flags)
{
    if (len > ADDR_DOMAIN_MAX)
        return WHY_DOMAIN_LONG;
    if (len > 0 && domain[0] == '[')
        return addr_check_literal(domain, len);
    return addr_check_hostname(domain, len, flags);
}

/* addr_valid_hostname: 1 when name is a valid host name. */
int addr_valid_hostname(const char *name, int flags)
{
    return addr_check_hostname(name, strlen(name), flags) == NULL;
}

/*
 * addr_scan_domain: end of the domain starting at i: a literal runs to its
 * ']', a name to SP/TAB or a byte in stops.
 */
static size_t addr_scan_domain(const char *text, size_t len, size_t i,
                               const char *stops)
{
    const char *close;

    if (i < len && text[i] == '[') {
        close = memchr(text + i, ']', len - i);
        return close ? (size_t) (close - text) + 1 : len;
    }
    while (i < len && !addr_is_blank((unsigned char) text[i])
           && strchr(stops, text[i]) == NULL)
        i++;
    return i;
}

/* addr_scan_route: skip "@d1,@d2:" at i; returns the index after ':'. */
static int addr_scan_route(const char *text, size_t len, size_t *ip, int flags)
{
    size_t  i = *ip, end;

    for (;;) {
        i++;                            /* the '@' */
        end = addr_scan_domain(text, len, i, ",:>");
        if (addr_check_domain(text + i, end - i, flags) != NULL)
            return -1;
        i = end;
        if (i < len && text[i] == ',' && i + 1 < len && text[i + 1] == '@') {
            i++;
            continue;
        }
        if (i < len && text[i] == ':') {
            *ip = i + 1;
            return 0;
        }
        return -1;
    }
}

/*
 * addr_scan_local: parse the local part at *ip into out (unquoted);
 * returns NULL or the reason.
 */
static const char *addr_scan_local(const char *text, size_t len, size_t *ip,
                                   int flags, strbuf *out)
{
    const unsigned char *p = (const unsigned char *) text;
    const char *why = NULL;
    size_t  i = *ip, n;
    int     err = 0;
    int     prev_dot = 1;

    if (i < len && p[i] == '"') {
        for (i++;;) {
            if (i - *ip > ADDR_LOCAL_MAX)
                return WHY_LOCAL_LONG;  /* stop early: bounded work */
            if (i >= len)
                return WHY_SYNTAX;
            if (p[i] == '"') {
                i++;
                break;
            }
            if (p[i] == '\\') {
                if (++i >= len)
                    return WHY_SYNTAX;
                if (addr_is_control(p[i]))
                    return p[i] ? WHY_CONTROL : WHY_NUL;
                if (p[i] >= 0x80)
                    return WHY_SYNTAX;  /* quoted-pair is ASCII only */
                err |= strbuf_putc(out, p[i++]);
            } else if (p[i] >= 0x80) {
                if ((n = addr_check_8bit(p + i, len - i, flags, &why)) == 0)
                    return why;
                err |= strbuf_append(out, p + i, n);
                i += n;
            } else if (addr_is_control(p[i])) {
                return p[i] ? WHY_CONTROL : WHY_NUL;
            } else {
                err |= strbuf_putc(out, p[i++]);
            }
        }
    } else {
        while (i < len) {
            if (i - *ip > ADDR_LOCAL_MAX)
                return WHY_LOCAL_LONG;
            if (p[i] == '.') {
                if (prev_dot)
                    return WHY_SYNTAX;  /* leading or double dot */
                prev_dot = 1;
                err |= strbuf_putc(out, p[i++]);
            } else if (addr_is_atext(p[i])) {
                prev_dot = 0;
                err |= strbuf_putc(out, p[i++]);
            } else if (p[i] >= 0x80) {
                if ((n = addr_check_8bit(p + i, len - i, flags, &why)) == 0)
                    return why;
                prev_dot = 0;
                err |= strbuf_append(out, p + i, n);
                i += n;
            } else if (p[i] == 0) {
                return WHY_NUL;
            } else if (addr_is_control(p[i]) && !addr_is_blank(p[i])) {
                return WHY_CONTROL;
            } else {
                break;
            }
        }
        if (prev_dot)                   /* empty, or a trailing dot */
            return WHY_SYNTAX;
    }
    if (i - *ip > ADDR_LOCAL_MAX)
        return WHY_LOCAL_LONG;
    if (err)
        return WHY_TOO_LONG;
    *ip = i;
    return NULL;
}

/* addr_fail: report a parse error; returns -1. */
static int addr_fail(const char **why, const char *reason, strbuf *internal)
{
    *why = reason;
    strbuf_reset(internal);
    return -1;
}

/* addr_skip_blanks: index of the first byte at or after i that is not SP/TAB. */
static size_t addr_skip_blanks(const char *text, size_t len, size_t i)
{
    while (i < len && addr_is_blank((unsigned char) text[i]))
        i++;
    return i;
}

/*
 * addr_parse_mailbox: parse the mailbox at *ip up to (not including) its
 * terminator: '>' when bracketed, else SP/TAB or the end. Returns NULL or
 * the reason.
 */
static const char *addr_parse_mailbox(const char *text, size_t len, size_t *ip,
                                      int flags, int bracket, strbuf *internal)
{
    size_t  i = *ip, end, t;
    const char *reason;

    if ((reason = addr_scan_local(text, len, &i, flags, internal)) != NULL)
        return reason;
    if (i < len && text[i] == '@') {
        i++;
        end = addr_scan_domain(text, len, i, bracket ? ">" : "");
        if ((reason = addr_check_domain(text + i, end - i, flags)) != NULL)
            return reason;
        if (strbuf_putc(internal, '@') < 0
            || strbuf_append(internal, text + i, end - i) < 0)
            return WHY_TOO_LONG;
        i = end;
    } else {
        /* No domain: is the local part followed by the terminator? */
        t = (bracket && !(flags & ADDR_F_STRICT)) ? addr_skip_blanks(text, len, i) : i;
        if (!(t == len || (bracket ? text[t] == '>' : addr_is_blank((unsigned char) text[t]))))
            return WHY_SYNTAX;
        if ((flags & ADDR_F_LOCAL_OK) == 0
            && !((flags & ADDR_F_POSTMASTER)
                 && addr_equal_ci(internal->data, internal->len, "postmaster")))
            return WHY_NO_DOMAIN;
        /* "" would be the null sender, "a@b" would grow a domain. */
        if (internal->len == 0 || memchr(internal->data, '@', internal->len))
            return WHY_SYNTAX;
    }
    *ip = i;
    return NULL;
}

/* addr_parse: parse one envelope mailbox; see the header comment. */
int addr_parse(const char *text, size_t len, int flags, strbuf *internal,
               size_t *rest, const char **why)
{
    size_t  i, start;
    int     strict = (flags & ADDR_F_STRICT) != 0;
    const char *reason;

    strbuf_reset(internal);
    *why = NULL;
    if (memchr(text, 0, len))
        return addr_fail(why, WHY_NUL, internal);
    start = i = addr_skip_blanks(text, len, 0);
    if (i == len)
        return addr_fail(why, WHY_MISSING, internal);
    if (text[i] == '<') {
        i++;
        if (!strict)
            i = addr_skip_blanks(text, len, i);
        if (i < len && text[i] == '>') {
            if ((flags & ADDR_F_NULL_OK) == 0)
                return addr_fail(why, WHY_NULL, internal);
        } else {
            if (i < len && text[i] == '@'
                && addr_scan_route(text, len, &i, flags) < 0)
                return addr_fail(why, WHY_ROUTE, internal);
            if ((reason = addr_parse_mailbox(text, len, &i, flags, 1, internal)) != NULL)
                return addr_fail(why, reason, internal);
            if (!strict)
                i = addr_skip_blanks(text, len, i);
            if (i == len)
                return addr_fail(why, WHY_NO_GT, internal);
            if (text[i] != '>')
                return addr_fail(why, WHY_SYNTAX, internal);
        }
        i++;                            /* the '>' */
        if (i - start > ADDR_PATH_MAX)
            return addr_fail(why, WHY_PATH_LONG, internal);
        if (strict && i < len && text[i] != ' ')
            return addr_fail(why, WHY_SYNTAX, internal);
    } else if (strict) {
        return addr_fail(why, WHY_NO_LT, internal);
    } else {
        if ((reason = addr_parse_mailbox(text, len, &i, flags, 0, internal)) != NULL)
            return addr_fail(why, reason, internal);
        if (i < len && !addr_is_blank((unsigned char) text[i]))
            return addr_fail(why, WHY_SYNTAX, internal);
        if (i - start + 2 > ADDR_PATH_MAX)
            return addr_fail(why, WHY_PATH_LONG, internal);
    }
    if (rest)
        *rest = addr_skip_blanks(text, len, i);
    return 0;
}

/* addr_local_needs_quote: 1 unless the local part is a dot-atom. */
int addr_local_needs_quote(const char *local, size_t len)
{
    const unsigned char *p = (const unsigned char *) local;
    int     prev_dot = 1;
    size_t  i;

    for (i = 0; i < len; i++) {
        if (p[i] == '.') {
            if (prev_dot)
                return 1;
            prev_dot = 1;
        } else if (addr_is_atext(p[i]) || p[i] >= 0x80) {
            prev_dot = 0;
        } else {
            return 1;
        }
    }
    return prev_dot;                    /* empty, or a trailing dot */
}

/* addr_internal_to_external: quote the local part where needed. */
int addr_internal_to_external(const char *internal, strbuf *out)
{
    const char *at = strrchr(internal, '@');
    size_t  llen = at ? (size_t) (at - internal) : strlen(internal);
    size_t  i;
    int     err = 0;

    strbuf_reset(out);
    if (*internal == 0)
        return 0;
    if (addr_local_needs_quote(internal, llen)) {
        err |= strbuf_putc(out, '"');
        for (i = 0; i < llen; i++) {
            if (internal[i] == '"' || internal[i] == '\\')
                err |= strbuf_putc(out, '\\');
            err |= strbuf_putc(out, internal[i]);
        }
        err |= strbuf_putc(out, '"');
    } else {
        err |= strbuf_append(out, internal, llen);
    }
    if (at)
        err |= strbuf_puts(out, at);
    return err ? -1 : 0;
}

/* addr_external_to_internal: remove the quoting from the local part. */
int addr_external_to_internal(const char *external, size_t len, strbuf *out)
{
    size_t  i = 0;
    int     quoted = 0;
    int     err = 0;

    strbuf_reset(out);
    while (i < len) {
        char    c = external[i];

        if (c == 0)
            return -1;
        if (c == '\\' && i + 1 < len) {
            if (external[i + 1] == 0)
                return -1;
            err |= strbuf_putc(out, external[i + 1]);
            i += 2;
        } else if (c == '"') {
            quoted = !quoted;
            i++;
        } else if (c == '@' && !quoted) {
            break;
        } else {
            err |= strbuf_putc(out, c);
            i++;
        }
    }
    if (i < len) {
        if (memchr(external + i, 0, len - i))
            return -1;
        err |= strbuf_append(out, external + i, len - i);
    }
    return (err || quoted) ? -1 : 0;
}

/* addr_domain_of: the domain of an internal address, or NULL. */
const char *addr_domain_of(const char *internal)
{
    const char *at = strrchr(internal, '@');

    return at ? at + 1 : NULL;
}

/* addr_local_len: length of the local part of an internal address. */
size_t  addr_local_len(const char *internal)
{
    const char *at = strrchr(internal, '@');

    return at ? (size_t) (at - internal) : strlen(internal);
}

/* addr_fold_domain: ASCII lower-case the domain in place. */
void    addr_fold_domain(char *internal)
{
    char   *at = strrchr(internal, '@');

    if (at)
        str_lower(at + 1);
}

/* addr_split_local: split user+extension at the first delimiter. */
int addr_split_local(const char *local, size_t len, const char *delims,
                     int flags, strbuf *user, strbuf *ext)
{
    size_t  i;
    int     err = 0;

    strbuf_reset(user);
    strbuf_reset(ext);
    i = len;
    if (delims != NULL && *delims != 0
        && !addr_equal_ci(local, len, "postmaster")
        && !addr_equal_ci(local, len, "mailer-daemon")
        && !addr_equal_ci(local, len, "double-bounce")
        && !((flags & ADDR_SPLIT_OWNER_REQUEST) && strchr(delims, '-')
             && ((len > 6 && strncasecmp(local, "owner-", 6) == 0)
                 || (len > 8 && strncasecmp(local + len - 8, "-request", 8) == 0)))) {
        /* Start at 1: a leading delimiter would leave no user name. */
        for (i = 1; i < len; i++)
            if (local[i] != 0 && strchr(delims, local[i]) != NULL)
                break;
    }
    if (i >= len)
        return strbuf_set(user, local, len) < 0 ? -1 : 0;
    err |= strbuf_set(user, local, i);
    err |= strbuf_set(ext, local + i + 1, len - i - 1);
    return err ? -1 : (unsigned char) local[i];
}

/*
 * addr_param_value_end: end of the esmtp-value at i (which must not be
 * empty); returns NULL with *endp set, or the reason.
 */
static const char *addr_param_value_end(const char *text, size_t len, size_t i,
                                        int flags, size_t *endp)
{
    const unsigned char *p = (const unsigned char *) text;
    size_t  start = i, n;
    unsigned cp;

    while (i < len && !addr_is_blank(p[i])) {
        if (p[i] >= 0x80) {
            if ((flags & ADDR_F_SMTPUTF8) == 0)
                return WHY_PARAM_8BIT;
            if ((n = utf8_seq(p + i, len - i, &cp)) == 0 || cp < 0xa0)
                return WHY_PARAM_VALUE;
            i += n;
        } else if (p[i] < 33 || p[i] == 127 || p[i] == '=') {
            return WHY_PARAM_VALUE;
        } else {
            i++;
        }
    }
    if (i == start)
        return WHY_PARAM_VALUE;
    *endp = i;
    return NULL;
}

/* addr_params_parse: split ESMTP keyword[=value] parameters. */
int addr_params_parse(const char *text, size_t len, int flags,
                      addr_param *params, size_t max, size_t *count,
                      const char **why)
{
    const unsigned char *p = (const unsigned char *) text;
    addr_param param;
    size_t  i = 0, k, end;

    *count = 0;
    *why = NULL;
    for (;;) {
        i = addr_skip_blanks(text, len, i);
        if (i == len)
            return 0;
        if (!addr_is_alnum(p[i])) {
            *why = WHY_PARAM;
            return -1;
        }
        param.keyword = text + i;
        while (i < len && (addr_is_alnum(p[i]) || p[i] == '-'))
            i++;
        param.keyword_len = (size_t) (text + i - param.keyword);
        param.value = NULL;
        param.value_len = 0;
        if (i < len && p[i] == '=') {
            i++;
            if ((*why = addr_param_value_end(text, len, i, flags, &end)) != NULL)
                return -1;
            param.value = text + i;
            param.value_len = end - i;
            i = end;
        } else if (i < len && !addr_is_blank(p[i])) {
            *why = WHY_PARAM;
            return -1;
        }
        for (k = 0; k < *count; k++) {
            if (params[k].keyword_len == param.keyword_len
                && strncasecmp(params[k].keyword, param.keyword,
                               param.keyword_len) == 0) {
                *why = WHY_PARAM_DUP;
                return -1;
            }
        }
        if (*count >= max) {
            *why = WHY_PARAM_MANY;
            return -1;
        }
        params[(*count)++] = param;
    }
}

/* addr_params_find: look up a parameter by keyword, any case. */
const addr_param *addr_params_find(const addr_param *params, size_t count,
                                   const char *keyword)
{
    size_t  i;

    for (i = 0; i < count; i++)
        if (addr_equal_ci(params[i].keyword, params[i].keyword_len, keyword))
            return params + i;
    return NULL;
}

/* addr_hex: value of one hex digit, or -1. */
static int addr_hex(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* addr_xtext_decode: RFC 3461 xtext to bytes. */
int addr_xtext_decode(const char *text, size_t len, strbuf *out)
{
    const unsigned char *p = (const unsigned char *) text;
    size_t  i;
    int     hi, lo, c;

    strbuf_reset(out);
    for (i = 0; i < len; i++) {
        if (p[i] == '+') {
            if (len - i < 3 || (hi = addr_hex(p[i + 1])) < 0
                || (lo = addr_hex(p[i + 2])) < 0)
                return -1;
            c = hi * 16 + lo;
            if (addr_is_control((unsigned char) c))
                return -1;
            i += 2;
        } else if (p[i] < 33 || p[i] > 126 || p[i] == '=') {
            return -1;
        } else {
            c = p[i];
        }
        if (strbuf_putc(out, c) < 0)
            return -1;
    }
    return 0;
}

/* addr_xtext_encode: bytes to RFC 3461 xtext. */
int addr_xtext_encode(const char *bytes, size_t len, strbuf *out)
{
    static const char hex[] = "0123456789ABCDEF";
    const unsigned char *p = (const unsigned char *) bytes;
    size_t  i;
    int     err = 0;

    strbuf_reset(out);
    for (i = 0; i < len; i++) {
        if (p[i] >= 33 && p[i] <= 126 && p[i] != '+' && p[i] != '=') {
            err |= strbuf_putc(out, p[i]);
        } else {
            err |= strbuf_putc(out, '+');
            err |= strbuf_putc(out, hex[p[i] >> 4]);
            err |= strbuf_putc(out, hex[p[i] & 15]);
        }
    }
    return err ? -1 : 0;
}
