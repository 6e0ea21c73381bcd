/*
 * Unit tests for lib/mail/param.c and param_table.c.
 *
 * Each test writes its own main.cf into a scratch directory; nothing
 * depends on the host's /etc/postern. Dynamic defaults (myhostname,
 * mynetworks) are checked by their shape, not by host-specific values.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <unistd.h>
#include <cmocka.h>

#include "mem.h"
#include "param.h"
#include "param_names.h"
#include "strbuf.h"
#include "strutil.h"
#include "testlib.h"

static char *test_dir;

/* write_conf: write name (main.cf, master.cf) in the scratch directory. */
static void write_conf(const char *name, const char *text)
{
    char   *path = str_concat(test_dir, "/", name, (char *) NULL);
    FILE   *fp = fopen(path, "w");

    assert_non_null(fp);
    assert_int_equal(fputs(text, fp) >= 0, 1);
    assert_int_equal(fclose(fp), 0);
    mem_free(path);
}

/* load: write main.cf and load it; returns param_load's result. */
static int load(const char *text)
{
    strbuf *err = strbuf_new(64);
    int     rc;

    write_conf("main.cf", text);
    rc = param_load(test_dir, err);
    if (rc < 0)
        fail_msg("param_load: %s", strbuf_str(err));
    strbuf_free(err);
    return rc;
}

/* count_substr: occurrences of needle in hay. */
static int count_substr(const char *hay, const char *needle)
{
    int     n = 0;

    while ((hay = strstr(hay, needle)) != NULL) {
        n++;
        hay += strlen(needle);
    }
    return n;
}

static int setup(void **state)
{
    char    tmpl[] = "/tmp/test_param.XXXXXX";

    (void) state;
    assert_non_null(mkdtemp(tmpl));
    test_dir = mem_strdup(tmpl);
    param_reset();
    testlib_log_reset();
    return 0;
}

static int teardown(void **state)
{
    DIR    *d = opendir(test_dir);
    struct dirent *de;

    (void) state;
    while (d && (de = readdir(d)) != NULL) {
        char   *p;

        if (de->d_name[0] == '.')
            continue;
        p = str_concat(test_dir, "/", de->d_name, (char *) NULL);
        unlink(p);
        mem_free(p);
    }
    if (d)
        closedir(d);
    rmdir(test_dir);
    test_dir = mem_free(test_dir);
    param_reset();
    return 0;
}

static void test_defaults(void **state)
{
    size_t  n;
    const char *const *items;

    (void) state;
    /* Before any load: the table defaults. */
    assert_string_equal(param_str(PARAM_MAIL_NAME), "Postern");
    assert_string_equal(param_str(PARAM_CONFIG_DIRECTORY), "/etc/postern");
    assert_string_equal(param_str(PARAM_QUEUE_DIRECTORY), "/var/spool/postern");
    assert_string_equal(param_str(PARAM_MAIL_OWNER), "postern");
    assert_int_equal(param_int(PARAM_DEFAULT_PROCESS_LIMIT), 100);
    assert_int_equal(param_int(PARAM_MAX_USE), 100);
    assert_int_equal(param_time(PARAM_MAX_IDLE), 100);
    assert_int_equal(param_time(PARAM_MAXIMAL_BACKOFF_TIME), 4000);
    assert_int_equal(param_time(PARAM_MAXIMAL_QUEUE_LIFETIME), 5 * 86400);
    assert_int_equal(param_time(PARAM_DELAY_WARNING_TIME), 0);
    assert_int_equal(param_time(PARAM_DAEMON_TIMEOUT), 18000);
    assert_int_equal(param_size(PARAM_MESSAGE_SIZE_LIMIT), 10240000);
    assert_int_equal(param_size(PARAM_MAILBOX_SIZE_LIMIT), 51200000);
    assert_false(param_bool(PARAM_SOFT_BOUNCE));
    assert_false(param_bool(PARAM_ENABLE_LONG_QUEUE_IDS));
    assert_string_equal(param_raw(PARAM_MYDESTINATION),
                        "$myhostname, localhost.$mydomain, localhost");
    assert_string_equal(param_default(PARAM_ALIAS_MAPS), "$default_database_type:/etc/aliases");
    assert_string_equal(param_str(PARAM_ALIAS_MAPS), "hash:/etc/aliases");
    items = param_list(PARAM_HASH_QUEUE_NAMES, &n);
    assert_int_equal(n, 2);
    assert_string_equal(items[0], "deferred");
    assert_string_equal(items[1], "defer");
    assert_null(items[2]);
    items = param_list(PARAM_RELAY_DOMAINS, &n);
    assert_int_equal(n, 0);
    assert_null(items[0]);
    assert_false(param_is_set(PARAM_MYHOSTNAME));
    assert_null(param_main_cfg());
}

static void test_table_sane(void **state)
{
    const param_def *defs;
    size_t  n, i;

    (void) state;
    defs = param_table(&n);
    assert_true(n >= 50);
    for (i = 0; i < n; i++) {
        const param_def *d = &defs[i];

        assert_ptr_equal(param_def_find(d->name), d);
        assert_true((d->defval == NULL) != (d->dynamic == NULL));
        assert_non_null(d->man);
        if (d->type == PARAM_INT || d->type == PARAM_SIZE || d->type == PARAM_TIME)
            assert_true(d->min <= d->max);
        if (d->type == PARAM_TIME)
            assert_non_null(strchr("smhdw", d->unit));
        /* Every default is valid for its own type. */
        switch (d->type) {
        case PARAM_INT:
            (void) param_int(d->name);
            break;
        case PARAM_SIZE:
            (void) param_size(d->name);
            break;
        case PARAM_TIME:
            (void) param_time(d->name);
            break;
        case PARAM_BOOL:
            (void) param_bool(d->name);
            break;
        case PARAM_LIST:
        case PARAM_MAPS:
            (void) param_list(d->name, NULL);
            break;
        default:
            (void) param_str(d->name);
            break;
        }
    }
    assert_null(param_def_find("no_such_parameter"));
    assert_string_equal(param_type_name(PARAM_TIME), "time");
}

static void test_expansion_through_defaults(void **state)
{
    size_t  n;
    const char *const *items;

    (void) state;
    assert_int_equal(load("myhostname = mail.example.org\n"), 0);
    assert_string_equal(param_str(PARAM_MYDOMAIN), "example.org");
    assert_string_equal(param_str(PARAM_MYDESTINATION),
                        "mail.example.org, localhost.example.org, localhost");
    assert_string_equal(param_str(PARAM_MYORIGIN), "mail.example.org");
    assert_string_equal(param_str(PARAM_SMTPD_BANNER), "mail.example.org ESMTP Postern");
    assert_string_equal(param_str(PARAM_LOCAL_TRANSPORT), "local:mail.example.org");
    items = param_list(PARAM_MYDESTINATION, &n);
    assert_int_equal(n, 3);
    assert_string_equal(items[1], "localhost.example.org");
    /* The raw value is untouched. */
    assert_string_equal(param_raw(PARAM_MYORIGIN), "$myhostname");
    assert_true(param_is_set(PARAM_MYHOSTNAME));
    assert_false(param_is_set(PARAM_MYDOMAIN));
    /* config_directory follows the directory that was loaded. */
    assert_string_equal(param_str(PARAM_CONFIG_DIRECTORY), test_dir);
    assert_string_equal(param_default(PARAM_CONFIG_DIRECTORY), "/etc/postern");
}

static void test_main_cf_values(void **state)
{
    (void) state;
    assert_int_equal(load("# comment\n"
                          "mydomain = example.net\n"
                          "myorigin = $mydomain\n"
                          "mydestination = $myorigin,\n"
                          "    other.example\n"
                          "home_mailbox = Maildir/$user\n"
                          "smtpd_banner = ${mail_name?{$mail_name ready}:{none}}\n"), 0);
    assert_string_equal(param_str(PARAM_MYORIGIN), "example.net");
    assert_string_equal(param_str(PARAM_MYDESTINATION), "example.net, other.example");
    /* PARAM_F_RAW: not expanded. */
    assert_string_equal(param_str(PARAM_HOME_MAILBOX), "Maildir/$user");
    assert_string_equal(param_str(PARAM_SMTPD_BANNER), "Postern ready");
    assert_string_equal(param_main_path() + strlen(test_dir), "/main.cf");
    assert_non_null(param_main_cfg());
    assert_int_equal(cfg_find(param_main_cfg(), PARAM_MYDESTINATION)->line, 4);
}

static void test_overrides(void **state)
{
    (void) state;
    assert_int_equal(load("max_use = 7\nmyhostname = a.example.com\n"), 0);
    assert_int_equal(param_int(PARAM_MAX_USE), 7);
    assert_string_equal(param_str(PARAM_MYORIGIN), "a.example.com");
    /* Overrides win over main.cf and invalidate cached values. */
    assert_int_equal(param_override(PARAM_MAX_USE, "5"), 0);
    assert_int_equal(param_int(PARAM_MAX_USE), 5);
    assert_int_equal(param_override(PARAM_MYHOSTNAME, "b.example.com"), 0);
    assert_string_equal(param_str(PARAM_MYORIGIN), "b.example.com");
    assert_string_equal(param_str(PARAM_MYDOMAIN), "example.com");
    /* A user-defined name set by override can be referenced. */
    assert_int_equal(param_override("my_banner", "hello"), 0);
    assert_int_equal(param_override(PARAM_SMTPD_BANNER, "$my_banner there"), 0);
    assert_string_equal(param_str(PARAM_SMTPD_BANNER), "hello there");
    assert_true(param_is_known("my_banner"));
    assert_true(param_is_set(PARAM_SMTPD_BANNER));
    assert_int_equal(param_override("bad name", "x"), -1);
    assert_true(testlib_log_has("bad parameter name"));
    /* Overrides survive a reload of main.cf. */
    assert_int_equal(load("max_use = 9\n"), 0);
    assert_int_equal(param_int(PARAM_MAX_USE), 5);
    /* A bad override value names its origin. */
    assert_int_equal(param_override(PARAM_DEFAULT_PROCESS_LIMIT, "x"), 0);
    TESTLIB_EXPECT_EXIT(MSG_FATAL, param_int(PARAM_DEFAULT_PROCESS_LIMIT));
    assert_true(testlib_log_has("fatal: command line: bad numerical configuration: "
                                "default_process_limit = x"));
}

static void test_unknown_names(void **state)
{
    (void) state;
    write_conf("master.cf",
               "smtp      inet  n       -       n       -       -       smtpd\n"
               "slowsmtp  unix  -       -       n       -       -       smtp\n");
    assert_int_equal(load("# line 1\n"
                          "myhostname = h.example.com\n"
                          "relay_domains = $my_relays\n"
                          "my_relays = a.example, b.example\n"
                          "smtpd_banner = ${my_flag?x}\n"
                          "my_flag = yes\n"
                          "foo_bar = baz\n"
                          "slowsmtp_destination_concurrency_limit = 2\n"
                          "nosuch_destination_concurrency_limit = 2\n"
                          "foo_bar = again\n"
                          "smtpd_restriction_classes = strict, lax\n"
                          "strict = reject_unauth_destination\n"), 0);
    /* One warning per unused name, with file and line (the last definition). */
    assert_int_equal(count_substr(testlib_log(), "unused parameter"), 2);
    {
        char   *want = str_concat("warning: ", test_dir,
                                  "/main.cf, line 10: unused parameter: foo_bar=again",
                                  (char *) NULL);

        assert_true(testlib_log_has(want));
        mem_free(want);
        want = str_concat("warning: ", test_dir, "/main.cf, line 9: unused parameter: "
                          "nosuch_destination_concurrency_limit=2", (char *) NULL);
        assert_true(testlib_log_has(want));
        mem_free(want);
    }
    assert_true(testlib_log_has("overriding earlier entry: foo_bar=baz"));
    assert_false(testlib_log_has("my_relays"));
    assert_false(testlib_log_has("my_flag"));
    assert_true(param_is_known("my_relays"));
    assert_true(param_is_known("my_flag"));
    assert_true(param_is_known("slowsmtp_destination_concurrency_limit"));
    /* Restriction classes are user-defined names, not typos. */
    assert_false(testlib_log_has("strict"));
    assert_true(param_is_known("strict"));
    assert_true(param_is_known("lax"));
    assert_false(param_is_known("foo_bar"));
    assert_string_equal(param_str(PARAM_RELAY_DOMAINS), "a.example, b.example");
    assert_string_equal(param_lookup("my_relays"), "a.example, b.example");
    assert_null(param_lookup("undefined_thing"));
}

static void test_missing_and_broken(void **state)
{
    strbuf *err = strbuf_new(64);
    char   *sub = str_concat(test_dir, "/nothing", (char *) NULL);

    (void) state;
    assert_int_equal(param_load(sub, err), 1);
    assert_string_equal(param_str(PARAM_MAIL_NAME), "Postern");
    assert_int_equal(param_int(PARAM_MAX_USE), 100);
    assert_non_null(param_main_cfg());
    assert_int_equal(cfg_count(param_main_cfg()), 0);

    assert_int_equal(load("max_use = 3\n"), 0);
    write_conf("main.cf", "max_use = 4\n  \nthis is wrong\n");
    assert_int_equal(param_load(test_dir, err), -1);
    assert_true(strstr(strbuf_str(err), "/main.cf, line 3: missing '='") != NULL);
    /* The previous configuration stays in force. */
    assert_int_equal(param_int(PARAM_MAX_USE), 3);
    mem_free(sub);
    strbuf_free(err);
}

struct time_case {
    const char *name;
    const char *value;
    long    seconds;                    /* -1: fatal expected */
};

static const struct time_case time_cases[] = {
    {PARAM_QUEUE_RUN_DELAY, "10s", 10},
    {PARAM_QUEUE_RUN_DELAY, "5m", 300},
    {PARAM_QUEUE_RUN_DELAY, "2h", 7200},
    {PARAM_QUEUE_RUN_DELAY, "1d", 86400},
    {PARAM_QUEUE_RUN_DELAY, "1w", 604800},
    {PARAM_QUEUE_RUN_DELAY, "7", 7},
    {PARAM_MAXIMAL_QUEUE_LIFETIME, "2", 2 * 86400},
    {PARAM_MAXIMAL_QUEUE_LIFETIME, "0", 0},
    {PARAM_DELAY_WARNING_TIME, "3", 3 * 3600},
    {PARAM_DELAY_WARNING_TIME, "30m", 1800},
    {PARAM_QUEUE_RUN_DELAY, "10x", -1},
    {PARAM_QUEUE_RUN_DELAY, "abc", -1},
    {PARAM_QUEUE_RUN_DELAY, "", -1},
    {PARAM_QUEUE_RUN_DELAY, "-5s", -1},
    {PARAM_QUEUE_RUN_DELAY, "5mm", -1},
    {PARAM_QUEUE_RUN_DELAY, "1.5h", -1},
    {PARAM_QUEUE_RUN_DELAY, "5 m", -1},
    {PARAM_QUEUE_RUN_DELAY, "0s", -1},                  /* below min 1 */
    {PARAM_QUEUE_RUN_DELAY, "99999999999999999999w", -1},
    {PARAM_QUEUE_RUN_DELAY, "999999999w", -1},          /* above INT_MAX s */
};

/* check_time_case: load one setting and check param_time on it (a
 * function of its own so that no loop variable lives across setjmp). */
static void check_time_case(const struct time_case *c)
{
    char    text[200];

    param_reset();
    testlib_log_reset();
    assert_int_equal(str_format(text, sizeof(text), "\n%s = %s\n", c->name, c->value), 0);
    assert_true(load(text) >= 0);
    if (c->seconds >= 0) {
        if (param_time(c->name) != c->seconds)
            fail_msg("%s = %s: got %ld, want %ld", c->name, c->value,
                     param_time(c->name), c->seconds);
    } else {
        char    want[300];

        TESTLIB_EXPECT_EXIT(MSG_FATAL, param_time(c->name));
        assert_int_equal(str_format(want, sizeof(want),
                         "/main.cf, line 2: bad time configuration: %s = %s",
                         c->name, c->value), 0);
        if (!testlib_log_has(want))
            fail_msg("%s = %s: log lacks \"%s\":\n%s", c->name, c->value, want, testlib_log());
    }
}

static void test_time_units(void **state)
{
    size_t  i;

    (void) state;
    for (i = 0; i < sizeof(time_cases) / sizeof(time_cases[0]); i++)
        check_time_case(&time_cases[i]);
}

static void test_parse_time(void **state)
{
    long    s = -7;

    (void) state;
    assert_int_equal(param_parse_time("3", 'm', &s), 0);
    assert_int_equal(s, 180);
    assert_int_equal(param_parse_time("3", 'x', &s), -1);
    assert_int_equal(param_parse_time("3w", 's', &s), 0);
    assert_int_equal(s, 3 * 604800);
    assert_int_equal(param_parse_time("99999999999999999999", 's', &s), -2);
    assert_int_equal(param_parse_time("s", 's', &s), -1);
}

static void test_numbers_and_bounds(void **state)
{
    (void) state;
    assert_int_equal(load("default_process_limit = abc\n"
                          "max_use = 0\n"
                          "hash_queue_depth = 17\n"
                          "message_size_limit = 0\n"
                          "line_length_limit = 99999999999999999999\n"
                          "mailbox_size_limit = -1\n"
                          "header_size_limit = 1000\n"), 0);
    TESTLIB_EXPECT_EXIT(MSG_FATAL, param_int(PARAM_DEFAULT_PROCESS_LIMIT));
    assert_true(testlib_log_has("/main.cf, line 1: bad numerical configuration: "
                                "default_process_limit = abc\n"));
    TESTLIB_EXPECT_EXIT(MSG_FATAL, param_int(PARAM_MAX_USE));
    assert_true(testlib_log_has("line 2: bad numerical configuration: max_use = 0 (allowed: 1.."));
    TESTLIB_EXPECT_EXIT(MSG_FATAL, param_int(PARAM_HASH_QUEUE_DEPTH));
    assert_true(testlib_log_has("line 3: bad numerical configuration: hash_queue_depth = 17 "
                                "(allowed: 1..16)"));
    assert_int_equal(param_size(PARAM_MESSAGE_SIZE_LIMIT), 0);
    TESTLIB_EXPECT_EXIT(MSG_FATAL, param_int(PARAM_LINE_LENGTH_LIMIT));
    TESTLIB_EXPECT_EXIT(MSG_FATAL, param_size(PARAM_MAILBOX_SIZE_LIMIT));
    assert_int_equal(param_size(PARAM_HEADER_SIZE_LIMIT), 1000);
}

static void test_bools(void **state)
{
    (void) state;
    assert_int_equal(load("soft_bounce = YES\nenable_long_queue_ids = true\n"), 0);
    assert_true(param_bool(PARAM_SOFT_BOUNCE));
    TESTLIB_EXPECT_EXIT(MSG_FATAL, param_bool(PARAM_ENABLE_LONG_QUEUE_IDS));
    assert_true(testlib_log_has("line 2: bad boolean configuration: "
                                "enable_long_queue_ids = true (use yes or no)"));
    assert_int_equal(param_override(PARAM_ENABLE_LONG_QUEUE_IDS, "No"), 0);
    assert_false(param_bool(PARAM_ENABLE_LONG_QUEUE_IDS));
}

static void test_lists(void **state)
{
    size_t  n;
    const char *const *items;

    (void) state;
    assert_int_equal(load("notify_classes = a, b  c,,d\n\te\n"
                          "hash_queue_names = { x  y }, z,{}\n"
                          "alias_maps = hash:/etc/aliases, inline:{a=b, c=d}\n"
                          "alias_database = inline:{a=b\n"
                          "relay_domains = notamap\n"), 0);
    items = param_list(PARAM_NOTIFY_CLASSES, &n);
    assert_int_equal(n, 5);
    assert_string_equal(items[3], "d");
    assert_string_equal(items[4], "e");
    items = param_list(PARAM_HASH_QUEUE_NAMES, &n);
    assert_int_equal(n, 3);
    assert_string_equal(items[0], "x  y");
    assert_string_equal(items[1], "z");
    assert_string_equal(items[2], "");
    items = param_list(PARAM_ALIAS_MAPS, &n);
    assert_int_equal(n, 2);
    assert_string_equal(items[1], "inline:{a=b, c=d}");
    /* The same array comes back from the cache. */
    assert_ptr_equal(param_list(PARAM_ALIAS_MAPS, NULL), items);
    TESTLIB_EXPECT_EXIT(MSG_FATAL, param_list(PARAM_ALIAS_DATABASE, &n));
    assert_true(testlib_log_has("line 5: bad list configuration: alias_database = "
                                "inline:{a=b (missing '}')\n"));
    /* relay_domains is a plain list: any word is fine. */
    assert_int_equal(param_list(PARAM_RELAY_DOMAINS, &n)[0][0], 'n');
    assert_int_equal(param_override(PARAM_ALIAS_MAPS, "notamap"), 0);
    TESTLIB_EXPECT_EXIT(MSG_FATAL, param_list(PARAM_ALIAS_MAPS, &n));
    assert_true(testlib_log_has("bad lookup table configuration: alias_maps = notamap"));
}

static void test_loops_are_fatal(void **state)
{
    strbuf *out = strbuf_new(16);
    strbuf *err = strbuf_new(16);

    (void) state;
    assert_int_equal(load("myorigin = $mydomain\nmydomain = x${myorigin}\n"
                          "smtpd_banner = ${unterminated\n"), 0);
    TESTLIB_EXPECT_EXIT(MSG_FATAL, param_str(PARAM_MYORIGIN));
    assert_true(testlib_log_has("line 1: bad value of myorigin: parameter reference loop: "
                                "myorigin -> mydomain -> myorigin"));
    /* The non-fatal variant for tools. */
    assert_int_equal(param_expand_value(PARAM_SMTPD_BANNER, out, err), -1);
    assert_true(strstr(strbuf_str(err), "line 3: bad value of smtpd_banner: unterminated") != NULL);
    assert_int_equal(param_expand("[$mail_name]", out, err), 0);
    assert_string_equal(strbuf_str(out), "[Postern]");
    strbuf_free(out);
    strbuf_free(err);
}

static void test_panics(void **state)
{
    (void) state;
    TESTLIB_EXPECT_EXIT(MSG_PANIC, param_str("no_such_parameter"));
    TESTLIB_EXPECT_EXIT(MSG_PANIC, param_raw("no_such_parameter"));
    TESTLIB_EXPECT_EXIT(MSG_PANIC, param_int(PARAM_MAIL_NAME));
    TESTLIB_EXPECT_EXIT(MSG_PANIC, param_time(PARAM_MAX_USE));
    TESTLIB_EXPECT_EXIT(MSG_PANIC, param_list(PARAM_MAX_USE, NULL));
}

static void test_config_dir(void **state)
{
    (void) state;
    unsetenv(PARAM_CONFIG_ENV);
    assert_string_equal(param_config_dir(NULL), PARAM_CONFIG_DIR_DEFAULT);
    assert_string_equal(param_config_dir(""), PARAM_CONFIG_DIR_DEFAULT);
    assert_string_equal(param_config_dir("/cli"), "/cli");
    setenv(PARAM_CONFIG_ENV, "/env", 1);
    assert_string_equal(param_config_dir(NULL), "/env");
    assert_string_equal(param_config_dir("/cli"), "/cli");
    setenv(PARAM_CONFIG_ENV, "", 1);
    assert_string_equal(param_config_dir(NULL), PARAM_CONFIG_DIR_DEFAULT);
    unsetenv(PARAM_CONFIG_ENV);
}

static void test_dynamic_defaults(void **state)
{
    const char *host;
    const char *dot;
    size_t  n, i;
    const char *const *nets;
    int     has4 = 0, has6 = 0;

    (void) state;
    host = param_str(PARAM_MYHOSTNAME);
    dot = strchr(host, '.');
    assert_non_null(dot);
    assert_string_equal(param_str(PARAM_MYDOMAIN), dot + 1);
    nets = param_list(PARAM_MYNETWORKS, &n);
    for (i = 0; i < n; i++) {
        has4 |= strcmp(nets[i], "127.0.0.0/8") == 0;
        has6 |= strcmp(nets[i], "[::1]/128") == 0;
        assert_non_null(strchr(nets[i], '/'));
    }
    assert_true(has4 && has6);
    assert_string_equal(nets[0], "127.0.0.0/8");

    /* IPv4 only: no IPv6 networks at all. */
    assert_int_equal(load("inet_protocols = ipv4\n"), 0);
    nets = param_list(PARAM_MYNETWORKS, &n);
    for (i = 0; i < n; i++)
        assert_null(strchr(nets[i], '['));
    assert_int_equal(load("inet_protocols = ipv6\nmynetworks_style = subnet\n"), 0);
    nets = param_list(PARAM_MYNETWORKS, &n);
    assert_string_equal(nets[0], "[::1]/128");
    for (i = 0; i < n; i++)
        assert_int_equal(nets[i][0], '[');

    /* mydomain of a host name without a dot. */
    assert_int_equal(load("myhostname = single\n"), 0);
    assert_string_equal(param_str(PARAM_MYDOMAIN), "localdomain");

    /* Explicit mynetworks replaces the computed one. */
    assert_int_equal(load("mynetworks = 10.0.0.0/8\n"), 0);
    assert_string_equal(param_str(PARAM_MYNETWORKS), "10.0.0.0/8");

    assert_int_equal(load("mynetworks_style = bogus\n"), 0);
    TESTLIB_EXPECT_EXIT(MSG_FATAL, param_str(PARAM_MYNETWORKS));
    assert_true(testlib_log_has("line 1: bad parameter value: mynetworks_style = bogus"));
    param_reset();
    assert_int_equal(load("inet_protocols = ipx\n"), 0);
    TESTLIB_EXPECT_EXIT(MSG_FATAL, param_str(PARAM_MYNETWORKS));
    assert_true(testlib_log_has("bad parameter value: inet_protocols = ipx"));
}

static void test_dynamic_self_reference(void **state)
{
    (void) state;
    /* myhostname refers to mydomain, whose default derives from
     * myhostname: no endless recursion, a definite answer. */
    assert_int_equal(load("myhostname = mx.$mydomain\n"), 0);
    assert_string_equal(param_str(PARAM_MYDOMAIN), "localdomain");
    assert_string_equal(param_str(PARAM_MYHOSTNAME), "mx.localdomain");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_defaults, setup, teardown),
        cmocka_unit_test_setup_teardown(test_table_sane, setup, teardown),
        cmocka_unit_test_setup_teardown(test_expansion_through_defaults, setup, teardown),
        cmocka_unit_test_setup_teardown(test_main_cf_values, setup, teardown),
        cmocka_unit_test_setup_teardown(test_overrides, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_names, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing_and_broken, setup, teardown),
        cmocka_unit_test_setup_teardown(test_time_units, setup, teardown),
        cmocka_unit_test_setup_teardown(test_parse_time, setup, teardown),
        cmocka_unit_test_setup_teardown(test_numbers_and_bounds, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bools, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lists, setup, teardown),
        cmocka_unit_test_setup_teardown(test_loops_are_fatal, setup, teardown),
        cmocka_unit_test_setup_teardown(test_panics, setup, teardown),
        cmocka_unit_test_setup_teardown(test_config_dir, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dynamic_defaults, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dynamic_self_reference, setup, teardown),
    };

    testlib_setup();
    return cmocka_run_group_tests_name("param", tests, NULL, NULL);
}
