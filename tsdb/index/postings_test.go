package index

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

// refModel is the naive reference a Postings implementation is checked against.
type refModel struct {
	list []uint64
	pos  int
}

func (m *refModel) next() bool {
	if m.pos < len(m.list) {
		m.pos++
	}
	return m.pos < len(m.list)
}

func (m *refModel) seek(v uint64) bool {
	if m.pos < 0 {
		m.pos = 0
	}
	for m.pos < len(m.list) && m.list[m.pos] < v {
		m.pos++
	}
	return m.pos < len(m.list)
}

// checkAgainst drives p and the model with the same random Next/Seek sequence.
func checkAgainst(t *testing.T, name string, p Postings, want []uint64, rng *rand.Rand) {
	t.Helper()
	m := &refModel{list: want, pos: -1}
	var maxV uint64 = 10
	if len(want) > 0 {
		maxV = want[len(want)-1] + 3
	}
	for step := 0; step < 3*len(want)+10; step++ {
		var got, exp bool
		var op string
		if rng.IntN(3) == 0 {
			v := rng.Uint64N(maxV)
			op = fmt.Sprintf("Seek(%d)", v)
			got, exp = p.Seek(v), m.seek(v)
		} else {
			op = "Next()"
			got, exp = p.Next(), m.next()
		}
		if got != exp {
			t.Fatalf("%s: step %d %s = %v, want %v", name, step, op, got, exp)
		}
		if !got {
			// Exhausted iterators must stay exhausted.
			if p.Next() || p.Seek(0) {
				t.Fatalf("%s: iterator revived after exhaustion", name)
			}
			break
		}
		if p.At() != m.list[m.pos] {
			t.Fatalf("%s: step %d %s: At() = %d, want %d", name, step, op, p.At(), m.list[m.pos])
		}
	}
	if err := p.Err(); err != nil {
		t.Fatalf("%s: unexpected error %v", name, err)
	}
}

func randList(rng *rand.Rand, n int, maxV uint64) []uint64 {
	set := map[uint64]struct{}{}
	for range n {
		set[rng.Uint64N(maxV)] = struct{}{}
	}
	out := make([]uint64, 0, len(set))
	for v := range set {
		out = append(out, v)
	}
	slices.Sort(out)
	return out
}

func naiveIntersect(lists ...[]uint64) []uint64 {
	if len(lists) == 0 {
		return nil
	}
	var out []uint64
outer:
	for _, v := range lists[0] {
		for _, l := range lists[1:] {
			if _, ok := slices.BinarySearch(l, v); !ok {
				continue outer
			}
		}
		out = append(out, v)
	}
	return out
}

func naiveMerge(lists ...[]uint64) []uint64 {
	var out []uint64
	for _, l := range lists {
		out = append(out, l...)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func naiveWithout(full, drop []uint64) []uint64 {
	var out []uint64
	for _, v := range full {
		if _, ok := slices.BinarySearch(drop, v); !ok {
			out = append(out, v)
		}
	}
	return out
}

func lists(ls [][]uint64) []Postings {
	out := make([]Postings, len(ls))
	for i, l := range ls {
		out[i] = NewListPostings(l)
	}
	return out
}

func TestPostingsOpsTable(t *testing.T) {
	cases := []struct {
		name string
		mk   func() Postings
		want []uint64
	}{
		{"list", func() Postings { return NewListPostings([]uint64{1, 5, 9}) }, []uint64{1, 5, 9}},
		{"empty list", func() Postings { return NewListPostings(nil) }, nil},
		{"intersect none", func() Postings { return Intersect() }, nil},
		{"intersect one", func() Postings { return Intersect(NewListPostings([]uint64{2, 3})) }, []uint64{2, 3}},
		{"intersect two", func() Postings {
			return Intersect(NewListPostings([]uint64{1, 2, 3, 4, 5}), NewListPostings([]uint64{2, 4, 6}))
		}, []uint64{2, 4}},
		{"intersect three disjoint", func() Postings {
			return Intersect(NewListPostings([]uint64{1, 2}), NewListPostings([]uint64{2, 3}), NewListPostings([]uint64{3, 4}))
		}, nil},
		{"intersect with empty", func() Postings {
			return Intersect(NewListPostings([]uint64{1, 2}), EmptyPostings())
		}, nil},
		{"merge none", func() Postings { return Merge() }, nil},
		{"merge dup", func() Postings {
			return Merge(NewListPostings([]uint64{1, 3, 5}), NewListPostings([]uint64{1, 2, 5, 7}), EmptyPostings())
		}, []uint64{1, 2, 3, 5, 7}},
		{"merge nested", func() Postings {
			return Merge(Merge(NewListPostings([]uint64{1}), NewListPostings([]uint64{4})),
				Intersect(NewListPostings([]uint64{2, 4, 8}), NewListPostings([]uint64{4, 8})))
		}, []uint64{1, 4, 8}},
		{"without", func() Postings {
			return Without(NewListPostings([]uint64{1, 2, 3, 4, 5}), NewListPostings([]uint64{0, 2, 3, 9}))
		}, []uint64{1, 4, 5}},
		{"without all", func() Postings {
			return Without(NewListPostings([]uint64{1, 2}), NewListPostings([]uint64{1, 2}))
		}, nil},
		{"without empty drop", func() Postings {
			return Without(NewListPostings([]uint64{1, 2}), EmptyPostings())
		}, []uint64{1, 2}},
		{"max values", func() Postings {
			return Intersect(NewListPostings([]uint64{0, 1<<64 - 1}), NewListPostings([]uint64{0, 1<<64 - 1}))
		}, []uint64{0, 1<<64 - 1}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ExpandPostings(tc.mk())
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
			for seed := range uint64(20) {
				checkAgainst(t, tc.name, tc.mk(), tc.want, rand.New(rand.NewPCG(seed, 1)))
			}
		})
	}
}

func TestPostingsOpsRandomAgainstNaive(t *testing.T) {
	rng := rand.New(rand.NewPCG(42, 7))
	for iter := range 300 {
		n := 1 + rng.IntN(6)
		maxV := uint64(10 + rng.IntN(2000))
		ls := make([][]uint64, n)
		for i := range ls {
			ls[i] = randList(rng, rng.IntN(int(maxV)), maxV)
		}
		name := fmt.Sprintf("iter%d", iter)
		checkAgainst(t, name+"/intersect", Intersect(lists(ls)...), naiveIntersect(ls...), rng)
		checkAgainst(t, name+"/merge", Merge(lists(ls)...), naiveMerge(ls...), rng)
		checkAgainst(t, name+"/without", Without(NewListPostings(ls[0]), Merge(lists(ls[1:])...)),
			naiveWithout(ls[0], naiveMerge(ls[1:]...)), rng)
		// Compositions, as the querier builds them for a=1, b=~"x|y", c!="z".
		if n >= 3 {
			p := Without(Intersect(NewListPostings(ls[0]), Merge(NewListPostings(ls[1]), NewListPostings(ls[2]))),
				Merge(lists(ls[3:])...))
			want := naiveWithout(naiveIntersect(ls[0], naiveMerge(ls[1], ls[2])), naiveMerge(ls[3:]...))
			checkAgainst(t, name+"/composed", p, want, rng)
		}
	}
}

func TestPostingsErrorsPropagate(t *testing.T) {
	boom := errors.New("boom")
	a := func() Postings { return NewListPostings([]uint64{1, 2, 3}) }
	for name, p := range map[string]Postings{
		"intersect":    Intersect(a(), ErrPostings(boom)),
		"merge":        Merge(a(), ErrPostings(boom)),
		"without full": Without(ErrPostings(boom), a()),
		"without drop": Without(a(), ErrPostings(boom)),
	} {
		if _, err := ExpandPostings(p); !errors.Is(err, boom) {
			t.Errorf("%s: err = %v, want boom", name, err)
		}
	}
}

func BenchmarkIntersect(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	big := randList(rng, 1_000_000, 4_000_000)
	mid := randList(rng, 100_000, 4_000_000)
	small := randList(rng, 1000, 4_000_000)
	b.Run("big-mid-small", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			p := Intersect(NewListPostings(big), NewListPostings(mid), NewListPostings(small))
			for p.Next() {
			}
		}
	})
	b.Run("big-big", func(b *testing.B) {
		big2 := randList(rng, 1_000_000, 4_000_000)
		b.ReportAllocs()
		for b.Loop() {
			p := Intersect(NewListPostings(big), NewListPostings(big2))
			for p.Next() {
			}
		}
	})
}

func BenchmarkMerge(b *testing.B) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, n := range []int{2, 10, 100} {
		ls := make([][]uint64, n)
		for i := range ls {
			ls[i] = randList(rng, 1_000_000/n, 4_000_000)
		}
		b.Run(fmt.Sprintf("inputs=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				p := Merge(lists(ls)...)
				for p.Next() {
				}
			}
		})
	}
}

func BenchmarkWithout(b *testing.B) {
	rng := rand.New(rand.NewPCG(5, 6))
	full := randList(rng, 1_000_000, 2_000_000)
	drop := randList(rng, 100_000, 2_000_000)
	b.ReportAllocs()
	for b.Loop() {
		p := Without(NewListPostings(full), NewListPostings(drop))
		for p.Next() {
		}
	}
}
