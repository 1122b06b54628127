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
# they must give the same results.
seed=$(( $(date +%s) % 100000 ))
for order in "" --reverse "--shuffle $seed"; do
	tag="$kernel${order:+ ${order#--}}"
	# shellcheck disable=SC2086
	tests/runtest -t 240 -d bpf_test "bpf_test [$tag]" \
		ip netns exec hedget-bpf build/bpf_test $order |
		sed "s/^\(PASS\|FAIL\|SKIP\) /\1 [$tag] /"
done
finish
