package write

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"

	"github.com/vigil-monitoring/vigil/tsdb/fileutil"
)

// DirName is the directory under the data directory holding the queues' positions.
const DirName = "remote_write"

// position is a place in the WAL: everything before it has been sent (or dropped for good).
type position struct {
	Segment int   `json:"segment"`
	Offset  int64 `json:"offset"`
}

func (p position) less(o position) bool {
	return p.Segment < o.Segment || (p.Segment == o.Segment && p.Offset < o.Offset)
}

// positionFile is a queue's durable position: <data>/remote_write/<key>.json, key derived from
// the queue's name and URL, so that a restart or a reload changing other settings resumes where
// the queue was.
type positionFile struct {
	path      string
	name, url string
}

func newPositionFile(dataDir, name, url string) positionFile {
	sum := sha256.Sum256([]byte(name + "\x00" + url))
	return positionFile{
		path: filepath.Join(dataDir, DirName, hex.EncodeToString(sum[:8])+".json"),
		name: name, url: url,
	}
}

type positionJSON struct {
	Name string `json:"name"`
	URL  string `json:"url"`
	position
}

// load returns the saved position; ok is false when there is none.
func (f positionFile) load() (p position, ok bool, err error) {
	b, err := os.ReadFile(f.path)
	if errors.Is(err, fs.ErrNotExist) {
		return position{}, false, nil
	}
	if err != nil {
		return position{}, false, fmt.Errorf("read remote write position: %w", err)
	}
	var pj positionJSON
	if err := json.Unmarshal(b, &pj); err != nil || pj.Segment < 0 || pj.Offset < 0 {
		return position{}, false, fmt.Errorf("remote write position file %s is damaged: %v", f.path, err)
	}
	return pj.position, true, nil
}

// save writes p durably (temporary file, fsync, rename, directory fsync).
func (f positionFile) save(p position) error {
	dir := filepath.Dir(f.path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	b, _ := json.Marshal(positionJSON{Name: f.name, URL: f.url, position: p})
	tmp := f.path + ".tmp"
	fh, err := os.Create(tmp)
	if err != nil {
		return fmt.Errorf("write remote write position: %w", err)
	}
	if _, err := fh.Write(append(b, '\n')); err != nil {
		fh.Close()
		return fmt.Errorf("write remote write position: %w", err)
	}
	if err := fh.Sync(); err != nil {
		fh.Close()
		return fmt.Errorf("sync remote write position: %w", err)
	}
	if err := fh.Close(); err != nil {
		return fmt.Errorf("close remote write position: %w", err)
	}
	if err := os.Rename(tmp, f.path); err != nil {
		return fmt.Errorf("rename remote write position: %w", err)
	}
	return fileutil.SyncDir(dir)
}

// tracker follows which WAL records have all their samples sent, to know the position up to
// which everything is done. The watcher adds each samples record before enqueueing its samples;
// shards report samples done (sent, or dropped for good) by record sequence number.
type tracker struct {
	mu       sync.Mutex
	recs     []trackedRecord // records with samples not yet done, oldest first
	head     int             // recs[head:] is the live part
	firstSeq uint64          // sequence number of recs[head]
	nextSeq  uint64
	readPos  position // end of the last record the watcher finished with
}

type trackedRecord struct {
	start   position
	pending int
}

func newTracker(p position) *tracker { return &tracker{readPos: p, nextSeq: 1, firstSeq: 1} }

// add registers a samples record starting at start with n samples to send; it returns the
// record's sequence number.
func (t *tracker) add(start position, n int) uint64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.head == len(t.recs) {
		t.recs, t.head, t.firstSeq = t.recs[:0], 0, t.nextSeq
	} else if t.head > 1024 && t.head > len(t.recs)/2 {
		t.recs = append(t.recs[:0], t.recs[t.head:]...)
		t.head = 0
	}
	t.recs = append(t.recs, trackedRecord{start: start, pending: n})
	seq := t.nextSeq
	t.nextSeq++
	return seq
}

// read records that the watcher is done with everything before p.
func (t *tracker) read(p position) {
	t.mu.Lock()
	t.readPos = p
	t.mu.Unlock()
}

// done marks the samples of a batch done; the batch's samples are in record order per shard, so
// runs of one sequence number are counted together.
func (t *tracker) done(batch []sample) {
	if len(batch) == 0 {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	run, n := batch[0].seq, 0
	for i := range batch {
		if batch[i].seq != run {
			t.doneLocked(run, n)
			run, n = batch[i].seq, 0
		}
		n++
	}
	t.doneLocked(run, n)
	for t.head < len(t.recs) && t.recs[t.head].pending <= 0 {
		t.head++
		t.firstSeq++
	}
}

func (t *tracker) doneLocked(seq uint64, n int) {
	if seq < t.firstSeq {
		return
	}
	i := t.head + int(seq-t.firstSeq)
	if i < len(t.recs) {
		t.recs[i].pending -= n
	}
}

// committed is the position before which everything is done.
func (t *tracker) committed() position {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.head < len(t.recs) {
		return t.recs[t.head].start
	}
	return t.readPos
}
