// SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
/*
 * instance.c - the running hedge: the lock, the pin dir, and discovery
 * through the kernel itself (the Rescuer's filter on DL_OUT -> its
 * program -> its maps -> the config), every fd opened once. Pins are a
 * shortcut where they are visible, not the source of truth: `ip netns
 * exec` gives every run a private /sys.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <net/if.h>
#include <sys/file.h>
#include <sys/stat.h>
#include "instance.h"

#define LOCK_WAIT_MS_CHANGE	1000	/* a status in progress ends by then */
#define LOCK_WAIT_MS_READ	5000	/* an up in progress, most often */

void instance_init(struct instance *in)
{
	memset(in, 0, sizeof(*in));
	in->lock_fd = in->config_fd = in->stats_fd = in->adapt_fd = -1;
	in->tick_fd = in->budget_fd = in->targets_fd = in->nat_fd = -1;
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

void instance_close(struct instance *in)
{
	close_fd(&in->config_fd);
	close_fd(&in->stats_fd);
	close_fd(&in->adapt_fd);
	close_fd(&in->tick_fd);
	close_fd(&in->budget_fd);
	close_fd(&in->targets_fd);
	close_fd(&in->nat_fd);
	close_fd(&in->lock_fd);	/* last: the lock outlives every map fd */
}

/* ---- the lock --------------------------------------------------------- */

/* HEDGE_RUN_DIR, made if missing; refused unless it is ours and private. */
static int run_dir(void)
{
	struct stat st;

	if (mkdir(HEDGE_RUN_DIR, 0700) && errno != EEXIST)
		return fail("creating " HEDGE_RUN_DIR ": %s", strerror(errno));
	if (lstat(HEDGE_RUN_DIR, &st))
		return fail("reading " HEDGE_RUN_DIR ": %s", strerror(errno));
	if (!S_ISDIR(st.st_mode) || st.st_uid != geteuid() ||
	    (st.st_mode & 077))
		return fail(HEDGE_RUN_DIR " is not a directory of this user's "
			    "with mode 0700: remove it");
	return 0;
}

/*
 * One lock file per network namespace, named by its inode. flock() dies
 * with the process; up and down take it exclusive, status shared.
 */
int instance_lock(struct instance *in, enum lock_kind kind)
{
	int op = kind == LOCK_CHANGE ? LOCK_EX : LOCK_SH, waited;
	int wait_ms = kind == LOCK_CHANGE ? LOCK_WAIT_MS_CHANGE :
		      LOCK_WAIT_MS_READ;
	struct timespec ms = { 0, 1000000 };
	char path[80];
	struct stat st;

	if (stat("/proc/self/ns/net", &st))
		return fail("finding the network namespace: %s",
			    strerror(errno));
	if (run_dir())
		return -1;
	snprintf(path, sizeof(path), HEDGE_RUN_DIR "/net-%lu.lock",
		 (unsigned long)st.st_ino);
	in->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW,
			   0600);
	if (in->lock_fd < 0)
		return fail("opening %s: %s", path, strerror(errno));
	for (waited = 0; flock(in->lock_fd, op | LOCK_NB); waited++) {
		if (errno != EWOULDBLOCK && errno != EINTR)
			return fail("taking the lock %s: %s", path,
				    strerror(errno));
		if (waited >= wait_ms)
			return fail(kind == LOCK_CHANGE ? "another hedge is "
				    "running in this network namespace" :
				    "another hedge is changing this network "
				    "namespace: try again");
		nanosleep(&ms, NULL);
	}
	return 0;
}

int pin_dir(char *dir, size_t size)
{
	struct stat st;

	if (stat("/proc/self/ns/net", &st))
		return fail("finding the network namespace: %s",
			    strerror(errno));
	snprintf(dir, size, BPFFS "/hedge-net%lu", (unsigned long)st.st_ino);
	return 0;
}

/* ---- filters ---------------------------------------------------------- */

int find_ours(struct nl *nl, int ifindex, int ingress, const char *name,
	      struct tc_filter *ours)
{
	struct tc_filter *fs = NULL;
	int i, n = nl_filters_all(nl, ifindex, ingress, &fs);

	memset(ours, 0, sizeof(*ours));
	if (n < 0)
		return nl_fail(nl, n, "listing filters");
	for (i = 0; i < n; i++)
		if (!strcmp(fs[i].kind, "bpf") && !strcmp(fs[i].name, name))
			*ours = fs[i];
	free(fs);
	return n;
}

long filter_prog_id(struct nl *nl, int ifindex, int ingress, const char *name)
{
	struct tc_filter ours;

	if (find_ours(nl, ifindex, ingress, name, &ours) < 0)
		return -1;
	return ours.prog_id;
}

long hook_prog_id(struct nl *nl, const struct hedge_config *cfg,
		  int ingress, const char *name)
{
	struct tcx_prog progs[TCX_MAX_PROGS];
	int i, n;

	if (!(cfg->flags & HEDGE_F_ATTACH_TCX))
		return filter_prog_id(nl, (int)cfg->dev_ifindex, ingress, name);
	n = tcx_query((int)cfg->dev_ifindex, !ingress, progs, TCX_MAX_PROGS,
		      NULL);
	if (n < 0)
		return fail("listing the device's TCX programs: %s",
			    strerror(-n));
	for (i = 0; i < n; i++)
		if (!strcmp(progs[i].name, name))
			return progs[i].id;
	return 0;
}

/* ---- discovery -------------------------------------------------------- */

/* Map `name` through its pin, or -1. */
static int pinned_map(const struct instance *in, const char *name)
{
	char path[128];

	snprintf(path, sizeof(path), "%s/%s", in->pin_dir, name);
	return obj_get(path);
}

/* Map `name` of program `id` (its pins' twin), or -1. */
static int prog_map(long id, const char *name)
{
	int prog = id > 0 ? prog_fd_by_id((uint32_t)id) : -1, fd;

	if (prog < 0)
		return -1;
	fd = prog_map_fd(prog, name);
	close(prog);
	return fd;
}

/* Whether map fd's values are `size` bytes; 0 yes, 1 no, -1 said why. */
static int other_size(int fd, const char *name, size_t size)
{
	uint32_t got;
	int err = map_value_size(fd, &got);

	if (err)
		return fail("reading the %s map's layout: %s", name,
			    strerror(-err));
	return got != size;
}

/* The running config's layout version: its first __u32 whatever the size. */
static int read_layout(struct instance *in)
{
	uint32_t size, zero = 0;
	void *raw;
	int err = map_value_size(in->config_fd, &size);

	if (err || size < sizeof(uint32_t) || size > (1 << 20))
		return fail("reading the config map's layout: %s",
			    err ? strerror(-err) : "a value of no size");
	raw = calloc(1, size);
	if (!raw)
		return fail("reading the config map: %s", strerror(ENOMEM));
	err = map_lookup(in->config_fd, &zero, raw);
	if (!err)
		memcpy(&in->layout, raw, sizeof(in->layout));
	free(raw);
	return err ? fail("reading the config map: %s", strerror(-err)) : 0;
}

/* Config and stats maps of the same layout as this build's, and the
 * config read: 0; of another layout: in->other_layout; -1 said why. */
static int check_layout(struct instance *in)
{
	uint32_t zero = 0;
	int a = other_size(in->config_fd, HEDGE_MAP_CONFIG,
			   sizeof(struct hedge_config)), b, err;

	b = a < 0 ? -1 : other_size(in->stats_fd, HEDGE_MAP_STATS,
				    sizeof(struct hedge_stats));
	if (a < 0 || b < 0 || read_layout(in))
		return -1;
	in->other_layout = a || b || in->layout != HEDGE_LAYOUT_VERSION;
	if (in->other_layout)
		return 0;
	err = map_lookup(in->config_fd, &zero, &in->cfg);
	return err ? fail("reading the config map: %s", strerror(-err)) : 0;
}

/* The pins, when this mount namespace sees them and they are the maps
 * of the delay line that exists now (not of an earlier, crashed run):
 * BPF_OBJ_GET needs no CAP_SYS_ADMIN, unlike looking programs up by id. */
static int open_pinned(struct instance *in, int out)
{
	in->config_fd = pinned_map(in, HEDGE_MAP_CONFIG);
	in->stats_fd = pinned_map(in, HEDGE_MAP_STATS);
	if (in->config_fd < 0 || in->stats_fd < 0 || check_layout(in) ||
	    (!in->other_layout && in->cfg.rescue_ifindex != (uint32_t)out)) {
		close_fd(&in->config_fd);
		close_fd(&in->stats_fd);
		in->other_layout = 0;
		return 0;
	}
	in->adapt_fd = pinned_map(in, HEDGE_MAP_ADAPT);
	in->tick_fd = pinned_map(in, HEDGE_MAP_TICK);
	in->budget_fd = pinned_map(in, HEDGE_MAP_BUDGET);
	in->targets_fd = pinned_map(in, HEDGE_MAP_TARGETS);
	in->nat_fd = pinned_map(in, HEDGE_MAP_NAT);
	return 1;
}

/* The same maps through the programs: needs CAP_SYS_ADMIN. */
static int open_by_id(struct nl *nl, struct instance *in)
{
	int prog = prog_fd_by_id((uint32_t)in->rescuer_id);
	long ticker;

	if (prog < 0)
		return fail("opening the Rescuer (program %ld): %s%s",
			    in->rescuer_id, strerror(-prog), prog == -EPERM ?
			    " (without the pins in " BPFFS ", this needs "
			    "CAP_SYS_ADMIN)" : "");
	in->config_fd = prog_map_fd(prog, HEDGE_MAP_CONFIG);
	in->stats_fd = prog_map_fd(prog, HEDGE_MAP_STATS);
	in->budget_fd = prog_map_fd(prog, HEDGE_MAP_BUDGET);
	close(prog);
	if (in->config_fd < 0 || in->stats_fd < 0)
		return fail("the Rescuer on " DL_OUT " has no hedge maps");
	if (check_layout(in))
		return -1;
	if (in->other_layout)
		return 0;
	in->targets_fd = prog_map(hook_prog_id(nl, &in->cfg, 0,
				  HEDGE_PROG_SPLITTER), HEDGE_MAP_TARGETS);
	in->nat_fd = prog_map(hook_prog_id(nl, &in->cfg, 0,
			      HEDGE_PROG_SPLITTER), HEDGE_MAP_NAT);
	ticker = in->cfg.delay_line == HEDGE_DL_TICK ?
		 filter_prog_id(nl, (int)in->cfg.delay_ifindex, 1,
				HEDGE_PROG_TICKER) : 0;
	in->adapt_fd = prog_map(ticker, HEDGE_MAP_ADAPT);
	in->tick_fd = prog_map(ticker, HEDGE_MAP_TICK);
	return 0;
}

/* Whether the device called `name` carries hedge's alias: 1, 0, -1. */
static int has_alias(struct nl *nl, const char *name)
{
	int ifindex = (int)if_nametoindex(name), err;
	struct nl_link link;
	char kind[16];

	if (!ifindex)
		return 0;
	memset(&link, 0, sizeof(link));
	err = nl_link_get(nl, ifindex, &link);
	if (err == -ENODEV)
		return 0;
	if (err)
		return nl_fail(nl, err, "reading the delay line's alias");
	if (!strcmp(link.alias, DL_ALIAS))
		return 1;
	/* Between the pair's creation and its alias (dl_create): a pair
	 * down, without alias, is "maybe ours" when it has no clsact (no
	 * one else's programs on it either). */
	if (link.alias[0] || link.operstate == 6 /* IF_OPER_UP */)
		return 0;
	err = nl_ingress_qdisc_kind(nl, ifindex, kind);
	return (err == -ENOENT || err == -EINVAL || (!err && !*kind)) ? 1 : 0;
}

int instance_find(struct nl *nl, struct instance *in, int need_values)
{
	int out = (int)if_nametoindex(DL_OUT), a, b;

	if (pin_dir(in->pin_dir, sizeof(in->pin_dir)))
		return -1;
	if (!out && !if_nametoindex(DL_IN))
		return 0;
	in->rescuer_id = out ? filter_prog_id(nl, out, 1,
					      HEDGE_PROG_RESCUER) : 0;
	if (in->rescuer_id < 0)
		return -1;
	if (!in->rescuer_id) {
		/* Either end marked (a peer may be renamed or moved). */
		a = has_alias(nl, DL_IN);
		b = a < 0 ? a : has_alias(nl, DL_OUT);
		if (b < 0)
			return -1;
		in->half = a || b;
		in->foreign = !in->half;
		return 0;
	}
	in->found = 1;
	if (!open_pinned(in, out) && open_by_id(nl, in))
		return -1;
	if (!in->other_layout && !(in->cfg.flags & HEDGE_F_UP_DONE))
		in->half = 1;
	if (in->other_layout && need_values)
		return fail("the running hedge has another map layout (version "
			    "%u, this build %u): status cannot read it; 'hedge "
			    "down' still removes it", in->layout,
			    HEDGE_LAYOUT_VERSION);
	return 1;
}
