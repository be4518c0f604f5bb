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
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	commoncfg "github.com/prometheus/common/config"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/relabel"

	"github.com/vigil-monitoring/vigil/config"
	"github.com/vigil-monitoring/vigil/routing"
)

// Notifier receives alerts in memory (Vigil's routing).
type Notifier interface {
	Send(ctx context.Context, alerts ...routing.Alert) error
}

// DefaultQueueCapacity is Prometheus's --alertmanager.notification-queue-capacity default.
const DefaultQueueCapacity = 10000

// maxBatchSize is how many alerts go into one POST, as in Prometheus.
const maxBatchSize = 256

// SenderOptions configure a Sender.
type SenderOptions struct {
	// QueueCapacity bounds the alerts waiting for external Alertmanagers; the oldest are dropped
	// beyond it (counted in vigil_notifications_dropped_total).
	QueueCapacity int
	Registerer    prometheus.Registerer
	Logger        *slog.Logger
}

// Sender is the Notifier the rule manager uses in the server. Every alert gets the external
// labels and the global alert_relabel_configs, as Prometheus applies before sending, and goes
// to the local Notifier (Vigil's routing, synchronously in memory) and, when
// alerting.alertmanagers is configured, into a bounded queue drained to every external
// Alertmanager by POST /api/v2/alerts.
type Sender struct {
	local  Notifier
	opts   SenderOptions
	logger *slog.Logger

	cfgMtx         sync.RWMutex
	externalLabels labels.Labels
	relabelConfigs []*relabel.Config
	sets           []*amSet

	queueMtx sync.Mutex
	queue    []routing.Alert
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

// amSet is one alerting.alertmanagers entry: its targets, client and alert relabeling.
type amSet struct {
	urls           []string   // the targets kept by relabel_configs, each once: alerts go there
	dropped        []*url.URL // the targets relabel_configs dropped, as they were before relabeling
	client         *http.Client
	timeout        time.Duration
	relabelConfigs []*relabel.Config
}

// NewSender returns a Sender forwarding to local (may be nil). Call Run to start the delivery
// loop and ApplyConfig to configure external labels and Alertmanagers.
func NewSender(local Notifier, o SenderOptions) *Sender {
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
			Name: "vigil_notifications_dropped_total",
			Help: "Total number of alerts dropped due to errors when sending to Alertmanager or a full queue.",
		}),
		sent: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vigil_notifications_sent_total", Help: "Total number of alerts sent.",
		}, []string{"alertmanager"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vigil_notifications_errors_total", Help: "Total number of sent alerts affected by errors.",
		}, []string{"alertmanager"}),
		latency: prometheus.NewSummaryVec(prometheus.SummaryOpts{
			Name: "vigil_notifications_latency_seconds", Help: "Latency quantiles for sending alert notifications.",
			Objectives: map[float64]float64{0.5: 0.05, 0.9: 0.01, 0.99: 0.001},
		}, []string{"alertmanager"}),
		queueCapacity: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "vigil_notifications_queue_capacity", Help: "The capacity of the alert notifications queue.",
		}),
	}
	s.queueLength = prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "vigil_notifications_queue_length", Help: "The number of alert notifications in the queue.",
	}, func() float64 { return float64(s.queueLen()) })
	s.discovered = prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "vigil_notifications_alertmanagers_discovered", Help: "The number of alertmanagers discovered and active.",
	}, func() float64 {
		s.cfgMtx.RLock()
		defer s.cfgMtx.RUnlock()
		n := 0
		for _, set := range s.sets {
			n += len(set.urls)
		}
		return float64(n)
	})
	s.queueCapacity.Set(float64(o.QueueCapacity))
	if o.Registerer != nil {
		o.Registerer.MustRegister(s.dropped, s.sent, s.errors, s.latency, s.queueLength, s.queueCapacity, s.discovered)
	}
	return s
}

// ApplyConfig takes the external labels, alert_relabel_configs and Alertmanagers of cfg. On
// error nothing changes.
func (s *Sender) ApplyConfig(cfg *config.Config) error {
	sets := make([]*amSet, 0, len(cfg.AlertingConfig.AlertmanagerConfigs))
	for i, amc := range cfg.AlertingConfig.AlertmanagerConfigs {
		set, err := newAMSet(amc)
		if err != nil {
			return fmt.Errorf("alerting.alertmanagers[%d]: %w", i, err)
		}
		sets = append(sets, set)
	}
	s.cfgMtx.Lock()
	defer s.cfgMtx.Unlock()
	s.externalLabels = cfg.GlobalConfig.ExternalLabels
	s.relabelConfigs = cfg.AlertingConfig.AlertRelabelConfigs
	s.sets = sets
	return nil
}

func newAMSet(c *config.AlertmanagerConfig) (*amSet, error) {
	// Vigil's Alertmanager discovery is static: other mechanisms are an error rather than
	// alerts silently going nowhere.
	switch {
	case len(c.FileSDConfigs) > 0:
		return nil, errors.New("file_sd_configs for Alertmanagers is not supported by Vigil; use static_configs")
	case len(c.HTTPSDConfigs) > 0:
		return nil, errors.New("http_sd_configs for Alertmanagers is not supported by Vigil; use static_configs")
	case len(c.KubernetesSDConfigs) > 0:
		return nil, errors.New("kubernetes_sd_configs for Alertmanagers is not supported by Vigil; use static_configs")
	}
	client, err := commoncfg.NewClientFromConfig(c.HTTPClientConfig, "alertmanager")
	if err != nil {
		return nil, fmt.Errorf("HTTP client: %w", err)
	}
	set := &amSet{client: client, timeout: time.Duration(c.Timeout), relabelConfigs: c.AlertRelabelConfigs}
	if set.timeout <= 0 {
		set.timeout = 10 * time.Second
	}
	scheme := c.Scheme
	if scheme == "" {
		scheme = "http"
	}
	alertsPath := path.Join("/", c.PathPrefix, "/api/v2/alerts")
	seen := map[string]bool{}
	lb := labels.NewBuilder(labels.EmptyLabels())
	for _, tg := range c.StaticConfigs {
		for _, t := range tg.Targets {
			// The labels Prometheus gives relabel_configs to work on: the target's, the
			// configured scheme and alerts path, then the group's labels the target lacks.
			lb.Reset(labels.EmptyLabels())
			for k, v := range t {
				lb.Set(string(k), string(v))
			}
			lb.Set(model.SchemeLabel, scheme)
			lb.Set(alertsPathLabel, alertsPath)
			for k, v := range tg.Labels {
				if _, ok := t[k]; !ok {
					lb.Set(string(k), string(v))
				}
			}
			preRelabel := lb.Labels()
			if !relabel.ProcessBuilder(lb, c.RelabelConfigs...) {
				set.dropped = append(set.dropped, alertmanagerURL(preRelabel.Get))
				continue
			}
			if err := config.CheckTargetAddress(model.LabelValue(lb.Get(model.AddressLabel))); err != nil {
				return nil, err
			}
			// Two targets that end up at one URL are one Alertmanager, as in Prometheus.
			if u := alertmanagerURL(lb.Get).String(); !seen[u] {
				seen[u] = true
				set.urls = append(set.urls, u)
			}
		}
	}
	return set, nil
}

// alertsPathLabel holds an Alertmanager target's alerts path during relabeling, as in Prometheus.
const alertsPathLabel = "__alerts_path__"

// alertmanagerURL is where an Alertmanager target with these labels receives alerts.
func alertmanagerURL(get func(string) string) *url.URL {
	return &url.URL{Scheme: get(model.SchemeLabel), Host: get(model.AddressLabel), Path: get(alertsPathLabel)}
}

// Alertmanagers returns the URLs alerts are posted to: every alerting.alertmanagers
// target kept by its relabel_configs (scheme://address/path_prefix/api/v2/alerts), in
// configuration order, as Prometheus lists them in /api/v1/alertmanagers.
func (s *Sender) Alertmanagers() []*url.URL {
	s.cfgMtx.RLock()
	defer s.cfgMtx.RUnlock()
	var out []*url.URL
	for _, set := range s.sets {
		for _, raw := range set.urls {
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
		for _, u := range set.dropped {
			c := *u
			out = append(out, &c)
		}
	}
	return out
}

// Send applies external labels and alert relabeling, hands the alerts to the local Notifier and
// queues them for the external Alertmanagers. Only the local Notifier's error is returned:
// external delivery is asynchronous and reported by metrics and logs.
func (s *Sender) Send(ctx context.Context, alerts ...routing.Alert) error {
	s.cfgMtx.RLock()
	ext, rcs, hasAMs := s.externalLabels, s.relabelConfigs, len(s.sets) > 0
	s.cfgMtx.RUnlock()

	out := make([]routing.Alert, 0, len(alerts))
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

func (s *Sender) enqueue(alerts []routing.Alert) {
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

func (s *Sender) nextBatch() []routing.Alert {
	s.queueMtx.Lock()
	defer s.queueMtx.Unlock()
	n := min(len(s.queue), maxBatchSize)
	batch := append([]routing.Alert(nil), s.queue[:n]...)
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
func (s *Sender) sendAll(batch []routing.Alert) bool {
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
		for _, u := range set.urls {
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

func relabelAlerts(alerts []routing.Alert, rcs []*relabel.Config) []routing.Alert {
	out := make([]routing.Alert, 0, len(alerts))
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

func toPostable(alerts []routing.Alert) []postableAlert {
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
