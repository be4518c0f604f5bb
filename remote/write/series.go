package write

import (
	"encoding/binary"
	"hash/maphash"
	"sync/atomic"
	"unsafe"
)

// A queue keeps one entry per series of the WAL, so the per-series state is dense:
//
//   - every distinct label pair, encoded as a prompb TimeSeries.labels field (the bytes remote
//     write 1.0 sends; 2.0 reads the name and value out of them), is stored once in a byte
//     arena and named by a uint32 (page<<16 | offset);
//   - a series is a record [encoded length, n, pair × n] of uint32s in a second arena, named by
//     its offset: 4 bytes per label instead of a labels.Labels, a pointer per label or a copy;
//   - the WAL's series refs (dense: allocated sequentially by the head) index a paged array of
//     (record offset, segment), 8 bytes per series instead of a map entry.
//
// Both arenas are append-only: a record or pair, once written, never changes or moves, so the
// shards read them without locks (the channel that hands them a sample orders the read after
// the write). Their page lists are swapped atomically when a page is added. When the WAL is
// checkpointed, the series still alive are copied into a fresh generation and the old one is
// left to the garbage collector (samples still in the shards keep it alive until they are
// sent).

const (
	arenaPageBits = 16
	arenaPageMax  = 1 << arenaPageBits // entries of a page (a larger item gets a page of its own)
	arenaPageMin  = 1 << 10            // the first page: a queue of few series stays small
	arenaMaxPages = 1 << (32 - arenaPageBits)

	// Record offsets 0 and 1 are never records: a ref entry with offset 0 is an unknown series,
	// 1 a series write_relabel_configs dropped.
	offUnknown = 0
	offDropped = 1
)

// arenaGen is one generation of the pair and record arenas. Written by the queue's watcher
// goroutine only; read by the shards.
type arenaGen struct {
	pairPages atomic.Pointer[[][]byte]
	recPages  atomic.Pointer[[][]uint32]

	// Writer only.
	pairUsed, recUsed int      // entries used in the last page
	index             []uint32 // open-addressing set of pair refs + 1 (0: empty), by content
	indexed           int
	seed              maphash.Seed
	bytes             int64 // arena bytes allocated, for the tests and the metrics
}

func newArenaGen() *arenaGen {
	g := &arenaGen{seed: maphash.MakeSeed(), index: make([]uint32, 256)}
	g.pairPages.Store(&[][]byte{})
	g.recPages.Store(&[][]uint32{})
	// Reserve record offsets 0 and 1.
	if _, ok := g.addRecord(0, make([]uint32, 0)); !ok {
		panic("remote write: cannot reserve the first record")
	}
	return g
}

// size is the memory the generation holds, in bytes.
func (g *arenaGen) size() int64 { return g.bytes + 4*int64(len(g.index)) }

// pageSize is the size of page i: doubling from arenaPageMin up to arenaPageMax.
func pageSize(i int) int {
	if i >= arenaPageBits-10 {
		return arenaPageMax
	}
	return arenaPageMin << i
}

// pair returns the encoded pair named ref.
func (g *arenaGen) pair(pages [][]byte, ref uint32) []byte {
	b := pages[ref>>arenaPageBits][ref&(arenaPageMax-1):]
	m, k := binary.Uvarint(b[1:])
	return b[:1+k+int(m)]
}

// record returns the encoded length and pairs of the series record at off.
func (g *arenaGen) record(off uint32) (pbLen uint32, pairs []uint32) {
	r := (*g.recPages.Load())[off>>arenaPageBits][off&(arenaPageMax-1):]
	n := r[1]
	return r[0], r[2 : 2+n : 2+n]
}

// internPair returns the ref of the encoded pair b, storing it if it is new. false: the arena
// is full (4 GiB of distinct label pairs).
func (g *arenaGen) internPair(b []byte) (uint32, bool) {
	h := maphash.Bytes(g.seed, b)
	mask := uint64(len(g.index) - 1)
	pages := *g.pairPages.Load()
	for i := h & mask; ; i = (i + 1) & mask {
		e := g.index[i]
		if e == 0 {
			break
		}
		if string(g.pair(pages, e-1)) == string(b) {
			return e - 1, true
		}
	}
	ref, ok := g.storePair(b)
	if !ok {
		return 0, false
	}
	if (g.indexed+1)*4 > len(g.index)*3 {
		g.growIndex()
	}
	g.insertIndex(h, ref)
	return ref, true
}

func (g *arenaGen) insertIndex(h uint64, ref uint32) {
	mask := uint64(len(g.index) - 1)
	i := h & mask
	for g.index[i] != 0 {
		i = (i + 1) & mask
	}
	g.index[i] = ref + 1
	g.indexed++
}

func (g *arenaGen) growIndex() {
	old := g.index
	g.index = make([]uint32, 2*len(old))
	g.indexed = 0
	pages := *g.pairPages.Load()
	for _, e := range old {
		if e != 0 {
			g.insertIndex(maphash.Bytes(g.seed, g.pair(pages, e-1)), e-1)
		}
	}
}

func (g *arenaGen) storePair(b []byte) (uint32, bool) {
	pages := *g.pairPages.Load()
	if len(pages) == 0 || len(pages[len(pages)-1])-g.pairUsed < len(b) {
		size := pageSize(len(pages))
		if len(b) > size {
			size = len(b)
		}
		if len(pages) >= arenaMaxPages {
			return 0, false
		}
		np := make([][]byte, len(pages)+1)
		copy(np, pages)
		np[len(pages)] = make([]byte, size)
		g.bytes += int64(size)
		g.pairPages.Store(&np)
		pages, g.pairUsed = np, 0
	}
	p := len(pages) - 1
	off := g.pairUsed
	copy(pages[p][off:], b)
	g.pairUsed += len(b)
	return uint32(p)<<arenaPageBits | uint32(off), true
}

// addRecord stores a series record and returns its offset. false: the arena is full.
func (g *arenaGen) addRecord(pbLen uint32, pairs []uint32) (uint32, bool) {
	need := 2 + len(pairs)
	pages := *g.recPages.Load()
	if len(pages) == 0 || len(pages[len(pages)-1])-g.recUsed < need {
		size := max(pageSize(len(pages)), need)
		if len(pages) >= arenaMaxPages {
			return 0, false
		}
		np := make([][]uint32, len(pages)+1)
		copy(np, pages)
		np[len(pages)] = make([]uint32, size)
		g.bytes += 4 * int64(size)
		g.recPages.Store(&np)
		pages, g.recUsed = np, 0
	}
	p := len(pages) - 1
	off := g.recUsed
	r := pages[p][off : off+need]
	r[0], r[1] = pbLen, uint32(len(pairs))
	copy(r[2:], pairs)
	g.recUsed += need
	return uint32(p)<<arenaPageBits | uint32(off), true
}

// copyRecord copies the record at off of g into ng, interning its pairs there.
func (g *arenaGen) copyRecord(off uint32, ng *arenaGen, scratch []uint32) (uint32, []uint32, bool) {
	pbLen, pairs := g.record(off)
	pages := *g.pairPages.Load()
	scratch = scratch[:0]
	for _, p := range pairs {
		ref, ok := ng.internPair(g.pair(pages, p))
		if !ok {
			return 0, scratch, false
		}
		scratch = append(scratch, ref)
	}
	noff, ok := ng.addRecord(pbLen, scratch)
	return noff, scratch, ok
}

// labelPair returns the name and value of an encoded pair, sharing its memory.
func labelPair(b []byte) (name, value string) {
	_, k := binary.Uvarint(b[1:])
	b = b[1+k:] // Label message: name field, value field
	name, b = pbString(b)
	value, _ = pbString(b)
	return name, value
}

// pbString reads a length-delimited field (tag, length, bytes) written by appendLabelV1.
func pbString(b []byte) (string, []byte) {
	n, k := binary.Uvarint(b[1:])
	b = b[1+k:]
	if n == 0 {
		return "", b[n:]
	}
	return unsafe.String(&b[0], int(n)), b[n:]
}

// refEntry is what a queue knows of a WAL series ref: its record in the current generation
// (or offUnknown, offDropped) and the WAL segment of its last series record, for garbage
// collection at checkpoints.
type refEntry struct {
	off uint32
	seg int32
}

const (
	refPageBits = 12
	refPageSize = 1 << refPageBits
	// maxDenseRef bounds the paged array (refs are dense: the head allocates them one by one);
	// refs above it, which Vigil's head does not write, go to a map.
	maxDenseRef = 1 << 32
)

// refPage is exactly 32 KiB (a live count inside would make the allocation 40 KiB).
type refPage [refPageSize]refEntry

// refTable maps WAL series refs to entries. Owned by the watcher goroutine.
type refTable struct {
	pages  []*refPage
	live   []int32 // per page
	sparse map[uint64]refEntry
	n      int
}

// size is the memory the table holds, in bytes (the sparse map roughly).
func (t *refTable) size() int64 {
	n := 12 * int64(cap(t.pages))
	for _, pg := range t.pages {
		if pg != nil {
			n += int64(unsafe.Sizeof(*pg))
		}
	}
	return n + 32*int64(len(t.sparse))
}

func (t *refTable) get(ref uint64) refEntry {
	if ref >= maxDenseRef {
		return t.sparse[ref]
	}
	p := ref >> refPageBits
	if p >= uint64(len(t.pages)) || t.pages[p] == nil {
		return refEntry{}
	}
	return t.pages[p][ref&(refPageSize-1)]
}

func (t *refTable) set(ref uint64, e refEntry) {
	if ref >= maxDenseRef {
		if t.sparse == nil {
			t.sparse = map[uint64]refEntry{}
		}
		if _, ok := t.sparse[ref]; !ok {
			t.n++
		}
		t.sparse[ref] = e
		return
	}
	p := ref >> refPageBits
	if p >= uint64(len(t.pages)) {
		t.pages = append(t.pages, make([]*refPage, int(p)+1-len(t.pages))...)
		t.live = append(t.live, make([]int32, int(p)+1-len(t.live))...)
	}
	pg := t.pages[p]
	if pg == nil {
		pg = &refPage{}
		t.pages[p] = pg
	}
	old := &pg[ref&(refPageSize-1)]
	if old.off == offUnknown {
		t.live[p]++
		t.n++
	}
	*old = e
}

// update calls f for every known ref; f returns the new entry, offUnknown to forget the ref.
// Pages left empty are freed.
func (t *refTable) update(f func(ref uint64, e refEntry) refEntry) {
	for p, pg := range t.pages {
		if pg == nil {
			continue
		}
		for i := range pg {
			if pg[i].off == offUnknown {
				continue
			}
			pg[i] = f(uint64(p)<<refPageBits|uint64(i), pg[i])
			if pg[i].off == offUnknown {
				t.live[p]--
				t.n--
			}
		}
		if t.live[p] == 0 {
			t.pages[p] = nil
		}
	}
	for ref, e := range t.sparse {
		if e = f(ref, e); e.off == offUnknown {
			delete(t.sparse, ref)
			t.n--
		} else {
			t.sparse[ref] = e
		}
	}
}
