// Package notifier sends the ruler's alerts to external Alertmanagers (alerting.alertmanagers)
// and hands them to Vigil's own routing in memory.
package notifier

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"path"
	"reflect"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	commoncfg "github.com/prometheus/common/config"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/relabel"

	"github.com/vigil-monitoring/vigil/config"
	"github.com/vigil-monitoring/vigil/discovery"
)

// Alert is an alert as it is sent: to Vigil's routing in memory and to external Alertmanagers
// (POST /api/v2/alerts). Its fields are those of ruler.Notification and Alert, so the
// wiring converts between them without copying field by field.
type Alert struct {
	Labels       model.LabelSet
	Annotations  model.LabelSet
	StartsAt     time.Time
	EndsAt       time.Time
	GeneratorURL string
}

// Local receives alerts in memory (Vigil's routing, adapted in cmd/server).
type Local interface {
	Send(ctx context.Context, alerts ...Alert) error
}

// DefaultQueueCapacity is Prometheus's --alertmanager.notification-queue-capacity default.
const DefaultQueueCapacity = 10000

// maxBatchSize is how many alerts go into one POST, as in Prometheus.
const maxBatchSize = 256

// SenderOptions configure a Sender.
type SenderOptions struct {
	// QueueCapacity bounds the alerts waiting for external Alertmanagers; the oldest are dropped
	// beyond it (counted in prometheus_notifications_dropped_total).
	QueueCapacity int
	Registerer    prometheus.Registerer
	Logger        *slog.Logger
	// Discovery configures how Alertmanagers are discovered (tests hand in a fake Kubernetes
	// clientset through it).
	Discovery discovery.Options
}

// Sender sends the rule manager's alerts in the server. Every alert gets the external labels and
// the global alert_relabel_configs, as Prometheus applies before sending, and goes to the Local
// receiver (Vigil's routing, synchronously in memory) and, when alerting.alertmanagers is
// configured, into a bounded queue drained to every external Alertmanager by POST
// /api/v2/alerts. Alertmanagers are found with any mechanism of package discovery
// (static_configs, file_sd_configs, http_sd_configs, kubernetes_sd_configs), as Prometheus's
// notifier does.
type Sender struct {
	local  Local
	opts   SenderOptions
	logger *slog.Logger

	cfgMtx         sync.RWMutex
	externalLabels labels.Labels
	relabelConfigs []*relabel.Config
	sets           []*amSet
	stopped        bool // set by Stop: no discovery starts after it

	queueMtx sync.Mutex
	queue    []Alert
	more     chan struct{}
	stop     chan struct{}
	done     chan struct{}
	runOnce  sync.Once
	stopOnce sync.Once

	dropped       prometheus.Counter
	sent          *prometheus.CounterVec
	errors        *prometheus.CounterVec
	latency       *prometheus.SummaryVec
	queueLength   prometheus.GaugeFunc
	queueCapacity prometheus.Gauge
	discovered    prometheus.GaugeFunc
}

// NewSender returns a Sender forwarding to local (may be nil). Call Run to start the delivery
// loop and ApplyConfig to configure external labels and Alertmanagers.
func NewSender(local Local, o SenderOptions) *Sender {
	if o.QueueCapacity <= 0 {
		o.QueueCapacity = DefaultQueueCapacity
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Sender{
		local: local, opts: o, logger: o.Logger,
		more: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{}),
		dropped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "prometheus_notifications_dropped_total",
			Help: "Total number of alerts dropped due to errors when sending to Alertmanager or a full queue.",
		}),
		sent: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "prometheus_notifications_sent_total", Help: "Total number of alerts sent.",
		}, []string{"alertmanager"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "prometheus_notifications_errors_total", Help: "Total number of sent alerts affected by errors.",
		}, []string{"alertmanager"}),
		latency: prometheus.NewSummaryVec(prometheus.SummaryOpts{
			Name: "prometheus_notifications_latency_seconds", Help: "Latency quantiles for sending alert notifications.",
			Objectives: map[float64]float64{0.5: 0.05, 0.9: 0.01, 0.99: 0.001},
		}, []string{"alertmanager"}),
		queueCapacity: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "prometheus_notifications_queue_capacity", Help: "The capacity of the alert notifications queue.",
		}),
	}
	s.queueLength = prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "prometheus_notifications_queue_length", Help: "The number of alert notifications in the queue.",
	}, func() float64 { return float64(s.queueLen()) })
	s.discovered = prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "prometheus_notifications_alertmanagers_discovered", Help: "The number of alertmanagers discovered and active.",
	}, func() float64 {
		s.cfgMtx.RLock()
		defer s.cfgMtx.RUnlock()
		n := 0
		for _, set := range s.sets {
			urls, _ := set.targets()
			n += len(urls)
		}
		return float64(n)
	})
	s.queueCapacity.Set(float64(o.QueueCapacity))
	if o.Registerer != nil {
		o.Registerer.MustRegister(s.dropped, s.sent, s.errors, s.latency, s.queueLength, s.queueCapacity, s.discovered)
	}
	return s
}

// CheckConfig builds what ApplyConfig builds of the Alertmanager configs (HTTP clients, static
// Alertmanagers, discoverers) without starting anything: the server checks a configuration with
// it before applying it, and so does `vigil check config`.
func CheckConfig(cfg *config.Config) error {
	for i, amc := range cfg.AlertingConfig.AlertmanagerConfigs {
		if _, err := newAMSet(amc, slog.New(slog.DiscardHandler), discovery.Options{}); err != nil {
			return fmt.Errorf("alerting.alertmanagers[%d]: %w", i, err)
		}
	}
	return nil
}

// ApplyConfig takes the external labels, alert_relabel_configs and Alertmanagers of cfg. On
// error nothing changes. Alertmanagers from static_configs are known when ApplyConfig returns;
// the other mechanisms start here and update their set's Alertmanagers as they report. A set
// whose discovery configuration did not change shows the Alertmanagers it had until its new
// discoverers report, so that a reload does not leave alerts without a destination.
func (s *Sender) ApplyConfig(cfg *config.Config) error {
	s.cfgMtx.RLock()
	old := s.sets
	s.cfgMtx.RUnlock()
	sets := make([]*amSet, 0, len(cfg.AlertingConfig.AlertmanagerConfigs))
	for i, amc := range cfg.AlertingConfig.AlertmanagerConfigs {
		set, err := newAMSet(amc, s.logger.With("alertmanagers", i), s.opts.Discovery)
		if err != nil {
			return fmt.Errorf("alerting.alertmanagers[%d]: %w", i, err)
		}
		sets = append(sets, set)
	}
	s.cfgMtx.Lock()
	if s.stopped {
		s.cfgMtx.Unlock()
		return errors.New("notifier is stopped")
	}
	for i, set := range sets {
		// Each Alertmanager's counters exist from its discovery on, as in Prometheus, so that
		// rate(errors)/rate(sent) (the prometheus-mixin's alerts) has both sides before the
		// first send.
		set.onURL = s.touchCounters
		for _, u := range set.urls {
			s.touchCounters(u)
		}
		if i < len(old) && old[i].sd != nil && set.sd != nil && reflect.DeepEqual(old[i].cfg.ServiceDiscoveryConfigs, set.cfg.ServiceDiscoveryConfigs) {
			set.resolve(old[i].lastGroups())
		}
		set.run()
	}
	s.externalLabels = cfg.GlobalConfig.ExternalLabels
	s.relabelConfigs = cfg.AlertingConfig.AlertRelabelConfigs
	s.sets = sets
	s.cfgMtx.Unlock()
	for _, set := range old {
		set.stop()
	}
	return nil
}

// amSet is one alerting.alertmanagers entry: its discovery, client and alert relabeling, and
// the Alertmanagers found so far.
type amSet struct {
	cfg            *config.AlertmanagerConfig
	logger         *slog.Logger
	client         *http.Client
	timeout        time.Duration
	relabelConfigs []*relabel.Config // alert_relabel_configs of this set

	static []*config.TargetGroup // static_configs, resolved at once
	sd     *discovery.Set        // the other mechanisms; nil without them

	mtx    sync.RWMutex
	groups []*config.TargetGroup // the last groups sd reported
	urls   []string              // the targets kept by relabel_configs, each once: alerts go there
	// onURL, when set, is called with every Alertmanager URL the set resolves.
	onURL   func(url string)
	dropped []*url.URL // the targets relabel_configs dropped, as they were before relabeling
}

func newAMSet(c *config.AlertmanagerConfig, logger *slog.Logger, o discovery.Options) (*amSet, error) {
	client, err := commoncfg.NewClientFromConfig(c.HTTPClientConfig, "alertmanager")
	if err != nil {
		return nil, fmt.Errorf("HTTP client: %w", err)
	}
	set := &amSet{cfg: c, logger: logger, client: client, timeout: time.Duration(c.Timeout), relabelConfigs: c.AlertRelabelConfigs}
	if set.timeout <= 0 {
		set.timeout = 10 * time.Second
	}
	for i, tg := range c.StaticConfigs {
		g := *tg
		g.Source = strconv.Itoa(i)
		set.static = append(set.static, &g)
	}
	// Static Alertmanagers are resolved now, so that a bad one fails the configuration.
	for _, tg := range set.static {
		if _, _, err := alertmanagersFromGroup(tg, c); err != nil {
			return nil, err
		}
	}
	dynamic := c.ServiceDiscoveryConfigs
	dynamic.StaticConfigs = nil
	if cfgs := discovery.Configs(&dynamic); len(cfgs) > 0 {
		if set.sd, err = discovery.NewSet(cfgs, logger, o); err != nil {
			return nil, err
		}
	}
	set.resolve(nil)
	return set, nil
}

// touchCounters creates the sent and errors counters of an Alertmanager.
func (s *Sender) touchCounters(u string) {
	s.sent.WithLabelValues(u)
	s.errors.WithLabelValues(u)
}

// run starts the set's discovery, if it has any.
func (set *amSet) run() {
	if set.sd != nil {
		set.sd.Run(context.Background(), set.resolve)
	}
}

// stop ends the set's discovery.
func (set *amSet) stop() {
	if set.sd != nil {
		set.sd.Stop()
	}
}

func (set *amSet) lastGroups() []*config.TargetGroup {
	set.mtx.RLock()
	defer set.mtx.RUnlock()
	return set.groups
}

// resolve recomputes the set's Alertmanagers from its static groups and the discovered ones. A
// discovered group with a target that is not a valid address after relabeling is skipped and
// logged, as in Prometheus.
func (set *amSet) resolve(discovered []*config.TargetGroup) {
	var (
		urls    []string
		dropped []*url.URL
		seen    = map[string]bool{}
	)
	for _, tg := range append(slices.Clip(set.static), discovered...) {
		active, drop, err := alertmanagersFromGroup(tg, set.cfg)
		if err != nil {
			set.logger.Error("Creating discovered Alertmanagers failed", "group", tg.Source, "err", err)
			continue
		}
		// Two targets that end up at one URL are one Alertmanager, as in Prometheus.
		for _, u := range active {
			if !seen[u] {
				seen[u] = true
				urls = append(urls, u)
			}
		}
		dropped = append(dropped, drop...)
	}
	if set.onURL != nil {
		for _, u := range urls {
			set.onURL(u)
		}
	}
	set.mtx.Lock()
	defer set.mtx.Unlock()
	set.groups, set.urls, set.dropped = discovered, urls, dropped
}

// targets returns the set's active Alertmanager URLs and dropped targets.
func (set *amSet) targets() ([]string, []*url.URL) {
	set.mtx.RLock()
	defer set.mtx.RUnlock()
	return set.urls, set.dropped
}

// alertmanagersFromGroup relabels the targets of tg with the set's relabel_configs, as
// Prometheus's notifier.AlertmanagerFromGroup does: the labels relabeling starts from are the
// configured scheme and alerts path, the target's labels, then the group's labels the target
// lacks.
func alertmanagersFromGroup(tg *config.TargetGroup, c *config.AlertmanagerConfig) (active []string, dropped []*url.URL, err error) {
	scheme := c.Scheme
	if scheme == "" {
		scheme = "http"
	}
	alertsPath := path.Join("/", c.PathPrefix, "/api/v2/alerts")
	lb := labels.NewBuilder(labels.EmptyLabels())
	for _, t := range tg.Targets {
		lb.Reset(labels.EmptyLabels())
		lb.Set(model.SchemeLabel, scheme)
		lb.Set(alertsPathLabel, alertsPath)
		for k, v := range t {
			lb.Set(string(k), string(v))
		}
		for k, v := range tg.Labels {
			if _, ok := t[k]; !ok {
				lb.Set(string(k), string(v))
			}
		}
		preRelabel := lb.Labels()
		if !relabel.ProcessBuilder(lb, c.RelabelConfigs...) {
			dropped = append(dropped, alertmanagerURL(preRelabel.Get))
			continue
		}
		if err := config.CheckTargetAddress(model.LabelValue(lb.Get(model.AddressLabel))); err != nil {
			return nil, nil, err
		}
		active = append(active, alertmanagerURL(lb.Get).String())
	}
	return active, dropped, nil
}

// alertsPathLabel holds an Alertmanager target's alerts path during relabeling, as in Prometheus.
const alertsPathLabel = "__alerts_path__"

// alertmanagerURL is where an Alertmanager target with these labels receives alerts.
func alertmanagerURL(get func(string) string) *url.URL {
	return &url.URL{Scheme: get(model.SchemeLabel), Host: get(model.AddressLabel), Path: get(alertsPathLabel)}
}

// Alertmanagers returns the URLs alerts are posted to: every alerting.alertmanagers
// target kept by its relabel_configs (scheme://address/path_prefix/api/v2/alerts), in
// configuration and discovery order, as Prometheus lists them in /api/v1/alertmanagers.
func (s *Sender) Alertmanagers() []*url.URL {
	s.cfgMtx.RLock()
	defer s.cfgMtx.RUnlock()
	var out []*url.URL
	for _, set := range s.sets {
		urls, _ := set.targets()
		for _, raw := range urls {
			u, err := url.Parse(raw)
			if err != nil { // built by alertmanagerURL: cannot happen
				continue
			}
			out = append(out, u)
		}
	}
	return out
}

// DroppedAlertmanagers returns the alerting.alertmanagers targets that relabel_configs
// dropped, with the URL they had before relabeling, as Prometheus lists them.
func (s *Sender) DroppedAlertmanagers() []*url.URL {
	s.cfgMtx.RLock()
	defer s.cfgMtx.RUnlock()
	var out []*url.URL
	for _, set := range s.sets {
		_, dropped := set.targets()
		for _, u := range dropped {
			c := *u
			out = append(out, &c)
		}
	}
	return out
}

// Send applies external labels and alert relabeling, hands the alerts to the local Notifier and
// queues them for the external Alertmanagers. Only the local Notifier's error is returned:
// external delivery is asynchronous and reported by metrics and logs.
func (s *Sender) Send(ctx context.Context, alerts ...Alert) error {
	s.cfgMtx.RLock()
	ext, rcs, hasAMs := s.externalLabels, s.relabelConfigs, len(s.sets) > 0
	s.cfgMtx.RUnlock()

	out := make([]Alert, 0, len(alerts))
	for _, a := range alerts {
		lb := labels.NewBuilder(labelsFromSet(a.Labels))
		ext.Range(func(l labels.Label) {
			if lb.Get(l.Name) == "" {
				lb.Set(l.Name, l.Value)
			}
		})
		if !relabel.ProcessBuilder(lb, rcs...) {
			continue
		}
		a.Labels = toLabelSet(lb.Labels())
		out = append(out, a)
	}
	if len(out) == 0 {
		return nil
	}
	if hasAMs {
		s.enqueue(out)
	}
	if s.local != nil {
		return s.local.Send(ctx, out...)
	}
	return nil
}

func toLabelSet(ls labels.Labels) model.LabelSet {
	m := make(model.LabelSet, ls.Len())
	ls.Range(func(l labels.Label) { m[model.LabelName(l.Name)] = model.LabelValue(l.Value) })
	return m
}

func labelsFromSet(ls model.LabelSet) labels.Labels {
	b := labels.NewScratchBuilder(len(ls))
	for k, v := range ls {
		b.Add(string(k), string(v))
	}
	b.Sort()
	return b.Labels()
}

func (s *Sender) enqueue(alerts []Alert) {
	s.queueMtx.Lock()
	defer s.queueMtx.Unlock()
	capacity := s.opts.QueueCapacity
	// Newer alerts are worth more than older ones: drop from the front, as Prometheus does.
	if d := len(alerts) - capacity; d > 0 {
		alerts = alerts[d:]
		s.logger.Warn("Alert batch larger than queue capacity, dropping alerts", "num_dropped", d)
		s.dropped.Add(float64(d))
	}
	if d := (len(s.queue) + len(alerts)) - capacity; d > 0 {
		s.queue = s.queue[d:]
		s.logger.Warn("Alert notification queue full, dropping alerts", "num_dropped", d)
		s.dropped.Add(float64(d))
	}
	s.queue = append(s.queue, alerts...)
	select {
	case s.more <- struct{}{}:
	default:
	}
}

func (s *Sender) queueLen() int {
	s.queueMtx.Lock()
	defer s.queueMtx.Unlock()
	return len(s.queue)
}

func (s *Sender) nextBatch() []Alert {
	s.queueMtx.Lock()
	defer s.queueMtx.Unlock()
	n := min(len(s.queue), maxBatchSize)
	batch := append([]Alert(nil), s.queue[:n]...)
	s.queue = s.queue[n:]
	return batch
}

// Run starts the delivery loop to external Alertmanagers (idempotent).
func (s *Sender) Run() {
	s.runOnce.Do(func() { go s.loop() })
}

// Stop ends the delivery loop; alerts still queued are dropped (Prometheus's default without
// --alertmanager.drain-notification-queue-on-shutdown).
func (s *Sender) Stop() {
	s.stopOnce.Do(func() {
		close(s.stop)
		s.runOnce.Do(func() { close(s.done) })
		<-s.done
		s.cfgMtx.Lock()
		s.stopped = true
		sets := s.sets
		s.cfgMtx.Unlock()
		for _, set := range sets {
			set.stop()
		}
	})
}

func (s *Sender) loop() {
	defer close(s.done)
	for {
		select {
		case <-s.stop:
			return
		case <-s.more:
		}
		for {
			batch := s.nextBatch()
			if len(batch) == 0 {
				break
			}
			if !s.sendAll(batch) {
				s.dropped.Add(float64(len(batch)))
			}
			select {
			case <-s.stop:
				return
			default:
			}
		}
	}
}

// postableAlert is the body element of Alertmanager's POST /api/v2/alerts.
type postableAlert struct {
	Labels       model.LabelSet `json:"labels"`
	Annotations  model.LabelSet `json:"annotations,omitempty"`
	StartsAt     *time.Time     `json:"startsAt,omitempty"`
	EndsAt       *time.Time     `json:"endsAt,omitempty"`
	GeneratorURL string         `json:"generatorURL,omitempty"`
}

// sendAll posts the batch to every Alertmanager and reports whether at least one accepted it
// (Prometheus counts the batch as dropped only when none did).
func (s *Sender) sendAll(batch []Alert) bool {
	s.cfgMtx.RLock()
	sets := s.sets
	s.cfgMtx.RUnlock()
	var (
		wg      sync.WaitGroup
		mtx     sync.Mutex
		success bool
	)
	for _, set := range sets {
		alerts := batch
		if len(set.relabelConfigs) > 0 {
			alerts = relabelAlerts(batch, set.relabelConfigs)
		}
		if len(alerts) == 0 {
			continue
		}
		body, err := json.Marshal(toPostable(alerts))
		if err != nil {
			s.logger.Error("Encoding alerts failed", "err", err)
			continue
		}
		urls, _ := set.targets()
		for _, u := range urls {
			wg.Add(1)
			go func(u string) {
				defer wg.Done()
				start := time.Now()
				ctx, cancel := context.WithTimeout(context.Background(), set.timeout)
				defer cancel()
				if err := post(ctx, set.client, u, body); err != nil {
					s.logger.Error("Error sending alerts", "alertmanager", u, "count", len(alerts), "err", err)
					s.errors.WithLabelValues(u).Add(float64(len(alerts)))
				} else {
					mtx.Lock()
					success = true
					mtx.Unlock()
				}
				s.latency.WithLabelValues(u).Observe(time.Since(start).Seconds())
				s.sent.WithLabelValues(u).Add(float64(len(alerts)))
			}(u)
		}
	}
	wg.Wait()
	return success || len(sets) == 0
}

func relabelAlerts(alerts []Alert, rcs []*relabel.Config) []Alert {
	out := make([]Alert, 0, len(alerts))
	for _, a := range alerts {
		lb := labels.NewBuilder(labelsFromSet(a.Labels))
		if !relabel.ProcessBuilder(lb, rcs...) {
			continue
		}
		a.Labels = toLabelSet(lb.Labels())
		out = append(out, a)
	}
	return out
}

func toPostable(alerts []Alert) []postableAlert {
	out := make([]postableAlert, len(alerts))
	for i, a := range alerts {
		p := postableAlert{Labels: a.Labels, Annotations: a.Annotations, GeneratorURL: a.GeneratorURL}
		if !a.StartsAt.IsZero() {
			t := a.StartsAt.UTC()
			p.StartsAt = &t
		}
		if !a.EndsAt.IsZero() {
			t := a.EndsAt.UTC()
			p.EndsAt = &t
		}
		out[i] = p
	}
	return out
}

func post(ctx context.Context, c *http.Client, u string, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Vigil")
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("bad response status %s", resp.Status)
	}
	return nil
}
