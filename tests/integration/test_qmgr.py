"""qmgr end to end: a real instance runs qmgr (public/qmgr) under master;
the delivery agent (private/local) and the bounce service (private/bounce)
are Python stand-ins (qmgr_lib), so each test controls every result.
Queue files are written by hand into incoming/ (or active/)."""

import os
import stat
import time

import pytest

from conftest import wait_for
from qfilelib import parse_qfile

from qmgr_lib import FakeAgent, FakeBounce, queue_id
from qmgr_lib import mail_owner_ids as owner
from qmgr_lib import qmgr_instance
from qmgr_lib import trigger_qmgr as trigger
from qmgr_lib import write_qfile as _write_qfile

SETTINGS = {
    "myhostname": "mx.example.org",
    "mydomain": "example.org",
    "mydestination": "$myhostname, localhost.$mydomain, localhost",
    "minimal_backoff_time": "300s",
    "maximal_backoff_time": "4000s",
}

BODY = "Subject: test\n\nhello\n"


@pytest.fixture
def qm(instance_factory):
    with qmgr_instance(instance_factory, SETTINGS, log_tail=4000) as inst:
        yield inst


def write_qfile(inst, path, *args, **kw):
    """qmgr_lib.write_qfile, the file owned by the instance's mail_owner."""
    return _write_qfile(path, *args, owner=owner(inst), **kw)


def agent(inst, policy=lambda a: (0, "2.0.0", "delivered")):
    svc = FakeAgent(inst.queue_dir / "private" / "local", policy)
    inst.services.append(svc)
    return svc


def bounce(inst, status=0):
    svc = FakeBounce(inst.queue_dir / "private" / "bounce", inst.queue_dir, status)
    inst.services.append(svc)
    return svc


def qpath(inst, queue, qid):
    if queue in ("deferred", "defer"):
        return inst.queue_dir / queue / qid[0] / qid
    return inst.queue_dir / queue / qid


def test_deliver_and_remove(qm):
    ag = agent(qm)
    qid = queue_id()
    info = write_qfile(qm, qm.queue_dir / "incoming" / qid, "sender@example.com",
                       ["user@localhost", ("bob", "Bob@example.org"),
                        "root@MX.Example.ORG."], BODY)
    qm.start()
    trigger(qm)
    qm.wait_log(f"{qid}: removed")
    log = qm.log()
    assert (f"{qid}: from=<sender@example.com>, size={info['size']}, nrcpt=3 "
            "(queue active)") in log
    assert log.index("(queue active)") < log.index(f"{qid}: removed")
    # local_destination_recipient_limit = 1: one request per recipient.
    assert len(ag.requests) == 3, ag.errors
    for req in ag.requests:
        assert req["attrs"]["queue_id"] == qid
        assert req["attrs"]["queue_name"] == "active"
        assert req["attrs"]["sender"] == "sender@example.com"
        assert req["attrs"]["nexthop"] == "mx.example.org"
        assert int(req["attrs"]["offset"]) == info["content_offset"]
        assert int(req["attrs"]["size"]) == info["size"]
        assert len(req["rcpts"]) == 1
    got = {r["recipient"]: r for req in ag.requests for r in req["rcpts"]}
    # The resolver drops the trailing dot of a domain.
    assert set(got) == {"user@localhost", "bob", "root@MX.Example.ORG"}
    assert got["bob"]["original_recipient"] == "Bob@example.org"
    assert sorted(int(r["offset"]) for r in got.values()) == info["offsets"]
    for q in ("incoming", "active", "deferred", "corrupt"):
        assert not list((qm.queue_dir / q).rglob(qid)), q


def test_incomplete_file_ignored(qm):
    ag = agent(qm)
    partial, done = queue_id(), queue_id()
    write_qfile(qm, qm.queue_dir / "incoming" / partial, "a@b", ["x@localhost"],
                BODY, mode=0o600)
    write_qfile(qm, qm.queue_dir / "incoming" / done, "a@b", ["y@localhost"], BODY)
    qm.start()
    trigger(qm)
    qm.wait_log(f"{done}: removed")
    trigger(qm, b"W")
    time.sleep(0.5)
    assert (qm.queue_dir / "incoming" / partial).exists()
    assert partial not in qm.log()
    assert all(r["attrs"]["queue_id"] != partial for r in ag.requests)
    # Completing it (the x bit) makes it eligible.
    os.chmod(qm.queue_dir / "incoming" / partial, 0o700)
    trigger(qm)
    qm.wait_log(f"{partial}: removed")


def test_defer_then_flush(qm):
    state = {"ok": False}

    def policy(addr):
        if addr == "slow@localhost" and not state["ok"]:
            return (4, "4.2.2", "mailbox full")
        return (0, "2.0.0", "delivered")

    ag = agent(qm, policy)
    qid = queue_id()
    info = write_qfile(qm, qm.queue_dir / "incoming" / qid, "s@example.com",
                       ["fast@localhost", "slow@localhost"], BODY)
    qm.start()
    before = time.time()
    trigger(qm)
    dpath = qpath(qm, "deferred", qid)
    wait_for(dpath.exists, what="deferred file")
    assert not (qm.queue_dir / "active" / qid).exists()
    # mtime = next retry: now + clamp(age, 300, 4000) = now + 300.
    mtime = dpath.stat().st_mtime
    assert before + 290 <= mtime <= time.time() + 310
    q = parse_qfile(dpath)
    done = {r["address"]: r["done"] for r in q.rcpts}
    assert done == {"fast@localhost": True, "slow@localhost": False}
    dlog = qpath(qm, "defer", qid).read_bytes()
    assert b"recipient=slow@localhost\n" in dlog
    assert b"dsn_status=4.2.2\n" in dlog
    assert b"dsn_action=delayed\n" in dlog
    assert b"fast@localhost" not in dlog
    # A deferred scan does not touch it before its time ...
    n = len(ag.requests)
    trigger(qm, b"D")
    time.sleep(0.7)
    assert len(ag.requests) == n and dpath.exists()
    # ... a flush ("FIA") does; only the pending recipient is sent again.
    state["ok"] = True
    trigger(qm, b"FIA")           # what postqueue -f sends (C5)
    qm.wait_log(f"{qid}: removed")
    last = ag.requests[-1]
    assert [r["recipient"] for r in last["rcpts"]] == ["slow@localhost"]
    assert int(last["rcpts"][0]["offset"]) == info["offsets"][1]
    assert not dpath.exists()
    assert not qpath(qm, "defer", qid).exists()
    assert qm.log().count(f"{qid}: from=<") == 1


def test_bounce_requested(qm):
    agent(qm, lambda a: (5, "5.1.1", "unknown user: \"nobody\"")
          if a.startswith("nobody") else (0, "2.0.0", "ok"))
    bo = bounce(qm)
    qid = queue_id()
    write_qfile(qm, qm.queue_dir / "incoming" / qid, "s@example.com",
                ["nobody@localhost", "ok@localhost"], BODY)
    qm.start()
    trigger(qm)
    qm.wait_log(f"{qid}: removed")
    assert len(bo.requests) == 1, bo.errors
    req = bo.requests[0]
    assert req["request"] == "bounce"
    assert req["queue_id"] == qid
    assert req["queue_name"] == "active"
    assert req["sender"] == "s@example.com"
    assert req["_active"], "message must still be in active/ during the request"
    log = req["_log"]
    assert log is not None
    assert b"recipient=nobody@localhost\n" in log
    assert b"dsn_status=5.1.1\n" in log
    assert b"dsn_action=failed\n" in log
    assert b"ok@localhost" not in log
    assert not (qm.queue_dir / "bounce" / qid).exists()


def test_bounce_service_down_keeps_message(qm):
    agent(qm, lambda a: (5, "5.1.1", "unknown user"))
    qid = queue_id()
    write_qfile(qm, qm.queue_dir / "incoming" / qid, "s@example.com",
                ["nobody@localhost"], BODY)
    qm.start()
    trigger(qm)
    dpath = qpath(qm, "deferred", qid)
    wait_for(dpath.exists, what="deferred file")
    assert all(r["done"] for r in parse_qfile(dpath).rcpts)
    assert (qm.queue_dir / "bounce" / qid).exists()
    qm.wait_log(f"{qid}: cannot request a non-delivery notice")
    # The bounce service comes back: a flush sends the notice, then removes.
    bo = bounce(qm)
    trigger(qm, b"FIA")           # what postqueue -f sends (C5)
    qm.wait_log(f"{qid}: removed")
    assert len(bo.requests) == 1
    assert not (qm.queue_dir / "bounce" / qid).exists()


def test_soft_bounce(qm):
    qm.postconf("-e", "soft_bounce=yes")
    agent(qm, lambda a: (5, "5.1.1", "unknown user"))
    bo = bounce(qm)
    qid = queue_id()
    write_qfile(qm, qm.queue_dir / "incoming" / qid, "s@example.com",
                ["nobody@localhost"], BODY)
    qm.start()
    trigger(qm)
    dpath = qpath(qm, "deferred", qid)
    wait_for(dpath.exists, what="deferred file")
    assert not any(r["done"] for r in parse_qfile(dpath).rcpts)
    assert b"dsn_status=4.1.1" in qpath(qm, "defer", qid).read_bytes()
    assert not bo.requests


def test_expired_message_bounces(qm):
    qm.postconf("-e", "maximal_queue_lifetime=1d")
    agent(qm, lambda a: (4, "4.2.2", "mailbox full"))
    bo = bounce(qm)
    qid = queue_id()
    write_qfile(qm, qm.queue_dir / "incoming" / qid, "s@example.com",
                ["full@localhost"], BODY, arrival=time.time() - 2 * 86400)
    qm.start()
    trigger(qm)
    qm.wait_log(f"{qid}: removed")
    assert f"{qid}: from=<s@example.com>, status=expired, returned to sender" in qm.log()
    assert len(bo.requests) == 1
    assert b"dsn_status=5.4.7" in bo.requests[0]["_log"]
    assert b"delivery%20time%20expired" in bo.requests[0]["_log"]


def test_crash_recovery_active(qm):
    ag = agent(qm)
    qid = queue_id()
    write_qfile(qm, qm.queue_dir / "active" / qid, "s@example.com",
                ["a@localhost", "b@localhost"], BODY, done=(0,))
    qm.start()
    trigger(qm, b"W")
    qm.wait_log(f"{qid}: removed")
    assert [r["recipient"] for r in ag.requests[0]["rcpts"]] == ["b@localhost"]
    assert f"{qid}: from=<" not in qm.log()


def test_corrupt_file(qm):
    agent(qm)
    qid = queue_id()
    path = qm.queue_dir / "incoming" / qid
    path.write_bytes(b"this is not a queue file\n")
    os.chmod(path, 0o700)
    if owner(qm):
        os.chown(path, *owner(qm))
    qm.start()
    trigger(qm)
    qm.wait_log(f"{qid}: corrupt queue file")
    assert (qm.queue_dir / "corrupt" / qid).exists()
    assert not path.exists()
    assert not (qm.queue_dir / "active" / qid).exists()


def test_no_agent_defers(qm):
    qid = queue_id()
    write_qfile(qm, qm.queue_dir / "incoming" / qid, "s@example.com",
                ["user@localhost", "remote@example.net"], BODY)
    qm.start()
    trigger(qm)
    dpath = qpath(qm, "deferred", qid)
    wait_for(dpath.exists, what="deferred file")
    qm.wait_log(f"{qid}: to=<remote@example.net>, relay=none")
    log = qm.log()
    assert f"{qid}: to=<user@localhost>, relay=none, delay=" in log
    assert "dsn=4.3.0, status=deferred (mail transport unavailable)" in log
    dlog = qpath(qm, "defer", qid).read_bytes()
    assert b"recipient=user@localhost" in dlog
    assert b"recipient=remote@example.net" in dlog


def test_periodic_retry_and_stale_warning(qm):
    """queue_run_delay drives retries of due deferred mail by itself, and
    the periodic incoming scan reports old incomplete files."""
    qm.postconf("-e", "queue_run_delay=1s", "minimal_backoff_time=1s",
                "maximal_backoff_time=1s")
    attempts = []

    def policy(addr):
        attempts.append(time.time())
        return (4, "4.2.2", "try later") if len(attempts) == 1 else (0, "2.0.0", "ok")

    agent(qm, policy)
    qid, stale = queue_id(), queue_id()
    write_qfile(qm, qm.queue_dir / "incoming" / qid, "s@example.com",
                ["u@localhost"], BODY)
    write_qfile(qm, qm.queue_dir / "incoming" / stale, "s@example.com",
                ["v@localhost"], BODY, mode=0o600)
    old = time.time() - 5 * 3600
    os.utime(qm.queue_dir / "incoming" / stale, (old, old))
    qm.start()
    trigger(qm)
    qm.wait_log(f"{qid}: removed", timeout=15)
    assert len(attempts) == 2
    assert attempts[1] - attempts[0] >= 0.9
    qm.wait_log(f"{stale}: incomplete queue file in incoming/ for 5 hours",
                timeout=15)
    assert (qm.queue_dir / "incoming" / stale).exists()
