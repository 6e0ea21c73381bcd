"""smtpd with TLS: STARTTLS at every server security level, wrapper mode
(port 465), the protocol floor, client certificates, RSA + ECDSA chain
files, the STARTTLS command-injection class, session resumption across
smtpd processes, and the private key read as root before the privilege
drop.

Certificates are made by the tests with `openssl req` in a temporary
directory; clients are Python's ssl/smtplib and `openssl s_client`."""

import os
import re
import shutil
import smtplib
import socket
import ssl
import subprocess

import pytest

from conftest import wait_for
from test_local_mail import IS_ROOT, MAIL_MASTER_CF, MailSystem, header, make_user, remove_user
from test_smtpd import DOMAIN, Raw, _can_connect

SMTPD = "127.0.0.1:{port0} inet n - n - 20 smtpd -o smtpd_peername_lookup=no\n"
SMTPS = ("127.0.0.1:{port1} inet n - n - 20 smtpd -o smtpd_peername_lookup=no "
         "-o smtpd_tls_wrappermode=yes\n")

OPENSSL = shutil.which("openssl")
pytestmark = pytest.mark.skipif(OPENSSL is None, reason="openssl command not installed")


def make_cert(directory, name, cn, kind="rsa", ca=None, mode=0o600):
    """A key and certificate (self-signed, or signed by ca=(cert, key))."""
    key, cert = directory / f"{name}.key", directory / f"{name}.pem"
    newkey = (["-newkey", "rsa:2048"] if kind == "rsa" else
              ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"])
    if ca is None:
        cmd = [OPENSSL, "req", "-x509", *newkey, "-nodes", "-days", "2",
               "-subj", f"/CN={cn}", "-addext", f"subjectAltName=DNS:{cn}",
               "-keyout", str(key), "-out", str(cert)]
        subprocess.run(cmd, check=True, capture_output=True)
    else:
        csr = directory / f"{name}.csr"
        subprocess.run([OPENSSL, "req", "-new", *newkey, "-nodes", "-subj", f"/CN={cn}",
                        "-keyout", str(key), "-out", str(csr)], check=True,
                       capture_output=True)
        subprocess.run([OPENSSL, "x509", "-req", "-in", str(csr), "-CA", str(ca[0]),
                        "-CAkey", str(ca[1]), "-CAcreateserial", "-days", "2",
                        "-out", str(cert)], check=True, capture_output=True)
    os.chmod(key, mode)
    os.chmod(cert, 0o644)
    return cert, key


@pytest.fixture
def tlssys(instance_factory, run, bin_path, tmp_path):
    """make(settings, smtpd_opts="", master_extra="", ports=1) -> MailSystem
    with .port (smtpd) and .certdir holding server.pem/server.key."""
    for prog in ("smtpd", "cleanup", "qmgr", "local", "bounce"):
        bin_path(prog)
    made = []
    certdir = tmp_path / "certs"
    certdir.mkdir()
    os.chmod(tmp_path, 0o755)
    os.chmod(certdir, 0o755)
    # (The SASL tests use this fixture without TLS, openssl or not.)
    cert, key = make_cert(certdir, "server", DOMAIN) if OPENSSL else (None, None)

    def make(settings=None, smtpd_opts="", master_extra="", ports=1, tls=True):
        base = {"myhostname": DOMAIN, "mydomain": "test.invalid",
                "mydestination": "$myhostname, localhost"}
        if tls and OPENSSL is None:
            pytest.skip("openssl command not installed")
        if tls:
            base.update({"smtpd_tls_security_level": "may",
                         "smtpd_tls_cert_file": str(cert),
                         "smtpd_tls_key_file": str(key)})
        base.update(settings or {})
        line = SMTPD.rstrip("\n") + (" " + smtpd_opts if smtpd_opts else "") + "\n"
        inst = instance_factory(master_cf=line + MAIL_MASTER_CF + master_extra,
                                start=False, settings=base, ports=ports)
        spool = inst.base / "mail"
        spool.mkdir()
        os.chmod(spool, 0o1777)
        if IS_ROOT:
            names = [make_user(inst.base)]
            made.extend(names)
        else:
            import pwd
            names = [pwd.getpwuid(os.getuid()).pw_name]
        alias_file = inst.base / "aliases"
        alias_file.write_text("")
        inst.postconf("-e", f"mail_spool_directory={spool}",
                      f"alias_maps=hash:{alias_file}", f"alias_database=hash:{alias_file}")
        run(["postalias", "-c", inst.config_dir, f"hash:{alias_file}"], expect=0)
        inst.start()
        ms = MailSystem(inst, run, names)
        ms.port = inst.ports[0]
        ms.certdir = certdir
        wait_for(lambda: _can_connect(ms.port), 10, what="smtpd listening")
        return ms

    yield make
    for name in made:
        remove_user(name)


def client_ctx(minv=None, maxv=None, cafile=None, cert=None):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    if cafile:
        ctx.load_verify_locations(cafile)
        ctx.verify_mode = ssl.CERT_REQUIRED
    if minv or maxv:
        # The host's OpenSSL policy may forbid old versions on our side;
        # security level 0 lets the client at least offer them.
        ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
    if minv:
        ctx.minimum_version = minv
    if maxv:
        ctx.maximum_version = maxv
    if cert:
        ctx.load_cert_chain(*cert)
    return ctx


def starttls_raw(port, ctx=None, ehlo=True):
    """A Raw client switched to TLS; returns (raw, ssl socket)."""
    c = Raw(port)
    assert c.reply().startswith("220 ")
    if ehlo:
        assert "STARTTLS" in c.cmd("EHLO client.test")
    assert c.cmd("STARTTLS") == "220 2.0.0 Ready to start TLS"
    c.s = (ctx or client_ctx()).wrap_socket(c.s)
    return c


def s_client(port, *args, stdin="QUIT\n", starttls=True):
    cmd = [OPENSSL, "s_client", "-crlf", "-connect", f"127.0.0.1:{port}", "-ign_eof", *args]
    if starttls:
        cmd[2:2] = ["-starttls", "smtp"]
    return subprocess.run(cmd, input=stdin, capture_output=True, text=True, timeout=30)


# ------------------------------------------------------------------ levels

def test_may_starttls_delivery_received_and_log(tlssys):
    ms = tlssys({"smtpd_tls_received_header": "yes", "smtpd_tls_loglevel": "1"})
    user = ms.users[0]
    with smtplib.SMTP("127.0.0.1", ms.port, timeout=30) as s:
        code, text = s.ehlo("client.test")
        assert b"STARTTLS" in text
        code, _ = s.starttls(context=client_ctx())
        assert code == 220
        code, text = s.ehlo("client.test")
        assert code == 250 and b"STARTTLS" not in text
        assert s.docmd("STARTTLS")[0] == 554          # already active
        s.sendmail("alice@example.org", [f"{user}@{DOMAIN}"], b"Subject: tls\r\n\r\nhi\r\n")
    (raw,) = ms.wait_messages(user, 1)
    rec = header(raw, "Received")[0]
    assert re.search(r"\(using TLSv1\.3 with cipher \S+ \(\d+/\d+ bits\)\)", rec), rec
    assert "with ESMTPS" in rec
    ms.inst.wait_log("Anonymous TLS connection established from unknown[127.0.0.1]: "
                     "TLSv1.3 with cipher")


def test_no_received_summary_by_default(tlssys):
    ms = tlssys()
    user = ms.users[0]
    with smtplib.SMTP("127.0.0.1", ms.port, timeout=30) as s:
        s.starttls(context=client_ctx())
        s.sendmail("a@example.org", [f"{user}@{DOMAIN}"], b"Subject: x\r\n\r\nx\r\n")
    (raw,) = ms.wait_messages(user, 1)
    rec = header(raw, "Received")[0]
    assert "using TLS" not in rec and "with ESMTPS" in rec
    assert "TLS connection established" not in ms.inst.log()     # loglevel 0


def test_level_none_offers_nothing(tlssys):
    ms = tlssys({"smtpd_tls_security_level": "none"})
    c = Raw(ms.port)
    c.reply()
    assert "STARTTLS" not in c.cmd("EHLO client.test")
    assert c.cmd("STARTTLS").startswith("502 5.5.1")
    assert c.cmd("MAIL FROM:<a@example.org>") == "250 2.1.0 Ok"


def test_level_encrypt_refuses_clear_text(tlssys):
    ms = tlssys({"smtpd_tls_security_level": "encrypt"})
    user = ms.users[0]
    c = Raw(ms.port)
    c.reply()
    assert "STARTTLS" in c.cmd("EHLO client.test")
    for cmd in ("MAIL FROM:<a@example.org>", f"RCPT TO:<{user}@{DOMAIN}>", "DATA",
                "VRFY root", "ETRN example.org"):
        assert c.cmd(cmd) == "530 5.7.0 Must issue a STARTTLS command first", cmd
    assert c.cmd("NOOP") == "250 2.0.0 Ok"
    assert c.cmd("STARTTLS") == "220 2.0.0 Ready to start TLS"
    c.s = client_ctx().wrap_socket(c.s)
    assert c.cmd("EHLO client.test").startswith("250-")
    assert c.cmd("MAIL FROM:<a@example.org>") == "250 2.1.0 Ok"
    assert c.cmd(f"RCPT TO:<{user}@{DOMAIN}>") == "250 2.1.5 Ok"
    assert c.cmd("DATA").startswith("354")
    assert c.cmd("Subject: enc\r\n\r\nbody\r\n.").startswith("250 2.0.0 Ok: queued as")
    c.cmd("QUIT")
    ms.wait_messages(user, 1)


def test_encrypt_with_broken_key_accepts_nothing(tlssys, tmp_path):
    bad = tmp_path / "bad.pem"
    bad.write_text("not a certificate\n")
    ms = tlssys({"smtpd_tls_security_level": "encrypt", "smtpd_tls_cert_file": str(bad),
                 "smtpd_tls_key_file": str(bad)})
    c = Raw(ms.port)
    c.reply()
    assert "STARTTLS" not in c.cmd("EHLO client.test")
    assert c.cmd("MAIL FROM:<a@example.org>").startswith("530 5.7.0")
    ms.inst.wait_log("TLS is disabled: cannot load certificate chain from")


def test_wrappermode_smtps(tlssys):
    ms = tlssys({"smtpd_tls_loglevel": "1"}, master_extra=SMTPS, ports=2)
    user = ms.users[0]
    port = ms.inst.ports[1]
    wait_for(lambda: _tls_banner(port), 10, what="smtps listening")
    with smtplib.SMTP_SSL("127.0.0.1", port, timeout=30, context=client_ctx()) as s:
        code, text = s.ehlo("client.test")
        assert code == 250 and b"STARTTLS" not in text
        s.sendmail("a@example.org", [f"{user}@{DOMAIN}"], b"Subject: 465\r\n\r\nx\r\n")
    (raw,) = ms.wait_messages(user, 1)
    assert "with ESMTPS" in header(raw, "Received")[0]
    # A clear-text client on the wrapper port gets no banner.
    c = socket.create_connection(("127.0.0.1", port), timeout=10)
    c.sendall(b"EHLO client.test\r\n")
    assert c.recv(100) == b""
    c.close()
    ms.inst.wait_log("SSL_accept error from unknown[127.0.0.1]")


def _tls_banner(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
            with client_ctx().wrap_socket(s) as t:
                t.settimeout(5)
                return t.recv(100).startswith(b"220 ")
    except OSError:
        return False


# ------------------------------------------------------------ protocols

def test_protocol_floor_default_refuses_tls11(tlssys):
    ms = tlssys()
    with pytest.raises((ssl.SSLError, OSError, EOFError)):
        c = starttls_raw(ms.port, client_ctx(ssl.TLSVersion.TLSv1, ssl.TLSVersion.TLSv1_1))
        c.cmd("EHLO client.test")
    c = starttls_raw(ms.port, client_ctx(ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_2))
    assert c.s.version() == "TLSv1.2"
    assert c.cmd("EHLO client.test").startswith("250-")


def test_protocol_floor_tls13_only(tlssys):
    ms = tlssys({"smtpd_tls_protocols": ">=TLSv1.3"})
    with pytest.raises((ssl.SSLError, OSError, EOFError)):
        c = starttls_raw(ms.port, client_ctx(ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_2))
        c.cmd("EHLO client.test")
    c = starttls_raw(ms.port)
    assert c.s.version() == "TLSv1.3"


def test_protocol_exclusion_syntax(tlssys):
    ms = tlssys({"smtpd_tls_protocols": "!SSLv2, !SSLv3, !TLSv1, !TLSv1.1, !TLSv1.3"})
    c = starttls_raw(ms.port)
    assert c.s.version() == "TLSv1.2"
    assert c.cmd("EHLO client.test").startswith("250-")


def test_mandatory_protocols_apply_at_encrypt(tlssys):
    ms = tlssys({"smtpd_tls_security_level": "encrypt",
                 "smtpd_tls_protocols": ">=TLSv1.2",
                 "smtpd_tls_mandatory_protocols": "TLSv1.3"})
    with pytest.raises((ssl.SSLError, OSError, EOFError)):
        c = starttls_raw(ms.port, client_ctx(ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_2))
        c.cmd("EHLO client.test")


def test_openssl_s_client_starttls(tlssys):
    ms = tlssys()
    r = s_client(ms.port)
    assert "BEGIN CERTIFICATE" in r.stdout, r.stdout + r.stderr
    assert f"CN = {DOMAIN}" in r.stdout
    assert "221 2.0.0 Bye" in r.stdout


# ------------------------------------------------------------- injection

def test_injection_after_starttls_is_discarded(tlssys):
    ms = tlssys({"smtpd_forbid_unauth_pipelining": "no"})
    c = Raw(ms.port)
    c.reply()
    c.cmd("EHLO client.test")
    # The classic attack: a command pipelined behind STARTTLS in clear text.
    c.send(b"STARTTLS\r\nMAIL FROM:<evil@example.org>\r\n")
    assert c.reply() == "220 2.0.0 Ready to start TLS"
    c.s = client_ctx().wrap_socket(c.s)
    c.buf = b""
    # Had the injected MAIL run inside TLS, this would be a nested MAIL.
    assert c.cmd("EHLO client.test").startswith("250-")
    assert c.cmd("MAIL FROM:<a@example.org>") == "250 2.1.0 Ok"
    ms.inst.wait_log("discarding 30 bytes sent after STARTTLS in clear text "
                     "(possible command injection)")


def test_injection_refused_with_pipelining_checks(tlssys):
    ms = tlssys()
    c = Raw(ms.port)
    c.reply()
    c.cmd("EHLO client.test")
    c.send(b"STARTTLS\r\nRSET\r\n")
    assert c.reply().startswith("554 5.5.0")
    assert c.closed()


def test_state_forgotten_after_starttls(tlssys):
    ms = tlssys({"smtpd_helo_required": "yes"})
    user = ms.users[0]
    c = Raw(ms.port)
    c.reply()
    c.cmd("EHLO client.test")
    assert c.cmd("MAIL FROM:<a@example.org>") == "250 2.1.0 Ok"
    assert c.cmd("STARTTLS") == "220 2.0.0 Ready to start TLS"
    c.s = client_ctx().wrap_socket(c.s)
    # HELO and the transaction are gone.
    assert c.cmd(f"RCPT TO:<{user}@{DOMAIN}>").startswith("503 5.5.1")
    assert c.cmd("MAIL FROM:<a@example.org>").startswith("503 5.5.1 Error: send HELO/EHLO")
    assert c.cmd("EHLO client.test").startswith("250-")
    assert c.cmd("MAIL FROM:<a@example.org>") == "250 2.1.0 Ok"


# ------------------------------------------------------- certificates

def test_chain_files_rsa_and_ecdsa(tlssys):
    ms = tlssys()
    d = ms.certdir
    rsa = make_cert(d, "rsa", "rsa.test.invalid")
    ec = make_cert(d, "ec", "ecdsa.test.invalid", kind="ec")
    chains = []
    for name, (cert, key) in (("rsa", rsa), ("ec", ec)):
        path = d / f"{name}-chain.pem"
        path.write_text(key.read_text() + cert.read_text())
        os.chmod(path, 0o600)
        chains.append(str(path))
    ms.inst.postconf("-e", "smtpd_tls_chain_files=" + ", ".join(chains))
    ms.inst.postern("reload", expect=0)
    wait_for(lambda: "CN = ecdsa.test.invalid" in s_client(
        ms.port, "-sigalgs", "ECDSA+SHA256").stdout, 15, what="ECDSA certificate")
    r = s_client(ms.port, "-sigalgs", "RSA-PSS+SHA256:RSA+SHA256")
    assert "CN = rsa.test.invalid" in r.stdout


def test_client_certificates_ask_and_require(tlssys):
    ms = tlssys()
    d = ms.certdir
    ca = make_cert(d, "ca", "Test CA", mode=0o644)
    good = make_cert(d, "client", "client.test.invalid", ca=ca, mode=0o644)
    ms.inst.postconf("-e", f"smtpd_tls_CAfile={ca[0]}", "smtpd_tls_ask_ccert=yes",
                     "smtpd_tls_loglevel=1")
    ms.inst.postern("reload", expect=0)

    def trusted():
        c = starttls_raw(ms.port, client_ctx(cert=good))
        c.cmd("QUIT")
        return "Trusted TLS connection established" in ms.inst.log()
    wait_for(trusted, 15, what="trusted client certificate")
    c = starttls_raw(ms.port)               # no certificate: still welcome
    assert c.cmd("EHLO client.test").startswith("250-")
    ms.inst.postconf("-e", "smtpd_tls_req_ccert=yes")
    ms.inst.postern("reload", expect=0)

    def refused():
        try:
            c = starttls_raw(ms.port)
            c.cmd("EHLO client.test")
            return False
        except (ssl.SSLError, OSError, EOFError):
            return True
    wait_for(refused, 15, what="certificate required")
    c = starttls_raw(ms.port, client_ctx(cert=good))
    assert c.cmd("EHLO client.test").startswith("250-")


# ------------------------------------------------- resumption, privileges

def test_resumption_across_processes(tlssys, tmp_path):
    ms = tlssys({"smtpd_tls_loglevel": "1"}, smtpd_opts="-o max_use=1")
    sess = tmp_path / "sess.pem"
    r1 = s_client(ms.port, "-sess_out", str(sess))
    assert "New, TLSv1.3" in r1.stdout, r1.stdout + r1.stderr
    assert sess.stat().st_size > 0
    r2 = s_client(ms.port, "-sess_in", str(sess))
    assert "Reused, TLSv1.3" in r2.stdout, r2.stdout + r2.stderr
    ms.inst.wait_log("TLS connection reused from unknown[127.0.0.1]")
    log = ms.inst.log()
    pids = set(re.findall(r"smtpd\[(\d+)\]: Anonymous TLS connection (?:established|reused)",
                          log))
    assert len(pids) == 2, log                   # two different processes
    key = ms.inst.queue_dir / "private" / "smtpd_tls_ticket.key"
    assert key.stat().st_size == 80 and key.stat().st_mode & 0o777 == 0o600


@pytest.mark.skipif(not IS_ROOT, reason="needs root: key owned by root, smtpd as mail_owner")
def test_root_only_key_loaded_before_privilege_drop(tlssys):
    ms = tlssys({"smtpd_tls_loglevel": "1"})
    key = ms.certdir / "server.key"
    st = key.stat()
    assert st.st_uid == 0 and st.st_mode & 0o777 == 0o600
    c = starttls_raw(ms.port)
    assert c.cmd("EHLO client.test").startswith("250-")
    # The process that did the handshake runs as mail_owner, not root:
    # it read the key before it dropped its privileges.
    ms.inst.wait_log("Anonymous TLS connection established")
    pid = re.search(r"smtpd\[(\d+)\]: Anonymous TLS connection established",
                    ms.inst.log()).group(1)
    with open(f"/proc/{pid}/status") as f:
        uids = [int(u) for line in f if line.startswith("Uid:") for u in line.split()[1:]]
    assert uids and all(u != 0 for u in uids), uids
    c.cmd("QUIT")


# ------------------------------------------------------------ postern tls

def test_postern_tls_new_server_cert(tlssys):
    ms = tlssys({"smtpd_tls_security_level": "may"}, tls=False)
    c = Raw(ms.port)
    c.reply()
    assert "STARTTLS" not in c.cmd("EHLO client.test")     # no certificate yet
    c.close()
    r = ms.inst.postern("tls", "new-server-cert", "cert.test.invalid", expect=0)
    assert "smtpd_tls_cert_file" in r.stdout
    etc = ms.inst.config_dir
    for name, mode in (("smtpd_rsa_key.pem", 0o600), ("smtpd_rsa_cert.pem", 0o644),
                       ("smtpd_ecdsa_key.pem", 0o600), ("smtpd_ecdsa_cert.pem", 0o644)):
        assert (etc / name).stat().st_mode & 0o777 == mode, name
    out = ms.inst.postconf("smtpd_tls_cert_file", "smtpd_tls_key_file").stdout
    assert f"smtpd_tls_cert_file = {etc / 'smtpd_rsa_cert.pem'}" in out
    assert f"smtpd_tls_key_file = {etc / 'smtpd_rsa_key.pem'}" in out
    # Never overwrites.
    r = ms.inst.postern("tls", "new-server-cert", expect=1)
    assert "File exists" in r.stderr
    ms.inst.postern("reload", expect=0)

    def offers_tls():
        c = Raw(ms.port)
        c.reply()
        ok = "STARTTLS" in c.cmd("EHLO client.test")
        c.close()
        return ok
    wait_for(offers_tls, 15, what="STARTTLS after reload")
    assert "CN = cert.test.invalid" in s_client(ms.port).stdout


# ------------------------------------------------------- size and time

def test_large_message_and_bdat_over_tls(tlssys):
    ms = tlssys()
    user = ms.users[0]
    body = b"".join(b"line %06d " % i + b"x" * 60 + b"\r\n" for i in range(20000))
    with smtplib.SMTP("127.0.0.1", ms.port, timeout=60) as s:
        s.starttls(context=client_ctx())
        s.sendmail("a@example.org", [f"{user}@{DOMAIN}"], b"Subject: big\r\n\r\n" + body)
    c = starttls_raw(ms.port)
    assert c.cmd("EHLO client.test").startswith("250-")
    assert c.cmd("MAIL FROM:<a@example.org>") == "250 2.1.0 Ok"
    assert c.cmd(f"RCPT TO:<{user}@{DOMAIN}>") == "250 2.1.5 Ok"
    chunk = b"Subject: bdat\r\n\r\n" + body
    c.send(b"BDAT %d LAST\r\n" % len(chunk) + chunk)
    assert c.reply().startswith("250 2.0.0 Ok: queued as")
    c.cmd("QUIT")
    msgs = ms.wait_messages(user, 2, timeout=60)
    for raw in msgs:
        assert raw.count(b"\nline ") >= 19999 and b"line 019999 " in raw


def test_starttls_handshake_timeout(tlssys):
    ms = tlssys({"smtpd_starttls_timeout": "1s"})
    c = Raw(ms.port)
    c.reply()
    c.cmd("EHLO client.test")
    assert c.cmd("STARTTLS") == "220 2.0.0 Ready to start TLS"
    # No TLS hello: the server gives up after smtpd_starttls_timeout.
    c.s.settimeout(20)
    assert c.closed()
    ms.inst.wait_log("SSL_accept error from unknown[127.0.0.1]: TLS handshake failed: timeout")
