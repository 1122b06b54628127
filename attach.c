// SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
/*
 * attach.c - the Splitter (egress) and watcher (ingress) on the hedged
 * device, first in line: as TCX programs ahead of every other (6.6+), or
 * as clsact cls_bpf filters at a pref ahead of every other filter. And
 * their removal by name, on one device or on all, whatever the config
 * says or whether it can be read at all.
 *
 * Invariant: a TCX program or cls_bpf filter called HEDGE_PROG_SPLITTER or
 * HEDGE_PROG_WATCHER is hedge's, and only `up` puts one there.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <string.h>
#include <net/if.h>
#include "attach.h"
#include "instance.h"

static const char *const ours[] = {
	HEDGE_PROG_SPLITTER, HEDGE_PROG_WATCHER, NULL,
};

int attach_choose(enum attach_kind kind, uint32_t *flags)
{
	int tcx = tcx_supported();

	if (tcx < 0 && kind != ATTACH_TC)
		return fail("finding out whether this kernel has TCX: %s",
			    strerror(-tcx));
	if (kind == ATTACH_TCX && !tcx)
		return fail("--attach tcx: this kernel has no TCX (it came "
			    "with Linux 6.6): use --attach tc");
	if (kind == ATTACH_TCX || (kind == ATTACH_AUTO && tcx))
		*flags |= HEDGE_F_ATTACH_TCX;
	else
		*flags &= ~(uint32_t)HEDGE_F_ATTACH_TCX;
	return 0;
}

/* The pref ahead of every other filter on the hook; refused (one line,
 * naming the other filter) if one holds pref 1: nothing runs before it. */
static int pref_ahead(struct nl *nl, int dev, int ingress, const char *what,
		      uint32_t *pref)
{
	struct tc_filter *fs = NULL;
	char name[IF_NAMESIZE] = "?";
	int n = nl_filters_all(nl, dev, ingress, &fs), i, err;

	if (n < 0)
		return nl_fail(nl, n, "listing the device's filters");
	err = tc_pref_ahead(fs, n, ours, pref);
	if (err == -ENOSPC) {
		for (i = 0; i < n && fs[i].prio != 1; i++)
			;
		if_indextoname((unsigned)dev, name);
		fail("attaching the %s: another tool's %s filter%s%s holds "
		     "pref 1 on %s %s, and nothing can run ahead of it: "
		     "move it (or use --attach tcx on 6.6+)", what,
		     i < n ? fs[i].kind : "", i < n && *fs[i].name ? " " : "",
		     i < n ? fs[i].name : "", name,
		     ingress ? "ingress" : "egress");
	}
	free(fs);
	return err ? -1 : 0;
}

int attach_one(struct nl *nl, struct hedge_config *cfg, int ingress,
	       int prog_fd)
{
	const char *name = ingress ? HEDGE_PROG_WATCHER : HEDGE_PROG_SPLITTER;
	const char *what = ingress ? "watcher" : "Splitter";
	int dev = (int)cfg->dev_ifindex, err;
	uint32_t pref;

	if (cfg->flags & HEDGE_F_ATTACH_TCX) {
		err = tcx_attach(dev, !ingress, prog_fd);
		return err ? fail("attaching the %s (TCX): %s", what,
				  strerror(-err)) : 0;
	}
	err = nl_clsact_add(nl, dev);
	if (!err)
		cfg->flags |= HEDGE_F_CREATED_CLSACT;
	else if (err != -EEXIST)	/* EEXIST: another tool's; share it */
		return nl_fail(nl, err, "adding the clsact qdisc to the "
			       "device");
	if (pref_ahead(nl, dev, ingress, what, &pref))
		return -1;
	err = nl_bpf_filter_add(nl, dev, ingress, pref, prog_fd, name);
	return err ? nl_fail(nl, err, ingress ? "attaching the watcher" :
			     "attaching the Splitter") : 0;
}

/* hedge's filter `name` off one clsact hook: 1 removed, 0 none, -1. Sets
 * *others if other filters remain on the hook. */
static int filter_off(struct nl *nl, int dev, int ingress, const char *name,
		      int *others)
{
	struct tc_filter *fs = NULL;
	int n = nl_filters_all(nl, dev, ingress, &fs), i, err = 0, done = 0;

	if (n == -ENODEV || n == -EINVAL || n == -ENOENT)
		return 0;	/* gone, or no clsact */
	if (n < 0)
		return nl_fail(nl, n, "listing the device's filters");
	for (i = 0; i < n && !err; i++) {
		if (!strcmp(fs[i].kind, "bpf") && !strcmp(fs[i].name, name)) {
			err = nl_filter_del(nl, dev, ingress, fs[i].prio,
					    fs[i].handle);
			done = 1;
		} else {
			*others = 1;
		}
	}
	free(fs);
	if (err && err != -ENOENT)
		return nl_fail(nl, err, "removing hedge's filter");
	return done;
}

/*
 * The program `up` pinned beside the maps, when this mount namespace sees
 * the pins: detaching by it needs no CAP_SYS_ADMIN, which opening a
 * program by its id (tcx_detach_name) does. -1 if there is no such pin.
 */
static int pinned_prog(const char *name)
{
	char dir[64], path[128];

	if (pin_dir(dir, sizeof(dir)))
		return -1;
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return obj_get(path);
}

/* hedge's TCX program `name` off one hook: 1 removed, 0 none, -1. */
static int tcx_off(int dev, int egress, const char *name)
{
	int fd = pinned_prog(name), n;

	if (fd >= 0) {
		n = tcx_detach(dev, egress, fd);
		close(fd);
		if (n && n != -EINVAL)
			return fail("detaching hedge's TCX program %s: %s",
				    name, strerror(-n));
	}
	n = tcx_detach_name(dev, egress, name);
	if (n == -EPERM && fd >= 0)
		return 1;	/* ours went by its pin; others need the id */

	if (n == -EINVAL || n == -ENODEV)
		return 0;	/* no TCX here, or the device is gone */
	if (n < 0)
		return fail("detaching hedge's TCX program %s: %s", name,
			    strerror(-n));
	return n > 0;
}

int detach_dev(struct nl *nl, int dev, int clsact_ours)
{
	int others = 0, had = 0, a, b, c, d, err;

	/* The Splitter first: no new clones while the rest goes. */
	a = tcx_off(dev, 1, HEDGE_PROG_SPLITTER);
	b = filter_off(nl, dev, 0, HEDGE_PROG_SPLITTER, &others);
	c = tcx_off(dev, 0, HEDGE_PROG_WATCHER);
	d = filter_off(nl, dev, 1, HEDGE_PROG_WATCHER, &others);
	if (a < 0 || b < 0 || c < 0 || d < 0)
		return -1;
	had = b || d;
	/* The clsact it made, once bare; with the config unknown (-1), a
	 * clsact that held only hedge's filters. */
	if (others || !(clsact_ours < 0 ? had : clsact_ours))
		return a + b + c + d;
	err = nl_clsact_del(nl, dev);
	if (err && err != -ENOENT && err != -EINVAL)
		return nl_fail(nl, err, "removing the clsact qdisc");
	return a + b + c + d + !err;
}

int detach_all(struct nl *nl, int clsact_ours_dev, int *removed)
{
	struct if_nameindex *all, *i;
	int ret = 0, n;

	all = if_nameindex();
	if (!all)
		return fail("listing devices: %s", strerror(errno));
	for (i = all; i->if_index; i++) {
		if (!strcmp(i->if_name, DL_IN) || !strcmp(i->if_name, DL_OUT))
			continue;	/* they go whole */
		n = detach_dev(nl, (int)i->if_index,
			       clsact_ours_dev < 0 ? -1 :
			       (int)i->if_index == clsact_ours_dev);
		if (n < 0)
			ret = -1;
		else
			*removed += n;
	}
	if_freenameindex(all);
	return ret;
}
