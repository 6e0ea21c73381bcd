"""Integration tests for master(8), the service skeleton and testsvc(8).

Each test builds an instance by hand (tests/integration/masterlib.py),
runs master with -d -r FD on free loopback ports, and talks to testsvc
services. Waits are polls with deadlines; nothing uses fixed ports.
"""

import os
import pwd
import signal
import socket
import subprocess
import threading
import time

import pytest

from masterlib import (alive, cpu_ticks, free_port, make_instance, proc_status,
                       remove_instance, talk, wait_until)

IS_ROOT = os.geteuid() == 0


@pytest.fixture
def master_instance(postern_build, bin_path):
    """Function creating hand-built instances; all are killed at the end."""
    bin_path("master")
    bin_path("testsvc")
    made = []

    def make(mail_owner=None):
        inst = make_instance(postern_build, mail_owner=mail_owner)
        made.append(inst)
        return inst

    yield make
    errors = []
    for inst in made:
        inst.kill_all()
        errors.append(inst.sanitizer_errors())
        remove_instance(inst)
    errors = "\n".join(e for e in errors if e)
    assert not errors, f"sanitizer reports from master or its services:\n{errors}"


def started(make, master_cf, **settings):
    """An instance with master_cf, started; asserts readiness."""
    inst = make()
    inst.write_main(**settings)
    inst.write_master(master_cf)
    line = inst.start()
    assert line == "ready", f"master did not start: {line!r}\n{inst.log()}"
    return inst


def pid_of(port):
    """Ask an echo service for the pid of the process serving us."""
    reply = talk(port, b"pid\n").decode()
    assert reply.startswith("pid="), reply
    return int(reply.strip().split("=")[1])


# ------------------------------------------------------------ start, stop

def test_start_ready_echo_and_pid_file(master_instance):
    port = free_port()
    inst = started(master_instance, f"{port} inet n - n - - testsvc echo\n")
    assert talk(port, b"hello\nworld\n") == b"hello\nworld\n"
    assert "daemon started -- version" in inst.log()
    assert f"configuration {inst.config_dir}" in inst.log()
    pid_file = inst.queue_dir / "pid" / "master.pid"
    assert pid_file.read_text() == f"{inst.pid}\n"
    # -t reports a running master.
    r = subprocess.run([str(inst.build / "bin" / "master"), "-c", str(inst.config_dir),
                        "-t"], capture_output=True, timeout=10)
    assert r.returncode == 0
    # Logging goes to maillog_file with the Postfix-shaped identity.
    wait_until(lambda: f"postern/master[{inst.pid}]" in inst.log(), what="master ident")


def test_inet_interfaces_list_gives_one_listener_each(master_instance):
    port = free_port()
    inst = started(master_instance, f"{port} inet n - n - 1 testsvc echo\n",
                   inet_interfaces="127.0.0.1, 127.0.0.2")
    for host in ("127.0.0.1", "127.0.0.2"):
        with socket.create_connection((host, port), timeout=10) as s:
            s.sendall(b"pid\n")
            assert s.makefile("rb").readline().startswith(b"pid=")
    child = inst.children()[0]
    cmdline = open(f"/proc/{child}/cmdline", "rb").read().split(b"\0")
    assert cmdline[cmdline.index(b"-s") + 1] == b"2"


def test_sigterm_stops_master_and_children(master_instance):
    p1, p2 = free_port(), free_port()
    inst = started(master_instance, f"{p1} inet n - n - - testsvc echo\n"
                                    f"{p2} inet n - n - - testsvc sleep\n")
    echo_pid = pid_of(p1)
    held = socket.create_connection(("127.0.0.1", p2), timeout=10)
    sleep_pid = int(held.makefile().readline().strip().split("=")[1])
    kids = inst.children()
    assert echo_pid in kids and sleep_pid in kids
    inst.signal(signal.SIGTERM)
    assert inst.wait_exit(timeout=30) == 0
    wait_until(lambda: not alive(echo_pid) and not alive(sleep_pid), what="children gone")
    assert "terminating on signal 15" in inst.log()
    held.close()
    with pytest.raises(ConnectionRefusedError):
        talk(p1)
    r = subprocess.run([str(inst.build / "bin" / "master"), "-c", str(inst.config_dir),
                        "-t"], capture_output=True, timeout=10)
    assert r.returncode == 1


def test_sigint_aborts_at_once(master_instance):
    port = free_port()
    inst = started(master_instance, f"{port} inet n - n - - testsvc sleep\n")
    held = socket.create_connection(("127.0.0.1", port), timeout=10)
    child = int(held.makefile().readline().strip().split("=")[1])
    inst.signal(signal.SIGINT)
    assert inst.wait_exit(timeout=10) == 0
    assert not alive(child)
    assert "terminating on signal 2" in inst.log()
    held.close()


def test_two_masters_on_one_spool_refused(master_instance):
    port = free_port()
    inst = started(master_instance, f"{port} inet n - n - - testsvc echo\n")
    line = inst.start()
    assert line == f"error: the Postern mail system is already running (pid {inst.pid})"
    assert inst.last_proc.wait(timeout=10) == 1
    assert alive(inst.pid)
    assert talk(port, b"x\n") == b"x\n"


def test_bad_master_cf_reported_on_readiness_pipe(master_instance):
    inst = master_instance()
    inst.write_main()
    inst.write_master("smtp inet n - n - - \n")
    line = inst.start()
    assert line.startswith("error: ") and "master.cf, line 1" in line, line
    assert inst.last_proc.wait(timeout=10) == 1


def test_port_in_use_reported(master_instance):
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen(1)
        port = blocker.getsockname()[1]
        inst = master_instance()
        inst.write_main()
        inst.write_master(f"{port} inet n - n - - testsvc echo\n")
        line = inst.start()
        assert line.startswith("error: ") and "bind 127.0.0.1:" in line, line


def test_service_run_by_hand_says_so(run):
    r = run(["testsvc", "echo"])
    assert r.returncode == 1
    assert "must be run by master" in r.stderr


# ------------------------------------------------------------ processes

def test_crashing_service_is_throttled_without_spinning(master_instance):
    port = free_port()
    inst = started(master_instance, f"{port} inet n - n - - testsvc crash\n")
    # A pending connection keeps the listener readable during the throttle.
    pending = socket.create_connection(("127.0.0.1", port), timeout=10)
    inst.wait_log(f"{port}/inet: bad command startup -- throttling")
    assert "exit status 1" in inst.log()
    before = cpu_ticks(inst.pid)
    t0 = time.monotonic()
    time.sleep(2.0)     # measuring CPU use over an interval, not synchronising
    used = cpu_ticks(inst.pid) - before
    elapsed_ticks = (time.monotonic() - t0) * os.sysconf("SC_CLK_TCK")
    assert used < elapsed_ticks * 0.25, f"master used {used} ticks while throttled"
    # Throttled: no second attempt within service_throttle_time (60 s).
    assert inst.log().count("bad command startup") == 1
    assert inst.children() == []
    pending.close()


def test_crashed_child_is_replaced(master_instance):
    port = free_port()
    inst = started(master_instance, f"{port} inet n - n - 1 testsvc "
                                    f"-o syslog_name=postern/sub crash-after 1\n")
    first = pid_of(port)
    inst.wait_log(f"pid {first} killed by signal 6")
    # -o overrides reach the skeleton: the service logged under its name.
    assert f"postern/sub/testsvc[{first}]: crash-after 1: aborting" in inst.log()
    second = pid_of(port)
    assert second != first
    assert "throttling" not in inst.log()


def test_sigkill_of_child_leaves_master_healthy(master_instance):
    port = free_port()
    inst = started(master_instance, f"{port} inet n - n - - testsvc echo\n")
    first = pid_of(port)
    os.kill(first, signal.SIGKILL)
    inst.wait_log(f"pid {first} killed by signal 9")
    second = pid_of(port)
    assert second != first
    assert alive(inst.pid)
    assert "throttling" not in inst.log()


def test_maxproc_respected_under_50_connections(master_instance):
    port = free_port()
    inst = started(master_instance, f"{port} inet n - n - 5 testsvc sleep\n")
    socks = [socket.create_connection(("127.0.0.1", port), timeout=30) for _ in range(50)]
    served = {}
    most = 0
    deadline = time.monotonic() + 60
    open_socks = list(socks)
    import select
    while open_socks and time.monotonic() < deadline:
        most = max(most, len(inst.children()))
        ready, _, _ = select.select(open_socks, [], [], 0.5)
        for s in ready:
            data = s.recv(100)
            assert data.startswith(b"pid="), data
            served[s] = int(data.split(b"=")[1].strip())
            # Hold it a moment so that processes really overlap.
        if len([s for s in open_socks if s in served]) >= 5 or not ready:
            most = max(most, len(inst.children()))
            for s in [s for s in open_socks if s in served]:
                s.close()
                open_socks.remove(s)
    assert not open_socks, f"{len(open_socks)} connections never served"
    assert len(served) == 50
    assert 1 <= most <= 5, f"saw {most} processes"
    assert len(set(served.values())) <= 50
    assert len(inst.children()) <= 5


def test_max_use_recycles_processes(master_instance):
    port = free_port()
    inst = started(master_instance, f"{port} inet n - n - 1 testsvc -o max_use=2 echo\n")
    pids = [pid_of(port) for _ in range(4)]
    assert pids[0] == pids[1]
    assert pids[2] == pids[3]
    assert pids[1] != pids[2]
    assert not alive(pids[0])
    assert "throttling" not in inst.log()


def test_max_idle_recycles_processes(master_instance):
    port = free_port()
    inst = started(master_instance, f"{port} inet n - n - - testsvc -o max_idle=1 echo\n")
    first = pid_of(port)
    wait_until(lambda: not alive(first), timeout=15, what="idle process to exit")
    second = pid_of(port)
    assert second != first
    assert "throttling" not in inst.log()


def test_multiplexed_service_serves_clients_in_one_process(master_instance):
    port = free_port()
    started(master_instance, f"{port} inet n - n - 1 testsvc multi-echo\n")
    a = socket.create_connection(("127.0.0.1", port), timeout=10)
    b = socket.create_connection(("127.0.0.1", port), timeout=10)
    pa = a.makefile("rb").readline()
    pb = b.makefile("rb").readline()
    assert pa == pb and pa.startswith(b"pid=")
    a.sendall(b"ping\n")
    assert a.recv(100) == b"ping\n"
    a.close()
    b.close()


def test_wakeup_timer(master_instance):
    inst = master_instance()
    counter = inst.base / "wakeups"
    lazy = inst.base / "lazy"
    inst.write_main()
    inst.write_master(f"wake unix n n n 1 1 testsvc trigger {counter}\n"
                      f"lazy unix n n n 1? 1 testsvc trigger {lazy}\n")
    assert inst.start() == "ready"
    wait_until(lambda: counter.exists() and int(counter.read_text()) >= 3,
               timeout=20, what="three wakeups")
    # "1?": no wakeup before the service was used once.
    assert not lazy.exists()
    with socket.socket(socket.AF_UNIX) as s:
        s.connect(str(inst.queue_dir / "public" / "lazy"))
        s.sendall(b"x")
    wait_until(lambda: lazy.exists() and int(lazy.read_text()) >= 1, timeout=20,
               what="wakeup after first use")


def test_first_wakeup_comes_at_start(master_instance):
    """Work queued while the system was down must not wait a whole wakeup
    period: the first wakeup of an unconditional service is immediate."""
    inst = master_instance()
    counter = inst.base / "wakeups"
    inst.write_main()
    inst.write_master(f"wake unix n n n 300 1 testsvc trigger {counter}\n")
    assert inst.start() == "ready"
    wait_until(lambda: counter.exists() and int(counter.read_text()) >= 1,
               timeout=20, what="the first wakeup")


# ------------------------------------------------------------ reload

def test_reload_adds_and_removes_services(master_instance):
    keep, gone, new = free_port(), free_port(), free_port()
    inst = started(master_instance, f"{keep} inet n - n - - testsvc echo\n"
                                    f"{gone} inet n - n - - testsvc echo\n")
    old_keep = pid_of(keep)
    old_gone = pid_of(gone)
    refused = []
    stop = threading.Event()

    def hammer():
        while not stop.is_set():
            try:
                if talk(keep, b"k\n", timeout=10) != b"k\n":
                    refused.append("bad reply")
            except OSError as e:
                refused.append(repr(e))

    t = threading.Thread(target=hammer)
    t.start()
    try:
        inst.write_master(f"{keep} inet n - n - - testsvc echo\n"
                          f"{new} inet n - n - - testsvc echo\n")
        inst.signal(signal.SIGHUP)
        inst.wait_log("reload -- version")
        inst.wait_log(f"service {gone}/inet removed")
        inst.wait_log(f"service {new}/inet added")     # logged once it listens
        assert talk(new, b"new\n") == b"new\n"
        wait_until(lambda: not alive(old_gone), what="old child of removed service")
        wait_until(lambda: not alive(old_keep), what="old-generation child")
    finally:
        stop.set()
        t.join(timeout=30)
    assert refused == [], refused
    with pytest.raises(ConnectionRefusedError):
        talk(gone)
    assert pid_of(keep) != old_keep
    assert alive(inst.pid)


def test_reload_with_broken_master_cf_keeps_running(master_instance):
    port = free_port()
    inst = started(master_instance, f"{port} inet n - n - - testsvc echo\n")
    inst.write_master("x inet n - n - -\n")
    inst.signal(signal.SIGHUP)
    inst.wait_log("keeping the running services")
    assert talk(port, b"ok\n") == b"ok\n"


# ------------------------------------------------------------ privileges

@pytest.mark.skipif(not IS_ROOT, reason="needs root")
def test_services_run_as_mail_owner_and_chrooted(master_instance):
    p_user, p_chroot, p_root = free_port(), free_port(), free_port()
    inst = started(master_instance, f"{p_user} inet n - n - - testsvc whoami\n"
                                    f"{p_chroot} inet n - y - - testsvc whoami\n"
                                    f"{p_root} inet n n n - - testsvc whoami\n")
    nobody = pwd.getpwnam("nobody")

    def who(port):
        reply = talk(port).decode().split()
        return dict(item.split("=", 1) for item in reply)

    w = who(p_user)
    st = proc_status(int(w["pid"]))
    assert st["Uid"].split() == [str(nobody.pw_uid)] * 4
    assert st["Gid"].split()[0] == str(nobody.pw_gid)
    assert "0" not in st["Groups"].split()
    assert os.readlink(f"/proc/{w['pid']}/root") == "/"

    w = who(p_chroot)
    st = proc_status(int(w["pid"]))
    assert st["Uid"].split()[0] == str(nobody.pw_uid)
    assert os.readlink(f"/proc/{w['pid']}/root") == str(inst.queue_dir)

    w = who(p_root)
    assert proc_status(int(w["pid"]))["Uid"].split()[0] == "0"
    assert w["uid"] == "0"


@pytest.mark.skipif(not IS_ROOT, reason="needs root")
def test_mail_owner_root_refused(master_instance):
    inst = master_instance(mail_owner="root")
    inst.write_main()
    inst.write_master(f"{free_port()} inet n - n - - testsvc echo\n")
    line = inst.start()
    assert line.startswith("error: ") and "uid 0" in line, line


@pytest.mark.skipif(not IS_ROOT, reason="needs root")
def test_spool_with_wrong_owner_refused(master_instance):
    inst = master_instance()
    inst.write_main()
    inst.write_master(f"{free_port()} inet n - n - - testsvc echo\n")
    os.chown(inst.queue_dir / "private", 0, 0)
    line = inst.start()
    assert line.startswith("error: ") and "private is owned by uid 0" in line, line


@pytest.mark.skipif(not IS_ROOT, reason="needs root to become another user")
def test_unprivileged_instance(master_instance):
    """master started by an ordinary user runs everything as that user."""
    nobody = pwd.getpwnam("nobody")
    inst = master_instance(mail_owner="nobody")
    inst.make_spool(owner_uid=nobody.pw_uid, owner_gid=nobody.pw_gid,
                    root_uid=nobody.pw_uid)
    inst.log_path.touch()
    os.chown(inst.log_path, nobody.pw_uid, nobody.pw_gid)
    port = free_port()
    inst.write_main(mail_owner="postern-no-such-user")
    inst.write_master(f"{port} inet n - y - - testsvc whoami\n")
    line = inst.start(run_as=(nobody.pw_uid, nobody.pw_gid))
    assert line == "ready", f"{line}\n{inst.log()}"
    reply = talk(port).decode()
    fields = dict(item.split("=", 1) for item in reply.split())
    assert fields["uid"] == str(nobody.pw_uid)
    # No chroot without root: the service sees the real root.
    assert os.readlink(f"/proc/{fields['pid']}/root") == "/"
    cmdline = open(f"/proc/{fields['pid']}/cmdline", "rb").read().split(b"\0")
    assert b"-u" not in cmdline and b"-z" not in cmdline


# ------------------------------------------------------------ lookup tables

def test_rebuilt_table_restarts_the_service(master_instance, run):
    """A daemon holds its tables open; after a rebuild it finishes the
    request, exits, and the next process answers from the new table."""
    port = free_port()
    inst = make_instance_with_table(master_instance, port, run, "v1")
    first = talk(port, b"key\n").decode().split()
    assert first[1] == "found=v1", first
    pid = int(first[0].split("=")[1])
    build_table(inst, run, "v2")
    # The process that has the old table open answers this request, then
    # notices the change and exits.
    stale = talk(port, b"key\n").decode().split()
    assert stale[0] == f"pid={pid}"
    wait_until(lambda: not alive(pid), timeout=15, what="process with the old table to exit")
    fresh = talk(port, b"key\n").decode().split()
    assert fresh[1] == "found=v2", fresh
    assert fresh[0] != f"pid={pid}"
    assert "a lookup table has changed -- restarting" in inst.log()


def test_missing_table_defers_instead_of_not_found(master_instance, run):
    port = free_port()
    inst = make_instance_with_table(master_instance, port, run, None)
    reply = talk(port, b"key\n").decode()
    assert "retry=" in reply and "No such file or directory" in reply, reply
    assert "lookups in hash:" in inst.log() and "will be deferred" in inst.log()


def build_table(inst, run, value):
    source = inst.config_dir / "table"
    source.write_text(f"key {value}\n")
    run([str(inst.build / "bin" / "postmap"), "-c", str(inst.config_dir),
         f"hash:{source}"], expect=0)
    os.chmod(str(source) + ".db", 0o644)


def make_instance_with_table(make, port, run, value):
    inst = make()
    inst.write_main()
    os.chmod(inst.config_dir, 0o755)
    if value is not None:
        build_table(inst, run, value)
    inst.write_master(f"{port} inet n - n - 1 testsvc lookup hash:{inst.config_dir}/table\n")
    line = inst.start()
    assert line == "ready", f"master did not start: {line!r}\n{inst.log()}"
    return inst
