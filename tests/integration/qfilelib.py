"""A small reader for Postern queue files and an attribute-protocol codec,
for integration tests (the formats are specified in lib/mail/qfile.h and
lib/mail/attr.h; this is an independent reading of those specs).

  read_records(data)  -> [(type, payload_bytes, offset)]
  parse_qfile(path_or_bytes) -> QueueFile with:
        header    dict(version, content_offset, tail_offset, content_size,
                       rcpt_count, flags)
        time      (sec, usec)
        sender    str ("" = null sender)
        attrs     dict name -> value (str)
        envid, ret   str or None
        rcpts     list of dict(address, orig, orcpt, notify, done, extracted)
        content   bytes: the message with LF line ends
        headers() list of (name, value) of the content's header block,
                  value unfolded and stripped
        hdr(name) values of the header fields named name
        body()    bytes after the empty line
  attr_encode(pairs) -> bytes     pairs: list of (name, value) or a dict
  attr_read(sock_file) -> dict    read one message from a binary file
                                  object (socket.makefile("rb"))
  cleanup_submit(sock_path, envelope, recipients, content, chunk=65536)
                      -> dict     speak the cleanup protocol, return the reply
"""

import socket


class QfileError(Exception):
    pass


def read_records(data):
    """Split queue file bytes into (type, payload, offset) tuples."""
    out = []
    pos = 0
    while pos < len(data):
        start = pos
        rtype = chr(data[pos])
        pos += 1
        length = 0
        shift = 0
        for i in range(4):
            if pos >= len(data):
                raise QfileError(f"offset {start}: truncated length")
            b = data[pos]
            pos += 1
            length |= (b & 0x7F) << shift
            shift += 7
            if not b & 0x80:
                break
        else:
            raise QfileError(f"offset {start}: length too long")
        if pos + length > len(data):
            raise QfileError(f"offset {start}: truncated payload")
        out.append((rtype, data[pos:pos + length], start))
        pos += length
    return out


class QueueFile:
    def __init__(self):
        self.header = {}
        self.time = None
        self.sender = None
        self.attrs = {}
        self.envid = None
        self.ret = None
        self.rcpts = []
        self.content = b""

    def headers(self):
        """(name, unfolded value) for each header field of the content."""
        fields = []
        for line in self.content.split(b"\n"):
            if line == b"":
                break
            if line[:1] in (b" ", b"\t") and fields:
                fields[-1][1] += b" " + line.strip()
                continue
            name, _, value = line.partition(b":")
            fields.append([name, value.strip()])
        return [(n.decode("latin-1"), v.decode("latin-1")) for n, v in fields]

    def hdr(self, name):
        """Values of every header field named name (case-insensitive)."""
        return [v for n, v in self.headers() if n.lower() == name.lower()]

    def body(self):
        idx = self.content.find(b"\n\n")
        return b"" if idx < 0 else self.content[idx + 2:]


def parse_qfile(src):
    """Parse a queue file (path or bytes) into a QueueFile."""
    data = src if isinstance(src, (bytes, bytearray)) else open(src, "rb").read()
    recs = read_records(bytes(data))
    q = QueueFile()
    if not recs or recs[0][0] != "C":
        raise QfileError("no header record")
    fields = recs[0][1].decode().split(" ")
    names = ["version", "content_offset", "tail_offset", "content_size",
             "rcpt_count", "flags"]
    q.header = {n: int(v) for n, v in zip(names, fields)}
    pending = {}
    segment = "envelope"
    lines = []
    partial = b""
    for rtype, payload, offset in recs[1:]:
        if segment == "content":
            if rtype == "N":
                lines.append(partial + payload + b"\n")
                partial = b""
                continue
            if rtype == "L":
                partial += payload
                continue
            segment = "tail"
        if rtype == "T":
            sec, usec = payload.decode().split()
            q.time = (int(sec), int(usec))
        elif rtype == "S":
            q.sender = payload.decode("utf-8", "surrogateescape")
        elif rtype == "A":
            name, _, value = payload.decode("utf-8", "surrogateescape").partition("=")
            q.attrs[name] = value
        elif rtype == "i":
            q.envid = payload.decode()
        elif rtype == "<":
            q.ret = payload.decode()
        elif rtype in "Oon":
            pending[rtype] = payload.decode("utf-8", "surrogateescape")
        elif rtype in "RD":
            q.rcpts.append({
                "address": payload.decode("utf-8", "surrogateescape"),
                "orig": pending.get("O"),
                "orcpt": pending.get("o"),
                "notify": int(pending["n"]) if "n" in pending else 0,
                "done": rtype == "D",
                "extracted": segment == "tail",
                "offset": offset,
            })
            pending = {}
        elif rtype == "M":
            segment = "content"
        elif rtype == "X":
            segment = "tail"
        elif rtype == "E":
            break
        elif rtype == "W":
            pass
        else:
            raise QfileError(f"offset {offset}: unexpected record {rtype!r}")
    q.content = b"".join(lines)
    return q


_PLAIN = set(range(0x21, 0x7F)) - {0x25} | set(range(0x80, 0x100))


def attr_escape(value):
    if isinstance(value, int):
        value = str(value)
    if isinstance(value, str):
        value = value.encode("utf-8", "surrogateescape")
    return b"".join(bytes([b]) if b in _PLAIN else b"%%%02X" % b for b in value)


def attr_encode(pairs):
    if isinstance(pairs, dict):
        pairs = list(pairs.items())
    out = b"".join(name.encode() + b"=" + attr_escape(v) + b"\n" for name, v in pairs)
    return out + b"\n"


def attr_unescape(raw):
    out = bytearray()
    i = 0
    while i < len(raw):
        if raw[i] == 0x25:
            out.append(int(raw[i + 1:i + 3], 16))
            i += 3
        else:
            out.append(raw[i])
            i += 1
    return bytes(out)


def attr_read(f):
    """Read one attribute message from a binary file object."""
    msg = {}
    while True:
        line = f.readline(100000)
        if not line:
            raise EOFError("connection closed")
        line = line.rstrip(b"\n")
        if line == b"":
            return msg
        name, _, value = line.partition(b"=")
        msg[name.decode()] = attr_unescape(value).decode("utf-8", "surrogateescape")


def cleanup_submit(sock_path, envelope, recipients, content, chunk=65536,
                   timeout=30):
    """Submit one message to cleanup and return its reply as a dict.

    envelope: list of (name, value) pairs (sender, flags, ...), without
    recipient_count; recipients: list of str or of lists of pairs."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect(str(sock_path))
    f = s.makefile("rb")
    try:
        hello = attr_read(f)
        assert hello == {"protocol": "cleanup_protocol"}, hello
        if isinstance(envelope, dict):
            envelope = list(envelope.items())
        if isinstance(content, str):
            content = content.encode("utf-8", "surrogateescape")
        try:
            s.sendall(attr_encode(list(envelope) + [("recipient_count", len(recipients))]))
            for r in recipients:
                pairs = [("recipient", r)] if isinstance(r, str) else r
                s.sendall(attr_encode(pairs))
            for i in range(0, len(content), chunk):
                piece = content[i:i + chunk]
                s.sendall(attr_encode([("size", len(piece))]) + piece)
            s.sendall(attr_encode([("size", 0)]))
        except (BrokenPipeError, ConnectionResetError):
            pass                        # cleanup answered early and hung up
        return attr_read(f)
    finally:
        f.close()
        s.close()
