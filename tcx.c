// SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
/*
 * tcx.c - being first in line on a device's TC hooks: TCX (Linux 6.6+)
 * attach, detach and query with raw bpf() calls, and for the clsact
 * fallback the choice of a filter pref ahead of every other filter.
 *
 * How hedge attaches on TCX, and why: BPF_PROG_ATTACH (no link) with
 * BPF_F_BEFORE and no relative program, which the kernel's multi-program
 * code (kernel/bpf/mprog.c) reads as "ahead of every program there now".
 * Such an attachment belongs to the device, like a tc filter: it outlives
 * the process that made it, needs no bpffs, and goes with the device.
 * A TCX *link* instead lives as long as a file descriptor or a bpffs pin
 * holds it; `ip netns exec` gives each command a /sys of its own in which
 * /sys/fs/bpf is not a bpffs, so a link made there cannot be pinned
 * where the next command sees it, and dies when `up` exits.
 * tests/tcx.sh shows both. tcx_link_attach() is kept for callers that
 * hold a link themselves.
 *
 * Nothing can stay first for good: whatever attaches later with
 * BPF_F_BEFORE goes ahead of hedge. tcx_position() says who is ahead, so
 * that `status` can call it a problem.
 *
 * The build's UAPI headers may predate TCX (Debian 12 ships 6.1's): the
 * attribute layouts and constants it needs are spelled out here, as in
 * include/uapi/linux/bpf.h of 6.6+.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include "hedge_user.h"

#define TCX_INGRESS	46	/* enum bpf_attach_type: BPF_TCX_INGRESS */
#define TCX_EGRESS	47	/* BPF_TCX_EGRESS */
#define F_BEFORE	(1U << 3)	/* BPF_F_BEFORE */

/* union bpf_attr, the members for TCX as 6.6+ lays them out. */
union tcx_attr {
	union bpf_attr attr;
	struct {	/* BPF_PROG_ATTACH, BPF_PROG_DETACH */
		uint32_t target_ifindex;
		uint32_t attach_bpf_fd;
		uint32_t attach_type;
		uint32_t attach_flags;
		uint32_t replace_bpf_fd;
		uint32_t relative_fd;	/* or relative_id with BPF_F_ID */
		uint64_t expected_revision;
	} prog;
	struct {	/* BPF_LINK_CREATE */
		uint32_t prog_fd;
		uint32_t target_ifindex;
		uint32_t attach_type;
		uint32_t flags;
		uint32_t relative_fd;	/* link_create.tcx */
		uint32_t pad;
		uint64_t expected_revision;
	} link;
	struct {	/* BPF_PROG_QUERY */
		uint32_t target_ifindex;
		uint32_t attach_type;
		uint32_t query_flags;
		uint32_t attach_flags;
		uint64_t prog_ids;
		uint32_t count;
		uint32_t pad;
		uint64_t prog_attach_flags;
		uint64_t link_ids;
		uint64_t link_attach_flags;
		uint64_t revision;
	} query;
};

/* sys_bpf() passes sizeof(union bpf_attr): the query must fit in it. */
_Static_assert(sizeof(union tcx_attr) == sizeof(union bpf_attr),
	       "the TCX attributes do not fit the build's union bpf_attr");

static uint32_t hook(int egress)
{
	return egress ? TCX_EGRESS : TCX_INGRESS;
}

/*
 * Querying lo's TCX ingress costs one syscall and changes nothing: a
 * kernel without TCX (or built without CONFIG_NET_XGRESS) does not know
 * the attach type and says EINVAL; one with it answers, hook empty or not.
 */
int tcx_supported(void)
{
	union tcx_attr a;

	memset(&a, 0, sizeof(a));
	a.query.target_ifindex = 1;	/* lo, in every network namespace */
	a.query.attach_type = TCX_INGRESS;
	if (!sys_bpf(BPF_PROG_QUERY, &a.attr))
		return 1;
	return errno == EINVAL ? 0 : -errno;
}

/* BPF_PROG_ATTACH or _DETACH of prog_fd on a TCX hook; -errno. */
static int prog_cmd(int cmd, int ifindex, int egress, int prog_fd,
		    uint32_t flags)
{
	union tcx_attr a;

	memset(&a, 0, sizeof(a));
	a.prog.target_ifindex = (uint32_t)ifindex;
	a.prog.attach_bpf_fd = (uint32_t)prog_fd;
	a.prog.attach_type = hook(egress);
	a.prog.attach_flags = flags;
	return sys_bpf(cmd, &a.attr) ? -errno : 0;
}

int tcx_attach(int ifindex, int egress, int prog_fd)
{
	/* No relative program: ahead of all. (The kernel reads relative_fd
	 * 0 as "none" unless fd 0 is itself a BPF program.) */
	return prog_cmd(BPF_PROG_ATTACH, ifindex, egress, prog_fd, F_BEFORE);
}

/* ENOENT: not on the hook (or the hook empty); ENODEV: no such device. */
int tcx_detach(int ifindex, int egress, int prog_fd)
{
	int err = prog_cmd(BPF_PROG_DETACH, ifindex, egress, prog_fd, 0);

	return err == -ENOENT || err == -ENODEV ? 0 : err;
}

int tcx_link_attach(int ifindex, int egress, int prog_fd, uint32_t flags)
{
	union tcx_attr a;
	int fd;

	memset(&a, 0, sizeof(a));
	a.link.prog_fd = (uint32_t)prog_fd;
	a.link.target_ifindex = (uint32_t)ifindex;
	a.link.attach_type = hook(egress);
	a.link.flags = flags;
	fd = sys_bpf(BPF_LINK_CREATE, &a.attr);
	return fd < 0 ? -errno : fd;
}

static int prog_name_by_id(uint32_t id, char name[BPF_OBJ_NAME_LEN])
{
	struct bpf_prog_info info;
	union bpf_attr attr;
	int fd, err = 0;

	fd = prog_fd_by_id(id);
	if (fd < 0)
		return fd;
	memset(&info, 0, sizeof(info));
	memset(&attr, 0, sizeof(attr));
	attr.info.bpf_fd = (uint32_t)fd;
	attr.info.info_len = sizeof(info);
	attr.info.info = (uint64_t)(unsigned long)&info;
	if (sys_bpf(BPF_OBJ_GET_INFO_BY_FD, &attr))
		err = -errno;
	else
		memcpy(name, info.name, BPF_OBJ_NAME_LEN);
	name[BPF_OBJ_NAME_LEN - 1] = '\0';
	close(fd);
	return err;
}

/*
 * The kernel fills ids in run order and says ENOSPC when the hook holds
 * more than asked for. A program gone between the query and its name
 * (ENOENT) means the hook changed: ask again, a few times (then
 * -EAGAIN, so that ENOENT never reads as "not there").
 */
int tcx_query(int ifindex, int egress, struct tcx_prog *out, int max,
	      uint64_t *revision)
{
	uint32_t prog_ids[TCX_MAX_PROGS], link_ids[TCX_MAX_PROGS];
	union tcx_attr a;
	int tries, i, err = -ENOENT;

	if (max > TCX_MAX_PROGS)
		max = TCX_MAX_PROGS;
	for (tries = 0; tries < 3 && err == -ENOENT; tries++) {
		memset(&a, 0, sizeof(a));
		a.query.target_ifindex = (uint32_t)ifindex;
		a.query.attach_type = hook(egress);
		a.query.prog_ids = (uint64_t)(unsigned long)prog_ids;
		a.query.link_ids = (uint64_t)(unsigned long)link_ids;
		a.query.count = (uint32_t)max;
		if (sys_bpf(BPF_PROG_QUERY, &a.attr))
			return -errno;
		for (i = 0, err = 0; i < (int)a.query.count && !err; i++) {
			out[i].id = prog_ids[i];
			out[i].link_id = link_ids[i];
			err = prog_name_by_id(prog_ids[i], out[i].name);
			/* A name needs CAP_SYS_ADMIN, the ids do not: "". */
			if (err == -EPERM) {
				out[i].name[0] = '\0';
				err = 0;
			}
		}
	}
	if (err)
		return err == -ENOENT ? -EAGAIN : err;	/* kept changing */
	if (revision)
		*revision = a.query.revision;
	return (int)a.query.count;
}

int tcx_position(int ifindex, int egress, const char *name,
		 struct tcx_prog *first)
{
	struct tcx_prog progs[TCX_MAX_PROGS];
	int i, n;

	n = tcx_query(ifindex, egress, progs, TCX_MAX_PROGS, NULL);
	if (n < 0)
		return n;
	for (i = 0; i < n; i++)
		if (!strcmp(progs[i].name, name))
			break;
	if (i == n)
		return -ENOENT;
	if (first)
		*first = progs[0];
	return i;
}

int tcx_first_is(int ifindex, int egress, const char *name)
{
	int pos = tcx_position(ifindex, egress, name, NULL);

	if (pos == -ENOENT)
		return 0;
	return pos < 0 ? pos : pos == 0;
}

/* By name, for a `down` that did not load the programs itself. */
int tcx_detach_name(int ifindex, int egress, const char *name)
{
	struct tcx_prog progs[TCX_MAX_PROGS];
	int i, n, fd, err, done = 0;

	n = tcx_query(ifindex, egress, progs, TCX_MAX_PROGS, NULL);
	if (n == -ENODEV)
		return 0;
	if (n < 0)
		return n;
	for (i = 0; i < n; i++) {
		if (strcmp(progs[i].name, name))
			continue;
		fd = prog_fd_by_id(progs[i].id);
		if (fd == -ENOENT)
			continue;	/* gone meanwhile */
		if (fd < 0)
			return fd;
		err = tcx_detach(ifindex, egress, fd);
		close(fd);
		if (err)
			return err;
		done++;
	}
	return done;
}

/* ---- clsact fallback ------------------------------------------------ */

static int is_ours(const struct tc_filter *f, const char *const *ours)
{
	for (; *ours; ours++)
		if (!strcmp(f->kind, "bpf") && !strcmp(f->name, *ours))
			return 1;
	return 0;
}

/*
 * A filter at a lower pref runs first, and a direct-action filter that
 * returns anything but TC_ACT_UNSPEC ends classification: hedge must sit
 * below every other filter's pref. Filters called one of `ours` (hedge's
 * own, from an earlier `up`) do not count.
 */
int tc_pref_ahead(const struct tc_filter *fs, int n, const char *const *ours,
		  uint32_t *pref)
{
	uint32_t lowest = 0;
	int i;

	for (i = 0; i < n; i++)
		if (!is_ours(&fs[i], ours) && (!lowest || fs[i].prio < lowest))
			lowest = fs[i].prio;
	if (lowest == 1)
		return -ENOSPC;
	*pref = lowest ? lowest - 1 : 0;
	return 0;
}
