/*
 * postconf_json: the one writer of postconf's output lines (plain and
 * JSON; the JSON string literals come from lib/util/json).
 *
 * Functions:
 *   postconf_print(line): write line and a newline to stdout; a write
 *     error is fatal (the caller's output would be incomplete).
 *
 * SECURITY: none; lines are built by the callers.
 * LIMITS: none beyond the input's.
 */
#include <stdio.h>
#include <string.h>

#include "msg.h"
#include "strbuf.h"
#include "postconf.h"

/* postconf_print: write one output line. */
void postconf_print(const strbuf *line)
{
    if (fwrite(line->data, 1, line->len, stdout) != line->len || putchar('\n') == EOF)
        msg_fatal("write error on standard output: %m");
}
