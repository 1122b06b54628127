#!/bin/bash
# tests/killsafe.sh - issue 11 item 4: `hedge up` killed (SIGKILL) at 10
# points spread over its run, each followed by `down` and a snapshot equal
# to the one before `up`, then `up` succeeding and `down`; and interrupted
# (SIGINT, SIGTERM) at the same points: it rolls back, the snapshot equal
# right after it exits. Also filters left behind after someone deleted the
# delay line. In a namespace of its own, on lo.
set -u
cd "$(dirname "$0")/.." || exit 1
. tests/lib.sh
NS=hedget-kill
UP="$HEDGE up --target 127.0.0.1:9000"
kernel=$(uname -r)
netns_add $NS
trap 'in_ns $HEDGE down >/dev/null 2>&1; netns_cleanup' EXIT

# --attach of the point being tried: natively every other point on clsact
# (--attach tc), the others on TCX (auto); in the VM (6.1) clsact only.
ATT=""

# Everything, plus the TCX programs on lo (the snapshot has no TCX view).
state() { snapshot $NS; in_ns build/tcx_test list lo 2>/dev/null; }
state >/tmp/hedget-kill.before

# How long a whole `up` takes here: the kill points spread over it. The
# least of 3 natively (1 under TCG, ~8 s each): one up slowed by a busy
# host would spread the points past a quicker one's end, and the kills
# find it done (too few half-built states below, no fault of hedge's).
full_ms=""
for _ in $( [ -n "${HEDGE_VM:-}" ] && echo 1 || echo 1 2 3 ); do
	t0=$(date +%s%N); in_ns $UP >/dev/null; t1=$(date +%s%N)
	in_ns $HEDGE down >/dev/null
	ms=$(( (t1 - t0) / 1000000 ))
	[ -z "$full_ms" ] || [ $ms -lt $full_ms ] && full_ms=$ms
done
echo "# a whole up takes $full_ms ms on $kernel"

# kill_at SIG MS: start up, send SIG after MS ms; prints what it left:
# "done" (finished first, or killed on its way out once its work was
# done: a whole instance that `status` finds healthy), "clean" (nothing),
# "half" (something).
kill_at() {
	local pid left
	ip netns exec $NS $UP $ATT >/dev/null 2>&1 &
	pid=$!
	sleep "$(awk "BEGIN { print $2 / 1000 }")"
	kill -"$1" $pid 2>/dev/null
	wait $pid
	rc=$?
	if [ $rc = 0 ]; then echo done; return; fi
	# A kill near the end (under TCG an up's length varies by seconds)
	# may land after up committed: then the next up is rightly refused
	# as "already up" (the VM's run once failed so).
	left=$(in_ns $HEDGE status 2>/dev/null) &&
		case $left in "up on "*) echo done; return;; esac
	left=$(state)
	if [ "$left" = "$(cat /tmp/hedget-kill.before)" ]; then echo clean; else echo half; fi
}

# Under TCG (the VM) an `up` takes ~8 s, most of it in the verifier:
# early, mid and late there, for the netem line on clsact (both attach
# modes of the tick line are killed here natively, at alternate points).
if [ -n "${HEDGE_VM:-}" ]; then
	kill_pts="1 5 9" int_pts="5" term_pts="8"
else
	kill_pts="0 1 2 3 4 5 6 7 8 9" int_pts=$kill_pts term_pts="0 3 6"
fi
n_kill=$(echo $kill_pts | wc -w)
for sig in KILL INT TERM; do
	case $sig in KILL) pts=$kill_pts ;; INT) pts=$int_pts ;; TERM) pts=$term_pts ;; esac
	half=0
	for i in $pts; do
		ms=$(( full_ms * i / 10 ))
		ATT=""
		[ -z "${HEDGE_VM:-}" ] && [ $((i % 2)) = 1 ] && ATT="--attach tc"
		at="$ms ms${ATT:+ ($ATT)}"
		got=$(kill_at $sig $ms)
		[ "$got" = half ] && half=$((half + 1))
		if [ $sig = KILL ]; then
			err=$(in_ns $HEDGE down 2>&1 >/dev/null); rc=$?
			check "[$kernel] SIG$sig at $at ($got): down exits 0" "exit $rc: $err" [ $rc = 0 ]
		elif [ "$got" != done ]; then
			# rolled back: nothing left, without down
			now=$(state)
			check "[$kernel] SIG$sig at $at: up rolled back (state as before, no down)" \
				"$(diff <(echo "$now") /tmp/hedget-kill.before | grep '^[<>]' | tr '\n' ' ' | cut -c1-300)" \
				[ "$now" = "$(cat /tmp/hedget-kill.before)" ]
		fi
		in_ns $HEDGE down >/dev/null 2>&1
		now=$(state)
		check "[$kernel] SIG$sig at $at: after down, state as before up" \
			"$(diff <(echo "$now") /tmp/hedget-kill.before | grep '^[<>]' | tr '\n' ' ' | cut -c1-300)" \
			[ "$now" = "$(cat /tmp/hedget-kill.before)" ]
		if [ $sig = KILL ] && [ "$got" != done ]; then
			# the next up after a killed one (with its remains) succeeds
			# (if that one finished, its up is the one to replace)
			[ "$(kill_at KILL $ms)" = done ] && in_ns $HEDGE down >/dev/null
			ok "[$kernel] SIGKILL at $at: the next up succeeds" in_ns $UP $ATT
			ok "[$kernel] SIGKILL at $at: and down" in_ns $HEDGE down
		fi
	done
	echo "# SIG$sig: $half kills left a half-built state"
	if [ $sig = KILL ]; then
		check "[$kernel] SIGKILL: several kills landed mid-way ($half of $n_kill)" \
			"too few half-built states: the kill points miss up's run" \
			[ $half -ge $(( (n_kill * 3 + 9) / 10 )) ]
	fi
done

# The delay line deleted by someone else: down still removes hedge's
# programs on lo, and the next up succeeds.
in_ns $UP >/dev/null
ip -n $NS link del hedge-dl0
ok "[$kernel] delay line deleted by hand: down exits 0" in_ns $HEDGE down
now=$(state)
check "[$kernel] delay line deleted by hand: down removes hedge's programs on lo" \
	"$(diff <(echo "$now") /tmp/hedget-kill.before | grep '^[<>]' | tr '\n' ' ' | cut -c1-300)" \
	[ "$now" = "$(cat /tmp/hedget-kill.before)" ]
ok "[$kernel] delay line deleted by hand: the next up succeeds" in_ns $UP
ok "[$kernel] and down" in_ns $HEDGE down
rm -f /tmp/hedget-kill.before
finish
