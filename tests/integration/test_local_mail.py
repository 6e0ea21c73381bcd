"""End-to-end local mail: sendmail -> postdrop -> pickup -> cleanup ->
qmgr -> local (and bounce), with real processes under master.

Run as root (as CI does), the instance is privileged: real users are
created for the test (and removed afterwards), deliveries are checked for
their owners, and mail is submitted as root the way cron does. Run as an
ordinary user, the instance is unprivileged and delivers only to that
user; the tests that need other users are skipped.
"""

import email
import email.policy
import mailbox
import os
import pwd
import random
import signal
import string
import subprocess
import time
from pathlib import Path

import pytest

from conftest import wait_for

IS_ROOT = os.geteuid() == 0

MAIL_MASTER_CF = """\
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
local     unix  -       n       n       -       -       local
flush     unix  n       -       n       -       0       flush
"""


class MailSystem:
    """An instance with the local mail services, users and helpers."""

    def __init__(self, inst, run, users):
        self.inst = inst
        self.run = run
        self.users = users              # login names that can receive mail
        self.spool = inst.base / "mail"

    def sendmail(self, args, message, expect=0, user=None):
        """Run the instance's sendmail with message (bytes) on stdin."""
        cmd = [str(self.inst.build / "bin" / "sendmail"), "-C", str(self.inst.config_dir)]
        kw = {}
        if user is not None:
            pw = pwd.getpwnam(user)
            kw = dict(user=pw.pw_uid, group=pw.pw_gid, extra_groups=[])
        env = {"PATH": "/usr/bin:/bin"}
        for name in ("ASAN_OPTIONS", "UBSAN_OPTIONS"):
            if name in os.environ:
                env[name] = os.environ[name]
        r = subprocess.run(cmd + list(args), input=message, capture_output=True,
                           timeout=60, env=env, **kw)
        assert r.returncode == expect, (args, r.returncode, r.stderr.decode(errors="replace"),
                                        self.inst.log()[-3000:])
        return r

    def mbox_path(self, user):
        return self.spool / user

    def messages(self, user):
        """Messages in the user's mbox (parsed by Python's mailbox)."""
        path = self.mbox_path(user)
        if not path.exists():
            return []
        box = mailbox.mbox(str(path), create=False)
        try:
            return [box.get_bytes(key) for key in box.keys()]
        finally:
            box.close()

    def wait_messages(self, user, count, timeout=30):
        return wait_for(lambda: len(self.messages(user)) >= count and self.messages(user),
                        timeout, what=f"{count} message(s) for {user}\n{self.inst.log()[-3000:]}")

    def queue_empty(self):
        for sub in ("maildrop", "incoming", "active", "deferred"):
            d = self.inst.queue_dir / sub
            for _root, _dirs, files in os.walk(d):
                if files:
                    return False
        return True


def make_user(base):
    """Create a real user with its home under base; return its name."""
    name = "pt" + "".join(random.choice(string.ascii_lowercase) for _ in range(8))
    home = base / "home" / name
    home.parent.mkdir(exist_ok=True)
    os.chmod(home.parent, 0o755)
    subprocess.run(["useradd", "-M", "-d", str(home), "-s", "/bin/sh", name],
                   check=True, capture_output=True)
    home.mkdir()
    pw = pwd.getpwnam(name)
    os.chown(home, pw.pw_uid, pw.pw_gid)
    return name


def remove_user(name):
    subprocess.run(["userdel", name], capture_output=True)


@pytest.fixture
def mailsys(instance_factory, run, bin_path):
    for prog in ("sendmail", "postdrop", "pickup", "cleanup", "qmgr", "local", "bounce"):
        bin_path(prog)
    made_users = []

    def make(settings=None, start=True, aliases="", users=2):
        settings = dict(settings or {})
        inst = instance_factory(master_cf=MAIL_MASTER_CF, start=False, settings={
            "myhostname": "mx.test.invalid",
            "mydomain": "test.invalid",
            "mydestination": "$myhostname, localhost",
            **settings,
        })
        spool = inst.base / "mail"
        spool.mkdir()
        os.chmod(spool, 0o1777)
        if IS_ROOT:
            names = [make_user(inst.base) for _ in range(users)]
            made_users.extend(names)
        else:
            names = [pwd.getpwuid(os.getuid()).pw_name]
        alias_file = inst.base / "aliases"
        alias_file.write_text(aliases.format(u=names, base=inst.base))
        inst.postconf("-e", f"mail_spool_directory={spool}",
                      f"alias_maps=hash:{alias_file}", f"alias_database=hash:{alias_file}")
        run(["postalias", "-c", inst.config_dir, f"hash:{alias_file}"], expect=0)
        if start:
            inst.start()
        return MailSystem(inst, run, names)

    yield make
    for name in made_users:
        remove_user(name)


def body_of(raw):
    """The body of a delivered message (bytes after the blank line)."""
    return raw.split(b"\n\n", 1)[1]


def header(raw, name):
    msg = email.message_from_bytes(raw, policy=email.policy.compat32)
    return msg.get_all(name) or []


# ------------------------------------------------------------ sendmail

def test_cron_style_submission(mailsys):
    ms = mailsys()
    user = ms.users[0]
    ms.sendmail(["-FCronDaemon", "-i", "-B8BITMIME", "-oem", user],
                b"Subject: Cron <root@host> run-parts\n\nhello from cron\n")
    (raw,) = ms.wait_messages(user, 1)
    assert body_of(raw).startswith(b"hello from cron\n")
    assert header(raw, "Delivered-To") == [f"{user}@mx.test.invalid"]
    assert header(raw, "Return-Path")
    frm = header(raw, "From")[0]
    assert "CronDaemon" in frm
    assert header(raw, "Message-ID") and header(raw, "Date")
    # local logs just after the mailbox is synced: wait for the line.
    ms.inst.wait_log("status=sent")
    log = ms.inst.log()
    assert "from=<" in log and f"to=<{user}@mx.test.invalid>" in log
    assert "relay=local" in log


@pytest.mark.skipif(not IS_ROOT, reason="root's mailbox needs a privileged instance")
def test_echo_to_root_lands_in_roots_mailbox(mailsys):
    ms = mailsys(users=1)
    ms.sendmail(["root"], b"hi\n")
    (raw,) = ms.wait_messages("root", 1)
    assert body_of(raw).startswith(b"hi\n")
    assert os.stat(ms.mbox_path("root")).st_uid == 0


def test_mailx_style_with_sender_and_subject(mailsys):
    ms = mailsys()
    user = ms.users[0]
    ms.sendmail(["-oi", "-f", "alice@example.org", user],
                b"To: " + user.encode() + b"\nSubject: test\n\nline one\n.\nline three\n")
    (raw,) = ms.wait_messages(user, 1)
    assert header(raw, "Return-Path") == ["<alice@example.org>"]
    assert b"line one\n.\nline three\n" in body_of(raw)


def test_dot_line_ends_input_without_i(mailsys):
    ms = mailsys()
    user = ms.users[0]
    ms.sendmail([user], b"Subject: dots\n\nbefore\n.\nafter\n")
    (raw,) = ms.wait_messages(user, 1)
    assert b"before\n" in body_of(raw)
    assert b"after" not in raw


@pytest.mark.skipif(not IS_ROOT, reason="needs two users")
def test_t_takes_recipients_from_headers_and_removes_bcc(mailsys):
    ms = mailsys()
    a, b = ms.users
    ms.sendmail(["-t", "-i"],
                f"To: {a}\nBcc: {b}\nSubject: -t\n\nbody\n".encode())
    (raw_a,) = ms.wait_messages(a, 1)
    (raw_b,) = ms.wait_messages(b, 1)
    for raw in (raw_a, raw_b):
        assert not header(raw, "Bcc")
        assert b"Subject: -t" in raw


def test_8bit_and_long_lines_are_byte_exact(mailsys):
    ms = mailsys()
    user = ms.users[0]
    body = bytes(range(0x80, 0x100)) + b"\n" + b"x" * 5000 + b"\n" + "Grüße\n".encode()
    ms.sendmail(["-i", "-B8BITMIME", user], b"Subject: 8bit\n\n" + body)
    (raw,) = ms.wait_messages(user, 1)
    assert body_of(raw)[:len(body)] == body


def test_maildir_delivery(mailsys):
    ms = mailsys(settings={"home_mailbox": "Maildir/"})
    user = ms.users[0]
    ms.sendmail(["-i", user], b"Subject: maildir\n\nto a maildir\n")
    home = Path(pwd.getpwnam(user).pw_dir)
    box_path = home / "Maildir"
    wait_for(lambda: (box_path / "new").is_dir() and list((box_path / "new").iterdir()),
             30, what=f"a message in {box_path}/new\n{ms.inst.log()[-3000:]}")
    box = mailbox.Maildir(str(box_path), factory=None, create=False)
    (key,) = box.keys()
    raw = box.get_bytes(key)
    assert b"to a maildir\n" in raw
    assert not list((box_path / "tmp").iterdir())
    if IS_ROOT:
        assert os.stat(box_path / "new" / os.listdir(box_path / "new")[0]).st_uid == \
            pwd.getpwnam(user).pw_uid


def test_mail_submitted_while_down_is_delivered_after_start(mailsys):
    ms = mailsys(start=False)
    user = ms.users[0]
    ms.sendmail(["-i", user], b"Subject: queued\n\nwhile down\n")
    assert list((ms.inst.queue_dir / "maildrop").iterdir())
    assert ms.messages(user) == []
    ms.inst.start()
    (raw,) = ms.wait_messages(user, 1)
    assert b"while down" in raw


# ------------------------------------------------------------ aliases, forward

@pytest.mark.skipif(not IS_ROOT, reason="needs several users")
def test_aliases_users_file_command_include(mailsys):
    aliases = (
        "team: {u[0]}, {u[1]}\n"
        "tofile: {base}/out/file.mbox\n"
        "tocmd: \"|/bin/sh -c 'cat > {base}/out/cmd.out'\"\n"
        "inc: :include:{base}/list\n"
    )
    ms = mailsys(aliases=aliases)
    out = ms.inst.base / "out"
    out.mkdir()
    os.chmod(out, 0o1777)
    (ms.inst.base / "list").write_text(f"{ms.users[1]}\n")
    ms.sendmail(["-i", "team"], b"Subject: team\n\nto the team\n")
    ms.wait_messages(ms.users[0], 1)
    ms.wait_messages(ms.users[1], 1)
    ms.sendmail(["-i", "tofile"], b"Subject: file\n\nto a file\n")
    wait_for(lambda: (out / "file.mbox").exists() and b"to a file" in (out / "file.mbox").read_bytes(),
             30, what=f"file delivery\n{ms.inst.log()[-3000:]}")
    ms.sendmail(["-i", "tocmd"], b"Subject: cmd\n\nto a command\n")
    wait_for(lambda: (out / "cmd.out").exists() and b"to a command" in (out / "cmd.out").read_bytes(),
             30, what=f"command delivery\n{ms.inst.log()[-3000:]}")
    ms.sendmail(["-i", "inc"], b"Subject: inc\n\nvia include\n")
    msgs = ms.wait_messages(ms.users[1], 2)
    assert any(b"via include" in m for m in msgs)


def test_alias_loop_bounces(mailsys):
    ms = mailsys(aliases="loopa: loopb\nloopb: loopa\n")
    user = ms.users[0]
    ms.sendmail(["-i", "-f", f"{user}@mx.test.invalid", "loopa"], b"Subject: loop\n\nround\n")
    (raw,) = ms.wait_messages(user, 1)
    report = email.message_from_bytes(raw, policy=email.policy.compat32)
    assert report.get_content_type() == "multipart/report"


@pytest.mark.skipif(not IS_ROOT, reason="needs two users")
def test_dot_forward(mailsys):
    ms = mailsys()
    a, b = ms.users
    home = Path(pwd.getpwnam(b).pw_dir)
    fwd = home / ".forward"
    fwd.write_text(f"{a}\n")
    pw = pwd.getpwnam(b)
    os.chown(fwd, pw.pw_uid, pw.pw_gid)
    ms.sendmail(["-i", b], b"Subject: fwd\n\nforwarded\n")
    (raw,) = ms.wait_messages(a, 1)
    assert b"forwarded" in raw
    assert ms.messages(b) == []


# ------------------------------------------------------------ bounces

def test_unknown_user_bounce_is_an_rfc3464_report(mailsys):
    ms = mailsys()
    user = ms.users[0]
    sender = f"{user}@mx.test.invalid"
    ms.sendmail(["-i", "-f", sender, "nosuchuser"], b"Subject: lost\n\nnobody home\n")
    (raw,) = ms.wait_messages(user, 1)
    report = email.message_from_bytes(raw, policy=email.policy.compat32)
    assert report.get_content_type() == "multipart/report"
    assert report.get_param("report-type") == "delivery-status"
    assert header(raw, "Return-Path") == ["<>"]
    parts = report.get_payload()
    assert parts[0].get_content_type() == "text/plain"
    assert parts[1].get_content_type() == "message/delivery-status"
    groups = parts[1].get_payload()
    per_message, per_rcpt = groups[0], groups[1]
    assert per_message["Reporting-MTA"].strip() == "dns; mx.test.invalid"
    assert "Arrival-Date" in per_message
    assert per_rcpt["Final-Recipient"].strip() == "rfc822; nosuchuser@mx.test.invalid"
    assert per_rcpt["Action"].strip() == "failed"
    assert per_rcpt["Status"].strip() == "5.1.1"
    assert per_rcpt["Diagnostic-Code"]
    assert parts[2].get_content_type() in ("message/rfc822", "text/rfc822-headers")
    assert b"Subject: lost" in parts[2].as_bytes()
    ms.inst.wait_log("sender non-delivery notification:")
    assert "status=bounced" in ms.inst.log()
    wait_for(ms.queue_empty, 30, what="the queue to empty")


def test_bounce_of_a_bounce_does_not_loop(mailsys):
    ms = mailsys()
    # Null sender to an unknown user: the notice goes to postmaster (an
    # alias of the first user here) once, and never comes back.
    aliases_user = ms.users[0]
    alias_file = ms.inst.base / "aliases"
    alias_file.write_text(f"postmaster: {aliases_user}\n")
    ms.run(["postalias", "-c", ms.inst.config_dir, f"hash:{alias_file}"], expect=0)
    ms.sendmail(["-i", "-f", "", "nosuchuser"], b"Subject: null sender\n\nx\n")
    wait_for(ms.queue_empty, 30, what=f"the queue to empty\n{ms.inst.log()[-3000:]}")
    msgs = ms.wait_messages(aliases_user, 1)
    assert len(msgs) == 1
    assert header(msgs[0], "Return-Path") == ["<>"]


# ------------------------------------------------------------ robustness

def service_pids(inst, name):
    """pids of running processes of one service of this instance."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            cmd = open(f"/proc/{entry}/cmdline", "rb").read().split(b"\0")
        except OSError:
            continue
        if len(cmd) > 2 and cmd[0].endswith(b"/" + name.encode()) and \
                str(inst.config_dir).encode() in cmd:
            pids.append(int(entry))
    return pids


def test_kill_9_mid_flight_loses_nothing(mailsys):
    ms = mailsys(settings={"minimal_backoff_time": "1s", "maximal_backoff_time": "2s",
                           "queue_run_delay": "1s"})
    user = ms.users[0]
    count = 20
    for i in range(count):
        ms.sendmail(["-i", user], f"Subject: n{i}\n\nmessage {i}\n".encode())
        if i % 4 == 3:
            for name in ("pickup", "cleanup", "qmgr", "local"):
                for pid in service_pids(ms.inst, name):
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass

    def all_delivered():
        # Keep the queue manager retrying what the kills deferred.
        ms.run(["postern", "-c", ms.inst.config_dir, "flush"])
        msgs = ms.messages(user)
        return len(msgs) >= count and msgs

    msgs = wait_for(all_delivered, 120, interval=1.0,
                    what=f"{count} deliveries\n{ms.inst.log()[-3000:]}")
    seen = {int(m.split(b"message ", 1)[1].split(b"\n", 1)[0]) for m in msgs}
    assert seen == set(range(count))
