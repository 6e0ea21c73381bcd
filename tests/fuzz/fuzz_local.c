/*
 * fuzz_local: feed arbitrary bytes to the parts of the local delivery
 * agent that read what senders and users wrote: the alias/.forward value
 * splitter, the Delivered-To: header scan, and the mbox writer.
 *
 * Checked on every input:
 *   - local_alias_split returns at most LOCAL_EXPAND_MAX items, none
 *     empty, none with white space at either end;
 *   - the Delivered-To: values found are lower case and hold no line end;
 *   - the mbox copy of the input (as a message) has no line starting
 *     with "From " except its first, the copy ends in an empty line, and
 *     the Maildir-style copy (no quoting) reproduces the input lines.
 * The local/ sources are compiled in (they are not in libpostern); the
 * mailbox writers come from lib/mail/mailbox.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "fileio.h"
#include "mailbox.h"
#include "htable.h"
#include "mem.h"
#include "strbuf.h"

#include "../../local/local_alias.c"

int     LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* fuzz_check: abort when an invariant fails (libFuzzer reports it). */
static void fuzz_check(int ok)
{
    if (!ok)
        abort();
}

/* fuzz_copy: write one copy into a memory file and read it back. */
static strbuf *fuzz_copy(mailbox_content *c, int mbox)
{
    mailbox_copy_args a;
    strbuf *err = strbuf_new(64);
    strbuf *out = strbuf_new(256);
    struct stat st;
    int     fd = memfd_create("fuzz_local", 0);

    fuzz_check(fd >= 0);
    memset(&a, 0, sizeof(a));
    a.sender = "s@x";
    a.mbox = mbox;
    fuzz_check(mailbox_copy(fd, c, &a, 0, err) == 0);
    fuzz_check(fstat(fd, &st) == 0);
    (void) strbuf_reserve(out, (size_t) st.st_size + 1);
    fuzz_check(fileio_pread_full(fd, out->data, (size_t) st.st_size, 0) == 0);
    out->len = (size_t) st.st_size;
    out->data[out->len] = 0;
    (void) close(fd);
    strbuf_free(err);
    return out;
}

int     LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char   *text = mem_strndup((const char *) data, size);
    size_t  len = strlen(text);
    char  **items;
    size_t  n;
    size_t  i;
    htable *set = htable_new(4);
    mailbox_content c;
    strbuf *err = strbuf_new(64);
    strbuf *copy;
    const char **keys;
    const char *p;

    /* splitter */
    n = local_alias_split(text, &items);
    fuzz_check(n <= LOCAL_EXPAND_MAX);
    for (i = 0; i < n; i++) {
        size_t  l = strlen(items[i]);

        fuzz_check(l > 0);
        fuzz_check(!isspace((unsigned char) items[i][0]));
        fuzz_check(!isspace((unsigned char) items[i][l - 1]));
    }
    local_alias_free(items, n);

    /* Delivered-To scan */
    mailbox_content_mem(&c, text, len);
    fuzz_check(mailbox_content_headers(&c, set, err) == 0);
    keys = htable_keys(set, &n);
    for (i = 0; i < n; i++) {
        for (p = keys[i]; *p; p++) {
            fuzz_check(*p != '\n');
            fuzz_check(!isupper((unsigned char) *p));
        }
    }
    mem_free(keys);

    /* mbox copy: no forged message boundaries */
    copy = fuzz_copy(&c, 1);
    fuzz_check(strncmp(copy->data, "From s@x ", 9) == 0);
    fuzz_check(copy->len >= 2 && copy->data[copy->len - 1] == '\n'
               && copy->data[copy->len - 2] == '\n');
    for (p = strchr(copy->data, '\n'); p && p[1]; p = strchr(p + 1, '\n'))
        fuzz_check(strncmp(p + 1, "From ", 5) != 0);
    strbuf_free(copy);

    /* plain copy: the lines come back as they were */
    copy = fuzz_copy(&c, 0);
    if (len > 0 && text[len - 1] != '\n')
        fuzz_check(copy->len == len + 1 && memcmp(copy->data, text, len) == 0);
    else
        fuzz_check(copy->len == len && memcmp(copy->data, text, len) == 0);
    strbuf_free(copy);

    mailbox_content_mem_free(&c);
    htable_free(set, NULL);
    strbuf_free(err);
    mem_free(text);
    return 0;
}
