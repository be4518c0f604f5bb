#!/usr/bin/env bash
# Rule evaluation cost, side by side: Vigil and Prometheus evaluate the same 1,000 recording and
# 1,000 alerting rules (scripts/bench/gen-rules.sh) over the same ~100k series of
# ../shared/bench's moderate profile, one run after the other.
#
#   scripts/bench-rules.sh [SERVER...]       # default: vigil prometheus2; ROUNDS=N repeats the list
#
# SERVER is vigil (VIGIL_BIN, default bin/vigil: `make build-server`), prometheus2 (Debian
# 2.42, /usr/bin/prometheus) or prometheus3 (PROMETHEUS3_BIN, default /tmp/peers/prometheus3),
# each started with the flags of ../shared/bench/servers/*.sh.
#
# Each run is one ../shared/bench/run.sh run (NODE_EXPORTER=0, DURATION 360 s) through
# scripts/bench/serve-with-rules.sh, which sets evaluation_interval (EVAL_INTERVAL, 15s), loads
# the rules RULES_AFTER (60) s after the start by SIGHUP, and samples the server's CPU and its
# prometheus_rule_* metrics every 5 s. Results (one JSON line per run, BENCH_RULES_OUT
# /tmp/vigil-bench-rules/rules.jsonl, the harness's own lines in harness.jsonl next to it):
#
#   cpu_per_cycle_s   server CPU seconds per evaluation of all groups:
#                     (CPU in the rules window - baseline CPU rate x window) / cycles, where the
#                     rules window runs from RULES_AFTER + WARMUP (60) s to 5 s before the end of
#                     ingestion,
#                     the baseline rate is the CPU rate from BASE_FROM (20) s to RULES_AFTER
#                     (ingestion only), and cycles = rule group iterations in the window / groups
#   wall_per_cycle_s  the servers' own figure: prometheus_rule_group_duration_seconds_sum
#                     growth in the window / cycles (wall time of all groups in one cycle, summed)
#   last_duration_sum_s  sum of prometheus_rule_group_last_duration_seconds at the end
#   other_cores       cores used by everything else during the rules window (noise)
#   status            from /api/v1/rules at the end of the window: rules by health, alerts by state
#
# Runs wait until no other ../shared/bench/run.sh has been running for QUIET (20) s (the harness
# uses fixed ports).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
HARNESS=${HARNESS:-$ROOT/../shared/bench}
OUT=${BENCH_RULES_OUT:-/tmp/vigil-bench-rules}
ROUNDS=${ROUNDS:-1}
export EVAL_INTERVAL=${EVAL_INTERVAL:-15s}
export RULES_AFTER=${RULES_AFTER:-60}
export SAMPLE_EVERY=${SAMPLE_EVERY:-5}
WARMUP=${WARMUP:-60}
BASE_FROM=${BASE_FROM:-20}
export DURATION=${DURATION:-360}
export NODE_EXPORTER=0 QUERY_RUNS=${QUERY_RUNS:-3} QUERIES=$ROOT/scripts/bench/rules-queries.tsv
# /api/v1/rules is read STATUS_AT s after the start, just before the end of ingestion (the
# harness stops the server soon after); the rules window ends before that read.
export STATUS_AT=$((DURATION - 5))
export WORK_DIR=$OUT/runs
SERVERS=("$@")
((${#SERVERS[@]})) || SERVERS=(vigil prometheus2)
mkdir -p "$OUT" "$WORK_DIR"
export RULES_FILE=$OUT/rules.yml
scripts/bench/gen-rules.sh >"$RULES_FILE"
log() { echo "[$(date +%T)] $*" >&2; }

server_cmd() {
  local flags="--config.file={config} --storage.tsdb.path={data} --web.listen-address={listen} --storage.tsdb.retention.time=1d"
  case $1 in
    vigil) local b=${VIGIL_BIN:-$ROOT/bin/vigil}; [[ -x $b ]] || { log "no $b: make build-server"; exit 2; }; echo "$b $flags" ;;
    prometheus2) echo "${PROMETHEUS2_BIN:-/usr/bin/prometheus} $flags" ;;
    prometheus3) echo "${PROMETHEUS3_BIN:-/tmp/peers/prometheus3} $flags" ;;
    *) log "unknown server $1"; exit 2 ;;
  esac
}

# analyse RUN_DIR SERVER: one JSON line from the sampler's table and the rules status.
analyse() {
  local run=$1 server=$2 hz
  hz=$(getconf CLK_TCK)
  local t1=$((RULES_AFTER + WARMUP))
  read -r -a f < <(awk -F'\t' -v hz="$hz" -v b0="$BASE_FROM" -v r="$RULES_AFTER" -v t1="$t1" -v end="$STATUS_AT" '
    NR == 1 { next }
    # baseline: first row at or after b0, last row before the rules are loaded
    $1 >= b0 && bt0 == "" { bt0 = $1; bc0 = $2 }
    $1 < r { bt1 = $1; bc1 = $2 }
    # rules window: first row at or after t1 .. last row before the /api/v1/rules read
    $1 >= t1 && $11 > 0 && wt0 == "" { wt0 = $1; wc0 = $2; wb0 = $3; wi0 = $4; wm0 = $5; wd0 = $6; we0 = $9; wf0 = $10 }
    $1 < end && $11 > 0 && wt0 != "" { wt1 = $1; wc1 = $2; wb1 = $3; wi1 = $4; wm1 = $5; wd1 = $6; wl1 = $8; we1 = $9; wf1 = $10; g = $11; ok = $12 }
    END {
      base = (bc1 - bc0) / hz / (bt1 - bt0)
      dt = wt1 - wt0; cpu = (wc1 - wc0) / hz
      cycles = (g > 0 ? (wi1 - wi0) / g : 0)
      other = ((wb1 - wb0) - (wc1 - wc0)) / hz / dt
      printf "%.4f %.2f %.3f %.3f %.4f %.4f %.4f %.4f %d %d %d %d %s %.3f\n",
        base, dt, cpu, cycles, (cycles > 0 ? (cpu - base * dt) / cycles : -1),
        (cycles > 0 ? (wd1 - wd0) / cycles : -1), wl1, (other < 0 ? 0 : other), we1 - we0, wf1 - wf0, wm1 - wm0, g, ok, cpu / dt
    }' "$run/rules-bench.tsv")
  local status='{}'
  if [[ -s $run/rules-status.json ]]; then
    status=$(jq -c '[.data.groups[].rules[]] | {
      rules: length,
      health: (group_by(.health) | map({key: .[0].health, value: length}) | from_entries),
      errors: ([.[] | select(.lastError != null and .lastError != "") | .lastError] | unique | .[:3]),
      alerts: ([.[] | select(.type == "alerting") | .alerts[]?] | group_by(.state) | map({key: .[0].state, value: length}) | from_entries)
    }' "$run/rules-status.json")
  fi
  jq -nc --arg date "$(date -u +%FT%TZ)" --arg server "$server" --arg run "$run" --arg eval_interval "$EVAL_INTERVAL" \
    --argjson duration_s "$DURATION" --argjson base_cores "${f[0]}" --argjson window_s "${f[1]}" \
    --argjson window_cpu_s "${f[2]}" --argjson cycles "${f[3]}" --argjson cpu_per_cycle_s "${f[4]}" \
    --argjson wall_per_cycle_s "${f[5]}" --argjson last_duration_sum_s "${f[6]}" --argjson other_cores "${f[7]}" \
    --argjson evaluations "${f[8]}" --argjson failures "${f[9]}" --argjson missed "${f[10]}" --argjson groups "${f[11]}" \
    --arg reload_ok "${f[12]}" --argjson window_cores "${f[13]}" --argjson status "$status" \
    '{$date, $server, $eval_interval, $duration_s, $groups, $window_s, $cycles, $window_cpu_s, $window_cores, $base_cores,
      $cpu_per_cycle_s, $wall_per_cycle_s, $last_duration_sum_s, $evaluations, $failures, $missed, $other_cores,
      $reload_ok, $status, $run}'
}

for ((round = 1; round <= ROUNDS; round++)); do
  for s in "${SERVERS[@]}"; do
    # Another harness run (e.g. a series of scrape benchmarks): wait until none has been
    # running for QUIET (20) s, so as not to slip in between two runs of a series.
    quiet=0 waited=0
    while ((quiet < ${QUIET:-20})); do
      if pgrep -f 'shared/bench/run.sh' >/dev/null; then
        ((waited)) || log "another bench run is going on; waiting"
        quiet=0 waited=1
      else
        quiet=$((quiet + 5))
      fi
      sleep 5
    done
    log "round $round: $s"
    SERVER_NAME=rules-$s SERVER_VERSION=$s "$HARNESS/run.sh" \
      "$ROOT/scripts/bench/serve-with-rules.sh $(server_cmd "$s")" moderate "$OUT/harness.jsonl" >/dev/null
    run=$(ls -d "$WORK_DIR"/rules-"$s"-moderate-* | tail -1)
    analyse "$run" "$s" | tee -a "$OUT/rules.jsonl"
  done
done
