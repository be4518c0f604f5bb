#!/usr/bin/env bash
# upstream-diff: what changed upstream in code Vigil ported.
#
# Every UPSTREAM file in the tree names an upstream Go module, the version the port matches, the
# folder in the module and the ported files. For each, this prints the diff of those files
# upstream between the pinned version and a newer one: the version go.mod requires, or the one
# given as argument. With --local it prints instead how Vigil's files differ from upstream at
# the pinned version (what the port changed). Modules come from the module cache, downloaded
# with `go mod download` when missing.
#
#   scripts/upstream-diff.sh                 # pinned → go.mod's version
#   scripts/upstream-diff.sh v0.316.0        # pinned → v0.316.0
#   scripts/upstream-diff.sh --local         # pinned upstream → Vigil's files
#   UPSTREAM_FILES=discovery/kubernetes/UPSTREAM scripts/upstream-diff.sh   # one port only
#
# Exit status: 0 when nothing differs, 1 when something does, 2 on errors (as diff).
set -euo pipefail
cd "$(dirname "$0")/.."

local_mode=false
target=""
for a in "$@"; do
	case "$a" in
	--local) local_mode=true ;;
	-h | --help)
		sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'
		exit 0
		;;
	v*) target="$a" ;;
	*)
		echo "upstream-diff: unknown argument $a" >&2
		exit 2
		;;
	esac
done

moddir() { # module version → its folder in the module cache
	local dir
	dir=$(go mod download -json "$1@$2" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p')
	if [ -z "$dir" ] || [ ! -d "$dir" ]; then
		echo "upstream-diff: cannot download $1@$2" >&2
		exit 2
	fi
	echo "$dir"
}

files=${UPSTREAM_FILES:-$(find . -name UPSTREAM -type f -not -path './.git/*' -not -path '*/node_modules/*' | sort)}
status=0
for u in $files; do
	here=$(dirname "$u")
	module=$(awk '$1 == "module" {print $2}' "$u")
	pinned=$(awk '$1 == "version" {print $2}' "$u")
	dir=$(awk '$1 == "dir" {print $2}' "$u")
	ported=$(awk '$1 == "files" {for (i = 2; i <= NF; i++) print $i}' "$u")
	if [ -z "$module" ] || [ -z "$pinned" ] || [ -z "$ported" ]; then
		echo "upstream-diff: $u needs module, version and files lines" >&2
		exit 2
	fi
	old=$(moddir "$module" "$pinned")/$dir
	if $local_mode; then
		echo "### $here: Vigil's port against $module@$pinned/$dir"
		for f in $ported; do
			diff -u --label "upstream@$pinned/$dir/$f" --label "$here/$f" "$old/$f" "$here/$f" || status=1
		done
		continue
	fi
	to=$target
	if [ -z "$to" ]; then
		to=$(go list -m -f '{{.Version}}' "$module")
	fi
	if [ "$to" = "$pinned" ]; then
		echo "### $here: pinned $module@$pinned is the version go.mod requires; nothing to compare (give a newer version as argument)"
		continue
	fi
	new=$(moddir "$module" "$to")/$dir
	echo "### $here: $module $pinned → $to ($dir)"
	for f in $ported; do
		if [ ! -e "$new/$f" ]; then
			echo "--- $f: removed upstream in $to"
			status=1
			continue
		fi
		diff -u --label "$pinned/$dir/$f" --label "$to/$dir/$f" "$old/$f" "$new/$f" || status=1
	done
	# Files upstream added next to the ported ones.
	for f in $(cd "$new" && ls); do
		if [ ! -e "$old/$f" ]; then
			echo "+++ $f: new upstream in $to"
			status=1
		fi
	done
done
exit $status
