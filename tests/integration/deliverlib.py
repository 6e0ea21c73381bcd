"""Client side of the delivery protocol (lib/mail/deliver_request.h), for
integration tests that drive a delivery agent (local, later smtp) the way
qmgr does, without qmgr.

  deliver(sock_path, queue_id, qinfo, sender, rcpts, timeout=60, **extra)
        -> (results, final)
      Connect to the agent's socket (queue_dir/private/local), check the
      protocol greeting, send one request for the queue file active/ID
      (qinfo is what qmgr_lib.write_qfile returned: offsets of the
      recipient records, content_offset, size) and read one result per
      recipient plus the final message. rcpts: list of str or of dicts
      with address and optional orig, orcpt, notify. results: dict
      address -> dict(status=int, dsn, reason, relay, offset).
  queue_message(queue_dir, sender, rcpts, body, arrival=None)
        -> (queue_id, qinfo)
      Write a queue file into queue_dir/active with qmgr_lib.write_qfile.

The attribute codec is the one in qfilelib (a single Python reading of
lib/mail/attr.h for all tests).
"""

import socket
from pathlib import Path

from qfilelib import attr_encode, attr_read
from qmgr_lib import queue_id as new_queue_id, write_qfile

DELIVERY_PROTOCOL = "delivery_request_protocol"


def queue_message(queue_dir, sender, rcpts, body, arrival=None):
    qid = new_queue_id()
    path = Path(queue_dir) / "active" / qid
    addrs = [r if isinstance(r, str) else (r["address"], r.get("orig")) for r in rcpts]
    info = write_qfile(path, sender, addrs, body, arrival=arrival)
    return qid, info


def deliver(sock_path, queue_id, qinfo, sender, rcpts, timeout=60, **extra):
    norm = [{"address": r} if isinstance(r, str) else dict(r) for r in rcpts]
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect(str(sock_path))
    f = s.makefile("rb")
    try:
        hello = attr_read(f)
        assert hello == {"protocol": DELIVERY_PROTOCOL}, hello
        req = [("queue_name", "active"), ("queue_id", queue_id),
               ("offset", qinfo["content_offset"]), ("size", qinfo["size"]),
               ("nexthop", extra.pop("nexthop", "localhost")), ("sender", sender)]
        req += list(extra.items())
        req.append(("recipient_count", len(norm)))
        s.sendall(attr_encode(req))
        by_offset = {}
        for r, off in zip(norm, qinfo["offsets"]):
            pairs = [("recipient", r["address"])]
            for key, name in (("orig", "original_recipient"), ("orcpt", "dsn_orcpt"),
                              ("notify", "notify_flags")):
                if r.get(key) is not None:
                    pairs.append((name, r[key]))
            pairs.append(("offset", off))
            s.sendall(attr_encode(pairs))
            by_offset[off] = r["address"]
        results = {}
        for _ in norm:
            m = attr_read(f)
            off = int(m["offset"])
            assert off in by_offset, m
            results[by_offset[off]] = {"status": int(m["status"]), "dsn": m.get("dsn_status"),
                                       "reason": m.get("reason"), "relay": m.get("relay"),
                                       "offset": off}
        final = attr_read(f)
        return results, final
    finally:
        f.close()
        s.close()
