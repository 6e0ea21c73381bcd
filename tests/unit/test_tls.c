/*
 * Unit tests for lib/net/tls.c: protocol lists, levels and grades;
 * handshakes over socketpairs with a forked server; the protocol floor;
 * certificate verification and name checks; resumption with a session
 * ticket sealed by a shared key (two server contexts, as two smtpd
 * processes would have); the ticket key file; configuration errors.
 * Certificates are made at test time with the openssl command.
 */
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
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <utime.h>
#include <cmocka.h>

#include "mem.h"
#include "strbuf.h"
#include "stream.h"
#include "strutil.h"
#include "testlib.h"
#include "tls.h"

#define TLS1_2 0x0303
#define TLS1_3 0x0304
#define TLS1_0 0x0301
#define TLS1_1 0x0302

static char t_dir[256];
static char t_cert[300], t_key[300], t_other_cert[300], t_other_key[300];

/* t_path: a file name in the test directory. */
static void t_path(char *out, size_t len, const char *name)
{
    assert_int_equal(str_format(out, len, "%s/%s", t_dir, name), 0);
}

/* t_make_cert: a self-signed RSA certificate for cn. */
static int t_make_cert(const char *cn, const char *cert, const char *key)
{
    strbuf *cmd = strbuf_new(512);
    int     rc;

    strbuf_printf(cmd, "openssl req -x509 -newkey rsa:2048 -nodes -days 2 "
                  "-subj /CN=%s -addext subjectAltName=DNS:%s -keyout %s -out %s "
                  ">/dev/null 2>&1", cn, cn, key, cert);
    rc = system(strbuf_str(cmd));
    strbuf_free(cmd);
    return rc;
}

/* group_setup: certificates in a temporary directory. */
static int group_setup(void **state)
{
    (void) state;
    if (str_copy(t_dir, sizeof(t_dir), "/tmp/test_tls.XXXXXX") < 0
        || mkdtemp(t_dir) == NULL)
        return -1;
    t_path(t_cert, sizeof(t_cert), "server.pem");
    t_path(t_key, sizeof(t_key), "server.key");
    t_path(t_other_cert, sizeof(t_other_cert), "other.pem");
    t_path(t_other_key, sizeof(t_other_key), "other.key");
    if (t_make_cert("mx.test.invalid", t_cert, t_key) != 0
        || t_make_cert("other.test.invalid", t_other_cert, t_other_key) != 0)
        return -1;
    return 0;
}

/* group_teardown: remove the directory. */
static int group_teardown(void **state)
{
    strbuf *cmd = strbuf_new(300);

    (void) state;
    strbuf_printf(cmd, "rm -rf %s", t_dir);
    (void) system(strbuf_str(cmd));
    strbuf_free(cmd);
    return 0;
}

/* t_server_opts: defaults for a server context. */
static void t_server_opts(tls_server_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->cert_file = t_cert;
    o->key_file = t_key;
    o->chain_files = "";
    o->ca_file = "";
    o->ca_path = "";
    o->protocols = ">=TLSv1.2";
    o->cipherlist = "ALL:!EXPORT:!LOW:@STRENGTH";
    o->session_timeout = 3600;
}

/* t_client_opts: defaults for a client context. */
static void t_client_opts(tls_client_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->ca_file = "";
    o->ca_path = "";
    o->protocols = ">=TLSv1.2";
    o->cipherlist = "";
}

/*
 * t_serve: fork a server on fd: handshake, answer one line with "pong",
 * exit 0 (10 when resumed), 1 when the handshake failed. Returns the pid.
 */
static pid_t t_serve(tls_ctx *ctx, int fd, int timeout_ms)
{
    pid_t   pid = fork();

    assert_true(pid >= 0);
    if (pid == 0) {
        strbuf *err = strbuf_new(64);
        strbuf *line = strbuf_new(64);
        tls_sess *sess = tls_server_start(ctx, fd, timeout_ms, "test[127.0.0.1]", err);
        stream *s;
        int     reused;

        if (sess == NULL)
            _exit(1);
        reused = tls_sess_reused(sess);
        s = stream_fdopen(fd, STREAM_F_RDWR | STREAM_F_NOCLOSE);
        stream_set_timeout(s, 5000);
        tls_sess_attach(sess, s);
        if (stream_get_line(s, line, 100) != STREAM_OK
            || strcmp(strbuf_str(line), "ping\n") != 0)
            _exit(2);
        (void) stream_puts(s, "pong\n");
        (void) stream_flush(s);
        sess = tls_sess_free(sess, s);
        stream_close(s);
        _exit(reused ? 10 : 0);
    }
    return pid;
}

/* t_wait: the server's exit code. */
static int t_wait(pid_t pid)
{
    int     status;

    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    return WEXITSTATUS(status);
}

/* t_client: one client connection against a forked server. Returns the
 * server's exit code; *ok says whether the client side worked; the
 * session (when out is not NULL) is exported after the exchange. */
static int t_client(tls_ctx *sctx, tls_ctx *cctx, const tls_client_start_opts *o,
                    strbuf *err, int *ok, strbuf *out, tls_sess **keep)
{
    int     sv[2];
    pid_t   pid;
    tls_sess *sess;
    stream *s;
    strbuf *line = strbuf_new(64);

    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    pid = t_serve(sctx, sv[1], 5000);
    close(sv[1]);
    *ok = 0;
    sess = tls_client_start(cctx, sv[0], 5000, o, err);
    if (sess != NULL) {
        s = stream_fdopen(sv[0], STREAM_F_RDWR | STREAM_F_NOCLOSE);
        stream_set_timeout(s, 5000);
        tls_sess_attach(sess, s);
        (void) stream_puts(s, "ping\n");
        if (stream_get_line(s, line, 100) == STREAM_OK
            && strcmp(strbuf_str(line), "pong\n") == 0)
            *ok = 1;
        if (out != NULL)
            (void) tls_sess_export(sess, out);
        stream_set_io(s, NULL, NULL, NULL);
        stream_close(s);
        if (keep != NULL)
            *keep = sess;
        else
            sess = tls_sess_free(sess, NULL);
    }
    close(sv[0]);
    strbuf_free(line);
    return t_wait(pid);
}

/* Protocol lists, table driven. */
static void test_protocols(void **state)
{
    static const struct {
        const char *spec;
        int     rc, lo, hi;
    } cases[] = {
        {">=TLSv1.2", 0, TLS1_2, TLS1_3},
        {"!SSLv2, !SSLv3, !TLSv1, !TLSv1.1", 0, TLS1_2, TLS1_3},
        {"!SSLv2:!SSLv3", 0, TLS1_0, TLS1_3},
        {"TLSv1.2", 0, TLS1_2, TLS1_2},
        {"TLSv1.2 TLSv1.3", 0, TLS1_2, TLS1_3},
        {"<=TLSv1.2", 0, TLS1_0, TLS1_2},
        {">=TLSv1.1 <=TLSv1.2", 0, TLS1_1, TLS1_2},
        {"!TLSv1.3", 0, TLS1_0, TLS1_2},
        {"tlsv1.3", 0, TLS1_3, TLS1_3},
        {"TLSv1 TLSv1.3", 0, TLS1_0, TLS1_0},  /* a hole ends the range */
        {"", 0, TLS1_0, TLS1_3},
        {"TLSv9", -1, 0, 0},
        {">=bogus", -1, 0, 0},
        {"!TLSv1 !TLSv1.1 !TLSv1.2 !TLSv1.3", -1, 0, 0},
        {"SSLv3", -1, 0, 0},
        {">=TLSv1.3 <=TLSv1.2", -1, 0, 0},
    };
    strbuf *err = strbuf_new(64);
    size_t  i;
    int     lo, hi;

    (void) state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        lo = hi = 0;
        strbuf_reset(err);
        assert_int_equal(tls_protocols_parse(cases[i].spec, &lo, &hi, err), cases[i].rc);
        if (cases[i].rc == 0) {
            assert_int_equal(lo, cases[i].lo);
            assert_int_equal(hi, cases[i].hi);
        } else {
            assert_true(err->len > 0);
        }
    }
    assert_int_equal(tls_protocols_parse("TLSv9", &lo, &hi, err), -1);
    assert_non_null(strstr(strbuf_str(err), "unknown TLS protocol \"TLSv9\""));
    strbuf_free(err);
}

/* Levels and cipher grades. */
static void test_levels_and_grades(void **state)
{
    static const char *names[] = {"none", "may", "encrypt", "verify", "secure"};
    enum tls_level lev;
    strbuf *err = strbuf_new(64);
    size_t  i;

    (void) state;
    for (i = 0; i < 5; i++) {
        assert_int_equal(tls_level_parse(names[i], &lev), 0);
        assert_int_equal(lev, (enum tls_level) i);
        assert_string_equal(tls_level_name(lev), names[i]);
    }
    assert_int_equal(tls_level_parse("", &lev), 0);
    assert_int_equal(lev, TLS_LEVEL_NONE);
    assert_int_equal(tls_level_parse("ENCRYPT", &lev), 0);
    assert_int_equal(lev, TLS_LEVEL_ENCRYPT);
    assert_int_equal(tls_level_parse("dane", &lev), -1);
    assert_string_equal(tls_cipher_grade("high", "H", "M", err), "H");
    assert_string_equal(tls_cipher_grade("Medium", "H", "M", err), "M");
    assert_null(tls_cipher_grade("export", "H", "M", err));
    assert_non_null(strstr(strbuf_str(err), "export"));
    strbuf_free(err);
}

/* A handshake both ways, a line each way, the summary and peer info. */
static void test_handshake(void **state)
{
    tls_server_opts so;
    tls_client_opts co;
    tls_client_start_opts cs;
    tls_ctx *sctx, *cctx;
    tls_sess *sess = NULL;
    strbuf *err = strbuf_new(64);
    int     ok;

    (void) state;
    t_server_opts(&so);
    t_client_opts(&co);
    sctx = tls_server_ctx_create(&so, err);
    assert_non_null(sctx);
    cctx = tls_client_ctx_create(&co, err);
    assert_non_null(cctx);
    memset(&cs, 0, sizeof(cs));
    cs.level = TLS_LEVEL_ENCRYPT;
    cs.servername = "mx.test.invalid";
    assert_int_equal(t_client(sctx, cctx, &cs, err, &ok, NULL, &sess), 0);
    assert_int_equal(ok, 1);
    assert_non_null(sess);
    assert_string_equal(tls_sess_protocol(sess), "TLSv1.3");
    assert_true(str_has_prefix(tls_sess_summary(sess), "TLSv1.3 with cipher "));
    assert_non_null(strstr(tls_sess_summary(sess), tls_sess_cipher(sess)));
    assert_true(tls_sess_cipher_bits(sess) >= 128);
    assert_true(tls_sess_peer_cert(sess));
    assert_false(tls_sess_peer_trusted(sess));      /* no CA configured */
    assert_false(tls_sess_peer_matched(sess));
    assert_string_equal(tls_sess_peer_cn(sess), "mx.test.invalid");
    assert_string_equal(tls_sess_issuer_cn(sess), "mx.test.invalid");
    assert_int_equal(strlen(tls_sess_peer_fingerprint(sess)), 32 * 3 - 1);
    assert_false(tls_sess_reused(sess));
    sess = tls_sess_free(sess, NULL);
    assert_null(sess);
    tls_ctx_free(sctx);
    tls_ctx_free(cctx);
    strbuf_free(err);
}

/* The server's protocol floor refuses an older client. */
static void test_protocol_floor(void **state)
{
    tls_server_opts so;
    tls_client_opts co;
    tls_client_start_opts cs;
    tls_ctx *sctx, *cctx;
    strbuf *err = strbuf_new(64);
    int     ok;

    (void) state;
    t_server_opts(&so);
    so.protocols = ">=TLSv1.3";
    t_client_opts(&co);
    co.protocols = "<=TLSv1.2";
    sctx = tls_server_ctx_create(&so, err);
    cctx = tls_client_ctx_create(&co, err);
    assert_non_null(sctx);
    assert_non_null(cctx);
    memset(&cs, 0, sizeof(cs));
    cs.level = TLS_LEVEL_ENCRYPT;
    assert_int_equal(t_client(sctx, cctx, &cs, err, &ok, NULL, NULL), 1);
    assert_int_equal(ok, 0);
    assert_true(str_has_prefix(strbuf_str(err), "TLS handshake failed: "));
    tls_ctx_free(cctx);
    /* The same client within the server's range is fine: TLS 1.2. */
    co.protocols = "TLSv1.2";
    so.protocols = "!TLSv1.3";
    tls_ctx_free(sctx);
    sctx = tls_server_ctx_create(&so, err);
    cctx = tls_client_ctx_create(&co, err);
    assert_int_equal(t_client(sctx, cctx, &cs, err, &ok, NULL, NULL), 0);
    assert_int_equal(ok, 1);
    tls_ctx_free(sctx);
    tls_ctx_free(cctx);
    strbuf_free(err);
}

/* verify: trusted CA and a matching name pass; a wrong name or an
 * unknown CA fail the handshake. */
static void test_verification(void **state)
{
    tls_server_opts so;
    tls_client_opts co;
    tls_client_start_opts cs;
    tls_ctx *sctx, *cctx, *cctx_other;
    tls_sess *sess = NULL;
    strbuf *err = strbuf_new(64);
    const char *good[] = {"nexthop.invalid", "mx.test.invalid", NULL};
    const char *bad[] = {"evil.test.invalid", NULL};
    int     ok;

    (void) state;
    t_server_opts(&so);
    sctx = tls_server_ctx_create(&so, err);
    t_client_opts(&co);
    co.ca_file = t_cert;                        /* self-signed: its own CA */
    cctx = tls_client_ctx_create(&co, err);
    co.ca_file = t_other_cert;
    cctx_other = tls_client_ctx_create(&co, err);
    assert_non_null(sctx);
    assert_non_null(cctx);
    assert_non_null(cctx_other);
    memset(&cs, 0, sizeof(cs));
    cs.level = TLS_LEVEL_VERIFY;
    cs.match = good;
    cs.peer = "mx.test.invalid[127.0.0.1]:25";
    assert_int_equal(t_client(sctx, cctx, &cs, err, &ok, NULL, &sess), 0);
    assert_int_equal(ok, 1);
    assert_true(tls_sess_peer_trusted(sess));
    assert_true(tls_sess_peer_matched(sess));
    sess = tls_sess_free(sess, NULL);
    cs.level = TLS_LEVEL_SECURE;
    assert_int_equal(t_client(sctx, cctx, &cs, err, &ok, NULL, NULL), 0);
    assert_int_equal(ok, 1);
    /* Wrong name. */
    cs.level = TLS_LEVEL_VERIFY;
    cs.match = bad;
    strbuf_reset(err);
    assert_int_not_equal(t_client(sctx, cctx, &cs, err, &ok, NULL, NULL), 0);
    assert_int_equal(ok, 0);
    assert_non_null(strstr(strbuf_str(err), "certificate verification"));
    /* Unknown CA. */
    cs.match = good;
    strbuf_reset(err);
    assert_int_not_equal(t_client(sctx, cctx_other, &cs, err, &ok, NULL, NULL), 0);
    assert_int_equal(ok, 0);
    /* The same at "encrypt": no verification, the session works. */
    cs.level = TLS_LEVEL_ENCRYPT;
    assert_int_equal(t_client(sctx, cctx_other, &cs, err, &ok, NULL, &sess), 0);
    assert_int_equal(ok, 1);
    assert_false(tls_sess_peer_trusted(sess));
    sess = tls_sess_free(sess, NULL);
    tls_ctx_free(sctx);
    tls_ctx_free(cctx);
    tls_ctx_free(cctx_other);
    strbuf_free(err);
}

/* A ticket from one server context resumes with another that shares the
 * key (two smtpd processes), and not with one that has another key. */
static void test_resumption(void **state)
{
    tls_server_opts so;
    tls_client_opts co;
    tls_client_start_opts cs;
    tls_ctx *s1, *s2, *s3, *cctx;
    unsigned char key[TLS_TICKET_KEY_LEN], other[TLS_TICKET_KEY_LEN];
    strbuf *err = strbuf_new(64);
    strbuf *saved = strbuf_new(64);
    tls_sess *sess = NULL;
    int     ok;

    (void) state;
    memset(key, 7, sizeof(key));
    memset(other, 9, sizeof(other));
    t_server_opts(&so);
    so.ticket_key = key;
    s1 = tls_server_ctx_create(&so, err);
    s2 = tls_server_ctx_create(&so, err);
    so.ticket_key = other;
    s3 = tls_server_ctx_create(&so, err);
    t_client_opts(&co);
    cctx = tls_client_ctx_create(&co, err);
    assert_non_null(s1);
    assert_non_null(s2);
    assert_non_null(s3);
    memset(&cs, 0, sizeof(cs));
    cs.level = TLS_LEVEL_ENCRYPT;
    assert_int_equal(t_client(s1, cctx, &cs, err, &ok, saved, NULL), 0);
    assert_int_equal(ok, 1);
    assert_true(saved->len > 0);
    cs.resume = saved->data;
    cs.resume_len = saved->len;
    assert_int_equal(t_client(s2, cctx, &cs, err, &ok, NULL, &sess), 10);
    assert_int_equal(ok, 1);
    assert_true(tls_sess_reused(sess));
    sess = tls_sess_free(sess, NULL);
    assert_int_equal(t_client(s3, cctx, &cs, err, &ok, NULL, &sess), 0);
    assert_int_equal(ok, 1);
    assert_false(tls_sess_reused(sess));
    sess = tls_sess_free(sess, NULL);
    /* Garbage instead of a session only costs a full handshake. */
    cs.resume = "garbage";
    cs.resume_len = 7;
    assert_int_equal(t_client(s1, cctx, &cs, err, &ok, NULL, NULL), 0);
    assert_int_equal(ok, 1);
    tls_ctx_free(s1);
    tls_ctx_free(s2);
    tls_ctx_free(s3);
    tls_ctx_free(cctx);
    strbuf_free(err);
    strbuf_free(saved);
}

/* The ticket key file: made 0600, read back, refused when readable by
 * others or of the wrong size, replaced when too old. */
static void test_ticket_key_file(void **state)
{
    char    path[300];
    unsigned char k1[TLS_TICKET_KEY_LEN], k2[TLS_TICKET_KEY_LEN];
    struct stat st;
    struct utimbuf ut;
    strbuf *err = strbuf_new(64);
    int     fd;

    (void) state;
    t_path(path, sizeof(path), "ticket.key");
    assert_int_equal(tls_ticket_key_load(path, 3600, k1, err), 0);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(st.st_size, TLS_TICKET_KEY_LEN);
    assert_int_equal(tls_ticket_key_load(path, 3600, k2, err), 0);
    assert_memory_equal(k1, k2, sizeof(k1));
    /* Too old: a new key. */
    ut.actime = ut.modtime = time(NULL) - 7200;
    assert_int_equal(utime(path, &ut), 0);
    assert_int_equal(tls_ticket_key_load(path, 3600, k2, err), 0);
    assert_memory_not_equal(k1, k2, sizeof(k1));
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    /* Readable by others: refused. */
    assert_int_equal(chmod(path, 0644), 0);
    assert_int_equal(tls_ticket_key_load(path, 3600, k2, err), -1);
    assert_non_null(strstr(strbuf_str(err), "must be 0600"));
    /* Wrong size: refused. */
    assert_int_equal(unlink(path), 0);
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "short", 5), 5);
    close(fd);
    assert_int_equal(tls_ticket_key_load(path, 3600, k2, err), -1);
    assert_non_null(strstr(strbuf_str(err), "not a regular file of 80 bytes"));
    unlink(path);
    /* A directory that does not exist. */
    assert_int_equal(tls_ticket_key_load("/nonexistent-dir/x.key", 0, k2, err), -1);
    assert_non_null(strstr(strbuf_str(err), "/nonexistent-dir/x.key"));
    strbuf_free(err);
}

/* Configuration errors come back as text, never fatal. */
static void test_config_errors(void **state)
{
    tls_server_opts so;
    tls_client_opts co;
    strbuf *err = strbuf_new(64);
    char    chain[300];
    strbuf *cmd = strbuf_new(300);

    (void) state;
    t_server_opts(&so);
    so.cert_file = "";
    assert_null(tls_server_ctx_create(&so, err));
    assert_non_null(strstr(strbuf_str(err), "no server certificate"));
    t_server_opts(&so);
    so.cert_file = "/nonexistent.pem";
    assert_null(tls_server_ctx_create(&so, err));
    assert_non_null(strstr(strbuf_str(err), "cannot load certificate chain from /nonexistent.pem"));
    t_server_opts(&so);
    so.key_file = t_other_key;                  /* key of another certificate */
    assert_null(tls_server_ctx_create(&so, err));
    t_server_opts(&so);
    so.protocols = "!TLSv1.2 !TLSv1.3 !TLSv1 !TLSv1.1";
    assert_null(tls_server_ctx_create(&so, err));
    assert_non_null(strstr(strbuf_str(err), "no TLS protocol left"));
    t_server_opts(&so);
    so.cipherlist = "NO-SUCH-CIPHER";
    assert_null(tls_server_ctx_create(&so, err));
    assert_non_null(strstr(strbuf_str(err), "bad cipher list"));
    t_client_opts(&co);
    co.ca_file = "/nonexistent-ca.pem";
    assert_null(tls_client_ctx_create(&co, err));
    assert_non_null(strstr(strbuf_str(err), "CAfile"));
    /* chain_files: key and certificate in one file. */
    t_path(chain, sizeof(chain), "chain.pem");
    strbuf_printf(cmd, "cat %s %s > %s", t_key, t_cert, chain);
    assert_int_equal(system(strbuf_str(cmd)), 0);
    t_server_opts(&so);
    so.cert_file = "";
    so.chain_files = chain;
    tls_ctx_free(tls_server_ctx_create(&so, err));
    so.chain_files = ", ";
    assert_null(tls_server_ctx_create(&so, err));
    strbuf_free(cmd);
    strbuf_free(err);
}

/* A silent client makes the server handshake time out. */
static void test_handshake_timeout(void **state)
{
    tls_server_opts so;
    tls_ctx *sctx;
    strbuf *err = strbuf_new(64);
    int     sv[2];

    (void) state;
    t_server_opts(&so);
    sctx = tls_server_ctx_create(&so, err);
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    assert_null(tls_server_start(sctx, sv[0], 100, "test", err));
    assert_string_equal(strbuf_str(err), "TLS handshake failed: timeout");
    /* A client that sends garbage instead of a hello. */
    assert_int_equal(write(sv[1], "EHLO x\r\n", 8), 8);
    assert_null(tls_server_start(sctx, sv[0], 1000, "test", err));
    assert_true(str_has_prefix(strbuf_str(err), "TLS handshake failed: "));
    close(sv[0]);
    close(sv[1]);
    tls_ctx_free(sctx);
    strbuf_free(err);
}

/* tls_make_self_signed: RSA and ECDSA pairs that a server can use; the
 * key is 0600; existing files are not overwritten. */
static void test_self_signed(void **state)
{
    char    cert[300], key[300];
    tls_server_opts so;
    tls_client_opts co;
    tls_client_start_opts cs;
    tls_ctx *sctx, *cctx;
    tls_sess *sess = NULL;
    strbuf *err = strbuf_new(64);
    struct stat st;
    int     ok, ecdsa;

    (void) state;
    t_client_opts(&co);
    cctx = tls_client_ctx_create(&co, err);
    memset(&cs, 0, sizeof(cs));
    cs.level = TLS_LEVEL_ENCRYPT;
    for (ecdsa = 0; ecdsa <= 1; ecdsa++) {
        t_path(cert, sizeof(cert), ecdsa ? "ss-ec.pem" : "ss-rsa.pem");
        t_path(key, sizeof(key), ecdsa ? "ss-ec.key" : "ss-rsa.key");
        assert_int_equal(tls_make_self_signed(cert, key, "self.test.invalid", ecdsa,
                                              30, err), 0);
        assert_int_equal(stat(key, &st), 0);
        assert_int_equal(st.st_mode & 0777, 0600);
        assert_int_equal(stat(cert, &st), 0);
        assert_int_equal(st.st_mode & 0777, 0644);
        t_server_opts(&so);
        so.cert_file = cert;
        so.key_file = key;
        sctx = tls_server_ctx_create(&so, err);
        assert_non_null(sctx);
        assert_int_equal(t_client(sctx, cctx, &cs, err, &ok, NULL, &sess), 0);
        assert_int_equal(ok, 1);
        assert_string_equal(tls_sess_peer_cn(sess), "self.test.invalid");
        sess = tls_sess_free(sess, NULL);
        tls_ctx_free(sctx);
        assert_int_equal(tls_make_self_signed(cert, key, "x", ecdsa, 30, err), -1);
        assert_non_null(strstr(strbuf_str(err), "File exists"));
        /* The existing files are intact. */
        assert_int_equal(stat(cert, &st), 0);
        assert_true(st.st_size > 100);
    }
    t_path(cert, sizeof(cert), "ss-bad.pem");
    t_path(key, sizeof(key), "ss-bad.key");
    assert_int_equal(tls_make_self_signed(cert, key, "a.test, DNS:evil.test", 0, 30,
                                          err), -1);
    assert_non_null(strstr(strbuf_str(err), "not a plain DNS name"));
    assert_int_equal(access(key, F_OK), -1);
    tls_ctx_free(cctx);
    strbuf_free(err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_protocols),
        cmocka_unit_test(test_levels_and_grades),
        cmocka_unit_test(test_handshake),
        cmocka_unit_test(test_protocol_floor),
        cmocka_unit_test(test_verification),
        cmocka_unit_test(test_resumption),
        cmocka_unit_test(test_ticket_key_file),
        cmocka_unit_test(test_config_errors),
        cmocka_unit_test(test_handshake_timeout),
        cmocka_unit_test(test_self_signed),
    };

    testlib_setup();
    /* OpenSSL writes with write(2): a vanished peer must not kill us (the
     * daemons ignore SIGPIPE through the server skeleton). */
    signal(SIGPIPE, SIG_IGN);
    return cmocka_run_group_tests_name("tls", tests, group_setup, group_teardown);
}
