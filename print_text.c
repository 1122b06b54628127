// SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
/*
 * print_text.c - `hedge status` for a person. Names from the kernel go
 * through printable(): no escape sequence reaches the terminal.
 */
#include <stdio.h>
#include <string.h>
#include "snapshot.h"

/* Time saved: how much later the original's answer came where the
 * hedge's came first (bpf/saved.h says how "first" is told). */
static void print_saved(const struct hedge_stats *st)
{
	uint64_t n = hist_count(st->saved);

	printf("  hedging saved %llu ms on %llu requests (mean; p50 <= %llu ms, "
	       "p99 <= %llu ms), %llu hedges wasted, %llu originals never "
	       "answered, %llu undecided (same server: taken for the "
	       "hedge's)\n",
	       (unsigned long long)(n ? st->saved_sum_ns / n / NS_PER_MS : 0),
	       (unsigned long long)n,
	       (unsigned long long)(hist_percentile_ns(st->saved, 50) /
				    NS_PER_MS),
	       (unsigned long long)(hist_percentile_ns(st->saved, 99) /
				    NS_PER_MS),
	       (unsigned long long)st->hedges_wasted,
	       (unsigned long long)st->originals_unanswered,
	       (unsigned long long)st->saved_undecided);
}

static void print_counters(const struct snapshot *s, uint32_t t)
{
	const struct hedge_stats *st = &s->st[t];
	int first = 1;
	size_t i;

	for (i = 0; i < n_hedge_counters; i++) {
		const struct counter *c = &hedge_counters[i];

		if (!c->text || !counter_shown(&s->cfg, t, c->flags))
			continue;
		printf("%s%s %llu", first ? "  " : ", ", c->text,
		       counter_value(st, c));
		first = 0;
	}
	printf("\n");
	if (st->responses)
		printf("  response time: p50 <= %llu us, p99 <= %llu us, "
		       "mean %llu us\n",
		       (unsigned long long)(rt_percentile_ns(st, 50) / NS_PER_US),
		       (unsigned long long)(rt_percentile_ns(st, 99) / NS_PER_US),
		       (unsigned long long)(st->rt_sum_ns / st->responses /
					    NS_PER_US));
	print_saved(st);
	/* How long after their deadlines hedges left: never before. */
	printf("  hedge lateness: %llu early, p50 <= %llu us, p99 <= %llu us, "
	       "max %llu us\n", (unsigned long long)st->early,
	       (unsigned long long)late_percentile_us(st, 50),
	       (unsigned long long)late_percentile_us(st, 99),
	       (unsigned long long)(st->late_max_ns / NS_PER_US));
}

/* One line per problem, first thing after the "up on" line. */
static void print_health(const struct health *h)
{
	char detail[4 * PROBLEM_DETAIL + 1];
	unsigned int i;

	if (!h->n) {
		printf("healthy: everything up made is there and working\n");
		return;
	}
	for (i = 0; i < h->n && i < HEALTH_MAX_PROBLEMS; i++) {
		printable(h->p[i].detail, detail, sizeof(detail));
		printf("degraded: %s\n", detail);
	}
	if (h->n > HEALTH_MAX_PROBLEMS)
		printf("degraded: and %u more problems\n",
		       h->n - HEALTH_MAX_PROBLEMS);
}

void print_text(const struct snapshot *s)
{
	char dev[4 * IF_NAMESIZE + 1], delay[80], window[32];
	char match[48], dress[48];
	size_t i;
	uint32_t t;

	printable(s->dev, dev, sizeof(dev));
	describe_delay(&s->cfg, delay, sizeof(delay));
	format_duration(window, sizeof(window), s->cfg.window_ns);
	printf("up on %s: delay %s (%s delay line), window %s, id %u:%u, "
	       "budget %u%% + %u/s\n", dev, delay, s->line, window,
	       s->cfg.id_offset, s->cfg.id_len, s->cfg.budget_pct,
	       s->cfg.budget_min_rate);
	describe_match(&s->cfg, match, sizeof(match));
	describe_dress(&s->cfg, dress, sizeof(dress));
	printf("hedged: %s%s%s; hedges %s\n",
	       !strcmp(match, "all") ? "all requests" :
	       !strcmp(match, "dns") ? "standard DNS queries only" :
	       "requests with --match ", strchr(match, ':') ? match : "",
	       strchr(match, ':') ? " only" : "",
	       *dress ? dress : "as their requests");
	printf("attached by %s\n", s->cfg.flags & HEDGE_F_ATTACH_TCX ?
	       "TCX, ahead of every other program" :
	       "tc (clsact), at a pref ahead of every other filter");
	print_health(&s->health);
	for (t = 0; t < s->n; t++) {
		printf("target %s: delay now %llu us\n", s->target[t],
		       (unsigned long long)(s->delay_ns[t] / NS_PER_US));
		print_counters(s, t);
	}
	if (s->has_ticker)
		printf("ticker: %s, %llu ticks on CPU %u, the last %llu us "
		       "ago; %llu starts after idle, %llu restarts of a lost "
		       "tick; parking in the first %u of %u slots (full "
		       "frames: %u of %u)\n", tick_state_name(s->ticker.run),
		       (unsigned long long)s->ticker.ticks, s->ticker.cpu,
		       (unsigned long long)(s->tick_ago_ns / NS_PER_US),
		       (unsigned long long)s->ticker.starts,
		       (unsigned long long)s->ticker.restarts,
		       s->parking_span[0], s->parking_slots[0],
		       s->parking_span[1], s->parking_slots[1]);
	printf("scoreboard: %u of %u sets in use (%llu KiB of %llu), grown "
	       "%llu times, shrunk %llu; %llu requests stashed (their set "
	       "full)%s\n", s->score_sets, s->score_sets_max,
	       (unsigned long long)s->score_sets *
	       sizeof(struct hedge_set) / 1024,
	       (unsigned long long)s->score_sets_max *
	       sizeof(struct hedge_set) / 1024,
	       (unsigned long long)s->cfg.score_grows,
	       (unsigned long long)s->cfg.score_shrinks,
	       (unsigned long long)s->cfg.score_stashed,
	       s->score_draining ? "; the sets before the last change "
	       "still looked in" : "");
	printf("programs (ns per packet while kernel.bpf_stats_enabled=1):");
	for (i = 0; i < s->n_progs; i++) {
		const struct prog_cost *c = &s->progs[i];

		if (!c->known)
			printf(" %s unknown (%s)", c->label,
			       c->why ? c->why : "device gone");
		else
			printf(" %s %llu ns x %llu", c->label,
			       (unsigned long long)(c->run_cnt ?
				c->run_time_ns / c->run_cnt : 0),
			       (unsigned long long)c->run_cnt);
	}
	printf("\n");
}

void print_not_up(enum format format)
{
	printf(format == FORMAT_PROMETHEUS ? "# HELP hedge_up Whether hedge is "
	       "up.\n# TYPE hedge_up gauge\nhedge_up 0\n" :
	       format == FORMAT_JSON ? "{\"up\":false}\n" : "hedge is not up\n");
}
