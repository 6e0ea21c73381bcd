/*
 * fuzz_maildrop: feed arbitrary bytes to postdrop's filter
 * (lib/mail/maildrop: maildrop_filter), the code that faces a local
 * user's submission stream.
 *
 * The filter must never let the queue-file writer panic (it checks every
 * order rule itself first), and whatever it accepts must make a file
 * that the strict reader parses and that maildrop_check (pickup's rules)
 * accepts; the target aborts otherwise.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "attr_names.h"
#include "maildrop.h"
#include "qfile.h"
#include "stream.h"
#include "strbuf.h"

#define FUZZ_MAX_RECORD 1024

int     LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* LLVMFuzzerTestOneInput: filter, then read back and check. */
int     LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    FILE   *fp = tmpfile();
    int     fd;
    stream *out;
    qfile_writer *w;
    qfile_reader *rd;
    qfile_envelope *env;
    qfile_header hdr;
    maildrop_info info;
    strbuf *err = strbuf_new(64);

    if (fp == NULL)
        abort();
    fd = fileno(fp);
    out = stream_fdopen(fd, STREAM_F_WRITE | STREAM_F_NOCLOSE);
    w = qfile_writer_new(out, FUZZ_MAX_RECORD);
    rd = qfile_reader_mem(data, size, FUZZ_MAX_RECORD);
    if (qfile_put_header(w, 0) < 0 || qfile_put_time(w, 1, 0) < 0
        || qfile_put_attr(w, ATTR_NAME_SUBMIT_UID, "7") < 0)
        abort();
    if (maildrop_filter(rd, w, err) == 0) {
        if (qfile_finish(w, &hdr) < 0 || stream_flush(out) < 0
            || qfile_update_header(fd, &hdr) < 0)
            abort();
        qfile_reader_free(rd);
        rd = qfile_reader_fd(fd, FUZZ_MAX_RECORD);
        env = qfile_read_envelope(rd, 0, err);
        if (env == NULL || maildrop_check(env, &info, err) < 0
            || info.submit_uid != 7)
            abort();
        qfile_envelope_free(env);
    }
    qfile_reader_free(rd);
    qfile_writer_free(w);
    (void) stream_close(out);
    fclose(fp);
    strbuf_free(err);
    return 0;
}
