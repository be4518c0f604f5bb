package pushgateway

import (
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	pgstorage "github.com/prometheus/pushgateway/storage"
	"google.golang.org/protobuf/encoding/prototext"
)

// op is one write request of a test sequence: a push (PUT replaces, POST adds) of a text body,
// or a delete.
type op struct {
	labels  map[string]string
	body    string // text format; "" with del
	replace bool
	del     bool
}

func (o op) String() string {
	switch {
	case o.del:
		return fmt.Sprintf("DELETE %v", o.labels)
	case o.replace:
		return fmt.Sprintf("PUT %v\n%s", o.labels, o.body)
	}
	return fmt.Sprintf("POST %v\n%s", o.labels, o.body)
}

func parseText(t testing.TB, body string) map[string]*dto.MetricFamily {
	t.Helper()
	p := expfmt.NewTextParser(model.LegacyValidation)
	mfs, err := p.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("test body does not parse: %v\n%s", err, body)
	}
	return mfs
}

// submit applies o to ms as the Pushgateway's handlers do (with the consistency check) and
// waits for it; it returns the error sent to Done.
func submit(t testing.TB, ms pgstorage.MetricStore, o op, now time.Time) error {
	wr := pgstorage.WriteRequest{Labels: copyMap(o.labels), Timestamp: now, Replace: o.replace, Done: make(chan error, 1)}
	if !o.del {
		wr.MetricFamilies = parseText(t, o.body)
	}
	ms.SubmitWriteRequest(wr)
	var err error
	for e := range wr.Done {
		err = e
	}
	return err
}

func copyMap(m map[string]string) map[string]string {
	c := make(map[string]string, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

// dump renders a store's groups canonically: grouping labels, then each family with its
// push time, type, help and metrics sorted.
func dump(ms pgstorage.MetricStore) string {
	m := ms.GetMetricFamiliesMap()
	var keys []string
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		g := m[k]
		fmt.Fprintf(&b, "group %v last_push_successful=%v\n", g.Labels, g.LastPushSuccess())
		names := make([]string, 0, len(g.Metrics))
		for n := range g.Metrics {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			tmf := g.Metrics[n]
			mf := tmf.GetMetricFamily()
			var ms []string
			for _, metric := range mf.GetMetric() {
				ms = append(ms, prototext.Format(metric))
			}
			sort.Strings(ms)
			fmt.Fprintf(&b, "  %s %s help=%q at=%d\n    %s\n", n, mf.GetType(), mf.GetHelp(), tmf.Timestamp.UnixNano(), strings.Join(ms, "\n    "))
		}
	}
	return b.String()
}

// randomOp makes write requests that often conflict: few jobs and names, names that collide
// through suffixes, groups that can hold the same series, all metric types.
func randomOp(r *rand.Rand) op {
	for {
		o := randomOp1(r)
		if o.del {
			return o
		}
		p := expfmt.NewTextParser(model.LegacyValidation)
		if _, err := p.TextToMetricFamilies(strings.NewReader(o.body)); err == nil {
			return o
		}
	}
}

func randomOp1(r *rand.Rand) op {
	gl := map[string]string{"job": []string{"a", "b"}[r.IntN(2)]}
	switch r.IntN(4) {
	case 0:
		gl["instance"] = []string{"", "i1", "i2", "i1", "i2", "i1", "i2", "i1"}[r.IntN(8)]
	case 1:
		gl["g"] = "v"
	}
	o := op{labels: gl}
	switch r.IntN(10) {
	case 0:
		o.del = true
		return o
	case 1, 2, 3, 4:
		o.replace = true
	}
	names := []string{"m", "m_count", "m_sum", "m_bucket", "n", "n_total", "push_time_seconds"}
	var b strings.Builder
	seen := map[string]bool{}
	for range 1 + r.IntN(3) {
		name := names[r.IntN(len(names))]
		if seen[name] {
			continue
		}
		seen[name] = true
		typ := []string{"counter", "gauge", "untyped", "summary", "histogram"}[r.IntN(5)]
		if r.IntN(3) == 0 {
			fmt.Fprintf(&b, "# HELP %s help %d\n", name, r.IntN(2))
		}
		fmt.Fprintf(&b, "# TYPE %s %s\n", name, typ)
		for range 1 + r.IntN(2) {
			var ls []string
			if r.IntN(3) == 0 {
				ls = append(ls, fmt.Sprintf(`instance="%s"`, []string{"", "i1", "i2"}[r.IntN(3)]))
			}
			if r.IntN(3) == 0 {
				ls = append(ls, `g="v"`)
			}
			if r.IntN(2) == 0 {
				ls = append(ls, fmt.Sprintf(`l="%d"`, r.IntN(2)))
			}
			v := r.IntN(5)
			lbl := func(extra ...string) string {
				all := append(slices.Clone(ls), extra...)
				if len(all) == 0 {
					return ""
				}
				return "{" + strings.Join(all, ",") + "}"
			}
			switch typ {
			case "summary":
				fmt.Fprintf(&b, "%s%s %d\n%s_sum%s %d\n%s_count%s %d\n", name, lbl(`quantile="0.5"`), v, name, lbl(), v, name, lbl(), v)
			case "histogram":
				fmt.Fprintf(&b, "%s_bucket%s %d\n%s_bucket%s %d\n%s_sum%s %d\n%s_count%s %d\n", name, lbl(`le="1"`), v, name, lbl(`le="+Inf"`), v, name, lbl(), v, name, lbl(), v)
			default:
				fmt.Fprintf(&b, "%s%s %d\n", name, lbl(), v)
			}
		}
	}
	o.body = b.String()
	return o
}

// The store accepts and refuses exactly the write requests the Pushgateway's DiskMetricStore
// accepts and refuses, and ends up holding the same groups, over random sequences made to
// conflict (types, duplicate series across groups, suffix collisions, push_time_seconds
// clashes of groups that differ only by an empty instance label).
func TestStoreMatchesPushgateway(t *testing.T) {
	seeds := 300
	if testing.Short() {
		seeds = 40
	}
	refused, total, inconsistent := 0, 0, 0
	for seed := range seeds {
		r := rand.New(rand.NewPCG(uint64(seed), 7))
		oracle := pgstorage.NewDiskMetricStore("", time.Hour, nil, slog.New(slog.DiscardHandler))
		ours := New(nil)
		var history []string
		now := time.Unix(1_700_000_000, 0)
		for i := range 25 {
			o := randomOp(r)
			now = now.Add(time.Second)
			history = append(history, o.String())
			errWant := submit(t, oracle, o, now)
			errGot := submit(t, ours, o, now)
			total++
			if errWant != nil {
				refused++
			}
			if (errWant == nil) != (errGot == nil) {
				t.Fatalf("seed %d step %d: Pushgateway error %v, Vigil error %v\nhistory:\n%s", seed, i, errWant, errGot, strings.Join(history, "\n"))
			}
			if want, got := dump(oracle), dump(ours); want != got {
				t.Fatalf("seed %d step %d: stores differ\nPushgateway:\n%s\nVigil:\n%s\nhistory:\n%s", seed, i, want, got, strings.Join(history, "\n"))
			}
			if gatherAll(ours) != nil {
				// A refused push to a new group that differs from another only by an empty
				// instance label creates the group with timestamps that duplicate the
				// other's, in both stores. The Pushgateway then refuses every later push
				// (its check gathers everything); Vigil only those the duplicates concern.
				inconsistent++
				break
			}
		}
		if err := oracle.Shutdown(); err != nil {
			t.Fatal(err)
		}
	}
	// The sequences must exercise both outcomes.
	if refused == 0 || refused == total {
		t.Fatalf("%d of %d requests refused: the test does not exercise the check", refused, total)
	}
	t.Logf("%d of %d requests refused; %d sequences ended by a refused push that left both stores inconsistent", refused, total, inconsistent)
}

// Every consistent push sequence leaves a store whose whole exposition gathers without error
// (the property the incremental check keeps).
func gatherAll(ms pgstorage.MetricStore) error {
	_, err := prometheus.Gatherers{prometheus.GathererFunc(func() ([]*dto.MetricFamily, error) {
		return ms.GetMetricFamilies(), nil
	})}.Gather()
	return err
}

func TestStoreTable(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	job := func(kv ...string) map[string]string {
		m := map[string]string{"job": "j"}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	for _, tc := range []struct {
		name    string
		ops     []op
		wantErr string // of the last op
		// inconsistent: the refused push leaves the timestamps of a new group duplicating
		// another group's, in the Pushgateway as in Vigil.
		inconsistent bool
	}{
		{
			name: "type clash with another group",
			ops: []op{
				{labels: job("instance", "1"), body: "# TYPE x gauge\nx 1\n"},
				{labels: job("instance", "2"), body: "# TYPE x counter\nx 1\n"},
			},
			wantErr: "is not a",
		},
		{
			name: "same type in two groups",
			ops: []op{
				{labels: job("instance", "1"), body: "# TYPE x gauge\nx 1\n"},
				{labels: job("instance", "2"), body: "# TYPE x gauge\nx 2\n"},
			},
		},
		{
			name: "duplicate series across groups",
			ops: []op{
				{labels: job(), body: "x{instance=\"i\"} 1\n"},
				{labels: job("instance", "i"), body: "x 1\n"},
			},
			wantErr: "was collected before with the same name and label values",
		},
		{
			name: "push_time_seconds of a group with an empty instance",
			ops: []op{
				{labels: job(), body: "x 1\n"},
				{labels: job("instance", ""), body: "y 1\n"},
			},
			wantErr:      "was collected before with the same name and label values",
			inconsistent: true,
		},
		{
			name: "duplicate series within a push",
			ops: []op{
				{labels: job(), body: "x{a=\"1\"} 1\nx{a=\"1\"} 2\n"},
			},
			wantErr: "was collected before",
		},
		{
			name: "histogram suffix collision",
			ops: []op{
				{labels: job("instance", "1"), body: "# TYPE h histogram\nh_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 1\n"},
				{labels: job("instance", "2"), body: "# TYPE h_count gauge\nh_count 1\n"},
			},
			wantErr: "collides with previously collected",
		},
		{
			name: "help differs between groups (accepted, as by the Pushgateway)",
			ops: []op{
				{labels: job("instance", "1"), body: "# HELP x one\nx 1\n"},
				{labels: job("instance", "2"), body: "# HELP x two\nx 1\n"},
			},
		},
		{
			name: "a PUT may change a family's type when no other group has it",
			ops: []op{
				{labels: job(), body: "# TYPE x gauge\nx 1\n"},
				{labels: job(), body: "# TYPE x counter\nx 1\n", replace: true},
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			oracle := pgstorage.NewDiskMetricStore("", time.Hour, nil, slog.New(slog.DiscardHandler))
			defer oracle.Shutdown()
			s := New(nil)
			for i, o := range tc.ops {
				now := now.Add(time.Duration(i) * time.Second)
				before := userDump(s)
				errWant := submit(t, oracle, o, now)
				err := submit(t, s, o, now)
				if (errWant == nil) != (err == nil) {
					t.Fatalf("op %d: Pushgateway error %v, Vigil error %v", i, errWant, err)
				}
				if i < len(tc.ops)-1 {
					if err != nil {
						t.Fatalf("op %d: %v", i, err)
					}
					continue
				}
				switch {
				case tc.wantErr == "" && err != nil:
					t.Fatalf("unexpected error %v", err)
				case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
					t.Fatalf("error %v, want one containing %q", err, tc.wantErr)
				}
				if err != nil {
					// Only the timestamps changed (a new group holds nothing else).
					if after := userDump(s); before != after {
						t.Fatalf("a refused push changed the store\nbefore:\n%s\nafter:\n%s", before, after)
					}
				}
			}
			if err := gatherAll(s); (err != nil) != tc.inconsistent {
				t.Fatalf("store consistency: %v", err)
			}
			if want, got := dump(oracle), dump(s); want != got {
				t.Fatalf("stores differ\nPushgateway:\n%s\nVigil:\n%s", want, got)
			}
		})
	}
}

// userDump renders the pushed families of a store, without push_time_seconds and
// push_failure_time_seconds and the groups that hold nothing else.
func userDump(ms pgstorage.MetricStore) string {
	var lines []string
	for _, g := range ms.GetMetricFamiliesMap() {
		for name, tmf := range g.Metrics {
			if name == pushMetricName || name == pushFailedMetricName {
				continue
			}
			lines = append(lines, fmt.Sprintf("%v %s %s", g.Labels, name, prototext.Format(tmf.GetMetricFamily())))
		}
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

func TestPersistence(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "pushgateway", "groups")
	s, err := Open(path, time.Hour, nil)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1_700_000_000, 0)
	r := rand.New(rand.NewPCG(1, 2))
	for range 50 {
		o := randomOp(r)
		now = now.Add(time.Second)
		_ = submit(t, s, o, now)
	}
	// A histogram and a help-less unit family survive too.
	if err := submit(t, s, op{labels: map[string]string{"job": "h", "instance": "x"}, body: "# TYPE lat histogram\nlat_bucket{le=\"0.5\"} 1\nlat_bucket{le=\"+Inf\"} 3\nlat_sum 2.5\nlat_count 3\n"}, now); err != nil {
		t.Fatal(err)
	}
	want := dump(s)
	if err := s.Shutdown(); err != nil {
		t.Fatal(err)
	}
	s2, err := Open(path, time.Hour, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := dump(s2); got != want {
		t.Fatalf("reloaded store differs\nbefore:\n%s\nafter:\n%s", want, got)
	}
	// The reloaded store checks pushes as before: the indexes were rebuilt.
	if err := submit(t, s2, op{labels: map[string]string{"job": "h", "instance": "y"}, body: "# TYPE lat gauge\nlat 1\n"}, now); err == nil {
		t.Fatal("a type clash with a reloaded group was accepted")
	}
	if err := s2.Shutdown(); err != nil {
		t.Fatal(err)
	}

	// A damaged file is moved aside; the store starts empty and the file is not lost.
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 0xff
	if err := os.WriteFile(path, b, 0o666); err != nil {
		t.Fatal(err)
	}
	s3, err := Open(path, time.Hour, nil)
	if err != nil {
		t.Fatal(err)
	}
	if g, _ := s3.Stats(); g != 0 {
		t.Fatalf("damaged file: %d groups loaded", g)
	}
	if _, err := os.Stat(path + ".damaged"); err != nil {
		t.Fatalf("damaged file not kept: %v", err)
	}
	s3.Shutdown()
}

// The persister writes changes after the interval, without a shutdown.
func TestPersistInterval(t *testing.T) {
	path := filepath.Join(t.TempDir(), "groups")
	s, err := Open(path, 10*time.Millisecond, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Shutdown()
	if err := submit(t, s, op{labels: map[string]string{"job": "x"}, body: "x 1\n"}, time.Now()); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := os.Stat(path); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("groups not written within 10s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func FuzzDecodeFile(f *testing.F) {
	s := New(nil)
	now := time.Unix(1_700_000_000, 0)
	r := rand.New(rand.NewPCG(3, 4))
	for range 10 {
		_ = submit(f, s, randomOp(r), now)
	}
	var b strings.Builder
	if err := writeGroups(&b, s.snapshot()); err != nil {
		f.Fatal(err)
	}
	f.Add([]byte(b.String()))
	f.Add([]byte(fileMagic))
	f.Fuzz(func(t *testing.T, data []byte) {
		s := New(nil)
		if err := s.decodeFile(data); err != nil {
			if g, _ := s.Stats(); g != 0 {
				t.Fatalf("failed decode left %d groups", g)
			}
			return
		}
		// Whatever loads can be listed and rendered without panicking.
		_ = s.GetMetricFamiliesMap()
		_ = s.WriteExposition(expfmt.NewFormat(expfmt.TypeTextPlain), func([]byte) error { return nil })
	})
}

// FuzzPushSequence: any sequence of pushes (text bodies from the fuzzer, parsed as the
// Pushgateway parses them) leaves the store consistent, and decides as the Pushgateway does.
func FuzzPushSequence(f *testing.F) {
	f.Add("# TYPE x gauge\nx 1\n", "# TYPE x counter\nx 1\n", "i", true)
	f.Add("x{instance=\"i\"} 1\n", "x 1\n", "i", false)
	f.Add("# TYPE h histogram\nh_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 1\n", "h_count 1\n", "", true)
	f.Fuzz(func(t *testing.T, body1, body2, instance string, replace bool) {
		p := expfmt.NewTextParser(model.LegacyValidation)
		if _, err := p.TextToMetricFamilies(strings.NewReader(body1)); err != nil {
			return
		}
		p = expfmt.NewTextParser(model.LegacyValidation)
		if _, err := p.TextToMetricFamilies(strings.NewReader(body2)); err != nil {
			return
		}
		if !model.LabelValue(instance).IsValid() {
			return
		}
		oracle := pgstorage.NewDiskMetricStore("", time.Hour, nil, slog.New(slog.DiscardHandler))
		defer oracle.Shutdown()
		s := New(nil)
		now := time.Unix(1_700_000_000, 0)
		ops := []op{
			{labels: map[string]string{"job": "j"}, body: body1, replace: true},
			{labels: map[string]string{"job": "j", "instance": instance}, body: body2, replace: replace},
			{labels: map[string]string{"job": "j"}, body: body2, replace: replace},
		}
		for i, o := range ops {
			if isProcessName(o.body) {
				return // the Pushgateway checks those against its own metrics
			}
			errWant := submit(t, oracle, o, now)
			err := submit(t, s, o, now)
			if (errWant == nil) != (err == nil) {
				t.Fatalf("op %d: Pushgateway error %v, Vigil error %v", i, errWant, err)
			}
			if gerr := gatherAll(s); gerr != nil {
				if err == nil {
					t.Fatalf("accepted op %d left the store inconsistent: %v", i, gerr)
				}
				// A refused push created a group whose timestamps duplicate another's, as
				// in the Pushgateway (see TestStoreMatchesPushgateway).
				break
			}
		}
		if want, got := dump(oracle), dump(s); want != got {
			t.Fatalf("stores differ\nPushgateway:\n%s\nVigil:\n%s", want, got)
		}
	})
}

// isProcessName tells whether a body may name a metric of client_golang's default registry,
// which the Pushgateway's check gathers too.
func isProcessName(body string) bool {
	return strings.Contains(body, "go_") || strings.Contains(body, "process_") || strings.Contains(body, "promhttp_")
}
