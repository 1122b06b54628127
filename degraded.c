// SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
/*
 * degraded.c - what `status` reports for a while after it happened, each
 * a request hedge could not hedge (health.c calls both):
 *
 * - a capacity drop lately: a counter flagged COUNTER_DROP in
 *   hedge_counters[] that any `status` saw rise within CAPACITY_HOLD_NS.
 *   The totals, and when they last rose, are kept per network namespace
 *   in HEDGE_RUN_DIR/net-INODE.look: several readers (a scrape, a probe,
 *   a person) all see a drop for a minute, and none hides it from the
 *   others, as a "since the last look" of one's own would;
 * - a target's overload brake on (bpf/brake.h), or released within
 *   CAPACITY_HOLD_NS: requests to it went unhedged.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include "health.h"
#include "snapshot.h"

/* ---- capacity drops, seen by any status within CAPACITY_HOLD_NS --------- */

#define LOOK_MAGIC	"hedge last look 2"

/* What the file keeps between two `status`, for one instance. */
struct look {
	uint64_t rise_ns;	/* when a status last saw a drop counter rise */
	uint64_t *total;	/* per counter: its total then */
	uint64_t *recent;	/* per counter: its rises in the hold window */
};

/* The file into *l (all zero if it is missing, of another format or of
 * another instance: every drop since that instance's up counts). */
static int look_read(const char *path, long id, const struct counter *table,
		     size_t n, struct look *l)
{
	unsigned long long total, recent, rise;
	char line[160], name[64];
	long got_id;
	FILE *f = fopen(path, "r");
	size_t i;

	if (!f)
		return errno == ENOENT ? 0 :
		       fail("reading %s: %s", path, strerror(errno));
	if (!fgets(line, sizeof(line), f) || strcmp(line, LOOK_MAGIC "\n") ||
	    !fgets(line, sizeof(line), f) ||
	    sscanf(line, "instance %ld rise %llu", &got_id, &rise) != 2 ||
	    got_id != id) {
		fclose(f);
		return 0;
	}
	l->rise_ns = rise;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%63s %llu %llu", name, &total, &recent) == 3)
			for (i = 0; i < n; i++)
				if (!strcmp(table[i].json, name)) {
					l->total[i] = total;
					l->recent[i] = recent;
				}
	fclose(f);
	return 0;
}

static int look_write(const char *path, long id, const struct counter *table,
		      size_t n, const struct look *l)
{
	char tmp[160];
	FILE *f;
	size_t i;
	int fd, err = 0;

	/* status holds only a shared lock: a temp name of this process's,
	 * then one rename that replaces the file whole. */
	snprintf(tmp, sizeof(tmp), "%s.%ld.tmp", path, (long)getpid());
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC,
		  0600);
	if (fd < 0 || !(f = fdopen(fd, "w"))) {
		if (fd >= 0)
			close(fd);
		return fail("writing %s: %s", tmp, strerror(errno));
	}
	fprintf(f, LOOK_MAGIC "\ninstance %ld rise %llu\n", id,
		(unsigned long long)l->rise_ns);
	for (i = 0; i < n; i++)
		if (table[i].flags & COUNTER_DROP)
			fprintf(f, "%s %llu %llu\n", table[i].json,
				(unsigned long long)l->total[i],
				(unsigned long long)l->recent[i]);
	if (ferror(f))
		err = EIO;
	if (fclose(f) && !err)
		err = errno;
	if (!err && rename(tmp, path))
		err = errno;
	if (err) {
		unlink(tmp);
		return fail("writing %s: %s", path, strerror(err));
	}
	return 0;
}

/* The rises since the file's totals join the window's (a new window if
 * the last rise is older than the hold); the file then holds `now`. */
static void look_update(struct look *l, const struct counter *table,
			size_t n, const uint64_t *now, uint64_t now_ns)
{
	int rose = 0, stale = now_ns - l->rise_ns > CAPACITY_HOLD_NS;
	size_t i;

	for (i = 0; i < n; i++) {
		if (!(table[i].flags & COUNTER_DROP))
			continue;
		if (stale)
			l->recent[i] = 0;
		/* Fewer than the file says: counted anew, not a drop. */
		if (now[i] > l->total[i]) {
			l->recent[i] += now[i] - l->total[i];
			rose = 1;
		}
		l->total[i] = now[i];
	}
	if (rose)
		l->rise_ns = now_ns;
	else if (stale)
		l->rise_ns = 0;
}

int capacity_recent(const char *path, long id, const struct counter *table,
		    size_t n, const uint64_t *now, uint64_t now_ns,
		    uint64_t *drops, char *which, size_t size)
{
	uint64_t *mem = calloc(2 * (n ? n : 1), sizeof(*mem));
	struct look l = { 0, mem, mem + (n ? n : 1) };
	size_t i, used = 0;
	int err;

	*drops = 0;
	if (size)
		which[0] = '\0';
	if (!mem)
		return fail("reading the last look: %s", strerror(ENOMEM));
	err = look_read(path, id, table, n, &l);
	if (!err) {
		look_update(&l, table, n, now, now_ns);
		err = look_write(path, id, table, n, &l);
	}
	for (i = 0; i < n && !err && l.rise_ns; i++) {
		if (!(table[i].flags & COUNTER_DROP) || !l.recent[i])
			continue;
		*drops += l.recent[i];
		if (used < size)
			used += (size_t)snprintf(which + used, size - used,
						 "%s%s %llu", used ? ", " : "",
						 table[i].json,
						 (unsigned long long)l.recent[i]);
	}
	free(mem);
	return err;
}

int check_capacity(const struct instance *in, const struct snapshot *s,
		   struct health *h)
{
	uint64_t now[64], drops;
	char path[80], which[160];
	struct stat st;
	size_t i, flagged = 0;
	uint32_t t;

	if (n_hedge_counters > sizeof(now) / sizeof(now[0]))
		return fail("too many counters for the last look");
	memset(now, 0, sizeof(now));
	for (i = 0; i < n_hedge_counters; i++) {
		if (!(hedge_counters[i].flags & COUNTER_DROP))
			continue;
		flagged++;
		for (t = 0; t < s->n; t++)
			now[i] += counter_value(&s->st[t], &hedge_counters[i]);
	}
	if (!flagged)
		return 0;	/* no counter of this build is a drop */
	if (stat("/proc/self/ns/net", &st))
		return fail("finding the network namespace: %s",
			    strerror(errno));
	snprintf(path, sizeof(path), HEDGE_RUN_DIR "/net-%lu.look",
		 (unsigned long)st.st_ino);
	if (capacity_recent(path, in->rescuer_id, hedge_counters,
			    n_hedge_counters, now, s->now_ns, &drops, which,
			    sizeof(which)))
		return -1;
	if (drops)
		problem(h, PROBLEM_CAPACITY, "%llu requests not hedged for "
			"lack of room, seen in the last %llu s (%s)",
			(unsigned long long)drops,
			CAPACITY_HOLD_NS / NS_PER_S, which);
	return 0;
}

/* ---- the overload brake ---------------------------------------------- */

/* A span said to the ms: "2344ms", not "2344370us". */
static uint64_t ms_of(uint64_t ns)
{
	return ns / NS_PER_MS * NS_PER_MS;
}

void check_brakes(const struct snapshot *s, struct health *h)
{
	const struct hedge_budget *b;
	char since[32], hold[32], ago[32];
	uint32_t t;

	for (t = 0; t < s->n; t++) {
		b = &s->brake[t];
		/* Never engaged, or released more than the hold ago. */
		if (!b->brake_until_ns || !b->brake_since_ns ||
		    (s->now_ns > b->brake_until_ns &&
		     s->now_ns - b->brake_until_ns > CAPACITY_HOLD_NS))
			continue;
		format_duration(since, sizeof(since),
				ms_of(s->now_ns - b->brake_since_ns));
		format_duration(hold, sizeof(hold), b->brake_hold_ns);
		if (braking(s, t))
			problem(h, PROBLEM_OVERLOAD, "overload brake on target "
				"%s since %s ago (hold %s), %llu requests "
				"unhedged", s->target[t], since, hold,
				(unsigned long long)s->st[t].requests_braked);
		else {
			format_duration(ago, sizeof(ago),
					ms_of(s->now_ns - b->brake_until_ns));
			problem(h, PROBLEM_OVERLOAD, "overload brake on target "
				"%s released %s ago, %llu requests unhedged",
				s->target[t], ago,
				(unsigned long long)s->st[t].requests_braked);
		}
	}
}
