#!/usr/bin/env bash
# Side-by-side scale benchmark (docs/performance.md): runs ../shared/bench/run.sh for each server
# with a profile of scripts/bench/profiles/ and the realistic generator scripts/bench/scalegen in
# the harness's generator slot, samples each server's RSS over the run, and prints the tables.
#
#   scripts/bench/side.sh PROFILE [SERVER...]       (make bench-side PROFILE=scale-1m)
#
# PROFILE  scale-10k, scale-100k, scale-1m, churn (scripts/bench/profiles/NAME.env) or a path.
# SERVER   vigil (bin/vigil of this checkout: make build), prometheus3, victoriametrics,
#          prometheus2; default: vigil prometheus3 victoriametrics, one after the other.
# Environment: SHARED_BENCH (../shared/bench), BENCH_OUT (/tmp/bench-scale: results.jsonl,
# bin/, rss/), WORK_DIR (run dirs, default $BENCH_OUT/runs), SERVER_PORT (28000), GEN_PORT
# (28100: one port per target), NODE_PORT (28001), RSS_EVERY (seconds between RSS samples, 15),
# QUERIES (scripts/bench/queries/scale.tsv), and any profile variable (DURATION=60 ...).
#
# The shared harness starts "$BENCH_OUT/bin/avagen" with avagen's flags; this script builds
# scalegen there (it takes the same flags), so BENCH_OUT must not be shared with plain run.sh runs.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
PROFILE=${1:?usage: scripts/bench/side.sh PROFILE [SERVER...]}
shift
[[ $# -gt 0 ]] || set -- vigil prometheus3 victoriametrics
[[ -f $PROFILE ]] || PROFILE=$ROOT/scripts/bench/profiles/$PROFILE.env
[[ -f $PROFILE ]] || { echo "no profile $PROFILE" >&2; exit 2; }
SHARED_BENCH=${SHARED_BENCH:-${VIGIL_SHARED_DIR:-$ROOT/../shared}/bench}
[[ -x $SHARED_BENCH/run.sh ]] || { echo "the shared bench harness is missing: $SHARED_BENCH/run.sh (set SHARED_BENCH)" >&2; exit 2; }
export BENCH_OUT=${BENCH_OUT:-/tmp/bench-scale}
export WORK_DIR=${WORK_DIR:-$BENCH_OUT/runs}
export SERVER_PORT=${SERVER_PORT:-28000} GEN_PORT=${GEN_PORT:-28100} NODE_PORT=${NODE_PORT:-28001}
export VIGIL_SELF_METRIC=${VIGIL_SELF_METRIC:-prometheus_tsdb_head_samples_appended_total}
export QUERIES=${QUERIES:-$ROOT/scripts/bench/queries/scale.tsv}
RESULTS=${RESULTS:-$BENCH_OUT/results.jsonl}
RSS_EVERY=${RSS_EVERY:-15}
mkdir -p "$BENCH_OUT/bin" "$BENCH_OUT/rss" "$WORK_DIR"
go build -o "$BENCH_OUT/bin/avagen" ./scripts/bench/scalegen

# rss_sampler FILE: every RSS_EVERY s, "seconds_since_start rss_bytes" of the process listening
# on SERVER_PORT (read from /proc only; nothing is signalled).
rss_sampler() {
  local t0 pid="" rss
  t0=$(date +%s)
  while :; do
    if [[ -z $pid || ! -d /proc/$pid ]]; then
      pid=$(ss -Htlnp "sport = :$SERVER_PORT" 2>/dev/null | grep -o 'pid=[0-9]*' | head -1 | cut -d= -f2 || true)
    fi
    if [[ -n $pid ]] && rss=$(awk '$1 == "VmRSS:" { print $2 * 1024 }' "/proc/$pid/status" 2>/dev/null); then
      echo "$(($(date +%s) - t0)) $rss" >>"$1"
    fi
    sleep "$RSS_EVERY"
  done
}

for server in "$@"; do
  rss_file=$BENCH_OUT/rss/$server-$(basename "$PROFILE" .env)-$(date +%Y%m%d-%H%M%S).tsv
  rss_sampler "$rss_file" &
  sampler=$!
  status=0
  # run.sh resolves servers/vigil.sh's bin/vigil against the directory it is called from.
  "$SHARED_BENCH/run.sh" "$server" "$PROFILE" "$RESULTS" || status=$?
  kill "$sampler" 2>/dev/null || true
  wait "$sampler" 2>/dev/null || true
  echo "$server: RSS samples in $rss_file" >&2
  ((status == 0)) || echo "$server: run.sh failed ($status)" >&2
done
"$SHARED_BENCH/table.sh" "$RESULTS"
