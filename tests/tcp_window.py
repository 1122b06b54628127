#!/usr/bin/env python3
# tests/tcp_window.py ADDR PORT SECONDS AT LEN ON OFF - a connect to
# ADDR:PORT every 50 ms for SECONDS, each in its own thread, while the
# shell command ON runs at AT seconds and OFF at AT + LEN (a window where
# the server drops every SYN, as a full listen queue does). Prints one
# line of JSON: started, done, failed, in_window (connects started in the window),
# window_max_ms (their longest connect), after_end_ms (how long after the
# window's end the last of them was connected), outside_max_ms (the longest
# connect started outside it, not within 0.2 s before). Bounded: 10 s per
# connect, SECONDS + 15 in
# all.
import json
import socket
import subprocess
import sys
import threading
import time

addr, port = sys.argv[1], int(sys.argv[2])
secs, at, length = float(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5])
on, off = sys.argv[6], sys.argv[7]
family = socket.AF_INET6 if ":" in addr else socket.AF_INET
results, lock = [], threading.Lock()


def connect(t0):
    s = socket.socket(family, socket.SOCK_STREAM)
    s.settimeout(10)
    try:
        s.connect((addr, port))
        res = (t0, time.monotonic(), None)
    except OSError as e:
        res = (t0, time.monotonic(), str(e))
    finally:
        s.close()
    with lock:
        results.append(res)


start = time.monotonic()
threads, win = [], [None, None]
step, k = 0.05, 0
while True:
    now = time.monotonic() - start
    if now >= secs:
        break
    if win[0] is None and now >= at:
        on_at = time.monotonic()
        if subprocess.run(on, shell=True).returncode:
            sys.exit("tcp_window: the window's command failed: " + on)
        win[0] = time.monotonic()
    if win[0] is not None and win[1] is None and now >= at + length:
        if subprocess.run(off, shell=True).returncode:
            sys.exit("tcp_window: the window's end failed: " + off)
        win[1] = time.monotonic()
    if now >= k * step:
        th = threading.Thread(target=connect, args=(time.monotonic(),))
        th.start()
        threads.append(th)
        k += 1
    time.sleep(0.005)
if win[1] is None:
    if win[0] is not None:
        subprocess.run(off, shell=True)
    sys.exit("tcp_window: the window did not close within SECONDS")
for th in threads:
    th.join(max(0.1, start + secs + 15 - time.monotonic()))
failed = [r for r in results if r[2]]
for r in failed:
    print(f"connect at {r[0] - start:.3f} s: {r[2]}", file=sys.stderr)
inside = [r for r in results if win[0] <= r[0] < win[1] and not r[2]]
# (those started just before ON may have sent their SYN after it: neither)
outside = [r for r in results
           if (r[0] < on_at - 0.2 or r[0] >= win[1]) and not r[2]]
print(json.dumps({
    "started": len(threads), "done": len(results), "failed": len(failed), "in_window": len(inside),
    "window_max_ms": round(max((r[1] - r[0]) * 1000 for r in inside), 1)
    if inside else -1,
    "after_end_ms": round(max((r[1] - win[1]) * 1000 for r in inside), 1)
    if inside else -1,
    "outside_max_ms": round(max((r[1] - r[0]) * 1000 for r in outside), 1)
    if outside else -1}, separators=(",", ":")))
