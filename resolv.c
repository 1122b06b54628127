// SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
/*
 * resolv.c - `hedge up --dns`: the nameservers of /etc/resolv.conf (or
 * --resolv-conf FILE) hedged in one command.
 *
 *   dns_read/dns_parse  the file, read as glibc's res_init reads it
 *   dns_route           the device each one's route leaves by
 *                       (RTM_GETROUTE, netlink.c's nl_route_get)
 *   dns_ring            the targets: one per nameserver, its replica the
 *                       next nameserver of its family (a ring per family)
 *   dns_setup           the three in order, for `up`, saying what it chose
 *
 * A nameserver on this host (a stub: systemd-resolved's 127.0.0.53, a
 * local dnsmasq or unbound) is never hedged: its queries never leave by a
 * device; its upstreams' do, and those are what to hedge.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <linux/rtnetlink.h>
#include "config.h"
#include "resolv.h"

#define DNS_CONF_MAX	65536	/* bytes of resolv.conf read, at most */

/* 127.0.0.0/8 or ::1: a resolver on this host, whatever the routes. */
static int is_loopback(const struct hedge_target_key *k)
{
	static const uint8_t v6_lo[HEDGE_ADDR_LEN] = { [15] = 1 };

	return is_v4(k) ? k->addr[12] == 127 :
	       !memcmp(k->addr, v6_lo, sizeof(v6_lo));
}

/* "ADDRESS" or "fe80::1%eth0" of `line` into ns; -1 said why. */
static int parse_ns(const char *tok, size_t len, const char *path,
		    unsigned int line, struct dns_ns *ns)
{
	char addr[DNS_ADDR_STR], *pct;
	struct in_addr in;

	memset(ns, 0, sizeof(*ns));
	ns->line = line;
	if (!len)
		return fail("--dns: %s line %u: a nameserver line without an "
			    "address", path, line);
	if (len >= sizeof(addr))
		return fail("--dns: %s line %u: '%.*s...' is too long for an "
			    "IP address", path, line, 40, tok);
	memcpy(addr, tok, len);
	addr[len] = '\0';
	memcpy(ns->text, addr, len + 1);
	pct = strchr(addr, '%');
	if (pct) {	/* a scope: IPv6 only, naming a device */
		*pct++ = '\0';
		if (!*pct || strlen(pct) >= sizeof(ns->scope) ||
		    inet_pton(AF_INET6, addr, ns->key.addr) != 1)
			return fail("--dns: %s line %u: '%s' is not an IPv6 "
				    "address with a scope (fe80::1%%eth0)",
				    path, line, ns->text);
		strcpy(ns->scope, pct);
	} else if (inet_pton(AF_INET, addr, &in) == 1) {
		ns->key.addr[10] = ns->key.addr[11] = 0xff;
		memcpy(ns->key.addr + 12, &in, 4);
	} else if (inet_pton(AF_INET6, addr, ns->key.addr) != 1) {
		return fail("--dns: %s line %u: '%s' is not an IP address",
			    path, line, ns->text);
	}
	ns->key.port = htons(DNS_PORT);
	ns->local = is_loopback(&ns->key);
	return 0;
}

static int is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

int dns_parse(const char *text, const char *path, struct dns_conf *c)
{
	static const char kw[] = "nameserver";
	const char *p = text;
	unsigned int line = 0;
	struct dns_ns ns;
	int i, dup;

	memset(c, 0, sizeof(*c));
	c->path = path;
	while (*p) {
		const char *end = strchr(p, '\n'), *tok;
		size_t len;

		end = end ? end : p + strlen(p);
		line++;
		/* glibc: the keyword at the line's start, then a blank. */
		if ((size_t)(end - p) > sizeof(kw) - 1 &&
		    !strncmp(p, kw, sizeof(kw) - 1) &&
		    is_space(p[sizeof(kw) - 1])) {
			for (tok = p + sizeof(kw) - 1; is_space(*tok); tok++)
				;
			for (len = 0; tok + len < end && !is_space(tok[len]);
			     len++)
				;
			if (parse_ns(tok, len, path, line, &ns))
				return -1;
			for (dup = 0, i = 0; i < c->n; i++)
				dup |= !memcmp(&c->ns[i].key, &ns.key,
					       sizeof(ns.key));
			if (!dup && c->n == HEDGE_MAX_TARGETS)
				return fail("--dns: %s: more than %d "
					    "nameservers", path,
					    HEDGE_MAX_TARGETS);
			if (!dup)
				c->ns[c->n++] = ns;
		}
		p = *end ? end + 1 : end;
	}
	if (!c->n)
		return fail("--dns: %s: no nameserver line (nothing to hedge)",
			    path);
	return 0;
}

int dns_read(const char *path, struct dns_conf *c)
{
	static char buf[DNS_CONF_MAX + 1];
	size_t got = 0;
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return fail("--dns: reading %s: %s", path, strerror(errno));
	do {
		n = read(fd, buf + got, DNS_CONF_MAX + 1 - got);
		got += n > 0 ? (size_t)n : 0;
	} while (n > 0 && got <= DNS_CONF_MAX);
	if (n < 0) {
		fail("--dns: reading %s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	close(fd);
	if (got > DNS_CONF_MAX)
		return fail("--dns: reading %s: longer than %d bytes", path,
			    DNS_CONF_MAX);
	buf[got] = '\0';
	return dns_parse(buf, path, c);
}

/* ---- the ring ----------------------------------------------------------- */

/* "A by eth0, B by eth1" of the non-local nameservers, into buf. */
static void list_devices(const struct dns_conf *c, char *buf, size_t size)
{
	size_t at = 0;
	int i;

	buf[0] = '\0';
	for (i = 0; i < c->n && at < size; i++)
		if (!c->ns[i].local)
			at += (size_t)snprintf(buf + at, size - at, "%s%s by %s",
					       at ? ", " : "", c->ns[i].text,
					       c->ns[i].dev);
}

/* Every nameserver on this host: the one-line refusal. */
static int refuse_stubs(const struct dns_conf *c)
{
	char list[256];
	size_t at = 0;
	int i, resolved = 0;

	list[0] = '\0';
	for (i = 0; i < c->n && at < sizeof(list); i++) {
		at += (size_t)snprintf(list + at, sizeof(list) - at, "%s%s",
				       i ? ", " : "", c->ns[i].text);
		resolved |= !strcmp(c->ns[i].text, "127.0.0.53");
	}
	return fail("--dns: %s names only resolvers on this host (%s: %s), "
		    "whose queries never leave by a device: hedge the stub's "
		    "upstream nameservers instead (find them with 'resolvectl "
		    "dns', or in the stub's config: dnsmasq's server=, "
		    "unbound's forward-addr:), listed as 'nameserver ADDRESS' "
		    "lines in a file given to --resolv-conf", c->path, list,
		    resolved ? "systemd-resolved's stub" :
		    "a stub such as dnsmasq or unbound");
}

/* Whether ns is hedged: not local, and behind dev if one is given. */
static int kept(const struct dns_ns *ns, const char *dev)
{
	return !ns->local && (!dev || !strcmp(ns->dev, dev));
}

/* The next nameserver after i, of its family and kept, cyclically. */
static int next_of_family(const struct dns_conf *c, const char *dev, int i)
{
	int j, k;

	for (k = 1; k < c->n; k++) {
		j = (i + k) % c->n;
		if (kept(&c->ns[j], dev) &&
		    is_v4(&c->ns[j].key) == is_v4(&c->ns[i].key))
			return j;
	}
	return i;
}

/* The kept nameservers' one device; -1 said why. */
static int one_device(const struct dns_conf *c, const char *dev, int *first)
{
	char list[512];
	int i;

	*first = -1;
	for (i = 0; i < c->n; i++) {
		if (!kept(&c->ns[i], dev))
			continue;
		if (*first < 0)
			*first = i;
		else if (strcmp(c->ns[i].dev, c->ns[*first].dev))
			break;
	}
	if (*first < 0 || i == c->n)
		goto done;
	list_devices(c, list, sizeof(list));
	return fail("--dns: the nameservers of %s leave by different devices "
		    "(%s), and one hedge hedges the requests leaving by one "
		    "device: add --dev %s or --dev %s to hedge the nameservers "
		    "behind it", c->path, list, c->ns[*first].dev, c->ns[i].dev);
done:
	if (*first >= 0)
		return 0;
	list_devices(c, list, sizeof(list));
	return fail("--dns: no nameserver of %s leaves by --dev %s (%s)",
		    c->path, dev, list);
}

int dns_ring(const struct dns_conf *c, const char *dev,
	     struct hedge_config *cfg, int *chosen)
{
	int i, j, any = 0;

	for (i = 0; i < c->n; i++)
		any |= !c->ns[i].local;
	if (!any)
		return refuse_stubs(c);
	if (one_device(c, dev, chosen))
		return -1;
	cfg->n_targets = 0;
	for (i = 0; i < c->n; i++) {
		struct hedge_target *t = &cfg->targets[cfg->n_targets];

		if (c->ns[i].local) {
			printf("dns: %s left out: a resolver on this host "
			       "(hedge its upstreams)\n", c->ns[i].text);
			continue;
		}
		if (!kept(&c->ns[i], dev)) {
			printf("dns: %s left out: it leaves by %s, not --dev "
			       "%s\n", c->ns[i].text, c->ns[i].dev, dev);
			continue;
		}
		memset(t, 0, sizeof(*t));
		t->primary = c->ns[i].key;
		j = next_of_family(c, dev, i);
		if (j != i)
			t->replica = c->ns[j].key;
		cfg->n_targets++;
	}
	return 0;
}

/* ---- routes -------------------------------------------------------------- */

/* The device a scope names: "eth0" or an index "2"; 0 if none. */
static int scope_index(const char *scope)
{
	char *end;
	unsigned long v;
	int ifindex = (int)if_nametoindex(scope);

	if (ifindex || *scope < '0' || *scope > '9')
		return ifindex;
	v = strtoul(scope, &end, 10);
	return !*end && v < 1U << 30 ? (int)v : 0;
}

int dns_route(struct nl *nl, struct dns_conf *c)
{
	struct nl_route rt;
	int i, oif, err;

	for (i = 0; i < c->n; i++) {
		struct dns_ns *ns = &c->ns[i];
		int v4 = is_v4(&ns->key);

		if (ns->local)
			continue;
		oif = 0;
		if (ns->scope[0] && !(oif = scope_index(ns->scope))) {
			fail("--dns: %s line %u: %s: no device '%s'", c->path,
			     ns->line, ns->text, ns->scope);
			return EXIT_USAGE;
		}
		err = nl_route_get(nl, v4 ? AF_INET : AF_INET6,
				   v4 ? ns->key.addr + 12 : ns->key.addr, oif,
				   &rt);
		if (err) {
			char what[160];

			snprintf(what, sizeof(what), "--dns: finding the route "
				 "to %s (%s line %u)", ns->text, c->path,
				 ns->line);
			nl_fail(nl, err, what);
			return EXIT_ERROR;
		}
		if (rt.type == RTN_LOCAL) {
			ns->local = 1;
			continue;
		}
		if (rt.type != RTN_UNICAST || !if_indextoname((unsigned)rt.oif,
							      ns->dev)) {
			fail("--dns: the route to %s (%s line %u) leaves by no "
			     "device (route type %u)", ns->text, c->path,
			     ns->line, rt.type);
			return EXIT_ERROR;
		}
		ns->ifindex = rt.oif;
	}
	return 0;
}

/* ---- up --dns ------------------------------------------------------------ */

/* --dns: its rules, then resolv.conf's nameservers (routed at `up`). */
int dns_check(struct options *o)
{
	if (!o->dns)
		return o->resolv_conf ? usage_error("up: %s", "--resolv-conf "
						    "is for --dns") : 0;
	if (o->cfg.n_targets)
		return usage_error("up: %s", "--dns takes its targets from "
				   "resolv.conf: give --dns or --target, not "
				   "both");
	if (o->id_given)
		return usage_error("up: %s", "--dns sets --id dns itself: "
				   "drop --id");
	o->cfg.id_offset = 0;
	o->cfg.id_len = 2;
	o->id_dns = 1;		/* standard queries only (safe.c) */
	if (!o->delay_given)
		o->cfg.delay_ns = DNS_DEFAULT_DELAY_MS * NS_PER_MS;
	return dns_read(o->resolv_conf ? o->resolv_conf : DNS_DEFAULT_CONF,
			&o->dns_conf);
}


static void print_addr(const struct hedge_target_key *k)
{
	char a[INET6_ADDRSTRLEN];
	int v4 = is_v4(k);

	inet_ntop(v4 ? AF_INET : AF_INET6, v4 ? k->addr + 12 : k->addr, a,
		  sizeof(a));
	fputs(a, stdout);
}

/* "A -> B -> A; C -> itself": each family's ring, as dns_ring made it
 * (targets in file order, each one's replica the next of its family). */
static void print_ring(const struct hedge_config *cfg)
{
	uint32_t i, first;
	int fam, any = 0;

	printf("dns: ring (each nameserver's hedges go to the next):");
	for (fam = 1; fam >= 0; fam--) {
		for (first = 0; first < cfg->n_targets &&
		     is_v4(&cfg->targets[first].primary) != fam; first++)
			;
		if (first == cfg->n_targets)
			continue;
		fputs(any++ ? "; " : " ", stdout);
		for (i = first; i < cfg->n_targets; i++)
			if (is_v4(&cfg->targets[i].primary) == fam) {
				print_addr(&cfg->targets[i].primary);
				fputs(" -> ", stdout);
			}
		if (cfg->targets[first].replica.port)
			print_addr(&cfg->targets[first].primary);
		else
			fputs("itself", stdout);
	}
	printf("\n");
}

int dns_setup(struct nl *nl, struct options *o)
{
	char delay[80], dev[IF_NAMESIZE * 4];
	int chosen, ret = dns_route(nl, &o->dns_conf);

	if (ret)
		return ret;
	if (dns_ring(&o->dns_conf, o->dev_given ? o->dev : NULL, &o->cfg,
		     &chosen))
		return EXIT_USAGE;
	o->dev = o->dns_conf.ns[chosen].dev;
	printable(o->dev, dev, sizeof(dev));
	describe_delay(&o->cfg, delay, sizeof(delay));
	printf("dns: %u nameserver%s of %s on device %s (the route to each), "
	       "port %d, --id dns\n", o->cfg.n_targets,
	       o->cfg.n_targets > 1 ? "s" : "", o->dns_conf.path, dev,
	       DNS_PORT);
	print_ring(&o->cfg);
	printf("dns: delay %s%s\n", delay, o->delay_given ? "" :
	       " (--dns's default: see README, \"A host's DNS lookups\")");
	return 0;
}
