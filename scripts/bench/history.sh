#!/usr/bin/env bash
# History benchmark (docs/performance.md): HIST_DAYS of HIST_SERIES node_exporter-like series at
# HIST_INTERVAL, written by scripts/bench/scalegen --history into a Vigil TSDB (Vigil's tsdb), a
# Prometheus TSDB (upstream tsdb v0.315 = Prometheus 3.15's own code: head, WAL, compaction) and
# VictoriaMetrics (its import API), the newest hours left in the heads' WAL as in a live server.
# Then, per server: disk bytes per sample of the compacted data, and a range query over the whole
# span at 1 h step (latency of QUERY_RUNS runs, peak RSS of the server process).
#
#   scripts/bench/history.sh                      (make bench-side PROFILE=history)
#
# Env: HIST_SERVERS (vigil prometheus3 victoriametrics), HIST_SERIES (10000), HIST_DAYS (7), HIST_INTERVAL (15s), QUERY_RUNS (3), BENCH_OUT
# (/tmp/bench-scale; results in history.jsonl), HIST_PORT (28700), VIGIL_BIN (bin/vigil),
# PROMETHEUS3_BIN, VICTORIAMETRICS_BIN (/tmp/peers/...), KEEP_DATA=1 keeps the data dirs.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
HIST_SERIES=${HIST_SERIES:-10000}
HIST_DAYS=${HIST_DAYS:-7}
HIST_INTERVAL=${HIST_INTERVAL:-15s}
QUERY_RUNS=${QUERY_RUNS:-3}
SERVERS=${HIST_SERVERS:-vigil prometheus3 victoriametrics}
has() { [[ " $SERVERS " == *" $1 "* ]]; }
BENCH_OUT=${BENCH_OUT:-/tmp/bench-scale}
PORT=${HIST_PORT:-28700}
VIGIL_BIN=${VIGIL_BIN:-$ROOT/bin/vigil}
P3_BIN=${PROMETHEUS3_BIN:-${PEERS_DIR:-/tmp/peers}/prometheus3}
VM_BIN=${VICTORIAMETRICS_BIN:-${PEERS_DIR:-/tmp/peers}/victoria-metrics}
for b in "$VIGIL_BIN" "$P3_BIN" "$VM_BIN"; do
  [[ -x $b ]] || { echo "missing $b (make build; ../shared/bench/peers.sh for the peers)" >&2; exit 2; }
done
W=$BENCH_OUT/history-$(date +%Y%m%d-%H%M%S)
mkdir -p "$W"
RESULTS=$BENCH_OUT/history.jsonl
log() { echo "[$(date +%T)] $*" >&2; }
BASE=http://127.0.0.1:$PORT
PID=""
stop() { [[ -z $PID ]] && return; kill -TERM "$PID" 2>/dev/null || true
  for _ in $(seq 120); do kill -0 "$PID" 2>/dev/null || break; sleep 0.5; done
  kill -KILL "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; PID=""; }
trap stop EXIT
trap 'exit 130' INT TERM
if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then log "port $PORT is in use"; exit 1; fi
start() { # name, command...
  local name=$1; shift
  "$@" >"$W/$name.log" 2>&1 &
  PID=$!
  for _ in $(seq 1200); do
    curl -sf -o /dev/null "$BASE/api/v1/query?query=1" && return 0
    kill -0 "$PID" 2>/dev/null || { log "$name died; see $W/$name.log"; exit 1; }
    sleep 0.5
  done
  log "$name not ready after 600 s"; exit 1
}
cat >"$W/prometheus.yml" <<EOF
global:
  scrape_interval: 15s
scrape_configs: []
EOF
go build -o "$W/scalegen" ./scripts/bench/scalegen
span=$((HIST_DAYS * 24))h

# --- write the history into all three ---
sinks=()
has vigil && sinks+=(--vigil-dir="$W/vigil")
has prometheus3 && sinks+=(--prometheus-dir="$W/prometheus3")
if has victoriametrics; then
  sinks+=(--vm-url="$BASE")
  start victoriametrics-import "$VM_BIN" -storageDataPath="$W/vm" -httpListenAddr="127.0.0.1:$PORT" -retentionPeriod=30d -search.latencyOffset=0s
fi
log "writing $HIST_DAYS days of $HIST_SERIES series at $HIST_INTERVAL (load $(cut -d' ' -f1-3 /proc/loadavg))"
t0=$(date +%s)
"$W/scalegen" --history="$span" --history-series="$HIST_SERIES" --history-interval="$HIST_INTERVAL" \
  "${sinks[@]}" 2>&1 | tee "$W/scalegen.log" >&2
log "written in $(($(date +%s) - t0)) s"
if has victoriametrics; then
  curl -sf "$BASE/internal/force_flush" >/dev/null
  curl -sf "$BASE/internal/force_merge" >/dev/null || log "force_merge failed"
  for _ in $(seq 1200); do # wait for the merges to finish
    m=$(curl -s "$BASE/metrics" | awk '$1 ~ /^vm_active_(force_)?merges/ { s += $2 } END { print s + 0 }')
    [[ $m == 0 ]] && break; sleep 1
  done
  stop
fi
samples=$(grep -o '[0-9]* samples per sink' "$W/scalegen.log" | cut -d' ' -f1)
t_end=$(grep -o '\.\. [0-9T:-]*Z' "$W/scalegen.log" | head -1 | cut -c4-)
t_end=$(date -d "$t_end" +%s)

# blocks_b DIR: bytes and samples of the blocks (directories with a meta.json), WAL and head excluded.
blocks() {
  local b=0 s=0 d
  for d in "$1"/*/; do
    [[ -f $d/meta.json ]] || continue
    b=$((b + $(du -sb "$d" | cut -f1)))
    s=$((s + $(jq '.stats.numSamples' "$d/meta.json")))
  done
  echo "$b $s"
}

# --- per server: disk, then the range query ---
# node_cpu_seconds_total is ~80 % of the series (64-cpu nodes); the second query reads all of
# them (Prometheus 3 refuses it: rate() drops the names, the label sets collide).
QUERIES=('sum by (job) (rate(node_cpu_seconds_total[5m]))' 'sum by (job) (rate({__name__=~"node_.+"}[5m]))')
for name in $SERVERS; do
  case $name in
    vigil) dir=$W/vigil; cmd=("$VIGIL_BIN" --config.file="$W/prometheus.yml" --storage.tsdb.path="$dir" --web.listen-address="127.0.0.1:$PORT" --storage.tsdb.retention.time=30d) ;;
    prometheus3) dir=$W/prometheus3; cmd=("$P3_BIN" --config.file="$W/prometheus.yml" --storage.tsdb.path="$dir" --web.listen-address="127.0.0.1:$PORT" --storage.tsdb.retention.time=30d) ;;
    victoriametrics) dir=$W/vm; cmd=("$VM_BIN" -storageDataPath="$dir" -httpListenAddr="127.0.0.1:$PORT" -retentionPeriod=30d -search.latencyOffset=0s) ;;
  esac
  disk=$(du -sb "$dir" | cut -f1)
  if [[ $name == victoriametrics ]]; then
    read -r bb bs <<<"$disk $samples"
  else
    read -r bb bs <<<"$(blocks "$dir")"
  fi
  t0=$(date +%s.%N)
  start "$name" "${cmd[@]}"
  ready=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
  rss_ready=$(awk '$1 == "VmHWM:" { print $2 * 1024 }' "/proc/$PID/status")
  cpu() { awk -v hz="$(getconf CLK_TCK)" '{ sub(/.*\) /, ""); printf "%.2f", ($12 + $13) / hz }' "/proc/$PID/stat"; }
  cpu0=$(cpu)
  qjson='[]'
  for q in "${QUERIES[@]}"; do
    times=()
    for _ in $(seq "$QUERY_RUNS"); do
      t=$(curl -s -G -o "$W/q.json" -w '%{time_total}' "$BASE/api/v1/query_range" --data-urlencode "query=$q" \
        --data-urlencode "start=$((t_end - HIST_DAYS * 86400))" --data-urlencode "end=$t_end" --data-urlencode step=3600)
      jq -e '.status == "success"' "$W/q.json" >/dev/null || { log "$name: $(head -c 300 "$W/q.json")"; t=null; }
      times+=("$t")
    done
    n=$(jq '.data.result | length' "$W/q.json" 2>/dev/null || echo null)
    pts=$(jq '[.data.result[].values | length] | add' "$W/q.json" 2>/dev/null || echo null)
    qjson=$(jq -c --arg q "$q" --argjson n "$n" --argjson pts "$pts" --args '. + [{query: $q, series: $n, points: $pts,
      ms: ($ARGS.positional | map(select(. != "null") | tonumber * 1000 | round))}]' "${times[@]}" <<<"$qjson")
  done
  rss_peak=$(awk '$1 == "VmHWM:" { print $2 * 1024 }' "/proc/$PID/status")
  query_cpu=$(awk -v a="$cpu0" -v b="$(cpu)" 'BEGIN { printf "%.2f", b - a }')
  stop
  line=$(jq -nc --arg date "$(date -u +%FT%TZ)" --arg server "$name" --argjson series "$HIST_SERIES" --arg interval "$HIST_INTERVAL" \
    --argjson days "$HIST_DAYS" --argjson samples "$samples" --argjson disk_b "$disk" --argjson blocks_b "$bb" --argjson block_samples "$bs" \
    --argjson ready_s "$ready" --argjson rss_ready_b "$rss_ready" --argjson rss_peak_b "$rss_peak" --argjson queries "$qjson" --argjson query_cpu_s "$query_cpu" \
    --arg load "$(cut -d' ' -f1-3 /proc/loadavg)" \
    '{$date, $server, $series, $interval, $days, $samples, $disk_b, $blocks_b, $block_samples,
      block_b_per_sample: (if $block_samples > 0 then ($blocks_b / $block_samples * 1000 | round / 1000) else null end),
      $ready_s, $rss_ready_b, $rss_peak_b, $query_cpu_s, $queries, $load}')
  echo "$line" | tee -a "$RESULTS"
done
[[ ${KEEP_DATA:-0} == 1 ]] || rm -rf "$W/vigil" "$W/prometheus3" "$W/vm"
jq -rs '"| server | series × days @ interval | disk B/sample (blocks, compacted) | whole data dir MiB | ready s | query ms (runs) | result series | server CPU s, all queries | peak RSS MiB |",
  "|---|---|---|---|---|---|---|---|---|",
  (.[-('"$(wc -w <<<"$SERVERS")"'):][] | "| \(.server) | \(.series) × \(.days) d @ \(.interval) | \(.block_b_per_sample) | \(.disk_b / 1048576 | round) | \(.ready_s) | \(.queries | map(.ms | map(tostring) | join("/")) | join(" ; ")) | \(.queries | map(.series | tostring) | join(" ; ")) | \(.query_cpu_s) | \(.rss_peak_b / 1048576 | round) |")' "$RESULTS"
