#!/usr/bin/env bash
# Copies the Prometheus Operator CRDs that Vigil reads into the chart (deploy/helm/vigil/charts/crds),
# unchanged, from the operator module on the Go module proxy. The chart test checks they match.
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VERSION=${OPERATOR_VERSION:-v0.88.0}
DIR=$(go mod download -json "github.com/prometheus-operator/prometheus-operator@$VERSION" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
[ -d "$DIR" ] || { echo "chart-crds: cannot download prometheus-operator $VERSION" >&2; exit 1; }
OUT=$REPO/deploy/helm/vigil/charts/crds/crds
mkdir -p "$OUT"
for k in servicemonitors podmonitors prometheusrules scrapeconfigs alertmanagerconfigs; do
  install -m 0644 "$DIR/example/prometheus-operator-crd/monitoring.coreos.com_$k.yaml" "$OUT/"
done
echo "chart-crds: $VERSION -> $OUT"
