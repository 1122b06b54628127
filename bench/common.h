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
#include <sys/socket.h>
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

/*
 * An IPv4 or IPv6 address (the latter plain or in brackets: ::1, [::1]) and
 * a port as a sockaddr of the address's family, and its length; says what is
 * wrong if not.
 */
static inline int parse_sockaddr(const char *prog, const char *addr,
				 unsigned long port,
				 struct sockaddr_storage *ss, socklen_t *len)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
	char buf[INET6_ADDRSTRLEN];
	const char *a = addr;
	size_t n = strlen(addr);

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, addr, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)port);
		*len = sizeof(*sin);
		return 0;
	}
	if (n >= 2 && addr[0] == '[' && addr[n - 1] == ']' &&
	    n - 2 < sizeof(buf)) {
		memcpy(buf, addr + 1, n - 2);
		buf[n - 2] = '\0';
		a = buf;
	}
	if (inet_pton(AF_INET6, a, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)port);
		*len = sizeof(*sin6);
		return 0;
	}
	fprintf(stderr, "%s: bad address (neither IPv4 nor IPv6): %s\n",
		prog, addr);
	return -1;
}

/* HOST:PORT, [HOST]:PORT for IPv6, as a message names a socket address. */
#define SOCKADDR_STRLEN (INET6_ADDRSTRLEN + sizeof("[]:65535"))

static inline const char *sockaddr_str(const struct sockaddr_storage *ss,
				       char buf[SOCKADDR_STRLEN])
{
	const struct sockaddr_in *sin = (const struct sockaddr_in *)ss;
	const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)ss;
	char host[INET6_ADDRSTRLEN];
	int v6 = ss->ss_family == AF_INET6;

	if (!inet_ntop(ss->ss_family, v6 ? (const void *)&sin6->sin6_addr :
		       (const void *)&sin->sin_addr, host, sizeof(host)))
		strcpy(host, "?");
	snprintf(buf, SOCKADDR_STRLEN, "%s%s%s:%u", v6 ? "[" : "", host,
		 v6 ? "]" : "", ntohs(v6 ? sin6->sin6_port : sin->sin_port));
	return buf;
}

#endif
