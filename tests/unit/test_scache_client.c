/*
 * Unit tests for lib/mail/scache_client.c and scache_proto.c: the client
 * conversations against a scripted server in a child process, over
 * socketpairs, with real descriptors passed both ways.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "attr.h"
#include "attr_names.h"
#include "fdpass.h"
#include "scache_client.h"
#include "scache_proto.h"
#include "strbuf.h"
#include "testlib.h"

/* What the scripted server does after reading one request. */
enum script {
    S_SAVE_OK,                          /* check the save, talk over the fd */
    S_SAVE_REFUSE,
    S_FIND_HIT,                         /* hand out a live socket */
    S_FIND_MISS,
    S_FIND_NO_FD,                       /* claim success, pass nothing */
    S_FIND_PIPE,                        /* pass a pipe, not a socket */
    S_BAD_GREETING,
    S_HANG_UP                           /* close after reading the request */
};

/* count_fds: descriptors open in this process. */
static int count_fds(void)
{
    DIR    *d = opendir("/proc/self/fd");
    struct dirent *e;
    int     n = 0;

    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n - 1;
}

/* server_reply: send status, optional extras and descriptor. */
static int server_reply(int sock, long status, const char *endp, const char *prop,
                        int fd)
{
    attr_list *l = attr_list_new();
    int     rc;

    attr_list_add_long(l, ATTR_NAME_STATUS, status);
    if (status != 0)
        attr_list_add_str(l, ATTR_NAME_REASON, "full of it");
    if (endp)
        attr_list_add_str(l, ATTR_NAME_ENDP_LABEL, endp);
    if (prop)
        attr_list_add_str(l, ATTR_NAME_ENDP_PROP, prop);
    rc = scache_proto_write(sock, l, fd, 2000);
    attr_list_free(l);
    return rc;
}

/* server_main: the child's side; exit status 0 when all checks held. */
static int server_main(int sock, enum script script)
{
    scache_proto *p = scache_proto_new(sock);
    attr_list *l = attr_list_new();
    const char *v;
    int     fd, sv[2], pfd[2];
    char    buf[8];

    attr_list_add_str(l, ATTR_NAME_PROTOCOL,
                      script == S_BAD_GREETING ? "other_protocol" : ATTR_PROTO_SCACHE);
    if (scache_proto_write(sock, l, -1, 2000) < 0)
        return 10;
    if (script == S_BAD_GREETING)
        return 0;
    if (scache_proto_read(p, l, 2000, NULL) < 0)
        return 11;
    v = attr_list_find(l, ATTR_NAME_REQUEST, NULL);
    switch (script) {
    case S_SAVE_OK:
    case S_SAVE_REFUSE:
        if (v == NULL || strcmp(v, SCACHE_REQ_SAVE) != 0)
            return 12;
        if (strcmp(attr_list_find(l, ATTR_NAME_DEST_LABEL, NULL), "smtp:example.com")
            || strcmp(attr_list_find(l, ATTR_NAME_ENDP_LABEL, NULL), "smtp:192.0.2.1:25")
            || strcmp(attr_list_find(l, ATTR_NAME_ENDP_PROP, NULL), "mx.example.com 1")
            || strcmp(attr_list_find(l, ATTR_NAME_TTL, NULL), "7"))
            return 13;
        if ((fd = scache_proto_take_fd(p)) < 0)
            return 14;
        if (write(fd, "ping", 4) != 4)
            return 15;
        (void) close(fd);
        return server_reply(sock, script == S_SAVE_OK ? 0 : 1, NULL, NULL, -1) < 0 ? 16 : 0;
    case S_FIND_HIT:
        if (v == NULL || strcmp(v, SCACHE_REQ_FIND_DEST) != 0
            || strcmp(attr_list_find(l, ATTR_NAME_DEST_LABEL, NULL), "smtp:example.com"))
            return 20;
        if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
            return 21;
        if (server_reply(sock, 0, "smtp:192.0.2.1:25", "mx 3", sv[0]) < 0)
            return 22;
        (void) close(sv[0]);
        /* The client writes "pong" through the descriptor it got. */
        if (read(sv[1], buf, 4) != 4 || memcmp(buf, "pong", 4) != 0)
            return 23;
        return 0;
    case S_FIND_MISS:
        if (v == NULL || strcmp(v, SCACHE_REQ_FIND_ENDP) != 0
            || strcmp(attr_list_find(l, ATTR_NAME_ENDP_LABEL, NULL), "smtp:192.0.2.9:25"))
            return 30;
        return server_reply(sock, 1, NULL, NULL, -1) < 0 ? 31 : 0;
    case S_FIND_NO_FD:
        return server_reply(sock, 0, "smtp:192.0.2.1:25", "", -1) < 0 ? 40 : 0;
    case S_FIND_PIPE:
        if (pipe(pfd) < 0)
            return 50;
        return server_reply(sock, 0, "smtp:192.0.2.1:25", "", pfd[0]) < 0 ? 51 : 0;
    case S_HANG_UP:
        return 0;
    case S_BAD_GREETING:
        break;
    }
    return 99;
}

/* start_server: fork the scripted server; returns the client socket. */
static int start_server(enum script script, pid_t *pid)
{
    int     sv[2];

    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    *pid = fork();
    assert_true(*pid >= 0);
    if (*pid == 0) {
        (void) close(sv[0]);
        _exit(server_main(sv[1], script));
    }
    (void) close(sv[1]);
    return sv[0];
}

/* wait_server: the child's exit status must be 0. */
static void wait_server(pid_t pid)
{
    int     status;

    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    if (WEXITSTATUS(status) != 0)
        fail_msg("scripted server failed check %d", WEXITSTATUS(status));
}

static void test_save_passes_a_live_descriptor(void **state)
{
    strbuf *err = strbuf_new(64);
    int     conn[2], sock, before;
    pid_t   pid;
    char    buf[8];

    (void) state;
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, conn), 0);
    before = count_fds();
    sock = start_server(S_SAVE_OK, &pid);
    assert_int_equal(scache_save_sock(sock, "smtp:example.com", "smtp:192.0.2.1:25",
                                      "mx.example.com 1", conn[0], 7, err), 0);
    (void) close(sock);
    wait_server(pid);
    /* The server wrote through its duplicate of conn[0]. */
    assert_int_equal(read(conn[1], buf, 4), 4);
    assert_memory_equal(buf, "ping", 4);
    assert_int_equal(count_fds(), before);      /* caller still owns conn[0] */
    (void) close(conn[0]);
    (void) close(conn[1]);
    strbuf_free(err);
}

static void test_save_refused(void **state)
{
    strbuf *err = strbuf_new(64);
    int     conn[2], sock;
    pid_t   pid;

    (void) state;
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, conn), 0);
    sock = start_server(S_SAVE_REFUSE, &pid);
    assert_int_equal(scache_save_sock(sock, "smtp:example.com", "smtp:192.0.2.1:25",
                                      "mx.example.com 1", conn[0], 7, err), -1);
    assert_non_null(strstr(err->data, "refused: full of it"));
    (void) close(sock);
    wait_server(pid);
    (void) close(conn[0]);
    (void) close(conn[1]);
    strbuf_free(err);
}

static void test_find_dest_hit(void **state)
{
    strbuf *endp = strbuf_new(16), *prop = strbuf_new(16), *err = strbuf_new(64);
    int     sock, fd;
    pid_t   pid;

    (void) state;
    sock = start_server(S_FIND_HIT, &pid);
    fd = scache_find_sock(sock, SCACHE_REQ_FIND_DEST, "smtp:example.com", endp, prop, err);
    assert_true(fd >= 0);
    assert_string_equal(endp->data, "smtp:192.0.2.1:25");
    assert_string_equal(prop->data, "mx 3");
    assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
    assert_int_equal(write(fd, "pong", 4), 4);
    (void) close(fd);
    (void) close(sock);
    wait_server(pid);
    strbuf_free(endp);
    strbuf_free(prop);
    strbuf_free(err);
}

static void test_find_failures(void **state)
{
    static const struct {
        enum script script;
        const char *request;
        const char *label;
        const char *err;
    } cases[] = {
        {S_FIND_MISS, SCACHE_REQ_FIND_ENDP, "smtp:192.0.2.9:25", "full of it"},
        {S_FIND_NO_FD, SCACHE_REQ_FIND_DEST, "smtp:example.com", "without a descriptor"},
        {S_FIND_PIPE, SCACHE_REQ_FIND_DEST, "smtp:example.com", "not a socket"},
        {S_BAD_GREETING, SCACHE_REQ_FIND_DEST, "smtp:example.com", "other_protocol"},
        {S_HANG_UP, SCACHE_REQ_FIND_DEST, "smtp:example.com", "closed the connection"},
    };
    strbuf *prop = strbuf_new(16), *err = strbuf_new(64);
    size_t  i;

    (void) state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int     before = count_fds(), sock, fd;
        pid_t   pid;

        strbuf_reset(err);
        sock = start_server(cases[i].script, &pid);
        fd = scache_find_sock(sock, cases[i].request, cases[i].label, NULL, prop, err);
        if (fd != -1 || strstr(err->data, cases[i].err) == NULL)
            fail_msg("case %zu: fd %d, err \"%s\"", i, fd, err->data);
        (void) close(sock);
        wait_server(pid);
        assert_int_equal(count_fds(), before);  /* a bad descriptor was closed */
    }
    strbuf_free(prop);
    strbuf_free(err);
}

static void test_bad_arguments_never_talk(void **state)
{
    static char big[SCACHE_LABEL_MAX + 2];
    strbuf *err = strbuf_new(64);
    int     sv[2];

    (void) state;
    memset(big, 'a', sizeof(big) - 1);
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    assert_int_equal(scache_save_sock(sv[0], "d", "", "", sv[1], 1, err), -1);
    assert_int_equal(scache_save_sock(sv[0], "d", big, "", sv[1], 1, err), -1);
    assert_int_equal(scache_save_sock(sv[0], big, "e", "", sv[1], 1, err), -1);
    assert_int_equal(scache_save_sock(sv[0], "d", "e", "", -1, 1, err), -1);
    assert_int_equal(scache_find_sock(sv[0], SCACHE_REQ_FIND_DEST, "", NULL, NULL, err), -1);
    assert_int_equal(scache_find_sock(sv[0], "steal", "x", NULL, NULL, err), -1);
    /* Nothing was written to the socket. */
    assert_int_equal(fcntl(sv[1], F_SETFL, O_NONBLOCK), 0);
    {
        char    c;

        assert_int_equal(read(sv[1], &c, 1), -1);
        assert_int_equal(errno, EAGAIN);
    }
    (void) close(sv[0]);
    (void) close(sv[1]);
    strbuf_free(err);
}

static void test_no_service(void **state)
{
    strbuf *err = strbuf_new(64);
    char    cwd[4096];
    int     sv[2];

    (void) state;
    assert_non_null(getcwd(cwd, sizeof(cwd)));
    assert_int_equal(chdir("/"), 0);            /* no private/scache here */
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    assert_int_equal(scache_save("d", "e", "", sv[0], 1, err), -1);
    assert_non_null(strstr(err->data, "connection cache unavailable"));
    assert_int_equal(scache_find_dest("d", NULL, NULL), -1);
    assert_int_equal(scache_find_endp("e", NULL), -1);
    assert_int_equal(chdir(cwd), 0);
    (void) close(sv[0]);
    (void) close(sv[1]);
    strbuf_free(err);
}

static void test_proto_limits(void **state)
{
    strbuf *err = strbuf_new(64);
    attr_list *l = attr_list_new();
    scache_proto *p;
    int     sv[2], pfd[2], i, before;

    (void) state;
    /* Malformed input is an error, not a wait for more. */
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    p = scache_proto_new(sv[1]);
    assert_int_equal(write(sv[0], "Bad Name=x\n\n", 12), 12);
    assert_int_equal(scache_proto_read(p, l, 1000, err), -1);
    p = scache_proto_free(p);
    (void) close(sv[0]);
    (void) close(sv[1]);

    /* Two messages in one read, the descriptor with the second. */
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    assert_int_equal(pipe(pfd), 0);
    p = scache_proto_new(sv[1]);
    assert_int_equal(fdpass_send(sv[0], "a=1\n\n", 5, -1, 0), 0);
    assert_int_equal(fdpass_send(sv[0], "b=2\n\n", 5, pfd[0], 0), 0);
    assert_int_equal(scache_proto_read(p, l, 1000, err), 0);
    assert_string_equal(attr_list_find(l, "a", NULL), "1");
    assert_int_equal(scache_proto_read(p, l, 1000, err), 0);
    assert_string_equal(attr_list_find(l, "b", NULL), "2");
    i = scache_proto_take_fd(p);
    assert_true(i >= 0);
    (void) close(i);
    assert_int_equal(scache_proto_take_fd(p), -1);

    /* More waiting descriptors than allowed: error, none leaked. */
    before = count_fds();
    for (i = 0; i <= SCACHE_PROTO_FD_MAX; i++)
        assert_int_equal(fdpass_send(sv[0], "c", 1, pfd[0], 0), 0);
    for (i = 0; i < SCACHE_PROTO_FD_MAX; i++)
        assert_int_equal(scache_proto_fill(p, 1000, err), 1);
    assert_int_equal(count_fds(), before + SCACHE_PROTO_FD_MAX);
    assert_int_equal(scache_proto_fill(p, 1000, err), -1);
    assert_int_equal(errno, EPROTO);
    p = scache_proto_free(p);
    assert_int_equal(count_fds(), before);

    /* A message over the size limit. */
    p = scache_proto_new(sv[1]);
    {
        static char big[SCACHE_PROTO_MSG_MAX + 16];

        memset(big, 'x', sizeof(big));
        memcpy(big, "k=", 2);
        assert_int_equal(fdpass_send(sv[0], big, sizeof(big), -1, 1000), 0);
    }
    assert_int_equal(scache_proto_read(p, l, 1000, err), -1);
    p = scache_proto_free(p);
    /* The peer closing mid-message. */
    p = scache_proto_new(sv[1]);
    (void) close(sv[0]);
    strbuf_reset(err);
    assert_int_equal(scache_proto_read(p, l, 1000, err), -1);
    p = scache_proto_free(p);
    (void) close(sv[1]);
    (void) close(pfd[0]);
    (void) close(pfd[1]);
    attr_list_free(l);
    strbuf_free(err);
}

int     main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_save_passes_a_live_descriptor),
        cmocka_unit_test(test_save_refused),
        cmocka_unit_test(test_find_dest_hit),
        cmocka_unit_test(test_find_failures),
        cmocka_unit_test(test_bad_arguments_never_talk),
        cmocka_unit_test(test_no_service),
        cmocka_unit_test(test_proto_limits),
    };

    testlib_setup();
    return cmocka_run_group_tests_name("scache_client", tests, NULL, NULL);
}
