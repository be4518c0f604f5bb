package chunkenc

import (
	"bytes"
	"math/rand"
	"testing"
)

// TestOpenChunkState checks that a chunk restored from its state appends exactly as the
// original: same bytes after more samples, at every split point.
func TestOpenChunkState(t *testing.T) {
	r := rand.New(rand.NewSource(1))
	var ts []int64
	var vs []float64
	tt, v := int64(1000), 100.0
	for range 120 {
		tt += 15000 + int64(r.Intn(3)-1)
		v += float64(r.Intn(10)) / 4
		ts, vs = append(ts, tt), append(vs, v)
	}
	for split := 1; split < len(ts); split += 7 {
		var a OpenChunk
		a.Reset(16)
		for i := range split {
			a.Append(ts[i], vs[i])
		}
		st := a.AppendState([]byte("prefix"))
		var b OpenChunk
		n, err := b.SetState(st[len("prefix"):])
		if err != nil || n != len(st)-len("prefix") {
			t.Fatalf("split %d: SetState = %d, %v; want %d bytes", split, n, err, len(st)-len("prefix"))
		}
		for i := split; i < len(ts); i++ {
			a.Append(ts[i], vs[i])
			b.Append(ts[i], vs[i])
		}
		if !bytes.Equal(a.Bytes(), b.Bytes()) {
			t.Fatalf("split %d: restored chunk diverged", split)
		}
		// Any truncation is an error, not a panic.
		for cut := range len(st) - len("prefix") {
			var c OpenChunk
			if _, err := c.SetState(st[len("prefix") : len("prefix")+cut]); err == nil {
				t.Fatalf("split %d: state cut at %d accepted", split, cut)
			}
		}
	}
}
