#!/bin/bash
# tests/control.sh - the control plane (issue 11, items 5-7): a lock no
# unprivileged process can take and that concurrent `status` share; names
# from the kernel escaped in every output; filter dumps without a cap;
# a running hedge of another map layout. Run as root after `make hedge
# build/hedge-otherlayout`, under /tmp/hedge-test.lock.
set -u
cd "$(dirname "$0")/.." || exit 1
. tests/lib.sh
NS=hedget-ctl
OUT=tests/out/control
mkdir -p $OUT
trap ns_test_cleanup EXIT
netns_add $NS
in_ns ip link add ctl0 type veth peer name ctl1
in_ns ip link set ctl0 up
in_ns ip link set ctl1 up
before=$OUT/before
snapshot $NS >$before

# ---- the lock (item 5)
in_ns $HEDGE up --dev ctl0 --target 10.9.9.9:53 >/dev/null
for i in $(seq 20); do
	( in_ns $HEDGE status --prometheus >$OUT/prom.$i 2>&1; echo $? >$OUT/rc.$i ) &
done
wait
bad=0
for i in $(seq 20); do
	[ "$(cat $OUT/rc.$i)" = 0 ] && grep -q '^hedge_response_time_seconds_count' $OUT/prom.$i &&
		python3 tests/promcheck.py <$OUT/prom.$i >/dev/null || bad=$((bad + 1))
done
check "lock: 20 concurrent status --prometheus all exit 0 with the whole output" \
	"$bad failed: $(grep -h hedge: $OUT/prom.* | sort | uniq -c | head -3)" [ $bad = 0 ]
in_ns $HEDGE down >/dev/null
rm -f $OUT/prom.* $OUT/rc.*

# An unprivileged squatter: the old abstract name, and the lock file.
ip netns exec $NS setpriv --reuid=65534 --regid=65534 --clear-groups /usr/bin/python3 -c '
import fcntl, glob, os, socket, sys, time
s = socket.socket(socket.AF_UNIX); s.bind("\0hedge.lock")
held = []
for p in glob.glob("/run/hedge/*") + ["/run/hedge/net-%d.lock" % os.stat("/proc/self/ns/net").st_ino]:
    try:
        f = open(p, "a+"); fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB); held.append(f)
    except OSError:
        pass
sys.stdout.write("held\n"); sys.stdout.flush(); time.sleep(5)' >$OUT/squat 2>&1 &
squat=$!
for _ in $(seq 50); do grep -q held $OUT/squat && break; sleep 0.1; done
out=$(in_ns $HEDGE up --dev ctl0 --target 10.9.9.9:53 2>&1)
check "lock: an unprivileged process cannot stop root's up" "$out" \
	sh -c "ip netns exec $NS $HEDGE status | grep -q 'up on ctl0'"
kill $squat 2>/dev/null; wait $squat 2>/dev/null
in_ns $HEDGE down >/dev/null
check "lock: /run/hedge is root's, mode 0700" "$(stat -c '%U %a' /run/hedge 2>&1)" \
	[ "$(stat -c '%U %a' /run/hedge 2>/dev/null)" = "root 700" ]

for i in 1 2; do
	( in_ns $HEDGE up --dev ctl0 --target 10.9.9.9:53 >$OUT/up.$i 2>&1; echo $? >>$OUT/up.$i ) &
done
wait
ok=$(cat $OUT/up.1 $OUT/up.2 | grep -c '^0$')
refused=$(cat $OUT/up.1 $OUT/up.2 | grep -Ec 'another hedge is running in this network namespace|already up')
check "lock: two up at once, one refused" "$(cat $OUT/up.1 $OUT/up.2 | tr '\n' ' ')" \
	[ "$ok" = 1 -a "$refused" = 1 ]
in_ns $HEDGE down >/dev/null
same_snapshot "lock: down leaves the namespace as before" $NS $before
rm -f $OUT/up.*

# ---- names from the kernel (item 7)
weird='q"x\y'
in_ns ip link set ctl0 down
in_ns ip link set ctl0 name "$weird"
in_ns ip link set "$weird" up
in_ns $HEDGE up --dev "$weird" --target 10.9.9.9:53 >/dev/null
in_ns $HEDGE status --json >$OUT/weird.json
check "output: status --json with a device named $weird parses and names it" "$(cat $OUT/weird.json)" \
	python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); sys.exit(d["dev"] != sys.argv[2])' \
	$OUT/weird.json "$weird"
in_ns $HEDGE status --prometheus >$OUT/weird.prom
check "output: status --prometheus with a device named $weird parses" \
	"$(python3 tests/promcheck.py <$OUT/weird.prom 2>&1 | head -3)" \
	sh -c "python3 tests/promcheck.py <$OUT/weird.prom >/dev/null && grep -qF 'hedge_info{dev=\"q\\\"x\\\\y\",' $OUT/weird.prom"
in_ns $HEDGE down >/dev/null
in_ns ip link set "$weird" down
esc=$(printf 'e\033[31m')
in_ns ip link set "$weird" name "$esc"
in_ns ip link set "$esc" up
in_ns $HEDGE up --dev "$esc" --target 10.9.9.9:53 >$OUT/esc.up
in_ns $HEDGE status >$OUT/esc.txt
in_ns $HEDGE status --json >$OUT/esc.json
check "output: no control character of a name reaches the terminal" "$(od -c $OUT/esc.txt | head -3)" \
	sh -c "! grep -q \$(printf '\\033') $OUT/esc.txt $OUT/esc.up && grep -q 'up on e' $OUT/esc.txt"
check "output: a control character in JSON is escaped" "$(cat $OUT/esc.json)" \
	python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); sys.exit(d["dev"] != sys.argv[2])' \
	$OUT/esc.json "$esc"
in_ns $HEDGE down >/dev/null
in_ns ip link set "$esc" down
in_ns ip link set "$esc" name ctl0
in_ns ip link set ctl0 up

# ---- 70 other filters (item 7)
in_ns tc qdisc add dev ctl0 clsact
for p in $(seq 1 70); do
	echo "filter add dev ctl0 egress pref $p bpf bytecode '1,6 0 0 0,'"
done >$OUT/batch
in_ns tc -batch $OUT/batch
snapshot $NS >$before.70
out=$(in_ns $HEDGE up --dev ctl0 --target 10.9.9.9:53 2>&1)
check "filters: up beside 70 filters" "$out" sh -c "ip netns exec $NS $HEDGE status | grep -q 'up on ctl0'"
out=$(in_ns $HEDGE down 2>&1)
check "filters: down beside 70 filters" "$out" [ "$out" = "hedge down" ]
same_snapshot "filters: down removes hedge's filters and leaves the 70" $NS $before.70
in_ns tc qdisc del dev ctl0 clsact

# ---- another map layout (item 6)
if [ -x build/hedge-otherlayout ]; then
	out=$(in_ns build/hedge-otherlayout up --dev ctl0 --target 10.9.9.9:53 2>&1)
	check "layout: the other build comes up" "$out" [ $? = 0 ]
	expect "layout: status of another layout says so in one line" 1 \
		"^hedge: the running hedge has another map layout \(version [0-9]+, this build [0-9]+\): status cannot read it; 'hedge down' still removes it$" \
		in_ns $HEDGE status
	expect "layout: status --prometheus too" 1 "another map layout" in_ns $HEDGE status --prometheus
	out=$(in_ns $HEDGE down 2>&1)
	check "layout: down removes the other layout's hedge" "$out" [ "$out" = "hedge down" ]
	same_snapshot "layout: nothing left after down across layouts" $NS $before
	in_ns build/hedge-otherlayout down >/dev/null 2>&1
else
	fail "layout: build/hedge-otherlayout" "not built (make build/hedge-otherlayout)"
fi
same_snapshot "control: the namespace as found" $NS $before
finish
