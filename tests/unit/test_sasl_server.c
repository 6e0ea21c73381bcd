/*
 * Unit tests for lib/net/sasl_server.c: base64 both ways (strict
 * decoding, bounds), the AUTH argument splitter, security option words,
 * and real exchanges through Cyrus SASL against a sasldb made with
 * saslpasswd2 in a temporary directory (skipped when sasl2-bin is not
 * installed): PLAIN and LOGIN good and bad, option filtering, misuse.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "mem.h"
#include "sasl_server.h"
#include "strbuf.h"
#include "strutil.h"
#include "testlib.h"

#define T_REALM "test.invalid"

static char t_dir[256];
static int t_have_sasldb;

/* Base64 decoding, table driven. */
static void test_decode64(void **state)
{
    static const struct {
        const char *in;
        int     rc;
        const char *out;
        size_t  out_len;
    } cases[] = {
        {"", 0, "", 0},
        {"YQ==", 0, "a", 1},
        {"YWI=", 0, "ab", 2},
        {"YWJj", 0, "abc", 3},
        {"AGFsaWNlAHNlY3JldA==", 0, "\0alice\0secret", 13},
        {"YQ=", -1, NULL, 0},              /* not a multiple of 4 */
        {"Y===", -1, NULL, 0},             /* too much padding */
        {"YQ==YQ==", -1, NULL, 0},         /* padding in the middle */
        {"Y Q==", -1, NULL, 0},            /* white space */
        {"YR==", -1, NULL, 0},             /* non-zero padding bits */
        {"YWJ=", -1, NULL, 0},
        {"YW\x80=", -1, NULL, 0},
        {"=AAA", -1, NULL, 0},
        {"*", -1, NULL, 0},
    };
    strbuf *out = strbuf_new(16);
    size_t  i;

    (void) state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int     rc = sasl_server_decode64(cases[i].in, strlen(cases[i].in), out, 100);

        assert_int_equal(rc, cases[i].rc);
        if (rc == 0) {
            assert_int_equal(out->len, cases[i].out_len);
            assert_memory_equal(out->data, cases[i].out, cases[i].out_len);
        }
    }
    /* The bound: 6 bytes fit in max 6, not in max 5. */
    assert_int_equal(sasl_server_decode64("YWJjZGVm", 8, out, 6), 0);
    assert_int_equal(sasl_server_decode64("YWJjZGVm", 8, out, 5), -1);
    assert_int_equal(sasl_server_decode64("YWJjZA==", 8, out, 4), 0);
    assert_int_equal(sasl_server_decode64("YWJjZA==", 8, out, 3), -1);
    strbuf_free(out);
}

/* Encoding round-trips every length and byte value. */
static void test_encode64(void **state)
{
    unsigned char in[300];
    strbuf *enc = strbuf_new(16);
    strbuf *dec = strbuf_new(16);
    size_t  n, i;

    (void) state;
    for (i = 0; i < sizeof(in); i++)
        in[i] = (unsigned char) (i * 7 + 3);
    for (n = 0; n < sizeof(in); n++) {
        sasl_server_encode64(in, n, enc);
        assert_int_equal(enc->len, (n + 2) / 3 * 4);
        assert_int_equal(sasl_server_decode64(enc->data, enc->len, dec, n), 0);
        assert_int_equal(dec->len, n);
        assert_memory_equal(dec->data, in, n);
    }
    sasl_server_encode64("alice", 5, enc);
    assert_string_equal(strbuf_str(enc), "YWxpY2U=");
    strbuf_free(enc);
    strbuf_free(dec);
}

/* The AUTH argument: "MECH [initial-response]". */
static void test_auth_args(void **state)
{
    static const struct {
        const char *args;
        int     rc;
        const char *mech;
        const char *resp;               /* NULL: none */
    } cases[] = {
        {"PLAIN", 0, "PLAIN", NULL},
        {"plain AGEAYg==", 0, "PLAIN", "AGEAYg=="},
        {"CRAM-MD5", 0, "CRAM-MD5", NULL},
        {"PLAIN =", 0, "PLAIN", "="},
        {"SCRAM-SHA-256", 0, "SCRAM-SHA-256", NULL},
        {"", -1, NULL, NULL},
        {" PLAIN", -1, NULL, NULL},
        {"PLAIN ", -1, NULL, NULL},
        {"PLAIN  AGE=", -1, NULL, NULL},
        {"PLAIN AG E=", -1, NULL, NULL},
        {"PL@IN", -1, NULL, NULL},
        {"ABCDEFGHIJKLMNOPQRSTU", -1, NULL, NULL},  /* 21 characters */
        {"ABCDEFGHIJKLMNOPQRST", 0, "ABCDEFGHIJKLMNOPQRST", NULL},
        {"PLAIN \x01", -1, NULL, NULL},
    };
    strbuf *mech = strbuf_new(16);
    const char *resp;
    size_t  len, i;

    (void) state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int     rc = sasl_server_auth_args(cases[i].args, strlen(cases[i].args),
                                           mech, &resp, &len);

        assert_int_equal(rc, cases[i].rc);
        if (rc < 0)
            continue;
        assert_string_equal(strbuf_str(mech), cases[i].mech);
        if (cases[i].resp == NULL) {
            assert_null(resp);
        } else {
            assert_int_equal(len, strlen(cases[i].resp));
            assert_memory_equal(resp, cases[i].resp, len);
        }
    }
    strbuf_free(mech);
}

/* Security option words. */
static void test_options(void **state)
{
    strbuf *err = strbuf_new(16);
    int     flags;

    (void) state;
    assert_int_equal(sasl_server_options("noanonymous", &flags, err), 0);
    assert_int_equal(flags, SASL_SERVER_NOANONYMOUS);
    assert_int_equal(sasl_server_options("noanonymous, noplaintext nodictionary",
                                         &flags, err), 0);
    assert_int_equal(flags, SASL_SERVER_NOANONYMOUS | SASL_SERVER_NOPLAINTEXT
                     | SASL_SERVER_NODICTIONARY);
    assert_int_equal(sasl_server_options("", &flags, err), 0);
    assert_int_equal(flags, 0);
    assert_int_equal(sasl_server_options("noanonymous, bogus", &flags, err), -1);
    assert_non_null(strstr(strbuf_str(err), "\"bogus\""));
    strbuf_free(err);
}

/* t_server: a server for one test with the given option flags. */
static sasl_server *t_server(int flags, int tls_bits)
{
    sasl_server_opts o;
    strbuf *err = strbuf_new(16);
    sasl_server *s;

    memset(&o, 0, sizeof(o));
    o.service = "smtp";
    o.server_name = "mx.test.invalid";
    o.realm = T_REALM;
    o.remote_addr = "127.0.0.1;12345";
    o.sec_flags = flags;
    o.tls_bits = tls_bits;
    s = sasl_server_create(&o, err);
    if (s == NULL)
        fail_msg("sasl_server_create: %s", strbuf_str(err));
    strbuf_free(err);
    return s;
}

/* t_b64: base64 of a byte string. */
static const char *t_b64(strbuf *out, const char *bytes, size_t len)
{
    sasl_server_encode64(bytes, len, out);
    return strbuf_str(out);
}

/* PLAIN against the sasldb. */
static void test_plain(void **state)
{
    sasl_server *s;
    strbuf *reply = strbuf_new(16);
    strbuf *b = strbuf_new(16);

    (void) state;
    if (!t_have_sasldb)
        skip();
    s = t_server(SASL_SERVER_NOANONYMOUS, 0);
    assert_non_null(strstr(sasl_server_mechs(s), "PLAIN"));
    assert_null(sasl_server_username(s));
    t_b64(b, "\0alice\0wrong", 12);
    assert_int_equal(sasl_server_begin(s, "PLAIN", b->data, b->len, reply),
                     SASL_SERVER_FAIL);
    assert_true(reply->len > 0);
    assert_null(sasl_server_username(s));
    assert_int_equal(sasl_server_begin(s, "PLAIN", "!!!!", 4, reply), SASL_SERVER_BADARG);
    /* No initial response: an empty challenge, then the response. */
    assert_int_equal(sasl_server_begin(s, "PLAIN", NULL, 0, reply), SASL_SERVER_CONTINUE);
    assert_int_equal(reply->len, 0);
    t_b64(b, "\0alice\0alice-pw", 15);
    assert_int_equal(sasl_server_next(s, b->data, b->len, reply), SASL_SERVER_DONE);
    assert_non_null(sasl_server_username(s));
    assert_true(str_has_prefix(sasl_server_username(s), "alice"));
    assert_string_equal(sasl_server_method(s), "PLAIN");
    /* A mechanism that is not offered. */
    assert_int_equal(sasl_server_begin(s, "NOPE", NULL, 0, reply), SASL_SERVER_FAIL);
    sasl_server_free(s);
    strbuf_free(reply);
    strbuf_free(b);
}

/* LOGIN: two challenges; "=" as an empty initial response. */
static void test_login(void **state)
{
    sasl_server *s;
    strbuf *reply = strbuf_new(16);
    strbuf *b = strbuf_new(16);
    strbuf *dec = strbuf_new(16);

    (void) state;
    if (!t_have_sasldb)
        skip();
    s = t_server(SASL_SERVER_NOANONYMOUS, 0);
    assert_int_equal(sasl_server_begin(s, "LOGIN", NULL, 0, reply), SASL_SERVER_CONTINUE);
    assert_int_equal(sasl_server_decode64(reply->data, reply->len, dec, 100), 0);
    assert_true(dec->len > 0);                  /* "Username:" */
    t_b64(b, "bob", 3);
    assert_int_equal(sasl_server_next(s, b->data, b->len, reply), SASL_SERVER_CONTINUE);
    t_b64(b, "bob-pw", 6);
    assert_int_equal(sasl_server_next(s, b->data, b->len, reply), SASL_SERVER_DONE);
    assert_true(str_has_prefix(sasl_server_username(s), "bob"));
    sasl_server_free(s);
    s = t_server(SASL_SERVER_NOANONYMOUS, 0);
    t_b64(b, "bob", 3);
    assert_int_equal(sasl_server_begin(s, "LOGIN", b->data, b->len, reply),
                     SASL_SERVER_CONTINUE);
    t_b64(b, "nope", 4);
    assert_int_equal(sasl_server_next(s, b->data, b->len, reply), SASL_SERVER_FAIL);
    assert_null(sasl_server_username(s));
    sasl_server_free(s);
    strbuf_free(reply);
    strbuf_free(b);
    strbuf_free(dec);
}

/* noplaintext hides PLAIN and LOGIN; enough TLS bits do not bring them
 * back (the flag is about the mechanism), the tls options decide. */
static void test_filtering(void **state)
{
    sasl_server *s;
    strbuf *reply = strbuf_new(16);

    (void) state;
    if (!t_have_sasldb)
        skip();
    s = t_server(SASL_SERVER_NOANONYMOUS | SASL_SERVER_NOPLAINTEXT, 0);
    assert_null(strstr(sasl_server_mechs(s), "PLAIN"));
    assert_null(strstr(sasl_server_mechs(s), "LOGIN"));
    assert_int_equal(sasl_server_begin(s, "PLAIN", NULL, 0, reply), SASL_SERVER_FAIL);
    sasl_server_free(s);
    s = t_server(SASL_SERVER_NOANONYMOUS, 256);
    assert_non_null(strstr(sasl_server_mechs(s), "PLAIN"));
    sasl_server_free(s);
    TESTLIB_EXPECT_EXIT(MSG_PANIC, sasl_server_next(s = t_server(0, 0), "", 0, reply));
    sasl_server_free(s);
    strbuf_free(reply);
}

/* t_adduser: add user with password to the test sasldb; 0 on success. */
static int t_adduser(const char *user, const char *password)
{
    strbuf *cmd = strbuf_new(256);
    int     rc;

    strbuf_printf(cmd, "echo %s | /usr/sbin/saslpasswd2 -p -c -f %s/sasldb2 -u %s %s",
                  password, t_dir, T_REALM, user);
    rc = system(strbuf_str(cmd));
    strbuf_free(cmd);
    return rc;
}

/* group_setup: a sasldb with alice and bob, and Cyrus pointed at it. */
static int group_setup(void **state)
{
    strbuf *err = strbuf_new(64);
    strbuf *conf = strbuf_new(256);
    FILE   *fp;

    (void) state;
    if (str_copy(t_dir, sizeof(t_dir), "/tmp/test_sasl.XXXXXX") < 0
        || mkdtemp(t_dir) == NULL)
        return -1;
    if (access("/usr/sbin/saslpasswd2", X_OK) == 0
        && t_adduser("alice", "alice-pw") == 0 && t_adduser("bob", "bob-pw") == 0) {
        strbuf_printf(conf, "%s/postern-test.conf", t_dir);
        if ((fp = fopen(strbuf_str(conf), "w")) == NULL)
            return -1;
        fprintf(fp, "pwcheck_method: auxprop\nauxprop_plugin: sasldb\n"
                "mech_list: PLAIN LOGIN\nsasldb_path: %s/sasldb2\n", t_dir);
        fclose(fp);
        if (sasl_server_setup("postern-test", t_dir, err) == 0)
            t_have_sasldb = 1;
    }
    strbuf_free(err);
    strbuf_free(conf);
    return 0;
}

/* group_teardown: remove the directory. */
static int group_teardown(void **state)
{
    strbuf *cmd = strbuf_new(256);

    (void) state;
    strbuf_printf(cmd, "rm -rf %s", t_dir);
    (void) system(strbuf_str(cmd));
    strbuf_free(cmd);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decode64),
        cmocka_unit_test(test_encode64),
        cmocka_unit_test(test_auth_args),
        cmocka_unit_test(test_options),
        cmocka_unit_test(test_plain),
        cmocka_unit_test(test_login),
        cmocka_unit_test(test_filtering),
    };

    testlib_setup();
    return cmocka_run_group_tests_name("sasl_server", tests, group_setup,
                                       group_teardown);
}
