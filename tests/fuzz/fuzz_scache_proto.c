/*
 * fuzz_scache_proto: the connection cache framing (lib/mail/scache_proto)
 * on an arbitrary byte stream that arrives in pieces over a real UNIX
 * socket, some pieces carrying a passed descriptor.
 *
 * Input: byte 0 = piece length (1..256), byte 1 = bit mask: piece i
 * carries a descriptor when bit (i % 8) is set; the rest is the stream
 * (at most 32 KiB; what does not fit in the socket buffer is cut
 * off). Messages are decoded one after another, as the
 * daemon and the client do, and each one's descriptor (if any) is taken.
 *
 * Checked on every input:
 *   - decoding never crashes or leaks memory or descriptors (the
 *     descriptor count is the same before and after);
 *   - a decoded message has at most 8 attributes, each value within
 *     SCACHE_PROP_MAX bytes;
 *   - once the reader reports an error, the input is not read further.
 */
#include <dirent.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "attr.h"
#include "fdpass.h"
#include "scache_proto.h"
#include "strbuf.h"

#define FUZZ_INPUT_MAX  32768

int     LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* fuzz_check: abort when an invariant fails (libFuzzer reports it). */
static void fuzz_check(int ok)
{
    if (!ok)
        abort();
}

/* fuzz_count_fds: descriptors open in this process. */
static int fuzz_count_fds(void)
{
    DIR    *d = opendir("/proc/self/fd");
    struct dirent *e;
    int     n = 0;

    if (d == NULL)
        return -1;
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n;
}

/* LLVMFuzzerTestOneInput: one stream in pieces. */
int     LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int     sv[2], pfd[2], before, fd;
    size_t  piece, off, i, n;
    unsigned mask;
    scache_proto *p;
    attr_list *msg;
    strbuf *err;
    int     rc;

    if (size < 3 || size > FUZZ_INPUT_MAX + 2)
        return 0;
    before = fuzz_count_fds();
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
        return 0;
    if (pipe(pfd) < 0) {
        (void) close(sv[0]);
        (void) close(sv[1]);
        return 0;
    }
    /* The writer never blocks: what does not fit is cut off. */
    (void) fcntl(sv[0], F_SETFL, O_NONBLOCK);
    piece = (size_t) data[0] + 1;
    mask = data[1];
    for (off = 2, i = 0; off < size; off += n, i++) {
        n = size - off < piece ? size - off : piece;
        if (fdpass_send(sv[0], data + off, n, (mask >> (i % 8)) & 1 ? pfd[0] : -1,
                        1) < 0)
            break;
    }
    (void) shutdown(sv[0], SHUT_WR);
    p = scache_proto_new(sv[1]);
    msg = attr_list_new();
    err = strbuf_new(64);
    for (;;) {
        rc = scache_proto_read(p, msg, 1000, err);
        if (rc < 0)
            break;
        fuzz_check(msg->count <= 8);
        for (i = 0; i < msg->count; i++)
            fuzz_check(msg->items[i].len <= SCACHE_PROP_MAX);
        if ((fd = scache_proto_take_fd(p)) >= 0)
            (void) close(fd);
    }
    scache_proto_free(p);
    attr_list_free(msg);
    strbuf_free(err);
    (void) close(sv[0]);
    (void) close(sv[1]);
    (void) close(pfd[0]);
    (void) close(pfd[1]);
    fuzz_check(fuzz_count_fds() == before);
    return 0;
}
