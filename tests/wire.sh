#!/bin/bash
# tests/wire.sh - "never wrong on the wire" (issue 10) end to end, with real
# software across two namespaces joined by a 1500-byte veth pair, on the
# delay line E2E_LINE (tick, the default: any kernel with TBF; netem: under
# a kernel with netem, tests/vm/run boots one):
#
#   hedget-wc [hwire-c 10.98.0.1] ==veth== [hwire-s 10.98.0.2] hedget-ws
#    clients, hedge up --dev hwire-c        servers
#
#  1. key reuse: `--id none`, one connected socket, 100 requests one after
#     another, every other one slow (30 ms) on its first copy (the seed's
#     chaos server): every request answered, no second answer;
#  2. a UDP_SEGMENT (GSO) sender, four 100-byte datagrams per send(), to a
#     server that never answers: it receives only 100-byte datagrams, each
#     ID once or (hedged) twice;
#  3. a large answer (TXT, ~3 kB: IPv4 fragments) from dnsmasq, asked by
#     kdig with EDNS 4096: one answer per query, and no hedge (the server
#     answers at once: any hedge means the answer did not count);
#  4. a forged answer ahead of the real one (a whole Ethernet frame on the
#     server's veth: a bad UDP checksum; or the ID in bytes past the IP total
#     length): the kernel drops it, the client gets the real one;
#  5. (where the kernel has 802.1Q) a VLAN sub-interface's traffic, its
#     parent as --dev: a stalled request's hedge reaches the server's VLAN
#     sub-interface, tagged (an untagged one is dropped by rp_filter);
#  6. only safe requests hedged, hedges dressed cheap (issue 13): to a
#     server that never answers, with `--id dns --hedge-dscp 10`, DNS
#     queries are hedged and UPDATE, NOTIFY, responses and short ones are
#     not (the server sees them once); memcached's get and gets with
#     `--match 8:676574`, not set or delete; each hedge reaches the
#     server with DSCP 10 and the request's ECN bits, each original as it
#     was sent.
# Each hedged case has its control without hedge: what it asserts holds
# there. Run as root from the checkout after `make hedge bench-tools`.
set -u
cd "$(dirname "$0")/.." || exit 1
. tests/lib.sh
export LC_ALL=C

LINE=${E2E_LINE:-tick}
T0=$SECONDS
CASES=${WIRE_CASES:-idnone gso dns forge vlan safe}	# which cases run
want() { case " $CASES " in *" $1 "*) return 0;; esac; return 1; }
PY=/usr/bin/python3
TOOL="$PY tests/wire_tool.py"
C=hedget-wc S=hedget-ws CDEV=hwire-c SDEV=hwire-s
CA=10.98.0.1 SA=10.98.0.2
OUT=tests/out/wire
mkdir -p $OUT
# TCG is slow: fewer requests, longer quiet times there, and of the
# forged answers only the bad checksum (whether 6.1's veth has checked it
# is the kernel's; the ID past the total length is the parser's, here).
if [ -n "${HEDGE_VM:-}" ]; then
	N_SEQ=40 QUIET_MS=150 N_DNS=20 N_FORGE=10 N_VLAN=5 GSO_WAIT=4 N_SAFE=4
	AT_ONCE_MS=300 FORGE_MODES="csum"
else
	N_SEQ=100 QUIET_MS=150 N_DNS=50 N_FORGE=20 N_VLAN=10 GSO_WAIT=2 N_SAFE=10
	AT_ONCE_MS=200 FORGE_MODES="csum short"
fi
# The hedging delay where the server answers at once (cases 3 and 4): any
# hedge is a fault, so far above the server's response time (~1 ms here,
# up to ~10 ms under TCG): 10 ms was hedged once beside the VM, dnsmasq
# descheduled. The faults stay whole: an answer that does not complete its
# request leaves it pending, hedged at this delay all the same (under the
# 1 s window); a forged answer taken for the real one, or a real one
# dropped, the client sees at once.
AT_ONCE=${AT_ONCE_MS}ms
UP="$HEDGE up --delay-line $LINE --dev $CDEV --budget 100"

PIDS=""
bg_stop() { local p; for p in $PIDS; do kill $p 2>/dev/null; wait $p 2>/dev/null; done; PIDS=""; }
cleanup() { bg_stop; ip netns exec $C "$HEDGE" down >/dev/null 2>&1; netns_cleanup; }
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

for t in dnsmasq kdig timeout $PY bench/chaos_server "$HEDGE"; do
	command -v $t >/dev/null || { fail "wire: tools" "missing $t (tests/install-deps; make hedge bench-tools)"; exit 1; }
done

netns_add $C && netns_add $S || { fail "wire: namespaces" "ip netns add failed"; exit 1; }
ip link add $CDEV netns $C mtu 1500 type veth peer name $SDEV netns $S mtu 1500
ip -n $C addr add $CA/24 dev $CDEV
ip -n $S addr add $SA/24 dev $SDEV
ip -n $C link set $CDEV up
ip -n $S link set $SDEV up
CMAC=$(ip -n $C -o link show $CDEV | sed -n 's/.*link\/ether \([0-9a-f:]*\).*/\1/p')
echo "INFO wire: line $LINE, kernel $(uname -r)"

# wait_ready FILE: a server wrote "ready" to FILE, within 10 s
wait_ready() { for _ in $(seq 100); do grep -q ready "$1" 2>/dev/null && return 0; sleep 0.1; done; return 1; }
# chaos_up NAME OUT ERR: check NAME passes once the chaos server wrote
# "ready" to OUT; else it fails with the server's stderr, ERR (read after
# the wait: at once, it is not there yet).
chaos_up() {
	local rc
	wait_ready "$2"
	rc=$?
	check "$1" "$(cat "$3")" [ $rc = 0 ]
}
# jnum FILE KEY: the first number after "KEY": in one-line JSON
jnum() { grep -o "\"$2\": *[0-9.]*" "$1" | head -1 | sed 's/.*: *//'; }
status() { ip netns exec $C "$HEDGE" status --json >"$1" 2>&1; }
hedge_up() {	# hedge_up NAME ARGS...: up in the client namespace
	local name=$1 rc
	shift
	ip netns exec $C $UP "$@" >$OUT/up.out 2>$OUT/up.err
	rc=$?
	check "$name: hedge up $*" "exit $rc: $(cat $OUT/up.err)" [ $rc = 0 ]
}
hedge_down() { check "$1: hedge down" "down failed" sh -c "ip netns exec $C $HEDGE down >/dev/null"; }
# mib KEY...: the client namespace's /proc/net/snmp values ("Ip:InDelivers")
mib() {
	ip netns exec $C awk -v keys="$*" '
		{ if (n[$1]++) for (i = 2; i <= NF; i++) v[$1 h[$1 i]] = $i
		  else for (i = 2; i <= NF; i++) h[$1 i] = $i }
		END { k = split(keys, a, " "); for (i = 1; i <= k; i++) printf "%s ", v[a[i]]; print "" }' /proc/net/snmp
}

if want idnone; then
# ---- 1. key reuse with --id none -----------------------------------------
# The chaos server stalls (30 ms) the first copy of IDs with id % 100 < 50;
# the client's IDs step by 50: every other request is slow. After each
# answer the client listens QUIET_MS more (past the stall): the loser of a
# hedged exchange arrives then, when no request is pending on the 5-tuple,
# and must be dropped; the next request is sent only after. (QUIET_MS 150,
# not 60: a loser later than the quiet time is taken, with --id none, for
# the next request's answer; the server's 30 ms stall run 40 ms late by a
# busy host would make that a stray, no fault of hedge's.)
: >$OUT/chaos.out
ip netns exec $S bench/chaos_server --quiet --addr $SA --port 9000 --rate 50 \
	--stall 30 --fast 0 >$OUT/chaos.out 2>$OUT/chaos.err &
CHAOS=$!
PIDS="$PIDS $CHAOS"
chaos_up "idnone: chaos server up (half the IDs stall 30 ms)" $OUT/chaos.out $OUT/chaos.err

seq_client() {	# seq_client NAME ID_BASE
	timeout -k 2 $((N_SEQ * 3 + 20)) ip netns exec $C $TOOL client $SA 9000 $N_SEQ \
		--id-base $2 --id-step 50 --timeout 1 --quiet $QUIET_MS >$OUT/$1.json 2>$OUT/$1.err
}
seq_client idnone-base 100000
f=$OUT/idnone-base.json
echo "INFO idnone-base: $(cat $f $OUT/idnone-base.err)"
check "idnone-base: without hedge, all $N_SEQ sequential requests answered, no stray ($(jnum $f answered) answered, $(jnum $f wrong) stray, $(jnum $f dups) second)" \
	"$(cat $f)" [ "$(jnum $f answered)" = $N_SEQ -a "$(jnum $f wrong)" = 0 -a "$(jnum $f dups)" = 0 ]
check "idnone-base: without hedge the slow ones take >= 30 ms (slowest $(jnum $f max_ms) ms)" \
	"the server stalls nothing: the hedged run proves nothing" awk "BEGIN { exit !($(jnum $f max_ms) >= 29) }"

hedge_up idnone --target $SA:9000 --id none --delay 10ms
seq_client idnone 200000
f=$OUT/idnone.json
sleep 0.3
status $OUT/idnone.status
echo "INFO idnone: $(cat $f $OUT/idnone.err); hedges_sent $(jnum $OUT/idnone.status hedges_sent), duplicates_dropped $(jnum $OUT/idnone.status duplicates_dropped)"
check "idnone: --id none, $N_SEQ sequential requests on one 5-tuple: none lost ($(jnum $f lost) lost)" \
	"$(cat $f)" [ "$(jnum $f answered)" = $N_SEQ -a "$(jnum $f lost)" = 0 ]
check "idnone: no answer but the awaited one while waiting ($(jnum $f wrong) stray)" \
	"$(cat $f)" [ "$(jnum $f wrong)" = 0 ]
check "idnone: no second answer after an answer ($(jnum $f dups) seen within $QUIET_MS ms)" \
	"$(cat $f)" [ "$(jnum $f dups)" = 0 ]
check "idnone: every slow request was hedged ($(jnum $OUT/idnone.status hedges_sent) hedges >= $((N_SEQ / 2)))" \
	"$(cat $OUT/idnone.status)" [ "$(jnum $OUT/idnone.status hedges_sent)" -ge $((N_SEQ / 2)) ]
hedge_down idnone
bg_stop

fi

if want gso; then
# ---- 2. a UDP_SEGMENT (GSO) sender ---------------------------------------
# gso_run NAME: 5 sends of 4 x 100 bytes to a server that never answers;
# the server's log is "LENGTH ID" per datagram received.
gso_run() {
	: >$OUT/$1.rec.err
	timeout -k 2 $((GSO_WAIT + 20)) ip netns exec $S $TOOL record $SA 9001 $((GSO_WAIT + 2)) \
		>$OUT/$1.rec 2>$OUT/$1.rec.err &
	local rec=$!
	wait_ready $OUT/$1.rec.err || fail "$1: recording server up" "$(cat $OUT/$1.rec.err)"
	timeout -k 2 20 ip netns exec $C $TOOL gso $SA 9001 5 --id-base 7000 >$OUT/$1.ids 2>$OUT/$1.err
	check "$1: the client sent 5 x 4 datagrams by UDP_SEGMENT" "$(cat $OUT/$1.err)" \
		[ "$(wc -l <$OUT/$1.ids)" = 20 ]
	wait $rec
}
# gso_ok REC IDS MAX: every datagram 100 bytes, every ID sent seen 1..MAX
# times, nothing else.
gso_ok() {
	awk -v max=$3 'NR == FNR { sent[$1] = 1; next }
		$1 != 100 { exit 1 }
		!($2 in sent) { exit 1 }
		{ n[$2]++ }
		END { for (i in sent) if (n[i] < 1 || n[i] > max) exit 1 }' "$2" "$1"
}
gso_summary() { awk '{ n[$1]++ } END { for (k in n) printf "%s%d x %d bytes", (s++ ? ", " : ""), n[k], k }' "$1"; }

gso_run gso-base
check "gso-base: without hedge the server got 20 datagrams of 100 bytes, each ID once ($(gso_summary $OUT/gso-base.rec))" \
	"$(head -5 $OUT/gso-base.rec | tr '\n' ' ')" gso_ok $OUT/gso-base.rec $OUT/gso-base.ids 1
hedge_up gso --target $SA:9001 --delay 10ms
gso_run gso
status $OUT/gso.status
echo "INFO gso: server received $(gso_summary $OUT/gso.rec); hedges_sent $(jnum $OUT/gso.status hedges_sent), requests $(jnum $OUT/gso.status requests)"
check "gso: the server received only 100-byte datagrams, never the 400-byte send glued ($(gso_summary $OUT/gso.rec))" \
	"$(awk '$1 != 100' $OUT/gso.rec | head -3 | tr '\n' ' ')" \
	awk '$1 != 100 { bad = 1 } END { exit bad || !NR }' $OUT/gso.rec
check "gso: each ID sent arrived once, or twice if hedged, and nothing else" \
	"$(sort $OUT/gso.rec | uniq -c | sort -rn | head -4 | tr '\n' ' ')" \
	gso_ok $OUT/gso.rec $OUT/gso.ids 2
hedge_down gso

fi

if want dns; then
# ---- 3. a large, fragmented answer from dnsmasq ---------------------------
# big.test TXT: 12 strings of 250 bytes, ~3 kB: an answer in three IPv4
# fragments on the 1500-byte link. dnsmasq answers at once: no query may
# be hedged, and each must get one answer.
txt=""
for i in $(seq -w 1 12); do txt="$txt,s$i$(printf '%0247d' 0)"; done
ip netns exec $S dnsmasq --conf-file=/dev/null --no-resolv --no-hosts --port 53 \
	--listen-address=$SA --bind-interfaces --keep-in-foreground \
	--user=root --group=root --pid-file=$PWD/$OUT/dnsmasq.pid \
	--txt-record=big.test$txt --edns-packet-max=4096 \
	--log-queries --log-facility=$PWD/$OUT/dnsmasq.log >$OUT/dnsmasq.out 2>&1 &
PIDS="$PIDS $!"
: >$OUT/dnsmasq.log
kdig_big() {	# kdig_big N: N queries, one line each: exit status, TXT bytes
	timeout -k 2 $(($1 * 3 + 20)) ip netns exec $C bash -c '
		for ((i = 0; i < $1; i++)); do
			a=$(kdig @$2 +bufsize=4096 +ignore +timeout=1 +retry=0 +short TXT big.test 2>/dev/null)
			echo "$? $(printf %s "$a" | tr -d "\" \n" | wc -c)"
		done' _ "$1" $SA
}
up=0
for _ in $(seq 50); do
	[ "$(kdig_big 1)" = "0 3000" ] && { up=1; break; }
	sleep 0.1
done
check "dns: dnsmasq answers big.test TXT with 3000 bytes of text" "$(cat $OUT/dnsmasq.out)" [ $up = 1 ]
MIBS="Ip:InDelivers Icmp:InMsgs Ip:ReasmOKs Udp:InDatagrams Udp:OutDatagrams"
# dns_run NAME: N_DNS queries; D_ANS (good answers), D_DELIV (datagrams the
# stack took in, ICMP out), D_REASM, D_SENT, D_Q (queries dnsmasq logged)
dns_run() {
	local m0 m1 q0
	NAME=$1
	m0=$(mib $MIBS); q0=$(grep -c 'query\[TXT\]' $OUT/dnsmasq.log)
	kdig_big $N_DNS >$OUT/$1.kdig
	# a hedge ($AT_ONCE) and its answer arrive
	sleep "$(awk "BEGIN { print ($AT_ONCE_MS + 300) / 1000 }")"
	m1=$(mib $MIBS)
	set -- $m0 $m1
	D_DELIV=$(( ($6 - $7) - ($1 - $2) )); D_REASM=$(( $8 - $3 )); D_SENT=$(( ${10} - $5 ))
	D_ANS=$(grep -c '^0 3000$' $OUT/$NAME.kdig)
	D_Q=$(( $(grep -c 'query\[TXT\]' $OUT/dnsmasq.log) - q0 ))
}
name=dns-base; dns_run $name
echo "INFO $name: $D_ANS answers, $D_SENT sent, $D_DELIV delivered, $D_REASM reassembled, dnsmasq got $D_Q"
check "$name: without hedge, $N_DNS queries answered in fragments, one answer each (answers $D_ANS, reassembled $D_REASM, delivered $D_DELIV, sent $D_SENT)" \
	"counts differ" [ $D_ANS = $N_DNS -a $D_REASM = $N_DNS -a $D_DELIV = $N_DNS -a $D_SENT = $N_DNS ]
hedge_up dns --target $SA:53 --id dns --delay $AT_ONCE
status $OUT/dns.status0
name=dns; dns_run $name
status $OUT/dns.status
h=$(( $(jnum $OUT/dns.status hedges_sent) - $(jnum $OUT/dns.status0 hedges_sent) ))
echo "INFO $name: $D_ANS answers, $D_SENT sent, $D_DELIV delivered, $D_REASM reassembled, dnsmasq got $D_Q; hedges $h"
check "$name: every query answered with the whole TXT ($D_ANS of $N_DNS)" \
	"$(grep -v '^0 3000$' $OUT/$name.kdig | head -3 | tr '\n' ' ')" [ $D_ANS = $N_DNS ]
check "$name: exactly one answer per query reached the client's stack (reassembled $D_REASM, delivered $D_DELIV, sent $D_SENT)" \
	"a second answer got through" [ $D_REASM = $N_DNS -a $D_DELIV = $D_SENT ]
check "$name: no hedge for a query answered at once ($h hedges; dnsmasq got $D_Q of $D_SENT)" \
	"the fragmented answer did not complete its request" [ "$h" = 0 -a "$D_Q" = "$D_SENT" ]
hedge_down dns
bg_stop

fi

if want forge; then
# ---- 4. a forged answer ahead of the real one -----------------------------
# forge_run NAME MODE: the server sends the forged frame, then 3 ms later
# the real answer; the client wants "real" within 0.5 s, and nothing after.
forge_run() {
	local m0 m1
	: >$OUT/$1.srv.err
	ip netns exec $S $TOOL forge $SA 9002 $SDEV $CMAC $2 3 >$OUT/$1.srv.out 2>$OUT/$1.srv.err &
	PIDS="$PIDS $!"
	wait_ready $OUT/$1.srv.err || fail "$1: forging server up" "$(cat $OUT/$1.srv.err)"
	m0=$(mib Udp:InErrors)
	timeout -k 2 $((N_FORGE * 2 + 20)) ip netns exec $C $TOOL client $SA 9002 $N_FORGE \
		--id-base 5000 --timeout 0.5 --quiet $QUIET_MS --tag real >$OUT/$1.json 2>$OUT/$1.err
	m1=$(mib Udp:InErrors)
	D_ERR=$(( m1 - m0 ))
	bg_stop
}
for mode in $FORGE_MODES; do
	case $mode in
	csum) what="a bad UDP checksum";;
	short) what="the ID past the IP total length";;
	esac
	name=forge-$mode-base; forge_run $name $mode
	f=$OUT/$name.json
	echo "INFO $name: $(cat $f $OUT/$name.err); Udp:InErrors +$D_ERR"
	check "$name: without hedge, the kernel drops each forged answer ($what) (Udp:InErrors +$D_ERR of $N_FORGE)" \
		"the forged frames did not reach the client's UDP" [ $D_ERR = $N_FORGE ]
	check "$name: without hedge, every request gets the real answer ($(jnum $f answered) of $N_FORGE, $(jnum $f wrong) other)" \
		"$(cat $f)" [ "$(jnum $f answered)" = $N_FORGE -a "$(jnum $f wrong)" = 0 -a "$(jnum $f dups)" = 0 ]
	hedge_up forge-$mode --target $SA:9002 --delay $AT_ONCE
	name=forge-$mode; forge_run $name $mode
	f=$OUT/$name.json
	status $OUT/$name.status
	echo "INFO $name: $(cat $f $OUT/$name.err); Udp:InErrors +$D_ERR; hedges_sent $(jnum $OUT/$name.status hedges_sent), duplicates_dropped $(jnum $OUT/$name.status duplicates_dropped)"
	check "$name: a forged answer with $what ahead of the real one: every request gets the real answer ($(jnum $f answered) of $N_FORGE, $(jnum $f lost) lost)" \
		"$(cat $f)" [ "$(jnum $f answered)" = $N_FORGE -a "$(jnum $f wrong)" = 0 -a "$(jnum $f dups)" = 0 ]
	check "$name: the real answers were not dropped as duplicates (duplicates_dropped $(jnum $OUT/$name.status duplicates_dropped))" \
		"$(cat $OUT/$name.status)" [ "$(jnum $OUT/$name.status duplicates_dropped)" = 0 ]
	hedge_down forge-$mode
done

fi

if want vlan; then
# ---- 5. a VLAN sub-interface, its parent as --dev --------------------------
if ! ip -n $C link add link $CDEV name $CDEV.42 type vlan id 42 2>$OUT/vlan.err; then
	echo "SKIP vlan: no 802.1Q in this kernel ($(head -1 $OUT/vlan.err))"
else
ip -n $S link add link $SDEV name $SDEV.42 type vlan id 42
ip -n $C addr add 10.98.42.1/24 dev $CDEV.42
ip -n $S addr add 10.98.42.2/24 dev $SDEV.42
ip -n $C link set $CDEV.42 up
ip -n $S link set $SDEV.42 up
# A copy that lost its tag reaches the server's parent, $SDEV, where the
# host would take it all the same (10.98.42.2 is a local address): strict
# reverse-path filtering drops it there (the way back to 10.98.42.1 is by
# $SDEV.42) and counts it (TcpExt: IPReversePathFilter).
ip netns exec $S sysctl -qw net.ipv4.conf.all.rp_filter=1
rpf() { ip netns exec $S awk '$1 == "TcpExt:" { if (n++) print $i; else for (i = 2; i <= NF; i++) if ($i == "IPReversePathFilter") break }' /proc/net/netstat; }
rpf0=$(rpf)
: >$OUT/vlan-chaos.out
ip netns exec $S bench/chaos_server --quiet --addr 10.98.42.2 --port 9000 --rate 100 \
	--stall 400 --fast 0 >$OUT/vlan-chaos.out 2>$OUT/vlan-chaos.err &
CHAOS=$!
PIDS="$PIDS $CHAOS"
chaos_up "vlan: chaos server up on $SDEV.42 (every ID stalls 400 ms)" \
	$OUT/vlan-chaos.out $OUT/vlan-chaos.err
hedge_up vlan --target 10.98.42.2:9000 --delay 10ms
timeout -k 2 $((N_VLAN * 2 + 20)) ip netns exec $C $TOOL client 10.98.42.2 9000 $N_VLAN \
	--id-base 300000 --timeout 1 --quiet 450 >$OUT/vlan.json 2>$OUT/vlan.err
f=$OUT/vlan.json
server_counts $CHAOS $OUT/vlan-chaos.err
dup=$(tail -1 $OUT/vlan-chaos.err | sed -n 's/.*duplicates=\([0-9]*\).*/\1/p')
status $OUT/vlan.status
echo "INFO vlan: $(cat $f $OUT/vlan.err); server: $(tail -1 $OUT/vlan-chaos.err); hedges_sent $(jnum $OUT/vlan.status hedges_sent)"
rpf1=$(rpf)
check "vlan: no untagged copy reached the server's parent $SDEV (IPReversePathFilter +$((rpf1 - rpf0)))" \
	"the hedges left without the VLAN tag" [ "$((rpf1 - rpf0))" = 0 ]
check "vlan: the server on $SDEV.42 got each hedge (duplicates=${dup:-?} of $N_VLAN)" \
	"the hedges left without the VLAN tag" [ "${dup:-0}" = $N_VLAN ]
check "vlan: every stalled request answered before the stall ends (slowest $(jnum $f max_ms) ms < 300)" \
	"$(cat $f)" sh -c "[ '$(jnum $f answered)' = $N_VLAN ] && awk 'BEGIN { exit !($(jnum $f max_ms) < 300) }'"
check "vlan: no second answer ($(jnum $f dups))" "$(cat $f)" [ "$(jnum $f dups)" = 0 ]
hedge_down vlan
fi	# 802.1Q
fi
if want safe; then
# ---- 6. only safe requests hedged; hedges dressed cheap -------------------
BAD="ip netns exec $C $UP --target $SA:53"
expect "safe: --match without bytes is refused" 2 "--match 4:: BYTES must be 1..16 bytes" $BAD --match 4:
expect "safe: --match with an odd number of hex digits is refused" 2 "--match 0:676: BYTES must be" $BAD --match 0:676
expect "safe: --match with a non-hex digit is refused" 2 "--match 0:zz: BYTES must be hex" $BAD --match 0:zz
expect "safe: --match of 17 bytes is refused" 2 "BYTES must be 1..16" $BAD --match 0:$(printf '%034d' 0)
expect "safe: --match past OFFSET 1464 is refused" 2 "OFFSET must be 0..1464" $BAD --match 1465:00
expect "safe: --match without OFFSET is refused" 2 "expected OFFSET:BYTES" $BAD --match 676574
expect "safe: --hedge-dscp 64 is refused" 2 "--hedge-dscp 64: expected a DSCP 0..63" $BAD --hedge-dscp 64
expect "safe: --hedge-priority past 32 bits is refused" 2 "--hedge-priority 4294967296: expected" $BAD --hedge-priority 4294967296
# The client's requests go with TOS 0x21 (DSCP 8, ECT(1)); hedges are to
# carry DSCP 10 with the ECN bits kept: 0x29.
TOS=0x21 HTOS=$((10 << 2 | 1))
# safe_run NAME PROTO PORT: N_SAFE rounds of each kind of PROTO's requests
# to a recording server (wire_tool.py mix, record): NAME.sent is "KIND ID",
# NAME.rec "LENGTH ID TOS ID16".
safe_run() {
	: >$OUT/$1.rec.err
	timeout -k 2 $((GSO_WAIT + 20)) ip netns exec $S $TOOL record $SA $3 $((GSO_WAIT + 2)) \
		>$OUT/$1.rec 2>$OUT/$1.rec.err &
	local rec=$!
	wait_ready $OUT/$1.rec.err || fail "$1: recording server up" "$(cat $OUT/$1.rec.err)"
	timeout -k 2 20 ip netns exec $C $TOOL mix $2 $SA $3 $N_SAFE --tos $TOS \
		--id-base $((0x5000 + RANDOM % 0x1000)) >$OUT/$1.sent 2>$OUT/$1.err
	wait $rec
}
# seen NAME KIND TOS: how many datagrams the server got of KIND's requests
# with TOS (decimal)
seen() { awk -v kind=$2 -v tos=$3 'NR == FNR { if ($1 == kind) k[$2] = 1; next }
	($4 in k) && $3 == tos { n++ } END { print n + 0 }' $OUT/$1.sent $OUT/$1.rec; }
# each_once NAME KIND: every request of KIND reached the server exactly once
each_once() { awk -v kind=$2 'NR == FNR { if ($1 == kind) k[$2] = 0; next }
	($4 in k) { k[$4]++ } END { for (i in k) if (k[i] != 1) exit 1; exit !length(k) }' $OUT/$1.sent $OUT/$1.rec; }
safe_summary() { awk 'NR == FNR { kind[$2] = $1; next } { n[kind[$4] " tos " $3]++ }
	END { for (k in n) printf "%s%s x %d", (s++ ? ", " : ""), k, n[k] }' $OUT/$1.sent $OUT/$1.rec; }

name=safe-dns-base; safe_run $name dns 53
echo "INFO $name: the server got $(safe_summary $name)"
for kind in query update notify response short; do
	check "$name: without hedge, each DNS $kind reached the server once, TOS $TOS" \
		"$(safe_summary $name)" [ "$(seen $name $kind $((TOS)))" = $N_SAFE ]
done
hedge_up safe-dns --target $SA:53 --id dns --delay 10ms --hedge-dscp 10 --hedge-priority 7
status $OUT/safe-dns.status0
ip netns exec $C "$HEDGE" status >$OUT/safe-dns.status.txt
check "safe-dns: status says what is hedged and how" "$(head -3 $OUT/safe-dns.status.txt)" \
	grep -q "^hedged: standard DNS queries only; hedges dscp 10, priority 7$" $OUT/safe-dns.status.txt
name=safe-dns; safe_run $name dns 53
status $OUT/$name.status
echo "INFO $name: the server got $(safe_summary $name); requests_unsafe $(jnum $OUT/$name.status requests_unsafe), hedges_sent $(jnum $OUT/$name.status hedges_sent)"
check "$name: each query reached the server twice: as sent (TOS $TOS) and hedged (TOS $HTOS: DSCP 10, ECN kept)" \
	"$(safe_summary $name)" [ "$(seen $name query $((TOS)))" = $N_SAFE -a "$(seen $name query $HTOS)" = $N_SAFE ]
for kind in update notify response short; do
	check "$name: each DNS $kind reached the server once, as sent, never hedged" \
		"$(safe_summary $name)" [ "$(seen $name $kind $((TOS)))" = $N_SAFE -a "$(seen $name $kind $HTOS)" = 0 ]
	check "$name: no DNS $kind twice" "$(safe_summary $name)" each_once $name $kind
done
check "$name: counted: $((4 * N_SAFE)) requests not hedged (requests_unsafe $(jnum $OUT/$name.status requests_unsafe)), $N_SAFE hedges ($(jnum $OUT/$name.status hedges_sent))" \
	"$(cat $OUT/$name.status)" [ "$(jnum $OUT/$name.status requests_unsafe)" = $((4 * N_SAFE)) -a \
	"$(jnum $OUT/$name.status hedges_sent)" = $N_SAFE ]
hedge_down safe-dns

hedge_up safe-mc --target $SA:11211 --id 0:2 --match 8:676574 --delay 10ms --hedge-dscp 10
name=safe-mc; safe_run $name memcache 11211
status $OUT/$name.status
echo "INFO $name: the server got $(safe_summary $name); requests_unsafe $(jnum $OUT/$name.status requests_unsafe)"
for kind in get gets; do
	check "$name: each memcached $kind reached the server as sent and hedged (DSCP 10)" \
		"$(safe_summary $name)" [ "$(seen $name $kind $((TOS)))" = $N_SAFE -a "$(seen $name $kind $HTOS)" = $N_SAFE ]
done
for kind in set delete; do
	check "$name: each memcached $kind reached the server once, never hedged" \
		"$(safe_summary $name)" [ "$(seen $name $kind $((TOS)))" = $N_SAFE -a "$(seen $name $kind $HTOS)" = 0 ]
	check "$name: no memcached $kind twice" "$(safe_summary $name)" each_once $name $kind
done
check "$name: status --json says what is hedged and how" "$(cat $OUT/$name.status)" \
	grep -q '"match":"8:676574","hedge_dscp":10,"hedge_priority":null' $OUT/$name.status
check "$name: counted: $((2 * N_SAFE)) requests not hedged (requests_unsafe $(jnum $OUT/$name.status requests_unsafe))" \
	"$(cat $OUT/$name.status)" [ "$(jnum $OUT/$name.status requests_unsafe)" = $((2 * N_SAFE)) ]
hedge_down safe-mc
fi
echo "INFO wire: $LINE line, $CASES: $((SECONDS - T0)) s"
finish
