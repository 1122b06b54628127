#!/bin/bash
# tests/tcpnat.sh - TCP targets with a replica (issue 15), end to end: a
# client, a primary and a replica, each in its namespace on one bridge,
# each server a real python3 http.server (backlog 128; the replica on
# another port). hedge runs on the client with
# --target PRIMARY:8080,REPLICA:8081/tcp --delay 10ms --budget 100 (every
# handshake in the window needs its hedge: the default budget, 10% and
# 10 hedges saved up, would refuse some).
#   the replica wins: the primary's nftables drop every SYN for a 2 s
#     window; during it every connection is established via the replica,
#     the client sees only the primary (getpeername), a 10 MB download
#     through such a connection has the right sha256; once they closed,
#     `hedge status --json` shows no NAT entry, and the primary has no
#     half-open connection (`ss -tn state syn-recv`) 1 s later.
#   the loser reset: the primary's nftables drop its SYN-ACKs for 0.5 s:
#     it holds half-open connections, the replica wins them; the primary's
#     SYN-ACK repeated a second later is turned into a RST by hedge, and
#     `ss -tn state syn-recv` there is empty 1 s after that.
# TCPNAT_FAMILIES: "4 6" (default) or one of them. Bounded in time.
set -u
cd "$(dirname "$0")/.." || exit 1
. tests/lib.sh

N=${TCPNAT_CONNECTS:-20}
LINE=${TCPNAT_LINE:-tick}
FAMILIES=${TCPNAT_FAMILIES:-4 6}
SW=hedget-natsw		# the bridge
CNS=hedget-natc		# the client, where hedge runs
PNS=hedget-natp		# the primary
RNS=hedget-natr		# the replica
OUT=tests/out/tcpnat
mkdir -p $OUT/www

PIDS=
cleanup() {
	local p
	for p in $PIDS; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
	ip netns exec $CNS $HEDGE down >/dev/null 2>&1
	netns_cleanup
}
trap cleanup EXIT

# ---- the option
expect "tcpnat: a TCP replica that is a target too is refused" 2 \
	"cannot be a target too" \
	$HEDGE up --target 10.79.0.2:80/tcp,10.79.0.3:80 \
	--target 10.79.0.3:80/tcp
expect "tcpnat: the replica of the primary's family" 2 \
	"the replica must be of the primary's family" \
	$HEDGE up --target '10.79.0.2:80,[fd79::3]:80/tcp'

# ---- the network: 10.79.0.1 / fd79::1 (client), .2 / ::2 (primary),
# .3 / ::3 (replica), on one bridge.
netns_add $SW
# Needs a bridge and nftables (Debian's 6.1 in the VM has neither loaded).
if ! ip -n $SW link add br0 type bridge 2>$OUT/bridge.err ||
   ! ip netns exec $SW nft list tables >/dev/null 2>>$OUT/bridge.err; then
	skip "tcpnat: end to end" "no bridge or nftables here: $(head -c 200 $OUT/bridge.err)"
	finish
	exit 0
fi
ip -n $SW link set br0 up
n=1
for ns in $CNS $PNS $RNS; do
	netns_add $ns
	ip -n $ns link add nat0 type veth peer name sw$n netns $SW
	ip -n $SW link set sw$n master br0
	ip -n $SW link set sw$n up
	ip -n $ns addr add 10.79.0.$n/24 dev nat0
	ip -n $ns addr add fd79::$n/64 dev nat0 nodad
	ip -n $ns link set nat0 up
	n=$((n + 1))
done

head -c 10485760 /dev/urandom >$OUT/www/big
echo small >$OUT/www/small
big_sha=$(sha256sum $OUT/www/big | cut -d' ' -f1)

# The servers, dual-stack, logging each request to stderr.
serve() {	# serve NS PORT NAME
	ip netns exec "$1" python3 -c 'import functools, sys
import http.server as h
h.ThreadingHTTPServer.request_queue_size = 128
handler = functools.partial(h.SimpleHTTPRequestHandler, directory=sys.argv[1])
h.test(HandlerClass=handler, ServerClass=h.ThreadingHTTPServer,
       port=int(sys.argv[2]), bind="::")' $OUT/www "$2" \
		>$OUT/$3.out 2>$OUT/$3.log &
	PIDS="$PIDS $!"
}
serve $PNS 8080 primary
serve $RNS 8081 replica
for _ in $(seq 50); do
	ip netns exec $PNS ss -tln | grep -q ':8080' &&
		ip netns exec $RNS ss -tln | grep -q ':8081' && break
	sleep 0.1
done
# Neighbours known both ways, so that no first packet waits on ARP/ND.
for a in 10.79.0.2 10.79.0.3 fd79::2 fd79::3; do
	ip netns exec $CNS ping -c 1 -W 1 $a >/dev/null 2>&1
done

requests() {	# requests NAME: GETs logged by that server so far
	grep -c '"GET /' $OUT/$1.log
}
status_field() {	# status_field FIELD: from `hedge status --json`
	ip netns exec $CNS $HEDGE status --json >$OUT/status.json 2>&1
	field $OUT/status.json "$1"
}
syn_recv() {	# the primary's half-open connections
	ip netns exec $PNS ss -Htn state syn-recv | wc -l
}

# ---- the replica wins: the primary drops every SYN for 2 s
replica_wins() {	# replica_wins FAMILY PRIMARY REPLICA
	local fam=$1 p=$2 r=$3 tag="IPv$1" t0 rc before_p before_r won
	ip netns exec $CNS $HEDGE up --dev nat0 --delay-line $LINE \
		--target "$p:8080,$r:8081/tcp" --delay 10ms --budget 100 \
		>/dev/null 2>$OUT/up.err
	rc=$?
	check "tcpnat: $tag: up --target $p:8080,$r:8081/tcp" \
		"$(cat $OUT/up.err)" [ $rc = 0 ]
	[ $rc = 0 ] || return
	before_p=$(requests primary)
	before_r=$(requests replica)
	ip netns exec $PNS nft -f - <<'EOF'
table inet window {
	chain in {
		type filter hook input priority 0;
		tcp dport 8080 tcp flags & (syn | ack) == syn counter drop
	}
}
EOF
	t0=$(date +%s%N)
	# 2 s, then the primary takes SYNs again.
	( sleep 2
	  ip netns exec $PNS nft list table inet window >$OUT/window$fam.txt
	  ip netns exec $PNS nft delete table inet window ) &
	window=$!
	PIDS="$PIDS $window"
	ip netns exec $CNS timeout 30 python3 tests/tcpnat_client.py \
		"${p//[\[\]]/}" 8080 $N big >$OUT/client$fam.json \
		2>$OUT/client$fam.err
	elapsed_ms=$(( ($(date +%s%N) - t0) / 1000000 ))
	# One more connection, made within the window and held open 3.5 s:
	# once the others' entries are over (closed, then 2 s of linger), it
	# is the NAT table's one entry.
	ip netns exec $CNS timeout 8 python3 -c 'import socket, sys, time
s = socket.create_connection((sys.argv[1], 8080), timeout=2)
time.sleep(3.5)
s.close()' "${p//[\[\]]/}" 2>$OUT/hold$fam.err &
	hold=$!
	sleep 2.6
	entries=$(status_field nat_entries)
	echo "INFO tcpnat: $tag: $(grep -o '"nat_[a-z]*":[0-9]*' $OUT/status.json | tr '\n' ' ')"
	wait $hold
	check "tcpnat: $tag: status: a connection open via the replica is a NAT entry ($entries)" \
		"$(cat $OUT/hold$fam.err; head -c 800 $OUT/status.json)" \
		[ "${entries:-0}" = 1 ]
	wait $window
	check "tcpnat: $tag: $N connections, all within the 2 s window ($elapsed_ms ms)" \
		"$(cat $OUT/client$fam.json $OUT/client$fam.err)" \
		[ "$(field $OUT/client$fam.json done)" = "$N" -a \
		  "$(field $OUT/client$fam.json failed)" = 0 -a \
		  $elapsed_ms -lt 2000 ]
	check "tcpnat: $tag: every connection was established via the replica" \
		"primary served $(( $(requests primary) - before_p )), replica $(( $(requests replica) - before_r )); $(grep -o 'packets [0-9]*' $OUT/window$fam.txt) SYNs dropped by the primary" \
		[ $(( $(requests primary) - before_p )) = 0 -a \
		  $(( $(requests replica) - before_r )) = "$N" ]
	check "tcpnat: $tag: the client saw only the primary's address (getpeername)" \
		"$(cat $OUT/client$fam.json $OUT/client$fam.err)" \
		[ "$(field $OUT/client$fam.json peer_wrong)" = 0 ]
	check "tcpnat: $tag: a 10 MB download through the replica has the right sha256" \
		"$(cat $OUT/client$fam.json)" \
		[ "$(sed -n 's/.*"sha256":"\([0-9a-f]*\)".*/\1/p' \
		    $OUT/client$fam.json)" = "$big_sha" ]
	won=$(status_field hedges_won)
	check "tcpnat: $tag: status: the replica won the $N handshakes and the held one ($won)" \
		"$(head -c 800 $OUT/status.json)" [ "${won:-0}" = $((N + 1)) ]
	# Closed (FIN both ways), then the linger (2 s).
	sleep 2.5
	check "tcpnat: $tag: after the connections closed, the NAT table is empty" \
		"$(head -c 800 $OUT/status.json)" \
		[ "$(status_field nat_entries)" = 0 -a \
		  "$(field $OUT/status.json nat_closed)" = $((N + 1)) ]
	check "tcpnat: $tag: the primary holds no half-open connection" \
		"$(ip netns exec $PNS ss -tn state syn-recv)" [ "$(syn_recv)" = 0 ]
	cp $OUT/status.json $OUT/status-wins$fam.json
	ip netns exec $CNS $HEDGE down >/dev/null 2>&1
}

# ---- the loser reset: the primary's SYN-ACKs dropped for 0.5 s
loser_reset() {	# loser_reset FAMILY PRIMARY REPLICA
	local fam=$1 p=$2 r=$3 tag="IPv$1" rc half resets m=5
	ip netns exec $CNS $HEDGE up --dev nat0 --delay-line $LINE \
		--target "$p:8080,$r:8081/tcp" --delay 10ms \
		>/dev/null 2>$OUT/up.err
	rc=$?
	[ $rc = 0 ] || { fail "tcpnat: $tag: up" "$(cat $OUT/up.err)"; return; }
	ip netns exec $PNS nft -f - <<'EOF'
table inet mute {
	chain out {
		type filter hook output priority 0;
		tcp sport 8080 tcp flags & (syn | ack) == syn | ack counter drop
	}
}
EOF
	ip netns exec $CNS timeout 30 python3 tests/tcpnat_client.py \
		"${p//[\[\]]/}" 8080 $m small >$OUT/loser$fam.json \
		2>$OUT/loser$fam.err
	half=$(syn_recv)
	sleep 0.3
	ip netns exec $PNS nft delete table inet mute
	check "tcpnat: $tag: the primary's SYN-ACKs lost: $m connections via the replica, the primary half-open ($half)" \
		"$(cat $OUT/loser$fam.json $OUT/loser$fam.err)" \
		[ "$(field $OUT/loser$fam.json done)" = $m -a \
		  "$(field $OUT/loser$fam.json failed)" = 0 -a "$half" -ge 1 ]
	# The primary repeats its SYN-ACK 1 s after the first: hedge resets
	# it. 1 s more, and no half-open connection is left.
	sleep 2
	resets=$(status_field nat_resets)
	check "tcpnat: $tag: its repeated SYN-ACKs got a RST from hedge: none half-open 1 s later" \
		"$(ip netns exec $PNS ss -tn state syn-recv); nat_resets ${resets:-?}" \
		[ "$(syn_recv)" = 0 -a "${resets:-0}" -ge "$half" ]
	ip netns exec $CNS $HEDGE down >/dev/null 2>&1
}

for fam in $FAMILIES; do
	if [ "$fam" = 6 ]; then
		replica_wins 6 '[fd79::2]' '[fd79::3]'
		loser_reset 6 '[fd79::2]' '[fd79::3]'
	else
		replica_wins 4 10.79.0.2 10.79.0.3
		loser_reset 4 10.79.0.2 10.79.0.3
	fi
done
finish
