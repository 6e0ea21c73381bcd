/*
 * fuzz_qfile_pending: the recipient slice reader qmgr uses
 * (qfile_read_pending, after qfile_read_envelope with
 * QFILE_ENV_COUNT_RCPTS).
 *
 * Input: the first byte sets the slice size (1..256), the rest is a queue
 * file. Checked on every input: no crash; when the counting parse accepts
 * the file, reading it in slices returns exactly nrcpts - ndone pending
 * recipients, every slice within the size, with increasing offsets that
 * point at 'R' records; when it refuses the file, the slice reader is
 * still run on it (with the header as the parser saw it) and may fail but
 * must not crash or return recipients with an error.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "msg.h"
#include "qfile.h"
#include "strbuf.h"

#define FUZZ_MAX    (256 * 1024)
#define FUZZ_RECORD 4096

int     LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* fuzz_slices: read every slice; returns the count, or -1 on an error. */
static long fuzz_slices(qfile_reader *rd, const qfile_envelope *env,
                        size_t max, const uint8_t *file, size_t flen)
{
    off_t   cursor = 0, last = -1;
    long    total = 0;
    strbuf *err = strbuf_new(64);
    int     rc, rounds = 0;

    do {
        qfile_rcpt *r;
        size_t  n, i;

        rc = qfile_read_pending(rd, env, &cursor, max, &r, &n, err);
        if (rc < 0 && (r != NULL || n != 0))
            abort();
        if (n > max)
            abort();
        for (i = 0; i < n; i++) {
            if (r[i].offset <= last || (size_t) r[i].offset >= flen
                || file[r[i].offset] != 'R' || r[i].address == NULL)
                abort();
            last = r[i].offset;
        }
        total += (long) n;
        qfile_rcpts_free(r, n);
        if (++rounds > (int) flen + 2)
            abort();                    /* no progress: the cursor is stuck */
    } while (rc == 1);
    strbuf_free(err);
    return rc < 0 ? -1 : total;
}

int     LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int init;
    const uint8_t *file = data + 1;
    size_t  flen, max;
    qfile_reader *rd;
    qfile_envelope *env;
    strbuf *err;
    long    got;

    if (!init) {
        msg_init("fuzz_qfile_pending", 0);
        init = 1;
    }
    if (size < 2 || size > FUZZ_MAX)
        return 0;
    max = (size_t) data[0] + 1;
    flen = size - 1;
    err = strbuf_new(64);
    rd = qfile_reader_mem(file, flen, FUZZ_RECORD);
    env = qfile_read_envelope(rd, QFILE_ENV_SKIP_CONTENT | QFILE_ENV_COUNT_RCPTS,
                              err);
    if (env != NULL) {
        if (env->rcpts != NULL)
            abort();
        got = fuzz_slices(rd, env, max, file, flen);
        if (got != (long) (env->nrcpts - env->ndone))
            abort();
        qfile_envelope_free(env);
    } else {
        qfile_envelope fake;

        memset(&fake, 0, sizeof(fake));
        if (flen > 2 + QFILE_HEADER_LEN)
            (void) qfile_parse_header((const char *) file + 2, QFILE_HEADER_LEN,
                                      &fake.header);
        (void) fuzz_slices(rd, &fake, max, file, flen);
    }
    qfile_reader_free(rd);
    strbuf_free(err);
    return 0;
}
