#!/usr/bin/env bash
# Runs every Fuzz* target for a short time each: scripts/fuzz.sh 20s
set -euo pipefail
t=${1:-20s}
for f in $(grep -rl --include='*_test.go' '^func Fuzz' .); do
	d=$(dirname "$f")
	for name in $(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$f" | sed 's/^func //'); do
		echo "== $d $name"
		go test -run '^$' -fuzz "^${name}\$" -fuzztime "$t" "$d"
	done
done
