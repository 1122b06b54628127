#!/bin/bash
# tests/native.sh - what runs on any kernel, this machine's 6.18 included
# (no netem): the BPF programs under BPF_PROG_RUN, hedge's rtnetlink, the
# command line's errors, and `up` failing cleanly where netem is missing.
# Run as root from the checkout, after `make`.
set -u
cd "$(dirname "$0")/.." || exit 1
. tests/lib.sh

NS=hedget-native

# ---- netlink, in a namespace of its own (tests/run runs tests/bpf.sh)
netns_add hedget-nl
tests/runtest -t 60 netlink_test ip netns exec hedget-nl build/netlink_test
tests/runtest -t 60 unit_test build/unit_test

# ---- the command line
check "hedge --help exits 0 and shows usage" "no usage" \
	sh -c "$HEDGE --help | grep -q 'usage: hedge up'"
check "hedge --version" "no version" sh -c "$HEDGE --version | grep -q '^hedge [0-9]'"
expect "no command" 2 "no command given" $HEDGE
expect "unknown command" 2 "unknown command 'frob'" $HEDGE frob
expect "unknown option" 2 "unknown option '--bogus'" $HEDGE up --target 127.0.0.1:9 --bogus
expect "up without a target" 2 "target" $HEDGE up
expect "option without its value" 2 "--delay needs a value" $HEDGE up --target 127.0.0.1:9 --delay
for t in 127.0.0.1 127.0.0.1:0 127.0.0.1:65536 127.0.0.1:x 300.1.1.1:9 :9 127.0.0.1:9:9 "" 127.0.0.1:-1 \
	 '[::1]' '[::1]:0' '[::1' '[::1:53' '[]:53' '[::g]:53' '[1.2.3.4]:53' 127.0.0.1:9, ,127.0.0.1:9 \
	 127.0.0.1:9,127.0.0.1:9,127.0.0.1:10; do
	expect "malformed target '$t'" 2 "--target" $HEDGE up --target "$t"
done
expect "IPv6 without brackets" 2 "write an IPv6 address in brackets" $HEDGE up --target '::1:53'
expect "a replica of another family" 2 "the replica must be of the primary's family" \
	$HEDGE up --target '127.0.0.1:53,[::1]:53'
expect "a replica that is the primary" 2 "the replica is the primary" \
	$HEDGE up --target '[::1]:53,[::1]:53'
expect "same target twice" 2 "given twice" $HEDGE up --target 127.0.0.1:9 --target 127.0.0.1:9
expect "a replica shared by two targets" 2 "given twice" \
	$HEDGE up --target 127.0.0.1:9,127.0.0.3:9 --target 127.0.0.2:9,127.0.0.3:9
targets=""; for p in $(seq 1 17); do targets="$targets --target 127.0.0.1:$p"; done
expect "17 targets" 2 "at most 16" $HEDGE up $targets
for d in abc 0ms 0 -5ms 10 10sec 99us 10.1s 11s 1e3ms 5.ms; do
	expect "bad delay '$d'" 2 "--delay .*100us..10s" $HEDGE up --target 127.0.0.1:9 --delay "$d"
done
for i in 0:0 0:9 1465:1 x:4 4 -1:2 0:4:1; do
	expect "bad --id '$i'" 2 "--id" $HEDGE up --target 127.0.0.1:9 --id "$i"
done
expect "bad window" 2 "--window" $HEDGE up --target 127.0.0.1:9 --window 0s
expect "bad --tick-cpu" 2 "--tick-cpu x: expected a CPU number" $HEDGE up --target 127.0.0.1:9 --tick-cpu x
expect "--tick-cpu with the netem line" 2 "--tick-cpu is for the tick delay line" $HEDGE up --target 127.0.0.1:9 --delay-line netem --tick-cpu 0
expect "bad delay line" 2 "--delay-line fast: expected auto, netem or tick" $HEDGE up --target 127.0.0.1:9 --delay-line fast
expect "window not above delay" 2 "longer than --delay" $HEDGE up --target 127.0.0.1:9 --delay 1s --window 1s
expect "status with a bad option" 2 "unknown option" $HEDGE status --yaml
expect "down with an option" 2 "unknown option" $HEDGE down now

# ---- errors at run time, each leaving the namespace as it was
netns_add $NS
before=$(mktemp)
snapshot $NS >"$before"

expect "not root" 1 "need CAP_NET_ADMIN and CAP_BPF" \
	setpriv --reuid=65534 --regid=65534 --clear-groups $HEDGE up --target 127.0.0.1:9
# Root with fewer capabilities, outside ip netns exec, in a private mount
# namespace: with a bpffs mounted there, or none.
OUT_CAPS=$(mktemp)
caps() {	# caps CAPS BPFFS(mount|none) COMMAND...
	local set=$1 fs=$2
	shift 2
	unshare -m sh -c 'umount /sys/fs/bpf 2>/dev/null
		[ "$0" = mount ] && mount -t bpf bpf /sys/fs/bpf
		exec nsenter --net=/run/netns/'$NS' setpriv --bounding-set=-all,'$set' -- "$@"' \
		"$fs" "$@"
}
expect "up without CAP_PERFMON" 1 "need CAP_PERFMON too" \
	caps +net_admin,+bpf mount $HEDGE up --delay-line tick --target 127.0.0.1:9
expect "up without CAP_SYS_ADMIN where bpffs is not mounted" 1 "mounting bpffs on /sys/fs/bpf: Operation not permitted \(mount it first, or run with CAP_SYS_ADMIN\)" \
	caps +net_admin,+bpf,+perfmon,+net_raw none $HEDGE up --delay-line tick --target 127.0.0.1:9
expect "up on the tick line without CAP_NET_RAW" 1 "packet socket for the tick: Operation not permitted \(the tick delay line needs CAP_NET_RAW\)" \
	caps +net_admin,+bpf,+perfmon mount $HEDGE up --delay-line tick --target 127.0.0.1:9
check "up, status and down with only CAP_NET_ADMIN, CAP_BPF, CAP_PERFMON, CAP_NET_RAW (status, down: the first two)" \
	"see $OUT_CAPS" caps +net_admin,+bpf,+perfmon,+net_raw mount sh -c \
		"exec 2>$OUT_CAPS; $HEDGE up --delay-line tick --target 127.0.0.1:9 >/dev/null &&
		 setpriv --bounding-set=-all,+net_admin,+bpf $HEDGE status | grep -q 'tick delay line' &&
		 setpriv --bounding-set=-all,+net_admin,+bpf $HEDGE down >/dev/null"
expect "unknown device" 1 "unknown device 'nosuch0'" in_ns $HEDGE up --dev nosuch0 --target 127.0.0.1:9
check "status when not up says so" "wrong status" \
	sh -c "ip netns exec $NS $HEDGE status | grep -q 'not up' &&
	       ip netns exec $NS $HEDGE status --json | grep -q '\"up\":false'"
check "down when not up succeeds and says so" "down failed" \
	sh -c "ip netns exec $NS $HEDGE down | grep -q 'not up'"
out=$(in_ns build/hedge-broken up --target 127.0.0.1:9 2>&1); rc=$?
check "a verifier rejection: exit 1, named, with the log's tail" "rc $rc: $out" \
	eval '[ $rc = 1 ] &&
	      printf "%s" "$out" | head -1 | grep -q "^hedge: loading BPF program hedge_splitter: Permission denied; the verifier said:$" &&
	      printf "%s" "$out" | grep -q "invalid access to packet"'


ip netns exec $NS tc qdisc add dev lo ingress
expect "an old ingress qdisc in clsact's place" 1 "device 'lo' has an 'ingress' qdisc where hedge needs clsact.*tc qdisc del dev lo ingress" \
	in_ns $HEDGE up --target 127.0.0.1:9
ip netns exec $NS tc qdisc del dev lo ingress

ip -n $NS link add hedge-dl1 type veth peer name other1
expect "a device named like the delay line" 1 "a device named hedge-dl0 or hedge-dl1 exists and is not hedge's" \
	in_ns $HEDGE up --target 127.0.0.1:9
ip -n $NS link del hedge-dl1

# The lock: a file per network namespace under /run/hedge (root's, 0700),
# held here by flock(1) as another `up` would hold it.
ino=$(ip netns exec $NS stat -L -c %i /proc/self/ns/net)
mkdir -p -m 0700 /run/hedge
flock -o /run/hedge/net-$ino.lock sh -c 'echo held; sleep 5' >/tmp/hedge-lock.$$ &
lock_pid=$!
for _ in $(seq 50); do grep -q held /tmp/hedge-lock.$$ && break; sleep 0.1; done
expect "two at once: the second is refused" 1 "another hedge is running in this network namespace" in_ns $HEDGE up --target 127.0.0.1:9
kill $lock_pid; wait $lock_pid 2>/dev/null; rm -f /tmp/hedge-lock.$$

# --tick-cpu, on any kernel (the tick line named: auto may pick netem).
last=$(( $(nproc) - 1 ))
in_ns $HEDGE up --delay-line tick --target 127.0.0.1:9000 --tick-cpu $last >/dev/null
# The first tick's run records its CPU: polled (3 s at most), not a sleep.
tick_there() { in_ns $HEDGE status >/tmp/hedge-status.$$ 2>&1 &&
	grep -q "ticks on CPU $last," /tmp/hedge-status.$$; }
poll 3 tick_there
check "--tick-cpu $last: the tick runs there" "$(grep ticker /tmp/hedge-status.$$)" \
	grep -q "ticks on CPU $last," /tmp/hedge-status.$$
rm -f /tmp/hedge-status.$$
in_ns $HEDGE down >/dev/null
expect "--tick-cpu of a CPU not online" 1 "--tick-cpu $(nproc): no such CPU online" \
	in_ns $HEDGE up --delay-line tick --target 127.0.0.1:9000 --tick-cpu "$(nproc)"

# Where netem is missing (this project's CI kernel; tests/missing.sh covers
# the same in the VM, with sch_netem unloaded). Elsewhere: a counted SKIP.
if tc -n $NS qdisc add dev lo root netem delay 1ms 2>/tmp/hedge-netem.$$; then
	tc -n $NS qdisc del dev lo root
	skip "no-netem errors and the auto fallback" "this kernel has netem (tests/missing.sh runs them in the VM)"
elif ! grep -q "Specified qdisc kind is unknown" /tmp/hedge-netem.$$; then
	fail "no-netem errors" "tc qdisc add netem failed for another reason: $(cat /tmp/hedge-netem.$$)"
else
	expect "up --delay-line netem on a kernel without netem names sch_netem" 1 \
		"this kernel has no netem qdisc \(sch_netem\).*modprobe sch_netem.*linux-modules-extra" \
		in_ns $HEDGE up --delay-line netem --target 127.0.0.1:9000
	# Another tool's clsact and filter on the device must survive too.
	ip netns exec $NS tc qdisc add dev lo clsact
	ip netns exec $NS tc filter add dev lo ingress pref 7 bpf bytecode '1,6 0 0 0,'
	snapshot $NS >"$before.tool"
	expect "up fails the same beside another tool's filters" 1 "sch_netem" \
		in_ns $HEDGE up --delay-line netem --dev lo --target 127.0.0.1:9000
	same_snapshot "failed up leaves another tool's clsact and filter" $NS "$before.tool"
	ip netns exec $NS tc qdisc del dev lo clsact
	expect "up without netem, run outside ip netns exec (host bpffs)" 1 "sch_netem" \
		nsenter --net=/run/netns/$NS $HEDGE up --delay-line netem --target 127.0.0.1:9000
	up_out=$(in_ns $HEDGE up --target 127.0.0.1:9000 2>&1)
	check "auto picks the tick line where netem is missing" "up said: $up_out" \
		sh -c "ip netns exec $NS $HEDGE status | grep -q 'tick delay line'"
	check "auto: down" "down failed" eval "in_ns $HEDGE down >/dev/null"
fi
rm -f /tmp/hedge-netem.$$
same_snapshot "failed runs leave links, qdiscs, filters, bpffs, sysctls as found" $NS "$before"
rm -f "$before" "$before.tool" "$OUT_CAPS"
finish
