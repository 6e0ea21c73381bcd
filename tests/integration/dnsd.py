"""A test name server for the integration tests: dnsmasq on loopback.

Tests never use real DNS. A DnsServer runs dnsmasq on 127.0.0.1 and a free
port, answering only from the records the test gives it; names under its
local zones (by default .test, in-addr.arpa and ip6.arpa) that have no
record get NXDOMAIN (or "no data" when the name has other records).

    from dnsd import dnsd          # the fixture (import it into the test)

    def test_x(dnsd, instance_factory):
        dns = dnsd()               # a factory: every server is stopped
        dns.host("mx.example.test", "127.0.0.5")   # A/AAAA + PTR
        dns.mx("example.test", "mx.example.test", 10)
        dns.dnsbl("zen.test", "127.0.0.9", reply="127.0.0.2", text="listed")
        dns.start()
        ... settings={"dns_resolver_servers": dns.servers} ...

Records must be added before start() (dnsmasq reads them at start).
Helpers:
  host(name, *addrs)       A/AAAA records and the matching PTRs
  address(name, addr)      A or AAAA only (no PTR); also covers subnames;
                           call it again for more addresses
  ptr(addr, name)          a PTR record only
  mx(domain, host, pref)   an MX record
  txt(name, *strings)      a TXT record (strings joined when read; no
                           commas, quotes or newlines in them)
  dnsbl(zone, addr, reply="127.0.0.2", text=None)
                           list addr in an IP block list zone
  rhsbl(zone, domain, reply="127.0.0.2", text=None)
                           list a domain in a right-hand-side list zone
  forward(domain, port)    send queries for domain to 127.0.0.1:port
                           (a dead or silent port gives a timeout)
  servers                  "127.0.0.1:PORT", for dns_resolver_servers

FakeDnsServer(rcode, answers=()) is a UDP responder (in a thread) that
answers every query with the given rcode (2 = SERVFAIL, 5 = REFUSED) and
the given answer records, a list of (type, rdata bytes) pairs (hostile
data made to measure), or never answers (rcode=None): for
temporary-failure and parser tests.
"""

import ipaddress
import os
import shutil
import socket
import struct
import subprocess
import threading
import time

import pytest

DNSMASQ = shutil.which("dnsmasq") or "/usr/sbin/dnsmasq"


def free_udp_tcp_port():
    """A port that is free on 127.0.0.1 for both UDP and TCP right now."""
    for _ in range(50):
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        u.bind(("127.0.0.1", 0))
        port = u.getsockname()[1]
        t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            t.bind(("127.0.0.1", port))
            return port
        except OSError:
            continue
        finally:
            t.close()
            u.close()
    raise RuntimeError("no free UDP+TCP port on 127.0.0.1")


def ptr_name(addr):
    """The reverse lookup name of an address."""
    return ipaddress.ip_address(addr).reverse_pointer


def dns_query_packet(name, qtype=1, qid=0x1234):
    """A minimal DNS query packet (RD set)."""
    labels = b"".join(bytes([len(p)]) + p.encode() for p in name.split(".") if p)
    return struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0) + labels + b"\0" + \
        struct.pack(">HH", qtype, 1)


def dns_rcode(reply):
    """The rcode of a reply packet."""
    return struct.unpack(">H", reply[2:4])[0] & 0xF


class DnsServer:
    """dnsmasq with the test's records on a loopback port."""

    def __init__(self, workdir, local_zones=("test", "in-addr.arpa", "ip6.arpa")):
        self.workdir = str(workdir)
        self.local_zones = list(local_zones)
        self.options = []
        self.port = None
        self.proc = None
        self.logfile = os.path.join(self.workdir, "dnsmasq-%d.log" % id(self))

    # ------------------------------------------------------------ records

    def host(self, name, *addrs):
        self.options.append("--host-record=%s,%s" % (name, ",".join(addrs)))
        return self

    def address(self, name, addr):
        self.options.append("--address=/%s/%s" % (name, addr))
        return self

    def ptr(self, addr, name):
        self.options.append("--ptr-record=%s,%s" % (ptr_name(addr), name))
        return self

    def mx(self, domain, host, pref=10):
        self.options.append("--mx-host=%s,%s,%d" % (domain, host, pref))
        return self

    def txt(self, name, *strings):
        for s in strings:
            if '"' in s or "\n" in s or "," in s:
                raise ValueError("TXT strings here cannot hold quotes, commas "
                                 "or newlines (dnsmasq's syntax)")
        self.options.append("--txt-record=%s,%s" % (name, ",".join(strings)))
        return self

    def dnsbl(self, zone, addr, reply="127.0.0.2", text=None):
        ip = ipaddress.ip_address(addr)
        if ip.version == 4:
            rev = ".".join(reversed(str(ip).split(".")))
        else:
            rev = ".".join(reversed(ip.exploded.replace(":", "")))
        name = "%s.%s" % (rev, zone)
        self.options.append("--host-record=%s,%s" % (name, reply))
        if text is not None:
            self.txt(name, text)
        return self

    def rhsbl(self, zone, domain, reply="127.0.0.2", text=None):
        name = "%s.%s" % (domain.rstrip("."), zone)
        self.options.append("--host-record=%s,%s" % (name, reply))
        if text is not None:
            self.txt(name, text)
        return self

    def forward(self, domain, port):
        self.options.append("--server=/%s/127.0.0.1#%d" % (domain, port))
        return self

    # ------------------------------------------------------------ process

    @property
    def servers(self):
        return "127.0.0.1:%d" % self.port

    def _ready(self):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.settimeout(0.2)
        try:
            s.sendto(dns_query_packet("ready-probe.test"), ("127.0.0.1", self.port))
            s.recvfrom(512)
            return True
        except OSError:
            return False
        finally:
            s.close()

    def start(self, timeout=10.0):
        if not os.path.exists(DNSMASQ):
            pytest.skip("dnsmasq is not installed (Debian package dnsmasq-base)")
        last = ""
        for _ in range(5):
            self.port = free_udp_tcp_port()
            cmd = [DNSMASQ, "--keep-in-foreground", "--no-resolv", "--no-hosts",
                   "--no-poll", "--port=%d" % self.port,
                   "--listen-address=127.0.0.1", "--bind-interfaces",
                   "--pid-file=", "--user=" + _user(), "--log-facility=" + self.logfile]
            cmd += ["--local=/%s/" % z for z in self.local_zones]
            cmd += self.options
            self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL,
                                         stderr=subprocess.PIPE, text=True)
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    break
                if self._ready():
                    return self
                time.sleep(0.05)
            if self.proc.poll() is None:
                self.stop()
                raise RuntimeError("dnsmasq did not answer within %ss" % timeout)
            last = self.proc.stderr.read()
            self.proc = None
            if "Address already in use" not in last:
                break
        raise RuntimeError("dnsmasq failed to start: %s" % last)

    def stop(self):
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.terminate()
                try:
                    self.proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait()
            if self.proc.stderr:
                self.proc.stderr.close()
            self.proc = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def _user():
    """dnsmasq drops to "nobody" as root; stay ourselves otherwise."""
    import pwd
    return pwd.getpwuid(os.geteuid()).pw_name


class FakeDnsServer:
    """A UDP server answering every query with one rcode, or never."""

    def __init__(self, rcode=2, answers=()):
        self.rcode = rcode
        self.answers = list(answers)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.1)
        self.port = self.sock.getsockname()[1]
        self.queries = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    @property
    def servers(self):
        return "127.0.0.1:%d" % self.port

    def _serve(self):
        while not self._stop.is_set():
            try:
                data, peer = self.sock.recvfrom(4096)
            except socket.timeout:
                continue
            except OSError:
                return
            self.queries += 1
            if self.rcode is None or len(data) < 12:
                continue
            qid, flags = struct.unpack(">HH", data[:4])
            flags = 0x8000 | (flags & 0x0100) | 0x0080 | self.rcode
            # Echo the question section, then the canned answers, each
            # named by a pointer to the question name (offset 12).
            reply = struct.pack(">HHHHHH", qid, flags, 1, len(self.answers), 0, 0)
            reply += data[12:]
            for rtype, rdata in self.answers:
                reply += struct.pack(">HHHIH", 0xC00C, rtype, 1, 300, len(rdata)) + rdata
            try:
                self.sock.sendto(reply, peer)
            except OSError:
                pass

    def start(self):
        self._thread.start()
        return self

    def stop(self):
        self._stop.set()
        self._thread.join(timeout=2)
        self.sock.close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


@pytest.fixture
def dnsd(tmp_path):
    """Factory of DnsServer objects; every one is stopped at teardown."""
    servers = []

    def make(local_zones=("test", "in-addr.arpa", "ip6.arpa")):
        server = DnsServer(tmp_path, local_zones)
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.stop()
