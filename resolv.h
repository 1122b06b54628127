/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * resolv.h - `up --dns` (resolv.c): a resolv.conf's nameservers, the
 * device the route to each leaves by, and the targets they make: each
 * nameserver hedged to the next of its family, in a ring.
 */
#ifndef HEDGE_RESOLV_H
#define HEDGE_RESOLV_H

#include <stdint.h>
#include "hedge.h"

#define DNS_PORT		53
#define DNS_DEFAULT_CONF	"/etc/resolv.conf"
/* --dns's --delay when none is given (README: "A host's DNS lookups"). */
#define DNS_DEFAULT_DELAY_MS	50
#define DNS_ADDR_STR		64	/* "fe80::1%eth0", as written */
#define DNS_IFNAMSIZ		16	/* IF_NAMESIZE: no <net/if.h> here */

/* One nameserver line. */
struct dns_ns {
	struct hedge_target_key key;	/* address (v4 mapped), port 53 */
	char text[DNS_ADDR_STR];	/* the address as the file has it */
	char scope[DNS_IFNAMSIZ];	/* "%eth0" of a scoped IPv6, or "" */
	unsigned int line;		/* in the file, from 1 */
	int local;	/* on this host: loopback, or a local route */
	int ifindex;	/* the device its route leaves by (dns_route) */
	char dev[DNS_IFNAMSIZ];
};

struct dns_conf {
	const char *path;
	struct dns_ns ns[HEDGE_MAX_TARGETS];
	int n;
};

/*
 * The nameservers of a resolv.conf's text, as glibc reads them: a line
 * "nameserver ADDRESS" (anything after the address ignored), comments
 * starting '#' or ';', every other keyword ignored. The same address
 * twice counts once. -1 having said why (an address that is not one, more
 * than 16, none at all); loopback ones are kept, marked local.
 */
int dns_parse(const char *text, const char *path, struct dns_conf *c);
/* The file at path into dns_parse; -1 said why. */
int dns_read(const char *path, struct dns_conf *c);

/*
 * The targets into cfg: each nameserver (not local, and behind `dev` if
 * it is not NULL) in file order, its replica the next nameserver of its
 * family, the last one's the first (a lone one: none, it hedges to
 * itself). All must leave by one device. *chosen: the index of a
 * nameserver kept, whose dev names the device. -1 said why; notes on
 * nameservers left out go to stdout.
 */
int dns_ring(const struct dns_conf *c, const char *dev,
	     struct hedge_config *cfg, int *chosen);

struct nl;
/* Each non-local nameserver's device, as `ip route get` finds it: 0, or
 * an exit code (EXIT_USAGE, EXIT_ERROR) having said why. */
int dns_route(struct nl *nl, struct dns_conf *c);

#endif
