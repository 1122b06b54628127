#!/bin/bash
# tests/health.sh - `hedge status` says when hedging is degraded (issue 11,
# item 1): exit 3 and each problem in words, in JSON and in Prometheus,
# for each way found to stop hedging silently: another tool's accepting
# filter ahead of hedge's on clsact, an accepting TCX program ahead (6.6+),
# the delay line's link down, its qdisc deleted or replaced by another
# TBF, the tick lost. A healthy
# hedge exits 0. On lo, in a namespace of its own; HEALTH_LINE=tick
# (default) or netem (in the VM: no TCX there, clsact alone). Run as root
# after `make hedge build/tcx_test`, under /tmp/hedge-test.lock.
set -u
cd "$(dirname "$0")/.." || exit 1
. tests/lib.sh
NS=hedget-health
LINE=${HEALTH_LINE:-tick}
OUT=tests/out/health
T=build/tcx_test
mkdir -p $OUT
netns_add $NS
# The last look status keeps per namespace (health.c) goes with it.
LOOK=/run/hedge/net-$(ip netns exec $NS stat -L -c %i /proc/self/ns/net).look
trap 'ns_test_cleanup; rm -f $LOOK' EXIT

# look NAME: status in all three formats into $OUT/NAME.{txt,json,prom},
# and each one's exit status into rc_txt, rc_json, rc_prom.
look() {
	in_ns $HEDGE status >$OUT/$1.txt 2>&1; rc_txt=$?
	in_ns $HEDGE status --json >$OUT/$1.json 2>$OUT/$1.json.err; rc_json=$?
	in_ns $HEDGE status --prometheus >$OUT/$1.prom 2>$OUT/$1.prom.err; rc_prom=$?
}
# degraded NAME PATTERN: the last look exited 3 in every format, and the
# text says PATTERN (grep -E) on a "degraded: " line.
degraded() {
	check "$1: status exits 3 (text, json, prometheus)" \
		"exit $rc_txt, $rc_json, $rc_prom: $(cat $OUT/$2.txt)" \
		[ "$rc_txt/$rc_json/$rc_prom" = 3/3/3 ]
	check "$1: status says why" "$(grep -v '^ \|^target\|^programs' $OUT/$2.txt)" \
		grep -Eq "^degraded: $3" $OUT/$2.txt
}
# formats NAME HEALTHY(1|0) [KIND]: JSON parses and says healthy true or
# false (with a problem of KIND), Prometheus parses strictly and says
# hedge_healthy HEALTHY, every kind present.
formats() {
	local name=$1 want=$2 kind=${3:-} py
	py="import json,sys; d=json.load(open('$OUT/$name.json')); \
assert d['healthy'] == ($want == 1), d['healthy']; \
assert ($want == 1) == (d['problems'] == []), d['problems']; \
assert '$kind' == '' or any(p['kind'] == '$kind' and p['detail'] for p in d['problems']), d['problems']"
	check "$name: status --json parses, healthy $want${kind:+, a $kind problem}" \
		"$(python3 -c "$py" 2>&1 | tail -1)" python3 -c "$py"
	check "$name: status --prometheus parses strictly" \
		"$(python3 tests/promcheck.py <$OUT/$name.prom 2>&1 | head -3)" \
		sh -c "python3 tests/promcheck.py <$OUT/$name.prom >/dev/null"
	check "$name: hedge_healthy $want, every problem kind exported" \
		"$(grep '^hedge_healthy\|^hedge_problems' $OUT/$name.prom | tr '\n' ' ')" \
		sh -c "grep -qx 'hedge_healthy $want' $OUT/$name.prom &&
		       [ \$(grep -c '^hedge_problems{kind=\"[a-z_]*\"} [0-9]*\$' $OUT/$name.prom) = 6 ] &&
		       { [ -z '$kind' ] || grep -q '^hedge_problems{kind=\"$kind\"} [1-9]' $OUT/$name.prom; }"
}
# healthy NAME: exit 0 everywhere and the text says so.
healthy() {
	check "$1: status exits 0 (text, json, prometheus)" \
		"exit $rc_txt, $rc_json, $rc_prom: $(grep '^degraded\|^hedge' $OUT/$1.txt)" \
		[ "$rc_txt/$rc_json/$rc_prom" = 0/0/0 ]
	check "$1: status says healthy" "$(head -3 $OUT/$1.txt)" \
		grep -q '^healthy: ' $OUT/$1.txt
}

ok "up ($LINE line on lo)" in_ns $HEDGE up --target 127.0.0.1:9000 --delay-line $LINE --attach tc

# ---- healthy
look healthy
healthy healthy
formats healthy 1
check "healthy: status says how hedge is attached (tc)" \
	"$(head -2 $OUT/healthy.txt)" sh -c "grep -q '\"attach\":\"tc\"' $OUT/healthy.json &&
		grep -q 'attach=\"tc\"' $OUT/healthy.prom"

# ---- another tool's direct-action filter that accepts everything, at
# pref 1 on lo's egress: hedge's Splitter never sees a packet.
in_ns $T clsact lo other_filter 1
look filter
degraded filter filter 'filter "other_filter" \(bpf\) at pref 1 runs before hedge.s Splitter \(pref [0-9]+\) on lo.s egress'
formats filter 0 shadowed
in_ns tc filter del dev lo egress pref 1
look filter-gone
healthy filter-gone

# ---- an accepting TCX program (6.6+): silences every clsact filter.
# Before 6.6 nothing can attach there (tests/tcx.sh checks it is absent).
if [ "$($T supported 2>&1)" = 1 ]; then
	in_ns $T attach lo other_accept
	look tcx
	degraded tcx tcx 'TCX program "other_accept" \(id [0-9]+\) on lo.s egress runs before'
	formats tcx 0 shadowed
	in_ns $T detach lo other_accept
	look tcx-gone
	healthy tcx-gone

	# hedge on TCX (up --attach tcx): first is healthy, another program
	# ahead of it is not, and neither hook holding it is an attachment
	# problem.
	ok "tcx: down" in_ns $HEDGE down
	ok "tcx: up --attach tcx" in_ns $HEDGE up --target 127.0.0.1:9000 --delay-line $LINE --attach tcx
	look tcx-mode
	healthy tcx-mode
	in_ns $T attach lo other_accept
	look tcx-ahead
	degraded tcx-ahead tcx-ahead 'TCX program "other_accept" \(id [0-9]+\) runs before hedge.s Splitter on lo.s egress'
	formats tcx-ahead 0 shadowed
	in_ns $T detach lo other_accept
	in_ns $T detach lo hedge_splitter
	look tcx-none
	degraded tcx-none tcx-none "hedge's Splitter is not on lo's egress"
	formats tcx-none 0 attachment
	ok "tcx: down again" in_ns $HEDGE down
	ok "tcx: up again, whole" in_ns $HEDGE up --target 127.0.0.1:9000 --delay-line $LINE --attach tc
	look tcx-whole
	healthy tcx-whole
fi

# ---- the delay line: a link down.
in_ns ip link set hedge-dl1 down
look dl-down
degraded dl-down dl-down 'delay line link hedge-dl1 is down'
formats dl-down 0 delay_line

# Up again, with nothing in flight. netem: nothing was lost. tick: the
# tick circling through TBF was lost with the link; where the ticker keeps
# a state (branch tick), an idle tick is no problem and the next request
# starts another.
in_ns ip link set hedge-dl1 up
for _ in $(seq 30); do
	look dl-up
	grep -q '^degraded: delay line link' $OUT/dl-up.txt || break
	sleep 0.1
done
check "dl-up: the links are up again" "$(grep '^degraded' $OUT/dl-up.txt)" \
	sh -c "! grep -q '^degraded: delay line link' $OUT/dl-up.txt"
sleep 0.2
look tick
if [ $LINE = netem ]; then
	healthy tick
elif grep -q HEDGE_TICK_RUN hedge.h; then
	check "tick: an idle tick is not a problem" "$(grep '^degraded\|^ticker' $OUT/tick.txt)" \
		sh -c "! grep -q '^degraded: the tick' $OUT/tick.txt"
else
	degraded tick tick 'the tick stopped [0-9]+ ms ago'
	formats tick 0 tick
fi

# ---- the delay line's qdisc deleted: the tick line's TBF, or netem.
if [ $LINE = netem ]; then
	in_ns tc qdisc del dev hedge-dl0 root
	look qdisc
	degraded qdisc qdisc "hedge-dl0's netem qdisc is gone \(its root qdisc is [a-z]+\)"
else
	in_ns tc qdisc del dev hedge-dl1 root
	look qdisc
	degraded qdisc qdisc "hedge-dl1's tick line's TBF qdisc is gone \(its root qdisc is [a-z]+\)"
fi
formats qdisc 0 delay_line

# ---- a TBF not hedge's in the tick line's place (`tc qdisc replace`, say):
# ticks would sleep as that TBF counts them, not as hedge sizes them
# (its rate and its size table, HEDGE_TICK_US()). up --repair puts hedge's
# back, taking the other one away first.
if [ $LINE = tick ]; then
	ok "qdisc: up --repair puts the tick line's TBF back" \
		in_ns $HEDGE up --target 127.0.0.1:9000 --delay-line tick --attach tc --repair
	look qdisc-repaired
	healthy qdisc-repaired
	in_ns tc qdisc replace dev hedge-dl1 root tbf rate 1mbit burst 20k latency 10ms
	look foreign
	degraded foreign foreign "hedge-dl1's TBF qdisc is not the tick line's \(125000 bytes/s, a size table of 0 entries"
	formats foreign 0 delay_line
	ok "foreign: up --repair replaces the other TBF" \
		in_ns $HEDGE up --target 127.0.0.1:9000 --delay-line tick --attach tc --repair
	look foreign-repaired
	healthy foreign-repaired
fi

# ---- no hedge is not degraded: status exits 0 and says so.
ok "down" in_ns $HEDGE down
look down
check "down: status exits 0 and says not up" "exit $rc_txt: $(cat $OUT/down.txt)" \
	sh -c "[ $rc_txt = 0 ] && grep -q 'not up' $OUT/down.txt"

# ---- capacity: three requests too big for the tick line's parking slots
# (2000 bytes, on lo), not hedged: counted, and a problem for every reader
# for a minute (the last case, past it, is tests/unit_test.c's). netem has
# no such limit.
# A new up: a new instance, counted from its own up.
if [ $LINE = tick ]; then
	ok "up again" in_ns $HEDGE up --target 127.0.0.1:9000 --delay-line $LINE --attach tc
	look capacity-none
	healthy capacity-none
	in_ns bash -c 'for i in 1 2 3; do printf "%2000s" x >/dev/udp/127.0.0.1/9000; done' 2>/dev/null
	look capacity
	degraded capacity capacity '3 requests not hedged for lack of room, seen in the last 60 s \(too_big 3\)'
	formats capacity 0 capacity
	look capacity-again
	degraded capacity-again capacity-again '3 requests not hedged .* \(too_big 3\)'
	in_ns bash -c 'printf "%2000s" x >/dev/udp/127.0.0.1/9000' 2>/dev/null
	look capacity-more
	degraded capacity-more capacity-more '4 requests not hedged .* \(too_big 4\)'
	in_ns $HEDGE down >/dev/null
fi

# ---- the hedged device deleted under hedge: degraded, not an error.
in_ns ip link add hd0 type veth peer name hd1
in_ns ip link set hd0 up
in_ns ip link set hd1 up
ok "up on a veth" in_ns $HEDGE up --dev hd0 --target 10.9.9.9:53 --delay-line $LINE --attach tc
in_ns ip link del hd0
look dev-gone
degraded dev-gone dev-gone 'the hedged device \(ifindex [0-9]+\) is gone'
formats dev-gone 0 attachment
in_ns $HEDGE down >/dev/null 2>&1
finish
