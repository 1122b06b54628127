#!/usr/bin/env python3
"""Application-hedged client in Python: the thesis's own kind of client
(section 4.3.2, Algorithm 4).

Sequential requests over a connected UDP socket.  For each request: send,
select() with a --threshold timer; if nothing came, send the same payload
again (the hedge) and select() until the first answer of either copy, up to
--timeout after the first send.  The timer runs in user space, in a plain
Python loop with the garbage collector on: its jitter (GC pauses, scheduling)
is what the thesis measures, so nothing here tries to hide it.

Payload: --size bytes, the 32-bit request ID at offset 0 (network order).  An
answer with another ID is a "stray" (typically the late answer of the stalled
original of an earlier hedged request): counted, and the wait goes on.

Same options, CSV (id,latency_us,hedged,timed_out; no header) and JSON summary
line as the C client (bench/client.c); --mode baseline gives the thesis's
Python baseline/kernel-hedged client (Algorithm 5) for comparison.
"""

import argparse
import json
import math
import select
import socket
import struct
import sys
import time

ID = struct.Struct("!I")


def nearest_rank(sorted_vals, permille):
    """Nearest-rank percentile: the value of rank ceil(p/100 * n), 1-based,
    p in per mille so that the rank is exact (same as client.c)."""
    n = len(sorted_vals)
    rank = max(1, (permille * n + 999) // 1000)
    return sorted_vals[rank - 1]


def summary(mode, lat_ns, timeouts, strays, hedges):
    out = {"mode": mode, "n": len(lat_ns)}
    keys = ("p50_ms", "p95_ms", "p99_ms", "p999_ms", "max_ms", "mean_ms",
            "stdev_ms")
    if lat_ns:
        ms = sorted(v / 1e6 for v in lat_ns)
        n = len(ms)
        mean = sum(ms) / n
        var = sum((v - mean) ** 2 for v in ms) / (n - 1) if n > 1 else 0.0
        vals = (nearest_rank(ms, 500), nearest_rank(ms, 950),
                nearest_rank(ms, 990), nearest_rank(ms, 999), ms[-1], mean,
                math.sqrt(var))
        for k, v in zip(keys, vals):
            out[k] = round(v, 3)
    else:
        for k in keys:
            out[k] = None
    out.update(timeouts=timeouts, strays=strays, hedges=hedges)
    return out


class Client:
    def __init__(self, sock, timeout_s, threshold_s):
        self.sock = sock
        self.timeout_s = timeout_s
        self.threshold_s = threshold_s
        self.strays = 0
        self.hedges = 0

    def _wait(self, rid, until):
        """Waits for the answer to rid until the time.monotonic() `until`;
        returns the arrival time in ns, or None."""
        sock = self.sock
        while True:
            left = until - time.monotonic()
            if left <= 0:
                return None
            ready, _, _ = select.select([sock], [], [], left)
            if not ready:
                continue
            data = sock.recv(65536)
            t1 = time.monotonic_ns()
            if len(data) >= 4 and ID.unpack_from(data)[0] == rid:
                return t1
            self.strays += 1

    def app_hedged(self, rid, pkt):
        """Algorithm 4: returns (latency_ns or None, hedged)."""
        t0 = time.monotonic_ns()
        self.sock.send(pkt)
        start = t0 / 1e9
        deadline = start + self.timeout_s
        hedge_at = min(start + self.threshold_s, deadline)
        t1 = self._wait(rid, hedge_at)
        if t1 is not None:
            return t1 - t0, False
        if hedge_at >= deadline:
            return None, False
        self.sock.send(pkt)          # the hedge
        self.hedges += 1
        t1 = self._wait(rid, deadline)
        return (t1 - t0 if t1 is not None else None), True

    def baseline(self, rid, pkt):
        """Algorithm 5: send, wait; the kernel (if any) does the hedging."""
        t0 = time.monotonic_ns()
        self.sock.send(pkt)
        t1 = self._wait(rid, t0 / 1e9 + self.timeout_s)
        return (t1 - t0 if t1 is not None else None), False


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--mode", choices=("app-hedged", "baseline"),
                    default="app-hedged")
    ap.add_argument("--addr", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=9000)
    ap.add_argument("-n", "--requests", dest="n", type=int, default=5000)
    ap.add_argument("--warmup", type=int, default=0)
    ap.add_argument("--timeout", type=float, default=1000.0, metavar="MS")
    ap.add_argument("--threshold", type=float, default=10.0, metavar="MS")
    ap.add_argument("--size", type=int, default=16)
    ap.add_argument("--start-id", type=int, default=0)
    ap.add_argument("--csv")
    ap.add_argument("--duration-limit", type=float, default=0.0, metavar="S",
                    help="abort after S seconds of wall time (0: none)")
    a = ap.parse_args()
    if not 4 <= a.size <= 65507:
        ap.error("--size must be in 4..65507")
    if a.n < 0 or a.warmup < 0 or a.timeout <= 0 or a.threshold < 0:
        ap.error("negative count or non-positive timeout")
    if not (0 <= a.start_id and a.start_id + a.warmup + a.n <= 2 ** 32):
        ap.error("request IDs would pass 2^32")

    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.connect((a.addr, a.port))
    cl = Client(sock, a.timeout / 1000.0, a.threshold / 1000.0)
    request = cl.app_hedged if a.mode == "app-hedged" else cl.baseline
    pkt = bytearray(i & 0xff for i in range(a.size))
    timeout_ns = int(a.timeout * 1e6 + 0.5)

    rows = []
    timeouts = 0
    aborted = False
    start = time.monotonic()
    try:
        for i in range(a.warmup + a.n):
            if a.duration_limit and time.monotonic() - start >= a.duration_limit:
                aborted = True
                break
            if i == a.warmup:
                cl.strays = cl.hedges = 0
            rid = a.start_id + i
            ID.pack_into(pkt, 0, rid)
            lat, hedged = request(rid, pkt)
            if i < a.warmup:
                continue
            if lat is None:
                timeouts += 1
                rows.append((rid, timeout_ns, hedged, 1))
            else:
                rows.append((rid, lat, hedged, 0))
    except ConnectionRefusedError:
        sys.exit("app_hedged.py: connection refused (is the server running?)")
    sock.close()

    if a.csv:
        with open(a.csv, "w") as f:
            for rid, lat, hedged, to in rows:
                f.write("%d,%d,%d,%d\n" % (rid, (lat + 500) // 1000,
                                           int(hedged), to))
    mode = "app-hedged-py" if a.mode == "app-hedged" else "baseline-py"
    print(json.dumps(summary(mode, [r[1] for r in rows], timeouts, cl.strays,
                             cl.hedges), separators=(",", ":")), flush=True)
    if aborted:
        print("app_hedged.py: duration limit reached after %d of %d measured"
              " requests" % (len(rows), a.n), file=sys.stderr)
        sys.exit(3)


if __name__ == "__main__":
    main()
