#!/bin/bash
# tests/tcp.sh - TCP targets (issue 15): the option's syntax and refusals,
# then the handshake hedged end to end. A real TCP server (python3 -m
# http.server) in a server namespace whose nftables drop 5% of incoming
# SYNs (a lost SYN costs the client its initial RTO, 1 s) -- its listen
# queue overflowing now and then drops some more, as real ones do; a client
# namespace connects TCP_CONNECTS times in turn (tests/tcp_connect.py),
# without hedge and then with `--target IP:PORT/tcp --delay 10ms`.
# TCP_LINE: the delay line (tick natively; netem in the VM). Bounds are
# generous (a busy host, TCG); BENCHMARKS.md has the figures. Then the
# cases of tests/tcp_cases.sh that TCP_CASES names (default "v6 window":
# IPv6 end to end, a full listen queue). Where nftables do not work (the
# VM), tc drops the SYNs (drop_syns).
set -u
cd "$(dirname "$0")/.." || exit 1
. tests/lib.sh

N=${TCP_CONNECTS:-1000}
LINE=${TCP_LINE:-tick}
CNS=hedget-tcpc		# the client, where hedge runs
SNS=hedget-tcps		# the server
OUT=tests/out/tcp
HEDGED_BOUND_MS=${TCP_BOUND_MS:-200}	# delay + RTT, generously
mkdir -p $OUT

SERVER_PID=
CAPTURE_PID=
stop_tcp_server() {
	[ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null &&
		wait "$SERVER_PID" 2>/dev/null
	SERVER_PID=
}
cleanup() {
	[ -n "$CAPTURE_PID" ] && kill "$CAPTURE_PID" 2>/dev/null
	stop_tcp_server
	ip netns exec $CNS $HEDGE down >/dev/null 2>&1
	netns_cleanup
}
trap cleanup EXIT

# ---- the option
expect "tcp: --id with a TCP target is refused" 2 "--id is for UDP targets" \
	$HEDGE up --target 10.78.0.2:80/tcp --id 0:2
expect "tcp: another protocol is refused" 2 "expected /udp or /tcp" \
	$HEDGE up --target 10.78.0.2:80/sctp
expect "tcp: one protocol, once" 2 "one protocol, once" \
	$HEDGE up --target 10.78.0.2:80/tcp,10.78.0.3:80/udp

# ---- the server's SYN losses
# SYNs to port 8080 dropped at the server (hedges included): with
# nftables where they work; else with tc, u32 on the server's ingress and
# gact (Debian 6.1 in the VM: nf_tables is a module its initramfs does not
# ship, and `nft` says "Operation not supported"; tc's actions are there).
# Either way a SYN is TCP to port 8080 with SYN set and ACK not (u32: at
# fixed offsets, no IPv4 options, no IPv6 extension headers: a SYN from
# Linux has neither). LOSSY says which.
LOSSY=
drop_syns() {	# drop_syns PCT: PCT% of SYNs, at random (100: all)
	local act="gact ok random netrand drop $((100 / $1))" t=lossy pref=10
	local rnd="numgen random mod 100 < $1"
	[ "$1" = 100 ] && act=drop t=full pref=5 rnd=
	LOSSY=nft
	ip netns exec $SNS nft -f - 2>$OUT/lossy.err <<EOF && return 0
table inet $t {
	chain in {
		type filter hook input priority 0;
		tcp dport 8080 tcp flags & (syn | ack) == syn $rnd counter drop
	}
}
EOF
	LOSSY=tc
	{ tc -n $SNS qdisc show dev tcp1 | grep -q clsact ||
	  tc -n $SNS qdisc add dev tcp1 clsact; } 2>>$OUT/lossy.err &&
	tc -n $SNS filter add dev tcp1 ingress pref $pref protocol ip u32 \
		match ip protocol 6 0xff match u16 8080 0xffff at 22 \
		match u8 0x02 0x12 at 33 action $act 2>>$OUT/lossy.err &&
	tc -n $SNS filter add dev tcp1 ingress pref $((pref + 1)) protocol ipv6 \
		u32 match ip6 protocol 6 0xff match u16 8080 0xffff at 42 \
		match u8 0x02 0x12 at 53 action $act 2>>$OUT/lossy.err
}
undrop_syns() {	# undrop_syns PCT: drop_syns PCT undone
	local t=lossy pref=10
	[ "$1" = 100 ] && t=full pref=5
	if [ "$LOSSY" = nft ]; then
		ip netns exec $SNS nft delete table inet $t
	else
		tc -n $SNS filter del dev tcp1 ingress pref $pref protocol ip &&
		tc -n $SNS filter del dev tcp1 ingress pref $((pref + 1)) protocol ipv6
	fi
}

# ---- the network: client 10.78.0.1 / fd78::1 -- server 10.78.0.2 / fd78::2
netns_add $CNS
netns_add $SNS
ip -n $CNS link add tcp0 type veth peer name tcp1 netns $SNS
ip -n $CNS addr add 10.78.0.1/24 dev tcp0
ip -n $SNS addr add 10.78.0.2/24 dev tcp1
ip -n $CNS addr add fd78::1/64 dev tcp0 nodad
ip -n $SNS addr add fd78::2/64 dev tcp1 nodad
ip -n $CNS link set tcp0 up
ip -n $SNS link set tcp1 up

# /udp written and a TCP target side by side (the same port: two targets).
ip netns exec $CNS $HEDGE up --dev tcp0 --delay-line $LINE \
	--target 10.78.0.2:53/udp --target 10.78.0.2:53/tcp \
	--target '[fd78::2]:8080/tcp' >/dev/null 2>$OUT/up.err
rc=$?
check "tcp: up with /udp, /tcp and [IPv6]/tcp targets" "$(cat $OUT/up.err)" \
	[ $rc = 0 ]
ip netns exec $CNS $HEDGE status >$OUT/status.txt 2>&1
check "tcp: status says the protocol" "$(head -c 600 $OUT/status.txt)" \
	grep -q "target 10.78.0.2:53/tcp" $OUT/status.txt
check "tcp: status shows a UDP target without it" "$(head -c 600 $OUT/status.txt)" \
	grep -q "target 10.78.0.2:53:" $OUT/status.txt
check "tcp: status shows [IPv6]:PORT/tcp" "$(head -c 600 $OUT/status.txt)" \
	grep -q "target \[fd78::2\]:8080/tcp" $OUT/status.txt
ip netns exec $CNS $HEDGE status --json >$OUT/status.json 2>&1
check "tcp: --json has the handshakes" "$(head -c 300 $OUT/status.json)" \
	grep -q '"target":"10.78.0.2:53/tcp".*"handshakes":0' $OUT/status.json
ip netns exec $CNS $HEDGE status --prometheus >$OUT/status.prom 2>&1
check "tcp: --prometheus has the handshakes" "$(head -c 300 $OUT/status.prom)" \
	grep -q 'hedge_handshakes_total{.*target="10.78.0.2:53/tcp"' $OUT/status.prom
ip netns exec $CNS $HEDGE down >/dev/null 2>&1

# ---- the handshake hedged, end to end
# The server drops 5% of the SYNs it gets (hedges included).
drop_syns 5
rc=$?
check "tcp: the server drops 5% of its SYNs ($LOSSY)" \
	"$LOSSY failed (exit $rc): $(cat $OUT/lossy.err)" [ $rc = 0 ]
# The client counts every RST it gets (nftables only: the capture below
# tells the RSTs that matter, on hedged handshakes, everywhere).
ip netns exec $CNS nft -f - <<'EOF' 2>/dev/null
table inet rst {
	chain in {
		type filter hook input priority 0;
		tcp flags & rst == rst counter
	}
}
EOF
rst_count() {
	ip netns exec $CNS nft list table inet rst 2>/dev/null |
		sed -n 's/.*packets \([0-9]*\).*/\1/p' | grep . || echo 0
}

# Python's http.server, its listen backlog 128 rather than 5: a backlog
# overflowing under 1000 quick connects would drop SYNs beyond the 5%.
start_tcp_server() {	# start_tcp_server ADDR: on ADDR port 8080
	ip netns exec $SNS python3 -c 'import http.server as h, sys
h.ThreadingHTTPServer.request_queue_size = 128
h.test(HandlerClass=h.SimpleHTTPRequestHandler,
       ServerClass=h.ThreadingHTTPServer, port=8080, bind=sys.argv[1])' \
		"$1" >$OUT/server.log 2>&1 &
	SERVER_PID=$!
	for _ in $(seq 50); do
		ip netns exec $SNS ss -tln | grep -qF "$1:8080" && break
		ip netns exec $SNS ss -tln | grep -qF "[$1]:8080" && break
		sleep 0.1
	done
}
start_tcp_server 10.78.0.2

connects() {	# connects NAME [ADDR]: N connects; their summary in $OUT/NAME.json
	ip netns exec $CNS timeout 300 python3 tests/tcp_connect.py \
		"${2:-10.78.0.2}" 8080 $N >$OUT/$1.json 2>$OUT/$1.err
}
# tail_checks WHAT BASE HEDGED: the hedged run's tail against the base's.
# Connects of 900 ms or more (a SYN sent again by the client: 5% of them
# without hedge) are at most half as many with hedge (expected: 0.25%,
# both SYN and copy dropped; a tighter ratio flaked in the VM's 300
# connects: 8 vs 2 seen); P99 <= HEDGED_BOUND_MS where there are 1000
# connects or more. The 0.25% (SYN and copy both dropped, ~1 s each)
# reach P99 when they are N/100 or more (Poisson): of 500, 5 against 1.25
# expected, ~1% of runs for each address family (CI saw it: 5 of 500, 33
# SYNs hedged, 28 won); of 1000, 10 against 2.5, ~0.03%. The VM runs
# 300: no P99 there.
tail_checks() {
	local what=$1 base=$OUT/$2.json hedged=$OUT/$3.json slow0 slow p99
	slow0=$(field $base slow)
	slow=$(field $hedged slow)
	p99=$(field $hedged p99_ms)
	check "tcp: $what: hedged, slow connects (>= 900 ms) at most half as many (${slow:-?} vs ${slow0:-?} of $N)" \
		"$(cat $base $hedged)" \
		[ "${slow0:-0}" -ge 3 -a "$(( ${slow:-999} * 2 ))" -le "${slow0:-0}" ]
	[ "$N" -ge 1000 ] || return 0
	check "tcp: $what: hedged, connect P99 <= $HEDGED_BOUND_MS ms ($p99 ms; $(field $base p99_ms) ms without)" \
		"$(cat $hedged)" awk "BEGIN { exit !(${p99:-9999} <= $HEDGED_BOUND_MS) }"
}

connects base
check "tcp: without hedge, all $N connects done" "$(cat $OUT/base.json $OUT/base.err)" \
	[ "$(field $OUT/base.json done)" = "$N" ]
base_p99=$(field $OUT/base.json p99_ms)
check "tcp: without hedge, connect P99 >= 1000 ms at 5% SYN loss ($base_p99 ms)" \
	"$(cat $OUT/base.json)" awk "BEGIN { exit !(${base_p99:-0} >= 1000) }"

ip netns exec $CNS $HEDGE up --dev tcp0 --delay-line $LINE \
	--target 10.78.0.2:8080/tcp --delay 10ms >/dev/null 2>$OUT/up.err
rc=$?
check "tcp: hedge up --target 10.78.0.2:8080/tcp --delay 10ms" \
	"$(cat $OUT/up.err)" [ $rc = 0 ]
rst_before=$(rst_count)
# Which connections were hedged (two SYNs out) and which got a RST.
ip netns exec $CNS timeout 320 python3 tests/tcp_capture.py tcp0 310 8080 \
	>$OUT/capture.json 2>$OUT/capture.err &
CAPTURE_PID=$!
ready $OUT/capture.err "tcp: capture"
connects hedged
kill -TERM $CAPTURE_PID 2>/dev/null
wait $CAPTURE_PID 2>/dev/null
p99=$(field $OUT/hedged.json p99_ms)
check "tcp: hedged, every connect done, none failed" \
	"$(cat $OUT/hedged.json $OUT/hedged.err)" \
	[ "$(field $OUT/hedged.json done)" = "$N" -a "$(field $OUT/hedged.json failed)" = 0 ]
tail_checks IPv4 base hedged
# Python's server RSTs a few connections of either run (a client that
# closes at once races its close: seen on connections with one SYN only).
# What hedge must never do is RST a handshake it hedged.
rst_hedged=$(field $OUT/capture.json rst_hedged)
echo "INFO tcp: RSTs at the client: $(( $(rst_count) - rst_before )) with hedge, $rst_before without; capture $(cat $OUT/capture.json)"
check "tcp: the capture saw the hedged connects" "$(cat $OUT/capture.json $OUT/capture.err)" \
	[ "$(field $OUT/capture.json connections)" = "$N" -a "$(field $OUT/capture.json hedged)" -gt 0 ]
check "tcp: no hedged handshake got a RST (${rst_hedged:-?})" "$(cat $OUT/capture.json)" \
	[ "$rst_hedged" = 0 ]
ip netns exec $CNS $HEDGE status --json >$OUT/hedged-status.json
hs=$(field $OUT/hedged-status.json handshakes)
sent=$(field $OUT/hedged-status.json hedges_sent)
check "tcp: status: $N handshakes ($hs), hedges sent ($sent)" \
	"$(head -c 600 $OUT/hedged-status.json)" \
	[ "${hs:-0}" -ge "$N" -a "${sent:-0}" -ge 1 ]
ip netns exec $CNS $HEDGE down >/dev/null 2>&1
stop_tcp_server

. tests/tcp_cases.sh
for c in ${TCP_CASES-v6 window}; do
	tcp_case_$c
done
finish
