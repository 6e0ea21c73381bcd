/*
 * Unit tests for lib/mail/mastercf.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "mem.h"
#include "strbuf.h"
#include "strutil.h"
#include "mastercf.h"
#include "testlib.h"

/* A stock Postfix-style master.cf, the kind admins carry over. */
static const char stock_text[] =
    "#\n"
    "# Postfix master process configuration file.\n"
    "#\n"
    "# ==========================================================================\n"
    "# service type  private unpriv  chroot  wakeup  maxproc command + args\n"
    "#               (yes)   (yes)   (no)    (never) (100)\n"
    "# ==========================================================================\n"
    "smtp      inet  n       -       y       -       -       smtpd\n"
    "#smtp      inet  n       -       y       -       1       postscreen\n"
    "#submission inet n       -       y       -       -       smtpd\n"
    "#  -o syslog_name=postfix/submission\n"
    "#  -o smtpd_tls_security_level=encrypt\n"
    "pickup    unix  n       -       y       60      1       pickup\n"
    "cleanup   unix  n       -       y       -       0       cleanup\n"
    "qmgr      unix  n       -       n       300     1       qmgr\n"
    "#qmgr     unix  n       -       n       300     1       oqmgr\n"
    "tlsmgr    unix  -       -       y       1000?   1       tlsmgr\n"
    "rewrite   unix  -       -       y       -       -       trivial-rewrite\n"
    "bounce    unix  -       -       y       -       0       bounce\n"
    "defer     unix  -       -       y       -       0       bounce\n"
    "trace     unix  -       -       y       -       0       bounce\n"
    "verify    unix  -       -       y       -       1       verify\n"
    "flush     unix  n       -       y       1000?   0       flush\n"
    "proxymap  unix  -       -       n       -       -       proxymap\n"
    "proxywrite unix -       -       n       -       1       proxymap\n"
    "smtp      unix  -       -       y       -       -       smtp\n"
    "relay     unix  -       -       y       -       -       smtp\n"
    "        -o syslog_name=postfix/$service_name\n"
    "#       -o smtp_helo_timeout=5 -o smtp_connect_timeout=5\n"
    "showq     unix  n       -       y       -       -       showq\n"
    "error     unix  -       -       y       -       -       error\n"
    "retry     unix  -       -       y       -       -       error\n"
    "discard   unix  -       -       y       -       -       discard\n"
    "local     unix  -       n       n       -       -       local\n"
    "virtual   unix  -       n       n       -       -       virtual\n"
    "lmtp      unix  -       -       y       -       -       lmtp\n"
    "anvil     unix  -       -       y       -       1       anvil\n"
    "scache    unix  -       -       y       -       1       scache\n"
    "postlog   unix-dgram n  -       n       -       1       postlogd\n"
    "maildrop  unix  -       n       n       -       -       pipe\n"
    "  flags=DRXhu user=vmail argv=/usr/local/bin/maildrop -d ${recipient}\n";

static mastercf *parse(const char *text, strbuf *err)
{
    return mastercf_parse_text(text, strlen(text), "test", err);
}

static void test_stock(void **state)
{
    strbuf *err = strbuf_new(100);
    mastercf *m = parse(stock_text, err);
    const mastercf_entry *e;

    (void) state;
    assert_non_null(m);
    assert_int_equal(mastercf_count(m), 26);

    e = mastercf_get(m, 0);
    assert_string_equal(e->service, "smtp");
    assert_string_equal(e->type, "inet");
    assert_int_equal(e->type_code, MASTERCF_TYPE_INET);
    assert_int_equal(e->private_, 0);
    assert_int_equal(e->unpriv, 1);
    assert_int_equal(e->chroot, 1);
    assert_string_equal(e->unpriv_raw, "-");
    assert_string_equal(e->wakeup, "-");
    assert_int_equal(e->wakeup_seconds, 0);
    assert_int_equal(e->maxproc, -1);
    assert_string_equal(e->maxproc_raw, "-");
    assert_string_equal(e->command, "smtpd");
    assert_int_equal(e->argc, 1);
    assert_string_equal(e->argv[0], "smtpd");
    assert_null(e->argv[1]);
    assert_int_equal(e->line, 8);
    assert_string_equal(e->origin, "test");

    e = mastercf_find(m, "pickup", "unix");
    assert_non_null(e);
    assert_int_equal(e->wakeup_seconds, 60);
    assert_int_equal(e->wakeup_conditional, 0);
    assert_int_equal(e->maxproc, 1);
    assert_int_equal(e->line, 13);

    e = mastercf_find(m, "tlsmgr", "unix");
    assert_string_equal(e->wakeup, "1000?");
    assert_int_equal(e->wakeup_seconds, 1000);
    assert_int_equal(e->wakeup_conditional, 1);
    assert_int_equal(e->private_, 1);

    e = mastercf_find(m, "cleanup", "unix");
    assert_int_equal(e->maxproc, 0);

    e = mastercf_find(m, "relay", "unix");
    assert_int_equal(e->argc, 3);
    assert_string_equal(e->argv[1], "-o");
    assert_string_equal(e->argv[2], "syslog_name=postfix/$service_name");
    assert_int_equal(e->noverrides, 1);
    assert_string_equal(mastercf_override_value(e, "syslog_name"),
                        "postfix/$service_name");

    e = mastercf_find(m, "local", "unix");
    assert_int_equal(e->unpriv, 0);
    assert_int_equal(e->chroot, 0);

    e = mastercf_find(m, "postlog", "unix-dgram");
    assert_int_equal(e->type_code, MASTERCF_TYPE_UNIX_DGRAM);
    assert_int_equal(e->private_, 0);

    /* -d after a non-option argument is not an override, nor an option */
    e = mastercf_find(m, "maildrop", "unix");
    assert_int_equal(e->argc, 6);
    assert_string_equal(e->argv[3], "argv=/usr/local/bin/maildrop");
    assert_string_equal(e->argv[5], "${recipient}");
    assert_int_equal(e->noverrides, 0);
    assert_int_equal(e->line, 40);

    assert_non_null(mastercf_find(m, "smtp", "unix"));
    assert_null(mastercf_find(m, "smtp", "fifo"));
    assert_null(mastercf_find(m, "postscreen", "inet"));
    assert_null(mastercf_get(m, 26));
    assert_null(mastercf_free(m));
    strbuf_free(err);
}

static void test_defaults(void **state)
{
    strbuf *err = strbuf_new(100);
    mastercf *m = parse("svc unix - - - - - prog\n", err);
    const mastercf_entry *e;

    (void) state;
    assert_non_null(m);
    e = mastercf_get(m, 0);
    assert_int_equal(e->private_, 1);
    assert_int_equal(e->unpriv, 1);
    assert_int_equal(e->chroot, 0);
    assert_int_equal(e->wakeup_seconds, 0);
    assert_int_equal(e->wakeup_conditional, 0);
    assert_int_equal(e->maxproc, -1);
    assert_string_equal(e->private_raw, "-");
    assert_string_equal(e->chroot_raw, "-");
    mastercf_free(m);

    m = parse("svc fifo y y y 0 7 prog", err);     /* no final newline */
    assert_non_null(m);
    e = mastercf_get(m, 0);
    assert_int_equal(e->type_code, MASTERCF_TYPE_FIFO);
    assert_int_equal(e->private_, 1);
    assert_int_equal(e->unpriv, 1);
    assert_int_equal(e->chroot, 1);
    assert_int_equal(e->maxproc, 7);
    assert_string_equal(mastercf_type_name(e->type_code), "fifo");
    mastercf_free(m);

    m = parse("", err);
    assert_non_null(m);
    assert_int_equal(mastercf_count(m), 0);
    mastercf_free(m);
    strbuf_free(err);
}

static void test_continuation(void **state)
{
    strbuf *err = strbuf_new(100);
    mastercf *m;
    const mastercf_entry *e;

    (void) state;
    m = parse("# comment\n"
              "\n"
              "submission inet n - n - - smtpd\n"
              "  -o syslog_name=postern/submission\n"
              "# a comment inside the entry does not end it\n"
              "\n"
              "\t-o smtpd_tls_security_level=encrypt\n"
              "   # indented comment\n"
              "  -o smtpd_sasl_auth_enable=yes -v\n"
              "next unix - - n - - prog\r\n"
              "  arg1\r\n", err);
    assert_non_null(m);
    assert_int_equal(mastercf_count(m), 2);
    e = mastercf_get(m, 0);
    assert_int_equal(e->line, 3);
    assert_int_equal(e->noverrides, 3);
    assert_string_equal(e->overrides[0].name, "syslog_name");
    assert_string_equal(e->overrides[0].value, "postern/submission");
    assert_string_equal(e->overrides[1].name, "smtpd_tls_security_level");
    assert_string_equal(e->overrides[2].value, "yes");
    assert_int_equal(e->argc, 8);
    assert_string_equal(e->argv[7], "-v");
    e = mastercf_get(m, 1);
    assert_int_equal(e->line, 10);
    assert_int_equal(e->argc, 2);
    assert_string_equal(e->argv[0], "prog");      /* CR is white space */
    assert_string_equal(e->argv[1], "arg1");
    mastercf_free(m);

    /* Columns may themselves be split over lines. */
    m = parse("svc\n unix\n -\n -\n n\n 10?\n 2\n prog\n", err);
    assert_non_null(m);
    e = mastercf_get(m, 0);
    assert_int_equal(e->wakeup_seconds, 10);
    assert_int_equal(e->wakeup_conditional, 1);
    assert_string_equal(e->command, "prog");
    mastercf_free(m);
    strbuf_free(err);
}

static void test_overrides(void **state)
{
    strbuf *err = strbuf_new(100);
    mastercf *m;
    const mastercf_entry *e;

    (void) state;
    m = parse("smtp inet n - n - - smtpd\n"
              "  -o { smtpd_client_restrictions = permit_mynetworks, reject }\n"
              "  -o {smtpd_helo_restrictions=}\n"
              "  -osyslog_name=a -o syslog_name=b\n"
              "  -o { x = {nested braces} and more }\n"
              "  -o empty=\n"
              "  -- -o not_an_override=1\n"
              "pipe unix - n n - - pipe argv=/bin/x { two words } {}\n", err);
    assert_non_null(m);
    e = mastercf_get(m, 0);
    assert_int_equal(e->noverrides, 6);
    assert_string_equal(e->overrides[0].name, "smtpd_client_restrictions");
    assert_string_equal(e->overrides[0].value, "permit_mynetworks, reject");
    assert_string_equal(e->argv[2],
                        "smtpd_client_restrictions = permit_mynetworks, reject");
    assert_string_equal(e->overrides[1].name, "smtpd_helo_restrictions");
    assert_string_equal(e->overrides[1].value, "");
    assert_string_equal(e->overrides[2].value, "a");
    assert_string_equal(e->argv[5], "-osyslog_name=a");
    assert_string_equal(mastercf_override_value(e, "syslog_name"), "b");
    assert_string_equal(mastercf_override_value(e, "x"),
                        "{nested braces} and more");
    assert_string_equal(mastercf_override_value(e, "empty"), "");
    assert_null(mastercf_override_value(e, "not_an_override"));
    assert_null(mastercf_override_value(e, "missing"));
    assert_string_equal(e->argv[e->argc - 1], "not_an_override=1");

    e = mastercf_get(m, 1);
    assert_int_equal(e->argc, 4);
    assert_string_equal(e->argv[2], "two words");
    assert_string_equal(e->argv[3], "");
    assert_null(e->argv[4]);
    mastercf_free(m);
    strbuf_free(err);
}

static const struct {
    const char *name;
    const char *text;
    const char *error;                  /* the whole expected message */
} error_cases[] = {
    {"few columns", "smtp inet n - n - - \n",
     "test, line 1: missing command column (an entry needs 8 columns: service "
     "type private unpriv chroot wakeup maxproc command)"},
    {"two columns", "# c\nsmtp inet\n",
     "test, line 2: missing private column (an entry needs 8 columns: service "
     "type private unpriv chroot wakeup maxproc command)"},
    {"bad type", "smtp tcp n - n - - smtpd\n",
     "test, line 1: unknown service type \"tcp\" (expected inet, unix, "
     "unix-dgram, fifo or pass)"},
    {"bad private", "a unix yes - n - - a\n",
     "test, line 1: private column: \"yes\" is not y, n or -"},
    {"bad unpriv", "a unix - Y n - - a\n",
     "test, line 1: unpriv column: \"Y\" is not y, n or -"},
    {"bad chroot", "a unix - - 1 - - a\n",
     "test, line 1: chroot column: \"1\" is not y, n or -"},
    {"inet private", "smtp inet y - n - - smtpd\n",
     "test, line 1: inet service \"smtp\" cannot be private (private column "
     "must be n)"},
    {"inet private default", "\n\n25 inet - - n - - smtpd\n",
     "test, line 3: inet service \"25\" cannot be private (private column "
     "must be n)"},
    {"wakeup word", "a unix - - n soon - a\n",
     "test, line 1: wakeup column: \"soon\" is not a number of seconds "
     "(optionally followed by ?) or -"},
    {"wakeup only ?", "a unix - - n ? - a\n",
     "test, line 1: wakeup column: \"?\" is not a number of seconds "
     "(optionally followed by ?) or -"},
    {"wakeup ??", "a unix - - n 6?? - a\n",
     "test, line 1: wakeup column: \"6??\" is not a number of seconds "
     "(optionally followed by ?) or -"},
    {"wakeup sign", "a unix - - n +6 - a\n",
     "test, line 1: wakeup column: \"+6\" is not a number of seconds "
     "(optionally followed by ?) or -"},
    {"wakeup huge", "a unix - - n 99999999999 - a\n",
     "test, line 1: wakeup column: \"99999999999\" is not a number of seconds "
     "(optionally followed by ?) or -"},
    {"maxproc negative", "a unix - - n - -1 a\n",
     "test, line 1: maxproc column: \"-1\" is not a non-negative number or -"},
    {"maxproc ?", "a unix - - n - 1? a\n",
     "test, line 1: maxproc column: \"1?\" is not a non-negative number or -"},
    {"leading continuation", "  -o a=b\nsmtp inet n - n - - smtpd\n",
     "test, line 1: continuation line (starts with white space) without an "
     "entry before it"},
    {"missing brace", "a unix - - n - - a\n  -o { x = y\n",
     "test, line 1: missing '}' to close '{'"},
    {"text after brace", "# c\na unix - - n - - a {x}y\n",
     "test, line 2: text after '}' (a braced argument must end at '}')"},
    {"-o at end", "a unix - - n - - a -v\n  -o\n",
     "test, line 1: -o option without name=value"},
    {"-o without =", "a unix - - n - - a -o name\n",
     "test, line 1: -o option \"name\" is not name=value"},
    {"-o name = value unbraced", "a unix - - n - - a -o name = value\n",
     "test, line 1: -o option \"name\" is not name=value"},
    {"-o empty name", "a unix - - n - - a -o =x\n",
     "test, line 1: -o option \"=x\": bad parameter name"},
    {"-o bad name", "a unix - - n - - a -o { my-name = x }\n",
     "test, line 1: -o option \"my-name = x\": bad parameter name"},
    {"service slash", "a/b unix - - n - - a\n",
     "test, line 1: service name \"a/b\" must not contain '/' or be . or .."},
    {"service dotdot", ".. fifo - - n - - a\n",
     "test, line 1: service name \"..\" must not contain '/' or be . or .."},
    {"inet no port", "127.0.0.1: inet n - n - - smtpd\n",
     "test, line 1: inet service \"127.0.0.1:\": missing port after ':'"},
    {"duplicate", "smtp inet n - n - - smtpd\n# x\n  \n"
     "smtp inet n - n - - smtpd -v\n",
     "test, line 4: duplicate entry for service \"smtp\" type inet (first "
     "defined at line 1)"},
    {"error in continued entry", "a unix - - n - - a\nb unix - - n - - b\n"
     "  -o ok=1\n  -o bad\n",
     "test, line 2: -o option \"bad\" is not name=value"},
    {"NUL", "a unix - - n - - a\nb unix - - n - - b\0c\n",
     "test, line 2: NUL byte in line"},
};

static void test_errors(void **state)
{
    strbuf *err = strbuf_new(100);
    size_t  i;

    (void) state;
    for (i = 0; i < sizeof(error_cases) / sizeof(error_cases[0]); i++) {
        const char *text = error_cases[i].text;
        size_t  len = strlen(text);
        mastercf *m;

        if (strcmp(error_cases[i].name, "NUL") == 0)
            len += 1 + strlen(text + len + 1);
        strbuf_reset(err);
        m = mastercf_parse_text(text, len, "test", err);
        if (m != NULL)
            fail_msg("case \"%s\": parsed", error_cases[i].name);
        if (strcmp(err->data, error_cases[i].error) != 0)
            fail_msg("case \"%s\": got \"%s\"", error_cases[i].name, err->data);
    }
    /* err may be NULL */
    assert_null(mastercf_parse_text("x", 1, "test", NULL));
    strbuf_free(err);
}

static void test_limits(void **state)
{
    strbuf *err = strbuf_new(100);
    strbuf *text = strbuf_new(100);
    mastercf *m;
    int     i;

    (void) state;
    /* Logical line over the limit, built from continuation lines. */
    strbuf_puts(text, "# c\na unix - - n - - a\n");
    for (i = 0; i < MASTERCF_LINE_MAX / 10; i++)
        strbuf_puts(text, "  -v -v -v\n");
    m = mastercf_parse_text(text->data, text->len, "test", err);
    assert_null(m);
    assert_string_equal(err->data, "test, line 2: entry longer than 16384 bytes");

    /* Too many entries. */
    strbuf_reset(text);
    for (i = 0; i <= MASTERCF_ENTRY_MAX; i++)
        strbuf_printf(text, "s%d unix - - n - - a\n", i);
    m = mastercf_parse_text(text->data, text->len, "test", err);
    assert_null(m);
    assert_string_equal(err->data, "test, line 1001: more than 1000 entries");
    strbuf_truncate(text, text->len - strlen("s1000 unix - - n - - a\n"));
    m = mastercf_parse_text(text->data, text->len, "test", err);
    assert_non_null(m);
    assert_int_equal(mastercf_count(m), MASTERCF_ENTRY_MAX);
    mastercf_free(m);

    /* Too many words. */
    strbuf_reset(text);
    strbuf_puts(text, "a unix - - n - - a");
    for (i = 0; i < MASTERCF_ARG_MAX; i++)
        strbuf_puts(text, " x");
    m = mastercf_parse_text(text->data, text->len, "test", err);
    assert_null(m);
    assert_string_equal(err->data, "test, line 1: more than 500 command words");

    /* Whole file over the limit. */
    m = mastercf_parse_text("", MASTERCF_FILE_MAX + 1, "big", err);
    assert_null(m);
    assert_string_equal(err->data, "big: file larger than 1048576 bytes");

    /* Long service name */
    strbuf_reset(text);
    for (i = 0; i < MASTERCF_SERVICE_MAX + 1; i++)
        strbuf_putc(text, 'x');
    strbuf_puts(text, " unix - - n - - a\n");
    m = mastercf_parse_text(text->data, text->len, "test", err);
    assert_null(m);
    assert_string_equal(err->data, "test, line 1: service name longer than 255 bytes");
    strbuf_free(text);
    strbuf_free(err);
}

static void test_load(void **state)
{
    strbuf *err = strbuf_new(100);
    char    path[] = "/tmp/test_mastercf.XXXXXX";
    const char bad[] = "smtp inet n - n - - smtpd\nsmtp inet n - n - - smtpd\n";
    mastercf *m;
    int     fd;

    (void) state;
    m = mastercf_load("/nonexistent/master.cf", err);
    assert_null(m);
    assert_string_equal(err->data,
                        "/nonexistent/master.cf: cannot open: No such file or directory");

    m = mastercf_load("/", err);
    assert_null(m);
    assert_string_equal(err->data, "/: not a regular file");

    fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, bad, sizeof(bad) - 1), (ssize_t) sizeof(bad) - 1);
    close(fd);
    m = mastercf_load(path, err);
    assert_null(m);
    assert_true(str_has_prefix(err->data, path));
    assert_non_null(strstr(err->data, ", line 2: duplicate entry for service "
                           "\"smtp\" type inet (first defined at line 1)"));
    unlink(path);
    strbuf_free(err);
}

/* The installed conf/master.cf parses and holds the planned services. */
static void test_conf_master_cf(void **state)
{
    static const struct {
        const char *service, *type, *command;
        int     private_, unpriv;
        long    wakeup, maxproc;
    } expect[] = {
        {"smtp", "inet", "smtpd", 0, 1, 0, -1},
        {"pickup", "unix", "pickup", 0, 1, 60, 1},
        {"cleanup", "unix", "cleanup", 0, 1, 0, 0},
        {"qmgr", "unix", "qmgr", 0, 1, 300, 1},
        {"bounce", "unix", "bounce", 1, 1, 0, 0},
        {"defer", "unix", "bounce", 1, 1, 0, 0},
        {"showq", "unix", "showq", 0, 1, 0, -1},
        {"flush", "unix", "flush", 0, 1, 0, 0},
        {"anvil", "unix", "anvil", 1, 1, 0, 1},
        {"scache", "unix", "scache", 1, 1, 0, 1},
        {"smtp", "unix", "smtp", 1, 1, 0, -1},
        {"relay", "unix", "smtp", 1, 1, 0, -1},
        {"lmtp", "unix", "smtp", 1, 1, 0, -1},
        {"error", "unix", "error", 1, 1, 0, -1},
        {"retry", "unix", "error", 1, 1, 0, -1},
        {"discard", "unix", "discard", 1, 1, 0, -1},
        {"local", "unix", "local", 1, 0, 0, -1},
        {"virtual", "unix", "virtual", 1, 0, 0, -1},
    };
    strbuf *err = strbuf_new(100);
    mastercf *m = mastercf_load("conf/master.cf", err);
    size_t  i;

    (void) state;
    if (m == NULL)
        fail_msg("conf/master.cf: %s", err->data);
    assert_int_equal(mastercf_count(m), sizeof(expect) / sizeof(expect[0]));
    for (i = 0; i < sizeof(expect) / sizeof(expect[0]); i++) {
        const mastercf_entry *e = mastercf_get(m, i);

        assert_string_equal(e->service, expect[i].service);
        assert_string_equal(e->type, expect[i].type);
        assert_string_equal(e->command, expect[i].command);
        assert_int_equal(e->private_, expect[i].private_);
        assert_int_equal(e->unpriv, expect[i].unpriv);
        assert_int_equal(e->chroot, 0);
        assert_int_equal(e->wakeup_seconds, expect[i].wakeup);
        assert_int_equal(e->maxproc, expect[i].maxproc);
        assert_string_equal(e->origin, "conf/master.cf");
    }
    mastercf_free(m);
    strbuf_free(err);
}

/* The commented-out submission examples parse once uncommented. */
static void test_conf_submission_examples(void **state)
{
    strbuf *err = strbuf_new(100);
    strbuf *text = strbuf_new(4096);
    FILE   *fp = fopen("conf/master.cf", "r");
    char    line[1024];
    mastercf *m;
    const mastercf_entry *e;

    (void) state;
    assert_non_null(fp);
    while (fgets(line, sizeof(line), fp)) {
        if (strncmp(line, "#submission", 11) == 0
            || (strncmp(line, "#  -o ", 6) == 0 && text->len > 0))
            strbuf_puts(text, line + 1);
    }
    fclose(fp);
    m = mastercf_parse_text(text->data, text->len, "submission", err);
    if (m == NULL)
        fail_msg("%s", err->data);
    assert_int_equal(mastercf_count(m), 2);
    e = mastercf_find(m, "submission", "inet");
    assert_non_null(e);
    assert_string_equal(mastercf_override_value(e, "smtpd_tls_security_level"),
                        "encrypt");
    e = mastercf_find(m, "submissions", "inet");
    assert_non_null(e);
    assert_string_equal(mastercf_override_value(e, "smtpd_tls_wrappermode"), "yes");
    mastercf_free(m);
    strbuf_free(text);
    strbuf_free(err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stock),
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_continuation),
        cmocka_unit_test(test_overrides),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_load),
        cmocka_unit_test(test_conf_master_cf),
        cmocka_unit_test(test_conf_submission_examples),
    };

    testlib_setup();
    return cmocka_run_group_tests_name("mastercf", tests, NULL, NULL);
}
