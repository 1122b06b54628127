// SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
/*
 * lossy.c - build/lossy, a lossy link for tests/dns.sh where the kernel
 * has no netem: puts tests/lossy.bpf.c (embedded, loaded with hedge's own
 * loader.c and netlink.c) on a device's TC egress.
 *
 *   lossy add DEV LOSS% DUP%   drop LOSS% of the DNS responses leaving DEV
 *                              and send DUP% of them twice
 *   lossy stats DEV            "seen N dropped N duplicated N spared N"
 *   lossy del DEV              remove the filter (and clsact, if empty)
 *
 * Errors are one line on stderr (they start "hedge: ", from the shared
 * code); exit status 0 or 1, 2 for bad usage.
 */
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "../hedge.h"
#include "../hedge_user.h"
#include "lossy.h"

#define MAX_FILTERS 16

static int usage(void)
{
	fprintf(stderr, "usage: lossy add DEV LOSS%% DUP%% | stats DEV | "
		"del DEV\n");
	return 2;
}

/* "3" or "0.5" (percent) in parts per million; -1 if not 0..100. */
static long ppm(const char *s)
{
	char *end;
	double p = strtod(s, &end);

	if (end == s || *end || !(p >= 0 && p <= 100))
		return -1;
	return (long)(p * 10000 + 0.5);
}

/* Our filter on DEV's egress into *f: 1 found, 0 not, -1 error. */
static int find(struct nl *nl, int ifindex, struct tc_filter *f)
{
	struct tc_filter fs[MAX_FILTERS];
	int i, n = nl_filters(nl, ifindex, 0, fs, MAX_FILTERS);

	if (n < 0)
		return nl_fail(nl, n, "listing filters");
	for (i = 0; i < n; i++)
		if (!strcmp(fs[i].kind, "bpf") &&
		    !strcmp(fs[i].name, LOSSY_FILTER)) {
			*f = fs[i];
			return 1;
		}
	return 0;
}

static int add(struct nl *nl, int ifindex, long loss, long dup)
{
	struct lossy_config cfg = { (__u32)loss, (__u32)dup };
	struct tc_filter f;
	struct bpf_obj obj;
	uint32_t zero = 0;
	int err;

	if (loss + dup > 1000000)
		return fail("LOSS%% + DUP%% is over 100%%");
	if ((err = find(nl, ifindex, &f)))
		return err < 0 ? -1 : fail("a lossy filter is there already");
	if (obj_load(&obj, NULL, NULL))
		return -1;
	err = map_update(obj_map_fd(&obj, "lossy_config"), &zero, &cfg);
	if (err) {
		obj_close(&obj);
		return fail("setting lossy_config: %s", strerror(-err));
	}
	err = nl_clsact_add(nl, ifindex);
	if (err && err != -EEXIST) {
		obj_close(&obj);
		return nl_fail(nl, err, "adding clsact");
	}
	/* The filter holds the program, and the program its maps. */
	err = nl_bpf_filter_add(nl, ifindex, 0, 0, obj_prog_fd(&obj, "lossy"),
				LOSSY_FILTER);
	obj_close(&obj);
	return err ? nl_fail(nl, err, "adding the lossy filter") : 0;
}

static int stats(struct nl *nl, int ifindex)
{
	static const char *const names[LOSSY_N_STATS] = {
		"seen", "dropped", "duplicated", "spared",
	};
	struct tc_filter f;
	uint64_t v[LOSSY_N_STATS];
	uint32_t i;
	int prog, fd, err = find(nl, ifindex, &f);

	if (err <= 0)
		return err < 0 ? -1 : fail("no lossy filter on this device");
	prog = prog_fd_by_id(f.prog_id);
	if (prog < 0)
		return fail("opening program %u: %s", f.prog_id,
			    strerror(-prog));
	fd = prog_map_fd(prog, "lossy_stats");
	close(prog);
	if (fd < 0)
		return fail("the lossy program has no lossy_stats map");
	for (i = 0; i < LOSSY_N_STATS; i++)
		if ((err = map_lookup(fd, &i, &v[i]))) {
			close(fd);
			return fail("reading lossy_stats: %s", strerror(-err));
		}
	close(fd);
	for (i = 0; i < LOSSY_N_STATS; i++)
		printf("%s%s %llu", i ? " " : "", names[i],
		       (unsigned long long)v[i]);
	putchar('\n');
	return 0;
}

static int del(struct nl *nl, int ifindex)
{
	struct tc_filter f, rest[MAX_FILTERS];
	int err = find(nl, ifindex, &f);

	if (err <= 0)
		return err < 0 ? -1 : fail("no lossy filter on this device");
	err = nl_filter_del(nl, ifindex, 0, f.prio, f.handle);
	if (err)
		return nl_fail(nl, err, "removing the lossy filter");
	if (nl_filters(nl, ifindex, 0, rest, MAX_FILTERS) == 0 &&
	    nl_filters(nl, ifindex, 1, rest, MAX_FILTERS) == 0 &&
	    (err = nl_clsact_del(nl, ifindex)))
		return nl_fail(nl, err, "removing clsact");
	return 0;
}

int main(int argc, char **argv)
{
	long loss = 0, dup = 0;
	struct nl nl;
	int ifindex, err;

	if (argc < 3 ||
	    !(!strcmp(argv[1], "add") ? argc == 5 : argc == 3 &&
	      (!strcmp(argv[1], "stats") || !strcmp(argv[1], "del"))))
		return usage();
	if (!strcmp(argv[1], "add") &&
	    ((loss = ppm(argv[3])) < 0 || (dup = ppm(argv[4])) < 0))
		return usage();
	ifindex = (int)if_nametoindex(argv[2]);
	if (!ifindex)
		return fail("unknown device '%s'", argv[2]), 1;
	if ((err = nl_open(&nl)))
		return fail("netlink: %s", strerror(-err)), 1;
	if (!strcmp(argv[1], "add"))
		err = add(&nl, ifindex, loss, dup);
	else if (!strcmp(argv[1], "stats"))
		err = stats(&nl, ifindex);
	else
		err = del(&nl, ifindex);
	nl_close(&nl);
	return err ? 1 : 0;
}
