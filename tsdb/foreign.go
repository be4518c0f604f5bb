package tsdb

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"github.com/oklog/ulid/v2"
)

// Ownership of the data directory.
//
// Vigil's formats are its own (see docs/storage.md), so a directory written by something else —
// most often a Prometheus data directory passed to --storage.tsdb.path — would look damaged to it,
// and its WAL repair would truncate files that are in fact intact. Before anything in the
// directory is written, repaired or deleted, Open checks that the directory is Vigil's:
//
//   - an empty (or missing) directory is Vigil's; the marker file is written;
//   - a directory holding the marker file MarkerFilename ("VIGIL", content "vigil tsdb format
//     1\n") is Vigil's, unless a WAL segment, head chunk file or block index in it is in
//     Prometheus's format;
//   - a directory without the marker (written by a Vigil before the marker existed) is Vigil's
//     only if nothing in it is foreign: every WAL segment is empty or starts with a record in
//     Vigil's framing with a valid checksum, every block index starts with Vigil's magic "VGIX",
//     and no other file or directory is present besides lock, wal/, chunks_head/, head_snapshot/, alertmanager/,
//     snapshots/, pushgateway/ and remote_write/ (and import-state.json). The marker is then
//     written and Open goes on.
//
// Anything else makes Open fail with a *ForeignDirError, having changed nothing.

// MarkerFilename is the file at the top of a data directory that marks it as Vigil's.
const MarkerFilename = "VIGIL"

// ImportStateFilename is the file in which `vigil tsdb import` records what it has imported
// into a data directory, so that a re-run skips it (tsdb/importer).
const ImportStateFilename = "import-state.json"

// markerFormat is the storage format version written in the marker.
const markerFormat = 1

func markerContent() []byte { return fmt.Appendf(nil, "vigil tsdb format %d\n", markerFormat) }

// ForeignDirError is returned by Open for a data directory Vigil did not write.
type ForeignDirError struct {
	Dir        string
	Prometheus bool     // something in it is positively in Prometheus's format
	Findings   []string // what was recognised, e.g. "WAL segment 00000003 is in Prometheus's format"
}

func (e *ForeignDirError) Error() string {
	what := "this does not look like a Vigil data directory"
	if e.Prometheus {
		what = "this looks like a Prometheus data directory"
	}
	return fmt.Sprintf("refusing to use data directory %s: %s (%s); Vigil has changed nothing in it. "+
		"Point --storage.tsdb.path at an empty or new directory; to keep a Prometheus "+
		"directory's data, import it with `vigil tsdb import prometheus %s --storage.tsdb.path=NEW_DIR` "+
		"(see docs/import.md)",
		e.Dir, what, strings.Join(e.Findings, "; "), e.Dir)
}

// dirCheck collects what checkOwnDir recognised.
type dirCheck struct {
	marker     bool
	prometheus []string // positively Prometheus's
	unknown    []string // not identified as Vigil's
}

func (c *dirCheck) prom(format string, a ...any) {
	c.prometheus = append(c.prometheus, fmt.Sprintf(format, a...))
}

func (c *dirCheck) unk(format string, a ...any) {
	c.unknown = append(c.unknown, fmt.Sprintf(format, a...))
}

// maxFindings bounds the list in the error message.
const maxFindings = 6

// checkOwnDir reads (and never writes) dir and reports whether the marker must be written.
// It returns a *ForeignDirError for a directory that is not Vigil's.
func checkOwnDir(dir string) (writeMarker bool, err error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return true, nil
	}
	if err != nil {
		return false, fmt.Errorf("reading data directory: %w", err)
	}
	c := &dirCheck{}
	for _, e := range entries {
		if e.Name() != MarkerFilename {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, MarkerFilename))
		if err != nil {
			return false, fmt.Errorf("reading %s: %w", filepath.Join(dir, MarkerFilename), err)
		}
		v, ok := strings.CutPrefix(strings.TrimSpace(string(b)), "vigil tsdb format ")
		n, perr := strconv.Atoi(v)
		switch {
		case !ok || perr != nil:
			return false, fmt.Errorf("data directory %s: marker file %s has unexpected content %q", dir, MarkerFilename, b)
		case n > markerFormat:
			return false, fmt.Errorf("data directory %s was written by a newer Vigil (storage format %d; this version reads %d)", dir, n, markerFormat)
		}
		c.marker = true
	}
	for _, e := range entries {
		name := e.Name()
		p := filepath.Join(dir, name)
		switch {
		case name == MarkerFilename || name == "lock" || name == ImportStateFilename:
		case name == snapshotDirname && e.IsDir():
			// The head snapshot written at clean shutdown (head_snapshot.go).
		case (name == "alertmanager" || name == "snapshots" || name == "pushgateway" || name == "remote_write") && e.IsDir():
			// Written by Vigil's alerting (notification log, silences), by the snapshot API, by
			// the Pushgateway API (the pushed groups) and by remote write (each queue's WAL
			// position); the TSDB never repairs or deletes
			// anything in them.
		case name == "wal" && e.IsDir():
			if err := c.checkWALDir(p, "WAL segment "); err != nil {
				return false, err
			}
		case name == headChunksDirname && e.IsDir():
			if err := c.checkHeadChunks(p); err != nil {
				return false, err
			}
		case e.IsDir() && isBlockDirName(name):
			if err := c.checkBlock(p, name); err != nil {
				return false, err
			}
		case name == "queries.active" && !e.IsDir():
			c.prom("queries.active is Prometheus's active query log")
		default:
			c.unk("%s is not a file Vigil writes", name)
		}
	}
	if len(c.prometheus) > 0 || (!c.marker && len(c.unknown) > 0) {
		fe := &ForeignDirError{Dir: dir, Prometheus: len(c.prometheus) > 0}
		fe.Findings = append(fe.Findings, c.prometheus...)
		if !c.marker {
			fe.Findings = append(fe.Findings, c.unknown...)
		}
		if len(fe.Findings) > maxFindings {
			more := len(fe.Findings) - maxFindings
			fe.Findings = append(fe.Findings[:maxFindings], fmt.Sprintf("and %d more", more))
		}
		return false, fe
	}
	return !c.marker, nil
}

func isBlockDirName(name string) bool {
	base := strings.TrimSuffix(strings.TrimSuffix(name, ".tmp-for-deletion"), ".tmp")
	_, err := ulid.ParseStrict(base)
	return err == nil
}

var (
	segmentName    = regexp.MustCompile(`^[0-9]{8}$`)
	checkpointName = regexp.MustCompile(`^checkpoint\.[0-9]{8}(\.tmp)?$`)
)

func (c *dirCheck) checkWALDir(dir, what string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("reading %s: %w", dir, err)
	}
	for _, e := range entries {
		name := e.Name()
		p := filepath.Join(dir, name)
		switch {
		case segmentName.MatchString(name) && !e.IsDir():
			f, err := identifySegment(p)
			if err != nil {
				return err
			}
			switch f {
			case fmtPrometheus:
				c.prom("%s%s is in Prometheus's format", what, name)
			case fmtUnknown:
				c.unk("%s%s is not in Vigil's format", what, name)
			}
		case checkpointName.MatchString(name) && e.IsDir():
			if err := c.checkWALDir(p, "WAL "+name+" segment "); err != nil {
				return err
			}
		default:
			c.unk("wal/%s is not a file Vigil writes", name)
		}
	}
	return nil
}

type fileFormat int

const (
	fmtEmpty fileFormat = iota // nothing to identify and nothing to damage
	fmtVigil
	fmtPrometheus
	fmtUnknown
)

// identifySegment reads the first record of a WAL segment in both framings:
// Vigil's length:uint32 LE | crc:uint32 LE | payload (crc over length and payload), and
// Prometheus's type:byte | length:uint16 BE | crc:uint32 BE | payload (crc over payload) in
// 32 KiB pages. A valid checksum identifies the format.
func identifySegment(path string) (fileFormat, error) {
	f, err := os.Open(path)
	if err != nil {
		return fmtUnknown, fmt.Errorf("identifying WAL segment: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fmtUnknown, fmt.Errorf("identifying WAL segment: %w", err)
	}
	if fi.Size() == 0 {
		return fmtEmpty, nil
	}
	var hdr [8]byte
	n, err := io.ReadFull(f, hdr[:])
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
		return fmtUnknown, fmt.Errorf("identifying WAL segment %s: %w", path, err)
	}
	if n >= 7 {
		typ := hdr[0]
		l := int64(binary.BigEndian.Uint16(hdr[1:3]))
		if (typ&7 == 1 || typ&7 == 2) && typ&^0x1f == 0 && 7+l <= fi.Size() && 7+l <= 32<<10 {
			payload := make([]byte, l)
			if _, err := f.ReadAt(payload, 7); err == nil &&
				crc32.Checksum(payload, castagnoliTable) == binary.BigEndian.Uint32(hdr[3:7]) {
				return fmtPrometheus, nil
			}
		}
	}
	if n == 8 {
		l := int64(binary.LittleEndian.Uint32(hdr[0:4]))
		if 8+l <= fi.Size() {
			payload := make([]byte, l)
			if _, err := f.ReadAt(payload, 8); err == nil {
				crc := crc32.Update(crc32.Update(0, castagnoliTable, hdr[0:4]), castagnoliTable, payload)
				if crc == binary.LittleEndian.Uint32(hdr[4:8]) {
					return fmtVigil, nil
				}
			}
		}
	}
	return fmtUnknown, nil
}

var castagnoliTable = crc32.MakeTable(crc32.Castagnoli)

// prometheusIndexMagic and prometheusHeadChunksMagic open Prometheus's block index and head
// chunk files (big endian).
const (
	prometheusIndexMagic      = 0xBAAAD700
	prometheusHeadChunksMagic = 0x0130BC91
)

func (c *dirCheck) checkBlock(dir, name string) error {
	b, err := readPrefix(filepath.Join(dir, "index"), 4)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		c.unk("block %s has no index", name)
	case err != nil:
		return err
	case len(b) == 4 && binary.BigEndian.Uint32(b) == prometheusIndexMagic:
		c.prom("block %s has Prometheus's index", name)
	case string(b) != "VGIX":
		c.unk("block %s has an index not in Vigil's format", name)
	}
	return nil
}

// checkHeadChunks looks for Prometheus's head chunk files. Vigil's own head chunks are scratch
// space, cleared on every start.
func (c *dirCheck) checkHeadChunks(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("reading %s: %w", dir, err)
	}
	for _, e := range entries {
		if e.IsDir() {
			c.unk("%s/%s is not a file Vigil writes", headChunksDirname, e.Name())
			continue
		}
		b, err := readPrefix(filepath.Join(dir, e.Name()), 4)
		if err != nil {
			return err
		}
		if len(b) == 4 && binary.BigEndian.Uint32(b) == prometheusHeadChunksMagic {
			c.prom("head chunk file %s/%s is in Prometheus's format", headChunksDirname, e.Name())
		}
	}
	return nil
}

func readPrefix(path string, n int) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("identifying %s: %w", path, err)
	}
	defer f.Close()
	b := make([]byte, n)
	m, err := io.ReadFull(f, b)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("identifying %s: %w", path, err)
	}
	return bytes.Clone(b[:m]), nil
}

// writeMarker writes the marker file, fsyncing it and the directory.
func writeMarker(dir string) error {
	p := filepath.Join(dir, MarkerFilename)
	f, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o666)
	if err != nil {
		return fmt.Errorf("writing %s: %w", p, err)
	}
	if _, err := f.Write(markerContent()); err != nil {
		f.Close()
		return fmt.Errorf("writing %s: %w", p, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("syncing %s: %w", p, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("closing %s: %w", p, err)
	}
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("syncing %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("syncing %s: %w", dir, err)
	}
	return nil
}
