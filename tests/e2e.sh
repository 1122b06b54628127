#!/bin/bash
# tests/e2e.sh - hedge end to end, with E2E_LINE=netem (under a kernel with
# netem: tests/vm/run boots one) or E2E_LINE=tick (any kernel with TBF):
# the seed's chaos server (2% of IDs stall 400 ms) and an
# unmodified blocking client, on lo and across two namespaces, with the
# state of each namespace compared before `up` and after `down`.
# TCG is emulated, so latency bounds are generous; bench/ has the figures.
# E2E_CASES: which cases run (all by default; in the VM, under TCG where an
# up takes ~8 s, what the netem line or 6.1 can change: lo6, mutual and
# coexist are the tick line's here on the host, on clsact too; IPv4 across
# the veth pair is the replica case's there).
set -u
cd "$(dirname "$0")/.." || exit 1
. tests/lib.sh

if [ -n "${HEDGE_VM:-}" ]; then
	N=${E2E_REQUESTS:-100}	# requests per run: 2 of them stall
	CASES=${E2E_CASES:-lo veth6 replica replica6 gone}
else
	N=${E2E_REQUESTS:-400}	# requests per run: 8 of them stall
	CASES=${E2E_CASES:-lo veth lo6 veth6 replica replica6 mutual coexist gone}
fi
want() { case " $CASES " in *" $1 "*) return 0;; esac; return 1; }
LINE=${E2E_LINE:-netem}		# the delay line under test: netem or tick
UP="$HEDGE up --delay-line $LINE"
STALL_BOUND_MS=100		# a stalled request, hedged: ~delay + RTT
OUT=tests/out/e2e
mkdir -p $OUT

# The first number under KEY in one-line JSON (the client's summary, `hedge
# status --json`: the first target's). Python starts in seconds under TCG.
json() { grep -o "\"$2\":[0-9.]*" "$1" | head -1 | cut -d: -f2; }

# The slowest request whose ID stalls on the server (id % 100 < 2), in ms.
stalled_max_ms() {
	awk -F, '$1 % 100 < 2 { if ($2 > m) m = $2; n++ }
		 END { printf "%d\n", (n ? m / 1000 : -1) }' "$1"
}

# settled NS FILE KEY...: `hedge status --json` in NS into FILE, and every
# clone decided (hedges_sent + the KEYs: N, every request's clone sent or
# cancelled; won + lost = sent, every hedge's race over) and every loser
# dropped (duplicates_dropped = hedges_sent). For poll: what the checks
# after it need to have happened, however slow the host.
settled() {
	local ns=$1 st=$2 k sent n=0
	shift 2
	ip netns exec "$ns" $HEDGE status --json >"$st" || return 1
	sent=$(json "$st" hedges_sent)
	[ -n "$sent" ] && [ "$(json "$st" duplicates_dropped)" = "$sent" ] || return 1
	for k; do n=$(( n + $(json "$st" $k | grep . || echo -1) )); done
	if [ "$1" = hedges_cancelled ]; then [ $((sent + n)) = $N ]; else [ $n = "$sent" ]; fi
}

SERVER_PID=
start_server() {	# start_server NS ADDR
	# Empty first, lest the last server's "ready" pass for this one's.
	: >$OUT/server.out
	# ip netns exec execs the server: $! is the server (for SIGUSR1)
	ip netns exec "$1" bench/chaos_server --quiet --addr "$2" \
		>$OUT/server.out 2>$OUT/server.err &
	SERVER_PID=$!
	ready $OUT/server.out "chaos server"
}
stop_server() { kill "$SERVER_PID" 2>/dev/null; wait "$SERVER_PID" 2>/dev/null; SERVER_PID=; }
trap 'stop_server; netns_cleanup' EXIT

# run_client NS ADDR NAME START_ID: N sequential requests, blocking socket.
run_client() {
	ip netns exec "$1" bench/client --addr "$2" -n $N --start-id "$4" \
		--duration-limit 120 --csv $OUT/$3.csv >$OUT/$3.json
}

# ADDR:PORT as --target takes it: IPv6 in brackets.
endpoint() { case $1 in *:*) echo "[$1]:9000";; *) echo "$1:9000";; esac; }

# hedged_run NAME NS ADDR DEV: the whole story on one device.
hedged_run() {
	local name=$1 ns=$2 addr=$3 dev=$4 before p99 base_p99 sent st
	before=$OUT/$name.before
	snapshot "$ns" >"$before"

	run_client "$ns" "$addr" "$name-baseline" 100000
	base_p99=$(json $OUT/$name-baseline.json p99_ms)

	ip netns exec "$ns" $UP --dev "$dev" --target "$(endpoint $addr)" --delay 10ms >/dev/null 2>$OUT/up.err; rc=$?
	check "$name: hedge up" "up failed (exit $rc): $(cat $OUT/up.err)" [ $rc = 0 ]
	expect "$name: a second up is refused" 1 "already up" \
		ip netns exec "$ns" $UP --dev "$dev" --target "$(endpoint $addr)"
	run_client "$ns" "$addr" "$name-kernel" 200000

	check "$name: every request answered (no timeout)" "$(cat $OUT/$name-kernel.json)" \
		[ "$(json $OUT/$name-kernel.json timeouts)" = 0 ]
	check "$name: no duplicate response ever reaches the client" \
		"$(json $OUT/$name-kernel.json strays) strays" \
		[ "$(json $OUT/$name-kernel.json strays)" = 0 ]
	check "$name: stalled requests answered in < ${STALL_BOUND_MS} ms (400 ms unhedged)" \
		"slowest stalled: $(stalled_max_ms $OUT/$name-kernel.csv) ms" \
		[ "$(stalled_max_ms $OUT/$name-kernel.csv)" -lt $STALL_BOUND_MS ]
	check "$name: without hedge the stalled ones take 400 ms" \
		"slowest stalled: $(stalled_max_ms $OUT/$name-baseline.csv) ms" \
		[ "$(stalled_max_ms $OUT/$name-baseline.csv)" -ge 400 ]
	p99=$(json $OUT/$name-kernel.json p99_ms)
	check "$name: P99 hedged / P99 baseline <= 0.1 ($p99 / $base_p99 ms)" "ratio too high" \
		awk "BEGIN { exit !($p99 <= 0.1 * $base_p99) }"

	# Late originals (400 ms) and the last clones settle first: every
	# clone sent or cancelled, every loser dropped (at most 10 s: a fault
	# that never settles fails the checks below as it would have).
	st=$OUT/$name.status.json
	poll 10 settled "$ns" "$st" hedges_cancelled
	check "$name: status names the $LINE delay line" "$(cat "$st")" \
		grep -q "\"delay_line\":\"$LINE\"" "$st"
	if [ "$LINE" = tick ]; then
		check "$name: the tick is going round" "$(cat "$st")" \
			[ "$(json "$st" ticks)" -gt 0 ]
	fi
	sent=$(json "$st" hedges_sent)
	check "$name: status counts every request" "requests $(json "$st" requests), want $N" \
		[ "$(json "$st" requests)" = $N ]
	check "$name: status counts every first response" "responses $(json "$st" responses), want $N" \
		[ "$(json "$st" responses)" = $N ]
	check "$name: every stalled ID was hedged ($sent hedges)" "too few hedges" \
		[ "$sent" -ge $((N / 50)) ]
	check "$name: every clone was sent or cancelled" \
		"sent $sent + cancelled $(json "$st" hedges_cancelled) != $N" \
		[ $((sent + $(json "$st" hedges_cancelled))) = $N ]
	check "$name: every late response was dropped in the kernel" \
		"duplicates $(json "$st" duplicates_dropped) != hedges $sent" \
		[ "$(json "$st" duplicates_dropped)" = "$sent" ]
	server_counts "$SERVER_PID" $OUT/server.err
	check "$name: the server saw each hedge" "$(tail -2 $OUT/server.err)" \
		grep -q "duplicates=$sent " $OUT/server.err

	check "$name: hedge down" "down failed" \
		sh -c "ip netns exec $ns $HEDGE down >/dev/null"
	same_snapshot "$name: after down, links/qdiscs/filters/bpffs/sysctls are as before up" "$ns" "$before"
}

# ---- client and server on lo, as in the seed
netns_add hedget-lo
if want lo; then
	start_server hedget-lo 127.0.0.1
	hedged_run $LINE-lo hedget-lo 127.0.0.1 lo
	stop_server
fi

# ---- client and server in two namespaces joined by a veth pair
netns_add hedget-c
netns_add hedget-s
ip link add hveth-c netns hedget-c type veth peer name hveth-s netns hedget-s
ip -n hedget-c addr add 10.99.0.1/24 dev hveth-c
ip -n hedget-s addr add 10.99.0.2/24 dev hveth-s
ip -n hedget-c link set hveth-c up
ip -n hedget-s link set hveth-s up
if want veth; then
	start_server hedget-s 10.99.0.2
	hedged_run $LINE-veth hedget-c 10.99.0.2 hveth-c
	stop_server
fi

# ---- the same over IPv6: on lo, and across the veth pair
if want lo6; then
	start_server hedget-lo ::1
	hedged_run $LINE-lo6 hedget-lo ::1 lo
	stop_server
fi
ip -n hedget-c addr add fd00:99::1/64 dev hveth-c nodad
ip -n hedget-s addr add fd00:99::2/64 dev hveth-s nodad
ip -n hedget-s addr add fd00:99::3/64 dev hveth-s nodad
ip -n hedget-s addr add 10.99.0.3/24 dev hveth-s
if want veth6; then
	start_server hedget-s fd00:99::2
	hedged_run $LINE-veth6 hedget-c fd00:99::2 hveth-c
	stop_server
fi

# replica_run NAME PRIMARY REPLICA [mutual]: hedges go to a second server
# (healthy: no stalls) and its answers reach the client, whose socket is
# connect()ed to the primary, as the primary's. With "mutual" the second
# server is a target too, hedged to the first: each other's replicas.
replica_run() {
	local name=$1 primary=$2 replica=$3 st sent won replica_pid targets
	: >$OUT/replica.out
	ip netns exec hedget-s bench/chaos_server --quiet --rate 0 --addr "$replica" \
		>$OUT/replica.out 2>$OUT/replica.err &
	replica_pid=$!
	start_server hedget-s "$primary"
	ready $OUT/replica.out "replica chaos server"
	before=$OUT/$name.before
	snapshot hedget-c >"$before"
	targets="--target $(endpoint $primary),$(endpoint $replica)"
	[ "${4:-}" = mutual ] && targets="$targets --target $(endpoint $replica),$(endpoint $primary)"
	ip netns exec hedget-c $UP --dev hveth-c $targets >/dev/null 2>$OUT/up.err; rc=$?
	check "$name: hedge up $targets" "up failed (exit $rc): $(cat $OUT/up.err)" [ $rc = 0 ]
	run_client hedget-c "$primary" "$name" 400000
	check "$name: every request answered (no timeout)" "$(cat $OUT/$name.json)" \
		[ "$(json $OUT/$name.json timeouts)" = 0 ]
	check "$name: no stray or second answer reaches the connected client" \
		"$(json $OUT/$name.json strays) strays" [ "$(json $OUT/$name.json strays)" = 0 ]
	check "$name: stalled requests answered by the replica in < ${STALL_BOUND_MS} ms" \
		"slowest stalled: $(stalled_max_ms $OUT/$name.csv) ms" \
		[ "$(stalled_max_ms $OUT/$name.csv)" -lt $STALL_BOUND_MS ]
	st=$OUT/$name.status.json
	poll 10 settled hedget-c "$st" hedges_won hedges_lost
	sent=$(json "$st" hedges_sent)
	# Each stalled ID's hedge wins; a request merely slow (a busy host)
	# may be hedged too, and then its primary may answer first.
	won=$(json "$st" hedges_won)
	check "$name: every stalled ID was hedged and the replica won ($sent sent, $won won, $(json "$st" hedges_lost) lost)" \
		"$(cat "$st")" [ "$won" -ge $((N / 50)) -a $((won + $(json "$st" hedges_lost))) = "$sent" ]
	check "$name: the primary's late answers were dropped in the kernel" \
		"duplicates $(json "$st" duplicates_dropped) != hedges $sent" \
		[ "$(json "$st" duplicates_dropped)" = "$sent" ]
	server_counts "$SERVER_PID" $OUT/server.err
	server_counts "$replica_pid" $OUT/replica.err
	check "$name: the replica got the hedges, the primary none" \
		"primary: $(tail -1 $OUT/server.err); replica: $(tail -1 $OUT/replica.err)" \
		sh -c "grep -q 'received=$sent ' $OUT/replica.err && grep -q 'duplicates=0 ' $OUT/server.err"
	check "$name: hedge down" "down failed" sh -c "ip netns exec hedget-c $HEDGE down >/dev/null"
	same_snapshot "$name: after down, the client namespace is as before up" hedget-c "$before"
	kill "$replica_pid"; wait "$replica_pid" 2>/dev/null
	stop_server
}
want replica && replica_run $LINE-replica 10.99.0.2 10.99.0.3
want replica6 && replica_run $LINE-replica6 fd00:99::2 fd00:99::3
want mutual && replica_run $LINE-mutual 10.99.0.2 10.99.0.3 mutual

if want coexist; then
# ---- beside another tool's clsact and filters, run without ip netns exec
# (pins then go to the host's bpffs, and `down` must remove them)
NS=hedget-lo
ip netns exec $NS tc qdisc add dev lo clsact
ip netns exec $NS tc filter add dev lo ingress pref 7 bpf bytecode '1,6 0 0 0,'
ip netns exec $NS tc filter add dev lo egress pref 7 bpf bytecode '1,6 0 0 0,'
before=$OUT/$LINE-coexist.before
snapshot $NS >"$before"
start_server $NS 127.0.0.1
# --attach tc: beside another tool on clsact (tests/attach.sh has TCX).
nsenter --net=/run/netns/$NS $UP --attach tc --target 127.0.0.1:9000 >/dev/null 2>$OUT/up.err; rc=$?
check "$LINE-coexist: hedge up outside ip netns exec" "up failed (exit $rc): $(cat $OUT/up.err)" [ $rc = 0 ]
check "$LINE-coexist: hedge's filters sit beside the other tool's" "$(tc -n $NS filter show dev lo ingress)" \
	sh -c "tc -n $NS filter show dev lo ingress | grep -q hedge_watcher &&
	       tc -n $NS filter show dev lo ingress | grep -q bytecode &&
	       tc -n $NS filter show dev lo egress | grep -q hedge_splitter &&
	       tc -n $NS filter show dev lo egress | grep -q bytecode"
check "$LINE-coexist: maps pinned in the host's bpffs" "$(ls -R /sys/fs/bpf)" \
	sh -c "ls /sys/fs/bpf/hedge-net*/hedge_config >/dev/null"
run_client $NS 127.0.0.1 $LINE-coexist 300000
check "$LINE-coexist: stalled requests still hedged" "slowest stalled: $(stalled_max_ms $OUT/$LINE-coexist.csv) ms" \
	[ "$(stalled_max_ms $OUT/$LINE-coexist.csv)" -lt $STALL_BOUND_MS ]
check "$LINE-coexist: status with only CAP_NET_ADMIN and CAP_BPF, through the pins" \
	"$(nsenter --net=/run/netns/$NS setpriv --bounding-set=-all,+net_admin,+bpf $HEDGE status 2>&1)" \
	sh -c "nsenter --net=/run/netns/$NS setpriv --bounding-set=-all,+net_admin,+bpf $HEDGE status | grep -q 'requests $N'"
check "$LINE-coexist: status from another mount namespace (ip netns exec)" "no status" \
	sh -c "ip netns exec $NS $HEDGE status | grep -q 'requests $N'"
nsenter --net=/run/netns/$NS $HEDGE down >/dev/null
same_snapshot "$LINE-coexist: down removes only hedge's filters, pins and nothing else" $NS "$before"
stop_server
fi

if want gone; then
# ---- the hedged device deleted while up: down still cleans up
NS=hedget-gone
netns_add $NS
before=$OUT/$LINE-gone.before
snapshot $NS >"$before"
ip -n $NS link add hgone0 type veth peer name hgone1
ip -n $NS link set hgone0 up
ip netns exec $NS $UP --dev hgone0 --target 10.98.0.2:9000 >/dev/null 2>$OUT/up.err; rc=$?
check "$LINE-gone: hedge up on hgone0" "up failed (exit $rc): $(cat $OUT/up.err)" [ $rc = 0 ]
ip -n $NS link del hgone0
check "$LINE-gone: down succeeds after the device went away" "down failed" \
	sh -c "ip netns exec $NS $HEDGE down >/dev/null"
same_snapshot "$LINE-gone: and leaves nothing behind" $NS "$before"
fi
finish
