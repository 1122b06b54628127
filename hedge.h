/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * hedge.h - what the BPF programs (hedge.bpf.c) and user space (hedge.c)
 * agree on: map layouts, keys, states and limits.
 *
 * Both sides include it, so it uses only fixed-width types from the UAPI
 * headers and no libc.
 */
#ifndef HEDGE_H
#define HEDGE_H

#include <linux/types.h>

#define HEDGE_MAX_TARGETS	16
#define HEDGE_SCOREBOARD_SIZE	65536	/* LRU: requests in flight within --window */
#define HEDGE_ID_MAX_LEN	8	/* bytes of request ID, at most a __u64 */
#define HEDGE_ID_MAX_OFFSET	1464	/* offset + len stays within a 1500-byte MTU */

/* Names the kernel shows; `down` and `status` find hedge again by them. */
#define HEDGE_PROG_SPLITTER	"hedge_splitter"
#define HEDGE_PROG_WATCHER	"hedge_watcher"
#define HEDGE_PROG_RESCUER	"hedge_rescuer"
#define HEDGE_MAP_CONFIG	"hedge_config"
#define HEDGE_MAP_STATS		"hedge_stats"

/* Life of a request in the Scoreboard; moved only by compare-and-swap. */
enum hedge_state {
	HEDGE_PENDING = 1,	/* sent, no response yet, no hedge yet */
	HEDGE_HEDGED = 2,	/* the Rescuer sent the hedge */
	HEDGE_DONE = 3,		/* first response seen; later ones are dropped */
	HEDGE_DONE_HEDGED = 4,	/* the same, after a hedge was sent */
};

/* Scoreboard key: the request's 5-tuple (UDP implied) plus its ID. */
struct hedge_key {
	__be32 saddr;		/* client */
	__be32 daddr;		/* target */
	__be16 sport;
	__be16 dport;
	__u32 pad;		/* keep the key free of holes: it is hashed */
	__u64 id;		/* --id bytes, zero-extended; 0 with --id none */
};

struct hedge_entry {
	__u64 sent_ns;		/* bpf_ktime_get_ns() when the request left */
	__u32 state;		/* enum hedge_state */
	__u32 target;		/* index into the stats map */
};

struct hedge_target_key {
	__be32 addr;
	__be16 port;
	__u16 pad;
};

struct hedge_stats {
	__u64 requests;		/* new requests seen by the Splitter */
	__u64 hedges_sent;	/* clones the Rescuer sent on */
	__u64 hedges_cancelled;	/* clones dropped: the response came first */
	__u64 responses;	/* first responses, passed to the client */
	__u64 duplicates;	/* later responses, dropped */
};

enum hedge_flags {
	HEDGE_F_DEV_IS_LOOPBACK = 1 << 0,	/* hedges leave via redirect_neigh */
	HEDGE_F_CREATED_CLSACT = 1 << 1,	/* `down` removes the dev's clsact */
	HEDGE_F_MOUNTED_BPFFS = 1 << 2,		/* `down` unmounts /sys/fs/bpf */
};

/* Single entry (key 0) of the config array: set by `up`, read by all. */
struct hedge_config {
	__u32 dev_ifindex;	/* device hedged: Splitter egress, watcher ingress */
	__u32 delay_ifindex;	/* where the Splitter clones to */
	__u32 rescue_ifindex;	/* far end of the delay line: the Rescuer */
	__u32 flags;		/* enum hedge_flags */
	__u64 delay_ns;
	__u64 window_ns;	/* Scoreboard entries older than this are void */
	__u16 id_offset;
	__u16 id_len;		/* 0: one request per 5-tuple (--id none) */
	__u32 n_targets;
	__u32 delay_line;	/* enum hedge_delay_line */
	__u32 pad;
	struct hedge_target_key targets[HEDGE_MAX_TARGETS];
};

/*
 * Legacy-style map definitions (section "maps"), read by hedge's own ELF
 * loader (loader.c): no BTF needed, so clang without -g will do.
 */
struct hedge_map_def {
	__u32 type;
	__u32 key_size;
	__u32 value_size;
	__u32 max_entries;
	__u32 flags;
};

enum hedge_delay_line {
	HEDGE_DL_NETEM = 1,
};

#endif
