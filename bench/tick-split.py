#!/usr/bin/env python3
"""bench/tick-split.py DIR... - where the tick line's lateness goes, from a
scratch build with bench/tick-split.patch applied (`patch -p1 <
bench/tick-split.patch && make hedge`, then `bench/cost --parts t --out
DIR`; do not commit the patched tree). Per hedge the ticker recorded
  path = when its tick reached the ticker - when TBF was to release it
         (TBF's timer, softirq, veth: the host's share), and
  gran = that planned release - the hedge's deadline (the tick's sizing:
         the shortest sleep, rounding, the batch; <= 0 when on time),
in 16.384-us buckets; this prints their percentiles (bucket tops) and
bench/cost's lateness per run."""
import glob
import json
import os
import struct
import sys

OFF = 80	# end of struct hedge_ticker without the patch's fields


def ticker(path):
    for e in json.load(open(path)):
        b = bytes(int(x, 16) for x in e["value"])
        if len(b) >= OFF + 24 + 256:
            ps, gs, n = struct.unpack_from("<qqQ", b, OFF)
            return (ps, gs, n, struct.unpack_from("<32I", b, OFF + 24),
                    struct.unpack_from("<32I", b, OFF + 24 + 128))
    raise SystemExit(f"{path}: no patched hedge_tick value (unpatched build?)")


def pct(h, p):
    tot, seen = sum(h), 0
    for i, c in enumerate(h):
        seen += c
        if seen >= p / 100 * tot:
            return (i + 1) * 16.384
    return float("nan")


for d in sys.argv[1:]:
    P, G, ps, gs, n = [0] * 32, [0] * 32, 0, 0, 0
    for f in sorted(glob.glob(os.path.join(d, "late-r*.tick.json"))):
        a, b, c, ph, gh = ticker(f)
        ps, gs, n = ps + a, gs + b, n + c
        P = [x + y for x, y in zip(P, ph)]
        G = [x + y for x, y in zip(G, gh)]
    if not n:
        sys.exit(f"{d}: no late-r*.tick.json")
    print(f"{d}: {n} hedges; path mean {ps / n / 1000:.0f} us, p50 <= "
          f"{pct(P, 50):.0f}, p90 <= {pct(P, 90):.0f}, p99 <= {pct(P, 99):.0f}"
          f"; gran > 16 us for {100 * sum(G[1:]) / sum(G):.2f}%, p99 <= "
          f"{pct(G, 99):.0f}, p99.9 <= {pct(G, 99.9):.0f}")
    with open(os.path.join(d, "late.tsv")) as f:
        print(f.read().rstrip())
