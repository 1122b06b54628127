// SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
/*
 * lossy.bpf.c - a lossy link for tests/dns.sh, on a kernel without netem:
 * on a device's TC egress, a random fraction of DNS responses (UDP from
 * port 53, over IPv4 without options or IPv6 without extension headers,
 * not fragments) is dropped and another fraction is sent twice.
 *
 * One impairment per query at most: once a response to (client address,
 * client port, DNS ID) was dropped or duplicated, further responses to it
 * within 2 s pass untouched. Hedging sends one extra copy of a request, so
 * it can save a query from one lost response but not from two; this keeps
 * the test's "no query lost" exact instead of a matter of luck. The key
 * has no server address in it: a replica's answer to the hedge (same
 * client address, port and ID) shares the query's one impairment with the
 * primary's answer, whichever server the link sees answer first.
 *
 * Loaded by build/lossy (tests/lossy.c) with hedge's own loader, so it
 * follows hedge.bpf.c's conventions: a "maps" section of struct
 * hedge_map_def, no BTF, no libbpf.
 */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/udp.h>
#include <linux/in.h>
#include "../hedge.h"
#include "../bpf/helpers.h"
#include "lossy.h"

#define IP_MF		0x2000
#define IP_OFFSET	0x1fff
#define ONCE_NS		2000000000ULL	/* one impairment per query in 2 s */

struct query {		/* a response's query: the client's side of it */
	__u8 addr[16];	/* IPv6, or IPv4 mapped (::ffff:a.b.c.d) */
	__u16 port;
	__u16 id;
};

MAP(lossy_config, BPF_MAP_TYPE_ARRAY, __u32, struct lossy_config, 1);
MAP(lossy_stats, BPF_MAP_TYPE_ARRAY, __u32, __u64, LOSSY_N_STATS);
MAP(lossy_once, BPF_MAP_TYPE_LRU_HASH, struct query, __u64, 65536);

char _license[] SEC("license") = "Dual BSD/GPL";

static inline __attribute__((always_inline)) void count(__u32 what)
{
	__u64 *n = bpf_map_lookup_elem(&lossy_stats, &what);

	if (n)
		__sync_fetch_and_add(n, 1);
}

SEC("tc/lossy")
int lossy(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data;
	void *end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;
	struct lossy_config *cfg;
	struct udphdr *udp;
	struct query q = {};
	__u32 zero = 0, r, mark;
	__u64 now, *last;
	__u16 *dns_id;

	/* Our own second copy, on its way out: it passes. */
	if (skb->mark == LOSSY_MARK)
		return TC_ACT_UNSPEC;
	if ((void *)(eth + 1) > end)
		return TC_ACT_UNSPEC;
	if (eth->h_proto == htons(ETH_P_IP)) {
		struct iphdr *ip = (void *)(eth + 1);

		udp = (void *)(ip + 1);
		dns_id = (void *)(udp + 1);
		if ((void *)(dns_id + 1) > end || ip->ihl != 5 ||
		    ip->protocol != IPPROTO_UDP ||
		    (ip->frag_off & htons(IP_MF | IP_OFFSET)))
			return TC_ACT_UNSPEC;
		q.addr[10] = q.addr[11] = 0xff;
		__builtin_memcpy(q.addr + 12, &ip->daddr, 4);
	} else if (eth->h_proto == htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6 = (void *)(eth + 1);

		udp = (void *)(ip6 + 1);
		dns_id = (void *)(udp + 1);
		if ((void *)(dns_id + 1) > end ||
		    ip6->nexthdr != IPPROTO_UDP)
			return TC_ACT_UNSPEC;
		__builtin_memcpy(q.addr, &ip6->daddr, 16);
	} else {
		return TC_ACT_UNSPEC;
	}
	if (udp->source != htons(53))
		return TC_ACT_UNSPEC;
	cfg = bpf_map_lookup_elem(&lossy_config, &zero);
	if (!cfg)
		return TC_ACT_UNSPEC;
	count(LOSSY_SEEN);

	q.port = udp->dest;
	q.id = *dns_id;
	now = bpf_ktime_get_ns();
	last = bpf_map_lookup_elem(&lossy_once, &q);
	if (last && now - *last < ONCE_NS) {
		count(LOSSY_SPARED);
		return TC_ACT_UNSPEC;
	}
	r = bpf_get_prandom_u32() % 1000000;
	if (r < cfg->loss_ppm) {
		bpf_map_update_elem(&lossy_once, &q, &now, BPF_ANY);
		count(LOSSY_DROPPED);
		return TC_ACT_SHOT;
	}
	if (r - cfg->loss_ppm < cfg->dup_ppm) {
		bpf_map_update_elem(&lossy_once, &q, &now, BPF_ANY);
		count(LOSSY_DUPLICATED);
		mark = skb->mark;
		skb->mark = LOSSY_MARK;
		bpf_clone_redirect(skb, skb->ifindex, 0);	/* egress */
		skb->mark = mark;
	}
	return TC_ACT_UNSPEC;
}
