#!/usr/bin/env bash
# Server wrapper for ../shared/bench/run.sh, used by scripts/bench-rules.sh:
#
#   serve-with-rules.sh SERVER-COMMAND... (containing --config.file=PATH)
#
# Adds global.evaluation_interval (EVAL_INTERVAL) to the harness's prometheus.yml, copies
# RULES_FILE next to it, starts a sampler and execs the server, so the harness measures the
# server's own PID. RULES_AFTER seconds after the start the sampler adds `rule_files:` to the
# configuration and sends the server SIGHUP: the CPU rate before is the ingestion-only baseline
# of the same run. Every SAMPLE_EVERY seconds the sampler writes one line to rules-bench.tsv in
# the run dir: seconds since start, server CPU ticks (utime+stime), host busy ticks (/proc/stat)
# and the sums over all groups of the server's prometheus_rule_* metrics. At STATUS_AT seconds
# it saves /api/v1/rules to rules-status.json.
set -euo pipefail
: "${RULES_FILE:?}" "${EVAL_INTERVAL:=30s}" "${RULES_AFTER:=90}" "${SAMPLE_EVERY:=5}" "${STATUS_AT:?}"
cfg=
for a in "$@"; do
  case $a in --config.file=*) cfg=${a#--config.file=} ;; esac
done
[[ -f $cfg ]] || { echo "serve-with-rules.sh: no --config.file=PATH among the arguments" >&2; exit 2; }
listen=127.0.0.1:${SERVER_PORT:-19090}
for a in "$@"; do
  case $a in --web.listen-address=*) listen=${a#--web.listen-address=} ;; esac
done
run=$(dirname "$cfg")
cp "$RULES_FILE" "$run/rules.yml"
sed -i "s/^global:\$/global:\n  evaluation_interval: $EVAL_INTERVAL/" "$cfg"
grep -q "evaluation_interval: $EVAL_INTERVAL" "$cfg" || { echo "serve-with-rules.sh: could not set evaluation_interval in $cfg" >&2; exit 2; }

sampler() {
  local pid=$1 out=$run/rules-bench.tsv hz t0 now t added=0 status=0
  hz=$(getconf CLK_TCK)
  t0=$(date +%s.%N)
  echo -e "t_s\tcpu_ticks\thost_busy_ticks\titerations\tmissed\tduration_sum_s\tduration_count\tlast_duration_sum_s\tevaluations\tfailures\tgroups\treload_ok" >"$out"
  while kill -0 "$pid" 2>/dev/null; do
    now=$(date +%s.%N)
    t=$(awk -v a="$t0" -v b="$now" 'BEGIN { printf "%.2f", b - a }')
    if ((added == 0)) && awk -v t="$t" -v r="$RULES_AFTER" 'BEGIN { exit !(t >= r) }'; then
      printf 'rule_files: [rules.yml]\n' >>"$cfg"
      kill -HUP "$pid"
      added=1
    fi
    if ((status == 0)) && awk -v t="$t" -v s="$STATUS_AT" 'BEGIN { exit !(t >= s) }'; then
      curl -s -m 60 "http://$listen/api/v1/rules" >"$run/rules-status.json" || true
      status=1
    fi
    cpu=$(awk '{ sub(/.*\) /, ""); print $12 + $13 }' "/proc/$pid/stat" 2>/dev/null) || break
    busy=$(awk '$1 == "cpu" { print $2 + $3 + $4 + $7 + $8 + $9 }' /proc/stat)
    m=$({ curl -s -m 10 "http://$listen/metrics" || true; } | awk '
      function v() { return $NF + 0 }
      /^prometheus_rule_group_iterations_total\{/ { it += v(); g++ }
      /^prometheus_rule_group_iterations_missed_total\{/ { mi += v() }
      /^prometheus_rule_group_duration_seconds_sum/ { ds = v() }
      /^prometheus_rule_group_duration_seconds_count/ { dc = v() }
      /^prometheus_rule_group_last_duration_seconds\{/ { ld += v() }
      /^prometheus_rule_evaluations_total\{/ { ev += v() }
      /^prometheus_rule_evaluation_failures_total\{/ { fa += v() }
      /^[a-z_]*config_last_reload_successful / { ok = v() }
      END { printf "%d\t%d\t%.6f\t%d\t%.6f\t%d\t%d\t%d\t%s", it, mi, ds, dc, ld, ev, fa, g, (ok == "" ? "-" : ok) }')
    echo -e "$t\t$cpu\t$busy\t$m" >>"$out"
    sleep "$SAMPLE_EVERY"
  done
}
sampler $$ &
exec "$@"
