/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/* attach.h - the Splitter and watcher on the device, first in line, and
 * off again by name (attach.c). */
#ifndef HEDGE_ATTACH_H
#define HEDGE_ATTACH_H

#include "config.h"

/* HEDGE_F_ATTACH_TCX into *flags as `kind` and the kernel say; -1 said why
 * (--attach tcx without TCX). */
int attach_choose(enum attach_kind kind, uint32_t *flags);
/* The watcher (ingress) or Splitter (egress) on cfg->dev_ifindex, ahead of
 * every other program: TCX if cfg says so, else clsact (setting
 * HEDGE_F_CREATED_CLSACT if it made the clsact). 0 or -1 said why. */
int attach_one(struct nl *nl, struct hedge_config *cfg, int ingress,
	       int prog_fd);
/* Every hedge program off device `dev`, TCX and clsact alike, and its
 * clsact if bare and clsact_ours (1 ours, 0 not, -1 unknown: ours if it
 * held hedge's filters). How many pieces it removed, or -1 said why. */
int detach_dev(struct nl *nl, int dev, int clsact_ours);
/* The same on every device but the delay line's; clsact_ours_dev is the
 * ifindex whose clsact hedge made (0 none, -1 unknown). Adds what it
 * removed to *removed; 0 or -1 (it goes on past errors). */
int detach_all(struct nl *nl, int clsact_ours_dev, int *removed);

#endif
