"""bounce end to end: a real instance runs the bounce daemon under master
(as "bounce" and as "defer"); the tests put a queue file in active/ and a
bounce log in bounce/, ask for a notification over private/bounce the way
qmgr does, and catch what bounce submits with a stand-in cleanup on
public/cleanup. The notification is parsed with Python's email module and
checked field by field. One test uses the real cleanup instead."""

import email
import email.policy
import email.utils
import os
import shutil
import socket
import time

import pytest

from qfilelib import attr_encode, attr_read, parse_qfile
from qmgr_lib import UnixListener, qfile_record

MASTER_CF = """\
bounce unix - - n - 0 bounce
defer unix - - n - 0 bounce
"""

MASTER_CF_REAL_CLEANUP = MASTER_CF + """\
cleanup unix n - n - 0 cleanup
"""

HOST = "mx.example.org"
SETTINGS = {
    "myhostname": HOST,
    "mydomain": "example.org",
    "myorigin": "example.org",
    "mydestination": "$myhostname, localhost",
}

ORIGINAL = (
    b"From: Alice <alice@example.com>\n"
    b"To: bob@example.net, carol@example.org\n"
    b"Subject: quarterly report\n"
    b"Message-ID: <orig-1@example.com>\n"
    b"\n"
    b"Hello,\n"
    b"\n"
    b"the numbers are attached. caf\xc3\xa9\n"
    b".\n"
    b"-- \n"
    b"Alice\n"
)

NOTIFY_SUCCESS, NOTIFY_FAILURE, NOTIFY_DELAY, NOTIFY_NEVER = 1, 2, 4, 8


# ------------------------------------------------------------ queue files

def make_qfile(sender, rcpts, content, arrival=1700000000, envid=None, ret=None):
    """Bytes of a version-1 queue file (see lib/mail/qfile.h FORMAT).

    rcpts: list of dicts with address and optional orig, orcpt, notify,
    done."""
    body = bytearray()
    body += qfile_record("T", f"{arrival} 0")
    body += qfile_record("S", sender)
    if envid is not None:
        body += qfile_record("i", envid)
    if ret is not None:
        body += qfile_record("<", ret)
    for r in rcpts:
        if r.get("orig") is not None:
            body += qfile_record("O", r["orig"])
        if r.get("orcpt") is not None:
            body += qfile_record("o", r["orcpt"])
        if r.get("notify"):
            body += qfile_record("n", str(r["notify"]))
        body += qfile_record("D" if r.get("done", True) else "R", r["address"])
    records = bytearray(qfile_record("M", b""))
    size = 0
    text = content[:-1] if content.endswith(b"\n") else content
    if content:
        for line in text.split(b"\n"):
            records += qfile_record("N", line)
            size += len(line) + 1
    tail = len(records)
    records += qfile_record("E", b"")
    content_offset = 2 + 95 + len(body)
    fields = [1, content_offset, content_offset + tail, size, len(rcpts), 0]
    header = qfile_record("C", " ".join("%015d" % v for v in fields))
    assert len(header) == 97
    return header + bytes(body) + bytes(records)


def log_entry(recipient, status="5.1.1", reason="unknown user", orig=None,
              orcpt=None, notify=0, relay="local", action="failed", when=1700000100):
    """One bounce log entry (lib/mail/bounce_log.h): an attr message."""
    pairs = [("recipient", recipient)]
    if orig is not None:
        pairs.append(("original_recipient", orig))
    if orcpt is not None:
        pairs.append(("dsn_orcpt", orcpt))
    if notify:
        pairs.append(("notify_flags", notify))
    pairs += [("dsn_status", status), ("dsn_action", action), ("reason", reason)]
    if relay is not None:
        pairs.append(("relay", relay))
    pairs.append(("time", when))
    return attr_encode(pairs)


# ------------------------------------------------------------ stand-in cleanup

class FakeCleanup(UnixListener):
    """Listens on public/cleanup, speaks the cleanup protocol, and keeps
    every submission: dict(envelope, recipients, content)."""

    def __init__(self, path, owner=None, status=0, reason=None):
        self.status = status
        self.reason = reason
        self.received = []
        self.count = 0
        super().__init__(path, backlog=5, owner=owner)

    def accepted(self, conn):
        try:
            self._session(conn)
        except Exception as exc:          # recorded for the test to see
            self.received.append({"error": repr(exc)})
        finally:
            conn.close()

    def _session(self, conn):
        conn.settimeout(10)
        conn.sendall(attr_encode([("protocol", "cleanup_protocol")]))
        f = conn.makefile("rb")
        env = attr_read(f)
        rcpts = [attr_read(f) for _ in range(int(env["recipient_count"]))]
        content = bytearray()
        while True:
            size = int(attr_read(f)["size"])
            if size == 0:
                break
            content += f.read(size)
        self.count += 1
        if self.status == 0:
            reply = [("status", 0), ("queue_id", "ABCDEF%X" % self.count)]
        else:
            reply = [("status", self.status), ("reason", self.reason or "4.3.0 busy")]
        self.received.append({"envelope": env, "recipients": rcpts,
                              "content": bytes(content)})
        conn.sendall(attr_encode(reply))


# ------------------------------------------------------------ fixtures

class Bench:
    """An instance running bounce, with helpers to stage a failed message."""

    def __init__(self, inst):
        self.inst = inst
        self.queue = inst.queue_dir
        self.owner = inst.mail_owner if inst.privileged else None

    def _put(self, path, data):
        path.write_bytes(data)
        os.chmod(path, 0o600)
        if self.owner:
            shutil.chown(path, user=self.owner)

    def stage(self, qid, sender, rcpts, log, content=ORIGINAL, **kw):
        self._put(self.queue / "active" / qid, make_qfile(sender, rcpts, content, **kw))
        if log is not None:
            self._put(self.queue / "bounce" / qid, b"".join(log))

    def stage_defer_log(self, qid, log):
        """defer/ID is hashed like deferred/ (hash_queue_depth 1)."""
        d = self.queue / "defer" / qid[0]
        d.mkdir(exist_ok=True)
        if self.owner:
            shutil.chown(d, user=self.owner)
        self._put(d / qid, b"".join(log))

    def request(self, qid, sender, envid=None, ret=None, service="bounce",
                queue="active", extra=(), request="bounce"):
        """Ask like qmgr does; return the reply as a dict."""
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(30)
        s.connect(str(self.queue / "private" / service))
        f = s.makefile("rb")
        try:
            assert attr_read(f) == {"protocol": "bounce_protocol"}
            pairs = [("request", request), ("queue_name", queue),
                     ("queue_id", qid), ("sender", sender)]
            if envid is not None:
                pairs.append(("envelope_id", envid))
            if ret is not None:
                pairs.append(("ret_flags", ret))
            pairs += [("flags", 0)] + list(extra)
            s.sendall(attr_encode(pairs))
            return attr_read(f)
        finally:
            f.close()
            s.close()


@pytest.fixture
def bench(instance_factory):
    def make(settings=None, cleanup_status=0, master_cf=MASTER_CF):
        all_settings = dict(SETTINGS)
        all_settings.update(settings or {})
        inst = instance_factory(master_cf=master_cf, settings=all_settings, start=False)
        b = Bench(inst)
        b.cleanup = None
        if master_cf == MASTER_CF:
            b.cleanup = FakeCleanup(inst.queue_dir / "public" / "cleanup",
                                    owner=b.owner, status=cleanup_status)
            made.append(b.cleanup)
        inst.start()
        return b

    made = []
    yield make
    for c in made:
        c.close()


def parse(content):
    return email.message_from_bytes(content, policy=email.policy.compat32)


def the_notice(b):
    """The one submission the stand-in cleanup received."""
    assert len(b.cleanup.received) == 1, b.cleanup.received
    sub = b.cleanup.received[0]
    assert "error" not in sub, sub
    return sub


# ------------------------------------------------------------ tests

def test_sender_notice_field_by_field(bench):
    b = bench()
    qid = "3A3D26C44CC"
    b.stage(qid, "alice@example.com",
            [{"address": "bob@example.net", "orcpt": "rfc822;Bob@Example.NET",
              "notify": NOTIFY_FAILURE},
             {"address": "carol@example.org", "orig": "sales@example.org"},
             {"address": "dave@example.org", "notify": NOTIFY_SUCCESS | NOTIFY_DELAY}],
            [log_entry("bob@example.net", "5.1.1",
                       "host mx.example.net[192.0.2.1] said: 550 5.1.1 no such user",
                       orcpt="rfc822;Bob@Example.NET", notify=NOTIFY_FAILURE,
                       relay="mx.example.net[192.0.2.1]:25"),
             log_entry("carol@example.org", "5.2.2", "mailbox full",
                       orig="sales@example.org"),
             log_entry("dave@example.org", "5.1.1", "unknown user",
                       notify=NOTIFY_SUCCESS | NOTIFY_DELAY)],
            envid="ENV-7", arrival=1700000000)
    start = len(b.inst.log())
    reply = b.request(qid, "alice@example.com", envid="ENV-7")
    assert reply == {"status": "0"}
    b.inst.wait_log(f"{qid}: sender non-delivery notification: ABCDEF1", start=start)
    assert not (b.queue / "bounce" / qid).exists()

    sub = the_notice(b)
    env = sub["envelope"]
    assert env["sender"] == ""
    assert int(env["flags"]) & 2                       # CLEANUP_F_BOUNCE
    assert "envelope_id" not in env
    assert env["encoding"] == "8bit"                   # the original is 8-bit
    assert [r["recipient"] for r in sub["recipients"]] == ["alice@example.com"]

    msg = parse(sub["content"])
    assert msg["From"] == f"MAILER-DAEMON@{HOST} (Mail Delivery System)"
    assert msg["To"] == "<alice@example.com>"
    assert msg["Subject"] == "Undelivered Mail Returned to Sender"
    assert email.utils.parsedate_to_datetime(msg["Date"]) is not None
    assert msg["Message-ID"].startswith("<") and msg["Message-ID"].endswith(f"@{HOST}>")
    assert msg["Auto-Submitted"] == "auto-replied"
    assert msg["MIME-Version"] == "1.0"
    assert msg.get_content_type() == "multipart/report"
    assert msg.get_param("report-type") == "delivery-status"
    assert msg.get_boundary().startswith(f"{qid}.")
    assert msg.get_boundary().endswith(f"/{HOST}")
    assert not msg.defects
    parts = msg.get_payload()
    assert [p.get_content_type() for p in parts] == [
        "text/plain", "message/delivery-status", "message/rfc822"]

    human = parts[0].get_payload()
    assert HOST in human
    assert "<bob@example.net>: host mx.example.net[192.0.2.1] said: 550 5.1.1" in human
    assert "<carol@example.org> (expanded from <sales@example.org>): mailbox full" in human
    assert "dave@example.org" not in human             # NOTIFY without FAILURE

    groups = parts[1].get_payload()
    assert len(groups) == 3
    per_msg = groups[0]
    assert per_msg["Reporting-MTA"] == f"dns; {HOST}"
    assert per_msg["X-Postern-Queue-ID"] == qid
    assert per_msg["X-Postern-Sender"] == "rfc822; alice@example.com"
    assert per_msg["Original-Envelope-Id"] == "ENV-7"
    assert email.utils.parsedate_to_datetime(per_msg["Arrival-Date"]).timestamp() == 1700000000
    bob, carol = groups[1], groups[2]
    assert bob["Final-Recipient"] == "rfc822; bob@example.net"
    assert bob["Original-Recipient"] == "rfc822; Bob@Example.NET"
    assert bob["Action"] == "failed"
    assert bob["Status"] == "5.1.1"
    assert bob["Remote-MTA"] == "dns; mx.example.net"
    assert bob["Diagnostic-Code"].startswith("X-Postern; host mx.example.net")
    assert carol["Final-Recipient"] == "rfc822; carol@example.org"
    assert carol["Original-Recipient"] == "rfc822; sales@example.org"
    assert carol["Status"] == "5.2.2"
    assert carol["Remote-MTA"] is None
    assert carol["Diagnostic-Code"] == "X-Postern; mailbox full"

    # The original comes back byte for byte.
    raw = sub["content"]
    assert ORIGINAL in raw
    inner = parts[2].get_payload()[0]
    assert inner["Subject"] == "quarterly report"
    assert inner["Message-ID"] == "<orig-1@example.com>"


@pytest.mark.parametrize("ret,limit,kind", [
    ("HDRS", None, "text/rfc822-headers"),
    ("FULL", None, "message/rfc822"),
    (None, "100", "text/rfc822-headers"),
    (None, str(len(ORIGINAL)), "message/rfc822"),
])
def test_returned_content(bench, ret, limit, kind):
    b = bench(settings={"bounce_size_limit": limit} if limit else None)
    qid = "ABC123"
    b.stage(qid, "alice@example.com", [{"address": "bob@example.org"}],
            [log_entry("bob@example.org")], ret=ret)
    assert b.request(qid, "alice@example.com", ret=ret) == {"status": "0"}
    raw = the_notice(b)["content"]
    parts = parse(raw).get_payload()
    assert parts[2].get_content_type() == kind
    headers = ORIGINAL[:ORIGINAL.index(b"\n\n") + 1]
    assert headers in raw
    if kind == "text/rfc822-headers":
        assert b"the numbers are attached" not in raw
        assert the_notice(b)["envelope"]["encoding"] == "7bit"
    else:
        assert ORIGINAL in raw


def test_notify_never_sends_nothing(bench):
    b = bench()
    qid = "ABC124"
    b.stage(qid, "alice@example.com", [{"address": "bob@example.org", "notify": NOTIFY_NEVER}],
            [log_entry("bob@example.org", notify=NOTIFY_NEVER)])
    start = len(b.inst.log())
    assert b.request(qid, "alice@example.com") == {"status": "0"}
    b.inst.wait_log(f"{qid}: sender non-delivery notification not sent", start=start)
    assert b.cleanup.received == []
    assert not (b.queue / "bounce" / qid).exists()


def test_failed_bounce_goes_to_postmaster_once(bench):
    b = bench(settings={"notify_classes": "resource, software, 2bounce",
                        "2bounce_notice_recipient": "admin"})
    qid = "ABC125"
    b.stage(qid, "", [{"address": "alice@example.com"}],
            [log_entry("alice@example.com", "5.1.1", "unknown user")])
    start = len(b.inst.log())
    assert b.request(qid, "") == {"status": "0"}
    b.inst.wait_log(f"{qid}: postmaster non-delivery notification: ABCDEF1", start=start)
    sub = the_notice(b)
    assert sub["envelope"]["sender"] == ""
    assert sub["envelope"]["envelope_id"] == "postern-postmaster-notice"
    assert [r["recipient"] for r in sub["recipients"]] == ["admin"]
    msg = parse(sub["content"])
    assert msg["To"] == "<admin@example.org>"
    assert msg.get_payload()[2].get_content_type() == "message/rfc822"

    # That notice fails in turn: only a log line, never a third message.
    qid2 = "ABC126"
    b.stage(qid2, "", [{"address": "admin"}], [log_entry("admin")],
            content=sub["content"], envid="postern-postmaster-notice")
    start = len(b.inst.log())
    assert b.request(qid2, "", envid="postern-postmaster-notice") == {"status": "0"}
    b.inst.wait_log(f"{qid2}: undeliverable postmaster notification discarded", start=start)
    assert len(b.cleanup.received) == 1
    assert not (b.queue / "bounce" / qid2).exists()


def test_failed_bounce_goes_to_postmaster_by_default(bench):
    b = bench()                                         # notify_classes not set
    qid = "ABC130"
    b.stage(qid, "", [{"address": "alice@example.com"}], [log_entry("alice@example.com")])
    start = len(b.inst.log())
    assert b.request(qid, "") == {"status": "0"}
    b.inst.wait_log(f"{qid}: postmaster non-delivery notification: ABCDEF1", start=start)
    sub = the_notice(b)
    assert [r["recipient"] for r in sub["recipients"]] == ["postmaster"]
    assert parse(sub["content"])["Subject"] == \
        "Postmaster Notice: Undeliverable Notification"


def test_failed_bounce_without_2bounce_class_is_logged(bench):
    b = bench(settings={"notify_classes": "resource, software"})
    qid = "ABC127"
    b.stage(qid, "", [{"address": "alice@example.com"}], [log_entry("alice@example.com")])
    start = len(b.inst.log())
    assert b.request(qid, "") == {"status": "0"}
    b.inst.wait_log(f"{qid}: undeliverable notification discarded", start=start)
    assert b.cleanup.received == []


def test_double_bounce_sender_is_never_notified(bench):
    b = bench(settings={"notify_classes": "2bounce, bounce"})
    qid = "ABC128"
    b.stage(qid, f"double-bounce@{HOST}", [{"address": "x@example.org"}],
            [log_entry("x@example.org")])
    start = len(b.inst.log())
    assert b.request(qid, f"double-bounce@{HOST}") == {"status": "0"}
    b.inst.wait_log(f"{qid}: undeliverable postmaster notification discarded", start=start)
    assert b.cleanup.received == []


def test_bounce_class_copies_headers_to_postmaster(bench):
    b = bench(settings={"notify_classes": "bounce"})
    qid = "ABC129"
    b.stage(qid, "alice@example.com", [{"address": "bob@example.org"}],
            [log_entry("bob@example.org")])
    assert b.request(qid, "alice@example.com") == {"status": "0"}
    wait = time.monotonic() + 10
    while len(b.cleanup.received) < 2 and time.monotonic() < wait:
        time.sleep(0.05)
    copy, notice = b.cleanup.received
    assert [r["recipient"] for r in copy["recipients"]] == ["postmaster"]
    assert copy["envelope"]["envelope_id"] == "postern-postmaster-notice"
    cmsg = parse(copy["content"])
    assert cmsg["Subject"] == "Postmaster Copy: Undelivered Mail"
    assert cmsg.get_payload()[2].get_content_type() == "text/rfc822-headers"
    assert b"the numbers are attached" not in copy["content"]
    assert [r["recipient"] for r in notice["recipients"]] == ["alice@example.com"]


def test_cleanup_failure_defers_and_keeps_log(bench):
    b = bench(cleanup_status=4)
    qid = "ABC12A"
    b.stage(qid, "alice@example.com", [{"address": "bob@example.org"}],
            [log_entry("bob@example.org")])
    reply = b.request(qid, "alice@example.com")
    assert reply["status"] == "4"
    assert reply["reason"].startswith("4.")
    assert (b.queue / "bounce" / qid).exists()


def test_cleanup_rejection_retries_headers_then_gives_up(bench):
    b = bench(cleanup_status=5)
    b.cleanup.reason = "5.3.4 message size exceeds fixed maximum message size"
    qid = "ABC131"
    b.stage(qid, "alice@example.com", [{"address": "bob@example.org"}],
            [log_entry("bob@example.org")])
    start = len(b.inst.log())
    assert b.request(qid, "alice@example.com") == {"status": "0"}
    b.inst.wait_log(f"{qid}: cleanup rejected the notification: 5.3.4", start=start)
    b.inst.wait_log("notification to <alice@example.com> given up", start=start)
    full, headers = b.cleanup.received
    assert parse(full["content"]).get_payload()[2].get_content_type() == "message/rfc822"
    assert parse(headers["content"]).get_payload()[2].get_content_type() == \
        "text/rfc822-headers"
    assert not (b.queue / "bounce" / qid).exists()


def test_nothing_logged_is_done(bench):
    b = bench()
    qid = "ABC12B"
    b.stage(qid, "alice@example.com", [{"address": "bob@example.org"}], None)
    assert b.request(qid, "alice@example.com") == {"status": "0"}
    assert b.cleanup.received == []


def test_missing_queue_file_defers(bench):
    b = bench()
    qid = "ABC12C"
    (b.queue / "bounce" / qid).write_bytes(log_entry("bob@example.org"))
    if b.owner:
        shutil.chown(b.queue / "bounce" / qid, user=b.owner)
    reply = b.request(qid, "alice@example.com")
    assert reply["status"] == "4"
    assert (b.queue / "bounce" / qid).exists()


def test_defer_service_answers_too(bench):
    b = bench()
    qid = "ABC12D"
    b.stage(qid, "alice@example.com", [{"address": "bob@example.org"}],
            [log_entry("bob@example.org")])
    assert b.request(qid, "alice@example.com", service="defer") == {"status": "0"}
    assert len(b.cleanup.received) == 1


@pytest.mark.parametrize("qid,queue,extra", [
    ("../../etc", "active", ()),
    ("ABC12E", "bounce", ()),
    ("ABC12E", "active", (("bogus", "1"),)),
])
def test_bad_requests_are_refused(bench, qid, queue, extra):
    b = bench()
    reply = b.request(qid, "alice@example.com", queue=queue, extra=extra)
    assert reply["status"] == "4"
    assert b.cleanup.received == []


def test_with_real_cleanup(bench):
    """The notice passes the real cleanup and lands in incoming/."""
    b = bench(master_cf=MASTER_CF_REAL_CLEANUP)
    qid = "ABC12F"
    b.stage(qid, "alice@example.com", [{"address": "bob@example.org"}],
            [log_entry("bob@example.org", "5.1.1", "unknown user")])
    start = len(b.inst.log())
    assert b.request(qid, "alice@example.com") == {"status": "0"}
    line = b.inst.wait_log(f"{qid}: sender non-delivery notification: ", start=start)
    assert line
    log = b.inst.log()[start:]
    new_id = log.split(f"{qid}: sender non-delivery notification: ")[1].split()[0]
    q = parse_qfile(b.queue / "incoming" / new_id)
    assert q.sender == ""
    assert [r["address"] for r in q.rcpts] == ["alice@example.com"]
    msg = parse(q.content)
    assert msg["Subject"] == "Undelivered Mail Returned to Sender"
    assert msg.get_content_type() == "multipart/report"
    assert ORIGINAL in q.content



def test_delay_warning(bench):
    """request=delay: one "delayed" notice to the sender from defer/ID,
    the latest entry per recipient, NOTIFY respected, the log kept."""
    b = bench()
    qid = "4B4D26C44CD"
    b.stage(qid, "alice@example.com",
            [{"address": "bob@example.net", "done": False},
             {"address": "carol@example.org", "notify": NOTIFY_FAILURE, "done": False},
             {"address": "dave@example.org", "notify": NOTIFY_DELAY, "done": False}],
            None, envid="ENV-9", arrival=1700000000)
    b.stage_defer_log(qid, [
        log_entry("bob@example.net", "4.4.1", "connection timed out",
                  action="delayed", relay="none", when=1700000100),
        log_entry("carol@example.org", "4.2.2", "mailbox full", notify=NOTIFY_FAILURE,
                  action="delayed", when=1700000100),
        log_entry("bob@example.net", "4.4.2", "lost connection with mx.example.net",
                  action="delayed", relay="mx.example.net[192.0.2.1]:25",
                  when=1700000200),
        log_entry("dave@example.org", "4.2.0", "greylisted", notify=NOTIFY_DELAY,
                  action="delayed", when=1700000100)])
    start = len(b.inst.log())
    reply = b.request(qid, "alice@example.com", envid="ENV-9", request="delay")
    assert reply == {"status": "0"}
    b.inst.wait_log(f"{qid}: sender delay notification: ABCDEF1", start=start)
    assert (b.queue / "defer" / qid[0] / qid).exists()

    sub = the_notice(b)
    assert sub["envelope"]["sender"] == ""
    assert [r["recipient"] for r in sub["recipients"]] == ["alice@example.com"]
    msg = parse(sub["content"])
    assert msg["Subject"] == "Delayed Mail (still being retried)"
    assert msg.get_content_type() == "multipart/report"
    parts = msg.get_payload()
    text = parts[0].get_payload()
    assert "still trying" in text
    assert "bob@example.net" in text and "dave@example.org" in text
    assert "carol@example.org" not in text
    status = parts[1].as_string()
    assert status.count("Action: delayed") == 2
    assert "Status: 4.4.2" in status and "Status: 4.4.1" not in status
    assert "Status: 4.2.0" in status
    assert "Action: failed" not in status
    assert parts[2].get_content_type() == "text/rfc822-headers"
    assert b"quarterly report" in sub["content"]
    assert b"the numbers are attached" not in sub["content"]


def test_delay_warning_null_sender_and_no_log(bench):
    b = bench()
    qid = "4B4D26C44CE"
    b.stage(qid, "", [{"address": "bob@example.net", "done": False}], None)
    b.stage_defer_log(qid, [log_entry("bob@example.net", "4.4.1", "timeout",
                                      action="delayed")])
    assert b.request(qid, "", request="delay") == {"status": "0"}
    other = "4B4D26C44CF"
    b.stage(other, "alice@example.com", [{"address": "bob@example.net", "done": False}],
            None)
    assert b.request(other, "alice@example.com", request="delay") == {"status": "0"}
    time.sleep(0.3)
    assert b.cleanup.received == []
