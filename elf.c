// SPDX-License-Identifier: BSD-2-Clause OR GPL-2.0-only
/*
 * elf.c - reading the embedded BPF object (an ELF file): its sections and
 * symbols, the map relocations of a program's ld_imm64, a program's name,
 * and what btf.c's fix-ups need of it. loader.c makes the maps and
 * programs from what this reads.
 */
#include <elf.h>
#include <stdio.h>
#include <string.h>
#include "hedge.h"
#include "hedge_user.h"

/* ---- ELF ------------------------------------------------------------ */

const Elf64_Shdr *section(const struct elf *e, size_t i)
{
	return i < e->eh->e_shnum ? &e->sh[i] : NULL;
}

const void *section_data(const struct elf *e, const Elf64_Shdr *s)
{
	if (s->sh_offset > e->size || s->sh_size > e->size - s->sh_offset)
		return NULL;
	return e->data + s->sh_offset;
}

const char *section_name(const struct elf *e, const Elf64_Shdr *s)
{
	const Elf64_Shdr *strs = section(e, e->eh->e_shstrndx);

	if (!strs || s->sh_name >= strs->sh_size)
		return "";
	return e->shstr + s->sh_name;
}

const char *symbol_name(const struct elf *e, const Elf64_Sym *sym)
{
	return sym->st_name < e->symstr_size ? e->symstr + sym->st_name : "";
}

int elf_open(struct elf *e, const unsigned char *data, size_t size)
{
	const Elf64_Shdr *strs;
	size_t i;

	memset(e, 0, sizeof(*e));
	e->data = data;
	e->size = size;
	e->eh = (const Elf64_Ehdr *)data;
	if (size < sizeof(*e->eh) || memcmp(data, ELFMAG, SELFMAG) ||
	    e->eh->e_ident[EI_CLASS] != ELFCLASS64 ||
	    e->eh->e_machine != EM_BPF ||
	    e->eh->e_shentsize != sizeof(Elf64_Shdr) ||
	    e->eh->e_shoff > size ||
	    (size - e->eh->e_shoff) / sizeof(Elf64_Shdr) < e->eh->e_shnum)
		return fail("embedded BPF object: not a BPF ELF object");
	e->sh = (const Elf64_Shdr *)(data + e->eh->e_shoff);
	strs = section(e, e->eh->e_shstrndx);
	if (!strs || !(e->shstr = section_data(e, strs)))
		return fail("embedded BPF object: no section names");

	for (i = 0; i < e->eh->e_shnum; i++) {
		const Elf64_Shdr *s = &e->sh[i], *str;

		if (s->sh_type != SHT_SYMTAB)
			continue;
		str = section(e, s->sh_link);
		e->syms = section_data(e, s);
		e->symstr = str ? section_data(e, str) : NULL;
		if (!e->syms || !e->symstr)
			break;
		e->n_syms = s->sh_size / sizeof(Elf64_Sym);
		e->symstr_size = str->sh_size;
	}
	if (!e->syms)
		return fail("embedded BPF object: no symbol table");
	return 0;
}

int find_section(const struct elf *e, const char *name)
{
	size_t i;

	for (i = 0; i < e->eh->e_shnum; i++)
		if (!strcmp(section_name(e, &e->sh[i]), name))
			return (int)i;
	return -1;
}

/* Point every ld_imm64 that names a map at that map's fd. */
int relocate(const struct elf *e, int prog_shndx, int maps_shndx,
		    struct bpf_insn *insns, size_t n_insns,
		    const struct bpf_obj *obj, const size_t *offsets)
{
	size_t i, r;

	for (i = 0; i < e->eh->e_shnum; i++) {
		const Elf64_Shdr *s = &e->sh[i];
		const Elf64_Rel *rels;

		if (s->sh_type != SHT_REL || s->sh_info != (Elf64_Word)prog_shndx)
			continue;
		if (!(rels = section_data(e, s)))
			return fail("embedded BPF object: bad relocations");
		for (r = 0; r < s->sh_size / sizeof(*rels); r++) {
			size_t sym_i = ELF64_R_SYM(rels[r].r_info);
			size_t insn_i = rels[r].r_offset / sizeof(*insns);
			const Elf64_Sym *sym;
			int m;

			if (sym_i >= e->n_syms || insn_i >= n_insns ||
			    insns[insn_i].code != (BPF_LD | BPF_IMM | BPF_DW))
				return fail("embedded BPF object: bad relocation");
			sym = &e->syms[sym_i];
			if (sym->st_shndx != maps_shndx)
				return fail("embedded BPF object: relocation to "
					    "%s is not a map", symbol_name(e, sym));
			for (m = 0; m < obj->n_maps; m++)
				if (offsets[m] == sym->st_value)
					break;
			if (m == obj->n_maps)
				return fail("embedded BPF object: no map at %s",
					    symbol_name(e, sym));
			insns[insn_i].src_reg = BPF_PSEUDO_MAP_FD;
			insns[insn_i].imm = obj->maps[m].fd;
		}
	}
	return 0;
}

/* The program's name: the function symbol at the start of its section. */
const char *prog_name(const struct elf *e, size_t shndx)
{
	size_t i;

	for (i = 0; i < e->n_syms; i++)
		if (e->syms[i].st_shndx == shndx &&
		    ELF64_ST_TYPE(e->syms[i].st_info) == STT_FUNC &&
		    e->syms[i].st_value == 0)
			return symbol_name(e, &e->syms[i]);
	return NULL;
}

/* ---- BTF: what btf.c's fix-ups need of the ELF object --------------- */

static long elf_section_size(const void *ctx, const char *name)
{
	const struct elf *e = ctx;
	int i = find_section(e, name);

	return i < 0 ? -1 : (long)e->sh[i].sh_size;
}

static long elf_symbol_offset(const void *ctx, const char *sec,
			      const char *name)
{
	const struct elf *e = ctx;
	int shndx = find_section(e, sec);
	size_t i;

	for (i = 0; shndx >= 0 && i < e->n_syms; i++)
		if (e->syms[i].st_shndx == shndx &&
		    !strcmp(symbol_name(e, &e->syms[i]), name))
			return (long)e->syms[i].st_value;
	return -1;
}

/*
 * The object's types, for its maps: none if it has no .BTF (built without
 * -g); none, said once, if they cannot be loaded (an older kernel): hedge
 * works the same without them.
 */
void load_btf(const struct elf *e, struct hedge_btf *btf)
{
	const struct btf_elf ops = { e, elf_section_size, elf_symbol_offset };
	int i = find_section(e, ".BTF");
	const void *data = i < 0 ? NULL : section_data(e, &e->sh[i]);

	memset(btf, 0, sizeof(*btf));
	btf->fd = -1;
	if (i < 0)
		return;
	if (!data)
		snprintf(btf->why, sizeof(btf->why), "bad .BTF section");
	else if (!btf_load(btf, data, e->sh[i].sh_size, &ops))
		return;
	btf_note("loading the BPF object's BTF", btf->why);
}
