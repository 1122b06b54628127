/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * bpf/forget.h - free an answered request's Scoreboard entry once nothing
 * can need it any more.
 *
 * Why: kept, answered entries fill the Scoreboard (bpf/scores.h) once
 * rate x their life exceeds its size: its sets in use grow to the whole
 * array, then new requests find their set full and go to the stash, whose
 * LRU takes the oldest (counted `evicted` at their deadline). (With the
 * LRU hash the Scoreboard was before, the LRU evicted pending requests:
 * an answered entry, looked up again, stayed on its active list.)
 *
 * When: an entry DONE (answered, no hedge sent) once nothing will look
 * for it to hedge it: no hedge is sent, so no loser's answer can come,
 * and its least RTT was taken at its answer (saved.h). Freed then:
 *   - tick line: when the ticker retires its deadline entry (retire():
 *     in the sweep, at its deadline or before it; or in the send loop,
 *     send_due(), due right behind a stalled one); the entry must be
 *     that request's own (its deadline), not a newer request's on the
 *     same key (an ID reused, --id none).
 *   - netem: when the Rescuer finds it DONE and its deadline passed (the
 *     clone carries no deadline: the entry's own clone is due, and an
 *     entry on that key is the latest request's).
 * DONE_HEDGED stays until --window: its loser's answer is to be dropped.
 * The sweep (tick.h), which frees answered requests long before their
 * deadline, not within HEDGE_FORGET_GRACE_NS of the answer
 * (answered_in_grace()): a network duplicate of the answer comes right
 * behind it (the same burst, µs later) and is dropped while the entry is
 * there. The sweep stops at such an entry; a later wake-up takes it. At
 * its deadline (the send loop, the Rescuer) it goes even within its grace:
 * kept, it would stay until --window, and with a delay under the grace
 * (adaptive) that would be every answered request, the Scoreboard filled
 * again.
 * A duplicate passes then only if its answer came within the grace
 * before the deadline.
 *
 * What changes: a network duplicate of an unhedged answer coming after
 * its entry is freed passes, as it would without hedge (one coming
 * before is dropped, as before). The Scoreboard now holds the requests
 * within their delay, the hedged ones within --window and the answered
 * ones not yet retired, no longer every request of the last --window.
 * The watcher cannot free the entry at the answer itself: the request's
 * copy waiting in the delay line would then find no entry and be counted
 * evicted; an answered request and an evicted one are told apart only by
 * the entry.
 *
 * Races: the record is freed by compare-and-swap from DONE (score_free()):
 * a new request the Splitter put on the key meanwhile (its record
 * claimed, then PENDING) is left alone. The Splitter, finding the DONE
 * record freed between its look and its claim, inserts anew.
 */
#ifndef HEDGE_BPF_FORGET_H
#define HEDGE_BPF_FORGET_H

#include "scores.h"

/* Answered within HEDGE_FORGET_GRACE_NS before `now`, or just now (its
 * time, written right after the state, not there yet: first_us 0). */
static __always_inline int answered_lately(const struct hedge_entry *e,
					   __u64 now)
{
	__u32 us = e->first_us;

	return !us || since(now, e->sent_ns + (__u64)us * 1000) <
		      HEDGE_FORGET_GRACE_NS;
}

/* The due entry's request, answered unhedged within its grace: the
 * sweep leaves it queued for now. */
static __always_inline int answered_in_grace(const struct hedge_entry *e,
					     const struct hedge_due *due,
					     __u64 now)
{
	return e && e->state == HEDGE_DONE &&
	       e->deadline_ns == due->deadline_ns && answered_lately(e, now);
}

/*
 * Free the entry `e` (not NULL) of the deadline entry `due`'s key if it
 * is the answered request due then. Without a branch (what the verifier
 * walks in the sweep's loop): a record to keep is freed only from a state
 * no record has (all ones), and the compare-and-swap misses.
 */
static __always_inline void forget(struct hedge_due *due,
				   struct hedge_entry *e)
{
	__u64 keep = (__u64)(e->state ^ HEDGE_DONE) |
		     (e->deadline_ns ^ due->deadline_ns);
	/* All ones (no state) to keep it, else 0. */
	__u32 never = (__u32)-((keep | -keep) >> 63);

	score_free(e, HEDGE_DONE | never);
}

/* netem: the same, its deadline passed by `now`. */
static __always_inline void forget_due(struct hedge_entry *e, __u64 now)
{
	__u64 due = e->deadline_ns;

	if (e->state == HEDGE_DONE && due <= now)
		score_free(e, HEDGE_DONE);
}

#endif
