/*
 * maildrop: what a local user may put into a maildrop file, checked on
 * the way in (postdrop) and again on the way out (pickup). The stream
 * format is described in maildrop.h.
 *
 * Public functions:
 *   maildrop_user_attr(name, value, &flags, err): check one attribute
 *     that came from a user (sendmail's stream, or a maildrop file other
 *     than submit_uid). Returns 0 (flags |= the bits of a flags=
 *     attribute) or -1 with err saying what is wrong.
 *   maildrop_filter(in, out, err): copy a submission stream from reader
 *     in to writer out, record by record, keeping only what a user may
 *     send. out must be a fresh writer on which the caller has already
 *     put the header, time and submit_uid records; the input's C and T
 *     records are dropped (the caller's header and time stand; the input
 *     header must merely come first). Returns 0
 *     when the whole stream up to its E record was copied (the caller
 *     then calls qfile_finish), or -1 with err ("record N: what"). Every
 *     order rule of the writer is checked here first, so bad input can
 *     never make the writer panic.
 *   maildrop_check(env, &info, err): re-check a parsed maildrop file
 *     (qfile_read_envelope): attributes as above plus a required
 *     submit_uid, no done recipients, extracted recipients only with the
 *     extract flag. Returns 0 with info filled (pointers into env), or -1
 *     with err.
 *
 * SECURITY: everything here reads data written by an unprivileged user
 *   (through sendmail and postdrop). Nothing is trusted: attribute names
 *   come from a fixed list, numbers go through num_parse with bounds, and
 *   the uid is never taken from the user (postdrop adds it; pickup only
 *   reads what postdrop wrote and still checks its syntax).
 * LIMITS: full name MAILDROP_FULL_NAME_MAX bytes; record sizes are the
 *   reader's and writer's limits; uid 0..MAILDROP_UID_MAX.
 */
#include <stdio.h>
#include <string.h>

#include "attr_names.h"
#include "maildrop.h"
#include "msg.h"
#include "numparse.h"
#include "qfile.h"
#include "rec_type.h"
#include "strbuf.h"
#include "strutil.h"

/* maildrop_fail: set err to "what" and return -1. */
static int maildrop_fail(strbuf *err, const char *what, const char *detail)
{
    strbuf_reset(err);
    if (detail)
        (void) strbuf_printf(err, "%s: %.100s", what, detail);
    else
        (void) strbuf_puts(err, what);
    return -1;
}

/* maildrop_user_attr: check one user-supplied attribute. */
int maildrop_user_attr(const char *name, const char *value, int *flags,
                       strbuf *err)
{
    long    n;

    if (strcmp(name, ATTR_NAME_FULL_NAME) == 0) {
        if (strlen(value) > MAILDROP_FULL_NAME_MAX)
            return maildrop_fail(err, "full name too long", NULL);
        if (strpbrk(value, "\r\n"))
            return maildrop_fail(err, "full name holds a line break", NULL);
        return 0;
    }
    if (strcmp(name, ATTR_NAME_FLAGS) == 0) {
        if (num_parse_long(value, 0, MAILDROP_USER_FLAGS, &n) < 0)
            return maildrop_fail(err, "bad flags attribute", value);
        *flags |= (int) n;
        return 0;
    }
    if (strcmp(name, ATTR_NAME_ENCODING) == 0) {
        if (strcmp(value, "7bit") != 0 && strcmp(value, "8bit") != 0)
            return maildrop_fail(err, "bad encoding attribute", value);
        return 0;
    }
    return maildrop_fail(err, "attribute not allowed from a local user", name);
}

/* Filter state: what the writer has seen, so that its order rules are
 * checked here rather than enforced by a panic there. */
enum maildrop_seg {
    MAILDROP_SEG_START,
    MAILDROP_SEG_ENVELOPE,
    MAILDROP_SEG_CONTENT,
    MAILDROP_SEG_EXTRACTED,
    MAILDROP_SEG_END
};

#define MD_SEEN_SENDER  (1 << 0)
#define MD_SEEN_ENVID   (1 << 1)
#define MD_SEEN_RET     (1 << 2)
#define MD_SEEN_TIME    (1 << 3)

/* maildrop_split_attr: split "name=value" (payload) in place; -1 if bad. */
static int maildrop_split_attr(char *payload, const char **name,
                               const char **value)
{
    char   *eq = strchr(payload, '=');

    if (eq == NULL || eq == payload)
        return -1;
    *eq = 0;
    *name = payload;
    *value = eq + 1;
    return 0;
}

/* maildrop_filter: copy what a user may send; see the header comment. */
int maildrop_filter(qfile_reader *in, qfile_writer *out, strbuf *err)
{
    enum maildrop_seg seg = MAILDROP_SEG_START;
    qfile_record rec;
    strbuf *why = strbuf_new(64);
    strbuf *copy = strbuf_new(64);
    int     seen = 0, pending = 0, partial = 0, flags = 0;
    int     nrcpt = 0, st, bit;
    int     result = -1;

#define FAIL(...) do { strbuf_reset(err); \
        (void) strbuf_printf(err, __VA_ARGS__); goto done; } while (0)

    for (;;) {
        st = qfile_read_record(in, &rec, why);
        if (st < 0)
            FAIL("%s", strbuf_str(why));
        if (st == 0)
            FAIL("stream ends without an end record");
        if (seg == MAILDROP_SEG_START) {
            if (rec.type != REC_TYPE_HEADER)
                FAIL("offset %ld: the stream must start with a header record",
                     (long) rec.offset);
            seg = MAILDROP_SEG_ENVELOPE;
            continue;
        }
        bit = rec.type == REC_TYPE_ORIG_RCPT ? 1 : rec.type == REC_TYPE_ORCPT ? 2
            : rec.type == REC_TYPE_NOTIFY ? 4 : 0;
        if (pending && !bit && rec.type != REC_TYPE_RCPT)
            FAIL("offset %ld: %s record between recipient attributes and "
                 "their recipient", (long) rec.offset, qfile_type_name(rec.type));
        if (bit && (pending & bit))
            FAIL("offset %ld: second %s record for one recipient",
                 (long) rec.offset, qfile_type_name(rec.type));
        if (partial && rec.type != REC_TYPE_PARTIAL && rec.type != REC_TYPE_NORMAL)
            FAIL("offset %ld: unfinished long line", (long) rec.offset);
        switch (rec.type) {
        case REC_TYPE_TIME:
            /* postdrop stamps the arrival time itself. */
            if (seg != MAILDROP_SEG_ENVELOPE || (seen & MD_SEEN_TIME))
                FAIL("offset %ld: misplaced time record", (long) rec.offset);
            seen |= MD_SEEN_TIME;
            continue;
        case REC_TYPE_SENDER:
        case REC_TYPE_ENVID:
        case REC_TYPE_RET:
            bit = rec.type == REC_TYPE_SENDER ? MD_SEEN_SENDER
                : rec.type == REC_TYPE_ENVID ? MD_SEEN_ENVID : MD_SEEN_RET;
            if (seg != MAILDROP_SEG_ENVELOPE || (seen & bit))
                FAIL("offset %ld: misplaced or repeated %s record",
                     (long) rec.offset, qfile_type_name(rec.type));
            seen |= bit;
            break;
        case REC_TYPE_ATTR:
            {
                const char *name, *value;

                if (seg != MAILDROP_SEG_ENVELOPE)
                    FAIL("offset %ld: attribute outside the envelope",
                         (long) rec.offset);
                strbuf_set(copy, rec.data, rec.len);
                if (memchr(rec.data, 0, rec.len)
                    || maildrop_split_attr(copy->data, &name, &value) < 0)
                    FAIL("offset %ld: malformed attribute", (long) rec.offset);
                if (maildrop_user_attr(name, value, &flags, why) < 0)
                    FAIL("offset %ld: %s", (long) rec.offset, strbuf_str(why));
            }
            break;
        case REC_TYPE_ORIG_RCPT:
        case REC_TYPE_ORCPT:
        case REC_TYPE_NOTIFY:
            if (seg != MAILDROP_SEG_ENVELOPE && seg != MAILDROP_SEG_EXTRACTED)
                FAIL("offset %ld: misplaced %s record", (long) rec.offset,
                     qfile_type_name(rec.type));
            pending |= bit;
            break;
        case REC_TYPE_RCPT:
            if (seg != MAILDROP_SEG_ENVELOPE && seg != MAILDROP_SEG_EXTRACTED)
                FAIL("offset %ld: misplaced recipient", (long) rec.offset);
            if (rec.len == 0)
                FAIL("offset %ld: empty recipient", (long) rec.offset);
            pending = 0;
            nrcpt++;
            break;
        case REC_TYPE_MESSAGE:
            if (seg != MAILDROP_SEG_ENVELOPE)
                FAIL("offset %ld: second content record", (long) rec.offset);
            if (!(seen & MD_SEEN_SENDER))
                FAIL("offset %ld: content before the sender", (long) rec.offset);
            seg = MAILDROP_SEG_CONTENT;
            break;
        case REC_TYPE_NORMAL:
        case REC_TYPE_PARTIAL:
            if (seg != MAILDROP_SEG_CONTENT)
                FAIL("offset %ld: content outside the content segment",
                     (long) rec.offset);
            partial = rec.type == REC_TYPE_PARTIAL;
            break;
        case REC_TYPE_EXTRACTED:
            if (seg != MAILDROP_SEG_CONTENT)
                FAIL("offset %ld: misplaced extracted segment", (long) rec.offset);
            if (!(flags & MAILDROP_F_EXTRACT))
                FAIL("offset %ld: extracted recipients without the extract flag",
                     (long) rec.offset);
            seg = MAILDROP_SEG_EXTRACTED;
            break;
        case REC_TYPE_END:
            if (seg != MAILDROP_SEG_CONTENT && seg != MAILDROP_SEG_EXTRACTED)
                FAIL("offset %ld: stream ends before its content",
                     (long) rec.offset);
            if (nrcpt == 0)
                FAIL("no recipients");
            if (qfile_read_record(in, &rec, why) != 0)
                FAIL("data after the end record");
            result = 0;
            goto done;
        default:
            FAIL("offset %ld: %s record not allowed from a local user",
                 (long) rec.offset, qfile_type_name(rec.type));
        }
        if (qfile_put(out, rec.type, rec.data, rec.len) < 0)
            FAIL("offset %ld: %s", (long) rec.offset,
                 qfile_writer_error(out) ? qfile_writer_error(out) : "write error");
    }
#undef FAIL
done:
    strbuf_free(why);
    strbuf_free(copy);
    return result;
}

/* maildrop_check: re-check a parsed maildrop file (pickup). */
int maildrop_check(const qfile_envelope *env, maildrop_info *info, strbuf *err)
{
    size_t  i;
    int     have_uid = 0;
    strbuf *why = strbuf_new(64);
    int     result = -1;

    memset(info, 0, sizeof(*info));
    info->submit_uid = -1;
    for (i = 0; i < env->nattrs; i++) {
        const char *name = env->attrs[i].name;
        const char *value = env->attrs[i].value;

        if (strcmp(name, ATTR_NAME_SUBMIT_UID) == 0) {
            if (num_parse_long(value, 0, MAILDROP_UID_MAX, &info->submit_uid) < 0) {
                (void) maildrop_fail(err, "bad submit_uid attribute", value);
                goto done;
            }
            have_uid = 1;
            continue;
        }
        if (maildrop_user_attr(name, value, &info->flags, why) < 0) {
            (void) maildrop_fail(err, strbuf_str(why), NULL);
            goto done;
        }
        if (strcmp(name, ATTR_NAME_FULL_NAME) == 0)
            info->full_name = value;
        else if (strcmp(name, ATTR_NAME_ENCODING) == 0)
            info->encoding = value;
    }
    if (!have_uid) {
        (void) maildrop_fail(err, "no submit_uid attribute", NULL);
        goto done;
    }
    if (env->warn_offset >= 0) {
        (void) maildrop_fail(err, "warning-time record not allowed", NULL);
        goto done;
    }
    for (i = 0; i < env->nrcpts; i++) {
        if (env->rcpts[i].done) {
            (void) maildrop_fail(err, "done recipient not allowed", NULL);
            goto done;
        }
        if (env->rcpts[i].extracted && !(info->flags & MAILDROP_F_EXTRACT)) {
            (void) maildrop_fail(err, "extracted recipients without the extract flag",
                                 NULL);
            goto done;
        }
        if (env->rcpts[i].address[0] == 0) {
            (void) maildrop_fail(err, "empty recipient", NULL);
            goto done;
        }
    }
    result = 0;
done:
    strbuf_free(why);
    return result;
}
