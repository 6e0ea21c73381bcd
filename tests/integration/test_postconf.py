"""Integration tests for the postconf command (postconf/, lib/mail/param,
lib/util/cfg): listings, expansion, editing main.cf, master.cf output,
JSON, configuration directory precedence and error reporting."""

import json
import os

import pytest

MASTER_CF = """\
# service type private unpriv chroot wakeup maxproc command + args
smtp      inet  n       -       n       -       -       smtpd
submission inet n       -       n       -       -       smtpd
  -o syslog_name=postern/submission
  -o { smtpd_client_restrictions = permit_sasl_authenticated, reject }
pickup    unix  n       -       n       60      1       pickup
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp -o smtp_fallback_relay=
"""


def lines(text):
    return text.splitlines()


def pc(run, config_dir, *args, **kw):
    """Run postconf -c CONFIG_DIR ARGS."""
    return run(["postconf", "-c", config_dir, *args], **kw)


def listing(text):
    """Parse "name = value" lines into a dict (checking the shape)."""
    result = {}
    for line in lines(text):
        assert " =" in line, line
        name, _, value = line.partition(" =")
        assert value == "" or value.startswith(" "), line
        result[name] = value[1:]
    return result


# ----------------------------------------------------------- listings


def test_defaults_listing(run, tmp_path):
    r = run(["postconf", "-c", tmp_path / "missing", "-d"], expect=0)
    assert r.stderr == ""
    names = [line.partition(" =")[0] for line in lines(r.stdout)]
    assert names == sorted(names)
    values = listing(r.stdout)
    assert values["mail_name"] == "Postern"
    assert values["mydestination"] == "$myhostname, localhost.$mydomain, localhost"
    assert values["queue_directory"] == "/var/spool/postern"
    assert values["maximal_queue_lifetime"] == "5d"
    assert values["relayhost"] == ""
    assert "relayhost =" in lines(r.stdout)
    assert values["mydomain"] and "." in values["myhostname"]
    assert "127.0.0.0/8" in values["mynetworks"].split()
    assert len(values) >= 50


def test_defaults_names_and_values(run, tmp_path):
    d = listing(run(["postconf", "-c", tmp_path, "-d"], expect=0).stdout)
    names = lines(run(["postconf", "-c", tmp_path, "-d", "-H"], expect=0).stdout)
    assert names == sorted(d)
    values = lines(run(["postconf", "-c", tmp_path, "-d", "-h"], expect=0).stdout)
    assert values == [d[n] for n in sorted(d)]
    one = run(["postconf", "-c", tmp_path, "-d", "-h", "max_use"], expect=0)
    assert one.stdout == "100\n"


def test_defaults_expanded(run, tmp_path):
    r = run(["postconf", "-c", tmp_path, "-d", "-x", "alias_maps", "smtpd_banner",
             "myhostname"], expect=0)
    d = listing(r.stdout)
    assert d["alias_maps"] == "hash:/etc/aliases"
    assert d["smtpd_banner"] == d["myhostname"] + " ESMTP Postern"


def test_defaults_ignore_main_cf(run, config_dir, write_file):
    write_file(config_dir / "main.cf", "max_use = 7\nthis line is broken\n")
    r = pc(run, config_dir, "-d", "max_use", expect=0)
    assert r.stdout == "max_use = 100\n"


def test_effective_values_and_nondefault(run, config_dir, write_file):
    write_file(config_dir / "main.cf",
               "# site settings\n"
               "myhostname = mail.example.org\n"
               "relayhost = [smtp.example.net]:587\n"
               "mydestination = $myhostname,\n"
               "    other.example\n")
    everything = listing(pc(run, config_dir, expect=0).stdout)
    assert everything["myhostname"] == "mail.example.org"
    assert everything["mydestination"] == "$myhostname, other.example"
    assert everything["max_use"] == "100"
    assert everything["config_directory"] == str(config_dir)

    r = pc(run, config_dir, "-n", expect=0)
    assert lines(r.stdout) == [
        "mydestination = $myhostname, other.example",
        "myhostname = mail.example.org",
        "relayhost = [smtp.example.net]:587",
    ]
    assert pc(run, config_dir, "-n", "-H", expect=0).stdout == \
        "mydestination\nmyhostname\nrelayhost\n"
    # -n with a name that main.cf does not set prints nothing.
    assert pc(run, config_dir, "-n", "max_use", expect=0).stdout == ""


def test_expand(run, config_dir, write_file):
    write_file(config_dir / "main.cf",
               "myhostname = mail.example.org\n"
               "home_mailbox = Maildir/$user/\n")
    r = pc(run, config_dir, "mydestination", "myorigin", "home_mailbox", expect=0)
    assert lines(r.stdout) == [
        "mydestination = $myhostname, localhost.$mydomain, localhost",
        "myorigin = $myhostname",
        "home_mailbox = Maildir/$user/",
    ]
    r = pc(run, config_dir, "-x", "mydestination", "myorigin", "home_mailbox",
           "mydomain", expect=0)
    assert lines(r.stdout) == [
        "mydestination = mail.example.org, localhost.example.org, localhost",
        "myorigin = mail.example.org",
        "home_mailbox = Maildir/$user/",          # never expanded
        "mydomain = example.org",
    ]
    assert pc(run, config_dir, "-xh", "smtpd_banner", expect=0).stdout == \
        "mail.example.org ESMTP Postern\n"


def test_expand_errors(run, config_dir, write_file):
    write_file(config_dir / "main.cf",
               "myorigin = $mydomain\nmydomain = x.$myorigin\n"
               "smtpd_banner = ${unterminated\n")
    r = pc(run, config_dir, "-x", "myorigin", "smtpd_banner", "mail_name")
    assert r.returncode == 1
    assert "myorigin -> mydomain -> myorigin" in r.stderr
    assert "unterminated" in r.stderr
    # The raw values are still printed, and so are the other names.
    assert lines(r.stdout) == ["myorigin = $mydomain", "smtpd_banner = ${unterminated",
                               "mail_name = Postern"]


def test_bad_dynamic_default(run, config_dir, write_file):
    write_file(config_dir / "main.cf", "max_use = 2\nmynetworks_style = bogus\n")
    r = pc(run, config_dir, "mynetworks")
    assert r.returncode == 1
    assert (f"postconf: fatal: {config_dir}/main.cf, line 2: bad parameter value: "
            "mynetworks_style = bogus (use host, subnet or class)") in r.stderr
    # Settings that do not need it still work.
    assert pc(run, config_dir, "-h", "max_use", expect=0).stdout == "2\n"
    write_file(config_dir / "main.cf", "mynetworks_style = subnet\ninet_protocols = ipv4\n")
    nets = pc(run, config_dir, "-h", "mynetworks", expect=0).stdout.split()
    assert nets[0] == "127.0.0.0/8"
    assert all("[" not in n for n in nets)


def test_unknown_name_on_command_line(run, config_dir):
    r = pc(run, config_dir, "mail_name", "no_such_param", "max_use")
    assert r.returncode == 1
    assert lines(r.stdout) == ["mail_name = Postern", "max_use = 100"]
    assert "postconf: warning: unknown parameter: no_such_param" in r.stderr
    r = pc(run, config_dir, "-d", "no_such_param")
    assert r.returncode == 1 and r.stdout == ""
    assert "unknown parameter: no_such_param" in r.stderr


def test_unknown_name_in_main_cf(run, config_dir, write_file):
    write_file(config_dir / "main.cf",
               "# comment\n"
               "relay_domains = $my_relays\n"
               "my_relays = a.example\n"
               "\n"
               "foo_bar = baz\n"
               "  continued\n"
               "max_use = 5\n")
    r = pc(run, config_dir, "-n", expect=0)
    warning = f"postconf: warning: {config_dir}/main.cf, line 5: unused parameter: foo_bar=baz continued"
    assert warning in lines(r.stderr)
    assert r.stderr.count("unused parameter") == 1
    assert "my_relays" not in r.stderr
    # -n still shows every setting, user-defined ones included.
    assert listing(r.stdout)["foo_bar"] == "baz continued"
    # The full listing shows the user-defined parameter that is used.
    everything = listing(pc(run, config_dir, expect=0).stdout)
    assert everything["my_relays"] == "a.example"
    assert "foo_bar" not in everything
    assert pc(run, config_dir, "-x", "relay_domains", expect=0).stdout == \
        "relay_domains = a.example\n"
    assert pc(run, config_dir, "my_relays", expect=0).stdout == "my_relays = a.example\n"
    assert pc(run, config_dir, "foo_bar").returncode == 1


def test_missing_main_cf(run, config_dir):
    r = pc(run, config_dir, "max_use", expect=0)
    assert r.stdout == "max_use = 100\n"
    assert "main.cf: No such file or directory" in r.stderr
    r = pc(run, config_dir, "-n", expect=0)
    assert r.stdout == ""


def test_broken_main_cf(run, config_dir, write_file):
    write_file(config_dir / "main.cf", "max_use = 5\n\nnot a setting\n")
    r = pc(run, config_dir, "max_use")
    assert r.returncode == 1
    assert r.stdout == ""
    assert f"{config_dir}/main.cf, line 3: missing '='" in r.stderr
    write_file(config_dir / "main.cf", "  starts with a space = 1\n")
    r = pc(run, config_dir, "-n")
    assert r.returncode == 1
    assert "line 1: continuation line" in r.stderr


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
def test_unreadable_main_cf(run, config_dir, write_file):
    path = write_file(config_dir / "main.cf", "max_use = 5\n")
    path.chmod(0)
    r = pc(run, config_dir, "max_use")
    assert r.returncode == 1
    assert "Permission denied" in r.stderr
    assert pc(run, config_dir, "-d", "max_use", expect=0).stdout == "max_use = 100\n"


def test_usage_errors(run, config_dir):
    for args in (["-d", "-n"], ["-Z"], ["-e"], ["-X"], ["-e", "-X", "a=b"],
                 ["-d", "-e", "a=b"], ["-h", "-H"], ["-d", "-M"], ["-c"]):
        r = pc(run, config_dir, *args)
        assert r.returncode == 1, args
        assert "usage: postconf" in r.stderr, args
        assert r.stdout == "", args


def test_config_dir_precedence(run, tmp_path, write_file):
    a = tmp_path / "a"
    b = tmp_path / "b"
    a.mkdir()
    b.mkdir()
    write_file(a / "main.cf", "myorigin = from-a\n")
    write_file(b / "main.cf", "myorigin = from-b\n")
    env = {"MAIL_CONFIG": a}
    assert run(["postconf", "-h", "myorigin"], env=env, expect=0).stdout == "from-a\n"
    assert run(["postconf", "-h", "config_directory"], env=env, expect=0).stdout == f"{a}\n"
    assert run(["postconf", "-c", b, "-h", "myorigin"], env=env, expect=0).stdout == "from-b\n"
    # Without either, the compiled-in directory.
    r = run(["postconf", "-d", "-h", "config_directory"], expect=0)
    assert r.stdout == "/etc/postern\n"


# ------------------------------------------------------------- JSON


def test_json_listing(run, config_dir, write_file):
    write_file(config_dir / "main.cf",
               'smtpd_banner = $myhostname "quoted" back\\slash\ttab \xe9t\xe9\n'
               "relayhost =\n")
    r = pc(run, config_dir, "-j", expect=0)
    objects = [json.loads(line) for line in lines(r.stdout)]
    assert all(set(o) == {"name", "value"} for o in objects)
    by_name = {o["name"]: o["value"] for o in objects}
    assert by_name["smtpd_banner"] == '$myhostname "quoted" back\\slash\ttab \xe9t\xe9'
    assert by_name["relayhost"] == ""
    assert by_name["max_use"] == "100"
    # -j keeps its shape under -h/-H; -d and -x change the value.
    for flags in (["-jH"], ["-jh"], ["-jn"]):
        for line in lines(pc(run, config_dir, *flags, expect=0).stdout):
            assert set(json.loads(line)) == {"name", "value"}
    r = pc(run, config_dir, "-jdx", "alias_maps", expect=0)
    assert json.loads(r.stdout) == {"name": "alias_maps", "value": "hash:/etc/aliases"}


def test_json_invalid_utf8(run, config_dir):
    (config_dir / "main.cf").write_bytes(b"mail_name = a\xffb\x01c\n")
    r = run(["postconf", "-c", config_dir, "-j", "mail_name"], expect=0)
    assert json.loads(r.stdout) == {"name": "mail_name", "value": "a\ufffdb\x01c"}


# ----------------------------------------------------------- editing


def test_edit_replaces_atomically(run, config_dir, write_file):
    path = write_file(config_dir / "main.cf",
                      "# Header comment\n"
                      "myhostname = old.example\n"
                      "\n"
                      "# about mydestination\n"
                      "mydestination = a,\n"
                      "    b,\n"
                      "\tc\n"
                      "relayhost = [old]\n"
                      "# trailing comment\n")
    path.chmod(0o640)
    before = path.stat()
    r = pc(run, config_dir, "-e", "mydestination = x, y", "myhostname=new.example",
           "message_size_limit=1000", expect=0)
    assert r.stdout == "" and r.stderr == ""
    after = path.stat()
    assert after.st_ino != before.st_ino          # replaced by rename
    assert after.st_mode & 0o7777 == 0o640        # mode kept
    assert sorted(os.listdir(config_dir)) == ["main.cf"]   # no temp files
    assert path.read_text() == (
        "# Header comment\n"
        "myhostname = new.example\n"
        "\n"
        "# about mydestination\n"
        "mydestination = x, y\n"
        "relayhost = [old]\n"
        "# trailing comment\n"
        "message_size_limit = 1000\n")
    values = listing(pc(run, config_dir, "-n", expect=0).stdout)
    assert values == {"myhostname": "new.example", "mydestination": "x, y",
                      "relayhost": "[old]", "message_size_limit": "1000"}


def test_edit_creates_and_duplicates(run, config_dir):
    pc(run, config_dir, "-e", "relayhost=[smtp.example.net]:587", "a_b=1", expect=0)
    path = config_dir / "main.cf"
    assert path.read_text() == "relayhost = [smtp.example.net]:587\na_b = 1\n"
    path.write_text("max_use = 1\nmax_use = 2\n  x\nother = 3\n")
    pc(run, config_dir, "-e", "max_use=9", "max_use=10", expect=0)
    assert path.read_text() == "max_use = 10\nother = 3\n"
    pc(run, config_dir, "-e", "relayhost=", expect=0)
    assert path.read_text() == "max_use = 10\nother = 3\nrelayhost =\n"


def test_edit_bad_arguments(run, config_dir, write_file):
    path = write_file(config_dir / "main.cf", "max_use = 1\n")
    before = path.stat().st_ino
    for args in (["-e", "max_use"], ["-e", "bad name=1"], ["-X", "a=b"], ["-#", "a b"],
                 ["-e", "ok=1", "=2"]):
        r = pc(run, config_dir, *args)
        assert r.returncode == 1, args
        assert r.stderr, args
    assert path.read_text() == "max_use = 1\n"
    assert path.stat().st_ino == before
    r = run(["postconf", "-c", config_dir / "nodir", "-e", "a=1"])
    assert r.returncode == 1
    assert "nodir" in r.stderr


def test_remove(run, config_dir, write_file):
    path = write_file(config_dir / "main.cf",
                      "a_x = 1\n"
                      "# keep me\n"
                      "relayhost = [r]\n"
                      "  continued\n"
                      "max_use = 5\n"
                      "relayhost = again\n")
    pc(run, config_dir, "-X", "relayhost", "not_there", expect=0)
    assert path.read_text() == "a_x = 1\n# keep me\nmax_use = 5\n"
    # Nothing to remove: the file is left alone.
    ino = path.stat().st_ino
    pc(run, config_dir, "-X", "relayhost", expect=0)
    assert path.stat().st_ino == ino
    # A missing main.cf has nothing to remove.
    (config_dir / "main.cf").unlink()
    pc(run, config_dir, "-X", "relayhost", expect=0)


def test_comment_out(run, config_dir, write_file):
    path = write_file(config_dir / "main.cf",
                      "relayhost = [r]\n"
                      "  continued\n"
                      "max_use = 5\n")
    pc(run, config_dir, "-#", "relayhost", expect=0)
    assert path.read_text() == "#relayhost = [r]\n#  continued\nmax_use = 5\n"
    assert pc(run, config_dir, "-n", expect=0).stdout == "max_use = 5\n"


# ------------------------------------------------------------ master.cf


def test_master_listing(run, config_dir, write_file):
    write_file(config_dir / "master.cf", MASTER_CF)
    r = pc(run, config_dir, "-M", expect=0)
    out = lines(r.stdout)
    assert len(out) == 5
    assert out[0].split() == ["smtp", "inet", "n", "-", "n", "-", "-", "smtpd"]
    assert out[0].startswith("smtp       inet  n       -")
    assert out[1] == ("submission inet  n       -       n       -       -       smtpd"
                      " -o syslog_name=postern/submission -o"
                      " { smtpd_client_restrictions = permit_sasl_authenticated, reject }")
    assert out[2].split() == ["pickup", "unix", "n", "-", "n", "60", "1", "pickup"]
    assert out[4].endswith("smtp -o smtp_fallback_relay=")
    # The normalised output parses back to the same entries.
    write_file(config_dir / "master.cf", r.stdout)
    assert pc(run, config_dir, "-M", expect=0).stdout == r.stdout


def test_master_selection(run, config_dir, write_file):
    write_file(config_dir / "master.cf", MASTER_CF)
    r = pc(run, config_dir, "-M", "smtp/inet", expect=0)
    assert [line.split()[:2] for line in lines(r.stdout)] == [["smtp", "inet"]]
    r = pc(run, config_dir, "-M", "smtp", expect=0)
    assert [line.split()[:2] for line in lines(r.stdout)] == [["smtp", "inet"],
                                                              ["smtp", "unix"]]
    r = pc(run, config_dir, "-M", "pickup/unix", "nosuch", "smtp/fifo")
    assert r.returncode == 1
    assert [line.split()[0] for line in lines(r.stdout)] == ["pickup"]
    assert "nosuch: no such service" in r.stderr
    assert "smtp/fifo: no such service" in r.stderr


def test_master_json(run, config_dir, write_file):
    write_file(config_dir / "master.cf", MASTER_CF)
    r = pc(run, config_dir, "-jM", expect=0)
    objects = [json.loads(line) for line in lines(r.stdout)]
    keys = {"service", "type", "private", "unpriv", "chroot", "wakeup", "maxproc",
            "command", "args", "overrides"}
    assert all(set(o) == keys for o in objects)
    sub = objects[1]
    assert sub["service"] == "submission" and sub["type"] == "inet"
    assert sub["private"] == "n" and sub["unpriv"] == "-" and sub["maxproc"] == "-"
    assert sub["command"] == "smtpd"
    assert sub["args"] == ["-o", "syslog_name=postern/submission", "-o",
                           "smtpd_client_restrictions = permit_sasl_authenticated, reject"]
    assert sub["overrides"] == [
        {"name": "syslog_name", "value": "postern/submission"},
        {"name": "smtpd_client_restrictions", "value": "permit_sasl_authenticated, reject"},
    ]
    assert objects[2]["wakeup"] == "60" and objects[2]["maxproc"] == "1"
    assert objects[4]["overrides"] == [{"name": "smtp_fallback_relay", "value": ""}]
    r = pc(run, config_dir, "-jM", "pickup", expect=0)
    assert json.loads(r.stdout)["service"] == "pickup"


def test_master_errors(run, config_dir, write_file):
    r = pc(run, config_dir, "-M")
    assert r.returncode == 1
    assert "master.cf" in r.stderr
    write_file(config_dir / "master.cf", "smtp inet n - n - -\n")
    r = pc(run, config_dir, "-M")
    assert r.returncode == 1
    assert "line 1" in r.stderr
