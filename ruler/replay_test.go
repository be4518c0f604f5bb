package ruler

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"net/url"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/prometheus/model/labels"

	"github.com/vigil-monitoring/vigil/promql"
	"github.com/vigil-monitoring/vigil/storage"
	"github.com/vigil-monitoring/vigil/tsdb"
)

// iv is an interval in minutes from t0: state, start, end.
type iv struct {
	state      AlertState
	start, end int
}

func (e *env) series(metric string, values ...float64) {
	e.t.Helper()
	// One sample a minute from t0; NaN means no sample, -Inf a stale marker.
	for i, v := range values {
		switch {
		case math.IsNaN(v):
			continue
		case math.IsInf(v, -1):
			v = storage.StaleNaN()
		}
		e.add(t0.Add(time.Duration(i)*time.Minute), v, metric)
	}
}

func replayVariants(e *env) map[string]ReplayOptions {
	eng := promql.NewEngine(promql.EngineOpts{LookbackDelta: 5 * time.Minute})
	return map[string]ReplayOptions{
		"instant": {Query: EngineQueryFunc(eng, e.db)},
		"range":   {Query: EngineQueryFunc(eng, e.db), RangeQuery: EngineRangeQueryFunc(eng, e.db)},
	}
}

func TestReplay(t *testing.T) {
	var (
		N     = math.NaN()
		stale = math.Inf(-1)
	)
	tests := []struct {
		name   string
		rule   string
		values []float64 // m{i="a"} at t0+0m, 1m, …
		from   int       // minutes
		to     int
		offset int // query offset, minutes
		want   []iv
	}{
		{
			name: "query offset shifts what each evaluation sees", rule: "alert: A\nexpr: m > 0",
			values: []float64{0, 1, 1, 0, 0, 0}, to: 5, offset: 2,
			want: []iv{{StateFiring, 3, 5}},
		},
		{
			name: "for 0 fires at once", rule: "alert: A\nexpr: m > 0",
			values: []float64{0, 1, 1, 0, 0}, to: 4,
			want: []iv{{StateFiring, 1, 3}},
		},
		{
			name: "for 2m: pending two evaluations, then firing", rule: "alert: A\nexpr: m > 0\nfor: 2m",
			values: []float64{1, 1, 1, 1, 0}, to: 4,
			want: []iv{{StatePending, 0, 2}, {StateFiring, 2, 4}},
		},
		{
			name: "for exactly reached at the last evaluation", rule: "alert: A\nexpr: m > 0\nfor: 2m",
			values: []float64{1, 1, 1}, to: 2,
			want: []iv{{StatePending, 0, 2}, {StateFiring, 2, 3}},
		},
		{
			name: "pending that stops one evaluation short of for is forgotten", rule: "alert: A\nexpr: m > 0\nfor: 3m",
			values: []float64{1, 1, 1, 0, 1, 1, 1, 1}, to: 7,
			want: []iv{{StatePending, 0, 3}, {StatePending, 4, 7}, {StateFiring, 7, 8}},
		},
		{
			name: "for not a multiple of the interval fires at the next evaluation", rule: "alert: A\nexpr: m > 0\nfor: 90s",
			values: []float64{1, 1, 1, 1}, to: 3,
			want: []iv{{StatePending, 0, 2}, {StateFiring, 2, 4}},
		},
		{
			name: "keep_firing_for holds a firing alert", rule: "alert: A\nexpr: m > 0\nkeep_firing_for: 2m",
			values: []float64{1, 0, 0, 0, 0}, to: 4,
			want: []iv{{StateFiring, 0, 3}},
		},
		{
			name: "keep_firing_for restarts when the condition returns", rule: "alert: A\nexpr: m > 0\nkeep_firing_for: 2m",
			values: []float64{1, 0, 1, 0, 0, 0, 0}, to: 6,
			want: []iv{{StateFiring, 0, 5}},
		},
		{
			name: "keep_firing_for does not hold pending alerts", rule: "alert: A\nexpr: m > 0\nfor: 5m\nkeep_firing_for: 10m",
			values: []float64{1, 1, 0, 0}, to: 3,
			want: []iv{{StatePending, 0, 2}},
		},
		{
			name: "stale marker resolves at once, a gap after the lookback", rule: "alert: A\nexpr: m > 0",
			values: []float64{1, stale, N, 1, N, N, N, N, N, N, N}, to: 10,
			want: []iv{{StateFiring, 0, 1}, {StateFiring, 3, 8}},
		},
		{
			name: "range starting late sees no history", rule: "alert: A\nexpr: m > 0\nfor: 2m",
			values: []float64{1, 1, 1, 1, 1, 1}, from: 3, to: 5,
			want: []iv{{StatePending, 3, 5}, {StateFiring, 5, 6}},
		},
		{
			name: "a rule-file list of one rule", rule: "- alert: A\n  expr: m > 0",
			values: []float64{1}, to: 0,
			want: []iv{{StateFiring, 0, 1}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			e.series(`m{i="a"}`, tc.values...)
			r, err := ParseAlertingRule([]byte(tc.rule), nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			for name, o := range replayVariants(e) {
				o.Start = t0.Add(time.Duration(tc.from) * time.Minute)
				o.End = t0.Add(time.Duration(tc.to) * time.Minute)
				o.Interval = time.Minute
				o.QueryOffset = time.Duration(tc.offset) * time.Minute
				res, err := Replay(context.Background(), r, o)
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				if want := tc.to - tc.from + 1; res.Evaluations != want {
					t.Errorf("%s: %d evaluations, want %d", name, res.Evaluations, want)
				}
				if len(res.Alerts) != 1 {
					t.Fatalf("%s: %d alerts, want 1: %+v", name, len(res.Alerts), res.Alerts)
				}
				a := res.Alerts[0]
				if want := labels.FromStrings("alertname", "A", "i", "a"); !labels.Equal(a.Labels, want) {
					t.Errorf("%s: labels %s, want %s", name, a.Labels, want)
				}
				var got []iv
				for _, x := range a.Intervals {
					got = append(got, iv{x.State, int(x.Start.Sub(t0) / time.Minute), int(x.End.Sub(t0) / time.Minute)})
				}
				if fmt.Sprint(got) != fmt.Sprint(tc.want) {
					t.Errorf("%s: intervals %v, want %v", name, got, tc.want)
				}
			}
		})
	}
}

func TestReplayTemplatesAndSeveralAlerts(t *testing.T) {
	e := newEnv(t)
	e.series(`m{i="a"}`, 1, 2, 3)
	e.series(`m{i="b"}`, 0, 7, 0)
	e.series(`other`, 42, 42, 42)
	r, err := ParseAlertingRule([]byte(`
alert: High
expr: m > 0
labels:
  severity: '{{ if gt $value 5.0 }}page{{ else }}ticket{{ end }}'
  team: db
annotations:
  summary: '{{ $labels.i }} is {{ $value }} ({{ $externalLabels.cluster }}, {{ $externalURL }})'
  other: '{{ with query "other" }}{{ . | first | value }}{{ end }}'
`), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse("http://vigil.example/")
	for name, o := range replayVariants(e) {
		o.Start, o.End, o.Interval = t0, t0.Add(2*time.Minute), time.Minute
		o.ExternalLabels = labels.FromStrings("cluster", "c1")
		o.ExternalURL = u
		res, err := Replay(context.Background(), r, o)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, a := range res.Alerts {
			got = append(got, fmt.Sprintf("%s %s %v", a.Labels, a.Annotations, a.Intervals[0].State))
		}
		want := []string{
			`{alertname="High", i="a", severity="ticket", team="db"} {other="42", summary="a is 3 (c1, http://vigil.example/)"} firing`,
			`{alertname="High", i="b", severity="page", team="db"} {other="42", summary="b is 7 (c1, http://vigil.example/)"} firing`,
		}
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("%s:\n%s\nwant\n%s", name, strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	}
}

func TestParseAlertingRuleErrors(t *testing.T) {
	for _, tc := range []struct{ rule, want string }{
		{"", "no rule given"},
		{"alert: A\nexpr: m >", "could not parse expression"},
		{"alert: A\nexpr: m\nfor: 5x", `unknown unit "x"`},
		{"alert: A\nexpr: m\nunknown: 1", "field unknown not found"},
		{"record: r\nexpr: m", "only alerting rules"},
		{"expr: m", "one of 'record' or 'alert' must be set"},
		{"alert: A", "field 'expr' must be set"},
		{"alert: A\nexpr: m\nannotations: {a: '{{ .Foo'}", "template"},
		{"- alert: A\n  expr: m\n- alert: B\n  expr: m", "exactly one rule"},
		{"[1, 2", "yaml"},
		{"just text", "a rule is a mapping"},
	} {
		_, err := ParseAlertingRule([]byte(tc.rule), nil, nil)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want one containing %q", tc.rule, err, tc.want)
		}
	}
}

// TestReplayMatchesLiveRuler runs the same rule in a live rule manager (its own goroutine and
// ticker, on synctest's fake clock) and through Replay, and requires the same state for every
// alert at every evaluation: Replay is the ruler's state machine, not a second one.
func TestReplayMatchesLiveRuler(t *testing.T) {
	const rule = `alert: Flappy
expr: m > 0
for: 3m
keep_firing_for: 2m
labels: {sev: '{{ if gt $value 2.0 }}high{{ else }}low{{ end }}'}
annotations: {v: '{{ $value }}'}`
	synctest.Test(t, func(t *testing.T) {
		db, err := tsdb.Open(t.TempDir(), nil, slog.New(slog.DiscardHandler), nil)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		start := time.Now() // synctest's epoch
		// Four series, one sample every 15s for 90 minutes, each with its own on/off pattern:
		// flapping faster and slower than `for`, changing value (and so label sets), gaps.
		app := db.Appender(context.Background())
		patterns := map[string]func(i int) (float64, bool){
			`m{i="fast"}`:  func(i int) (float64, bool) { return float64((i / 6) % 2), true },
			`m{i="slow"}`:  func(i int) (float64, bool) { return float64((i / 40) % 2), true },
			`m{i="value"}`: func(i int) (float64, bool) { return float64(i/20%4) + 0.5, true },
			`m{i="gaps"}`:  func(i int) (float64, bool) { return 1, (i/30)%3 != 1 },
		}
		for i := 0; i < 90*4; i++ {
			ts := start.Add(time.Duration(i) * 15 * time.Second).UnixMilli()
			for s, f := range patterns {
				v, ok := f(i)
				if !ok {
					continue
				}
				ls, err := testParser.ParseMetric(s)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := app.Append(0, ls, ts, v); err != nil {
					t.Fatal(err)
				}
			}
		}
		if err := app.Commit(); err != nil {
			t.Fatal(err)
		}

		eng := promql.NewEngine(promql.EngineOpts{})
		m := NewManager(&Options{QueryFunc: EngineQueryFunc(eng, db), Queryable: db, Appendable: db})
		fn := writeRules(t, "groups:\n  - name: g\n    interval: 1m\n    query_offset: 1m\n    rules:\n"+indent(rule, "      - ", "        "))
		if err := m.Update(UpdateOptions{Interval: time.Minute, Files: []string{fn}}); err != nil {
			t.Fatal(err)
		}
		g := m.RuleGroups()[0]
		ar := g.AlertingRules()[0]
		m.Run()
		defer m.Stop()

		// Wake up after each evaluation and record every alert's state.
		live := map[time.Time]map[string]string{}
		first := g.evalTimestamp(time.Now().UnixNano()).Add(g.interval)
		var last time.Time
		for ts := first; ts.Before(start.Add(85 * time.Minute)); ts = ts.Add(time.Minute) {
			time.Sleep(time.Until(ts) + time.Millisecond)
			synctest.Wait()
			if got := g.LastEvalTimestamp(); !got.Equal(ts) {
				t.Fatalf("last evaluation at %v, want %v", got, ts)
			}
			st := map[string]string{}
			for _, a := range ar.ActiveAlerts() {
				st[a.Labels.String()] = a.State.String()
			}
			live[ts] = st
			last = ts
		}

		r, err := ParseAlertingRule([]byte(rule), nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		for name, o := range map[string]ReplayOptions{
			"instant": {Query: EngineQueryFunc(eng, db)},
			"range":   {Query: EngineQueryFunc(eng, db), RangeQuery: EngineRangeQueryFunc(eng, db)},
		} {
			o.Start, o.End, o.Interval, o.QueryOffset = first, last, time.Minute, time.Minute
			res, err := Replay(context.Background(), r, o)
			if err != nil {
				t.Fatal(err)
			}
			replayed := map[time.Time]map[string]string{}
			for ts := first; !ts.After(last); ts = ts.Add(time.Minute) {
				replayed[ts] = map[string]string{}
			}
			transitions := 0
			for _, a := range res.Alerts {
				transitions += len(a.Intervals)
				for _, x := range a.Intervals {
					for ts := x.Start; ts.Before(x.End) && !ts.After(last); ts = ts.Add(time.Minute) {
						replayed[ts][a.Labels.String()] = x.State.String()
					}
				}
			}
			if transitions < 10 {
				t.Errorf("%s: only %d intervals; the data should exercise more", name, transitions)
			}
			for ts := first; !ts.After(last); ts = ts.Add(time.Minute) {
				if fmt.Sprint(live[ts]) != fmt.Sprint(replayed[ts]) {
					t.Errorf("%s at +%v: live %v, replayed %v", name, ts.Sub(start), live[ts], replayed[ts])
				}
			}
		}
	})
}

// indent puts first before the first line of s and rest before the others.
func indent(s, first, rest string) string {
	lines := strings.Split(s, "\n")
	for i := range lines {
		if i == 0 {
			lines[i] = first + lines[i]
		} else {
			lines[i] = rest + lines[i]
		}
	}
	return strings.Join(lines, "\n") + "\n"
}

// BenchmarkReplay replays a rule over a day at 1m (1,441 evaluations, 100 series scraped every
// 15s) with an instant query per evaluation and with one range query, as the API does.
func BenchmarkReplay(b *testing.B) {
	e := newEnv(b)
	app := e.db.Appender(context.Background())
	for i := 0; i < 24*60*4; i++ {
		ts := t0.Add(time.Duration(i) * 15 * time.Second).UnixMilli()
		for s := 0; s < 100; s++ {
			ls := labels.FromStrings("__name__", "m", "i", fmt.Sprint(s))
			if _, err := app.Append(0, ls, ts, float64((i/40+s)%7)); err != nil {
				b.Fatal(err)
			}
		}
	}
	if err := app.Commit(); err != nil {
		b.Fatal(err)
	}
	r, err := ParseAlertingRule([]byte("alert: A\nexpr: avg_over_time(m[5m]) > 4\nfor: 5m\nkeep_firing_for: 2m\nannotations: {v: '{{ $value }}'}"), nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	for _, name := range []string{"instant", "range"} {
		o := replayVariants(e)[name]
		o.Start, o.End, o.Interval = t0, t0.Add(24*time.Hour), time.Minute
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				res, err := Replay(context.Background(), r, o)
				if err != nil || res.Evaluations != 1441 || len(res.Alerts) == 0 {
					b.Fatal(err, res)
				}
			}
		})
	}
}
