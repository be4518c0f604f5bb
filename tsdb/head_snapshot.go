package tsdb

// Head snapshot on clean shutdown (Prometheus's memory-snapshot-on-shutdown): Close writes the
// head's series, the references of their closed chunks (which stay in the head chunk files),
// their open chunks and the head's tombstones to head_snapshot/snapshot, together with the
// first WAL segment the snapshot does not cover. Open then restores the head from the snapshot
// and replays only the WAL segments written after it, instead of the whole WAL.
//
// The snapshot is an accelerator only: the WAL keeps everything it covers until the next
// checkpoint, and the head compaction that leads to that checkpoint deletes the snapshot first.
// A snapshot that is damaged, of another version, stale, or whose head chunks fail their
// checksums is logged, counted (prometheus_tsdb_snapshot_replay_error_total) and ignored: the
// head is rebuilt from the WAL as after a crash.
//
// File format (all integers varint/uvarint unless noted):
//
//	header   "VGHS" | version byte (3)
//	record*  uvarint length | payload | CRC32-C of payload (4 bytes LE)
//	payload  type byte | body
//	  meta (1)    first uncovered WAL segment | last series ref | min valid time | head min time | head max time
//	  series (2)  ref | label count | (name, value as length-prefixed strings)* |
//	              closed chunk count | (chunk ref | minT | maxT-minT | CRC32-C of the chunk (4 bytes LE))* |
//	              open chunk kind (byte: 0 none, 1 float, 2 native histogram) |
//	                [1: open chunk min time | chunkenc.OpenChunk state]
//	                [2: open chunk min time | encoding byte (chunkenc.EncHistogram or
//	                    EncFloatHistogram) | last time | sample count | free bits of the last
//	                    byte | chunk length | upstream's chunk bytes]
//	              has start timestamps (byte) | [chunkenc.STColumn state of the open chunk]
//	  stones (3)  ref | interval count | (mint | maxt-mint)*
//	  end (4)     series count | tombstone count
//
// Records come in that order: meta first, end last; a file without the end record is torn.
// Version 2 added the open histogram chunk and the start timestamp column (version 1 held
// float open chunks only); version 3 (same layout) has the column describe an open histogram
// chunk too (start timestamps of histogram samples), where version 2 left it empty. This
// Vigil reads versions 2 and 3; a reader that does not know the version falls back to the WAL.

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"os"
	"path/filepath"
	"time"
	"unsafe"

	"github.com/prometheus/prometheus/model/labels"

	"github.com/vigil-monitoring/vigil/tsdb/chunkenc"
	"github.com/vigil-monitoring/vigil/tsdb/fileutil"
	"github.com/vigil-monitoring/vigil/tsdb/histchunk"
	"github.com/vigil-monitoring/vigil/tsdb/tombstones"
)

const (
	snapshotDirname  = "head_snapshot"
	snapshotFilename = "snapshot"
	snapshotMagic    = "VGHS"
	snapshotVersion  = 3

	snapRecMeta   = 1
	snapRecSeries = 2
	snapRecStones = 3
	snapRecEnd    = 4

	// Kinds of a series' open chunk.
	snapOpenNone      = 0
	snapOpenFloat     = 1
	snapOpenHistogram = 2

	// maxSnapshotRecord bounds one record (a series with its chunk refs and open chunk).
	maxSnapshotRecord = 16 << 20
)

func snapshotPath(dir string) string { return filepath.Join(dir, snapshotDirname, snapshotFilename) }

// removeHeadSnapshot deletes the snapshot: the head is about to diverge from it (truncation).
func (db *DB) removeHeadSnapshot() error {
	err := os.Remove(snapshotPath(db.dir))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("removing the head snapshot: %w", err)
	}
	return nil
}

// writeHeadSnapshot writes the snapshot of the head. Commits are held off meanwhile; the WAL is
// cut first so that the snapshot covers exactly the segments before the new one.
func (db *DB) writeHeadSnapshot() (err error) {
	start := time.Now()
	h := db.head
	h.appendMu.Lock()
	defer h.appendMu.Unlock()
	h.spillMu.RLock()
	spilled := len(h.spilled)
	h.spillMu.RUnlock()
	if spilled > 0 {
		return fmt.Errorf("%d head chunks are not in the head chunk files (disk was full)", spilled)
	}
	seg, err := db.wal.w.NextSegment()
	if err != nil {
		return fmt.Errorf("cutting a WAL segment: %w", err)
	}
	dir := filepath.Join(db.dir, snapshotDirname)
	if err := os.MkdirAll(dir, 0o777); err != nil {
		return fmt.Errorf("creating %s: %w", dir, err)
	}
	tmp := snapshotPath(db.dir) + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return fmt.Errorf("creating the head snapshot: %w", err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	w := &snapshotWriter{w: bufio.NewWriterSize(f, 1<<20)}
	w.w.WriteString(snapshotMagic)
	w.w.WriteByte(snapshotVersion)

	b := []byte{snapRecMeta}
	b = binary.AppendUvarint(b, uint64(seg))
	b = binary.AppendUvarint(b, h.lastRef.Load())
	b = binary.AppendVarint(b, h.minValidT.Load())
	b = binary.AppendVarint(b, h.MinTime())
	b = binary.AppendVarint(b, h.MaxTime())
	w.record(b)

	g := h.chunks.acquire()
	defer h.chunks.release(g)
	var nSeries, nStones uint64
	var lb labels.ScratchBuilder
	var serr error
	h.series.forEach(func(s *memSeries) {
		if serr != nil {
			return
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.removed || (!s.logged && s.empty()) {
			return // dropped, or created by a batch that never committed
		}
		b = append(b[:0], snapRecSeries)
		b = binary.AppendUvarint(b, s.ref)
		ls := h.seriesLabels(s, &lb)
		b = binary.AppendUvarint(b, uint64(ls.Len()))
		ls.Range(func(l labels.Label) {
			b = binary.AppendUvarint(b, uint64(len(l.Name)))
			b = append(b, l.Name...)
			b = binary.AppendUvarint(b, uint64(len(l.Value)))
			b = append(b, l.Value...)
		})
		b = binary.AppendUvarint(b, uint64(len(s.closed)))
		for _, c := range s.closed {
			data, err := h.chunkData(c.ref)
			if err != nil {
				serr = fmt.Errorf("series %s: %w", ls, err)
				return
			}
			b = binary.AppendUvarint(b, c.ref)
			b = binary.AppendVarint(b, c.minT)
			b = binary.AppendUvarint(b, uint64(c.maxT-c.minT))
			b = binary.LittleEndian.AppendUint32(b, crc32.Checksum(data, castagnoliTable))
		}
		switch {
		case s.open.NumSamples() > 0:
			b = append(b, snapOpenFloat)
			b = binary.AppendVarint(b, s.openMinT)
			b = s.open.AppendState(b)
		case s.hist.active():
			hh := s.hist
			b = append(b, snapOpenHistogram)
			b = binary.AppendVarint(b, s.openMinT)
			b = append(b, byte(hh.enc))
			b = binary.AppendVarint(b, hh.lastT)
			b = binary.AppendUvarint(b, uint64(hh.n))
			b = append(b, histchunk.FreeBits(hh.chunk))
			b = binary.AppendUvarint(b, uint64(len(hh.chunk.Bytes())))
			b = append(b, hh.chunk.Bytes()...)
		default:
			b = append(b, snapOpenNone)
		}
		if s.hasST {
			b = append(b, 1)
			b = h.stColumn(s).AppendState(b)
		} else {
			b = append(b, 0)
		}
		w.record(b)
		nSeries++
	})
	if serr != nil {
		return serr
	}
	if err := h.tombstones.Iter(func(ref uint64, ivs tombstones.Intervals) error {
		b = append(b[:0], snapRecStones)
		b = binary.AppendUvarint(b, ref)
		b = binary.AppendUvarint(b, uint64(len(ivs)))
		for _, iv := range ivs {
			b = binary.AppendVarint(b, iv.Mint)
			b = binary.AppendUvarint(b, uint64(iv.Maxt-iv.Mint))
		}
		w.record(b)
		nStones++
		return nil
	}); err != nil {
		return err
	}
	b = append(b[:0], snapRecEnd)
	b = binary.AppendUvarint(b, nSeries)
	b = binary.AppendUvarint(b, nStones)
	w.record(b)
	if err := w.w.Flush(); err != nil {
		return fmt.Errorf("writing the head snapshot: %w", err)
	}
	if w.err != nil {
		return fmt.Errorf("writing the head snapshot: %w", w.err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("syncing the head snapshot: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("closing the head snapshot: %w", err)
	}
	if err := os.Rename(tmp, snapshotPath(db.dir)); err != nil {
		return fmt.Errorf("renaming the head snapshot: %w", err)
	}
	if err := fileutil.SyncDir(dir); err != nil {
		return err
	}
	db.logger.Info("head snapshot written", "series", nSeries, "wal_segment", seg, "duration", time.Since(start))
	return nil
}

type snapshotWriter struct {
	w       *bufio.Writer
	err     error
	scratch []byte
}

func (w *snapshotWriter) record(payload []byte) {
	if w.err != nil {
		return
	}
	w.scratch = binary.AppendUvarint(w.scratch[:0], uint64(len(payload)))
	w.scratch = append(w.scratch, payload...)
	w.scratch = binary.LittleEndian.AppendUint32(w.scratch, crc32.Checksum(payload, castagnoliTable))
	_, w.err = w.w.Write(w.scratch)
}

// errNoSnapshot means there is no snapshot to load.
var errNoSnapshot = errors.New("no head snapshot")

// headSnapshotMeta is what the snapshot's meta record says.
type headSnapshotMeta struct {
	walSegment       int // the first WAL segment the snapshot does not cover
	lastRef          uint64
	minValidT        int64
	minTime, maxTime int64
}

// loadHeadSnapshot restores the head from the snapshot. On error the head is half filled and
// must be discarded. The head's chunk files must have been opened keeping their segments.
func loadHeadSnapshot(dir string, h *Head) (meta headSnapshotMeta, nSeries int, err error) {
	f, err := os.Open(snapshotPath(dir))
	if errors.Is(err, os.ErrNotExist) {
		return meta, 0, errNoSnapshot
	}
	if err != nil {
		return meta, 0, err
	}
	defer f.Close()
	r := &snapshotReader{r: bufio.NewReaderSize(f, 1<<20)}
	var hdr [5]byte
	if _, err := io.ReadFull(r.r, hdr[:]); err != nil {
		return meta, 0, fmt.Errorf("reading the header: %w", err)
	}
	if string(hdr[:4]) != snapshotMagic {
		return meta, 0, fmt.Errorf("not a head snapshot (magic %q)", hdr[:4])
	}
	version := hdr[4]
	if version != snapshotVersion && version != 2 {
		return meta, 0, fmt.Errorf("head snapshot version %d, this Vigil reads versions 2 and %d", version, snapshotVersion)
	}
	rec, err := r.next()
	if err != nil {
		return meta, 0, err
	}
	d := snapDecbuf{b: rec}
	if d.byte() != snapRecMeta {
		return meta, 0, fmt.Errorf("first record is not the meta record")
	}
	meta.walSegment = int(d.uvarint())
	meta.lastRef = d.uvarint()
	meta.minValidT = d.varint()
	meta.minTime = d.varint()
	meta.maxTime = d.varint()
	if err := d.end(); err != nil {
		return meta, 0, fmt.Errorf("meta record: %w", err)
	}
	minValid := h.minValidT.Load()
	var (
		lb       labels.ScratchBuilder
		created  []*memSeries
		stones   int
		segMaxT  = map[int]int64{}
		mint     = int64(math.MaxInt64)
		maxt     = int64(math.MinInt64)
		finished bool
		nChunks  int
	)
	for !finished {
		rec, err := r.next()
		if err != nil {
			return meta, 0, err
		}
		d := snapDecbuf{b: rec}
		switch typ := d.byte(); typ {
		case snapRecSeries:
			ref := d.uvarint()
			n := d.count(2)
			lb.Reset()
			for range n {
				name := d.str()
				value := d.str()
				lb.Add(name, value)
			}
			if d.err != nil {
				return meta, 0, fmt.Errorf("series record: %w", d.err)
			}
			lset := lb.Labels()
			nc := d.count(7)
			closed := make([]memChunk, 0, nc)
			for range nc {
				c := memChunk{ref: d.uvarint(), minT: d.varint()}
				c.maxT = c.minT + int64(d.uvarint())
				sum := d.uint32le()
				if d.err != nil {
					break
				}
				data, err := h.chunks.chunk(c.ref)
				if err != nil {
					return meta, 0, fmt.Errorf("series %s: %w", lset, err)
				}
				if crc32.Checksum(data, castagnoliTable) != sum {
					return meta, 0, fmt.Errorf("series %s: head chunk %x: checksum mismatch", lset, c.ref)
				}
				if c.minT < minValid {
					if c.maxT >= minValid {
						return meta, 0, fmt.Errorf("series %s: chunk [%d, %d] straddles the newest block's end %d", lset, c.minT, c.maxT, minValid)
					}
					continue // in a block already
				}
				id := int(c.ref >> headChunkSegmentShift)
				segMaxT[id] = max(segMaxT[id], c.maxT)
				closed = append(closed, c)
				mint, maxt = min(mint, c.minT), max(maxt, c.maxT)
			}
			openKind := d.byte()
			var open chunkOpenState
			switch openKind {
			case snapOpenFloat:
				open.minT = d.varint()
				if d.err == nil {
					k, err := open.c.SetState(d.b)
					if err != nil {
						return meta, 0, fmt.Errorf("series %s: %w", lset, err)
					}
					d.b = d.b[k:]
				}
			case snapOpenHistogram:
				open.minT = d.varint()
				if err := open.readHist(&d); err != nil {
					return meta, 0, fmt.Errorf("series %s: %w", lset, err)
				}
			case snapOpenNone:
			default:
				if d.err == nil {
					return meta, 0, fmt.Errorf("series %s: bad open chunk kind %d", lset, openKind)
				}
			}
			var stCol *chunkenc.STColumn
			switch hasST := d.byte(); {
			case hasST == 1 && d.err == nil:
				stCol = &chunkenc.STColumn{}
				k, err := stCol.SetState(d.b)
				if err != nil {
					return meta, 0, fmt.Errorf("series %s: %w", lset, err)
				}
				d.b = d.b[k:]
				if openKind == snapOpenFloat && stCol.NumSamples() != open.c.NumSamples() {
					return meta, 0, fmt.Errorf("series %s: start timestamp column of %d samples for an open chunk of %d", lset, stCol.NumSamples(), open.c.NumSamples())
				}
				if openKind == snapOpenHistogram && open.hist != nil {
					if version == 2 && stCol.NumSamples() == 0 {
						// Version 2 kept no start timestamps of histogram samples: the
						// column of a series that had float ones is empty then.
						stCol.AppendNone(open.hist.n, open.hist.lastT)
					}
					if stCol.NumSamples() != open.hist.n {
						return meta, 0, fmt.Errorf("series %s: start timestamp column of %d samples for an open histogram chunk of %d", lset, stCol.NumSamples(), open.hist.n)
					}
				}
			case hasST > 1 && d.err == nil:
				return meta, 0, fmt.Errorf("series %s: bad start timestamp flag %d", lset, hasST)
			}
			if err := d.end(); err != nil {
				return meta, 0, fmt.Errorf("series record: %w", err)
			}
			hasOpen := 0
			if openKind != snapOpenNone {
				hasOpen = 1
				lt := open.lastT()
				if open.minT < minValid {
					if lt >= minValid {
						return meta, 0, fmt.Errorf("series %s: open chunk [%d, %d] straddles the newest block's end %d", lset, open.minT, lt, minValid)
					}
					hasOpen, open = 0, chunkOpenState{}
					if stCol != nil {
						stCol.Reset() // it described the dropped open chunk
					}
				} else {
					mint, maxt = min(mint, open.minT), max(maxt, lt)
				}
			}
			if len(closed) == 0 && hasOpen == 0 {
				continue // everything in blocks
			}
			ms, isNew := h.series.getOrCreate(lset.Hash(), lset, func() uint64 { return ref })
			if !isNew || ms.ref != ref {
				return meta, 0, fmt.Errorf("series %s (ref %d) is in the snapshot twice", lset, ref)
			}
			ms.closed = closed
			if hasOpen == 1 {
				ms.open, ms.hist, ms.openMinT = open.c, open.hist, open.minT
			}
			if stCol != nil {
				h.stCols.page(ms.ref, true)[ms.ref&(seriesPageSize-1)] = stCol
				ms.hasST = true
			}
			ms.logged = true
			created = append(created, ms)
			nChunks += len(closed) + hasOpen
		case snapRecStones:
			ref := d.uvarint()
			n := d.count(2)
			var ivs []tombstones.Interval
			for range n {
				iv := tombstones.Interval{Mint: d.varint()}
				iv.Maxt = iv.Mint + int64(d.uvarint())
				ivs = append(ivs, iv)
			}
			if err := d.end(); err != nil {
				return meta, 0, fmt.Errorf("tombstones record: %w", err)
			}
			h.tombstones.AddInterval(ref, ivs...)
			stones++
		case snapRecEnd:
			ns, nt := d.uvarint(), d.uvarint()
			if err := d.end(); err != nil {
				return meta, 0, fmt.Errorf("end record: %w", err)
			}
			_ = ns // series dropped above (in blocks) are not created, so compare what was read
			if int(nt) != stones {
				return meta, 0, fmt.Errorf("end record counts %d tombstones, read %d", nt, stones)
			}
			nSeries = int(ns)
			finished = true
		default:
			return meta, 0, fmt.Errorf("unknown record type %d", typ)
		}
	}
	if read := r.records - 2 - stones; read != nSeries {
		return meta, 0, fmt.Errorf("end record counts %d series, read %d", nSeries, read)
	}
	if _, err := r.r.ReadByte(); err != io.EOF {
		return meta, 0, fmt.Errorf("data after the end record")
	}
	// The snapshot's chunks are in the head chunk files it names; the others are unreferenced
	// (written after it, before a crash) and go at the next truncation.
	h.chunks.setLoadedMaxT(segMaxT)
	for _, ms := range created {
		h.indexSeries(ms) // the snapshot lists series in ref order: postings stay append-only
	}
	h.numSeries.Add(int64(len(created)))
	h.metrics.chunks.Add(float64(nChunks))
	h.lastRef.Store(max(h.lastRef.Load(), meta.lastRef))
	if mint <= maxt {
		h.updateTimes(mint, maxt)
	}
	return meta, len(created), nil
}

type chunkOpenState struct {
	c    chunkenc.OpenChunk
	hist *histHead // an open histogram chunk instead of c
	minT int64
}

func (o *chunkOpenState) lastT() int64 {
	if o.hist != nil {
		return o.hist.lastT
	}
	t, _ := o.c.Last()
	return t
}

// readHist reads an open histogram chunk (after its min time).
func (o *chunkOpenState) readHist(d *snapDecbuf) error {
	enc := chunkenc.Encoding(d.byte())
	lastT := d.varint()
	n := d.uvarint()
	free := d.byte()
	size := d.uvarint()
	if d.err != nil {
		return fmt.Errorf("open histogram chunk: %w", d.err)
	}
	var henc histchunk.Encoding
	switch enc {
	case chunkenc.EncHistogram:
		henc = histchunk.EncHistogram
	case chunkenc.EncFloatHistogram:
		henc = histchunk.EncFloatHistogram
	default:
		return fmt.Errorf("open histogram chunk: encoding %s", enc)
	}
	if size > uint64(len(d.b)) || n == 0 || n > math.MaxUint16 {
		return fmt.Errorf("open histogram chunk: %d samples, %d bytes of %d", n, size, len(d.b))
	}
	data := make([]byte, size, size+size/8+16)
	copy(data, d.b[:size])
	d.b = d.b[size:]
	c, app, err := histchunk.Restore(henc, data, free)
	if err != nil {
		return err
	}
	if c.NumSamples() != int(n) {
		return fmt.Errorf("open histogram chunk: header counts %d samples, state %d", c.NumSamples(), n)
	}
	o.hist = &histHead{enc: enc, chunk: c, app: app, lastT: lastT, n: int(n)}
	return nil
}

type snapshotReader struct {
	r       *bufio.Reader
	buf     []byte
	records int
}

// next returns the next record's payload, checked against its CRC; the slice is reused.
func (r *snapshotReader) next() ([]byte, error) {
	n, err := binary.ReadUvarint(r.r)
	if err != nil {
		return nil, fmt.Errorf("record %d: torn snapshot: %w", r.records, noEOF(err))
	}
	if n == 0 || n > maxSnapshotRecord {
		return nil, fmt.Errorf("record %d: bad length %d", r.records, n)
	}
	if uint64(cap(r.buf)) < n+4 {
		r.buf = make([]byte, n+4)
	}
	r.buf = r.buf[:n+4]
	if _, err := io.ReadFull(r.r, r.buf); err != nil {
		return nil, fmt.Errorf("record %d: torn snapshot: %w", r.records, noEOF(err))
	}
	payload := r.buf[:n]
	if crc32.Checksum(payload, castagnoliTable) != binary.LittleEndian.Uint32(r.buf[n:]) {
		return nil, fmt.Errorf("record %d: checksum mismatch", r.records)
	}
	r.records++
	return payload, nil
}

func noEOF(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

// snapDecbuf decodes a snapshot record; the first error sticks.
type snapDecbuf struct {
	b   []byte
	err error
}

func (d *snapDecbuf) fail(what string) {
	if d.err == nil {
		d.err = fmt.Errorf("bad %s", what)
	}
	d.b = nil
}

func (d *snapDecbuf) byte() byte {
	if d.err != nil || len(d.b) == 0 {
		d.fail("byte")
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

func (d *snapDecbuf) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail("uvarint")
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *snapDecbuf) varint() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail("varint")
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *snapDecbuf) uint32le() uint32 {
	if d.err != nil || len(d.b) < 4 {
		d.fail("checksum")
		return 0
	}
	v := binary.LittleEndian.Uint32(d.b)
	d.b = d.b[4:]
	return v
}

// count reads a count of entries of at least minSize bytes each, bounded by what is left.
func (d *snapDecbuf) count(minSize int) int {
	n := d.uvarint()
	if d.err == nil && n > uint64(len(d.b)/minSize) {
		d.fail("count")
		return 0
	}
	return int(n)
}

// str returns a string aliasing the record, which the reader reuses: the caller must not keep
// it (the head's symbol table copies what it keeps).
func (d *snapDecbuf) str() string {
	n := d.uvarint()
	if d.err == nil && n > uint64(len(d.b)) {
		d.fail("string length")
	}
	if d.err != nil {
		return ""
	}
	s := unsafe.String(unsafe.SliceData(d.b), int(n))
	d.b = d.b[n:]
	return s
}

func (d *snapDecbuf) end() error {
	if d.err == nil && len(d.b) != 0 {
		d.err = fmt.Errorf("%d trailing bytes", len(d.b))
	}
	return d.err
}
