"""The shared connection cache daemon (scache(8)) under master.

A Python client speaks the scache protocol (lib/mail/scache_proto.h) on
private/scache with real sockets passed as descriptors (socket.send_fds /
recv_fds): each test saves one end of a loopback TCP connection, takes it
back and checks that bytes still flow through it, or that the daemon
really closed it (the other end sees EOF) when it should have.
"""

import os
import re
import socket
import time

import pytest

from conftest import wait_for
from qfilelib import attr_encode, attr_unescape

SCACHE_MASTER_CF = """\
scache    unix  -       -       n       -       1       scache
"""


class ScacheClient:
    """One conversation with the daemon (the client side of scache_proto)."""

    def __init__(self, path, timeout=10):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(str(path))
        self.buf = b""
        self.fds = []
        assert self.read() == {"protocol": "scache_protocol"}

    def close(self):
        for fd in self.fds:
            os.close(fd)
        self.fds = []
        self.sock.close()

    def read(self):
        """One attribute message (dict), reading with recvmsg."""
        while b"\n\n" not in self.buf and not self.buf.startswith(b"\n"):
            data, fds, _flags, _addr = socket.recv_fds(self.sock, 4096, 4)
            self.fds.extend(fds)
            if not data:
                raise EOFError("scache closed the connection")
            self.buf += data
        raw, self.buf = self.buf.split(b"\n\n", 1)
        out = {}
        for line in raw.split(b"\n"):
            if line:
                name, value = line.split(b"=", 1)
                out[name.decode()] = attr_unescape(value).decode("utf-8", "surrogateescape")
        return out

    def send(self, pairs, fd=None):
        data = attr_encode(pairs)
        if fd is None:
            self.sock.sendall(data)
        else:
            socket.send_fds(self.sock, [data], [fd])

    def save(self, dest, endp, prop, fd, ttl=0):
        self.send([("request", "save"), ("dest_label", dest), ("endp_label", endp),
                   ("endp_prop", prop), ("ttl", ttl)], fd)
        return self.read()

    def find(self, by, label):
        """(reply, fd or None); by is "dest" or "endp"."""
        self.send([("request", "find_" + by), (by + "_label", label)])
        reply = self.read()
        fd = self.fds.pop(0) if self.fds else None
        return reply, fd


def tcp_pair():
    """A connected loopback TCP pair: (client side, server side)."""
    lst = socket.socket()
    lst.bind(("127.0.0.1", 0))
    lst.listen(1)
    cli = socket.create_connection(lst.getsockname(), 5)
    srv, _ = lst.accept()
    lst.close()
    srv.settimeout(5)
    return cli, srv


@pytest.fixture
def scache(instance_factory, bin_path):
    bin_path("scache")
    made = []

    def make(settings=None, master_cf=SCACHE_MASTER_CF):
        inst = instance_factory(master_cf=master_cf, settings=settings or {})
        path = inst.queue_dir / "private" / "scache"
        wait_for(path.exists, what="private/scache")
        inst.scache_path = path
        made.append(inst)
        return inst

    return make


def client(inst):
    return ScacheClient(inst.scache_path)


def test_save_then_find_dest_hands_back_the_live_connection(scache):
    inst = scache()
    cli, srv = tcp_pair()
    c = client(inst)
    assert c.save("smtp:example.test", "smtp:127.0.0.1:25", "mx.example.test 1",
                  cli.fileno(), ttl=60) == {"status": "0"}
    cli.close()                         # only the daemon holds it now
    reply, fd = c.find("dest", "smtp:example.test")
    assert reply == {"status": "0", "endp_label": "smtp:127.0.0.1:25",
                     "endp_prop": "mx.example.test 1"}
    assert fd is not None
    got = socket.socket(fileno=fd)
    got.sendall(b"EHLO again\r\n")
    assert srv.recv(100) == b"EHLO again\r\n"
    srv.sendall(b"250 ok\r\n")
    got.settimeout(5)
    assert got.recv(100) == b"250 ok\r\n"
    # Handed out once: a second request finds nothing.
    reply, fd2 = c.find("dest", "smtp:example.test")
    assert reply["status"] == "1" and fd2 is None
    got.close()
    assert srv.recv(100) == b""         # the daemon kept no copy
    srv.close()
    c.close()


def test_find_by_endpoint_and_newest_first(scache):
    inst = scache(settings={"smtp_connection_cache_time_limit": "60s"})
    pairs = [tcp_pair() for _ in range(3)]
    c = client(inst)
    for i, (cli, _srv) in enumerate(pairs):
        assert c.save("smtp:d.test", f"smtp:127.0.0.{i + 1}:25", f"p{i}",
                      cli.fileno())["status"] == "0"
        cli.close()
    # By endpoint: exactly that one.
    reply, fd = c.find("endp", "smtp:127.0.0.1:25")
    assert reply["status"] == "0" and reply["endp_prop"] == "p0"
    os.close(fd)
    # By destination: the most recently saved first.
    reply, fd = c.find("dest", "smtp:d.test")
    assert reply["endp_label"] == "smtp:127.0.0.3:25"
    os.close(fd)
    reply, fd = c.find("dest", "smtp:d.test")
    assert reply["endp_label"] == "smtp:127.0.0.2:25"
    os.close(fd)
    reply, fd = c.find("dest", "smtp:d.test")
    assert reply["status"] == "1" and fd is None
    # A label of another kind never matches.
    cli, srv = tcp_pair()
    c.save("smtp:x.test", "smtp:127.0.0.9:25", "", cli.fileno())
    assert c.find("endp", "smtp:x.test")[0]["status"] == "1"
    assert c.find("dest", "smtp:127.0.0.9:25")[0]["status"] == "1"
    c.close()
    for _cli, srv in pairs:
        srv.close()


def test_save_without_destination_is_found_by_endpoint(scache):
    inst = scache()
    cli, srv = tcp_pair()
    c = client(inst)
    assert c.save("", "lmtp:127.0.0.1:24", "", cli.fileno())["status"] == "0"
    assert c.find("dest", "lmtp:127.0.0.1:24")[0]["status"] == "1"
    reply, fd = c.find("endp", "lmtp:127.0.0.1:24")
    assert reply["status"] == "0"
    os.close(fd)
    c.close()
    cli.close()
    srv.close()


@pytest.mark.parametrize("limit,ttl", [("1s", 60), ("60s", 1)])
def test_expiry_closes_the_connection(scache, limit, ttl):
    inst = scache(settings={"smtp_connection_cache_time_limit": limit})
    cli, srv = tcp_pair()
    c = client(inst)
    start = time.monotonic()
    assert c.save("smtp:e.test", "smtp:127.0.0.1:25", "", cli.fileno(), ttl=ttl)["status"] == "0"
    cli.close()
    srv.settimeout(10)
    assert srv.recv(10) == b""          # the daemon closed it
    waited = time.monotonic() - start
    assert 0.8 <= waited < 8, waited
    assert c.find("dest", "smtp:e.test")[0]["status"] == "1"
    c.close()
    srv.close()


def test_remote_close_drops_the_cached_connection(scache):
    inst = scache(settings={"smtp_connection_cache_time_limit": "60s"})
    cli, srv = tcp_pair()
    c = client(inst)
    assert c.save("smtp:r.test", "smtp:127.0.0.1:25", "", cli.fileno())["status"] == "0"
    cli.close()
    srv.sendall(b"421 4.4.2 idle too long\r\n")
    srv.close()

    def gone():
        cc = client(inst)
        try:
            reply, fd = cc.find("endp", "smtp:127.0.0.1:25")
            if fd is not None:
                os.close(fd)
                pytest.fail("a connection the remote end closed was handed out")
            return reply["status"] == "1"
        finally:
            cc.close()
    # Allow the daemon a moment to see the EOF, then it must be gone.
    time.sleep(0.5)
    assert gone()
    c.close()


def test_full_cache_evicts_the_oldest(scache):
    inst = scache(settings={"smtp_connection_cache_time_limit": "60s"})
    cli, srv = tcp_pair()
    c = client(inst)
    assert c.save("smtp:old.test", "smtp:old:25", "", cli.fileno())["status"] == "0"
    # 1000, or fewer when the daemon's open file limit is low (it says so).
    m = re.search(r"caching at most (\d+) connections", inst.log())
    capacity = int(m.group(1)) if m else 1000
    for i in range(capacity):
        assert c.save("smtp:new.test", f"smtp:new{i}:25", "", cli.fileno())["status"] == "0"
    assert c.find("dest", "smtp:old.test")[0]["status"] == "1"
    reply, fd = c.find("endp", "smtp:new0:25")
    assert reply["status"] == "0"
    os.close(fd)
    c.close()
    cli.close()
    srv.close()


def test_bad_requests_end_only_that_client(scache):
    inst = scache()
    # A save without a descriptor.
    c = client(inst)
    reply = c.save("smtp:b.test", "smtp:127.0.0.1:25", "", None)
    assert reply["status"] == "1" and "without a descriptor" in reply["reason"]
    with pytest.raises((EOFError, ConnectionResetError)):
        c.read()
    c.close()
    # A descriptor that is not a socket is refused, the client may go on.
    c = client(inst)
    r, w = os.pipe()
    reply = c.save("smtp:b.test", "smtp:127.0.0.1:25", "", r)
    assert reply["status"] == "1" and "not a socket" in reply["reason"]
    os.close(r)
    os.close(w)
    assert c.find("dest", "smtp:b.test")[0]["status"] == "1"
    # An unknown request, then a malformed message.
    c.send([("request", "steal_everything")])
    assert c.read()["status"] == "1"
    c.close()
    c = client(inst)
    c.sock.sendall(b"Not An Attribute\n\n")
    with pytest.raises((EOFError, ConnectionResetError)):
        c.read()
    c.close()
    # The daemon still works.
    cli, srv = tcp_pair()
    c = client(inst)
    assert c.save("smtp:ok.test", "smtp:127.0.0.1:25", "", cli.fileno())["status"] == "0"
    reply, fd = c.find("dest", "smtp:ok.test")
    assert reply["status"] == "0"
    os.close(fd)
    c.close()
    cli.close()
    srv.close()
    log = inst.log()
    assert "save request without a descriptor" in log
    assert 'unknown request "steal_everything"' in log
    assert "bad message" in log


def test_statistics_logged_when_idle_exit(scache):
    inst = scache(master_cf=SCACHE_MASTER_CF.replace(
        "scache\n", "scache -o max_idle=1\n"))
    cli, srv = tcp_pair()
    c = client(inst)
    c.save("smtp:s.test", "smtp:127.0.0.1:25", "", cli.fileno(), ttl=30)
    _, fd = c.find("dest", "smtp:s.test")
    os.close(fd)
    c.find("dest", "smtp:s.test")
    c.find("endp", "smtp:127.0.0.1:99")
    c.close()
    inst.wait_log("statistics: domain lookup hits=1 miss=1 success=50%", timeout=20)
    log = inst.log()
    assert "statistics: address lookup hits=0 miss=1 success=0%" in log
    assert re.search(r"statistics: max simultaneous connections=1 saved=1 ", log)
    cli.close()
    srv.close()
