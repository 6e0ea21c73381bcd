/*
 * Unit tests for local/local_command.c: the command environment, the
 * exit status mapping, and real runs of /bin/sh commands (input, output
 * in the reason, time limit, user switch when run as root).
 */
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "fileio.h"
#include "mem.h"
#include "recip_priv.h"
#include "strbuf.h"
#include "testlib.h"

#include "../../local/local_command.c"

static char tmpdir[64];

static int setup_dir(void **state)
{
    (void) state;
    (void) str_copy(tmpdir, sizeof(tmpdir), "/tmp/test_local_cmd.XXXXXX");
    if (mkdtemp(tmpdir) == NULL || chmod(tmpdir, 0777) < 0)
        return -1;
    return 0;
}

static int teardown_dir(void **state)
{
    strbuf *cmd = strbuf_new(64);
    int     rc;

    (void) state;
    (void) strbuf_printf(cmd, "rm -rf '%s'", tmpdir);
    rc = system(cmd->data);
    strbuf_free(cmd);
    return rc == 0 ? 0 : -1;
}

static void test_env(void **state)
{
    local_cmd_vars v;
    char  **env;
    strbuf *all = strbuf_new(256);
    size_t  i;

    (void) state;
    memset(&v, 0, sizeof(v));
    v.user = "ann";
    v.home = "/home/ann";
    v.shell = "/bin/bash";
    v.recipient = "ann+x@example.com";
    v.sender = "";
    v.extension = "x";
    v.local = "ann+x";
    v.domain = "example.com";
    env = local_command_env(&v);
    for (i = 0; env[i]; i++)
        (void) strbuf_printf(all, "%s\n", env[i]);
    assert_string_equal(all->data,
                        "LOGNAME=ann\nUSER=ann\nHOME=/home/ann\nSHELL=/bin/bash\n"
                        "PATH=/usr/bin:/bin\nRECIPIENT=ann+x@example.com\nSENDER=\n"
                        "EXTENSION=x\nLOCAL=ann+x\nDOMAIN=example.com\n");
    local_command_env_free(env);
    strbuf_free(all);
}

static void test_status_map(void **state)
{
    static const struct {
        int     ws;
        int     timed_out;
        int     status;
        const char *dsn;
    } cases[] = {
        {0, 0, 0, "2.0.0"},
        {EX_TEMPFAIL << 8, 0, 4, "4.3.0"},
        {EX_OSERR << 8, 0, 4, "4.3.0"},
        {EX_NOUSER << 8, 0, 5, "5.1.1"},
        {EX_NOHOST << 8, 0, 5, "5.1.2"},
        {EX_NOPERM << 8, 0, 5, "5.7.0"},
        {EX_CONFIG << 8, 0, 5, "5.3.5"},
        {EX_UNAVAILABLE << 8, 0, 5, "5.3.0"},
        {1 << 8, 0, 5, "5.3.0"},
        {255 << 8, 0, 5, "5.3.0"},
        {SIGKILL, 0, 4, "4.3.0"},
        {SIGSEGV, 0, 4, "4.3.0"},
        {0, 1, 4, "4.3.0"},
    };
    size_t  i;
    char    dsn[16];

    (void) state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        assert_int_equal(local_command_status(cases[i].ws, cases[i].timed_out, dsn, sizeof(dsn)),
                         cases[i].status);
        assert_string_equal(dsn, cases[i].dsn);
    }
}

/* run: run command with the message text; returns the status. */
static int run(const char *command, const char *text, long limit,
               const recip_priv_id *id, mailbox_result *res)
{
    mailbox_content c;
    mailbox_copy_args a;
    local_cmd_vars v;
    int     rc;

    memset(&a, 0, sizeof(a));
    a.sender = "s@example.org";
    a.delivered_to = "r@example.com";
    a.return_path = 1;
    memset(&v, 0, sizeof(v));
    v.user = "someone";
    v.home = tmpdir;
    v.recipient = "r@example.com";
    v.sender = "s@example.org";
    v.extension = "ext";
    mailbox_content_mem(&c, text, strlen(text));
    rc = local_command_run(NULL, command, &v, id, tmpdir, &c, &a, limit, res);
    mailbox_content_mem_free(&c);
    return rc;
}

static recip_priv_id self_id(void)
{
    recip_priv_id id;

    memset(&id, 0, sizeof(id));
    id.uid = getuid();
    id.gid = getgid();
    return id;
}

static void test_run_input_and_env(void **state)
{
    recip_priv_id id = self_id();
    mailbox_result res;
    strbuf *cmd = strbuf_new(128);
    strbuf *path = strbuf_new(64);
    strbuf *got = strbuf_new(64);

    (void) state;
    res.reason = strbuf_new(64);
    (void) strbuf_printf(cmd, "cat > '%s/out'; env | sort > '%s/env'; pwd > '%s/pwd'",
                         tmpdir, tmpdir, tmpdir);
    assert_int_equal(run(cmd->data, "Subject: s\n\nbody line\n", 10, &id, &res), 0);
    assert_string_equal(res.dsn, "2.0.0");
    strbuf_setf(path, "%s/out", tmpdir);
    assert_int_equal(fileio_read_all(path->data, 65536, got, NULL), 0);
    assert_string_equal(got->data, "Return-Path: <s@example.org>\nDelivered-To: r@example.com\n"
                        "Subject: s\n\nbody line\n");
    strbuf_setf(path, "%s/env", tmpdir);
    assert_int_equal(fileio_read_all(path->data, 65536, got, NULL), 0);
    assert_non_null(strstr(got->data, "EXTENSION=ext\n"));
    assert_non_null(strstr(got->data, "PATH=/usr/bin:/bin\n"));
    assert_non_null(strstr(got->data, "SENDER=s@example.org\n"));
    assert_non_null(strstr(got->data, "USER=someone\n"));
    assert_null(strstr(got->data, "MAIL_CONFIG"));
    strbuf_setf(path, "%s/pwd", tmpdir);
    assert_int_equal(fileio_read_all(path->data, 65536, got, NULL), 0);
    assert_non_null(strstr(got->data, tmpdir));
    strbuf_free(cmd);
    strbuf_free(path);
    strbuf_free(got);
    strbuf_free(res.reason);
}

static void test_run_failures(void **state)
{
    recip_priv_id id = self_id();
    mailbox_result res;

    (void) state;
    res.reason = strbuf_new(64);
    assert_int_equal(run("exit 75", "x\n", 10, &id, &res), 4);
    assert_string_equal(res.dsn, "4.3.0");
    assert_int_equal(run("echo 'no such mailbox here'; exit 67", "x\n", 10, &id, &res), 5);
    assert_string_equal(res.dsn, "5.1.1");
    assert_non_null(strstr(res.reason->data, "status 67"));
    assert_non_null(strstr(res.reason->data, "no such mailbox here"));
    assert_int_equal(run("exit 3", "x\n", 10, &id, &res), 5);
    assert_string_equal(res.dsn, "5.3.0");
    assert_int_equal(run("kill -TERM $$", "x\n", 10, &id, &res), 4);
    assert_non_null(strstr(res.reason->data, "signal"));
    /* a command that does not read its input is judged by its status */
    assert_int_equal(run("exit 0", "x\n", 10, &id, &res), 0);
    strbuf_free(res.reason);
}

static void test_run_time_limit(void **state)
{
    recip_priv_id id = self_id();
    mailbox_result res;
    strbuf *big = strbuf_new(1 << 20);
    time_t  start = time(NULL);
    int     i;

    (void) state;
    res.reason = strbuf_new(64);
    /* the child of the shell must die too: the whole group is killed */
    assert_int_equal(run("sleep 30 & sleep 30", "x\n", 1, &id, &res), 4);
    assert_non_null(strstr(res.reason->data, "time limit"));
    assert_true(time(NULL) - start < 10);
    /* a command that never reads a large message: no hang either */
    for (i = 0; i < 20000; i++)
        (void) strbuf_puts(big, "0123456789012345678901234567890123456789012345678901234567\n");
    start = time(NULL);
    assert_int_equal(run("sleep 30", big->data, 1, &id, &res), 4);
    assert_true(time(NULL) - start < 10);
    strbuf_free(big);
    strbuf_free(res.reason);
}

static void test_run_as_user(void **state)
{
    recip_priv_id id;
    mailbox_result res;
    strbuf *cmd = strbuf_new(128);
    strbuf *path = strbuf_new(64);
    strbuf *got = strbuf_new(64);
    strbuf *err = strbuf_new(64);
    strbuf *want = strbuf_new(64);

    (void) state;
    if (getuid() != 0)
        skip();
    res.reason = strbuf_new(64);
    assert_int_equal(recip_priv_lookup("nobody", &id, err), 0);
    (void) strbuf_printf(cmd, "id -u > '%s/uid'; id -G > '%s/groups'", tmpdir, tmpdir);
    assert_int_equal(run(cmd->data, "x\n", 10, &id, &res), 0);
    strbuf_setf(path, "%s/uid", tmpdir);
    assert_int_equal(fileio_read_all(path->data, 4096, got, NULL), 0);
    (void) strbuf_printf(want, "%ld\n", (long) id.uid);
    assert_string_equal(got->data, want->data);
    strbuf_setf(path, "%s/groups", tmpdir);
    assert_int_equal(fileio_read_all(path->data, 4096, got, NULL), 0);
    assert_null(strstr(got->data, " 0 "));
    assert_true(strncmp(got->data, "0 ", 2) != 0 && strcmp(got->data, "0\n") != 0);
    /* and the agent itself is still root */
    assert_int_equal(geteuid(), 0);
    strbuf_free(cmd);
    strbuf_free(path);
    strbuf_free(got);
    strbuf_free(err);
    strbuf_free(want);
    strbuf_free(res.reason);
}

int     main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_env),
        cmocka_unit_test(test_status_map),
        cmocka_unit_test_setup_teardown(test_run_input_and_env, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_run_failures, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_run_time_limit, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_run_as_user, setup_dir, teardown_dir),
    };

    testlib_setup();
    return cmocka_run_group_tests_name("local_command", tests, NULL, NULL);
}
