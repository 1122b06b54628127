#!/bin/bash
# tests/attach.sh - issue 11 items 3 and 2: hedge first in line beside an
# accept-all program of each kind (TCX where the kernel has it; a clsact
# filter on the tc path), and `up --repair` after the Splitter and the
# tick line's TBF were removed: restored, the same maps (counters kept),
# and hedging again (a stalled request of the chaos server is hedged).
set -u
cd "$(dirname "$0")/.." || exit 1
. tests/lib.sh
NS=hedget-attach
kernel=$(uname -r)
T=build/tcx_test
OUT=tests/out/attach
mkdir -p $OUT
UP="$HEDGE up --delay-line ${E2E_LINE:-tick} --target 127.0.0.1:9000 --delay 10ms"
SERVER_PID=
stop_server() { [ -n "$SERVER_PID" ] && kill $SERVER_PID 2>/dev/null; wait $SERVER_PID 2>/dev/null; SERVER_PID=; }
trap 'stop_server; in_ns $HEDGE down >/dev/null 2>&1; netns_cleanup' EXIT
netns_add $NS
: >$OUT/server.out
ip netns exec $NS bench/chaos_server --quiet --addr 127.0.0.1 >$OUT/server.out 2>/dev/null &
SERVER_PID=$!
ready $OUT/server.out "attach: chaos server"

# hedged NAME START_ID: 100 requests (2 stall 400 ms); all stalled ones
# answered in < 100 ms.
hedged() {
	ip netns exec $NS bench/client --addr 127.0.0.1 -n 100 --start-id $2 \
		--duration-limit 60 --csv $OUT/c.csv >$OUT/c.json
	m=$(awk -F, '$1 % 100 < 2 { if ($2 > m) m = $2 } END { printf "%d\n", m / 1000 }' $OUT/c.csv)
	check "[$kernel] $1: stalled requests hedged (< 100 ms)" "slowest stalled $m ms" [ "$m" -lt 100 ]
}
counter() { in_ns $HEDGE status --json | grep -o "\"$1\":[0-9]*" | head -1 | cut -d: -f2; }

if [ "$($T supported)" = 1 ]; then
	in_ns $T attach lo accept_all	# a TCX program that accepts all
	ok "[$kernel] tcx: up beside an accept-all TCX program" in_ns $UP --attach tcx
	pos=$(in_ns $T list lo | head -1)
	check "[$kernel] tcx: hedge's Splitter runs first" "first is '$pos'" [ "$pos" = hedge_splitter ]
	check "[$kernel] tcx: status says tcx" "$(in_ns $HEDGE status --json | head -c 300)" \
		sh -c "ip netns exec $NS $HEDGE status --json | grep -q '\"attach\":\"tcx\"'"
	hedged "tcx beside accept-all" 100000
	ok "[$kernel] tcx: down" in_ns $HEDGE down
	in_ns $T detach lo accept_all
fi

# tc: another tool's accept-all filter at pref 1 refuses up in one line;
# at pref 5, hedge goes ahead of it.
tc -n $NS qdisc add dev lo clsact
tc -n $NS filter add dev lo egress pref 1 bpf da bytecode '1,6 0 0 0,'
expect "[$kernel] tc: an accept-all filter at pref 1 is named, up refused" 1 "pref 1" in_ns $UP --attach tc
tc -n $NS filter del dev lo egress pref 1
tc -n $NS filter add dev lo egress pref 5 bpf da bytecode '1,6 0 0 0,'
ok "[$kernel] tc: up beside an accept-all filter at pref 5" in_ns $UP --attach tc
p=$(tc -n $NS filter show dev lo egress | sed -n 's/.*pref \([0-9]*\) bpf.*hedge_splitter.*/\1/p')
check "[$kernel] tc: hedge's Splitter at a lower pref than the other's" "pref '$p'" [ -n "$p" ] && [ "${p:-99}" -lt 5 ]
hedged "tc beside accept-all" 200000
ok "[$kernel] tc: down" in_ns $HEDGE down
tc -n $NS qdisc del dev lo clsact

# repair: the Splitter and the line's qdisc gone; up says so, --repair
# restores them with the same maps.
ok "[$kernel] repair: up" in_ns $UP
# Idle by design (nothing in flight: the tick stopped) is not degraded.
sleep 0.3
expect "[$kernel] repair: up again on an idle hedge: already up, not degraded" 1 "already up" in_ns $UP
hedged "repair: before" 300000
before=$(counter requests)
in_ns $T detach lo hedge_splitter >/dev/null 2>&1
tc -n $NS filter del dev lo egress 2>/dev/null
tc -n $NS qdisc del dev hedge-dl1 root 2>/dev/null
tc -n $NS qdisc del dev hedge-dl0 root 2>/dev/null
expect "[$kernel] repair: up on a degraded hedge says what is missing" 3 "degraded.*Splitter" in_ns $UP
out=$(in_ns $UP --repair 2>&1); rc=$?
echo "# $out"
check "[$kernel] repair: up --repair exits 0 and says what it restored" "exit $rc: $out" \
	grep -q "restored.*Splitter.*qdisc" <<<"$rc $out"
hedged "repair: after" 400000
after=$(counter requests)
check "[$kernel] repair: the same maps (requests $before, then $after)" "counters reset" \
	[ "${after:-0}" -gt "${before:-0}" -a "${before:-0}" -ge 100 ]
ok "[$kernel] repair: down" in_ns $HEDGE down
finish
