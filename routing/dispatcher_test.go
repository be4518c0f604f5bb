package routing

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/alertmanager/config"
	"github.com/prometheus/alertmanager/dispatch"
	"github.com/prometheus/alertmanager/eventrecorder"
	"github.com/prometheus/alertmanager/featurecontrol"
	"github.com/prometheus/alertmanager/marker"
	amnotify "github.com/prometheus/alertmanager/notify"
	"github.com/prometheus/alertmanager/provider/mem"
	"github.com/prometheus/alertmanager/types"
	"github.com/prometheus/client_golang/prometheus"
	commoncfg "github.com/prometheus/common/config"
	"github.com/prometheus/common/model"
)

// flushRec is one call of the notify pipeline as the recording stage saw it.
type flushRec struct {
	at       time.Time
	receiver string
	groupKey string
	flushID  uint64
	repeat   time.Duration
	alerts   []string // alertname[/resolved]
}

// recStage records flushes and fails them while fail is set.
type recStage struct {
	mu      sync.Mutex
	flushes []flushRec
	fail    bool
}

func (s *recStage) Exec(ctx context.Context, _ *slog.Logger, alerts ...*types.Alert) (context.Context, []*types.Alert, error) {
	rec := flushRec{at: time.Now()}
	rec.receiver, _ = amnotify.ReceiverName(ctx)
	rec.groupKey, _ = amnotify.GroupKey(ctx)
	rec.flushID, _ = amnotify.FlushID(ctx)
	rec.repeat, _ = amnotify.RepeatInterval(ctx)
	for _, a := range alerts {
		n := string(a.Labels["alertname"])
		if a.Resolved() {
			n += "/resolved"
		}
		rec.alerts = append(rec.alerts, n)
	}
	sort.Strings(rec.alerts)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.flushes = append(s.flushes, rec)
	if s.fail {
		return ctx, nil, errors.New("receiver down")
	}
	return ctx, alerts, nil
}

func (s *recStage) get() []flushRec {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]flushRec(nil), s.flushes...)
}

func (s *recStage) setFail(f bool) {
	s.mu.Lock()
	s.fail = f
	s.mu.Unlock()
}

type testDispatch struct {
	store *alertStore
	disp  *dispatcher
	stage *recStage
	start time.Time
}

func newTestDispatch(t *testing.T, routeYAML string) *testDispatch {
	t.Helper()
	conf, err := config.Load(routeYAML)
	if err != nil {
		t.Fatal(err)
	}
	td := &testDispatch{stage: &recStage{}, start: time.Now()}
	td.store = newAlertStore(time.Hour, nil, slog.New(slog.DiscardHandler), nil)
	td.disp = newDispatcher(td.store, dispatch.NewRoute(conf.Route, nil), td.stage, marker.NewGroupMarker(), nil, nil,
		slog.New(slog.DiscardHandler), newDispatchMetrics(nil), 1)
	td.store.mu.Lock()
	td.store.disp = td.disp
	td.disp.startLocked()
	td.store.mu.Unlock()
	t.Cleanup(func() {
		td.store.mu.Lock()
		td.disp.stopLocked()
		td.store.mu.Unlock()
		td.disp.wait(0)
		td.store.close()
	})
	return td
}

// put stores an alert as the API would: startsAt now unless given, endsAt now+resolve unless
// given.
func (td *testDispatch) put(labels model.LabelSet, startsAt, endsAt time.Time) {
	now := time.Now()
	in := Incoming{Labels: PackLabels(labels), UpdatedAt: now, StartsAt: startsAt, EndsAt: endsAt}
	if in.StartsAt.IsZero() {
		in.StartsAt = now
	}
	if in.EndsAt.IsZero() {
		in.Timeout, in.EndsAt = true, now.Add(5*time.Minute)
	}
	td.store.put([]Incoming{in})
}

func (td *testDispatch) numGroups() int {
	td.store.mu.Lock()
	defer td.store.mu.Unlock()
	return len(td.disp.groups)
}

// ms is the time of flush f since the test dispatcher started, in milliseconds. Inside a
// synctest bubble the clock only moves when every goroutine waits, so the times are exact.
func (td *testDispatch) ms(f flushRec) int {
	return int(f.at.Sub(td.start) / time.Millisecond)
}

const timingRoute = `
route:
  receiver: a
  group_by: [alertname]
  group_wait: 100ms
  group_interval: 300ms
  repeat_interval: 1h
  routes:
  - receiver: b
    matchers: ['team="x"']
    continue: true
  - receiver: c
    matchers: ['team="x"']
receivers: [{name: a}, {name: b}, {name: c}]
`

// TestDispatcherTiming runs each case in a synctest bubble: the dispatcher's timers use the
// bubble's fake clock, so group_wait and group_interval are checked to the millisecond and the
// test takes no wall-clock time. BenchmarkNotificationLatency measures real latency.
func TestDispatcherTiming(t *testing.T) {
	ls := func(kv ...string) model.LabelSet {
		out := model.LabelSet{}
		for i := 0; i+1 < len(kv); i += 2 {
			out[model.LabelName(kv[i])] = model.LabelValue(kv[i+1])
		}
		return out
	}
	tests := []struct {
		name string
		run  func(t *testing.T, td *testDispatch)
	}{
		{"group_wait for a new group, then group_interval", func(t *testing.T, td *testDispatch) {
			td.put(ls("alertname", "A"), time.Time{}, time.Time{})
			time.Sleep(750 * time.Millisecond)
			f := td.stage.get()
			if got := times(td, f); len(got) != 3 || got[0] != 100 || got[1] != 400 || got[2] != 700 {
				t.Fatalf("flushes at %v ms, want 100, 400, 700", got)
			}
			for i, fl := range f {
				if fl.flushID != uint64(i+1) || fl.receiver != "a" || fl.repeat != time.Hour {
					t.Errorf("flush %d: id %d receiver %q repeat %s", i, fl.flushID, fl.receiver, fl.repeat)
				}
			}
			if want := `{}:{alertname="A"}`; f[0].groupKey != want {
				t.Errorf("group key %q, want %q", f[0].groupKey, want)
			}
		}},
		{"an alert that started before group_wait flushes at once", func(t *testing.T, td *testDispatch) {
			td.put(ls("alertname", "Old"), time.Now().Add(-time.Hour), time.Time{})
			time.Sleep(60 * time.Millisecond)
			if f := td.stage.get(); len(f) != 1 || td.ms(f[0]) != 0 {
				t.Fatalf("flushes at %v ms, want one at once", times(td, f))
			}
		}},
		{"an alert joining an existing group waits for group_interval", func(t *testing.T, td *testDispatch) {
			td.put(ls("alertname", "G", "i", "1"), time.Time{}, time.Time{})
			time.Sleep(200 * time.Millisecond)
			td.put(ls("alertname", "G", "i", "2"), time.Time{}, time.Time{})
			time.Sleep(100 * time.Millisecond)
			if f := td.stage.get(); len(f) != 1 || len(f[0].alerts) != 1 {
				t.Fatalf("before group_interval: %+v", f)
			}
			time.Sleep(200 * time.Millisecond)
			if f := td.stage.get(); len(f) != 2 || len(f[1].alerts) != 2 || td.ms(f[1]) != 400 {
				t.Fatalf("after group_interval: %+v at %v ms", f, times(td, f))
			}
		}},
		{"resolved alert is flushed once, then the empty group is removed", func(t *testing.T, td *testDispatch) {
			td.put(ls("alertname", "R"), time.Time{}, time.Time{})
			time.Sleep(150 * time.Millisecond)
			td.put(ls("alertname", "R"), time.Time{}, time.Now())
			time.Sleep(400 * time.Millisecond)
			f := td.stage.get()
			if len(f) != 2 || f[1].alerts[0] != "R/resolved" {
				t.Fatalf("flushes %+v, want firing then resolved", f)
			}
			if n := td.numGroups(); n != 0 {
				t.Errorf("%d groups left, want 0", n)
			}
			time.Sleep(350 * time.Millisecond)
			if f := td.stage.get(); len(f) != 2 {
				t.Errorf("flushes after removal: %+v", f[2:])
			}
			// The same alert firing again makes a new group, which waits group_wait again.
			td.put(ls("alertname", "R"), time.Time{}, time.Time{})
			t0 := time.Now()
			time.Sleep(200 * time.Millisecond)
			f = td.stage.get()
			if len(f) != 3 || f[2].at.Sub(t0) != 100*time.Millisecond || f[2].flushID != 1 {
				t.Errorf("new group flushes %+v", f[2:])
			}
		}},
		{"a failed flush keeps the resolved alert for the next one", func(t *testing.T, td *testDispatch) {
			td.stage.setFail(true)
			td.put(ls("alertname", "F"), time.Now().Add(-time.Hour), time.Now().Add(-time.Minute))
			time.Sleep(50 * time.Millisecond)
			td.stage.setFail(false)
			time.Sleep(350 * time.Millisecond)
			f := td.stage.get()
			if len(f) != 2 || f[0].alerts[0] != "F/resolved" || f[1].alerts[0] != "F/resolved" {
				t.Fatalf("flushes %+v, want the resolved alert twice", f)
			}
			if n := td.numGroups(); n != 0 {
				t.Errorf("%d groups left after the successful flush", n)
			}
		}},
		{"continue sends to both matching routes", func(t *testing.T, td *testDispatch) {
			td.put(ls("alertname", "C", "team", "x"), time.Time{}, time.Time{})
			td.put(ls("alertname", "D"), time.Time{}, time.Time{})
			time.Sleep(200 * time.Millisecond)
			var got []string
			for _, f := range td.stage.get() {
				got = append(got, f.receiver+":"+strings.Join(f.alerts, ","))
			}
			sort.Strings(got)
			if want := "a:D b:C c:C"; strings.Join(got, " ") != want {
				t.Errorf("flushes %q, want %q", got, want)
			}
		}},
		{"updates of a known alert do not reroute or reschedule", func(t *testing.T, td *testDispatch) {
			for i := 0; i < 20; i++ {
				td.put(ls("alertname", "U"), time.Time{}, time.Time{})
				time.Sleep(20 * time.Millisecond)
			}
			time.Sleep(100 * time.Millisecond)
			f := td.stage.get()
			if got := times(td, f); len(got) != 2 || got[0] != 100 || got[1] != 400 {
				t.Fatalf("flushes at %v ms, want 100 and 400", got)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				tc.run(t, newTestDispatch(t, timingRoute))
			})
		})
	}
}

func times(td *testDispatch, fs []flushRec) []int {
	out := make([]int, len(fs))
	for i, f := range fs {
		out[i] = td.ms(f)
	}
	return out
}

// slowStage blocks each flush until released, to check that a group's flushes never overlap.
type slowStage struct {
	mu      sync.Mutex
	running int
	overlap bool
	calls   int
	release chan struct{}
}

func (s *slowStage) Exec(ctx context.Context, _ *slog.Logger, alerts ...*types.Alert) (context.Context, []*types.Alert, error) {
	s.mu.Lock()
	s.running++
	s.calls++
	if s.running > 1 {
		s.overlap = true
	}
	s.mu.Unlock()
	<-s.release
	s.mu.Lock()
	s.running--
	s.mu.Unlock()
	return ctx, alerts, nil
}

func TestDispatcherFlushOverrunDoesNotOverlap(t *testing.T) {
	synctest.Test(t, testDispatcherFlushOverrunDoesNotOverlap)
}

func testDispatcherFlushOverrunDoesNotOverlap(t *testing.T) {
	conf, err := config.Load(`
route: {receiver: a, group_by: [alertname], group_wait: 10ms, group_interval: 50ms}
receivers: [{name: a}]`)
	if err != nil {
		t.Fatal(err)
	}
	st := &slowStage{release: make(chan struct{})}
	s := newAlertStore(time.Hour, nil, slog.New(slog.DiscardHandler), nil)
	defer s.close()
	d := newDispatcher(s, dispatch.NewRoute(conf.Route, nil), st, marker.NewGroupMarker(), nil, nil, slog.New(slog.DiscardHandler), newDispatchMetrics(nil), 1)
	s.mu.Lock()
	s.disp = d
	d.startLocked()
	s.mu.Unlock()
	now := time.Now()
	s.put([]Incoming{{Labels: PackLabels(model.LabelSet{"alertname": "S"}), StartsAt: now, EndsAt: now.Add(time.Hour), UpdatedAt: now}})
	time.Sleep(200 * time.Millisecond) // the first flush blocks through several group_intervals
	st.mu.Lock()
	calls := st.calls
	st.mu.Unlock()
	if calls != 1 {
		t.Fatalf("%d flushes started while the first one ran, want 1", calls)
	}
	st.release <- struct{}{} // the overdue flush starts right after the first returns
	synctest.Wait()
	st.mu.Lock()
	calls, overlap := st.calls, st.overlap
	st.mu.Unlock()
	if calls != 2 || overlap {
		t.Errorf("calls %d overlap %v, want the overdue flush started once, alone", calls, overlap)
	}
	close(st.release)
	s.mu.Lock()
	d.stopLocked()
	s.mu.Unlock()
	d.wait(0)
}

// TestGroupsMatchUpstream routes the same alerts through upstream's dispatcher (with its
// provider/mem store) and Vigil's, and compares the groups the API would show: keys, labels,
// receivers, route IDs and alerts.
// It runs in a synctest bubble, so "upstream has finished grouping" is the bubble going idle
// rather than a pause.
func TestGroupsMatchUpstream(t *testing.T) {
	synctest.Test(t, testGroupsMatchUpstream)
}

func testGroupsMatchUpstream(t *testing.T) {
	const yml = `
route:
  receiver: default
  group_by: [alertname, cluster]
  group_wait: 1h
  routes:
  - receiver: db
    matchers: ['service=~"db|cache"']
    group_by: ['...']
    continue: true
  - receiver: web
    matchers: ['service="web"']
    group_by: [alertname]
    routes:
    - receiver: web-crit
      matchers: ['severity="critical"']
  - receiver: ops
    matchers: ['team="ops"']
    group_by: []
receivers: [{name: default}, {name: db}, {name: web}, {name: web-crit}, {name: ops}]
`
	conf, err := config.Load(yml)
	if err != nil {
		t.Fatal(err)
	}
	var alerts []*types.Alert
	now := time.Now()
	for i := 0; i < 60; i++ {
		ls := model.LabelSet{
			"alertname": model.LabelValue(fmt.Sprintf("A%d", i%4)),
			"cluster":   model.LabelValue(fmt.Sprintf("c%d", i%3)),
			"instance":  model.LabelValue(fmt.Sprintf("h%d", i)),
		}
		switch i % 5 {
		case 0:
			ls["service"] = "db"
		case 1:
			ls["service"] = "web"
		case 2:
			ls["service"], ls["severity"] = "web", "critical"
		case 3:
			ls["team"] = "ops"
		}
		alerts = append(alerts, &types.Alert{
			Alert:     model.Alert{Labels: ls, Annotations: model.LabelSet{"s": "x"}, StartsAt: now, EndsAt: now.Add(time.Hour)},
			UpdatedAt: now,
		})
	}
	logger := slog.New(slog.DiscardHandler)

	// Upstream.
	mstore, err := mem.NewAlerts(context.Background(), time.Hour, 0, nil, logger, eventrecorder.NopRecorder(), prometheus.NewRegistry(), featurecontrol.NoopFlags{})
	if err != nil {
		t.Fatal(err)
	}
	defer mstore.Close()
	route := dispatch.NewRoute(conf.Route, nil)
	up := dispatch.NewDispatcher(mstore, route, &recStage{}, marker.NewGroupMarker(), nil, time.Hour, nil, logger, eventrecorder.NopRecorder(), nil, nil)
	go up.Run(time.Now())
	defer up.Stop()
	up.WaitForLoading()
	if err := mstore.Put(context.Background(), alerts...); err != nil {
		t.Fatal(err)
	}

	// Vigil.
	td := newTestDispatch(t, yml)
	for _, a := range alerts {
		td.store.put([]Incoming{incomingFrom(a)})
	}

	all := func(*dispatch.Route) bool { return true }
	allAlerts := func(*types.Alert, time.Time) bool { return true }
	render := func(gs dispatch.AlertGroups, recv map[model.Fingerprint][]string) string {
		var b strings.Builder
		for _, g := range gs {
			fmt.Fprintf(&b, "%s|%s|%s|%s|", g.GroupKey, g.Labels, g.Receiver, g.RouteID)
			for _, a := range g.Alerts {
				fmt.Fprintf(&b, "%s(%s) ", a.Labels, recv[a.Fingerprint()])
			}
			b.WriteByte('\n')
		}
		return b.String()
	}
	var want string
	waitFor(t, 5*time.Second, "upstream dispatcher", func() bool {
		gs, recv, err := up.Groups(context.Background(), all, allAlerts)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, g := range gs {
			n += len(g.Alerts)
		}
		want = render(gs, recv)
		return n >= len(alerts) // every alert grouped at least once
	})
	synctest.Wait() // continue routes: let upstream finish the second groups
	gs, recv, _ := up.Groups(context.Background(), all, allAlerts)
	want = render(gs, recv)
	gs, recv = td.disp.groupsSnapshot(all, allAlerts)
	if got := render(gs, recv); got != want {
		t.Errorf("groups differ\nvigil:\n%s\nupstream:\n%s", got, want)
	}
}

// TestPipelineThroughDispatcher runs the full pipeline (upstream's notify stages behind Vigil's
// dispatcher) against a webhook receiver: repeat_interval, silences and inhibition act on what
// the dispatcher hands them, and the alert states it marks show in alertmanager_alerts.
func TestPipelineThroughDispatcher(t *testing.T) {
	const conf = `
route:
  receiver: hook
  group_by: [alertname]
  group_wait: 50ms
  group_interval: 100ms
  repeat_interval: 600ms
inhibit_rules:
- source_matchers: ['severity="critical"']
  target_matchers: ['severity="warning"']
  equal: [service]
receivers:
- name: hook
  webhook_configs:
  - url: %s
    send_resolved: true
`
	states := func(t *testing.T, reg *prometheus.Registry) map[string]float64 {
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]float64{}
		for _, mf := range mfs {
			if mf.GetName() == "alertmanager_alerts" {
				for _, m := range mf.GetMetric() {
					out[m.GetLabel()[0].GetValue()] = m.GetGauge().GetValue()
				}
			}
		}
		return out
	}
	tests := []struct {
		name string
		run  func(t *testing.T, r *Router, hook *sink, reg *prometheus.Registry)
	}{
		{"repeat_interval spaces notifications of an unchanged group", func(t *testing.T, r *Router, hook *sink, _ *prometheus.Registry) {
			start := time.Now()
			if err := r.Send(context.Background(), firing("alertname", "Rep")); err != nil {
				t.Fatal(err)
			}
			time.Sleep(1500 * time.Millisecond)
			// group_wait 50ms, then a flush every 100ms; an unchanged group is sent again once
			// repeat_interval (600ms) has passed since the last send.
			var at []time.Duration
			for _, ts := range hook.times() {
				at = append(at, ts.Sub(start))
			}
			if len(at) != 3 || at[0] != 50*time.Millisecond || at[1]-at[0] < 600*time.Millisecond || at[1]-at[0] > 700*time.Millisecond ||
				at[2]-at[1] < 600*time.Millisecond || at[2]-at[1] > 700*time.Millisecond {
				t.Fatalf("notifications at %v, want at 50ms and then every repeat_interval (600ms) rounded up to a flush", at)
			}
		}},
		{"a new alert in the group is sent at the next flush, not after repeat_interval", func(t *testing.T, r *Router, hook *sink, _ *prometheus.Registry) {
			if err := r.Send(context.Background(), firing("alertname", "Grow", "i", "1")); err != nil {
				t.Fatal(err)
			}
			waitFor(t, 2*time.Second, "first notification", func() bool { return len(hook.notifications()) == 1 })
			if err := r.Send(context.Background(), firing("alertname", "Grow", "i", "2")); err != nil {
				t.Fatal(err)
			}
			t0 := time.Now()
			waitFor(t, 2*time.Second, "second notification", func() bool { return len(hook.notifications()) == 2 })
			if d := hook.times()[1].Sub(t0); d > 100*time.Millisecond {
				t.Errorf("second notification after %s, want at the next flush (group_interval 100ms)", d)
			}
			if n := hook.notifications()[1]; len(n.Alerts) != 2 {
				t.Errorf("second notification has %d alerts, want 2", len(n.Alerts))
			}
		}},
		{"silenced alert is not sent and counts as suppressed", func(t *testing.T, r *Router, hook *sink, reg *prometheus.Registry) {
			addSilence(t, r, "alertname", "Quiet")
			if err := r.Send(context.Background(), firing("alertname", "Quiet"), firing("alertname", "Loud")); err != nil {
				t.Fatal(err)
			}
			waitFor(t, 2*time.Second, "Loud", func() bool { return len(hook.notifications()) >= 1 })
			time.Sleep(300 * time.Millisecond)
			if got := strings.Join(hook.alertnames(), " "); got != "Loud/firing" {
				t.Errorf("delivered %q, want only Loud", got)
			}
			if s := states(t, reg); s["suppressed"] != 1 || s["active"] != 1 || s["unprocessed"] != 0 {
				t.Errorf("alertmanager_alerts = %v, want 1 active, 1 suppressed", s)
			}
		}},
		{"inhibited alert is not sent while its source fires", func(t *testing.T, r *Router, hook *sink, reg *prometheus.Registry) {
			if err := r.Send(context.Background(),
				firing("alertname", "Src", "service", "s", "severity", "critical"),
				firing("alertname", "Tgt", "service", "s", "severity", "warning"),
				firing("alertname", "Other", "service", "o", "severity", "warning")); err != nil {
				t.Fatal(err)
			}
			waitFor(t, 2*time.Second, "two notifications", func() bool { return len(hook.notifications()) >= 2 })
			time.Sleep(300 * time.Millisecond)
			if got := strings.Join(hook.alertnames(), " "); got != "Other/firing Src/firing" {
				t.Errorf("delivered %q, want Other and Src", got)
			}
			if s := states(t, reg); s["suppressed"] != 1 || s["active"] != 2 {
				t.Errorf("alertmanager_alerts = %v, want 2 active, 1 suppressed", s)
			}
		}},
		{"a config reload regroups the stored alerts without resending", func(t *testing.T, r *Router, hook *sink, _ *prometheus.Registry) {
			if err := r.Send(context.Background(), firing("alertname", "Kept", "i", "1"), firing("alertname", "Kept", "i", "2")); err != nil {
				t.Fatal(err)
			}
			waitFor(t, 2*time.Second, "firing", func() bool { return len(hook.notifications()) == 1 })
			if err := r.ApplyConfig(r.Config()); err != nil {
				t.Fatal(err)
			}
			gs, _, err := r.Groups(context.Background(), func(*dispatch.Route) bool { return true }, func(*types.Alert, time.Time) bool { return true })
			if err != nil || len(gs) != 1 || len(gs[0].Alerts) != 2 {
				t.Fatalf("groups after reload: %v (%v), want one group of 2", gs, err)
			}
			time.Sleep(300 * time.Millisecond) // the new group flushes at once; the nflog dedups it
			if n := len(hook.notifications()); n != 1 {
				t.Errorf("%d notifications after reload, want 1", n)
			}
		}},
		{"resolved alert is sent resolved once and its group removed", func(t *testing.T, r *Router, hook *sink, reg *prometheus.Registry) {
			if err := r.Send(context.Background(), firing("alertname", "Done")); err != nil {
				t.Fatal(err)
			}
			waitFor(t, 2*time.Second, "firing", func() bool { return len(hook.notifications()) == 1 })
			if err := r.Send(context.Background(), Alert{Labels: model.LabelSet{"alertname": "Done"}, EndsAt: time.Now()}); err != nil {
				t.Fatal(err)
			}
			waitFor(t, 2*time.Second, "resolved", func() bool { return len(hook.notifications()) == 2 })
			time.Sleep(400 * time.Millisecond)
			if got := strings.Join(hook.alertnames(), " "); got != "Done/firing Done/resolved" {
				t.Errorf("delivered %q", got)
			}
			gs, _, err := r.Groups(context.Background(), func(*dispatch.Route) bool { return true }, func(*types.Alert, time.Time) bool { return true })
			if err != nil || len(gs) != 0 {
				t.Errorf("groups after the resolved flush: %d (%v), want none", len(gs), err)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			// A synctest bubble: the pipeline's timers run on a fake clock and the webhook is
			// served over in-memory connections, so the schedule is checked exactly.
			synctest.Test(t, func(t *testing.T) {
				hook, dial := newPipeSink(t)
				reg := prometheus.NewRegistry()
				cfgFile := t.TempDir() + "/am.yml"
				if err := os.WriteFile(cfgFile, []byte(fmt.Sprintf(conf, hook.url)), 0o600); err != nil {
					t.Fatal(err)
				}
				r, err := New(Options{ConfigFile: cfgFile, DataDir: t.TempDir(), Logger: slog.New(slog.DiscardHandler), Registerer: reg,
					NotifierHTTPOptions: []commoncfg.HTTPClientOption{dial}})
				if err != nil {
					t.Fatal(err)
				}
				defer r.Stop()
				tc.run(t, r, hook, reg)
			})
		})
	}
}
