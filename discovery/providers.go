package discovery

import (
	"context"
	"fmt"
	"log/slog"

	commoncfg "github.com/prometheus/common/config"

	"github.com/vigil-monitoring/vigil/config"
	"github.com/vigil-monitoring/vigil/discovery/kubernetes"
)

// Config is one discovery mechanism of a ServiceDiscoveryConfigs: its kind ("static", "file",
// "http" or "kubernetes", the value of the "discovery" log attribute) and its configuration
// ([]*config.TargetGroup for static, else the *config.*SDConfig).
type Config struct {
	Kind   string
	Config any
}

// Configs lists the mechanisms of sd in a fixed order: all static_configs as one, then every
// file_sd, http_sd and kubernetes_sd entry.
func Configs(sd *config.ServiceDiscoveryConfigs) []Config {
	var out []Config
	if len(sd.StaticConfigs) > 0 {
		out = append(out, Config{"static", sd.StaticConfigs})
	}
	for _, c := range sd.FileSDConfigs {
		out = append(out, Config{"file", c})
	}
	for _, c := range sd.HTTPSDConfigs {
		out = append(out, Config{"http", c})
	}
	for _, c := range sd.KubernetesSDConfigs {
		out = append(out, Config{"kubernetes", c})
	}
	return out
}

// Options configure how New builds discoverers. The zero value is usable.
type Options struct {
	// HTTPClientOptions are passed to HTTP SD clients.
	HTTPClientOptions []commoncfg.HTTPClientOption
	// NewKubernetes overrides how kubernetes_sd discoverers are built (tests hand in a fake
	// clientset with kubernetes.NewForClient).
	NewKubernetes func(*config.KubernetesSDConfig, *slog.Logger) (Discoverer, error)
}

// New builds the discoverer of c without starting it; logger gets a "discovery" attribute.
func New(c Config, logger *slog.Logger, o Options) (Discoverer, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	logger = logger.With("discovery", c.Kind)
	switch c.Kind {
	case "static":
		return NewStaticDiscoverer(c.Config.([]*config.TargetGroup)), nil
	case "file":
		return NewFileDiscoverer(c.Config.(*config.FileSDConfig), logger), nil
	case "http":
		d, err := NewHTTPDiscoverer(c.Config.(*config.HTTPSDConfig), logger, o.HTTPClientOptions...)
		if err != nil {
			return nil, err
		}
		return d, nil
	case "kubernetes":
		if o.NewKubernetes != nil {
			return o.NewKubernetes(c.Config.(*config.KubernetesSDConfig), logger)
		}
		d, err := kubernetes.New(c.Config.(*config.KubernetesSDConfig), logger)
		if err != nil {
			return nil, err // not a nil *kubernetes.Discovery in a non-nil Discoverer
		}
		return d, nil
	}
	return nil, fmt.Errorf("unknown discovery kind %q", c.Kind)
}

// Set runs the discoverers of one ServiceDiscoveryConfigs and keeps the latest groups of each,
// for consumers that want the whole picture on every change (the notifier's Alertmanagers).
// Scrape pools keep their own per-provider bookkeeping because they reuse discoverers across
// reloads one by one.
type Set struct {
	discoverers []Discoverer
	cancel      context.CancelFunc
	done        chan struct{}
}

// NewSet builds the discoverers of cfgs; nothing runs until Run. As in Prometheus, a discoverer
// that cannot be built (no in-cluster credentials for kubernetes_sd_configs, say) is logged and
// left out: the others run, and the configuration stays valid. It returns no error today; the
// error result stays for callers.
func NewSet(cfgs []Config, logger *slog.Logger, o Options) (*Set, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	s := &Set{done: make(chan struct{})}
	for _, c := range cfgs {
		d, err := New(c, logger, o)
		if err != nil {
			logger.Error("Cannot create service discovery", "discovery", c.Kind, "err", err)
			d = failedDiscoverer{}
		}
		s.discoverers = append(s.discoverers, d)
	}
	return s, nil
}

// failedDiscoverer stands for a discoverer that could not be built: it finds nothing.
type failedDiscoverer struct{}

func (failedDiscoverer) Run(ctx context.Context, _ chan<- []*config.TargetGroup) { <-ctx.Done() }

// Run starts the discoverers and calls update with all current groups, in discoverer order and,
// within one discoverer, in the order their sources first appeared, each time one of them
// reports a change. update is called from one goroutine at a time. Run returns at once; Stop
// ends it.
func (s *Set) Run(ctx context.Context, update func([]*config.TargetGroup)) {
	ctx, s.cancel = context.WithCancel(ctx)
	type report struct {
		i   int
		tgs []*config.TargetGroup
	}
	reports := make(chan report)
	for i, d := range s.discoverers {
		Forward(ctx, d, reports, func(tgs []*config.TargetGroup) report { return report{i, tgs} })
	}
	go func() {
		defer close(s.done)
		groups := make([]*orderedGroups, len(s.discoverers))
		for i := range groups {
			groups[i] = &orderedGroups{bySource: map[string]*config.TargetGroup{}}
		}
		for {
			select {
			case <-ctx.Done():
				return
			case r := <-reports:
				for _, tg := range r.tgs {
					groups[r.i].set(tg)
				}
				var all []*config.TargetGroup
				for _, g := range groups {
					all = g.appendTo(all)
				}
				update(all)
			}
		}
	}()
}

// Stop ends the discoverers and waits until update is no longer called. Stop without Run is
// allowed.
func (s *Set) Stop() {
	if s.cancel == nil {
		return
	}
	s.cancel()
	<-s.done
}

// orderedGroups is one discoverer's groups by source, in the order sources first appeared.
type orderedGroups struct {
	order    []string
	bySource map[string]*config.TargetGroup
}

// set records tg; a group without targets removes its source.
func (g *orderedGroups) set(tg *config.TargetGroup) {
	if tg == nil {
		return
	}
	_, known := g.bySource[tg.Source]
	if len(tg.Targets) == 0 {
		if known {
			delete(g.bySource, tg.Source)
			for i, s := range g.order {
				if s == tg.Source {
					g.order = append(g.order[:i], g.order[i+1:]...)
					break
				}
			}
		}
		return
	}
	if !known {
		g.order = append(g.order, tg.Source)
	}
	g.bySource[tg.Source] = tg
}

func (g *orderedGroups) appendTo(out []*config.TargetGroup) []*config.TargetGroup {
	for _, s := range g.order {
		out = append(out, g.bySource[s])
	}
	return out
}
