/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * bpf/tick.h - the tick delay line (no netem): the Splitter parks a
 * request (to_delay_line(), park_frame()); the ticker sends what is due (send_due()) and sizes
 * the tick to sleep until the next deadline (rearm()).
 */
#ifndef HEDGE_BPF_TICK_H
#define HEDGE_BPF_TICK_H

#include "parse.h"

/* The Scoreboard's, in hedge.bpf.c. */
static __always_inline struct hedge_stats *stats(__u32 target);
static __always_inline struct hedge_entry *
live_entry(const struct hedge_config *cfg, const struct hedge_key *key,
	   __u64 now);
/* A TCP target's SYN, made fit to park (tcp.h). */
static __always_inline int tcp_park(__u8 *data, __u32 *len);

/* A busy slot's mark: its deadline in units of 2^20 ns (~1 ms), never 0. */
static __always_inline __u32 busy_mark(__u64 ns)
{
	return (__u32)(ns >> 20) | 1;
}

/*
 * Claim a slot for a request due at `mark`: a free one, or one left busy
 * a --window past its deadline (whatever lost its deadline entry). A slot
 * still waiting is never written over: the caller counts ring_full.
 */
static __always_inline int claim(struct hedge_slot_head *h,
				 const struct hedge_config *cfg, __u64 now,
				 __u32 mark)
{
	__u32 old = h->busy;

	if (old && (__s32)(busy_mark(now) - old) <=
		   (__s32)(cfg->window_ns >> 20) + 1)
		return -1;
	return __sync_val_compare_and_swap(&h->busy, old, mark) == old ? 0 : -1;
}

/*
 * The seq of the next parking slot of a ring of mask + 1 slots (the slot
 * is seq & mask), from the ring's counter *next, in its first *span slots
 * only (hedge.h, HEDGE_SPAN_MIN): a pass over them, then the next pass
 * from slot 0, so the slots written stay in the caches. The request that
 * takes the span's last slot ends the pass and sizes the next by how long
 * this one took against `hold` (how long its slots stay busy: the longest
 * delay a request parked now can have, longest_delay()): in less than 2
 * holds a slot would be taken again while its request may still wait, so
 * the span doubles and the pass goes on into the new half; after more
 * than 8 it halves. Requests that come meanwhile on other CPUs keep the
 * slots they drew, past the span: slots of the ring all the same. A slot
 * found busy anyway (a burst) grows it too (ring_grow()); claim() never
 * writes over a waiting one.
 */
static __always_inline __u32 ring_next(__u32 *next, __u32 *span,
				       __u64 *pass_ns, __u32 mask, __u64 now,
				       __u64 hold)
{
	__u32 seq = __sync_fetch_and_add(next, 1), raw = *span, cur;
	__u64 took;

	cur = HEDGE_SPAN(raw, mask);
	if ((seq & mask) + 1 < cur)
		return seq;
	/* The span's last slot (or past it): the pass ends here. None
	 * timed yet (a ticker as `up` leaves it): this one began now, not
	 * long ago, or it would end and go round onto its own busy slots. */
	if (!*pass_ns)
		*pass_ns = now;
	took = since(now, *pass_ns);
	if (took < 2 * hold && cur <= mask) {
		__sync_val_compare_and_swap(span, raw, cur * 2);
		return seq;	/* the pass goes on into the new half */
	}
	__sync_val_compare_and_swap(next, seq + 1, (seq | mask) + 1);
	*pass_ns = now;
	if (took > 8 * hold && cur > HEDGE_SPAN_MIN)
		__sync_val_compare_and_swap(span, raw, cur / 2);
	return seq;
}

/* Slot seq & mask was busy: double the span, and move the counter to the
 * first slot of its new half if it is still in the old one. -1 if the
 * span is the whole ring already: the ring is full (one try, as a flood
 * that fills it would otherwise pay for several). */
static __always_inline int ring_grow(__u32 *next, __u32 *span, __u32 mask,
				     __u32 seq)
{
	__u32 raw = *span, cur = HEDGE_SPAN(raw, mask);

	if (cur > mask)
		return -1;
	__sync_val_compare_and_swap(span, raw, cur * 2);
	if ((seq & mask) < cur)
		__sync_val_compare_and_swap(next, seq + 1,
					    (seq & ~mask) + cur);
	return 0;
}

/* The skb's metadata that matters on the wire, kept with its bytes. */
static __always_inline void park_meta(struct __sk_buff *skb,
				      struct hedge_slot_head *h)
{
	h->meta.mark = skb->mark;
	h->meta.priority = skb->priority;
	h->meta.vlan_proto = skb->vlan_present ? (__be16)skb->vlan_proto : 0;
	h->meta.vlan_tci = skb->vlan_present ? (__u16)skb->vlan_tci : 0;
}

/*
 * Claim a slot for request e in the small-slot ring, or (big, a constant)
 * the full-frame ring: its seq into *seq (HEDGE_SEQ_BIG set for the
 * latter). NULL if the ring is full: a busy slot with the span the whole
 * ring, or HEDGE_PARK_TRIES busy slots while it grew.
 */
#define HEDGE_PARK_TRIES	4
static __always_inline struct hedge_slot_head *
park_slot(struct hedge_ticker *t, const struct hedge_config *cfg,
	  const struct hedge_entry *e, const int big, __u32 *seq)
{
	__u32 mask = big ? cfg->big_mask : cfg->ring_mask, i, s, slot;
	__u32 *next = big ? &t->next_big : &t->next_seq;
	__u64 hold = longest_delay(cfg);
	struct hedge_slot_head *h;

	/* Unrolled: 6.1 refuses the loop (a helper call falls into its head). */
#pragma unroll
	for (i = 0; i < HEDGE_PARK_TRIES; i++) {
		s = ring_next(next, &t->span[big], &t->pass_ns[big], mask,
			      e->sent_ns, hold);
		slot = s & mask;
		if (big)
			h = bpf_map_lookup_elem(&hedge_frames, &slot);
		else
			h = bpf_map_lookup_elem(&hedge_parked, &slot);
		if (!h)
			return 0;
		if (!claim(h, cfg, e->sent_ns, busy_mark(e->deadline_ns))) {
			*seq = big ? s | HEDGE_SEQ_BIG : s & ~HEDGE_SEQ_BIG;
			return h;
		}
		if (ring_grow(next, &t->span[big], mask, s))
			return 0;
	}
	return 0;
}

/* ---- the deadline rings (hedge.h, struct hedge_due) ------------------
 *
 * Target t's ring: entries t * cap .. (t + 1) * cap - 1 of hedge_due, for
 * positions due_head[t] .. due_tail[t] - 1 (struct hedge_ticker) taken
 * in turn, entry pos % cap. The Splitters take a position by
 * compare-and-swap of due_tail (never more than cap ahead of due_head),
 * write the entry, and publish it: its deadline_ns, 0 until then, by an
 * exchange (ordered after the rest). Only the ticker that owns the rings
 * (tick_own()) reads and pops them: a pop zeroes the entry's deadline_ns,
 * then moves due_head on by an exchange (ordered after the zero), so a
 * position taken again reads 0 until its new entry is written. A position
 * taken and not yet published (its Splitter a few instructions from the
 * exchange: a program runs to its end) is waited for: the ring is empty
 * only when head == tail (go_idle() relies on it).
 * No lock: a BPF queue's push, a spin lock with interrupts off, took ~100
 * of a parked request's ~350 ns here (BENCHMARKS.md).
 */
#define HEDGE_DUE_TRIES	4	/* compare-and-swaps lost to other CPUs */
_Static_assert((HEDGE_MAX_TARGETS & (HEDGE_MAX_TARGETS - 1)) == 0,
	       "due_index(): a mask of the targets");

/* Target's index into due_tail and due_head, the target tested <
 * HEDGE_MAX_TARGETS already: masked too, as 6.1's verifier loses the
 * test's bound on a copy the compiler reloads from the stack. */
static __always_inline __u32 due_index(__u32 target)
{
	barrier_var(target);	/* or the compiler drops the mask */
	return target & (HEDGE_MAX_TARGETS - 1);
}

/* Target's entry for position pos, or NULL (the map is smaller). */
static __always_inline struct hedge_due *due_at(const struct hedge_config *cfg,
						__u32 target, __u64 pos)
{
	__u32 i = (__u32)hedge_due_index(cfg->ring_mask, cfg->big_mask,
					 target, pos);

	return bpf_map_lookup_elem(&hedge_due, &i);
}

/* Splitter: `due` onto target's ring: 0, or -1 if it is full. */
static __always_inline int due_push(struct hedge_ticker *t,
				    const struct hedge_config *cfg,
				    __u32 target, const struct hedge_due *due)
{
	__u64 cap = hedge_due_cap(cfg->ring_mask, cfg->big_mask), tail, head;
	struct hedge_due *d;
	__u32 k;
	int i;

	if (target >= HEDGE_MAX_TARGETS)
		return -1;
	k = due_index(target);
	/* Unrolled: 6.1 refuses the loop (as park_slot()'s). */
#pragma unroll
	for (i = 0; i < HEDGE_DUE_TRIES; i++) {
		tail = *(volatile __u64 *)&t->due_tail[k];
		head = *(volatile __u64 *)&t->due_head[k];
		if (tail - head >= cap)
			return -1;
		/* Looked up before the position is taken: one taken is
		 * always published. */
		d = due_at(cfg, target, tail);
		if (!d)
			return -1;
		if (__sync_val_compare_and_swap(&t->due_tail[k], tail,
						tail + 1) != tail)
			continue;
		d->key = due->key;
		d->seq = due->seq;
		d->delay_us = due->delay_us;
		__sync_lock_test_and_set(&d->deadline_ns, due->deadline_ns);
		return 0;
	}
	return -1;
}

/* The entry at the head of target's ring, published or not; NULL if the
 * ring is empty (the ticker that owns the rings). */
static __always_inline struct hedge_due *
due_head_at(struct hedge_ticker *t, const struct hedge_config *cfg,
	    __u32 target)
{
	__u64 head, tail;
	__u32 k;

	if (target >= HEDGE_MAX_TARGETS)
		return 0;
	k = due_index(target);
	head = t->due_head[k];
	tail = *(volatile __u64 *)&t->due_tail[k];
	return head == tail ? 0 : due_at(cfg, target, head);
}

/* Its deadline as published, 0 while its Splitter is still writing it.
 * A fetch: ordered before the reads of the entry that follow. */
static __always_inline __u64 due_published(struct hedge_due *d)
{
	return __sync_fetch_and_add(&d->deadline_ns, 0);
}

/* The head of target's ring, published; NULL if the ring is empty or its
 * head is still being written. Read in place: it stays as it is until
 * the ticker that owns the rings pops it. */
static __always_inline struct hedge_due *
due_head_entry(struct hedge_ticker *t, const struct hedge_config *cfg,
	       __u32 target)
{
	struct hedge_due *d = due_head_at(t, cfg, target);

	return d && due_published(d) ? d : 0;
}

/* Pop d, the head of target's ring (due_head_entry() found it). */
static __always_inline void due_pop(struct hedge_ticker *t, __u32 target,
				    struct hedge_due *d)
{
	__u32 k;

	if (target >= HEDGE_MAX_TARGETS)
		return;
	k = due_index(target);
	d->deadline_ns = 0;
	__sync_lock_test_and_set(&t->due_head[k], t->due_head[k] + 1);
}

/*
 * Tick line: keep the request's bytes in a slot of the ring for its size
 * (hedge.h), and its deadline in its target's deadline ring, for the ticker.
 * Every way this fails is counted against the request's target. `tcp`
 * (a constant): a TCP target's SYN, parked as tcp_park() says.
 */
static __always_inline void park_frame(struct __sk_buff *skb,
				       const struct hedge_config *cfg,
				       const struct hedge_key *key,
				       const struct hedge_entry *e,
				       struct hedge_stats *st, const int tcp)
{
	struct hedge_due due = { .deadline_ns = e->deadline_ns };
	__u32 zero = 0, target = e->target, len;
	struct hedge_ticker *t = bpf_map_lookup_elem(&hedge_tick, &zero);
	struct hedge_slot_head *h;

	if (!t)
		return;
	if (skb->len <= HEDGE_SMALL_FRAME) {
		h = park_slot(t, cfg, e, 0, &due.seq);
		len = bounded_len(skb->len, HEDGE_SMALL_FRAME);
	} else {
		h = park_slot(t, cfg, e, 1, &due.seq);
		len = bounded_len(skb->len, HEDGE_FRAME_MAX);
	}
	if (!h) {
		if (st)
			st->ring_full++;
		return;
	}
	h->seq = due.seq;
	h->len = len;
	park_meta(skb, h);
	if (!len || bpf_skb_load_bytes(skb, 0, h + 1, len) ||
	    (tcp && tcp_park((__u8 *)(h + 1), &h->len))) {
		h->busy = 0;
		if (st)
			st->clone_failed++;
		return;
	}
	due.key = *key;
	due.delay_us = (__u32)((e->deadline_ns - e->sent_ns) / 1000);
	if (due_push(t, cfg, target, &due)) {
		h->busy = 0;
		if (st)
			st->queue_full++;
		return;
	}
	if (st)
		st->delayed++;
}

/* ---- the tick delay line ------------------------------------------- */

/* Sum `n4` bytes (a multiple of 4) of the UDP segment at `at` from byte k
 * on, at most one 512-byte bpf_csum_diff() at a time; k and udp_max (the
 * slot's largest UDP length) are constants. */
static __always_inline __s64 csum_chunk(__u8 *data, __u32 at, __u32 k,
					__u32 n4, __s64 sum,
					const __u32 udp_max)
{
	__u32 max, size;

	if (k >= udp_max)
		return sum;
	max = udp_max - k < 512 ? udp_max - k : 512;
	if (sum < 0 || n4 <= k)
		return sum;
	size = n4 - k;
	/* The compiler knows n4 <= udp_max and would drop the clamp;
	 * 6.1's verifier has lost that bound and needs it. */
	barrier_var(size);
	if (size > max)
		size = max;
	return bpf_csum_diff(0, 0, (__be32 *)(data + at + k), size,
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

static __always_inline __u32 pseudo_header(const __u8 *data, __u32 at,
					   __u32 ulen, struct pseudo_header *ph)
{
	struct { __be32 saddr, daddr; __u8 zero, proto; __be16 len; } *v4;

	if (at == HEDGE_UDP_AT6) {
		__builtin_memcpy(ph->saddr, data + sizeof(struct ethhdr) +
				 offsetof(struct ipv6hdr, saddr), 32);
		ph->len[0] = ph->len[1] = 0;
		ph->len[2] = ulen >> 8;
		ph->len[3] = ulen & 0xff;
		__builtin_memset(ph->zero, 0, 3);
		ph->proto = IPPROTO_UDP;
		return sizeof(*ph);
	}
	v4 = (void *)ph;
	__builtin_memcpy(&v4->saddr, data + sizeof(struct ethhdr) +
			 offsetof(struct iphdr, saddr), 8);
	v4->zero = 0;
	v4->proto = IPPROTO_UDP;
	v4->len = htons(ulen);
	return sizeof(*v4);
}

/*
 * The parked request's UDP checksum, computed whole, in a slot's `data`
 * of `size` bytes holding `len`, whose UDP length is at most udp_max
 * (constants both). Taken at egress, it may hold only the pseudo-header's
 * sum (CHECKSUM_PARTIAL, to be finished by the device); the ticker's copy
 * leaves as a fresh packet with nobody to finish it, and IPv6 forbids the
 * zero checksum that would skip it.
 */
static __always_inline int fix_udp_csum(__u8 *data, __u32 len,
					const __u32 udp_max, const __u32 size)
{
	struct pseudo_header ph;
	__u8 tail[4] = {};
	__u32 ulen, n4, i, at, ph_len, k;
	__s64 sum;

	/* The Splitter parked only what parse() took: IPv4 or IPv6. */
	at = data[12] == 0x86 ? HEDGE_UDP_AT6 : HEDGE_UDP_AT4;
	ulen = (__u32)data[at + 4] << 8 | data[at + 5];
	if (ulen < 8 || ulen > udp_max || at + ulen > len)
		return -1;
	ph_len = pseudo_header(data, at, ulen, &ph);
	data[at + 6] = 0;
	data[at + 7] = 0;

	sum = bpf_csum_diff(0, 0, (__be32 *)&ph, ph_len, 0);
	n4 = ulen & ~3U;
	sum = csum_chunk(data, at, 0, n4, sum, udp_max);
	sum = csum_chunk(data, at, 512, n4, sum, udp_max);
	sum = csum_chunk(data, at, 1024, n4, sum, udp_max);
	for (i = 0; i < 3; i++) {	/* the last 1..3 bytes, zero-padded */
		k = at + n4 + i;
		barrier_var(k);	/* as above */
		if (n4 + i < ulen && k < size)
			tail[i] = data[k];
	}
	sum = sum < 0 ? sum : bpf_csum_diff(0, 0, (__be32 *)tail, 4, (__u32)sum);
	if (sum < 0)
		return -1;
	sum = (sum & 0xffff) + ((__u32)sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	sum = ~sum & 0xffff;
	if (!sum)
		sum = 0xffff;	/* zero means "no checksum" */
	__builtin_memcpy(data + at + 6, &sum, 2);
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
 * Turn the tick into the parked request `seq` in slot h (data of `size`
 * bytes, frames up to `cap`, UDP up to udp_max: constants) with the
 * metadata it left with, and clone it to the Rescuer. The slot must still
 * hold it after the copy (seq unchanged), or the copy may be torn.
 */
static __always_inline int send_copy(struct __sk_buff *skb,
				     const struct hedge_config *cfg,
				     struct hedge_slot_head *h, __u32 seq,
				     const __u32 cap, const __u32 udp_max,
				     const __u32 size)
{
	__u8 *data = (__u8 *)(h + 1);
	__u32 len = h->seq == seq ? bounded_len(h->len, cap) : 0;
	__be16 vlan_proto = h->meta.vlan_proto;
	long err;

	if (!len || fix_udp_csum(data, len, udp_max, size) ||
	    bpf_skb_change_tail(skb, len, 0) ||
	    bpf_skb_store_bytes(skb, 0, data, len, 0) || h->seq != seq)
		return -1;
	skb->mark = h->meta.mark;
	skb->priority = h->meta.priority;
	if (vlan_proto &&
	    bpf_skb_vlan_push(skb, vlan_proto, h->meta.vlan_tci))
		return -1;
	err = bpf_clone_redirect(skb, cfg->delay_ifindex, 0);
	if (vlan_proto)
		bpf_skb_vlan_pop(skb);	/* the tick goes on untagged */
	return err ? -1 : 0;
}

/* The slot a deadline entry's request is parked in, in its ring. */
static __always_inline struct hedge_slot_head *
slot_of(const struct hedge_config *cfg, const struct hedge_due *due)
{
	__u32 slot, big = due->seq >> 31;

	if (big) {
		slot = due->seq & cfg->big_mask;
		return bpf_map_lookup_elem(&hedge_frames, &slot);
	}
	slot = due->seq & cfg->ring_mask;
	return bpf_map_lookup_elem(&hedge_parked, &slot);
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
 * A popped deadline entry whose request is not sent (answered, evicted,
 * void): count why, and free its slot. An entry gone (e NULL) before
 * sent + --window was evicted from the Scoreboard; past it, it is void.
 * An answered one's entry is freed too (forget.h).
 */
static __always_inline void retire(const struct hedge_config *cfg,
				   struct hedge_due *due, __u32 target,
				   struct hedge_entry *e, __u64 now)
{
	struct hedge_stats *st;
	__u64 sent = due->deadline_ns - (__u64)due->delay_us * 1000;
	struct hedge_slot_head *h;
	__u32 state = 0, newer;	/* gone */
	__u64 other;

	/* Answered, unhedged: nothing needs its entry now (forget.h). */
	if (e) {
		/*
		 * Another request's entry (a later deadline: its ID reused,
		 * --id none): the Splitter takes a key over only from an
		 * exchange that ended, this one, answered: counted as DONE,
		 * whatever the newer's state. Without a branch (newer: 1 if
		 * so, else 0): in the sweep's loop, one doubled the paths
		 * the verifier walks.
		 */
		other = e->deadline_ns ^ due->deadline_ns;
		newer = (__u32)((other | -other) >> 63);
		barrier_var(newer);
		state = (e->state & (newer - 1)) | (HEDGE_DONE & -newer);
		forget(due, e);
	}
	st = stats(target);
	if (st && !state && since(now, sent) < cfg->window_ns)
		st->evicted++;
	else if (st && (state == HEDGE_DONE || state == HEDGE_DONE_HEDGED))
		st->hedges_cancelled++;
	h = slot_of(cfg, due);
	if (h && h->seq == due->seq)
		h->busy = 0;
}

/*
 * A due request of `target`'s: send its copy to the Rescuer (which decides
 * as it does netem's clones) if it is still pending, and free its slot.
 */
static __always_inline void send_due(struct __sk_buff *skb,
				     const struct hedge_config *cfg,
				     struct hedge_due *due, __u32 target,
				     __u64 now)
{
	struct hedge_stats *st;
	struct hedge_slot_head *h;
	struct hedge_entry *e = live_entry(cfg, &due->key, now);
	__u32 big = due->seq >> 31;
	int err = -1;

	/* Pending, and this request: a newer one on its key (an ID
	 * reused) is not hedged with an older one's bytes, before its own
	 * deadline. */
	if (!still_pending(e, due)) {
		retire(cfg, due, target, e, now);
		return;
	}
	/* Tested twice below: from one register, so that the verifier
	 * knows the second test from the first (a ring's slot is never
	 * read with the other ring's bounds). */
	barrier_var(big);
	if (big) {
		__u32 slot = due->seq & cfg->big_mask;

		h = bpf_map_lookup_elem(&hedge_frames, &slot);
		if (h)
			err = send_copy(skb, cfg, h, due->seq, HEDGE_FRAME_MAX,
					HEDGE_UDP_MAX,
					HEDGE_UDP_AT6 + HEDGE_UDP_MAX);
	} else {
		__u32 slot = due->seq & cfg->ring_mask;

		h = bpf_map_lookup_elem(&hedge_parked, &slot);
		if (h)
			err = send_copy(skb, cfg, h, due->seq,
					HEDGE_SMALL_FRAME, HEDGE_SMALL_UDP_MAX,
					HEDGE_SMALL_DATA);
	}
	st = stats(target);
	if (err && st)
		st->clone_failed++;
	if (h && h->seq == due->seq)
		h->busy = 0;
}

/*
 * The target whose ring's head is due first, its deadline into *when; -1
 * if all are empty. A head still being written comes first, *when 0.
 * The least so far is kept in this CPU's scratch, not in registers or on
 * the stack: read from a map, a value is any to the verifier, which walks
 * a path per value a constant or a range may hold, and cannot merge them
 * once a test on it makes it precise. A target kept as a constant on
 * each of the loop's 17 paths out took the ticker from ~340 000 insns to
 * ~990 000; a deadline whose range each test narrows, past 1 000 000
 * (a BPF queue's peek, before the rings, had left it none). Nothing else
 * runs on this CPU meanwhile. A per-CPU array's key 0 is always there:
 * the -1 is for the verifier.
 */
static __always_inline int earliest(const struct hedge_config *cfg,
				    struct hedge_ticker *tk, __u64 *when)
{
	__u32 zero = 0, t;
	struct hedge_scratch *s = bpf_map_lookup_elem(&hedge_scratch, &zero);
	volatile __u64 *least;
	volatile __s64 *best;
	struct hedge_due *d;
	__u64 w;

	*when = ~0ULL;
	if (!s)
		return -1;
	least = &s->when;
	best = &s->best;
	*least = ~0ULL;
	*best = -1;
	for (t = 0; t < HEDGE_MAX_TARGETS && t < cfg->n_targets; t++) {
		d = due_head_at(tk, cfg, t);
		if (!d)
			continue;
		w = due_published(d);
		if (w < *least) {
			*least = w;
			*best = t;
		}
	}
	*when = *least;
	/* Tested on reads of its own, returned from another: the same
	 * value (nothing else runs here), but to the verifier one in
	 * range and no more (one read, tested and returned, cost ~25%
	 * more instructions to verify). */
	return *best >= 0 && *best < HEDGE_MAX_TARGETS ? (int)*best : -1;
}

/*
 * The shortest tick that sleeps at least `us` (HEDGE_TICK_MIN..max_us),
 * in bytes; past HEDGE_TICK_FINE rounded up to the size table's step, but
 * never past max_us (then it wakes a little early, and sleeps again).
 */
static __always_inline __u64 tick_len(__u64 us, __u64 max_us)
{
	__u64 len;

	if (us <= HEDGE_TICK_FINE)
		return us;
	len = HEDGE_TICK_FINE +
	      (us - HEDGE_TICK_FINE + HEDGE_TICK_STEP - 1) / HEDGE_TICK_STEP;
	if (HEDGE_TICK_US(len) > max_us)
		len--;
	return len;
}

/* How long TBF held a tick of `len` bytes, in us (its size table). */
static __always_inline __u64 tick_us(__u64 len)
{
	if (len > HEDGE_TICK_LONGEST)
		len = HEDGE_TICK_LONGEST;	/* none is: rearm() sizes them */
	return HEDGE_TICK_US(len);
}

/*
 * Size the tick to sleep until the next deadline (or as long as it may)
 * and make it a tick again. TBF, 1 us a byte by its size table, releases
 * a tick of L bytes HEDGE_TICK_US(L) us after it released the last one --
 * counting from that release's due time, not its actual one, since tokens
 * carry over; only a bucket full to its burst forgets. Never early: the
 * length is rounded up. `arrived_len`: the length of the tick we hold
 * when it came (it took tick_us() of it in tokens).
 */
static __always_inline void rearm(struct __sk_buff *skb,
				  const struct hedge_config *cfg,
				  struct hedge_ticker *t, __u64 now,
				  __u64 arrived_len, __u32 gen)
{
	struct hedge_tick_head h = {};
	__u64 base = t->release_ns, floor, wake, us, max_us, len, next;

	/* The tick we hold was released at base; it cannot be later than
	 * now, nor earlier than what a full bucket allows (it took
	 * tick_us(arrived_len) tokens: skb->len may since be a due
	 * request's). */
	floor = now - HEDGE_TICK_BURST * 1000ULL +
		tick_us(arrived_len) * 1000ULL;
	if (base > now)
		base = now;
	if (base < floor)
		base = floor;
	/* Sleep no longer than the delay, or a new request would be late;
	 * nor than HEDGE_TICK_LONGEST_US: hedges are made from this skb,
	 * which stays a frame long. */
	max_us = shortest_delay(cfg) / 1000;
	if (max_us > HEDGE_TICK_LONGEST_US)
		max_us = HEDGE_TICK_LONGEST_US;
	if (max_us < HEDGE_TICK_MIN)
		max_us = HEDGE_TICK_MIN;
	wake = base + max_us * 1000;
	if (earliest(cfg, t, &next) < 0)
		h.udp[0] = HEDGE_TICK_LINGER;	/* nothing queued */
	else if (next < wake)
		wake = next;
	us = wake > base ? (wake - base + 999) / 1000 : 0;
	if (us < HEDGE_TICK_MIN)
		us = HEDGE_TICK_MIN;
	if (us > max_us)
		us = max_us;
	len = tick_len(us, max_us);
	t->release_ns = base + HEDGE_TICK_US(len) * 1000;

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
 * Whether the tick we got left with nothing queued (rearm() marks it
 * HEDGE_TICK_LINGER): if nothing is queued still, the tick stops. So a
 * tick that emptied the rings sleeps once more before it stops, and the
 * requests of a steady low rate find it running instead of each starting
 * one. Read before a hedge is written over the tick. (A start's byte
 * there is its request's: after a start its own request is queued.)
 */
static __always_inline int tick_lingered(struct __sk_buff *skb)
{
	__u8 mark = 0;

	bpf_skb_load_bytes(skb, __builtin_offsetof(struct hedge_tick_head,
						   udp), &mark, 1);
	return mark == HEDGE_TICK_LINGER;
}

/*
 * After the Splitter parked a request: start a tick if there is none
 * (IDLE), or the one there was is lost (see enum hedge_tick_state). The
 * request, cloned with the mark straight into the ticker (DL_IN's
 * ingress, not through TBF: a request's length is no sleep), is the new
 * tick; the original keeps its mark. Called after the push: the atomic
 * read orders the two, so a ticker going idle either sees the request
 * queued or leaves IDLE for us to see.
 */
static __always_inline void tick_wake(struct __sk_buff *skb,
				      const struct hedge_config *cfg, __u64 now)
{
	__u32 zero = 0, state, gen, mark;
	struct hedge_ticker *t = bpf_map_lookup_elem(&hedge_tick, &zero);
	__u64 run;

	if (!t)
		return;
	/* A plain read: the compare-and-swap below decides; an atomic
	 * read would take the cache line from the ticker on every request. */
	run = *(volatile __u64 *)&t->run;
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
	bpf_clone_redirect(skb, cfg->delay_ifindex, BPF_F_INGRESS);
	skb->mark = mark;
}

/*
 * Whether the packet the ticker got is the one tick: a tick of the current
 * generation while RUNNING, or the marked request that starts it (sent
 * straight here, it took no TBF tokens). Its generation into *gen.
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
	return 1;
}

/*
 * The lazy tick: drop the heads of `target`'s ring whose request needs no
 * hedge any more (answered, void, or superseded), however far their
 * deadline, at most HEDGE_TICK_SWEEP a tick; the tick then sleeps until
 * the first one still pending. One answered within its grace (forget.h)
 * stops the sweep too: a later wake-up takes it, as does a head still
 * being written. The ticker sweeps the ring whose head would wake it (one
 * loop over one ring: what the verifier can walk).
 * Only the ticker that owns the rings pops (tick_own()): the head popped
 * is the one peeked.
 */
static __always_inline void sweep(const struct hedge_config *cfg,
				  struct hedge_ticker *t, int target, __u64 now)
{
	struct hedge_entry *e;
	struct hedge_due *d;
	__u32 key = (__u32)target, i;

	if (target < 0 || key >= HEDGE_MAX_TARGETS)
		return;
	for (i = 0; i < HEDGE_TICK_SWEEP; i++) {
		d = due_head_entry(t, cfg, key);
		if (!d)
			return;
		e = live_entry(cfg, &d->key, now);
		if (still_pending(e, d) || answered_in_grace(e, d, now))
			return;
		retire(cfg, d, key, e, now);
		due_pop(t, key, d);
	}
}

/*
 * Whether this ticker may pop the deadline rings; then 1, and it calls
 * tick_disown() after. Two tickers can run at once: the Splitter starts a
 * new tick once the last one is HEDGE_TICK_STALE_NS past its release, and
 * the old one may just then be inside hedge_ticker on another CPU (taken
 * in late, before the new generation). Popping peeks a head, then pops
 * it: with one ticker popping at a time, the head popped is the one
 * peeked (no other program pops). The other pops nothing: its tick sleeps
 * and comes back. A program always runs to its end: never left set.
 */
static __always_inline int tick_own(struct hedge_ticker *t)
{
	return __sync_val_compare_and_swap(&t->popping, 0, 1) == 0;
}

static __always_inline void tick_disown(struct hedge_ticker *t)
{
	__sync_lock_test_and_set(&t->popping, 0);
}

/*
 * Every ring empty: let the tick die, IDLE. A request parked meanwhile
 * either saw RUNNING (and started nothing: its ring's tail moved before,
 * seen here after the swap, and the tick goes on) or sees IDLE and starts
 * a tick.
 * Returns 1 if the tick must die.
 */
static __always_inline int go_idle(const struct hedge_config *cfg,
				   struct hedge_ticker *t, __u32 gen)
{
	__u64 running = HEDGE_TICK_RUN(gen, HEDGE_TICK_RUNNING),
	      idle = HEDGE_TICK_RUN(gen, HEDGE_TICK_IDLE), when;

	if (__sync_val_compare_and_swap(&t->run, running, idle) != running)
		return 1;	/* no longer the tick: a newer one is coming */
	if (earliest(cfg, t, &when) < 0)
		return 1;
	return __sync_val_compare_and_swap(&t->run, idle, running) != idle;
}

/*
 * A new request (or a TCP target's SYN: tcp) recorded as e: its copy onto
 * the delay line, parked for the tick or cloned into netem; counted.
 */
static __always_inline void to_delay_line(struct __sk_buff *skb,
					  const struct hedge_config *cfg,
					  const struct hedge_key *key,
					  const struct hedge_entry *e,
					  struct hedge_stats *st, __u64 now,
					  const int tcp)
{
	if (cfg->delay_line == HEDGE_DL_TICK) {
		park_frame(skb, cfg, key, e, st, tcp);
		tick_wake(skb, cfg, now);
	} else if (bpf_clone_redirect(skb, cfg->delay_ifindex, 0)) {
		if (st)
			st->clone_failed++;
	} else if (st) {
		st->delayed++;
	}
}

#endif
