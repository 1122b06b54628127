#!/bin/bash
# tests/selftest.sh - the runner's own test: tests/runtest and its count on
# fake scripts that fail in each way a real one can (a FAIL hidden behind
# a PASS and exit 1, killed midway, hung, skipped, no DONE line, an unset
# variable under set -u), then a real script run against build/hedge-broken
# (whose BPF object the verifier rejects), which must read red. The fake
# runs' own PASS/FAIL lines stay in files: only this script's reach the
# count. Run as root from the checkout (the hedge-broken part uses netns).
set -u
cd "$(dirname "$0")/.." || exit 1
. tests/lib.sh
dir=$(mktemp -d)
trap 'rm -rf "$dir"; netns_cleanup' EXIT

fake() {	# fake NAME BODY: a script that sources lib.sh, then BODY
	printf 'set -u\ncd %q\n. tests/lib.sh\n%s\n' "$PWD" "$2" >"$dir/$1"
}
# runs NAME TIMEOUT WANT: runtest on fake NAME; its count must be WANT
# ("P passed, F failed, S skipped") and, if F > 0, runtest's exit 1.
runs() {
	local name=$1 limit=$2 want=$3 got rc
	tests/runtest -t "$limit" -d "$name" "$name" bash "$dir/$name" >"$dir/$name.out" 2>&1
	rc=$?
	got=$(tests/runtest --count "$dir/$name.out" | tail -1)
	check "runner: $name: $want (runtest exit $rc)" "got '$got': $(tr '\n' '|' <"$dir/$name.out")" \
		[ "$got" = "$want" ]
}
fake good 'pass "a"; finish'
fake pass-exit1 'pass "a"; exit 1; finish'
fake killed 'pass "a"; kill -9 $$; pass "b"; finish'
fake hangs 'pass "a"; sleep 60; finish'
fake skips 'skip "a" "no netem here"; finish'
fake no-done 'pass "a"'
fake unset-var 'pass "a"; echo "$no_such_variable"; pass "b"; finish'
fake fail-line 'fail "a" "wrong"; finish'
runs good 10 "1 passed, 0 failed, 0 skipped"
runs pass-exit1 10 "1 passed, 1 failed, 0 skipped"
runs killed 10 "1 passed, 1 failed, 0 skipped"
runs hangs 1 "1 passed, 1 failed, 0 skipped"
runs skips 10 "0 passed, 0 failed, 1 skipped"
runs no-done 10 "1 passed, 1 failed, 0 skipped"
runs unset-var 10 "1 passed, 1 failed, 0 skipped"
runs fail-line 10 "0 passed, 1 failed, 0 skipped"
check "runner: a count with a skip is not green" "exit 0" \
	eval '! tests/runtest --count "$dir/skips.out" >/dev/null'
check "runner: a green count is green" "exit 1" \
	eval 'tests/runtest --count "$dir/good.out" >/dev/null'

# A hedge whose BPF object the verifier rejects turns a real script red:
# the tick line end to end, a short run (its lo case, 50 requests, 1 stalls).
HEDGE=$PWD/build/hedge-broken E2E_LINE=tick E2E_REQUESTS=50 E2E_CASES=lo \
	tests/runtest -t 120 -d e2e.sh "e2e.sh (hedge-broken)" bash tests/e2e.sh >"$dir/broken.out" 2>&1
failed=$(grep -c '^FAIL ' "$dir/broken.out")
check "runner: e2e.sh with build/hedge-broken reads red ($failed FAIL lines)" \
	"$(tr '\n' '|' <"$dir/broken.out" | cut -c1-400)" \
	sh -c "[ $failed -ge 7 ] && grep -q '^FAIL tick-lo: hedge up: .*hedge: loading BPF program' '$dir/broken.out'"
finish
