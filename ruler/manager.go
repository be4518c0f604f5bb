package ruler

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/util/strutil"

	"github.com/vigil-monitoring/vigil/config"
	"github.com/vigil-monitoring/vigil/promql"
	"github.com/vigil-monitoring/vigil/storage"
)

// Notification is an alert of an alerting rule as the ruler hands it to its Notifier: labels and
// annotations expanded, the rule's expression as GeneratorURL, and EndsAt the resolve time of a
// resolved alert or, for a firing one, the time after which a receiver may resolve it by itself
// if the ruler stops sending.
type Notification struct {
	Labels       model.LabelSet
	Annotations  model.LabelSet
	StartsAt     time.Time
	EndsAt       time.Time
	GeneratorURL string
}

// Notifier receives the alerts of alerting rules. The ruler owns this contract; the server
// wires it to notifier.Sender (external Alertmanagers) and from there, in memory, to Vigil's
// routing.
type Notifier interface {
	Send(ctx context.Context, alerts ...Notification) error
}

// Defaults of the restore and resend settings, Prometheus's flag defaults.
const (
	DefaultOutageTolerance = time.Hour
	DefaultForGracePeriod  = 10 * time.Minute
	DefaultResendDelay     = time.Minute
)

// Options configure a Manager.
type Options struct {
	// QueryFunc evaluates the rules' expressions (EngineQueryFunc over the TSDB).
	QueryFunc QueryFunc
	// Queryable is read to restore alert state from ALERTS_FOR_STATE.
	Queryable storage.Queryable
	// Appendable receives recording results, ALERTS and ALERTS_FOR_STATE.
	Appendable storage.Appendable
	// Notifier receives alerts; nil drops them.
	Notifier Notifier
	// Context is the parent of every evaluation; nil is context.Background().
	Context context.Context
	Logger  *slog.Logger
	// Registerer receives the prometheus_rule_* metrics; nil disables them.
	Registerer prometheus.Registerer
	// OutageTolerance, ForGracePeriod and ResendDelay are Prometheus's
	// --rules.alert.for-outage-tolerance, --rules.alert.for-grace-period and
	// --rules.alert.resend-delay (zero: the defaults).
	OutageTolerance, ForGracePeriod, ResendDelay time.Duration
	// Parser parses rule expressions; nil uses promql.DefaultParserOptions (as the engine).
	Parser parser.Parser
	// ExternalURL is the URL alerts link to ($externalURL, GeneratorURL); set by Update.
	ExternalURL *url.URL
	// DefaultRuleQueryOffset is the global rule_query_offset; set by Update.
	DefaultRuleQueryOffset time.Duration

	notifyMtx sync.Mutex
}

// externalURL and defaultQueryOffset read what Update sets while groups evaluate.
func (o *Options) externalURL() *url.URL {
	o.notifyMtx.Lock()
	defer o.notifyMtx.Unlock()
	return o.ExternalURL
}

func (o *Options) defaultQueryOffset() time.Duration {
	o.notifyMtx.Lock()
	defer o.notifyMtx.Unlock()
	return o.DefaultRuleQueryOffset
}

func (o *Options) notify(ctx context.Context, expr string, alerts []*Alert) {
	if len(alerts) == 0 || o.Notifier == nil {
		return
	}
	base := ""
	if u := o.externalURL(); u != nil {
		base = u.String()
	}
	out := make([]Notification, 0, len(alerts))
	for _, a := range alerts {
		ra := Notification{
			Labels:       toLabelSet(a.Labels),
			Annotations:  toLabelSet(a.Annotations),
			StartsAt:     a.FiredAt,
			GeneratorURL: base + strutil.TableLinkForExpression(expr),
		}
		// Firing alerts carry ValidUntil as end, so that a receiver resolves them by itself
		// if Vigil stops sending; resolved ones their resolve time.
		if !a.ResolvedAt.IsZero() {
			ra.EndsAt = a.ResolvedAt
		} else {
			ra.EndsAt = a.ValidUntil
		}
		out = append(out, ra)
	}
	if err := o.Notifier.Send(ctx, out...); err != nil {
		o.Logger.Warn("Sending alerts failed", "err", err, "count", len(out))
	}
}

func toLabelSet(ls labels.Labels) model.LabelSet {
	m := make(model.LabelSet, ls.Len())
	ls.Range(func(l labels.Label) { m[model.LabelName(l.Name)] = model.LabelValue(l.Value) })
	return m
}

// Manager runs the rule groups of the configured rule files.
type Manager struct {
	opts    *Options
	metrics *Metrics
	logger  *slog.Logger

	mtx      sync.RWMutex
	groups   map[string]*Group
	restored bool
	done     chan struct{}
	block    chan struct{}
	runOnce  sync.Once
	stopOnce sync.Once
}

// NewManager returns a manager with no rules. Groups start evaluating after Run.
func NewManager(o *Options) *Manager {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Context == nil {
		o.Context = context.Background()
	}
	if o.OutageTolerance == 0 {
		o.OutageTolerance = DefaultOutageTolerance
	}
	if o.ForGracePeriod == 0 {
		o.ForGracePeriod = DefaultForGracePeriod
	}
	if o.ResendDelay == 0 {
		o.ResendDelay = DefaultResendDelay
	}
	if o.Parser == nil {
		o.Parser = parser.NewParser(promql.DefaultParserOptions)
	}
	return &Manager{
		opts: o, metrics: NewMetrics(o.Registerer), logger: o.Logger,
		groups: map[string]*Group{}, done: make(chan struct{}), block: make(chan struct{}),
	}
}

// Run lets the groups start evaluating (Prometheus waits for the storage to be ready).
func (m *Manager) Run() { m.runOnce.Do(func() { close(m.block) }) }

// Stop stops every group. Their series end without stale markers: a restart continues them.
func (m *Manager) Stop() {
	m.stopOnce.Do(func() {
		m.mtx.Lock()
		defer m.mtx.Unlock()
		close(m.done)
		m.Run()
		for _, g := range m.groups {
			g.stop()
		}
		m.logger.Info("Rule manager stopped")
	})
}

// UpdateOptions are the parts of the configuration the rules depend on.
type UpdateOptions struct {
	// Interval is the default evaluation interval (global.evaluation_interval).
	Interval time.Duration
	// Files are rule files (globs already expanded).
	Files []string
	// ExternalLabels are the global external_labels ($externalLabels in templates).
	ExternalLabels labels.Labels
	// ExternalURL is where alerts link to.
	ExternalURL *url.URL
	// QueryOffset is the global rule_query_offset.
	QueryOffset time.Duration
}

// ApplyConfig loads the rule files of cfg and replaces the running groups. On any error the
// running groups stay in place.
func (m *Manager) ApplyConfig(cfg *config.Config, externalURL *url.URL) error {
	files, err := ExpandRuleFiles(cfg.RuleFiles)
	if err != nil {
		return err
	}
	return m.Update(UpdateOptions{
		Interval:       time.Duration(cfg.GlobalConfig.EvaluationInterval),
		Files:          files,
		ExternalLabels: cfg.GlobalConfig.ExternalLabels,
		ExternalURL:    externalURL,
		QueryOffset:    time.Duration(cfg.GlobalConfig.RuleQueryOffset),
	})
}

// ExpandRuleFiles expands the rule_files globs, as Prometheus does (a pattern matching nothing
// is not an error).
func ExpandRuleFiles(patterns []string) ([]string, error) {
	var files []string
	for _, pat := range patterns {
		fs, err := filepath.Glob(pat)
		if err != nil {
			return nil, fmt.Errorf("error retrieving rule files for %s: %w", pat, err)
		}
		// A name without a wildcard must name an existing file (promtool check config says so;
		// the server says the same, so that both accept the same configurations).
		if len(fs) == 0 && !strings.ContainsAny(pat, "*?[") {
			return nil, fmt.Errorf("%q does not point to an existing file", pat)
		}
		files = append(files, fs...)
	}
	return files, nil
}

// Update loads the rule files and replaces the running groups. Groups whose definition did not
// change keep running untouched; changed groups take over the state (alerts, series) of the
// rules they keep. If a file does not load, nothing changes and the error names the file,
// group and rule.
func (m *Manager) Update(u UpdateOptions) error {
	m.mtx.Lock()
	defer m.mtx.Unlock()
	select {
	case <-m.done:
		return nil
	default:
	}
	if u.Interval <= 0 {
		u.Interval = time.Duration(config.DefaultGlobalConfig.EvaluationInterval)
	}
	groups, errs := m.loadGroups(u.Interval, u.ExternalLabels, u.ExternalURL, !m.restored, u.Files...)
	if errs != nil {
		for _, e := range errs {
			m.logger.Error("loading groups failed", "err", e)
		}
		return fmt.Errorf("error loading rules, previous rule set restored: %w", errors.Join(errs...))
	}
	m.opts.notifyMtx.Lock()
	m.opts.ExternalURL = u.ExternalURL
	m.opts.DefaultRuleQueryOffset = u.QueryOffset
	m.opts.notifyMtx.Unlock()
	m.restored = true

	var wg sync.WaitGroup
	for key, ng := range groups {
		og, ok := m.groups[key]
		delete(m.groups, key)
		if ok && og.equals(ng) {
			groups[key] = og
			continue
		}
		wg.Add(1)
		go func(ng *Group) {
			if ok {
				og.stop()
				ng.copyState(og)
			}
			wg.Done()
			// A group replaced before the manager runs never starts; stop must not wait for it.
			select {
			case <-m.block:
				ng.run(m.opts.Context)
			case <-ng.done:
				close(ng.terminated)
			}
		}(ng)
	}
	// Groups no longer configured stop, and their series go stale.
	wg.Add(len(m.groups))
	for key, og := range m.groups {
		go func(key string, g *Group) {
			defer wg.Done()
			g.markStale = true
			g.stop()
			m.metrics.deleteGroup(key)
		}(key, og)
	}
	wg.Wait()
	m.groups = groups
	return nil
}

// LoadGroups parses the rule files into groups without running them (rule unit tests and
// checks use it). Every error names its file, and rulefmt's errors name group and rule.
func (m *Manager) LoadGroups(interval time.Duration, externalLabels labels.Labels, externalURL *url.URL, files ...string) (map[string]*Group, []error) {
	return m.loadGroups(interval, externalLabels, externalURL, false, files...)
}

func (m *Manager) loadGroups(interval time.Duration, externalLabels labels.Labels, externalURL *url.URL, shouldRestore bool, files ...string) (map[string]*Group, []error) {
	groups := map[string]*Group{}
	extURL := ""
	if externalURL != nil {
		extURL = externalURL.String()
	}
	for _, fn := range files {
		rgs, errs := ParseFile(fn, m.opts.Parser, m.logger)
		if errs != nil {
			return nil, errs
		}
		for _, rg := range rgs.Groups {
			itv := interval
			if rg.Interval != 0 {
				itv = time.Duration(rg.Interval)
			}
			rules := make([]Rule, 0, len(rg.Rules))
			for _, r := range rg.Rules {
				expr, err := m.opts.Parser.ParseExpr(r.Expr)
				if err != nil {
					return nil, []error{fmt.Errorf("%s: %w", fn, err)}
				}
				lset := fromMaps(rg.Labels, r.Labels)
				if r.Alert != "" {
					rules = append(rules, NewAlertingRule(r.Alert, expr, time.Duration(r.For), time.Duration(r.KeepFiringFor),
						lset, labels.FromMap(r.Annotations), externalLabels, extURL, !shouldRestore, m.logger.With("alert", r.Alert)))
					continue
				}
				rules = append(rules, NewRecordingRule(r.Record, expr, lset))
			}
			groups[groupKey(fn, rg.Name)] = newGroup(groupOptions{
				name: rg.Name, file: fn, interval: itv, queryOffset: (*time.Duration)(rg.QueryOffset), limit: rg.Limit,
				rules: rules, shouldRestore: shouldRestore, opts: m.opts, metrics: m.metrics, managerDone: m.done,
			})
		}
	}
	return groups, nil
}

// ParseFile reads and validates a rule file with the upstream rulefmt (unknown fields are
// errors, names follow the UTF-8 validation scheme as in Prometheus 3).
func ParseFile(fn string, p parser.Parser, logger *slog.Logger) (*rulefmt.RuleGroups, []error) {
	if p == nil {
		p = parser.NewParser(promql.DefaultParserOptions)
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return rulefmt.ParseFile(fn, false, config.NameValidationScheme, p, logger)
}

// RuleGroups returns the running groups sorted by file and name.
func (m *Manager) RuleGroups() []*Group {
	m.mtx.RLock()
	defer m.mtx.RUnlock()
	res := make([]*Group, 0, len(m.groups))
	for _, g := range m.groups {
		res = append(res, g)
	}
	slices.SortFunc(res, func(a, b *Group) int {
		if c := strings.Compare(a.file, b.file); c != 0 {
			return c
		}
		return strings.Compare(a.name, b.name)
	})
	return res
}

// AlertingRules returns every alerting rule of the running groups, in group order.
func (m *Manager) AlertingRules() []*AlertingRule {
	var res []*AlertingRule
	for _, g := range m.RuleGroups() {
		for _, r := range g.rules {
			if ar, ok := r.(*AlertingRule); ok {
				res = append(res, ar)
			}
		}
	}
	return res
}
