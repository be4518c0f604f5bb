package wal

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
)

// LiveReader reads the records of one segment that may still be written, from a given offset:
// the reading side of a WAL tail (remote write's watcher). Unlike Reader it never takes the end
// of the file for the end of the segment. Next returns false when no complete record is there
// yet; a later call sees what was written since.
//
// A record whose checksum does not match at the end of the data is treated as incomplete (a
// concurrent write may be visible in part); only once the segment is sealed (a later segment
// exists) does the caller call Sealed, which reports bytes left after the last good record as a
// *CorruptionErr.
type LiveReader struct {
	dir string
	seg int
	f   *os.File

	buf    []byte // file bytes from bufOff
	bufOff int64
	pos    int // start of the next record in buf
	rec    []byte
	err    error
}

// maxLiveRecord bounds the length a damaged header can make the live reader wait for and
// allocate.
const maxLiveRecord = 1 << 30

// OpenLiveReader opens segment seg of dir for reading from offset off (the end of a record).
func OpenLiveReader(dir string, seg int, off int64) (*LiveReader, error) {
	f, err := os.Open(SegmentName(dir, seg))
	if err != nil {
		return nil, fmt.Errorf("open WAL segment: %w", err)
	}
	return &LiveReader{dir: dir, seg: seg, f: f, bufOff: off, buf: make([]byte, 0, 256<<10)}, nil
}

// Segment returns the segment index.
func (r *LiveReader) Segment() int { return r.seg }

// Offset returns the offset just past the last record returned (where the next one starts).
func (r *LiveReader) Offset() int64 { return r.bufOff + int64(r.pos) }

// Record returns the current record; it is valid until the next call of Next.
func (r *LiveReader) Record() []byte { return r.rec }

// Err returns the I/O error that stopped Next, if any.
func (r *LiveReader) Err() error { return r.err }

// Next advances to the next complete record; false when there is none yet or on an I/O error.
func (r *LiveReader) Next() bool {
	if r.err != nil {
		return false
	}
	for {
		avail := r.buf[r.pos:]
		if len(avail) >= recordHeaderSize {
			length := int(binary.LittleEndian.Uint32(avail[:4]))
			if length > maxLiveRecord {
				return false // damaged; Sealed reports it
			}
			if len(avail) >= recordHeaderSize+length {
				want := binary.LittleEndian.Uint32(avail[4:8])
				payload := avail[recordHeaderSize : recordHeaderSize+length]
				if crc32.Update(crc32.Update(0, castagnoli, avail[:4]), castagnoli, payload) != want {
					// A write still under way, or damage: wait for Sealed to tell.
					if !r.fill(0) {
						return false
					}
					// Re-read the same bytes from the file: they may have been completed.
					continue
				}
				r.rec = payload
				r.pos += recordHeaderSize + length
				return true
			}
			if !r.fill(recordHeaderSize + length) {
				return false
			}
			continue
		}
		if !r.fill(recordHeaderSize) {
			return false
		}
	}
}

// fill re-reads the file from the start of the next record so that at least need bytes (0: as
// many as the buffer holds) are buffered; false when the file has no more bytes than before.
func (r *LiveReader) fill(need int) bool {
	had := len(r.buf) - r.pos
	r.bufOff += int64(r.pos)
	r.pos = 0
	want := max(need, cap(r.buf))
	if cap(r.buf) < want {
		r.buf = make([]byte, want)
	}
	r.buf = r.buf[:cap(r.buf)]
	n, err := r.f.ReadAt(r.buf, r.bufOff)
	r.buf = r.buf[:n]
	if err != nil && !errors.Is(err, io.EOF) {
		r.err = fmt.Errorf("read WAL segment %s at offset %d: %w", SegmentName(r.dir, r.seg), r.bufOff, err)
		return false
	}
	if n > had {
		return true
	}
	// Same bytes as before: a checksum mismatch may have been a concurrent write now complete.
	if need == 0 && n > 0 {
		avail := r.buf
		if len(avail) >= recordHeaderSize {
			length := int(binary.LittleEndian.Uint32(avail[:4]))
			if length <= maxLiveRecord && len(avail) >= recordHeaderSize+length {
				want := binary.LittleEndian.Uint32(avail[4:8])
				return crc32.Update(crc32.Update(0, castagnoli, avail[:4]), castagnoli, avail[recordHeaderSize:recordHeaderSize+length]) == want
			}
		}
	}
	return false
}

// Sealed is called once a later segment exists and Next has returned false: nothing more will
// be written to this segment. It returns a *CorruptionErr when bytes remain after the last good
// record (a torn or damaged record), nil when the segment was read to its end.
func (r *LiveReader) Sealed() error {
	fi, err := r.f.Stat()
	if err != nil {
		return fmt.Errorf("stat WAL segment: %w", err)
	}
	if off := r.Offset(); fi.Size() > off {
		return &CorruptionErr{Dir: r.dir, Segment: r.seg, Offset: off,
			Err: fmt.Errorf("%d bytes after the last good record of a sealed segment", fi.Size()-off)}
	}
	return nil
}

// Close closes the segment file.
func (r *LiveReader) Close() error { return r.f.Close() }
