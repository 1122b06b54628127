// SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
/*
 * tests/bpf_tcp.c - BPF_PROG_RUN cases for TCP targets (bpf/tcp.h),
 * included by bpf_test.c before its table of cases: a SYN tracked, its
 * SYN-ACK completing it, a duplicate SYN-ACK dropped, a retransmitted SYN
 * not hedged again, a Fast Open SYN passed and counted, the established
 * connection's segments untouched, the tick line's copy checksummed.
 *
 * The TCP target is target 1, SERVER:TPORT/tcp; target 0 stays the UDP
 * one set_config() makes.
 */
#define TPORT	80
#define ISN	0x12345678U
#define SYN	0x02
#define ACK	0x10

/* The TCP checksum of the packet (IPv4 without options, or IPv6), summed
 * whole with the pseudo-header: 0 if it is right; with the checksum field
 * 0, the checksum it should hold. */
static uint16_t tcp_sum(const struct pkt *p, int v6)
{
	return l4_sum(p, v6, IPPROTO_TCP, p->len - 14 - (v6 ? 40 : 20));
}

/* Ethernet + IPv4 (or IPv6, by `v6`) + TCP with a 20-byte option block
 * as a SYN carries (MSS, SACK permitted, timestamps, window scale), and
 * `data` bytes; a full TCP checksum. */
static struct pkt tcp_pkt(int v6, int to_server, uint8_t flags, uint32_t seq,
			  uint32_t ack, unsigned int data)
{
	static const unsigned char opts[20] = {
		2, 4, 0x05, 0xb4, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0,
		1, 3, 3, 7 };
	unsigned int iplen = v6 ? 40 : 20, tlen = 40 + data, i;
	unsigned char *ip, *th;
	struct pkt p;
	uint32_t v32;
	uint16_t v;

	memset(&p, 0, sizeof(p));
	ip = p.b + 14;
	th = ip + iplen;
	p.len = 14 + iplen + tlen;
	if (v6) {
		p.b[12] = 0x86;
		p.b[13] = 0xdd;
		ip[0] = 0x60;
		v = htons((uint16_t)tlen);
		memcpy(ip + 4, &v, 2);
		ip[6] = IPPROTO_TCP;
		ip[7] = 64;
		inet_pton(AF_INET6, to_server ? CLIENT6 : SERVER6, ip + 8);
		inet_pton(AF_INET6, to_server ? SERVER6 : CLIENT6, ip + 24);
	} else {
		p.b[12] = 0x08;
		ip[0] = 0x45;
		v = htons((uint16_t)(20 + tlen));
		memcpy(ip + 2, &v, 2);
		ip[8] = 64;
		ip[9] = IPPROTO_TCP;
		inet_pton(AF_INET, to_server ? CLIENT : SERVER, ip + 12);
		inet_pton(AF_INET, to_server ? SERVER : CLIENT, ip + 16);
		v = ip_csum(ip, 20);
		memcpy(ip + 10, &v, 2);
	}
	v = htons(to_server ? CPORT : TPORT);
	memcpy(th, &v, 2);
	v = htons(to_server ? TPORT : CPORT);
	memcpy(th + 2, &v, 2);
	v32 = htonl(seq);
	memcpy(th + 4, &v32, 4);
	v32 = htonl(ack);
	memcpy(th + 8, &v32, 4);
	th[12] = 10 << 4;
	th[13] = flags;
	th[14] = 0xff;
	th[15] = 0xff;
	memcpy(th + 20, opts, sizeof(opts));
	for (i = 0; i < data; i++)
		th[40 + i] = (unsigned char)i;
	/* The checksum: pseudo-header, then the segment (its field 0). */
	v = htons(tcp_sum(&p, v6));
	memcpy(th + 16, &v, 2);
	return p;
}

static struct pkt syn(uint32_t isn)
{
	return tcp_pkt(0, 1, SYN, isn, 0, 0);
}

static struct pkt syn_ack(uint32_t isn)
{
	return tcp_pkt(0, 0, SYN | ACK, 0xabcdef01U, isn + 1, 0);
}

static struct hedge_key tcp_key(int v6, uint32_t isn)
{
	struct hedge_key k;
	uint32_t nisn = htonl(isn);

	memset(&k, 0, sizeof(k));
	if (v6) {
		inet_pton(AF_INET6, CLIENT6, k.saddr);
		k.target = 2;	/* tcp_targets(): SERVER6's index */
	} else {
		mapped(k.saddr, CLIENT);
		k.target = 1;	/* tcp_targets(): SERVER's index */
	}
	k.sport = htons(CPORT);
	k.pad = HEDGE_PROTO_TCP;
	memcpy(&k.id, &nisn, 4);
	return k;
}

static uint32_t tcp_state(int v6, uint32_t isn)
{
	struct hedge_key k = tcp_key(v6, isn);
	struct hedge_entry e;

	if (scores_get(&sv, &k, &e))
		return 0;
	return e.state;
}

/* The case's config: SERVER:TPORT/tcp as target 1, [SERVER6]:TPORT/tcp as
 * target 2 (the targets map is filled here: set_config() fills target 0's
 * entry only). */
static void tcp_targets(struct hedge_config *c)
{
	uint32_t one = 1, two = 2;

	mapped(c->targets[1].primary.addr, SERVER);
	c->targets[1].primary.port = htons(TPORT);
	c->targets[1].primary.proto = HEDGE_PROTO_TCP;
	inet_pton(AF_INET6, SERVER6, c->targets[2].primary.addr);
	c->targets[2].primary.port = htons(TPORT);
	c->targets[2].primary.proto = HEDGE_PROTO_TCP;
	c->n_targets = 3;
	c->flags |= HEDGE_F_TCP;
	map_update(obj_map_fd(&obj, HEDGE_MAP_TARGETS), &c->targets[1].primary,
		   &one);
	map_update(obj_map_fd(&obj, HEDGE_MAP_TARGETS), &c->targets[2].primary,
		   &two);
}

static void tcp_tick(struct hedge_config *c)
{
	tcp_targets(c);
	c->delay_line = HEDGE_DL_TICK;
	c->delay_ns = 0;	/* due at once */
}

static void test_tcp_syn(void)
{
	struct pkt s = syn(ISN), a = syn_ack(ISN);
	struct hedge_stats st;
	struct run r;

	r = run(HEDGE_PROG_SPLITTER, &s);
	check(r.ret == TC_ACT_UNSPEC && r.unchanged, "tcp: the SYN passes "
	      "untouched", "verdict or bytes changed");
	check(tcp_state(0, ISN) == HEDGE_PENDING, "tcp: a SYN is tracked "
	      "PENDING by 4-tuple and ISN", "no PENDING entry");
	check(clones_seen(&s) == 1, "tcp: the SYN is cloned once, byte for "
	      "byte, into the delay line", "clone missing or altered");
	r = run(HEDGE_PROG_WATCHER, &a);
	check(r.ret == TC_ACT_UNSPEC && r.unchanged &&
	      tcp_state(0, ISN) == HEDGE_DONE, "tcp: the SYN-ACK (ack ISN+1) "
	      "passes and completes the handshake", "not passed / not DONE");
	r = run(HEDGE_PROG_RESCUER, &s);
	check(r.ret == TC_ACT_SHOT, "tcp: the copy of a completed handshake's "
	      "SYN is dropped", "copy sent");
	r = run(HEDGE_PROG_WATCHER, &a);
	check(r.ret == TC_ACT_UNSPEC, "tcp: a second SYN-ACK where no hedge "
	      "was sent passes (the server's own, as without hedge)",
	      "dropped");
	st = counters_of(1);
	check(st.handshakes == 1 && st.requests == 0 && st.responses == 1 &&
	      st.hedges_cancelled == 1 && st.hedges_sent == 0 &&
	      st.duplicates == 0, "tcp: counters: 1 handshake, 1 response, "
	      "1 cancelled", "counters off");
}

static void test_tcp_hedge(void)
{
	struct pkt s = syn(ISN), a = syn_ack(ISN), wrong = syn_ack(ISN + 7);
	struct __sk_buff hedge;
	struct hedge_stats st;
	struct run r;

	run(HEDGE_PROG_SPLITTER, &s);
	clones_seen(NULL);
	memset(&hedge, 0, sizeof(hedge));
	r = run_ctx(HEDGE_PROG_RESCUER, &s, &hedge);
	check(r.ret == TC_ACT_REDIRECT && r.unchanged &&
	      tcp_state(0, ISN) == HEDGE_HEDGED, "tcp: the copy of an "
	      "unanswered SYN is sent, byte for byte", "not sent / altered");
	r = run_ctx(HEDGE_PROG_SPLITTER, &s, &hedge);
	check(r.ret == TC_ACT_UNSPEC && clones_seen(NULL) == 0 &&
	      counters_of(1).handshakes == 1, "tcp: the hedge SYN passing "
	      "the splitter is not tracked again", "cloned or counted");
	r = run(HEDGE_PROG_SPLITTER, &s);
	check(r.ret == TC_ACT_UNSPEC && clones_seen(NULL) == 0 &&
	      tcp_state(0, ISN) == HEDGE_HEDGED &&
	      counters_of(1).handshakes == 1, "tcp: the client's retransmitted "
	      "SYN is not hedged again", "cloned, counted or state reset");
	r = run(HEDGE_PROG_WATCHER, &wrong);
	check(r.ret == TC_ACT_UNSPEC && tcp_state(0, ISN) == HEDGE_HEDGED,
	      "tcp: a SYN-ACK acknowledging another ISN is not this "
	      "handshake's", "judged");
	r = run(HEDGE_PROG_WATCHER, &a);
	check(r.ret == TC_ACT_UNSPEC && tcp_state(0, ISN) == HEDGE_DONE_HEDGED,
	      "tcp: the first SYN-ACK after a hedge passes", "not passed");
	st = counters_of(1);
	check(st.hedges_sent == 1 && st.hedges_won == 1 && st.hedges_lost == 0,
	      "tcp: one SYN-ACK so far: the hedge won", "counters off");
	r = run(HEDGE_PROG_WATCHER, &a);
	check(r.ret == TC_ACT_SHOT, "tcp: the duplicate SYN-ACK is dropped",
	      "duplicate passed");
	r = run(HEDGE_PROG_SPLITTER, &s);
	check(clones_seen(NULL) == 0, "tcp: a SYN retransmitted after the "
	      "handshake is not hedged", "cloned");
	st = counters_of(1);
	check(st.hedges_sent == 1 && st.hedges_won == 0 &&
	      st.hedges_lost == 1 && st.duplicates == 1 && st.responses == 1,
	      "tcp: both SYNs answered: the hedge lost, 1 duplicate",
	      "counters off");
}

static void test_tcp_untouched(void)
{
	struct pkt tfo = tcp_pkt(0, 1, SYN, ISN, 0, 100);
	struct pkt data = tcp_pkt(0, 1, ACK, ISN + 1, 5, 100);
	struct pkt back = tcp_pkt(0, 0, ACK, 5, ISN + 101, 200);
	struct pkt udp = udp_pkt(CLIENT, CPORT, SERVER, TPORT, 7, 16);
	struct hedge_stats st;
	struct run r;

	r = run(HEDGE_PROG_SPLITTER, &tfo);
	check(r.ret == TC_ACT_UNSPEC && r.unchanged && !tcp_state(0, ISN) &&
	      clones_seen(NULL) == 0, "tcp: a SYN with data (Fast Open) is "
	      "passed, not hedged", "tracked or cloned");
	r = run(HEDGE_PROG_SPLITTER, &data);
	check(r.ret == TC_ACT_UNSPEC && r.unchanged && clones_seen(NULL) == 0 &&
	      !tcp_state(0, ISN + 1), "tcp: data segments are never copied",
	      "tracked or cloned");
	r = run(HEDGE_PROG_WATCHER, &back);
	check(r.ret == TC_ACT_UNSPEC && r.unchanged, "tcp: the server's data "
	      "passes untouched", "changed");
	r = run(HEDGE_PROG_SPLITTER, &udp);
	check(r.ret == TC_ACT_UNSPEC && clones_seen(NULL) == 0,
	      "tcp: UDP to a TCP target's port is not a request",
	      "cloned");
	st = counters_of(1);
	check(st.syn_data == 1 && st.handshakes == 0, "tcp: the Fast Open "
	      "SYN is counted (syn_data)", "not counted");
}

static void test_tcp_ipv6(void)
{
	struct pkt s = tcp_pkt(1, 1, SYN, ISN, 0, 0);
	struct pkt a = tcp_pkt(1, 0, SYN | ACK, 99, ISN + 1, 0);
	struct run r;

	r = run(HEDGE_PROG_SPLITTER, &s);
	check(r.ret == TC_ACT_UNSPEC && r.unchanged &&
	      tcp_state(1, ISN) == HEDGE_PENDING, "tcp: an IPv6 SYN is tracked",
	      "not tracked");
	delay_passed();
	r = run(HEDGE_PROG_RESCUER, &s);
	check(r.ret == TC_ACT_REDIRECT, "tcp: its copy is sent", "not sent");
	run(HEDGE_PROG_WATCHER, &a);
	r = run(HEDGE_PROG_WATCHER, &a);
	check(r.ret == TC_ACT_SHOT && tcp_state(1, ISN) == HEDGE_DONE_HEDGED &&
	      counters_of(2).handshakes == 1, "tcp: IPv6: first SYN-ACK "
	      "passes, the second is dropped", "not so");
}

/* A SYN-ACK the stack would drop (bad checksum) does not complete it. */
static void test_tcp_invalid(void)
{
	struct pkt s = syn(ISN), a = syn_ack(ISN);
	struct run r;

	run(HEDGE_PROG_SPLITTER, &s);
	a.b[14 + 20 + 16] ^= 0x40;
	r = run(HEDGE_PROG_WATCHER, &a);
	check(r.ret == TC_ACT_UNSPEC && tcp_state(0, ISN) == HEDGE_PENDING &&
	      counters_of(1).responses_invalid == 1, "tcp: a SYN-ACK with a "
	      "bad checksum passes unjudged", "judged");
}

/* Tick line: the SYN parked, the ticker's copy sent at the deadline, and
 * the Rescuer's hedge the SYN again byte for byte, its checksum made
 * whole (parked with only the pseudo-header's sum). */
static void test_tcp_tick(void)
{
	struct pkt s = syn(ISN), partial = syn(ISN), out, t;
	unsigned char *th = partial.b + 14 + 20;
	struct run r = { .ret = -1 };
	int n = 0, i;

	/* As egress has it: the pseudo-header's sum only. */
	th[16] = 0x12;
	th[17] = 0x34;
	tick_alive();
	run(HEDGE_PROG_SPLITTER, &partial);
	clones_seen(NULL);
	for (i = 0; i < 4 && n <= 0; i++) {
		tick_alive();
		t = tick();
		run(HEDGE_PROG_TICKER, &t);
		n = next_clone(&out);
	}
	check(n > 0 && tcp_state(0, ISN) == HEDGE_PENDING, "tcp: tick line: "
	      "the ticker sends the parked SYN's copy", "no copy");
	if (n > 0)
		r = run(HEDGE_PROG_RESCUER, &out);
	check(r.ret == TC_ACT_REDIRECT && r.out_len == s.len &&
	      !memcmp(r.out.b, s.b, s.len) &&
	      tcp_state(0, ISN) == HEDGE_HEDGED, "tcp: tick line: the hedge "
	      "is the SYN byte for byte, its checksum made whole",
	      "not sent, or bytes differ");
}
