package v1

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"
	"github.com/prometheus/client_golang/api"
	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/prometheus/model/labels"
	utsdb "github.com/prometheus/prometheus/tsdb"

	"github.com/vigil-monitoring/vigil/storage"
	"github.com/vigil-monitoring/vigil/tsdb"
)

type fakeAlertmanagers struct{ active, dropped []*url.URL }

func (f fakeAlertmanagers) Alertmanagers() []*url.URL        { return f.active }
func (f fakeAlertmanagers) DroppedAlertmanagers() []*url.URL { return f.dropped }

func mustURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func TestAlertmanagersEndpoint(t *testing.T) {
	// Without alerting, Prometheus answers empty lists (not null).
	env := newTestEnv(t, nil)
	runCases(t, env, []apiCase{{
		name: "no retriever", path: "/api/v1/alertmanagers", code: 200,
		body: `{"status":"success","data":{"activeAlertmanagers":[],"droppedAlertmanagers":[]}}`,
	}})

	am := fakeAlertmanagers{
		active:  []*url.URL{mustURL(t, "http://am1:9093/api/v2/alerts"), mustURL(t, "https://am2.example/prefix/api/v2/alerts")},
		dropped: []*url.URL{mustURL(t, "http://dropped:9093/api/v2/alerts")},
	}
	env = newTestEnv(t, func(o *Options) { o.Alertmanagers = am })
	runCases(t, env, []apiCase{{
		name: "active and dropped", path: "/api/v1/alertmanagers", code: 200,
		body: `{"status":"success","data":{"activeAlertmanagers":[{"url":"http://am1:9093/api/v2/alerts"},{"url":"https://am2.example/prefix/api/v2/alerts"}],` +
			`"droppedAlertmanagers":[{"url":"http://dropped:9093/api/v2/alerts"}]}}`,
	}})

	// The Go client decodes it.
	client, err := api.NewClient(api.Config{Address: env.srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	res, err := promv1.NewAPI(client).AlertManagers(context.Background())
	if err != nil || len(res.Active) != 2 || res.Active[1].URL != "https://am2.example/prefix/api/v2/alerts" ||
		len(res.Dropped) != 1 || res.Dropped[0].URL != "http://dropped:9093/api/v2/alerts" {
		t.Fatalf("client_golang AlertManagers: %+v %v", res, err)
	}
}

func TestWALReplayEndpoint(t *testing.T) {
	db := newTestDB(t)
	dir := db.Dir()
	opts := tsdb.DefaultOptions()
	opts.RetentionDuration = (100 * 365 * 24 * time.Hour).Milliseconds()
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	// Reopened: segment 0 holds the data, covered by the head snapshot that Close wrote after
	// cutting segment 1; opening cut segment 2. Only the segments after the snapshot (1 and
	// 2) are replayed.
	db, err := tsdb.Open(dir, opts, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	env := newTestEnvDB(t, db, nil)
	runCases(t, env, []apiCase{{
		name: "after replay", path: "/api/v1/status/walreplay", code: 200,
		body: `{"status":"success","data":{"min":1,"max":2,"current":2}}`,
	}})
	client, err := api.NewClient(api.Config{Address: env.srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	st, err := promv1.NewAPI(client).WalReplay(context.Background())
	if err != nil || st != (promv1.WalReplayStatus{Min: 1, Max: 2, Current: 2}) {
		t.Fatalf("client_golang WalReplay: %+v %v", st, err)
	}

	env = newTestEnv(t, func(o *Options) { o.DB = nil })
	runCases(t, env, []apiCase{{name: "no DB", path: "/api/v1/status/walreplay", code: 500, errType: "unavailable"}})
}

func TestTSDBBlocksEndpoint(t *testing.T) {
	env := newTestEnv(t, nil)
	runCases(t, env, []apiCase{{
		name: "head only", path: "/api/v1/status/tsdb/blocks", code: 200,
		body: `{"status":"success","data":{"blocks":[]}}`,
	}})

	// One-minute blocks: compaction cuts the ten minutes of test data into blocks.
	opts := tsdb.DefaultOptions()
	opts.RetentionDuration = (100 * 365 * 24 * time.Hour).Milliseconds()
	opts.MinBlockDuration = time.Minute.Milliseconds()
	opts.MaxBlockDuration = 3 * time.Minute.Milliseconds()
	db, err := tsdb.Open(t.TempDir(), opts, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	app := db.Appender(context.Background())
	src := newTestDB(t)
	q, err := src.Querier(0, 1<<62)
	if err != nil {
		t.Fatal(err)
	}
	ss := q.Select(context.Background(), false, nil, mustMatcher(t, "__name__", ".+"))
	var it storage.Iterator
	for ss.Next() {
		s := ss.At()
		it = s.Iterator(it)
		for it.Next() != storage.ValNone {
			ts, v := it.At()
			if _, err := app.Append(0, s.Labels(), ts, v); err != nil {
				t.Fatal(err)
			}
		}
	}
	q.Close()
	if err := app.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := db.Compact(); err != nil {
		t.Fatal(err)
	}
	blocks := db.Blocks()
	if len(blocks) < 2 {
		t.Fatalf("%d blocks after compaction", len(blocks))
	}
	env = newTestEnvDB(t, db, nil)
	res := env.do(t, http.MethodGet, "/api/v1/status/tsdb/blocks", nil)
	if res.code != 200 {
		t.Fatalf("status %d: %s", res.code, res.body)
	}
	// Decodes into Prometheus's own type with no field left over.
	var body struct {
		Status string                       `json:"status"`
		Data   map[string][]utsdb.BlockMeta `json:"data"`
	}
	dec := json.NewDecoder(bytes.NewReader([]byte(res.body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&body); err != nil {
		t.Fatalf("decoding as upstream BlockMeta: %v\n%s", err, res.body)
	}
	got := body.Data["blocks"]
	if body.Status != "success" || len(got) != len(blocks) {
		t.Fatalf("%d blocks in %s, want %d", len(got), res.body, len(blocks))
	}
	for i, b := range blocks {
		m, g := b.Meta(), got[i]
		if g.ULID != ulid.MustParse(m.ULID) || g.MinTime != m.MinTime || g.MaxTime != m.MaxTime || g.Version != m.Version ||
			g.Stats.NumSamples != m.Stats.NumSamples || g.Stats.NumFloatSamples != m.Stats.NumSamples || g.Stats.NumSamples == 0 ||
			g.Stats.NumSeries != m.Stats.NumSeries || g.Stats.NumChunks != m.Stats.NumChunks ||
			g.Compaction.Level != m.Compaction.Level || len(g.Compaction.Sources) != len(m.Compaction.Sources) ||
			len(g.Compaction.Parents) != len(m.Compaction.Parents) {
			t.Errorf("block %d: got %+v, want %+v", i, g, m)
		}
	}
}

func mustMatcher(t *testing.T, name, re string) *labels.Matcher {
	t.Helper()
	m, err := labels.NewMatcher(labels.MatchRegexp, name, re)
	if err != nil {
		t.Fatal(err)
	}
	return m
}
