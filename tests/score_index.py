#!/usr/bin/env python3
"""tests/score_index.py SADDR SPORT TARGET ID_HEX SETS - the indices of the
Scoreboard records (hedge.h: struct hedge_record, in sets of 4) where a
UDP request's key may live, as bpf/scores.h finds it (hedge_score_set()),
one per line as bpftool's key bytes ("0x.. 0x.. 0x.. 0x.."). ID_HEX: the
--id bytes as they are on the wire (at most 8)."""
import socket
import struct
import sys

M = (1 << 64) - 1


def score_set(key, mask):
    w = struct.unpack("<4Q", key)
    h = (w[0] * 0x9E3779B97F4A7C15) & M
    h = ((h ^ (h >> 29) ^ w[1]) * 0xBF58476D1CE4E5B9) & M
    h = ((h ^ (h >> 32) ^ w[2]) * 0x94D049BB133111EB) & M
    h = ((h ^ (h >> 29) ^ w[3]) * 0x9E3779B97F4A7C15) & M
    return (h >> 32) & mask


def main():
    saddr, sport, target, idhex, sets = sys.argv[1:6]
    ident = bytes.fromhex(idhex)
    key = (bytes(10) + b"\xff\xff" + socket.inet_aton(saddr) +
           struct.pack("!H", int(sport)) + struct.pack("<H", int(target)) +
           bytes(4) + ident + bytes(8 - len(ident)))
    base = score_set(key, int(sets) - 1) * 4
    for i in range(base, base + 4):
        print(" ".join("0x%02x" % b for b in struct.pack("<I", i)))


if __name__ == "__main__":
    main()
