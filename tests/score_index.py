#!/usr/bin/env python3
"""tests/score_index.py SADDR SPORT TARGET ID_HEX SETS - the indices of the
Scoreboard records (hedge.h: struct hedge_record, in sets of 8) where a
UDP request's key may live, as bpf/scores.h finds it (hedge_score_set()),
one per line as bpftool's key bytes ("0x.. 0x.. 0x.. 0x.."): in its set
of SETS, and of each half as many sets the programs may use, down to
HEDGE_SCORE_SETS_MIN (hedge.h, score_word). ID_HEX: the
--id bytes as they are on the wire (at most 8).
tests/score_index.py --spread SETS N...: N keys put into SETS sets of 8
(counter IDs, then random clients and IDs): how many find their set
full."""
import random
import socket
import struct
import sys

M = (1 << 64) - 1
SETS_MIN = 128  # hedge.h: HEDGE_SCORE_SETS_MIN
WAYS = 8  # hedge.h: HEDGE_SCORE_WAYS


def score_set(key, mask):
    w = struct.unpack("<4Q", key)
    h = (w[0] * 0x9E3779B97F4A7C15) & M
    h = ((h ^ (h >> 29) ^ w[1]) * 0xBF58476D1CE4E5B9) & M
    h = ((h ^ (h >> 32) ^ w[2]) * 0x94D049BB133111EB) & M
    h = ((h ^ (h >> 29) ^ w[3]) * 0x9E3779B97F4A7C15) & M
    h = ((h ^ (h >> 32)) * 0xBF58476D1CE4E5B9) & M
    h ^= h >> 29
    return (h >> 32) & mask


def key_of(saddr, sport, target, ident):
    return (bytes(10) + b"\xff\xff" + saddr + struct.pack("!H", sport) +
            struct.pack("<H", target) + bytes(4) + ident +
            bytes(8 - len(ident)))


def spread(sets, counts):
    rnd = random.Random(1)
    for n in counts:
        for name, key in (
                ("counter IDs", lambda i: key_of(
                    bytes([10, 0, 0, 1]), 40000, 0, struct.pack("<I", i))),
                ("random keys", lambda i: key_of(
                    bytes([10, 0, 0, rnd.randrange(256)]),
                    rnd.randrange(1024, 65536), 0,
                    struct.pack("<H", rnd.randrange(65536))))):
            used, full = [0] * sets, 0
            for i in range(n):
                s = score_set(key(i), sets - 1)
                if used[s] >= WAYS:
                    full += 1
                else:
                    used[s] += 1
            print("%d keys, %s: %d found their set full" % (n, name, full))


def main():
    if sys.argv[1] == "--spread":
        spread(int(sys.argv[2]), [int(n) for n in sys.argv[3:]])
        return
    saddr, sport, target, idhex, sets = sys.argv[1:6]
    ident = bytes.fromhex(idhex)
    key = key_of(socket.inet_aton(saddr), int(sport), int(target), ident)
    sets = int(sets)
    while True:
        base = score_set(key, sets - 1) * WAYS
        for i in range(base, base + WAYS):
            print(" ".join("0x%02x" % b for b in struct.pack("<I", i)))
        if sets <= SETS_MIN:
            break
        sets //= 2


if __name__ == "__main__":
    main()
