/*
 * Unit tests for local/local_deliver.c: the whole decision chain for one
 * recipient (aliases, loops, owner-, :include:, /file, |command,
 * .forward, luser_relay, unknown users, Delivered-To loops), run against
 * mailboxes in a temporary directory. As root the deliveries really
 * switch ids (to root and nobody); otherwise they run as the caller.
 */
#include <dirent.h>
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
#include "htable.h"
#include "maps.h"
#include "mem.h"
#include "recip_priv.h"
#include "strbuf.h"
#include "testlib.h"

#include "../../local/local_alias.c"
#include "../../local/local_command.c"
#include "../../local/local_deliver.c"
#include "../../local/local_expand.c"

static char tmpdir[64];
static local_config conf;
static const char *mydest[] = {"host.example", "localhost"};
static const char *me;                  /* a real user: root, or the caller */
static const char *other;               /* another real user: nobody */

static int setup(void **state)
{
    strbuf *spec = strbuf_new(1024);
    strbuf *err = strbuf_new(64);
    strbuf *fp = strbuf_new(128);
    struct passwd *pw = getpwuid(getuid());

    (void) state;
    (void) str_copy(tmpdir, sizeof(tmpdir), "/tmp/test_local_dlv.XXXXXX");
    if (mkdtemp(tmpdir) == NULL || chmod(tmpdir, 0777) < 0)
        return -1;
    me = mem_strdup(pw->pw_name);
    other = getuid() == 0 ? "nobody" : me;
    (void) strbuf_printf(spec, "inline:{postmaster=%s, {team = %s, %s}, owner-team=%s, "
                         "loop1=loop2, loop2=loop1, {selfie = selfie, %s}, "
                         "{tofile = %s/filebox}, {tocmd = |id -u > %s/cmdout}, "
                         "{inc = :include:%s/list}, {remote = someone@remote.example}, "
                         "{plusmap = %s}",
                         me, me, other, me, me, tmpdir, tmpdir, tmpdir, other);
    {
        int     i;

        for (i = 1; i <= 25; i++)
            (void) strbuf_printf(spec, ", deep%d=deep%d", i, i + 1);
    }
    (void) strbuf_puts(spec, "}");
    memset(&conf, 0, sizeof(conf));
    conf.aliases = maps_open("alias_maps", spec->data, DICT_F_FOLD);
    conf.delimiters = "+";
    conf.home_mailbox = "";
    conf.spool_dir = tmpdir;
    conf.mailbox_command = "";
    (void) strbuf_printf(fp, "%s/fwd.$user${recipient_delimiter}${extension}, %s/fwd.$user",
                         tmpdir, tmpdir);
    conf.forward_path = strbuf_detach(fp, NULL);
    conf.luser_relay = "";
    conf.shell = "";
    conf.myhostname = "host.example";
    conf.mydestination = mydest;
    conf.nmydestination = 2;
    conf.command_classes = LOCAL_CLASS_ALIAS | LOCAL_CLASS_FORWARD | LOCAL_CLASS_INCLUDE;
    conf.file_classes = LOCAL_CLASS_ALIAS | LOCAL_CLASS_FORWARD | LOCAL_CLASS_INCLUDE;
    conf.delivered_classes = LOCAL_CLASS_COMMAND | LOCAL_CLASS_FILE | LOCAL_CLASS_FORWARD;
    conf.lock_flags = MAILBOX_LOCK_FCNTL | MAILBOX_LOCK_DOTLOCK;
    conf.mailbox_size_limit = 0;
    conf.command_time_limit = 10;
    if (recip_priv_lookup(other, &conf.default_privs, err) != 0)
        return -1;
    strbuf_free(spec);
    strbuf_free(err);
    return 0;
}

static int teardown(void **state)
{
    strbuf *cmd = strbuf_new(64);
    int     rc;

    (void) state;
    (void) strbuf_printf(cmd, "rm -rf '%s'", tmpdir);
    rc = system(cmd->data);
    strbuf_free(cmd);
    conf.aliases = maps_free(conf.aliases);
    mem_free((void *) conf.forward_path);
    mem_free((void *) me);
    return rc == 0 ? 0 : -1;
}

/* wipe: remove every file in tmpdir between tests. */
static int wipe(void **state)
{
    DIR    *d = opendir(tmpdir);
    struct dirent *e;
    strbuf *p = strbuf_new(64);

    (void) state;
    while (d && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        strbuf_setf(p, "%s/%s", tmpdir, e->d_name);
        (void) unlink(p->data);
    }
    if (d)
        closedir(d);
    strbuf_free(p);
    conf.luser_relay = "";
    conf.file_classes = LOCAL_CLASS_ALIAS | LOCAL_CLASS_FORWARD | LOCAL_CLASS_INCLUDE;
    return 0;
}

/* deliver: one recipient of a small message. */
static int deliver(const char *rcpt, const char *text, mailbox_result *res)
{
    mailbox_content c;
    local_message msg;
    strbuf *err = strbuf_new(16);
    int     rc;

    if (text == NULL)
        text = "Subject: test\n\nhello\n";
    memset(&msg, 0, sizeof(msg));
    msg.queue_id = "ABCDEF";
    msg.sender = "sender@example.org";
    msg.arrival_time = 1000000000;
    msg.content = &c;
    msg.delivered_to = htable_new(4);
    mailbox_content_mem(&c, text, strlen(text));
    assert_int_equal(mailbox_content_headers(&c, msg.delivered_to, err), 0);
    rc = local_deliver_rcpt(&conf, &msg, rcpt, NULL, res);
    mailbox_content_mem_free(&c);
    htable_free(msg.delivered_to, NULL);
    strbuf_free(err);
    return rc;
}

/* mbox_of: content of a file in tmpdir ("" when missing), and its owner. */
static strbuf *mbox_of(const char *name, uid_t *owner)
{
    strbuf *p = strbuf_new(64);
    strbuf *buf = strbuf_new(256);
    struct stat st;

    strbuf_setf(p, "%s/%s", tmpdir, name);
    if (fileio_read_all(p->data, 1 << 20, buf, NULL) != 0)
        strbuf_reset(buf);
    if (owner)
        *owner = stat(p->data, &st) == 0 ? st.st_uid : (uid_t) -1;
    strbuf_free(p);
    return buf;
}

static int count_of(const char *text, const char *needle)
{
    int     n = 0;
    const char *p = text;

    while ((p = strstr(p, needle)) != NULL) {
        n++;
        p += strlen(needle);
    }
    return n;
}

static void test_plain_and_extension(void **state)
{
    mailbox_result res;
    strbuf *box;
    uid_t   owner;

    (void) state;
    res.reason = strbuf_new(64);
    assert_int_equal(deliver(me, NULL, &res), 0);
    assert_string_equal(res.reason->data, "delivered to mailbox");
    /* "root" is a user in every passwd file; in an unprivileged run its
     * mailbox is simply written by the caller */
    assert_int_equal(deliver("Root+Ext@HOST.example", NULL, &res), 0);
    box = mbox_of(me, &owner);
    assert_int_equal(owner, getuid());
    assert_int_equal(count_of(box->data, "\nhello\n"), getuid() == 0 ? 2 : 1);
    assert_int_equal(count_of(box->data, "Return-Path: <sender@example.org>\n"), getuid() == 0 ? 2 : 1);
    assert_true(strncmp(box->data, "From sender@example.org  ", 25) == 0);
    strbuf_free(box);
    strbuf_free(res.reason);
}

static void test_unknown_and_luser(void **state)
{
    mailbox_result res;
    strbuf *box;

    (void) state;
    res.reason = strbuf_new(64);
    assert_int_equal(deliver("no_such_user_xq", NULL, &res), 5);
    assert_string_equal(res.dsn, "5.1.1");
    assert_string_equal(res.reason->data, "unknown user: \"no_such_user_xq\"");
    conf.luser_relay = me;
    assert_int_equal(deliver("no_such_user_xq@localhost", NULL, &res), 0);
    box = mbox_of(me, NULL);
    assert_int_equal(count_of(box->data, "\nhello\n"), 1);
    strbuf_free(box);
    strbuf_free(res.reason);
}

static void test_alias_several_and_owner(void **state)
{
    mailbox_result res;
    strbuf *a;
    strbuf *b;
    uid_t   owner;

    (void) state;
    res.reason = strbuf_new(64);
    assert_int_equal(deliver("team", NULL, &res), 0);
    a = mbox_of(me, NULL);
    b = mbox_of(other, &owner);
    if (strcmp(me, other) == 0) {
        assert_int_equal(count_of(a->data, "\nhello\n"), 2);
    } else {
        assert_int_equal(count_of(a->data, "\nhello\n"), 1);
        assert_int_equal(count_of(b->data, "\nhello\n"), 1);
        assert_int_equal(owner, conf.default_privs.uid);
    }
    /* owner-team exists: copies carry it as the envelope sender */
    assert_non_null(strstr(a->data, "Return-Path: <owner-team@host.example>\n"));
    assert_non_null(strstr(a->data, "Delivered-To: team\n"));
    strbuf_free(a);
    strbuf_free(b);
    strbuf_free(res.reason);
}

static void test_alias_loops(void **state)
{
    mailbox_result res;
    strbuf *a;

    (void) state;
    res.reason = strbuf_new(64);
    assert_int_equal(deliver("loop1", NULL, &res), 5);
    assert_string_equal(res.dsn, "5.4.6");
    assert_non_null(strstr(res.reason->data, "mail forwarding loop"));
    assert_int_equal(deliver("deep1", NULL, &res), 5);
    assert_string_equal(res.dsn, "5.4.6");
    /* an alias that names itself: its own mailbox (here: no such user) */
    assert_int_equal(deliver("selfie", NULL, &res), 5);
    assert_string_equal(res.dsn, "5.1.1");
    a = mbox_of(me, NULL);
    assert_int_equal(count_of(a->data, "\nhello\n"), 1);
    strbuf_free(a);
    /* Delivered-To already carries this recipient: loop */
    assert_int_equal(deliver("postmaster@host.example",
                             "Delivered-To: Postmaster@host.example\n\nx\n", &res), 5);
    assert_string_equal(res.dsn, "5.4.6");
    strbuf_free(res.reason);
}

static void test_alias_file_command_include(void **state)
{
    mailbox_result res;
    strbuf *f;
    strbuf *want = strbuf_new(16);
    strbuf *path = strbuf_new(64);
    uid_t   owner;
    int     fd;

    (void) state;
    res.reason = strbuf_new(64);
    assert_int_equal(deliver("tofile", NULL, &res), 0);
    f = mbox_of("filebox", &owner);
    assert_non_null(strstr(f->data, "Delivered-To: tofile\n"));
    assert_int_equal(owner, getuid() == 0 ? conf.default_privs.uid : getuid());
    strbuf_free(f);
    assert_int_equal(deliver("tocmd", NULL, &res), 0);
    f = mbox_of("cmdout", NULL);
    (void) strbuf_printf(want, "%ld\n", (long) (getuid() == 0 ? conf.default_privs.uid : getuid()));
    assert_string_equal(f->data, want->data);
    strbuf_free(f);
    /* :include: */
    strbuf_setf(path, "%s/list", tmpdir);
    fd = open(path->data, O_CREAT | O_WRONLY, 0644);
    assert_true(fd >= 0);
    strbuf_setf(want, "# members\n%s\n", me);
    assert_int_equal(fileio_write_all(fd, want->data, want->len), 0);
    close(fd);
    assert_int_equal(deliver("inc", NULL, &res), 0);
    f = mbox_of(me, NULL);
    assert_int_equal(count_of(f->data, "\nhello\n"), 1);
    strbuf_free(f);
    /* files not allowed from aliases */
    conf.file_classes = LOCAL_CLASS_FORWARD;
    assert_int_equal(deliver("tofile", NULL, &res), 5);
    assert_string_equal(res.dsn, "5.7.1");
    strbuf_free(want);
    strbuf_free(path);
    strbuf_free(res.reason);
}

static void test_dot_forward(void **state)
{
    mailbox_result res;
    strbuf *path = strbuf_new(64);
    strbuf *text = strbuf_new(64);
    strbuf *a;
    strbuf *b;
    int     fd;

    (void) state;
    if (strcmp(me, other) == 0)
        skip();
    res.reason = strbuf_new(64);
    /* other's .forward sends to me and keeps a copy (\other) */
    strbuf_setf(path, "%s/fwd.%s", tmpdir, other);
    fd = open(path->data, O_CREAT | O_WRONLY, 0644);
    assert_true(fd >= 0);
    strbuf_setf(text, "%s, \\%s\n", me, other);
    assert_int_equal(fileio_write_all(fd, text->data, text->len), 0);
    close(fd);
    assert_int_equal(deliver(other, NULL, &res), 0);
    a = mbox_of(me, NULL);
    b = mbox_of(other, NULL);
    assert_int_equal(count_of(a->data, "\nhello\n"), 1);
    assert_int_equal(count_of(b->data, "\nhello\n"), 1);
    strbuf_free(a);
    strbuf_free(b);
    /* an extension-specific .forward wins for other+list */
    strbuf_setf(path, "%s/fwd.%s+list", tmpdir, other);
    fd = open(path->data, O_CREAT | O_WRONLY, 0644);
    assert_true(fd >= 0);
    strbuf_setf(text, "%s\n", me);
    assert_int_equal(fileio_write_all(fd, text->data, text->len), 0);
    close(fd);
    assert_int_equal(deliver("nobody+list", NULL, &res), 0);
    a = mbox_of(me, NULL);
    b = mbox_of(other, NULL);
    assert_int_equal(count_of(a->data, "\nhello\n"), 2);
    assert_int_equal(count_of(b->data, "\nhello\n"), 1);
    strbuf_free(a);
    strbuf_free(b);
    strbuf_free(path);
    strbuf_free(text);
    strbuf_free(res.reason);
}

static void test_temp_failures(void **state)
{
    mailbox_result res;
    maps   *saved = conf.aliases;

    (void) state;
    res.reason = strbuf_new(64);
    /* a remote address without a reachable cleanup: deferred */
    assert_int_equal(deliver("remote", NULL, &res), 4);
    assert_string_equal(res.dsn, "4.3.0");
    /* an alias table that cannot answer defers, never bounces */
    conf.aliases = maps_open("alias_maps", "fail:broken", DICT_F_FOLD);
    assert_int_equal(deliver("no_such_user_xq", NULL, &res), 4);
    assert_string_equal(res.dsn, "4.3.0");
    conf.aliases = maps_free(conf.aliases);
    conf.aliases = saved;
    strbuf_free(res.reason);
}

static void test_mailbox_command(void **state)
{
    mailbox_result res;
    strbuf *cmd = strbuf_new(64);
    strbuf *got;
    uid_t   owner;

    (void) state;
    res.reason = strbuf_new(64);
    /* the extension is filtered before it reaches the shell */
    (void) strbuf_printf(cmd, "cat > %s/mc-$extension; id -u > %s/mc-uid", tmpdir, tmpdir);
    conf.mailbox_command = cmd->data;
    assert_int_equal(deliver("root+a;b`x`", NULL, &res), 0);
    got = mbox_of("mc-a_b_x_", &owner);
    assert_non_null(strstr(got->data, "Delivered-To: root+a;b`x`\n"));
    /* never as root: default_privs (or the instance user) */
    assert_int_equal(owner, getuid() == 0 ? conf.default_privs.uid : getuid());
    strbuf_free(got);
    conf.mailbox_command = "exit 75";
    assert_int_equal(deliver(me, NULL, &res), 4);
    conf.mailbox_command = "";
    strbuf_free(cmd);
    strbuf_free(res.reason);
}

int     main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_plain_and_extension, wipe),
        cmocka_unit_test_setup(test_unknown_and_luser, wipe),
        cmocka_unit_test_setup(test_alias_several_and_owner, wipe),
        cmocka_unit_test_setup(test_alias_loops, wipe),
        cmocka_unit_test_setup(test_alias_file_command_include, wipe),
        cmocka_unit_test_setup(test_dot_forward, wipe),
        cmocka_unit_test_setup(test_temp_failures, wipe),
        cmocka_unit_test_setup(test_mailbox_command, wipe),
    };

    testlib_setup();
    return cmocka_run_group_tests_name("local_deliver", tests, setup, teardown);
}
