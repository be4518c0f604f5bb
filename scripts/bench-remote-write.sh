#!/usr/bin/env bash
# Remote write cost, side by side: Vigil and Prometheus scrape the same ~100k series
# (../shared/bench's moderate profile, 10 s interval) and ship them to the same receiver
# (scripts/bench/rwsink: decodes, counts, measures each sample's lag), one run after the other.
#
#   scripts/bench-remote-write.sh [SERVER...]   # default: vigil prometheus3; ROUNDS=N repeats the list
#
# SERVER is vigil (VIGIL_BIN, default bin/vigil), prometheus3 (PROMETHEUS3_BIN, default
# /tmp/peers/prometheus3) or prometheus2 (/usr/bin/prometheus), started with the flags of
# ../shared/bench/servers/*.sh through scripts/bench/serve-with-remote-write.sh, which adds the
# remote_write block RW_AFTER (150) s after the start by SIGHUP and samples CPU, RSS and the
# samples received every 5 s. DURATION (420) s of ingestion. Figures per run, one JSON line in
# BENCH_RW_OUT (/tmp/bench-rw)/rw.jsonl:
#   cpu_ns_per_sample  (CPU rate with remote write − CPU rate before it) / samples received per s,
#                      windows [BASE_FROM (60), RW_AFTER−5] and [RW_AFTER+WARMUP (60), DURATION−5]
#   rss_extra_b        mean RSS over the last 60 s of ingestion minus the mean RSS over the baseline
#                      window: what the queues add (plus the head's own growth meanwhile, which is
#                      larger for Prometheus: its RSS grows before remote write is added, Vigil's not)
#   lag_ms_p50/p99     arrival at the receiver minus the sample's timestamp (scrape time), over
#                      the samples received after RW_AFTER+60 s
#   rw_heap_b          live heap (after a forced GC, HEAP_AT = DURATION−20 s) of the stacks through
#                      the remote-write code: Vigil's remote/write, Prometheus's storage/remote and
#                      tsdb/wlog (go tool pprof -focus); the queues' own memory, without the noise
#                      of RSS (the Go runtime returns freed memory to the OS in its own time)
# Ports: the rw lane's (SERVER_PORT 25090, GEN_PORT 25101…, sink 25201).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
HARNESS=${HARNESS:-$ROOT/../shared/bench}
OUT=${BENCH_RW_OUT:-/tmp/bench-rw}
ROUNDS=${ROUNDS:-1}
export RW_AFTER=${RW_AFTER:-150} DURATION=${DURATION:-420} NODE_EXPORTER=0
export HEAP_AT=${HEAP_AT:-$((DURATION - 20))}
PROFILE=${PROFILE:-moderate} BASE_FROM=${BASE_FROM:-60} WARMUP=${WARMUP:-60}
export SERVER_PORT=${SERVER_PORT:-25090} GEN_PORT=${GEN_PORT:-25101} NODE_PORT=${NODE_PORT:-25100}
export WORK_DIR=$OUT/runs BENCH_OUT=$OUT
SINK_ADDR=${SINK_ADDR:-127.0.0.1:25201}
export RW_URL=http://$SINK_ADDR/api/v1/write RW_STATS=http://$SINK_ADDR/stats LAG_RESET_AT=$((RW_AFTER + WARMUP))
mkdir -p "$OUT"
[[ -d $HARNESS ]] || { echo "bench harness not found at $HARNESS (../shared/bench)" >&2; exit 2; }
go build -o "$OUT/rwsink" ./scripts/bench/rwsink
servers=("$@")
((${#servers[@]})) || servers=(vigil prometheus3)
wrapper=$ROOT/scripts/bench/serve-with-remote-write.sh

for round in $(seq "$ROUNDS"); do
  for s in "${servers[@]}"; do
    case $s in
      vigil) bin=${VIGIL_BIN:-$ROOT/bin/vigil}; extra="--storage.tsdb.retention.time=1d" ;;
      prometheus3) bin=${PROMETHEUS3_BIN:-/tmp/peers/prometheus3}; extra="--storage.tsdb.retention.time=1d" ;;
      prometheus2) bin=/usr/bin/prometheus; extra="--storage.tsdb.retention.time=1d" ;;
      *) echo "unknown server $s" >&2; exit 2 ;;
    esac
    [[ -x $bin ]] || { echo "$s binary not found at $bin" >&2; exit 2; }
    "$OUT/rwsink" -listen "$SINK_ADDR" >"$OUT/rwsink.log" 2>&1 &
    sink=$!
    sleep 1
    before=$(ls -td "$WORK_DIR"/*/ 2>/dev/null | head -1 || true)
    SERVER_NAME=$s-rw SERVER_VERSION=$("$bin" --version 2>&1 | head -1 | awk '{print $3}') \
      "$HARNESS/run.sh" "$wrapper $bin --config.file={config} --storage.tsdb.path={data} --web.listen-address={listen} $extra" "$PROFILE" "$OUT/harness.jsonl" \
      || echo "run of $s failed" >&2
    stats=$(curl -s -m 10 "$RW_STATS" || echo '{}')
    kill "$sink" 2>/dev/null || true
    wait "$sink" 2>/dev/null || true
    run=$(ls -td "$WORK_DIR"/*/ | head -1)
    run=${run%/}
    [[ $run/ != "$before" ]] || { echo "no new run dir" >&2; continue; }
    focus='vigil/remote/write'
    [[ $s == vigil ]] || focus='prometheus/storage/remote|tsdb/wlog'
    heap=-1
    if [[ -s $run/heap.pprof ]]; then
      heap=$(go tool pprof -sample_index=inuse_space -focus "$focus" -unit B -nodecount=1000000 -nodefraction=0 -top "$run/heap.pprof" 2>/dev/null |
        awk '/accounting for/ { v = $5; sub(/B,?$/, "", v); print v + 0; exit }')
      [[ -n $heap ]] || heap=-1
    fi
    awk -v heap="$heap" -v after="$RW_AFTER" -v dur="$DURATION" -v from="$BASE_FROM" -v warm="$WARMUP" -v hz="$(getconf CLK_TCK)" -v server="$s" -v round="$round" -v stats="$stats" -F'\t' '
      NR == 1 { next }
      { t[++n] = $1; c[n] = $2; r[n] = $3; k[n] = $4 }
      END {
        # baseline window
        for (i = 1; i <= n; i++) { if (!b0 && t[i] >= from) b0 = i; if (t[i] <= after - 5) b1 = i }
        for (i = 1; i <= n; i++) { if (!w0 && t[i] >= after + warm) w0 = i; if (t[i] <= dur - 5) w1 = i }
        cb = (c[b1] - c[b0]) / hz / (t[b1] - t[b0])
        cw = (c[w1] - c[w0]) / hz / (t[w1] - t[w0])
        sent = (k[w1] - k[w0]) / (t[w1] - t[w0])
        # RSS: mean over the baseline window and over the last 60 s of ingestion (single
        # samples are noisy: the Go runtime and glibc return memory in steps).
        for (i = b0; i <= b1; i++) { mb += r[i]; nb++ }
        mb /= nb
        m = 0; mn = 0
        for (i = w0; i <= w1; i++) if (t[i] >= t[w1] - 60) { m += r[i]; mn++ }
        m /= mn
        extra = (m - mb) * 1024
        printf "{\"server\":\"%s\",\"round\":%d,\"cpu_cores_before\":%.4f,\"cpu_cores_with_rw\":%.4f,\"samples_per_s\":%.1f,\"cpu_ns_per_sample\":%.0f,\"rss_before_mean_b\":%d,\"rss_end_mean_b\":%d,\"rss_extra_b\":%d,\"rw_heap_b\":%d,\"sink\":%s}\n",
          server, round, cb, cw, sent, (sent > 0 ? (cw - cb) * 1e9 / sent : -1), mb * 1024, m * 1024, extra, heap, stats
      }' "$run/rw-bench.tsv" | tee -a "$OUT/rw.jsonl"
  done
done
