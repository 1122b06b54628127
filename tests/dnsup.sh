#!/bin/bash
# tests/dnsup.sh - `hedge up --dns --resolv-conf FILE`: the nameservers of
# a resolv.conf, two IPv4 and two IPv6, each a real dnsmasq behind a lossy
# link (build/lossy), hedged in one command; each family's two nameservers
# are each other's replicas (a ring of two). Then what --dns refuses, each
# with its one-line error and nothing left configured: a stub on loopback,
# an empty, unreadable or nameserver-less file, nameservers behind
# different devices, --dns with --target or --id.
#
#   hedget-dnuc [hdu-c  10.78.0.1   ] ==veth== [hdu-s  10.78.0.2 10.78.0.3 ] hedget-dnus
#               [       fd00:78::1  ]          [       fd00:78::2 fd00:78::3] two dnsmasqs
#               [hdu-c2 10.79.0.1   ] ==veth== [hdu-s2                      ] (nothing)
#    clients, hedge                             build/lossy on hdu-s egress
#
# Run as root from the checkout after `make hedge build/lossy build/tcx_test`.
set -u
cd "$(dirname "$0")/.." || exit 1
. tests/lib.sh
export LC_ALL=C

LOSS=${DNS_LOSS:-3} DUP=${DNS_DUP:-2}
KDIG_N=${DNSUP_KDIG_QUERIES:-200}	# sequential kdig queries per run
GETENT_N=${DNSUP_GETENT_QUERIES:-100}
PERF_S=${DNSUP_PERF_SECONDS:-3}		# dnsperf: this long at 500 queries/s
BUDGET_S=60
C=hedget-dnuc S=hedget-dnus CDEV=hdu-c SDEV=hdu-s
A4=10.78.0.2 B4=10.78.0.3 A6=fd00:78::2 B6=fd00:78::3
OUT=tests/out/dnsup
LOSSY=build/lossy
mkdir -p $OUT

need "dnsup: tools" "tests/install-deps; make hedge build/lossy" \
	dnsmasq kdig dnsperf getent unshare timeout python3 $LOSSY "$HEDGE" || exit 1

A_PID= B_PID=
cleanup() {
	[ -n "$A_PID" ] && kill "$A_PID" 2>/dev/null && wait "$A_PID" 2>/dev/null
	[ -n "$B_PID" ] && kill "$B_PID" 2>/dev/null && wait "$B_PID" 2>/dev/null
	A_PID= B_PID=
	ip netns exec $C "$HEDGE" down >/dev/null 2>&1
	netns_cleanup
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

netns_add $C && netns_add $S || { fail "dnsup: namespaces" "ip netns add failed"; exit 1; }
ip link add $CDEV netns $C type veth peer name $SDEV netns $S
ip link add ${CDEV}2 netns $C type veth peer name ${SDEV}2 netns $S
ip -n $C addr add 10.78.0.1/24 dev $CDEV
ip -n $C addr add fd00:78::1/64 dev $CDEV nodad
ip -n $C addr add 10.79.0.1/24 dev ${CDEV}2
for a in $A4/24 $B4/24; do ip -n $S addr add $a dev $SDEV; done
for a in $A6/64 $B6/64; do ip -n $S addr add $a dev $SDEV nodad; done
for d in $CDEV ${CDEV}2; do ip -n $C link set $d up; done
for d in $SDEV ${SDEV}2; do ip -n $S link set $d up; done

# dnsmasq_start NAME ADDRESS...: serves example.test, logs each query.
dnsmasq_start() {
	local name=$1 a listen=
	shift
	for a; do listen="$listen --listen-address=$a"; done
	: >$OUT/$name.log
	ip netns exec $S dnsmasq --conf-file=/dev/null --no-resolv --no-hosts \
		--port 53 $listen --bind-interfaces \
		--address=/example.test/192.0.2.1 --keep-in-foreground \
		--user=root --group=root --pid-file=$PWD/$OUT/$name.pid \
		--log-queries --log-facility=$PWD/$OUT/$name.log \
		>$OUT/$name.out 2>&1 &
}
dnsmasq_start a $A4 $A6; A_PID=$!
dnsmasq_start b $B4 $B6; B_PID=$!
answers() { [ "$(ip netns exec $C kdig @$1 +timeout=1 +retry=0 +short ready.example.test A 2>/dev/null)" = 192.0.2.1 ]; }
up=0 end=$((SECONDS + 10))
for _ in $(seq 20); do
	kill -0 $A_PID 2>/dev/null && kill -0 $B_PID 2>/dev/null || break
	answers $A4 && answers $B4 && answers $A6 && answers $B6 && { up=1; break; }
	[ $SECONDS -lt $end ] || break
	sleep 0.1
done
check "dnsup: two dnsmasqs answer on $A4 $A6 and $B4 $B6" \
	"no answer in 10 s: $(cat $OUT/a.out $OUT/b.out)" [ $up = 1 ]
[ $up = 1 ] || exit 1
check "dnsup: lossy link on $SDEV egress ($LOSS% dropped, $DUP% twice)" "build/lossy failed" \
	ip netns exec $S $LOSSY add $SDEV $LOSS $DUP

before=$OUT/client.before
snapshot $C >$before
# conf NAME LINES...: a resolv.conf in $OUT
conf() { local f=$OUT/$1.conf; shift; printf '%s\n' "$@" >$f; echo $f; }
hc() { ip netns exec $C "$HEDGE" "$@"; }
# has TEXT PATTERN: TEXT has a line matching PATTERN (grep -E)
has() { printf '%s\n' "$1" | grep -Eq -- "$2"; }

# ---- what --dns refuses: one line, exit 2 (1 for no route), nothing done
F=$(conf stub "# systemd-resolved" "nameserver 127.0.0.53" "options edns0 trust-ad" "search example.test")
expect "stub 127.0.0.53: hedge its upstreams instead" 2 \
	"127\.0\.0\.53.*stub.*resolvectl dns" hc up --dns --resolv-conf $F
same_snapshot "stub 127.0.0.53: nothing configured" $C $before
# Without --resolv-conf: /etc/resolv.conf (this one, bind-mounted over it
# in a mount namespace of its own)
expect "no --resolv-conf: /etc/resolv.conf is read" 2 "/etc/resolv\.conf names only resolvers on this host \(127\.0\.0\.53" \
	ip netns exec $C unshare -m sh -c "mount --bind $F /etc/resolv.conf && exec $HEDGE up --dns"
F=$(conf stub6 "nameserver ::1")
expect "stub ::1: hedge its upstreams instead" 2 "::1.*(stub|this host).*upstream" hc up --dns --resolv-conf $F
F=$(conf stubmix "nameserver 127.0.0.1" "nameserver 127.0.1.1")
expect "two stubs (dnsmasq, unbound on 127.x)" 2 "127\.0\.0\.1.*upstream" hc up --dns --resolv-conf $F
F=$(conf local "nameserver 10.78.0.1")
expect "a nameserver that is this host's own address: a stub too" 2 "this host \(10\.78\.0\.1: .*upstream" \
	hc up --dns --resolv-conf $F
F=$(conf empty)
expect "an empty resolv.conf" 2 "empty\.conf.*no nameserver" hc up --dns --resolv-conf $F
F=$(conf nons "# nothing" "; nothing" "search example.test" "options timeout:1")
expect "a resolv.conf without a nameserver line" 2 "nons\.conf.*no nameserver" hc up --dns --resolv-conf $F
expect "a resolv.conf that is not there" 2 "nosuch\.conf.*No such file" \
	hc up --dns --resolv-conf $OUT/nosuch.conf
expect "a resolv.conf that cannot be read (a directory)" 2 "reading.*$OUT.*directory" \
	hc up --dns --resolv-conf $OUT
F=$(conf bad "nameserver 10.78.0.256")
expect "a nameserver that is not an address" 2 "bad\.conf line 1.*10\.78\.0\.256.*not an IP" \
	hc up --dns --resolv-conf $F
F=$(conf twodev "nameserver $A4" "nameserver 10.79.0.2")
expect "nameservers behind different devices: named, and what to do" 2 \
	"$A4 by $CDEV.*10\.79\.0\.2 by ${CDEV}2.*--dev" hc up --dns --resolv-conf $F
F=$(conf noroute "nameserver 198.51.100.7")
expect "a nameserver with no route" 1 "198\.51\.100\.7.*route" hc up --dns --resolv-conf $F
F=$(conf nodev "nameserver fe80::1%nosuchdev")
expect "a scoped nameserver on no device" 2 "fe80::1%nosuchdev.*nosuchdev" hc up --dns --resolv-conf $F
F=$(conf one "nameserver $A4")
expect "--dns with --target" 2 "--dns.*--target" hc up --dns --resolv-conf $F --target $A4:53
expect "--dns with --id" 2 "--dns.*--id" hc up --dns --resolv-conf $F --id 0:2
expect "--resolv-conf without --dns" 2 "--resolv-conf.*--dns" hc up --resolv-conf $F --target $A4:53
expect "--dev naming no nameserver's device" 2 "no nameserver.*${CDEV}2" \
	hc up --dns --resolv-conf $F --dev ${CDEV}2
same_snapshot "refusals: nothing configured" $C $before

# ---- --dev picks the nameservers behind it; a lone one hedges to itself
F=$(conf twodev "nameserver 10.79.0.2" "nameserver $A4")
out=$(hc up --dns --resolv-conf $F --dev $CDEV 2>&1); rc=$?
check "--dns --dev $CDEV: up" "exit $rc: $out" [ $rc = 0 ]
echo "$out" | sed 's/^/INFO /'
check "--dns --dev $CDEV: says it leaves 10.79.0.2 out, and why" "$out" \
	has "$out" "10\.79\.0\.2 left out.*${CDEV}2, not --dev $CDEV"
check "--dns --dev $CDEV: status shows $A4:53 alone" "$(hc status --json | head -c 300)" \
	sh -c "ip netns exec $C $HEDGE status --json | python3 -c '
import json, sys; s = json.load(sys.stdin)
sys.exit(not [t[\"target\"] for t in s[\"targets\"]] == [\"$A4:53\"])'"
ok "--dns --dev $CDEV: down" hc down

# ---- a scoped IPv6 nameserver: its scope is its device
F=$(conf scoped "nameserver fe80::1%$CDEV")
out=$(hc up --dns --resolv-conf $F 2>&1); rc=$?
check "scoped fe80::1%$CDEV: up on $CDEV" "exit $rc: $out" \
	has "$out" "^hedge up on $CDEV: 1 target"
check "scoped: status shows [fe80::1]:53" "$(hc status | head -5)" \
	has "$(hc status)" "\\[fe80::1\\]:53"
ok "scoped: down" hc down
same_snapshot "after the --dev and scoped runs: as before" $C $before

# ---- the real thing: four nameservers, two rings, one command
F=$(conf real "# written by the test" "search example.test" "nameserver $A4" \
	"nameserver $A6" "; a comment" "nameserver $B4" "nameserver $B6" \
	"options timeout:1 attempts:3")
out=$(hc up --dns --resolv-conf $F 2>$OUT/up.err); rc=$?
check "hedge up --dns --resolv-conf: up" "exit $rc: $(cat $OUT/up.err)" [ $rc = 0 ]
[ $rc = 0 ] || exit 1
echo "$out" | sed 's/^/INFO /'
for want in "ring .*: $A4 -> $B4 -> $A4; $A6 -> $B6 -> $A6\$" "4 nameservers .* on device $CDEV" \
	"^dns: delay 50ms" "^hedge up on $CDEV: 4 targets"; do
	check "up says: $want" "$out" has "$out" "$want"
done
targets=$(hc status --json | python3 -c 'import json, sys
print(" ".join(t["target"] for t in json.load(sys.stdin)["targets"]))')
check "status: the targets, each one's replica the next of its family ($targets)" "wrong" \
	[ "$targets" = "$A4:53,$B4:53 [$A6]:53,[$B6]:53 $B4:53,$A4:53 [$B6]:53,[$A6]:53" ]
check "status (text) names the targets" "$(hc status | head -5)" \
	sh -c "ip netns exec $C $HEDGE status | grep -qF '$A4:53,$B4:53'"

queries() { grep -c 'query\[' $OUT/$1.log; }
# hedges TARGET: hedges_sent of the target whose primary is TARGET
hedges() { hc status --json | python3 -c 'import json, sys
for t in json.load(sys.stdin)["targets"]:
	if t["target"].split(",")[0] == sys.argv[1]: print(t["hedges_sent"])' "$1"; }

# ring_run NAME ASKED ASKED_LOG REPLICA_LOG PRIMARY_KEY: kdig asks ASKED
# only; the other nameserver of its family gets exactly ASKED's hedges.
ring_run() {
	local name=$1 asked=$2 alog=$3 rlog=$4 key=$5 h0 a0 r0 n bad max
	h0=$(hedges $key); a0=$(queries $alog); r0=$(queries $rlog)
	timeout --foreground -k 5 $((BUDGET_S + 10)) ip netns exec $C bash -c '
		end=$((SECONDS + $4))
		for ((i = 0; i < $1 && SECONDS < end; i++)); do
			t0=$EPOCHREALTIME
			a=$(kdig @$2 +timeout=1 +retry=2 +short "$3$i.example.test" A 2>/dev/null | tr "\n" " ")
			t1=$EPOCHREALTIME
			echo "$(( ${t1/./} - ${t0/./} )) $a"
		done' _ $KDIG_N $asked "$name-" $BUDGET_S >$OUT/$name.kdig
	n=$(wc -l <$OUT/$name.kdig)
	# The last hedges and the servers' log lines arrive: polled until the
	# counts agree, 5 s at most (a fault's never do; the checks below fail).
	ring_counted() {
		h=$(( $(hedges $key) - h0 )) da=$(( $(queries $alog) - a0 )) dr=$(( $(queries $rlog) - r0 ))
		[ "$da" = "$n" ] && [ "$dr" = "$h" ]
	}
	local h da dr
	poll 5 ring_counted
	bad=$(awk '$2 != "192.0.2.1" || NF != 2' $OUT/$name.kdig | wc -l)
	max=$(sort -n $OUT/$name.kdig | tail -1 | awk '{ printf "%.1f", $1 / 1000 }')
	echo "INFO $name: $n queries to $asked, slowest $max ms; hedges $h; $alog got $da, $rlog got $dr"
	check "$name: all $KDIG_N queries answered 192.0.2.1" "$n lines, $bad wrong" [ "$n" = $KDIG_N -a "$bad" = 0 ]
	# (a loaded host's process starts take 100-400 ms: the bound is the
	# retry timer; that no query was retried, the server's log says)
	check "$name: no query waited for kdig's 1 s retry (slowest $max ms)" "too slow" \
		awk "BEGIN { exit !($max < 900) }"
	check "$name: hedges were sent ($h)" "none: the loss was not hedged" [ "$h" -gt 0 ]
	check "$name: $asked got every query once, no hedge ($da = $n)" "counts differ" [ "$da" = "$n" ]
	check "$name: its replica in the ring got exactly the hedges ($dr = $h)" "counts differ" [ "$dr" = "$h" ]
}
ring_run ring-a4 $A4 a b $A4:53
ring_run ring-b4 $B4 b a $B4:53
ring_run ring-a6 $A6 a b "[$A6]:53"
ring_run ring-b6 $B6 b a "[$B6]:53"

# glibc's resolver with the same resolv.conf: its first nameserver, A4.
printf 'hosts: dns\n' >$OUT/nsswitch.conf
timeout --foreground -k 5 $((BUDGET_S + 10)) ip netns exec $C unshare -m bash -c '
	mount --bind $5 /etc/resolv.conf && mount --bind $6 /etc/nsswitch.conf || exit 1
	end=$((SECONDS + $4))
	for ((i = 0; i < $1 && SECONDS < end; i++)); do
		t0=$EPOCHREALTIME
		a=$(getent ahosts "$3$i.example.test" | awk "{ print \$1 }" | sort -u | tr "\n" " ")
		t1=$EPOCHREALTIME
		echo "$(( ${t1/./} - ${t0/./} )) $a"
	done' _ $GETENT_N x "getent-" $BUDGET_S "$PWD/$F" "$PWD/$OUT/nsswitch.conf" >$OUT/getent.out
n=$(wc -l <$OUT/getent.out); bad=$(awk '$2 != "192.0.2.1" || NF != 2' $OUT/getent.out | wc -l)
max=$(sort -n $OUT/getent.out | tail -1 | awk '{ printf "%.1f", $1 / 1000 }')
echo "INFO getent: $n lookups with the hedged resolv.conf, slowest $max ms"
check "getent: all $GETENT_N lookups answered 192.0.2.1" "$n lines, $bad wrong" [ "$n" = $GETENT_N -a "$bad" = 0 ]
check "getent: none waited for glibc's 1 s timeout (slowest $max ms)" "too slow" awk "BEGIN { exit !($max < 900) }"

# dnsperf: nothing lost (the lossy link drops $LOSS% of responses)
for i in $(seq $((PERF_S * 500))); do echo "p$i.example.test A"; done >$OUT/queries
for ns in $A4 $B6; do
	f=$OUT/dnsperf-$ns
	timeout --foreground -k 5 $((PERF_S + 30)) ip netns exec $C dnsperf -s $ns -d $OUT/queries \
		-l $PERF_S -Q 500 -c 4 -q 100 -t 1 >$f 2>&1
	sent=$(sed -n 's/^ *Queries sent: *\([0-9]*\).*/\1/p' $f)
	lost=$(sed -n 's/^ *Queries lost: *\([0-9]*\).*/\1/p' $f)
	echo "INFO dnsperf $ns: sent $sent, lost $lost"
	check "dnsperf to $ns: no query lost ($lost of $sent)" "$(tail -12 $f | tr '\n' ' ')" \
		[ "${sent:-0}" -gt 0 -a "${lost:-x}" = 0 ]
done
lossy=$(ip netns exec $S $LOSSY stats $SDEV)
echo "INFO lossy link: $lossy"
check "the link did drop responses ($lossy)" "none dropped: the runs prove nothing" \
	sh -c "printf '%s' '$lossy' | grep -Eq 'dropped [1-9]'"
ok "hedge down" hc down
same_snapshot "after down: the client namespace as before" $C $before
finish
