#!/usr/bin/env python3
# tests/tcpnat_client.py ADDR PORT N BIG - N HTTP/1.0 GETs to ADDR:PORT,
# one connection each, in turn: the first of /BIG (its sha256 kept), the
# others of /small. Each connection's peer (getpeername) must be
# ADDR:PORT. Prints one line of JSON: done, failed, peer_wrong, sha256,
# big_bytes, max_connect_ms. Bounded: 10 s per connection, 60 s in all.
import hashlib
import json
import socket
import sys
import time

addr, port, n, big = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), \
    sys.argv[4]
family = socket.AF_INET6 if ":" in addr else socket.AF_INET
done = failed = peer_wrong = big_bytes = 0
sha, max_ms, start = "", 0.0, time.monotonic()


def get(path):
    """One connection, one GET: (connect ms, peer, body)."""
    s = socket.socket(family, socket.SOCK_STREAM)
    s.settimeout(10)
    try:
        t0 = time.monotonic()
        s.connect((addr, port))
        ms = (time.monotonic() - t0) * 1000
        peer = s.getpeername()[:2]
        s.sendall(b"GET /" + path.encode() + b" HTTP/1.0\r\n\r\n")
        chunks = []
        while True:
            b = s.recv(1 << 16)
            if not b:
                break
            chunks.append(b)
        head, _, body = b"".join(chunks).partition(b"\r\n\r\n")
        if not head.startswith(b"HTTP/1.0 200"):
            raise OSError("status " + head[:40].decode(errors="replace"))
        return ms, peer, body
    finally:
        s.close()


for i in range(n):
    if time.monotonic() - start > 60:
        break
    try:
        ms, peer, body = get(big if i == 0 else "small")
        done += 1
        max_ms = max(max_ms, ms)
        if peer[0] != addr or peer[1] != port:
            peer_wrong += 1
            print(f"connection {i}: peer {peer}", file=sys.stderr)
        if i == 0:
            sha = hashlib.sha256(body).hexdigest()
            big_bytes = len(body)
    except OSError as e:
        failed += 1
        print(f"connection {i}: {e}", file=sys.stderr)

print(json.dumps({"done": done, "failed": failed, "peer_wrong": peer_wrong,
                  "sha256": sha, "big_bytes": big_bytes,
                  "max_connect_ms": round(max_ms, 3)},
                 separators=(",", ":")))
