"""Integration tests for the postmap command (postmap/, lib/mail/mkmap,
lib/util/dict_src and the database table types): building each type,
queries (-q, -q -), listing (-s), JSON (-j), deletion (-d), incremental
updates (-i), exit codes, error messages for broken inputs, duplicate
warnings, key folding (-f), ownership and symbolic-link refusal."""

import json
import os

import pytest

TYPES = {"hash": ".db", "btree": ".db", "lmdb": ".lmdb", "cdb": ".cdb"}

SOURCE = """\
# virtual aliases
Info@Example.COM      alice
sales@example.com     bob,
                      carol

# a comment between entries
postmaster            root
"""


def pm(run, config_dir, *args, **kw):
    """Run postmap -c CONFIG_DIR ARGS."""
    return run(["postmap", "-c", config_dir, *args], **kw)


def entries(text):
    """postmap -s output as a dict (checking the KEY<TAB>VALUE shape)."""
    result = {}
    for line in text.splitlines():
        key, tab, value = line.partition("\t")
        assert tab, line
        result[key] = value
    return result


@pytest.fixture
def source(tmp_path, write_file):
    """A source file in a fresh directory."""
    return write_file(tmp_path / "virtual", SOURCE)


# ----------------------------------------------------------- building


@pytest.mark.parametrize("dbtype", sorted(TYPES))
def test_build_each_type(run, config_dir, source, dbtype):
    r = pm(run, config_dir, f"{dbtype}:{source}", expect=0)
    assert r.stdout == "" and r.stderr == ""
    assert os.path.isfile(str(source) + TYPES[dbtype])
    spec = f"{dbtype}:{source}"
    # Keys are folded when building and when querying.
    assert pm(run, config_dir, "-q", "info@example.com", spec, expect=0).stdout == "alice\n"
    assert pm(run, config_dir, "-q", "INFO@example.com", spec, expect=0).stdout == "alice\n"
    assert pm(run, config_dir, "-q", "sales@example.com", spec, expect=0).stdout == \
        "bob, carol\n"
    r = pm(run, config_dir, "-q", "nobody@example.com", spec, expect=1)
    assert r.stdout == "" and r.stderr == ""
    assert entries(pm(run, config_dir, "-s", spec, expect=0).stdout) == {
        "info@example.com": "alice",
        "sales@example.com": "bob, carol",
        "postmaster": "root",
    }
    # Rebuilding from a changed source replaces the table.
    source.write_text("new value\n")
    pm(run, config_dir, spec, expect=0)
    assert entries(pm(run, config_dir, "-s", spec, expect=0).stdout) == {"new": "value"}


def test_default_type_from_main_cf(run, config_dir, source, write_file):
    pm(run, config_dir, source, expect=0)
    assert os.path.isfile(str(source) + ".db")
    assert not os.path.exists(str(source) + ".lmdb")
    write_file(config_dir / "main.cf", "default_database_type = lmdb\n")
    pm(run, config_dir, source, expect=0)
    assert os.path.isfile(str(source) + ".lmdb")
    # Without a type, queries use the default type too.
    assert pm(run, config_dir, "-q", "postmaster", source, expect=0).stdout == "root\n"


def test_several_tables(run, config_dir, tmp_path, write_file):
    a = write_file(tmp_path / "a", "shared from-a\nonly-a 1\n")
    b = write_file(tmp_path / "b", "shared from-b\nonly-b 2\n")
    pm(run, config_dir, a, f"lmdb:{b}", expect=0)
    specs = [f"hash:{a}", f"lmdb:{b}"]
    assert pm(run, config_dir, "-q", "shared", *specs, expect=0).stdout == "from-a\n"
    assert pm(run, config_dir, "-q", "only-b", *specs, expect=0).stdout == "2\n"
    assert pm(run, config_dir, "-q", "none", *specs, expect=1).stdout == ""


def test_query_types_read_directly(run, config_dir, source):
    assert pm(run, config_dir, "-q", "postmaster", f"texthash:{source}",
              expect=0).stdout == "root\n"
    assert pm(run, config_dir, "-q", "k2", "inline:{k1=v1, k2=v2}",
              expect=0).stdout == "v2\n"
    r = pm(run, config_dir, f"texthash:{source}")
    assert r.returncode == 1
    assert "tables of type texthash cannot be written" in r.stderr


# ----------------------------------------------------------- queries


def test_query_stdin(run, config_dir, source):
    pm(run, config_dir, source, expect=0)
    # The first word of each line is the key, so a source can be fed in.
    r = pm(run, config_dir, "-q", "-", source,
           input="postmaster\n\nnobody@example.com\nINFO@EXAMPLE.COM  whatever\n",
           expect=0)
    assert r.stdout == "postmaster\troot\nINFO@EXAMPLE.COM\talice\n"
    r = pm(run, config_dir, "-q", "-", source, input="nobody\nnothing\n", expect=1)
    assert r.stdout == ""
    r = pm(run, config_dir, "-q", "-", source, input="", expect=1)


def test_json(run, config_dir, tmp_path, write_file):
    src = write_file(tmp_path / "map", 'key1 a "quoted" value\\with\tstuff\nkey2 b\n')
    pm(run, config_dir, src, expect=0)
    lines = pm(run, config_dir, "-j", "-s", src, expect=0).stdout.splitlines()
    objs = sorted((json.loads(line) for line in lines), key=lambda o: o["key"])
    assert objs == [{"key": "key1", "value": 'a "quoted" value\\with\tstuff'},
                    {"key": "key2", "value": "b"}]
    out = pm(run, config_dir, "-j", "-q", "key2", src, expect=0).stdout
    assert json.loads(out) == {"key": "key2", "value": "b"}
    out = pm(run, config_dir, "-j", "-q", "-", src, input="key2\nkey9\n", expect=0).stdout
    assert [json.loads(line) for line in out.splitlines()] == [{"key": "key2", "value": "b"}]
    # -j only goes with -q and -s.
    assert pm(run, config_dir, "-j", src).returncode == 1


# ----------------------------------------------------------- deleting, -i


@pytest.mark.parametrize("dbtype", ["hash", "lmdb"])
def test_delete(run, config_dir, source, dbtype):
    spec = f"{dbtype}:{source}"
    pm(run, config_dir, spec, expect=0)
    pm(run, config_dir, "-d", "Postmaster", spec, expect=0)
    pm(run, config_dir, "-q", "postmaster", spec, expect=1)
    pm(run, config_dir, "-d", "postmaster", spec, expect=1)
    pm(run, config_dir, "-d", "-", spec, input="info@example.com\nnobody\n", expect=0)
    assert entries(pm(run, config_dir, "-s", spec, expect=0).stdout) == {
        "sales@example.com": "bob, carol"}
    pm(run, config_dir, "-d", "-", spec, input="nobody\n", expect=1)


def test_delete_missing_table(run, config_dir, source):
    r = pm(run, config_dir, "-d", "postmaster", source)
    assert r.returncode == 2
    assert f"open {source}.db: No such file or directory" in r.stderr
    assert not os.path.exists(str(source) + ".db")


@pytest.mark.parametrize("dbtype", ["hash", "lmdb"])
def test_incremental(run, config_dir, source, dbtype):
    spec = f"{dbtype}:{source}"
    pm(run, config_dir, spec, expect=0)
    r = pm(run, config_dir, "-i", spec, input="New@Example.com  dave\npostmaster other\n",
           expect=0)
    # An existing key keeps its value, with a warning naming the input line.
    assert 'standard input, line 2: duplicate entry: "postmaster"' in r.stderr
    d = entries(pm(run, config_dir, "-s", spec, expect=0).stdout)
    assert d["new@example.com"] == "dave"
    assert d["postmaster"] == "root"
    assert d["info@example.com"] == "alice"
    # -r replaces.
    pm(run, config_dir, "-i", "-r", spec, input="postmaster other\n", expect=0)
    assert pm(run, config_dir, "-q", "postmaster", spec, expect=0).stdout == "other\n"
    # A syntax error anywhere in the input changes nothing.
    before = pm(run, config_dir, "-s", spec, expect=0).stdout
    r = pm(run, config_dir, "-i", spec, input="fresh 1\nbroken\n")
    assert r.returncode == 1
    assert "standard input, line 2: expected format: key whitespace value" in r.stderr
    assert pm(run, config_dir, "-s", spec, expect=0).stdout == before
    pm(run, config_dir, "-q", "fresh", spec, expect=1)


def test_incremental_creates(run, config_dir, tmp_path):
    spec = f"hash:{tmp_path / 'fresh'}"
    pm(run, config_dir, "-i", spec, input="a 1\n", expect=0)
    assert pm(run, config_dir, "-q", "a", spec, expect=0).stdout == "1\n"


# ----------------------------------------------------------- errors


def test_syntax_error_keeps_old_table(run, config_dir, source, write_file):
    pm(run, config_dir, source, expect=0)
    write_file(source, "good 1\n# comment\n\nbad-line-without-value\nlater 2\n")
    r = pm(run, config_dir, source)
    assert r.returncode == 1
    assert f"postmap: error: {source}, line 4: expected format: key whitespace value" \
        in r.stderr
    # The old table still answers; nothing of the new one went in.
    assert pm(run, config_dir, "-q", "postmaster", source, expect=0).stdout == "root\n"
    pm(run, config_dir, "-q", "good", source, expect=1)
    # No temporary file is left behind.
    assert sorted(p.name for p in source.parent.iterdir()) == ["etc", "virtual", "virtual.db"]


def test_nul_byte(run, config_dir, tmp_path):
    src = tmp_path / "map"
    src.write_bytes(b"a 1\nb 2\x003\n")
    r = pm(run, config_dir, src)
    assert r.returncode == 1
    assert f"{src}, line 2:" in r.stderr
    assert not os.path.exists(str(src) + ".db")


def test_missing_source(run, config_dir, tmp_path):
    r = pm(run, config_dir, tmp_path / "missing")
    assert r.returncode == 1
    assert f"{tmp_path}/missing: cannot open: No such file or directory" in r.stderr
    assert not os.path.exists(str(tmp_path / "missing.db"))


def test_unknown_type(run, config_dir, source):
    r = pm(run, config_dir, f"nosuch:{source}")
    assert r.returncode == 1
    assert "unsupported dictionary type: nosuch" in r.stderr
    r = pm(run, config_dir, "-q", "x", f"nosuch:{source}")
    assert r.returncode == 2
    assert "unsupported dictionary type: nosuch" in r.stderr


def test_missing_and_corrupted_table(run, config_dir, source, write_file):
    r = pm(run, config_dir, "-q", "postmaster", source)
    assert r.returncode == 2
    assert f"{source}.db" in r.stderr
    write_file(str(source) + ".db", "this is not a database\n" * 100)
    r = pm(run, config_dir, "-q", "postmaster", source)
    assert r.returncode == 2
    assert f"open {source}.db" in r.stderr
    r = pm(run, config_dir, "-s", source)
    assert r.returncode == 1
    assert f"open {source}.db" in r.stderr
    # Rebuilding replaces the broken file.
    pm(run, config_dir, source, expect=0)
    assert pm(run, config_dir, "-q", "postmaster", source, expect=0).stdout == "root\n"


def test_usage_errors(run, config_dir, source):
    assert pm(run, config_dir).returncode == 1
    assert "usage: postmap" in pm(run, config_dir).stderr
    assert pm(run, config_dir, "-q", "key").returncode == 2
    assert pm(run, config_dir, "-q", "a", "-s", source).returncode == 2
    assert pm(run, config_dir, "-x", source).returncode == 1
    r = pm(run, config_dir, "-n", source)
    assert r.returncode == 1
    assert "-n is not supported" in r.stderr
    pm(run, config_dir, "-N", source, expect=0)


def test_bad_main_cf(run, config_dir, source, write_file):
    write_file(config_dir / "main.cf", "this is not a parameter line\n")
    r = pm(run, config_dir, source)
    assert r.returncode == 1
    assert "main.cf, line 1" in r.stderr


# ----------------------------------------------------------- duplicates, folding


def test_duplicates(run, config_dir, tmp_path, write_file):
    src = write_file(tmp_path / "map", "key first\nother x\nKEY second\nkey third\n")
    r = pm(run, config_dir, src, expect=0)
    assert f'postmap: warning: {src}, line 3: duplicate entry: "KEY"' in r.stderr
    assert f'postmap: warning: {src}, line 4: duplicate entry: "key"' in r.stderr
    assert pm(run, config_dir, "-q", "key", src, expect=0).stdout == "first\n"
    r = pm(run, config_dir, "-w", src, expect=0)
    assert r.stderr == ""
    assert pm(run, config_dir, "-q", "key", src, expect=0).stdout == "first\n"
    r = pm(run, config_dir, "-r", src, expect=0)
    assert r.stderr == ""
    assert pm(run, config_dir, "-q", "key", src, expect=0).stdout == "third\n"


def test_no_folding(run, config_dir, tmp_path, write_file):
    src = write_file(tmp_path / "map", "Key upper\nkey lower\n")
    r = pm(run, config_dir, "-f", src, expect=0)
    assert r.stderr == ""
    assert pm(run, config_dir, "-f", "-q", "Key", src, expect=0).stdout == "upper\n"
    assert pm(run, config_dir, "-f", "-q", "key", src, expect=0).stdout == "lower\n"
    pm(run, config_dir, "-f", "-q", "KEY", src, expect=1)
    assert entries(pm(run, config_dir, "-s", src, expect=0).stdout) == {
        "Key": "upper", "key": "lower"}
    # Without -f, the query key is folded: "KEY" finds "key".
    assert pm(run, config_dir, "-q", "KEY", src, expect=0).stdout == "lower\n"


# ----------------------------------------------------------- privileges

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="needs root")


@needs_root
def test_owner_follows_source(run, config_dir, source):
    os.chown(source, 4321, 4322)
    pm(run, config_dir, source, expect=0)
    st = os.stat(str(source) + ".db")
    assert (st.st_uid, st.st_gid) == (4321, 4322)
    os.unlink(str(source) + ".db")
    pm(run, config_dir, "-o", source, expect=0)
    st = os.stat(str(source) + ".db")
    assert (st.st_uid, st.st_gid) == (0, 0)


@needs_root
def test_symlink_refused(run, config_dir, source, tmp_path):
    victim = tmp_path / "victim"
    victim.write_text("precious\n")
    link = str(source) + ".db"
    os.symlink(victim, link)
    os.lchown(link, 4321, 4321)
    for args in ([source], ["-i", source], ["-d", "x", source]):
        r = pm(run, config_dir, *args, input="a 1\n")
        assert r.returncode in (1, 2), args
        assert f"{link}: refusing to write through a symbolic link owned by uid 4321" \
            in r.stderr
    assert victim.read_text() == "precious\n"
    assert os.path.islink(link)


def test_own_symlink_accepted(run, config_dir, source, tmp_path):
    elsewhere = tmp_path / "elsewhere.db"
    os.symlink(elsewhere, str(source) + ".db")
    pm(run, config_dir, source, expect=0)
    assert pm(run, config_dir, "-q", "postmaster", source, expect=0).stdout == "root\n"
