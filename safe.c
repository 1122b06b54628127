// SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
/*
 * safe.c - which requests `up` may hedge (--match, and --id dns's default
 * of standard queries only) and how its hedges are dressed
 * (--hedge-dscp, --hedge-priority): the options into struct
 * hedge_config's match and dress fields, checked, and said back. The
 * kernel half is bpf/safe.h.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "config.h"

/* The UDP payload a request may have, at most: a match lies within it. */
#define MATCH_END_MAX	(HEDGE_UDP_MAX - 8)

static int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* "OFFSET:HEX" (e.g. 0:676574): hedge only requests with these bytes. */
int opt_match(struct options *o, const char *opt, const char *val)
{
	struct hedge_config *c = &o->cfg;
	const char *colon = strchr(val, ':'), *h;
	unsigned long off;
	size_t n, i;
	char *end;
	int hi, lo;

	(void)opt;
	if (!colon || colon == val || val[0] < '0' || val[0] > '9')
		return usage_error("--match %s: expected OFFSET:BYTES, BYTES "
				   "in hex (e.g. 0:676574 for \"get\")", val);
	errno = 0;
	off = strtoul(val, &end, 10);
	if (errno || end != colon || off > HEDGE_ID_MAX_OFFSET)
		return usage_error("--match %s: OFFSET must be 0..1464 (bytes "
				   "from the start of the UDP payload)", val);
	h = colon + 1;
	n = strlen(h);
	if (!n || n % 2 || n / 2 > HEDGE_MATCH_MAX)
		return usage_error("--match %s: BYTES must be 1..16 bytes in "
				   "hex, two digits each", val);
	memset(c->match_bytes, 0, sizeof(c->match_bytes));
	memset(c->match_mask, 0, sizeof(c->match_mask));
	for (i = 0; i < n / 2; i++) {
		hi = hex_digit(h[2 * i]);
		lo = hex_digit(h[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return usage_error("--match %s: BYTES must be hex "
					   "digits (0-9, a-f)", val);
		c->match_bytes[i] = (uint8_t)(hi << 4 | lo);
		c->match_mask[i] = 0xff;
	}
	if (off + n / 2 > MATCH_END_MAX)
		return usage_error("--match %s: past the largest UDP payload "
				   "(1472 bytes)", val);
	c->match_offset = (uint16_t)off;
	c->match_len = (uint16_t)(n / 2);
	o->match_given = 1;
	return 0;
}

int opt_hedge_dscp(struct options *o, const char *opt, const char *val)
{
	unsigned long v;

	(void)opt;
	if (parse_ulong(val, 0, HEDGE_DSCP_MAX, &v))
		return usage_error("--hedge-dscp %s: expected a DSCP 0..63 "
				   "(e.g. 8, CS1: lower effort)", val);
	o->cfg.hedge_dscp = (uint8_t)v;
	o->cfg.hedge_dress |= HEDGE_DRESS_DSCP;
	return 0;
}

int opt_hedge_priority(struct options *o, const char *opt, const char *val)
{
	unsigned long v;

	(void)opt;
	if (parse_ulong(val, 0, 0xffffffffUL, &v))
		return usage_error("--hedge-priority %s: expected an skb "
				   "priority 0..4294967295", val);
	o->cfg.hedge_priority = (uint32_t)v;
	o->cfg.hedge_dress |= HEDGE_DRESS_PRIORITY;
	return 0;
}

/* A standard DNS query: a whole header, QR 0 and opcode QUERY (0). */
static void dns_query_match(struct hedge_config *c)
{
	c->match_offset = 0;
	c->match_len = HEDGE_DNS_HEADER;
	memset(c->match_bytes, 0, sizeof(c->match_bytes));
	memset(c->match_mask, 0, sizeof(c->match_mask));
	c->match_mask[2] = 0xf8;	/* QR (0x80), opcode (0x78) */
}

/* Once all options are read: --id dns hedges standard queries only,
 * unless --match says otherwise. */
void finish_match(struct options *o)
{
	if (o->id_dns && !o->match_given)
		dns_query_match(&o->cfg);
}

/* "all", "dns" (standard queries), or "OFFSET:HEX". */
void describe_match(const struct hedge_config *c, char *buf, size_t size)
{
	struct hedge_config dns;
	size_t i, n;

	memset(&dns, 0, sizeof(dns));
	dns_query_match(&dns);
	if (!c->match_len) {
		snprintf(buf, size, "all");
		return;
	}
	if (c->match_offset == dns.match_offset &&
	    c->match_len == dns.match_len &&
	    !memcmp(c->match_bytes, dns.match_bytes, sizeof(dns.match_bytes)) &&
	    !memcmp(c->match_mask, dns.match_mask, sizeof(dns.match_mask))) {
		snprintf(buf, size, "dns");
		return;
	}
	n = (size_t)snprintf(buf, size, "%u:", c->match_offset);
	for (i = 0; i < c->match_len && i < HEDGE_MATCH_MAX && n + 3 <= size;
	     i++)
		n += (size_t)snprintf(buf + n, size - n, "%02x",
				      c->match_bytes[i]);
}

/* "dscp 8, priority 1", "dscp 8", or "" (hedges as their requests). */
void describe_dress(const struct hedge_config *c, char *buf, size_t size)
{
	int n = 0;

	buf[0] = '\0';
	if (c->hedge_dress & HEDGE_DRESS_DSCP)
		n = snprintf(buf, size, "dscp %u", c->hedge_dscp);
	if (c->hedge_dress & HEDGE_DRESS_PRIORITY && n >= 0 &&
	    (size_t)n < size)
		snprintf(buf + n, size - (size_t)n, "%spriority %u",
			 n ? ", " : "", c->hedge_priority);
}
