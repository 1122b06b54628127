// SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
/*
 * delayline.c - the delay lines requests wait in before the Rescuer.
 *
 * Both have a veth pair DL_IN/DL_OUT with the Rescuer on DL_OUT's clsact
 * ingress. They differ in what feeds DL_IN:
 *
 * netem: DL_IN's root qdisc is `netem delay T`; the Splitter clones every
 *        request into it and the clone comes out T later.
 * tick:  no netem. The Splitter parks each request's bytes with its
 *        deadline; a tick packet circles the veth pair TL_IN/TL_OUT
 *        through TBF on TL_IN (1 byte = 1 us), and the ticker on TL_OUT
 *        sizes it to wake at the next deadline, then clones the due
 *        requests into DL_IN itself.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <sys/socket.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include "hedge.h"
#include "hedge_user.h"

/* veth's largest MTU: a clone of any datagram that fits the hedged device
 * (lo's MTU is 65536) crosses without being dropped as too big. */
#define DL_MTU		65535
/* Clones waiting at once; beyond it netem drops them (no hedge, no harm). */
#define NETEM_LIMIT	10000
/* The tick veths carry ticks of up to HEDGE_TICK_MAX bytes. */
#define TL_MTU		HEDGE_TICK_MAX

/* A missing kernel feature gets a message that names it. */
static int explain(const struct nl *nl, int err, const char *what,
		   const char *feature)
{
	if (err == -ENOENT || err == -EOPNOTSUPP)
		return fail("%s: this kernel has no %s", what, feature);
	return nl_fail(nl, err, what);
}

static int veth_add(struct nl *nl, const char *in, const char *out,
		    unsigned int mtu, int *in_index, int *out_index)
{
	int err = nl_veth_add(nl, in, out, mtu);

	if (err)
		return explain(nl, err, "creating a veth pair for the delay "
			       "line", "veth driver (veth)");
	*in_index = if_nametoindex(in);
	*out_index = if_nametoindex(out);
	if (!*in_index || !*out_index)
		return fail("finding %s: %s", in, strerror(errno));
	return 0;
}

/* Deleting one end of a veth pair deletes both. */
static int veth_del(struct nl *nl, const char *name)
{
	int ifindex = if_nametoindex(name), err;

	if (!ifindex)
		return 0;
	err = nl_link_del(nl, ifindex);
	return err ? nl_fail(nl, err, "removing the delay line's veth pair") : 0;
}

/* clsact on the far end, `prog` on its ingress, both ends up. */
static int attach_far_end(struct nl *nl, int in, int out,
			  const struct bpf_obj *obj, const char *prog)
{
	int err = nl_clsact_add(nl, out);

	if (err)
		return explain(nl, err, "adding a clsact qdisc to the delay "
			       "line", "clsact qdisc (sch_ingress)");
	err = nl_bpf_filter_add(nl, out, 1, obj_prog_fd(obj, prog), prog);
	if (err)
		return explain(nl, err, "attaching a program to the delay line",
			       "BPF classifier (cls_bpf)");
	if ((err = nl_link_up(nl, out)) || (err = nl_link_up(nl, in)))
		return nl_fail(nl, err, "setting the delay line up");
	return 0;
}

/* The Rescuer's half, common to both lines. */
static int rescue_pair(struct nl *nl, struct hedge_config *cfg,
		       const struct bpf_obj *obj)
{
	int in, out;

	if (veth_add(nl, DL_IN, DL_OUT, DL_MTU, &in, &out))
		return -1;
	cfg->delay_ifindex = in;
	cfg->rescue_ifindex = out;
	return attach_far_end(nl, in, out, obj, HEDGE_PROG_RESCUER);
}

/* ---- netem ---------------------------------------------------------- */

static int netem_destroy(struct nl *nl)
{
	return veth_del(nl, DL_IN);
}

static int netem_create(struct nl *nl, struct hedge_config *cfg,
			const struct bpf_obj *obj)
{
	int err = rescue_pair(nl, cfg, obj);

	if (!err) {
		err = nl_netem_add(nl, cfg->delay_ifindex, cfg->delay_ns,
				   NETEM_LIMIT);
		if (err && err != -ENOENT)	/* ENOENT: the caller says */
			err = nl_fail(nl, err, "adding the netem qdisc to "
				      DL_IN);
	}
	if (err)
		netem_destroy(nl);
	return err;
}

/* Only the tick line parks requests: netem's copies of its maps are
 * shrunk to nothing much. */
static const struct map_size netem_sizes[] = {
	{ "hedge_parked", 1 }, { "hedge_due", 1 }, { NULL, 0 },
};

const struct delay_line delay_line_netem = {
	.name = "netem",
	.kind = HEDGE_DL_NETEM,
	.devices = { DL_IN, DL_OUT, NULL },
	.needs = "netem qdisc (sch_netem): load it with 'modprobe sch_netem' "
		 "(on Ubuntu it is in linux-modules-extra-$(uname -r))",
	.sizes = netem_sizes,
	.create = netem_create,
	.destroy = netem_destroy,
};

/* ---- tick ----------------------------------------------------------- */

static int tick_destroy(struct nl *nl)
{
	int ret = veth_del(nl, TL_IN);

	return veth_del(nl, DL_IN) | ret;
}

static int tick_build(struct nl *nl, struct hedge_config *cfg,
		      const struct bpf_obj *obj)
{
	int in, out, err;

	if (rescue_pair(nl, cfg, obj) ||
	    veth_add(nl, TL_IN, TL_OUT, TL_MTU, &in, &out))
		return -1;
	/* Stray IPv6 packets through TBF would spend the tick's tokens. */
	if (((err = nl_link_no_ipv6(nl, in)) ||
	     (err = nl_link_no_ipv6(nl, out))) && err != -EAFNOSUPPORT)
		return nl_fail(nl, err, "turning IPv6 off on the tick line");
	err = nl_tbf_add(nl, in, HEDGE_TICK_RATE, HEDGE_TICK_BURST,
			 HEDGE_TICK_BURST);
	if (err == -ENOENT)
		return -ENOENT;
	if (err)
		return nl_fail(nl, err, "adding the TBF qdisc to " TL_IN);
	cfg->tick_ifindex = in;
	return attach_far_end(nl, in, out, obj, HEDGE_PROG_TICKER);
}

static int tick_create(struct nl *nl, struct hedge_config *cfg,
		       const struct bpf_obj *obj)
{
	int err = tick_build(nl, cfg, obj);

	if (err)
		tick_destroy(nl);
	return err;
}

/* The first tick, sent through TBF from a packet socket; it then goes
 * round for as long as the line exists. */
static int tick_start(const struct hedge_config *cfg)
{
	struct hedge_tick_head h = {
		.eth_type = htons(ETH_P_IP),
		.ip = { [0] = 0x45, [9] = IPPROTO_UDP },
		.magic = HEDGE_TICK_MAGIC,
	};
	unsigned char frame[HEDGE_TICK_MIN] = { 0 };
	struct sockaddr_ll sa = {
		.sll_family = AF_PACKET,
		.sll_protocol = htons(ETH_P_IP),
		.sll_ifindex = (int)cfg->tick_ifindex,
		.sll_halen = ETH_ALEN,
	};
	int fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
	ssize_t sent;

	if (fd < 0)
		return fail("opening a packet socket for the tick: %s",
			    strerror(errno));
	memcpy(frame, &h, sizeof(h));
	sent = sendto(fd, frame, sizeof(frame), 0, (struct sockaddr *)&sa,
		      sizeof(sa));
	close(fd);
	if (sent != (ssize_t)sizeof(frame))
		return fail("sending the first tick: %s",
			    sent < 0 ? strerror(errno) : "short write");
	return 0;
}

const struct delay_line delay_line_tick = {
	.name = "tick",
	.kind = HEDGE_DL_TICK,
	.devices = { DL_IN, DL_OUT, TL_IN, TL_OUT, NULL },
	.needs = "TBF qdisc (sch_tbf), which the tick delay line needs",
	.create = tick_create,
	.start = tick_start,
	.destroy = tick_destroy,
};
