// SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
/*
 * btf.c - the BPF object's type information (its .BTF section, as clang -g
 * writes it) made loadable, and the key and value types of each map found
 * in it, so that maps are created with BTF and `bpftool map dump` shows
 * their fields. No libbpf: the object's BTF is walked here.
 *
 * clang leaves two things for the loader (libbpf's btf_fixup_datasec does
 * the same): a DATASEC's size (0 in the object) is its ELF section's size,
 * and each of its VARs' offset (0) is its symbol's value; the kernel wants
 * a DATASEC's VARs in the order of their offsets.
 *
 * A map's types: MAP() (bpf/helpers.h) declares, for a map `name`, a struct
 * ____btf_map_<name> { key_type key; value_type value; } (the convention of
 * iproute2's and old libbpf's BPF_ANNOTATE_KV_PAIR); its members' types are
 * the map's key and value types. A map without one is created without BTF.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/btf.h>
#include "hedge_user.h"

#define BTF_MAP_PREFIX	"____btf_map_"

/* Say in b->why why the types cannot be loaded; returns -1. */
static __attribute__((format(printf, 2, 3)))
int btf_err(struct hedge_btf *b, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(b->why, sizeof(b->why), fmt, ap);
	va_end(ap);
	return -1;
}

static uint64_t ptr(const void *p)
{
	return (uint64_t)(uintptr_t)p;
}

/* The bytes that follow a type's struct btf_type; -1: a kind not known. */
static long btf_extra(const struct btf_type *t)
{
	uint32_t vlen = BTF_INFO_VLEN(t->info);

	switch (BTF_INFO_KIND(t->info)) {
	case BTF_KIND_INT:
	case BTF_KIND_VAR:
	case BTF_KIND_DECL_TAG:
		return 4;
	case BTF_KIND_PTR:
	case BTF_KIND_FWD:
	case BTF_KIND_TYPEDEF:
	case BTF_KIND_VOLATILE:
	case BTF_KIND_CONST:
	case BTF_KIND_RESTRICT:
	case BTF_KIND_FUNC:
	case BTF_KIND_FLOAT:
	case BTF_KIND_TYPE_TAG:
		return 0;
	case BTF_KIND_ARRAY:
		return sizeof(struct btf_array);
	case BTF_KIND_STRUCT:
	case BTF_KIND_UNION:
		return (long)vlen * sizeof(struct btf_member);
	case BTF_KIND_ENUM:
		return (long)vlen * sizeof(struct btf_enum);
	case BTF_KIND_ENUM64:
		return (long)vlen * sizeof(struct btf_enum64);
	case BTF_KIND_FUNC_PROTO:
		return (long)vlen * sizeof(struct btf_param);
	case BTF_KIND_DATASEC:
		return (long)vlen * sizeof(struct btf_var_secinfo);
	}
	return -1;
}

/* The type called `id` (1, 2, ... in order), or NULL. */
static struct btf_type *btf_type(const struct hedge_btf *b, uint32_t id)
{
	return id && id <= b->n_types ? b->types[id - 1] : NULL;
}

static const char *btf_name(const struct hedge_btf *b, const struct btf_type *t)
{
	return t->name_off < b->str_len ? b->strs + t->name_off : "";
}

/* Index the types of the copy b->data; 0, or -1 if it is malformed. */
static int btf_index(struct hedge_btf *b)
{
	struct btf_header *h = (struct btf_header *)b->data;
	unsigned char *p, *end;
	size_t cap = 0;

	if (b->size < sizeof(*h) || h->magic != BTF_MAGIC ||
	    h->hdr_len < sizeof(*h) || h->hdr_len > b->size ||
	    h->type_off > b->size - h->hdr_len ||
	    h->type_len > b->size - h->hdr_len - h->type_off ||
	    h->str_off > b->size - h->hdr_len ||
	    h->str_len > b->size - h->hdr_len - h->str_off ||
	    !h->str_len)
		return -1;
	b->strs = (const char *)b->data + h->hdr_len + h->str_off;
	b->str_len = h->str_len;
	if (b->strs[b->str_len - 1] != '\0')
		return -1;
	p = b->data + h->hdr_len + h->type_off;
	end = p + h->type_len;
	while (p < end) {
		struct btf_type *t = (struct btf_type *)p;
		long extra;

		if ((size_t)(end - p) < sizeof(*t) ||
		    (extra = btf_extra(t)) < 0 ||
		    (size_t)(end - p) - sizeof(*t) < (size_t)extra)
			return -1;
		if (b->n_types == cap) {
			struct btf_type **n;

			cap = cap ? 2 * cap : 256;
			n = realloc(b->types, cap * sizeof(*n));
			if (!n)
				return -1;
			b->types = n;
		}
		b->types[b->n_types++] = t;
		p += sizeof(*t) + extra;
	}
	return 0;
}

/* Sort a DATASEC's VARs by offset (few: an insertion sort). */
static void sort_secinfo(struct btf_var_secinfo *v, uint32_t n)
{
	uint32_t i, j;

	for (i = 1; i < n; i++) {
		struct btf_var_secinfo x = v[i];

		for (j = i; j > 0 && v[j - 1].offset > x.offset; j--)
			v[j] = v[j - 1];
		v[j] = x;
	}
}

/* Each DATASEC's size and its VARs' offsets, from the ELF object. */
static int btf_fixup(struct hedge_btf *b, const struct btf_elf *elf)
{
	uint32_t id, i;

	for (id = 1; id <= b->n_types; id++) {
		struct btf_type *t = btf_type(b, id);
		struct btf_var_secinfo *v = (struct btf_var_secinfo *)(t + 1);
		const char *sec = btf_name(b, t);
		long size, off;

		if (BTF_INFO_KIND(t->info) != BTF_KIND_DATASEC)
			continue;
		size = elf->section_size(elf->ctx, sec);
		if (size < 0)
			return btf_err(b, "no section %s", sec);
		t->size = (uint32_t)size;
		for (i = 0; i < BTF_INFO_VLEN(t->info); i++) {
			const struct btf_type *var = btf_type(b, v[i].type);

			if (!var || BTF_INFO_KIND(var->info) != BTF_KIND_VAR)
				return btf_err(b, "section %s: not a variable",
					       sec);
			off = elf->symbol_offset(elf->ctx, sec,
						 btf_name(b, var));
			if (off < 0)
				return btf_err(b, "no symbol %s in %s",
					       btf_name(b, var), sec);
			v[i].offset = (uint32_t)off;
		}
		sort_secinfo(v, BTF_INFO_VLEN(t->info));
	}
	return 0;
}

static int btf_kernel_load(const struct hedge_btf *b, char *log, size_t len)
{
	union bpf_attr attr;
	int fd;

	memset(&attr, 0, sizeof(attr));
	attr.btf = ptr(b->data);
	attr.btf_size = (uint32_t)b->size;
	if (log) {
		attr.btf_log_buf = ptr(log);
		attr.btf_log_size = (uint32_t)len;
		attr.btf_log_level = 1;
	}
	fd = (int)sys_bpf(BPF_BTF_LOAD, &attr);
	return fd < 0 ? -errno : fd;
}

/* ENOTSUPP (524) is the kernel's own: libc has no words for it. */
static const char *err_str(int err)
{
	return err == 524 ? "not supported" : strerror(err);
}

/* The kernel's last line on why it refused the types, in `log`. */
static const char *log_last_line(char *log)
{
	size_t len = strlen(log);
	char *nl;

	while (len && log[len - 1] == '\n')
		log[--len] = '\0';
	nl = strrchr(log, '\n');
	return nl ? nl + 1 : log;
}

int btf_parse(struct hedge_btf *b, const void *data, size_t size)
{
	memset(b, 0, sizeof(*b));
	b->fd = -1;
	b->data = malloc(size ? size : 1);
	if (!b->data)
		return btf_err(b, "%s", strerror(errno));
	memcpy(b->data, data, size);
	b->size = size;
	if (btf_index(b))
		return btf_err(b, "malformed .BTF section");
	return 0;
}

int btf_load(struct hedge_btf *b, const void *data, size_t size,
	     const struct btf_elf *elf)
{
	char log[4096];
	int fd;

	if (btf_parse(b, data, size) || (elf && btf_fixup(b, elf)))
		return -1;
	fd = btf_kernel_load(b, NULL, 0);
	if (fd < 0 && fd != -EPERM) {
		log[0] = '\0';
		fd = btf_kernel_load(b, log, sizeof(log));
		if (fd < 0 && *log)
			return btf_err(b, "the kernel refused them: %s: %s",
				       err_str(-fd), log_last_line(log));
	}
	if (fd < 0)
		return btf_err(b, "the kernel refused them: %s",
			       err_str(-fd));
	b->fd = fd;
	return 0;
}

/* The member types of struct ____btf_map_<map>: 0, or -1 if none. */
int btf_map_types(const struct hedge_btf *b, const char *map,
		  uint32_t *key_id, uint32_t *value_id)
{
	size_t plen = strlen(BTF_MAP_PREFIX);
	uint32_t id;

	if (b->fd < 0)
		return -1;
	for (id = 1; id <= b->n_types; id++) {
		const struct btf_type *t = btf_type(b, id);
		const struct btf_member *m = (const struct btf_member *)(t + 1);
		const char *name = btf_name(b, t);

		if (BTF_INFO_KIND(t->info) != BTF_KIND_STRUCT ||
		    BTF_INFO_VLEN(t->info) != 2 ||
		    strncmp(name, BTF_MAP_PREFIX, plen) ||
		    strcmp(name + plen, map))
			continue;
		*key_id = m[0].type;
		*value_id = m[1].type;
		return 0;
	}
	return -1;
}

void btf_free(struct hedge_btf *b)
{
	if (b->fd >= 0)
		close(b->fd);
	free(b->types);
	free(b->data);
	memset(b, 0, sizeof(*b));
	b->fd = -1;
}
