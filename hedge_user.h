/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * hedge_user.h - user-side interfaces: errors, the bpf() loader (loader.c,
 * elf.c) and hand-made rtnetlink (netlink.c, rtnl.c).
 */
#ifndef HEDGE_USER_H
#define HEDGE_USER_H

#include <elf.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <linux/bpf.h>
#include <linux/rtnetlink.h>

/* Print "hedge: <message>" on stderr; returns -1 for `return fail(...)`. */
static inline __attribute__((format(printf, 1, 2)))
int fail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("hedge: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	return -1;
}

/* ---- bpf() ---------------------------------------------------------- */

#define OBJ_MAX_MAPS	16
#define OBJ_MAX_PROGS	4

struct bpf_named_fd {
	char name[BPF_OBJ_NAME_LEN];
	int fd;
};

/* The maps and programs of the embedded BPF object, once loaded. */
struct bpf_obj {
	int n_maps, n_progs;
	struct bpf_named_fd maps[OBJ_MAX_MAPS];
	struct bpf_named_fd progs[OBJ_MAX_PROGS];
};

long sys_bpf(int cmd, union bpf_attr *attr);
/* A map's size set at load time: `up` shrinks what its delay line does
 * not use. A list ends with a NULL name. */
struct map_size {
	const char *name;
	uint32_t max_entries;
};

/* skip: a program not to load (one the delay line never runs: each is
 * verified anew, ~40% of an up's time for the ticker), or NULL for all. */
int obj_load(struct bpf_obj *obj, const struct map_size *sizes,
	     const char *skip);
/* A running map the object takes instead of making its own (by name). */
struct map_reuse {
	const char *name;
	int fd;		/* -1: make it */
};
/* obj_load with the maps in `reuse` (NULL-name-ended) dup'd, not made:
 * programs loaded again that share a running hedge's state. */
int obj_load_reuse(struct bpf_obj *obj, const struct map_size *sizes,
		   const struct map_reuse *reuse, const char *skip);
void obj_close(struct bpf_obj *obj);
int obj_map_fd(const struct bpf_obj *obj, const char *name);
int obj_prog_fd(const struct bpf_obj *obj, const char *name);

/* BEGIN btf.c: added on branch btfman */
/* The object's .BTF, fixed up and loaded (fd), and indexed to find maps'
 * key and value types in. */
struct btf_type;
struct hedge_btf {
	unsigned char *data;		/* a copy of .BTF, fixed up */
	size_t size;
	struct btf_type **types;	/* types[id - 1] */
	uint32_t n_types;
	const char *strs;
	uint32_t str_len;
	int fd;				/* -1: not loaded */
	char why[160];			/* if not: why */
};
/* What of the ELF object the fix-ups need; each returns -1 for none. */
struct btf_elf {
	const void *ctx;
	long (*section_size)(const void *ctx, const char *section);
	long (*symbol_offset)(const void *ctx, const char *section,
			      const char *symbol);
};
/* A copy of `size` bytes of BTF, indexed: 0, or -1 with b->why set. */
int btf_parse(struct hedge_btf *b, const void *data, size_t size);
/* Parse, fix up (elf NULL: none) and load: 0, or -1 with b->why set. */
int btf_load(struct hedge_btf *b, const void *data, size_t size,
	     const struct btf_elf *elf);
/* The key and value type ids of map `map`: 0, or -1 if it has none. */
int btf_map_types(const struct hedge_btf *b, const char *map,
		  uint32_t *key_id, uint32_t *value_id);
void btf_free(struct hedge_btf *b);
/* END btf.c */

/* elf.c: reading the embedded BPF object, for loader.c. */
struct elf {
	const unsigned char *data;
	size_t size;
	const Elf64_Ehdr *eh;
	const Elf64_Shdr *sh;
	const char *shstr;
	const Elf64_Sym *syms;
	size_t n_syms;
	const char *symstr;
	size_t symstr_size;
};

/* Section i, or NULL if there is none. */
const Elf64_Shdr *section(const struct elf *e, size_t i);
/* A section's bytes, or NULL if they are not all in the object. */
const void *section_data(const struct elf *e, const Elf64_Shdr *s);
/* A section's name; "" if it has none. */
const char *section_name(const struct elf *e, const Elf64_Shdr *s);
/* A symbol's name; "" if it has none. */
const char *symbol_name(const struct elf *e, const Elf64_Sym *sym);
/* Check the object's headers, find its symbol table: 0, or -1 said. */
int elf_open(struct elf *e, const unsigned char *data, size_t size);
/* The index of the section called `name`, or -1. */
int find_section(const struct elf *e, const char *name);
/* Point every ld_imm64 that names a map at that map's fd. */
int relocate(const struct elf *e, int prog_shndx, int maps_shndx,
	     struct bpf_insn *insns, size_t n_insns,
	     const struct bpf_obj *obj, const size_t *offsets);
/* The program's name: the function symbol at the start of its section. */
const char *prog_name(const struct elf *e, size_t shndx);
/* The object's types, for its maps (none if no .BTF or the kernel says no). */
void load_btf(const struct elf *e, struct hedge_btf *btf);
/* loader.c: maps go without BTF when the kernel refuses it (said once). */
void btf_note(const char *what, const char *why);

int map_update(int fd, const void *key, const void *value);
int map_lookup(int fd, const void *key, void *value);
/* The key after `key` (NULL: the first) into next; -ENOENT past the last. */
int map_next_key(int fd, const void *key, void *next);
int map_delete(int fd, const void *key);
/* The config into the config map `fd`, its server index made from its
 * targets: 0 or -errno. Every config the programs read is written so. */
struct hedge_config;
int config_write(int fd, const struct hedge_config *cfg);
/* A hash map's entries from bucket *in_batch (NULL: the first) on, up to
 * *count of them (set to how many came), *out_batch where to go on: 0,
 * -ENOENT with the last ones, or -errno. Unlike a get-next-key walk, a
 * key deleted meanwhile does not send it back to the start. */
int map_lookup_batch(int fd, uint32_t *in_batch, uint32_t *out_batch,
		     void *keys, void *values, uint32_t *count);
int obj_pin(int fd, const char *path);
int obj_get(const char *path);
int prog_fd_by_id(uint32_t id);
/* The kernel's accounting (with kernel.bpf_stats_enabled=1) of program id. */
int prog_run_stats(uint32_t id, uint64_t *run_time_ns, uint64_t *run_cnt);
/* The value size of map `fd` as the kernel has it; -errno. */
int map_value_size(int fd, uint32_t *size);
/* The fd of the map called `name` that program `prog_fd` uses, or -1. */
int prog_map_fd(int prog_fd, const char *name);

/* ---- rtnetlink ------------------------------------------------------ */

struct nl {
	int fd;
	uint32_t seq;
	char ext_ack[256];	/* the kernel's text for the last error */
};

/* A TC filter as a dump shows it; prog_id and name are cls_bpf's. */
struct tc_filter {
	uint32_t prio, handle, prog_id;
	char kind[16];
	char name[64];
};

/* "hedge: <what>: <strerror(-err)> (kernel: <ext ack>)"; returns -1. */
int nl_fail(const struct nl *nl, int err, const char *what);

/* netlink.c, for rtnl.c: one request and its attributes, and sending it. */
struct req {
	struct nlmsghdr n;
	union {
		struct ifinfomsg ifi;
		struct tcmsg tc;
		struct rtmsg rt;
	};
	char attrs[4096];	/* the tick line's TBF size table: ~3 KB */
	int overflow;		/* an attribute did not fit: do not send */
};

typedef int (*nl_cb)(const struct nlmsghdr *n, void *arg);
/* A request of `type` whose family header is hdr_len bytes, acked. */
void req_init(struct req *r, int type, int flags, size_t hdr_len);
void add_raw(struct req *r, const void *data, size_t len);
void add_attr(struct req *r, int type, const void *data, size_t len);
void add_u32(struct req *r, int type, uint32_t v);
void add_str(struct req *r, int type, const char *s);
struct rtattr *nest_begin(struct req *r, int type);
void nest_end(struct req *r, struct rtattr *nest);
/* Send r; cb sees each answer up to the ack or NLMSG_DONE: 0 or -errno,
 * -EINTR if a dump changed under way (ask again). */
int nl_talk(struct nl *nl, struct req *r, nl_cb cb, void *arg);
/* iproute2's parse_rtattr: tb[type] is the last attribute of each type
 * up to max (NULL where none came); larger types are ignored. */
void parse_rtattr(const struct rtattr *tb[], int max, const struct rtattr *a,
		  int len);
/* The attributes after n's family header of hdr_len bytes into tb[0..max];
 * -1 (tb untouched) when n is not of `type` or is too short for it. */
int msg_attrs(const struct nlmsghdr *n, int type, size_t hdr_len,
	      const struct rtattr *tb[], int max);
/* A u32 attribute's value: 0, or -1 when a is NULL or too short. */
int attr_u32(const struct rtattr *a, uint32_t *v);
/* A string attribute into dst[size], cut and ended. */
void copy_str(char *dst, size_t size, const struct rtattr *a);
int nl_open(struct nl *nl);
void nl_close(struct nl *nl);
/* All return 0 or -errno; on error nl->ext_ack holds the kernel's text. */
/* alias (IFLA_IFALIAS) on both ends in the same message, for kernels that
 * take it there (6.1 and 6.18 ignore it: nl_link_set_alias then); may be
 * NULL. */
int nl_veth_add(struct nl *nl, const char *name, const char *peer,
		unsigned int mtu, const char *alias);
int nl_link_del(struct nl *nl, int ifindex);
int nl_link_set_mtu(struct nl *nl, int ifindex, uint32_t mtu);
int nl_link_set_alias(struct nl *nl, int ifindex, const char *alias);
int nl_link_up(struct nl *nl, int ifindex);
int nl_link_no_ipv6(struct nl *nl, int ifindex);
/* What hedge asks of a link: its type (ARPHRD_*) and operstate (IF_OPER_*). */
struct nl_link {
	unsigned short type;
	unsigned char operstate;
	unsigned int flags;	/* IFF_* (IFF_UP: set up by someone) */
	char alias[64];		/* IFLA_IFALIAS, "" if none */
};
int nl_link_get(struct nl *nl, int ifindex, struct nl_link *link);
/* Wait up to `ms` for the link's operstate to be UP; -ETIMEDOUT if not. */
int nl_link_wait_up(struct nl *nl, int ifindex, int ms);
/* A route as RTM_GETROUTE answers it: its type (RTN_UNICAST, RTN_LOCAL...)
 * and the device it leaves by. */
struct nl_route {
	int oif;
	unsigned char type;
};
/* The route to addr (4 or 16 bytes by family), as `ip route get`; oif
 * non-zero: by that device (a scoped IPv6 address). 0 or -errno
 * (-ENETUNREACH: none). */
int nl_route_get(struct nl *nl, int family, const void *addr, int oif,
		 struct nl_route *rt);
int nl_clsact_add(struct nl *nl, int ifindex);
int nl_clsact_del(struct nl *nl, int ifindex);
/* The kind ("clsact", "ingress") of the device's ingress-side qdisc;
 * "" or -ENOENT when it has none. */
int nl_ingress_qdisc_kind(struct nl *nl, int ifindex, char kind[16]);
/* The kind of the device's root qdisc ("tbf", "noqueue"...). */
int nl_root_qdisc_kind(struct nl *nl, int ifindex, char kind[16]);
/* The root qdisc: its kind; a TBF's rate (bytes/s) and the length of its
 * size table (0: none). */
struct qdisc_info {
	char kind[16];
	uint64_t rate;
	uint32_t stab_len;
};
int nl_root_qdisc(struct nl *nl, int ifindex, struct qdisc_info *qi);
/* Delete the device's root qdisc (the device's default comes back). */
int nl_root_qdisc_del(struct nl *nl, int ifindex);
int nl_netem_add(struct nl *nl, int ifindex, uint64_t delay_ns,
		 uint32_t limit);
int nl_tbf_add(struct nl *nl, int ifindex, uint32_t rate, uint32_t burst,
	       uint32_t limit, const uint16_t *stab, uint32_t stab_len);
/* prio 0: the kernel picks one (below the lowest there, or 49152). */
int nl_bpf_filter_add(struct nl *nl, int ifindex, int ingress, uint32_t prio,
		      int prog_fd, const char *name);
int nl_filter_del(struct nl *nl, int ifindex, int ingress, uint32_t prio,
		  uint32_t handle);
/* All filters of a clsact hook, however many, into *out (malloc'd, the
 * caller frees it); returns how many, or -errno. A dump the kernel marks
 * interrupted (NLM_F_DUMP_INTR) is asked again, a few times at most. */
int nl_filters_all(struct nl *nl, int ifindex, int ingress,
		   struct tc_filter **out);
/* The same into out[max]; -E2BIG if the hook has more. */
int nl_filters(struct nl *nl, int ifindex, int ingress, struct tc_filter *out,
	       int max);

/* ---- delay lines ---------------------------------------------------- */

/*
 * The delay line is one veth pair, whatever its kind; the Rescuer is on
 * DL_OUT's ingress, and `down` and `status` find hedge by it.
 */
#define DL_IN	"hedge-dl0"	/* requests' copies leave by its egress */
#define DL_OUT	"hedge-dl1"	/* the Rescuer sees them arrive */
/* Both ends' IFLA_IFALIAS, set as the pair is created: hedge's mark. */
#define DL_ALIAS	"hedge delay line"

struct hedge_config;

/* What a kind of delay line adds to the pair. */
struct delay_line {
	const char *name;
	unsigned int kind;		/* enum hedge_delay_line */
	const char *needs;		/* said when the kernel lacks its qdisc */
	const struct map_size *sizes;	/* map sizes it wants; may be NULL */
	const char *program;		/* on DL_IN's ingress, or NULL */
	const char *unused;		/* a program it never runs: not
					   loaded (obj_load()), or NULL */
	/* Its qdisc on the pair: 0, -ENOENT (silently) if the kernel lacks
	 * it, else -1 having said why. */
	int (*build)(struct nl *nl, struct hedge_config *cfg);
	/* Set it going once the config map is filled; may be NULL. */
	int (*start)(const struct hedge_config *cfg);
};

extern const struct delay_line delay_line_netem, delay_line_tick;

/* The pair, into cfg's ifindexes (all or nothing); then the programs on
 * it, and its links up. */
int dl_create(struct nl *nl, struct hedge_config *cfg);
int dl_attach(struct nl *nl, const struct hedge_config *cfg,
	      const struct delay_line *line, const struct bpf_obj *obj);
/* Remove the pair; 0 if it is gone (or was never there). */
int dl_destroy(struct nl *nl);
/* Whether DL_OUT's root qdisc `qi` is the tick line's TBF as `up` makes
 * it: its rate, its size table (another TBF sizes ticks otherwise). */
int dl_tick_tbf_ours(const struct qdisc_info *qi);

/* ---- first in line: TCX and clsact prefs (tcx.c) --------------------- */
/* BEGIN tcx.c: added on branch tcx, self-contained */

#define TCX_MAX_PROGS	64	/* the kernel's BPF_MPROG_MAX */

/* A program on a TCX hook, in run order; link_id 0 if attached without a
 * link. */
struct tcx_prog {
	uint32_t id, link_id;
	char name[BPF_OBJ_NAME_LEN];
};

/* 1 if the kernel has TCX (6.6+), 0 if not, -errno if it cannot tell. */
int tcx_supported(void);
/* prog_fd ahead of every program on the hook (BPF_PROG_ATTACH with
 * BPF_F_BEFORE): it stays with the device after the caller exits.
 * 0 or -errno (-EEXIST: that program is on the hook already). */
int tcx_attach(int ifindex, int egress, int prog_fd);
/* 0 also when it is not there or the device is gone; else -errno. */
int tcx_detach(int ifindex, int egress, int prog_fd);
/* Detach every program called `name`: how many, or -errno. */
int tcx_detach_name(int ifindex, int egress, const char *name);
/* A TCX link (lives while its fd or a bpffs pin does): fd or -errno.
 * flags BPF_F_BEFORE (1 << 3) with no relative: ahead of all. */
int tcx_link_attach(int ifindex, int egress, int prog_fd, uint32_t flags);
/* The hook's programs in run order, up to `max`; how many, or -errno
 * (-ENOSPC if more than max, -EINVAL without TCX). */
int tcx_query(int ifindex, int egress, struct tcx_prog *out, int max,
	      uint64_t *revision);
/* Where the program called `name` runs: 0 first, N with N programs ahead
 * of it (*first, if not NULL, is the first one), -ENOENT not there. */
int tcx_position(int ifindex, int egress, const char *name,
		 struct tcx_prog *first);
/* 1 if `name` runs first, 0 if not (or not there), -errno. */
int tcx_first_is(int ifindex, int egress, const char *name);
/* clsact: a pref ahead of every filter not named in `ours` (NULL-ended):
 * 0 into *pref means any (no other filter). -ENOSPC if another filter
 * holds pref 1 and nothing can run before it. */
int tc_pref_ahead(const struct tc_filter *fs, int n, const char *const *ours,
		  uint32_t *pref);

/* END tcx.c */

#endif
