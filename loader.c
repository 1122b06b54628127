// SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
/*
 * loader.c - a minimal loader for the BPF object embedded in the binary,
 * with bpf() syscalls: maps from the "maps" section, programs from the
 * "tc/" sections, the license (elf.c reads the object). Plus the few bpf()
 * commands hedge needs afterwards (map access, pinning, finding maps by
 * program).
 */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/syscall.h>
#include "hedge.h"
#include "hedge_user.h"

/* The object, built by clang from hedge.bpf.c, embedded at link time. */
__asm__(".section .rodata\n"
	".balign 8\n"
	"bpf_object_start:\n"
	".incbin \"" HEDGE_BPF_OBJECT "\"\n"
	"bpf_object_end:\n"
	".previous\n");
extern const unsigned char bpf_object_start[], bpf_object_end[];

#define VERIFIER_LOG_SIZE	(1 << 20)
#define VERIFIER_LOG_TAIL	2048

long sys_bpf(int cmd, union bpf_attr *attr)
{
	return syscall(__NR_bpf, cmd, attr, sizeof(*attr));
}

static uint64_t ptr(const void *p)
{
	return (uint64_t)(uintptr_t)p;
}

/* ---- maps ----------------------------------------------------------- */

/* A map's types in the object's BTF (btf.c); fd -1: none. */
struct map_btf {
	int fd;
	uint32_t key, value;
};

/* Maps go without BTF when the kernel refuses it: said once a process. */
void btf_note(const char *what, const char *why)
{
	static int said;

	if (!said++)
		fail("%s: %s; maps made without BTF (bpftool dumps no field "
		     "names)", what, why);
}

static int map_create(const char *name, uint32_t type, uint32_t key_size,
		      uint32_t value_size, uint32_t max_entries, uint32_t flags,
		      const struct map_btf *btf)
{
	union bpf_attr attr;
	int fd, btf_err = 0;
	char what[64];

	memset(&attr, 0, sizeof(attr));
	attr.map_type = type;
	attr.key_size = key_size;
	attr.value_size = value_size;
	attr.max_entries = max_entries;
	attr.map_flags = flags;
	/* The kernel wants a NUL within BPF_OBJ_NAME_LEN: truncate. */
	strncpy(attr.map_name, name, sizeof(attr.map_name) - 1);
	if (btf && btf->fd >= 0) {
		attr.btf_fd = (uint32_t)btf->fd;
		attr.btf_key_type_id = btf->key;
		attr.btf_value_type_id = btf->value;
		fd = sys_bpf(BPF_MAP_CREATE, &attr);
		if (fd >= 0)
			return fd;
		btf_err = errno;
		attr.btf_fd = attr.btf_key_type_id = 0;
		attr.btf_value_type_id = 0;
	}
	fd = sys_bpf(BPF_MAP_CREATE, &attr);
	if (fd < 0)	/* not for want of BTF: that error alone */
		return fail("creating BPF map %s: %s", name, strerror(errno));
	if (btf_err) {
		snprintf(what, sizeof(what), "creating BPF map %s with BTF",
			 name);
		btf_note(what, strerror(btf_err));
	}
	return fd;
}

static int map_create_def(const char *name, const struct hedge_map_def *def,
			  const struct hedge_btf *btf)
{
	struct map_btf types = { .fd = -1 };

	if (btf && !btf_map_types(btf, name, &types.key, &types.value))
		types.fd = btf->fd;
	return map_create(name, def->type, def->key_size, def->value_size,
			  def->max_entries, def->flags, &types);
}

/* The last size given for a map wins. */
static void resize(struct hedge_map_def *def, const char *name,
		   const struct map_size *sizes)
{
	for (; sizes && sizes->name; sizes++) {
		if (strcmp(sizes->name, name))
			continue;
		def->max_entries = sizes->max_entries;
	}
}

/* Create a map for every symbol in the "maps" section. */
/* A dup of the running map called `name` in `reuse`; -1 none, -2 said. */
static int reused(const struct map_reuse *reuse, const char *name)
{
	int fd;

	for (; reuse && reuse->name; reuse++)
		if (!strcmp(reuse->name, name) && reuse->fd >= 0) {
			fd = fcntl(reuse->fd, F_DUPFD_CLOEXEC, 0);
			return fd >= 0 ? fd : (fail("reusing the %s map: %s",
						    name, strerror(errno)), -2);
		}
	return -1;
}

static int create_maps(const struct elf *e, int maps_shndx, struct bpf_obj *obj,
		       size_t *offsets, const struct map_size *sizes,
		       const struct map_reuse *reuse, const struct hedge_btf *btf)
{
	const Elf64_Shdr *s = section(e, maps_shndx);
	const unsigned char *defs = section_data(e, s);
	size_t i;

	if (!defs)
		return fail("embedded BPF object: bad maps section");
	for (i = 0; i < e->n_syms; i++) {
		const Elf64_Sym *sym = &e->syms[i];
		struct hedge_map_def def;
		int fd;

		if (sym->st_shndx != maps_shndx || !*symbol_name(e, sym) ||
		    ELF64_ST_TYPE(sym->st_info) == STT_SECTION)
			continue;
		if (obj->n_maps == OBJ_MAX_MAPS ||
		    sym->st_value > s->sh_size ||
		    s->sh_size - sym->st_value < sizeof(def))
			return fail("embedded BPF object: bad map %s",
				    symbol_name(e, sym));
		memcpy(&def, defs + sym->st_value, sizeof(def));
		resize(&def, symbol_name(e, sym), sizes);
		fd = reused(reuse, symbol_name(e, sym));
		if (fd == -1)
			fd = map_create_def(symbol_name(e, sym), &def, btf);
		if (fd < 0)
			return -1;
		offsets[obj->n_maps] = sym->st_value;
		obj->maps[obj->n_maps].fd = fd;
		strncpy(obj->maps[obj->n_maps].name, symbol_name(e, sym),
			BPF_OBJ_NAME_LEN - 1);
		obj->n_maps++;
	}
	return 0;
}

/* ---- programs ------------------------------------------------------- */

/* The last lines of the verifier's log: where it gave up, and why. */
static void print_log_tail(const char *log)
{
	size_t len = strlen(log);
	const char *tail = log;

	if (len > VERIFIER_LOG_TAIL) {
		tail = log + len - VERIFIER_LOG_TAIL;
		tail = strchr(tail, '\n') ? strchr(tail, '\n') + 1 : tail;
	}
	fprintf(stderr, "%s%s", tail,
		len && log[len - 1] != '\n' ? "\n" : "");
}

static int prog_load(const char *name, const struct bpf_insn *insns,
		     size_t n_insns, const char *license)
{
	union bpf_attr attr;
	char *log;
	int fd, err;

	memset(&attr, 0, sizeof(attr));
	attr.prog_type = BPF_PROG_TYPE_SCHED_CLS;
	attr.insns = ptr(insns);
	attr.insn_cnt = n_insns;
	attr.license = ptr(license);
	strncpy(attr.prog_name, name, sizeof(attr.prog_name) - 1);
	fd = sys_bpf(BPF_PROG_LOAD, &attr);
	if (fd >= 0)
		return fd;

	/* Load again with the log on, to say why. */
	err = errno;
	log = calloc(1, VERIFIER_LOG_SIZE);
	if (log) {
		attr.log_buf = ptr(log);
		attr.log_size = VERIFIER_LOG_SIZE;
		attr.log_level = 1;
		fd = sys_bpf(BPF_PROG_LOAD, &attr);
		if (fd >= 0) {	/* passed this time: keep it */
			free(log);
			return fd;
		}
		err = errno;
	}
	fail("loading BPF program %s: %s%s", name, strerror(err),
	     err == EPERM ? " (need CAP_BPF and CAP_NET_ADMIN)" :
	     log && *log ? "; the verifier said:" : "");
	if (log && *log)
		print_log_tail(log);
	free(log);
	return -1;
}

static int load_progs(const struct elf *e, int maps_shndx,
		      const char *license, struct bpf_obj *obj,
		      const size_t *offsets, const char *skip)
{
	size_t i;

	for (i = 0; i < e->eh->e_shnum; i++) {
		const Elf64_Shdr *s = &e->sh[i];
		const char *name = prog_name(e, i);
		const void *code = section_data(e, s);
		struct bpf_insn *insns;
		size_t n = s->sh_size / sizeof(*insns);
		int fd;

		if (s->sh_type != SHT_PROGBITS ||
		    strncmp(section_name(e, s), "tc/", 3))
			continue;
		if (!name || !code || !n || obj->n_progs == OBJ_MAX_PROGS)
			return fail("embedded BPF object: bad program %s",
				    section_name(e, s));
		if (skip && !strcmp(name, skip))
			continue;
		/* The object is read-only: relocate a copy. */
		insns = malloc(s->sh_size);
		if (!insns)
			return fail("loading BPF programs: %s", strerror(errno));
		memcpy(insns, code, s->sh_size);
		fd = relocate(e, (int)i, maps_shndx, insns, n, obj, offsets);
		if (!fd)
			fd = prog_load(name, insns, n, license);
		free(insns);
		if (fd < 0)
			return -1;
		obj->progs[obj->n_progs].fd = fd;
		strncpy(obj->progs[obj->n_progs].name, name,
			BPF_OBJ_NAME_LEN - 1);
		obj->n_progs++;
	}
	return 0;
}

int obj_load(struct bpf_obj *obj, const struct map_size *sizes,
	     const char *skip)
{
	return obj_load_reuse(obj, sizes, NULL, skip);
}

int obj_load_reuse(struct bpf_obj *obj, const struct map_size *sizes,
		   const struct map_reuse *reuse, const char *skip)
{
	size_t offsets[OBJ_MAX_MAPS];
	struct hedge_btf btf;
	const Elf64_Shdr *lic;
	const char *license;
	struct elf e;
	int maps, lic_i, err;

	memset(obj, 0, sizeof(*obj));
	if (elf_open(&e, bpf_object_start, bpf_object_end - bpf_object_start))
		return -1;
	maps = find_section(&e, "maps");
	lic_i = find_section(&e, "license");
	lic = lic_i < 0 ? NULL : section(&e, lic_i);
	license = lic ? section_data(&e, lic) : NULL;
	if (!license || !lic->sh_size || license[lic->sh_size - 1] != '\0')
		return fail("embedded BPF object: no license section");

	load_btf(&e, &btf);
	err = maps >= 0 && create_maps(&e, maps, obj, offsets, sizes, reuse,
				       &btf);
	btf_free(&btf);	/* the maps hold their own reference */
	if (err || load_progs(&e, maps, license, obj, offsets, skip)) {
		obj_close(obj);
		return -1;
	}
	return 0;
}

void obj_close(struct bpf_obj *obj)
{
	int i;

	for (i = 0; i < obj->n_maps; i++)
		close(obj->maps[i].fd);
	for (i = 0; i < obj->n_progs; i++)
		close(obj->progs[i].fd);
	obj->n_maps = obj->n_progs = 0;
}

static int named_fd(const struct bpf_named_fd *fds, int n, const char *name)
{
	int i;

	for (i = 0; i < n; i++)
		if (!strncmp(fds[i].name, name, BPF_OBJ_NAME_LEN - 1))
			return fds[i].fd;
	return -1;
}

int obj_map_fd(const struct bpf_obj *obj, const char *name)
{
	return named_fd(obj->maps, obj->n_maps, name);
}

int obj_prog_fd(const struct bpf_obj *obj, const char *name)
{
	return named_fd(obj->progs, obj->n_progs, name);
}

/* ---- after loading -------------------------------------------------- */

int map_update(int fd, const void *key, const void *value)
{
	union bpf_attr attr;

	memset(&attr, 0, sizeof(attr));
	attr.map_fd = fd;
	attr.key = ptr(key);
	attr.value = ptr(value);
	attr.flags = BPF_ANY;
	return sys_bpf(BPF_MAP_UPDATE_ELEM, &attr) ? -errno : 0;
}

int map_lookup(int fd, const void *key, void *value)
{
	union bpf_attr attr;

	memset(&attr, 0, sizeof(attr));
	attr.map_fd = fd;
	attr.key = ptr(key);
	attr.value = ptr(value);
	return sys_bpf(BPF_MAP_LOOKUP_ELEM, &attr) ? -errno : 0;
}

int map_next_key(int fd, const void *key, void *next)
{
	union bpf_attr attr;

	memset(&attr, 0, sizeof(attr));
	attr.map_fd = fd;
	attr.key = ptr(key);
	attr.next_key = ptr(next);
	return sys_bpf(BPF_MAP_GET_NEXT_KEY, &attr) ? -errno : 0;
}

int map_lookup_batch(int fd, uint32_t *in_batch, uint32_t *out_batch,
		     void *keys, void *values, uint32_t *count)
{
	union bpf_attr attr;
	int err;

	memset(&attr, 0, sizeof(attr));
	attr.batch.map_fd = fd;
	attr.batch.in_batch = ptr(in_batch);
	attr.batch.out_batch = ptr(out_batch);
	attr.batch.keys = ptr(keys);
	attr.batch.values = ptr(values);
	attr.batch.count = *count;
	err = sys_bpf(BPF_MAP_LOOKUP_BATCH, &attr) ? -errno : 0;
	*count = attr.batch.count;
	return err;
}

/* The index of its servers is derived from the targets here, at the one
 * place a config is written (hedge_servers_set()). */
int config_write(int fd, const struct hedge_config *cfg)
{
	struct hedge_config w = *cfg;
	uint32_t zero = 0;

	hedge_servers_set(&w);
	return map_update(fd, &zero, &w);
}

int map_delete(int fd, const void *key)
{
	union bpf_attr attr;

	memset(&attr, 0, sizeof(attr));
	attr.map_fd = fd;
	attr.key = ptr(key);
	return sys_bpf(BPF_MAP_DELETE_ELEM, &attr) ? -errno : 0;
}

int obj_pin(int fd, const char *path)
{
	union bpf_attr attr;

	memset(&attr, 0, sizeof(attr));
	attr.bpf_fd = fd;
	attr.pathname = ptr(path);
	return sys_bpf(BPF_OBJ_PIN, &attr) ? -errno : 0;
}

int obj_get(const char *path)
{
	union bpf_attr attr;
	int fd;

	memset(&attr, 0, sizeof(attr));
	attr.pathname = ptr(path);
	fd = sys_bpf(BPF_OBJ_GET, &attr);
	return fd < 0 ? -errno : fd;
}

int prog_fd_by_id(uint32_t id)
{
	union bpf_attr attr;
	int fd;

	memset(&attr, 0, sizeof(attr));
	attr.prog_id = id;
	fd = sys_bpf(BPF_PROG_GET_FD_BY_ID, &attr);
	return fd < 0 ? -errno : fd;
}

static int obj_info(int fd, void *info, uint32_t len)
{
	union bpf_attr attr;

	memset(&attr, 0, sizeof(attr));
	attr.info.bpf_fd = fd;
	attr.info.info_len = len;
	attr.info.info = ptr(info);
	return sys_bpf(BPF_OBJ_GET_INFO_BY_FD, &attr) ? -errno : 0;
}

int prog_map_fd(int prog_fd, const char *name)
{
	struct bpf_prog_info prog;
	uint32_t ids[OBJ_MAX_MAPS], i;

	memset(&prog, 0, sizeof(prog));
	prog.nr_map_ids = OBJ_MAX_MAPS;
	prog.map_ids = ptr(ids);
	if (obj_info(prog_fd, &prog, sizeof(prog)))
		return -1;
	for (i = 0; i < prog.nr_map_ids && i < OBJ_MAX_MAPS; i++) {
		struct bpf_map_info map;
		union bpf_attr attr;
		int fd;

		memset(&attr, 0, sizeof(attr));
		attr.map_id = ids[i];
		fd = sys_bpf(BPF_MAP_GET_FD_BY_ID, &attr);
		if (fd < 0)
			continue;
		memset(&map, 0, sizeof(map));
		if (!obj_info(fd, &map, sizeof(map)) &&
		    !strncmp(map.name, name, BPF_OBJ_NAME_LEN - 1))
			return fd;
		close(fd);
	}
	return -1;
}

int prog_run_stats(uint32_t id, uint64_t *run_time_ns, uint64_t *run_cnt)
{
	struct bpf_prog_info info;
	int fd = prog_fd_by_id(id), err;

	if (fd < 0)
		return fd;
	memset(&info, 0, sizeof(info));
	err = obj_info(fd, &info, sizeof(info));
	close(fd);
	*run_time_ns = info.run_time_ns;
	*run_cnt = info.run_cnt;
	return err;
}

int map_value_size(int fd, uint32_t *size)
{
	struct bpf_map_info info;
	int err;

	memset(&info, 0, sizeof(info));
	err = obj_info(fd, &info, sizeof(info));
	if (!err)
		*size = info.value_size;
	return err;
}
