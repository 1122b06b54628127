/* SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only */
/*
 * tests/mapped.h - a BPF_F_MMAPABLE array mapped into memory, for the tests'
 * and benches' views of hedge's arrays (tests/scores.h, tests/due.h).
 */
#ifndef HEDGE_TESTS_MAPPED_H
#define HEDGE_TESTS_MAPPED_H

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include "../hedge_user.h"

/* The values of the array fd, each value_size bytes: their count into *n,
 * or NULL (errno; EINVAL for another value size). */
static inline void *map_mmap(int fd, uint32_t value_size, uint32_t *n)
{
	struct bpf_map_info info;
	union bpf_attr attr;
	void *p;

	memset(&info, 0, sizeof(info));
	memset(&attr, 0, sizeof(attr));
	attr.info.bpf_fd = (uint32_t)fd;
	attr.info.info_len = sizeof(info);
	attr.info.info = (uint64_t)(uintptr_t)&info;
	if (sys_bpf(BPF_OBJ_GET_INFO_BY_FD, &attr))
		return NULL;
	if (info.value_size != value_size || !info.max_entries) {
		errno = EINVAL;
		return NULL;
	}
	p = mmap(NULL, (size_t)info.max_entries * value_size,
		 PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		return NULL;
	*n = info.max_entries;
	return p;
}

#endif
