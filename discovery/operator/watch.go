// Package operator reads the Prometheus Operator's resources (monitoring.coreos.com
// ServiceMonitor, PodMonitor, PrometheusRule, AlertmanagerConfig and ScrapeConfig) from the
// Kubernetes API
// and turns them into what the operator would generate: scrape configs, rule files and
// alertmanager.yml routes. The scrape configs' targets come from one shared Kubernetes
// discovery (Shared) instead of one per job.
package operator

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	monitoringv1alpha1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1alpha1"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/promql/parser"
	"go.yaml.in/yaml/v2"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	k8slabels "k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/dynamic/dynamicinformer"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"

	"github.com/vigil-monitoring/vigil/config"
)

// The resources read.
var (
	ServiceMonitors     = schema.GroupVersionResource{Group: "monitoring.coreos.com", Version: "v1", Resource: "servicemonitors"}
	PodMonitors         = schema.GroupVersionResource{Group: "monitoring.coreos.com", Version: "v1", Resource: "podmonitors"}
	PrometheusRules     = schema.GroupVersionResource{Group: "monitoring.coreos.com", Version: "v1", Resource: "prometheusrules"}
	AlertmanagerConfigs = schema.GroupVersionResource{Group: "monitoring.coreos.com", Version: "v1alpha1", Resource: "alertmanagerconfigs"}
	ScrapeConfigs       = schema.GroupVersionResource{Group: "monitoring.coreos.com", Version: "v1alpha1", Resource: "scrapeconfigs"}
)

// Selectors choose the resources read, as the Prometheus and Alertmanager CRs'
// serviceMonitorSelector, serviceMonitorNamespaceSelector, ... do. Each is a Kubernetes label
// selector (`release=kps,team in (a,b)`); empty selects everything.
type Selectors struct {
	ServiceMonitor, ServiceMonitorNamespace         string
	PodMonitor, PodMonitorNamespace                 string
	Rule, RuleNamespace                             string
	AlertmanagerConfig, AlertmanagerConfigNamespace string
	ScrapeConfig, ScrapeConfigNamespace             string
}

// Options configure a Watcher.
type Options struct {
	Dynamic dynamic.Interface
	Client  kubernetes.Interface
	Selectors
	// EndpointRole is RoleEndpointSlice (default) or RoleEndpoints.
	EndpointRole string
	// RuleDir receives the PrometheusRules' rule files (Vigil owns the directory's *.yaml files).
	RuleDir string
	// Debounce batches API events (default 100ms); Resync regenerates everything, picking up
	// changed Secrets (default 1m).
	Debounce, Resync time.Duration
	// SyncTimeout bounds the wait for the first list of every resource (default 10s).
	SyncTimeout time.Duration
	Logger      *slog.Logger
	Registerer  prometheus.Registerer
	// OnChange receives every new State, from one goroutine.
	OnChange func(*State)
}

// GeneratedJob is one scrape config generated from a monitor.
type GeneratedJob struct {
	Name   string
	YAML   string
	Filter *Filter
}

// State is everything the resources currently generate.
type State struct {
	Jobs      []GeneratedJob
	RuleFiles []string
	// AlertmanagerConfigs are the converted AlertmanagerConfigs, ordered by namespace/name as
	// the operator orders them: their routes go first under the root route.
	AlertmanagerConfigs []AlertmanagerConfigParts
}

// Filters returns the filters of the jobs that take their targets from the shared discovery
// (those of ServiceMonitors and PodMonitors), by job name.
func (s *State) Filters() map[string]*Filter {
	out := make(map[string]*Filter, len(s.Jobs))
	for _, j := range s.Jobs {
		if j.Filter != nil {
			out[j.Name] = j.Filter
		}
	}
	return out
}

type kindInfo struct {
	gvr        schema.GroupVersionResource
	kind       string
	controller string
	sel, nsSel string
}

// Watcher watches the resources and reports what they generate.
type Watcher struct {
	o      Options
	kinds  []kindInfo
	infs   map[string]cache.SharedIndexInformer
	nsInf  cache.SharedIndexInformer
	nsSels map[string]k8slabels.Selector
	gen    *Generator
	rec    record.EventRecorder
	bcast  record.EventBroadcaster
	kick   chan struct{}

	managed *prometheus.GaugeVec
	syncs   prometheus.Counter

	// cache of generated results by object UID and resourceVersion.
	cache    map[string]cached
	reported map[string]string // last rejection reported per UID, by resourceVersion
	ruleMtx  sync.Mutex
	written  map[string][]byte
}

type cached struct {
	rv   string
	jobs []GeneratedJob
	rule []byte
	am   *AlertmanagerConfigParts
	err  error
}

// New returns a watcher; Run starts it.
func New(o Options) (*Watcher, error) {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Debounce <= 0 {
		o.Debounce = 100 * time.Millisecond
	}
	if o.Resync <= 0 {
		o.Resync = time.Minute
	}
	if o.SyncTimeout <= 0 {
		o.SyncTimeout = 10 * time.Second
	}
	w := &Watcher{
		o: o,
		kinds: []kindInfo{
			{ServiceMonitors, "ServiceMonitor", "prometheus", o.ServiceMonitor, o.ServiceMonitorNamespace},
			{PodMonitors, "PodMonitor", "prometheus", o.PodMonitor, o.PodMonitorNamespace},
			{PrometheusRules, "PrometheusRule", "prometheus", o.Rule, o.RuleNamespace},
			{AlertmanagerConfigs, "AlertmanagerConfig", "alertmanager", o.AlertmanagerConfig, o.AlertmanagerConfigNamespace},
			{ScrapeConfigs, "ScrapeConfig", "prometheus", o.ScrapeConfig, o.ScrapeConfigNamespace},
		},
		infs:     map[string]cache.SharedIndexInformer{},
		nsSels:   map[string]k8slabels.Selector{},
		kick:     make(chan struct{}, 1),
		cache:    map[string]cached{},
		reported: map[string]string{},
		written:  map[string][]byte{},
		managed: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "prometheus_operator_managed_resources",
			Help: "Number of resources managed by the operator's controller per state (selected/rejected).",
		}, []string{"controller", "resource", "state"}),
		syncs: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "vigil_operator_resource_syncs_total",
			Help: "Number of times Vigil regenerated its configuration from the Prometheus Operator resources.",
		}),
	}
	if o.Registerer != nil {
		o.Registerer.MustRegister(w.managed, w.syncs)
	}
	var secrets Secrets
	if o.Client != nil {
		secrets = &clientSecrets{c: o.Client}
	}
	w.gen = &Generator{EndpointRole: o.EndpointRole, Secrets: secrets}
	needNS := false
	for _, k := range w.kinds {
		if _, err := k8slabels.Parse(k.sel); err != nil {
			return nil, fmt.Errorf("%s selector %q: %w", k.kind, k.sel, err)
		}
		nsSel, err := k8slabels.Parse(k.nsSel)
		if err != nil {
			return nil, fmt.Errorf("%s namespace selector %q: %w", k.kind, k.nsSel, err)
		}
		if !nsSel.Empty() {
			w.nsSels[k.kind] = nsSel
			needNS = true
		}
		sel := k.sel
		f := dynamicinformer.NewFilteredDynamicSharedInformerFactory(o.Dynamic, 0, metav1.NamespaceAll, func(lo *metav1.ListOptions) {
			lo.LabelSelector = sel
		})
		inf := f.ForResource(k.gvr).Informer()
		_, _ = inf.AddEventHandler(w.handler())
		w.infs[k.kind] = inf
	}
	if needNS && o.Client != nil {
		f := informers.NewSharedInformerFactory(o.Client, 0)
		w.nsInf = f.Core().V1().Namespaces().Informer()
		_, _ = w.nsInf.AddEventHandler(w.handler())
	}
	if o.Client != nil {
		w.bcast = record.NewBroadcaster()
		w.rec = w.bcast.NewRecorder(runtime.NewScheme(), corev1.EventSource{Component: "vigil"})
	}
	return w, nil
}

func (w *Watcher) handler() cache.ResourceEventHandler {
	kick := func(any) { w.trigger() }
	return cache.ResourceEventHandlerFuncs{AddFunc: kick, UpdateFunc: func(_, o any) { kick(o) }, DeleteFunc: kick}
}

func (w *Watcher) trigger() {
	select {
	case w.kick <- struct{}{}:
	default:
	}
}

// Run watches until ctx ends.
func (w *Watcher) Run(ctx context.Context) {
	if w.bcast != nil {
		w.bcast.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: w.o.Client.CoreV1().Events("")})
		defer w.bcast.Shutdown()
	}
	var synced []cache.InformerSynced
	for _, inf := range w.infs {
		go inf.Run(ctx.Done())
		synced = append(synced, inf.HasSynced)
	}
	if w.nsInf != nil {
		go w.nsInf.Run(ctx.Done())
		synced = append(synced, w.nsInf.HasSynced)
	}
	// A resource whose CRD is not installed (or not readable) never syncs: after SyncTimeout
	// the others go ahead, and it joins when it lists.
	syncCtx, cancel := context.WithTimeout(ctx, w.o.SyncTimeout)
	if !cache.WaitForCacheSync(syncCtx.Done(), synced...) {
		if ctx.Err() != nil {
			cancel()
			return
		}
		for _, k := range w.kinds {
			if !w.infs[k.kind].HasSynced() {
				w.o.Logger.Warn("Cannot list resource yet (CRD not installed, or no permission); going ahead without it", "resource", k.gvr.String())
			}
		}
	}
	cancel()
	w.sync()
	resync := time.NewTicker(w.o.Resync)
	defer resync.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-resync.C:
			clear(w.cache)
			w.sync()
		case <-w.kick:
			// Batch a burst of events (an apply of many objects) into one regeneration.
			t := time.NewTimer(w.o.Debounce)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
			select {
			case <-w.kick:
			default:
			}
			w.sync()
		}
	}
}

func (w *Watcher) namespaceSelected(kind, ns string) bool {
	sel, ok := w.nsSels[kind]
	if !ok {
		return true
	}
	if w.nsInf == nil {
		return false
	}
	o, exists, err := w.nsInf.GetStore().GetByKey(ns)
	if err != nil || !exists {
		return false
	}
	return sel.Matches(k8slabels.Set(o.(*corev1.Namespace).Labels))
}

// objects lists a kind's selected objects, sorted by namespace and name.
func (w *Watcher) objects(kind string) []*unstructured.Unstructured {
	var out []*unstructured.Unstructured
	for _, o := range w.infs[kind].GetStore().List() {
		u, ok := o.(*unstructured.Unstructured)
		if !ok || !w.namespaceSelected(kind, u.GetNamespace()) {
			continue
		}
		out = append(out, u)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].GetNamespace() != out[j].GetNamespace() {
			return out[i].GetNamespace() < out[j].GetNamespace()
		}
		return out[i].GetName() < out[j].GetName()
	})
	return out
}

// sync regenerates the state and hands it to OnChange.
func (w *Watcher) sync() {
	w.syncs.Inc()
	st := &State{}
	seen := map[string]struct{}{}
	ruleFiles := map[string][]byte{}
	for _, k := range w.kinds {
		selected, rejected := 0, 0
		for _, u := range w.objects(k.kind) {
			uid := string(u.GetUID())
			seen[uid] = struct{}{}
			c, ok := w.cache[uid]
			if !ok || c.rv != u.GetResourceVersion() {
				c = w.generate(k.kind, u)
				c.rv = u.GetResourceVersion()
				w.cache[uid] = c
			}
			if c.err != nil {
				rejected++
				w.reject(k.kind, u, c.err)
				continue
			}
			selected++
			delete(w.reported, uid)
			st.Jobs = append(st.Jobs, c.jobs...)
			if c.rule != nil {
				ruleFiles[ruleFileName(u)] = c.rule
			}
			if c.am != nil && (c.am.Route != nil || len(c.am.InhibitRules) > 0) {
				st.AlertmanagerConfigs = append(st.AlertmanagerConfigs, *c.am)
			}
		}
		w.managed.WithLabelValues(k.controller, k.kind, "selected").Set(float64(selected))
		w.managed.WithLabelValues(k.controller, k.kind, "rejected").Set(float64(rejected))
	}
	for uid := range w.cache {
		if _, ok := seen[uid]; !ok {
			delete(w.cache, uid)
			delete(w.reported, uid)
		}
	}
	sort.Slice(st.Jobs, func(i, j int) bool { return st.Jobs[i].Name < st.Jobs[j].Name })
	sort.Slice(st.AlertmanagerConfigs, func(i, j int) bool {
		return st.AlertmanagerConfigs[i].Object < st.AlertmanagerConfigs[j].Object
	})
	files, err := w.writeRuleFiles(ruleFiles)
	if err != nil {
		w.o.Logger.Error("Writing the PrometheusRules' rule files failed", "err", err)
	}
	st.RuleFiles = files
	if w.o.OnChange != nil {
		w.o.OnChange(st)
	}
}

// ruleFileName is RuleFileName of an object not yet converted.
func ruleFileName(u *unstructured.Unstructured) string {
	return fmt.Sprintf("%v-%v-%v.yaml", u.GetNamespace(), u.GetName(), u.GetUID())
}

func (w *Watcher) reject(kind string, u *unstructured.Unstructured, err error) {
	uid := string(u.GetUID())
	if w.reported[uid] == u.GetResourceVersion() {
		return
	}
	w.reported[uid] = u.GetResourceVersion()
	w.o.Logger.Warn("Skipping invalid resource", "kind", kind, "namespace", u.GetNamespace(), "name", u.GetName(), "err", err)
	if w.rec != nil {
		w.rec.Eventf(u, corev1.EventTypeWarning, "InvalidConfiguration", "%s was rejected by Vigil: %v", kind, err)
	}
}

func (w *Watcher) generate(kind string, u *unstructured.Unstructured) cached {
	var c cached
	switch kind {
	case "ServiceMonitor":
		var m monitoringv1.ServiceMonitor
		if c.err = runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &m); c.err != nil {
			return c
		}
		jobs, err := w.gen.ServiceMonitor(&m)
		c.jobs, c.err = parseJobs(jobs, err)
	case "PodMonitor":
		var m monitoringv1.PodMonitor
		if c.err = runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &m); c.err != nil {
			return c
		}
		jobs, err := w.gen.PodMonitor(&m)
		c.jobs, c.err = parseJobs(jobs, err)
	case "PrometheusRule":
		var r monitoringv1.PrometheusRule
		if c.err = runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &r); c.err != nil {
			return c
		}
		b, err := RuleFileContent(&r)
		if err == nil {
			if _, errs := rulefmt.Parse(b, false, config.NameValidationScheme, parser.NewParser(parser.Options{}), nil); len(errs) > 0 {
				err = errors.Join(errs...)
			}
		}
		c.rule, c.err = b, err
	case "AlertmanagerConfig":
		var a monitoringv1alpha1.AlertmanagerConfig
		if c.err = runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &a); c.err != nil {
			return c
		}
		c.am, c.err = AlertmanagerConfig(&a, w.gen.Secrets)
	case "ScrapeConfig":
		var sc monitoringv1alpha1.ScrapeConfig
		if c.err = runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &sc); c.err != nil {
			return c
		}
		job, err := w.gen.ScrapeConfig(&sc)
		c.jobs, c.err = parseJobs([]Job{job}, err)
	}
	return c
}

// parseJobs renders each job and checks that Vigil loads it as a scrape config.
func parseJobs(jobs []Job, err error) ([]GeneratedJob, error) {
	if err != nil {
		return nil, err
	}
	out := make([]GeneratedJob, 0, len(jobs))
	for _, j := range jobs {
		b, err := yaml.Marshal(j.Config)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", j.Name, err)
		}
		sc, err := ParseScrapeConfig(string(b), config.DefaultGlobalConfig)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", j.Name, err)
		}
		if j.Selection.Role == "" {
			// A ScrapeConfig's job: its own service discoveries find its targets.
			out = append(out, GeneratedJob{Name: j.Name, YAML: string(b)})
			continue
		}
		f := &Filter{Selection: j.Selection}
		if n := j.Selection.Rules; n > 0 && len(sc.RelabelConfigs) > n {
			f.Rules = sc.RelabelConfigs[1 : 1+n]
		}
		out = append(out, GeneratedJob{Name: j.Name, YAML: string(b), Filter: f})
	}
	return out, nil
}

// ParseScrapeConfig loads one generated scrape config with the defaults of global.
func ParseScrapeConfig(s string, global config.GlobalConfig) (*config.ScrapeConfig, error) {
	var sc config.ScrapeConfig
	if err := yaml.UnmarshalStrict([]byte(s), &sc); err != nil {
		return nil, err
	}
	if err := sc.Validate(global); err != nil {
		return nil, err
	}
	return &sc, nil
}

// writeRuleFiles makes RuleDir hold exactly files and returns their paths, sorted.
func (w *Watcher) writeRuleFiles(files map[string][]byte) ([]string, error) {
	if w.o.RuleDir == "" {
		return nil, nil
	}
	w.ruleMtx.Lock()
	defer w.ruleMtx.Unlock()
	if err := os.MkdirAll(w.o.RuleDir, 0o750); err != nil {
		return nil, err
	}
	var errs []error
	var paths []string
	for name, b := range files {
		p := filepath.Join(w.o.RuleDir, name)
		paths = append(paths, p)
		if old, ok := w.written[name]; ok && string(old) == string(b) {
			continue
		}
		tmp := p + ".tmp"
		if err := os.WriteFile(tmp, b, 0o640); err != nil {
			errs = append(errs, err)
			continue
		}
		if err := os.Rename(tmp, p); err != nil {
			errs = append(errs, err)
			continue
		}
		w.written[name] = b
	}
	entries, err := os.ReadDir(w.o.RuleDir)
	if err != nil {
		errs = append(errs, err)
	}
	for _, e := range entries {
		if _, ok := files[e.Name()]; !ok && strings.HasSuffix(e.Name(), ".yaml") {
			errs = append(errs, os.Remove(filepath.Join(w.o.RuleDir, e.Name())))
			delete(w.written, e.Name())
		}
	}
	slices.Sort(paths)
	return paths, errors.Join(errs...)
}

// clientSecrets reads Secrets and ConfigMaps with GET requests.
type clientSecrets struct{ c kubernetes.Interface }

func (s *clientSecrets) SecretKey(ns string, sel corev1.SecretKeySelector) (string, error) {
	sec, err := s.c.CoreV1().Secrets(ns).Get(context.Background(), sel.Name, metav1.GetOptions{})
	if err != nil {
		return "", err
	}
	v, ok := sec.Data[sel.Key]
	if !ok {
		return "", fmt.Errorf("key %q not found", sel.Key)
	}
	return string(v), nil
}

func (s *clientSecrets) ConfigMapKey(ns string, sel corev1.ConfigMapKeySelector) (string, error) {
	cm, err := s.c.CoreV1().ConfigMaps(ns).Get(context.Background(), sel.Name, metav1.GetOptions{})
	if err != nil {
		return "", err
	}
	v, ok := cm.Data[sel.Key]
	if !ok {
		return "", fmt.Errorf("key %q not found", sel.Key)
	}
	return v, nil
}
