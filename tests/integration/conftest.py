"""Shared fixtures for Postern's integration tests.

Fixtures:
  postern_build  Path of the build directory: $POSTERN_BUILD (absolute,
                 set by `make integration`/`make asan`), else <repo>/build;
                 as root, a world-readable copy of its bin/ when the real
                 one cannot be reached by other users.
  bin_path       Function: bin_path("postconf") -> Path of a built program
                 (fails the test when it was not built).
  run            Function that runs a command and captures its output:
                     r = run(["postconf", "-d"], env={...}, input="...")
                 A bare program name is looked up in $POSTERN_BUILD/bin.
                 Returns subprocess.CompletedProcess with text stdout and
                 stderr. The environment is the test's own: MAIL_CONFIG is
                 removed unless given in env, so the host's settings never
                 leak in. Keyword arguments: env (dict merged over it),
                 input (text for stdin), timeout (seconds, default 30),
                 cwd, expect (an exit status to assert, with the output in
                 the failure message).
  config_dir     A fresh, empty configuration directory (a Path) under the
                 test's tmp_path. Write main.cf / master.cf into it with
                 write_file or Path.write_text.
  write_file     Function: write_file(path, text) writes text exactly
                 (no newline added) and returns the Path.

No fixture uses fixed ports, real DNS or the host's /etc/postern.
"""

import os
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def _reachable_by_all(path):
    """True when every directory above path lets other users through."""
    for parent in [path] + list(path.parents):
        if not os.stat(parent).st_mode & 0o001:
            return False
    return True


@pytest.fixture(scope="session")
def postern_build(tmp_path_factory):
    """The build directory holding bin/ and the test binaries.

    Run as root, some tests start programs as an unprivileged user (the
    "unprivileged instance"). When the checkout lies below a directory
    that user cannot enter (a clone in a private mktemp directory, as CI
    makes), the programs are copied once into a world-readable directory
    and that copy is used as the build directory."""
    build = os.environ.get("POSTERN_BUILD")
    path = Path(build) if build else REPO / "build"
    if not path.is_absolute():
        path = (REPO / path).resolve()
    if os.geteuid() != 0 or _reachable_by_all(path / "bin"):
        yield path
        return
    import shutil
    import tempfile
    copy = Path(tempfile.mkdtemp(prefix="postern-build-", dir="/tmp"))
    os.chmod(copy, 0o755)
    shutil.copytree(path / "bin", copy / "bin", symlinks=True)
    for entry in [copy / "bin"] + list((copy / "bin").iterdir()):
        os.chmod(entry, 0o755)
    yield copy
    shutil.rmtree(copy, ignore_errors=True)


@pytest.fixture(scope="session")
def bin_path(postern_build):
    """Return a function mapping a program name to its built binary."""

    def find(name):
        path = postern_build / "bin" / name
        if not path.is_file():
            pytest.fail(f"{path} is not built (run make with BUILD={postern_build})")
        return path

    return find


@pytest.fixture
def run(bin_path):
    """Return a function that runs a command and captures its output."""

    def run_cmd(cmd, env=None, input=None, timeout=30, cwd=None, expect=None):
        cmd = [str(c) for c in cmd]
        if "/" not in cmd[0]:
            cmd[0] = str(bin_path(cmd[0]))
        full_env = dict(os.environ)
        full_env.pop("MAIL_CONFIG", None)
        if env:
            full_env.update({k: str(v) for k, v in env.items()})
        result = subprocess.run(
            cmd,
            env=full_env,
            input=input,
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=cwd,
            errors="surrogateescape",
        )
        if expect is not None and result.returncode != expect:
            pytest.fail(
                f"{' '.join(cmd)}: exit {result.returncode}, expected {expect}\n"
                f"--- stdout\n{result.stdout}--- stderr\n{result.stderr}"
            )
        return result

    return run_cmd


@pytest.fixture
def config_dir(tmp_path):
    """A fresh, empty configuration directory."""
    path = tmp_path / "etc"
    path.mkdir()
    return path


@pytest.fixture
def write_file():
    """Return a function that writes a text file exactly as given."""

    def write(path, text):
        path = Path(path)
        path.write_text(text)
        return path

    return write


# ------------------------------------------------------------ instances
#
# instance_factory  Function that creates a Postern instance with
#                   "postern init" in a fresh directory and (by default)
#                   starts it:
#                       inst = instance_factory(master_cf=None, settings={},
#                                               start=True, ports=1)
#                   master_cf: text of master.cf, where {port0}, {port1},
#                   ... stand for free loopback ports (default: one testsvc
#                   echo service on 127.0.0.1:{port0}). settings: extra
#                   main.cf parameters. Every instance is stopped (and, if
#                   that fails, killed) and removed when the test ends.
# instance          One started instance with the default master.cf.
#
# An Instance has: base (its directory), config_dir, queue_dir, log_path,
# ports (list), mail_owner, and the helpers postern(*args, expect=None,
# timeout=30), start(), stop(), status(), pid(), log(), wait_log(text,
# timeout=10), write_master_cf(text), postconf(*args).
#
# Test instances use dns_resolver_servers=127.0.0.1:9 (nothing answers)
# and smtpd_peername_lookup=no; tests that need DNS start dnsmasq
# (dnsd.py) and set both in settings.
#
# Run as root, the instance is a privileged one whose services run as
# $POSTERN_TEST_MAIL_OWNER (default nobody) with setgid_group
# $POSTERN_TEST_SETGID_GROUP (default nogroup); its directory is made
# reachable for that user. Run as another user, it is an unprivileged
# instance owned by that user.

import fcntl
import grp
import pwd
import shutil
import signal
import socket
import tempfile
import time

DEFAULT_MASTER_CF = """\
# master.cf of a test instance
127.0.0.1:{port0} inet n - n - - testsvc echo
"""


def free_ports(count):
    """Return count distinct free TCP ports on 127.0.0.1."""
    socks, ports = [], []
    try:
        for _ in range(count):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            socks.append(s)
            ports.append(s.getsockname()[1])
    finally:
        for s in socks:
            s.close()
    return ports


def wait_for(predicate, timeout=10.0, interval=0.05, what="condition"):
    """Poll predicate() until it is true; fail the test at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


class Instance:
    """A Postern instance in its own directory (see instance_factory)."""

    def __init__(self, run, postern_build, base, ports):
        self._run = run
        self.build = postern_build
        self.base = base
        self.ports = ports
        self.config_dir = base / "etc"
        self.queue_dir = base / "spool"
        self.log_path = base / "maillog"
        self.privileged = os.geteuid() == 0
        if self.privileged:
            self.mail_owner = os.environ.get("POSTERN_TEST_MAIL_OWNER", "nobody")
            self.setgid_group = os.environ.get("POSTERN_TEST_SETGID_GROUP", "nogroup")
        else:
            self.mail_owner = pwd.getpwuid(os.getuid()).pw_name
            self.setgid_group = grp.getgrgid(os.getgid()).gr_name

    def postern(self, *args, expect=None, timeout=30):
        """Run postern -c CONFIG_DIR ARGS."""
        return self._run(["postern", "-c", self.config_dir, *args],
                         expect=expect, timeout=timeout)

    def postconf(self, *args, expect=0):
        """Run postconf -c CONFIG_DIR ARGS."""
        return self._run(["postconf", "-c", self.config_dir, *args], expect=expect)

    def start(self):
        return self.postern("start", expect=0, timeout=60)

    def stop(self):
        return self.postern("stop", expect=0, timeout=90)

    def status(self):
        return self.postern("status").returncode

    def pid(self):
        """master's pid from the pid file, or None."""
        try:
            text = (self.queue_dir / "pid" / "master.pid").read_text()
            return int(text.strip())
        except (OSError, ValueError):
            return None

    def running(self):
        """True while a master holds the lock on the pid file."""
        try:
            fd = os.open(self.queue_dir / "pid" / "master.pid", os.O_RDONLY)
        except FileNotFoundError:
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            return False
        except BlockingIOError:
            return True
        finally:
            os.close(fd)

    def log(self):
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def wait_log(self, text, timeout=10.0, start=0):
        """Wait until the log (from offset start) contains text."""
        return wait_for(lambda: text in self.log()[start:], timeout,
                        what=f"{text!r} in {self.log_path}")

    def write_master_cf(self, text):
        (self.config_dir / "master.cf").write_text(text.format(
            **{f"port{i}": p for i, p in enumerate(self.ports)}))

    def cleanup(self):
        """Stop the instance however necessary (bounded), then remove it."""
        if self.running():
            pid = self.pid()
            try:
                self.postern("stop", timeout=90)
            except subprocess.TimeoutExpired:
                pass
            if self.running() and pid:
                # master runs in its own session: kill its process group.
                for kill in (os.killpg, os.kill):
                    try:
                        kill(pid, signal.SIGKILL)
                    except (ProcessLookupError, PermissionError):
                        pass
                deadline = time.monotonic() + 10
                while self.running() and time.monotonic() < deadline:
                    time.sleep(0.05)
        shutil.rmtree(self.base, ignore_errors=True)


@pytest.fixture
def instance_factory(run, bin_path, postern_build):
    """Return a function that creates (and starts) test instances."""
    created = []

    def make(master_cf=None, settings=None, start=True, ports=1):
        base = Path(tempfile.mkdtemp(prefix="postern-it-", dir="/tmp"))
        os.chmod(base, 0o755)           # reachable for mail_owner
        inst = Instance(run, postern_build, base, free_ports(ports))
        created.append(inst)
        args = [
            "init", inst.config_dir,
            f"queue_directory={inst.queue_dir}",
            f"daemon_directory={postern_build / 'bin'}",
            f"command_directory={postern_build / 'bin'}",
            f"mail_owner={inst.mail_owner}",
            f"setgid_group={inst.setgid_group}",
            f"maillog_file={inst.log_path}",
            "inet_interfaces=127.0.0.1",
            "relayhost=[127.0.0.1]:9",
            # Never the host's resolver: a loopback port where nothing
            # answers, and no client name lookups, unless a test says so.
            "dns_resolver_servers=127.0.0.1:9",
            "smtpd_peername_lookup=no",
        ]
        for name, value in (settings or {}).items():
            args.append(f"{name}={value}")
        run(["postern", *args], expect=0)
        inst.log_path.touch()
        if inst.privileged:
            shutil.chown(inst.log_path, user=inst.mail_owner)
        os.chmod(inst.log_path, 0o644)
        inst.write_master_cf(master_cf if master_cf is not None else DEFAULT_MASTER_CF)
        if start:
            bin_path("master")
            inst.start()
        return inst

    yield make
    for inst in created:
        inst.cleanup()


@pytest.fixture
def instance(instance_factory):
    """One started instance running a testsvc echo service on ports[0]."""
    return instance_factory()
