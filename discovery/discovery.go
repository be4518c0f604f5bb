// Package discovery finds targets: static_configs, file_sd_configs, http_sd_configs and (in
// discovery/kubernetes) kubernetes_sd_configs. Scraping and alert sending share it, so a
// mechanism that finds scrape targets also finds Alertmanagers.
package discovery

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/fsnotify/fsnotify"
	"github.com/prometheus/client_golang/prometheus"
	commoncfg "github.com/prometheus/common/config"
	"github.com/prometheus/common/model"
	"go.yaml.in/yaml/v2"

	"github.com/vigil-monitoring/vigil/config"
)

// Discoverer finds target groups. Run sends the groups it knows about whenever they change; a
// group is identified by its Source, and a group with no targets removes an earlier one with the
// same Source. Run returns when ctx is done.
type Discoverer interface {
	Run(ctx context.Context, up chan<- []*config.TargetGroup)
}

// ErrorReporter is implemented by discoverers that can fail while they run (Kubernetes: the API
// server cannot be reached, refuses the credentials or denies the request). LastError is nil
// while the discoverer works; the scrape manager shows it on /api/v1/targets.
type ErrorReporter interface {
	LastError() error
}

// Forward runs d until ctx ends and hands each of its updates, wrapped by wrap, to out; a send
// still pending when ctx ends is dropped. It returns at once.
func Forward[T any](ctx context.Context, d Discoverer, out chan<- T, wrap func([]*config.TargetGroup) T) {
	ch := make(chan []*config.TargetGroup)
	go d.Run(ctx, ch)
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case tgs := <-ch:
				select {
				case out <- wrap(tgs):
				case <-ctx.Done():
					return
				}
			}
		}
	}()
}

// send delivers groups unless ctx ends first.
func send(ctx context.Context, up chan<- []*config.TargetGroup, tgs []*config.TargetGroup) {
	select {
	case up <- tgs:
	case <-ctx.Done():
	}
}

// StaticDiscoverer serves the groups of static_configs.
type StaticDiscoverer struct{ groups []*config.TargetGroup }

// NewStaticDiscoverer returns a discoverer for static_configs; each group gets a Source of its index.
func NewStaticDiscoverer(tgs []*config.TargetGroup) *StaticDiscoverer {
	groups := make([]*config.TargetGroup, 0, len(tgs))
	for i, tg := range tgs {
		c := *tg
		c.Source = strconv.Itoa(i)
		groups = append(groups, &c)
	}
	return &StaticDiscoverer{groups: groups}
}

// Run implements Discoverer.
func (d *StaticDiscoverer) Run(ctx context.Context, up chan<- []*config.TargetGroup) {
	send(ctx, up, d.groups)
	<-ctx.Done()
}

// UserAgent is sent with HTTP SD requests.
var UserAgent = "Vigil/0.1"

const fileSDFilepathLabel = model.MetaLabelPrefix + "filepath"

// FileDiscoverer reads target groups from files matching globs (file_sd_configs). It re-reads on
// file system events (fsnotify on the directories, so that files created later and atomic
// renames are seen) and every refresh interval in case events are lost (network file systems).
// A file that fails to parse keeps its previous targets and the error is logged.
type FileDiscoverer struct {
	paths    []string
	interval time.Duration
	logger   *slog.Logger

	// last holds, per file, the number of groups sent last time, to remove vanished ones.
	last map[string]int
}

// NewFileDiscoverer returns a discoverer for one file_sd_configs entry.
func NewFileDiscoverer(cfg *config.FileSDConfig, logger *slog.Logger) *FileDiscoverer {
	return &FileDiscoverer{paths: cfg.Files, interval: time.Duration(cfg.RefreshInterval), logger: logger, last: map[string]int{}}
}

// Run implements Discoverer.
func (d *FileDiscoverer) Run(ctx context.Context, up chan<- []*config.TargetGroup) {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		d.logger.Error("File SD: cannot watch files, falling back to refresh_interval polling", "err", err)
	} else {
		defer w.Close()
		dirs := map[string]struct{}{}
		for _, p := range d.paths {
			dirs[filepath.Dir(p)] = struct{}{}
		}
		for dir := range dirs {
			if err := w.Add(dir); err != nil {
				d.logger.Error("File SD: cannot watch directory", "dir", dir, "err", err)
			}
		}
	}
	d.refresh(ctx, up)
	ticker := time.NewTicker(d.interval)
	defer ticker.Stop()
	var events <-chan fsnotify.Event
	var errs <-chan error
	if w != nil {
		events, errs = w.Events, w.Errors
	}
	for {
		select {
		case <-ctx.Done():
			return
		case ev, ok := <-events:
			if !ok {
				events = nil
				continue
			}
			if ev.Op == fsnotify.Chmod {
				continue
			}
			d.refresh(ctx, up)
		case err, ok := <-errs:
			if !ok {
				errs = nil
				continue
			}
			d.logger.Error("File SD: watch error", "err", err)
		case <-ticker.C:
			d.refresh(ctx, up)
		}
	}
}

func (d *FileDiscoverer) listFiles() []string {
	var files []string
	for _, p := range d.paths {
		m, err := filepath.Glob(p)
		if err != nil {
			d.logger.Error("File SD: bad glob", "pattern", p, "err", err)
			continue
		}
		files = append(files, m...)
	}
	return files
}

func (d *FileDiscoverer) refresh(ctx context.Context, up chan<- []*config.TargetGroup) {
	now := map[string]int{}
	var all []*config.TargetGroup
	for _, f := range d.listFiles() {
		tgs, err := readTargetFile(f)
		if err != nil {
			d.logger.Error("File SD: cannot read file, keeping its previous targets", "file", f, "err", err)
			if n, ok := d.last[f]; ok {
				now[f] = n
			}
			continue
		}
		all = append(all, tgs...)
		now[f] = len(tgs)
		// Groups that the file no longer has.
		for i := len(tgs); i < d.last[f]; i++ {
			all = append(all, &config.TargetGroup{Source: fileSource(f, i)})
		}
	}
	for f, n := range d.last {
		if _, ok := now[f]; !ok {
			for i := range n {
				all = append(all, &config.TargetGroup{Source: fileSource(f, i)})
			}
		}
	}
	d.last = now
	send(ctx, up, all)
}

func fileSource(file string, i int) string { return fmt.Sprintf("%s:%d", file, i) }

// readTargetFile parses a file_sd file, JSON or YAML by extension.
func readTargetFile(name string) ([]*config.TargetGroup, error) {
	b, err := os.ReadFile(name)
	if err != nil {
		return nil, err
	}
	var tgs []*config.TargetGroup
	switch strings.ToLower(filepath.Ext(name)) {
	case ".json":
		err = json.Unmarshal(b, &tgs)
	case ".yml", ".yaml":
		err = yaml.UnmarshalStrict(b, &tgs)
	default:
		err = fmt.Errorf("unsupported file extension %q", filepath.Ext(name))
	}
	if err != nil {
		return nil, err
	}
	for i, tg := range tgs {
		if tg == nil {
			return nil, errors.New("nil target group item found")
		}
		tg.Source = fileSource(name, i)
		if tg.Labels == nil {
			tg.Labels = model.LabelSet{}
		}
		tg.Labels[fileSDFilepathLabel] = model.LabelValue(name)
	}
	return tgs, nil
}

const httpSDURLLabel = model.MetaLabelPrefix + "url"

var matchJSONContentType = regexp.MustCompile(`^(?i:application\/json(;\s*charset=("utf-8"|utf-8))?)$`)

// maxHTTPSDBody bounds an http_sd response; target lists are small and a runaway endpoint
// must not exhaust memory.
const maxHTTPSDBody = 64 << 20

// refreshMetrics are Prometheus's metrics of the discoverers that poll (http_sd_configs), by
// mechanism and config (the scrape job), shared by the process; the prometheus-mixin's
// PrometheusSDRefreshFailure watches the failures.
var refreshMetrics = struct {
	failures *prometheus.CounterVec
	duration *prometheus.SummaryVec
}{
	failures: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "prometheus_sd_refresh_failures_total",
		Help: "Number of refresh failures for the given SD mechanism.",
	}, []string{"mechanism", "config"}),
	duration: prometheus.NewSummaryVec(prometheus.SummaryOpts{
		Name:       "prometheus_sd_refresh_duration_seconds",
		Help:       "The duration of a refresh in seconds for the given SD mechanism.",
		Objectives: map[float64]float64{0.5: 0.05, 0.9: 0.01, 0.99: 0.001},
	}, []string{"mechanism", "config"}),
}

// RefreshCollectors returns the refresh metrics of polling discoverers, for registration (once
// per process).
func RefreshCollectors() []prometheus.Collector {
	return []prometheus.Collector{refreshMetrics.failures, refreshMetrics.duration}
}

// HTTPDiscoverer fetches target groups as JSON from a URL every refresh interval
// (http_sd_configs). A failed fetch keeps the previous targets.
type HTTPDiscoverer struct {
	// Job names the scrape config in the refresh metrics' config label.
	Job      string
	url      string
	interval time.Duration
	client   *http.Client
	logger   *slog.Logger
	lastLen  int
	lastErr  atomic.Pointer[error] // the last refresh's error; nil once one succeeds
}

// LastError is the last refresh's error, nil while refreshes succeed (ErrorReporter).
func (d *HTTPDiscoverer) LastError() error {
	if p := d.lastErr.Load(); p != nil {
		return *p
	}
	return nil
}

// NewHTTPDiscoverer returns a discoverer for one http_sd_configs entry.
func NewHTTPDiscoverer(cfg *config.HTTPSDConfig, logger *slog.Logger, opts ...commoncfg.HTTPClientOption) (*HTTPDiscoverer, error) {
	client, err := commoncfg.NewClientFromConfig(cfg.HTTPClientConfig, "http_sd", opts...)
	if err != nil {
		return nil, err
	}
	client.Timeout = time.Duration(cfg.RefreshInterval)
	return &HTTPDiscoverer{url: cfg.URL, interval: time.Duration(cfg.RefreshInterval), client: client, logger: logger}, nil
}

// Run implements Discoverer.
func (d *HTTPDiscoverer) Run(ctx context.Context, up chan<- []*config.TargetGroup) {
	ticker := time.NewTicker(d.interval)
	defer ticker.Stop()
	failures := refreshMetrics.failures.WithLabelValues("http", d.Job)
	duration := refreshMetrics.duration.WithLabelValues("http", d.Job)
	for {
		start := time.Now()
		tgs, err := d.Refresh(ctx)
		duration.Observe(time.Since(start).Seconds())
		if err != nil {
			if ctx.Err() == nil {
				failures.Inc()
				d.lastErr.Store(&err)
				d.logger.Error("HTTP SD: refresh failed, keeping previous targets", "url", d.url, "err", err)
			}
		} else {
			d.lastErr.Store(nil)
			send(ctx, up, tgs)
		}
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
	}
}

// Refresh fetches the groups once.
func (d *HTTPDiscoverer) Refresh(ctx context.Context) ([]*config.TargetGroup, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, d.url, http.NoBody)
	if err != nil {
		return nil, err
	}
	req.Header.Set("User-Agent", UserAgent)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("X-Prometheus-Refresh-Interval-Seconds", strconv.FormatFloat(d.interval.Seconds(), 'f', -1, 64))
	resp, err := d.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer func() {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
	}()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("server returned HTTP status %s", resp.Status)
	}
	if ct := resp.Header.Get("Content-Type"); !matchJSONContentType.MatchString(strings.TrimSpace(ct)) {
		return nil, fmt.Errorf("unsupported content type %q", ct)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxHTTPSDBody+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxHTTPSDBody {
		return nil, fmt.Errorf("response larger than %d bytes", maxHTTPSDBody)
	}
	var tgs []*config.TargetGroup
	if err := json.Unmarshal(b, &tgs); err != nil {
		return nil, err
	}
	for i, tg := range tgs {
		if tg == nil {
			return nil, errors.New("nil target group item found")
		}
		tg.Source = fmt.Sprintf("%s:%d", d.url, i)
		if tg.Labels == nil {
			tg.Labels = model.LabelSet{}
		}
		tg.Labels[httpSDURLLabel] = model.LabelValue(d.url)
	}
	n := len(tgs)
	for i := n; i < d.lastLen; i++ {
		tgs = append(tgs, &config.TargetGroup{Source: fmt.Sprintf("%s:%d", d.url, i)})
	}
	d.lastLen = n
	return tgs, nil
}
