/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/* bench/common.h - the clock and the option parsing the testbed's programs
 * share (chaos_server, client, loadgen). */
#ifndef BENCH_COMMON_H
#define BENCH_COMMON_H

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
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

#endif
