// SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
/*
 * netlink.c - the rtnetlink hedge needs, by hand: a veth pair, links up,
 * clsact and netem qdiscs, cls_bpf filters in direct-action mode, and the
 * dumps that find them again. In the manner of iproute2's libnetlink.c:
 * one request buffer, attributes appended at its tail, every request
 * acknowledged and every NLMSG_ERROR turned into -errno plus the kernel's
 * extended ack text.
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

#ifndef SOL_NETLINK
#define SOL_NETLINK 270
#endif

#define NL_RECV_BUF	32768
#define NL_TIMEOUT_S	5

struct req {
	struct nlmsghdr n;
	union {
		struct ifinfomsg ifi;
		struct tcmsg tc;
		struct rtmsg rt;
	};
	char attrs[512];
	int overflow;		/* an attribute did not fit: do not send */
};

int nl_open(struct nl *nl)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	struct timeval tv = { .tv_sec = NL_TIMEOUT_S };
	int one = 1;

	memset(nl, 0, sizeof(*nl));
	nl->fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (nl->fd < 0)
		return -errno;
	/* Extended acks carry the kernel's reason; capped acks keep them
	 * short. Old kernels lack both: errors then come without text. */
	setsockopt(nl->fd, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof(one));
	setsockopt(nl->fd, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof(one));
	if (setsockopt(nl->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) ||
	    bind(nl->fd, (struct sockaddr *)&sa, sizeof(sa))) {
		int err = -errno;

		close(nl->fd);
		return err;
	}
	nl->seq = (uint32_t)getpid() << 8;
	return 0;
}

void nl_close(struct nl *nl)
{
	if (nl->fd >= 0)
		close(nl->fd);
	nl->fd = -1;
}

int nl_fail(const struct nl *nl, int err, const char *what)
{
	if (nl->ext_ack[0])
		return fail("%s: %s (kernel: %s)", what, strerror(-err),
			    nl->ext_ack);
	return fail("%s: %s", what, strerror(-err));
}

/* ---- building a request --------------------------------------------- */

static void req_init(struct req *r, int type, int flags, size_t hdr_len)
{
	memset(r, 0, sizeof(*r));
	r->n.nlmsg_len = NLMSG_LENGTH(hdr_len);
	r->n.nlmsg_type = type;
	r->n.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | flags;
}

static void *req_tail(struct req *r)
{
	return (char *)&r->n + NLMSG_ALIGN(r->n.nlmsg_len);
}

static void add_raw(struct req *r, const void *data, size_t len)
{
	size_t at = NLMSG_ALIGN(r->n.nlmsg_len);

	if (at + NLMSG_ALIGN(len) > offsetof(struct req, overflow)) {
		r->overflow = 1;
		return;
	}
	memcpy(req_tail(r), data, len);
	r->n.nlmsg_len = at + NLMSG_ALIGN(len);
}

static void add_attr(struct req *r, int type, const void *data, size_t len)
{
	struct rtattr rta = { .rta_type = type, .rta_len = RTA_LENGTH(len) };
	size_t at = NLMSG_ALIGN(r->n.nlmsg_len);

	if (at + RTA_SPACE(len) > offsetof(struct req, overflow)) {
		r->overflow = 1;
		return;
	}
	memcpy(req_tail(r), &rta, sizeof(rta));
	memcpy((char *)req_tail(r) + RTA_LENGTH(0), data, len);
	r->n.nlmsg_len = at + RTA_SPACE(len);
}

static void add_u32(struct req *r, int type, uint32_t v)
{
	add_attr(r, type, &v, sizeof(v));
}

static void add_str(struct req *r, int type, const char *s)
{
	add_attr(r, type, s, strlen(s) + 1);
}

static struct rtattr *nest_begin(struct req *r, int type)
{
	struct rtattr *nest = req_tail(r);

	add_attr(r, type, NULL, 0);
	return nest;
}

static void nest_end(struct req *r, struct rtattr *nest)
{
	if (!r->overflow)
		nest->rta_len = (char *)req_tail(r) - (char *)nest;
}

/* ---- talking to the kernel ------------------------------------------ */

typedef int (*nl_cb)(const struct nlmsghdr *n, void *arg);

static void save_ext_ack(struct nl *nl, const struct nlmsghdr *n)
{
	const struct nlmsgerr *e = NLMSG_DATA(n);
	const struct rtattr *a;
	int len;

	if (!(n->nlmsg_flags & NLM_F_ACK_TLVS))
		return;
	/* With NETLINK_CAP_ACK the TLVs follow the bare nlmsgerr. */
	a = (const void *)((const char *)e + NLMSG_ALIGN(sizeof(*e)));
	len = (int)n->nlmsg_len - NLMSG_LENGTH(NLMSG_ALIGN(sizeof(*e)));
	for (; RTA_OK(a, len); a = RTA_NEXT(a, len))
		if (a->rta_type == NLMSGERR_ATTR_MSG && RTA_PAYLOAD(a) > 1) {
			size_t l = RTA_PAYLOAD(a);

			if (l > sizeof(nl->ext_ack))
				l = sizeof(nl->ext_ack);
			memcpy(nl->ext_ack, RTA_DATA(a), l);
			nl->ext_ack[l - 1] = '\0';
		}
}

/*
 * Send one request and read until its ACK (or, for a dump, NLMSG_DONE).
 * Every other message of ours goes to `cb`. Returns 0 or -errno.
 */
/* A dump's NLMSG_DONE may carry the error that ended it. */
static int done_error(const struct nlmsghdr *n)
{
	int e;

	if (n->nlmsg_len < NLMSG_LENGTH(sizeof(e)))
		return 0;
	memcpy(&e, NLMSG_DATA(n), sizeof(e));
	return e < 0 ? e : 0;
}

static int nl_talk(struct nl *nl, struct req *r, nl_cb cb, void *arg)
{
	static char buf[NL_RECV_BUF];
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	int err = 0, intr = 0;

	nl->ext_ack[0] = '\0';
	if (r->overflow)
		return -EMSGSIZE;
	r->n.nlmsg_seq = ++nl->seq;
	if (sendto(nl->fd, &r->n, r->n.nlmsg_len, 0, (struct sockaddr *)&sa,
		   sizeof(sa)) < 0)
		return -errno;

	for (;;) {
		ssize_t len = recv(nl->fd, buf, sizeof(buf), 0);
		struct nlmsghdr *n = (struct nlmsghdr *)buf;

		if (len < 0)
			return errno == EAGAIN ? -ETIMEDOUT : -errno;
		for (; NLMSG_OK(n, (size_t)len); n = NLMSG_NEXT(n, len)) {
			if (n->nlmsg_seq != nl->seq)
				continue;	/* a stale answer */
			/* The dump changed under the kernel's feet: its
			 * caller may ask again (-EINTR at the end). */
			if (n->nlmsg_flags & NLM_F_DUMP_INTR)
				intr = 1;
			if (n->nlmsg_type == NLMSG_DONE)
				return done_error(n) ? done_error(n) :
				       err ? err : intr ? -EINTR : 0;
			if (n->nlmsg_type == NLMSG_ERROR) {
				const struct nlmsgerr *e = NLMSG_DATA(n);

				if (n->nlmsg_len < NLMSG_LENGTH(sizeof(*e)))
					return -EBADMSG;
				save_ext_ack(nl, n);
				return e->error ? e->error : err;
			}
			if (cb && !err)
				err = cb(n, arg);
		}
	}
}

static void copy_str(char *dst, size_t size, const struct rtattr *a)
{
	size_t len = RTA_PAYLOAD(a) < size ? RTA_PAYLOAD(a) : size;

	memcpy(dst, RTA_DATA(a), len);
	dst[len ? len - 1 : 0] = '\0';
}

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
	struct nl_link *link = arg;
	const struct rtattr *a;
	int len;

	if (n->nlmsg_type != RTM_NEWLINK ||
	    n->nlmsg_len < NLMSG_LENGTH(sizeof(*ifi)))
		return 0;
	link->type = ifi->ifi_type;
	link->flags = ifi->ifi_flags;
	a = (const struct rtattr *)((const char *)ifi + NLMSG_ALIGN(sizeof(*ifi)));
	len = (int)n->nlmsg_len - NLMSG_LENGTH(sizeof(*ifi));
	for (; RTA_OK(a, len); a = RTA_NEXT(a, len))
		if (a->rta_type == IFLA_OPERSTATE && RTA_PAYLOAD(a) >= 1)
			link->operstate = *(const uint8_t *)RTA_DATA(a);
		else if (a->rta_type == IFLA_IFALIAS)
			copy_str(link->alias, sizeof(link->alias), a);
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
	struct nl_route *rt = arg;
	const struct rtattr *a;
	int len;

	if (n->nlmsg_type != RTM_NEWROUTE ||
	    n->nlmsg_len < NLMSG_LENGTH(sizeof(*rtm)))
		return 0;
	rt->type = rtm->rtm_type;
	a = (const struct rtattr *)((const char *)rtm + NLMSG_ALIGN(sizeof(*rtm)));
	len = (int)n->nlmsg_len - NLMSG_LENGTH(sizeof(*rtm));
	for (; RTA_OK(a, len); a = RTA_NEXT(a, len))
		if (a->rta_type == RTA_OIF && RTA_PAYLOAD(a) >= 4)
			memcpy(&rt->oif, RTA_DATA(a), 4);
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
	const struct tcmsg *tc = NLMSG_DATA(n);
	const struct rtattr *a;
	int len;

	if (n->nlmsg_type != RTM_NEWQDISC ||
	    n->nlmsg_len < NLMSG_LENGTH(sizeof(*tc)))
		return 0;
	a = (const struct rtattr *)((const char *)tc + NLMSG_ALIGN(sizeof(*tc)));
	len = (int)n->nlmsg_len - NLMSG_LENGTH(sizeof(*tc));
	for (; RTA_OK(a, len); a = RTA_NEXT(a, len))
		if (a->rta_type == TCA_KIND)
			copy_str(arg, 16, a);
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

int nl_root_qdisc_kind(struct nl *nl, int ifindex, char kind[16])
{
	struct req r;

	qdisc_req(&r, RTM_GETQDISC, NLM_F_ECHO, ifindex, TC_H_ROOT, 0, NULL);
	kind[0] = '\0';
	return nl_talk(nl, &r, save_kind, kind);
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

/* TBF without a rate table: an Ethernet link layer needs none. */
int nl_tbf_add(struct nl *nl, int ifindex, uint32_t rate, uint32_t burst,
	       uint32_t limit)
{
	struct tc_tbf_qopt qopt = {
		.rate = { .rate = rate, .linklayer = TC_LINKLAYER_ETHERNET },
		.limit = limit,
	};
	struct rtattr *opts;
	struct req r;

	qdisc_req(&r, RTM_NEWQDISC, NLM_F_CREATE | NLM_F_EXCL, ifindex,
		  TC_H_ROOT, 0, "tbf");
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
	const struct rtattr *a = RTA_DATA(opts);
	int len = RTA_PAYLOAD(opts);

	for (; RTA_OK(a, len); a = RTA_NEXT(a, len)) {
		if (a->rta_type == TCA_BPF_NAME)
			copy_str(f->name, sizeof(f->name), a);
		else if (a->rta_type == TCA_BPF_ID && RTA_PAYLOAD(a) >= 4)
			memcpy(&f->prog_id, RTA_DATA(a), 4);
	}
}

static int save_filter(const struct nlmsghdr *n, void *arg)
{
	struct filter_list *list = arg;
	const struct tcmsg *tc = NLMSG_DATA(n);
	const struct rtattr *a, *opts = NULL;
	struct tc_filter f;
	int len;

	if (n->nlmsg_type != RTM_NEWTFILTER ||
	    n->nlmsg_len < NLMSG_LENGTH(sizeof(*tc)))
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
	a = (const struct rtattr *)((const char *)tc + NLMSG_ALIGN(sizeof(*tc)));
	len = (int)n->nlmsg_len - NLMSG_LENGTH(sizeof(*tc));
	for (; RTA_OK(a, len); a = RTA_NEXT(a, len)) {
		if (a->rta_type == TCA_KIND)
			copy_str(f.kind, sizeof(f.kind), a);
		else if (a->rta_type == TCA_OPTIONS)
			opts = a;
	}
	if (opts && !strcmp(f.kind, "bpf"))
		parse_bpf_options(&f, opts);
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
