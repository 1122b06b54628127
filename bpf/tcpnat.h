/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * bpf/tcpnat.h - TCP targets with a replica (--target IP:PORT/tcp,REPLICA):
 * the hedge SYN goes to the replica, and the connection whose handshake
 * the replica won is rewritten for its whole life, both ways, so that the
 * client sees only the primary:
 *
 *   Rescuer   the hedge SYN's destination made the replica's
 *             (hedge_to_replica(), checksums kept), as a UDP hedge's.
 *   watcher   the first SYN-ACK after the hedge decides. The replica's:
 *             its source made the primary's, and the connection recorded
 *             in hedge_nat (client address and port, target). The
 *             primary's: passed as it is. The other server's SYN-ACK,
 *             when it comes, is the loser's: turned into a RST back to
 *             its sender (tcp_reset(): seq = its ack), so that the losing
 *             server is left with no half-open connection; the winner's
 *             repeated SYN-ACK passes (the replica's rewritten).
 *   Splitter  a segment of the client's to the primary with an entry goes
 *             to the replica (tcp_nat_out()), its destination MAC the
 *             replica's SYN-ACK's source MAC (the next hop toward it).
 *   watcher   a segment from the replica with an entry comes from the
 *             primary (tcp_nat_in()).
 *
 * An entry ends HEDGE_NAT_LINGER_NS after FIN both ways or a RST (the
 * last ACK and a repeated FIN still get through), or when idle for
 * HEDGE_NAT_IDLE_NS; its next packet then deletes it (and passes as it
 * is), or `status` does. A full table is counted (nat_full): the
 * replica's connection is then reset, and the client's SYN, repeated by
 * its stack, goes on to the primary as without hedge.
 *
 * A SYN-ACK only judges a handshake once tcp_deliverable() said the stack
 * would take it; later segments change an entry's state unchecked, as
 * conntrack's do: a forged FIN or RST would need the connection's ports.
 */
#ifndef HEDGE_BPF_TCPNAT_H
#define HEDGE_BPF_TCPNAT_H

#include "tcp.h"

static __always_inline void mark_hedge(struct __sk_buff *skb);

/* The segment's destination (dst) or source address and port made `to`'s,
 * the checksums kept right (parse.h's rewrite_l4()). */
static __always_inline int tcp_rewrite(struct __sk_buff *skb, __u32 tcp_at,
				       __u32 v6, int dst,
				       const struct hedge_target_key *to)
{
	_Static_assert(offsetof(struct tcphdr, source) ==
		       offsetof(struct udphdr, source) &&
		       offsetof(struct tcphdr, dest) ==
		       offsetof(struct udphdr, dest), "ports first in both");
	return rewrite_l4(skb, tcp_at, tcp_at + offsetof(struct tcphdr, check),
			  v6, dst, to, 0);
}

/* The Rescuer's hedge, to the replica: a TCP SYN's or a UDP request's. */
static __always_inline int hedge_to_replica(struct __sk_buff *skb,
					    const struct datagram *d,
					    const struct hedge_target_key *to)
{
	if (d->key.pad == HEDGE_PROTO_TCP)
		return tcp_rewrite(skb, d->udp_at, d->v6, 1, to);
	return rewrite(skb, d, 1, to);
}

/* The connection's entry's key: the client's end and the target. */
static __always_inline void nat_key(struct hedge_nat_key *k,
				    const __u8 *client, __be16 cport, __u32 t)
{
	__builtin_memcpy(k->client, client, HEDGE_ADDR_LEN);
	k->cport = cport;
	k->target = (__u16)t;
	k->pad = 0;
}

/* The entry is over (ended and lingered, or idle too long): deleted. */
static __always_inline int nat_over(struct hedge_nat *n,
				    const struct hedge_nat_key *k, __u64 now)
{
	__u64 end = n->end_ns;

	if ((end && since(now, end) >= HEDGE_NAT_LINGER_NS) ||
	    since(now, n->used_ns) >= HEDGE_NAT_IDLE_NS) {
		bpf_map_delete_elem(&hedge_nat, k);
		return 1;
	}
	return 0;
}

/* A segment of the connection's, its flags `flags`, `fin` its
 * direction's FIN bit: a RST, or the second FIN, ends it. */
static __always_inline void nat_track(struct hedge_nat *n, __u32 flags,
				      __u32 fin, __u64 now)
{
	struct hedge_stats *st;
	__u32 old;

	if (since(now, n->used_ns) >= HEDGE_NAT_TOUCH_NS)
		n->used_ns = now;
	if (!(flags & (TCPF_FIN | TCPF_RST)))
		return;
	if (!(flags & TCPF_RST)) {
		old = __sync_fetch_and_or(&n->flags, fin);
		if ((old | fin) != (HEDGE_NAT_FIN_OUT | HEDGE_NAT_FIN_IN))
			return;
	}
	if (__sync_val_compare_and_swap(&n->end_ns, 0, now) == 0) {
		st = stats(n->target);
		if (st)
			st->nat_closed++;
	}
}

/*
 * The Splitter, for a client's segment to TCP target `t` other than a SYN:
 * through the replica if its connection has an entry. The loser's RST
 * (tcp_reset(), marked a hedge) is not the connection's: it goes as is.
 */
static __always_inline int tcp_nat_out(struct __sk_buff *skb,
				       const struct hedge_config *cfg,
				       const struct segment *s,
				       const __u8 *client, __u32 t)
{
	const struct hedge_target *target = target_of(cfg, t);
	struct hedge_nat_key k;
	struct hedge_nat *n;
	__u64 now;

	if (!target || !target->replica.port)
		return TC_ACT_UNSPEC;
	nat_key(&k, client, s->sport, t);
	n = bpf_map_lookup_elem(&hedge_nat, &k);
	if (!n || is_hedge(skb))
		return TC_ACT_UNSPEC;
	now = bpf_ktime_get_ns();
	if (nat_over(n, &k, now))
		return TC_ACT_UNSPEC;
	nat_track(n, s->flags, HEDGE_NAT_FIN_OUT, now);
	if (bpf_skb_store_bytes(skb, 0, n->replica_mac, 6, 0) ||
	    tcp_rewrite(skb, s->tcp_at, s->v6, 1, &target->replica))
		return TC_ACT_SHOT;	/* half rewritten: no use to anyone */
	return TC_ACT_UNSPEC;
}

/* The role of server:port among TCP targets: its index, flagged
 * HEDGE_TARGET_REPLICA for a replica; -1 if none. */
static __always_inline __s64 tcp_role(const struct hedge_config *cfg,
				       const __u8 *addr, __be16 port)
{
	struct hedge_target_key tk = { .port = port, .proto = HEDGE_PROTO_TCP };

	__builtin_memcpy(tk.addr, addr, HEDGE_ADDR_LEN);
	return target_role(cfg, &tk);
}

/*
 * The watcher, for a segment from `server` to `client`, replica of target
 * t (its role known): from the primary if its connection has an entry.
 */
static __always_inline int nat_in(struct __sk_buff *skb,
				  const struct hedge_config *cfg,
				  const struct segment *s, const __u8 *client,
				  __u32 t)
{
	const struct hedge_target *target = target_of(cfg, t);
	struct hedge_nat_key k;
	struct hedge_nat *n;
	__u64 now;

	if (!target)
		return TC_ACT_UNSPEC;
	nat_key(&k, client, s->dport, t);
	n = bpf_map_lookup_elem(&hedge_nat, &k);
	if (!n)
		return TC_ACT_UNSPEC;
	now = bpf_ktime_get_ns();
	if (nat_over(n, &k, now))
		return TC_ACT_UNSPEC;
	nat_track(n, s->flags, HEDGE_NAT_FIN_IN, now);
	if (tcp_rewrite(skb, s->tcp_at, s->v6, 0, &target->primary))
		return TC_ACT_SHOT;
	return TC_ACT_UNSPEC;
}

/* The watcher, for a segment other than a SYN-ACK: a replica's? */
static __always_inline int tcp_nat_in(struct __sk_buff *skb,
				      const struct hedge_config *cfg,
				      const struct segment *s,
				      const __u8 *server, const __u8 *client)
{
	__s64 role = tcp_role(cfg, server, s->sport);

	if (role < 0 || !(role & HEDGE_TARGET_REPLICA))
		return TC_ACT_UNSPEC;
	return nat_in(skb, cfg, s, client,
		      (__u32)role & (HEDGE_MAX_TARGETS - 1));
}

/* A new handshake on the client's port: an older connection's entry
 * there (lingering) is no longer its. */
static __always_inline void nat_forget(const struct hedge_config *cfg,
				       const struct hedge_key *key)
{
	struct hedge_nat_key k;

	if (!(cfg->flags & HEDGE_F_TCP_NAT))
		return;
	nat_key(&k, key->saddr, key->sport, key->target);
	bpf_map_delete_elem(&hedge_nat, &k);
}

/* TCP's header of a RST answering a SYN-ACK `s`, at th, its checksum 0. */
static __always_inline void rst_header(__u8 *th, const struct segment *s)
{
	struct tcphdr *t = (void *)th;

	__builtin_memset(th, 0, sizeof(*t));
	t->source = s->dport;
	t->dest = s->sport;
	t->seq = s->ack;
	th[12] = 5 << 4;
	th[TCP_FLAGS_AT] = TCPF_RST;
}

/* A RST of IPv4 (no options) or IPv6 header, then TCP, after Ethernet. */
#define RST_LEN4	(sizeof(struct ethhdr) + 20 + 20)
#define RST_LEN6	(sizeof(struct ethhdr) + 40 + 20)

/* The RST's TCP checksum, into th: whole, or where the SYN-ACK held the
 * pseudo-header's sum only (CHECKSUM_PARTIAL, the device to finish it:
 * a veth from another namespace), that sum, for the device to finish. */
static __always_inline int rst_csum(__u8 *th, __s64 pseudo, int partial)
{
	__s64 sum = pseudo;	/* pseudo_sum()'s: never negative */
	__u16 check;

	if (partial) {
		check = (__u16)csum_fold32((__u64)sum);
	} else {
		sum = bpf_csum_diff(0, 0, (__be32 *)th, 20, (__u32)sum);
		if (sum < 0)
			return -1;
		check = (__u16)~csum_fold32((__u64)sum);
	}
	__builtin_memcpy(th + 16, &check, 2);
	return 0;
}

/*
 * The loser's SYN-ACK (from `server` to `client`) turned into a RST back to
 * its sender, out of the device it came in by: seq its ack (the client's
 * ISN + 1, what the server's half-open connection expects), no ACK, no
 * data. Marked a hedge, so that the Splitter passes it as it is.
 */
static __always_inline int tcp_reset(struct __sk_buff *skb,
				     const struct segment *s,
				     const __u8 *server, const __u8 *client,
				     struct hedge_stats *st)
{
	__s64 pseudo = pseudo_sum(server, client, s->v6, s->tcp_len,
				  IPPROTO_TCP);
	int partial = csum_fold32((__u64)pseudo) == s->check;
	struct hedge_scratch *scratch;
	__u32 len, zero = 0;
	__u8 *b, mac[6];
	__u16 v;

	/* The watcher's stack is full: the headers are built in scratch. */
	scratch = bpf_map_lookup_elem(&hedge_scratch, &zero);
	if (!scratch)
		return TC_ACT_UNSPEC;
	b = scratch->b;
	__builtin_memset(b, 0, RST_LEN6);
	if (bpf_skb_load_bytes(skb, 0, b, RST_LEN4))
		return TC_ACT_UNSPEC;
	__builtin_memcpy(mac, b, 6);
	__builtin_memcpy(b, b + 6, 6);
	__builtin_memcpy(b + 6, mac, 6);
	pseudo = pseudo_sum(client, server, s->v6, 20, IPPROTO_TCP);
	if (s->v6) {
		__builtin_memcpy(b + 14 + 8, client, 16);
		__builtin_memcpy(b + 14 + 24, server, 16);
		v = htons(20);
		__builtin_memcpy(b + 14 + 4, &v, 2);
		b[14 + 6] = IPPROTO_TCP;
		b[14 + 7] = 64;
		rst_header(b + 54, s);
		if (rst_csum(b + 54, pseudo, partial))
			return TC_ACT_UNSPEC;
		len = RST_LEN6;
	} else {
		__s64 sum;

		__builtin_memcpy(b + 14 + 12, client + 12, 4);
		__builtin_memcpy(b + 14 + 16, server + 12, 4);
		v = htons(40);
		__builtin_memcpy(b + 14 + 2, &v, 2);
		b[14 + 4] = b[14 + 5] = 0;	/* ID */
		b[14 + 6] = 0x40;		/* DF */
		b[14 + 7] = 0;
		b[14 + 8] = 64;
		b[14 + 10] = b[14 + 11] = 0;
		sum = bpf_csum_diff(0, 0, (__be32 *)(b + 14), 20, 0);
		if (sum < 0)
			return TC_ACT_UNSPEC;
		v = (__u16)~csum_fold32((__u64)sum);
		__builtin_memcpy(b + 14 + 10, &v, 2);
		rst_header(b + 34, s);
		if (rst_csum(b + 34, pseudo, partial))
			return TC_ACT_UNSPEC;
		len = RST_LEN4;
	}
	if (bpf_skb_change_tail(skb, len, 0) ||
	    (len == RST_LEN6 ? bpf_skb_store_bytes(skb, 0, b, RST_LEN6, 0) :
	     bpf_skb_store_bytes(skb, 0, b, RST_LEN4, 0)))
		return TC_ACT_SHOT;
	if (st)
		st->nat_resets++;
	mark_hedge(skb);
	return bpf_redirect(skb->ifindex, 0);
}

/* The replica's SYN-ACK came first: its connection recorded, the SYN-ACK
 * from the primary. No room: the replica's connection is reset. */
static __always_inline int replica_won(struct __sk_buff *skb,
				       const struct hedge_config *cfg,
				       const struct segment *s,
				       const __u8 *server,
				       const struct hedge_key *key,
				       struct hedge_stats *st, __u64 now)
{
	const struct hedge_target *target = target_of(cfg, key->target);
	struct hedge_nat n = { .used_ns = now, .target = key->target };
	struct hedge_nat_key k;

	if (!target)
		return TC_ACT_UNSPEC;
	nat_key(&k, key->saddr, key->sport, key->target);
	if (bpf_skb_load_bytes(skb, 6, n.replica_mac, 6))
		return TC_ACT_UNSPEC;
	if (bpf_map_update_elem(&hedge_nat, &k, &n, BPF_ANY)) {
		if (st)
			st->nat_full++;
		return tcp_reset(skb, s, server, key->saddr, st);
	}
	if (st)
		st->hedges_won++;
	if (tcp_rewrite(skb, s->tcp_at, s->v6, 0, &target->primary)) {
		bpf_map_delete_elem(&hedge_nat, &k);
		return TC_ACT_SHOT;
	}
	return TC_ACT_UNSPEC;
}

/*
 * The watcher, for a SYN-ACK of a target with a replica (deliverable;
 * from the replica if `from_replica`), e its handshake's entry or NULL.
 * The first after the hedge wins (the replica's goes into hedge_nat);
 * the winner's repeated ones pass; the loser's is reset.
 */
static __always_inline int tcp_replica_synack(struct __sk_buff *skb,
					      const struct hedge_config *cfg,
					      const struct segment *s,
					      const __u8 *server,
					      const struct hedge_key *key,
					      struct hedge_entry *e,
					      int from_replica, __u64 now)
{
	struct hedge_stats *st;
	struct hedge_nat_key k;
	__u32 state, done;
	int tries, nat;

	st = stats(key->target);
	/* Past --window: the winner's repeated, the loser's (a slow server,
	 * its SYN-ACK lost and repeated a second later), or not ours. */
	if (!e) {
		nat_key(&k, key->saddr, key->sport, key->target);
		nat = bpf_map_lookup_elem(&hedge_nat, &k) != 0;
		if (nat && from_replica)
			return nat_in(skb, cfg, s, key->saddr, key->target);
		return nat ? tcp_reset(skb, s, server, key->saddr, st) :
			     TC_ACT_UNSPEC;
	}
	st = stats(e->target);
	for (tries = 0; tries < 2; tries++) {
		state = e->state;
		if (state == HEDGE_DONE)	/* no hedge was sent */
			return TC_ACT_UNSPEC;
		if (state == HEDGE_DONE_HEDGED) {
			nat_key(&k, key->saddr, key->sport, key->target);
			nat = bpf_map_lookup_elem(&hedge_nat, &k) != 0;
			if (nat == from_replica)	/* the winner's again */
				return nat ? nat_in(skb, cfg, s, key->saddr,
						    key->target) :
					     TC_ACT_UNSPEC;
			if (st)
				st->duplicates++;
			return tcp_reset(skb, s, server, key->saddr, st);
		}
		/* PENDING: no hedge went to the replica; not its answer. */
		if (state == HEDGE_PENDING && from_replica)
			return TC_ACT_UNSPEC;
		done = state == HEDGE_HEDGED ? HEDGE_DONE_HEDGED : HEDGE_DONE;
		if (__sync_val_compare_and_swap(&e->state, state, done) !=
		    state)
			continue;
		record_response(cfg, st, e, now);
		if (state != HEDGE_HEDGED)
			return TC_ACT_UNSPEC;
		if (!from_replica) {
			if (st)
				st->hedges_lost++;
			return TC_ACT_UNSPEC;
		}
		return replica_won(skb, cfg, s, server, key, st, now);
	}
	return TC_ACT_UNSPEC;
}

#endif
