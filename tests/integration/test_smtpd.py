"""smtpd end to end: a real instance (master, smtpd, cleanup, qmgr, local,
bounce) on loopback, driven with smtplib, raw sockets and swaks.

The client name lookup is off (smtpd_peername_lookup=no): no test touches
DNS. Mail goes to local users (real ones when run as root)."""

import concurrent.futures
import os
import shutil
import signal
import smtplib
import socket
import subprocess
import time

import pytest

from conftest import wait_for
from test_local_mail import (IS_ROOT, MAIL_MASTER_CF, MailSystem, body_of,
                             header, make_user, remove_user)

SMTPD_LINE = "127.0.0.1:{port0} inet n - n - 20 smtpd -o smtpd_peername_lookup=no\n"
DOMAIN = "mx.test.invalid"


@pytest.fixture
def smtpsys(instance_factory, run, bin_path):
    for prog in ("smtpd", "cleanup", "qmgr", "local", "bounce", "pickup", "anvil"):
        bin_path(prog)
    made = []

    def make(settings=None, users=2, master_extra=""):
        inst = instance_factory(master_cf=SMTPD_LINE + MAIL_MASTER_CF + master_extra,
                                start=False, settings={
                                    "myhostname": DOMAIN,
                                    "mydomain": "test.invalid",
                                    "mydestination": "$myhostname, localhost",
                                    **(settings or {}),
                                })
        spool = inst.base / "mail"
        spool.mkdir()
        os.chmod(spool, 0o1777)
        if IS_ROOT:
            names = [make_user(inst.base) for _ in range(users)]
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
        wait_for(lambda: _can_connect(ms.port), 10, what="smtpd listening")
        return ms

    yield make
    for name in made:
        remove_user(name)


def _can_connect(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
            s.settimeout(5)
            s.recv(512)
        return True
    except OSError:
        return False


class Raw:
    """A raw SMTP client that reads whole replies."""

    def __init__(self, port, source=None, timeout=60):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=timeout,
                                          source_address=(source, 0) if source else None)
        self.buf = b""

    def send(self, data):
        self.s.sendall(data)

    def reply(self):
        """One complete (possibly multi-line) reply as text."""
        lines = []
        while True:
            while b"\r\n" not in self.buf:
                chunk = self.s.recv(4096)
                if not chunk:
                    raise EOFError(b"".join(lines) + self.buf)
                self.buf += chunk
            line, self.buf = self.buf.split(b"\r\n", 1)
            lines.append(line)
            if len(line) < 4 or line[3:4] != b"-":
                return b"\n".join(lines).decode(errors="replace")

    def cmd(self, line):
        self.send(line.encode() + b"\r\n" if isinstance(line, str) else line)
        return self.reply()

    def closed(self):
        try:
            return self.s.recv(1) == b""
        except OSError:
            return True

    def close(self):
        self.s.close()


def greet(port, **kw):
    c = Raw(port, **kw)
    assert c.reply().startswith("220 ")
    assert c.cmd("EHLO client.test").startswith("250")
    return c


def queue_files(ms):
    out = []
    for sub in ("incoming", "active", "deferred", "hold"):
        for root, _dirs, files in os.walk(ms.inst.queue_dir / sub):
            out += [os.path.join(root, f) for f in files]
    return out


# --------------------------------------------------------------- protocol

def test_smtplib_delivery_and_received_header(smtpsys):
    ms = smtpsys()
    user = ms.users[0]
    with smtplib.SMTP("127.0.0.1", ms.port, timeout=30) as s:
        code, text = s.ehlo("client.test")
        assert code == 250
        for kw in (b"PIPELINING", b"SIZE", b"ENHANCEDSTATUSCODES", b"8BITMIME",
                   b"DSN", b"SMTPUTF8", b"CHUNKING", b"ETRN", b"VRFY"):
            assert kw in text
        s.sendmail("alice@example.org", [f"{user}@{DOMAIN}"],
                   b"Subject: hello\r\n\r\nline one\r\n..leading dot\r\n")
    (raw,) = ms.wait_messages(user, 1)
    rec = header(raw, "Received")[0]
    assert "from client.test" in rec and "127.0.0.1" in rec and "with ESMTP" in rec
    assert b"line one\n..leading dot\n" in body_of(raw)   # smtplib stuffs, we unstuff
    log = ms.inst.wait_log(": client=unknown[127.0.0.1]") and ms.inst.log()
    assert "connect from unknown[127.0.0.1]" in log
    ms.inst.wait_log("disconnect from unknown[127.0.0.1] ehlo=1 mail=1 rcpt=1 data=1 quit=1 commands=5")


def test_every_command_reply(smtpsys):
    ms = smtpsys()
    user = ms.users[0]
    c = Raw(ms.port)
    assert c.reply() == f"220 {DOMAIN} ESMTP Postern"
    assert c.cmd("ETRN example.com").startswith("503 5.5.1")
    assert c.cmd("HELO client.test") == f"250 {DOMAIN}"
    assert c.cmd("EHLO").startswith("501 5.5.4")
    assert c.cmd("EHLO client.test").startswith(f"250-{DOMAIN}")
    assert c.cmd("NOOP") == "250 2.0.0 Ok"
    assert c.cmd("HELP").startswith("214 2.0.0")
    assert c.cmd("VRFY root").startswith("252 2.0.0")
    assert c.cmd("EXPN root").startswith("502 5.5.1")
    assert c.cmd("XYZZY").startswith("500 5.5.2")
    assert c.cmd("RCPT TO:<a@b>").startswith("503 5.5.1")
    assert c.cmd("DATA").startswith("503 5.5.1")
    assert c.cmd("MAIL FROM:a@b").startswith("501 5.1.7")
    assert c.cmd("MAIL FROM:<a@b> BOGUS=1").startswith("555 5.5.4")
    assert c.cmd("MAIL FROM:<a@example.org>") == "250 2.1.0 Ok"
    assert c.cmd("MAIL FROM:<a@example.org>").startswith("503 5.5.1")
    assert c.cmd("RCPT TO:<bad address>").startswith("501 5.1.3")
    assert c.cmd(f"RCPT TO:<{user}@{DOMAIN}>") == "250 2.1.5 Ok"
    assert c.cmd("RSET") == "250 2.0.0 Ok"
    assert c.cmd("DATA").startswith("503 5.5.1")
    assert c.cmd("NOOP " + "x" * 5000).startswith("500 5.5.2")
    assert c.cmd("NOOP") == "250 2.0.0 Ok"
    # example.com is not in fast_flush_domains (test_flush.py covers the
    # rest of ETRN).
    assert c.cmd("ETRN example.com") == "459 4.7.1 <example.com>: service unavailable"
    assert c.cmd("QUIT") == "221 2.0.0 Bye"
    assert c.closed()


def test_vrfy_disabled_and_keywords_discarded(smtpsys):
    ms = smtpsys({"disable_vrfy_command": "yes",
                  "smtpd_discard_ehlo_keywords": "chunking, dsn"})
    c = Raw(ms.port)
    c.reply()
    ehlo = c.cmd("EHLO client.test")
    assert "VRFY" not in ehlo and "CHUNKING" not in ehlo and "DSN" not in ehlo
    assert "PIPELINING" in ehlo
    assert c.cmd("VRFY root").startswith("502 5.5.1")
    c.close()


def test_pipelined_session(smtpsys):
    ms = smtpsys()
    user = ms.users[0]
    c = greet(ms.port)
    c.send(f"MAIL FROM:<p@example.org>\r\nRCPT TO:<{user}@{DOMAIN}>\r\n"
           f"RCPT TO:<{ms.users[-1]}@{DOMAIN}>\r\nDATA\r\n".encode())
    assert c.reply() == "250 2.1.0 Ok"
    assert c.reply() == "250 2.1.5 Ok"
    assert c.reply() == "250 2.1.5 Ok"
    assert c.reply().startswith("354 ")
    c.send(b"Subject: piped\r\n\r\nbody\r\n.\r\nQUIT\r\n")
    assert c.reply().startswith("250 2.0.0 Ok: queued as ")
    assert c.reply() == "221 2.0.0 Bye"
    ms.wait_messages(user, 1)


def test_early_talker_is_refused(smtpsys):
    ms = smtpsys()
    s = socket.create_connection(("127.0.0.1", ms.port), timeout=60)
    s.sendall(b"EHLO early\r\n")
    data = b""
    while True:
        chunk = s.recv(4096)
        if not chunk:
            break
        data += chunk
    assert b"554 5.5.0 Error: SMTP protocol synchronization" in data
    assert b"220 " not in data
    s.close()


def test_pipelining_before_ehlo_reply_is_refused(smtpsys):
    ms = smtpsys()
    c = Raw(ms.port)
    c.reply()
    c.send(b"EHLO client.test\r\nMAIL FROM:<a@example.org>\r\n")
    assert "554 5.5.0" in c.reply()
    assert c.closed()


# --------------------------------------------------------------- smuggling

@pytest.mark.parametrize("eod", [b"\n.\n", b"\r.\r", b"\r\n.\n", b"\n.\r\n"])
def test_smuggling_never_splits_a_message(smtpsys, eod):
    ms = smtpsys()
    user, victim = ms.users[0], ms.users[-1]
    c = greet(ms.port)
    assert c.cmd("MAIL FROM:<honest@example.org>").startswith("250")
    assert c.cmd(f"RCPT TO:<{user}@{DOMAIN}>").startswith("250")
    assert c.cmd("DATA").startswith("354")
    c.send(b"Subject: outer\r\n\r\nfirst part" + eod +
           f"MAIL FROM:<evil@example.org>\r\nRCPT TO:<{victim}@{DOMAIN}>\r\nDATA\r\n"
           "Subject: smuggled\r\n\r\nsecond\r\n.\r\n".encode())
    r = c.reply()
    assert r.startswith("250 2.0.0 Ok: queued as"), r
    assert c.cmd("QUIT").startswith("221")
    (raw,) = ms.wait_messages(user, 1)
    assert b"Subject: smuggled" in raw and b"evil@example.org" in raw
    time.sleep(1)
    if victim != user:
        assert ms.messages(victim) == []
    else:
        assert len(ms.messages(user)) == 1
    assert ms.inst.log().count(": client=") == 1


def test_bare_lf_rejected_when_configured(smtpsys):
    ms = smtpsys({"smtpd_forbid_bare_newline": "yes"})
    user = ms.users[0]
    c = greet(ms.port)
    c.cmd("MAIL FROM:<a@example.org>")
    c.cmd(f"RCPT TO:<{user}@{DOMAIN}>")
    assert c.cmd("DATA").startswith("354")
    c.send(b"Subject: x\r\n\r\nbad\n.\nMAIL FROM:<e@x>\r\n")
    assert c.reply().startswith("521 5.5.2")
    assert c.closed()
    time.sleep(1)
    assert queue_files(ms) == [] and ms.messages(user) == []


# --------------------------------------------------------------- limits

def test_size_limits(smtpsys):
    ms = smtpsys({"message_size_limit": "20000"})
    user = ms.users[0]
    c = greet(ms.port)
    assert c.cmd("MAIL FROM:<a@example.org> SIZE=30000").startswith("552 5.3.4")
    ms.inst.wait_log("NOQUEUE: reject: MAIL from unknown[127.0.0.1]: 552 5.3.4 "
                     "Message size exceeds fixed limit; from=<a@example.org>")
    assert c.cmd("MAIL FROM:<a@example.org> SIZE=100").startswith("250")
    c.cmd(f"RCPT TO:<{user}@{DOMAIN}>")
    assert c.cmd("DATA").startswith("354")
    c.send(b"Subject: big\r\n\r\n" + b"0123456789012345678901234567890123456789\r\n" * 1000
           + b".\r\n")
    assert c.reply().startswith("552 5.3.4")
    assert c.cmd("NOOP") == "250 2.0.0 Ok"
    c.close()
    time.sleep(1)
    assert queue_files(ms) == [] and ms.messages(user) == []


def test_recipient_limit(smtpsys):
    ms = smtpsys({"smtpd_recipient_limit": "2"})
    user = ms.users[0]
    c = greet(ms.port)
    c.cmd("MAIL FROM:<a@example.org>")
    assert c.cmd(f"RCPT TO:<{user}@{DOMAIN}>").startswith("250")
    assert c.cmd(f"RCPT TO:<{user}@{DOMAIN}>").startswith("250")
    assert c.cmd(f"RCPT TO:<{user}@{DOMAIN}>").startswith("452 4.5.3")
    c.close()


def test_slow_client_times_out(smtpsys):
    ms = smtpsys({"smtpd_timeout": "2s"})
    c = Raw(ms.port)
    c.reply()
    time.sleep(3)
    assert c.reply().startswith("421 4.4.2")
    assert c.closed()


def test_hard_error_limit(smtpsys):
    ms = smtpsys({"smtpd_hard_error_limit": "3", "smtpd_error_sleep_time": "0"})
    c = Raw(ms.port)
    c.reply()
    for _ in range(3):
        assert c.cmd("BOGUS").startswith("500")
    assert c.reply().startswith("421 4.7.0")
    assert c.closed()


def test_kill_during_data_leaves_nothing(smtpsys):
    ms = smtpsys()
    user = ms.users[0]
    c = greet(ms.port)
    c.cmd("MAIL FROM:<a@example.org>")
    c.cmd(f"RCPT TO:<{user}@{DOMAIN}>")
    assert c.cmd("DATA").startswith("354")
    c.send(b"Subject: half\r\n\r\nsome content\r\n")
    time.sleep(0.5)
    conf = str(ms.inst.config_dir)
    pids = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/cmdline", "rb") as f:
                argv = f.read().split(b"\0")
        except OSError:
            continue
        if argv and (argv[0] == b"smtpd" or argv[0].endswith(b"/smtpd")) \
                and conf.encode() in b" ".join(argv):
            pids.append(int(d))
    assert pids, "no smtpd process found"
    for pid in pids:
        os.kill(pid, signal.SIGKILL)
    assert c.closed()
    time.sleep(2)
    assert queue_files(ms) == [] and ms.messages(user) == []


def test_stop_sends_421_to_connected_client(smtpsys):
    ms = smtpsys()
    c = Raw(ms.port)
    assert c.reply().startswith("220 ")
    assert c.cmd("EHLO client.test").startswith("250")
    ms.inst.stop()
    line = c.reply()
    assert line.startswith("421 4.3.2"), line
    assert DOMAIN in line
    assert c.closed()


# --------------------------------------------------------------- extensions

def test_bdat(smtpsys):
    ms = smtpsys()
    user = ms.users[0]
    c = greet(ms.port)
    c.cmd("MAIL FROM:<a@example.org>")
    c.cmd(f"RCPT TO:<{user}@{DOMAIN}>")
    part1 = b"Subject: chunks\r\n\r\nline\r\n.\r\n"
    part2 = b"after dot\r\n"
    assert c.cmd(b"BDAT %d\r\n" % len(part1) + part1) == f"250 2.0.0 Ok: {len(part1)} bytes"
    assert c.cmd(b"BDAT %d LAST\r\n" % len(part2) + part2).startswith("250 2.0.0 Ok: queued as")
    (raw,) = ms.wait_messages(user, 1)
    assert b"line\n.\nafter dot\n" in body_of(raw)


def test_long_line_is_delivered(smtpsys):
    ms = smtpsys()
    user = ms.users[0]
    line = b"".join(b"%09d," % i for i in range(10000))     # 100 kB, one line
    c = greet(ms.port)
    c.cmd("MAIL FROM:<a@example.org>")
    c.cmd(f"RCPT TO:<{user}@{DOMAIN}>")
    assert c.cmd("DATA").startswith("354")
    assert c.cmd(b"Subject: long\r\n\r\n" + line + b"\r\nend\r\n.\r\n").startswith("250 2.0.0")
    (raw,) = ms.wait_messages(user, 1)
    body = body_of(raw)
    # Postfix-style folding may break the line; no byte may be lost.
    assert body.replace(b"\n", b"").startswith(line)
    assert body.endswith(b"end\n")


def test_smtputf8_address(smtpsys):
    ms = smtpsys()
    user = ms.users[0]
    c = greet(ms.port)
    assert c.cmd("MAIL FROM:<j\u00fcrgen@example.org>").startswith("553 5.6.7")
    assert c.cmd("MAIL FROM:<j\u00fcrgen@example.org> SMTPUTF8").startswith("250")
    assert c.cmd(f"RCPT TO:<{user}@{DOMAIN}>").startswith("250")
    assert c.cmd("DATA").startswith("354")
    assert c.cmd(b"Subject: utf8\r\n\r\nhi\r\n.\r\n").startswith("250 2.0.0")
    (raw,) = ms.wait_messages(user, 1)
    assert "j\u00fcrgen@example.org".encode() in raw


def test_dsn_parameters_reach_the_bounce(smtpsys):
    ms = smtpsys({"smtpd_reject_unlisted_recipient": "no"})
    user = ms.users[0]
    c = greet(ms.port)
    assert c.cmd(f"MAIL FROM:<{user}@{DOMAIN}> RET=HDRS ENVID=env+2Bid42").startswith("250")
    r = c.cmd(f"RCPT TO:<nosuchuser@{DOMAIN}> NOTIFY=FAILURE ORCPT=rfc822;orig+40example.org")
    assert r.startswith("250"), r
    assert c.cmd("DATA").startswith("354")
    assert c.cmd(b"Subject: dsn\r\n\r\nbody text\r\n.\r\n").startswith("250")
    (raw,) = ms.wait_messages(user, 1, timeout=60)
    assert b"env+id42" in raw
    assert b"orig@example.org" in raw
    assert b"body text" not in raw          # RET=HDRS


def test_swaks_delivery(smtpsys):
    if shutil.which("swaks") is None:
        pytest.skip("swaks not installed")
    ms = smtpsys()
    user = ms.users[0]
    r = subprocess.run(["swaks", "--server", "127.0.0.1", "--port", str(ms.port),
                        "--from", "s@example.org", "--to", f"{user}@{DOMAIN}",
                        "--pipeline", "--body", "via swaks"],
                       capture_output=True, timeout=60)
    assert r.returncode == 0, r.stdout.decode() + r.stderr.decode()
    (raw,) = ms.wait_messages(user, 1)
    assert b"via swaks" in raw


def test_relay_denied_outside_mynetworks(smtpsys):
    ms = smtpsys({"mynetworks": "127.0.0.1/32",
                  "smtpd_relay_restrictions": "permit_mynetworks, reject_unauth_destination"})
    c = greet(ms.port, source="127.0.0.2")
    assert c.cmd("MAIL FROM:<a@example.org>").startswith("250")
    r = c.cmd("RCPT TO:<victim@elsewhere.example>")
    assert r.startswith("554 5.7.1") and "Relay access denied" in r
    ms.inst.wait_log("NOQUEUE: reject: RCPT from unknown[127.0.0.2]: 554 5.7.1 "
                     "<victim@elsewhere.example>: Relay access denied")
    assert c.cmd(f"RCPT TO:<{ms.users[0]}@{DOMAIN}>").startswith("250")
    c.close()


def test_relay_deferred_by_default_outside_mynetworks(smtpsys):
    ms = smtpsys({"mynetworks": "127.0.0.1/32"})
    c = greet(ms.port, source="127.0.0.2")
    assert c.cmd("MAIL FROM:<a@example.org>").startswith("250")
    assert c.cmd("RCPT TO:<victim@elsewhere.example>").startswith("454 4.7.1")
    c.close()


def test_restriction_config_error_answers_451(smtpsys):
    ms = smtpsys({"smtpd_recipient_restrictions": "permit_mynetworks, no_such_restriction"})
    c = Raw(ms.port)
    assert c.reply().startswith("220 ")
    assert c.cmd("EHLO client.test")[:3] in ("250", "451")
    r = c.cmd("MAIL FROM:<a@example.org>")
    if r.startswith("250"):
        r = c.cmd(f"RCPT TO:<{ms.users[0]}@{DOMAIN}>")
    assert r.startswith("451 4.3.5"), r
    assert c.cmd("DATA").startswith("5")    # nothing was accepted
    ms.inst.wait_log("no_such_restriction")
    c.close()


def test_cleanup_unavailable_gives_451(smtpsys):
    ms = smtpsys()
    user = ms.users[0]
    os.unlink(ms.inst.queue_dir / "public" / "cleanup")
    c = greet(ms.port)
    c.cmd("MAIL FROM:<a@example.org>")
    c.cmd(f"RCPT TO:<{user}@{DOMAIN}>")
    assert c.cmd("DATA").startswith("451 4.3.0")
    assert c.cmd("QUIT").startswith("221")


ANVIL_LINE = "anvil     unix  -       -       n       -       1       anvil\n"


def test_connection_count_limit_via_anvil(smtpsys):
    ms = smtpsys({"smtpd_client_connection_count_limit": "1",
                  "smtpd_client_event_limit_exceptions": ""}, master_extra=ANVIL_LINE)
    def try_greet():
        c = Raw(ms.port)
        if c.reply().startswith("220"):
            return c
        c.close()
        return None

    # The fixture's probe connection may still be counted for a moment.
    first = wait_for(try_greet, 10, what="a first connection")
    assert first.cmd("EHLO client.test").startswith("250")
    second = Raw(ms.port)
    r = second.reply()
    assert r.startswith("421 4.7.0") and "too many connections" in r, r
    assert second.closed()
    first.cmd("QUIT")
    first.close()
    # The slot is free again once the first session has ended.
    third = wait_for(try_greet, 10, what="a connection slot")
    third.close()


def test_message_rate_limit_via_anvil(smtpsys):
    ms = smtpsys({"smtpd_client_message_rate_limit": "2",
                  "smtpd_client_event_limit_exceptions": ""}, master_extra=ANVIL_LINE)
    c = greet(ms.port)
    assert c.cmd("MAIL FROM:<a@example.org>").startswith("250")
    assert c.cmd("RSET").startswith("250")
    assert c.cmd("MAIL FROM:<a@example.org>").startswith("250")
    assert c.cmd("RSET").startswith("250")
    r = c.cmd("MAIL FROM:<a@example.org>")
    assert r.startswith("452 4.3.2") and "too much mail" in r, r
    c.close()


def test_200_concurrent_connections(smtpsys):
    ms = smtpsys({"smtpd_client_connection_count_limit": "0"}, users=1)
    user = ms.users[0]

    def one(i):
        for attempt in range(5):
            try:
                with smtplib.SMTP("127.0.0.1", ms.port, timeout=120) as s:
                    s.sendmail("c@example.org", [f"{user}@{DOMAIN}"],
                               f"Subject: n{i}\r\n\r\nmsg {i}\r\n".encode())
                return True
            except (smtplib.SMTPException, OSError):
                time.sleep(0.5)
        return False

    with concurrent.futures.ThreadPoolExecutor(max_workers=200) as ex:
        results = list(ex.map(one, range(200)))
    assert all(results)
    msgs = ms.wait_messages(user, 200, timeout=180)
    assert len(msgs) == 200
