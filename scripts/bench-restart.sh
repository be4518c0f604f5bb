#!/usr/bin/env bash
# Restart side by side: Vigil and Prometheus 3.15 scrape the same synthetic targets for DURATION
# seconds, then each is killed with SIGKILL and restarted alone (time to /-/ready, to the first
# /api/v1/query answering with data, CPU and peak RSS of the restart), then stopped cleanly
# (SIGTERM; Prometheus runs with --enable-feature=memory-snapshot-on-shutdown, Vigil with its
# default head snapshot) and restarted again. One JSON line per restart goes to
# $BENCH_OUT/restart.jsonl, and a table to stdout.
#
#   scripts/bench-restart.sh                      # 20 targets x 10k series = 200k series, 10 min
#   TARGETS=100 DURATION=1800 scripts/bench-restart.sh   # the issue's 1M series, 30 min
#
# Env: VIGIL_BIN (bin/vigil), PROM_BIN (/tmp/peers/prometheus3), TARGETS, METRICS (50 gauges
# and 50 counters per target), SERIES_PER_METRIC (100), SCRAPE_INTERVAL (15s), SCRAPE_TIMEOUT
# (10s), DURATION (600), WORK_DIR
# (/tmp/bench-restart), BENCH_OUT (WORK_DIR), BASE_PORT (26000: Vigil +90, Prometheus +91,
# targets +101..). Only processes this script started are signalled.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
VIGIL_BIN=${VIGIL_BIN:-$ROOT/bin/vigil}
PROM_BIN=${PROM_BIN:-/tmp/peers/prometheus3}
TARGETS=${TARGETS:-20}
SERIES_PER_METRIC=${SERIES_PER_METRIC:-100}
METRICS=${METRICS:-50} # gauges and counters each, per target
SCRAPE_INTERVAL=${SCRAPE_INTERVAL:-15s}
SCRAPE_TIMEOUT=${SCRAPE_TIMEOUT:-10s}
DURATION=${DURATION:-600}
WORK_DIR=${WORK_DIR:-/tmp/bench-restart}
BENCH_OUT=${BENCH_OUT:-$WORK_DIR}
BASE_PORT=${BASE_PORT:-26000}
VPORT=$((BASE_PORT + 90)) PPORT=$((BASE_PORT + 91)) GPORT=$((BASE_PORT + 101))
SHARED=${SHARED:-$ROOT/../shared}

for b in "$VIGIL_BIN" "$PROM_BIN"; do [[ -x $b ]] || { echo "missing $b (make build; ../shared/bench/peers.sh)" >&2; exit 2; }; done
RUN=$WORK_DIR/run-$(date +%s)
mkdir -p "$RUN" "$BENCH_OUT"
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

[[ -x $WORK_DIR/avagen ]] || (cd "$SHARED/bench/gen" && go build -o "$WORK_DIR/avagen" .)
"$WORK_DIR/avagen" --instances="$TARGETS" --port="$GPORT" --gauge-metric-count="$METRICS" \
  --counter-metric-count="$METRICS" --series-count="$SERIES_PER_METRIC" --value-interval=15 >"$RUN/avagen.log" 2>&1 &
GEN=$!; PIDS+=("$GEN")
targets=$(for i in $(seq 0 $((TARGETS - 1))); do printf "'127.0.0.1:%d'," $((GPORT + i)); done)
cat >"$RUN/prometheus.yml" <<YML
global: {scrape_interval: $SCRAPE_INTERVAL, scrape_timeout: $SCRAPE_TIMEOUT}
scrape_configs:
  - job_name: avalanche
    static_configs: [{targets: [${targets%,}]}]
YML

start() { # name → pid in $PID
  local name=$1 port data
  if [[ $name == vigil ]]; then port=$VPORT; data=$RUN/vigil-data
    "$VIGIL_BIN" --config.file="$RUN/prometheus.yml" --storage.tsdb.path="$data" --web.listen-address=127.0.0.1:$port \
      --storage.tsdb.retention.time=1d >>"$RUN/vigil.log" 2>&1 &
  else port=$PPORT; data=$RUN/prom-data
    "$PROM_BIN" --config.file="$RUN/prometheus.yml" --storage.tsdb.path="$data" --web.listen-address=127.0.0.1:$port \
      --storage.tsdb.retention.time=1d --enable-feature=memory-snapshot-on-shutdown >>"$RUN/prom.log" 2>&1 &
  fi
  PID=$!; PIDS+=("$PID")
}
port_of() { [[ $1 == vigil ]] && echo $VPORT || echo $PPORT; }
now() { date +%s.%N; }
cpu_s() { awk -v t="$(getconf CLK_TCK)" '{print ($14+$15)/t}' "/proc/$1/stat"; }
hwm_mb() { awk '/VmHWM/{print $2/1024}' "/proc/$1/status"; }
head_series() { curl -sf "http://127.0.0.1:$(port_of "$1")/metrics" | awk '/^prometheus_tsdb_head_series /{print $2}'; }
query() { curl -sf "http://127.0.0.1:$(port_of "$1")/api/v1/query" --data-urlencode "query=$2" | jq -r '.data.result[0].value[1] // empty'; }

# restart NAME MODE: start NAME on its data and time it. Prints a JSON line.
restart() {
  local name=$1 mode=$2 t0 tready= tquery= port
  port=$(port_of "$name")
  t0=$(now); start "$name"; local pid=$PID
  while :; do
    kill -0 "$pid" 2>/dev/null || { echo "$name exited during restart" >&2; return 1; }
    [[ -z $tready ]] && curl -sf -o /dev/null "http://127.0.0.1:$port/-/ready" && tready=$(now)
    if [[ -n $tready ]]; then
      # last_over_time: the data may be older than the 5 min lookback by the time a server is up.
      local v; v=$(query "$name" 'count(last_over_time(avalanche_metric_mmmmm_0_0[1h]))' || true)
      [[ -n $v && $v != 0 ]] && { tquery=$(now); break; }
    fi
    sleep 0.05
  done
  local cpu hwm series load
  cpu=$(cpu_s "$pid"); hwm=$(hwm_mb "$pid"); load=$(cut -d' ' -f1 /proc/loadavg)
  series=$(head_series "$name" || echo 0)
  jq -nc --arg server "$name" --arg mode "$mode" --argjson ready "$(echo "$tready - $t0" | bc)" \
    --argjson query "$(echo "$tquery - $t0" | bc)" --argjson cpu "$cpu" --argjson rss "$hwm" \
    --argjson load "$load" --arg series "$series" --argjson targets "$TARGETS" --argjson duration "$DURATION" \
    '{server:$server, mode:$mode, ready_s:$ready, first_query_s:$query, cpu_s:$cpu, peak_rss_mb:$rss, head_series:($series|tonumber), load1:$load, targets:$targets, ingest_s:$duration}' \
    | tee -a "$BENCH_OUT/restart.jsonl"
  RESTARTED=$pid
}

echo "ingesting: $TARGETS targets x $((2 * METRICS * SERIES_PER_METRIC)) series for ${DURATION}s into both servers ($RUN)" >&2
start vigil; V=$PID; start prometheus; P=$PID
sleep "$DURATION"
# Both must hold the same data: every target up, the same series.
for n in vigil prometheus; do
  echo "$n head series: $(head_series $n), targets up: $(query $n 'count(up == 1)'), series with samples: $(query $n 'count({__name__=~"avalanche_.+"})')" >&2
done
# No targets while restarting: each restart has the machine to itself (and the other helpers).
# Stopped (not SIGSTOPped) targets refuse connections, so scrapes fail at once instead of
# hanging until their timeout.
kill -9 "$GEN"; wait "$GEN" 2>/dev/null || true
kill -9 "$V" "$P"; wait "$V" "$P" 2>/dev/null || true
for n in vigil prometheus; do
  restart "$n" kill9 >/dev/null
  pid=$RESTARTED; t0=$(now); kill -TERM "$pid"; wait "$pid" 2>/dev/null || true
  echo "$n clean shutdown took $(echo "$(now) - $t0" | bc) s" >&2
  restart "$n" clean >/dev/null
  kill -TERM "$RESTARTED"; wait "$RESTARTED" 2>/dev/null || true
done
echo
echo "| server | restart after | to /-/ready (s) | to first query (s) | CPU (s) | peak RSS (MB) | head series | load1 |"
echo "|---|---|---|---|---|---|---|---|"
tail -4 "$BENCH_OUT/restart.jsonl" | jq -r '"| \(.server) | \(.mode) | \(.ready_s) | \(.first_query_s) | \(.cpu_s) | \(.peak_rss_mb|floor) | \(.head_series) | \(.load1) |"'
