"""Helpers for the qmgr integration tests.

  write_qfile(path, sender, rcpts, body, arrival=None, mode=0o700,
              done=(), owner=None, warn=None, notify=None) -> dict
        Write a queue file in the format of lib/mail/qfile.h (an
        independent writer): 'C' header, 'T', 'S', recipient groups
        ('O' when orig is given, 'R' or 'D'), 'M', 'N' lines, 'E'.
        rcpts: list of str or (address, orig). Returns dict(offsets=[R/D
        record offset per recipient], content_offset, size). owner:
        (uid, gid) to chown the file to (privileged instances). warn:
        a delay warning time for a 'W' record (seconds since the epoch);
        notify: QFILE_NOTIFY_* bits for an 'n' record on every recipient.
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
  StandInAgent(path, policy=None, final=None)  a delivery agent that
        serves every connection in its own thread (so qmgr can run many
        requests at once). policy(address, nexthop) -> (status, dsn,
        reason); final(request) -> None (status=0) or a reason text for
        "status=4 reason=TEXT" (the destination failed as a whole).
        .gate: a threading.Event; while it is clear, requests whose
        nexthop is in .stall (a set; empty = every request) wait before
        replying. Observations: .requests (dict(attrs, rcpts, t,
        concurrent)), .peak (most requests at once), .delivered (list of
        addresses reported status 0), .active (requests now in
        progress). .wait_requests(n, timeout) -> bool.
  warn_time(path) -> int   the 'W' record's value (None without one).
  qfile_record(rtype, payload) -> bytes  one queue-file record (type,
        LEB128 length, payload).
  UnixListener(path, backlog=16, owner=None)  the base of every stand-in
        service: removes a stale socket, listens on path (mode 0666,
        chowned to the user named owner when given) and calls
        .accepted(conn) in its accept thread for every client; .close()
        stops the thread and removes the socket.
  mail_owner_ids(inst) -> (uid, gid) of mail_owner for a privileged
        instance, else None.
  trigger_qmgr(inst, byte=b"I")  poke qmgr through public/qmgr.
  QMGR_MASTER_CF  master.cf running only qmgr; qmgr_instance(factory,
        settings, log_tail)  a context manager around a stopped instance
        with .services (closed at the end, the log tail printed).
"""

import contextlib
import itertools
import os
import pwd
import shutil
import socket
import threading
import time

from conftest import wait_for
from qfilelib import attr_encode, attr_read

QMGR_MASTER_CF = """\
qmgr unix n - n 300 1 qmgr
"""

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


def qfile_record(rtype, payload=b""):
    if isinstance(payload, str):
        payload = payload.encode("utf-8", "surrogateescape")
    return rtype.encode() + _leb(len(payload)) + payload


_rec = qfile_record


def mail_owner_ids(inst):
    if not inst.privileged:
        return None
    pw = pwd.getpwnam(inst.mail_owner)
    return (pw.pw_uid, pw.pw_gid)


def trigger_qmgr(inst, byte=b"I"):
    path = str(inst.queue_dir / "public" / "qmgr")
    wait_for(lambda: os.path.exists(path), what="public/qmgr")
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    s.sendall(byte)
    s.close()


@contextlib.contextmanager
def qmgr_instance(instance_factory, settings, log_tail=4000):
    inst = instance_factory(master_cf=QMGR_MASTER_CF, settings=settings, start=False)
    inst.services = []
    try:
        yield inst
    finally:
        for s in inst.services:
            s.close()
        print(inst.log()[-log_tail:])          # shown when the test failed


class UnixListener:
    def __init__(self, path, backlog=16, owner=None):
        self.path = str(path)
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(self.path)
        os.chmod(self.path, 0o666)
        if owner:
            shutil.chown(self.path, user=owner)
        self.sock.listen(backlog)
        self.sock.settimeout(0.2)
        self.stopping = False
        self.thread = threading.Thread(target=self._accept_loop, daemon=True)
        self.thread.start()

    def _accept_loop(self):
        while not self.stopping:
            try:
                conn, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            self.accepted(conn)

    def accepted(self, conn):
        raise NotImplementedError

    def close(self):
        self.stopping = True
        self.thread.join(5)
        self.sock.close()
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass


def write_qfile(path, sender, rcpts, body, arrival=None, mode=0o700, done=(),
                owner=None, warn=None, notify=None):
    if arrival is None:
        arrival = time.time()
    sec = int(arrival)
    usec = int((arrival - sec) * 1e6)
    header_len = 1 + 1 + 95
    env = bytearray()
    env += _rec("T", f"{sec} {usec}")
    env += _rec("S", sender)
    if warn is not None:
        env += _rec("W", "%015d" % int(warn))
    offsets = []
    for i, r in enumerate(rcpts):
        addr, orig = (r, None) if isinstance(r, str) else r
        if orig is not None:
            env += _rec("O", orig)
        if notify is not None:
            env += _rec("n", str(notify))
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


class FakeService(UnixListener):
    def __init__(self, path, protocol, handler):
        self.protocol = protocol
        self.handler = handler
        self.requests = []
        self.errors = []
        super().__init__(path)

    def accepted(self, conn):
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


def warn_time(path):
    from qfilelib import read_records
    for rtype, payload, _ in read_records(open(path, "rb").read()):
        if rtype == "W":
            return int(payload)
    return None


class StandInAgent(UnixListener):
    def __init__(self, path, policy=None, final=None):
        self.policy = policy or (lambda addr, nexthop: (0, "2.0.0", "delivered"))
        self.final = final
        self.gate = threading.Event()
        self.gate.set()
        self.stall = set()
        self.requests = []
        self.delivered = []
        self.errors = []
        self.active = 0
        self.peak = 0
        self.lock = threading.Lock()
        super().__init__(path, backlog=256)

    def accepted(self, conn):
        threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn):
        conn.settimeout(60)
        f = conn.makefile("rb")
        counted = False
        try:
            conn.sendall(attr_encode([("protocol", "delivery_request_protocol")]))
            req = attr_read(f)
            rcpts = [attr_read(f) for _ in range(int(req["recipient_count"]))]
            with self.lock:
                self.active += 1
                counted = True
                self.peak = max(self.peak, self.active)
                self.requests.append({"attrs": req, "rcpts": rcpts, "t": time.time(),
                                      "concurrent": self.active})
            while (not self.gate.is_set() and not self.stopping
                   and (not self.stall or req.get("nexthop") in self.stall)):
                self.gate.wait(0.05)
            out = bytearray()
            for r in rcpts:
                status, dsn, reason = self.policy(r["recipient"], req.get("nexthop"))
                if status == 0:
                    with self.lock:
                        self.delivered.append(r["recipient"])
                out += attr_encode([("offset", r["offset"]), ("status", status),
                                    ("dsn_status", dsn), ("reason", reason),
                                    ("relay", "standin")])
            why = self.final(req) if self.final else None
            if why:
                out += attr_encode([("status", 4), ("reason", why)])
            else:
                out += attr_encode([("status", 0)])
            with self.lock:
                self.active -= 1
                counted = False
            conn.sendall(bytes(out))
        except Exception as e:      # recorded for the test to see
            self.errors.append(repr(e))
        finally:
            if counted:
                with self.lock:
                    self.active -= 1
            f.close()
            conn.close()

    def wait_requests(self, n, timeout=10):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if len(self.requests) >= n:
                return True
            time.sleep(0.02)
        return len(self.requests) >= n

    def close(self):
        self.gate.set()
        super().close()
