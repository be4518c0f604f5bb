package tsdb

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
)

// headChunks keeps the head's completed chunks in memory-mapped files instead of the Go heap: a
// series then holds 24 bytes per closed chunk instead of the chunk, and the kernel pages chunk
// data in and out as queries need it. The files are a cache of what the WAL holds, so they need
// no checksums and are deleted at start (WAL replay rebuilds them), unless a head snapshot refers
// to them (it carries a CRC of every chunk it uses, see head_snapshot.go).
//
// Each segment file is mapped shared and read-only once, at its full size; chunks are written
// with pwrite, which the shared mapping sees at once, so a segment is never remapped. Segments whose chunks are all older than the head are retired on truncation and
// unmapped only once no reader that could hold slices into them is left (see acquire).
type headChunks struct {
	dir     string
	segSize int64

	mu      sync.Mutex // serialises writes and segment changes
	cur     *hcSegment
	nextID  int
	scratch []byte
	segs    atomic.Pointer[[]*hcSegment] // indexed by segment id; nil once retired

	readMu  sync.Mutex
	readCnd *sync.Cond // signalled when a reader releases
	gen     uint64
	readers map[uint64]int // generation → open readers
	pending []retired
}

type hcSegment struct {
	id   int
	f    *os.File
	data []byte
	off  int64 // next write offset (under headChunks.mu)
	maxT int64 // newest chunk end written to it (under headChunks.mu)
}

// retired is something readers may still use (a chunk segment, the symbols of removed series),
// freed once every reader registered up to generation gen has released.
type retired struct {
	gen  uint64
	free func()
}

const (
	headChunksDirname     = "chunks_head"
	defaultHeadChunkSeg   = 128 << 20
	maxHeadChunkSize      = 1 << 20
	headChunkSpillBit     = uint64(1) << 63
	headChunkSegmentShift = 32
)

func openHeadChunks(dir string, segSize int64) (*headChunks, error) {
	if err := os.RemoveAll(dir); err != nil {
		return nil, fmt.Errorf("clearing head chunks: %w", err)
	}
	if err := os.MkdirAll(dir, 0o777); err != nil {
		return nil, fmt.Errorf("creating head chunks directory: %w", err)
	}
	hc := &headChunks{dir: dir, segSize: segSize, readers: map[uint64]int{}}
	hc.readCnd = sync.NewCond(&hc.readMu)
	hc.segs.Store(&[]*hcSegment{})
	return hc, nil
}

// openHeadChunksKeep opens the head chunk files keeping the segments there, for a head
// snapshot that refers to their chunks (checked against the snapshot's CRCs as it loads). New
// chunks go to new segments. Segments nothing refers to are retired at the next truncation
// (their maxT stays MinInt64 unless setLoadedMaxT says otherwise).
func openHeadChunksKeep(dir string, segSize int64) (*headChunks, error) {
	if err := os.MkdirAll(dir, 0o777); err != nil {
		return nil, fmt.Errorf("creating head chunks directory: %w", err)
	}
	hc := &headChunks{dir: dir, segSize: segSize, readers: map[uint64]int{}}
	hc.readCnd = sync.NewCond(&hc.readMu)
	hc.segs.Store(&[]*hcSegment{})
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("listing head chunks: %w", err)
	}
	var segs []*hcSegment
	for _, e := range entries {
		id, err := strconv.Atoi(e.Name())
		if err != nil || e.IsDir() || len(e.Name()) != 6 {
			continue
		}
		f, err := os.OpenFile(filepath.Join(dir, e.Name()), os.O_RDWR, 0)
		if err != nil {
			hc.closeSegs(segs)
			return nil, fmt.Errorf("opening head chunk segment: %w", err)
		}
		fi, err := f.Stat()
		if err == nil && fi.Size() > segSize {
			err = fmt.Errorf("head chunk segment %s is larger (%d bytes) than the segment size", e.Name(), fi.Size())
		}
		if err != nil {
			f.Close()
			hc.closeSegs(segs)
			return nil, err
		}
		data, err := syscall.Mmap(int(f.Fd()), 0, int(segSize), syscall.PROT_READ, syscall.MAP_SHARED)
		if err != nil {
			f.Close()
			hc.closeSegs(segs)
			return nil, fmt.Errorf("mapping head chunk segment: %w", err)
		}
		for len(segs) <= id {
			segs = append(segs, nil)
		}
		segs[id] = &hcSegment{id: id, f: f, data: data, off: fi.Size(), maxT: math.MinInt64}
		hc.nextID = id + 1
	}
	hc.segs.Store(&segs)
	return hc, nil
}

func (hc *headChunks) closeSegs(segs []*hcSegment) {
	for _, s := range segs {
		if s != nil {
			s.close(false)
		}
	}
}

// setLoadedMaxT records the newest chunk end in each kept segment, as found in the snapshot.
func (hc *headChunks) setLoadedMaxT(maxT map[int]int64) {
	hc.mu.Lock()
	defer hc.mu.Unlock()
	for _, s := range *hc.segs.Load() {
		if t, ok := maxT[s.idOrMinus()]; ok && s != nil {
			s.maxT = max(s.maxT, t)
		}
	}
}

func (s *hcSegment) idOrMinus() int {
	if s == nil {
		return -1
	}
	return s.id
}

func (hc *headChunks) newSegment() (*hcSegment, error) {
	id := hc.nextID
	path := filepath.Join(hc.dir, fmt.Sprintf("%06d", id))
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR|os.O_TRUNC, 0o666)
	if err != nil {
		return nil, fmt.Errorf("creating head chunk segment: %w", err)
	}
	// The file grows by its writes; the mapping covers the whole segment size from the start.
	// Mapping past the end of a file is allowed, and readers only touch bytes already written,
	// so no page beyond the end is ever accessed (which would fault). Not preallocating keeps
	// the directory's apparent size honest for du and size-based retention.
	data, err := syscall.Mmap(int(f.Fd()), 0, int(hc.segSize), syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("mapping head chunk segment: %w", err)
	}
	hc.nextID++
	seg := &hcSegment{id: id, f: f, data: data}
	old := *hc.segs.Load()
	segs := make([]*hcSegment, id+1)
	copy(segs, old)
	segs[id] = seg
	hc.segs.Store(&segs)
	return seg, nil
}

// writeEnc stores the chunk made of enc followed by body and returns its reference. enc is
// empty when body is a whole chunk, or the encoding byte of a chunk kept without it (a
// histogram chunk).
func (hc *headChunks) writeEnc(enc, body []byte, maxT int64) (uint64, error) {
	size := len(enc) + len(body)
	if size > maxHeadChunkSize {
		return 0, fmt.Errorf("head chunk of %d bytes is too large", size)
	}
	hc.mu.Lock()
	defer hc.mu.Unlock()
	need := int64(binary.MaxVarintLen32 + size)
	if hc.cur == nil || hc.cur.off+need > hc.segSize {
		seg, err := hc.newSegment()
		if err != nil {
			return 0, err
		}
		hc.cur = seg
	}
	b := binary.AppendUvarint(hc.scratch[:0], uint64(size))
	b = append(b, enc...)
	b = append(b, body...)
	hc.scratch = b
	if _, err := hc.cur.f.WriteAt(b, hc.cur.off); err != nil {
		return 0, fmt.Errorf("writing head chunk: %w", err)
	}
	ref := uint64(hc.cur.id)<<headChunkSegmentShift | uint64(hc.cur.off)
	hc.cur.off += int64(len(b))
	hc.cur.maxT = max(hc.cur.maxT, maxT)
	return ref, nil
}

var errHeadChunkGone = errors.New("head chunk segment no longer exists")

// chunk returns the bytes of a chunk; they alias the mapping and stay valid while the caller
// holds a read generation (acquire).
func (hc *headChunks) chunk(ref uint64) ([]byte, error) {
	segs := *hc.segs.Load()
	id, off := int(ref>>headChunkSegmentShift), int64(uint32(ref))
	if id >= len(segs) || segs[id] == nil {
		return nil, fmt.Errorf("head chunk %d/%d: %w", id, off, errHeadChunkGone)
	}
	data := segs[id].data
	if off >= int64(len(data)) {
		return nil, fmt.Errorf("head chunk %d/%d: offset out of range", id, off)
	}
	l, n := binary.Uvarint(data[off:])
	if n <= 0 || l > maxHeadChunkSize || off+int64(n)+int64(l) > int64(len(data)) {
		return nil, fmt.Errorf("head chunk %d/%d: bad length", id, off)
	}
	start := off + int64(n)
	return data[start : start+int64(l) : start+int64(l)], nil
}

// acquire registers a reader; chunk bytes it obtains stay mapped until release.
func (hc *headChunks) acquire() uint64 {
	hc.readMu.Lock()
	g := hc.gen
	hc.readers[g]++
	hc.readMu.Unlock()
	return g
}

func (hc *headChunks) release(g uint64) {
	hc.readMu.Lock()
	if hc.readers[g]--; hc.readers[g] <= 0 {
		delete(hc.readers, g)
	}
	hc.reapLocked()
	hc.readCnd.Broadcast()
	hc.readMu.Unlock()
}

// waitForReaders waits until every reader registered so far has released. The DB calls it
// between making a new block visible and truncating the head: a querier that was created before
// the block existed reads that range from the head, so the head must keep it until the querier
// is done (as Prometheus waits for pending readers).
func (hc *headChunks) waitForReaders() {
	hc.readMu.Lock()
	defer hc.readMu.Unlock()
	g := hc.gen
	hc.gen++
	for {
		busy := false
		for rg := range hc.readers {
			if rg <= g {
				busy = true
				break
			}
		}
		if !busy {
			return
		}
		hc.readCnd.Wait()
	}
}

// truncate retires the segments whose chunks all end before mint.
func (hc *headChunks) truncate(mint int64) {
	hc.mu.Lock()
	segs := *hc.segs.Load()
	var drop []*hcSegment
	ns := make([]*hcSegment, len(segs))
	copy(ns, segs)
	for i, s := range segs {
		if s != nil && s != hc.cur && s.maxT < mint {
			drop = append(drop, s)
			ns[i] = nil
		}
	}
	if len(drop) > 0 {
		hc.segs.Store(&ns)
	}
	hc.mu.Unlock()
	if len(drop) == 0 {
		return
	}
	hc.retire(func() {
		for _, s := range drop {
			s.close(true)
		}
	})
}

// retire calls free once no reader registered so far is left (at once when there is none).
func (hc *headChunks) retire(free func()) {
	hc.readMu.Lock()
	hc.pending = append(hc.pending, retired{gen: hc.gen, free: free})
	hc.gen++
	hc.reapLocked()
	hc.readMu.Unlock()
}

// reapLocked frees what no reader can still reference: readers that started at a generation
// newer than the retirement cannot have seen it.
func (hc *headChunks) reapLocked() {
	kept := hc.pending[:0]
	for _, p := range hc.pending {
		busy := false
		for g := range hc.readers {
			if g <= p.gen {
				busy = true
				break
			}
		}
		if busy {
			kept = append(kept, p)
			continue
		}
		p.free()
	}
	hc.pending = kept
}

func (s *hcSegment) close(remove bool) {
	syscall.Munmap(s.data)
	s.f.Close()
	if remove {
		os.Remove(s.f.Name())
	}
}

// size is the bytes of chunk data written to live segments.
func (hc *headChunks) size() int64 {
	hc.mu.Lock()
	defer hc.mu.Unlock()
	var n int64
	for _, s := range *hc.segs.Load() {
		if s != nil {
			n += s.off
		}
	}
	return n
}

func (hc *headChunks) close() {
	hc.mu.Lock()
	defer hc.mu.Unlock()
	for _, s := range *hc.segs.Load() {
		if s != nil {
			s.close(false)
		}
	}
	hc.segs.Store(&[]*hcSegment{})
	hc.readMu.Lock()
	for _, p := range hc.pending {
		p.free()
	}
	hc.pending = nil
	hc.readMu.Unlock()
}
