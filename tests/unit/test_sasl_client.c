/*
 * Unit tests for lib/net/sasl_client.c: security option words, the
 * "user:password" split, the mechanism filter (table driven), and real
 * client exchanges through the Cyrus client plugins: PLAIN's initial
 * response, LOGIN's two challenges, noplaintext refusing both, malformed
 * and oversized challenges, the round limit and misuse.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "mem.h"
#include "sasl_client.h"
#include "sasl_server.h"
#include "strbuf.h"
#include "strutil.h"
#include "testlib.h"

/* Security option words. */
static void test_options(void **state)
{
    static const struct {
        const char *words;
        int     rc;
        int     flags;
    } cases[] = {
        {"", 0, 0},
        {"noplaintext, noanonymous", 0, SASL_CLIENT_NOPLAINTEXT | SASL_CLIENT_NOANONYMOUS},
        {"NOANONYMOUS", 0, SASL_CLIENT_NOANONYMOUS},
        {"noactive nodictionary mutual_auth", 0,
         SASL_CLIENT_NOACTIVE | SASL_CLIENT_NODICTIONARY | SASL_CLIENT_MUTUAL_AUTH},
        {"noplaintext, bogus", -1, 0},
    };
    strbuf *err = strbuf_new(32);
    size_t  i;
    int     flags;

    (void) state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int     rc = sasl_client_options(cases[i].words, &flags, err);

        assert_int_equal(rc, cases[i].rc);
        if (rc == 0)
            assert_int_equal(flags, cases[i].flags);
        else
            assert_non_null(strstr(err->data, "bogus"));
    }
    strbuf_free(err);
}

/* "user:password" values. */
static void test_credentials(void **state)
{
    static const struct {
        const char *value;
        int     rc;
        const char *user;
        const char *pass;
    } cases[] = {
        {"alice:secret", 0, "alice", "secret"},
        {"alice:pa:ss:word", 0, "alice", "pa:ss:word"},
        {"alice:", 0, "alice", ""},
        {"alice@example.com:x", 0, "alice@example.com", "x"},
        {":secret", -1, NULL, NULL},
        {"nocolon", -1, NULL, NULL},
        {"", -1, NULL, NULL},
    };
    strbuf *user = strbuf_new(16);
    strbuf *pass = strbuf_new(16);
    size_t  i;

    (void) state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        strbuf_set(user, "unchanged", 9);
        assert_int_equal(sasl_client_credentials(cases[i].value, user, pass), cases[i].rc);
        if (cases[i].rc == 0) {
            assert_string_equal(user->data, cases[i].user);
            assert_string_equal(pass->data, cases[i].pass);
        } else
            assert_string_equal(user->data, "unchanged");
    }
    strbuf_free(user);
    strbuf_free(pass);
}

/* smtp_sasl_mechanism_filter. */
static void test_filter(void **state)
{
    static const struct {
        const char *offered;
        const char *filter;
        int     count;
        const char *out;
    } cases[] = {
        {"PLAIN LOGIN CRAM-MD5", "", 3, "PLAIN LOGIN CRAM-MD5"},
        {"PLAIN LOGIN CRAM-MD5", NULL, 3, "PLAIN LOGIN CRAM-MD5"},
        {"PLAIN LOGIN CRAM-MD5", "login", 1, "LOGIN"},
        {"PLAIN LOGIN CRAM-MD5", "cram-md5, plain", 2, "PLAIN CRAM-MD5"},
        {"plain login", "LOGIN", 1, "LOGIN"},
        {"PLAIN  LOGIN", "gssapi", 0, ""},
        {"", "plain", 0, ""},
        /* Junk from the server is dropped, not passed to Cyrus. */
        {"PLAIN A$B THIS-NAME-IS-FAR-TOO-LONG-FOR-SASL LOGIN", "", 2, "PLAIN LOGIN"},
    };
    strbuf *out = strbuf_new(16);
    size_t  i;

    (void) state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        assert_int_equal(sasl_client_filter(cases[i].offered, cases[i].filter, out),
                         cases[i].count);
        assert_string_equal(out->data, cases[i].out);
    }
    strbuf_free(out);
}

/* t_client: a client for alice with the given flags. */
static sasl_client *t_client(int flags, int tls_bits)
{
    sasl_client_opts o;
    strbuf *err = strbuf_new(32);
    sasl_client *c;

    memset(&o, 0, sizeof(o));
    o.service = "smtp";
    o.server_name = "mx.test.invalid";
    o.user = "alice";
    o.password = "se:cret";
    o.sec_flags = flags;
    o.tls_bits = tls_bits;
    c = sasl_client_create(&o, err);
    if (c == NULL)
        fail_msg("sasl_client_create: %s", err->data);
    strbuf_free(err);
    return c;
}

/* PLAIN: the initial response carries both names and the password. */
static void test_plain(void **state)
{
    sasl_client *c = t_client(SASL_CLIENT_NOANONYMOUS, 0);
    strbuf *out = strbuf_new(32);
    strbuf *err = strbuf_new(32);
    strbuf *dec = strbuf_new(32);
    const char *sp;

    (void) state;
    assert_int_equal(sasl_client_begin(c, "PLAIN", out, err), SASL_CLIENT_OK);
    assert_string_equal(sasl_client_mech(c), "PLAIN");
    assert_true(str_has_prefix(out->data, "PLAIN "));
    sp = strchr(out->data, ' ');
    assert_int_equal(sasl_server_decode64(sp + 1, strlen(sp + 1), dec, 100), 0);
    /* authzid is empty or alice; then alice, then the password. */
    assert_true(dec->len >= 14);
    assert_memory_equal(dec->data + dec->len - 14, "\0alice\0se:cret", 14);
    sasl_client_free(c);
    strbuf_free(out);
    strbuf_free(err);
    strbuf_free(dec);
}

/* LOGIN: user name and password as answers to two challenges. */
static void test_login(void **state)
{
    sasl_client *c = t_client(0, 0);
    strbuf *out = strbuf_new(32);
    strbuf *err = strbuf_new(32);
    strbuf *dec = strbuf_new(32);

    (void) state;
    assert_int_equal(sasl_client_begin(c, "LOGIN", out, err), SASL_CLIENT_OK);
    assert_string_equal(sasl_client_mech(c), "LOGIN");
    if (strcmp(out->data, "LOGIN") == 0) {
        assert_int_equal(sasl_client_next(c, "VXNlcm5hbWU6", 12, out, err), SASL_CLIENT_OK);
        assert_int_equal(sasl_server_decode64(out->data, out->len, dec, 100), 0);
        assert_string_equal(dec->data, "alice");
    } else {
        /* Some plugin versions send the user name at once. */
        assert_string_equal(out->data, "LOGIN YWxpY2U=");
    }
    assert_int_equal(sasl_client_next(c, "UGFzc3dvcmQ6", 12, out, err), SASL_CLIENT_OK);
    assert_int_equal(sasl_server_decode64(out->data, out->len, dec, 100), 0);
    assert_string_equal(dec->data, "se:cret");
    sasl_client_free(c);
    strbuf_free(out);
    strbuf_free(err);
    strbuf_free(dec);
}

/* noplaintext: PLAIN and LOGIN are refused on a plain connection. With
 * external (TLS) bits Cyrus relaxes the option, which is why the smtp
 * client passes none and uses smtp_sasl_tls_security_options instead. */
static void test_noplaintext(void **state)
{
    strbuf *out = strbuf_new(32);
    strbuf *err = strbuf_new(32);
    sasl_client *c;

    (void) state;
    c = t_client(SASL_CLIENT_NOPLAINTEXT | SASL_CLIENT_NOANONYMOUS, 0);
    assert_int_equal(sasl_client_begin(c, "PLAIN LOGIN", out, err), SASL_CLIENT_NOMECH);
    assert_non_null(strstr(err->data, "no mechanism"));
    assert_string_equal(sasl_client_mech(c), "");
    sasl_client_free(c);

    c = t_client(SASL_CLIENT_NOPLAINTEXT | SASL_CLIENT_NOANONYMOUS, 256);
    assert_int_equal(sasl_client_begin(c, "PLAIN LOGIN", out, err), SASL_CLIENT_OK);
    sasl_client_free(c);

    /* An empty list after filtering. */
    c = t_client(0, 0);
    assert_int_equal(sasl_client_begin(c, "", out, err), SASL_CLIENT_NOMECH);
    sasl_client_free(c);
    strbuf_free(out);
    strbuf_free(err);
}

/* Malformed, oversized and endless challenges fail cleanly. */
static void test_bad_challenges(void **state)
{
    strbuf *out = strbuf_new(32);
    strbuf *err = strbuf_new(32);
    strbuf *big = strbuf_new(32);
    sasl_client *c;
    int     i, rc = SASL_CLIENT_OK;

    (void) state;
    c = t_client(0, 0);
    assert_int_equal(sasl_client_begin(c, "LOGIN", out, err), SASL_CLIENT_OK);
    assert_int_equal(sasl_client_next(c, "not base64!", 11, out, err), SASL_CLIENT_FAIL);
    assert_non_null(strstr(err->data, "malformed"));
    sasl_client_free(c);

    c = t_client(0, 0);
    assert_int_equal(sasl_client_begin(c, "LOGIN", out, err), SASL_CLIENT_OK);
    for (i = 0; i < SASL_CLIENT_DATA_MAX / 3 + 8; i++)
        strbuf_puts(big, "QUFB");
    assert_int_equal(sasl_client_next(c, big->data, big->len, out, err), SASL_CLIENT_FAIL);
    sasl_client_free(c);

    /* A server that never stops challenging: bounded. */
    c = t_client(0, 0);
    assert_int_equal(sasl_client_begin(c, "LOGIN", out, err), SASL_CLIENT_OK);
    for (i = 0; i < SASL_CLIENT_ROUNDS_MAX + 2 && rc == SASL_CLIENT_OK; i++)
        rc = sasl_client_next(c, "UGFzc3dvcmQ6", 12, out, err);
    assert_int_equal(rc, SASL_CLIENT_FAIL);
    assert_true(i <= SASL_CLIENT_ROUNDS_MAX + 1);
    sasl_client_free(c);
    strbuf_free(out);
    strbuf_free(err);
    strbuf_free(big);
}

/* setup: load the client plugins once. */
static int t_setup(void **state)
{
    strbuf *err = strbuf_new(32);

    (void) state;
    testlib_setup();
    if (sasl_client_setup(err) < 0)
        fail_msg("sasl_client_setup: %s", err->data);
    assert_int_equal(sasl_client_setup(err), 0);       /* a no-op */
    strbuf_free(err);
    return 0;
}

int     main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_options),
        cmocka_unit_test(test_credentials),
        cmocka_unit_test(test_filter),
        cmocka_unit_test(test_plain),
        cmocka_unit_test(test_login),
        cmocka_unit_test(test_noplaintext),
        cmocka_unit_test(test_bad_challenges),
    };

    return cmocka_run_group_tests(tests, t_setup, NULL);
}
