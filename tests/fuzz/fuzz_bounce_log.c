/*
 * fuzz_bounce_log: feed arbitrary bytes to the bounce log reader, the
 * way the bounce daemon reads bounce/ID (bounce_log.c).
 *
 * The bytes become the file bounce/ABCDE1 in a temporary queue_directory;
 * bounce_log_next is called until it returns 0 or -1. Checked on every
 * input: no crash; every entry has a recipient; values are NUL-free and
 * at most BOUNCE_LOG_TEXT_MAX bytes; after -1 the reader stays at -1
 * with an error text.
 */
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bounce_log.h"
#include "msg.h"
#include "param.h"
#include "param_names.h"
#include "strbuf.h"

int     LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static strbuf *fuzz_path;

/* fuzz_check: a string from an entry. */
static void fuzz_check(const char *s)
{
    if (s != NULL && strlen(s) > BOUNCE_LOG_TEXT_MAX)
        abort();
}

int     LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    bounce_log_entry e;
    bounce_log *log;
    int     fd, rc, n = 0;

    if (fuzz_path == NULL) {
        static char dir[] = "/tmp/fuzz_bounce_log.XXXXXX";
        strbuf *sub = strbuf_new(64);

        msg_init("fuzz_bounce_log", 0);
        if (mkdtemp(dir) == NULL)
            abort();
        strbuf_printf(sub, "%s/bounce", dir);
        if (mkdir(sub->data, 0700) < 0)
            abort();
        strbuf_free(sub);
        param_override(PARAM_QUEUE_DIRECTORY, dir);
        fuzz_path = strbuf_new(64);
        strbuf_printf(fuzz_path, "%s/bounce/ABCDE1", dir);
    }
    fd = open(fuzz_path->data, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0)
        abort();
    if (size > 0 && write(fd, data, size) != (ssize_t) size)
        abort();
    close(fd);
    log = bounce_log_open(BOUNCE_LOG_BOUNCE, "ABCDE1", NULL);
    if (log == NULL)
        abort();
    while ((rc = bounce_log_next(log, &e)) == 1) {
        if (e.recipient == NULL)
            abort();
        fuzz_check(e.recipient);
        fuzz_check(e.orig);
        fuzz_check(e.orcpt);
        fuzz_check(e.dsn_status);
        fuzz_check(e.reason);
        fuzz_check(e.relay);
        n++;
    }
    if (rc == -1 && (bounce_log_next(log, &e) != -1
                     || *bounce_log_error(log) == 0))
        abort();
    bounce_log_close(log);
    (void) n;
    return 0;
}
