// SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
/*
 * print_json.c - `hedge status --json`: one line of JSON. Every string
 * goes through json_str(), escaped as RFC 8259 says.
 */
#include <stdio.h>
#include "snapshot.h"

static void json_str(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c < 0x20 || c == 0x7f)
			printf("\\u%04x", c);
		else
			putchar(c);
	}
	putchar('"');
}

/* "key": and a string value, with its comma before unless first. */
static void json_kv_str(const char *key, const char *val)
{
	printf(",\"%s\":", key);
	json_str(val);
}

static void print_target(const struct snapshot *s, uint32_t t)
{
	const struct hedge_stats *st = &s->st[t];
	int i;
	size_t c;

	printf("%s{\"target\":", t ? "," : "");
	json_str(s->target[t]);
	printf(",\"delay_ns\":%llu", (unsigned long long)s->delay_ns[t]);
	for (c = 0; c < n_hedge_counters; c++)
		if (counter_shown(&s->cfg, t, hedge_counters[c].flags))
			printf(",\"%s\":%llu", hedge_counters[c].json,
			       counter_value(st, &hedge_counters[c]));
	printf(",\"braking\":%s,\"brake_hold_ns\":%llu,"
	       "\"brake_episodes\":%llu", braking(s, t) ? "true" : "false",
	       (unsigned long long)s->brake[t].brake_hold_ns,
	       (unsigned long long)s->brake[t].brake_episodes);
	printf(",\"response_time\":{\"count\":%llu,\"sum_ns\":%llu,"
	       "\"p50_us\":%llu,\"p99_us\":%llu}",
	       (unsigned long long)st->responses,
	       (unsigned long long)st->rt_sum_ns,
	       (unsigned long long)(rt_percentile_ns(st, 50) / NS_PER_US),
	       (unsigned long long)(rt_percentile_ns(st, 99) / NS_PER_US));
	printf(",\"saved\":{\"count\":%llu,\"sum_ns\":%llu,"
	       "\"p50_us\":%llu,\"p99_us\":%llu}",
	       (unsigned long long)hist_count(st->saved),
	       (unsigned long long)st->saved_sum_ns,
	       (unsigned long long)(hist_percentile_ns(st->saved, 50) /
				    NS_PER_US),
	       (unsigned long long)(hist_percentile_ns(st->saved, 99) /
				    NS_PER_US));
	printf(",\"late_p50_us\":%llu,\"late_p99_us\":%llu,\"late_max_us\":%llu,"
	       "\"late_16us_buckets\":[",
	       (unsigned long long)late_percentile_us(st, 50),
	       (unsigned long long)late_percentile_us(st, 99),
	       (unsigned long long)(st->late_max_ns / NS_PER_US));
	for (i = 0; i < HEDGE_LATE_BUCKETS; i++)
		printf("%s%llu", i ? "," : "", (unsigned long long)st->late[i]);
	printf("]}");
}

static void print_health(const struct health *h)
{
	unsigned int i;

	printf(",\"healthy\":%s,\"problems\":[", h->n ? "false" : "true");
	for (i = 0; i < h->n && i < HEALTH_MAX_PROBLEMS; i++) {
		printf("%s{\"kind\":", i ? "," : "");
		json_str(problem_kinds[h->p[i].kind]);
		printf(",\"detail\":");
		json_str(h->p[i].detail);
		printf("}");
	}
	printf("]");
	if (h->n > HEALTH_MAX_PROBLEMS)
		printf(",\"problems_not_shown\":%u", h->n - HEALTH_MAX_PROBLEMS);
}

/* Which requests are hedged, and what the hedges carry (safe.c). */
static void print_safe(const struct hedge_config *c)
{
	char match[48];

	describe_match(c, match, sizeof(match));
	printf(",\"match\":");
	json_str(match);
	printf(",\"hedge_dscp\":");
	if (c->hedge_dress & HEDGE_DRESS_DSCP)
		printf("%u", c->hedge_dscp);
	else
		printf("null");
	printf(",\"hedge_priority\":");
	if (c->hedge_dress & HEDGE_DRESS_PRIORITY)
		printf("%u", c->hedge_priority);
	else
		printf("null");
}

void print_json(const struct snapshot *s)
{
	char delay[80];
	uint32_t t;
	size_t i;

	describe_delay(&s->cfg, delay, sizeof(delay));
	printf("{\"up\":true");
	print_health(&s->health);
	json_kv_str("dev", s->dev);
	json_kv_str("delay_line", s->line);
	json_kv_str("attach", s->cfg.flags & HEDGE_F_ATTACH_TCX ? "tcx" : "tc");
	json_kv_str("delay", delay);
	printf(",\"window_ns\":%llu,\"id_offset\":%u,\"id_len\":%u,"
	       "\"budget_pct\":%u,\"budget_min_rate\":%u",
	       (unsigned long long)s->cfg.window_ns, s->cfg.id_offset,
	       s->cfg.id_len, s->cfg.budget_pct, s->cfg.budget_min_rate);
	print_safe(&s->cfg);
	printf(",\"targets\":[");
	for (t = 0; t < s->n; t++)
		print_target(s, t);
	printf("]");
	if (s->has_ticker)
		printf(",\"ticker\":{\"ticks\":%llu,\"cpu\":%u,"
		       "\"last_tick_ago_us\":%llu,\"state\":\"%s\","
		       "\"generation\":%u,\"starts\":%llu,\"restarts\":%llu,"
		       "\"old_ticks\":%llu,\"parking_span\":[%u,%u],"
		       "\"parking_slots\":[%u,%u]}",
		       (unsigned long long)s->ticker.ticks, s->ticker.cpu,
		       (unsigned long long)(s->tick_ago_ns / NS_PER_US),
		       tick_state_name(s->ticker.run),
		       (unsigned)HEDGE_TICK_GEN(s->ticker.run),
		       (unsigned long long)s->ticker.starts,
		       (unsigned long long)s->ticker.restarts,
		       (unsigned long long)s->ticker.old_ticks,
		       s->parking_span[0], s->parking_span[1],
		       s->parking_slots[0], s->parking_slots[1]);
	printf(",\"scoreboard\":{\"sets\":%u,\"sets_max\":%u,"
	       "\"grows\":%llu,\"shrinks\":%llu,\"stashed\":%llu,"
	       "\"draining\":%s}",
	       s->score_sets, s->score_sets_max,
	       (unsigned long long)s->cfg.score_grows,
	       (unsigned long long)s->cfg.score_shrinks,
	       (unsigned long long)s->cfg.score_stashed,
	       s->score_draining ? "true" : "false");
	printf(",\"programs\":{");
	for (i = 0; i < s->n_progs; i++) {
		const struct prog_cost *c = &s->progs[i];

		printf("%s\"%s\":", i ? "," : "", c->label);
		if (!c->known)
			printf("null");
		else
			printf("{\"run_cnt\":%llu,\"run_time_ns\":%llu}",
			       (unsigned long long)c->run_cnt,
			       (unsigned long long)c->run_time_ns);
	}
	printf("}}\n");
}
