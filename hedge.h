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
#define HEDGE_SCOREBOARD_SIZE	65536	/* requests in flight within --window the
					   Scoreboard is sized for, at least */
#define HEDGE_ID_MAX_LEN	8	/* bytes of request ID, at most a __u64 */
#define HEDGE_ID_MAX_OFFSET	1464	/* offset + len stays within a 1500-byte MTU */

/*
 * The tick delay line (no netem): a tick packet circles a veth pair whose
 * near end has TBF at 1 byte per microsecond, so a tick sleeps as many us
 * as TBF counts it bytes. TBF counts it by a size table (TCA_STAB, made
 * from HEDGE_TICK_US()): a tick of L bytes sleeps L us up to
 * HEDGE_TICK_FINE, and HEDGE_TICK_STEP us for each byte past it, so that
 * a tick no longer than an Ethernet frame sleeps as long as the delay.
 * The ticker sizes each tick to wake at the earliest deadline.
 */
#define HEDGE_TICK_RATE		1000000	/* bytes/s: 1 byte = 1 us */
#define HEDGE_TICK_MIN		64	/* bytes = us: shortest sleep */
#define HEDGE_TICK_MAX		9000	/* bytes: the tick line's MTU */
#define HEDGE_TICK_BURST	(2 * (HEDGE_TICK_MAX + 14))
#define HEDGE_TICK_MAGIC	0x4349544547444548ULL	/* "HEDGETIC" in memory */
#define HEDGE_TICK_BATCH	8	/* due requests sent per tick, at most */
/*
 * The longest tick, in bytes. Each hedge is made from the tick's skb and
 * keeps its buffer (shrinking an skb frees nothing), which the server's
 * socket is charged for: a 9 KB tick made the hedges of a local server
 * overflow its receive buffer. So a tick is never longer than a frame; the
 * size table makes it sleep up to HEDGE_TICK_LONGEST_US. Idle, the tick
 * stops instead of sleeping long.
 */
#define HEDGE_TICK_LONGEST	1500
#define HEDGE_TICK_FINE		256	/* bytes: up to here, 1 byte = 1 us */
#define HEDGE_TICK_STEP		8	/* us a byte, past HEDGE_TICK_FINE */
/* How long TBF holds a tick of `len` bytes, in us (the size table's entry). */
#define HEDGE_TICK_US(len)						\
	((len) <= HEDGE_TICK_FINE ? (len) :				\
	 HEDGE_TICK_FINE + ((len) - HEDGE_TICK_FINE) * HEDGE_TICK_STEP)
#define HEDGE_TICK_LONGEST_US	HEDGE_TICK_US(HEDGE_TICK_LONGEST)
_Static_assert(HEDGE_TICK_MIN <= HEDGE_TICK_FINE &&
	       HEDGE_TICK_LONGEST_US < 65536 &&	/* a __u16 table entry */
	       HEDGE_TICK_LONGEST_US <= HEDGE_TICK_BURST,
	       "the size table: exact short ticks, entries that fit, "
	       "every tick within TBF's burst");
/* A tick sent with nothing queued: if nothing is queued when it is back,
 * the tick stops (hedge_tick_head.udp[0]). */
#define HEDGE_TICK_LINGER	0x4c	/* "L" */
#define HEDGE_TICK_SWEEP	128	/* answered requests dropped per tick,
					   at most, however far their deadline */
/* A tick not back this long after its planned release is taken for lost:
 * the next request starts another (see struct hedge_ticker). */
#define HEDGE_TICK_STALE_NS	4000000ULL
/* skb->mark of a request the Splitter sends round as a new tick: this in
 * the high half, the tick's generation (low 16 bits) in the low half. */
#define HEDGE_TICK_MARK		0x48440000U	/* "HD" */
#define HEDGE_FRAME_MAX		1514	/* bytes of a parked request, L2 up */

/*
 * Requests parked on the tick line at once (`up --max-inflight N`): the
 * small-slot ring has N slots, the full-frame ring N / HEDGE_BIG_SHARE,
 * each target's deadline ring room for both. Powers of 2: the rings are
 * indexed by seq & mask (hedge_config.ring_mask, big_mask). The object's
 * own sizes are the least (bpf_test runs on them); `up` resizes.
 */
#define HEDGE_INFLIGHT_DEFAULT	65536
#define HEDGE_INFLIGHT_MIN	1024
#define HEDGE_INFLIGHT_MAX	1048576
#define HEDGE_BIG_SHARE		16
/*
 * The Splitter parks in the first slots of a ring only, as many as the
 * requests waiting need (hedge_ticker.span, tick.h's ring_next()): the
 * slots it writes stay in the caches, where a pass over the whole ring
 * (12 MiB at the default) met every one cold. At least this many.
 */
#define HEDGE_SPAN_MIN		64
/* The slots in use of a ring of mask + 1, its span field being raw. */
#define HEDGE_SPAN(raw, mask)	((raw) < HEDGE_SPAN_MIN ? HEDGE_SPAN_MIN : \
				 (raw) > (mask) ? (mask) + 1 : (raw))

/*
 * Names the kernel shows; `down` and `status` find hedge again by them.
 * Each is the C identifier of the program or map in hedge.bpf.c, made a
 * string here by HEDGE_NAME(). The BPF side reads the same macros with
 * HEDGE_NAME() as the identifier itself and asserts that each names one
 * of its programs or maps (end of hedge.bpf.c, bpf/maps.h): renaming one
 * side alone breaks the build.
 */
#define HEDGE_NAME_(ident)	#ident
#define HEDGE_NAME(ident)	HEDGE_NAME_(ident)
#define HEDGE_PROG_SPLITTER	HEDGE_NAME(hedge_splitter)
#define HEDGE_PROG_WATCHER	HEDGE_NAME(hedge_watcher)
#define HEDGE_PROG_RESCUER	HEDGE_NAME(hedge_rescuer)
#define HEDGE_PROG_TICKER	HEDGE_NAME(hedge_ticker)
#define HEDGE_MAP_CONFIG	HEDGE_NAME(hedge_config)
#define HEDGE_MAP_TARGETS	HEDGE_NAME(hedge_targets)
#define HEDGE_MAP_STATS		HEDGE_NAME(hedge_stats)
#define HEDGE_MAP_SCORES	HEDGE_NAME(hedge_scores)
#define HEDGE_MAP_PARKED	HEDGE_NAME(hedge_parked)
#define HEDGE_MAP_FRAMES	HEDGE_NAME(hedge_frames)
#define HEDGE_MAP_TICK		HEDGE_NAME(hedge_tick)
#define HEDGE_MAP_DUE		HEDGE_NAME(hedge_due)
#define HEDGE_MAP_ADAPT		HEDGE_NAME(hedge_adapt)
#define HEDGE_MAP_BUDGET	HEDGE_NAME(hedge_budget)
#define HEDGE_MAP_FRAGS		HEDGE_NAME(hedge_frags)
#define HEDGE_MAP_RTT_MIN	HEDGE_NAME(hedge_rtt_min)
#define HEDGE_MAP_NAT		HEDGE_NAME(hedge_nat)
#define HEDGE_MAP_STASH		HEDGE_NAME(hedge_stash)
#define HEDGE_MAP_SCORE_TAGS	HEDGE_NAME(hedge_score_tags)

/*
 * The layout of the maps user space reads (hedge_config, hedge_stats):
 * bump HEDGE_LAYOUT_VERSION whenever a struct shared here changes, so that
 * a build meeting a running hedge of another layout says so rather than
 * reading values into structs of the wrong shape. HEDGE_LAYOUT_TEST makes
 * a build of another layout (tests/control.sh's build/hedge-otherlayout).
 */
#ifdef HEDGE_LAYOUT_TEST
#define HEDGE_LAYOUT_VERSION	1001
#define HEDGE_LAYOUT_TEST_PAD	__u64 layout_test_pad[3];
#define HEDGE_LAYOUT_TEST_BYTES	24
#else
#define HEDGE_LAYOUT_VERSION	16	/* 5: a 32-byte Scoreboard key; --match,
					   --hedge-dscp/-priority; 6: time saved
					   (hedge_stats, the Scoreboard's entry);
					   7: TCP targets (proto, handshakes);
					   8: the overload brake (hedge_budget,
					   hedge_stats)
					   9: TCP replicas (hedge_nat, nat_*);
					   10: the tick line's size table
					   (HEDGE_TICK_US(): older programs
					   under a newer TBF would sleep long,
					   so no repair across it);
					   11: the rings' spans (hedge_ticker);
					   12: the Scoreboard an array of
					   struct hedge_record, in sets;
					   13: the sets' tags,
					   hedge_score_tags);
					   14: the targets' servers
					   (hedge_config.servers);
					   15: the deadline rings (hedge_due
					   an array, its positions in
					   hedge_ticker);
					   16: the brake's overloaded epochs
					   in a row (hedge_budget) */
#define HEDGE_LAYOUT_TEST_PAD
#define HEDGE_LAYOUT_TEST_BYTES	0
#endif

/* Life of a request in the Scoreboard; moved only by compare-and-swap. */
enum hedge_state {
	HEDGE_PENDING = 1,	/* sent, no response yet, no hedge yet */
	HEDGE_HEDGED = 2,	/* the Rescuer sent the hedge */
	HEDGE_DONE = 3,		/* first response seen; later ones are dropped */
	HEDGE_DONE_HEDGED = 4,	/* the same, after a hedge was sent */
	/*
	 * The hedge's own key, where its replica is also a target (two
	 * servers each other's replicas): the Splitter then knows the hedge
	 * from a new request to that target, and the watcher the replica's
	 * answer. `target` is the request's, not the replica's.
	 */
	HEDGE_COPY = 5,
};

/*
 * Addresses are IPv6, or IPv4 mapped into it (::ffff:a.b.c.d), so one key
 * and one target table serve both.
 */
#define HEDGE_ADDR_LEN		16

/*
 * Scoreboard key: the request's 5-tuple plus its ID, the server's end as
 * its target's index: hedge_targets gives each address:port(/proto) one
 * index, so the index names the address:port. 32 bytes, hashed on every
 * packet of a target's (a 48-byte key with the address cost more). UDP:
 * pad 0, id the --id bytes. A TCP handshake (bpf/tcp.h): pad
 * HEDGE_PROTO_TCP, id the client's initial sequence number (as on the
 * wire), so that a SYN retransmitted (same ISN) finds its handshake.
 */
struct hedge_key {
	__u8 saddr[HEDGE_ADDR_LEN];	/* client */
	__be16 sport;
	__u16 target;		/* the target (its primary): index into
				   hedge_config.targets */
	__u32 pad;		/* keep the key free of holes: it is hashed;
				   HEDGE_PROTO_TCP for a TCP handshake */
	__u64 id;		/* --id bytes, zero-extended; 0 with --id none */
};

/*
 * Time saved (bpf/saved.h): a hedged request's verdict, in its entry's
 * `saved`, set at its first answer: whose answer that was. CLOSED is added
 * (compare-and-swap, once) when the second answer comes, or when the entry
 * is found past --window or its key reused without one.
 */
enum hedge_saved_verdict {
	HEDGE_SAVED_HELPED = 1,	/* the hedge's answer came first */
	HEDGE_SAVED_WASTED = 2,	/* the original's came first */
	HEDGE_SAVED_CLOSED = 4,	/* the other answer is accounted for */
};

struct hedge_entry {
	__u64 sent_ns;		/* bpf_ktime_get_ns() when the request left */
	__u64 deadline_ns;	/* when its hedge is due: sent + the delay */
	__u32 state;		/* enum hedge_state */
	__u32 target;		/* index into the stats map */
	__u32 first_us;		/* its first answer, us after sent_ns (at
				   least 1); 0 until it came */
	__u32 saved;		/* hedged: enum hedge_saved_verdict, or 0 */
};

/*
 * An answered, unhedged request's entry is freed once nothing needs it
 * (bpf/forget.h), but not within this long of its answer: a network
 * duplicate of the answer (a link or bond that duplicates) comes right
 * behind it, and is dropped while the entry is there.
 */
#define HEDGE_FORGET_GRACE_NS	250000ULL	/* 250 us */

/*
 * The Scoreboard: an array of sets of HEDGE_SCORE_WAYS records, each a
 * request's key and entry in one 64-byte line (a BPF_F_MMAPABLE array:
 * page-aligned, so a record never straddles two lines). A key lives in
 * any way of the set its hash names (hedge_score_set()). A lookup or an
 * insert touches that set only, where the LRU hash it replaces touched
 * its bucket, its node and its element (BENCHMARKS.md, issue 12).
 *
 * A record is free (state HEDGE_SCORE_FREE), being written by the one
 * program that claimed it (HEDGE_SCORE_CLAIMED, by compare-and-swap; the
 * key and entry are written, then the state), or holds a request in an
 * enum hedge_state. A new request takes a free record of its set, or one
 * past --window (void); never a live one: when every way of its set is
 * live, and the sets in use cannot grow, it goes to the stash (below).
 * There are HEDGE_SCORE_PER_REQ records for each request in flight the
 * Scoreboard is sized for (the LRU hash's memory). Sets of 8, not 4:
 * with requests spread evenly (Poisson, L live a set), a new request
 * finds its set full with a chance of about L^W / W!; at 50 000
 * requests/s with 1 500 live in the whole array, 4 ways would send ~30
 * requests an hour to the stash, 8 ways none in the age of the universe
 * (tests/score_index.py --spread).
 */
#define HEDGE_SCORE_WAYS	8
#define HEDGE_SCORE_PER_REQ	2
#define HEDGE_SCORE_FREE	0
#define HEDGE_SCORE_CLAIMED	0x80

struct hedge_record {
	struct hedge_key key;
	struct hedge_entry entry;
};

/* A set as user space maps it (tests/scores.h); the programs look its
 * records up one by one (bpf/scores.h). */
struct hedge_set {
	struct hedge_record way[HEDGE_SCORE_WAYS];
};

/*
 * A set's tags (the map hedge_score_tags, one per set): way w's is the
 * hash of the key last written there, written before the record is
 * published, never cleared. A new request reads this one line to know
 * whether its key has a record already, where it read every way's: a
 * way whose tag is not the key's hash does not hold the key; one whose
 * tag is, is read to be sure (bpf/scores.h, score_known()).
 */
struct hedge_score_tags {
	__u32 tag[HEDGE_SCORE_WAYS];
};

/* The Scoreboard's sets for `inflight` requests in flight: a power of 2. */
static inline __u32 hedge_score_sets(__u32 inflight)
{
	__u32 sets = 1;

	if (inflight < HEDGE_SCOREBOARD_SIZE)
		inflight = HEDGE_SCOREBOARD_SIZE;
	while (sets * HEDGE_SCORE_WAYS < inflight * HEDGE_SCORE_PER_REQ)
		sets <<= 1;
	return sets;
}

/*
 * A key's hash: a multiply-xor hash of its four 64-bit words, the same
 * on both sides. Its set is hash & mask, for the mask in use (below).
 */
static inline __u32 hedge_score_hash(const struct hedge_key *k)
{
#ifdef __bpf__
	const __u64 *w = (const __u64 *)k;	/* 8-aligned; no copy on
						   the programs' stack */
#else
	__u64 w[4];
#endif
	__u64 h;

#ifndef __bpf__
	__builtin_memcpy(w, k, sizeof(w));
#endif
	h = w[0] * 0x9e3779b97f4a7c15ULL;
	h = (h ^ (h >> 29) ^ w[1]) * 0xbf58476d1ce4e5b9ULL;
	h = (h ^ (h >> 32) ^ w[2]) * 0x94d049bb133111ebULL;
	h = (h ^ (h >> 29) ^ w[3]) * 0x9e3779b97f4a7c15ULL;
	/* Mixed once more: without it, keys apart only in a counter ID
	 * (1, 2, 3...) fell into few sets: 28% of 40 000 refused, where
	 * random keys lose 0.8% (tests/score_index.py --spread). */
	h = (h ^ (h >> 32)) * 0xbf58476d1ce4e5b9ULL;
	h ^= h >> 29;
	return (__u32)(h >> 32);
}

static inline __u32 hedge_score_set(const struct hedge_key *k, __u32 mask)
{
	return hedge_score_hash(k) & mask;
}

/*
 * The Scoreboard grows and shrinks within its array (hedge_config's
 * score_word; bpf/scores.h). The array holds
 * hedge_config.score_mask + 1 sets; the programs use the first
 * (score_mask >> shift) + 1 of them, at least HEDGE_SCORE_SETS_MIN (64
 * KiB): a small region stays in the caches and the TLB where a request at
 * a random place of 8 MiB paid a page walk, and at a low rate, where a
 * request finds the lines the one before it touched, one that fits a
 * core's L2 cache with the rest keeps them there (BENCHMARKS.md, issue
 * 12, "The least Scoreboard: 64 KiB").
 *
 * score_word holds, in one 64-bit word moved only by compare-and-swap: the
 * shift in use (bits 0-4, new requests' sets), the shift before the last
 * change (bits 5-9; lookups try both while they differ) and the time of
 * the last change or check (bits 10-63, ns, its low 10 bits dropped).
 *   - A new request whose set's first HEDGE_SCORE_CROWDED ways are taken
 *     (before it is full: a set full is a request not hedged) grows the
 *     sets in use 4 times, and to HEDGE_SCORE_SETS_JUMP at least
 *     (hedge_score_grow_to(); or back to the size a shrink left, while
 *     that drains), and takes a way there.
 *   - Once every --window (and HEDGE_SCORE_MARGIN_NS), the Splitter ends
 *     a drain (a record is void --window after it was written: none is
 *     left where lookups no longer look), or, HEDGE_SCORE_HOLD windows
 *     after they last grew, halves the sets in use if HEDGE_SCORE_SAMPLE
 *     sets sampled hold HEDGE_SCORE_SPARSE live requests at most.
 * A record is written anew (renew(), a replica's copy) only in the sets
 * in use; one found where only a drain finds it is freed and inserted.
 * All zero is the whole array (shift 0); `up` writes
 * hedge_score_shift_min() for both. The programs change it only once
 * `up` is done (HEDGE_F_UP_DONE), and user space writes the config for
 * the last time then: the word it writes is the one it wrote before.
 * In the config, not a map of its own: the programs read the config
 * anyway, where another lookup, inlined in each of the watcher's
 * lookups, took it past its 512 bytes of stack (clang 14).
 */
#define HEDGE_SCORE_SETS_MIN	128	/* 64 KiB */
/* The least sets a growth makes: a flood from idle finds this much room
 * after the first growth (sets cannot grow again while it drains, a
 * --window: tests/capacity.sh's 20 000/s, every request stalled, a 1 s
 * window, left 9 462 requests unhedged from 128 sets grown 4 times). */
#define HEDGE_SCORE_SETS_JUMP	4096
#define HEDGE_SCORE_CROWDED	6	/* ways of a set, taken from way 0 on,
					   not free nor void, that grow the
					   sets */
#define HEDGE_SCORE_SAMPLE	8	/* sets read to decide a shrink */
#define HEDGE_SCORE_SPARSE	1	/* live records in them, at most: 1 in
					   64; halved, a set holds 1 in 4 on
					   average, and 6 with a chance of
					   ~3e-7 */
#define HEDGE_SCORE_HOLD	8	/* windows from a growth to a shrink */
#define HEDGE_SCORE_MARGIN_NS	1000000ULL	/* a drain: --window + 1 ms */
/*
 * The stash (map hedge_stash, an LRU hash of records by key): where a new
 * request goes when its set is full and the sets in use cannot grow (the
 * whole array in use, or a growth drains): hedged all the same, not
 * turned away. A set is full seldom (L^8/8!), and a burst may fill sets
 * before they grow; the LRU hash holds any key, as the Scoreboard did
 * before. Lookups look in it, after the sets, only while
 * score_stash_ns is set: the last request stashed, cleared by the
 * Splitter --window (+ HEDGE_SCORE_MARGIN_NS) after it (every record in
 * it void by then). A record found there is written anew in the sets.
 * Its LRU evicting a live record is seen as an entry lost (`evicted`).
 */
#define HEDGE_STASH_SIZE	8192

#define HEDGE_SCORE_WORD(t, prev, cur)					\
	(((__u64)(t) & ~0x3ffULL) | ((__u64)(prev) << 5) | (__u64)(cur))
#define HEDGE_SCORE_CUR(w)	((__u32)(w) & 31)
#define HEDGE_SCORE_PREV(w)	(((__u32)(w) >> 5) & 31)
#define HEDGE_SCORE_TIME(w)	((__u64)(w) & ~0x3ffULL)

/* The shift that leaves HEDGE_SCORE_SETS_MIN of score_mask + 1 sets (or
 * all of them, if fewer). */
static inline __u32 hedge_score_shift_min(__u32 score_mask)
{
	__u32 s = 0;

	while (s < 31 && (score_mask >> s) + 1 > HEDGE_SCORE_SETS_MIN)
		s++;
	return s;
}

/* The shift a growth from shift c (sets in use: (score_mask >> c) + 1)
 * goes to: 4 times the sets, and HEDGE_SCORE_SETS_JUMP at least (from
 * HEDGE_SCORE_SETS_MIN, 3 more doublings: unrolled, for the verifier);
 * never more than the whole array (shift 0). */
static inline __u32 hedge_score_grow_to(__u32 score_mask, __u32 c)
{
	__u32 to = c > 2 ? c - 2 : 0;

	if (to && (score_mask >> to) + 1 < HEDGE_SCORE_SETS_JUMP)
		to--;
	if (to && (score_mask >> to) + 1 < HEDGE_SCORE_SETS_JUMP)
		to--;
	if (to && (score_mask >> to) + 1 < HEDGE_SCORE_SETS_JUMP)
		to--;
	return to;
}

/* proto: 0 for UDP (the default), HEDGE_PROTO_TCP for a TCP target, whose
 * SYNs are hedged (bpf/tcp.h): the same address and port may be both. */
#define HEDGE_PROTO_TCP		6	/* IPPROTO_TCP */

struct hedge_target_key {
	__u8 addr[HEDGE_ADDR_LEN];
	__be16 port;
	__u16 proto;
};

/* A target: the server requests go to, and where hedges go (its replica,
 * or the server itself when replica.port is 0). */
struct hedge_target {
	struct hedge_target_key primary;
	struct hedge_target_key replica;
};

/* hedge_targets maps an address:port to its target's index, flagged when
 * it is the target's replica. */
#define HEDGE_TARGET_REPLICA	(1U << 31)

/*
 * The targets' servers, indexed in the config (hedge_config.servers), so
 * that the programs find a packet's server without a map lookup. A slot,
 * chosen by a hash of the server's address (its last 4 bytes), port and
 * protocol (hedge_server_slot()), is empty (HEDGE_SERVER_NONE: most
 * traffic, passed at once), names one server (HEDGE_SERVER_PRIMARY + t:
 * target t's primary; HEDGE_SERVER_REPLICA + t: its replica), compared
 * whole, or holds several (HEDGE_SERVER_MANY: looked up in hedge_targets,
 * which has them all). hedge_servers_set() builds it from the targets as
 * `up` fills hedge_targets: a replica that is some target's primary is
 * known as that primary. The hash is of bytes as stored (the port in
 * network order), the same on both sides.
 */
#define HEDGE_SERVER_SHIFT	23
#define HEDGE_SERVER_SLOTS	(1U << (32 - HEDGE_SERVER_SHIFT))	/* 512 */
#define HEDGE_SERVER_NONE	0
#define HEDGE_SERVER_PRIMARY	1			/* + t */
#define HEDGE_SERVER_REPLICA	(1 + HEDGE_MAX_TARGETS)	/* + t */
#define HEDGE_SERVER_MANY	0xff

static inline __u32 hedge_server_slot(const struct hedge_target_key *k)
{
	__u32 a = (__u32)k->addr[12] << 24 | (__u32)k->addr[13] << 16 |
		  (__u32)k->addr[14] << 8 | k->addr[15];

	return ((a ^ ((__u32)k->port << 8) ^ k->proto) * 0x9e3779b1U) >>
	       HEDGE_SERVER_SHIFT;
}

/*
 * Hedge lateness: how long after its deadline (request sent + delay) the
 * Rescuer sent a hedge, in buckets of HEDGE_LATE_STEP_NS; the last bucket
 * holds everything later. A hedge before its deadline counts as early.
 */
#define HEDGE_LATE_BUCKETS	32
#define HEDGE_LATE_STEP_NS	16000ULL	/* 16 us: 0..496 us, then > */

/*
 * Response times (request to first response) in log-linear buckets of
 * 1.024 us units: 0..7 one unit wide, then 8 per power of two (12.5%
 * wide); the last bucket also holds everything slower (~17 s and up).
 */
#define HEDGE_HIST_SUB		8
#define HEDGE_HIST_BUCKETS	176

/* The first response time, in ns, that falls in bucket b. */
static inline __u64 hedge_hist_floor_ns(__u32 b)
{
	__u32 octave = b / HEDGE_HIST_SUB, sub = b % HEDGE_HIST_SUB;

	if (!octave)
		return (__u64)sub << 10;
	return (__u64)(HEDGE_HIST_SUB + sub) << (octave - 1 + 10);
}

struct hedge_stats {
	__u64 requests;		/* new requests seen by the Splitter */
	__u64 hedges_sent;	/* clones the Rescuer sent on */
	__u64 hedges_cancelled;	/* clones dropped: the response came first */
	__u64 responses;	/* first responses, passed to the client */
	__u64 duplicates;	/* later responses, dropped */
	__u64 hedges_refused;	/* due, but over the budget: not sent */
	__u64 hedges_won;	/* replica: its answer came first */
	__u64 hedges_lost;	/* replica: the primary's came first anyway */
	__u64 early;		/* hedges sent before their deadline */
	__u64 late_max_ns;
	__u64 requests_unhedgeable;	/* IPv4 options or IPv6 extension
					   headers: passed, not hedged */
	__u64 requests_fragmented;	/* a fragment: passed, not hedged */
	__u64 requests_gso;	/* several datagrams in one skb: not hedged */
	__u64 responses_invalid; /* the stack would drop it: state unchanged */
	__u64 responses_gro;	/* several datagrams in one skb: unjudged */
	/* Requests not hedged for lack of room (never silent): */
	__u64 too_big;		/* tick line: bigger than a parking slot */
	__u64 ring_full;	/* tick line: no free slot in its ring */
	__u64 queue_full;	/* tick line: its deadline ring was full */
	__u64 evicted;		/* no room in the Scoreboard (its set full
				   of live requests), or its entry lost
				   before its deadline */
	__u64 clone_failed;	/* clone, copy or redirect to the line failed */
	__u64 copy_clash;	/* the replica's key holds the client's own
				   live request: a COPY would corrupt it */
	__u64 delayed;		/* copies put in the delay line (netem:
				   clones; tick: parked) */
	__u64 rescued;		/* copies the Rescuer got back: on netem,
				   delayed - rescued - in flight is what
				   netem's limit dropped */
	__u64 late[HEDGE_LATE_BUCKETS];
	__u64 rt_sum_ns;	/* response times: their sum, and buckets */
	__u64 rt[HEDGE_HIST_BUCKETS];
	__u64 requests_unsafe;	/* not hedged: not a plain DNS query
				   (--id dns), or not --match's bytes */
	/* Time saved (bpf/saved.h), per hedged request that was answered: */
	__u64 hedges_helped;	/* the hedge's answer came first */
	__u64 hedges_wasted;	/* the original's came first */
	__u64 originals_unanswered; /* helped, and the original's answer not
				   seen within --window (or before its key
				   was reused) */
	__u64 saved_undecided;	/* same server: either answer's; taken for
				   the hedge's (counted helped) */
	__u64 saved_sum_ns;	/* helped: how much later the original's
				   answer came; sum and buckets (rt's) */
	__u64 saved[HEDGE_HIST_BUCKETS];
	/* TCP targets (bpf/tcp.h): a handshake is one SYN (and its
	 * retransmissions); its SYN-ACK is its response. */
	__u64 handshakes;	/* SYNs tracked (requests stays 0) */
	__u64 syn_data;		/* SYNs with data (TCP Fast Open): passed,
				   not hedged (a copy would send it twice) */
	/* The overload brake (bpf/brake.h): */
	__u64 requests_braked;	/* passed untracked while braking */
	__u64 duplicates_passed; /* a hedged request's second answer, later
				   than --window: passed to the client */
	/* TCP replicas (bpf/tcpnat.h): */
	__u64 nat_entries;	/* a gauge, never written by BPF (0 per
				   CPU): `status` fills in the live entries
				   of hedge_nat it counts */
	__u64 nat_full;		/* the replica won, no room in hedge_nat:
				   its connection reset, the client's own
				   SYN left to go on to the primary */
	__u64 nat_resets;	/* RSTs sent to the losing server (its
				   SYN-ACK turned into a RST) */
	__u64 nat_closed;	/* connections through the replica closed
				   (FIN both ways, or a RST) */
	HEDGE_LAYOUT_TEST_PAD
};

/*
 * Adaptive delay (--delay pNN): per target, a decayed histogram of response
 * times, in HEDGE_HIST_ONE units per response (halving keeps fractions),
 * and the delay it gives. Samples are halved every HEDGE_DECAY_NS once
 * HEDGE_DECAY_MIN new ones came, so the delay follows a change within
 * about a second of traffic. The ticker recomputes each target's delay at
 * most every HEDGE_ADAPT_NS; it rises at once but falls no faster than
 * time passes, and the Splitter never gives a deadline before the last
 * one: each target's deadlines never go backwards.
 */
#define HEDGE_HIST_ONE		16
#define HEDGE_DECAY_NS		200000000ULL	/* 200 ms */
#define HEDGE_DECAY_MIN		16
#define HEDGE_ADAPT_NS		10000000ULL	/* 10 ms */
#define HEDGE_ADAPT_MIN		(20 * HEDGE_HIST_ONE)	/* samples needed */

struct hedge_adapt {
	__u64 delay_ns;		/* the delay new requests get now */
	__u64 last_due_ns;	/* the latest deadline given so far */
	__u64 updated_ns;	/* when delay_ns was last computed */
	__u64 decayed_ns;	/* when the histogram was last halved */
	__u64 fresh;		/* responses since then */
	__u64 hist[HEDGE_HIST_BUCKETS];
};

enum hedge_flags {
	HEDGE_F_DEV_IS_LOOPBACK = 1 << 0,	/* hedges leave via redirect_neigh */
	HEDGE_F_CREATED_CLSACT = 1 << 1,	/* `down` removes the dev's clsact */
	HEDGE_F_MOUNTED_BPFFS = 1 << 2,		/* `down` unmounts /sys/fs/bpf */
	HEDGE_F_ADAPTIVE = 1 << 3,		/* per-target delays: hedge_adapt */
	/* The Splitter and watcher are TCX programs (6.6+), ahead of every
	 * other; without it, cls_bpf filters on the device's clsact. */
	HEDGE_F_ATTACH_TCX = 1 << 4,
	/* `up` finished: without it, an instance found is the remains of
	 * an interrupted `up`, which the next `up` replaces. */
	HEDGE_F_UP_DONE = 1 << 5,
	/* Some target is TCP: the programs look at TCP (bpf/tcp.h). */
	HEDGE_F_TCP = 1 << 6,
	/* Some TCP target has a replica: connections to it may go through
	 * hedge_nat (bpf/tcpnat.h). */
	HEDGE_F_TCP_NAT = 1 << 7,
};

/*
 * Hedging budget (--budget), a token bucket per target as Finagle's
 * RetryBudget: each request deposits budget_pct/100 of a hedge, time
 * deposits budget_min_rate hedges a second, a hedge withdraws one. In
 * milli-hedges; at most budget_cap is kept.
 */
#define HEDGE_MILLI		1000

struct hedge_budget {
	__s64 tokens;		/* milli-hedges */
	__u64 refilled_ns;	/* time credited up to here */
	/* The overload brake (bpf/brake.h), driven by this budget: */
	__u64 brake_until_ns;	/* braking until then; 0: never braked */
	__u64 brake_hold_ns;	/* the last hold given */
	__u64 brake_since_ns;	/* when the current episode began */
	__u64 brake_epoch_ns;	/* the Rescuer's measuring epoch began */
	__u64 brake_missed;	/* due unanswered in this epoch: the hedges
				   sent and refused */
	__u64 brake_refused;	/* of those, refused by the budget */
	__u64 brake_episodes;	/* times the brake engaged from released */
	__u64 brake_seen;	/* requests the Splitter saw while braking
				   (not atomic): 1 in HEDGE_BRAKE_PROBE is
				   tracked anyway, a probe */
	__u64 brake_streak;	/* epochs judged overloaded in a row, up
				   to the last one judged */
};

/*
 * The overload brake (bpf/brake.h): a target whose due, unanswered
 * requests the budget refuses persistently (in an epoch of
 * HEDGE_BRAKE_EPOCH_NS, at least HEDGE_BRAKE_MIN_REFUSED refusals and 3
 * in 4 of them refused: HEDGE_BRAKE_IN_ROW such epochs in a row, or one
 * with at least HEDGE_BRAKE_SURE_REFUSED) is not hedged for a hold of
 * HEDGE_BRAKE_HOLD_MIN doubling to HEDGE_BRAKE_HOLD_MAX while it
 * persists; 1 request in HEDGE_BRAKE_PROBE is tracked meanwhile, to
 * measure.
 */
#define HEDGE_BRAKE_EPOCH_NS	20000000ULL	/* 20 ms */
#define HEDGE_BRAKE_MIN_REFUSED	16
#define HEDGE_BRAKE_SURE_REFUSED 256	/* half a second's backlog at 500/s */
#define HEDGE_BRAKE_IN_ROW	3	/* a backlog spans two at most */
#define HEDGE_BRAKE_HOLD_MIN	100000000ULL	/* 100 ms */
#define HEDGE_BRAKE_HOLD_MAX	800000000ULL	/* 800 ms: under a 1 s --window */
#define HEDGE_BRAKE_PROBE	64

/* --match: bytes compared at most (two __u64s); --hedge-dscp: its range. */
#define HEDGE_MATCH_MAX		16
#define HEDGE_DSCP_MAX		63
#define HEDGE_DNS_HEADER	12	/* bytes of a DNS header */

enum hedge_dress {
	HEDGE_DRESS_DSCP = 1 << 0,	/* hedges get hedge_dscp */
	HEDGE_DRESS_PRIORITY = 1 << 1,	/* hedges get hedge_priority */
};

/* Single entry (key 0) of the config array: set by `up`, read by all. */
struct hedge_config {
	__u32 layout;		/* HEDGE_LAYOUT_VERSION: always the first field */
	__u32 layout_pad;
	__u32 dev_ifindex;	/* device hedged: Splitter egress, watcher ingress */
	__u32 delay_ifindex;	/* where clones of due requests go */
	__u32 rescue_ifindex;	/* far end of the delay line: the Rescuer */
	__u32 tick_ifindex;	/* tick line: where the tick goes round */
	__u32 flags;		/* enum hedge_flags */
	__s32 tick_cpu;		/* tick line: the tick's CPU; -1: up's own */
	__u64 delay_ns;		/* fixed; adaptive: the first one */
	__u64 delay_min_ns;	/* adaptive: bounds of the delay */
	__u64 delay_max_ns;
	__u32 delay_pct;	/* adaptive: the percentile, x100 (9500) */
	__u32 budget_pct;	/* hedges per 100 requests; 100: no budget */
	__u32 budget_min_rate;	/* hedges/s allowed whatever the requests */
	__u32 ring_mask;	/* tick line: small-slot ring size - 1 */
	__u64 budget_cap;	/* most milli-hedges a target may save up */
	__u64 window_ns;	/* Scoreboard entries older than this are void */
	__u16 id_offset;
	__u16 id_len;		/* 0: one request per 5-tuple (--id none) */
	__u32 n_targets;
	__u32 delay_line;	/* enum hedge_delay_line */
	__u32 big_mask;		/* tick line: full-frame ring size - 1 */
	struct hedge_target targets[HEDGE_MAX_TARGETS];
	/*
	 * Only safe requests are hedged (bpf/safe.h): with match_len, those
	 * whose UDP payload holds match_len bytes from match_offset on that,
	 * ANDed with match_mask, equal match_bytes (zero where the mask is);
	 * the rest pass unhedged (requests_unsafe). --match OFFSET:HEX sets
	 * a full mask; --id dns a standard query: a 12-byte header, QR and
	 * opcode (byte 2, mask 0xf8) zero.
	 */
	__u16 match_offset;
	__u16 match_len;	/* 0: every request may be hedged */
	/* What a hedge, and never the original, carries (HEDGE_DRESS_*). */
	__u32 hedge_priority;	/* skb->priority */
	__u8 hedge_dscp;	/* DSCP 0..63: IPv4 TOS, IPv6 traffic class,
				   the ECN bits kept */
	__u8 hedge_dress;	/* HEDGE_DRESS_DSCP | HEDGE_DRESS_PRIORITY */
	__u16 dress_pad;
	__u32 score_mask;	/* the Scoreboard's sets - 1 (hedge_score_set()) */
	__u8 match_bytes[HEDGE_MATCH_MAX];
	__u8 match_mask[HEDGE_MATCH_MAX];
	/* The Scoreboard's sets in use (above hedge_score_shift_min()),
	 * written by the programs once `up` is done. */
	__u64 score_word;
	__u64 score_grows;	/* changes to more sets */
	__u64 score_shrinks;	/* changes to fewer */
	__u64 score_grown_ns;	/* when they last grew */
	__u64 score_stash_ns;	/* the last request stashed; 0: none within
				   --window (hedge_stash) */
	__u64 score_stashed;	/* requests stashed */
	__u8 servers[HEDGE_SERVER_SLOTS];	/* HEDGE_SERVER_*, by
						   hedge_server_slot() */
	HEDGE_LAYOUT_TEST_PAD
};

/* One server into its slot: v, or HEDGE_SERVER_MANY if taken. */
static inline void hedge_server_put(struct hedge_config *cfg,
				    const struct hedge_target_key *k, __u8 v)
{
	__u8 *slot = &cfg->servers[hedge_server_slot(k)];

	*slot = *slot == HEDGE_SERVER_NONE ? v : HEDGE_SERVER_MANY;
}

/* Target t's replica, as user space keys it: none (NULL), or a replica
 * that is some target's primary (NULL: known as that primary), or it. */
static inline const struct hedge_target_key *
hedge_replica_key(const struct hedge_config *cfg, __u32 t)
{
	const struct hedge_target_key *r = &cfg->targets[t].replica;
	__u32 i;

	if (!r->port)
		return 0;
	for (i = 0; i < cfg->n_targets && i < HEDGE_MAX_TARGETS; i++)
		if (!__builtin_memcmp(r, &cfg->targets[i].primary,
				      sizeof(*r)))
			return 0;
	return r;
}

/* cfg's server index from its targets (see hedge_server_slot()). */
static inline void hedge_servers_set(struct hedge_config *cfg)
{
	const struct hedge_target_key *r;
	__u32 i;

	__builtin_memset(cfg->servers, HEDGE_SERVER_NONE,
			 sizeof(cfg->servers));
	for (i = 0; i < cfg->n_targets && i < HEDGE_MAX_TARGETS; i++)
		hedge_server_put(cfg, &cfg->targets[i].primary,
				 (__u8)(HEDGE_SERVER_PRIMARY + i));
	for (i = 0; i < cfg->n_targets && i < HEDGE_MAX_TARGETS; i++)
		if ((r = hedge_replica_key(cfg, i)))
			hedge_server_put(cfg, r,
					 (__u8)(HEDGE_SERVER_REPLICA + i));
}

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
	HEDGE_DL_NETEM = 1,	/* clones wait in netem on DL_IN */
	HEDGE_DL_TICK = 2,	/* requests are parked; the ticker sends them */
};

/* Ethernet, then IPv4 (no options) or IPv6 (UDP next), then UDP. */
#define HEDGE_UDP_AT4		34
#define HEDGE_UDP_AT6		54
#define HEDGE_UDP_MAX		(HEDGE_FRAME_MAX - HEDGE_UDP_AT4)	/* 1480 */

/*
 * What an skb carries besides its bytes that matters on the wire: parked
 * with the request, put back on its hedge.
 */
struct hedge_meta {
	__u32 mark;
	__u32 priority;
	__be16 vlan_proto;	/* 0: no (hardware-accelerated) VLAN tag */
	__u16 vlan_tci;
};

/*
 * A parking slot's head. `seq` says which request it holds; `busy` is
 * non-zero from when the Splitter claims the slot (compare-and-swap from
 * 0) until the ticker pops its deadline: a ring never wraps over a request
 * still waiting, the new one is refused and counted (ring_full). busy is
 * the deadline in ms (| 1): a slot whose deadline is a --window past is
 * reclaimed, whatever happened to its queue entry.
 */
struct hedge_slot_head {
	__u32 seq;
	__u32 busy;
	__u32 len;
	struct hedge_meta meta;
};

/*
 * Requests parked on the tick line until their deadline, in two rings by
 * size: small slots for DNS-sized frames (up to HEDGE_SMALL_FRAME bytes),
 * full frames for the rest. A small slot and its deadline entry take 256
 * bytes. Room past the frame: the checksum's reads are bounded for the
 * verifier by the larger IPv6 header and the IPv4 payload at once.
 */
#define HEDGE_SMALL_DATA	168
#define HEDGE_SMALL_FRAME	(HEDGE_SMALL_DATA - (HEDGE_UDP_AT6 - HEDGE_UDP_AT4))
#define HEDGE_SMALL_UDP_MAX	(HEDGE_SMALL_DATA - HEDGE_UDP_AT6)

struct hedge_parked_small {
	struct hedge_slot_head h;
	__u8 data[HEDGE_SMALL_DATA];
};

struct hedge_parked {
	struct hedge_slot_head h;
	__u8 data[HEDGE_UDP_AT6 + HEDGE_UDP_MAX];
	__u8 pad[2];
};

/*
 * The head of the tick frame, as the ticker and `up` build it: Ethernet
 * (type IPv4), IPv4 (protocol UDP), UDP, the magic; the rest is padding.
 */
struct hedge_tick_head {
	__u8 eth[12];
	__be16 eth_type;	/* ETH_P_IP */
	__u8 ip[20];		/* ip[0] = 0x45, ip[9] = IPPROTO_UDP */
	__u8 udp[8];		/* udp[0]: HEDGE_TICK_LINGER if the tick
				   left with nothing queued (rearm()) */
	__u64 magic;		/* HEDGE_TICK_MAGIC */
	__u32 gen;		/* the generation it belongs to (struct
				   hedge_ticker.run); `up`'s first tick: 0 */
} __attribute__((packed));

/*
 * The tick line's deadlines, in the order requests left: a ring per
 * target, whose deadlines never go backwards (see struct hedge_adapt), in
 * the array hedge_due: target t's at t * cap .. (t + 1) * cap - 1, its
 * positions in struct hedge_ticker (due_tail, due_head; bpf/tick.h).
 */
#define HEDGE_SEQ_BIG	(1U << 31)	/* in hedge_due.seq: the full-frame ring */

struct hedge_due {
	__u64 deadline_ns;	/* its publication: 0 until the rest is
				   written, and once popped (bpf/tick.h) */
	struct hedge_key key;
	__u32 seq;		/* the slot is seq & mask of its ring */
	__u32 delay_us;		/* deadline - sent: an entry gone before
				   sent + window was lost (evicted) */
};

/*
 * The watcher's verdict on a fragmented response, taken on its first
 * fragment (the one with the ports and the ID), for its later ones: an LRU
 * of HEDGE_FRAGS_SIZE keyed by what IP reassembles by. A verdict older
 * than HEDGE_FRAG_NS is void (IP IDs come round), and the last fragment
 * (no MF) removes it.
 */
#define HEDGE_FRAGS_SIZE	1024

/*
 * TCP replicas (bpf/tcpnat.h): a connection whose handshake the replica
 * won is rewritten for its whole life, both ways, by its entry here: the
 * client's address and port, and its target (its primary; the replica is
 * the target's). A hash, not an LRU: a live connection is never evicted,
 * a full table is counted (nat_full). An entry ends HEDGE_NAT_LINGER_NS
 * after FIN both ways or a RST, or when idle HEDGE_NAT_IDLE_NS: found so
 * on its next packet, or by `status` (which counts the live ones).
 */
#define HEDGE_NAT_SIZE		16384
#define HEDGE_NAT_LINGER_NS	2000000000ULL		/* 2 s */
#define HEDGE_NAT_IDLE_NS	(3600ULL * 1000000000ULL)	/* 1 h */
#define HEDGE_NAT_TOUCH_NS	1000000000ULL	/* used_ns written at most
						   once a second */

struct hedge_nat_key {
	__u8 client[HEDGE_ADDR_LEN];
	__be16 cport;
	__u16 target;		/* index into hedge_config.targets */
	__u32 pad;		/* 0: the key is hashed */
};

enum hedge_nat_flags {
	HEDGE_NAT_FIN_OUT = 1 << 0,	/* the client sent its FIN */
	HEDGE_NAT_FIN_IN = 1 << 1,	/* the replica sent its FIN */
};

struct hedge_nat {
	__u64 used_ns;		/* its last packet (to HEDGE_NAT_TOUCH_NS) */
	__u64 end_ns;		/* 0, or when it ended: FIN both ways, RST */
	__u32 flags;		/* enum hedge_nat_flags */
	__u32 target;
	__u8 replica_mac[6];	/* the replica's SYN-ACK's source MAC: the
				   next hop the client's segments now take */
	__u16 mac_pad;
};
#define HEDGE_FRAG_NS		1000000000ULL	/* 1 s */

struct hedge_frag_key {
	__u8 saddr[HEDGE_ADDR_LEN];	/* IPv4 mapped, or IPv6 */
	__u8 daddr[HEDGE_ADDR_LEN];
	__u32 id;		/* IPv4 ID (16 bits) or IPv6 identification */
	__u32 family;		/* 4 or 6 */
};

enum hedge_frag_verdict {
	HEDGE_FRAG_DROP = 1,		/* the loser's: dropped, all of them */
	HEDGE_FRAG_AS_PRIMARY = 2,	/* a replica's winning answer: its
					   source becomes the primary's */
};

struct hedge_frag {
	__u64 at_ns;		/* when the first fragment was judged */
	__u32 verdict;		/* enum hedge_frag_verdict */
	__u32 target;
};

/*
 * The tick's life (the low half of struct hedge_ticker.run). `up` sends
 * the first tick (generation 0, RUNNING). When every deadline ring is
 * empty the ticker lets the tick die and says IDLE. The Splitter, having
 * parked a request, starts a new tick when the state is IDLE, or RUNNING
 * but the tick is lost (not back HEDGE_TICK_STALE_NS after release_ns: a
 * link bounce or a qdisc reset drops it), or STARTING but that start was
 * lost (HEDGE_TICK_STALE_NS after restart_ns): it moves run to the next
 * generation and STARTING by compare-and-swap (one start per staleness),
 * and clones the request, marked HEDGE_TICK_MARK | generation, into the
 * tick line; the ticker makes it the tick (RUNNING). Ticks of an older
 * generation are dropped, so one tick at most circles.
 */
enum hedge_tick_state {
	HEDGE_TICK_RUNNING = 0,	/* a tick circles, due back at release_ns */
	HEDGE_TICK_IDLE = 1,	/* nothing in flight: no tick, by design */
	HEDGE_TICK_STARTING = 2,	/* a start sent at restart_ns, not in yet */
};
#define HEDGE_TICK_STATE(run)	((__u32)((run) & 0xffffffffULL))
#define HEDGE_TICK_GEN(run)	((__u32)((run) >> 32))
#define HEDGE_TICK_RUN(gen, state) (((__u64)(gen) << 32) | (state))

/*
 * The ticker's own state (array entry 0). Health, as user space tells it
 * (now = CLOCK_MONOTONIC, as bpf_ktime_get_ns()):
 *   alive: RUNNING and now <= release_ns + HEDGE_TICK_STALE_NS, or
 *          STARTING and now <= restart_ns + HEDGE_TICK_STALE_NS;
 *   idle by design: IDLE (the ticker saw every deadline ring empty);
 *   dead:  otherwise. The next request restarts it (restarts + 1), so a
 *          dead tick with requests parked and none coming is the one
 *          failure left: their hedges wait for the next request.
 */
struct hedge_ticker {
	__u64 release_ns;	/* when TBF releases the tick now in it (the
				   model's: tokens carry over, see rearm()) */
	__u64 ticks;		/* wake-ups */
	__u64 last_ns;		/* bpf_ktime_get_ns() of the last tick */
	__u32 next_seq;		/* the Splitter's next parking slot */
	__u32 cpu;		/* where the tick last ran */
	__u32 next_big;		/* the same, in the full-frame ring */
	__u32 popping;		/* 1 while a ticker pops the deadline
				   queues (tick.h, tick_own()) */
	__u64 run;		/* HEDGE_TICK_RUN(generation, state); moved by
				   compare-and-swap only */
	__u64 restart_ns;	/* when the last start was sent */
	__u64 restarts;		/* starts of a tick lost (RUNNING or STARTING,
				   stale) */
	__u64 starts;		/* starts after IDLE: the next request's */
	__u64 old_ticks;	/* ticks of an older generation, dropped */
	__u32 span[2];		/* parking slots in use, of the small-slot
				   ring and the full-frame ring: the first
				   span[i] (a power of 2; 0: HEDGE_SPAN_MIN).
				   See tick.h, ring_next() */
	__u64 pass_ns[2];	/* when the pass over them began */
	/* Each target's deadline ring (hedge_due, bpf/tick.h): positions
	 * taken by the Splitters (compare-and-swap), and the next to pop,
	 * moved by the ticker that owns the rings only. 128 bytes apart:
	 * every request writes the one, ticks the other (where an array's
	 * value starts, its 64-byte alignment here is not kept). */
	__u64 due_tail[HEDGE_MAX_TARGETS] __attribute__((aligned(64)));
	__u64 due_head[HEDGE_MAX_TARGETS] __attribute__((aligned(64)));
};

/* A target's deadline ring: an entry for each parking slot of both rings
 * (a parked request holds its entry until the ticker pops it). */
static inline __u32 hedge_due_cap(__u32 ring_mask, __u32 big_mask)
{
	return ring_mask + 1 + big_mask + 1;
}

/* The index in hedge_due of target's ring position pos. */
static inline __u64 hedge_due_index(__u32 ring_mask, __u32 big_mask,
				    __u32 target, __u64 pos)
{
	__u64 cap = hedge_due_cap(ring_mask, big_mask);

	return target * cap + pos % cap;
}

/*
 * The layouts both sides rely on: sizes, the offsets the BPF code and the
 * loader use, and no holes (a hole in a hashed key would hash garbage; in
 * a value, the two compilers could disagree).
 */
#define HEDGE_OFF(type, member)	__builtin_offsetof(type, member)
_Static_assert(sizeof(struct hedge_key) == 32 &&
	       HEDGE_OFF(struct hedge_key, sport) == 16 &&
	       HEDGE_OFF(struct hedge_key, target) == 18 &&
	       HEDGE_OFF(struct hedge_key, pad) == 20 &&
	       HEDGE_OFF(struct hedge_key, id) == 24 &&
	       HEDGE_MAX_TARGETS <= 0xffff,
	       "struct hedge_key: 32 bytes, no holes (it is hashed)");
_Static_assert(sizeof(struct hedge_entry) == 32 &&
	       HEDGE_OFF(struct hedge_entry, state) == 16 &&
	       HEDGE_OFF(struct hedge_entry, target) == 20 &&
	       HEDGE_OFF(struct hedge_entry, saved) == 28,
	       "struct hedge_entry: 32 bytes, no holes");
_Static_assert(HEDGE_SCORE_SETS_JUMP / HEDGE_SCORE_SETS_MIN <= 4 << 3,
	       "hedge_score_grow_to(): a growth from the least sets reaches "
	       "HEDGE_SCORE_SETS_JUMP in its 3 more doublings");
_Static_assert((HEDGE_SCORE_SETS_MIN & (HEDGE_SCORE_SETS_MIN - 1)) == 0 &&
	       HEDGE_SCORE_SETS_MIN % HEDGE_SCORE_SAMPLE == 0,
	       "the least sets a power of 2, in whole samples");
_Static_assert(sizeof(struct hedge_record) == 64 &&
	       HEDGE_OFF(struct hedge_record, entry) == 32 &&
	       sizeof(struct hedge_set) == 64 * HEDGE_SCORE_WAYS &&
	       sizeof(struct hedge_score_tags) == 4 * HEDGE_SCORE_WAYS &&
	       HEDGE_SCORE_WAYS == 8 && HEDGE_SCORE_CLAIMED > HEDGE_COPY &&
	       HEDGE_SCORE_CROWDED < HEDGE_SCORE_WAYS,
	       "struct hedge_record: one cache line; a set, 8 of them "
	       "(bpf/scores.h looks at each by name); the claimed mark no "
	       "request's state; a set crowded before it is full");
_Static_assert(sizeof(struct hedge_target_key) == 20 &&
	       HEDGE_OFF(struct hedge_target_key, port) == 16 &&
	       HEDGE_OFF(struct hedge_target_key, proto) == 18,
	       "struct hedge_target_key: 20 bytes, no holes (it is hashed)");
_Static_assert(sizeof(struct hedge_target) ==
	       2 * sizeof(struct hedge_target_key),
	       "struct hedge_target: no holes");
_Static_assert(sizeof(struct hedge_stats) ==
	       (23 + HEDGE_LATE_BUCKETS + 1 + HEDGE_HIST_BUCKETS + 1 +
		5 + HEDGE_HIST_BUCKETS + 2 + 2 + 4) * 8 +
	       HEDGE_LAYOUT_TEST_BYTES &&
	       sizeof(struct hedge_stats) % 8 == 0 &&
	       HEDGE_OFF(struct hedge_stats, late) == 184 &&
	       HEDGE_OFF(struct hedge_stats, rt) ==
	       192 + HEDGE_LATE_BUCKETS * 8,
	       "struct hedge_stats: __u64 counters only, no holes");
_Static_assert(sizeof(struct hedge_adapt) == (5 + HEDGE_HIST_BUCKETS) * 8 &&
	       HEDGE_OFF(struct hedge_adapt, hist) == 40,
	       "struct hedge_adapt: __u64s only, no holes");
_Static_assert(sizeof(struct hedge_budget) == 88 &&
	       HEDGE_OFF(struct hedge_budget, brake_until_ns) == 16,
	       "struct hedge_budget: __u64s only, no holes");
_Static_assert(HEDGE_OFF(struct hedge_config, layout) == 0 &&
	       HEDGE_OFF(struct hedge_config, delay_ns) == 32 &&
	       HEDGE_OFF(struct hedge_config, delay_pct) == 56 &&
	       HEDGE_OFF(struct hedge_config, budget_cap) == 72 &&
	       HEDGE_OFF(struct hedge_config, id_offset) == 88 &&
	       HEDGE_OFF(struct hedge_config, n_targets) == 92 &&
	       HEDGE_OFF(struct hedge_config, targets) == 104 &&
	       HEDGE_OFF(struct hedge_config, match_offset) ==
	       104 + HEDGE_MAX_TARGETS * sizeof(struct hedge_target) &&
	       HEDGE_OFF(struct hedge_config, match_bytes) ==
	       HEDGE_OFF(struct hedge_config, match_offset) + 16 &&
	       HEDGE_OFF(struct hedge_config, match_bytes) % 8 == 0 &&
	       HEDGE_OFF(struct hedge_config, score_word) ==
	       HEDGE_OFF(struct hedge_config, match_bytes) +
	       2 * HEDGE_MATCH_MAX &&
	       HEDGE_OFF(struct hedge_config, servers) ==
	       HEDGE_OFF(struct hedge_config, score_word) + 48 &&
	       sizeof(struct hedge_config) ==
	       HEDGE_OFF(struct hedge_config, servers) +
	       HEDGE_SERVER_SLOTS + HEDGE_LAYOUT_TEST_BYTES &&
	       HEDGE_SERVER_REPLICA + HEDGE_MAX_TARGETS <= HEDGE_SERVER_MANY,
	       "struct hedge_config: no holes");
_Static_assert(sizeof(struct hedge_map_def) == 5 * 4,
	       "struct hedge_map_def: five __u32s, as the loader reads them");
_Static_assert(sizeof(struct hedge_meta) == 12 &&
	       sizeof(struct hedge_slot_head) == 24,
	       "struct hedge_slot_head: 24 bytes, no holes");
_Static_assert(sizeof(struct hedge_parked) ==
	       24 + HEDGE_UDP_AT6 + HEDGE_UDP_MAX + 2 &&
	       HEDGE_OFF(struct hedge_parked, data) == 24 &&
	       sizeof(struct hedge_parked) % 8 == 0,
	       "struct hedge_parked: no holes, 8-byte slots");
_Static_assert(sizeof(struct hedge_parked_small) == 192 &&
	       HEDGE_OFF(struct hedge_parked_small, data) == 24 &&
	       sizeof(struct hedge_parked_small) + 64 <= 256 &&
	       HEDGE_SMALL_UDP_MAX % 2 == 0,
	       "a small slot and its deadline entry: 256 bytes at most");
_Static_assert(sizeof(struct hedge_tick_head) == 54 &&
	       HEDGE_OFF(struct hedge_tick_head, eth_type) == 12 &&
	       HEDGE_OFF(struct hedge_tick_head, magic) == HEDGE_UDP_AT4 + 8,
	       "struct hedge_tick_head: Ethernet, IPv4, UDP, then the magic");
_Static_assert(sizeof(struct hedge_due) == 8 + sizeof(struct hedge_key) + 8 &&
	       HEDGE_OFF(struct hedge_due, key) == 8 &&
	       HEDGE_OFF(struct hedge_due, seq) == 40,
	       "struct hedge_due: 48 bytes, no holes");
_Static_assert(sizeof(struct hedge_frag_key) == 40 &&
	       HEDGE_OFF(struct hedge_frag_key, id) == 32 &&
	       sizeof(struct hedge_frag) == 16,
	       "struct hedge_frag_key, hedge_frag: no holes (a key is hashed)");
_Static_assert(HEDGE_INFLIGHT_MIN / HEDGE_BIG_SHARE >= HEDGE_SPAN_MIN &&
	       (HEDGE_SPAN_MIN & (HEDGE_SPAN_MIN - 1)) == 0,
	       "a ring's span: a power of 2, never more than its slots");
_Static_assert(sizeof(struct hedge_ticker) ==
		       128 + 2 * 8 * ((HEDGE_MAX_TARGETS + 7) / 8 * 8) &&
	       HEDGE_OFF(struct hedge_ticker, due_tail) == 128 &&
	       HEDGE_OFF(struct hedge_ticker, due_head) ==
		       128 + 8 * ((HEDGE_MAX_TARGETS + 7) / 8 * 8) &&
	       HEDGE_OFF(struct hedge_ticker, next_seq) == 24 &&
	       HEDGE_OFF(struct hedge_ticker, next_big) == 32 &&
	       HEDGE_OFF(struct hedge_ticker, run) == 40 &&
	       HEDGE_OFF(struct hedge_ticker, old_ticks) == 72 &&
	       HEDGE_OFF(struct hedge_ticker, pass_ns) == 88,
	       "struct hedge_ticker: its fields in 104 bytes, no holes, run "
	       "8-aligned; the rings' positions on lines of their own");
_Static_assert(sizeof(struct hedge_nat_key) == 24 &&
	       HEDGE_OFF(struct hedge_nat_key, cport) == 16 &&
	       sizeof(struct hedge_nat) == 32 &&
	       HEDGE_OFF(struct hedge_nat, replica_mac) == 24,
	       "struct hedge_nat_key, hedge_nat: no holes (a key is hashed)");
_Static_assert(HEDGE_UDP_AT4 == 14 + 20 && HEDGE_UDP_AT6 == 14 + 40,
	       "UDP follows Ethernet and IPv4 without options or IPv6");

#endif
