#!/usr/bin/env bash
# Side-by-side: `vigil tsdb import openmetrics` vs `promtool tsdb create-blocks-from openmetrics`
# on the same generated input (scripts/omgen), then `vigil tsdb import prometheus` of promtool's
# blocks. Prints wall time, CPU time (user+sys) and max RSS of each (GNU time), and the ratios.
#
#   SERIES=100000 INTERVAL=60s scripts/import-bench.sh
# Env: SERIES, INTERVAL, DURATION (2h), WORK_DIR (/tmp/bench-import), VIGIL_BIN (built if
# unset), PROMTOOL (promtool on PATH).
set -euo pipefail
SERIES=${SERIES:-100000}
INTERVAL=${INTERVAL:-60s}
DURATION=${DURATION:-2h}
WORK_DIR=${WORK_DIR:-/tmp/bench-import}
PROMTOOL=${PROMTOOL:-$(command -v promtool)}
root=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$WORK_DIR"
if [[ -z ${VIGIL_BIN:-} ]]; then
  VIGIL_BIN=$WORK_DIR/vigil
  (cd "$root" && go build -o "$VIGIL_BIN" ./cmd/server)
fi
(cd "$root" && go build -o "$WORK_DIR/omgen" ./scripts/omgen)
in=$WORK_DIR/in-$SERIES-$INTERVAL.om
if [[ ! -s $in ]]; then
  "$WORK_DIR/omgen" --series="$SERIES" --interval="$INTERVAL" --duration="$DURATION" >"$in"
fi
cat "$in" >/dev/null # same page cache state for both
rm -rf "$WORK_DIR/promtool-out" "$WORK_DIR/vigil-om" "$WORK_DIR/vigil-prom"

measure() { # name, command...
  local name=$1; shift
  /usr/bin/time -v "$@" >"$WORK_DIR/$name.out" 2>"$WORK_DIR/$name.time" || { cat "$WORK_DIR/$name.out" "$WORK_DIR/$name.time" >&2; exit 1; }
  local wall user sys rss
  wall=$(awk -F': ' '/Elapsed \(wall clock\)/{n=split($2,a,":"); s=0; for(i=1;i<=n;i++) s=s*60+a[i]; print s}' "$WORK_DIR/$name.time")
  user=$(awk -F': ' '/User time/{print $2}' "$WORK_DIR/$name.time")
  sys=$(awk -F': ' '/System time/{print $2}' "$WORK_DIR/$name.time")
  rss=$(awk -F': ' '/Maximum resident set size/{print $2}' "$WORK_DIR/$name.time")
  echo "$name $wall $(echo "$user + $sys" | bc) $rss"
}
load=$(cut -d' ' -f1-3 /proc/loadavg)
echo "# series=$SERIES interval=$INTERVAL duration=$DURATION input=$(du -h "$in" | cut -f1) load=$load"
echo "# name wall_s cpu_s maxrss_kb"
p=$(measure promtool "$PROMTOOL" tsdb create-blocks-from openmetrics "$in" "$WORK_DIR/promtool-out")
v=$(measure vigil-openmetrics "$VIGIL_BIN" tsdb import openmetrics "$in" --storage.tsdb.path="$WORK_DIR/vigil-om")
b=$(measure vigil-prometheus "$VIGIL_BIN" tsdb import prometheus "$WORK_DIR/promtool-out" --storage.tsdb.path="$WORK_DIR/vigil-prom")
echo "$p"; echo "$v"; echo "$b"
read -r _ pw pc pr <<<"$p"
read -r _ vw vc vr <<<"$v"
read -r _ bw bc br <<<"$b"
samples=$(grep -o '[0-9]* samples' "$WORK_DIR/vigil-prometheus.out" | tail -1 | cut -d' ' -f1)
echo "# vigil/promtool openmetrics: wall $(echo "scale=2; $vw / $pw" | bc)x, cpu $(echo "scale=2; $vc / $pc" | bc)x, maxrss $(echo "scale=2; $vr / $pr" | bc)x"
echo "# prometheus-block import: $samples samples in ${bw}s wall (${bc}s cpu, $((br / 1024)) MiB max RSS): $(echo "$samples / $bw" | bc) samples/s"
echo "# load after: $(cut -d' ' -f1-3 /proc/loadavg)"
