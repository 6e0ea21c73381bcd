"""The flush service end to end: postqueue -f/-s/-i, sendmail -q/-qR,
and smtpd's ETRN, on a real instance (master, flush, showq, smtpd). The
queue manager is a Python stand-in listening on public/qmgr that records
the trigger bytes; deferred files are written by hand with retry times
(mtimes) an hour ahead, so a test sees exactly which ones were made due.
"""

import os
import socket
import subprocess
import time

import pytest

from conftest import wait_for
from qadmin_lib import FakeQmgr, QueueWriter

EX_USAGE = 64
EX_UNAVAILABLE = 69

MASTER_CF = """\
127.0.0.1:{port0} inet n - n - 20 smtpd -o smtpd_peername_lookup=no
flush     unix  n       -       n       -       0       flush
anvil     unix  -       -       n       -       1       anvil
"""

SETTINGS = {
    "myhostname": "mx.test.invalid",
    "mydestination": "$myhostname, localhost",
    "relay_domains": "example.com, .sub.example.org, inline:{tab.example.net=yes}",
}

LATER = time.time() + 3600


@pytest.fixture
def fl(instance_factory):
    inst = instance_factory(master_cf=MASTER_CF, settings=SETTINGS, start=False)
    inst.qmgr = FakeQmgr(inst)
    inst.qw = QueueWriter(inst)
    inst.start()
    yield inst
    inst.qmgr.close()
    print(inst.log()[-3000:])


def postqueue(run, inst, *args, expect=None):
    return run(["postqueue", "-c", inst.config_dir, *args], expect=expect)


def due(inst, qid, queue="deferred"):
    """True when the file's retry time (mtime) has passed."""
    return os.stat(inst.qw.path(queue, qid)).st_mtime <= time.time()


def smtp(port, lines):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    f = s.makefile("rb")
    replies = [f.readline().decode().rstrip()]
    for line in lines:
        s.sendall(line.encode() + b"\r\n")
        while True:
            r = f.readline().decode().rstrip()
            if r[3:4] != "-":
                break
        replies.append(r)
    s.close()
    return replies


def test_flush_all_asks_qmgr_for_everything(run, fl):
    postqueue(run, fl, "-f", expect=0)
    fl.qmgr.wait(b"FIA")


def test_site_flush_makes_exactly_that_sites_mail_due(run, fl):
    qw = fl.qw
    ids = {
        "plain": qw.put("deferred", "s@x.org", ["a@example.com"], mtime=LATER),
        "case": qw.put("deferred", "s@x.org", ["b@EXAMPLE.Com", "c@other.net"],
                       mtime=LATER),
        "other": qw.put("deferred", "s@x.org", ["c@other.net"], mtime=LATER),
        "done": qw.put("deferred", "s@x.org", ["d@example.com", "e@other.net"],
                       done=(0,), mtime=LATER),
        "subdomain": qw.put("deferred", "s@x.org", ["f@mail.example.com"], mtime=LATER),
    }
    held = qw.put("hold", "s@x.org", ["g@example.com"], mtime=LATER)
    postqueue(run, fl, "-s", "example.com", expect=0)
    fl.qmgr.wait(b"FD")
    assert due(fl, ids["plain"]) and due(fl, ids["case"])
    for name in ("other", "done", "subdomain"):
        assert not due(fl, ids[name]), name
    assert not due(fl, held, "hold")
    assert "flush example.com: 2 deferred messages made due" in fl.log()


def test_site_eligibility(run, fl):
    qw = fl.qw
    sub = qw.put("deferred", "s@x.org", ["a@a.sub.example.org"], mtime=LATER)
    tab = qw.put("deferred", "s@x.org", ["a@tab.example.net"], mtime=LATER)
    parent = qw.put("deferred", "s@x.org", ["a@sub.example.org"], mtime=LATER)
    postqueue(run, fl, "-s", "a.sub.example.org", expect=0)
    postqueue(run, fl, "-s", "tab.example.net", expect=0)
    assert due(fl, sub) and due(fl, tab)
    # ".sub.example.org" lists subdomains only; other.net is not listed.
    for site in ("sub.example.org", "other.net"):
        r = postqueue(run, fl, "-s", site, expect=EX_UNAVAILABLE)
        assert f"{site}: site is not eligible for flushing (fast_flush_domains)" in r.stderr
    assert not due(fl, parent)
    r = postqueue(run, fl, "-s", "bad site/..", expect=EX_UNAVAILABLE)
    assert "bad site name" in r.stderr


def test_fast_flush_domains_overrides_relay_domains(run, fl):
    fl.postconf("-e", "fast_flush_domains=other.net")
    fl.postern("reload", expect=0)
    qid = fl.qw.put("deferred", "s@x.org", ["a@other.net"], mtime=LATER)
    wait_for(lambda: postqueue(run, fl, "-s", "other.net").returncode == 0, 20,
             what="the reloaded flush service")
    assert due(fl, qid)
    r = postqueue(run, fl, "-s", "example.com", expect=EX_UNAVAILABLE)
    assert "not eligible" in r.stderr


def test_flush_one_message(run, fl):
    qw = fl.qw
    a = qw.put("deferred", "s@x.org", ["a@nowhere.test"], mtime=LATER)
    b = qw.put("deferred", "s@x.org", ["b@nowhere.test"], mtime=LATER)
    held = qw.put("hold", "s@x.org", ["c@nowhere.test"], mtime=LATER)
    busy = qw.put("active", "s@x.org", ["c@nowhere.test"])
    postqueue(run, fl, "-i", a, expect=0)
    fl.qmgr.wait(b"FD")
    assert due(fl, a) and not due(fl, b)
    postqueue(run, fl, "-i", busy, expect=0)      # already being delivered
    r = postqueue(run, fl, "-i", held, expect=EX_UNAVAILABLE)
    assert f"{held}: message is on hold" in r.stderr
    r = postqueue(run, fl, "-i", "ABCDEF123", expect=EX_UNAVAILABLE)
    assert "no such message in the deferred queue" in r.stderr
    r = postqueue(run, fl, "-i", "../etc", expect=EX_USAGE)
    assert "bad queue ID" in r.stderr


def test_sendmail_q_and_qR(run, fl):
    qid = fl.qw.put("deferred", "s@x.org", ["a@example.com"], mtime=LATER)
    other = fl.qw.put("deferred", "s@x.org", ["a@other.net"], mtime=LATER)
    run(["sendmail", "-C", fl.config_dir, "-qRexample.com"], expect=0)
    assert due(fl, qid) and not due(fl, other)
    r = run(["sendmail", "-C", fl.config_dir, "-qR", "other.net"], expect=EX_UNAVAILABLE)
    assert "not eligible" in r.stderr
    run(["sendmail", "-C", fl.config_dir, "-q"], expect=0)
    fl.qmgr.wait(b"FIA")


def test_etrn(fl):
    qid = fl.qw.put("deferred", "s@x.org", ["a@example.com"], mtime=LATER)
    other = fl.qw.put("deferred", "s@x.org", ["a@other.net"], mtime=LATER)
    port = fl.ports[0]
    wait_for(lambda: _connects(port), 10, what="smtpd")
    replies = smtp(port, ["EHLO client.test", "ETRN example.com", "ETRN other.net",
                          "ETRN @a.sub.example.org", "QUIT"])
    assert replies[2] == "250 2.0.0 Queuing started"
    assert replies[3] == "459 4.7.1 <other.net>: service unavailable"
    assert replies[4] == "250 2.0.0 Queuing started"
    assert due(fl, qid) and not due(fl, other)
    fl.qmgr.wait(b"FD")


def test_etrn_when_the_service_fails(fl):
    # A table that always fails: the site's eligibility is unknown, so
    # the request fails temporarily instead of being refused.
    fl.postconf("-e", "fast_flush_domains=example.com, fail:broken")
    fl.postern("reload", expect=0)
    port = fl.ports[0]

    def etrn_fails():
        r = smtp(port, ["EHLO client.test", "ETRN other.net", "QUIT"])
        return r[2] == "458 4.3.0 Unable to queue messages"

    wait_for(etrn_fails, 20, what="458 from the reloaded services")
    r = smtp(port, ["EHLO client.test", "ETRN example.com", "QUIT"])
    assert r[2] == "250 2.0.0 Queuing started"


def test_when_the_mail_system_is_down(run, instance_factory):
    inst = instance_factory(master_cf=MASTER_CF, settings=SETTINGS, start=False)
    for args in (["-f"], ["-s", "example.com"], ["-i", "ABCDEF123"]):
        r = postqueue(run, inst, *args, expect=EX_UNAVAILABLE)
        assert "the mail system is not running" in r.stderr, args
    r = postqueue(run, inst, "-p", expect=EX_UNAVAILABLE)
    assert "postqueue: fatal: queue report unavailable" in r.stderr
    r = run(["postern", "-c", inst.config_dir, "flush"], expect=1)
    assert "not running" in r.stderr


def test_usage(run, fl):
    for args in ([], ["-p", "-f"], ["-x"], ["-p", "extra"]):
        r = postqueue(run, fl, *args, expect=EX_USAGE)
        assert "usage: postqueue" in r.stderr, args


def _connects(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False
