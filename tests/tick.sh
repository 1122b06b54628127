#!/bin/bash
# tests/tick.sh - the tick delay line's timing, on the running kernel:
# hedges never leave before their deadline and leave soon after it, under
# load; a lost tick (link bounce) is restarted by the next request; idle,
# the tick stops, and the first request after restarts it on time. Timing bounds are generous
# (a busy machine must not fail them); BENCHMARKS.md has the figures.
set -u
cd "$(dirname "$0")/.." || exit 1
. tests/lib.sh
# 1 ms: seen 416 us at p99 with other jobs on this two-core host; a tick
# that sleeps past its deadline is late by up to the tick's length (1.5 ms)
# at every hedge, a lost one by the delay (10 ms): both still fail it.
LATE_P99_US=${LATE_P99_US:-1000}
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

# ---- a lost tick (issue 11): a link bounce on the tick line (or any qdisc
# reset) loses the circling tick; the next request must start a new one, so
# requests that stall after the bounce are still hedged, on time.
: >$OUT/server.out
ip netns exec $NS bench/chaos_server --quiet --rate 100 --fast 0 >$OUT/server.out 2>&1 &
server=$!
for _ in $(seq 50); do grep -q ready $OUT/server.out && break; sleep 0.1; done
in_ns $HEDGE up --delay-line tick --target 127.0.0.1:9000 --delay 2ms --budget 100 >/dev/null
in_ns bench/loadgen --rate 1000 --duration 1 --timeout 500 >$OUT/bounce-before.json &
load=$!
sleep 0.5	# the bounce with requests in flight, the tick circling
in_ns ip link set hedge-dl1 down
in_ns ip link set hedge-dl1 up
wait $load
sleep 0.2
in_ns $HEDGE status --json >$OUT/bounce-mid.json
in_ns bench/loadgen --rate 1000 --duration 1 --start-id 100000 --timeout 500 >$OUT/bounce-after.json
sleep 0.2
in_ns $HEDGE status --json >$OUT/bounce-status.json
stop_server
sent=$(( $(field $OUT/bounce-status.json hedges_sent) - $(field $OUT/bounce-mid.json hedges_sent) ))
p99=$(field $OUT/bounce-after.json p99_us)
check "tick: after a link bounce, stalled requests are hedged again ($sent of 1000)" \
	"$(cat $OUT/bounce-after.json)" [ "$sent" -ge 990 ]
check "tick: after a link bounce, P99 within delay + 20 ms (${p99} us)" \
	"$(cat $OUT/bounce-after.json)" [ "${p99%.*}" -le 22000 ]
check "tick: after a link bounce, nothing lost or duplicated" "$(cat $OUT/bounce-after.json)" \
	[ "$(field $OUT/bounce-after.json lost)" = 0 -a "$(field $OUT/bounce-after.json duplicates)" = 0 ]
in_ns $HEDGE down >/dev/null

# ---- idle (issue 12): with nothing in flight the tick stops: 0 wake-ups;
# the machine's busy time with hedge up within 1% of a CPU of it without.
# The first request after the idle spell starts a tick and, stalled, is
# hedged no more than 100 us late (BENCHMARKS.md; 1 ms here: the host is
# shared, 179 us seen; a restart that waited for the next tick or request
# would be late by ms).
FIRST_LATE_US=${FIRST_LATE_US:-1000}
busy_ms() { awk '/^cpu /{print ($2+$3+$4+$7+$8) * 10}' /proc/stat; }	# USER_HZ 100
idle_cost_ms() {	# busy ms over 2 s, the least of 3 tries
	local best=999999 a b
	for _ in 1 2 3; do
		a=$(busy_ms); sleep 2; b=$(busy_ms)
		[ $((b - a)) -lt $best ] && best=$((b - a))
	done
	echo $best
}
ticks() { in_ns $HEDGE status --json | sed -n 's/.*"ticks":\([0-9]*\).*/\1/p'; }
off=$(idle_cost_ms)
: >$OUT/server.out
ip netns exec $NS bench/chaos_server --quiet --rate 100 --fast 0 >$OUT/server.out 2>&1 &
server=$!
for _ in $(seq 50); do grep -q ready $OUT/server.out && break; sleep 0.1; done
ok "tick: up, idle" in_ns $HEDGE up --delay-line tick --target 127.0.0.1:9000 --delay 2ms --budget 100
sleep 0.2	# up's first tick finds nothing and stops
t0=$(ticks)
on=$(idle_cost_ms)
t1=$(ticks)
check "tick: idle, no wake-ups ($((t1 - t0)) ticks in 6 s)" "ticks while idle" \
	[ "$((t1 - t0))" = 0 ]
# The machine's busy time moves by tens of ms per 2 s with anything else
# running; a tick gone round in a loop would cost a whole CPU (2000 ms).
check "tick: idle costs < 5% of a CPU (busy $on ms vs $off ms per 2 s)" \
	"too costly" [ $((on - off)) -lt 100 ]
in_ns bench/loadgen --rate 1 --duration 1 --start-id 200000 --timeout 500 >$OUT/first.json
sleep 0.1
in_ns $HEDGE status --json >$OUT/first-status.json
stop_server
late=$(field $OUT/first-status.json late_max_us)
check "tick: the first request after 6 s idle is hedged ($(field $OUT/first-status.json hedges_sent) hedges, $(field $OUT/first-status.json starts) starts)" \
	"$(cat $OUT/first.json)" [ "$(field $OUT/first-status.json hedges_sent)" = 1 ]
check "tick: ... no more than ${FIRST_LATE_US} us late ($late us), not early" \
	"too late" [ "${late:-999999}" -le "$FIRST_LATE_US" -a "$(field $OUT/first-status.json early)" = 0 ]
in_ns $HEDGE down >/dev/null
finish
