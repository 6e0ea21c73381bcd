/*
 * fuzz_qfile: feed arbitrary bytes to the queue file reader (lib/mail/qfile).
 *
 * Each input is read as a record stream, then parsed as a whole queue
 * file with and without the content check, and its content iterated.
 * Besides memory errors (ASan/UBSan), the target aborts when the reader
 * contradicts itself: a file the full parse accepts must also pass the
 * fast (skip-content) parse with the same envelope, and its content must
 * read back to exactly the size the header gives.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "qfile.h"
#include "strbuf.h"

#define FUZZ_MAX_RECORD 1024

int     LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* fuzz_content: iterate the content; returns its size, or -1 on error. */
static long fuzz_content(qfile_reader *rd, const qfile_envelope *env, strbuf *err)
{
    strbuf *piece = strbuf_new(64);
    long    total = 0;
    int     r;

    if (qfile_content_start(rd, env, err) < 0) {
        strbuf_free(piece);
        return -1;
    }
    while ((r = qfile_content_next(rd, piece, err)) > 0) {
        total += (long) piece->len + (r == QFILE_CONTENT_LINE);
        if (piece->data[piece->len] != 0)
            abort();
    }
    strbuf_free(piece);
    return r < 0 ? -1 : total;
}

/* fuzz_same: 1 if two envelopes of one file agree. */
static int fuzz_same(const qfile_envelope *a, const qfile_envelope *b)
{
    size_t  i;

    if (a->nrcpts != b->nrcpts || a->nattrs != b->nattrs || a->ndone != b->ndone
        || strcmp(a->sender, b->sender) != 0 || a->arrival_sec != b->arrival_sec
        || memcmp(&a->header, &b->header, sizeof(a->header)) != 0)
        return 0;
    for (i = 0; i < a->nrcpts; i++)
        if (strcmp(a->rcpts[i].address, b->rcpts[i].address) != 0
            || a->rcpts[i].offset != b->rcpts[i].offset
            || a->rcpts[i].done != b->rcpts[i].done)
            return 0;
    return 1;
}

/* LLVMFuzzerTestOneInput: one input through every reader entry point. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    strbuf *err = strbuf_new(128);
    qfile_reader *rd = qfile_reader_mem(data, size, FUZZ_MAX_RECORD);
    qfile_envelope *full;
    qfile_envelope *fast;
    qfile_record rec;
    int     r;

    /* Raw record iteration. */
    while ((r = qfile_read_record(rd, &rec, err)) == 1) {
        if (rec.len > FUZZ_MAX_RECORD || rec.data[rec.len] != 0)
            abort();
    }
    if (r < 0 && strncmp(err->data, "offset ", 7) != 0)
        abort();

    full = qfile_read_envelope(rd, 0, err);
    if (full == NULL && strncmp(err->data, "offset ", 7) != 0)
        abort();
    fast = qfile_read_envelope(rd, QFILE_ENV_SKIP_CONTENT, err);
    if (full != NULL) {
        if (fast == NULL || !fuzz_same(full, fast))
            abort();
        if (full->nrcpts == 0 || full->sender == NULL)
            abort();
        if (fuzz_content(rd, full, err) != full->header.content_size)
            abort();
        (void) qfile_envelope_attr(full, "client_name");
    } else if (fast != NULL) {
        /* Only the content can be wrong; reading it must not crash. */
        (void) fuzz_content(rd, fast, err);
    }
    qfile_envelope_free(full);
    qfile_envelope_free(fast);
    qfile_reader_free(rd);
    strbuf_free(err);
    return 0;
}
