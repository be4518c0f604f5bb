#!/usr/bin/env bash
# make e2e-operator: Vigil reads Prometheus Operator resources from a real control plane.
#
# A control plane (etcd and kube-apiserver built by ../shared/k8s-e2e) runs on 127.0.0.1 with
# this script's own ports and run directory. There is no kubelet: the scraped
# target and the webhook receivers run in a network namespace this script creates (a veth pair
# 10.213.27.1 <-> 10.213.27.2; needs root), which the EndpointSlice and the Pod status point at.
# The operator's CRDs come from the operator's own module (v0.88.0,
# example/prometheus-operator-crd). Vigil runs beside the control plane with
# --kubernetes.crds --kubernetes.kubeconfig. Checked, with timings:
#   - Service + EndpointSlice + ServiceMonitor: target scraped with the operator's labels
#     (time from kubectl apply to the first stored sample);
#   - the ServiceMonitor's interval and relabelings changed: applied;
#   - the ServiceMonitor deleted: the target goes and its series are stale;
#   - a PodMonitor on a Pod whose status IP is set by hand;
#   - a ScrapeConfig with staticConfigs pointing at the target;
#   - a PrometheusRule whose alert fires reaches the root webhook receiver, and an
#     AlertmanagerConfig in a namespace routes that namespace's alerts to its own receiver;
#     another namespace's AlertmanagerConfig (a Slack receiver whose apiURL is read from a
#     Secret and points at the namespace's HTTP server, an inhibit rule, a mute time interval
#     on its route) gets that namespace's alerts on Slack;
#   - an invalid ServiceMonitor is skipped (Kubernetes Event, metric) without breaking the rest.
# Each change must take effect within DEADLINE seconds (default 5).
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SHARED=${VIGIL_SHARED_DIR:-$REPO/../shared}
CP=${CONTROLPLANE:-$SHARED/k8s-e2e/controlplane.sh}
BUILT=${K8S_E2E_BIN:-${XDG_CACHE_HOME:-$HOME/.cache}/vigil-k8s-e2e/bin}
DEADLINE=${DEADLINE:-5}

missing=()
[ -x "$CP" ] || missing+=("the control-plane recipe $CP (../shared/k8s-e2e; set VIGIL_SHARED_DIR or CONTROLPLANE)")
for b in etcd kube-apiserver; do
  [ -x "$BUILT/$b" ] || missing+=("$BUILT/$b (build it once with $CP build)")
done
for cmd in kubectl curl python3 bc go ip openssl; do
  command -v "$cmd" >/dev/null 2>&1 || missing+=("the command $cmd")
done
[ "$(id -u)" = 0 ] || missing+=("root (to create a network namespace)")
if [ ${#missing[@]} -gt 0 ]; then
  echo "make e2e-operator: cannot run; it needs:" >&2
  for m in "${missing[@]}"; do echo "  - $m" >&2; done
  exit 2
fi

# Our own control plane: own ports (the crds lane's 27000-27999) and run directory, the shared
# binaries.
export K8S_E2E_ROOT=${E2E_ROOT:-/tmp/vigil-e2e-operator-cp}
export BIN=$BUILT
export ETCD_PORT=27379 ETCD_PEER_PORT=27380 APISERVER_PORT=27443 KCM_PORT=27257
PKI=$K8S_E2E_ROOT/run/pki
KUBECTL="kubectl --kubeconfig=$PKI/admin.kubeconfig"
WORK=$(mktemp -d /tmp/vigil-e2e-operator.XXXXXX)
VIGIL_PORT=27090
NS=vigil-e2e-op
HOST_IF=vge2e0
NS_IF=vge2e1
HOST_IP=10.213.27.1
TARGET_IP=10.213.27.2
TARGET_PORT=27100
HOOK_PORT=27101
T0=$(date +%s.%N)
PIDS=()
RESULTS=()

log() { printf '[e2e-operator %s +%5.1fs] %s\n' "$(date +%H:%M:%S)" "$(echo "$(date +%s.%N) - $T0" | bc)" "$*" >&2; }
fail() { log "FAIL: $*"; exit 1; }
now() { date +%s.%N; }
since() { echo "$(now) - $1" | bc | xargs printf '%.2f'; }

cleanup() {
  local rc=$?
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  # kube-apiserver can hang in its graceful shutdown once etcd is gone: give everything 15 s,
  # then SIGKILL, so that a passing run does not hang here.
  for _ in $(seq 30); do
    alive=0
    for p in "${PIDS[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
    [ $alive = 0 ] && break
    sleep 0.5
  done
  for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  ip netns pids "$NS" 2>/dev/null | xargs -r kill 2>/dev/null || true
  ip link del "$HOST_IF" 2>/dev/null || true
  ip netns del "$NS" 2>/dev/null || true
  if [ $rc -ne 0 ]; then
    log "logs kept in $WORK and $K8S_E2E_ROOT/run/logs"; tail -n 40 "$WORK/vigil.log" 2>/dev/null || true
  else
    rm -rf "$WORK" "$K8S_E2E_ROOT/run/etcd-data"
  fi
  exit $rc
}
trap cleanup EXIT

# within WHAT CMD...: CMD must succeed within DEADLINE seconds; records the time taken.
within() {
  local what=$1 t; t=$(now); shift
  until "$@" >/dev/null 2>&1; do
    [ "$(echo "$(now) - $t > $DEADLINE" | bc)" = 1 ] && fail "$what: not within ${DEADLINE}s"
    sleep 0.05
  done
  local took; took=$(since "$t")
  log "$what: ${took}s"
  RESULTS+=("$what|$took")
}
wait_until() { # what timeout cmd...
  local what=$1 to=$2 t; t=$(now); shift 2
  until "$@" >/dev/null 2>&1; do
    [ "$(echo "$(now) - $t > $to" | bc)" = 1 ] && fail "timeout ($to s) waiting for $what"
    sleep 0.2
  done
  log "$what after $(since "$t")s"
}

# ---------------------------------------------------------------- the network namespace
ip netns del "$NS" 2>/dev/null || true
ip link del "$HOST_IF" 2>/dev/null || true
ip netns add "$NS"
ip link add "$HOST_IF" type veth peer name "$NS_IF"
ip link set "$NS_IF" netns "$NS"
ip addr add "$HOST_IP/30" dev "$HOST_IF"
ip link set "$HOST_IF" up
ip netns exec "$NS" ip addr add "$TARGET_IP/30" dev "$NS_IF"
ip netns exec "$NS" ip link set "$NS_IF" up
ip netns exec "$NS" ip link set lo up

# The target (/metrics in the text format) and the webhook receivers (each POST body is
# appended to hooks/<path>), both inside the namespace.
mkdir -p "$WORK/hooks"
cat > "$WORK/servers.py" <<'PY'
import http.server, os, sys, threading
work, ip, mport, hport = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
class Metrics(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = b"# TYPE e2e_value gauge\ne2e_value 42\n"
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a): pass
class Hook(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(n)
        with open(os.path.join(work, "hooks", self.path.strip("/").replace("/", "_") or "root"), "ab") as f:
            f.write(body + b"\n")
        self.send_response(200); self.end_headers()
    def log_message(self, *a): pass
for port, h in ((mport, Metrics), (hport, Hook)):
    s = http.server.ThreadingHTTPServer((ip, port), h)
    threading.Thread(target=s.serve_forever, daemon=True).start()
threading.Event().wait()
PY
ip netns exec "$NS" python3 "$WORK/servers.py" "$WORK" "$TARGET_IP" "$TARGET_PORT" "$HOOK_PORT" >"$WORK/servers.log" 2>&1 &
PIDS+=($!)
wait_until "target in the namespace" 60 curl -fsS "http://$TARGET_IP:$TARGET_PORT/metrics"

# ---------------------------------------------------------------- control plane + CRDs
# etcd and kube-apiserver only (flags as controlplane.sh's start): nothing here needs a
# controller; the "default" ServiceAccount a Pod needs is created by hand.
t=$(now)
"$CP" certs >"$WORK/controlplane.log" 2>&1 || { tail -20 "$WORK/controlplane.log"; fail "certificates"; }
RUN=$K8S_E2E_ROOT/run
rm -rf "$RUN/etcd-data"
"$BIN/etcd" --name e2e --data-dir "$RUN/etcd-data" \
  --listen-client-urls "http://127.0.0.1:$ETCD_PORT" --advertise-client-urls "http://127.0.0.1:$ETCD_PORT" \
  --listen-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
  --initial-cluster "e2e=http://127.0.0.1:$ETCD_PEER_PORT" --unsafe-no-fsync >"$WORK/etcd.log" 2>&1 &
PIDS+=($!)
wait_until etcd 30 curl -fsS "http://127.0.0.1:$ETCD_PORT/health"
"$BIN/kube-apiserver" --etcd-servers="http://127.0.0.1:$ETCD_PORT" \
  --bind-address=127.0.0.1 --advertise-address=127.0.0.1 --secure-port="$APISERVER_PORT" \
  --endpoint-reconciler-type=none \
  --tls-cert-file="$PKI/apiserver.crt" --tls-private-key-file="$PKI/apiserver.key" --client-ca-file="$PKI/ca.crt" \
  --service-account-issuer=https://kubernetes.default.svc \
  --service-account-key-file="$PKI/sa.pub" --service-account-signing-key-file="$PKI/sa.key" \
  --service-cluster-ip-range=10.0.0.0/24 --authorization-mode=RBAC --profiling=false --v=1 >"$WORK/apiserver.log" 2>&1 &
PIDS+=($!)
wait_until kube-apiserver 180 $KUBECTL get --raw /readyz
log "control plane up in $(since "$t")s"
OPDIR=$(cd "$REPO" && GOFLAGS=-mod=mod go mod download -json github.com/prometheus-operator/prometheus-operator@v0.88.0 | python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])')
t=$(now)
$KUBECTL apply --server-side -f "$OPDIR/example/prometheus-operator-crd/" >/dev/null
for crd in servicemonitors podmonitors prometheusrules alertmanagerconfigs scrapeconfigs; do
  # (kubectl wait fails instead of waiting while a new CRD has no status yet.)
  established() { [ "$($KUBECTL get "crd/$1.monitoring.coreos.com" -o 'jsonpath={.status.conditions[?(@.type=="Established")].status}')" = True ]; }
  wait_until "CRD $crd established" 60 established "$crd"
done
log "operator CRDs (v0.88.0) installed in $(since "$t")s"

# ---------------------------------------------------------------- vigil
make -C "$REPO" --no-print-directory build-server >/dev/null
cat > "$WORK/prometheus.yml" <<YAML
global: {scrape_interval: 1s, evaluation_interval: 1s}
scrape_configs:
- job_name: self
  static_configs: [{targets: ['127.0.0.1:$VIGIL_PORT']}]
YAML
cat > "$WORK/alertmanager.yml" <<YAML
route: {receiver: root, group_by: [alertname, namespace], group_wait: 1s, group_interval: 1s}
receivers:
- name: root
  webhook_configs: [{url: 'http://$TARGET_IP:$HOOK_PORT/root', send_resolved: false}]
YAML
"$REPO/bin/vigil" --config.file="$WORK/prometheus.yml" --alertmanager.config.file="$WORK/alertmanager.yml" \
  --storage.tsdb.path="$WORK/data" --web.listen-address="127.0.0.1:$VIGIL_PORT" \
  --kubernetes.crds --kubernetes.kubeconfig="$PKI/admin.kubeconfig" \
  >"$WORK/vigil.log" 2>&1 &
PIDS+=($!)
VIGIL_PID=$!
API=http://127.0.0.1:$VIGIL_PORT/api/v1
wait_until "vigil ready" 60 curl -fsS "http://127.0.0.1:$VIGIL_PORT/-/ready"
# The first list of the resources is done (the metric is set by the first regeneration): the
# timings below measure a change on a running Vigil, not its start.
watching() { curl -fsS "http://127.0.0.1:$VIGIL_PORT/metrics" | grep -q 'prometheus_operator_managed_resources{controller="prometheus",resource="ServiceMonitor",state="selected"}'; }
wait_until "vigil lists the operator's resources" 60 watching

q() { curl -fsS -G --data-urlencode "query=$1" "$API/query"; }
has() { q "$1" | python3 -c 'import json,sys; r=json.load(sys.stdin)["data"]["result"]; sys.exit(0 if r else 1)'; }
none() { q "$1" | python3 -c 'import json,sys; r=json.load(sys.stdin)["data"]["result"]; sys.exit(1 if r else 0)'; }
labels_of() { q "$1" | python3 -c 'import json,sys; r=json.load(sys.stdin)["data"]["result"]; print(json.dumps(r[0]["metric"], sort_keys=True))'; }
active_target() { curl -fsS "$API/targets?state=active" | python3 -c "import json,sys; t=json.load(sys.stdin)['data']['activeTargets']; sys.exit(0 if any(x['scrapePool']=='$1' for x in t) else 1)"; }
no_target() { ! active_target "$1"; }

# ---------------------------------------------------------------- ServiceMonitor
$KUBECTL apply -f - >/dev/null <<YAML
apiVersion: v1
kind: Namespace
metadata: {name: team-a}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: default, namespace: team-a}
---
apiVersion: v1
kind: Service
metadata: {name: app, namespace: team-a, labels: {app: demo, tier: backend}}
spec: {ports: [{name: web, port: $TARGET_PORT}]}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: app-1
  namespace: team-a
  labels: {kubernetes.io/service-name: app, endpointslice.kubernetes.io/managed-by: vigil-e2e}
addressType: IPv4
ports: [{name: web, port: $TARGET_PORT, protocol: TCP}]
endpoints: [{addresses: ["$TARGET_IP"], conditions: {ready: true}}]
YAML
SM_JOB=serviceMonitor/team-a/app/0
sm() { # interval extra-relabelings
  $KUBECTL apply -f - >/dev/null <<YAML
apiVersion: monitoring.coreos.com/v1
kind: ServiceMonitor
metadata: {name: app, namespace: team-a}
spec:
  selector: {matchLabels: {app: demo}}
  targetLabels: [tier]
  endpoints:
  - port: web
    interval: $1
    relabelings: $2
    metricRelabelings: [{sourceLabels: [__name__], regex: 'e2e_.*', targetLabel: via, replacement: servicemonitor}]
YAML
}
sm 2s '[]'
within "ServiceMonitor applied -> first sample stored" has "e2e_value{namespace=\"team-a\",service=\"app\"}"
got=$(labels_of "e2e_value{namespace=\"team-a\",service=\"app\"}")
want="{\"__name__\": \"e2e_value\", \"endpoint\": \"web\", \"instance\": \"$TARGET_IP:$TARGET_PORT\", \"job\": \"app\", \"namespace\": \"team-a\", \"service\": \"app\", \"tier\": \"backend\", \"via\": \"servicemonitor\"}"
[ "$got" = "$want" ] || fail "labels: got $got, want $want"
log "labels as the operator's: $got"

sm 1s '[{targetLabel: team, replacement: blue}]'
within "relabeling and interval changed -> applied" has "e2e_value{service=\"app\",team=\"blue\"}"
interval=$(curl -fsS "$API/targets?state=active" | python3 -c "import json,sys; t=[x for x in json.load(sys.stdin)['data']['activeTargets'] if x['scrapePool']=='$SM_JOB']; print(t[0]['scrapeInterval'])")
[ "$interval" = 1s ] || fail "scrape interval $interval, want 1s"
has 'up{job="self"}' || fail "the file's own job lost"

# An invalid ServiceMonitor is skipped, the rest keeps running.
$KUBECTL apply -f - >/dev/null <<YAML
apiVersion: monitoring.coreos.com/v1
kind: ServiceMonitor
metadata: {name: broken, namespace: team-a}
spec:
  selector: {matchLabels: {app: demo}}
  endpoints: [{port: web, interval: 1s, scrapeTimeout: 30s}]
YAML
rejected() { curl -fsS "http://127.0.0.1:$VIGIL_PORT/metrics" | grep -q 'prometheus_operator_managed_resources{controller="prometheus",resource="ServiceMonitor",state="rejected"} 1'; }
within "invalid ServiceMonitor counted as rejected" rejected
event() { $KUBECTL get events -n team-a --field-selector involvedObject.name=broken -o name | grep -q .; }
wait_until "Kubernetes Event on the invalid ServiceMonitor" 10 event
active_target "$SM_JOB" || fail "valid ServiceMonitor's target lost"

$KUBECTL delete servicemonitor -n team-a app >/dev/null
within "ServiceMonitor deleted -> target gone" no_target "$SM_JOB"
within "ServiceMonitor deleted -> series stale" none "e2e_value{service=\"app\"}"

# ---------------------------------------------------------------- PodMonitor
$KUBECTL apply -f - >/dev/null <<YAML
apiVersion: v1
kind: Pod
metadata: {name: worker, namespace: team-a, labels: {app: worker}}
spec:
  containers: [{name: main, image: example.invalid/none, ports: [{name: metrics, containerPort: $TARGET_PORT}]}]
YAML
$KUBECTL patch pod -n team-a worker --subresource=status --type=merge \
  -p "{\"status\":{\"phase\":\"Running\",\"podIP\":\"$TARGET_IP\",\"podIPs\":[{\"ip\":\"$TARGET_IP\"}]}}" >/dev/null
$KUBECTL apply -f - >/dev/null <<YAML
apiVersion: monitoring.coreos.com/v1
kind: PodMonitor
metadata: {name: worker, namespace: team-a}
spec:
  selector: {matchLabels: {app: worker}}
  podMetricsEndpoints: [{port: metrics, interval: 1s}]
YAML
within "PodMonitor applied -> first sample stored" has 'e2e_value{job="team-a/worker",pod="worker",container="main",endpoint="metrics",namespace="team-a"}'

# ---------------------------------------------------------------- ScrapeConfig
$KUBECTL apply -f - >/dev/null <<YAML
apiVersion: monitoring.coreos.com/v1alpha1
kind: ScrapeConfig
metadata: {name: static, namespace: team-a}
spec:
  scrapeInterval: 1s
  staticConfigs: [{targets: ["$TARGET_IP:$TARGET_PORT"], labels: {via: scrapeconfig}}]
YAML
within "ScrapeConfig applied -> first sample stored" has 'e2e_value{job="scrapeConfig/team-a/static",via="scrapeconfig"}'
log "ScrapeConfig's series: $(labels_of 'e2e_value{via="scrapeconfig"}')"

# ---------------------------------------------------------------- rules and routes
$KUBECTL apply -f - >/dev/null <<YAML
apiVersion: v1
kind: Namespace
metadata: {name: team-b}
---
apiVersion: monitoring.coreos.com/v1alpha1
kind: AlertmanagerConfig
metadata: {name: routes, namespace: team-a}
spec:
  route: {receiver: team-hook, groupBy: [alertname], groupWait: 1s, groupInterval: 1s}
  receivers: [{name: team-hook, webhookConfigs: [{url: "http://$TARGET_IP:$HOOK_PORT/team-a", sendResolved: false}]}]
YAML
amc_loaded() { curl -fsS "http://127.0.0.1:$VIGIL_PORT/api/v2/status" | grep -q 'team-a/routes/team-hook'; }
within "AlertmanagerConfig applied -> route in alertmanager.yml" amc_loaded
$KUBECTL apply -f - >/dev/null <<YAML
apiVersion: v1
kind: Namespace
metadata: {name: team-c}
---
apiVersion: v1
kind: Secret
metadata: {name: slack, namespace: team-c}
stringData: {url: "http://$TARGET_IP:$HOOK_PORT/slack"}
---
apiVersion: monitoring.coreos.com/v1alpha1
kind: AlertmanagerConfig
metadata: {name: chat, namespace: team-c}
spec:
  route: {receiver: slack, groupBy: [alertname], groupWait: 1s, groupInterval: 1s, muteTimeIntervals: [y2k]}
  receivers:
  - name: slack
    slackConfigs: [{apiURL: {name: slack, key: url}, channel: "#team-c", sendResolved: false}]
  inhibitRules:
  - sourceMatch: [{name: severity, value: critical, matchType: "="}]
    targetMatch: [{name: severity, value: info, matchType: "="}]
    equal: [alertname]
  muteTimeIntervals:
  - name: y2k
    timeIntervals: [{years: ["2000"]}]
YAML
slack_loaded() {
  curl -fsS "http://127.0.0.1:$VIGIL_PORT/api/v2/status" > "$WORK/am-status.json" &&
    grep -q 'team-c/chat/slack' "$WORK/am-status.json" && grep -q 'team-c/chat/y2k' "$WORK/am-status.json" &&
    grep -q 'namespace=\\"team-c\\"' "$WORK/am-status.json"
}
within "AlertmanagerConfig with a Slack receiver (Secret), inhibit rule, mute interval -> loaded" slack_loaded
t_rule=$(now)
$KUBECTL apply -f - >/dev/null <<YAML
apiVersion: monitoring.coreos.com/v1
kind: PrometheusRule
metadata: {name: alerts, namespace: team-a}
spec:
  groups:
  - name: e2e
    interval: 1s
    rules:
    - {alert: TeamAAlert, expr: 'vector(1)', labels: {namespace: team-a, severity: page}}
    - {alert: TeamBAlert, expr: 'vector(1)', labels: {namespace: team-b, severity: page}}
    - {alert: TeamCAlert, expr: 'vector(1)', labels: {namespace: team-c, severity: page}}
YAML
got_hook() { grep -q "$2" "$WORK/hooks/$1" 2>/dev/null; }
within "PrometheusRule applied -> alert at the namespace's own receiver" got_hook team-a TeamAAlert
within "PrometheusRule applied -> other namespace's alert at the root receiver" got_hook root TeamBAlert
within "PrometheusRule applied -> team-c's alert on its Slack receiver" got_hook slack TeamCAlert
python3 -c 'import json,sys; [json.loads(l) for l in open(sys.argv[1]) if l.strip()]' "$WORK/hooks/slack" || fail "the Slack receiver did not post JSON"
grep -q '"channel":"#team-c"' "$WORK/hooks/slack" || fail "Slack message without the channel: $(head -c 300 "$WORK/hooks/slack")"
if grep -q TeamCAlert "$WORK/hooks/root" 2>/dev/null; then fail "team-c's alert also reached the root receiver"; fi
if grep -q TeamBAlert "$WORK/hooks/team-a" 2>/dev/null; then fail "team-b's alert reached team-a's receiver"; fi
if grep -q TeamAAlert "$WORK/hooks/root" 2>/dev/null; then fail "team-a's alert also reached the root receiver"; fi

kill -0 "$VIGIL_PID" || fail "vigil died"
rss=$(awk '/VmRSS/{print $2}' "/proc/$VIGIL_PID/status")
log "vigil RSS $((rss / 1024)) MiB"
echo
echo "make e2e-operator: PASS (deadline ${DEADLINE}s per change)"
printf '%-70s %s\n' "step" "seconds"
for r in "${RESULTS[@]}"; do printf '%-70s %s\n' "${r%%|*}" "${r##*|}"; done
