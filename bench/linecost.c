/*
 * bench/linecost - what a cache line costs hedge's programs on this
 * machine when the line was written elsewhere or long ago: the floor
 * under each map access a request makes (a Scoreboard lookup walks a
 * bucket, then its element: dependent lines).
 *
 *   bench/linecost [CPU_A] [CPU_B]        (default 0 1)
 *
 * For each writer (CPU_B: the Splitter's CPU writing what the watcher on
 * CPU_A reads next; or CPU_A itself), each pause before the read (0, 100
 * and 1000 us: a request's round trip at 10 000 and 1 000 requests/s,
 * CPU_A sleeping meanwhile as it does between packets) and each size of
 * the region the lines lie in (64 KiB to 64 MiB: a map's size): chains of
 * 4 lines at random places in the region, each line holding the next's
 * address, written, then walked on CPU_A; ns per line, the median of
 * 512 chains. Every loop is bounded; nothing but memory is touched.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CHAIN	4
#define CHAINS	512
#define SPIN	100000000L	/* a wait's bound, in polls */

struct cell {
	char *mem;
	size_t lines;
	long *at;		/* CHAIN * CHAINS line indexes, distinct */
};

static int cpu_a, cpu_b;
static struct cell cur;
static _Atomic long turn;	/* odd: B writes chain turn/2; even: done */

static void pin(int cpu)
{
	cpu_set_t s;

	CPU_ZERO(&s);
	CPU_SET(cpu, &s);
	if (pthread_setaffinity_np(pthread_self(), sizeof(s), &s)) {
		fprintf(stderr, "linecost: pinning to CPU %d failed\n", cpu);
		exit(2);
	}
}

static double now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e9 + t.tv_nsec;
}

static void write_chain(long c)
{
	long j, *l;

	for (j = 0; j < CHAIN; j++) {
		l = (long *)(cur.mem + 64 * cur.at[c * CHAIN + j]);
		l[0] = j + 1 < CHAIN ?
		       (long)(cur.mem + 64 * cur.at[c * CHAIN + j + 1]) : 0;
		l[1] = c;
	}
}

static int wait_turn(long want)
{
	long i;

	for (i = 0; i < SPIN; i++)
		if (atomic_load(&turn) == want)
			return 0;
	return -1;
}

static void *writer(void *x)
{
	long c;

	(void)x;
	pin(cpu_b);
	for (c = 0; c < CHAINS; c++) {
		if (wait_turn(2 * c + 1))
			return 0;
		write_chain(c);
		atomic_store(&turn, 2 * c + 2);
	}
	return 0;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* ns per line of a chain written by CPU_B (remote) or CPU_A, read after
 * pause_us on CPU_A; -1 if the writer stalled. */
static double measure(int remote, long pause_us)
{
	static double ns[CHAINS];
	struct timespec p = { pause_us / 1000000, pause_us % 1000000 * 1000 };
	volatile long sink = 0;
	pthread_t t;
	long c, *l;
	double a;

	atomic_store(&turn, 0);
	if (remote && pthread_create(&t, 0, writer, 0))
		return -1;
	for (c = 0; c < CHAINS; c++) {
		if (remote) {
			atomic_store(&turn, 2 * c + 1);
			if (wait_turn(2 * c + 2))
				break;
		} else {
			write_chain(c);
		}
		if (pause_us)
			nanosleep(&p, 0);
		a = now_ns();
		for (l = (long *)(cur.mem + 64 * cur.at[c * CHAIN]); l;
		     l = (long *)l[0])
			sink += l[1];
		ns[c] = (now_ns() - a) / CHAIN;
	}
	if (remote)
		pthread_join(t, 0);
	if (c < CHAINS)
		return -1;
	qsort(ns, CHAINS, sizeof(ns[0]), cmp);
	return ns[CHAINS / 2];
}

int main(int argc, char **argv)
{
	static const size_t kib[] = { 64, 1024, 8192, 65536 };
	static const long pause[] = { 0, 100, 1000 };
	size_t s, i, j, n;
	int p, remote;

	cpu_a = argc > 1 ? atoi(argv[1]) : 0;
	cpu_b = argc > 2 ? atoi(argv[2]) : 1;
	pin(cpu_a);
	srand(1);
	printf("ns per line of a %d-line chain (median of %d), read on CPU %d\n",
	       CHAIN, CHAINS, cpu_a);
	printf("%-22s %8s", "written on, pause", "");
	for (s = 0; s < sizeof(kib) / sizeof(kib[0]); s++)
		printf(" %7zu KiB", kib[s]);
	printf("\n");
	for (remote = 1; remote >= 0; remote--)
		for (p = 0; p < 3; p++) {
			printf("CPU %d, %4ld us %10s", remote ? cpu_b : cpu_a,
			       pause[p], "");
			for (s = 0; s < sizeof(kib) / sizeof(kib[0]); s++) {
				cur.lines = kib[s] * 1024 / 64;
				cur.mem = aligned_alloc(4096, kib[s] * 1024);
				n = CHAIN * CHAINS;
				cur.at = malloc(sizeof(long) * n);
				if (!cur.mem || !cur.at) {
					fprintf(stderr, "linecost: out of memory\n");
					return 2;
				}
				memset(cur.mem, 1, kib[s] * 1024);
				/* random lines, distinct within a chain */
				for (i = 0; i < n; i++) {
					cur.at[i] = (long)(((size_t)rand() *
						   RAND_MAX + rand()) % cur.lines);
					for (j = i - i % CHAIN; j < i; j++)
						if (cur.at[j] == cur.at[i])
							cur.at[i] = (cur.at[i] + 1) %
								    cur.lines;
				}
				printf(" %11.0f", measure(remote, pause[p]));
				fflush(stdout);
				free(cur.mem);
				free(cur.at);
			}
			printf("\n");
		}
	return 0;
}
