"""postqueue -p/-j, mailq and sendmail -bp against a real showq service.

The instance runs master, showq and flush only (no qmgr, no pickup), and
the test writes queue files by hand into every queue (maildrop through
sendmail/postdrop), so the listing is known exactly: incoming (complete,
and one still being written that must not show), active, deferred with
its defer/ log (reasons), hold, a corrupt file, a forced-expire mark.
"""

import json
import os
import time

import pytest

from conftest import wait_for
from qadmin_lib import FakeQmgr, QueueWriter, run_as
from test_local_mail import IS_ROOT, make_user, remove_user

EX_UNAVAILABLE = 69
EX_NOPERM = 77

MASTER_CF = """\
showq     unix  n       -       n       -       -       showq
flush     unix  n       -       n       -       0       flush
"""

T0 = 1700000000            # Tue Nov 14 22:13:20 2023 UTC


def when(t):
    return time.strftime("%a %b %e %H:%M:%S", time.localtime(t))


@pytest.fixture
def pq(instance_factory):
    inst = instance_factory(master_cf=MASTER_CF, settings={
        "myhostname": "mx.test.invalid", "relay_domains": "example.com"}, start=False)
    inst.qw = QueueWriter(inst)
    inst.start()
    yield inst
    print(inst.log()[-3000:])


def postqueue(run, inst, *args, expect=0):
    return run(["postqueue", "-c", inst.config_dir, *args], expect=expect)


def fill(inst):
    """One message per queue; returns {name: queue ID}."""
    qw = inst.qw
    ids = {}
    ids["incoming"] = qw.put("incoming", "in@example.org", ["r1@example.com"],
                             body="Subject: a\n\n" + "x" * 999 + "\n", arrival=T0)
    # Being written (no owner-execute bit): never listed.
    qw.put("incoming", "half@example.org", ["r@example.com"], mode=0o600, arrival=T0)
    ids["active"] = qw.put("active", "act@example.org", ["r2@example.com"],
                           arrival=T0 + 60)
    ids["deferred"] = qw.put("deferred", "", [
        "done@example.com", "slow1@example.com", ("slow2@example.com", "orig@example.com"),
        "other@example.net"], done=(0,), arrival=T0 + 120)
    qw.defer_log(ids["deferred"], [
        ("slow1@example.com", "connect to mx.example.com[192.0.2.1]:25: Connection refused"),
        ("slow2@example.com", "connect to mx.example.com[192.0.2.1]:25: Connection refused"),
        ("other@example.net", "old reason"),
        ("other@example.net", "Host or domain name not found"),
    ])
    ids["hold"] = qw.put("hold", "held@example.org", ["r3@example.com"], arrival=T0 + 180,
                         mode=0o710)
    # A damaged file is left out (with a warning), not fatal to the list.
    bad = inst.qw.path("deferred", "BADBAD1")
    bad.parent.mkdir(exist_ok=True)
    bad.write_bytes(b"C\x05junk!")
    return ids


def size_of(inst, queue, qid):
    from qfilelib import parse_qfile
    return parse_qfile(inst.qw.path(queue, qid)).header["content_size"]


def test_empty_queue(run, pq):
    assert postqueue(run, pq, "-p").stdout == "Mail queue is empty\n"
    assert postqueue(run, pq, "-j").stdout == ""


def test_classic_listing(run, pq):
    ids = fill(pq)
    out = postqueue(run, pq, "-p").stdout
    sz = {q: size_of(pq, q, ids[q]) for q in ("incoming", "active", "deferred", "hold")}
    blocks = {
        "incoming": f"{ids['incoming']:<10} {sz['incoming']:>8} {when(T0)}  in@example.org\n"
                    + " " * 41 + "r1@example.com\n",
        "active": f"{ids['active']:<10}*{sz['active']:>8} {when(T0 + 60)}  act@example.org\n"
                  + " " * 41 + "r2@example.com\n",
        "deferred": f"{ids['deferred']:<10} {sz['deferred']:>8} {when(T0 + 120)}  MAILER-DAEMON\n"
                    "(connect to mx.example.com[192.0.2.1]:25: Connection refused)\n"
                    + " " * 41 + "slow1@example.com\n"
                    + " " * 41 + "slow2@example.com\n"
                    "(Host or domain name not found)\n"
                    + " " * 41 + "other@example.net\n",
        "hold": f"{ids['hold']:<10}!{sz['hold']:>8} {when(T0 + 180)}  held@example.org\n"
                + " " * 41 + "r3@example.com\n",
    }
    head = "-Queue ID-  --Size-- ----Arrival Time---- -Sender/Recipient-------\n"
    assert out.startswith(head)
    # Queues in order incoming, active, deferred, hold; blank line after each.
    expected = head + "\n".join(blocks[q] for q in ("incoming", "active", "deferred", "hold"))
    total = sum(sz.values())
    expected += f"\n-- {(total + 1023) // 1024} Kbytes in 4 Requests.\n"
    assert out == expected
    assert "half@example.org" not in out
    assert "BADBAD1" in pq.log() and "skipped in the listing" in pq.log()
    # mailq and sendmail -bp print the very same.
    assert run(["sendmail", "-C", pq.config_dir, "-bp"], expect=0).stdout == out
    mailq = pq.base / "mailq"
    os.symlink(pq.build / "bin" / "sendmail", mailq)
    assert run([mailq, "-C", pq.config_dir], expect=0).stdout == out


def test_json_listing(run, pq):
    ids = fill(pq)
    lines = postqueue(run, pq, "-j").stdout.splitlines()
    objs = {o["queue_id"]: o for o in map(json.loads, lines)}
    assert set(objs) == set(ids.values())
    d = objs[ids["deferred"]]
    assert list(d) == ["queue_name", "queue_id", "arrival_time", "message_size",
                       "forced_expire", "sender", "recipients"]
    assert d["queue_name"] == "deferred"
    assert d["arrival_time"] == T0 + 120
    assert d["message_size"] == size_of(pq, "deferred", ids["deferred"])
    assert d["forced_expire"] is False
    assert d["sender"] == ""
    assert d["recipients"] == [
        {"address": "slow1@example.com",
         "delay_reason": "connect to mx.example.com[192.0.2.1]:25: Connection refused"},
        {"address": "slow2@example.com", "orig_address": "orig@example.com",
         "delay_reason": "connect to mx.example.com[192.0.2.1]:25: Connection refused"},
        {"address": "other@example.net", "delay_reason": "Host or domain name not found"},
    ]
    h = objs[ids["hold"]]
    assert h["queue_name"] == "hold" and h["forced_expire"] is True
    assert h["recipients"] == [{"address": "r3@example.com"}]
    assert objs[ids["active"]]["queue_name"] == "active"
    assert objs[ids["incoming"]]["sender"] == "in@example.org"


def test_json_escaping(run, pq):
    qid = pq.qw.put("hold", 'we"ird\\x@example.org', ["r@example.com"])
    pq.qw.defer_log(qid, [("r@example.com", "tab\there \"quoted\" \u00e9")])
    (line,) = postqueue(run, pq, "-j").stdout.splitlines()
    o = json.loads(line)
    assert o["sender"] == 'we"ird\\x@example.org'
    assert o["recipients"][0]["delay_reason"] == "tab\there \"quoted\" \u00e9"
    # The text listing shows control characters as '?'.
    assert "(tab?here \"quoted\" \u00e9)" in postqueue(run, pq, "-p").stdout


def test_maildrop_is_listed(run, pq):
    run(["sendmail", "-C", pq.config_dir, "-f", "local@example.org", "r@example.com"],
        input="Subject: x\n\nhi\n", expect=0)
    (o,) = map(json.loads, postqueue(run, pq, "-j").stdout.splitlines())
    assert o["queue_name"] == "maildrop"
    assert o["sender"] == "local@example.org"
    assert o["recipients"] == [{"address": "r@example.com"}]
    assert o["message_size"] > 0


def test_many_messages(run, pq):
    ids = {pq.qw.put("deferred", f"s{i}@example.org", [f"r{i}@example.com"])
           for i in range(300)}
    objs = [json.loads(l) for l in postqueue(run, pq, "-j").stdout.splitlines()]
    assert {o["queue_id"] for o in objs} == ids
    assert postqueue(run, pq, "-p").stdout.endswith(" in 300 Requests.\n")


@pytest.mark.skipif(not IS_ROOT, reason="needs another user (run as root)")
def test_ordinary_user_lists_and_flushes_but_cannot_delete(run, pq, bin_path):
    user = make_user(pq.base)
    qmgr = FakeQmgr(pq)
    try:
        ids = fill(pq)
        cfg = ["-c", pq.config_dir]
        # As a set-gid postqueue would run: with the setgid_group.
        r = run_as(user, [pq.setgid_group], [bin_path("postqueue"), *cfg, "-p"])
        assert r.returncode == 0, r.stderr
        assert r.stdout == postqueue(run, pq, "-p").stdout
        r = run_as(user, [pq.setgid_group], [bin_path("postqueue"), *cfg, "-j"])
        assert len(r.stdout.splitlines()) == 4
        r = run_as(user, [pq.setgid_group], [bin_path("postqueue"), *cfg, "-f"])
        assert r.returncode == 0, r.stderr
        qmgr.wait(b"FIA")
        # The user cannot read the spool itself...
        r = run_as(user, [pq.setgid_group], [bin_path("postcat"), *cfg, "-q", ids["hold"]])
        assert r.returncode == 1 and "Permission denied" in r.stderr
        # ... nor change it.
        for opt in ("-d", "-h", "-H", "-r", "-e"):
            r = run_as(user, [pq.setgid_group],
                       [bin_path("postsuper"), *cfg, opt, "ALL"])
            assert r.returncode == EX_NOPERM, (opt, r.stderr)
            assert "only the superuser may run postsuper" in r.stderr
        assert set(ids.values()) <= {
            o["queue_id"] for o in map(json.loads, postqueue(run, pq, "-j").stdout.splitlines())}
        # Without the group, the public sockets are out of reach.
        r = run_as(user, [], [bin_path("postqueue"), *cfg, "-p"])
        assert r.returncode == EX_UNAVAILABLE
        assert "cannot reach the showq service" in r.stderr
    finally:
        qmgr.close()
        remove_user(user)


def test_reason_from_a_real_deferral(run, instance_factory):
    """qmgr hands the message to a delivery agent (a Python stand-in) that
    answers 4xx; the defer log the bounce service keeps gives the reason
    in the listing."""
    from qmgr_lib import FakeAgent
    inst = instance_factory(master_cf=MASTER_CF + """\
qmgr      unix  n       -       n       300     1       qmgr
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
""", settings={"myhostname": "mx.test.invalid",
               "mydestination": "$myhostname, localhost"}, start=False)
    qw = QueueWriter(inst)
    agent = FakeAgent(inst.queue_dir / "private" / "local",
                      lambda a: (4, "4.2.1", "mailbox busy, try later"))
    try:
        qid = qw.put("incoming", "s@example.org", ["u@mx.test.invalid"])
        inst.start()
        wait_for(lambda: qid in {p.name for p in (inst.queue_dir / "deferred").rglob("*")},
                 30, what="the message in deferred/")
        out = postqueue(run, inst, "-p").stdout
        assert out.splitlines()[1].startswith(f"{qid:<10} ")
        assert "(mailbox busy, try later)\n" + " " * 41 + "u@mx.test.invalid\n" in out
        (o,) = map(json.loads, postqueue(run, inst, "-j").stdout.splitlines())
        assert o["queue_name"] == "deferred"
        assert o["recipients"] == [{"address": "u@mx.test.invalid",
                                    "delay_reason": "mailbox busy, try later"}]
    finally:
        agent.close()
        print(inst.log()[-3000:])
