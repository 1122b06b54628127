/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * bpf/forget.h - free an answered request's Scoreboard entry once nothing
 * can need it any more.
 *
 * Why: the Scoreboard is an LRU hash. Kept, answered entries fill it once
 * rate x their life exceeds its size, and from then on every new request
 * evicts one. Whom the LRU evicts (kernel/bpf/bpf_lru_list.c): a new
 * entry joins its CPU's pending list with no reference bit; taken into the
 * LRU lists, it goes to the inactive list unless it was looked up by
 * then. Victims are taken from the inactive list's tail, those with the
 * bit set given another round in the active list; the active list's tail
 * goes inactive only when the inactive list is the shorter. An answered
 * entry is looked up by the watcher and again at its deadline (its clone
 * at the Rescuer, its deadline entry at the ticker), so it keeps its bit
 * and stays active; a request still pending is looked up by nobody
 * until its deadline. With the active list full of answered entries the
 * inactive one holds little but pending requests, and those are what the
 * LRU evicts: exactly the ones that may need a hedge (counted `evicted`,
 * unhedged).
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
 * (adaptive) that would be every answered request, the LRU filled again.
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
 * Races: the Splitter may put a new request on the key between the
 * check and the delete; it is then deleted with it and counted evicted at
 * its deadline: by the ticker always (retire()), by netem's Rescuer where
 * it counts any entry gone (--window over twice --delay; below that, as
 * silent as an LRU eviction there). The Splitter, finding the DONE entry
 * gone between its look and its write, inserts anew (BPF_ANY).
 */
#ifndef HEDGE_BPF_FORGET_H
#define HEDGE_BPF_FORGET_H

#include "maps.h"

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
 * is the answered request due then. Without a branch nor a copy of the
 * key (what the verifier walks in the sweep's loop): a key to keep is
 * made one no entry has (its pad, always 0, made nonzero), and the
 * delete misses. `due` is popped: its key is needed no more.
 */
static __always_inline void forget(struct hedge_due *due,
				   const struct hedge_entry *e)
{
	__u64 keep = (__u64)(e->state ^ HEDGE_DONE) |
		     (e->deadline_ns ^ due->deadline_ns);

	due->key.pad = (__u32)keep | (__u32)(keep >> 32);
	bpf_map_delete_elem(&hedge_scores, &due->key);
}

/* netem: the same, its deadline passed by `now`. */
static __always_inline void forget_due(const struct hedge_key *key,
				       const struct hedge_entry *e, __u64 now)
{
	__u64 due = e->deadline_ns;

	if (e->state == HEDGE_DONE && due <= now)
		bpf_map_delete_elem(&hedge_scores, key);
}

#endif
