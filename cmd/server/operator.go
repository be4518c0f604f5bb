package main

// Prometheus Operator resources (--kubernetes.crds): ServiceMonitors and PodMonitors become
// scrape jobs merged into prometheus.yml, PrometheusRules rule files, AlertmanagerConfigs
// routes merged into alertmanager.yml. See docs/kubernetes-operator.md.

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"sync"

	"github.com/alecthomas/kingpin/v2"
	amconfig "github.com/prometheus/alertmanager/config"
	amcommoncfg "github.com/prometheus/alertmanager/config/common"
	"github.com/prometheus/client_golang/prometheus"
	"go.yaml.in/yaml/v2"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/vigil-monitoring/vigil/config"
	"github.com/vigil-monitoring/vigil/discovery"
	"github.com/vigil-monitoring/vigil/discovery/operator"
)

type operatorFlags struct {
	enabled    bool
	kubeconfig string
	role       string
	ruleDir    string
	sel        operator.Selectors
}

func registerOperatorFlags(app *kingpin.Application) *operatorFlags {
	var f operatorFlags
	app.Flag("kubernetes.crds", "Read Prometheus Operator resources (ServiceMonitor, PodMonitor, PrometheusRule, AlertmanagerConfig, ScrapeConfig) from the Kubernetes API, with in-cluster credentials or --kubernetes.kubeconfig.").BoolVar(&f.enabled)
	app.Flag("kubernetes.kubeconfig", "Kubeconfig file for --kubernetes.crds (default: in-cluster service account).").StringVar(&f.kubeconfig)
	app.Flag("kubernetes.crds.service-discovery-role", "Role of ServiceMonitor discovery, as the Prometheus CR's serviceDiscoveryRole: EndpointSlice or Endpoints.").Default("EndpointSlice").EnumVar(&f.role, "EndpointSlice", "Endpoints")
	app.Flag("kubernetes.crds.rule-dir", "Directory for the rule files generated from PrometheusRules (default: a new temporary directory).").StringVar(&f.ruleDir)
	for _, s := range []struct {
		flag, what string
		v          *string
	}{
		{"service-monitor-selector", "ServiceMonitors (serviceMonitorSelector)", &f.sel.ServiceMonitor},
		{"service-monitor-namespace-selector", "namespaces of ServiceMonitors (serviceMonitorNamespaceSelector)", &f.sel.ServiceMonitorNamespace},
		{"pod-monitor-selector", "PodMonitors (podMonitorSelector)", &f.sel.PodMonitor},
		{"pod-monitor-namespace-selector", "namespaces of PodMonitors (podMonitorNamespaceSelector)", &f.sel.PodMonitorNamespace},
		{"rule-selector", "PrometheusRules (ruleSelector)", &f.sel.Rule},
		{"rule-namespace-selector", "namespaces of PrometheusRules (ruleNamespaceSelector)", &f.sel.RuleNamespace},
		{"alertmanager-config-selector", "AlertmanagerConfigs (alertmanagerConfigSelector)", &f.sel.AlertmanagerConfig},
		{"alertmanager-config-namespace-selector", "namespaces of AlertmanagerConfigs (alertmanagerConfigNamespaceSelector)", &f.sel.AlertmanagerConfigNamespace},
		{"scrape-config-selector", "ScrapeConfigs (scrapeConfigSelector)", &f.sel.ScrapeConfig},
		{"scrape-config-namespace-selector", "namespaces of ScrapeConfigs (scrapeConfigNamespaceSelector)", &f.sel.ScrapeConfigNamespace},
	} {
		app.Flag("kubernetes.crds."+s.flag, "Label selector of the "+s.what+" read, e.g. 'release=kube-prometheus-stack'; empty: all.").StringVar(s.v)
	}
	return &f
}

// operatorRuntime merges what the resources generate into the running configuration.
type operatorRuntime struct {
	logger  *slog.Logger
	watcher *operator.Watcher
	Shared  *operator.Shared
	merger  operator.Merger
	ruleDir string
	ownDir  bool

	mtx    sync.Mutex
	state  *operator.State
	file   *config.Config // prometheus.yml as loaded, before merging
	rl     *reloader
	amRe   func() error // reloads alertmanager.yml (which Amend merges into)
	amFile string       // alertmanager.yml, for its global section

	cancel context.CancelFunc
	done   chan struct{}
}

// newOperator connects to the API server; nothing is watched until start.
func newOperator(f *operatorFlags, reg prometheus.Registerer, logger *slog.Logger) (*operatorRuntime, error) {
	if f == nil || !f.enabled {
		return nil, nil
	}
	logger = logger.With("component", "kubernetes crds")
	var (
		rc  *rest.Config
		err error
	)
	if f.kubeconfig != "" {
		rc, err = clientcmd.BuildConfigFromFlags("", f.kubeconfig)
	} else {
		rc, err = rest.InClusterConfig()
	}
	if err != nil {
		return nil, fmt.Errorf("--kubernetes.crds: %w", err)
	}
	rc.UserAgent = "Vigil/" + version
	client, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return nil, fmt.Errorf("--kubernetes.crds: %w", err)
	}
	dyn, err := dynamic.NewForConfig(rc)
	if err != nil {
		return nil, fmt.Errorf("--kubernetes.crds: %w", err)
	}
	return newOperatorFor(f, client, dyn, reg, logger)
}

func newOperatorFor(f *operatorFlags, client kubernetes.Interface, dyn dynamic.Interface, reg prometheus.Registerer, logger *slog.Logger) (*operatorRuntime, error) {
	rt := &operatorRuntime{logger: logger, ruleDir: f.ruleDir, Shared: operator.NewShared(client, logger)}
	if rt.ruleDir == "" {
		dir, err := os.MkdirTemp("", "vigil-prometheusrules-")
		if err != nil {
			return nil, fmt.Errorf("--kubernetes.crds: %w", err)
		}
		rt.ruleDir, rt.ownDir = dir, true
	}
	role := operator.RoleEndpointSlice
	if f.role == "Endpoints" {
		role = operator.RoleEndpoints
	}
	w, err := operator.New(operator.Options{
		Dynamic: dyn, Client: client, Selectors: f.sel, EndpointRole: role, RuleDir: rt.ruleDir,
		Logger: logger, Registerer: reg, OnChange: rt.onChange,
	})
	if err != nil {
		return nil, fmt.Errorf("--kubernetes.crds: %w", err)
	}
	rt.watcher = w
	return rt, nil
}

// wrapLoad merges the generated jobs and rule files into every prometheus.yml loaded.
func (rt *operatorRuntime) wrapLoad(load func() (*config.Config, error)) func() (*config.Config, error) {
	if rt == nil {
		return load
	}
	return func() (*config.Config, error) {
		cfg, err := load()
		if err != nil {
			return nil, err
		}
		rt.mtx.Lock()
		rt.file = cfg
		st := rt.state
		rt.mtx.Unlock()
		return rt.merger.Merge(cfg, st, rt.logger), nil
	}
}

// jobDiscoverer hands generated jobs their shared discovery.
func (rt *operatorRuntime) jobDiscoverer() func(string) discovery.Discoverer {
	if rt == nil {
		return nil
	}
	return rt.Shared.Discoverer
}

// amend merges the AlertmanagerConfigs' routes, receivers, inhibit rules and time intervals
// into alertmanager.yml.
func (rt *operatorRuntime) amend(conf *amconfig.Config) (*amconfig.Config, error) {
	rt.mtx.Lock()
	st, amFile := rt.state, rt.amFile
	rt.mtx.Unlock()
	if st == nil || len(st.AlertmanagerConfigs) == 0 {
		return conf, nil
	}
	global, err := fileGlobal(amFile)
	if err != nil {
		return nil, err
	}
	return mergeAlertmanagerConfigs(conf, global, st, rt.logger), nil
}

// fileGlobal is the global section of alertmanager.yml as written (the loaded config's
// secrets do not marshal back), for the generated receivers' defaults.
func fileGlobal(path string) (any, error) {
	if path == "" {
		return nil, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("AlertmanagerConfig resources: %w", err)
	}
	var doc yaml.MapSlice
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("AlertmanagerConfig resources: %w", err)
	}
	for _, it := range doc {
		if it.Key == "global" {
			return it.Value, nil
		}
	}
	return nil, nil
}

// mergeAlertmanagerConfigs puts the generated routes first under the root route, as the
// operator does, and adds their receivers, inhibit rules and time intervals. Each object is
// loaded on its own with alertmanager.yml's global section (Alertmanager's validation and
// defaults); one that does not load, or whose names clash with alertmanager.yml's, is left out
// and logged, the others are merged.
func mergeAlertmanagerConfigs(conf *amconfig.Config, global any, st *operator.State, logger *slog.Logger) *amconfig.Config {
	const root = "__vigil_alertmanagerconfigs"
	out := *conf
	r := *conf.Route
	out.Route = &r
	out.Receivers = append([]amconfig.Receiver(nil), conf.Receivers...)
	out.InhibitRules = append([]amcommoncfg.InhibitRule(nil), conf.InhibitRules...)
	out.MuteTimeIntervals = append([]amconfig.MuteTimeInterval(nil), conf.MuteTimeIntervals...)
	names := map[string]struct{}{}
	for _, rc := range conf.Receivers {
		names["receiver "+rc.Name] = struct{}{}
	}
	for _, ti := range conf.MuteTimeIntervals {
		names["time interval "+ti.Name] = struct{}{}
	}
	for _, ti := range conf.TimeIntervals {
		names["time interval "+ti.Name] = struct{}{}
	}
	var routes []*amconfig.Route
	for _, p := range st.AlertmanagerConfigs {
		gen, err := loadAlertmanagerConfigParts(p, global, root)
		if err == nil {
			err = clashes(gen, names)
		}
		if err != nil {
			logger.Error("AlertmanagerConfig left out of alertmanager.yml", "object", p.Object, "err", err)
			continue
		}
		routes = append(routes, gen.Route.Routes...)
		for _, rc := range gen.Receivers[1:] {
			names["receiver "+rc.Name] = struct{}{}
			out.Receivers = append(out.Receivers, rc)
		}
		for _, ti := range gen.MuteTimeIntervals {
			names["time interval "+ti.Name] = struct{}{}
			out.MuteTimeIntervals = append(out.MuteTimeIntervals, ti)
		}
		out.InhibitRules = append(out.InhibitRules, gen.InhibitRules...)
	}
	r.Routes = append(routes, conf.Route.Routes...)
	return &out
}

func loadAlertmanagerConfigParts(p operator.AlertmanagerConfigParts, global any, root string) (*amconfig.Config, error) {
	rt := yaml.MapSlice{{Key: "receiver", Value: root}}
	if p.Route != nil {
		rt = append(rt, yaml.MapItem{Key: "routes", Value: []yaml.MapSlice{p.Route}})
	}
	doc := yaml.MapSlice{}
	if global != nil {
		doc = append(doc, yaml.MapItem{Key: "global", Value: global})
	}
	doc = append(doc,
		yaml.MapItem{Key: "route", Value: rt},
		yaml.MapItem{Key: "receivers", Value: append([]yaml.MapSlice{{{Key: "name", Value: root}}}, p.Receivers...)},
	)
	if len(p.InhibitRules) > 0 {
		doc = append(doc, yaml.MapItem{Key: "inhibit_rules", Value: p.InhibitRules})
	}
	if len(p.TimeIntervals) > 0 {
		doc = append(doc, yaml.MapItem{Key: "mute_time_intervals", Value: p.TimeIntervals})
	}
	b, err := yaml.Marshal(doc)
	if err != nil {
		return nil, err
	}
	return amconfig.Load(string(b))
}

// clashes refuses an object whose receivers or time intervals have the name of one already
// merged.
func clashes(gen *amconfig.Config, names map[string]struct{}) error {
	for _, rc := range gen.Receivers[1:] {
		if _, dup := names["receiver "+rc.Name]; dup {
			return fmt.Errorf("receiver %q clashes with a receiver of alertmanager.yml", rc.Name)
		}
	}
	for _, ti := range gen.MuteTimeIntervals {
		if _, dup := names["time interval "+ti.Name]; dup {
			return fmt.Errorf("time interval %q clashes with a time interval of alertmanager.yml", ti.Name)
		}
	}
	return nil
}

// start watches the resources; rl (prometheus.yml) and amReload (alertmanager.yml) get the
// changes.
func (rt *operatorRuntime) start(rl *reloader, amReload func() error) {
	if rt == nil {
		return
	}
	rt.mtx.Lock()
	rt.rl, rt.amRe = rl, amReload
	rt.mtx.Unlock()
	ctx, cancel := context.WithCancel(context.Background())
	rt.cancel, rt.done = cancel, make(chan struct{})
	go func() {
		defer close(rt.done)
		rt.watcher.Run(ctx)
	}()
}

func (rt *operatorRuntime) stop() {
	if rt == nil {
		return
	}
	if rt.cancel != nil {
		rt.cancel()
		<-rt.done
	}
	rt.Shared.Stop()
	if rt.ownDir {
		_ = os.RemoveAll(rt.ruleDir)
	}
}

// onChange applies a new state: filters first (running job discoverers re-select), then the
// merged prometheus.yml (only jobs whose config changed are touched), then alertmanager.yml.
func (rt *operatorRuntime) onChange(st *operator.State) {
	rt.mtx.Lock()
	prevAM := rt.state != nil && len(rt.state.AlertmanagerConfigs) > 0
	amChanged := prevAM || len(st.AlertmanagerConfigs) > 0
	if rt.state != nil && amChanged {
		a, _ := yaml.Marshal(rt.state.AlertmanagerConfigs)
		b, _ := yaml.Marshal(st.AlertmanagerConfigs)
		amChanged = string(a) != string(b)
	}
	rt.state = st
	rl, amRe := rt.rl, rt.amRe
	rt.mtx.Unlock()
	rt.Shared.SetFilters(st.Filters())
	rt.mtx.Lock()
	loaded := rt.file != nil
	rt.mtx.Unlock()
	if rl != nil && loaded {
		err := rl.Apply(func() *config.Config {
			rt.mtx.Lock()
			file := rt.file
			rt.mtx.Unlock()
			return rt.merger.Merge(file, st, rt.logger)
		})
		if err != nil {
			rt.logger.Error("Applying the configuration generated from the Prometheus Operator resources failed", "err", err)
		}
	}
	if amRe != nil && amChanged {
		if err := amRe(); err != nil {
			rt.logger.Error("Applying the AlertmanagerConfig resources failed", "err", err)
		}
	}
}
