/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * snapshot.h - a running hedge's state, read once (snapshot.c), and the
 * three printers that take it (print_text.c, print_json.c, print_prom.c).
 */
#ifndef HEDGE_SNAPSHOT_H
#define HEDGE_SNAPSHOT_H

#include <net/if.h>
#include "config.h"
#include "instance.h"
#include "health.h"

/*
 * The per-target counters, one line each in hedge_counters[] (snapshot.c),
 * shared by all three printers: adding a __u64 to struct hedge_stats and
 * one line there is all a new counter needs (the per-CPU sum takes every
 * __u64 of the struct).
 */
enum counter_flags {
	COUNTER_REPLICA = 1 << 0,	/* shown for targets with a replica */
	/* A request not hedged for lack of room (a ring, a queue, the
	 * Scoreboard full): any rise between two `status` is a health
	 * problem (health.c). Not for refusals by design (the budget). */
	COUNTER_DROP = 1 << 1,
	/* Shown for TCP targets (--target IP:PORT/tcp) only; for them,
	 * COUNTER_REPLICA's (won, lost) are shown too. */
	COUNTER_TCP = 1 << 2,
	/* Shown for TCP targets with a replica only. */
	COUNTER_TCP_REPLICA = 1 << 3,
	/* A gauge (a value now, filled in by `status`), not a counter. */
	COUNTER_GAUGE = 1 << 4,
};

/* Whether counter c is shown for target t of cfg. */
static inline int counter_shown(const struct hedge_config *cfg, uint32_t t,
				unsigned int flags)
{
	int tcp = cfg->targets[t].primary.proto == HEDGE_PROTO_TCP;

	if ((flags & COUNTER_TCP) && !tcp)
		return 0;
	if ((flags & COUNTER_TCP_REPLICA) &&
	    (!tcp || !cfg->targets[t].replica.port))
		return 0;
	return !(flags & COUNTER_REPLICA) || tcp ||
	       cfg->targets[t].replica.port;
}

struct counter {
	size_t field;		/* offsetof(struct hedge_stats, ...) */
	const char *text;	/* "hedges sent"; NULL: said elsewhere */
	const char *json;	/* "hedges_sent" */
	const char *prom;	/* "hedges_sent_total" (after "hedge_") */
	const char *help;	/* Prometheus HELP */
	unsigned int flags;	/* enum counter_flags */
};

extern const struct counter hedge_counters[];
extern const size_t n_hedge_counters;

static inline unsigned long long counter_value(const struct hedge_stats *st,
					       const struct counter *c)
{
	return *(const __u64 *)((const char *)st + c->field);
}

struct prog_cost {
	const char *label;
	int known;		/* 0: its accounting cannot be read here */
	const char *why;	/* and why not, when !known */
	uint64_t run_time_ns, run_cnt;
};

#define SNAP_PROGS	4

struct snapshot {
	struct hedge_config cfg;
	char dev[IF_NAMESIZE];		/* as the kernel names it */
	int dev_gone;			/* deleted: dev is "ifindex N" */
	const char *line;		/* the delay line's name */
	uint32_t n;			/* targets */
	char target[HEDGE_MAX_TARGETS][TARGET_STR];
	struct hedge_stats st[HEDGE_MAX_TARGETS];	/* summed over CPUs */
	uint64_t delay_ns[HEDGE_MAX_TARGETS];		/* each one's now */
	int has_ticker;			/* tick line */
	struct hedge_ticker ticker;
	uint64_t tick_ago_ns;
	/* The parking rings, small slots then full frames: slots in use
	 * (the span) and slots in all. */
	uint32_t parking_span[2], parking_slots[2];
	/* The Scoreboard's sets in use, of all the array holds, and
	 * whether the sets of the change before are still looked in
	 * (hedge.h, score_word). */
	uint32_t score_sets, score_sets_max;
	int score_draining;
	uint64_t now_ns;		/* CLOCK_MONOTONIC when it was read */
	/* The overload brake (bpf/brake.h), in each target's budget entry;
	 * zeros without a budget. */
	struct hedge_budget brake[HEDGE_MAX_TARGETS];
	size_t n_progs;
	struct prog_cost progs[SNAP_PROGS];
	struct health health;		/* health_check(), after the rest */
};

/* Every read, once; any that fails is an error said in one line (-1). */
int snapshot_take(struct nl *nl, const struct instance *in,
		  struct snapshot *s);
/* hedge_nat's live entries at `now` counted into live[target] (target <
 * n), those over deleted: 0 or -errno. */
int nat_walk(int fd, uint64_t now, uint64_t *live, uint32_t n);
/* Target `target`'s counters in the per-CPU stats map, summed; -errno. */
int stats_read(int fd, uint32_t target, struct hedge_stats *sum);
/* The count of CPUs a list like "0", "0-3", "0,2-3" names (highest + 1);
 * -1 if it is not such a list. */
int cpu_list_count(const char *list);
/* Whether target t's overload brake is on at the snapshot's time. */
static inline int braking(const struct snapshot *s, uint32_t t)
{
	return s->now_ns < s->brake[t].brake_until_ns;
}

/* The ticker's state in a word: "running", "idle", "starting". */
const char *tick_state_name(uint64_t run);

uint64_t rt_percentile_ns(const struct hedge_stats *st, double pct);
/* The same for any histogram of hedge.h's buckets (rt, saved), and its
 * count of samples. */
uint64_t hist_percentile_ns(const __u64 *hist, double pct);
uint64_t hist_count(const __u64 *hist);
uint64_t late_percentile_us(const struct hedge_stats *st, double pct);

void print_text(const struct snapshot *s);
void print_json(const struct snapshot *s);
void print_prom(const struct snapshot *s);
/* What each format says when hedge is not up. */
void print_not_up(enum format format);

#endif
