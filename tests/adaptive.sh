#!/bin/bash
# tests/adaptive.sh - adaptive delay (--delay pNN, tick delay line) on the
# running kernel: the delay follows a server whose response time shifts
# from 2 ms to 20 ms and back, and hedges still never leave early.
set -u
cd "$(dirname "$0")/.." || exit 1
. tests/lib.sh
RATE=${ADAPT_RATE:-5000}	# requests/s (BENCHMARKS.md has 1000 to 10000)
# Generous: on this shared host, spells of softirq delay make a few
# percent of hedges up to ms late, with or without the adaptive delay
# (BENCHMARKS.md has the figures). A queue out of order would make them
# late by the delay's change itself (here up to 18 ms), at p95 too.
# 2 ms: the CI host is shared too (seen: 512 us at p95 with other jobs on
# its two cores); still nine times below the fault it is there to catch.
LATE_P95_US=${LATE_P95_US:-2000}
OUT=tests/out/adaptive
mkdir -p $OUT
NS=hedget-adapt
netns_add $NS
trap ns_test_cleanup EXIT

# The tick on CPU 0, the load elsewhere: a CPU busy with the load defers
# its softirqs to ksoftirqd, and the tick with them (BENCHMARKS.md).
LOAD_CPU=$(( $(nproc) > 1 ? 1 : 0 ))

# A server that answers every request after MS ms.
start_server() {
	: >$OUT/server.out
	# ip netns exec execs the server: $! is the server, which kill must reach.
	ip netns exec $NS taskset -c $LOAD_CPU bench/chaos_server --quiet --rate 0 --fast "$1" >$OUT/server.out 2>&1 &
	server=$!
	ready $OUT/server.out "adaptive: chaos server"
}
delay_us() { nsenter --net=/run/netns/$NS $HEDGE status --json >$OUT/status.json && echo $(( $(field $OUT/status.json delay_ns) / 1000 )); }

# phase SERVER_MS NAME LOW_US HIGH_US: 3 s of RATE requests/s against a
# server answering in SERVER_MS; the delay gets into LOW..HIGH within 2 s
# and is there at the end. Sampled every 250 ms (each sample is a process
# start, which disturbs the timing it measures): how long it took.
phase() {
	local d load took="" i
	start_server "$1"
	in_ns taskset -c $LOAD_CPU bench/loadgen --rate $RATE --duration 3 --timeout 500 >$OUT/load-$2.json &
	load=$!
	for i in $(seq 12); do
		sleep 0.25
		d=$(delay_us)
		[ -z "$took" ] && [ "${d:-0}" -ge "$3" -a "${d:-0}" -le "$4" ] && took=$((i * 250))
	done
	wait $load
	d=$(delay_us)
	stop_server
	check "adaptive: $2: the delay follows the server ($1 ms) within 2 s (${took:-never} ms)" \
		"" sh -c '[ -n "$1" ] && [ "$1" -le 2000 ]' took "$took"
	check "adaptive: $2: and stays there: ${d} us in $3..$4" \
		"$(cat $OUT/load-$2.json)" [ "${d:-0}" -ge "$3" -a "${d:-0}" -le "$4" ]
	check "adaptive: $2: no request lost, no duplicate delivered" "$(cat $OUT/load-$2.json)" \
		[ "$(field $OUT/load-$2.json lost)" = 0 -a "$(field $OUT/load-$2.json duplicates)" = 0 ]
}

expect "adaptive: --delay p100 is refused" 2 "percentile p50..p99.9" \
	in_ns $HEDGE up --target 127.0.0.1:9000 --delay p100
expect "adaptive: --delay p95 with netem is refused" 2 "needs the tick delay line" \
	in_ns $HEDGE up --target 127.0.0.1:9000 --delay p95 --delay-line netem
expect "adaptive: --delay-min above --delay-max is refused" 2 "above --delay-max" \
	in_ns $HEDGE up --target 127.0.0.1:9000 --delay p95 --delay-min 2s --delay-max 1s
expect "adaptive: --delay-max with a fixed delay is refused" 2 "for an adaptive delay" \
	in_ns $HEDGE up --target 127.0.0.1:9000 --delay 5ms --delay-max 1s

in_ns $HEDGE up --target 127.0.0.1:9000 --delay p80 --delay-min 1ms --delay-max 200ms --budget 100 \
	--tick-cpu 0 >$OUT/up.out
check "adaptive: up says the percentile and its bounds" "$(cat $OUT/up.out)" \
	grep -q "delay p80 in 1ms..200ms (tick delay line, " $OUT/up.out
d=$(delay_us)
check "adaptive: before any response the delay is --delay-max ($d us)" "" [ "$d" = 200000 ]

# 2 ms and 20 ms fall in buckets [1.97, 2.21) and [19.7, 21.0) ms.
phase 2 fast 1800 2600
phase 20 slow 18000 24000
phase 2 fast-again 1800 2600

in_ns $HEDGE status --json >$OUT/status.json
in_ns $HEDGE status >$OUT/status.txt
check "adaptive: status shows the delay now" "$(cat $OUT/status.txt)" \
	grep -q "target 127.0.0.1:9000: delay now [0-9]* us" $OUT/status.txt
sent=$(field $OUT/status.json hedges_sent)
check "adaptive: the shift was hedged ($sent hedges)" "" [ "${sent:-0}" -ge 100 ]
check "adaptive: no hedge left before its deadline while the delay moved" \
	"$(field $OUT/status.json early) early" [ "$(field $OUT/status.json early)" = 0 ]
p99=$(field $OUT/status.json late_p99_us)
# p95 from the 16 us buckets: the top of the bucket it falls in.
p95=$(sed -n 's/.*"late_16us_buckets":\[\([0-9,]*\)\].*/\1/p' $OUT/status.json | tr , '\n' |
	awk '{ n[NR] = $1; t += $1 } END { for (i = 1; i <= NR; i++) { s += n[i]; if (s >= 0.95 * t) { print i * 16; exit } } print 999999 }')
echo "INFO adaptive: $RATE requests/s, p80: $sent hedges, lateness p50 $(field $OUT/status.json late_p50_us) p99 $p99 max $(field $OUT/status.json late_max_us) us, $(field $OUT/status.json early) early"
check "adaptive: hedge lateness p95 <= $LATE_P95_US us while the delay moved ($p95 us; p99 $p99 us)" \
	"too late" [ "${p95:-999999}" -le "$LATE_P95_US" ]
check "adaptive: down" "" eval "in_ns $HEDGE down >/dev/null"
finish
