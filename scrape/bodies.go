package scrape

import (
	"bytes"
	"runtime"
	"slices"
	"sync"
)

// bodyPool lends response-body buffers to scrape loops for the duration of one scrape. A loop
// that kept its own buffer between scrapes would hold one whole exposition per target (about
// 2.5 MB per 10k series) although only a few scrapes run at any moment; the pool keeps at most
// maxIdle buffers, the largest ones, so memory follows scrape concurrency, not target count.
// Unlike a sync.Pool it is not emptied by every GC, so a steady scrape allocates no bodies.
type bodyPool struct {
	mu      sync.Mutex
	free    [][]byte // sorted by capacity, ascending
	maxIdle int
}

var bodies = &bodyPool{maxIdle: max(2, runtime.GOMAXPROCS(0))}

// get returns an empty buffer, preferring the smallest idle one of at least sizeHint bytes.
// Without a hint (a target's first scrape) it lends the largest: bodies of one job tend to be
// alike, and growing a small buffer to a few megabytes leaves several times that as garbage.
func (p *bodyPool) get(sizeHint int) []byte {
	p.mu.Lock()
	defer p.mu.Unlock()
	i, _ := slices.BinarySearchFunc(p.free, sizeHint, func(b []byte, n int) int { return cap(b) - n })
	if sizeHint <= bytes.MinRead {
		i = len(p.free)
	}
	if i == len(p.free) {
		if i == 0 {
			// Room for the hint plus growth, so the body rarely has to be copied while read.
			return make([]byte, 0, sizeHint+sizeHint/8+4096)
		}
		i-- // none large enough: take the largest, reading grows it
	}
	b := p.free[i]
	p.free = slices.Delete(p.free, i, i+1)
	return b[:0]
}

// put returns b to the pool; when the pool is full the smallest buffer is dropped.
func (p *bodyPool) put(b []byte) {
	if cap(b) == 0 {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	i, _ := slices.BinarySearchFunc(p.free, cap(b), func(b []byte, n int) int { return cap(b) - n })
	p.free = slices.Insert(p.free, i, b[:0])
	if len(p.free) > p.maxIdle {
		p.free = slices.Delete(p.free, 0, 1)
	}
}
