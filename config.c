// SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
/*
 * config.c - the command line's options into a validated struct options
 * (its struct hedge_config is what `up` writes to the config map).
 * Options are a table: name, whether it takes a value, and its handler;
 * the rules between options are check_up's; --target's text is target.c's.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <net/if.h>
#include "config.h"

#define DELAY_MIN_NS	(100 * NS_PER_US)
#define DELAY_MAX_NS	(10 * NS_PER_S)
#define WINDOW_MAX_NS	(60 * NS_PER_S)
#define TICK_CPU_MAX	1023	/* the last CPU a cpu_set_t can name */
#define BUDGET_RATE_MAX	1000000

int usage_error(const char *fmt, const char *arg)
{
	fputs("hedge: ", stderr);
	fprintf(stderr, fmt, arg);
	fputs(" (see 'hedge --help')\n", stderr);
	return -1;
}


/* "10ms", "1.5s", "500us": a decimal number and a unit, into ns. */
static int parse_duration(const char *s, uint64_t *ns)
{
	static const struct { const char *unit; uint64_t ns; } units[] = {
		{ "us", NS_PER_US }, { "ms", NS_PER_MS }, { "s", NS_PER_S },
	};
	uint64_t whole = 0, frac = 0, scale = 1;
	const char *p = s;
	size_t i;

	if (*p < '0' || *p > '9')
		return -1;
	for (; *p >= '0' && *p <= '9'; p++) {
		whole = whole * 10 + (uint64_t)(*p - '0');
		if (whole > 1000000000ULL)
			return -1;
	}
	if (*p == '.') {
		for (p++; *p >= '0' && *p <= '9'; p++)
			if (scale < 1000000000ULL) {
				frac = frac * 10 + (uint64_t)(*p - '0');
				scale *= 10;
			}
		if (p[-1] == '.')
			return -1;
	}
	for (i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (!strcmp(p, units[i].unit)) {
			*ns = whole * units[i].ns + frac * units[i].ns / scale;
			return 0;
		}
	return -1;
}

/* "p95", "p99.9": a percentile in 50..99.9, into hundredths (9500). */
static int parse_percentile(const char *s, uint32_t *x100)
{
	unsigned long whole, tenth = 0;
	char *end;

	if (s[0] != 'p' || s[1] < '0' || s[1] > '9')
		return -1;
	errno = 0;
	whole = strtoul(s + 1, &end, 10);
	if (errno || whole < 50 || whole > 99)
		return -1;
	if (*end == '.') {
		if (end[1] < '0' || end[1] > '9' || end[2])
			return -1;
		tenth = (unsigned long)(end[1] - '0');
	} else if (*end) {
		return -1;
	}
	*x100 = (uint32_t)(whole * 100 + tenth * 10);
	return 0;
}

int parse_ulong(const char *s, int base, unsigned long max,
		unsigned long *v)
{
	char *end;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	*v = strtoul(s, &end, base);
	return errno || *end || *v > max ? -1 : 0;
}

int parse_uint(const char *s, unsigned long max, unsigned long *v)
{
	return parse_ulong(s, 10, max, v);
}

static int parse_id(const char *s, struct hedge_config *cfg)
{
	unsigned long off, len;
	char buf[32], *colon;

	if (!strcmp(s, "dns"))
		s = "0:2";
	if (!strcmp(s, "none")) {
		cfg->id_offset = cfg->id_len = 0;
		return 0;
	}
	if (strlen(s) >= sizeof(buf) || !(colon = strchr(strcpy(buf, s), ':')))
		return usage_error("--id %s: expected OFFSET:LEN, dns or none", s);
	*colon = '\0';
	if (parse_uint(buf, HEDGE_ID_MAX_OFFSET, &off) ||
	    parse_uint(colon + 1, HEDGE_ID_MAX_LEN, &len) || !len)
		return usage_error("--id %s: OFFSET must be 0..1464 and LEN "
				   "1..8", s);
	cfg->id_offset = (uint16_t)off;
	cfg->id_len = (uint16_t)len;
	return 0;
}

static int parse_delay(const char *opt, const char *val, __u64 *ns)
{
	char both[64];
	uint64_t v;

	if (parse_duration(val, &v) || v < DELAY_MIN_NS || v > DELAY_MAX_NS) {
		snprintf(both, sizeof(both), "%s %s", opt, val);
		return usage_error("%s: expected a duration in 100us..10s, "
				   "e.g. 10ms", both);
	}
	*ns = v;
	return 0;
}

/* The rules between options, once all are read. */
static int check_up(struct options *o)
{
	struct hedge_config *c = &o->cfg;
	int adaptive = !!(c->flags & HEDGE_F_ADAPTIVE);

	if (dns_check(o))
		return -1;
	if (!c->n_targets && !o->dns)
		return usage_error("up: %s", "at least one --target IP:PORT "
				   "(or --dns) is needed");
	if (has_tcp(c))
		c->flags |= HEDGE_F_TCP;
	if (has_tcp_replica(c))
		c->flags |= HEDGE_F_TCP_NAT;
	if (has_tcp(c) && o->id_given)
		return usage_error("up: %s", "--id is for UDP targets: a TCP "
				   "target's handshakes are told apart by "
				   "their SYN's sequence number");
	if (c->tick_cpu >= 0 && o->line == &delay_line_netem)
		return usage_error("up: %s", "--tick-cpu is for the tick delay "
				   "line");
	if (o->bounds_given && !adaptive)
		return usage_error("up: %s", "--delay-min and --delay-max are "
				   "for an adaptive delay (--delay pNN)");
	if (adaptive && o->line == &delay_line_netem)
		return usage_error("up: %s", "an adaptive delay (--delay pNN) "
				   "needs the tick delay line: netem's delay "
				   "is one for all");
	if (adaptive && c->delay_min_ns > c->delay_max_ns)
		return usage_error("up: %s", "--delay-min is above --delay-max");
	if (adaptive) {
		c->delay_ns = c->delay_max_ns;	/* until responses come */
		o->line = &delay_line_tick;
	}
	/* A budget saves up at most a second of its floor, or 10 hedges. */
	c->budget_cap = (uint64_t)(c->budget_min_rate > 10 ?
				   c->budget_min_rate : 10) * HEDGE_MILLI;
	if (!o->window_given && c->window_ns < 2 * c->delay_ns)
		c->window_ns = 2 * c->delay_ns;
	c->layout = HEDGE_LAYOUT_VERSION;
	finish_match(o);
	if (c->window_ns <= c->delay_ns)
		return usage_error("up: %s", adaptive ? "--window must be "
				   "longer than --delay-max" : "--window must "
				   "be longer than --delay");
	return 0;
}

/* ---- the options, one handler each ------------------------------------ */

static int opt_dev(struct options *o, const char *opt, const char *val)
{
	(void)opt;
	if (!*val || strlen(val) >= IF_NAMESIZE)
		return usage_error("--dev '%s': not a device name", val);
	o->dev = val;
	o->dev_given = 1;
	return 0;
}

static int opt_target(struct options *o, const char *opt, const char *val)
{
	(void)opt;
	return add_target(&o->cfg, val);
}

static int opt_delay(struct options *o, const char *opt, const char *val)
{
	o->delay_given = 1;
	if (val[0] == 'p') {
		if (parse_percentile(val, &o->cfg.delay_pct))
			return usage_error("--delay %s: expected a percentile "
					   "p50..p99.9, e.g. p95", val);
		o->cfg.flags |= HEDGE_F_ADAPTIVE;
		return 0;
	}
	if (parse_delay(opt, val, &o->cfg.delay_ns))
		return -1;
	o->cfg.flags &= ~(uint32_t)HEDGE_F_ADAPTIVE;
	return 0;
}

static int opt_delay_bound(struct options *o, const char *opt,
			   const char *val)
{
	__u64 *bound = !strcmp(opt, "--delay-min") ? &o->cfg.delay_min_ns :
		       &o->cfg.delay_max_ns;

	o->bounds_given = 1;
	return parse_delay(opt, val, bound);
}

static int opt_id(struct options *o, const char *opt, const char *val)
{
	(void)opt;
	o->id_given = 1;
	o->id_dns = !strcmp(val, "dns");
	return parse_id(val, &o->cfg);
}

static int opt_budget(struct options *o, const char *opt, const char *val)
{
	unsigned long pct;

	(void)opt;
	if (parse_uint(val, 100, &pct))
		return usage_error("--budget %s: expected a percentage 0..100",
				   val);
	o->cfg.budget_pct = (uint32_t)pct;
	return 0;
}

static int opt_budget_min_rate(struct options *o, const char *opt,
			       const char *val)
{
	unsigned long rate;

	(void)opt;
	if (parse_uint(val, BUDGET_RATE_MAX, &rate))
		return usage_error("--budget-min-rate %s: expected hedges a "
				   "second, 0..1000000", val);
	o->cfg.budget_min_rate = (uint32_t)rate;
	return 0;
}

static int opt_max_inflight(struct options *o, const char *opt,
			    const char *val)
{
	unsigned long n;

	(void)opt;
	if (parse_uint(val, HEDGE_INFLIGHT_MAX, &n) || n < HEDGE_INFLIGHT_MIN)
		return usage_error("--max-inflight %s: expected 1024..1048576 "
				   "requests", val);
	/* The rings are indexed by a mask: a power of 2. */
	o->max_inflight = HEDGE_INFLIGHT_MIN;
	while (o->max_inflight < n)
		o->max_inflight *= 2;
	return 0;
}

static int opt_tick_cpu(struct options *o, const char *opt, const char *val)
{
	unsigned long cpu;

	(void)opt;
	if (parse_uint(val, TICK_CPU_MAX, &cpu))
		return usage_error("--tick-cpu %s: expected a CPU number", val);
	o->cfg.tick_cpu = (int32_t)cpu;
	return 0;
}

static int opt_delay_line(struct options *o, const char *opt,
			  const char *val)
{
	(void)opt;
	if (!strcmp(val, "netem"))
		o->line = &delay_line_netem;
	else if (!strcmp(val, "tick"))
		o->line = &delay_line_tick;
	else if (strcmp(val, "auto"))
		return usage_error("--delay-line %s: expected auto, netem or "
				   "tick", val);
	return 0;
}

static int opt_attach(struct options *o, const char *opt, const char *val)
{
	(void)opt;
	if (!strcmp(val, "tcx"))
		o->attach = ATTACH_TCX;
	else if (!strcmp(val, "tc"))
		o->attach = ATTACH_TC;
	else if (!strcmp(val, "auto"))
		o->attach = ATTACH_AUTO;
	else
		return usage_error("--attach %s: expected auto, tcx or tc", val);
	return 0;
}

static int opt_repair(struct options *o, const char *opt, const char *val)
{
	(void)opt;
	(void)val;
	o->repair = 1;
	return 0;
}

static int opt_window(struct options *o, const char *opt, const char *val)
{
	uint64_t ns;

	(void)opt;
	if (parse_duration(val, &ns) || !ns || ns > WINDOW_MAX_NS)
		return usage_error("--window %s: expected a duration up to "
				   "60s, e.g. 1s", val);
	o->cfg.window_ns = ns;
	o->window_given = 1;
	return 0;
}

static int opt_dns(struct options *o, const char *opt, const char *val)
{
	(void)opt;
	(void)val;
	o->dns = 1;
	return 0;
}

static int opt_resolv_conf(struct options *o, const char *opt,
			   const char *val)
{
	(void)opt;
	if (!*val)
		return usage_error("--resolv-conf '%s': not a file name", val);
	o->resolv_conf = val;
	return 0;
}

static int opt_format(struct options *o, const char *opt, const char *val)
{
	(void)val;
	o->format = !strcmp(opt, "--json") ? FORMAT_JSON : FORMAT_PROMETHEUS;
	return 0;
}

struct option_def {
	const char *name;
	int has_value;
	int (*set)(struct options *o, const char *opt, const char *val);
};

static const struct option_def up_options[] = {
	{ "--dev", 1, opt_dev },
	{ "--target", 1, opt_target },
	{ "--delay", 1, opt_delay },
	{ "--delay-min", 1, opt_delay_bound },
	{ "--delay-max", 1, opt_delay_bound },
	{ "--id", 1, opt_id },
	{ "--match", 1, opt_match },
	{ "--hedge-dscp", 1, opt_hedge_dscp },
	{ "--hedge-priority", 1, opt_hedge_priority },
	{ "--window", 1, opt_window },
	{ "--delay-line", 1, opt_delay_line },
	{ "--tick-cpu", 1, opt_tick_cpu },
	{ "--max-inflight", 1, opt_max_inflight },
	{ "--budget", 1, opt_budget },
	{ "--budget-min-rate", 1, opt_budget_min_rate },
	{ "--attach", 1, opt_attach },
	{ "--repair", 0, opt_repair },
	{ "--dns", 0, opt_dns },
	{ "--resolv-conf", 1, opt_resolv_conf },
	{ NULL, 0, NULL },
};

static const struct option_def status_options[] = {
	{ "--json", 0, opt_format },
	{ "--prometheus", 0, opt_format },
	{ NULL, 0, NULL },
};

static const struct option_def no_options[] = {
	{ NULL, 0, NULL },
};

/* argv against a table; `cmd` names the command in errors. `once`: at most
 * one option (status takes one format). */
static int parse_options(int argc, char **argv, const char *cmd,
			 const struct option_def *defs, int once,
			 struct options *o)
{
	const struct option_def *d;
	int i;

	for (i = 0; i < argc; i++) {
		const char *opt = argv[i], *val = argv[i + 1];

		for (d = defs; d->name && strcmp(d->name, opt); d++)
			;
		if (!d->name || (once && i))
			return usage_error(cmd, opt);
		if (d->has_value) {
			if (!val)
				return usage_error("%s needs a value", opt);
			i++;
		}
		if (d->set(o, opt, d->has_value ? val : NULL))
			return -1;
	}
	return 0;
}

int parse_up(int argc, char **argv, struct options *o)
{
	o->cfg.delay_ns = 10 * NS_PER_MS;
	o->cfg.delay_min_ns = NS_PER_MS;
	o->cfg.delay_max_ns = NS_PER_S;
	o->cfg.budget_pct = 10;
	o->cfg.budget_min_rate = 10;
	o->cfg.tick_cpu = -1;
	o->max_inflight = HEDGE_INFLIGHT_DEFAULT;
	o->cfg.window_ns = NS_PER_S;
	o->cfg.id_len = 4;
	o->dev = "lo";
	if (parse_options(argc, argv, "up: unknown option '%s'", up_options,
			  0, o))
		return -1;
	return check_up(o);
}

int parse_status(int argc, char **argv, struct options *o)
{
	return parse_options(argc, argv, "status: unknown option '%s'",
			     status_options, 1, o);
}

int parse_down(int argc, char **argv, struct options *o)
{
	return parse_options(argc, argv, "down: unknown option '%s'",
			     no_options, 0, o);
}
