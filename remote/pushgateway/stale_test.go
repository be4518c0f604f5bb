package pushgateway

import (
	"strings"
	"testing"
	"time"

	"github.com/vigil-monitoring/vigil/scrape"
)

// A deleted group's series get stale markers at the next ingest; a kept group's series are
// stored again at every ingest.
func TestIngestStaleness(t *testing.T) {
	s := New(nil)
	now := time.Unix(1_700_000_000, 0)
	for _, job := range []string{"a", "b"} {
		if err := submit(t, s, op{labels: map[string]string{"job": job}, body: "# TYPE x_total counter\nx_total 3\n"}, now); err != nil {
			t.Fatal(err)
		}
	}
	app := newSamples()
	ing := scrape.NewIngester("t", app, nil)
	accept := scrape.AcceptHeader(nil)
	ingestStore(t, ing, s, accept, now)
	ingestStore(t, ing, s, accept, now.Add(time.Second))
	app.take()
	if err := submit(t, s, op{labels: map[string]string{"job": "a"}, del: true}, now); err != nil {
		t.Fatal(err)
	}
	ingestStore(t, ing, s, accept, now.Add(2*time.Second))
	got := strings.Join(app.take(), "\n")
	for _, want := range []string{
		`{__name__="x_total", job="a"} @1700000002000 stale`,
		`{__name__="x_total", job="b"} @1700000002000 3`,
		`{__name__="push_time_seconds", job="a"} @1700000002000 stale`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %s in\n%s", want, got)
		}
	}
}
