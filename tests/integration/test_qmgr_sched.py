"""qmgr's scheduler end to end: a real instance runs qmgr under master;
delivery agents are Python stand-ins (qmgr_lib.StandInAgent) listening on
private/<transport>, each connection in its own thread, so the tests can
watch how many requests qmgr runs at once, how it batches recipients,
where it routes them and how it treats a destination that fails.
Queue files are written by hand into incoming/ (qmgr_lib.write_qfile)."""

import os
import signal
import time

import pytest

from conftest import wait_for
from qfilelib import parse_qfile
from qmgr_lib import FakeBounce, StandInAgent, queue_id, warn_time
from qmgr_lib import mail_owner_ids as owner
from qmgr_lib import qmgr_instance
from qmgr_lib import trigger_qmgr as trigger
from qmgr_lib import write_qfile as _write_qfile

SETTINGS = {
    "myhostname": "mx.example.org",
    "mydomain": "example.org",
    "mydestination": "$myhostname, localhost.$mydomain, localhost",
    "relayhost": "",
    "minimal_backoff_time": "300s",
    "maximal_backoff_time": "4000s",
}

BODY = "Subject: test\n\nhello\n"


@pytest.fixture
def qm(instance_factory):
    with qmgr_instance(instance_factory, SETTINGS, log_tail=6000) as inst:
        yield inst


def put(inst, rcpts, sender="s@example.com", queue="incoming", **kw):
    """Write one queue file into queue/ (hashed for deferred); its ID."""
    qid = queue_id()
    d = inst.queue_dir / queue
    if queue == "deferred":
        d = d / qid[0]
        d.mkdir(exist_ok=True)
        if owner(inst):
            os.chown(d, *owner(inst))
    _write_qfile(d / qid, sender, rcpts, BODY, owner=owner(inst), **kw)
    return qid


def agent(inst, transport="smtp", **kw):
    svc = StandInAgent(inst.queue_dir / "private" / transport, **kw)
    inst.services.append(svc)
    return svc


def queue_files(inst):
    """IDs of the queue files in incoming/, active/ and deferred/."""
    out = []
    for q in ("incoming", "active", "deferred"):
        out += [p.name for p in (inst.queue_dir / q).rglob("*") if p.is_file()]
    return out


def test_concurrency_limit(qm):
    """Never more requests at once to one destination than its limit."""
    qm.postconf("-e", "default_destination_concurrency_limit=3")
    ag = agent(qm)
    ag.gate.clear()
    ids = [put(qm, [f"u{i}@far.example"]) for i in range(10)]
    qm.start()
    trigger(qm)
    assert ag.wait_requests(3)
    time.sleep(1.0)
    assert len(ag.requests) == 3 and ag.peak == 3
    ag.gate.set()
    for qid in ids:
        qm.wait_log(f"{qid}: removed")
    assert ag.peak == 3
    assert sorted(ag.delivered) == sorted(f"u{i}@far.example" for i in range(10))
    assert all(r["attrs"]["nexthop"] == "far.example" for r in ag.requests)


def test_transport_process_limit(qm):
    """A transport never gets more requests at once than its master.cf
    process limit (here default_process_limit, the transport not being
    listed), whatever the destinations allow."""
    qm.postconf("-e", "default_process_limit=2")
    ag = agent(qm)
    ag.gate.clear()
    ids = [put(qm, [f"u@d{i}.example"]) for i in range(6)]
    qm.start()
    trigger(qm)
    assert ag.wait_requests(2)
    time.sleep(1.0)
    assert len(ag.requests) == 2
    ag.gate.set()
    for qid in ids:
        qm.wait_log(f"{qid}: removed")
    assert ag.peak == 2
    assert len({r["attrs"]["nexthop"] for r in ag.requests}) == 6


def test_rate_delay(qm):
    """TRANSPORT_destination_rate_delay: one request at a time, spaced."""
    qm.postconf("-e", "smtp_destination_rate_delay=1s")
    ag = agent(qm)
    ids = [put(qm, [f"u{i}@slowly.example"]) for i in range(3)]
    qm.start()
    trigger(qm)
    for qid in ids:
        qm.wait_log(f"{qid}: removed", timeout=15)
    times = sorted(r["t"] for r in ag.requests)
    assert len(times) == 3 and ag.peak == 1
    assert times[1] - times[0] >= 0.9 and times[2] - times[1] >= 0.9


def test_initial_concurrency_and_growth(qm):
    """Slow start: initial_destination_concurrency at first, then more as
    deliveries succeed; a second destination has its own window."""
    qm.postconf("-e", "initial_destination_concurrency=2",
                "default_destination_concurrency_limit=10")
    ag = agent(qm, policy=lambda a, h: (time.sleep(0.1), (0, "2.0.0", "ok"))[1])
    ag.gate.clear()
    ids = [put(qm, [f"u{i}@grow.example"]) for i in range(40)]
    other = put(qm, ["x@other.example"])
    qm.start()
    trigger(qm)
    assert ag.wait_requests(3)
    time.sleep(1.0)
    grow = [r for r in ag.requests if r["attrs"]["nexthop"] == "grow.example"]
    assert len(grow) == 2, "initial concurrency"
    assert any(r["attrs"]["nexthop"] == "other.example" for r in ag.requests)
    # Release them one at a time: each success widens the window.
    ag.gate.set()
    for qid in ids + [other]:
        qm.wait_log(f"{qid}: removed")
    assert ag.peak > 3, "the window grew past the initial concurrency"
    assert ag.peak <= 11


def test_recipient_batching(qm):
    qm.postconf("-e", "smtp_destination_recipient_limit=2")
    ag = agent(qm)
    qid = put(qm, [f"r{i}@batch.example" for i in range(5)])
    qm.start()
    trigger(qm)
    qm.wait_log(f"{qid}: removed")
    sizes = sorted(len(r["rcpts"]) for r in ag.requests)
    assert sizes == [1, 2, 2]
    assert sorted(ag.delivered) == sorted(f"r{i}@batch.example" for i in range(5))


def test_default_recipient_limit_groups(qm):
    """Recipients of one message to one destination share a request;
    other destinations get their own."""
    ag = agent(qm)
    qid = put(qm, ["a@one.example", "b@one.example", "c@two.example"])
    qm.start()
    trigger(qm)
    qm.wait_log(f"{qid}: removed")
    by_hop = {r["attrs"]["nexthop"]: sorted(x["recipient"] for x in r["rcpts"])
              for r in ag.requests}
    assert by_hop == {"one.example": ["a@one.example", "b@one.example"],
                      "two.example": ["c@two.example"]}


def test_local_one_recipient_per_request(qm):
    loc = agent(qm, "local")
    loc.gate.clear()
    qid = put(qm, ["a@localhost", "b@localhost", "c@localhost", "d@localhost"])
    qm.start()
    trigger(qm)
    assert loc.wait_requests(4)
    loc.gate.set()
    qm.wait_log(f"{qid}: removed")
    assert [len(r["rcpts"]) for r in loc.requests] == [1, 1, 1, 1]
    assert all(r["attrs"]["nexthop"] == "mx.example.org" for r in loc.requests)


def test_dead_destination(qm):
    """A destination whose deliveries fail as a whole is suspended: its
    mail is deferred without further requests until an 'F' trigger."""
    qm.postconf("-e", "initial_destination_concurrency=1")
    state = {"down": True}
    ag = agent(qm, policy=lambda a, h: (4, "4.4.1", "connect to dead.example: "
                                        "Connection refused")
               if state["down"] else (0, "2.0.0", "ok"),
               final=lambda req: "4.4.1 connect to dead.example: Connection refused"
               if state["down"] else None)
    ids = [put(qm, [f"u{i}@dead.example"]) for i in range(5)]
    qm.start()
    trigger(qm)
    for qid in ids:
        wait_for(lambda q=qid: (qm.queue_dir / "deferred" / q[0] / q).exists(),
                 what=f"{qid} deferred")
    assert len(ag.requests) == 1
    log = qm.log()
    assert "smtp:dead.example: destination suspended" in log
    assert "status=deferred (delivery temporarily suspended: connect to " \
        "dead.example: Connection refused)" in log
    assert "dsn=4.4.1, status=deferred (delivery temporarily suspended" in log
    # Still suspended: a scan of all deferred mail sends nothing there.
    trigger(qm, b"A")
    time.sleep(1.0)
    assert len(ag.requests) == 1
    # 'F' forgets the suspension; the next run delivers.
    state["down"] = False
    trigger(qm, b"FIA")
    for qid in ids:
        qm.wait_log(f"{qid}: removed")
    assert len(ag.requests) > 1
    assert sorted(ag.delivered) == sorted(f"u{i}@dead.example" for i in range(5))


def test_routing(qm):
    qm.postconf("-e", "relay_domains=relayed.example",
                "relayhost=[smart.example]",
                "transport_maps=inline:{ special.example=custom:[192.0.2.1]:2525, "
                "hop.example=:[gw.example] }",
                "sender_dependent_relayhost_maps=inline:{ @vip.example=[vip.example] }")
    smtp = agent(qm, "smtp")
    relay = agent(qm, "relay")
    custom = agent(qm, "custom")
    ids = [put(qm, ["a@relayed.example"]),
           put(qm, ["b@far.example"]),
           put(qm, ["c@special.example"]),
           put(qm, ["d@hop.example"]),
           put(qm, ["e@far.example"], sender="boss@vip.example")]
    qm.start()
    trigger(qm)
    for qid in ids:
        qm.wait_log(f"{qid}: removed")

    def hops(ag):
        return {r["rcpts"][0]["recipient"]: r["attrs"]["nexthop"] for r in ag.requests}
    assert hops(relay) == {"a@relayed.example": "[smart.example]"}
    assert hops(custom) == {"c@special.example": "[192.0.2.1]:2525"}
    assert hops(smtp) == {"b@far.example": "[smart.example]",
                          "d@hop.example": "[gw.example]",
                          "e@far.example": "[vip.example]"}


def test_error_and_discard_routes(qm):
    qm.postconf("-e", "transport_maps=inline:{ {err.example=error:5.7.1 go away}, "
                "disc.example=discard: }",
                "virtual_alias_domains=valias.example")
    err = agent(qm, "error", policy=lambda a, h: (5, "5.7.1", h))
    disc = agent(qm, "discard", policy=lambda a, h: (0, "2.0.0", h or "discarded"))
    bo = FakeBounce(qm.queue_dir / "private" / "bounce", qm.queue_dir)
    qm.services.append(bo)
    qid = put(qm, ["a@err.example", "b@disc.example", "c@valias.example"])
    qm.start()
    trigger(qm)
    qm.wait_log(f"{qid}: removed")
    got = {r["rcpts"][0]["recipient"]: r["attrs"]["nexthop"]
           for r in err.requests + disc.requests}
    assert got == {"a@err.example": "5.7.1 go away", "b@disc.example": "",
                   "c@valias.example": "5.1.1 User unknown in virtual alias table"}
    assert len(bo.requests) == 1


def test_resolver_failure_defers(qm):
    qm.postconf("-e", "transport_maps=fail:broken")
    ag = agent(qm)
    qid = put(qm, ["a@far.example"])
    qm.start()
    trigger(qm)
    wait_for(lambda: (qm.queue_dir / "deferred" / qid[0] / qid).exists(),
             what="deferred")
    assert not ag.requests
    assert "dsn=4.3.0, status=deferred (address resolver lookup failed:" in qm.log()


def test_delay_warning_once(qm):
    ag = agent(qm, policy=lambda a, h: (4, "4.2.0", "try again later"))
    bo = FakeBounce(qm.queue_dir / "private" / "bounce", qm.queue_dir)
    qm.services.append(bo)
    past = int(time.time()) - 10
    qid = put(qm, ["a@far.example"], warn=past)
    nowarn = put(qm, ["b@far.example"], warn=int(time.time()) + 3600)
    null = put(qm, ["c@far.example"], sender="", warn=past)
    qm.start()
    trigger(qm)
    dpath = qm.queue_dir / "deferred" / qid[0] / qid
    for q in (qid, nowarn, null):
        wait_for(lambda q=q: (qm.queue_dir / "deferred" / q[0] / q).exists(),
                 what=f"{q} deferred")
    delays = [r for r in bo.requests if r["request"] == "delay"]
    assert [r["queue_id"] for r in delays] == [qid]
    assert delays[0]["sender"] == "s@example.com"
    assert delays[0]["queue_name"] == "active"
    assert warn_time(dpath) == 0
    assert warn_time(qm.queue_dir / "deferred" / nowarn[0] / nowarn) > 0
    # Another attempt: still deferred, but no second warning.
    trigger(qm, b"FIA")
    wait_for(lambda: len(ag.requests) >= 6, what="second attempts")
    time.sleep(0.5)
    wait_for(dpath.exists, what="deferred again")
    assert len([r for r in bo.requests if r["request"] == "delay"]) == 1


def test_forced_expire(qm):
    ag = agent(qm)
    bo = FakeBounce(qm.queue_dir / "private" / "bounce", qm.queue_dir)
    qm.services.append(bo)
    qid = put(qm, ["a@far.example", "b@far.example"], queue="deferred",
              mode=0o710)
    qm.start()
    trigger(qm, b"A")
    qm.wait_log(f"{qid}: removed")
    assert not ag.requests
    assert len(bo.requests) == 1
    log = bo.requests[0]["_log"]
    assert b"dsn_status=5.4.7" in log
    assert b"administratively%20expired" in log
    assert f"{qid}: to=<a@far.example>, relay=none" in qm.log()


def test_fairness_big_mailing_does_not_block(qm):
    """A big mailing stuck at a stalled destination must not hold up a
    message for another destination that arrives after it, not even when
    it holds more recipients than fit in memory."""
    qm.postconf("-e", "qmgr_message_recipient_limit=1000")
    ag = agent(qm)
    ag.stall = {"slow.example"}
    ag.gate.clear()
    big = put(qm, [f"u{i}@slow.example" for i in range(3000)])
    qm.start()
    trigger(qm)
    assert ag.wait_requests(1)
    small = put(qm, ["v@fast.example"])
    trigger(qm)
    qm.wait_log(f"{small}: removed", timeout=15)
    assert all(r["attrs"]["nexthop"] == "slow.example" for r in ag.requests
               if r["rcpts"][0]["recipient"] != "v@fast.example")
    ag.gate.set()
    qm.wait_log(f"{big}: removed", timeout=60)
    assert len(ag.delivered) == 3001
    assert len(set(ag.delivered)) == 3001


def test_recipient_limit_slices(qm):
    """More recipients than qmgr_message_recipient_limit: read in slices,
    each delivered exactly once."""
    qm.postconf("-e", "qmgr_message_recipient_limit=10")
    ag = agent(qm)
    qid = put(qm, [f"r{i}@slice.example" for i in range(35)])
    other = put(qm, [f"o{i}@slice2.example" for i in range(12)])
    qm.start()
    trigger(qm)
    qm.wait_log(f"{qid}: removed", timeout=20)
    qm.wait_log(f"{other}: removed", timeout=20)
    assert sorted(ag.delivered) == sorted([f"r{i}@slice.example" for i in range(35)]
                                          + [f"o{i}@slice2.example" for i in range(12)])
    assert max(len(r["rcpts"]) for r in ag.requests) <= 10


@pytest.mark.parametrize("status", [0, 4, 5])
def test_vanished_file_is_quiet(qm, status):
    """postsuper -d while a message is being delivered: no warnings, no
    deferred file, no orphan bounce/defer logs; the results are dropped."""
    ag = agent(qm, policy=lambda a, h: (status, "%d.0.0" % (status or 2), "r"))
    ag.gate.clear()
    qid = put(qm, ["a@gone.example"])
    qm.start()
    trigger(qm)
    assert ag.wait_requests(1)
    os.unlink(qm.queue_dir / "active" / qid)
    ag.gate.set()
    time.sleep(1.0)
    assert qid not in queue_files(qm)
    assert not list((qm.queue_dir / "defer").rglob(qid))
    assert not list((qm.queue_dir / "bounce").rglob(qid))
    assert "warning" not in "\n".join(l for l in qm.log().splitlines() if qid in l)


def test_kill_qmgr_loses_nothing(qm):
    """kill -9 of qmgr in the middle of a 1000-message run: every
    recipient is delivered at least once and the queue ends up empty."""
    qm.postconf("-e", "default_destination_concurrency_limit=10")
    ag = agent(qm, policy=lambda a, h: (time.sleep(0.002), (0, "2.0.0", "ok"))[1])
    rcpts = [f"u{i}@bulk{i % 7}.example" for i in range(1000)]
    for r in rcpts:
        put(qm, [r])
    qm.start()
    trigger(qm)
    wait_for(lambda: len(ag.delivered) >= 300, timeout=60, what="300 deliveries")
    at_kill = len(ag.delivered)
    print("delivered at kill:", at_kill)
    assert at_kill < 1000, "killed in the middle of the run"
    pids = {int(l.split("postern/qmgr[")[1].split("]")[0])
            for l in qm.log().splitlines() if "postern/qmgr[" in l}
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    def settled():
        try:
            trigger(qm, b"I")
        except OSError:
            pass
        return not queue_files(qm)
    wait_for(settled, timeout=120, interval=1.0, what="an empty queue")
    assert set(ag.delivered) == set(rcpts)
    after = {int(l.split("postern/qmgr[")[1].split("]")[0])
             for l in qm.log().splitlines() if "postern/qmgr[" in l}
    assert after - pids, "a new qmgr finished the run"
    assert len(ag.delivered) < 1300, "duplicates only around the kill"


@pytest.mark.parametrize("delay,expect", [("2h", 7200), ("0h", None)])
def test_cleanup_writes_delay_warning_time(instance_factory, delay, expect):
    """cleanup puts arrival + delay_warning_time in the W record (none
    when delay_warning_time is 0), which qmgr uses for delay warnings."""
    from qfilelib import cleanup_submit
    inst = instance_factory(master_cf="cleanup unix n - n - 0 cleanup\n",
                            settings=dict(SETTINGS, delay_warning_time=delay))
    before = int(time.time())
    reply = cleanup_submit(inst.queue_dir / "public" / "cleanup",
                           [("flags", 0), ("sender", "s@example.com")],
                           ["u@far.example"], "Subject: x\n\nbody\n")
    assert reply.get("status") == "0", inst.log()
    path = inst.queue_dir / "incoming" / reply["queue_id"]
    w = warn_time(path)
    if expect is None:
        assert w is None
    else:
        arrival = parse_qfile(path).time[0]
        assert before <= arrival <= int(time.time())
        assert w == arrival + expect
