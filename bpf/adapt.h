/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * bpf/adapt.h - the adaptive delay (deadline(), record_response(),
 * adapt()) and the hedging budget (deposit(), withdraw()).
 */
#ifndef HEDGE_BPF_ADAPT_H
#define HEDGE_BPF_ADAPT_H

#include "maps.h"

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
	barrier_var(b);
	return b < HEDGE_HIST_BUCKETS ? b : HEDGE_HIST_BUCKETS - 1;
}

/*
 * A request's first response: its response time goes to the target's
 * counters (per CPU) and, for an adaptive delay, to the histogram the
 * ticker takes the delay from (shared, so atomic).
 */
/* b as an index of a histogram, bounded where it is used: in a program
 * as large as the watcher, clang may keep b on the stack between
 * hist_bucket() and its use, and 6.1's verifier forgets the bound of a
 * scalar spilled there. */
static __always_inline __u32 hist_at(__u32 b)
{
	barrier_var(b);
	return b < HEDGE_HIST_BUCKETS ? b : HEDGE_HIST_BUCKETS - 1;
}

static __always_inline void record_response(const struct hedge_config *cfg,
					    struct hedge_stats *st,
					    struct hedge_entry *e, __u64 now)
{
	__u64 rt = since(now, e->sent_ns), us = rt / 1000;
	__u32 b = hist_bucket(rt), target = e->target;
	struct hedge_adapt *a;

	/* When it was answered (never 0: "not yet"): forget.h's grace,
	 * saved.h's time saved. */
	e->first_us = !us ? 1 : us < 0xffffffffULL ? (__u32)us : 0xffffffffU;

	if (st) {
		st->responses++;
		st->rt_sum_ns += rt;
		st->rt[hist_at(b)]++;
	}
	if (!(cfg->flags & HEDGE_F_ADAPTIVE))
		return;
	a = bpf_map_lookup_elem(&hedge_adapt, &target);
	if (a) {
		__sync_fetch_and_add(&a->hist[hist_at(b)], HEDGE_HIST_ONE);
		__sync_fetch_and_add(&a->fresh, 1);
	}
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

	if (!a || since(now, a->updated_ns) < HEDGE_ADAPT_NS)
		return;
	decay = since(now, a->decayed_ns) >= HEDGE_DECAY_NS &&
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
	least = since(now, a->updated_ns);
	least = a->delay_ns > least ? a->delay_ns - least : 0;
	a->delay_ns = want > least ? want : least;
	a->updated_ns = now;
}

/*
 * The longest any request parked now may wait: every one is due by now
 * plus the longest delay a target gives now, since a delay rises at once
 * but falls no faster than time passes (adapt(), deadline()).
 */
static __always_inline __u64 longest_delay(const struct hedge_config *cfg)
{
	__u64 most = 0, d;
	struct hedge_adapt *a;
	__u32 t, key;

	if (!(cfg->flags & HEDGE_F_ADAPTIVE))
		return cfg->delay_ns;
	for (t = 0; t < HEDGE_MAX_TARGETS && t < cfg->n_targets; t++) {
		key = t;
		a = bpf_map_lookup_elem(&hedge_adapt, &key);
		d = a ? a->delay_ns : cfg->delay_ns;	/* as deadline() */
		if (d > most)
			most = d;
	}
	return most;
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

/* `milli` milli-hedges into the target's budget, if it has one. */
static __always_inline void credit(const struct hedge_config *cfg,
				   __u32 target, __s64 milli)
{
	struct hedge_budget *b;

	if (cfg->budget_pct >= 100)
		return;
	b = bpf_map_lookup_elem(&hedge_budget, &target);
	if (b)
		__sync_fetch_and_add(&b->tokens, milli);
}

/* A new request: its share of a hedge goes to its target's budget. */
static __always_inline void deposit(const struct hedge_config *cfg,
				    __u32 target)
{
	credit(cfg, target, cfg->budget_pct * (HEDGE_MILLI / 100));
}

/*
 * May the target afford a hedge `now`? Credits the time since the last
 * credit (one CPU wins each stretch), then withdraws one hedge, keeping
 * no more than the cap. Several CPUs may race here (netem line): every
 * change is a compare-and-swap, and after a few lost races it says no.
 */
static __always_inline int withdraw(const struct hedge_config *cfg,
				    __u32 target, __u64 now)
{
	struct hedge_budget *b;
	__u64 last, span;
	__s64 old, left;
	int tries;

	if (cfg->budget_pct >= 100)
		return 1;
	b = bpf_map_lookup_elem(&hedge_budget, &target);
	if (!b)
		return 1;
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

/* A hedge withdrawn but not sent after all: back into the budget. */
static __always_inline void refund(const struct hedge_config *cfg,
				   __u32 target)
{
	credit(cfg, target, HEDGE_MILLI);
}

#endif
