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
 *     request whose set has no free or void way goes to the stash
 *     (hedge.h, HEDGE_STASH_SIZE), or more sets are used first;
 *   - a record is freed by compare-and-swap from the state it was seen
 *     in, so a record claimed meanwhile by another key is left alone;
 *   - a live record's way has its key's hash as its tag (hedge.h, struct
 *     hedge_score_tags): the inserter writes it before it publishes the
 *     record, and only a record's inserter writes it. A tag is never
 *     cleared: a way tagged with a key's hash may hold another key, or
 *     none, and is read to be sure; one tagged otherwise never holds it;
 *   - the sets in use grow and shrink (hedge.h, score_word):
 *     a key is looked for in its set of the sets in use, and while the
 *     last change drains, of those before it; a record is written only
 *     in the sets in use, so none is live where lookups stop looking.
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

static __always_inline struct hedge_record *score_at(__u32 i)
{
	return bpf_map_lookup_elem(&hedge_scores, &i);
}

/* The config's score_word (hedge.h), which the programs move. */
static __always_inline __u64 *score_word(const struct hedge_config *cfg)
{
	return (__u64 *)&cfg->score_word;
}

/* Where a key may be: its hash, and the masks of the sets in use (cur)
 * and of those before the last change (prev; cur when it drained). */
struct score_where {
	__u64 word;	/* score_word, as read */
	__u32 hash;
	__u32 cur;
	__u32 prev;
};

static __always_inline void score_masks(const struct hedge_config *cfg,
					struct score_where *at, __u64 word)
{
	at->word = word;
	at->cur = cfg->score_mask >> HEDGE_SCORE_CUR(word);
	at->prev = cfg->score_mask >> HEDGE_SCORE_PREV(word);
}

static __always_inline void score_where(const struct hedge_config *cfg,
					const struct hedge_key *key,
					struct score_where *at)
{
	score_masks(cfg, at, *(volatile __u64 *)score_word(cfg));
	at->hash = hedge_score_hash(key);
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
 * The record of `key` in the set at `base`, or NULL. Way by way from way
 * 0, where a request goes when it is free: most are found in one line,
 * the rest in the next few (each read only if the ones before miss).
 */
#define SCORE_HIT(n)							\
	do {								\
		i = base + (n);						\
		r = bpf_map_lookup_elem(&hedge_scores, &i);		\
		if (!r)							\
			return 0;					\
		if (!score_miss(r, key))				\
			return r;					\
	} while (0)

static __always_inline struct hedge_record *
score_find_in(__u32 base, const struct hedge_key *key)
{
	struct hedge_record *r;
	__u32 i;

	SCORE_HIT(0);
	SCORE_HIT(1);
	SCORE_HIT(2);
	SCORE_HIT(3);
	SCORE_HIT(4);
	SCORE_HIT(5);
	SCORE_HIT(6);
	SCORE_HIT(7);
	return 0;
}

/* The record of `key` in the stash (hedge.h), while it may hold any. */
static __always_inline struct hedge_record *
score_stashed(const struct hedge_config *cfg, const struct hedge_key *key)
{
	struct hedge_record *r;

	if (!cfg->score_stash_ns)
		return 0;
	r = bpf_map_lookup_elem(&hedge_stash, key);
	if (!r || score_miss(r, key))
		return 0;
	return r;
}

/* The record of `key`'s request, or NULL; *stale: 1 if found only in
 * the sets a change left (drained within --window) or in the stash: not
 * to be written anew there. */
static __always_inline struct hedge_record *
score_find_at(const struct hedge_config *cfg, const struct hedge_key *key,
	      int *stale)
{
	__u64 w = cfg->score_word;
	__u32 hash, cur, prev;
	struct hedge_record *r;

	barrier_var(w);	/* read once */
	hash = hedge_score_hash(key);
	cur = hash & (cfg->score_mask >> HEDGE_SCORE_CUR(w));
	prev = hash & (cfg->score_mask >> HEDGE_SCORE_PREV(w));
	*stale = 0;
	r = score_find_in(cur * HEDGE_SCORE_WAYS, key);
	if (r)
		return r;
	*stale = 1;
	if (prev != cur) {	/* the sets the last change left */
		r = score_find_in(prev * HEDGE_SCORE_WAYS, key);
		if (r)
			return r;
	}
	return score_stashed(cfg, key);
}

static __always_inline struct hedge_record *
score_find(const struct hedge_config *cfg, const struct hedge_key *key)
{
	int stale;

	return score_find_at(cfg, key, &stale);
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

/* Free the entry's record if it is still in `state`. */
static __always_inline void score_free(struct hedge_entry *e, __u32 state)
{
	__sync_val_compare_and_swap(&e->state, state, HEDGE_SCORE_FREE);
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
 * Whether the change the word `w` tells of is --window old, and 1 ms
 * more: every record written in the sets before it is void by then (a
 * program that read the word before the change wrote its record
 * microseconds after the time in the word, at most).
 */
static __always_inline int score_drained(const struct hedge_config *cfg,
					 __u64 w, __u64 now)
{
	return since(now, HEDGE_SCORE_TIME(w)) >=
	       cfg->window_ns + HEDGE_SCORE_MARGIN_NS;
}

/* A free or void record of the set at `base`, claimed (its way into
 * *way); or NULL. Ways `from` to `to` - 1 (constants), in that order. */
#define SCORE_TAKE(n)							\
	do {								\
		if ((n) >= from && (n) < to) {				\
			r = score_at(base + (n));			\
			if (r && !score_take(r, cfg, now)) {		\
				*way = (n);				\
				return r;				\
			}						\
		}							\
	} while (0)

static __always_inline struct hedge_record *
score_take_in(__u32 base, const struct hedge_config *cfg, __u64 now,
	      const int from, const int to, __u32 *way)
{
	struct hedge_record *r;

	SCORE_TAKE(0);
	SCORE_TAKE(1);
	SCORE_TAKE(2);
	SCORE_TAKE(3);
	SCORE_TAKE(4);
	SCORE_TAKE(5);
	SCORE_TAKE(6);
	SCORE_TAKE(7);
	return 0;
}

/*
 * Whether `key` may have a record in `set`: a way whose tag is `hash`
 * holds it, read to be sure. 1, it does; 0, it does not; -1, the set has
 * no tags (out of the map's bounds: the caller does not insert).
 */
#define SCORE_TAGGED(n)							\
	do {								\
		if (t->tag[n] == hash) {				\
			i = set * HEDGE_SCORE_WAYS + (n);		\
			r = bpf_map_lookup_elem(&hedge_scores, &i);	\
			if (r && !score_miss(r, key))			\
				return 1;				\
		}							\
	} while (0)

static __always_inline int score_known(__u32 set, __u32 hash,
				       const struct hedge_key *key)
{
	struct hedge_score_tags *t;
	struct hedge_record *r;
	__u32 i;

	t = bpf_map_lookup_elem(&hedge_score_tags, &set);
	if (!t)
		return -1;
	SCORE_TAGGED(0);
	SCORE_TAGGED(1);
	SCORE_TAGGED(2);
	SCORE_TAGGED(3);
	SCORE_TAGGED(4);
	SCORE_TAGGED(5);
	SCORE_TAGGED(6);
	SCORE_TAGGED(7);
	return 0;
}

/* Record r, claimed at way `way` of `set`, tagged with `hash` (before
 * score_write() publishes it): 0, or -1 if the set has no tags. */
static __always_inline int score_tag(__u32 set, __u32 way, __u32 hash)
{
	struct hedge_score_tags *t;

	t = bpf_map_lookup_elem(&hedge_score_tags, &set);
	if (!t)
		return -1;
	t->tag[way & (HEDGE_SCORE_WAYS - 1)] = hash;
	return 0;
}

/*
 * A new request found its set crowded or full: more sets in use (hedge.h),
 * 4 times as many and HEDGE_SCORE_SETS_JUMP at least (hedge_score_grow_to()),
 * or back to those a shrink left while it drains. 0 and `at`
 * read anew if the sets in use changed (here or on another CPU), else -1:
 * the whole array is in use, or a growth drains.
 */
static __always_inline int score_grow(const struct hedge_config *cfg,
				      struct score_where *at, __u64 now)
{
	__u64 w = at->word;
	__u32 c = HEDGE_SCORE_CUR(w), p = HEDGE_SCORE_PREV(w), to;

	if (!(cfg->flags & HEDGE_F_UP_DONE))
		return -1;	/* `up` writes the config still */
	if (p != c && score_drained(cfg, w, now))
		p = c;		/* its drain is over */
	if (p == c)
		to = hedge_score_grow_to(cfg->score_mask, c);
	else if (p < c)
		to = p;
	else
		return -1;
	if (to == c)
		return -1;
	if (__sync_val_compare_and_swap(score_word(cfg), w,
					HEDGE_SCORE_WORD(now, c, to)) == w) {
		__sync_fetch_and_add((__u64 *)&cfg->score_grows, 1);
		*(__u64 *)&cfg->score_grown_ns = now;
	}
	score_masks(cfg, at, *(volatile __u64 *)score_word(cfg));
	return at->word == w ? -1 : 0;
}

/* A new request whose set is full, put in the stash (hedge.h): 0, or -1
 * (the LRU hash's update failed). */
static __always_inline int score_stash(const struct hedge_config *cfg,
				       const struct hedge_key *key,
				       const struct hedge_entry *fresh,
				       __u64 now)
{
	struct hedge_record rec = { .key = *key, .entry = *fresh };

	if (bpf_map_update_elem(&hedge_stash, key, &rec, BPF_ANY))
		return -1;
	*(__u64 *)&cfg->score_stash_ns = now;
	__sync_fetch_and_add((__u64 *)&cfg->score_stashed, 1);
	return 0;
}

/*
 * A new request's record: 0, written (in its set, or the stash); 1, `key`
 * has one already; -1, no room (the stash refused it, or its set has no
 * tags: never, the two maps are sized together): the caller counts it
 * (evicted) and does not hedge it.
 */
static __always_inline int score_insert(const struct hedge_config *cfg,
					const struct hedge_key *key,
					const struct hedge_entry *fresh,
					__u64 now)
{
	struct score_where at;
	struct hedge_record *r;
	__u32 set, grown, way = 0;
	int known;

	score_where(cfg, key, &at);
	set = at.hash & at.cur;
	/* Its set's tags, and while a change drains the set before it. */
	known = score_known(set, at.hash, key);
	if (!known && at.prev != at.cur)
		known = score_known(at.hash & at.prev, at.hash, key);
	if (known)
		return known;	/* 1: it has a record; -1: no tags, counted */
	if (score_stashed(cfg, key))
		return 1;
	/* Ways 0 .. HEDGE_SCORE_CROWDED - 1 taken: more sets first, and a
	 * way of its set there; else (or that set is full too) the rest
	 * of its own. */
	r = score_take_in(set * HEDGE_SCORE_WAYS, cfg, now, 0,
			  HEDGE_SCORE_CROWDED, &way);
	if (!r) {
		if (!score_grow(cfg, &at, now)) {
			grown = at.hash & at.cur;
			if (grown != set)
				r = score_take_in(grown * HEDGE_SCORE_WAYS,
						  cfg, now, 0,
						  HEDGE_SCORE_WAYS, &way);
			if (r)
				set = grown;
		}
		if (!r)
			r = score_take_in(set * HEDGE_SCORE_WAYS, cfg, now,
					  HEDGE_SCORE_CROWDED,
					  HEDGE_SCORE_WAYS, &way);
	}
	if (!r)	/* its set full, and no more sets */
		return score_stash(cfg, key, fresh, now);
	if (score_tag(set, way, at.hash)) {
		score_free(&r->entry, HEDGE_SCORE_CLAIMED);
		return -1;
	}
	score_write(r, key, fresh);
	return 0;
}

/* 1 if the HEDGE_SCORE_SAMPLE sets around `set` hold at most
 * HEDGE_SCORE_SPARSE records in a request's state (void ones count too:
 * a shrink the later, not the sooner). */
static __always_inline int score_sparse(__u32 set)
{
	__u32 first = (set & ~(HEDGE_SCORE_SAMPLE - 1)) * HEDGE_SCORE_WAYS;
	__u32 i, live = 0, state;
	struct hedge_record *r;

	for (i = 0; i < HEDGE_SCORE_SAMPLE * HEDGE_SCORE_WAYS; i++) {
		r = score_at(first + i);
		if (!r)
			return 0;
		state = r->entry.state;
		/* 1 for a request's state (1 .. HEDGE_COPY), else 0. */
		live += 1 - (__u32)(((__u64)(__u32)(state - 1) +
				     (0x100000000ULL - HEDGE_COPY)) >> 32);
	}
	return live <= HEDGE_SCORE_SPARSE;
}

/*
 * Once every --window (the Splitter, after a new request): a drain over
 * ends; else, HEDGE_SCORE_HOLD windows after they last grew, the sets in
 * use halve if a sample of them is sparse (around the new request's set:
 * a random place). The time in the word is moved
 * on either way: one check in a window, whichever CPU wins it.
 */
static __always_inline void score_tend(const struct hedge_config *cfg,
				       const struct hedge_key *key, __u64 now)
{
	__u64 w = *(volatile __u64 *)score_word(cfg), to;
	__u64 stash = cfg->score_stash_ns;
	__u32 c, p, shrink = 0;

	/* The stash: nothing live in it --window after its last request. */
	if (stash && score_drained(cfg, stash, now))
		__sync_val_compare_and_swap((__u64 *)&cfg->score_stash_ns,
					    stash, 0);
	if (!score_drained(cfg, w, now) || !(cfg->flags & HEDGE_F_UP_DONE))
		return;
	c = HEDGE_SCORE_CUR(w);
	p = HEDGE_SCORE_PREV(w);
	to = HEDGE_SCORE_WORD(now, c, c);
	if (p == c && c < 31 &&
	    (cfg->score_mask >> c) >= 2 * HEDGE_SCORE_SETS_MIN - 1 &&
	    since(now, cfg->score_grown_ns) >=
	    HEDGE_SCORE_HOLD * cfg->window_ns &&
	    score_sparse(hedge_score_hash(key) & (cfg->score_mask >> c))) {
		to = HEDGE_SCORE_WORD(now, c, c + 1);
		shrink = 1;
	}
	if (__sync_val_compare_and_swap(score_word(cfg), w, to) == w &&
	    shrink)
		__sync_fetch_and_add((__u64 *)&cfg->score_shrinks, 1);
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

/*
 * Write `fresh` over key's record r, seen in `state`, if r is in the sets
 * in use: 0. Else (stale: where lookups stop looking once its drain ends,
 * or the stash) r is freed, for the caller to insert anew, and -1; -1
 * too if r moved meanwhile.
 */
static __always_inline int score_renew(struct hedge_record *r, int stale,
				       __u32 state,
				       const struct hedge_key *key,
				       const struct hedge_entry *fresh)
{
	if (!stale)
		return score_replace(r, state, key, fresh);
	score_free(&r->entry, state);
	return -1;
}

#endif
