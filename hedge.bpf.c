// SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
/*
 * hedge.bpf.c - the kernel half of hedge: three TC programs and their maps.
 *
 *   Splitter  (egress of the hedged device): a new request to a target is
 *             recorded PENDING in the Scoreboard and cloned into the delay
 *             line (netem), or parked for the ticker (tick line); the
 *             original goes on untouched.
 *   Watcher   (ingress of the hedged device): the first response moves its
 *             request to DONE and passes; any later one is dropped.
 *   Rescuer   (ingress of the delay line's far end): a clone that emerges
 *             while its request is still PENDING is sent as the hedge;
 *             otherwise it is dropped.
 *   Ticker    (tick line only, ingress of the tick veth): wakes when the
 *             earliest parked request is due, turns the tick into each due
 *             request in turn and clones it to the Rescuer, then sizes the
 *             tick to sleep in TBF until the next deadline.
 *
 * Every program returns TC_ACT_UNSPEC for what it lets pass, so filters of
 * other tools on the same clsact hook still see the packet.
 *
 * Built with clang -target bpf -mcpu=v3 (32-bit compare-and-swap). No BTF,
 * no libbpf: hedge's own loader reads the "maps" section and the
 * relocations (see loader.c).
 */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/udp.h>
#include <linux/in.h>
#include "hedge.h"

#define SEC(name) __attribute__((section(name), used))
#undef __always_inline
#define __always_inline inline __attribute__((always_inline))

#define htons(x) __builtin_bswap16(x)
#define offsetof(type, member) __builtin_offsetof(type, member)
#define IP_MF		0x2000
#define IP_OFFSET	0x1fff

static void *(*bpf_map_lookup_elem)(void *map, const void *key) =
	(void *)BPF_FUNC_map_lookup_elem;
static long (*bpf_map_update_elem)(void *map, const void *key,
				   const void *value, __u64 flags) =
	(void *)BPF_FUNC_map_update_elem;
static long (*bpf_map_delete_elem)(void *map, const void *key) =
	(void *)BPF_FUNC_map_delete_elem;
static __u64 (*bpf_ktime_get_ns)(void) = (void *)BPF_FUNC_ktime_get_ns;
static __u32 (*bpf_get_smp_processor_id)(void) =
	(void *)BPF_FUNC_get_smp_processor_id;
static long (*bpf_skb_load_bytes)(const void *skb, __u32 offset, void *to,
				  __u32 len) = (void *)BPF_FUNC_skb_load_bytes;
static long (*bpf_clone_redirect)(struct __sk_buff *skb, __u32 ifindex,
				  __u64 flags) = (void *)BPF_FUNC_clone_redirect;
static long (*bpf_redirect)(__u32 ifindex, __u64 flags) =
	(void *)BPF_FUNC_redirect;
static long (*bpf_redirect_neigh)(__u32 ifindex, void *params, int plen,
				  __u64 flags) = (void *)BPF_FUNC_redirect_neigh;
static long (*bpf_skb_change_type)(struct __sk_buff *skb, __u32 type) =
	(void *)BPF_FUNC_skb_change_type;
static long (*bpf_skb_change_tail)(struct __sk_buff *skb, __u32 len,
				   __u64 flags) = (void *)BPF_FUNC_skb_change_tail;
static long (*bpf_skb_store_bytes)(struct __sk_buff *skb, __u32 offset,
				   const void *from, __u32 len, __u64 flags) =
	(void *)BPF_FUNC_skb_store_bytes;
static long (*bpf_map_push_elem)(void *map, const void *value, __u64 flags) =
	(void *)BPF_FUNC_map_push_elem;
static long (*bpf_map_peek_elem)(void *map, void *value) =
	(void *)BPF_FUNC_map_peek_elem;
static long (*bpf_map_pop_elem)(void *map, void *value) =
	(void *)BPF_FUNC_map_pop_elem;
static __s64 (*bpf_csum_diff)(__be32 *from, __u32 from_size, __be32 *to,
			      __u32 to_size, __u32 seed) =
	(void *)BPF_FUNC_csum_diff;
static long (*bpf_l3_csum_replace)(struct __sk_buff *skb, __u32 offset,
				   __u64 from, __u64 to, __u64 size) =
	(void *)BPF_FUNC_l3_csum_replace;
static long (*bpf_l4_csum_replace)(struct __sk_buff *skb, __u32 offset,
				   __u64 from, __u64 to, __u64 flags) =
	(void *)BPF_FUNC_l4_csum_replace;

#define MAP(name_, type_, key_, value_, max_)				\
	struct hedge_map_def name_ SEC("maps") = {			\
		.type = type_, .key_size = sizeof(key_),		\
		.value_size = sizeof(value_), .max_entries = max_,	\
	}

MAP(hedge_config, BPF_MAP_TYPE_ARRAY, __u32, struct hedge_config, 1);
MAP(hedge_targets, BPF_MAP_TYPE_HASH, struct hedge_target_key, __u32,
    HEDGE_MAX_TARGETS);
MAP(hedge_stats, BPF_MAP_TYPE_PERCPU_ARRAY, __u32, struct hedge_stats,
    HEDGE_MAX_TARGETS);
MAP(hedge_scores, BPF_MAP_TYPE_LRU_HASH, struct hedge_key,
    struct hedge_entry, HEDGE_SCOREBOARD_SIZE);
/* The tick line's; `up` shrinks them to one entry for netem. */
MAP(hedge_parked, BPF_MAP_TYPE_ARRAY, __u32, struct hedge_parked,
    HEDGE_PARKED_SIZE);
MAP(hedge_tick, BPF_MAP_TYPE_ARRAY, __u32, struct hedge_ticker, 1);
/* Per target, a queue of deadlines; `up` sizes it to the targets. */
struct hedge_map_def hedge_due SEC("maps") = {
	.type = BPF_MAP_TYPE_ARRAY_OF_MAPS,
	.max_entries = HEDGE_MAX_TARGETS,
	.inner_type = BPF_MAP_TYPE_QUEUE,
	.inner_value_size = sizeof(struct hedge_due),
	.inner_max_entries = HEDGE_PARKED_SIZE,
};
MAP(hedge_adapt, BPF_MAP_TYPE_ARRAY, __u32, struct hedge_adapt,
    HEDGE_MAX_TARGETS);
MAP(hedge_budget, BPF_MAP_TYPE_ARRAY, __u32, struct hedge_budget,
    HEDGE_MAX_TARGETS);

char _license[] SEC("license") = "Dual BSD/GPL";

/* A UDP datagram to or from a target, reduced to its Scoreboard key. */
struct datagram {
	struct hedge_key key;	/* oriented as the request: client -> target */
	__u32 target;
	__u32 replica;		/* it comes from the target's replica */
	__u32 udp_at;		/* HEDGE_UDP_AT4 or HEDGE_UDP_AT6 */
};

enum direction { REQUEST, RESPONSE };

static __always_inline struct hedge_config *config(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&hedge_config, &zero);
}

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
	asm volatile("" : "+r"(n));
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
		if (diff < 0 ||
		    bpf_l4_csum_replace(skb, csum_at, 0, diff,
					BPF_F_PSEUDO_HDR | BPF_F_MARK_MANGLED_0) ||
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

/* Where the target's hedges go: its replica, or NULL for itself. */
static __always_inline const struct hedge_target_key *
replica_of(const struct hedge_config *cfg, __u32 t)
{
	const struct hedge_target *target = target_of(cfg, t);

	return target && target->replica.port ? &target->replica : 0;
}

static __always_inline struct hedge_stats *stats(__u32 target)
{
	return bpf_map_lookup_elem(&hedge_stats, &target);
}

static __always_inline int expired(const struct hedge_entry *e,
				   const struct hedge_config *cfg, __u64 now)
{
	return now - e->sent_ns >= cfg->window_ns;
}

/* The request's Scoreboard entry if it is within --window; an entry past
 * it is void and goes (the LRU would only evict it later). */
static __always_inline struct hedge_entry *
live_entry(const struct hedge_config *cfg, const struct hedge_key *key)
{
	struct hedge_entry *e = bpf_map_lookup_elem(&hedge_scores, key);

	if (e && expired(e, cfg, bpf_ktime_get_ns())) {
		bpf_map_delete_elem(&hedge_scores, key);
		return 0;
	}
	return e;
}

/*
 * When a request sent now to `target` is due for its hedge. An adaptive
 * delay that fell since the last request may not put this deadline before
 * that one's: its queue must stay in order.
 */
static __always_inline __u64 deadline(const struct hedge_config *cfg,
				      __u32 target, __u64 now)
{
	struct hedge_adapt *a;
	__u64 due;

	if (!(cfg->flags & HEDGE_F_ADAPTIVE))
		return now + cfg->delay_ns;
	a = bpf_map_lookup_elem(&hedge_adapt, &target);
	if (!a)
		return now + cfg->delay_ns;
	due = now + a->delay_ns;
	if (due < a->last_due_ns)
		due = a->last_due_ns;
	a->last_due_ns = due;
	return due;
}

/*
 * Tick line: keep the request's bytes in the next slot of the ring, and
 * its deadline in its target's queue, for the ticker. The slot's seq is
 * written first, so a ticker copying it out sees it change under it.
 */
static __always_inline void park(struct __sk_buff *skb,
				 const struct hedge_key *key,
				 const struct hedge_entry *e)
{
	struct hedge_due due = { .deadline_ns = e->deadline_ns };
	__u32 zero = 0, slot, len = bounded_len(skb->len, HEDGE_FRAME_MAX);
	struct hedge_ticker *t = bpf_map_lookup_elem(&hedge_tick, &zero);
	__u32 target = e->target;
	struct hedge_parked *p;
	void *queue = bpf_map_lookup_elem(&hedge_due, &target);

	if (!t || !len || !queue)
		return;
	due.seq = __sync_fetch_and_add(&t->next_seq, 1);
	slot = due.seq % HEDGE_PARKED_SIZE;
	p = bpf_map_lookup_elem(&hedge_parked, &slot);
	if (!p)
		return;
	p->seq = due.seq;
	p->len = len;
	if (bpf_skb_load_bytes(skb, 0, p->data, len))
		return;
	due.key = *key;
	bpf_map_push_elem(queue, &due, 0);
}

/* A new request: its share of a hedge goes to its target's budget. */
static __always_inline void deposit(const struct hedge_config *cfg,
				    __u32 target)
{
	struct hedge_budget *b;

	if (cfg->budget_pct >= 100)
		return;
	b = bpf_map_lookup_elem(&hedge_budget, &target);
	if (b)
		__sync_fetch_and_add(&b->tokens,
				     cfg->budget_pct * (HEDGE_MILLI / 100));
}

SEC("tc/splitter")
int hedge_splitter(struct __sk_buff *skb)
{
	struct hedge_config *cfg = config();
	struct hedge_entry *e, fresh = {};
	struct hedge_stats *st;
	struct datagram d;
	__u64 now;

	if (!cfg || parse(skb, cfg, REQUEST, &d))
		return TC_ACT_UNSPEC;
	/* The tick line parks whole frames: a bigger one is not hedged. */
	if (cfg->delay_line == HEDGE_DL_TICK && skb->len > HEDGE_FRAME_MAX)
		return TC_ACT_UNSPEC;

	now = bpf_ktime_get_ns();
	fresh.sent_ns = now;
	fresh.deadline_ns = deadline(cfg, d.target, now);
	fresh.state = HEDGE_PENDING;
	fresh.target = d.target;
	/* Nearly every request is new: insert first, look only if taken
	 * (measured: ~90 ns less per new request, ~130 ns more per hedge). */
	if (bpf_map_update_elem(&hedge_scores, &d.key, &fresh, BPF_NOEXIST)) {
		e = bpf_map_lookup_elem(&hedge_scores, &d.key);
		/*
		 * A live entry that is not plainly DONE means this datagram
		 * is the hedge itself passing the device's egress (or the
		 * application resending before any answer): it is never
		 * cloned again. After a hedge, DONE_HEDGED also blocks, so a
		 * hedge that races its own response here cannot restart the
		 * request. An ID reused after its answer, or its window,
		 * starts anew.
		 */
		if (!e || (!expired(e, cfg, now) && e->state != HEDGE_DONE))
			return TC_ACT_UNSPEC;
		if (bpf_map_update_elem(&hedge_scores, &d.key, &fresh,
					BPF_EXIST))
			return TC_ACT_UNSPEC;
	}
	st = stats(d.target);
	if (st)
		st->requests++;
	deposit(cfg, d.target);
	if (cfg->delay_line == HEDGE_DL_TICK)
		park(skb, &d.key, &fresh);
	else
		bpf_clone_redirect(skb, cfg->delay_ifindex, 0);
	return TC_ACT_UNSPEC;
}

/* The bucket of response time `ns` (see hedge_hist_floor_ns()). */
static __always_inline __u32 hist_bucket(__u64 ns)
{
	__u64 units = ns >> 10, x = units;
	__u32 lg = 0, b;

	if (x >> 32) { lg += 32; x >>= 32; }
	if (x >> 16) { lg += 16; x >>= 16; }
	if (x >> 8) { lg += 8; x >>= 8; }
	if (x >> 4) { lg += 4; x >>= 4; }
	if (x >> 2) { lg += 2; x >>= 2; }
	if (x >> 1) lg += 1;
	/* From 8 units on, units is in [2^lg, 2^(lg+1)): its top 4 bits
	 * pick the bucket. */
	b = units < HEDGE_HIST_SUB ? units :
	    (lg - 2) * HEDGE_HIST_SUB + ((units >> (lg - 3)) & 7);
	/* Hide what the compiler knows of b, or it drops the clamp the
	 * verifier needs to see. */
	asm volatile("" : "+r"(b));
	return b < HEDGE_HIST_BUCKETS ? b : HEDGE_HIST_BUCKETS - 1;
}

/*
 * A request's first response: its response time goes to the target's
 * counters (per CPU) and, for an adaptive delay, to the histogram the
 * ticker takes the delay from (shared, so atomic).
 */
static __always_inline void record_response(const struct hedge_config *cfg,
					    struct hedge_stats *st,
					    const struct hedge_entry *e)
{
	__u64 rt = bpf_ktime_get_ns() - e->sent_ns;
	__u32 b = hist_bucket(rt), target = e->target;
	struct hedge_adapt *a;

	if (st) {
		st->responses++;
		st->rt_sum_ns += rt;
		st->rt[b]++;
	}
	if (!(cfg->flags & HEDGE_F_ADAPTIVE))
		return;
	a = bpf_map_lookup_elem(&hedge_adapt, &target);
	if (a) {
		__sync_fetch_and_add(&a->hist[b], HEDGE_HIST_ONE);
		__sync_fetch_and_add(&a->fresh, 1);
	}
}

/*
 * A first response, where hedges go to a replica: count who won, and make
 * the replica's answer look like the primary's, which is what the client
 * (its socket perhaps connect()ed) waits for.
 */
static __always_inline int replica_answer(struct __sk_buff *skb,
					  const struct hedge_config *cfg,
					  struct hedge_stats *st,
					  const struct datagram *d, __u32 state)
{
	const struct hedge_target *t = target_of(cfg, d->target);

	if (!t || !t->replica.port)
		return TC_ACT_UNSPEC;
	if (st && d->replica)
		st->hedges_won++;
	else if (st && state == HEDGE_HEDGED)
		st->hedges_lost++;
	if (d->replica && rewrite(skb, d, 0, &t->primary))
		return TC_ACT_SHOT;	/* half rewritten: no use to anyone */
	return TC_ACT_UNSPEC;
}

SEC("tc/watcher")
int hedge_watcher(struct __sk_buff *skb)
{
	struct hedge_config *cfg = config();
	struct hedge_stats *st;
	struct hedge_entry *e;
	struct datagram d;
	__u32 state, done;
	int tries;

	if (!cfg || parse(skb, cfg, RESPONSE, &d))
		return TC_ACT_UNSPEC;
	e = live_entry(cfg, &d.key);
	/* The answer to a hedge this target got as another's replica. */
	if (e && e->state == HEDGE_COPY)
		e = as_replica_of(cfg, &d, e->target) ? 0 :
		    live_entry(cfg, &d.key);
	if (!e)
		return TC_ACT_UNSPEC;	/* not ours, or too late to judge */
	st = stats(e->target);

	/* The Rescuer may move PENDING to HEDGED under us: one retry does. */
	for (tries = 0; tries < 2; tries++) {
		state = e->state;
		if (state == HEDGE_DONE || state == HEDGE_DONE_HEDGED) {
			if (st)
				st->duplicates++;
			return TC_ACT_SHOT;
		}
		done = state == HEDGE_HEDGED ? HEDGE_DONE_HEDGED : HEDGE_DONE;
		if (__sync_val_compare_and_swap(&e->state, state, done) == state) {
			record_response(cfg, st, e);
			return replica_answer(skb, cfg, st, &d, state);
		}
	}
	return TC_ACT_UNSPEC;
}

/* A hedge sent: count it and how late it left (per CPU: no atomics). */
static __always_inline void count_hedge(struct hedge_stats *st,
					const struct hedge_entry *e)
{
	__u64 due = e->deadline_ns, now = bpf_ktime_get_ns();
	__u64 bucket, late;

	st->hedges_sent++;
	if (now < due) {
		st->early++;
		return;
	}
	late = now - due;
	if (late > st->late_max_ns)
		st->late_max_ns = late;
	bucket = late / HEDGE_LATE_STEP_NS;
	if (bucket >= HEDGE_LATE_BUCKETS)
		bucket = HEDGE_LATE_BUCKETS - 1;
	st->late[bucket]++;
}

/*
 * May the target afford a hedge now? Credits the time since the last
 * credit (one CPU wins each stretch), then withdraws one hedge, keeping
 * no more than the cap. Several CPUs may race here (netem line): every
 * change is a compare-and-swap, and after a few lost races it says no.
 */
static __always_inline int withdraw(const struct hedge_config *cfg,
				    __u32 target)
{
	struct hedge_budget *b;
	__u64 now, last, span;
	__s64 old, left;
	int tries;

	if (cfg->budget_pct >= 100)
		return 1;
	b = bpf_map_lookup_elem(&hedge_budget, &target);
	if (!b)
		return 1;
	now = bpf_ktime_get_ns();
	last = b->refilled_ns;
	if (now > last &&
	    __sync_val_compare_and_swap(&b->refilled_ns, last, now) == last) {
		span = now - last;
		if (span > 1000000000ULL)	/* more is over the cap anyway */
			span = 1000000000ULL;
		__sync_fetch_and_add(&b->tokens, (__s64)(span *
				     cfg->budget_min_rate / 1000000));
	}
	for (tries = 0; tries < 4; tries++) {
		old = b->tokens;
		left = old > (__s64)cfg->budget_cap ? (__s64)cfg->budget_cap :
						      old;
		if (left < HEDGE_MILLI)
			return 0;
		left -= HEDGE_MILLI;
		if (__sync_val_compare_and_swap(&b->tokens, old, left) == old)
			return 1;
	}
	return 0;
}

/*
 * A hedge to a replica that is also a target: record the hedge under its
 * own key as a COPY first, or the Splitter would take it for a new request
 * to that target (and hedge it back), and the watcher would not know its
 * answer for the replica's.
 */
static __always_inline int mark_copy(const struct datagram *d,
				     const struct hedge_target_key *replica,
				     __u32 target)
{
	struct hedge_entry copy = {
		.sent_ns = bpf_ktime_get_ns(),
		.state = HEDGE_COPY,
		.target = target,
	};
	struct hedge_target_key tk = *replica;
	struct hedge_key key = d->key;
	__u32 *role = bpf_map_lookup_elem(&hedge_targets, &tk);

	if (!role || (*role & HEDGE_TARGET_REPLICA))
		return 0;	/* only a replica: its answers are known */
	__builtin_memcpy(key.daddr, replica->addr, HEDGE_ADDR_LEN);
	key.dport = replica->port;
	copy.deadline_ns = copy.sent_ns;
	return bpf_map_update_elem(&hedge_scores, &key, &copy, BPF_ANY) ? -1 : 0;
}

SEC("tc/rescuer")
int hedge_rescuer(struct __sk_buff *skb)
{
	struct hedge_config *cfg = config();
	const struct hedge_target_key *replica;
	struct hedge_stats *st;
	struct hedge_entry *e;
	struct datagram d;
	__u32 state;

	/* Everything on the delay line that is not a due hedge ends here. */
	if (!cfg || parse(skb, cfg, REQUEST, &d))
		return TC_ACT_SHOT;
	e = live_entry(cfg, &d.key);
	if (!e)
		return TC_ACT_SHOT;

	st = stats(e->target);
	state = __sync_val_compare_and_swap(&e->state, HEDGE_PENDING,
					    HEDGE_HEDGED);
	if (state != HEDGE_PENDING) {
		if (st && (state == HEDGE_DONE || state == HEDGE_DONE_HEDGED))
			st->hedges_cancelled++;
		return TC_ACT_SHOT;
	}
	if (!withdraw(cfg, e->target)) {
		/* Not sent after all: the request waits for its own answer
		 * (unless that came meanwhile and made it DONE_HEDGED). */
		__sync_val_compare_and_swap(&e->state, HEDGE_HEDGED,
					    HEDGE_PENDING);
		if (st)
			st->hedges_refused++;
		return TC_ACT_SHOT;
	}
	if (st)
		count_hedge(st, e);

	replica = replica_of(cfg, e->target);
	if (replica && (rewrite(skb, &d, 1, replica) ||
			mark_copy(&d, replica, e->target)))
		return TC_ACT_SHOT;
	if (cfg->flags & HEDGE_F_DEV_IS_LOOPBACK) {
		/*
		 * Crossing the veth made the clone OTHERHOST (ip_rcv would
		 * drop it) and dropped its route. redirect_neigh routes it
		 * again, so no martian check fires on lo and no sysctl needs
		 * relaxing.
		 */
		bpf_skb_change_type(skb, PACKET_HOST);
		return bpf_redirect_neigh(cfg->dev_ifindex, 0, 0, 0);
	}
	/* To a replica, the next hop may differ: look it up. Otherwise the
	 * clone, taken at the device's egress, has the right MACs. */
	if (replica)
		return bpf_redirect_neigh(cfg->dev_ifindex, 0, 0, 0);
	return bpf_redirect(cfg->dev_ifindex, 0);
}

/* ---- the tick delay line ------------------------------------------- */

/* Sum `n4` bytes (a multiple of 4) of the UDP segment at `at` from byte k
 * on, at most one 512-byte bpf_csum_diff() at a time; k is a constant. */
static __always_inline __s64 csum_chunk(struct hedge_parked *p, __u32 at,
					__u32 k, __u32 n4, __s64 sum)
{
	__u32 max = HEDGE_UDP_MAX - k < 512 ? HEDGE_UDP_MAX - k : 512, size;

	if (sum < 0 || n4 <= k)
		return sum;
	size = n4 - k;
	/* The compiler knows n4 <= HEDGE_UDP_MAX and would drop the clamp;
	 * 6.1's verifier has lost that bound and needs it. */
	asm volatile("" : "+r"(size));
	if (size > max)
		size = max;
	return bpf_csum_diff(0, 0, (__be32 *)(p->data + at + k), size,
			     (__u32)sum);
}

/* The pseudo-header UDP's checksum covers: IPv4's 12 bytes or IPv6's 40. */
struct pseudo_header {
	__u8 saddr[HEDGE_ADDR_LEN];
	__u8 daddr[HEDGE_ADDR_LEN];
	__u8 len[4];		/* big-endian */
	__u8 zero[3];
	__u8 proto;
};

static __always_inline __u32 pseudo_header(const struct hedge_parked *p,
					   __u32 at, __u32 ulen,
					   struct pseudo_header *ph)
{
	struct { __be32 saddr, daddr; __u8 zero, proto; __be16 len; } *v4;

	if (at == HEDGE_UDP_AT6) {
		__builtin_memcpy(ph->saddr, p->data + sizeof(struct ethhdr) +
				 offsetof(struct ipv6hdr, saddr), 32);
		ph->len[0] = ph->len[1] = 0;
		ph->len[2] = ulen >> 8;
		ph->len[3] = ulen & 0xff;
		__builtin_memset(ph->zero, 0, 3);
		ph->proto = IPPROTO_UDP;
		return sizeof(*ph);
	}
	v4 = (void *)ph;
	__builtin_memcpy(&v4->saddr, p->data + sizeof(struct ethhdr) +
			 offsetof(struct iphdr, saddr), 8);
	v4->zero = 0;
	v4->proto = IPPROTO_UDP;
	v4->len = htons(ulen);
	return sizeof(*v4);
}

/*
 * The parked request's UDP checksum, computed whole. Taken at egress, it
 * may hold only the pseudo-header's sum (CHECKSUM_PARTIAL, to be finished
 * by the device); the ticker's copy leaves as a fresh packet with nobody
 * to finish it, and IPv6 forbids the zero checksum that would skip it.
 */
static __always_inline int fix_udp_csum(struct hedge_parked *p)
{
	struct pseudo_header ph;
	__u8 tail[4] = {};
	__u32 ulen, n4, i, at, ph_len, k;
	__s64 sum;

	/* The Splitter parked only what parse() took: IPv4 or IPv6. */
	at = p->data[12] == 0x86 ? HEDGE_UDP_AT6 : HEDGE_UDP_AT4;
	ulen = (__u32)p->data[at + 4] << 8 | p->data[at + 5];
	if (ulen < 8 || ulen > HEDGE_UDP_MAX || at + ulen > p->len)
		return -1;
	ph_len = pseudo_header(p, at, ulen, &ph);
	p->data[at + 6] = 0;
	p->data[at + 7] = 0;

	sum = bpf_csum_diff(0, 0, (__be32 *)&ph, ph_len, 0);
	n4 = ulen & ~3U;
	sum = csum_chunk(p, at, 0, n4, sum);
	sum = csum_chunk(p, at, 512, n4, sum);
	sum = csum_chunk(p, at, 1024, n4, sum);
	for (i = 0; i < 3; i++) {	/* the last 1..3 bytes, zero-padded */
		k = at + n4 + i;
		asm volatile("" : "+r"(k));	/* as above */
		if (n4 + i < ulen && k < sizeof(p->data))
			tail[i] = p->data[k];
	}
	sum = sum < 0 ? sum : bpf_csum_diff(0, 0, (__be32 *)tail, 4, (__u32)sum);
	if (sum < 0)
		return -1;
	sum = (sum & 0xffff) + ((__u32)sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	sum = ~sum & 0xffff;
	if (!sum)
		sum = 0xffff;	/* zero means "no checksum" */
	__builtin_memcpy(p->data + at + 6, &sum, 2);
	return 0;
}

static __always_inline int is_tick(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	struct hedge_tick_head *t = data;

	return (void *)(t + 1) <= data_end &&
	       t->eth_type == htons(ETH_P_IP) && t->magic == HEDGE_TICK_MAGIC;
}

/*
 * A due request: turn the tick into it and clone it to the Rescuer, which
 * decides and sends it as it does netem's clones. Its slot must still hold
 * it after the copy (seq unchanged), or the copy may be torn.
 */
static __always_inline void send_due(struct __sk_buff *skb,
				     const struct hedge_config *cfg,
				     const struct hedge_due *due)
{
	struct hedge_entry *e = live_entry(cfg, &due->key);
	__u32 slot = due->seq % HEDGE_PARKED_SIZE, len = 0;
	struct hedge_parked *p = bpf_map_lookup_elem(&hedge_parked, &slot);
	struct hedge_stats *st;

	if (e && e->state == HEDGE_PENDING) {
		if (p && p->seq == due->seq)
			len = bounded_len(p->len, HEDGE_FRAME_MAX);
		if (len && !fix_udp_csum(p) &&
		    !bpf_skb_change_tail(skb, len, 0) &&
		    !bpf_skb_store_bytes(skb, 0, p->data, len, 0) &&
		    p->seq == due->seq)
			bpf_clone_redirect(skb, cfg->delay_ifindex, 0);
	} else if (e && (e->state == HEDGE_DONE ||
			 e->state == HEDGE_DONE_HEDGED)) {
		st = stats(e->target);
		if (st)
			st->hedges_cancelled++;
	}
}

/* The earliest head of the targets' deadline queues into *first: its
 * target, or -1 if all are empty. */
static __always_inline int earliest(const struct hedge_config *cfg,
				    struct hedge_due *first)
{
	struct hedge_due head;
	__u32 t, key;
	void *queue;
	int best = -1;

	first->deadline_ns = ~0ULL;
	for (t = 0; t < HEDGE_MAX_TARGETS && t < cfg->n_targets; t++) {
		key = t;	/* the counter itself stays in a register */
		queue = bpf_map_lookup_elem(&hedge_due, &key);
		if (queue && !bpf_map_peek_elem(queue, &head) &&
		    head.deadline_ns < first->deadline_ns) {
			*first = head;
			best = (int)t;
		}
	}
	return best;
}

/* The shortest delay a request sent from now on can get: the tick must
 * not sleep longer. Adaptive delays fall no faster than time passes. */
static __always_inline __u64 shortest_delay(const struct hedge_config *cfg)
{
	__u64 least = cfg->delay_ns;
	struct hedge_adapt *a;
	__u32 t, key;

	if (!(cfg->flags & HEDGE_F_ADAPTIVE))
		return least;
	least = cfg->delay_max_ns;
	for (t = 0; t < HEDGE_MAX_TARGETS && t < cfg->n_targets; t++) {
		key = t;
		a = bpf_map_lookup_elem(&hedge_adapt, &key);
		if (a && a->delay_ns < least)
			least = a->delay_ns;
	}
	return least;
}

/*
 * Size the tick to sleep until the next deadline (or as long as it may)
 * and make it a tick again. TBF at 1 byte/us releases a tick of L bytes
 * L us after it released the last one -- counting from that release's
 * due time, not its actual one, since tokens carry over; only a bucket
 * full to its burst forgets. Never early: L is rounded up.
 */
static __always_inline void rearm(struct __sk_buff *skb,
				  const struct hedge_config *cfg,
				  struct hedge_ticker *t, __u64 now)
{
	struct hedge_tick_head h = {};
	struct hedge_due next;
	__u64 base = t->release_ns, floor, wake, len, max_len;

	/* The tick we hold was released at base; it cannot be later than
	 * now, nor earlier than what a full bucket allows. */
	floor = now - HEDGE_TICK_BURST * 1000ULL + skb->len * 1000ULL;
	if (base > now)
		base = now;
	if (base < floor)
		base = floor;
	/* Sleep no longer than the delay, or a new request would be late. */
	max_len = shortest_delay(cfg) / 1000;
	if (max_len > HEDGE_TICK_MAX)
		max_len = HEDGE_TICK_MAX;
	if (max_len < HEDGE_TICK_MIN)
		max_len = HEDGE_TICK_MIN;
	wake = base + max_len * 1000;
	if (earliest(cfg, &next) >= 0 && next.deadline_ns < wake)
		wake = next.deadline_ns;
	len = wake > base ? (wake - base + 999) / 1000 : 0;
	if (len < HEDGE_TICK_MIN)
		len = HEDGE_TICK_MIN;
	if (len > max_len)
		len = max_len;
	t->release_ns = base + len * 1000;

	h.eth_type = htons(ETH_P_IP);
	h.ip[0] = 0x45;
	h.ip[9] = IPPROTO_UDP;
	h.magic = HEDGE_TICK_MAGIC;
	bpf_skb_change_tail(skb, len, 0);
	bpf_skb_store_bytes(skb, 0, &h, sizeof(h), 0);
}

/*
 * Adaptive delay: the target's delay becomes the --delay percentile of its
 * recent response times, within --delay-min/--delay-max, interpolated
 * within its bucket. The histogram is halved now and then (see
 * struct hedge_adapt); watchers add to it meanwhile, hence the atomics.
 */
static __always_inline void adapt(const struct hedge_config *cfg,
				  __u32 target, __u64 now)
{
	struct hedge_adapt *a = bpf_map_lookup_elem(&hedge_adapt, &target);
	__u64 v, half, total = 0, rank, seen = 0, want, least, floor, width;
	int b, decay;

	if (!a || now - a->updated_ns < HEDGE_ADAPT_NS)
		return;
	decay = now - a->decayed_ns >= HEDGE_DECAY_NS &&
		a->fresh >= HEDGE_DECAY_MIN;
	for (b = 0; b < HEDGE_HIST_BUCKETS; b++) {
		v = a->hist[b];
		if (decay && v > 1) {
			half = v / 2;
			__sync_fetch_and_add(&a->hist[b], -half);
			v -= half;
		}
		total += v;
	}
	if (decay) {
		a->decayed_ns = now;
		a->fresh = 0;
	}
	want = a->delay_ns;
	if (total >= HEDGE_ADAPT_MIN) {
		rank = total * cfg->delay_pct / 10000;
		for (b = 0; b < HEDGE_HIST_BUCKETS; b++) {
			v = a->hist[b];
			if (v && seen + v >= rank)
				break;
			seen += v;
		}
		if (b < HEDGE_HIST_BUCKETS) {	/* v >= rank - seen > 0 */
			floor = hedge_hist_floor_ns(b);
			width = hedge_hist_floor_ns(b + 1) - floor;
			want = floor + width * (rank - seen) / v;
		}
		if (want < cfg->delay_min_ns)
			want = cfg->delay_min_ns;
		if (want > cfg->delay_max_ns)
			want = cfg->delay_max_ns;
	}
	least = now - a->updated_ns;
	least = a->delay_ns > least ? a->delay_ns - least : 0;
	a->delay_ns = want > least ? want : least;
	a->updated_ns = now;
}

SEC("tc/ticker")
int hedge_ticker(struct __sk_buff *skb)
{
	struct hedge_config *cfg = config();
	struct hedge_ticker *t;
	struct hedge_due due;
	__u32 zero = 0, target;
	void *queue;
	__u64 now;
	int i, first;

	t = bpf_map_lookup_elem(&hedge_tick, &zero);
	/* Anything else on the tick veth (IPv6 chatter, say) ends here. */
	if (!cfg || !t || !is_tick(skb))
		return TC_ACT_SHOT;
	now = bpf_ktime_get_ns();
	t->ticks++;
	t->last_ns = now;
	t->cpu = bpf_get_smp_processor_id();
	for (i = 0; i < HEDGE_TICK_BATCH; i++) {
		first = earliest(cfg, &due);
		if (first < 0 || due.deadline_ns > now)
			break;
		/* Only the ticker pops: the head is still the one peeked. */
		target = (__u32)first;
		queue = bpf_map_lookup_elem(&hedge_due, &target);
		if (!queue || bpf_map_pop_elem(queue, &due))
			break;
		send_due(skb, cfg, &due);
	}
	/* One target's delay per tick, in turn. */
	if ((cfg->flags & HEDGE_F_ADAPTIVE) && cfg->n_targets)
		adapt(cfg, (__u32)(t->ticks % cfg->n_targets), now);
	rearm(skb, cfg, t, now);
	return bpf_redirect(cfg->tick_ifindex, 0);
}
