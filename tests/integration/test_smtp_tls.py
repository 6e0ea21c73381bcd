"""STARTTLS and SASL AUTH in the SMTP client (smtp/): every
smtp_tls_security_level against a sink with and without STARTTLS,
certificate verification (right CA and name, wrong CA, wrong name),
smtp_tls_policy_maps, wrapper mode, the "TLS connection established"
log line, plaintext injected after STARTTLS, AUTH PLAIN and LOGIN with
smtp_sasl_password_maps (texthash: and hash:), a wrong password, the
noplaintext option, and Postern relaying to a second Postern whose smtpd
offers STARTTLS + AUTH (submission style).

Certificates are made at test time with `openssl req` (a CA with a
server certificate for "sink.test", and a self-signed one). The sinks are
smtpsink.py on loopback; nothing uses DNS."""

import os
import shutil
import smtplib
import subprocess
import tempfile
from pathlib import Path

import pytest

from smtpsink import SmtpSink
from test_smtp import SENDER, outbound  # noqa: F401  (outbound is a fixture)
from test_smtpd_tls import OPENSSL, make_cert, tlssys  # noqa: F401  (fixture)

pytestmark = pytest.mark.skipif(OPENSSL is None, reason="openssl command not installed")

SINK_NAME = "sink.test"
QUIET = {"queue_run_delay": "300s", "minimal_backoff_time": "300s",
         "maximal_backoff_time": "300s"}


@pytest.fixture(scope="module")
def certs():
    """ca.pem/ca.key, server (sink.test, signed by the CA), self (self-signed
    sink.test), other_ca.pem; in a directory every user can read."""
    d = Path(tempfile.mkdtemp(prefix="postern-smtptls-", dir="/tmp"))
    os.chmod(d, 0o755)
    ca_cert, ca_key = d / "ca.pem", d / "ca.key"
    subprocess.run([OPENSSL, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=Postern Test CA", "-keyout", str(ca_key),
                    "-out", str(ca_cert)], check=True, capture_output=True)
    os.chmod(ca_cert, 0o644)
    c = {"dir": d, "ca": ca_cert}
    c["server"] = make_cert(d, "server", SINK_NAME, ca=(ca_cert, ca_key), mode=0o644)
    c["self"] = make_cert(d, "self", SINK_NAME, mode=0o644)
    c["other_ca"] = make_cert(d, "other", "Other CA", mode=0o644)[0]
    yield c
    shutil.rmtree(d, ignore_errors=True)


def tls_sink(cert, **knobs):
    sink = SmtpSink()
    sink.tls_cert, sink.tls_key = str(cert[0]), str(cert[1])
    for k, v in knobs.items():
        setattr(sink, k, v)
    return sink.start()


def relay(sink, **extra):
    s = {"relayhost": "[127.0.0.1]:%d" % sink.port, "smtp_tls_loglevel": "1"}
    s.update(extra)
    return s


def table(pubdir, name, text, mode=0o644):
    path = pubdir / name
    path.write_text(text)
    os.chmod(path, mode)
    return path


@pytest.fixture
def pubdir():
    path = Path(tempfile.mkdtemp(prefix="postern-smtptls-t-", dir="/tmp"))
    os.chmod(path, 0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


# ------------------------------------------------------------ levels


def test_may_uses_starttls_and_logs(outbound, certs):
    sink = tls_sink(certs["server"])
    try:
        ob = outbound(relay(sink, smtp_tls_security_level="may"))
        qid = ob.submit(["a@remote.test"])
        assert sink.wait_messages(1, 30), ob.log()[-3000:]
        ob.wait_status(qid, "a@remote.test", "sent")
        msg = sink.messages[0]
        assert msg.tls and msg.tls_version.startswith("TLSv1.")
        # EHLO again after STARTTLS (RFC 3207): the message's HELO is the
        # one given over TLS, and the sink saw two EHLOs on one connection.
        ehlos = [c for _i, c in sink.commands if c.upper().startswith("EHLO")]
        assert len(ehlos) == 2
        assert "STARTTLS" in [c for _i, c in sink.commands]
        log = ob.log()
        assert ("Untrusted TLS connection established to 127.0.0.1[127.0.0.1]:%d: TLSv1."
                % sink.port) in log
        assert " with cipher " in log
    finally:
        sink.stop()


def test_may_falls_back_to_plaintext_without_starttls(outbound):
    with SmtpSink() as sink:
        ob = outbound(relay(sink, smtp_tls_security_level="may"))
        qid = ob.submit(["a@remote.test"])
        ob.wait_status(qid, "a@remote.test", "sent")
        assert not sink.messages[0].tls
        assert "STARTTLS" not in [c for _i, c in sink.commands]


def test_none_never_sends_starttls(outbound, certs):
    sink = tls_sink(certs["server"])
    try:
        ob = outbound(relay(sink, smtp_tls_security_level="none"))
        qid = ob.submit(["a@remote.test"])
        ob.wait_status(qid, "a@remote.test", "sent")
        assert not sink.messages[0].tls
        assert "STARTTLS" not in [c for _i, c in sink.commands]
    finally:
        sink.stop()


def test_encrypt_defers_without_starttls(outbound):
    with SmtpSink() as sink:
        ob = outbound(relay(sink, smtp_tls_security_level="encrypt", **QUIET))
        qid = ob.submit(["a@remote.test"])
        line = ob.wait_status(qid, "a@remote.test", "deferred")
        assert "dsn=4.7.4" in line
        assert ("TLS is required, but was not offered by host 127.0.0.1[127.0.0.1]:%d"
                % sink.port) in line
        assert sink.messages == []
        assert not any(c.upper().startswith("MAIL") for _i, c in sink.commands)


def test_encrypt_with_starttls_sends(outbound, certs):
    # encrypt does not verify: a self-signed certificate is fine.
    sink = tls_sink(certs["self"])
    try:
        ob = outbound(relay(sink, smtp_tls_security_level="encrypt"))
        qid = ob.submit(["a@remote.test"])
        ob.wait_status(qid, "a@remote.test", "sent")
        assert sink.messages[0].tls
    finally:
        sink.stop()


def test_encrypt_refused_starttls_defers(outbound, certs):
    sink = tls_sink(certs["server"], starttls_reply="454 4.7.0 TLS not available now")
    try:
        ob = outbound(relay(sink, smtp_tls_security_level="encrypt", **QUIET))
        qid = ob.submit(["a@remote.test"])
        line = ob.wait_status(qid, "a@remote.test", "deferred")
        assert "dsn=4.7.5" in line and "TLS not available now" in line
        assert sink.messages == []
    finally:
        sink.stop()


def test_may_refused_starttls_continues_plaintext(outbound, certs):
    sink = tls_sink(certs["server"], starttls_reply="454 4.7.0 TLS not available now")
    try:
        ob = outbound(relay(sink, smtp_tls_security_level="may"))
        qid = ob.submit(["a@remote.test"])
        ob.wait_status(qid, "a@remote.test", "sent")
        assert not sink.messages[0].tls
    finally:
        sink.stop()


def test_verify_with_right_ca_and_name(outbound, certs):
    sink = tls_sink(certs["server"])
    try:
        ob = outbound(relay(sink, smtp_tls_security_level="verify",
                            smtp_tls_CAfile=str(certs["ca"]),
                            smtp_tls_verify_cert_match=SINK_NAME))
        qid = ob.submit(["a@remote.test"])
        ob.wait_status(qid, "a@remote.test", "sent")
        assert sink.messages[0].tls
        assert "Verified TLS connection established to 127.0.0.1[127.0.0.1]:%d" % sink.port \
            in ob.log()
    finally:
        sink.stop()


def test_verify_with_wrong_ca_defers(outbound, certs):
    sink = tls_sink(certs["self"])
    try:
        ob = outbound(relay(sink, smtp_tls_security_level="verify",
                            smtp_tls_CAfile=str(certs["ca"]),
                            smtp_tls_verify_cert_match=SINK_NAME, **QUIET))
        qid = ob.submit(["a@remote.test"])
        line = ob.wait_status(qid, "a@remote.test", "deferred")
        assert "dsn=4.7.5" in line
        assert "Cannot start TLS with host 127.0.0.1[127.0.0.1]:%d" % sink.port in line
        assert sink.messages == []
    finally:
        sink.stop()


def test_verify_with_wrong_name_defers(outbound, certs):
    sink = tls_sink(certs["server"])
    try:
        # Default match is the host name: "127.0.0.1" is not in the cert.
        ob = outbound(relay(sink, smtp_tls_security_level="verify",
                            smtp_tls_CAfile=str(certs["ca"]), **QUIET))
        qid = ob.submit(["a@remote.test"])
        line = ob.wait_status(qid, "a@remote.test", "deferred")
        assert "dsn=4.7.5" in line
        assert sink.messages == []
    finally:
        sink.stop()


def test_secure_through_policy_match(outbound, certs, pubdir):
    sink = tls_sink(certs["server"])
    try:
        policy = table(pubdir, "tls_policy",
                       "[127.0.0.1]:%d secure match=%s\n" % (sink.port, SINK_NAME))
        ob = outbound(relay(sink, smtp_tls_security_level="none",
                            smtp_tls_CAfile=str(certs["ca"]),
                            smtp_tls_policy_maps="texthash:%s" % policy))
        qid = ob.submit(["a@remote.test"])
        ob.wait_status(qid, "a@remote.test", "sent")
        assert sink.messages[0].tls
        assert "Verified TLS connection established" in ob.log()
    finally:
        sink.stop()


def test_secure_without_starttls_defers(outbound, certs):
    with SmtpSink() as sink:
        ob = outbound(relay(sink, smtp_tls_security_level="secure",
                            smtp_tls_CAfile=str(certs["ca"]), **QUIET))
        qid = ob.submit(["a@remote.test"])
        line = ob.wait_status(qid, "a@remote.test", "deferred")
        assert "TLS is required, but was not offered" in line


# ------------------------------------------------------------ policy maps


def test_policy_maps_override_level(outbound, certs, pubdir):
    tls = tls_sink(certs["server"])
    plain = SmtpSink().start()
    try:
        policy = table(pubdir, "tls_policy",
                       "[127.0.0.1]:%d none\n[127.0.0.1]:%d encrypt\n"
                       % (tls.port, plain.port))
        transport = table(pubdir, "transport",
                          "tls.test smtp:[127.0.0.1]:%d\nplain.test smtp:[127.0.0.1]:%d\n"
                          % (tls.port, plain.port))
        ob = outbound({"smtp_tls_security_level": "may",
                       "smtp_tls_policy_maps": "texthash:%s" % policy,
                       "transport_maps": "texthash:%s" % transport, **QUIET})
        q1 = ob.submit(["a@tls.test"])
        q2 = ob.submit(["b@plain.test"])
        ob.wait_status(q1, "a@tls.test", "sent")
        # "none" for this destination: no STARTTLS although offered.
        assert not tls.messages[0].tls
        assert "STARTTLS" not in [c for _i, c in tls.commands]
        # "encrypt" for the other: deferred, not sent in plaintext.
        line = ob.wait_status(q2, "b@plain.test", "deferred")
        assert "TLS is required, but was not offered" in line
        assert plain.messages == []
    finally:
        tls.stop()
        plain.stop()


def test_policy_maps_bad_entry_defers(outbound, certs, pubdir):
    sink = tls_sink(certs["server"])
    try:
        policy = table(pubdir, "tls_policy", "[127.0.0.1]:%d bogus\n" % sink.port)
        ob = outbound(relay(sink, smtp_tls_security_level="may",
                            smtp_tls_policy_maps="texthash:%s" % policy, **QUIET))
        qid = ob.submit(["a@remote.test"])
        line = ob.wait_status(qid, "a@remote.test", "deferred")
        assert 'unsupported TLS security level "bogus"' in line
        assert sink.connections == 0
    finally:
        sink.stop()


# ------------------------------------------------------------ wrapper, injection


def test_wrappermode_to_implicit_tls_sink(outbound, certs):
    sink = tls_sink(certs["server"], wrapper=True)
    try:
        ob = outbound(relay(sink, smtp_tls_wrappermode="yes",
                            smtp_tls_security_level="encrypt"))
        qid = ob.submit(["a@remote.test"])
        ob.wait_status(qid, "a@remote.test", "sent")
        msg = sink.messages[0]
        assert msg.tls
        assert "STARTTLS" not in [c for _i, c in sink.commands]
    finally:
        sink.stop()


def test_plaintext_after_starttls_reply_is_refused(outbound, certs):
    sink = tls_sink(certs["server"], tls_extra=b"250 injected\r\n")
    try:
        ob = outbound(relay(sink, smtp_tls_security_level="encrypt", **QUIET))
        qid = ob.submit(["a@remote.test"])
        line = ob.wait_status(qid, "a@remote.test", "deferred")
        assert "sent data after its reply to STARTTLS" in line
        assert sink.messages == []
    finally:
        sink.stop()


# ------------------------------------------------------------ SASL


SASL = {"smtp_sasl_auth_enable": "yes", "smtp_sasl_security_options": "noanonymous"}


def test_auth_plain_with_texthash(outbound, certs, pubdir):
    sink = tls_sink(certs["server"], auth={"alice": "s3cret:with:colons"},
                    auth_required=True, auth_mechs=["PLAIN"])
    try:
        pw = table(pubdir, "sasl_passwd",
                   "[127.0.0.1]:%d alice:s3cret:with:colons\n" % sink.port)
        ob = outbound(relay(sink, smtp_tls_security_level="encrypt",
                            smtp_sasl_password_maps="texthash:%s" % pw, **SASL))
        qid = ob.submit(["a@remote.test"])
        ob.wait_status(qid, "a@remote.test", "sent")
        msg = sink.messages[0]
        assert msg.auth_user == "alice" and msg.tls
        assert sink.auth_attempts == [("alice", "PLAIN", True)]
        # AUTH= on MAIL FROM, as the server offered AUTH.
        assert msg.mail_params.get("AUTH") == SENDER
        # AUTH came after STARTTLS and the second EHLO.
        cmds = [c.split()[0].upper() for _i, c in sink.commands]
        assert cmds.index("AUTH") > cmds.index("STARTTLS")
        assert "s3cret" not in ob.log()
    finally:
        sink.stop()


def test_auth_login_with_hash_map_and_filter(outbound, certs, pubdir, run):
    with SmtpSink() as sink:
        sink.auth = {"bob": "pw-bob"}
        sink.auth_required = True
        pw = table(pubdir, "sasl_passwd", "[127.0.0.1]:%d bob:pw-bob\n" % sink.port)
        run(["postmap", "hash:%s" % pw], expect=0)
        for f in pubdir.iterdir():
            os.chmod(f, 0o644)
        # Plaintext session: allow plaintext mechanisms, pick LOGIN.
        ob = outbound(relay(sink, smtp_sasl_password_maps="hash:%s" % pw,
                            smtp_sasl_mechanism_filter="login", **SASL))
        qid = ob.submit(["a@remote.test"])
        ob.wait_status(qid, "a@remote.test", "sent")
        assert sink.messages[0].auth_user == "bob"
        assert sink.auth_attempts == [("bob", "LOGIN", True)]


def test_auth_wrong_password_defers_with_server_reply(outbound, certs, pubdir):
    sink = tls_sink(certs["server"], auth={"alice": "right"}, auth_required=True)
    try:
        pw = table(pubdir, "sasl_passwd", "[127.0.0.1]:%d alice:wrong\n" % sink.port)
        ob = outbound(relay(sink, smtp_tls_security_level="encrypt",
                            smtp_sasl_password_maps="texthash:%s" % pw, **SASL, **QUIET))
        qid = ob.submit(["a@remote.test"])
        line = ob.wait_status(qid, "a@remote.test", "deferred")
        assert "dsn=4.7.0" in line
        assert ("SASL authentication failed; server 127.0.0.1[127.0.0.1]:%d said: "
                "535 5.7.8 Error: authentication failed" % sink.port) in line
        assert sink.messages == []
        assert not any(c.upper().startswith("MAIL") for _i, c in sink.commands)
    finally:
        sink.stop()


def test_noplaintext_refuses_plain_without_tls(outbound, pubdir):
    with SmtpSink() as sink:
        sink.auth = {"alice": "pw"}
        sink.auth_required = True
        pw = table(pubdir, "sasl_passwd", "[127.0.0.1]:%d alice:pw\n" % sink.port)
        # Default smtp_sasl_security_options: noplaintext, noanonymous.
        ob = outbound(relay(sink, smtp_sasl_auth_enable="yes",
                            smtp_sasl_password_maps="texthash:%s" % pw, **QUIET))
        qid = ob.submit(["a@remote.test"])
        line = ob.wait_status(qid, "a@remote.test", "deferred")
        assert "no mechanism available" in line and "dsn=4.7.0" in line
        assert sink.auth_attempts == []
        assert not any(c.upper().startswith("AUTH") for _i, c in sink.commands)


def test_no_credentials_sends_without_auth(outbound, pubdir):
    with SmtpSink() as sink:
        sink.auth = {"alice": "pw"}
        pw = table(pubdir, "sasl_passwd", "[other.test]:587 alice:pw\n")
        ob = outbound(relay(sink, smtp_sasl_password_maps="texthash:%s" % pw, **SASL))
        qid = ob.submit(["a@remote.test"])
        ob.wait_status(qid, "a@remote.test", "sent")
        assert sink.messages[0].auth_user is None
        assert "AUTH" not in sink.messages[0].mail_params


# ------------------------------------------------------------ Postern to Postern


def test_postern_relays_to_postern_with_starttls_and_auth(outbound, tlssys, certs, pubdir):
    saslpasswd2 = shutil.which("saslpasswd2") or "/usr/sbin/saslpasswd2"
    if not os.path.exists(saslpasswd2):
        pytest.skip("saslpasswd2 not installed")
    from test_smtpd_sasl import REALM, sasl_setup
    from test_smtpd import DOMAIN
    sasl_dir = sasl_setup(pubdir, mechs="PLAIN LOGIN")
    inbound = tlssys({"smtpd_sasl_auth_enable": "yes",
                      "cyrus_sasl_config_path": str(sasl_dir),
                      "smtpd_sasl_local_domain": REALM,
                      "smtpd_tls_auth_only": "yes",
                      "smtpd_tls_loglevel": "1",
                      "smtpd_relay_restrictions": "permit_sasl_authenticated, reject"})
    ca = pubdir / "inbound-ca.pem"
    shutil.copy(inbound.certdir / "server.pem", ca)
    os.chmod(ca, 0o644)
    pw = table(pubdir, "sasl_passwd", "[127.0.0.1]:%d alice:alice-secret\n" % inbound.port)
    user = inbound.users[0]
    ob = outbound({"relayhost": "[127.0.0.1]:%d" % inbound.port,
                   "smtp_tls_security_level": "verify", "smtp_tls_CAfile": str(ca),
                   "smtp_tls_verify_cert_match": DOMAIN, "smtp_tls_loglevel": "1",
                   "smtp_sasl_auth_enable": "yes",
                   "smtp_sasl_security_options": "noanonymous",
                   "smtp_sasl_password_maps": "texthash:%s" % pw})
    qid = ob.submit(["%s@%s" % (user, DOMAIN)], b"through two posterns\r\n")
    ob.wait_status(qid, "%s@%s" % (user, DOMAIN), "sent")
    msgs = inbound.wait_messages(user, 1)
    assert b"through two posterns" in msgs[0]
    assert "Verified TLS connection established to" in ob.log()
    inlog = inbound.inst.log()
    assert "sasl_method=" in inlog and "sasl_username=alice" in inlog
    # The same relay without AUTH is refused by the inbound side.
    with smtplib.SMTP("127.0.0.1", inbound.port, timeout=30) as s:
        s.starttls()
        s.ehlo("x.test")
        s.mail(SENDER)
        code, _ = s.rcpt("%s@%s" % (user, DOMAIN))
        assert code >= 500


def test_tls_security_options_apply_under_tls(outbound, certs, pubdir):
    sink = tls_sink(certs["server"], auth={"alice": "pw"}, auth_required=True)
    try:
        pw = table(pubdir, "sasl_passwd", "[127.0.0.1]:%d alice:pw\n" % sink.port)
        # Plain sessions keep the default noplaintext; TLS ones allow PLAIN.
        ob = outbound(relay(sink, smtp_tls_security_level="encrypt",
                            smtp_sasl_auth_enable="yes",
                            smtp_sasl_tls_security_options="noanonymous",
                            smtp_sasl_password_maps="texthash:%s" % pw))
        qid = ob.submit(["a@remote.test"])
        ob.wait_status(qid, "a@remote.test", "sent")
        assert sink.messages[0].auth_user == "alice"
    finally:
        sink.stop()


def test_sni_servername(outbound, certs):
    sink = tls_sink(certs["server"])
    try:
        ob = outbound(relay(sink, smtp_tls_security_level="may",
                            smtp_tls_servername="mail.sni.test"))
        qid = ob.submit(["a@remote.test"])
        ob.wait_status(qid, "a@remote.test", "sent")
        assert sink.messages[0].tls_sni == "mail.sni.test"
    finally:
        sink.stop()
    sink = tls_sink(certs["server"])
    try:
        # "hostname" for an address literal: no SNI at all (RFC 6066).
        ob = outbound(relay(sink, smtp_tls_security_level="may",
                            smtp_tls_servername="hostname"))
        qid = ob.submit(["a@remote.test"])
        ob.wait_status(qid, "a@remote.test", "sent")
        assert sink.messages[0].tls and sink.messages[0].tls_sni is None
    finally:
        sink.stop()


def test_tls_sessions_are_not_cached(outbound, certs):
    sink = tls_sink(certs["server"])
    try:
        ob = outbound(relay(sink, smtp_tls_security_level="may",
                            smtp_connection_cache_on_demand="yes"), cache=True)
        q1 = ob.submit(["a@remote.test"])
        ob.wait_status(q1, "a@remote.test", "sent")
        q2 = ob.submit(["b@remote.test"])
        ob.wait_status(q2, "b@remote.test", "sent")
        assert len(sink.messages) == 2
        assert all(m.tls for m in sink.messages)
        # Each delivery made its own TLS connection and said QUIT.
        assert sink.connections == 2 and sink.tls_handshakes == 2
        assert len([c for _i, c in sink.commands if c.upper() == "QUIT"]) == 2
    finally:
        sink.stop()


def test_mandatory_protocols_floor(outbound, certs, pubdir):
    sink = tls_sink(certs["server"], tls_max_version="TLSv1.2")
    try:
        # Opportunistic TLS uses smtp_tls_protocols: TLS 1.2 is fine.
        ob = outbound(relay(sink, smtp_tls_security_level="may",
                            smtp_tls_mandatory_protocols="TLSv1.3"))
        qid = ob.submit(["a@remote.test"])
        ob.wait_status(qid, "a@remote.test", "sent")
        assert sink.messages[0].tls_version == "TLSv1.2"
        # At encrypt the mandatory floor applies: no handshake, deferred.
        ob2 = outbound(relay(sink, smtp_tls_security_level="encrypt",
                             smtp_tls_mandatory_protocols="TLSv1.3", **QUIET))
        qid = ob2.submit(["b@remote.test"])
        line = ob2.wait_status(qid, "b@remote.test", "deferred")
        assert "Cannot start TLS" in line and "dsn=4.7.5" in line
        # The same floor from a policy entry's protocols= attribute.
        policy = table(pubdir, "tls_policy",
                       "[127.0.0.1]:%d encrypt protocols=>=TLSv1.3\n" % sink.port)
        ob3 = outbound(relay(sink, smtp_tls_security_level="may",
                             smtp_tls_policy_maps="texthash:%s" % policy, **QUIET))
        qid = ob3.submit(["c@remote.test"])
        line = ob3.wait_status(qid, "c@remote.test", "deferred")
        assert "Cannot start TLS" in line
        assert len(sink.messages) == 1
    finally:
        sink.stop()
