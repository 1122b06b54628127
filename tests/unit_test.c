// SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
/*
 * unit_test.c - hedge's pure functions: the CPU list parser (every list
 * form /sys/devices/system/cpu/possible may take), health's capacity drops
 * seen lately (a file in a temp dir), `up --dns`'s reading of resolv.conf
 * and the rings it makes, and `up`'s --match, --id dns and --hedge-*
 * options into the config and said back (safe.c). Prints "PASS name" /
 * "FAIL name: why".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include "../snapshot.h"
#include "../config.h"

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

/* ---- up --dns ----------------------------------------------------------- */

static void result(int good, const char *name, const char *why)
{
	if (good)
		printf("PASS dns: %s\n", name);
	else
		printf("FAIL dns: %s: %s\n", name, why);
	failed += !good;
}

/* The nameservers parsed, as "text/local,..." */
static void parsed(const struct dns_conf *c, char *buf, size_t size)
{
	size_t at = 0;
	int i;

	buf[0] = '\0';
	for (i = 0; i < c->n && at < size; i++)
		at += (size_t)snprintf(buf + at, size - at, "%s%s%s%s%s",
				       i ? "," : "", c->ns[i].text,
				       c->ns[i].scope[0] ? "@" : "",
				       c->ns[i].scope,
				       c->ns[i].local ? "/local" : "");
}

static void parse_cases(void)
{
	static const struct { const char *text, *want, *name; } cases[] = {
		{ "nameserver 192.0.2.1\n", "192.0.2.1", "one IPv4" },
		{ "# c\n; c\nsearch a.test\noptions edns0\n"
		  "nameserver 192.0.2.1 # trailing\nnameserver\t2001:db8::1\n"
		  "domain x\n", "192.0.2.1,2001:db8::1",
		  "comments, search, options, domain ignored; a tab" },
		{ "nameserver 192.0.2.1\r\nnameserver 192.0.2.2", "192.0.2.1,"
		  "192.0.2.2", "CRLF, no final newline" },
		{ "#nameserver 192.0.2.9\n;nameserver 192.0.2.9\n"
		  " nameserver 192.0.2.9\nnameservers 192.0.2.9\n"
		  "nameserver 192.0.2.1\n", "192.0.2.1",
		  "commented, indented (glibc ignores it), other keywords" },
		{ "nameserver 192.0.2.1\nnameserver 192.0.2.1\n", "192.0.2.1",
		  "the same twice counts once" },
		{ "nameserver 127.0.0.53\nnameserver ::1\nnameserver "
		  "127.1.2.3\n", "127.0.0.53/local,::1/local,127.1.2.3/local",
		  "loopback: local" },
		{ "nameserver fe80::1%eth0\n", "fe80::1%eth0@eth0",
		  "a scoped IPv6" },
		{ "", NULL, "empty: refused" },
		{ "# nothing\noptions timeout:1\n", NULL, "no nameserver" },
		{ "nameserver\n", NULL, "no address" },
		{ "nameserver 10.0.0.256\n", NULL, "not an address" },
		{ "nameserver 192.0.2.1%eth0\n", NULL, "a scoped IPv4" },
		{ "nameserver fe80::1%\n", NULL, "an empty scope" },
		{ "nameserver [2001:db8::1]\n", NULL, "brackets" },
	};
	struct dns_conf c;
	char got[512], why[600];
	size_t i;
	int err;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		err = dns_parse(cases[i].text, "test.conf", &c);
		parsed(&c, got, sizeof(got));
		snprintf(why, sizeof(why), "got %d '%s', wanted '%s'", err,
			 err ? "" : got, cases[i].want ? cases[i].want :
			 "an error");
		result(cases[i].want ? !err && !strcmp(got, cases[i].want) :
		       err == -1, cases[i].name, why);
	}
	{	/* 17 nameservers: more than hedge's 16 targets */
		char text[17 * 32];
		size_t at = 0;

		for (i = 0; i < 17; i++)
			at += (size_t)snprintf(text + at, sizeof(text) - at,
					       "nameserver 192.0.2.%zu\n", i + 1);
		result(dns_parse(text, "t", &c) == -1, "17 nameservers refused",
		       "taken");
	}
}

/* The ring of resolv.conf `text` whose nameservers route by devs[i]
 * ("" local), behind `dev` or any: "P>R,..." (R "-" if none), or "error". */
static void ring(const char *text, const char *const *devs, const char *dev,
		 char *out, size_t size)
{
	static struct hedge_config cfg;
	struct dns_conf c;
	char p[INET6_ADDRSTRLEN], r[INET6_ADDRSTRLEN];
	size_t at = 0;
	uint32_t i;
	int chosen;

	if (dns_parse(text, "t", &c)) {
		snprintf(out, size, "parse error");
		return;
	}
	for (i = 0; i < (uint32_t)c.n; i++) {
		strcpy(c.ns[i].dev, devs[i]);
		c.ns[i].local |= !*devs[i];
	}
	memset(&cfg, 0, sizeof(cfg));
	if (dns_ring(&c, dev, &cfg, &chosen)) {
		snprintf(out, size, "error");
		return;
	}
	out[0] = '\0';
	for (i = 0; i < cfg.n_targets && at < size; i++) {
		const struct hedge_target *t = &cfg.targets[i];
		int v4 = is_v4(&t->primary);

		inet_ntop(v4 ? AF_INET : AF_INET6, v4 ? t->primary.addr + 12 :
			  t->primary.addr, p, sizeof(p));
		inet_ntop(v4 ? AF_INET : AF_INET6, v4 ? t->replica.addr + 12 :
			  t->replica.addr, r, sizeof(r));
		at += (size_t)snprintf(out + at, size - at, "%s%s>%s", i ? "," :
				       "", p, t->replica.port ? r : "-");
		if (ntohs(t->primary.port) != 53)
			snprintf(out, size, "port %u", ntohs(t->primary.port));
	}
	at += (size_t)snprintf(out + at, size - at, " on %s", c.ns[chosen].dev);
}

static void ring_cases(void)
{
	static const char *const e4[] = { "e", "e", "e", "e", "e" };
	static const char *const mixed[] = { "e", "w", "e" };
	static const char *const stub[] = { "", "e", "" };
	static const struct {
		const char *text;
		const char *const *devs;
		const char *dev, *want, *name;
	} cases[] = {
		{ "nameserver 192.0.2.1\n", e4, NULL, "192.0.2.1>- on e",
		  "a lone nameserver hedges to itself" },
		{ "nameserver 192.0.2.1\nnameserver 192.0.2.2\n", e4, NULL,
		  "192.0.2.1>192.0.2.2,192.0.2.2>192.0.2.1 on e",
		  "two: each other's replicas" },
		{ "nameserver 192.0.2.1\nnameserver 192.0.2.2\n"
		  "nameserver 192.0.2.3\n", e4, NULL,
		  "192.0.2.1>192.0.2.2,192.0.2.2>192.0.2.3,192.0.2.3>192.0.2.1"
		  " on e", "three: a ring" },
		{ "nameserver 192.0.2.1\nnameserver 2001:db8::1\n"
		  "nameserver 192.0.2.2\nnameserver 2001:db8::2\n"
		  "nameserver fd00::3\n", e4, NULL,
		  "192.0.2.1>192.0.2.2,2001:db8::1>2001:db8::2,"
		  "192.0.2.2>192.0.2.1,2001:db8::2>fd00::3,fd00::3>2001:db8::1"
		  " on e", "one ring per family" },
		{ "nameserver 192.0.2.1\nnameserver 2001:db8::1\n", e4, NULL,
		  "192.0.2.1>-,2001:db8::1>- on e",
		  "a lone one of each family: to itself, never across" },
		{ "nameserver 192.0.2.1\nnameserver 192.0.2.2\n"
		  "nameserver 192.0.2.3\n", mixed, NULL, "error",
		  "different devices refused" },
		{ "nameserver 192.0.2.1\nnameserver 192.0.2.2\n"
		  "nameserver 192.0.2.3\n", mixed, "e",
		  "192.0.2.1>192.0.2.3,192.0.2.3>192.0.2.1 on e",
		  "--dev picks those behind it, their own ring" },
		{ "nameserver 192.0.2.1\nnameserver 192.0.2.2\n"
		  "nameserver 192.0.2.3\n", mixed, "w", "192.0.2.2>- on w",
		  "--dev picks the one behind it" },
		{ "nameserver 192.0.2.1\n", e4, "x", "error",
		  "--dev behind which none is" },
		{ "nameserver 127.0.0.53\n", stub, NULL, "error",
		  "only a stub: refused" },
		{ "nameserver 127.0.0.53\nnameserver 192.0.2.1\n"
		  "nameserver 10.0.0.1\n", stub, NULL, "192.0.2.1>- on e",
		  "a stub and a local address beside a nameserver: left out" },
	};
	char got[512], why[700];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ring(cases[i].text, cases[i].devs, cases[i].dev, got,
		     sizeof(got));
		snprintf(why, sizeof(why), "got '%s', wanted '%s'", got,
			 cases[i].want);
		result(!strcmp(got, cases[i].want), cases[i].name, why);
	}
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
	parse_cases();
	ring_cases();
	safe_options();
	printf("DONE unit_test\n");
	return failed ? 1 : 0;
}
