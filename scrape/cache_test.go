package scrape

import (
	"testing"
)

// TestCacheHashCollisions forces two series strings onto one 64-bit key hash: they must keep
// separate entries, and eviction must unlink only the one not seen.
func TestCacheHashCollisions(t *testing.T) {
	c := newScrapeCache()
	a := keyOf([]byte(`a{x="1"}`))
	b := keyOf([]byte(`b{x="2"}`))
	b.hash = a.hash // pretend xxhash collided
	ea := c.add(a, 1)
	eb := c.add(b, 2)
	if got := c.find(a); got != ea {
		t.Fatalf("find(a) = %v", got)
	}
	if got := c.find(b); got != eb {
		t.Fatalf("find(b) = %v", got)
	}
	sameLen := a
	sameLen.check++ // same hash and length, different CRC: a different series
	if got := c.find(sameLen); got != nil {
		t.Fatalf("an entry matched on hash and length only: %v", got)
	}
	c.iterDone(true)
	// Next scrape sees only b; a is evicted, b stays reachable.
	if e, _ := c.get(b); e != eb {
		t.Fatal("b not found in the second scrape")
	}
	c.addDropped(keyOf([]byte("dropped_series")))
	c.iterDone(true)
	if c.find(a) != nil || c.find(b) != eb || c.nSeries != 1 || c.nDropped != 1 || len(c.entries) != 2 {
		t.Fatalf("after eviction: a=%v b=%v nSeries=%d nDropped=%d entries=%d", c.find(a), c.find(b), c.nSeries, c.nDropped, len(c.entries))
	}
	// A scrape that sees nothing evicts everything.
	c.iterDone(true)
	if c.nSeries != 0 || c.nDropped != 0 || len(c.entries) != 0 {
		t.Fatalf("empty scrape left nSeries=%d nDropped=%d entries=%d", c.nSeries, c.nDropped, len(c.entries))
	}
}

// TestBodyPool: buffers are lent best-fit, the pool keeps only the largest maxIdle, and a
// request larger than every idle buffer still gets one (the largest) rather than a new one.
func TestBodyPool(t *testing.T) {
	p := &bodyPool{maxIdle: 2}
	if b := p.get(10_000); cap(b) < 10_000 || len(b) != 0 {
		t.Fatalf("new buffer: len %d cap %d", len(b), cap(b))
	}
	for _, n := range []int{1_000, 100_000, 10_000} {
		p.put(make([]byte, 5, n))
	}
	if len(p.free) != 2 || cap(p.free[0]) != 10_000 || cap(p.free[1]) != 100_000 {
		t.Fatalf("idle buffers after overflow: %d, want the two largest", len(p.free))
	}
	if b := p.get(5_000); cap(b) != 10_000 || len(b) != 0 {
		t.Fatalf("best fit for 5000: cap %d len %d", cap(b), len(b))
	}
	p.put(make([]byte, 0, 10_000))
	if b := p.get(0); cap(b) != 100_000 {
		t.Fatalf("no hint: cap %d, want the largest idle buffer", cap(b))
	}
	p.put(make([]byte, 0, 100_000))
	if b := p.get(500_000); cap(b) != 100_000 {
		t.Fatalf("oversized request: cap %d, want the largest idle buffer", cap(b))
	}
	p.put(nil)
	if len(p.free) != 1 || cap(p.free[0]) != 10_000 {
		t.Fatalf("pool should hold the 10000-byte buffer only, holds %d", len(p.free))
	}
}
