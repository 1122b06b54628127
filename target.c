// SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
/*
 * target.c - --target's text: IP:PORT or [IPv6]:PORT, a ",REPLICA", a
 * "/udp" or "/tcp", into the config's targets, each server only once.
 */
#include <stdio.h>
#include <string.h>
#include <arpa/inet.h>
#include "config.h"

/* "192.0.2.2:53" or "[2001:db8::2]:53", into an address as hedge keeps
 * it (IPv4 mapped into IPv6) and a port. */
static int parse_endpoint(const char *s, const char *whole,
			  struct hedge_target_key *t)
{
	char addr[INET6_ADDRSTRLEN];
	const char *colon = strrchr(s, ':'), *host = s;
	size_t len = colon ? (size_t)(colon - s) : 0;
	unsigned long port;
	struct in_addr in;

	if (s[0] == '[') {	/* IPv6 in brackets */
		host++;
		len = colon && colon > s + 1 && colon[-1] == ']' ?
		      (size_t)(colon - host - 1) : 0;
	} else if (colon && strchr(s, ':') != colon) {
		return usage_error("--target %s: write an IPv6 address in "
				   "brackets, e.g. [2001:db8::2]:53", whole);
	}
	if (!colon || !len || len >= sizeof(addr) ||
	    parse_uint(colon + 1, 65535, &port) || !port)
		return usage_error("--target %s: expected IP:PORT or [IPv6]:PORT "
				   "with a port in 1..65535", whole);
	memcpy(addr, host, len);
	addr[len] = '\0';
	memset(t, 0, sizeof(*t));
	if (s[0] == '[') {
		if (inet_pton(AF_INET6, addr, t->addr) != 1)
			return usage_error("--target %s: not an IPv6 address",
					   whole);
	} else if (inet_pton(AF_INET, addr, &in) == 1) {
		t->addr[10] = t->addr[11] = 0xff;
		memcpy(t->addr + 12, &in, 4);
	} else {
		return usage_error("--target %s: not an IPv4 address", whole);
	}
	t->port = htons((uint16_t)port);
	return 0;
}

int is_v4(const struct hedge_target_key *t)
{
	static const uint8_t mapped[12] = { [10] = 0xff, [11] = 0xff };

	return !memcmp(t->addr, mapped, sizeof(mapped));
}

/*
 * The protocol, "/udp" (the default) or "/tcp", after the primary or at
 * the end: cut out of `s` (a copy) into *proto (0 or HEDGE_PROTO_TCP).
 */
static int cut_proto(char *s, const char *whole, __u16 *proto)
{
	char *slash = strchr(s, '/'), *end;
	size_t len;

	*proto = 0;
	if (!slash)
		return 0;
	end = strchr(slash, ',');
	len = end ? (size_t)(end - slash) : strlen(slash);
	if (len == 4 && !strncmp(slash, "/tcp", 4))
		*proto = HEDGE_PROTO_TCP;
	else if (len != 4 || strncmp(slash, "/udp", 4))
		return usage_error("--target %s: expected /udp or /tcp after "
				   "the port", whole);
	memmove(slash, slash + len, strlen(slash + len) + 1);
	return strchr(s, '/') ? usage_error("--target %s: one protocol, "
					    "once", whole) : 0;
}

/* "PRIMARY" or "PRIMARY,REPLICA", then "/udp" or "/tcp": hedges to the
 * same server, or to a replica of the same family. */
static int parse_target(const char *whole, struct hedge_target *t)
{
	char primary[64], s[TARGET_STR + 8];
	const char *comma;
	size_t len;
	__u16 proto;

	memset(t, 0, sizeof(*t));
	if (strlen(whole) >= sizeof(s))
		return usage_error("--target %s: too long", whole);
	strcpy(s, whole);
	if (cut_proto(s, whole, &proto))
		return -1;
	comma = strchr(s, ',');
	len = comma ? (size_t)(comma - s) : strlen(s);
	if (len >= sizeof(primary))
		return usage_error("--target %s: too long", whole);
	memcpy(primary, s, len);
	primary[len] = '\0';
	if (parse_endpoint(primary, whole, &t->primary) ||
	    (comma && parse_endpoint(comma + 1, whole, &t->replica)))
		return -1;
	t->primary.proto = proto;
	if (comma)
		t->replica.proto = proto;	/* hedge_targets knows it so */
	if (comma && is_v4(&t->primary) != is_v4(&t->replica))
		return usage_error("--target %s: the replica must be of the "
				   "primary's family", whole);
	if (comma && !memcmp(&t->primary, &t->replica, sizeof(t->primary)))
		return usage_error("--target %s: the replica is the primary",
				   whole);
	return 0;
}


int same_endpoint(const struct hedge_target_key *a,
			 const struct hedge_target_key *b)
{
	return b->port && !memcmp(a, b, sizeof(*a));
}

int add_target(struct hedge_config *cfg, const char *s)
{
	struct hedge_target t;
	uint32_t i;

	if (parse_target(s, &t))
		return -1;
	if (cfg->n_targets == HEDGE_MAX_TARGETS)
		return usage_error("--target %s: at most 16 targets", s);
	/* A server is one target's primary, one target's replica, or both
	 * (two servers may be each other's replicas), but only once each. */
	for (i = 0; i < cfg->n_targets; i++) {
		const struct hedge_target *o = &cfg->targets[i];

		if (same_endpoint(&t.primary, &o->primary) ||
		    same_endpoint(&t.replica, &o->replica))
			return usage_error("--target %s: a server given twice",
					   s);
		/* A TCP replica's SYN-ACKs and segments are told apart from
		 * a target's by its address alone (bpf/tcpnat.h). */
		if (same_endpoint(&t.replica, &o->primary) ||
		    same_endpoint(&t.primary, &o->replica)) {
			if (t.primary.proto == HEDGE_PROTO_TCP)
				return usage_error("--target %s: a TCP "
						   "target's replica cannot be "
						   "a target too", s);
		}
	}
	cfg->targets[cfg->n_targets++] = t;
	return 0;
}
