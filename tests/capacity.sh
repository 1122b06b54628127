#!/bin/bash
# tests/capacity.sh - the tick line never runs out of room silently:
# with every request stalled, 20,000 requests/s for 2 s with --delay 300ms
# (6,000 in flight, more than the old 4,096-slot ring) are all hedged with
# the default --max-inflight; with --max-inflight 1024 the overflow is
# counted (ring_full), not silent. Answered requests, more over time
# than the Scoreboard holds, evict none still pending. Then a neighbour:
# an unprivileged process floods the target with junk IDs for 2 s; hedging works again
# within the window after it stops, and the counters show what it cost.
set -u
cd "$(dirname "$0")/.." || exit 1
. tests/lib.sh
OUT=tests/out/capacity
mkdir -p $OUT
NS=hedget-cap
netns_add $NS
trap ns_test_cleanup EXIT

start_server() {	# start_server CHAOS_ARGS...
	: >$OUT/server.out
	ip netns exec $NS bench/chaos_server --quiet "$@" >$OUT/server.out 2>&1 &
	server=$!
	ready $OUT/server.out "capacity: chaos server"
}
# A counter of the status JSON's (one target here); "missing" if absent,
# which no check takes for a number.
count() { local v; v=$(field $OUT/status.json "$1"); echo "${v:-missing}"; }
# The sum of counters, or "missing".
sum() {
	local c v t=0
	for c in "$@"; do
		v=$(count "$c")
		[ "$v" = missing ] && { echo missing; return; }
		t=$((t + v))
	done
	echo $t
}

expect "capacity: --max-inflight below 1024 is refused" 2 "max-inflight 1000" \
	in_ns $HEDGE up --target 127.0.0.1:9000 --max-inflight 1000
expect "capacity: --max-inflight above 1048576 is refused" 2 "max-inflight 2000000" \
	in_ns $HEDGE up --target 127.0.0.1:9000 --max-inflight 2000000
in_ns $HEDGE up --delay-line tick --target 127.0.0.1:9000 --max-inflight 5000 >$OUT/up5000.txt
in_ns $HEDGE down >/dev/null
check "capacity: --max-inflight 5000 is rounded up to a power of 2 ($(grep -o 'maps: .*' $OUT/up5000.txt))" \
	"$(cat $OUT/up5000.txt)" grep -q "for 8192 requests in flight" $OUT/up5000.txt

# ---- everything stalled: every request is hedged, nothing silent --------
start_server --rate 100 --stall 2000 --fast 0
in_ns $HEDGE up --delay-line tick --target 127.0.0.1:9000 --delay 300ms \
	--budget 100 >$OUT/up.txt
in_ns bench/loadgen --rate 20000 --duration 2 --timeout 400 --linger 0 >$OUT/load.json
sleep 0.5
in_ns $HEDGE status --json >$OUT/status.json
rc=$?
in_ns $HEDGE down >/dev/null
check "capacity: nothing short of room, status exits 0 (healthy)" "exit $rc" [ $rc = 0 ]
req=$(count requests); sent=$(count hedges_sent)
lost=$(sum ring_full queue_full evicted clone_failed too_big)
check "capacity: 20000/s, --delay 300ms: >= 99% of $req requests hedged ($sent)" \
	"$(cat $OUT/status.json)" [ "$(sum requests)" -ge 30000 -a "$(sum hedges_sent)00" -ge $(($(sum requests) * 99)) ]
check "capacity: no request short of room (ring_full, queue_full, evicted, clone_failed, too_big: $lost)" \
	"$(cat $OUT/status.json)" [ "$lost" = 0 ]
check "capacity: up states the maps' memory ($(grep -o 'maps: .*' $OUT/up.txt))" \
	"$(cat $OUT/up.txt)" grep -q "maps: [0-9.]* MiB for 65536 requests in flight" $OUT/up.txt

in_ns $HEDGE up --delay-line tick --target 127.0.0.1:9000 --delay 300ms \
	--budget 100 --max-inflight 1024 >$OUT/up1024.txt
in_ns bench/loadgen --rate 20000 --duration 2 --timeout 400 --linger 0 >$OUT/load1024.json
sleep 0.5
in_ns $HEDGE status --json >$OUT/status.json
rc=$?
in_ns $HEDGE down >/dev/null
stop_server
check "capacity: the overflow makes status degraded (exit 3, a capacity problem)" \
	"exit $rc: $(grep -o '"problems":[^]]*]' $OUT/status.json)" \
	sh -c "[ $rc = 3 ] && grep -q '\"kind\":\"capacity\",\"detail\":\"[0-9]* requests not hedged for lack of room' $OUT/status.json"
req=$(count requests); sent=$(count hedges_sent); full=$(count ring_full)
check "capacity: --max-inflight 1024 overflows counted (ring_full $full, hedges $sent of $req)" \
	"$(cat $OUT/status.json)" [ "$full" -gt 0 -a "$(sum hedges_sent ring_full)00" -ge $((req * 99)) ]

# ---- answered requests fill the Scoreboard over time ------------------
# 30,000/s for 4 s, answered at once but 1% that stall 50 ms: more requests
# than the Scoreboard's 65,536 entries over the run, ~300 within --delay
# at once. Answered entries kept would fill it, and new (stalled) requests
# would find no room (bpf/forget.h): none may.
start_server --rate 1 --stall 50 --fast 0
in_ns $HEDGE up --delay-line tick --target 127.0.0.1:9000 --delay 10ms \
	--budget 100 --max-inflight 1024 >/dev/null
in_ns bench/loadgen --rate 30000 --duration 4 --timeout 200 --linger 0 >$OUT/fill.json
sleep 0.3
in_ns $HEDGE status --json >$OUT/status.json
in_ns $HEDGE down >/dev/null
stop_server
req=$(count requests); sent=$(count hedges_sent); ev=$(count evicted)
fill_ok() {
	[ "$req" != missing ] && [ "$sent" != missing ] && [ "$ev" = 0 ] &&
		[ "$req" -gt 70000 ] && [ $((sent * 111)) -ge "$req" ]
}
check "capacity: $req answered requests over time (> 65536) evict no pending one (evicted $ev), the stalled 1% hedged ($sent hedges)" \
	"$(cat $OUT/status.json)" fill_ok

# ---- a neighbour floods the target with junk IDs ----------------------
# The server stalls 5% of IDs for 300 ms; hedging answers them in ~20 ms.
start_server --rate 5 --stall 300 --fast 0
in_ns $HEDGE up --delay-line tick --target 127.0.0.1:9000 --delay 20ms \
	--window 1s >/dev/null
# The flood: nobody, IDs from 10,000,000 on, as fast as it goes for 2 s.
ip netns exec $NS setpriv --reuid=65534 --regid=65534 --clear-groups \
	bench/loadgen --rate 200000 --duration 2 --start-id 10000000 \
	--timeout 100 --linger 0 >$OUT/flood.json &
flood=$!
wait $flood
in_ns $HEDGE status --json >$OUT/flood-status.json
sleep 1	# the window: the flood's entries are void from here on
in_ns bench/loadgen --rate 500 --duration 2 --timeout 1000 >$OUT/after.json
in_ns $HEDGE status --json >$OUT/status.json
in_ns $HEDGE down >/dev/null
stop_server
fsent=$(field $OUT/flood.json sent)
cost="flood of $fsent: evicted $(field $OUT/flood-status.json evicted), ring_full $(field $OUT/flood-status.json ring_full), refused $(field $OUT/flood-status.json hedges_refused)"
p99=$(field $OUT/after.json p99_us)
check "neighbour: after a junk-ID flood ($cost), hedging works within the window (lost $(field $OUT/after.json lost), p99 ${p99} us < 150 ms)" \
	"$(cat $OUT/after.json)" [ "$(field $OUT/after.json lost)" = 0 -a "${p99%.*}" -lt 150000 ]
fcost=$(( $(field $OUT/flood-status.json evicted) + $(field $OUT/flood-status.json ring_full) + $(field $OUT/flood-status.json hedges_refused) ))
check "neighbour: what the flood cost others is counted, not silent ($fcost)" \
	"$(cat $OUT/flood-status.json)" [ "$fcost" -gt 0 ]
check "neighbour: the flood ran unprivileged and did reach the target ($fsent sent)" \
	"$(cat $OUT/flood.json)" [ "${fsent:-0}" -gt 50000 ]
finish
