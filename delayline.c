// SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
/*
 * delayline.c - the delay lines the Splitter's clones wait in.
 *
 * netem: a veth pair whose near end (DL_IN) has `netem delay T` as its
 * root qdisc; the Rescuer sits on the far end's (DL_OUT) clsact ingress.
 */
#include <errno.h>
#include <string.h>
#include <net/if.h>
#include "hedge.h"
#include "hedge_user.h"

/* veth's largest MTU: a clone of any datagram that fits the hedged device
 * (lo's MTU is 65536) crosses without being dropped as too big. */
#define DL_MTU		65535
/* Clones waiting at once; beyond it netem drops them (no hedge, no harm). */
#define NETEM_LIMIT	10000

/* A missing kernel feature gets a message that names it. */
static int explain(const struct nl *nl, int err, const char *what,
		   const char *feature)
{
	if (err == -ENOENT || err == -EOPNOTSUPP)
		return fail("%s: this kernel has no %s", what, feature);
	return nl_fail(nl, err, what);
}

static int netem_build(struct nl *nl, const struct hedge_config *cfg,
		       int in, int out, int rescuer_fd)
{
	int err;

	err = nl_netem_add(nl, in, cfg->delay_ns, NETEM_LIMIT);
	if (err)
		return explain(nl, err, "adding the netem qdisc to " DL_IN,
			       "netem qdisc (sch_netem): load it with "
			       "'modprobe sch_netem' (on Ubuntu it is in "
			       "linux-modules-extra-$(uname -r))");
	err = nl_clsact_add(nl, out);
	if (err)
		return explain(nl, err, "adding the clsact qdisc to " DL_OUT,
			       "clsact qdisc (sch_ingress)");
	err = nl_bpf_filter_add(nl, out, 1, rescuer_fd, HEDGE_PROG_RESCUER);
	if (err)
		return explain(nl, err, "attaching the Rescuer to " DL_OUT,
			       "BPF classifier (cls_bpf)");
	if ((err = nl_link_up(nl, out)) || (err = nl_link_up(nl, in)))
		return nl_fail(nl, err, "setting the delay line up");
	return 0;
}

static int netem_create(struct nl *nl, struct hedge_config *cfg,
			int rescuer_fd)
{
	int err, in, out;

	err = nl_veth_add(nl, DL_IN, DL_OUT, DL_MTU);
	if (err)
		return explain(nl, err, "creating the delay line " DL_IN "/"
			       DL_OUT, "veth driver (veth)");
	in = if_nametoindex(DL_IN);
	out = if_nametoindex(DL_OUT);
	if (!in || !out) {
		fail("finding the delay line: %s", strerror(errno));
		err = -1;
	} else {
		err = netem_build(nl, cfg, in, out, rescuer_fd);
	}
	if (err) {
		/* Deleting one end of a veth pair deletes both. */
		if (in && (err = nl_link_del(nl, in)))
			nl_fail(nl, err, "removing the delay line " DL_IN);
		return -1;
	}
	cfg->delay_ifindex = in;
	cfg->rescue_ifindex = out;
	return 0;
}

static int netem_destroy(struct nl *nl)
{
	int in = if_nametoindex(DL_IN), err;

	if (!in)
		return 0;
	err = nl_link_del(nl, in);
	return err ? nl_fail(nl, err, "removing the delay line " DL_IN) : 0;
}

const struct delay_line delay_line_netem = {
	.name = "netem",
	.kind = HEDGE_DL_NETEM,
	.create = netem_create,
	.destroy = netem_destroy,
};
