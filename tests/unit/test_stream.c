/*
 * Unit tests for lib/util/stream.c, over real pipes, socketpairs and
 * files. Data that does not fit in a pipe is fed or drained by a forked
 * child. Timeout tests only check that a timeout is reported, never how
 * long it took.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "mem.h"
#include "strbuf.h"
#include "stream.h"
#include "testlib.h"

/* write_all: write everything to a raw fd (test helper). */
static int write_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;
    ssize_t n;

    while (len > 0) {
        n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t) n;
    }
    return 0;
}

/* set_nonblock: set O_NONBLOCK on fd. */
static void set_nonblock(int fd)
{
    int     fl = fcntl(fd, F_GETFL);

    assert_true(fl >= 0);
    assert_int_equal(fcntl(fd, F_SETFL, fl | O_NONBLOCK), 0);
}

/*
 * feed: return the read end of a pipe that a child fills with data and
 * then closes. *pid gets the child, to be reaped with reap().
 */
static int feed(const void *data, size_t len, pid_t *pid)
{
    int     p[2];

    assert_int_equal(pipe(p), 0);
    *pid = fork();
    assert_true(*pid >= 0);
    if (*pid == 0) {
        close(p[0]);
        _exit(write_all(p[1], data, len) == 0 ? 0 : 1);
    }
    close(p[1]);
    return p[0];
}

/* reap: wait for a child and require a clean exit. */
static void reap(pid_t pid)
{
    int     status;

    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

/* pattern: deterministic test bytes, NULs and newlines included. */
static unsigned char pattern(size_t i)
{
    return (unsigned char) ((i * 131 + (i >> 9)) & 0xFF);
}

/* line_of: n bytes of line content without '\n', then '\n'. */
static void line_of(strbuf *sb, size_t n, char fill)
{
    size_t  i;

    for (i = 0; i < n; i++)
        strbuf_putc(sb, fill + (char) (i % 7));
    strbuf_putc(sb, '\n');
}

/* Lines of many lengths around the buffer size, read back exactly. */
static void test_lines_across_buffers(void **state)
{
    static const size_t lens[] = {
        0, 1, 2, STREAM_BUFSIZE - 2, STREAM_BUFSIZE - 1, STREAM_BUFSIZE,
        STREAM_BUFSIZE + 1, 5, 2 * STREAM_BUFSIZE + 3, 0, 3 * STREAM_BUFSIZE, 7,
    };
    size_t  nlens = sizeof(lens) / sizeof(lens[0]);
    strbuf *all = strbuf_new(0);
    strbuf *line = strbuf_new(0);
    strbuf *want = strbuf_new(0);
    stream *s;
    pid_t   pid;
    size_t  i;

    (void) state;
    for (i = 0; i < nlens; i++)
        line_of(all, lens[i], (char) ('a' + i));
    s = stream_fdopen(feed(all->data, all->len, &pid), STREAM_F_READ);
    for (i = 0; i < nlens; i++) {
        strbuf_reset(want);
        line_of(want, lens[i], (char) ('a' + i));
        assert_int_equal(stream_get_line(s, line, 4 * STREAM_BUFSIZE), STREAM_OK);
        assert_int_equal(line->len, want->len);
        assert_memory_equal(line->data, want->data, want->len);
    }
    assert_int_equal(stream_get_line(s, line, 100), STREAM_EOF);
    assert_int_equal(line->len, 0);
    assert_true(stream_eof(s));
    assert_false(stream_error(s));
    assert_int_equal(stream_close(s), 0);
    reap(pid);
    strbuf_free(all);
    strbuf_free(line);
    strbuf_free(want);
}

/* TOOLONG keeps the rest of the line for the next call; nothing is lost. */
static void test_toolong_then_continue(void **state)
{
    static const struct {
        const char *input;
        size_t  max;
        struct {
            enum stream_status st;
            const char *text;
        } out[6];
    } cases[] = {
        {"abcdefghij\n", 4, {{STREAM_TOOLONG, "abcd"}, {STREAM_TOOLONG, "efgh"},
                             {STREAM_OK, "ij\n"}, {STREAM_EOF, ""}}},
        {"abc\nxy", 4, {{STREAM_OK, "abc\n"}, {STREAM_OK, "xy"}, {STREAM_EOF, ""}}},
        {"abcd\n", 4, {{STREAM_TOOLONG, "abcd"}, {STREAM_OK, "\n"}, {STREAM_EOF, ""}}},
        {"abcd", 4, {{STREAM_TOOLONG, "abcd"}, {STREAM_EOF, ""}}},
        {"abcde", 4, {{STREAM_TOOLONG, "abcd"}, {STREAM_OK, "e"}, {STREAM_EOF, ""}}},
        {"\n\n", 1, {{STREAM_OK, "\n"}, {STREAM_OK, "\n"}, {STREAM_EOF, ""}}},
        {"ab", 1, {{STREAM_TOOLONG, "a"}, {STREAM_TOOLONG, "b"}, {STREAM_EOF, ""}}},
        {"", 3, {{STREAM_EOF, ""}, {STREAM_EOF, ""}}},
    };
    strbuf *line = strbuf_new(0);
    size_t  i;
    size_t  j;

    (void) state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        pid_t   pid;
        stream *s = stream_fdopen(feed(cases[i].input, strlen(cases[i].input), &pid),
                                  STREAM_F_READ);

        for (j = 0; j < 6 && cases[i].out[j].text != NULL; j++) {
            enum stream_status st = stream_get_line(s, line, cases[i].max);

            if (st != cases[i].out[j].st || line->len != strlen(cases[i].out[j].text)
                || memcmp(line->data, cases[i].out[j].text, line->len) != 0)
                fail_msg("case %zu step %zu: got %d \"%s\", want %d \"%s\"", i, j,
                         st, line->data, cases[i].out[j].st, cases[i].out[j].text);
        }
        stream_close(s);
        reap(pid);
    }
    strbuf_free(line);
}

/* TOOLONG on a line spanning several buffers, then the rest. */
static void test_toolong_large(void **state)
{
    size_t  n = 3 * STREAM_BUFSIZE + 100;
    size_t  max = STREAM_BUFSIZE + 10;
    strbuf *all = strbuf_new(0);
    strbuf *line = strbuf_new(0);
    strbuf *got = strbuf_new(0);
    enum stream_status st;
    stream *s;
    pid_t   pid;

    (void) state;
    line_of(all, n, 'A');
    strbuf_puts(all, "next\n");
    s = stream_fdopen(feed(all->data, all->len, &pid), STREAM_F_READ);
    while ((st = stream_get_line(s, line, max)) == STREAM_TOOLONG) {
        assert_int_equal(line->len, max);
        strbuf_append(got, line->data, line->len);
    }
    assert_int_equal(st, STREAM_OK);
    strbuf_append(got, line->data, line->len);
    assert_int_equal(got->len, n + 1);
    assert_memory_equal(got->data, all->data, n + 1);
    assert_int_equal(stream_get_line(s, line, max), STREAM_OK);
    assert_string_equal(line->data, "next\n");
    stream_close(s);
    reap(pid);
    strbuf_free(all);
    strbuf_free(line);
    strbuf_free(got);
}

/* A strbuf limit below max bounds the line like max does. */
static void test_line_limit(void **state)
{
    strbuf *line = strbuf_new(0);
    stream *s;
    pid_t   pid;

    (void) state;
    strbuf_set_limit(line, 3);
    s = stream_fdopen(feed("abcdef\n", 7, &pid), STREAM_F_READ);
    assert_int_equal(stream_get_line(s, line, 100), STREAM_TOOLONG);
    assert_string_equal(line->data, "abc");
    assert_int_equal(stream_get_line(s, line, 100), STREAM_TOOLONG);
    assert_string_equal(line->data, "def");
    assert_int_equal(stream_get_line(s, line, 100), STREAM_OK);
    assert_string_equal(line->data, "\n");
    stream_close(s);
    reap(pid);
    strbuf_free(line);
}

/* CRLF, bare LF, bare CR, NUL bytes and a last line without newline. */
static void test_line_endings_and_nul(void **state)
{
    static const char input[] = "a\r\nb\nc\rd\n\0x\0\n\r\nlast";
    static const struct {
        const char *text;
        size_t  len;
    } want[] = {
        {"a\r\n", 3}, {"b\n", 2}, {"c\rd\n", 4}, {"\0x\0\n", 4}, {"\r\n", 2}, {"last", 4},
    };
    strbuf *line = strbuf_new(0);
    stream *s;
    pid_t   pid;
    size_t  i;

    (void) state;
    s = stream_fdopen(feed(input, sizeof(input) - 1, &pid), STREAM_F_READ);
    for (i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        assert_int_equal(stream_get_line(s, line, 1000), STREAM_OK);
        assert_int_equal(line->len, want[i].len);
        assert_memory_equal(line->data, want[i].text, want[i].len);
    }
    /* EOF is sticky. */
    assert_int_equal(stream_get_line(s, line, 1000), STREAM_EOF);
    assert_int_equal(stream_get_line(s, line, 1000), STREAM_EOF);
    assert_int_equal(stream_read(s, line->data, 1), 0);
    assert_true(stream_eof(s));
    stream_close(s);
    reap(pid);
    strbuf_free(line);
}

/* stream_read short reads, big direct reads and read_exact. */
static void test_read_and_exact(void **state)
{
    size_t  n = 5 * STREAM_BUFSIZE + 123;
    unsigned char *data = mem_alloc(n);
    unsigned char *got = mem_alloc(n + 10);
    size_t  off = 0;
    ssize_t r;
    stream *s;
    pid_t   pid;
    size_t  i;

    (void) state;
    for (i = 0; i < n; i++)
        data[i] = pattern(i);
    s = stream_fdopen(feed(data, n, &pid), STREAM_F_READ);
    r = stream_read(s, got, 10);
    assert_true(r > 0 && r <= 10);
    off = (size_t) r;
    assert_int_equal(stream_read_exact(s, got + off, 100), STREAM_OK);
    off += 100;
    assert_int_equal(stream_buffered(s) > 0, 1);
    /* A read bigger than the buffer: buffered bytes first, then direct. */
    while (off < n) {
        r = stream_read(s, got + off, 3 * STREAM_BUFSIZE);
        assert_true(r > 0);
        off += (size_t) r;
    }
    assert_int_equal(off, n);
    assert_memory_equal(got, data, n);
    assert_int_equal(stream_read(s, got, 1), 0);
    stream_close(s);
    reap(pid);

    /* read_exact with too little input reports EOF. */
    s = stream_fdopen(feed(data, 10, &pid), STREAM_F_READ);
    assert_int_equal(stream_read_exact(s, got, 11), STREAM_EOF);
    stream_close(s);
    reap(pid);
    mem_free(data);
    mem_free(got);
}

/* Idle descriptors time out on read: pipes and sockets, both modes. */
static void test_read_timeout(void **state)
{
    int     kind;

    (void) state;
    for (kind = 0; kind < 4; kind++) {
        int     fds[2];
        stream *s;
        strbuf *line = strbuf_new(0);
        char    buf[8];

        if (kind < 2)
            assert_int_equal(pipe(fds), 0);
        else
            assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
        if (kind % 2)
            set_nonblock(fds[0]);
        s = stream_fdopen(fds[0], STREAM_F_READ);
        stream_set_timeout(s, 50);
        assert_int_equal(stream_timeout(s), 50);
        assert_int_equal(stream_get_line(s, line, 100), STREAM_TIMEOUT);
        assert_true(stream_timed_out(s));
        assert_true(stream_error(s));
        /* Sticky until cleared. */
        errno = 0;
        assert_int_equal(stream_read(s, buf, sizeof(buf)), -1);
        assert_int_equal(errno, ETIMEDOUT);
        assert_int_equal(stream_read_exact(s, buf, 1), STREAM_TIMEOUT);
        /* After clearing, data that arrived is read normally. */
        assert_int_equal(write_all(fds[1], "hi\n", 3), 0);
        stream_clear_error(s);
        assert_false(stream_timed_out(s));
        assert_int_equal(stream_get_line(s, line, 100), STREAM_OK);
        assert_string_equal(line->data, "hi\n");
        assert_int_equal(stream_close(s), 0);
        close(fds[1]);
        strbuf_free(line);
    }
}

/* A full pipe or socket makes writes time out; later writes fail too. */
static void test_write_timeout(void **state)
{
    int     kind;
    char   *chunk = mem_calloc(1, 1 << 20);

    (void) state;
    for (kind = 0; kind < 4; kind++) {
        int     fds[2];
        stream *s;
        int     ret = 0;
        int     i;

        if (kind < 2)
            assert_int_equal(pipe(fds), 0);
        else
            assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
        if (kind % 2)
            set_nonblock(fds[1]);
        s = stream_fdopen(fds[1], STREAM_F_WRITE);
        stream_set_timeout(s, 50);
        /* Nobody reads: some write must fail within a few MiB. */
        for (i = 0; i < 16 && ret == 0; i++)
            ret = stream_write(s, chunk, 1 << 20);
        assert_int_equal(ret, -1);
        assert_true(stream_timed_out(s));
        assert_int_equal(stream_puts(s, "x"), -1);
        assert_int_equal(stream_putc(s, 'x'), -1);
        assert_int_equal(stream_printf(s, "%d", 1), -1);
        assert_int_equal(stream_flush(s), -1);
        assert_int_equal(stream_close(s), -1);
        close(fds[0]);
    }
    mem_free(chunk);
}

/*
 * drain: fork a child that reads fd to EOF in small slow-ish chunks and
 * writes the byte count and a checksum to a result pipe.
 */
static pid_t drain(int fd, int close_fd, int *result_fd)
{
    int     rp[2];
    pid_t   pid;

    assert_int_equal(pipe(rp), 0);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        unsigned long long count = 0;
        unsigned long long sum = 0;
        unsigned char buf[777];
        ssize_t n;
        ssize_t i;
        char    out[64];

        close(rp[0]);
        close(close_fd);
        for (;;) {
            n = read(fd, buf, sizeof(buf));
            if (n < 0 && (errno == EINTR || errno == EAGAIN)) {
                usleep(100);
                continue;
            }
            if (n <= 0)
                break;
            for (i = 0; i < n; i++) {
                sum = sum * 31 + buf[i] + count;
                count++;
            }
        }
        n = snprintf(out, sizeof(out), "%llu %llu", count, sum);
        _exit(write_all(rp[1], out, (size_t) n) == 0 ? 0 : 1);
    }
    close(rp[1]);
    *result_fd = rp[0];
    return pid;
}

/* Short writes on non-blocking descriptors are retried to the end. */
static void test_short_writes(void **state)
{
    size_t  n = 3 * 1024 * 1024 + 17;
    unsigned char *data = mem_alloc(n);
    unsigned long long sum = 0;
    int     kind;
    size_t  i;

    (void) state;
    for (i = 0; i < n; i++) {
        data[i] = pattern(i);
        sum = sum * 31 + data[i] + i;
    }
    for (kind = 0; kind < 2; kind++) {
        int     fds[2];
        int     result_fd;
        pid_t   pid;
        stream *s;
        char    res[64];
        char    want[64];
        ssize_t r;
        size_t  off = 0;
        size_t  step = 1;

        if (kind == 0) {
            assert_int_equal(pipe(fds), 0);
        } else {
            int     small = 4096;

            assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
            assert_int_equal(setsockopt(fds[1], SOL_SOCKET, SO_SNDBUF, &small,
                                        sizeof(small)), 0);
        }
        set_nonblock(fds[1]);
        pid = drain(fds[0], fds[1], &result_fd);
        close(fds[0]);
        s = stream_fdopen(fds[1], STREAM_F_WRITE);
        stream_set_timeout(s, 10000);
        /* Mixed sizes: tiny, buffer-sized, huge, single bytes. */
        while (off < n) {
            size_t  len = step;

            if (len > n - off)
                len = n - off;
            if (step % 5 == 0) {
                assert_int_equal(stream_putc(s, data[off]), 0);
                len = 1;
            } else {
                assert_int_equal(stream_write(s, data + off, len), 0);
            }
            off += len;
            step = (step * 7 + 3) % (3 * STREAM_BUFSIZE);
        }
        assert_int_equal(stream_close(s), 0);
        r = read(result_fd, res, sizeof(res) - 1);
        assert_true(r > 0);
        res[r] = 0;
        snprintf(want, sizeof(want), "%zu %llu", n, sum);
        assert_string_equal(res, want);
        close(result_fd);
        reap(pid);
    }
    mem_free(data);
}

/* printf output of every size arrives intact, including > buffer size. */
static void test_printf(void **state)
{
    size_t  big = 2 * STREAM_BUFSIZE + 5;
    char   *str = mem_alloc(big + 1);
    char    path[] = "/tmp/test_stream_XXXXXX";
    int     fd = mkstemp(path);
    strbuf *line = strbuf_new(0);
    stream *s;
    int     i;

    (void) state;
    assert_true(fd >= 0);
    memset(str, 'q', big);
    str[big] = 0;
    s = stream_fdopen(fd, STREAM_F_WRITE);
    for (i = 0; i < 3000; i++)
        assert_int_equal(stream_printf(s, "line %d %s\n", i, "abc"), 0);
    assert_true(stream_pending(s) > 0);
    assert_int_equal(stream_printf(s, "<%s>\n", str), 0);
    assert_int_equal(stream_close(s), 0);

    s = stream_open(path, O_RDONLY, 0);
    assert_non_null(s);
    for (i = 0; i < 3000; i++) {
        char    want[64];

        snprintf(want, sizeof(want), "line %d abc\n", i);
        assert_int_equal(stream_get_line(s, line, 100), STREAM_OK);
        assert_string_equal(line->data, want);
    }
    assert_int_equal(stream_get_line(s, line, big + 10), STREAM_OK);
    assert_int_equal(line->len, big + 3);
    assert_int_equal(line->data[0], '<');
    assert_memory_equal(line->data + 1, str, big);
    assert_int_equal(stream_get_line(s, line, 10), STREAM_EOF);
    assert_int_equal(stream_close(s), 0);
    unlink(path);
    mem_free(str);
    strbuf_free(line);
}

/* stream_open reports failures through NULL and errno. */
static void test_open_errors(void **state)
{
    (void) state;
    errno = 0;
    assert_null(stream_open("/nonexistent-postern-dir/x", O_RDONLY, 0));
    assert_int_equal(errno, ENOENT);
    assert_int_equal(stream_close(NULL), 0);
}

/* Output is flushed before a read waits, and not while input is buffered. */
static void test_flush_before_read(void **state)
{
    int     fds[2];
    strbuf *line = strbuf_new(0);
    char    buf[32];
    stream *s;

    (void) state;
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
    s = stream_fdopen(fds[0], STREAM_F_RDWR);
    stream_set_timeout(s, 5000);
    assert_int_equal(write_all(fds[1], "a\nb\n", 4), 0);
    assert_int_equal(stream_puts(s, "r0\n"), 0);
    assert_int_equal(stream_pending(s), 3);
    /* Nothing buffered: the read goes to the fd, so r0 is flushed first. */
    assert_int_equal(stream_get_line(s, line, 100), STREAM_OK);
    assert_string_equal(line->data, "a\n");
    assert_int_equal(stream_pending(s), 0);
    assert_int_equal(stream_buffered(s), 2);
    assert_int_equal(read(fds[1], buf, sizeof(buf)), 3);
    assert_memory_equal(buf, "r0\n", 3);
    /* Pipelined input is buffered: the reply stays pending. */
    assert_int_equal(stream_puts(s, "r1\n"), 0);
    assert_int_equal(stream_get_line(s, line, 100), STREAM_OK);
    assert_string_equal(line->data, "b\n");
    assert_int_equal(stream_pending(s), 3);
    assert_int_equal(stream_buffered(s), 0);
    assert_int_equal(stream_flush(s), 0);
    assert_int_equal(read(fds[1], buf, sizeof(buf)), 3);
    assert_memory_equal(buf, "r1\n", 3);
    assert_int_equal(stream_close(s), 0);
    close(fds[1]);
    strbuf_free(line);
}

/* Writing to a closed pipe is an error reported by write and close. */
static void test_write_error(void **state)
{
    int     fds[2];
    stream *s;

    (void) state;
    signal(SIGPIPE, SIG_IGN);
    assert_int_equal(pipe(fds), 0);
    close(fds[0]);
    s = stream_fdopen(fds[1], STREAM_F_WRITE);
    assert_int_equal(stream_puts(s, "lost"), 0);
    errno = 0;
    assert_int_equal(stream_close(s), -1);
    assert_int_equal(errno, EPIPE);

    /* Sockets do not raise SIGPIPE in the first place. */
    signal(SIGPIPE, SIG_DFL);
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
    close(fds[0]);
    s = stream_fdopen(fds[1], STREAM_F_WRITE);
    assert_int_equal(stream_puts(s, "lost"), 0);
    assert_int_equal(stream_flush(s), -1);
    assert_true(stream_error(s));
    assert_false(stream_timed_out(s));
    assert_int_equal(stream_close(s), -1);
}

static volatile sig_atomic_t ticks;

/* tick: SIGALRM handler that only counts. */
static void tick(int sig)
{
    (void) sig;
    ticks++;
}

/* Reads and writes survive EINTR from a signal without SA_RESTART. */
static void test_eintr(void **state)
{
    struct sigaction sa;
    struct itimerval it;
    int     p[2];
    int     q[2];
    strbuf *line = strbuf_new(0);
    char   *big = mem_calloc(1, 256 * 1024);
    stream *in;
    stream *out;
    pid_t   pid;
    int     timed;

    (void) state;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = tick;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0;                    /* no SA_RESTART */
    assert_int_equal(sigaction(SIGALRM, &sa, NULL), 0);
    memset(&it, 0, sizeof(it));
    it.it_interval.tv_usec = 2000;
    it.it_value.tv_usec = 2000;

    for (timed = 0; timed < 2; timed++) {
        assert_int_equal(pipe(p), 0);
        assert_int_equal(pipe(q), 0);
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            /* Child: after a pause, send a line, then drain q. */
            char    buf[4096];
            ssize_t n;

            close(p[0]);
            close(q[1]);
            usleep(60000);
            if (write_all(p[1], "late\n", 5) < 0)
                _exit(1);
            usleep(60000);
            while ((n = read(q[0], buf, sizeof(buf))) > 0)
                ;
            _exit(n == 0 ? 0 : 1);
        }
        close(p[1]);
        close(q[0]);
        ticks = 0;
        assert_int_equal(setitimer(ITIMER_REAL, &it, NULL), 0);
        in = stream_fdopen(p[0], STREAM_F_READ);
        out = stream_fdopen(q[1], STREAM_F_WRITE);
        if (timed) {
            stream_set_timeout(in, 10000);
            stream_set_timeout(out, 10000);
        }
        assert_int_equal(stream_get_line(in, line, 100), STREAM_OK);
        assert_string_equal(line->data, "late\n");
        assert_int_equal(stream_write(out, big, 256 * 1024), 0);
        assert_int_equal(stream_flush(out), 0);
        {
            struct itimerval off;

            memset(&off, 0, sizeof(off));
            assert_int_equal(setitimer(ITIMER_REAL, &off, NULL), 0);
        }
        assert_int_equal(stream_close(out), 0);
        assert_true(ticks > 0);
        assert_int_equal(stream_close(in), 0);
        reap(pid);
    }
    signal(SIGALRM, SIG_DFL);
    mem_free(big);
    strbuf_free(line);
}

/* Misuse by the caller panics. */
static void test_misuse(void **state)
{
    int     fds[2];
    stream *s;
    strbuf *line = strbuf_new(0);
    char    c;

    (void) state;
    assert_int_equal(pipe(fds), 0);
    s = stream_fdopen(fds[0], STREAM_F_READ);
    TESTLIB_EXPECT_EXIT(MSG_PANIC, stream_putc(s, 'x'));
    TESTLIB_EXPECT_EXIT(MSG_PANIC, stream_get_line(s, line, 0));
    stream_close(s);
    s = stream_fdopen(fds[1], STREAM_F_WRITE);
    TESTLIB_EXPECT_EXIT(MSG_PANIC, stream_read(s, &c, 1));
    stream_close(s);
    TESTLIB_EXPECT_EXIT(MSG_PANIC, stream_fdopen(-1, STREAM_F_READ));
    TESTLIB_EXPECT_EXIT(MSG_PANIC, stream_fdopen(0, 0));
    assert_string_equal(stream_status_str(STREAM_TOOLONG), "line too long");
    strbuf_free(line);
}

/* STREAM_F_NOCLOSE leaves the descriptor open. */
static void test_noclose(void **state)
{
    int     fds[2];
    stream *s;

    (void) state;
    assert_int_equal(pipe(fds), 0);
    s = stream_fdopen(fds[1], STREAM_F_WRITE | STREAM_F_NOCLOSE);
    assert_int_equal(stream_fd(s), fds[1]);
    assert_int_equal(stream_puts(s, "ok"), 0);
    assert_int_equal(stream_close(s), 0);
    assert_int_equal(fcntl(fds[1], F_GETFD) >= 0, 1);
    close(fds[1]);
    close(fds[0]);
}

/* ------------------------------------------------ replacement I/O */

/* A toy transport over a socket: bytes are XORed with 0x20 on the wire,
 * and each function can be told to answer "want" first or fail. */
typedef struct xor_io {
    int     fd;
    int     want_read_first;            /* answer WANT_READ this many times */
    int     want_write_first;           /* answer WANT_WRITE this many times */
    int     fail;                       /* answer STREAM_IO_ERROR (EPROTO) */
    int     reads;                      /* calls */
    int     writes;
} xor_io;

/* xor_read: read and decode, non-blocking. */
static ssize_t xor_read(void *ctx, void *buf, size_t len)
{
    xor_io *x = ctx;
    unsigned char *p = buf;
    ssize_t n, i;

    x->reads++;
    if (x->fail) {
        errno = EPROTO;
        return STREAM_IO_ERROR;
    }
    if (x->want_read_first > 0) {
        x->want_read_first--;
        return STREAM_IO_WANT_READ;
    }
    n = recv(x->fd, buf, len, MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        return STREAM_IO_WANT_READ;
    if (n < 0)
        return STREAM_IO_ERROR;
    for (i = 0; i < n; i++)
        p[i] ^= 0x20;
    return n;
}

/* xor_write: encode and write at most 3 bytes (short writes). */
static ssize_t xor_write(void *ctx, const void *buf, size_t len)
{
    xor_io *x = ctx;
    const unsigned char *p = buf;
    unsigned char tmp[3];
    size_t  i, n = len < 3 ? len : 3;
    ssize_t w;

    x->writes++;
    if (x->fail) {
        errno = EPROTO;
        return STREAM_IO_ERROR;
    }
    if (x->want_write_first > 0) {
        x->want_write_first--;
        return STREAM_IO_WANT_WRITE;
    }
    for (i = 0; i < n; i++)
        tmp[i] = p[i] ^ 0x20;
    w = send(x->fd, tmp, n, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        return STREAM_IO_WANT_WRITE;
    return w < 0 ? STREAM_IO_ERROR : w;
}

/* Every read and write goes through the functions, in both directions. */
static void test_io_transform(void **state)
{
    int     sv[2];
    xor_io  x = {0};
    stream *s;
    strbuf *line = strbuf_new(0);
    char    wire[64];
    ssize_t n;

    (void) state;
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    s = stream_fdopen(sv[0], STREAM_F_RDWR);
    x.fd = sv[0];
    x.want_read_first = 2;
    x.want_write_first = 1;
    stream_set_io(s, xor_read, xor_write, &x);
    stream_set_timeout(s, 5000);
    /* Peer sends encoded text; the stream must decode it. */
    assert_int_equal(write_all(sv[1], "HELLO\x2a\x2d", 7), 0);  /* "hello\n\r" xor 0x20 */
    assert_int_equal(write_all(sv[1], "\x08\x09\x2a", 3), 0);       /* "()\n" */
    assert_int_equal(stream_get_line(s, line, 100), STREAM_OK);
    assert_int_equal(line->len, 6);
    assert_memory_equal(line->data, "hello\n", 6);
    assert_true(x.reads >= 3);                  /* two "want read" answers first */
    /* Output: short writes and a WANT_WRITE still deliver everything. */
    assert_int_equal(stream_puts(s, "abcdefg"), 0);
    assert_int_equal(stream_flush(s), 0);
    assert_true(x.writes >= 4);
    n = recv(sv[1], wire, sizeof(wire), 0);
    assert_int_equal(n, 7);
    assert_memory_equal(wire, "ABCDEFG", 7);
    /* The rest of the input: "\r()\n" */
    assert_int_equal(stream_get_line(s, line, 100), STREAM_OK);
    assert_memory_equal(line->data, "\r()\n", 4);
    /* EOF from the function is EOF of the stream. */
    close(sv[1]);
    assert_int_equal(stream_get_line(s, line, 100), STREAM_EOF);
    assert_true(stream_eof(s));
    stream_close(s);
    strbuf_free(line);
}

/* "Want read" with nothing arriving ends in a timeout, not a hang. */
static void test_io_want_read_timeout(void **state)
{
    int     sv[2];
    xor_io  x = {0};
    stream *s;
    strbuf *line = strbuf_new(0);

    (void) state;
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    s = stream_fdopen(sv[0], STREAM_F_RDWR);
    x.fd = sv[0];
    stream_set_io(s, xor_read, xor_write, &x);
    stream_set_timeout(s, 50);
    assert_int_equal(stream_get_line(s, line, 100), STREAM_TIMEOUT);
    assert_true(stream_timed_out(s));
    assert_int_equal(errno, ETIMEDOUT);
    stream_close(s);
    close(sv[1]);
    strbuf_free(line);
}

/* "Want write" on a full socket ends in a write timeout. */
static void test_io_want_write_timeout(void **state)
{
    int     sv[2];
    xor_io  x = {0};
    stream *s;
    char    big[4096];
    int     i, rc = 0;

    (void) state;
    memset(big, 'x', sizeof(big));
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    s = stream_fdopen(sv[0], STREAM_F_RDWR);
    x.fd = sv[0];
    stream_set_io(s, xor_read, xor_write, &x);
    stream_set_timeout(s, 50);
    /* Nobody reads sv[1]: the socket buffer fills up. */
    for (i = 0; i < 4096 && rc == 0; i++)
        rc = stream_write(s, big, sizeof(big));
    if (rc == 0)
        rc = stream_flush(s);
    assert_int_equal(rc, -1);
    assert_true(stream_timed_out(s));
    stream_close(s);
    close(sv[1]);
}

/* Errors from the functions are sticky stream errors; NULL, NULL brings
 * plain fd I/O back with buffered input kept; a half pair is a bug. */
static void test_io_errors_and_reset(void **state)
{
    int     sv[2];
    xor_io  x = {0};
    stream *s;
    strbuf *line = strbuf_new(0);
    char    c;

    (void) state;
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    s = stream_fdopen(sv[0], STREAM_F_RDWR);
    assert_int_equal(write_all(sv[1], "one\ntwo\n", 8), 0);
    assert_int_equal(stream_get_line(s, line, 100), STREAM_OK);
    assert_int_equal(stream_buffered(s), 4);    /* "two\n" read ahead */
    x.fd = sv[0];
    x.fail = 1;
    stream_set_io(s, xor_read, xor_write, &x);
    /* Buffered bytes are still served without calling the function. */
    assert_int_equal(stream_get_line(s, line, 100), STREAM_OK);
    assert_memory_equal(line->data, "two\n", 4);
    assert_int_equal(x.reads, 0);
    assert_int_equal(stream_get_line(s, line, 100), STREAM_ERROR);
    assert_int_equal(errno, EPROTO);
    assert_int_equal(stream_puts(s, "x"), 0);
    assert_int_equal(stream_flush(s), -1);
    assert_true(stream_error(s));
    stream_clear_error(s);
    stream_set_io(s, NULL, NULL, NULL);
    assert_int_equal(write_all(sv[1], "plain\n", 6), 0);
    assert_int_equal(stream_get_line(s, line, 100), STREAM_OK);
    assert_memory_equal(line->data, "plain\n", 6);
    assert_int_equal(stream_read(s, &c, 0), 0);
    TESTLIB_EXPECT_EXIT(MSG_PANIC, stream_set_io(s, xor_read, NULL, &x));
    stream_close(s);
    close(sv[1]);
    strbuf_free(line);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lines_across_buffers),
        cmocka_unit_test(test_toolong_then_continue),
        cmocka_unit_test(test_toolong_large),
        cmocka_unit_test(test_line_limit),
        cmocka_unit_test(test_line_endings_and_nul),
        cmocka_unit_test(test_read_and_exact),
        cmocka_unit_test(test_read_timeout),
        cmocka_unit_test(test_write_timeout),
        cmocka_unit_test(test_short_writes),
        cmocka_unit_test(test_printf),
        cmocka_unit_test(test_open_errors),
        cmocka_unit_test(test_flush_before_read),
        cmocka_unit_test(test_write_error),
        cmocka_unit_test(test_eintr),
        cmocka_unit_test(test_misuse),
        cmocka_unit_test(test_noclose),
        cmocka_unit_test(test_io_transform),
        cmocka_unit_test(test_io_want_read_timeout),
        cmocka_unit_test(test_io_want_write_timeout),
        cmocka_unit_test(test_io_errors_and_reset),
    };

    testlib_setup();
    return cmocka_run_group_tests_name("stream", tests, NULL, NULL);
}
