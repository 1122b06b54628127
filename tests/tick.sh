#!/bin/bash
# tests/tick.sh - the tick delay line's timing, on the running kernel:
# hedges never leave before their deadline and leave soon after it, under
# load; at a steady rate the tick sleeps as long as the delay allows; a
# lost tick (link bounce) is restarted by the next request; idle,
# the tick stops and hedge's programs cost nothing (the kernel's own
# accounting, not the machine's), and the first request after restarts it
# on time. Timing bounds are generous
# (a busy machine must not fail them); BENCHMARKS.md has the figures.
set -u
cd "$(dirname "$0")/.." || exit 1
. tests/lib.sh
# 1 ms: seen 416 us at p99 with other jobs on this two-core host; a tick
# that sleeps past its deadline is late by up to the tick's length (up to
# the delay, 2 ms here) at every hedge, a lost one by the delay: both
# still fail it.
LATE_P99_US=${LATE_P99_US:-1000}
OUT=tests/out/tick
mkdir -p $OUT
NS=hedget-tick
netns_add $NS
trap ns_test_cleanup EXIT

# ---- lateness: every request stalls (--rate 100), so every one is hedged;
# 2000 requests/s for 2 s, open loop, many in flight. A fault in the tick
# makes most hedges late; a stall of this shared host made 1% of them late
# once (a CI-like run: 46 of 4000 hedges past 0.5 ms, at most 6 ms; 12
# runs of two builds after it: 0-12), and once two runs in a row (ci19:
# 64 of 4000 past 0.5 ms, p99 10 ms then 7 ms; the tick went idle and
# started 6 times in a run at 2000/s, so the load itself had gaps; alone
# 80-112 us, 3 runs). So a p99 past the bound is measured again, up to 3
# runs, each said (INFO), and the last run decides: a faulty tick is late
# in every run.
lateness_run() {
	: >$OUT/server.out	# no "ready" left from an earlier run
	# ip netns exec execs the server: $! is the server, which kill must reach.
	ip netns exec $NS bench/chaos_server --quiet --rate 100 --fast 0 >$OUT/server.out 2>&1 &
	server=$!
	ready $OUT/server.out "tick: chaos server"
	ok "tick: up --delay 2ms" in_ns $HEDGE up --delay-line tick --target 127.0.0.1:9000 --delay 2ms --budget 100
	in_ns bench/loadgen --rate 2000 --duration 2 --timeout 500 >$OUT/load.json
	sleep 0.5
	in_ns $HEDGE status --json >$OUT/status.json
	stop_server
	in_ns $HEDGE down >/dev/null
}
# What is wrong in any run, not only in a slow one: requests not hedged,
# early hedges, requests lost or answered twice (the first run's, when
# there are two).
wrong=""
for run in 1 2 3; do
	lateness_run
	p99=$(field $OUT/status.json late_p99_us)
	[ "${p99:-999999}" -gt "$LATE_P99_US" -a $run -lt 3 ] || break
	echo "INFO tick: run $run: hedge lateness p99 ${p99:-none} us (max $(field $OUT/status.json late_max_us) us, the tick started $(field $OUT/status.json starts) times) past ${LATE_P99_US} us: measured again"
	sent=$(field $OUT/status.json hedges_sent)
	[ "${sent:-0}" -ge 3900 ] &&
		[ "$(field $OUT/status.json early)$(field $OUT/load.json lost)$(field $OUT/load.json duplicates)" = 000 ] ||
		wrong="$wrong run $run: ${sent:-no} hedges, $(field $OUT/status.json early) early, $(field $OUT/load.json lost) lost, $(field $OUT/load.json duplicates) duplicates;"
done
sent=$(field $OUT/status.json hedges_sent)
check "tick: 4000 requests at 2000/s, each hedged ($sent hedges)" "$(cat $OUT/load.json); $wrong" \
	[ "${sent:-0}" -ge 3900 -a -z "$wrong" ]
check "tick: no hedge leaves before its deadline" "$(field $OUT/status.json early) early; $wrong" \
	[ "$(field $OUT/status.json early)" = 0 -a -z "$wrong" ]
check "tick: hedge lateness p99 <= ${LATE_P99_US} us (${p99} us; max $(field $OUT/status.json late_max_us) us)" \
	"too late" [ "${p99:-999999}" -le "$LATE_P99_US" ]
check "tick: no request lost, no duplicate delivered" "$(cat $OUT/load.json); $wrong" \
	[ "$(field $OUT/load.json lost)" = 0 -a "$(field $OUT/load.json duplicates)" = 0 -a -z "$wrong" ]

# ---- wake-ups at a steady rate (issue 12): every request answered at once,
# 500/s for 2 s, --delay 10ms. TBF's size table lets a tick a frame long
# sleep up to the delay, so the tick wakes about once per delay (~100/s);
# ticks that slept a byte per us (no size table: at most 1.5 ms) would
# wake ~700 times a second. 300/s is the bound.
: >$OUT/server.out
ip netns exec $NS bench/chaos_server --quiet --rate 0 --fast 0 >$OUT/server.out 2>&1 &
server=$!
ready $OUT/server.out "tick: chaos server"
ok "tick: up --delay 10ms" in_ns $HEDGE up --delay-line tick --target 127.0.0.1:9000 --delay 10ms
in_ns $HEDGE status --json >$OUT/steady0.json
in_ns bench/loadgen --rate 500 --duration 2 --timeout 500 --start-id 300000 >$OUT/steady.json
in_ns $HEDGE status --json >$OUT/steady1.json
stop_server
w0=$(field $OUT/steady0.json ticks) w1=$(field $OUT/steady1.json ticks)
run_s=$(field $OUT/steady.json run_s)
rate=$(awk -v a="${w0:-x}" -v b="${w1:-x}" -v s="${run_s:-0}" 'BEGIN {
	if (a !~ /^[0-9]+$/ || b !~ /^[0-9]+$/ || s + 0 <= 0) print "missing"
	else printf "%d", (b - a) / s }')
check "tick: 500 requests/s answered at once: the tick wakes <= 300 times a second ($rate/s over ${run_s:-?} s)" \
	"ticks $w0 -> $w1" sh -c "[ '$rate' != missing ] && [ '$rate' -le 300 ]"
check "tick: ... nothing lost, no hedge ($(field $OUT/steady1.json hedges_sent) hedges)" \
	"$(cat $OUT/steady.json)" [ "$(field $OUT/steady.json lost)" = 0 -a "$(field $OUT/steady1.json hedges_sent)" = 0 ]
# ~5 requests parked at a time: they keep to the ring's first 64 slots (its
# span), which status shows; a pass over all 65 536 would write every slot
# cold.
span=$(sed -n 's/.*"parking_span":\[\([0-9]*\),[0-9]*\],"parking_slots":\[\([0-9]*\),.*/\1 of \2/p' $OUT/steady1.json)
check "tick: ... parked in the first 64 slots of 65536 (status: ${span:-none})" \
	"$(cat $OUT/steady1.json)" [ "$span" = "64 of 65536" ]
in_ns $HEDGE down >/dev/null

# ---- a lost tick (issue 11): a link bounce on the tick line (or any qdisc
# reset) loses the circling tick; the next request must start a new one, so
# requests that stall after the bounce are still hedged, on time.
: >$OUT/server.out
ip netns exec $NS bench/chaos_server --quiet --rate 100 --fast 0 >$OUT/server.out 2>&1 &
server=$!
ready $OUT/server.out "tick: chaos server"
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

# ---- idle (issue 12): with nothing in flight the tick stops: no wake-ups,
# by hedge's own count (ticks) and by the kernel's (the ticker program's
# runs), and hedge's programs cost nothing: their run time by the kernel's
# accounting (BPF_ENABLE_STATS), not the machine's busy time, which
# anything else running moves. The first request after the idle spell
# starts a tick and, stalled, is hedged no more than 100 us late
# (BENCHMARKS.md; 1 ms here: the host is shared, 179 us seen; a restart
# that waited for the next tick or request would be late by ms).
FIRST_LATE_US=${FIRST_LATE_US:-1000}
IDLE_S=6
# The kernel counts programs' runs and run time only while some process
# holds a BPF_ENABLE_STATS fd (refcounted: other users are left alone,
# unlike the kernel.bpf_stats_enabled sysctl). A helper holds one, for a
# minute at most; killed once measured.
stats=""
stats_on() {
	: >$OUT/stats.out
	python3 -c 'import ctypes, os, sys, time
libc = ctypes.CDLL(None, use_errno=True)
attr = ctypes.create_string_buffer(4)	# enable_stats.type = BPF_STATS_RUN_TIME
fd = libc.syscall(321, 32, attr, 4)	# SYS_bpf, BPF_ENABLE_STATS (x86_64)
if fd < 0:
	sys.exit("BPF_ENABLE_STATS: " + os.strerror(ctypes.get_errno()))
print("on", flush=True)
time.sleep(60)' >$OUT/stats.out 2>&1 &
	stats=$!
	poll 5 grep -q '^on$' $OUT/stats.out
}
stats_off() { [ -n "$stats" ] && kill $stats 2>/dev/null && wait $stats 2>/dev/null; stats=""; }
trap 'stats_off; ns_test_cleanup' EXIT
# From status --json in FILE: the ticker's wake-ups (ticks); the ticker
# program's runs; all programs' run time (ns), by the kernel. "missing"
# when status has no figure (a cost it could not read), which no check
# takes for a number.
ticks_of() { local v; v=$(field "$1" ticks); echo "${v:-missing}"; }
ticker_runs() {
	local v
	v=$(sed -n 's/.*"ticker":{"run_cnt":\([0-9]*\),.*/\1/p' "$1")
	echo "${v:-missing}"
}
run_ns() {
	sed -n 's/.*"programs":{\(.*\)}}$/\1/p' "$1" | awk -F'"run_time_ns":' '
		{ for (i = 2; i <= NF; i++) { s += $i; n++ } }
		END { if (n == 4) print s; else print "missing" }'
}
: >$OUT/server.out
ip netns exec $NS bench/chaos_server --quiet --rate 100 --fast 0 >$OUT/server.out 2>&1 &
server=$!
ready $OUT/server.out "tick: chaos server"
ok "tick: up, idle" in_ns $HEDGE up --delay-line tick --target 127.0.0.1:9000 --delay 2ms --budget 100
stats_on; rc=$?
check "tick: the kernel counts hedge's programs' runs (BPF_ENABLE_STATS)" \
	"$(cat $OUT/stats.out)" [ $rc = 0 ]
# up's first tick finds nothing and stops: the idle spell starts there.
tick_idle() { in_ns $HEDGE status --json >$OUT/idle0.json && grep -q '"state":"idle"' $OUT/idle0.json; }
poll 5 tick_idle
sleep $IDLE_S
in_ns $HEDGE status --json >$OUT/idle1.json
t0=$(ticks_of $OUT/idle0.json) t1=$(ticks_of $OUT/idle1.json)
r0=$(ticker_runs $OUT/idle0.json) r1=$(ticker_runs $OUT/idle1.json)
n0=$(run_ns $OUT/idle0.json) n1=$(run_ns $OUT/idle1.json)
idle_ok() { [ "$t0" != missing ] && [ "$t1" = "$t0" ] && [ "$r0" != missing ] && [ "$r1" = "$r0" ]; }
check "tick: idle, no wake-ups in $IDLE_S s (ticks $t0 -> $t1, ticker runs $r0 -> $r1)" \
	"ticks while idle: $(head -c 600 $OUT/idle1.json)" idle_ok
# Idle, nothing runs: 0 ns. A tick gone round in a loop would cost a
# whole CPU ($IDLE_S s); 1% of one is the bound.
cost_ok() { [ "$n0" != missing ] && [ "$n1" != missing ] && [ $((n1 - n0)) -lt $((IDLE_S * 10000000)) ]; }
check "tick: idle, hedge's programs ran < 1% of a CPU ($n0 -> $n1 ns in $IDLE_S s)" \
	"too costly: $(sed -n 's/.*\("programs":.*\)/\1/p' $OUT/idle1.json)" cost_ok
in_ns bench/loadgen --rate 1 --duration 1 --start-id 200000 --timeout 500 >$OUT/first.json
sleep 0.1
in_ns $HEDGE status --json >$OUT/first-status.json
stats_off
stop_server
late=$(field $OUT/first-status.json late_max_us)
r2=$(ticker_runs $OUT/first-status.json)
# The control for the two idle checks: the same accounting does count the
# ticker's runs once a request is parked.
check "tick: ... and counts the ticker's runs once a request comes (ticker runs $r1 -> $r2)" \
	"$(head -c 600 $OUT/first-status.json)" \
	sh -c "[ '$r1' != missing ] && [ '$r2' != missing ] && [ '$r2' -gt '$r1' ]"
check "tick: the first request after $IDLE_S s idle is hedged ($(field $OUT/first-status.json hedges_sent) hedges, $(field $OUT/first-status.json starts) starts)" \
	"$(cat $OUT/first.json)" [ "$(field $OUT/first-status.json hedges_sent)" = 1 ]
check "tick: ... no more than ${FIRST_LATE_US} us late ($late us), not early" \
	"too late" [ "${late:-999999}" -le "$FIRST_LATE_US" -a "$(field $OUT/first-status.json early)" = 0 ]
in_ns $HEDGE down >/dev/null
finish
