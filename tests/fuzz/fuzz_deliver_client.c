/*
 * fuzz_deliver_client: feed arbitrary bytes as a delivery agent's replies
 * to qmgr's asynchronous client (deliver_client.c), in pieces, on an
 * event loop.
 *
 * Input: the first byte sets the piece size (1..256) in which the rest is
 * written to the client's socket between event-loop turns; the bytes are
 * the agent's whole side of the conversation, protocol message included.
 * After the input the agent's end is closed.
 * Checked on every input: no crash; each of the three recipients gets
 * exactly one result with status 0, 4 or 5; done comes exactly once,
 * after the results, with status 0, 4 or DELIVER_CLIENT_BROKEN.
 * Input is capped below the socket buffer size so writes never block.
 */
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "deliver_client.h"
#include "deliver_request.h"
#include "event.h"
#include "msg.h"

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
static int fuzz_done;

/* fuzz_result: count results per recipient. */
static void fuzz_result(void *ctx, long offset, int status, const char *dsn,
                        const char *relay, const char *reason)
{
    (void) ctx;
    if (fuzz_done || (status != 0 && status != 4 && status != 5))
        abort();
    if (dsn == NULL || relay == NULL || reason == NULL)
        abort();
    if (offset % 10 != 0 || offset < 10 || offset > 30)
        abort();
    fuzz_seen[offset / 10 - 1]++;
}

/* fuzz_finished: the one done callback. */
static void fuzz_finished(void *ctx, int site_status, const char *reason)
{
    (void) ctx;
    if (reason == NULL || (site_status != 0 && site_status != 4
                           && site_status != DELIVER_CLIENT_BROKEN))
        abort();
    fuzz_done++;
}

int     LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int init;
    event_loop *loop;
    int     sv[2];
    size_t  piece, pos, i;
    int     turns;

    if (!init) {
        signal(SIGPIPE, SIG_IGN);
        msg_init("fuzz_deliver_client", 0);
        init = 1;
    }
    if (size < 1 || size > FUZZ_MAX)
        return 0;
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
        return 0;
    memset(fuzz_seen, 0, sizeof(fuzz_seen));
    fuzz_done = 0;
    piece = (size_t) data[0] + 1;
    loop = event_loop_new();
    (void) deliver_client_send_fd(loop, sv[0], &fuzz_req, 2000, fuzz_result,
                                  fuzz_finished, NULL);
    for (pos = 1; pos < size && !fuzz_done; pos += piece) {
        size_t  n = size - pos < piece ? size - pos : piece;

        if (write(sv[1], data + pos, n) != (ssize_t) n)
            break;
        (void) event_loop_run_once(loop, 0);
    }
    close(sv[1]);
    for (turns = 0; !fuzz_done && turns < 1000; turns++)
        (void) event_loop_run_once(loop, 10);
    if (fuzz_done != 1)
        abort();
    for (i = 0; i < 3; i++)
        if (fuzz_seen[i] != 1)
            abort();
    if (deliver_client_count() != 0)
        abort();
    event_loop_free(loop);
    return 0;
}
