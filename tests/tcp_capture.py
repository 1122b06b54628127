#!/usr/bin/env python3
# tests/tcp_capture.py DEV SECONDS PORT - every TCP segment to or from PORT
# on DEV (a packet socket: what leaves after TC egress, what arrives before
# TC ingress), for at most SECONDS or until SIGTERM; then one line of JSON:
# connections seen, those with more than one SYN out (hedged), RSTs in, and
# RSTs in on hedged connections while they were open: an RST after the
# client's own FIN (a server closing as the client did, or answering a
# stale segment of a connection over) is counted apart, rst_after_close.
# IPv4, and IPv6 without extension headers.
import json
import signal
import socket
import struct
import sys
import time

dev, secs, port = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
stop = False


def on_term(*_):
    global stop
    stop = True


signal.signal(signal.SIGTERM, on_term)
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.ntohs(3))
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
s.bind((dev, 0))
s.settimeout(0.1)
syns, rsts, late, start = {}, {}, {}, time.monotonic()
closed = set()
print("ready", file=sys.stderr, flush=True)
while not stop and time.monotonic() - start < secs:
    try:
        pkt, addr = s.recvfrom(65535)
    except (socket.timeout, InterruptedError):
        continue
    if len(pkt) >= 54 and pkt[12:14] == b"\x08\x00" and pkt[23] == 6:
        tcp = 14 + (pkt[14] & 15) * 4
    elif len(pkt) >= 74 and pkt[12:14] == b"\x86\xdd" and pkt[20] == 6:
        tcp = 54
    else:
        continue
    sport, dport = struct.unpack("!HH", pkt[tcp:tcp + 4])
    flags = pkt[tcp + 13]
    out = addr[2] == socket.PACKET_OUTGOING
    if out and dport == port and flags & 0x12 == 0x02:
        syns[sport] = syns.get(sport, 0) + 1
        closed.discard(sport)   # the port's next connection
    elif out and dport == port and flags & 0x05:
        closed.add(sport)       # its FIN or RST: the client is done
    elif not out and sport == port and flags & 0x04:
        into = late if dport in closed else rsts
        into[dport] = into.get(dport, 0) + 1
hedged = {p for p, n in syns.items() if n > 1}
print(json.dumps({"connections": len(syns), "hedged": len(hedged),
                  "rst": sum(rsts.values()),
                  "rst_hedged": sum(n for p, n in rsts.items() if p in hedged),
                  "rst_after_close": sum(late.values())},
                 separators=(",", ":")))
