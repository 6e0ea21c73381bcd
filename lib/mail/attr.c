/*
 * attr: encoder, decoder and strict scanner for the attribute protocol
 * (grammar in attr.h).
 *
 * Public functions:
 *   attr_list_new(): empty list. attr_list_free(list): free it and every
 *     name and value; returns NULL; accepts NULL. attr_list_reset(list):
 *     empty it, keeping the allocation.
 *   attr_list_add(list, name, value, len): append a copy of name and of
 *     len value bytes (any bytes). name must satisfy the grammar (it is
 *     an ATTR_NAME_* constant): anything else is our bug and panics.
 *   attr_list_add_str(list, name, str), attr_list_add_long(list, name, n):
 *     the same for a C string and for a decimal number.
 *   attr_list_find(list, name, &len): the first value of name (NUL-
 *     terminated, len bytes; len may be NULL), or NULL when absent. The
 *     pointer lives as long as the list is not reset or freed.
 *   attr_name_ok(name, len): 1 when name is 1..64 bytes of [a-z0-9_].
 *   attr_encode(out, list): append the encoded message to out. Returns
 *     0, or -1 when out's limit would be passed (out is then unchanged).
 *   attr_decode(buf, len, limits, out, &consumed, err): decode the first
 *     message in buf (len bytes, need not be NUL-terminated). Returns
 *       1   a message: out holds it, consumed its encoded length (the
 *           rest of buf is not looked at)
 *       0   no error so far, but the message is incomplete: call again
 *           with more bytes; out is empty
 *      -1   malformed or over a limit: err (if not NULL) says what and
 *           on which line; out is empty
 *     Errors are found as early as possible: a bad prefix is -1, not 0,
 *     so a reader never waits for bytes that cannot help.
 *   attr_write(s, list): encode list onto the stream and flush. 0 or -1
 *     (errno set; stream_timed_out tells a timeout).
 *   attr_read(s, limits, out, err): read one message from the stream,
 *     under the stream's timeout. 0, or -1 with err naming the reason
 *     (end of file, timeout, read error, malformed, too large); out is
 *     then empty. Only the message's bytes are consumed from the stream.
 *   attr_scan(list, specs, nspecs, err): check list against specs and
 *     store each value through its spec's pointer(s) (NULL pointers are
 *     skipped): ATTR_STR a NUL-free string, ATTR_LONG a decimal number in
 *     min..max, ATTR_DATA bytes and length. Stored pointers point into the
 *     list. Returns 0, or -1 with err naming the attribute when one is
 *     unknown, repeated, missing while required, a STR with a NUL byte,
 *     or a bad or out-of-range number (outputs may then be partly set).
 *     Outputs of absent optional attributes are left alone, so callers
 *     preset defaults.
 *   attr_send_protocol(s, proto): send the message protocol=proto and
 *     flush. 0 or -1.
 *   attr_expect_protocol(s, proto, err): read one message; 0 when it is
 *     exactly protocol=proto, else -1 with err saying what came instead.
 *
 * SECURITY: decoded messages come from processes that may be less
 * privileged or compromised. Decoding is strict (one encoding per value,
 * unknown or repeated names rejected by attr_scan), bounded by the
 * caller's limits before any allocation, and reports errors as return
 * values; nothing a peer sends reaches msg_fatal or msg_panic. Peer bytes
 * are quoted in error texts only after sanitizing.
 * LIMITS: attr_limits from the caller (count, value bytes, message bytes);
 * names ATTR_NAME_MAX bytes; protocol handshake messages 1024 bytes.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <string.h>

#include "attr.h"
#include "attr_names.h"
#include "mem.h"
#include "msg.h"
#include "numparse.h"
#include "strbuf.h"
#include "stream.h"
#include "strutil.h"

static const char attr_hex[] = "0123456789ABCDEF";

/* Limits for the protocol=NAME handshake message. */
static const attr_limits attr_proto_limits = {8, 256, 1024};

/* attr_must_escape: 1 when a value byte travels as %XX. */
static int attr_must_escape(unsigned char c)
{
    return c <= 0x20 || c == 0x7F || c == '%';
}

/* attr_name_char: 1 for a byte allowed in names. */
static int attr_name_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
}

/* attr_hex_value: value of an upper-case hex digit, or -1. */
static int attr_hex_value(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* attr_name_ok: 1 when name is 1..ATTR_NAME_MAX bytes of [a-z0-9_]. */
int attr_name_ok(const char *name, size_t len)
{
    size_t  i;

    if (len == 0 || len > ATTR_NAME_MAX)
        return 0;
    for (i = 0; i < len; i++)
        if (!attr_name_char((unsigned char) name[i]))
            return 0;
    return 1;
}

/* attr_list_new: create an empty list. */
attr_list *attr_list_new(void)
{
    return mem_calloc(1, sizeof(attr_list));
}

/* attr_list_reset: drop every attribute. */
void attr_list_reset(attr_list *list)
{
    size_t  i;

    for (i = 0; i < list->count; i++) {
        mem_free(list->items[i].name);
        mem_free(list->items[i].value);
    }
    list->count = 0;
}

/* attr_list_free: destroy a list; returns NULL. */
attr_list *attr_list_free(attr_list *list)
{
    if (list != NULL) {
        attr_list_reset(list);
        mem_free(list->items);
        mem_free(list);
    }
    return NULL;
}

/* attr_list_push: append a pair, taking ownership of value. */
static void attr_list_push(attr_list *list, const char *name, size_t name_len,
                           char *value, size_t len)
{
    attr_pair *p;

    if (list->count == list->size) {
        size_t  nsize = list->size ? 2 * list->size : 8;

        if (nsize > SIZE_MAX / sizeof(attr_pair))
            msg_panic("attr_list: too many attributes");
        list->items = mem_realloc(list->items, nsize * sizeof(attr_pair));
        list->size = nsize;
    }
    p = &list->items[list->count++];
    p->name = mem_strndup(name, name_len);
    p->value = value;
    p->len = len;
}

/* attr_list_add: append a copy of name and len value bytes. */
void attr_list_add(attr_list *list, const char *name, const void *value, size_t len)
{
    char   *copy;
    size_t  name_len = strlen(name);

    if (!attr_name_ok(name, name_len))
        msg_panic("attr_list_add: bad attribute name \"%.80s\"", name);
    if (len == SIZE_MAX)
        msg_panic("attr_list_add: bad value length");
    copy = mem_alloc(len + 1);
    if (len)
        memcpy(copy, value, len);
    copy[len] = 0;
    attr_list_push(list, name, name_len, copy, len);
}

/* attr_list_add_str: append a C string value. */
void attr_list_add_str(attr_list *list, const char *name, const char *value)
{
    attr_list_add(list, name, value, strlen(value));
}

/* attr_list_add_long: append a decimal number. */
void attr_list_add_long(attr_list *list, const char *name, long value)
{
    char    buf[32];

    if (str_format(buf, sizeof(buf), "%ld", value) < 0)
        msg_panic("attr_list_add_long: number does not fit");
    attr_list_add(list, name, buf, strlen(buf));
}

/* attr_list_find: first value of name, or NULL. */
const char *attr_list_find(const attr_list *list, const char *name, size_t *lenp)
{
    size_t  i;

    for (i = 0; i < list->count; i++) {
        if (strcmp(list->items[i].name, name) == 0) {
            if (lenp)
                *lenp = list->items[i].len;
            return list->items[i].value;
        }
    }
    return NULL;
}

/* Output sink for the one encoder: 0, or -1 to stop. */
typedef int (*attr_put_fn) (void *ctx, const void *bytes, size_t len);

/* attr_emit: encode list through put. */
static int attr_emit(const attr_list *list, attr_put_fn put, void *ctx)
{
    const attr_pair *p;
    const unsigned char *v;
    size_t  i;
    size_t  j;
    size_t  run;
    char    esc[3];

    for (i = 0; i < list->count; i++) {
        p = &list->items[i];
        if (put(ctx, p->name, strlen(p->name)) < 0 || put(ctx, "=", 1) < 0)
            return -1;
        v = (const unsigned char *) p->value;
        run = 0;                        /* start of pending plain bytes */
        for (j = 0; j < p->len; j++) {
            if (!attr_must_escape(v[j]))
                continue;
            if (j > run && put(ctx, v + run, j - run) < 0)
                return -1;
            esc[0] = '%';
            esc[1] = attr_hex[v[j] >> 4];
            esc[2] = attr_hex[v[j] & 0x0F];
            if (put(ctx, esc, 3) < 0)
                return -1;
            run = j + 1;
        }
        if (p->len > run && put(ctx, v + run, p->len - run) < 0)
            return -1;
        if (put(ctx, "\n", 1) < 0)
            return -1;
    }
    return put(ctx, "\n", 1);
}

/* attr_put_strbuf: encoder sink appending to a strbuf. */
static int attr_put_strbuf(void *ctx, const void *bytes, size_t len)
{
    return strbuf_append((strbuf *) ctx, bytes, len);
}

/* attr_put_stream: encoder sink writing to a stream. */
static int attr_put_stream(void *ctx, const void *bytes, size_t len)
{
    return stream_write((stream *) ctx, bytes, len);
}

/* attr_encode: append the encoding of list to out. */
int attr_encode(strbuf *out, const attr_list *list)
{
    size_t  orig = out->len;

    if (attr_emit(list, attr_put_strbuf, out) < 0) {
        strbuf_truncate(out, orig);
        return -1;
    }
    return 0;
}

/*
 * attr_parse_line: check one line of n bytes (its LF not included). A
 * complete line is appended to out; an incomplete one (the tail of the
 * input so far) is only checked, and whatever could still become valid
 * passes. Returns 0, or -1 with err set.
 */
static int attr_parse_line(const char *line, size_t n, int complete,
                           size_t lineno, const attr_limits *limits,
                           attr_list *out, strbuf *err)
{
    const unsigned char *u = (const unsigned char *) line;
    char    name[ATTR_NAME_MAX + 1];
    char   *value = NULL;
    size_t  nlen;
    size_t  i;
    size_t  vlen = 0;
    int     hi;
    int     lo;
    unsigned char c;

    if (out->count >= limits->max_attrs)
        return strbuf_setf(err, "line %zu: more than %zu attributes",
                         lineno, limits->max_attrs);
    for (i = 0; i < n && u[i] != '='; i++) {
        if (i >= ATTR_NAME_MAX)
            return strbuf_setf(err, "line %zu: attribute name longer than %d bytes",
                             lineno, ATTR_NAME_MAX);
        if (u[i] == '\r')
            return strbuf_setf(err, "line %zu: carriage return in attribute name",
                             lineno);
        if (!attr_name_char(u[i]))
            return strbuf_setf(err, "line %zu: bad byte 0x%02X in attribute name",
                             lineno, u[i]);
    }
    if (i == n)
        return complete ? strbuf_setf(err, "line %zu: no '=' in line", lineno) : 0;
    if (i == 0)
        return strbuf_setf(err, "line %zu: empty attribute name", lineno);
    nlen = i;
    memcpy(name, line, nlen);
    name[nlen] = 0;

    /* Decoded values are never longer than their encoding. */
    if (complete)
        value = mem_alloc(n - nlen);
    for (i = nlen + 1; i < n; vlen++) {
        if (vlen >= limits->max_value) {
            mem_free(value);
            return strbuf_setf(err, "line %zu: value of \"%s\" longer than %zu bytes",
                             lineno, name, limits->max_value);
        }
        c = u[i];
        if (c == '%') {
            /* Each digit that is there must be good; missing ones may come. */
            hi = (i + 1 < n) ? attr_hex_value(u[i + 1]) : 0;
            lo = (i + 2 < n) ? attr_hex_value(u[i + 2]) : 0;
            if (hi < 0 || lo < 0) {
                mem_free(value);
                return strbuf_setf(err, "line %zu: bad escape in value of \"%s\""
                                 " (need %%XX, upper-case hex)", lineno, name);
            }
            if (i + 2 >= n) {
                if (!complete)
                    return 0;
                mem_free(value);
                return strbuf_setf(err, "line %zu: truncated escape in value of \"%s\"",
                                 lineno, name);
            }
            c = (unsigned char) (hi * 16 + lo);
            if (!attr_must_escape(c)) {
                mem_free(value);
                return strbuf_setf(err, "line %zu: needless escape %%%02X in value of \"%s\"",
                                 lineno, c, name);
            }
            i += 3;
        } else if (attr_must_escape(c)) {
            mem_free(value);
            if (c == '\r')
                return strbuf_setf(err, "line %zu: carriage return in value of \"%s\"",
                                 lineno, name);
            return strbuf_setf(err, "line %zu: unescaped byte 0x%02X in value of \"%s\"",
                             lineno, c, name);
        } else {
            i++;
        }
        if (value)
            value[vlen] = (char) c;
    }
    if (!complete)
        return 0;
    value[vlen] = 0;
    attr_list_push(out, name, nlen, value, vlen);
    return 0;
}

/* attr_decode: decode the first message in buf. */
int attr_decode(const char *buf, size_t len, const attr_limits *limits,
                attr_list *out, size_t *consumed, strbuf *err)
{
    size_t  pos = 0;
    size_t  lineno = 0;
    size_t  avail;
    size_t  budget;
    size_t  linelen;
    const char *nl;

    attr_list_reset(out);
    for (;;) {
        lineno++;
        avail = len - pos;
        budget = limits->max_message > pos ? limits->max_message - pos : 0;
        nl = memchr(buf + pos, '\n', avail < budget ? avail : budget);
        if (nl == NULL) {
            if (avail >= budget) {
                attr_list_reset(out);
                return strbuf_setf(err, "message longer than %zu bytes",
                                 limits->max_message);
            }
            if (avail > 0 && attr_parse_line(buf + pos, avail, 0, lineno,
                                             limits, out, err) < 0) {
                attr_list_reset(out);
                return -1;
            }
            attr_list_reset(out);
            return 0;
        }
        linelen = (size_t) (nl - (buf + pos));
        if (linelen == 0) {
            if (consumed)
                *consumed = pos + 1;
            return 1;
        }
        if (attr_parse_line(buf + pos, linelen, 1, lineno, limits, out, err) < 0) {
            attr_list_reset(out);
            return -1;
        }
        pos += linelen + 1;
    }
}

/* attr_write: send list on s and flush. */
int attr_write(stream *s, const attr_list *list)
{
    if (attr_emit(list, attr_put_stream, s) < 0)
        return -1;
    return stream_flush(s);
}

/* attr_read: read and decode one message from s. */
int attr_read(stream *s, const attr_limits *limits, attr_list *out, strbuf *err)
{
    strbuf *line = strbuf_new(256);
    size_t  total = 0;
    size_t  lineno = 0;
    size_t  budget;
    size_t  max;
    size_t  line_bound;
    int     ret = -1;
    int     saved;

    /* Longest line that can hold a legal attribute: name, '=', escapes, LF. */
    if (limits->max_value > (SIZE_MAX - ATTR_NAME_MAX - 2) / 3)
        line_bound = SIZE_MAX;
    else
        line_bound = ATTR_NAME_MAX + 2 + 3 * limits->max_value;
    attr_list_reset(out);
    for (;;) {
        lineno++;
        budget = limits->max_message > total ? limits->max_message - total : 0;
        if (budget == 0) {
            strbuf_setf(err, "message longer than %zu bytes", limits->max_message);
            break;
        }
        max = budget < line_bound ? budget : line_bound;
        switch (stream_get_line(s, line, max)) {
        case STREAM_OK:
            if (line->data[line->len - 1] != '\n') {
                strbuf_setf(err, "unexpected end of file in message (line %zu)", lineno);
                goto done;
            }
            total += line->len;
            if (line->len == 1) {
                ret = 0;
                goto done;
            }
            if (attr_parse_line(line->data, line->len - 1, 1, lineno, limits,
                                out, err) < 0)
                goto done;
            continue;
        case STREAM_TOOLONG:
            /* Prefer the precise complaint about the line itself. */
            if (attr_parse_line(line->data, line->len, 0, lineno, limits,
                                out, err) < 0)
                goto done;
            if (max == budget)
                strbuf_setf(err, "message longer than %zu bytes", limits->max_message);
            else
                strbuf_setf(err, "line %zu: line longer than %zu bytes", lineno, max);
            goto done;
        case STREAM_EOF:
            if (lineno == 1)
                strbuf_setf(err, "end of file before message");
            else
                strbuf_setf(err, "unexpected end of file in message (line %zu)", lineno);
            goto done;
        case STREAM_TIMEOUT:
            strbuf_setf(err, "timeout while reading message (line %zu)", lineno);
            goto done;
        case STREAM_ERROR:
            saved = errno;
            strbuf_setf(err, "read error in message (line %zu): %s", lineno,
                      strerror(saved));
            goto done;
        }
    }
done:
    strbuf_free(line);
    if (ret < 0)
        attr_list_reset(out);
    return ret;
}

/* attr_quote: sanitized, shortened copy of peer bytes for messages. */
static void attr_quote(char *dst, size_t size, const char *src, size_t len)
{
    size_t  i;
    size_t  o = 0;

    for (i = 0; i < len && o + 4 < size; i++) {
        unsigned char c = (unsigned char) src[i];

        dst[o++] = (c >= 0x20 && c < 0x7F && c != '"') ? (char) c : '?';
    }
    if (i < len && o + 3 < size) {
        dst[o++] = '.';
        dst[o++] = '.';
        dst[o++] = '.';
    }
    dst[o] = 0;
}

/* attr_scan: check list against specs and store the values. */
int attr_scan(const attr_list *list, const attr_spec specs[], int nspecs,
              strbuf *err)
{
    unsigned char *seen;
    const attr_pair *p;
    const attr_spec *sp;
    size_t  i;
    int     k;
    long    num;
    int     ret = -1;

    if (nspecs < 0)
        msg_panic("attr_scan: negative spec count");
    seen = mem_calloc((size_t) nspecs + 1, 1);
    for (i = 0; i < list->count; i++) {
        p = &list->items[i];
        for (k = 0; k < nspecs; k++)
            if (strcmp(specs[k].name, p->name) == 0)
                break;
        if (k == nspecs) {
            strbuf_setf(err, "unknown attribute \"%s\"", p->name);
            goto done;
        }
        if (seen[k]) {
            strbuf_setf(err, "duplicate attribute \"%s\"", p->name);
            goto done;
        }
        seen[k] = 1;
        sp = &specs[k];
        switch (sp->type) {
        case ATTR_STR:
            if (memchr(p->value, 0, p->len) != NULL) {
                strbuf_setf(err, "attribute \"%s\": NUL byte in text value", p->name);
                goto done;
            }
            if (sp->str_out)
                *sp->str_out = p->value;
            break;
        case ATTR_LONG:
            if (num_parse_long_n(p->value, p->len, sp->min, sp->max, &num) < 0) {
                strbuf_setf(err, "attribute \"%s\": not a number in %ld..%ld",
                          p->name, sp->min, sp->max);
                goto done;
            }
            if (sp->long_out)
                *sp->long_out = num;
            break;
        case ATTR_DATA:
            if (sp->str_out)
                *sp->str_out = p->value;
            if (sp->len_out)
                *sp->len_out = p->len;
            break;
        default:
            msg_panic("attr_scan: bad type %d for \"%s\"", (int) sp->type, sp->name);
        }
    }
    for (k = 0; k < nspecs; k++) {
        if (specs[k].required && !seen[k]) {
            strbuf_setf(err, "missing attribute \"%s\"", specs[k].name);
            goto done;
        }
    }
    ret = 0;
done:
    mem_free(seen);
    return ret;
}

/* attr_send_protocol: announce our protocol name. */
int attr_send_protocol(stream *s, const char *proto)
{
    attr_list *list = attr_list_new();
    int     ret;

    attr_list_add_str(list, ATTR_NAME_PROTOCOL, proto);
    ret = attr_write(s, list);
    attr_list_free(list);
    return ret;
}

/* attr_expect_protocol: read the peer's protocol=NAME and check it. */
int attr_expect_protocol(stream *s, const char *proto, strbuf *err)
{
    attr_list *list = attr_list_new();
    const char *got = NULL;
    attr_spec spec[] = {
        ATTR_SPEC_STR(ATTR_NAME_PROTOCOL, 1, &got),
    };
    char    quoted[80];
    int     ret = -1;

    if (attr_read(s, &attr_proto_limits, list, err) < 0
        || attr_scan(list, spec, 1, err) < 0)
        goto done;
    if (strcmp(got, proto) != 0) {
        attr_quote(quoted, sizeof(quoted), got, strlen(got));
        strbuf_setf(err, "unexpected protocol \"%s\" (expected \"%s\")", quoted, proto);
        goto done;
    }
    ret = 0;
done:
    attr_list_free(list);
    return ret;
}
