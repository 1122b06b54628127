#!/usr/bin/env python3
# tests/tcp_connect.py ADDR PORT N - N TCP connects to ADDR:PORT in turn,
# each closed at once; prints one line of JSON: done, failed, p50_ms,
# p99_ms, max_ms (connect times), slow (connects of 900 ms or more: a SYN
# the client's stack had to send again). Bounded: 10 s per connect, 240 s in all.
import json
import socket
import sys
import time

addr, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
family = socket.AF_INET6 if ":" in addr else socket.AF_INET
times, failed, start = [], 0, time.monotonic()
for i in range(n):
    if time.monotonic() - start > 240:
        break
    s = socket.socket(family, socket.SOCK_STREAM)
    s.settimeout(10)
    t0 = time.monotonic()
    try:
        s.connect((addr, port))
        times.append((time.monotonic() - t0) * 1000)
    except OSError as e:
        failed += 1
        print(f"connect {i}: {e}", file=sys.stderr)
    finally:
        s.close()
times.sort()


def pct(p):
    return round(times[min(len(times) - 1, int(p / 100 * len(times)))], 3) \
        if times else -1


print(json.dumps({"done": len(times) + failed, "failed": failed,
                  "p50_ms": pct(50), "p99_ms": pct(99),
                  "max_ms": round(times[-1], 3) if times else -1,
                  "slow": sum(t >= 900 for t in times)},
                 separators=(",", ":")))
