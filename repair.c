// SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
/*
 * repair.c - `up` on a hedge that is up: what `up` made and is missing
 * now (the Splitter or watcher, the ticker, the delay line's qdisc, its
 * links up, the tick going round), said; with --repair, put back. The
 * Scoreboard and every other map are kept: a program that was detached is
 * gone with its last reference, so the object is loaded again with the
 * running maps in place of new ones (obj_load_reuse).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <linux/if.h>
#include "attach.h"
#include "health.h"
#include "lifecycle.h"

#define LINK_WAIT_MS	2000

enum missing {
	M_WATCHER = 1 << 0, M_SPLITTER = 1 << 1, M_TICKER = 1 << 2,
	M_QDISC = 1 << 3, M_LINKS = 1 << 4, M_TICK = 1 << 5,
};
static const char *const missing_names[] = {
	"the watcher", "the Splitter", "the ticker", "the delay line's qdisc",
	"the delay line's links up", "the tick",
};
#define N_MISSING (sizeof(missing_names) / sizeof(missing_names[0]))

static const char *const map_names[] = {
	HEDGE_MAP_CONFIG, HEDGE_MAP_TARGETS, HEDGE_MAP_STATS, HEDGE_MAP_SCORES,
	HEDGE_MAP_PARKED, HEDGE_MAP_TICK, HEDGE_MAP_DUE, HEDGE_MAP_ADAPT,
	HEDGE_MAP_BUDGET, HEDGE_MAP_STASH, HEDGE_MAP_SCORE_TAGS,
};
#define N_MAPS (sizeof(map_names) / sizeof(map_names[0]))

static uint64_t now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);	/* bpf_ktime_get_ns()'s */
	return (uint64_t)t.tv_sec * NS_PER_S + (uint64_t)t.tv_nsec;
}

static int link_down(struct nl *nl, int ifindex)
{
	struct nl_link l;

	memset(&l, 0, sizeof(l));
	return nl_link_get(nl, ifindex, &l) || l.operstate != IF_OPER_UP;
}

/* The device whose root qdisc is the line's: TBF on DL_OUT (tick), netem
 * on DL_IN. */
static int line_qdisc_dev(const struct delay_line *line,
			  const struct hedge_config *c)
{
	return line->start ? (int)c->rescue_ifindex : (int)c->delay_ifindex;
}

/* What is missing, as enum missing bits; -1 said why. */
static int find_missing(struct nl *nl, struct instance *in,
			const struct delay_line *line)
{
	const struct hedge_config *c = &in->cfg;
	struct hedge_ticker t;
	struct qdisc_info qi;
	uint32_t zero = 0;
	long w = hook_prog_id(nl, c, 1, HEDGE_PROG_WATCHER);
	long s = hook_prog_id(nl, c, 0, HEDGE_PROG_SPLITTER);
	long k = line->program ? filter_prog_id(nl, (int)c->delay_ifindex, 1,
						line->program) : 1;
	int m = 0, q = line_qdisc_dev(line, c);

	if (w < 0 || s < 0 || k < 0)
		return -1;
	m |= (!w ? M_WATCHER : 0) | (!s ? M_SPLITTER : 0) | (!k ? M_TICKER : 0);
	if (nl_root_qdisc(nl, q, &qi) ||
	    strcmp(qi.kind, line->start ? "tbf" : "netem") ||
	    (line->start && !dl_tick_tbf_ours(&qi)))
		m |= M_QDISC;
	if (link_down(nl, (int)c->delay_ifindex) ||
	    link_down(nl, (int)c->rescue_ifindex))
		m |= M_LINKS;
	if (line->start && (m || in->tick_fd < 0 ||
			    map_lookup(in->tick_fd, &zero, &t) ||
			    tick_lost(&t, now_ns())))
		m |= M_TICK;
	return m;
}

/* The running maps, by name: pinned, or through the Rescuer or ticker. */
static void running_maps(struct nl *nl, struct instance *in,
			 struct map_reuse *reuse)
{
	long ids[2] = { in->rescuer_id, filter_prog_id(nl,
			(int)in->cfg.delay_ifindex, 1, HEDGE_PROG_TICKER) };
	char path[128];
	size_t i, j;
	int prog;

	for (i = 0; i < N_MAPS; i++) {
		snprintf(path, sizeof(path), "%s/%s", in->pin_dir,
			 map_names[i]);
		reuse[i] = (struct map_reuse){ map_names[i], obj_get(path) };
	}
	for (j = 0; j < 2; j++) {
		prog = ids[j] > 0 ? prog_fd_by_id((uint32_t)ids[j]) : -1;
		for (i = 0; i < N_MAPS && prog >= 0; i++)
			if (reuse[i].fd < 0)
				reuse[i].fd = prog_map_fd(prog, map_names[i]);
		if (prog >= 0)
			close(prog);
	}
	reuse[N_MAPS] = (struct map_reuse){ NULL, -1 };
}

/* The programs again, sharing the running maps; then the missing ones on
 * their hooks. A targets map made anew (not found) is filled again. */
static int reattach(struct nl *nl, struct instance *in,
		    const struct delay_line *line, int m)
{
	struct map_reuse reuse[N_MAPS + 1];
	struct hedge_config cfg = in->cfg;
	struct bpf_obj obj;
	uint32_t i;
	int err = 0;

	running_maps(nl, in, reuse);
	memset(&obj, 0, sizeof(obj));
	if (obj_load_reuse(&obj, NULL, reuse, line->unused))
		err = -1;
	if (!err && reuse[1].fd < 0 &&
	    (err = fill_targets(obj_map_fd(&obj, HEDGE_MAP_TARGETS), &cfg)))
		err = fail("filling the targets map: %s", strerror(-err));
	if (!err && (m & M_WATCHER))
		err = attach_one(nl, &cfg, 1, obj_prog_fd(&obj,
				 HEDGE_PROG_WATCHER));
	if (!err && (m & M_SPLITTER))
		err = attach_one(nl, &cfg, 0, obj_prog_fd(&obj,
				 HEDGE_PROG_SPLITTER));
	if (!err && (m & M_TICKER) &&
	    (err = nl_bpf_filter_add(nl, (int)cfg.delay_ifindex, 1, 0,
				     obj_prog_fd(&obj, HEDGE_PROG_TICKER),
				     HEDGE_PROG_TICKER)))
		err = nl_fail(nl, err, "attaching the ticker");
	for (i = 0; i < N_MAPS; i++)
		if (reuse[i].fd >= 0)
			close(reuse[i].fd);
	obj_close(&obj);	/* the hooks hold what they need */
	return err;
}

static int mend(struct nl *nl, struct instance *in,
		const struct delay_line *line, int m)
{
	struct hedge_config cfg = in->cfg;
	int err, q = line_qdisc_dev(line, &cfg);
	char kind[16];

	if ((m & (M_WATCHER | M_SPLITTER | M_TICKER)) && reattach(nl, in, line, m))
		return -1;
	/* Another qdisc in the line's place (a TBF not the tick line's,
	 * say) goes first: a root qdisc is made only where none is. */
	if ((m & M_QDISC) && !nl_root_qdisc_kind(nl, q, kind) && kind[0] &&
	    strcmp(kind, "noqueue") && (err = nl_root_qdisc_del(nl, q)))
		return nl_fail(nl, err, "removing the qdisc in the delay "
			       "line's place");
	if ((m & M_QDISC) && (err = line->build(nl, &cfg)))
		return err == -ENOENT ? fail("this kernel has no %s",
					     line->needs) : -1;
	if (m & M_LINKS) {
		if ((err = nl_link_up(nl, (int)cfg.rescue_ifindex)) ||
		    (err = nl_link_up(nl, (int)cfg.delay_ifindex)) ||
		    (err = nl_link_wait_up(nl, (int)cfg.delay_ifindex,
					   LINK_WAIT_MS)) ||
		    (err = nl_link_wait_up(nl, (int)cfg.rescue_ifindex,
					   LINK_WAIT_MS)))
			return nl_fail(nl, err, "setting the delay line up");
	}
	return (m & M_TICK) ? line->start(&cfg) : 0;
}

static void list_missing(int m, char *buf, size_t size)
{
	size_t i, n = 0;

	buf[0] = '\0';
	for (i = 0; i < N_MISSING && n < size; i++)
		if (m & (1 << i))
			n += (size_t)snprintf(buf + n, size - n, "%s%s",
					      n ? ", " : "", missing_names[i]);
}

int cmd_repair(struct nl *nl, struct instance *in, struct options *o)
{
	const struct delay_line *line = line_of(in->cfg.delay_line);
	char what[256];
	int m;

	if (!line)
		return fail("the running hedge has an unknown delay line (%u)",
			    in->cfg.delay_line), EXIT_ERROR;
	m = find_missing(nl, in, line);
	if (m < 0)
		return EXIT_ERROR;
	list_missing(m, what, sizeof(what));
	if (!m)
		return fail("already up (run 'hedge down' first)"), EXIT_ERROR;
	if (!o->repair)
		return fail("already up, but degraded (missing: %s): 'hedge up "
			    "--repair' puts it back", what), EXIT_DEGRADED;
	if (mend(nl, in, line, m))
		return EXIT_ERROR;
	printf("hedge repaired: restored %s\n", what);
	return EXIT_OK;
}
