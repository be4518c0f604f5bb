// Copyright The Prometheus Authors
// Licensed under the Apache License, Version 2.0 (the "License");
// you may not use this file except in compliance with the License.
// You may obtain a copy of the License at
//
// http://www.apache.org/licenses/LICENSE-2.0
//
// Unless required by applicable law or agreed to in writing, software
// distributed under the License is distributed on an "AS IS" BASIS,
// WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
// See the License for the specific language governing permissions and
// limitations under the License.
//
// Modified by Vigil: parts ported from github.com/prometheus/prometheus scrape/target.go (v0.315.0).

// Package scrape runs the discoverers of package discovery for each job, turns what they find into
// scrape targets with the upstream relabeling, and runs one scrape loop per target that parses the
// exposition with the upstream textparse and appends to the TSDB.
package scrape

import (
	"errors"
	"fmt"
	"hash/fnv"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/relabel"

	"github.com/vigil-monitoring/vigil/config"
)

// TargetHealth is the health of a target as the targets API reports it.
type TargetHealth string

// The values of TargetHealth.
const (
	HealthUnknown TargetHealth = "unknown"
	HealthGood    TargetHealth = "up"
	HealthBad     TargetHealth = "down"
)

// Target is one scrape target: its labels before and after relabeling, the URL it is scraped
// at, and the state of its last scrape. All methods are safe for concurrent use. A dropped
// target (removed by relabeling) only has discovered labels.
type Target struct {
	pool             string
	discoveredLabels labels.Labels
	// labels are the relabeled labels, including the internal ones (__address__, __scheme__,
	// __metrics_path__, __param_*, __scrape_interval__, __scrape_timeout__) that define the
	// scrape; Labels() leaves those out.
	labels   labels.Labels
	url      string
	interval time.Duration
	timeout  time.Duration
	hash     uint64
	// identity is what the target's series are identified by (URL and public labels); a target
	// whose internal labels change (e.g. a new scrape interval) keeps it, so its new loop can
	// take over the old one's series without stale markers.
	identity string

	mtx                sync.RWMutex
	health             TargetHealth
	lastError          error
	lastScrape         time.Time
	lastScrapeDuration time.Duration

	// meta is the metadata store of the loop scraping this target; nil until a loop runs.
	metaMtx sync.RWMutex
	meta    *metadataStore
}

func newTarget(pool string, lset, discovered labels.Labels, params url.Values) *Target {
	t := &Target{
		pool:             pool,
		labels:           lset,
		discoveredLabels: discovered,
		health:           HealthUnknown,
	}
	if lset.IsEmpty() {
		return t
	}
	t.url = targetURL(lset, params).String()
	// Both were validated by populateLabels.
	iv, _ := model.ParseDuration(lset.Get(model.ScrapeIntervalLabel))
	to, _ := model.ParseDuration(lset.Get(model.ScrapeTimeoutLabel))
	t.interval, t.timeout = time.Duration(iv), time.Duration(to)
	h := fnv.New64a()
	fmt.Fprintf(h, "%016d", lset.Hash())
	h.Write([]byte(t.url))
	t.hash = h.Sum64()
	t.identity = t.url + "\xff" + t.Labels().String()
	return t
}

func targetURL(lset labels.Labels, cfgParams url.Values) *url.URL {
	params := url.Values{}
	for k, v := range cfgParams {
		params[k] = append([]string(nil), v...)
	}
	lset.Range(func(l labels.Label) {
		if !strings.HasPrefix(l.Name, model.ParamLabelPrefix) {
			return
		}
		k := l.Name[len(model.ParamLabelPrefix):]
		if len(params[k]) > 0 {
			params[k][0] = l.Value
		} else {
			params[k] = []string{l.Value}
		}
	})
	return &url.URL{
		Scheme:   lset.Get(model.SchemeLabel),
		Host:     lset.Get(model.AddressLabel),
		Path:     lset.Get(model.MetricsPathLabel),
		RawQuery: params.Encode(),
	}
}

// ScrapePool is the job name of the scrape config the target belongs to.
func (t *Target) ScrapePool() string { return t.pool }

// Labels returns the target's public labels: the relabeled set without "__"-prefixed ones.
// These are attached to every sample scraped from the target.
func (t *Target) Labels() labels.Labels {
	b := labels.NewScratchBuilder(t.labels.Len())
	t.labels.Range(func(l labels.Label) {
		if !strings.HasPrefix(l.Name, model.ReservedLabelPrefix) {
			b.Add(l.Name, l.Value)
		}
	})
	return b.Labels()
}

// LabelsWithInternal returns the relabeled labels including the "__" ones.
func (t *Target) LabelsWithInternal() labels.Labels { return t.labels }

// DiscoveredLabels returns the labels the target had before relabeling.
func (t *Target) DiscoveredLabels() labels.Labels {
	t.mtx.RLock()
	defer t.mtx.RUnlock()
	return t.discoveredLabels
}

func (t *Target) setDiscoveredLabels(l labels.Labels) {
	t.mtx.Lock()
	t.discoveredLabels = l
	t.mtx.Unlock()
}

// URL returns the scrape URL ("" for dropped targets).
func (t *Target) URL() string { return t.url }

// Interval returns the scrape interval.
func (t *Target) Interval() time.Duration { return t.interval }

// Timeout returns the scrape timeout.
func (t *Target) Timeout() time.Duration { return t.timeout }

// Health returns the health after the last scrape.
func (t *Target) Health() TargetHealth {
	t.mtx.RLock()
	defer t.mtx.RUnlock()
	return t.health
}

// LastError returns the error of the last scrape, or nil. A scrape that succeeded but whose
// samples were partly rejected (duplicates, out of order, out of bounds) leaves health "up" and
// says so here.
func (t *Target) LastError() error {
	t.mtx.RLock()
	defer t.mtx.RUnlock()
	return t.lastError
}

// LastScrape returns the start time of the last scrape (zero before the first).
func (t *Target) LastScrape() time.Time {
	t.mtx.RLock()
	defer t.mtx.RUnlock()
	return t.lastScrape
}

// LastScrapeDuration returns how long the last scrape took.
func (t *Target) LastScrapeDuration() time.Duration {
	t.mtx.RLock()
	defer t.mtx.RUnlock()
	return t.lastScrapeDuration
}

func (t *Target) report(start time.Time, dur time.Duration, health TargetHealth, err error) {
	t.mtx.Lock()
	t.health, t.lastError, t.lastScrape, t.lastScrapeDuration = health, err, start, dur
	t.mtx.Unlock()
}

func (t *Target) setMetadataStore(m *metadataStore) {
	t.metaMtx.Lock()
	t.meta = m
	t.metaMtx.Unlock()
}

func (t *Target) metadataStore() *metadataStore {
	t.metaMtx.RLock()
	defer t.metaMtx.RUnlock()
	return t.meta
}

// ListMetadata returns the metadata (TYPE, HELP, UNIT) the target exposed, one entry per
// metric family, sorted by metric name.
func (t *Target) ListMetadata() []MetricMetadata {
	if m := t.metadataStore(); m != nil {
		return m.list()
	}
	return nil
}

// GetMetadata returns the metadata of one metric family.
func (t *Target) GetMetadata(metric string) (MetricMetadata, bool) {
	if m := t.metadataStore(); m != nil {
		return m.get(metric)
	}
	return MetricMetadata{}, false
}

// populateDiscoveredLabels sets the labels a target has before relabeling: its own, its group's
// and the defaults from the scrape config (job, scheme, path, interval, timeout, params).
func populateDiscoveredLabels(lb *labels.Builder, cfg *config.ScrapeConfig, tLabels, tgLabels model.LabelSet) {
	lb.Reset(labels.EmptyLabels())
	for ln, lv := range tLabels {
		lb.Set(string(ln), string(lv))
	}
	for ln, lv := range tgLabels {
		if _, ok := tLabels[ln]; !ok {
			lb.Set(string(ln), string(lv))
		}
	}
	for _, l := range []labels.Label{
		{Name: model.JobLabel, Value: cfg.JobName},
		{Name: model.ScrapeIntervalLabel, Value: cfg.ScrapeInterval.String()},
		{Name: model.ScrapeTimeoutLabel, Value: cfg.ScrapeTimeout.String()},
		{Name: model.MetricsPathLabel, Value: cfg.MetricsPath},
		{Name: model.SchemeLabel, Value: cfg.Scheme},
	} {
		if lb.Get(l.Name) == "" {
			lb.Set(l.Name, l.Value)
		}
	}
	for k, v := range cfg.Params {
		if name := model.ParamLabelPrefix + k; len(v) > 0 && lb.Get(name) == "" {
			lb.Set(name, v[0])
		}
	}
}

// populateLabels relabels a discovered target and checks the result, with Prometheus's rules and
// error texts. Empty labels and a nil error mean relabeling dropped the target.
func populateLabels(lb *labels.Builder, cfg *config.ScrapeConfig, tLabels, tgLabels model.LabelSet) (res, discovered labels.Labels, err error) {
	populateDiscoveredLabels(lb, cfg, tLabels, tgLabels)
	discovered = lb.Labels()
	if !relabel.ProcessBuilder(lb, cfg.RelabelConfigs...) {
		return labels.EmptyLabels(), discovered, nil
	}
	addr := lb.Get(model.AddressLabel)
	if addr == "" {
		return labels.EmptyLabels(), discovered, errors.New("no address")
	}
	if err := config.CheckTargetAddress(model.LabelValue(addr)); err != nil {
		return labels.EmptyLabels(), discovered, err
	}
	switch s := lb.Get(model.SchemeLabel); s {
	case "http", "https":
	default:
		return labels.EmptyLabels(), discovered, fmt.Errorf("invalid scheme %q", s)
	}
	interval := lb.Get(model.ScrapeIntervalLabel)
	iv, err := model.ParseDuration(interval)
	if err != nil {
		return labels.EmptyLabels(), discovered, fmt.Errorf("error parsing scrape interval: %w", err)
	}
	if iv == 0 {
		return labels.EmptyLabels(), discovered, errors.New("scrape interval cannot be 0")
	}
	timeout := lb.Get(model.ScrapeTimeoutLabel)
	to, err := model.ParseDuration(timeout)
	if err != nil {
		return labels.EmptyLabels(), discovered, fmt.Errorf("error parsing scrape timeout: %w", err)
	}
	if to == 0 {
		return labels.EmptyLabels(), discovered, errors.New("scrape timeout cannot be 0")
	}
	if to > iv {
		return labels.EmptyLabels(), discovered, fmt.Errorf("scrape timeout cannot be greater than scrape interval (%q > %q)", timeout, interval)
	}
	// Meta labels are deleted after relabeling; other internal labels stay on the target.
	lb.Range(func(l labels.Label) {
		if strings.HasPrefix(l.Name, model.MetaLabelPrefix) {
			lb.Del(l.Name)
		}
	})
	if lb.Get(model.InstanceLabel) == "" {
		lb.Set(model.InstanceLabel, addr)
	}
	res = lb.Labels()
	err = res.Validate(func(l labels.Label) error {
		if !model.LabelValue(l.Value).IsValid() {
			return fmt.Errorf("invalid label value for %q: %q", l.Name, l.Value)
		}
		return nil
	})
	if err != nil {
		return labels.EmptyLabels(), discovered, err
	}
	return res, discovered, nil
}

// targetsFromGroup builds the targets of one group; dropped ones come back with empty labels.
func targetsFromGroup(tg *config.TargetGroup, cfg *config.ScrapeConfig, lb *labels.Builder) ([]*Target, []error) {
	var (
		targets  []*Target
		failures []error
	)
	for i, tl := range tg.Targets {
		lset, discovered, err := populateLabels(lb, cfg, tl, tg.Labels)
		if err != nil {
			failures = append(failures, fmt.Errorf("instance %d in group %s: %w", i, tg, err))
			continue
		}
		targets = append(targets, newTarget(cfg.JobName, lset, discovered, cfg.Params))
	}
	return targets, failures
}

// offset returns the time until the target's first scrape: a fixed phase within the interval
// derived from the target's hash (and the server's seed), so that targets of one job spread over
// the interval instead of all firing at once, and a restarted server keeps the same phases.
func (t *Target) offset(interval time.Duration, seed uint64, now time.Time) time.Duration {
	n := now.UnixNano()
	base := int64(interval) - n%int64(interval)
	off := (t.hash ^ seed) % uint64(interval)
	next := base + int64(off)
	if next > int64(interval) {
		next -= int64(interval)
	}
	return time.Duration(next)
}

// String returns the scrape URL, for logs.
func (t *Target) String() string {
	if t.url == "" {
		return "dropped target " + t.discoveredLabels.String()
	}
	return t.url
}
