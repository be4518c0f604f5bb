package scrape

import (
	"context"
	"errors"
	"math"
	"testing"
	"time"

	"github.com/vigil-monitoring/vigil/storage"
)

func chunksOf(pieces ...string) func(yield func([]byte) error) error {
	return func(yield func([]byte) error) error {
		for _, p := range pieces {
			if err := yield([]byte(p)); err != nil {
				return err
			}
		}
		return nil
	}
}

// Ingest appends pieces as one scrape with honor_labels and no target labels: labels as exposed,
// an empty instance is no label, no report series; series missing from the next ingest get stale
// markers; a failing ingest stores nothing of itself and marks everything of the previous one
// stale.
func TestIngester(t *testing.T) {
	st := newTestStorage()
	ing := NewIngester("pushgateway", st, nil)
	const text = "text/plain; version=0.0.4"
	t0 := time.Unix(1_700_000_000, 0)
	if _, err := ing.Ingest(context.Background(), t0, text, chunksOf(
		"# TYPE a gauge\na{instance=\"\",job=\"j\"} 1\n",
		"# TYPE b counter\nb{instance=\"i\",job=\"k\"} 2\n",
	)); err != nil {
		t.Fatal(err)
	}
	if got := st.series(`{__name__="a", job="j"}`); len(got) != 1 || got[0].v != 1 {
		t.Fatalf("a: %v", got)
	}
	if got := st.series(`{__name__="b", instance="i", job="k"}`); len(got) != 1 || got[0].v != 2 {
		t.Fatalf("b: %v", got)
	}
	if n := st.names(); len(n) != 2 {
		t.Fatalf("names %v: report series written", n)
	}

	// b is gone: stale marker.
	t1 := t0.Add(time.Second)
	if _, err := ing.Ingest(context.Background(), t1, text, chunksOf("a{instance=\"\",job=\"j\"} 3\n")); err != nil {
		t.Fatal(err)
	}
	if got := st.series(`{__name__="b", instance="i", job="k"}`); len(got) != 2 || !isStale(got[1].v) || got[1].t != t1.UnixMilli() {
		t.Fatalf("b after it went away: %v", got)
	}

	// A failing ingest: nothing of it is stored, a is marked stale.
	t2 := t1.Add(time.Second)
	boom := errors.New("boom")
	_, err := ing.Ingest(context.Background(), t2, text, func(yield func([]byte) error) error {
		if err := yield([]byte("a{instance=\"\",job=\"j\"} 4\nc 1\n")); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("err %v", err)
	}
	got := st.series(`{__name__="a", job="j"}`)
	if len(got) != 3 || !isStale(got[2].v) {
		t.Fatalf("a after a failed ingest: %v", got)
	}
	if got := st.series(`{__name__="c"}`); len(got) != 0 {
		t.Fatalf("c of the failed ingest stored: %v", got)
	}

	// An unparsable piece fails the ingest the same way.
	if _, err := ing.Ingest(context.Background(), t2.Add(time.Second), text, chunksOf("a{ 1\n")); err == nil {
		t.Fatal("unparsable piece accepted")
	}
}

func isStale(v float64) bool {
	return math.Float64bits(v) == math.Float64bits(storage.StaleNaN())
}
