package tsdb

import (
	"context"
	"testing"

	"github.com/prometheus/prometheus/model/labels"

	"github.com/vigil-monitoring/vigil/storage"
)

// The series iterator reports ValFloat for every sample, in blocks and in the head, AtT agrees
// with At, and the end (of the data or of the querier's range) is ValNone, for Next and SeekTo
// alike and however often it is asked.
func TestSeriesIteratorValueTypes(t *testing.T) {
	db := openTestDB(t, &Options{MinBlockDuration: hour, MaxBlockDuration: 3 * hour})
	want := map[string][]tsample{}
	fill(t, db, 3, 0, 4*hour, 60000, want)
	if err := db.Compact(); err != nil {
		t.Fatal(err)
	}
	if len(db.Blocks()) == 0 {
		t.Fatal("no block cut: the test would only cover the head")
	}
	for _, tc := range []struct {
		name       string
		mint, maxt int64
	}{
		{"blocks and head", 0, 4 * hour},
		{"inside a block", hour / 2, hour + hour/2},
		{"head only", 4*hour - hour/4, 4 * hour},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q, err := db.Querier(tc.mint, tc.maxt)
			if err != nil {
				t.Fatal(err)
			}
			defer q.Close()
			ss := q.Select(context.Background(), true, nil, labels.MustNewMatcher(labels.MatchEqual, "__name__", "m"))
			var it storage.Iterator
			for ss.Next() {
				s := ss.At()
				var w []tsample
				for _, p := range want[s.Labels().String()] {
					if p.t >= tc.mint && p.t <= tc.maxt {
						w = append(w, p)
					}
				}
				it = s.Iterator(it)
				n := 0
				for {
					vt := it.Next()
					if vt == storage.ValNone {
						break
					}
					if vt != storage.ValFloat {
						t.Fatalf("%s: Next() = %v, want float", s.Labels(), vt)
					}
					ts, v := it.At()
					if it.AtT() != ts {
						t.Fatalf("%s: AtT() = %d, At() at %d", s.Labels(), it.AtT(), ts)
					}
					if n >= len(w) || w[n].t != ts || w[n].v != v {
						t.Fatalf("%s: sample %d = (%d, %v), want %v", s.Labels(), n, ts, v, w[n:min(n+1, len(w))])
					}
					n++
				}
				if n != len(w) {
					t.Fatalf("%s: read %d samples, want %d", s.Labels(), n, len(w))
				}
				if vt := it.Next(); vt != storage.ValNone {
					t.Fatalf("%s: Next() after the end = %v", s.Labels(), vt)
				}
				if err := it.Err(); err != nil {
					t.Fatal(err)
				}

				it = s.Iterator(it)
				mid := w[len(w)/2].t
				if vt := it.SeekTo(mid - 1); vt != storage.ValFloat || it.AtT() != mid {
					t.Fatalf("%s: SeekTo(%d) = %v at %d, want float at %d", s.Labels(), mid-1, vt, it.AtT(), mid)
				}
				if vt := it.SeekTo(mid - 60000); vt != storage.ValFloat || it.AtT() != mid {
					t.Fatalf("%s: SeekTo backwards = %v at %d, want float staying at %d", s.Labels(), vt, it.AtT(), mid)
				}
				if vt := it.SeekTo(tc.maxt + 1); vt != storage.ValNone {
					t.Fatalf("%s: SeekTo past the range = %v", s.Labels(), vt)
				}
				if vt := it.Next(); vt != storage.ValNone {
					t.Fatalf("%s: Next() after seeking past the range = %v", s.Labels(), vt)
				}
			}
			if err := ss.Err(); err != nil {
				t.Fatal(err)
			}
		})
	}
}
