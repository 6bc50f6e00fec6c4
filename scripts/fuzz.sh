#!/bin/sh
# Runs every Go fuzz target in the module for FUZZTIME each, one after the
# other, and prints a table of executions and new corpus entries per
# target (the figures in docs/reliability.md). A crash stops the run; Go
# writes the input to the package's testdata/fuzz/<Target>/ so plain
# `go test` replays it from then on.
#
#   scripts/fuzz.sh 60s [parallel]
set -eu
time=${1:-60s}
par=${2:-}
go=${GO:-go}
log=$(mktemp)
trap 'rm -f "$log"' EXIT
printf '| target | package | time | execs | execs/s | new inputs | corpus |\n|---|---|---|---|---|---|---|\n' >"$log.table"
for f in $(grep -rl --include='*_test.go' '^func Fuzz' . | grep -v node_modules | sort); do
	pkg=./$(dirname "${f#./}")
	for name in $(sed -n 's/^func \(Fuzz[A-Za-z0-9_]*\)(.*/\1/p' "$f"); do
		echo "== $pkg $name ($time)" >&2
		$go test -run '^$' -fuzz "^$name\$" -fuzztime "$time" ${par:+-parallel "$par"} "$pkg" 2>&1 | tee "$log" >&2
		# The last progress line: "fuzz: elapsed: 1m0s, execs: 123 (2/sec), new interesting: 4 (total: 20)"
		line=$(grep 'fuzz: elapsed:' "$log" | tail -1)
		# The rate on the last line covers its last interval only: use the
		# whole run's.
		n=$(echo "$line" | sed -n 's/.*execs: \([0-9]*\) .*/\1/p')
		secs=$(echo "$time" | sed -n 's/^\([0-9]*\)s$/\1/p')
		execs="${n:-?} | $([ -n "$n" ] && [ -n "$secs" ] && echo $((n / secs)) || echo ?)"
		newi=$(echo "$line" | sed -n 's/.*new interesting: \([0-9]*\) (total: \([0-9]*\)).*/\1 | \2/p')
		printf '| %s | %s | %s | %s | %s |\n' "$name" "$pkg" "$time" "${execs:-? | ?}" "${newi:-? | ?}" >>"$log.table"
	done
done
cat "$log.table"
rm -f "$log.table"
