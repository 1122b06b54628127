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
#include <linux/in6.h>
#include <linux/if_packet.h>
#include "maps.h"

#define IP_MF		0x2000
#define IP_OFFSET	0x1fff

/* Where a datagram is cut, if it is a fragment. */
enum fragment { WHOLE = 0, FIRST_FRAGMENT = 1, LATER_FRAGMENT = 2 };

/* A UDP datagram to or from a target, reduced to its Scoreboard key. */
struct datagram {
	struct hedge_key key;	/* oriented as the request: client -> target */
	__u32 target;
	__u32 replica;		/* it comes from the target's replica */
	__u32 udp_at;		/* where its UDP header is in the packet */
	__u8 v6;		/* IPv6, else IPv4 */
	__u8 odd;		/* IPv4 options or IPv6 extension headers: UDP
				   is not at HEDGE_UDP_AT4/AT6 */
	__u8 frag;		/* enum fragment */
	__u8 pad;
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

/* An IPv4 address as hedge keeps it: mapped (::ffff:a.b.c.d). */
static __always_inline void map4(__u8 *out, const void *addr)
{
	__builtin_memset(out, 0, 10);
	out[10] = 0xff;
	out[11] = 0xff;
	__builtin_memcpy(out + 12, addr, 4);
}

/* Where a datagram's headers are, in the packet. */
struct headers {
	/* Addresses as hedge keeps them (IPv6, or IPv4 mapped), copied
	 * where the verifier knows the family: 6.1's forgets a spilled flag,
	 * and with it how far a pointer into the packet may be read. */
	__u8 src[HEDGE_ADDR_LEN], dst[HEDGE_ADDR_LEN];
	struct udphdr udp;	/* a copy; not read for a LATER_FRAGMENT */
	__u32 udp_at;		/* where UDP starts (its fragmentable part) */
	__u32 ip_len;		/* IPv4 total length, IPv6 40 + payload length */
	__u32 frag_id;		/* a fragment's IP ID or IPv6 identification */
	/* Whole words: the verifier keeps a spilled word's value exact, and
	 * must know v6 to know how far src and dst may be read. */
	__u32 v6, odd, frag;
	__u32 last;		/* a fragment without MF */
};

/* IPv6 extension headers followed to find UDP, at most. */
#define HEDGE_EXT_MAX	4

/*
 * IPv6: follow hop-by-hop, routing, destination options and fragment
 * headers from `at` (first one `next`) to UDP; 0, or -1 if UDP is not
 * reached within HEDGE_EXT_MAX of them. A fragment header says which
 * fragment this is.
 */
static __always_inline int walk_ext(struct __sk_buff *skb, __u8 next,
				    __u32 at, struct headers *h)
{
	struct { __u8 next, len; __be16 off; __be32 id; } ext;
	int i;

	for (i = 0; i < HEDGE_EXT_MAX; i++) {
		if (next == IPPROTO_UDP)
			break;
		if (next != IPPROTO_HOPOPTS && next != IPPROTO_ROUTING &&
		    next != IPPROTO_DSTOPTS && next != IPPROTO_FRAGMENT)
			return -1;
		if (bpf_skb_load_bytes(skb, at, &ext, sizeof(ext)))
			return -1;
		if (next == IPPROTO_FRAGMENT) {
			/* An atomic fragment (offset 0, no MF) is whole. */
			h->frag = ext.off & htons(0xfff8) ? LATER_FRAGMENT :
				  ext.off & htons(1) ? FIRST_FRAGMENT : WHOLE;
			h->last = !(ext.off & htons(1));
			h->frag_id = ext.id;
			at += 8;
		} else {
			at += ((__u32)ext.len + 1) * 8;
		}
		next = ext.next;
	}
	if (next != IPPROTO_UDP)
		return -1;
	h->udp_at = at;
	return 0;
}

/*
 * Find an Ethernet/IPv4/UDP or Ethernet/IPv6/UDP datagram's headers; -1 if
 * it is not UDP over IP or its headers cannot be read. IPv4 options and
 * IPv6 extension headers (up to HEDGE_EXT_MAX) are stepped over and
 * flagged `odd`; a fragment is flagged, and a LATER_FRAGMENT has no UDP
 * header (h->udp is not read). The common case -- no options, no
 * extension headers -- reads the linear data only.
 */
static __always_inline int find_headers(struct __sk_buff *skb,
					struct headers *h)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	const struct udphdr *udp;
	__u32 hlen;

	h->odd = 0;
	h->frag = WHOLE;
	h->last = 0;
	if (skb->protocol == htons(ETH_P_IP)) {
		struct iphdr *ip = data + sizeof(struct ethhdr);

		if ((void *)(ip + 1) > data_end || ip->version != 4 ||
		    ip->protocol != IPPROTO_UDP || ip->ihl < 5)
			return -1;
		h->v6 = 0;
		map4(h->src, &ip->saddr);
		map4(h->dst, &ip->daddr);
		h->ip_len = htons(ip->tot_len);
		if (ip->frag_off & htons(IP_MF | IP_OFFSET)) {
			h->frag_id = ip->id;
			h->last = !(ip->frag_off & htons(IP_MF));
			if (ip->frag_off & htons(IP_OFFSET)) {
				h->frag = LATER_FRAGMENT;
				return 0;
			}
			h->frag = FIRST_FRAGMENT;
		}
		hlen = (ip->ihl & 0xf) * 4;
		h->odd = hlen != sizeof(*ip);
		h->udp_at = sizeof(struct ethhdr) + hlen;
		udp = (void *)ip + hlen;
		if ((void *)(udp + 1) > data_end)
			return -1;
		h->udp = *udp;
		return 0;
	}
	if (skb->protocol == htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6 = data + sizeof(struct ethhdr);

		if ((void *)(ip6 + 1) > data_end || ip6->version != 6)
			return -1;
		h->v6 = 1;
		__builtin_memcpy(h->src, &ip6->saddr, HEDGE_ADDR_LEN);
		__builtin_memcpy(h->dst, &ip6->daddr, HEDGE_ADDR_LEN);
		h->ip_len = sizeof(*ip6) + htons(ip6->payload_len);
		if (ip6->nexthdr == IPPROTO_UDP) {
			udp = (void *)(ip6 + 1);
			if ((void *)(udp + 1) > data_end)
				return -1;
			h->udp = *udp;
			h->udp_at = HEDGE_UDP_AT6;
			return 0;
		}
		h->odd = 1;
		if (walk_ext(skb, ip6->nexthdr, HEDGE_UDP_AT6, h))
			return -1;
		if (h->frag == LATER_FRAGMENT)
			return 0;
		return bpf_skb_load_bytes(skb, h->udp_at, &h->udp,
					  sizeof(h->udp)) ? -1 : 0;
	}
	return -1;
}

/* An IPv4-mapped IPv6 address (::ffff:a.b.c.d): not IPv4 on the wire. */
static __always_inline int is_mapped(const void *addr)
{
	const __u32 *w = addr;

	return !w[0] && !w[1] && w[2] == htonl(0xffff);
}

/* The target's entry in the config; NULL past the table. */
static __always_inline const struct hedge_target *
target_of(const struct hedge_config *cfg, __u32 t)
{
	if (t >= HEDGE_MAX_TARGETS)
		return 0;
	/* The index tested is the one added: 6.1's verifier loses the
	 * bound of a copy clang may reload from the stack. */
	barrier_var(t);
	return &cfg->targets[t];
}

/* Two servers the same: 20 bytes, in 16-bit words (a key on the stack
 * is 2-byte aligned). */
static __always_inline int same_server(const struct hedge_target_key *a,
				       const struct hedge_target_key *b)
{
	const __u16 *x = (const void *)a, *y = (const void *)b;
	__u32 d = 0, i;

#pragma unroll
	for (i = 0; i < sizeof(*a) / 2; i++)
		d |= x[i] ^ y[i];
	return !d;
}

/*
 * The role of a server (address, port, protocol) among the targets: its
 * index, flagged HEDGE_TARGET_REPLICA for a replica; -1 for none. Found
 * in the config's index (hedge_server_slot(), hedge.h): most traffic's
 * slot is empty; one that names a server is compared whole; only one
 * that several share is looked up in hedge_targets.
 */
static __always_inline __s64 target_role(const struct hedge_config *cfg,
					 const struct hedge_target_key *tk)
{
	__u32 v = cfg->servers[hedge_server_slot(tk)], t;
	const struct hedge_target_key *k;
	const __u32 *role;

	if (v == HEDGE_SERVER_NONE)
		return -1;
	if (v >= HEDGE_SERVER_REPLICA + HEDGE_MAX_TARGETS) {
		role = bpf_map_lookup_elem(&hedge_targets, tk);
		return role ? (__s64)*role : -1;
	}
	t = (v - HEDGE_SERVER_PRIMARY) & (HEDGE_MAX_TARGETS - 1);
	k = v >= HEDGE_SERVER_REPLICA ? &cfg->targets[t].replica :
					&cfg->targets[t].primary;
	if (!same_server(k, tk))
		return -1;
	return v >= HEDGE_SERVER_REPLICA ? (__s64)(t | HEDGE_TARGET_REPLICA) :
					   (__s64)t;
}

/* Key the datagram as an answer from target t's replica: to t's primary. */
static __always_inline int as_replica_of(const struct hedge_config *cfg,
					 struct datagram *d, __u32 t)
{
	const struct hedge_target *target = target_of(cfg, t);

	if (!target)
		return -1;
	d->key.target = (__u16)t;
	d->target = t;
	d->replica = 1;
	return 0;
}

/*
 * Reduce a datagram whose headers were found (not a LATER_FRAGMENT), to
 * (REQUEST) or from (RESPONSE) a target, to its Scoreboard key. Anything
 * else -- not a target, a hedge on its way to a replica, IPv4-mapped
 * addresses in an IPv6 header -- returns -1, and a target's datagram whose
 * ID is not within both the UDP length and the IP payload -2: the caller
 * passes either untouched.
 */
static __always_inline int parse_found(struct __sk_buff *skb,
				       const struct hedge_config *cfg,
				       enum direction dir,
				       const struct headers *h,
				       struct datagram *d)
{
	struct hedge_target_key tk = {};
	__u32 id_len, id_end;
	__s64 role;

	/* The target end, looked up before anything else is copied: most
	 * traffic is not to (or from) a target. */
	__builtin_memcpy(tk.addr, dir == REQUEST ? h->dst : h->src,
			 HEDGE_ADDR_LEN);
	tk.port = dir == REQUEST ? h->udp.dest : h->udp.source;
	role = target_role(cfg, &tk);
	if (role < 0)
		return -1;
	d->replica = !!(role & HEDGE_TARGET_REPLICA);
	d->target = (__u32)role & ~HEDGE_TARGET_REPLICA;
	d->udp_at = h->udp_at;
	d->v6 = h->v6;
	d->odd = h->odd;
	d->frag = h->frag;
	d->pad = 0;

	/* The key, oriented as the request: client -> target. */
	d->key.pad = 0;
	__builtin_memcpy(d->key.saddr, dir == REQUEST ? h->src : h->dst,
			 HEDGE_ADDR_LEN);
	d->key.sport = dir == REQUEST ? h->udp.source : h->udp.dest;
	if (h->v6 && (is_mapped(h->src) || is_mapped(h->dst)))
		return -1;
	if (d->replica) {
		/* A request to a replica is a hedge going out; a response
		 * from one is keyed as its request was: to the primary. */
		if (dir == REQUEST || as_replica_of(cfg, d, d->target))
			return -1;
	} else {
		d->key.target = (__u16)d->target;
	}

	/* The ID lies within the UDP length and the IP payload (the stack
	 * trims what is past either). */
	id_len = cfg->id_len;
	id_end = sizeof(struct udphdr) + cfg->id_offset + id_len;
	if (htons(h->udp.len) < id_end ||
	    h->udp_at + id_end > sizeof(struct ethhdr) + h->ip_len)
		return -2;
	d->key.id = 0;
	if (id_len) {
		id_len = bounded_len(id_len, HEDGE_ID_MAX_LEN);
		/* This also fails if the datagram is truncated. */
		if (!id_len || bpf_skb_load_bytes(skb, d->udp_at +
						  sizeof(struct udphdr) +
						  cfg->id_offset,
						  &d->key.id, id_len))
			return -2;
	}
	return 0;
}

/* find_headers() and parse_found(): -1 for a later fragment too. */
static __always_inline int parse(struct __sk_buff *skb,
				 const struct hedge_config *cfg,
				 enum direction dir, struct datagram *d)
{
	struct headers h;

	if (find_headers(skb, &h) || h.frag == LATER_FRAGMENT)
		return -1;
	return parse_found(skb, cfg, dir, &h, d) ? -1 : 0;
}

/* ---- would the stack deliver it? ------------------------------------ */

static __always_inline __u32 csum_fold32(__u64 sum)
{
	sum = (sum & 0xffffffff) + (sum >> 32);
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (__u32)sum;
}

/*
 * The IPv4 header's checksum is right (it sums to 0xffff). Without
 * options, summed in place (no copy, no helper call: the watcher's every
 * response); with them, copied and summed by the kernel.
 */
static __always_inline int ipv4_csum_ok(struct __sk_buff *skb, __u32 hlen)
{
	const __u32 *w = (void *)(long)skb->data + sizeof(struct ethhdr);
	__u8 hdr[60] = {};
	__u64 words;
	__s64 sum;

	if (hlen == sizeof(struct iphdr) &&
	    (void *)(w + 5) <= (void *)(long)skb->data_end) {
		words = (__u64)w[0] + w[1] + w[2] + w[3] + w[4];
		/* < 2^35: two folds bring it within 32 bits. */
		words = (words & 0xffffffff) + (words >> 32);
		words = (words & 0xffffffff) + (words >> 32);
		return csum_fold32(words) == 0xffff;
	}
	hlen = bounded_len(hlen, sizeof(hdr));
	if (hlen < 20 || hlen & 3 ||
	    bpf_skb_load_bytes(skb, sizeof(struct ethhdr), hdr, hlen))
		return 0;
	sum = bpf_csum_diff(0, 0, (__be32 *)hdr, hlen & 0x3c, 0);
	return sum >= 0 && csum_fold32((__u64)sum) == 0xffff;
}

/*
 * The sum of UDP's or TCP's pseudo-header (protocol `proto`, `len` bytes
 * of L4) for addresses as hedge keeps them (IPv4 mapped: its address the
 * last word), 4-byte aligned (the verifier wants a stack word aligned), in
 * 32-bit words (a one's complement sum does not care where each 16-bit
 * word lies), folded to under 2^32 (it seeds bpf_csum_diff()): the
 * watcher's every response sums it, where a helper call over a copy cost
 * more than the sum. Never negative: no error to test.
 */
static __always_inline __s64 pseudo_sum(const __u8 *src, const __u8 *dst,
					__u32 v6, __u32 len, __u32 proto)
{
	const __u32 *s = (const __u32 *)src, *d = (const __u32 *)dst;
	__u64 sum = (__u64)htonl(len) + htonl(proto) + s[3] + d[3];

	if (v6)
		sum += (__u64)s[0] + s[1] + s[2] + d[0] + d[1] + d[2];
	/* < 2^36: two folds bring it under 2^32. */
	sum = (sum & 0xffffffff) + (sum >> 32);
	sum = (sum & 0xffffffff) + (sum >> 32);
	return (__s64)sum;
}

/* Chunks the UDP checksum is summed in: up to a 9000-byte jumbo frame. */
#define HEDGE_CSUM_CHUNKS	((9000 + HEDGE_CSUM_CHUNK - 1) / HEDGE_CSUM_CHUNK)

/*
 * The whole UDP checksum is right: `ulen` bytes from UDP's header on, in
 * HEDGE_CSUM_CHUNK pieces copied to a per-CPU scratch (the datagram may
 * not all be in the linear data), each padded with zeros to 4 bytes.
 */
static __always_inline int udp_csum_ok(struct __sk_buff *skb,
				       const struct headers *h, __u32 ulen,
				       __s64 sum)
{
	struct hedge_scratch *s;
	__u32 zero = 0, i, off, n;

	s = bpf_map_lookup_elem(&hedge_scratch, &zero);
	if (!s)
		return 0;
	for (i = 0; i < HEDGE_CSUM_CHUNKS; i++) {
		off = i * HEDGE_CSUM_CHUNK;
		if (off >= ulen || sum < 0)
			break;
		n = ulen - off;
		if (n > HEDGE_CSUM_CHUNK)
			n = HEDGE_CSUM_CHUNK;
		n = bounded_len(n, HEDGE_CSUM_CHUNK);
		if (!n)
			return 0;
		*(__u32 *)(s->b + (n & ~3U)) = 0;
		if (bpf_skb_load_bytes(skb, h->udp_at + off, s->b, n))
			return 0;
		sum = bpf_csum_diff(0, 0, (__be32 *)s->b, (n + 3) & ~3U,
				    (__u32)sum);
	}
	return sum >= 0 && csum_fold32((__u64)(__u32)sum) == 0xffff;
}

/*
 * Would the local stack deliver this datagram to its socket? Only then may
 * it answer a request. For this host (not OTHERHOST or BROADCAST); its IP
 * lengths within the frame; IPv4's header checksum; UDP's length at least
 * its header and within the IP payload (what lies past either is trimmed
 * by the stack, so the checksum covers the UDP length only); and UDP's
 * checksum:
 *   - trusted if the kernel or device verified it (CHECKSUM_UNNECESSARY:
 *     bpf_csum_level() answers);
 *   - IPv4's 0 means none, and the stack takes it; IPv6's 0 it drops;
 *   - a field holding only the pseudo-header's sum is how a locally sent
 *     CHECKSUM_PARTIAL skb looks (lo, a veth from another namespace), and
 *     is taken as such: a packet forged like that on a physical NIC is
 *     the one case let through that the stack would drop;
 *   - otherwise summed whole.
 * A first fragment has the ports and the ID but not the whole datagram:
 * its checksum cannot be verified here, and is not.
 */
static __always_inline int deliverable(struct __sk_buff *skb,
				       const struct headers *h)
{
	__u32 frame = skb->len - sizeof(struct ethhdr);
	__u32 hdr_len = h->udp_at - sizeof(struct ethhdr);
	__u32 ulen = htons(h->udp.len);
	__s64 ph;

	if (skb->pkt_type != PACKET_HOST || skb->len < sizeof(struct ethhdr))
		return 0;
	if (h->ip_len > frame || h->ip_len < hdr_len + sizeof(struct udphdr))
		return 0;
	if (!h->v6 && !ipv4_csum_ok(skb, hdr_len))
		return 0;
	if (h->frag)
		return 1;
	if (ulen < sizeof(struct udphdr) || ulen > h->ip_len - hdr_len)
		return 0;
	if (bpf_csum_level(skb, BPF_CSUM_LEVEL_QUERY) >= 0)
		return 1;
	if (!h->udp.check)
		return !h->v6;
	ph = pseudo_sum(h->src, h->dst, h->v6, ulen, IPPROTO_UDP);
	if (csum_fold32((__u64)ph) == h->udp.check)
		return 1;
	return udp_csum_ok(skb, h, ulen, ph);
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
 * Rewrite a UDP datagram's or TCP segment's destination (dst) or source
 * to `to`, keeping the checksums right: the IPv4 header's, and the L4
 * checksum at csum_at over the pseudo-header and the port. Both protocols
 * start with the two ports, so the L4 header at l4_at is read as UDP's.
 * mangled0: BPF_F_MARK_MANGLED_0 for UDP (whose 0 means "no checksum"),
 * 0 for TCP. bpf_l4_csum_replace() copes with CHECKSUM_PARTIAL, where the
 * field holds only the pseudo-header's sum.
 */
static __always_inline int rewrite_l4(struct __sk_buff *skb, __u32 l4_at,
				      __u32 csum_at, __u32 v6, int dst,
				      const struct hedge_target_key *to,
				      const __u64 mangled0)
{
	__u32 port_at = l4_at + (dst ? offsetof(struct udphdr, dest) :
				 offsetof(struct udphdr, source));
	__u8 old[HEDGE_ADDR_LEN];
	__be32 old4, new4;
	__be16 old_port;
	__s64 diff;
	__u32 at;

	if (v6) {
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
					BPF_F_PSEUDO_HDR | mangled0 | 4) ||
		    bpf_l3_csum_replace(skb, sizeof(struct ethhdr) +
					offsetof(struct iphdr, check),
					old4, new4, 4) ||
		    bpf_skb_store_bytes(skb, at, &new4, 4, 0))
			return -1;
	}
	if (bpf_skb_load_bytes(skb, port_at, &old_port, 2) ||
	    bpf_l4_csum_replace(skb, csum_at, old_port, to->port,
				mangled0 | 2) ||
	    bpf_skb_store_bytes(skb, port_at, &to->port, 2, 0))
		return -1;
	return 0;
}

/* The datagram's destination (dst) or source made `to`'s. */
static __always_inline int rewrite(struct __sk_buff *skb,
				   const struct datagram *d, int dst,
				   const struct hedge_target_key *to)
{
	return rewrite_l4(skb, d->udp_at,
			  d->udp_at + offsetof(struct udphdr, check), d->v6,
			  dst, to, BPF_F_MARK_MANGLED_0);
}

#endif
