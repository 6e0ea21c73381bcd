"""Integration tests for the postern control command (postern/) and for
tools/run-instance.sh (make run): init, check, set-permissions, start,
start-fg, status, stop, abort, reload, flush, with real master processes
on free loopback ports."""

import grp
import os
import shutil
import signal
import socket
import stat
import subprocess
import time
from pathlib import Path

import pytest

from conftest import REPO, wait_for

SPOOL = {
    "maildrop": 0o730, "incoming": 0o700, "active": 0o700, "deferred": 0o700,
    "hold": 0o700, "corrupt": 0o700, "bounce": 0o700, "defer": 0o700,
    "private": 0o700, "public": 0o710, "pid": 0o755,
}


def mode(path):
    return stat.S_IMODE(os.lstat(path).st_mode)


def echo_roundtrip(port, text="hello"):
    """Send one line to a testsvc echo service and return the reply line."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(text.encode() + b"\n")
        data = b""
        while not data.endswith(b"\n"):
            chunk = s.recv(1024)
            if not chunk:
                break
            data += chunk
        return data.decode()


def init(run, tmp_path, *settings, expect=0, dir_name="etc"):
    """postern init TMP/etc with a spool in TMP/spool, as the caller."""
    cfg = tmp_path / dir_name
    extra = []
    if os.geteuid() == 0:
        extra = ["mail_owner=nobody", "setgid_group=nogroup"]
    r = run(["postern", "init", cfg, f"queue_directory={tmp_path / 'spool'}",
             *extra, *settings], expect=expect)
    return cfg, r


# ------------------------------------------------------------------ init


def test_init_creates_config_and_spool(run, tmp_path):
    cfg, r = init(run, tmp_path, "myhostname=mx.example.test",
                  "smtp/inet/service=127.0.0.1:2999")
    main = (cfg / "main.cf").read_text()
    master = (cfg / "master.cf").read_text()
    assert "myhostname = mx.example.test" in main.splitlines()
    assert f"queue_directory = {tmp_path / 'spool'}" in main.splitlines()
    # The sample's comments survive; the edited entry moved to the port.
    assert main.startswith("# Postern main.cf")
    assert any(line.startswith("127.0.0.1:2999 ") and line.split()[1:3] == ["inet", "n"]
               for line in master.splitlines())
    assert not any(line.split()[:2] == ["smtp", "inet"] for line in master.splitlines()
                   if line.strip())
    assert mode(cfg / "main.cf") == 0o644 and mode(cfg / "master.cf") == 0o644
    spool = tmp_path / "spool"
    assert mode(spool) == 0o755
    for name, want in SPOOL.items():
        assert (spool / name).is_dir(), name
        assert mode(spool / name) == want, name
    st = os.stat(spool / "incoming")
    if os.geteuid() == 0:
        import pwd
        import grp
        nobody = pwd.getpwnam("nobody").pw_uid
        assert st.st_uid == nobody
        assert os.stat(spool / "pid").st_uid == 0
        assert os.stat(spool / "maildrop").st_gid == grp.getgrnam("nogroup").gr_gid
        assert os.stat(spool / "public").st_gid == grp.getgrnam("nogroup").gr_gid
    else:
        assert st.st_uid == os.getuid()
    assert "ready" in r.stderr


def test_init_unprivileged_defaults(run, tmp_path, postern_build):
    """Without root: the caller's accounts, DIR/spool, the build's bin."""
    if os.geteuid() == 0:
        pytest.skip("needs a user other than root")
    cfg = tmp_path / "etc"
    run(["postern", "init", cfg], expect=0)
    values = dict(line.split(" = ", 1) for line in run(
        ["postconf", "-c", cfg, "mail_owner", "queue_directory"], expect=0).stdout.splitlines())
    import pwd
    assert values["mail_owner"] == pwd.getpwuid(os.getuid()).pw_name
    assert values["queue_directory"] == str(cfg / "spool")
    assert (cfg / "spool" / "incoming").is_dir()


def test_init_sets_daemon_directory_to_build(run, tmp_path, postern_build):
    if not (postern_build / "bin" / "master").exists():
        pytest.fail("master is not built")
    cfg, _ = init(run, tmp_path)
    r = run(["postconf", "-c", cfg, "-h", "daemon_directory", "command_directory"],
            expect=0)
    assert r.stdout.splitlines() == [str(postern_build / "bin")] * 2


def test_init_relative_paths_become_absolute(run, tmp_path):
    extra = ["mail_owner=nobody", "setgid_group=nogroup"] if os.geteuid() == 0 else []
    run(["postern", "init", "etc", "queue_directory=spool", *extra],
        cwd=tmp_path, expect=0)
    r = run(["postconf", "-c", tmp_path / "etc", "-h", "queue_directory"], expect=0)
    assert r.stdout.strip() == str(tmp_path / "spool")


def test_init_uses_c_option_and_mail_config(run, tmp_path):
    extra = ["mail_owner=nobody", "setgid_group=nogroup"] if os.geteuid() == 0 else []
    run(["postern", "-c", tmp_path / "a", "init", f"queue_directory={tmp_path}/qa",
         *extra], expect=0)
    assert (tmp_path / "a" / "main.cf").is_file()
    run(["postern", "init", f"queue_directory={tmp_path}/qb", *extra],
        env={"MAIL_CONFIG": tmp_path / "b"}, expect=0)
    assert (tmp_path / "b" / "main.cf").is_file()
    assert (tmp_path / "qb" / "hold").is_dir()


def test_init_refuses_to_overwrite(run, tmp_path):
    cfg, _ = init(run, tmp_path)
    before = (cfg / "main.cf").read_text()
    _, r = init(run, tmp_path, "myhostname=other.example", expect=1)
    assert "already exists" in r.stderr and "not overwriting" in r.stderr
    assert (cfg / "main.cf").read_text() == before
    # Without settings, init only creates what is missing.
    (tmp_path / "spool" / "hold").rmdir()
    r = run(["postern", "init", cfg], expect=0)
    assert "already exists" in r.stderr
    assert mode(tmp_path / "spool" / "hold") == 0o700
    assert (cfg / "main.cf").read_text() == before


def test_init_bad_settings(run, tmp_path):
    for bad, text in [
        ("novalue", "expected name=value"),
        ("bad name=x", "bad parameter name"),
        ("smtp/inet/colour=x", "bad master.cf setting"),
        ("nosuch/unix/maxproc=3", "no service nosuch/unix"),
        ("smtp/inet/maxproc=1 2", "white space"),
    ]:
        cfg, r = init(run, tmp_path, bad, expect=1, dir_name="etc-" + str(abs(hash(bad))))
        assert text in r.stderr, (bad, r.stderr)
        assert not (cfg / "main.cf").exists(), bad
        assert not (cfg / "master.cf").exists(), bad


def test_init_master_cf_fields(run, tmp_path):
    cfg, _ = init(run, tmp_path, "pickup/unix/wakeup=5", "pickup/unix/maxproc=2",
                  "relay/unix/command=smtp -o smtp_helo_timeout=5")
    r = run(["postconf", "-c", cfg, "-M", "pickup/unix", "relay/unix"], expect=0)
    lines = r.stdout.splitlines()
    assert lines[0].split()[5:8] == ["5", "2", "pickup"]
    assert lines[1].split()[7:] == ["smtp", "-o", "smtp_helo_timeout=5"]


def test_init_unknown_parameter_warns(run, tmp_path):
    cfg, r = init(run, tmp_path, "no_such_parameter_x=1")
    assert "no_such_parameter_x: unknown parameter" in r.stderr
    assert "no_such_parameter_x = 1" in (cfg / "main.cf").read_text()


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root")
def test_init_as_root_refuses_root_mail_owner(run, tmp_path):
    cfg = tmp_path / "etc"
    r = run(["postern", "init", cfg, f"queue_directory={tmp_path}/q", "mail_owner=root",
             "setgid_group=nogroup"], expect=1)
    assert "uid 0" in r.stderr
    assert not (cfg / "main.cf").exists()
    r = run(["postern", "init", cfg, f"queue_directory={tmp_path}/q",
             "mail_owner=no-such-user-x", "setgid_group=nogroup"], expect=1)
    assert 'unknown user "no-such-user-x"' in r.stderr


# ----------------------------------------------------------------- check


def test_check_fresh_instance(instance_factory):
    inst = instance_factory(start=False)
    r = inst.postern("check", expect=0)
    assert "error" not in r.stderr


def test_check_missing_spool_directory(instance_factory):
    inst = instance_factory(start=False)
    (inst.queue_dir / "deferred").rmdir()
    r = inst.postern("check", expect=1)
    assert f"{inst.queue_dir}/deferred: No such file or directory" in r.stderr
    assert "set-permissions" in r.stderr


def test_check_bad_mode_and_symlink(instance_factory):
    inst = instance_factory(start=False)
    os.chmod(inst.queue_dir / "private", 0o755)
    (inst.queue_dir / "hold").rmdir()
    (inst.queue_dir / "hold").symlink_to(inst.queue_dir / "active")
    r = inst.postern("check", expect=1)
    assert f"{inst.queue_dir}/private: mode 0755, should be 0700" in r.stderr
    assert f"{inst.queue_dir}/hold: not a directory" in r.stderr


def test_check_bad_main_cf_value(instance_factory):
    inst = instance_factory(start=False)
    with open(inst.config_dir / "main.cf", "a") as f:
        f.write("max_use = abc\nservice_throttle_time = 10 fortnights\n")
    r = inst.postern("check", expect=1)
    assert "bad numerical configuration: max_use = abc" in r.stderr
    assert "main.cf, line" in r.stderr
    assert "service_throttle_time" in r.stderr


def test_check_bad_main_cf_syntax(instance_factory):
    inst = instance_factory(start=False)
    with open(inst.config_dir / "main.cf", "a") as f:
        f.write("this is not a setting\n")
    r = inst.postern("check", expect=1)
    assert "main.cf, line" in r.stderr


def test_check_unknown_parameter_is_a_warning(instance_factory):
    inst = instance_factory(start=False)
    with open(inst.config_dir / "main.cf", "a") as f:
        f.write("no_such_thing_here = 1\n")
    r = inst.postern("check", expect=0)
    assert "warning" in r.stderr and "no_such_thing_here" in r.stderr


def test_check_missing_program(instance_factory):
    inst = instance_factory(start=False)
    inst.write_master_cf("127.0.0.1:{port0} inet n - n - - no-such-daemon\n")
    r = inst.postern("check", expect=1)
    assert "no-such-daemon" in r.stderr and "line 1" in r.stderr


def test_check_missing_main_cf(run, tmp_path):
    r = run(["postern", "-c", tmp_path, "check"], expect=1)
    assert "main.cf: No such file or directory" in r.stderr


def test_check_bad_master_cf(instance_factory):
    inst = instance_factory(start=False)
    inst.write_master_cf("smtp inet n - n - -\n")
    r = inst.postern("check", expect=1)
    assert "master.cf" in r.stderr


# ------------------------------------------------------- set-permissions

def own_command_directory(inst):
    """Point command_directory at a private copy of postdrop: as root,
    set-permissions makes postdrop set-gid there, and the shared build's
    programs must stay as they are for the other tests."""
    import shutil
    cmd = inst.base / "cmd"
    cmd.mkdir()
    shutil.copy2(inst.build / "bin" / "postdrop", cmd / "postdrop")
    inst.postconf("-e", f"command_directory={cmd}")
    return cmd


def test_set_permissions_repairs(instance_factory):
    inst = instance_factory(start=False)
    own_command_directory(inst)
    os.chmod(inst.queue_dir / "incoming", 0o777)
    os.chmod(inst.queue_dir / "public", 0o700)
    (inst.queue_dir / "bounce").rmdir()
    inst.postern("check", expect=1)
    inst.postern("set-permissions", expect=0)
    assert mode(inst.queue_dir / "incoming") == 0o700
    assert mode(inst.queue_dir / "public") == 0o710
    assert mode(inst.queue_dir / "bounce") == 0o700
    inst.postern("check", expect=0)


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root")
def test_set_permissions_owners_as_root(instance_factory):
    import pwd
    inst = instance_factory(start=False)
    own_command_directory(inst)
    os.chown(inst.queue_dir / "active", 0, 0)
    inst.postern("check", expect=1)
    inst.postern("set-permissions", expect=0)
    assert os.stat(inst.queue_dir / "active").st_uid == pwd.getpwnam(inst.mail_owner).pw_uid
    st = os.stat(inst.base / "cmd" / "postdrop")
    assert st.st_mode & 0o2000 and st.st_gid == grp.getgrnam(inst.setgid_group).gr_gid
    assert not os.stat(inst.build / "bin" / "postdrop").st_mode & 0o2000
    inst.postern("check", expect=0)


def test_set_permissions_refuses_symlink(instance_factory):
    inst = instance_factory(start=False)
    own_command_directory(inst)
    target = inst.base / "elsewhere"
    target.mkdir(mode=0o755)
    (inst.queue_dir / "corrupt").rmdir()
    (inst.queue_dir / "corrupt").symlink_to(target)
    r = inst.postern("set-permissions", expect=1)
    assert "not a directory" in r.stderr
    assert mode(target) == 0o755


# --------------------------------------------------- start, stop, status


def test_start_status_stop(instance_factory):
    inst = instance_factory(start=False)
    r = inst.postern("status", expect=3)
    assert "the Postern mail system is not running" in r.stderr
    r = inst.postern("start", expect=0, timeout=60)
    assert "starting the Postern mail system" in r.stderr
    pid = inst.pid()
    assert pid and os.path.exists(f"/proc/{pid}")
    r = inst.postern("status", expect=0)
    assert f"the Postern mail system is running: PID: {pid}" in r.stderr
    assert echo_roundtrip(inst.ports[0], "ping 1") == "ping 1\n"
    r = inst.postern("stop", expect=0, timeout=90)
    assert "stopping the Postern mail system" in r.stderr
    # stop returns only once master is gone.
    assert not os.path.exists(f"/proc/{pid}") or \
        open(f"/proc/{pid}/stat").read().split()[2] == "Z"
    inst.postern("status", expect=3)
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", inst.ports[0]), timeout=2)
    assert "starting the Postern mail system" in inst.log()


def test_start_twice(instance):
    pid = instance.pid()
    r = instance.postern("start", expect=1)
    assert f"the Postern mail system is already running (pid {pid})" in r.stderr
    assert instance.pid() == pid
    instance.postern("status", expect=0)


def test_second_master_on_same_spool_refused(instance, bin_path):
    """master itself refuses, through the readiness pipe protocol."""
    r = subprocess.run([str(bin_path("master")), "-c", str(instance.config_dir), "-d"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode != 0
    assert "already running" in r.stderr + instance.log()
    instance.postern("status", expect=0)


def test_start_refuses_bad_config(instance_factory):
    inst = instance_factory(start=False)
    inst.write_master_cf("127.0.0.1:{port0} inet n - n - - no-such-daemon\n")
    r = inst.postern("start", expect=1)
    assert "not starting" in r.stderr
    inst.postern("status", expect=3)


def test_start_reports_master_error(instance_factory):
    """A port that is taken: master fails and start prints why."""
    inst = instance_factory(start=False)
    busy = socket.socket()
    busy.bind(("127.0.0.1", inst.ports[0]))
    busy.listen(1)
    try:
        r = inst.postern("start", expect=1, timeout=60)
    finally:
        busy.close()
    assert "cannot start the Postern mail system" in r.stderr
    assert str(inst.ports[0]) in r.stderr
    inst.postern("status", expect=3)


def test_stop_when_not_running(instance_factory):
    inst = instance_factory(start=False)
    r = inst.postern("stop", expect=1)
    assert "fatal: the Postern mail system is not running" in r.stderr
    r = inst.postern("abort", expect=1)
    assert "not running" in r.stderr
    r = inst.postern("reload", expect=1)
    assert "not running" in r.stderr


def test_stale_pid_file_is_not_running(instance_factory):
    inst = instance_factory(start=False)
    (inst.queue_dir / "pid" / "master.pid").write_text("1\n")
    inst.postern("status", expect=3)
    inst.postern("stop", expect=1)
    inst.start()
    assert inst.pid() != 1
    inst.stop()


def test_abort(instance):
    pid = instance.pid()
    assert echo_roundtrip(instance.ports[0]) == "hello\n"
    r = instance.postern("abort", expect=0, timeout=30)
    assert "aborting the Postern mail system" in r.stderr
    instance.postern("status", expect=3)
    wait_for(lambda: not os.path.exists(f"/proc/{pid}"), what="master to be reaped")


def test_reload(instance):
    pid = instance.pid()
    start = len(instance.log())
    r = instance.postern("reload", expect=0)
    assert "refreshing the Postern mail system" in r.stderr
    instance.wait_log("reload", start=start)
    assert instance.pid() == pid
    instance.postern("status", expect=0)
    assert echo_roundtrip(instance.ports[0], "after reload") == "after reload\n"


def test_reload_adds_and_removes_a_service(instance):
    from conftest import free_ports
    port = free_ports(1)[0]
    instance.write_master_cf(
        f"127.0.0.1:{port} inet n - n - - testsvc echo\n")
    instance.postern("reload", expect=0)
    wait_for(lambda: _connects(port), what="the new service")
    assert echo_roundtrip(port, "new") == "new\n"
    wait_for(lambda: not _connects(instance.ports[0]), what="the old service to go")


def _connects(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


def test_reload_refuses_bad_config(instance):
    instance.write_master_cf("127.0.0.1:{port0} inet n - n - - no-such-daemon\n")
    r = instance.postern("reload", expect=1)
    assert "not reloading" in r.stderr
    assert echo_roundtrip(instance.ports[0]) == "hello\n"


def test_start_fg_stops_on_sigterm(instance_factory):
    inst = instance_factory(start=False)
    env = dict(os.environ)
    env.pop("MAIL_CONFIG", None)
    proc = subprocess.Popen(
        [str(inst.build / "bin" / "postern"), "-c", str(inst.config_dir), "start-fg"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    try:
        wait_for(lambda: inst.running() and _connects(inst.ports[0]), timeout=30,
                 what="master in the foreground")
        # start-fg replaced itself with master: same pid.
        assert inst.pid() == proc.pid
        inst.postern("status", expect=0)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    inst.postern("status", expect=3)


def test_flush_without_flush_service(instance):
    r = instance.postern("flush", expect=1)
    assert "cannot flush: cannot reach the flush service" in r.stderr


def test_flush_goes_through_the_flush_service(instance_factory):
    """flush asks the flush service, which pokes qmgr ("FIA"); a Python
    stand-in for qmgr records the bytes."""
    import socket
    import threading
    inst = instance_factory(start=False)
    inst.write_master_cf("flush unix n - n - 0 flush\n")
    path = inst.queue_dir / "public" / "qmgr"
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(str(path))
    os.chmod(path, 0o666)
    srv.listen(4)
    got = []

    def serve():
        conn, _ = srv.accept()
        got.append(conn.recv(64))
        conn.close()

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    inst.start()
    inst.postern("flush", expect=0)
    t.join(10)
    srv.close()
    assert got == [b"FIA"]


def test_flush_when_not_running(instance_factory):
    inst = instance_factory(start=False)
    r = inst.postern("flush", expect=1)
    assert "not running" in r.stderr


def test_usage(run, tmp_path):
    for args in ([], ["frobnicate"], ["status", "extra"], ["-x", "status"]):
        r = run(["postern", "-c", tmp_path, *args], expect=1)
        assert "usage: postern" in r.stderr, args


# ------------------------------------------------------------- make run


def _fake_bin(tmp_path, postern_build, programs):
    """A bin directory with the real postern and master plus given fakes."""
    fake = tmp_path / "bin"
    fake.mkdir(mode=0o755)
    for prog in ("postern", "master", "postconf", "postalias"):
        shutil.copy2(postern_build / "bin" / prog, fake / prog)
    for prog in programs:
        (fake / prog).write_text("#!/bin/sh\nexit 0\n")
        os.chmod(fake / prog, 0o755)
    return fake


def run_instance(build, run_dir, port, setup_only=True, **popen):
    env = dict(os.environ, RUN_DIR=str(run_dir), RUN_PORT=str(port))
    env.pop("MAIL_CONFIG", None)
    if setup_only:
        env["RUN_SETUP_ONLY"] = "1"
        return subprocess.run([str(REPO / "tools" / "run-instance.sh"), str(build)],
                              env=env, capture_output=True, text=True, timeout=60)
    return subprocess.Popen([str(REPO / "tools" / "run-instance.sh"), str(build)],
                            env=env, **popen)


def test_run_instance_config(run, tmp_path, postern_build):
    from conftest import free_ports
    os.chmod(tmp_path, 0o755)
    _fake_bin(tmp_path, postern_build, ["pickup"])
    port = free_ports(1)[0]
    rd = tmp_path / "run"
    r = run_instance(tmp_path, rd, port)
    assert r.returncode == 0, r.stderr
    etc = rd / "etc"
    values = dict(line.split(" = ", 1) for line in run(
        ["postconf", "-c", etc, "queue_directory", "mail_spool_directory",
         "daemon_directory", "inet_interfaces", "relayhost", "maillog_file"],
        expect=0).stdout.splitlines())
    assert values == {
        "queue_directory": str(rd / "spool"),
        "mail_spool_directory": str(rd / "mail"),
        "daemon_directory": str(tmp_path / "bin"),
        "inet_interfaces": "127.0.0.1",
        "relayhost": f"[127.0.0.1]:{port + 1}",
        "maillog_file": "/dev/stdout",
    }
    master = (etc / "master.cf").read_text().splitlines()
    assert any(line.startswith(f"#[not built] 127.0.0.1:{port} ") for line in master)
    assert any(line.startswith("pickup ") for line in master)
    assert any(line.startswith("#[not built] qmgr ") for line in master)
    assert (rd / "mail").is_dir() and (rd / "spool" / "incoming").is_dir()
    # The instance has its own aliases, built, with postmaster for the user.
    assert run(["postconf", "-c", etc, "-h", "alias_maps"], expect=0).stdout.strip() \
        == f"hash:{etc}/aliases"
    import pwd
    me = pwd.getpwuid(os.getuid()).pw_name
    assert run(["postalias", "-c", etc, "-q", "postmaster", f"hash:{etc}/aliases"],
               expect=0).stdout.strip() == me
    run(["postern", "-c", etc, "check"], expect=0)

    # Reuse: the configuration stays; services are enabled once built.
    (etc / "main.cf").write_text((etc / "main.cf").read_text() + "# mine\n")
    for prog in ("smtpd", "qmgr"):
        (tmp_path / "bin" / prog).write_text("#!/bin/sh\nexit 0\n")
        os.chmod(tmp_path / "bin" / prog, 0o755)
    (tmp_path / "bin" / "pickup").unlink()
    r = run_instance(tmp_path, rd, port)
    assert r.returncode == 0, r.stderr
    assert (etc / "main.cf").read_text().endswith("# mine\n")
    master = (etc / "master.cf").read_text().splitlines()
    assert any(line.startswith(f"127.0.0.1:{port} ") for line in master)
    assert any(line.startswith("qmgr ") for line in master)
    assert any(line.startswith("#[not built] pickup ") for line in master)
    run(["postern", "-c", etc, "check"], expect=0)


def test_run_instance_foreground_and_interrupt(run, tmp_path, postern_build):
    """The whole make run flow on a free port: start, then SIGINT stops it."""
    from conftest import free_ports
    os.chmod(tmp_path, 0o755)
    _fake_bin(tmp_path, postern_build, [])
    rd = tmp_path / "run"
    proc = run_instance(tmp_path, rd, free_ports(1)[0], setup_only=False,
                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    etc = rd / "etc"
    try:
        wait_for(lambda: (etc / "main.cf").exists() and run(
            ["postern", "-c", etc, "status"]).returncode == 0, timeout=30,
            what="the make-run instance")
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=90)
    finally:
        if proc.poll() is None:
            run(["postern", "-c", etc, "abort"])
            proc.kill()
            proc.wait()
    run(["postern", "-c", etc, "status"], expect=3)
    assert "swaks --server 127.0.0.1:" in out
    assert "stopping the Postern mail system" in out
    assert (rd / "maillog").read_text() != ""


def test_stop_despite_bad_main_cf_value(instance):
    """A broken main.cf must not keep a running system from stopping."""
    with open(instance.config_dir / "main.cf", "a") as f:
        f.write("max_use = lots\n")
    instance.postern("reload", expect=1)
    instance.postern("status", expect=0)
    instance.postern("stop", expect=0, timeout=90)
    instance.postern("status", expect=3)


def _read_all(port):
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        data = b""
        while True:
            chunk = s.recv(4096)
            if not chunk:
                return data.decode()
            data += chunk


def test_unprivileged_instance_of_another_user(run, postern_build):
    """A user other than root makes and runs a whole instance as itself:
    init with no settings but a port, start, a service answers as that
    user, stop. As root the test runs the commands as nobody."""
    import pwd
    import tempfile
    from conftest import free_ports
    if os.geteuid() == 0:
        user = pwd.getpwnam(os.environ.get("POSTERN_TEST_MAIL_OWNER", "nobody"))
    else:
        user = pwd.getpwuid(os.getuid())
    base = Path(tempfile.mkdtemp(prefix="postern-it-", dir="/tmp"))
    os.chmod(base, 0o755)
    if os.geteuid() == 0:
        os.chown(base, user.pw_uid, user.pw_gid)
    port = free_ports(1)[0]
    cfg = base / "etc"
    postern = str(postern_build / "bin" / "postern")

    def as_user(*args, expect=0, timeout=60):
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
        kw = {}
        if os.geteuid() == 0:
            kw = dict(user=user.pw_uid, group=user.pw_gid, extra_groups=[])
        r = subprocess.run([postern, "-c", str(cfg), *map(str, args)], env=env,
                           capture_output=True, text=True, timeout=timeout,
                           cwd=base, **kw)
        assert r.returncode == expect, (args, r.returncode, r.stderr)
        return r

    try:
        as_user("init", f"maillog_file={base}/maillog",
                f"smtp/inet/service=127.0.0.1:{port}", "smtp/inet/command=testsvc whoami")
        main = (cfg / "main.cf").read_text()
        assert f"mail_owner = {user.pw_name}" in main
        assert f"queue_directory = {cfg}/spool" in main
        assert f"daemon_directory = {postern_build / 'bin'}" in main
        for path in [cfg / "spool"] + list((cfg / "spool").iterdir()):
            assert os.stat(path).st_uid == user.pw_uid, path
        # Keep only the whoami service (the sample's daemons are not built).
        (cfg / "master.cf").write_text(
            f"127.0.0.1:{port} inet n - n - - testsvc whoami\n")
        as_user("check")
        as_user("start")
        r = as_user("status")
        pid = int(r.stderr.split("PID: ")[1])
        status = open(f"/proc/{pid}/status").read()
        assert f"Uid:\t{user.pw_uid}\t{user.pw_uid}" in status
        reply = _read_all(port)
        assert f" uid={user.pw_uid} euid={user.pw_uid} " in reply, reply
        as_user("stop")
        as_user("status", expect=3)
    finally:
        if os.path.exists(cfg / "main.cf"):
            subprocess.run([postern, "-c", str(cfg), "abort"], capture_output=True,
                           timeout=30)
        shutil.rmtree(base, ignore_errors=True)
