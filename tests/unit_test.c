// SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
/*
 * unit_test.c - hedge's pure functions: the CPU list parser (every list
 * form /sys/devices/system/cpu/possible may take), health's capacity
 * drops seen lately (a file in a temp dir), and `up`'s --match, --id dns
 * and --hedge-* options into the config and said back (safe.c). Prints "PASS name" /
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

/* `hedge up ARGS...` parsed: its match and dress said back, "" if refused. */
static void safe_case(const char *want_match, const char *want_dress,
		      char **args)
{
	struct options o;
	char match[48] = "", dress[48] = "", shown[160] = "";
	int argc = 0, ok;

	memset(&o, 0, sizeof(o));
	for (; args[argc]; argc++)
		snprintf(shown + strlen(shown), sizeof(shown) - strlen(shown),
			 "%s%s", argc ? " " : "", args[argc]);
	if (!parse_up(argc, args, &o)) {
		describe_match(&o.cfg, match, sizeof(match));
		describe_dress(&o.cfg, dress, sizeof(dress));
	}
	ok = !strcmp(match, want_match) && !strcmp(dress, want_dress);
	if (ok)
		printf("PASS up %s: hedged \"%s\", hedges \"%s\"\n", shown,
		       match, dress);
	else
		printf("FAIL up %s: got \"%s\" \"%s\", wanted \"%s\" "
		       "\"%s\"\n", shown, match, dress, want_match, want_dress);
	failed += !ok;
}

static void safe_options(void)
{
#define ARGS(...) ((char *[]){ "--target", "192.0.2.1:53", __VA_ARGS__, NULL })
	safe_case("all", "", ARGS("--id", "0:2"));
	safe_case("dns", "", ARGS("--id", "dns"));
	safe_case("all", "", ARGS("--id", "dns", "--id", "0:2"));
	safe_case("8:676574", "", ARGS("--id", "dns", "--match", "8:676574"));
	safe_case("8:676574", "", ARGS("--match", "8:676574", "--id", "dns"));
	safe_case("0:00ff", "", ARGS("--match", "0:00FF"));
	safe_case("all", "dscp 0, priority 4294967295",
		  ARGS("--hedge-dscp", "0", "--hedge-priority", "4294967295"));
	safe_case("all", "priority 16", ARGS("--hedge-priority", "0x10"));
	safe_case("all", "dscp 63", ARGS("--hedge-dscp", "63"));
#undef ARGS
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
	safe_options();
	printf("DONE unit_test\n");
	return failed ? 1 : 0;
}
