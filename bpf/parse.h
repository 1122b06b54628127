/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * bpf/parse.h - a UDP datagram to or from a target: its headers found,
 * reduced to its Scoreboard key (parse()), and its address and port
 * rewritten with the checksums kept right (rewrite()).
 */
#ifndef HEDGE_BPF_PARSE_H
#define HEDGE_BPF_PARSE_H

#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/udp.h>
#include <linux/in.h>
#include "maps.h"

#define IP_MF		0x2000
#define IP_OFFSET	0x1fff

/* A UDP datagram to or from a target, reduced to its Scoreboard key. */
struct datagram {
	struct hedge_key key;	/* oriented as the request: client -> target */
	__u32 target;
	__u32 replica;		/* it comes from the target's replica */
	__u32 udp_at;		/* HEDGE_UDP_AT4 or HEDGE_UDP_AT6 */
};

enum direction { REQUEST, RESPONSE };

/*
 * `len` as a size the verifier sees as 1..max, or 0 if it is not in that
 * range. Older verifiers (6.1) lose the lower bound of a plain check, so
 * it is n + 1 with n checked; the empty asm after the check keeps the
 * compiler from computing n + 1 (or reusing len) before it.
 */
static __always_inline __u32 bounded_len(__u32 len, __u32 max)
{
	__u32 n = len - 1;

	if (n >= max)
		return 0;
	barrier_var(n);
	return n + 1;
}

/* Where a datagram's addresses and UDP header are, in the packet. */
struct headers {
	const void *src, *dst;	/* addresses, 4 or 16 bytes */
	const struct udphdr *udp;
	__u32 udp_at;		/* HEDGE_UDP_AT4 or HEDGE_UDP_AT6 */
};

/*
 * Find an Ethernet/IPv4/UDP or Ethernet/IPv6/UDP datagram's headers; -1 if
 * it is not one hedge tracks: IP options, a fragment, an IPv6 extension
 * header (not followed), not UDP, headers outside the linear data.
 */
static __always_inline int find_headers(struct __sk_buff *skb,
					struct headers *h)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;

	if (skb->protocol == htons(ETH_P_IP)) {
		struct iphdr *ip = data + sizeof(struct ethhdr);

		h->udp = (void *)(ip + 1);
		if ((void *)(h->udp + 1) > data_end || ip->version != 4 ||
		    ip->ihl != 5 || ip->protocol != IPPROTO_UDP ||
		    (ip->frag_off & htons(IP_MF | IP_OFFSET)))
			return -1;
		h->src = &ip->saddr;
		h->dst = &ip->daddr;
		h->udp_at = HEDGE_UDP_AT4;
		return 0;
	}
	if (skb->protocol == htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6 = data + sizeof(struct ethhdr);

		h->udp = (void *)(ip6 + 1);
		if ((void *)(h->udp + 1) > data_end || ip6->version != 6 ||
		    ip6->nexthdr != IPPROTO_UDP)
			return -1;
		h->src = &ip6->saddr;
		h->dst = &ip6->daddr;
		h->udp_at = HEDGE_UDP_AT6;
		return 0;
	}
	return -1;
}

/* An address as hedge keeps it: IPv6, or IPv4 mapped (::ffff:a.b.c.d). */
static __always_inline void put_addr(__u8 *out, const void *addr,
				     const struct headers *h)
{
	if (h->udp_at == HEDGE_UDP_AT6) {
		__builtin_memcpy(out, addr, HEDGE_ADDR_LEN);
		return;
	}
	__builtin_memset(out, 0, 10);
	out[10] = 0xff;
	out[11] = 0xff;
	__builtin_memcpy(out + 12, addr, 4);
}

/* The target's entry in the config; NULL past the table. */
static __always_inline const struct hedge_target *
target_of(const struct hedge_config *cfg, __u32 t)
{
	if (t >= HEDGE_MAX_TARGETS)
		return 0;
	return &cfg->targets[t];
}

/* Key the datagram as an answer from target t's replica: to t's primary. */
static __always_inline int as_replica_of(const struct hedge_config *cfg,
					 struct datagram *d, __u32 t)
{
	const struct hedge_target *target = target_of(cfg, t);

	if (!target)
		return -1;
	__builtin_memcpy(d->key.daddr, target->primary.addr, HEDGE_ADDR_LEN);
	d->key.dport = target->primary.port;
	d->target = t;
	d->replica = 1;
	return 0;
}

/*
 * Parse a datagram hedge can track, to (REQUEST) or from (RESPONSE) a
 * target, into its Scoreboard key. Anything else -- see find_headers(),
 * not a target, a hedge on its way to a replica, a payload too short to
 * hold the ID -- returns -1 and is passed untouched by the caller.
 */
static __always_inline int parse(struct __sk_buff *skb,
				 const struct hedge_config *cfg,
				 enum direction dir, struct datagram *d)
{
	struct hedge_target_key tk = {};
	__u32 *target, id_len, udp_len;
	struct headers h;

	if (find_headers(skb, &h))
		return -1;
	/* The target end, looked up before anything else is copied: most
	 * traffic is not to (or from) a target. */
	put_addr(tk.addr, dir == REQUEST ? h.dst : h.src, &h);
	tk.port = dir == REQUEST ? h.udp->dest : h.udp->source;
	target = bpf_map_lookup_elem(&hedge_targets, &tk);
	if (!target)
		return -1;
	d->replica = !!(*target & HEDGE_TARGET_REPLICA);
	d->target = *target & ~HEDGE_TARGET_REPLICA;
	d->udp_at = h.udp_at;
	udp_len = htons(h.udp->len);

	/* The key, oriented as the request: client -> target. */
	d->key.pad = 0;
	put_addr(d->key.saddr, dir == REQUEST ? h.src : h.dst, &h);
	d->key.sport = dir == REQUEST ? h.udp->source : h.udp->dest;
	if (d->replica) {
		/* A request to a replica is a hedge going out; a response
		 * from one is keyed as its request was: to the primary. */
		if (dir == REQUEST || as_replica_of(cfg, d, d->target))
			return -1;
	} else {
		__builtin_memcpy(d->key.daddr, tk.addr, HEDGE_ADDR_LEN);
		d->key.dport = tk.port;
	}

	id_len = cfg->id_len;
	if (udp_len < sizeof(struct udphdr) + cfg->id_offset + id_len)
		return -1;
	d->key.id = 0;
	if (id_len) {
		id_len = bounded_len(id_len, HEDGE_ID_MAX_LEN);
		/* This also fails if the datagram is truncated. */
		if (!id_len || bpf_skb_load_bytes(skb, d->udp_at +
						  sizeof(struct udphdr) +
						  cfg->id_offset,
						  &d->key.id, id_len))
			return -1;
	}
	return 0;
}

/*
 * The UDP checksum over an IPv6 pseudo-header change. BPF_F_IPV6 (Linux
 * 6.16) tells the kernel the change is IPv6's, so that it leaves a
 * CHECKSUM_COMPLETE skb's csum alone, as it must; kernels before reject
 * the flag (EINVAL, nothing changed) and get the call without it, as they
 * always did. Defined here too: older UAPI headers lack it.
 */
#define HEDGE_F_IPV6	(1ULL << 7)	/* BPF_F_IPV6 */

static __always_inline long l4_csum_v6(struct __sk_buff *skb, __u32 at,
				       __s64 diff)
{
	__u64 flags = BPF_F_PSEUDO_HDR | BPF_F_MARK_MANGLED_0;

	if (!bpf_l4_csum_replace(skb, at, 0, diff, flags | HEDGE_F_IPV6))
		return 0;
	return bpf_l4_csum_replace(skb, at, 0, diff, flags);
}

/*
 * Rewrite the datagram's destination (dst) or source to `to`, keeping the
 * checksums right: the IPv4 header's, and UDP's over the pseudo-header
 * and the port. bpf_l4_csum_replace() copes with CHECKSUM_PARTIAL, where
 * the field holds only the pseudo-header's sum.
 */
static __always_inline int rewrite(struct __sk_buff *skb,
				   const struct datagram *d, int dst,
				   const struct hedge_target_key *to)
{
	__u32 csum_at = d->udp_at + offsetof(struct udphdr, check);
	__u32 port_at = d->udp_at + (dst ? offsetof(struct udphdr, dest) :
				     offsetof(struct udphdr, source));
	__u8 old[HEDGE_ADDR_LEN];
	__u32 at, len = d->udp_at == HEDGE_UDP_AT6 ? 16 : 4;
	__be32 old4, new4;
	__be16 old_port;
	__s64 diff;

	if (len == 16) {
		at = sizeof(struct ethhdr) + (dst ?
			offsetof(struct ipv6hdr, daddr) :
			offsetof(struct ipv6hdr, saddr));
		if (bpf_skb_load_bytes(skb, at, old, 16))
			return -1;
		diff = bpf_csum_diff((__be32 *)old, 16, (__be32 *)to->addr, 16,
				     0);
		if (diff < 0 || l4_csum_v6(skb, csum_at, diff) ||
		    bpf_skb_store_bytes(skb, at, to->addr, 16, 0))
			return -1;
	} else {
		at = sizeof(struct ethhdr) + (dst ?
			offsetof(struct iphdr, daddr) :
			offsetof(struct iphdr, saddr));
		__builtin_memcpy(&new4, to->addr + 12, 4);
		if (bpf_skb_load_bytes(skb, at, &old4, 4) ||
		    bpf_l4_csum_replace(skb, csum_at, old4, new4,
					BPF_F_PSEUDO_HDR | BPF_F_MARK_MANGLED_0 | 4) ||
		    bpf_l3_csum_replace(skb, sizeof(struct ethhdr) +
					offsetof(struct iphdr, check),
					old4, new4, 4) ||
		    bpf_skb_store_bytes(skb, at, &new4, 4, 0))
			return -1;
	}
	if (bpf_skb_load_bytes(skb, port_at, &old_port, 2) ||
	    bpf_l4_csum_replace(skb, csum_at, old_port, to->port,
				BPF_F_MARK_MANGLED_0 | 2) ||
	    bpf_skb_store_bytes(skb, port_at, &to->port, 2, 0))
		return -1;
	return 0;
}

#endif
