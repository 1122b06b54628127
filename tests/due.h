/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * tests/due.h - the tick line's deadline rings (hedge.h, struct hedge_due;
 * bpf/tick.h) from user space: emptied, counted, an entry found, the head
 * popped as the ticker pops it. The array mapped into memory (it is
 * BPF_F_MMAPABLE), the positions read and written in hedge_tick. Between
 * program runs only (nothing here races the programs).
 */
#ifndef HEDGE_TESTS_DUE_H
#define HEDGE_TESTS_DUE_H

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include "../hedge.h"
#include "../hedge_user.h"
#include "mapped.h"

struct due_view {
	struct hedge_due *e;
	uint32_t n;		/* entries: the targets' rings end to end */
	int tick_fd;		/* hedge_tick: the rings' positions */
};

/* Map the rings of due_fd, their positions in tick_fd: 0, or -1 (errno). */
static inline int due_open(int due_fd, int tick_fd, struct due_view *v)
{
	v->e = map_mmap(due_fd, sizeof(struct hedge_due), &v->n);
	v->tick_fd = tick_fd;
	return v->e ? 0 : -1;
}

static inline int due_ticker(const struct due_view *v, struct hedge_ticker *t)
{
	uint32_t zero = 0;

	return map_lookup(v->tick_fd, &zero, t);
}

static inline int due_set_ticker(const struct due_view *v,
				 const struct hedge_ticker *t)
{
	uint32_t zero = 0;

	return map_update(v->tick_fd, &zero, t);
}

/* Every ring empty, as `up` leaves them: 0, or -1. */
static inline int due_clear(const struct due_view *v)
{
	struct hedge_ticker t;

	memset(v->e, 0, (size_t)v->n * sizeof(*v->e));
	if (due_ticker(v, &t))
		return -1;
	memset(t.due_tail, 0, sizeof(t.due_tail));
	memset(t.due_head, 0, sizeof(t.due_head));
	return due_set_ticker(v, &t);
}

/* The entry of target's ring at position pos, or NULL past the map. */
static inline struct hedge_due *due_entry(const struct due_view *v,
					  const struct hedge_config *cfg,
					  uint32_t target, uint64_t pos)
{
	uint64_t i = hedge_due_index(cfg->ring_mask, cfg->big_mask, target,
				     pos);

	return i < v->n ? &v->e[i] : NULL;
}

/* Target's queued entries; its head's position into *head. -1: unread. */
static inline int64_t due_count(const struct due_view *v, uint32_t target,
				uint64_t *head)
{
	struct hedge_ticker t;

	if (target >= HEDGE_MAX_TARGETS || due_ticker(v, &t))
		return -1;
	*head = t.due_head[target];
	return (int64_t)(t.due_tail[target] - t.due_head[target]);
}

/* Pop target's head into *d, as the ticker does: 0, or -1 if empty. */
static inline int due_pop(const struct due_view *v,
			  const struct hedge_config *cfg, uint32_t target,
			  struct hedge_due *d)
{
	struct hedge_ticker t;
	struct hedge_due *e;

	if (target >= HEDGE_MAX_TARGETS || due_ticker(v, &t) ||
	    t.due_head[target] == t.due_tail[target])
		return -1;
	e = due_entry(v, cfg, target, t.due_head[target]);
	if (!e || !e->deadline_ns)
		return -1;
	*d = *e;
	e->deadline_ns = 0;
	t.due_head[target]++;
	return due_set_ticker(v, &t);
}

#endif
