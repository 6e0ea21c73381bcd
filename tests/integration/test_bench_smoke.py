"""make bench at a tiny size: every scenario still runs and prints sane
figures, and the load tools work against each other. No timing asserts:
only that the figures are there, are numbers, have their units, and
obey the arithmetic that holds on any machine (a rate is positive, p50
<= p99, the peak memory is at least the idle memory).
"""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BENCH = REPO / "tests" / "bench" / "bench.py"
SCENARIOS = ["ingest", "relay", "local", "sendmail", "big", "memory", "deferred"]
LINE = re.compile(r"^([a-z0-9_.]+) (-?[0-9]+(?:\.[0-9]+)?) (msgs/s|s|ms|MB/s|MiB|processes|files)$")


def run_bench(postern_build, tmp_path, extra_env=None, timeout=240):
    env = dict(os.environ)
    env.pop("MAIL_CONFIG", None)
    env.update({"POSTERN_BUILD": str(postern_build), "BENCH_SCALE": "0.002",
                "BENCH_OUT": str(tmp_path / "results.txt")})
    env.update(extra_env or {})
    return subprocess.run([sys.executable, str(BENCH)], capture_output=True, text=True,
                          env=env, timeout=timeout)


@pytest.fixture(scope="module")
def bench_run(postern_build, tmp_path_factory):
    for prog in ("master", "smtpd", "postern-smtp-load", "postern-smtp-sink"):
        if not (postern_build / "bin" / prog).is_file():
            pytest.fail(f"{prog} is not built in {postern_build}")
    tmp = tmp_path_factory.mktemp("bench")
    r = run_bench(postern_build, tmp)
    figures = {}
    for line in r.stdout.splitlines():
        m = LINE.match(line)
        if m:
            figures[m.group(1)] = (float(m.group(2)), m.group(3))
    return r, figures, tmp / "results.txt"


def test_every_scenario_ran(bench_run):
    r, _figures, _out = bench_run
    assert r.returncode == 0, f"bench failed:\n{r.stdout}\n{r.stderr}"
    for name in SCENARIOS:
        assert f"# {name} took " in r.stdout, name
    assert "failed:" not in r.stdout


def test_figures_are_there_and_sane(bench_run):
    r, f, _out = bench_run
    expect = {
        "ingest.c1.accept_rate": "msgs/s", "ingest.c20.accept_rate": "msgs/s",
        "ingest.c50.accept_rate": "msgs/s", "ingest.c50.empty_queue": "s",
        "relay.c20.accept_rate": "msgs/s", "relay.c20.e2e_rate": "msgs/s",
        "local.mbox.e2e_rate": "msgs/s", "local.maildir.e2e_rate": "msgs/s",
        "sendmail.call_p50": "ms", "sendmail.call_p90": "ms",
        "sendmail.delivered": "s", "big.accept_rate": "MB/s", "big.e2e_rate": "MB/s",
        "memory.idle_rss": "MiB", "memory.idle_processes": "processes",
        "memory.peak_rss": "MiB", "memory.peak_processes": "processes",
        "deferred.messages": "files", "deferred.qmgr_rss": "MiB",
        "deferred.scan_time": "s", "deferred.scan_cpu": "s",
    }
    for name, unit in expect.items():
        assert name in f, f"{name} missing from:\n{r.stdout}"
        value, got_unit = f[name]
        assert got_unit == unit, name
        assert value >= 0, name
    for name, (value, unit) in f.items():
        if unit in ("msgs/s", "MB/s", "MiB"):
            assert value > 0, name
    for c in (1, 20, 50):
        assert f[f"ingest.c{c}.latency_p50"][0] <= f[f"ingest.c{c}.latency_p99"][0]
    assert f["sendmail.call_p50"][0] <= f["sendmail.call_p90"][0]
    assert f["memory.peak_rss"][0] >= f["memory.idle_rss"][0] * 0.5
    assert f["memory.idle_processes"][0] >= 2       # master and qmgr at least
    # Scale 0.002 of 100000, the one real deferred file included.
    assert f["deferred.messages"][0] == 200


def test_results_file(bench_run):
    r, f, out = bench_run
    text = out.read_text()
    assert "# machine: " in text
    for name, (value, unit) in f.items():
        assert re.search(rf"(?m)^{re.escape(name)} [0-9.]+ {re.escape(unit)}$", text), name


def test_bad_settings_are_refused(postern_build, tmp_path):
    r = run_bench(postern_build, tmp_path, {"BENCH_SCALE": "zero"})
    assert r.returncode == 2 and "BENCH_SCALE" in r.stderr
    r = run_bench(postern_build, tmp_path, {"BENCH_SCENARIOS": "ingest,nonsense"})
    assert r.returncode == 2 and "nonsense" in r.stderr
    # Never BENCH_PEER=postfix here: it would fetch Postfix. An unknown
    # peer is refused before anything runs.
    r = run_bench(postern_build, tmp_path, {"BENCH_PEER": "exim"})
    assert r.returncode == 2 and "unknown BENCH_PEER" in r.stderr
    assert not (tmp_path / "results.txt").exists()


# ------------------------------------------------------------ the tools

def tool(postern_build, name):
    path = postern_build / "bin" / name
    if not path.is_file():
        pytest.fail(f"{path} is not built")
    return str(path)


class SinkProc:
    def __init__(self, postern_build, *args):
        self.proc = subprocess.Popen([tool(postern_build, "postern-smtp-sink"), *args,
                                      "127.0.0.1:0"], stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        m = re.match(r"listening 127\.0\.0\.1:(\d+)$", line.strip())
        assert m, line
        self.port = int(m.group(1))

    def finish(self):
        if self.proc.poll() is None:
            self.proc.terminate()
        out, err = self.proc.communicate(timeout=30)
        # 0 after SIGTERM or -n (under ASan also: no leak at exit).
        assert self.proc.returncode == 0, err
        return dict(l.split() for l in out.splitlines() if len(l.split()) == 2), err


def load(postern_build, port, *args):
    r = subprocess.run([tool(postern_build, "postern-smtp-load"), *args, f"127.0.0.1:{port}"],
                       capture_output=True, text=True, timeout=60)
    figs = {}
    for l in r.stdout.splitlines():
        parts = l.split()
        if len(parts) >= 2 and not l.startswith("reply "):
            figs[parts[0]] = parts[1]
    return r, figs


def test_load_and_sink_rules(postern_build, tmp_path):
    keep = tmp_path / "kept"
    keep.mkdir()
    sink = SinkProc(postern_build, "-R", "*@reject.test", "-D", "user1@*", "-d", str(keep))
    try:
        r, figs = load(postern_build, sink.port, "-c", "3", "-m", "30", "-r", "2",
                       "-t", "user%d@example.com", "-s", "300")
        assert r.returncode == 0, r.stderr
        # Recipients are numbered 0..59: user1 is deferred (message 0).
        assert figs["accepted"] == "30"
        assert figs["recipients_accepted"] == "59"
        assert "reply rcpt 450 4.2.0 recipient deferred by rule: count 1" in r.stdout
        r, figs = load(postern_build, sink.port, "-m", "4", "-t", "x%d@reject.test", "-P")
        assert r.returncode == 0, r.stderr
        assert figs["accepted"] == "0" and figs["failed"] == "4"
        assert "reply rcpt 550 5.1.1 recipient rejected by rule: count 4" in r.stdout
    finally:
        counters, _err = sink.finish()
    assert counters["messages"] == "30"
    assert counters["recipients"] == "59"
    assert counters["rejected"] == "4" and counters["deferred"] == "1"
    kept = sorted(keep.iterdir())
    assert len(kept) == 30
    text = kept[0].read_text()
    assert "X-Sink-Sender: <load-sender@example.com>" in text
    assert "Subject: load test message" in text


def test_lmtp_stall_and_drop(postern_build):
    sink = SinkProc(postern_build, "-l", "-S", "20", "-X", "drop*")
    try:
        r, figs = load(postern_build, sink.port, "-l", "-c", "2", "-m", "6", "-r", "3")
        assert r.returncode == 0, r.stderr
        assert figs["accepted"] == "6" and figs["recipients_accepted"] == "18"
        # A dropped connection is a connection failure: exit 1.
        r, figs = load(postern_build, sink.port, "-l", "-m", "1", "-t", "drop%d@x")
        assert r.returncode == 1
        assert figs["connection_failures"] == "1"
    finally:
        counters, _err = sink.finish()
    assert counters["messages"] == "6" and counters["dropped"] == "1"


def test_load_connection_refused_and_usage(postern_build):
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    r, figs = load(postern_build, port, "-m", "3")
    assert r.returncode == 1
    assert figs["connection_failures"] == "3" and figs["accepted"] == "0"
    assert "Connection refused" in r.stderr
    for bad in (["-t", "u%s@x"], ["-c", "0"], ["-f", "a b"], ["-s", "x"]):
        r, _ = load(postern_build, port, *bad)
        assert r.returncode == 2, bad


def test_starttls(postern_build, tmp_path):
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    r = subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:P-256", "-nodes", "-subj", "/CN=sink.test",
                        "-days", "2", "-keyout", str(key), "-out", str(cert)],
                       capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip(f"openssl cannot make a certificate: {r.stderr}")
    sink = SinkProc(postern_build, "-C", str(cert), "-K", str(key))
    try:
        r, figs = load(postern_build, sink.port, "-T", "-c", "2", "-m", "8")
        assert r.returncode == 0, r.stderr
        assert figs["accepted"] == "8"
    finally:
        counters, _err = sink.finish()
    assert counters["messages"] == "8"
    # Without a certificate the sink offers no STARTTLS: -T fails.
    sink = SinkProc(postern_build)
    try:
        r, figs = load(postern_build, sink.port, "-T", "-m", "1")
        assert r.returncode == 1 and "does not offer STARTTLS" in r.stderr
    finally:
        sink.finish()
