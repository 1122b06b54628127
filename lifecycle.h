/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/* lifecycle.h - bringing hedge up (with rollback) and down (lifecycle.c). */
#ifndef HEDGE_LIFECYCLE_H
#define HEDGE_LIFECYCLE_H

#include "config.h"
#include "instance.h"

/* Both return an exit code; `in` holds the lock. */
int cmd_up(struct nl *nl, struct instance *in, struct options *o);
int cmd_down(struct nl *nl, struct instance *in);
/* up on a hedge that is up (repair.c): says what is missing, and with
 * --repair puts it back, keeping its maps. */
int cmd_repair(struct nl *nl, struct instance *in, struct options *o);
/* The targets map filled from cfg: each primary, and each replica that is
 * no primary; 0 or a negative errno. */
int fill_targets(int fd, const struct hedge_config *cfg);

#endif
