"""Installation: make install, the post-install step, make deb.

What is checked:
  - "make print-programs" lists exactly what the */build.mk fragments put
    in PROGRAMS minus NOINSTALL, each COMMAND as a command;
  - make install into a DESTDIR (from the build in $POSTERN_BUILD, without
    compiling): every program at its place with its mode and owner,
    postdrop/postqueue set-gid setgid_group (as root), nothing set-uid,
    test helpers left out, man pages, main.cf/master.cf/aliases, the
    systemd unit and init script, the host's MTA names; a second install
    keeps edited configuration files (the new ones go to NAME.dist);
    another MTA's sendmail is kept unless INSTALL_AS_SYSTEM_MTA=yes, and
    then backed up as sendmail.pre-postern;
  - a real install (as root) into a throw-away prefix, built with that
    prefix's paths compiled in: the post-install step (twice), start,
    a cron-style sendmail by an ordinary user, delivery to that user's
    mailbox, and "postqueue -p" by that user;
  - make deb: dpkg-deb --info/--contents; installing it with dpkg -i,
    mail to root by an ordinary user, then dpkg --purge -- only when no
    other MTA is on this machine.

The real install and the package tests need root (accounts, owners,
set-gid bits) and skip with a reason otherwise.
"""

import os
import pwd
import grp
import random
import re
import shutil
import stat
import string
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from conftest import REPO, free_ports, wait_for

IS_ROOT = os.geteuid() == 0
needs_root = pytest.mark.skipif(
    not IS_ROOT, reason="needs root: creates users and groups, sets owners "
    "and set-gid bits, installs into system paths")
SETGID_PROGRAMS = ("postdrop", "postqueue")


def build_dir():
    """The integrator's build directory ($POSTERN_BUILD, else build/)."""
    build = os.environ.get("POSTERN_BUILD")
    path = Path(build) if build else REPO / "build"
    if not path.is_absolute():
        path = (REPO / path).resolve()
    return path


def make(*args, timeout=120, expect=0):
    """Run make in the repository; return the CompletedProcess."""
    r = subprocess.run(["make", "-s", "--no-print-directory", "-C", str(REPO), *args],
                       capture_output=True, text=True, timeout=timeout)
    if expect is not None:
        assert r.returncode == expect, \
            f"make {' '.join(args)}: exit {r.returncode}\n{r.stdout}\n{r.stderr}"
    return r


def programs():
    """{name: "command"|"daemon"} from make print-programs."""
    out = make(f"BUILD={build_dir()}", "print-programs").stdout
    result = {}
    for line in out.splitlines():
        kind, name = line.split()
        result[name] = kind
    return result


def build_mk_lists():
    """PROGRAMS, COMMANDS, NOINSTALL as the */build.mk fragments set them."""
    lists = {"PROGRAMS": set(), "COMMANDS": set(), "NOINSTALL": set()}
    for mk in sorted(REPO.glob("*/build.mk")):
        for line in mk.read_text().splitlines():
            m = re.match(r"^(PROGRAMS|COMMANDS|NOINSTALL)\s*\+=\s*(.*)$", line)
            if m:
                lists[m.group(1)].update(m.group(2).split())
    return lists


def rand_name(prefix):
    return prefix + "".join(random.choice(string.ascii_lowercase) for _ in range(6))


def ensure_group(name):
    """Create group name (system group) when missing; True when created."""
    try:
        grp.getgrnam(name)
        return False
    except KeyError:
        subprocess.run(["groupadd", "--system", name], check=True, capture_output=True)
        return True


def install_destdir(destdir, *extra, expect=0):
    return make(f"BUILD={build_dir()}", "INSTALL_NOBUILD=yes", f"DESTDIR={destdir}",
                *extra, "install", expect=expect)


# ------------------------------------------------------------------ lists

def test_print_programs_follows_the_build_fragments():
    lists = build_mk_lists()
    progs = programs()
    assert set(progs) == lists["PROGRAMS"] - lists["NOINSTALL"]
    for name, kind in progs.items():
        assert kind == ("command" if name in lists["COMMANDS"] else "daemon"), name
    # The ones the install logic must know about are really listed.
    assert progs.get("sendmail") == "command"
    assert progs.get("postdrop") == "command"
    assert progs.get("master") == "daemon"


# ------------------------------------------------------------------ DESTDIR

@pytest.fixture(scope="module")
def destdir_install(tmp_path_factory):
    """One make install into a fresh DESTDIR; yields (destdir, output)."""
    created = IS_ROOT and ensure_group("postdrop")
    dest = tmp_path_factory.mktemp("destdir")
    r = install_destdir(dest)
    yield dest, r.stdout + r.stderr
    if created:
        subprocess.run(["groupdel", "postdrop"], capture_output=True)


def test_destdir_programs_modes_and_owners(destdir_install):
    dest, out = destdir_install
    progs = programs()
    assert progs, "no programs"
    for name, kind in progs.items():
        where = "usr/sbin" if kind == "command" else "usr/libexec/postern"
        path = dest / where / name
        assert path.is_file() and not path.is_symlink(), f"{path} missing"
        st = path.stat()
        mode = stat.S_IMODE(st.st_mode)
        assert not mode & stat.S_ISUID, f"{path} is set-uid"
        if name in SETGID_PROGRAMS and IS_ROOT:
            assert mode == 0o2755, f"{path}: mode {mode:o}"
            assert st.st_uid == 0
            assert st.st_gid == grp.getgrnam("postdrop").gr_gid
        else:
            assert mode == 0o755, f"{path}: mode {mode:o}"
            if IS_ROOT:
                assert (st.st_uid, st.st_gid) == (0, 0), path
    if not IS_ROOT:
        assert "not set-gid yet" in out
    # Test helpers stay out, with their man pages.
    for name in build_mk_lists()["NOINSTALL"]:
        assert not (dest / "usr/libexec/postern" / name).exists()
        assert not (dest / "usr/sbin" / name).exists()
        assert not (dest / "usr/share/man/man8" / f"{name}.8").exists()
    # Nothing else in the tree is set-uid.
    for path in dest.rglob("*"):
        if path.is_file() and not path.is_symlink():
            assert not path.stat().st_mode & stat.S_ISUID, path


def test_destdir_configuration_man_pages_and_services(destdir_install):
    dest, _ = destdir_install
    for f in ("main.cf", "master.cf"):
        assert (dest / "etc/postern" / f).read_text() == (REPO / "conf" / f).read_text()
        assert not (dest / "etc/postern" / f"{f}.dist").exists()
    aliases = (dest / "etc/aliases").read_text()
    assert re.search(r"^postmaster:\s*root\s*$", aliases, re.M)
    for sec in (1, 5, 8):
        for page in (REPO / "man" / f"man{sec}").glob(f"*.{sec}"):
            if page.stem in build_mk_lists()["NOINSTALL"]:
                continue
            assert (dest / f"usr/share/man/man{sec}" / page.name).is_file(), page.name
    assert (dest / "usr/share/man/man8/post-install.8").is_file()
    unit = (dest / "lib/systemd/system/postern.service").read_text()
    assert "Type=simple" in unit
    assert "ExecStart=/usr/sbin/postern start-fg" in unit
    assert "ExecReload=/usr/sbin/postern reload" in unit
    init = dest / "etc/init.d/postern"
    assert stat.S_IMODE(init.stat().st_mode) == 0o755
    post = dest / "usr/libexec/postern/post-install"
    assert stat.S_IMODE(post.stat().st_mode) == 0o755
    assert "POSTERN_SBINDIR=/usr/sbin\n" in post.read_text()


def test_destdir_host_mta_names(destdir_install):
    dest, _ = destdir_install
    sendmail = dest / "usr/sbin/sendmail"
    assert sendmail.is_file() and not sendmail.is_symlink()
    assert sendmail.read_bytes() == (build_dir() / "bin/sendmail").read_bytes()
    for name in ("usr/bin/mailq", "usr/bin/newaliases"):
        link = dest / name
        assert link.is_symlink(), name
        assert os.readlink(link) == "/usr/sbin/sendmail"


def test_destdir_reinstall_keeps_edited_configuration(tmp_path):
    install_destdir(tmp_path)
    main_cf = tmp_path / "etc/postern/main.cf"
    main_cf.write_text("myhostname = edited.example\n")
    aliases = tmp_path / "etc/aliases"
    aliases.write_text("root: someone\n")
    r = install_destdir(tmp_path)
    assert main_cf.read_text() == "myhostname = edited.example\n"
    assert (tmp_path / "etc/postern/main.cf.dist").read_text() == \
        (REPO / "conf/main.cf").read_text()
    assert "main.cf.dist" in r.stdout
    # master.cf was not edited, but it existed: also kept, sample beside it.
    assert (tmp_path / "etc/postern/master.cf.dist").is_file()
    assert aliases.read_text() == "root: someone\n"
    assert "no postmaster entry" in r.stdout


def test_destdir_another_mta_is_kept_unless_asked(tmp_path):
    foreign = "#!/bin/sh\necho another mta\n"
    sbin = tmp_path / "usr/sbin"
    sbin.mkdir(parents=True)
    (sbin / "sendmail").write_text(foreign)
    (tmp_path / "usr/bin").mkdir(parents=True)
    os.symlink("../sbin/sendmail", tmp_path / "usr/bin/mailq")

    r = install_destdir(tmp_path)
    assert (sbin / "sendmail").read_text() == foreign
    assert os.readlink(tmp_path / "usr/bin/mailq") == "../sbin/sendmail"
    assert "kept the host's /usr/sbin/sendmail" in r.stdout
    assert "INSTALL_AS_SYSTEM_MTA=yes" in r.stdout
    # Postern's own sendmail is still installed, out of the way.
    ours = tmp_path / "usr/libexec/postern/sendmail"
    assert ours.read_bytes() == (build_dir() / "bin/sendmail").read_bytes()
    # newaliases was free: it is Postern's, pointing at that sendmail.
    assert os.readlink(tmp_path / "usr/bin/newaliases") == "/usr/libexec/postern/sendmail"

    r = install_destdir(tmp_path, "INSTALL_AS_SYSTEM_MTA=yes")
    assert "replaced /usr/sbin/sendmail" in r.stdout
    assert "replaced /usr/bin/mailq" in r.stdout
    assert (sbin / "sendmail.pre-postern").read_text() == foreign
    assert (sbin / "sendmail").read_bytes() == (build_dir() / "bin/sendmail").read_bytes()
    assert os.readlink(tmp_path / "usr/bin/mailq") == "/usr/sbin/sendmail"
    assert os.readlink(tmp_path / "usr/bin/mailq.pre-postern") == "../sbin/sendmail"
    # Installing again replaces only Postern's own files: no new backup.
    r = install_destdir(tmp_path, "INSTALL_AS_SYSTEM_MTA=yes")
    assert "replaced" not in r.stdout
    assert sorted(p.name for p in sbin.glob("sendmail*")) == ["sendmail", "sendmail.pre-postern"]


def test_install_refuses_a_relative_path(tmp_path):
    # (Not a compiled-in path: those must not be changed on a shared build.)
    r = install_destdir(tmp_path, "alias_file=etc/aliases", expect=None)
    assert r.returncode != 0
    assert "alias_file must be an absolute path" in r.stderr
    assert not (tmp_path / "usr").exists()


# ------------------------------------------------------------------ real install

def run_as(user, cmd, input=None, timeout=60):
    pw = pwd.getpwnam(user)
    env = {"PATH": "/usr/bin:/bin", "HOME": "/"}
    for name in ("ASAN_OPTIONS", "UBSAN_OPTIONS"):
        if name in os.environ:
            env[name] = os.environ[name]
    return subprocess.run(cmd, input=input, capture_output=True, text=True, timeout=timeout,
                          user=pw.pw_uid, group=pw.pw_gid, extra_groups=[], cwd="/",
                          env=env)


@pytest.fixture
def prefix():
    """A throw-away installation root that every user can traverse."""
    base = Path(tempfile.mkdtemp(prefix="postern-inst-", dir="/tmp"))
    os.chmod(base, 0o755)
    users = []
    yield base, users
    if (base / "usr/sbin/postern").exists():
        subprocess.run([str(base / "usr/sbin/postern"), "stop"], capture_output=True)
    for name in users:
        subprocess.run(["userdel", name], capture_output=True)
        subprocess.run(["groupdel", name], capture_output=True)
    shutil.rmtree(base, ignore_errors=True)


@needs_root
def test_real_install_into_a_throwaway_prefix(prefix):
    base, users = prefix
    owner, group, user = rand_name("pto"), rand_name("ptg"), rand_name("ptu")
    users.extend([owner, group, user])
    build = base / "build"
    paths = [
        f"BUILD={build}", f"PREFIX={base}/usr",
        f"config_directory={base}/etc/postern",
        f"queue_directory={base}/var/spool/postern",
        f"data_directory={base}/var/lib/postern",
        f"sendmail_path={base}/usr/sbin/sendmail",
        f"mailq_path={base}/usr/bin/mailq",
        f"newaliases_path={base}/usr/bin/newaliases",
        f"alias_file={base}/etc/aliases",
        f"systemd_unit_directory={base}/lib/systemd/system",
        f"initd_directory={base}/etc/init.d",
        f"setgid_group={group}",
    ]
    # Build with the prefix's paths compiled in (set-gid postdrop accepts
    # only the compiled-in configuration directory), then install; the
    # post-install step runs by hand once the accounts are configured.
    make("-j2", *paths, "POST_INSTALL=no", "install", timeout=900)
    sbin = base / "usr/sbin"
    conf = base / "etc/postern"
    postconf = [str(sbin / "postconf")]
    r = subprocess.run(postconf + ["-h", "config_directory", "queue_directory",
                                   "daemon_directory", "command_directory"],
                       capture_output=True, text=True, check=True)
    assert r.stdout.split() == [str(conf), f"{base}/var/spool/postern",
                                f"{base}/usr/libexec/postern", str(sbin)]
    port = free_ports(1)[0]
    mail = base / "mail"
    mail.mkdir()
    os.chmod(mail, 0o1777)
    subprocess.run(postconf + ["-e", f"mail_owner={owner}", f"setgid_group={group}",
                               "inet_interfaces=loopback-only",
                               f"mail_spool_directory={mail}"], check=True)
    master_cf = conf / "master.cf"
    text, n = re.subn(r"^smtp(\s+)inet", f"127.0.0.1:{port}\\1inet",
                      master_cf.read_text(), flags=re.M)
    assert n == 1
    master_cf.write_text(text)

    post = base / "usr/libexec/postern/post-install"
    first = subprocess.run([str(post)], capture_output=True, text=True, timeout=120)
    assert first.returncode == 0, first.stdout + first.stderr
    assert f"created user {owner}" in first.stdout
    assert f"created group {group}" in first.stdout
    second = subprocess.run([str(post)], capture_output=True, text=True, timeout=120)
    assert second.returncode == 0, second.stdout + second.stderr
    assert "created" not in second.stdout

    pw = pwd.getpwnam(owner)
    assert pw.pw_dir == f"{base}/var/spool/postern"
    assert pw.pw_shell in ("/usr/sbin/nologin", "/bin/false")
    gid = grp.getgrnam(group).gr_gid
    spool = base / "var/spool/postern"
    for name, mode, g in (("maildrop", 0o730, gid), ("public", 0o710, gid),
                          ("private", 0o700, pw.pw_gid), ("incoming", 0o700, pw.pw_gid)):
        st = (spool / name).stat()
        assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (pw.pw_uid, g, mode), name
    data = (base / "var/lib/postern").stat()
    assert (data.st_uid, stat.S_IMODE(data.st_mode)) == (pw.pw_uid, 0o700)
    for name in SETGID_PROGRAMS:
        st = (sbin / name).stat()
        assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (0, gid, 0o2755), name
    assert (base / "etc/aliases.db").is_file(), "newaliases did not run"

    subprocess.run(["useradd", "-M", "-d", "/", "-s", "/bin/sh", user], check=True,
                   capture_output=True)
    r = subprocess.run([str(sbin / "postern"), "start"], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0, r.stderr

    # What cron runs: sendmail -FCronDaemon -i -B8BITMIME -oem USER.
    body = f"Subject: Cron <{user}> date\n\ncron output {rand_name('')}\n"
    r = run_as(user, [str(sbin / "sendmail"), "-FCronDaemon", "-i", "-B8BITMIME",
                      "-oem", user], input=body)
    assert r.returncode == 0, r.stderr
    box = mail / user
    wait_for(lambda: box.exists() and body.splitlines()[-1] in box.read_text(),
             timeout=30, what=f"delivery to {box}")
    st = box.stat()
    assert st.st_uid == pwd.getpwnam(user).pw_uid

    # Upgrade: install again over the running system (no compiler run),
    # post-install included; the configuration and the spool stay, reload
    # starts the new programs and mail keeps flowing.
    (spool / "hold" / "KEEPME").write_text("not a real queue file")
    r = make(*paths, "INSTALL_NOBUILD=yes", "POST_INSTALL=yes", "install", timeout=300)
    assert "the mail system is running" in r.stdout
    assert (conf / "main.cf.dist").is_file()
    assert f"mail_owner = {owner}" in (conf / "main.cf").read_text()
    assert (spool / "hold" / "KEEPME").read_text() == "not a real queue file"
    (spool / "hold" / "KEEPME").unlink()
    r = subprocess.run([str(sbin / "postern"), "reload"], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0, r.stderr
    body2 = body.replace("cron output", "after upgrade")
    r = run_as(user, [str(sbin / "sendmail"), "-i", user], input=body2)
    assert r.returncode == 0, r.stderr
    wait_for(lambda: body2.splitlines()[-1] in box.read_text(), timeout=30,
             what="delivery after the upgrade")

    if "postqueue" not in programs() or not (sbin / "postqueue").exists():
        pytest.skip("postqueue is not built yet: the postqueue -p check was skipped")
    r = run_as(user, [str(sbin / "postqueue"), "-p"])
    assert r.returncode == 0, r.stderr
    assert "Mail queue is empty" in r.stdout


# ------------------------------------------------------------------ package

@pytest.fixture(scope="module")
def deb_file(tmp_path_factory):
    out = tmp_path_factory.mktemp("deb")
    make(f"BUILD={build_dir()}", "INSTALL_NOBUILD=yes", f"DEBDIR={out}", "deb", timeout=300)
    debs = list(out.glob("postern_*.deb"))
    assert len(debs) == 1, debs
    return debs[0]


def test_deb_info_and_contents(deb_file):
    arch = subprocess.run(["dpkg", "--print-architecture"], capture_output=True,
                          text=True, check=True).stdout.strip()
    assert deb_file.name.endswith(f"_{arch}.deb")
    info = subprocess.run(["dpkg-deb", "--info", str(deb_file)], capture_output=True,
                          text=True, check=True).stdout
    fields = dict(re.findall(r"^ ([A-Z][\w-]*): (.*)$", info, re.M))
    assert fields["Package"] == "postern"
    assert fields["Architecture"] == arch
    assert fields["Provides"] == "mail-transport-agent, default-mta"
    assert fields["Conflicts"] == "mail-transport-agent"
    assert fields["Replaces"] == "mail-transport-agent"
    depends = {d.strip() for d in fields["Depends"].split(",")}
    assert {"libc6", "libssl3", "libsasl2-2", "libdb5.3", "libc-ares2"} <= depends
    for script in ("postinst", "prerm", "postrm", "conffiles"):
        assert script in info
    conffiles = subprocess.run(["dpkg-deb", "--ctrl-tarfile", str(deb_file)],
                               capture_output=True, check=True).stdout
    assert b"/etc/postern/main.cf" in conffiles

    listing = subprocess.run(["dpkg-deb", "--contents", str(deb_file)], capture_output=True,
                             text=True, check=True).stdout
    entries = {}
    for line in listing.splitlines():
        parts = line.split()
        name = parts[5].lstrip(".")
        entries[name] = (parts[0], parts[1], parts[7] if len(parts) > 7 else None)
    for name, kind in programs().items():
        path = ("/usr/sbin/" if kind == "command" else "/usr/libexec/postern/") + name
        assert path in entries, path
        mode, owner, _ = entries[path]
        # No set-id bits in the package: the postinst makes postdrop and
        # postqueue set-gid once the group exists.
        assert mode == "-rwxr-xr-x" and owner == "root/root", (path, mode, owner)
    for path in ("/etc/postern/main.cf", "/etc/postern/master.cf",
                 "/lib/systemd/system/postern.service", "/etc/init.d/postern",
                 "/usr/libexec/postern/post-install", "/usr/share/postern/aliases",
                 "/usr/share/man/man8/post-install.8"):
        assert path in entries, path
    assert entries["/usr/bin/mailq"][2] == "/usr/sbin/sendmail"
    assert entries["/usr/bin/newaliases"][2] == "/usr/sbin/sendmail"
    assert "/etc/aliases" not in entries


def other_mta():
    """A reason string when this machine has an MTA other than Postern."""
    r = subprocess.run(["dpkg-query", "-W", "-f", "${Package} ${Status} ${Provides}\\n"],
                       capture_output=True, text=True)
    for line in r.stdout.splitlines():
        if "install ok installed" in line and "mail-transport-agent" in line:
            name = line.split()[0]
            return f"package {name} (a mail-transport-agent) is installed"
    for path in ("/usr/sbin/sendmail", "/etc/postern"):
        if os.path.lexists(path):
            return f"{path} exists on this machine"
    return None


@needs_root
def test_deb_installs_delivers_and_purges(deb_file):
    reason = other_mta()
    if reason:
        pytest.skip(f"not installing the package: {reason}")
    if b"__asan_init" in (build_dir() / "bin/postdrop").read_bytes():
        pytest.skip("not installing the package: the build is sanitized (ASan), "
                    "and a set-gid postdrop cannot run under LeakSanitizer")
    had = {name: _exists_user(name) for name in ("postern",)}
    had_group = _exists_group("postdrop")
    aliases_existed = os.path.exists("/etc/aliases")
    root_box = Path("/var/mail/root")
    old_box = root_box.read_bytes() if root_box.exists() else None
    user = rand_name("ptu")
    installed = False
    try:
        r = subprocess.run(["dpkg", "-i", str(deb_file)], capture_output=True, text=True,
                           timeout=300)
        assert r.returncode == 0, r.stdout + r.stderr
        installed = True
        assert pwd.getpwnam("postern").pw_dir == "/var/spool/postern"
        st = os.stat("/usr/sbin/postdrop")
        assert stat.S_IMODE(st.st_mode) == 0o2755
        assert st.st_gid == grp.getgrnam("postdrop").gr_gid
        assert re.search(r"^postmaster:", Path("/etc/aliases").read_text(), re.M)
        assert os.path.exists("/etc/aliases.db")
        running = subprocess.run(["/usr/sbin/postern", "status"],
                                 capture_output=True).returncode == 0
        if not os.path.exists("/usr/sbin/policy-rc.d") and not _port_busy(25):
            # Nothing forbids starting services here: the postinst did.
            assert running, "the postinst did not start the mail system"
        # Own port: the package's master.cf listens on port 25.
        subprocess.run(["/usr/sbin/postern", "stop"], capture_output=True, timeout=60)
        port = free_ports(1)[0]
        mcf = Path("/etc/postern/master.cf")
        mcf.write_text(re.sub(r"^smtp(\s+)inet", f"127.0.0.1:{port}\\1inet",
                              mcf.read_text(), flags=re.M))
        r = subprocess.run(["/usr/sbin/postern", "start"], capture_output=True, text=True,
                           timeout=60)
        assert r.returncode == 0, r.stderr
        subprocess.run(["useradd", "-M", "-d", "/", "-s", "/bin/sh", user], check=True,
                       capture_output=True)
        marker = f"package test {rand_name('')}"
        if shutil.which("mail"):
            r = run_as(user, ["mail", "-s", "hi", "root"], input=marker + "\n")
        else:
            r = run_as(user, ["/usr/sbin/sendmail", "root"],
                       input=f"Subject: hi\n\n{marker}\n")
        assert r.returncode == 0, r.stderr
        wait_for(lambda: root_box.exists() and marker in root_box.read_text(errors="replace"),
                 timeout=30, what="delivery to /var/mail/root")
        r = run_as(user, ["/usr/sbin/postqueue", "-p"])
        assert r.returncode == 0, r.stderr
    finally:
        if installed:
            r = subprocess.run(["dpkg", "--purge", "postern"], capture_output=True,
                               text=True, timeout=300)
        subprocess.run(["userdel", user], capture_output=True)
        if not had["postern"]:
            subprocess.run(["userdel", "postern"], capture_output=True)
            subprocess.run(["groupdel", "postern"], capture_output=True)
        if not had_group:
            subprocess.run(["groupdel", "postdrop"], capture_output=True)
        if not aliases_existed:
            for path in ("/etc/aliases", "/etc/aliases.db"):
                if os.path.exists(path):
                    os.unlink(path)
        if old_box is None:
            if root_box.exists():
                root_box.unlink()
        else:
            root_box.write_bytes(old_box)
    assert r.returncode == 0, r.stdout + r.stderr
    for path in ("/usr/sbin/sendmail", "/usr/bin/mailq", "/usr/libexec/postern/master",
                 "/etc/postern/main.cf", "/var/spool/postern"):
        assert not os.path.lexists(path), f"{path} left after purge"


def _exists_user(name):
    try:
        pwd.getpwnam(name)
        return True
    except KeyError:
        return False


def _exists_group(name):
    try:
        grp.getgrnam(name)
        return True
    except KeyError:
        return False


def _port_busy(port):
    import socket
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(1)
        return s.connect_ex(("127.0.0.1", port)) == 0
