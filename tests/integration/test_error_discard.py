"""The error, retry and discard delivery agents (error(8), discard(8)).

First driven directly, the way qmgr drives them, through a real instance's
private/error, private/retry and private/discard sockets (deliverlib), then
end to end: mail submitted with sendmail whose remote recipients are routed
to error:, retry: or discard: by the queue manager.
"""

import email
import email.policy
import os
import re
import socket

import pytest

from conftest import wait_for
from deliverlib import deliver, queue_message
from qfilelib import attr_encode, attr_read
from test_local_mail import MAIL_MASTER_CF, mailsys  # noqa: F401 (fixture)

AGENTS_MASTER_CF = """\
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
"""

SENDER = "sender@example.org"


@pytest.fixture
def agents(instance_factory, bin_path):
    bin_path("error")
    bin_path("discard")
    inst = instance_factory(master_cf=AGENTS_MASTER_CF)
    for name in ("error", "retry", "discard"):
        wait_for(lambda: (inst.queue_dir / "private" / name).exists(),
                 what=f"private/{name}")
    return inst


def run_agent(inst, service, nexthop, rcpts):
    qid, info = queue_message(inst.queue_dir, SENDER, rcpts, b"Subject: t\n\nbody\n")
    results, final = deliver(inst.queue_dir / "private" / service, qid, info,
                             SENDER, rcpts, nexthop=nexthop, timeout=30)
    assert final == {"status": "0"}, final
    return qid, results


# service, nexthop, expected status, dsn, reason
CASES = [
    ("error", "5.1.1 gone here", 5, "5.1.1", "gone here"),
    ("error", "no relaying for you", 5, "5.0.0", "no relaying for you"),
    ("error", "", 5, "5.0.0", "delivery is disabled"),
    ("error", "4.7.1 greylisted upstream", 4, "4.7.1", "greylisted upstream"),
    ("error", "5.1.1x not a status", 5, "5.0.0", "5.1.1x not a status"),
    ("retry", "4.3.2 wait a bit", 4, "4.3.2", "wait a bit"),
    ("retry", "5.7.1 made temporary", 4, "4.7.1", "made temporary"),
    ("retry", "later please", 4, "4.0.0", "later please"),
    ("retry", "", 4, "4.0.0", "delivery is temporarily disabled"),
    ("discard", "silently", 0, "2.0.0", "silently"),
    ("discard", "", 0, "2.0.0", "discarded"),
    ("discard", "2.6.0 eaten", 0, "2.6.0", "eaten"),
    ("discard", "5.1.1 no bounce here", 0, "2.0.0", "5.1.1 no bounce here"),
]


@pytest.mark.parametrize("service,nexthop,status,dsn,reason", CASES)
def test_agent_reports_every_recipient(agents, service, nexthop, status, dsn, reason):
    rcpts = ["a@far.example", {"address": "b@far.example", "orig": "alias@far.example"},
             "c@other.example"]
    qid, results = run_agent(agents, service, nexthop, rcpts)
    assert set(results) == {"a@far.example", "b@far.example", "c@other.example"}
    for res in results.values():
        assert (res["status"], res["dsn"], res["reason"], res["relay"]) == \
            (status, dsn, reason, "none")
    word = {0: "sent", 4: "deferred", 5: "bounced"}[status]
    agents.wait_log(f"{qid}: to=<c@other.example>, relay=none")
    log = agents.log()
    for addr, orig in (("a@far.example", ""), ("b@far.example", ", orig_to=<alias@far.example>"),
                       ("c@other.example", "")):
        pattern = (re.escape(f"{qid}: to=<{addr}>{orig}, relay=none, ") + r"delay=[0-9.]+, "
                   r"delays=[0-9.]+/0/0/[0-9.]+, " + re.escape(f"dsn={dsn}, status={word} ({reason})"))
        assert re.search(pattern, log), (pattern, log[-2000:])


def test_control_characters_are_not_logged(agents):
    qid, results = run_agent(agents, "error", "5.1.1 bad\r\nfake: line", ["x@far.example"])
    assert results["x@far.example"]["reason"] == "bad??fake: line"
    agents.wait_log(f"{qid}: to=<x@far.example>")
    assert "status=bounced (bad??fake: line)" in agents.log()


def test_soft_bounce_turns_error_into_deferral(instance_factory, bin_path):
    bin_path("error")
    inst = instance_factory(master_cf=AGENTS_MASTER_CF, settings={"soft_bounce": "yes"})
    wait_for(lambda: (inst.queue_dir / "private" / "error").exists(), what="private/error")
    qid, results = run_agent(inst, "error", "5.1.1 gone", ["x@far.example"])
    assert results["x@far.example"]["status"] == 4
    assert results["x@far.example"]["dsn"] == "4.1.1"
    inst.wait_log(f"{qid}: to=<x@far.example>")
    assert "dsn=4.1.1, status=deferred (gone)" in inst.log()


@pytest.mark.parametrize("service", ["error", "discard"])
def test_bad_request_is_refused_and_agent_keeps_serving(agents, service):
    path = agents.queue_dir / "private" / service
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(30)
    s.connect(str(path))
    f = s.makefile("rb")
    assert attr_read(f) == {"protocol": "delivery_request_protocol"}
    # A queue ID that would escape the spool, and no recipients.
    s.sendall(attr_encode([("queue_name", "active"), ("queue_id", "../../etc"),
                           ("offset", 0), ("size", 0), ("sender", ""),
                           ("recipient_count", 1)]))
    assert f.read() == b""              # the agent hangs up without results
    f.close()
    s.close()
    agents.wait_log("bad delivery request: bad queue ID")
    # The service still answers the next, good request.
    _, results = run_agent(agents, service, "", ["ok@far.example"])
    assert results["ok@far.example"]["relay"] == "none"


# ------------------------------------------------------------ end to end

def mail_with_agents(mailsys, settings):
    ms = mailsys(start=False)
    ms.inst.write_master_cf(MAIL_MASTER_CF + AGENTS_MASTER_CF)
    ms.inst.postconf("-e", *[f"{k}={v}" for k, v in settings.items()])
    ms.inst.start()
    return ms


def dsn_parts(raw):
    report = email.message_from_bytes(raw, policy=email.policy.compat32)
    assert report.get_content_type() == "multipart/report"
    groups = report.get_payload()[1].get_payload()
    return groups[1]


def test_default_transport_error_bounces_to_sender(mailsys, bin_path):
    bin_path("error")
    ms = mail_with_agents(mailsys, {"default_transport": "error:5.7.1 no relaying"})
    user = ms.users[0]
    ms.sendmail(["-i", "-f", f"{user}@mx.test.invalid", "someone@far.example"],
                b"Subject: out\n\nfor far away\n")
    (raw,) = ms.wait_messages(user, 1)
    per_rcpt = dsn_parts(raw)
    assert per_rcpt["Final-Recipient"].strip() == "rfc822; someone@far.example"
    assert per_rcpt["Action"].strip() == "failed"
    assert per_rcpt["Status"].strip() == "5.7.1"
    assert "no relaying" in per_rcpt["Diagnostic-Code"]
    log = ms.inst.log()
    assert re.search(r"to=<someone@far\.example>, relay=none, .*dsn=5\.7\.1, "
                     r"status=bounced \(no relaying\)", log), log[-3000:]
    wait_for(ms.queue_empty, 30, what="the queue to empty")


def test_default_transport_discard_drops_silently(mailsys, bin_path):
    bin_path("discard")
    ms = mail_with_agents(mailsys, {"default_transport": "discard:silently"})
    user = ms.users[0]
    ms.sendmail(["-i", "-f", f"{user}@mx.test.invalid", "a@far.example", "b@far.example"],
                b"Subject: gone\n\ninto the void\n")
    ms.inst.wait_log("to=<b@far.example>, relay=none", timeout=30)
    ms.inst.wait_log("to=<a@far.example>, relay=none", timeout=30)
    wait_for(ms.queue_empty, 30, what="the queue to empty")
    log = ms.inst.log()
    for addr in ("a@far.example", "b@far.example"):
        assert re.search(re.escape(f"to=<{addr}>, relay=none, ") + r".*dsn=2\.0\.0, "
                         r"status=sent \(silently\)", log), log[-3000:]
    assert ms.messages(user) == []      # no bounce, no notice


def test_default_transport_retry_defers(mailsys, bin_path):
    bin_path("error")
    ms = mail_with_agents(mailsys, {"default_transport": "retry:4.3.2 come back later"})
    user = ms.users[0]
    ms.sendmail(["-i", "-f", f"{user}@mx.test.invalid", "later@far.example"],
                b"Subject: wait\n\nnot now\n")
    ms.inst.wait_log("to=<later@far.example>, relay=none", timeout=30)
    assert re.search(r"dsn=4\.3\.2, status=deferred \(come back later\)", ms.inst.log())

    def deferred():
        return [f for _r, _d, files in os.walk(ms.inst.queue_dir / "deferred") for f in files]
    wait_for(deferred, 30, what="the message in deferred/")
    assert ms.messages(user) == []


def test_transport_maps_route_to_error_and_discard(mailsys, bin_path, run):
    """With transport_maps (needs the queue manager that resolves them)."""
    for prog in ("error", "discard"):
        bin_path(prog)
    if run(["postconf", "-d", "transport_maps"]).returncode != 0:
        pytest.skip("transport_maps is not known to this build")
    ms = mail_with_agents(mailsys, {
        "transport_maps": "inline:{{ bad.example = error:5.1.1 gone here }, "
                          "drop.example=discard:silently}",
        "default_transport": "retry:4.4.1 not in this test",
    })
    user = ms.users[0]
    ms.sendmail(["-i", "-f", f"{user}@mx.test.invalid", "x@bad.example", "y@drop.example"],
                b"Subject: routed\n\nrouted by transport_maps\n")
    ms.inst.wait_log("to=<x@bad.example>, relay=none", timeout=60)
    if "status=deferred (not in this test)" in ms.inst.log():
        pytest.skip("this queue manager does not resolve transport_maps yet")
    (raw,) = ms.wait_messages(user, 1, timeout=60)
    per_rcpt = dsn_parts(raw)
    assert per_rcpt["Final-Recipient"].strip() == "rfc822; x@bad.example"
    assert per_rcpt["Status"].strip() == "5.1.1"
    log = ms.inst.log()
    assert re.search(r"to=<x@bad\.example>, relay=none, .*dsn=5\.1\.1, "
                     r"status=bounced \(gone here\)", log), log[-3000:]
    assert re.search(r"to=<y@drop\.example>, relay=none, .*dsn=2\.0\.0, "
                     r"status=sent \(silently\)", log), log[-3000:]
    wait_for(ms.queue_empty, 30, what="the queue to empty")
