/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * bpf/scores.h - the Scoreboard (hedge.h, struct hedge_record): a key's
 * record found, a record claimed and written for a new request, one
 * freed. Every operation touches the key's set only.
 *
 * Invariants:
 *   - a record matches a key only if its state is a request's
 *     (HEDGE_PENDING .. HEDGE_COPY): a free record keeps its old key, and
 *     a claimed one is half written;
 *   - only the program that moved a record to HEDGE_SCORE_CLAIMED (by
 *     compare-and-swap) writes its key, and it publishes the record with
 *     a compare-and-swap of the state (a full barrier), after the key and
 *     the entry's fields;
 *   - a live record (a request within --window) is never claimed: a new
 *     request whose set has no free or void way is not hedged;
 *   - a record is freed by compare-and-swap from the state it was seen
 *     in, so a record claimed meanwhile by another key is left alone.
 * What is as it was with the LRU hash: a pointer to a record, kept while
 * another CPU frees it and another key takes it, points to that key's
 * record (the LRU reused its elements the same way); the state checks
 * of every caller make the window nanoseconds.
 */
#ifndef HEDGE_BPF_SCORES_H
#define HEDGE_BPF_SCORES_H

#include "maps.h"

/* hedge.bpf.c's and saved.h's. */
static __always_inline int expired(const struct hedge_entry *e,
				   const struct hedge_config *cfg, __u64 now);
static __always_inline void saved_gone(struct hedge_entry *e);

/* The index of the first record of the set `key` lives in. */
static __always_inline __u32 score_base(const struct hedge_config *cfg,
					const struct hedge_key *key)
{
	return hedge_score_set(key, cfg->score_mask) * HEDGE_SCORE_WAYS;
}

static __always_inline struct hedge_record *score_at(__u32 i)
{
	return bpf_map_lookup_elem(&hedge_scores, &i);
}

/* 0 if record r holds `key`'s request, else 1; without a branch (the
 * ticker's sweep looks up in a loop the verifier walks). */
static __always_inline __u64 score_miss(const struct hedge_record *r,
					const struct hedge_key *key)
{
	const __u64 *a = (const __u64 *)&r->key, *b = (const __u64 *)key;
	/* Not a request's state (1 .. HEDGE_COPY): free, or claimed. */
	__u64 other = ((__u64)(__u32)(r->entry.state - 1) +
		       (0x100000000ULL - HEDGE_COPY)) >> 32;
	__u64 diff = (a[0] ^ b[0]) | (a[1] ^ b[1]) | (a[2] ^ b[2]) |
		     (a[3] ^ b[3]) | other;

	return (diff | -diff) >> 63;
}

/*
 * The way of the set at `base` that holds `key`, or HEDGE_SCORE_WAYS:
 * none (also when the set is out of the map's bounds).
 */
static __always_inline __u32 score_way(__u32 base, const struct hedge_key *key)
{
	struct hedge_record *r0 = score_at(base), *r1 = score_at(base + 1);
	struct hedge_record *r2 = score_at(base + 2), *r3 = score_at(base + 3);
	__u64 w = HEDGE_SCORE_WAYS, m;

	if (!r0 || !r1 || !r2 || !r3)
		return HEDGE_SCORE_WAYS;
	m = score_miss(r3, key);
	w = (w & -m) | (3 & (m - 1));
	m = score_miss(r2, key);
	w = (w & -m) | (2 & (m - 1));
	m = score_miss(r1, key);
	w = (w & -m) | (1 & (m - 1));
	m = score_miss(r0, key);
	w = w & -m;
	return (__u32)w;
}

/*
 * The record of `key`'s request, or NULL. Looked up again by its index
 * once found: a pointer the verifier knows at a fixed offset, where one
 * into the set at a variable offset made it walk the ticker's loops past
 * its million instructions.
 */
static __always_inline struct hedge_record *
score_find(const struct hedge_config *cfg, const struct hedge_key *key)
{
	__u32 base = score_base(cfg, key), w;
	struct hedge_record *r = score_at(base);

	/* Way 0 first: a request takes it when it is free, so it is
	 * where most are found, one line read. */
	if (!r)
		return 0;
	if (!score_miss(r, key))
		return r;
	w = score_way(base, key);
	if (w >= HEDGE_SCORE_WAYS)
		return 0;
	return score_at(base + w);
}

/* Its entry: what bpf_map_lookup_elem() on the LRU hash gave. */
static __always_inline struct hedge_entry *
score_entry(const struct hedge_config *cfg, const struct hedge_key *key)
{
	struct hedge_record *r = score_find(cfg, key);

	if (!r)
		return 0;
	barrier_var(r);	/* tested before the offset is added */
	return &r->entry;
}

/* Claim record r, seen in `state`: 0, or -1 if another program moved it. */
static __always_inline int score_claim(struct hedge_record *r, __u32 state)
{
	return __sync_val_compare_and_swap(&r->entry.state, state,
					   HEDGE_SCORE_CLAIMED) == state ? 0 : -1;
}

/* Write the claimed record r: the key, the entry, its state last. */
static __always_inline void score_write(struct hedge_record *r,
					const struct hedge_key *key,
					const struct hedge_entry *e)
{
	r->key = *key;
	r->entry.sent_ns = e->sent_ns;
	r->entry.deadline_ns = e->deadline_ns;
	r->entry.target = e->target;
	r->entry.first_us = e->first_us;
	r->entry.saved = e->saved;
	__sync_val_compare_and_swap(&r->entry.state, HEDGE_SCORE_CLAIMED,
				    e->state);
}

/* Record r, claimed if it is free or void at `now`: 0, else -1. */
static __always_inline int score_take(struct hedge_record *r,
				      const struct hedge_config *cfg,
				      __u64 now)
{
	__u32 state = r->entry.state;

	if (state == HEDGE_SCORE_CLAIMED ||
	    (state != HEDGE_SCORE_FREE && !expired(&r->entry, cfg, now)))
		return -1;
	/* Void: its time saved told (once, whoever claims it; it reads
	 * the state, so before the claim). */
	if (state != HEDGE_SCORE_FREE)
		saved_gone(&r->entry);
	return score_claim(r, state);
}

/*
 * A new request's record: 0, written; 1, `key` has one already; -1, no
 * room (every way of its set live, or claimed under us): the caller
 * counts it (evicted) and does not hedge it.
 */
static __always_inline int score_insert(const struct hedge_config *cfg,
					const struct hedge_key *key,
					const struct hedge_entry *fresh,
					__u64 now)
{
	__u32 base = score_base(cfg, key);
	struct hedge_record *r;

	if (score_way(base, key) < HEDGE_SCORE_WAYS)
		return 1;
	r = score_at(base);
	if (!r || score_take(r, cfg, now)) {
		r = score_at(base + 1);
		if (!r || score_take(r, cfg, now)) {
			r = score_at(base + 2);
			if (!r || score_take(r, cfg, now)) {
				r = score_at(base + 3);
				if (!r || score_take(r, cfg, now))
					return -1;
			}
		}
	}
	score_write(r, key, fresh);
	return 0;
}

/* Write `fresh` over the key's own record r if it is still in `state`:
 * 0, else -1. */
static __always_inline int score_replace(struct hedge_record *r,
					 __u32 state,
					 const struct hedge_key *key,
					 const struct hedge_entry *fresh)
{
	if (score_claim(r, state))
		return -1;
	score_write(r, key, fresh);
	return 0;
}

/* Free the entry's record if it is still in `state`. */
static __always_inline void score_free(struct hedge_entry *e, __u32 state)
{
	__sync_val_compare_and_swap(&e->state, state, HEDGE_SCORE_FREE);
}

#endif
