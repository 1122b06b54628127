// SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
/*
 * tcx_test.c - tcx.c against the running kernel: who runs first on a TCX
 * hook, what an accepting program ahead of hedge does to its traffic,
 * detach, and the clsact pref choice. Programs are built here from raw
 * instructions, so that their names and verdicts are the test's own.
 *
 *   tcx_test supported           prints 1 or 0 (exit 0), or fails
 *   tcx_test pref                the clsact pref choice (any kernel)
 *   tcx_test cases DEV           the TCX cases on DEV's egress; DEV has
 *                                10.9.0.1 and a neighbour 10.9.0.9
 *   tcx_test attach DEV NAME     attach an accepting NAME and exit
 *   tcx_test link DEV NAME PIN   the same with a link, pinned at PIN if it
 *                                can be (says so), and exit
 *   tcx_test list DEV            DEV's egress programs, one name a line
 *   tcx_test detach DEV NAME     detach NAME by name (0 if not there)
 *   tcx_test clsact DEV NAME PREF an accepting direct-action cls_bpf NAME
 *                                at PREF on DEV's egress (clsact made if
 *                                missing), as another tool's, and exit
 *
 * Prints "PASS name" or "FAIL name: why" per check (tests/tcx.sh).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include "../hedge_user.h"

#define BEFORE		(1U << 3)	/* BPF_F_BEFORE */
#define TCX_NEXT	(-1)
#define TCX_PASS	0
#define EGRESS		1

static int failures;

static void check(int ok, const char *name, const char *why)
{
	if (ok)
		printf("PASS %s\n", name);
	else
		printf("FAIL %s: %s\n", name, why);
	failures += !ok;
}

/* ---- programs ------------------------------------------------------- */

#define INSN(c, d, s, o, i) \
	((struct bpf_insn){ .code = (c), .dst_reg = (d), .src_reg = (s), \
			    .off = (o), .imm = (i) })
#define MOV_IMM(d, i)	INSN(BPF_ALU64 | BPF_MOV | BPF_K, d, 0, 0, i)
#define EXIT_INSN	INSN(BPF_JMP | BPF_EXIT, 0, 0, 0, 0)

static int load(const char *name, const struct bpf_insn *insns, int n)
{
	static char log[65536];
	union bpf_attr attr;
	int fd;

	memset(&attr, 0, sizeof(attr));
	attr.prog_type = BPF_PROG_TYPE_SCHED_CLS;
	attr.insns = (uint64_t)(unsigned long)insns;
	attr.insn_cnt = (uint32_t)n;
	attr.license = (uint64_t)(unsigned long)"Dual BSD/GPL";
	attr.log_buf = (uint64_t)(unsigned long)log;
	attr.log_size = sizeof(log);
	attr.log_level = 1;
	strncpy(attr.prog_name, name, sizeof(attr.prog_name) - 1);
	fd = (int)sys_bpf(BPF_PROG_LOAD, &attr);
	if (fd < 0)
		fprintf(stderr, "tcx_test: loading %s: %s\n%s", name,
			strerror(errno), log);
	return fd;
}

/* Returns TCX_PASS for every packet: ends the TCX chain (and clsact). */
static int load_accept(const char *name)
{
	struct bpf_insn p[] = { MOV_IMM(BPF_REG_0, TCX_PASS), EXIT_INSN };

	return load(name, p, 2);
}

/* Counts every packet in map_fd[0], then lets the next program judge. */
static int load_counter(const char *name, int map_fd)
{
	struct bpf_insn p[] = {
		INSN(BPF_ST | BPF_MEM | BPF_W, BPF_REG_10, 0, -4, 0),
		INSN(BPF_ALU64 | BPF_MOV | BPF_X, BPF_REG_2, BPF_REG_10, 0, 0),
		INSN(BPF_ALU64 | BPF_ADD | BPF_K, BPF_REG_2, 0, 0, -4),
		INSN(BPF_LD | BPF_DW | BPF_IMM, BPF_REG_1, BPF_PSEUDO_MAP_FD,
		     0, map_fd),
		INSN(0, 0, 0, 0, 0),
		INSN(BPF_JMP | BPF_CALL, 0, 0, 0, BPF_FUNC_map_lookup_elem),
		INSN(BPF_JMP | BPF_JEQ | BPF_K, BPF_REG_0, 0, 2, 0),
		MOV_IMM(BPF_REG_1, 1),
		INSN(BPF_STX | BPF_ATOMIC | BPF_DW, BPF_REG_0, BPF_REG_1, 0,
		     BPF_ADD),
		MOV_IMM(BPF_REG_0, TCX_NEXT),
		EXIT_INSN,
	};

	return load(name, p, sizeof(p) / sizeof(p[0]));
}

static int counter_map(void)
{
	union bpf_attr attr;

	memset(&attr, 0, sizeof(attr));
	attr.map_type = BPF_MAP_TYPE_ARRAY;
	attr.key_size = 4;
	attr.value_size = 8;
	attr.max_entries = 1;
	strcpy(attr.map_name, "tcx_count");
	return (int)sys_bpf(BPF_MAP_CREATE, &attr);
}

static uint64_t count(int map_fd)
{
	uint32_t key = 0;
	uint64_t v = 0;

	if (map_lookup(map_fd, &key, &v)) {
		fprintf(stderr, "tcx_test: reading the counter failed\n");
		exit(2);
	}
	return v;
}

static void count_reset(int map_fd)
{
	uint32_t key = 0;
	uint64_t v = 0;

	if (map_update(map_fd, &key, &v)) {
		fprintf(stderr, "tcx_test: resetting the counter failed\n");
		exit(2);
	}
}

/* Ten UDP datagrams to 10.9.0.9 (a neighbour on DEV): out DEV's egress. */
static int send_udp(void)
{
	struct sockaddr_in to = { .sin_family = AF_INET,
				  .sin_port = htons(9) };
	int i, s = socket(AF_INET, SOCK_DGRAM, 0);

	if (s < 0)
		return -1;
	inet_pton(AF_INET, "10.9.0.9", &to.sin_addr);
	for (i = 0; i < 10; i++)
		if (sendto(s, "x", 1, 0, (struct sockaddr *)&to,
			   sizeof(to)) != 1)
			break;
	close(s);
	usleep(20000);
	return i == 10 ? 0 : -1;
}

/* ---- the hook as names ---------------------------------------------- */

/* "a,b,c" in run order, or "error: ..." */
static const char *chain(int ifindex)
{
	static char buf[TCX_MAX_PROGS * (BPF_OBJ_NAME_LEN + 1)];
	struct tcx_prog p[TCX_MAX_PROGS];
	int i, n = tcx_query(ifindex, EGRESS, p, TCX_MAX_PROGS, NULL);

	if (n < 0) {
		snprintf(buf, sizeof(buf), "error: %s", strerror(-n));
		return buf;
	}
	buf[0] = '\0';
	for (i = 0; i < n; i++) {
		if (i)
			strcat(buf, ",");
		strcat(buf, p[i].name);
	}
	return buf;
}

static void check_chain(int ifindex, const char *want, const char *name)
{
	char why[1200];
	const char *got = chain(ifindex);

	snprintf(why, sizeof(why), "egress runs \"%s\", wanted \"%s\"", got,
		 want);
	check(!strcmp(got, want), name, why);
}

/* ---- the cases ------------------------------------------------------ */

static void first_cases(int ifx, int other, int ours, int map)
{
	char why[256];
	int err;

	err = tcx_attach(ifx, EGRESS, other);
	check(!err, "tcx attach other_accept", strerror(-err));
	check_chain(ifx, "other_accept", "tcx query: other_accept alone");

	err = tcx_attach(ifx, EGRESS, ours);
	check(!err, "tcx attach hedge_first ahead", strerror(-err));
	check_chain(ifx, "hedge_first,other_accept",
		    "tcx query: BPF_F_BEFORE with no relative puts it first");
	check(tcx_first_is(ifx, EGRESS, "hedge_first") == 1,
	      "tcx_first_is: hedge_first is first", chain(ifx));
	check(tcx_position(ifx, EGRESS, "hedge_first", NULL) == 0,
	      "tcx_position: 0 when first", chain(ifx));
	check(tcx_position(ifx, EGRESS, "nobody", NULL) == -ENOENT,
	      "tcx_position: -ENOENT when not there", chain(ifx));

	count_reset(map);
	check(!send_udp(), "traffic: sent 10 datagrams", strerror(errno));
	snprintf(why, sizeof(why), "counted %llu, wanted >= 10",
		 (unsigned long long)count(map));
	check(count(map) >= 10, "traffic: first in line, hedge sees it", why);

	err = tcx_attach(ifx, EGRESS, ours);
	snprintf(why, sizeof(why), "got %d (%s), wanted -EEXIST", err,
		 strerror(-err));
	check(err == -EEXIST, "tcx attach twice: -EEXIST", why);
}

static void shadow_cases(int ifx, int map)
{
	struct tcx_prog first;
	char why[256];
	int late, err, pos;

	late = load_accept("late_accept");
	if (late < 0)
		exit(2);
	err = tcx_link_attach(ifx, EGRESS, late, BEFORE);
	check(err >= 0, "tcx link ahead of hedge (another tool's)",
	      strerror(-err));
	check(tcx_first_is(ifx, EGRESS, "hedge_first") == 0,
	      "tcx_first_is: false once another attaches ahead", chain(ifx));
	memset(&first, 0, sizeof(first));
	pos = tcx_position(ifx, EGRESS, "hedge_first", &first);
	snprintf(why, sizeof(why), "position %d, first %s (id %u, link %u)",
		 pos, first.name, first.id, first.link_id);
	check(pos == 1 && !strcmp(first.name, "late_accept") &&
	      first.id && first.link_id, "tcx_position: names who is ahead",
	      why);

	count_reset(map);
	check(!send_udp(), "traffic: sent 10 more", strerror(errno));
	snprintf(why, sizeof(why), "counted %llu, wanted 0",
		 (unsigned long long)count(map));
	check(count(map) == 0,
	      "traffic: an accepting program ahead, hedge sees nothing", why);

	/* The link was not pinned: it goes with its last fd. */
	close(err);
	check_chain(ifx, "hedge_first,other_accept",
		    "tcx link: gone with its fd when not pinned");
	close(late);
}

static void detach_cases(int ifx, int ours)
{
	int err;

	err = tcx_detach(ifx, EGRESS, ours);
	check(!err, "tcx detach hedge_first", strerror(-err));
	check_chain(ifx, "other_accept", "tcx detach: only ours went");
	err = tcx_detach(ifx, EGRESS, ours);
	check(!err, "tcx detach again: 0 (already gone)", strerror(-err));
	err = tcx_detach_name(ifx, EGRESS, "hedge_first");
	check(err == 0, "tcx detach by name, not there: 0", strerror(-err));
	err = tcx_detach_name(ifx, EGRESS, "other_accept");
	check(err == 1, "tcx detach by name: 1 detached", strerror(-err));
	check_chain(ifx, "", "tcx hook empty after teardown");
	err = tcx_detach(ifx, EGRESS, ours);
	check(!err, "tcx detach on an empty hook: 0", strerror(-err));
	err = tcx_detach(999999, EGRESS, ours);
	check(!err, "tcx detach, no such device: 0", strerror(-err));
}

/* The watcher's side: ingress is a hook of its own. */
static void ingress_cases(int ifx, int prog)
{
	int err = tcx_attach(ifx, 0, prog);

	check(!err, "tcx attach on ingress", strerror(-err));
	check(tcx_first_is(ifx, 0, "hedge_first") == 1 &&
	      tcx_first_is(ifx, EGRESS, "hedge_first") == 0,
	      "tcx ingress: first there, not on egress", chain(ifx));
	err = tcx_detach_name(ifx, 0, "hedge_first");
	check(err == 1 && tcx_position(ifx, 0, "hedge_first", NULL) == -ENOENT,
	      "tcx ingress: detached by name", strerror(err < 0 ? -err : 0));
}

/* On 6.6+ TCX runs before clsact: an accepting TCX program shadows every
 * clsact filter, hedge's fallback included. */
static void clsact_cases(int ifx)
{
	struct nl nl;
	char why[256];
	int map, cls, acc, err;

	if (nl_open(&nl) || (map = counter_map()) < 0)
		exit(2);
	cls = load_counter("cls_count", map);
	acc = load_accept("tcx_accept");
	if (cls < 0 || acc < 0)
		exit(2);
	err = nl_clsact_add(&nl, ifx);
	if (!err)
		err = nl_bpf_filter_add(&nl, ifx, 0, 0, cls, "cls_count");
	check(!err, "clsact filter beside TCX: added", strerror(-err));

	count_reset(map);
	send_udp();
	snprintf(why, sizeof(why), "counted %llu, wanted >= 10",
		 (unsigned long long)count(map));
	check(count(map) >= 10, "clsact filter counts, TCX hook empty", why);

	err = tcx_attach(ifx, EGRESS, acc);
	count_reset(map);
	send_udp();
	snprintf(why, sizeof(why), "attach %d, counted %llu, wanted 0", err,
		 (unsigned long long)count(map));
	check(!err && count(map) == 0,
	      "an accepting TCX program shadows every clsact filter", why);

	err = tcx_detach(ifx, EGRESS, acc);
	if (!err)
		err = nl_clsact_del(&nl, ifx);
	check(!err, "clsact and TCX removed", strerror(-err));
	nl_close(&nl);
	close(cls);
	close(acc);
	close(map);
}

static int cases(const char *dev)
{
	int ifx = (int)if_nametoindex(dev), map, other, ours;

	if (!ifx || (map = counter_map()) < 0)
		return fprintf(stderr, "tcx_test: %s: %s\n", dev,
			       strerror(errno)), 2;
	other = load_accept("other_accept");
	ours = load_counter("hedge_first", map);
	if (other < 0 || ours < 0)
		return 2;
	first_cases(ifx, other, ours, map);
	shadow_cases(ifx, map);
	detach_cases(ifx, ours);
	ingress_cases(ifx, ours);
	clsact_cases(ifx);
	return failures ? 1 : 0;
}

/* ---- clsact: the pref ahead of all ---------------------------------- */

static struct tc_filter filt(uint32_t prio, const char *kind, const char *n)
{
	struct tc_filter f;

	memset(&f, 0, sizeof(f));
	f.prio = prio;
	f.handle = 1;
	snprintf(f.kind, sizeof(f.kind), "%s", kind);
	snprintf(f.name, sizeof(f.name), "%s", n);
	return f;
}

static void pref_case(const struct tc_filter *fs, int n, int want_err,
		      uint32_t want, const char *name)
{
	static const char *const ours[] = { "splitter", "watcher", NULL };
	uint32_t pref = 12345;
	char why[128];
	int err = tc_pref_ahead(fs, n, ours, &pref);

	snprintf(why, sizeof(why), "got %d pref %u, wanted %d pref %u", err,
		 pref, want_err, want);
	check(err == want_err && (err || pref == want), name, why);
}

static int prefs(void)
{
	struct tc_filter fs[4] = { 0 };

	pref_case(fs, 0, 0, 0, "tc pref: no filters, any (0)");
	fs[0] = filt(49152, "bpf", "cilium");
	fs[1] = filt(49153, "u32", "");
	pref_case(fs, 2, 0, 49151, "tc pref: one below the lowest");
	fs[2] = filt(7, "bpf", "splitter");
	pref_case(fs, 3, 0, 49151, "tc pref: hedge's own do not count");
	fs[3] = filt(1, "flower", "");
	pref_case(fs, 4, -ENOSPC, 0, "tc pref: another at 1, -ENOSPC");
	fs[3] = filt(1, "u32", "splitter");
	pref_case(fs, 4, -ENOSPC, 0, "tc pref: a non-bpf 'splitter' counts");
	fs[3] = filt(2, "bpf", "other");
	pref_case(fs, 4, 0, 1, "tc pref: another at 2, 1");
	return failures ? 1 : 0;
}

/* ---- one step at a time, for tests/tcx.sh ---------------------------- */

static int list(int ifx)
{
	struct tcx_prog p[TCX_MAX_PROGS];
	int i, n = tcx_query(ifx, EGRESS, p, TCX_MAX_PROGS, NULL);

	if (n < 0)
		return fprintf(stderr, "tcx_test: query: %s\n",
			       strerror(-n)), 2;
	for (i = 0; i < n; i++)
		printf("%s\n", p[i].name);
	return 0;
}

/* TC_ACT_OK (0) from a direct-action filter ends classification: no
 * filter at a higher pref sees the packet. */
static int clsact_accept(int ifx, int fd, const char *name, const char *pref)
{
	struct nl nl;
	int err = nl_open(&nl);

	if (err)
		return err;
	err = nl_clsact_add(&nl, ifx);
	if (!err || err == -EEXIST)
		err = nl_bpf_filter_add(&nl, ifx, 0, (uint32_t)atoi(pref),
					fd, name);
	if (err)
		fprintf(stderr, "tcx_test: clsact: %s (%s)\n", strerror(-err),
			nl.ext_ack);
	nl_close(&nl);
	return err;
}

static int step(int argc, char **argv)
{
	int ifx = (int)if_nametoindex(argv[2]), fd, err;

	if (!ifx && strcmp(argv[1], "detach"))
		return fprintf(stderr, "tcx_test: no device %s\n", argv[2]), 2;
	if (!strcmp(argv[1], "list"))
		return list(ifx);
	if (argc < 4)
		return 2;
	if (!strcmp(argv[1], "detach")) {
		err = ifx ? tcx_detach_name(ifx, EGRESS, argv[3]) : 0;
		return err < 0 ? fprintf(stderr, "tcx_test: detach: %s\n",
					 strerror(-err)), 2 : 0;
	}
	if ((fd = load_accept(argv[3])) < 0)
		return 2;
	if (!strcmp(argv[1], "clsact") && argc == 5) {
		err = clsact_accept(ifx, fd, argv[3], argv[4]);
	} else if (!strcmp(argv[1], "attach")) {
		err = tcx_attach(ifx, EGRESS, fd);
	} else if (!strcmp(argv[1], "link") && argc == 5) {
		err = tcx_link_attach(ifx, EGRESS, fd, BEFORE);
		if (err >= 0) {
			list(ifx);
			fd = obj_pin(err, argv[4]);
			printf("pin at %s: %s\n", argv[4],
			       fd ? strerror(-fd) : "ok");
			err = 0;
		}
	} else {
		return 2;
	}
	if (err)
		fprintf(stderr, "tcx_test: %s: %s\n", argv[1], strerror(-err));
	return err ? 2 : 0;
}

/*
 * Every TCX program on every device of this namespace, one line a hook
 * ("DEV ingress: NAME NAME"), hooks without one left out: the TCX part of
 * tests/lib.sh's snapshot. Nothing on a kernel without TCX.
 */
static int hooks(void)
{
	struct if_nameindex *ifs = if_nameindex(), *i;
	struct tcx_prog p[TCX_MAX_PROGS];
	int egress, n, k;

	if (!ifs)
		return fprintf(stderr, "tcx_test: if_nameindex: %s\n",
			       strerror(errno)), 2;
	for (i = ifs; i->if_index; i++)
		for (egress = 0; egress < 2; egress++) {
			n = tcx_query((int)i->if_index, egress, p,
				      TCX_MAX_PROGS, NULL);
			if (n == -EINVAL)
				continue;	/* no TCX here */
			if (n < 0) {
				fprintf(stderr, "tcx_test: query %s: %s\n",
					i->if_name, strerror(-n));
				if_freenameindex(ifs);
				return 2;
			}
			if (!n)
				continue;
			printf("%s %s:", i->if_name,
			       egress ? "egress" : "ingress");
			for (k = 0; k < n; k++)
				printf(" %s", p[k].name);
			printf("\n");
		}
	if_freenameindex(ifs);
	return 0;
}

int main(int argc, char **argv)
{
	int s;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc == 2 && !strcmp(argv[1], "supported")) {
		s = tcx_supported();
		if (s < 0)
			return fprintf(stderr, "tcx_test: %s\n",
				       strerror(-s)), 2;
		printf("%d\n", s);
		return 0;
	}
	if (argc == 2 && !strcmp(argv[1], "pref"))
		return prefs();
	if (argc == 2 && !strcmp(argv[1], "hooks"))
		return hooks();
	if (argc == 3 && !strcmp(argv[1], "cases"))
		return cases(argv[2]);
	if (argc >= 3)
		return step(argc, argv);
	fprintf(stderr, "usage: see tests/tcx_test.c\n");
	return 2;
}
