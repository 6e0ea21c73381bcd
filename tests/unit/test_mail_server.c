/*
 * Unit tests for lib/mail/mail_server.c: option parsing and status
 * messages. The accept loop, privilege drop and process limits are
 * covered by tests/integration/test_master.py with real processes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>
#include <cmocka.h>

#include "mail_server.h"
#include "master_proto.h"
#include "strbuf.h"
#include "testlib.h"

struct parse_case {
    const char *name;
    const char *args[16];               /* NULL-terminated, argv[0] first */
    int     rc;
    const char *err;                    /* substring of the error */
};

static const struct parse_case parse_cases[] = {
    {"unknown option", {"svc", "-x", NULL}, -1, "unknown option -x"},
    {"missing value", {"svc", "-S", NULL}, -1, "-S needs a value"},
    {"bad type", {"svc", "-t", "tcp", NULL}, -1, "unknown service type"},
    {"socket count zero", {"svc", "-s", "0", NULL}, -1, "bad socket count"},
    {"socket count too big", {"svc", "-s", "65", NULL}, -1, "bad socket count"},
    {"socket count junk", {"svc", "-s", "2x", NULL}, -1, "bad socket count"},
    {"override without =", {"svc", "-o", "max_use", NULL}, -1, "need name=value"},
    {"override bad name", {"svc", "-o", "max-use=1", NULL}, -1, "bad parameter name"},
    {"override empty name", {"svc", "-o", "=1", NULL}, -1, "bad parameter name"},
    {"empty service", {"svc", "-S", "", NULL}, -1, "empty service name"},
    {"good minimal", {"svc", NULL}, 0, NULL},
};

static int arg_count(const char *const *args)
{
    int     n = 0;

    while (args[n])
        n++;
    return n;
}

static void test_parse_table(void **state)
{
    size_t  i;

    (void) state;
    for (i = 0; i < sizeof(parse_cases) / sizeof(parse_cases[0]); i++) {
        const struct parse_case *c = &parse_cases[i];
        mail_server_opts opts;
        strbuf *err = strbuf_new(64);
        int     rc = mail_server_parse_args(arg_count(c->args), (char **) c->args, &opts, err);

        if (rc != c->rc)
            fail_msg("%s: rc %d, want %d (%s)", c->name, rc, c->rc, strbuf_str(err));
        if (c->err && strstr(strbuf_str(err), c->err) == NULL)
            fail_msg("%s: error \"%s\" lacks \"%s\"", c->name, strbuf_str(err), c->err);
        mail_server_opts_free(&opts);
        strbuf_free(err);
    }
}

static void test_parse_master_command_line(void **state)
{
    /* Exactly what master passes, then master.cf arguments. */
    const char *args[] = {"smtpd", "-c", "/etc/x", "-S", "127.0.0.1:25", "-t", "inet",
        "-s", "2", "-u", "-z", "-o", "syslog_name=postern/submission",
        "-o", " smtpd_tls = yes ", "-ofoo=", "-vv", "echo", "-o", "x=y", NULL};
    mail_server_opts opts;
    strbuf *err = strbuf_new(64);

    (void) state;
    if (mail_server_parse_args(arg_count(args), (char **) args, &opts, err) != 0)
        fail_msg("parse: %s", strbuf_str(err));
    assert_string_equal(opts.config_dir, "/etc/x");
    assert_string_equal(opts.service, "127.0.0.1:25");
    assert_string_equal(opts.type, "inet");
    assert_int_equal(opts.nsockets, 2);
    assert_int_equal(opts.unpriv, 1);
    assert_int_equal(opts.chroot, 1);
    assert_int_equal(opts.verbose, 2);
    assert_int_equal(opts.noverrides, 3);
    assert_string_equal(opts.overrides[0].name, "syslog_name");
    assert_string_equal(opts.overrides[0].value, "postern/submission");
    assert_string_equal(opts.overrides[1].name, "smtpd_tls");
    assert_string_equal(opts.overrides[1].value, "yes");
    assert_string_equal(opts.overrides[2].name, "foo");
    assert_string_equal(opts.overrides[2].value, "");
    /* Option scanning stops at the first program argument. */
    assert_int_equal(opts.argc, 3);
    assert_string_equal(opts.argv[0], "echo");
    assert_string_equal(opts.argv[1], "-o");
    mail_server_opts_free(&opts);
    assert_null(opts.overrides);
    strbuf_free(err);
}

static void test_parse_clustered_and_dashdash(void **state)
{
    const char *args[] = {"svc", "-uzvSsvc", "-tunix", "-s1", "--", "-v", NULL};
    mail_server_opts opts;
    strbuf *err = strbuf_new(64);

    (void) state;
    assert_int_equal(mail_server_parse_args(arg_count(args), (char **) args, &opts, err), 0);
    assert_int_equal(opts.unpriv, 1);
    assert_int_equal(opts.chroot, 1);
    assert_int_equal(opts.verbose, 1);
    assert_string_equal(opts.service, "svc");
    assert_string_equal(opts.type, "unix");
    assert_int_equal(opts.nsockets, 1);
    assert_int_equal(opts.argc, 1);
    assert_string_equal(opts.argv[0], "-v");
    mail_server_opts_free(&opts);
    strbuf_free(err);
}

static void test_status_over_pipe(void **state)
{
    int     fds[2];
    master_status st[2];

    (void) state;
    assert_int_equal(sizeof(master_status), 12);
    assert_int_equal(pipe(fds), 0);
    assert_int_equal(mail_server_send_status(fds[1], 0), 0);
    assert_int_equal(mail_server_send_status(fds[1], 1), 0);
    assert_int_equal(read(fds[0], st, sizeof(st)), (ssize_t) sizeof(st));
    assert_int_equal(st[0].pid, getpid());
    assert_int_equal(st[0].generation, 0);
    assert_int_equal(st[0].avail, MASTER_STAT_TAKEN);
    assert_int_equal(st[1].pid, getpid());
    assert_int_equal(st[1].avail, MASTER_STAT_AVAIL);
    /* Master gone: the write fails and the caller is told, not killed. */
    close(fds[0]);
    assert_int_equal(mail_server_send_status(fds[1], 1), -1);
    close(fds[1]);
}

static void test_status_pipe_full_does_not_block(void **state)
{
    int     fds[2];
    int     i;
    int     failed = 0;

    (void) state;
    assert_int_equal(pipe2(fds, O_NONBLOCK), 0);
    for (i = 0; i < 100000 && !failed; i++)
        failed = mail_server_send_status(fds[1], 1) < 0;
    assert_true(failed);
    close(fds[0]);
    close(fds[1]);
}

int     main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_table),
        cmocka_unit_test(test_parse_master_command_line),
        cmocka_unit_test(test_parse_clustered_and_dashdash),
        cmocka_unit_test(test_status_over_pipe),
        cmocka_unit_test(test_status_pipe_full_does_not_block),
    };

    testlib_setup();
    signal(SIGPIPE, SIG_IGN);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
