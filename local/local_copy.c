/*
 * local_copy: write one delivered copy of a message to a descriptor.
 *
 *   local_copy(fd, c, args, start_size, err): write, in this order, the
 *     mbox "From " line (args->mbox), "Return-Path: <sender>"
 *     (args->return_path), "Delivered-To: RCPT" (args->delivered_to not
 *     NULL), the content with LF line ends (in mbox mode every line that
 *     matches ^>*From  gets one more '>', the mboxrd rule), and in mbox
 *     mode one empty line. Writes go through a 64 KiB buffer. start_size
 *     is the size the file had before (for args->limit). Returns 0; -1
 *     write error; -2 content unreadable; -3 args->limit would be passed
 *     (nothing more is written then); err says what. The caller truncates
 *     the file back on any error.
 *   local_mbox_from_line(out, sender, when): the "From SENDER DATE\n"
 *     line (sender MAILER-DAEMON for the null sender), date in asctime
 *     form, local time.
 *   local_mbox_quote_needed(line, len): 1 when line matches ^>*From .
 *
 * SECURITY: the content is the sender's; it is copied, never interpreted,
 * except that quoting keeps it from forging mbox message boundaries.
 * LIMITS: args->limit bytes of file size; memory bounded by the buffer.
 */
#include <errno.h>
#include <string.h>
#include <sys/types.h>
#include <time.h>

#include "fileio.h"
#include "local.h"
#include "qfile.h"
#include "strbuf.h"

/* local_copy_state: the output side of one copy. */
struct local_copy_state {
    int     fd;
    strbuf *buf;
    off_t   written;
    off_t   start;
    off_t   limit;
};

/* local_copy_flush: write out the buffer. */
static int local_copy_flush(struct local_copy_state *st, strbuf *err)
{
    if (st->buf->len == 0)
        return 0;
    if (fileio_write_all(st->fd, st->buf->data, st->buf->len) < 0) {
        strbuf_printf(err, "write: %s", strerror(errno));
        return -1;
    }
    strbuf_reset(st->buf);
    return 0;
}

/* local_copy_put: append bytes, checking the limit. */
static int local_copy_put(struct local_copy_state *st, const char *data,
                          size_t len, strbuf *err)
{
    if (st->limit > 0 && st->start + st->written + (off_t) len > st->limit) {
        strbuf_printf(err, "file size limit of %ld bytes exceeded", (long) st->limit);
        return -3;
    }
    st->written += (off_t) len;
    (void) strbuf_append(st->buf, data, len);
    if (st->buf->len >= LOCAL_COPY_BUF)
        return local_copy_flush(st, err);
    return 0;
}

/* local_mbox_quote_needed: does this line need a '>' in an mbox? */
int     local_mbox_quote_needed(const char *line, size_t len)
{
    size_t  i = 0;

    while (i < len && line[i] == '>')
        i++;
    return len - i >= 5 && memcmp(line + i, "From ", 5) == 0;
}

/* local_mbox_from_line: the mbox separator line. */
void    local_mbox_from_line(strbuf *out, const char *sender, long when)
{
    time_t  t = (time_t) when;
    struct tm tm;
    char    date[64];

    if (localtime_r(&t, &tm) == NULL
        || strftime(date, sizeof(date), "%a %b %e %H:%M:%S %Y", &tm) == 0)
        date[0] = 0;
    (void) strbuf_printf(out, "From %s  %s\n", *sender ? sender : "MAILER-DAEMON", date);
}

/* local_copy: write one copy of the message. */
int     local_copy(int fd, local_content *c, const local_copy_args *args,
                   off_t start_size, strbuf *err)
{
    struct local_copy_state st;
    strbuf *hdr = strbuf_new(256);
    strbuf *piece = strbuf_new(1024);
    int     at_line_start = 1;
    int     rc = 0;
    int     ret = 0;

    st.fd = fd;
    st.buf = strbuf_new(LOCAL_COPY_BUF + 1024);
    st.written = 0;
    st.start = start_size;
    st.limit = args->limit;
    if (args->mbox)
        local_mbox_from_line(hdr, args->sender, args->arrival_time);
    if (args->return_path)
        (void) strbuf_printf(hdr, "Return-Path: <%s>\n", args->sender);
    if (args->delivered_to)
        (void) strbuf_printf(hdr, "Delivered-To: %s\n", args->delivered_to);
    ret = local_copy_put(&st, hdr->data, hdr->len, err);
    if (ret == 0 && c->start(c->ctx, err) < 0)
        ret = -2;
    while (ret == 0 && (rc = c->next(c->ctx, piece, err)) > 0) {
        if (args->mbox && at_line_start && local_mbox_quote_needed(piece->data, piece->len))
            ret = local_copy_put(&st, ">", 1, err);
        if (ret == 0)
            ret = local_copy_put(&st, piece->data, piece->len, err);
        if (ret == 0 && rc == QFILE_CONTENT_LINE)
            ret = local_copy_put(&st, "\n", 1, err);
        at_line_start = (rc == QFILE_CONTENT_LINE);
    }
    if (ret == 0 && rc < 0)
        ret = -2;
    if (ret == 0 && !at_line_start)
        ret = local_copy_put(&st, "\n", 1, err);
    if (ret == 0 && args->mbox)
        ret = local_copy_put(&st, "\n", 1, err);
    if (ret == 0)
        ret = local_copy_flush(&st, err);
    strbuf_free(st.buf);
    strbuf_free(hdr);
    strbuf_free(piece);
    return ret;
}
