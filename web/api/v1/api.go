// Package v1 serves the Prometheus HTTP API (/api/v1) over Vigil's TSDB, query engine, scrape
// manager and ruler. Paths, parameters, JSON shapes, status codes and error types are those of
// Prometheus 3, so that promtool, Grafana, client_golang and the Prometheus UI work unchanged.
package v1

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/grafana/regexp"
	remoteapi "github.com/prometheus/client_golang/exp/api/remote"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/util/annotations"
	"github.com/prometheus/prometheus/util/httputil"

	"github.com/vigil-monitoring/vigil/promql"
	"github.com/vigil-monitoring/vigil/scrape"
	"github.com/vigil-monitoring/vigil/storage"
	"github.com/vigil-monitoring/vigil/tsdb"
)

// QueryEngine prepares PromQL queries (implemented by *promql.Engine).
type QueryEngine interface {
	NewInstantQueryWithOpts(ctx context.Context, q storage.Queryable, opts promql.QueryOpts, qs string, ts time.Time) (promql.Query, error)
	NewRangeQueryWithOpts(ctx context.Context, q storage.Queryable, opts promql.QueryOpts, qs string, start, end time.Time, step time.Duration) (promql.Query, error)
}

// TSDBAdmin is what the status and admin endpoints need of the storage (implemented by *tsdb.DB).
type TSDBAdmin interface {
	Delete(ctx context.Context, mint, maxt int64, ms ...*labels.Matcher) error
	CleanTombstones() error
	Snapshot(dir string, withHead bool) error
	Stats(limit int) tsdb.Stats
	Dir() string
	WALReplayStatus() tsdb.WALReplayStatus
	Blocks() []*tsdb.Block
}

// TargetRetriever gives the scrape targets (implemented by *scrape.Manager).
type TargetRetriever interface {
	TargetsActive() map[string][]*scrape.Target
	TargetsDropped() map[string][]*scrape.Target
	TargetsDroppedCounts() map[string]int
}

// BuildInfo is /api/v1/status/buildinfo.
type BuildInfo struct {
	Version   string `json:"version"`
	Revision  string `json:"revision"`
	Branch    string `json:"branch"`
	BuildUser string `json:"buildUser"`
	BuildDate string `json:"buildDate"`
	GoVersion string `json:"goVersion"`
}

// RuntimeInfo is /api/v1/status/runtimeinfo.
type RuntimeInfo struct {
	StartTime           time.Time `json:"startTime"`
	CWD                 string    `json:"CWD"`
	Hostname            string    `json:"hostname"`
	ServerTime          time.Time `json:"serverTime"`
	ReloadConfigSuccess bool      `json:"reloadConfigSuccess"`
	LastConfigTime      time.Time `json:"lastConfigTime"`
	CorruptionCount     int64     `json:"corruptionCount"`
	GoroutineCount      int       `json:"goroutineCount"`
	GOMAXPROCS          int       `json:"GOMAXPROCS"`
	GOMEMLIMIT          int64     `json:"GOMEMLIMIT"`
	GOGC                string    `json:"GOGC"`
	GODEBUG             string    `json:"GODEBUG"`
	StorageRetention    string    `json:"storageRetention"`
}

// GlobalURLOptions derive a target's globalUrl from its scrape URL, as Prometheus does with
// --web.external-url: localhost targets are rewritten to the externally reachable host.
type GlobalURLOptions struct {
	ListenAddress string
	Host          string
	Scheme        string
}

// Options configure the API. Queryable and Engine are required; every other dependency may be
// nil, in which case the endpoints that need it answer with an "unavailable" error.
type Options struct {
	Logger     *slog.Logger
	Queryable  storage.Queryable
	Engine     QueryEngine
	Appendable storage.Appendable // remote-write receiver
	DB         TSDBAdmin
	Targets    TargetRetriever
	Metadata   func(metric string, limitPerMetric int) map[string][]scrape.MetricMetadata
	Rules      RulesRetriever
	// Alertmanagers lists the Alertmanagers for /api/v1/alertmanagers; nil answers empty lists.
	Alertmanagers AlertmanagerRetriever
	// Config returns the YAML of the running configuration, secrets shown as <secret>.
	Config      func() string
	Flags       func() map[string]string
	BuildInfo   BuildInfo
	RuntimeInfo func() RuntimeInfo
	GlobalURL   GlobalURLOptions
	// CORSOrigin is --web.cors.origin, anchored; nil allows every origin (Prometheus's '.*').
	CORSOrigin *regexp.Regexp

	EnableAdmin       bool
	EnableRemoteWrite bool
	// RemoteWriteMessages are the remote-write protobuf messages accepted
	// (--web.remote-write-receiver.accepted-protobuf-messages); nil accepts 1.0 and 2.0.
	RemoteWriteMessages remoteapi.MessageTypes
	// RemoteWriteConcurrency bounds the remote-write requests decoded and appended at once
	// (as many more wait; past that 503); 0 is max(2, GOMAXPROCS).
	RemoteWriteConcurrency int
	// RemoteRead serves POST /api/v1/read (remote/read.Handler); nil answers 404.
	RemoteRead http.Handler
	// ExternalLabels and ExternalURL are $externalLabels and $externalURL in the templates of
	// rules tried with /api/v1/rules/replay (nil: none).
	ExternalLabels func() labels.Labels
	ExternalURL    *url.URL
	// QueryTimeout bounds a whole rule replay (its range query, template queries and
	// evaluations), as --query.timeout bounds a query; 0: only the request's own timeout.
	QueryTimeout time.Duration
	// RuleQueryOffset is the global rule_query_offset, the default query_offset of a replayed
	// rule (nil: 0).
	RuleQueryOffset func() time.Duration
	// Parser parses selectors and expressions for the metadata endpoints; nil uses the same
	// options as the query engine.
	Parser parser.Parser
	// Now is the clock for default query times; nil is time.Now.
	Now func() time.Time
}

// API is the http.Handler of /api/v1/.
type API struct {
	opts   Options
	logger *slog.Logger
	parser parser.Parser
	now    func() time.Time
	mux    *http.ServeMux
	// corsOrigin is opts.CORSOrigin or its default.
	corsOrigin    *regexp.Regexp
	writes        *writeLimiter
	writeMessages remoteapi.MessageTypes
}

// New returns the API handler. It serves paths starting with /api/v1/.
func New(opts Options) *API {
	a := &API{opts: opts, logger: opts.Logger, parser: opts.Parser, now: opts.Now, writes: newWriteLimiter(opts.RemoteWriteConcurrency)}
	if a.logger == nil {
		a.logger = slog.New(slog.DiscardHandler)
	}
	if a.parser == nil {
		a.parser = parser.NewParser(promql.DefaultParserOptions)
	}
	if a.now == nil {
		a.now = time.Now
	}
	a.writeMessages = opts.RemoteWriteMessages
	if a.writeMessages == nil {
		a.writeMessages = remoteapi.MessageTypes{remoteapi.WriteV1MessageType, remoteapi.WriteV2MessageType}
	}
	a.corsOrigin = opts.CORSOrigin
	if a.corsOrigin == nil {
		a.corsOrigin = regexp.MustCompile("^(?:.*)$")
	}
	a.mux = http.NewServeMux()
	get := func(path string, f apiFunc) { a.mux.Handle("GET /api/v1"+path, a.wrap(f)) }
	getPost := func(path string, f apiFunc) {
		get(path, f)
		a.mux.Handle("POST /api/v1"+path, a.wrap(f))
	}
	postPut := func(path string, f apiFunc) {
		a.mux.Handle("POST /api/v1"+path, a.wrap(f))
		a.mux.Handle("PUT /api/v1"+path, a.wrap(f))
	}
	getPost("/query", a.query)
	getPost("/query_range", a.queryRange)
	getPost("/query_exemplars", a.queryExemplars)
	getPost("/format_query", a.formatQuery)
	getPost("/parse_query", a.parseQuery)
	getPost("/labels", a.labelNames)
	get("/label/{name}/values", a.labelValues)
	getPost("/series", a.series)
	get("/scrape_pools", a.scrapePools)
	get("/targets", a.targets)
	get("/targets/metadata", a.targetMetadata)
	get("/metadata", a.metricMetadata)
	get("/alerts", a.alerts)
	get("/rules", a.rules)
	getPost("/rules/replay", a.replayRule)
	get("/status/config", a.serveConfig)
	get("/status/runtimeinfo", a.serveRuntimeInfo)
	get("/status/buildinfo", a.serveBuildInfo)
	get("/status/flags", a.serveFlags)
	get("/status/tsdb", a.serveTSDBStatus)
	get("/status/tsdb/blocks", a.serveTSDBBlocks)
	get("/status/walreplay", a.serveWALReplayStatus)
	get("/alertmanagers", a.alertmanagers)
	postPut("/admin/tsdb/delete_series", a.deleteSeries)
	postPut("/admin/tsdb/clean_tombstones", a.cleanTombstones)
	postPut("/admin/tsdb/snapshot", a.snapshot)
	a.mux.HandleFunc("POST /api/v1/write", a.remoteWrite)
	if opts.RemoteRead != nil {
		a.mux.Handle("POST /api/v1/read", opts.RemoteRead)
	}
	a.mux.Handle("OPTIONS /api/v1/", a.wrap(func(*http.Request) apiResult { return apiResult{} }))
	a.mux.HandleFunc(notFoundPattern, a.notFound)
	return a
}

// notFoundPattern catches the requests no endpoint takes.
const notFoundPattern = "/api/v1/"

// notFound answers a request no endpoint takes as Prometheus's router (httprouter) does: 405
// Method Not Allowed, with Allow, if the path is served with other methods, else 404 with
// Go's plain "404 page not found".
func (a *API) notFound(w http.ResponseWriter, r *http.Request) {
	var allow []string
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut} {
		if m == r.Method {
			continue
		}
		other := *r
		other.Method = m
		if _, pattern := a.mux.Handler(&other); pattern != notFoundPattern && pattern != "" && !strings.HasPrefix(pattern, http.MethodOptions+" ") {
			allow = append(allow, m)
		}
	}
	if len(allow) == 0 {
		http.NotFound(w, r)
		return
	}
	allow = append(allow, http.MethodOptions)
	slices.Sort(allow)
	w.Header().Set("Allow", strings.Join(allow, ", "))
	http.Error(w, http.StatusText(http.StatusMethodNotAllowed), http.StatusMethodNotAllowed)
}

// ServeHTTP implements http.Handler.
func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	a.mux.ServeHTTP(w, r)
}

type errorType string

// The error types of Prometheus's API, with the status codes Prometheus answers them with.
const (
	errorTimeout     errorType = "timeout"
	errorCanceled    errorType = "canceled"
	errorExec        errorType = "execution"
	errorBadData     errorType = "bad_data"
	errorInternal    errorType = "internal"
	errorUnavailable errorType = "unavailable"
	errorNotFound    errorType = "not_found"
)

// statusClientClosedConnection is nginx's non-standard code, which Prometheus uses for a query
// canceled by the client.
const statusClientClosedConnection = 499

func (t errorType) code() int {
	switch t {
	case errorBadData:
		return http.StatusBadRequest
	case errorExec:
		return http.StatusUnprocessableEntity
	case errorCanceled:
		return statusClientClosedConnection
	case errorTimeout:
		return http.StatusServiceUnavailable
	case errorNotFound:
		return http.StatusNotFound
	default:
		// Prometheus has no case for "unavailable" (e.g. "admin APIs disabled") and answers it
		// with 500 like "internal"; clients rely on the errorType, so we keep the same code.
		return http.StatusInternalServerError
	}
}

type apiError struct {
	typ errorType
	err error
}

func (e *apiError) Error() string { return fmt.Sprintf("%s: %s", e.typ, e.err) }

// apiResult is what an endpoint returns: data to encode (nil for 204 No Content) or an error,
// plus annotations rendered as warnings/infos.
type apiResult struct {
	data     any
	err      *apiError
	warnings annotations.Annotations
	// query is the PromQL text used to give annotations their positions.
	query string
	// finalizer runs after the response is written (e.g. closes a querier whose strings the
	// data still references).
	finalizer func()
}

type apiFunc func(r *http.Request) apiResult

func errResult(typ errorType, err error) apiResult {
	return apiResult{err: &apiError{typ, err}}
}

func invalidParamError(err error, parameter string) apiResult {
	return errResult(errorBadData, fmt.Errorf("invalid parameter %q: %w", parameter, err))
}

func (a *API) wrap(f apiFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		httputil.SetCORS(w, a.corsOrigin, r) // Prometheus's own, for --web.cors.origin
		res := f(r)
		if res.finalizer != nil {
			defer res.finalizer()
		}
		if res.err != nil {
			a.respondError(w, res.err, res.data)
			return
		}
		if res.data == nil {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		a.respond(w, r, res)
	})
}

func (a *API) respond(w http.ResponseWriter, r *http.Request, res apiResult) {
	warns, infos := res.warnings.AsStrings(res.query, 10, 10)
	w.Header().Set("Content-Type", "application/json")
	out, finish := compressWriter(w, r)
	w.WriteHeader(http.StatusOK)
	enc := newEncoder(out)
	enc.buf = append(enc.buf, `{"status":"success","data":`...)
	if err := enc.value(res.data); err != nil {
		// Only a bug in a data type can get here; the header is already sent.
		a.logger.Error("encoding API response", "url", r.URL.String(), "err", err)
	}
	enc.stringList(`,"warnings":`, warns)
	enc.stringList(`,"infos":`, infos)
	enc.buf = append(enc.buf, '}')
	if err := enc.flush(); err != nil {
		a.logger.Debug("writing API response", "url", r.URL.String(), "err", err)
	}
	if err := finish(); err != nil {
		a.logger.Debug("finishing API response", "url", r.URL.String(), "err", err)
	}
}

func (a *API) respondError(w http.ResponseWriter, apiErr *apiError, data any) {
	enc := newEncoder(w)
	enc.buf = append(enc.buf, `{"status":"error"`...)
	if data != nil {
		enc.buf = append(enc.buf, `,"data":`...)
		if err := enc.value(data); err != nil {
			a.logger.Error("encoding API error data", "err", err)
		}
	}
	enc.buf = append(enc.buf, `,"errorType":`...)
	enc.buf = appendString(enc.buf, string(apiErr.typ))
	enc.buf = append(enc.buf, `,"error":`...)
	enc.buf = appendString(enc.buf, apiErr.err.Error())
	enc.buf = append(enc.buf, '}')
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(apiErr.typ.code())
	if err := enc.flush(); err != nil {
		a.logger.Debug("writing API error", "err", err)
	}
}

// returnAPIError maps query and storage errors to API error types as Prometheus does.
func returnAPIError(err error) *apiError {
	var (
		eqc promql.ErrQueryCanceled
		eqt promql.ErrQueryTimeout
		es  promql.ErrStorage
	)
	switch {
	case errors.As(err, &eqc):
		return &apiError{errorCanceled, err}
	case errors.As(err, &eqt):
		return &apiError{errorTimeout, err}
	case errors.As(err, &es):
		return &apiError{errorInternal, err}
	case errors.Is(err, context.Canceled):
		return &apiError{errorCanceled, err}
	case errors.Is(err, context.DeadlineExceeded):
		return &apiError{errorTimeout, err}
	}
	return &apiError{errorExec, err}
}

// MinTime and MaxTime are the defaults of optional time ranges, the same instants Prometheus
// uses (clients such as promtool send them formatted as RFC 3339).
var (
	MinTime = time.Unix(math.MinInt64/1000+62135596801, 0).UTC()
	MaxTime = time.Unix(math.MaxInt64/1000-62135596801, 999999999).UTC()

	minTimeFormatted = MinTime.Format(time.RFC3339Nano)
	maxTimeFormatted = MaxTime.Format(time.RFC3339Nano)
)

func parseTimeParam(r *http.Request, name string, def time.Time) (time.Time, error) {
	val := r.FormValue(name)
	if val == "" {
		return def, nil
	}
	t, err := parseTime(val)
	if err != nil {
		return time.Time{}, fmt.Errorf("invalid time value for '%s': %w", name, err)
	}
	return t, nil
}

// parseTime accepts float Unix seconds (millisecond precision) or RFC 3339.
func parseTime(s string) (time.Time, error) {
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		if math.IsNaN(f) || math.IsInf(f, 0) || f > float64(math.MaxInt64)/1e9 || f < float64(math.MinInt64)/1e9 {
			// Outside what a millisecond timestamp can hold; Prometheus would wrap around.
			return time.Time{}, fmt.Errorf("cannot parse %q to a valid timestamp", s)
		}
		sec, frac := math.Modf(f)
		frac = math.Round(frac*1000) / 1000
		return time.Unix(int64(sec), int64(frac*float64(time.Second))).UTC(), nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	switch s {
	case minTimeFormatted:
		return MinTime, nil
	case maxTimeFormatted:
		return MaxTime, nil
	}
	return time.Time{}, fmt.Errorf("cannot parse %q to a valid timestamp", s)
}

// parseDuration accepts float seconds or a Prometheus duration ("1m30s").
func parseDuration(s string) (time.Duration, error) {
	if d, err := strconv.ParseFloat(s, 64); err == nil {
		ts := d * float64(time.Second)
		if ts > float64(math.MaxInt64) || ts < float64(math.MinInt64) || math.IsNaN(ts) {
			return 0, fmt.Errorf("cannot parse %q to a valid duration. It overflows int64", s)
		}
		return time.Duration(ts), nil
	}
	if d, err := model.ParseDuration(s); err == nil {
		return time.Duration(d), nil
	}
	return 0, fmt.Errorf("cannot parse %q to a valid duration", s)
}

// parseLimitParam returns 0 for "no limit".
func parseLimitParam(s string) (int, error) {
	if s == "" {
		return 0, nil
	}
	limit, err := strconv.Atoi(s)
	if err != nil {
		return 0, err
	}
	if limit < 0 {
		return 0, errors.New("limit must be non-negative")
	}
	return limit, nil
}

// parseMatchersParam parses match[] selectors; as Prometheus, each must have a matcher that
// does not match the empty string, so that a selector cannot select every series.
func (a *API) parseMatchersParam(ss []string) ([][]*labels.Matcher, error) {
	sets, err := a.parser.ParseMetricSelectors(ss)
	if err != nil {
		return nil, err
	}
outer:
	for _, ms := range sets {
		for _, m := range ms {
			if m != nil && !m.Matches("") {
				continue outer
			}
		}
		return nil, errors.New("match[] must contain at least one non-empty matcher")
	}
	return sets, nil
}

func millis(t time.Time) int64 {
	return t.Unix()*1000 + int64(t.Nanosecond())/int64(time.Millisecond)
}
