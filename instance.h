/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * instance.h - the hedge running in this network namespace (instance.c):
 * its lock, its pins, and what discovery finds of it, every fd opened once.
 */
#ifndef HEDGE_INSTANCE_H
#define HEDGE_INSTANCE_H

#include <stdint.h>
#include "hedge.h"
#include "hedge_user.h"

#define BPFFS		"/sys/fs/bpf"
/* Root's, mode 0700: no one else can take (or squat) the lock. /run is
 * shared by `ip netns exec`, which remounts only /sys. */
#define HEDGE_RUN_DIR	"/run/hedge"

enum lock_kind { LOCK_CHANGE, LOCK_READ };

/*
 * What a command knows of the running hedge. Invariants: an fd is -1 or
 * open; cfg is valid only when found && !other_layout; every fd is closed
 * by instance_close() alone.
 */
struct instance {
	int lock_fd;
	char pin_dir[64];	/* per netns: bpffs is shared across them */
	int found;		/* the Rescuer's filter is on DL_OUT */
	int foreign;		/* DL_OUT exists without hedge's Rescuer
				   and without hedge's alias */
	int half;		/* an interrupted `up`'s: the pair with
				   hedge's alias but no Rescuer, or found
				   without HEDGE_F_UP_DONE */
	int other_layout;	/* its maps are not of this build's layout */
	uint32_t layout;	/* the running one's HEDGE_LAYOUT_VERSION */
	long rescuer_id;
	int config_fd, stats_fd, adapt_fd, tick_fd, budget_fd, targets_fd;
	int nat_fd;		/* hedge_nat (TCP replicas' connections) */
	struct hedge_config cfg;	/* the config map, read once */
};

void instance_init(struct instance *in);
void instance_close(struct instance *in);
/* LOCK_CHANGE (up, down) excludes all others; LOCK_READ (status) only
 * changes. Both wait a bounded time; -1 said why. */
int instance_lock(struct instance *in, enum lock_kind kind);
/* Find the running hedge: 1 found, 0 not up, -1 said why. With
 * need_values, a hedge of another layout is an error (said in one line). */
int instance_find(struct nl *nl, struct instance *in, int need_values);
int pin_dir(char *dir, size_t size);

/* hedge's filter `name` on one clsact hook into *ours (handle 0 if it is
 * not there); returns how many filters the hook has, or -1 said why. */
int find_ours(struct nl *nl, int ifindex, int ingress, const char *name,
	      struct tc_filter *ours);
/* The program id of hedge's filter `name` on a hook: 0 none, -1 error. */
long filter_prog_id(struct nl *nl, int ifindex, int ingress,
		    const char *name);

/* The id of hedge's Splitter (egress) or watcher (ingress) on the hedged
 * device, TCX or clsact as cfg says: 0 none, -1 said why. */
long hook_prog_id(struct nl *nl, const struct hedge_config *cfg,
		  int ingress, const char *name);

#endif
