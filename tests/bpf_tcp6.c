// SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
/*
 * tests/bpf_tcp6.c - BPF_PROG_RUN cases for IPv6 TCP targets (bpf/tcp.h),
 * included by bpf_test.c after bpf_tcp.c (its packets and helpers): a SYN
 * tracked, its SYN-ACK completing it, a duplicate SYN-ACK dropped, a
 * retransmitted SYN not hedged again; SYN-ACK checksums over IPv6's
 * pseudo-header (whole, the pseudo-header's sum only, wrong); extension
 * headers stepped over and counted, never hedged; IPv4-mapped addresses
 * left alone; the tick line's parked IPv6 SYN.
 *
 * The target is [SERVER6]:TPORT/tcp, target 2 (tcp_targets()).
 */

/*
 * IPv6 clones on the stand-in delay line: clone_sock takes ETH_P_IP only,
 * so a socket of their own, opened at first use; IPv6 frames there that
 * are not TCP (the veth's own router solicitations, MLD) are not counted.
 */
static int clone6_sock = -1;

static int clone6_socket(void)
{
	struct sockaddr_ll sa = {
		.sll_family = AF_PACKET,
		.sll_protocol = htons(ETH_P_IPV6),
		.sll_ifindex = (int)if_nametoindex("tdl1"),
	};

	if (clone6_sock >= 0)
		return clone6_sock;
	clone6_sock = socket(AF_PACKET, SOCK_RAW, htons(ETH_P_IPV6));
	if (clone6_sock < 0 || !sa.sll_ifindex ||
	    bind(clone6_sock, (struct sockaddr *)&sa, sizeof(sa))) {
		fprintf(stderr, "bpf_test: IPv6 packet socket on tdl1: %s\n",
			strerror(errno));
		exit(1);
	}
	return clone6_sock;
}

/* The next IPv6 TCP clone into `out`: its length, or -1 (none in 50 ms). */
static int next_clone6(struct pkt *out)
{
	struct pollfd pfd = { clone6_socket(), POLLIN, 0 };
	ssize_t len;

	while (poll(&pfd, 1, 50) > 0) {
		len = recv(pfd.fd, out->b, sizeof(out->b), 0);
		if (len < 0)
			return -1;
		out->len = (unsigned int)len;
		if (len > 54 && out->b[14 + 6] == IPPROTO_TCP)
			return (int)len;
	}
	return -1;
}

/* How many IPv6 TCP clones came; negative if one differs from `expect`. */
static int clones6_seen(const struct pkt *expect)
{
	struct pkt got;
	int n = 0, same = 1;

	while (next_clone6(&got) > 0) {
		if (expect)
			same &= got.len == expect->len &&
				!memcmp(got.b, expect->b, got.len);
		n++;
	}
	return n && !same ? -n : n;
}

static struct pkt syn6(uint32_t isn)
{
	return tcp_pkt(1, 1, SYN, isn, 0, 0);
}

static struct pkt syn_ack6(uint32_t isn)
{
	return tcp_pkt(1, 0, SYN | ACK, 0xabcdef01U, isn + 1, 0);
}

/* The packet with `n` extension headers (hop-by-hop first if n > 1, then
 * destination options; 8 bytes each, PadN) between IPv6 and TCP
 * (bpf_test.c's with_ext6()). The TCP checksum is unchanged: IPv6's
 * pseudo-header has TCP's own length. */
static struct pkt ext6(struct pkt p, int n)
{
	static const unsigned char padn[6] = { 1, 4, 0, 0, 0, 0 };

	with_ext6(&p, IPPROTO_DSTOPTS, padn);
	if (n > 1)
		with_ext6(&p, IPPROTO_HOPOPTS, padn);
	return p;
}

/* The IPv6 segment's checksum field as CHECKSUM_PARTIAL leaves it (sent
 * by this host: the pseudo-header's sum only, not complemented). */
static void pseudo_only6(struct pkt *p)
{
	unsigned char *ip = p->b + 14;
	uint32_t sum = IPPROTO_TCP + (ip[4] << 8 | ip[5]);
	uint16_t v;
	int i;

	for (i = 8; i < 40; i += 2)
		sum += ip[i] << 8 | ip[i + 1];
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	v = htons((uint16_t)sum);
	memcpy(ip + 40 + 16, &v, 2);
}

static void test_tcp6_syn(void)
{
	struct pkt s = syn6(ISN), a = syn_ack6(ISN);
	struct hedge_stats st;
	struct run r;

	clones6_seen(NULL);
	r = run(HEDGE_PROG_SPLITTER, &s);
	check(r.ret == TC_ACT_UNSPEC && r.unchanged &&
	      tcp_state(1, ISN) == HEDGE_PENDING, "tcp6: a SYN passes "
	      "untouched and is tracked PENDING by 4-tuple and ISN",
	      "changed or not tracked");
	check(clones6_seen(&s) == 1, "tcp6: the SYN is cloned once, byte for "
	      "byte, into the delay line", "clone missing or altered");
	r = run(HEDGE_PROG_WATCHER, &a);
	check(r.ret == TC_ACT_UNSPEC && r.unchanged &&
	      tcp_state(1, ISN) == HEDGE_DONE, "tcp6: the SYN-ACK (ack "
	      "ISN+1, checksum over IPv6's pseudo-header) passes and "
	      "completes the handshake", "not passed / not DONE");
	r = run(HEDGE_PROG_RESCUER, &s);
	check(r.ret == TC_ACT_SHOT, "tcp6: the copy of a completed "
	      "handshake's SYN is dropped", "copy sent");
	r = run(HEDGE_PROG_WATCHER, &a);
	check(r.ret == TC_ACT_UNSPEC, "tcp6: a second SYN-ACK where no hedge "
	      "was sent passes", "dropped");
	st = counters_of(2);
	check(st.handshakes == 1 && st.responses == 1 &&
	      st.hedges_cancelled == 1 && st.hedges_sent == 0 &&
	      st.duplicates == 0 && counters_of(1).handshakes == 0,
	      "tcp6: counters: 1 handshake, 1 response, 1 cancelled, on the "
	      "IPv6 target", "counters off");
}

static void test_tcp6_hedge(void)
{
	struct pkt s = syn6(ISN), a = syn_ack6(ISN), wrong = syn_ack6(ISN + 7);
	struct __sk_buff hedge;
	struct hedge_stats st;
	struct run r;

	clones6_seen(NULL);
	run(HEDGE_PROG_SPLITTER, &s);
	check(clones6_seen(&s) == 1, "tcp6: a SYN's copy goes on the delay "
	      "line", "no copy");
	memset(&hedge, 0, sizeof(hedge));
	r = run_ctx(HEDGE_PROG_RESCUER, &s, &hedge);
	check(r.ret == TC_ACT_REDIRECT && r.unchanged &&
	      tcp_state(1, ISN) == HEDGE_HEDGED, "tcp6: the copy of an "
	      "unanswered SYN is sent, byte for byte", "not sent / altered");
	r = run_ctx(HEDGE_PROG_SPLITTER, &s, &hedge);
	check(r.ret == TC_ACT_UNSPEC && clones6_seen(NULL) == 0 &&
	      counters_of(2).handshakes == 1, "tcp6: the hedge SYN passing "
	      "the splitter is not tracked again", "cloned or counted");
	r = run(HEDGE_PROG_SPLITTER, &s);
	check(r.ret == TC_ACT_UNSPEC && clones6_seen(NULL) == 0 &&
	      tcp_state(1, ISN) == HEDGE_HEDGED &&
	      counters_of(2).handshakes == 1, "tcp6: the client's "
	      "retransmitted SYN is not hedged again",
	      "cloned, counted or state reset");
	r = run(HEDGE_PROG_WATCHER, &wrong);
	check(r.ret == TC_ACT_UNSPEC && tcp_state(1, ISN) == HEDGE_HEDGED,
	      "tcp6: a SYN-ACK acknowledging another ISN is not this "
	      "handshake's", "judged");
	r = run(HEDGE_PROG_WATCHER, &a);
	check(r.ret == TC_ACT_UNSPEC && r.unchanged &&
	      tcp_state(1, ISN) == HEDGE_DONE_HEDGED, "tcp6: the first "
	      "SYN-ACK after a hedge passes", "not passed");
	r = run(HEDGE_PROG_WATCHER, &a);
	check(r.ret == TC_ACT_SHOT, "tcp6: the duplicate SYN-ACK is dropped",
	      "duplicate passed");
	r = run(HEDGE_PROG_SPLITTER, &s);
	check(clones6_seen(NULL) == 0, "tcp6: a SYN retransmitted after the "
	      "handshake is not hedged", "cloned");
	st = counters_of(2);
	check(st.hedges_sent == 1 && st.hedges_won == 0 &&
	      st.hedges_lost == 1 && st.duplicates == 1 && st.responses == 1,
	      "tcp6: both SYNs answered: the hedge lost, 1 duplicate",
	      "counters off");
}

/* What the stack would drop does not complete a handshake; what it takes
 * does, whatever its checksum's form. */
static void test_tcp6_checksums(void)
{
	struct pkt s = syn6(ISN), bad = syn_ack6(ISN), partial = syn_ack6(ISN);
	struct run r;

	run(HEDGE_PROG_SPLITTER, &s);
	bad.b[14 + 40 + 16] ^= 0x40;
	r = run(HEDGE_PROG_WATCHER, &bad);
	check(r.ret == TC_ACT_UNSPEC && tcp_state(1, ISN) == HEDGE_PENDING &&
	      counters_of(2).responses_invalid == 1, "tcp6: a SYN-ACK with a "
	      "bad checksum passes unjudged, counted invalid", "judged");
	/* The same addresses with IPv4's pseudo-header would not sum so. */
	pseudo_only6(&partial);
	r = run(HEDGE_PROG_WATCHER, &partial);
	check(r.ret == TC_ACT_UNSPEC && r.unchanged &&
	      tcp_state(1, ISN) == HEDGE_DONE, "tcp6: a SYN-ACK holding "
	      "IPv6's pseudo-header sum (CHECKSUM_PARTIAL, from this host) "
	      "completes the handshake", "not judged");
}

/* Extension headers: stepped over to find a SYN, which is counted and not
 * hedged (the delay lines keep TCP right after the IPv6 header). */
static void test_tcp6_ext(void)
{
	struct pkt s1 = ext6(syn6(ISN), 1), s2 = ext6(syn6(ISN), 2);
	struct pkt s = syn6(ISN + 1);
	struct pkt a = ext6(syn_ack6(ISN + 1), 1);
	struct pkt data = ext6(tcp_pkt(1, 1, ACK, ISN + 1, 5, 100), 1);
	uint64_t before;
	struct run r;

	clones6_seen(NULL);
	r = run(HEDGE_PROG_SPLITTER, &s1);
	check(r.ret == TC_ACT_UNSPEC && r.unchanged && !tcp_state(1, ISN) &&
	      clones6_seen(NULL) == 0 && counters_of(2).requests_unhedgeable == 1,
	      "tcp6: a SYN after a destination options header passes, not "
	      "hedged, counted unhedgeable", "tracked, cloned or not counted");
	r = run(HEDGE_PROG_SPLITTER, &s2);
	check(r.ret == TC_ACT_UNSPEC && r.unchanged && !tcp_state(1, ISN) &&
	      clones6_seen(NULL) == 0 && counters_of(2).requests_unhedgeable == 2,
	      "tcp6: a SYN after hop-by-hop and destination options: the same",
	      "tracked, cloned or not counted");
	before = counters_of(2).requests_unhedgeable;
	r = run(HEDGE_PROG_SPLITTER, &data);
	check(r.ret == TC_ACT_UNSPEC && r.unchanged && clones6_seen(NULL) == 0 &&
	      counters_of(2).requests_unhedgeable == before, "tcp6: a data segment "
	      "after extension headers is neither copied nor counted",
	      "copied or counted");
	run(HEDGE_PROG_SPLITTER, &s);
	check(clones6_seen(&s) == 1, "tcp6: a plain SYN after them is tracked "
	      "and copied", "no copy");
	r = run(HEDGE_PROG_WATCHER, &a);
	check(r.ret == TC_ACT_UNSPEC && r.unchanged &&
	      tcp_state(1, ISN + 1) == HEDGE_PENDING, "tcp6: a SYN-ACK after "
	      "extension headers passes unjudged", "judged or changed");
	check(counters_of(2).handshakes == 1, "tcp6: only the plain SYN is a "
	      "handshake", "counted");
}

/* An IPv6 header carrying IPv4-mapped addresses is not IPv4 on the wire:
 * not the IPv4 target's handshake. */
static void test_tcp6_mapped(void)
{
	struct pkt s = syn6(ISN);
	struct run r;

	clones6_seen(NULL);
	inet_pton(AF_INET6, "::ffff:" CLIENT, s.b + 14 + 8);
	inet_pton(AF_INET6, "::ffff:" SERVER, s.b + 14 + 24);
	r = run(HEDGE_PROG_SPLITTER, &s);
	check(r.ret == TC_ACT_UNSPEC && r.unchanged && clones6_seen(NULL) == 0 &&
	      counters_of(1).handshakes == 0 && counters_of(2).handshakes == 0,
	      "tcp6: a SYN between IPv4-mapped addresses is not tracked",
	      "tracked");
}

/* Tick line, IPv6: the SYN parked (IPv6's pseudo-header summed), the
 * ticker's copy sent at the deadline, the Rescuer's hedge the SYN byte for
 * byte, its checksum made whole. */
static void test_tcp6_tick(void)
{
	struct pkt s = syn6(ISN), partial = syn6(ISN), out, t;
	struct run r = { .ret = -1 };
	int n = 0, i;

	pseudo_only6(&partial);
	clones6_seen(NULL);
	tick_alive();
	run(HEDGE_PROG_SPLITTER, &partial);
	clones_seen(NULL);
	for (i = 0; i < 4 && n <= 0; i++) {
		tick_alive();
		t = tick();
		run(HEDGE_PROG_TICKER, &t);
		clones_seen(NULL);	/* the tick itself */
		n = next_clone6(&out);
	}
	check(n > 0 && tcp_state(1, ISN) == HEDGE_PENDING, "tcp6: tick line: "
	      "the ticker sends the parked SYN's copy", "no copy");
	if (n > 0)
		r = run(HEDGE_PROG_RESCUER, &out);
	check(r.ret == TC_ACT_REDIRECT && r.out_len == s.len &&
	      !memcmp(r.out.b, s.b, s.len) &&
	      tcp_state(1, ISN) == HEDGE_HEDGED, "tcp6: tick line: the hedge "
	      "is the SYN byte for byte, its checksum made whole",
	      "not sent, or bytes differ");
}
