#!/usr/bin/env bash
# Memory of the Pushgateway API: pushes N_GROUPS groups of 100 series (10 gauge families x 10
# series, as a batch job would) with curl to a server and reports its RSS before and after, and
# the summed request time. Runs Vigil (twice: with the groups only, and after they were stored in
# the TSDB) and, if PGW_BIN is executable, the Pushgateway for comparison.
#
#   make build && scripts/bench-pushgateway.sh
#   PGW_BIN=/tmp/pgw-bin/pushgateway N_GROUPS=1000 PORT=25100 scripts/bench-pushgateway.sh
#
# Build the Pushgateway with: GOBIN=/tmp/pgw-bin go install github.com/prometheus/pushgateway@v1.11.5
# With PROM3_BIN (default /tmp/peers/prometheus3, from ../shared/bench/peers.sh) executable, a
# Prometheus 3 scraping the Pushgateway (honor_labels: true, every 5s) runs next to it and its
# RSS is measured too: the stack Vigil replaces. SKIP_VIGIL=1 runs only the peers.
set -euo pipefail
VIGIL_BIN=${VIGIL_BIN:-bin/vigil}
PGW_BIN=${PGW_BIN:-/tmp/pgw-bin/pushgateway}
PROM3_BIN=${PROM3_BIN:-/tmp/peers/prometheus3}
N_GROUPS=${N_GROUPS:-1000}
PORT=${PORT:-25100}
WORK=${WORK_DIR:-/tmp/bench-push}
SETTLE=${SETTLE:-5}
rm -rf "$WORK" && mkdir -p "$WORK/bodies"

# One body per group.
awk -v n="$N_GROUPS" -v dir="$WORK/bodies" 'BEGIN {
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
	for g in $(seq 0 $((N_GROUPS - 1))); do
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
		"$name" "$N_GROUPS" $((N_GROUPS * 100)) "$(echo "$before/1024" | bc -l)" "$(echo "$after/1024" | bc -l)" \
		"$(echo "($after-$before)/1024" | bc -l)" "$secs" "$(echo "$secs*1000/$N_GROUPS" | bc -l)"
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

if [ -z "${SKIP_VIGIL:-}" ]; then
	run_vigil groups-only 1h
	run_vigil ingested 5s
fi

if [ -x "$PGW_BIN" ]; then
	"$PGW_BIN" --web.listen-address="127.0.0.1:$((PORT + 1))" >"$WORK/pushgateway.log" 2>&1 &
	pid=$!
	PIDS+=("$pid")
	wait_ready "http://127.0.0.1:$((PORT + 1))/-/ready"
	ppid=
	if [ -x "$PROM3_BIN" ]; then
		cat >"$WORK/prometheus3.yml" <<EOF
global:
  scrape_interval: 5s
scrape_configs:
  - job_name: pushgateway
    honor_labels: true
    static_configs:
      - targets: ['127.0.0.1:$((PORT + 1))']
EOF
		"$PROM3_BIN" --config.file="$WORK/prometheus3.yml" --storage.tsdb.path="$WORK/data-prometheus3" \
			--web.listen-address="127.0.0.1:$((PORT + 2))" >"$WORK/prometheus3.log" 2>&1 &
		ppid=$!
		PIDS+=("$ppid")
		wait_ready "http://127.0.0.1:$((PORT + 2))/-/ready"
		sleep "$SETTLE"
		pbefore=$(rss_kb "$ppid")
	fi
	measure "pushgateway" "$pid" "http://127.0.0.1:$((PORT + 1))" 12
	if [ -n "$ppid" ]; then
		pafter=$(rss_kb "$ppid")
		printf '%-34s rss_before=%.1fMB rss_after=%.1fMB extra=%.1fMB (scraping the Pushgateway above)\n' "prometheus3" \
			"$(echo "$pbefore/1024" | bc -l)" "$(echo "$pafter/1024" | bc -l)" "$(echo "($pafter-$pbefore)/1024" | bc -l)"
		kill "$ppid"
		wait "$ppid" 2>/dev/null || true
	fi
	kill "$pid"
	wait "$pid" 2>/dev/null || true
else
	echo "no Pushgateway at $PGW_BIN: skipped (see the header of this script)"
fi
