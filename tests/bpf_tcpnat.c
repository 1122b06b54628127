// SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
/*
 * tests/bpf_tcpnat.c - BPF_PROG_RUN cases for TCP targets with a replica
 * (bpf/tcpnat.h), included by bpf_test.c after bpf_tcp.c: the hedge SYN
 * rewritten to the replica, the replica's SYN-ACK to the primary and its
 * connection recorded, later segments rewritten both ways, the loser's
 * SYN-ACK turned into a RST, FIN both ways and RST ending an entry, a full
 * table counted. Every rewritten packet's checksums are checked whole.
 *
 * Target 1 is SERVER:TPORT/tcp with REPLICA:RPORT; target 2 is
 * [SERVER6]:TPORT/tcp with [REPLICA6]:RPORT.
 */
#define RISN	0x0badcafeU	/* the servers' ISN */

static const unsigned char replica_mac[6] = { 2, 0, 0, 0, 0, 0x33 };

/* Endpoint strings of side `who` ('c'lient, 's'erver, 'r'eplica). */
static const char *addr_of(int v6, char who)
{
	if (who == 'c')
		return v6 ? CLIENT6 : CLIENT;
	if (who == 's')
		return v6 ? SERVER6 : SERVER;
	return v6 ? REPLICA6 : REPLICA;
}

static uint16_t port_of(char who)
{
	return who == 'c' ? CPORT : who == 's' ? TPORT : RPORT;
}

/* A segment from `from` to `to` ('c', 's', 'r'), checksums whole; the
 * replica's frames come from replica_mac. */
static struct pkt seg(int v6, char from, char to, uint8_t flags,
		      uint32_t seq, uint32_t ack, unsigned int data)
{
	struct pkt p = tcp_pkt(v6, to != 'c', flags, seq, ack, data);
	unsigned char *ip = p.b + 14, *th = ip + (v6 ? 40 : 20);
	uint16_t v;

	if (v6) {
		inet_pton(AF_INET6, addr_of(1, from), ip + 8);
		inet_pton(AF_INET6, addr_of(1, to), ip + 24);
	} else {
		inet_pton(AF_INET, addr_of(0, from), ip + 12);
		inet_pton(AF_INET, addr_of(0, to), ip + 16);
		ip[10] = ip[11] = 0;
		v = ip_csum(ip, 20);
		memcpy(ip + 10, &v, 2);
	}
	v = htons(port_of(from));
	memcpy(th, &v, 2);
	v = htons(port_of(to));
	memcpy(th + 2, &v, 2);
	if (from == 'r')
		memcpy(p.b + 6, replica_mac, 6);
	th[16] = th[17] = 0;
	v = htons(tcp_sum(&p, v6));
	memcpy(th + 16, &v, 2);
	return p;
}

/* The packet goes from `from` to `to`, its checksums right. */
static int is_seg(const struct run *r, int v6, char from, char to)
{
	int at = v6 ? 14 + 8 : 14 + 12, len = v6 ? 16 : 4;
	int tcp = v6 ? 14 + 40 : 14 + 20;
	struct pkt p = r->out;

	p.len = r->out_len;
	return has_endpoint(&p, at, len, addr_of(v6, from), tcp,
			    port_of(from)) &&
	       has_endpoint(&p, at + len, len, addr_of(v6, to), tcp + 2,
			    port_of(to)) &&
	       (v6 || ip_csum(p.b + 14, 20) == 0) && tcp_sum(&p, v6) == 0;
}

static void tcpnat_targets(struct hedge_config *c)
{
	int targets = obj_map_fd(&obj, HEDGE_MAP_TARGETS);
	uint32_t one = 1 | HEDGE_TARGET_REPLICA, two = 2 | HEDGE_TARGET_REPLICA;

	tcp_targets(c);
	endpoint(&c->targets[1].replica, REPLICA, RPORT);
	endpoint(&c->targets[2].replica, REPLICA6, RPORT);
	c->targets[1].replica.proto = HEDGE_PROTO_TCP;
	c->targets[2].replica.proto = HEDGE_PROTO_TCP;
	c->flags |= HEDGE_F_TCP_NAT;
	map_update(targets, &c->targets[1].replica, &one);
	map_update(targets, &c->targets[2].replica, &two);
}

static int nat_entry(int v6, struct hedge_nat *n)
{
	struct hedge_nat_key k;

	memset(&k, 0, sizeof(k));
	if (v6)
		inet_pton(AF_INET6, CLIENT6, k.client);
	else
		mapped(k.client, CLIENT);
	k.cport = htons(CPORT);
	k.target = v6 ? 2 : 1;
	return !map_lookup(obj_map_fd(&obj, HEDGE_MAP_NAT), &k, n);
}

static void nat_set(int v6, const struct hedge_nat *n)
{
	struct hedge_nat_key k;

	memset(&k, 0, sizeof(k));
	if (v6)
		inet_pton(AF_INET6, CLIENT6, k.client);
	else
		mapped(k.client, CLIENT);
	k.cport = htons(CPORT);
	k.target = v6 ? 2 : 1;
	map_update(obj_map_fd(&obj, HEDGE_MAP_NAT), &k, n);
}

/* The SYN, and its hedge out of the Rescuer: to the replica. */
static void hedge_syn(int v6, const char *fam)
{
	struct pkt s = seg(v6, 'c', 's', SYN, ISN, 0, 0);
	unsigned int tcp = v6 ? 14 + 40 : 14 + 20;
	char name[160];
	struct run r;

	run(HEDGE_PROG_SPLITTER, &s);
	clones_seen(NULL);
	r = run(HEDGE_PROG_RESCUER, &s);
	snprintf(name, sizeof(name), "tcpnat: %s: the hedge SYN goes to the "
		 "replica, checksums right, the rest of it as it was", fam);
	/* Sequence number to window, and the options: untouched (a
	 * checksum fixed up in the wrong field would still sum right). */
	check(r.ret == TC_ACT_REDIRECT && is_seg(&r, v6, 'c', 'r') &&
	      r.out_len == s.len &&
	      !memcmp(r.out.b + tcp + 4, s.b + tcp + 4, 12) &&
	      !memcmp(r.out.b + tcp + 18, s.b + tcp + 18, 22) &&
	      tcp_state(v6, ISN) == HEDGE_HEDGED, name,
	      "not sent, wrong endpoints, or a bad checksum");
}

/* The replica wins the handshake; then the connection both ways. */
static void replica_wins(int v6, const char *fam)
{
	struct pkt ra = seg(v6, 'r', 'c', SYN | ACK, RISN, ISN + 1, 0);
	struct pkt pa = seg(v6, 's', 'c', SYN | ACK, 77, ISN + 1, 0);
	struct pkt out = seg(v6, 'c', 's', ACK, ISN + 1, RISN + 1, 100);
	struct pkt back = seg(v6, 'r', 'c', ACK, RISN + 1, ISN + 101, 300);
	unsigned int tcp = v6 ? 14 + 40 : 14 + 20;
	struct hedge_stats st;
	struct hedge_nat n;
	char name[160];
	uint32_t seq;
	struct run r;

	hedge_syn(v6, fam);
	r = run(HEDGE_PROG_WATCHER, &ra);
	snprintf(name, sizeof(name), "tcpnat: %s: the replica's SYN-ACK "
		 "first passes as the primary's, checksums right, and its "
		 "connection is recorded", fam);
	check(r.ret == TC_ACT_UNSPEC && is_seg(&r, v6, 's', 'c') &&
	      nat_entry(v6, &n) && !memcmp(n.replica_mac, replica_mac, 6) &&
	      tcp_state(v6, ISN) == HEDGE_DONE_HEDGED, name,
	      "dropped, not rewritten, bad checksum, or no entry");

	r = run(HEDGE_PROG_WATCHER, &pa);
	memcpy(&seq, r.out.b + tcp + 4, 4);
	snprintf(name, sizeof(name), "tcpnat: %s: the primary's later "
		 "SYN-ACK becomes a RST back to it (seq = its ack), "
		 "checksums right", fam);
	check(r.ret == TC_ACT_REDIRECT && r.out_len == tcp + 20 &&
	      is_seg(&r, v6, 'c', 's') && r.out.b[tcp + 13] == 0x04 &&
	      seq == htonl(ISN + 1), name, "not a RST to the primary");

	r = run(HEDGE_PROG_SPLITTER, &out);
	snprintf(name, sizeof(name), "tcpnat: %s: the client's segments go "
		 "to the replica (its MAC), checksums right", fam);
	check(r.ret == TC_ACT_UNSPEC && r.out_len == out.len &&
	      is_seg(&r, v6, 'c', 'r') && !memcmp(r.out.b, replica_mac, 6) &&
	      !memcmp(r.out.b + tcp + 4, out.b + tcp + 4, 12) &&
	      !memcmp(r.out.b + tcp + 40, out.b + tcp + 40, 100), name,
	      "not rewritten, or a bad checksum");
	r = run(HEDGE_PROG_WATCHER, &back);
	snprintf(name, sizeof(name), "tcpnat: %s: the replica's segments "
		 "come from the primary, checksums right", fam);
	check(r.ret == TC_ACT_UNSPEC && r.out_len == back.len &&
	      is_seg(&r, v6, 's', 'c'), name, "not rewritten, or bad checksum");
	r = run(HEDGE_PROG_WATCHER, &ra);
	snprintf(name, sizeof(name), "tcpnat: %s: the replica's SYN-ACK "
		 "repeated passes as the primary's", fam);
	check(r.ret == TC_ACT_UNSPEC && is_seg(&r, v6, 's', 'c'), name,
	      "dropped or not rewritten");
	st = counters_of(v6 ? 2 : 1);
	snprintf(name, sizeof(name), "tcpnat: %s: counters: the hedge won, "
		 "1 RST sent, 1 response", fam);
	check(st.hedges_won == 1 && st.hedges_lost == 0 &&
	      st.nat_resets == 1 && st.responses == 1 && st.nat_full == 0,
	      name, "counters off");
}

static void test_tcpnat_replica_wins(void)
{
	struct pkt pa = seg(0, 's', 'c', SYN | ACK, 77, ISN + 1, 0);
	struct hedge_key k = tcp_key(0, ISN);
	struct run r;

	replica_wins(0, "IPv4");
	/* Past --window (its entry gone): the primary, its first SYN-ACK
	 * lost, repeats it a second later; still the loser's. */
	scores_del(&sv, &k);
	r = run(HEDGE_PROG_WATCHER, &pa);
	check(r.ret == TC_ACT_REDIRECT && r.out.b[14 + 20 + 13] == 0x04 &&
	      is_seg(&r, 0, 'c', 's') && counters_of(1).nat_resets == 2,
	      "tcpnat: past --window, the primary's repeated SYN-ACK is "
	      "still reset", "not a RST to the primary");
}

static void test_tcpnat_replica_wins6(void)
{
	replica_wins(1, "IPv6");
}

/* The primary wins: the replica's SYN-ACK is reset, nothing rewritten. */
static void primary_wins(int v6, const char *fam)
{
	struct pkt pa = seg(v6, 's', 'c', SYN | ACK, 77, ISN + 1, 0);
	struct pkt ra = seg(v6, 'r', 'c', SYN | ACK, RISN, ISN + 1, 0);
	struct pkt out = seg(v6, 'c', 's', ACK, ISN + 1, 78, 100);
	unsigned int tcp = v6 ? 14 + 40 : 14 + 20;
	struct hedge_stats st;
	struct hedge_nat n;
	char name[160];
	uint32_t seq;
	struct run r;

	hedge_syn(v6, fam);
	r = run(HEDGE_PROG_WATCHER, &pa);
	snprintf(name, sizeof(name), "tcpnat: %s: the primary's SYN-ACK first "
		 "passes as it is, no entry", fam);
	check(r.ret == TC_ACT_UNSPEC && r.unchanged && !nat_entry(v6, &n),
	      name, "dropped, touched, or an entry made");
	r = run(HEDGE_PROG_WATCHER, &ra);
	memcpy(&seq, r.out.b + tcp + 4, 4);
	snprintf(name, sizeof(name), "tcpnat: %s: the replica's later SYN-ACK "
		 "becomes a RST back to it, checksums right", fam);
	check(r.ret == TC_ACT_REDIRECT && r.out_len == tcp + 20 &&
	      is_seg(&r, v6, 'c', 'r') && r.out.b[tcp + 13] == 0x04 &&
	      seq == htonl(ISN + 1) && !memcmp(r.out.b, replica_mac, 6), name,
	      "not a RST to the replica");
	r = run(HEDGE_PROG_SPLITTER, &out);
	snprintf(name, sizeof(name), "tcpnat: %s: the client's segments to "
		 "the primary pass untouched", fam);
	check(r.ret == TC_ACT_UNSPEC && r.unchanged, name, "touched");
	r = run(HEDGE_PROG_WATCHER, &pa);
	snprintf(name, sizeof(name), "tcpnat: %s: the primary's SYN-ACK "
		 "repeated passes", fam);
	check(r.ret == TC_ACT_UNSPEC && r.unchanged, name, "dropped or reset");
	st = counters_of(v6 ? 2 : 1);
	snprintf(name, sizeof(name), "tcpnat: %s: counters: the hedge lost, "
		 "1 RST sent", fam);
	check(st.hedges_won == 0 && st.hedges_lost == 1 &&
	      st.nat_resets == 1, name, "counters off");
}

static void test_tcpnat_primary_wins(void)
{
	primary_wins(0, "IPv4");
	fresh_state();
	primary_wins(1, "IPv6");
}

/* FIN both ways ends the entry: it lingers (the last ACK still goes
 * through), then its next packet deletes it and passes as it is. */
static void test_tcpnat_fin(void)
{
	struct pkt ra = seg(0, 'r', 'c', SYN | ACK, RISN, ISN + 1, 0);
	struct pkt fin = seg(0, 'c', 's', ACK | 0x01, ISN + 1, RISN + 1, 0);
	struct pkt rfin = seg(0, 'r', 'c', ACK | 0x01, RISN + 1, ISN + 2, 0);
	struct pkt last = seg(0, 'c', 's', ACK, ISN + 2, RISN + 2, 0);
	struct hedge_nat n;
	struct run r;

	hedge_syn(0, "IPv4");
	run(HEDGE_PROG_WATCHER, &ra);
	r = run(HEDGE_PROG_SPLITTER, &fin);
	check(r.ret == TC_ACT_UNSPEC && is_seg(&r, 0, 'c', 'r') &&
	      nat_entry(0, &n) && n.flags == HEDGE_NAT_FIN_OUT && !n.end_ns,
	      "tcpnat: the client's FIN goes to the replica; the entry stays",
	      "not rewritten, or the entry ended");
	r = run(HEDGE_PROG_WATCHER, &rfin);
	check(r.ret == TC_ACT_UNSPEC && is_seg(&r, 0, 's', 'c') &&
	      nat_entry(0, &n) && n.end_ns && counters_of(1).nat_closed == 1,
	      "tcpnat: the replica's FIN too: the entry ends (lingers)",
	      "not rewritten, or not ended");
	r = run(HEDGE_PROG_SPLITTER, &last);
	check(r.ret == TC_ACT_UNSPEC && is_seg(&r, 0, 'c', 'r'),
	      "tcpnat: the last ACK, lingering, still goes to the replica",
	      "not rewritten");
	n.end_ns -= HEDGE_NAT_LINGER_NS + 1;
	nat_set(0, &n);
	r = run(HEDGE_PROG_SPLITTER, &last);
	check(r.ret == TC_ACT_UNSPEC && r.unchanged && !nat_entry(0, &n),
	      "tcpnat: past the linger, the entry is deleted and the segment "
	      "passes as it is", "rewritten, or the entry kept");
}

/* A RST (either way) ends it; an entry idle too long is over. */
static void test_tcpnat_rst(void)
{
	struct pkt ra = seg(1, 'r', 'c', SYN | ACK, RISN, ISN + 1, 0);
	struct pkt rst = seg(1, 'r', 'c', ACK | 0x04, RISN + 1, ISN + 1, 0);
	struct pkt data = seg(1, 'c', 's', ACK, ISN + 1, RISN + 1, 10);
	struct hedge_nat n;
	struct run r;

	hedge_syn(1, "IPv6");
	run(HEDGE_PROG_WATCHER, &ra);
	r = run(HEDGE_PROG_WATCHER, &rst);
	check(r.ret == TC_ACT_UNSPEC && is_seg(&r, 1, 's', 'c') &&
	      nat_entry(1, &n) && n.end_ns && counters_of(2).nat_closed == 1,
	      "tcpnat: the replica's RST passes as the primary's and ends "
	      "the entry", "not rewritten, or not ended");
	/* Touched on another CPU after this segment's program read its
	 * clock: its last use is later than `now`, not an hour ago. */
	n.end_ns = 0;
	n.used_ns = mono_ns() + 50000000;
	nat_set(1, &n);
	r = run(HEDGE_PROG_SPLITTER, &data);
	check(r.ret == TC_ACT_UNSPEC && is_seg(&r, 1, 'c', 'r') &&
	      nat_entry(1, &n), "tcpnat: an entry used after the clock "
	      "read is live, not idle", "deleted, or not rewritten");
	n.used_ns = mono_ns();
	n.used_ns -= HEDGE_NAT_IDLE_NS + 1;
	nat_set(1, &n);
	r = run(HEDGE_PROG_SPLITTER, &data);
	check(r.ret == TC_ACT_UNSPEC && r.unchanged && !nat_entry(1, &n),
	      "tcpnat: an entry idle too long is deleted on its next segment",
	      "rewritten, or kept");
}

/* No room in hedge_nat: counted, and the replica's connection reset. */
static void test_tcpnat_full(void)
{
	struct pkt ra = seg(0, 'r', 'c', SYN | ACK, RISN, ISN + 1, 0);
	struct pkt pa = seg(0, 's', 'c', SYN | ACK, 77, ISN + 1, 0);
	int fd = obj_map_fd(&obj, HEDGE_MAP_NAT);
	struct hedge_nat_key k;
	struct hedge_nat n = { .used_ns = mono_ns(), .target = 1 };
	unsigned int i, tcp = 14 + 20;
	struct run r;

	memset(&k, 0, sizeof(k));
	mapped(k.client, "10.9.0.0");
	k.target = 1;
	for (i = 0; i < HEDGE_NAT_SIZE; i++) {
		k.cport = (uint16_t)i;
		k.client[14] = (uint8_t)(i >> 16);
		map_update(fd, &k, &n);
	}
	hedge_syn(0, "IPv4");
	r = run(HEDGE_PROG_WATCHER, &ra);
	check(r.ret == TC_ACT_REDIRECT && r.out.b[tcp + 13] == 0x04 &&
	      is_seg(&r, 0, 'c', 'r') && counters_of(1).nat_full == 1 &&
	      !nat_entry(0, &n), "tcpnat: NAT table full: counted, the "
	      "replica's connection reset", "not counted, or not reset");
	r = run(HEDGE_PROG_WATCHER, &pa);
	check(r.ret == TC_ACT_UNSPEC && r.unchanged, "tcpnat: NAT table full: "
	      "the primary's SYN-ACK (to the client's own SYN) passes",
	      "dropped");
	empty_hash(HEDGE_MAP_NAT);
}

/*
 * Two scrapes at once: `status` counts hedge_nat's live entries while
 * another deletes entries that are over (and the datapath makes and ends
 * others). 2 000 live entries, never touched; 2 000 over, deleted and
 * made again by a child all along. Every count must be 2 000 and no read
 * may fail: a walk that restarts at a deleted key counts some twice, or
 * gives up.
 */
static void test_tcpnat_walk(void)
{
	int fd = obj_map_fd(&obj, HEDGE_MAP_NAT), bad = 0, failed = 0;
	uint64_t now = mono_ns(), live[HEDGE_MAX_TARGETS];
	struct hedge_nat on = { .used_ns = now, .target = 1 };
	struct hedge_nat over = { .used_ns = now, .end_ns = 1, .target = 1 };
	struct hedge_nat_key k;
	unsigned int i, walks;
	pid_t child;

	memset(&k, 0, sizeof(k));
	mapped(k.client, "10.9.0.0");
	k.target = 1;
	for (i = 0; i < 4000; i++) {
		k.cport = (uint16_t)i;
		map_update(fd, &k, i % 2 ? &over : &on);
	}
	child = fork();
	if (child == 0) {	/* the other scrape, and the datapath */
		uint64_t end = mono_ns() + 1500 * MS;

		while (mono_ns() < end)
			for (i = 1; i < 4000; i += 2) {
				k.cport = (uint16_t)i;
				if (map_delete(fd, &k))
					map_update(fd, &k, &over);
			}
		_exit(0);
	}
	for (walks = 0; walks < 200 && child > 0; walks++) {
		memset(live, 0, sizeof(live));
		if (nat_walk(fd, mono_ns(), live, HEDGE_MAX_TARGETS))
			failed++;
		else if (live[1] != 2000)
			bad++;
	}
	if (child > 0)
		waitpid(child, NULL, 0);
	check(child > 0 && !failed && !bad, "tcpnat: two scrapes at once: "
	      "every count of hedge_nat's live entries is right while the "
	      "other deletes", child > 0 ? "a count wrong or a read failed" :
	      "fork failed");
	if (bad || failed)
		fprintf(stderr, "tcpnat_walk: %u walks, %d wrong, %d failed\n",
			walks, bad, failed);
	empty_hash(HEDGE_MAP_NAT);
}

/* Established traffic of a target without an entry, and a new SYN on a
 * port whose older connection lingers. */
static void test_tcpnat_untouched(void)
{
	struct pkt data = seg(0, 'c', 's', ACK, ISN + 1, 5, 100);
	struct pkt back = seg(0, 's', 'c', ACK, 5, ISN + 101, 100);
	struct pkt rdata = seg(0, 'r', 'c', ACK, 5, ISN + 101, 100);
	struct pkt s = seg(0, 'c', 's', SYN, ISN + 9, 0, 0);
	struct hedge_nat n = { .used_ns = mono_ns(), .end_ns = mono_ns(),
			       .target = 1 };
	struct run r;

	r = run(HEDGE_PROG_SPLITTER, &data);
	check(r.ret == TC_ACT_UNSPEC && r.unchanged, "tcpnat: segments to a "
	      "target without an entry pass untouched", "touched");
	r = run(HEDGE_PROG_WATCHER, &back);
	check(r.ret == TC_ACT_UNSPEC && r.unchanged, "tcpnat: the primary's "
	      "segments pass untouched", "touched");
	r = run(HEDGE_PROG_WATCHER, &rdata);
	check(r.ret == TC_ACT_UNSPEC && r.unchanged, "tcpnat: the replica's "
	      "segments without an entry pass untouched", "touched");
	nat_set(0, &n);
	run(HEDGE_PROG_SPLITTER, &s);
	check(!nat_entry(0, &n), "tcpnat: a new SYN on the client's port "
	      "deletes the older connection's entry", "kept");
}
