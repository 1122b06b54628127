/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * bpf/safe.h - only a request safe to send twice is hedged (unsafe(), in
 * the Splitter), and a hedge leaves dressed as the cheap copy it is
 * (dress(), in the Rescuer: it sends every hedge of both delay lines,
 * netem's clones and the ticker's copies alike).
 */
#ifndef HEDGE_BPF_SAFE_H
#define HEDGE_BPF_SAFE_H

#include "parse.h"

/* The Scoreboard's, in hedge.bpf.c. */
static __always_inline struct hedge_stats *stats(__u32 target);

/*
 * Does the request carry the config's match (struct hedge_config): its
 * match_len bytes from match_offset on, within the UDP length (what lies
 * past it is not the request's) and within the packet, masked, equal
 * match_bytes? Always, without a match. A request too short for them
 * does not.
 */
static __always_inline int matches(struct __sk_buff *skb,
				   const struct hedge_config *cfg,
				   const struct datagram *d)
{
	__u64 got[2] = {}, want[2], mask[2];
	__u32 len = cfg->match_len, off = cfg->match_offset;
	__be16 ulen;

	if (!len)
		return 1;
	len = bounded_len(len, HEDGE_MATCH_MAX);
	if (!len || off > HEDGE_ID_MAX_OFFSET ||
	    bpf_skb_load_bytes(skb, d->udp_at + offsetof(struct udphdr, len),
			       &ulen, sizeof(ulen)) ||
	    htons(ulen) < sizeof(struct udphdr) + off + len ||
	    bpf_skb_load_bytes(skb, d->udp_at + sizeof(struct udphdr) + off,
			       got, len))
		return 0;
	/* Past len, got is 0 and so is the mask: only len bytes count. */
	__builtin_memcpy(want, cfg->match_bytes, sizeof(want));
	__builtin_memcpy(mask, cfg->match_mask, sizeof(mask));
	return !(((got[0] ^ want[0]) & mask[0]) |
		 ((got[1] ^ want[1]) & mask[1]));
}

/* A request that is not to be hedged: counted (requests_unsafe), 1. */
static __always_inline int unsafe(struct __sk_buff *skb,
				  const struct hedge_config *cfg,
				  const struct datagram *d)
{
	struct hedge_stats *st;

	if (matches(skb, cfg, d))
		return 0;
	st = stats(d->target);
	if (st)
		st->requests_unsafe++;
	return 1;
}

/*
 * Dress a hedge (never an original: only the Rescuer calls this) as the
 * config says: skb->priority, and the DSCP in its IP header with the ECN
 * bits kept. The DSCP is in no UDP checksum; IPv4's header checksum is
 * updated for it. A hedge is never odd (see unhedgeable(), hedge.bpf.c):
 * its IP header is right after Ethernet. -1 if half done: the caller
 * drops it.
 */
static __always_inline int dress(struct __sk_buff *skb,
				 const struct hedge_config *cfg,
				 const struct datagram *d)
{
	__u32 at = sizeof(struct ethhdr);
	__u16 dscp = cfg->hedge_dscp & HEDGE_DSCP_MAX, word;
	__be16 old, new;

	if (cfg->hedge_dress & HEDGE_DRESS_PRIORITY)
		skb->priority = cfg->hedge_priority;
	if (!(cfg->hedge_dress & HEDGE_DRESS_DSCP))
		return 0;
	if (bpf_skb_load_bytes(skb, at, &old, sizeof(old)))
		return -1;
	word = htons(old);
	/* IPv6: version 4 bits, traffic class 8 (DSCP 6, ECN 2), flow
	 * label; IPv4: version, IHL, then TOS (DSCP 6, ECN 2). */
	if (d->v6)
		word = (word & ~0x0fc0) | dscp << 6;
	else
		word = (word & ~0x00fc) | dscp << 2;
	new = htons(word);
	if (new == old)
		return 0;
	if (!d->v6 && bpf_l3_csum_replace(skb, at + offsetof(struct iphdr,
							     check),
					  old, new, sizeof(new)))
		return -1;
	return bpf_skb_store_bytes(skb, at, &new, sizeof(new), 0) ? -1 : 0;
}

#endif
