// SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
/*
 * unit_test.c - hedge's pure functions: the CPU list parser (every list
 * form /sys/devices/system/cpu/possible may take), and health's capacity
 * drops seen lately (a file in a temp dir). Prints "PASS name" /
 * "FAIL name: why".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "../snapshot.h"

static int failed;

#define SEC	1000000000ULL

static void look_case(const char *path, long id, uint64_t at_s, uint64_t a,
		      uint64_t b, uint64_t c, uint64_t want,
		      const char *want_which, const char *name)
{
	/* A table of three: b and c are drops, a is not. */
	static const struct counter table[] = {
		{ 0, "a", "a", "a_total", "", 0 },
		{ 8, "b", "ring_full", "b_total", "", COUNTER_DROP },
		{ 16, "c", "too_big", "c_total", "", COUNTER_DROP },
	};
	uint64_t now[3] = { a, b, c }, drops = 12345;
	char which[64];
	int err = capacity_recent(path, id, table, 3, now, 1000 * SEC +
				  at_s * SEC, &drops, which, sizeof(which));
	int good = !err && drops == want && !strcmp(which, want_which);

	if (good)
		printf("PASS capacity: %s\n", name);
	else
		printf("FAIL capacity: %s: got %d, %llu \"%s\", wanted %llu "
		       "\"%s\"\n", name, err, (unsigned long long)drops, which,
		       (unsigned long long)want, want_which);
	failed += !good;
}

static void last_look(void)
{
	char dir[] = "/tmp/hedge-unit-XXXXXX", path[64], junk[80];
	uint64_t hold = CAPACITY_HOLD_NS / SEC;
	FILE *f;

	if (!mkdtemp(dir)) {
		printf("FAIL capacity: mkdtemp\n");
		failed++;
		return;
	}
	snprintf(path, sizeof(path), "%s/look", dir);
	look_case(path, 7, 0, 100, 2, 0, 2, "ring_full 2",
		  "no file yet: every drop since up counts");
	look_case(path, 7, 1, 200, 2, 0, 2, "ring_full 2",
		  "another reader within the hold: the same drops, once");
	look_case(path, 7, 2, 300, 5, 4, 9, "ring_full 5, too_big 4",
		  "more within the hold: added, each named");
	look_case(path, 7, 2 + hold, 300, 5, 4, 9, "ring_full 5, too_big 4",
		  "at the end of the hold: still said");
	look_case(path, 7, 3 + hold, 300, 5, 4, 0, "",
		  "past the hold, nothing new: healthy");
	look_case(path, 7, 4 + hold, 300, 6, 4, 1, "ring_full 1",
		  "a new rise: a new window");
	look_case(path, 8, 5 + hold, 0, 1, 0, 1, "ring_full 1",
		  "another instance: counted from its up");
	look_case(path, 8, 6 + hold, 0, 0, 0, 1, "ring_full 1",
		  "fewer than kept: not a drop, the window stays");
	snprintf(junk, sizeof(junk), "%s.%ld.tmp", path, (long)getpid());
	if (!access(junk, F_OK)) {
		printf("FAIL capacity: %s left behind\n", junk);
		failed++;
	} else {
		printf("PASS capacity: no temp file left behind\n");
	}
	f = fopen(path, "w");
	if (f) {
		fputs("garbage\n", f);
		fclose(f);
	}
	look_case(path, 8, 7 + hold, 0, 1, 0, 1, "ring_full 1",
		  "a file not of this format: as none");
	unlink(path);
	rmdir(dir);
}

int main(void)
{
	static const struct { const char *list; int want; } cases[] = {
		{ "0", 1 }, { "0\n", 1 }, { "0-3", 4 }, { "0-3\n", 4 },
		{ "0,2-3", 4 }, { "0-1,4-7\n", 8 }, { "3", 4 }, { "0,5", 6 },
		{ "0-7,16-23,8-15", 24 },
		{ "", -1 }, { "x", -1 }, { "3-1", -1 }, { "0-", -1 },
		{ "0,", -1 }, { ",0", -1 }, { "0-3 ", -1 }, { "-1", -1 },
	};
	size_t i;
	int got;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char shown[64];

		got = cpu_list_count(cases[i].list);
		printable(cases[i].list, shown, sizeof(shown));
		if (got == cases[i].want)
			printf("PASS cpu list '%s' -> %d\n", shown, got);
		else
			printf("FAIL cpu list '%s': got %d, wanted %d\n",
			       shown, got, cases[i].want);
		failed += got != cases[i].want;
	}
	last_look();
	printf("DONE unit_test\n");
	return failed ? 1 : 0;
}
