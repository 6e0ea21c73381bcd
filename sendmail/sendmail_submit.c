/*
 * sendmail_submit: hand one message to postdrop through a pipe.
 *
 *   sendmail_submit_open(env, err): start "$command_directory/postdrop -c
 *     CONFIG_DIR" with a pipe on its standard input and write the
 *     submission stream's envelope (maildrop.h): header, time, sender,
 *     full_name/flags/encoding attributes, ENVID, RET, the recipients
 *     with their NOTIFY bits, and the content start. Returns the handle,
 *     or NULL with err set (postdrop could not be started).
 *   sendmail_submit_line(sub, line, len, partial): one content line
 *     without its line end (partial: a piece of a long line that the next
 *     call continues). With -t it also collects the header section (up to
 *     header_size_limit bytes). Returns 0, SENDMAIL_TOO_BIG once the
 *     content passes message_size_limit (later calls keep failing), or -1
 *     on a write error (postdrop died; sendmail_submit_close says why).
 *   sendmail_submit_close(sub, err): with -t, add the addresses of the
 *     To:, Cc: and Bcc: headers as extracted recipients; end the stream,
 *     wait for postdrop and free sub. Returns a sysexits code: EX_OK when
 *     postdrop made the message durable; EX_NOUSER when there is no
 *     recipient at all; postdrop's EX_DATAERR/EX_USAGE; EX_TEMPFAIL for
 *     anything else (postdrop killed, write error). err says why.
 *   sendmail_submit_abort(sub): kill postdrop (it has written nothing yet:
 *     it reads the whole stream first), wait for it, free sub.
 *
 * SECURITY: runs as the invoking user; postdrop re-checks everything.
 *   The child gets a closed set of arguments, no shell.
 * LIMITS: content up to message_size_limit (0 = unlimited); collected
 *   headers up to header_size_limit; at most SENDMAIL_HDR_RCPT_MAX
 *   addresses per header.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <sysexits.h>
#include <unistd.h>

#include "addr.h"
#include "attr_names.h"
#include "hdr_addr.h"
#include "maildrop.h"
#include "mem.h"
#include "msg.h"
#include "param.h"
#include "qfile.h"
#include "sendmail.h"
#include "stream.h"
#include "strbuf.h"
#include "strutil.h"

#define SENDMAIL_RECORD_MAX     (1024 * 1024)
#define SENDMAIL_HDR_RCPT_MAX   10000

struct sendmail_submit {
    pid_t   pid;                        /* postdrop */
    stream *out;                        /* pipe to it */
    qfile_writer *w;
    int     extract;
    int     nrcpts;                     /* envelope recipients */
    int     in_headers;                 /* still in the header section */
    int     line_start;                 /* next piece starts a line */
    strbuf *headers;                    /* -t: header section, LF lines */
    long    size;                       /* content bytes so far */
    long    limit;                      /* message_size_limit, 0 = none */
    int     too_big;
    int     failed;
};

/* sendmail_spawn: start postdrop on the read end of a new pipe. */
static pid_t sendmail_spawn(const char *config_dir, int *wfd, strbuf *err)
{
    char   *prog = str_concat(param_str(PARAM_COMMAND_DIRECTORY), "/postdrop",
                              (char *) NULL);
    int     fds[2];
    pid_t   pid;

    if (pipe(fds) < 0) {
        (void) strbuf_setf(err, "pipe: %s", strerror(errno));
        mem_free(prog);
        return -1;
    }
    if ((pid = fork()) < 0) {
        (void) strbuf_setf(err, "fork: %s", strerror(errno));
        (void) close(fds[0]);
        (void) close(fds[1]);
        mem_free(prog);
        return -1;
    }
    if (pid == 0) {
        if (dup2(fds[0], 0) < 0)
            _exit(EX_OSERR);
        if (fds[0] != 0)
            (void) close(fds[0]);
        (void) close(fds[1]);
        /* A set-gid postdrop refuses -c, so name only a non-default one. */
        if (strcmp(config_dir, PARAM_CONFIG_DIR_DEFAULT) == 0)
            execl(prog, "postdrop", (char *) NULL);
        else
            execl(prog, "postdrop", "-c", config_dir, (char *) NULL);
        fprintf(stderr, "sendmail: cannot run %s: %s\n", prog, strerror(errno));
        _exit(EX_TEMPFAIL);
    }
    (void) close(fds[0]);
    *wfd = fds[1];
    mem_free(prog);
    return pid;
}

/* sendmail_put_envelope: the stream's records up to the content start. */
static int sendmail_put_envelope(qfile_writer *w, const sendmail_env *env)
{
    struct timeval tv;
    size_t  i;

    gettimeofday(&tv, NULL);
    if (qfile_put_header(w, env->encoding && strcmp(env->encoding, "8bit") == 0
                         ? QFILE_FLAG_8BITMIME : 0) < 0
        || qfile_put_time(w, (long) tv.tv_sec, (long) tv.tv_usec) < 0
        || qfile_put_sender(w, env->sender) < 0)
        return -1;
    if (env->full_name && qfile_put_attr(w, ATTR_NAME_FULL_NAME, env->full_name) < 0)
        return -1;
    if (env->extract && qfile_put_attr(w, ATTR_NAME_FLAGS, "1") < 0)
        return -1;
    if (env->encoding && qfile_put_attr(w, ATTR_NAME_ENCODING, env->encoding) < 0)
        return -1;
    if (env->envid && qfile_put_envid(w, env->envid) < 0)
        return -1;
    if (env->ret != QFILE_RET_NONE && qfile_put_ret(w, env->ret) < 0)
        return -1;
    for (i = 0; i < env->nrcpts; i++)
        if (qfile_put_rcpt(w, env->rcpts[i], NULL, NULL, env->notify) < 0)
            return -1;
    return qfile_put_content_start(w);
}

/* sendmail_submit_open: start postdrop and write the envelope. */
sendmail_submit *sendmail_submit_open(const sendmail_env *env, strbuf *err)
{
    sendmail_submit *sub;
    int     fd;
    pid_t   pid;

    if ((pid = sendmail_spawn(env->config_dir, &fd, err)) < 0)
        return NULL;
    sub = mem_calloc(1, sizeof(*sub));
    sub->pid = pid;
    sub->out = stream_fdopen(fd, STREAM_F_WRITE);
    sub->w = qfile_writer_new(sub->out, SENDMAIL_RECORD_MAX);
    sub->extract = env->extract;
    sub->nrcpts = (int) env->nrcpts;
    sub->in_headers = 1;
    sub->line_start = 1;
    sub->headers = strbuf_new(1024);
    strbuf_set_limit(sub->headers, (size_t) param_size(PARAM_HEADER_SIZE_LIMIT));
    sub->limit = param_size(PARAM_MESSAGE_SIZE_LIMIT);
    if (sendmail_put_envelope(sub->w, env) < 0) {
        (void) strbuf_setf(err, "%s", qfile_writer_error(sub->w)
                           ? qfile_writer_error(sub->w) : "write error");
        sub->failed = 1;
    }
    return sub;
}

/* sendmail_header_line: -t: note one header line (or piece). */
static void sendmail_header_line(sendmail_submit *sub, const char *line,
                                 size_t len, int partial)
{
    if (sub->line_start && len == 0 && !partial) {
        sub->in_headers = 0;            /* the empty line before the body */
        return;
    }
    if (sub->line_start && line[0] != ' ' && line[0] != '\t') {
        const char *colon = memchr(line, ':', len);
        size_t  i;

        /* A line that is no header field ends the header section. */
        for (i = 0; colon && line + i < colon; i++)
            if ((unsigned char) line[i] <= ' ' || line[i] == 127)
                colon = NULL;
        if (colon == NULL || colon == line) {
            sub->in_headers = 0;
            return;
        }
    }
    /* Past header_size_limit, later headers are not looked at. */
    if (strbuf_append(sub->headers, line, len) == 0 && !partial)
        (void) strbuf_putc(sub->headers, '\n');
}

/* sendmail_submit_line: write one content line or piece. */
int sendmail_submit_line(sendmail_submit *sub, const char *line, size_t len,
                         int partial)
{
    if (sub->failed)
        return -1;
    if (sub->too_big)
        return SENDMAIL_TOO_BIG;
    sub->size += (long) len + (partial ? 0 : 1);
    if (sub->limit > 0 && sub->size > sub->limit) {
        sub->too_big = 1;
        return SENDMAIL_TOO_BIG;
    }
    if (sub->extract && sub->in_headers)
        sendmail_header_line(sub, line, len, partial);
    sub->line_start = !partial;
    if (qfile_put(sub->w, partial ? REC_TYPE_PARTIAL : REC_TYPE_NORMAL, line, len) < 0) {
        sub->failed = 1;
        return -1;
    }
    return 0;
}

/* sendmail_extract: put the To/Cc/Bcc addresses as extracted recipients;
 * returns how many. */
static int sendmail_extract(sendmail_submit *sub)
{
    char   *text = sub->headers->data;
    char   *end = text + sub->headers->len;
    char   *p = text, *q, *colon;
    static const char *const names[] = {"to", "cc", "bcc"};
    int     count = 0, started = 0;
    size_t  i, k;

    while (p < end) {
        /* One field: this line and its continuation lines. */
        q = p;
        do {
            q = memchr(q, '\n', (size_t) (end - q));
            q = q ? q + 1 : end;
        } while (q < end && (*q == ' ' || *q == '\t'));
        colon = memchr(p, ':', (size_t) (q - p));
        if (colon) {
            size_t  nlen = (size_t) (colon - p);

            while (nlen > 0 && (p[nlen - 1] == ' ' || p[nlen - 1] == '\t'))
                nlen--;
            for (k = 0; k < 3; k++) {
                if (strlen(names[k]) == nlen && strncasecmp(p, names[k], nlen) == 0) {
                    hdr_addr_list *list = hdr_addr_parse(colon + 1,
                                                         (size_t) (q - colon - 1),
                                                         SENDMAIL_HDR_RCPT_MAX, 0);

                    for (i = 0; i < list->count; i++) {
                        if (list->items[i].flags & HDR_ADDR_INVALID)
                            continue;
                        if (!started) {
                            if (qfile_put_extracted(sub->w) < 0)
                                break;
                            started = 1;
                        }
                        if (qfile_put_rcpt(sub->w, list->items[i].addr, NULL, NULL, 0) == 0)
                            count++;
                    }
                    hdr_addr_list_free(list);
                }
            }
        }
        p = q;
    }
    return count;
}

/* sendmail_wait: wait for postdrop; its sysexits code. */
static int sendmail_wait(pid_t pid, strbuf *err)
{
    int     status;

    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) {
            (void) strbuf_setf(err, "waitpid: %s", strerror(errno));
            return EX_TEMPFAIL;
        }
    }
    if (WIFEXITED(status)) {
        int     code = WEXITSTATUS(status);

        if (code == 0)
            return EX_OK;
        if (strbuf_str(err)[0] == 0)
            (void) strbuf_setf(err, "postdrop exited with status %d", code);
        return code == EX_DATAERR || code == EX_USAGE || code == EX_NOUSER
            ? code : EX_TEMPFAIL;
    }
    (void) strbuf_setf(err, "postdrop was killed by signal %d", WTERMSIG(status));
    return EX_TEMPFAIL;
}

/* sendmail_submit_free: release sub (not postdrop). */
static void sendmail_submit_free(sendmail_submit *sub)
{
    qfile_writer_free(sub->w);
    if (sub->out)
        (void) stream_close(sub->out);
    strbuf_free(sub->headers);
    mem_free(sub);
}

/* sendmail_kill: stop postdrop before it writes anything; its code. */
static int sendmail_kill(sendmail_submit *sub, strbuf *err)
{
    pid_t   pid = sub->pid;

    (void) kill(pid, SIGKILL);
    sendmail_submit_free(sub);
    return sendmail_wait(pid, err);
}

/* sendmail_submit_abort: kill postdrop before it writes anything. */
void sendmail_submit_abort(sendmail_submit *sub)
{
    strbuf *err = strbuf_new(16);

    (void) sendmail_kill(sub, err);
    strbuf_free(err);
}

/* sendmail_submit_close: end the stream and wait for postdrop. */
int sendmail_submit_close(sendmail_submit *sub, strbuf *err)
{
    qfile_header hdr;
    pid_t   pid = sub->pid;
    int     nextracted = 0, rc;

    strbuf_reset(err);
    if (sub->too_big) {
        (void) sendmail_kill(sub, err);
        (void) strbuf_setf(err, "message size exceeds fixed maximum message size");
        return EX_DATAERR;
    }
    if (!sub->line_start && !sub->failed)
        (void) sendmail_submit_line(sub, "", 0, 0);
    if (sub->extract && !sub->failed)
        nextracted = sendmail_extract(sub);
    if (!sub->failed && sub->nrcpts + nextracted == 0) {
        (void) sendmail_kill(sub, err);
        (void) strbuf_setf(err, "no recipient addresses found in message header");
        return EX_NOUSER;
    }
    if (!sub->failed && qfile_finish(sub->w, &hdr) < 0)
        sub->failed = 1;
    if (sub->failed) {
        /* postdrop may have failed first: its exit code tells. */
        const char *why = qfile_writer_error(sub->w);
        strbuf *text = strbuf_new(64);

        (void) strbuf_puts(text, why ? why : "write error");
        rc = sendmail_kill(sub, err);
        if (rc == EX_OK || strstr(strbuf_str(err), "signal"))
            (void) strbuf_setf(err, "cannot hand the message to postdrop: %s",
                               strbuf_str(text));
        strbuf_free(text);
        return rc == EX_OK ? EX_TEMPFAIL : rc;
    }
    rc = stream_close(sub->out);
    sub->out = NULL;
    sendmail_submit_free(sub);
    if (rc < 0)
        (void) strbuf_setf(err, "write to postdrop: %s", strerror(errno));
    rc = sendmail_wait(pid, err);
    if (rc == EX_OK && strbuf_str(err)[0] == 0)
        return EX_OK;
    return rc == EX_OK ? EX_TEMPFAIL : rc;
}
