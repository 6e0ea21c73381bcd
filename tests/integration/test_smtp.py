"""The SMTP/LMTP delivery agent (smtp/) end to end: a real instance
(smtpd -> cleanup -> qmgr -> smtp) delivering to Python sinks on loopback
(smtpsink.py), with dnsmasq (dnsd.py) serving MX and A records that point
at 127.0.0.x addresses where the sinks listen. Nothing leaves the host.

Mail is submitted to the instance's smtpd with smtplib, so that ESMTP
parameters (BODY=8BITMIME, SMTPUTF8, DSN) reach the queue file as they
would from a real client.
"""

import os
import select
import shutil
import smtplib
import socket
import tempfile
import threading
import time
import urllib.parse

import pytest

from conftest import wait_for
from dnsd import dnsd, FakeDnsServer  # noqa: F401  (dnsd is a fixture)
from smtpsink import SmtpSink

MASTER_CF = """\
127.0.0.1:{port0} inet n - n - - smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
lmtp      unix  -       -       n       -       -       smtp
error     unix  -       -       n       -       -       error
"""

SCACHE_CF = "scache    unix  -       -       n       -       1       scache\n"

SENDER = "owner@postern.test.invalid"


class Outbound:
    """An instance that relays what its smtpd receives."""

    def __init__(self, inst):
        self.inst = inst
        self.port = inst.ports[0]

    def submit(self, rcpts, body=None, sender=SENDER, mail_options=(),
               rcpt_options=(), subject="test"):
        """Send one message through the instance's smtpd; its queue ID."""
        if body is None:
            body = b"hello\r\n"
        if isinstance(body, str):
            body = body.encode()
        msg = (b"From: <%s>\r\nTo: <%s>\r\nSubject: %s\r\n\r\n" % (
            sender.encode(), rcpts[0].encode(), subject.encode())) + body
        with smtplib.SMTP("127.0.0.1", self.port, timeout=30) as s:
            s.ehlo("client.test")
            code, resp = s.mail(sender, list(mail_options))
            assert code == 250, resp
            for r in rcpts:
                code, resp = s.rcpt(r, list(rcpt_options))
                assert code == 250, resp
            code, resp = s.data(msg)
            assert code == 250, resp
        text = resp.decode()
        assert "queued as " in text, text
        return text.split("queued as ")[1].split()[0]

    def log(self):
        return self.inst.log()

    def lines(self, qid, what=""):
        """Log lines of the delivery agent for one queue ID."""
        return [l for l in self.log().splitlines()
                if "%s: to=<" % qid in l and what in l]

    def wait_status(self, qid, rcpt, status, timeout=30):
        """Wait for the delivery line of rcpt with this status; return it."""
        needle = "%s: to=<%s>" % (qid, rcpt)

        def find():
            for l in self.log().splitlines():
                if needle in l and "status=%s" % status in l:
                    return l
            return None
        return wait_for(find, timeout,
                        what="%s status=%s\n%s" % (needle, status, self.log()[-4000:]))


@pytest.fixture
def outbound(instance_factory, bin_path):
    """Factory: outbound(settings) -> an Outbound around a started instance."""
    for prog in ("smtpd", "cleanup", "qmgr", "smtp", "bounce", "pickup"):
        bin_path(prog)

    def make(settings=None, cache=False, start=True):
        cf = MASTER_CF + (SCACHE_CF if cache else "")
        base = {
            "myhostname": "postern.test.invalid",
            "mydomain": "test.invalid",
            "queue_run_delay": "1s",
            "minimal_backoff_time": "1s",
            "maximal_backoff_time": "2s",
            "smtp_connect_timeout": "5s",
            "smtp_helo_timeout": "10s",
            "smtp_connection_cache_on_demand": "yes" if cache else "no",
        }
        base.update(settings or {})
        inst = instance_factory(master_cf=cf, settings=base, start=start)
        return Outbound(inst)

    return make


@pytest.fixture
def pubdir():
    """A directory every user can reach (the instance's services run as
    mail_owner and must read tables and reach sockets in it)."""
    path = tempfile.mkdtemp(prefix="postern-smtp-", dir="/tmp")
    os.chmod(path, 0o755)
    yield __import__("pathlib").Path(path)
    shutil.rmtree(path, ignore_errors=True)


def sinks_on_one_port(*hosts, lmtp=False):
    """Start one SmtpSink per loopback address, all on the same port."""
    for _ in range(20):
        first = SmtpSink(host=hosts[0], port=0, lmtp=lmtp)
        first.start()
        started = [first]
        try:
            for h in hosts[1:]:
                s = SmtpSink(host=h, port=first.port, lmtp=lmtp)
                s.start()
                started.append(s)
            return started
        except OSError:
            for s in started:
                s.stop()
    raise RuntimeError("no common free port on %s" % (hosts,))


def free_port_on(host):
    s = socket.socket()
    s.bind((host, 0))
    port = s.getsockname()[1]
    s.close()
    return port


# ------------------------------------------------------------ relayhost


def test_relayhost_delivery_and_log_shape(outbound):
    with SmtpSink() as sink:
        ob = outbound({"relayhost": "[127.0.0.1]:%d" % sink.port,
                       "smtp_helo_name": "helo.postern.test"})
        qid = ob.submit(["ann@remote.test", "bob@remote.test"], b"line one\r\nline two\r\n")
        assert sink.wait_messages(1, 30), ob.log()[-3000:]
        line = ob.wait_status(qid, "ann@remote.test", "sent")
        ob.wait_status(qid, "bob@remote.test", "sent")
        msg = sink.messages[0]
        assert msg.mail_from == SENDER
        assert sorted(msg.rcpts) == ["ann@remote.test", "bob@remote.test"]
        assert msg.helo == "helo.postern.test"
        assert b"line one\r\nline two\r\n" in msg.data
        assert b"Subject: test\r\n" in msg.data
        # One transaction for both recipients; SIZE= sent since offered.
        assert len(sink.messages) == 1
        assert "SIZE" in msg.mail_params
        # Postfix's shape.
        assert "relay=127.0.0.1[127.0.0.1]:%d, delay=" % sink.port in line
        assert ", delays=" in line and ", dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as " in line


def test_transport_maps_to_sink(outbound, pubdir):
    with SmtpSink() as sink:
        table = pubdir / "transport"
        table.write_text("mapped.test smtp:[127.0.0.1]:%d\n" % sink.port)
        os.chmod(table, 0o644)
        ob = outbound({"transport_maps": "texthash:%s" % table})
        qid = ob.submit(["x@mapped.test"])
        ob.wait_status(qid, "x@mapped.test", "sent")
        assert sink.messages[0].rcpts == ["x@mapped.test"]


# ------------------------------------------------------------ results


def test_mixed_recipient_results(outbound):
    with SmtpSink() as sink:
        sink.rcpt_reply = {"later@remote.test": "451 4.3.0 try later",
                           "bad@remote.test": "550 5.1.1 no such user"}
        ob = outbound({"relayhost": "[127.0.0.1]:%d" % sink.port,
                       "queue_run_delay": "300s", "minimal_backoff_time": "300s"})
        qid = ob.submit(["good@remote.test", "later@remote.test", "bad@remote.test"])
        ob.wait_status(qid, "good@remote.test", "sent")
        deferred = ob.wait_status(qid, "later@remote.test", "deferred")
        bounced = ob.wait_status(qid, "bad@remote.test", "bounced")
        relay = "127.0.0.1[127.0.0.1]:%d" % sink.port
        assert "dsn=4.3.0" in deferred
        assert ("(host %s said: 451 4.3.0 try later (in reply to RCPT TO command))"
                % relay) in deferred
        assert "dsn=5.1.1" in bounced
        assert ("(host %s said: 550 5.1.1 no such user (in reply to RCPT TO command))"
                % relay) in bounced
        assert len(sink.messages) == 1 and sink.messages[0].rcpts == ["good@remote.test"]
        # The deferred recipient keeps the message in the queue, with its
        # reason in the defer log.
        q = ob.inst.queue_dir

        def in_deferred():
            return any(qid in files for _r, _d, files in os.walk(q / "deferred"))
        wait_for(in_deferred, 20, what="message in deferred/")
        logs = [os.path.join(r, f) for r, _d, files in os.walk(q / "defer")
                for f in files if f == qid]
        assert logs, "no defer log for %s" % qid
        assert "try later" in urllib.parse.unquote(open(logs[0], errors="replace").read())


def test_mail_from_rejected_applies_to_all(outbound):
    with SmtpSink() as sink:
        sink.mail_reply = "553 5.7.1 sender refused"
        ob = outbound({"relayhost": "[127.0.0.1]:%d" % sink.port})
        qid = ob.submit(["a@remote.test", "b@remote.test"])
        for r in ("a@remote.test", "b@remote.test"):
            line = ob.wait_status(qid, r, "bounced")
            assert "553 5.7.1 sender refused (in reply to MAIL FROM command)" in line
        assert sink.messages == []


def test_data_reply_4xx_defers(outbound):
    with SmtpSink() as sink:
        sink.data_reply = "452 4.3.1 insufficient storage"
        ob = outbound({"relayhost": "[127.0.0.1]:%d" % sink.port,
                       "queue_run_delay": "300s", "minimal_backoff_time": "300s"})
        qid = ob.submit(["a@remote.test"])
        line = ob.wait_status(qid, "a@remote.test", "deferred")
        assert "(in reply to end of DATA command)" in line
        assert "dsn=4.3.1" in line


# ------------------------------------------------------------ session


class ScriptServer:
    """A raw SMTP server that answers EHLO, then waits a moment before it
    answers anything else, recording which commands arrived meanwhile."""

    def __init__(self, extensions):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(5)
        self.port = self.sock.getsockname()[1]
        self.extensions = extensions
        self.before_reply = None
        self.data = b""
        self.buf = b""
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def readline(self, conn, timeout):
        """One line (bytes), or None when nothing came within timeout."""
        deadline = time.monotonic() + timeout
        while b"\n" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            r, _w, _x = select.select([conn], [], [], left)
            if not r:
                return None
            chunk = conn.recv(65536)
            if not chunk:
                return None
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return line + b"\n"

    def serve(self):
        conn, _ = self.sock.accept()
        conn.sendall(b"220 script ESMTP\r\n")
        self.readline(conn, 10)             # EHLO
        lines = ["250-script"] + ["250-" + e for e in self.extensions[:-1]] + \
            ["250 " + self.extensions[-1]]
        conn.sendall(("\r\n".join(lines) + "\r\n").encode())
        # Collect what comes within a second without answering.
        got = [self.readline(conn, 10)]
        while True:
            line = self.readline(conn, 1.0)
            if line is None:
                break
            got.append(line)
        self.before_reply = [g.decode().strip() for g in got if g]
        # Now answer whatever was sent, then the rest in lock step.
        pending = list(self.before_reply)
        while True:
            if not pending:
                line = self.readline(conn, 10)
                if line is None:
                    break
                pending.append(line.decode().strip())
            cmd = pending.pop(0).upper()
            if cmd == "DATA":
                conn.sendall(b"354 go\r\n")
                while True:
                    line = self.readline(conn, 10)
                    if line in (b".\r\n", None):
                        break
                    self.data += line
                conn.sendall(b"250 2.0.0 Ok: queued as SCRIPT\r\n")
            elif cmd == "QUIT":
                conn.sendall(b"221 bye\r\n")
                break
            else:
                conn.sendall(b"250 2.0.0 Ok\r\n")
        conn.close()
        self.sock.close()


@pytest.mark.parametrize("pipelining", [True, False])
def test_pipelining(outbound, pipelining):
    exts = ["PIPELINING", "8BITMIME"] if pipelining else ["8BITMIME"]
    srv = ScriptServer(exts)
    ob = outbound({"relayhost": "[127.0.0.1]:%d" % srv.port})
    qid = ob.submit(["a@remote.test", "b@remote.test"])
    ob.wait_status(qid, "a@remote.test", "sent")
    ob.wait_status(qid, "b@remote.test", "sent")
    verbs = [c.split(":")[0].split()[0].upper() for c in srv.before_reply]
    if pipelining:
        # MAIL, both RCPTs and DATA before the first reply.
        assert verbs == ["MAIL", "RCPT", "RCPT", "DATA"], srv.before_reply
    else:
        assert verbs == ["MAIL"], srv.before_reply


def test_ehlo_refused_falls_back_to_helo(outbound):
    with SmtpSink() as sink:
        sink.ehlo_reply = "502 5.5.2 no EHLO here"
        ob = outbound({"relayhost": "[127.0.0.1]:%d" % sink.port})
        qid = ob.submit(["a@remote.test"])
        ob.wait_status(qid, "a@remote.test", "sent")
        verbs = [c.split()[0].upper() for _cid, c in sink.commands]
        assert verbs[:2] == ["EHLO", "HELO"]
        # No ESMTP parameters after HELO.
        assert sink.messages[0].mail_params == {}


def test_size_refused_before_sending(outbound):
    with SmtpSink() as sink:
        sink.extensions = ["PIPELINING", "SIZE 200", "8BITMIME"]
        ob = outbound({"relayhost": "[127.0.0.1]:%d" % sink.port})
        qid = ob.submit(["a@remote.test"], b"x" * 500 + b"\r\n")
        line = ob.wait_status(qid, "a@remote.test", "bounced")
        assert "dsn=5.3.4" in line
        assert "message size" in line and "exceeds size limit 200 of server 127.0.0.1[127.0.0.1]" in line
        verbs = [c.split()[0].upper() for _cid, c in sink.commands]
        assert "MAIL" not in verbs and "DATA" not in verbs


def test_dsn_parameters_passed_on(outbound):
    with SmtpSink() as sink:
        ob = outbound({"relayhost": "[127.0.0.1]:%d" % sink.port})
        qid = ob.submit(["a@remote.test"], mail_options=["RET=HDRS", "ENVID=env+2Bid"],
                        rcpt_options=["NOTIFY=SUCCESS,FAILURE", "ORCPT=rfc822;orig+2Bx@remote.test"])
        ob.wait_status(qid, "a@remote.test", "sent")
        m = sink.messages[0]
        assert m.mail_params.get("RET") == "HDRS"
        assert m.mail_params.get("ENVID") == "env+2Bid"
        assert m.rcpt_params[0].get("NOTIFY") == "SUCCESS,FAILURE"
        assert m.rcpt_params[0].get("ORCPT", "").lower() == "rfc822;orig+2bx@remote.test"


def test_dsn_not_sent_without_extension(outbound):
    with SmtpSink() as sink:
        sink.extensions = ["PIPELINING", "8BITMIME"]
        ob = outbound({"relayhost": "[127.0.0.1]:%d" % sink.port})
        qid = ob.submit(["a@remote.test"], mail_options=["RET=HDRS"],
                        rcpt_options=["NOTIFY=SUCCESS"])
        ob.wait_status(qid, "a@remote.test", "sent")
        assert "RET" not in sink.messages[0].mail_params
        assert "NOTIFY" not in sink.messages[0].rcpt_params[0]
        assert "SIZE" not in sink.messages[0].mail_params


def test_dot_stuffing_and_long_lines(outbound):
    with SmtpSink() as sink:
        ob = outbound({"relayhost": "[127.0.0.1]:%d" % sink.port})
        long_line = b"".join(b"%07d " % i for i in range(375))    # 3000 bytes
        body = b".starts with a dot\r\n..two dots\r\n.\r\nmiddle\r\n" + long_line + b"\r\nend\r\n"
        qid = ob.submit(["a@remote.test"], body)
        ob.wait_status(qid, "a@remote.test", "sent")
        data = sink.messages[0].data
        # The sink un-stuffs: the lines are back as they were.
        assert b"\r\n.starts with a dot\r\n..two dots\r\n.\r\nmiddle\r\n" in data
        lines = data.split(b"\r\n")
        assert max(len(l) for l in lines) <= 998
        # The long line comes back when the inserted "CRLF SPACE" is removed.
        joined = data.replace(b"\r\n ", b"")
        assert long_line + b"\r\nend\r\n" in joined
        assert b"\r\n " in data


def test_8bitmime(outbound):
    with SmtpSink() as sink:
        ob = outbound({"relayhost": "[127.0.0.1]:%d" % sink.port})
        body = "caf\u00e9\r\n".encode("utf-8")
        qid = ob.submit(["a@remote.test"], body, mail_options=["BODY=8BITMIME"])
        ob.wait_status(qid, "a@remote.test", "sent")
        assert sink.messages[0].mail_params.get("BODY") == "8BITMIME"
        assert body in sink.messages[0].data
        # A server without 8BITMIME: bounced, not mangled.
        sink.extensions = ["PIPELINING", "SIZE 10485760", "DSN"]
        qid = ob.submit(["b@remote.test"], body, mail_options=["BODY=8BITMIME"])
        line = ob.wait_status(qid, "b@remote.test", "bounced")
        assert "dsn=5.6.3" in line and "8BITMIME" in line
        # A 7-bit message declared 8BITMIME is still sent there.
        qid = ob.submit(["c@remote.test"], b"plain\r\n", mail_options=["BODY=8BITMIME"])
        ob.wait_status(qid, "c@remote.test", "sent")
        assert "BODY" not in sink.messages[-1].mail_params


def test_smtputf8(outbound):
    with SmtpSink() as sink:
        ob = outbound({"relayhost": "[127.0.0.1]:%d" % sink.port})
        rcpt = "j\u00f6rg@remote.test"
        qid = ob.submit([rcpt], mail_options=["SMTPUTF8", "BODY=8BITMIME"])
        ob.wait_status(qid, rcpt, "sent")
        assert "SMTPUTF8" in sink.messages[0].mail_params
        sink.extensions = ["PIPELINING", "8BITMIME"]
        qid = ob.submit([rcpt], mail_options=["SMTPUTF8", "BODY=8BITMIME"])
        line = ob.wait_status(qid, rcpt, "bounced")
        assert "dsn=5.6.7" in line and "SMTPUTF8 is required" in line


# ------------------------------------------------------------ failures


def test_greeting_timeout(outbound):
    with SmtpSink() as sink:
        sink.stall_at = "greeting"
        ob = outbound({"relayhost": "[127.0.0.1]:%d" % sink.port,
                       "smtp_helo_timeout": "2s",
                       "queue_run_delay": "300s", "minimal_backoff_time": "300s"})
        start = time.monotonic()
        qid = ob.submit(["a@remote.test"])
        line = ob.wait_status(qid, "a@remote.test", "deferred", timeout=30)
        assert "timed out while receiving the initial server greeting" in line
        assert time.monotonic() - start < 25


def test_rcpt_timeout(outbound):
    with SmtpSink() as sink:
        sink.stall_at = "rcpt"
        ob = outbound({"relayhost": "[127.0.0.1]:%d" % sink.port,
                       "smtp_rcpt_timeout": "2s",
                       "queue_run_delay": "300s", "minimal_backoff_time": "300s"})
        qid = ob.submit(["a@remote.test"])
        line = ob.wait_status(qid, "a@remote.test", "deferred", timeout=30)
        assert "timed out while sending RCPT TO" in line
        # The agent does not wait again (no QUIT on a dead session): the
        # request ends at once and qmgr files the message in deferred/.
        q = ob.inst.queue_dir
        wait_for(lambda: any(qid in files for _r, _d, files in os.walk(q / "deferred")),
                 10, what="%s in deferred/" % qid)


def test_deferred_then_delivered_when_sink_comes_up(outbound):
    port = free_port_on("127.0.0.1")
    ob = outbound({"relayhost": "[127.0.0.1]:%d" % port})
    qid = ob.submit(["a@remote.test"])
    line = ob.wait_status(qid, "a@remote.test", "deferred")
    assert "connect to 127.0.0.1[127.0.0.1]:%d: Connection refused" % port in line
    with SmtpSink(port=port) as sink:
        ob.wait_status(qid, "a@remote.test", "sent", timeout=40)
        assert sink.messages and sink.messages[0].rcpts == ["a@remote.test"]


def test_bounce_after_queue_lifetime(outbound):
    port = free_port_on("127.0.0.1")
    ob = outbound({"relayhost": "[127.0.0.1]:%d" % port,
                   "maximal_queue_lifetime": "3s", "bounce_queue_lifetime": "3s"})
    qid = ob.submit(["a@remote.test"])
    ob.wait_status(qid, "a@remote.test", "deferred")

    def gone():
        q = ob.inst.queue_dir
        return not any(qid in files for sub in ("deferred", "active", "incoming")
                       for _r, _d, files in os.walk(q / sub))
    wait_for(gone, 40, what="message %s to leave the queue\n%s" % (qid, ob.log()[-3000:]))
    # qmgr gives up on it the Postfix way, after the agent deferred it.
    assert "%s: from=<%s>, status=expired, returned to sender" % (qid, SENDER) in ob.log()
    assert "%s: to=<a@remote.test>, relay=none" % qid in ob.log()


# ------------------------------------------------------------ DNS and MX


def test_mx_order_and_fallback_to_next_mx(outbound, dnsd):
    # mx1 (preference 10) has nothing listening: connection refused.
    sink2, = sinks_on_one_port("127.0.0.3")
    try:
        port = sink2.port
        dns = dnsd()
        dns.host("mx1.example.test", "127.0.0.2").host("mx2.example.test", "127.0.0.3")
        dns.mx("example.test", "mx1.example.test", 10).mx("example.test", "mx2.example.test", 20)
        dns.start()
        ob = outbound({"relayhost": "example.test:%d" % port,
                       "dns_resolver_servers": dns.servers})
        qid = ob.submit(["a@example.test"])
        line = ob.wait_status(qid, "a@example.test", "sent")
        assert "relay=mx2.example.test[127.0.0.3]:%d" % port in line
        assert "connect to mx1.example.test[127.0.0.2]:%d: Connection refused" % port in ob.log()
    finally:
        sink2.stop()


def test_mx_preference_order(outbound, dnsd):
    sink1, sink2 = sinks_on_one_port("127.0.0.2", "127.0.0.3")
    try:
        dns = dnsd()
        dns.host("mx1.example.test", "127.0.0.2").host("mx2.example.test", "127.0.0.3")
        dns.mx("example.test", "mx2.example.test", 20).mx("example.test", "mx1.example.test", 10)
        dns.start()
        ob = outbound({"relayhost": "example.test:%d" % sink1.port,
                       "dns_resolver_servers": dns.servers})
        for i in range(3):
            qid = ob.submit(["a%d@example.test" % i])
            line = ob.wait_status(qid, "a%d@example.test" % i, "sent")
            assert "relay=mx1.example.test[127.0.0.2]" in line
        assert len(sink1.messages) == 3 and sink2.messages == []
    finally:
        sink1.stop()
        sink2.stop()


def test_equal_preference_spread(outbound, dnsd):
    sink1, sink2 = sinks_on_one_port("127.0.0.2", "127.0.0.3")
    try:
        dns = dnsd()
        dns.host("mx1.example.test", "127.0.0.2").host("mx2.example.test", "127.0.0.3")
        dns.mx("example.test", "mx1.example.test", 10).mx("example.test", "mx2.example.test", 10)
        dns.start()
        ob = outbound({"relayhost": "example.test:%d" % sink1.port,
                       "dns_resolver_servers": dns.servers})
        n = 12
        for i in range(n):
            qid = ob.submit(["s%d@example.test" % i])
            ob.wait_status(qid, "s%d@example.test" % i, "sent")
        assert len(sink1.messages) + len(sink2.messages) == n
        # Random order among equal preferences: both get mail
        # (all 12 to one of them has a chance of 1 in 2048).
        assert sink1.messages and sink2.messages
    finally:
        sink1.stop()
        sink2.stop()


def test_implicit_mx(outbound, dnsd):
    sink, = sinks_on_one_port("127.0.0.4")
    try:
        dns = dnsd()
        dns.host("implicit.test", "127.0.0.4")
        dns.start()
        ob = outbound({"relayhost": "implicit.test:%d" % sink.port,
                       "dns_resolver_servers": dns.servers})
        qid = ob.submit(["a@implicit.test"])
        line = ob.wait_status(qid, "a@implicit.test", "sent")
        assert "relay=implicit.test[127.0.0.4]:%d" % sink.port in line
    finally:
        sink.stop()


def test_domain_not_found_bounces(outbound, dnsd):
    dns = dnsd()
    dns.host("other.test", "127.0.0.9")
    dns.start()
    ob = outbound({"relayhost": "", "dns_resolver_servers": dns.servers})
    qid = ob.submit(["a@nowhere.test"])
    line = ob.wait_status(qid, "a@nowhere.test", "bounced")
    assert "dsn=5.4.4" in line
    assert "Host or domain name not found. Name service error for name=nowhere.test" in line


def test_dns_failure_defers(outbound):
    # The test instance's resolver (127.0.0.1:9) never answers.
    ob = outbound({"relayhost": "", "queue_run_delay": "300s",
                   "minimal_backoff_time": "300s"})
    qid = ob.submit(["a@silent.test"])
    line = ob.wait_status(qid, "a@silent.test", "deferred", timeout=60)
    assert "dsn=4.4.3" in line
    assert "try again" in line


def test_null_mx_bounces(outbound):
    # One MX record: preference 0, the root name (RFC 7505).
    fake = FakeDnsServer(rcode=0, answers=[(15, b"\x00\x00\x00")])
    fake.start()
    try:
        ob = outbound({"relayhost": "", "dns_resolver_servers": fake.servers})
        qid = ob.submit(["a@nullmx.test"])
        line = ob.wait_status(qid, "a@nullmx.test", "bounced")
        assert "dsn=5.1.10" in line
        assert "Domain nullmx.test does not accept mail (nullMX)" in line
    finally:
        fake.stop()


def test_4xx_greeting_tries_next_mx(outbound, dnsd):
    sink1, sink2 = sinks_on_one_port("127.0.0.2", "127.0.0.3")
    try:
        sink1.greeting = "421 4.3.2 busy, come back later"
        dns = dnsd()
        dns.host("mx1.example.test", "127.0.0.2").host("mx2.example.test", "127.0.0.3")
        dns.mx("example.test", "mx1.example.test", 10).mx("example.test", "mx2.example.test", 20)
        dns.start()
        ob = outbound({"relayhost": "example.test:%d" % sink1.port,
                       "dns_resolver_servers": dns.servers})
        qid = ob.submit(["a@example.test"])
        line = ob.wait_status(qid, "a@example.test", "sent")
        assert "relay=mx2.example.test[127.0.0.3]" in line
        assert "host mx1.example.test[127.0.0.2]:%d refused to talk to me: 421 4.3.2 busy" \
            % sink1.port in ob.log()
        assert sink1.messages == [] and len(sink2.messages) == 1
    finally:
        sink1.stop()
        sink2.stop()


def test_5xx_greeting_without_skip_bounces(outbound):
    with SmtpSink() as sink:
        sink.greeting = "554 5.7.1 go away"
        ob = outbound({"relayhost": "[127.0.0.1]:%d" % sink.port,
                       "smtp_skip_5xx_greeting": "no"})
        qid = ob.submit(["a@remote.test"])
        line = ob.wait_status(qid, "a@remote.test", "bounced")
        assert "refused to talk to me: 554 5.7.1 go away" in line


def test_fallback_relay(outbound, dnsd):
    sink, = sinks_on_one_port("127.0.0.5")
    try:
        dns = dnsd()
        dns.host("mx1.example.test", "127.0.0.2")
        dns.mx("example.test", "mx1.example.test", 10)
        dns.start()
        ob = outbound({"relayhost": "example.test:%d" % sink.port,
                       "dns_resolver_servers": dns.servers,
                       "smtp_fallback_relay": "[127.0.0.5]:%d" % sink.port})
        qid = ob.submit(["a@example.test"])
        line = ob.wait_status(qid, "a@example.test", "sent")
        assert "relay=127.0.0.5[127.0.0.5]:%d" % sink.port in line
    finally:
        sink.stop()


# ------------------------------------------------------------ LMTP


def lmtp_instance(outbound, pubdir, nexthop, **settings):
    table = pubdir / "transport"
    table.write_text("lmtp.test lmtp:%s\n" % nexthop)
    os.chmod(table, 0o644)
    base = {"transport_maps": "texthash:%s" % table}
    base.update(settings)
    return outbound(base)


def test_lmtp_tcp_per_recipient_replies(outbound, pubdir):
    with SmtpSink(lmtp=True) as sink:
        sink.data_reply = {"full@lmtp.test": "452 4.2.2 mailbox full",
                           "gone@lmtp.test": "550 5.1.1 no mailbox"}
        ob = lmtp_instance(outbound, pubdir, "inet:127.0.0.1:%d" % sink.port,
                           queue_run_delay="300s", minimal_backoff_time="300s")
        qid = ob.submit(["ok@lmtp.test", "full@lmtp.test", "gone@lmtp.test"])
        ok = ob.wait_status(qid, "ok@lmtp.test", "sent")
        full = ob.wait_status(qid, "full@lmtp.test", "deferred")
        gone = ob.wait_status(qid, "gone@lmtp.test", "bounced")
        assert "relay=127.0.0.1[127.0.0.1]:%d" % sink.port in ok
        assert "postern/lmtp[" in ok
        assert "452 4.2.2 mailbox full (in reply to end of DATA command)" in full
        assert "dsn=5.1.1" in gone
        verbs = [c.split()[0].upper() for _cid, c in sink.commands]
        assert verbs[0] == "LHLO"
        assert sink.messages[0].rcpts == ["ok@lmtp.test"]


def test_lmtp_unix_socket(outbound, pubdir):
    path = str(pubdir / "lmtp.sock")
    with SmtpSink(lmtp=True, unix_path=path) as sink:
        ob = lmtp_instance(outbound, pubdir, "unix:%s" % path)
        qid = ob.submit(["u@lmtp.test", "v@lmtp.test"])
        line = ob.wait_status(qid, "u@lmtp.test", "sent")
        ob.wait_status(qid, "v@lmtp.test", "sent")
        assert "relay=postern.test.invalid[%s]" % path in line
        assert sorted(sink.messages[0].rcpts) == ["u@lmtp.test", "v@lmtp.test"]


DOVECOT_LMTP = "/usr/lib/dovecot/lmtp"


@pytest.mark.skipif(not (os.path.exists(DOVECOT_LMTP) or
                         __import__("shutil").which("dovecot")),
                    reason="Dovecot is not installed")
def test_dovecot_lmtp(outbound, pubdir):
    """Deliver to a real Dovecot LMTP server run in the test's directory."""
    import shutil
    import subprocess
    base = pubdir / "dovecot"
    (base / "run").mkdir(parents=True)
    (base / "mail").mkdir()
    for d in (base, base / "run", base / "mail"):
        os.chmod(d, 0o777)
    user = __import__("pwd").getpwuid(os.getuid()).pw_name
    port = free_port_on("127.0.0.1")
    conf = base / "dovecot.conf"
    conf.write_text(f"""
base_dir = {base}/run
state_dir = {base}/run
log_path = {base}/dovecot.log
protocols = lmtp
ssl = no
mail_location = maildir:{base}/mail/%n
default_internal_user = {user}
default_login_user = {user}
default_internal_group = {__import__('grp').getgrgid(os.getgid()).gr_name}
first_valid_uid = 0
passdb {{
  driver = static
  args = nopassword=y
}}
userdb {{
  driver = static
  args = uid={os.getuid()} gid={os.getgid()} home={base}/mail/%n
}}
service lmtp {{
  inet_listener lmtp {{
    address = 127.0.0.1
    port = {port}
  }}
}}
""")
    dovecot = shutil.which("dovecot") or "/usr/sbin/dovecot"
    proc = subprocess.Popen([dovecot, "-F", "-c", str(conf)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        def listening():
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                return True
            except OSError:
                return proc.poll() is not None
        wait_for(listening, 15, what="dovecot lmtp listener")
        if proc.poll() is not None:
            pytest.skip("dovecot would not start here: %s" % proc.stderr.read()[:500])
        ob = lmtp_instance(outbound, pubdir, "inet:127.0.0.1:%d" % port)
        qid = ob.submit(["dove@lmtp.test"], b"to dovecot\r\n")
        ob.wait_status(qid, "dove@lmtp.test", "sent", timeout=30)
        found = []
        for root, _d, files in os.walk(base / "mail"):
            for f in files:
                if "to dovecot" in open(os.path.join(root, f), errors="replace").read():
                    found.append(f)
        assert found
    finally:
        proc.terminate()
        proc.wait(timeout=10)


# ------------------------------------------------------------ reuse


def test_connection_reuse(outbound, bin_path, postern_build):
    if not (postern_build / "bin" / "scache").exists():
        pytest.skip("the scache service is not built")
    with SmtpSink() as sink:
        ob = outbound({"relayhost": "[127.0.0.1]:%d" % sink.port,
                       "smtp_connection_cache_time_limit": "10s"}, cache=True)
        n = 5
        for i in range(n):
            qid = ob.submit(["r%d@remote.test" % i])
            ob.wait_status(qid, "r%d@remote.test" % i, "sent")
        assert len(sink.messages) == n
        # Fewer connections than messages: sessions were reused.
        assert sink.connections < n, (sink.connections, ob.log()[-3000:])


def test_stale_cached_connection_is_replaced(outbound, postern_build):
    if not (postern_build / "bin" / "scache").exists():
        pytest.skip("the scache service is not built")
    sink = SmtpSink()
    sink.start()
    port = sink.port
    try:
        ob = outbound({"relayhost": "[127.0.0.1]:%d" % port,
                       "smtp_connection_cache_time_limit": "30s"}, cache=True)
        qid = ob.submit(["first@remote.test"])
        ob.wait_status(qid, "first@remote.test", "sent")
        # The server goes away and comes back: the cached session is dead.
        sink.stop()
        sink = SmtpSink(port=port)
        sink.start()
        qid = ob.submit(["second@remote.test"])
        ob.wait_status(qid, "second@remote.test", "sent")
        assert len(ob.lines(qid)) == 1
        assert len(sink.messages) == 1 and sink.messages[0].rcpts == ["second@remote.test"]
    finally:
        sink.stop()


def test_cache_enabled_without_scache_service(outbound):
    """smtp_connection_cache_on_demand=yes with no scache service running:
    mail flows, one connection per delivery."""
    with SmtpSink() as sink:
        ob = outbound({"relayhost": "[127.0.0.1]:%d" % sink.port,
                       "smtp_connection_cache_on_demand": "yes"})
        for i in range(2):
            qid = ob.submit(["n%d@remote.test" % i])
            ob.wait_status(qid, "n%d@remote.test" % i, "sent")
        assert len(sink.messages) == 2
        assert sink.connections == 2


def test_mx_session_limit(outbound, dnsd):
    """Every MX answers RCPT with 451: the recipient is tried at
    smtp_mx_session_limit (2) servers, not at the third one."""
    sinks = sinks_on_one_port("127.0.0.2", "127.0.0.3", "127.0.0.4")
    try:
        for s in sinks:
            s.rcpt_reply = "451 4.2.0 not now"
        dns = dnsd()
        for i, s in enumerate(sinks, 1):
            dns.host("mx%d.example.test" % i, s.host)
            dns.mx("example.test", "mx%d.example.test" % i, 10 * i)
        dns.start()
        ob = outbound({"relayhost": "example.test:%d" % sinks[0].port,
                       "dns_resolver_servers": dns.servers,
                       "queue_run_delay": "300s", "minimal_backoff_time": "300s"})
        qid = ob.submit(["a@example.test"])
        line = ob.wait_status(qid, "a@example.test", "deferred")
        # The reason is the last server's.
        assert "host mx2.example.test[127.0.0.3]:%d said: 451 4.2.0 not now" % sinks[0].port in line
        assert [s.connections for s in sinks] == [1, 1, 0]
    finally:
        for s in sinks:
            s.stop()


def test_connect_timeout(outbound):
    """A listener whose accept queue is full drops new SYNs: the connect
    gives up after smtp_connect_timeout."""
    lsock = socket.socket()
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(0)
    port = lsock.getsockname()[1]
    filler = socket.create_connection(("127.0.0.1", port), timeout=5)
    try:
        ob = outbound({"relayhost": "[127.0.0.1]:%d" % port,
                       "smtp_connect_timeout": "2s",
                       "queue_run_delay": "300s", "minimal_backoff_time": "300s"})
        start = time.monotonic()
        qid = ob.submit(["a@remote.test"])
        line = ob.wait_status(qid, "a@remote.test", "deferred", timeout=30)
        assert "connect to 127.0.0.1[127.0.0.1]:%d: Connection timed out" % port in line
        assert "dsn=4.4.1" in line
        assert time.monotonic() - start < 15
    finally:
        filler.close()
        lsock.close()


def test_too_many_recipients_next_transaction(outbound):
    """A server that takes two recipients per transaction ("452 4.5.3"):
    the rest go in further transactions of the same session."""
    with SmtpSink() as sink:
        state = {"count": 0}

        def rcpt(addr):
            state["count"] += 1
            return "452 4.5.3 Too many recipients" if state["count"] > 2 else None

        def data(msg):
            state["count"] = 0
            return None
        sink.rcpt_reply = rcpt
        sink.data_reply = data
        ob = outbound({"relayhost": "[127.0.0.1]:%d" % sink.port})
        rcpts = ["t%d@remote.test" % i for i in range(5)]
        qid = ob.submit(rcpts)
        for r in rcpts:
            ob.wait_status(qid, r, "sent")
        assert sink.connections == 1
        assert len(sink.messages) == 3
        assert sorted(r for m in sink.messages for r in m.rcpts) == sorted(rcpts)


@pytest.mark.parametrize("settings,greeting,first", [
    ({"smtp_never_send_ehlo": "yes"}, "220 sink ESMTP", "HELO"),
    ({"smtp_always_send_ehlo": "no"}, "220 sink ready", "HELO"),
    ({"smtp_always_send_ehlo": "no"}, "220 sink ESMTP ready", "EHLO"),
])
def test_helo_or_ehlo_by_configuration(outbound, settings, greeting, first):
    with SmtpSink() as sink:
        sink.greeting = greeting
        conf = {"relayhost": "[127.0.0.1]:%d" % sink.port}
        conf.update(settings)
        ob = outbound(conf)
        qid = ob.submit(["a@remote.test"])
        ob.wait_status(qid, "a@remote.test", "sent")
        assert sink.commands[0][1].split()[0].upper() == first
