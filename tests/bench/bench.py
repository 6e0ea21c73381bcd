#!/usr/bin/python3
"""Postern benchmarks ("make bench").

Creates fresh instances of Postern in temporary directories (as root the
services run as nobody/nogroup, like the integration tests; as another
user the instance belongs to that user), runs the scenarios of issue 11
and prints one line per figure, "name value unit", for example

    ingest.c20.accept_rate 1530.2 msgs/s

The same lines, with a header naming the machine, go to a results file:
$BENCH_OUT, else tests/bench/results-YYYYMMDD-HHMMSS.txt.

Scenarios (sizes are multiplied by BENCH_SCALE, default 1.0):
  ingest    20000 x 1 KiB over 1, 20 and 50 SMTP sessions into the
            discard transport: accepted msgs/s and the time until the
            queue is empty (plus the load tool's latency percentiles).
  relay     20000 x 1 KiB over 20 sessions, relayed by the smtp client
            to postern-smtp-sink on loopback: accepted and end-to-end
            msgs/s.
  local     5000 messages over SMTP to a local user's mbox and to a
            Maildir (an alias to a directory): end-to-end msgs/s.
  sendmail  1000 sequential sendmail calls: p50/p90 ms per call, then the
            time until all are delivered (discard).
  big       20 x 10 MiB over one session into discard: MB/s accepted and
            end to end.
  memory    summed RSS and process count of the instance idle and at the
            peak of the 50-session ingest.
  deferred  a deferred queue of 100000 messages (one real deferred queue
            file cloned under new queue IDs, retry time in the future):
            qmgr RSS after start-up and the time and qmgr CPU of one
            deferred-queue scan (trigger "D" until qmgr's CPU time stops
            moving).

Environment: POSTERN_BUILD (build directory, default <repo>/build),
BENCH_SCALE, BENCH_OUT, BENCH_SCENARIOS (comma-separated subset),
BENCH_KEEP (keep the instances' directories for a look at their logs),
BENCH_PEER (only "postfix" is known; see below).

BENCH_PEER=postfix (as root only; never used by the tests) also runs every
scenario, right after Postern's run of it, on an isolated Postfix: Debian's
postfix package is fetched with "apt-get download" and unpacked with
"dpkg-deb -x" into $BENCH_POSTFIX_DIR (default /var/tmp/postern-bench-
postfix) - not installed, so no system MTA, /etc/postfix or service is
touched - and each scenario gets a fresh "postfix -c DIR" instance with its
own queue_directory, data_directory, log and loopback port, the same
main.cf settings, no chroot. Its figures are printed as "postfix.NAME",
followed by "ratio.NAME value x" (Postern/Postfix) for every figure.

Exit status: 0 when every scenario ran, 1 when one failed (its reason is
printed as a "# ... failed" line and the others still run), 2 for bad
settings.
"""

import os
import pwd
import grp
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SCENARIOS = ["ingest", "relay", "local", "sendmail", "big", "memory", "deferred"]
QUEUES = ("maildrop", "incoming", "active", "deferred", "hold")
WAIT_LIMIT = 900            # seconds any single wait may take


class BenchError(Exception):
    """A scenario could not be completed."""


def free_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_until(pred, timeout, what):
    """Poll pred() every 20 ms until true; BenchError at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > deadline:
            raise BenchError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(0.02)


def count_files(top):
    n = 0
    for _dirpath, _dirs, files in os.walk(top):
        n += len(files)
    return n


def reachable_by_all(path):
    for p in [path] + list(path.parents):
        if not os.stat(p).st_mode & 0o001:
            return False
    return True


# ------------------------------------------------------------ /proc

def proc_stat(pid):
    """(comm, session, utime+stime ticks) of pid, or None."""
    try:
        data = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    comm = data[data.index("(") + 1:data.rindex(")")]
    rest = data[data.rindex(")") + 2:].split()
    # rest[0] is state (field 3); session is field 6, utime 14, stime 15.
    return comm, int(rest[3]), int(rest[11]) + int(rest[12])


def proc_rss_kb(pid):
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def session_pids(sid):
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            st = proc_stat(int(entry))
            if st and st[1] == sid:
                pids.append(int(entry))
    return pids


# ------------------------------------------------------------ instance

class Instance:
    """A Postern instance in a temporary directory."""

    def __init__(self, build, settings, name):
        self.build = build
        self.bin = build / "bin"
        self.base = Path(tempfile.mkdtemp(prefix=f"postern-bench-{name}-", dir="/tmp"))
        os.chmod(self.base, 0o755)
        self.etc = self.base / "etc"
        self.queue = self.base / "spool"
        self.log = self.base / "maillog"
        self.mail = self.base / "mail"
        self.port = free_port()
        self.root = os.geteuid() == 0
        if self.root:
            self.owner = os.environ.get("BENCH_MAIL_OWNER", "nobody")
            self.group = os.environ.get("BENCH_SETGID_GROUP", "nogroup")
        else:
            self.owner = pwd.getpwuid(os.getuid()).pw_name
            self.group = grp.getgrgid(os.getgid()).gr_name
        self.default_privs = self.owner     # Postern's default_privs: nobody
        self.mail.mkdir()
        os.chmod(self.mail, 0o1777)
        args = [
            f"queue_directory={self.queue}",
            f"daemon_directory={self.bin}", f"command_directory={self.bin}",
            f"mail_owner={self.owner}", f"setgid_group={self.group}",
            f"maillog_file={self.log}",
            "inet_interfaces=127.0.0.1",
            "mynetworks=127.0.0.0/8",
            "relayhost=[127.0.0.1]:9",
            "dns_resolver_servers=127.0.0.1:9",
            "smtpd_peername_lookup=no",
            "smtpd_client_connection_count_limit=0",
            "smtpd_client_connection_rate_limit=0",
            f"mail_spool_directory={self.mail}",
            "alias_maps=", "alias_database=",
            "mydestination=",
        ]
        args += [f"{k}={v}" for k, v in settings.items()]
        self.postern("init", str(self.etc), *args, config=False)
        self.log.touch()
        if self.root:
            shutil.chown(self.log, user=self.owner)
        os.chmod(self.log, 0o644)
        mcf = self.etc / "master.cf"
        text = mcf.read_text()
        text, n = re.subn(r"(?m)^smtp(\s+)inet\s", f"127.0.0.1:{self.port} inet ", text, count=1)
        if n != 1:
            raise BenchError("master.cf has no smtp inet service to move")
        mcf.write_text(text)

    def postern(self, *args, config=True, timeout=120):
        """Run the control command (postern; postfix for the peer)."""
        cmd = [str(self.bin / "postern")]
        if config:
            cmd += ["-c", str(self.etc)]
        cmd += list(args)
        env = dict(os.environ)
        env.pop("MAIL_CONFIG", None)
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
        if r.returncode != 0:
            raise BenchError(f"{' '.join(cmd)}: exit {r.returncode}: {r.stderr.strip()}")
        return r

    def env(self):
        env = dict(os.environ)
        env.pop("MAIL_CONFIG", None)
        return env

    def sendmail_cmd(self):
        return [str(self.bin / "sendmail"), "-C", str(self.etc)]

    def postconf(self, *args):
        r = subprocess.run([str(self.bin / "postconf"), "-c", str(self.etc), *args],
                           capture_output=True, text=True, timeout=60, env=self.env())
        if r.returncode != 0:
            raise BenchError(f"postconf {' '.join(args)}: {r.stderr.strip()}")
        return r.stdout

    def start(self):
        self.postern("start")
        wait_until(self.smtp_ready, 30, "the SMTP port")

    def smtp_ready(self):
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=2) as s:
                return s.recv(100).startswith(b"220")
        except OSError:
            return False

    def stop(self):
        try:
            self.postern("stop", timeout=120)
        except (BenchError, subprocess.TimeoutExpired):
            pid = self.master_pid()
            if pid:
                for kill in (os.killpg, os.kill):
                    try:
                        kill(pid, signal.SIGKILL)
                    except OSError:
                        pass

    def master_pid(self):
        try:
            return int((self.queue / "pid" / "master.pid").read_text().strip())
        except (OSError, ValueError):
            return None

    def processes(self):
        """pids of master and its children (master's session)."""
        pid = self.master_pid()
        st = proc_stat(pid) if pid else None
        if not st:
            return []
        return session_pids(st[1])

    def memory(self):
        """(summed RSS in KiB, process count)."""
        pids = self.processes()
        return sum(proc_rss_kb(p) for p in pids), len(pids)

    def find_process(self, comm):
        for p in self.processes():
            st = proc_stat(p)
            if st and st[0] == comm:
                return p
        return None

    def queued(self):
        return sum(count_files(self.queue / q) for q in QUEUES)

    def wait_empty(self, timeout=WAIT_LIMIT):
        wait_until(lambda: self.queued() == 0, timeout, "an empty queue")

    def destroy(self):
        if self.master_pid() and (self.queue / "pid" / "master.pid").exists():
            self.stop()
        if os.environ.get("BENCH_KEEP"):
            print(f"# kept {self.base}", flush=True)
        else:
            shutil.rmtree(self.base, ignore_errors=True)


# ------------------------------------------------------------ tools

def parse_figures(text):
    """"name value [unit]" lines of the load tool into a dict."""
    out = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) >= 2 and not line.startswith("reply "):
            try:
                out[parts[0]] = float(parts[1])
            except ValueError:
                pass
    return out


def run_load(bench, port, messages, sessions, size=1024, rcpt="user%d@example.com",
             extra=()):
    cmd = [str(bench.build / "bin" / "postern-smtp-load"), "-c", str(sessions),
           "-m", str(messages), "-s", str(size), "-t", rcpt, "-w", "300",
           *extra, f"127.0.0.1:{port}"]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=WAIT_LIMIT)
    figs = parse_figures(r.stdout)
    if r.returncode != 0 or figs.get("accepted") != messages:
        replies = [l for l in r.stdout.splitlines() if l.startswith("reply ")]
        raise BenchError(f"load: exit {r.returncode}, accepted "
                         f"{figs.get('accepted')} of {messages}; "
                         f"{'; '.join(replies[:3])} {r.stderr.strip()[:300]}")
    return figs


class Sink:
    """postern-smtp-sink on a free loopback port, stopping after n messages."""

    def __init__(self, bench, n, extra=()):
        self.proc = subprocess.Popen(
            [str(bench.build / "bin" / "postern-smtp-sink"), "-n", str(n), *extra,
             "127.0.0.1:0"], stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        m = re.match(r"listening 127\.0\.0\.1:(\d+)", line)
        if not m:
            self.proc.kill()
            raise BenchError(f"sink did not start: {line!r}")
        self.port = int(m.group(1))

    def wait(self, timeout):
        try:
            out, _ = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.send_signal(signal.SIGTERM)
            out, _ = self.proc.communicate()
            raise BenchError(f"sink timed out: {out.strip()}")
        return parse_figures(out)

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


# ------------------------------------------------------------ the bench

class Bench:
    def __init__(self, build, scale, out_path):
        self.build = build
        self.scale = scale
        self.out_path = out_path
        self.lines = []
        self.failed = []
        self.peak = {}
        self.flavor = "postern"
        self.values = {"postern": {}, "postfix": {}}
        self.postfix_root = None

    def n(self, base, minimum=1):
        return max(minimum, int(round(base * self.scale)))

    def figure(self, name, value, unit):
        self.values[self.flavor][name] = (float(value), unit)
        if self.flavor != "postern":
            name = f"{self.flavor}.{name}"
        line = f"{name} {value:.3f} {unit}" if isinstance(value, float) else f"{name} {value} {unit}"
        print(line, flush=True)
        self.lines.append(line)

    def note(self, text):
        print(f"# {text}", flush=True)
        self.lines.append(f"# {text}")

    def make_instance(self, name, settings):
        if self.flavor == "postfix":
            return PostfixInstance(self.postfix_root, settings, name)
        return Instance(self.build, settings, name)

    def instance(self, name, settings):
        inst = self.make_instance(name, settings)
        try:
            inst.start()
        except BaseException:
            inst.destroy()
            raise
        return inst

    # -- scenarios

    def sc_ingest(self):
        count = self.n(20000, 10)
        inst = self.instance("ingest", {"default_transport": "discard"})
        try:
            for c in (1, 20, 50):
                sampler = MemorySampler(inst) if c == 50 else None
                t0 = time.monotonic()
                figs = run_load(self, inst.port, count, c)
                inst.wait_empty()
                drain = time.monotonic() - t0
                if sampler:
                    self.peak[self.flavor] = sampler.stop()
                self.figure(f"ingest.c{c}.accept_rate", figs["rate"], "msgs/s")
                self.figure(f"ingest.c{c}.empty_queue", drain, "s")
                self.figure(f"ingest.c{c}.e2e_rate", count / drain, "msgs/s")
                self.figure(f"ingest.c{c}.latency_p50", figs["latency_p50"], "ms")
                self.figure(f"ingest.c{c}.latency_p99", figs["latency_p99"], "ms")
        finally:
            inst.destroy()

    def sc_relay(self):
        count = self.n(20000, 10)
        sink = Sink(self, count)
        inst = None
        try:
            inst = self.instance("relay", {"default_transport": "smtp",
                                           "relayhost": f"[127.0.0.1]:{sink.port}"})
            t0 = time.monotonic()
            figs = run_load(self, inst.port, count, 20)
            got = sink.wait(WAIT_LIMIT)
            e2e = time.monotonic() - t0
            if got.get("messages") != count:
                raise BenchError(f"sink received {got.get('messages')} of {count}")
            self.figure("relay.c20.accept_rate", figs["rate"], "msgs/s")
            self.figure("relay.c20.e2e", e2e, "s")
            self.figure("relay.c20.e2e_rate", count / e2e, "msgs/s")
        finally:
            sink.kill()
            if inst:
                inst.destroy()

    def sc_local(self):
        count = self.n(5000, 5)
        for kind in ("mbox", "maildir"):
            inst = self.make_instance("local", {"mydestination": "localhost"})
            try:
                maildir = inst.base / "maildir"
                maildir.mkdir()
                if inst.root:
                    shutil.chown(maildir, user=inst.default_privs)
                aliases = inst.etc / "aliases.txt"
                aliases.write_text(f"benchmaildir {maildir}/Maildir/\n")
                inst.postconf("-e", f"alias_maps=texthash:{aliases}")
                inst.start()
                rcpt = "benchmaildir@localhost" if kind == "maildir" else f"{inst.owner}@localhost"
                t0 = time.monotonic()
                figs = run_load(self, inst.port, count, 20, rcpt=rcpt)
                if kind == "mbox":
                    box = inst.mail / inst.owner
                    wait_until(lambda: mbox_count(box) >= count,
                               WAIT_LIMIT, f"{count} messages in {box}")
                else:
                    new = maildir / "Maildir" / "new"
                    wait_until(lambda: new.is_dir() and len(os.listdir(new)) >= count,
                               WAIT_LIMIT, f"{count} messages in {new}")
                e2e = time.monotonic() - t0
                self.figure(f"local.{kind}.accept_rate", figs["rate"], "msgs/s")
                self.figure(f"local.{kind}.e2e", e2e, "s")
                self.figure(f"local.{kind}.e2e_rate", count / e2e, "msgs/s")
            finally:
                inst.destroy()

    def sc_sendmail(self):
        count = self.n(1000, 5)
        inst = self.instance("sendmail", {"default_transport": "discard"})
        try:
            msg = "Subject: bench\n\n" + "x" * 70 + "\n"
            env = inst.env()
            times = []
            t_first = time.monotonic()
            for i in range(count):
                t0 = time.monotonic()
                r = subprocess.run([*inst.sendmail_cmd(),
                                    "-f", "bench@example.com", f"user{i}@example.com"],
                                   input=msg, capture_output=True, text=True, env=env,
                                   timeout=60)
                times.append((time.monotonic() - t0) * 1000.0)
                if r.returncode != 0:
                    raise BenchError(f"sendmail exit {r.returncode}: {r.stderr.strip()}")
            inst.wait_empty()
            total = time.monotonic() - t_first
            times.sort()
            self.figure("sendmail.call_p50", statistics.median(times), "ms")
            self.figure("sendmail.call_p90", times[max(0, -(-len(times) * 9 // 10) - 1)], "ms")
            self.figure("sendmail.delivered", total, "s")
        finally:
            inst.destroy()

    def sc_big(self):
        count = self.n(20, 1)
        size = 10 * 1024 * 1024
        inst = self.instance("big", {"default_transport": "discard",
                                     "message_size_limit": str(64 * 1024 * 1024)})
        try:
            t0 = time.monotonic()
            figs = run_load(self, inst.port, count, 1, size=size)
            inst.wait_empty()
            e2e = time.monotonic() - t0
            self.figure("big.accept_rate", figs["throughput"], "MB/s")
            self.figure("big.e2e_rate", count * size / 1e6 / e2e, "MB/s")
        finally:
            inst.destroy()

    def sc_memory(self):
        inst = self.instance("memory", {"default_transport": "discard"})
        try:
            time.sleep(2)
            rss, procs = inst.memory()
            self.figure("memory.idle_rss", rss / 1024.0, "MiB")
            self.figure("memory.idle_processes", procs, "processes")
        finally:
            inst.destroy()
        peak = self.peak.get(self.flavor)
        if not peak:
            self.note("memory.peak: not measured (the ingest scenario did not run)")
        else:
            self.figure("memory.peak_rss", peak[0] / 1024.0, "MiB")
            self.figure("memory.peak_processes", peak[1], "processes")

    def sc_deferred(self):
        count = self.n(100000, 20)
        closed = free_port()
        inst = self.instance("deferred", {"default_transport": "smtp",
                                          "relayhost": f"[127.0.0.1]:{closed}"})
        try:
            run_load(self, inst.port, 1, 1)
            deferred = inst.queue / "deferred"
            wait_until(lambda: count_files(deferred) == 1, 120, "a deferred message")
            inst.stop()
            wait_until(lambda: inst.find_process("master") is None and not inst.processes(),
                       60, "the instance to stop")
            t0 = time.monotonic()
            clone_deferred(inst, count - 1)
            self.figure("deferred.clone_time", time.monotonic() - t0, "s")
            inst.start()
            qmgr = wait_until(lambda: inst.find_process("qmgr"), 60, "qmgr")
            settle(qmgr, 60)
            self.figure("deferred.qmgr_rss_startup", proc_rss_kb(qmgr) / 1024.0, "MiB")
            # One scan of deferred/: trigger it and time qmgr's work.
            cpu0 = proc_stat(qmgr)[2]
            t0 = time.monotonic()
            send_trigger(inst.queue / "public" / "qmgr", b"D")
            busy = settle(qmgr, WAIT_LIMIT, since=t0)
            st = proc_stat(qmgr)
            if st is None:
                raise BenchError("qmgr went away during the scan")
            hz = os.sysconf("SC_CLK_TCK")
            self.figure("deferred.messages", count_files(deferred), "files")
            self.figure("deferred.scan_time", busy, "s")
            self.figure("deferred.scan_cpu", (st[2] - cpu0) / hz, "s")
            self.figure("deferred.qmgr_rss", proc_rss_kb(qmgr) / 1024.0, "MiB")
        finally:
            inst.destroy()

    def run_one(self, name):
        t0 = time.monotonic()
        label = name if self.flavor == "postern" else f"{self.flavor}.{name}"
        try:
            getattr(self, f"sc_{name}")()
        except (BenchError, OSError, subprocess.SubprocessError, KeyError) as e:
            self.failed.append(label)
            self.note(f"{label} failed: {e}")
        self.note(f"{label} took {time.monotonic() - t0:.1f}s")

    def run(self, names, peer=None):
        self.note(f"postern bench, scale {self.scale}, {time.strftime('%Y-%m-%d %H:%M:%S %Z')}")
        self.note(f"machine: {os.cpu_count()} CPUs, {mem_total_mib()} MiB RAM, "
                  f"{os.uname().sysname} {os.uname().release}")
        if peer:
            self.postfix_root = peer
            self.note(f"peer: Postfix {postfix_version(peer)} from {peer}")
        for name in names:
            # Interleaved: each scenario on Postern, then at once on the peer.
            self.flavor = "postern"
            self.run_one(name)
            if peer:
                self.flavor = "postfix"
                self.run_one(name)
                self.flavor = "postern"
        if peer:
            self.note("ratios Postern/Postfix (rates: higher is better for "
                      "Postern; times, latencies, memory: lower is better)")
            for fig, (value, unit) in self.values["postern"].items():
                other = self.values["postfix"].get(fig)
                if other and other[0] > 0:
                    line = f"ratio.{fig} {value / other[0]:.3f} x"
                    print(line, flush=True)
                    self.lines.append(line)
        self.out_path.parent.mkdir(parents=True, exist_ok=True)
        self.out_path.write_text("\n".join(self.lines) + "\n")
        print(f"# results written to {self.out_path}", flush=True)
        return 1 if self.failed else 0


class MemorySampler:
    """Samples the instance's summed RSS every 100 ms in a thread."""

    def __init__(self, inst):
        self.inst = inst
        self.peak = (0, 0)
        self.done = threading.Event()
        self.thread = threading.Thread(target=self.loop, daemon=True)
        self.thread.start()

    def sample(self):
        rss, procs = self.inst.memory()
        self.peak = (max(self.peak[0], rss), max(self.peak[1], procs))

    def loop(self):
        # A first sample at once: a short run may end before 100 ms.
        self.sample()
        while not self.done.wait(0.1):
            self.sample()

    def stop(self):
        self.done.set()
        self.thread.join()
        return self.peak


def settle(pid, timeout, since=None, quiet=0.3):
    """Wait until pid's CPU time has not moved for `quiet` seconds; return
    the seconds from `since` (default: now) to its last movement."""
    start = time.monotonic() if since is None else since
    deadline = time.monotonic() + timeout
    st = proc_stat(pid)
    if st is None:
        raise BenchError(f"process {pid} is gone")
    last_cpu, last_move = st[2], time.monotonic()
    while time.monotonic() - last_move < quiet:
        if time.monotonic() > deadline:
            raise BenchError(f"process {pid} stayed busy for {timeout}s")
        time.sleep(0.01)
        st = proc_stat(pid)
        if st is None:
            raise BenchError(f"process {pid} is gone")
        if st[2] != last_cpu:
            last_cpu, last_move = st[2], time.monotonic()
    return max(0.0, last_move - start)


def clone_deferred(inst, copies):
    """Copy the one deferred queue file `copies` times under new queue IDs
    (five hex digits of microseconds, then the new file's inode in hex, as
    lib/mail/mail_queue.h specifies), in the same hashed layout, owned by
    mail_owner, complete (mode 0700), with its retry time (mtime) a day
    ahead so that no scan finds them due."""
    deferred = inst.queue / "deferred"
    files = [Path(d) / f for d, _s, fs in os.walk(deferred) for f in fs]
    if len(files) != 1:
        raise BenchError(f"expected one deferred file, found {len(files)}")
    src = files[0]
    depth = len(src.relative_to(deferred).parts) - 1
    data = src.read_bytes()
    pw = pwd.getpwnam(inst.owner)
    future = time.time() + 86400
    os.utime(src, (future, future))
    tmpdir = inst.queue / "incoming"
    made = set()
    for i in range(copies):
        tmp = tmpdir / f"bench-clone.{os.getpid()}.{i}"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, data)
            ino = os.fstat(fd).st_ino
            if inst.root:
                os.fchown(fd, pw.pw_uid, pw.pw_gid)
            os.fchmod(fd, 0o700)
        finally:
            os.close(fd)
        os.utime(tmp, (future, future))
        qid = "%05X%X" % (int(time.time() * 1e6) % 1000000 & 0xFFFFF, ino)
        sub = deferred.joinpath(*qid[:depth]) if depth else deferred
        if sub not in made:
            sub.mkdir(parents=True, exist_ok=True)
            if inst.root:
                os.chown(sub, pw.pw_uid, pw.pw_gid)
            made.add(sub)
        os.rename(tmp, sub / qid)


def send_trigger(path, data):
    """Wake a service: qmgr's public endpoint is a UNIX socket in Postern
    and a FIFO in Postfix."""
    import stat
    if stat.S_ISFIFO(os.stat(path).st_mode):
        fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
        try:
            os.write(fd, data)
        finally:
            os.close(fd)
        return
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.connect(str(path))
        s.sendall(data)


# ------------------------------------------------------------ the peer

POSTFIX_CACHE = Path(os.environ.get("BENCH_POSTFIX_DIR", "/var/tmp/postern-bench-postfix"))


def fetch_postfix():
    """Debian's postfix package, unpacked (never installed) in
    POSTFIX_CACHE/root: "apt-get download" and "dpkg-deb -x" only, so the
    host's packages, /etc/postfix and any running MTA stay untouched.
    Needs root (Postfix's master must start as root). Returns the root."""
    if os.geteuid() != 0:
        raise BenchError("needs root (Postfix starts its master as root)")
    root = POSTFIX_CACHE / "root"
    if (root / "usr/lib/postfix/sbin/master").is_file():
        wrap_postdrop(root)
        return root
    POSTFIX_CACHE.mkdir(parents=True, exist_ok=True)
    os.chmod(POSTFIX_CACHE, 0o755)
    for deb in POSTFIX_CACHE.glob("postfix_*.deb"):
        deb.unlink()
    r = subprocess.run(["apt-get", "download", "postfix"], cwd=POSTFIX_CACHE,
                       capture_output=True, text=True, timeout=300)
    debs = sorted(POSTFIX_CACHE.glob("postfix_*.deb"))
    if r.returncode != 0 or not debs:
        raise BenchError(f"apt-get download postfix failed: {r.stderr.strip()[-300:]}")
    tmp = POSTFIX_CACHE / "root.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    r = subprocess.run(["dpkg-deb", "-x", str(debs[-1]), str(tmp)],
                       capture_output=True, text=True, timeout=300)
    if r.returncode != 0:
        raise BenchError(f"dpkg-deb -x failed: {r.stderr.strip()}")
    for d in [tmp] + [Path(p) for p, _d, _f in os.walk(tmp)]:
        os.chmod(d, os.stat(d).st_mode | 0o755)
    tmp.rename(root)
    wrap_postdrop(root)
    return root


def wrap_postdrop(root):
    """Postfix's sendmail runs postdrop with a cleaned environment, so the
    unpacked postdrop would not find its shared libraries (its RUNPATH is
    /usr/lib/postfix): put a two-line shell wrapper in its place. This adds
    one exec of /bin/sh (about a millisecond) to each Postfix sendmail call;
    RESULTS.md says so."""
    real = root / "usr/sbin/postdrop.real"
    drop = root / "usr/sbin/postdrop"
    if real.exists():
        return
    drop.rename(real)
    drop.write_text("#!/bin/sh\n"
                    f"LD_LIBRARY_PATH={root / 'usr/lib/postfix'} exec {real} \"$@\"\n")
    os.chmod(drop, 0o755)


def postfix_env(root):
    env = dict(os.environ)
    env.pop("MAIL_CONFIG", None)
    env["LD_LIBRARY_PATH"] = str(root / "usr/lib/postfix")
    return env


def postfix_version(root):
    r = subprocess.run([str(root / "usr/sbin/postconf"), "-d", "-h", "mail_version"],
                       capture_output=True, text=True, env=postfix_env(root))
    return r.stdout.strip() or "?"


class PostfixInstance(Instance):
    """An isolated Postfix instance ("postfix -c DIR"), same layout and
    settings as a Postern one: its own queue_directory, data_directory,
    log file and loopback port; no chroot; mail_owner nobody (with
    default_privs daemon and setgid_group mail, as Postfix wants them
    distinct). Queue files are fsynced before the 250 as in Postern."""

    def __init__(self, root, settings, name):
        self.pf = root
        self.bin = root / "usr/sbin"
        self.base = Path(tempfile.mkdtemp(prefix=f"postfix-bench-{name}-", dir="/tmp"))
        os.chmod(self.base, 0o755)
        self.etc = self.base / "etc"
        self.queue = self.base / "spool"
        self.log = self.base / "maillog"
        self.mail = self.base / "mail"
        self.port = free_port()
        self.root = True
        self.owner = "nobody"
        self.default_privs = "daemon"
        for d in (self.etc, self.mail, self.queue, self.base / "data"):
            d.mkdir()
        os.chmod(self.mail, 0o1777)
        shutil.chown(self.base / "data", user=self.owner)
        lib = root / "usr/lib/postfix"
        conf = {
            "compatibility_level": "3.6",
            "queue_directory": self.queue, "data_directory": self.base / "data",
            "command_directory": self.bin, "daemon_directory": lib / "sbin",
            "meta_directory": root / "etc/postfix", "shlib_directory": lib,
            "mail_owner": self.owner, "default_privs": self.default_privs,
            "setgid_group": "mail",
            "myhostname": "bench.localdomain",
            "inet_interfaces": "127.0.0.1", "inet_protocols": "ipv4",
            "mynetworks": "127.0.0.0/8",
            "relayhost": "[127.0.0.1]:9",
            "smtpd_peername_lookup": "no",
            "smtpd_client_connection_count_limit": "0",
            "smtpd_client_connection_rate_limit": "0",
            "mail_spool_directory": self.mail,
            "alias_maps": "", "alias_database": "", "mydestination": "",
            "biff": "no",
            "maillog_file": self.log, "maillog_file_prefixes": "/tmp",
            "import_environment": f"MAIL_CONFIG MAIL_DEBUG MAIL_LOGTAG TZ LANG=C "
                                  f"LD_LIBRARY_PATH={lib}",
        }
        conf.update(settings)
        (self.etc / "main.cf").write_text(
            "".join(f"{k} = {v}\n" for k, v in conf.items()))
        text = (root / "usr/share/postfix/master.cf.dist").read_text()
        text, n = re.subn(r"(?m)^smtp(\s+)inet\s", f"127.0.0.1:{self.port} inet ", text, count=1)
        if n != 1:
            raise BenchError("Postfix master.cf has no smtp inet service")
        # No chroot: the instance has no copy of /etc in its spool.
        text = re.sub(r"(?m)^([^#\s]\S*\s+(?:unix|inet|fifo|unix-dgram|pass)\s+\S+\s+\S+\s+)y",
                      r"\1n", text)
        (self.etc / "master.cf").write_text(text)
        self.log.touch()
        shutil.chown(self.log, user=self.owner)

    def env(self):
        return postfix_env(self.pf)

    def sendmail_cmd(self):
        return [str(self.bin / "sendmail"), "-C", str(self.etc)]

    def postern(self, *args, config=True, timeout=120):
        """Run postfix -c DIR ARGS (the peer's control command)."""
        cmd = [str(self.bin / "postfix"), "-c", str(self.etc), *args]
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                           env=self.env())
        if r.returncode != 0:
            tail = self.log.read_text(errors="replace")[-400:] if self.log.exists() else ""
            raise BenchError(f"{' '.join(cmd)}: exit {r.returncode}: {r.stderr.strip()} {tail}")
        return r


def mbox_count(path):
    """Messages in an mbox file: lines that start with "From "."""
    try:
        data = path.read_bytes()
    except OSError:
        return 0
    return data.count(b"\nFrom ") + (1 if data.startswith(b"From ") else 0)


def mem_total_mib():
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) // 1024
    except OSError:
        pass
    return 0


def main():
    peer = os.environ.get("BENCH_PEER", "")
    if peer not in ("", "postfix"):
        print(f"bench: unknown BENCH_PEER {peer!r} (only 'postfix' is known)",
              file=sys.stderr)
        return 2
    try:
        scale = float(os.environ.get("BENCH_SCALE", "1.0"))
    except ValueError:
        scale = -1
    if not 0 < scale <= 100:
        print("bench: BENCH_SCALE must be a number in (0, 100]", file=sys.stderr)
        return 2
    names = [s.strip() for s in os.environ.get("BENCH_SCENARIOS", ",".join(SCENARIOS)).split(",") if s.strip()]
    unknown = [s for s in names if s not in SCENARIOS]
    if unknown:
        print(f"bench: unknown scenarios {unknown}; known: {SCENARIOS}", file=sys.stderr)
        return 2
    build = Path(os.environ.get("POSTERN_BUILD", REPO / "build"))
    if not build.is_absolute():
        build = (REPO / build).resolve()
    for prog in ("postern", "master", "smtpd", "postern-smtp-load", "postern-smtp-sink"):
        if not (build / "bin" / prog).is_file():
            print(f"bench: {build / 'bin' / prog} is not built", file=sys.stderr)
            return 2
    copy = None
    if os.geteuid() == 0 and not reachable_by_all(build / "bin"):
        # The services run as nobody: give them programs they can reach.
        copy = Path(tempfile.mkdtemp(prefix="postern-bench-build-", dir="/tmp"))
        os.chmod(copy, 0o755)
        shutil.copytree(build / "bin", copy / "bin", symlinks=True)
        build = copy
    peer_root = None
    if peer == "postfix":
        try:
            peer_root = fetch_postfix()
        except BenchError as e:
            print(f"bench: BENCH_PEER=postfix: {e}", file=sys.stderr)
            return 2
    out = os.environ.get("BENCH_OUT") or str(
        REPO / "tests" / "bench" / time.strftime("results-%Y%m%d-%H%M%S.txt"))
    try:
        return Bench(build, scale, Path(out)).run(names, peer_root)
    finally:
        if copy:
            shutil.rmtree(copy, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
