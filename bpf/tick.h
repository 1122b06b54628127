/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * bpf/tick.h - the tick delay line (no netem): the Splitter parks a
 * request (park()); the ticker sends what is due (send_due()) and sizes
 * the tick to sleep until the next deadline (rearm()).
 */
#ifndef HEDGE_BPF_TICK_H
#define HEDGE_BPF_TICK_H

#include "parse.h"

/* The Scoreboard's, in hedge.bpf.c. */
static __always_inline struct hedge_stats *stats(__u32 target);
static __always_inline struct hedge_entry *
live_entry(const struct hedge_config *cfg, const struct hedge_key *key);

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
	barrier_var(size);
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
		barrier_var(k);	/* as above */
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
				  struct hedge_ticker *t, __u64 now,
				  __u32 arrived_len, __u32 gen)
{
	struct hedge_tick_head h = {};
	struct hedge_due next;
	__u64 base = t->release_ns, floor, wake, len, max_len;

	/* The tick we hold was released at base; it cannot be later than
	 * now, nor earlier than what a full bucket allows (it took
	 * arrived_len tokens: skb->len may since be a due request's). */
	floor = now - HEDGE_TICK_BURST * 1000ULL + arrived_len * 1000ULL;
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
	h.gen = gen;
	bpf_skb_change_tail(skb, len, 0);
	bpf_skb_store_bytes(skb, 0, &h, sizeof(h), 0);
}

/* ---- the tick's life: started by requests, dead when idle ---------- */

/*
 * After the Splitter parked a request: start a tick if there is none
 * (IDLE), or the one there was is lost (see enum hedge_tick_state). The
 * request, cloned with the mark, is the new tick; the original keeps its
 * mark. Called after the push: the atomic read orders the two, so a ticker
 * going idle either sees the request queued or leaves IDLE for us to see.
 */
static __always_inline void tick_wake(struct __sk_buff *skb,
				      const struct hedge_config *cfg, __u64 now)
{
	__u32 zero = 0, state, gen, mark;
	struct hedge_ticker *t = bpf_map_lookup_elem(&hedge_tick, &zero);
	__u64 run;

	if (!t)
		return;
	run = __sync_fetch_and_add(&t->run, 0);
	state = HEDGE_TICK_STATE(run);
	gen = HEDGE_TICK_GEN(run);
	if (state == HEDGE_TICK_RUNNING &&
	    now < t->release_ns + HEDGE_TICK_STALE_NS)
		return;
	if (state == HEDGE_TICK_STARTING &&
	    now < t->restart_ns + HEDGE_TICK_STALE_NS)
		return;
	/* Before the swap: whoever sees STARTING sees this time. */
	t->restart_ns = now;
	if (__sync_val_compare_and_swap(&t->run, run,
					HEDGE_TICK_RUN(gen + 1,
						       HEDGE_TICK_STARTING)) != run)
		return;		/* another request started it */
	if (state == HEDGE_TICK_IDLE) {
		__sync_fetch_and_add(&t->starts, 1);
	} else {
		/* The lost tick's tokens are unknown: assume none left
		 * (the next tick then wakes early, never late). */
		t->release_ns = now;
		__sync_fetch_and_add(&t->restarts, 1);
	}
	mark = skb->mark;
	skb->mark = HEDGE_TICK_MARK | ((gen + 1) & 0xffff);
	bpf_clone_redirect(skb, cfg->tick_ifindex, 0);
	skb->mark = mark;
}

/*
 * Whether the packet the ticker got is the one tick: a tick of the current
 * generation while RUNNING, or the marked request that starts it (it took
 * its length in TBF tokens). Its generation into *gen.
 */
static __always_inline int tick_accept(struct __sk_buff *skb,
				       struct hedge_ticker *t, __u32 *gen)
{
	struct hedge_tick_head *h = (void *)(long)skb->data;
	__u64 run = t->run;

	*gen = HEDGE_TICK_GEN(run);
	if (is_tick(skb)) {
		if ((void *)(h + 1) > (void *)(long)skb->data_end)
			return 0;
		if (h->gen == *gen && HEDGE_TICK_STATE(run) == HEDGE_TICK_RUNNING)
			return 1;
		__sync_fetch_and_add(&t->old_ticks, 1);
		return 0;
	}
	if (HEDGE_TICK_STATE(run) != HEDGE_TICK_STARTING ||
	    skb->mark != (HEDGE_TICK_MARK | (*gen & 0xffff)) ||
	    __sync_val_compare_and_swap(&t->run, run,
					HEDGE_TICK_RUN(*gen,
						       HEDGE_TICK_RUNNING)) != run)
		return 0;
	skb->mark = 0;	/* nothing the tick sends may carry it */
	t->release_ns += skb->len * 1000ULL;
	return 1;
}

/* The due entry's request still needs its hedge: pending, and the same
 * request (an ID reused after its answer has a later deadline). */
static __always_inline int still_pending(const struct hedge_entry *e,
					 const struct hedge_due *due)
{
	return e && e->state == HEDGE_PENDING &&
	       e->deadline_ns == due->deadline_ns;
}

/*
 * The lazy tick: drop the heads of `target`'s queue whose request needs no
 * hedge any more (answered, void, or superseded), however far their
 * deadline, at most HEDGE_TICK_SWEEP a tick; the tick then sleeps until
 * the first one still pending. The ticker sweeps the queue whose head
 * would wake it (one loop over one queue: what the verifier can walk).
 * Only the ticker pops: the head popped is the one peeked.
 */
static __always_inline void sweep(const struct hedge_config *cfg, int target)
{
	struct hedge_due head;
	struct hedge_entry *e;
	struct hedge_stats *st;
	__u32 key = (__u32)target, i;
	void *queue;

	if (target < 0)
		return;
	queue = bpf_map_lookup_elem(&hedge_due, &key);
	if (!queue)
		return;
	for (i = 0; i < HEDGE_TICK_SWEEP; i++) {
		if (bpf_map_peek_elem(queue, &head))
			return;
		e = live_entry(cfg, &head.key);
		if (still_pending(e, &head) || bpf_map_pop_elem(queue, &head))
			return;
		if (e && (e->state == HEDGE_DONE ||
			  e->state == HEDGE_DONE_HEDGED)) {
			st = stats(e->target);
			if (st)
				st->hedges_cancelled++;
		}
	}
}

/*
 * Every queue empty: let the tick die, IDLE. A request parked meanwhile
 * either saw RUNNING (and started nothing: it is in a queue, seen here
 * after the swap, and the tick goes on) or sees IDLE and starts a tick.
 * Returns 1 if the tick must die.
 */
static __always_inline int go_idle(const struct hedge_config *cfg,
				   struct hedge_ticker *t, __u32 gen)
{
	__u64 running = HEDGE_TICK_RUN(gen, HEDGE_TICK_RUNNING),
	      idle = HEDGE_TICK_RUN(gen, HEDGE_TICK_IDLE);
	struct hedge_due head;

	if (__sync_val_compare_and_swap(&t->run, running, idle) != running)
		return 1;	/* no longer the tick: a newer one is coming */
	if (earliest(cfg, &head) < 0)
		return 1;
	return __sync_val_compare_and_swap(&t->run, idle, running) != idle;
}

#endif
