package ruler

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/prometheus/model/labels"

	"github.com/vigil-monitoring/vigil/promql"
	"github.com/vigil-monitoring/vigil/storage"
	"github.com/vigil-monitoring/vigil/tsdb"
)

// captureNotifier records what the rule manager sends.
type captureNotifier struct {
	mtx    sync.Mutex
	alerts []Notification
}

func (c *captureNotifier) Send(_ context.Context, alerts ...Notification) error {
	c.mtx.Lock()
	defer c.mtx.Unlock()
	c.alerts = append(c.alerts, alerts...)
	return nil
}

func (c *captureNotifier) take() []Notification {
	c.mtx.Lock()
	defer c.mtx.Unlock()
	a := c.alerts
	c.alerts = nil
	return a
}

type env struct {
	t        testing.TB
	db       *tsdb.DB
	query    QueryFunc
	notifier *captureNotifier
}

func newEnv(t testing.TB) *env {
	t.Helper()
	db, err := tsdb.Open(t.TempDir(), nil, slog.New(slog.DiscardHandler), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return &env{t: t, db: db, query: EngineQueryFunc(promql.NewEngine(promql.EngineOpts{}), db), notifier: &captureNotifier{}}
}

func (e *env) manager(o *Options) *Manager {
	if o == nil {
		o = &Options{}
	}
	o.QueryFunc, o.Queryable, o.Appendable, o.Notifier = e.query, e.db, e.db, e.notifier
	return NewManager(o)
}

// add appends one sample per series given as metric text, e.g. `m{a="1"}`.
func (e *env) add(ts time.Time, v float64, series ...string) {
	e.t.Helper()
	app := e.db.Appender(context.Background())
	for _, s := range series {
		lset, err := testParser.ParseMetric(s)
		if err != nil {
			e.t.Fatal(err)
		}
		if _, err := app.Append(0, lset, ts.UnixMilli(), v); err != nil {
			e.t.Fatal(err)
		}
	}
	if err := app.Commit(); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) queryAt(qs string, ts time.Time) promql.Vector {
	e.t.Helper()
	v, err := e.query(context.Background(), qs, ts)
	if err != nil {
		e.t.Fatalf("%s: %v", qs, err)
	}
	return v
}

func writeRules(t *testing.T, content string) string {
	t.Helper()
	return writeRulesB(t, content)
}

func writeRulesB(t testing.TB, content string) string {
	t.Helper()
	fn := filepath.Join(t.TempDir(), "rules.yml")
	if err := os.WriteFile(fn, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return fn
}

func loadOne(t *testing.T, m *Manager, content string) *Group {
	t.Helper()
	groups, errs := m.LoadGroups(time.Minute, labels.EmptyLabels(), nil, writeRules(t, content))
	if errs != nil {
		t.Fatal(errs)
	}
	if len(groups) != 1 {
		t.Fatalf("%d groups", len(groups))
	}
	for _, g := range groups {
		for _, ar := range g.AlertingRules() {
			ar.SetRestored(true)
		}
		return g
	}
	return nil
}

var t0 = time.Unix(1_700_000_000, 0).UTC()

func TestAlertStates(t *testing.T) {
	const rules = `
groups:
  - name: g
    rules:
      - alert: A
        expr: m > 0
        for: 2m
        keep_firing_for: 2m
        labels: {severity: "{{ if gt $value 5.0 }}high{{ else }}low{{ end }}"}
        annotations: {v: "{{ $value }} on {{ $labels.instance }}"}
`
	// m is 1 for 0..5m, 10 at 6m, then stale. A is pending at 0..1m, fires at 2m, keeps firing
	// two minutes after 6m, then resolves; the severity label follows the value.
	type step struct {
		min       int
		value     float64 // <0: no sample
		wantState AlertState
		wantSev   string
		wantSent  bool
	}
	steps := []step{
		{0, 1, StatePending, "low", false},
		{1, 1, StatePending, "low", false},
		{2, 1, StateFiring, "low", true},
		{3, 1, StateFiring, "low", false}, // within resend delay
		{5, 1, StateFiring, "low", true},
		{6, 10, StateFiring, "high", false}, // a new label set: a new pending alert; the old one keeps firing (keep_firing_for)…
		{7, -1, StateFiring, "low", false},  // …and is not re-sent before the resend delay (5m+2m is not before 7m)
		{8, -1, StateInactive, "low", true}, // keep_firing_for over: resolved, sent once with its end time
	}
	e := newEnv(t)
	m := e.manager(&Options{ResendDelay: 2 * time.Minute})
	g := loadOne(t, m, rules)
	ar := g.AlertingRules()[0]
	for _, s := range steps {
		ts := t0.Add(time.Duration(s.min) * time.Minute)
		if s.value >= 0 {
			e.add(ts, s.value, `m{instance="i"}`)
		} else {
			e.add(ts, storage.StaleNaN(), `m{instance="i"}`)
		}
		g.eval(context.Background(), ts)
		if err := ar.LastError(); err != nil {
			t.Fatalf("%dm: %v", s.min, err)
		}
		if got := ar.State(); got != s.wantState {
			t.Errorf("%dm: state %v, want %v", s.min, got, s.wantState)
		}
		var found bool
		for _, a := range ar.AllAlerts() {
			if a.Labels.Get("severity") == s.wantSev {
				found = true
				if a.State == StateFiring && s.wantSev == "low" && a.Annotations.Get("v") != "1 on i" {
					t.Errorf("%dm: annotation %q", s.min, a.Annotations.Get("v"))
				}
			}
		}
		if !found {
			t.Errorf("%dm: no alert with severity %s in %v", s.min, s.wantSev, ar.AllAlerts())
		}
		sent := e.notifier.take()
		var sentLow []Notification
		for _, a := range sent {
			if a.Labels["severity"] == "low" {
				sentLow = append(sentLow, a)
			}
		}
		if (len(sentLow) > 0) != s.wantSent {
			t.Errorf("%dm: sent %v, want sent=%v", s.min, sent, s.wantSent)
		}
		for _, a := range sentLow {
			if s.wantState == StateInactive {
				if !a.EndsAt.Equal(ts) {
					t.Errorf("%dm: resolved alert ends at %v, want %v", s.min, a.EndsAt, ts)
				}
			} else if !a.EndsAt.After(ts) || !a.StartsAt.Equal(t0.Add(2*time.Minute)) {
				t.Errorf("%dm: firing alert starts %v ends %v", s.min, a.StartsAt, a.EndsAt)
			}
			if !strings.HasPrefix(a.GeneratorURL, "/graph?g0.expr=") {
				t.Errorf("generator URL %q", a.GeneratorURL)
			}
		}
	}
	// ALERTS and ALERTS_FOR_STATE were written while the alert was active.
	if v := e.queryAt(`ALERTS{alertname="A",alertstate="firing",severity="low"}`, t0.Add(5*time.Minute)); len(v) != 1 {
		t.Errorf("ALERTS at 5m: %v", v)
	}
	if v := e.queryAt(`ALERTS_FOR_STATE{alertname="A",severity="low"}`, t0.Add(5*time.Minute)); len(v) != 1 || v[0].F != float64(t0.Unix()) {
		t.Errorf("ALERTS_FOR_STATE at 5m: %v", v)
	}
	// The resolved alert stays for the API for 15 minutes, then goes.
	g.eval(context.Background(), t0.Add(20*time.Minute))
	if n := len(ar.AllAlerts()); n != 1 || len(ar.ActiveAlerts()) != 0 {
		t.Errorf("12m after resolving: %d alerts kept (%d active), want 1 (0)", n, len(ar.ActiveAlerts()))
	}
	g.eval(context.Background(), t0.Add(24*time.Minute))
	if n := len(ar.AllAlerts()); n != 0 {
		t.Errorf("16m after resolving: %d alerts kept, want 0", n)
	}
}

func TestRecordingRulesAndErrors(t *testing.T) {
	e := newEnv(t)
	m := e.manager(nil)
	g := loadOne(t, m, `
groups:
  - name: g
    limit: 2
    rules:
      - record: r1
        expr: sum by (a) (m)
      - record: r2
        expr: r1 * 2
      - record: clash
        expr: m
        labels: {a: x}
      - record: after_error
        expr: count(r2)
      - alert: TooMany
        expr: m
`)
	ts := t0
	e.add(ts, 1, `m{a="1"}`, `m{a="2"}`)
	g.eval(context.Background(), ts)
	// r2 sees r1 of the same evaluation.
	if v := e.queryAt(`r2`, ts); len(v) != 2 || v[0].F != 2 {
		t.Fatalf("r2: %v", v)
	}
	rules := g.Rules()
	wantHealth := []RuleHealth{HealthGood, HealthGood, HealthBad, HealthGood, HealthGood}
	for i, r := range rules {
		if r.Health() != wantHealth[i] {
			t.Errorf("rule %s: health %s (%v), want %s", r.Name(), r.Health(), r.LastError(), wantHealth[i])
		}
	}
	if err := rules[2].LastError(); err == nil || !strings.Contains(err.Error(), "same labelset") {
		t.Errorf("clash error: %v", err)
	}
	if v := e.queryAt(`after_error`, ts); len(v) != 1 || v[0].F != 2 {
		t.Errorf("rule after the failing one: %v", v)
	}

	// A third series exceeds the group's limit of 2 for r1 and the alert (r2 still reads the
	// previous r1 within the lookback).
	ts = ts.Add(time.Minute)
	e.add(ts, 1, `m{a="1"}`, `m{a="2"}`, `m{a="3"}`)
	g.eval(context.Background(), ts)
	for _, i := range []int{0, 4} {
		if err := rules[i].LastError(); err == nil || !strings.Contains(err.Error(), "exceeded limit of 2 with 3") {
			t.Errorf("rule %s: %v, want the limit error", rules[i].Name(), err)
		}
	}

	// Back to one series: the other series of r1 get stale markers.
	ts = ts.Add(time.Minute)
	e.add(ts, 1, `m{a="1"}`)
	e.add(ts, storage.StaleNaN(), `m{a="2"}`, `m{a="3"}`)
	g.eval(context.Background(), ts)
	ts = ts.Add(time.Minute)
	e.add(ts, 1, `m{a="1"}`)
	g.eval(context.Background(), ts)
	if v := e.queryAt(`r1`, ts); len(v) != 1 || v[0].Metric.Get("a") != "1" {
		t.Errorf("r1 after the series went away: %v", v)
	}
}

func TestRestoreForState(t *testing.T) {
	const rules = `
groups:
  - name: g
    rules:
      - alert: Long
        expr: m > 0
        for: 30m
      - alert: Short
        expr: m > 0
        for: 15m
      - alert: BelowGrace
        expr: m > 0
        for: 5m
`
	e := newEnv(t)
	fn := writeRules(t, rules)
	m1 := e.manager(nil)
	groups, errs := m1.LoadGroups(time.Minute, labels.EmptyLabels(), nil, fn)
	if errs != nil {
		t.Fatal(errs)
	}
	var g1 *Group
	for _, g := range groups {
		g1 = g
	}
	for _, ar := range g1.AlertingRules() {
		ar.SetRestored(true)
	}
	// Active for 10 minutes, then Vigil is down for 10 minutes.
	for i := 0; i <= 10; i++ {
		ts := t0.Add(time.Duration(i) * time.Minute)
		e.add(ts, 1, `m`)
		g1.eval(context.Background(), ts)
	}
	restart := t0.Add(20 * time.Minute)
	e.add(restart, 1, `m`)

	m2 := e.manager(&Options{ForGracePeriod: 10 * time.Minute, OutageTolerance: time.Hour})
	groups, errs = m2.loadGroups(time.Minute, labels.EmptyLabels(), nil, true, fn)
	if errs != nil {
		t.Fatal(errs)
	}
	var g2 *Group
	for _, g := range groups {
		g2 = g
	}
	g2.eval(context.Background(), restart)
	if v := e.queryAt(`ALERTS_FOR_STATE`, restart); len(v) != 0 {
		t.Fatalf("ALERTS_FOR_STATE written before restore: %v", v)
	}
	g2.RestoreForState(restart)
	want := map[string]time.Time{
		// 10m of 30m spent: the 10m outage does not count.
		"Long": t0.Add(10 * time.Minute),
		// 5m left, less than the grace period: it fires 10m after the restart.
		"Short": restart.Add(10 * time.Minute).Add(-15 * time.Minute),
		// for below the grace period: not restored.
		"BelowGrace": restart,
	}
	for _, ar := range g2.AlertingRules() {
		if !ar.Restored() {
			t.Errorf("%s not marked restored", ar.Name())
		}
		alerts := ar.ActiveAlerts()
		if len(alerts) != 1 {
			t.Fatalf("%s: %d alerts", ar.Name(), len(alerts))
		}
		if !alerts[0].ActiveAt.Equal(want[ar.Name()]) {
			t.Errorf("%s: ActiveAt %v, want %v", ar.Name(), alerts[0].ActiveAt, want[ar.Name()])
		}
	}
}

func TestUpdateKeepsStateAndOldRulesOnError(t *testing.T) {
	e := newEnv(t)
	m := e.manager(nil)
	defer m.Stop()
	dir := t.TempDir()
	fn := filepath.Join(dir, "r.yml")
	write := func(s string) {
		if err := os.WriteFile(fn, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	const v1 = `
groups:
  - name: keep
    rules:
      - alert: A
        expr: vector(1)
  - name: change
    rules:
      - alert: B
        expr: vector(1)
`
	write(v1)
	if err := m.Update(UpdateOptions{Interval: time.Hour, Files: []string{fn}}); err != nil {
		t.Fatal(err)
	}
	byName := func() map[string]*Group {
		res := map[string]*Group{}
		for _, g := range m.RuleGroups() {
			res[g.Name()] = g
		}
		return res
	}
	before := byName()
	// Evaluate by hand (the groups' own first evaluation is an hour away).
	for _, g := range before {
		g.eval(context.Background(), t0)
	}

	write(`groups: [{name: keep, rules: [{alert: A, expr: "sum("}]}]`)
	err := m.Update(UpdateOptions{Interval: time.Hour, Files: []string{fn}})
	if err == nil || !strings.Contains(err.Error(), `group "keep", rule 1, "A"`) {
		t.Fatalf("bad file: %v", err)
	}
	if after := byName(); after["keep"] != before["keep"] || after["change"] != before["change"] {
		t.Fatal("a bad rule file replaced the running groups")
	}

	write(strings.Replace(v1, "alert: B\n        expr: vector(1)", "alert: B\n        expr: vector(1)\n      - alert: C\n        expr: vector(1)", 1))
	if err := m.Update(UpdateOptions{Interval: time.Hour, Files: []string{fn}}); err != nil {
		t.Fatal(err)
	}
	after := byName()
	if after["keep"] != before["keep"] {
		t.Error("an unchanged group was replaced")
	}
	if after["change"] == before["change"] {
		t.Fatal("a changed group was kept")
	}
	for _, ar := range after["change"].AlertingRules() {
		n := len(ar.ActiveAlerts())
		if ar.Name() == "B" && (n != 1 || !ar.ActiveAlerts()[0].ActiveAt.Equal(t0)) {
			t.Errorf("B lost its alert state over the reload: %v", ar.ActiveAlerts())
		}
		if ar.Name() == "C" && n != 0 {
			t.Errorf("new rule C has alerts: %v", ar.ActiveAlerts())
		}
	}
	if got := len(m.AlertingRules()); got != 3 {
		t.Errorf("%d alerting rules, want 3", got)
	}
}

func TestEvalTimestampSpreadsGroups(t *testing.T) {
	m := NewManager(&Options{})
	a := newGroup(groupOptions{name: "a", file: "f", interval: time.Minute, opts: m.opts, metrics: m.metrics})
	b := newGroup(groupOptions{name: "b", file: "f", interval: time.Minute, opts: m.opts, metrics: m.metrics})
	now := t0.UnixNano()
	ta, tb := a.evalTimestamp(now), b.evalTimestamp(now)
	if ta.Equal(tb) {
		t.Errorf("groups a and b share their offset %v", ta)
	}
	for _, ts := range []time.Time{ta, tb} {
		if ts.After(t0) || t0.Sub(ts) >= time.Minute {
			t.Errorf("slot %v not within the minute before %v", ts, t0)
		}
	}
	// Stable: the same slot a minute later is exactly one interval on.
	if next := a.evalTimestamp(now + int64(time.Minute)); !next.Equal(ta.Add(time.Minute)) {
		t.Errorf("next slot %v, want %v", next, ta.Add(time.Minute))
	}
}

func TestTemplateErrorInAnnotation(t *testing.T) {
	e := newEnv(t)
	m := e.manager(nil)
	g := loadOne(t, m, `
groups:
  - name: g
    rules:
      - alert: T
        expr: vector(3)
        annotations:
          bad: '{{ 1 | toTime | humanize }}'
          good: '{{ $value | humanizePercentage }} {{ with query "vector(2)" }}{{ . | first | value }}{{ end }}'
`)
	g.eval(context.Background(), t0)
	ar := g.AlertingRules()[0]
	if ar.Health() != HealthGood {
		t.Fatalf("a template error made the rule unhealthy: %v", ar.LastError())
	}
	a := ar.ActiveAlerts()[0]
	if bad := a.Annotations.Get("bad"); !strings.HasPrefix(bad, "<error expanding template: ") || !strings.Contains(bad, "humanize") {
		t.Errorf("bad annotation %q", bad)
	}
	if good := a.Annotations.Get("good"); good != "300% 2" {
		t.Errorf("good annotation %q", good)
	}
}

// TestManagerRuns runs groups on their own schedule while the API reads their state and a
// reload replaces one of them (run under -race).
func TestManagerRuns(t *testing.T) {
	e := newEnv(t)
	reg := prometheus.NewRegistry()
	m := e.manager(&Options{Registerer: reg, ResendDelay: time.Millisecond})
	fn := writeRules(t, `
groups:
  - name: fast
    interval: 50ms
    rules:
      - record: one
        expr: vector(1)
      - alert: Always
        expr: one > 0
`)
	if err := m.Update(UpdateOptions{Interval: time.Minute, Files: []string{fn}}); err != nil {
		t.Fatal(err)
	}
	m.Run()
	stopReads := make(chan struct{})
	readsDone := make(chan struct{})
	go func() {
		defer close(readsDone)
		for {
			select {
			case <-stopReads:
				return
			default:
			}
			for _, g := range m.RuleGroups() {
				_, _, _ = g.EvaluationTime(), g.LastEvaluation(), g.RuleEvaluationTimeSum()
				for _, r := range g.Rules() {
					_, _, _, _ = r.Health(), r.LastError(), r.EvaluationTimestamp(), r.EvaluationDuration()
				}
			}
			for _, ar := range m.AlertingRules() {
				_, _ = ar.State(), ar.ActiveAlerts()
			}
		}
	}()
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	var sent []Notification
	waitFor("an alert sent", func() bool {
		sent = append(sent, e.notifier.take()...)
		return len(sent) > 0
	})
	if sent[0].Labels["alertname"] != "Always" {
		t.Errorf("sent %v", sent[0])
	}
	if err := m.Update(UpdateOptions{Interval: time.Minute, Files: []string{writeRules(t, `
groups:
  - name: fast
    interval: 60ms
    rules:
      - record: one
        expr: vector(1)
      - alert: Always
        expr: one > 0
`)}}); err != nil {
		t.Fatal(err)
	}
	waitFor("the reloaded group to evaluate", func() bool {
		for _, g := range m.RuleGroups() {
			if g.Interval() == 60*time.Millisecond && !g.LastEvaluation().IsZero() {
				return true
			}
		}
		return false
	})
	close(stopReads)
	<-readsDone
	m.Stop()
	if n := testutil.CollectAndCount(reg, "prometheus_rule_group_iterations_total"); n != 1 {
		t.Errorf("%d iteration series, want 1 (the removed group's series deleted)", n)
	}
}
