package wal

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
)

// Reader reads the records of a range of segments in order. It is meant for replay of a WAL that
// nobody is writing (the WAL writes to a segment created after all the ones a replay reads).
type Reader struct {
	dir  string
	segs []int
	next int // position in segs of the segment to open next

	f    *os.File
	br   *bufio.Reader
	seg  int   // index of the open segment
	size int64 // its size when opened: lengths are checked against it
	off  int64 // offset in it just past the current record

	hdr [recordHeaderSize]byte
	rec []byte
	err error
}

// NewReader returns a Reader over the segments of dir with indexes in [from, to]; to < 0 means up
// to the last one. The segments found in that range must be consecutive: a gap means a segment
// was lost, and replaying past it would silently skip data.
func NewReader(dir string, from, to int) (*Reader, error) {
	all, err := listSegments(dir)
	if err != nil {
		return nil, err
	}
	var segs []int
	for _, s := range all {
		if s >= from && (to < 0 || s <= to) {
			segs = append(segs, s)
		}
	}
	for i := 1; i < len(segs); i++ {
		if segs[i] != segs[i-1]+1 {
			return nil, fmt.Errorf("WAL segments in %s are not consecutive: %d is followed by %d", dir, segs[i-1], segs[i])
		}
	}
	return &Reader{dir: dir, segs: segs, seg: -1}, nil
}

// NewCheckpointReader returns a Reader over all segments of the checkpoint directory path (as
// returned by LastCheckpoint).
func NewCheckpointReader(path string) (*Reader, error) {
	return NewReader(path, 0, -1)
}

// Next advances to the next record. It returns false at the end of the last segment or on error;
// Err tells which.
func (r *Reader) Next() bool {
	if r.err != nil {
		return false
	}
	for {
		if r.f == nil {
			if r.next >= len(r.segs) {
				return false
			}
			if err := r.open(r.segs[r.next]); err != nil {
				r.err = err
				return false
			}
			r.next++
		}
		left := r.size - r.off
		if left == 0 {
			r.closeSegment()
			continue
		}
		if left < recordHeaderSize {
			r.corrupt(r.off, fmt.Errorf("torn record header: %d bytes left in segment", left))
			return false
		}
		if _, err := io.ReadFull(r.br, r.hdr[:]); err != nil {
			r.readErr(err)
			return false
		}
		length := int64(binary.LittleEndian.Uint32(r.hdr[:4]))
		want := binary.LittleEndian.Uint32(r.hdr[4:])
		if length > left-recordHeaderSize {
			// Bounded by the file: damaged lengths cannot make us allocate more than it holds.
			r.corrupt(r.off, fmt.Errorf("record length %d exceeds the %d bytes left in segment", length, left-recordHeaderSize))
			return false
		}
		if int64(cap(r.rec)) < length {
			r.rec = make([]byte, length)
		}
		r.rec = r.rec[:length]
		if _, err := io.ReadFull(r.br, r.rec); err != nil {
			r.readErr(err)
			return false
		}
		if got := crc32.Update(crc32.Update(0, castagnoli, r.hdr[:4]), castagnoli, r.rec); got != want {
			r.corrupt(r.off, fmt.Errorf("checksum mismatch: stored %08x, computed %08x", want, got))
			return false
		}
		r.off += recordHeaderSize + length
		return true
	}
}

func (r *Reader) open(i int) error {
	f, err := os.Open(SegmentName(r.dir, i))
	if err != nil {
		return fmt.Errorf("open WAL segment: %w", err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return fmt.Errorf("stat WAL segment: %w", err)
	}
	if r.br == nil {
		r.br = bufio.NewReaderSize(f, 256<<10)
	} else {
		r.br.Reset(f)
	}
	r.f, r.seg, r.size, r.off = f, i, fi.Size(), 0
	return nil
}

func (r *Reader) closeSegment() {
	if r.f != nil {
		r.f.Close()
		r.f = nil
	}
}

func (r *Reader) corrupt(off int64, err error) {
	r.err = &CorruptionErr{Dir: r.dir, Segment: r.seg, Offset: off, Err: err}
	r.closeSegment()
}

// readErr classifies a failed read inside the size we measured: the file shrinking under us
// (unexpected EOF) looks exactly like a torn record; anything else is an I/O error, which must not
// be "repaired" by deleting data.
func (r *Reader) readErr(err error) {
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		r.corrupt(r.off, fmt.Errorf("segment ended inside a record: %w", err))
		return
	}
	r.err = fmt.Errorf("read WAL segment %s at offset %d: %w", SegmentName(r.dir, r.seg), r.off, err)
	r.closeSegment()
}

// Record returns the current record. It is valid until the next call of Next.
func (r *Reader) Record() []byte { return r.rec }

// Err returns the error that stopped Next, nil at a clean end. Corruption is a *CorruptionErr.
func (r *Reader) Err() error { return r.err }

// Segment returns the index of the segment the current record was read from.
func (r *Reader) Segment() int { return r.seg }

// Offset returns the offset just past the current record in its segment.
func (r *Reader) Offset() int64 { return r.off }

// Close releases the open segment file. Reading to the end closes it too, but a Reader abandoned
// early must be closed.
func (r *Reader) Close() error {
	if r.f == nil {
		return nil
	}
	err := r.f.Close()
	r.f = nil
	if err != nil {
		return fmt.Errorf("close WAL segment: %w", err)
	}
	return nil
}
