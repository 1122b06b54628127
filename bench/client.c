/*
 * client - benchmark client of the hedge testbed (thesis, section 4.3).
 *
 *   --mode baseline    (default) blocking connected UDP socket with a receive
 *                      timeout: send, wait for the answer.  This is also the
 *                      "kernel-hedged" client: under `hedge up` the kernel
 *                      hedges its requests without its knowledge.
 *   --mode app-hedged  Algorithm 4 in C: send, wait up to --threshold ms for
 *                      the answer; if none came, send the same payload again
 *                      (the hedge) and take the first answer of either copy.
 *
 * Requests are sequential.  Each payload is --size bytes with the 32-bit
 * request ID at offset 0 in network byte order; the answer echoes it.  An
 * answer carrying another ID is a "stray" (the late answer of an earlier
 * request, e.g. the stalled original of a hedged one): it is counted and the
 * client keeps waiting for its own answer.  A request whose answer has not
 * come --timeout ms after its first send is a timeout; its latency is recorded
 * as the timeout.
 *
 * Output: with --csv, one line per measured request (no header):
 *   id,latency_us,hedged,timed_out
 * and on stdout one JSON line with the summary (see print_summary()).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "common.h"

#define DGRAM_MAX	65536
#define SIZE_MAX_UDP	65507
#define N_MAX		10000000UL

enum mode { BASELINE, APP_HEDGED };

struct sample {
	uint32_t id;
	uint64_t lat;			/* ns */
	unsigned char hedged, timed_out;
};

struct opts {
	enum mode mode;
	const char *addr, *csv;
	unsigned long port, n, warmup, size, start_id;
	uint64_t timeout, threshold, limit;	/* ns; limit 0 = none */
};

static unsigned long long strays, hedges;
static unsigned char rbuf[DGRAM_MAX];

static int is_answer(const unsigned char *b, ssize_t n, uint32_t id)
{
	uint32_t v;

	if (n < 4)
		return 0;
	memcpy(&v, b, 4);
	return ntohl(v) == id;
}

static void fatal_io(const char *what)
{
	if (errno == ECONNREFUSED)
		fprintf(stderr, "client: %s: connection refused (is the"
			" server running?)\n", what);
	else
		fprintf(stderr, "client: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void set_rcvtimeo(int fd, uint64_t ns)
{
	struct timeval tv;
	uint64_t us = (ns + 999) / 1000;

	if (us == 0)
		us = 1;			/* 0 would mean "wait forever" */
	tv.tv_sec = (time_t)(us / 1000000);
	tv.tv_usec = (suseconds_t)(us % 1000000);
	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0)
		fatal_io("setsockopt SO_RCVTIMEO");
}

/*
 * Baseline: the socket is blocking, with SO_RCVTIMEO set to the timeout.
 * Only after a stray is the receive timeout shortened to what remains, and
 * restored afterwards.
 */
static void req_baseline(int fd, const struct opts *o, unsigned char *pkt,
			 struct sample *s)
{
	uint64_t t0, deadline;
	int shortened = 0;

	t0 = now_ns();
	if (send(fd, pkt, o->size, 0) < 0)
		fatal_io("send");
	deadline = t0 + o->timeout;
	for (;;) {
		ssize_t n = recv(fd, rbuf, sizeof(rbuf), 0);
		uint64_t t1 = now_ns();

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				fatal_io("recv");
			s->timed_out = 1;
			break;
		}
		if (is_answer(rbuf, n, s->id)) {
			s->lat = t1 - t0;
			break;
		}
		strays++;
		if (t1 >= deadline) {
			s->timed_out = 1;
			break;
		}
		set_rcvtimeo(fd, deadline - t1);
		shortened = 1;
	}
	if (s->timed_out)
		s->lat = o->timeout;
	if (shortened)
		set_rcvtimeo(fd, o->timeout);
}

/*
 * App-hedged: poll() on the socket until the hedge time, then send the copy
 * and poll until the deadline.  The deadline counts from the first send.
 */
static void req_app_hedged(int fd, const struct opts *o, unsigned char *pkt,
			   struct sample *s)
{
	uint64_t t0, hedge_at, deadline;

	t0 = now_ns();
	if (send(fd, pkt, o->size, 0) < 0)
		fatal_io("send");
	hedge_at = t0 + o->threshold;
	deadline = t0 + o->timeout;
	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		uint64_t now = now_ns(), until;
		struct timespec ts;
		int r;

		if (!s->hedged && now >= hedge_at && hedge_at < deadline) {
			if (send(fd, pkt, o->size, 0) < 0)
				fatal_io("send (hedge)");
			s->hedged = 1;
			hedges++;
			continue;
		}
		if (now >= deadline) {
			s->timed_out = 1;
			s->lat = o->timeout;
			return;
		}
		until = !s->hedged && hedge_at < deadline ? hedge_at : deadline;
		ts.tv_sec = (time_t)((until - now) / 1000000000u);
		ts.tv_nsec = (long)((until - now) % 1000000000u);
		r = ppoll(&pfd, 1, &ts, NULL);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			fatal_io("poll");
		}
		if (r == 0)
			continue;
		for (;;) {		/* drain: bounded by the socket queue */
			ssize_t n = recv(fd, rbuf, sizeof(rbuf), MSG_DONTWAIT);
			uint64_t t1 = now_ns();

			if (n < 0) {
				if (errno == EAGAIN || errno == EWOULDBLOCK)
					break;
				if (errno == EINTR)
					continue;
				fatal_io("recv");
			}
			if (is_answer(rbuf, n, s->id)) {
				s->lat = t1 - t0;
				return;
			}
			strays++;
		}
	}
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

/*
 * Nearest-rank percentile of n sorted values: the value of rank
 * ceil(p/100 * n), 1-based, with p given in per mille so that the rank is
 * computed exactly in integers (P99.9 = 999 per mille).  app_hedged.py and
 * report.py use the same method.
 */
static double pct_ms(const uint64_t *v, size_t n, unsigned permille)
{
	size_t rank = (permille * n + 999) / 1000;

	if (rank < 1)
		rank = 1;
	return (double)v[rank - 1] / 1e6;
}

/*
 * One JSON line.  Latencies include the timed-out requests (at the timeout
 * value); mean and stdev are over all measured requests, stdev with the
 * sample (n - 1) denominator.
 */
static void print_summary(const struct opts *o, const struct sample *s,
			  size_t n)
{
	uint64_t *v = NULL;
	double mean = 0, var = 0, max = 0;
	unsigned long long timeouts = 0;
	size_t i;

	if (n) {
		v = malloc(n * sizeof(*v));
		if (!v) {
			perror("client: malloc");
			exit(1);
		}
	}
	for (i = 0; i < n; i++) {
		v[i] = s[i].lat;
		mean += (double)s[i].lat / 1e6;
		timeouts += s[i].timed_out;
	}
	if (n) {
		mean /= (double)n;
		for (i = 0; i < n; i++) {
			double d = (double)s[i].lat / 1e6 - mean;
			var += d * d;
		}
		if (n > 1)
			var /= (double)(n - 1);
		qsort(v, n, sizeof(*v), cmp_u64);
		max = (double)v[n - 1] / 1e6;
	}
	printf("{\"mode\":\"%s\",\"n\":%zu,", o->mode == BASELINE ?
	       "baseline" : "app-hedged", n);
	if (n)
		printf("\"p50_ms\":%.3f,\"p95_ms\":%.3f,\"p99_ms\":%.3f,"
		       "\"p999_ms\":%.3f,\"max_ms\":%.3f,\"mean_ms\":%.3f,"
		       "\"stdev_ms\":%.3f,",
		       pct_ms(v, n, 500), pct_ms(v, n, 950), pct_ms(v, n, 990),
		       pct_ms(v, n, 999), max, mean, sqrt(var));
	else
		printf("\"p50_ms\":null,\"p95_ms\":null,\"p99_ms\":null,"
		       "\"p999_ms\":null,\"max_ms\":null,\"mean_ms\":null,"
		       "\"stdev_ms\":null,");
	printf("\"timeouts\":%llu,\"strays\":%llu,\"hedges\":%llu}\n",
	       timeouts, strays, hedges);
	fflush(stdout);
	free(v);
}

static int write_csv(const char *path, const struct sample *s, size_t n)
{
	FILE *f = fopen(path, "w");
	size_t i;

	if (!f)
		return -1;
	for (i = 0; i < n; i++)
		fprintf(f, "%u,%llu,%u,%u\n", s[i].id,
			(unsigned long long)((s[i].lat + 500) / 1000),
			s[i].hedged, s[i].timed_out);
	return fclose(f);
}

static void usage(FILE *f)
{
	fputs("usage: client [--mode baseline|app-hedged] [--addr IP]"
	      " [--port N] [-n N]\n"
	      "              [--warmup N] [--timeout MS] [--threshold MS]"
	      " [--size BYTES]\n"
	      "              [--start-id ID] [--csv FILE]"
	      " [--duration-limit S]\n"
	      "  --mode M            baseline (default) or app-hedged\n"
	      "  --addr IP, --port N server, IPv4 or IPv6 (default"
	      " 127.0.0.1:9000)\n"
	      "  -n N                measured requests (default 5000)\n"
	      "  --warmup N          requests sent first and discarded"
	      " (default 0)\n"
	      "  --timeout MS        answer timeout per request (default"
	      " 1000)\n"
	      "  --threshold MS      hedge after MS without answer, app-hedged"
	      " (default 10)\n"
	      "  --size BYTES        payload size, >= 4 (default 16)\n"
	      "  --start-id ID       first request ID (default 0); warm-up IDs"
	      " come first\n"
	      "  --csv FILE          write id,latency_us,hedged,timed_out per"
	      " measured request\n"
	      "  --duration-limit S  abort after S seconds of wall time"
	      " (default 0: none;\n"
	      "                      the run is bounded anyway by"
	      " (warmup+n) * timeout)\n",
	      f);
}

static int parse_args(int argc, char **argv, struct opts *o)
{
	static const struct option lopts[] = {
		{ "mode",           required_argument, NULL, 'M' },
		{ "addr",           required_argument, NULL, 'a' },
		{ "port",           required_argument, NULL, 'p' },
		{ "requests",       required_argument, NULL, 'n' },
		{ "warmup",         required_argument, NULL, 'w' },
		{ "timeout",        required_argument, NULL, 't' },
		{ "threshold",      required_argument, NULL, 'T' },
		{ "size",           required_argument, NULL, 's' },
		{ "start-id",       required_argument, NULL, 'i' },
		{ "csv",            required_argument, NULL, 'c' },
		{ "duration-limit", required_argument, NULL, 'L' },
		{ "help",           no_argument,       NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	const char *name;
	int c, li;

	while (li = -1, (c = getopt_long(argc, argv, "n:h", lopts, &li)) != -1) {
		int bad = 0;

		switch (c) {
		case 'M':
			if (!strcmp(optarg, "baseline"))
				o->mode = BASELINE;
			else if (!strcmp(optarg, "app-hedged"))
				o->mode = APP_HEDGED;
			else
				bad = 1;
			break;
		case 'a':
			o->addr = optarg;
			break;
		case 'p':
			bad = parse_ul(optarg, 65535, &o->port) || !o->port;
			break;
		case 'n':
			bad = parse_ul(optarg, N_MAX, &o->n);
			break;
		case 'w':
			bad = parse_ul(optarg, N_MAX, &o->warmup);
			break;
		case 't':
			bad = parse_ms(optarg, &o->timeout) || !o->timeout;
			break;
		case 'T':
			bad = parse_ms(optarg, &o->threshold);
			break;
		case 's':
			bad = parse_ul(optarg, SIZE_MAX_UDP, &o->size) ||
			      o->size < 4;
			break;
		case 'i':
			bad = parse_ul(optarg, UINT32_MAX, &o->start_id);
			break;
		case 'c':
			o->csv = optarg;
			break;
		case 'L':
			bad = parse_ms(optarg, &o->limit);
			o->limit *= 1000;	/* seconds, parsed as "ms" */
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			return -1;
		}
		if (bad) {
			name = li >= 0 ? lopts[li].name : "n";
			fprintf(stderr, "client: bad value for -%s%s: %s\n",
				li >= 0 ? "-" : "", name, optarg);
			return -1;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return -1;
	}
	if (o->start_id + o->warmup + o->n - 1 > UINT32_MAX) {
		fprintf(stderr, "client: request IDs would pass 2^32\n");
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct opts o = {
		.mode = BASELINE, .addr = "127.0.0.1", .port = 9000,
		.n = 5000, .warmup = 0, .size = 16, .start_id = 0,
		.timeout = 1000000000, .threshold = 10000000, .limit = 0,
	};
	struct sockaddr_storage sa;
	socklen_t salen;
	struct sample *res, junk;
	unsigned char *pkt;
	uint64_t start;
	unsigned long i, total;
	size_t done = 0;
	int fd, aborted = 0;

	if (parse_args(argc, argv, &o))
		return 2;

	if (parse_sockaddr("client", o.addr, o.port, &sa, &salen))
		return 2;

	res = calloc(o.n ? o.n : 1, sizeof(*res));
	pkt = malloc(o.size);
	if (!res || !pkt) {
		perror("client: malloc");
		return 1;
	}
	for (i = 4; i < o.size; i++)
		pkt[i] = (unsigned char)i;

	fd = socket(sa.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		fatal_io("socket");
	if (connect(fd, (struct sockaddr *)&sa, salen) < 0)
		fatal_io("connect");
	if (o.mode == BASELINE)
		set_rcvtimeo(fd, o.timeout);

	start = now_ns();
	total = o.warmup + o.n;
	for (i = 0; i < total; i++) {
		struct sample *s = i < o.warmup ? &junk : &res[i - o.warmup];
		uint32_t id = (uint32_t)(o.start_id + i), nid = htonl(id);

		if (o.limit && now_ns() - start >= o.limit) {
			aborted = 1;
			break;
		}
		if (i == o.warmup)
			strays = hedges = 0;	/* count measured requests only */
		memset(s, 0, sizeof(*s));
		s->id = id;
		memcpy(pkt, &nid, 4);
		if (o.mode == BASELINE)
			req_baseline(fd, &o, pkt, s);
		else
			req_app_hedged(fd, &o, pkt, s);
		if (i >= o.warmup)
			done++;
	}
	close(fd);

	if (o.csv && write_csv(o.csv, res, done) < 0) {
		fprintf(stderr, "client: %s: %s\n", o.csv, strerror(errno));
		return 1;
	}
	print_summary(&o, res, done);
	if (aborted) {
		fprintf(stderr, "client: duration limit reached after %zu of"
			" %lu measured requests\n", done, o.n);
		return 3;
	}
	return 0;
}
