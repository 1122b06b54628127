/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * health.h - whether everything `up` made is still there and working
 * (health.c): `status` runs the checks every time, the printers say the
 * problems, and `status` exits EXIT_DEGRADED when there is any.
 */
#ifndef HEDGE_HEALTH_H
#define HEDGE_HEALTH_H

#include <stddef.h>
#include <stdint.h>

/* Kinds of problem, each a Prometheus label value always exported. */
enum problem_kind {
	PROBLEM_ATTACHMENT,	/* a program of hedge's is not where up put it */
	PROBLEM_SHADOWED,	/* something runs before it and can end it */
	PROBLEM_DELAY_LINE,	/* a link down, a qdisc or filter gone */
	PROBLEM_TICK,		/* tick line: the tick stopped */
	PROBLEM_CAPACITY,	/* requests not hedged for lack of room */
	PROBLEM_OVERLOAD,	/* a target overloaded: not hedged a while */
	N_PROBLEM_KINDS
};

extern const char *const problem_kinds[N_PROBLEM_KINDS];

#define HEALTH_MAX_PROBLEMS	24	/* said; more are counted only */
#define PROBLEM_DETAIL		256

struct problem {
	enum problem_kind kind;
	char detail[PROBLEM_DETAIL];	/* plain words; may hold kernel names */
};

struct health {
	unsigned int n;			/* problems found, said or not */
	unsigned int per_kind[N_PROBLEM_KINDS];
	struct problem p[HEALTH_MAX_PROBLEMS];	/* the first n (at most) */
};

/* The tick line's tick is taken for stopped when its last tick is older
 * than this (it sleeps HEDGE_TICK_LONGEST_US, 10.2 ms, at most). */
#define TICK_DEAD_NS	50000000ULL

struct nl;
struct instance;
struct snapshot;
struct counter;

/* Every check on the running instance into s->health; -1 (said why) when
 * a check cannot be made: a read that fails is an error, not a health. */
int health_check(struct nl *nl, const struct instance *in,
		 struct snapshot *s);

/* A capacity drop is a problem for this long after a status saw it. */
#define CAPACITY_HOLD_NS	60000000000ULL

/*
 * Capacity drops lately, for the counters of `table` flagged
 * COUNTER_DROP: their totals over targets now (`now`, n long, at
 * `now_ns`, CLOCK_MONOTONIC) against those kept in `path` for instance
 * `id` (another instance's, or none: all count). Into *drops the rises
 * seen by any status within CAPACITY_HOLD_NS, and into `which` "name N,
 * ..." for each; `path` then holds the totals now (written to a temp name
 * of this process's, renamed). 0, or -1 said why.
 */
/* The tick line's tick lost: not idle by design, and long past when it
 * was due back (what `status` reports and `up --repair` restarts). */
struct hedge_ticker;
int tick_lost(const struct hedge_ticker *t, uint64_t now);

int capacity_recent(const char *path, long id, const struct counter *table,
		    size_t n, const uint64_t *now, uint64_t now_ns,
		    uint64_t *drops, char *which, size_t size);

/* health.c: one problem of `kind` into h, said as fmt says (counted in
 * per_kind even past HEALTH_MAX_PROBLEMS). */
__attribute__((format(printf, 3, 4)))
void problem(struct health *h, enum problem_kind kind, const char *fmt, ...);
/* degraded.c, for health_check(): capacity drops seen lately (-1 said why
 * when the look file cannot be read or written); brakes on or just off. */
int check_capacity(const struct instance *in, const struct snapshot *s,
		   struct health *h);
void check_brakes(const struct snapshot *s, struct health *h);

#endif
