#!/bin/bash
# tests/bpf.sh - the BPF programs' decisions (build/bpf_test, through the
# running kernel's verifier and BPF_PROG_RUN), in a namespace of its own
# with the veth pair tdl0/tdl1 standing in for the delay line. Each result
# names the kernel: tests/run runs this here and in the VM.
set -u
cd "$(dirname "$0")/.." || exit 1
. tests/lib.sh
kernel=$(uname -r)
netns_add hedget-bpf
ip -n hedget-bpf link add tdl0 type veth peer name tdl1
ip -n hedget-bpf link set tdl0 up
ip -n hedget-bpf link set tdl1 up
# The cases each start on a fresh state: in order, reversed and shuffled
# they must give the same results. In the VM (TCG: ~25 s a run) in order
# only: what it adds is the 6.1 verifier and helpers, and the orders test
# fresh_state's reset, which does not depend on the kernel (the three run
# here).
seed=$(( $(date +%s) % 100000 ))
orders=("" --reverse "--shuffle $seed")
[ -n "${HEDGE_VM:-}" ] && orders=("")
for order in "${orders[@]}"; do
	tag="$kernel${order:+ ${order#--}}"
	# shellcheck disable=SC2086
	tests/runtest -t 240 -d bpf_test "bpf_test [$tag]" \
		ip netns exec hedget-bpf build/bpf_test $order |
		sed "s/^\(PASS\|FAIL\|SKIP\) /\1 [$tag] /"
done
finish
