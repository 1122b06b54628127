/*
 * bench/timerlat.c - how late this host's timers fire: sleep to an
 * absolute CLOCK_MONOTONIC time every PERIOD us, COUNT times, on CPU
 * (timer slack 1 ns), and print the wake-up latency's p50/p90/p99/max.
 * The tick line's TBF watchdog is such a timer: hedge lateness cannot be
 * below this floor (BENCHMARKS.md, "Where the tick's lateness comes from").
 *
 *   bench/timerlat CPU [PERIOD_US [COUNT]]     (default 100 us, 10 000)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>

static long long now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000000000LL + t.tv_nsec;
}

static int cmp(const void *a, const void *b)
{
	long long x = *(const long long *)a, y = *(const long long *)b;

	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	int cpu, period, n, i, err;
	long long *d, t;
	cpu_set_t set;

	if (argc < 2 || argc > 4) {
		fprintf(stderr, "usage: timerlat CPU [PERIOD_US [COUNT]]\n");
		return 2;
	}
	cpu = atoi(argv[1]);
	period = argc > 2 ? atoi(argv[2]) : 100;
	n = argc > 3 ? atoi(argv[3]) : 10000;
	if (cpu < 0 || period <= 0 || n <= 0 || n > 10000000) {
		fprintf(stderr, "timerlat: bad arguments\n");
		return 2;
	}
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set) ||
	    prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL)) {
		fprintf(stderr, "timerlat: pinning to CPU %d: %s\n", cpu,
			strerror(errno));
		return 1;
	}
	d = calloc((size_t)n, sizeof(*d));
	if (!d) {
		fprintf(stderr, "timerlat: out of memory\n");
		return 1;
	}
	t = now_ns();
	for (i = 0; i < n; i++) {
		struct timespec ts;

		t += period * 1000LL;
		ts.tv_sec = t / 1000000000LL;
		ts.tv_nsec = t % 1000000000LL;
		do
			err = clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME,
					      &ts, NULL);
		while (err == EINTR);
		if (err) {
			fprintf(stderr, "timerlat: clock_nanosleep: %s\n",
				strerror(err));
			return 1;
		}
		d[i] = now_ns() - t;
	}
	qsort(d, (size_t)n, sizeof(*d), cmp);
	printf("cpu %d, every %d us, %d wake-ups: latency p50 %lld us, "
	       "p90 %lld, p99 %lld, max %lld\n", cpu, period, n,
	       d[n / 2] / 1000, d[(long long)n * 9 / 10] / 1000,
	       d[(long long)n * 99 / 100] / 1000, d[n - 1] / 1000);
	free(d);
	return 0;
}
