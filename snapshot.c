// SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
/*
 * snapshot.c - a running hedge's state read once into a struct snapshot:
 * its config, each target's counters summed over CPUs and its delay now,
 * the ticker, the programs' costs. A read that fails is an error, never
 * a zero. Also the table of per-target counters all printers share.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "snapshot.h"

/* ---- the counters: one line per counter of struct hedge_stats --------- */

#define COUNTER(f, text, json, prom, help, flags) \
	{ offsetof(struct hedge_stats, f), text, json, prom, help, flags }

const struct counter hedge_counters[] = {
	/* field, text, JSON key, Prometheus name (after hedge_), HELP, flags; one line each (long lines: a table) */
	COUNTER(requests, "requests", "requests", "requests_total", "Requests to the target seen by the Splitter.", 0),
	COUNTER(hedges_sent, "hedges sent", "hedges_sent", "hedges_sent_total", "Hedges sent: requests unanswered after the delay.", 0),
	COUNTER(hedges_cancelled, "hedges cancelled", "hedges_cancelled", "hedges_cancelled_total", "Hedges not sent: the response came first.", 0),
	COUNTER(hedges_refused, "hedges refused", "hedges_refused", "hedges_refused_total", "Hedges not sent: over the hedging budget.", 0),
	COUNTER(responses, "responses", "responses", "responses_total", "First responses, passed to the client.", 0),
	COUNTER(duplicates, "duplicates dropped", "duplicates_dropped", "duplicates_dropped_total", "Later responses to an answered request, dropped.", 0),
	COUNTER(hedges_won, "hedges won (the hedge's answer came first)", "hedges_won", "hedges_won_total", "Hedges to a replica that answered first; TCP: hedged handshakes with one SYN-ACK (with a replica: the replica's came first, its connection rewritten through hedge_nat).", COUNTER_REPLICA),
	COUNTER(hedges_lost, "hedges lost", "hedges_lost", "hedges_lost_total", "Hedges to a replica answered second; TCP: both SYNs answered (with a replica: the primary's SYN-ACK came first).", COUNTER_REPLICA),
	COUNTER(early, NULL, "early", "hedges_early_total", "Hedges sent before their deadline (should stay 0).", 0),
	COUNTER(requests_unhedgeable, "requests not hedged (IP options, IPv6 extension headers)", "requests_unhedgeable", "requests_unhedgeable_total", "Requests with IPv4 options or IPv6 extension headers, passed unhedged.", 0),
	COUNTER(requests_fragmented, "requests not hedged (fragmented)", "requests_fragmented", "requests_fragmented_total", "Fragmented requests, passed unhedged.", 0),
	COUNTER(requests_unsafe, "requests not hedged (not a plain DNS query, or not --match's bytes)", "requests_unsafe", "requests_unsafe_total", "Requests not hedged as unsafe to send twice: not a standard DNS query (--id dns), or without --match's bytes.", 0),
	COUNTER(requests_gso, "requests not hedged (several datagrams in one skb)", "requests_gso", "requests_gso_total", "GSO/UDP_SEGMENT skbs of several requests, passed unhedged.", 0),
	COUNTER(responses_invalid, "responses the stack would drop (passed, not judged)", "responses_invalid", "responses_invalid_total", "Responses with a bad checksum, length or packet type: passed, the request left as it was.", 0),
	COUNTER(responses_gro, "GRO-coalesced responses (passed, not judged)", "responses_gro", "responses_gro_total", "GRO-coalesced response skbs, passed without judging them.", 0),
	COUNTER(too_big, "too big to park", "too_big", "too_big_total", "Requests not hedged: bigger than a parking slot (tick line).", COUNTER_DROP),
	COUNTER(ring_full, "ring full", "ring_full", "ring_full_total", "Requests not hedged: no free slot on the tick line (see --max-inflight).", COUNTER_DROP),
	COUNTER(queue_full, "queue full", "queue_full", "queue_full_total", "Requests not hedged: the deadline ring was full.", COUNTER_DROP),
	COUNTER(evicted, "evicted", "evicted", "evicted_total", "Requests not hedged: no room in the Scoreboard (their set full, and its stash refused them), or their entry lost before the deadline (the stash's LRU took it).", COUNTER_DROP),
	COUNTER(clone_failed, "clone failed", "clone_failed", "clone_failed_total", "Requests not hedged: a clone, copy or redirect failed.", COUNTER_DROP),
	COUNTER(copy_clash, "copy clash", "copy_clash", "copy_clash_total", "Hedges not sent: the replica's key held the client's own live request.", 0),
	COUNTER(delayed, "delayed", "delayed", "delayed_total", "Copies put in the delay line.", 0),
	COUNTER(rescued, "rescued", "rescued", "rescued_total", "Copies the Rescuer got back from the delay line.", 0),
	/* Time saved: said in status's "hedging saved" line (print_text.c). */
	COUNTER(hedges_helped, NULL, "hedges_helped", "hedges_helped_total", "Hedged requests whose hedge's answer came first (same server: see hedges_undecided).", 0),
	COUNTER(hedges_wasted, NULL, "hedges_wasted", "hedges_wasted_total", "Hedged requests whose original's answer came first.", 0),
	COUNTER(originals_unanswered, NULL, "originals_unanswered", "originals_unanswered_total", "Helped requests whose original never answered within --window (or before their key was reused).", 0),
	COUNTER(saved_undecided, NULL, "hedges_undecided", "hedges_undecided_total", "Same-server hedged requests whose first answer could be either copy's: taken for the hedge's (counted helped).", 0),
	COUNTER(handshakes, "handshakes", "handshakes", "handshakes_total", "TCP targets: handshakes (SYNs) seen by the Splitter.", COUNTER_TCP),
	COUNTER(requests_braked, "requests not hedged (overload brake)", "requests_braked", "requests_braked_total", "Requests passed untracked, unhedged, while the overload brake was on (the target overloaded: see bpf/brake.h).", 0),
	COUNTER(duplicates_passed, "duplicates passed (later than --window)", "duplicates_passed", "duplicates_passed_total", "A hedged request's second answer, later than --window: passed to the client (its entry void).", 0),
	COUNTER(syn_data, "SYNs with data not hedged (Fast Open)", "syn_data", "syn_data_total", "TCP targets: SYNs carrying data (TCP Fast Open), passed unhedged.", COUNTER_TCP),
	COUNTER(nat_entries, "connections through the replica now", "nat_entries", "nat_entries", "TCP targets with a replica: connections whose handshake the replica won, rewritten both ways now, those closed within the last 2 s included (a gauge).", COUNTER_TCP_REPLICA | COUNTER_GAUGE),
	COUNTER(nat_full, "replica's handshakes reset (NAT table full)", "nat_full", "nat_full_total", "TCP targets with a replica: handshakes the replica won with no room left in the NAT table: its connection reset, the client's own SYN left to reach the primary.", COUNTER_TCP_REPLICA | COUNTER_DROP),
	COUNTER(nat_resets, "RSTs sent to the losing server", "nat_resets", "nat_resets_total", "TCP targets with a replica: the losing server's SYN-ACKs turned into a RST back to it (no half-open connection left).", COUNTER_TCP_REPLICA),
	COUNTER(nat_closed, "connections through the replica closed", "nat_closed", "nat_closed_total", "TCP targets with a replica: connections through the replica closed (FIN both ways, or a RST).", COUNTER_TCP_REPLICA),
};
const size_t n_hedge_counters = sizeof(hedge_counters) /
				sizeof(hedge_counters[0]);

/* ---- per-CPU counters ------------------------------------------------- */

/* The per-CPU sum goes __u64 by __u64: the struct is nothing else. */
_Static_assert(sizeof(struct hedge_stats) % 8 == 0,
	       "struct hedge_stats is made of __u64s");

/* Fields that are maxima over CPUs, not sums. */
static const size_t maxima[] = {
	offsetof(struct hedge_stats, late_max_ns),
};

int cpu_list_count(const char *s)
{
	unsigned long a, b, highest = 0;
	char *end;
	int any = 0;

	for (;;) {
		if (*s < '0' || *s > '9')
			return -1;
		a = b = strtoul(s, &end, 10);
		if (*end == '-') {
			s = end + 1;
			if (*s < '0' || *s > '9')
				return -1;
			b = strtoul(s, &end, 10);
		}
		if (b < a || b > 65535)
			return -1;
		highest = b > highest ? b : highest;
		any = 1;
		s = end;
		if (*s != ',')
			break;
		s++;
	}
	if (*s == '\n')
		s++;
	return any && !*s ? (int)highest + 1 : -1;
}

/* A per-CPU map returns one value per possible CPU, online or not. */
static int possible_cpus(void)
{
	FILE *f = fopen("/sys/devices/system/cpu/possible", "r");
	char line[4096];
	int n;

	if (!f)
		return -errno;
	n = fgets(line, sizeof(line), f) ? cpu_list_count(line) : -1;
	fclose(f);
	return n > 0 ? n : -EINVAL;
}

static int is_maximum(size_t off)
{
	size_t i;

	for (i = 0; i < sizeof(maxima) / sizeof(maxima[0]); i++)
		if (maxima[i] == off)
			return 1;
	return 0;
}

int stats_read(int fd, uint32_t target, struct hedge_stats *sum)
{
	int cpu, n = possible_cpus(), err;
	struct hedge_stats *per_cpu;
	__u64 *to = (__u64 *)sum;
	size_t w;

	memset(sum, 0, sizeof(*sum));
	if (n < 0)
		return n;
	per_cpu = calloc((size_t)n, sizeof(*per_cpu));
	if (!per_cpu)
		return -ENOMEM;
	err = map_lookup(fd, &target, per_cpu);
	for (cpu = 0; cpu < n && !err; cpu++) {
		const __u64 *from = (const __u64 *)&per_cpu[cpu];

		for (w = 0; w < sizeof(*sum) / 8; w++)
			if (!is_maximum(w * 8))
				to[w] += from[w];
			else if (from[w] > to[w])
				to[w] = from[w];
	}
	free(per_cpu);
	return err;
}

/* ---- percentiles ------------------------------------------------------ */

/* The lateness of `pct` percent of the hedges, at most: a bucket's top. */
uint64_t late_percentile_us(const struct hedge_stats *st, double pct)
{
	uint64_t seen = 0, late = st->hedges_sent - st->early;
	int i;

	for (i = 0; i < HEDGE_LATE_BUCKETS - 1; i++) {
		seen += st->late[i];
		if (late && seen >= pct / 100 * late)
			break;
	}
	if (i < HEDGE_LATE_BUCKETS - 1 &&
	    (i + 1) * HEDGE_LATE_STEP_NS < st->late_max_ns)
		return (i + 1) * HEDGE_LATE_STEP_NS / NS_PER_US;
	return st->late_max_ns / NS_PER_US;	/* the open last bucket */
}

/* `pct` percent of a histogram's samples (hedge.h's buckets) are at most
 * this: the top of the bucket it falls in (the last bucket has none: its
 * bottom). */
uint64_t hist_percentile_ns(const __u64 *hist, double pct)
{
	uint64_t seen = 0, count = 0;
	uint32_t b;

	for (b = 0; b < HEDGE_HIST_BUCKETS; b++)
		count += hist[b];
	for (b = 0; b < HEDGE_HIST_BUCKETS - 1; b++) {
		seen += hist[b];
		if (count && seen >= pct / 100 * count)
			return hedge_hist_floor_ns(b + 1);
	}
	return count ? hedge_hist_floor_ns(HEDGE_HIST_BUCKETS - 1) : 0;
}

uint64_t hist_count(const __u64 *hist)
{
	uint64_t count = 0;
	uint32_t b;

	for (b = 0; b < HEDGE_HIST_BUCKETS; b++)
		count += hist[b];
	return count;
}

/* Response time of `pct` percent of the responses, at most. */
uint64_t rt_percentile_ns(const struct hedge_stats *st, double pct)
{
	return hist_percentile_ns(st->rt, pct);
}

/* ---- reading it all once ---------------------------------------------- */

/* Each target's delay now: its adaptive delay, or the fixed one. */
static int read_delays(const struct instance *in, struct snapshot *s)
{
	struct hedge_adapt a;
	uint32_t i;
	int err;

	for (i = 0; i < s->n; i++) {
		if (!(s->cfg.flags & HEDGE_F_ADAPTIVE)) {
			s->delay_ns[i] = s->cfg.delay_ns;
			continue;
		}
		if (in->adapt_fd < 0)
			return fail("reading the adaptive delays: the "
				    HEDGE_MAP_ADAPT " map cannot be opened here");
		err = map_lookup(in->adapt_fd, &i, &a);
		if (err)
			return fail("reading the adaptive delays: %s",
				    strerror(-err));
		s->delay_ns[i] = a.delay_ns;
	}
	return 0;
}

/*
 * TCP replicas: each target's connections in hedge_nat (its gauge,
 * nat_entries), those lingering after their close included. An entry
 * over (lingered, or idle: see hedge.h) is not counted, and is deleted
 * (the BPF side deletes one only on its next packet, which an abandoned
 * connection never sends). Read a batch of buckets at a time: entries
 * deleted meanwhile (by the datapath, or by another `status` at once) do
 * not restart the walk, so none is counted twice. Each batch's over
 * entries are deleted once it is read, absent already or not.
 */
#define NAT_BATCH	256	/* entries a read: far more than a bucket's */

int nat_walk(int fd, uint64_t now, uint64_t *live, uint32_t n)
{
	static struct hedge_nat_key keys[NAT_BATCH];
	static struct hedge_nat vals[NAT_BATCH];
	uint32_t in, out, count, i, reads;
	int err = 0;

	for (reads = 0; reads <= HEDGE_NAT_SIZE && err != -ENOENT; reads++) {
		count = NAT_BATCH;
		err = map_lookup_batch(fd, reads ? &in : NULL, &out, keys,
				       vals, &count);
		if (err && err != -ENOENT)
			return err;
		for (i = 0; i < count && i < NAT_BATCH; i++) {
			const struct hedge_nat *e = &vals[i];

			if ((e->end_ns && now - e->end_ns >=
			     HEDGE_NAT_LINGER_NS) ||
			    now - e->used_ns >= HEDGE_NAT_IDLE_NS)
				map_delete(fd, &keys[i]); /* or gone: same */
			else if (e->target < n && e->used_ns <= now)
				live[e->target]++;
		}
		in = out;
	}
	return err == -ENOENT ? 0 : -E2BIG;
}

static int read_nat(const struct instance *in, struct snapshot *s,
		    uint64_t now)
{
	uint64_t live[HEDGE_MAX_TARGETS] = { 0 };
	uint32_t t;
	int err;

	if (!(s->cfg.flags & HEDGE_F_TCP_NAT))
		return 0;
	if (in->nat_fd < 0)
		return fail("reading the TCP replicas' connections: the "
			    HEDGE_MAP_NAT " map cannot be opened here");
	err = nat_walk(in->nat_fd, now, live, s->n);
	if (err)
		return fail("reading the TCP replicas' connections: %s",
			    strerror(-err));
	for (t = 0; t < s->n; t++)
		s->st[t].nat_entries = live[t];
	return 0;
}

/* The tick line's pulse: how many ticks, and how long since the last. */
static int read_ticker(const struct instance *in, struct snapshot *s)
{
	struct timespec now;
	uint32_t zero = 0;
	int err;

	if (s->cfg.delay_line != HEDGE_DL_TICK)
		return 0;
	if (in->tick_fd < 0)
		return fail("reading the ticker: the " HEDGE_MAP_TICK " map "
			    "cannot be opened here");
	err = map_lookup(in->tick_fd, &zero, &s->ticker);
	if (err)
		return fail("reading the ticker: %s", strerror(-err));
	/* bpf_ktime_get_ns() is CLOCK_MONOTONIC. */
	if (clock_gettime(CLOCK_MONOTONIC, &now))
		return fail("reading the clock: %s", strerror(errno));
	s->now_ns = (uint64_t)now.tv_sec * NS_PER_S + (uint64_t)now.tv_nsec;
	/* A tick between the two reads is 0 ago, not 584 years. */
	s->tick_ago_ns = s->now_ns > s->ticker.last_ns ?
			 s->now_ns - s->ticker.last_ns : 0;
	s->parking_span[0] = HEDGE_SPAN(s->ticker.span[0], s->cfg.ring_mask);
	s->parking_span[1] = HEDGE_SPAN(s->ticker.span[1], s->cfg.big_mask);
	s->parking_slots[0] = s->cfg.ring_mask + 1;
	s->parking_slots[1] = s->cfg.big_mask + 1;
	s->has_ticker = 1;
	return 0;
}

/* The overload brake of each target (bpf/brake.h): its budget's entry.
 * No budget: no brake, nothing to read. */
static int read_brakes(const struct instance *in, struct snapshot *s)
{
	struct timespec now;
	uint32_t i;
	int err;

	if (s->cfg.budget_pct >= 100)
		return 0;
	if (in->budget_fd < 0)
		return fail("reading the overload brake: the " HEDGE_MAP_BUDGET
			    " map cannot be opened here");
	for (i = 0; i < s->n; i++) {
		err = map_lookup(in->budget_fd, &i, &s->brake[i]);
		if (err)
			return fail("reading the overload brake of target %s: "
				    "%s", s->target[i], strerror(-err));
	}
	if (!s->now_ns) {
		if (clock_gettime(CLOCK_MONOTONIC, &now))
			return fail("reading the clock: %s", strerror(errno));
		s->now_ns = (uint64_t)now.tv_sec * NS_PER_S +
			    (uint64_t)now.tv_nsec;
	}
	return 0;
}

/*
 * Each program's cost per packet by the kernel's own accounting (counting
 * only while kernel.bpf_stats_enabled is 1). Looking a program up by id
 * needs CAP_SYS_ADMIN: without it, the cost is unknown, and said so; a
 * program not on its hook (TCX's name also needs CAP_SYS_ADMIN) too.
 */
static int read_costs(struct nl *nl, struct snapshot *s)
{
	const struct hedge_config *cfg = &s->cfg;
	const struct { const char *label, *name; int ifindex, ingress; }
	progs[SNAP_PROGS] = {
		{ "splitter", HEDGE_PROG_SPLITTER, (int)cfg->dev_ifindex, 0 },
		{ "watcher", HEDGE_PROG_WATCHER, (int)cfg->dev_ifindex, 1 },
		{ "rescuer", HEDGE_PROG_RESCUER, (int)cfg->rescue_ifindex, 1 },
		{ "ticker", HEDGE_PROG_TICKER, (int)cfg->delay_ifindex, 1 },
	};
	size_t i;
	long id;
	int err;

	s->n_progs = cfg->delay_line == HEDGE_DL_TICK ? 4 : 3;
	for (i = 0; i < s->n_progs; i++) {
		struct prog_cost *c = &s->progs[i];

		c->label = progs[i].label;
		if (s->dev_gone && progs[i].ifindex == (int)cfg->dev_ifindex)
			continue;	/* unknown: the device is gone */
		/* The device's two are on TCX or tc, as attached; the
		 * delay line's are tc filters. */
		id = progs[i].ifindex == (int)cfg->dev_ifindex ?
		     hook_prog_id(nl, cfg, progs[i].ingress, progs[i].name) :
		     filter_prog_id(nl, progs[i].ifindex, progs[i].ingress,
				    progs[i].name);
		if (id < 0)
			return -1;
		if (!id) {
			c->why = "not found on its hook";
			continue;
		}
		err = prog_run_stats((uint32_t)id, &c->run_time_ns,
				     &c->run_cnt);
		if (err)
			c->why = err == -EPERM ? "needs CAP_SYS_ADMIN" :
				 "gone";
		c->known = !err;
	}
	return 0;
}

int snapshot_take(struct nl *nl, const struct instance *in,
		  struct snapshot *s)
{
	const struct delay_line *line;
	struct timespec now;
	uint32_t i;
	int err;

	memset(s, 0, sizeof(*s));
	s->cfg = in->cfg;
	s->score_sets = (s->cfg.score_mask >>
			 HEDGE_SCORE_CUR(s->cfg.score_word)) + 1;
	s->score_sets_max = s->cfg.score_mask + 1;
	s->score_draining = HEDGE_SCORE_CUR(s->cfg.score_word) !=
			    HEDGE_SCORE_PREV(s->cfg.score_word);
	s->n = s->cfg.n_targets < HEDGE_MAX_TARGETS ? s->cfg.n_targets :
	       HEDGE_MAX_TARGETS;
	/* A device deleted under hedge is a health problem, not an error. */
	if (!if_indextoname(s->cfg.dev_ifindex, s->dev)) {
		if (errno != ENXIO && errno != ENODEV)
			return fail("reading the hedged device's name (ifindex "
				    "%u): %s", s->cfg.dev_ifindex,
				    strerror(errno));
		snprintf(s->dev, sizeof(s->dev), "ifindex %u",
			 s->cfg.dev_ifindex);
		s->dev_gone = 1;
	}
	line = line_of(s->cfg.delay_line);
	s->line = line ? line->name : "?";
	for (i = 0; i < s->n; i++) {
		target_str(&s->cfg.targets[i], s->target[i],
			   sizeof(s->target[i]));
		err = stats_read(in->stats_fd, i, &s->st[i]);
		if (err)
			return fail("reading the counters of target %s: %s",
				    s->target[i], strerror(-err));
	}
	if (clock_gettime(CLOCK_MONOTONIC, &now))
		return fail("reading the clock: %s", strerror(errno));
	if (read_delays(in, s) || read_ticker(in, s) || read_brakes(in, s) ||
	    read_costs(nl, s) ||
	    read_nat(in, s, (uint64_t)now.tv_sec * NS_PER_S +
		     (uint64_t)now.tv_nsec))
		return -1;
	return 0;
}

const char *tick_state_name(uint64_t run)
{
	switch (HEDGE_TICK_STATE(run)) {
	case HEDGE_TICK_RUNNING:
		return "running";
	case HEDGE_TICK_IDLE:
		return "idle";
	case HEDGE_TICK_STARTING:
		return "starting";
	}
	return "unknown";
}
