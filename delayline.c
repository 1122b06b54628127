// SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
/*
 * delayline.c - the delay line requests wait in before the Rescuer.
 *
 * One veth pair DL_IN/DL_OUT, the Rescuer on DL_OUT's clsact ingress: what
 * comes out of DL_IN and is still unanswered is sent as the hedge. Two
 * kinds differ in what feeds it:
 *
 * netem: DL_IN's root qdisc is `netem delay T`; the Splitter clones every
 *        request into DL_IN and the clone reaches the Rescuer T later.
 * tick:  no netem. The Splitter parks each request's bytes with its
 *        deadline. A tick packet circles the pair the other way, through
 *        TBF on DL_OUT (1 us a byte, by the size table HEDGE_TICK_US())
 *        to the ticker on DL_IN's ingress, which sizes it to wake at the
 *        next deadline and then clones each due request out of DL_IN to
 *        the Rescuer. A request starts a tick straight into DL_IN.
 */
#define _GNU_SOURCE	/* sched_setaffinity */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
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
/* How long the delay line may take to come up. */
#define LINK_WAIT_MS	2000

/* A missing kernel feature gets a message that names it. */
static int explain(const struct nl *nl, int err, const char *what,
		   const char *feature)
{
	if (err == -ENOENT || err == -EOPNOTSUPP)
		return fail("%s: this kernel has no %s", what, feature);
	return nl_fail(nl, err, what);
}

int dl_create(struct nl *nl, struct hedge_config *cfg)
{
	/* The alias marks the pair hedge's, so that a killed `up` leaves
	 * nothing `down` cannot recognise. The kernel ignores it in the
	 * message that creates the pair, so it is set at once after; until
	 * then a pair without it, down and bare, is "maybe ours"
	 * (instance.c). */
	int in, out, err = nl_veth_add(nl, DL_IN, DL_OUT, DL_MTU, DL_ALIAS);

	if (err)
		return explain(nl, err, "creating the delay line " DL_IN "/"
			       DL_OUT, "veth driver (veth)");
	in = if_nametoindex(DL_IN);
	out = if_nametoindex(DL_OUT);
	if (!in || !out) {
		fail("finding the delay line: %s", strerror(errno));
	} else {
		cfg->delay_ifindex = in;
		cfg->rescue_ifindex = out;
		err = nl_link_set_alias(nl, in, DL_ALIAS);
		if (!err)
			err = nl_link_set_alias(nl, out, DL_ALIAS);
		if (err) {
			nl_fail(nl, err, "marking the delay line hedge's");
			dl_destroy(nl);
			return -1;
		}
		/* No link-local address, so no IPv6 chatter on the line
		 * (through TBF it would spend the tick's tokens). */
		err = nl_link_no_ipv6(nl, in);
		if (!err)
			err = nl_link_no_ipv6(nl, out);
		if (!err || err == -EAFNOSUPPORT)
			return 0;
		nl_fail(nl, err, "turning IPv6 off on the delay line");
	}
	dl_destroy(nl);
	return -1;
}

/* `prog` on the clsact ingress of `ifindex`. */
static int attach_ingress(struct nl *nl, int ifindex, const struct bpf_obj *obj,
			  const char *prog)
{
	int err = nl_clsact_add(nl, ifindex);

	if (err)
		return explain(nl, err, "adding a clsact qdisc to the delay "
			       "line", "clsact qdisc (sch_ingress)");
	err = nl_bpf_filter_add(nl, ifindex, 1, 0, obj_prog_fd(obj, prog), prog);
	return err ? explain(nl, err, "attaching a program to the delay line",
			     "BPF classifier (cls_bpf)") : 0;
}

int dl_attach(struct nl *nl, const struct hedge_config *cfg,
	      const struct delay_line *line, const struct bpf_obj *obj)
{
	int err;

	if (attach_ingress(nl, cfg->rescue_ifindex, obj, HEDGE_PROG_RESCUER) ||
	    (line->program && attach_ingress(nl, cfg->delay_ifindex, obj,
					     line->program)))
		return -1;
	if ((err = nl_link_up(nl, cfg->rescue_ifindex)) ||
	    (err = nl_link_up(nl, cfg->delay_ifindex)))
		return nl_fail(nl, err, "setting the delay line up");
	/* Until the kernel's link watcher has seen the carrier, a device
	 * sends through noop_qdisc: a clone, or the first tick, would vanish. */
	if ((err = nl_link_wait_up(nl, cfg->delay_ifindex, LINK_WAIT_MS)) ||
	    (err = nl_link_wait_up(nl, cfg->rescue_ifindex, LINK_WAIT_MS)))
		return nl_fail(nl, err, "waiting for the delay line to come up");
	return 0;
}

/* Deleting one end of a veth pair deletes both, and their qdiscs. */
int dl_destroy(struct nl *nl)
{
	int ifindex = if_nametoindex(DL_IN), err;

	if (!ifindex)
		return 0;
	err = nl_link_del(nl, ifindex);
	return err ? nl_fail(nl, err, "removing the delay line " DL_IN) : 0;
}

/* ---- netem ---------------------------------------------------------- */

static int netem_build(struct nl *nl, struct hedge_config *cfg)
{
	int err = nl_netem_add(nl, cfg->delay_ifindex, cfg->delay_ns,
			       NETEM_LIMIT);

	if (err && err != -ENOENT)
		return nl_fail(nl, err, "adding the netem qdisc to " DL_IN);
	return err;
}

/* Only the tick line parks requests: netem's copies of its maps are
 * shrunk to nothing much (so is the ring, whose slots the Splitter then
 * never finds). */
static const struct map_size netem_sizes[] = {
	{ HEDGE_MAP_PARKED, 1 }, { HEDGE_MAP_FRAMES, 1 },
	{ HEDGE_MAP_DUE, 1 }, { NULL, 0 },
};

const struct delay_line delay_line_netem = {
	.name = "netem",
	.kind = HEDGE_DL_NETEM,
	.needs = "netem qdisc (sch_netem): load it with 'modprobe sch_netem' "
		 "(on Ubuntu it is in linux-modules-extra-$(uname -r))",
	.sizes = netem_sizes,
	.unused = HEDGE_PROG_TICKER,	/* netem delays the clones */
	.build = netem_build,
};

/* ---- tick ----------------------------------------------------------- */

/* The size table TBF counts ticks by: a tick of L bytes sleeps
 * HEDGE_TICK_US(L) us (hedge.h), L up to HEDGE_TICK_LONGEST. */
static const uint16_t *tick_sizes(void)
{
	static uint16_t sizes[HEDGE_TICK_LONGEST + 1];
	unsigned int len;

	for (len = 0; len <= HEDGE_TICK_LONGEST; len++)
		sizes[len] = (uint16_t)HEDGE_TICK_US(len);
	return sizes;
}

int dl_tick_tbf_ours(const struct qdisc_info *qi)
{
	return !strcmp(qi->kind, "tbf") && qi->rate == HEDGE_TICK_RATE &&
	       qi->stab_len == HEDGE_TICK_LONGEST + 1;
}

static int tick_build(struct nl *nl, struct hedge_config *cfg)
{
	int err = 0, i, ends[2] = { (int)cfg->delay_ifindex,
				    (int)cfg->rescue_ifindex };

	/* The largest tick, and hedges of up to HEDGE_FRAME_MAX, fit; and
	 * TBF wants a burst of at least the MTU (or the kernel log says so). */
	for (i = 0; i < 2 && !err; i++)
		err = nl_link_set_mtu(nl, ends[i], HEDGE_TICK_MAX);
	if (err)
		return nl_fail(nl, err, "setting the tick line's MTU");
	/* Its queue's limit counts by the size table too: room for a few of
	 * the longest ticks (a new one while a lost one is still queued). */
	err = nl_tbf_add(nl, cfg->rescue_ifindex, HEDGE_TICK_RATE,
			 HEDGE_TICK_BURST, 4 * HEDGE_TICK_BURST, tick_sizes(),
			 HEDGE_TICK_LONGEST + 1);
	if (err && err != -ENOENT)
		return nl_fail(nl, err, "adding the TBF qdisc to " DL_OUT);
	cfg->tick_ifindex = cfg->rescue_ifindex;
	return err;
}

/*
 * Send the first tick from `cpu`: TBF's timer fires where it was armed and
 * a veth delivers on the sending CPU, so the tick stays on the CPU it
 * starts on. A busy CPU delays it (its softirqs go to ksoftirqd).
 */
static int pin_to_cpu(int cpu)
{
	cpu_set_t set;

	if (cpu < 0)
		return 0;	/* wherever `up` runs */
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set))
		return fail("--tick-cpu %d: %s", cpu, errno == EINVAL ?
			    "no such CPU online" : strerror(errno));
	return 0;
}

/*
 * A tick is also started by the Splitter, on whatever CPU sends a request:
 * steer what DL_IN receives to --tick-cpu (RPS), so that the ticker, and
 * with it TBF's timer and the tick, stay there. A kernel without RPS has
 * no rps_cpus: the tick then runs where it was started.
 */
static int steer_to_cpu(int cpu)
{
	char mask[(CPU_SETSIZE / 32) * 9 + 1], *p = mask;
	const char *path = "/sys/class/net/" DL_IN "/queues/rx-0/rps_cpus";
	int fd, group, len;

	if (cpu < 0)
		return 0;
	/* Hex, in comma-separated 32-bit groups, the highest first. */
	for (group = cpu / 32; group >= 0; group--)
		p += sprintf(p, group == cpu / 32 ? "%x" : ",%08x",
			     group == cpu / 32 ? 1U << (cpu % 32) : 0U);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : fail("steering the tick line to "
						  "CPU %d: %s: %s", cpu, path,
						  strerror(errno));
	len = (int)strlen(mask);
	if (write(fd, mask, len) != len) {
		fail("steering the tick line to CPU %d: %s", cpu,
		     strerror(errno));
		close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

/* The first tick, sent through TBF from a packet socket; it then goes
 * round while anything is parked, and the next request starts another. */
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
		return fail("opening a packet socket for the tick: %s%s",
			    strerror(errno), errno == EPERM ? " (the tick "
			    "delay line needs CAP_NET_RAW)" : "");
	/* Pinned first: it says plainly when the CPU is not online. */
	if (pin_to_cpu(cfg->tick_cpu) || steer_to_cpu(cfg->tick_cpu)) {
		close(fd);
		return -1;
	}
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
	.needs = "TBF qdisc (sch_tbf), which the tick delay line needs",
	.program = HEDGE_PROG_TICKER,
	.build = tick_build,
	.start = tick_start,
};
