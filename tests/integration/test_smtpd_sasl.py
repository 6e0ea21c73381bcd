"""smtpd AUTH through Cyrus SASL: PLAIN, LOGIN and CRAM-MD5 against a
sasldb made with saslpasswd2 (auxprop), saslauthd when it can be started,
relay permitted only after AUTH, sender login mismatch, AUTH only over
TLS, failed logins counted as errors, and the log and header fields.

The SASL configuration (smtpd.conf) lives in a directory named by
cyrus_sasl_config_path, so the host's /etc/sasl2 never matters."""

import base64
import hashlib
import hmac
import os
import re
import shutil
import smtplib
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from conftest import wait_for
from test_local_mail import IS_ROOT, header
from test_smtpd import DOMAIN, Raw
from test_smtpd_tls import client_ctx, tlssys  # noqa: F401  (fixture)

REALM = "test.invalid"
SASLPASSWD2 = shutil.which("saslpasswd2") or "/usr/sbin/saslpasswd2"
pytestmark = pytest.mark.skipif(not os.path.exists(SASLPASSWD2),
                                reason="saslpasswd2 (sasl2-bin) not installed")

USERS = {"alice": "alice-secret", "bob": "bob-secret"}


@pytest.fixture
def sasl_base():
    """A directory mail_owner can reach (pytest's tmp_path is private
    to root when the tests run as root)."""
    path = Path(tempfile.mkdtemp(prefix="postern-sasl-", dir="/tmp"))
    os.chmod(path, 0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def sasl_setup(base, mechs="PLAIN LOGIN CRAM-MD5", pwcheck="auxprop", extra=""):
    """A config directory with smtpd.conf and a sasldb holding USERS."""
    d = base / "sasl"
    d.mkdir(exist_ok=True)
    os.chmod(d, 0o755)
    db = d / "sasldb2"
    for user, password in USERS.items():
        subprocess.run([SASLPASSWD2, "-f", str(db), "-u", REALM, "-p", "-c", user],
                       input=password, text=True, check=True, capture_output=True)
    # The test's smtpd runs as mail_owner: let it read the test database.
    os.chmod(db, 0o644)
    conf = d / "smtpd.conf"
    conf.write_text(f"pwcheck_method: {pwcheck}\nauxprop_plugin: sasldb\n"
                    f"mech_list: {mechs}\nsasldb_path: {db}\n{extra}")
    os.chmod(conf, 0o644)
    return d


def settings(sasl_dir, **extra):
    s = {"smtpd_sasl_auth_enable": "yes", "cyrus_sasl_config_path": str(sasl_dir),
         "smtpd_sasl_local_domain": REALM, "smtpd_tls_security_level": "none"}
    s.update(extra)
    return s


def plain(user, password):
    return base64.b64encode(f"\0{user}\0{password}".encode()).decode()


def b64(text):
    return base64.b64encode(text.encode()).decode()


def ehlo(c):
    return c.cmd("EHLO client.test")


def greet(port, source=None):
    c = Raw(port, source=source)
    assert c.reply().startswith("220 ")
    return c


def test_plain_good_and_bad(tlssys, sasl_base):
    ms = tlssys(settings(sasl_setup(sasl_base)), tls=False)
    c = greet(ms.port)
    text = ehlo(c)
    mechs = re.search(r"250[- ]AUTH (.*)", text).group(1).split()
    assert "PLAIN" in mechs and "LOGIN" in mechs
    assert "AUTH=" not in text
    assert c.cmd("AUTH PLAIN " + plain("alice", "wrong")).startswith(
        "535 5.7.8 Error: authentication failed:")
    ms.inst.wait_log("warning: unknown[127.0.0.1]: SASL PLAIN authentication failed:")
    assert c.cmd("AUTH PLAIN " + plain("alice", USERS["alice"])) == \
        "235 2.7.0 Authentication successful"
    assert c.cmd("AUTH PLAIN " + plain("alice", USERS["alice"])).startswith("503 5.5.1")
    c.cmd("QUIT")
    assert "alice-secret" not in ms.inst.log()


def test_plain_without_initial_response_and_cancel(tlssys, sasl_base):
    ms = tlssys(settings(sasl_setup(sasl_base)), tls=False)
    c = greet(ms.port)
    ehlo(c)
    assert c.cmd("AUTH PLAIN") == "334 "
    assert c.cmd("*") == "501 5.7.0 Authentication aborted"
    assert c.cmd("AUTH PLAIN") == "334 "
    assert c.cmd("not base64!").startswith("501 5.5.2")
    assert c.cmd("AUTH PLAIN") == "334 "
    assert c.cmd(plain("bob", USERS["bob"])) == "235 2.7.0 Authentication successful"


def test_login_good_and_bad(tlssys, sasl_base):
    ms = tlssys(settings(sasl_setup(sasl_base)), tls=False)
    c = greet(ms.port)
    ehlo(c)
    assert c.cmd("AUTH LOGIN").startswith("334 ")
    assert c.cmd(b64("bob")).startswith("334 ")
    assert c.cmd(b64("nope")).startswith("535 5.7.8")
    ms.inst.wait_log("SASL LOGIN authentication failed")
    assert c.cmd("AUTH LOGIN " + b64("bob")).startswith("334 ")
    assert c.cmd(b64(USERS["bob"])) == "235 2.7.0 Authentication successful"


def test_cram_md5(tlssys, sasl_base):
    ms = tlssys(settings(sasl_setup(sasl_base)), tls=False)
    c = greet(ms.port)
    if "CRAM-MD5" not in ehlo(c):
        pytest.skip("the CRAM-MD5 plugin is not installed")
    challenge = base64.b64decode(c.cmd("AUTH CRAM-MD5")[4:])
    digest = hmac.new(b"bad", challenge, hashlib.md5).hexdigest()
    assert c.cmd(b64(f"alice {digest}")).startswith("535 5.7.8")
    challenge = base64.b64decode(c.cmd("AUTH CRAM-MD5")[4:])
    digest = hmac.new(USERS["alice"].encode(), challenge, hashlib.md5).hexdigest()
    assert c.cmd(b64(f"alice {digest}")) == "235 2.7.0 Authentication successful"


def test_security_options_filter_mechanisms(tlssys, sasl_base):
    ms = tlssys(settings(sasl_setup(sasl_base),
                         smtpd_sasl_security_options="noanonymous, noplaintext"),
                tls=False)
    c = greet(ms.port)
    text = ehlo(c)
    assert "PLAIN" not in text and "LOGIN" not in text
    assert c.cmd("AUTH PLAIN " + plain("alice", USERS["alice"])).startswith("504 5.5.4")


def test_tls_security_options_and_auth_only(tlssys, sasl_base):
    ms = tlssys(settings(sasl_setup(sasl_base), smtpd_tls_security_level="may",
                         smtpd_tls_auth_only="yes",
                         smtpd_sasl_security_options="noanonymous, noplaintext",
                         smtpd_sasl_tls_security_options="noanonymous"))
    c = greet(ms.port)
    assert "AUTH" not in ehlo(c)
    assert c.cmd("AUTH PLAIN " + plain("alice", USERS["alice"])).startswith("538 5.7.11")
    assert c.cmd("STARTTLS").startswith("220")
    c.s = client_ctx().wrap_socket(c.s)
    text = ehlo(c)
    assert re.search(r"250[- ]AUTH .*PLAIN", text), text
    assert c.cmd("AUTH PLAIN " + plain("alice", USERS["alice"])).startswith("235")


def test_auth_state_dropped_by_starttls(tlssys, sasl_base):
    ms = tlssys(settings(sasl_setup(sasl_base), smtpd_tls_security_level="may",
                         mynetworks="127.0.0.1/32"))
    c = greet(ms.port, source="127.0.0.2")
    ehlo(c)
    assert c.cmd("AUTH PLAIN " + plain("alice", USERS["alice"])).startswith("235")
    assert c.cmd("STARTTLS").startswith("220")
    c.s = client_ctx().wrap_socket(c.s)
    ehlo(c)
    c.cmd("MAIL FROM:<alice@example.org>")
    assert "Relay access denied" in c.cmd("RCPT TO:<x@elsewhere.example>")


def test_relay_only_after_auth_and_log_fields(tlssys, sasl_base):
    ms = tlssys(settings(sasl_setup(sasl_base), mynetworks="127.0.0.1/32",
                         smtpd_relay_restrictions="permit_sasl_authenticated, "
                         "reject_unauth_destination",
                         smtpd_sasl_authenticated_header="yes"), tls=False)
    user = ms.users[0]
    c = greet(ms.port, source="127.0.0.2")
    ehlo(c)
    assert c.cmd("MAIL FROM:<alice@example.org>") == "250 2.1.0 Ok"
    assert c.cmd("RCPT TO:<someone@elsewhere.example>").startswith("554 5.7.1")
    assert c.cmd("RSET").startswith("250")
    assert c.cmd("AUTH PLAIN " + plain("alice", USERS["alice"])).startswith("235")
    assert c.cmd("MAIL FROM:<alice@example.org> AUTH=<>") == "250 2.1.0 Ok"
    assert c.cmd("RCPT TO:<someone@elsewhere.example>") == "250 2.1.5 Ok"
    assert c.cmd(f"RCPT TO:<{user}@{DOMAIN}>") == "250 2.1.5 Ok"
    assert c.cmd("DATA").startswith("354")
    assert c.cmd("Subject: auth\r\n\r\nbody\r\n.").startswith("250 2.0.0 Ok: queued as")
    c.cmd("QUIT")
    (raw,) = ms.wait_messages(user, 1)
    rec = header(raw, "Received")[0]
    assert "with ESMTPA" in rec and "(Authenticated sender: alice" in rec, rec
    ms.inst.wait_log("client=unknown[127.0.0.2], sasl_method=PLAIN, sasl_username=alice")


def test_sender_login_mismatch(tlssys, sasl_base):
    ms = tlssys(settings(sasl_setup(sasl_base),
                         smtpd_sender_login_maps="inline:{ alice@example.org=alice@test.invalid, "
                         "@owned.example=bob@test.invalid }",
                         smtpd_sender_restrictions="reject_sender_login_mismatch"),
                tls=False)
    user = ms.users[0]
    rcpt = f"RCPT TO:<{user}@{DOMAIN}>"
    c = greet(ms.port)
    ehlo(c)
    c.cmd("MAIL FROM:<alice@example.org>")
    assert "not logged in" in c.cmd(rcpt)
    c.cmd("RSET")
    c.cmd("MAIL FROM:<free@example.org>")
    assert c.cmd(rcpt) == "250 2.1.5 Ok"          # nobody owns it
    c.cmd("RSET")
    assert c.cmd("AUTH PLAIN " + plain("bob", USERS["bob"])).startswith("235")
    c.cmd("MAIL FROM:<alice@example.org>")
    # Cyrus names the login with its realm (smtpd_sasl_local_domain).
    assert c.cmd(rcpt) == ("553 5.7.1 <alice@example.org>: Sender address "
                           "rejected: not owned by user bob@test.invalid")
    c.cmd("RSET")
    c.cmd("MAIL FROM:<anyone@owned.example>")
    assert c.cmd(rcpt) == "250 2.1.5 Ok"


def test_authenticated_sender_login_mismatch_only_for_logins(tlssys, sasl_base):
    ms = tlssys(settings(sasl_setup(sasl_base),
                         smtpd_sender_login_maps="inline:{ alice@example.org=alice@test.invalid }",
                         smtpd_sender_restrictions="reject_authenticated_sender_login_mismatch"),
                tls=False)
    user = ms.users[0]
    rcpt = f"RCPT TO:<{user}@{DOMAIN}>"
    c = greet(ms.port)
    ehlo(c)
    c.cmd("MAIL FROM:<alice@example.org>")
    assert c.cmd(rcpt) == "250 2.1.5 Ok"
    c.cmd("RSET")
    c.cmd("AUTH PLAIN " + plain("bob", USERS["bob"]))
    c.cmd("MAIL FROM:<free@example.org>")
    assert "not owned by user bob" in c.cmd(rcpt)


def test_failed_logins_count_toward_hard_error_limit(tlssys, sasl_base):
    ms = tlssys(settings(sasl_setup(sasl_base), smtpd_hard_error_limit="3",
                         smtpd_error_sleep_time="0"), tls=False)
    c = greet(ms.port)
    ehlo(c)
    for _ in range(3):
        assert c.cmd("AUTH PLAIN " + plain("alice", "wrong")).startswith("535")
    assert c.cmd("AUTH PLAIN " + plain("alice", USERS["alice"])).startswith("421 4.7.0")
    assert c.closed()


def test_broken_clients_and_protocol_checks(tlssys, sasl_base):
    ms = tlssys(settings(sasl_setup(sasl_base), broken_sasl_auth_clients="yes"),
                tls=False)
    c = greet(ms.port)
    assert c.cmd("AUTH PLAIN " + plain("alice", USERS["alice"])).startswith("503 5.5.1")
    text = ehlo(c)
    assert re.search(r"250[- ]AUTH=\S", text) and re.search(r"250[- ]AUTH \S", text)
    assert c.cmd("AUTH").startswith("501 5.5.4")
    assert c.cmd("AUTH BOGUS-MECH").startswith("504 5.5.4")
    c.cmd("MAIL FROM:<a@example.org>")
    assert c.cmd("AUTH PLAIN " + plain("alice", USERS["alice"])).startswith("503 5.5.1")


def test_auth_disabled(tlssys, sasl_base):
    ms = tlssys(tls=False)
    c = greet(ms.port)
    assert "AUTH" not in ehlo(c)
    assert c.cmd("AUTH PLAIN " + plain("alice", "x")).startswith("503 5.5.1")


def test_tls_and_auth_protocol_esmtpsa(tlssys, sasl_base):
    ms = tlssys(settings(sasl_setup(sasl_base), smtpd_tls_security_level="may"))
    user = ms.users[0]
    with smtplib.SMTP("127.0.0.1", ms.port, timeout=30) as s:
        s.starttls(context=client_ctx())
        s.login("alice", USERS["alice"])
        s.sendmail("alice@example.org", [f"{user}@{DOMAIN}"], b"Subject: sa\r\n\r\nx\r\n")
    (raw,) = ms.wait_messages(user, 1)
    assert "with ESMTPSA" in header(raw, "Received")[0]


@pytest.fixture
def saslauthd(sasl_base):
    """saslauthd -a shadow on a private socket directory (root only)."""
    exe = shutil.which("saslauthd") or "/usr/sbin/saslauthd"
    if not IS_ROOT or not os.path.exists(exe) or not shutil.which("chpasswd"):
        pytest.skip("saslauthd needs root, saslauthd and chpasswd")
    mux = sasl_base / "mux"
    mux.mkdir()
    os.chmod(mux, 0o755)
    # Its own session: on SIGTERM saslauthd signals its whole process group.
    proc = subprocess.Popen([exe, "-d", "-a", "shadow", "-m", str(mux), "-n", "0"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    try:
        wait_for(lambda: (mux / "mux").exists() or proc.poll() is not None, 10,
                 what="saslauthd socket")
        if proc.poll() is not None:
            pytest.skip("saslauthd did not start")
        os.chmod(mux / "mux", 0o777)
        yield mux / "mux"
    finally:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()


def test_saslauthd_plain_and_login(tlssys, sasl_base, saslauthd):
    d = sasl_setup(sasl_base, mechs="PLAIN LOGIN", pwcheck="saslauthd",
                   extra=f"saslauthd_path: {saslauthd}\n")
    ms = tlssys(settings(d, smtpd_sasl_local_domain=""), tls=False)
    user = ms.users[0]
    subprocess.run(["chpasswd"], input=f"{user}:shadow-pw-1\n", text=True, check=True)
    c = greet(ms.port)
    assert "AUTH PLAIN LOGIN" in ehlo(c)
    assert c.cmd("AUTH PLAIN " + plain(user, "wrong")).startswith("535 5.7.8")
    assert c.cmd("AUTH LOGIN " + b64(user)).startswith("334 ")
    assert c.cmd(b64("shadow-pw-1")) == "235 2.7.0 Authentication successful"
    c.cmd("QUIT")
    ms.inst.wait_log("warning: unknown[127.0.0.1]: SASL PLAIN authentication failed")
