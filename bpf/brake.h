/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * bpf/brake.h - the overload brake: a target that is overloaded is not
 * hedged for a while, so that hedge does not make its overload worse.
 *
 * Why: hedging costs the host work per request (the Scoreboard, a copy
 * parked, the tick, the watcher's verdict) besides the hedges themselves.
 * Where that work shares a CPU with the server (a 2-CPU host, the
 * server's answers crossing a veth in its own send), it can push a server
 * near capacity past it: answers come late, late answers are due for
 * hedges, hedges add load, and the exchange collapses where it would not
 * without hedge (BENCHMARKS.md: at 100 000/s, 77-94% lost with hedge, 0
 * without). The budget caps the hedges but not the cost of tracking.
 *
 * Signal: the budget refusing hedges persistently. Every request due and
 * still unanswered reaches the Rescuer (netem's clone, or the ticker's
 * copy of a request still PENDING), which asks the budget; the budget
 * allows --budget % of the requests (+ --budget-min-rate/s). Refusals
 * mean more requests miss their deadline than the budget allows; 3 in 4
 * refused means about 4 x --budget % of them do: the "tail" is no longer
 * a tail, the target is overloaded (or down), and a hedge would not find
 * it faster. It is measured where it is already known, per target, in
 * the Rescuer, which runs only for such requests: nothing is added to
 * the path of a request answered in time, and nothing to the ticker
 * (at its verifier limit). Counted in epochs of HEDGE_BRAKE_EPOCH_NS:
 * the first Rescuer after an epoch's end (compare-and-swap) judges it:
 * overloaded if at least HEDGE_BRAKE_MIN_REFUSED refusals and >= 3/4 of
 * the due requests refused; an epoch first judged two epochs or more
 * after it began (no due request meanwhile) is not judged, only reset.
 * A new episode takes HEDGE_BRAKE_IN_ROW (3) overloaded epochs in a
 * row, or one with at least HEDGE_BRAKE_SURE_REFUSED refusals. A stall
 * (of the tick, or of a client that then sends what it owes at once)
 * puts a backlog into one epoch, or two where it straddles an epoch's
 * end (the tick sends HEDGE_TICK_BATCH a wake-up, so a backlog of 30
 * goes out over ~250 us): a clump, not a rate (CI saw a target slow at
 * 500/s braked for 100 ms after a host stall). An overload's refusals
 * come by the thousand an epoch, and each epoch it waits lets the
 * server's queue grow (the standing queue of BENCHMARKS.md's
 * brake-timeline runs forms before the brake engages): one sure epoch
 * engages it at once. So a target answering late at a low rate (under
 * ~800 refusals a second, 16 an epoch) is never braked, nor for a
 * backlog of fewer than 256 (a client's stall of half a second at
 * 500/s): there hedge's own work is small, and the budget alone bounds
 * the hedges (the budget tests, tests/metrics.sh at 500/s with a 60 ms
 * stall, stay as they were). Not used:
 * ring_full/queue_full (they come far later, at --max-inflight), the
 * tick's lateness (the ticker is at its limit),
 * answers past their deadline (the watcher's path is every response's).
 * Without a budget (--budget 100) nothing is refused: the brake is off,
 * as every late request's hedge is then wanted.
 *
 * Braking: the Splitter, for a new request to a braking target, neither
 * records nor parks it: it passes untouched, at the cost of its parse
 * and this one look, counted requests_braked (not in requests). That
 * removes hedge's added work, not just the hedges; with nothing parked
 * the tick goes idle. Requests already in flight are judged, hedged or
 * refused as before. One in HEDGE_BRAKE_PROBE is tracked all the same,
 * a probe, so that the Rescuer can still measure while braking.
 *
 * Hold and backoff: engaged for HEDGE_BRAKE_HOLD_MIN (100 ms). One epoch
 * judged overloaded near its end (the last two epochs: the probes' view)
 * or within one hold after it (once fully tracked again) engages it
 * again for twice the last hold, up to HEDGE_BRAKE_HOLD_MAX (800 ms: a
 * flood that ends leaves hedging off for less than the default --window;
 * a lasting overload is judged again within 40 ms of each release).
 * Overload judged later than that starts a new episode at 100 ms. The
 * brake releases by itself: the Splitter tracks again once
 * brake_until_ns has passed, whether or not anything comes to judge.
 *
 * State: per target, at the end of its hedge_budget entry (hedge.h),
 * which the Splitter and the Rescuer look up already. Shared across
 * CPUs: the epoch's counts are atomic adds, the epoch's and the hold's
 * moves one compare-and-swap; counts added between a judge's read and
 * its subtraction go to the next epoch. brake_seen is a plain add (a
 * probe more or less does not matter).
 *
 * User space: braking while now < brake_until_ns; `status` says it as a
 * degradation (health.c, kind "overload") while braking and for a minute
 * after, with requests_braked.
 *
 * Late duplicates: a hedged request's second answer coming later than
 * --window finds its entry past the window; the watcher, deleting it,
 * counts it duplicates_passed (it reaches the client, as its entry is
 * void). One whose entry is already gone (evicted by the LRU, or found
 * void by another lookup first) cannot be told from an answer to a
 * request never tracked (braked, or before `up`): not counted.
 */
#ifndef HEDGE_BPF_BRAKE_H
#define HEDGE_BPF_BRAKE_H

#include "maps.h"

/* The Scoreboard's, in hedge.bpf.c. */
static __always_inline struct hedge_stats *stats(__u32 target);
static __always_inline int expired(const struct hedge_entry *e,
				   const struct hedge_config *cfg, __u64 now);
static __always_inline void forget_void(struct hedge_entry *e);

/* The brake's state: the target's budget entry, or NULL (no budget). */
static __always_inline struct hedge_budget *
brake_of(const struct hedge_config *cfg, __u32 target)
{
	if (cfg->budget_pct >= 100)
		return 0;
	return bpf_map_lookup_elem(&hedge_budget, &target);
}

/*
 * Splitter: 1 if the new request to `target` at `now` passes untracked
 * (braking, not a probe; counted), 0 if it is to be tracked.
 */
static __always_inline int braked(const struct hedge_config *cfg,
				  __u32 target, __u64 now)
{
	struct hedge_budget *b = brake_of(cfg, target);
	struct hedge_stats *st;

	if (!b || now >= b->brake_until_ns)
		return 0;
	if (b->brake_seen++ % HEDGE_BRAKE_PROBE == 0)
		return 0;	/* a probe */
	st = stats(target);
	if (st)
		st->requests_braked++;
	return 1;
}

/* 1 if b's episode goes on at `now`: braking, or released less than a
 * hold ago. */
static __always_inline int brake_episode_on(const struct hedge_budget *b,
					    __u64 now)
{
	__u64 until = b->brake_until_ns;

	return until && now < until + b->brake_hold_ns;
}

/* Engage (or extend) the brake of b at `now`: twice the last hold if
 * its episode goes on, else a new episode at the least hold. */
static __always_inline void brake_engage(struct hedge_budget *b, __u64 now)
{
	__u64 hold = b->brake_hold_ns;

	if (brake_episode_on(b, now)) {
		hold *= 2;
		if (hold > HEDGE_BRAKE_HOLD_MAX)
			hold = HEDGE_BRAKE_HOLD_MAX;
	} else {
		hold = HEDGE_BRAKE_HOLD_MIN;
		b->brake_since_ns = now;
		__sync_fetch_and_add(&b->brake_episodes, 1);
	}
	b->brake_hold_ns = hold;
	b->brake_until_ns = now + hold;
}

/*
 * Rescuer: a due request of `target`'s still unanswered at `now`, its
 * hedge sent (refused 0) or refused by the budget (1). Judges the epoch
 * that ended, if one did (see above).
 */
static __always_inline void brake_note(const struct hedge_config *cfg,
				       __u32 target, int refused, __u64 now)
{
	struct hedge_budget *b = brake_of(cfg, target);
	__u64 start, missed, nrefused, streak;

	if (!b)
		return;
	__sync_fetch_and_add(&b->brake_missed, 1);
	if (refused)
		__sync_fetch_and_add(&b->brake_refused, 1);
	start = b->brake_epoch_ns;
	if (since(now, start) < HEDGE_BRAKE_EPOCH_NS ||
	    __sync_val_compare_and_swap(&b->brake_epoch_ns, start, now) != start)
		return;
	missed = b->brake_missed;
	nrefused = b->brake_refused;
	__sync_fetch_and_add(&b->brake_missed, -missed);
	__sync_fetch_and_add(&b->brake_refused, -nrefused);
	/* Not overloaded: too few refusals, or too small a share, or an
	 * epoch judged two or more epochs after it began, which spans a
	 * quiet gap (no due request came): its counts are not an epoch's
	 * rate (a flood's last refusals, then nothing). Any of these ends
	 * the streak. Only this judge (the compare-and-swap's winner)
	 * writes it: every epoch ends here, so it counts the overloaded
	 * ones in a row up to this one. */
	if (since(now, start) >= 2 * HEDGE_BRAKE_EPOCH_NS ||
	    nrefused < HEDGE_BRAKE_MIN_REFUSED || nrefused * 4 < missed * 3) {
		b->brake_streak = 0;
		return;
	}
	streak = b->brake_streak + 1;	/* overloaded */
	b->brake_streak = streak;
	/* Braking, and not near the end: the hold stands. */
	if (now + 2 * HEDGE_BRAKE_EPOCH_NS < b->brake_until_ns)
		return;
	/* A new episode wants HEDGE_BRAKE_IN_ROW in a row, unless this
	 * one is sure: one or two may be a clump (a stalled tick's backlog
	 * rescued at once, a client's burst after a stall of its own),
	 * not a rate. */
	if (!brake_episode_on(b, now) && streak < HEDGE_BRAKE_IN_ROW &&
	    nrefused < HEDGE_BRAKE_SURE_REFUSED)
		return;
	brake_engage(b, now);
}

/*
 * Watcher: the Scoreboard's entry for an answer at `now`, if it is within
 * --window; one past it is void and goes (as live_entry()), and if its
 * request was hedged and answered, this is the loser's answer, late: it
 * passes to the client, counted duplicates_passed.
 */
static __always_inline struct hedge_entry *
answer_entry(const struct hedge_config *cfg, const struct hedge_key *key,
	     __u64 now)
{
	struct hedge_entry *e = score_entry(cfg, key);
	struct hedge_stats *st;

	if (!e || !expired(e, cfg, now))
		return e;
	if (e->state == HEDGE_DONE_HEDGED) {
		st = stats(e->target);
		if (st)
			st->duplicates_passed++;
	}
	forget_void(e);
	return 0;
}

#endif
