// SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
/*
 * unit_test.c - hedge's pure functions: the CPU list parser (every list
 * form /sys/devices/system/cpu/possible may take). Prints "PASS name" /
 * "FAIL name: why".
 */
#include <stdio.h>
#include "../snapshot.h"

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
	int failed = 0, got;

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
	printf("DONE unit_test\n");
	return failed ? 1 : 0;
}
