/*
 * Unit tests for the virtual delivery agent's per-recipient logic
 * (virtual/virtual_deliver.c, compiled in: virtual/ is not in
 * libpostern): mailbox path checks, uid/gid parsing, and deliveries into
 * a temporary base with inline: tables (Maildir and mbox, catch-all,
 * extension, unknown user, Delivered-To loop, symlinks below the base,
 * bad ids). As root the mailbox is written as nobody.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>
#include <cmocka.h>

#include "fileio.h"
#include "htable.h"
#include "mailbox.h"
#include "maps.h"
#include "mem.h"
#include "recip_priv.h"
#include "strbuf.h"
#include "strutil.h"
#include "testlib.h"

#include "../../virtual/virtual_deliver.c"

static void test_path_check(void **state)
{
    static const struct {
        const char *value;
        int     want;
    } cases[] = {
        {"example.com/ann/", 1},
        {"example.com/ann", 0},
        {"/example.com/ann/", 1},               /* leading slash ignored */
        {"ann", 0},
        {"", -1},
        {"/", -1},
        {"//", -1},
        {"a//b", -1},
        {"a/../b", -1},
        {"../b", -1},
        {"a/..", -1},
        {"a/../", -1},
        {"./a", -1},
        {"a/./b/", -1},
        {"a/b\n/", -1},
        {"a/\x7f", -1},
        {"a/.b/", 1},                           /* dot files are fine */
        {"a/..b", 0},
    };
    strbuf *err = strbuf_new(32);
    strbuf *deep = strbuf_new(256);
    size_t  i;

    (void) state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        strbuf_reset(err);
        if (virtual_path_check(cases[i].value, err) != cases[i].want)
            fail_msg("case %zu \"%s\": want %d", i, cases[i].value, cases[i].want);
        if (cases[i].want < 0)
            assert_true(err->len > 0);
    }
    for (i = 0; i <= VIRTUAL_DEPTH_MAX; i++)
        strbuf_puts(deep, "d/");
    assert_int_equal(virtual_path_check(deep->data, err), -1);
    strbuf_reset(deep);
    for (i = 0; i < VIRTUAL_PATH_MAX; i++)
        strbuf_putc(deep, 'x');
    assert_int_equal(virtual_path_check(deep->data, err), -1);
    strbuf_free(err);
    strbuf_free(deep);
}

static void test_id_parse(void **state)
{
    long    id;

    (void) state;
    assert_int_equal(virtual_id_parse("5000", 100, &id), 0);
    assert_int_equal(id, 5000);
    assert_int_equal(virtual_id_parse(" 5000 ", 100, &id), 0);
    assert_int_equal(virtual_id_parse("99", 100, &id), -2);
    assert_int_equal(virtual_id_parse("0", 1, &id), -2);
    assert_int_equal(virtual_id_parse("-5", 0, &id), -1);
    assert_int_equal(virtual_id_parse("5000x", 0, &id), -1);
    assert_int_equal(virtual_id_parse("", 0, &id), -1);
    assert_int_equal(virtual_id_parse("4294967295", 0, &id), -1);
    assert_int_equal(virtual_id_parse("99999999999999999999", 0, &id), -1);
}

/* The fixture: a base directory, tables, ids. */
static char tmpdir[64];
static char base[128];
static long vuid;
static long vgid;
static virtual_config cfg;

static int setup(void **state)
{
    strbuf *spec = strbuf_new(256);
    strbuf *err = strbuf_new(64);
    recip_priv_id nobody;

    (void) state;
    testlib_log_reset();
    (void) str_copy(tmpdir, sizeof(tmpdir), "/tmp/test_virtual.XXXXXX");
    if (mkdtemp(tmpdir) == NULL || chmod(tmpdir, 0755) < 0)
        return -1;
    if (str_format(base, sizeof(base), "%s/base", tmpdir) < 0 || mkdir(base, 0700) < 0)
        return -1;
    if (getuid() == 0) {
        if (recip_priv_lookup("nobody", &nobody, err) != 0)
            return -1;
        vuid = (long) nobody.uid;
        vgid = (long) nobody.gid;
        if (chown(base, nobody.uid, nobody.gid) < 0)
            return -1;
    } else {
        vuid = (long) getuid();
        vgid = (long) getgid();
    }
    memset(&cfg, 0, sizeof(cfg));
    cfg.mailbox_maps = maps_open("virtual_mailbox_maps",
                                 "inline:{ann@a.example=a.example/ann/,"
                                 " bob@a.example=bob.mbox, @b.example=b.example/all/,"
                                 " evil@a.example=link/x/, bad@a.example=../x/,"
                                 " low@a.example=a.example/low/,"
                                 " noid@c.example=c.example/noid/}", DICT_F_FOLD);
    strbuf_printf(spec, "inline:{@a.example=%ld, @b.example=%ld, low@a.example=%ld}",
                  vuid, vuid, 0L);
    cfg.uid_maps = maps_open("virtual_uid_maps", spec->data, DICT_F_FOLD);
    strbuf_reset(spec);
    strbuf_printf(spec, "static:%ld", vgid);
    cfg.gid_maps = maps_open("virtual_gid_maps", spec->data, DICT_F_FOLD);
    cfg.base = base;
    cfg.delimiters = "+";
    cfg.minimum_uid = 1;
    cfg.lock_flags = MAILBOX_LOCK_FCNTL | MAILBOX_LOCK_DOTLOCK;
    strbuf_free(spec);
    strbuf_free(err);
    return 0;
}

static int teardown(void **state)
{
    strbuf *cmd = strbuf_new(64);
    int     rc;

    (void) state;
    cfg.mailbox_maps = maps_free(cfg.mailbox_maps);
    cfg.uid_maps = maps_free(cfg.uid_maps);
    cfg.gid_maps = maps_free(cfg.gid_maps);
    (void) strbuf_printf(cmd, "rm -rf '%s'", tmpdir);
    rc = system(cmd->data);
    strbuf_free(cmd);
    return rc == 0 ? 0 : -1;
}

/* deliver: one recipient, message text; returns the status. */
static int deliver(const char *rcpt, const char *text, mailbox_result *res)
{
    mailbox_content c;
    virtual_message msg;
    strbuf *err = strbuf_new(16);
    int     rc;

    memset(&msg, 0, sizeof(msg));
    msg.queue_id = "TESTID";
    msg.sender = "s@example.org";
    msg.arrival_time = 1000000000;
    msg.content = &c;
    msg.delivered_to = htable_new(4);
    mailbox_content_mem(&c, text, strlen(text));
    assert_int_equal(mailbox_content_headers(&c, msg.delivered_to, err), 0);
    rc = virtual_deliver_rcpt(&cfg, &msg, rcpt, res);
    mailbox_content_mem_free(&c);
    htable_free(msg.delivered_to, NULL);
    strbuf_free(err);
    return rc;
}

/* only_file: the one file in dir (path into out); fails otherwise. */
static void only_file(const char *dir, strbuf *out)
{
    DIR    *d = opendir(dir);
    struct dirent *e;
    int     n = 0;

    assert_non_null(d);
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        n++;
        strbuf_setf(out, "%s/%s", dir, e->d_name);
    }
    closedir(d);
    assert_int_equal(n, 1);
}

static void test_maildir_mbox_catchall_extension(void **state)
{
    const char *msg = "Subject: t\n\nFrom here\n";
    mailbox_result res;
    strbuf *p = strbuf_new(128);
    strbuf *f = strbuf_new(128);
    strbuf *got = strbuf_new(256);
    struct stat st;

    (void) state;
    res.reason = strbuf_new(64);
    assert_int_equal(deliver("Ann+Tag@A.Example", msg, &res), 0);
    assert_string_equal(res.reason->data, "delivered to maildir");
    strbuf_setf(p, "%s/a.example/ann/new", base);
    only_file(p->data, f);
    assert_int_equal(fileio_read_all(f->data, 1 << 20, got, NULL), 0);
    assert_string_equal(got->data, "Return-Path: <s@example.org>\n"
                        "Delivered-To: Ann+Tag@A.Example\nSubject: t\n\nFrom here\n");
    assert_int_equal(stat(f->data, &st), 0);
    assert_int_equal((long) st.st_uid, vuid);
    strbuf_setf(p, "%s/a.example", base);
    assert_int_equal(stat(p->data, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0700);

    assert_int_equal(deliver("bob@a.example", msg, &res), 0);
    assert_string_equal(res.reason->data, "delivered to mailbox");
    strbuf_setf(p, "%s/bob.mbox", base);
    assert_int_equal(fileio_read_all(p->data, 1 << 20, got, NULL), 0);
    assert_true(strncmp(got->data, "From s@example.org  ", 20) == 0);
    assert_non_null(strstr(got->data, "\n>From here\n\n"));

    assert_int_equal(deliver("anyone@b.example", msg, &res), 0);
    strbuf_setf(p, "%s/b.example/all/new", base);
    only_file(p->data, f);
    strbuf_free(p);
    strbuf_free(f);
    strbuf_free(got);
    strbuf_free(res.reason);
}

static void test_unknown_loop_and_config_errors(void **state)
{
    mailbox_result res;
    strbuf *p = strbuf_new(128);

    (void) state;
    res.reason = strbuf_new(64);
    assert_int_equal(deliver("nobody@a.example", "S: x\n\nx\n", &res), 5);
    assert_string_equal(res.dsn, "5.1.1");
    assert_non_null(strstr(res.reason->data, "User unknown in virtual mailbox table"));

    assert_int_equal(deliver("ann@a.example", "Delivered-To: <ANN@a.example>\n\nx\n", &res), 5);
    assert_string_equal(res.dsn, "5.4.6");
    strbuf_setf(p, "%s/a.example", base);
    assert_int_equal(access(p->data, F_OK), -1);

    assert_int_equal(deliver("bad@a.example", "S: x\n\nx\n", &res), 4);
    assert_string_equal(res.dsn, "4.3.5");
    assert_true(testlib_log_has("bad virtual_mailbox_maps result"));

    assert_int_equal(deliver("low@a.example", "S: x\n\nx\n", &res), 4);
    assert_string_equal(res.dsn, "4.3.5");
    assert_int_equal(deliver("noid@c.example", "S: x\n\nx\n", &res), 4);
    assert_string_equal(res.dsn, "4.3.5");
    assert_true(testlib_log_has("not found in virtual_uid_maps"));
    strbuf_setf(p, "%s/c.example", base);
    assert_int_equal(access(p->data, F_OK), -1);

    cfg.base = "relative/base";
    assert_int_equal(deliver("ann@a.example", "S: x\n\nx\n", &res), 4);
    assert_string_equal(res.dsn, "4.3.5");
    cfg.base = base;
    strbuf_free(p);
    strbuf_free(res.reason);
}

static void test_symlink_below_base(void **state)
{
    mailbox_result res;
    strbuf *p = strbuf_new(128);
    strbuf *q = strbuf_new(128);
    DIR    *d;
    struct dirent *e;
    int     n = 0;

    (void) state;
    res.reason = strbuf_new(64);
    strbuf_setf(p, "%s/outside", tmpdir);
    assert_int_equal(mkdir(p->data, 0777), 0);
    assert_int_equal(chmod(p->data, 0777), 0);
    strbuf_setf(q, "%s/link", base);
    assert_int_equal(symlink(p->data, q->data), 0);
    assert_int_equal(deliver("evil@a.example", "S: x\n\nx\n", &res), 4);
    assert_true(testlib_log_has("symbolic link"));
    d = opendir(p->data);
    assert_non_null(d);
    while ((e = readdir(d)) != NULL)
        n += e->d_name[0] != '.';
    closedir(d);
    assert_int_equal(n, 0);
    strbuf_free(p);
    strbuf_free(q);
    strbuf_free(res.reason);
}

int     main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_path_check),
        cmocka_unit_test(test_id_parse),
        cmocka_unit_test_setup_teardown(test_maildir_mbox_catchall_extension, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_loop_and_config_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_symlink_below_base, setup, teardown),
    };

    testlib_setup();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
