#!/bin/bash
# tests/btf.sh - hedge's maps and programs as bpftool shows them (issue 13,
# item 5): after `up`, a dump of the Scoreboard (with one request in it) and
# of the config names their fields, and the programs have their names.
# A kernel that refuses the types (build/hedge-badbtf: its BTF header has a
# flag no kernel knows) costs nothing but them: `up` works and says so in
# one line. Runs here and in the VM (Debian's bpftool, from the host's root
# there too). Run as root after `make hedge build/hedge-badbtf`, under
# /tmp/hedge-test.lock.
set -u
cd "$(dirname "$0")/.." || exit 1
. tests/lib.sh
NS=hedget-btf
OUT=tests/out/btf
kernel=$(uname -r)
rm -rf $OUT; mkdir -p $OUT
trap ns_test_cleanup EXIT
if ! command -v bpftool >/dev/null || ! command -v strace >/dev/null; then
	fail "btf [$kernel]: bpftool, strace" "not installed (tests/install-deps installs them)"
	finish
	exit 1
fi
netns_add $NS
in_ns ip link add btf0 type veth peer name btf1
in_ns ip link set btf0 up
in_ns ip link set btf1 up
in_ns ip addr add 10.9.9.1/24 dev btf0
# The request goes out btf0 and ends at btf1, in this namespace.
in_ns ip neigh add 10.9.9.9 lladdr "$(in_ns cat /sys/class/net/btf1/address)" \
	dev btf0 nud permanent

# One session: the pins live in the bpffs that `up` finds or mounts there.
in_ns bash -c '
	strace -f -qq -e trace=bpf -e signal=none -o '$OUT'/up.strace \
		'"$HEDGE"' up --dev btf0 --target 10.9.9.9:53 >/dev/null 2>'$OUT'/up.err
	echo $? >'$OUT'/up.rc
	# The programs up verified, by name.
	sed -n "s/.*BPF_PROG_LOAD.*prog_name=\"\([a-z_]*\)\".*/\1/p" '$OUT'/up.strace |
		sort -u | tr "\n" " " | sed "s/ $//" >'$OUT'/loaded
	python3 -c "import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((\"10.9.9.1\", 40053))
s.sendto(bytes.fromhex(\"abcd01000001000000000000\"), (\"10.9.9.9\", 53))"
	d=$(ls -d /sys/fs/bpf/hedge-net* | head -1)
	# The Scoreboard is an array of sets of 8 (hedge.h): the request`s
	# set at each size in use, not a dump of every record.
	n=$(bpftool map show pinned $d/hedge_scores |
		sed -n "s/.*max_entries \([0-9]*\).*/\1/p")
	tests/score_index.py 10.9.9.1 40053 0 abcd0100 $((n / 8)) |
	while read -r key; do
		bpftool map lookup pinned $d/hedge_scores key $key
	done >'$OUT'/scores 2>&1
	bpftool map dump pinned $d/hedge_config >'$OUT'/config 2>&1
	bpftool prog show pinned $d/hedge_splitter >'$OUT'/progs 2>&1
	bpftool prog show pinned $d/hedge_watcher >>'$OUT'/progs 2>&1
	bpftool map show pinned $d/hedge_scores >'$OUT'/scores.show 2>&1
	'"$HEDGE"' status --json | python3 -c "import json, sys
print(json.load(sys.stdin)[\"delay_line\"])" >'$OUT'/line 2>&1
'
check "btf [$kernel]: up works, and says nothing of BTF" \
	"exit $(cat $OUT/up.rc): $(head -2 $OUT/up.err)" \
	[ "$(cat $OUT/up.rc)" = 0 -a ! -s $OUT/up.err ]
check "btf [$kernel]: the Scoreboard has BTF" "$(head -3 $OUT/scores.show)" \
	grep -q btf_id $OUT/scores.show
check "btf [$kernel]: bpftool shows the Scoreboard's record with its fields" \
	"$(head -c 300 $OUT/scores)" \
	grep -q '"sent_ns": [1-9]' $OUT/scores
check "btf [$kernel]: the Scoreboard's key with its fields" \
	"$(head -c 300 $OUT/scores)" grep -q '"target": [0-9]' $OUT/scores
check "btf [$kernel]: bpftool dumps the config with its fields" \
	"$(head -c 300 $OUT/config)" \
	grep -q '"delay_ns": 10000000,' $OUT/config
check "btf [$kernel]: bpftool prog show names the Splitter and the watcher" \
	"$(cat $OUT/progs)" \
	sh -c "grep -q 'name hedge_splitter' $OUT/progs && grep -q 'name hedge_watcher' $OUT/progs"
# A delay line's programs only: netem delays the clones, no ticker (each
# program loaded is verified anew: ~40% of an up's time for the ticker;
# one it does not run is closed at the end of up, so strace tells).
line=$(cat $OUT/line)
case $line in
netem) want="hedge_rescuer hedge_splitter hedge_watcher" ;;
*) want="hedge_rescuer hedge_splitter hedge_ticker hedge_watcher" ;;
esac
check "btf [$kernel]: the $line line loads its programs only ($want)" \
	"loaded: $(head -c 300 $OUT/loaded)" [ "$(cat $OUT/loaded)" = "$want" ]
in_ns $HEDGE down >/dev/null

# The types refused: up works, one line says so, the maps go without.
in_ns bash -c '
	build/hedge-badbtf up --dev btf0 --target 10.9.9.9:53 >/dev/null 2>'$OUT'/bad.err
	echo $? >'$OUT'/bad.rc
	d=$(ls -d /sys/fs/bpf/hedge-net* | head -1)
	bpftool -j map show pinned $d/hedge_scores >'$OUT'/bad.show 2>&1
	build/hedge-badbtf status >'$OUT'/bad.status 2>&1
	echo $? >>'$OUT'/bad.status
	build/hedge-badbtf down >/dev/null 2>&1
	echo $? >'$OUT'/bad.down
'
check "btf [$kernel]: types refused: up works" \
	"exit $(cat $OUT/bad.rc): $(head -3 $OUT/bad.err)" [ "$(cat $OUT/bad.rc)" = 0 ]
check "btf [$kernel]: types refused: said in one line, once" "$(cat $OUT/bad.err)" \
	sh -c "[ \$(wc -l <$OUT/bad.err) = 1 ] &&
	       grep -q '^hedge: loading the BPF object.s BTF: the kernel refused them: .*maps made without BTF' $OUT/bad.err"
check "btf [$kernel]: types refused: the maps have none, and work" \
	"$(cat $OUT/bad.show; tail -3 $OUT/bad.status)" \
	sh -c "grep -q '\"name\":\"hedge_scores\"' $OUT/bad.show &&
	       ! grep -q btf_id $OUT/bad.show &&
	       [ \"\$(tail -1 $OUT/bad.status)\" = 0 ] && [ \"\$(cat $OUT/bad.down)\" = 0 ]"
finish
