"""cleanup end to end: a real instance runs cleanup on public/cleanup; the
tests speak the cleanup protocol and read the queue files it writes in
incoming/ (no qmgr runs, so files stay there)."""

import os
import stat
import time

import pytest

from qfilelib import cleanup_submit, parse_qfile

MASTER_CF = """\
cleanup unix n - n - 0 cleanup
"""

SETTINGS = {
    "myhostname": "mx.example.org",
    "mydomain": "example.org",
    "myorigin": "example.org",
    "mydestination": "$myhostname, localhost",
    "hopcount_limit": "5",
    "message_size_limit": "20000",
    "canonical_maps": "inline:{ old@example.org=new@example.net }",
    "sender_canonical_maps": "inline:{ s1@example.org=s2@example.org }",
    "recipient_canonical_maps": "inline:{ r1@example.org=r2 }",
    "header_size_limit": "200",
    "virtual_alias_expansion_limit": "2",
}


VIRTUAL = """\
list@example.org    a@example.org, b@example.org
a@example.org       a@example.org, c@example.org
loop1@example.org   loop2@example.org
loop2@example.org   loop1@example.org
"""


def start_cleanup(instance_factory, settings, virtual=False):
    """Start an instance running cleanup; virtual: install VIRTUAL as
    virtual_alias_maps (a texthash file in the config directory)."""
    inst = instance_factory(master_cf=MASTER_CF, settings=settings, start=False)
    if virtual:
        path = inst.config_dir / "virtual"
        path.write_text(VIRTUAL)
        os.chmod(path, 0o644)
        inst.postconf("-e", f"virtual_alias_maps=texthash:{path}")
    inst.start()
    sock = inst.queue_dir / "public" / "cleanup"
    deadline = time.monotonic() + 10
    while not sock.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    return inst


@pytest.fixture
def cl(instance_factory):
    inst = start_cleanup(instance_factory, SETTINGS, virtual=True)
    yield inst
    # No cleanup process may have crashed or died on a fatal error.
    inst.stop()
    log = inst.log()
    assert "killed by signal" not in log, log
    assert "exit status" not in log, log
    assert "fatal:" not in log and "panic:" not in log, log


def submit(inst, content, rcpts=("user@example.com",), sender="sender@example.com",
           flags=0, extra=()):
    env = [("flags", flags), ("sender", sender)] + list(extra)
    return cleanup_submit(inst.queue_dir / "public" / "cleanup", env, list(rcpts),
                          content)


def queued(inst, reply):
    if reply.get("status") != "0":
        print(inst.log()[-3000:])
    assert reply.get("status") == "0", reply
    path = inst.queue_dir / "incoming" / reply["queue_id"]
    assert path.exists()
    return path, parse_qfile(path)


def test_basic_local_submission_headers(cl):
    reply = submit(cl, "Subject: hi\n\nbody line\n", rcpts=["root"], sender="joe",
                   flags=4, extra=[("full_name", "Joe Q. User"), ("submit_uid", 1000)])
    path, q = queued(cl, reply)
    mode = stat.S_IMODE(os.stat(path).st_mode)
    assert mode == 0o700
    assert q.sender == "joe@example.org"
    assert [r["address"] for r in q.rcpts] == ["root@example.org"]
    assert q.rcpts[0]["orig"] == "root"
    names = [n for n, _ in q.headers()]
    assert names[0] == "Received"
    assert "from userid 1000" in q.hdr("Received")[0]
    assert "mx.example.org" in q.hdr("Received")[0]
    assert q.hdr("From") == ['"Joe Q. User" <joe@example.org>']
    assert q.hdr("To") == ["undisclosed-recipients:;"]
    assert len(q.hdr("Date")) == 1
    msgid = q.hdr("Message-ID")
    assert len(msgid) == 1 and reply["queue_id"] in msgid[0]
    assert msgid[0].endswith("@mx.example.org>")
    assert q.body() == b"body line\n"
    cl.wait_log(f"{reply['queue_id']}: message-id={msgid[0]}")
    assert q.attrs.get("submit_uid") == "1000"


def test_existing_headers_kept_return_path_removed(cl):
    msg = ("Return-Path: <evil@example.com>\nFrom: Me <me@example.com>\n"
           "Date: Mon, 1 Jan 2024 00:00:00 +0000\nMessage-ID: <abc@x>\n"
           "To: you@example.com\nX-Folded: a\n\tb\n\nbody\n")
    reply = submit(cl, msg)
    _, q = queued(cl, reply)
    assert q.hdr("Return-Path") == []
    assert q.hdr("From") == ["Me <me@example.com>"]
    assert q.hdr("Message-ID") == ["<abc@x>"]
    assert q.hdr("Date") == ["Mon, 1 Jan 2024 00:00:00 +0000"]
    assert q.hdr("To") == ["you@example.com"]
    assert b"X-Folded: a\n\tb\n" in q.content
    # not a local submission: a network-style Received line without uid
    assert "from userid" not in q.hdr("Received")[0]
    cl.wait_log(f"{reply['queue_id']}: message-id=<abc@x>")


def test_extract_recipients_and_remove_bcc(cl):
    msg = ("From: a@example.com\nTo: t1@example.com, Name <t2@example.com>\n"
           "Cc: c1@example.com\nBcc: hidden@example.com\nSubject: x\n\nbody\n")
    reply = submit(cl, msg, rcpts=[], flags=1 | 4)
    _, q = queued(cl, reply)
    assert sorted(r["address"] for r in q.rcpts) == sorted(
        ["t1@example.com", "t2@example.com", "c1@example.com", "hidden@example.com"])
    assert q.hdr("Bcc") == []
    assert b"hidden" not in q.content
    assert q.hdr("Cc") == ["c1@example.com"]


def test_extract_bcc_only_gets_undisclosed_to(cl):
    reply = submit(cl, "Bcc: secret@example.com\nSubject: x\n\nbody\n", rcpts=[], flags=1)
    _, q = queued(cl, reply)
    assert [r["address"] for r in q.rcpts] == ["secret@example.com"]
    assert q.hdr("Bcc") == []
    assert q.hdr("To") == ["undisclosed-recipients:;"]
    assert b"secret" not in q.content


def test_message_drop_headers(cl):
    msg = ("Bcc: b@example.com\nContent-Length: 5\nResent-Bcc: c@example.com\n"
           "Return-Path: <x@y>\nSubject: x\n\nbody\n")
    reply = submit(cl, msg)
    _, q = queued(cl, reply)
    for name in ("Bcc", "Content-Length", "Resent-Bcc", "Return-Path"):
        assert q.hdr(name) == [], name
    assert q.hdr("Subject") == ["x"]
    assert q.hdr("To") == ["undisclosed-recipients:;"]


def test_message_drop_headers_configurable(instance_factory):
    inst = start_cleanup(instance_factory, dict(SETTINGS, message_drop_headers="x-secret"))
    reply = submit(inst, "Bcc: b@example.com\nX-Secret: 1\n\nbody\n")
    _, q = queued(inst, reply)
    assert q.hdr("X-Secret") == []
    assert q.hdr("Bcc") == ["b@example.com"]
    assert q.hdr("To") == []


def test_extract_resent_headers(cl):
    msg = ("From: a@example.com\nTo: orig@example.com\n"
           "Resent-To: r1@example.com\nResent-Bcc: r2@example.com\n\nbody\n")
    reply = submit(cl, msg, rcpts=[], flags=1)
    _, q = queued(cl, reply)
    assert sorted(r["address"] for r in q.rcpts) == ["r1@example.com", "r2@example.com"]
    assert q.hdr("Resent-Bcc") == []


def test_no_recipients_rejected(cl):
    reply = submit(cl, "Subject: x\n\nbody\n", rcpts=[], flags=1)
    assert reply["status"] == "5"
    assert reply["reason"].startswith("5.1.3")
    assert os.listdir(cl.queue_dir / "incoming") == []


def test_size_limit(cl):
    big = "Subject: big\n\n" + ("x" * 99 + "\n") * 300
    reply = submit(cl, big)
    assert reply["status"] == "5"
    assert reply["reason"].startswith("5.3.4")
    assert os.listdir(cl.queue_dir / "incoming") == []
    # the connection stayed in sync: a small message right after works
    queued(cl, submit(cl, "Subject: small\n\nok\n"))


def test_hop_limit(cl):
    hops = "".join(f"Received: from h{i}\n" for i in range(6))
    reply = submit(cl, hops + "Subject: loop\n\nbody\n")
    assert reply["status"] == "5"
    assert reply["reason"].startswith("5.4.6")
    ok = "".join(f"Received: from h{i}\n" for i in range(5))
    queued(cl, submit(cl, ok + "Subject: fine\n\nbody\n"))


def test_virtual_alias_expansion(instance_factory):
    cl = start_cleanup(instance_factory, dict(SETTINGS, virtual_alias_expansion_limit=1000),
                       virtual=True)
    reply = submit(cl, "Subject: x\n\nbody\n",
                   rcpts=["list@example.org", "b@example.org"])
    _, q = queued(cl, reply)
    got = [(r["address"], r["orig"]) for r in q.rcpts]
    # list -> a, b; a -> a (itself), c; the later b is a duplicate
    assert sorted(a for a, _ in got) == ["a@example.org", "b@example.org", "c@example.org"]
    assert dict(got)["a@example.org"] == "list@example.org"
    assert dict(got)["c@example.org"] == "list@example.org"


def test_virtual_alias_loop_terminates(cl):
    reply = submit(cl, "Subject: x\n\nbody\n", rcpts=["loop1@example.org"])
    _, q = queued(cl, reply)
    assert [r["address"] for r in q.rcpts] == ["loop1@example.org"]


def test_canonical_rewrite(cl):
    reply = submit(cl, "Subject: x\n\nbody\n", rcpts=["old@example.org"],
                   sender="old@example.org")
    _, q = queued(cl, reply)
    assert q.sender == "new@example.net"
    assert q.rcpts[0]["address"] == "new@example.net"
    assert q.rcpts[0]["orig"] == "old@example.org"


def test_header_address_qualification(cl):
    msg = "From: joe\nTo: Bob <bob>, carol@example.com\n\nbody\n"
    reply = submit(cl, msg, rcpts=["bob"], sender="joe", flags=4)
    _, q = queued(cl, reply)
    assert q.hdr("From") == ["joe@example.org"]
    assert q.hdr("To") == ["Bob <bob@example.org>, carol@example.com"]


def test_null_sender_from_header(cl):
    reply = submit(cl, "Subject: bounce\n\nbody\n", sender="", flags=2)
    _, q = queued(cl, reply)
    assert q.sender == ""
    assert q.hdr("From") == ["MAILER-DAEMON"]


def test_body_bytes_exact(cl):
    body = b"line \xe9\xe8 8bit\n" + b"L" * 5000 + b"\n.\n..dots\nno newline at end"
    reply = submit(cl, b"Subject: 8bit\n\n" + body, extra=[("encoding", "8bit")])
    _, q = queued(cl, reply)
    assert q.body() == body + b"\n"


def test_protocol_error_leaves_no_file(cl):
    import socket
    from qfilelib import attr_encode, attr_read
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(10)
    s.connect(str(cl.queue_dir / "public" / "cleanup"))
    f = s.makefile("rb")
    attr_read(f)
    s.sendall(attr_encode([("flags", 0), ("sender", "a@b"), ("bogus", "1"),
                           ("recipient_count", 0)]))
    reply = attr_read(f)
    assert reply["status"] == "4"
    s.close()
    assert os.listdir(cl.queue_dir / "incoming") == []
    cl.wait_log("protocol error")


def test_specific_canonical_maps(cl):
    reply = submit(cl, "Subject: x\n\nbody\n", rcpts=["r1@example.org", "s1@example.org"],
                   sender="s1@example.org")
    _, q = queued(cl, reply)
    # sender_canonical_maps applies to the sender only, recipient_canonical
    # to recipients only; an unqualified result gets @$myorigin.
    assert q.sender == "s2@example.org"
    assert [r["address"] for r in q.rcpts] == ["r2@example.org", "s1@example.org"]


def test_overlong_header_ends_header_block(cl):
    msg = "Subject: short\nX-Long: " + "y" * 300 + "\nX-After: z\n\nbody\n"
    reply = submit(cl, msg)
    _, q = queued(cl, reply)
    assert q.hdr("Subject") == ["short"]
    assert q.hdr("X-After") == []
    assert q.body().startswith(b"X-Long: yyy")
    assert b"X-After: z\n\nbody\n" in q.body()


def test_overlong_folded_header_is_cut_at_a_line(cl):
    msg = "Subject: start\n" + " more words here\n" * 20 + "X-After: z\n\nbody\n"
    reply = submit(cl, msg)
    _, q = queued(cl, reply)
    subject = q.hdr("Subject")[0]
    assert subject.startswith("start more words here")
    assert len(subject) < 200
    assert q.hdr("X-After") == []
    assert q.body().startswith(b" more words here\n")
    assert q.body().endswith(b"X-After: z\n\nbody\n")


def test_missing_blank_line_gets_one(cl):
    reply = submit(cl, "Subject: x\nthis is body text\n")
    _, q = queued(cl, reply)
    assert q.hdr("Subject") == ["x"]
    assert q.body() == b"this is body text\n"


def test_bad_notify_combination_is_protocol_error(cl):
    reply = submit(cl, "Subject: x\n\nbody\n",
                   rcpts=[[("recipient", "a@example.com"), ("notify_flags", 9)]])
    assert reply["status"] == "4"
    assert os.listdir(cl.queue_dir / "incoming") == []


def test_dsn_fields_kept(cl):
    reply = submit(cl, "Subject: x\n\nbody\n",
                   rcpts=[[("recipient", "a@example.com"), ("original_recipient", "A@example.com"),
                           ("dsn_orcpt", "rfc822;A@example.com"), ("notify_flags", 3)]],
                   extra=[("envelope_id", "ENV1"), ("ret_flags", "HDRS")])
    _, q = queued(cl, reply)
    assert q.rcpts[0] == dict(q.rcpts[0], address="a@example.com", orig="A@example.com",
                              orcpt="rfc822;A@example.com", notify=3)
    assert q.envid == "ENV1"
    assert q.ret == "HDRS"
    assert q.header["rcpt_count"] == 1
    assert q.header["content_size"] == len(q.content)


def test_append_dot_mydomain(instance_factory):
    inst = start_cleanup(instance_factory, dict(SETTINGS, append_dot_mydomain="yes",
                                                myorigin="host"))
    reply = submit(inst, "From: joe\n\nbody\n", rcpts=["bob", "x@other"], sender="joe",
                   flags=4)
    _, q = queued(inst, reply)
    assert q.sender == "joe@host.example.org"
    assert [r["address"] for r in q.rcpts] == ["bob@host.example.org", "x@other.example.org"]
    assert q.hdr("From") == ["joe@host.example.org"]


def test_table_failure_defers(instance_factory):
    inst = start_cleanup(instance_factory, dict(
        SETTINGS, virtual_alias_maps=f"texthash:/nonexistent-postern-test/virtual"))
    reply = submit(inst, "Subject: x\n\nbody\n")
    assert reply["status"] == "4"
    assert reply["reason"].startswith("4.3.0")
    assert os.listdir(inst.queue_dir / "incoming") == []
    inst.wait_log("reject: 4.3.0 virtual_alias_maps lookup failure")


def test_expansion_limit_is_per_recipient(cl):
    # Three plain recipients with a limit of 2 is fine ...
    reply = submit(cl, "Subject: x\n\nbody\n",
                   rcpts=["p1@example.com", "p2@example.com", "p3@example.com"])
    _, q = queued(cl, reply)
    assert len(q.rcpts) == 3
    # ... but list -> a -> (a, c) plus b makes three from one recipient.
    reply = submit(cl, "Subject: x\n\nbody\n", rcpts=["list@example.org"])
    assert reply["status"] == "4", reply
    assert "expansion limit" in reply["reason"]


def test_hold_flag_writes_into_hold_queue(cl):
    reply = submit(cl, "Subject: x\n\nbody\n", flags=8)   # CLEANUP_F_HOLD
    assert reply.get("status") == "0", (reply, cl.log()[-3000:])
    qid = reply["queue_id"]
    path = cl.queue_dir / "hold" / qid
    assert path.exists(), cl.log()[-3000:]
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o700
    assert parse_qfile(path).sender == "sender@example.com"
    assert not (cl.queue_dir / "incoming" / qid).exists()
    assert os.listdir(cl.queue_dir / "incoming") == []
    cl.wait_log(f"{qid}: held")


def test_unknown_flag_bit_is_refused(cl):
    reply = submit(cl, "Subject: x\n\nbody\n", flags=16)
    assert reply.get("status") == "4", reply
    assert os.listdir(cl.queue_dir / "incoming") == []
    assert os.listdir(cl.queue_dir / "hold") == []
