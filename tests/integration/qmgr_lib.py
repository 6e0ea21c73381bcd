"""Helpers for the qmgr integration tests.

  write_qfile(path, sender, rcpts, body, arrival=None, mode=0o700,
              done=(), owner=None) -> dict
        Write a queue file in the format of lib/mail/qfile.h (an
        independent writer): 'C' header, 'T', 'S', recipient groups
        ('O' when orig is given, 'R' or 'D'), 'M', 'N' lines, 'E'.
        rcpts: list of str or (address, orig). Returns dict(offsets=[R/D
        record offset per recipient], content_offset, size). owner:
        (uid, gid) to chown the file to (privileged instances).
  queue_id()  a fresh queue-ID-shaped name (hex, unique enough for tests).
  FakeService(path, protocol, handler)
        Listen on a UNIX socket at path (mode 0666), send protocol=NAME to
        every client and call handler(conn_file, sock) in a thread.
        .requests collects what handlers append; .close() stops it.
  FakeAgent(path, policy)  a delivery agent (delivery_request_protocol):
        policy(address) -> (status, dsn, reason); records each request as
        dict(attrs=..., rcpts=[...]).
  FakeBounce(path, queue_dir, status=0)  a bounce service
        (bounce_protocol): records each request with the content of
        bounce/ID at the time of the request, replies status.
"""

import itertools
import os
import socket
import threading
import time

from qfilelib import attr_encode, attr_read

_seq = itertools.count(1)


def queue_id():
    return "%05X%X" % (int(time.time() * 1e6) % 0x100000, os.getpid() * 1000 + next(_seq))


def _leb(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _rec(rtype, payload=b""):
    if isinstance(payload, str):
        payload = payload.encode("utf-8", "surrogateescape")
    return rtype.encode() + _leb(len(payload)) + payload


def write_qfile(path, sender, rcpts, body, arrival=None, mode=0o700, done=(),
                owner=None):
    if arrival is None:
        arrival = time.time()
    sec = int(arrival)
    usec = int((arrival - sec) * 1e6)
    header_len = 1 + 1 + 95
    env = bytearray()
    env += _rec("T", f"{sec} {usec}")
    env += _rec("S", sender)
    offsets = []
    for i, r in enumerate(rcpts):
        addr, orig = (r, None) if isinstance(r, str) else r
        if orig is not None:
            env += _rec("O", orig)
        offsets.append(header_len + len(env))
        env += _rec("D" if i in done else "R", addr)
    content_offset = header_len + len(env)
    content = bytearray(_rec("M"))
    size = 0
    if isinstance(body, str):
        body = body.encode("utf-8", "surrogateescape")
    lines = body.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    for line in lines:
        content += _rec("N", line)
        size += len(line) + 1
    tail_offset = content_offset + len(content)
    fields = [1, content_offset, tail_offset, size, len(rcpts), 0]
    hdr = " ".join("%015d" % f for f in fields)
    data = _rec("C", hdr) + bytes(env) + bytes(content) + _rec("E")
    assert len(_rec("C", hdr)) == header_len
    tmp = str(path) + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    os.chmod(tmp, mode)
    if owner is not None:
        os.chown(tmp, *owner)
    os.rename(tmp, path)
    return {"offsets": offsets, "content_offset": content_offset, "size": size}


class FakeService:
    def __init__(self, path, protocol, handler):
        self.path = str(path)
        self.protocol = protocol
        self.handler = handler
        self.requests = []
        self.errors = []
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(self.path)
        os.chmod(self.path, 0o666)
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.stopping = False
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def _loop(self):
        while not self.stopping:
            try:
                conn, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            conn.settimeout(10)
            f = conn.makefile("rb")
            try:
                conn.sendall(attr_encode([("protocol", self.protocol)]))
                self.handler(self, f, conn)
            except Exception as e:      # recorded for the test to see
                self.errors.append(repr(e))
            finally:
                f.close()
                conn.close()

    def close(self):
        self.stopping = True
        self.thread.join(5)
        self.sock.close()
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass


def FakeAgent(path, policy):
    def handle(svc, f, conn):
        req = attr_read(f)
        rcpts = [attr_read(f) for _ in range(int(req["recipient_count"]))]
        svc.requests.append({"attrs": req, "rcpts": rcpts})
        for r in reversed(rcpts):
            status, dsn, reason = policy(r["recipient"])
            conn.sendall(attr_encode([("offset", r["offset"]), ("status", status),
                                      ("dsn_status", dsn), ("reason", reason),
                                      ("relay", "fake")]))
        conn.sendall(attr_encode([("status", 0)]))
    return FakeService(path, "delivery_request_protocol", handle)


def FakeBounce(path, queue_dir, status=0):
    def handle(svc, f, conn):
        req = attr_read(f)
        log = queue_dir / "bounce" / req.get("queue_id", "none")
        req["_log"] = log.read_bytes() if log.exists() else None
        req["_active"] = (queue_dir / "active" / req.get("queue_id", "none")).exists()
        svc.requests.append(req)
        reply = [("status", status)]
        if status:
            reply.append(("reason", "4.3.0 test bounce service says later"))
        conn.sendall(attr_encode(reply))
    return FakeService(path, "bounce_protocol", handle)
