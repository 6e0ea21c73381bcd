/*
 * postern_tls: "postern tls" helpers.
 *
 *   postern tls new-server-cert [hostname]
 *
 * Public functions:
 *   postern_tls(opts, args, nargs): run one tls subcommand; returns the
 *     exit status. new-server-cert makes a self-signed RSA certificate
 *     and key (smtpd_rsa_cert.pem, smtpd_rsa_key.pem) and an ECDSA pair
 *     (smtpd_ecdsa_cert.pem, smtpd_ecdsa_key.pem) in the configuration
 *     directory, for hostname (default $myhostname), valid for one year;
 *     then sets smtpd_tls_cert_file and smtpd_tls_key_file in main.cf to
 *     the RSA pair (the main.cf editor that "postconf -e" uses) and says
 *     how to use both through smtpd_tls_chain_files. Keys are mode 0600
 *     (owned by the caller: root on a system install, read by smtpd
 *     before it drops privileges). Existing files are never overwritten.
 *
 * SECURITY: run by the administrator with the caller's privileges; the
 * host name comes from the command line or main.cf and is checked to be
 * a plain DNS name before it reaches the certificate.
 * LIMITS: host names up to 253 bytes.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "cfg.h"
#include "mem.h"
#include "msg.h"
#include "param.h"
#include "param_names.h"
#include "postern.h"
#include "strbuf.h"
#include "tls.h"

#define POSTERN_TLS_DAYS 365
#define POSTERN_TLS_NAME_MAX 253

/* postern_tls_name_ok: 1 for a plain DNS name (letters, digits, '-', '.'). */
static int postern_tls_name_ok(const char *name)
{
    size_t  i, n = strlen(name);

    if (n == 0 || n > POSTERN_TLS_NAME_MAX || name[0] == '.' || name[0] == '-')
        return 0;
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char) name[i];

        if (!(isascii(c) && (isalnum(c) || c == '-' || c == '.')))
            return 0;
    }
    return 1;
}

/* postern_tls_new_cert: the new-server-cert subcommand. */
static int postern_tls_new_cert(const postern_opts *opts, const char *host)
{
    strbuf *err = strbuf_new(128);
    char   *rsa_cert = postern_path(opts->config_dir, "smtpd_rsa_cert.pem");
    char   *rsa_key = postern_path(opts->config_dir, "smtpd_rsa_key.pem");
    char   *ec_cert = postern_path(opts->config_dir, "smtpd_ecdsa_cert.pem");
    char   *ec_key = postern_path(opts->config_dir, "smtpd_ecdsa_key.pem");
    char   *main_cf = postern_path(opts->config_dir, PARAM_MAIN_CF);
    cfg_edit edits[2];
    int     status = POSTERN_EXIT_FAIL;

    if (postern_load(opts, 0, err) < 0) {
        msg_error("%s", strbuf_str(err));
        goto done;
    }
    if (host == NULL)
        host = param_str(PARAM_MYHOSTNAME);
    if (!postern_tls_name_ok(host)) {
        msg_error("\"%s\" is not a usable host name for a certificate", host);
        goto done;
    }
    if (tls_make_self_signed(rsa_cert, rsa_key, host, 0, POSTERN_TLS_DAYS, err) < 0) {
        msg_error("%s", strbuf_str(err));
        goto done;
    }
    if (tls_make_self_signed(ec_cert, ec_key, host, 1, POSTERN_TLS_DAYS, err) < 0) {
        msg_error("%s", strbuf_str(err));
        goto done;
    }
    edits[0].op = CFG_EDIT_SET;
    edits[0].name = PARAM_SMTPD_TLS_CERT_FILE;
    edits[0].value = rsa_cert;
    edits[1].op = CFG_EDIT_SET;
    edits[1].name = PARAM_SMTPD_TLS_KEY_FILE;
    edits[1].value = rsa_key;
    if (cfg_edit_file(main_cf, edits, 2, err) < 0) {
        msg_error("%s", strbuf_str(err));
        goto done;
    }
    printf("new self-signed certificates for %s:\n  %s (key %s)\n  %s (key %s)\n"
           "%s and %s are set in %s.\n"
           "To serve both, put each key and its certificate into one file and\n"
           "list the two files in %s instead.\n"
           "Then set %s = may and run \"postern reload\".\n",
           host, rsa_cert, rsa_key, ec_cert, ec_key, PARAM_SMTPD_TLS_CERT_FILE,
           PARAM_SMTPD_TLS_KEY_FILE, main_cf, PARAM_SMTPD_TLS_CHAIN_FILES,
           PARAM_SMTPD_TLS_SECURITY_LEVEL);
    status = POSTERN_EXIT_OK;

  done:
    strbuf_free(err);
    mem_free(rsa_cert);
    mem_free(rsa_key);
    mem_free(ec_cert);
    mem_free(ec_key);
    mem_free(main_cf);
    return status;
}

/* postern_tls: dispatch a tls subcommand. */
int     postern_tls(postern_opts *opts, char **args, int nargs)
{
    if (nargs >= 1 && nargs <= 2 && strcmp(args[0], "new-server-cert") == 0)
        return postern_tls_new_cert(opts, nargs == 2 ? args[1] : NULL);
    msg_error("usage: postern tls new-server-cert [hostname]");
    return POSTERN_EXIT_FAIL;
}
