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
// Modified by Vigil: parts ported from github.com/prometheus/prometheus cmd/promtool/unittest.go (v0.315.0).

package ruler

// Rule unit tests in promtool's test-file format (`promtool test rules`), run against Vigil's
// engine and an in-memory-sized TSDB in a temporary directory. The control flow follows
// promtool's cmd/promtool/unittest.go (Apache 2.0) so that a test file gives the same verdict.

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
	"go.yaml.in/yaml/v2"

	"github.com/vigil-monitoring/vigil/promql"
	"github.com/vigil-monitoring/vigil/storage"
	"github.com/vigil-monitoring/vigil/tsdb"
)

// Exit codes of the check and test commands, promtool's.
const (
	SuccessExitCode = 0
	FailureExitCode = 1
	LintExitCode    = 3
)

// UnitTestOptions configure RulesUnitTest.
type UnitTestOptions struct {
	// Run selects test groups by name (regular expressions, any match); empty runs all.
	Run []string
	// Parser parses expressions; nil uses promql.DefaultParserOptions.
	Parser parser.Parser
	// TempDir is where the per-test TSDB goes; empty uses os.TempDir().
	TempDir string
}

// RulesUnitTest runs the test files and writes promtool's report to stdout and stderr. It
// returns SuccessExitCode when every test passes, FailureExitCode otherwise.
func RulesUnitTest(stdout, stderr io.Writer, o UnitTestOptions, files ...string) int {
	if o.Parser == nil {
		o.Parser = parser.NewParser(promql.DefaultParserOptions)
	}
	var run *regexp.Regexp
	if len(o.Run) > 0 {
		var err error
		if run, err = regexp.Compile(strings.Join(o.Run, "|")); err != nil {
			fmt.Fprintln(stderr, "  FAILED:", err)
			return FailureExitCode
		}
	}
	failed := false
	for _, f := range files {
		fmt.Fprintln(stdout, "Unit Testing: ", f)
		if errs := ruleUnitTest(stderr, f, o, run); errs != nil {
			fmt.Fprintln(stderr, "  FAILED:")
			for _, e := range errs {
				fmt.Fprintln(stderr, e.Error())
				fmt.Fprintln(stdout)
			}
			failed = true
		} else {
			fmt.Fprintln(stdout, "  SUCCESS")
		}
		fmt.Fprintln(stdout)
	}
	if failed {
		return FailureExitCode
	}
	return SuccessExitCode
}

type unitTestFile struct {
	RuleFiles          []string       `yaml:"rule_files"`
	EvaluationInterval model.Duration `yaml:"evaluation_interval,omitempty"`
	GroupEvalOrder     []string       `yaml:"group_eval_order"`
	Tests              []testGroup    `yaml:"tests"`
	FuzzyCompare       bool           `yaml:"fuzzy_compare,omitempty"`
}

type testStartTimestamp struct{ time.Time }

func (t *testStartTimestamp) UnmarshalYAML(unmarshal func(any) error) error {
	var s string
	if err := unmarshal(&s); err != nil {
		return err
	}
	parsed, err := parseTime(s)
	if err != nil {
		return err
	}
	t.Time = parsed
	return nil
}

// parseTime accepts a Unix timestamp (with fractions) or RFC 3339, as promtool.
func parseTime(s string) (time.Time, error) {
	if t, err := strconv.ParseFloat(s, 64); err == nil {
		sec, ns := math.Modf(t)
		return time.Unix(int64(sec), int64(ns*float64(time.Second))).UTC(), nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("cannot parse %q to a valid timestamp", s)
}

type testGroup struct {
	Interval        model.Duration     `yaml:"interval"`
	InputSeries     []inputSeries      `yaml:"input_series"`
	AlertRuleTests  []alertTestCase    `yaml:"alert_rule_test,omitempty"`
	PromqlExprTests []promqlTestCase   `yaml:"promql_expr_test,omitempty"`
	ExternalLabels  labels.Labels      `yaml:"external_labels,omitempty"`
	ExternalURL     string             `yaml:"external_url,omitempty"`
	TestGroupName   string             `yaml:"name,omitempty"`
	StartTimestamp  testStartTimestamp `yaml:"start_timestamp,omitempty"`
}

type inputSeries struct {
	Series string `yaml:"series"`
	Values string `yaml:"values"`
}

type alertTestCase struct {
	EvalTime  model.Duration `yaml:"eval_time"`
	Alertname string         `yaml:"alertname"`
	ExpAlerts []expAlert     `yaml:"exp_alerts"`
}

type expAlert struct {
	ExpLabels      map[string]string `yaml:"exp_labels"`
	ExpAnnotations map[string]string `yaml:"exp_annotations"`
}

type promqlTestCase struct {
	Expr       string         `yaml:"expr"`
	EvalTime   model.Duration `yaml:"eval_time"`
	ExpSamples []expSample    `yaml:"exp_samples"`
}

type expSample struct {
	Labels    string  `yaml:"labels"`
	Value     float64 `yaml:"value"`
	Histogram string  `yaml:"histogram"` // a non-empty string means Value is ignored
}

func ruleUnitTest(stderr io.Writer, filename string, o UnitTestOptions, run *regexp.Regexp) []error {
	b, err := os.ReadFile(filename)
	if err != nil {
		return []error{err}
	}
	var utf unitTestFile
	if err := yaml.UnmarshalStrict(b, &utf); err != nil {
		return []error{err}
	}
	// Rule files are relative to the test file and may be globs.
	var ruleFiles []string
	for _, rf := range utf.RuleFiles {
		if rf != "" && !filepath.IsAbs(rf) {
			rf = filepath.Join(filepath.Dir(filename), rf)
		}
		m, err := filepath.Glob(rf)
		if err != nil {
			return []error{err}
		}
		if len(m) == 0 {
			fmt.Fprintln(stderr, "  WARNING: no file match pattern", rf)
		}
		ruleFiles = append(ruleFiles, m...)
	}
	if utf.EvaluationInterval == 0 {
		utf.EvaluationInterval = model.Duration(time.Minute)
	}
	groupOrder := map[string]int{}
	for i, gn := range utf.GroupEvalOrder {
		if _, ok := groupOrder[gn]; ok {
			return []error{fmt.Errorf("group name repeated in evaluation order: %s", gn)}
		}
		groupOrder[gn] = i
	}
	var errs []error
	for i, t := range utf.Tests {
		if run != nil && !run.MatchString(t.TestGroupName) {
			continue
		}
		name := t.TestGroupName
		if name == "" {
			name = fmt.Sprintf("unnamed#%d", i)
		}
		if t.Interval == 0 {
			t.Interval = utf.EvaluationInterval
		}
		errs = append(errs, t.test(o, time.Duration(utf.EvaluationInterval), groupOrder, utf.FuzzyCompare, ruleFiles)...)
	}
	if len(errs) > 0 {
		return errs
	}
	return nil
}

// lazySeries are input samples appended just before each evaluation that may see them, as
// promtool's lazy loader does: rule results and input samples of the same series then arrive in
// time order.
type lazySeries struct {
	lset    labels.Labels
	samples []lazyPoint
}

// lazyPoint is an input sample: a float, or a native histogram when H is set (promtool loads
// the series notation's histograms as float histograms).
type lazyPoint struct {
	T int64
	F float64
	H *histogram.FloatHistogram
}

func (tg *testGroup) loadInput(p parser.Parser, start time.Time) ([]*lazySeries, error) {
	byKey := map[string]*lazySeries{}
	var order []string
	gap := time.Duration(tg.Interval)
	for i, is := range tg.InputSeries {
		lset, vals, err := p.ParseSeriesDesc(is.Series + " " + is.Values)
		if err != nil {
			return nil, fmt.Errorf("input_series %d (%q): %w", i, is.Series, err)
		}
		ls := &lazySeries{lset: lset}
		for j, v := range vals {
			if v.Omitted {
				continue
			}
			ls.samples = append(ls.samples, lazyPoint{T: start.Add(gap * time.Duration(j)).UnixMilli(), F: v.Value, H: v.Histogram})
		}
		k := lset.String()
		if _, ok := byKey[k]; !ok {
			order = append(order, k)
		}
		byKey[k] = ls // a later definition of the same series replaces it, as in promqltest
	}
	res := make([]*lazySeries, 0, len(order))
	for _, k := range order {
		res = append(res, byKey[k])
	}
	return res, nil
}

func appendTill(ctx context.Context, db storage.Appendable, series []*lazySeries, ts int64) error {
	app := db.Appender(ctx)
	for _, s := range series {
		n := 0
		for _, p := range s.samples {
			if p.T > ts {
				break
			}
			var err error
			if p.H != nil {
				_, err = app.AppendHistogram(0, s.lset, p.T, nil, p.H)
			} else {
				_, err = app.Append(0, s.lset, p.T, p.F)
			}
			if err != nil {
				_ = app.Rollback()
				return fmt.Errorf("loading %s: %w", s.lset, err)
			}
			n++
		}
		s.samples = s.samples[n:]
	}
	return app.Commit()
}

func (tg *testGroup) maxEvalTime() time.Duration {
	var m model.Duration
	for _, a := range tg.AlertRuleTests {
		m = max(m, a.EvalTime)
	}
	for _, p := range tg.PromqlExprTests {
		m = max(m, p.EvalTime)
	}
	return time.Duration(m)
}

func (tg *testGroup) test(o UnitTestOptions, evalInterval time.Duration, groupOrder map[string]int, fuzzy bool, ruleFiles []string) (outErr []error) {
	ctx := context.Background()
	mint := time.Unix(0, 0).UTC()
	if !tg.StartTimestamp.IsZero() {
		mint = tg.StartTimestamp.Time
	}
	input, err := tg.loadInput(o.Parser, mint)
	if err != nil {
		return []error{err}
	}
	dir, err := os.MkdirTemp(o.TempDir, "vigil-rules-test-")
	if err != nil {
		return []error{err}
	}
	defer os.RemoveAll(dir)
	// Blocks are never cut during a test: everything stays in the head.
	never := int64(100 * 365 * 24 * time.Hour / time.Millisecond)
	db, err := tsdb.Open(dir, &tsdb.Options{MinBlockDuration: never, MaxBlockDuration: never}, slog.New(slog.DiscardHandler), nil)
	if err != nil {
		return []error{fmt.Errorf("opening test storage: %w", err)}
	}
	defer func() {
		if err := db.Close(); err != nil {
			outErr = append(outErr, err)
		}
	}()
	// The engine options of promtool's lazy loader: 10000 samples per query, subqueries without
	// a step use the evaluation interval.
	engine := promql.NewEngine(promql.EngineOpts{
		MaxSamples: 10000, Timeout: 100 * time.Second, Parser: o.Parser,
		NoStepSubqueryIntervalFn: func(int64) int64 { return evalInterval.Milliseconds() },
	})
	queryFunc := EngineQueryFunc(engine, db)
	var extURL *url.URL
	if tg.ExternalURL != "" {
		if extURL, err = url.Parse(tg.ExternalURL); err != nil {
			return []error{fmt.Errorf("external_url: %w", err)}
		}
	}
	m := NewManager(&Options{QueryFunc: queryFunc, Queryable: db, Appendable: db, Parser: o.Parser, Context: ctx})
	groupsMap, errs := m.LoadGroups(time.Duration(tg.Interval), tg.ExternalLabels, extURL, ruleFiles...)
	if errs != nil {
		return errs
	}
	groups := make([]*Group, 0, len(groupsMap))
	for _, g := range groupsMap {
		groups = append(groups, g)
	}
	sort.Slice(groups, func(i, j int) bool { return groupOrder[groups[i].Name()] < groupOrder[groups[j].Name()] })
	for _, g := range groups {
		for _, ar := range g.AlertingRules() {
			ar.SetRestored(true)
		}
	}

	maxt := mint.Add(tg.maxEvalTime())
	eq := func(x, y float64) bool { return x == y }
	if fuzzy {
		eq = func(x, y float64) bool {
			return x == y || math.Nextafter(x, math.Inf(-1)) == y || math.Nextafter(x, math.Inf(1)) == y
		}
	}

	alertsInTest := map[model.Duration]map[string]struct{}{}
	alertTests := map[model.Duration][]alertTestCase{}
	for _, a := range tg.AlertRuleTests {
		if a.Alertname == "" {
			var in string
			if tg.TestGroupName != "" {
				in = fmt.Sprintf(" (in TestGroup %s)", tg.TestGroupName)
			}
			return []error{fmt.Errorf("an item under alert_rule_test misses required attribute alertname at eval_time %v%s", a.EvalTime, in)}
		}
		if alertsInTest[a.EvalTime] == nil {
			alertsInTest[a.EvalTime] = map[string]struct{}{}
		}
		alertsInTest[a.EvalTime][a.Alertname] = struct{}{}
		alertTests[a.EvalTime] = append(alertTests[a.EvalTime], a)
	}
	alertEvalTimes := make([]model.Duration, 0, len(alertTests))
	for k := range alertTests {
		alertEvalTimes = append(alertEvalTimes, k)
	}
	slices.Sort(alertEvalTimes)

	var outErrs []error
	curr := 0
	for ts := mint; !ts.After(maxt); ts = ts.Add(evalInterval) {
		if err := appendTill(ctx, db, input, ts.UnixMilli()); err != nil {
			outErrs = append(outErrs, err)
		} else {
			var evalErrs []error
			for _, g := range groups {
				g.eval(ctx, ts)
				for _, r := range g.Rules() {
					if r.LastError() != nil {
						evalErrs = append(evalErrs, fmt.Errorf("    rule: %s, time: %s, err: %w", r.Name(), ts.Sub(time.Unix(0, 0).UTC()), r.LastError()))
					}
				}
			}
			if len(evalErrs) > 0 {
				return append(outErrs, evalErrs...)
			}
		}
		// Alert expectations are checked at the evaluation covering their eval_time.
		for curr < len(alertEvalTimes) && ts.Sub(mint) <= time.Duration(alertEvalTimes[curr]) &&
			time.Duration(alertEvalTimes[curr]) < ts.Add(evalInterval).Sub(mint) {
			t := alertEvalTimes[curr]
			got := map[string]labelsAndAnnotations{}
			for _, g := range groups {
				for _, r := range g.Rules() {
					ar, ok := r.(*AlertingRule)
					if !ok {
						continue
					}
					if _, ok := alertsInTest[t][ar.Name()]; !ok {
						continue
					}
					for _, a := range ar.ActiveAlerts() {
						if a.State == StateFiring {
							got[ar.Name()] = append(got[ar.Name()], labelAndAnnotation{Labels: a.Labels.Copy(), Annotations: a.Annotations.Copy()})
						}
					}
				}
			}
			for _, tc := range alertTests[t] {
				gotAlerts := got[tc.Alertname]
				var exp labelsAndAnnotations
				for _, a := range tc.ExpAlerts {
					if a.ExpLabels == nil {
						a.ExpLabels = map[string]string{}
					}
					a.ExpLabels[labels.AlertName] = tc.Alertname
					exp = append(exp, labelAndAnnotation{Labels: labels.FromMap(a.ExpLabels), Annotations: labels.FromMap(a.ExpAnnotations)})
				}
				sort.Sort(gotAlerts)
				sort.Sort(exp)
				if !exp.equal(gotAlerts) {
					var testName string
					if tg.TestGroupName != "" {
						testName = fmt.Sprintf("    name: %s,\n", tg.TestGroupName)
					}
					outErrs = append(outErrs, fmt.Errorf("%s    alertname: %s, time: %s, \n        exp:%v, \n        got:%v",
						testName, tc.Alertname, tc.EvalTime.String(), indentLines(exp.String(), "            "), indentLines(gotAlerts.String(), "            ")))
				}
			}
			curr++
		}
	}

Outer:
	for _, tc := range tg.PromqlExprTests {
		got, err := queryFunc(ctx, tc.Expr, mint.Add(time.Duration(tc.EvalTime)))
		if err != nil {
			outErrs = append(outErrs, fmt.Errorf("    expr: %q, time: %s, err: %s", tc.Expr, tc.EvalTime.String(), err.Error()))
			continue
		}
		gotSamples := make([]parsedSample, 0, len(got))
		for _, s := range got {
			gotSamples = append(gotSamples, parsedSample{Labels: s.Metric.Copy(), Value: s.F, Histogram: histogramTestExpression(s.H)})
		}
		var expSamples []parsedSample
		for _, s := range tc.ExpSamples {
			lb, err := o.Parser.ParseMetric(s.Labels)
			var hist *histogram.FloatHistogram
			if err == nil && s.Histogram != "" {
				// The series notation's histogram, as promtool reads it.
				_, values, parseErr := o.Parser.ParseSeriesDesc("{} " + s.Histogram)
				switch {
				case parseErr != nil:
					err = parseErr
				case len(values) != 1:
					err = fmt.Errorf("expected 1 value, got %d", len(values))
				case values[0].Histogram == nil:
					err = fmt.Errorf("expected histogram, got %v", values[0])
				default:
					hist = values[0].Histogram
				}
			}
			if err != nil {
				err = fmt.Errorf("labels %q: %w", s.Labels, err)
				outErrs = append(outErrs, fmt.Errorf("    expr: %q, time: %s, err: %w", tc.Expr, tc.EvalTime.String(), err))
				continue Outer
			}
			expSamples = append(expSamples, parsedSample{Labels: lb, Value: s.Value, Histogram: histogramTestExpression(hist)})
		}
		sort.Slice(expSamples, func(i, j int) bool { return labels.Compare(expSamples[i].Labels, expSamples[j].Labels) <= 0 })
		sort.Slice(gotSamples, func(i, j int) bool { return labels.Compare(gotSamples[i].Labels, gotSamples[j].Labels) <= 0 })
		if !samplesEqual(expSamples, gotSamples, eq) {
			outErrs = append(outErrs, fmt.Errorf("    expr: %q, time: %s,\n        exp: %v\n        got: %v", tc.Expr,
				tc.EvalTime.String(), parsedSamplesString(expSamples), parsedSamplesString(gotSamples)))
		}
	}
	if len(outErrs) > 0 {
		return outErrs
	}
	return nil
}

type labelAndAnnotation struct {
	Labels      labels.Labels
	Annotations labels.Labels
}

func (la *labelAndAnnotation) String() string {
	return "Labels:" + la.Labels.String() + "\nAnnotations:" + la.Annotations.String()
}

type labelsAndAnnotations []labelAndAnnotation

func (la labelsAndAnnotations) Len() int      { return len(la) }
func (la labelsAndAnnotations) Swap(i, j int) { la[i], la[j] = la[j], la[i] }
func (la labelsAndAnnotations) Less(i, j int) bool {
	if d := labels.Compare(la[i].Labels, la[j].Labels); d != 0 {
		return d < 0
	}
	return labels.Compare(la[i].Annotations, la[j].Annotations) < 0
}

func (la labelsAndAnnotations) equal(o labelsAndAnnotations) bool {
	if len(la) != len(o) {
		return false
	}
	for i := range la {
		if !labels.Equal(la[i].Labels, o[i].Labels) || !labels.Equal(la[i].Annotations, o[i].Annotations) {
			return false
		}
	}
	return true
}

func (la labelsAndAnnotations) String() string {
	if len(la) == 0 {
		return "[]"
	}
	var s strings.Builder
	s.WriteString("[\n0:" + indentLines("\n"+la[0].String(), "  "))
	for i, l := range la[1:] {
		s.WriteString(",\n" + strconv.Itoa(i+1) + ":" + indentLines("\n"+l.String(), "  "))
	}
	s.WriteString("\n]")
	return s.String()
}

type parsedSample struct {
	Labels    labels.Labels
	Value     float64
	Histogram string // the histogram's TestExpression, compared as text as promtool does
}

func (ps *parsedSample) String() string {
	if ps.Histogram != "" {
		return ps.Labels.String() + " " + ps.Histogram
	}
	return ps.Labels.String() + " " + strconv.FormatFloat(ps.Value, 'E', -1, 64)
}

// histogramTestExpression is upstream promqltest's HistogramTestExpression: the series
// notation of h, "" for nil.
func histogramTestExpression(h *histogram.FloatHistogram) string {
	if h != nil {
		return h.TestExpression()
	}
	return ""
}

func samplesEqual(a, b []parsedSample, eq func(x, y float64) bool) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !labels.Equal(a[i].Labels, b[i].Labels) || !eq(a[i].Value, b[i].Value) || a[i].Histogram != b[i].Histogram {
			return false
		}
	}
	return true
}

func parsedSamplesString(pss []parsedSample) string {
	if len(pss) == 0 {
		return "nil"
	}
	parts := make([]string, len(pss))
	for i := range pss {
		parts[i] = pss[i].String()
	}
	return strings.Join(parts, ", ")
}

func indentLines(lines, indent string) string {
	n := strings.Split(lines, "\n")
	return strings.Join(n, "\n"+indent)
}
