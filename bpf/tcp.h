/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * bpf/tcp.h - TCP targets (--target IP:PORT/tcp): only the handshake is
 * hedged. A SYN (no ACK, no data) to a target is recorded in the
 * Scoreboard under its 4-tuple and the client's ISN (struct hedge_key:
 * pad HEDGE_PROTO_TCP, id the ISN) and put in the delay line as a UDP
 * request is; the Rescuer sends the copy if no SYN-ACK came by then. The
 * first SYN-ACK (ack == ISN + 1) passes; a second one for a handshake
 * that was hedged is the answer to the other SYN, and is dropped.
 *
 *   - The client's own SYN retransmissions (same 4-tuple, same ISN) find
 *     their entry and are neither counted nor hedged again.
 *   - A SYN with data (TCP Fast Open) passes unhedged and is counted
 *     (syn_data): a copy would hand the server the data twice over.
 *   - IPv4 options, IPv6 extension headers (hop-by-hop, routing,
 *     destination options, HEDGE_EXT_MAX at most: stepped over to find the
 *     segment, not kept): passed unhedged, counted (requests_unhedgeable).
 *     The delay lines keep TCP right after a fixed IP header.
 *   - Segments other than a SYN out or a SYN-ACK in cost a parse and a
 *     flags test: no map is looked at (the established connection's
 *     packets, every data segment, are never copied nor judged).
 *
 * Hooks: tcp_splitter() and tcp_watcher() where the UDP parse fails,
 * tcp_rescue_parse() where the Rescuer's does, tcp_park() where a SYN is
 * parked on the tick line (tick.h).
 */
#ifndef HEDGE_BPF_TCP_H
#define HEDGE_BPF_TCP_H

#include <linux/tcp.h>
#include "parse.h"
#include "adapt.h"
#include "tick.h"

/* In tcpnat.h: TCP targets with a replica. */
struct segment;
static __always_inline int tcp_nat_out(struct __sk_buff *skb,
				       const struct hedge_config *cfg,
				       const struct segment *s,
				       const __u8 *client, __u32 t);
static __always_inline int tcp_nat_in(struct __sk_buff *skb,
				      const struct hedge_config *cfg,
				      const struct segment *s,
				      const __u8 *server, const __u8 *client);
static __always_inline __s64 tcp_role(const struct hedge_config *cfg,
				       const __u8 *addr, __be16 port);
static __always_inline void nat_forget(const struct hedge_config *cfg,
				       const struct hedge_key *key);
static __always_inline int tcp_replica_synack(struct __sk_buff *skb,
					      const struct hedge_config *cfg,
					      const struct segment *s,
					      const __u8 *server,
					      const struct hedge_key *key,
					      struct hedge_entry *e,
					      int from_replica, __u64 now);
/* In hedge.bpf.c; below. */
static __always_inline int is_hedge(struct __sk_buff *skb);
static __always_inline int tcp_unpark(struct __sk_buff *skb);

#define TCPF_FIN	0x01
#define TCPF_SYN	0x02
#define TCPF_RST	0x04
#define TCPF_ACK	0x10
#define TCP_FLAGS_AT	13	/* the flags' byte in the TCP header */
/*
 * A SYN-ACK the server repeats on its own (the client's ACK lost) comes
 * its initial RTO, 1 s at least, after its first: only one sooner is the
 * answer to the hedge (or to the SYN it copied), dropped. A later one
 * passes, whatever --window.
 */
#define HEDGE_TCP_DUP_NS	1000000000ULL

/* A TCP segment over IPv4 or IPv6 (odd: IPv4 options, IPv6 extension
 * headers); its addresses go where the caller says (a key's, oriented its
 * way). */
struct segment {
	__be16 sport, dport;
	__be32 seq, ack;
	__be16 check;
	__u16 pad;
	__u32 flags;		/* FIN, SYN, RST, PSH, ACK, ... */
	__u32 tcp_at;		/* where TCP starts */
	__u32 tcp_len;		/* its header and data: the IP payload */
	__u32 data;		/* bytes of data past its header */
	__u32 v6, odd;		/* odd: IPv4 options, IPv6 extension headers */
};

/* The segment's TCP header th (in the packet, or a copy), its IP header
 * hlen bytes and the IP packet ip_len: the rest of *s, or -1. */
static __always_inline int seg_fill(struct segment *s,
				    const struct tcphdr *th, __u32 hlen,
				    __u32 ip_len)
{
	if (ip_len < hlen + th->doff * 4U || th->doff < 5)
		return -1;
	s->flags = ((__u8 *)th)[TCP_FLAGS_AT];
	s->sport = th->source;
	s->dport = th->dest;
	s->seq = th->seq;
	s->ack = th->ack_seq;
	s->check = th->check;
	s->tcp_at = sizeof(struct ethhdr) + hlen;
	s->tcp_len = ip_len - hlen;
	s->data = s->tcp_len - th->doff * 4U;
	return 0;
}

/*
 * IPv6 extension headers before TCP (the first `next`): hop-by-hop,
 * routing and destination options are stepped over, HEDGE_EXT_MAX at
 * most, to find the segment (read with bpf_skb_load_bytes(): its offset
 * varies), flagged odd. A fragment header or anything else: -1 (a
 * fragment is never a whole SYN to judge).
 */
static __always_inline int segment_ext6(struct __sk_buff *skb,
					struct segment *s, __u8 next,
					__u32 ip_len)
{
	struct { __u8 next, len; } ext;
	struct tcphdr th;
	__u32 at = HEDGE_UDP_AT6;
	int i;

	for (i = 0; i < HEDGE_EXT_MAX; i++) {
		if (next == IPPROTO_TCP)
			break;
		if (next != IPPROTO_HOPOPTS && next != IPPROTO_ROUTING &&
		    next != IPPROTO_DSTOPTS)
			return -1;
		if (bpf_skb_load_bytes(skb, at, &ext, sizeof(ext)))
			return -1;
		at += ((__u32)ext.len + 1) * 8;
		next = ext.next;
	}
	if (next != IPPROTO_TCP || bpf_skb_load_bytes(skb, at, &th, sizeof(th)))
		return -1;
	s->odd = 1;
	return seg_fill(s, &th, at - sizeof(struct ethhdr), ip_len);
}

/* The segment's headers, read from the linear data, its source address
 * into src and destination into dst; -1 if it is not TCP or they are
 * not there. */
static __always_inline int segment(struct __sk_buff *skb, struct segment *s,
				   __u8 *src, __u8 *dst)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	struct tcphdr *th;
	__u32 hlen, ip_len;

	if (skb->protocol == htons(ETH_P_IP)) {
		struct iphdr *ip = data + sizeof(struct ethhdr);

		if ((void *)(ip + 1) > data_end || ip->version != 4 ||
		    ip->protocol != IPPROTO_TCP || ip->ihl < 5 ||
		    ip->frag_off & htons(IP_MF | IP_OFFSET))
			return -1;
		hlen = (ip->ihl & 0xf) * 4;
		ip_len = htons(ip->tot_len);
		s->v6 = 0;
		s->odd = hlen != sizeof(*ip);
		map4(src, &ip->saddr);
		map4(dst, &ip->daddr);
		th = (void *)ip + hlen;
	} else if (skb->protocol == htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6 = data + sizeof(struct ethhdr);

		if ((void *)(ip6 + 1) > data_end || ip6->version != 6)
			return -1;
		hlen = sizeof(*ip6);
		ip_len = hlen + htons(ip6->payload_len);
		s->v6 = 1;
		s->odd = 0;
		__builtin_memcpy(src, &ip6->saddr, HEDGE_ADDR_LEN);
		__builtin_memcpy(dst, &ip6->daddr, HEDGE_ADDR_LEN);
		if (ip6->nexthdr != IPPROTO_TCP)
			return segment_ext6(skb, s, ip6->nexthdr, ip_len);
		th = (void *)(ip6 + 1);
	} else {
		return -1;
	}
	if ((void *)(th + 1) > data_end)
		return -1;
	return seg_fill(s, th, hlen, ip_len);
}

/* The TCP target `end` (its address and port) is, or -1. */
static __always_inline int tcp_target(const struct hedge_config *cfg,
				      const __u8 *addr, __be16 port)
{
	struct hedge_target_key tk = { .port = port, .proto = HEDGE_PROTO_TCP };
	__s64 t;

	__builtin_memcpy(tk.addr, addr, HEDGE_ADDR_LEN);
	t = target_role(cfg, &tk);
	if (t < 0 || (t & HEDGE_TARGET_REPLICA))
		return -1;
	return (int)(t & (HEDGE_MAX_TARGETS - 1));
}

/* A SYN to a TCP target (its segment *s read, its destination daddr),
 * reduced to its key (oriented client -> target) in *d. */
static __always_inline int syn_of(const struct hedge_config *cfg,
				  const struct segment *s, const __u8 *daddr,
				  struct datagram *d)
{
	int t;

	if ((s->flags & (TCPF_SYN | TCPF_ACK | TCPF_RST | TCPF_FIN)) != TCPF_SYN)
		return -1;
	t = tcp_target(cfg, daddr, s->dport);
	if (t < 0 || (s->v6 && (is_mapped(d->key.saddr) ||
				is_mapped(daddr))))
		return -1;
	d->key.sport = s->sport;
	d->key.target = (__u16)t;
	d->key.pad = HEDGE_PROTO_TCP;
	d->key.id = s->seq;
	d->target = (__u32)t;
	d->replica = 0;
	d->udp_at = s->tcp_at;
	d->v6 = (__u8)s->v6;
	d->odd = (__u8)s->odd;
	d->frag = WHOLE;
	d->pad = 0;
	return 0;
}

/* The same, from the skb: its segment into *s. */
static __always_inline int syn_key(struct __sk_buff *skb,
				   const struct hedge_config *cfg,
				   struct segment *s, struct datagram *d)
{
	__u8 daddr[HEDGE_ADDR_LEN];

	if (!(cfg->flags & HEDGE_F_TCP) ||
	    segment(skb, s, d->key.saddr, daddr))
		return -1;
	return syn_of(cfg, s, daddr, d);
}

/* The Rescuer's parse, for a TCP target's SYN: 0 and *d, or -1. */
static __always_inline int tcp_rescue_parse(struct __sk_buff *skb,
					    const struct hedge_config *cfg,
					    struct datagram *d)
{
	struct segment s;

	if (!(cfg->flags & HEDGE_F_TCP) ||
	    (cfg->delay_line == HEDGE_DL_TICK && tcp_unpark(skb)))
		return -1;
	return syn_key(skb, cfg, &s, d) || s.data || s.odd ? -1 : 0;
}

/*
 * The Splitter, for what is not a UDP request to a target (its d and
 * fresh, for the stack's sake): a SYN to a TCP target is a new
 * handshake, recorded and delayed as a request is.
 */
static __always_inline int tcp_splitter(struct __sk_buff *skb,
					const struct hedge_config *cfg,
					struct datagram *d,
					struct hedge_entry *fresh)
{
	__u8 daddr[HEDGE_ADDR_LEN];
	struct hedge_stats *st;
	struct segment s;
	__u64 now;
	int t, ret;

	if (!(cfg->flags & HEDGE_F_TCP) ||
	    segment(skb, &s, d->key.saddr, daddr))
		return TC_ACT_UNSPEC;
	if (syn_of(cfg, &s, daddr, d)) {
		/* Any other segment: through a replica? (tcpnat.h) */
		if (!(cfg->flags & HEDGE_F_TCP_NAT) ||
		    (s.flags & TCPF_SYN) ||
		    (t = tcp_target(cfg, daddr, s.dport)) < 0)
			return TC_ACT_UNSPEC;
		return tcp_nat_out(skb, cfg, &s, d->key.saddr, (__u32)t);
	}
	if (is_hedge(skb))
		return TC_ACT_UNSPEC;
	st = stats(d->target);
	if (s.data || s.odd) {
		if (st && s.data)
			st->syn_data++;
		else if (st)
			st->requests_unhedgeable++;
		return TC_ACT_UNSPEC;
	}
	now = bpf_ktime_get_ns();
	fresh->sent_ns = now;
	fresh->deadline_ns = deadline(cfg, d->target, now);
	fresh->state = HEDGE_PENDING;
	fresh->target = d->target;
	/* Taken: the client's own retransmission (same ISN). Not again.
	 * No room (its set full, the stash refused it): counted. */
	ret = score_insert(cfg, &d->key, fresh, now);
	if (ret) {
		if (st && ret < 0)
			st->evicted++;
		return TC_ACT_UNSPEC;
	}
	score_tend(cfg, &d->key, now);
	if (st)
		st->handshakes++;
	nat_forget(cfg, &d->key);
	deposit(cfg, d->target);
	to_delay_line(skb, cfg, &d->key, fresh, st, now, 1);
	return TC_ACT_UNSPEC;
}

/*
 * Would the stack take this SYN-ACK (no data)? For this host, IPv4's
 * header checksum right, and TCP's: verified by the kernel or device,
 * or holding only the pseudo-header's sum (CHECKSUM_PARTIAL, sent from
 * this host: a veth from another namespace), or summed whole here.
 */
static __always_inline int tcp_deliverable(struct __sk_buff *skb,
					   const struct segment *s,
					   const __u8 *src, const __u8 *dst)
{
	__u8 seg[60] = {};
	__u32 len;
	__s64 sum;

	if (skb->pkt_type != PACKET_HOST)
		return 0;
	if (!s->v6 && !ipv4_csum_ok(skb, s->tcp_at - sizeof(struct ethhdr)))
		return 0;
	if (bpf_csum_level(skb, BPF_CSUM_LEVEL_QUERY) >= 0)
		return 1;
	sum = pseudo_sum(src, dst, s->v6, s->tcp_len, IPPROTO_TCP);
	if (csum_fold32((__u64)sum) == s->check)
		return 1;
	len = bounded_len(s->tcp_len, sizeof(seg));
	if (!len || len & 3 || bpf_skb_load_bytes(skb, s->tcp_at, seg, len))
		return 0;
	sum = bpf_csum_diff(0, 0, (__be32 *)seg, len & 0x3c, (__u32)sum);
	return sum >= 0 && csum_fold32((__u64)sum) == 0xffff;
}

/*
 * The watcher, for what is not UDP: a SYN-ACK from a TCP target answers
 * its handshake. The first passes; a second within HEDGE_TCP_DUP_NS of
 * the SYN, where a hedge was sent, is the other SYN's answer: dropped
 * (the client's stack would answer it with an ACK: harmless, but noise).
 * Where no hedge was sent, a second one is the server's own or the answer
 * to the client's own retransmission: it passes, as without hedge.
 */
static __always_inline int tcp_watcher(struct __sk_buff *skb,
				       const struct hedge_config *cfg)
{
	struct hedge_stats *st;
	struct hedge_entry *e;
	__u8 server[HEDGE_ADDR_LEN] __attribute__((aligned(4)));	/* pseudo_sum() */
	struct hedge_key key;
	struct segment s;
	__u32 state, done;
	int t, tries;
	__s64 role;
	__u64 now;

	if (!(cfg->flags & HEDGE_F_TCP) ||
	    segment(skb, &s, server, key.saddr))
		return TC_ACT_UNSPEC;
	if ((s.flags & (TCPF_SYN | TCPF_ACK | TCPF_RST | TCPF_FIN)) !=
	    (TCPF_SYN | TCPF_ACK))
		return cfg->flags & HEDGE_F_TCP_NAT && !(s.flags & TCPF_SYN) ?
		       tcp_nat_in(skb, cfg, &s, server, key.saddr) :
		       TC_ACT_UNSPEC;
	role = tcp_role(cfg, server, s.sport);
	t = (int)(role & (HEDGE_MAX_TARGETS - 1));
	if (role < 0 || s.data || s.odd)
		return TC_ACT_UNSPEC;
	if (!tcp_deliverable(skb, &s, server, key.saddr)) {
		st = stats((__u32)t);
		if (st)
			st->responses_invalid++;
		return TC_ACT_UNSPEC;
	}
	key.sport = s.dport;
	key.target = (__u16)t;
	key.pad = HEDGE_PROTO_TCP;
	key.id = (__u32)htonl(htonl(s.ack) - 1);	/* the ISN */
	now = bpf_ktime_get_ns();
	e = live_entry(cfg, &key, now);
	if (cfg->flags & HEDGE_F_TCP_NAT && target_of(cfg, (__u32)t) &&
	    cfg->targets[t & (HEDGE_MAX_TARGETS - 1)].replica.port)
		return tcp_replica_synack(skb, cfg, &s, server, &key, e,
					  !!(role & HEDGE_TARGET_REPLICA),
					  now);
	if (!e || (role & HEDGE_TARGET_REPLICA))
		return TC_ACT_UNSPEC;
	st = stats(e->target);
	for (tries = 0; tries < 2; tries++) {
		state = e->state;
		if (state == HEDGE_DONE)
			return TC_ACT_UNSPEC;
		if (state == HEDGE_DONE_HEDGED) {
			if (since(now, e->sent_ns) >= HEDGE_TCP_DUP_NS)
				return TC_ACT_UNSPEC;
			/* Both SYNs were answered: the hedge was not needed
			 * after all (summed over CPUs, won comes out right). */
			if (st) {
				st->duplicates++;
				st->hedges_lost++;
				st->hedges_won--;
			}
			return TC_ACT_SHOT;
		}
		done = state == HEDGE_HEDGED ? HEDGE_DONE_HEDGED : HEDGE_DONE;
		if (__sync_val_compare_and_swap(&e->state, state, done) == state) {
			record_response(cfg, st, e, now);
			if (st && state == HEDGE_HEDGED)
				st->hedges_won++;
			return TC_ACT_UNSPEC;
		}
	}
	return TC_ACT_UNSPEC;
}

/*
 * The tick line's ticker sends each parked frame as a UDP datagram whose
 * checksum it makes whole (fix_udp_csum(): its verification is at the
 * verifier's limit, no branch can be added there). So a SYN is parked in
 * a form that survives that, and the Rescuer puts it back (tcp_unpark()):
 *   - its TCP checksum made whole here (taken at egress, it may hold only
 *     the pseudo-header's sum), the ticker's copy having nobody to finish
 *     it;
 *   - its sequence number (TCP bytes 4..7, where UDP's length and
 *     checksum lie) appended after the IP packet, 4 bytes the IP length
 *     does not cover, and bytes 4..5 made the segment's length: the
 *     ticker takes the segment for a datagram of that length and writes
 *     its "checksum" into bytes 6..7, which the Rescuer overwrites.
 * Only a SYN without data or IPv4 options is parked: its segment is its
 * header, 20..60 bytes, a multiple of 4. *len: the frame's length, 4 more
 * after. 0, or -1 (not parked).
 */
static __always_inline int tcp_park(__u8 *data, __u32 *len)
{
	struct { __be32 len, proto; } tail6;
	struct { __u8 zero, proto; __be16 len; } tail4;
	__u32 at, tcp_len, n;
	__s64 sum;
	__u16 check;

	if (data[12] == 0x86) {
		at = HEDGE_UDP_AT6;
		tcp_len = (__u32)data[18] << 8 | data[19];
	} else {
		at = HEDGE_UDP_AT4;
		tcp_len = ((__u32)data[16] << 8 | data[17]) - 20;
	}
	n = bounded_len(tcp_len, 60);
	if (n < 20 || n & 3 || at + n != *len)
		return -1;
	data[at + 16] = 0;
	data[at + 17] = 0;
	/* The pseudo-header: the addresses as they lie in the frame. */
	if (at == HEDGE_UDP_AT6) {
		tail6.len = htonl(n);
		tail6.proto = htonl(IPPROTO_TCP);
		sum = bpf_csum_diff(0, 0, (__be32 *)(data + 22), 32, 0);
		if (sum >= 0)
			sum = bpf_csum_diff(0, 0, (__be32 *)&tail6, 8,
					    (__u32)sum);
	} else {
		tail4.zero = 0;
		tail4.proto = IPPROTO_TCP;
		tail4.len = htons(n);
		sum = bpf_csum_diff(0, 0, (__be32 *)(data + 26), 8, 0);
		if (sum >= 0)
			sum = bpf_csum_diff(0, 0, (__be32 *)&tail4, 4,
					    (__u32)sum);
	}
	if (sum >= 0)
		sum = bpf_csum_diff(0, 0, (__be32 *)(data + at), n & 0x3c,
				    (__u32)sum);
	if (sum < 0)
		return -1;
	check = (__u16)~csum_fold32((__u64)(__u32)sum);
	__builtin_memcpy(data + at + 16, &check, 2);
	__builtin_memcpy(data + at + n, data + at + 4, 4);
	data[at + 4] = (__u8)(n >> 8);
	data[at + 5] = (__u8)n;
	*len = at + n + 4;
	return 0;
}

/*
 * On the tick line, the Rescuer's: a parked SYN back as it was (see
 * tcp_park()), before it is looked at; -1 if it is not one.
 */
static __always_inline int tcp_unpark(struct __sk_buff *skb)
{
	__u8 ip[20];
	__u32 at, end;
	__be32 seq;

	if (bpf_skb_load_bytes(skb, sizeof(struct ethhdr), ip, sizeof(ip)))
		return -1;
	if (skb->protocol == htons(ETH_P_IPV6) && ip[6] == IPPROTO_TCP) {
		at = HEDGE_UDP_AT6;
		end = at + ((__u32)ip[4] << 8 | ip[5]);
	} else if (skb->protocol == htons(ETH_P_IP) && ip[0] == 0x45 &&
		   ip[9] == IPPROTO_TCP) {
		at = HEDGE_UDP_AT4;
		end = sizeof(struct ethhdr) + ((__u32)ip[2] << 8 | ip[3]);
	} else {
		return -1;
	}
	if (end + 4 != skb->len ||
	    bpf_skb_load_bytes(skb, end, &seq, 4) ||
	    bpf_skb_store_bytes(skb, at + 4, &seq, 4, 0) ||
	    bpf_skb_change_tail(skb, end, 0))
		return -1;
	return 0;
}

#endif
