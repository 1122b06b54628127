#!/bin/bash
# tests/tcx.sh - first in line (tcx.c, through build/tcx_test): TCX on
# this kernel or not (it must be there from 6.6 on, and is not on 6.1),
# who runs first on a TCX hook and what an accepting program ahead does to
# hedge's traffic, and whether an attachment made by a process survives
# it, under `ip netns exec` (a private /sys, no bpffs) and without. In a
# namespace of its own, on the veth pair tx0/tx1. tests/run runs this here
# and in the VM; each result names the kernel.
set -u
cd "$(dirname "$0")/.." || exit 1
. tests/lib.sh
kernel=$(uname -r)
T=build/tcx_test
NS=hedget-tcx
tag() { sed "s/^\(PASS\|FAIL\|SKIP\) /\1 [$kernel] /"; }

# The clsact pref choice does not depend on the kernel.
$T pref 2>&1 | tag
[ "${PIPESTATUS[0]}" = 0 ] || echo "FAIL [$kernel] tcx_test pref exited non-zero"

# TCX came with 6.6.
major=${kernel%%.*}
minor=${kernel#*.}
minor=${minor%%[!0-9]*}
want=0
[ "$major" -gt 6 ] || { [ "$major" = 6 ] && [ "$minor" -ge 6 ]; } && want=1
got=$($T supported 2>&1)
if [ "$got" = "$want" ]; then
	pass "[$kernel] tcx_supported is $want on $kernel"
else
	fail "[$kernel] tcx_supported on $kernel" "said '$got', wanted $want"
fi
# Without TCX (before 6.6) there is nothing to attach to: the check above
# is the test there, and hedge uses clsact (native.sh, e2e.sh).
if [ "$got" != 1 ]; then
	finish
	exit 0
fi

netns_add $NS
ip -n $NS link add tx0 type veth peer name tx1
ip netns exec $NS sysctl -qw net.ipv6.conf.tx0.disable_ipv6=1
ip -n $NS addr add 10.9.0.1/24 dev tx0
ip -n $NS link set tx0 up
ip -n $NS link set tx1 up
ip -n $NS neigh add 10.9.0.9 lladdr 02:00:00:00:00:09 dev tx0 nud permanent

ip netns exec $NS $T cases tx0 2>&1 | tag
[ "${PIPESTATUS[0]}" = 0 ] || echo "FAIL [$kernel] tcx_test cases exited non-zero"

# Persistence: each step is a process of its own, as `up` and `status` are.
chain() { ip netns exec $NS $T list tx0 | tr '\n' ',' ; }
ip netns exec $NS $T attach tx0 netns_exec_made
c=$(chain)
check "[$kernel] tcx attach under ip netns exec outlives its process" \
	"egress runs '$c'" [ "$c" = "netns_exec_made," ]
# Without ip netns exec: the host's mounts, only the network namespace set.
nsenter --net=/run/netns/$NS $T attach tx0 nsenter_made
c=$(chain)
check "[$kernel] tcx attach without ip netns exec outlives its process" \
	"egress runs '$c'" [ "$c" = "nsenter_made,netns_exec_made," ]
# A link: there while its process runs, gone with it unless pinned where
# the next process looks. Under ip netns exec /sys/fs/bpf is no bpffs.
out=$(ip netns exec $NS $T link tx0 link_made /sys/fs/bpf/hedget_tcx_link 2>&1)
echo "# tcx link under ip netns exec: $(echo "$out" | tr '\n' ' ')"
c=$(chain)
check "[$kernel] tcx link under ip netns exec: first while its process ran" \
	"it said: $out" [ "$(echo "$out" | head -1)" = link_made ]
check "[$kernel] tcx link under ip netns exec: gone with its process" \
	"egress runs '$c'" [ "$c" = "nsenter_made,netns_exec_made," ]
rm -f /sys/fs/bpf/hedget_tcx_link 2>/dev/null
# Teardown by name from yet another process, twice; then the device gone.
ip netns exec $NS $T detach tx0 nsenter_made &&
	ip netns exec $NS $T detach tx0 netns_exec_made &&
	ip netns exec $NS $T detach tx0 netns_exec_made
rc=$?
c=$(chain)
check "[$kernel] tcx detach by name from another process, twice" \
	"exit $rc, egress runs '$c'" [ "$rc" = 0 -a -z "$c" ]
# hedge itself on TCX: status reads its programs' cost through TCX, as
# root (it once looked for tc filters and said "needs CAP_SYS_ADMIN").
if ip netns exec $NS $HEDGE up --dev tx0 --target 10.9.0.9:53 >/dev/null; then
	st=$(ip netns exec $NS $HEDGE status 2>&1)
	pl=$(echo "$st" | grep '^programs')
	check "[$kernel] status as root reads the TCX programs' cost" \
		"it said: $pl" eval 'echo "$pl" | grep -q "splitter [0-9]* ns x" &&
		echo "$pl" | grep -q "watcher [0-9]* ns x"'
	js=$(ip netns exec $NS $HEDGE status --json 2>&1)
	check "[$kernel] status --json has the TCX programs' cost" \
		"it said: $js" eval 'echo "$js" | python3 -c "
import json, sys
p = json.load(sys.stdin)[\"programs\"]
sys.exit(not (p[\"splitter\"] and p[\"watcher\"]))"'
	ip netns exec $NS $HEDGE down >/dev/null
else
	fail "[$kernel] hedge up on TCX for status" "up failed"
fi
ip netns exec $NS $T attach tx0 goes_with_device
ip -n $NS link del tx0
ip netns exec $NS $T detach tx0 goes_with_device
rc=$?
check "[$kernel] tcx detach once the device is gone: 0" "exit $rc" [ "$rc" = 0 ]
finish
