#!/usr/bin/python3
"""tests/wire_tool.py - the clients and servers of tests/wire.sh.

  client ADDR PORT N [--id-base B] [--id-step S] [--timeout S] [--quiet MS]
         [--tag T]
      One connected UDP socket: N requests one after another on the same
      5-tuple. Request i is ID (B + i*S, 4 bytes, network order), then i
      (4 bytes), then padding. Each waits for the answer that echoes its ID
      and sequence number (and, with --tag, whose next bytes are T), at
      most --timeout s; then reads for --quiet ms more: anything that
      comes then is a second answer. Prints one JSON line: sent,
      answered, lost, wrong (datagrams that were not the awaited answer
      while waiting), dups (datagrams in the quiet time), max_ms.

  gso ADDR PORT K [--seg 100] [--nseg 4] [--id-base B]
      K sends, each one send() of NSEG*SEG bytes with UDP_SEGMENT=SEG:
      NSEG datagrams of SEG bytes, each beginning with its own ID
      (B, B+1, ...). Prints the IDs sent, one a line.

  record ADDR PORT SECONDS
      Never answers: records every datagram received for SECONDS as
      "LENGTH ID TOS HEAD" lines on stdout (ID: the first 4 bytes as a
      number; TOS: the IPv4 TOS byte it came with, or IPv6 traffic class;
      HEAD: the first 2 bytes in hex). Prints "ready" on stderr once bound.

  mix PROTO ADDR PORT ROUNDS [--tos T] [--id-base B] [--gap MS]
      ROUNDS rounds of requests of each kind PROTO has, from one socket
      whose IP_TOS (IPV6_TCLASS) is T, GAP_MS (default 5) apart, each with
      its own 2-byte ID (B, B+1, ...) first; prints "KIND IDHEX" per
      request sent. PROTO dns: query (QR 0, opcode QUERY), update (opcode
      5), notify (opcode 4), response (QR 1), short (7 bytes: less than a
      header). PROTO memcache (its UDP frame header, then the command):
      get, gets, set, delete.

  forge ADDR PORT DEV PEER_MAC MODE [GAP_MS]
      Answers each request (4-byte ID, 4-byte sequence number) twice:
      first a forged answer sent as a whole Ethernet frame on DEV
      (AF_PACKET) to PEER_MAC, with the right 5-tuple and the request's
      ID and sequence number, payload "forged", and MODE:
        csum   a wrong UDP checksum;
        short  an IP total length that ends before the ID (the ID is in
               trailing bytes past the IP total length), UDP checksum 0;
        none   no forged answer;
      then, GAP_MS (default 3) later, the real answer from its socket:
      the ID, the sequence number, "real". Prints "ready" on stderr.
"""
import json
import os
import select
import socket
import struct
import sys
import time

SOL_UDP = 17
UDP_SEGMENT = 103


def opt(args, name, default, conv):
	if name in args:
		i = args.index(name)
		v = conv(args[i + 1])
		del args[i:i + 2]
		return v
	return default


def family(addr):
	return socket.AF_INET6 if ':' in addr else socket.AF_INET


def recv_within(s, end):
	"""The next datagram on non-blocking s before end, or None. (select()
	may report one that recv() then drops: a bad checksum is found then.)"""
	while True:
		left = end - time.monotonic()
		if left <= 0 or not select.select([s], [], [], left)[0]:
			return None
		try:
			return s.recv(65536)
		except BlockingIOError:
			continue


def client(args):
	base = opt(args, '--id-base', 0, int)
	step = opt(args, '--id-step', 1, int)
	timeout = opt(args, '--timeout', 1.0, float)
	quiet = opt(args, '--quiet', 0.0, float) / 1000
	tag = opt(args, '--tag', '', str).encode()
	addr, port, n = args[0], int(args[1]), int(args[2])
	s = socket.socket(family(addr), socket.SOCK_DGRAM)
	s.connect((addr, port))
	s.setblocking(False)
	answered = lost = wrong = dups = 0
	max_ms = 0.0
	bad = []
	for i in range(n):
		rid = (base + i * step) & 0xffffffff
		head = struct.pack('!II', rid, i)
		s.send(head + b'.' * 24)
		t0 = time.monotonic()
		end = t0 + timeout
		got = False
		while True:
			d = recv_within(s, end)
			if d is None:
				break
			if d[:8] == head and d[8:8 + len(tag)] == tag:
				got = True
				break
			wrong += 1
			if len(bad) < 5:
				bad.append('%d:%r' % (i, d[:16]))
		if not got:
			lost += 1
			continue
		answered += 1
		max_ms = max(max_ms, (time.monotonic() - t0) * 1000)
		end = time.monotonic() + quiet
		while recv_within(s, end) is not None:
			dups += 1
	print(json.dumps({'sent': n, 'answered': answered, 'lost': lost,
			  'wrong': wrong, 'dups': dups,
			  'max_ms': round(max_ms, 1), 'bad': bad}))


def gso(args):
	seg = opt(args, '--seg', 100, int)
	nseg = opt(args, '--nseg', 4, int)
	base = opt(args, '--id-base', 1000, int)
	addr, port, k = args[0], int(args[1]), int(args[2])
	s = socket.socket(family(addr), socket.SOCK_DGRAM)
	s.connect((addr, port))
	s.setsockopt(SOL_UDP, UDP_SEGMENT, seg)
	rid = base
	for _ in range(k):
		buf = b''
		for _ in range(nseg):
			buf += struct.pack('!I', rid) + b'g' * (seg - 4)
			print(rid)
			rid += 1
		if s.send(buf) != len(buf):
			sys.exit('wire_tool gso: short send')
		time.sleep(0.02)


def record(args):
	addr, port, secs = args[0], int(args[1]), float(args[2])
	fam = family(addr)
	s = socket.socket(fam, socket.SOCK_DGRAM)
	s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
	if fam == socket.AF_INET6:
		s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_RECVTCLASS, 1)
	else:
		s.setsockopt(socket.IPPROTO_IP, socket.IP_RECVTOS, 1)
	s.bind((addr, port))
	print('ready', file=sys.stderr, flush=True)
	end = time.monotonic() + secs
	while True:
		left = end - time.monotonic()
		if left <= 0:
			break
		if not select.select([s], [], [], left)[0]:
			continue
		d, anc, _, _ = s.recvmsg(65536, socket.CMSG_SPACE(4))
		tos = -1
		for level, kind, data in anc:
			if (level, kind) in ((socket.IPPROTO_IP, socket.IP_TOS),
					     (socket.IPPROTO_IPV6, socket.IPV6_TCLASS)):
				tos = data[0] if len(data) == 1 else \
					struct.unpack('=i', data[:4])[0]
		rid = struct.unpack('!I', d[:4])[0] if len(d) >= 4 else -1
		print(len(d), rid, tos, d[:2].hex(), flush=True)


# mix: each kind's request after its 2-byte ID.
QNAME = b'\x07example\x04test\x00'
MIX = {
	'dns': [
		('query', b'\x01\x00' + struct.pack('!HHHH', 1, 0, 0, 0) + QNAME + b'\x00\x01\x00\x01'),
		('update', b'\x28\x00' + struct.pack('!HHHH', 1, 0, 1, 0) + QNAME + b'\x00\x06\x00\x01'
		 + QNAME + struct.pack('!HHIH', 1, 1, 60, 4) + bytes([192, 0, 2, 9])),
		('notify', b'\x24\x00' + struct.pack('!HHHH', 1, 0, 0, 0) + QNAME + b'\x00\x06\x00\x01'),
		('response', b'\x81\x80' + struct.pack('!HHHH', 1, 0, 0, 0) + QNAME + b'\x00\x01\x00\x01'),
		('short', b'\x01\x00\x00\x01\x00'),
	],
	# The memcached UDP frame header after the request ID: sequence 0,
	# 1 datagram, reserved; then the text command.
	'memcache': [
		('get', b'\x00\x00\x00\x01\x00\x00get k1\r\n'),
		('gets', b'\x00\x00\x00\x01\x00\x00gets k1\r\n'),
		('set', b'\x00\x00\x00\x01\x00\x00set k1 0 0 1\r\nx\r\n'),
		('delete', b'\x00\x00\x00\x01\x00\x00delete k1\r\n'),
	],
}


def mix(args):
	tos = opt(args, '--tos', 0, lambda v: int(v, 0))
	rid = opt(args, '--id-base', 0x1000, lambda v: int(v, 0))
	gap = opt(args, '--gap', 5.0, float) / 1000
	proto, addr, port, rounds = args[0], args[1], int(args[2]), int(args[3])
	fam = family(addr)
	s = socket.socket(fam, socket.SOCK_DGRAM)
	if fam == socket.AF_INET6:
		s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_TCLASS, tos)
	else:
		s.setsockopt(socket.IPPROTO_IP, socket.IP_TOS, tos)
	s.connect((addr, port))
	for _ in range(rounds):
		for kind, body in MIX[proto]:
			head = struct.pack('!H', rid & 0xffff)
			s.send(head + body)
			print(kind, head.hex(), flush=True)
			rid += 1
			time.sleep(gap)


def csum16(b):
	if len(b) % 2:
		b += b'\0'
	t = sum(struct.unpack('!%dH' % (len(b) // 2), b))
	while t >> 16:
		t = (t & 0xffff) + (t >> 16)
	return ~t & 0xffff


def forged_frame(mode, smac, dmac, src, sport, dst, dport, payload):
	ulen = 8 + len(payload)
	saddr, daddr = socket.inet_aton(src), socket.inet_aton(dst)
	udp = struct.pack('!HHHH', sport, dport, ulen, 0) + payload
	if mode == 'csum':
		good = csum16(saddr + daddr + struct.pack('!BBH', 0, 17, ulen) + udp) or 0xffff
		bad = good ^ 0x5555 or 0x1234
		udp = udp[:6] + struct.pack('!H', bad) + udp[8:]
		tot = 20 + ulen
	else:	# short: the IP datagram ends 2 bytes into the payload
		tot = 20 + 8 + 2
	ip = struct.pack('!BBHHHBBH4s4s', 0x45, 0, tot, 0x4242, 0x4000, 64, 17, 0,
			 saddr, daddr)
	ip = ip[:10] + struct.pack('!H', csum16(ip)) + ip[12:]
	return dmac + smac + b'\x08\x00' + ip + udp


def forge(args):
	addr, port, dev, peer, mode = args[0], int(args[1]), args[2], args[3], args[4]
	gap = float(args[5]) / 1000 if len(args) > 5 else 0.003
	with open('/sys/class/net/%s/address' % dev) as f:
		smac = bytes.fromhex(f.read().strip().replace(':', ''))
	dmac = bytes.fromhex(peer.replace(':', ''))
	s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
	s.bind((addr, port))
	p = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
	p.bind((dev, 0))
	print('ready', file=sys.stderr, flush=True)
	while True:
		d, (caddr, cport) = s.recvfrom(65536)
		head = d[:8]
		if mode != 'none':
			p.send(forged_frame(mode, smac, dmac, addr, port, caddr,
					    cport, head + b'forged'))
			time.sleep(gap)
		s.sendto(head + b'real', (caddr, cport))


def main():
	cmds = {'client': client, 'gso': gso, 'record': record, 'forge': forge,
		'mix': mix}
	if len(sys.argv) < 2 or sys.argv[1] not in cmds:
		sys.exit(__doc__)
	cmds[sys.argv[1]](sys.argv[2:])


if __name__ == '__main__':
	main()
