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
