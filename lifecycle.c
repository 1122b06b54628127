// SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
/*
 * lifecycle.c - `up` and `down`.
 *
 * up:   a list of steps, each with its undo: check the device -> build
 *       the delay line (and load the object) -> pin the maps -> attach
 *       the watcher and Splitter -> start the line. Each step done is
 *       recorded; a failure undoes the steps done, in reverse.
 * down: the same undos, all of them, in reverse, going on past errors.
 *       They use only ids and names (filter names, the delay line's link
 *       names, the pin dir), so that `down` removes a hedge whose map
 *       layout this build cannot read.
 */
#include <errno.h>
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include "attach.h"
#include "lifecycle.h"

#define BPFFS_MAGIC	0xcafe4a11

/* What `up` has done so far, which is what `down` undoes. */
struct run {
	struct nl *nl;
	const struct options *o;	/* up only */
	struct instance *in;
	struct hedge_config cfg;	/* valid unless cfg_unknown */
	int cfg_unknown;		/* down of another layout: names only */
	const struct delay_line *line;	/* chosen */
	struct bpf_obj obj;
	int removed;			/* down: pieces found and removed */
};

static int bpffs_mounted(void)
{
	struct statfs fs;

	return !statfs(BPFFS, &fs) && (unsigned long)fs.f_type == BPFFS_MAGIC;
}

static int bpffs_empty(void)
{
	DIR *d = opendir(BPFFS);
	struct dirent *e;
	int empty = 1;

	if (!d)
		return 0;
	/* A fresh bpffs already holds the kernel's preloaded iterators. */
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") &&
		    strcmp(e->d_name, "maps.debug") &&
		    strcmp(e->d_name, "progs.debug"))
			empty = 0;
	closedir(d);
	return empty;
}

static const char *const pinned_maps[] = {
	HEDGE_MAP_CONFIG, HEDGE_MAP_STATS, HEDGE_MAP_TARGETS, HEDGE_MAP_SCORES,
	HEDGE_MAP_ADAPT, HEDGE_MAP_TICK, HEDGE_MAP_BUDGET, HEDGE_MAP_NAT,
};
/* The device's programs too: `down` detaches TCX programs by these
 * without CAP_SYS_ADMIN (attach.c). */
static const char *const pinned_progs[] = {
	HEDGE_PROG_SPLITTER, HEDGE_PROG_WATCHER,
};
#define N_PINNED_PROGS (sizeof(pinned_progs) / sizeof(pinned_progs[0]))
#define N_PINNED (sizeof(pinned_maps) / sizeof(pinned_maps[0]))

/* ---- the steps, each with its undo ------------------------------------ */

/* The device: Ethernet-like, and no old ingress qdisc in clsact's place. */
static int check_device(struct run *r)
{
	int ifindex = (int)if_nametoindex(r->o->dev), err;
	struct nl_link link;
	char kind[16];

	if (!ifindex)
		return fail("unknown device '%s'", r->o->dev);
	err = nl_link_get(r->nl, ifindex, &link);
	if (err)
		return nl_fail(r->nl, err, "reading the device's type");
	if (link.type != ARPHRD_ETHER && link.type != ARPHRD_LOOPBACK)
		return fail("device '%s' is not Ethernet-like (link type %u): "
			    "hedge needs Ethernet headers", r->o->dev,
			    link.type);
	/*
	 * The old ingress qdisc sits where clsact goes, and a filter meant
	 * for egress would silently land on its ingress hook.
	 */
	err = nl_ingress_qdisc_kind(r->nl, ifindex, kind);
	if (err && err != -ENOENT)
		return nl_fail(r->nl, err, "reading the device's qdiscs");
	if (!err && *kind && strcmp(kind, "clsact"))
		return fail("device '%s' has an '%s' qdisc where hedge needs "
			    "clsact (which does its job too): remove it with "
			    "'tc qdisc del dev %s %s'", r->o->dev, kind,
			    r->o->dev, kind);
	r->cfg.dev_ifindex = (uint32_t)ifindex;
	if (link.type == ARPHRD_LOOPBACK)
		r->cfg.flags |= HEDGE_F_DEV_IS_LOOPBACK;
	if (r->in->found)
		return fail("already up (run 'hedge down' first)");
	if (r->in->foreign || if_nametoindex(DL_IN) || if_nametoindex(DL_OUT) ||
	    !strcmp(r->o->dev, DL_IN) || !strcmp(r->o->dev, DL_OUT))
		return fail("a device named " DL_IN " or " DL_OUT " exists and "
			    "is not hedge's: the delay line needs those names");
	return 0;
}

/* The map sizes for this run, from its config: the rings (--max-inflight)
 * and a deadline ring per target, and whatever the delay line wants
 * (which may shrink them further). */
#define MAX_SIZES 12
static const struct map_size *map_sizes(struct map_size *sizes,
					const struct delay_line *line,
					const struct hedge_config *cfg)
{
	uint32_t sets = cfg->score_mask + 1;
	const struct map_size *l;
	size_t n = 0;

	/* Each target's deadline ring has room for both parking rings;
	 * the Scoreboard HEDGE_SCORE_WAYS records a set (hedge.h). */
	sizes[n++] = (struct map_size){ HEDGE_MAP_PARKED, cfg->ring_mask + 1 };
	sizes[n++] = (struct map_size){ HEDGE_MAP_FRAMES, cfg->big_mask + 1 };
	sizes[n++] = (struct map_size){ HEDGE_MAP_SCORES,
					sets * HEDGE_SCORE_WAYS };
	sizes[n++] = (struct map_size){ HEDGE_MAP_SCORE_TAGS, sets };
	sizes[n++] = (struct map_size){ HEDGE_MAP_DUE, cfg->n_targets *
					hedge_due_cap(cfg->ring_mask,
						      cfg->big_mask) };
	for (l = line->sizes; l && l->name && n < MAX_SIZES - 1; l++)
		sizes[n++] = *l;
	sizes[n] = (struct map_size){ NULL, 0 };
	return sizes;
}

/* A map's memory as the kernel counts it (fdinfo "memlock"). */
static int map_memory(int fd, uint64_t *bytes)
{
	char path[64], line[128];
	unsigned long long v;
	int found = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	f = fopen(path, "r");
	if (!f)
		return fail("reading %s: %s", path, strerror(errno));
	while (!found && fgets(line, sizeof(line), f))
		found = sscanf(line, "memlock: %llu", &v) == 1;
	fclose(f);
	if (!found)
		return fail("reading %s: no memlock line", path);
	*bytes += v;
	return 0;
}

/* The memory hedge's maps take: each map's as the kernel counts it. */
static int maps_memory(const struct bpf_obj *obj, uint64_t *bytes)
{
	int i;

	*bytes = 0;
	for (i = 0; i < obj->n_maps; i++)
		if (map_memory(obj->maps[i].fd, bytes))
			return -1;
	return 0;
}

/*
 * Build the delay line: the one asked for, or with auto netem, falling
 * back to tick where the kernel has no netem. Then the object, sized for
 * it, and its programs on the line.
 */
static int build_line(struct run *r)
{
	struct map_size sizes[MAX_SIZES];
	size_t i;
	int err = -ENOENT;

	if (dl_create(r->nl, &r->cfg))
		return -1;
	for (i = 0; i < n_delay_lines && err == -ENOENT; i++) {
		r->line = r->o->line ? r->o->line : delay_lines[i];
		err = r->line->build(r->nl, &r->cfg);
		if (err == -ENOENT && (r->o->line || i == n_delay_lines - 1))
			return fail("this kernel has no %s", r->line->needs);
	}
	if (err)
		return -1;
	if (r->cfg.tick_cpu >= 0 && !r->line->start)
		return fail("--tick-cpu is for the tick delay line, and this "
			    "kernel has netem: add --delay-line tick");
	r->cfg.delay_line = r->line->kind;
	r->cfg.ring_mask = r->o->max_inflight - 1;
	r->cfg.big_mask = r->o->max_inflight / HEDGE_BIG_SHARE - 1;
	r->cfg.score_mask = hedge_score_sets(r->o->max_inflight) - 1;
	/* The programs start on the least sets in use (hedge.h). */
	r->cfg.score_word = HEDGE_SCORE_WORD(0,
		hedge_score_shift_min(r->cfg.score_mask),
		hedge_score_shift_min(r->cfg.score_mask));
	if (obj_load(&r->obj, map_sizes(sizes, r->line, &r->cfg),
		     r->line->unused))
		return -1;
	return dl_attach(r->nl, &r->cfg, r->line, &r->obj);
}

/* The pair, when it is hedge's: up's own, or (down) one with hedge's
 * Rescuer or alias; never a foreign pair of the same names. */
static int destroy_line(struct run *r)
{
	if (r->in->foreign)
		return 0;
	r->removed += !!if_nametoindex(DL_IN);
	return dl_destroy(r->nl);
}

static int pin_maps(struct run *r)
{
	char path[128];
	size_t i;
	int err;

	if (!bpffs_mounted()) {
		if (mount("bpf", BPFFS, "bpf", 0, "mode=0700"))
			return fail("mounting bpffs on " BPFFS ": %s%s",
				    strerror(errno), errno == EPERM ? " (mount "
				    "it first, or run with CAP_SYS_ADMIN)" : "");
		r->cfg.flags |= HEDGE_F_MOUNTED_BPFFS;
	}
	if (mkdir(r->in->pin_dir, 0700))
		return fail("creating %s: %s", r->in->pin_dir, strerror(errno));
	for (i = 0; i < N_PINNED + N_PINNED_PROGS; i++) {
		const char *name = i < N_PINNED ? pinned_maps[i] :
				   pinned_progs[i - N_PINNED];

		snprintf(path, sizeof(path), "%s/%s", r->in->pin_dir, name);
		err = obj_pin(i < N_PINNED ? obj_map_fd(&r->obj, name) :
			      obj_prog_fd(&r->obj, name), path);
		if (err)
			return fail("pinning %s: %s", path, strerror(-err));
	}
	return 0;
}

static int unpin_maps(struct run *r)
{
	char path[128];
	size_t i;
	int ret = 0;

	for (i = 0; i < N_PINNED + N_PINNED_PROGS; i++) {
		snprintf(path, sizeof(path), "%s/%s", r->in->pin_dir,
			 i < N_PINNED ? pinned_maps[i] :
			 pinned_progs[i - N_PINNED]);
		if (unlink(path) && errno != ENOENT)
			ret = fail("removing %s: %s", path, strerror(errno));
	}
	if (!rmdir(r->in->pin_dir))
		r->removed++;
	else if (errno != ENOENT)
		ret = fail("removing %s: %s", r->in->pin_dir, strerror(errno));
	/* bpffs we mounted goes again, unless someone else used it since. */
	if (!r->cfg_unknown && (r->cfg.flags & HEDGE_F_MOUNTED_BPFFS) &&
	    bpffs_mounted() && bpffs_empty() && umount(BPFFS))
		ret = fail("unmounting " BPFFS ": %s", strerror(errno));
	return ret;
}

int fill_targets(int fd, const struct hedge_config *cfg)
{
	const struct hedge_target_key *r;
	uint32_t i, replica;
	int err = 0;

	for (i = 0; i < cfg->n_targets && !err; i++) {
		replica = i | HEDGE_TARGET_REPLICA;
		err = map_update(fd, &cfg->targets[i].primary, &i);
		/* A replica that is a target too is known as that (its
		 * answers to hedges are told apart by the Scoreboard). */
		if (!err && (r = hedge_replica_key(cfg, i)))
			err = map_update(fd, r, &replica);
	}
	return err;
}

static int fill_maps(struct run *r)
{
	const struct hedge_config *cfg = &r->cfg;
	int adapt = obj_map_fd(&r->obj, HEDGE_MAP_ADAPT);
	int budget = obj_map_fd(&r->obj, HEDGE_MAP_BUDGET);
	struct hedge_adapt first = { .delay_ns = cfg->delay_ns };
	struct hedge_budget full = { .tokens = (int64_t)cfg->budget_cap };
	uint32_t i;
	int err;

	err = fill_targets(obj_map_fd(&r->obj, HEDGE_MAP_TARGETS), cfg);
	for (i = 0; i < cfg->n_targets && !err; i++) {
		err = map_update(adapt, &i, &first);
		if (!err)
			err = map_update(budget, &i, &full);
	}
	if (!err)
		err = config_write(obj_map_fd(&r->obj, HEDGE_MAP_CONFIG), cfg);
	return err ? fail("filling the BPF maps: %s", strerror(-err)) : 0;
}

static int fill(struct run *r)
{
	return attach_choose(r->o->attach, &r->cfg.flags) || fill_maps(r);
}

static int attach(struct run *r)
{
	/* The watcher first: every response to a cloned request is seen. */
	return attach_one(r->nl, &r->cfg, 1, obj_prog_fd(&r->obj,
			  HEDGE_PROG_WATCHER)) ||
	       attach_one(r->nl, &r->cfg, 0, obj_prog_fd(&r->obj,
			  HEDGE_PROG_SPLITTER)) ? -1 : 0;
}

/* hedge's programs off the device (up's rollback), or off every device
 * (down: also what an earlier, broken run left where it is no longer
 * recorded). */
static int detach(struct run *r)
{
	int known = !r->cfg_unknown && (r->cfg.flags & HEDGE_F_UP_DONE);
	int clsact = !known ? -1 : (r->cfg.flags & HEDGE_F_CREATED_CLSACT) ?
		     (int)r->cfg.dev_ifindex : 0;
	char name[IF_NAMESIZE];

	if (r->o) {	/* up: only its own device */
		if (!if_indextoname(r->cfg.dev_ifindex, name))
			return 0;
		/* Its own program fds: no CAP_SYS_ADMIN needed (by name is) */
		if (r->cfg.flags & HEDGE_F_ATTACH_TCX)
			return tcx_detach((int)r->cfg.dev_ifindex, 1,
					  obj_prog_fd(&r->obj,
						      HEDGE_PROG_SPLITTER)) ||
			       tcx_detach((int)r->cfg.dev_ifindex, 0,
					  obj_prog_fd(&r->obj,
						      HEDGE_PROG_WATCHER)) ?
			       fail("detaching hedge's TCX programs") : 0;
		return detach_dev(r->nl, (int)r->cfg.dev_ifindex,
				  !!(r->cfg.flags & HEDGE_F_CREATED_CLSACT)) <
		       0 ? -1 : 0;
	}
	return detach_all(r->nl, clsact, &r->removed);
}

static int start_line(struct run *r)
{
	return r->line->start ? r->line->start(&r->cfg) : 0;
}

/* The last step: the config says `up` finished. */
static int mark_done(struct run *r)
{
	int err;

	r->cfg.flags |= HEDGE_F_UP_DONE;
	err = config_write(obj_map_fd(&r->obj, HEDGE_MAP_CONFIG), &r->cfg);
	return err ? fail("writing the config map: %s", strerror(-err)) : 0;
}

struct step {
	int (*apply)(struct run *r);
	int (*undo)(struct run *r);	/* safe after a partial apply */
};

static const struct step steps[] = {
	{ check_device, NULL },
	{ build_line, destroy_line },
	{ pin_maps, unpin_maps },
	{ fill, NULL },
	{ attach, detach },
	{ start_line, NULL },
	{ mark_done, NULL },
};
#define N_STEPS (sizeof(steps) / sizeof(steps[0]))

/* Undo steps[0..n) in reverse, going on past errors. */
static int undo(struct run *r, size_t n)
{
	int ret = 0;

	while (n--)
		if (steps[n].undo)
			ret |= steps[n].undo(r);
	return ret ? -1 : 0;
}

/* SIGINT, SIGTERM, SIGHUP: blocked while `up` works, and looked for
 * between its steps; one that came means roll back. */
static void block_signals(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGHUP);
	sigprocmask(SIG_BLOCK, set, NULL);
}

static int interrupted(void)
{
	sigset_t p;

	if (sigpending(&p))
		return 0;
	if (sigismember(&p, SIGINT) || sigismember(&p, SIGTERM) ||
	    sigismember(&p, SIGHUP))
		return fail("interrupted by a signal: undoing what up did");
	return 0;
}

/* Everything hedge's in this namespace, wherever it is, as `down` does
 * it; with the config unknown, found only by names and the alias. */
static int sweep(struct nl *nl, struct instance *in, int *removed)
{
	struct run r = { .nl = nl, .in = in, .cfg = in->cfg,
			 .cfg_unknown = in->other_layout || !in->found };
	int ret = undo(&r, N_STEPS);

	*removed = r.removed;
	return ret;
}

int cmd_up(struct nl *nl, struct instance *in, struct options *o)
{
	struct run r = { .nl = nl, .o = o, .in = in, .cfg = o->cfg };
	char delay[80], dev[IF_NAMESIZE * 4];
	uint64_t mem = 0;
	int removed = 0, ifindex;
	sigset_t set;
	size_t done;

	block_signals(&set);
	if (in->found && !in->half && !in->other_layout)
		return cmd_repair(nl, in, o);
	/* The remains of an interrupted `up` (a half-built delay line, its
	 * pins, programs left on the device): gone first, then replaced. */
	if (in->half || (!in->found && !in->foreign)) {
		if (sweep(nl, in, &removed))
			return EXIT_ERROR;
		ifindex = (int)if_nametoindex(o->dev);
		if (ifindex && (done = (size_t)detach_dev(nl, ifindex, -1)) ==
		    (size_t)-1)
			return EXIT_ERROR;
		removed += ifindex ? (int)done : 0;
		if (removed)
			printf("hedge: removed the remains of an earlier, "
			       "interrupted up (%d pieces)\n", removed);
		in->found = in->half = 0;
	}
	for (done = 0; done < N_STEPS; done++)
		if (steps[done].apply(&r) || interrupted()) {
			/* the failed step may have half happened */
			undo(&r, done + 1);
			obj_close(&r.obj);
			return EXIT_ERROR;
		}
	if (maps_memory(&r.obj, &mem)) {
		undo(&r, N_STEPS);
		obj_close(&r.obj);
		return EXIT_ERROR;
	}
	obj_close(&r.obj);
	describe_delay(&r.cfg, delay, sizeof(delay));
	printable(o->dev, dev, sizeof(dev));
	printf("hedge up on %s: %u target%s%s, delay %s (%s delay line, %s)\n",
	       dev, r.cfg.n_targets, r.cfg.n_targets > 1 ? "s" : "",
	       has_replica(&r.cfg) ? " (hedged to replicas where given)" : "",
	       delay, r.line->name, r.cfg.flags & HEDGE_F_ATTACH_TCX ?
	       "TCX" : "clsact");
	printf("maps: %.1f MiB for %u requests in flight\n",
	       (double)mem / (1 << 20), r.cfg.delay_line == HEDGE_DL_TICK ?
	       o->max_inflight : HEDGE_SCOREBOARD_SIZE);
	return EXIT_OK;
}

int cmd_down(struct nl *nl, struct instance *in)
{
	int removed = 0;

	/* Even when not found: the remains of an interrupted `up`. */
	if (sweep(nl, in, &removed))
		return EXIT_ERROR;
	printf(in->found || removed ? "hedge down\n" :
	       "hedge is not up: nothing to do\n");
	return EXIT_OK;
}
