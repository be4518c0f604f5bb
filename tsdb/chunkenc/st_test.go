package chunkenc

import (
	"math/rand"
	"testing"
)

// genSTs makes start timestamps for samples of the given kinds, as the sources write them.
func genSTs(kind string, samples []sample, r *rand.Rand) []int64 {
	sts := make([]int64, len(samples))
	for i, s := range samples {
		switch kind {
		case "none":
		case "cumulative": // a created timestamp, changing at resets
			if i == 0 || r.Intn(40) == 0 {
				sts[i] = s.t - int64(r.Intn(100000)) - 1
			} else {
				sts[i] = sts[i-1]
			}
		case "otel-delta": // st = previous sample's t
			if i > 0 {
				sts[i] = samples[i-1].t
			} else {
				sts[i] = s.t - 15000
			}
		case "gcp-delta": // st = previous t + 1ms
			if i > 0 {
				sts[i] = samples[i-1].t + 1
			} else {
				sts[i] = s.t - 14999
			}
		case "late-start": // no start timestamp for the first samples
			if i >= len(samples)/2 {
				sts[i] = samples[len(samples)/2].t - 1000
			}
		case "odd": // st after t, equal to t, negative, huge, back to none
			sts[i] = []int64{s.t + 1, s.t, -5, 1 << 62, 0, s.t - 60000}[i%6]
		}
	}
	return sts
}

func TestSTRoundTrip(t *testing.T) {
	r := rand.New(rand.NewSource(2))
	for _, stKind := range []string{"none", "cumulative", "otel-delta", "gcp-delta", "late-start", "odd"} {
		for _, vKind := range []string{"counter", "gauge-float"} {
			for _, n := range []int{1, 2, 3, 60, 480} {
				samples := genSamples(vKind, n, r)
				sts := genSTs(stKind, samples, r)
				ts := make([]int64, n)
				vs := make([]float64, n)
				for i, s := range samples {
					ts[i], vs[i] = s.t, s.v
				}
				// The head's way: an open XOR chunk and a column, joined when read or cut.
				c := NewXORChunk()
				app, _ := c.Appender()
				var col STColumn
				for i := range ts {
					app.Append(ts[i], vs[i])
					col.Append(ts[i], sts[i])
				}
				head := AppendWithST(nil, c.Bytes(), col.Bytes())
				for name, b := range map[string][]byte{"head": head, "block": EncodeST(ts, vs, sts)} {
					it := NewIterator(b)
					i := 0
					for it.Next() {
						gt, gv := it.At()
						if i >= n || gt != ts[i] || !sameFloat(gv, vs[i]) || it.AtST() != sts[i] {
							t.Fatalf("%s/%s/%d %s: sample %d: got (%d, %v, st %d), want (%d, %v, st %d)", stKind, vKind, n, name, i, gt, gv, it.AtST(), ts[i], vs[i], sts[i])
						}
						i++
					}
					if err := it.Err(); err != nil || i != n {
						t.Fatalf("%s/%s/%d %s: read %d of %d samples, err %v", stKind, vKind, n, name, i, n, err)
					}
					if NumSamples(b) != n {
						t.Fatalf("%s/%s/%d %s: NumSamples %d, want %d", stKind, vKind, n, name, NumSamples(b), n)
					}
					// SeekTo keeps the column in step.
					k := n / 2
					it.Reset(b)
					if !it.SeekTo(ts[k]) || it.AtT() != ts[k] || it.AtST() != sts[k] {
						t.Fatalf("%s/%s/%d %s: SeekTo(%d): at %d st %d, want st %d", stKind, vKind, n, name, ts[k], it.AtT(), it.AtST(), sts[k])
					}
				}
				if stKind == "none" && EncodeST(ts, vs, sts)[0] == byte(EncST) {
					t.Errorf("%s/%d: samples without start timestamps got a column", vKind, n)
				}
			}
		}
	}
}

// TestSTColumnStartedLate checks a column begun in the middle of a chunk (a series whose first
// start timestamp arrives after some samples).
func TestSTColumnStartedLate(t *testing.T) {
	c := NewXORChunk()
	app, _ := c.Appender()
	for i := range 5 {
		app.Append(int64(i*1000), float64(i))
	}
	var col STColumn
	col.AppendNone(5, 4000)
	for i := 5; i < 8; i++ {
		app.Append(int64(i*1000), float64(i))
		col.Append(int64(i*1000), int64(i*1000-1000))
	}
	it := NewIterator(AppendWithST(nil, c.Bytes(), col.Bytes()))
	for i := 0; it.Next(); i++ {
		want := int64(0)
		if i >= 5 {
			want = int64(i*1000 - 1000)
		}
		if it.AtST() != want {
			t.Fatalf("sample %d: st %d, want %d", i, it.AtST(), want)
		}
	}
	if it.Err() != nil {
		t.Fatal(it.Err())
	}
}

// TestSTColumnSize pins the cost of the column: one bit per sample for a cumulative counter,
// two for a delta series.
func TestSTColumnSize(t *testing.T) {
	for _, tc := range []struct {
		kind    string
		maxBits int
	}{{"cumulative-constant", 1}, {"otel-delta", 2}, {"gcp-delta", 2}} {
		var col STColumn
		n := 480
		for i := range n {
			ts := int64(1_700_000_000_000 + i*15000)
			var st int64
			switch tc.kind {
			case "cumulative-constant":
				st = 1_600_000_000_000
			case "otel-delta":
				st = ts - 15000
			case "gcp-delta":
				st = ts - 14999
			}
			col.Append(ts, st)
		}
		// The first change costs a full delta; the rest is what the kind promises.
		if bits := len(col.Bytes()) * 8; bits > tc.maxBits*n+80 {
			t.Errorf("%s: %d bits for %d samples, want at most %d per sample", tc.kind, bits, n, tc.maxBits)
		}
	}
}

func FuzzSTIterator(f *testing.F) {
	ts := []int64{1000, 2000, 3000, 4000}
	vs := []float64{1, 2, 3, 4}
	f.Add(EncodeST(ts, vs, []int64{1, 1, 2500, 3000}))
	f.Add(EncodeST(ts, vs, []int64{1500, 0, 9999, -1}))
	f.Add([]byte{byte(EncST), 0, 1, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		it := NewIterator(b)
		n := 0
		for it.Next() {
			it.At()
			it.AtST()
			n++
			if n > MaxSamplesPerChunk {
				t.Fatalf("iterator returned more samples than a chunk can hold")
			}
		}
		_ = it.Err()
		it.Reset(b)
		it.SeekTo(2500)
	})
}
