/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/* bench/common.h - the clock, the option parsing and the address the
 * testbed's programs share (chaos_server, client, loadgen). */
#ifndef BENCH_COMMON_H
#define BENCH_COMMON_H

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static inline uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* A decimal integer 0..max, nothing else. */
static inline int parse_ul(const char *s, unsigned long max,
			   unsigned long *out)
{
	char *end;
	unsigned long v;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v > max)
		return -1;
	*out = v;
	return 0;
}

/* A non-negative number of units (fractions allowed) up to max, in ns. */
static inline int parse_ns(const char *s, double max, double unit_ns,
			   uint64_t *ns)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end || !(v >= 0) || v > max)
		return -1;
	*ns = (uint64_t)(v * unit_ns + 0.5);
	return 0;
}

/* Milliseconds, up to a day. */
static inline int parse_ms(const char *s, uint64_t *ns)
{
	return parse_ns(s, 86400000.0, 1e6, ns);
}

/* An IPv4 address and port as a sockaddr; says what is wrong if not. */
static inline int ipv4_sockaddr(const char *prog, const char *addr,
				unsigned long port, struct sockaddr_in *sa)
{
	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	sa->sin_port = htons((uint16_t)port);
	if (inet_pton(AF_INET, addr, &sa->sin_addr) != 1) {
		fprintf(stderr, "%s: bad IPv4 address: %s\n", prog, addr);
		return -1;
	}
	return 0;
}

#endif
