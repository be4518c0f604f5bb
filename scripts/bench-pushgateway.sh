#!/usr/bin/env bash
# Memory of the Pushgateway API: pushes GROUPS groups of 100 series (10 gauge families x 10
# series, as a batch job would) with curl to a server and reports its RSS before and after, and
# the summed request time. Runs Vigil (twice: with the groups only, and after they were stored in
# the TSDB) and, if PGW_BIN is executable, the Pushgateway for comparison.
#
#   make build && scripts/bench-pushgateway.sh
#   PGW_BIN=/tmp/pgw-bin/pushgateway GROUPS=1000 PORT=25100 scripts/bench-pushgateway.sh
#
# Build the Pushgateway with: GOBIN=/tmp/pgw-bin go install github.com/prometheus/pushgateway@v1.11.5
set -euo pipefail
VIGIL_BIN=${VIGIL_BIN:-bin/vigil}
PGW_BIN=${PGW_BIN:-/tmp/pgw-bin/pushgateway}
GROUPS=${GROUPS:-1000}
PORT=${PORT:-25100}
WORK=${WORK_DIR:-/tmp/bench-push}
SETTLE=${SETTLE:-5}
rm -rf "$WORK" && mkdir -p "$WORK/bodies"

# One body per group.
awk -v n="$GROUPS" -v dir="$WORK/bodies" 'BEGIN {
	for (g = 0; g < n; g++) {
		f = dir "/" g
		for (m = 0; m < 10; m++) {
			printf "# HELP batch_metric_%d A batch job'"'"'s result number %d.\n# TYPE batch_metric_%d gauge\n", m, m, m > f
			for (s = 0; s < 10; s++) printf "batch_metric_%d{worker=\"w-%d\"} %d\n", m, s, g*100+m*10+s > f
		}
		close(f)
	}
}'

rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }

wait_ready() {
	for _ in $(seq 1 300); do
		if curl -sf "$1" >/dev/null 2>&1; then return 0; fi
		sleep 0.2
	done
	echo "server at $1 did not get ready" >&2
	return 1
}

# push_all BASE: PUT every group; prints the summed request time in seconds.
push_all() {
	local total=0 t
	for g in $(seq 0 $((GROUPS - 1))); do
		t=$(curl -sS -o /dev/null -w '%{http_code} %{time_total}' -X PUT --data-binary "@$WORK/bodies/$g" \
			"$1/metrics/job/batch/instance/host-$(printf %04d "$g")")
		if [ "${t%% *}" != 200 ]; then
			echo "push of group $g: HTTP ${t%% *}" >&2
			return 1
		fi
		total=$(awk -v a="$total" -v b="${t#* }" 'BEGIN {print a + b}')
	done
	echo "$total"
}

# measure NAME PID BASE [extra wait]: RSS before, push, RSS after.
measure() {
	local name=$1 pid=$2 base=$3 extra=${4:-0}
	sleep "$SETTLE"
	local before; before=$(rss_kb "$pid")
	local secs; secs=$(push_all "$base")
	sleep "$SETTLE"
	[ "$extra" != 0 ] && sleep "$extra"
	local after; after=$(rss_kb "$pid")
	printf '%-34s groups=%d series=%d rss_before=%.1fMB rss_after=%.1fMB extra=%.1fMB push_time_total=%.2fs (%.2fms/push)\n' \
		"$name" "$GROUPS" $((GROUPS * 100)) "$(echo "$before/1024" | bc -l)" "$(echo "$after/1024" | bc -l)" \
		"$(echo "($after-$before)/1024" | bc -l)" "$secs" "$(echo "$secs*1000/$GROUPS" | bc -l)"
}

cleanup() { for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done; }
PIDS=()
trap cleanup EXIT

cat >"$WORK/prometheus.yml" <<EOF
global:
  scrape_interval: 5s
scrape_configs: []
EOF

run_vigil() { # name interval
	local name=$1 interval=$2
	"$VIGIL_BIN" --config.file="$WORK/prometheus.yml" --storage.tsdb.path="$WORK/data-$name" \
		--web.listen-address="127.0.0.1:$PORT" --web.enable-pushgateway --pushgateway.interval="$interval" \
		>"$WORK/$name.log" 2>&1 &
	local pid=$!
	PIDS+=("$pid")
	wait_ready "http://127.0.0.1:$PORT/-/ready"
	if [ "$interval" = 1h ]; then
		measure "vigil (groups only)" "$pid" "http://127.0.0.1:$PORT"
	else
		measure "vigil (groups + stored in TSDB)" "$pid" "http://127.0.0.1:$PORT" 12
	fi
	kill "$pid"
	wait "$pid" 2>/dev/null || true
}

run_vigil groups-only 1h
run_vigil ingested 5s

if [ -x "$PGW_BIN" ]; then
	"$PGW_BIN" --web.listen-address="127.0.0.1:$((PORT + 1))" >"$WORK/pushgateway.log" 2>&1 &
	pid=$!
	PIDS+=("$pid")
	wait_ready "http://127.0.0.1:$((PORT + 1))/-/ready"
	measure "pushgateway $("$PGW_BIN" --version 2>&1 | awk 'NR==1 {print $3}')" "$pid" "http://127.0.0.1:$((PORT + 1))"
	kill "$pid"
	wait "$pid" 2>/dev/null || true
else
	echo "no Pushgateway at $PGW_BIN: skipped (see the header of this script)"
fi
