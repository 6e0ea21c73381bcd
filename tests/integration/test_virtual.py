"""The virtual delivery agent (virtual(8)) and virtual domains end to end.

Agent tests run virtual under master and drive it with a stand-in qmgr
(deliverlib: queue files written into active/, delivery requests sent
to private/virtual). The mail store is one base directory owned by a
"vmail" account: as root a real user made for the test (and the
instance is privileged: virtual switches to that uid/gid), as an
ordinary user the user itself (an unprivileged instance delivers as
itself after the same checks).

End-to-end tests (SMTP in, virtual out) need qmgr to route
virtual_mailbox_domains to $virtual_transport (the qmgr/resolve rewrite
of issue 10); smtpd's RCPT-time rejection of unknown virtual users does
not depend on qmgr.
"""

import email
import email.policy
import mailbox
import os
import pwd
import shutil
import smtplib
import socket
import subprocess
from pathlib import Path

import pytest

from conftest import wait_for
from deliverlib import deliver, queue_message
from test_local_mail import IS_ROOT, MAIL_MASTER_CF, make_user, remove_user

VIRTUAL_MASTER_CF = """\
virtual   unix  -       n       n       -       -       virtual
"""

MESSAGE = (b"From: Sender <sender@example.org>\n"
           b"To: someone@one.example\n"
           b"Subject: virtual test\n"
           b"\n"
           b"first line\n"
           b"From the start of a line\n"
           b"last line\n")


class VirtualSystem:
    def __init__(self, inst, vuid, vgid, base):
        self.inst = inst
        self.uid = vuid
        self.gid = vgid
        self.base = base
        self.sock = inst.queue_dir / "private" / "virtual"

    def send(self, rcpts, body=MESSAGE, sender="sender@example.org"):
        qid, info = queue_message(self.inst.queue_dir, sender, rcpts, body)
        wait_for(lambda: self.sock.exists(), what="private/virtual")
        results, final = deliver(self.sock, qid, info, sender, rcpts, nexthop="virtual",
                                 arrival_time=int(os.path.getmtime(
                                     self.inst.queue_dir / "active" / qid)))
        assert final.get("status") == "0", final
        return results

    def maildir_messages(self, rel):
        new = self.base / rel / "new"
        if not new.is_dir():
            return []
        return [p.read_bytes() for p in sorted(new.iterdir())]

    def mbox_messages(self, rel):
        path = self.base / rel
        if not path.exists():
            return []
        box = mailbox.mbox(str(path), create=False)
        try:
            return [box.get_bytes(k) for k in box.keys()]
        finally:
            box.close()


def vmail_account(base, made):
    """uid, gid of the account that owns the mail store."""
    if IS_ROOT:
        name = make_user(base)
        made.append(name)
        pw = pwd.getpwnam(name)
        return pw.pw_uid, pw.pw_gid
    return os.getuid(), os.getgid()


def write_table(path, entries):
    path.write_text("".join(f"{k} {v}\n" for k, v in entries.items()))
    return f"texthash:{path}"


MAILBOXES = {
    "ann@one.example": "one.example/ann/",
    "bob@one.example": "one.example/bob",
    "cat@two.example": "two.example/cat/",
    "@three.example": "three.example/catchall/",
    "evil@one.example": "one.example/link/",
    "box@one.example": "one.example/linkbox",
    "dots@one.example": "one.example/../../escape/",
    "low@four.example": "four.example/low/",
}


@pytest.fixture
def virtsys(instance_factory, bin_path):
    bin_path("virtual")
    made = []

    def make(settings=None, mailboxes=None, uid_map=None):
        inst = instance_factory(master_cf=VIRTUAL_MASTER_CF, start=False, settings={
            "myhostname": "mx.test.invalid",
            "mydomain": "test.invalid",
            "recipient_delimiter": "+",
        })
        uid, gid = vmail_account(inst.base, made)
        base = inst.base / "vmail"
        base.mkdir()
        (base / "one.example").mkdir()
        for p in (base, base / "one.example"):
            os.chown(p, uid, gid)
        vmaps = write_table(inst.base / "vmailbox", mailboxes or MAILBOXES)
        uids = uid_map or write_table(inst.base / "vuid", {
            "@one.example": uid, "@two.example": uid, "@three.example": uid,
            "@four.example": 50})
        inst.postconf("-e", f"virtual_mailbox_base={base}",
                      f"virtual_mailbox_maps={vmaps}",
                      f"virtual_uid_maps={uids}",
                      f"virtual_gid_maps=static:{gid}",
                      f"virtual_minimum_uid={min(uid, 100)}",
                      *[f"{k}={v}" for k, v in (settings or {}).items()])
        inst.start()
        return VirtualSystem(inst, uid, gid, base)

    yield make
    for name in made:
        remove_user(name)


def hdr(raw, name):
    return email.message_from_bytes(raw, policy=email.policy.compat32).get_all(name) or []


def test_maildir_and_mbox_users_in_two_domains(virtsys):
    vs = virtsys()
    res = vs.send(["ann@one.example", "bob@one.example", "cat@two.example"])
    for rcpt in ("ann@one.example", "bob@one.example", "cat@two.example"):
        assert res[rcpt]["status"] == 0, (rcpt, res[rcpt], vs.inst.log()[-2000:])
        assert res[rcpt]["relay"] == "virtual"
    assert res["ann@one.example"]["reason"] == "delivered to maildir"
    assert res["bob@one.example"]["reason"] == "delivered to mailbox"
    ann = vs.maildir_messages("one.example/ann")
    assert len(ann) == 1
    assert ann[0].startswith(b"Return-Path: <sender@example.org>\n"
                             b"Delivered-To: ann@one.example\n")
    # Maildir: no mbox quoting
    assert b"\nFrom the start of a line\n" in ann[0]
    for sub in ("tmp", "cur"):
        assert list((vs.base / "one.example/ann" / sub).iterdir()) == []
    bob = (vs.base / "one.example/bob").read_bytes()
    assert bob.startswith(b"From sender@example.org  ")
    assert b"\n>From the start of a line\n" in bob
    # the second domain's directory did not exist: created for the Maildir
    assert len(vs.maildir_messages("two.example/cat")) == 1
    # everything belongs to the vmail account, private modes
    for rel in ("one.example/ann", "one.example/ann/new", "two.example", "two.example/cat",
                "one.example/bob"):
        st = (vs.base / rel).stat()
        assert (st.st_uid, st.st_gid) == (vs.uid, vs.gid), rel
        assert st.st_mode & 0o077 == 0, rel
    log = vs.inst.log()
    assert "to=<ann@one.example>, relay=virtual" in log and "status=sent" in log


def test_extension_and_catch_all(virtsys):
    vs = virtsys()
    res = vs.send(["ann+lists@one.example", "anyone@three.example"])
    assert res["ann+lists@one.example"]["status"] == 0, vs.inst.log()[-2000:]
    assert res["anyone@three.example"]["status"] == 0
    ann = vs.maildir_messages("one.example/ann")
    assert hdr(ann[0], "Delivered-To") == ["ann+lists@one.example"]
    assert hdr(vs.maildir_messages("three.example/catchall")[0], "Delivered-To") == \
        ["anyone@three.example"]


def test_unknown_user_bounces(virtsys):
    vs = virtsys()
    res = vs.send(["nobody@one.example", "ann@one.example"])
    r = res["nobody@one.example"]
    assert r["status"] == 5 and r["dsn"] == "5.1.1", r
    assert "User unknown in virtual mailbox table" in r["reason"]
    assert res["ann@one.example"]["status"] == 0


def test_delivered_to_loop_bounces(virtsys):
    vs = virtsys()
    looped = b"Delivered-To: Ann@One.Example\n" + MESSAGE
    res = vs.send(["ann@one.example", "cat@two.example"], body=looped)
    r = res["ann@one.example"]
    assert r["status"] == 5 and r["dsn"] == "5.4.6" and "loop" in r["reason"], r
    assert vs.maildir_messages("one.example/ann") == []
    assert res["cat@two.example"]["status"] == 0


def test_symlinks_below_the_base_are_refused(virtsys, tmp_path):
    vs = virtsys()
    outside = Path(vs.inst.base) / "outside"
    outside.mkdir()
    os.chown(outside, vs.uid, vs.gid)
    os.symlink(outside, vs.base / "one.example" / "link")
    os.symlink(outside / "box", vs.base / "one.example" / "linkbox")
    res = vs.send(["evil@one.example", "box@one.example"])
    for rcpt in ("evil@one.example", "box@one.example"):
        assert res[rcpt]["status"] == 4, res[rcpt]
    assert list(outside.iterdir()) == []
    # a symlinked directory on the way is refused as well
    shutil.rmtree(vs.base / "one.example")
    os.symlink(outside, vs.base / "one.example")
    res = vs.send(["ann@one.example"])
    assert res["ann@one.example"]["status"] == 4
    assert list(outside.iterdir()) == []
    assert "symbolic link" in vs.inst.log()


def test_bad_results_and_ids_defer(virtsys):
    vs = virtsys()
    res = vs.send(["dots@one.example", "low@four.example"])
    for rcpt in ("dots@one.example", "low@four.example"):
        r = res[rcpt]
        assert r["status"] == 4 and r["dsn"] == "4.3.5", (rcpt, r)
    assert not (vs.inst.base / "escape").exists()
    assert not (vs.base / "four.example").exists()
    log = vs.inst.log()
    assert "bad virtual_mailbox_maps result" in log
    assert "below the minimum" in log


def test_table_failure_defers(virtsys):
    vs = virtsys(settings={"virtual_mailbox_maps": "hash:/nonexistent/vmailbox"})
    res = vs.send(["ann@one.example"])
    r = res["ann@one.example"]
    assert r["status"] == 4 and r["dsn"] == "4.3.0", r


def test_hash_and_regexp_tables(virtsys, run):
    vs = virtsys()
    src = vs.inst.base / "vhash"
    src.write_text("ann@one.example one.example/hashed/\n")
    run(["postmap", "-c", vs.inst.config_dir, f"hash:{src}"], expect=0)
    rx = vs.inst.base / "vregexp"
    rx.write_text("/^([a-z]+)@rx\\.example$/ rx.example/$1/\n")
    vs.inst.postconf("-e", f"virtual_mailbox_maps=hash:{src}, regexp:{rx}",
                     f"virtual_uid_maps=static:{vs.uid}")
    vs.inst.postern("reload", expect=0)
    wait_for(lambda: "reload" in vs.inst.log(), what="reload")
    import time
    time.sleep(1)
    res = vs.send(["ann@one.example", "zed@rx.example"])
    assert res["ann@one.example"]["status"] == 0, vs.inst.log()[-2000:]
    assert res["zed@rx.example"]["status"] == 0, vs.inst.log()[-2000:]
    assert len(vs.maildir_messages("one.example/hashed")) == 1
    assert len(vs.maildir_messages("rx.example/zed")) == 1


def test_mailbox_limit(virtsys):
    vs = virtsys(settings={"virtual_mailbox_limit": 600})
    res = vs.send(["bob@one.example"])
    assert res["bob@one.example"]["status"] == 0
    before = (vs.base / "one.example/bob").read_bytes()
    res = vs.send(["bob@one.example"], body=MESSAGE + b"x" * 400 + b"\n")
    r = res["bob@one.example"]
    assert r["status"] == 5 and r["dsn"] == "5.2.2", r
    assert (vs.base / "one.example/bob").read_bytes() == before


# ------------------------------------------------------------ end to end

SMTPD_LINE = "127.0.0.1:{port0} inet n - n - 20 smtpd -o smtpd_peername_lookup=no\n"
ERROR_MASTER_CF = "error     unix  -       -       n       -       -       error\n"


@pytest.fixture
def vmailsys(instance_factory, bin_path, run):
    for prog in ("smtpd", "cleanup", "qmgr", "local", "virtual", "bounce"):
        bin_path(prog)
    made = []

    def make(settings=None):
        inst = instance_factory(master_cf=SMTPD_LINE + MAIL_MASTER_CF + VIRTUAL_MASTER_CF
                                + ERROR_MASTER_CF,
                                start=False, settings={
                                    "myhostname": "mx.test.invalid",
                                    "mydomain": "test.invalid",
                                    "mydestination": "$myhostname, localhost",
                                    "recipient_delimiter": "+",
                                })
        uid, gid = vmail_account(inst.base, made)
        base = inst.base / "vmail"
        base.mkdir()
        os.chown(base, uid, gid)
        spool = inst.base / "mail"
        spool.mkdir()
        os.chmod(spool, 0o1777)
        alias_file = inst.base / "aliases"
        alias_file.write_text("")
        vmaps = write_table(inst.base / "vmailbox", {
            "ann@one.example": "one.example/ann/",
            "bob@two.example": "two.example/bob/",
            "@catch.example": "catch.example/all/",
        })
        valias = write_table(inst.base / "valias", {
            "team@alias.example": "ann@one.example, bob@two.example",
            "@other.example": "ann@one.example",
            "loop1@alias.example": "loop2@alias.example",
            "loop2@alias.example": "loop1@alias.example",
        })
        inst.postconf("-e", f"mail_spool_directory={spool}",
                      f"alias_maps=hash:{alias_file}", f"alias_database=hash:{alias_file}",
                      f"virtual_mailbox_base={base}",
                      "virtual_mailbox_domains=one.example, two.example, catch.example",
                      f"virtual_mailbox_maps={vmaps}",
                      "virtual_alias_domains=alias.example, other.example",
                      f"virtual_alias_maps={valias}",
                      f"virtual_uid_maps=static:{uid}", f"virtual_gid_maps=static:{gid}",
                      f"virtual_minimum_uid={min(uid, 100)}",
                      *[f"{k}={v}" for k, v in (settings or {}).items()])
        run(["postalias", "-c", inst.config_dir, f"hash:{alias_file}"], expect=0)
        inst.start()
        wait_for(lambda: _can_connect(inst.ports[0]), 10, what="smtpd listening")
        return VirtualSystem(inst, uid, gid, base)

    yield make
    for name in made:
        remove_user(name)


def _can_connect(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
            s.settimeout(5)
            s.recv(512)
        return True
    except OSError:
        return False


def test_unknown_virtual_users_rejected_at_rcpt(vmailsys):
    # The client is not in mynetworks: accepting virtual recipients at
    # all shows that reject_unauth_destination counts them as ours.
    vs = vmailsys(settings={"mynetworks": "192.0.2.0/24"})
    with smtplib.SMTP("127.0.0.1", vs.inst.ports[0], timeout=30) as s:
        s.ehlo("client.test")
        assert s.mail("sender@example.org")[0] == 250
        code, text = s.rcpt("nobody@one.example")
        assert code == 550, text
        assert text.decode() == ("5.1.1 <nobody@one.example>: Recipient address rejected: "
                                 "User unknown in virtual mailbox table")
        code, text = s.rcpt("nobody@alias.example")
        assert code == 550, text
        assert b"User unknown in virtual alias table" in text
        # listed users, catch-alls and alias catch-alls are accepted
        for rcpt in ("ann@one.example", "ann+x@one.example", "who@catch.example",
                     "team@alias.example", "who@other.example"):
            assert s.rcpt(rcpt)[0] == 250, rcpt
        # other domains are still relaying, denied to this client
        code, text = s.rcpt("someone@elsewhere.example")
        assert code in (454, 554), text
        assert b"Relay access denied" in text


def test_unlisted_recipient_check_can_be_turned_off(vmailsys):
    vs = vmailsys(settings={"smtpd_reject_unlisted_recipient": "no"})
    with smtplib.SMTP("127.0.0.1", vs.inst.ports[0], timeout=30) as s:
        s.ehlo("client.test")
        s.mail("sender@example.org")
        assert s.rcpt("nobody@one.example")[0] == 250


def test_smtp_to_virtual_mailboxes_with_aliases(vmailsys):
    """Needs qmgr routing virtual_mailbox_domains to virtual."""
    vs = vmailsys()
    with smtplib.SMTP("127.0.0.1", vs.inst.ports[0], timeout=30) as s:
        s.sendmail("sender@example.org", ["team@alias.example", "x@other.example",
                                          "who@catch.example"], MESSAGE)
    wait_for(lambda: len(vs.maildir_messages("two.example/bob")) == 1
             and len(vs.maildir_messages("catch.example/all")) == 1
             and len(vs.maildir_messages("one.example/ann")) >= 1, 30,
             what="virtual deliveries\n" + vs.inst.log()[-3000:])
    # team@ and x@other both expand to ann: one copy (duplicates removed)
    import time
    time.sleep(1)
    ann = vs.maildir_messages("one.example/ann")
    assert len(ann) == 1
    assert hdr(ann[0], "Delivered-To") == ["ann@one.example"]
    assert b"Subject: virtual test" in ann[0]


def test_alias_loop_is_not_delivered(vmailsys):
    """A virtual alias loop ends at the recursion guard: loop1 -> loop2 ->
    loop1 stays loop1, which is not a mailbox and bounces; nothing lands
    in a mailbox."""
    vs = vmailsys()
    with smtplib.SMTP("127.0.0.1", vs.inst.ports[0], timeout=30) as s:
        s.sendmail("sender@example.org", ["loop1@alias.example", "ann@one.example"], MESSAGE)
    wait_for(lambda: len(vs.maildir_messages("one.example/ann")) == 1, 30,
             what="delivery to ann\n" + vs.inst.log()[-3000:])
    wait_for(lambda: "loop1@alias.example" in vs.inst.log()
             and "status=bounced" in vs.inst.log(), 30,
             what="the loop bounced\n" + vs.inst.log()[-3000:])


@pytest.mark.skipif(not os.path.exists("/usr/sbin/dovecot"), reason="dovecot is not installed")
def test_dovecot_reads_the_maildir(vmailsys, tmp_path):
    import imaplib
    vs = vmailsys()
    with smtplib.SMTP("127.0.0.1", vs.inst.ports[0], timeout=30) as s:
        s.sendmail("sender@example.org", ["ann@one.example"], MESSAGE)
    wait_for(lambda: len(vs.maildir_messages("one.example/ann")) == 1, 30, what="delivery")
    port = _free_port()
    conf = tmp_path / "dovecot.conf"
    users = tmp_path / "users"
    users.write_text(f"ann@one.example:{{PLAIN}}secret:{vs.uid}:{vs.gid}::"
                     f"{vs.base}/one.example/ann\n")
    conf.write_text(f"""
protocols = imap
listen = 127.0.0.1
base_dir = {tmp_path}/run
state_dir = {tmp_path}/state
log_path = {tmp_path}/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain
mail_location = maildir:~
first_valid_uid = {min(vs.uid, 100)}
default_internal_user = {pwd.getpwuid(os.getuid()).pw_name}
default_login_user = {pwd.getpwuid(os.getuid()).pw_name}
service imap-login {{
  inet_listener imap {{
    port = {port}
  }}
}}
passdb {{
  driver = passwd-file
  args = {users}
}}
userdb {{
  driver = passwd-file
  args = {users}
}}
""")
    proc = subprocess.Popen(["/usr/sbin/dovecot", "-F", "-c", str(conf)])
    try:
        wait_for(lambda: _port_open(port), 15, what="dovecot listening")
        imap = imaplib.IMAP4("127.0.0.1", port)
        imap.login("ann@one.example", "secret")
        typ, data = imap.select("INBOX")
        assert typ == "OK" and int(data[0]) == 1
        typ, data = imap.fetch("1", "(RFC822)")
        assert b"Subject: virtual test" in data[0][1]
        imap.logout()
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _port_open(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False
