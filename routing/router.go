// Package routing is Vigil's alert router: it takes alerts from Vigil's own ruler (in memory)
// and from other Prometheus servers (through the Alertmanager API v2 in web/alertmanager),
// and routes, groups, deduplicates, silences and inhibits them exactly as Alertmanager does,
// handing notifications to the receivers built by package notify.
//
// The alert store and the dispatcher are Vigil's own (store.go, dispatcher.go): compact alerts
// updated in place, and aggregation groups flushed by one scheduler instead of a goroutine and
// a timer per group, with upstream's merge, grouping, timing and deletion rules. The rest of
// the pipeline is upstream Alertmanager's (route tree, inhibit, silence, nflog, notify stages,
// timeinterval, template, cluster), so that the behaviour is Alertmanager's. Constructors
// register metrics, so the long-lived pieces (alerts, silences, notification log, pipeline
// builder, dispatcher metrics, cluster peer) are built once in New; ApplyConfig rebuilds only
// the route tree, receivers, inhibitor and dispatcher, as Alertmanager's own app package does.
package routing

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/alertmanager/cluster"
	"github.com/prometheus/alertmanager/config"
	"github.com/prometheus/alertmanager/dispatch"
	"github.com/prometheus/alertmanager/eventrecorder"
	"github.com/prometheus/alertmanager/featurecontrol"
	"github.com/prometheus/alertmanager/inhibit"
	"github.com/prometheus/alertmanager/marker"
	"github.com/prometheus/alertmanager/nflog"
	amnotify "github.com/prometheus/alertmanager/notify"
	"github.com/prometheus/alertmanager/provider"
	"github.com/prometheus/alertmanager/silence"
	"github.com/prometheus/alertmanager/template"
	"github.com/prometheus/alertmanager/timeinterval"
	"github.com/prometheus/alertmanager/types"
	"github.com/prometheus/client_golang/prometheus"
	commoncfg "github.com/prometheus/common/config"
	"github.com/prometheus/common/model"

	"github.com/vigil-monitoring/vigil/notify"
	"github.com/vigil-monitoring/vigil/routing/journal"
)

// DefaultConfig is the alertmanager.yml used when no file is given: one route to a receiver
// without integrations, so alerts are grouped and visible in the API but delivered nowhere.
//
//go:embed default.yml
var DefaultConfig string

// shutdownGrace is how long Stop lets running notifications finish before canceling them.
const shutdownGrace = 5 * time.Second

// Defaults mirroring Alertmanager's flags.
const (
	DefaultRetention           = 120 * time.Hour
	DefaultMaintenanceInterval = 15 * time.Minute
	DefaultAlertGCInterval     = 30 * time.Minute
	DefaultClusterListen       = "0.0.0.0:9094"
)

// ClusterOptions configures gossip with other Vigil (or Alertmanager) instances. An empty
// ListenAddress disables clustering.
type ClusterOptions struct {
	ListenAddress    string
	AdvertiseAddress string
	Peers            []string
	// PeerTimeout is the time each peer waits per position in the cluster before sending, so
	// that the first peer's notification log entry reaches the others first.
	PeerTimeout      time.Duration
	GossipInterval   time.Duration
	PushPullInterval time.Duration
	SettleTimeout    time.Duration
	// ReconnectInterval and ReconnectTimeout govern rejoining lost peers.
	ReconnectInterval time.Duration
	ReconnectTimeout  time.Duration
}

// Options configures a Router. Zero values get Alertmanager's defaults.
type Options struct {
	// ConfigFile is the alertmanager.yml path; empty means DefaultConfig.
	ConfigFile string
	// DataDir holds the silences and notification log snapshots ("silences", "nflog") and
	// the journals of the changes since (see state.go).
	DataDir string
	// Retention is how long silences and notification log entries are kept after expiry.
	Retention time.Duration
	// MaintenanceInterval is how often state is garbage-collected and snapshotted to DataDir
	// (which also compacts the journals).
	MaintenanceInterval time.Duration
	// MaxSilences and MaxSilenceSizeBytes are Alertmanager's silence limits
	// (--silences.max-silences, --silences.max-silence-size-bytes); zero or negative means
	// no limit.
	MaxSilences         int
	MaxSilenceSizeBytes int
	// AlertGCInterval is how often resolved alerts are dropped from memory.
	AlertGCInterval time.Duration
	// ExternalURL is the URL templates link back to (e.g. silence links).
	ExternalURL *url.URL
	Cluster     ClusterOptions

	Logger     *slog.Logger
	Registerer prometheus.Registerer

	// Amend, if set, changes every configuration loaded from ConfigFile before it is applied
	// (the routes and receivers of Prometheus Operator AlertmanagerConfig resources).
	Amend func(*config.Config) (*config.Config, error)

	// NotifierHTTPOptions go to the HTTP clients of the receivers' integrations; tests use it to
	// deliver over an in-memory connection.
	NotifierHTTPOptions []commoncfg.HTTPClientOption
}

// Router owns the whole alerting pipeline. It is safe for concurrent use.
type Router struct {
	opts   Options
	logger *slog.Logger

	alerts       *alertStore
	silences     *silence.Silences
	silencer     *silence.Silencer
	nflog        *nflog.Log
	groupMarker  marker.GroupMarker
	peer         *cluster.Peer
	pipeline     *amnotify.PipelineBuilder
	dispMetrics  *dispatchMetrics
	confMetrics  *configMetrics
	dispGen      uint64
	recorder     eventrecorder.Recorder
	stopc        chan struct{}
	maintenance  sync.WaitGroup
	settleCancel context.CancelFunc

	// Durability of silences and the notification log (state.go).
	durableNflog     durableNflog
	silJournal       *journal.Journal
	nflJournal       *journal.Journal
	silWriteFailures atomic.Uint64 // silence changes the journal failed to make durable

	// mtx guards the config-scoped state below, swapped by ApplyConfig.
	mtx         sync.RWMutex
	conf        *config.Config
	maskedText  string
	route       *dispatch.Route
	receivers   map[string][]amnotify.Integration
	intervener  *timeinterval.Intervener
	inhibitor   *inhibit.Inhibitor
	dispatcher  *dispatcher
	subscribers []func(*config.Config)

	stopOnce sync.Once
}

// New builds the pipeline, loads persisted silences and notification log from DataDir,
// joins the cluster if configured, and applies the configuration.
func New(opts Options) (*Router, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Registerer == nil {
		opts.Registerer = prometheus.NewRegistry()
	}
	if opts.DataDir == "" {
		return nil, errors.New("routing: data directory is required")
	}
	if opts.Retention <= 0 {
		opts.Retention = DefaultRetention
	}
	if opts.MaintenanceInterval <= 0 {
		opts.MaintenanceInterval = DefaultMaintenanceInterval
	}
	if opts.AlertGCInterval <= 0 {
		opts.AlertGCInterval = DefaultAlertGCInterval
	}
	if opts.ExternalURL == nil {
		opts.ExternalURL = &url.URL{Scheme: "http", Host: "localhost:9090"}
	}
	setClusterDefaults(&opts.Cluster)

	conf, text, err := loadConfig(opts.ConfigFile)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(opts.DataDir, 0o777); err != nil {
		return nil, fmt.Errorf("creating alerting data directory: %w", err)
	}

	r := &Router{
		opts:         opts,
		logger:       opts.Logger,
		groupMarker:  marker.NewGroupMarker(),
		recorder:     eventrecorder.NopRecorder(),
		stopc:        make(chan struct{}),
		settleCancel: func() {},
	}
	ok := false
	defer func() {
		if !ok {
			r.Stop()
		}
	}()
	reg := opts.Registerer
	ff := featurecontrol.NoopFlags{}

	if opts.Cluster.ListenAddress != "" {
		c := opts.Cluster
		r.peer, err = cluster.Create(r.logger.With("component", "cluster"), reg,
			c.ListenAddress, c.AdvertiseAddress, c.Peers, true,
			c.PushPullInterval, c.GossipInterval, cluster.DefaultTCPTimeout,
			cluster.DefaultResolvePeersTimeout, cluster.DefaultProbeTimeout, cluster.DefaultProbeInterval,
			nil, false, "", "")
		if err != nil {
			return nil, fmt.Errorf("creating gossip peer on %s: %w", c.ListenAddress, err)
		}
	}

	stateMetrics := journal.NewMetrics(reg)
	nflLogger := r.logger.With("component", "nflog")
	r.nflog, r.nflJournal, err = openNflog(opts.DataDir, opts.Retention, stateMetrics, nflLogger, reg)
	if err != nil {
		return nil, err
	}
	r.durableNflog = durableNflog{log: r.nflog, journal: r.nflJournal}
	var nflCluster func([]byte)
	if r.peer != nil {
		nflCluster = r.peer.AddState("nfl", r.nflog, reg).Broadcast
	}
	// Entries are fsynced by durableNflog.Log, outside the log's lock; entries gossiped by
	// peers ride along with the next fsync.
	r.nflog.SetBroadcast(durableBroadcast(r.nflJournal, false, nflCluster, nil, nflLogger))
	nflPath := filepath.Join(opts.DataDir, nflogFile)
	r.maintenance.Go(func() {
		r.nflog.Maintenance(opts.MaintenanceInterval, nflPath, r.stopc, func() (int64, error) {
			if _, err := r.nflog.GC(); err != nil {
				return 0, err
			}
			return compact(nflPath, r.nflJournal, r.nflog.Snapshot)
		})
	})

	silLogger := r.logger.With("component", "silences")
	limits := silence.Limits{
		MaxSilences:         func() int { return opts.MaxSilences },
		MaxSilenceSizeBytes: func() int { return opts.MaxSilenceSizeBytes },
	}
	r.silences, r.silJournal, err = openSilences(opts.DataDir, opts.Retention, limits, r.recorder, stateMetrics, silLogger, reg)
	if err != nil {
		return nil, err
	}
	var silCluster func([]byte)
	if r.peer != nil {
		silCluster = r.peer.AddState("sil", r.silences, reg).Broadcast
	}
	r.silences.SetBroadcast(durableBroadcast(r.silJournal, true, silCluster, &r.silWriteFailures, silLogger))
	silPath := filepath.Join(opts.DataDir, silencesFile)
	r.maintenance.Go(func() {
		r.silences.Maintenance(opts.MaintenanceInterval, silPath, r.stopc, func() (int64, error) {
			if _, err := r.silences.GC(); err != nil {
				return 0, err
			}
			return compact(silPath, r.silJournal, r.silences.Snapshot)
		})
	})
	r.silencer = silence.NewSilencer(r.silences, r.logger.With("component", "silencer"), r.recorder)

	if r.peer != nil {
		// Join after the states are registered so the first push/pull carries them.
		if err := r.peer.Join(opts.Cluster.ReconnectInterval, opts.Cluster.ReconnectTimeout); err != nil {
			r.logger.Warn("unable to join gossip mesh", "component", "cluster", "err", err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), opts.Cluster.SettleTimeout)
		r.settleCancel = cancel
		go r.peer.Settle(ctx, opts.Cluster.GossipInterval*10)
	}

	r.alerts = newAlertStore(opts.AlertGCInterval, r.silencer.PostGC, r.logger.With("component", "alerts"), reg)
	r.pipeline = amnotify.NewPipelineBuilder(reg, ff, r.recorder)
	r.dispMetrics = newDispatchMetrics(reg)
	r.dispMetrics.states.setStore(r.alerts)
	r.confMetrics = newConfigMetrics(reg)

	if err := r.applyConfig(conf, text); err != nil {
		return nil, err
	}
	r.confMetrics.loaded(text, nil)
	ok = true
	return r, nil
}

func setClusterDefaults(c *ClusterOptions) {
	if c.PeerTimeout <= 0 {
		c.PeerTimeout = 15 * time.Second
	}
	if c.GossipInterval <= 0 {
		c.GossipInterval = cluster.DefaultGossipInterval
	}
	if c.PushPullInterval <= 0 {
		c.PushPullInterval = cluster.DefaultPushPullInterval
	}
	if c.SettleTimeout <= 0 {
		c.SettleTimeout = cluster.DefaultPushPullInterval
	}
	if c.ReconnectInterval <= 0 {
		c.ReconnectInterval = cluster.DefaultReconnectInterval
	}
	if c.ReconnectTimeout <= 0 {
		c.ReconnectTimeout = cluster.DefaultReconnectTimeout
	}
}

// LoadConfig reads and validates an alertmanager.yml with the upstream parser; an empty path
// yields DefaultConfig.
func LoadConfig(path string) (*config.Config, error) {
	conf, _, err := loadConfig(path)
	return conf, err
}

// loadConfig also returns the file's text, which the API shows (masked) as the config.
func loadConfig(path string) (*config.Config, string, error) {
	if path == "" {
		conf, err := config.Load(DefaultConfig)
		if err != nil {
			return nil, "", fmt.Errorf("embedded default alertmanager config: %w", err)
		}
		return conf, DefaultConfig, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, "", fmt.Errorf("loading alertmanager config: %w", err)
	}
	conf, err := config.LoadFile(path)
	if err != nil {
		return nil, "", fmt.Errorf("loading alertmanager config %s: %w", path, err)
	}
	return conf, string(b), nil
}

// Reload re-reads the configuration file and applies it. On error the running configuration
// stays in place.
func (r *Router) Reload() error {
	conf, text, err := loadConfig(r.opts.ConfigFile)
	if err == nil && r.opts.Amend != nil {
		var amended *config.Config
		if amended, err = r.opts.Amend(conf); err == nil && amended != conf {
			conf, text = amended, amended.String()
		}
	}
	if err == nil {
		err = r.applyConfig(conf, text)
	}
	r.confMetrics.loaded(text, err)
	return err
}

// ApplyConfig rebuilds the route tree, receivers, inhibitor and dispatcher from conf. All
// fallible work happens before the running pipeline is touched, so a bad config leaves the
// previous one running.
func (r *Router) ApplyConfig(conf *config.Config) error {
	text := conf.String()
	err := r.applyConfig(conf, text)
	r.confMetrics.loaded(text, err)
	return err
}

func (r *Router) applyConfig(conf *config.Config, text string) error {
	masked, err := MaskSecrets(text)
	if err != nil {
		// Upstream's own rendering masks every secret field; it only loses the user's layout.
		masked = conf.String()
	}
	tmpl, err := template.FromGlobs(conf.Templates)
	if err != nil {
		return fmt.Errorf("parsing notification templates: %w", err)
	}
	tmpl.ExternalURL = r.opts.ExternalURL

	routes := dispatch.NewRoute(conf.Route, nil)
	active := map[string]struct{}{}
	routes.Walk(func(rt *dispatch.Route) { active[rt.RouteOpts.Receiver] = struct{}{} })
	receivers := make(map[string][]amnotify.Integration, len(active))
	for _, rcv := range conf.Receivers {
		if _, used := active[rcv.Name]; !used {
			continue
		}
		ints, err := notify.BuildReceiverIntegrations(rcv, tmpl, r.logger.With("component", "notify"), r.opts.NotifierHTTPOptions...)
		if err != nil {
			return fmt.Errorf("receiver %q: %w", rcv.Name, err)
		}
		receivers[rcv.Name] = ints
	}
	intervals := make(map[string][]timeinterval.TimeInterval, len(conf.MuteTimeIntervals)+len(conf.TimeIntervals))
	for _, ti := range conf.MuteTimeIntervals {
		intervals[ti.Name] = ti.TimeIntervals
	}
	for _, ti := range conf.TimeIntervals {
		intervals[ti.Name] = ti.TimeIntervals
	}
	intervener := timeinterval.NewIntervener(intervals)

	r.mtx.Lock()
	defer r.mtx.Unlock()
	if r.inhibitor != nil {
		r.inhibitor.Stop()
	}
	inhibitor := inhibit.NewInhibitor(filteredFeed{r.alerts, inhibitSources(conf)}, conf.InhibitRules, r.logger.With("component", "inhibitor"), r.recorder)
	var peer amnotify.Peer
	if r.peer != nil {
		peer = r.peer
	}
	stage := r.pipeline.New(receivers, r.clusterWait, inhibitor, r.silencer, intervener, r.groupMarker, r.durableNflog, peer)
	r.dispGen++
	disp := newDispatcher(r.alerts, routes, stage, r.groupMarker, r.notifyTimeout, tmpl, r.logger, r.dispMetrics, r.dispGen)

	// The inhibitor must have loaded the current alerts before the dispatcher starts, or an
	// alert that is inhibited could be sent in the first flush.
	go inhibitor.Run()
	inhibitor.WaitForLoading()
	r.alerts.mu.Lock()
	old := r.alerts.disp
	if old != nil {
		old.stopLocked()
	}
	r.alerts.disp = disp
	disp.startLocked()
	r.alerts.mu.Unlock()
	if old != nil {
		old.wait(0)
	}

	r.conf, r.maskedText, r.route, r.receivers, r.intervener = conf, masked, routes, receivers, intervener
	r.inhibitor, r.dispatcher = inhibitor, disp
	for _, f := range r.subscribers {
		f(conf)
	}
	r.logger.Info("alerting configuration applied", "component", "routing", "file", r.opts.ConfigFile, "receivers", len(receivers), "inhibit_rules", len(conf.InhibitRules))
	return nil
}

// inhibitSources matches the alerts on the source side of some inhibition rule, the only ones
// the inhibitor keeps; nil when there are no rules.
func inhibitSources(conf *config.Config) func(model.LabelSet) bool {
	if len(conf.InhibitRules) == 0 {
		return nil
	}
	rules := make([]*inhibit.InhibitRule, len(conf.InhibitRules))
	for i, cr := range conf.InhibitRules {
		rules[i] = inhibit.NewInhibitRule(cr)
	}
	return func(ls model.LabelSet) bool {
		for _, r := range rules {
			if r.SourceMatchers.Matches(ls) {
				return true
			}
		}
		return false
	}
}

// clusterWait delays a peer's sends by its position in the cluster, so that one notification
// is sent per group: the first peer sends, gossips its nflog entry, and the others find it
// in their dedup stage.
func (r *Router) clusterWait() time.Duration {
	if r.peer == nil {
		return 0
	}
	return time.Duration(r.peer.Position()) * r.opts.Cluster.PeerTimeout
}

func (r *Router) notifyTimeout(d time.Duration) time.Duration {
	if d < amnotify.MinTimeout {
		d = amnotify.MinTimeout
	}
	return d + r.clusterWait()
}

// Subscribe registers f to be called with every applied configuration, starting with the
// current one. The API handler uses it to keep its view of the config in step.
func (r *Router) Subscribe(f func(*config.Config)) {
	r.mtx.Lock()
	defer r.mtx.Unlock()
	r.subscribers = append(r.subscribers, f)
	if r.conf != nil {
		f(r.conf)
	}
}

// Config returns the configuration in use.
func (r *Router) Config() *config.Config {
	r.mtx.RLock()
	defer r.mtx.RUnlock()
	return r.conf
}

// MaskedConfig is the configuration text as the user wrote it, credentials replaced by
// "<secret>" (see MaskSecrets). The API serves it as the status' original config.
func (r *Router) MaskedConfig() string {
	r.mtx.RLock()
	defer r.mtx.RUnlock()
	return r.maskedText
}

// Alerts is the alert store (for the API).
func (r *Router) Alerts() provider.Alerts { return r.alerts }

// Silences is the silence store (for the API).
func (r *Router) Silences() *silence.Silences { return r.silences }

// Peer returns the cluster peer, or nil when clustering is off. The return type is the
// interface so that a nil peer is a nil interface, as the API expects.
func (r *Router) Peer() cluster.ClusterPeer {
	if r.peer == nil {
		return nil
	}
	return r.peer
}

// GroupMuted reports whether the group is muted by time intervals (for the API).
func (r *Router) GroupMuted(routeID, groupKey string) ([]string, bool) {
	return r.groupMarker.Muted(routeID, groupKey)
}

// Groups returns the aggregation groups of the running dispatcher (for the API).
func (r *Router) Groups(ctx context.Context, routeFilter func(*dispatch.Route) bool, alertFilter func(*types.Alert, time.Time) bool) (dispatch.AlertGroups, map[model.Fingerprint][]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	r.mtx.RLock()
	d := r.dispatcher
	r.mtx.RUnlock()
	groups, receivers := d.groupsSnapshot(routeFilter, alertFilter)
	return groups, receivers, nil
}

// SetAlertStatus evaluates inhibitions and silences for lset so that the marker in ctx
// carries its state (for the API's alert listing).
func (r *Router) SetAlertStatus(ctx context.Context, lset model.LabelSet) {
	r.mtx.RLock()
	ih := r.inhibitor
	r.mtx.RUnlock()
	ih.Mutes(ctx, lset)
	r.silencer.Mutes(ctx, lset)
}

// Stop stops dispatching, writes final snapshots of silences and the notification log to
// the data directory, and leaves the cluster. It is idempotent.
func (r *Router) Stop() {
	r.stopOnce.Do(func() {
		r.mtx.Lock()
		if r.inhibitor != nil {
			r.inhibitor.Stop()
		}
		r.mtx.Unlock()
		if r.alerts != nil {
			r.alerts.mu.Lock()
			d := r.alerts.disp
			if d != nil {
				d.stopLocked()
			}
			r.alerts.mu.Unlock()
			if d != nil {
				// Let notifications under way finish (and enter the notification log) so
				// that a restart does not send them again.
				d.wait(shutdownGrace)
			}
		}
		// Closing stopc makes both maintenance loops write a last snapshot before exiting.
		close(r.stopc)
		r.maintenance.Wait()
		if r.alerts != nil {
			r.alerts.close()
		}
		r.settleCancel()
		if r.peer != nil {
			if err := r.peer.Leave(10 * time.Second); err != nil {
				r.logger.Warn("leaving gossip mesh", "component", "cluster", "err", err)
			}
		}
		// Last, so that changes gossiped until the peer left are journaled too.
		for _, j := range []*journal.Journal{r.silJournal, r.nflJournal} {
			if j != nil {
				if err := j.Close(); err != nil {
					r.logger.Warn("closing alerting state journal", "component", "routing", "err", err)
				}
			}
		}
	})
}
