// SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
/*
 * hedge.bpf.c - the kernel half of hedge: four TC programs and the
 * Scoreboard's state machine. The rest is under bpf/, one room each, all
 * built into this one object for the loader: helpers.h (helper calls,
 * SEC, MAP, barrier_var), maps.h, parse.h (parsing and the rewrite),
 * adapt.h (adaptive delay, budget) and tick.h (the tick line).
 *
 *   Splitter  (egress of the hedged device): a new request to a target is
 *             recorded PENDING in the Scoreboard and cloned into the delay
 *             line (netem), or parked for the ticker (tick line); the
 *             original goes on untouched.
 *   Watcher   (ingress of the hedged device): the first response moves its
 *             request to DONE and passes; any later one is dropped.
 *   Rescuer   (ingress of the delay line's far end): a clone that emerges
 *             while its request is still PENDING is sent as the hedge;
 *             otherwise it is dropped.
 *   Ticker    (tick line only, ingress of the tick veth): wakes when the
 *             earliest parked request still pending is due, drops the
 *             answered ones, turns the tick into each due request in turn
 *             and clones it to the Rescuer, then sizes the tick to sleep
 *             in TBF until the next deadline; with nothing parked, lets it
 *             die. The Splitter starts a new one when it parks a request
 *             and finds none, or finds it lost (see hedge.h).
 *
 * Every program returns TC_ACT_UNSPEC for what it lets pass, so filters of
 * other tools on the same clsact hook still see the packet.
 *
 * Built with clang -target bpf -mcpu=v3 (32-bit compare-and-swap). No BTF,
 * no libbpf: hedge's own loader reads the "maps" section and the
 * relocations (see loader.c).
 */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <linux/if_packet.h>
#include "hedge.h"
#include "bpf/helpers.h"
#include "bpf/maps.h"
#include "bpf/parse.h"
#include "bpf/adapt.h"
#include "bpf/tick.h"

char _license[] SEC("license") = "Dual BSD/GPL";

static __always_inline struct hedge_config *config(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&hedge_config, &zero);
}

/* Where the target's hedges go: its replica, or NULL for itself. */
static __always_inline const struct hedge_target_key *
replica_of(const struct hedge_config *cfg, __u32 t)
{
	const struct hedge_target *target = target_of(cfg, t);

	return target && target->replica.port ? &target->replica : 0;
}

static __always_inline struct hedge_stats *stats(__u32 target)
{
	return bpf_map_lookup_elem(&hedge_stats, &target);
}

static __always_inline int expired(const struct hedge_entry *e,
				   const struct hedge_config *cfg, __u64 now)
{
	return now - e->sent_ns >= cfg->window_ns;
}

/* The request's Scoreboard entry if it is within --window; an entry past
 * it is void and goes (the LRU would only evict it later). */
static __always_inline struct hedge_entry *
live_entry(const struct hedge_config *cfg, const struct hedge_key *key)
{
	struct hedge_entry *e = bpf_map_lookup_elem(&hedge_scores, key);

	if (e && expired(e, cfg, bpf_ktime_get_ns())) {
		bpf_map_delete_elem(&hedge_scores, key);
		return 0;
	}
	return e;
}

SEC("tc/splitter")
int hedge_splitter(struct __sk_buff *skb)
{
	struct hedge_config *cfg = config();
	struct hedge_entry *e, fresh = {};
	struct hedge_stats *st;
	struct datagram d;
	__u64 now;

	if (!cfg || parse(skb, cfg, REQUEST, &d))
		return TC_ACT_UNSPEC;
	/* The tick line parks whole frames: a bigger one is not hedged. */
	if (cfg->delay_line == HEDGE_DL_TICK && skb->len > HEDGE_FRAME_MAX)
		return TC_ACT_UNSPEC;

	now = bpf_ktime_get_ns();
	fresh.sent_ns = now;
	fresh.deadline_ns = deadline(cfg, d.target, now);
	fresh.state = HEDGE_PENDING;
	fresh.target = d.target;
	/* Nearly every request is new: insert first, look only if taken
	 * (measured: ~90 ns less per new request, ~130 ns more per hedge). */
	if (bpf_map_update_elem(&hedge_scores, &d.key, &fresh, BPF_NOEXIST)) {
		e = bpf_map_lookup_elem(&hedge_scores, &d.key);
		/*
		 * A live entry that is not plainly DONE means this datagram
		 * is the hedge itself passing the device's egress (or the
		 * application resending before any answer): it is never
		 * cloned again. After a hedge, DONE_HEDGED also blocks, so a
		 * hedge that races its own response here cannot restart the
		 * request. An ID reused after its answer, or its window,
		 * starts anew.
		 */
		if (!e || (!expired(e, cfg, now) && e->state != HEDGE_DONE))
			return TC_ACT_UNSPEC;
		if (bpf_map_update_elem(&hedge_scores, &d.key, &fresh,
					BPF_EXIST))
			return TC_ACT_UNSPEC;
	}
	st = stats(d.target);
	if (st)
		st->requests++;
	deposit(cfg, d.target);
	if (cfg->delay_line == HEDGE_DL_TICK) {
		park(skb, &d.key, &fresh);
		tick_wake(skb, cfg, now);
	} else
		bpf_clone_redirect(skb, cfg->delay_ifindex, 0);
	return TC_ACT_UNSPEC;
}

/*
 * A first response, where hedges go to a replica: count who won, and make
 * the replica's answer look like the primary's, which is what the client
 * (its socket perhaps connect()ed) waits for.
 */
static __always_inline int replica_answer(struct __sk_buff *skb,
					  const struct hedge_config *cfg,
					  struct hedge_stats *st,
					  const struct datagram *d, __u32 state)
{
	const struct hedge_target *t = target_of(cfg, d->target);

	if (!t || !t->replica.port)
		return TC_ACT_UNSPEC;
	if (st && d->replica)
		st->hedges_won++;
	else if (st && state == HEDGE_HEDGED)
		st->hedges_lost++;
	if (d->replica && rewrite(skb, d, 0, &t->primary))
		return TC_ACT_SHOT;	/* half rewritten: no use to anyone */
	return TC_ACT_UNSPEC;
}

SEC("tc/watcher")
int hedge_watcher(struct __sk_buff *skb)
{
	struct hedge_config *cfg = config();
	struct hedge_stats *st;
	struct hedge_entry *e;
	struct datagram d;
	__u32 state, done;
	int tries;

	if (!cfg || parse(skb, cfg, RESPONSE, &d))
		return TC_ACT_UNSPEC;
	e = live_entry(cfg, &d.key);
	/* The answer to a hedge this target got as another's replica. */
	if (e && e->state == HEDGE_COPY)
		e = as_replica_of(cfg, &d, e->target) ? 0 :
		    live_entry(cfg, &d.key);
	if (!e)
		return TC_ACT_UNSPEC;	/* not ours, or too late to judge */
	st = stats(e->target);

	/* The Rescuer may move PENDING to HEDGED under us: one retry does. */
	for (tries = 0; tries < 2; tries++) {
		state = e->state;
		if (state == HEDGE_DONE || state == HEDGE_DONE_HEDGED) {
			if (st)
				st->duplicates++;
			return TC_ACT_SHOT;
		}
		done = state == HEDGE_HEDGED ? HEDGE_DONE_HEDGED : HEDGE_DONE;
		if (__sync_val_compare_and_swap(&e->state, state, done) == state) {
			record_response(cfg, st, e);
			return replica_answer(skb, cfg, st, &d, state);
		}
	}
	return TC_ACT_UNSPEC;
}

/* A hedge sent: count it and how late it left (per CPU: no atomics). */
static __always_inline void count_hedge(struct hedge_stats *st,
					const struct hedge_entry *e)
{
	__u64 due = e->deadline_ns, now = bpf_ktime_get_ns();
	__u64 bucket, late;

	st->hedges_sent++;
	if (now < due) {
		st->early++;
		return;
	}
	late = now - due;
	if (late > st->late_max_ns)
		st->late_max_ns = late;
	bucket = late / HEDGE_LATE_STEP_NS;
	if (bucket >= HEDGE_LATE_BUCKETS)
		bucket = HEDGE_LATE_BUCKETS - 1;
	st->late[bucket]++;
}

/*
 * A hedge to a replica that is also a target: record the hedge under its
 * own key as a COPY first, or the Splitter would take it for a new request
 * to that target (and hedge it back), and the watcher would not know its
 * answer for the replica's.
 */
static __always_inline int mark_copy(const struct datagram *d,
				     const struct hedge_target_key *replica,
				     __u32 target)
{
	struct hedge_entry copy = {
		.sent_ns = bpf_ktime_get_ns(),
		.state = HEDGE_COPY,
		.target = target,
	};
	struct hedge_target_key tk = *replica;
	struct hedge_key key = d->key;
	__u32 *role = bpf_map_lookup_elem(&hedge_targets, &tk);

	if (!role || (*role & HEDGE_TARGET_REPLICA))
		return 0;	/* only a replica: its answers are known */
	__builtin_memcpy(key.daddr, replica->addr, HEDGE_ADDR_LEN);
	key.dport = replica->port;
	copy.deadline_ns = copy.sent_ns;
	return bpf_map_update_elem(&hedge_scores, &key, &copy, BPF_ANY) ? -1 : 0;
}

SEC("tc/rescuer")
int hedge_rescuer(struct __sk_buff *skb)
{
	struct hedge_config *cfg = config();
	const struct hedge_target_key *replica;
	struct hedge_stats *st;
	struct hedge_entry *e;
	struct datagram d;
	__u32 state;

	/* Everything on the delay line that is not a due hedge ends here. */
	if (!cfg || parse(skb, cfg, REQUEST, &d))
		return TC_ACT_SHOT;
	e = live_entry(cfg, &d.key);
	if (!e)
		return TC_ACT_SHOT;

	st = stats(e->target);
	state = __sync_val_compare_and_swap(&e->state, HEDGE_PENDING,
					    HEDGE_HEDGED);
	if (state != HEDGE_PENDING) {
		if (st && (state == HEDGE_DONE || state == HEDGE_DONE_HEDGED))
			st->hedges_cancelled++;
		return TC_ACT_SHOT;
	}
	if (!withdraw(cfg, e->target)) {
		/* Not sent after all: the request waits for its own answer
		 * (unless that came meanwhile and made it DONE_HEDGED). */
		__sync_val_compare_and_swap(&e->state, HEDGE_HEDGED,
					    HEDGE_PENDING);
		if (st)
			st->hedges_refused++;
		return TC_ACT_SHOT;
	}
	if (st)
		count_hedge(st, e);

	replica = replica_of(cfg, e->target);
	if (replica && (rewrite(skb, &d, 1, replica) ||
			mark_copy(&d, replica, e->target)))
		return TC_ACT_SHOT;
	if (cfg->flags & HEDGE_F_DEV_IS_LOOPBACK) {
		/*
		 * Crossing the veth made the clone OTHERHOST (ip_rcv would
		 * drop it) and dropped its route. redirect_neigh routes it
		 * again, so no martian check fires on lo and no sysctl needs
		 * relaxing.
		 */
		bpf_skb_change_type(skb, PACKET_HOST);
		return bpf_redirect_neigh(cfg->dev_ifindex, 0, 0, 0);
	}
	/* To a replica, the next hop may differ: look it up. Otherwise the
	 * clone, taken at the device's egress, has the right MACs. */
	if (replica)
		return bpf_redirect_neigh(cfg->dev_ifindex, 0, 0, 0);
	return bpf_redirect(cfg->dev_ifindex, 0);
}

SEC("tc/ticker")
int hedge_ticker(struct __sk_buff *skb)
{
	struct hedge_config *cfg = config();
	struct hedge_ticker *t;
	struct hedge_due due;
	__u32 zero = 0, target, gen, arrived;
	void *queue;
	__u64 now;
	int i, first;

	t = bpf_map_lookup_elem(&hedge_tick, &zero);
	/* Anything else on the tick veth (IPv6 chatter, say), and a tick
	 * of an older generation, ends here. */
	if (!cfg || !t || !tick_accept(skb, t, &gen))
		return TC_ACT_SHOT;
	arrived = skb->len;
	now = bpf_ktime_get_ns();
	t->ticks++;
	t->last_ns = now;
	t->cpu = bpf_get_smp_processor_id();
	sweep(cfg, earliest(cfg, &due));
	for (i = 0; i < HEDGE_TICK_BATCH; i++) {
		first = earliest(cfg, &due);
		if (first < 0 || due.deadline_ns > now)
			break;
		/* Only the ticker pops: the head is still the one peeked. */
		target = (__u32)first;
		queue = bpf_map_lookup_elem(&hedge_due, &target);
		if (!queue || bpf_map_pop_elem(queue, &due))
			break;
		send_due(skb, cfg, &due);
	}
	/* One target's delay per tick, in turn. */
	if ((cfg->flags & HEDGE_F_ADAPTIVE) && cfg->n_targets)
		adapt(cfg, (__u32)(t->ticks % cfg->n_targets), now);
	if (earliest(cfg, &due) < 0 && go_idle(cfg, t, gen))
		return TC_ACT_SHOT;	/* idle: the next request restarts it */
	rearm(skb, cfg, t, now, arrived, gen);
	return bpf_redirect(cfg->tick_ifindex, 0);
}

/* The programs user space names (HEDGE_PROG_*, hedge.h) are these: read
 * with HEDGE_NAME() as the identifier itself, each must be a program. */
#pragma push_macro("HEDGE_NAME")
#undef HEDGE_NAME
#define HEDGE_NAME(ident) ident
#define HEDGE_IS_PROG(name)						\
	_Static_assert(__builtin_types_compatible_p(__typeof__(name),	\
		       int (struct __sk_buff *)), #name " is a program here")
HEDGE_IS_PROG(HEDGE_PROG_SPLITTER);
HEDGE_IS_PROG(HEDGE_PROG_WATCHER);
HEDGE_IS_PROG(HEDGE_PROG_RESCUER);
HEDGE_IS_PROG(HEDGE_PROG_TICKER);
#undef HEDGE_IS_PROG
#pragma pop_macro("HEDGE_NAME")
