#!/bin/bash
# tests/docs.sh - the man page (issue 13, item 6): `hedge --help`, README.md's
# Usage block and hedge.8's OPTIONS name the same options, and the exit
# statuses of --help are hedge.8's; `make install DESTDIR=...` installs the
# binary and the page, which renders without a warning. No network: needs
# no lock. Run after `make hedge`.
set -u
cd "$(dirname "$0")/.." || exit 1
. tests/lib.sh
OUT=tests/out/docs
rm -rf $OUT
mkdir -p $OUT

# The options each names, one a line, sorted.
$HEDGE --help >$OUT/help.txt 2>&1
grep -o -- '--[a-z][a-z-]*' $OUT/help.txt | sort -u >$OUT/help
# README: the code block under "## Usage".
awk '/^## Usage/ { u = 1; next } u && /^```/ { if (b) exit; b = 1; next } b' \
	README.md | grep -o -- '--[a-z][a-z-]*' | sort -u >$OUT/readme
# hedge.8: the tag line after each .TP of the OPTIONS section.
awk '/^\.SH / { o = ($2 == "OPTIONS") } o && prev == ".TP" { print } { prev = $0 }' \
	hedge.8 | sed 's/\\-/-/g' | grep -o -- '^\.[BI]*R* *--[a-z][a-z-]*' |
	grep -o -- '--[a-z-]*' | sort -u >$OUT/man

check "docs: --help names options" "$(cat $OUT/help.txt | head -3)" \
	[ "$(wc -l <$OUT/help)" -ge 10 ]
for doc in readme man; do
	diff=$(diff $OUT/help $OUT/$doc | grep '^[<>]' | tr '\n' ' ')
	check "docs: --help and $doc name the same options" \
		"< only in --help, > only in $doc: $diff" [ -z "$diff" ]
done

# Exit statuses: --help's "Exit codes: 0 ok; 1 error; ..." and the .TP
# tags of hedge.8's EXIT STATUS.
tr '\n' ' ' <$OUT/help.txt | sed -n 's/.*Exit codes: \(.*\)/\1/p' |
	grep -o '[0-9] [a-z]*' | cut -c1 >$OUT/help.exit
awk '/^\.SH / { o = ($0 ~ /EXIT STATUS/) } o && prev == ".TP" { print } { prev = $0 }' \
	hedge.8 | grep -o '[0-9]' >$OUT/man.exit
check "docs: hedge.8 gives every exit status of --help" \
	"--help: $(tr '\n' ' ' <$OUT/help.exit), hedge.8: $(tr '\n' ' ' <$OUT/man.exit)" \
	sh -c "[ -s $OUT/help.exit ] && diff -q $OUT/help.exit $OUT/man.exit >/dev/null"

# make install into a staging directory; the installed page renders.
dest=$(mktemp -d)
trap 'rm -rf "$dest"' EXIT
make -s install DESTDIR="$dest" >$OUT/install 2>&1
check "docs: make install DESTDIR puts bin/hedge and share/man/man8/hedge.8" \
	"$(tail -3 $OUT/install; find "$dest" -type f)" \
	sh -c "[ -x '$dest/usr/local/bin/hedge' ] && cmp -s hedge.8 '$dest/usr/local/share/man/man8/hedge.8'"
"$dest/usr/local/bin/hedge" --version >$OUT/version 2>&1
check "docs: the installed hedge runs" "$(cat $OUT/version)" grep -q '^hedge ' $OUT/version
page=$dest/usr/local/share/man/man8/hedge.8
groff -ww -z -man "$page" >$OUT/groff 2>&1
check "docs: groff -ww -man: no warning" "$(head -3 $OUT/groff)" [ ! -s $OUT/groff ]
MANWIDTH=80 man --warnings -l "$page" >$OUT/rendered 2>$OUT/man.err
check "docs: man -l renders the installed page without a warning" \
	"$(head -3 $OUT/man.err)" \
	sh -c "[ ! -s $OUT/man.err ] && grep -q '^NAME' $OUT/rendered && grep -q 'EXIT STATUS' $OUT/rendered"
finish
