"""smtpd restrictions through the real server (smtpd_check).

Each test starts an instance whose smtpd listens on 127.0.0.1 and talks
to it with smtplib. Clients "outside mynetworks" bind their socket to
another loopback address (127.0.0.2, 127.0.0.3) while mynetworks is
127.0.0.1/32, so open-relay checks need no second host. DNS block lists
are served by dnsmasq on a loopback port (dnsd.py), never by real DNS.
"""

import smtplib

import pytest

from dnsd import dnsd  # noqa: F401  (fixture)

SMTPD_MASTER_CF = """\
127.0.0.1:{port0} inet n - n - - smtpd
cleanup   unix  n       -       n       -       0       cleanup
anvil     unix  -       -       n       -       1       anvil
"""


@pytest.fixture
def smtpd_factory(instance_factory, postern_build):
    if not (postern_build / "bin" / "smtpd").is_file():
        pytest.skip("smtpd is not built")

    def make(settings=None, files=None):
        """settings beyond the base ones are appended to main.cf after
        "postern init", with "{cfg}" replaced by the config directory."""
        base = {
            "myhostname": "mx.example.com",
            "mydomain": "example.com",
            "mydestination": "$myhostname, localhost, example.com",
            "mynetworks": "127.0.0.1/32",
            "alias_maps": "",
            "smtpd_client_connection_count_limit": "0",
            "smtpd_peername_lookup": "no",
        }
        late = {}
        for name, value in (settings or {}).items():
            if name in base:
                base[name] = value
            else:
                late[name] = value
        inst = instance_factory(master_cf=SMTPD_MASTER_CF, settings=base, start=False)
        for name, text in (files or {}).items():
            (inst.config_dir / name).write_text(text)
        with open(inst.config_dir / "main.cf", "a") as f:
            for name, value in late.items():
                f.write(f"{name} = {value.replace('{cfg}', str(inst.config_dir))}\n")
        inst.start()
        return inst
    return make


def client(inst, source="127.0.0.1"):
    """An SMTP connection to inst's smtpd from the given loopback address."""
    s = smtplib.SMTP(timeout=20, source_address=(source, 0))
    code, banner = s.connect("127.0.0.1", inst.ports[0])
    assert code == 220, (banner, inst.log()[-3000:])
    return s


def rcpt(inst, rcpt_to, source="127.0.0.1", sender="sender@outside.example",
         helo="client.example.org"):
    """EHLO, MAIL FROM and one RCPT TO; returns (code, text) of the RCPT."""
    s = client(inst, source)
    try:
        code, _ = s.ehlo(helo)
        assert code == 250
        code, text = s.mail(sender)
        if code != 250:
            return code, text.decode()
        code, text = s.rcpt(rcpt_to)
        return code, text.decode()
    finally:
        try:
            s.quit()
        except (smtplib.SMTPException, OSError):
            pass


def test_not_an_open_relay_from_outside(smtpd_factory):
    inst = smtpd_factory()
    for target in ("victim@remote.example", "victim%remote.example@example.com",
                   "remote.example!victim@example.com", "victim@[192.0.2.1]"):
        code, text = rcpt(inst, target, source="127.0.0.2")
        assert code // 100 == 4 or code // 100 == 5, (target, code, text)
        assert code != 250
    code, text = rcpt(inst, "victim@remote.example", source="127.0.0.2")
    assert (code, text) == (454, "4.7.1 <victim@remote.example>: Relay access denied"), \
        inst.log()[-2000:]
    inst.wait_log("NOQUEUE: reject: RCPT from")
    assert "Relay access denied; from=<sender@outside.example> " \
           "to=<victim@remote.example> proto=ESMTP helo=<client.example.org>" in inst.log()


def test_reject_unauth_destination_554(smtpd_factory):
    inst = smtpd_factory({"smtpd_relay_restrictions":
                          "permit_mynetworks, reject_unauth_destination"})
    code, text = rcpt(inst, "victim@remote.example", source="127.0.0.2")
    assert (code, text) == (554, "5.7.1 <victim@remote.example>: Relay access denied")


def test_mynetworks_may_relay(smtpd_factory):
    inst = smtpd_factory()
    code, text = rcpt(inst, "someone@remote.example", source="127.0.0.1")
    assert code == 250, (text, inst.log()[-2000:])


def test_relay_domains(smtpd_factory):
    inst = smtpd_factory({"relay_domains": "backup.example"})
    assert rcpt(inst, "x@backup.example", source="127.0.0.2")[0] == 250
    assert rcpt(inst, "x@sub.backup.example", source="127.0.0.2")[0] == 250
    assert rcpt(inst, "x@notbackup.example", source="127.0.0.2")[0] == 454


def test_unknown_local_user_550_at_rcpt(smtpd_factory):
    # The default local_recipient_maps: unix:passwd.byname $alias_maps.
    inst = smtpd_factory()
    code, text = rcpt(inst, "no-such-user-xyzzy@example.com", source="127.0.0.2")
    assert code == 550, (text, inst.log()[-2000:])
    assert text == ("5.1.1 <no-such-user-xyzzy@example.com>: Recipient address "
                    "rejected: User unknown in local recipient table")
    code, text = rcpt(inst, "root@example.com", source="127.0.0.2")
    assert code == 250, (text, inst.log()[-2000:])


def test_local_recipient_maps_from_alias_table(smtpd_factory):
    inst = smtpd_factory({"local_recipient_maps": "inline:{listed=x}"})
    assert rcpt(inst, "listed@localhost", source="127.0.0.2")[0] == 250
    assert rcpt(inst, "root@localhost", source="127.0.0.2")[0] == 550


ACCESS = """\
rejected.example      REJECT
text.example          REJECT 5.7.9 go away
deferred.example      DEFER try later
num4.example          452 4.3.1 busy now
num5.example          553 not here
ok.example            OK
dunno.example         DUNNO
class.example         strict
"""


@pytest.mark.parametrize("sender,code,text", [
    ("a@rejected.example", 554,
     "5.7.1 <a@rejected.example>: Sender address rejected: Access denied"),
    ("a@text.example", 554, "5.7.9 <a@text.example>: Sender address rejected: go away"),
    ("a@deferred.example", 450,
     "4.7.1 <a@deferred.example>: Sender address rejected: try later"),
    ("a@num4.example", 452, "4.3.1 <a@num4.example>: Sender address rejected: busy now"),
    ("a@num5.example", 553, "5.7.1 <a@num5.example>: Sender address rejected: not here"),
    ("a@ok.example", 250, None),
    ("a@dunno.example", 554,
     "5.7.1 <a@dunno.example>: Sender address rejected: Access denied"),
    ("a@other.example", 554,
     "5.7.1 <a@other.example>: Sender address rejected: Access denied"),
    ("a@class.example", 504,
     "5.5.2 <short>: Helo command rejected: need fully-qualified hostname"),
])
def test_sender_access_results(smtpd_factory, sender, code, text):
    inst = smtpd_factory({
        "smtpd_sender_restrictions": "check_sender_access texthash:{cfg}/access, reject",
        "smtpd_restriction_classes": "strict",
        "strict": "reject_non_fqdn_helo_hostname",
    }, files={"access": ACCESS})
    got = rcpt(inst, "root@example.com", source="127.0.0.2", sender=sender, helo="short")
    assert got[0] == code, (got, inst.log()[-2000:])
    if text is not None:
        assert got[1] == text


def test_client_access(smtpd_factory):
    inst = smtpd_factory({
        "smtpd_client_restrictions": "check_client_access texthash:{cfg}/clients",
    }, files={"clients": "127.0.0.3 REJECT no thanks\n"})
    code, text = rcpt(inst, "root@example.com", source="127.0.0.3")
    assert (code, text) == (554, "5.7.1 <unknown[127.0.0.3]>: Client host rejected: no thanks") \
        or (code == 554 and "Client host rejected: no thanks" in text), (code, text)
    assert rcpt(inst, "root@example.com", source="127.0.0.2")[0] == 250


def test_unknown_restriction_is_451(smtpd_factory):
    # Never silently permitted: 451 4.3.5 (smtpd may already refuse at
    # the greeting), even from mynetworks.
    inst = smtpd_factory({"smtpd_recipient_restrictions": "permit_mynetwork"})
    s = smtplib.SMTP(timeout=20, source_address=("127.0.0.1", 0))
    try:
        code, text = s.connect("127.0.0.1", inst.ports[0])
        if code == 220:
            s.ehlo("client.example.org")
            code, text = s.mail("a@outside.example")
            if code == 250:
                code, text = s.rcpt("root@example.com")
        assert code == 451, (code, text, inst.log()[-2000:])
        assert b"4.3.5 Server configuration error" in text
    finally:
        s.close()
    assert "unknown restriction" in inst.log()


def test_rbl_client(smtpd_factory, dnsd):  # noqa: F811
    dns = dnsd()
    dns.dnsbl("zen.test", "127.0.0.2", reply="127.0.0.2", text="listed for testing")
    dns.start()
    inst = smtpd_factory({
        "dns_resolver_servers": dns.servers,
        "smtpd_client_restrictions": "reject_rbl_client zen.test",
    })
    code, text = rcpt(inst, "root@example.com", source="127.0.0.2")
    assert code == 554, (code, text, inst.log()[-2000:])
    assert text.startswith(
        "5.7.1 Service unavailable; Client host [127.0.0.2] blocked using zen.test")
    assert rcpt(inst, "root@example.com", source="127.0.0.3")[0] == 250


def queue_files(inst, queue):
    """Regular files anywhere below queue_dir/queue (hashed or not)."""
    top = inst.queue_dir / queue
    return [p for p in top.rglob("*") if p.is_file()] if top.is_dir() else []


def test_hold_action_puts_message_into_hold_queue(smtpd_factory):
    inst = smtpd_factory({
        "smtpd_recipient_restrictions":
            "check_recipient_access texthash:{cfg}/rcpt_access, "
            "permit_mynetworks, reject_unauth_destination",
    }, files={"rcpt_access": "root@example.com HOLD\n"})
    s = client(inst)
    try:
        assert s.ehlo("client.example.org")[0] == 250
        assert s.mail("sender@outside.example")[0] == 250
        code, text = s.rcpt("root@example.com")
        assert code == 250, (code, text, inst.log()[-2000:])
        code, text = s.data(b"Subject: hold me\r\n\r\nbody\r\n")
        assert code == 250, (code, text, inst.log()[-2000:])
    finally:
        s.quit()
    inst.wait_log(": held")
    held = queue_files(inst, "hold")
    assert len(held) == 1, (held, inst.log()[-2000:])
    assert held[0].stat().st_mode & 0o777 == 0o700
    assert queue_files(inst, "incoming") == []
    assert "HOLD is not supported" not in inst.log()


def test_no_hold_without_hold_action(smtpd_factory):
    inst = smtpd_factory({
        "smtpd_recipient_restrictions":
            "check_recipient_access texthash:{cfg}/rcpt_access, "
            "permit_mynetworks, reject_unauth_destination",
    }, files={"rcpt_access": "root@example.com HOLD\n"})
    s = client(inst)
    try:
        assert s.ehlo("client.example.org")[0] == 250
        assert s.mail("sender@outside.example")[0] == 250
        assert s.rcpt("root@localhost")[0] == 250
        code, text = s.data(b"Subject: normal\r\n\r\nbody\r\n")
        assert code == 250, (code, text, inst.log()[-2000:])
    finally:
        s.quit()
    inst.wait_log("message-id=")
    assert queue_files(inst, "hold") == []
    assert len(queue_files(inst, "incoming")) == 1
    assert ": held" not in inst.log()
