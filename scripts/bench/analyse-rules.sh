#!/usr/bin/env bash
# One JSON line for one run of scripts/bench-rules.sh, from the run dir's rules-bench.tsv
# (written by serve-with-rules.sh) and rules-status.json:
#
#   analyse-rules.sh RUN_DIR SERVER
#
# Windows (seconds since the server started; same defaults as bench-rules.sh):
#   baseline  BASE_FROM (20) .. RULES_AFTER (60): ingestion only, no rules loaded
#   rules     RULES_AFTER + WARMUP (60+60) .. END (DURATION - 5 = 355): rules running
# Figures:
#   cycles            evaluations of all rules in the rules window: growth of
#                     prometheus_rule_evaluations_total / number of rules (a missed group
#                     iteration evaluates nothing, so this counts only work done)
#   cpu_per_cycle_s   (server CPU in the rules window - baseline CPU rate x window) / cycles
#   wall_per_cycle_s  growth of prometheus_rule_group_duration_seconds_sum / executed group
#                     iterations x groups: the servers' own time for one cycle, groups summed
#   last_duration_sum_s  sum over groups of prometheus_rule_group_last_duration_seconds at the end
#   other_cores       cores used by everything else on the machine in the rules window
set -euo pipefail
run=${1:?usage: analyse-rules.sh RUN_DIR SERVER}
server=${2:?usage: analyse-rules.sh RUN_DIR SERVER}
DURATION=${DURATION:-360}
RULES_AFTER=${RULES_AFTER:-60}
WARMUP=${WARMUP:-60}
BASE_FROM=${BASE_FROM:-20}
END=${END:-$((DURATION - 5))}
EVAL_INTERVAL=${EVAL_INTERVAL:-15s}
rules=$(grep -cE '^ +- (record|alert):' "$run/rules.yml")
hz=$(getconf CLK_TCK)
read -r -a f < <(awk -F'\t' -v hz="$hz" -v b0="$BASE_FROM" -v r="$RULES_AFTER" -v t1=$((RULES_AFTER + WARMUP)) -v end="$END" -v rules="$rules" '
  NR == 1 { next }
  $1 >= b0 && bt0 == "" { bt0 = $1; bc0 = $2 }
  $1 < r { bt1 = $1; bc1 = $2 }
  $1 >= t1 && $11 > 0 && wt0 == "" { wt0 = $1; wc0 = $2; wb0 = $3; wm0 = $5; wd0 = $6; wn0 = $7; we0 = $9; wf0 = $10 }
  $1 < end && $11 > 0 && wt0 != "" { wt1 = $1; wc1 = $2; wb1 = $3; wm1 = $5; wd1 = $6; wn1 = $7; wl1 = $8; we1 = $9; wf1 = $10; g = $11; ok = $12 }
  END {
    base = (bc1 - bc0) / hz / (bt1 - bt0)
    dt = wt1 - wt0; cpu = (wc1 - wc0) / hz
    cycles = (we1 - we0) / rules
    other = ((wb1 - wb0) - (wc1 - wc0)) / hz / dt
    printf "%.4f %.2f %.3f %.3f %.4f %.4f %.4f %.3f %d %d %d %d %s %.3f\n",
      base, dt, cpu, cycles, (cycles > 0 ? (cpu - base * dt) / cycles : -1),
      (wn1 > wn0 ? (wd1 - wd0) / (wn1 - wn0) * g : -1), wl1, (other < 0 ? 0 : other),
      we1 - we0, wf1 - wf0, wm1 - wm0, g, ok, cpu / dt
  }' "$run/rules-bench.tsv")
status='{}'
if [[ -s $run/rules-status.json ]]; then
  status=$(jq -c '[.data.groups[].rules[]] | {
    rules: length,
    health: (group_by(.health) | map({key: .[0].health, value: length}) | from_entries),
    errors: ([.[] | select(.lastError != null and .lastError != "") | .lastError] | unique | .[:3]),
    alerts: ([.[] | select(.type == "alerting") | .alerts[]?] | group_by(.state) | map({key: .[0].state, value: length}) | from_entries)
  }' "$run/rules-status.json")
fi
jq -nc --arg server "$server" --arg run "$run" --arg eval_interval "$EVAL_INTERVAL" \
  --argjson duration_s "$DURATION" --argjson rules "$rules" --argjson base_cores "${f[0]}" --argjson window_s "${f[1]}" \
  --argjson window_cpu_s "${f[2]}" --argjson cycles "${f[3]}" --argjson cpu_per_cycle_s "${f[4]}" \
  --argjson wall_per_cycle_s "${f[5]}" --argjson last_duration_sum_s "${f[6]}" --argjson other_cores "${f[7]}" \
  --argjson evaluations "${f[8]}" --argjson failures "${f[9]}" --argjson missed "${f[10]}" --argjson groups "${f[11]}" \
  --arg reload_ok "${f[12]}" --argjson window_cores "${f[13]}" --argjson status "$status" \
  '{$server, $eval_interval, $duration_s, $rules, $groups, $window_s, $cycles, $window_cpu_s, $window_cores, $base_cores,
    $cpu_per_cycle_s, $wall_per_cycle_s, $last_duration_sum_s, $evaluations, $failures, $missed, $other_cores,
    $reload_ok, $status, $run}'
