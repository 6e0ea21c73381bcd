"""A scriptable SMTP / LMTP sink for the integration tests (stdlib only).

Runs in the test process: one listening socket (TCP on loopback, or a UNIX
socket), one thread per connection. Nothing is relayed; every transaction
that ends with an accepted DATA is recorded in sink.messages.

    from smtpsink import SmtpSink

    with SmtpSink() as sink:                  # port 0: a free port
        sink.rcpt_reply = {"bad@x.test": "550 5.1.1 no such user"}
        ... relayhost = "[127.0.0.1]:%d" % sink.port ...
        assert sink.wait_messages(1, timeout=20)
        msg = sink.messages[0]                # Message(...)

Constructor: SmtpSink(host="127.0.0.1", port=0, lmtp=False, unix_path=None)
  host/port  TCP address to listen on ("::1" works too); .port is the port
             really bound (None in UNIX socket mode).
  lmtp       speak LMTP (RFC 2033): LHLO instead of EHLO/HELO, one reply per
             accepted recipient after the final dot.
  unix_path  listen on this UNIX socket path instead of TCP (mode 0666; an
             existing socket file there is replaced; removed by stop()).

Behaviour knobs (plain attributes; set them at any time, each reply reads
the current value):
  greeting    "220 sink ESMTP" ("220 sink LMTP" for LMTP; None = the same
              built from hostname). A 421 greeting
              closes the connection after it is sent; any other non-2xx
              greeting keeps it open and answers "503 5.5.1" to everything
              but QUIT (RFC 5321 4.3.1).
  hostname    the name in the greeting-less replies (EHLO first line).
  ehlo_reply  None (normal multi-line 250 with the extensions) or a reply
              such as "502 5.5.2 no EHLO" (HELO still works then). In LMTP
              mode it is the LHLO reply.
  helo_reply  None ("250 <hostname>") or a reply for HELO.
  extensions  list of EHLO keywords; default PIPELINING, "SIZE 10485760",
              8BITMIME, DSN, SMTPUTF8, ENHANCEDSTATUSCODES. A SIZE limit
              > 0 is enforced at MAIL (SIZE=) and after DATA (552 5.3.4).
  mail_reply  None (250 2.1.0 Ok), a reply string, or a callable
              f(sender) -> reply.
  rcpt_reply  {address: reply} (address compared exactly, then in lower
              case; missing ones get 250 2.1.5 Ok), a reply string for all,
              or a callable f(address) -> reply (None = default).
  data_reply  the final reply after the dot. SMTP: None ("250 2.0.0 Ok:
              queued as <id>"), a string, or a callable f(Message) -> reply.
              LMTP: as SMTP for every recipient, or {address: reply}, or a
              callable f(address) -> reply, one reply per recipient.
  stall_at    None or "greeting" | "ehlo" | "mail" | "rcpt" | "data" | "dot"
              | "quit": at that point stop answering (input is read and
              discarded; the socket stays open until the client closes it
              or stop()).
  drop_at     same points: close the connection there without a reply.
  delay       seconds to wait before each reply (float, default 0).

Observations (lists are appended under a lock; read them at any time):
  messages        Message records of accepted transactions (SMTP: final
                  reply 2xx; LMTP: at least one recipient accepted after
                  the dot, .rcpts = those recipients).
  transactions    every transaction that reached the end of DATA, whatever
                  the final reply (Message records with .replies filled).
  connections     number of connections accepted
  max_concurrent  peak number of simultaneous sessions
  active          sessions open now
  commands        list of (conn_id, command line without CRLF); DATA
                  content is not included.
  wait_messages(n, timeout=10) -> True once len(messages) >= n.
  wait_connections(n, timeout=10) -> True once connections >= n.
  clear()         forget all observations (knobs are kept).

Message fields: mail_from (str, no angle brackets), mail_params ({"SIZE":
"123", "SMTPUTF8": None, ...}, keys in upper case), rcpts (list of str),
rcpt_params (list of dicts, parallel to rcpts), data (bytes, dot-unstuffed,
line ends as received), helo (EHLO/HELO/LHLO argument), conn_id (int, from
1), replies ({rcpt: final reply} in LMTP mode; {"": reply} in SMTP mode).

TLS and AUTH (additions):
  tls_cert, tls_key  PEM file paths. When set, EHLO offers STARTTLS (until
              TLS is active) and STARTTLS starts a server handshake.
              Plaintext pipelined after STARTTLS is discarded and counted
              in sink.starttls_injected (RFC 3207: never taken as TLS).
  wrapper     True: the handshake happens at connect (implicit TLS, RFC
              8314, the "port 465" style); needs tls_cert/tls_key.
  tls_max_version  None, or "TLSv1.2" etc.: the highest version offered.
  starttls_reply  None ("220 2.0.0 Ready to start TLS") or another reply
              (a non-220 reply refuses STARTTLS).
  tls_extra   bytes sent in plaintext right after the 220 reply to
              STARTTLS (to test that the client refuses them).
  auth        {"user": "password"}: EHLO offers "AUTH PLAIN LOGIN" (the
              list in auth_mechs) and AUTH checks the credentials.
  auth_required  True: MAIL before a successful AUTH gets "530 5.7.0
              Authentication required".
  auth_fail_reply  the reply to bad credentials ("535 5.7.8 Error:
              authentication failed").
  Observations: auth_attempts (list of (user, mechanism, ok)),
  tls_handshakes (count), starttls_injected (count). Message fields
  tls (bool), tls_version ("TLSv1.3" or None), auth_user (str or None),
  tls_sni (the server name the client sent, or None).

Commands are read line by line from a buffer and answered in order, so
pipelined clients get correct replies. Lines longer than 64 KiB get
"500 5.5.2 line too long" and the connection is closed.
"""

import base64
import os
import socket
import ssl
import stat
import threading
import time
from dataclasses import dataclass, field

__all__ = ["SmtpSink", "Message"]

MAX_LINE = 65536
POINTS = ("greeting", "ehlo", "mail", "rcpt", "data", "dot", "quit")


@dataclass
class Message:
    """One mail transaction seen by the sink."""
    mail_from: str
    mail_params: dict
    rcpts: list
    rcpt_params: list
    data: bytes
    helo: str
    conn_id: int
    replies: dict = field(default_factory=dict)
    tls: bool = False
    tls_version: str = None
    auth_user: str = None
    tls_sni: str = None


class _Closed(Exception):
    """The peer closed the connection, the sink is stopping, or we drop."""


def _parse_params(text):
    """ESMTP parameters "A=b C" -> {"A": "b", "C": None}."""
    params = {}
    for word in text.split():
        if "=" in word:
            key, value = word.split("=", 1)
        else:
            key, value = word, None
        params[key.upper()] = value
    return params


def _parse_path(arg, keyword):
    """'FROM:<a@b> SIZE=1' -> ("a@b", {"SIZE": "1"}) or None when malformed."""
    if not arg[:len(keyword)].upper() == keyword:
        return None
    rest = arg[len(keyword):].lstrip()
    if rest.startswith("<"):
        end = rest.find(">")
        if end < 0:
            return None
        return rest[1:end], _parse_params(rest[end + 1:])
    parts = rest.split(None, 1)
    if not parts:
        return None
    return parts[0], _parse_params(parts[1] if len(parts) > 1 else "")


def _format_reply(text):
    """Turn a reply (lines joined by newlines) into wire format."""
    lines = [line for line in str(text).replace("\r", "").split("\n")]
    out = []
    for i, line in enumerate(lines):
        if i < len(lines) - 1 and len(line) >= 3:
            if len(line) == 3:
                line = line + "-"
            elif line[3] == " ":
                line = line[:3] + "-" + line[4:]
        out.append(line + "\r\n")
    return "".join(out).encode("utf-8", "surrogateescape")


def _size_limit(extensions):
    for ext in extensions or ():
        parts = str(ext).split()
        if parts and parts[0].upper() == "SIZE" and len(parts) > 1:
            try:
                return int(parts[1])
            except ValueError:
                return 0
    return 0


class _Session:
    """The state of one connection, served by its own thread."""

    def __init__(self, sink, sock, conn_id):
        self.sink = sink
        self.sock = sock
        self.conn_id = conn_id
        self.buf = b""
        self.helo = ""
        self.refused = False
        self.tls_version = None
        self.tls_sni = None
        self.auth_user = None
        self.reset()

    def reset(self):
        self.mail_from = None
        self.mail_params = {}
        self.rcpts = []
        self.rcpt_params = []

    # ---- input ---------------------------------------------------------

    def _fill(self):
        while True:
            if self.sink._stopping.is_set():
                raise _Closed()
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                continue
            except OSError:
                raise _Closed()
            if not chunk:
                raise _Closed()
            self.buf += chunk
            return

    def readline(self):
        """One line including its terminator (bytes)."""
        while True:
            nl = self.buf.find(b"\n")
            if nl >= 0:
                line, self.buf = self.buf[:nl + 1], self.buf[nl + 1:]
                return line
            if len(self.buf) > MAX_LINE:
                self.send("500 5.5.2 line too long", delay=False)
                raise _Closed()
            self._fill()

    # ---- output --------------------------------------------------------

    def send(self, reply, delay=True):
        if delay and self.sink.delay:
            end = time.monotonic() + float(self.sink.delay)
            while time.monotonic() < end:
                if self.sink._stopping.is_set():
                    raise _Closed()
                time.sleep(min(0.05, max(0.0, end - time.monotonic())))
        try:
            self.sock.sendall(_format_reply(reply))
        except OSError:
            raise _Closed()

    def checkpoint(self, point):
        """Apply the stall_at / drop_at knobs at a protocol point."""
        if self.sink.drop_at == point:
            raise _Closed()
        if self.sink.stall_at == point:
            # Stop answering; swallow input until the client goes away.
            while True:
                self.buf = b""
                self._fill()

    # ---- protocol ------------------------------------------------------

    # ---- TLS and AUTH --------------------------------------------------

    def _start_tls(self):
        """Server handshake on the socket; replaces self.sock."""
        sink = self.sink
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(sink.tls_cert, sink.tls_key)
        if sink.tls_max_version:
            ctx.maximum_version = getattr(ssl.TLSVersion,
                                          sink.tls_max_version.replace(".", "_"))

        def sni(_sslsock, name, _ctx):
            self.tls_sni = name
        ctx.sni_callback = sni
        raw = self.sock
        tls = ctx.wrap_socket(raw, server_side=True,
                              do_handshake_on_connect=False)
        end = time.monotonic() + 10
        while True:
            if sink._stopping.is_set() or time.monotonic() > end:
                raise _Closed()
            try:
                tls.do_handshake()
                break
            except (socket.timeout, ssl.SSLWantReadError,
                    ssl.SSLWantWriteError):
                continue
            except (ssl.SSLError, OSError):
                raise _Closed()
        self.sock = tls
        sink._swap_conn(self.conn_key, tls)
        self.tls_version = tls.version()
        with sink._lock:
            sink.tls_handshakes += 1

    def cmd_STARTTLS(self, arg):
        sink = self.sink
        if not sink.tls_cert or self.tls_version is not None or sink.wrapper:
            self.send("502 5.5.2 Error: command not recognized")
            return
        reply = sink.starttls_reply or "220 2.0.0 Ready to start TLS"
        if not str(reply).startswith("220"):
            self.send(reply)
            return
        try:
            # tls_extra goes in the same write as the reply, so that the
            # client finds it behind the 220 in one read.
            self.sock.sendall(_format_reply(reply) + (sink.tls_extra or b""))
        except OSError:
            raise _Closed()
        if self.buf:
            # Pipelined plaintext must never count as protected input.
            with sink._lock:
                sink.starttls_injected += 1
            self.buf = b""
        self._start_tls()
        # RFC 3207: forget everything learned before TLS.
        self.helo = ""
        self.auth_user = None
        self.reset()

    def _b64(self, text):
        try:
            return base64.b64decode(text.strip(), validate=True)
        except (ValueError, base64.binascii.Error):
            return None

    def _ask(self, challenge):
        """Send a 334 challenge, return the decoded answer or None."""
        self.send("334 " + challenge)
        line = self.readline().rstrip(b"\r\n").decode("utf-8", "replace")
        if line == "*":
            self.send("501 5.7.0 Authentication aborted")
            return False
        return self._b64(line)

    def cmd_AUTH(self, arg):
        sink = self.sink
        if not sink.auth:
            self.send("502 5.5.2 Error: command not recognized")
            return
        if not self.helo:
            self.send("503 5.5.1 Error: send HELO/EHLO first")
            return
        if self.auth_user is not None:
            self.send("503 5.5.1 Error: already authenticated")
            return
        parts = arg.split()
        if not parts:
            self.send("501 5.5.4 Syntax: AUTH mechanism")
            return
        mech = parts[0].upper()
        if mech not in [m.upper() for m in sink.auth_mechs]:
            self.send("535 5.7.8 Error: authentication failed: "
                      "mechanism not available")
            return
        user = password = None
        if mech == "PLAIN":
            if len(parts) > 1:
                blob = b"" if parts[1] == "=" else self._b64(parts[1])
            else:
                blob = self._ask("")
            if blob is False:
                return
            if blob is None or blob.count(b"\0") != 2:
                self.send("501 5.5.2 Cannot decode response")
                return
            _authz, user, password = blob.split(b"\0")
        else:
            if len(parts) > 1:
                user = self._b64(parts[1])
            else:
                user = self._ask("VXNlcm5hbWU6")
            if user is False:
                return
            password = self._ask("UGFzc3dvcmQ6") if user is not None else None
            if password is False:
                return
            if user is None or password is None:
                self.send("501 5.5.2 Cannot decode response")
                return
        user = user.decode("utf-8", "replace")
        password = password.decode("utf-8", "replace")
        ok = sink.auth.get(user) == password
        with sink._lock:
            sink.auth_attempts.append((user, mech, ok))
        if ok:
            self.auth_user = user
            self.send("235 2.7.0 Authentication successful")
        else:
            self.send(sink.auth_fail_reply)

    def run(self):
        sink = self.sink
        if sink.wrapper:
            self._start_tls()
        self.checkpoint("greeting")
        greeting = sink.greeting
        if greeting is None:
            greeting = "220 %s %s" % (sink.hostname,
                                      "LMTP" if sink.lmtp else "ESMTP")
        self.send(greeting)
        if greeting.startswith("421"):
            return
        self.refused = not greeting.startswith("2")
        while True:
            raw = self.readline()
            line = raw.rstrip(b"\r\n").decode("utf-8", "surrogateescape")
            sink._record_command(self.conn_id, line)
            verb, _, arg = line.partition(" ")
            verb = verb.upper()
            if verb == "QUIT":
                self.checkpoint("quit")
                self.send("221 2.0.0 Bye")
                return
            if self.refused:
                self.send("503 5.5.1 Error: no service")
                continue
            handler = getattr(self, "cmd_" + verb, None)
            if handler is None:
                self.send("502 5.5.2 Error: command not recognized")
                continue
            handler(arg.strip())

    def _ehlo_lines(self):
        lines = ["250 " + self.sink.hostname]
        for ext in list(self.sink.extensions or ()):
            lines.append("250 " + str(ext))
        if self.sink.tls_cert and not self.sink.wrapper \
                and self.tls_version is None and not self.sink.lmtp:
            lines.append("250 STARTTLS")
        if self.sink.auth:
            lines.append("250 AUTH " + " ".join(self.sink.auth_mechs))
        return "\n".join(lines)

    def cmd_EHLO(self, arg):
        self.checkpoint("ehlo")
        if self.sink.lmtp:
            self.send("500 5.5.1 Error: LMTP requires LHLO")
            return
        self._greet(arg, self.sink.ehlo_reply, self._ehlo_lines())

    def cmd_LHLO(self, arg):
        self.checkpoint("ehlo")
        if not self.sink.lmtp:
            self.send("502 5.5.2 Error: command not recognized")
            return
        self._greet(arg, self.sink.ehlo_reply, self._ehlo_lines())

    def cmd_HELO(self, arg):
        self.checkpoint("ehlo")
        if self.sink.lmtp:
            self.send("500 5.5.1 Error: LMTP requires LHLO")
            return
        self._greet(arg, self.sink.helo_reply, "250 " + self.sink.hostname)

    def _greet(self, arg, override, normal):
        if not arg:
            self.send("501 5.5.4 Syntax: EHLO hostname")
            return
        reply = override if override is not None else normal
        if str(reply).startswith("2"):
            self.helo = arg
            self.reset()
        self.send(reply)

    def cmd_MAIL(self, arg):
        self.checkpoint("mail")
        if not self.helo:
            self.send("503 5.5.1 Error: send HELO/EHLO first")
            return
        if self.mail_from is not None:
            self.send("503 5.5.1 Error: nested MAIL command")
            return
        parsed = _parse_path(arg, "FROM:")
        if parsed is None:
            self.send("501 5.5.4 Syntax: MAIL FROM:<address>")
            return
        sender, params = parsed
        if self.sink.auth_required and self.auth_user is None:
            self.send("530 5.7.0 Authentication required")
            return
        limit = _size_limit(self.sink.extensions)
        size = params.get("SIZE")
        if limit > 0 and size is not None and size.isdigit() \
                and int(size) > limit:
            self.send("552 5.3.4 Message size exceeds fixed limit")
            return
        knob = self.sink.mail_reply
        reply = knob(sender) if callable(knob) else knob
        if reply is None:
            reply = "250 2.1.0 Ok"
        if str(reply).startswith("2"):
            self.mail_from, self.mail_params = sender, params
        self.send(reply)

    def cmd_RCPT(self, arg):
        self.checkpoint("rcpt")
        if self.mail_from is None:
            self.send("503 5.5.1 Error: need MAIL command")
            return
        parsed = _parse_path(arg, "TO:")
        if parsed is None or not parsed[0]:
            self.send("501 5.5.4 Syntax: RCPT TO:<address>")
            return
        rcpt, params = parsed
        knob = self.sink.rcpt_reply
        if callable(knob):
            reply = knob(rcpt)
        elif isinstance(knob, dict):
            reply = knob.get(rcpt, knob.get(rcpt.lower()))
        else:
            reply = knob
        if reply is None:
            reply = "250 2.1.5 Ok"
        if str(reply).startswith("2"):
            self.rcpts.append(rcpt)
            self.rcpt_params.append(params)
        self.send(reply)

    def cmd_DATA(self, arg):
        self.checkpoint("data")
        if self.mail_from is None:
            self.send("503 5.5.1 Error: need MAIL command")
            return
        if not self.rcpts:
            self.send("554 5.5.1 Error: no valid recipients")
            return
        self.send("354 End data with <CR><LF>.<CR><LF>")
        chunks = []
        total = 0
        while True:
            line = self.readline()
            if line in (b".\r\n", b".\n"):
                break
            if line.startswith(b"."):
                line = line[1:]
            total += len(line)
            chunks.append(line)
        data = b"".join(chunks)
        self.checkpoint("dot")
        msg = Message(self.mail_from, dict(self.mail_params), list(self.rcpts),
                      list(self.rcpt_params), data, self.helo, self.conn_id,
                      tls=self.tls_version is not None,
                      tls_version=self.tls_version, auth_user=self.auth_user,
                      tls_sni=self.tls_sni)
        limit = _size_limit(self.sink.extensions)
        knob = self.sink.data_reply
        if self.sink.lmtp:
            accepted, accepted_params = [], []
            for rcpt, params in zip(msg.rcpts, msg.rcpt_params):
                if limit > 0 and total > limit:
                    reply = "552 5.3.4 Message size exceeds fixed limit"
                elif callable(knob):
                    reply = knob(rcpt)
                elif isinstance(knob, dict):
                    reply = knob.get(rcpt, knob.get(rcpt.lower()))
                else:
                    reply = knob
                if reply is None:
                    reply = "250 2.0.0 <%s> Ok: delivered as %s" % (
                        rcpt, self.sink._next_queue_id())
                msg.replies[rcpt] = reply
                if str(reply).startswith("2"):
                    accepted.append(rcpt)
                    accepted_params.append(params)
                self.send(reply)
            self.sink._record_transaction(msg, accepted, accepted_params)
        else:
            if limit > 0 and total > limit:
                reply = "552 5.3.4 Message size exceeds fixed limit"
            else:
                reply = knob(msg) if callable(knob) else knob
            if reply is None:
                reply = "250 2.0.0 Ok: queued as %s" % \
                    self.sink._next_queue_id()
            msg.replies[""] = reply
            ok = str(reply).startswith("2")
            self.sink._record_transaction(
                msg, msg.rcpts if ok else [], msg.rcpt_params if ok else [])
            self.send(reply)
        self.reset()

    def cmd_RSET(self, arg):
        self.reset()
        self.send("250 2.0.0 Ok")

    def cmd_NOOP(self, arg):
        self.send("250 2.0.0 Ok")

    def cmd_VRFY(self, arg):
        self.send("252 2.0.0 Cannot VRFY user")


class SmtpSink:
    """See the module documentation."""

    def __init__(self, host="127.0.0.1", port=0, lmtp=False, unix_path=None):
        self.host = host
        self.lmtp = bool(lmtp)
        self.unix_path = str(unix_path) if unix_path is not None else None
        self.port = None if unix_path is not None else port
        # knobs
        self.greeting = "220 sink LMTP" if self.lmtp else "220 sink ESMTP"
        self.hostname = "sink.test"
        self.ehlo_reply = None
        self.helo_reply = None
        self.extensions = ["PIPELINING", "SIZE 10485760", "8BITMIME", "DSN",
                           "SMTPUTF8", "ENHANCEDSTATUSCODES"]
        self.mail_reply = None
        self.rcpt_reply = {}
        self.data_reply = None
        self.stall_at = None
        self.drop_at = None
        self.delay = 0
        self.tls_cert = None
        self.tls_key = None
        self.wrapper = False
        self.tls_max_version = None
        self.starttls_reply = None
        self.tls_extra = None
        self.auth = None
        self.auth_mechs = ["PLAIN", "LOGIN"]
        self.auth_required = False
        self.auth_fail_reply = "535 5.7.8 Error: authentication failed"
        self.auth_attempts = []
        self.tls_handshakes = 0
        self.starttls_injected = 0
        # observations
        self.messages = []
        self.transactions = []
        self.commands = []
        self.connections = 0
        self.max_concurrent = 0
        self.active = 0
        # internals
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._stopping = threading.Event()
        self._listener = None
        self._thread = None
        self._conns = {}
        self._threads = []
        self._queue_seq = 0

    # ---- lifecycle -----------------------------------------------------

    def start(self):
        """Bind, listen and start accepting; returns self."""
        if self._listener is not None:
            raise RuntimeError("sink already started")
        for name in ("stall_at", "drop_at"):
            value = getattr(self, name)
            if value is not None and value not in POINTS:
                raise ValueError("%s must be one of %s" % (name, POINTS))
        if self.unix_path is not None:
            try:
                if stat.S_ISSOCK(os.lstat(self.unix_path).st_mode):
                    os.unlink(self.unix_path)
            except FileNotFoundError:
                pass
            lsock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            lsock.bind(self.unix_path)
            os.chmod(self.unix_path, 0o666)
        else:
            family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
            lsock = socket.socket(family, socket.SOCK_STREAM)
            lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            lsock.bind((self.host, self.port or 0))
            self.port = lsock.getsockname()[1]
        lsock.listen(128)
        lsock.settimeout(0.1)
        self._listener = lsock
        self._stopping.clear()
        self._thread = threading.Thread(target=self._accept_loop,
                                        name="smtpsink-accept", daemon=True)
        self._thread.start()
        return self

    def stop(self):
        """Close the listener and every connection; wait for the threads."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None
        with self._lock:
            conns = list(self._conns.values())
            threads = list(self._threads)
        for sock in conns:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        for thread in threads:
            thread.join(5)
        if self._listener is not None:
            self._listener.close()
            self._listener = None
        if self.unix_path is not None:
            try:
                os.unlink(self.unix_path)
            except FileNotFoundError:
                pass

    def __enter__(self):
        if self._listener is None:
            self.start()
        return self

    def __exit__(self, *exc):
        self.stop()
        return False

    # ---- observations --------------------------------------------------

    def wait_messages(self, n, timeout=10):
        """Wait until at least n messages were accepted; True if so."""
        return self._wait(lambda: len(self.messages) >= n, timeout)

    def wait_connections(self, n, timeout=10):
        """Wait until at least n connections were accepted; True if so."""
        return self._wait(lambda: self.connections >= n, timeout)

    def _wait(self, pred, timeout):
        end = time.monotonic() + timeout
        with self._cond:
            while not pred():
                left = end - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(min(left, 0.1))
            return True

    def clear(self):
        """Forget what was observed so far (knobs are kept)."""
        with self._lock:
            self.messages = []
            self.transactions = []
            self.commands = []
            self.connections = 0
            self.max_concurrent = self.active
            self.auth_attempts = []
            self.tls_handshakes = 0
            self.starttls_injected = 0

    @property
    def address(self):
        """"host:port" (or the socket path) for logs and parameters."""
        if self.unix_path is not None:
            return self.unix_path
        if ":" in self.host:
            return "[%s]:%d" % (self.host, self.port)
        return "%s:%d" % (self.host, self.port)

    # ---- internals -----------------------------------------------------

    def _next_queue_id(self):
        with self._lock:
            self._queue_seq += 1
            return "SINK%06d" % self._queue_seq

    def _record_command(self, conn_id, line):
        with self._lock:
            self.commands.append((conn_id, line))

    def _record_transaction(self, msg, rcpts, rcpt_params):
        with self._cond:
            self.transactions.append(msg)
            if rcpts:
                accepted = Message(msg.mail_from, msg.mail_params, list(rcpts),
                                   list(rcpt_params), msg.data, msg.helo,
                                   msg.conn_id, dict(msg.replies),
                                   tls=msg.tls, tls_version=msg.tls_version,
                                   auth_user=msg.auth_user,
                                   tls_sni=msg.tls_sni)
                self.messages.append(accepted)
            self._cond.notify_all()

    def _accept_loop(self):
        while not self._stopping.is_set():
            try:
                sock, _ = self._listener.accept()
            except socket.timeout:
                continue
            except OSError:
                if self._stopping.is_set():
                    return
                time.sleep(0.05)
                continue
            sock.settimeout(0.1)
            with self._cond:
                self.connections += 1
                conn_id = self.connections
                self.active += 1
                self.max_concurrent = max(self.max_concurrent, self.active)
                self._conns[id(sock)] = sock
                self._cond.notify_all()
                thread = threading.Thread(target=self._serve,
                                          args=(sock, conn_id), daemon=True,
                                          name="smtpsink-%d" % conn_id)
                self._threads = [t for t in self._threads if t.is_alive()]
                self._threads.append(thread)
            thread.start()

    def _swap_conn(self, key, sock):
        with self._lock:
            if key in self._conns:
                self._conns[key] = sock

    def _serve(self, sock, conn_id):
        session = _Session(self, sock, conn_id)
        session.conn_key = id(sock)
        try:
            session.run()
        except _Closed:
            pass
        finally:
            with self._cond:
                self.active -= 1
                self._conns.pop(id(sock), None)
                self._cond.notify_all()
            for s in (session.sock, sock):
                try:
                    s.close()
                except OSError:
                    pass
