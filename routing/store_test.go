package routing

import (
	"context"
	"log/slog"
	"math/rand"
	"reflect"
	"testing"
	"time"

	"github.com/prometheus/alertmanager/eventrecorder"
	"github.com/prometheus/alertmanager/featurecontrol"
	"github.com/prometheus/alertmanager/provider/mem"
	"github.com/prometheus/alertmanager/types"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/model"
)

func TestPackedLabels(t *testing.T) {
	for _, ls := range []model.LabelSet{
		{},
		{"a": "1"},
		{"alertname": "X", "instance": "h:9100", "job": "node", "zz": "", "ü": "ß"},
		{"b": "2", "a": "1", "c": "a=b, c"},
	} {
		p := PackLabels(ls)
		if got, want := p.Fingerprint(), ls.Fingerprint(); got != want {
			t.Errorf("%v: fingerprint %v, want %v", ls, got, want)
		}
		if got := p.LabelSet(); !reflect.DeepEqual(got, ls) {
			t.Errorf("%v: unpacked %v", ls, got)
		}
		if p.Len() != len(ls) {
			t.Errorf("%v: Len %d", ls, p.Len())
		}
		for k, v := range ls {
			if got, ok := p.Get(string(k)); !ok || got != string(v) {
				t.Errorf("%v: Get(%s) = %q %v", ls, k, got, ok)
			}
		}
		if _, ok := p.Get("nope"); ok {
			t.Errorf("%v: Get(nope) found", ls)
		}
		for _, by := range []map[model.LabelName]struct{}{{}, {"a": {}}, {"a": {}, "c": {}, "instance": {}, "zz": {}}} {
			sub, fp := p.groupSubset(by, false)
			want := model.LabelSet{}
			for k, v := range ls {
				if _, ok := by[k]; ok {
					want[k] = v
				}
			}
			if fp != want.Fingerprint() || !reflect.DeepEqual(sub.LabelSet(), want) {
				t.Errorf("%v by %v: subset %v fp %v, want %v", ls, by, sub.LabelSet(), fp, want)
			}
		}
	}
}

func FuzzPackedLabels(f *testing.F) {
	f.Add("alertname", "X", "job", "node")
	f.Add("", "", "a", "b")
	f.Fuzz(func(t *testing.T, k1, v1, k2, v2 string) {
		ls := model.LabelSet{model.LabelName(k1): model.LabelValue(v1), model.LabelName(k2): model.LabelValue(v2)}
		for k, v := range ls {
			// Stored alerts are validated: names and values are UTF-8, so never hold 0xff.
			if !utf8Valid(string(v)) || !utf8Valid(string(k)) {
				return
			}
		}
		p := PackLabels(ls)
		if p.Fingerprint() != ls.Fingerprint() {
			t.Fatalf("fingerprint differs for %v", ls)
		}
		if !reflect.DeepEqual(p.LabelSet(), ls) {
			t.Fatalf("round trip %v -> %v", ls, p.LabelSet())
		}
	})
}

// TestStoreMergeMatchesUpstream puts the same random updates into upstream's provider/mem and
// into Vigil's store and requires the same stored alerts after every step.
func TestStoreMergeMatchesUpstream(t *testing.T) {
	logger := slog.New(slog.DiscardHandler)
	up, err := mem.NewAlerts(context.Background(), time.Hour, 0, nil, logger, eventrecorder.NopRecorder(), prometheus.NewRegistry(), featurecontrol.NoopFlags{})
	if err != nil {
		t.Fatal(err)
	}
	defer up.Close()
	s := newAlertStore(time.Hour, nil, logger, nil)
	defer s.close()

	rng := rand.New(rand.NewSource(1))
	base := time.Now().Truncate(time.Second)
	at := func() time.Time { return base.Add(time.Duration(rng.Intn(20)-10) * time.Minute) }
	names := []model.LabelValue{"A", "B", "C"}
	for step := 0; step < 3000; step++ {
		a := &types.Alert{Alert: model.Alert{
			Labels:       model.LabelSet{"alertname": names[rng.Intn(len(names))], "job": "j"},
			Annotations:  model.LabelSet{"v": model.LabelValue(rune('a' + rng.Intn(3)))},
			GeneratorURL: "http://g/" + string(rune('0'+rng.Intn(3))),
		}, UpdatedAt: at()}
		a.StartsAt = at()
		switch rng.Intn(3) {
		case 0:
			a.EndsAt, a.Timeout = a.StartsAt.Add(5*time.Minute), true
		case 1:
			a.EndsAt = at()
		default:
			a.EndsAt = a.StartsAt.Add(time.Duration(rng.Intn(30)) * time.Minute)
		}
		if rng.Intn(10) == 0 {
			a.Annotations = nil
		}
		b := *a
		if err := up.Put(context.Background(), a); err != nil {
			t.Fatal(err)
		}
		if err := s.Put(context.Background(), &b); err != nil {
			t.Fatal(err)
		}
		fp := a.Fingerprint()
		want, err1 := up.Get(fp)
		got, err2 := s.Get(fp)
		if err1 != nil || err2 != nil {
			t.Fatalf("step %d: get: %v %v", step, err1, err2)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("step %d: stored\n%+v\nupstream\n%+v", step, got, want)
		}
	}
}

func TestStoreGC(t *testing.T) {
	var gced model.Fingerprints
	s := newAlertStore(time.Hour, func(fps model.Fingerprints) { gced = append(gced, fps...) }, slog.New(slog.DiscardHandler), nil)
	defer s.close()
	now := time.Now()
	firing := Incoming{Labels: PackLabels(model.LabelSet{"a": "firing"}), StartsAt: now, EndsAt: now.Add(time.Hour), UpdatedAt: now}
	resolved := Incoming{Labels: PackLabels(model.LabelSet{"a": "resolved"}), StartsAt: now.Add(-time.Hour), EndsAt: now.Add(-time.Minute), UpdatedAt: now}
	s.put([]Incoming{firing, resolved})
	s.gc()
	if s.len() != 1 || len(gced) != 1 || gced[0] != resolved.Labels.Fingerprint() {
		t.Fatalf("after gc: %d alerts, gc callback %v", s.len(), gced)
	}
	if _, err := s.Get(firing.Labels.Fingerprint()); err != nil {
		t.Errorf("firing alert gone: %v", err)
	}
}

func utf8Valid(s string) bool { return model.LabelValue(s).IsValid() }
