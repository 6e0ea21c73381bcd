"""Tests of the test SMTP/LMTP sink (smtpsink.py) with smtplib and raw
sockets: the other integration tests rely on its knobs doing what they say."""

import smtplib
import socket
import threading
import time

import pytest

from smtpsink import SmtpSink


def _raw(sink, timeout=5):
    """A raw client socket connected to the sink, plus a line reader (close
    both: the socket stays open while the reader exists)."""
    if sink.unix_path:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.connect(sink.unix_path)
    else:
        sock = socket.create_connection(("127.0.0.1", sink.port), timeout)
    sock.settimeout(timeout)
    return sock, sock.makefile("rb")


def _reply(reader):
    """Read one (possibly multi-line) reply; returns the list of lines."""
    lines = []
    while True:
        line = reader.readline().decode()
        assert line.endswith("\r\n"), "incomplete reply %r" % (line,)
        lines.append(line[:-2])
        if len(line) < 4 or line[3] != "-":
            return lines


@pytest.fixture
def sink():
    with SmtpSink() as s:
        yield s


def test_plain_delivery_recorded(sink):
    with smtplib.SMTP("127.0.0.1", sink.port, timeout=5) as c:
        code, text = c.ehlo("client.test")
        assert code == 250
        assert c.has_extn("pipelining") and c.has_extn("8bitmime")
        assert c.has_extn("smtputf8") and c.has_extn("dsn")
        c.sendmail("from@a.test", ["one@b.test", "two@b.test"],
                   b"Subject: x\r\n\r\n.leading dot\r\nbody\r\n",
                   mail_options=["BODY=8BITMIME"], rcpt_options=["NOTIFY=NEVER"])
    assert sink.wait_messages(1, 5)
    msg = sink.messages[0]
    assert msg.mail_from == "from@a.test"
    assert msg.mail_params["BODY"] == "8BITMIME"
    assert msg.rcpts == ["one@b.test", "two@b.test"]
    assert msg.rcpt_params[0] == {"NOTIFY": "NEVER"}
    assert msg.data == b"Subject: x\r\n\r\n.leading dot\r\nbody\r\n"
    assert msg.helo == "client.test"
    assert msg.conn_id == 1
    assert sink.connections == 1
    assert (1, "ehlo client.test") in sink.commands   # smtplib: lower case


@pytest.mark.parametrize("knob", ["dict", "callable"])
def test_per_recipient_replies(sink, knob):
    table = {"bad@x.test": "550 5.1.1 no such user",
             "later@x.test": "451 4.3.0 try later"}
    sink.rcpt_reply = table if knob == "dict" else (lambda a: table.get(a))
    with smtplib.SMTP("127.0.0.1", sink.port, timeout=5) as c:
        refused = c.sendmail("s@a.test", ["good@x.test", "bad@x.test",
                                          "later@x.test"], b"hi\r\n")
    assert refused["bad@x.test"] == (550, b"5.1.1 no such user")
    assert refused["later@x.test"] == (451, b"4.3.0 try later")
    assert "good@x.test" not in refused
    assert sink.wait_messages(1, 5)
    assert sink.messages[0].rcpts == ["good@x.test"]


def test_all_recipients_refused_no_message(sink):
    sink.rcpt_reply = lambda a: "550 5.1.1 nobody"
    with smtplib.SMTP("127.0.0.1", sink.port, timeout=5) as c:
        with pytest.raises(smtplib.SMTPRecipientsRefused):
            c.sendmail("s@a.test", ["a@x.test"], b"hi\r\n")
    assert not sink.wait_messages(1, 0.3)
    assert sink.transactions == []


def test_mail_and_data_reply(sink):
    sink.data_reply = "554 5.7.1 content rejected"
    with smtplib.SMTP("127.0.0.1", sink.port, timeout=5) as c:
        with pytest.raises(smtplib.SMTPDataError) as err:
            c.sendmail("s@a.test", ["a@x.test"], b"hi\r\n")
        assert err.value.smtp_code == 554
    assert sink.messages == []
    assert len(sink.transactions) == 1
    assert sink.transactions[0].replies[""] == "554 5.7.1 content rejected"
    sink.data_reply = None
    sink.mail_reply = lambda s: "553 5.1.8 bad sender" if s == "x@y" else None
    with smtplib.SMTP("127.0.0.1", sink.port, timeout=5) as c:
        with pytest.raises(smtplib.SMTPSenderRefused):
            c.sendmail("x@y", ["a@x.test"], b"hi\r\n")
        c.rset()
        c.sendmail("ok@y", ["a@x.test"], b"hi\r\n")
    assert sink.wait_messages(1, 5)
    assert sink.messages[0].mail_from == "ok@y"


def test_pipelined_commands_answered_in_order(sink):
    sink.rcpt_reply = {"r2@x.test": "550 5.1.1 r2 unknown"}
    sock, rd = _raw(sink)
    assert _reply(rd)[0].startswith("220")
    sock.sendall(b"EHLO c.test\r\n")
    assert _reply(rd)[-1].startswith("250")
    # One write with the whole transaction, DATA content included.
    sock.sendall(b"MAIL FROM:<s@a.test>\r\nRCPT TO:<r1@x.test>\r\n"
                 b"RCPT TO:<r2@x.test>\r\nRCPT TO:<r3@x.test>\r\nDATA\r\n"
                 b"line1\r\n..dot\r\n.\r\nNOOP\r\nQUIT\r\n")
    got = [_reply(rd)[0][:3] for _ in range(8)]
    assert got == ["250", "250", "550", "250", "354", "250", "250", "221"]
    sock.close()
    assert sink.wait_messages(1, 5)
    assert sink.messages[0].rcpts == ["r1@x.test", "r3@x.test"]
    assert sink.messages[0].data == b"line1\r\n.dot\r\n"


def test_size_limit_enforced(sink):
    sink.extensions = ["SIZE 100", "PIPELINING"]
    with smtplib.SMTP("127.0.0.1", sink.port, timeout=5) as c:
        c.ehlo("c")
        assert c.does_esmtp and c.esmtp_features["size"] == "100"
        with pytest.raises(smtplib.SMTPSenderRefused) as err:
            c.sendmail("s@a", ["r@x"], b"x" * 200)
        assert err.value.smtp_code == 552


def test_ehlo_refused_helo_works(sink):
    sink.ehlo_reply = "502 5.5.2 no EHLO"
    with smtplib.SMTP("127.0.0.1", sink.port, timeout=5) as c:
        code, _ = c.ehlo("c.test")
        assert code == 502
        code, _ = c.helo("c.test")
        assert code == 250
        c.sendmail("s@a", ["r@x"], b"hi\r\n")
    assert sink.wait_messages(1, 5)
    assert sink.messages[0].helo == "c.test"


@pytest.mark.parametrize("greeting,expect", [("421 4.3.2 busy", 421),
                                             ("554 5.7.1 go away", 554)])
def test_bad_greeting(sink, greeting, expect):
    sink.greeting = greeting
    sock, rd = _raw(sink)
    assert _reply(rd) == [greeting]
    if expect == 421:
        assert rd.readline() == b""       # closed after 421
    else:
        sock.sendall(b"EHLO c\r\nMAIL FROM:<a@b>\r\nQUIT\r\n")
        assert _reply(rd)[0].startswith("503")
        assert _reply(rd)[0].startswith("503")
        assert _reply(rd)[0].startswith("221")
    sock.close()


@pytest.mark.parametrize("point", ["greeting", "ehlo", "mail", "rcpt",
                                   "data", "dot"])
def test_stall_at(sink, point):
    sink.stall_at = point
    sock, rd = _raw(sink, timeout=0.5)
    script = [b"EHLO c\r\n", b"MAIL FROM:<a@b>\r\n", b"RCPT TO:<r@x>\r\n",
              b"DATA\r\n", b"body\r\n.\r\n"]
    order = ["ehlo", "mail", "rcpt", "data", "dot"]
    with pytest.raises(socket.timeout):
        if point != "greeting":
            assert _reply(rd)[0].startswith("220")
            for step, cmd in zip(order, script):
                sock.sendall(cmd)
                if step == point:
                    break
                _reply(rd)
        rd.readline()
    # The connection is still open: sending does not fail.
    sock.sendall(b"NOOP\r\n")
    sock.close()
    assert sink.messages == []


@pytest.mark.parametrize("point", ["greeting", "ehlo", "mail", "rcpt",
                                   "data", "dot"])
def test_drop_at(sink, point):
    sink.drop_at = point
    sock, rd = _raw(sink)
    script = [b"EHLO c\r\n", b"MAIL FROM:<a@b>\r\n", b"RCPT TO:<r@x>\r\n",
              b"DATA\r\n", b"body\r\n.\r\n"]
    order = ["ehlo", "mail", "rcpt", "data", "dot"]
    if point != "greeting":
        assert _reply(rd)[0].startswith("220")
        for step, cmd in zip(order, script):
            sock.sendall(cmd)
            if step == point:
                break
            _reply(rd)
    assert rd.readline() == b""
    sock.close()
    assert sink.messages == []


def test_delay_knob(sink):
    sink.delay = 0.4
    start = time.monotonic()
    sock, rd = _raw(sink)
    _reply(rd)
    assert time.monotonic() - start >= 0.35
    sock.close()


def test_lmtp_per_recipient_replies_after_dot():
    with SmtpSink(lmtp=True) as sink:
        sink.data_reply = {"full@x.test": "452 4.2.2 mailbox full",
                           "gone@x.test": "550 5.1.1 gone"}
        sock, rd = _raw(sink)
        assert _reply(rd) == ["220 sink LMTP"]
        sock.sendall(b"EHLO c\r\n")
        assert _reply(rd)[0].startswith("500")     # LMTP wants LHLO
        sock.sendall(b"LHLO c\r\nMAIL FROM:<s@a>\r\nRCPT TO:<ok@x.test>\r\n"
                     b"RCPT TO:<full@x.test>\r\nRCPT TO:<gone@x.test>\r\n"
                     b"DATA\r\nhello\r\n.\r\nQUIT\r\n")
        assert _reply(rd)[-1].startswith("250")
        assert [_reply(rd)[0][:3] for _ in range(5)] == ["250"] * 4 + ["354"]
        after = [_reply(rd)[0] for _ in range(3)]
        assert after[0].startswith("250 2.0.0 <ok@x.test>")
        assert after[1] == "452 4.2.2 mailbox full"
        assert after[2] == "550 5.1.1 gone"
        assert _reply(rd)[0].startswith("221")
        sock.close()
        assert sink.wait_messages(1, 5)
        assert sink.messages[0].rcpts == ["ok@x.test"]
        assert set(sink.messages[0].replies) == {"ok@x.test", "full@x.test",
                                                  "gone@x.test"}


def test_unix_socket_mode(tmp_path):
    path = tmp_path / "lmtp.sock"
    with SmtpSink(lmtp=True, unix_path=path) as sink:
        assert sink.port is None
        assert path.is_socket()
        sock, rd = _raw(sink)
        _reply(rd)
        sock.sendall(b"LHLO c\r\nMAIL FROM:<>\r\nRCPT TO:<u@x>\r\nDATA\r\n")
        for _ in range(4):
            _reply(rd)
        sock.sendall(b"x\r\n.\r\n")
        assert _reply(rd)[0].startswith("250")
        sock.close()
        assert sink.wait_messages(1, 5)
        assert sink.messages[0].mail_from == ""
    assert not path.exists()


def test_max_concurrent_and_connections(sink):
    socks = []
    for _ in range(3):
        sock, rd = _raw(sink)
        _reply(rd)
        socks.append((sock, rd))
    assert sink.wait_connections(3, 5)
    deadline = time.monotonic() + 5
    while sink.max_concurrent < 3 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert sink.max_concurrent == 3
    for sock, rd in socks:
        rd.close()
        sock.close()
    deadline = time.monotonic() + 5
    while sink.active and time.monotonic() < deadline:
        time.sleep(0.02)
    assert sink.active == 0
    sock, rd = _raw(sink)
    _reply(rd)
    sock.close()
    assert sink.connections == 4
    assert sink.max_concurrent == 3


def test_parallel_senders_each_recorded(sink):
    def send(i):
        with smtplib.SMTP("127.0.0.1", sink.port, timeout=5) as c:
            c.sendmail("s%d@a" % i, ["r@x"], b"n\r\n")
    threads = [threading.Thread(target=send, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sink.wait_messages(8, 5)
    assert sorted(m.mail_from for m in sink.messages) == \
        sorted("s%d@a" % i for i in range(8))
    assert len({m.conn_id for m in sink.messages}) == 8


def test_stop_closes_stalled_sessions():
    sink = SmtpSink()
    sink.stall_at = "ehlo"
    sink.start()
    sock, rd = _raw(sink)
    _reply(rd)
    sock.sendall(b"EHLO c\r\n")
    start = time.monotonic()
    sink.stop()
    assert time.monotonic() - start < 3
    try:
        assert rd.readline() == b""
    except ConnectionResetError:
        pass
    sock.close()
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", sink.port), 1)
