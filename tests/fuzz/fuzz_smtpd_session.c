/*
 * fuzz_smtpd_session: run a whole smtpd session (smtpd_proto_run) on
 * arbitrary client bytes, over a socketpair, with in-memory hooks in
 * place of cleanup, the restriction engine and anvil.
 *
 * The first input byte picks the configuration (bare newline mode,
 * pipelining enforcement, a small message_size_limit, a small recipient
 * limit, hidden EHLO keywords, an early talker); the rest is what the
 * client sends (at most 4096 bytes, so that replies fit in the socket
 * buffer). Checked on every input:
 *   - every queue handle that was opened is finished or aborted;
 *   - the number of messages queued equals the number of "queued as"
 *     replies;
 *   - no queued message is larger than message_size_limit;
 *   - every reply line starts with three digits and a space or '-'.
 * The smtpd/ sources are compiled in (they are not in libpostern).
 */
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "mem.h"
#include "msg.h"
#include "strbuf.h"
#include "stream.h"

#include "../../smtpd/smtpd_cmd.c"
#include "../../smtpd/smtpd_data.c"
#include "../../smtpd/smtpd_proto.c"

int     LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_INPUT_MAX 4096

static int fuzz_open;
static int fuzz_queued;
static long fuzz_limit;
static size_t fuzz_biggest;

/* fuzz_check: abort when an invariant fails (libFuzzer reports it). */
static void fuzz_check(int ok)
{
    if (!ok)
        abort();
}

/* fuzz_hook_check: reject recipients whose address starts with "x". */
static int fuzz_hook_check(smtpd_session *sess, enum smtpd_stage stage,
                           strbuf *reply)
{
    if (stage == SMTPD_STAGE_RCPT && sess->current_rcpt[0] == 'x') {
        strbuf_setf(reply, "554 5.7.1 <%s>: Relay access denied",
                    sess->current_rcpt);
        return SMTPD_VERDICT_REJECT;
    }
    if (stage == SMTPD_STAGE_RCPT && sess->current_rcpt[0] == 'd')
        return SMTPD_VERDICT_DISCARD;
    return SMTPD_VERDICT_OK;
}

/* fuzz_hook_open: an in-memory message. */
static void *fuzz_hook_open(smtpd_session *sess, strbuf *err)
{
    (void) sess;
    (void) err;
    fuzz_open++;
    return strbuf_new(64);
}

/* fuzz_hook_content: append. */
static int fuzz_hook_content(smtpd_session *sess, void *q, const char *buf,
                             size_t len)
{
    (void) sess;
    return strbuf_append(q, buf, len);
}

/* fuzz_hook_finish: count and drop. */
static int fuzz_hook_finish(smtpd_session *sess, void *q, strbuf *id,
                            strbuf *why)
{
    strbuf *m = q;

    (void) sess;
    (void) why;
    fuzz_open--;
    fuzz_queued++;
    if (m->len > fuzz_biggest)
        fuzz_biggest = m->len;
    strbuf_free(m);
    strbuf_setf(id, "FUZZ%d", fuzz_queued);
    return 0;
}

/* fuzz_hook_abort: drop. */
static void fuzz_hook_abort(smtpd_session *sess, void *q)
{
    (void) sess;
    fuzz_open--;
    strbuf_free(q);
}

/* fuzz_hook_limit: the message limit hits the third MAIL. */
static int fuzz_hook_limit(smtpd_session *sess, const char *what, strbuf *reply)
{
    static int n;

    (void) sess;
    if (strcmp(what, "message") == 0 && ++n % 3 == 0) {
        strbuf_setf(reply, "452 4.3.2 Error: too much mail from 192.0.2.1");
        return 1;
    }
    return 0;
}

static const smtpd_hooks fuzz_hooks = {
    NULL, fuzz_hook_check, fuzz_hook_limit, fuzz_hook_open, fuzz_hook_content,
    fuzz_hook_finish, fuzz_hook_abort, NULL, NULL,
};

/* fuzz_count: how many times needle occurs in out. */
static int fuzz_count(const strbuf *out, const char *needle)
{
    const char *p = out->data;
    int     n = 0;

    while ((p = memmem(p, out->len - (size_t) (p - out->data), needle,
                       strlen(needle))) != NULL) {
        n++;
        p++;
    }
    return n;
}

/* LLVMFuzzerTestOneInput: one session. */
int     LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int init;
    smtpd_config cfg;
    smtpd_session *sess;
    stream *s;
    strbuf *out;
    int     sv[2], flags, early;
    size_t  off = 0, i;
    ssize_t n;
    char    buf[4096];

    if (!init) {
        (void) signal(SIGPIPE, SIG_IGN);
        msg_init("fuzz_smtpd_session", 0);
        init = 1;
    }
    if (size < 1 || size > FUZZ_INPUT_MAX + 1)
        return 0;
    flags = data[0];
    data++;
    size--;
    smtpd_config_defaults(&cfg);
    cfg.error_sleep_ms = 0;
    cfg.timeout_ms = 1000;
    cfg.forbid_bare_newline = (flags & 1) ? SMTPD_BARE_NL_REJECT
        : SMTPD_BARE_NL_NORMALIZE;
    cfg.forbid_unauth_pipelining = (flags & 2) != 0;
    cfg.message_size_limit = (flags & 4) ? 64 : 0;
    cfg.recipient_limit = (flags & 8) ? 2 : 1000;
    cfg.ehlo_discard = (flags & 16) ? (SMTPD_EHLO_DSN | SMTPD_EHLO_SMTPUTF8
                                       | SMTPD_EHLO_CHUNKING) : 0;
    cfg.disable_vrfy = (flags & 32) != 0;
    early = (flags & 64) != 0;
    fuzz_limit = cfg.message_size_limit;
    fuzz_open = 0;
    fuzz_queued = 0;
    fuzz_biggest = 0;

    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
        abort();
    while (off < size) {
        n = write(sv[0], data + off, size - off);
        fuzz_check(n > 0);
        off += (size_t) n;
    }
    (void) shutdown(sv[0], SHUT_WR);
    s = stream_fdopen(sv[1], STREAM_F_RDWR);
    sess = smtpd_session_new(&cfg, &fuzz_hooks, s, "client.example",
                             "192.0.2.1", 25);
    smtpd_proto_run(sess, early);
    smtpd_session_free(sess);
    (void) stream_close(s);

    out = strbuf_new(4096);
    while ((n = read(sv[0], buf, sizeof(buf))) > 0)
        strbuf_append(out, buf, (size_t) n);
    close(sv[0]);

    fuzz_check(fuzz_open == 0);
    fuzz_check(fuzz_queued == fuzz_count(out, " Ok: queued as FUZZ"));
    if (fuzz_limit > 0)
        fuzz_check(fuzz_biggest <= (size_t) fuzz_limit);
    for (i = 0; i < out->len; i = (size_t) ((char *) memchr(out->data + i, '\n',
                                                           out->len - i)
                                           - out->data) + 1) {
        fuzz_check(out->len - i >= 4);
        fuzz_check(out->data[i] >= '2' && out->data[i] <= '5');
        fuzz_check(out->data[i + 3] == ' ' || out->data[i + 3] == '-');
        if (memchr(out->data + i, '\n', out->len - i) == NULL)
            abort();                    /* every reply ends in CRLF */
    }
    strbuf_free(out);
    return 0;
}
