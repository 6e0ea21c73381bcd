"""Integration tests for the postalias command and newaliases
(postalias/, lib/mail/alias_src, lib/mail/mkmap): building each table
type from aliases(5) files, queries, listings, JSON, deletion, -i,
exit codes, syntax errors with line numbers, duplicate warnings, name
folding, symbolic-link refusal, and newaliases rebuilding alias_database
(a failed rebuild leaves the old table answering)."""

import json
import os

import pytest

TYPES = {"hash": ".db", "btree": ".db", "lmdb": ".lmdb", "cdb": ".cdb"}

ALIASES = """\
# system aliases
Postmaster:   root
MAILER-DAEMON: postmaster
root:         alice@example.com, \\root
staff:        alice, bob,
              carol
  # an indented comment inside an entry
              , dave
"John Smith": john
list:         :include:/etc/postern/list.txt
robot:        "|/usr/local/bin/robot -v", /var/spool/robot.log
"a:b":        x
"""

EXPECTED = {
    "postmaster": "root",
    "mailer-daemon": "postmaster",
    "root": "alice@example.com, \\root",
    "staff": "alice, bob, carol , dave",
    "john smith": "john",
    "list": ":include:/etc/postern/list.txt",
    "robot": '"|/usr/local/bin/robot -v", /var/spool/robot.log',
    "a:b": "x",
}


def pa(run, config_dir, *args, **kw):
    """Run postalias -c CONFIG_DIR ARGS."""
    return run(["postalias", "-c", config_dir, *args], **kw)


def listing(text):
    """postalias -s output, parsed with its quoting, as a dict."""
    result = {}
    for line in text.splitlines():
        if line.startswith('"'):
            end = 1
            name = ""
            while line[end] != '"':
                if line[end] == "\\":
                    end += 1
                name += line[end]
                end += 1
            rest = line[end + 1:]
        else:
            name, _, rest = line.partition(":")
            rest = ":" + rest
        assert rest.startswith(": "), line
        result[name] = rest[2:]
    return result


@pytest.fixture
def aliases(tmp_path, write_file):
    return write_file(tmp_path / "aliases", ALIASES)


@pytest.fixture
def newaliases(tmp_path, bin_path):
    """newaliases: a symbolic link named so, pointing at postalias."""
    link = tmp_path / "bin" / "newaliases"
    link.parent.mkdir()
    os.symlink(bin_path("postalias"), link)
    return link


# ----------------------------------------------------------- building


@pytest.mark.parametrize("dbtype", sorted(TYPES))
def test_build_each_type(run, config_dir, aliases, dbtype):
    spec = f"{dbtype}:{aliases}"
    r = pa(run, config_dir, spec, expect=0)
    assert r.stderr == "" and r.stdout == ""
    assert os.path.isfile(str(aliases) + TYPES[dbtype])
    assert listing(pa(run, config_dir, "-s", spec, expect=0).stdout) == EXPECTED
    for name, value in EXPECTED.items():
        assert pa(run, config_dir, "-q", name, spec, expect=0).stdout == value + "\n"
    # Names are folded; so are query keys.
    assert pa(run, config_dir, "-q", "POSTMASTER", spec, expect=0).stdout == "root\n"
    assert pa(run, config_dir, "-q", "John Smith", spec, expect=0).stdout == "john\n"
    r = pa(run, config_dir, "-q", "nobody", spec, expect=1)
    assert r.stdout == "" and r.stderr == ""


def test_default_type(run, config_dir, aliases, write_file):
    pa(run, config_dir, aliases, expect=0)
    assert os.path.isfile(str(aliases) + ".db")
    write_file(config_dir / "main.cf", "default_database_type = cdb\n")
    pa(run, config_dir, aliases, expect=0)
    assert os.path.isfile(str(aliases) + ".cdb")
    assert pa(run, config_dir, "-q", "root", aliases, expect=0).stdout == \
        "alice@example.com, \\root\n"


def test_query_stdin_and_json(run, config_dir, aliases):
    pa(run, config_dir, aliases, expect=0)
    r = pa(run, config_dir, "-q", "-", aliases,
           input="staff\n  john smith  \nnobody\n\nlist\n", expect=0)
    assert r.stdout == ("staff: alice, bob, carol , dave\n"
                        '"john smith": john\n'
                        "list: :include:/etc/postern/list.txt\n")
    pa(run, config_dir, "-q", "-", aliases, input="nobody\n", expect=1)
    out = pa(run, config_dir, "-j", "-q", "robot", aliases, expect=0).stdout
    assert json.loads(out) == {"key": "robot", "value": EXPECTED["robot"]}
    lines = pa(run, config_dir, "-j", "-s", aliases, expect=0).stdout.splitlines()
    assert {o["key"]: o["value"] for o in map(json.loads, lines)} == EXPECTED


def test_delete_and_incremental(run, config_dir, aliases):
    pa(run, config_dir, aliases, expect=0)
    pa(run, config_dir, "-d", "Staff", aliases, expect=0)
    pa(run, config_dir, "-d", "staff", aliases, expect=1)
    pa(run, config_dir, "-q", "staff", aliases, expect=1)
    pa(run, config_dir, "-d", "-", aliases, input="john smith\nnobody\n", expect=0)
    pa(run, config_dir, "-q", "john smith", aliases, expect=1)
    r = pa(run, config_dir, "-i", aliases,
           input="New: one,\n  two\nroot: ignored\n", expect=0)
    assert 'standard input, line 3: duplicate entry: "root"' in r.stderr
    assert pa(run, config_dir, "-q", "new", aliases, expect=0).stdout == "one, two\n"
    assert pa(run, config_dir, "-q", "root", aliases, expect=0).stdout == \
        "alice@example.com, \\root\n"
    # A syntax error in the input changes nothing.
    r = pa(run, config_dir, "-i", aliases, input="fine: 1\nbroken line\n")
    assert r.returncode == 1
    assert "standard input, line 2: white space in alias name" in r.stderr
    pa(run, config_dir, "-q", "fine", aliases, expect=1)


# ----------------------------------------------------------- errors


@pytest.mark.parametrize("text,line,message", [
    ("a: b\nnocolon\n", 2, "missing ':' after the alias name"),
    ("a: b\n\n# c\nempty:\nz: y\n", 4, 'no value for alias "empty"'),
    (": x\n", 1, "empty alias name"),
    ("root postmaster\n", 1, "white space in alias name"),
    ('"open: x\n', 1, "unterminated quoted alias name"),
    ("  leading: x\n", 1, "continuation line without an entry before it"),
    ("a: b\nc: d\x00e\n", 2, "NUL byte in entry"),
])
def test_syntax_errors(run, config_dir, tmp_path, text, line, message):
    src = tmp_path / "aliases"
    src.write_bytes(text.encode())
    r = pa(run, config_dir, src)
    assert r.returncode == 1
    assert f"postalias: error: {src}, line {line}: {message}" in r.stderr
    assert not os.path.exists(str(src) + ".db")


def test_failed_build_keeps_old_table(run, config_dir, aliases, write_file):
    pa(run, config_dir, aliases, expect=0)
    write_file(aliases, "newname: x\nbroken\n")
    r = pa(run, config_dir, aliases)
    assert r.returncode == 1
    assert f"{aliases}, line 2: missing ':'" in r.stderr
    assert pa(run, config_dir, "-q", "postmaster", aliases, expect=0).stdout == "root\n"
    pa(run, config_dir, "-q", "newname", aliases, expect=1)
    assert sorted(p.name for p in aliases.parent.iterdir()) == \
        ["aliases", "aliases.db", "etc"]


def test_missing_file_and_corrupt_table(run, config_dir, tmp_path, write_file):
    r = pa(run, config_dir, tmp_path / "nothere")
    assert r.returncode == 1
    assert f"{tmp_path}/nothere: cannot open: No such file or directory" in r.stderr
    write_file(tmp_path / "broken.lmdb", "garbage" * 1000)
    r = pa(run, config_dir, "-q", "root", f"lmdb:{tmp_path}/broken")
    assert r.returncode == 2
    assert f"{tmp_path}/broken.lmdb" in r.stderr


def test_duplicates(run, config_dir, tmp_path, write_file):
    src = write_file(tmp_path / "aliases", "root: first\nRoot: second\nroot: third\n")
    r = pa(run, config_dir, src, expect=0)
    assert f'postalias: warning: {src}, line 2: duplicate entry: "root"' in r.stderr
    assert f'postalias: warning: {src}, line 3: duplicate entry: "root"' in r.stderr
    assert pa(run, config_dir, "-q", "root", src, expect=0).stdout == "first\n"
    assert pa(run, config_dir, "-w", src, expect=0).stderr == ""
    assert pa(run, config_dir, "-r", src, expect=0).stderr == ""
    assert pa(run, config_dir, "-q", "root", src, expect=0).stdout == "third\n"


def test_usage(run, config_dir, aliases):
    assert pa(run, config_dir).returncode == 1
    r = pa(run, config_dir, "-f", aliases)
    assert r.returncode == 1 and "usage: postalias" in r.stderr
    assert pa(run, config_dir, "-q", "x").returncode == 2


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root")
def test_symlink_refused_and_owner(run, config_dir, aliases, tmp_path):
    victim = tmp_path / "victim"
    victim.write_text("precious\n")
    link = str(aliases) + ".db"
    os.symlink(victim, link)
    os.lchown(link, 4321, 4321)
    r = pa(run, config_dir, aliases)
    assert r.returncode == 1
    assert f"{link}: refusing to write through a symbolic link owned by uid 4321" \
        in r.stderr
    assert victim.read_text() == "precious\n"
    os.unlink(link)
    os.chown(aliases, 4321, 4322)
    pa(run, config_dir, aliases, expect=0)
    st = os.stat(link)
    assert (st.st_uid, st.st_gid) == (4321, 4322)


# ----------------------------------------------------------- newaliases


def test_newaliases(run, config_dir, tmp_path, write_file, newaliases):
    one = write_file(tmp_path / "aliases", "root: admin\n")
    two = write_file(tmp_path / "more", "Staff: a, b\n")
    three = write_file(tmp_path / "text", "x: y\n")
    write_file(config_dir / "main.cf",
               f"alias_database = hash:{one}, lmdb:{two}\n"
               f"    texthash:{three}\n")
    r = run([newaliases, "-c", config_dir], expect=0)
    assert f"newaliases: hash:{one}: rebuilt from {one}" in r.stderr
    assert f"newaliases: lmdb:{two}: rebuilt from {two}" in r.stderr
    assert f"newaliases: texthash:{three}: skipped" in r.stderr
    assert pa(run, config_dir, "-q", "root", f"hash:{one}", expect=0).stdout == "admin\n"
    assert pa(run, config_dir, "-q", "staff", f"lmdb:{two}", expect=0).stdout == "a, b\n"
    assert not os.path.exists(str(three) + ".db")

    # A failed rebuild keeps the old table and does not stop the others.
    write_file(one, "root: changed\nbroken\n")
    write_file(two, "staff: c\n")
    r = run([newaliases, "-c", config_dir])
    assert r.returncode == 1
    assert f"newaliases: error: {one}, line 2: missing ':' after the alias name" in r.stderr
    assert f"hash:{one}: not rebuilt" in r.stderr
    assert f"newaliases: lmdb:{two}: rebuilt" in r.stderr
    assert pa(run, config_dir, "-q", "root", f"hash:{one}", expect=0).stdout == "admin\n"
    assert pa(run, config_dir, "-q", "staff", f"lmdb:{two}", expect=0).stdout == "c\n"


def test_newaliases_default_type(run, config_dir, tmp_path, write_file, newaliases):
    src = write_file(tmp_path / "aliases", "root: admin\n")
    write_file(config_dir / "main.cf",
               "default_database_type = cdb\n"
               f"alias_database = $default_database_type:{src}\n")
    run([newaliases, "-c", config_dir], expect=0)
    assert os.path.isfile(str(src) + ".cdb")


def test_newaliases_copy_and_usage(run, config_dir, tmp_path, write_file, bin_path):
    # A copy named newaliases works as well as a link.
    copy = tmp_path / "newaliases"
    copy.write_bytes(bin_path("postalias").read_bytes())
    copy.chmod(0o755)
    src = write_file(tmp_path / "aliases", "root: admin\n")
    write_file(config_dir / "main.cf", f"alias_database = hash:{src}\n")
    run([copy, "-c", config_dir], expect=0)
    assert os.path.isfile(str(src) + ".db")
    r = run([copy, "-c", config_dir, str(src)])
    assert r.returncode == 1
    assert "usage: newaliases" in r.stderr
    r = run([copy, "-c", config_dir, "-q", "root"])
    assert r.returncode == 1
