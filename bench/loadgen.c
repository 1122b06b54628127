/*
 * loadgen - open-loop UDP load generator of the hedge testbed.
 *
 * Sends requests at a fixed rate R per second for D seconds, paced by
 * CLOCK_MONOTONIC and not by the responses: request k is due at
 * t0 + k / R, whether or not the earlier ones have been answered, so many
 * IDs are in flight at once.  When the generator falls behind (a slow
 * wake-up), it sends what is due at once, up to SEND_BURST per pass, and
 * reports how late it got (send_lag_max_us); requests still unsent at
 * t0 + D are not sent at all, so the achieved rate (send_rate) says whether R
 * was reached.
 *
 * Each payload is --size bytes with a 32-bit request ID at offset 0 in
 * network byte order (IDs start at --start-id and never repeat within a run);
 * the answer echoes it.  Responses are read from the same non-blocking,
 * connected socket in the same loop (ppoll).  In-flight requests are tracked
 * in a ring indexed by sequence number: the send time and the state of the
 * last RING requests, RING a power of two >= 2 * R * timeout (capped at
 * RING_MAX).  A response
 *   - for a tracked request answered within --timeout: a latency sample;
 *   - for a tracked request already answered: a duplicate;
 *   - later than --timeout after its request, or for a request no longer in
 *     the ring: late (the request counts as lost);
 *   - carrying an ID never sent: a stray.
 * After the last send the generator keeps receiving until --timeout has
 * passed, or until --linger after every request was answered (so that a late
 * duplicate is still seen); then every request without an answer within
 * --timeout of its send is lost.
 *
 * Latencies go into a log-linear histogram (512 sub-buckets per power of two,
 * 0.2% resolution; exact below 1024 ns); p50 and p99 are nearest-rank values
 * of that histogram, max is exact.
 *
 * Output: one JSON line on stdout (see print_summary()), with the CPU time
 * (user + system) of the generator itself from getrusage(), and with
 * --machine-cpu also the busy and idle time of the whole machine over the
 * run (from /proc/stat, all CPUs: busy = user + nice + system + irq +
 * softirq), measured from just before the first send to the end of the
 * receive phase.  Those five fields are sampled at each scheduler tick; the
 * idle time in /proc/stat is measured at idle entry and exit on NO_HZ
 * kernels, so machine_nonidle_s = window * CPUs - (idle + iowait) is a
 * cross-check of machine_busy_s that does not depend on where the ticks fall.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common.h"

#define DGRAM_MAX	65536
#define SIZE_MAX_UDP	65507
#define RATE_MAX	10000000UL	/* requests per second */
#define DURATION_MAX	120.0		/* seconds */
#define TIMEOUT_MAX	60000.0		/* ms */
#define RING_MIN	1024u
#define RING_MAX	(1u << 22)	/* 4 Mi entries, 36 MiB */
#define SEND_BURST	256		/* sends per pass of the loop, at most */
#define RECV_BATCH	1024		/* receives per pass, at most */
#define SOCK_BUF	(4 << 20)	/* SO_SNDBUF / SO_RCVBUF asked for */

/* Histogram: values < 1024 ns exact, then 512 sub-buckets per octave. */
#define H_SUB_BITS	9
#define H_EXACT		(1u << (H_SUB_BITS + 1))
#define H_BUCKETS	(H_EXACT + 55u * (1u << H_SUB_BITS))

enum { FREE = 0, PENDING, ANSWERED };

struct opts {
	const char *addr;
	unsigned long port, rate, size, start_id;
	uint64_t duration, timeout, linger;	/* ns */
	int machine_cpu;
};

static struct {
	unsigned long long sent, received, lost, late, dups, strays;
	unsigned long long send_errors, recv_errors, untracked;
	uint64_t lat_max, lag_max;
	double lat_sum;
} st;

static uint64_t *ring_t;		/* send time, ns since t0 */
static unsigned char *ring_s;		/* FREE, PENDING or ANSWERED */
static uint32_t ring_mask;
static uint64_t hist[H_BUCKETS];
static unsigned char rbuf[DGRAM_MAX];

static unsigned hist_index(uint64_t v)
{
	unsigned msb, shift;

	if (v < H_EXACT)
		return (unsigned)v;
	msb = 63u - (unsigned)__builtin_clzll(v);
	shift = msb - H_SUB_BITS;		/* >= 1 */
	return H_EXACT + (shift - 1) * (1u << H_SUB_BITS) +
	       (unsigned)((v >> shift) - (1u << H_SUB_BITS));
}

/* The middle of bucket i, in ns. */
static double hist_value(unsigned i)
{
	unsigned shift, m;

	if (i < H_EXACT)
		return (double)i;
	shift = (i - H_EXACT) / (1u << H_SUB_BITS) + 1;
	m = (i - H_EXACT) % (1u << H_SUB_BITS) + (1u << H_SUB_BITS);
	return ((double)m + 0.5) * (double)(1ull << shift);
}

/* Nearest rank: the value of rank ceil(permille / 1000 * n), 1-based. */
static double hist_pct(unsigned long long n, unsigned permille)
{
	unsigned long long rank = (permille * n + 999) / 1000, seen = 0;
	unsigned i;

	if (rank < 1)
		rank = 1;
	for (i = 0; i < H_BUCKETS; i++) {
		seen += hist[i];
		if (seen >= rank)
			return hist_value(i);
	}
	return 0;
}

/*
 * Busy and idle time of the whole machine so far, in USER_HZ ticks, and the
 * number of CPUs /proc/stat lists.
 */
static int machine_ticks(unsigned long long *busy, unsigned long long *idle,
			 unsigned *ncpu)
{
	unsigned long long v[8] = { 0 };
	char line[512];
	FILE *f = fopen("/proc/stat", "r");
	int n = 0;

	if (!f)
		return -1;
	*ncpu = 0;
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, "cpu ", 4))
			/* user nice system idle iowait irq softirq steal */
			n = sscanf(line, "cpu %llu %llu %llu %llu %llu %llu"
				   " %llu %llu", &v[0], &v[1], &v[2], &v[3],
				   &v[4], &v[5], &v[6], &v[7]);
		else if (!strncmp(line, "cpu", 3))
			(*ncpu)++;
		else
			break;
	}
	fclose(f);
	if (n < 7)
		return -1;
	*busy = v[0] + v[1] + v[2] + v[5] + v[6];
	*idle = v[3] + v[4];
	return 0;
}

/* A request leaves the ring (overwritten, or at the end): lost if pending. */
static void retire(uint32_t slot)
{
	if (ring_s[slot] == PENDING)
		st.lost++;
	ring_s[slot] = FREE;
}

static void on_response(const unsigned char *b, ssize_t n, uint64_t now,
			const struct opts *o, uint64_t t0)
{
	uint32_t id, seq, slot;
	uint64_t lat;

	if (n < 4) {
		st.strays++;
		return;
	}
	memcpy(&id, b, 4);
	seq = ntohl(id) - (uint32_t)o->start_id;	/* mod 2^32 */
	if (seq >= st.sent) {
		st.strays++;
		return;
	}
	if (st.sent - seq > (uint64_t)ring_mask + 1) {
		st.late++;			/* long retired, counted lost */
		return;
	}
	slot = seq & ring_mask;
	if (ring_s[slot] == ANSWERED) {
		st.dups++;
		return;
	}
	if (ring_s[slot] != PENDING) {		/* retired: late */
		st.late++;
		return;
	}
	lat = now - t0 - ring_t[slot];
	if (lat > o->timeout) {
		st.late++;
		st.lost++;
		ring_s[slot] = FREE;
		return;
	}
	ring_s[slot] = ANSWERED;
	st.received++;
	st.lat_sum += (double)lat;
	if (lat > st.lat_max)
		st.lat_max = lat;
	hist[hist_index(lat)]++;
}

/* Reads what is queued, at most RECV_BATCH datagrams. */
static void receive(int fd, const struct opts *o, uint64_t t0)
{
	int i;

	for (i = 0; i < RECV_BATCH; i++) {
		ssize_t n = recv(fd, rbuf, sizeof(rbuf), MSG_DONTWAIT);

		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return;
			if (errno == EINTR)
				continue;
			st.recv_errors++;	/* e.g. ECONNREFUSED */
			continue;
		}
		on_response(rbuf, n, now_ns(), o, t0);
	}
}

static void usage(FILE *f)
{
	fputs("usage: loadgen [--addr IP] [--port N] [--rate R]"
	      " [--duration S] [--start-id ID]\n"
	      "               [--timeout MS] [--size BYTES] [--linger MS]"
	      " [--machine-cpu]\n"
	      "  --addr IP, --port N  server, IPv4 or IPv6 (default"
	      " 127.0.0.1:9000)\n"
	      "  --rate R             requests per second (default 1000)\n"
	      "  --duration S         sending time in seconds, at most 120"
	      " (default 5)\n"
	      "  --start-id ID        first request ID (default 0)\n"
	      "  --timeout MS         a request without answer MS after its"
	      " send is lost;\n"
	      "                       the generator waits MS after the last"
	      " send (default 1000)\n"
	      "  --size BYTES         payload size, >= 4 (default 16)\n"
	      "  --linger MS          once every request is answered, keep"
	      " receiving MS more\n"
	      "                       (late duplicates; at most until the"
	      " timeout; default 100)\n"
	      "  --machine-cpu        also report the whole machine's busy"
	      " time over the run\n"
	      "                       (/proc/stat, all CPUs)\n"
	      "Prints one JSON line: sent, received, lost, duplicates, send"
	      " rate, latency\np50/p99/max (us), CPU time of the generator.\n",
	      f);
}

static int parse_args(int argc, char **argv, struct opts *o)
{
	static const struct option lopts[] = {
		{ "addr",        required_argument, NULL, 'a' },
		{ "port",        required_argument, NULL, 'p' },
		{ "rate",        required_argument, NULL, 'r' },
		{ "duration",    required_argument, NULL, 'd' },
		{ "start-id",    required_argument, NULL, 'i' },
		{ "timeout",     required_argument, NULL, 't' },
		{ "size",        required_argument, NULL, 's' },
		{ "linger",      required_argument, NULL, 'l' },
		{ "machine-cpu", no_argument,       NULL, 'm' },
		{ "help",        no_argument,       NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	int c, li;

	while (li = -1, (c = getopt_long(argc, argv, "h", lopts, &li)) != -1) {
		int bad = 0;

		switch (c) {
		case 'a':
			o->addr = optarg;
			break;
		case 'p':
			bad = parse_ul(optarg, 65535, &o->port) || !o->port;
			break;
		case 'r':
			bad = parse_ul(optarg, RATE_MAX, &o->rate) || !o->rate;
			break;
		case 'd':
			bad = parse_ns(optarg, DURATION_MAX, 1e9,
				       &o->duration) || !o->duration;
			break;
		case 'i':
			bad = parse_ul(optarg, UINT32_MAX, &o->start_id);
			break;
		case 't':
			bad = parse_ns(optarg, TIMEOUT_MAX, 1e6,
				       &o->timeout) || !o->timeout;
			break;
		case 's':
			bad = parse_ul(optarg, SIZE_MAX_UDP, &o->size) ||
			      o->size < 4;
			break;
		case 'l':
			bad = parse_ns(optarg, TIMEOUT_MAX, 1e6, &o->linger);
			break;
		case 'm':
			o->machine_cpu = 1;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			return -1;
		}
		if (bad) {
			fprintf(stderr, "loadgen: bad value for --%s: %s\n",
				li >= 0 ? lopts[li].name : "?", optarg);
			return -1;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return -1;
	}
	return 0;
}

static double tv_s(struct timeval tv)
{
	return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

struct machine {
	unsigned long long busy, idle;	/* ticks over the window */
	uint64_t window;		/* ns between the two reads */
	unsigned ncpu;
};

static void print_summary(const struct opts *o, uint64_t planned,
			  uint64_t send_ns, uint64_t total_ns,
			  const struct machine *m)
{
	struct rusage ru;
	double dur = (double)o->duration / 1e9, user, sys;

	getrusage(RUSAGE_SELF, &ru);
	user = tv_s(ru.ru_utime);
	sys = tv_s(ru.ru_stime);
	printf("{\"rate\":%lu,\"duration_s\":%.3f,\"timeout_ms\":%.3f,"
	       "\"size\":%lu,\"start_id\":%lu,\"planned\":%llu,",
	       o->rate, dur, (double)o->timeout / 1e6, o->size, o->start_id,
	       (unsigned long long)planned);
	printf("\"sent\":%llu,\"received\":%llu,\"lost\":%llu,"
	       "\"duplicates\":%llu,\"late\":%llu,\"strays\":%llu,"
	       "\"send_errors\":%llu,\"recv_errors\":%llu,\"untracked\":%llu,",
	       st.sent, st.received, st.lost, st.dups, st.late, st.strays,
	       st.send_errors, st.recv_errors, st.untracked);
	printf("\"send_rate\":%.1f,\"send_s\":%.3f,\"run_s\":%.3f,"
	       "\"send_lag_max_us\":%.1f,",
	       (double)st.sent / dur, (double)send_ns / 1e9,
	       (double)total_ns / 1e9, (double)st.lag_max / 1e3);
	if (st.received)
		printf("\"p50_us\":%.1f,\"p99_us\":%.1f,\"max_us\":%.1f,"
		       "\"mean_us\":%.1f,",
		       hist_pct(st.received, 500) / 1e3,
		       hist_pct(st.received, 990) / 1e3,
		       (double)st.lat_max / 1e3,
		       st.lat_sum / (double)st.received / 1e3);
	else
		printf("\"p50_us\":null,\"p99_us\":null,\"max_us\":null,"
		       "\"mean_us\":null,");
	printf("\"cpu_user_s\":%.3f,\"cpu_sys_s\":%.3f,\"cpu_s\":%.3f",
	       user, sys, user + sys);
	if (m) {
		long hz = sysconf(_SC_CLK_TCK);
		double idle, win = (double)m->window / 1e9;

		if (hz <= 0)
			hz = 100;
		idle = (double)m->idle / (double)hz;
		printf(",\"machine_busy_s\":%.3f,\"machine_idle_s\":%.3f,"
		       "\"machine_window_s\":%.3f,\"machine_cpus\":%u,"
		       "\"machine_nonidle_s\":%.3f,\"clk_tck\":%ld",
		       (double)m->busy / (double)hz, idle, win, m->ncpu,
		       win * m->ncpu - idle, hz);
	}
	printf("}\n");
	fflush(stdout);
}

int main(int argc, char **argv)
{
	struct opts o = {
		.addr = "127.0.0.1", .port = 9000, .rate = 1000, .size = 16,
		.start_id = 0, .duration = 5000000000ull,
		.timeout = 1000000000ull, .linger = 100000000ull,
		.machine_cpu = 0,
	};
	unsigned long long busy0 = 0, idle0 = 0, busy1 = 0, idle1 = 0;
	unsigned ncpu0 = 0, ncpu1 = 0;
	uint64_t t_stat0 = 0;
	struct machine mach;
	uint64_t planned, t0, t_end_send, t_last_send = 0, t_all = 0, t_done;
	uint64_t ring;
	unsigned char *pkt;
	struct sockaddr_storage sa;
	socklen_t salen;
	double want;
	int fd, have_ticks = 0, sbuf = SOCK_BUF;
	unsigned long i;

	if (parse_args(argc, argv, &o))
		return 2;
	if (parse_sockaddr("loadgen", o.addr, o.port, &sa, &salen))
		return 2;

	/* Requests k = 0 .. planned-1, due at k * 1e9 / rate ns < duration. */
	planned = (uint64_t)(((double)o.duration * (double)o.rate + 1e9 - 1) /
			     1e9);
	if (planned && o.start_id + planned - 1 > UINT32_MAX) {
		fprintf(stderr, "loadgen: request IDs would pass 2^32\n");
		return 2;
	}
	want = 2.0 * (double)o.rate * (double)o.timeout / 1e9;
	for (ring = RING_MIN; ring < RING_MAX && (double)ring < want;
	     ring <<= 1)
		;
	ring_mask = (uint32_t)(ring - 1);
	ring_t = malloc(ring * sizeof(*ring_t));
	ring_s = calloc(ring, 1);
	pkt = malloc(o.size);
	if (!ring_t || !ring_s || !pkt) {
		perror("loadgen: malloc");
		return 1;
	}
	for (i = 4; i < o.size; i++)
		pkt[i] = (unsigned char)i;

	prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);	/* precise wake-ups */
	fd = socket(sa.ss_family, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK,
		    0);
	if (fd < 0) {
		perror("loadgen: socket");
		return 1;
	}
	/* Best effort: capped by net.core.[rw]mem_max. */
	setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sbuf, sizeof(sbuf));
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sbuf, sizeof(sbuf));
	if (connect(fd, (struct sockaddr *)&sa, salen) < 0) {
		perror("loadgen: connect");
		return 1;
	}

	if (o.machine_cpu) {
		have_ticks = !machine_ticks(&busy0, &idle0, &ncpu0);
		t_stat0 = now_ns();
	}
	t0 = now_ns();
	t_end_send = t0 + o.duration;
	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		uint64_t now = now_ns(), wake;
		struct timespec ts;
		int burst = 0, blocked = 0;

		/* Send what is due, oldest first. */
		while (st.sent < planned && now < t_end_send &&
		       burst < SEND_BURST) {
			uint64_t due = (uint64_t)((double)st.sent * 1e9 /
						  (double)o.rate);
			uint32_t nid, slot;

			if (t0 + due > now)
				break;
			nid = htonl((uint32_t)(o.start_id + st.sent));
			memcpy(pkt, &nid, 4);
			if (send(fd, pkt, o.size, 0) < 0) {
				if (errno == EAGAIN || errno == EWOULDBLOCK ||
				    errno == ENOBUFS) {
					blocked = 1;	/* retry when writable */
					break;
				}
				if (errno != EINTR)
					st.send_errors++; /* e.g. refused */
				break;
			}
			slot = (uint32_t)st.sent & ring_mask;
			if (ring_s[slot] == PENDING &&
			    now - t0 - ring_t[slot] <= o.timeout)
				st.untracked++;	/* evicted too young */
			retire(slot);
			ring_t[slot] = now - t0;
			ring_s[slot] = PENDING;
			if (now - t0 - due > st.lag_max)
				st.lag_max = now - t0 - due;
			st.sent++;
			t_last_send = now;
			burst++;
			now = now_ns();
		}
		receive(fd, &o, t0);

		now = now_ns();
		if (st.sent < planned && now < t_end_send) {
			if (burst == SEND_BURST)
				continue;		/* still behind */
			wake = t0 + (uint64_t)((double)st.sent * 1e9 /
					       (double)o.rate);
			if (wake > t_end_send)
				wake = t_end_send;
			if (blocked) {
				pfd.events |= POLLOUT;
				if (wake < now + 1000000)
					wake = now + 1000000;
			}
		} else {
			/*
			 * Receive phase: until --timeout after the last send,
			 * or --linger after every request was answered (or
			 * lost), to see late duplicates.
			 */
			uint64_t last = t_last_send ? t_last_send : t0;

			wake = last + o.timeout;
			if (now >= wake)
				break;
			if (st.received + st.lost >= st.sent) {
				if (!t_all)
					t_all = now;
				if (now >= t_all + o.linger)
					break;
				if (t_all + o.linger < wake)
					wake = t_all + o.linger;
			}
		}
		if (wake <= now)
			continue;
		ts.tv_sec = (time_t)((wake - now) / 1000000000u);
		ts.tv_nsec = (long)((wake - now) % 1000000000u);
		if (ppoll(&pfd, 1, &ts, NULL) < 0 && errno != EINTR) {
			perror("loadgen: ppoll");
			return 1;
		}
	}
	t_done = now_ns();
	if (have_ticks) {
		if (machine_ticks(&busy1, &idle1, &ncpu1) || ncpu1 != ncpu0)
			have_ticks = 0;
		mach.busy = busy1 - busy0;
		mach.idle = idle1 - idle0;
		mach.window = now_ns() - t_stat0;
		mach.ncpu = ncpu1;
	}
	close(fd);

	/* What is still pending is lost. */
	for (i = 0; i <= ring_mask; i++)
		retire((uint32_t)i);

	print_summary(&o, planned, (t_last_send ? t_last_send : t0) - t0,
		      t_done - t0, have_ticks ? &mach : NULL);
	free(ring_t);
	free(ring_s);
	free(pkt);
	return 0;
}
