// SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
/*
 * health.c - `status` checks, every time, that everything `up` made is
 * still there and working, and says each problem in plain words:
 *
 * - the Splitter (egress) and the watcher (ingress) on the hedged device,
 *   where up put them and not shadowed. On TCX: hedge's program first.
 *   On clsact: no other filter at a lower or equal pref (it runs first,
 *   and a direct-action filter or any action can end classification: all
 *   count), and on kernels with TCX (6.6+) the TCX hook of that direction
 *   empty (a TCX program that returns early silences every clsact
 *   filter). How up attached is found by looking at both, so that this
 *   holds whichever way it chose;
 * - the delay line: both links up and running, its qdisc (netem on
 *   DL_IN, TBF on DL_OUT for the tick line), the Rescuer and the ticker;
 * - the tick line's tick alive (an idle tick, stopped on purpose with
 *   nothing in flight, where the ticker has that state, is not a problem);
 * - no degradation lately: no overload brake on or just released, no
 *   capacity drop (degraded.c).
 *
 * A check that cannot be made (a read that fails) is an error, not a
 * problem: status then exits EXIT_ERROR.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <net/if.h>
#include "health.h"
#include "snapshot.h"

const char *const problem_kinds[N_PROBLEM_KINDS] = {
	[PROBLEM_ATTACHMENT] = "attachment",
	[PROBLEM_SHADOWED] = "shadowed",
	[PROBLEM_DELAY_LINE] = "delay_line",
	[PROBLEM_TICK] = "tick",
	[PROBLEM_CAPACITY] = "capacity",
	[PROBLEM_OVERLOAD] = "overload",
};

void problem(struct health *h, enum problem_kind kind, const char *fmt, ...)
{
	va_list ap;

	h->per_kind[kind]++;
	if (h->n++ >= HEALTH_MAX_PROBLEMS)
		return;
	h->p[h->n - 1].kind = kind;
	va_start(ap, fmt);
	vsnprintf(h->p[h->n - 1].detail, PROBLEM_DETAIL, fmt, ap);
	va_end(ap);
}

/* ---- the Splitter and the watcher ------------------------------------ */

/* What a hook of the hedged device holds: its clsact filters and (with
 * TCX) its TCX programs, and where hedge's program `name` is in each. */
struct hook {
	const char *dev, *side, *label;	/* "lo", "egress", "Splitter" */
	struct tc_filter *fs;
	int n_fs, ours_fs;		/* index in fs, or -1 */
	struct tcx_prog progs[TCX_MAX_PROGS];
	int n_progs, ours_tcx;		/* index in progs, or -1 */
};

static void filter_name(const struct tc_filter *f, char *buf, size_t size)
{
	if (!strcmp(f->kind, "bpf") && f->name[0])
		snprintf(buf, size, "filter \"%s\" (bpf)", f->name);
	else
		snprintf(buf, size, "filter %s", f->kind[0] ? f->kind : "?");
}

/* On clsact: every other filter at a pref not above ours may run first;
 * every TCX program runs before all of clsact. */
static void clsact_shadows(const struct hook *k, struct health *h)
{
	const struct tc_filter *ours = &k->fs[k->ours_fs];
	char name[96];
	int i;

	for (i = 0; i < k->n_fs; i++) {
		if (i == k->ours_fs || k->fs[i].prio > ours->prio)
			continue;
		filter_name(&k->fs[i], name, sizeof(name));
		problem(h, PROBLEM_SHADOWED, "%s at pref %u runs before "
			"hedge's %s (pref %u) on %s's %s", name, k->fs[i].prio,
			k->label, ours->prio, k->dev, k->side);
	}
	for (i = 0; i < k->n_progs; i++)
		problem(h, PROBLEM_SHADOWED, "TCX program \"%s\" (id %u) on "
			"%s's %s runs before every clsact filter, hedge's %s "
			"included", k->progs[i].name, k->progs[i].id, k->dev,
			k->side, k->label);
}

/* On TCX: hedge's program first. */
static void tcx_shadows(const struct hook *k, struct health *h)
{
	int i;

	for (i = 0; i < k->ours_tcx; i++)
		problem(h, PROBLEM_SHADOWED, "TCX program \"%s\" (id %u) runs "
			"before hedge's %s on %s's %s", k->progs[i].name,
			k->progs[i].id, k->label, k->dev, k->side);
}

/*
 * Without CAP_SYS_ADMIN a TCX program's name cannot be read (tcx_query
 * leaves it ""): hedge's own is then found by the id of the program `up`
 * pinned beside the maps. No pin visible and a nameless program: which
 * one is hedge's cannot be told, an error.
 */
static int find_by_pin(struct hook *k, const char *pin_dir, const char *name)
{
	struct bpf_prog_info info;
	union bpf_attr attr;
	char path[128];
	int i, fd, nameless = 0;

	for (i = 0; i < k->n_progs; i++)
		nameless |= !k->progs[i].name[0];
	if (!nameless)
		return 0;
	snprintf(path, sizeof(path), "%s/%s", pin_dir, name);
	fd = obj_get(path);
	if (fd < 0)
		return fail("naming the TCX programs on %s's %s: needs "
			    "CAP_SYS_ADMIN (or hedge's pins in " BPFFS ")",
			    k->dev, k->side);
	memset(&info, 0, sizeof(info));
	memset(&attr, 0, sizeof(attr));
	attr.info.bpf_fd = (uint32_t)fd;
	attr.info.info_len = sizeof(info);
	attr.info.info = (uint64_t)(unsigned long)&info;
	i = (int)sys_bpf(BPF_OBJ_GET_INFO_BY_FD, &attr);
	close(fd);
	if (i)
		return fail("reading hedge's pinned %s: %s", name,
			    strerror(errno));
	for (i = 0; i < k->n_progs; i++)
		if (k->progs[i].id == info.id) {
			k->ours_tcx = i;
			snprintf(k->progs[i].name, sizeof(k->progs[i].name),
				 "%s", name);
		}
	for (i = 0; i < k->n_progs; i++)
		if (!k->progs[i].name[0])
			snprintf(k->progs[i].name, sizeof(k->progs[i].name),
				 "?");
	return 0;
}

static int read_hook(struct nl *nl, struct hook *k, int ifindex, int egress,
		     const char *name, int tcx, const char *pin_dir)
{
	int i;

	k->ours_fs = k->ours_tcx = -1;
	/* A device without clsact (up attached with TCX) dumps no filter,
	 * without an error: any error is one. */
	k->n_fs = nl_filters_all(nl, ifindex, !egress, &k->fs);
	if (k->n_fs < 0)
		return nl_fail(nl, k->n_fs, "listing the hedged device's "
			       "filters");
	for (i = 0; i < k->n_fs; i++)
		if (!strcmp(k->fs[i].kind, "bpf") &&
		    !strcmp(k->fs[i].name, name))
			k->ours_fs = i;
	k->n_progs = tcx ? tcx_query(ifindex, egress, k->progs,
				     TCX_MAX_PROGS, NULL) : 0;
	if (k->n_progs < 0)
		return fail("listing the hedged device's TCX programs: %s",
			    strerror(-k->n_progs));
	for (i = k->n_progs - 1; i >= 0; i--)
		if (!strcmp(k->progs[i].name, name))
			k->ours_tcx = i;
	return k->ours_tcx < 0 ? find_by_pin(k, pin_dir, name) : 0;
}

static int check_hook(struct nl *nl, const struct instance *in,
		      const struct snapshot *s, struct health *h, int egress,
		      int tcx)
{
	struct hook k = {
		.dev = s->dev,
		.side = egress ? "egress" : "ingress",
		.label = egress ? "Splitter" : "watcher",
	};
	const char *name = egress ? HEDGE_PROG_SPLITTER : HEDGE_PROG_WATCHER;
	int err = read_hook(nl, &k, (int)s->cfg.dev_ifindex, egress, name,
			    tcx, in->pin_dir);

	if (!err) {
		if (k.ours_tcx >= 0)
			tcx_shadows(&k, h);
		else if (k.ours_fs >= 0)
			clsact_shadows(&k, h);
		else
			problem(h, PROBLEM_ATTACHMENT, "hedge's %s is not on "
				"%s's %s (neither a clsact filter nor a TCX "
				"program)", k.label, k.dev, k.side);
	}
	free(k.fs);
	return err;
}

/* ---- the delay line --------------------------------------------------- */

/* IF_OPER_UP of linux/if.h, which clashes with libc's net/if.h. */
#define OPER_UP		6

static const char *operstate_name(unsigned char op)
{
	static const char *const names[] = {
		"unknown", "notpresent", "down", "lowerlayerdown", "testing",
		"dormant", "up",
	};

	return op < sizeof(names) / sizeof(names[0]) ? names[op] : "?";
}

/* The link `name` (ifindex as up recorded it): 1 if it is there, up and
 * running; 0 if not (a problem said); -1 if it cannot be read. */
static int check_link(struct nl *nl, struct health *h, uint32_t ifindex,
		      const char *name)
{
	struct nl_link link;
	int err = nl_link_get(nl, (int)ifindex, &link);

	if (err == -ENODEV) {
		problem(h, PROBLEM_DELAY_LINE, "delay line link %s is gone",
			name);
		return 0;
	}
	if (err)
		return nl_fail(nl, err, "reading the delay line's links");
	if (!(link.flags & IFF_UP))
		problem(h, PROBLEM_DELAY_LINE, "delay line link %s is down",
			name);
	else if (link.operstate != OPER_UP)
		problem(h, PROBLEM_DELAY_LINE, "delay line link %s is set up "
			"but not running (operstate %s)", name,
			operstate_name(link.operstate));
	else
		return 1;
	return 0;
}

static int check_qdisc(struct nl *nl, struct health *h, uint32_t ifindex,
		       const char *dev, const char *want, const char *what)
{
	struct qdisc_info qi;
	int err = nl_root_qdisc(nl, (int)ifindex, &qi);

	if (err)
		return nl_fail(nl, err, "reading the delay line's qdisc");
	if (strcmp(qi.kind, want))
		problem(h, PROBLEM_DELAY_LINE, "%s's %s qdisc is gone (its "
			"root qdisc is %s)", dev, what,
			qi.kind[0] ? qi.kind : "none");
	else if (!strcmp(want, "tbf") && !dl_tick_tbf_ours(&qi))
		problem(h, PROBLEM_DELAY_LINE, "%s's TBF qdisc is not the "
			"tick line's (%llu bytes/s, a size table of %u "
			"entries, not %u and %u): ticks would not sleep as "
			"long as hedge sizes them", dev,
			(unsigned long long)qi.rate, qi.stab_len,
			HEDGE_TICK_RATE, HEDGE_TICK_LONGEST + 1);
	return 0;
}

static int check_filter(struct nl *nl, struct health *h, uint32_t ifindex,
			const char *dev, const char *name, const char *label)
{
	long id = filter_prog_id(nl, (int)ifindex, 1, name);

	if (id < 0)
		return -1;
	if (!id)
		problem(h, PROBLEM_DELAY_LINE, "hedge's %s is not on %s's "
			"ingress", label, dev);
	return 0;
}

static int check_delay_line(struct nl *nl, const struct snapshot *s,
			    struct health *h)
{
	const struct hedge_config *c = &s->cfg;
	int tick = c->delay_line == HEDGE_DL_TICK, in, out;

	in = check_link(nl, h, c->delay_ifindex, DL_IN);
	out = in < 0 ? -1 : check_link(nl, h, c->rescue_ifindex, DL_OUT);
	if (in < 0 || out < 0)
		return -1;
	/* A link that is gone has nothing more to check. */
	if (!tick && in && check_qdisc(nl, h, c->delay_ifindex, DL_IN,
				       "netem", "netem"))
		return -1;
	if (tick && out && check_qdisc(nl, h, c->tick_ifindex, DL_OUT, "tbf",
				       "tick line's TBF"))
		return -1;
	if (out && check_filter(nl, h, c->rescue_ifindex, DL_OUT,
				HEDGE_PROG_RESCUER, "Rescuer"))
		return -1;
	if (tick && in && check_filter(nl, h, c->delay_ifindex, DL_IN,
				       HEDGE_PROG_TICKER, "ticker"))
		return -1;
	return 0;
}

/* ---- the tick --------------------------------------------------------- */

/* The ticker keeps a state (hedge.h): alive, idle by design, or lost. */
int tick_lost(const struct hedge_ticker *t, uint64_t now)
{
	uint32_t state = HEDGE_TICK_STATE(t->run);
	uint64_t due = state == HEDGE_TICK_STARTING ? t->restart_ns :
		       t->release_ns;

	return state != HEDGE_TICK_IDLE && now > due + HEDGE_TICK_STALE_NS &&
	       now - t->last_ns > TICK_DEAD_NS;
}

static void check_tick(const struct snapshot *s, struct health *h)
{
	if (s->has_ticker && tick_lost(&s->ticker, s->now_ns))
		problem(h, PROBLEM_TICK, "the tick stopped %llu ms ago: "
			"requests parked on the tick line are not hedged",
			(unsigned long long)(s->tick_ago_ns / NS_PER_MS));
}

/* ---- all of it -------------------------------------------------------- */

int health_check(struct nl *nl, const struct instance *in,
		 struct snapshot *s)
{
	struct health *h = &s->health;
	int tcx = tcx_supported();

	memset(h, 0, sizeof(*h));
	if (tcx < 0)
		return fail("finding whether this kernel has TCX: %s",
			    strerror(-tcx));
	if (s->dev_gone)
		problem(h, PROBLEM_ATTACHMENT, "the hedged device (%s) is gone",
			s->dev);
	else if (check_hook(nl, in, s, h, 1, tcx) ||
		 check_hook(nl, in, s, h, 0, tcx))
		return -1;
	if (check_delay_line(nl, s, h))
		return -1;
	check_tick(s, h);
	check_brakes(s, h);
	return check_capacity(in, s, h);
}
