/*
 * fuzz_showq_proto: feed arbitrary bytes to the queue listing client
 * (showq_proto.c), the way postqueue reads what the showq service sends.
 *
 * The bytes are what the server sent after the protocol message; they
 * are put into a memory file that a stream reads. showq_proto_next is
 * called until it returns 0 or -1; every message is also formatted the
 * way postqueue -p and -j print it. Checked on every input: no crash;
 * every message has a queue name, ID and sender, at most
 * SHOWQ_PROTO_RCPT_MAX recipients, each with an address; -1 comes with
 * an error text.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "mailq.h"
#include "msg.h"
#include "showq_proto.h"
#include "stream.h"
#include "strbuf.h"

int     LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char fuzz_hello[] = "protocol=mail_queue_list_protocol\n\n";

int     LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static FILE *devnull;
    strbuf *err;
    strbuf *json;
    showq_proto *c;
    showq_msg m;
    mailq_totals t = {0, 0};
    size_t  i;
    int     fd, rc;

    if (devnull == NULL) {
        msg_init("fuzz_showq_proto", 0);
        if ((devnull = fopen("/dev/null", "w")) == NULL)
            abort();
    }
    if ((fd = memfd_create("fuzz_showq", 0)) < 0)
        abort();
    if (write(fd, fuzz_hello, sizeof(fuzz_hello) - 1) != (ssize_t) sizeof(fuzz_hello) - 1
        || (size > 0 && write(fd, data, size) != (ssize_t) size)
        || lseek(fd, 0, SEEK_SET) != 0)
        abort();
    err = strbuf_new(64);
    json = strbuf_new(64);
    memset(&m, 0, sizeof(m));
    if ((c = showq_proto_stream(stream_fdopen(fd, STREAM_F_READ), err)) == NULL)
        abort();
    while ((rc = showq_proto_next(c, &m, err)) == 1) {
        if (m.queue_name == NULL || m.queue_id == NULL || m.sender == NULL
            || m.nrcpts > SHOWQ_PROTO_RCPT_MAX)
            abort();
        for (i = 0; i < m.nrcpts; i++)
            if (m.rcpts[i].address == NULL)
                abort();
        mailq_print_text(devnull, &m, &t);
        mailq_format_json(json, &m);
    }
    if (rc < 0 && err->len == 0)
        abort();
    mailq_print_totals(devnull, &t);
    showq_proto_msg_clear(&m);
    showq_proto_close(c);
    strbuf_free(err);
    strbuf_free(json);
    return 0;
}
