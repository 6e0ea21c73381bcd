"""Helpers for the master integration tests (tests/integration/test_master.py).

These build an instance by hand (config directory, spool tree with the
owners and modes of lib/mail/master_proto.h) and run master directly with
-d -r FD, so they do not depend on the postern command.

  MasterInstance(build, base, mail_owner)
      .write_main(**settings)    main.cf with queue_directory, daemon_directory,
                                 inet_interfaces=127.0.0.1, mail_owner,
                                 maillog_file, plus settings
      .write_master(text)        master.cf
      .start(run_as=None)        start master; returns the readiness line
                                 ("ready" or "error: ..."); run_as: a uid to
                                 run master as (root tests of the
                                 unprivileged mode)
      .pid, .proc                master's pid and Popen object
      .log()                     the maillog text
      .wait_log(text, timeout)   wait until text appears in the maillog
      .children()                pids whose parent is master
      .signal(sig)               send a signal to master
      .wait_exit(timeout)        wait for master to exit; returns its status
      .kill_all()                SIGKILL master's process group (finalizer)
      .sanitizer_errors()        AddressSanitizer/UBSan reports found in the
                                 stdout/stderr of master and its services

  free_port()                    an unused loopback TCP port
  wait_until(pred, timeout)      poll pred() until true; returns its value
                                 or raises AssertionError at the deadline
  talk(port, data, timeout)      connect, send data, half-close, read to EOF
  proc_status(pid)               dict of /proc/PID/status, or None
  cpu_ticks(pid)                 utime + stime of a process, in clock ticks

The `master_instance` fixture (in test_master.py) wraps MasterInstance in
a temporary directory and kills whatever it started.
"""

import os
import pwd
import select
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

# Spool layout: name, mode, owner ("mail" or "root"). Mirrors
# MASTER_SPOOL_LAYOUT in lib/mail/master_proto.h.
SPOOL_LAYOUT = [
    ("maildrop", 0o730, "mail"),
    ("incoming", 0o700, "mail"),
    ("active", 0o700, "mail"),
    ("deferred", 0o700, "mail"),
    ("hold", 0o700, "mail"),
    ("corrupt", 0o700, "mail"),
    ("bounce", 0o700, "mail"),
    ("defer", 0o700, "mail"),
    ("private", 0o700, "mail"),
    ("public", 0o710, "mail"),
    ("pid", 0o755, "root"),
]


def free_port():
    """Return a TCP port on 127.0.0.1 that nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(pred, timeout=10.0, interval=0.02, what="condition"):
    """Poll pred() until it returns a true value or the deadline passes."""
    deadline = time.monotonic() + timeout
    while True:
        value = pred()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def talk(port, data=b"", timeout=10.0):
    """Connect to 127.0.0.1:port, send data, half-close, read until EOF."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        if data:
            s.sendall(data)
        s.shutdown(socket.SHUT_WR)
        out = b""
        while True:
            chunk = s.recv(4096)
            if not chunk:
                return out
            out += chunk


def proc_status(pid):
    """Parsed /proc/PID/status, or None when the process is gone."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    out = {}
    for line in text.splitlines():
        key, _, value = line.partition(":")
        out[key] = value.strip()
    if out.get("State", "").startswith("Z"):
        return None
    return out


def alive(pid):
    """True while pid exists and is not a zombie."""
    return proc_status(pid) is not None


def cpu_ticks(pid):
    """utime + stime of pid in clock ticks."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


class MasterInstance:
    """A hand-built instance: config dir, spool, and a master process."""

    def __init__(self, build, base, mail_owner=None):
        self.build = Path(build)
        self.base = Path(base)
        self.config_dir = self.base / "etc"
        self.queue_dir = self.base / "spool"
        self.log_path = self.base / "maillog"
        self.stderr_path = self.base / "stderr"   # master's and services' stdout/stderr
        self.is_root = os.geteuid() == 0
        if mail_owner is None:
            mail_owner = "nobody" if self.is_root else pwd.getpwuid(os.getuid()).pw_name
        self.mail_owner = mail_owner
        self.proc = None
        self.pid = None
        self.config_dir.mkdir(parents=True, exist_ok=True)
        os.chmod(self.base, 0o755)
        self.make_spool()

    def make_spool(self, owner_uid=None, owner_gid=None, root_uid=None):
        """Create the spool tree with the layout's modes and owners."""
        if owner_uid is None:
            if self.is_root:
                pw = pwd.getpwnam(self.mail_owner)
                owner_uid, owner_gid = pw.pw_uid, pw.pw_gid
            else:
                owner_uid, owner_gid = os.getuid(), os.getgid()
        if root_uid is None:
            root_uid = 0 if self.is_root else os.getuid()
        self.queue_dir.mkdir(exist_ok=True)
        os.chmod(self.queue_dir, 0o755)
        for name, mode, who in SPOOL_LAYOUT:
            path = self.queue_dir / name
            path.mkdir(exist_ok=True)
            if self.is_root:
                if who == "mail":
                    os.chown(path, owner_uid, owner_gid)
                else:
                    os.chown(path, root_uid, owner_gid if root_uid else 0)
            os.chmod(path, mode)

    def write_main(self, **settings):
        values = {
            "queue_directory": str(self.queue_dir),
            "daemon_directory": str(self.build / "bin"),
            "inet_interfaces": "127.0.0.1",
            "inet_protocols": "ipv4",
            "mail_owner": self.mail_owner,
            "maillog_file": str(self.log_path),
        }
        values.update({k: str(v) for k, v in settings.items()})
        text = "".join(f"{k} = {v}\n" for k, v in values.items())
        (self.config_dir / "main.cf").write_text(text)

    def write_master(self, text):
        (self.config_dir / "master.cf").write_text(text)

    def start(self, run_as=None, timeout=15.0, extra_args=()):
        """Start master -d -r FD; return the readiness line."""
        rfd, wfd = os.pipe()
        cmd = [str(self.build / "bin" / "master"), "-c", str(self.config_dir), "-d",
               "-r", str(wfd), *extra_args]

        def pre():
            if run_as is not None:
                os.setgroups([])
                os.setgid(run_as[1])
                os.setuid(run_as[0])

        env = {k: v for k, v in os.environ.items() if k != "MAIL_CONFIG"}
        with open(self.stderr_path, "ab") as err:
            if run_as is not None:
                os.chown(self.stderr_path, run_as[0], run_as[1])
            proc = subprocess.Popen(cmd, pass_fds=(wfd,), stdin=subprocess.DEVNULL,
                                    stdout=err, stderr=err,
                                    start_new_session=True, preexec_fn=pre, env=env,
                                    cwd=str(self.base))
        os.close(wfd)
        data = b""
        deadline = time.monotonic() + timeout
        try:
            while b"\n" not in data:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                ready, _, _ = select.select([rfd], [], [], left)
                if not ready:
                    break
                chunk = os.read(rfd, 512)
                if not chunk:
                    break
                data += chunk
        finally:
            os.close(rfd)
        line = data.decode(errors="replace").strip()
        if self.proc is None or line == "ready":
            self.proc = proc
            self.pid = proc.pid
        self.last_proc = proc
        return line

    def log(self):
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def wait_log(self, text, timeout=10.0):
        return wait_until(lambda: text in self.log(), timeout, what=f"log line {text!r}")

    def children(self):
        """Pids of live processes whose parent is master."""
        out = []
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            st = proc_status(entry)
            if st and st.get("PPid") == str(self.pid):
                out.append(int(entry))
        return out

    def sanitizer_errors(self):
        try:
            text = self.stderr_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""
        return "\n".join(line for line in text.splitlines()
                         if "Sanitizer" in line or "runtime error:" in line)

    def signal(self, sig):
        os.kill(self.pid, sig)

    def wait_exit(self, timeout=30.0):
        return self.proc.wait(timeout=timeout)

    def kill_all(self):
        """Finalizer: kill master's whole process group and reap master."""
        for proc in {self.proc, getattr(self, "last_proc", None)} - {None}:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass


def make_instance(build, tmp_root=None, mail_owner=None):
    """A MasterInstance in a new directory under /tmp (reachable by the
    mail_owner: pytest's own tmp_path is mode 0700 root)."""
    base = tempfile.mkdtemp(prefix="postern-master-", dir=tmp_root or "/tmp")
    return MasterInstance(build, base, mail_owner)


def remove_instance(inst):
    inst.kill_all()
    shutil.rmtree(inst.base, ignore_errors=True)
