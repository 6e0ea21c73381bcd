"""smtpd against a live instance: access-map actions (DISCARD, PREPEND,
REDIRECT, HOLD), the per-client recipient rate limit, the disconnect
line's ok/total counts and the session transcript mailed under
notify_classes."""

import os

from conftest import wait_for
from test_local_mail import body_of, header
from test_smtpd import (ANVIL_LINE, DOMAIN, _can_connect, greet,  # noqa: F401
                        queue_files, smtpsys)


def _restart_with(ms, *settings):
    ms.inst.stop()
    ms.inst.postconf("-e", *settings)
    ms.inst.start()
    wait_for(lambda: _can_connect(ms.port), 10, what="smtpd listening")


def _send(c, sender, rcpts, body="Subject: t\r\n\r\nbody\r\n"):
    assert c.cmd(f"MAIL FROM:<{sender}>").startswith("250")
    for r in rcpts:
        assert c.cmd(f"RCPT TO:<{r}>").startswith("250")
    assert c.cmd("DATA").startswith("354")
    return c.cmd(body + ".")


def test_discard_prepend_redirect_from_access_map(smtpsys):
    ms = smtpsys(users=2)
    u0, u1 = ms.users
    table = ms.inst.base / "senders"
    table.write_text("drop@example.org DISCARD\n"
                     "tag@example.org PREPEND X-Tagged: yes\n"
                     f"moved@example.org REDIRECT {u1}@{DOMAIN}\n")
    os.chmod(table, 0o644)
    _restart_with(ms, f"smtpd_sender_restrictions=check_sender_access texthash:{table}")
    c = greet(ms.port)
    # DISCARD: accepted, nothing queued, logged.
    r = _send(c, "drop@example.org", [f"{u0}@{DOMAIN}"])
    assert r.startswith("250"), r
    ms.inst.wait_log("discard: END-OF-MESSAGE")
    # PREPEND: the header comes first in the delivered message.
    r = _send(c, "tag@example.org", [f"{u0}@{DOMAIN}"])
    assert r.startswith("250 2.0.0 Ok: queued as"), r
    # REDIRECT: every recipient replaced by the target.
    r = _send(c, "moved@example.org", [f"{u0}@{DOMAIN}"],
              "Subject: redirected\r\n\r\nbody\r\n")
    assert r.startswith("250 2.0.0 Ok: queued as"), r
    c.cmd("QUIT")
    (got0,) = ms.wait_messages(u0, 1)
    assert header(got0, "X-Tagged") == ["yes"]
    (got1,) = ms.wait_messages(u1, 1)
    assert header(got1, "Subject") == ["redirected"]
    wait_for(ms.queue_empty, 30, what="empty queue")
    assert len(ms.messages(u0)) == 1      # the discarded one never arrived


def test_hold_from_access_map_goes_to_hold_queue(smtpsys):
    ms = smtpsys({"smtpd_sender_restrictions":
                  "check_sender_access inline:{held@example.org=HOLD}"}, users=1)
    c = greet(ms.port)
    r = _send(c, "held@example.org", [f"{ms.users[0]}@{DOMAIN}"])
    assert r.startswith("250"), r
    c.cmd("QUIT")
    wait_for(lambda: any("/hold/" in p for p in queue_files(ms)), 10,
             what="a file in hold/")


def test_recipient_rate_limit_via_anvil(smtpsys):
    ms = smtpsys({"smtpd_client_recipient_rate_limit": "2",
                  "smtpd_client_event_limit_exceptions": ""},
                 master_extra=ANVIL_LINE, users=1)
    user = ms.users[0]
    c = greet(ms.port)
    assert c.cmd("MAIL FROM:<a@example.org>").startswith("250")
    assert c.cmd(f"RCPT TO:<{user}@{DOMAIN}>").startswith("250")
    assert c.cmd(f"RCPT TO:<{user}@{DOMAIN}>").startswith("250")
    r = c.cmd(f"RCPT TO:<{user}@{DOMAIN}>")
    assert r.startswith("452 4.3.2") and "too many recipients" in r, r
    # The accepted ones still make a message.
    assert c.cmd("DATA").startswith("354")
    assert c.cmd("Subject: x\r\n\r\nhi\r\n.").startswith("250")
    c.cmd("QUIT")
    ms.wait_messages(user, 1)


def test_disconnect_line_counts_refused_commands(smtpsys):
    ms = smtpsys({"mynetworks": "127.0.0.1/32"}, users=1)
    c = greet(ms.port, source="127.0.0.2")
    assert c.cmd("MAIL FROM:<a@example.org>").startswith("250")
    assert c.cmd("RCPT TO:<victim@elsewhere.example>").startswith("4")
    assert c.cmd("DATA").startswith("5")
    assert c.cmd("BOGUS").startswith("500")
    c.cmd("QUIT")
    c.close()
    ms.inst.wait_log("disconnect from unknown[127.0.0.2] ehlo=1 mail=1 "
                     "rcpt=0/1 data=0/1 quit=1 unknown=0/1 commands=3/6")


def test_protocol_errors_mail_a_transcript(smtpsys):
    ms = smtpsys(users=2)
    admin = ms.users[1]
    _restart_with(ms, "notify_classes=resource, software, protocol",
                  f"error_notice_recipient={admin}@{DOMAIN}")
    c = greet(ms.port)
    assert c.cmd("MAIL FROM:<a@example.org> BOGUS=1").startswith("555")
    assert c.cmd("XYZZY plugh").startswith("500")
    c.cmd("QUIT")
    c.close()
    (notice,) = ms.wait_messages(admin, 1)
    assert header(notice, "Subject") == ["Postern SMTP server: errors from unknown[127.0.0.1]"]
    body = body_of(notice)
    assert b"In:  XYZZY plugh\n" in body
    assert b"Out: 500 5.5.2 Error: command not recognized\n" in body
    assert b"In:  EHLO client.test\n" in body
    # A clean session sends nothing more.
    c = greet(ms.port)
    c.cmd("QUIT")
    c.close()
    ms.inst.wait_log("disconnect from unknown[127.0.0.1] ehlo=1 quit=1 commands=2")
    wait_for(ms.queue_empty, 30, what="empty queue")
    assert len(ms.messages(admin)) == 1


def test_policy_rejects_do_not_mail_by_default(smtpsys):
    ms = smtpsys({"mynetworks": "127.0.0.1/32"}, users=1)
    c = greet(ms.port, source="127.0.0.2")
    c.cmd("MAIL FROM:<a@example.org>")
    c.cmd("RCPT TO:<victim@elsewhere.example>")
    c.cmd("QUIT")
    c.close()
    ms.inst.wait_log("disconnect from unknown[127.0.0.2]")
    assert "transcript of the session" not in ms.inst.log()
