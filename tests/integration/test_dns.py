"""DNS lookups through lib/net/dns and lib/mail/dnsbl (driven by dnsq).

Every lookup goes to a dnsmasq started by the test (dnsd.py) or to a fake
UDP server; the host's resolver is never used: every dnsq run gets -s.
"""

import time

import pytest

from dnsd import FakeDnsServer, dnsd  # noqa: F401  (dnsd is a fixture)

STATUS = {"ok": 0, "notfound": 1, "retry": 2, "invalid": 3}


@pytest.fixture
def zone(dnsd):  # noqa: F811
    """A running dnsmasq with the records every test here uses."""
    dns = dnsd()
    dns.host("good.test", "127.0.0.10")
    dns.host("v6.test", "2001:db8::10")
    dns.address("multi.test", "127.0.0.20")
    dns.address("multi.test", "127.0.0.21")
    dns.ptr("127.0.0.11", "liar.test")          # PTR without forward match
    dns.address("liar.test", "127.0.0.99")
    dns.ptr("127.0.0.12", "127.0.0.12")         # a PTR name that is an address
    dns.ptr("127.0.0.13", "nowhere.test")       # PTR to a name with no A
    dns.mx("mail.test", "mx1.mail.test", 10)
    dns.mx("mail.test", "mx2.mail.test", 20)
    dns.host("mx1.mail.test", "127.0.0.30")
    dns.mx("mxonly.test", "mx.elsewhere.test", 5)
    dns.txt("txt.test", "v=spf1 ", "-all")
    dns.txt("long.test", "x" * 250, "y" * 250, "z" * 250)
    dns.address("v6only.test", "2001:db8::77")
    dns.dnsbl("zen.test", "127.0.0.2", reply="127.0.0.2",
              text="Listed; see http://zen.test/query/127.0.0.2")
    dns.dnsbl("zen.test", "127.0.0.3", reply="127.0.0.20")
    dns.dnsbl("zen.test", "2001:db8::5", reply="127.0.0.4")
    dns.rhsbl("dbl.test", "spammer.test", reply="127.0.1.2", text="bad domain")
    for i in range(40):
        dns.host("many.test", "10.0.0.%d" % (i + 1))
    return dns.start()


def dnsq(run, servers, *args, timeout_ms=3000, timeout=30):
    """Run dnsq; returns (exit status, output lines)."""
    r = run(["dnsq", "-s", servers, "-t", str(timeout_ms)] + [str(a) for a in args],
            timeout=timeout)
    assert r.returncode in (0, 1, 2, 3), r.stderr
    return r.returncode, r.stdout.splitlines()


def records(lines, rtype):
    return sorted(l.split(" ", 1)[1] for l in lines if l.startswith(rtype + " "))


# ------------------------------------------------------------ plain lookups

@pytest.mark.parametrize("rtype,name,expect", [
    ("A", "good.test", ["127.0.0.10"]),
    ("A", "good.test.", ["127.0.0.10"]),
    ("A", "multi.test", ["127.0.0.20", "127.0.0.21"]),
    ("AAAA", "v6.test", ["2001:db8::10"]),
    ("MX", "mail.test", ["10 mx1.mail.test", "20 mx2.mail.test"]),
    ("TXT", "txt.test", ["v=spf1 -all"]),
    ("PTR", "10.0.0.127.in-addr.arpa", ["good.test"]),
])
def test_lookup_ok(run, zone, rtype, name, expect):
    status, lines = dnsq(run, zone.servers, "lookup", rtype, name)
    assert status == 0 and lines[0] == "ok", lines
    assert records(lines, rtype) == expect


@pytest.mark.parametrize("rtype,name,why", [
    ("A", "nonexistent.test", "NXDOMAIN"),
    ("AAAA", "good.test", "no records"),       # the name exists, no AAAA
    ("MX", "good.test", "no records"),
    ("PTR", "99.0.0.127.in-addr.arpa", "NXDOMAIN"),
])
def test_lookup_notfound(run, zone, rtype, name, why):
    status, lines = dnsq(run, zone.servers, "lookup", rtype, name)
    assert status == STATUS["notfound"], lines
    assert lines[0].startswith("notfound") and why in lines[0]
    assert len(lines) == 1


@pytest.mark.parametrize("name", [
    "bad..name.test", ".test", "x" * 64 + ".test", ("a" * 60 + ".") * 5 + "test",
    "sp ace.test", "new\nline.test", "b\u00e4d.test", "back\\slash.test",
])
def test_lookup_invalid_names_never_sent(run, zone, name):
    status, lines = dnsq(run, zone.servers, "lookup", "A", name)
    assert status == STATUS["invalid"], lines
    assert lines[0].startswith("invalid")


def test_record_count_is_bounded(run, zone):
    status, lines = dnsq(run, zone.servers, "lookup", "A", "many.test")
    assert status == 0
    assert len(records(lines, "A")) == 32          # DNS_REPLY_MAX
    assert "truncated" in lines


def test_txt_text_is_bounded(run, zone):
    status, lines = dnsq(run, zone.servers, "lookup", "TXT", "long.test")
    assert status == 0
    text = records(lines, "TXT")[0]
    assert len(text) == 511 and text.startswith("x" * 250 + "y" * 250)
    assert "truncated" in lines


def test_async_lookups_all_answer(run, zone):
    status, lines = dnsq(run, zone.servers, "async", "A",
                         "good.test", "nonexistent.test", "multi.test", "bad..name")
    assert status == STATUS["invalid"]                # the worst of the four
    heads = sorted(l for l in lines if " " in l and l.split(" ")[1] in STATUS)
    assert any(h.startswith("good.test ok") for h in heads), lines
    assert any(h.startswith("multi.test ok") for h in heads), lines
    assert any(h.startswith("nonexistent.test notfound") for h in heads), lines
    assert any(h.split(" ")[1] == "invalid" for h in heads), lines
    assert "A 127.0.0.10" in lines


# ------------------------------------------------------------ failures

def test_dead_port_is_retry_and_quick(run):
    with FakeDnsServer(rcode=None) as silent:
        port = silent.port
    # Nothing listens there any more: connection refused or timeout.
    t0 = time.monotonic()
    status, lines = dnsq(run, "127.0.0.1:%d" % port, "lookup", "A", "good.test",
                         timeout_ms=2000)
    assert status == STATUS["retry"], lines
    assert time.monotonic() - t0 < 6


def test_silent_server_times_out_within_deadline(run):
    with FakeDnsServer(rcode=None) as silent:
        t0 = time.monotonic()
        status, lines = dnsq(run, silent.servers, "lookup", "A", "good.test",
                             timeout_ms=1500)
        elapsed = time.monotonic() - t0
        assert silent.queries >= 1                  # it did ask that server
    assert status == STATUS["retry"] and "timed out" in lines[0]
    assert 1.0 < elapsed < 4.5


def test_async_timeout_within_deadline(run):
    with FakeDnsServer(rcode=None) as silent:
        t0 = time.monotonic()
        status, lines = dnsq(run, silent.servers, "async", "A", "a.test", "b.test",
                             timeout_ms=1500)
        elapsed = time.monotonic() - t0
    assert status == STATUS["retry"]
    assert sorted(lines) == ["a.test retry DNS lookup timed out",
                             "b.test retry DNS lookup timed out"]
    assert elapsed < 4.5


@pytest.mark.parametrize("rcode", [2, 5])     # SERVFAIL, REFUSED
def test_server_failure_is_retry(run, rcode):
    with FakeDnsServer(rcode=rcode) as bad:
        status, lines = dnsq(run, bad.servers, "lookup", "MX", "good.test")
        assert bad.queries >= 1
    assert status == STATUS["retry"], lines


def test_bad_server_list_is_retry_with_reason(run):
    r = run(["dnsq", "-s", "not an address!", "lookup", "A", "good.test"])
    assert r.returncode == STATUS["retry"]
    assert "dns_resolver_servers" in r.stdout


def test_next_server_when_first_is_dead(run, zone):
    with FakeDnsServer(rcode=None) as silent:
        dead = silent.port
    status, lines = dnsq(run, "127.0.0.1:%d, %s" % (dead, zone.servers),
                         "lookup", "A", "good.test")
    assert status == 0 and "A 127.0.0.10" in lines, lines


def test_servers_from_main_cf(run, zone, config_dir):
    (config_dir / "main.cf").write_text("dns_resolver_servers = %s\n" % zone.servers)
    r = run(["dnsq", "-c", config_dir, "-t", "3000", "lookup", "A", "good.test"])
    assert r.returncode == 0 and "A 127.0.0.10" in r.stdout.splitlines()


def txt_rdata(*chunks):
    return b"".join(bytes([len(c)]) + c for c in chunks)


def name_rdata(name):
    return b"".join(bytes([len(p)]) + p for p in name.split(b".") if p) + b"\0"


@pytest.mark.parametrize("rtype,qtype,rdata,expect", [
    # CR LF, NUL, DEL and 8-bit bytes become '?': no line can be injected
    # into an SMTP reply or a log line.
    (16, "TXT", txt_rdata(b"250 ok\r\nMAIL FROM:<x>"), "250 ok??MAIL FROM:<x>"),
    (16, "TXT", txt_rdata(b"a\x00b\x7fc\xffd"), "a?b?c?d"),
    (12, "PTR", name_rdata(b"evil\r\n.test"), None),
    (15, "MX", b"\x00\x0a" + name_rdata(b"mx\x0d\x0a.test"), None),
])
def test_hostile_answers_are_sanitised(run, rtype, qtype, rdata, expect):
    with FakeDnsServer(rcode=0, answers=[(rtype, rdata)]) as fake:
        status, lines = dnsq(run, fake.servers, "lookup", qtype, "evil.test")
    out = "\n".join(lines)
    assert "\r" not in out and "\x00" not in out
    recs = [l for l in lines if l.startswith(qtype + " ")]
    if status == 0:
        assert len(recs) == 1, lines
        if expect is not None:
            assert recs[0] == qtype + " " + expect
        assert all(0x20 <= ord(c) < 0x7f for c in recs[0])
    else:
        assert status in (1, 2) and recs == []


def test_garbage_answer_is_retry_not_crash(run):
    # rdlength says 4 bytes for an A record, but the data is cut short.
    with FakeDnsServer(rcode=0, answers=[(1, b"\x7f")]) as fake:
        status, lines = dnsq(run, fake.servers, "lookup", "A", "evil.test")
    assert status in (1, 2), lines


def test_reverse_ignores_hostile_ptr(run):
    with FakeDnsServer(rcode=0, answers=[(12, name_rdata(b"a b.test"))]) as fake:
        code, lines = dnsq(run, fake.servers, "reverse", "127.0.0.10")
    assert lines[1] == "name unknown"


# ------------------------------------------------------------ restrictions

@pytest.mark.parametrize("domain,status", [
    ("mail.test", "ok"),          # MX
    ("mxonly.test", "ok"),        # MX whose host does not resolve still counts
    ("good.test", "ok"),          # A only
    ("v6only.test", "ok"),        # AAAA only
    ("nonexistent.test", "notfound"),
    ("[127.0.0.1]", "ok"),        # address literal: nothing to look up
    ("[IPv6:::1]", "ok"),
    ("bad..domain", "notfound"),
])
def test_domain_exists(run, zone, domain, status):
    code, lines = dnsq(run, zone.servers, "exists", domain)
    assert lines[0].split(" ")[0] == status, lines
    assert code == STATUS[status]


def test_domain_exists_retry_on_servfail(run):
    with FakeDnsServer(rcode=2) as bad:
        code, lines = dnsq(run, bad.servers, "exists", "mail.test")
    assert code == STATUS["retry"], lines


def test_null_mx_does_not_exist_for_mail(run, dnsd):  # noqa: F811
    dns = dnsd()
    dns.options.append("--mx-host=nullmx.test,.,0")
    dns.start()
    code, lines = dnsq(run, dns.servers, "exists", "nullmx.test")
    assert code == STATUS["notfound"] and "nullMX" in lines[0], lines


@pytest.mark.parametrize("addr,status,name", [
    ("127.0.0.10", "ok", "good.test"),              # PTR, forward confirmed
    ("::ffff:127.0.0.10", "ok", "good.test"),       # v4-mapped is v4
    ("2001:db8::10", "ok", "v6.test"),
    ("127.0.0.11", "notfound", "unknown"),          # forward mismatch
    ("127.0.0.12", "notfound", "unknown"),          # PTR name is an address
    ("127.0.0.13", "notfound", "unknown"),          # PTR name has no A
    ("127.0.0.14", "notfound", "unknown"),          # no PTR
    ("not-an-address", "invalid", "unknown"),
])
def test_reverse_verify(run, zone, addr, status, name):
    code, lines = dnsq(run, zone.servers, "reverse", addr)
    assert lines[0] == status and lines[1] == "name " + name, lines
    assert code == STATUS[status]


def test_reverse_verify_retry(run):
    with FakeDnsServer(rcode=2) as bad:
        code, lines = dnsq(run, bad.servers, "reverse", "127.0.0.10")
    assert code == STATUS["retry"] and lines[1] == "name unknown"


@pytest.mark.parametrize("addr,listname,status,reply", [
    ("127.0.0.2", "zen.test", "ok", "127.0.0.2"),
    ("127.0.0.2", "zen.test=127.0.0.2", "ok", "127.0.0.2"),
    ("127.0.0.2", "zen.test=127.0.0.[2..11]", "ok", "127.0.0.2"),
    ("127.0.0.2", "zen.test=127.0.0.[1;2;9..10]", "ok", "127.0.0.2"),
    ("127.0.0.3", "zen.test", "ok", "127.0.0.20"),
    ("127.0.0.3", "zen.test=127.0.0.[2..11]", "notfound", None),   # filtered out
    ("127.0.0.3", "zen.test=127.0.[0..1].20", "ok", "127.0.0.20"),
    ("127.0.0.4", "zen.test", "notfound", None),
    ("::ffff:127.0.0.2", "zen.test", "ok", "127.0.0.2"),
    ("2001:db8::5", "zen.test", "ok", "127.0.0.4"),
    ("127.0.0.2", "zen.test=127.0.0.[2..", "invalid", None),
    ("127.0.0.2", "zen.test=127.0.0.256", "invalid", None),
    ("127.0.0.2", "zen.test=127.0.0", "invalid", None),
    ("127.0.0.2", "bad..zone=127.0.0.2", "invalid", None),
    ("nonsense", "zen.test", "invalid", None),
])
def test_dnsbl_client(run, zone, addr, listname, status, reply):
    code, lines = dnsq(run, zone.servers, "dnsbl", addr, listname)
    assert lines[0].split(" ")[0] == status, lines
    assert code == STATUS[status]
    if reply:
        assert records(lines, "A") == [reply]


def test_dnsbl_hit_text_and_query_name(run, zone):
    code, lines = dnsq(run, zone.servers, "dnsbl", "127.0.0.2", "zen.test")
    assert code == 0
    assert "query 2.0.0.127.zen.test" in lines
    assert "text Listed; see http://zen.test/query/127.0.0.2" in lines


def test_dnsbl_ipv6_query_name(run, zone):
    code, lines = dnsq(run, zone.servers, "dnsbl", "2001:db8::5", "zen.test")
    assert code == 0
    q = [l for l in lines if l.startswith("query ")][0]
    assert q == "query " + "5.0.0.0." + "0.0.0.0." * 5 + "8.b.d.0.1.0.0.2.zen.test"


def test_dnsbl_retry(run):
    with FakeDnsServer(rcode=2) as bad:
        code, lines = dnsq(run, bad.servers, "dnsbl", "127.0.0.2", "zen.test")
    assert code == STATUS["retry"], lines


@pytest.mark.parametrize("domain,listname,status", [
    ("spammer.test", "dbl.test", "ok"),
    ("spammer.test.", "dbl.test", "ok"),
    ("spammer.test", "dbl.test=127.0.1.2", "ok"),
    ("spammer.test", "dbl.test=127.0.0.2", "notfound"),
    ("good.test", "dbl.test", "notfound"),
    ("", "dbl.test", "notfound"),
    ("[127.0.0.1]", "dbl.test", "notfound"),
    ("x" * 60 + "." + "y" * 60 + "." + "z" * 60 + "." + "w" * 60 + ".test",
     "dbl.test", "notfound"),                  # too long with the zone
    ("spammer.test", "", "invalid"),
])
def test_dnsbl_rhs(run, zone, domain, listname, status):
    code, lines = dnsq(run, zone.servers, "rhsbl", domain, listname)
    assert lines[0].split(" ")[0] == status, lines
    assert code == STATUS[status]
    if status == "ok":
        assert "text bad domain" in lines
