/*
 * Unit tests for lib/mail/recip_priv.c. The switching tests need root
 * and are skipped otherwise (there the functions are no-ops, which is
 * tested instead).
 */
#include <grp.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "recip_priv.h"
#include "strbuf.h"
#include "testlib.h"

static void test_lookup(void **state)
{
    recip_priv_id id;
    strbuf *err = strbuf_new(16);

    (void) state;
    assert_int_equal(recip_priv_lookup("root", &id, err), 0);
    assert_int_equal(id.uid, 0);
    assert_string_equal(id.user, "root");
    assert_int_equal(recip_priv_lookup("no_such_user_pq", &id, err), 1);
    assert_int_equal(recip_priv_lookup("", &id, err), 1);
    strbuf_free(err);
}

static void test_enter_leave(void **state)
{
    recip_priv_id id;
    strbuf *err = strbuf_new(16);
    gid_t   groups[64];
    int     n;
    int     i;

    (void) state;
    assert_int_equal(recip_priv_lookup("nobody", &id, err), 0);
    if (!recip_priv_privileged()) {
        uid_t   before = geteuid();

        assert_int_equal(recip_priv_enter(&id, err), 0);
        assert_int_equal(geteuid(), before);
        recip_priv_leave();
        assert_int_equal(geteuid(), before);
        strbuf_free(err);
        return;
    }
    assert_int_equal(recip_priv_enter(&id, err), 0);
    assert_int_equal(geteuid(), id.uid);
    assert_int_equal(getegid(), id.gid);
    assert_int_equal(getuid(), 0);              /* real id kept: we can return */
    n = getgroups(64, groups);
    for (i = 0; i < n; i++)
        assert_int_not_equal(groups[i], 0);
    recip_priv_leave();
    assert_int_equal(geteuid(), 0);
    assert_int_equal(getegid(), 0);
    strbuf_free(err);
}

static void test_drop_in_child(void **state)
{
    recip_priv_id id;
    strbuf *err = strbuf_new(16);
    pid_t   pid;
    int     ws;

    (void) state;
    if (!recip_priv_privileged())
        skip();
    assert_int_equal(recip_priv_lookup("nobody", &id, err), 0);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        /* even from a switched state the drop is complete */
        if (recip_priv_enter(&id, err) < 0)
            _exit(10);
        if (recip_priv_drop(&id, err) < 0)
            _exit(11);
        if (getuid() != id.uid || geteuid() != id.uid || getgid() != id.gid)
            _exit(12);
        if (setuid(0) == 0 || seteuid(0) == 0)
            _exit(13);
        _exit(0);
    }
    assert_int_equal(waitpid(pid, &ws, 0), pid);
    assert_true(WIFEXITED(ws));
    assert_int_equal(WEXITSTATUS(ws), 0);
    strbuf_free(err);
}

int     main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lookup),
        cmocka_unit_test(test_enter_leave),
        cmocka_unit_test(test_drop_in_child),
    };

    testlib_setup();
    return cmocka_run_group_tests_name("recip_priv", tests, NULL, NULL);
}
