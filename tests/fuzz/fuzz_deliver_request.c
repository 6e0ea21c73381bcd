/*
 * fuzz_deliver_request: feed arbitrary bytes to both sides of the
 * delivery protocol, the way a delivery agent reads qmgr's request and
 * qmgr reads an agent's results (deliver_request.c).
 *
 * The first input byte picks the side:
 *   even  the agent side: deliver_request_read on the bytes;
 *   odd   qmgr's side: deliver_send_stream with a fixed three-recipient
 *         request, the bytes (after a correct protocol message) as the
 *         agent's replies.
 * Checked on every input: no crash; a returned request has 1..max
 * recipients and NUL-free strings; qmgr's callback runs exactly once per
 * recipient whatever the replies were, with status 0, 4 or 5.
 * Input is capped below the socket buffer size so writes never block.
 */
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "attr_names.h"
#include "deliver_request.h"
#include "mem.h"
#include "msg.h"
#include "strbuf.h"

#define FUZZ_MAX 60000

int     LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const deliver_rcpt_out fuzz_rcpts[] = {
    {"a@x", NULL, NULL, 0, 10},
    {"b@x", "B@x", "rfc822;b@x", 2, 20},
    {"c@x", NULL, NULL, 8, 30},
};

static const deliver_req_out fuzz_req = {
    "active", "ABCDEF1", 100, 50, "x", "s@x", NULL, 0, 1, 0, fuzz_rcpts, 3
};

static int fuzz_seen[3];

/* fuzz_result: count callbacks per recipient. */
static void fuzz_result(void *ctx, long offset, int status, const char *dsn,
                        const char *relay, const char *reason)
{
    (void) ctx;
    if (status != 0 && status != 4 && status != 5)
        abort();
    if (dsn == NULL || relay == NULL || reason == NULL)
        abort();
    if (offset % 10 != 0 || offset < 10 || offset > 30)
        abort();
    fuzz_seen[offset / 10 - 1]++;
}

int     LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int init;
    int     sv[2];
    stream *s;
    strbuf *err;
    size_t  i;

    if (!init) {
        signal(SIGPIPE, SIG_IGN);
        msg_init("fuzz_deliver_request", 0);
        init = 1;
    }
    if (size < 1 || size > FUZZ_MAX)
        return 0;
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
        return 0;
    err = strbuf_new(64);
    s = stream_fdopen(sv[0], STREAM_F_RDWR);
    stream_set_timeout(s, 1000);
    if ((data[0] & 1) == 0) {
        deliver_request *req;

        if (write(sv[1], data + 1, size - 1) != (ssize_t) (size - 1))
            abort();
        shutdown(sv[1], SHUT_WR);
        req = deliver_request_read(s, err);
        if (req != NULL) {
            if (req->nrcpts < 1 || req->nrcpts > DELIVER_RCPT_MAX)
                abort();
            for (i = 0; i < req->nrcpts; i++)
                if (strlen(req->rcpts[i].address) > DELIVER_TEXT_MAX)
                    abort();
            deliver_request_free(req);
        } else if (err->len == 0) {
            abort();
        }
    } else {
        static const char hello[] = "protocol=" ATTR_PROTO_DELIVERY "\n\n";

        if (write(sv[1], hello, sizeof(hello) - 1) != (ssize_t) (sizeof(hello) - 1)
            || write(sv[1], data + 1, size - 1) != (ssize_t) (size - 1))
            abort();
        shutdown(sv[1], SHUT_WR);
        memset(fuzz_seen, 0, sizeof(fuzz_seen));
        (void) deliver_send_stream(s, &fuzz_req, fuzz_result, NULL, err);
        for (i = 0; i < 3; i++)
            if (fuzz_seen[i] != 1)
                abort();
    }
    stream_close(s);
    close(sv[1]);
    strbuf_free(err);
    return 0;
}
