#!/bin/bash
# tests/benchcost.sh - bench/cost --quick works: it measures hedge down and
# up at 1 000 and 10 000 requests/s across its veth pair and writes a cost
# table with numbers in it, an SVG plot and the programs' run time by the
# kernel's accounting, and leaves no namespace, process or sysctl behind.
# A smoke test: no timing target (BENCHMARKS.md has the figures). Run as
# root from the checkout after `make hedge bench-tools`,
# under the shared test lock (bench/cost takes none here).
set -u
cd "$(dirname "$0")/.." || exit 1
. tests/lib.sh
OUT=tests/out/benchcost
rm -rf $OUT
mkdir -p $OUT

stats0=$(cat /proc/sys/kernel/bpf_stats_enabled)
timeout -k 5 240 bench/cost --quick --hedge "$HEDGE" --out $OUT >$OUT/stdout 2>$OUT/stderr
rc=$?
check "bench/cost --quick exits 0" "exit $rc: $(tail -n 3 $OUT/stderr | tr '\n' ' ')" [ $rc = 0 ]

# A row per rate: | answered | RATE | D / U | ... with a number in every
# CPU cell (machine CPU down and up, added), not "nan" or "-".
row_ok() {
	awk -F'|' -v r="$1" '
		$3 + 0 == r && $2 ~ /answered/ {
			found = 1
			for (i = 6; i <= 8; i++) {
				v = $i; sub(/\[.*/, "", v); gsub(/[* ]/, "", v)
				if (v !~ /^[-+]?[0-9]+(\.[0-9]+)?$/) bad = 1
			}
			if ($4 !~ /^ *[0-9]+ \/ [0-9]+ *$/) bad = 1
		}
		END { exit !(found && !bad) }' $OUT/table.md
}
for r in 1000 10000; do
	check "bench/cost --quick: the table has numbers at $r/s" \
		"$(cat $OUT/table.md 2>/dev/null | tr '\n' ' ' | cut -c1-600)" row_ok $r
done
check "bench/cost --quick: the summary holds the table" "no table in stdout" \
	grep -q '^| answered | 10000 |' $OUT/stdout
# Two series (non-idle time, busy jiffies), a point per rate each.
check "bench/cost --quick: a plot with a point per rate and series" \
	"$(grep -o '<title>[^<]*' $OUT/added-cpu.svg 2>&1 | tr '\n' ' ')" \
	python3 -c 'import sys, xml.dom.minidom as m
d = m.parse(sys.argv[1])
t = [c.getElementsByTagName("title")[0].firstChild.data
     for c in d.getElementsByTagName("circle")]
want = {"%s CPU, %s/s" % (w, r) for w in ("non-idle", "busy jiffies")
        for r in (1000, 10000)}
sys.exit(len(t) != 4 or {x for x in want if any(x in y for y in t)} != want)' \
	$OUT/added-cpu.svg
check "bench/cost --quick: hedge up ran (tick wake-ups counted)" "$(cat $OUT/runs.tsv)" \
	awk -F'\t' '$1 == "load" && $4 == "up" && $20 > 0 { n++ } END { exit n != 2 }' $OUT/runs.tsv
# Part k: hedge's programs' run time per request, by the kernel's
# accounting, a number at each rate; and the accounting switched back.
for r in 1000 10000; do
	check "bench/cost --quick: the programs' run time per request at $r/s" \
		"$(grep -A6 "kernel's accounting" $OUT/summary.md 2>&1 | tr '\n' ' ' | cut -c1-600)" \
		grep -Eq "^\| answered \| $r \| \*\*[0-9]+\.[0-9]+\*\* .* \| [0-9]+ \| [0-9]+ \| [0-9]+ \| [0-9]+ \| 1 \|$" $OUT/summary.md
done
check "bench/cost: kernel.bpf_stats_enabled put back ($stats0)" \
	"now $(cat /proc/sys/kernel/bpf_stats_enabled)" \
	[ "$(cat /proc/sys/kernel/bpf_stats_enabled)" = "$stats0" ]
made=$(sed -n 's/^\[cost\] namespaces: //p' $OUT/stderr)
left=0
for ns in $made; do [ -e "/run/netns/$ns" ] && left=$((left + 1)); done
check "bench/cost --quick: its namespaces ($made) are gone" "$left left" \
	[ -n "$made" -a "$left" = 0 ]
check "bench/cost: a bad option is refused (exit 2)" "accepted" \
	sh -c 'bench/cost --reps 0 >/dev/null 2>&1; [ $? = 2 ]'
finish
