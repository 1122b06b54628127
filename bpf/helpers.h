/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * bpf/helpers.h - what every BPF object of hedge's is built with: the
 * helper calls it makes (by number, as the kernel's samples once did: no
 * libbpf), SEC(), the MAP() definition of a "maps" section entry that
 * hedge's loader reads (struct hedge_map_def, hedge.h), and barrier_var().
 *
 * Used by hedge.bpf.c and tests/lossy.bpf.c.
 */
#ifndef HEDGE_BPF_HELPERS_H
#define HEDGE_BPF_HELPERS_H

#include <linux/bpf.h>
#include "../hedge.h"

#define SEC(name) __attribute__((section(name), used))
#undef __always_inline
#define __always_inline inline __attribute__((always_inline))

#define htons(x) __builtin_bswap16(x)
#define htonl(x) __builtin_bswap32(x)
#define offsetof(type, member) __builtin_offsetof(type, member)

/*
 * Hide what the compiler knows of var here (as the kernel's bpf selftests
 * do): it then cannot drop a later check the verifier needs, nor move a
 * computation on var before an earlier one.
 */
#define barrier_var(var) asm volatile("" : "+r"(var))

/*
 * The time from `then` to `now` (both bpf_ktime_get_ns()), 0 if `then`
 * is the later. A program reads its clock once, then reads times other
 * CPUs write meanwhile: a Scoreboard entry's sent time, a NAT entry's
 * last use, an epoch's start. Those may be later than its `now`, and
 * `now - then` would wrap to ~2^64 ns, every bound passed at once (a
 * request just sent taken for one past --window: freed, uncounted).
 * Told by the sign of the difference, as the kernel's time_after():
 * right for any two times within 2^63 ns (292 years) of each other,
 * those before boot (a time computed as "an hour ago" an hour after
 * boot, wrapped) included.
 */
static __always_inline __u64 since(__u64 now, __u64 then)
{
	__s64 d = (__s64)(now - then);

	return d > 0 ? (__u64)d : 0;
}

static void *(*bpf_map_lookup_elem)(void *map, const void *key) =
	(void *)BPF_FUNC_map_lookup_elem;
static long (*bpf_map_update_elem)(void *map, const void *key,
				   const void *value, __u64 flags) =
	(void *)BPF_FUNC_map_update_elem;
static long (*bpf_map_delete_elem)(void *map, const void *key) =
	(void *)BPF_FUNC_map_delete_elem;
static __u64 (*bpf_ktime_get_ns)(void) = (void *)BPF_FUNC_ktime_get_ns;
static __u32 (*bpf_get_smp_processor_id)(void) =
	(void *)BPF_FUNC_get_smp_processor_id;
static long (*bpf_skb_load_bytes)(const void *skb, __u32 offset, void *to,
				  __u32 len) = (void *)BPF_FUNC_skb_load_bytes;
static long (*bpf_clone_redirect)(struct __sk_buff *skb, __u32 ifindex,
				  __u64 flags) = (void *)BPF_FUNC_clone_redirect;
static long (*bpf_redirect)(__u32 ifindex, __u64 flags) =
	(void *)BPF_FUNC_redirect;
static long (*bpf_redirect_neigh)(__u32 ifindex, void *params, int plen,
				  __u64 flags) = (void *)BPF_FUNC_redirect_neigh;
static long (*bpf_skb_change_type)(struct __sk_buff *skb, __u32 type) =
	(void *)BPF_FUNC_skb_change_type;
static long (*bpf_skb_change_tail)(struct __sk_buff *skb, __u32 len,
				   __u64 flags) = (void *)BPF_FUNC_skb_change_tail;
static long (*bpf_skb_store_bytes)(struct __sk_buff *skb, __u32 offset,
				   const void *from, __u32 len, __u64 flags) =
	(void *)BPF_FUNC_skb_store_bytes;
static long (*bpf_map_push_elem)(void *map, const void *value, __u64 flags) =
	(void *)BPF_FUNC_map_push_elem;
static long (*bpf_map_peek_elem)(void *map, void *value) =
	(void *)BPF_FUNC_map_peek_elem;
static long (*bpf_map_pop_elem)(void *map, void *value) =
	(void *)BPF_FUNC_map_pop_elem;
static __s64 (*bpf_csum_diff)(__be32 *from, __u32 from_size, __be32 *to,
			      __u32 to_size, __u32 seed) =
	(void *)BPF_FUNC_csum_diff;
static long (*bpf_l3_csum_replace)(struct __sk_buff *skb, __u32 offset,
				   __u64 from, __u64 to, __u64 size) =
	(void *)BPF_FUNC_l3_csum_replace;
static long (*bpf_l4_csum_replace)(struct __sk_buff *skb, __u32 offset,
				   __u64 from, __u64 to, __u64 flags) =
	(void *)BPF_FUNC_l4_csum_replace;
static long (*bpf_csum_level)(struct __sk_buff *skb, __u64 level) =
	(void *)BPF_FUNC_csum_level;
static __u32 (*bpf_get_prandom_u32)(void) = (void *)BPF_FUNC_get_prandom_u32;
static long (*bpf_skb_vlan_push)(struct __sk_buff *skb, __be16 proto,
				 __u16 tci) = (void *)BPF_FUNC_skb_vlan_push;
static long (*bpf_skb_vlan_pop)(struct __sk_buff *skb) =
	(void *)BPF_FUNC_skb_vlan_pop;

/*
 * A map, and its key and value types for BTF (btf.c): the loader gives
 * the map the types of struct ____btf_map_<name>'s two members (the
 * convention of iproute2's BPF_ANNOTATE_KV_PAIR). The anchor, a pointer
 * in a section nothing loads, only makes clang write the struct into .BTF.
 */
#define MAP_FLAGS(name_, type_, key_, value_, max_, flags_)		\
	struct ____btf_map_##name_ {					\
		key_ key;						\
		value_ value;						\
	};								\
	struct ____btf_map_##name_ *____btf_anchor_##name_		\
		SEC(".hedge_btf");					\
	struct hedge_map_def name_ SEC("maps") = {			\
		.type = type_, .key_size = sizeof(key_),		\
		.value_size = sizeof(value_), .max_entries = max_,	\
		.flags = flags_,					\
	}
#define MAP(name_, type_, key_, value_, max_)				\
	MAP_FLAGS(name_, type_, key_, value_, max_, 0)

#endif
