// SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
/*
 * hedge.c - the command line: `hedge up`, `hedge down`, `hedge status`.
 *
 * up:     parse and validate -> load the BPF object -> build the delay
 *         line -> attach the watcher and Splitter; any failure undoes
 *         everything done so far.
 * down:   find what `up` left through the kernel itself (the Rescuer's
 *         filter on DL_OUT -> its program -> its maps -> the config) and
 *         undo exactly that. Pins are a shortcut where they are visible,
 *         not the source of truth: `ip netns exec` gives every run a
 *         private /sys.
 * status: the same discovery, then the counters.
 */
#include <errno.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <time.h>
#include <net/if_arp.h>
#include <linux/capability.h>
#include "hedge.h"
#include "hedge_user.h"

#define HEDGE_VERSION	"0.1.0"
#define EXIT_USAGE	2

#define NS_PER_US	1000ULL
#define NS_PER_MS	1000000ULL
#define NS_PER_S	1000000000ULL
#define DELAY_MIN_NS	(100 * NS_PER_US)
#define DELAY_MAX_NS	(10 * NS_PER_S)
#define WINDOW_MAX_NS	(60 * NS_PER_S)

#define BPFFS		"/sys/fs/bpf"
#define BPFFS_MAGIC	0xcafe4a11
#define MAX_FILTERS	64
#define TICK_CPU_MAX	1023	/* the last CPU a cpu_set_t can name */
#define BUDGET_RATE_MAX	1000000
#define TARGET_STR	112	/* "[IPv6]:PORT,[IPv6]:PORT" */

static const char usage_text[] =
	"usage: hedge up [--dev IFACE] --target TARGET [--target TARGET]...\n"
	"                [--delay DURATION|pNN] [--delay-min DURATION]\n"
	"                [--delay-max DURATION] [--id OFFSET:LEN|dns|none]\n"
	"                [--window DURATION] [--delay-line auto|netem|tick]\n"
	"                [--tick-cpu CPU] [--budget PERCENT]\n"
	"                [--budget-min-rate N]\n"
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
	"                     PRIMARY's\n"
	"  --delay DURATION   hedging threshold, 100us..10s (default 10ms)\n"
	"  --delay pNN        adaptive: each target's NNth percentile of\n"
	"                     response time (p50..p99.9), kept in the kernel\n"
	"                     (tick delay line; starts at --delay-max)\n"
	"  --delay-min/-max   bounds of an adaptive delay (default 1ms, 1s)\n"
	"  --id OFFSET:LEN    where the request ID is in the UDP payload, and\n"
	"                     in the response (default 0:4; LEN 1..8);\n"
	"                     dns = 0:2; none = one request per 5-tuple\n"
	"  --window DURATION  how long a request is tracked (default 1s, or\n"
	"                     twice the (largest) delay if that is longer)\n"
	"  --delay-line KIND  where requests wait: netem, or tick (needs only\n"
	"                     TBF); auto (default) is netem if the kernel has\n"
	"                     it, else tick\n"
	"  --tick-cpu CPU     tick line: the CPU the tick runs on (default: the\n"
	"                     one `up` runs on); keep it off busy CPUs\n"
	"  --budget PERCENT   hedges per 100 requests, per target, at most\n"
	"                     (default 10; 100: no budget)\n"
	"  --budget-min-rate N  hedges/s a target may have whatever its\n"
	"                     requests (default 10)\n"
	"DURATION is a number with a unit: us, ms or s (e.g. 500us, 1.5ms).\n";

enum format { FORMAT_TEXT, FORMAT_JSON, FORMAT_PROMETHEUS };

/* Everything `up` was asked to do, validated. */
struct options {
	const char *dev;
	struct hedge_config cfg;	/* targets, delay, window, id */
	const struct delay_line *line;	/* NULL: auto, netem else tick */
	enum format format;		/* status */
	int window_given, bounds_given;
};

/* What `up` has done so far, which is what `down` undoes. */
struct setup {
	struct hedge_config cfg;
	const struct delay_line *line;	/* chosen */
	int built;			/* the delay line's pair exists */
	int attached;			/* filters may be on the device */
	char pin_dir[64];
	int pinned;
};

/* ---- parsing -------------------------------------------------------- */

static int usage_error(const char *fmt, const char *arg)
{
	fputs("hedge: ", stderr);
	fprintf(stderr, fmt, arg);
	fputs(" (see 'hedge --help')\n", stderr);
	return -1;
}

/* "10ms", "1.5s", "500us": a decimal number and a unit, into ns. */
static int parse_duration(const char *s, uint64_t *ns)
{
	static const struct { const char *unit; uint64_t ns; } units[] = {
		{ "us", NS_PER_US }, { "ms", NS_PER_MS }, { "s", NS_PER_S },
	};
	uint64_t whole = 0, frac = 0, scale = 1;
	const char *p = s;
	size_t i;

	if (*p < '0' || *p > '9')
		return -1;
	for (; *p >= '0' && *p <= '9'; p++) {
		whole = whole * 10 + (uint64_t)(*p - '0');
		if (whole > 1000000000ULL)
			return -1;
	}
	if (*p == '.') {
		for (p++; *p >= '0' && *p <= '9'; p++)
			if (scale < 1000000000ULL) {
				frac = frac * 10 + (uint64_t)(*p - '0');
				scale *= 10;
			}
		if (p[-1] == '.')
			return -1;
	}
	for (i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (!strcmp(p, units[i].unit)) {
			*ns = whole * units[i].ns + frac * units[i].ns / scale;
			return 0;
		}
	return -1;
}

/* "p95", "p99.9": a percentile in 50..99.9, into hundredths (9500). */
static int parse_percentile(const char *s, uint32_t *x100)
{
	unsigned long whole, tenth = 0;
	char *end;

	if (s[0] != 'p' || s[1] < '0' || s[1] > '9')
		return -1;
	errno = 0;
	whole = strtoul(s + 1, &end, 10);
	if (errno || whole < 50 || whole > 99)
		return -1;
	if (*end == '.') {
		if (end[1] < '0' || end[1] > '9' || end[2])
			return -1;
		tenth = (unsigned long)(end[1] - '0');
	} else if (*end) {
		return -1;
	}
	*x100 = (uint32_t)(whole * 100 + tenth * 10);
	return 0;
}

static int parse_uint(const char *s, unsigned long max, unsigned long *v)
{
	char *end;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	*v = strtoul(s, &end, 10);
	return errno || *end || *v > max ? -1 : 0;
}

/* "192.0.2.2:53" or "[2001:db8::2]:53", into an address as hedge keeps
 * it (IPv4 mapped into IPv6) and a port. */
static int parse_endpoint(const char *s, const char *whole,
			  struct hedge_target_key *t)
{
	char addr[INET6_ADDRSTRLEN];
	const char *colon = strrchr(s, ':'), *host = s;
	size_t len = colon ? (size_t)(colon - s) : 0;
	unsigned long port;
	struct in_addr in;

	if (s[0] == '[') {	/* IPv6 in brackets */
		host++;
		len = colon && colon > s + 1 && colon[-1] == ']' ?
		      (size_t)(colon - host - 1) : 0;
	} else if (colon && strchr(s, ':') != colon) {
		return usage_error("--target %s: write an IPv6 address in "
				   "brackets, e.g. [2001:db8::2]:53", whole);
	}
	if (!colon || !len || len >= sizeof(addr) ||
	    parse_uint(colon + 1, 65535, &port) || !port)
		return usage_error("--target %s: expected IP:PORT or [IPv6]:PORT "
				   "with a port in 1..65535", whole);
	memcpy(addr, host, len);
	addr[len] = '\0';
	memset(t, 0, sizeof(*t));
	if (s[0] == '[') {
		if (inet_pton(AF_INET6, addr, t->addr) != 1)
			return usage_error("--target %s: not an IPv6 address",
					   whole);
	} else if (inet_pton(AF_INET, addr, &in) == 1) {
		t->addr[10] = t->addr[11] = 0xff;
		memcpy(t->addr + 12, &in, 4);
	} else {
		return usage_error("--target %s: not an IPv4 address", whole);
	}
	t->port = htons((uint16_t)port);
	return 0;
}

static int is_v4(const struct hedge_target_key *t)
{
	static const uint8_t mapped[12] = { [10] = 0xff, [11] = 0xff };

	return !memcmp(t->addr, mapped, sizeof(mapped));
}

/* "PRIMARY" or "PRIMARY,REPLICA": hedges to the same server, or to a
 * replica of the same family. */
static int parse_target(const char *s, struct hedge_target *t)
{
	char primary[64];
	const char *comma = strchr(s, ',');
	size_t len = comma ? (size_t)(comma - s) : strlen(s);

	memset(t, 0, sizeof(*t));
	if (len >= sizeof(primary))
		return usage_error("--target %s: too long", s);
	memcpy(primary, s, len);
	primary[len] = '\0';
	if (parse_endpoint(primary, s, &t->primary) ||
	    (comma && parse_endpoint(comma + 1, s, &t->replica)))
		return -1;
	if (comma && is_v4(&t->primary) != is_v4(&t->replica))
		return usage_error("--target %s: the replica must be of the "
				   "primary's family", s);
	if (comma && !memcmp(&t->primary, &t->replica, sizeof(t->primary)))
		return usage_error("--target %s: the replica is the primary", s);
	return 0;
}

static int same_endpoint(const struct hedge_target_key *a,
			 const struct hedge_target_key *b)
{
	return b->port && !memcmp(a, b, sizeof(*a));
}

static int add_target(struct hedge_config *cfg, const char *s)
{
	struct hedge_target t;
	uint32_t i;

	if (parse_target(s, &t))
		return -1;
	if (cfg->n_targets == HEDGE_MAX_TARGETS)
		return usage_error("--target %s: at most 16 targets", s);
	/* A server is one target's primary, one target's replica, or both
	 * (two servers may be each other's replicas), but only once each. */
	for (i = 0; i < cfg->n_targets; i++) {
		const struct hedge_target *o = &cfg->targets[i];

		if (same_endpoint(&t.primary, &o->primary) ||
		    same_endpoint(&t.replica, &o->replica))
			return usage_error("--target %s: a server given twice",
					   s);
	}
	cfg->targets[cfg->n_targets++] = t;
	return 0;
}

static int parse_id(const char *s, struct hedge_config *cfg)
{
	unsigned long off, len;
	char buf[32], *colon;

	if (!strcmp(s, "dns"))
		s = "0:2";
	if (!strcmp(s, "none")) {
		cfg->id_offset = cfg->id_len = 0;
		return 0;
	}
	if (strlen(s) >= sizeof(buf) || !(colon = strchr(strcpy(buf, s), ':')))
		return usage_error("--id %s: expected OFFSET:LEN, dns or none", s);
	*colon = '\0';
	if (parse_uint(buf, HEDGE_ID_MAX_OFFSET, &off) ||
	    parse_uint(colon + 1, HEDGE_ID_MAX_LEN, &len) || !len)
		return usage_error("--id %s: OFFSET must be 0..1464 and LEN "
				   "1..8", s);
	cfg->id_offset = (uint16_t)off;
	cfg->id_len = (uint16_t)len;
	return 0;
}

static int parse_delay(const char *opt, const char *val, __u64 *ns)
{
	char both[64];
	uint64_t v;

	if (parse_duration(val, &v) || v < DELAY_MIN_NS || v > DELAY_MAX_NS) {
		snprintf(both, sizeof(both), "%s %s", opt, val);
		return usage_error("%s: expected a duration in 100us..10s, "
				   "e.g. 10ms", both);
	}
	*ns = v;
	return 0;
}

/* The rules between options, once all are read. */
static int check_up(struct options *o)
{
	struct hedge_config *c = &o->cfg;
	int adaptive = !!(c->flags & HEDGE_F_ADAPTIVE);

	if (!c->n_targets)
		return usage_error("up: %s", "at least one --target IP:PORT "
				   "is needed");
	if (c->tick_cpu >= 0 && o->line == &delay_line_netem)
		return usage_error("up: %s", "--tick-cpu is for the tick delay "
				   "line");
	if (o->bounds_given && !adaptive)
		return usage_error("up: %s", "--delay-min and --delay-max are "
				   "for an adaptive delay (--delay pNN)");
	if (adaptive && o->line == &delay_line_netem)
		return usage_error("up: %s", "an adaptive delay (--delay pNN) "
				   "needs the tick delay line: netem's delay "
				   "is one for all");
	if (adaptive && c->delay_min_ns > c->delay_max_ns)
		return usage_error("up: %s", "--delay-min is above --delay-max");
	if (adaptive) {
		c->delay_ns = c->delay_max_ns;	/* until responses come */
		o->line = &delay_line_tick;
	}
	/* A budget saves up at most a second of its floor, or 10 hedges. */
	c->budget_cap = (uint64_t)(c->budget_min_rate > 10 ?
				   c->budget_min_rate : 10) * HEDGE_MILLI;
	if (!o->window_given && c->window_ns < 2 * c->delay_ns)
		c->window_ns = 2 * c->delay_ns;
	if (c->window_ns <= c->delay_ns)
		return usage_error("up: %s", adaptive ? "--window must be "
				   "longer than --delay-max" : "--window must "
				   "be longer than --delay");
	return 0;
}

static int parse_up(int argc, char **argv, struct options *o)
{
	uint64_t ns;
	int i;

	o->cfg.delay_ns = 10 * NS_PER_MS;
	o->cfg.delay_min_ns = NS_PER_MS;
	o->cfg.delay_max_ns = NS_PER_S;
	o->cfg.budget_pct = 10;
	o->cfg.budget_min_rate = 10;
	o->cfg.tick_cpu = -1;
	o->cfg.window_ns = NS_PER_S;
	o->cfg.id_len = 4;
	o->dev = "lo";
	for (i = 0; i < argc; i++) {
		const char *opt = argv[i], *val = argv[i + 1];

		if (!strcmp(opt, "--dev") || !strcmp(opt, "--target") ||
		    !strcmp(opt, "--delay") || !strcmp(opt, "--id") ||
		    !strcmp(opt, "--window") || !strcmp(opt, "--delay-line") ||
		    !strcmp(opt, "--tick-cpu") || !strcmp(opt, "--delay-min") ||
		    !strcmp(opt, "--delay-max") || !strcmp(opt, "--budget") ||
		    !strcmp(opt, "--budget-min-rate")) {
			if (!val)
				return usage_error("%s needs a value", opt);
			i++;
		} else {
			return usage_error("up: unknown option '%s'", opt);
		}
		if (!strcmp(opt, "--dev")) {
			if (!*val || strlen(val) >= IF_NAMESIZE)
				return usage_error("--dev '%s': not a device "
						   "name", val);
			o->dev = val;
		} else if (!strcmp(opt, "--target")) {
			if (add_target(&o->cfg, val))
				return -1;
		} else if (!strcmp(opt, "--delay") && val[0] == 'p') {
			if (parse_percentile(val, &o->cfg.delay_pct))
				return usage_error("--delay %s: expected a "
						   "percentile p50..p99.9, e.g. "
						   "p95", val);
			o->cfg.flags |= HEDGE_F_ADAPTIVE;
		} else if (!strcmp(opt, "--delay")) {
			if (parse_delay("--delay", val, &o->cfg.delay_ns))
				return -1;
			o->cfg.flags &= ~(uint32_t)HEDGE_F_ADAPTIVE;
		} else if (!strcmp(opt, "--delay-min")) {
			if (parse_delay("--delay-min", val, &o->cfg.delay_min_ns))
				return -1;
			o->bounds_given = 1;
		} else if (!strcmp(opt, "--delay-max")) {
			if (parse_delay("--delay-max", val, &o->cfg.delay_max_ns))
				return -1;
			o->bounds_given = 1;
		} else if (!strcmp(opt, "--id")) {
			if (parse_id(val, &o->cfg))
				return -1;
		} else if (!strcmp(opt, "--budget")) {
			unsigned long pct;

			if (parse_uint(val, 100, &pct))
				return usage_error("--budget %s: expected a "
						   "percentage 0..100", val);
			o->cfg.budget_pct = (uint32_t)pct;
		} else if (!strcmp(opt, "--budget-min-rate")) {
			unsigned long rate;

			if (parse_uint(val, BUDGET_RATE_MAX, &rate))
				return usage_error("--budget-min-rate %s: "
						   "expected hedges a second, "
						   "0..1000000", val);
			o->cfg.budget_min_rate = (uint32_t)rate;
		} else if (!strcmp(opt, "--tick-cpu")) {
			unsigned long cpu;

			if (parse_uint(val, TICK_CPU_MAX, &cpu))
				return usage_error("--tick-cpu %s: expected a "
						   "CPU number", val);
			o->cfg.tick_cpu = (int32_t)cpu;
		} else if (!strcmp(opt, "--delay-line")) {
			if (!strcmp(val, "netem"))
				o->line = &delay_line_netem;
			else if (!strcmp(val, "tick"))
				o->line = &delay_line_tick;
			else if (strcmp(val, "auto"))
				return usage_error("--delay-line %s: expected "
						   "auto, netem or tick", val);
		} else if (parse_duration(val, &ns) || !ns ||
			   ns > WINDOW_MAX_NS) {
			return usage_error("--window %s: expected a duration "
					   "up to 60s, e.g. 1s", val);
		} else {
			o->cfg.window_ns = ns;
			o->window_given = 1;
		}
	}
	return check_up(o);
}

static const struct delay_line *const delay_lines[] = {
	&delay_line_netem, &delay_line_tick,
};
#define N_LINES (sizeof(delay_lines) / sizeof(delay_lines[0]))

static const struct delay_line *line_of(unsigned int kind)
{
	size_t i;

	for (i = 0; i < N_LINES; i++)
		if (delay_lines[i]->kind == kind)
			return delay_lines[i];
	return NULL;
}

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

/*
 * One hedge at a time per network namespace: an abstract unix socket
 * is scoped by netns, leaves no file behind, and dies with the process.
 */
static int take_lock(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return fail("creating the lock socket: %s", strerror(errno));
	memcpy(sa.sun_path, "\0hedge.lock", 11);
	if (bind(fd, (struct sockaddr *)&sa,
		 offsetof(struct sockaddr_un, sun_path) + 11)) {
		if (errno == EADDRINUSE)
			return fail("another hedge is running in this network "
				    "namespace");
		return fail("taking the lock: %s", strerror(errno));
	}
	return fd;	/* held until exit */
}

/* Pins live per network namespace: bpffs is shared across them. */
static int pin_dir(char *dir, size_t size)
{
	struct stat st;

	if (stat("/proc/self/ns/net", &st))
		return fail("finding the network namespace: %s",
			    strerror(errno));
	snprintf(dir, size, BPFFS "/hedge-net%lu", (unsigned long)st.st_ino);
	return 0;
}

static int bpffs_mounted(void)
{
	struct statfs fs;

	return !statfs(BPFFS, &fs) && (unsigned long)fs.f_type == BPFFS_MAGIC;
}

static int bpffs_empty(void)
{
	DIR *d = opendir(BPFFS);
	struct dirent *e;
	int empty = 1;

	if (!d)
		return 0;
	/* A fresh bpffs already holds the kernel's preloaded iterators. */
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") &&
		    strcmp(e->d_name, "maps.debug") &&
		    strcmp(e->d_name, "progs.debug"))
			empty = 0;
	closedir(d);
	return empty;
}

static const char *const pinned_maps[] = {
	HEDGE_MAP_CONFIG, HEDGE_MAP_STATS, HEDGE_MAP_TARGETS, HEDGE_MAP_SCORES,
	HEDGE_MAP_ADAPT, HEDGE_MAP_TICK,
};
#define N_PINNED (sizeof(pinned_maps) / sizeof(pinned_maps[0]))

static int pin_maps(struct setup *s, const struct bpf_obj *obj)
{
	char path[128];
	size_t i;
	int err;

	s->pinned = 1;		/* from here, teardown unpins (and unmounts) */
	if (!bpffs_mounted()) {
		if (mount("bpf", BPFFS, "bpf", 0, "mode=0700"))
			return fail("mounting bpffs on " BPFFS ": %s%s",
				    strerror(errno), errno == EPERM ? " (mount "
				    "it first, or run with CAP_SYS_ADMIN)" : "");
		s->cfg.flags |= HEDGE_F_MOUNTED_BPFFS;
	}
	if (mkdir(s->pin_dir, 0700))
		return fail("creating %s: %s", s->pin_dir, strerror(errno));
	for (i = 0; i < N_PINNED; i++) {
		snprintf(path, sizeof(path), "%s/%s", s->pin_dir,
			 pinned_maps[i]);
		err = obj_pin(obj_map_fd(obj, pinned_maps[i]), path);
		if (err)
			return fail("pinning %s: %s", path, strerror(-err));
	}
	return 0;
}

static int unpin_maps(const struct setup *s)
{
	char path[128];
	size_t i;
	int ret = 0;

	for (i = 0; i < N_PINNED; i++) {
		snprintf(path, sizeof(path), "%s/%s", s->pin_dir,
			 pinned_maps[i]);
		if (unlink(path) && errno != ENOENT)
			ret = fail("removing %s: %s", path, strerror(errno));
	}
	if (rmdir(s->pin_dir) && errno != ENOENT)
		ret = fail("removing %s: %s", s->pin_dir, strerror(errno));
	/* bpffs we mounted goes again, unless someone else used it since. */
	if ((s->cfg.flags & HEDGE_F_MOUNTED_BPFFS) && bpffs_mounted() &&
	    bpffs_empty() && umount(BPFFS))
		ret = fail("unmounting " BPFFS ": %s", strerror(errno));
	return ret;
}

/* ---- finding what `up` left ------------------------------------------ */

/*
 * hedge's filter `name` on one clsact hook, into *ours (handle 0 if it
 * is not there); returns how many filters the hook has, or -1.
 */
static int find_ours(struct nl *nl, int ifindex, int ingress, const char *name,
		     struct tc_filter *ours)
{
	struct tc_filter fs[MAX_FILTERS];
	int i, n = nl_filters(nl, ifindex, ingress, fs, MAX_FILTERS);

	memset(ours, 0, sizeof(*ours));
	if (n < 0)
		return nl_fail(nl, n, "listing filters");
	for (i = 0; i < n; i++)
		if (!strcmp(fs[i].kind, "bpf") && !strcmp(fs[i].name, name))
			*ours = fs[i];
	return n;
}

/* The program id of hedge's filter `name` on a hook: 0 none, -1 error. */
static long filter_prog_id(struct nl *nl, int ifindex, int ingress,
			   const char *name)
{
	struct tc_filter ours;

	if (find_ours(nl, ifindex, ingress, name, &ours) < 0)
		return -1;
	return ours.prog_id;
}

/*
 * The pinned maps, when this mount namespace sees them and they belong to
 * the delay line that exists now (not to an earlier, crashed run): BPF_OBJ_GET
 * needs no CAP_SYS_ADMIN, unlike looking programs up by id.
 */
static int pinned_fds(int out, int *config_fd, int *stats_fd)
{
	char dir[64], path[128];
	struct hedge_config cfg;
	uint32_t zero = 0;

	if (pin_dir(dir, sizeof(dir)))
		return 0;
	snprintf(path, sizeof(path), "%s/" HEDGE_MAP_CONFIG, dir);
	*config_fd = obj_get(path);
	snprintf(path, sizeof(path), "%s/" HEDGE_MAP_STATS, dir);
	*stats_fd = obj_get(path);
	if (*config_fd >= 0 && *stats_fd >= 0 &&
	    !map_lookup(*config_fd, &zero, &cfg) &&
	    cfg.rescue_ifindex == (uint32_t)out)
		return 1;
	if (*config_fd >= 0)
		close(*config_fd);
	if (*stats_fd >= 0)
		close(*stats_fd);
	*config_fd = *stats_fd = -1;
	return 0;
}

static int discover(struct nl *nl, int *config_fd, int *stats_fd,
		    int *foreign)
{
	int out = if_nametoindex(DL_OUT), prog;
	long id;

	*foreign = 0;
	if (!out)
		return 0;
	id = filter_prog_id(nl, out, 1, HEDGE_PROG_RESCUER);
	if (id > 0 && pinned_fds(out, config_fd, stats_fd))
		return 1;
	if (id <= 0) {
		*foreign = !id;
		return id ? -1 : 0;
	}
	prog = prog_fd_by_id(id);
	if (prog < 0)
		return fail("opening the Rescuer (program %ld): %s%s", id,
			    strerror(-prog), prog == -EPERM ? " (without the "
			    "pins in " BPFFS ", this needs CAP_SYS_ADMIN)" : "");
	*config_fd = prog_map_fd(prog, HEDGE_MAP_CONFIG);
	*stats_fd = prog_map_fd(prog, HEDGE_MAP_STATS);
	close(prog);
	if (*config_fd < 0 || *stats_fd < 0)
		return fail("the Rescuer on " DL_OUT " has no hedge maps");
	return 1;
}

/* The running hedge's config, and its stats map: 1, 0 if not up, -1. */
static int running(struct nl *nl, struct hedge_config *cfg, int *stats_fd)
{
	int config_fd = -1, foreign, found, err;
	uint32_t zero = 0;

	found = discover(nl, &config_fd, stats_fd, &foreign);
	if (found <= 0)
		return found;
	err = map_lookup(config_fd, &zero, cfg);
	close(config_fd);
	if (!err)
		return 1;
	close(*stats_fd);
	return fail("reading the config map: %s", strerror(-err));
}

/*
 * The running hedge's map `name` (a tick line map): through its pin when
 * the pins are this run's, else through the ticker; -1 if neither opens.
 */
static int tick_map_fd(struct nl *nl, const struct hedge_config *cfg,
		       const char *name)
{
	int config_fd, stats_fd, fd = -1, prog;
	char dir[64], path[128];
	long id;

	if (pinned_fds((int)cfg->rescue_ifindex, &config_fd, &stats_fd)) {
		close(config_fd);
		close(stats_fd);
		if (!pin_dir(dir, sizeof(dir))) {
			snprintf(path, sizeof(path), "%s/%s", dir, name);
			fd = obj_get(path);
		}
	}
	if (fd < 0) {
		id = filter_prog_id(nl, cfg->delay_ifindex, 1,
				    HEDGE_PROG_TICKER);
		prog = id > 0 ? prog_fd_by_id(id) : -1;
		if (prog < 0)
			return -1;
		fd = prog_map_fd(prog, name);
		close(prog);
	}
	return fd;
}

static int read_tick_map(struct nl *nl, const struct hedge_config *cfg,
			 const char *name, uint32_t key, void *value)
{
	int fd = tick_map_fd(nl, cfg, name), err;

	if (fd < 0)
		return -1;
	err = map_lookup(fd, &key, value);
	close(fd);
	return err;
}

/* ---- undoing -------------------------------------------------------- */

/* Remove hedge's filter from one hook of the device: only its own. */
static int detach(struct nl *nl, int ifindex, int ingress, const char *name,
		  int *others)
{
	struct tc_filter ours;
	int n = find_ours(nl, ifindex, ingress, name, &ours), err;

	if (n < 0)
		return -1;
	*others += n - !!ours.handle;
	if (!ours.handle)
		return 0;
	err = nl_filter_del(nl, ifindex, ingress, ours.prio, ours.handle);
	return err ? nl_fail(nl, err, ingress ? "detaching the watcher" :
			     "detaching the Splitter") : 0;
}

/* Undo `up`, step by step backwards; goes on past errors. */
static int teardown(struct nl *nl, const struct setup *s)
{
	int dev = s->cfg.dev_ifindex, others = 0, ret = 0;
	char name[IF_NAMESIZE];

	/* A device deleted since took hedge's filters with it. */
	if (s->attached && if_indextoname(dev, name)) {
		/* The Splitter first: no new clones while the rest goes. */
		ret |= detach(nl, dev, 0, HEDGE_PROG_SPLITTER, &others);
		ret |= detach(nl, dev, 1, HEDGE_PROG_WATCHER, &others);
		if ((s->cfg.flags & HEDGE_F_CREATED_CLSACT) && !ret &&
		    !others) {
			int err = nl_clsact_del(nl, dev);

			if (err)
				ret |= nl_fail(nl, err, "removing the clsact "
					       "qdisc");
		}
	}
	if (s->built)
		ret |= dl_destroy(nl);
	if (s->pinned)
		ret |= unpin_maps(s);
	return ret ? -1 : 0;
}

/* ---- up ------------------------------------------------------------- */

static int check_device(struct nl *nl, struct options *o)
{
	int ifindex = if_nametoindex(o->dev), err;
	struct nl_link link;
	unsigned short type;
	char kind[16];

	if (!ifindex)
		return fail("unknown device '%s'", o->dev);
	err = nl_link_get(nl, ifindex, &link);
	if (err)
		return nl_fail(nl, err, "reading the device's type");
	type = link.type;
	if (type != ARPHRD_ETHER && type != ARPHRD_LOOPBACK)
		return fail("device '%s' is not Ethernet-like (link type %u): "
			    "hedge needs Ethernet headers", o->dev, type);
	/*
	 * The old ingress qdisc sits where clsact goes, and a filter meant
	 * for egress would silently land on its ingress hook.
	 */
	err = nl_ingress_qdisc_kind(nl, ifindex, kind);
	if (err && err != -ENOENT)
		return nl_fail(nl, err, "reading the device's qdiscs");
	if (!err && *kind && strcmp(kind, "clsact"))
		return fail("device '%s' has an '%s' qdisc where hedge needs "
			    "clsact (which does its job too): remove it with "
			    "'tc qdisc del dev %s %s'", o->dev, kind, o->dev,
			    kind);
	o->cfg.dev_ifindex = ifindex;
	if (type == ARPHRD_LOOPBACK)
		o->cfg.flags |= HEDGE_F_DEV_IS_LOOPBACK;
	return 0;
}

static int check_not_up(struct nl *nl, const char *dev)
{
	int config_fd = -1, stats_fd = -1, foreign, found;

	found = discover(nl, &config_fd, &stats_fd, &foreign);
	if (found < 0)
		return -1;
	if (found) {
		close(config_fd);
		close(stats_fd);
		return fail("already up (run 'hedge down' first)");
	}
	if (foreign || if_nametoindex(DL_IN) || !strcmp(dev, DL_IN) ||
	    !strcmp(dev, DL_OUT))
		return fail("a device named " DL_IN " or " DL_OUT " exists and "
			    "is not hedge's: the delay line needs those names");
	return 0;
}

static int is_primary(const struct hedge_config *cfg,
		      const struct hedge_target_key *k)
{
	uint32_t i;

	for (i = 0; i < cfg->n_targets; i++)
		if (same_endpoint(k, &cfg->targets[i].primary))
			return 1;
	return 0;
}

static int fill_maps(const struct bpf_obj *obj, const struct hedge_config *cfg)
{
	int targets = obj_map_fd(obj, HEDGE_MAP_TARGETS);
	int adapt = obj_map_fd(obj, HEDGE_MAP_ADAPT);
	int budget = obj_map_fd(obj, HEDGE_MAP_BUDGET);
	struct hedge_adapt first = { .delay_ns = cfg->delay_ns };
	struct hedge_budget full = { .tokens = (int64_t)cfg->budget_cap };
	uint32_t i, zero = 0;
	int err = 0;

	for (i = 0; i < cfg->n_targets && !err; i++) {
		uint32_t replica = i | HEDGE_TARGET_REPLICA;

		err = map_update(targets, &cfg->targets[i].primary, &i);
		/* A replica that is a target too is known as that (its
		 * answers to hedges are told apart by the Scoreboard). */
		if (!err && cfg->targets[i].replica.port &&
		    !is_primary(cfg, &cfg->targets[i].replica))
			err = map_update(targets, &cfg->targets[i].replica,
					 &replica);
		if (!err)
			err = map_update(adapt, &i, &first);
		if (!err)
			err = map_update(budget, &i, &full);
	}
	if (!err)
		err = map_update(obj_map_fd(obj, HEDGE_MAP_CONFIG), &zero, cfg);
	return err ? fail("filling the BPF maps: %s", strerror(-err)) : 0;
}

static int attach(struct nl *nl, struct setup *s, const struct bpf_obj *obj)
{
	int dev = s->cfg.dev_ifindex, err;

	err = nl_clsact_add(nl, dev);
	if (!err)
		s->cfg.flags |= HEDGE_F_CREATED_CLSACT;
	else if (err != -EEXIST)	/* EEXIST: another tool's; share it */
		return nl_fail(nl, err, "adding the clsact qdisc to the device");
	s->attached = 1;
	if (fill_maps(obj, &s->cfg))
		return -1;
	/* The watcher first: every response to a cloned request is seen. */
	err = nl_bpf_filter_add(nl, dev, 1, obj_prog_fd(obj,
				HEDGE_PROG_WATCHER), HEDGE_PROG_WATCHER);
	if (err)
		return nl_fail(nl, err, "attaching the watcher");
	err = nl_bpf_filter_add(nl, dev, 0, obj_prog_fd(obj,
				HEDGE_PROG_SPLITTER), HEDGE_PROG_SPLITTER);
	return err ? nl_fail(nl, err, "attaching the Splitter") : 0;
}

static void format_duration(char *buf, size_t size, uint64_t ns)
{
	if (ns % NS_PER_S == 0)
		snprintf(buf, size, "%llus", (unsigned long long)(ns / NS_PER_S));
	else if (ns % NS_PER_MS == 0)
		snprintf(buf, size, "%llums",
			 (unsigned long long)(ns / NS_PER_MS));
	else
		snprintf(buf, size, "%lluus",
			 (unsigned long long)(ns / NS_PER_US));
}

/* How `up` was told to delay: "10ms", or "p95 in 1ms..1s". */
static void describe_delay(const struct hedge_config *cfg, char *buf,
			   size_t size)
{
	char min[24], max[24];

	if (!(cfg->flags & HEDGE_F_ADAPTIVE)) {
		format_duration(buf, size, cfg->delay_ns);
		return;
	}
	format_duration(min, sizeof(min), cfg->delay_min_ns);
	format_duration(max, sizeof(max), cfg->delay_max_ns);
	if (cfg->delay_pct % 100)
		snprintf(buf, size, "p%u.%u in %s..%s", cfg->delay_pct / 100,
			 cfg->delay_pct % 100 / 10, min, max);
	else
		snprintf(buf, size, "p%u in %s..%s", cfg->delay_pct / 100,
			 min, max);
}

/*
 * Build the delay line: the one asked for, or with auto netem, falling
 * back to tick where the kernel has no netem. Then the object, sized for
 * it, and its programs on the line.
 */
/* The map sizes for this run: a deadline queue per target, and whatever
 * the delay line wants (which may shrink them further). */
#define MAX_SIZES 8
static const struct map_size *map_sizes(struct map_size *sizes,
					const struct delay_line *line,
					uint32_t n_targets)
{
	const struct map_size *l;
	size_t n = 0;

	sizes[n++] = (struct map_size){ HEDGE_MAP_DUE, n_targets };
	for (l = line->sizes; l && l->name && n < MAX_SIZES - 1; l++)
		sizes[n++] = *l;
	sizes[n] = (struct map_size){ NULL, 0 };
	return sizes;
}

static int build_line(struct nl *nl, const struct options *o,
		      struct setup *s, struct bpf_obj *obj)
{
	struct map_size sizes[MAX_SIZES];
	size_t i;
	int err = -ENOENT;

	if (dl_create(nl, &s->cfg))
		return -1;
	s->built = 1;
	for (i = 0; i < N_LINES && err == -ENOENT; i++) {
		s->line = o->line ? o->line : delay_lines[i];
		err = s->line->build(nl, &s->cfg);
		if (err == -ENOENT && (o->line || i == N_LINES - 1))
			return fail("this kernel has no %s", s->line->needs);
	}
	if (err)
		return -1;
	if (s->cfg.tick_cpu >= 0 && !s->line->start)
		return fail("--tick-cpu is for the tick delay line, and this "
			    "kernel has netem: add --delay-line tick");
	s->cfg.delay_line = s->line->kind;
	if (obj_load(obj, map_sizes(sizes, s->line, s->cfg.n_targets)))
		return -1;
	return dl_attach(nl, &s->cfg, s->line, obj);
}

static int has_replica(const struct hedge_config *cfg)
{
	uint32_t i;

	for (i = 0; i < cfg->n_targets; i++)
		if (cfg->targets[i].replica.port)
			return 1;
	return 0;
}

static int cmd_up(struct nl *nl, struct options *o)
{
	struct setup s;
	struct bpf_obj obj = { 0 };
	char delay[80];

	memset(&s, 0, sizeof(s));
	if (check_device(nl, o) || check_not_up(nl, o->dev) ||
	    pin_dir(s.pin_dir, sizeof(s.pin_dir)))
		return 1;
	s.cfg = o->cfg;
	if (build_line(nl, o, &s, &obj) || pin_maps(&s, &obj) ||
	    attach(nl, &s, &obj) ||
	    (s.line->start && s.line->start(&s.cfg)))
		goto undo;
	obj_close(&obj);

	describe_delay(&s.cfg, delay, sizeof(delay));
	printf("hedge up on %s: %u target%s%s, delay %s (%s delay line)\n",
	       o->dev, s.cfg.n_targets, s.cfg.n_targets > 1 ? "s" : "",
	       has_replica(&s.cfg) ? " (hedged to replicas where given)" : "",
	       delay, s.line->name);
	return 0;
undo:
	teardown(nl, &s);
	obj_close(&obj);
	return 1;
}

/* ---- down and status ------------------------------------------------ */

static int cmd_down(struct nl *nl)
{
	int stats_fd = -1, found;
	struct setup s;

	memset(&s, 0, sizeof(s));
	found = running(nl, &s.cfg, &stats_fd);
	if (found < 0)
		return 1;
	if (!found) {
		printf("hedge is not up: nothing to do\n");
		return 0;
	}
	close(stats_fd);
	if (pin_dir(s.pin_dir, sizeof(s.pin_dir)))
		return 1;
	s.built = 1;
	s.attached = 1;
	s.pinned = 1;
	if (teardown(nl, &s))
		return 1;
	printf("hedge down\n");
	return 0;
}

static void endpoint_str(const struct hedge_target_key *t, char *buf,
			 size_t size)
{
	char addr[INET6_ADDRSTRLEN];

	if (is_v4(t)) {
		inet_ntop(AF_INET, t->addr + 12, addr, sizeof(addr));
		snprintf(buf, size, "%s:%u", addr, ntohs(t->port));
	} else {
		inet_ntop(AF_INET6, t->addr, addr, sizeof(addr));
		snprintf(buf, size, "[%s]:%u", addr, ntohs(t->port));
	}
}

/* The target as --target took it. */
static void target_str(const struct hedge_target *t, char *buf, size_t size)
{
	size_t n;

	endpoint_str(&t->primary, buf, size);
	n = strlen(buf);
	if (t->replica.port && n + 1 < size) {
		buf[n] = ',';
		endpoint_str(&t->replica, buf + n + 1, size - n - 1);
	}
}

/* The lateness of `pct` percent of the hedges, at most: a bucket's top. */
static uint64_t late_percentile_us(const struct hedge_stats *st, double pct)
{
	uint64_t seen = 0, late = st->hedges_sent - st->early;
	int i;

	for (i = 0; i < HEDGE_LATE_BUCKETS - 1; i++) {
		seen += st->late[i];
		if (late && seen >= pct / 100 * late)
			break;
	}
	if (i < HEDGE_LATE_BUCKETS - 1 &&
	    (i + 1) * HEDGE_LATE_STEP_NS < st->late_max_ns)
		return (i + 1) * HEDGE_LATE_STEP_NS / NS_PER_US;
	return st->late_max_ns / NS_PER_US;	/* the open last bucket */
}

/* How long after their deadlines hedges left: never before, if all is well. */
static void print_lateness(const struct hedge_stats *st, int json)
{
	unsigned long long p50 = late_percentile_us(st, 50);
	unsigned long long p99 = late_percentile_us(st, 99);
	unsigned long long max = st->late_max_ns / NS_PER_US;
	int i;

	if (!json) {
		printf("  hedge lateness: %llu early, p50 <= %llu us, "
		       "p99 <= %llu us, max %llu us\n",
		       (unsigned long long)st->early, p50, p99, max);
		return;
	}
	printf("\"early\":%llu,\"late_p50_us\":%llu,\"late_p99_us\":%llu,"
	       "\"late_max_us\":%llu,\"late_16us_buckets\":[",
	       (unsigned long long)st->early, p50, p99, max);
	for (i = 0; i < HEDGE_LATE_BUCKETS; i++)
		printf("%s%llu", i ? "," : "", (unsigned long long)st->late[i]);
	printf("]}");
}

/* Each target's delay now: its adaptive delay, or the fixed one; 0 where
 * it cannot be read. The map is opened once for all targets. */
static void current_delays(struct nl *nl, const struct hedge_config *cfg,
			   uint64_t delays[HEDGE_MAX_TARGETS])
{
	int fd = -1;
	struct hedge_adapt a;
	uint32_t i;

	if (cfg->flags & HEDGE_F_ADAPTIVE)
		fd = tick_map_fd(nl, cfg, HEDGE_MAP_ADAPT);
	for (i = 0; i < cfg->n_targets && i < HEDGE_MAX_TARGETS; i++) {
		if (!(cfg->flags & HEDGE_F_ADAPTIVE))
			delays[i] = cfg->delay_ns;
		else
			delays[i] = fd >= 0 && !map_lookup(fd, &i, &a) ?
				    a.delay_ns : 0;
	}
	if (fd >= 0)
		close(fd);
}

/* Response time of `pct` percent of the responses, at most: the top of
 * the bucket it falls in (the last bucket has none: its bottom). */
static uint64_t rt_percentile_ns(const struct hedge_stats *st, double pct)
{
	uint64_t seen = 0, count = 0;
	uint32_t b;

	for (b = 0; b < HEDGE_HIST_BUCKETS; b++)
		count += st->rt[b];
	for (b = 0; b < HEDGE_HIST_BUCKETS - 1; b++) {
		seen += st->rt[b];
		if (count && seen >= pct / 100 * count)
			return hedge_hist_floor_ns(b + 1);
	}
	return count ? hedge_hist_floor_ns(HEDGE_HIST_BUCKETS - 1) : 0;
}

static void print_response_time(const struct hedge_stats *st, int json)
{
	unsigned long long p50 = rt_percentile_ns(st, 50) / NS_PER_US;
	unsigned long long p99 = rt_percentile_ns(st, 99) / NS_PER_US;
	unsigned long long mean = st->responses ?
		st->rt_sum_ns / st->responses / NS_PER_US : 0;

	if (json)
		printf("\"response_time\":{\"count\":%llu,\"sum_ns\":%llu,"
		       "\"p50_us\":%llu,\"p99_us\":%llu},",
		       (unsigned long long)st->responses,
		       (unsigned long long)st->rt_sum_ns, p50, p99);
	else if (st->responses)
		printf("  response time: p50 <= %llu us, p99 <= %llu us, "
		       "mean %llu us\n", p50, p99, mean);
}

static void print_status(struct nl *nl, const struct hedge_config *cfg,
			 int stats_fd, int json)
{
	char dev[IF_NAMESIZE] = "?", delay[80], window[32], target[TARGET_STR];
	const struct delay_line *line = line_of(cfg->delay_line);
	const char *line_name = line ? line->name : "?";
	uint64_t delays[HEDGE_MAX_TARGETS], now_ns;
	struct hedge_stats st;
	uint32_t i;

	if_indextoname(cfg->dev_ifindex, dev);
	current_delays(nl, cfg, delays);
	describe_delay(cfg, delay, sizeof(delay));
	format_duration(window, sizeof(window), cfg->window_ns);
	if (json)
		printf("{\"up\":true,\"dev\":\"%s\",\"delay_line\":\"%s\","
		       "\"delay\":\"%s\",\"window_ns\":%llu,"
		       "\"id_offset\":%u,\"id_len\":%u,\"budget_pct\":%u,"
		       "\"budget_min_rate\":%u,\"targets\":[",
		       dev, line_name, delay,
		       (unsigned long long)cfg->window_ns, cfg->id_offset,
		       cfg->id_len, cfg->budget_pct, cfg->budget_min_rate);
	else
		printf("up on %s: delay %s (%s delay line), window %s, "
		       "id %u:%u, budget %u%% + %u/s\n", dev, delay, line_name,
		       window, cfg->id_offset, cfg->id_len, cfg->budget_pct,
		       cfg->budget_min_rate);
	for (i = 0; i < cfg->n_targets && i < HEDGE_MAX_TARGETS; i++) {
		target_str(&cfg->targets[i], target, sizeof(target));
		stats_read(stats_fd, i, &st);
		now_ns = delays[i];
		if (json)
			printf("%s{\"target\":\"%s\",\"delay_ns\":%llu,",
			       i ? "," : "", target,
			       (unsigned long long)now_ns);
		else if (!now_ns)
			printf("target %s: delay now unknown (its state cannot "
			       "be read here)\n", target);
		else
			printf("target %s: delay now %llu us\n", target,
			       (unsigned long long)(now_ns / NS_PER_US));
		printf(json ? "\"requests\":%llu,"
			      "\"hedges_sent\":%llu,\"hedges_cancelled\":%llu,"
			      "\"hedges_refused\":%llu,"
			      "\"responses\":%llu,\"duplicates_dropped\":%llu,"
			    : "  requests %llu, hedges sent %llu, "
			      "hedges cancelled %llu, hedges refused %llu, "
			      "responses %llu, duplicates dropped %llu\n",
		       (unsigned long long)st.requests,
		       (unsigned long long)st.hedges_sent,
		       (unsigned long long)st.hedges_cancelled,
		       (unsigned long long)st.hedges_refused,
		       (unsigned long long)st.responses,
		       (unsigned long long)st.duplicates);
		if (cfg->targets[i].replica.port)
			printf(json ? "\"hedges_won\":%llu,\"hedges_lost\":%llu,"
				    : "  hedges won %llu (the replica answered "
				      "first), lost %llu\n",
			       (unsigned long long)st.hedges_won,
			       (unsigned long long)st.hedges_lost);
		print_response_time(&st, json);
		print_lateness(&st, json);
	}
	if (json)
		printf("]");
}

/* ---- status --prometheus -------------------------------------------- */

/* One counter family: HELP, TYPE, and a sample per target. */
static void prom_counter(const char *name, const char *help,
			 char targets[][TARGET_STR], const struct hedge_stats *st,
			 uint32_t n, size_t field)
{
	uint32_t i;

	printf("# HELP hedge_%s %s\n# TYPE hedge_%s counter\n", name, help,
	       name);
	for (i = 0; i < n; i++)
		printf("hedge_%s{target=\"%s\"} %llu\n", name, targets[i],
		       (unsigned long long)*(const uint64_t *)
		       ((const char *)&st[i] + field));
}

/* Response times as a Prometheus histogram: a bucket per power of two
 * (every HEDGE_HIST_SUB of hedge's own), cumulative, then +Inf. */
static void prom_response_time(char targets[][TARGET_STR],
			       const struct hedge_stats *st, uint32_t n)
{
	uint64_t below;
	uint32_t i, b;

	printf("# HELP hedge_response_time_seconds Time from a request to its "
	       "first response.\n"
	       "# TYPE hedge_response_time_seconds histogram\n");
	for (i = 0; i < n; i++) {
		below = 0;
		for (b = 0; b < HEDGE_HIST_BUCKETS - 1; b++) {
			below += st[i].rt[b];
			if ((b + 1) % HEDGE_HIST_SUB == 0)
				printf("hedge_response_time_seconds_bucket"
				       "{target=\"%s\",le=\"%.9f\"} %llu\n",
				       targets[i], (double)hedge_hist_floor_ns(
				       b + 1) / NS_PER_S,
				       (unsigned long long)below);
		}
		below += st[i].rt[HEDGE_HIST_BUCKETS - 1];
		printf("hedge_response_time_seconds_bucket{target=\"%s\","
		       "le=\"+Inf\"} %llu\n"
		       "hedge_response_time_seconds_sum{target=\"%s\"} %.9f\n"
		       "hedge_response_time_seconds_count{target=\"%s\"} %llu\n",
		       targets[i], (unsigned long long)below, targets[i],
		       (double)st[i].rt_sum_ns / NS_PER_S, targets[i],
		       (unsigned long long)below);
	}
}

static void print_prometheus(struct nl *nl, const struct hedge_config *cfg,
			     int stats_fd)
{
	static const struct {
		const char *name, *help;
		size_t field;
	} counters[] = {
#define COUNTER(name, field, help) \
	{ name, help, offsetof(struct hedge_stats, field) }
		COUNTER("requests_total", requests,
			"Requests to the target seen by the Splitter."),
		COUNTER("responses_total", responses,
			"First responses, passed to the client."),
		COUNTER("duplicates_dropped_total", duplicates,
			"Later responses to an answered request, dropped."),
		COUNTER("hedges_sent_total", hedges_sent,
			"Hedges sent: requests unanswered after the delay."),
		COUNTER("hedges_cancelled_total", hedges_cancelled,
			"Hedges not sent: the response came first."),
		COUNTER("hedges_refused_total", hedges_refused,
			"Hedges not sent: over the hedging budget."),
		COUNTER("hedges_won_total", hedges_won,
			"Hedges to a replica that answered first."),
		COUNTER("hedges_lost_total", hedges_lost,
			"Hedges to a replica answered second."),
		COUNTER("hedges_early_total", early,
			"Hedges sent before their deadline (should stay 0)."),
#undef COUNTER
	};
	static struct hedge_stats st[HEDGE_MAX_TARGETS];
	char targets[HEDGE_MAX_TARGETS][TARGET_STR];
	uint64_t delays[HEDGE_MAX_TARGETS];
	uint32_t i, n = cfg->n_targets < HEDGE_MAX_TARGETS ?
			cfg->n_targets : HEDGE_MAX_TARGETS;

	for (i = 0; i < n; i++) {
		target_str(&cfg->targets[i], targets[i], sizeof(targets[i]));
		stats_read(stats_fd, i, &st[i]);
	}
	printf("# HELP hedge_up Whether hedge is up.\n# TYPE hedge_up gauge\n"
	       "hedge_up 1\n");
	for (i = 0; i < sizeof(counters) / sizeof(counters[0]); i++)
		prom_counter(counters[i].name, counters[i].help, targets, st,
			     n, counters[i].field);
	current_delays(nl, cfg, delays);
	printf("# HELP hedge_delay_seconds The delay a request gets now.\n"
	       "# TYPE hedge_delay_seconds gauge\n");
	for (i = 0; i < n; i++)
		printf("hedge_delay_seconds{target=\"%s\"} %.9f\n", targets[i],
		       (double)delays[i] / NS_PER_S);
	prom_response_time(targets, st, n);
}

/*
 * Each program's cost per packet by the kernel's own accounting, which
 * counts only while kernel.bpf_stats_enabled is 1.
 */
static void print_prog_costs(struct nl *nl, const struct hedge_config *cfg,
			     int json)
{
	const struct { const char *label, *name; int ifindex, ingress; }
	progs[] = {
		{ "splitter", HEDGE_PROG_SPLITTER, (int)cfg->dev_ifindex, 0 },
		{ "watcher", HEDGE_PROG_WATCHER, (int)cfg->dev_ifindex, 1 },
		{ "rescuer", HEDGE_PROG_RESCUER, (int)cfg->rescue_ifindex, 1 },
		{ "ticker", HEDGE_PROG_TICKER, (int)cfg->delay_ifindex, 1 },
	};
	size_t i, n = cfg->delay_line == HEDGE_DL_TICK ? 4 : 3;
	uint64_t ns, cnt;

	printf(json ? ",\"programs\":{" : "programs (ns per packet while "
	       "kernel.bpf_stats_enabled=1):");
	for (i = 0; i < n; i++) {
		long id = filter_prog_id(nl, progs[i].ifindex,
					 progs[i].ingress, progs[i].name);

		if (id <= 0 || prog_run_stats(id, &ns, &cnt))
			ns = cnt = 0;
		if (json)
			printf("%s\"%s\":{\"run_cnt\":%llu,\"run_time_ns\":%llu}",
			       i ? "," : "", progs[i].label,
			       (unsigned long long)cnt, (unsigned long long)ns);
		else
			printf(" %s %llu ns x %llu", progs[i].label,
			       (unsigned long long)(cnt ? ns / cnt : 0),
			       (unsigned long long)cnt);
	}
	printf(json ? "}" : "\n");
}

static const char *tick_state_name(uint64_t run)
{
	switch (HEDGE_TICK_STATE(run)) {
	case HEDGE_TICK_RUNNING:
		return "running";
	case HEDGE_TICK_IDLE:
		return "idle";
	case HEDGE_TICK_STARTING:
		return "starting";
	}
	return "unknown";
}

/* The tick line's pulse: how many ticks, and how long since the last. */
static void print_ticker(struct nl *nl, const struct hedge_config *cfg,
			 int json)
{
	struct hedge_ticker t = { 0 };
	struct timespec now;
	uint64_t ago;

	if (read_tick_map(nl, cfg, HEDGE_MAP_TICK, 0, &t)) {
		/* say so, rather than print a tick that never was */
		printf(json ? ",\"ticker\":null" : "ticker: its state cannot "
		       "be read here (without the pins, that needs "
		       "CAP_SYS_ADMIN)\n");
		return;
	}
	/* bpf_ktime_get_ns() is CLOCK_MONOTONIC. */
	clock_gettime(CLOCK_MONOTONIC, &now);
	ago = (uint64_t)now.tv_sec * NS_PER_S + now.tv_nsec - t.last_ns;
	if (json)
		printf(",\"ticker\":{\"ticks\":%llu,\"cpu\":%u,"
		       "\"last_tick_ago_us\":%llu,\"state\":\"%s\","
		       "\"generation\":%u,\"starts\":%llu,\"restarts\":%llu,"
		       "\"old_ticks\":%llu}",
		       (unsigned long long)t.ticks, t.cpu,
		       (unsigned long long)(ago / NS_PER_US),
		       tick_state_name(t.run), HEDGE_TICK_GEN(t.run),
		       (unsigned long long)t.starts,
		       (unsigned long long)t.restarts,
		       (unsigned long long)t.old_ticks);
	else
		printf("ticker: %s, %llu ticks on CPU %u, the last %llu us "
		       "ago; %llu starts after idle, %llu restarts of a lost "
		       "tick\n", tick_state_name(t.run),
		       (unsigned long long)t.ticks, t.cpu,
		       (unsigned long long)(ago / NS_PER_US),
		       (unsigned long long)t.starts,
		       (unsigned long long)t.restarts);
}

static int cmd_status(struct nl *nl, enum format format)
{
	int stats_fd = -1, found, json = format == FORMAT_JSON;
	struct hedge_config cfg;

	found = running(nl, &cfg, &stats_fd);
	if (found < 0)
		return 1;
	if (!found) {
		printf(format == FORMAT_PROMETHEUS ? "# HELP hedge_up Whether "
		       "hedge is up.\n# TYPE hedge_up gauge\nhedge_up 0\n" :
		       json ? "{\"up\":false}\n" : "hedge is not up\n");
		return 0;
	}
	if (format == FORMAT_PROMETHEUS) {
		print_prometheus(nl, &cfg, stats_fd);
		close(stats_fd);
		return 0;
	}
	print_status(nl, &cfg, stats_fd, json);
	if (cfg.delay_line == HEDGE_DL_TICK)
		print_ticker(nl, &cfg, json);
	print_prog_costs(nl, &cfg, json);
	if (json)
		printf("}\n");
	close(stats_fd);
	return 0;
}

/* ---- main ----------------------------------------------------------- */

int main(int argc, char **argv)
{
	struct options o;
	struct nl nl;
	const char *cmd = argc > 1 ? argv[1] : "";
	int err, ret;

	memset(&o, 0, sizeof(o));
	if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h")) {
		fputs(usage_text, stdout);
		return 0;
	}
	if (!strcmp(cmd, "--version")) {
		printf("hedge %s\n", HEDGE_VERSION);
		return 0;
	}
	if (!strcmp(cmd, "up")) {
		if (parse_up(argc - 2, argv + 2, &o))
			return EXIT_USAGE;
	} else if (!strcmp(cmd, "status")) {
		if (argc > 3 || (argc == 3 && strcmp(argv[2], "--json") &&
				  strcmp(argv[2], "--prometheus")))
			return usage_error("status: unknown option '%s'",
					   argv[argc - 1]), EXIT_USAGE;
		if (argc == 3)
			o.format = strcmp(argv[2], "--json") ?
				   FORMAT_PROMETHEUS : FORMAT_JSON;
	} else if (!strcmp(cmd, "down")) {
		if (argc > 2)
			return usage_error("down: unknown option '%s'",
					   argv[2]), EXIT_USAGE;
	} else {
		if (*cmd)
			usage_error("unknown command '%s'", cmd);
		else
			usage_error("%s", "no command given");
		return EXIT_USAGE;
	}

	if (check_caps(!strcmp(cmd, "up")) || take_lock() < 0)
		return 1;
	err = nl_open(&nl);
	if (err)
		return fail("opening rtnetlink: %s", strerror(-err)), 1;
	if (!strcmp(cmd, "up"))
		ret = cmd_up(&nl, &o);
	else if (!strcmp(cmd, "down"))
		ret = cmd_down(&nl);
	else
		ret = cmd_status(&nl, o.format);
	nl_close(&nl);
	return ret;
}
