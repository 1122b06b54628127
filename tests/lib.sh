# tests/lib.sh - shared by the test scripts: results, netns, snapshots.
# Every check prints "PASS name", "FAIL name: why" or "SKIP name: why";
# tests/run counts them. Every script runs under `set -u` and calls finish
# as its last line: tests/runtest fails a script that never printed its
# "DONE script" line (it died midway).
set -u

HEDGE=${HEDGE:-$PWD/hedge}

pass() { echo "PASS $1"; }
fail() { echo "FAIL $1: $2"; }
skip() { echo "SKIP $1: $2"; }
finish() { echo "DONE ${0##*/}"; }
check() {	# check NAME WHY COMMAND...: PASS if COMMAND succeeds
	local name=$1 why=$2
	shift 2
	if "$@"; then pass "$name"; else fail "$name" "$why"; fi
}
# ok NAME COMMAND...: COMMAND (a hedge up, a down) exits 0; the FAIL says
# how it exited and what it wrote on stderr, from this run.
ok() {
	local name=$1 err rc
	shift
	err=$("$@" 2>&1 >/dev/null)
	rc=$?
	check "$name" "exit $rc: $err" [ $rc = 0 ]
}

# expect NAME RC PATTERN COMMAND...: COMMAND exits RC and its stderr is one
# line starting "hedge: " that matches PATTERN (grep -E).
expect() {
	local name=$1 rc=$2 pattern=$3 out got
	shift 3
	out=$("$@" 2>&1 >/dev/null)
	got=$?
	if [ "$got" != "$rc" ]; then
		fail "$name" "exit $got, wanted $rc (stderr: $out)"
	elif [ "$(printf '%s\n' "$out" | wc -l)" != 1 ] ||
	     ! printf '%s' "$out" | grep -q '^hedge: ' ||
	     ! printf '%s' "$out" | grep -Eq -- "$pattern"; then
		fail "$name" "stderr not one 'hedge: ' line matching /$pattern/: $out"
	else
		pass "$name"
	fi
}

# poll SECONDS COMMAND...: COMMAND again every 0.1 s until it succeeds, for
# SECONDS at most (10 tries a second at most); its last exit status. For
# what a test waits for (counters settled, a line written) in place of a
# fixed sleep: a healthy run gets there soon however busy the host, a
# faulty one never, and the check after the wait fails as it would have.
poll() {
	local n=$1 end=$((SECONDS + $1)) i
	shift
	for ((i = 0; i < n * 10; i++)); do
		"$@" && return 0
		[ $SECONDS -lt $end ] || return 1
		sleep 0.1
	done
	return 1
}

# ready FILE WHAT: WHAT (a server, a capture) writes "ready" to FILE when
# it listens: wait for it, 5 s at most. If it never does, a FAIL line that
# names it (and 1), so that what fails after is not taken for the cause.
ready() {
	poll 5 grep -q ready "$1" && return 0
	fail "$2 starts" "no 'ready' in ${1##*/} in 5 s: $(tail -c 200 "$1" 2>/dev/null | tr '\n' ' ')"
	return 1
}

# server_counts PID FILE: bench/chaos_server PID prints its counters on
# SIGUSR1 to FILE (its stderr): waits for that new last line, 5 s at most.
server_counts() {
	local before
	before=$(grep -c '^chaos_server: received=' "$2")
	kill -USR1 "$1" || return 1
	poll 5 sh -c "[ \$(grep -c '^chaos_server: received=' '$2') -gt $before ]"
}

# Network namespaces made by a test are named hedget-*, removed on exit.
NETNS_MADE=""
# need LABEL HINT TOOL...: every TOOL (a command, or a path with a /) is
# there, or one FAIL naming what is missing and how to get it: never a skip.
need() {
	local label=$1 hint=$2 t missing=""
	shift 2
	for t; do
		case $t in
		*/*) [ -x "$t" ] || missing="$missing $t" ;;
		*) command -v "$t" >/dev/null || missing="$missing $t" ;;
		esac
	done
	[ -z "$missing" ] && return 0
	fail "$label" "missing:$missing ($hint)"
	return 1
}
netns_add() { ip netns add "$1" && NETNS_MADE="$NETNS_MADE $1" &&
	ip -n "$1" link set lo up; }
netns_cleanup() {
	local ns pids
	for ns in $NETNS_MADE; do
		# Whatever a test started there (a server it lost track of)
		# goes with its namespace: nothing outlives the test.
		pids=$(ip netns pids "$ns" 2>/dev/null)
		[ -n "$pids" ] && kill $pids 2>/dev/null
		ip netns del "$ns" 2>/dev/null
	done
	NETNS_MADE=""
}
trap netns_cleanup EXIT

# For the timing tests, each in one namespace $NS with one server ($server,
# started with `ip netns exec` so that $! is the server itself):
in_ns() { ip netns exec "$NS" "$@"; }
# field FILE KEY: the first number after "KEY": in one-line JSON.
field() { sed -n "s/.*\"$2\":\([0-9.]*\).*/\1/p" "$1" | head -1; }
server=""
stop_server() { [ -n "$server" ] && kill $server && wait $server 2>/dev/null; server=""; }
# On exit: the server, hedge in $NS, the namespaces.
ns_test_cleanup() { stop_server; [ -n "${NS:-}" ] && in_ns $HEDGE down >/dev/null 2>&1; netns_cleanup; }

# Everything hedge may touch in netns NS, as text: links, qdiscs, filters
# on every device, the sysctls the seed's design relaxed, and the host's
# bpffs (pins are made there when hedge runs without `ip netns exec`).
snapshot() {
	local ns=$1 dev batch
	# One tc for all filters: each process start costs ~1 s under TCG.
	batch=$(mktemp)
	ip -n "$ns" -o link show | sed 's/^[0-9]*: //'
	tc -n "$ns" qdisc show
	for dev in $(ip -n "$ns" -o link show | awk -F': ' '{print $2}' | cut -d@ -f1); do
		echo "filter show dev $dev ingress"
		echo "filter show dev $dev egress"
	done >"$batch"
	cat "$batch"
	tc -n "$ns" -batch "$batch"
	rm -f "$batch"
	# TCX programs (6.6+), which tc does not show.
	ip netns exec "$ns" build/tcx_test hooks
	find /sys/fs/bpf 2>/dev/null | sort
	ip netns exec "$ns" sh -c 'grep -H . /proc/sys/net/ipv4/conf/*/rp_filter \
		/proc/sys/net/ipv4/conf/*/accept_local /proc/sys/net/ipv4/conf/*/route_localnet'
}

# same_snapshot NAME NS BEFORE_FILE: NS is as it was when BEFORE was taken.
same_snapshot() {
	local now
	now=$(mktemp)
	snapshot "$2" >"$now"
	if diff -u "$3" "$now" >"$now.diff"; then pass "$1"
	else fail "$1" "state differs: $(grep '^[-+][^-+]' "$now.diff" | tr '\n' ' ' | cut -c1-400)"; fi
	rm -f "$now" "$now.diff"
}
