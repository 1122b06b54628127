#!/bin/bash
# tests/missing.sh - hedge on a kernel that lacks what it needs, in the VM
# only (HEDGE_VM=1): there the modules can be unloaded, and the kernel
# kept from loading them again by pointing kernel.modprobe at /bin/false.
# Each missing piece must be named, and nothing left behind. The modules
# stay unloaded; once kernel.modprobe is restored, the kernel loads them
# again when they are next used (their files are in the initramfs).
set -u
cd "$(dirname "$0")/.." || exit 1
. tests/lib.sh
[ "${HEDGE_VM:-}" = 1 ] || { echo "tests/missing.sh runs in the VM only" >&2; exit 1; }

modprobe_was=$(cat /proc/sys/kernel/modprobe)
restore() { echo "$modprobe_was" >/proc/sys/kernel/modprobe; netns_cleanup; }
trap restore EXIT
echo /bin/false >/proc/sys/kernel/modprobe

NS=hedget-missing
netns_add $NS
before=$(mktemp)
snapshot $NS >"$before"

# without MODULE, `hedge up ARGS` fails naming WHAT, and leaves nothing.
# Each case fails before the step that needs the module unloaded before it.
without() {
	local module=$1 what=$2
	shift 2
	if ! rmmod "$module" 2>/dev/null; then
		fail "without $module" "could not unload it"
		return
	fi
	expect "without $module: up names it" 1 "$what" ip netns exec $NS $HEDGE up "$@"
	same_snapshot "without $module: nothing left behind" $NS "$before"
}
without sch_netem "this kernel has no netem qdisc \(sch_netem\)" --delay-line netem --target 127.0.0.1:9000
# Without netem (and all else there), as on this project's CI kernel: the
# auto delay line falls back to the tick, which --tick-cpu places.
out=$(ip netns exec $NS $HEDGE up --target 127.0.0.1:9000 --tick-cpu 1 2>&1); rc=$?
check "without sch_netem: auto picks the tick line" "exit $rc: $out" \
	sh -c "ip netns exec $NS $HEDGE status | grep -q 'tick delay line'"
# The first tick's run records its CPU: polled (10 s at most), not a sleep.
poll 10 sh -c "ip netns exec $NS $HEDGE status | grep -q 'ticks on CPU 1,'"
check "without sch_netem: --tick-cpu 1: the tick runs there" "$(ip netns exec $NS $HEDGE status 2>&1 | grep ticker)" \
	sh -c "ip netns exec $NS $HEDGE status | grep -q 'ticks on CPU 1,'"
check "without sch_netem: down" "down failed" sh -c "ip netns exec $NS $HEDGE down >/dev/null"
same_snapshot "without sch_netem: after down, nothing left behind" $NS "$before"
without cls_bpf "this kernel has no BPF classifier \(cls_bpf\)" --target 127.0.0.1:9000
without sch_ingress "this kernel has no clsact qdisc \(sch_ingress\)" --target 127.0.0.1:9000
without sch_tbf "this kernel has no TBF qdisc \(sch_tbf\)" --delay-line tick --target 127.0.0.1:9000
without veth "this kernel has no veth driver \(veth\)" --target 127.0.0.1:9000
rm -f "$before"
finish
