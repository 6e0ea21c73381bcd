"""The anvil service under master: the attribute protocol spoken directly
over private/anvil from Python (counts, rate windows, shared state across
connections, malformed input, the memory cap, the statistics log), and the
connection-count limit enforced through smtpd.
"""

import socket
import time

import pytest

from conftest import wait_for

ANVIL_MASTER_CF = """\
anvil     unix  -       -       n       -       1       anvil
"""


# ------------------------------------------------------------ attr codec

def _attr_encode(attrs):
    """Encode [(name, value), ...] as one attribute message (bytes)."""
    out = bytearray()
    for name, value in attrs:
        out += name.encode() + b"="
        for b in value.encode() if isinstance(value, str) else value:
            if b <= 0x20 or b == 0x7F or b == 0x25:
                out += b"%%%02X" % b
            else:
                out.append(b)
        out += b"\n"
    out += b"\n"
    return bytes(out)


def _unescape(raw):
    out = bytearray()
    i = 0
    while i < len(raw):
        if raw[i] == 0x25:
            out.append(int(raw[i + 1:i + 3], 16))
            i += 3
        else:
            out.append(raw[i])
            i += 1
    return out.decode(errors="replace")


class AnvilConn:
    """One client connection to an instance's anvil service."""

    def __init__(self, inst, timeout=10):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        path = str(inst.queue_dir / "private" / "anvil")
        wait_for(lambda: self._try_connect(path), timeout=15, what="anvil socket")
        self.buf = b""
        assert self.read() == {"protocol": "anvil_protocol"}

    def _try_connect(self, path):
        try:
            self.sock.connect(path)
            return True
        except (FileNotFoundError, ConnectionRefusedError):
            return False

    def read(self):
        """Read one reply message as a dict; None at end of file."""
        while b"\n\n" not in self.buf and not self.buf.startswith(b"\n"):
            try:
                data = self.sock.recv(4096)
            except ConnectionResetError:
                # anvil hung up with our unread bytes still queued.
                data = b""
            if not data:
                return None
            self.buf += data
        if self.buf.startswith(b"\n"):
            msg, self.buf = b"", self.buf[1:]
        else:
            msg, self.buf = self.buf.split(b"\n\n", 1)
        result = {}
        for line in msg.split(b"\n"):
            name, _, value = line.partition(b"=")
            assert name.decode() not in result
            result[name.decode()] = _unescape(value)
        return result

    def send_raw(self, data):
        self.sock.sendall(data)

    def request(self, req, client="192.0.2.1", service="smtp", extra=()):
        self.send_raw(_attr_encode([("request", req), ("service", service),
                                    ("client", client), *extra]))
        reply = self.read()
        assert reply is not None, "anvil closed the connection"
        return reply

    def close(self):
        self.sock.close()


def _ints(reply):
    return {k: int(v) for k, v in reply.items() if k != "reason"}


@pytest.fixture
def anvil_factory(instance_factory):
    def make(**settings):
        base = {"anvil_rate_time_unit": "60s", "anvil_status_update_time": "600s"}
        base.update(settings)
        return instance_factory(master_cf=ANVIL_MASTER_CF, settings=base)
    return make


def test_counts_and_lookup(anvil_factory):
    inst = anvil_factory()
    c = AnvilConn(inst)
    assert _ints(c.request("connect")) == {"status": 0, "count": 1, "rate": 1}
    assert _ints(c.request("connect")) == {"status": 0, "count": 2, "rate": 2}
    # Another client, another service: their own counters.
    assert _ints(c.request("connect", client="192.0.2.2")) == {"status": 0, "count": 1, "rate": 1}
    assert _ints(c.request("connect", service="submission")) == {"status": 0, "count": 1, "rate": 1}
    assert _ints(c.request("connect", client="2001:db8::1")) == {"status": 0, "count": 1, "rate": 1}
    assert _ints(c.request("message")) == {"status": 0, "rate": 1}
    assert _ints(c.request("rcpt")) == {"status": 0, "rate": 1}
    assert _ints(c.request("rcpt")) == {"status": 0, "rate": 2}
    assert _ints(c.request("disconnect")) == {"status": 0}
    assert _ints(c.request("lookup")) == {"status": 0, "count": 1, "rate": 2,
                                          "message_rate": 1, "recipient_rate": 2}
    # Lookup of an unknown client counts nothing.
    assert _ints(c.request("lookup", client="198.51.100.1")) == {
        "status": 0, "count": 0, "rate": 0, "message_rate": 0, "recipient_rate": 0}
    # A second connection (another smtpd) sees the same counters: one
    # process serves everyone.
    c2 = AnvilConn(inst)
    assert _ints(c2.request("connect")) == {"status": 0, "count": 2, "rate": 3}
    c.close()
    # A client that goes away does not disturb the others.
    assert _ints(c2.request("disconnect"))["status"] == 0
    assert _ints(c2.request("lookup"))["count"] == 1
    c2.close()


def test_rate_window(anvil_factory):
    inst = anvil_factory(anvil_rate_time_unit="2s")
    c = AnvilConn(inst)
    for i in range(1, 4):
        assert _ints(c.request("connect"))["rate"] == i
    assert _ints(c.request("message"))["rate"] == 1
    time.sleep(2.3)
    # A new window: rates restart, concurrency does not.
    assert _ints(c.request("connect")) == {"status": 0, "count": 4, "rate": 1}
    assert _ints(c.request("message"))["rate"] == 1
    assert _ints(c.request("rcpt"))["rate"] == 1
    c.close()


def test_bad_requests(anvil_factory):
    inst = anvil_factory()
    c = AnvilConn(inst)
    # Well-formed messages with bad content: refused, connection kept.
    r = c.request("explode")
    assert r["status"] == "1" and "unknown request" in r["reason"]
    r = c.request("connect", client="1.2.3.4 x")
    assert r["status"] == "1" and "client" in r["reason"]
    r = c.request("connect", extra=[("count", "9")])
    assert r["status"] == "1" and "count" in r["reason"]
    c.send_raw(_attr_encode([("request", "connect"), ("service", "smtp")]))
    r = c.read()
    assert r["status"] == "1" and "client" in r["reason"]
    assert _ints(c.request("connect"))["count"] == 1
    # A malformed message: refused and the connection is closed.
    c.send_raw(b"request=connect\nservice=smtp\nclient=1.2.3.4 5\n\n")
    r = c.read()
    assert r is not None and r["status"] == "1"
    assert c.read() is None
    c.close()
    # An over-long message: the same.
    c = AnvilConn(inst)
    c.send_raw(b"request=connect\nservice=" + b"x" * 20000 + b"\n\n")
    r = c.read()
    assert r is not None and r["status"] == "1"
    assert c.read() is None
    c.close()
    # A client that dies half-way through a message.
    c = AnvilConn(inst)
    c.send_raw(b"request=conn")
    c.close()
    # anvil is still there, with its counters.
    c = AnvilConn(inst)
    assert _ints(c.request("lookup"))["count"] == 1
    c.close()
    assert "bad request" in inst.log()


def test_memory_cap_and_statistics(anvil_factory):
    inst = anvil_factory(anvil_max_clients="5", anvil_status_update_time="2s")
    c = AnvilConn(inst)
    # Many short-lived clients: the table keeps at most 5, forgetting the
    # least recently seen idle ones.
    for i in range(50):
        addr = f"10.1.0.{i}"
        assert _ints(c.request("connect", client=addr))["count"] == 1
        assert _ints(c.request("disconnect", client=addr))["status"] == 0
    assert _ints(c.request("lookup", client="10.1.0.0"))["rate"] == 0
    assert _ints(c.request("lookup", client="10.1.0.49"))["rate"] == 1
    # Five clients with open connections fill the table; a sixth is not
    # counted (answered as "no limit") instead of evicting a busy one.
    for i in range(5):
        c.request("connect", client=f"10.2.0.{i}")
        c.request("connect", client=f"10.2.0.{i}")
    assert _ints(c.request("connect", client="10.3.0.1")) == {"status": 0, "count": 0, "rate": 0}
    assert _ints(c.request("connect", client="10.2.0.0"))["count"] == 3
    inst.wait_log("statistics: max cache size 5 at ", timeout=15)
    inst.wait_log("statistics: 1 events not counted: table full (5 clients)", timeout=15)
    inst.wait_log("statistics: max connection count 3 for (smtp:10.2.0.0) at ", timeout=15)
    assert "statistics: max connection rate " in inst.log()
    c.close()


def test_statistics_rate_line(anvil_factory):
    inst = anvil_factory(anvil_rate_time_unit="30s", anvil_status_update_time="1s")
    c = AnvilConn(inst)
    for _ in range(3):
        c.request("connect", client="192.0.2.77")
    inst.wait_log("statistics: max connection rate 3/30s for (smtp:192.0.2.77) at ", timeout=15)
    c.close()


# ------------------------------------------------------------ through smtpd

SMTPD_MASTER_CF = """\
127.0.0.1:{port0} inet n - n - - smtpd
anvil     unix  -       -       n       -       1       anvil
cleanup   unix  n       -       n       -       0       cleanup
"""


def _banner(sock):
    data = b""
    while not data.endswith(b"\r\n"):
        chunk = sock.recv(1024)
        if not chunk:
            break
        data += chunk
    return data.decode(errors="replace")


def test_smtpd_connection_count_limit(instance_factory, bin_path, postern_build):
    if not (postern_build / "bin" / "smtpd").is_file():
        pytest.skip("smtpd is not built")
    inst = instance_factory(master_cf=SMTPD_MASTER_CF, settings={
        "mynetworks": "192.0.2.0/24",           # 127.0.0.1 is not exempt
        "smtpd_client_connection_count_limit": "2",
        "myhostname": "mx.example",
    })
    port = inst.ports[0]
    socks = []
    try:
        for _ in range(2):
            s = socket.create_connection(("127.0.0.1", port), timeout=15)
            socks.append(s)
            assert _banner(s).startswith("220 "), inst.log()[-2000:]
        s = socket.create_connection(("127.0.0.1", port), timeout=15)
        socks.append(s)
        reply = _banner(s)
        assert reply.startswith("421 4.7.0 mx.example Error: too many connections from 127.0.0.1"), \
            (reply, inst.log()[-2000:])
        inst.wait_log("Connection concurrency limit exceeded: 3 from", timeout=10)
        # Once one of the first two leaves, a new connection is welcome.
        socks[0].sendall(b"QUIT\r\n")
        socks[0].recv(1024)
        socks[0].close()
        socks.pop(0)

        def accepted():
            t = socket.create_connection(("127.0.0.1", port), timeout=15)
            banner = _banner(t)
            if banner.startswith("220 "):
                socks.append(t)
                return True
            t.close()
            return False
        wait_for(accepted, timeout=10, interval=0.3, what="a fresh connection to be accepted")
    finally:
        for s in socks:
            s.close()


def test_smtpd_exempt_client(instance_factory, postern_build):
    if not (postern_build / "bin" / "smtpd").is_file():
        pytest.skip("smtpd is not built")
    inst = instance_factory(master_cf=SMTPD_MASTER_CF, settings={
        "mynetworks": "127.0.0.0/8",
        "smtpd_client_connection_count_limit": "1",
    })
    port = inst.ports[0]
    socks = []
    try:
        for _ in range(3):
            s = socket.create_connection(("127.0.0.1", port), timeout=15)
            socks.append(s)
            assert _banner(s).startswith("220 "), inst.log()[-2000:]
    finally:
        for s in socks:
            s.close()


def test_smtpd_without_anvil(instance_factory, postern_build):
    """No anvil in master.cf: smtpd warns and serves without limits."""
    if not (postern_build / "bin" / "smtpd").is_file():
        pytest.skip("smtpd is not built")
    master_cf = "\n".join(line for line in SMTPD_MASTER_CF.splitlines()
                          if not line.startswith("anvil")) + "\n"
    inst = instance_factory(master_cf=master_cf, settings={
        "mynetworks": "192.0.2.0/24",
        "smtpd_client_connection_count_limit": "1",
    })
    port = inst.ports[0]
    socks = []
    try:
        for _ in range(3):
            s = socket.create_connection(("127.0.0.1", port), timeout=15)
            socks.append(s)
            assert _banner(s).startswith("220 "), inst.log()[-2000:]
        inst.wait_log("client limits are not enforced", timeout=10)
    finally:
        for s in socks:
            s.close()


def test_smtpd_message_rate(instance_factory, postern_build):
    """The message rate is per client across sessions: MAIL gets 452."""
    import smtplib
    if not (postern_build / "bin" / "smtpd").is_file():
        pytest.skip("smtpd is not built")
    inst = instance_factory(master_cf=SMTPD_MASTER_CF, settings={
        "mynetworks": "192.0.2.0/24",
        "smtpd_client_message_rate_limit": "2",
    })
    port = inst.ports[0]
    s1 = smtplib.SMTP("127.0.0.1", port, timeout=15)
    s1.ehlo("client.example")
    reply = s1.mail("a@example.org")
    assert reply[0] == 250, (reply, inst.log()[-3000:])
    s1.rset()
    s2 = smtplib.SMTP("127.0.0.1", port, timeout=15)
    s2.ehlo("client.example")
    assert s2.mail("a@example.org")[0] == 250
    s2.rset()
    code, text = s1.mail("a@example.org")
    assert (code, text) == (452, b"4.3.2 Error: too much mail from 127.0.0.1"), inst.log()[-2000:]
    inst.wait_log("Message delivery request rate limit exceeded: 3 from", timeout=10)
    s1.close()
    s2.close()
