/*
 * Unit tests for lib/mail/mailbox: the mbox and Maildir writers local
 * and virtual share (copy format, mbox quoting, locking, size limit,
 * truncation on error, symlink refusal, owner checks, Maildir layout,
 * the dirfd-relative forms and MAILBOX_F_NOFOLLOW, Delivered-To scan).
 */
#include <dirent.h>
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
#include <strings.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "fileio.h"
#include "mailbox.h"
#include "htable.h"
#include "mem.h"
#include "param.h"
#include "recip_priv.h"
#include "strbuf.h"
#include "strutil.h"
#include "testlib.h"


/* A fresh temporary directory per test. */
static char tmpdir[64];

static int setup_dir(void **state)
{
    (void) state;
    (void) str_copy(tmpdir, sizeof(tmpdir), "/tmp/test_mailbox.XXXXXX");
    if (mkdtemp(tmpdir) == NULL)
        return -1;
    testlib_log_reset();
    return 0;
}

static int teardown_dir(void **state)
{
    strbuf *cmd = strbuf_new(64);

    (void) state;
    (void) strbuf_printf(cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd->data) != 0)
        return -1;
    strbuf_free(cmd);
    return 0;
}

/* read_file: whole file or fail. */
static strbuf *read_file(const char *path)
{
    strbuf *buf = strbuf_new(256);

    assert_int_equal(fileio_read_all(path, 1 << 24, buf, NULL), 0);
    return buf;
}

static void test_quote_needed(void **state)
{
    static const struct {
        const char *line;
        int     want;
    } cases[] = {
        {"From me", 1}, {">From me", 1}, {">>>From x", 1}, {"From", 0},
        {"From:", 0}, {"Fromage", 0}, {" From x", 0}, {"from x", 0},
        {">", 0}, {"", 0}, {">>From ", 1},
    };
    size_t  i;

    (void) state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        assert_int_equal(mailbox_quote_needed(cases[i].line, strlen(cases[i].line)),
                         cases[i].want);
}

static void test_from_line(void **state)
{
    strbuf *sb = strbuf_new(64);

    (void) state;
    mailbox_from_line(sb, "", 0);
    assert_true(strncmp(sb->data, "From MAILER-DAEMON  ", 20) == 0);
    assert_int_equal(sb->data[sb->len - 1], '\n');
    strbuf_reset(sb);
    mailbox_from_line(sb, "a@b.example", 86400 * 365);
    assert_true(strncmp(sb->data, "From a@b.example  ", 18) == 0);
    assert_non_null(strstr(sb->data, "1971"));
    strbuf_free(sb);
}

/* deliver_text: one mbox delivery of text to path. */
static const recip_priv_id *owner;      /* NULL, or as the test sets */

static int deliver_text(const char *path, const char *text, const char *sender,
                        off_t limit, mailbox_result *res)
{
    mailbox_content c;
    mailbox_copy_args a;
    int     rc;

    memset(&a, 0, sizeof(a));
    a.sender = sender;
    a.delivered_to = "user@example.com";
    a.return_path = 1;
    a.mbox = 1;
    a.arrival_time = 1000000000;
    a.limit = limit;
    mailbox_content_mem(&c, text, strlen(text));
    rc = mailbox_mbox_deliver(AT_FDCWD, path, &c, &a, MAILBOX_LOCK_FCNTL | MAILBOX_LOCK_DOTLOCK, owner, res);
    mailbox_content_mem_free(&c);
    return rc;
}

static void test_mbox_quoting_exact(void **state)
{
    const char *msg = "Subject: x\n\nFrom here\n>From there\nFromage\n  From no\nlast";
    const char *want_tail =
        "Return-Path: <s@example.org>\n"
        "Delivered-To: user@example.com\n"
        "Subject: x\n\n>From here\n>>From there\nFromage\n  From no\nlast\n\n";
    strbuf *path = strbuf_new(64);
    strbuf *got;
    mailbox_result res;
    char   *nl;

    (void) state;
    res.reason = strbuf_new(64);
    (void) strbuf_printf(path, "%s/mbox", tmpdir);
    assert_int_equal(deliver_text(path->data, msg, "s@example.org", 0, &res), 0);
    assert_string_equal(res.dsn, "2.0.0");
    got = read_file(path->data);
    assert_true(strncmp(got->data, "From s@example.org  ", 20) == 0);
    nl = strchr(got->data, '\n');
    assert_non_null(nl);
    assert_string_equal(nl + 1, want_tail);
    /* the dot lock is gone, the file is private */
    strbuf_puts(path, ".lock");
    assert_int_equal(access(path->data, F_OK), -1);
    strbuf_free(got);
    strbuf_free(path);
    strbuf_free(res.reason);
}

static void test_mbox_append_two(void **state)
{
    strbuf *path = strbuf_new(64);
    strbuf *got;
    mailbox_result res;
    struct stat st;

    (void) state;
    res.reason = strbuf_new(64);
    (void) strbuf_printf(path, "%s/mbox", tmpdir);
    assert_int_equal(deliver_text(path->data, "A: 1\n\none\n", "", 0, &res), 0);
    assert_int_equal(deliver_text(path->data, "A: 2\n\ntwo\n", "x@y", 0, &res), 0);
    got = read_file(path->data);
    assert_true(strncmp(got->data, "From MAILER-DAEMON  ", 20) == 0);
    assert_non_null(strstr(got->data, "\none\n\nFrom x@y  "));
    assert_non_null(strstr(got->data, "Return-Path: <>\n"));
    assert_int_equal(stat(path->data, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    strbuf_free(got);
    strbuf_free(path);
    strbuf_free(res.reason);
}

static void test_mbox_size_limit(void **state)
{
    strbuf *path = strbuf_new(64);
    strbuf *before;
    strbuf *after;
    mailbox_result res;

    (void) state;
    res.reason = strbuf_new(64);
    (void) strbuf_printf(path, "%s/mbox", tmpdir);
    assert_int_equal(deliver_text(path->data, "A: 1\n\none\n", "", 0, &res), 0);
    before = read_file(path->data);
    assert_int_equal(deliver_text(path->data, "A: 2\n\nsecond message body\n", "",
                                  (off_t) before->len + 40, &res), 5);
    assert_string_equal(res.dsn, "5.2.2");
    assert_non_null(strstr(res.reason->data, "mailbox full"));
    after = read_file(path->data);
    assert_int_equal(after->len, before->len);
    assert_memory_equal(after->data, before->data, before->len);
    strbuf_free(before);
    strbuf_free(after);
    strbuf_free(path);
    strbuf_free(res.reason);
}

static void test_mbox_write_error_truncates(void **state)
{
    strbuf *path = strbuf_new(64);
    strbuf *before;
    strbuf *after;
    strbuf *big = strbuf_new(300000);
    struct rlimit old;
    struct rlimit lim;
    mailbox_result res;
    int     i;

    (void) state;
    res.reason = strbuf_new(64);
    (void) strbuf_printf(path, "%s/mbox", tmpdir);
    assert_int_equal(deliver_text(path->data, "A: 1\n\none\n", "", 0, &res), 0);
    before = read_file(path->data);
    (void) strbuf_puts(big, "Subject: big\n\n");
    for (i = 0; i < 5000; i++)
        (void) strbuf_puts(big, "0123456789012345678901234567890123456789012345678901234567890\n");
    /* A file size limit makes the write fail part-way (EFBIG). */
    signal(SIGXFSZ, SIG_IGN);
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
    lim = old;
    lim.rlim_cur = 100000;
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
    assert_int_equal(deliver_text(path->data, big->data, "", 0, &res), 4);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
    signal(SIGXFSZ, SIG_DFL);
    assert_string_equal(res.dsn, "4.2.0");
    after = read_file(path->data);
    assert_int_equal(after->len, before->len);
    assert_memory_equal(after->data, before->data, before->len);
    strbuf_free(before);
    strbuf_free(after);
    strbuf_free(big);
    strbuf_free(path);
    strbuf_free(res.reason);
}

static void test_mbox_refuses_symlink(void **state)
{
    strbuf *path = strbuf_new(64);
    strbuf *target = strbuf_new(64);
    mailbox_result res;

    (void) state;
    res.reason = strbuf_new(64);
    (void) strbuf_printf(path, "%s/mbox", tmpdir);
    (void) strbuf_printf(target, "%s/target", tmpdir);
    assert_int_equal(symlink(target->data, path->data), 0);
    assert_int_not_equal(deliver_text(path->data, "A: 1\n\nx\n", "", 0, &res), 0);
    assert_int_equal(access(target->data, F_OK), -1);
    strbuf_free(path);
    strbuf_free(target);
    strbuf_free(res.reason);
}

static void test_mbox_owner(void **state)
{
    strbuf *path = strbuf_new(64);
    recip_priv_id nobody;
    mailbox_result res;
    struct stat st;
    int     fd;

    (void) state;
    if (getuid() != 0)
        skip();
    res.reason = strbuf_new(64);
    assert_int_equal(recip_priv_lookup("nobody", &nobody, res.reason), 0);
    owner = &nobody;
    /* a new spool mailbox is created as root and given to the user */
    (void) strbuf_printf(path, "%s/mbox", tmpdir);
    assert_int_equal(deliver_text(path->data, "A: 1\n\nx\n", "", 0, &res), 0);
    assert_int_equal(stat(path->data, &st), 0);
    assert_int_equal(st.st_uid, nobody.uid);
    assert_int_equal(st.st_gid, nobody.gid);
    /* a non-empty file of somebody else is left alone: deferred */
    strbuf_setf(path, "%s/planted", tmpdir);
    fd = open(path->data, O_CREAT | O_WRONLY, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "secret\n", 7), 7);
    close(fd);
    testlib_log_reset();
    assert_int_equal(deliver_text(path->data, "A: 1\n\nx\n", "", 0, &res), 4);
    assert_true(testlib_log_has("not delivering"));
    assert_int_equal(stat(path->data, &st), 0);
    assert_int_equal(st.st_size, 7);
    assert_int_equal(st.st_uid, 0);
    owner = NULL;
    strbuf_free(path);
    strbuf_free(res.reason);
}

static void test_dotlock(void **state)
{
    strbuf *path = strbuf_new(64);
    strbuf *lock = strbuf_new(64);
    strbuf *err = strbuf_new(64);
    struct timeval old[2] = {{1000, 0}, {1000, 0}};
    int     fd;

    (void) state;
    (void) strbuf_printf(path, "%s/mbox", tmpdir);
    (void) strbuf_printf(lock, "%s/mbox.lock", tmpdir);
    assert_int_equal(mailbox_dotlock_acquire(AT_FDCWD, path->data, 0, err), 0);
    assert_int_equal(access(lock->data, F_OK), 0);
    /* held: a second try fails at once */
    assert_int_equal(mailbox_dotlock_acquire(AT_FDCWD, path->data, 0, err), -1);
    assert_non_null(strstr(err->data, "busy"));
    mailbox_dotlock_release(AT_FDCWD, path->data);
    assert_int_equal(access(lock->data, F_OK), -1);
    /* stale: taken over, with a warning */
    fd = open(lock->data, O_CREAT | O_WRONLY, 0600);
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(utimes(lock->data, old), 0);
    testlib_log_reset();
    assert_int_equal(mailbox_dotlock_acquire(AT_FDCWD, path->data, 0, err), 0);
    assert_true(testlib_log_has("stale lock"));
    mailbox_dotlock_release(AT_FDCWD, path->data);
    strbuf_free(path);
    strbuf_free(lock);
    strbuf_free(err);
}

static void test_maildir_name(void **state)
{
    strbuf *sb = strbuf_new(64);

    (void) state;
    mailbox_maildir_name(sb, 1700000000, 42, 1234, 7, "host/a:b");
    assert_string_equal(sb->data, "1700000000.P1234Q7M42.host\\057a\\072b");
    strbuf_free(sb);
}

/* count_dir: entries in a directory, name of the last one. */
static int count_dir(const char *path, strbuf *name)
{
    DIR    *d = opendir(path);
    struct dirent *e;
    int     n = 0;

    assert_non_null(d);
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        n++;
        if (name)
            strbuf_setf(name, "%s/%s", path, e->d_name);
    }
    closedir(d);
    return n;
}

static void test_maildir_deliver(void **state)
{
    const char *msg = "Subject: md\n\nFrom not quoted\nbody";
    strbuf *dir = strbuf_new(64);
    strbuf *sub = strbuf_new(64);
    strbuf *name = strbuf_new(64);
    strbuf *got;
    mailbox_content c;
    mailbox_copy_args a;
    mailbox_result res;

    (void) state;
    res.reason = strbuf_new(64);
    (void) strbuf_printf(dir, "%s/Maildir", tmpdir);
    memset(&a, 0, sizeof(a));
    a.sender = "s@x";
    a.delivered_to = "u@x";
    a.return_path = 1;
    mailbox_content_mem(&c, msg, strlen(msg));
    assert_int_equal(mailbox_maildir_deliver(AT_FDCWD, dir->data, &c, &a, 0, &res), 0);
    assert_int_equal(mailbox_maildir_deliver(AT_FDCWD, dir->data, &c, &a, 0, &res), 0);
    mailbox_content_mem_free(&c);
    strbuf_setf(sub, "%s/tmp", dir->data);
    assert_int_equal(count_dir(sub->data, NULL), 0);
    strbuf_setf(sub, "%s/cur", dir->data);
    assert_int_equal(count_dir(sub->data, NULL), 0);
    strbuf_setf(sub, "%s/new", dir->data);
    assert_int_equal(count_dir(sub->data, name), 2);
    got = read_file(name->data);
    assert_string_equal(got->data, "Return-Path: <s@x>\nDelivered-To: u@x\n"
                        "Subject: md\n\nFrom not quoted\nbody\n");
    strbuf_free(got);
    strbuf_free(dir);
    strbuf_free(sub);
    strbuf_free(name);
    strbuf_free(res.reason);
}

static void test_delivered_to_scan(void **state)
{
    const char *msg = "Received: x\nDelivered-To: <A@Example.COM>\n"
        "delivered-to:  b@x \nX: y\n\nDelivered-To: body@x\n";
    htable *set = htable_new(4);
    mailbox_content c;
    strbuf *err = strbuf_new(16);

    (void) state;
    mailbox_content_mem(&c, msg, strlen(msg));
    assert_int_equal(mailbox_content_headers(&c, set, err), 0);
    assert_true(htable_has(set, "a@example.com"));
    assert_true(htable_has(set, "b@x"));
    assert_false(htable_has(set, "body@x"));
    assert_int_equal(htable_count(set), 2);
    mailbox_content_mem_free(&c);
    htable_free(set, NULL);
    strbuf_free(err);
}

/* test_maildir_nofollow: with MAILBOX_F_NOFOLLOW a symlinked Maildir or
 * subdirectory is refused and nothing is written through it. */
static void test_maildir_nofollow(void **state)
{
    const char *msg = "Subject: s\n\nbody\n";
    strbuf *p = strbuf_new(64);
    strbuf *q = strbuf_new(64);
    mailbox_content c;
    mailbox_copy_args a;
    mailbox_result res;
    int     dfd;

    (void) state;
    res.reason = strbuf_new(64);
    memset(&a, 0, sizeof(a));
    a.sender = "s@x";
    a.display = "DISPLAY/md";
    dfd = open(tmpdir, O_RDONLY | O_DIRECTORY);
    assert_true(dfd >= 0);
    strbuf_setf(p, "%s/outside", tmpdir);
    assert_int_equal(mkdir(p->data, 0700), 0);
    strbuf_setf(q, "%s/md", tmpdir);
    assert_int_equal(symlink(p->data, q->data), 0);
    mailbox_content_mem(&c, msg, strlen(msg));
    assert_int_equal(mailbox_maildir_deliver(dfd, "md", &c, &a, MAILBOX_F_NOFOLLOW, &res), 4);
    assert_non_null(strstr(res.reason->data, "DISPLAY/md"));
    strbuf_setf(p, "%s/outside/new", tmpdir);
    assert_int_equal(access(p->data, F_OK), -1);
    /* a symlinked new/ inside a real Maildir is refused too */
    strbuf_setf(q, "%s/real", tmpdir);
    assert_int_equal(mkdir(q->data, 0700), 0);
    strbuf_setf(q, "%s/real/new", tmpdir);
    strbuf_setf(p, "%s/outside", tmpdir);
    assert_int_equal(symlink(p->data, q->data), 0);
    assert_int_equal(mailbox_maildir_deliver(dfd, "real", &c, &a, MAILBOX_F_NOFOLLOW, &res), 4);
    strbuf_setf(p, "%s/outside/new", tmpdir);
    assert_int_equal(access(p->data, F_OK), -1);
    /* without the flag (local's home Maildir) the link is followed */
    assert_int_equal(mailbox_maildir_deliver(dfd, "md", &c, &a, 0, &res), 0);
    assert_int_equal(count_dir(p->data, NULL), 1);
    mailbox_content_mem_free(&c);
    close(dfd);
    strbuf_free(p);
    strbuf_free(q);
    strbuf_free(res.reason);
}

/* test_mbox_at: mbox delivery relative to a directory descriptor, with a
 * dot lock made in that directory. */
static void test_mbox_at(void **state)
{
    const char *msg = "Subject: s\n\nbody\n";
    strbuf *p = strbuf_new(64);
    strbuf *got;
    mailbox_content c;
    mailbox_copy_args a;
    mailbox_result res;
    int     dfd;

    (void) state;
    res.reason = strbuf_new(64);
    memset(&a, 0, sizeof(a));
    a.sender = "s@x";
    a.mbox = 1;
    dfd = open(tmpdir, O_RDONLY | O_DIRECTORY);
    assert_true(dfd >= 0);
    mailbox_content_mem(&c, msg, strlen(msg));
    assert_int_equal(mailbox_mbox_deliver(dfd, "box", &c, &a, MAILBOX_LOCK_DOTLOCK
                                          | MAILBOX_LOCK_FCNTL, NULL, &res), 0);
    mailbox_content_mem_free(&c);
    strbuf_setf(p, "%s/box", tmpdir);
    got = read_file(p->data);
    assert_true(strncmp(got->data, "From s@x  ", 10) == 0);
    assert_non_null(strstr(got->data, "\nSubject: s\n\nbody\n\n"));
    strbuf_setf(p, "%s/box.lock", tmpdir);
    assert_int_equal(access(p->data, F_OK), -1);
    close(dfd);
    strbuf_free(got);
    strbuf_free(p);
    strbuf_free(res.reason);
}

static void test_result_set(void **state)
{
    mailbox_result res;

    (void) state;
    res.reason = strbuf_new(16);
    mailbox_result_set(&res, 5, "5.1.1", "user %s", "x");
    assert_string_equal(res.dsn, "5.1.1");
    assert_string_equal(res.reason->data, "user x");
    mailbox_result_set(&res, 4, "4.0.0.0000000000000000", "long");
    assert_string_equal(res.dsn, "4.0.0");
    strbuf_free(res.reason);
}

/* test_lock_flags: lock lists, flock mapped to fcntl, a bad name is fatal */
static void test_lock_flags(void **state)
{
    static const struct {
        const char *value;
        int     flags;
        const char *log;
    } cases[] = {
        {"fcntl", MAILBOX_LOCK_FCNTL, NULL},
        {"dotlock", MAILBOX_LOCK_DOTLOCK, NULL},
        {"FCNTL, dotlock", MAILBOX_LOCK_FCNTL | MAILBOX_LOCK_DOTLOCK, NULL},
        {"flock", MAILBOX_LOCK_FCNTL, "flock is not supported; using fcntl"},
        {"", 0, NULL},
    };
    size_t  i;

    (void) state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        testlib_log_reset();
        assert_int_equal(param_override(PARAM_MAILBOX_DELIVERY_LOCK, cases[i].value), 0);
        assert_int_equal(mailbox_lock_flags(PARAM_MAILBOX_DELIVERY_LOCK), cases[i].flags);
        if (cases[i].log)
            assert_true(testlib_log_has(cases[i].log));
        else
            assert_false(testlib_log_has("warning"));
    }
    assert_int_equal(param_override(PARAM_MAILBOX_DELIVERY_LOCK, "fcntl, posix"), 0);
    TESTLIB_EXPECT_EXIT(MSG_FATAL, mailbox_lock_flags(PARAM_MAILBOX_DELIVERY_LOCK));
}

int     main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_quote_needed),
        cmocka_unit_test(test_from_line),
        cmocka_unit_test_setup_teardown(test_mbox_quoting_exact, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_mbox_append_two, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_mbox_size_limit, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_mbox_write_error_truncates, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_mbox_refuses_symlink, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_mbox_owner, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_dotlock, setup_dir, teardown_dir),
        cmocka_unit_test(test_maildir_name),
        cmocka_unit_test_setup_teardown(test_maildir_deliver, setup_dir, teardown_dir),
        cmocka_unit_test(test_delivered_to_scan),
        cmocka_unit_test_setup_teardown(test_maildir_nofollow, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_mbox_at, setup_dir, teardown_dir),
        cmocka_unit_test(test_result_set),
        cmocka_unit_test(test_lock_flags),
    };

    testlib_setup();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
