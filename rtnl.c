// SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
/*
 * rtnl.c - the rtnetlink requests hedge needs (netlink.c sends them): a
 * veth pair, links up, their alias and MTU, routes, clsact, netem and TBF
 * qdiscs, cls_bpf filters in direct-action mode, and the dumps that find
 * them again.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/if.h>
#include <linux/if_link.h>
#include <linux/if_addr.h>
#include <linux/if_ether.h>
#include <linux/veth.h>
#include <linux/pkt_sched.h>
#include <linux/pkt_cls.h>
#include "hedge_user.h"

/* ---- links ---------------------------------------------------------- */

int nl_veth_add(struct nl *nl, const char *name, const char *peer,
		unsigned int mtu, const char *alias)
{
	struct ifinfomsg peer_ifi = { .ifi_family = AF_UNSPEC };
	struct rtattr *linkinfo, *data, *peer_nest;
	struct req r;

	req_init(&r, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, sizeof(r.ifi));
	add_str(&r, IFLA_IFNAME, name);
	add_u32(&r, IFLA_MTU, mtu);
	if (alias)
		add_str(&r, IFLA_IFALIAS, alias);
	linkinfo = nest_begin(&r, IFLA_LINKINFO);
	add_str(&r, IFLA_INFO_KIND, "veth");
	data = nest_begin(&r, IFLA_INFO_DATA);
	/* The peer is an ifinfomsg followed by its own attributes. */
	peer_nest = nest_begin(&r, VETH_INFO_PEER);
	add_raw(&r, &peer_ifi, sizeof(peer_ifi));
	add_str(&r, IFLA_IFNAME, peer);
	add_u32(&r, IFLA_MTU, mtu);
	if (alias)
		add_str(&r, IFLA_IFALIAS, alias);
	nest_end(&r, peer_nest);
	nest_end(&r, data);
	nest_end(&r, linkinfo);
	return nl_talk(nl, &r, NULL, NULL);
}

int nl_link_del(struct nl *nl, int ifindex)
{
	struct req r;

	req_init(&r, RTM_DELLINK, 0, sizeof(r.ifi));
	r.ifi.ifi_index = ifindex;
	return nl_talk(nl, &r, NULL, NULL);
}

/*
 * Wait for operstate UP: the link watcher sets it in the same step that
 * activates the device's qdiscs. -ETIMEDOUT after `ms` milliseconds.
 */
int nl_link_wait_up(struct nl *nl, int ifindex, int ms)
{
	struct timespec one_ms = { 0, 1000000 };
	struct nl_link link;
	int i, err;

	for (i = 0; i < ms; i++) {
		err = nl_link_get(nl, ifindex, &link);
		if (err || link.operstate == IF_OPER_UP)
			return err;
		nanosleep(&one_ms, NULL);
	}
	return -ETIMEDOUT;
}

/* No IPv6 link-local address, hence no DAD, RS or MLD traffic. */
int nl_link_no_ipv6(struct nl *nl, int ifindex)
{
	struct rtattr *spec, *inet6;
	uint8_t mode = IN6_ADDR_GEN_MODE_NONE;
	struct req r;

	req_init(&r, RTM_NEWLINK, 0, sizeof(r.ifi));
	r.ifi.ifi_index = ifindex;
	spec = nest_begin(&r, IFLA_AF_SPEC);
	inet6 = nest_begin(&r, AF_INET6);
	add_attr(&r, IFLA_INET6_ADDR_GEN_MODE, &mode, sizeof(mode));
	nest_end(&r, inet6);
	nest_end(&r, spec);
	return nl_talk(nl, &r, NULL, NULL);
}

int nl_link_set_alias(struct nl *nl, int ifindex, const char *alias)
{
	struct req r;

	req_init(&r, RTM_NEWLINK, 0, sizeof(r.ifi));
	r.ifi.ifi_index = ifindex;
	add_str(&r, IFLA_IFALIAS, alias);
	return nl_talk(nl, &r, NULL, NULL);
}

int nl_link_set_mtu(struct nl *nl, int ifindex, uint32_t mtu)
{
	struct req r;

	req_init(&r, RTM_NEWLINK, 0, sizeof(r.ifi));
	r.ifi.ifi_index = ifindex;
	add_u32(&r, IFLA_MTU, mtu);
	return nl_talk(nl, &r, NULL, NULL);
}

int nl_link_up(struct nl *nl, int ifindex)
{
	struct req r;

	req_init(&r, RTM_NEWLINK, 0, sizeof(r.ifi));
	r.ifi.ifi_index = ifindex;
	r.ifi.ifi_flags = IFF_UP;
	r.ifi.ifi_change = IFF_UP;
	return nl_talk(nl, &r, NULL, NULL);
}

static int save_link(const struct nlmsghdr *n, void *arg)
{
	const struct ifinfomsg *ifi = NLMSG_DATA(n);
	const struct rtattr *tb[IFLA_MAX + 1];
	struct nl_link *link = arg;

	if (msg_attrs(n, RTM_NEWLINK, sizeof(*ifi), tb, IFLA_MAX))
		return 0;
	link->type = ifi->ifi_type;
	link->flags = ifi->ifi_flags;
	if (tb[IFLA_OPERSTATE] && RTA_PAYLOAD(tb[IFLA_OPERSTATE]) >= 1)
		link->operstate = *(const uint8_t *)RTA_DATA(tb[IFLA_OPERSTATE]);
	if (tb[IFLA_IFALIAS])
		copy_str(link->alias, sizeof(link->alias), tb[IFLA_IFALIAS]);
	return 0;
}

int nl_link_get(struct nl *nl, int ifindex, struct nl_link *link)
{
	struct req r;

	memset(link, 0, sizeof(*link));
	req_init(&r, RTM_GETLINK, 0, sizeof(r.ifi));
	r.ifi.ifi_index = ifindex;
	return nl_talk(nl, &r, save_link, link);
}

/* ---- routes --------------------------------------------------------- */

static int save_route(const struct nlmsghdr *n, void *arg)
{
	const struct rtmsg *rtm = NLMSG_DATA(n);
	const struct rtattr *tb[RTA_MAX + 1];
	struct nl_route *rt = arg;
	uint32_t oif;

	if (msg_attrs(n, RTM_NEWROUTE, sizeof(*rtm), tb, RTA_MAX))
		return 0;
	rt->type = rtm->rtm_type;
	if (!attr_u32(tb[RTA_OIF], &oif))
		rt->oif = (int)oif;
	return 0;
}

/*
 * The route a packet to addr would take, as `ip route get ADDR [oif
 * DEV]` asks it (iproute2's iproute_get): RTM_GETROUTE with RTA_DST of
 * a full-length prefix, answered by one RTM_NEWROUTE, then the ack.
 */
int nl_route_get(struct nl *nl, int family, const void *addr, int oif,
		 struct nl_route *rt)
{
	size_t alen = family == AF_INET ? 4 : 16;
	struct req r;
	int err;

	memset(rt, 0, sizeof(*rt));
	if (family != AF_INET && family != AF_INET6)
		return -EAFNOSUPPORT;
	req_init(&r, RTM_GETROUTE, 0, sizeof(r.rt));
	r.rt.rtm_family = (unsigned char)family;
	r.rt.rtm_dst_len = (unsigned char)(alen * 8);
	add_attr(&r, RTA_DST, addr, alen);
	if (oif)
		add_u32(&r, RTA_OIF, (uint32_t)oif);
	err = nl_talk(nl, &r, save_route, rt);
	if (!err && !rt->type)
		return -ENOMSG;	/* acked, but no route came */
	return err;
}

/* ---- qdiscs --------------------------------------------------------- */

static void qdisc_req(struct req *r, int type, int flags, int ifindex,
		      uint32_t parent, uint32_t handle, const char *kind)
{
	req_init(r, type, flags, sizeof(r->tc));
	r->tc.tcm_family = AF_UNSPEC;
	r->tc.tcm_ifindex = ifindex;
	r->tc.tcm_parent = parent;
	r->tc.tcm_handle = handle;
	if (kind)
		add_str(r, TCA_KIND, kind);
}

int nl_clsact_add(struct nl *nl, int ifindex)
{
	struct req r;

	qdisc_req(&r, RTM_NEWQDISC, NLM_F_CREATE | NLM_F_EXCL, ifindex,
		  TC_H_CLSACT, TC_H_MAKE(TC_H_CLSACT, 0), "clsact");
	return nl_talk(nl, &r, NULL, NULL);
}

int nl_clsact_del(struct nl *nl, int ifindex)
{
	struct req r;

	qdisc_req(&r, RTM_DELQDISC, 0, ifindex, TC_H_CLSACT,
		  TC_H_MAKE(TC_H_CLSACT, 0), "clsact");
	return nl_talk(nl, &r, NULL, NULL);
}

static int save_kind(const struct nlmsghdr *n, void *arg)
{
	const struct rtattr *tb[TCA_MAX + 1];

	if (!msg_attrs(n, RTM_NEWQDISC, sizeof(struct tcmsg), tb, TCA_MAX) &&
	    tb[TCA_KIND])
		copy_str(arg, 16, tb[TCA_KIND]);
	return 0;
}

int nl_ingress_qdisc_kind(struct nl *nl, int ifindex, char kind[16])
{
	struct req r;

	/* clsact and the older ingress qdisc share this one place. The
	 * kernel answers a qdisc get as a notification: only to NLM_F_ECHO. */
	qdisc_req(&r, RTM_GETQDISC, NLM_F_ECHO, ifindex, TC_H_INGRESS, 0, NULL);
	kind[0] = '\0';
	return nl_talk(nl, &r, save_kind, kind);
}

/* A root qdisc's kind and, for TBF, its rate and size table's length. */
static int save_root(const struct nlmsghdr *n, void *arg)
{
	const struct rtattr *tb[TCA_MAX + 1], *in[TCA_TBF_MAX + 1];
	struct qdisc_info *qi = arg;
	struct tc_sizespec size;
	struct tc_tbf_qopt qopt;

	if (msg_attrs(n, RTM_NEWQDISC, sizeof(struct tcmsg), tb, TCA_MAX))
		return 0;
	if (tb[TCA_KIND])
		copy_str(qi->kind, sizeof(qi->kind), tb[TCA_KIND]);
	if (tb[TCA_STAB]) {
		parse_rtattr(in, TCA_STAB_MAX, RTA_DATA(tb[TCA_STAB]),
			     (int)RTA_PAYLOAD(tb[TCA_STAB]));
		if (in[TCA_STAB_BASE] &&
		    RTA_PAYLOAD(in[TCA_STAB_BASE]) >= sizeof(size)) {
			memcpy(&size, RTA_DATA(in[TCA_STAB_BASE]), sizeof(size));
			qi->stab_len = size.tsize;
		}
	}
	if (tb[TCA_OPTIONS] && !strcmp(qi->kind, "tbf")) {
		parse_rtattr(in, TCA_TBF_MAX, RTA_DATA(tb[TCA_OPTIONS]),
			     (int)RTA_PAYLOAD(tb[TCA_OPTIONS]));
		if (in[TCA_TBF_PARMS] &&
		    RTA_PAYLOAD(in[TCA_TBF_PARMS]) >= sizeof(qopt)) {
			memcpy(&qopt, RTA_DATA(in[TCA_TBF_PARMS]), sizeof(qopt));
			qi->rate = qopt.rate.rate;
		}
		if (in[TCA_TBF_RATE64] &&
		    RTA_PAYLOAD(in[TCA_TBF_RATE64]) >= sizeof(qi->rate))
			memcpy(&qi->rate, RTA_DATA(in[TCA_TBF_RATE64]),
			       sizeof(qi->rate));
	}
	return 0;
}

int nl_root_qdisc(struct nl *nl, int ifindex, struct qdisc_info *qi)
{
	struct req r;

	qdisc_req(&r, RTM_GETQDISC, NLM_F_ECHO, ifindex, TC_H_ROOT, 0, NULL);
	memset(qi, 0, sizeof(*qi));
	return nl_talk(nl, &r, save_root, qi);
}

int nl_root_qdisc_kind(struct nl *nl, int ifindex, char kind[16])
{
	struct qdisc_info qi;
	int err = nl_root_qdisc(nl, ifindex, &qi);

	memcpy(kind, qi.kind, sizeof(qi.kind));
	return err;
}

int nl_root_qdisc_del(struct nl *nl, int ifindex)
{
	struct req r;

	qdisc_req(&r, RTM_DELQDISC, 0, ifindex, TC_H_ROOT, 0, NULL);
	return nl_talk(nl, &r, NULL, NULL);
}

int nl_netem_add(struct nl *nl, int ifindex, uint64_t delay_ns,
		 uint32_t limit)
{
	struct tc_netem_qopt qopt = { .limit = limit };
	int64_t latency = (int64_t)delay_ns;
	struct rtattr *opts;
	struct req r;

	qdisc_req(&r, RTM_NEWQDISC, NLM_F_CREATE | NLM_F_EXCL, ifindex,
		  TC_H_ROOT, 0, "netem");
	/* netem's options are a bare tc_netem_qopt followed by attributes;
	 * TCA_NETEM_LATENCY64 (ns) overrides the qopt's latency in ticks. */
	opts = nest_begin(&r, TCA_OPTIONS);
	add_raw(&r, &qopt, sizeof(qopt));
	add_attr(&r, TCA_NETEM_LATENCY64, &latency, sizeof(latency));
	nest_end(&r, opts);
	return nl_talk(nl, &r, NULL, NULL);
}

/*
 * TBF without a rate table (an Ethernet link layer needs none), and with a
 * size table when `stab` is given: TBF then counts a packet of L bytes as
 * stab[L] bytes (L < stab_len).
 */
int nl_tbf_add(struct nl *nl, int ifindex, uint32_t rate, uint32_t burst,
	       uint32_t limit, const uint16_t *stab, uint32_t stab_len)
{
	struct tc_tbf_qopt qopt = {
		.rate = { .rate = rate, .linklayer = TC_LINKLAYER_ETHERNET },
		.limit = limit,
	};
	struct tc_sizespec size = { .linklayer = TC_LINKLAYER_ETHERNET,
				    .tsize = stab_len };
	struct rtattr *opts;
	struct req r;

	qdisc_req(&r, RTM_NEWQDISC, NLM_F_CREATE | NLM_F_EXCL, ifindex,
		  TC_H_ROOT, 0, "tbf");
	if (stab && stab_len) {
		opts = nest_begin(&r, TCA_STAB);
		add_attr(&r, TCA_STAB_BASE, &size, sizeof(size));
		add_attr(&r, TCA_STAB_DATA, stab, stab_len * sizeof(*stab));
		nest_end(&r, opts);
	}
	opts = nest_begin(&r, TCA_OPTIONS);
	add_attr(&r, TCA_TBF_PARMS, &qopt, sizeof(qopt));
	add_u32(&r, TCA_TBF_BURST, burst);	/* bytes; else qopt.buffer */
	nest_end(&r, opts);
	return nl_talk(nl, &r, NULL, NULL);
}

/* ---- filters -------------------------------------------------------- */

static uint32_t clsact_parent(int ingress)
{
	return TC_H_MAKE(TC_H_CLSACT,
			 ingress ? TC_H_MIN_INGRESS : TC_H_MIN_EGRESS);
}

static void filter_req(struct req *r, int type, int flags, int ifindex,
		       int ingress, uint32_t prio, uint32_t handle)
{
	req_init(r, type, flags, sizeof(r->tc));
	r->tc.tcm_family = AF_UNSPEC;
	r->tc.tcm_ifindex = ifindex;
	r->tc.tcm_parent = clsact_parent(ingress);
	r->tc.tcm_handle = handle;
	r->tc.tcm_info = TC_H_MAKE(prio << 16, __builtin_bswap16(ETH_P_ALL));
}

/*
 * Prio 0 lets the kernel choose one just ahead of the filters already
 * there (or 49152 on an empty hook); handle 0 lets cls_bpf pick one.
 */
int nl_bpf_filter_add(struct nl *nl, int ifindex, int ingress, uint32_t prio,
		      int prog_fd, const char *name)
{
	struct rtattr *opts;
	struct req r;

	filter_req(&r, RTM_NEWTFILTER, NLM_F_CREATE | NLM_F_EXCL, ifindex,
		   ingress, prio, 0);
	add_str(&r, TCA_KIND, "bpf");
	opts = nest_begin(&r, TCA_OPTIONS);
	add_u32(&r, TCA_BPF_FD, (uint32_t)prog_fd);
	add_str(&r, TCA_BPF_NAME, name);
	add_u32(&r, TCA_BPF_FLAGS, TCA_BPF_FLAG_ACT_DIRECT);
	nest_end(&r, opts);
	return nl_talk(nl, &r, NULL, NULL);
}

int nl_filter_del(struct nl *nl, int ifindex, int ingress, uint32_t prio,
		  uint32_t handle)
{
	struct req r;

	filter_req(&r, RTM_DELTFILTER, 0, ifindex, ingress, prio, handle);
	return nl_talk(nl, &r, NULL, NULL);
}

/* The filters of a dump, in an array that grows as they come. */
struct filter_list {
	struct tc_filter *out;
	int n, max;
};

static void parse_bpf_options(struct tc_filter *f, const struct rtattr *opts)
{
	const struct rtattr *tb[TCA_BPF_MAX + 1];

	parse_rtattr(tb, TCA_BPF_MAX, RTA_DATA(opts), (int)RTA_PAYLOAD(opts));
	if (tb[TCA_BPF_NAME])
		copy_str(f->name, sizeof(f->name), tb[TCA_BPF_NAME]);
	attr_u32(tb[TCA_BPF_ID], &f->prog_id);
}

static int save_filter(const struct nlmsghdr *n, void *arg)
{
	struct filter_list *list = arg;
	const struct tcmsg *tc = NLMSG_DATA(n);
	const struct rtattr *tb[TCA_MAX + 1];
	struct tc_filter f;

	if (msg_attrs(n, RTM_NEWTFILTER, sizeof(*tc), tb, TCA_MAX))
		return 0;
	/* Each filter protocol/prio also dumps a header entry: handle 0. */
	if (!tc->tcm_handle)
		return 0;
	if (list->n == list->max) {
		int max = list->max ? 2 * list->max : 16;
		struct tc_filter *more = realloc(list->out,
						 (size_t)max * sizeof(*more));

		if (!more)
			return -ENOMEM;
		list->out = more;
		list->max = max;
	}

	memset(&f, 0, sizeof(f));
	f.prio = TC_H_MAJ(tc->tcm_info) >> 16;
	f.handle = tc->tcm_handle;
	if (tb[TCA_KIND])
		copy_str(f.kind, sizeof(f.kind), tb[TCA_KIND]);
	if (tb[TCA_OPTIONS] && !strcmp(f.kind, "bpf"))
		parse_bpf_options(&f, tb[TCA_OPTIONS]);
	list->out[list->n++] = f;
	return 0;
}

#define DUMP_TRIES	8	/* dumps interrupted by changes, at most */

int nl_filters_all(struct nl *nl, int ifindex, int ingress,
		   struct tc_filter **out)
{
	struct filter_list list = { NULL, 0, 0 };
	struct req r;
	int err = -EINTR, tries;

	for (tries = 0; tries < DUMP_TRIES && err == -EINTR; tries++) {
		list.n = 0;
		filter_req(&r, RTM_GETTFILTER, NLM_F_DUMP, ifindex, ingress,
			   0, 0);
		r.n.nlmsg_flags &= ~NLM_F_ACK;
		r.tc.tcm_info = 0;
		err = nl_talk(nl, &r, save_filter, &list);
	}
	if (err) {
		free(list.out);
		return err;
	}
	*out = list.out;
	return list.n;
}

int nl_filters(struct nl *nl, int ifindex, int ingress, struct tc_filter *out,
	       int max)
{
	struct tc_filter *all = NULL;
	int n = nl_filters_all(nl, ifindex, ingress, &all);

	if (n > max)
		n = -E2BIG;
	if (n > 0)
		memcpy(out, all, (size_t)n * sizeof(*out));
	free(all);
	return n;
}
