"""postcat: queue files printed in readable form, by queue ID or path,
whole or in parts, with offsets, and damaged files printed up to the
damage with a clear error.

A queue file written by the real cleanup (sendmail -> postdrop -> pickup
-> cleanup; no qmgr, so it stays in incoming/) and hand-made files.
"""

import os
import time

import pytest

from conftest import wait_for
from qadmin_lib import QueueWriter, queue_files
from qfilelib import parse_qfile, read_records
from qmgr_lib import _rec

MASTER_CF = """\
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
"""


@pytest.fixture
def pc(instance_factory):
    inst = instance_factory(master_cf=MASTER_CF, settings={
        "myhostname": "mx.test.invalid", "myorigin": "mx.test.invalid"}, start=False)
    inst.qw = QueueWriter(inst)
    inst.start()
    yield inst
    print(inst.log()[-2000:])


def postcat(run, inst, *args, expect=0):
    return run(["postcat", "-c", inst.config_dir, *args], expect=expect)


def submit(run, inst):
    run(["sendmail", "-C", inst.config_dir, "-i", "-f", "alice@example.org",
         "-F", "Alice", "-N", "success,delay", "-V", "env-1", "bob@example.com"],
        input="Subject: hello\nX-Test: yes\n\nline one\n\nline three\n", expect=0)
    files = wait_for(lambda: queue_files(inst, "incoming"), 20, what="a queued file")
    ((qid, path),) = files.items()
    return qid, path


def test_whole_file_by_queue_id(run, pc):
    qid, path = submit(run, pc)
    q = parse_qfile(path)
    out = postcat(run, pc, "-q", qid).stdout
    lines = out.splitlines()
    assert lines[0] == f"*** ENVELOPE RECORDS incoming/{qid} ***"
    # Postfix's order: size, content offset, recipients, 0, length, flags.
    assert lines[1].split() == ["message_size:", str(q.header["content_size"]),
                                str(q.header["content_offset"]), "1", "0",
                                str(q.header["tail_offset"] - q.header["content_offset"]),
                                str(q.header["flags"])]
    when = time.strftime("%a %b %e %H:%M:%S %Y", time.localtime(q.time[0]))
    assert f"message_arrival_time: {when}" in lines
    assert "sender: alice@example.org" in lines
    assert "named_attribute: full_name=Alice" in lines
    assert "dsn_envelope_id: env-1" in lines
    assert "recipient: bob@example.com" in lines
    i = lines.index(f"*** MESSAGE CONTENTS incoming/{qid} ***")
    end = lines.index(f"*** MESSAGE FILE END incoming/{qid} ***")
    assert end == len(lines) - 1
    # The content between the markers is the queued message, exactly.
    assert "\n".join(lines[i + 1:end]) + "\n" == q.content.decode()
    assert "Subject: hello" in lines[i + 1:end]


def test_parts(run, pc):
    qid, path = submit(run, pc)
    q = parse_qfile(path)
    env = postcat(run, pc, "-q", "-e", qid).stdout
    assert "recipient: bob@example.com" in env
    assert "Subject: hello" not in env and "line one" not in env
    assert env.splitlines()[-1] == f"*** MESSAGE FILE END incoming/{qid} ***"
    head = postcat(run, pc, "-q", "-h", qid).stdout
    assert head == q.content.decode().split("\n\n", 1)[0] + "\n"
    body = postcat(run, pc, "-q", "-b", qid).stdout
    assert body == "line one\n\nline three\n"
    both = postcat(run, pc, "-q", "-hb", qid).stdout
    assert both == q.content.decode()
    # By path, the same.
    assert postcat(run, pc, "-hb", path).stdout == both


def test_offsets(run, pc):
    qid, path = submit(run, pc)
    recs = read_records(path.read_bytes())
    out = postcat(run, pc, "-o", "-e", "-q", qid).stdout
    sender_off = [off for t, _, off in recs if t == "S"][0]
    assert f"{sender_off:9d} sender: alice@example.org" in out.splitlines()
    rcpt_off = [off for t, _, off in recs if t == "R"][0]
    assert f"{rcpt_off:9d} recipient: bob@example.com" in out.splitlines()


def test_done_recipients_and_long_lines(run, pc, tmp_path):
    qid = pc.qw.put("hold", "s@example.org", ["a@example.com", "b@example.com"],
                    done=(0,))
    out = postcat(run, pc, "-e", "-q", qid).stdout
    assert "done_recipient: a@example.com" in out.splitlines()
    assert "recipient: b@example.com" in out.splitlines()
    assert out.startswith(f"*** ENVELOPE RECORDS hold/{qid} ***\n")
    # A line kept as pieces ('L' records) comes out whole.
    f = tmp_path / "pieces"
    f.write_bytes(_rec("C", "0" * 95) + _rec("T", "1700000000 0") + _rec("S", "s@x")
                  + _rec("R", "r@x") + _rec("M") + _rec("L", "Subject: ab")
                  + _rec("N", "cd") + _rec("N") + _rec("L", "x" * 10) + _rec("L", "y")
                  + _rec("N", "z") + _rec("E"))
    assert postcat(run, pc, "-hb", f).stdout == "Subject: abcd\n\nxxxxxxxxxxyz\n"


def test_damaged_file(run, pc, tmp_path):
    qid, path = submit(run, pc)
    data = path.read_bytes()
    cut = data.index(b"line one")
    f = tmp_path / "damaged"
    f.write_bytes(data[:cut + 3])
    r = postcat(run, pc, f, expect=1)
    assert "recipient: bob@example.com" in r.stdout
    assert "Subject: hello" in r.stdout
    assert f"postcat: error: {f}: offset " in r.stderr
    assert "MESSAGE FILE END" not in r.stdout
    # An unknown record type.
    g = tmp_path / "junk"
    g.write_bytes(_rec("C", "0" * 95) + _rec("S", "s@x") + b"\x01\x02zz")
    r = postcat(run, pc, g, expect=1)
    assert "sender: s@x" in r.stdout and "postcat: error:" in r.stderr
    # Ends without the 'E' record.
    h = tmp_path / "short"
    h.write_bytes(_rec("C", "0" * 95) + _rec("S", "s@x"))
    r = postcat(run, pc, h, expect=1)
    assert "file ends without an end record" in r.stderr


def test_bad_queue_ids_and_missing_files(run, pc, tmp_path):
    r = postcat(run, pc, "-q", "ABCDEF123", expect=1)
    assert "no message with queue ID ABCDEF123" in r.stderr
    r = postcat(run, pc, "-q", "../../etc/passwd", expect=1)
    assert "invalid queue ID" in r.stderr
    r = postcat(run, pc, tmp_path / "nothing", expect=1)
    assert "No such file or directory" in r.stderr
    os.symlink("/etc/passwd", tmp_path / "link")
    r = postcat(run, pc, tmp_path / "link", expect=1)
    assert "postcat: error: open" in r.stderr
    r = run(["postcat", "-x"], expect=64)
    assert "usage: postcat" in r.stderr


def test_corrupt_queue_is_searched(run, pc):
    qid = pc.qw.put("hold", "s@example.org", ["a@example.com"])
    os.rename(pc.qw.path("hold", qid), pc.queue_dir / "corrupt" / qid)
    out = postcat(run, pc, "-e", "-q", qid).stdout
    assert out.startswith(f"*** ENVELOPE RECORDS corrupt/{qid} ***\n")
