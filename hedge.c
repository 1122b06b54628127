// SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
/*
 * hedge.c - the command line: `hedge up`, `hedge down`, `hedge status`.
 * A table of commands (as wireguard-tools' wg.c): each its options'
 * parser, the capabilities it needs, the lock it takes, and its function.
 * Exit codes are config.h's EXIT_*: 0 ok, 1 error, 2 usage, 3 degraded.
 *
 * The rest, by file: config.c (options into a validated config),
 * instance.c (the lock, pins, discovery), lifecycle.c (up and down),
 * snapshot.c (status read once), print_{text,json,prom}.c (its formats).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <linux/capability.h>
#include "lifecycle.h"
#include "snapshot.h"

#define HEDGE_VERSION	"0.1.0"

static const char usage_text[] =
	"usage: hedge up [--dev IFACE] --target TARGET [--target TARGET]...\n"
	"                [--delay DURATION|pNN] [--delay-min DURATION]\n"
	"                [--delay-max DURATION] [--id OFFSET:LEN|dns|none]\n"
	"                [--match OFFSET:HEX] [--hedge-dscp N]\n"
	"                [--hedge-priority N]\n"
	"                [--window DURATION] [--delay-line auto|netem|tick]\n"
	"                [--tick-cpu CPU] [--budget PERCENT]\n"
	"                [--budget-min-rate N] [--max-inflight N]\n"
	"                [--attach auto|tcx|tc] [--repair]\n"
	"       hedge up --dns [--resolv-conf FILE] [--dev IFACE] [options]\n"
	"       hedge down\n"
	"       hedge status [--json | --prometheus]\n"
	"       hedge --help | --version\n"
	"\n"
	"Hedges UDP requests in the kernel: a request to a target that has no\n"
	"response after --delay (default 10ms) is sent again; the first\n"
	"response wins and the kernel drops the other.\n"
	"\n"
	"  --dev IFACE        device the requests leave by (default lo)\n"
	"  --target TARGET    a server to hedge (up to 16): IP:PORT or\n"
	"                     [IPv6]:PORT; PRIMARY,REPLICA sends the hedges\n"
	"                     to REPLICA, whose answers reach the client as\n"
	"                     PRIMARY's; IP:PORT/tcp hedges TCP handshakes\n"
	"                     (a SYN with no SYN-ACK after the delay is sent\n"
	"                     again; no replica, no --id); /udp is the default\n"
	"  --delay DURATION   hedging threshold, 100us..10s (default 10ms)\n"
	"  --delay pNN        adaptive: each target's NNth percentile of\n"
	"                     response time (p50..p99.9), kept in the kernel\n"
	"                     (tick delay line; starts at --delay-max)\n"
	"  --delay-min/-max   bounds of an adaptive delay (default 1ms, 1s)\n"
	"  --id OFFSET:LEN    where the request ID is in the UDP payload, and\n"
	"                     in the response (default 0:4; LEN 1..8);\n"
	"                     dns = 0:2, and only standard queries (QR 0,\n"
	"                     opcode QUERY) are hedged; none = one request\n"
	"                     per 5-tuple\n"
	"  --match OFFSET:HEX hedge only requests whose UDP payload has these\n"
	"                     bytes (1..16, in hex) at OFFSET, e.g. 8:676574\n"
	"                     (memcached's \"get\", after its 8-byte UDP\n"
	"                     header); the rest pass unhedged, counted\n"
	"                     (requests_unsafe); it replaces --id dns's rule\n"
	"  --hedge-dscp N     the hedges (never the originals) carry DSCP N\n"
	"                     (0..63; e.g. 8, CS1), the ECN bits kept\n"
	"  --hedge-priority N the hedges carry skb priority N (0..4294967295)\n"
	"  --window DURATION  how long a request is tracked (default 1s, or\n"
	"                     twice the (largest) delay if that is longer)\n"
	"  --delay-line KIND  where requests wait: netem, or tick (needs only\n"
	"                     TBF); auto (default) is netem if the kernel has\n"
	"                     it, else tick\n"
	"  --tick-cpu CPU     tick line: the CPU the tick runs on (default: the\n"
	"                     one `up` runs on); keep it off busy CPUs\n"
	"  --budget PERCENT   hedges per 100 requests, per target, at most\n"
	"                     (default 10; 100: no budget)\n"
	"  --max-inflight N   tick line: requests parked at once, rounded up\n"
	"                     to a power of 2 (1024..1048576, default 65536)\n"
	"  --budget-min-rate N  hedges/s a target may have whatever its\n"
	"                     requests (default 10)\n"
	"  --attach KIND      how the programs go on --dev: tcx (6.6+, ahead\n"
	"                     of every other program), tc (clsact, at a pref\n"
	"                     ahead of every other filter); auto (default):\n"
	"                     tcx if the kernel has it, else tc\n"
	"  --repair           on a hedge already up: put back what is missing\n"
	"                     (programs, qdiscs, links, the tick), keeping\n"
	"                     its maps\n"
	"  --dns              hedge the nameservers of /etc/resolv.conf (port\n"
	"                     53, --id dns), on the device their routes leave\n"
	"                     by; each one's hedges go to the next of its\n"
	"                     family (a lone one: to itself); --delay 50ms\n"
	"                     unless given; --dev: only those behind it\n"
	"  --resolv-conf FILE --dns: the nameservers of FILE instead\n"
	"DURATION is a number with a unit: us, ms or s (e.g. 500us, 1.5ms).\n"
	"\n"
	"Exit codes: 0 ok; 1 error; 2 usage; 3 degraded: status found hedge\n"
	"up but not all of it working (a program missing or another running\n"
	"before it, the delay line down, the tick stopped, requests not\n"
	"hedged for lack of room in the last minute), each problem said.\n";

/* ---- the environment ------------------------------------------------ */

static int has_cap(const struct __user_cap_data_struct *d, int cap)
{
	return !!(d[cap / 32].effective & (1U << (cap % 32)));
}

/*
 * down and status need CAP_NET_ADMIN and CAP_BPF (the pins do the rest);
 * up also CAP_PERFMON: without it the verifier sanitizes pointer
 * arithmetic on map values and refuses hedge's per-bucket counters. The
 * tick line's packet socket needs CAP_NET_RAW, checked where it opens.
 */
static int check_caps(int up)
{
	struct __user_cap_header_struct hdr = {
		.version = _LINUX_CAPABILITY_VERSION_3,
	};
	struct __user_cap_data_struct data[2];
	int admin;

	memset(data, 0, sizeof(data));
	if (syscall(SYS_capget, &hdr, data))
		return fail("reading capabilities: %s", strerror(errno));
	admin = has_cap(data, CAP_SYS_ADMIN);
	if (!has_cap(data, CAP_NET_ADMIN) ||
	    !(has_cap(data, CAP_BPF) || admin))
		return fail("need CAP_NET_ADMIN and CAP_BPF%s (run as root)",
			    up ? " and CAP_PERFMON" : "");
	if (up && !(has_cap(data, CAP_PERFMON) || admin))
		return fail("need CAP_PERFMON too: without it the verifier "
			    "refuses hedge's programs (run as root)");
	return 0;
}

static int cmd_status(struct nl *nl, struct instance *in, struct options *o)
{
	static struct snapshot snap;	/* ~30 KiB: not on the stack */
	int found = instance_find(nl, in, 1);

	if (found < 0)
		return EXIT_ERROR;
	if (!found) {
		print_not_up(o->format);
		return EXIT_OK;
	}
	/* Health is checked every time: a check that cannot be made is an
	 * error (1); problems found make it degraded (3). */
	if (snapshot_take(nl, in, &snap) || health_check(nl, in, &snap))
		return EXIT_ERROR;
	if (o->format == FORMAT_PROMETHEUS)
		print_prom(&snap);
	else if (o->format == FORMAT_JSON)
		print_json(&snap);
	else
		print_text(&snap);
	if (fflush(stdout))
		return fail("writing the status: %s", strerror(errno)),
		       EXIT_ERROR;
	return snap.health.n ? EXIT_DEGRADED : EXIT_OK;
}

static int cmd_up_found(struct nl *nl, struct instance *in, struct options *o)
{
	int ret = o->dns ? dns_setup(nl, o) : 0;

	if (ret)
		return ret;
	return instance_find(nl, in, 0) < 0 ? EXIT_ERROR : cmd_up(nl, in, o);
}

static int cmd_down_found(struct nl *nl, struct instance *in,
			  struct options *o)
{
	(void)o;
	return instance_find(nl, in, 0) < 0 ? EXIT_ERROR : cmd_down(nl, in);
}

static const struct command {
	const char *name;
	int (*parse)(int argc, char **argv, struct options *o);
	int needs_up_caps;	/* CAP_PERFMON too: the verifier */
	enum lock_kind lock;
	int (*run)(struct nl *nl, struct instance *in, struct options *o);
} commands[] = {
	{ "up", parse_up, 1, LOCK_CHANGE, cmd_up_found },
	{ "down", parse_down, 0, LOCK_CHANGE, cmd_down_found },
	{ "status", parse_status, 0, LOCK_READ, cmd_status },
};

int main(int argc, char **argv)
{
	const char *name = argc > 1 ? argv[1] : "";
	const struct command *cmd = NULL;
	struct instance in;
	struct options o;
	struct nl nl;
	size_t i;
	int err, ret;

	if (!strcmp(name, "--help") || !strcmp(name, "-h")) {
		fputs(usage_text, stdout);
		return EXIT_OK;
	}
	if (!strcmp(name, "--version")) {
		printf("hedge %s\n", HEDGE_VERSION);
		return EXIT_OK;
	}
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(name, commands[i].name))
			cmd = &commands[i];
	if (!cmd) {
		if (*name)
			usage_error("unknown command '%s'", name);
		else
			usage_error("%s", "no command given");
		return EXIT_USAGE;
	}
	memset(&o, 0, sizeof(o));
	if (cmd->parse(argc - 2, argv + 2, &o))
		return EXIT_USAGE;

	instance_init(&in);
	if (check_caps(cmd->needs_up_caps) || instance_lock(&in, cmd->lock)) {
		instance_close(&in);
		return EXIT_ERROR;
	}
	err = nl_open(&nl);
	if (err) {
		instance_close(&in);
		return fail("opening rtnetlink: %s", strerror(-err)), EXIT_ERROR;
	}
	ret = cmd->run(&nl, &in, &o);
	nl_close(&nl);
	instance_close(&in);
	return ret;
}
