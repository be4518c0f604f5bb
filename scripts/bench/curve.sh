#!/usr/bin/env bash
# Cost curve from side.sh results (docs/performance.md): per server, a least-squares line through
# its scale-10k / scale-100k / scale-1m runs (the newest run of each profile), for peak RSS and for
# CPU (cores used during ingestion = cpu_s / duration_s) against active series, plus the marginal
# slope of each segment: a segment steeper than the one before means faster than linear growth.
# Runs in which more than 10 % of the scrapes failed (an overloaded server) are left out.
#
#   scripts/bench/curve.sh [RESULTS.jsonl]        (default /tmp/bench-scale/results.jsonl)
set -euo pipefail
RESULTS=${1:-${BENCH_OUT:-/tmp/bench-scale}/results.jsonl}
jq -rs '
  def fit($xs; $ys): ($xs | length) as $n | ($xs | add / $n) as $mx | ($ys | add / $n) as $my |
    ([range($n)] | map(($xs[.] - $mx) * ($ys[.] - $my)) | add) as $sxy |
    ([range($n)] | map(($xs[.] - $mx) * ($xs[.] - $mx)) | add) as $sxx |
    (if $sxx > 0 then $sxy / $sxx else null end) as $b | {b: $b, a: (if $b == null then null else $my - $b * $mx end)};
  def r(d): if . == null then "-" else (. * pow(10; d) | round / pow(10; d)) end;
  map(select(.profile | test("^scale-(10k|100k|1m)$")) | select(.active_series != null)
    | select(.scrapes_ok != null and .scrapes != null and .scrapes_ok >= 0.9 * .scrapes)) |
  group_by(.server) | map(
    group_by(.profile) | map(sort_by(.date) | last) | sort_by(.active_series) |
    {server: .[0].server, runs: .,
     xs: map(.active_series), rss: map(.rss_peak_b), cores: map(.cpu_s / .duration_s),
     other: map(.other_cores)}) |
  "| server | series (runs) | RSS intercept MiB | RSS slope B/series | RSS marginal B/series per segment | CPU intercept cores | CPU slope cores per 1M series | CPU marginal per segment (cores/1M) | other_cores |",
  "|---|---|---|---|---|---|---|---|---|",
  (.[] | fit(.xs; .rss) as $rf | fit(.xs; .cores) as $cf |
    [range(1; .xs | length)] as $seg |
    "| \(.server) | \(.xs | map(tostring) | join(" / ")) | \($rf.a | if . == null then null else . / 1048576 end | r(1)) | \($rf.b | r(0)) | \([$seg[] as $i | ((.rss[$i] - .rss[$i-1]) / (.xs[$i] - .xs[$i-1]) | r(0) | tostring)] | join(" → ")) | \($cf.a | r(3)) | \($cf.b | if . == null then null else . * 1e6 end | r(3)) | \([$seg[] as $i | ((.cores[$i] - .cores[$i-1]) / (.xs[$i] - .xs[$i-1]) * 1e6 | r(3) | tostring)] | join(" → ")) | \(.other | map(tostring) | join(" / ")) |")
' "$RESULTS"
