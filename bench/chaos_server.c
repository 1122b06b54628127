/*
 * chaos_server - the "deterministic chaos" UDP server of the hedge testbed
 * (thesis, section 4.2 and Algorithm 1).
 *
 * Every datagram carries a 32-bit request ID at payload offset 0, in network
 * byte order.  IDs with id % 100 < RATE are "bad": the first time such an ID
 * is seen it is answered after STALL ms (a GC pause, an I/O wait); a copy of
 * it seen again within MEMORY ms (a hedge, reaching a "healthy replica") is
 * answered after the fast-path delay.  Every other request is answered after
 * FAST ms.  The answer echoes the request payload.
 *
 * One thread, one event loop: a received request goes into a bounded min-heap
 * ordered by due time, and ppoll() sleeps until the earliest one is due or a
 * new request arrives, so a stalled request never holds the others up.  The
 * ID history is a bounded open-addressing table whose entries expire after
 * MEMORY ms; every ID is remembered (not only the bad ones) so that the
 * duplicate counter counts every hedge the server sees.
 *
 * Counters go to stderr on SIGUSR1 and at exit (SIGTERM, SIGINT):
 *   chaos_server: received=N stalls=N duplicates=N rescued=N sent=N ...
 * "duplicates" is the number of hedges seen by the server (requests whose ID
 * had been seen within MEMORY ms); "rescued" is the part of them that hit a
 * bad ID, i.e. skipped a stall.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common.h"

#define QUEUE_MAX	65536		/* pending responses */
#define HIST_BITS	16
#define HIST_SLOTS	(1u << HIST_BITS)
#define HIST_PROBE	16		/* probe window of the history table */
#define RECV_BATCH	256		/* datagrams read per wake-up, at most */
#define DGRAM_MAX	65536

struct pending {
	uint64_t due;			/* CLOCK_MONOTONIC, ns */
	uint64_t seq;			/* FIFO order among equal due times */
	union {				/* the client, as recvfrom() gave it */
		struct sockaddr sa;
		struct sockaddr_in in;
		struct sockaddr_in6 in6;
	} peer;
	socklen_t peer_len;
	size_t len;
	unsigned char *buf;
};

struct seen {
	uint32_t id;
	uint64_t at;			/* ns; 0 = empty slot */
};

static struct {
	unsigned long long received, stalls, dups, rescued, sent;
	unsigned long long dropped, send_errors, short_dgrams, evicted;
} st;

static struct pending *heap;
static size_t nheap;
static uint64_t seqno;
static struct seen hist[HIST_SLOTS];

static volatile sig_atomic_t got_stop, got_usr1;

static void on_signal(int sig)
{
	if (sig == SIGUSR1)
		got_usr1 = 1;
	else
		got_stop = 1;
}

static int before(const struct pending *a, const struct pending *b)
{
	return a->due < b->due || (a->due == b->due && a->seq < b->seq);
}

static void heap_push(struct pending p)
{
	size_t i = nheap++;

	while (i > 0) {
		size_t up = (i - 1) / 2;
		if (!before(&p, &heap[up]))
			break;
		heap[i] = heap[up];
		i = up;
	}
	heap[i] = p;
}

static void heap_pop(void)
{
	struct pending last = heap[--nheap];
	size_t i = 0;

	for (;;) {
		size_t c = 2 * i + 1;
		if (c >= nheap)
			break;
		if (c + 1 < nheap && before(&heap[c + 1], &heap[c]))
			c++;
		if (!before(&heap[c], &last))
			break;
		heap[i] = heap[c];
		i = c;
	}
	if (nheap)
		heap[i] = last;
}

static size_t hist_hash(uint32_t id)
{
	return (uint32_t)(id * 2654435761u) >> (32 - HIST_BITS);
}

/*
 * Returns 1 if id was seen within mem ns, else records it and returns 0.
 * A slot is free when empty or expired; if the whole probe window is live,
 * the oldest entry is evicted (only under more than ~65536 IDs per MEMORY).
 */
static int hist_check(uint32_t id, uint64_t now, uint64_t mem)
{
	size_t h = hist_hash(id);
	struct seen *victim = NULL;
	int i;

	for (i = 0; i < HIST_PROBE; i++) {
		struct seen *s = &hist[(h + i) & (HIST_SLOTS - 1)];
		if (s->at && s->id == id && now - s->at <= mem)
			return 1;
	}
	for (i = 0; i < HIST_PROBE; i++) {
		struct seen *s = &hist[(h + i) & (HIST_SLOTS - 1)];
		if (!s->at || now - s->at > mem) {
			victim = s;
			break;
		}
		if (!victim || s->at < victim->at)
			victim = s;
	}
	if (victim->at && now - victim->at <= mem)
		st.evicted++;
	victim->id = id;
	victim->at = now;
	return 0;
}

static void print_counters(void)
{
	fprintf(stderr, "chaos_server: received=%llu stalls=%llu duplicates=%llu"
		" rescued=%llu sent=%llu dropped=%llu send_errors=%llu"
		" short=%llu evicted=%llu pending=%zu\n",
		st.received, st.stalls, st.dups, st.rescued, st.sent,
		st.dropped, st.send_errors, st.short_dgrams, st.evicted, nheap);
	fflush(stderr);
}

static void usage(FILE *f)
{
	fputs("usage: chaos_server [--addr IP] [--port N] [--rate PERCENT]"
	      " [--stall MS]\n"
	      "                    [--fast MS] [--memory MS] [--rcvbuf BYTES]"
	      " [--quiet]\n"
	      "  --addr IP       IPv4 or IPv6 address to bind (default"
	      " 127.0.0.1)\n"
	      "  --port N        UDP port (default 9000)\n"
	      "  --rate PERCENT  IDs with id %% 100 < PERCENT stall (integer"
	      " 0-100, default 2)\n"
	      "  --stall MS      stall of a bad ID seen first (default 400)\n"
	      "  --fast MS       fast-path delay, may be 0 or fractional"
	      " (default 2)\n"
	      "  --memory MS     how long an ID is remembered (default 1000)\n"
	      "  --rcvbuf BYTES  the socket's receive buffer (SO_RCVBUF, capped"
	      " by\n"
	      "                  net.core.rmem_max; default: the system's)\n"
	      "  --quiet         no line per stall and per duplicate\n"
	      "SIGUSR1 prints the counters to stderr; SIGTERM/SIGINT exit.\n",
	      f);
}

/* Reads what is queued on the socket, at most RECV_BATCH datagrams. */
static void receive(int fd, unsigned char *buf, unsigned rate,
		    uint64_t stall, uint64_t fast, uint64_t mem, int quiet)
{
	int i;

	for (i = 0; i < RECV_BATCH; i++) {
		struct pending p;
		uint32_t id;
		uint64_t now;
		ssize_t n;
		int dup, bad;

		p.peer_len = sizeof(p.peer);
		n = recvfrom(fd, buf, DGRAM_MAX, MSG_DONTWAIT, &p.peer.sa,
			     &p.peer_len);
		if (n < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK &&
			    errno != EINTR)
				perror("chaos_server: recvfrom");
			return;
		}
		now = now_ns();
		st.received++;
		if (n < 4) {
			st.short_dgrams++;
			continue;
		}
		memcpy(&id, buf, 4);
		id = ntohl(id);

		dup = hist_check(id, now, mem);
		bad = id % 100 < rate;
		if (dup) {
			st.dups++;
			if (bad)
				st.rescued++;
			if (!quiet)
				fprintf(stderr, "duplicate id=%u%s\n", id,
					bad ? " (rescued)" : "");
		} else if (bad) {
			st.stalls++;
			if (!quiet)
				fprintf(stderr, "stall id=%u\n", id);
		}

		if (nheap == QUEUE_MAX) {
			st.dropped++;
			continue;
		}
		p.buf = malloc((size_t)n);
		if (!p.buf) {
			st.dropped++;
			continue;
		}
		memcpy(p.buf, buf, (size_t)n);
		p.len = (size_t)n;
		p.due = now + (bad && !dup ? stall : fast);
		p.seq = seqno++;
		heap_push(p);
	}
}

/* Sends every response that is due by now. */
static void send_due(int fd)
{
	uint64_t now = now_ns();

	while (nheap && heap[0].due <= now) {
		struct pending *p = &heap[0];
		ssize_t n;

		do
			n = sendto(fd, p->buf, p->len, MSG_DONTWAIT,
				   &p->peer.sa, p->peer_len);
		while (n < 0 && errno == EINTR);
		if (n < 0)
			st.send_errors++;
		else
			st.sent++;
		free(p->buf);
		heap_pop();
	}
}

int main(int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "addr",   required_argument, NULL, 'a' },
		{ "port",   required_argument, NULL, 'p' },
		{ "rate",   required_argument, NULL, 'r' },
		{ "stall",  required_argument, NULL, 's' },
		{ "fast",   required_argument, NULL, 'f' },
		{ "memory", required_argument, NULL, 'm' },
		{ "rcvbuf", required_argument, NULL, 'b' },
		{ "quiet",  no_argument,       NULL, 'q' },
		{ "help",   no_argument,       NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	const char *addr = "127.0.0.1";
	unsigned long port = 9000, rate = 2, rcvbuf = 0;
	uint64_t stall = 400000000, fast = 2000000, mem = 1000000000;
	int quiet = 0, fd, c, li = 0, one = 1;
	struct sockaddr_storage sa;
	socklen_t salen;
	char name[SOCKADDR_STRLEN];
	struct sigaction act;
	sigset_t block, waitmask;
	unsigned char *buf;

	while ((c = getopt_long(argc, argv, "", lopts, &li)) != -1) {
		switch (c) {
		case 'a':
			addr = optarg;
			break;
		case 'p':
			if (parse_ul(optarg, 65535, &port) || !port)
				goto bad_arg;
			break;
		case 'r':
			if (parse_ul(optarg, 100, &rate))
				goto bad_arg;
			break;
		case 's':
			if (parse_ms(optarg, &stall))
				goto bad_arg;
			break;
		case 'f':
			if (parse_ms(optarg, &fast))
				goto bad_arg;
			break;
		case 'm':
			if (parse_ms(optarg, &mem))
				goto bad_arg;
			break;
		case 'b':
			if (parse_ul(optarg, 1UL << 30, &rcvbuf) || !rcvbuf)
				goto bad_arg;
			break;
		case 'q':
			quiet = 1;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
		continue;
bad_arg:
		fprintf(stderr, "chaos_server: bad value for --%s: %s\n",
			lopts[li].name, optarg);
		return 2;
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}

	if (parse_sockaddr("chaos_server", addr, port, &sa, &salen))
		return 2;

	heap = calloc(QUEUE_MAX, sizeof(*heap));
	buf = malloc(DGRAM_MAX);
	if (!heap || !buf) {
		perror("chaos_server: malloc");
		return 1;
	}

	/* Precise wake-ups: the default timer slack is 50 us. */
	prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);

	/*
	 * The signals stay blocked except inside ppoll(), so a stop request
	 * can never be lost between a check of the flags and the wait.
	 */
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGUSR1);
	sigprocmask(SIG_BLOCK, &block, &waitmask);
	sigdelset(&waitmask, SIGTERM);
	sigdelset(&waitmask, SIGINT);
	sigdelset(&waitmask, SIGUSR1);
	memset(&act, 0, sizeof(act));
	act.sa_handler = on_signal;
	sigemptyset(&act.sa_mask);
	sigaction(SIGTERM, &act, NULL);
	sigaction(SIGINT, &act, NULL);
	sigaction(SIGUSR1, &act, NULL);

	fd = socket(sa.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		perror("chaos_server: socket");
		return 1;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (rcvbuf) {
		int b = (int)rcvbuf;

		if (setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &b, sizeof(b)) < 0) {
			perror("chaos_server: setsockopt SO_RCVBUF");
			return 1;
		}
	}
	/* An IPv6 address serves IPv6 only, never v4-mapped clients. */
	if (sa.ss_family == AF_INET6 &&
	    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) < 0) {
		perror("chaos_server: setsockopt IPV6_V6ONLY");
		return 1;
	}
	if (bind(fd, (struct sockaddr *)&sa, salen) < 0) {
		fprintf(stderr, "chaos_server: bind %s: %s\n",
			sockaddr_str(&sa, name), strerror(errno));
		return 1;
	}
	printf("ready\n");
	fflush(stdout);

	while (!got_stop) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		struct timespec ts, *tsp = NULL;
		int r;

		if (got_usr1) {
			got_usr1 = 0;
			print_counters();
		}
		send_due(fd);
		if (nheap) {
			uint64_t now = now_ns(), wait = 0;

			if (heap[0].due > now)
				wait = heap[0].due - now;
			ts.tv_sec = (time_t)(wait / 1000000000u);
			ts.tv_nsec = (long)(wait % 1000000000u);
			tsp = &ts;
		}
		r = ppoll(&pfd, 1, tsp, &waitmask);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			perror("chaos_server: ppoll");
			break;
		}
		if (r > 0 && (pfd.revents & POLLIN))
			receive(fd, buf, (unsigned)rate, stall, fast, mem,
				quiet);
	}

	print_counters();
	while (nheap) {
		free(heap[0].buf);
		heap_pop();
	}
	free(heap);
	free(buf);
	close(fd);
	return got_stop ? 0 : 1;
}
