/*
 * Unit tests for lib/mail/flush_client.c. A forked child plays the flush
 * service on $queue_directory/public/flush (a temporary directory): it
 * sends a scripted greeting and reply and hands the request it read back
 * through a pipe, so each case checks both what the client sent and how
 * it took the answer.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "flush_client.h"
#include "param.h"
#include "strbuf.h"
#include "strutil.h"
#include "testlib.h"

static char qdir[] = "/tmp/test_flush_client.XXXXXX";
static char sock_path[256];

/* serve: fork a one-shot server; returns its pid, *req_fd reads the
 * request it received */
static pid_t serve(const char *greeting, const char *reply, int *req_fd)
{
    struct sockaddr_un sun;
    int     ls, p[2];
    pid_t   pid;

    unlink(sock_path);
    ls = socket(AF_UNIX, SOCK_STREAM, 0);
    assert_true(ls >= 0);
    memset(&sun, 0, sizeof(sun));
    sun.sun_family = AF_UNIX;
    memcpy(sun.sun_path, sock_path, strlen(sock_path) + 1);
    assert_int_equal(bind(ls, (struct sockaddr *) &sun, sizeof(sun)), 0);
    assert_int_equal(listen(ls, 1), 0);
    assert_int_equal(pipe(p), 0);
    if ((pid = fork()) == 0) {
        char    buf[4096];
        size_t  len = 0;
        ssize_t n;
        int     c = accept(ls, NULL, NULL);

        if (c < 0)
            _exit(1);
        if (write(c, greeting, strlen(greeting)) < 0)
            _exit(1);
        /* The request ends with an empty line. */
        while (len < sizeof(buf) - 1 && (n = read(c, buf + len, sizeof(buf) - 1 - len)) > 0) {
            len += (size_t) n;
            if (len >= 2 && buf[len - 1] == '\n' && buf[len - 2] == '\n')
                break;
        }
        if (write(p[1], buf, len) < 0 || write(c, reply, strlen(reply)) < 0)
            _exit(1);
        close(c);
        _exit(0);
    }
    close(ls);
    close(p[1]);
    *req_fd = p[0];
    return pid;
}

/* finish: wait for the server and return the request it read */
static char *finish(pid_t pid, int req_fd)
{
    static char buf[4096];
    ssize_t n = read(req_fd, buf, sizeof(buf) - 1);
    int     status;

    close(req_fd);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    buf[n > 0 ? n : 0] = 0;
    return buf;
}

static const char hello[] = "protocol=flush_protocol\n\n";

static const struct {
    const char *name;
    int     which;                      /* 0 all, 1 site, 2 file */
    const char *arg;
    const char *greeting;
    const char *reply;
    int     status;
    const char *request;                /* what the server must have read */
    const char *reason;                 /* expected in reason */
} cases[] = {
    {"all ok", 0, NULL, hello, "status=0\n\n", FLUSH_STAT_OK,
     "request=send_all\n\n", ""},
    {"site ok", 1, "example.com", hello, "status=0\n\n", FLUSH_STAT_OK,
     "request=send_site\nsite=example.com\n\n", ""},
    {"site escaped", 1, "a b", hello, "status=2\nreason=bad%20site%20name\n\n",
     FLUSH_STAT_BAD, "request=send_site\nsite=a%20b\n\n", "bad site name"},
    {"site denied", 1, "other.net", hello,
     "status=3\nreason=other.net:%20site%20is%20not%20eligible\n\n", FLUSH_STAT_DENY,
     "request=send_site\nsite=other.net\n\n", "other.net: site is not eligible"},
    {"file", 2, "ABCDEF123", hello, "status=0\n\n", FLUSH_STAT_OK,
     "request=send_file\nqueue_id=ABCDEF123\n\n", ""},
    {"failure without reason", 0, NULL, hello, "status=1\n\n", FLUSH_STAT_FAIL,
     "request=send_all\n\n", "request failed"},
    {"status out of range", 0, NULL, hello, "status=7\n\n", FLUSH_STAT_FAIL,
     "request=send_all\n\n", "flush service"},
    {"unknown reply attribute", 0, NULL, hello, "status=0\nextra=1\n\n", FLUSH_STAT_FAIL,
     "request=send_all\n\n", "extra"},
    {"no reply", 0, NULL, hello, "", FLUSH_STAT_FAIL, "request=send_all\n\n",
     "flush service"},
    {"wrong protocol", 0, NULL, "protocol=showq\n\n", "", FLUSH_STAT_FAIL, "",
     "flush service"},
};

static void test_cases(void **state)
{
    size_t  i;

    (void) state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        strbuf *reason = strbuf_new(64);
        int     req_fd, st;
        pid_t   pid = serve(cases[i].greeting, cases[i].reply, &req_fd);
        const char *req;

        st = cases[i].which == 0 ? flush_send_all(reason)
            : cases[i].which == 1 ? flush_send_site(cases[i].arg, reason)
            : flush_send_file(cases[i].arg, reason);
        req = finish(pid, req_fd);
        if (st != cases[i].status || strcmp(req, cases[i].request) != 0
            || strstr(reason->data, cases[i].reason) == NULL)
            fail_msg("%s: status %d, request \"%s\", reason \"%s\"", cases[i].name,
                     st, req, reason->data);
        strbuf_free(reason);
    }
}

static void test_no_service(void **state)
{
    strbuf *reason = strbuf_new(64);

    (void) state;
    unlink(sock_path);
    assert_int_equal(flush_send_all(reason), FLUSH_STAT_FAIL);
    assert_non_null(strstr(reason->data, "cannot reach the flush service: the mail "
                           "system is not running"));
    strbuf_free(reason);
}

int     main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cases),
        cmocka_unit_test(test_no_service),
    };
    char    pub[256];
    int     rc;

    testlib_setup();
    if (mkdtemp(qdir) == NULL)
        return 1;
    if (str_format(pub, sizeof(pub), "%s/public", qdir) < 0
        || str_format(sock_path, sizeof(sock_path), "%s/public/flush", qdir) < 0)
        return 1;
    if (mkdir(pub, 0700) < 0 || chdir("/") < 0)
        return 1;
    param_override(PARAM_QUEUE_DIRECTORY, qdir);
    rc = cmocka_run_group_tests(tests, NULL, NULL);
    unlink(sock_path);
    rmdir(pub);
    rmdir(qdir);
    return rc;
}
