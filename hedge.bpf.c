// SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
/*
 * hedge.bpf.c - the kernel half of hedge: four TC programs and the
 * Scoreboard's state machine. The rest is under bpf/, one room each, all
 * built into this one object for the loader: helpers.h (helper calls,
 * SEC, MAP, barrier_var), maps.h, parse.h (parsing and the rewrite),
 * adapt.h (adaptive delay, budget), tick.h (the tick line), safe.h
 * (which requests may be hedged; the hedges' DSCP and priority), saved.h
 * (time saved by hedging, hedges wasted), forget.h (answered entries freed
 * at their deadline), tcp.h (TCP targets: the handshake), tcpnat.h
 * (TCP targets' replicas: the connection the replica won, rewritten)
 * and brake.h (the overload brake: an overloaded target is not hedged
 * for a while).
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
#include "bpf/scores.h"
#include "bpf/parse.h"
#include "bpf/adapt.h"
#include "bpf/forget.h"
#include "bpf/tick.h"
#include "bpf/safe.h"
#include "bpf/saved.h"
#include "bpf/tcp.h"
#include "bpf/brake.h"
#include "bpf/tcpnat.h"

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
	return since(now, e->sent_ns) >= cfg->window_ns;
}

/* An entry past --window, void: its time saved told (saved.h), gone. */
static __always_inline void forget_void(struct hedge_entry *e)
{
	__u32 state = e->state;

	saved_gone(e);
	score_free(e, state);
}

/* The request's Scoreboard entry if it is within --window at `now` (the
 * caller's one clock read per packet: each is a helper call); an entry
 * past it is void and goes (the LRU would only evict it later). */
static __always_inline struct hedge_entry *
live_entry(const struct hedge_config *cfg, const struct hedge_key *key,
	   __u64 now)
{
	struct hedge_entry *e = score_entry(cfg, key);

	if (e && expired(e, cfg, now)) {
		forget_void(e);
		return 0;
	}
	return e;
}

/*
 * The Rescuer marks every hedge it sends in skb->cb[] (the qdisc_skb_cb
 * data, __sk_buff cb[0..1]), which nothing writes between its redirect
 * and the device's egress hook, and which is not on the wire nor seen by
 * a qdisc (each qdisc writes its own). Packets from the stack carry the
 * IP layer's control block there, never this 64-bit value. The Splitter
 * knows the hedge by it, whatever the state of its request, and clears it.
 */
#define HEDGE_MARK_LO	0x45474448U	/* "HEDGE" "HEDGE" */
#define HEDGE_MARK_HI	0x21454744U

static __always_inline void mark_hedge(struct __sk_buff *skb)
{
	skb->cb[0] = HEDGE_MARK_LO;
	skb->cb[1] = HEDGE_MARK_HI;
}

static __always_inline int is_hedge(struct __sk_buff *skb)
{
	if (skb->cb[0] != HEDGE_MARK_LO || skb->cb[1] != HEDGE_MARK_HI)
		return 0;
	skb->cb[0] = 0;
	skb->cb[1] = 0;
	return 1;
}

/* A request to a target hedge does not hedge: counted, passed. */
static __always_inline int unhedgeable(struct __sk_buff *skb,
				       const struct datagram *d)
{
	struct hedge_stats *st;

	if (!d->frag && !d->odd && skb->gso_segs <= 1)
		return 0;
	st = stats(d->target);
	if (!st)
		return 1;
	if (d->frag)
		st->requests_fragmented++;
	else if (d->odd)
		st->requests_unhedgeable++;
	else
		st->requests_gso++;
	return 1;
}

/*
 * A request on a key that has a record: a new one if that exchange ended
 * (DONE, DONE_HEDGED) or is past its window (the hedge was told apart
 * before): 0, its record written over. PENDING or HEDGED: the application
 * resending before any answer, not hedged again; COPY: a hedge to this
 * target as another's replica: 1. -1: no room after all (its record
 * taken meanwhile, its set full and the stash refused it): not hedged,
 * counted.
 */
static __always_inline int renew(const struct hedge_config *cfg,
				 const struct hedge_key *key,
				 const struct hedge_entry *fresh, __u64 now)
{
	struct hedge_record *r;
	__u32 state;
	int stale;

	r = score_find_at(cfg, key, &stale);
	if (r) {
		state = r->entry.state;
		if (!expired(&r->entry, cfg, now) && state != HEDGE_DONE &&
		    state != HEDGE_DONE_HEDGED)
			return 1;
		saved_gone(&r->entry);
		if (!score_renew(r, stale, state, key, fresh))
			return 0;
	}
	/* Freed since score_insert() looked (forget.h), taken between the
	 * look and the claim, or freed where it is not written anew: one
	 * insert, inlined once (each copy is verified again). */
	return score_insert(cfg, key, fresh, now) ? -1 : 0;
}

SEC("tc/splitter")
int hedge_splitter(struct __sk_buff *skb)
{
	struct hedge_config *cfg = config();
	struct hedge_entry fresh = {};
	struct hedge_stats *st;
	struct datagram d;
	__u64 now;
	int ret;

	if (!cfg)
		return TC_ACT_UNSPEC;
	if (parse(skb, cfg, REQUEST, &d))
		return tcp_splitter(skb, cfg, &d, &fresh); /* TCP's SYNs */
	/* A hedge going out (on lo, or redirected to the device) is never
	 * a new request, whatever its request's state. */
	if (is_hedge(skb))
		return TC_ACT_UNSPEC;
	/*
	 * A fragment, IPv4 options or IPv6 extension headers (the delay
	 * lines keep UDP at fixed offsets), or several datagrams in one
	 * skb (GSO, UDP_SEGMENT: never to be sent on as one): not hedged.
	 */
	if (unhedgeable(skb, &d))
		return TC_ACT_UNSPEC;
	/* Only a request safe to send twice (--id dns, --match): counted. */
	if (unsafe(skb, cfg, &d))
		return TC_ACT_UNSPEC;
	/* The tick line parks whole frames: a bigger one is not hedged. */
	if (cfg->delay_line == HEDGE_DL_TICK && skb->len > HEDGE_FRAME_MAX) {
		st = stats(d.target);
		if (st)
			st->too_big++;
		return TC_ACT_UNSPEC;
	}

	now = bpf_ktime_get_ns();
	/* An overloaded target's: passed untracked, counted (brake.h). */
	if (braked(cfg, d.target, now))
		return TC_ACT_UNSPEC;
	fresh.sent_ns = now;
	fresh.deadline_ns = deadline(cfg, d.target, now);
	fresh.state = HEDGE_PENDING;
	fresh.target = d.target;
	/* Nearly every request is new: insert first, look only if taken. */
	ret = score_insert(cfg, &d.key, &fresh, now);
	if (ret > 0)
		ret = renew(cfg, &d.key, &fresh, now);
	if (ret) {
		st = stats(d.target);
		if (st && ret < 0)
			st->evicted++;	/* no room in its set */
		return TC_ACT_UNSPEC;
	}
	score_tend(cfg, &d.key, now);
	st = stats(d.target);
	if (st)
		st->requests++;
	deposit(cfg, d.target);
	to_delay_line(skb, cfg, &d.key, &fresh, st, now, 0);
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

/* The key a fragment is reassembled by. */
static __always_inline void frag_key(const struct headers *h,
				     struct hedge_frag_key *k)
{
	__builtin_memcpy(k->saddr, h->src, HEDGE_ADDR_LEN);
	__builtin_memcpy(k->daddr, h->dst, HEDGE_ADDR_LEN);
	k->id = h->frag_id;
	k->family = h->v6 ? 6 : 4;
}

/* Its source address made `to`'s (IPv4: with the header's checksum). */
static __always_inline int rewrite_source(struct __sk_buff *skb,
					  const struct headers *h,
					  const struct hedge_target_key *to)
{
	__u32 at = sizeof(struct ethhdr);
	__be32 old4, new4;

	if (h->v6)
		return bpf_skb_store_bytes(skb, at +
					   offsetof(struct ipv6hdr, saddr),
					   to->addr, 16, 0) ? -1 : 0;
	at += offsetof(struct iphdr, saddr);
	__builtin_memcpy(&new4, to->addr + 12, 4);
	if (bpf_skb_load_bytes(skb, at, &old4, 4) ||
	    bpf_l3_csum_replace(skb, sizeof(struct ethhdr) +
				offsetof(struct iphdr, check), old4, new4, 4) ||
	    bpf_skb_store_bytes(skb, at, &new4, 4, 0))
		return -1;
	return 0;
}

/*
 * A fragment after the first (no ports, no ID): its datagram's verdict,
 * taken on the first fragment, if that came first; none, and it passes
 * (one before its first fragment: if that one is then dropped, the stack
 * throws the incomplete datagram away after its reassembly timeout).
 */
static __always_inline int later_fragment(struct __sk_buff *skb,
					  const struct hedge_config *cfg,
					  const struct headers *h)
{
	const struct hedge_target *t;
	struct hedge_frag_key k;
	struct hedge_frag *f;
	__u32 verdict, target;

	frag_key(h, &k);
	f = bpf_map_lookup_elem(&hedge_frags, &k);
	if (!f)
		return TC_ACT_UNSPEC;
	verdict = f->verdict;
	target = f->target;
	/* since() (helpers.h): the verdict may be written on another CPU
	 * after this clock read (the entry taken over meanwhile). */
	if (since(bpf_ktime_get_ns(), f->at_ns) >= HEDGE_FRAG_NS)
		verdict = 0;
	if (h->last || !verdict)
		bpf_map_delete_elem(&hedge_frags, &k);
	if (verdict == HEDGE_FRAG_DROP)
		return TC_ACT_SHOT;
	if (verdict != HEDGE_FRAG_AS_PRIMARY)
		return TC_ACT_UNSPEC;
	t = target_of(cfg, target);
	/* One test of t, kept: 6.1's verifier loses the bound of a target
	 * index spilled to the stack, and clang had it tested twice. */
	barrier_var(t);
	if (!t)
		return TC_ACT_UNSPEC;
	if (rewrite_source(skb, h, &t->primary))
		return TC_ACT_SHOT;	/* half a datagram: no use to anyone */
	return TC_ACT_UNSPEC;
}

/* A first fragment judged: its later ones are to follow suit. */
static __always_inline void remember_fragment(const struct hedge_frag_key *k,
					      __u32 verdict, __u32 target)
{
	struct hedge_frag f = {
		.at_ns = bpf_ktime_get_ns(),
		.verdict = verdict,
		.target = target,
	};

	bpf_map_update_elem(&hedge_frags, k, &f, BPF_ANY);
}

/*
 * The watcher's verdict on a response it judged, kept for its later
 * fragments if it is a first one (key taken before the packet could
 * change: its pointers are void after a rewrite).
 */
static __always_inline int judged(const struct hedge_frag_key *k,
				  const struct datagram *d, int verdict)
{
	if (d->frag == FIRST_FRAGMENT) {
		if (verdict == TC_ACT_SHOT)
			remember_fragment(k, HEDGE_FRAG_DROP, d->target);
		else if (d->replica)
			remember_fragment(k, HEDGE_FRAG_AS_PRIMARY, d->target);
	}
	return verdict;
}

SEC("tc/watcher")
int hedge_watcher(struct __sk_buff *skb)
{
	struct hedge_config *cfg = config();
	struct hedge_frag_key fk = {};
	struct hedge_stats *st;
	struct hedge_entry *e;
	struct headers h;
	struct datagram d;
	__u32 state, done;
	int tries, ret;
	__u64 now;

	if (!cfg)
		return TC_ACT_UNSPEC;
	if (find_headers(skb, &h))
		return tcp_watcher(skb, cfg);	/* TCP targets' SYN-ACKs */
	if (h.frag == LATER_FRAGMENT)
		return later_fragment(skb, cfg, &h);
	ret = parse_found(skb, cfg, RESPONSE, &h, &d);
	if (ret == -2 && !deliverable(skb, &h)) {
		/* A target's, too short for an ID: because it is bad? */
		st = stats(d.target);
		if (st)
			st->responses_invalid++;
	}
	if (ret)
		return TC_ACT_UNSPEC;
	/* Several datagrams coalesced (GRO): none may decide for the
	 * others, nor be dropped with them. They pass, unjudged. */
	if (skb->gso_segs > 1) {
		st = stats(d.target);
		if (st)
			st->responses_gro++;
		return TC_ACT_UNSPEC;
	}
	/* Only what the stack would deliver answers a request. */
	if (!deliverable(skb, &h)) {
		st = stats(d.target);
		if (st)
			st->responses_invalid++;
		return TC_ACT_UNSPEC;
	}
	if (h.frag == FIRST_FRAGMENT)
		frag_key(&h, &fk);
	now = bpf_ktime_get_ns();
	e = answer_entry(cfg, &d.key, now);	/* counts a late loser */
	/* The answer to a hedge this target got as another's replica. */
	if (e && e->state == HEDGE_COPY)
		e = as_replica_of(cfg, &d, e->target) ? 0 :
		    live_entry(cfg, &d.key, now);
	if (!e)
		return TC_ACT_UNSPEC;	/* not ours, or too late to judge */
	st = stats(e->target);

	/* The Rescuer may move PENDING to HEDGED under us: one retry does. */
	for (tries = 0; tries < 2; tries++) {
		state = e->state;
		if (state == HEDGE_DONE || state == HEDGE_DONE_HEDGED) {
			if (st)
				st->duplicates++;
			if (state == HEDGE_DONE_HEDGED)
				saved_second(st, e, now);
			return judged(&fk, &d, TC_ACT_SHOT);
		}
		done = state == HEDGE_HEDGED ? HEDGE_DONE_HEDGED : HEDGE_DONE;
		if (__sync_val_compare_and_swap(&e->state, state, done) == state) {
			record_response(cfg, st, e, now);
			saved_answer(cfg, st, e, &d, state, now);
			return judged(&fk, &d,
				      replica_answer(skb, cfg, st, &d, state));
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
 * answer for the replica's. A live request of the client's own on that
 * key (same 5-tuple and ID) is never written over: -1, the hedge is not
 * sent. An older COPY, or an entry past its window, is.
 */
static __always_inline int mark_copy(const struct hedge_config *cfg,
				     const struct datagram *d,
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
	__s64 role = target_role(cfg, &tk);
	struct hedge_record *old;
	__u32 state;
	int ret, stale;

	if (role < 0 || (role & HEDGE_TARGET_REPLICA))
		return 0;	/* only a replica: its answers are known */
	key.target = (__u16)role;	/* as a request to that target */
	copy.deadline_ns = copy.sent_ns;
	/* A record on the key first: a COPY, or one past its window, is
	 * written over (where it may be: else freed, and inserted anew); a
	 * live request of the client's is not. */
	old = score_find_at(cfg, &key, &stale);
	if (old) {
		state = old->entry.state;
		if (state != HEDGE_COPY &&
		    !expired(&old->entry, cfg, copy.sent_ns))
			return -1;
		if (!score_renew(old, stale, state, &key, &copy))
			return 0;
	}
	ret = score_insert(cfg, &key, &copy, copy.sent_ns);
	return ret ? -1 : 0;
}

/* The Rescuer took the hedge but does not send it after all: the request
 * waits for its own answer again, and the budget gets its hedge back. */
static __always_inline void unsend(const struct hedge_config *cfg,
				   struct hedge_entry *e)
{
	__sync_val_compare_and_swap(&e->state, HEDGE_HEDGED, HEDGE_PENDING);
	refund(cfg, e->target);
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
	int refused;
	__u64 now;

	/* Everything on the delay line that is not a due hedge ends here. */
	if (!cfg || (parse(skb, cfg, REQUEST, &d) &&
		     tcp_rescue_parse(skb, cfg, &d)))
		return TC_ACT_SHOT;
	st = stats(d.target);
	if (st)
		st->rescued++;
	now = bpf_ktime_get_ns();
	e = live_entry(cfg, &d.key, now);
	if (!e) {
		/* netem: with a fixed delay well inside the window, an entry
		 * gone at its deadline was evicted (the tick line knows
		 * each request's own delay: see send_due()). */
		if (st && cfg->delay_line == HEDGE_DL_NETEM &&
		    !(cfg->flags & HEDGE_F_ADAPTIVE) &&
		    cfg->window_ns > 2 * cfg->delay_ns)
			st->evicted++;
		return TC_ACT_SHOT;
	}

	st = stats(e->target);
	/*
	 * Before the entry's deadline: not its request's copy (netem holds a
	 * clone --delay from its enqueue, after the Splitter's clock read;
	 * the ticker sends a copy once due) but an older request's on its
	 * key (an ID reused, --id none), answered before the Splitter took
	 * the key over: not the newer's hedge (early, the older's bytes).
	 */
	if (now < e->deadline_ns) {
		if (st)
			st->hedges_cancelled++;
		return TC_ACT_SHOT;
	}
	state = __sync_val_compare_and_swap(&e->state, HEDGE_PENDING,
					    HEDGE_HEDGED);
	if (state != HEDGE_PENDING) {
		if (st && (state == HEDGE_DONE || state == HEDGE_DONE_HEDGED))
			st->hedges_cancelled++;
		if (state == HEDGE_DONE)
			forget_due(e, now);
		return TC_ACT_SHOT;
	}
	refused = !withdraw(cfg, e->target, now);
	/* The overload brake's signal (brake.h); UDP targets only. */
	if (d.key.pad != HEDGE_PROTO_TCP)
		brake_note(cfg, e->target, refused, now);
	if (refused) {
		/* Not sent after all: the request waits for its own answer
		 * (unless that came meanwhile and made it DONE_HEDGED). */
		__sync_val_compare_and_swap(&e->state, HEDGE_HEDGED,
					    HEDGE_PENDING);
		if (st)
			st->hedges_refused++;
		return TC_ACT_SHOT;
	}

	replica = replica_of(cfg, e->target);
	if (replica && mark_copy(cfg, &d, replica, e->target)) {
		unsend(cfg, e);
		if (st)
			st->copy_clash++;
		return TC_ACT_SHOT;
	}
	if (replica && hedge_to_replica(skb, &d, replica)) {
		unsend(cfg, e);
		if (st)
			st->clone_failed++;
		return TC_ACT_SHOT;
	}
	/* The hedge's DSCP and priority (--hedge-dscp, --hedge-priority). */
	if (dress(skb, cfg, &d)) {
		unsend(cfg, e);
		if (st)
			st->clone_failed++;
		return TC_ACT_SHOT;
	}
	if (st)
		count_hedge(st, e);
	mark_hedge(skb);
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
	struct hedge_due *due;
	__u32 zero = 0, gen, arrived;
	__u64 now, when;
	int i, first, lingered;

	t = bpf_map_lookup_elem(&hedge_tick, &zero);
	/* Anything else on the tick veth (IPv6 chatter, say), and a tick
	 * of an older generation, ends here. */
	if (!cfg || !t || !tick_accept(skb, t, &gen))
		return TC_ACT_SHOT;
	/* A tick started from a tagged request carries its VLAN tag: the
	 * tick goes untagged (send_copy() tags each hedge with its own). */
	if (skb->vlan_present)
		bpf_skb_vlan_pop(skb);
	/* Its length: the tokens a tick took (rearm()). A start came
	 * straight, taking none: counting its length too only makes the
	 * next tick wake early, never late. */
	arrived = skb->len;
	lingered = tick_lingered(skb);
	now = bpf_ktime_get_ns();
	t->ticks++;
	t->last_ns = now;
	t->cpu = bpf_get_smp_processor_id();
	/* Another ticker popping (a tick restarted while the old one is
	 * still in here, on another CPU): this one only sleeps again. */
	if (!tick_own(t))
		goto sleep;
	for (i = 0; i < HEDGE_TICK_BATCH; i++) {
		first = earliest(cfg, t, &when);
		/* (A head still being written, deadline 0: the tick comes
		 * back at once for it.) */
		if (first < 0 || !when || when > now)
			break;
		/* Only the owner pops: the head is still the one found. */
		due = due_head_entry(t, cfg, (__u32)first);
		if (!due)
			break;
		send_due(skb, cfg, due, (__u32)first, now);
		due_pop(t, (__u32)first, due);
	}
	/* After the hedges due: they go first. Up to HEDGE_TICK_SWEEP
	 * answered requests a wake-up: at high rates, the tick wakes about
	 * rate / HEDGE_TICK_SWEEP times a second to keep up. */
	sweep(cfg, t, earliest(cfg, t, &when), now);
	/* One target's delay per tick, in turn. */
	if ((cfg->flags & HEDGE_F_ADAPTIVE) && cfg->n_targets)
		adapt(cfg, (__u32)(t->ticks % cfg->n_targets), now);
	tick_disown(t);
sleep:
	/* Nothing queued for a whole sleep: idle; the next request
	 * restarts it. */
	if (earliest(cfg, t, &when) < 0 && lingered && go_idle(cfg, t, gen))
		return TC_ACT_SHOT;
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
