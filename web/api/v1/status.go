package v1

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"

	"github.com/vigil-monitoring/vigil/scrape"
)

var (
	errAdminDisabled = errors.New("admin APIs disabled")
	errNoTargets     = errors.New("scrape targets are not available")
	errNoDB          = errors.New("TSDB is not available")
)

// Target is one active target of /api/v1/targets.
type Target struct {
	DiscoveredLabels   labels.Labels       `json:"discoveredLabels"`
	Labels             labels.Labels       `json:"labels"`
	ScrapePool         string              `json:"scrapePool"`
	ScrapeURL          string              `json:"scrapeUrl"`
	GlobalURL          string              `json:"globalUrl"`
	LastError          string              `json:"lastError"`
	LastScrape         time.Time           `json:"lastScrape"`
	LastScrapeDuration float64             `json:"lastScrapeDuration"`
	Health             scrape.TargetHealth `json:"health"`
	ScrapeInterval     string              `json:"scrapeInterval"`
	ScrapeTimeout      string              `json:"scrapeTimeout"`
}

// DroppedTarget is a target removed by relabeling.
type DroppedTarget struct {
	DiscoveredLabels labels.Labels `json:"discoveredLabels"`
	ScrapePool       string        `json:"scrapePool"`
}

// TargetDiscovery is the data of /api/v1/targets.
type TargetDiscovery struct {
	ActiveTargets       []*Target        `json:"activeTargets"`
	DroppedTargets      []*DroppedTarget `json:"droppedTargets"`
	DroppedTargetCounts map[string]int   `json:"droppedTargetCounts"`
	// DiscoveryErrors is Vigil's addition (Prometheus only logs them): the service discovery
	// configs that do not work, so that a job without targets says why. Absent when all work.
	DiscoveryErrors []*DiscoveryError `json:"discoveryErrors,omitempty"`
}

// DiscoveryError is one discovery config of a scrape pool that does not work: it could not be
// created (no in-cluster credentials for kubernetes_sd_configs, say), or the API it reads
// cannot be reached or refuses the requests.
type DiscoveryError struct {
	ScrapePool string `json:"scrapePool"`
	// Mechanism is the discovery config's kind: "kubernetes" (kubernetes_sd_configs), "http",
	// "file".
	Mechanism string `json:"mechanism"`
	// Index is the config's position among the scrape pool's discovery configs.
	Index int    `json:"index"`
	Error string `json:"error"`
}

// DiscoveryErrorRetriever is implemented by target retrievers that know which discovery
// configs fail (*scrape.Manager).
type DiscoveryErrorRetriever interface {
	DiscoveryErrors() []scrape.DiscoveryError
}

func sortedPools(m map[string][]*scrape.Target) ([]string, int) {
	pools := make([]string, 0, len(m))
	n := 0
	for p, ts := range m {
		pools = append(pools, p)
		n += len(ts)
	}
	slices.Sort(pools)
	return pools, n
}

func (a *API) scrapePools(*http.Request) apiResult {
	if a.opts.Targets == nil {
		return errResult(errorUnavailable, errNoTargets)
	}
	pools, _ := sortedPools(a.opts.Targets.TargetsActive())
	return apiResult{data: struct {
		ScrapePools []string `json:"scrapePools"`
	}{pools}}
}

func (a *API) targets(r *http.Request) apiResult {
	if a.opts.Targets == nil {
		return errResult(errorUnavailable, errNoTargets)
	}
	q := r.URL.Query()
	pool := q.Get("scrapePool")
	state := strings.ToLower(q.Get("state"))
	showActive := state == "" || state == "any" || state == "active"
	showDropped := state == "" || state == "any" || state == "dropped"
	res := &TargetDiscovery{ActiveTargets: []*Target{}, DroppedTargets: []*DroppedTarget{}}
	if showActive {
		active := a.opts.Targets.TargetsActive()
		pools, n := sortedPools(active)
		res.ActiveTargets = make([]*Target, 0, n)
		for _, p := range pools {
			if pool != "" && p != pool {
				continue
			}
			for _, t := range active[p] {
				lastErr := ""
				if err := t.LastError(); err != nil {
					lastErr = err.Error()
				}
				globalURL, err := a.globalURL(t.URL())
				if err != nil {
					// Prometheus reports a URL it cannot rewrite in lastError and keeps the
					// scrape URL.
					if lastErr != "" {
						lastErr += ": "
					}
					lastErr += err.Error()
				}
				res.ActiveTargets = append(res.ActiveTargets, &Target{
					DiscoveredLabels:   t.DiscoveredLabels(),
					Labels:             t.Labels(),
					ScrapePool:         p,
					ScrapeURL:          t.URL(),
					GlobalURL:          globalURL,
					LastError:          lastErr,
					LastScrape:         t.LastScrape(),
					LastScrapeDuration: t.LastScrapeDuration().Seconds(),
					Health:             t.Health(),
					ScrapeInterval:     model.Duration(t.Interval()).String(),
					ScrapeTimeout:      model.Duration(t.Timeout()).String(),
				})
			}
		}
	}
	if r, ok := a.opts.Targets.(DiscoveryErrorRetriever); ok {
		for _, e := range r.DiscoveryErrors() {
			if pool != "" && e.ScrapePool != pool {
				continue
			}
			res.DiscoveryErrors = append(res.DiscoveryErrors, &DiscoveryError{ScrapePool: e.ScrapePool, Mechanism: e.Mechanism, Index: e.Index, Error: e.Err.Error()})
		}
	}
	if showDropped {
		res.DroppedTargetCounts = a.opts.Targets.TargetsDroppedCounts()
		dropped := a.opts.Targets.TargetsDropped()
		pools, n := sortedPools(dropped)
		res.DroppedTargets = make([]*DroppedTarget, 0, n)
		for _, p := range pools {
			if pool != "" && p != pool {
				continue
			}
			for _, t := range dropped[p] {
				res.DroppedTargets = append(res.DroppedTargets, &DroppedTarget{DiscoveredLabels: t.DiscoveredLabels(), ScrapePool: p})
			}
		}
	}
	return apiResult{data: res}
}

// localhostNames are the hosts Prometheus treats as "this machine" when deriving a globalUrl.
var localhostNames = []string{"127.0.0.1", "localhost", "::1"}

// globalURL rewrites a scrape URL on localhost to the externally reachable host, as Prometheus
// does: a target on our own port becomes the external URL, other local ports keep their port.
func (a *API) globalURL(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return raw, fmt.Errorf("parsing scrape URL: %w", err)
	}
	opts := a.opts.GlobalURL
	if opts.Host == "" {
		return u.String(), nil
	}
	host, port := splitHostPort(u.Host)
	if !slices.Contains(localhostNames, host) {
		return u.String(), nil
	}
	_, ownPort, err := net.SplitHostPort(opts.ListenAddress)
	if err != nil {
		return u.String(), fmt.Errorf("parsing listen address: %w", err)
	}
	if port == ownPort {
		u.Scheme = opts.Scheme
		u.Host = opts.Host
		return u.String(), nil
	}
	extHost, _ := splitHostPort(opts.Host)
	u.Host = extHost
	if port != "" {
		u.Host = net.JoinHostPort(extHost, port)
	}
	return u.String(), nil
}

func splitHostPort(s string) (host, port string) {
	h, p, err := net.SplitHostPort(s)
	if err != nil {
		return strings.Trim(s, "[]"), ""
	}
	return h, p
}

type metricMetadata struct {
	Target       labels.Labels    `json:"target"`
	MetricFamily string           `json:"metric,omitempty"`
	Type         model.MetricType `json:"type"`
	Help         string           `json:"help"`
	Unit         string           `json:"unit"`
}

func (a *API) targetMetadata(r *http.Request) apiResult {
	if a.opts.Targets == nil {
		return errResult(errorUnavailable, errNoTargets)
	}
	limit := -1
	if s := r.FormValue("limit"); s != "" {
		var err error
		if limit, err = strconv.Atoi(s); err != nil {
			return errResult(errorBadData, errors.New("limit must be a number"))
		}
	}
	var matchers []*labels.Matcher
	if mt := r.FormValue("match_target"); mt != "" {
		var err error
		if matchers, err = a.parser.ParseMetricSelector(mt); err != nil {
			return invalidParamError(err, "match_target")
		}
	}
	metric := r.FormValue("metric")
	res := []metricMetadata{}
	active := a.opts.Targets.TargetsActive()
	pools, _ := sortedPools(active)
	for _, p := range pools {
		for _, t := range active[p] {
			if limit >= 0 && len(res) >= limit {
				return apiResult{data: res}
			}
			tl := t.Labels()
			if !matchAll(tl, matchers) {
				continue
			}
			if metric == "" {
				for _, md := range t.ListMetadata() {
					res = append(res, metricMetadata{Target: tl, MetricFamily: md.MetricFamily, Type: md.Type, Help: md.Help, Unit: md.Unit})
				}
				continue
			}
			if md, ok := t.GetMetadata(metric); ok {
				res = append(res, metricMetadata{Target: tl, Type: md.Type, Help: md.Help, Unit: md.Unit})
			}
		}
	}
	return apiResult{data: res}
}

func matchAll(ls labels.Labels, ms []*labels.Matcher) bool {
	for _, m := range ms {
		if !m.Matches(ls.Get(m.Name)) {
			return false
		}
	}
	return true
}

// metadataEntry is one entry of /api/v1/metadata.
type metadataEntry struct {
	Type model.MetricType `json:"type"`
	Help string           `json:"help"`
	Unit string           `json:"unit"`
}

func (a *API) metricMetadata(r *http.Request) apiResult {
	if a.opts.Metadata == nil {
		return errResult(errorUnavailable, errNoTargets)
	}
	limit := -1
	if s := r.FormValue("limit"); s != "" {
		var err error
		if limit, err = strconv.Atoi(s); err != nil {
			return errResult(errorBadData, errors.New("limit must be a number"))
		}
	}
	limitPerMetric := -1
	if s := r.FormValue("limit_per_metric"); s != "" {
		var err error
		if limitPerMetric, err = strconv.Atoi(s); err != nil {
			return errResult(errorBadData, errors.New("limit_per_metric must be a number"))
		}
	}
	perMetric := 0
	if limitPerMetric > 0 {
		perMetric = limitPerMetric
	}
	md := a.opts.Metadata(r.FormValue("metric"), perMetric)
	names := make([]string, 0, len(md))
	for name := range md {
		names = append(names, name)
	}
	// Sorted so that "limit" keeps the same metrics from one call to the next.
	slices.Sort(names)
	res := map[string][]metadataEntry{}
	for _, name := range names {
		if limit >= 0 && len(res) >= limit {
			break
		}
		entries := make([]metadataEntry, 0, len(md[name]))
		for _, m := range md[name] {
			e := metadataEntry{Type: m.Type, Help: m.Help, Unit: m.Unit}
			if !slices.Contains(entries, e) {
				entries = append(entries, e)
			}
		}
		res[name] = entries
	}
	return apiResult{data: res}
}

func (a *API) serveConfig(*http.Request) apiResult {
	if a.opts.Config == nil {
		return errResult(errorUnavailable, errors.New("configuration is not available"))
	}
	return apiResult{data: struct {
		YAML string `json:"yaml"`
	}{a.opts.Config()}}
}

func (a *API) serveFlags(*http.Request) apiResult {
	flags := map[string]string{}
	if a.opts.Flags != nil {
		flags = a.opts.Flags()
	}
	return apiResult{data: flags}
}

func (a *API) serveBuildInfo(*http.Request) apiResult {
	return apiResult{data: a.opts.BuildInfo}
}

func (a *API) serveRuntimeInfo(*http.Request) apiResult {
	if a.opts.RuntimeInfo == nil {
		return errResult(errorUnavailable, errors.New("runtime information is not available"))
	}
	return apiResult{data: a.opts.RuntimeInfo()}
}

func (a *API) serveTSDBStatus(r *http.Request) apiResult {
	if a.opts.DB == nil {
		return errResult(errorUnavailable, errNoDB)
	}
	const maxLimit = 10000
	limit := 10
	if s := r.FormValue("limit"); s != "" {
		var err error
		if limit, err = strconv.Atoi(s); err != nil || limit < 1 {
			return errResult(errorBadData, errors.New("limit must be a positive number"))
		}
		if limit > maxLimit {
			return errResult(errorBadData, fmt.Errorf("limit must not exceed %d", maxLimit))
		}
	}
	return apiResult{data: a.opts.DB.Stats(limit)}
}

func (a *API) deleteSeries(r *http.Request) apiResult {
	if !a.opts.EnableAdmin {
		return errResult(errorUnavailable, errAdminDisabled)
	}
	if a.opts.DB == nil {
		return errResult(errorUnavailable, errNoDB)
	}
	if err := r.ParseForm(); err != nil {
		return errResult(errorBadData, fmt.Errorf("error parsing form values: %w", err))
	}
	if len(r.Form["match[]"]) == 0 {
		return errResult(errorBadData, errors.New("no match[] parameter provided"))
	}
	start, err := parseTimeParam(r, "start", MinTime)
	if err != nil {
		return invalidParamError(err, "start")
	}
	end, err := parseTimeParam(r, "end", MaxTime)
	if err != nil {
		return invalidParamError(err, "end")
	}
	// Parse every selector before deleting anything, so a typo in the last one does not leave
	// a half-done deletion.
	sets := make([][]*labels.Matcher, 0, len(r.Form["match[]"]))
	for _, s := range r.Form["match[]"] {
		ms, err := a.parser.ParseMetricSelector(s)
		if err != nil {
			return invalidParamError(err, "match[]")
		}
		sets = append(sets, ms)
	}
	for _, ms := range sets {
		if err := a.opts.DB.Delete(r.Context(), millis(start), millis(end), ms...); err != nil {
			return errResult(errorInternal, fmt.Errorf("deleting series: %w", err))
		}
	}
	return apiResult{}
}

func (a *API) cleanTombstones(*http.Request) apiResult {
	if !a.opts.EnableAdmin {
		return errResult(errorUnavailable, errAdminDisabled)
	}
	if a.opts.DB == nil {
		return errResult(errorUnavailable, errNoDB)
	}
	if err := a.opts.DB.CleanTombstones(); err != nil {
		return errResult(errorInternal, fmt.Errorf("cleaning tombstones: %w", err))
	}
	return apiResult{}
}

func (a *API) snapshot(r *http.Request) apiResult {
	if !a.opts.EnableAdmin {
		return errResult(errorUnavailable, errAdminDisabled)
	}
	if a.opts.DB == nil {
		return errResult(errorUnavailable, errNoDB)
	}
	skipHead := false
	if s := r.FormValue("skip_head"); s != "" {
		var err error
		if skipHead, err = strconv.ParseBool(s); err != nil {
			return invalidParamError(fmt.Errorf("unable to parse boolean: %w", err), "skip_head")
		}
	}
	var rnd [8]byte
	_, _ = rand.Read(rnd[:])
	name := time.Now().UTC().Format("20060102T150405Z0700") + "-" + hex.EncodeToString(rnd[:])
	dir := filepath.Join(a.opts.DB.Dir(), "snapshots", name)
	if err := os.MkdirAll(dir, 0o777); err != nil {
		return errResult(errorInternal, fmt.Errorf("create snapshot directory: %w", err))
	}
	if err := a.opts.DB.Snapshot(dir, !skipHead); err != nil {
		return errResult(errorInternal, fmt.Errorf("create snapshot: %w", err))
	}
	return apiResult{data: struct {
		Name string `json:"name"`
	}{name}}
}
