#!/usr/bin/env bash
# Server wrapper for ../shared/bench/run.sh, used by scripts/bench-remote-write.sh:
#
#   serve-with-remote-write.sh SERVER-COMMAND... (containing --config.file=PATH)
#
# Starts a sampler and execs the server, so the harness measures the server's own PID. RW_AFTER
# seconds after the start the sampler appends a remote_write block (to RW_URL, protobuf_message
# RW_PROTOBUF, otherwise Prometheus's defaults) to the configuration and sends the server SIGHUP:
# the CPU and memory before are the ingestion-only baseline of the same run. LAG_RESET_AT seconds
# after the start it resets the sink's lag figures (so they cover the steady state). Every
# SAMPLE_EVERY seconds it writes one line to rw-bench.tsv in the run dir: seconds since start,
# server CPU ticks (utime+stime), RSS in kB, and the samples the sink has received. HEAP_AT
# seconds after the start (if set) it saves a heap profile taken after a forced GC
# (/debug/pprof/heap?gc=1, which Vigil and Prometheus both serve) to heap.pprof in the run dir.
set -euo pipefail
: "${RW_URL:?}" "${RW_STATS:?}" "${RW_AFTER:=150}" "${RW_PROTOBUF:=prometheus.WriteRequest}" "${SAMPLE_EVERY:=5}" "${LAG_RESET_AT:=210}" "${HEAP_AT:=}"
cfg= listen=
for a in "$@"; do
  case $a in
    --config.file=*) cfg=${a#--config.file=} ;;
    --web.listen-address=*) listen=${a#--web.listen-address=} ;;
  esac
done
[[ -f $cfg ]] || { echo "serve-with-remote-write.sh: no --config.file=PATH among the arguments" >&2; exit 2; }
run=$(dirname "$cfg")

sampler() {
  local pid=$1 out=$run/rw-bench.tsv t0 now t added=0 reset=0 heap=0
  t0=$(date +%s.%N)
  echo -e "t_s\tcpu_ticks\trss_kb\tsink_samples" >"$out"
  while kill -0 "$pid" 2>/dev/null; do
    now=$(date +%s.%N)
    t=$(awk -v a="$t0" -v b="$now" 'BEGIN { printf "%.2f", b - a }')
    if ((added == 0)) && awk -v t="$t" -v r="$RW_AFTER" 'BEGIN { exit !(t >= r) }'; then
      printf 'remote_write:\n  - url: %s\n    protobuf_message: %s\n' "$RW_URL" "$RW_PROTOBUF" >>"$cfg"
      kill -HUP "$pid"
      added=1
    fi
    if ((reset == 0)) && awk -v t="$t" -v r="$LAG_RESET_AT" 'BEGIN { exit !(t >= r) }'; then
      curl -s -m 10 "${RW_STATS%/stats}/reset" >/dev/null || true
      reset=1
    fi
    if [[ -n $HEAP_AT && -n $listen ]] && ((heap == 0)) && awk -v t="$t" -v r="$HEAP_AT" 'BEGIN { exit !(t >= r) }'; then
      curl -s -m 60 -o "$run/heap.pprof" "http://$listen/debug/pprof/heap?gc=1" || true
      heap=1
    fi
    cpu=$(awk '{ sub(/.*\) /, ""); print $12 + $13 }' "/proc/$pid/stat" 2>/dev/null) || break
    rss=$(awk '$1 == "VmRSS:" { print $2 }' "/proc/$pid/status" 2>/dev/null) || break
    sent=$({ curl -s -m 10 "$RW_STATS" || true; } | jq -r '.samples // 0' 2>/dev/null || echo 0)
    echo -e "$t\t$cpu\t$rss\t$sent" >>"$out"
    sleep "$SAMPLE_EVERY"
  done
  curl -s -m 10 "$RW_STATS" >"$run/rw-sink-stats.json" || true
}
sampler $$ &
exec "$@"
