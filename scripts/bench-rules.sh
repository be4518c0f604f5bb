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
# prometheus_rule_* metrics every 5 s. Results: one JSON line per run
# (scripts/bench/analyse-rules.sh, which explains the figures) in BENCH_RULES_OUT
# (/tmp/vigil-bench-rules)/rules.jsonl, the harness's own lines in harness.jsonl next to it.
# The main figure, cpu_per_cycle_s, is the server's CPU per evaluation of all 2,000 rules:
# CPU in the rules window (RULES_AFTER + WARMUP (60) s to 5 s before the end of ingestion)
# minus the ingestion-only CPU rate of the same run before the rules were loaded, divided by
# the evaluations done (prometheus_rule_evaluations_total / rules).
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
export WARMUP=${WARMUP:-60} BASE_FROM=${BASE_FROM:-20}
export DURATION=${DURATION:-360}
export NODE_EXPORTER=0 QUERY_RUNS=${QUERY_RUNS:-3} QUERIES=$ROOT/scripts/bench/rules-queries.tsv
# /api/v1/rules is read STATUS_AT s after the start, just before the end of ingestion (the
# harness stops the server soon after); the rules window ends before that read.
export STATUS_AT=$((DURATION - 5)) END=$((DURATION - 5))
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
    scripts/bench/analyse-rules.sh "$run" "$s" | tee -a "$OUT/rules.jsonl"
  done
done
