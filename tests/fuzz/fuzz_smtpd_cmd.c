/*
 * fuzz_smtpd_cmd: feed arbitrary bytes to smtpd's pure parsers: the
 * command-line splitter (smtpd_cmd_parse, smtpd_cmd_path) and the
 * end-of-data state machine (smtpd_data_feed).
 *
 * Checked on every input:
 *   - a parsed command's arguments lie inside the input, hold no CR, LF
 *     or NUL, and have no trailing SP/TAB;
 *   - the end-of-data machine gives the same result, the same content
 *     and the same end position whether the input comes in one piece or
 *     split at any point derived from the input (reads may be cut
 *     anywhere);
 *   - the machine ends only right after CR LF "." CR LF, preceded by
 *     CR LF or at the very start;
 *   - content is never longer than the input.
 * The smtpd/ sources are compiled in (they are not in libpostern).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mem.h"
#include "strbuf.h"

#include "../../smtpd/smtpd_cmd.c"
#include "../../smtpd/smtpd_data.c"

int     LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* smtpd_proto_reply and smtpd_proto_reset are not needed by the machine,
 * but smtpd_data.c refers to them: stubs. */
int     smtpd_proto_reply(smtpd_session *sess, const char *fmt, ...)
{
    (void) sess;
    (void) fmt;
    return 0;
}

void    smtpd_proto_reset(smtpd_session *sess)
{
    (void) sess;
}

/* fuzz_check: abort when an invariant fails (libFuzzer reports it). */
static void fuzz_check(int ok)
{
    if (!ok)
        abort();
}

/* fuzz_cmd: the command parser invariants. */
static void fuzz_cmd(const uint8_t *data, size_t size)
{
    char   *buf = mem_alloc(size + 1);
    smtpd_cmd cmd;
    const char *path;
    size_t  plen, i;
    int     rc;

    memcpy(buf, data, size);
    buf[size] = '\0';
    rc = smtpd_cmd_parse(buf, size, &cmd);
    if (rc == SMTPD_CMD_OK || rc == SMTPD_CMD_EBARELF || rc == SMTPD_CMD_ENOEOL) {
        fuzz_check(cmd.args >= buf && cmd.args + cmd.args_len <= buf + size);
        fuzz_check(strlen(cmd.args) == cmd.args_len);
        for (i = 0; i < cmd.args_len; i++)
            fuzz_check(cmd.args[i] != '\r' && cmd.args[i] != '\n');
        if (cmd.args_len > 0)
            fuzz_check(cmd.args[cmd.args_len - 1] != ' '
                       && cmd.args[cmd.args_len - 1] != '\t');
        if (smtpd_cmd_path(cmd.args, cmd.args_len, "FROM:", &path, &plen) == 0)
            fuzz_check(path + plen == cmd.args + cmd.args_len);
        fuzz_check(smtpd_cmd_name(cmd.id) != NULL);
    }
    mem_free(buf);
}

/* fuzz_data: the end-of-data machine invariants. */
static void fuzz_data(const uint8_t *data, size_t size, int reject)
{
    smtpd_data_sm sm;
    strbuf *whole = strbuf_new(size + 1);
    strbuf *split = strbuf_new(size + 1);
    size_t  used1, used2 = 0, u, cut;
    int     r1, r2;

    smtpd_data_sm_init(&sm);
    r1 = smtpd_data_feed(&sm, reject, (const char *) data, size, &used1, whole);
    if (r1 == SMTPD_DATA_END) {
        fuzz_check(used1 >= 3 && memcmp(data + used1 - 3, ".\r\n", 3) == 0);
        fuzz_check(used1 == 3 || (used1 >= 5
                                  && memcmp(data + used1 - 5, "\r\n", 2) == 0));
    }
    /* Content is never longer than the input (unstuffing only removes). */
    fuzz_check(whole->len <= size);

    cut = size ? data[0] % (size + 1) : 0;
    smtpd_data_sm_init(&sm);
    r2 = smtpd_data_feed(&sm, reject, (const char *) data, cut, &u, split);
    used2 = u;
    if (r2 == SMTPD_DATA_MORE) {
        r2 = smtpd_data_feed(&sm, reject, (const char *) data + cut, size - cut,
                             &u, split);
        used2 += u;
    }
    fuzz_check(r1 == r2);
    fuzz_check(used1 == used2);
    fuzz_check(whole->len == split->len
               && memcmp(whole->data, split->data, whole->len) == 0);
    strbuf_free(whole);
    strbuf_free(split);
}

/* LLVMFuzzerTestOneInput: one input through every parser. */
int     LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 65536)
        return 0;
    fuzz_cmd(data, size);
    fuzz_data(data, size, 0);
    fuzz_data(data, size, 1);
    return 0;
}
