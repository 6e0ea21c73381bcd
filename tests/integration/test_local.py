"""The local delivery agent under master, driven by a stand-in qmgr
(deliverlib) that writes queue files into active/ and sends delivery
requests to private/local, so local is tested without the rest of the
mail system.

Run as root (as CI does) the instance is privileged: real users are
created for each test (ptest_<random>, removed afterwards) and the tests
check who owns mailboxes and who runs commands. Run as an ordinary user
the tests that need other users are skipped.
"""

import mailbox
import os
import pwd
import random
import string
import subprocess
from pathlib import Path

import pytest

from conftest import wait_for
from deliverlib import deliver, queue_message

IS_ROOT = os.geteuid() == 0

LOCAL_MASTER_CF = """\
local     unix  -       n       n       -       -       local
"""

MESSAGE = (b"From: Sender <sender@example.org>\n"
           b"To: someone\n"
           b"Subject: local test\n"
           b"\n"
           b"first line\n"
           b"From the start of a line\n"
           b">From already quoted\n"
           b"8-bit: \xc3\xa9t\xc3\xa9 \xff\n"
           b"long: " + b"x" * 3000 + b"\n"
           b".\n"
           b"last line\n")


def make_user(base):
    name = "ptest_" + "".join(random.choice(string.ascii_lowercase) for _ in range(8))
    home = base / "home" / name
    home.parent.mkdir(exist_ok=True)
    os.chmod(home.parent, 0o755)
    subprocess.run(["useradd", "-M", "-d", str(home), "-s", "/bin/sh", name],
                   check=True, capture_output=True)
    home.mkdir()
    pw = pwd.getpwnam(name)
    os.chown(home, pw.pw_uid, pw.pw_gid)
    return name


class LocalSystem:
    def __init__(self, inst, users):
        self.inst = inst
        self.users = users
        self.spool = inst.base / "mail"
        self.sock = inst.queue_dir / "private" / "local"

    def send(self, rcpts, body=MESSAGE, sender="sender@example.org"):
        qid, info = queue_message(self.inst.queue_dir, sender, rcpts, body)
        wait_for(lambda: self.sock.exists(), what="private/local")
        results, final = deliver(self.sock, qid, info, sender, rcpts,
                                 arrival_time=int(os.path.getmtime(
                                     self.inst.queue_dir / "active" / qid)))
        assert final.get("status") == "0", final
        return qid, results

    def mbox(self, user):
        path = self.spool / user
        assert path.exists(), (path, self.inst.log()[-2000:])
        return path

    def home(self, user):
        return Path(pwd.getpwnam(user).pw_dir)


@pytest.fixture
def localsys(instance_factory, bin_path, run):
    bin_path("local")
    made = []

    def make(settings=None, aliases="", users=2):
        inst = instance_factory(master_cf=LOCAL_MASTER_CF, start=False, settings={
            "myhostname": "mx.test.invalid",
            "mydomain": "test.invalid",
            "mydestination": "$myhostname, localhost",
            "recipient_delimiter": "+",
            **(settings or {}),
        })
        spool = inst.base / "mail"
        spool.mkdir()
        os.chmod(spool, 0o1777)
        if IS_ROOT:
            names = [make_user(inst.base) for _ in range(users)]
            made.extend(names)
        else:
            names = [pwd.getpwuid(os.getuid()).pw_name] * users
        alias_file = inst.base / "aliases"
        alias_file.write_text(aliases.format(u=names, base=inst.base))
        inst.postconf("-e", f"mail_spool_directory={spool}",
                      f"alias_maps=hash:{alias_file}", f"alias_database=hash:{alias_file}")
        run(["postalias", "-c", inst.config_dir, f"hash:{alias_file}"], expect=0)
        inst.start()
        return LocalSystem(inst, names)

    yield make
    for name in made:
        subprocess.run(["userdel", name], capture_output=True)


def only_message(path):
    box = mailbox.mbox(str(path))
    msgs = list(box)
    assert len(msgs) == 1, len(msgs)
    return msgs[0]


def body_bytes(msg):
    raw = msg.as_bytes()
    return raw.split(b"\n\n", 1)[1]


def test_mbox_delivery_exact(localsys):
    ls = localsys(users=1)
    user = ls.users[0]
    qid, res = ls.send([f"{user}@mx.test.invalid"])
    r = res[f"{user}@mx.test.invalid"]
    assert r["status"] == 0 and r["dsn"] == "2.0.0" and r["relay"] == "local", r
    raw = ls.mbox(user).read_bytes()
    assert raw.startswith(b"From sender@example.org  ")
    # mboxrd quoting on disk, blank line after the message
    assert b"\n>From the start of a line\n>>From already quoted\n" in raw
    assert raw.endswith(b"last line\n\n")
    msg = only_message(ls.mbox(user))
    assert msg["Return-Path"] == "<sender@example.org>"
    assert msg["Delivered-To"] == f"{user}@mx.test.invalid"
    assert msg["Subject"] == "local test"
    want = MESSAGE.split(b"\n\n", 1)[1]
    want = want.replace(b"\nFrom the", b"\n>From the").replace(b"\n>From already", b"\n>>From already")
    assert body_bytes(msg).rstrip(b"\n") == want.rstrip(b"\n")
    assert b"\xc3\xa9t\xc3\xa9 \xff\n" in raw and b"x" * 3000 + b"\n" in raw
    if IS_ROOT:
        st = ls.mbox(user).stat()
        assert st.st_uid == pwd.getpwnam(user).pw_uid
        assert st.st_mode & 0o777 == 0o600
    ls.inst.wait_log(f"{qid}: to=<{user}@mx.test.invalid>")
    line = [x for x in ls.inst.log().splitlines() if f"{qid}: to=<" in x][0]
    assert "relay=local" in line and "dsn=2.0.0" in line
    assert "status=sent (delivered to mailbox)" in line and "delays=" in line


def test_null_sender_and_second_message(localsys):
    ls = localsys(users=1)
    user = ls.users[0]
    ls.send([user], body=b"Subject: one\n\nbody one\n", sender="")
    ls.send([user], body=b"Subject: two\n\nbody two\n")
    raw = ls.mbox(user).read_bytes()
    assert raw.startswith(b"From MAILER-DAEMON  ")
    msgs = list(mailbox.mbox(str(ls.mbox(user))))
    assert [m["Subject"] for m in msgs] == ["one", "two"]
    assert msgs[0]["Return-Path"] == "<>"


@pytest.mark.skipif(not IS_ROOT, reason="needs a user with a home directory")
def test_maildir_delivery(localsys):
    ls = localsys(users=1, settings={"home_mailbox": "Maildir/"})
    user = ls.users[0]
    _, res = ls.send([user])
    assert res[user]["status"] == 0, res
    md = mailbox.Maildir(str(ls.home(user) / "Maildir"), create=False)
    msgs = list(md)
    assert len(msgs) == 1
    assert msgs[0]["Delivered-To"] == user
    assert body_bytes(msgs[0]) == MESSAGE.split(b"\n\n", 1)[1]      # no quoting
    assert not list((ls.home(user) / "Maildir" / "tmp").iterdir())
    new = list((ls.home(user) / "Maildir" / "new").iterdir())
    assert new[0].stat().st_uid == pwd.getpwnam(user).pw_uid


def test_unknown_user_bounces(localsys):
    ls = localsys(users=1)
    _, res = ls.send(["nosuchuser_zz@mx.test.invalid"])
    r = res["nosuchuser_zz@mx.test.invalid"]
    assert r["status"] == 5 and r["dsn"] == "5.1.1"
    assert r["reason"] == 'unknown user: "nosuchuser_zz"'
    ls.inst.wait_log("status=bounced (unknown user")


def test_luser_relay(localsys):
    ls = localsys(users=1, settings={"luser_relay": "{u}".format(u="$user-lost")},
                  aliases="nosuch-lost: {u[0]}\n")
    user = ls.users[0]
    _, res = ls.send(["nosuch@localhost"])
    assert res["nosuch@localhost"]["status"] == 0, res
    assert only_message(ls.mbox(user))["Delivered-To"] == "nosuch@localhost"


def test_extension(localsys):
    ls = localsys(users=1)
    user = ls.users[0]
    _, res = ls.send([f"{user}+folder@localhost"])
    assert res[f"{user}+folder@localhost"]["status"] == 0
    assert only_message(ls.mbox(user))["Delivered-To"] == f"{user}+folder@localhost"


ALIASES = """\
team: {u[0]}, {u[1]}
tofile: {base}/files/filebox
tocmd: "|/bin/sh -c 'cat > {base}/files/cmdout; id -u > {base}/files/cmduid'"
listed: :include:{base}/files/members
loop1: loop2
loop2: loop1
failing: |exit 67
"""


def prepare_files(ls):
    files = ls.inst.base / "files"
    files.mkdir()
    os.chmod(files, 0o777)
    (files / "members").write_text(f"# list\n{ls.users[-1]}\n")
    os.chmod(files / "members", 0o644)
    return files


def test_alias_several_users(localsys):
    ls = localsys(aliases=ALIASES)
    _, res = ls.send(["team@mx.test.invalid"])
    assert res["team@mx.test.invalid"]["status"] == 0
    for u in set(ls.users):
        assert only_message(ls.mbox(u))["Delivered-To"] == "team@mx.test.invalid"


def test_alias_file_command_include(localsys):
    ls = localsys(aliases=ALIASES)
    files = prepare_files(ls)
    _, res = ls.send(["tofile", "tocmd", "listed"])
    assert all(r["status"] == 0 for r in res.values()), res
    msg = only_message(files / "filebox")
    assert msg["Delivered-To"] == "tofile"
    assert body_bytes(msg).endswith(b"last line\n")
    out = (files / "cmdout").read_bytes()
    assert out.startswith(b"Return-Path: <sender@example.org>\nDelivered-To: tocmd\n")
    assert out.endswith(MESSAGE.split(b"\n\n", 1)[1])
    if IS_ROOT:
        nobody = pwd.getpwnam("nobody").pw_uid
        assert int((files / "cmduid").read_text()) == nobody      # default_privs
        assert (files / "filebox").stat().st_uid == nobody
    assert only_message(ls.mbox(ls.users[1]))["Delivered-To"] == "listed"


def test_alias_loop_and_command_failure(localsys):
    ls = localsys(aliases=ALIASES)
    _, res = ls.send(["loop1", "failing"])
    assert res["loop1"]["status"] == 5 and res["loop1"]["dsn"] == "5.4.6"
    assert "loop" in res["loop1"]["reason"]
    assert res["failing"]["status"] == 5 and res["failing"]["dsn"] == "5.1.1"


def test_delivered_to_loop(localsys):
    ls = localsys(users=1)
    user = ls.users[0]
    body = f"Delivered-To: {user}@localhost\nSubject: looped\n\nx\n".encode()
    _, res = ls.send([f"{user}@localhost"], body=body)
    r = res[f"{user}@localhost"]
    assert r["status"] == 5 and r["dsn"] == "5.4.6"
    assert not (ls.spool / user).exists()


@pytest.mark.skipif(not IS_ROOT, reason="needs users with home directories")
def test_dot_forward_and_user_command(localsys):
    ls = localsys(users=2)
    a, b = ls.users
    files = prepare_files(ls)
    fwd = ls.home(a) / ".forward"
    fwd.write_text(f"{b}, \\{a}, \"|id -u > {files}/uid_a\"\n")
    pw = pwd.getpwnam(a)
    os.chown(fwd, pw.pw_uid, pw.pw_gid)
    _, res = ls.send([a])
    assert res[a]["status"] == 0, res
    assert only_message(ls.mbox(a))["Delivered-To"] == a
    assert only_message(ls.mbox(b))["Delivered-To"] == a
    assert int((files / "uid_a").read_text()) == pw.pw_uid
    assert ls.mbox(b).stat().st_uid == pwd.getpwnam(b).pw_uid


@pytest.mark.skipif(not IS_ROOT, reason="needs users with home directories")
def test_forward_file_of_another_user_is_ignored(localsys):
    ls = localsys(users=2)
    a, b = ls.users
    fwd = ls.home(a) / ".forward"
    fwd.write_text(f"{b}\n")
    pwb = pwd.getpwnam(b)
    os.chown(fwd, pwb.pw_uid, pwb.pw_gid)      # owned by b, not by a
    _, res = ls.send([a])
    assert res[a]["status"] == 0
    assert only_message(ls.mbox(a))
    assert not (ls.spool / b).exists()
    ls.inst.wait_log("ignoring forward file")


def test_mailbox_size_limit(localsys):
    ls = localsys(users=1, settings={"mailbox_size_limit": "5000"})
    user = ls.users[0]
    _, res = ls.send([user], body=b"Subject: small\n\nsmall\n")
    assert res[user]["status"] == 0
    before = ls.mbox(user).read_bytes()
    _, res = ls.send([user])                          # MESSAGE is > 3000 bytes
    _, res = ls.send([user]) if res[user]["status"] == 0 else (None, res)
    assert res[user]["status"] == 5 and res[user]["dsn"] == "5.2.2", res
    assert ls.mbox(user).read_bytes().startswith(before)
    assert len(ls.mbox(user).read_bytes()) <= 5000


@pytest.mark.skipif(not IS_ROOT, reason="needs a privileged instance")
def test_spool_not_writable_by_users(localsys):
    # Like /var/mail as root:mail 2775: users cannot create files there.
    ls = localsys(users=1)
    user = ls.users[0]
    os.chmod(ls.spool, 0o755)
    _, res = ls.send([user])
    assert res[user]["status"] == 0, res
    st = ls.mbox(user).stat()
    assert st.st_uid == pwd.getpwnam(user).pw_uid and st.st_mode & 0o777 == 0o600
    assert not (ls.spool / f"{user}.lock").exists()
    assert "fcntl locking only" not in ls.inst.log()
    # a mailbox planted by someone else is not written to
    other = ls.spool / "nobody"
    other.write_bytes(b"not yours\n")
    _, res = ls.send(["nobody"])
    assert res["nobody"]["status"] == 4, res
    assert other.read_bytes() == b"not yours\n"


def test_root_mail_through_alias_command_runs_unprivileged(localsys):
    ls = localsys(users=1, aliases="root: {u[0]}, \"|id -u > {base}/files/rootcmd\"\n")
    files = prepare_files(ls)
    _, res = ls.send(["root@localhost"])
    assert res["root@localhost"]["status"] == 0, res
    assert only_message(ls.mbox(ls.users[0]))["Delivered-To"] == "root@localhost"
    uid = int((files / "rootcmd").read_text())
    if IS_ROOT:
        assert uid == pwd.getpwnam("nobody").pw_uid
