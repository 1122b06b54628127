#!/bin/bash
# tests/dns.sh - DNS end to end with third-party software: dnsmasq serves,
# and kdig (knot-dnsutils), glibc's resolver (getent) and dnsperf ask,
# across a lossy link, first without hedge, then with
# `hedge up --id dns --delay 10ms` on the client's veth: hedges to the same
# server, then to a replica (--target PRIMARY,REPLICA), then the same over
# IPv6 (the same server, then the replica).
#
#   hedget-dnsc [hdns-c 10.77.0.1    ] ==veth== [hdns-s 10.77.0.2    ] hedget-dnss
#               [       fd00:77::1   ]          [       fd00:77::2   ] dnsmasq
#    clients, hedge                             [       10.77.0.3    ] replica
#                                               [       fd00:77::3   ] (dnsmasq)
#                                                build/lossy on egress
#
# The clients only ever ask 10.77.0.2 or fd00:77::2 (the replica's
# readiness is probed from the server's namespace): whatever reaches the
# replica is a hedge. Both dnsmasqs log their queries, which says who got
# what.
#
# The kernel here has no netem: build/lossy (tests/lossy.bpf.c) drops
# DNS_LOSS% of the DNS responses leaving the server and sends DNS_DUP% of
# them twice, at most one of the two per query (keyed on the client's
# address, port and DNS ID, so the replica's answer shares it: one hedge
# can always save a query). Run as root from the checkout after
# `make hedge build/lossy`.
set -u
cd "$(dirname "$0")/.." || exit 1
. tests/lib.sh
export LC_ALL=C		# EPOCHREALTIME and awk with a "." decimal point

LOSS=${DNS_LOSS:-3}		# % of responses dropped
DUP=${DNS_DUP:-2}		# % of responses sent twice
KDIG_N=${DNS_KDIG_QUERIES:-300}	# sequential kdig queries per run
GETENT_N=${DNS_GETENT_QUERIES:-200}	# getent ahosts lookups (A + AAAA) per run
PERF_S=${DNS_PERF_SECONDS:-5}	# dnsperf: this long at 500 queries/s
# Hedged P99 bound: far below the 1 s retry a lost answer costs without
# hedge (getent's own P50 is ~45 ms of process start on this host, and a
# busy one added 20 ms to its P99: BENCHMARKS.md has the figures).
BOUND_MS=${DNS_BOUND_MS:-200}
BUDGET_S=90			# the most a client run may take
PERF6_S=2			# the IPv6 baseline's dnsperf: this long
C=hedget-dnsc S=hedget-dnss CDEV=hdns-c SDEV=hdns-s
SERVER=10.77.0.2 REPLICA=10.77.0.3
SERVER6=fd00:77::2 REPLICA6=fd00:77::3
OUT=tests/out/dns
LOSSY=build/lossy
mkdir -p $OUT

# ---- every tool there, or FAIL (never a silent skip)
need "dns: tools" "tests/install-deps installs dnsmasq-base, knot-dnsutils, dnsperf; make hedge build/lossy" \
	dnsmasq kdig dnsperf getent unshare timeout $LOSSY "$HEDGE" || exit 1
if [ ! -r /proc/net/snmp6 ]; then
	fail "dns: tools" "missing: IPv6 (/proc/net/snmp6)"
	exit 1
fi

SERVER_PID= REPLICA_PID=
cleanup() {
	[ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null
	[ -n "$REPLICA_PID" ] && kill "$REPLICA_PID" 2>/dev/null && wait "$REPLICA_PID" 2>/dev/null
	SERVER_PID= REPLICA_PID=
	ip netns exec $C "$HEDGE" down >/dev/null 2>&1
	netns_cleanup
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

# ---- the two namespaces, the dnsmasqs, the lossy link
netns_add $C && netns_add $S || { fail "dns: namespaces" "ip netns add failed"; exit 1; }
ip link add $CDEV netns $C type veth peer name $SDEV netns $S
ip -n $C addr add 10.77.0.1/24 dev $CDEV
ip -n $C addr add fd00:77::1/64 dev $CDEV nodad
ip -n $S addr add $SERVER/24 dev $SDEV
ip -n $S addr add $REPLICA/24 dev $SDEV
ip -n $S addr add $SERVER6/64 dev $SDEV nodad
ip -n $S addr add $REPLICA6/64 dev $SDEV nodad
ip -n $C link set $CDEV up
ip -n $S link set $SDEV up

# dnsmasq_start NAME ADDRESS...: serves example.test on the addresses, logs each
# query to $OUT/NAME.log. ip netns exec execs dnsmasq (in the foreground):
# $! is dnsmasq.
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
dnsmasq_start dnsmasq $SERVER $SERVER6
SERVER_PID=$!
dnsmasq_start replica $REPLICA $REPLICA6
REPLICA_PID=$!
# answers NS ADDR: dnsmasq at ADDR answers a query from namespace NS
answers() {
	[ "$(ip netns exec $1 kdig @$2 +timeout=1 +retry=0 +short ready.example.test A 2>/dev/null)" = 192.0.2.1 ]
}
# The primary is asked from the client, the replica from its own
# namespace: the client never talks to it.
up=0 end=$((SECONDS + 10))
for _ in $(seq 20); do	# at most 20 tries of <= 4 x 1 s, none begun after 10 s
	kill -0 $SERVER_PID 2>/dev/null && kill -0 $REPLICA_PID 2>/dev/null || break
	answers $C $SERVER && answers $C $SERVER6 &&
		answers $S $REPLICA && answers $S $REPLICA6 && { up=1; break; }
	[ $SECONDS -lt $end ] || break
	sleep 0.1
done
check "dns: dnsmasq answers on $SERVER and $SERVER6, its replica on $REPLICA and $REPLICA6" \
	"no answer in 10 s: $(cat $OUT/dnsmasq.out $OUT/replica.out)" [ $up = 1 ]
[ $up = 1 ] || exit 1
check "dns: lossy link on $SDEV egress ($LOSS% dropped, $DUP% twice)" "build/lossy failed" \
	ip netns exec $S $LOSSY add $SDEV $LOSS $DUP
ip netns exec $S $LOSSY stats $SDEV >/dev/null || exit 1

# ---- measuring
# What the client's IPv4 (FAMILY=4) or IPv6 (FAMILY=6) stack took in (past
# TC ingress, where hedge drops duplicates) and what its UDP sockets sent:
# "DELIVERED SENT". Nothing but DNS is UDP in the client namespace; ICMP
# (port unreachables, should any come; IPv6's neighbour discovery) is
# taken out. Ip:InDelivers counts a datagram when the stack takes it, read
# by the application or not (Udp:InDatagrams counts only reads); so does
# Ip6InDelivers.
FAMILY=4
mib() {
	if [ $FAMILY = 6 ]; then
		ip netns exec $C awk '{ v[$1] = $2 }
			END { print v["Ip6InDelivers"] - v["Icmp6InMsgs"], v["Udp6OutDatagrams"] }' /proc/net/snmp6
		return
	fi
	ip netns exec $C awk '
		{ if (n[$1]++) for (i = 2; i <= NF; i++) v[$1 h[$1 i]] = $i
		  else for (i = 2; i <= NF; i++) h[$1 i] = $i }
		END { print v["Ip:InDelivers"] - v["Icmp:InMsgs"], v["Udp:OutDatagrams"] }' /proc/net/snmp
}
# Queries a dnsmasq (dnsmasq: the primary, replica) has logged so far.
queries() { grep -c 'query\[' $OUT/$1.log; }
lossy_stats() { ip netns exec $S $LOSSY stats $SDEV; }
# num KEY TEXT: the number after KEY ("dropped 3" or "\"requests\":3"), 0 if none
num() { local v; v=$(printf '%s\n' "$2" | sed -n "s/.*\"\?$1\"\?[: ]\([0-9][0-9]*\).*/\1/p" | head -1); echo "${v:-0}"; }
status() { ip netns exec $C "$HEDGE" status --json; }
# pct FILE P: the P-th percentile (nearest rank) of column 1, us -> ms
pct() { sort -n "$1" | awk -v p="$2" '{ v[NR] = $1 }
	END { if (!NR) { print -1; exit } r = int(NR * p / 100 + 0.999999); if (r < 1) r = 1
	      printf "%.1f\n", v[r] / 1000 }'; }

# Each client run records, around it, mib, the lossy link's and hedge's
# counters; deltas land in D_* variables.
before_run() {
	M0=$(mib); L0=$(lossy_stats); H0=$(status)
	P0=$(queries dnsmasq); R0=$(queries replica)
}
after_run() {
	sleep 0.3	# the last hedges (10 ms) and duplicates arrive
	local m1 l1 h1
	m1=$(mib); l1=$(lossy_stats); h1=$(status)
	D_DELIV=$(( ${m1% *} - ${M0% *} )); D_SENT=$(( ${m1#* } - ${M0#* } ))
	D_DROP=$(( $(num dropped "$l1") - $(num dropped "$L0") ))
	D_DUP=$(( $(num duplicated "$l1") - $(num duplicated "$L0") ))
	D_SEEN=$(( $(num seen "$l1") - $(num seen "$L0") ))
	D_REQ=$(( $(num requests "$h1") - $(num requests "$H0") ))
	D_RESP=$(( $(num responses "$h1") - $(num responses "$H0") ))
	D_HEDGES=$(( $(num hedges_sent "$h1") - $(num hedges_sent "$H0") ))
	D_DUPDROP=$(( $(num duplicates_dropped "$h1") - $(num duplicates_dropped "$H0") ))
	D_WON=$(( $(num hedges_won "$h1") - $(num hedges_won "$H0") ))
	D_LOST=$(( $(num hedges_lost "$h1") - $(num hedges_lost "$H0") ))
	D_PQ=$(( $(queries dnsmasq) - P0 )); D_RQ=$(( $(queries replica) - R0 ))
}

# kdig: N sequential queries (A, over IPv4 or IPv6 as SERVER is), each
# timed from fork to exit, in us; a line is "US ANSWERS". kdig retries
# after 1 s (+timeout=1 +retry=2). Its warnings go to NAME.kdig.err: it
# ignores, with "unexpected reply source", an answer from another address
# than the one it asked.
run_kdig() {	# run_kdig NAME [SERVER]
	: >$OUT/$1.kdig.err
	timeout --foreground -k 5 $((BUDGET_S + 10)) ip netns exec $C bash -c '
		end=$((SECONDS + $4))
		for ((i = 0; i < $1 && SECONDS < end; i++)); do
			t0=$EPOCHREALTIME
			a=$(kdig @$2 +timeout=1 +retry=2 +short "$3$i.example.test" A 2>>"$5" | tr "\n" " ")
			t1=$EPOCHREALTIME
			echo "$(( ${t1/./} - ${t0/./} )) $a"
		done' _ $KDIG_N ${2:-$SERVER} "k$1-" $BUDGET_S $OUT/$1.kdig.err >$OUT/$1.kdig
}

# glibc: getent ahosts (getaddrinfo: A and AAAA in parallel on one
# socket) with a resolv.conf of our own, bind-mounted in a private mount
# namespace: nameserver 10.77.0.2, timeout:1 attempts:3; hosts from dns only.
printf 'nameserver %s\noptions timeout:1 attempts:3\n' $SERVER >$OUT/resolv.conf
printf 'hosts: dns\n' >$OUT/nsswitch.conf
run_getent() {	# run_getent NAME (IPv4 only: resolv.conf names $SERVER)
	timeout --foreground -k 5 $((BUDGET_S + 10)) ip netns exec $C unshare -m bash -c '
		mount --bind $5/resolv.conf /etc/resolv.conf &&
		mount --bind $5/nsswitch.conf /etc/nsswitch.conf || exit 1
		end=$((SECONDS + $4))
		for ((i = 0; i < $1 && SECONDS < end; i++)); do
			t0=$EPOCHREALTIME
			a=$(getent ahosts "$3$i.example.test" | awk "{ print \$1 }" | sort -u | tr "\n" " ")
			t1=$EPOCHREALTIME
			echo "$(( ${t1/./} - ${t0/./} )) $a"
		done' _ $GETENT_N $SERVER "g$1-" $BUDGET_S "$PWD/$OUT" >$OUT/$1.getent
}

# dnsperf: 500 queries/s for PERF_S s, up to 100 in flight on 4 sockets,
# a query lost after 1 s; -v prints each query's latency.
for i in $(seq $((PERF_S * 500))); do echo "p$i.example.test A"; done >$OUT/queries
run_dnsperf() {	# run_dnsperf NAME [SERVER [SECONDS]]
	local secs=${3:-$PERF_S}
	timeout --foreground -k 5 $((secs + 30)) ip netns exec $C dnsperf -s ${2:-$SERVER} -d $OUT/queries \
		-l $secs -Q 500 -c 4 -q 100 -t 1 -v >$OUT/$1.dnsperf 2>&1
	grep '^> NOERROR' $OUT/$1.dnsperf | awk '{ printf "%d\n", $5 * 1000000 }' >$OUT/$1.dnsperf.us
}
perf_num() { sed -n "s/^ *$2: *\([0-9]*\).*/\1/p" "$1" | head -1; }

# The answers of a kdig or getent run: all there, all 192.0.2.1.
answered() { awk -v n="$2" '$2 == "192.0.2.1" && NF == 2 { ok++ } END { exit !(NR == n && ok == n) }' "$1"; }
slowest_ms() { pct "$1" 100; }

# ---- without hedge: the resolvers' retry timers
for client in kdig getent; do
	name=base-$client
	before_run; run_$client $name; after_run
	n=$(wc -l <$OUT/$name.$client)
	p99=$(pct $OUT/$name.$client 99); max=$(slowest_ms $OUT/$name.$client)
	echo "INFO $name: $n queries, P50 $(pct $OUT/$name.$client 50) P99 $p99 max $max ms; link dropped $D_DROP, duplicated $D_DUP of $D_SEEN responses"
	check "$name: the link dropped responses ($D_DROP of $D_SEEN)" "none dropped: the run proves nothing" \
		[ "$D_DROP" -gt 0 ]
	check "$name: a lost response costs the resolver's 1 s retry (slowest $max ms, P99 $p99 ms)" \
		"no query took >= 900 ms" awk "BEGIN { exit !($max >= 900) }"
	# The control for the hedged runs' duplicate check: with nothing
	# removing them, the client's stack takes in every duplicate.
	check "$name: the client's stack took in every duplicate (delivered $D_DELIV = sent $D_SENT - dropped $D_DROP + duplicated $D_DUP)" \
		"counts do not add up" [ "$D_DELIV" = $((D_SENT - D_DROP + D_DUP)) ]
done

before_run; run_dnsperf base-dnsperf; after_run
f=$OUT/base-dnsperf.dnsperf
base_lost=$(perf_num $f "Queries lost"); base_unexp=$(grep -c 'unexpected (maybe timed out) id' $f)
echo "INFO base-dnsperf: sent $(perf_num $f "Queries sent"), lost $base_lost, unexpected-id warnings $base_unexp, P99 $(pct $f.us 99) max $(slowest_ms $f.us) ms; link dropped $D_DROP, duplicated $D_DUP"
check "base-dnsperf: queries lost to the link ($base_lost, $D_DROP responses dropped)" "none lost: $(tail -15 $f)" \
	[ "${base_lost:-0}" -gt 0 ]
check "base-dnsperf: dnsperf sees duplicate responses ($base_unexp warnings, $D_DUP duplicated)" \
	"no 'unexpected id' warning: the hedged run's check could not see them either" [ "$base_unexp" -gt 0 ]

# ---- with hedge on the client's veth
# Each `up` is followed by a `down` (one hedge per namespace), and after
# each `down` the client namespace is as it was before the first `up`.
before=$OUT/client.before
snapshot $C >$before
TO_REPLICA=0	# 1 while hedges go to the replica
hedge_up() {	# hedge_up NAME TARGET[,REPLICA]
	local rc
	ip netns exec $C "$HEDGE" up --dev $CDEV --target "$2" --id dns --delay 10ms \
		>$OUT/up.out 2>$OUT/up.err
	rc=$?
	check "$1: hedge up --target $2 --id dns --delay 10ms on $CDEV" \
		"exit $rc: $(cat $OUT/up.err)" [ $rc = 0 ]
	echo "INFO $(cat $OUT/up.out)"
	case $2 in *,*) TO_REPLICA=1;; *) TO_REPLICA=0;; esac
}
hedge_down() {	# hedge_down NAME
	check "$1: hedge down" "down failed" sh -c "ip netns exec $C $HEDGE down >/dev/null"
	same_snapshot "$1: after down, the client namespace is as before up" $C $before
}

# What the hedged runs check, each against counters of its own:
# - answers: every query answered, with the right address, P99 bounded;
# - one answer per query: what the client's IPv4 (IPv6) stack took in
#   (mib), counted after TC ingress, where hedge drops duplicates, equals
#   what its sockets sent: each datagram sent got exactly one response up
#   the stack, though the link duplicated some and hedges made more. The
#   base runs above show the same count does see duplicates when they
#   pass;
# - hedge's counters tell the same story: one request per datagram sent,
#   one first response per request, a hedge for every dropped response,
#   every duplicate dropped;
# - the servers' logs: the primary got each query the client sent, and
#   each hedge when hedges go to it; with a replica, the replica got the
#   hedges and nothing else (the client never asks it), answered them
#   (every query the servers got left as a response by the link), and won
#   some: its answers, made the primary's in the kernel, saved the queries
#   whose primary response the link dropped.
hedged_checks() {	# hedged_checks NAME
	check "$1: the link dropped responses ($D_DROP, duplicated $D_DUP, of $D_SEEN)" \
		"none dropped: nothing to hedge" [ "$D_DROP" -gt 0 ]
	check "$1: exactly one response per query reached the client's stack (delivered $D_DELIV, sent $D_SENT)" \
		"a duplicate got through, or a response was lost" [ "$D_DELIV" = "$D_SENT" ]
	check "$1: hedge counted each query and one first response ($D_REQ requests, $D_RESP responses, $D_SENT sent)" \
		"counters disagree" [ "$D_REQ" = "$D_SENT" -a "$D_RESP" = "$D_SENT" ]
	check "$1: a hedge for every dropped response ($D_HEDGES hedges, $D_DROP dropped)" \
		"too few hedges" [ "$D_HEDGES" -ge "$D_DROP" ]
	check "$1: every duplicate dropped in the kernel ($D_DUPDROP dropped, $D_DUP duplicated)" \
		"too few dropped" [ "$D_DUPDROP" -ge "$D_DUP" ]
	if [ $TO_REPLICA = 0 ]; then
		check "$1: the server got each query and each hedge once ($D_PQ = sent $D_SENT + hedges $D_HEDGES), the replica none ($D_RQ)" \
			"counts differ" [ "$D_PQ" = $((D_SENT + D_HEDGES)) -a "$D_RQ" = 0 ]
		return
	fi
	check "$1: the primary got each query the client sent and no hedge ($D_PQ = sent $D_SENT)" \
		"counts differ" [ "$D_PQ" = "$D_SENT" ]
	check "$1: the replica got the hedges and nothing else ($D_RQ = hedges $D_HEDGES)" \
		"counts differ" [ "$D_RQ" = "$D_HEDGES" ]
	check "$1: the servers answered every query they got ($D_SEEN responses = $D_PQ + $D_RQ)" \
		"counts differ" [ "$D_SEEN" = $((D_PQ + D_RQ)) ]
	check "$1: the replica answered first for some queries (won $D_WON, lost $D_LOST, of $D_HEDGES hedges)" \
		"no hedge won" [ "$D_WON" -gt 0 ]
	check "$1: every hedge won or lost ($D_WON + $D_LOST = $D_HEDGES)" \
		"counts differ" [ $((D_WON + D_LOST)) = "$D_HEDGES" ]
}
replica_info() {
	[ $TO_REPLICA = 1 ] && echo ", won $D_WON, lost $D_LOST; primary got $D_PQ, replica $D_RQ queries"
}

# hedged_client NAME CLIENT [SERVER]: a kdig or getent run, hedged.
hedged_client() {
	local name=$1 client=$2 n p99 max want unexp
	before_run; run_$client $name ${3:-}; after_run
	n=$(wc -l <$OUT/$name.$client)
	p99=$(pct $OUT/$name.$client 99); max=$(slowest_ms $OUT/$name.$client)
	echo "INFO $name: $n queries, P50 $(pct $OUT/$name.$client 50) P99 $p99 max $max ms; link dropped $D_DROP, duplicated $D_DUP; hedges $D_HEDGES, duplicates dropped $D_DUPDROP$(replica_info)"
	want=$KDIG_N; [ $client = getent ] && want=$GETENT_N
	check "$name: all $want queries answered 192.0.2.1" \
		"$(awk '$2 != "192.0.2.1" || NF != 2' $OUT/$name.$client | head -3 | tr '\n' ';') ($n lines)" \
		answered $OUT/$name.$client $want
	check "$name: P99 $p99 ms <= $BOUND_MS ms (IPv4 base $(pct $OUT/base-$client.$client 99) ms)" "too slow" \
		awk "BEGIN { exit !($p99 >= 0 && $p99 <= $BOUND_MS) }"
	check "$name: no query waited for the retry timer (slowest $max ms)" "too slow" \
		awk "BEGIN { exit !($max >= 0 && $max < 500) }"
	if [ $client = kdig ]; then
		unexp=$(grep -c 'unexpected reply source' $OUT/$name.kdig.err)
		check "$name: every answer kdig took came from the address it asked ($unexp 'unexpected reply source')" \
			"$(grep -m1 'unexpected reply source' $OUT/$name.kdig.err)" [ "$unexp" = 0 ]
	fi
	hedged_checks $name
}

# hedged_dnsperf NAME [SERVER]
hedged_dnsperf() {
	local name=$1 f=$OUT/$1.dnsperf sent done_ lost unexp p99
	before_run; run_dnsperf $name ${2:-}; after_run
	sent=$(perf_num $f "Queries sent"); done_=$(perf_num $f "Queries completed")
	lost=$(perf_num $f "Queries lost"); unexp=$(grep -c 'unexpected (maybe timed out) id' $f)
	p99=$(pct $f.us 99)
	echo "INFO $name: sent $sent, completed $done_, lost $lost, P50 $(pct $f.us 50) P99 $p99 max $(slowest_ms $f.us) ms, $(grep 'Average Latency' $f | sed 's/^ *//'); link dropped $D_DROP, duplicated $D_DUP; hedges $D_HEDGES, duplicates dropped $D_DUPDROP$(replica_info)"
	check "$name: no query lost ($lost lost, $done_ of $sent completed; base lost $base_lost)" \
		"$(tail -15 $f | tr '\n' ' ')" \
		[ "${sent:-0}" -gt 0 -a "$lost" = 0 -a "$done_" = "$sent" ]
	check "$name: every answer NOERROR ($(wc -l <$f.us) of $sent)" "other rcodes" \
		[ "$(wc -l <$f.us)" = "$sent" ]
	check "$name: no answer with an unexpected ID ($unexp; base $base_unexp)" "duplicates reached dnsperf" \
		[ "$unexp" = 0 ]
	check "$name: P99 $p99 ms <= $BOUND_MS ms" "too slow" \
		awk "BEGIN { exit !($p99 >= 0 && $p99 <= $BOUND_MS) }"
	hedged_checks $name
}

# -- IPv4, hedges to the same server
hedge_up dns $SERVER:53
hedged_client hedged-kdig kdig
hedged_client hedged-getent getent
hedged_dnsperf hedged-dnsperf
hedge_down dns

# -- IPv4, hedges to the replica: kdig and dnsperf still ask $SERVER only
hedge_up "dns replica" $SERVER:53,$REPLICA:53
hedged_client replica-kdig kdig
hedged_dnsperf replica-dnsperf
hedge_down "dns replica"

# -- IPv6. Its baseline is one short dnsperf run: the link drops and
# duplicates IPv6 responses too, and the client's IPv6 stack counts (the
# control for the one-response check) take in every duplicate. (The IPv4
# baseline above already shows what a lost response costs a resolver.)
FAMILY=6
before_run; run_dnsperf base6-dnsperf $SERVER6 $PERF6_S; after_run
f=$OUT/base6-dnsperf.dnsperf
lost6=$(perf_num $f "Queries lost"); unexp6=$(grep -c 'unexpected (maybe timed out) id' $f)
echo "INFO base6-dnsperf: sent $(perf_num $f "Queries sent"), lost $lost6, unexpected-id warnings $unexp6, P99 $(pct $f.us 99) max $(slowest_ms $f.us) ms; link dropped $D_DROP, duplicated $D_DUP of $D_SEEN"
check "base6-dnsperf: queries lost to the link ($lost6, $D_DROP responses dropped)" "none lost: $(tail -15 $f | tr '\n' ' ')" \
	[ "${lost6:-0}" -gt 0 ]
check "base6-dnsperf: dnsperf sees duplicate responses ($unexp6 warnings, $D_DUP duplicated)" \
	"no 'unexpected id' warning" [ "$unexp6" -gt 0 ]
check "base6-dnsperf: the client's stack took in every duplicate (delivered $D_DELIV = sent $D_SENT - dropped $D_DROP + duplicated $D_DUP)" \
	"counts do not add up" [ "$D_DELIV" = $((D_SENT - D_DROP + D_DUP)) ]

# -- IPv6, hedges to the same server
hedge_up "dns6" "[$SERVER6]:53"
hedged_client hedged6-kdig kdig $SERVER6
hedge_down "dns6"

# -- IPv6, hedges to the replica
hedge_up "dns6 replica" "[$SERVER6]:53,[$REPLICA6]:53"
hedged_client replica6-kdig kdig $SERVER6
hedged_dnsperf replica6-dnsperf $SERVER6
hedge_down "dns6 replica"
finish
