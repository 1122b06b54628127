// SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
/*
 * netlink_test.c - hedge's own rtnetlink against the real kernel: a veth
 * pair, links up, clsact, direct-action cls_bpf filters beside another
 * tool's, the dump that finds them, deleting exactly what was added, and
 * the route to an address (RTM_GETROUTE, as `ip route get`).
 * iproute2 (`ip`, `tc`) is the independent witness. Run as root in a
 * network namespace of its own. Prints "PASS name" / "FAIL name: why".
 */
#include <errno.h>
#include <arpa/inet.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../hedge.h"
#include "../hedge_user.h"

static int failures;

static void check(int ok, const char *name, const char *why)
{
	printf(ok ? "PASS %s\n" : "FAIL %s: %s\n", name, why);
	failures += !ok;
}

/* The exit status of a shell command, quiet. */
static int sh(const char *cmd)
{
	char buf[512];

	snprintf(buf, sizeof(buf), "%s >/dev/null 2>&1", cmd);
	return system(buf);
}

static int count_named(struct nl *nl, int ifindex, int ingress,
		       const char *name, int *total)
{
	struct tc_filter fs[16];
	int i, n = nl_filters(nl, ifindex, ingress, fs, 16), found = 0;

	*total = n;
	for (i = 0; i < n; i++)
		found += !strcmp(fs[i].name, name) && fs[i].prog_id;
	return found;
}

/* The device `ip route get ADDR` names (the witness), as an ifindex. */
static int ip_route_dev(const char *addr)
{
	char cmd[160], dev[32] = "";
	FILE *p;

	snprintf(cmd, sizeof(cmd), "ip -o route get %s 2>/dev/null | "
		 "sed -n 's/.* dev \\([^ ]*\\).*/\\1/p'", addr);
	p = popen(cmd, "r");
	if (!p)
		return -1;
	if (!fgets(dev, sizeof(dev), p))
		dev[0] = '\0';
	pclose(p);
	dev[strcspn(dev, "\n")] = '\0';
	return *dev ? (int)if_nametoindex(dev) : 0;
}

/* RTM_GETROUTE as `ip route get` asks it, beside ip's own answer. */
static void route_cases(struct nl *nl)
{
	static const struct {
		int family;
		const char *addr;
		int want_type, via_nlt0;	/* -errno in want_type: refused */
		const char *name;
	} cases[] = {
		{ AF_INET, "10.99.0.7", RTN_UNICAST, 1,
		  "an IPv4 neighbour: unicast by nlt0" },
		{ AF_INET, "10.98.5.5", RTN_UNICAST, 1,
		  "an IPv4 address via a gateway: by nlt0" },
		{ AF_INET, "10.99.0.1", RTN_LOCAL, 0,
		  "the host's own IPv4 address: local" },
		{ AF_INET, "127.0.0.53", RTN_LOCAL, 0, "127.0.0.53: local" },
		{ AF_INET6, "fd00:99::7", RTN_UNICAST, 1,
		  "an IPv6 neighbour: unicast by nlt0" },
		{ AF_INET6, "::1", RTN_LOCAL, 0, "::1: local" },
		{ AF_INET, "198.51.100.1", -ENETUNREACH, 0,
		  "no route: ENETUNREACH" },
	};
	struct nl_route rt;
	char name[128], why[160];
	unsigned char addr[16];
	size_t i;
	int a = (int)if_nametoindex("nlt0"), err, ok;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		inet_pton(cases[i].family, cases[i].addr, addr);
		err = nl_route_get(nl, cases[i].family, addr, 0, &rt);
		snprintf(name, sizeof(name), "RTM_GETROUTE %s", cases[i].name);
		snprintf(why, sizeof(why), "err %d type %u oif %d (nlt0 %d, "
			 "ip route get: %d)", err, rt.type, rt.oif, a,
			 ip_route_dev(cases[i].addr));
		if (cases[i].want_type < 0)
			ok = err == cases[i].want_type &&
			     ip_route_dev(cases[i].addr) == 0;
		else
			ok = !err && rt.type == cases[i].want_type &&
			     rt.oif == ip_route_dev(cases[i].addr) &&
			     (rt.oif == a) == cases[i].via_nlt0;
		check(ok, name, why);
	}
	/* A link-local address with its scope: by the device named. */
	inet_pton(AF_INET6, "fe80::7", addr);
	err = nl_route_get(nl, AF_INET6, addr, a, &rt);
	snprintf(why, sizeof(why), "err %d type %u oif %d", err, rt.type,
		 rt.oif);
	check(!err && rt.type == RTN_UNICAST && rt.oif == a,
	      "RTM_GETROUTE fe80::7 oif nlt0: by nlt0", why);
}

int main(void)
{
	struct bpf_obj obj;
	struct nl nl;
	int a, b, total, err;

	if (nl_open(&nl) || obj_load(&obj, NULL, NULL)) {
		printf("FAIL netlink and bpf set-up: see above\n");
		return 1;
	}
	check(!nl_veth_add(&nl, "nlt0", "nlt1", 9000, NULL) &&
	      !sh("ip link show nlt0 | grep -q 'mtu 9000'") &&
	      !sh("ip link show nlt1 | grep -q 'mtu 9000'"),
	      "netlink creates a veth pair with its MTU", "veth missing");
	a = if_nametoindex("nlt0");
	b = if_nametoindex("nlt1");
	check(nl_veth_add(&nl, "nlt0", "nlt1", 1500, NULL) == -EEXIST,
	      "creating it again is EEXIST", "not EEXIST");
	check(!nl_link_up(&nl, a) && !nl_link_up(&nl, b) &&
	      !sh("ip link show nlt0 | grep -q ',UP'"),
	      "netlink sets links up", "not up");

	check(!nl_clsact_add(&nl, a) &&
	      !sh("tc qdisc show dev nlt0 | grep -q clsact"),
	      "netlink adds a clsact qdisc", "no clsact");
	check(nl_clsact_add(&nl, a) == -EEXIST,
	      "a second clsact is EEXIST (hedge then shares it)", "not EEXIST");

	/* Another tool's filter first; hedge's goes beside it. */
	/* (classic BPF "return 0": no match, the chain goes on) */
	sh("tc filter add dev nlt0 ingress pref 7 bpf bytecode '1,6 0 0 0,'");
	err = nl_bpf_filter_add(&nl, a, 1, 0,
				obj_prog_fd(&obj, HEDGE_PROG_WATCHER),
				HEDGE_PROG_WATCHER);
	check(!err && !sh("tc filter show dev nlt0 ingress | "
			  "grep -q 'hedge_watcher.*direct-action'"),
	      "netlink attaches a direct-action cls_bpf filter",
	      "filter missing or not direct-action");
	check(count_named(&nl, a, 1, HEDGE_PROG_WATCHER, &total) == 1 &&
	      total == 2, "the dump finds hedge's filter and its program id "
	      "beside the other", "dump wrong");
	/* tc, the witness, says first whether this kernel has netem (on
	 * nlt0, removed at once); then hedge's netem must be added on nlt1,
	 * or fail with -ENOENT and the kernel's "unknown" message. */
	if (!sh("tc qdisc add dev nlt0 root netem delay 1ms")) {
		sh("tc qdisc del dev nlt0 root");
		err = nl_netem_add(&nl, b, 10000000, 1000);
		check(!err && !sh("tc qdisc show dev nlt1 | "
				  "grep -q 'netem.*delay 10ms'"),
		      "netem add works (this kernel has netem)", nl.ext_ack);
	} else {
		err = nl_netem_add(&nl, b, 10000000, 1000);
		check(err == -ENOENT &&
		      !strncmp(nl.ext_ack, "Specified qdisc kind is unknown", 31),
		      "netem add is ENOENT, the kernel saying it has no netem "
		      "(tc cannot add one either)", nl.ext_ack);
	}

	{
		struct tc_filter fs[16];
		int i, n = nl_filters(&nl, a, 1, fs, 16);

		for (i = 0; i < n; i++)
			if (!strcmp(fs[i].name, HEDGE_PROG_WATCHER))
				err = nl_filter_del(&nl, a, 1, fs[i].prio,
						    fs[i].handle);
	}
	check(!err && count_named(&nl, a, 1, HEDGE_PROG_WATCHER, &total) == 0
	      && total == 1 && !sh("tc filter show dev nlt0 ingress | "
				  "grep -q 'pref 7 bpf.*bytecode'"),
	      "deleting hedge's filter leaves the other tool's", "wrong filter");
	check(!nl_clsact_del(&nl, a) &&
	      sh("tc qdisc show dev nlt0 | grep -q clsact"),
	      "netlink deletes the clsact qdisc", "clsact left");
	/* Routes, while nlt0 is up: addresses of its own, a gateway. */
	check(!sh("ip addr add 10.99.0.1/24 dev nlt0") &&
	      !sh("ip addr add fd00:99::1/64 dev nlt0 nodad") &&
	      !sh("ip route add 10.98.0.0/16 via 10.99.0.2"),
	      "addresses and a route on nlt0 (ip)", "ip failed");
	route_cases(&nl);
	err = nl_link_del(&nl, a);
	check(!err && !if_nametoindex("nlt0") && !if_nametoindex("nlt1"),
	      "deleting one end deletes the veth pair", "veth left");
	check(nl_link_del(&nl, a) == -ENODEV, "deleting it again is ENODEV",
	      "not ENODEV");
	err = nl_clsact_add(&nl, a);
	check(err == -ENODEV || err == -EINVAL,
	      "errors come back as -errno", "no error");

	obj_close(&obj);
	nl_close(&nl);
	/* The last line: tests/runtest fails a run that stops before it. */
	printf("DONE netlink_test\n");
	return failures ? 1 : 0;
}
