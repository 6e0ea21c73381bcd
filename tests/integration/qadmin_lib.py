"""Helpers for the queue administration tests (postqueue, postsuper,
postcat, flush, showq).

  QueueWriter(inst)  writes queue files by hand into the instance's spool,
        owned by mail_owner when the instance is privileged:
          .put(queue, sender, rcpts, body="...", arrival=None, done=(),
               mode=0o700, qid=None, mtime=None) -> queue ID
          .path(queue, qid)  the file's path (hashed queues: deferred/X/ID)
          .defer_log(qid, [(recipient, reason), ...])  write defer/ID as the
               bounce daemon does (attribute messages)
  FakeQmgr(inst)  a stand-in for qmgr's public/qmgr trigger socket: .bytes
        collects every byte received (b"FIA", b"FD", ...); .wait(data)
        waits until data was received; .close().
  queue_files(inst, queue)  {ID: path} of the files in a queue (hash
        levels included).
  run_as(user, group_names, argv, env=None, input=None)  run a program as
        another user with supplementary groups (root only), as a set-gid
        postqueue would run.
"""

import grp
import os
import pwd
import subprocess
import threading
import time
from pathlib import Path

from conftest import wait_for
from qfilelib import attr_encode
from qmgr_lib import UnixListener, mail_owner_ids, queue_id, write_qfile

HASHED = ("deferred", "defer")


class QueueWriter:
    def __init__(self, inst):
        self.inst = inst
        self.owner = mail_owner_ids(inst)

    def path(self, queue, qid):
        d = self.inst.queue_dir / queue
        if queue in HASHED:
            d = d / qid[0]
        return d / qid

    def _mkdir(self, d):
        if not d.exists():
            d.mkdir(mode=0o700)
            if self.owner:
                os.chown(d, *self.owner)

    def put(self, queue, sender, rcpts, body="Subject: test\n\nhello\n",
            arrival=None, done=(), mode=0o700, qid=None, mtime=None):
        qid = qid or queue_id()
        p = self.path(queue, qid)
        self._mkdir(p.parent)
        write_qfile(p, sender, rcpts, body, arrival=arrival, mode=mode, done=done,
                    owner=self.owner)
        if mtime is not None:
            os.utime(p, (mtime, mtime))
        return qid

    def defer_log(self, qid, entries):
        p = self.path("defer", qid)
        self._mkdir(p.parent)
        data = b"".join(attr_encode([("recipient", r), ("dsn_status", "4.4.1"),
                                     ("dsn_action", "delayed"), ("reason", why),
                                     ("time", int(time.time()))])
                        for r, why in entries)
        p.write_bytes(data)
        os.chmod(p, 0o600)
        if self.owner:
            os.chown(p, *self.owner)


def queue_files(inst, queue):
    out = {}
    for root, _dirs, files in os.walk(inst.queue_dir / queue):
        for f in files:
            out[f] = Path(root) / f
    return out


class FakeQmgr(UnixListener):
    def __init__(self, inst):
        self.bytes = b""
        self.lock = threading.Lock()
        super().__init__(inst.queue_dir / "public" / "qmgr")

    def accepted(self, conn):
        conn.settimeout(5)
        try:
            while True:
                data = conn.recv(256)
                if not data:
                    break
                with self.lock:
                    self.bytes += data
        except OSError:
            pass
        conn.close()

    def received(self):
        with self.lock:
            return self.bytes

    def wait(self, data, timeout=10):
        return wait_for(lambda: data in self.received(), timeout,
                        what=f"{data!r} at the qmgr stand-in (got {self.received()!r})")



def run_as(user, groups, argv, env=None, input=None, timeout=30):
    """Run argv as user (by name) with the named supplementary groups."""
    pw = pwd.getpwnam(user)
    full_env = dict(os.environ)
    full_env.pop("MAIL_CONFIG", None)
    full_env.update(env or {})
    return subprocess.run([str(a) for a in argv], user=pw.pw_uid, group=pw.pw_gid,
                          extra_groups=[grp.getgrnam(g).gr_gid for g in groups],
                          env=full_env, input=input, capture_output=True, text=True,
                          timeout=timeout, cwd="/")
