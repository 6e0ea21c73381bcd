/*
 * hdr_addr: split the address list in an RFC 5322 header value.
 *
 * Public functions:
 *   hdr_addr_parse(value, len, max, addr_flags): parse len bytes of a
 *     header value (the text after "To:", folding CRLF/LF + WSP included;
 *     NUL bytes allowed and refused where they appear). Returns a new list
 *     (never NULL; free with hdr_addr_list_free) holding, in order, every
 *     address found: its internal form (addr.h; mem-allocated, owned by the
 *     list) and the span [start, end) of its text in value. For
 *     "Name <a@x>" the span is what lies between the brackets, from its
 *     first to its last token (a source route included, so a rewrite drops
 *     it); for a bare address it runs from its first to its last token, so
 *     comments and white space around it stay outside (comments inside an
 *     obsolete "a (c) @ x" stay inside). Item flags: HDR_ADDR_IN_GROUP,
 *     HDR_ADDR_ANGLE, and HDR_ADDR_INVALID when the address would not pass
 *     addr_parse() (bare mode, ADDR_F_LOCAL_OK plus addr_flags, so only
 *     ADDR_F_SMTPUTF8 matters there). list->errors collects
 *     HDR_ADDR_ERR_* bits; what could be read is returned either way. At
 *     most max addresses are returned; on the next one the parse stops with
 *     HDR_ADDR_ERR_TOO_MANY.
 *   hdr_addr_list_free(list): release list and its strings; returns NULL.
 *   hdr_addr_strerror(errors): short text for the most serious error bit
 *     (for a log line), "" when errors is 0.
 *
 * Accepted: mailboxes "addr-spec", "phrase <addr-spec>", "<addr-spec>";
 * groups "phrase: mailbox, ...;" including empty ones ("undisclosed-
 * recipients:;"); nested comments with quoted-pairs; quoted strings (with
 * commas, quoted-pairs, folding) in phrases and local parts; domain
 * literals; obsolete syntax: CFWS around '.' and '@', dots anywhere in a
 * local part ("a..b", ".a"), empty list members (",,"), routes
 * "<@a,@b:u@x>" (span includes the route; the internal form drops it).
 * Phrases are never decoded: encoded words ("=?utf-8?q?...?=") are kept
 * whole even when their text holds specials such as ',' and are otherwise
 * left alone.
 *
 * Judgement calls on malformed input (each sets HDR_ADDR_ERR_SYNTAX):
 *  - "<a@x> <b@y>" and "A <a@x> B <b@y>": after a '>' anything other than
 *    ',' or ';' starts the next mailbox (missing comma).
 *  - Bare addresses without a comma ("a@x b@y"), two words with no '.'
 *    between in an addr-spec ("John Doe"), a quoted string in a domain, a
 *    second '@', a literal in a local part, stray '>' ')' ']' '\' or
 *    control bytes: that list member is dropped (HDR_ADDR_ERR_DROPPED).
 *  - "<>" and an address that is only '""' yield nothing
 *    (HDR_ADDR_ERR_DROPPED): the empty internal form is the null sender.
 *  - A '<' never closed takes the rest of the member as its address; a
 *    ',' inside brackets ends the member unless a route is being read.
 *  - A '<' inside brackets restarts the address there.
 *  - An unterminated quoted string, comment or literal runs to the end of
 *    the value; a member holding such a string or literal is dropped.
 *  - A phrase with '@' or other specials before '<' is ignored (still
 *    yields the bracketed address).
 *  - A ':' that cannot start a group (inside a group, or after an '@')
 *    ends the member and drops it; ';' outside a group is a separator; a
 *    group that is not closed ends at the end of the value.
 *  - A domain literal holding '@', '"', '\', '[' or a control byte drops
 *    its member.
 *
 * SECURITY: the value comes from a message and is untrusted. Scans are
 * bounded by len; comment nesting is counted, not recursed, and capped at
 * HDR_ADDR_COMMENT_DEPTH (the rest of the value is then not parsed);
 * folding CR/LF never reaches an internal address; nothing here reaches
 * msg_fatal or msg_panic.
 * LIMITS: max addresses per value (caller); comment depth as above;
 * memory linear in len.
 */
#include <stddef.h>
#include <string.h>

#include "addr.h"
#include "hdr_addr.h"
#include "mem.h"
#include "strbuf.h"

/* Token types. */
enum hdr_tok_type {
    HDR_T_ATOM,                         /* atext run, or an encoded word */
    HDR_T_QSTR,                         /* "quoted string", quotes included */
    HDR_T_LIT,                          /* [domain literal], brackets included */
    HDR_T_DOT,
    HDR_T_AT,
    HDR_T_LT,
    HDR_T_GT,
    HDR_T_COMMA,
    HDR_T_SEMI,
    HDR_T_COLON,
    HDR_T_BAD                           /* a byte that fits nowhere */
};

typedef struct hdr_tok {
    enum hdr_tok_type type;
    size_t  start;
    size_t  end;
    int     closed;                     /* QSTR/LIT: closing byte present */
} hdr_tok;

/* Per-call state. */
typedef struct hdr_state {
    const char *v;                      /* the header value */
    size_t  len;
    hdr_tok *toks;
    size_t  ntok;
    size_t  tok_size;
    size_t  max;                        /* max addresses */
    size_t  items_size;
    int     addr_flags;
    int     stop;                       /* set on HDR_ADDR_ERR_TOO_MANY */
    hdr_addr_list *list;
    strbuf *buf;                        /* internal form under construction */
    strbuf *ext;                        /* scratch for the validity check */
    strbuf *chk;                        /* scratch for the validity check */
} hdr_state;

/* Longest encoded word we recognise as one token. */
#define HDR_EWORD_MAX   1024

/* hdr_is_atext: RFC 5322 atext, with every byte >= 0x80 (RFC 6532). */
static int hdr_is_atext(unsigned char c)
{
    static const char extra[] = "!#$%&'*+-/=?^_`{|}~";

    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
        || (c >= '0' && c <= '9') || c >= 0x80)
        return 1;
    return c != 0 && memchr(extra, c, sizeof(extra) - 1) != NULL;
}

/* hdr_is_wsp: white space, folding CR and LF included. */
static int hdr_is_wsp(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* hdr_push: append a token. */
static void hdr_push(hdr_state *st, enum hdr_tok_type type, size_t start,
                     size_t end, int closed)
{
    if (st->ntok == st->tok_size) {
        st->tok_size = st->tok_size ? st->tok_size * 2 : 16;
        st->toks = mem_realloc(st->toks, st->tok_size * sizeof(*st->toks));
    }
    st->toks[st->ntok].type = type;
    st->toks[st->ntok].start = start;
    st->toks[st->ntok].end = end;
    st->toks[st->ntok].closed = closed;
    st->ntok++;
}

/*
 * hdr_eword_end: end of the RFC 2047 encoded word "=?cs?E?text?=" at i,
 * or 0 when there is none.
 */
static size_t hdr_eword_end(const char *v, size_t len, size_t i)
{
    const unsigned char *p = (const unsigned char *) v;
    size_t  j = i + 2, limit = len;

    if (limit - i > HDR_EWORD_MAX)
        limit = i + HDR_EWORD_MAX;
    if (limit - i < 2 || p[i] != '=' || p[i + 1] != '?')
        return 0;
    /* Charset (with an optional *language): atext other than '?'. */
    while (j < limit && p[j] != '?' && p[j] < 0x80 && hdr_is_atext(p[j]))
        j++;
    if (j == i + 2 || j >= limit || p[j] != '?')
        return 0;
    j++;
    if (j + 1 >= limit || !strchr("QqBb", p[j]) || p[j] == 0 || p[j + 1] != '?')
        return 0;
    /* Encoded text: printable ASCII other than '?'. */
    for (j += 2; j < limit && p[j] > 32 && p[j] < 127 && p[j] != '?'; j++)
         /* void */ ;
    if (j + 1 >= limit || p[j] != '?' || p[j + 1] != '=')
        return 0;
    return j + 2;
}

/*
 * hdr_scan_quoted: end of the quoted string or literal opening at i
 * (closing byte included); len, with *closed = 0, when it is not closed.
 */
static size_t hdr_scan_quoted(const char *v, size_t len, size_t i, char close,
                              int *closed)
{
    for (i++; i < len; i++) {
        if (v[i] == '\\') {
            i++;
        } else if (v[i] == close) {
            *closed = 1;
            return i + 1;
        }
    }
    *closed = 0;
    return len;
}

/*
 * hdr_tokenize: split the value into tokens, dropping white space and
 * comments.
 */
static void hdr_tokenize(hdr_state *st)
{
    const unsigned char *p = (const unsigned char *) st->v;
    size_t  len = st->len, i = 0, j, depth;

    while (i < len) {
        unsigned char c = p[i];

        if (hdr_is_wsp(c)) {
            i++;
        } else if (c == '(') {
            /* Comment: count the nesting, never recurse. */
            for (depth = 1, i++; i < len && depth > 0; i++) {
                if (p[i] == '\\') {
                    i++;
                } else if (p[i] == '(') {
                    if (++depth > HDR_ADDR_COMMENT_DEPTH) {
                        st->list->errors |= HDR_ADDR_ERR_DEPTH | HDR_ADDR_ERR_DROPPED;
                        return;
                    }
                } else if (p[i] == ')') {
                    depth--;
                }
            }
            if (depth > 0)
                st->list->errors |= HDR_ADDR_ERR_SYNTAX;
            if (i > len)
                i = len;
        } else if (c == '"' || c == '[') {
            int     closed;

            j = hdr_scan_quoted(st->v, len, i, c == '"' ? '"' : ']', &closed);
            if (!closed)
                st->list->errors |= HDR_ADDR_ERR_SYNTAX;
            hdr_push(st, c == '"' ? HDR_T_QSTR : HDR_T_LIT, i, j, closed);
            i = j;
        } else if (c == '=' && (j = hdr_eword_end(st->v, len, i)) != 0) {
            hdr_push(st, HDR_T_ATOM, i, j, 1);
            i = j;
        } else if (hdr_is_atext(c)) {
            for (j = i; j < len && hdr_is_atext(p[j]); j++)
                 /* void */ ;
            hdr_push(st, HDR_T_ATOM, i, j, 1);
            i = j;
        } else {
            enum hdr_tok_type type;

            switch (c) {
            case '.': type = HDR_T_DOT; break;
            case '@': type = HDR_T_AT; break;
            case '<': type = HDR_T_LT; break;
            case '>': type = HDR_T_GT; break;
            case ',': type = HDR_T_COMMA; break;
            case ';': type = HDR_T_SEMI; break;
            case ':': type = HDR_T_COLON; break;
            default: type = HDR_T_BAD; break;
            }
            hdr_push(st, type, i, i + 1, 1);
            i++;
        }
    }
}

/*
 * hdr_unquote: append the content of a quoted string (without quotes and
 * backslashes) or of a literal (brackets kept) to buf, folding removed;
 * -1 when it holds a byte we refuse.
 */
static int hdr_unquote(hdr_state *st, const hdr_tok *t, int literal)
{
    const unsigned char *p = (const unsigned char *) st->v;
    size_t  i = t->start + 1;
    size_t  end = t->closed ? t->end - 1 : t->end;
    int     err = 0;

    if (literal)
        err |= strbuf_putc(st->buf, '[');
    for (; i < end; i++) {
        unsigned char c = p[i];

        if (c == '\r' || c == '\n')
            continue;                   /* folding */
        if (literal && (c == '@' || c == '"' || c == '\\' || c == '['))
            return -1;
        if (c == '\\' && i + 1 < end) {
            c = p[++i];
            if (c == '\r' || c == '\n')
                continue;
        }
        if ((c < 0x20 && c != '\t') || c == 0x7f)
            return -1;
        err |= strbuf_putc(st->buf, c);
    }
    if (literal)
        err |= strbuf_putc(st->buf, ']');
    return err ? -1 : 0;
}

/*
 * hdr_build: internal form of the addr-spec in tokens [from, to) into
 * st->buf; -1 when it is not an addr-spec we can read.
 */
static int hdr_build(hdr_state *st, size_t from, size_t to, int *saw_at)
{
    size_t  k;
    int     in_domain = 0;
    int     literal = 0;                /* the domain is a literal */
    int     prev_word = 0;              /* last token was a word */
    int     local_words = 0, domain_words = 0;

    strbuf_reset(st->buf);
    for (k = from; k < to; k++) {
        const hdr_tok *t = st->toks + k;

        if (literal)
            return -1;                  /* nothing may follow a literal */
        switch (t->type) {
        case HDR_T_ATOM:
        case HDR_T_QSTR:
        case HDR_T_LIT:
            if (prev_word)
                return -1;              /* two words with no '.' between */
            if (!t->closed)
                return -1;              /* unterminated quote or literal */
            if (t->type == HDR_T_QSTR && in_domain)
                return -1;
            if (t->type == HDR_T_LIT && (!in_domain || domain_words))
                return -1;
            literal = (t->type == HDR_T_LIT);
            if (t->type == HDR_T_ATOM) {
                if (strbuf_append(st->buf, st->v + t->start, t->end - t->start) < 0)
                    return -1;
            } else if (hdr_unquote(st, t, t->type == HDR_T_LIT) < 0) {
                return -1;
            }
            prev_word = 1;
            if (in_domain)
                domain_words++;
            else
                local_words++;
            break;
        case HDR_T_DOT:
            if (in_domain && prev_word == 0)
                return -1;              /* empty domain label */
            if (strbuf_putc(st->buf, '.') < 0)
                return -1;
            prev_word = 0;
            break;
        case HDR_T_AT:
            if (in_domain || local_words == 0)
                return -1;
            if (strbuf_putc(st->buf, '@') < 0)
                return -1;
            in_domain = 1;
            prev_word = 0;
            break;
        default:
            return -1;
        }
    }
    if (in_domain && (domain_words == 0 || prev_word == 0))
        return -1;
    if (local_words == 0 || st->buf->len == 0)
        return -1;                      /* "" would read as the null sender */
    *saw_at = in_domain;
    return 0;
}

/* hdr_add: append one address to the list; sets st->stop when full. */
static void hdr_add(hdr_state *st, size_t from, size_t to, int flags)
{
    hdr_addr_list *list = st->list;
    hdr_addr_item *item;
    size_t  rest;
    const char *why;
    int     saw_at = 0;

    if (from >= to)
        return;
    if (hdr_build(st, from, to, &saw_at) < 0) {
        list->errors |= HDR_ADDR_ERR_SYNTAX | HDR_ADDR_ERR_DROPPED;
        return;
    }
    if (list->count >= st->max) {
        list->errors |= HDR_ADDR_ERR_TOO_MANY;
        st->stop = 1;
        return;
    }
    if (list->count == st->items_size) {
        st->items_size = st->items_size ? st->items_size * 2 : 8;
        list->items = mem_realloc(list->items, st->items_size * sizeof(*list->items));
    }
    /* Is it also a valid envelope address? */
    if ((!saw_at && strchr(st->buf->data, '@') != NULL)
        || addr_internal_to_external(st->buf->data, st->ext) < 0
        || addr_parse(st->ext->data, st->ext->len,
                      ADDR_F_LOCAL_OK | (st->addr_flags & ADDR_F_SMTPUTF8),
                      st->chk, &rest, &why) < 0
        || rest != st->ext->len)
        flags |= HDR_ADDR_INVALID;
    item = list->items + list->count++;
    item->addr = mem_strndup(st->buf->data, st->buf->len);
    item->start = st->toks[from].start;
    item->end = st->toks[to - 1].end;
    item->flags = flags;
}

/* hdr_only_phrase: 1 when tokens [from, to) can be a display name. */
static int hdr_only_phrase(const hdr_state *st, size_t from, size_t to)
{
    size_t  k;

    for (k = from; k < to; k++)
        if (st->toks[k].type != HDR_T_ATOM && st->toks[k].type != HDR_T_QSTR
            && st->toks[k].type != HDR_T_DOT)
            return 0;
    return 1;
}

/*
 * hdr_member: read the list member that starts at token i (not a ',' or
 * ';'); returns the index where the next member's scan begins.
 */
static size_t hdr_member(hdr_state *st, size_t i, int *in_group)
{
    hdr_addr_list *list = st->list;
    size_t  j, lt = 0, gt = 0, route_end = 0;
    int     have_lt = 0, have_gt = 0, route = 0, have_route = 0;
    int     phrase_only = 1, stray = 0;
    int     flags = *in_group ? HDR_ADDR_IN_GROUP : 0;
    size_t  from, to;

    for (j = i; j < st->ntok; j++) {
        enum hdr_tok_type type = st->toks[j].type;

        if (!have_lt) {
            /* Outside brackets. */
            if (type == HDR_T_COMMA || type == HDR_T_SEMI)
                break;
            if (type == HDR_T_COLON) {
                if (phrase_only && !*in_group) {
                    /* Group start; its name (tokens [i, j)) is ignored. */
                    if (j == i)
                        list->errors |= HDR_ADDR_ERR_SYNTAX;
                    *in_group = 1;
                    return j + 1;
                }
                list->errors |= HDR_ADDR_ERR_SYNTAX;
                if (j > i)
                    list->errors |= HDR_ADDR_ERR_DROPPED;
                return j + 1;
            }
            if (type == HDR_T_LT) {
                have_lt = 1;
                lt = j;
                route = (j + 1 < st->ntok && st->toks[j + 1].type == HDR_T_AT);
            } else if (type == HDR_T_GT) {
                stray = 1;
            } else if (type != HDR_T_ATOM && type != HDR_T_QSTR
                       && type != HDR_T_DOT) {
                phrase_only = 0;
            }
        } else if (!have_gt) {
            /* Inside brackets. */
            if (type == HDR_T_GT) {
                have_gt = 1;
                gt = j;
            } else if (type == HDR_T_LT) {
                list->errors |= HDR_ADDR_ERR_SYNTAX;
                lt = j;
                have_route = 0;
                route = (j + 1 < st->ntok && st->toks[j + 1].type == HDR_T_AT);
            } else if (type == HDR_T_COLON && route) {
                route = 0;
                have_route = 1;
                route_end = j;
            } else if ((type == HDR_T_COMMA && !route) || type == HDR_T_SEMI) {
                break;
            }
        } else {
            /* After '>': anything but ',' or ';' is a new member. */
            if (type != HDR_T_COMMA && type != HDR_T_SEMI)
                list->errors |= HDR_ADDR_ERR_SYNTAX;
            break;
        }
    }

    if (!have_lt) {
        if (stray)
            list->errors |= HDR_ADDR_ERR_SYNTAX;
        hdr_add(st, i, j, flags);
    } else {
        if (!have_gt || !hdr_only_phrase(st, i, lt))
            list->errors |= HDR_ADDR_ERR_SYNTAX;
        to = have_gt ? gt : j;
        from = lt + 1;
        if (route) {
            /* A route that never reached its ':'. */
            list->errors |= HDR_ADDR_ERR_SYNTAX | HDR_ADDR_ERR_DROPPED;
        } else if (from >= to) {
            list->errors |= HDR_ADDR_ERR_SYNTAX | HDR_ADDR_ERR_DROPPED;
        } else {
            size_t  spec = have_route ? route_end + 1 : from;

            if (spec >= to) {
                list->errors |= HDR_ADDR_ERR_SYNTAX | HDR_ADDR_ERR_DROPPED;
            } else {
                size_t  before = list->count;

                /* Build from the addr-spec, but report the whole span. */
                hdr_add(st, spec, to, flags | HDR_ADDR_ANGLE);
                if (list->count > before)
                    list->items[before].start = st->toks[from].start;
            }
        }
    }
    return j;
}

/* hdr_addr_parse: split a header value into addresses. */
hdr_addr_list *hdr_addr_parse(const char *value, size_t len, size_t max,
                              int addr_flags)
{
    hdr_state st;
    hdr_addr_list *list = mem_calloc(1, sizeof(*list));
    size_t  i = 0;
    int     in_group = 0;

    memset(&st, 0, sizeof(st));
    st.v = value;
    st.len = len;
    st.max = max;
    st.addr_flags = addr_flags;
    st.list = list;
    st.buf = strbuf_new(64);
    st.ext = strbuf_new(64);
    st.chk = strbuf_new(64);

    hdr_tokenize(&st);
    while (i < st.ntok && !st.stop) {
        switch (st.toks[i].type) {
        case HDR_T_COMMA:
            i++;
            break;
        case HDR_T_SEMI:
            if (in_group)
                in_group = 0;
            else
                list->errors |= HDR_ADDR_ERR_SYNTAX;
            i++;
            break;
        default:
            i = hdr_member(&st, i, &in_group);
            break;
        }
    }
    if (in_group && !st.stop)
        list->errors |= HDR_ADDR_ERR_SYNTAX;

    mem_free(st.toks);
    strbuf_free(st.buf);
    strbuf_free(st.ext);
    strbuf_free(st.chk);
    return list;
}

/* hdr_addr_list_free: release a list; returns NULL. */
hdr_addr_list *hdr_addr_list_free(hdr_addr_list *list)
{
    size_t  i;

    if (list == NULL)
        return NULL;
    for (i = 0; i < list->count; i++)
        mem_free(list->items[i].addr);
    mem_free(list->items);
    mem_free(list);
    return NULL;
}

/* hdr_addr_strerror: text for the most serious error bit. */
const char *hdr_addr_strerror(int errors)
{
    if (errors & HDR_ADDR_ERR_DEPTH)
        return "comments nested too deeply";
    if (errors & HDR_ADDR_ERR_TOO_MANY)
        return "too many addresses";
    if (errors & HDR_ADDR_ERR_DROPPED)
        return "unreadable address skipped";
    if (errors & HDR_ADDR_ERR_SYNTAX)
        return "malformed address list";
    return "";
}
