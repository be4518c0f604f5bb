package write

import (
	"strconv"
	"strings"
	"testing"

	"github.com/prometheus/prometheus/model/labels"
)

// decodeSeries reads a record back into labels, as the 2.0 encoder does.
func decodeSeries(g *arenaGen, off uint32) (labels.Labels, uint32) {
	pbLen, pairs := g.record(off)
	pages := *g.pairPages.Load()
	b := labels.NewScratchBuilder(len(pairs))
	var n uint32
	for _, p := range pairs {
		pb := g.pair(pages, p)
		n += uint32(len(pb))
		b.Add(labelPair(pb))
	}
	if n != pbLen {
		panic("pbLen " + strconv.Itoa(int(pbLen)) + " != " + strconv.Itoa(int(n)))
	}
	return b.Labels(), pbLen
}

func TestArenaGenRoundTrip(t *testing.T) {
	big := strings.Repeat("v", 3*arenaPageMax) // larger than a page: a page of its own
	tests := []struct {
		name  string
		lsets []labels.Labels
	}{
		{"one", []labels.Labels{labels.FromStrings("__name__", "up", "job", "node")}},
		{"empty value and name", []labels.Labels{labels.FromStrings("", "", "a", "")}},
		{"no labels", []labels.Labels{labels.EmptyLabels()}},
		{"larger than a page", []labels.Labels{
			labels.FromStrings("__name__", "m", "big", big),
			labels.FromStrings("__name__", "m", "small", "x"),
			labels.FromStrings("__name__", "m", "big", big),
		}},
		{"many pages", func() []labels.Labels {
			var ls []labels.Labels
			for i := range 50000 {
				ls = append(ls, benchLabels(i), labels.FromStrings("__name__", "churn", "pod", "pod-"+strconv.Itoa(i)))
			}
			return ls
		}()},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g := newArenaGen()
			offs := make([]uint32, len(tc.lsets))
			for i, lset := range tc.lsets {
				off, _, _, ok := encodeSeries(g, lset, nil, nil)
				if !ok {
					t.Fatal("arena full")
				}
				if off == offUnknown || off == offDropped {
					t.Fatalf("record at reserved offset %d", off)
				}
				offs[i] = off
			}
			// Read back after all writes: nothing written later moved or overwrote a record.
			for i, lset := range tc.lsets {
				got, pbLen := decodeSeries(g, offs[i])
				if !labels.Equal(got, lset) {
					t.Fatalf("series %d: %v, want %v", i, got, lset)
				}
				var want []byte
				lset.Range(func(l labels.Label) { want = appendLabelV1(want, l) })
				if int(pbLen) != len(want) {
					t.Fatalf("series %d: encoded length %d, want %d", i, pbLen, len(want))
				}
			}
			// Equal pairs are stored once.
			pairs := map[string]uint32{}
			pages := *g.pairPages.Load()
			for _, off := range offs {
				_, ps := g.record(off)
				for _, p := range ps {
					k := string(g.pair(pages, p))
					if r, ok := pairs[k]; ok && r != p {
						t.Fatalf("pair %q stored twice (%d, %d)", k, r, p)
					}
					pairs[k] = p
				}
			}
			if g.indexed != len(pairs) {
				t.Fatalf("index holds %d pairs, %d distinct", g.indexed, len(pairs))
			}
			// Copying into a new generation keeps every series.
			ng := newArenaGen()
			for i, off := range offs {
				noff, _, ok := g.copyRecord(off, ng, nil)
				if !ok {
					t.Fatal("arena full")
				}
				if got, _ := decodeSeries(ng, noff); !labels.Equal(got, tc.lsets[i]) {
					t.Fatalf("copied series %d: %v, want %v", i, got, tc.lsets[i])
				}
			}
		})
	}
}

func TestRefTable(t *testing.T) {
	var rt refTable
	refs := []uint64{1, 2, refPageSize - 1, refPageSize, 5 * refPageSize, maxDenseRef, maxDenseRef + 7, 1<<63 + 3}
	for i, r := range refs {
		rt.set(r, refEntry{off: uint32(10 + i), seg: int32(i)})
	}
	rt.set(2, refEntry{off: offDropped, seg: 9}) // overwrite: still one entry
	if rt.n != len(refs) {
		t.Fatalf("n = %d, want %d", rt.n, len(refs))
	}
	for i, r := range refs {
		want := refEntry{off: uint32(10 + i), seg: int32(i)}
		if r == 2 {
			want = refEntry{off: offDropped, seg: 9}
		}
		if got := rt.get(r); got != want {
			t.Errorf("get(%d) = %v, want %v", r, got, want)
		}
	}
	for _, r := range []uint64{0, 3, 2 * refPageSize, 1000 * refPageSize, maxDenseRef + 1} {
		if got := rt.get(r); got != (refEntry{}) {
			t.Errorf("get(%d) of an unknown ref = %v", r, got)
		}
	}
	// Forget all but ref 1 and the sparse maxDenseRef: emptied pages are freed.
	rt.update(func(ref uint64, e refEntry) refEntry {
		if ref == 1 || ref == maxDenseRef {
			e.seg = 42
			return e
		}
		return refEntry{}
	})
	if rt.n != 2 || rt.get(1).seg != 42 || rt.get(maxDenseRef).seg != 42 || rt.get(refPageSize).off != offUnknown {
		t.Fatalf("after update: n=%d get(1)=%v get(maxDenseRef)=%v", rt.n, rt.get(1), rt.get(maxDenseRef))
	}
	for p, pg := range rt.pages {
		if p != 0 && pg != nil {
			t.Errorf("page %d not freed", p)
		}
	}
}
