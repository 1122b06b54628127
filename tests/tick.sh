#!/bin/bash
# tests/tick.sh - the tick delay line's timing, on the running kernel:
# hedges never leave before their deadline and leave soon after it, under
# load; an idle ticker costs next to nothing. Timing bounds are generous
# (a busy machine must not fail them); BENCHMARKS.md has the figures.
set -u
cd "$(dirname "$0")/.." || exit 1
. tests/lib.sh
LATE_P99_US=${LATE_P99_US:-200}
OUT=tests/out/tick
mkdir -p $OUT
NS=hedget-tick
netns_add $NS
trap ns_test_cleanup EXIT

# ---- lateness: every request stalls (--rate 100), so every one is hedged;
# 2000 requests/s for 2 s, open loop, many in flight.
: >$OUT/server.out	# no "ready" left from an earlier run
# ip netns exec execs the server: $! is the server, which kill must reach.
ip netns exec $NS bench/chaos_server --quiet --rate 100 --fast 0 >$OUT/server.out 2>&1 &
server=$!
for _ in $(seq 50); do grep -q ready $OUT/server.out && break; sleep 0.1; done
ok "tick: up --delay 2ms" in_ns $HEDGE up --delay-line tick --target 127.0.0.1:9000 --delay 2ms --budget 100
in_ns bench/loadgen --rate 2000 --duration 2 --timeout 500 >$OUT/load.json
sleep 0.5
in_ns $HEDGE status --json >$OUT/status.json
stop_server
sent=$(field $OUT/status.json hedges_sent)
check "tick: 4000 requests at 2000/s, each hedged ($sent hedges)" "$(cat $OUT/load.json)" \
	[ "${sent:-0}" -ge 3900 ]
check "tick: no hedge leaves before its deadline" "$(field $OUT/status.json early) early" \
	[ "$(field $OUT/status.json early)" = 0 ]
p99=$(field $OUT/status.json late_p99_us)
check "tick: hedge lateness p99 <= ${LATE_P99_US} us (${p99} us; max $(field $OUT/status.json late_max_us) us)" \
	"too late" [ "${p99:-999999}" -le "$LATE_P99_US" ]
check "tick: no request lost, no duplicate delivered" "$(cat $OUT/load.json)" \
	[ "$(field $OUT/load.json lost)" = 0 -a "$(field $OUT/load.json duplicates)" = 0 ]
in_ns $HEDGE down >/dev/null

# ---- idle: ~111 wake-ups a second at the default delay, and the machine's
# busy time with the ticker running within 1% of a CPU of it without.
busy_ms() { awk '/^cpu /{print ($2+$3+$4+$7+$8) * 10}' /proc/stat; }	# USER_HZ 100
idle_cost_ms() {	# busy ms over 2 s, the least of 3 tries
	local best=999999 a b
	for _ in 1 2 3; do
		a=$(busy_ms); sleep 2; b=$(busy_ms)
		[ $((b - a)) -lt $best ] && best=$((b - a))
	done
	echo $best
}
off=$(idle_cost_ms)
ok "tick: up, idle" in_ns $HEDGE up --delay-line tick --target 127.0.0.1:9000
t0=$(in_ns $HEDGE status --json | sed -n 's/.*"ticks":\([0-9]*\).*/\1/p')
on=$(idle_cost_ms)
t1=$(in_ns $HEDGE status --json | sed -n 's/.*"ticks":\([0-9]*\).*/\1/p')
in_ns $HEDGE down >/dev/null
rate=$(( (t1 - t0) / 6 ))
check "tick: idle, about 111 wake-ups a second ($rate/s)" "wrong tick rate" \
	[ "$rate" -ge 90 -a "$rate" -le 130 ]
check "tick: idle ticker costs < 1% of a CPU (busy $on ms vs $off ms per 2 s)" \
	"too costly" [ $((on - off)) -lt 20 ]
finish
