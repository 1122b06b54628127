// SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
/*
 * netlink.c - rtnetlink by hand, the talking (rtnl.c builds the requests
 * hedge needs): the socket, a request's attributes and nests, sending and
 * receiving. In the manner of iproute2's libnetlink.c: one request buffer,
 * attributes appended at its tail, every request acknowledged and every
 * NLMSG_ERROR turned into -errno plus the kernel's extended ack text.
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

void req_init(struct req *r, int type, int flags, size_t hdr_len)
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

void add_raw(struct req *r, const void *data, size_t len)
{
	size_t at = NLMSG_ALIGN(r->n.nlmsg_len);

	if (at + NLMSG_ALIGN(len) > offsetof(struct req, overflow)) {
		r->overflow = 1;
		return;
	}
	memcpy(req_tail(r), data, len);
	r->n.nlmsg_len = at + NLMSG_ALIGN(len);
}

void add_attr(struct req *r, int type, const void *data, size_t len)
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

void add_u32(struct req *r, int type, uint32_t v)
{
	add_attr(r, type, &v, sizeof(v));
}

void add_str(struct req *r, int type, const char *s)
{
	add_attr(r, type, s, strlen(s) + 1);
}

struct rtattr *nest_begin(struct req *r, int type)
{
	struct rtattr *nest = req_tail(r);

	add_attr(r, type, NULL, 0);
	return nest;
}

void nest_end(struct req *r, struct rtattr *nest)
{
	if (!r->overflow)
		nest->rta_len = (char *)req_tail(r) - (char *)nest;
}

/* ---- talking to the kernel ------------------------------------------ */

static void save_ext_ack(struct nl *nl, const struct nlmsghdr *n)
{
	const struct rtattr *tb[NLMSGERR_ATTR_MSG + 1];
	size_t l;

	if (!(n->nlmsg_flags & NLM_F_ACK_TLVS))
		return;
	/* With NETLINK_CAP_ACK the TLVs follow the bare nlmsgerr. */
	if (msg_attrs(n, NLMSG_ERROR, sizeof(struct nlmsgerr), tb,
		      NLMSGERR_ATTR_MSG) || !tb[NLMSGERR_ATTR_MSG] ||
	    RTA_PAYLOAD(tb[NLMSGERR_ATTR_MSG]) <= 1)
		return;
	l = RTA_PAYLOAD(tb[NLMSGERR_ATTR_MSG]);
	if (l > sizeof(nl->ext_ack))
		l = sizeof(nl->ext_ack);
	memcpy(nl->ext_ack, RTA_DATA(tb[NLMSGERR_ATTR_MSG]), l);
	nl->ext_ack[l - 1] = '\0';
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

int nl_talk(struct nl *nl, struct req *r, nl_cb cb, void *arg)
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

void parse_rtattr(const struct rtattr *tb[], int max, const struct rtattr *a,
		  int len)
{
	memset(tb, 0, sizeof(*tb) * (size_t)(max + 1));
	for (; RTA_OK(a, len); a = RTA_NEXT(a, len))
		if (a->rta_type <= max)
			tb[a->rta_type] = a;
}

int msg_attrs(const struct nlmsghdr *n, int type, size_t hdr_len,
	      const struct rtattr *tb[], int max)
{
	if (n->nlmsg_type != type || n->nlmsg_len < NLMSG_LENGTH(hdr_len))
		return -1;
	parse_rtattr(tb, max, (const struct rtattr *)
		     ((const char *)NLMSG_DATA(n) + NLMSG_ALIGN(hdr_len)),
		     (int)n->nlmsg_len - NLMSG_LENGTH(hdr_len));
	return 0;
}

int attr_u32(const struct rtattr *a, uint32_t *v)
{
	if (!a || RTA_PAYLOAD(a) < sizeof(*v))
		return -1;
	memcpy(v, RTA_DATA(a), sizeof(*v));
	return 0;
}

void copy_str(char *dst, size_t size, const struct rtattr *a)
{
	size_t len = RTA_PAYLOAD(a) < size ? RTA_PAYLOAD(a) : size;

	memcpy(dst, RTA_DATA(a), len);
	dst[len ? len - 1 : 0] = '\0';
}
