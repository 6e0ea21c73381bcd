"""Address rewriting in cleanup, checked in delivered messages: canonical
maps on envelope and header addresses (phrases and comments kept),
canonical_classes, masquerading with exceptions, append_at_myorigin,
swap_bangpath, the percent hack, remote header rewriting
(local_header_rewrite_clients, remote_header_rewrite_domain),
propagate_unmatched_extensions, and virtual aliases (one-to-many,
catch-all, loops, expansion and recursion limits).

Mail comes in over SMTP from 127.0.0.1 (an inet_interfaces address, so a
"local" header-rewrite client by default) or from sendmail, and is
delivered by local(8) to mboxes in the instance's spool.
"""

import email
import email.policy
import smtplib
import time

import pytest

from test_local_mail import body_of, header
from test_smtpd import smtpsys  # noqa: F401  (fixture)

DOMAIN = "mx.test.invalid"


def table(ms, name, entries):
    path = ms.inst.base / name
    path.write_text("".join(f"{k} {v}\n" for k, v in entries.items()))
    return f"texthash:{path}"


def reconfigure(ms, **settings):
    """Set parameters and restart, so every daemon reads them (after the
    mail in flight has been delivered)."""
    from conftest import wait_for
    wait_for(ms.queue_empty, 30, what="an empty queue\n" + ms.inst.log()[-2000:])
    ms.inst.stop()
    ms.inst.postconf("-e", *[f"{k}={v}" for k, v in settings.items()])
    ms.inst.start()
    from test_smtpd import _can_connect
    from conftest import wait_for
    wait_for(lambda: _can_connect(ms.port), 10, what="smtpd listening")


def smtp_send(ms, sender, rcpts, message):
    if isinstance(message, str):
        message = message.encode()
    with smtplib.SMTP("127.0.0.1", ms.port, timeout=30) as s:
        s.ehlo("client.test")
        s.sendmail(sender, rcpts, message)


def one_header(raw, name):
    values = header(raw, name)
    assert len(values) == 1, (name, values, raw[:2000])
    return values[0]


MESSAGE = """\
From: "Sender, The" <sender@old.example> (old comment)
To: Alice (the boss) <alice@legacy.example>, other@elsewhere.example
Cc: team: alice@legacy.example, "Quoted Name" <sender@old.example>;
Reply-To: sender@old.example
Subject: rewrite test

body
"""


def test_canonical_envelope_and_headers(smtpsys):
    ms = smtpsys()
    u = ms.users[0]
    reconfigure(ms, canonical_maps=table(ms, "canonical", {
        "alice@legacy.example": f"{u}@{DOMAIN}",
        "sender@old.example": "Sender.New@new.example",
    }))
    smtp_send(ms, "sender@old.example", ["alice@legacy.example"], MESSAGE)
    raw = ms.wait_messages(u, 1)[0]
    assert one_header(raw, "Return-Path") == "<Sender.New@new.example>"
    assert one_header(raw, "Delivered-To") == f"{u}@{DOMAIN}"
    # only the addresses changed; phrases, comments, groups stay
    assert one_header(raw, "From") == '"Sender, The" <Sender.New@new.example> (old comment)'
    assert one_header(raw, "To") == \
        f"Alice (the boss) <{u}@{DOMAIN}>, other@elsewhere.example"
    assert one_header(raw, "Cc") == \
        f'team: {u}@{DOMAIN}, "Quoted Name" <Sender.New@new.example>;'
    assert one_header(raw, "Reply-To") == "Sender.New@new.example"
    assert body_of(raw).rstrip(b"\n") == b"body"


def test_canonical_classes_envelope_only(smtpsys):
    ms = smtpsys()
    u = ms.users[0]
    reconfigure(ms, canonical_classes="envelope_sender, envelope_recipient",
                canonical_maps=table(ms, "canonical", {
                    "alice@legacy.example": f"{u}@{DOMAIN}",
                    "sender@old.example": "Sender.New@new.example",
                }))
    smtp_send(ms, "sender@old.example", ["alice@legacy.example"], MESSAGE)
    raw = ms.wait_messages(u, 1)[0]
    assert one_header(raw, "Return-Path") == "<Sender.New@new.example>"
    assert one_header(raw, "From") == '"Sender, The" <sender@old.example> (old comment)'
    assert "alice@legacy.example" in one_header(raw, "To")


def test_sender_and_recipient_canonical_maps(smtpsys):
    ms = smtpsys()
    u = ms.users[0]
    reconfigure(ms,
                sender_canonical_maps=table(ms, "scanon", {"sender@old.example": "s2@new.example"}),
                recipient_canonical_maps=table(ms, "rcanon", {
                    "alice@legacy.example": f"{u}@{DOMAIN}",
                    # a sender address in a recipient field is a recipient here
                    "sender@old.example": "not-this@wrong.example"}))
    smtp_send(ms, "sender@old.example", ["alice@legacy.example"], MESSAGE)
    raw = ms.wait_messages(u, 1)[0]
    assert one_header(raw, "Return-Path") == "<s2@new.example>"
    assert one_header(raw, "From") == '"Sender, The" <s2@new.example> (old comment)'
    assert "not-this@wrong.example" in one_header(raw, "Cc")
    assert one_header(raw, "Reply-To") == "s2@new.example"


def test_masquerading_with_exceptions(smtpsys):
    ms = smtpsys()
    u = ms.users[0]
    reconfigure(ms, masquerade_domains="!keep.test.invalid, test.invalid",
                masquerade_exceptions="root")
    msg = (f"From: Joe <joe@host.test.invalid>\n"
           f"To: {u}@{DOMAIN}, x@a.keep.test.invalid, root@host.test.invalid,"
           f" y@unrelated.example\n"
           f"Subject: masq\n\nbody\n")
    smtp_send(ms, "joe@host.test.invalid", [f"{u}@{DOMAIN}"], msg)
    raw = ms.wait_messages(u, 1)[0]
    # envelope sender and header sender masqueraded
    assert one_header(raw, "Return-Path") == "<joe@test.invalid>"
    assert one_header(raw, "From") == "Joe <joe@test.invalid>"
    # header recipients: masqueraded except the ! domain and root
    assert one_header(raw, "To") == (f"{u}@test.invalid, x@a.keep.test.invalid,"
                                     f" root@host.test.invalid, y@unrelated.example")
    # envelope recipients are not in masquerade_classes by default
    assert one_header(raw, "Delivered-To") == f"{u}@{DOMAIN}"


def test_remote_clients_headers_left_alone_or_given_a_domain(smtpsys):
    ms = smtpsys()
    u = ms.users[0]
    canon = table(ms, "canonical", {"sender@old.example": "new@new.example"})
    # 127.0.0.1 is not listed: a remote client
    reconfigure(ms, local_header_rewrite_clients="192.0.2.1", canonical_maps=canon)
    msg = "From: sender@old.example\nTo: alice, bob@x.example\nSubject: r\n\nbody\n"
    smtp_send(ms, "sender@old.example", [f"{u}@{DOMAIN}"], msg)
    raw = ms.wait_messages(u, 1)[0]
    assert one_header(raw, "From") == "sender@old.example"
    assert one_header(raw, "To") == "alice, bob@x.example"
    # the envelope is rewritten all the same
    assert one_header(raw, "Return-Path") == "<new@new.example>"
    reconfigure(ms, remote_header_rewrite_domain="domain.invalid")
    smtp_send(ms, "sender@old.example", [f"{u}@{DOMAIN}"], msg)
    raw = ms.wait_messages(u, 2)[1]
    assert one_header(raw, "To") == "alice@domain.invalid, bob@x.example"
    assert one_header(raw, "From") == "new@new.example"
    # and with the client listed, unqualified addresses get $myorigin
    reconfigure(ms, local_header_rewrite_clients="permit_mynetworks")
    smtp_send(ms, "sender@old.example", [f"{u}@{DOMAIN}"], msg)
    raw = ms.wait_messages(u, 3)[2]
    assert one_header(raw, "To") == f"alice@{DOMAIN}, bob@x.example"


def test_local_submission_routing_rewrites(smtpsys):
    ms = smtpsys()
    u = ms.users[0]
    msg = b"Subject: routing\n\nbody\n"
    # host!user and user%host@ourhost both end up as user@host
    ms.sendmail(["-f", f"me@{DOMAIN}", f"{DOMAIN}!{u}"], msg)
    ms.sendmail(["-f", f"me@{DOMAIN}", f"{u}%{DOMAIN}@localhost"], msg)
    raws = ms.wait_messages(u, 2)
    for raw in raws:
        assert one_header(raw, "Delivered-To") == f"{u}@{DOMAIN}"
        assert one_header(raw, "Return-Path") == f"<me@{DOMAIN}>"
    # header addresses are completed with @$myorigin by default ...
    ms.sendmail(["-f", f"me@{DOMAIN}", f"{u}@{DOMAIN}"], b"From: someone\nTo: a!b\n\nx\n")
    raw = ms.wait_messages(u, 3)[2]
    assert one_header(raw, "From") == f"someone@{DOMAIN}"
    assert one_header(raw, "To") == "b@a"
    # ... and not with append_at_myorigin and swap_bangpath off
    reconfigure(ms, swap_bangpath="no", append_at_myorigin="no")
    ms.sendmail(["-f", f"me@{DOMAIN}", f"{u}@{DOMAIN}"], b"From: someone\nTo: a!b\n\nx\n")
    raw = ms.wait_messages(u, 4)[3]
    assert one_header(raw, "From") == "someone"
    assert one_header(raw, "To") == "a!b"


def test_propagate_unmatched_extensions(smtpsys):
    ms = smtpsys(settings={"recipient_delimiter": "+"})
    u = ms.users[0]
    canon = table(ms, "canonical", {"list@legacy.example": f"{u}@{DOMAIN}"})
    reconfigure(ms, canonical_maps=canon)
    smtp_send(ms, "s@example.org", ["list+tag@legacy.example"], "Subject: p\n\nx\n")
    raw = ms.wait_messages(u, 1)[0]
    assert one_header(raw, "Delivered-To") == f"{u}+tag@{DOMAIN}"
    reconfigure(ms, propagate_unmatched_extensions="")
    smtp_send(ms, "s@example.org", ["list+tag@legacy.example"], "Subject: p\n\nx\n")
    raw = ms.wait_messages(u, 2)[1]
    assert one_header(raw, "Delivered-To") == f"{u}@{DOMAIN}"


def test_virtual_aliases_one_to_many_and_catch_all(smtpsys):
    ms = smtpsys()
    a, b = ms.users[0], ms.users[-1]
    valias = table(ms, "valias", {
        "team@va.example": f"{a}@{DOMAIN}, {b}@{DOMAIN}",
        "@catch.example": f"{b}@{DOMAIN}",
        "nested@va.example": "team@va.example",
    })
    reconfigure(ms, virtual_alias_maps=valias, virtual_alias_domains="va.example, catch.example")
    smtp_send(ms, "s@example.org", ["nested@va.example"], "Subject: one\n\nx\n")
    smtp_send(ms, "s@example.org", ["whoever@catch.example"], "Subject: two\n\nx\n")
    if a != b:
        assert header(ms.wait_messages(a, 1)[0], "Subject") == ["one"]
        got = ms.wait_messages(b, 2)
        assert sorted(header(m, "Subject")[0] for m in got) == ["one", "two"]
    else:
        got = ms.wait_messages(a, 2)
        assert sorted(header(m, "Subject")[0] for m in got) == ["one", "two"]


def test_virtual_alias_limits(smtpsys):
    ms = smtpsys()
    u = ms.users[0]
    valias = table(ms, "valias", {
        "chain1@va.example": "chain2@va.example",
        "chain2@va.example": "chain3@va.example",
        "chain3@va.example": f"{u}@{DOMAIN}",
        "wide@va.example": "x1@elsewhere.example, x2@elsewhere.example, x3@elsewhere.example",
        "short@va.example": "chain3@va.example",
    })
    reconfigure(ms, virtual_alias_maps=valias, virtual_alias_domains="va.example",
                virtual_alias_recursion_limit=2, virtual_alias_expansion_limit=2)
    for rcpt in ("chain1@va.example", "wide@va.example"):
        with pytest.raises(smtplib.SMTPDataError) as e:
            smtp_send(ms, "s@example.org", [rcpt], "Subject: limit\n\nx\n")
        assert 400 <= e.value.smtp_code < 500, e.value
        assert b"limit exceeded" in e.value.smtp_error
    # within the limits the same table works
    smtp_send(ms, "s@example.org", ["short@va.example"], "Subject: ok\n\nx\n")
    assert header(ms.wait_messages(u, 1)[0], "Subject") == ["ok"]


def test_table_failure_defers_the_message(smtpsys):
    ms = smtpsys()
    reconfigure(ms, canonical_maps="hash:/nonexistent/canonical")
    with pytest.raises(smtplib.SMTPDataError) as e:
        smtp_send(ms, "s@example.org", [f"{ms.users[0]}@{DOMAIN}"], "From: a@b\n\nx\n")
    assert 400 <= e.value.smtp_code < 500


def test_sendmail_bv_reports_rewriting_and_transport(smtpsys):
    ms = smtpsys()
    u = ms.users[0]
    reconfigure(ms, canonical_maps=table(ms, "canonical", {"old@legacy.example": "team@va.example"}),
                virtual_alias_maps=table(ms, "valias", {
                    "team@va.example": f"{u}@{DOMAIN}, far@remote.example"}),
                virtual_alias_domains="va.example")
    r = ms.run(["sendmail", "-C", str(ms.inst.config_dir), "-bv", "old@legacy.example",
                "nobody@va.example"], expect=0)
    out = r.stdout
    assert "canonical_maps: old@legacy.example -> team@va.example" in out, out
    assert f"<team@va.example> is a virtual alias for: {u}@{DOMAIN}, far@remote.example" in out
    assert f"<{u}@{DOMAIN}> delivered by local" in out
    assert "<far@remote.example> delivered by smtp" in out
    # an unknown address in a virtual alias domain resolves to the error transport
    assert "<nobody@va.example> delivered by error" in out, out
    r = ms.run(["sendmail", "-C", str(ms.inst.config_dir), "-bv", "a b c"], expect=67)
    assert "bad address" in r.stdout
