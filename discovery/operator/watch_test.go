package operator

import (
	"context"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v2"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/utils/ptr"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/vigil-monitoring/vigil/config"
)

func TestMain(m *testing.M) {
	// client-go's WatchList flow waits for a bookmark the fake clientset never sends (see
	// discovery/kubernetes's TestMain).
	os.Setenv("KUBE_FEATURE_WatchListClient", "false")
	os.Exit(m.Run())
}

func newDynamic(objs ...runtime.Object) *dynamicfake.FakeDynamicClient {
	return dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(), map[schema.GroupVersionResource]string{
		ServiceMonitors:     "ServiceMonitorList",
		PodMonitors:         "PodMonitorList",
		PrometheusRules:     "PrometheusRuleList",
		AlertmanagerConfigs: "AlertmanagerConfigList",
		ScrapeConfigs:       "ScrapeConfigList",
	}, objs...)
}

func object(t testing.TB, doc string) *unstructured.Unstructured {
	t.Helper()
	u := &unstructured.Unstructured{}
	require.NoError(t, sigsyaml.Unmarshal([]byte(doc), &u.Object))
	if u.GetUID() == "" {
		u.SetUID(types.UID("uid-" + u.GetNamespace() + "-" + u.GetName()))
	}
	if u.GetResourceVersion() == "" {
		u.SetResourceVersion("1")
	}
	return u
}

const smDoc = `
apiVersion: monitoring.coreos.com/v1
kind: ServiceMonitor
metadata: {name: app, namespace: team}
spec:
  selector: {matchLabels: {app: demo}}
  endpoints: [{port: web, interval: 1s}]
`

// recorder keeps the states a watcher reports.
type recorder struct {
	mtx sync.Mutex
	st  *State
}

func (r *recorder) set(st *State) { r.mtx.Lock(); r.st = st; r.mtx.Unlock() }
func (r *recorder) get() *State   { r.mtx.Lock(); defer r.mtx.Unlock(); return r.st }

func (r *recorder) jobs() []string {
	st := r.get()
	if st == nil {
		return nil
	}
	var out []string
	for _, j := range st.Jobs {
		out = append(out, j.Name)
	}
	return out
}

func TestWatcherSkipsInvalidAndFollowsChanges(t *testing.T) {
	bad := object(t, `
apiVersion: monitoring.coreos.com/v1
kind: ServiceMonitor
metadata: {name: bad, namespace: team}
spec:
  endpoints: [{port: web, interval: 1s, scrapeTimeout: 10s}]
`)
	rule := object(t, `
apiVersion: monitoring.coreos.com/v1
kind: PrometheusRule
metadata: {name: rules, namespace: team}
spec:
  groups: [{name: g, rules: [{alert: Always, expr: vector(1), for: 0s, labels: {severity: page}}]}]
`)
	badRule := object(t, `
apiVersion: monitoring.coreos.com/v1
kind: PrometheusRule
metadata: {name: broken, namespace: team}
spec:
  groups: [{name: g, rules: [{alert: Broken, expr: "sum(("}]}]
`)
	amc := object(t, `
apiVersion: monitoring.coreos.com/v1alpha1
kind: AlertmanagerConfig
metadata: {name: routes, namespace: team}
spec:
  route: {receiver: hook, groupWait: 1s, matchers: [{name: severity, value: page, matchType: "="}]}
  receivers: [{name: hook, webhookConfigs: [{url: "http://10.213.27.2:27092/team"}]}]
`)
	dyn := newDynamic(object(t, smDoc), bad, rule, badRule, amc)
	reg := prometheus.NewRegistry()
	rec := &recorder{}
	w, err := New(Options{Dynamic: dyn, Client: fake.NewClientset(), RuleDir: t.TempDir(), Registerer: reg, OnChange: rec.set, Debounce: time.Millisecond})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go w.Run(ctx)

	require.Eventually(t, func() bool { return len(rec.jobs()) == 1 }, 10*time.Second, 10*time.Millisecond)
	st := rec.get()
	require.Equal(t, "serviceMonitor/team/app/0", st.Jobs[0].Name)
	require.Len(t, st.RuleFiles, 1)
	require.True(t, strings.HasSuffix(st.RuleFiles[0], "team-rules-uid-team-rules.yaml"))
	require.Len(t, st.AlertmanagerConfigs, 1)
	require.Equal(t, "team/routes", st.AlertmanagerConfigs[0].Object)
	b, err := yaml.Marshal(st.AlertmanagerConfigs[0].Route)
	require.NoError(t, err)
	require.Contains(t, string(b), `namespace="team"`)
	require.Contains(t, string(b), "receiver: team/routes/hook")
	require.Contains(t, string(b), "continue: true")
	require.Equal(t, 1.0, testutil.ToFloat64(w.managed.WithLabelValues("prometheus", "ServiceMonitor", "rejected")))
	require.Equal(t, 1.0, testutil.ToFloat64(w.managed.WithLabelValues("prometheus", "ServiceMonitor", "selected")))
	require.Equal(t, 1.0, testutil.ToFloat64(w.managed.WithLabelValues("prometheus", "PrometheusRule", "rejected")))

	// A change is picked up; a deletion removes the job.
	sm2 := object(t, strings.Replace(smDoc, "interval: 1s", "interval: 2s", 1))
	sm2.SetResourceVersion("2")
	_, err = dyn.Resource(ServiceMonitors).Namespace("team").Update(ctx, sm2, metav1.UpdateOptions{})
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		st := rec.get()
		return len(st.Jobs) == 1 && strings.Contains(st.Jobs[0].YAML, "scrape_interval: 2s")
	}, 10*time.Second, 10*time.Millisecond)
	require.NoError(t, dyn.Resource(ServiceMonitors).Namespace("team").Delete(ctx, "app", metav1.DeleteOptions{}))
	require.Eventually(t, func() bool { return len(rec.jobs()) == 0 }, 10*time.Second, 10*time.Millisecond)
}

func TestWatcherSelectors(t *testing.T) {
	other := object(t, strings.NewReplacer("name: app", "name: other", "namespace: team", "namespace: infra").Replace(smDoc))
	other.SetLabels(map[string]string{"release": "kps"})
	labelled := object(t, smDoc)
	labelled.SetLabels(map[string]string{"release": "kps"})
	client := fake.NewClientset(
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "team", Labels: map[string]string{"monitored": "yes"}}},
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "infra"}},
	)
	rec := &recorder{}
	w, err := New(Options{
		Dynamic: newDynamic(labelled, other), Client: client, OnChange: rec.set, Debounce: time.Millisecond,
		Selectors: Selectors{ServiceMonitor: "release=kps", ServiceMonitorNamespace: "monitored=yes"},
	})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go w.Run(ctx)
	require.Eventually(t, func() bool { return rec.get() != nil }, 10*time.Second, 10*time.Millisecond)
	require.Equal(t, []string{"serviceMonitor/team/app/0"}, rec.jobs())
}

func TestSharedHandsEachJobItsGroups(t *testing.T) {
	eps := func(ns, svc, ip string) *discoveryv1.EndpointSlice {
		return &discoveryv1.EndpointSlice{
			ObjectMeta:  metav1.ObjectMeta{Name: svc + "-1", Namespace: ns, Labels: map[string]string{discoveryv1.LabelServiceName: svc}},
			AddressType: discoveryv1.AddressTypeIPv4,
			Ports:       []discoveryv1.EndpointPort{{Name: ptr.To("web"), Port: ptr.To(int32(8080))}},
			Endpoints:   []discoveryv1.Endpoint{{Addresses: []string{ip}}},
		}
	}
	svc := func(ns, name, app string) *corev1.Service {
		return &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: map[string]string{"app": app}}}
	}
	client := fake.NewClientset(
		svc("team", "demo", "demo"), eps("team", "demo", "10.0.0.1"),
		svc("team", "other", "other"), eps("team", "other", "10.0.0.2"),
		svc("infra", "demo", "demo"), eps("infra", "demo", "10.0.0.3"),
	)
	jobs, err := parseJobs((&Generator{}).ServiceMonitor(mustSM(t, smDoc)))
	require.NoError(t, err)
	s := NewShared(client, nil)
	defer s.Stop()
	st := &State{Jobs: jobs}
	s.SetFilters(st.Filters())
	d := s.Discoverer("serviceMonitor/team/app/0")
	require.NotNil(t, d)
	require.Nil(t, s.Discoverer("some-file-job"))

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	up := make(chan []*config.TargetGroup, 10)
	go d.Run(ctx, up)
	groups := map[string]*config.TargetGroup{}
	recv := func() {
		select {
		case tgs := <-up:
			for _, tg := range tgs {
				if len(tg.Targets) == 0 {
					delete(groups, tg.Source)
				} else {
					groups[tg.Source] = tg
				}
			}
		case <-time.After(10 * time.Second):
			t.Fatal("no update")
		}
	}
	for len(groups) == 0 {
		recv()
	}
	require.Len(t, groups, 1)
	require.Equal(t, "10.0.0.1:8080", string(groups["endpointslice/team/demo-1"].Targets[0]["__address__"]))

	// The monitor now selects app=other: the job's discoverer swaps the groups.
	jobs, err = parseJobs((&Generator{}).ServiceMonitor(mustSM(t, strings.Replace(smDoc, "app: demo", "app: other", 1))))
	require.NoError(t, err)
	s.SetFilters((&State{Jobs: jobs}).Filters())
	for groups["endpointslice/team/other-1"] == nil || groups["endpointslice/team/demo-1"] != nil {
		recv()
	}
	require.Len(t, groups, 1)
}

func mustSM(t *testing.T, doc string) *monitoringv1.ServiceMonitor {
	t.Helper()
	var m monitoringv1.ServiceMonitor
	require.NoError(t, runtime.DefaultUnstructuredConverter.FromUnstructured(object(t, doc).Object, &m))
	return &m
}
