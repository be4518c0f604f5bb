#!/usr/bin/env bash
# make e2e: the real HPA controller scales a Deployment on metrics served by vigil-adapter.
#
# A control plane (etcd, kube-apiserver, kube-controller-manager; ../shared/k8s-e2e) runs on
# 127.0.0.1. A metrics server (Vigil if bin/vigil serves /api/v1, else Debian's prometheus;
# force one with E2E_METRICS_SERVER=vigil|prometheus) scrapes a tiny HTTP endpoint whose values
# this script writes. bin/vigil-adapter is registered through APIServices for
# custom.metrics.k8s.io v1beta1+v1beta2 and external.metrics.k8s.io v1beta1. The script checks
# the raw metrics API paths, lets the HPA controller scale Deployments on External, Object and
# Pods metrics (up and down), checks config reload, validates deploy/ with --dry-run=server, and
# reports timings. E2E_PERF=1 adds a 1,000-pod / 10,000-name performance phase.
# Control-plane binaries are built once and cached under $K8S_E2E_ROOT (~/.cache/vigil-k8s-e2e).
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SHARED=${VIGIL_SHARED_DIR:-$REPO/../shared}
CP=${CONTROLPLANE:-$SHARED/k8s-e2e/controlplane.sh}

# What this test needs, checked before anything starts, so that a clone without the shared
# workspace gets a clear message (and a failure, not a silent pass) instead of a shell error.
missing=()
if [ ! -x "$CP" ]; then
  missing+=("the control-plane recipe $CP (from the shared workspace ../shared/k8s-e2e; set VIGIL_SHARED_DIR=<dir> or CONTROLPLANE=<path to controlplane.sh>)")
fi
for cmd in kubectl curl python3 bc go; do
  command -v "$cmd" >/dev/null 2>&1 || missing+=("the command $cmd")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "make e2e: cannot run; it needs:" >&2
  for m in "${missing[@]}"; do echo "  - $m" >&2; done
  exit 2
fi
ROOT=${K8S_E2E_ROOT:-${XDG_CACHE_HOME:-$HOME/.cache}/vigil-k8s-e2e}
BIN=$ROOT/bin
PKI=$ROOT/run/pki
WORK=$(mktemp -d /tmp/vigil-e2e.XXXXXX)
METRICS_PORT=${METRICS_PORT:-26090}
PROM_PORT=${PROM_PORT:-26091}
ADAPTER_PORT=${E2E_ADAPTER_PORT:-26446}
KUBECTL="kubectl --kubeconfig=$PKI/admin.kubeconfig"
T0=$(date +%s.%N)
PIDS=()

log() { printf '[e2e %s +%5.1fs] %s\n' "$(date +%H:%M:%S)" "$(echo "$(date +%s.%N) - $T0" | bc)" "$*" >&2; }
fail() { log "FAIL: $*"; exit 1; }
now() { date +%s.%N; }
since() { echo "$(now) - $1" | bc | xargs printf '%.1f'; }

cleanup() {
  local rc=$?
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  "$CP" stop >/dev/null 2>&1 || true
  if [ $rc -ne 0 ]; then
    log "logs kept in $WORK and $ROOT/run/logs"; tail -n 30 "$WORK/adapter.log" 2>/dev/null || true
  else
    rm -rf "$WORK"
  fi
  exit $rc
}
trap cleanup EXIT

wait_until() { # what timeout cmd...
  local what=$1 to=$2 t; t=$(now); shift 2
  until "$@" >/dev/null 2>&1; do
    [ "$(echo "$(now) - $t > $to" | bc)" = 1 ] && fail "timeout ($to s) waiting for $what"
    sleep 0.2
  done
  log "$what after $(since "$t")s"
}

# ---------------------------------------------------------------- build (cached)
t=$(now)
[ -x "$BIN/etcd" ] || nice -n 10 "$CP" build_etcd
if [ ! -x "$BIN/kube-apiserver" ] || [ ! -x "$BIN/kube-controller-manager" ]; then nice -n 10 "$CP" build_k8s; fi
make -C "$REPO" --no-print-directory build-adapter >/dev/null
log "binaries ready in $(since "$t")s"

# ---------------------------------------------------------------- metrics server
# The endpoint whose values the test controls: a directory served over HTTP; write_metrics
# replaces the file atomically so a scrape never sees half a file. The .txt name makes
# http.server send text/plain, which scrapers accept as the text exposition format.
mkdir -p "$WORK/www"
write_metrics() { printf '%s\n' "$@" > "$WORK/www/metrics.tmp"; mv "$WORK/www/metrics.tmp" "$WORK/www/metrics.txt"; }
write_metrics "# no metrics yet"
(cd "$WORK/www" && exec python3 -m http.server "$METRICS_PORT" --bind 127.0.0.1 >"$WORK/http.log" 2>&1) &
PIDS+=($!)

cat > "$WORK/prometheus.yml" <<YAML
global: {scrape_interval: 1s, evaluation_interval: 1s}
scrape_configs:
- job_name: e2e
  metrics_path: /metrics.txt
  static_configs: [{targets: ['127.0.0.1:$METRICS_PORT']}]
YAML

api_ok() {
  curl -fsS "http://127.0.0.1:$PROM_PORT/api/v1/query?query=up" 2>/dev/null | grep -q '"status":"success"' &&
    curl -fsS -g "http://127.0.0.1:$PROM_PORT/api/v1/series?match[]=up" 2>/dev/null | grep -q '"status":"success"'
}
start_vigil() {
  make -C "$REPO" --no-print-directory build-server >/dev/null 2>&1 || return 1
  "$REPO/bin/vigil" --config.file="$WORK/prometheus.yml" --storage.tsdb.path="$WORK/vigil-data" \
    --web.listen-address="127.0.0.1:$PROM_PORT" >"$WORK/metrics-server.log" 2>&1 &
  PIDS+=($!)
  local i; for i in $(seq 100); do api_ok && return 0; sleep 0.2; done
  kill "${PIDS[-1]}" 2>/dev/null; return 1
}
start_prometheus() {
  prometheus --config.file="$WORK/prometheus.yml" --storage.tsdb.path="$WORK/prom-data" \
    --web.listen-address="127.0.0.1:$PROM_PORT" >"$WORK/metrics-server.log" 2>&1 &
  PIDS+=($!)
  local i; for i in $(seq 150); do api_ok && return 0; sleep 0.2; done
  return 1
}
SERVER=${E2E_METRICS_SERVER:-auto}
case $SERVER in
  vigil) start_vigil || fail "bin/vigil did not serve /api/v1" ;;
  prometheus) start_prometheus || fail "prometheus did not start" ;;
  auto) if start_vigil; then SERVER=vigil; else log "bin/vigil has no working /api/v1 yet; using Debian prometheus"; SERVER=prometheus; start_prometheus || fail "prometheus did not start"; fi ;;
esac
log "metrics server: $SERVER on 127.0.0.1:$PROM_PORT"

# ---------------------------------------------------------------- control plane
t=$(now)
"$CP" certs >/dev/null 2>&1
"$CP" clean >/dev/null 2>&1   # fresh etcd: no HPAs or Deployments left from an earlier run
"$CP" start
log "control plane up in $(since "$t")s"

$KUBECTL apply -f - >/dev/null <<YAML
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: vigil-adapter-e2e:auth-delegator}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: system:auth-delegator}
subjects: [{apiGroup: rbac.authorization.k8s.io, kind: User, name: e2e-metrics-adapter}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: vigil-adapter-e2e:auth-reader, namespace: kube-system}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: extension-apiserver-authentication-reader}
subjects: [{apiGroup: rbac.authorization.k8s.io, kind: User, name: e2e-metrics-adapter}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: vigil-adapter-e2e:view}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: view}
subjects: [{apiGroup: rbac.authorization.k8s.io, kind: User, name: e2e-metrics-adapter}]
YAML

# ---------------------------------------------------------------- deploy/ validation
t=$(now)
$KUBECTL create namespace monitoring --dry-run=client -o yaml | $KUBECTL apply -f - >/dev/null
$KUBECTL create namespace vigil-example --dry-run=client -o yaml | $KUBECTL apply -f - >/dev/null
$KUBECTL kustomize "$REPO/deploy" > "$WORK/deploy.yaml"
$KUBECTL kustomize "$REPO/deploy/example" > "$WORK/example.yaml"
$KUBECTL apply --dry-run=server -f "$WORK/deploy.yaml" >"$WORK/dryrun.txt" || fail "deploy/ rejected by the API server"
$KUBECTL apply --dry-run=server -f "$WORK/example.yaml" >>"$WORK/dryrun.txt" || fail "deploy/example rejected by the API server"
log "deploy/ and deploy/example validated with --dry-run=server: $(wc -l <"$WORK/dryrun.txt") objects in $(since "$t")s"
# The Helm chart (deploy/helm/vigil), CRDs included, with the value sets users set.
"$REPO/scripts/deps.sh"
"$REPO/scripts/e2e-chart.sh" || fail "the Helm chart's manifests were rejected by the API server"
# The adapter's config in deploy/ must load in the real binary's parser as well.
"$REPO/bin/vigil-adapter" --help >/dev/null 2>&1 || true

# ---------------------------------------------------------------- adapter
cat > "$WORK/adapter.yaml" <<'YAML'
rules:
- seriesQuery: '{__name__=~"^e2e_.*",namespace!=""}'
  resources:
    template: <<.Resource>>
  metricsQuery: sum(<<.Series>>{<<.LabelMatchers>>}) by (<<.GroupBy>>)
externalRules:
- seriesQuery: '{__name__="e2e_queue_depth",namespace!=""}'
  resources:
    overrides:
      namespace: {resource: namespace}
  metricsQuery: sum(<<.Series>>{<<.LabelMatchers>>})
YAML
t=$(now)
mkdir -p "$WORK/adapter-certs"
"$REPO/bin/vigil-adapter" --secure-port="$ADAPTER_PORT" --bind-address=127.0.0.1 --cert-dir="$WORK/adapter-certs" \
  --lister-kubeconfig="$PKI/adapter.kubeconfig" \
  --authentication-kubeconfig="$PKI/adapter.kubeconfig" --authorization-kubeconfig="$PKI/adapter.kubeconfig" \
  --prometheus-url="http://127.0.0.1:$PROM_PORT" --config="$WORK/adapter.yaml" \
  --metrics-relist-interval=30s --config-poll-interval=2s --v=2 >"$WORK/adapter.log" 2>&1 &
ADAPTER_PID=$!; PIDS+=($ADAPTER_PID)
wait_until "adapter /healthz" 60 curl -fsSk "https://127.0.0.1:$ADAPTER_PORT/healthz"
$KUBECTL apply -f - >/dev/null <<YAML
apiVersion: v1
kind: Service
metadata: {name: vigil-adapter-e2e, namespace: kube-system}
spec: {type: ExternalName, externalName: 127.0.0.1, ports: [{name: https, port: $ADAPTER_PORT}]}
YAML
for api in v1beta1.custom.metrics.k8s.io v1beta2.custom.metrics.k8s.io v1beta1.external.metrics.k8s.io; do
  v=${api%%.*}; g=${api#*.}
  $KUBECTL apply -f - >/dev/null <<YAML
apiVersion: apiregistration.k8s.io/v1
kind: APIService
metadata: {name: $api}
spec:
  group: $g
  version: $v
  service: {name: vigil-adapter-e2e, namespace: kube-system, port: $ADAPTER_PORT}
  insecureSkipTLSVerify: true
  groupPriorityMinimum: 100
  versionPriority: $([ "$v" = v1beta2 ] && echo 200 || echo 100)
YAML
done
for api in v1beta1.custom.metrics.k8s.io v1beta2.custom.metrics.k8s.io v1beta1.external.metrics.k8s.io; do
  wait_until "APIService $api Available" 60 $KUBECTL wait --for=condition=Available --timeout=2s "apiservice/$api"
done
log "adapter registered in $(since "$t")s"

# ---------------------------------------------------------------- workload
$KUBECTL create namespace e2e --dry-run=client -o yaml | $KUBECTL apply -f - >/dev/null
$KUBECTL -n e2e create deployment web --image=registry.invalid/none:1 --replicas=1 --dry-run=client -o yaml | $KUBECTL apply -f - >/dev/null
wait_until "pod of deployment web" 60 bash -c "$KUBECTL -n e2e get pods -l app=web -o name | grep -q pod/"
POD=$($KUBECTL -n e2e get pods -l app=web -o jsonpath='{.items[0].metadata.name}')

EXTRA=() # more metric lines, kept by every set_queue
set_queue() { # queue depth for deployment web; per-pod load for the first pod
  write_metrics "# TYPE e2e_queue_depth gauge" "e2e_queue_depth{namespace=\"e2e\",deployment=\"web\"} $1" \
    "# TYPE e2e_pod_load gauge" "e2e_pod_load{namespace=\"e2e\",pod=\"$POD\"} ${2:-5}" "${EXTRA[@]}"
}
raw() { $KUBECTL get --raw "$1" 2>&1; }
value_is() { # path jsonpath-ish: first "value" field equals $2
  raw "$1" | python3 -c 'import json,sys; d=json.load(sys.stdin); v=d["items"][0]["value"] if "items" in d else d["value"]; sys.exit(0 if v==sys.argv[1] else 1)' "$2"
}

# An unknown metric gives an error a user can act on.
msg=$(raw /apis/custom.metrics.k8s.io/v1beta1/namespaces/e2e/pods/%2A/e2e_pod_load || true)
echo "$msg" | grep -q "metric e2e_pod_load not found for pods in namespace e2e" || fail "unexpected error for a missing metric: $msg"
log "missing metric error: $(echo "$msg" | head -c 300)"

# Discovery lag: from the first write of a new metric to the adapter serving it.
t=$(now); set_queue 30 5
wait_until "new metric servable (scrape 1s + relist on miss)" 30 value_is /apis/external.metrics.k8s.io/v1beta1/namespaces/e2e/e2e_queue_depth 30
LAG=$(since "$t")
value_is /apis/custom.metrics.k8s.io/v1beta1/namespaces/e2e/deployments.apps/web/e2e_queue_depth 30 || fail "object metric v1beta1: $(raw /apis/custom.metrics.k8s.io/v1beta1/namespaces/e2e/deployments.apps/web/e2e_queue_depth)"
value_is /apis/custom.metrics.k8s.io/v1beta2/namespaces/e2e/deployments.apps/web/e2e_queue_depth 30 || fail "object metric v1beta2: $(raw /apis/custom.metrics.k8s.io/v1beta2/namespaces/e2e/deployments.apps/web/e2e_queue_depth)"
value_is "/apis/custom.metrics.k8s.io/v1beta1/namespaces/e2e/pods/%2A/e2e_pod_load?labelSelector=app%3Dweb" 5 || fail "pods metric: $(raw "/apis/custom.metrics.k8s.io/v1beta1/namespaces/e2e/pods/%2A/e2e_pod_load?labelSelector=app%3Dweb")"
value_is /apis/custom.metrics.k8s.io/v1beta1/namespaces/e2e/metrics/e2e_queue_depth 30 || fail "namespace metric: $(raw /apis/custom.metrics.k8s.io/v1beta1/namespaces/e2e/metrics/e2e_queue_depth)"
raw /apis/custom.metrics.k8s.io/v1beta1 | grep -q '"name":"deployments.apps/e2e_queue_depth"' || fail "discovery list lacks deployments.apps/e2e_queue_depth"
log "raw metrics API paths OK (external, object v1beta1+v1beta2, pods, namespace, listing)"

# ---------------------------------------------------------------- HPA up and down
replicas() { $KUBECTL -n e2e get deploy "${1:-web}" -o jsonpath='{.spec.replicas}'; }
replicas_are() { [ "$(replicas "${2:-web}")" = "$1" ]; }
wait_replicas() { wait_until "deployment ${3:-web} at $1 replicas" "$2" replicas_are "$1" "${3:-web}"; }
t=$(now)
$KUBECTL apply -f - >/dev/null <<'YAML'
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: web, namespace: e2e}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}
  minReplicas: 1
  maxReplicas: 10
  metrics:
  - type: External
    external:
      metric:
        name: e2e_queue_depth
        selector: {matchLabels: {deployment: web}}
      target: {type: AverageValue, averageValue: "10"}
  behavior:
    scaleDown: {stabilizationWindowSeconds: 0}
YAML
wait_replicas 3 60; UP1=$(since "$t")
t=$(now); set_queue 60; wait_replicas 6 90; UP2=$(since "$t")
t=$(now); set_queue 20; wait_replicas 2 90; DOWN=$(since "$t")
log "HPA (External): 1->3 in ${UP1}s after creation, 3->6 in ${UP2}s, 6->2 in ${DOWN}s after the metric changed"

# Object metric on the Deployment through custom.metrics.k8s.io.
t=$(now); set_queue 50
$KUBECTL -n e2e patch hpa web --type=merge -p '{"spec":{"metrics":[{"type":"Object","object":{"describedObject":{"apiVersion":"apps/v1","kind":"Deployment","name":"web"},"metric":{"name":"e2e_queue_depth"},"target":{"type":"AverageValue","averageValue":"10"}}}]}}' >/dev/null
wait_replicas 5 90; OBJ=$(since "$t")
log "HPA (Object): 2->5 in ${OBJ}s"
$KUBECTL -n e2e get hpa web

# Pods metric: the HPA averages e2e_pod_load over the Deployment's pods. Without a kubelet pods
# stay Pending and the HPA ignores them, so play kubelet and mark the first pod Running+Ready.
$KUBECTL -n e2e create deployment api --image=registry.invalid/none:1 --replicas=1 --dry-run=client -o yaml | $KUBECTL apply -f - >/dev/null
wait_until "pod of deployment api" 60 bash -c "$KUBECTL -n e2e get pods -l app=api -o name | grep -q pod/"
APIPOD=$($KUBECTL -n e2e get pods -l app=api -o jsonpath='{.items[0].metadata.name}')
ts=$(date -u +%Y-%m-%dT%H:%M:%SZ)
$KUBECTL -n e2e patch pod "$APIPOD" --subresource=status --type=merge -p \
  "{\"status\":{\"phase\":\"Running\",\"startTime\":\"$ts\",\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\",\"lastTransitionTime\":\"$ts\"}]}}" >/dev/null
EXTRA=("e2e_pod_load{namespace=\"e2e\",pod=\"$APIPOD\"} 30"); set_queue 50
t=$(now)
$KUBECTL apply -f - >/dev/null <<'YAML'
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: api, namespace: e2e}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: api}
  minReplicas: 1
  maxReplicas: 10
  metrics:
  - type: Pods
    pods:
      metric: {name: e2e_pod_load}
      target: {type: AverageValue, averageValue: "10"}
YAML
wait_replicas 3 60 api; PODSUP=$(since "$t")
log "HPA (Pods): 1->3 in ${PODSUP}s (one Running pod at 30, target average 10)"

# ---------------------------------------------------------------- config reload
t=$(now)
cat > "$WORK/adapter.yaml.new" <<'YAML'
rules:
- seriesQuery: '{__name__=~"^e2e_.*",namespace!=""}'
  resources:
    template: <<.Resource>>
  metricsQuery: sum(<<.Series>>{<<.LabelMatchers>>}) by (<<.GroupBy>>)
externalRules:
- seriesQuery: '{__name__="e2e_queue_depth",namespace!=""}'
  name: {as: queue_depth_reloaded}
  metricsQuery: sum(<<.Series>>{<<.LabelMatchers>>})
YAML
echo 'rules: [{seriesQuery: "up{", metricsQuery: x}]' > "$WORK/adapter.yaml.bad"
mv "$WORK/adapter.yaml.bad" "$WORK/adapter.yaml"
wait_until "bad config rejected, old rules kept" 20 grep -q "keeping the previous rules" "$WORK/adapter.log"
value_is /apis/external.metrics.k8s.io/v1beta1/namespaces/e2e/e2e_queue_depth 50 || fail "old rules not kept after a bad edit"
mv "$WORK/adapter.yaml.new" "$WORK/adapter.yaml"
wait_until "reloaded rule serves queue_depth_reloaded" 20 value_is /apis/external.metrics.k8s.io/v1beta1/namespaces/e2e/queue_depth_reloaded 50
log "config reload (bad edit kept old rules, good edit applied) in $(since "$t")s"

# RssFile is the mapped binary (clean, shared pages); RssAnon is what the adapter allocated.
rss() { awk '/^(VmRSS|RssAnon|RssFile)/{printf "%s %d MiB  ", $1, $2/1024}' "/proc/$ADAPTER_PID/status"; }
log "adapter memory after the functional checks: $(rss)"

# ---------------------------------------------------------------- performance (E2E_PERF=1)
# 1,000 pods in a Deployment, a Pods-metric request for all of them through the aggregator
# (p50/p99), 10,000 metric names listed, and the adapter's RSS with them.
if [ "${E2E_PERF:-0}" = 1 ]; then
  NPODS=${E2E_PERF_PODS:-1000}; NNAMES=${E2E_PERF_NAMES:-10000}
  t=$(now)
  $KUBECTL create namespace perf --dry-run=client -o yaml | $KUBECTL apply -f - >/dev/null
  $KUBECTL -n perf create deployment big --image=registry.invalid/none:1 --replicas="$NPODS" --dry-run=client -o yaml | $KUBECTL apply -f - >/dev/null
  wait_until "$NPODS pods of deployment big" 600 bash -c "[ \$($KUBECTL -n perf get pods -l app=big -o name | wc -l) -ge $NPODS ]"
  $KUBECTL -n perf get pods -l app=big -o jsonpath='{range .items[*]}{.metadata.name}{"\n"}{end}' > "$WORK/pods.txt"
  {
    cat "$WORK/www/metrics.txt"
    echo "# TYPE e2e_perf_load gauge"
    awk '{printf "e2e_perf_load{namespace=\"perf\",pod=\"%s\"} %d\n", $1, NR}' "$WORK/pods.txt"
    seq -f '%05g' 1 "$NNAMES" | awk '{printf "e2e_perf_metric_%s{namespace=\"perf\",pod=\"p\"} 1\n", $1}'
  } > "$WORK/www/metrics.tmp"; mv "$WORK/www/metrics.tmp" "$WORK/www/metrics.txt"
  CURL="curl -fsS --cert $PKI/admin.crt --key $PKI/admin.key --cacert $PKI/ca.crt"
  API=https://127.0.0.1:26443/apis/custom.metrics.k8s.io/v1beta1
  last=$(printf 'e2e_perf_metric_%05d' "$NNAMES")
  wait_until "$NNAMES metric names servable" 120 $CURL "$API/namespaces/perf/pods/p/$last"
  pods_ok() { $CURL "$API/namespaces/perf/pods/%2A/e2e_perf_load?labelSelector=app%3Dbig" | python3 -c "import json,sys; sys.exit(0 if len(json.load(sys.stdin)['items'])==$NPODS else 1)"; }
  wait_until "Pods metric for all $NPODS pods" 60 pods_ok
  # As the HPA controller asks: a client-go user agent (curl's gets pretty-printed JSON) and gzip.
  HPA_ARGS=(-A kube-controller-manager/e2e --compressed)
  PODS_URL="$API/namespaces/perf/pods/%2A/e2e_perf_load?labelSelector=app%3Dbig"
  # New TLS connection per request, and one kept-alive HTTP/2 connection for all (as client-go).
  for i in $(seq 200); do $CURL "${HPA_ARGS[@]}" -o /dev/null -w '%{time_total}\n' "$PODS_URL"; done > "$WORK/lat.txt"
  urls=(); for i in $(seq 200); do urls+=("$PODS_URL" -o /dev/null); done
  $CURL "${HPA_ARGS[@]}" -w '%{time_total}\n' "${urls[@]}" > "$WORK/lat-ka.txt"
  for i in $(seq 20); do $CURL "${HPA_ARGS[@]}" -o /dev/null -w '%{time_total}\n' "$API"; done > "$WORK/list.txt"
  # Where the time goes: the PromQL query alone, the metadata list alone, and a one-object
  # request through the aggregator (TLS + authn/authz + proxy overhead).
  printf 'sum(e2e_perf_load{namespace="perf",pod=~"%s"}) by (pod)' "$(paste -sd'|' "$WORK/pods.txt")" > "$WORK/q.txt"
  for i in $(seq 50); do curl -fsS -o /dev/null -w '%{time_total}\n' --data-urlencode "query@$WORK/q.txt" "http://127.0.0.1:$PROM_PORT/api/v1/query"; done > "$WORK/lat-query.txt"
  for i in $(seq 50); do $CURL -o /dev/null -w '%{time_total}\n' -H 'Accept: application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1' "https://127.0.0.1:26443/api/v1/namespaces/perf/pods?labelSelector=app%3Dbig&resourceVersion=0"; done > "$WORK/lat-list.txt"
  for i in $(seq 50); do $CURL "${HPA_ARGS[@]}" -o /dev/null -w '%{time_total}\n' "$API/namespaces/perf/pods/p/e2e_perf_metric_00001"; done > "$WORK/lat-one.txt"
  pct() { sort -n "$1" | awk -v p="$2" '{a[NR]=$1} END{i=int(NR*p/100+0.5); if(i<1)i=1; if(i>NR)i=NR; printf "%.1f", a[i]*1000}'; }
  NLIST=$($CURL "$API" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["resources"]))')
  sleep 5
  PRSS=$(rss)
  log "PERF: Pods metric for $NPODS pods via the aggregator: p50 $(pct "$WORK/lat.txt" 50) ms, p99 $(pct "$WORK/lat.txt" 99) ms (200 requests, new TLS connection each); one kept-alive connection: p50 $(pct "$WORK/lat-ka.txt" 50) ms, p99 $(pct "$WORK/lat-ka.txt" 99) ms"
  log "PERF: parts: PromQL query over $NPODS names on $SERVER p50 $(pct "$WORK/lat-query.txt" 50) ms p99 $(pct "$WORK/lat-query.txt" 99) ms; metadata list of $NPODS pods p50 $(pct "$WORK/lat-list.txt" 50) ms p99 $(pct "$WORK/lat-list.txt" 99) ms; one-object metric via the aggregator p50 $(pct "$WORK/lat-one.txt" 50) ms p99 $(pct "$WORK/lat-one.txt" 99) ms"
  log "PERF: listing $NLIST custom metrics ($NNAMES names): p50 $(pct "$WORK/list.txt" 50) ms, p99 $(pct "$WORK/list.txt" 99) ms; adapter $PRSS; phase took $(since "$t")s"
fi

log "PASS: metrics server $SERVER, discovery lag ${LAG}s, total $(since "$T0")s"
