# tests/tcp_cases.sh - more of tests/tcp.sh's cases, sourced by it (its
# network, server and helpers): each tcp_case_NAME runs when TCP_CASES
# names it (default "v6 window").
#
#   v6      the handshake hedged end to end over IPv6: the server on
#           [fd78::2] (nodad), 5% of its SYNs dropped, N connects without
#           and with `--target [fd78::2]:8080/tcp --delay 10ms`.
#   window  a full listen queue: the server drops every SYN for 2 s while
#           a connect starts every 50 ms. With the same server hedge cannot
#           help (its copy is dropped too, and the client's retransmissions
#           are not hedged again); it must do no harm: no connect fails,
#           none gets a RST, none takes longer than without hedge.

# Start a capture of the hedged handshakes and RSTs on tcp0 (CAPTURE_PID).
capture_start() {	# capture_start NAME
	ip netns exec $CNS timeout 320 python3 tests/tcp_capture.py tcp0 310 8080 \
		>$OUT/$1.json 2>$OUT/$1.err &
	CAPTURE_PID=$!
	ready $OUT/$1.err "tcp: capture $1"
}
capture_stop() {
	kill -TERM $CAPTURE_PID 2>/dev/null
	wait $CAPTURE_PID 2>/dev/null
	CAPTURE_PID=
}

tcp_case_v6() {
	local addr=fd78::2 target='[fd78::2]:8080/tcp' rst hs sent won
	start_tcp_server $addr
	connects base6 $addr
	check "tcp: IPv6: without hedge, all $N connects done" \
		"$(cat $OUT/base6.json $OUT/base6.err)" \
		[ "$(field $OUT/base6.json done)" = "$N" ]
	check "tcp: IPv6: without hedge, connect P99 >= 1000 ms at 5% SYN loss ($(field $OUT/base6.json p99_ms) ms)" \
		"$(cat $OUT/base6.json)" \
		awk "BEGIN { exit !($(field $OUT/base6.json p99_ms) + 0 >= 1000) }"
	ip netns exec $CNS $HEDGE up --dev tcp0 --delay-line $LINE \
		--target "$target" --delay 10ms >/dev/null 2>$OUT/up6.err
	check "tcp: IPv6: hedge up --target $target --delay 10ms" \
		"$(cat $OUT/up6.err)" [ $? = 0 ]
	capture_start capture6
	connects hedged6 $addr
	capture_stop
	check "tcp: IPv6: hedged, every connect done, none failed" \
		"$(cat $OUT/hedged6.json $OUT/hedged6.err)" \
		[ "$(field $OUT/hedged6.json done)" = "$N" -a \
		  "$(field $OUT/hedged6.json failed)" = 0 ]
	tail_checks IPv6 base6 hedged6
	rst=$(field $OUT/capture6.json rst_hedged)
	echo "INFO tcp: IPv6: capture $(cat $OUT/capture6.json)"
	check "tcp: IPv6: the capture saw the hedged connects" \
		"$(cat $OUT/capture6.json $OUT/capture6.err)" \
		[ "$(field $OUT/capture6.json connections)" = "$N" -a \
		  "$(field $OUT/capture6.json hedged)" -gt 0 ]
	check "tcp: IPv6: no hedged handshake got a RST (${rst:-?})" \
		"$(cat $OUT/capture6.json)" [ "$rst" = 0 ]
	ip netns exec $CNS $HEDGE status --json >$OUT/hedged6-status.json
	hs=$(field $OUT/hedged6-status.json handshakes)
	sent=$(field $OUT/hedged6-status.json hedges_sent)
	won=$(field $OUT/hedged6-status.json hedges_won)
	check "tcp: IPv6: status: $N handshakes ($hs), hedges sent ($sent) and won ($won)" \
		"$(head -c 600 $OUT/hedged6-status.json)" \
		[ "${hs:-0}" -ge "$N" -a "${sent:-0}" -ge 1 -a "${won:-0}" -ge 1 ]
	ip netns exec $CNS $HEDGE down >/dev/null 2>&1
	stop_tcp_server
}

# One window run: a connect every 50 ms for 6 s, every SYN dropped from
# 1 s to 3 s; its summary in $OUT/NAME.json.
window_run() {	# window_run NAME
	local f
	for f in on off; do
		{ echo "SNS=$SNS OUT=$OUT LOSSY=$LOSSY"
		  declare -f drop_syns undrop_syns
		  [ $f = on ] && echo "drop_syns 100" || echo "undrop_syns 100"
		} >$OUT/window-$f.sh
	done
	ip netns exec $CNS timeout 60 python3 tests/tcp_window.py 10.78.0.2 \
		8080 6 1 2 "bash $OUT/window-on.sh" "bash $OUT/window-off.sh" \
		>$OUT/$1.json 2>$OUT/$1.err
}

tcp_case_window() {
	local base=$OUT/window-base.json hedged=$OUT/window-hedged.json rst
	local b_max h_max o_max
	start_tcp_server 10.78.0.2
	undrop_syns 5		# only the window's losses here
	window_run window-base
	b_max=$(field $base window_max_ms)
	echo "INFO tcp: full queue 2 s, without hedge ($LOSSY): $(cat $base)"
	check "tcp: full queue: without hedge, no connect failed" \
		"$(cat $base $OUT/window-base.err)" \
		[ "$(field $base done)" = "$(field $base started)" -a \
		  "$(field $base failed)" = 0 -a "$(field $base in_window)" -ge 20 ]
	ip netns exec $CNS $HEDGE up --dev tcp0 --delay-line $LINE \
		--target 10.78.0.2:8080/tcp --delay 10ms >/dev/null 2>$OUT/upw.err
	check "tcp: full queue: hedge up" "$(cat $OUT/upw.err)" [ $? = 0 ]
	capture_start capturew
	window_run window-hedged
	capture_stop
	h_max=$(field $hedged window_max_ms)
	o_max=$(field $hedged outside_max_ms)
	rst=$(field $OUT/capturew.json rst_hedged)
	echo "INFO tcp: full queue 2 s, with hedge: $(cat $hedged); capture $(cat $OUT/capturew.json)"
	check "tcp: full queue: hedged, no connect failed" \
		"$(cat $hedged $OUT/window-hedged.err)" \
		[ "$(field $hedged done)" = "$(field $hedged started)" -a \
		  "$(field $hedged failed)" = 0 -a "$(field $hedged in_window)" -ge 20 ]
	check "tcp: full queue: hedges were sent into the window" \
		"$(cat $OUT/capturew.json)" [ "$(field $OUT/capturew.json hedged)" -ge 10 ] 2>/dev/null
	check "tcp: full queue: no hedged handshake got a RST (${rst:-?})" \
		"$(cat $OUT/capturew.json)" [ "$rst" = 0 ]
	# The client's own retransmissions (1 s, then 3 s after its SYN) get
	# through once the window ends, with or without hedge: its longest
	# connect is under 4 s either way (+0.5 s for a busy host).
	check "tcp: full queue: hedged, the window's connects no longer than without (${h_max:-?} ms vs ${b_max:-?} ms)" \
		"$(cat $base $hedged)" \
		awk "BEGIN { exit !(${h_max:-99999} <= 4500 && ${h_max:-99999} <= ${b_max:-0} + 500) }"
	check "tcp: full queue: hedged, connects outside the window are not slowed (${o_max:-?} ms)" \
		"$(cat $hedged)" \
		awk "BEGIN { exit !(${o_max:-99999} <= $HEDGED_BOUND_MS) }"
	ip netns exec $CNS $HEDGE down >/dev/null 2>&1
	stop_tcp_server
	drop_syns 5		# as it was
}
