package tsdb

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	upstream "github.com/prometheus/prometheus/tsdb"
)

// hashTree maps every path under dir to a hash of its content ("dir" for directories).
func hashTree(t *testing.T, dir string) map[string]string {
	t.Helper()
	m := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if d.IsDir() {
			m[rel] = "dir"
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		h := sha256.Sum256(b)
		m[rel] = string(h[:])
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func sameTree(t *testing.T, before, after map[string]string) {
	t.Helper()
	for p, h := range before {
		if a, ok := after[p]; !ok {
			t.Errorf("%s was deleted", p)
		} else if a != h {
			t.Errorf("%s was changed", p)
		}
	}
	for p := range after {
		if _, ok := before[p]; !ok {
			t.Errorf("%s was created", p)
		}
	}
}

// writePrometheusDir writes a real Prometheus data directory with upstream's tsdb: one block
// written by compacting the head, and WAL segments holding samples after it.
func writePrometheusDir(t *testing.T, dir string) {
	t.Helper()
	opts := upstream.DefaultOptions()
	opts.RetentionDuration = 0
	db, err := upstream.Open(dir, nil, nil, opts, nil)
	if err != nil {
		t.Fatal(err)
	}
	appendN := func(from, to int64) {
		app := db.Appender(context.Background())
		for ts := from; ts < to; ts += 15000 {
			for i := range 10 {
				lset := labels.FromStrings("__name__", "up", "instance", string(rune('a'+i)))
				if _, err := app.Append(0, lset, ts, float64(ts)); err != nil {
					t.Fatal(err)
				}
			}
		}
		if err := app.Commit(); err != nil {
			t.Fatal(err)
		}
	}
	appendN(0, 3*3600*1000)
	if err := db.CompactHead(upstream.NewRangeHead(db.Head(), 0, 2*3600*1000-1)); err != nil {
		t.Fatal(err)
	}
	appendN(3*3600*1000, 4*3600*1000)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestOpenRefusesPrometheusDir(t *testing.T) {
	dir := t.TempDir()
	writePrometheusDir(t, dir)
	var block string
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if isBlockDirName(e.Name()) {
			block = e.Name()
		}
	}
	if block == "" {
		t.Fatal("upstream wrote no block")
	}
	before := hashTree(t, dir)
	db, err := Open(dir, nil, nil, nil)
	if err == nil {
		db.Close()
		t.Error("Open succeeded on a Prometheus data directory")
		sameTree(t, before, hashTree(t, dir))
		return
	}
	var fe *ForeignDirError
	if !errors.As(err, &fe) || !fe.Prometheus {
		t.Fatalf("want a *ForeignDirError recognising Prometheus, got %v", err)
	}
	msg := err.Error()
	t.Log(msg)
	for _, want := range []string{dir, "looks like a Prometheus data directory", "is in Prometheus's format",
		"block " + block + " has Prometheus's index", "empty", "vigil tsdb import prometheus", "--storage.tsdb.path=NEW_DIR"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error lacks %q: %s", want, msg)
		}
	}
	sameTree(t, before, hashTree(t, dir))
}

func TestOpenRefusesPrometheusWALOnly(t *testing.T) {
	// A Prometheus WAL alone (no blocks): the segment must be recognised, not repaired.
	dir := t.TempDir()
	writePrometheusDir(t, dir)
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if e.Name() != "wal" {
			os.RemoveAll(filepath.Join(dir, e.Name()))
		}
	}
	before := hashTree(t, dir)
	_, err := Open(dir, nil, nil, nil)
	var fe *ForeignDirError
	if !errors.As(err, &fe) || !strings.Contains(err.Error(), "WAL segment 0000000") {
		t.Fatalf("want a *ForeignDirError naming a WAL segment, got %v", err)
	}
	sameTree(t, before, hashTree(t, dir))

	// Even with Vigil's marker present, a Prometheus segment is never touched.
	if err := writeMarker(dir); err != nil {
		t.Fatal(err)
	}
	before = hashTree(t, dir)
	if _, err := Open(dir, nil, nil, nil); !errors.As(err, &fe) {
		t.Fatalf("want a *ForeignDirError with the marker present, got %v", err)
	}
	sameTree(t, before, hashTree(t, dir))
}

func TestOpenRefusesUnknownFile(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("mine"), 0o666); err != nil {
		t.Fatal(err)
	}
	before := hashTree(t, dir)
	_, err := Open(dir, nil, nil, nil)
	var fe *ForeignDirError
	if !errors.As(err, &fe) || fe.Prometheus || !strings.Contains(err.Error(), "notes.txt is not a file Vigil writes") {
		t.Fatalf("want a *ForeignDirError naming notes.txt, got %v", err)
	}
	sameTree(t, before, hashTree(t, dir))

	// An unknown WAL segment (neither framing) is refused too.
	dir = t.TempDir()
	os.MkdirAll(filepath.Join(dir, "wal"), 0o777)
	os.WriteFile(filepath.Join(dir, "wal", "00000000"), []byte("garbage, not a record"), 0o666)
	before = hashTree(t, dir)
	if _, err := Open(dir, nil, nil, nil); !errors.As(err, &fe) || !strings.Contains(err.Error(), "00000000 is not in Vigil's format") {
		t.Fatalf("want a *ForeignDirError naming the segment, got %v", err)
	}
	sameTree(t, before, hashTree(t, dir))
}

func TestOpenMarksNewAndLegacyDirs(t *testing.T) {
	wantMarker := func(dir string) {
		t.Helper()
		b, err := os.ReadFile(filepath.Join(dir, MarkerFilename))
		if err != nil || string(b) != "vigil tsdb format 1\n" {
			t.Fatalf("marker: %q, %v", b, err)
		}
	}
	// Empty and missing directories open and get the marker.
	for _, dir := range []string{t.TempDir(), filepath.Join(t.TempDir(), "new")} {
		db, err := Open(dir, nil, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		db.Close()
		wantMarker(dir)
	}

	// A directory written by Vigil before the marker existed: WAL data and a block.
	dir := t.TempDir()
	opts := DefaultOptions()
	db, err := Open(dir, opts, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	app := db.Appender(context.Background())
	lset := labels.FromStrings("__name__", "up")
	for ts := int64(0); ts < 4*opts.MinBlockDuration; ts += 15000 {
		if _, err := app.Append(0, lset, ts, 1); err != nil {
			t.Fatal(err)
		}
	}
	if err := app.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := db.Compact(); err != nil {
		t.Fatal(err)
	}
	if len(db.Blocks()) == 0 {
		t.Fatal("no block was cut")
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	// Remove the marker: this is the directory a Vigil before the marker left behind, with the
	// alerting state and a snapshot it keeps there too.
	if err := os.Remove(filepath.Join(dir, MarkerFilename)); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"alertmanager", "snapshots", "pushgateway", "remote_write"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o777); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "alertmanager", "nflog"), []byte("x"), 0o666); err != nil {
		t.Fatal(err)
	}
	db, err = Open(dir, opts, nil, nil)
	if err != nil {
		t.Fatalf("legacy Vigil directory: %v", err)
	}
	if len(db.Blocks()) == 0 {
		t.Fatal("the block was not loaded")
	}
	db.Close()
	wantMarker(dir)

	// With the marker, the torn-tail repair still works.
	db, err = Open(dir, opts, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
}

func TestOpenRefusesNewerFormat(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, MarkerFilename), []byte("vigil tsdb format 2\n"), 0o666)
	if _, err := Open(dir, nil, nil, nil); err == nil || !strings.Contains(err.Error(), "newer Vigil") {
		t.Fatalf("want a newer-format error, got %v", err)
	}
}

// FuzzIdentifySegment: any bytes give an answer without panicking, and a segment that starts with
// a record in Vigil's framing is identified as Vigil's.
func FuzzIdentifySegment(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{1, 0, 3, 0, 0, 0, 0, 'a', 'b', 'c'})
	f.Add([]byte{3, 0, 0, 0, 0, 0, 0, 0, 'a', 'b', 'c'})
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, payload []byte) {
		p := filepath.Join(dir, "00000000")
		if err := os.WriteFile(p, payload, 0o666); err != nil {
			t.Fatal(err)
		}
		if _, err := identifySegment(p); err != nil {
			t.Fatal(err)
		}
		rec := binary.LittleEndian.AppendUint32(nil, uint32(len(payload)))
		crc := crc32.Update(crc32.Update(0, castagnoliTable, rec), castagnoliTable, payload)
		rec = binary.LittleEndian.AppendUint32(rec, crc)
		rec = append(rec, payload...)
		if err := os.WriteFile(p, rec, 0o666); err != nil {
			t.Fatal(err)
		}
		got, err := identifySegment(p)
		if err != nil || got != fmtVigil {
			t.Fatalf("Vigil record with %d-byte payload identified as %d, %v", len(payload), got, err)
		}
	})
}

// TestOpenRefusesDirOfPrometheusBinary uses a directory written by a real Prometheus server (the
// Debian package's /usr/bin/prometheus, 2.42 at the time of writing) scraping itself, when one is
// installed.
func TestOpenRefusesDirOfPrometheusBinary(t *testing.T) {
	bin, err := exec.LookPath("prometheus")
	if err != nil {
		t.Skip("no prometheus binary installed")
	}
	if testing.Short() {
		t.Skip("starts a Prometheus server")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	tmp := t.TempDir()
	dir := filepath.Join(tmp, "data")
	cfg := filepath.Join(tmp, "prometheus.yml")
	os.WriteFile(cfg, []byte("global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: self\n    static_configs:\n      - targets: ['"+addr+"']\n"), 0o666)
	cmd := exec.Command(bin, "--config.file="+cfg, "--storage.tsdb.path="+dir, "--web.listen-address="+addr)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Wait until the WAL holds data (a few scrapes), at most 30 s.
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if fi, err := os.Stat(filepath.Join(dir, "wal", "00000000")); err == nil && fi.Size() > 0 {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	time.Sleep(2 * time.Second)
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Logf("prometheus exited: %v", err)
	}
	if fi, err := os.Stat(filepath.Join(dir, "wal", "00000000")); err != nil || fi.Size() == 0 {
		t.Fatalf("prometheus wrote no WAL data: %v", err)
	}
	before := hashTree(t, dir)
	db, err := Open(dir, nil, nil, nil)
	if err == nil {
		db.Close()
		t.Error("Open succeeded on a Prometheus data directory")
	}
	t.Log(err)
	var fe *ForeignDirError
	if err != nil && (!errors.As(err, &fe) || !fe.Prometheus || !strings.Contains(err.Error(), "WAL segment 00000000 is in Prometheus's format")) {
		t.Errorf("want a *ForeignDirError naming the WAL segment, got %v", err)
	}
	sameTree(t, before, hashTree(t, dir))
}
