#!/bin/bash
# tests/metrics.sh - the hedging budget and the metrics, on the running
# kernel (tick delay line): a server slow for every request gets no more
# hedges than the budget and its floor allow, the refused ones are
# counted, and `status --prometheus` / `--json` say so in formats that parse.
set -u
cd "$(dirname "$0")/.." || exit 1
. tests/lib.sh
OUT=tests/out/metrics
mkdir -p $OUT
NS=hedget-metrics
netns_add $NS
trap ns_test_cleanup EXIT

expect "budget: --budget 101 is refused" 2 "--budget 101: expected a percentage 0..100" \
	in_ns $HEDGE up --target 127.0.0.1:9000 --budget 101
expect "budget: a bad --budget-min-rate is refused" 2 "--budget-min-rate x" \
	in_ns $HEDGE up --target 127.0.0.1:9000 --budget-min-rate x
expect "status: an unknown format is refused" 2 "status: unknown option '--xml'" \
	$HEDGE status --xml

# Every request stalls 400 ms (--rate 100) unless it is a hedge: without a
# budget, every one would be hedged. 500 requests/s for 3 s.
RATE=500 SECONDS_=3 PCT=10 FLOOR=20
: >$OUT/server.out
# ip netns exec execs the server: $! is the server (for SIGUSR1).
ip netns exec $NS bench/chaos_server --quiet --rate 100 --fast 1 >$OUT/server.out 2>&1 &
server=$!
ready $OUT/server.out "metrics: chaos server"
ok "budget: up --budget $PCT --budget-min-rate $FLOOR" \
	in_ns $HEDGE up --target 127.0.0.1:9000 --delay 5ms --budget $PCT --budget-min-rate $FLOOR
# Midway, loadgen stopped 60 ms: it then sends the ~30 it owes at once,
# due (and refused) in one brake epoch, as after a stall of the client's
# own. A clump, not a rate: the brake must not take it for overload.
ip netns exec $NS bench/loadgen --rate $RATE --duration $SECONDS_ --timeout 800 >$OUT/load.json &
loader=$!
sleep 1.5
kill -STOP $loader; sleep 0.06; kill -CONT $loader
wait $loader
sleep 0.5
in_ns $HEDGE status --json >$OUT/status.json
in_ns $HEDGE status --prometheus >$OUT/status.prom
in_ns $HEDGE status >$OUT/status.txt
server_counts $server $OUT/server.out
stop_server

requests=$(field $OUT/status.json requests)
sent=$(field $OUT/status.json hedges_sent)
refused=$(field $OUT/status.json hedges_refused)
# What the server saw: hedges are the IDs it got twice.
seen=$(sed -n 's/.*duplicates=\([0-9]*\).*/\1/p' $OUT/server.out | tail -1)
# The budget: PCT% of the requests, FLOOR a second over the run (up to
# ~4 s with the last answers), and the 20 hedges (1 s of floor) saved at the start.
allowed=$(( requests * PCT / 100 + FLOOR * 4 + FLOOR ))
# What loadgen sent (the last one is not sent if it wakes past the end).
issued=$(field $OUT/load.json sent)
braked=$(field $OUT/status.json requests_braked)
check "budget: every request counted ($requests of $issued sent, $((RATE * SECONDS_)) planned)" "" \
	[ "${requests:-0}" = "${issued:--1}" -a "${issued:-0}" -ge $((RATE * SECONDS_ - 5)) ]
# bpf/brake.h: under ~800 refusals a second a target is never braked.
check "budget: a target slow at ${RATE}/s is not braked ($braked)" \
	"$(grep -i brake $OUT/status.txt)" [ "${braked:--1}" = 0 ]
check "budget: hedges within budget + floor ($sent <= $allowed of $requests requests)" \
	"$(cat $OUT/status.txt)" [ "${sent:-999999}" -le "$allowed" ]
check "budget: the budget was used ($sent hedges >= $((requests * PCT / 100)))" "" \
	[ "${sent:-0}" -ge $((requests * PCT / 100)) ]
check "budget: the server saw as many hedges as were sent ($seen)" "" [ "${seen:--1}" = "$sent" ]
check "budget: refused hedges counted ($refused)" "" \
	[ "$((sent + refused))" -ge $((requests * 95 / 100)) -a "${refused:-0}" -gt 0 ]
check "budget: no request lost, none answered twice" "$(cat $OUT/load.json)" \
	[ "$(field $OUT/load.json lost)" = 0 -a "$(field $OUT/load.json duplicates)" = 0 ]

check "metrics: status --prometheus parses strictly" "$(python3 tests/promcheck.py <$OUT/status.prom 2>&1 | head -5)" \
	sh -c "python3 tests/promcheck.py <$OUT/status.prom >/dev/null"
prom() { sed -n "s/^$1{target=\"127.0.0.1:9000\"${2:-}} \([0-9.e+]*\)$/\1/p" $OUT/status.prom; }
check "metrics: prometheus counters agree with status --json" \
	"$(prom hedge_hedges_refused_total) $(prom hedge_requests_total)" \
	[ "$(prom hedge_hedges_refused_total)" = "$refused" -a "$(prom hedge_requests_total)" = "$requests" ]
check "metrics: response-time histogram counts every response" \
	"count $(prom hedge_response_time_seconds_count) vs $(field $OUT/status.json responses)" \
	[ "$(prom hedge_response_time_seconds_count)" = "$(field $OUT/status.json responses)" ]
# Hedged requests answer in ~delay + 1 ms; refused ones after the 400 ms stall.
fast=$(prom hedge_response_time_seconds_bucket ',le="0.008388608"')
slow=$(( $(prom hedge_response_time_seconds_count) - $(prom hedge_response_time_seconds_bucket ',le="0.268435456"') ))
check "metrics: histogram: hedged answers under 8.4 ms ($fast), refused ones over 268 ms ($slow)" "" \
	[ "${fast:-0}" -ge $((sent * 9 / 10)) -a "${slow:-0}" -ge $((refused * 9 / 10)) ]
check "metrics: status --json parses" "" python3 -c "import json,sys; json.load(open('$OUT/status.json'))"
check "metrics: status shows response times" "$(cat $OUT/status.txt)" \
	grep -q "response time: p50 <= [0-9]* us, p99 <= [0-9]* us" $OUT/status.txt
ssets=$(field $OUT/status.json sets)
check "metrics: the Scoreboard's sets in use ($ssets, 128 at least), the same in each format" \
	"$(grep scoreboard $OUT/status.txt; grep scoreboard_sets $OUT/status.prom)" \
	sh -c "[ ${ssets:-0} -ge 128 ] && grep -q '^scoreboard: $ssets of [0-9]* sets in use' $OUT/status.txt &&
		grep -qx 'hedge_scoreboard_sets $ssets' $OUT/status.prom"
in_ns $HEDGE down >/dev/null
in_ns $HEDGE status --prometheus >$OUT/down.prom
check "metrics: down: prometheus says hedge_up 0" "$(cat $OUT/down.prom)" \
	sh -c "grep -qx 'hedge_up 0' $OUT/down.prom && python3 tests/promcheck.py <$OUT/down.prom >/dev/null"
finish
