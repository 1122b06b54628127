// SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
/*
 * print_prom.c - `hedge status --prometheus`: the text exposition format
 * 0.0.4. Label values go through label(): \\, \" and \n escaped.
 */
#include <stddef.h>
#include <stdio.h>
#include "snapshot.h"

static void label(const char *name, const char *val)
{
	printf("%s=\"", name);
	for (; *val; val++) {
		if (*val == '\\' || *val == '"')
			printf("\\%c", *val);
		else if (*val == '\n')
			printf("\\n");
		else
			putchar(*val);
	}
	putchar('"');
}

static void family(const char *name, const char *help, const char *type)
{
	printf("# HELP hedge_%s %s\n# TYPE hedge_%s %s\n", name, help, name,
	       type);
}

/* A sample of a target: hedge_NAME{target="..."[,le="..."]} */
static void sample_start(const struct snapshot *s, const char *name,
			 uint32_t t)
{
	printf("hedge_%s{", name);
	label("target", s->target[t]);
}

/* A histogram of hedge.h's buckets (at `hist` in struct hedge_stats, its
 * sum at `sum`) as a Prometheus one: a bucket per power of two (every
 * HEDGE_HIST_SUB of hedge's own), cumulative, then +Inf. */
static void histogram(const struct snapshot *s, const char *name,
		      const char *help, size_t hist, size_t sum)
{
	char sample[64];
	uint64_t below;
	uint32_t t, b;

	family(name, help, "histogram");
	for (t = 0; t < s->n; t++) {
		const char *st = (const char *)&s->st[t];
		const __u64 *h = (const __u64 *)(st + hist);

		below = 0;
		snprintf(sample, sizeof(sample), "%s_bucket", name);
		for (b = 0; b < HEDGE_HIST_BUCKETS - 1; b++) {
			below += h[b];
			if ((b + 1) % HEDGE_HIST_SUB)
				continue;
			sample_start(s, sample, t);
			printf(",le=\"%.9f\"} %llu\n",
			       (double)hedge_hist_floor_ns(b + 1) / NS_PER_S,
			       (unsigned long long)below);
		}
		below += h[HEDGE_HIST_BUCKETS - 1];
		sample_start(s, sample, t);
		printf(",le=\"+Inf\"} %llu\n", (unsigned long long)below);
		snprintf(sample, sizeof(sample), "%s_sum", name);
		sample_start(s, sample, t);
		printf("} %.9f\n", (double)*(const __u64 *)(st + sum) /
				   NS_PER_S);
		snprintf(sample, sizeof(sample), "%s_count", name);
		sample_start(s, sample, t);
		printf("} %llu\n", (unsigned long long)below);
	}
}

/* Every kind always, so that a scrape sees its 0s. */
static void health(const struct health *h)
{
	int k;

	family("healthy", "Whether everything up made is there and working "
	       "(status exits 3 when not).", "gauge");
	printf("hedge_healthy %d\n", !h->n);
	family("problems", "Problems status found now, by kind (see status "
	       "for each one's words).", "gauge");
	for (k = 0; k < N_PROBLEM_KINDS; k++) {
		printf("hedge_problems{");
		label("kind", problem_kinds[k]);
		printf("} %u\n", h->per_kind[k]);
	}
}

void print_prom(const struct snapshot *s)
{
	size_t i;
	uint32_t t;

	family("up", "Whether hedge is up.", "gauge");
	printf("hedge_up 1\n");
	family("info", "The running hedge: its device, delay line and how it "
	       "is attached (tcx, tc).", "gauge");
	printf("hedge_info{");
	label("dev", s->dev);
	printf(",");
	label("delay_line", s->line);
	printf(",");
	label("attach", s->cfg.flags & HEDGE_F_ATTACH_TCX ? "tcx" : "tc");
	printf("} 1\n");
	health(&s->health);
	for (i = 0; i < n_hedge_counters; i++) {
		const struct counter *c = &hedge_counters[i];

		family(c->prom, c->help, c->flags & COUNTER_GAUGE ?
		       "gauge" : "counter");
		for (t = 0; t < s->n; t++) {
			sample_start(s, c->prom, t);
			printf("} %llu\n", counter_value(&s->st[t], c));
		}
	}
	family("delay_seconds", "The delay a request gets now.", "gauge");
	for (t = 0; t < s->n; t++) {
		sample_start(s, "delay_seconds", t);
		printf("} %.9f\n", (double)s->delay_ns[t] / NS_PER_S);
	}
	family("braking", "Whether the target's overload brake is on: new "
	       "requests to it pass unhedged.", "gauge");
	for (t = 0; t < s->n; t++) {
		sample_start(s, "braking", t);
		printf("} %d\n", braking(s, t));
	}
	family("brake_episodes_total", "Times the target's overload brake "
	       "engaged.", "counter");
	for (t = 0; t < s->n; t++) {
		sample_start(s, "brake_episodes_total", t);
		printf("} %llu\n",
		       (unsigned long long)s->brake[t].brake_episodes);
	}
	family("scoreboard_sets", "Scoreboard sets in use (8 requests "
	       "each); it grows and shrinks within hedge_scoreboard_sets_max.",
	       "gauge");
	printf("hedge_scoreboard_sets %u\n", s->score_sets);
	family("scoreboard_sets_max", "Scoreboard sets its array holds.",
	       "gauge");
	printf("hedge_scoreboard_sets_max %u\n", s->score_sets_max);
	family("scoreboard_grows_total", "Times the Scoreboard's sets in use "
	       "grew (a request found its set crowded).", "counter");
	printf("hedge_scoreboard_grows_total %llu\n",
	       (unsigned long long)s->cfg.score_grows);
	family("scoreboard_shrinks_total", "Times the Scoreboard's sets in "
	       "use halved (few requests live).", "counter");
	printf("hedge_scoreboard_shrinks_total %llu\n",
	       (unsigned long long)s->cfg.score_shrinks);
	family("scoreboard_stashed_total", "Requests put in the Scoreboard's "
	       "stash, their set full (hedged all the same).", "counter");
	printf("hedge_scoreboard_stashed_total %llu\n",
	       (unsigned long long)s->cfg.score_stashed);
	histogram(s, "response_time_seconds", "Time from a request to its "
		  "first response.", offsetof(struct hedge_stats, rt),
		  offsetof(struct hedge_stats, rt_sum_ns));
	histogram(s, "saved_seconds", "Time saved by hedging: how much later "
		  "the original's answer came than the hedge's, where the "
		  "hedge's came first.", offsetof(struct hedge_stats, saved),
		  offsetof(struct hedge_stats, saved_sum_ns));
}
