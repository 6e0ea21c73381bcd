/*
 * fuzz_virtual: feed arbitrary bytes to the checks virtual(8) makes on
 * table results before they become a path or an id: virtual_path_check
 * (virtual_mailbox_maps results) and virtual_id_parse (uid/gid maps).
 *
 * Checked on every input:
 *   - a path that virtual_path_check accepts is shorter than
 *     VIRTUAL_PATH_MAX, holds no control character, and (leading
 *     slashes aside) has no empty, "." or ".." component, so joined to
 *     the base it cannot leave it; its result says Maildir exactly when
 *     it ends in '/'; a refused path always comes with a reason;
 *   - an id that virtual_id_parse accepts is within [minimum, 2^32-2].
 * The virtual/ sources are compiled in (they are not in libpostern).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mem.h"
#include "strbuf.h"

#include "../../virtual/virtual_deliver.c"

int     LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* fuzz_virtual_path_ok: the independent reading of a safe path. */
static int fuzz_virtual_path_ok(const char *p)
{
    size_t  len;
    const char *c;

    while (*p == '/')
        p++;
    len = strlen(p);
    if (len > 0 && p[len - 1] == '/')
        len--;
    if (len == 0)
        return 0;
    for (c = p; c < p + len;) {
        size_t  n = strcspn(c, "/");

        if (n > (size_t) (p + len - c))
            n = (size_t) (p + len - c);
        if (n == 0 || (n == 1 && c[0] == '.') || (n == 2 && c[0] == '.' && c[1] == '.'))
            return 0;
        c += n + 1;
    }
    return 1;
}

int     LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char   *text = mem_strndup((const char *) data, size);
    strbuf *err = strbuf_new(64);
    size_t  len = strlen(text);
    const char *c;
    long    id;
    int     rc;

    rc = virtual_path_check(text, err);
    if (rc >= 0) {
        if (len >= VIRTUAL_PATH_MAX + 64 || !fuzz_virtual_path_ok(text))
            abort();
        for (c = text; *c; c++)
            if ((unsigned char) *c < 0x20 || *c == 0x7f)
                abort();
        if (rc != (text[len - 1] == '/'))
            abort();
    } else if (err->len == 0) {
        abort();
    }
    if (virtual_id_parse(text, 100, &id) == 0 && (id < 100 || id > 4294967294L))
        abort();
    strbuf_free(err);
    mem_free(text);
    return 0;
}
