// SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
/* A program the verifier must reject (packet read without a bounds check),
 * embedded in build/hedge-broken to test how `up` reports a rejection. */
#include <linux/bpf.h>

__attribute__((section("tc/splitter"), used))
int hedge_splitter(struct __sk_buff *skb)
{
	return *(int *)(long)skb->data;
}

__attribute__((section("license"), used)) char _license[] = "Dual BSD/GPL";
