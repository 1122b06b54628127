# hedge: one static binary with its BPF object embedded.
CC      := musl-gcc
CLANG   ?= clang
OBJCOPY ?= llvm-objcopy
# BPF objects carry their types (.BTF, from -g) for the loader to give the
# maps (bpftool then shows field names); the rest of -g's output, which
# nothing loads, is dropped to keep the embedded object small.
BPF_CFLAGS := -g -O2 -target bpf -mcpu=v3 -Wall -Wextra
BPF_STRIP = $(OBJCOPY) --strip-debug --remove-section=.BTF.ext \
	    --remove-section=.rel.BTF.ext $@
CFLAGS  ?= -Os -Wall -Wextra -std=gnu11
UAPI    := build/include
BPF_OBJ := build/hedge.bpf.o
# hedge.c is the command line; LIB_SRCS the rest, which tests link too.
LIB_SRCS := config.c target.c describe.c instance.c lifecycle.c attach.c \
	    tcx.c repair.c snapshot.c health.c degraded.c print_text.c \
	    print_json.c print_prom.c loader.c elf.c btf.c netlink.c rtnl.c \
	    delayline.c resolv.c safe.c
SRCS    := hedge.c $(LIB_SRCS)
HDRS    := hedge.h hedge_user.h config.h instance.h lifecycle.h attach.h \
	    snapshot.h health.h resolv.h

.PHONY: all clean install uninstall deps test test-bins test-mutants bench-tools \
	bench bench-vm bench-cost demo
all: hedge

# musl ships no kernel headers: give it the UAPI ones, and nothing else of
# /usr/include, through a directory of symlinks.
$(UAPI)/.stamp:
	mkdir -p $(UAPI)
	ln -sfn /usr/include/linux $(UAPI)/linux
	ln -sfn /usr/include/asm-generic $(UAPI)/asm-generic
	ln -sfn /usr/include/x86_64-linux-gnu/asm $(UAPI)/asm
	touch $@

$(BPF_OBJ): hedge.bpf.c hedge.h $(wildcard bpf/*.h) $(UAPI)/.stamp Makefile
	$(CLANG) $(BPF_CFLAGS) -I$(UAPI) -c $< -o $@
	$(BPF_STRIP)

hedge: $(SRCS) $(HDRS) $(BPF_OBJ)
	$(CC) -static $(CFLAGS) -I$(UAPI) -DHEDGE_BPF_OBJECT='"$(CURDIR)/$(BPF_OBJ)"' -o $@ $(SRCS)
	strip $@

# The binary and its man page: PREFIX (default /usr/local), DESTDIR for a
# package's staging directory.
PREFIX  ?= /usr/local
BINDIR  ?= $(PREFIX)/bin
MANDIR  ?= $(PREFIX)/share/man
install: hedge
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man8
	install -m 0755 hedge $(DESTDIR)$(BINDIR)/hedge
	install -m 0644 hedge.8 $(DESTDIR)$(MANDIR)/man8/hedge.8

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/hedge $(DESTDIR)$(MANDIR)/man8/hedge.8

# make test, demo and bench set up a fresh Debian/Ubuntu machine first.
deps:
	tests/install-deps

bench-tools:
	$(MAKE) -C bench

TEST_BINS := build/bpf_test build/tcx_test build/netlink_test build/hedge-broken \
	     build/lossy build/unit_test build/hedge-otherlayout build/hedge-badbtf

# Native tests here, then end to end under a netem kernel in qemu.
# (The build on every core: 32 s -> 21 s on two.)
test: deps
	$(MAKE) -j$$(nproc) test-bins
	tests/run

# Everything the tests run (tests/mutants builds its copies with it).
test-bins: hedge $(TEST_BINS) bench-tools

# The mutation run: one-line faults in hedge's sources, each of which a
# test must catch (tests/mutants has the table).
test-mutants: deps
	$(MAKE) hedge $(TEST_BINS) bench-tools
	tests/mutants

# The seed's campaign (Table 4.1), here on the running kernel with the
# delay line it supports (tick where there is no netem). CONTENTION=K adds
# K busy loops on the client's CPU.
CONTENTION ?= 0
REQUESTS   ?= 5000
bench: deps
	$(MAKE) hedge bench-tools
	bench/campaign --requests $(REQUESTS) --contention $(CONTENTION) \
		--out bench/out/campaign-k$(CONTENTION)

# Both delay lines side by side under Debian's 6.1 kernel in qemu.
bench-vm: deps
	$(MAKE) hedge bench-tools
	tests/vm/run 'bench/compare-lines --requests $(REQUESTS) --contention $(CONTENTION)'

# What hedging costs in CPU per request, hedge down against up, 1k to 200k
# requests/s across a veth pair (bench/cost; ~20 min). Each repetition
# holds COST_LOCK (the shared test lock; COST_LOCK= for none).
COST_LOCK ?= /tmp/hedge-test.lock
bench-cost: deps
	$(MAKE) hedge build/bpf_cost bench-tools
	bench/cost $(if $(COST_LOCK),--lock $(COST_LOCK)) --out bench/out/cost

# A newcomer's first look: ~1000 requests without and with hedge, here.
demo: deps
	$(MAKE) hedge bench-tools
	bench/demo

clean:
	rm -rf build hedge
	$(MAKE) -C bench clean

# The tests' and benches' views of hedge's arrays (mapped into memory).
VIEW_HDRS := tests/mapped.h tests/scores.h tests/due.h

build/bpf_test: tests/bpf_test.c tests/bpf_tcp.c tests/bpf_tcp6.c tests/bpf_tcpnat.c $(LIB_SRCS) $(HDRS) $(VIEW_HDRS) $(BPF_OBJ)
	$(CC) -static $(CFLAGS) -I$(UAPI) -DHEDGE_BPF_OBJECT='"$(CURDIR)/$(BPF_OBJ)"' -o $@ tests/bpf_test.c $(LIB_SRCS)

# Unit tests of pure functions (the CPU list parser).
build/unit_test: tests/unit_test.c $(LIB_SRCS) $(HDRS) $(BPF_OBJ)
	$(CC) -static $(CFLAGS) -I$(UAPI) -DHEDGE_BPF_OBJECT='"$(CURDIR)/$(BPF_OBJ)"' -o $@ tests/unit_test.c $(LIB_SRCS)

# hedge of another map layout (HEDGE_LAYOUT_TEST): tests/control.sh runs
# it up, then status and down with this build.
build/otherlayout.bpf.o: hedge.bpf.c hedge.h $(wildcard bpf/*.h) $(UAPI)/.stamp
	$(CLANG) $(BPF_CFLAGS) -DHEDGE_LAYOUT_TEST -I$(UAPI) -c $< -o $@
	$(BPF_STRIP)

build/hedge-otherlayout: $(SRCS) $(HDRS) build/otherlayout.bpf.o
	$(CC) -static $(CFLAGS) -DHEDGE_LAYOUT_TEST -I$(UAPI) -DHEDGE_BPF_OBJECT='"$(CURDIR)/build/otherlayout.bpf.o"' -o $@ $(SRCS)

# hedge whose object's BTF the kernel refuses (a flag in its header):
# tests/btf.sh runs `up` with it, which must work, maps without BTF.
build/badbtf.bpf.o: $(BPF_OBJ)
	$(OBJCOPY) --dump-section .BTF=$@.btf $< $@.tmp
	printf '\001' | dd of=$@.btf bs=1 seek=3 conv=notrunc status=none
	$(OBJCOPY) --update-section .BTF=$@.btf $< $@
	rm -f $@.btf $@.tmp

build/hedge-badbtf: $(SRCS) $(HDRS) build/badbtf.bpf.o
	$(CC) -static $(CFLAGS) -I$(UAPI) -DHEDGE_BPF_OBJECT='"$(CURDIR)/build/badbtf.bpf.o"' -o $@ $(SRCS)

build/tcx_test: tests/tcx_test.c loader.c elf.c btf.c tcx.c netlink.c rtnl.c $(HDRS) $(BPF_OBJ)
	$(CC) -static $(CFLAGS) -I$(UAPI) -DHEDGE_BPF_OBJECT='"$(CURDIR)/$(BPF_OBJ)"' -o $@ tests/tcx_test.c loader.c elf.c btf.c tcx.c netlink.c rtnl.c

build/netlink_test: tests/netlink_test.c loader.c elf.c btf.c netlink.c rtnl.c $(HDRS) $(BPF_OBJ)
	$(CC) -static $(CFLAGS) -I$(UAPI) -DHEDGE_BPF_OBJECT='"$(CURDIR)/$(BPF_OBJ)"' -o $@ tests/netlink_test.c loader.c elf.c btf.c netlink.c rtnl.c

# hedge with an object the verifier rejects: how a rejection is reported.
build/broken.bpf.o: tests/broken.bpf.c $(UAPI)/.stamp
	$(CLANG) -O2 -target bpf -mcpu=v3 -I$(UAPI) -c $< -o $@

build/hedge-broken: $(SRCS) $(HDRS) build/broken.bpf.o
	$(CC) -static $(CFLAGS) -I$(UAPI) -DHEDGE_BPF_OBJECT='"$(CURDIR)/build/broken.bpf.o"' -o $@ $(SRCS)

build/bpf_cost: bench/bpf_cost.c loader.c elf.c btf.c $(HDRS) $(VIEW_HDRS) $(BPF_OBJ)
	$(CC) -static $(CFLAGS) -I$(UAPI) -DHEDGE_BPF_OBJECT='"$(CURDIR)/$(BPF_OBJ)"' -o $@ bench/bpf_cost.c loader.c elf.c btf.c

# tests/dns.sh's lossy link (no netem here): a TC program that drops and
# duplicates DNS responses, loaded with hedge's own loader and netlink.
build/lossy.bpf.o: tests/lossy.bpf.c tests/lossy.h hedge.h bpf/helpers.h $(UAPI)/.stamp
	$(CLANG) $(BPF_CFLAGS) -I$(UAPI) -c $< -o $@
	$(BPF_STRIP)

build/lossy: tests/lossy.c tests/lossy.h loader.c elf.c btf.c netlink.c rtnl.c $(HDRS) build/lossy.bpf.o
	$(CC) -static $(CFLAGS) -I$(UAPI) -DHEDGE_BPF_OBJECT='"$(CURDIR)/build/lossy.bpf.o"' -o $@ tests/lossy.c loader.c elf.c btf.c netlink.c rtnl.c
