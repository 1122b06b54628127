/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/* lossy.h - what tests/lossy.bpf.c and its loader tests/lossy.c share. */
#ifndef LOSSY_H
#define LOSSY_H

#include <linux/types.h>

#define LOSSY_MARK	0x105e		/* skb->mark of the second copy */
#define LOSSY_FILTER	"lossy"		/* the TC filter's name */

/* Fractions of DNS responses, in parts per million. */
struct lossy_config {
	__u32 loss_ppm;		/* dropped */
	__u32 dup_ppm;		/* sent twice */
};

enum lossy_stat {
	LOSSY_SEEN,		/* DNS responses that came by */
	LOSSY_DROPPED,
	LOSSY_DUPLICATED,
	LOSSY_SPARED,		/* left alone: their query was impaired once */
	LOSSY_N_STATS,
};

#endif
