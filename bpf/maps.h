/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * bpf/maps.h - hedge's maps, as the loader creates them from the "maps"
 * section. Each map's C identifier is its name in the kernel, which user
 * space finds it by: HEDGE_MAP_* in hedge.h (HEDGE_NAME() ties the two,
 * see the end of this file). Layouts are hedge.h's.
 */
#ifndef HEDGE_BPF_MAPS_H
#define HEDGE_BPF_MAPS_H

#include "helpers.h"

MAP(hedge_config, BPF_MAP_TYPE_ARRAY, __u32, struct hedge_config, 1);
MAP(hedge_targets, BPF_MAP_TYPE_HASH, struct hedge_target_key, __u32,
    HEDGE_MAX_TARGETS);
MAP(hedge_stats, BPF_MAP_TYPE_PERCPU_ARRAY, __u32, struct hedge_stats,
    HEDGE_MAX_TARGETS);
/* The Scoreboard (hedge.h, bpf/scores.h): sets of HEDGE_SCORE_WAYS
 * records, page-aligned (mmapable) so that each record is one cache
 * line; `up` sizes it from --max-inflight (hedge_score_sets()). */
MAP_FLAGS(hedge_scores, BPF_MAP_TYPE_ARRAY, __u32, struct hedge_record,
	  HEDGE_SCOREBOARD_SIZE * HEDGE_SCORE_PER_REQ, BPF_F_MMAPABLE);
/* Each set's tags (hedge.h), as many as the sets; `up` sizes it too. */
MAP(hedge_score_tags, BPF_MAP_TYPE_ARRAY, __u32, struct hedge_score_tags,
    HEDGE_SCOREBOARD_SIZE * HEDGE_SCORE_PER_REQ / HEDGE_SCORE_WAYS);
/* Requests whose set was full (hedge.h, HEDGE_STASH_SIZE). */
MAP(hedge_stash, BPF_MAP_TYPE_LRU_HASH, struct hedge_key, struct hedge_record,
    HEDGE_STASH_SIZE);
/* The tick line's two rings (hedge.h), at their least; `up` sizes them
 * from --max-inflight, and shrinks them to one entry for netem. */
MAP(hedge_parked, BPF_MAP_TYPE_ARRAY, __u32, struct hedge_parked_small,
    HEDGE_INFLIGHT_MIN);
MAP(hedge_frames, BPF_MAP_TYPE_ARRAY, __u32, struct hedge_parked,
    HEDGE_INFLIGHT_MIN / HEDGE_BIG_SHARE);
MAP(hedge_tick, BPF_MAP_TYPE_ARRAY, __u32, struct hedge_ticker, 1);
/* Per target, a ring of deadlines (hedge.h, struct hedge_due); `up` sizes
 * it to the targets and the rings, one entry for netem. Mappable: tests
 * clear it whole. */
MAP_FLAGS(hedge_due, BPF_MAP_TYPE_ARRAY, __u32, struct hedge_due,
	  HEDGE_MAX_TARGETS *
	  (HEDGE_INFLIGHT_MIN + HEDGE_INFLIGHT_MIN / HEDGE_BIG_SHARE),
	  BPF_F_MMAPABLE);
MAP(hedge_adapt, BPF_MAP_TYPE_ARRAY, __u32, struct hedge_adapt,
    HEDGE_MAX_TARGETS);
MAP(hedge_budget, BPF_MAP_TYPE_ARRAY, __u32, struct hedge_budget,
    HEDGE_MAX_TARGETS);
/* The watcher's verdicts on fragmented responses (see hedge.h). */
MAP(hedge_frags, BPF_MAP_TYPE_LRU_HASH, struct hedge_frag_key,
    struct hedge_frag, HEDGE_FRAGS_SIZE);
/* Per target, the least response time seen of an unhedged request, in
 * ns (0: none yet): how time saved tells the copies apart (saved.h). */
MAP(hedge_rtt_min, BPF_MAP_TYPE_ARRAY, __u32, __u64, HEDGE_MAX_TARGETS);
/* TCP replicas: connections the replica's handshake won (bpf/tcpnat.h). */
MAP(hedge_nat, BPF_MAP_TYPE_HASH, struct hedge_nat_key, struct hedge_nat,
    HEDGE_NAT_SIZE);
/* Per CPU: a chunk of a datagram being checksummed (parse.h), with room
 * for the zeros that pad it to 4 bytes; and where the ticker keeps what
 * it hides from the verifier (tick.h, earliest()). */
#define HEDGE_CSUM_CHUNK	512
struct hedge_scratch {
	__u8 b[HEDGE_CSUM_CHUNK + 8];
	__u64 when;
	__s64 best;
};
MAP(hedge_scratch, BPF_MAP_TYPE_PERCPU_ARRAY, __u32, struct hedge_scratch, 1);

/*
 * Every map user space names (HEDGE_MAP_*, hedge.h) is one of these: read
 * with HEDGE_NAME() as the identifier itself, each must be a map here.
 */
#pragma push_macro("HEDGE_NAME")
#undef HEDGE_NAME
#define HEDGE_NAME(ident) ident
#define HEDGE_IS_MAP(name)						\
	_Static_assert(__builtin_types_compatible_p(__typeof__(name),	\
						    struct hedge_map_def), \
		       #name " is a map of bpf/maps.h")
HEDGE_IS_MAP(HEDGE_MAP_CONFIG);
HEDGE_IS_MAP(HEDGE_MAP_TARGETS);
HEDGE_IS_MAP(HEDGE_MAP_STATS);
HEDGE_IS_MAP(HEDGE_MAP_SCORES);
HEDGE_IS_MAP(HEDGE_MAP_PARKED);
HEDGE_IS_MAP(HEDGE_MAP_FRAMES);
HEDGE_IS_MAP(HEDGE_MAP_TICK);
HEDGE_IS_MAP(HEDGE_MAP_DUE);
HEDGE_IS_MAP(HEDGE_MAP_ADAPT);
HEDGE_IS_MAP(HEDGE_MAP_BUDGET);
HEDGE_IS_MAP(HEDGE_MAP_FRAGS);
HEDGE_IS_MAP(HEDGE_MAP_RTT_MIN);
HEDGE_IS_MAP(HEDGE_MAP_NAT);
HEDGE_IS_MAP(HEDGE_MAP_STASH);
HEDGE_IS_MAP(HEDGE_MAP_SCORE_TAGS);
#undef HEDGE_IS_MAP
#pragma pop_macro("HEDGE_NAME")

#endif
