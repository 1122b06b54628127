/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * bpf/saved.h - time saved by hedging, and hedges wasted (issue 13): the
 * watcher sees both answers of a hedged request; the first decides whose
 * answer came first (saved_answer()), the second how much later the
 * slower one came (saved_second()); one never seen is counted when its
 * entry is found past --window or its key reused (saved_gone()).
 *
 * Whose answer came first:
 *   - a target with a replica: the source address tells (the replica's
 *     answer is the hedge's). Always decided.
 *   - the same server: both copies carry the same bytes, so the timing
 *     decides. The hedge left at its deadline or later, and no answer of
 *     this target's has come back faster than its least response time
 *     seen (hedge_rtt_min, from unhedged requests, whose answer can only
 *     be the original's): an answer before deadline + that is the
 *     original's (wasted, decided). A later one could be either's: it is
 *     taken for the hedge's (helped) and also counted undecided. With no
 *     unhedged answer seen yet (least 0), every one is undecided.
 *
 * State: in the request's Scoreboard entry (first_us, saved; hedge.h),
 * which lives until --window or its key's reuse; a record past --window
 * taken by a new request is told as gone (saved_gone(), scores.h). No
 * map of its own but the per-target least RTT: nothing to overflow.
 * Counters are per CPU (hedge_stats).
 */
#ifndef HEDGE_BPF_SAVED_H
#define HEDGE_BPF_SAVED_H

#include "adapt.h"

/* The Scoreboard's, in hedge.bpf.c. */
static __always_inline struct hedge_stats *stats(__u32 target);

/* An unhedged request's response time: the target's least, if less. Set
 * by compare-and-swap; after two lost races (others set a least just
 * now) it gives up. */
static __always_inline void saved_rtt(__u32 target, __u64 rt)
{
	__u64 *least = bpf_map_lookup_elem(&hedge_rtt_min, &target), old;
	int tries;

	if (!least)
		return;
	rt = rt ? rt : 1;	/* 0 is "none yet" */
	for (tries = 0; tries < 2; tries++) {
		old = *least;
		if (old && old <= rt)
			return;
		if (__sync_val_compare_and_swap(least, old, rt) == old)
			return;
	}
}

/* Whose is the first answer of a hedged request: HEDGE_SAVED_HELPED (the
 * hedge's) or HEDGE_SAVED_WASTED (the original's); see above. */
static __always_inline __u32 saved_verdict(const struct hedge_config *cfg,
					   struct hedge_stats *st,
					   const struct hedge_entry *e,
					   const struct datagram *d, __u64 now)
{
	const struct hedge_target *t = target_of(cfg, e->target);
	__u32 target = e->target;
	__u64 *least;

	if (t && t->replica.port)
		return d->replica ? HEDGE_SAVED_HELPED : HEDGE_SAVED_WASTED;
	least = bpf_map_lookup_elem(&hedge_rtt_min, &target);
	if (least && *least && now < e->deadline_ns + *least)
		return HEDGE_SAVED_WASTED;
	if (st)
		st->saved_undecided++;
	return HEDGE_SAVED_HELPED;
}

/*
 * A request's first answer, its state before it `state`: unhedged
 * (PENDING), its response time is a least RTT candidate; hedged, the
 * verdict is kept in its entry for the second answer. A second answer
 * racing this one on another CPU may find no verdict yet: it then records
 * nothing (the entry counts neither saved nor unanswered). `now`: the
 * watcher's one clock read for this packet (as record_response()'s).
 */
static __always_inline void saved_answer(const struct hedge_config *cfg,
					 struct hedge_stats *st,
					 struct hedge_entry *e,
					 const struct datagram *d, __u32 state,
					 __u64 now)
{
	__u32 verdict;

	if (state == HEDGE_PENDING) {
		saved_rtt(e->target, since(now, e->sent_ns));
		return;
	}
	if (state != HEDGE_HEDGED)
		return;
	verdict = saved_verdict(cfg, st, e, d, now);
	/* first_us: written by record_response(), just before. */
	e->saved = verdict;
	if (!st)
		return;
	if (verdict == HEDGE_SAVED_HELPED)
		st->hedges_helped++;
	else
		st->hedges_wasted++;
}

/* Close the verdict, once (compare-and-swap): 1 if it was `open`. */
static __always_inline int saved_close(struct hedge_entry *e, __u32 open)
{
	return e->saved == open &&
	       __sync_val_compare_and_swap(&e->saved, open,
					   open | HEDGE_SAVED_CLOSED) == open;
}

/* The second answer of a hedged request (DONE_HEDGED): if the hedge's
 * came first, the original's came this much later: time saved. */
static __always_inline void saved_second(struct hedge_stats *st,
					 struct hedge_entry *e, __u64 now)
{
	__u64 first, gap;

	/* Wasted, or already closed: nothing saved. */
	if (!saved_close(e, HEDGE_SAVED_HELPED) || !st)
		return;
	first = e->sent_ns + (__u64)e->first_us * 1000;
	gap = since(now, first);
	st->saved_sum_ns += gap;
	st->saved[hist_bucket(gap)]++;
}

/* An entry about to go (past --window, or its key reused): a helped
 * request whose original never answered is counted so. */
static __always_inline void saved_gone(struct hedge_entry *e)
{
	struct hedge_stats *st;

	if (e->state != HEDGE_DONE_HEDGED || !saved_close(e, HEDGE_SAVED_HELPED))
		return;
	st = stats(e->target);
	if (st)
		st->originals_unanswered++;
}

#endif
