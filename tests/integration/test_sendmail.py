"""Local submission: sendmail, postdrop and pickup.

Most tests run sendmail against an instance that is NOT started (mail is
accepted while the system is down) and inspect the maildrop file with
qfilelib; the pickup tests start an instance whose master.cf runs only
pickup (woken every second) and cleanup, and look at incoming/ and
corrupt/.
"""

import os
import stat
import subprocess
import time

import pytest

from conftest import wait_for
import qfilelib

# pickup is woken every second so tests need not wait for the default 60.
PICKUP_MASTER_CF = """\
pickup    unix  n       -       n       1       1       pickup
cleanup   unix  n       -       n       -       0       cleanup
"""

EX_USAGE, EX_DATAERR, EX_NOUSER, EX_UNAVAILABLE, EX_TEMPFAIL = 64, 65, 67, 69, 75


def sendmail(bin_path, inst, args, data=b"", name="sendmail", timeout=30):
    """Run sendmail -C CONFIG args with bytes on stdin."""
    env = dict(os.environ)
    env.pop("MAIL_CONFIG", None)
    prog = str(bin_path("sendmail"))
    argv0 = name
    return subprocess.run([argv0, "-C", str(inst.config_dir), *args],
                          executable=prog, input=data, capture_output=True,
                          env=env, timeout=timeout)


def postdrop(bin_path, inst, data):
    env = dict(os.environ)
    env.pop("MAIL_CONFIG", None)
    return subprocess.run([str(bin_path("postdrop")), "-c", str(inst.config_dir)],
                          input=data, capture_output=True, env=env, timeout=30)


def maildrop_files(inst):
    d = inst.queue_dir / "maildrop"
    return sorted(p for p in d.iterdir() if not p.name.startswith("tmp."))


def only_maildrop(inst):
    files = maildrop_files(inst)
    assert len(files) == 1, files
    return files[0], qfilelib.parse_qfile(files[0])


# ------------------------------------------------------- record streams

def rec(rtype, payload=b""):
    """One queue-file record: type, LEB128 length, payload."""
    if isinstance(payload, str):
        payload = payload.encode()
    n = len(payload)
    length = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            length.append(b | 0x80)
        else:
            length.append(b)
            break
    return rtype.encode() + bytes(length) + payload


def header(flags=0):
    fields = [1, 0, 0, 0, 0, flags]
    return rec("C", " ".join("%015d" % f for f in fields))


def stream(*middle, rcpt=True, content=(b"Subject: x", b"", b"body")):
    parts = [header(), rec("T", "1 0"), rec("S", "me@example.com")]
    parts += list(middle)
    if rcpt:
        parts.append(rec("R", "you@example.com"))
    parts.append(rec("M"))
    parts += [rec("N", line) for line in content]
    parts.append(rec("E"))
    return b"".join(parts)


# ------------------------------------------------------- command line

@pytest.fixture
def stopped(instance_factory):
    return instance_factory(master_cf=PICKUP_MASTER_CF, start=False)


def test_unknown_option_is_a_usage_error(bin_path, stopped):
    r = sendmail(bin_path, stopped, ["-Z", "root"], b"x\n")
    assert r.returncode == EX_USAGE
    assert b"usage: sendmail" in r.stderr
    r = sendmail(bin_path, stopped, ["-bz", "root"], b"x\n")
    assert r.returncode == EX_USAGE
    r = sendmail(bin_path, stopped, ["-f"], b"")
    assert r.returncode == EX_USAGE
    assert maildrop_files(stopped) == []


def test_no_recipient_is_a_usage_error(bin_path, stopped):
    r = sendmail(bin_path, stopped, [], b"Subject: x\n\nhi\n")
    assert r.returncode == EX_USAGE
    assert maildrop_files(stopped) == []


def test_bad_recipient_is_nouser(bin_path, stopped):
    r = sendmail(bin_path, stopped, ["good", "bad@@x"], b"hi\n")
    assert r.returncode == EX_NOUSER, r.stderr
    assert b"bad@@x" in r.stderr
    assert maildrop_files(stopped) == []


def test_ignored_options_are_accepted(bin_path, stopped):
    args = ["-v", "-oem", "-oee", "-oep", "-oeq", "-oew", "-odi", "-odb", "-odq",
            "-oQ/tmp", "-om", "-oo", "-U", "-X", "/dev/null", "-h", "5",
            "-n", "-O", "Opt=val", "-L", "label", "-G", "-m",
            "-FCronDaemon", "-i", "-B8BITMIME", "root"]
    r = sendmail(bin_path, stopped, args, b"Subject: cron\n\nout\n")
    assert r.returncode == 0, r.stderr
    assert b"ignored" in r.stderr          # -v shows what was ignored
    _, q = only_maildrop(stopped)
    assert [x["address"] for x in q.rcpts] == ["root"]
    assert q.attrs["full_name"] == "CronDaemon"
    assert q.attrs["encoding"] == "8bit"
    assert q.header["flags"] & 2            # QFILE_FLAG_8BITMIME
    assert q.attrs["submit_uid"] == str(os.getuid())


def test_envelope_options(bin_path, stopped):
    r = sendmail(bin_path, stopped,
                 ["-f", "sender@example.com", "-F", "Full Name", "-N",
                  "success,delay", "-R", "hdrs", "-V", "env-42",
                  "a@example.com,b@example.com", "c"], b"hi\n")
    assert r.returncode == 0, r.stderr
    _, q = only_maildrop(stopped)
    assert q.sender == "sender@example.com"
    assert q.envid == "env-42"
    assert q.ret == "HDRS"
    assert [x["address"] for x in q.rcpts] == ["a@example.com", "b@example.com", "c"]
    assert all(x["notify"] == 1 | 4 for x in q.rcpts)


def test_null_sender_and_default_sender(bin_path, stopped):
    import pwd
    r = sendmail(bin_path, stopped, ["-f", "<>", "x"], b"hi\n")
    assert r.returncode == 0, r.stderr
    _, q = only_maildrop(stopped)
    assert q.sender == ""
    for p in maildrop_files(stopped):
        p.unlink()
    r = sendmail(bin_path, stopped, ["x"], b"hi\n")
    assert r.returncode == 0, r.stderr
    _, q = only_maildrop(stopped)
    assert q.sender == pwd.getpwuid(os.getuid()).pw_name


def test_bad_dsn_options(bin_path, stopped):
    for args in (["-N", "sometimes"], ["-N", "never,success"], ["-R", "all"],
                 ["-B", "BINARYMIME"]):
        r = sendmail(bin_path, stopped, args + ["x"], b"hi\n")
        assert r.returncode == EX_USAGE, args
    assert maildrop_files(stopped) == []


# ------------------------------------------------------- message input

def test_dot_ends_input_without_i(bin_path, stopped):
    r = sendmail(bin_path, stopped, ["x"], b"a\n.\nb\n")
    assert r.returncode == 0, r.stderr
    _, q = only_maildrop(stopped)
    assert q.content == b"a\n"


@pytest.mark.parametrize("opt", ["-i", "-oi"])
def test_dot_kept_with_i(bin_path, stopped, opt):
    r = sendmail(bin_path, stopped, [opt, "x"], b"a\n.\n..\nb\n")
    assert r.returncode == 0, r.stderr
    _, q = only_maildrop(stopped)
    assert q.content == b"a\n.\n..\nb\n"


def test_crlf_and_8bit_and_long_lines(bin_path, stopped):
    body = bytes(range(0x80, 0x100)) + b"\r\n"       # 8-bit bytes, CRLF
    body += b"mid\rcr stays\r\n"                      # a lone CR is content
    body += b"L" * 200000 + b"\r\n"                  # longer than a piece
    body += b"x" * 65535 + b"\r\n"                   # CR at a piece edge
    body += b"no final newline"
    msg = b"Subject: bytes\r\n\r\n" + body
    r = sendmail(bin_path, stopped, ["-i", "x"], msg)
    assert r.returncode == 0, r.stderr
    _, q = only_maildrop(stopped)
    expect = msg.replace(b"\r\n", b"\n") + b"\n"
    assert q.content == expect


def test_extract_flag_and_bcc(bin_path, stopped):
    msg = (b"To: to@example.com\nCc: Someone <cc@example.com>, other@example.com\n"
           b"Bcc: hidden@example.com\nSubject: t\n\nbody\nTo: notaheader@x\n")
    r = sendmail(bin_path, stopped, ["-t", "extra@example.com"], msg)
    assert r.returncode == 0, r.stderr
    _, q = only_maildrop(stopped)
    assert q.attrs["flags"] == "1"
    env = [x["address"] for x in q.rcpts if not x["extracted"]]
    ext = [x["address"] for x in q.rcpts if x["extracted"]]
    assert env == ["extra@example.com"]
    assert ext == ["to@example.com", "cc@example.com", "other@example.com",
                   "hidden@example.com"]


def test_extract_without_recipients(bin_path, stopped):
    r = sendmail(bin_path, stopped, ["-t"], b"Subject: nobody\n\nhi\n")
    assert r.returncode == EX_NOUSER
    assert b"no recipient" in r.stderr
    assert maildrop_files(stopped) == []


def test_message_size_limit(bin_path, instance_factory):
    inst = instance_factory(master_cf=PICKUP_MASTER_CF, start=False,
                            settings={"message_size_limit": "1000"})
    r = sendmail(bin_path, inst, ["x"], b"Subject: big\n\n" + b"y" * 2000 + b"\n")
    assert r.returncode == EX_DATAERR
    assert b"size" in r.stderr
    assert maildrop_files(inst) == []


def test_tempfail_when_maildrop_is_unusable(bin_path, stopped):
    (stopped.queue_dir / "maildrop").rmdir()
    r = sendmail(bin_path, stopped, ["-bm", "x"], b"hi\n")
    assert r.returncode == EX_TEMPFAIL
    assert b"maildrop" in r.stderr


def test_tempfail_without_postdrop(bin_path, stopped):
    stopped.postconf("-e", f"command_directory={stopped.base}/nonexistent")
    r = sendmail(bin_path, stopped, ["x"], b"hi\n")
    assert r.returncode == EX_TEMPFAIL
    assert b"postdrop" in r.stderr


# ------------------------------------------------------- postdrop

def test_postdrop_accepts_a_clean_stream(bin_path, stopped):
    r = postdrop(bin_path, stopped, stream(rec("A", "full_name=Me")))
    assert r.returncode == 0, r.stderr
    path, q = only_maildrop(stopped)
    assert stat.S_IMODE(path.stat().st_mode) & stat.S_IXUSR   # complete
    assert q.attrs == {"submit_uid": str(os.getuid()), "full_name": "Me"}
    assert q.time != (1, 0)                  # postdrop stamps its own time
    assert q.content == b"Subject: x\n\nbody\n"


@pytest.mark.parametrize("bad", [
    rec("A", "submit_uid=0"),                # a forged uid
    rec("A", "client_address=10.0.0.1"),     # trusted-only attribute
    rec("A", "log_ident=ABCDEF"),
    rec("A", "flags=4"),                     # CLEANUP_F_LOCAL is not the user's
    rec("A", "encoding=binary"),
    rec("W", "%015d" % 0),                   # warning time
    rec("D", "done@example.com"),            # a "done" recipient
    rec("S", "second@example.com"),          # second sender
    rec("O", "orig"),                        # recipient attribute, no recipient
])
def test_postdrop_refuses_forged_records(bin_path, stopped, bad):
    if bad.startswith(b"O"):
        data = (header() + rec("T", "1 0") + rec("S", "me@example.com")
                + rec("R", "you@example.com") + bad + rec("M") + rec("E"))
    else:
        data = stream(bad)
    r = postdrop(bin_path, stopped, data)
    assert r.returncode == EX_DATAERR, r.stderr
    assert b"postdrop" in r.stderr
    assert list((stopped.queue_dir / "maildrop").iterdir()) == []


@pytest.mark.parametrize("data", [
    b"",
    b"garbage",
    header(),                                # no end
    stream()[:-2],                           # truncated
    stream() + b"E\x00",                     # data after the end
    stream(rcpt=False),                      # no recipient
    header() + rec("S", "x") + rec("M") + rec("N", "a") + rec("E"),
    header() + rec("S", "x") + rec("R", "y") + rec("M") + rec("L", "a") + rec("E"),
    header() + rec("S", "x") + rec("R", "y") + rec("M") + rec("M") + rec("E"),
    header() + rec("S", "x") + rec("R", "y") + rec("M") + rec("X")
    + rec("R", "z") + rec("E"),              # extracted without the flag
])
def test_postdrop_refuses_malformed_streams(bin_path, stopped, data):
    r = postdrop(bin_path, stopped, data)
    assert r.returncode == EX_DATAERR, (data, r.stderr)
    assert list((stopped.queue_dir / "maildrop").iterdir()) == []


def test_postdrop_usage(bin_path, stopped):
    r = subprocess.run([str(bin_path("postdrop")), "-x"], capture_output=True)
    assert r.returncode == EX_USAGE


# ------------------------------------------------------- pickup

def complete_incoming(inst):
    """Files in incoming/ that cleanup has marked complete (owner x bit)."""
    d = inst.queue_dir / "incoming"
    return sorted(p for p in d.iterdir() if p.stat().st_mode & stat.S_IXUSR)


def wait_incoming(inst, count, timeout=15):
    wait_for(lambda: len(complete_incoming(inst)) >= count, timeout,
             what=f"{count} complete file(s) in incoming/")
    return [qfilelib.parse_qfile(p) for p in complete_incoming(inst)]


def wait_maildrop_empty(inst, timeout=15):
    # pickup removes a file right after cleanup's reply.
    wait_for(lambda: maildrop_files(inst) == [], timeout,
             what="an empty maildrop/")


def test_mail_sent_while_stopped_is_picked_up(bin_path, stopped):
    msg = b"To: x@example.com\nBcc: hidden@example.com\nSubject: late\n\n" \
          b"\xe9t\xe9 8-bit body\n"
    r = sendmail(bin_path, stopped, ["-t", "-FSomebody"], msg)
    assert r.returncode == 0, r.stderr
    path, _ = only_maildrop(stopped)
    ident = path.name
    stopped.start()
    files = wait_incoming(stopped, 1)
    stopped.wait_log(f"{ident}: uid={os.getuid()} from=<")
    wait_maildrop_empty(stopped)
    q = files[0]
    assert q.attrs.get("log_ident") == ident
    assert sorted(x["address"] for x in q.rcpts) == ["hidden@example.com",
                                                      "x@example.com"]
    assert q.hdr("Bcc") == []
    assert q.body() == b"\xe9t\xe9 8-bit body\n"


def test_pickup_moves_corrupt_files(bin_path, stopped):
    d = stopped.queue_dir / "maildrop"
    bad = d / "ABCDE12345"
    bad.write_bytes(b"this is not a queue file\n")
    os.chmod(bad, 0o744)
    r = postdrop(bin_path, stopped, stream())    # a good one beside it
    assert r.returncode == 0, r.stderr
    good = [p for p in maildrop_files(stopped) if p.name != "ABCDE12345"][0]
    incomplete = d / "ABCDE12347"            # no completion mark: left alone
    incomplete.write_bytes(b"partial")
    os.chmod(incomplete, 0o600)
    stopped.start()
    stopped.wait_log("ABCDE12345: maildrop file moved to corrupt/")
    wait_incoming(stopped, 1)
    assert (stopped.queue_dir / "corrupt" / "ABCDE12345").exists()
    wait_for(lambda: not good.exists(), 15, what=f"{good} removed")
    time.sleep(1.5)
    assert incomplete.exists()


def test_pickup_refuses_forged_maildrop_file(bin_path, stopped):
    # A maildrop file that postdrop would never write: no submit_uid.
    d = stopped.queue_dir / "maildrop"
    data = header() + rec("T", "1 0") + rec("S", "me@example.com") \
        + rec("R", "you@example.com") + rec("M") + rec("N", "hi") + rec("E")
    # Give it correct header values so that only the rules differ.
    recs = qfilelib.read_records(data)
    content_offset = [o for t, _, o in recs if t == "M"][0]
    tail = [o for t, _, o in recs if t == "E"][0]
    hdr = " ".join("%015d" % v for v in (1, content_offset, tail, 3, 1, 0))
    data = rec("C", hdr) + data[len(header()):]
    f = d / "ABCDE54321"
    f.write_bytes(data)
    os.chmod(f, 0o744)
    stopped.start()
    stopped.wait_log("ABCDE54321: maildrop file moved to corrupt/: "
                     "no submit_uid attribute")
    assert (stopped.queue_dir / "corrupt" / "ABCDE54321").exists()


# ------------------------------------------------------- -bs, -bp, -q

def test_smtp_session(bin_path, stopped):
    session = (b"EHLO client\r\n"
               b"MAIL FROM:<s@example.com> BODY=8BITMIME\r\n"
               b"RCPT TO:<r1@example.com>\r\n"
               b"RCPT TO:<bad@@x>\r\n"
               b"RCPT TO:<r2@example.com> NOTIFY=NEVER\r\n"
               b"DATA\r\n"
               b"Subject: smtp\r\n\r\n..leading dot\r\nline\r\n.\r\n"
               b"DATA\r\n"
               b"BOGUS\r\n"
               b"NOOP\r\n"
               b"QUIT\r\n")
    r = sendmail(bin_path, stopped, ["-bs"], session)
    assert r.returncode == 0, r.stderr
    replies = [l.split(b" ")[0].split(b"-")[0] for l in r.stdout.split(b"\r\n") if l]
    assert replies[0] == b"220"
    out = r.stdout.decode()
    assert "250-8BITMIME" in out
    assert "501 5.1.3" in out
    assert "250 2.0.0 Ok: queued" in out
    assert "503" in out                      # DATA without MAIL
    assert "502" in out                      # BOGUS
    assert out.rstrip().endswith("221 2.0.0 Bye")
    _, q = only_maildrop(stopped)
    assert q.sender == "s@example.com"
    assert [x["address"] for x in q.rcpts] == ["r1@example.com", "r2@example.com"]
    assert q.content == b"Subject: smtp\n\n.leading dot\nline\n"
    assert q.attrs["encoding"] == "8bit"


def test_smtp_session_client_vanishes(bin_path, stopped):
    session = (b"HELO c\r\nMAIL FROM:<s@example.com>\r\nRCPT TO:<r@example.com>\r\n"
               b"DATA\r\nSubject: cut\r\n\r\nno end")
    r = sendmail(bin_path, stopped, ["-bs"], session)
    assert r.returncode == 0
    assert maildrop_files(stopped) == []


def test_mailq(bin_path, stopped):
    # The listing comes from the showq service: none while stopped.
    r = sendmail(bin_path, stopped, ["-bp"])
    assert r.returncode == EX_UNAVAILABLE
    assert r.stdout == b""
    assert b"not running" in r.stderr
    # With showq (and no pickup, so the message stays in maildrop/).
    stopped.write_master_cf("showq unix n - n - - showq\n")
    stopped.start()
    r = sendmail(bin_path, stopped, ["-bp"])
    assert r.returncode == 0, r.stderr
    assert r.stdout == b"Mail queue is empty\n"
    r = sendmail(bin_path, stopped, ["-f", "who@example.com", "to@example.com"],
                 b"hi\n")
    assert r.returncode == 0
    r = sendmail(bin_path, stopped, [], name="mailq")
    assert r.returncode == 0, r.stderr
    out = r.stdout.decode()
    assert "who@example.com" in out and "to@example.com" in out
    assert "in 1 Request." in out


def test_flush_when_stopped(bin_path, stopped):
    r = sendmail(bin_path, stopped, ["-q"])
    assert r.returncode == EX_UNAVAILABLE
    assert b"not running" in r.stderr


def test_newaliases(bin_path, stopped, tmp_path):
    aliases = tmp_path / "aliases"
    aliases.write_text("postmaster: root\n")
    stopped.postconf("-e", f"alias_database=hash:{aliases}",
                     f"alias_maps=hash:{aliases}")
    r = sendmail(bin_path, stopped, ["-bi"])
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "aliases.db").exists()
    (tmp_path / "aliases.db").unlink()
    r = sendmail(bin_path, stopped, [], name="newaliases")
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "aliases.db").exists()
