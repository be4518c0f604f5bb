package tsdb

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// refList must hold exactly the sorted set of what was appended, whatever the order, gaps
// (one-byte and multi-byte deltas) and duplicates, and encode what deleteRefs keeps.
func TestRefList(t *testing.T) {
	for _, tc := range []struct {
		name string
		next func(i int) uint64
	}{
		{"sequential", func(i int) uint64 { return uint64(i + 1) }},
		{"gaps", func(i int) uint64 { return uint64(i)*1000 + 1 }},
		{"huge", func(i int) uint64 { return uint64(i) << 40 }},
		{"shuffled", func(i int) uint64 { return uint64(rand.IntN(5000)) }},
		{"almost in order", func(i int) uint64 { return uint64(i + rand.IntN(3)) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var l refList
			want := map[uint64]bool{}
			for i := range 3000 {
				r := tc.next(i)
				l.append(r)
				want[r] = true
			}
			exp := make([]uint64, 0, len(want))
			for r := range want {
				exp = append(exp, r)
			}
			slices.Sort(exp)
			if got := l.decode(nil); !slices.Equal(got, exp) {
				t.Fatalf("decoded %d refs, want %d (first diff at %d)", len(got), len(exp), firstDiff(got, exp))
			}
			if l.len() != len(exp) {
				t.Fatalf("len() = %d, want %d", l.len(), len(exp))
			}
			kept := slices.DeleteFunc(slices.Clone(exp), func(r uint64) bool { return r%3 == 0 })
			l.encode(kept)
			if got := l.decode(nil); !slices.Equal(got, kept) {
				t.Fatalf("after encode: %d refs, want %d", len(got), len(kept))
			}
			l.append(kept[len(kept)-1] + 7)
			if got := l.decode(nil); got[len(got)-1] != kept[len(kept)-1]+7 {
				t.Fatalf("append after encode: last %d", got[len(got)-1])
			}
		})
	}
}

func firstDiff(a, b []uint64) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}
