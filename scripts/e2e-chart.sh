#!/usr/bin/env bash
# make e2e-chart (and part of make e2e): the Helm chart's manifests, CRDs included, and the
# kustomize manifests in deploy/ pass server-side dry run on the real control plane
# (../shared/k8s-e2e) with the value sets users set. Reuses a control plane that is already up
# (e.g. started by scripts/e2e.sh) and leaves it running; otherwise starts one and stops it.
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SHARED=${VIGIL_SHARED_DIR:-$REPO/../shared}
CP=${CONTROLPLANE:-$SHARED/k8s-e2e/controlplane.sh}
HELM=${HELM:-$REPO/bin/helm}
missing=()
[ -x "$CP" ] || missing+=("the control-plane recipe $CP (shared workspace ../shared/k8s-e2e; set VIGIL_SHARED_DIR or CONTROLPLANE)")
command -v kubectl >/dev/null 2>&1 || missing+=("the command kubectl")
[ -x "$HELM" ] || missing+=("helm at $HELM (scripts/deps.sh installs it; or set HELM)")
if [ ${#missing[@]} -gt 0 ]; then
  echo "e2e-chart: cannot run; it needs:" >&2
  for m in "${missing[@]}"; do echo "  - $m" >&2; done
  exit 2
fi
ROOT=${K8S_E2E_ROOT:-${XDG_CACHE_HOME:-$HOME/.cache}/vigil-k8s-e2e}
KUBECTL="kubectl --kubeconfig=$ROOT/run/pki/admin.kubeconfig"
WORK=$(mktemp -d /tmp/vigil-e2e-chart.XXXXXX)
log() { printf '[e2e-chart %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
started=0
cleanup() {
  local rc=$?
  [ $started = 1 ] && "$CP" stop >/dev/null 2>&1
  [ $rc = 0 ] && rm -rf "$WORK" || log "kept $WORK"
  exit $rc
}
trap cleanup EXIT

if ! $KUBECTL get --raw /readyz >/dev/null 2>&1; then
  if [ ! -x "$ROOT/bin/kube-apiserver" ] || [ ! -x "$ROOT/bin/etcd" ]; then
    log "building the control plane (cached in $ROOT)"
    [ -x "$ROOT/bin/etcd" ] || nice -n 10 "$CP" build_etcd
    [ -x "$ROOT/bin/kube-apiserver" ] || nice -n 10 "$CP" build_k8s
  fi
  started=1
  "$CP" start >/dev/null
fi
log "API server $($KUBECTL version -o json | sed -n 's/.*"gitVersion": "\(v[^"]*\)".*/\1/p' | tail -1) ready"
$KUBECTL create namespace monitoring --dry-run=client -o yaml | $KUBECTL apply -f - >/dev/null

# Value sets: the defaults (generated adapter CA), HA with the operator's resources and an
# ingress, the kustomize values, no adapter and no CRDs.
sets=(
  ""
  "--set prometheus.prometheusSpec.replicas=2 --set operatorResources.enabled=true --set prometheus.ingress.enabled=true --set prometheus.ingress.hosts[0]=vigil.example.com --set additionalPrometheusRulesMap.r.groups[0].name=g"
  "-f $REPO/deploy/helm/kustomize-values.yaml"
  "--set adapter.enabled=false --set crds.enabled=false --set prometheus.prometheusSpec.storageSpec.volumeClaimTemplate=null"
)
n=0
for s in "${sets[@]}"; do
  n=$((n + 1))
  # shellcheck disable=SC2086
  "$HELM" template vigil "$REPO/deploy/helm/vigil" --namespace monitoring --include-crds $s > "$WORK/chart-$n.yaml"
  # Server-side apply: the operator's CRDs are too large for client-side apply's annotation.
  $KUBECTL apply --server-side --dry-run=server -f "$WORK/chart-$n.yaml" > "$WORK/dryrun-$n.txt" ||
    { log "FAIL: chart with [$s] rejected by the API server"; exit 1; }
  log "chart [${s:-defaults}]: $(wc -l < "$WORK/dryrun-$n.txt") objects accepted (server-side dry run)"
done
grep -q "customresourcedefinition.apiextensions.k8s.io/servicemonitors.monitoring.coreos.com" "$WORK/dryrun-1.txt" ||
  { log "FAIL: the operator CRDs were not in the chart's manifests"; exit 1; }
$KUBECTL kustomize "$REPO/deploy" > "$WORK/deploy.yaml"
$KUBECTL apply --dry-run=server -f "$WORK/deploy.yaml" > "$WORK/dryrun-kustomize.txt" ||
  { log "FAIL: deploy/ rejected by the API server"; exit 1; }
log "deploy/ (kustomize): $(wc -l < "$WORK/dryrun-kustomize.txt") objects accepted"
log "OK"
