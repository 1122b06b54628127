/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * tests/scores.h - the Scoreboard (hedge.h: an array of records in sets
 * of HEDGE_SCORE_WAYS, BPF_F_MMAPABLE) read and written from user space by key, as the tests
 * and benches did the LRU hash it replaced: its sets mapped into memory,
 * a key found in its set as bpf/scores.h finds it. Between program runs
 * only (nothing here races the programs).
 */
#ifndef HEDGE_TESTS_SCORES_H
#define HEDGE_TESTS_SCORES_H

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include "../hedge.h"
#include "../hedge_user.h"
#include "mapped.h"

struct scores_view {
	struct hedge_set *set;
	uint32_t n_sets;	/* a power of 2: hedge_config.score_mask + 1 */
};

/* Map the Scoreboard of fd: 0, or -1 (errno). */
static inline int scores_open(int fd, struct scores_view *v)
{
	uint32_t n;
	void *p = map_mmap(fd, sizeof(struct hedge_record), &n);

	if (!p)
		return -1;
	if (n < HEDGE_SCORE_WAYS || (n & (n - 1))) {
		munmap(p, (size_t)n * sizeof(struct hedge_record));
		errno = EINVAL;
		return -1;
	}
	v->set = p;
	v->n_sets = n / HEDGE_SCORE_WAYS;
	return 0;
}

static inline int score_live(const struct hedge_record *r)
{
	return r->entry.state >= HEDGE_PENDING && r->entry.state <= HEDGE_COPY;
}

/* The live record of key k in the first `sets` sets, or NULL. */
static inline struct hedge_record *scores_find_in(const struct scores_view *v,
					const struct hedge_key *k,
					uint32_t sets)
{
	struct hedge_set *s = &v->set[hedge_score_set(k, sets - 1)];
	int w;

	for (w = 0; w < HEDGE_SCORE_WAYS; w++)
		if (score_live(&s->way[w]) &&
		    !memcmp(&s->way[w].key, k, sizeof(*k)))
			return &s->way[w];
	return NULL;
}

/* The record of key k, or NULL: in its set of the whole array, or of
 * any fewer sets the programs may use (hedge.h, score_word). */
static inline struct hedge_record *scores_find(const struct scores_view *v,
					const struct hedge_key *k)
{
	struct hedge_record *r = NULL;
	uint32_t sets;

	for (sets = v->n_sets; !r && sets; sets >>= 1)
		r = scores_find_in(v, k, sets);
	return r;
}

/* Key k's entry into e: 0, or -1 (ENOENT). */
static inline int scores_get(const struct scores_view *v, const struct hedge_key *k,
		      struct hedge_entry *e)
{
	const struct hedge_record *r = scores_find(v, k);

	if (!r) {
		errno = ENOENT;
		return -1;
	}
	*e = r->entry;
	return 0;
}

/* Key k's entry written, into its record or a free way of its set of the
 * whole array (the programs' with score_word 0): 0, or -1 (E2BIG: the set
 * is full). A key written into a free way has no tag (hedge.h, struct
 * hedge_score_tags): the programs find it, but a new request on it would
 * not know it, and take a way of its own; the tests put only keys the
 * programs wrote. */
static inline int scores_put(const struct scores_view *v, const struct hedge_key *k,
		      const struct hedge_entry *e)
{
	struct hedge_set *s = &v->set[hedge_score_set(k, v->n_sets - 1)];
	struct hedge_record *r = scores_find(v, k);
	int w;

	for (w = 0; !r && w < HEDGE_SCORE_WAYS; w++)
		if (!score_live(&s->way[w]))
			r = &s->way[w];
	if (!r) {
		errno = E2BIG;
		return -1;
	}
	r->key = *k;
	r->entry = *e;
	return 0;
}

/* Key k's record freed: 0, or -1 (ENOENT). */
static inline int scores_del(const struct scores_view *v, const struct hedge_key *k)
{
	struct hedge_record *r = scores_find(v, k);

	if (!r) {
		errno = ENOENT;
		return -1;
	}
	r->entry.state = HEDGE_SCORE_FREE;
	return 0;
}

/* The records that hold a request. */
static inline uint32_t scores_count(const struct scores_view *v)
{
	uint32_t i, n = 0;
	int w;

	for (i = 0; i < v->n_sets; i++)
		for (w = 0; w < HEDGE_SCORE_WAYS; w++)
			n += score_live(&v->set[i].way[w]);
	return n;
}

/* Every record free, and zero. */
static inline void scores_clear(const struct scores_view *v)
{
	memset(v->set, 0, (size_t)v->n_sets * sizeof(struct hedge_set));
}

#endif
