// SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
/*
 * bpf_cost.c - what each of hedge's BPF programs costs per packet on the
 * running kernel, measured with BPF_PROG_TEST_RUN (the kernel times the
 * program runs itself). Needs no netem, so it runs natively anywhere.
 *
 *   Splitter, new request to a target: a fresh ID per run, so each run
 *     records a Scoreboard entry and clones the packet into a veth pair
 *     (tdl0 -> tdl1, no qdisc: the clone crosses at once and is dropped),
 *     or, as on the tick line, parks its bytes.
 *   Splitter, other traffic: a datagram to a port that is not a target.
 *   Watcher, response: first responses (fresh IDs), then duplicates.
 *   Rescuer, due clone: a pending request's clone sent as the hedge.
 *
 * Fresh-ID cases touch a new Scoreboard entry and a new parking slot each
 * run, as a host does whose requests are far apart: their memory is cold
 * (but for the steady case: 100 in flight, the oldest freed each run).
 * The "warm" cases reuse one entry and a few slots (freed from user space
 * between runs, untimed), as a burst of requests does: what the code
 * costs with its memory in cache. Both are the program's, on this host.
 *
 * --pair: two Splitters at once on two CPUs against one alone
 * (measure_pair()).
 *
 * Run as root in a namespace with the veth pair (bench/bpf-cost does it).
 * Prints one line per case: "case  ns_per_packet  runs".
 */
#define _GNU_SOURCE	/* sched_setaffinity(): --pair's Splitters on two CPUs */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "../hedge.h"
#include "../hedge_user.h"
#include "../tests/due.h"
#include "../tests/scores.h"

#define PARK_SLOTS	32768	/* a power of 2, >= RUNS */
#define RUNS 20000
#define WARM_RUNS 5000		/* queued on top of RUNS: within its room */
#define WARM_SLOTS 8		/* the warm cases' ring */
#define COLD_RUNS 300		/* `--cold`: each after a flush of the caches */

static struct bpf_obj obj;
static struct scores_view sv;	/* obj's Scoreboard (tests/scores.h) */
static struct due_view dv;	/* obj's deadline rings (tests/due.h): each
				   case that parks starts them empty */

static void ip_checksum(unsigned char *ip)
{
	uint32_t sum = 0;
	uint16_t v;
	int i;

	ip[10] = ip[11] = 0;
	for (i = 0; i < 20; i += 2)
		sum += (uint32_t)(ip[i] << 8 | ip[i + 1]);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	v = htons((uint16_t)~sum);
	memcpy(ip + 10, &v, 2);
}

static void packet(unsigned char *b, int response, uint16_t port, uint32_t id)
{
	static const unsigned char hdr[42] = {
		[12] = 0x08, [14] = 0x45, [16] = 0, [17] = 44, [22] = 64,
		[23] = 17, [38] = 0, [39] = 24,
	};
	unsigned char client[4] = { 10, 0, 0, 1 }, server[4] = { 10, 0, 0, 2 };
	uint16_t cport = htons(40000), sport = htons(port);

	memcpy(b, hdr, sizeof(hdr));
	memcpy(b + 26, response ? server : client, 4);
	memcpy(b + 30, response ? client : server, 4);
	memcpy(b + 34, response ? &sport : &cport, 2);
	memcpy(b + 36, response ? &cport : &sport, 2);
	id = htonl(id);
	memcpy(b + 42, &id, 4);
	memset(b + 46, 0, 12);
	ip_checksum(b + 14);	/* the watcher commits only a valid one */
}

/* A 58-byte TCP segment of an established connection (ACK, 4 bytes of
 * data) between 10.0.0.1:40000 and 10.0.0.2:80, to it or (response) from
 * it. */
static void tcp_packet(unsigned char *b, int response)
{
	static const unsigned char hdr[54] = {
		[12] = 0x08, [14] = 0x45, [16] = 0, [17] = 44, [22] = 64,
		[23] = 6, [46] = 5 << 4, [47] = 0x10, [48] = 0xff,
	};
	unsigned char client[4] = { 10, 0, 0, 1 }, server[4] = { 10, 0, 0, 2 };
	uint16_t cport = htons(40000), sport = htons(80);

	memcpy(b, hdr, sizeof(hdr));
	memcpy(b + 26, response ? server : client, 4);
	memcpy(b + 30, response ? client : server, 4);
	memcpy(b + 34, response ? &sport : &cport, 2);
	memcpy(b + 36, response ? &cport : &sport, 2);
	memset(b + 54, 0, 4);
	ip_checksum(b + 14);
}

static uint64_t run(const char *prog, const unsigned char *pkt, uint32_t repeat);

/* The config into its map as `up` writes it (config_write()). */
static int write_config(const struct hedge_config *c)
{
	return config_write(obj_map_fd(&obj, HEDGE_MAP_CONFIG), c);
}

static void print_cost(const char *name, double ns);

/* RUNS single runs (a program that rewrites the packet would see its own
 * rewrite on a repeat): their mean, the timer's own reading included. */
static double single_runs(const char *prog, const unsigned char *pkt)
{
	uint64_t total = 0;
	uint32_t i;

	for (i = 0; i < RUNS; i++)
		total += run(prog, pkt, 1);
	return (double)total / RUNS;
}

/*
 * TCP replicas (bpf/tcpnat.h): target 1 (10.0.0.2:80/tcp) gets the
 * replica 10.0.0.3:80. Established traffic without a NAT entry (to the
 * primary, and from it), then through one (the client's to the primary,
 * rewritten to the replica; the replica's, rewritten to the primary):
 * single runs, next to the same for a packet that needs no map at all.
 */
static void tcp_nat(struct hedge_config *cfg)
{
	struct hedge_target_key rk = cfg->targets[1].primary;
	struct hedge_nat_key nk;
	struct hedge_nat n;
	struct timespec now;
	unsigned char pkt[64];
	uint32_t role = 1 | HEDGE_TARGET_REPLICA;

	rk.addr[15] = 3;
	cfg->targets[1].replica = rk;
	cfg->flags |= HEDGE_F_TCP_NAT;
	map_update(obj_map_fd(&obj, HEDGE_MAP_TARGETS), &rk, &role);
	write_config(cfg);
	tcp_packet(pkt, 0);
	print_cost("splitter: TCP+replica, no NAT entry",
		   (double)run(HEDGE_PROG_SPLITTER, pkt, RUNS));
	tcp_packet(pkt, 1);
	print_cost("watcher: TCP+replica, from the primary",
		   (double)run(HEDGE_PROG_WATCHER, pkt, RUNS));
	pkt[29] = 3;	/* from the replica, no entry */
	ip_checksum(pkt + 14);
	print_cost("watcher: TCP+replica, no NAT entry",
		   (double)run(HEDGE_PROG_WATCHER, pkt, RUNS));

	memset(&nk, 0, sizeof(nk));
	memcpy(nk.client, rk.addr, 16);
	nk.client[15] = 1;
	nk.cport = htons(40000);
	nk.target = 1;
	memset(&n, 0, sizeof(n));
	clock_gettime(CLOCK_MONOTONIC, &now);
	n.used_ns = (uint64_t)now.tv_sec * 1000000000ULL +
		    (uint64_t)now.tv_nsec;
	n.target = 1;
	map_update(obj_map_fd(&obj, HEDGE_MAP_NAT), &nk, &n);
	tcp_packet(pkt, 0);
	print_cost("splitter: TCP, NAT entry (single)",
		   single_runs(HEDGE_PROG_SPLITTER, pkt));
	tcp_packet(pkt, 1);
	pkt[29] = 3;
	ip_checksum(pkt + 14);
	print_cost("watcher: TCP, NAT entry (single)",
		   single_runs(HEDGE_PROG_WATCHER, pkt));
	tcp_packet(pkt, 0);
	pkt[37] = 81;	/* port 81: to no target */
	print_cost("splitter: TCP, no target (single)",
		   single_runs(HEDGE_PROG_SPLITTER, pkt));
}

/* One run of `prog` on the packet; the kernel's time for it, in ns. */
static uint64_t run(const char *prog, const unsigned char *pkt, uint32_t repeat)
{
	union bpf_attr attr;

	memset(&attr, 0, sizeof(attr));
	attr.test.prog_fd = obj_prog_fd(&obj, prog);
	attr.test.data_in = (uint64_t)(uintptr_t)pkt;
	attr.test.data_size_in = 58;
	attr.test.repeat = repeat;
	if (sys_bpf(BPF_PROG_TEST_RUN, &attr)) {
		fprintf(stderr, "bpf_cost: running %s: %s\n", prog,
			strerror(errno));
		exit(1);
	}
	return attr.test.duration;
}

static void print_cost(const char *name, double ns)
{
	printf("%-36s %6.0f ns\n", name, ns);
}

/*
 * A packet that needs a fresh ID each time: RUNS single runs, each timed
 * by the kernel. A single run's time also holds the timer's own reading
 * (see "empty run" below for its size).
 */
static void measure_fresh(const char *name, const char *prog, int response,
			  uint32_t first_id)
{
	unsigned char pkt[64];
	uint64_t total = 0;
	uint32_t i;

	/* A new request's case starts on an empty Scoreboard, as the LRU
	 * hash it was, which evicted, never filled: RUNS x the cases would
	 * fill its sets. A response's finds the last one's requests. */
	if (!response)
		scores_clear(&sv);
	due_clear(&dv);
	for (i = 0; i < RUNS; i++) {
		packet(pkt, response, 9000, first_id + i);
		total += run(prog, pkt, 1);
	}
	print_cost(name, (double)total / RUNS);
}

/* The same packet RUNS times in one call: the kernel's mean per run. */
static void measure_same(const char *name, const char *prog, int response,
			 uint16_t port, uint32_t id)
{
	unsigned char pkt[64];

	packet(pkt, response, port, id);
	print_cost(name, (double)run(prog, pkt, RUNS));
}

/* The only Scoreboard entry (the warm cases start with it empty) goes:
 * found by looking, so this bench needs no key layout; its set is
 * remembered (each warm run has the same key). */
static void forget_entry(void)
{
	static uint32_t at;
	uint32_t i, n;
	int w, found = 0;

	for (n = 0; n < sv.n_sets && !found; n++) {
		i = (at + n) & (sv.n_sets - 1);
		for (w = 0; w < HEDGE_SCORE_WAYS; w++)
			if (score_live(&sv.set[i].way[w])) {
				sv.set[i].way[w].entry.state = HEDGE_SCORE_FREE;
				found = 1;
				at = i;
			}
	}
}

/* CPUs the kernel sizes per-CPU values for. */
static int possible_cpus(void)
{
	FILE *f = fopen("/sys/devices/system/cpu/possible", "r");
	int lo = 0, hi = 0;

	if (!f || fscanf(f, "%d-%d", &lo, &hi) < 1) {
		fprintf(stderr, "bpf_cost: reading possible CPUs failed\n");
		exit(1);
	}
	fclose(f);
	return (hi > lo ? hi : lo) + 1;
}

/* Target 0's count at `off` in struct hedge_stats, over all CPUs. */
static uint64_t stat_sum(size_t off)
{
	int n = possible_cpus(), i;
	struct hedge_stats *st = calloc((size_t)n, sizeof(*st));
	uint32_t zero = 0;
	uint64_t sum = 0;

	if (!st || map_lookup(obj_map_fd(&obj, HEDGE_MAP_STATS), &zero, st)) {
		fprintf(stderr, "bpf_cost: reading the stats failed\n");
		exit(1);
	}
	for (i = 0; i < n; i++)
		sum += *(const uint64_t *)((const char *)&st[i] + off);
	free(st);
	return sum;
}

/* Target 0's `delayed` count, over all CPUs: what was really parked. */
static uint64_t delayed(void)
{
	return stat_sum(offsetof(struct hedge_stats, delayed));
}

/* Target 0's deadline ring popped empty (as the ticker pops it). */
static void pop_due(void)
{
	struct hedge_config cfg;
	struct hedge_due d;
	uint32_t zero = 0;

	if (map_lookup(obj_map_fd(&obj, HEDGE_MAP_CONFIG), &zero, &cfg)) {
		fprintf(stderr, "bpf_cost: reading the config failed\n");
		exit(1);
	}
	while (!due_pop(&dv, &cfg, 0, &d))
		;
}

/* The small ring's first n slots free again (as the ticker frees them). */
static void free_slots(uint32_t n)
{
	struct hedge_parked_small slot;
	uint32_t i;

	memset(&slot, 0, sizeof(slot));
	for (i = 0; i < n; i++)
		map_update(obj_map_fd(&obj, HEDGE_MAP_PARKED), &i, &slot);
}

/* A tick running, due long after: a request does not start one. */
static void tick_far(void)
{
	struct hedge_ticker t;
	uint32_t zero = 0;

	memset(&t, 0, sizeof(t));
	t.run = HEDGE_TICK_RUN(1, HEDGE_TICK_RUNNING);
	t.release_ns = UINT64_MAX / 2;
	map_update(obj_map_fd(&obj, HEDGE_MAP_TICK), &zero, &t);
}

/*
 * Write 64 MiB, more than any cache here holds, in 4 KiB pages (more than
 * the TLB holds): what was cached is out. The same buffer each time, its
 * pages faulted in once: a flush costs no page faults nor frees.
 */
#define FLUSH_BYTES (64u << 20)
static void flush_caches(void)
{
	static unsigned char *b;

	if (!b) {
		b = mmap(NULL, FLUSH_BYTES, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (b == MAP_FAILED) {
			fprintf(stderr, "bpf_cost: no memory to flush the "
				"caches with: %s\n", strerror(errno));
			exit(1);
		}
		madvise(b, FLUSH_BYTES, MADV_NOHUGEPAGE);
	}
	memset(b, 1, FLUSH_BYTES);
	__asm__ volatile("" : : "r"(b) : "memory");
}

/*
 * A steady stream: fresh IDs, STEADY_INFLIGHT parked at a time, the
 * oldest's deadline entry popped and its slot freed after each run
 * (untimed), as the ticker does at its deadline; with a 1 ms delay the
 * tick line's span holds them in a few hundred slots, where the programs
 * before the span passed over the whole ring. In this tight loop the two
 * cost the same (BENCHMARKS.md, "The parking rings' span"): the gain
 * shows under real load only. This process pops target 0's deadline
 * ring.
 */
#define STEADY_INFLIGHT 100
static void measure_steady(const char *name, struct hedge_config *cfg,
			   uint32_t first_id)
{
	struct hedge_parked_small none;
	struct hedge_due d;
	unsigned char pkt[64];
	uint64_t total = 0, parked = delayed(), delay = cfg->delay_ns;
	uint32_t i, zero = 0, slot;

	cfg->delay_ns = 1000000;
	write_config(cfg);
	/* The ring as `up` leaves it: every slot free (the cases before
	 * left theirs busy), the ticker's state new. */
	free_slots(cfg->ring_mask + 1);
	memset(&none, 0, sizeof(none));
	{
		struct hedge_ticker t;

		memset(&t, 0, sizeof(t));
		map_update(obj_map_fd(&obj, HEDGE_MAP_TICK), &zero, &t);
	}
	due_clear(&dv);
	/* Freeing them brought the slots into the caches: out again, as
	 * the requests of the ring's last pass left them, long ago. */
	flush_caches();
	for (i = 0; i < RUNS; i++) {
		packet(pkt, 0, 9000, first_id + i);
		total += run(HEDGE_PROG_SPLITTER, pkt, 1);
		if (i < STEADY_INFLIGHT)
			continue;
		if (due_pop(&dv, cfg, 0, &d)) {
			fprintf(stderr, "bpf_cost: %s: popping: %s\n", name,
				strerror(errno));
			exit(1);
		}
		slot = d.seq & cfg->ring_mask;
		map_update(obj_map_fd(&obj, HEDGE_MAP_PARKED), &slot, &none);
	}
	if (delayed() - parked != RUNS) {
		fprintf(stderr, "bpf_cost: %s: not every run parked\n", name);
		exit(1);
	}
	cfg->delay_ns = delay;
	write_config(cfg);
	print_cost(name, (double)total / RUNS);
}

/*
 * Cold Scoreboard, warm parking slots: fresh IDs (a new entry each run),
 * parked in a ring of WARM_SLOTS freed between runs (untimed), as slots
 * reused last-in first-out would be: what such a reuse would save.
 */
static void measure_fresh_warm_slots(const char *name, uint32_t first_id)
{
	unsigned char pkt[64];
	uint64_t total = 0, parked = delayed();
	uint32_t i;

	free_slots(WARM_SLOTS);	/* the cases before may have left them busy */
	scores_clear(&sv);	/* as measure_fresh() */
	due_clear(&dv);
	for (i = 0; i < RUNS; i++) {
		packet(pkt, 0, 9000, first_id + i);
		total += run(HEDGE_PROG_SPLITTER, pkt, 1);
		free_slots(WARM_SLOTS);
		pop_due();
	}
	if (delayed() - parked != RUNS) {
		fprintf(stderr, "bpf_cost: %s: not every run parked\n", name);
		exit(1);
	}
	print_cost(name, (double)total / RUNS);
}

/*
 * Warm: one request ID, its entry gone after each run. A Splitter run
 * on the request first (untimed) when `prog` is the watcher: the
 * response then finds its request pending, as it would soon after.
 */
static void measure_warm(const char *name, const char *prog, int response)
{
	unsigned char req[64], resp[64];
	uint64_t total = 0, parked = delayed();
	uint32_t i;

	packet(req, 0, 9000, 7);
	packet(resp, 1, 9000, 7);
	due_clear(&dv);
	for (i = 0; i < WARM_RUNS; i++) {
		if (response) {
			run(HEDGE_PROG_SPLITTER, req, 1);
			total += run(prog, resp, 1);
		} else {
			total += run(prog, req, 1);
		}
		forget_entry();
		free_slots(WARM_SLOTS);
		pop_due();
	}
	/* Each run must have parked (ring_full, say, would be cheaper). */
	if (delayed() - parked != WARM_RUNS) {
		fprintf(stderr, "bpf_cost: %s: not every run parked\n", name);
		exit(1);
	}
	print_cost(name, (double)total / WARM_RUNS);
}

/*
 * Cold: every cache flushed before each timed run, as a host whose
 * requests are a millisecond or more apart leaves hedge's memory (its
 * code, maps and page-table entries) between them; the packet itself is
 * warm, just written, as the stack's is. Fresh IDs; a response's request
 * is recorded (untimed) before the flush. Fewer runs: each flush writes
 * 64 MiB. The median of one invocation is steady; between invocations
 * (the programs and maps loaded anew, elsewhere in memory) it spreads by
 * as much as a cache line or two costs (BENCHMARKS.md, "The floor").
 */
static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static void measure_cold(const char *name, const char *prog, int response,
			 uint16_t port, uint32_t first_id)
{
	unsigned char req[64], resp[64];
	uint64_t ns[COLD_RUNS], total = 0;
	uint32_t i;

	/* At 1 000/s the tick runs; here nothing would take it. */
	tick_far();
	due_clear(&dv);
	for (i = 0; i < COLD_RUNS; i++) {
		packet(req, 0, port, first_id + i);
		packet(resp, 1, port, first_id + i);
		if (response)
			run(HEDGE_PROG_SPLITTER, req, 1);
		flush_caches();
		ns[i] = run(prog, response ? resp : req, 1);
		total += ns[i];
	}
	qsort(ns, COLD_RUNS, sizeof(ns[0]), cmp_u64);
	printf("%-36s %6.0f ns (median %llu)\n", name,
	       (double)total / COLD_RUNS,
	       (unsigned long long)ns[COLD_RUNS / 2]);
}

/*
 * Two Splitters at once, one per CPU, each parking fresh requests to one
 * target on the tick line, as two threads of a client would: the mean ns
 * of a run on CPU 0, alone and with CPU 1 doing the same meanwhile,
 * PAIR_ROUNDS rounds of each in turn. What the second CPU adds is what
 * the lines every request writes and all CPUs share cost (the budget, the
 * parking ring's and the deadline ring's positions, the Scoreboard's sets
 * both use). Each round starts on an empty Scoreboard, free slots and a
 * tick running, due long after (no run starts one).
 */
#define PAIR_RUNS	4000	/* per CPU and round: 2 x within PARK_SLOTS */
#define PAIR_ROUNDS	5

static void pair_reset(void)
{
	free_slots(PARK_SLOTS);
	tick_far();
	scores_clear(&sv);
	due_clear(&dv);
}

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* What a child reports: its runs' total ns, and when it began and ended. */
struct pair_report {
	uint64_t total, begin, end;
};

/* In a child pinned to `cpu`, from `start` on: PAIR_RUNS fresh requests;
 * its report written to fd. */
static void pair_child(int cpu, uint32_t first_id, uint64_t start, int fd)
{
	struct pair_report rep = { 0, 0, 0 };
	unsigned char pkt[64];
	cpu_set_t set;
	uint32_t i;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set))
		_exit(1);
	while (mono_ns() < start)
		;
	rep.begin = mono_ns();
	for (i = 0; i < PAIR_RUNS; i++) {
		packet(pkt, 0, 9000, first_id + i);
		rep.total += run(HEDGE_PROG_SPLITTER, pkt, 1);
	}
	rep.end = mono_ns();
	_exit(write(fd, &rep, sizeof(rep)) == sizeof(rep) ? 0 : 1);
}

/*
 * One round on CPU 0, with CPU 1 too if `both` (both children forked
 * before either is read, so that they run at once): CPU 0's mean ns a
 * run; *overlap, the share of CPU 0's time CPU 1 was running too.
 */
static double pair_round(int both, uint32_t first_id, double *overlap)
{
	uint64_t start, parked = delayed(), lo, hi,
		 ring_full = stat_sum(offsetof(struct hedge_stats, ring_full)),
		 queue_full = stat_sum(offsetof(struct hedge_stats, queue_full));
	struct pair_report rep[2];
	int cpu, n = both ? 2 : 1, p[2], fd[2], status, bad = 0;
	pid_t pid[2];

	pair_reset();
	memset(rep, 0, sizeof(rep));
	fflush(stdout);	/* a child that exits on an error flushes no copy */
	start = mono_ns() + 20000000;	/* both forked by then */
	for (cpu = 0; cpu < n; cpu++) {
		if (pipe(p)) {
			fprintf(stderr, "bpf_cost: pipe: %s\n", strerror(errno));
			exit(1);
		}
		pid[cpu] = fork();
		if (pid[cpu] < 0) {
			fprintf(stderr, "bpf_cost: fork: %s\n", strerror(errno));
			exit(1);
		}
		if (!pid[cpu]) {
			close(p[0]);
			pair_child(cpu, first_id + (uint32_t)cpu * PAIR_RUNS,
				   start, p[1]);
		}
		close(p[1]);
		fd[cpu] = p[0];
	}
	for (cpu = 0; cpu < n; cpu++) {
		if (read(fd[cpu], &rep[cpu], sizeof(rep[cpu])) !=
		    sizeof(rep[cpu]))
			bad = 1;
		close(fd[cpu]);
		if (waitpid(pid[cpu], &status, 0) != pid[cpu] ||
		    !WIFEXITED(status) || WEXITSTATUS(status))
			bad = 1;
	}
	if (bad || delayed() - parked != (uint64_t)n * PAIR_RUNS) {
		fprintf(stderr, "bpf_cost: --pair: a Splitter failed, or not "
			"every run parked (%llu of %u; ring_full %llu, "
			"queue_full %llu)\n",
			(unsigned long long)(delayed() - parked),
			n * PAIR_RUNS,
			(unsigned long long)(stat_sum(offsetof(struct
				hedge_stats, ring_full)) - ring_full),
			(unsigned long long)(stat_sum(offsetof(struct
				hedge_stats, queue_full)) - queue_full));
		exit(1);
	}
	*overlap = 0;
	if (both && rep[0].end > rep[0].begin) {
		lo = rep[0].begin > rep[1].begin ? rep[0].begin : rep[1].begin;
		hi = rep[0].end < rep[1].end ? rep[0].end : rep[1].end;
		if (hi > lo)
			*overlap = (double)(hi - lo) /
				   (double)(rep[0].end - rep[0].begin);
	}
	return (double)rep[0].total / PAIR_RUNS;
}

static int measure_pair(void)
{
	double alone, with, overlap;
	int r;

	if (sysconf(_SC_NPROCESSORS_ONLN) < 2) {
		fprintf(stderr, "bpf_cost: --pair needs 2 CPUs\n");
		return 1;
	}
	printf("splitter, new request, tick: mean ns a run on CPU 0, %d runs "
	       "a round:\n", PAIR_RUNS);
	for (r = 0; r < PAIR_ROUNDS; r++) {
		alone = pair_round(0, 10000000 + (uint32_t)r * 3 * PAIR_RUNS,
				      &overlap);
		with = pair_round(1, 20000000 + (uint32_t)r * 3 * PAIR_RUNS,
				     &overlap);
		printf("round %d: alone %6.0f ns, CPU 1 parking too %6.0f ns "
		       "(at once for %.0f%% of CPU 0's time)\n", r + 1,
		       alone, with, 100.0 * overlap);
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct hedge_config cfg;
	struct hedge_target t = { .primary.port = htons(9000) };
	unsigned char pkt[64];
	uint32_t zero = 0, i;
	uint64_t total = 0;

	/* A tick ring (and deadline ring) with a free slot for every run:
	 * the parking case then measures parking, not a full ring. */
	const struct map_size sizes[] = {
		{ HEDGE_MAP_PARKED, PARK_SLOTS },
		{ HEDGE_MAP_FRAMES, PARK_SLOTS / HEDGE_BIG_SHARE },
		{ HEDGE_MAP_DUE, HEDGE_MAX_TARGETS *
				 hedge_due_cap(PARK_SLOTS - 1,
					       PARK_SLOTS / HEDGE_BIG_SHARE - 1) },
		{ NULL, 0 },
	};

	_Static_assert(PARK_SLOTS >= RUNS && PARK_SLOTS >= 2 * WARM_RUNS,
		       "a slot (and a deadline entry) for every run of a case");
	if (obj_load(&obj, sizes, NULL))
		return 1;
	if (scores_open(obj_map_fd(&obj, HEDGE_MAP_SCORES), &sv)) {
		fprintf(stderr, "bpf_cost: mapping the Scoreboard: %s\n",
			strerror(errno));
		return 1;
	}
	if (due_open(obj_map_fd(&obj, HEDGE_MAP_DUE),
		     obj_map_fd(&obj, HEDGE_MAP_TICK), &dv)) {
		fprintf(stderr, "bpf_cost: mapping the deadline rings: %s\n",
			strerror(errno));
		return 1;
	}
	memset(&cfg, 0, sizeof(cfg));
	t.primary.addr[10] = t.primary.addr[11] = 0xff;	/* ::ffff:10.0.0.2 */
	inet_pton(AF_INET, "10.0.0.2", t.primary.addr + 12);
	cfg.dev_ifindex = if_nametoindex("tdl1");
	cfg.delay_ifindex = if_nametoindex("tdl0");
	cfg.delay_ns = 10000000;
	cfg.window_ns = 60000000000ULL;
	cfg.id_len = 4;
	cfg.ring_mask = PARK_SLOTS - 1;
	cfg.big_mask = PARK_SLOTS / HEDGE_BIG_SHARE - 1;
	cfg.score_mask = sv.n_sets - 1;
	cfg.n_targets = 1;
	cfg.targets[0] = t;
	cfg.budget_pct = 10;	/* the default budget, as `up` sets it */
	cfg.budget_min_rate = 10;
	cfg.budget_cap = 10 * HEDGE_MILLI;
	if (!cfg.delay_ifindex ||
	    map_update(obj_map_fd(&obj, HEDGE_MAP_TARGETS), &t.primary, &zero) ||
	    write_config(&cfg)) {
		fprintf(stderr, "bpf_cost: set-up failed (veth tdl0/tdl1?)\n");
		return 1;
	}

	if (argc > 1 && !strcmp(argv[1], "--cold")) {
		/* On the tick line, as bench/cost runs it. */
		cfg.delay_line = HEDGE_DL_TICK;
		write_config(&cfg);
		printf("mean per packet over %d runs, caches flushed before "
		       "each:\n", COLD_RUNS);
		measure_cold("cold: splitter: not a target",
			     HEDGE_PROG_SPLITTER, 0, 9001, 0);
		measure_cold("cold: splitter: new request, tick",
			     HEDGE_PROG_SPLITTER, 0, 9000, 8000000);
		measure_cold("cold: watcher: first response",
			     HEDGE_PROG_WATCHER, 1, 9000, 9000000);
		obj_close(&obj);
		return 0;
	} else if (argc > 1 && !strcmp(argv[1], "--pair")) {
		cfg.delay_line = HEDGE_DL_TICK;
		write_config(&cfg);
		i = (uint32_t)measure_pair();
		obj_close(&obj);
		return (int)i;
	} else if (argc > 1) {
		fprintf(stderr, "usage: bpf_cost [--cold | --pair]\n");
		return 2;
	}
	printf("mean per packet over %d runs (warm: %d):\n", RUNS, WARM_RUNS);
	/* Warm first, on an empty Scoreboard (see forget_entry()). */
	cfg.delay_line = HEDGE_DL_TICK;
	cfg.ring_mask = WARM_SLOTS - 1;
	write_config(&cfg);
	measure_warm("warm: splitter: new request, tick", HEDGE_PROG_SPLITTER,
		     0);
	measure_warm("warm: watcher: first response", HEDGE_PROG_WATCHER, 1);
	cfg.delay_line = HEDGE_DL_NETEM;
	cfg.ring_mask = PARK_SLOTS - 1;
	write_config(&cfg);
	measure_same("splitter: not a target", HEDGE_PROG_SPLITTER, 0, 9001, 0);
	measure_same("watcher: not from a target", HEDGE_PROG_WATCHER, 1, 9001,
		     0);
	measure_fresh("splitter: new request (+ clone)", HEDGE_PROG_SPLITTER,
		      0, 1000000);
	measure_same("splitter: request in flight", HEDGE_PROG_SPLITTER, 0,
		     9000, 1000000);
	/* The tick line parks the request's bytes instead of cloning. */
	cfg.delay_line = HEDGE_DL_TICK;
	write_config(&cfg);
	measure_fresh("splitter: new request, tick (parks)",
		      HEDGE_PROG_SPLITTER, 0, 5000000);
	cfg.ring_mask = WARM_SLOTS - 1;
	write_config(&cfg);
	measure_fresh_warm_slots("splitter: new request, tick, 8 slots",
				 6000000);
	cfg.ring_mask = PARK_SLOTS - 1;
	write_config(&cfg);
	measure_steady("splitter: new request, tick, 100 in flight", &cfg,
		       7000000);
	cfg.delay_line = HEDGE_DL_NETEM;
	write_config(&cfg);
	/* The clone's share: the same with a delay line that refuses it. */
	cfg.delay_ifindex = 0x7fffffff;
	write_config(&cfg);
	measure_fresh("splitter: new request, clone refused",
		      HEDGE_PROG_SPLITTER, 0, 3000000);
	cfg.delay_ifindex = if_nametoindex("tdl0");
	write_config(&cfg);
	measure_fresh("watcher: first response", HEDGE_PROG_WATCHER, 1,
		      3000000);
	measure_same("watcher: duplicate (dropped)", HEDGE_PROG_WATCHER, 1,
		     9000, 3000000);
	/* The Rescuer on clones of requests still pending. */
	for (i = 0; i < RUNS; i++) {
		packet(pkt, 0, 9000, 2000000 + i);
		run(HEDGE_PROG_SPLITTER, pkt, 1);
		total += run(HEDGE_PROG_RESCUER, pkt, 1);
	}
	print_cost("rescuer: due clone (hedge)", (double)total / RUNS);
	/* The single-run figures hold this much of the timer itself. */
	total = 0;
	packet(pkt, 0, 9001, 0);
	for (i = 0; i < RUNS; i++)
		total += run(HEDGE_PROG_SPLITTER, pkt, 1);
	print_cost("(single run of 'not a target')", (double)total / RUNS);
	/* A TCP target (10.0.0.2:80/tcp): established traffic to and from
	 * it, and UDP past the same programs. */
	{
		struct hedge_target_key tk = t.primary;
		uint32_t one = 1;

		tk.port = htons(80);
		tk.proto = HEDGE_PROTO_TCP;
		cfg.targets[1].primary = tk;
		cfg.n_targets = 2;
		cfg.flags |= HEDGE_F_TCP;
		map_update(obj_map_fd(&obj, HEDGE_MAP_TARGETS), &tk, &one);
		write_config(&cfg);
		tcp_packet(pkt, 0);
		print_cost("splitter: TCP target, established",
			   (double)run(HEDGE_PROG_SPLITTER, pkt, RUNS));
		tcp_packet(pkt, 1);
		print_cost("watcher: TCP target, established",
			   (double)run(HEDGE_PROG_WATCHER, pkt, RUNS));
		measure_same("splitter: not a target (TCP on)",
			     HEDGE_PROG_SPLITTER, 0, 9001, 0);
		measure_same("splitter: request in flight (TCP on)",
			     HEDGE_PROG_SPLITTER, 0, 9000, 1000000);
		tcp_nat(&cfg);
	}
	obj_close(&obj);
	return 0;
}
