/*
 * Unit tests for lib/mail/mail_queue.c.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "htable.h"
#include "mail_queue.h"
#include "param.h"
#include "strbuf.h"
#include "testlib.h"

static char qdir[] = "/tmp/test_mail_queue.XXXXXX";

/* test_id_ok: table of good and bad queue IDs */
static void test_id_ok(void **state)
{
    static const struct {
        const char *id;
        int     ok;
    } cases[] = {
        {"3A3D26C44CC", 1},
        {"000001", 1},
        {"00000", 0},                   /* too short */
        {"", 0},
        {"3a3d26c44cc", 0},             /* lower case */
        {"3A3D26C44CG", 0},
        {"../3A3D26C", 0},
        {"3A3D2/6C44CC", 0},
        {"3A3D26C44CC ", 0},
        {"0123456789ABCDEF0123456789ABCDEF", 1},        /* 32 */
        {"0123456789ABCDEF0123456789ABCDEF0", 0},       /* 33 */
    };
    size_t  i;

    (void) state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        assert_int_equal(mail_queue_id_ok(cases[i].id), cases[i].ok);
    assert_int_equal(mail_queue_id_ok(NULL), 0);
}

/* test_path: plain and hashed paths; bad IDs and queue names refused */
static void test_path(void **state)
{
    strbuf *p = strbuf_new(16);
    strbuf *want = strbuf_new(16);

    (void) state;
    assert_int_equal(mail_queue_path("incoming", "3A3D26C44CC", p), 0);
    strbuf_setf(want, "%s/incoming/3A3D26C44CC", qdir);
    assert_string_equal(p->data, want->data);
    assert_int_equal(mail_queue_path("deferred", "3A3D26C44CC", p), 0);
    strbuf_setf(want, "%s/deferred/3/3A3D26C44CC", qdir);
    assert_string_equal(p->data, want->data);
    param_override(PARAM_HASH_QUEUE_DEPTH, "2");
    assert_int_equal(mail_queue_path("defer", "3A3D26C44CC", p), 0);
    strbuf_setf(want, "%s/defer/3/A/3A3D26C44CC", qdir);
    assert_string_equal(p->data, want->data);
    param_override(PARAM_HASH_QUEUE_DEPTH, "1");
    assert_int_equal(mail_queue_hashed("deferred"), 1);
    assert_int_equal(mail_queue_hashed("incoming"), 0);
    assert_int_equal(mail_queue_path("incoming", "../etc", p), -1);
    assert_int_equal(mail_queue_path("../x", "3A3D26C44CC", p), -1);
    assert_int_equal(mail_queue_path("", "3A3D26C44CC", p), -1);
    strbuf_free(p);
    strbuf_free(want);
}

/* test_create: unique IDs, mode 0600, the file is there under its ID */
static void test_create(void **state)
{
    strbuf *id = strbuf_new(16);
    strbuf *path = strbuf_new(16);
    strbuf *err = strbuf_new(16);
    strbuf *want = strbuf_new(16);
    htable *seen = htable_new(16);
    struct stat st;
    int     fd;
    int     i;

    (void) state;
    for (i = 0; i < 50; i++) {
        assert_int_equal(mail_queue_create("incoming", id, path, &fd, err), 0);
        assert_true(fd >= 0);
        assert_int_equal(mail_queue_id_ok(id->data), 1);
        assert_int_equal(htable_has(seen, id->data), 0);
        htable_put(seen, id->data, NULL);
        strbuf_setf(want, "%s/incoming/%s", qdir, id->data);
        assert_string_equal(path->data, want->data);
        assert_int_equal(fstat(fd, &st), 0);
        assert_int_equal(st.st_mode & 07777, 0600);
        assert_int_equal(mail_queue_complete((int) st.st_mode), 0);
        /* The inode number is the ID's tail. */
        strbuf_setf(want, "%lX", (unsigned long) st.st_ino);
        assert_string_equal(id->data + 5, want->data);
        assert_int_equal(stat(path->data, &st), 0);
        close(fd);
    }
    /* No temporary names are left behind. */
    strbuf_setf(want, "ls %s/incoming | grep -q tmp", qdir);
    assert_int_not_equal(system(want->data), 0);
    assert_int_equal(mail_queue_complete(0700), 1);
    /* A queue directory that does not exist is an error, not a crash. */
    assert_int_equal(mail_queue_create("nosuchqueue", id, path, &fd, err), -1);
    assert_int_equal(fd, -1);
    assert_non_null(strstr(err->data, "nosuchqueue"));
    htable_free(seen, NULL);
    strbuf_free(id);
    strbuf_free(path);
    strbuf_free(err);
    strbuf_free(want);
}

/* test_rename: into a hashed queue (subdirectory made) and back */
static void test_rename(void **state)
{
    strbuf *id = strbuf_new(16);
    strbuf *path = strbuf_new(16);
    strbuf *err = strbuf_new(16);
    int     fd;

    (void) state;
    assert_int_equal(mail_queue_create("incoming", id, path, &fd, err), 0);
    close(fd);
    assert_int_equal(mail_queue_rename("incoming", "deferred", id->data, err), 0);
    assert_int_not_equal(access(path->data, F_OK), 0);
    assert_int_equal(mail_queue_path("deferred", id->data, path), 0);
    assert_int_equal(access(path->data, F_OK), 0);
    assert_int_equal(mail_queue_rename("deferred", "active", id->data, err), 0);
    assert_int_equal(mail_queue_path("active", id->data, path), 0);
    assert_int_equal(access(path->data, F_OK), 0);
    /* Missing file: -1 with ENOENT and a message. */
    assert_int_equal(mail_queue_rename("incoming", "active", id->data, err), -1);
    assert_int_equal(errno, ENOENT);
    assert_non_null(strstr(err->data, id->data));
    /* Bad ID: refused before touching the file system. */
    assert_int_equal(mail_queue_rename("incoming", "active", "../../x", err), -1);
    assert_int_equal(mail_queue_mkdirs("deferred", "BAD/ID", err), -1);
    strbuf_free(id);
    strbuf_free(path);
    strbuf_free(err);
}

/* test_scan: queue IDs and hash subdirectories, nothing else */
static void test_scan(void **state)
{
    static const char *const files[] = {
        "3A3D26C44CC", "tmp.123.4.5", ".hidden", "3a3d26c44cc", "X", "AB",
    };
    strbuf *d = strbuf_new(64);
    strbuf *p = strbuf_new(64);
    char  **names;
    size_t  count, i;
    int     seen_id = 0, seen_x = 0;

    (void) state;
    strbuf_setf(d, "%s/scan", qdir);
    assert_int_equal(mkdir(d->data, 0700), 0);
    for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        strbuf_setf(p, "%s/%s", d->data, files[i]);
        assert_int_equal(mkdir(p->data, 0700), 0);
    }
    names = mail_queue_scan(d->data, 0, &count);
    assert_non_null(names);
    assert_int_equal(count, 2);
    for (i = 0; i < count; i++) {
        seen_id += strcmp(names[i], "3A3D26C44CC") == 0;
        seen_x += strcmp(names[i], "X") == 0;
    }
    assert_int_equal(seen_id, 1);
    assert_int_equal(seen_x, 1);
    assert_null(mail_queue_scan_free(names, count));
    /* At the deepest hash level a one-character name is no subdirectory. */
    names = mail_queue_scan(d->data, MAIL_QUEUE_HASH_MAX, &count);
    assert_int_equal(count, 1);
    assert_string_equal(names[0], "3A3D26C44CC");
    names = mail_queue_scan_free(names, count);
    /* A missing directory: NULL with errno. */
    strbuf_setf(p, "%s/nonexistent", qdir);
    errno = 0;
    assert_null(mail_queue_scan(p->data, 0, &count));
    assert_int_equal(errno, ENOENT);
    assert_int_equal(count, 0);
    strbuf_free(d);
    strbuf_free(p);
}

/* setup: a temporary queue_directory */
static int setup(void **state)
{
    static const char *const dirs[] = {"incoming", "active", "deferred", "defer"};
    strbuf *p = strbuf_new(64);
    size_t  i;

    (void) state;
    testlib_setup();
    assert_non_null(mkdtemp(qdir));
    for (i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
        strbuf_setf(p, "%s/%s", qdir, dirs[i]);
        assert_int_equal(mkdir(p->data, 0700), 0);
    }
    strbuf_free(p);
    param_override(PARAM_QUEUE_DIRECTORY, qdir);
    return 0;
}

/* teardown: remove the temporary queue_directory */
static int teardown(void **state)
{
    strbuf *cmd = strbuf_new(64);
    int     rc;

    (void) state;
    strbuf_printf(cmd, "rm -rf '%s'", qdir);
    rc = system(cmd->data);
    strbuf_free(cmd);
    return rc == 0 ? 0 : -1;
}

int     main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_id_ok),
        cmocka_unit_test(test_path),
        cmocka_unit_test(test_create),
        cmocka_unit_test(test_rename),
        cmocka_unit_test(test_scan),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
